/* The one place that includes curses. Every ui/ file includes this. */
#ifndef AIMETER_CURSES_INC_H
#define AIMETER_CURSES_INC_H
#include <ncursesw/curses.h>
#endif
