/* term: the terminal under curses: start and restore, semantic colours,
 * UTF-8 detection, and signals.
 *
 * Colours are roles (calm, warn, alarm, dim, accent ...), never raw colours
 * in the panels; NO_COLOR (any non-empty value) or a terminal without colour
 * gives the mono set, where attributes (bold, reverse, dim) carry the
 * meaning and the words on screen repeat it. The terminal is restored on
 * every way out: normal return, exit() (atexit), the OOM path
 * (am_set_fatal_hook), SIGTERM/SIGHUP/SIGINT (turned into a clean quit
 * through a self-pipe) and crashes (best effort, then the previous handler
 * runs so sanitizer reports survive). UI thread only. */
#ifndef AIMETER_UI_TERM_H
#define AIMETER_UI_TERM_H

#include <stdbool.h>

#include "curses_inc.h"
#include "err.h"
#include "roles.h"

typedef struct ui_term {
	bool ascii;   /* the locale is not UTF-8 (or forced): ASCII glyphs only */
	bool color;
	int sig_fd;   /* readable after SIGINT/SIGTERM/SIGHUP: quit */
	attr_t attr[UI_ROLE_COUNT];
} ui_term;

/* Decides ASCII mode from the locale (LC_CTYPE must already be set with
 * setlocale) unless force_ascii. Pure apart from reading the locale. */
bool ui_term_locale_is_utf8(void);

/* Starts curses on the controlling terminal. -1 + err when stdin/stdout is
 * not a terminal or curses cannot start. */
int ui_term_open(ui_term *t, bool force_ascii, bool no_color, am_err *err);

/* Restores the terminal; safe to call more than once and from the fatal
 * hook. */
void ui_term_close(ui_term *t);

/* Reads and clears the signal pipe; returns the last signal number seen or
 * 0. */
int ui_term_take_signal(ui_term *t);

#endif
