/* cmdtab: every input-line command and every hotkey of the dashboard, as
 * data. The parser, the key map, the help screen, the key-hint line and the
 * README key table (`aimeter dashboard --keys-markdown`) are all generated
 * from the two X-macro tables below, so they cannot drift apart (tig's
 * request.h). Pure: no curses here; keys are the neutral UI_KEY_* codes
 * that ui/term.c translates from curses. Any thread. */
#ifndef AIMETER_UI_CMDTAB_H
#define AIMETER_UI_CMDTAB_H

#include <stdbool.h>
#include <stdio.h>

#include "engine.h"
#include "err.h"

/* Input-line commands: X(id, name, argument synopsis, help). */
#define UI_COMMANDS(X)                                                                   \
	X(RPM, "rpm", "N [POOL]",                                                            \
	  "set the requests-per-minute limit (every pool, or POOL; 0 = none)")               \
	X(ITPM, "itpm", "N [POOL]", "set the input-tokens-per-minute limit (0 = none)")      \
	X(OTPM, "otpm", "N [POOL]", "set the output-tokens-per-minute limit (0 = none)")     \
	X(BUDGET, "budget", "[TAG] USD",                                                     \
	  "set today's budget, or TAG's own daily limit (0 = none)")                         \
	X(MONTH, "month", "USD", "set the monthly budget (0 = none)")                       \
	X(ALERT, "alert", "PCT", "warn when today's spend reaches PCT% of the budget")      \
	X(MODEL, "model", "auto|ID", "let the selector choose, or pin one model")           \
	X(CACHE, "cache", "on|off|clear", "switch the response cache on or off, or empty it") \
	X(PAUSE, "pause", "", "stop sending; prompts wait in the queue")                    \
	X(RESUME, "resume", "", "send again")                                               \
	X(CANCEL, "cancel", "[all]",                                                         \
	  "cancel the last prompt still queued, waiting or running (all: every one)")        \
	X(QUEUE, "queue", "",                                                                \
	  "list the prompts not answered yet and why each waits; cancel or send one again") \
	X(NEW, "new", "", "start a new conversation (forget the earlier turns)")            \
	X(TAG, "tag", "[NAME]", "count the next prompts under tag NAME (none: untagged)")    \
	X(HELP, "help", "", "show this help")                                               \
	X(QUIT, "quit", "", "leave; calls in flight finish or stay queued for next time")

typedef enum ui_cmd_id {
#define UI_CMD_ENUM(id, name, args, help) UI_CMD_##id,
	UI_COMMANDS(UI_CMD_ENUM)
#undef UI_CMD_ENUM
	UI_CMD_COUNT
} ui_cmd_id;

/* Neutral key codes: printable keys are their code point; these sit above
 * Unicode so they never collide with typing. */
#define UI_KEY_NONE 0
#define UI_KEY_F(n) (0x110000 + (n))
#define UI_KEY_ALT(c) (0x120000 + (c))
#define UI_KEY_PGUP 0x130001
#define UI_KEY_PGDN 0x130002

/* Hotkeys: X(action, key, alternative key, hint label, help). Entries whose
 * hint labels are equal and adjacent share one hint ("F2/F3 RPM -/+"); an
 * empty hint keeps the key out of the hint line. */
#define UI_HOTKEYS(X)                                                                        \
	X(HELP, UI_KEY_F(1), UI_KEY_ALT('h'), "help", "show commands and keys")                  \
	X(QUIT, UI_KEY_F(10), UI_KEY_ALT('q'), "quit", "quit (Ctrl-C and /quit too)")                     \
	X(RPM_DOWN, UI_KEY_F(2), UI_KEY_ALT('r'), "RPM -/+", "lower every pool's RPM limit by 10%") \
	X(RPM_UP, UI_KEY_F(3), UI_KEY_ALT('R'), "RPM -/+", "raise every pool's RPM limit by 10%")   \
	X(ITPM_DOWN, UI_KEY_F(4), UI_KEY_ALT('i'), "ITPM -/+", "lower the ITPM limits by 10%")   \
	X(ITPM_UP, UI_KEY_F(5), UI_KEY_ALT('I'), "ITPM -/+", "raise the ITPM limits by 10%")     \
	X(OTPM_DOWN, UI_KEY_F(6), UI_KEY_ALT('o'), "OTPM -/+", "lower the OTPM limits by 10%")   \
	X(OTPM_UP, UI_KEY_F(7), UI_KEY_ALT('O'), "OTPM -/+", "raise the OTPM limits by 10%")     \
	X(BUDGET_DOWN, UI_KEY_F(8), UI_KEY_ALT('b'), "budget -/+", "lower today's budget by 10%") \
	X(BUDGET_UP, UI_KEY_F(9), UI_KEY_ALT('B'), "budget -/+", "raise today's budget by 10%")  \
	X(PAUSE, UI_KEY_F(11), UI_KEY_ALT('p'), "pause", "pause or resume sending")              \
	X(MODEL, UI_KEY_F(12), UI_KEY_ALT('m'), "model", "cycle the model: auto, then each model") \
	X(CACHE, UI_KEY_NONE, UI_KEY_ALT('c'), "", "switch the response cache on or off")        \
	X(NEW, UI_KEY_NONE, UI_KEY_ALT('n'), "", "start a new conversation")                     \
	X(QUEUE, UI_KEY_NONE, UI_KEY_ALT('u'), "", "the queue: what waits, and why (/queue)")    \
	X(SCROLL_UP, UI_KEY_PGUP, UI_KEY_NONE, "", "scroll the console back")                    \
	X(SCROLL_DOWN, UI_KEY_PGDN, UI_KEY_NONE, "", "scroll the console forward")

/* Editing keys of the input line, for the help screen and README (the key
 * handling itself is in ui.c's edit map): X(keys, help). */
#define UI_EDIT_KEYS(X)                                                         \
	X("Left/Right, Home/End", "move on the input line (Ctrl-A, Ctrl-E too)") \
	X("Up/Down", "move between the prompt's lines, then through what you typed before") \
	X("Backspace, Delete", "delete a character")                            \
	X("Ctrl-U, Ctrl-K", "delete to the start, or to the end, of the line")  \
	X("Ctrl-W", "delete the word before the cursor")                        \
	X("Enter", "send the prompt (every line of it) or run the command")     \
	X("Alt-Enter, Shift-Enter", "add a line to the prompt")                 \
	X("paste", "a pasted block is one prompt, whole, however many lines")   \
	X("Esc", "back to the bottom of the console")                           \
	X("Tab", "complete a /command, then its model id, pool name or word")    \
	X("Ctrl-L", "paint the whole screen again")

typedef enum ui_act {
	UI_ACT_NONE,
#define UI_ACT_ENUM(act, key, alt, hint, help) UI_ACT_##act,
	UI_HOTKEYS(UI_ACT_ENUM)
#undef UI_ACT_ENUM
	UI_ACT_COUNT
} ui_act;

/* A parsed input line. */
typedef struct ui_cmd {
	ui_cmd_id id;
	bool has_engine_cmd;  /* `engine` is to be sent (persist = true) */
	am_command engine;
} ui_cmd;

/* True when the line is a command (starts with '/'); anything else is a
 * prompt. "//text" is a prompt that starts with '/'. */
bool ui_cmd_is_command(const char *line);

/* Parses "/name args". Fills *out and returns 0, or returns -1 with a
 * message for the console ("unknown command '/foo': try /help", "/rpm
 * needs a whole number of requests per minute, e.g. /rpm 50"). Money is
 * parsed exactly with am_money_parse_usd. */
int ui_cmd_parse(const char *line, ui_cmd *out, am_err *err);

/* The action bound to a key, or UI_ACT_NONE. */
ui_act ui_key_action(int key);

/* Writes the name of a neutral key ("F2", "Alt-r", "PgUp") into buf. */
void ui_key_name(int key, char *buf, size_t n);

/* The hint line ("F1 help  F2/F3 RPM -/+  ...  F10 quit"), from the table. */
void ui_hints_text(char *buf, size_t n);

/* The help screen's lines, one call per line (headings included). */
typedef void (*ui_help_cb)(void *ctx, const char *line, bool heading);
void ui_help_lines(ui_help_cb cb, void *ctx);

/* The README tables of commands and keys, in markdown. */
void ui_keys_markdown(FILE *out);

/* The step used by the -/+ keys: the value 10% lower or higher, moving by
 * at least one unit and never below 1. */
int64_t ui_step_down(int64_t v);
int64_t ui_step_up(int64_t v);

#endif
