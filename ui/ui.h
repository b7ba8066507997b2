/* ui: the dashboard, a full-screen console over an engine.
 *
 * This header is curses-free so that the CLI can start the UI without
 * seeing curses; ui/curses_inc.h is the one header that includes curses.
 * The UI is written against am_engine_ops (src/engine.h): the real pipeline
 * (also under --demo, src/cli/demo.h) or a test fake. */
#ifndef AIMETER_UI_H
#define AIMETER_UI_H

#include <stdbool.h>
#include <stdio.h>

#include "engine.h"

typedef struct ui_options {
	const char *version;        /* shown in the header; NULL = AIMETER_VERSION */
	bool ascii;                 /* force ASCII glyphs (automatic when the locale is not UTF-8) */
	bool no_color;              /* no colours (automatic when NO_COLOR is set and not empty) */
	const char *const *models;  /* ids the model key cycles through after "auto"; NULL = built-in */
	int nmodels;
	const char *system;         /* system prompt sent with every turn; NULL = none */
	int max_fps;                /* repaints per second at most; 0 = 10 */
} ui_options;

/* Runs the dashboard on the controlling terminal until the user quits
 * (/quit, F10, Ctrl-C, SIGTERM/SIGHUP). Sets the locale from the
 * environment (setlocale(LC_ALL, "")). The calling thread becomes the UI
 * thread: it owns curses and calls every ops function; nothing here blocks
 * on the engine beyond its own non-blocking calls. The terminal is restored
 * before return, on exit() and on the OOM path.
 *
 * Does not stop the engine: after ui_run returns the caller shuts it down
 * (calls in flight finish or stay queued). Returns 0 after a normal quit,
 * 1 when the terminal could not be used (a message is printed on stderr
 * after the terminal is restored). opt may be NULL for defaults. */
int ui_run(const am_engine_ops *ops, const ui_options *opt);

/* Prints the README tables of input-line commands and keys (markdown),
 * generated from the same table as the help screen. */
void ui_print_keys_markdown(FILE *out);

#endif
