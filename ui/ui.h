/* ui: the ncurses front end. This header is curses-free so that the CLI can
 * call into the UI without seeing curses; ui/curses_inc.h is the one header
 * that includes curses. */
#ifndef AIMETER_UI_H
#define AIMETER_UI_H

/* Placeholder until the dashboard lands: reports whether the terminal
 * library initialises. */
const char *ui_curses_version(void);

#endif
