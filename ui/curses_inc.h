/* The one place that includes curses: only the terminal and the painter
 * (term, paint, ui) include it; the panel builders stay curses-free. */
#ifndef AIMETER_CURSES_INC_H
#define AIMETER_CURSES_INC_H
#include <ncursesw/curses.h>
#endif
