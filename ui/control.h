/* control: what the dashboard does, apart from how it paints.
 *
 * The controller owns the latest snapshot copy and the console model, and
 * turns input-line text and hotkey actions into engine calls (commands are
 * sent with persist = true, prompts as the conversation so far). Like
 * htop's actions it answers with reaction bits saying which panels are now
 * out of date; the loop alone decides when to repaint. No curses, so tests
 * drive it with a fake engine. Single-threaded: the UI thread. */
#ifndef AIMETER_UI_CONTROL_H
#define AIMETER_UI_CONTROL_H

#include <stdbool.h>

#include "cmdtab.h"
#include "console.h"
#include "engine.h"
#include "roles.h"

/* Reaction bits. */
enum {
	UI_R_HEADER = 1u << 0,
	UI_R_BUDGET = 1u << 1,
	UI_R_LIMITS = 1u << 2,
	UI_R_MODELS = 1u << 3,
	UI_R_CACHE = 1u << 4,
	UI_R_CONSOLE = 1u << 5,
	UI_R_INPUT = 1u << 6,
	UI_R_HINTS = 1u << 7,
	UI_R_HELP = 1u << 8,    /* open the help screen */
	UI_R_QUIT = 1u << 9,
	UI_R_SCROLL_UP = 1u << 10,
	UI_R_SCROLL_DOWN = 1u << 11,
	UI_R_LAYOUT = 1u << 12, /* the number of models or pools changed */
	UI_R_PANELS = 0xFFu     /* every panel */
};

enum { UI_CTL_STEPS = 3 * AM_SNAP_MAX_POOLS + 1 };

/* The last -/+ step of one setting (per pool), so the next step the other
 * way can return to exactly where it started. */
struct ui_step {
	am_cmd_kind kind;
	char pool[32];
	int64_t from, to;
};

typedef struct ui_ctl {
	const am_engine_ops *ops;
	am_snapshot snap;       /* the latest copy; zero until the first pump */
	bool have_snap;
	ui_console *con;
	const char *const *models; /* cycled by the model key after "auto" */
	int nmodels;
	const char *system;     /* system prompt for every turn, or NULL */
	char tag[AM_TAG_MAX + 1]; /* /tag: the tag of the next prompts; "" = none */
	bool more;              /* the last pump stopped at max_events: pump again soon */
	/* The status line: the answer to the last command or key, shown for a
	 * while in place of the key hints. status_seq grows with each one. */
	char status[256];
	ui_role status_role;
	unsigned status_seq;
	struct ui_step steps[UI_CTL_STEPS];
	int nsteps;
} ui_ctl;

/* Sets up a controller over ops (not owned); console output plain ASCII
 * when ascii. models may be NULL for the built-in list. */
void ui_ctl_init(ui_ctl *c, const am_engine_ops *ops, bool ascii, const char *const *models,
                 int nmodels);
void ui_ctl_done(ui_ctl *c);

/* Takes a new snapshot and drains pending events (at most `max_events`, so
 * a flood cannot starve the keyboard). Returns the panels that changed. */
unsigned ui_ctl_pump(ui_ctl *c, int max_events);

/* Handles a line typed on the input line: a /command or a prompt. */
unsigned ui_ctl_line(ui_ctl *c, const char *line);

/* Tab: completes the last word of an input line that is a command: the
 * command's name, then the words it takes (model ids and "auto" for
 * /model, pool names for /rpm, /itpm and /otpm, on/off/clear for /cache).
 * Writes the completed line to out and returns true when it grew; when
 * several words fit, completes their common start and lists them on the
 * status line. */
bool ui_ctl_complete(ui_ctl *c, const char *line, char *out, size_t n);

/* Sets the status line (role CALM/DIM for done, WARN/ALARM for refused). */
__attribute__((format(printf, 3, 4))) void ui_ctl_status(ui_ctl *c, ui_role role,
                                                         const char *fmt, ...);

/* Handles a hotkey action. */
unsigned ui_ctl_action(ui_ctl *c, ui_act act);

#endif
