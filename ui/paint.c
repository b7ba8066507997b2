/* paint: one function per panel, each building its lines from fmt's
 * strings as coloured segments and placing them with clipping.
 *
 * The words repeat what the colours say (ok / alert / over budget,
 * cool-down, blocks head) so the screen reads the same with NO_COLOR and
 * for colour-blind users. ASCII mode swaps every glyph for a plain one. */
#include "paint.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cmdtab.h"
#include "fmt.h"
#include "money.h"

/* ---- glyphs ------------------------------------------------------------------ */

struct glyphs {
	const char *dot, *mark, *live, *cursor, *hl, *vl, *tl, *tr, *bl, *br, *arrow, *blocks,
		*up, *reset;
};

static const struct glyphs utf8_glyphs = {" \u00b7 ", "\u25b8", "\u25cf", "\u258d",
                                          "\u2500", "\u2502", "\u250c", "\u2510",
                                          "\u2514", "\u2518", "\u2192", "\u25c0",
                                          "\u2191", "\u21bb"};
static const struct glyphs ascii_glyphs = {" - ", ">", "*", "_", "-", "|", "+", "+",
                                           "+", "+", "->", "<", "^", "reset "};

static const struct glyphs *G(const ui_view *v)
{
	return v->term->ascii ? &ascii_glyphs : &utf8_glyphs;
}

/* ---- segments: a line of coloured pieces --------------------------------------- */

enum { MAX_SEGS = 32, SEG_BYTES = 768 };

struct line {
	int n;
	ui_role role[MAX_SEGS];
	char text[MAX_SEGS][SEG_BYTES];
};

static void seg(struct line *l, ui_role r, const char *s)
{
	if (l->n == MAX_SEGS)
		return;
	l->role[l->n] = r;
	snprintf(l->text[l->n], SEG_BYTES, "%s", s);
	l->n++;
}

__attribute__((format(printf, 3, 4))) static void segf(struct line *l, ui_role r,
                                                         const char *fmt, ...);
static void segf(struct line *l, ui_role r, const char *fmt, ...)
{
	char buf[SEG_BYTES];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	seg(l, r, buf);
}

static int line_width(const struct line *l)
{
	int w = 0;
	for (int i = 0; i < l->n; i++)
		w += fmt_width(l->text[i], strlen(l->text[i]));
	return w;
}

/* Appends an optional piece only when all of it fits in `width` cells:
 * a line that drops its least needed words reads better than one cut. */
__attribute__((format(printf, 4, 5))) static void segf_fit(struct line *l, int width,
                                                             ui_role r, const char *fmt, ...);
static void segf_fit(struct line *l, int width, ui_role r, const char *fmt, ...)
{
	char buf[SEG_BYTES];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (line_width(l) + fmt_width(buf, strlen(buf)) <= width)
		seg(l, r, buf);
}

/* Paints s at (y, x) in at most w cells; returns the cells used. */
static int put(const ui_view *v, int y, int x, int w, ui_role r, const char *s)
{
	char buf[2048];
	if (w <= 0)
		return 0;
	fmt_fit(buf, sizeof buf, s, w, v->term->ascii);
	attrset(v->term->attr[r]);
	mvaddstr(y, x, buf);
	attrset(A_NORMAL);
	return fmt_width(buf, strlen(buf));
}

static int paint_line(const ui_view *v, int y, int x, int w, const struct line *l)
{
	int used = 0;
	for (int i = 0; i < l->n && used < w; i++)
		used += put(v, y, x + used, w - used, l->role[i], l->text[i]);
	return used;
}

/* The right part flush with the right edge (when it leaves the left part
 * some room), the left part cut to what remains. */
static void paint_lr(const ui_view *v, int y, int x, int w, const struct line *left,
                     const struct line *right)
{
	int rw = right ? line_width(right) : 0;
	if (rw > w / 2)
		rw = 0;
	paint_line(v, y, x, w - rw - (rw ? 1 : 0), left);
	if (rw)
		paint_line(v, y, x + w - rw, rw, right);
}

static void clear_rect(const ui_view *v, ui_rect r)
{
	attrset(v->term->attr[UI_ROLE_NORMAL]);
	for (int y = r.y; y < r.y + r.h; y++)
		mvhline(y, r.x, ' ', r.w);
	attrset(A_NORMAL);
}

/* A box with a title; returns the inner rectangle (one cell of padding
 * left and right). Unboxed panels get the whole rectangle less one cell
 * each side. */
static ui_rect frame(const ui_view *v, ui_rect r, const struct line *title)
{
	const struct glyphs *g = G(v);
	ui_rect in;
	if (!v->lay->boxed) {
		in = (ui_rect){r.y, r.x + 1, r.h, r.w - 2};
		return in;
	}
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
	if (title) {
		put(v, r.y, r.x + 1, 1, UI_ROLE_BORDER, " ");
		int tw = paint_line(v, r.y, r.x + 2, r.w - 5, title);
		put(v, r.y, r.x + 2 + tw, 1, UI_ROLE_BORDER, " ");
	}
	in = (ui_rect){r.y + 1, r.x + 2, r.h - 2, r.w - 4};
	return in;
}

static ui_role budget_role(am_budget_state s)
{
	return s == AM_BUDGET_OVER ? UI_ROLE_ALARM : s == AM_BUDGET_ALERT ? UI_ROLE_WARN : UI_ROLE_CALM;
}

static const char *budget_word(am_budget_state s)
{
	return s == AM_BUDGET_OVER ? "OVER BUDGET" : s == AM_BUDGET_ALERT ? "ALERT" : "ok";
}

/* A bar as two segments: the filled part in `role`, the rest dimmed. */
static void bar_segs(const ui_view *v, struct line *l, int width, int64_t value, int64_t max,
                     ui_role role)
{
	char b[FMT_CELLS_BYTES(256)];
	if (width > 256)
		width = 256;
	if (width <= 0)
		return;
	fmt_bar(b, sizeof b, width, value, max, v->term->ascii);
	/* Split at the first empty cell so the track can be dimmed. */
	const char *empty = v->term->ascii ? "." : "\u2591";
	char *cut = strstr(b, empty);
	if (cut) {
		char rest[sizeof b];
		snprintf(rest, sizeof rest, "%s", cut);
		*cut = '\0';
		seg(l, role, b);
		seg(l, UI_ROLE_BAR_EMPTY, rest);
	} else {
		seg(l, role, b);
	}
}

/* ---- header -------------------------------------------------------------------- */

static void paint_header(ui_view *v, ui_rect r)
{
	const am_snapshot *s = v->snap;
	const struct glyphs *g = G(v);
	bool compact = v->lay->mode != UI_LAYOUT_FULL;
	struct line L = {0}, R = {0};
	char t[64], hit[32];
	segf(&L, UI_ROLE_TITLE, " aimeter%s%s", compact ? "" : " ", compact ? "" : v->version);
	seg(&L, UI_ROLE_NORMAL, "  ");
	if (s->simulator)
		seg(&L, UI_ROLE_BADGE_SIM, " SIMULATOR ");
	else
		segf(&L, UI_ROLE_BADGE_LIVE, "%s live", g->live);
	int endpoint_at = L.n; /* the endpoint goes in here when there is room */
	if (s->paused)
		seg(&L, UI_ROLE_WARN, "  PAUSED");
	int64_t lookups = s->cache.hits + s->cache.misses;
	fmt_pct(hit, sizeof hit, s->cache.hits, lookups, 0);
	if (compact) {
		segf(&L, UI_ROLE_NORMAL, "  %s", s->model_mode[0] ? s->model_mode : "auto");
		segf(&L, s->queue_depth ? UI_ROLE_WARN : UI_ROLE_NORMAL, "  q%d", s->queue_depth);
		segf(&L, UI_ROLE_NORMAL, " f%d", s->in_flight);
		segf(&L, UI_ROLE_NORMAL, "  cache %s", s->cache.enabled ? (lookups ? hit : "on") : "off");
		fmt_clock_hms(t, sizeof t, v->now_wall);
	} else {
		segf(&L, UI_ROLE_NORMAL, "   model: %s", s->model_mode[0] ? s->model_mode : "auto");
		segf(&L, s->queue_depth ? UI_ROLE_WARN : UI_ROLE_NORMAL, "   queue %d", s->queue_depth);
		segf(&L, UI_ROLE_NORMAL, "  in flight %d", s->in_flight);
		segf(&L, UI_ROLE_NORMAL, "   cache %s", s->cache.enabled ? "on" : "off");
		fmt_clock_day_hms(t, sizeof t, v->now_wall);
	}
	segf(&R, UI_ROLE_DIM, "%s  ", t);
	seg(&R, UI_ROLE_KEY, "F1");
	seg(&R, UI_ROLE_NORMAL, " help ");
	char ep[80];
	snprintf(ep, sizeof ep, "  %s", s->endpoint);
	if (!compact && s->endpoint[0] && L.n < MAX_SEGS &&
	    line_width(&L) + fmt_width(ep, strlen(ep)) + line_width(&R) + 1 <= r.w) {
		memmove(&L.role[endpoint_at + 1], &L.role[endpoint_at],
		        (size_t)(L.n - endpoint_at) * sizeof L.role[0]);
		memmove(&L.text[endpoint_at + 1], &L.text[endpoint_at],
		        (size_t)(L.n - endpoint_at) * sizeof L.text[0]);
		L.role[endpoint_at] = UI_ROLE_DIM;
		snprintf(L.text[endpoint_at], SEG_BYTES, "%s", ep);
		L.n++;
	}
	paint_lr(v, r.y, r.x, r.w, &L, &R);
}

/* ---- budget --------------------------------------------------------------------- */

/* The spend sparkline of the whole last hour as segments, in at most
 * `width` cells with its label ("spend/min " or, when 60 cells do not fit,
 * "spend/2min " and so on) and, with `peak`, the largest cell after it. */
static void spend_spark(const ui_view *v, const am_snap_budget *b, int width, bool peak,
                        struct line *l)
{
	int64_t cell[AM_SNAP_SPARK];
	char sp[FMT_CELLS_BYTES(AM_SNAP_SPARK)], label[24], right[48] = "";
	int nc = 0, k = 1;
	/* The finest cells that fit, label and peak included. */
	for (int cells = AM_SNAP_SPARK; cells >= 1; cells--) {
		k = fmt_rebucket(b->spend_per_min, AM_SNAP_SPARK, cells, cell, &nc);
		snprintf(label, sizeof label, k == 1 ? "spend/min " : "spend/%dmin ", k);
		right[0] = '\0';
		if (peak) {
			int64_t top = 0;
			char pk[40];
			for (int i = 0; i < nc; i++)
				top = cell[i] > top ? cell[i] : top;
			fmt_money(pk, sizeof pk, top);
			snprintf(right, sizeof right, "  peak %s", pk);
		}
		if ((int)strlen(label) + nc + fmt_width(right, strlen(right)) <= width)
			break;
	}
	fmt_spark(sp, sizeof sp, cell, nc, nc, v->term->ascii);
	seg(l, UI_ROLE_DIM, label);
	seg(l, UI_ROLE_ACCENT, sp);
	if (peak)
		seg(l, UI_ROLE_DIM, right);
}

static void budget_lines_full(ui_view *v, ui_rect in)
{
	const am_snap_budget *b = &v->snap->budget;
	const struct glyphs *g = G(v);
	ui_role role = budget_role(b->state);
	char spent[40], lim[40], pct[16], burn[40], eod[40], hm[16];
	struct line l[6];
	memset(l, 0, sizeof l);

	fmt_money(spent, sizeof spent, b->day_spent_pusd);
	fmt_money_cents(burn, sizeof burn, b->burn_pusd_per_hour);
	fmt_money_cents(eod, sizeof eod, b->projected_eod_pusd);
	if (b->day_limit_pusd > 0) {
		fmt_money_cents(lim, sizeof lim, b->day_limit_pusd);
		fmt_pct(pct, sizeof pct, b->day_spent_pusd, b->day_limit_pusd, 0);
		char left[96];
		snprintf(left, sizeof left, "%s of %s  ", spent, lim);
		int bw = in.w - fmt_width(left, strlen(left)) - 6;
		seg(&l[0], UI_ROLE_TITLE, left);
		bar_segs(v, &l[0], bw, b->day_spent_pusd, b->day_limit_pusd, role);
		segf(&l[0], role, " %4s", pct);

		seg(&l[1], role, budget_word(b->state));
		if (b->nalerts > 0)
			segf(&l[1], UI_ROLE_DIM, "%salert at %d%%", g->dot, b->alert_pct[0]);
		for (int i = 1; i < b->nalerts && i < AM_SNAP_MAX_ALERTS; i++)
			segf(&l[1], UI_ROLE_DIM, ", %d%%", b->alert_pct[i]);
		segf(&l[1], UI_ROLE_DIM, "%sstop at 100%%", g->dot);
	} else {
		segf(&l[0], UI_ROLE_TITLE, "%s today", spent);
		segf(&l[0], UI_ROLE_DIM, "%sno daily limit (/budget USD)", g->dot);
		seg(&l[1], UI_ROLE_DIM, "no alerts without a daily limit");
	}
	if (b->unknown_prices)
		segf_fit(&l[1], in.w, UI_ROLE_WARN, "%sunknown prices", g->dot);
	if (b->reserved_pusd > 0) {
		char res[40];
		fmt_money(res, sizeof res, b->reserved_pusd);
		segf_fit(&l[1], in.w, UI_ROLE_DIM, "%s%s held", g->dot, res);
	}

	char pace[96];
	snprintf(pace, sizeof pace, "%sat this pace %s by 24:00", g->dot, eod);
	segf(&l[2], UI_ROLE_NORMAL, "burn %s/h", burn);
	segf_fit(&l[2], in.w - fmt_width(pace, strlen(pace)), UI_ROLE_DIM, " (15 min)");
	seg(&l[2], UI_ROLE_NORMAL, pace);

	if (b->day_limit_pusd > 0 && b->state == AM_BUDGET_OVER) {
		seg(&l[3], UI_ROLE_ALARM, "limit reached: new prompts wait for /budget or tomorrow");
	} else if (b->day_limit_pusd > 0 && b->limit_hit_wall_ns > 0) {
		fmt_clock_hm(hm, sizeof hm, b->limit_hit_wall_ns);
		segf(&l[3], UI_ROLE_WARN, "limit reached at ~ %s", hm);
		seg(&l[3], UI_ROLE_DIM, " unless the pace drops");
	} else if (b->day_limit_pusd > 0) {
		seg(&l[3], UI_ROLE_CALM, "limit not reached today at this pace");
	}
	if (b->blocked_jobs > 0)
		segf(&l[3], UI_ROLE_ALARM, "%s%d prompt%s blocked", l[3].n ? g->dot : "",
		     b->blocked_jobs, b->blocked_jobs == 1 ? "" : "s");

	char mspent[40];
	fmt_money_cents(mspent, sizeof mspent, b->month_spent_pusd);
	if (b->month_limit_pusd > 0) {
		char mlim[40], mpct[16], left[96];
		fmt_money_cents(mlim, sizeof mlim, b->month_limit_pusd);
		fmt_pct(mpct, sizeof mpct, b->month_spent_pusd, b->month_limit_pusd, 0);
		snprintf(left, sizeof left, "month %s of %s  ", mspent, mlim);
		seg(&l[4], UI_ROLE_NORMAL, left);
		int64_t over = b->month_spent_pusd >= b->month_limit_pusd;
		bar_segs(v, &l[4], in.w - fmt_width(left, strlen(left)) - 6 > 20 ? 20 :
		                   in.w - fmt_width(left, strlen(left)) - 6,
		         b->month_spent_pusd, b->month_limit_pusd, over ? UI_ROLE_ALARM : UI_ROLE_CALM);
		segf(&l[4], over ? UI_ROLE_ALARM : UI_ROLE_NORMAL, " %s", mpct);
	} else {
		segf(&l[4], UI_ROLE_NORMAL, "month %s", mspent);
		segf(&l[4], UI_ROLE_DIM, "%sno monthly limit", g->dot);
	}

	spend_spark(v, b, in.w, true, &l[5]);

	for (int i = 0; i < 6 && i < in.h; i++)
		paint_line(v, in.y + i, in.x, in.w, &l[i]);
}

static void budget_lines_compact(ui_view *v, ui_rect in)
{
	const am_snap_budget *b = &v->snap->budget;
	const struct glyphs *g = G(v);
	ui_role role = budget_role(b->state);
	char spent[40], lim[40], pct[16], burn[40], eod[40];
	struct line l = {0};
	fmt_money(spent, sizeof spent, b->day_spent_pusd);
	fmt_money_cents(burn, sizeof burn, b->burn_pusd_per_hour);
	fmt_money_cents(eod, sizeof eod, b->projected_eod_pusd);
	if (b->day_limit_pusd > 0) {
		fmt_money_cents(lim, sizeof lim, b->day_limit_pusd);
		fmt_pct(pct, sizeof pct, b->day_spent_pusd, b->day_limit_pusd, 0);
		char tail[160];
		snprintf(tail, sizeof tail, " %s %s  %s/h %s %s by 24:00", pct, budget_word(b->state),
		         burn, g->arrow, eod);
		segf(&l, UI_ROLE_TITLE, "budget %s/%s ", spent, lim);
		int bw = in.w - line_width(&l) - fmt_width(tail, strlen(tail));
		if (bw > 24)
			bw = 24;
		if (bw < 4)
			bw = 4;
		bar_segs(v, &l, bw, b->day_spent_pusd, b->day_limit_pusd, role);
		segf(&l, role, " %s %s", pct, budget_word(b->state));
		segf(&l, UI_ROLE_NORMAL, "  %s/h %s %s by 24:00", burn, g->arrow, eod);
	} else {
		segf(&l, UI_ROLE_TITLE, "spent %s today", spent);
		segf(&l, UI_ROLE_DIM, " (no daily limit)");
		segf(&l, UI_ROLE_NORMAL, "  %s/h %s %s by 24:00", burn, g->arrow, eod);
	}
	paint_line(v, in.y, in.x, in.w, &l);
	if (in.h < 2)
		return;

	struct line m = {0};
	char mspent[40], hm[16];
	fmt_money_cents(mspent, sizeof mspent, b->month_spent_pusd);
	if (b->month_limit_pusd > 0) {
		char mlim[40];
		fmt_money_cents(mlim, sizeof mlim, b->month_limit_pusd);
		segf(&m, UI_ROLE_NORMAL, "month %s/%s", mspent, mlim);
	} else {
		segf(&m, UI_ROLE_NORMAL, "month %s", mspent);
	}
	if (b->state == AM_BUDGET_OVER) {
		segf(&m, UI_ROLE_ALARM, "%slimit reached", g->dot);
	} else if (b->day_limit_pusd > 0 && b->limit_hit_wall_ns > 0) {
		fmt_clock_hm(hm, sizeof hm, b->limit_hit_wall_ns);
		segf(&m, UI_ROLE_WARN, "%slimit at ~ %s", g->dot, hm);
	}
	if (b->blocked_jobs)
		segf(&m, UI_ROLE_ALARM, "%s%d blocked", g->dot, b->blocked_jobs);
	seg(&m, UI_ROLE_DIM, "  ");
	spend_spark(v, b, in.w - line_width(&m), false, &m);
	paint_line(v, in.y + 1, in.x, in.w, &m);
}

static void paint_budget(ui_view *v, ui_rect r)
{
	struct line t = {0};
	seg(&t, UI_ROLE_TITLE, "Budget");
	segf(&t, UI_ROLE_DIM, "%stoday", G(v)->dot);
	ui_rect in = frame(v, r, &t);
	if (v->lay->mode == UI_LAYOUT_FULL)
		budget_lines_full(v, in);
	else
		budget_lines_compact(v, in);
}

/* ---- rate limits ------------------------------------------------------------------ */

static ui_role dim_role(const am_snap_dim *d, int64_t now)
{
	int64_t cap = d->capacity > 0 ? d->capacity : d->limit;
	if (d->cooldown_until_ns > now || d->level <= 0)
		return UI_ROLE_ALARM;
	if (d->level * 4 < cap || d->blocks_head)
		return UI_ROLE_WARN;
	return UI_ROLE_CALM;
}

static void level_text(const am_snap_dim *d, char *buf, size_t n, bool spaced)
{
	char a[16], b[16];
	fmt_tokens(a, sizeof a, d->level > 0 ? d->level : 0);
	fmt_tokens(b, sizeof b, d->limit);
	snprintf(buf, n, spaced ? "%s / %s" : "%s/%s", a, b);
}

static const am_snap_dim *head_blocker(const am_snap_pool *p)
{
	for (int k = 0; k < p->ndims && k < AM_SNAP_MAX_DIMS; k++)
		if (p->dim[k].blocks_head)
			return &p->dim[k];
	return NULL;
}

static void dim_status(const ui_view *v, const am_snap_pool *p, const am_snap_dim *d,
                       struct line *l)
{
	const struct glyphs *g = G(v);
	char t[32];
	if (d->cooldown_until_ns > v->now_mono) {
		fmt_countdown_ns(t, sizeof t, d->cooldown_until_ns - v->now_mono);
		segf(l, UI_ROLE_ALARM, "cool-down %s", t);
	} else if (d->blocks_head) {
		segf(l, UI_ROLE_WARN, "%s blocks head", g->blocks);
		if (p->queue_depth > 0 && p->head_ready_in_ns > 0 && p->head_ready_in_ns < INT64_MAX) {
			fmt_duration_ns(t, sizeof t, p->head_ready_in_ns);
			segf(l, UI_ROLE_DIM, " %s", t);
		}
	} else if (d->has_server) {
		fmt_tokens(t, sizeof t, d->server_remaining);
		segf(l, UI_ROLE_DIM, "srv %s", t);
		if (d->server_reset_ns > v->now_wall) {
			fmt_countdown_ns(t, sizeof t, d->server_reset_ns - v->now_wall);
			segf(l, UI_ROLE_DIM, " %s%s", g->reset, t);
		}
	} else {
		seg(l, UI_ROLE_CALM, "ok");
	}
}

/* Queue, calls in flight, the head's wait and the 429s of a pool. The full
 * layout names the blocking dimension and the time to go on its bar's
 * line, so the summary stays short enough for its panel. */
static void pool_summary(const ui_view *v, const am_snap_pool *p, struct line *l, bool compact,
                         int width)
{
	const struct glyphs *g = G(v);
	char t[32];
	segf(l, p->queue_depth ? UI_ROLE_WARN : UI_ROLE_NORMAL, compact ? "q%d" : "queue %d",
	     p->queue_depth);
	if (!compact)
		seg(l, UI_ROLE_NORMAL, g->dot);
	segf(l, UI_ROLE_NORMAL, compact ? " f%d" : "in flight %d", p->in_flight);
	if (p->concurrency_cap > 0)
		segf(l, UI_ROLE_NORMAL, "/%d", p->concurrency_cap);
	const am_snap_dim *blk = head_blocker(p);
	char n429[48];
	snprintf(n429, sizeof n429, "%s429s %lld", g->dot, (long long)p->n429);
	if (p->queue_depth > 0 && (blk || p->head_wait_ns > 0)) {
		char wait[96], next[40] = "";
		fmt_duration_ns(t, sizeof t, p->head_wait_ns);
		snprintf(wait, sizeof wait, "%shead waits %s", g->dot, t);
		if (blk && compact)
			snprintf(wait + strlen(wait), sizeof wait - strlen(wait), " for %s", blk->name);
		if (compact && p->head_ready_in_ns > 0 && p->head_ready_in_ns < INT64_MAX) {
			fmt_duration_ns(t, sizeof t, p->head_ready_in_ns);
			snprintf(next, sizeof next, " (next %s)", t);
		}
		int room = width - fmt_width(n429, strlen(n429)) - fmt_width(next, strlen(next));
		if (line_width(l) + fmt_width(wait, strlen(wait)) <= room) {
			seg(l, UI_ROLE_WARN, wait);
			seg(l, UI_ROLE_DIM, next);
		}
	}
	seg(l, p->n429 ? UI_ROLE_ALARM : UI_ROLE_DIM, n429);
	if (!compact && p->ndims > 0 && p->dim[0].share_ppm > 0 && p->dim[0].share_ppm < 1000000)
		segf_fit(l, width, UI_ROLE_WARN, "%sshare %d%%", g->dot, p->dim[0].share_ppm / 10000);
}

/* The pool shown in detail: one in a cool-down, else one whose queue head
 * is blocked, else the first. What matters most is what gets the room. */
static int focus_pool(const ui_view *v)
{
	const am_snapshot *s = v->snap;
	int blocked = -1;
	for (int i = 0; i < s->npools && i < AM_SNAP_MAX_POOLS; i++) {
		const am_snap_pool *p = &s->pool[i];
		for (int k = 0; k < p->ndims && k < AM_SNAP_MAX_DIMS; k++) {
			if (p->dim[k].cooldown_until_ns > v->now_mono)
				return i;
			if (p->dim[k].blocks_head && p->queue_depth > 0 && blocked < 0)
				blocked = i;
		}
	}
	return blocked >= 0 ? blocked : 0;
}

/* The pool's first 429 cool-down, as an alarm segment; false if none. */
static bool pool_cooldown(const ui_view *v, const am_snap_pool *p, struct line *l)
{
	char t[40];
	for (int k = 0; k < p->ndims && k < AM_SNAP_MAX_DIMS; k++)
		if (p->dim[k].cooldown_until_ns > v->now_mono) {
			fmt_countdown_ns(t, sizeof t, p->dim[k].cooldown_until_ns - v->now_mono);
			segf(l, UI_ROLE_ALARM, " cool-down %s", t);
			return true;
		}
	return false;
}

static void pool_oneline(const ui_view *v, const am_snap_pool *p, struct line *l)
{
	char t[40];
	segf(l, UI_ROLE_TITLE, "%s", p->name);
	/* Alarms first, so a narrow line still says them. */
	pool_cooldown(v, p, l);
	if (p->n429)
		segf(l, UI_ROLE_ALARM, " 429s %lld", (long long)p->n429);
	for (int k = 0; k < p->ndims && k < AM_SNAP_MAX_DIMS; k++) {
		const am_snap_dim *d = &p->dim[k];
		if (!strcmp(d->name, "RPM/s"))
			continue;
		level_text(d, t, sizeof t, false);
		segf(l, UI_ROLE_DIM, "  %s ", d->name);
		seg(l, dim_role(d, v->now_mono), t);
	}
	if (p->queue_depth || p->in_flight)
		segf(l, p->queue_depth ? UI_ROLE_WARN : UI_ROLE_DIM, "  q%d f%d", p->queue_depth,
		     p->in_flight);
}

/* A pool in a few words for the compact layout: its alarm, else the
 * dimension with the least headroom. */
static void pool_brief(const ui_view *v, const am_snap_pool *p, struct line *l)
{
	char t[40];
	segf(l, UI_ROLE_TITLE, "%s", p->name);
	if (pool_cooldown(v, p, l))
		return;
	const am_snap_dim *tight = NULL;
	int64_t tight_ppm = INT64_MAX;
	for (int k = 0; k < p->ndims && k < AM_SNAP_MAX_DIMS; k++) {
		const am_snap_dim *d = &p->dim[k];
		int64_t cap = d->capacity > 0 ? d->capacity : d->limit;
		int64_t ppm = fmt_scale(d->level, cap, 1000000);
		if (strcmp(d->name, "RPM/s") && ppm < tight_ppm) {
			tight_ppm = ppm;
			tight = d;
		}
	}
	if (tight) {
		level_text(tight, t, sizeof t, false);
		segf(l, UI_ROLE_DIM, " %s ", tight->name);
		seg(l, dim_role(tight, v->now_mono), t);
	}
	if (p->n429)
		segf(l, UI_ROLE_ALARM, " 429s %lld", (long long)p->n429);
	if (p->queue_depth || p->in_flight)
		segf(l, p->queue_depth ? UI_ROLE_WARN : UI_ROLE_DIM, " q%d f%d", p->queue_depth,
		     p->in_flight);
}

static void limits_full(ui_view *v, ui_rect in)
{
	const am_snapshot *s = v->snap;
	int y = in.y, end = in.y + in.h;
	if (s->npools == 0) {
		put(v, y, in.x, in.w, UI_ROLE_DIM, "no rate-limit pools yet");
		return;
	}
	int focus = focus_pool(v);
	const am_snap_pool *p = &s->pool[focus];
	const int name_w = 6, num_w = 13, stat_w = 20;
	int bar_w = in.w - name_w - num_w - stat_w - 2;
	for (int k = 0; k < p->ndims && k < AM_SNAP_MAX_DIMS && y < end; k++, y++) {
		const am_snap_dim *d = &p->dim[k];
		struct line l = {0};
		char t[40], padded[64];
		ui_role role = dim_role(d, v->now_mono);
		fmt_pad(padded, sizeof padded, d->name, name_w, false);
		seg(&l, d->blocks_head ? UI_ROLE_WARN : UI_ROLE_NORMAL, padded);
		bar_segs(v, &l, bar_w, d->level, d->capacity > 0 ? d->capacity : d->limit, role);
		level_text(d, t, sizeof t, true);
		fmt_pad(padded, sizeof padded, t, num_w, true);
		seg(&l, UI_ROLE_NORMAL, padded);
		seg(&l, UI_ROLE_NORMAL, "  ");
		dim_status(v, p, d, &l);
		paint_line(v, y, in.x, in.w, &l);
	}
	if (y < end) {
		struct line l = {0};
		pool_summary(v, p, &l, false, in.w);
		paint_line(v, y++, in.x, in.w, &l);
	}
	/* Every other pool on a line of its own: all in full when all fit,
	 * else all in brief, so the lines read alike. */
	bool brief = false;
	for (int i = 0; i < s->npools; i++) {
		struct line l = {0};
		pool_oneline(v, &s->pool[i], &l);
		brief = brief || (i != focus && line_width(&l) > in.w);
	}
	for (int i = 0; i < s->npools && y < end; i++) {
		if (i == focus)
			continue;
		struct line l = {0};
		if (brief)
			pool_brief(v, &s->pool[i], &l);
		else
			pool_oneline(v, &s->pool[i], &l);
		paint_line(v, y++, in.x, in.w, &l);
	}
}

static void limits_compact(ui_view *v, ui_rect in)
{
	const am_snapshot *s = v->snap;
	if (s->npools == 0) {
		put(v, in.y, in.x, in.w, UI_ROLE_DIM, "rate limits: no pools yet");
		return;
	}
	int focus = focus_pool(v);
	const am_snap_pool *p = &s->pool[focus];
	struct line l = {0};
	char t[40];
	int ndims = 0, fixed = 0;
	for (int k = 0; k < p->ndims && k < AM_SNAP_MAX_DIMS; k++) {
		if (!strcmp(p->dim[k].name, "RPM/s"))
			continue;
		level_text(&p->dim[k], t, sizeof t, false);
		fixed += (int)strlen(p->dim[k].name) + 2 + (int)strlen(t) + 2;
		ndims++;
	}
	/* A cool-down leads the line so a narrow screen still shows it. */
	for (int k = 0; k < p->ndims && k < AM_SNAP_MAX_DIMS; k++)
		if (p->dim[k].cooldown_until_ns > v->now_mono) {
			fmt_countdown_ns(t, sizeof t, p->dim[k].cooldown_until_ns - v->now_mono);
			segf(&l, UI_ROLE_ALARM, "cool-down %s", t);
			fixed += line_width(&l);
			break;
		}
	int bar_w = ndims ? (in.w - fixed - 2) / ndims : 0;
	if (bar_w > 14)
		bar_w = 14;
	if (bar_w < 3)
		bar_w = 0;
	for (int k = 0; k < p->ndims && k < AM_SNAP_MAX_DIMS; k++) {
		const am_snap_dim *d = &p->dim[k];
		if (!strcmp(d->name, "RPM/s"))
			continue;
		ui_role role = dim_role(d, v->now_mono);
		segf(&l, d->blocks_head ? UI_ROLE_WARN : UI_ROLE_NORMAL, "%s%s ", l.n ? "  " : "",
		     d->name);
		bar_segs(v, &l, bar_w, d->level, d->capacity > 0 ? d->capacity : d->limit, role);
		level_text(d, t, sizeof t, false);
		segf(&l, role == UI_ROLE_CALM ? UI_ROLE_NORMAL : role, " %s", t);
	}
	paint_line(v, in.y, in.x, in.w, &l);
	if (in.h < 2)
		return;
	struct line m = {0};
	segf(&m, UI_ROLE_DIM, "%s: ", p->name);
	pool_summary(v, p, &m, true, in.w);
	/* The other pools while whole ones fit, then how many did not. */
	int left = 0;
	for (int i = 0; i < s->npools; i++) {
		if (i == focus)
			continue;
		struct line o = {0};
		pool_brief(v, &s->pool[i], &o);
		bool last = i == s->npools - 1 || (i == s->npools - 2 && focus == s->npools - 1);
		if (left || line_width(&m) + 3 + line_width(&o) > in.w - (last ? 0 : 10)) {
			left++;
			continue;
		}
		seg(&m, UI_ROLE_NORMAL, "   ");
		for (int k = 0; k < o.n; k++)
			seg(&m, o.role[k], o.text[k]);
	}
	if (left)
		segf_fit(&m, in.w, UI_ROLE_DIM, "   +%d pool%s", left, left == 1 ? "" : "s");
	paint_line(v, in.y + 1, in.x, in.w, &m);
}

static void paint_limits(ui_view *v, ui_rect r)
{
	struct line t = {0};
	seg(&t, UI_ROLE_TITLE, "Rate limits");
	if (v->snap->npools > 0)
		segf(&t, UI_ROLE_DIM, "%s%s pool", G(v)->dot, v->snap->pool[focus_pool(v)].name);
	ui_rect in = frame(v, r, &t);
	if (v->lay->mode == UI_LAYOUT_FULL)
		limits_full(v, in);
	else
		limits_compact(v, in);
}

/* ---- models ----------------------------------------------------------------------- */

static void model_name(const char *model, char *buf, size_t n)
{
	/* The date suffix goes; the family prefix stays when there is room. */
	char s[64];
	ui_model_short(model, s, sizeof s);
	if (!strncmp(model, "claude-", 7))
		snprintf(buf, n, "claude-%s", s);
	else
		snprintf(buf, n, "%s", s);
}

static void model_row(const ui_view *v, int y, ui_rect in, const am_snap_model *m, bool total,
                      bool short_names, int name_w, bool no_cache_w)
{
	struct line l = {0};
	char name[80], cell[64], num[32];
	ui_role r = total ? UI_ROLE_TITLE : UI_ROLE_NORMAL;
	bool compact = v->lay->mode != UI_LAYOUT_FULL;
	if (total)
		snprintf(name, sizeof name, "total");
	else if (short_names)
		ui_model_short(m->model, name, sizeof name);
	else
		model_name(m->model, name, sizeof name);
	fmt_pad(cell, sizeof cell, name, name_w, false);
	seg(&l, r, cell);
	const int64_t cols[5] = {m->requests, m->input, m->output, m->cache_write, m->cache_read};
	static const int widths[5] = {6, 10, 10, 9, 10}, cwidths[5] = {5, 7, 7, 0, 8};
	for (int i = 0; i < 5; i++) {
		int w = compact ? cwidths[i] : widths[i];
		if (!w || (i == 3 && no_cache_w))
			continue;
		if (compact && i > 0)
			fmt_tokens(num, sizeof num, cols[i]);
		else
			fmt_count(num, sizeof num, cols[i]);
		fmt_pad(cell, sizeof cell, num, w, true);
		seg(&l, r, cell);
	}
	int cost_w = compact ? 10 : 11;
	if (m->price_known || (total && m->cost_pusd > 0)) {
		/* One precision down the column, finer only for tiny sums. */
		if (m->cost_pusd >= AM_PUSD_PER_USD / 1000 || m->cost_pusd == 0)
			am_money_format_display(m->cost_pusd, 3, num, sizeof num);
		else
			fmt_money(num, sizeof num, m->cost_pusd);
		if (!m->price_known)
			snprintf(num + strlen(num), sizeof num - strlen(num), "+?");
		fmt_pad(cell, sizeof cell, num, cost_w, true);
		seg(&l, r, cell);
	} else {
		fmt_pad(cell, sizeof cell, "price ?", cost_w, true);
		seg(&l, UI_ROLE_WARN, cell);
	}
	paint_line(v, y, in.x, in.w, &l);
}

static void paint_models(ui_view *v, ui_rect r)
{
	struct line t = {0};
	bool compact = v->lay->mode != UI_LAYOUT_FULL;
	seg(&t, UI_ROLE_TITLE, "Models");
	segf(&t, UI_ROLE_DIM, "%stoday", G(v)->dot);
	ui_rect in = frame(v, r, &t);
	const am_snapshot *s = v->snap;
	int fixed = compact ? 5 + 7 + 7 + 8 + 10 : 6 + 10 + 10 + 9 + 10 + 11;
	/* A narrow full table gives up the cache-write column before the names. */
	bool no_cache_w = !compact && in.w - fixed < 16;
	if (no_cache_w)
		fixed -= 9;
	int name_w = in.w - fixed;
	if (name_w > 30)
		name_w = 30;
	if (name_w < 8)
		name_w = 8;
	struct line h = {0};
	char cell[64];
	fmt_pad(cell, sizeof cell, "model", name_w, false);
	seg(&h, UI_ROLE_DIM, cell);
	if (compact)
		seg(&h, UI_ROLE_DIM, "  req     in    out cache r      cost");
	else if (no_cache_w)
		seg(&h, UI_ROLE_DIM, "   req     input    output   cache r       cost");
	else
		seg(&h, UI_ROLE_DIM, "   req     input    output  cache w   cache r       cost");
	paint_line(v, in.y, in.x, in.w, &h);
	int rows = in.h - 2;
	int shown = s->nmodels < rows ? s->nmodels : rows;
	if (shown < 0)
		shown = 0;
	/* The family prefix ("claude-") only when every name fits with it. */
	bool short_names = compact;
	for (int i = 0; i < shown && !short_names; i++) {
		char name[80];
		model_name(s->model[i].model, name, sizeof name);
		short_names = fmt_width(name, strlen(name)) > name_w;
	}
	for (int i = 0; i < shown; i++)
		model_row(v, in.y + 1 + i, in, &s->model[i], false, short_names, name_w, no_cache_w);
	if (s->nmodels == 0 && in.h > 2)
		put(v, in.y + 1, in.x, in.w, UI_ROLE_DIM, "no calls today yet");
	if (in.h >= 2) {
		am_snap_model tot = s->total;
		tot.price_known = !s->budget.unknown_prices;
		for (int i = 0; i < s->nmodels; i++)
			tot.price_known = tot.price_known && s->model[i].price_known;
		model_row(v, in.y + in.h - 1, in, &tot, true, short_names, name_w, no_cache_w);
		if (s->nmodels > shown) {
			char more[32];
			snprintf(more, sizeof more, " (+%d more)", s->nmodels - shown);
			put(v, in.y + in.h - 1, in.x + 5, name_w - 5, UI_ROLE_DIM, more);
		}
	}
}

/* ---- cache ------------------------------------------------------------------------ */

static void paint_cache(ui_view *v, ui_rect r)
{
	const am_snap_cache *c = &v->snap->cache;
	const struct glyphs *g = G(v);
	char rate[16], hits[32], misses[32], saved[40], tok[16], ent[32], bytes[24], ttl[24];
	int64_t lookups = c->hits + c->misses;
	fmt_pct(rate, sizeof rate, c->hits, lookups, 1);
	fmt_count(hits, sizeof hits, c->hits);
	fmt_count(misses, sizeof misses, c->misses);
	fmt_money(saved, sizeof saved, c->saved_pusd);
	fmt_tokens(tok, sizeof tok, c->saved_tokens);
	fmt_count(ent, sizeof ent, c->entries);
	fmt_bytes(bytes, sizeof bytes, c->bytes);
	if (c->ttl_s > 0 && c->ttl_s % 3600 == 0)
		snprintf(ttl, sizeof ttl, "%lldh", (long long)(c->ttl_s / 3600));
	else
		fmt_duration_ns(ttl, sizeof ttl, c->ttl_s * 1000000000LL);

	if (v->lay->mode != UI_LAYOUT_FULL) {
		/* A rule line between the tables and the console. */
		struct line l = {0};
		segf(&l, UI_ROLE_BORDER, "%s%s ", g->hl, g->hl);
		if (c->enabled) {
			segf(&l, UI_ROLE_NORMAL, "cache %s hit", rate);
			segf(&l, UI_ROLE_DIM, "%s%s/%lld%ssaved %s, %s tok%s%s entr%s, %s ", g->dot, hits,
			     (long long)lookups, g->dot, saved, tok, g->dot, ent,
			     c->entries == 1 ? "y" : "ies", bytes);
		} else {
			seg(&l, UI_ROLE_DIM, "cache off ");
		}
		int w = line_width(&l);
		char rule[3 * 400 + 1] = "";
		for (int x = w; x < r.w && x < 400; x++)
			strcat(rule, g->hl);
		seg(&l, UI_ROLE_BORDER, rule);
		paint_line(v, r.y, r.x, r.w, &l);
		return;
	}
	struct line t = {0};
	seg(&t, UI_ROLE_TITLE, "Cache");
	if (!c->enabled)
		segf(&t, UI_ROLE_WARN, "%soff", g->dot);
	ui_rect in = frame(v, r, &t);
	struct line l[4];
	memset(l, 0, sizeof l);
	segf(&l[0], UI_ROLE_NORMAL, "hit rate %6s ", rate);
	bar_segs(v, &l[0], in.w - line_width(&l[0]), c->hits, lookups, UI_ROLE_CALM);
	segf(&l[1], UI_ROLE_NORMAL, "hits %s%smisses %s", hits, g->dot, misses);
	segf(&l[2], UI_ROLE_CALM, "saved %s", saved);
	segf(&l[2], UI_ROLE_NORMAL, "%s%s tokens", g->dot, tok);
	segf(&l[3], UI_ROLE_DIM, "%s entr%s%s%s", ent, c->entries == 1 ? "y" : "ies", g->dot, bytes);
	if (c->ttl_s > 0)
		segf(&l[3], UI_ROLE_DIM, "%sttl %s", g->dot, ttl);
	if (!c->enabled) {
		memset(&l[0], 0, sizeof l[0]);
		seg(&l[0], UI_ROLE_WARN, "off: /cache on or Alt-c");
	}
	for (int i = 0; i < 4 && i < in.h; i++)
		paint_line(v, in.y + i, in.x, in.w, &l[i]);
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
	const struct glyphs *g = G(v);
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
	struct line t = {0};
	const struct glyphs *g = G(v);
	int turns = ui_console_turns(v->con);
	seg(&t, UI_ROLE_TITLE, "Console");
	if (turns)
		segf(&t, UI_ROLE_DIM, "%sconversation of %d turn%s (/new to start over)", g->dot, turns,
		     turns == 1 ? "" : "s");
	if (v->scroll > 0)
		segf(&t, UI_ROLE_WARN, "%s%s %d lines back (PgDn)", g->dot, g->up, v->scroll);
	ui_rect in = frame(v, r, v->lay->boxed ? &t : NULL);
	if (!v->lay->boxed && v->scroll > 0 && in.h > 0) {
		/* Unboxed: the scroll state takes the top line. */
		struct line l = {0};
		segf(&l, UI_ROLE_WARN, "%s %d lines back (PgDn)", g->up, v->scroll);
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

static void paint_input(ui_view *v, ui_rect r)
{
	const struct glyphs *g = G(v);
	char mark[16], buf[UI_ED_MAX * 4 + 1];
	int col;
	snprintf(mark, sizeof mark, " %s ", g->mark);
	put(v, r.y, r.x, r.w, UI_ROLE_ACCENT, mark);
	int x = r.x + 3, w = r.w - 4;
	if (w <= 0)
		return;
	if (ui_editor_len(v->ed) == 0) {
		put(v, r.y, x, w, UI_ROLE_DIM, "type a prompt and press Enter, or /help");
		return;
	}
	ui_editor_view(v->ed, w, buf, sizeof buf, &col);
	put(v, r.y, x, w, UI_ROLE_NORMAL, buf);
}

static void hint_line(char *hints, bool tight, struct line *l)
{
	const char *p = hints;
	seg(l, UI_ROLE_NORMAL, " ");
	while (*p) {
		const char *sp = strchr(p, ' ');
		const char *end = strstr(p, "  ");
		if (!sp)
			break;
		if (!end)
			end = p + strlen(p);
		char key[32], label[64];
		snprintf(key, sizeof key, "%.*s", (int)(sp - p), p);
		snprintf(label, sizeof label, "%.*s", (int)(end - sp - 1), sp + 1);
		char *pm = strstr(label, " -/+");
		if (tight && pm)
			*pm = '\0';
		char *fk = strstr(key, "/F"); /* "F2/F3" -> "F2/3" */
		if (tight && fk)
			memmove(fk + 1, fk + 2, strlen(fk + 2) + 1);
		seg(l, UI_ROLE_KEY, key);
		segf(l, UI_ROLE_NORMAL, tight ? " %s " : " %s  ", label);
		p = *end ? end + 2 : end;
	}
}

static void paint_hints(ui_view *v, ui_rect r)
{
	char hints[512];
	struct line l = {0};
	ui_hints_text(hints, sizeof hints);
	/* "F1 help  F10 quit  F2/F3 RPM -/+ ...": keys in the key role; when
	 * the line is narrow, fewer words rather than a cut. */
	hint_line(hints, false, &l);
	if (line_width(&l) > r.w) {
		memset(&l, 0, sizeof l);
		hint_line(hints, true, &l);
	}
	if (line_width(&l) + 18 <= r.w)
		seg(&l, UI_ROLE_DIM, "/help for commands");
	paint_line(v, r.y, r.x, r.w, &l);
}

static void paint_toosmall(ui_view *v, ui_rect r)
{
	char msg[96];
	snprintf(msg, sizeof msg, r.w >= 34 ? "terminal too small: need %dx%d" : "too small (%dx%d)",
	         UI_MIN_COLS, UI_MIN_ROWS);
	put(v, r.y, r.x, r.w, UI_ROLE_WARN, msg);
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

void ui_paint_help(ui_view *v)
{
	ui_rect r = {1, 0, v->rows - 1, v->cols};
	if (v->lay->mode == UI_LAYOUT_TOO_SMALL || r.h < 3)
		return;
	if (ui_layout_has(v->lay, UI_P_HINTS))
		r.h--;
	clear_rect(v, r);
	struct line t = {0};
	seg(&t, UI_ROLE_TITLE, "Help");
	segf(&t, UI_ROLE_DIM, "%sany key closes%sUp/Down/PgUp/PgDn scroll", G(v)->dot, G(v)->dot);
	ui_layout boxed = *v->lay;
	boxed.boxed = true;
	const ui_layout *saved = v->lay;
	v->lay = &boxed;
	ui_rect in = frame(v, r, &t);
	v->lay = saved;
	struct help_paint hp = {v, in, 0};
	ui_help_lines(help_line, &hp);
	v->help_lines = hp.line;
}

void ui_paint_cursor(const ui_view *v)
{
	if (v->help || !ui_layout_has(v->lay, UI_P_INPUT)) {
		curs_set(0);
		return;
	}
	ui_rect r = v->lay->r[UI_P_INPUT];
	char buf[UI_ED_MAX * 4 + 1];
	int col;
	ui_editor_view(v->ed, r.w - 4, buf, sizeof buf, &col);
	curs_set(1);
	move(r.y, r.x + 3 + col);
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
