/* layout: where each panel of the dashboard goes, as a pure function of
 * the terminal size (and a hint of how much there is to show).
 *
 * Three modes:
 * - FULL (at least UI_FULL_COLS × UI_FULL_ROWS): boxed panels, Budget and
 *   Rate limits side by side, Models and Cache side by side, the Console
 *   below, then the input line and the key hints.
 * - COMPACT (down to UI_MIN_COLS × UI_MIN_ROWS): unboxed one-line sections,
 *   the same facts in fewer words. At 80×24 and above every panel is
 *   present; below, panels are dropped from the least needed (models, key
 *   hints, second lines) so the console keeps at least a few rows.
 * - TOO_SMALL: one line that says so.
 * No rectangle leaves the screen and no two overlap. Pure; any thread. */
#ifndef AIMETER_UI_LAYOUT_H
#define AIMETER_UI_LAYOUT_H

#include <stdbool.h>

enum { UI_FULL_COLS = 100, UI_FULL_ROWS = 30, UI_MIN_COLS = 40, UI_MIN_ROWS = 6 };

typedef enum ui_panel {
	UI_P_HEADER,   /* title line: version, live/SIMULATOR, endpoint, queue, clock */
	UI_P_BUDGET,   /* today's spend, burn, projection, month, sparkline */
	UI_P_LIMITS,   /* per pool and dimension bars, head wait, 429s */
	UI_P_MODELS,   /* today's table per model */
	UI_P_CACHE,    /* hit rate and savings (a rule line in compact mode) */
	UI_P_CONSOLE,  /* the transcript */
	UI_P_INPUT,    /* the prompt line */
	UI_P_HINTS,    /* key hints */
	UI_P_TOOSMALL, /* the "terminal too small" line */
	UI_P_COUNT
} ui_panel;

typedef enum ui_layout_mode { UI_LAYOUT_FULL, UI_LAYOUT_COMPACT, UI_LAYOUT_TOO_SMALL } ui_layout_mode;

/* A rectangle in screen cells; h == 0 (or w == 0) means the panel is absent. */
typedef struct ui_rect {
	int y, x, h, w;
} ui_rect;

typedef struct ui_layout {
	ui_layout_mode mode;
	bool boxed;    /* panels carry a border (FULL) */
	int budget_lines, limit_lines; /* content lines given to those panels */
	ui_rect r[UI_P_COUNT];
} ui_layout;

/* What there is to show, so the rows go where they are needed. */
typedef struct ui_layout_hint {
	int nmodels; /* rows in the models table (without header and total) */
	int npools;  /* rate-limit pools */
	int ndims;   /* dimensions of the first pool (RPM, RPM/s, ITPM, OTPM) */
	int ntags;   /* tags with spend today: the budget panel's seventh line */
} ui_layout_hint;

/* Computes the layout for a cols × rows screen. hint may be NULL (4 models,
 * one pool of 4 dimensions). Negative sizes count as 0. */
void ui_layout_compute(int cols, int rows, const ui_layout_hint *hint, ui_layout *out);

static inline bool ui_layout_has(const ui_layout *l, ui_panel p)
{
	return l->r[p].h > 0 && l->r[p].w > 0;
}

/* A short name for each panel ("header", "budget", ...), for tests. */
const char *ui_panel_name(ui_panel p);

#endif
