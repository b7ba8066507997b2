/* console: the transcript model behind the Console panel, and the
 * multi-turn conversation it sends.
 *
 * It keeps what was asked and answered as entries (prompt, meta line,
 * answer, error, notice), applies the engine's events to them (answers
 * grow with AM_EV_DELTA), and builds the am_prompt of the next turn from
 * the exchanges that completed since the last /new. Untrusted text is
 * sanitised (am_text_sanitize) as it arrives, so what is stored is safe to
 * paint. Pure and single-threaded: owned by the UI thread; no curses.
 *
 * Bounded: at most UI_CON_MAX_ENTRIES entries and UI_CON_MAX_BYTES of
 * text (the oldest go first), answers cut at UI_CON_MAX_ANSWER bytes, and
 * the conversation keeps its last UI_CON_MAX_TURNS exchanges. */
#ifndef AIMETER_UI_CONSOLE_H
#define AIMETER_UI_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "memo.h"

enum {
	UI_CON_MAX_ENTRIES = 2000,
	UI_CON_MAX_BYTES = 4 << 20,
	UI_CON_MAX_ANSWER = 1 << 20,
	UI_CON_MAX_TURNS = 50,
	UI_CON_MAX_JOBS = 256
};

typedef enum ui_tx_kind {
	UI_TX_SPACER, /* blank line between exchanges */
	UI_TX_YOU,    /* the prompt, painted after "you ▸ " */
	UI_TX_META,   /* model · reason · tokens · cost · latency */
	UI_TX_ANSWER,
	UI_TX_ERROR,
	UI_TX_NOTICE,
	UI_TX_ALERT,
	UI_TX_SUMMARY /* the meta line again when the answer ends (none before) */
} ui_tx_kind;

typedef struct ui_console ui_console;

ui_console *ui_console_new(bool ascii);
void ui_console_free(ui_console *c);

/* Adds a line of the given kind (text is sanitised here). */
void ui_console_add(ui_console *c, ui_tx_kind kind, const char *text);

/* A prompt typed by the user: records it in the transcript and builds the
 * am_prompt to submit in *p (turns point into the console; valid until the
 * next call that changes it). Call ui_console_submitted with the job id
 * the engine returned, or ui_console_submit_failed with its error. */
void ui_console_prompt(ui_console *c, const char *text, am_prompt *p);
void ui_console_submitted(ui_console *c, int64_t job_id);
void ui_console_submit_failed(ui_console *c, const char *error);

/* Applies one engine event. Returns true when the transcript changed. */
bool ui_console_event(ui_console *c, const am_event *ev);

/* Forgets the conversation (the transcript stays). */
void ui_console_new_conversation(ui_console *c);

/* The conversation so far: the tokens of its context (what the last
 * completed call sent and received, which the next turn sends again) and
 * what its calls cost. *price_unknown when a call's price was unknown
 * (its cost is not in *cost_pusd). */
void ui_console_context(const ui_console *c, int64_t *tokens, int64_t *cost_pusd,
                        bool *price_unknown);

/* The bytes a text takes in a JSON request (escaped). */
int64_t ui_json_bytes(const char *s);

/* The bytes the conversation adds to the next request: its completed
 * turns, escaped and framed, and the new turn's framing. */
int64_t ui_console_context_bytes(const ui_console *c);

/* Completed exchanges currently in the conversation. */
int ui_console_turns(const ui_console *c);

/* Entries in the transcript (0 before anything was said). */
int ui_console_entries(const ui_console *c);

/* Jobs still running (submitted and not done, failed or cancelled). */
int ui_console_running(const ui_console *c);

/* The engine's ids of the running jobs it accepted, oldest first, at most
 * max into ids; returns how many. */
int ui_console_running_ids(const ui_console *c, int64_t *ids, int max);

/* ---- the queue view ------------------------------------------------------ */

/* Where a prompt stands: not answered yet, or ended without an answer
 * (kept a while, the last UI_CON_MAX_ENDED, so it can be sent again). */
typedef enum ui_q_state {
	UI_Q_SUBMITTING, UI_Q_QUEUED, UI_Q_WAITING, UI_Q_RETRY, UI_Q_BLOCKED, UI_Q_SENT,
	UI_Q_STREAMING, UI_Q_FAILED, UI_Q_CANCELLED
} ui_q_state;

enum { UI_CON_MAX_ENDED = 8, UI_Q_EXCERPT = 96 };

typedef struct ui_queue_row {
	int64_t id;                  /* the engine's job id (-1 while submitting) */
	ui_q_state state;
	char model[64];              /* as the engine named it; "" before */
	char why[160];               /* what it waits for, or how it ended (sanitised) */
	char excerpt[UI_Q_EXCERPT];  /* the prompt's start on one line (sanitised) */
} ui_queue_row;

/* The prompts not answered yet, oldest first, then the ones that ended
 * without an answer, newest first; at most max rows. */
int ui_console_queue(const ui_console *c, ui_queue_row *rows, int max);

/* The prompt of a job not answered yet or ended without an answer, as
 * typed (for sending it again); NULL when unknown. */
const char *ui_console_prompt_text(const ui_console *c, int64_t id);

/* Drops an ended prompt from the queue view (it was sent again). */
void ui_console_forget_ended(ui_console *c, int64_t id);

/* ---- what is kept across restarts (memo.h) --------------------------------- */

/* The exchange job_id completed (after its AM_EV_DONE), borrowed: valid
 * until the console changes. False when it left none (no answer). */
bool ui_console_exchange_of(const ui_console *c, int64_t job_id, am_memo_exchange *out);

/* Puts an exchange kept from an earlier run back: in the transcript (its
 * text sanitised as it is added) and in the conversation, which goes on
 * from it. */
void ui_console_restore(ui_console *c, const am_memo_exchange *x);

/* One painted line of the transcript. */
typedef struct ui_tx_line {
	ui_tx_kind kind;
	const char *text; /* not NUL-terminated: len bytes */
	size_t len;
	bool first;       /* first line of its entry (gets the "you ▸" prefix) */
	bool cursor;      /* the running job's cursor goes after this line's text */
} ui_tx_line;

/* Cells before a YOU line's text ("you ▸ ") and its continuation lines. */
#define UI_TX_YOU_INDENT 6

/* Lays the transcript out for a `width` × `rows` window scrolled `scroll`
 * lines up from the bottom, calling cb for each of the (at most rows) lines
 * from top to bottom. Returns the greatest useful scroll (total lines minus
 * rows, at least 0) so the caller can clamp. Caches line counts in c. */
typedef void (*ui_tx_cb)(void *ctx, int row, const ui_tx_line *line);
int ui_console_render(ui_console *c, int width, int rows, int scroll, ui_tx_cb cb,
                      void *ctx);

/* The start of a text on one line (blanks and newlines as one space),
 * sanitised, for a list. */
void ui_excerpt(const char *text, bool ascii, char *out, size_t n);

/* Short model name for people: "claude-haiku-4-5-20251001" -> "haiku-4-5". */
void ui_model_short(const char *model, char *buf, size_t n);

#endif
