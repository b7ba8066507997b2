/* paint: the thin curses layer. The panels' text comes from panels.c as
 * rich lines; this file frames the panels, puts those lines on screen in
 * their roles' attributes, and paints what lives with the UI state (the
 * console, the input line, the help screen). */
#include "paint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdtab.h"
#include "fmt.h"
#include "panels.h"

static const ui_glyphs *G(const ui_view *v)
{
	return ui_glyphs_get(v->term->ascii);
}

/* Paints s, already cut to its room, at (y, x) in role r; returns the
 * cells used. */
static int draw(const ui_view *v, int y, int x, ui_role r, const char *s)
{
	attrset(v->term->attr[r]);
	mvaddstr(y, x, s);
	attrset(A_NORMAL);
	return fmt_width(s, strlen(s));
}

/* Paints s at (y, x) in at most w cells; returns the cells used. */
static int put(const ui_view *v, int y, int x, int w, ui_role r, const char *s)
{
	char buf[2048];
	if (w <= 0)
		return 0;
	fmt_fit(buf, sizeof buf, s, w, v->term->ascii);
	return draw(v, y, x, r, buf);
}

/* Paints a rich line at (y, x) in at most w cells; returns the cells used. */
static int paint_line(const ui_view *v, int y, int x, int w, const ui_rline *l)
{
	ui_rline fit;
	int used = 0;
	ui_rline_fit(l, w, v->term->ascii, &fit);
	for (int i = 0; i < fit.n; i++)
		used += draw(v, y, x + used, fit.role[i], ui_rline_text(&fit, i));
	return used;
}

static void clear_rect(const ui_view *v, ui_rect r)
{
	attrset(v->term->attr[UI_ROLE_NORMAL]);
	for (int y = r.y; y < r.y + r.h; y++)
		mvhline(y, r.x, ' ', r.w);
	attrset(A_NORMAL);
}

/* The inside of a panel: one cell of padding left and right, and the box
 * lines too when the layout is boxed. */
static ui_rect inner(const ui_view *v, ui_rect r)
{
	if (!v->lay->boxed)
		return (ui_rect){r.y, r.x + 1, r.h, r.w - 2};
	return (ui_rect){r.y + 1, r.x + 2, r.h - 2, r.w - 4};
}

/* A box with a title when the layout is boxed; returns the inner
 * rectangle. */
static ui_rect frame(const ui_view *v, ui_rect r, const ui_rline *title)
{
	const ui_glyphs *g = G(v);
	if (!v->lay->boxed)
		return inner(v, r);
	attrset(v->term->attr[UI_ROLE_BORDER]);
	for (int x = r.x + 1; x < r.x + r.w - 1; x++) {
		mvaddstr(r.y, x, g->hl);
		mvaddstr(r.y + r.h - 1, x, g->hl);
	}
	for (int y = r.y + 1; y < r.y + r.h - 1; y++) {
		mvaddstr(y, r.x, g->vl);
		mvaddstr(y, r.x + r.w - 1, g->vl);
	}
	mvaddstr(r.y, r.x, g->tl);
	mvaddstr(r.y, r.x + r.w - 1, g->tr);
	mvaddstr(r.y + r.h - 1, r.x, g->bl);
	mvaddstr(r.y + r.h - 1, r.x + r.w - 1, g->br);
	attrset(A_NORMAL);
	if (title && title->n) {
		put(v, r.y, r.x + 1, 1, UI_ROLE_BORDER, " ");
		int tw = paint_line(v, r.y, r.x + 2, r.w - 5, title);
		put(v, r.y, r.x + 2 + tw, 1, UI_ROLE_BORDER, " ");
	}
	return inner(v, r);
}

/* ---- the panels built in panels.c --------------------------------------------------- */

static void paint_rows(const ui_view *v, ui_rect in, const ui_block *b)
{
	for (int i = 0; i < b->n; i++) {
		const ui_place *p = &b->row[i];
		paint_line(v, in.y + p->y, in.x + p->x, p->w, &p->line);
	}
}

static ui_panel_ctx panel_ctx(const ui_view *v)
{
	return (ui_panel_ctx){.snap = v->snap,
	                      .version = v->version,
	                      .now_mono = v->now_mono,
	                      .now_wall = v->now_wall,
	                      .ascii = v->term->ascii,
	                      .compact = v->lay->mode != UI_LAYOUT_FULL};
}

typedef void (*framed_builder)(const ui_panel_ctx *, int, int, ui_block *);

/* A framed panel: its text built for the inside, then the frame with its
 * title, then the rows. */
static void paint_framed(ui_view *v, ui_rect r, framed_builder build)
{
	ui_panel_ctx c = panel_ctx(v);
	ui_block b;
	ui_rect in = inner(v, r);
	build(&c, in.w, in.h, &b);
	paint_rows(v, frame(v, r, &b.title), &b);
}

static void paint_header(ui_view *v, ui_rect r)
{
	ui_panel_ctx c = panel_ctx(v);
	ui_block b;
	ui_panel_header(&c, r.w, &b);
	paint_rows(v, r, &b);
}

static void paint_budget(ui_view *v, ui_rect r)
{
	paint_framed(v, r, ui_panel_budget);
}

static void paint_limits(ui_view *v, ui_rect r)
{
	paint_framed(v, r, ui_panel_limits);
}

static void paint_models(ui_view *v, ui_rect r)
{
	paint_framed(v, r, ui_panel_models);
}

static void paint_cache(ui_view *v, ui_rect r)
{
	ui_panel_ctx c = panel_ctx(v);
	ui_block b;
	if (!c.compact) {
		paint_framed(v, r, ui_panel_cache);
		return;
	}
	/* Compact: a rule line across the whole rectangle, no frame. */
	ui_panel_cache(&c, r.w, r.h, &b);
	paint_rows(v, r, &b);
}

/* A panel that is one line across its whole rectangle. */
static void paint_whole(ui_view *v, ui_rect r, void (*build)(int, ui_block *))
{
	ui_block b;
	build(r.w, &b);
	paint_rows(v, r, &b);
}

static void paint_hints(ui_view *v, ui_rect r)
{
	ui_block b;
	if (!v->status) {
		paint_whole(v, r, ui_panel_hints);
		return;
	}
	ui_panel_status(v->status, v->status_role, r.w, &b);
	paint_rows(v, r, &b);
}

static void paint_toosmall(ui_view *v, ui_rect r)
{
	paint_whole(v, r, ui_panel_toosmall);
}

/* ---- console ---------------------------------------------------------------------- */

struct con_paint {
	ui_view *v;
	ui_rect in;
};

static void con_line(void *ctx, int row, const ui_tx_line *tl)
{
	struct con_paint *cp = ctx;
	const ui_view *v = cp->v;
	const ui_glyphs *g = G(v);
	int y = cp->in.y + row, x = cp->in.x, w = cp->in.w;
	char text[4096];
	size_t n = tl->len < sizeof text - 1 ? tl->len : sizeof text - 1;
	memcpy(text, tl->text, n);
	text[n] = '\0';
	ui_role r = UI_ROLE_NORMAL;
	switch (tl->kind) {
	case UI_TX_YOU: {
		if (tl->first) {
			char pre[16];
			snprintf(pre, sizeof pre, "you %s ", g->mark);
			put(v, y, x, w, UI_ROLE_YOU, pre);
		}
		x += UI_TX_YOU_INDENT;
		w -= UI_TX_YOU_INDENT;
		r = UI_ROLE_TITLE;
		break;
	}
	case UI_TX_META:
	case UI_TX_SUMMARY:
	case UI_TX_NOTICE:
		r = UI_ROLE_DIM;
		break;
	case UI_TX_ERROR:
		r = UI_ROLE_ALARM;
		break;
	case UI_TX_ALERT:
		r = UI_ROLE_WARN;
		break;
	case UI_TX_SPACER:
	case UI_TX_ANSWER:
		break;
	}
	int used = put(v, y, x, w, r, text);
	if (tl->cursor)
		put(v, y, x + used + (used && tl->kind == UI_TX_META ? 1 : 0), 1, UI_ROLE_ACCENT,
		    g->cursor);
}

static void paint_console(ui_view *v, ui_rect r)
{
	ui_rline t;
	ui_rline_clear(&t);
	const ui_glyphs *g = G(v);
	int turns = ui_console_turns(v->con);
	ui_rline_add(&t, UI_ROLE_TITLE, "Console");
	if (turns) {
		int64_t tokens, cost;
		bool unknown;
		char tok[16], money[40];
		ui_console_context(v->con, &tokens, &cost, &unknown);
		fmt_tokens(tok, sizeof tok, tokens);
		fmt_money(money, sizeof money, cost);
		ui_rline_addf(&t, UI_ROLE_DIM, "%sconversation of %d turn%s%s%s tokens of context%s%s%s",
		              g->dot, turns, turns == 1 ? "" : "s", g->dot, tok, g->dot, money,
		              unknown ? " + unknown prices" : "");
		ui_rline_addf(&t, UI_ROLE_DIM, " (/new to start over)");
	}
	if (v->scroll > 0)
		ui_rline_addf(&t, UI_ROLE_WARN, "%s%s %d lines back (PgDn)", g->dot, g->up,
		              v->scroll);
	ui_rect in = frame(v, r, v->lay->boxed ? &t : NULL);
	if (!v->lay->boxed && v->scroll > 0 && in.h > 0) {
		/* Unboxed: the scroll state takes the top line. */
		ui_rline l;
		ui_rline_clear(&l);
		ui_rline_addf(&l, UI_ROLE_WARN, "%s %d lines back (PgDn)", g->up, v->scroll);
		paint_line(v, in.y, in.x, in.w, &l);
		in.y++;
		in.h--;
	}
	struct con_paint cp = {v, in};
	v->max_scroll = ui_console_render(v->con, in.w, in.h, v->scroll, con_line, &cp);
	if (ui_console_entries(v->con) == 0) {
		/* An empty transcript says what to do rather than nothing. */
		static const char *const welcome[] = {
			"Type a prompt below and press Enter: the answer streams in here with",
			"its model, why it was chosen, tokens, cost and time.",
			"Conversations are multi-turn until /new. F1 or /help lists every key.",
		};
		for (int i = 0; i < 3 && i < in.h; i++)
			put(v, in.y + i, in.x, in.w, UI_ROLE_DIM, welcome[i]);
	}
}

/* ---- input and hints -------------------------------------------------------------- */

/* Enough for the visible part of the input at any terminal width. */
enum { INPUT_VIEW_BYTES = 8192 };

/* A request body's bytes besides its turns: {"messages":[],"model":"<up to
 * 128>","max_tokens":N,"stream":true,"system":""}. */
enum { UI_REQUEST_FRAMING = 256 };

/* The remark after the text (panels.c: ui_input_remark). */
static void input_remark(const ui_view *v, char *buf, size_t n)
{
	ui_rect r = v->lay->r[UI_P_INPUT];
	int64_t tokens, cost;
	bool unknown;
	char head[256];
	ui_input_info in = {.chars = ui_editor_len(v->ed),
	                    .lines = ui_editor_lines(v->ed),
	                    .model_mode = v->snap->model_mode};
	in.fits = in.lines <= 1 && in.chars < r.w - 4;
	ui_editor_head(v->ed, head, sizeof head);
	in.command = ui_cmd_is_command(head);
	ui_console_context(v->con, &tokens, &cost, &unknown);
	in.context_tokens = tokens;
	/* The engine's policies say which model and what it may cost. */
	am_preview pv;
	am_err err;
	if (!in.command && in.chars > 0 && v->ops && v->ops->preview) {
		/* The request's size, at least: the conversation's turns, the new
		 * one and the body's other fields (model, max_tokens, system). */
		char *text = ui_editor_text(v->ed);
		int64_t bytes = ui_console_context_bytes(v->con) + ui_json_bytes(text) +
		                UI_REQUEST_FRAMING + (v->system ? ui_json_bytes(v->system) : 0);
		free(text);
		am_preview_in pi = {.chars = in.chars,
		                    .input_tokens = ui_input_tokens(in.chars, tokens),
		                    .bytes = bytes};
		if (v->ops->preview(v->ops->ctx, v->snap, &pi, &pv, &err) == 0)
			in.preview = &pv;
	}
	ui_input_remark(&in, v->term->ascii, buf, n);
}

/* Cells for the text: the field, less the remark when it shows and
 * leaves the text room. */
static int input_width(ui_rect r, const char *remark)
{
	int w = r.w - 4, rw = fmt_width(remark, strlen(remark));
	if (rw && w - rw - 1 >= 10)
		w -= rw + 1;
	return w;
}

struct input_paint {
	ui_view *v;
	int y, x, w;
};

static void input_row(void *ctx, int row, const char *text)
{
	struct input_paint *ip = ctx;
	put(ip->v, ip->y + row, ip->x, ip->w, UI_ROLE_NORMAL, text);
}

static void no_row(void *ctx, int row, const char *text)
{
	(void)ctx;
	(void)row;
	(void)text;
}

static void paint_input(ui_view *v, ui_rect r)
{
	const ui_glyphs *g = G(v);
	char mark[16], buf[INPUT_VIEW_BYTES];
	int col;
	snprintf(mark, sizeof mark, " %s ", g->mark);
	put(v, r.y, r.x, r.w, UI_ROLE_ACCENT, mark);
	char remark[160];
	input_remark(v, remark, sizeof remark);
	int x = r.x + 3, w = input_width(r, remark);
	if (w <= 0)
		return;
	if (ui_editor_len(v->ed) == 0) {
		put(v, r.y, x, w, UI_ROLE_DIM, "type a prompt and press Enter, or /help");
		return;
	}
	if (r.h > 1) {
		/* Several rows: the text's lines as they are. */
		struct input_paint ip = {v, r.y, x, w};
		int row;
		ui_editor_view_rows(v->ed, w, r.h, input_row, &ip, &row, &col);
	} else {
		ui_editor_view(v->ed, w, g->newline, buf, sizeof buf, &col);
		put(v, r.y, x, w, UI_ROLE_NORMAL, buf);
	}
	if (w < r.w - 4)
		put(v, r.y, x + w + 1, r.w - 4 - w, UI_ROLE_DIM, remark);
}

void ui_paint_panel(ui_view *v, ui_panel p)
{
	ui_rect r = v->lay->r[p];
	if (!ui_layout_has(v->lay, p))
		return;
	static void (*const painters[UI_P_COUNT])(ui_view *, ui_rect) = {
		[UI_P_HEADER] = paint_header, [UI_P_BUDGET] = paint_budget,
		[UI_P_LIMITS] = paint_limits, [UI_P_MODELS] = paint_models,
		[UI_P_CACHE] = paint_cache,   [UI_P_CONSOLE] = paint_console,
		[UI_P_INPUT] = paint_input,   [UI_P_HINTS] = paint_hints,
		[UI_P_TOOSMALL] = paint_toosmall,
	};
	clear_rect(v, r);
	painters[p](v, r);
}

/* ---- help --------------------------------------------------------------------------- */

struct help_paint {
	ui_view *v;
	ui_rect in;
	int line;
};

static void help_line(void *ctx, const char *text, bool heading)
{
	struct help_paint *hp = ctx;
	int row = hp->line++ - hp->v->help_scroll;
	if (row < 0 || row >= hp->in.h)
		return;
	put(hp->v, hp->in.y + row, hp->in.x, hp->in.w, heading ? UI_ROLE_ACCENT : UI_ROLE_NORMAL,
	    text);
}

/* The screen below the header (and above the hints) for a view that
 * covers the panels, cleared; false when there is no room. */
static bool overlay_rect(const ui_view *v, ui_rect *r)
{
	*r = (ui_rect){1, 0, v->rows - 1, v->cols};
	if (v->lay->mode == UI_LAYOUT_TOO_SMALL || r->h < 3)
		return false;
	if (ui_layout_has(v->lay, UI_P_HINTS))
		r->h--;
	clear_rect(v, *r);
	return true;
}

/* A box around r with a title whatever the layout; returns its inside. */
static ui_rect overlay_frame(ui_view *v, ui_rect r, const ui_rline *title)
{
	ui_layout boxed = *v->lay;
	boxed.boxed = true;
	const ui_layout *saved = v->lay;
	v->lay = &boxed;
	ui_rect in = frame(v, r, title);
	v->lay = saved;
	return in;
}

void ui_paint_help(ui_view *v)
{
	ui_rect r;
	if (!overlay_rect(v, &r))
		return;
	ui_rline t;
	ui_rline_clear(&t);
	ui_rline_add(&t, UI_ROLE_TITLE, "Help");
	ui_rline_addf(&t, UI_ROLE_DIM, "%sany key closes%sUp/Down/PgUp/PgDn scroll", G(v)->dot,
	              G(v)->dot);
	ui_rect in = overlay_frame(v, r, &t);
	struct help_paint hp = {v, in, 0};
	ui_help_lines(help_line, &hp);
	v->help_lines = hp.line;
}

/* ---- the queue view ------------------------------------------------------------------ */

void ui_paint_queue(ui_view *v)
{
	ui_rect r;
	if (!overlay_rect(v, &r))
		return;
	static ui_queue_row rows[UI_CON_MAX_JOBS + UI_CON_MAX_ENDED];
	static ui_block b;
	int n = ui_console_queue(v->con, rows, UI_CON_MAX_JOBS + UI_CON_MAX_ENDED);
	/* The box's inside: a row and two columns in from each side. */
	ui_rect in = {r.y + 1, r.x + 2, r.h - 2, r.w - 4};
	ui_panel_queue(rows, n, v->queue_sel, v->snap->paused, v->term->ascii, in.w, in.h, &b);
	overlay_frame(v, r, &b.title);
	paint_rows(v, in, &b);
}

void ui_paint_cursor(const ui_view *v)
{
	if (v->help || v->queue || !ui_layout_has(v->lay, UI_P_INPUT)) {
		curs_set(0);
		return;
	}
	ui_rect r = v->lay->r[UI_P_INPUT];
	char buf[INPUT_VIEW_BYTES], remark[160];
	int col;
	int row = 0;
	input_remark(v, remark, sizeof remark);
	if (r.h > 1)
		ui_editor_view_rows(v->ed, input_width(r, remark), r.h, no_row, NULL, &row, &col);
	else
		ui_editor_view(v->ed, input_width(r, remark), G(v)->newline, buf, sizeof buf, &col);
	curs_set(1);
	move(r.y + row, r.x + 3 + col);
}

bool ui_view_has_countdown(const ui_view *v)
{
	const am_snapshot *s = v->snap;
	for (int i = 0; i < s->npools; i++) {
		const am_snap_pool *p = &s->pool[i];
		if (p->queue_depth > 0 || p->in_flight > 0)
			return true;
		for (int k = 0; k < p->ndims && k < AM_SNAP_MAX_DIMS; k++)
			if (p->dim[k].cooldown_until_ns > v->now_mono ||
			    (p->dim[k].has_server && p->dim[k].server_reset_ns > v->now_wall))
				return true;
	}
	return false;
}
