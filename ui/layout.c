/* layout: panel rectangles from the terminal size. Kept pure so every size
 * from 20×5 to 300×100 is checked by a unit test instead of by eye, and so
 * a resize is just "compute again and repaint". */
#include "layout.h"

#include <string.h>

static int clampi(int v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static ui_rect rect(int y, int x, int h, int w)
{
	ui_rect r = {y, x, h, w};
	return r;
}

static void full(int cols, int rows, const ui_layout_hint *h, ui_layout *l)
{
	l->mode = UI_LAYOUT_FULL;
	l->boxed = true;
	l->r[UI_P_HEADER] = rect(0, 0, 1, cols);
	l->r[UI_P_INPUT] = rect(rows - 2, 0, 1, cols);
	l->r[UI_P_HINTS] = rect(rows - 1, 0, 1, cols);

	/* Budget needs six lines (seven with tags); the limits want one per
	 * dimension of the first pool, a summary, and one per further pool. */
	int limit_lines = clampi(h->ndims, 1, 4) + 1 + clampi(h->npools - 1, 0, 6);
	int top_h = clampi(limit_lines, h->ntags > 0 ? 7 : 6, 10) + 2;
	/* Models: header, rows, total; the cache needs four lines. */
	int mid_h = clampi(h->nmodels, 1, 16) + 2 + 2;
	if (mid_h < 6)
		mid_h = 6;
	int console_min = 8;
	int room = rows - 3 - console_min; /* header, input, hints */
	if (top_h + mid_h > room) {
		top_h = clampi(room - mid_h, 8, top_h);
		mid_h = clampi(room - top_h, 6, mid_h);
	}
	int half = cols / 2;
	l->r[UI_P_BUDGET] = rect(1, 0, top_h, half);
	l->r[UI_P_LIMITS] = rect(1, half, top_h, cols - half);
	int cache_w = clampi(cols * 3 / 10, 32, 44);
	l->r[UI_P_MODELS] = rect(1 + top_h, 0, mid_h, cols - cache_w);
	l->r[UI_P_CACHE] = rect(1 + top_h, cols - cache_w, mid_h, cache_w);
	int cy = 1 + top_h + mid_h;
	l->r[UI_P_CONSOLE] = rect(cy, 0, rows - 2 - cy, cols);
	l->budget_lines = top_h - 2;
	l->limit_lines = top_h - 2;
}

/* Compact: one column of unboxed sections. Rows are handed out in order of
 * need while the console keeps its minimum; what does not fit is dropped. */
static void compact(int cols, int rows, const ui_layout_hint *h, ui_layout *l)
{
	l->mode = UI_LAYOUT_COMPACT;
	l->boxed = false;
	int console_min = rows >= 24 ? 6 : rows >= 12 ? 4 : 2;
	int avail = rows - 2 - console_min; /* header and input always */
	int budget = 0, limits = 0, hints = 0, cache = 0, models = 0;

	if (avail >= 1)
		budget = 1, avail--;
	if (avail >= 1)
		limits = 1, avail--;
	if (avail >= 1)
		cache = 1, avail--;
	if (avail >= 1)
		hints = 1, avail--;
	if (avail >= 1 && rows >= 20)
		budget++, avail--;
	if (avail >= 1 && rows >= 20 && h->npools > 1)
		limits++, avail--;
	int want = clampi(h->nmodels, 1, 4) + 2;
	if (avail >= 3)
		models = avail < want ? avail : want, avail -= models;
	int console = console_min + avail;

	int y = 0;
	l->r[UI_P_HEADER] = rect(y++, 0, 1, cols);
	if (budget)
		l->r[UI_P_BUDGET] = rect(y, 0, budget, cols), y += budget;
	if (limits)
		l->r[UI_P_LIMITS] = rect(y, 0, limits, cols), y += limits;
	if (models)
		l->r[UI_P_MODELS] = rect(y, 0, models, cols), y += models;
	if (cache)
		l->r[UI_P_CACHE] = rect(y, 0, 1, cols), y += 1;
	l->r[UI_P_CONSOLE] = rect(y, 0, console, cols), y += console;
	l->r[UI_P_INPUT] = rect(y++, 0, 1, cols);
	if (hints)
		l->r[UI_P_HINTS] = rect(y++, 0, 1, cols);
	l->budget_lines = budget;
	l->limit_lines = limits;
}

void ui_layout_compute(int cols, int rows, const ui_layout_hint *hint, ui_layout *out)
{
	static const ui_layout_hint defaults = {4, 1, 4, 0};
	const ui_layout_hint *h = hint ? hint : &defaults;
	memset(out, 0, sizeof *out);
	if (cols < 0)
		cols = 0;
	if (rows < 0)
		rows = 0;
	if (cols >= UI_FULL_COLS && rows >= UI_FULL_ROWS)
		full(cols, rows, h, out);
	else if (cols >= UI_MIN_COLS && rows >= UI_MIN_ROWS)
		compact(cols, rows, h, out);
	else {
		out->mode = UI_LAYOUT_TOO_SMALL;
		if (rows > 0 && cols > 0)
			out->r[UI_P_TOOSMALL] = rect(0, 0, 1, cols);
	}
}

const char *ui_panel_name(ui_panel p)
{
	static const char *const names[UI_P_COUNT] = {
		"header", "budget", "limits", "models", "cache",
		"console", "input", "hints", "toosmall"};
	return p < UI_P_COUNT ? names[p] : "?";
}
