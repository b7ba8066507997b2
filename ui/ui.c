/* ui: placeholder entry point until the dashboard lands. */
#include "ui.h"
#include "curses_inc.h"

const char *ui_curses_version(void)
{
	return curses_version();
}
