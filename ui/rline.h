/* rline: a rich line, text as segments each with a colour role, and a
 * block, the rich lines of one panel placed in its rectangle. The panel
 * builders (panels.h) make them; the painter only puts them on screen.
 * Curses-free and pure; any thread. */
#ifndef AIMETER_UI_RLINE_H
#define AIMETER_UI_RLINE_H

#include <stdbool.h>
#include <stdint.h>

#include "roles.h"

/* A line holds at most UI_RLINE_SEGS segments (more are dropped), each cut
 * to UI_RSEG_BYTES - 1 bytes, in UI_RLINE_BYTES in all. */
enum { UI_RLINE_SEGS = 32, UI_RSEG_BYTES = 768, UI_RLINE_BYTES = 4096 };

typedef struct ui_rline {
	int n;    /* segments */
	int used; /* bytes of buf in use */
	ui_role role[UI_RLINE_SEGS];
	uint16_t at[UI_RLINE_SEGS]; /* where each segment's text starts in buf */
	char buf[UI_RLINE_BYTES];
} ui_rline;

void ui_rline_clear(ui_rline *l);
const char *ui_rline_text(const ui_rline *l, int i);

/* Appends a segment. */
void ui_rline_add(ui_rline *l, ui_role r, const char *s);
__attribute__((format(printf, 3, 4))) void ui_rline_addf(ui_rline *l, ui_role r, const char *fmt,
                                                         ...);
/* Appends an optional piece only when all of it fits in `width` cells:
 * a line that drops its least needed words reads better than one cut. */
__attribute__((format(printf, 4, 5))) void ui_rline_addf_fit(ui_rline *l, int width, ui_role r,
                                                             const char *fmt, ...);
/* Puts a segment in before segment `at` (0..n). */
void ui_rline_insert(ui_rline *l, int at, ui_role r, const char *s);
/* Appends every segment of o. */
void ui_rline_append(ui_rline *l, const ui_rline *o);

/* Cells the line takes. */
int ui_rline_width(const ui_rline *l);

/* What of l lands on screen in `width` cells: segment after segment, each
 * cut with fmt_fit ("…", or "~" in ASCII) to the room left, none once the
 * room is used up. */
void ui_rline_fit(const ui_rline *l, int width, bool ascii, ui_rline *out);

/* ---- blocks ---------------------------------------------------------------- */

/* The rows of the busiest panel: the models table (header, 16 models, its
 * empty-table note, the total and its "+N more") fits with room to spare. */
enum { UI_BLOCK_ROWS = 24 };

/* A rich line at row y, column x of a panel's rectangle, cut to w cells. */
typedef struct ui_place {
	int y, x, w;
	ui_rline line;
} ui_place;

/* A panel: its title (n == 0 when it has none; shown only on a boxed
 * panel's top border) and its rows, painted in order (a later row may
 * overwrite part of an earlier one). */
typedef struct ui_block {
	ui_rline title;
	int n;
	ui_place row[UI_BLOCK_ROWS];
	ui_place spare; /* takes the rows past UI_BLOCK_ROWS, never shown */
} ui_block;

void ui_block_clear(ui_block *b);

/* A new empty row at (y, x), w cells wide (dropped when the block is
 * full). */
ui_rline *ui_block_row(ui_block *b, int y, int x, int w);

#endif
