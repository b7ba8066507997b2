/* paint: the thin curses layer that puts the panels' rich lines (panels.h)
 * into the layout's rectangles in their roles' attributes, and paints the
 * console, the input line and the help. Painting reads the view and never
 * changes the model (the console's line-count cache aside). UI thread
 * only. */
#ifndef AIMETER_UI_PAINT_H
#define AIMETER_UI_PAINT_H

#include <stdbool.h>
#include <stdint.h>

#include "console.h"
#include "editor.h"
#include "engine.h"
#include "layout.h"
#include "term.h"

typedef struct ui_view {
	const ui_term *term;
	const ui_layout *lay;
	const am_snapshot *snap;
	ui_console *con;
	const ui_editor *ed;
	const char *version;
	int64_t now_mono, now_wall; /* read once per loop pass */
	int scroll;                 /* console lines scrolled back */
	int max_scroll;             /* out: set by painting the console */
	bool help;
	int help_scroll;
	int help_lines;             /* out: lines in the help text */
	bool queue;                 /* the queue view is open */
	int queue_sel;              /* its selected row */
	int cols, rows;
	const am_engine_ops *ops;   /* asked for the input's preview (may be NULL) */
	const char *system;         /* the system prompt sent with every turn, or NULL */
	const char *status;         /* the status line, shown in place of the hints; or NULL */
	ui_role status_role;
} ui_view;

/* Repaints one panel (clears its rectangle first). */
void ui_paint_panel(ui_view *v, ui_panel p);

/* Paints the help screen over the panels below the header. */
void ui_paint_help(ui_view *v);

/* Paints the queue view (panels.c: ui_panel_queue) over the panels below
 * the header. */
void ui_paint_queue(ui_view *v);

/* Places the terminal cursor on the input line (or hides it). */
void ui_paint_cursor(const ui_view *v);

/* Whether anything on screen counts down (cool-down, head wait, a running
 * job), so the loop knows a 1 s tick is worth painting. */
bool ui_view_has_countdown(const ui_view *v);

#endif
