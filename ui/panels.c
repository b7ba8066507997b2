/* panels: the panels' text as rich lines; see panels.h. */
#include "panels.h"

#include <stdio.h>
#include <string.h>

#include "cmdtab.h"
#include "console.h"
#include "fmt.h"
#include "layout.h"
#include "money.h"

/* Short names for the builders below. */
#define seg ui_rline_add
#define segf ui_rline_addf
#define segf_fit ui_rline_addf_fit
#define line_width ui_rline_width

typedef ui_rline line;

static const ui_glyphs utf8_glyphs = {" \u00b7 ", "\u25b8", "\u25cf", "\u258d",
                                      "\u2500", "\u2502", "\u250c", "\u2510",
                                      "\u2514", "\u2518", "\u2192", "\u25c0",
                                      "\u2191", "\u21bb", "\u21b5"};
static const ui_glyphs ascii_glyphs = {" - ", ">", "*", "_", "-", "|", "+", "+",
                                       "+", "+", "->", "<", "^", "reset ", "|"};

const ui_glyphs *ui_glyphs_get(bool ascii)
{
	return ascii ? &ascii_glyphs : &utf8_glyphs;
}

static const ui_glyphs *G(const ui_panel_ctx *c)
{
	return ui_glyphs_get(c->ascii);
}

/* A title: its name, then a dimmed remark after a dot. */
static void title(const ui_panel_ctx *c, ui_block *out, const char *name, const char *remark)
{
	seg(&out->title, UI_ROLE_TITLE, name);
	segf(&out->title, UI_ROLE_DIM, "%s%s", G(c)->dot, remark);
}

/* A bar as two segments: the filled part in `role`, the rest dimmed. */
static void bar_segs(const ui_panel_ctx *c, line *l, int width, int64_t value, int64_t max,
                     ui_role role)
{
	char b[FMT_CELLS_BYTES(256)];
	if (width > 256)
		width = 256;
	if (width <= 0)
		return;
	fmt_bar(b, sizeof b, width, value, max, c->ascii);
	/* Split at the first empty cell so the track can be dimmed. */
	const char *empty = c->ascii ? "." : "\u2591";
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

void ui_panel_header(const ui_panel_ctx *c, int w, ui_block *out)
{
	const am_snapshot *s = c->snap;
	const ui_glyphs *g = G(c);
	bool compact = c->compact;
	char t[64], hit[32];
	ui_block_clear(out);
	line *L = ui_block_row(out, 0, 0, w);
	segf(L, UI_ROLE_TITLE, " aimeter%s%s", compact ? "" : " ", compact ? "" : c->version);
	seg(L, UI_ROLE_NORMAL, "  ");
	if (s->simulator)
		seg(L, UI_ROLE_BADGE_SIM, " SIMULATOR ");
	else
		segf(L, UI_ROLE_BADGE_LIVE, "%s live", g->live);
	int endpoint_at = L->n; /* the endpoint goes in here when there is room */
	if (s->paused)
		seg(L, UI_ROLE_WARN, "  PAUSED");
	int64_t lookups = s->cache.hits + s->cache.misses;
	fmt_pct(hit, sizeof hit, s->cache.hits, lookups, 0);
	const char *mode = s->model_mode[0] ? s->model_mode : "auto";
	ui_role qrole = s->queue_depth ? UI_ROLE_WARN : UI_ROLE_NORMAL;
	if (compact) {
		segf(L, UI_ROLE_NORMAL, "  %s", mode);
		segf(L, qrole, "  q%d", s->queue_depth);
		segf(L, UI_ROLE_NORMAL, " f%d", s->in_flight);
		segf(L, UI_ROLE_NORMAL, "  cache %s",
		     s->cache.enabled ? (lookups ? hit : "on") : "off");
		fmt_clock_hms(t, sizeof t, c->now_wall);
	} else {
		segf(L, UI_ROLE_NORMAL, "   model: %s", mode);
		segf(L, qrole, "   queue %d", s->queue_depth);
		segf(L, UI_ROLE_NORMAL, "  in flight %d", s->in_flight);
		segf(L, UI_ROLE_NORMAL, "   cache %s", s->cache.enabled ? "on" : "off");
		fmt_clock_day_hms(t, sizeof t, c->now_wall);
	}
	line *R = ui_block_row(out, 0, 0, 0);
	segf(R, UI_ROLE_DIM, "%s  ", t);
	seg(R, UI_ROLE_KEY, "F1");
	seg(R, UI_ROLE_NORMAL, " help ");
	char ep[80];
	snprintf(ep, sizeof ep, "  %s", s->endpoint);
	if (!compact && s->endpoint[0] &&
	    line_width(L) + fmt_width(ep, strlen(ep)) + line_width(R) + 1 <= w)
		ui_rline_insert(L, endpoint_at, UI_ROLE_DIM, ep);
	/* The right part flush with the right edge (when it leaves the left
	 * part some room), the left part cut to what remains. */
	int rw = line_width(R);
	if (rw > w / 2)
		rw = 0;
	out->row[0].w = w - rw - (rw ? 1 : 0);
	out->row[1].x = w - rw;
	out->row[1].w = rw;
	if (!rw)
		out->n--;
}

/* ---- budget --------------------------------------------------------------------- */

static ui_role budget_role(am_budget_state s)
{
	return s == AM_BUDGET_OVER    ? UI_ROLE_ALARM
	       : s == AM_BUDGET_ALERT ? UI_ROLE_WARN
	                              : UI_ROLE_CALM;
}

static const char *budget_word(am_budget_state s)
{
	return s == AM_BUDGET_OVER ? "OVER BUDGET" : s == AM_BUDGET_ALERT ? "ALERT" : "ok";
}

/* The budget's figures as both layouts write them. */
struct budget_figs {
	ui_role role;
	const char *word;
	char spent[40], lim[40], pct[16], burn[40], eod[40], mspent[40], mlim[40], mpct[16];
};

static void budget_figs(const am_snap_budget *b, struct budget_figs *f)
{
	f->role = budget_role(b->state);
	f->word = budget_word(b->state);
	fmt_money(f->spent, sizeof f->spent, b->day_spent_pusd);
	fmt_money_cents(f->burn, sizeof f->burn, b->burn_pusd_per_hour);
	fmt_money_cents(f->eod, sizeof f->eod, b->projected_eod_pusd);
	fmt_money_limit(f->lim, sizeof f->lim, b->day_limit_pusd);
	fmt_pct(f->pct, sizeof f->pct, b->day_spent_pusd, b->day_limit_pusd, 0);
	fmt_money(f->mspent, sizeof f->mspent, b->month_spent_pusd);
	fmt_money_limit(f->mlim, sizeof f->mlim, b->month_limit_pusd);
	fmt_pct(f->mpct, sizeof f->mpct, b->month_spent_pusd, b->month_limit_pusd, 0);
}

/* The spend sparkline of the whole last hour as segments, in at most
 * `width` cells with its label ("spend/min " or, when 60 cells do not fit,
 * "spend/2min " and so on) and, with `peak`, the largest cell after it. */
static void spend_spark(const ui_panel_ctx *c, const am_snap_budget *b, int width, bool peak,
                        line *l)
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
	fmt_spark(sp, sizeof sp, cell, nc, nc, c->ascii);
	seg(l, UI_ROLE_DIM, label);
	seg(l, UI_ROLE_ACCENT, sp);
	if (peak)
		seg(l, UI_ROLE_DIM, right);
}

/* The month: spent, and against its limit a bar (full) or the limit
 * (compact). */
static void month_segs(const ui_panel_ctx *c, const am_snap_budget *b, const struct budget_figs *f,
                       int width, line *l)
{
	if (b->month_limit_pusd <= 0) {
		segf(l, UI_ROLE_NORMAL, "month %s", f->mspent);
		if (!c->compact)
			segf(l, UI_ROLE_DIM, "%sno monthly limit", G(c)->dot);
		return;
	}
	if (c->compact) {
		segf(l, UI_ROLE_NORMAL, "month %s/%s", f->mspent, f->mlim);
		return;
	}
	char left[96];
	snprintf(left, sizeof left, "month %s of %s  ", f->mspent, f->mlim);
	seg(l, UI_ROLE_NORMAL, left);
	bool over = b->month_spent_pusd >= b->month_limit_pusd;
	int bw = width - fmt_width(left, strlen(left)) - 6;
	bar_segs(c, l, bw > 20 ? 20 : bw, b->month_spent_pusd, b->month_limit_pusd,
	         over ? UI_ROLE_ALARM : UI_ROLE_CALM);
	segf(l, over ? UI_ROLE_ALARM : UI_ROLE_NORMAL, " %s", f->mpct);
}

/* Whether and when the daily limit is reached, then the prompts it holds
 * back. The compact words follow the month after a dot. */
static void limit_segs(const ui_panel_ctx *c, const am_snap_budget *b, line *l)
{
	const ui_glyphs *g = G(c);
	bool compact = c->compact;
	const char *dot = compact ? g->dot : "";
	char hm[16];
	if (b->state == AM_BUDGET_OVER && (compact || b->day_limit_pusd > 0)) {
		segf(l, UI_ROLE_ALARM, "%slimit reached%s", dot,
		     compact ? "" : ": new prompts wait for /budget or tomorrow");
	} else if (b->day_limit_pusd > 0 && b->limit_hit_wall_ns > 0) {
		fmt_clock_hm(hm, sizeof hm, b->limit_hit_wall_ns);
		segf(l, UI_ROLE_WARN, compact ? "%slimit at ~ %s" : "%slimit reached at ~ %s", dot,
		     hm);
		if (!compact)
			seg(l, UI_ROLE_DIM, " unless the pace drops");
	} else if (b->day_limit_pusd > 0 && !compact) {
		seg(l, UI_ROLE_CALM, "limit not reached today at this pace");
	}
	if (b->blocked_jobs > 0 && compact)
		segf(l, UI_ROLE_ALARM, "%s%d blocked", g->dot, b->blocked_jobs);
	else if (b->blocked_jobs > 0)
		segf(l, UI_ROLE_ALARM, "%s%d prompt%s blocked", l->n ? g->dot : "", b->blocked_jobs,
		     b->blocked_jobs == 1 ? "" : "s");
}

/* Today's spend per tag, most first, each with its own limit when it has
 * one ("tags  evals $4.20/$5.00 · ci $0.80 · web $0.10"), after `lead`, as
 * many tags as fit in `w` cells (none: nothing at all): warn at 80% of a
 * tag's limit, alarm when it is reached (that tag's prompts wait). */
static void tags_segs(const ui_panel_ctx *c, const char *lead, int w, line *l)
{
	const am_snapshot *s = c->snap;
	const ui_glyphs *g = G(c);
	for (int i = 0; i < s->ntags && i < AM_SNAP_MAX_TAGS; i++) {
		const am_tagbudget_view *t = &s->tag[i];
		char spent[40], lim[40], text[160];
		fmt_money(spent, sizeof spent, t->spent_pusd);
		ui_role role = UI_ROLE_NORMAL;
		lim[0] = '\0';
		if (t->limit_pusd > 0) {
			char l2[32];
			fmt_money_limit(l2, sizeof l2, t->limit_pusd);
			snprintf(lim, sizeof lim, "/%s", l2);
			int64_t used = t->spent_pusd + t->held_pusd;
			role = used >= t->limit_pusd ? UI_ROLE_ALARM
			     : used >= t->limit_pusd / 5 * 4 ? UI_ROLE_WARN : UI_ROLE_CALM;
		}
		/* A tag is printable ASCII (tagbudget keeps no other). */
		snprintf(text, sizeof text, "%s%s %s%s", i ? g->dot : "", t->tag, spent, lim);
		if (i == 0) {
			int need = fmt_width(lead, strlen(lead)) + 5 + fmt_width(text, strlen(text));
			if (line_width(l) + need > w)
				return;
			segf(l, UI_ROLE_DIM, "%stags ", lead);
		}
		segf_fit(l, w, role, "%s", text);
	}
}

/* Hosts sharing through Redis: the organisation's spend today and this
 * host's part, or that Redis cannot be reached and what this host does. */
static void org_segs(const ui_panel_ctx *c, line *l, int w)
{
	const am_snap_org *o = &c->snap->org;
	const char *dot = l->n ? G(c)->dot : "";
	if (!o->up) {
		segf_fit(l, w, UI_ROLE_ALARM, "%sRedis unreachable: %s", dot,
		         o->local ? "local limits and budget" : "calls held");
		return;
	}
	char org[32], host[32], pct[16];
	fmt_money(org, sizeof org, o->day_pusd);
	fmt_money(host, sizeof host, o->host_day_pusd);
	fmt_pct(pct, sizeof pct, o->host_day_pusd, o->day_pusd, 0);
	segf_fit(l, w, UI_ROLE_NORMAL, "%sorg %s today, this host %s (%s)", dot, org, host, pct);
}

static void budget_full(const ui_panel_ctx *c, const struct budget_figs *f, int w, int h,
                        ui_block *out)
{
	const am_snap_budget *b = &c->snap->budget;
	const ui_glyphs *g = G(c);
	line *l[6];
	for (int i = 0; i < 6; i++)
		l[i] = ui_block_row(out, i, 0, w);

	if (b->day_limit_pusd > 0) {
		char left[96];
		snprintf(left, sizeof left, "%s of %s  ", f->spent, f->lim);
		seg(l[0], UI_ROLE_TITLE, left);
		bar_segs(c, l[0], w - fmt_width(left, strlen(left)) - 6, b->day_spent_pusd,
		         b->day_limit_pusd, f->role);
		segf(l[0], f->role, " %4s", f->pct);

		seg(l[1], f->role, f->word);
		if (b->nalerts > 0)
			segf(l[1], UI_ROLE_DIM, "%salert at %d%%", g->dot, b->alert_pct[0]);
		for (int i = 1; i < b->nalerts && i < AM_SNAP_MAX_ALERTS; i++)
			segf(l[1], UI_ROLE_DIM, ", %d%%", b->alert_pct[i]);
		segf(l[1], UI_ROLE_DIM, "%sstop at 100%%", g->dot);
	} else {
		segf(l[0], UI_ROLE_TITLE, "%s today", f->spent);
		segf(l[0], UI_ROLE_DIM, "%sno daily limit (/budget USD)", g->dot);
		seg(l[1], UI_ROLE_DIM, "no alerts without a daily limit");
	}
	if (b->unknown_prices)
		segf_fit(l[1], w, UI_ROLE_WARN, "%sunknown prices", g->dot);
	if (b->reserved_pusd > 0) {
		char res[40];
		fmt_money(res, sizeof res, b->reserved_pusd);
		segf_fit(l[1], w, UI_ROLE_DIM, "%s%s held", g->dot, res);
	}

	char pace[96];
	snprintf(pace, sizeof pace, "%sat this pace %s by 24:00", g->dot, f->eod);
	segf(l[2], UI_ROLE_NORMAL, "burn %s/h", f->burn);
	segf_fit(l[2], w - fmt_width(pace, strlen(pace)), UI_ROLE_DIM, " (15 min)");
	seg(l[2], UI_ROLE_NORMAL, pace);

	if (c->snap->org.on)
		org_segs(c, l[3], w); /* the local pace says little about the organisation's */
	else
		limit_segs(c, b, l[3]);
	month_segs(c, b, f, w, l[4]);
	spend_spark(c, b, w, true, l[5]);
	if (c->snap->ntags > 0 && h > 6)
		tags_segs(c, "", w, ui_block_row(out, 6, 0, w));
	if (out->n > h)
		out->n = h > 0 ? h : 0;
}

static void budget_compact(const ui_panel_ctx *c, const struct budget_figs *f, int w, int h,
                           ui_block *out)
{
	const am_snap_budget *b = &c->snap->budget;
	const ui_glyphs *g = G(c);
	line *l = ui_block_row(out, 0, 0, w);
	if (b->day_limit_pusd > 0) {
		char tail[160];
		snprintf(tail, sizeof tail, " %s %s  %s/h %s %s by 24:00", f->pct, f->word, f->burn,
		         g->arrow, f->eod);
		segf(l, UI_ROLE_TITLE, "budget %s/%s ", f->spent, f->lim);
		int bw = w - line_width(l) - fmt_width(tail, strlen(tail));
		if (bw > 24)
			bw = 24;
		if (bw < 4)
			bw = 4;
		bar_segs(c, l, bw, b->day_spent_pusd, b->day_limit_pusd, f->role);
		segf(l, f->role, " %s %s", f->pct, f->word);
	} else {
		segf(l, UI_ROLE_TITLE, "spent %s today", f->spent);
		segf(l, UI_ROLE_DIM, " (no daily limit)");
	}
	segf(l, UI_ROLE_NORMAL, "  %s/h %s %s by 24:00", f->burn, g->arrow, f->eod);
	if (h < 2)
		return;
	line *m = ui_block_row(out, 1, 0, w);
	month_segs(c, b, f, w, m);
	limit_segs(c, b, m);
	if (c->snap->org.on)
		org_segs(c, m, w);
	/* The tags that fit in half of what is left; the sparkline takes the rest. */
	tags_segs(c, g->dot, line_width(m) + (w - line_width(m)) / 2, m);
	seg(m, UI_ROLE_DIM, "  ");
	spend_spark(c, b, w - line_width(m), false, m);
}

void ui_panel_budget(const ui_panel_ctx *c, int w, int h, ui_block *out)
{
	struct budget_figs f;
	ui_block_clear(out);
	title(c, out, "Budget", "today");
	budget_figs(&c->snap->budget, &f);
	if (c->compact)
		budget_compact(c, &f, w, h, out);
	else
		budget_full(c, &f, w, h, out);
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

/* What of a dimension is in use, on the scale of its limit: a bar means
 * what htop's meters mean, the filled part is taken (by calls in the last
 * minute, or held back at start, when the buckets begin part-full). A
 * bucket in debt (a call larger than what was left) counts past the
 * limit. */
static int64_t dim_used(const am_snap_dim *d)
{
	int64_t cap = d->capacity > 0 ? d->capacity : d->limit;
	int64_t level = d->level > cap ? cap : d->level;
	if (cap <= 0)
		return 0;
	if (cap == d->limit)
		return cap - level;
	int64_t debt = level < 0 ? -level : 0;
	return fmt_scale(cap - (level > 0 ? level : 0), cap, d->limit) +
	       fmt_scale(debt, cap, d->limit);
}

static void level_text(const am_snap_dim *d, char *buf, size_t n, bool spaced)
{
	char a[16], b[16];
	fmt_tokens(a, sizeof a, dim_used(d));
	fmt_tokens(b, sizeof b, d->limit);
	snprintf(buf, n, spaced ? "%s / %s" : "%s/%s", a, b);
}

/* RPM/s is the short-window guard of RPM: always near full on an idle
 * pool, it says something only when it is what holds the queue back. */
static bool dim_hidden(const ui_panel_ctx *c, const am_snap_dim *d)
{
	return !strcmp(d->name, "RPM/s") && !d->blocks_head && d->cooldown_until_ns <= c->now_mono;
}

/* A dimension's name after `pre`, then its level in its role. */
static void level_segs(const ui_panel_ctx *c, const char *pre, const am_snap_dim *d, line *l)
{
	char t[40];
	level_text(d, t, sizeof t, false);
	segf(l, UI_ROLE_DIM, "%s%s ", pre, d->name);
	seg(l, dim_role(d, c->now_mono), t);
}

static const am_snap_dim *head_blocker(const am_snap_pool *p)
{
	for (int k = 0; k < p->ndims && k < AM_SNAP_MAX_DIMS; k++)
		if (p->dim[k].blocks_head)
			return &p->dim[k];
	return NULL;
}

static void dim_status(const ui_panel_ctx *c, const am_snap_pool *p, const am_snap_dim *d, line *l)
{
	const ui_glyphs *g = G(c);
	char t[32];
	if (d->cooldown_until_ns > c->now_mono) {
		fmt_countdown_ns(t, sizeof t, d->cooldown_until_ns - c->now_mono);
		segf(l, UI_ROLE_ALARM, "cool-down %s", t);
	} else if (d->blocks_head) {
		segf(l, UI_ROLE_WARN, "%s blocks head", g->blocks);
		if (p->queue_depth > 0 && p->head_ready_in_ns > 0 &&
		    p->head_ready_in_ns < INT64_MAX) {
			fmt_duration_ns(t, sizeof t, p->head_ready_in_ns);
			segf(l, UI_ROLE_DIM, " %s", t);
		}
	} else if (d->has_server) {
		fmt_tokens(t, sizeof t, d->server_remaining);
		segf(l, UI_ROLE_DIM, "srv %s left", t);
		if (d->server_reset_ns > c->now_wall) {
			fmt_countdown_ns(t, sizeof t, d->server_reset_ns - c->now_wall);
			segf(l, UI_ROLE_DIM, " %s%s", g->reset, t);
		}
	} else {
		seg(l, UI_ROLE_CALM, "ok");
	}
}

/* Queue, calls in flight, the head's wait and the 429s of a pool. The full
 * layout names the blocking dimension and the time to go on its bar's
 * line, so the summary stays short enough for its panel. */
static void pool_summary(const ui_panel_ctx *c, const am_snap_pool *p, line *l, int width)
{
	const ui_glyphs *g = G(c);
	bool compact = c->compact;
	char t[32];
	/* The pool's own count: prompts waiting for its limits ("waiting"), not
	 * the header's queue (every prompt not sent yet, paused ones too). */
	segf(l, p->queue_depth ? UI_ROLE_WARN : UI_ROLE_NORMAL, compact ? "w%d" : "waiting %d",
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
			snprintf(wait + strlen(wait), sizeof wait - strlen(wait), " for %s",
			         blk->name);
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
		segf_fit(l, width, UI_ROLE_WARN, "%sshare %d%%", g->dot,
		         p->dim[0].share_ppm / 10000);
}

/* The pool shown in detail: one in a cool-down, else one whose queue head
 * is blocked, else the first. What matters most is what gets the room. */
static int focus_pool(const ui_panel_ctx *c)
{
	const am_snapshot *s = c->snap;
	int blocked = -1;
	for (int i = 0; i < s->npools && i < AM_SNAP_MAX_POOLS; i++) {
		const am_snap_pool *p = &s->pool[i];
		for (int k = 0; k < p->ndims && k < AM_SNAP_MAX_DIMS; k++) {
			if (p->dim[k].cooldown_until_ns > c->now_mono)
				return i;
			if (p->dim[k].blocks_head && p->queue_depth > 0 && blocked < 0)
				blocked = i;
		}
	}
	return blocked >= 0 ? blocked : 0;
}

/* The pool's first 429 cool-down after `pre`, as an alarm segment; false
 * if none. */
static bool pool_cooldown(const ui_panel_ctx *c, const am_snap_pool *p, const char *pre, line *l)
{
	char t[40];
	for (int k = 0; k < p->ndims && k < AM_SNAP_MAX_DIMS; k++)
		if (p->dim[k].cooldown_until_ns > c->now_mono) {
			fmt_countdown_ns(t, sizeof t, p->dim[k].cooldown_until_ns - c->now_mono);
			segf(l, UI_ROLE_ALARM, "%scool-down %s", pre, t);
			return true;
		}
	return false;
}

/* A pool line's 429 count (when there were any) and its prompts waiting
 * for its limits and calls in flight after `pre` (when there are any). */
static void pool_n429(const am_snap_pool *p, line *l)
{
	if (p->n429)
		segf(l, UI_ROLE_ALARM, " 429s %lld", (long long)p->n429);
}

static void pool_queue(const am_snap_pool *p, const char *pre, line *l)
{
	if (p->queue_depth || p->in_flight)
		segf(l, p->queue_depth ? UI_ROLE_WARN : UI_ROLE_DIM, "%sw%d f%d", pre,
		     p->queue_depth, p->in_flight);
}

static void pool_oneline(const ui_panel_ctx *c, const am_snap_pool *p, line *l)
{
	segf(l, UI_ROLE_TITLE, "%s", p->name);
	/* Alarms first, so a narrow line still says them. */
	pool_cooldown(c, p, " ", l);
	pool_n429(p, l);
	for (int k = 0; k < p->ndims && k < AM_SNAP_MAX_DIMS; k++)
		if (!dim_hidden(c, &p->dim[k]))
			level_segs(c, "  ", &p->dim[k], l);
	pool_queue(p, "  ", l);
}

/* A pool in a few words for the compact layout: its alarm, else the
 * dimension with the least headroom. */
static void pool_brief(const ui_panel_ctx *c, const am_snap_pool *p, line *l)
{
	segf(l, UI_ROLE_TITLE, "%s", p->name);
	if (pool_cooldown(c, p, " ", l))
		return;
	const am_snap_dim *tight = NULL;
	int64_t tight_ppm = INT64_MAX;
	for (int k = 0; k < p->ndims && k < AM_SNAP_MAX_DIMS; k++) {
		const am_snap_dim *d = &p->dim[k];
		int64_t cap = d->capacity > 0 ? d->capacity : d->limit;
		int64_t ppm = fmt_scale(d->level, cap, 1000000);
		if (!dim_hidden(c, d) && ppm < tight_ppm) {
			tight_ppm = ppm;
			tight = d;
		}
	}
	if (tight)
		level_segs(c, " ", tight, l);
	pool_n429(p, l);
	pool_queue(p, " ", l);
}

static void limits_full(const ui_panel_ctx *c, int w, int h, ui_block *out)
{
	const am_snapshot *s = c->snap;
	int y = 0;
	int focus = focus_pool(c);
	const am_snap_pool *p = &s->pool[focus];
	const int name_w = 6, num_w = 13, stat_w = 20;
	int bar_w = w - name_w - num_w - stat_w - 2;
	for (int k = 0; k < p->ndims && k < AM_SNAP_MAX_DIMS && y < h; k++) {
		const am_snap_dim *d = &p->dim[k];
		if (dim_hidden(c, d))
			continue;
		line *l = ui_block_row(out, y++, 0, w);
		char t[40], padded[64];
		ui_role role = dim_role(d, c->now_mono);
		fmt_pad(padded, sizeof padded, d->name, name_w, false);
		seg(l, d->blocks_head ? UI_ROLE_WARN : UI_ROLE_NORMAL, padded);
		bar_segs(c, l, bar_w, dim_used(d), d->limit, role);
		level_text(d, t, sizeof t, true);
		fmt_pad(padded, sizeof padded, t, num_w, true);
		seg(l, UI_ROLE_NORMAL, padded);
		seg(l, UI_ROLE_NORMAL, "  ");
		dim_status(c, p, d, l);
	}
	if (y < h)
		pool_summary(c, p, ui_block_row(out, y++, 0, w), w);
	/* Every other pool on a line of its own: all in full when all fit,
	 * else all in brief, so the lines read alike. */
	bool brief = false;
	line l;
	for (int i = 0; i < s->npools; i++) {
		ui_rline_clear(&l);
		pool_oneline(c, &s->pool[i], &l);
		brief = brief || (i != focus && line_width(&l) > w);
	}
	for (int i = 0; i < s->npools && y < h; i++) {
		if (i == focus)
			continue;
		line *o = ui_block_row(out, y++, 0, w);
		if (brief)
			pool_brief(c, &s->pool[i], o);
		else
			pool_oneline(c, &s->pool[i], o);
	}
}

static void limits_compact(const ui_panel_ctx *c, int w, int h, ui_block *out)
{
	const am_snapshot *s = c->snap;
	int focus = focus_pool(c);
	const am_snap_pool *p = &s->pool[focus];
	line *l = ui_block_row(out, 0, 0, w);
	char t[40];
	int ndims = 0, fixed = 0;
	for (int k = 0; k < p->ndims && k < AM_SNAP_MAX_DIMS; k++) {
		if (dim_hidden(c, &p->dim[k]))
			continue;
		level_text(&p->dim[k], t, sizeof t, false);
		fixed += (int)strlen(p->dim[k].name) + 2 + (int)strlen(t) + 2;
		ndims++;
	}
	/* A cool-down leads the line so a narrow screen still shows it. */
	if (pool_cooldown(c, p, "", l))
		fixed += line_width(l);
	/* The legend, when there is room for it and some bar. */
	bool legend = w >= 60;
	if (legend) {
		seg(l, UI_ROLE_DIM, l->n ? "  in use:" : "in use:");
		fixed += l->n == 1 ? 6 : 8; /* its space after takes the first "  "'s place */
	}
	int bar_w = ndims ? (w - fixed - 2) / ndims : 0;
	if (bar_w > 14)
		bar_w = 14;
	if (bar_w < 3)
		bar_w = 0;
	for (int k = 0; k < p->ndims && k < AM_SNAP_MAX_DIMS; k++) {
		const am_snap_dim *d = &p->dim[k];
		if (dim_hidden(c, d))
			continue;
		ui_role role = dim_role(d, c->now_mono);
		segf(l, d->blocks_head ? UI_ROLE_WARN : UI_ROLE_NORMAL, "%s%s ",
		     !l->n ? "" : legend ? " " : "  ", d->name);
		legend = false;
		bar_segs(c, l, bar_w, dim_used(d), d->limit, role);
		level_text(d, t, sizeof t, false);
		segf(l, role == UI_ROLE_CALM ? UI_ROLE_NORMAL : role, " %s", t);
	}
	if (h < 2)
		return;
	line *m = ui_block_row(out, 1, 0, w);
	segf(m, UI_ROLE_DIM, "%s: ", p->name);
	pool_summary(c, p, m, w);
	/* The other pools while whole ones fit, then how many did not. */
	int left = 0;
	line o;
	for (int i = 0; i < s->npools; i++) {
		if (i == focus)
			continue;
		ui_rline_clear(&o);
		pool_brief(c, &s->pool[i], &o);
		bool last = i == s->npools - 1 || (i == s->npools - 2 && focus == s->npools - 1);
		if (left || line_width(m) + 3 + line_width(&o) > w - (last ? 0 : 10)) {
			left++;
			continue;
		}
		seg(m, UI_ROLE_NORMAL, "   ");
		ui_rline_append(m, &o);
	}
	if (left)
		segf_fit(m, w, UI_ROLE_DIM, "   +%d pool%s", left, left == 1 ? "" : "s");
}

void ui_panel_limits(const ui_panel_ctx *c, int w, int h, ui_block *out)
{
	const am_snapshot *s = c->snap;
	ui_block_clear(out);
	seg(&out->title, UI_ROLE_TITLE, "Rate limits");
	/* The legend: bars and figures are what is used, of the limit. */
	if (s->npools > 0)
		segf(&out->title, UI_ROLE_DIM, "%sin use / limit", G(c)->dot);
	if (s->npools > 0)
		segf(&out->title, UI_ROLE_DIM, "%s%s pool", G(c)->dot, s->pool[focus_pool(c)].name);
	if (s->npools == 0)
		seg(ui_block_row(out, 0, 0, w), UI_ROLE_DIM,
		    c->compact ? "rate limits: no pools yet" : "no rate-limit pools yet");
	else if (c->compact)
		limits_compact(c, w, h, out);
	else
		limits_full(c, w, h, out);
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

/* The table's shape at a width: which columns and how wide the names. */
struct model_cols {
	bool compact, short_names, no_cache_w;
	int name_w;
};

static void model_row(const struct model_cols *mc, const am_snap_model *m, bool total, line *l)
{
	char name[80], cell[64], num[32];
	ui_role r = total ? UI_ROLE_TITLE : UI_ROLE_NORMAL;
	bool compact = mc->compact;
	if (total)
		snprintf(name, sizeof name, "total");
	else if (mc->short_names)
		ui_model_short(m->model, name, sizeof name);
	else
		model_name(m->model, name, sizeof name);
	fmt_pad(cell, sizeof cell, name, mc->name_w, false);
	seg(l, r, cell);
	const int64_t cols[5] = {m->requests, m->input, m->output, m->cache_write, m->cache_read};
	static const int widths[5] = {6, 10, 10, 9, 10}, cwidths[5] = {5, 7, 7, 0, 8};
	for (int i = 0; i < 5; i++) {
		int cw = compact ? cwidths[i] : widths[i];
		if (!cw || (i == 3 && mc->no_cache_w))
			continue;
		if (compact && i > 0)
			fmt_tokens(num, sizeof num, cols[i]);
		else
			fmt_count(num, sizeof num, cols[i]);
		fmt_pad(cell, sizeof cell, num, cw, true);
		seg(l, r, cell);
	}
	int cost_w = compact ? 10 : 11;
	if (m->price_known || (total && m->cost_pusd > 0)) {
		/* The precision every other figure on screen uses for the same
		 * amount (the budget's spend, an answer's cost), so a sum reads
		 * the same in both places ($0.0035, not $0.004 here). */
		fmt_money(num, sizeof num, m->cost_pusd);
		if (!m->price_known)
			snprintf(num + strlen(num), sizeof num - strlen(num), "+?");
		else if (m->estimated > 0) /* some calls cut short: estimated */
			snprintf(num + strlen(num), sizeof num - strlen(num), "~");
		fmt_pad(cell, sizeof cell, num, cost_w, true);
		seg(l, r, cell);
	} else {
		fmt_pad(cell, sizeof cell, "price ?", cost_w, true);
		seg(l, UI_ROLE_WARN, cell);
	}
}

void ui_panel_models(const ui_panel_ctx *c, int w, int h, ui_block *out)
{
	const am_snapshot *s = c->snap;
	struct model_cols mc = {.compact = c->compact};
	ui_block_clear(out);
	title(c, out, "Models", "today");
	int fixed = mc.compact ? 5 + 7 + 7 + 8 + 10 : 6 + 10 + 10 + 9 + 10 + 11;
	/* A narrow full table gives up the cache-write column before the names. */
	mc.no_cache_w = !mc.compact && w - fixed < 16;
	if (mc.no_cache_w)
		fixed -= 9;
	mc.name_w = w - fixed;
	if (mc.name_w > 30)
		mc.name_w = 30;
	if (mc.name_w < 8)
		mc.name_w = 8;
	line *hd = ui_block_row(out, 0, 0, w);
	char cell[64];
	fmt_pad(cell, sizeof cell, "model", mc.name_w, false);
	seg(hd, UI_ROLE_DIM, cell);
	if (mc.compact)
		seg(hd, UI_ROLE_DIM, "  req     in    out cache r      cost");
	else if (mc.no_cache_w)
		seg(hd, UI_ROLE_DIM, "   req     input    output   cache r       cost");
	else
		seg(hd, UI_ROLE_DIM, "   req     input    output  cache w   cache r       cost");
	int rows = h - 2;
	int shown = s->nmodels < rows ? s->nmodels : rows;
	if (shown < 0)
		shown = 0;
	/* The family prefix ("claude-") only when every name fits with it. */
	mc.short_names = mc.compact;
	for (int i = 0; i < shown && !mc.short_names; i++) {
		char name[80];
		model_name(s->model[i].model, name, sizeof name);
		mc.short_names = fmt_width(name, strlen(name)) > mc.name_w;
	}
	for (int i = 0; i < shown; i++)
		model_row(&mc, &s->model[i], false, ui_block_row(out, 1 + i, 0, w));
	if (s->nmodels == 0 && h > 2)
		seg(ui_block_row(out, 1, 0, w), UI_ROLE_DIM, "no calls today yet");
	if (h >= 2) {
		am_snap_model tot = s->total;
		tot.price_known = !s->budget.unknown_prices;
		for (int i = 0; i < s->nmodels; i++)
			tot.price_known = tot.price_known && s->model[i].price_known;
		model_row(&mc, &tot, true, ui_block_row(out, h - 1, 0, w));
		if (s->nmodels > shown)
			segf(ui_block_row(out, h - 1, 5, mc.name_w - 5), UI_ROLE_DIM, " (+%d more)",
			     s->nmodels - shown);
	}
}

/* ---- cache ------------------------------------------------------------------------ */

void ui_panel_cache(const ui_panel_ctx *c, int w, int h, ui_block *out)
{
	const am_snap_cache *k = &c->snap->cache;
	const ui_glyphs *g = G(c);
	char rate[16], hits[32], misses[32], saved[40], tok[16], ent[32], bytes[24], ttl[24];
	int64_t lookups = k->hits + k->misses;
	fmt_pct(rate, sizeof rate, k->hits, lookups, 1);
	fmt_count(hits, sizeof hits, k->hits);
	fmt_count(misses, sizeof misses, k->misses);
	fmt_money(saved, sizeof saved, k->saved_pusd);
	fmt_tokens(tok, sizeof tok, k->saved_tokens);
	fmt_count(ent, sizeof ent, k->entries);
	fmt_bytes(bytes, sizeof bytes, k->bytes);
	if (k->ttl_s > 0 && k->ttl_s % 3600 == 0)
		snprintf(ttl, sizeof ttl, "%lldh", (long long)(k->ttl_s / 3600));
	else
		fmt_duration_ns(ttl, sizeof ttl, k->ttl_s * 1000000000LL);
	const char *entries = k->entries == 1 ? "y" : "ies";
	ui_block_clear(out);

	if (c->compact) {
		/* A rule line between the tables and the console. */
		line *l = ui_block_row(out, 0, 0, w);
		segf(l, UI_ROLE_BORDER, "%s%s ", g->hl, g->hl);
		if (k->enabled) {
			segf(l, UI_ROLE_NORMAL, "cache %s hit", rate);
			segf(l, UI_ROLE_DIM, "%s%s/%lld%ssaved %s, %s tok%s%s entr%s, %s ", g->dot,
			     hits, (long long)lookups, g->dot, saved, tok, g->dot, ent, entries,
			     bytes);
			segf_fit(l, w - 3, UI_ROLE_DIM, "since start ");
		} else {
			seg(l, UI_ROLE_DIM, "cache off ");
		}
		int used = line_width(l);
		char rule[3 * 400 + 1] = "";
		for (int x = used; x < w && x < 400; x++)
			strcat(rule, g->hl);
		seg(l, UI_ROLE_BORDER, rule);
		return;
	}
	seg(&out->title, UI_ROLE_TITLE, "Cache");
	/* Its counts are this process's, while the models table is the day's. */
	segf(&out->title, UI_ROLE_DIM, "%ssince start", g->dot);
	if (!k->enabled)
		segf(&out->title, UI_ROLE_WARN, "%soff", g->dot);
	line *l[4];
	for (int i = 0; i < 4; i++)
		l[i] = ui_block_row(out, i, 0, w);
	if (k->enabled) {
		segf(l[0], UI_ROLE_NORMAL, "hit rate %6s ", rate);
		bar_segs(c, l[0], w - line_width(l[0]), k->hits, lookups, UI_ROLE_CALM);
	} else {
		seg(l[0], UI_ROLE_WARN, "off: /cache on or Alt-c");
	}
	segf(l[1], UI_ROLE_NORMAL, "hits %s%smisses %s", hits, g->dot, misses);
	segf(l[2], UI_ROLE_CALM, "saved %s", saved);
	segf(l[2], UI_ROLE_NORMAL, "%s%s tokens", g->dot, tok);
	segf(l[3], UI_ROLE_DIM, "%s entr%s%s%s", ent, entries, g->dot, bytes);
	if (k->ttl_s > 0)
		segf(l[3], UI_ROLE_DIM, "%sttl %s", g->dot, ttl);
	if (out->n > h)
		out->n = h > 0 ? h : 0;
}

/* ---- key hints and the "too small" line ---------------------------------------------- */

static void hint_line(const char *hints, bool tight, line *l)
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

void ui_panel_hints(int w, ui_block *out)
{
	char hints[512];
	ui_block_clear(out);
	line *l = ui_block_row(out, 0, 0, w);
	ui_hints_text(hints, sizeof hints);
	/* "F1 help  F10 quit  F2/F3 RPM -/+ ...": keys in the key role; when
	 * the line is narrow, fewer words rather than a cut. */
	hint_line(hints, false, l);
	if (line_width(l) > w) {
		ui_rline_clear(l);
		hint_line(hints, true, l);
	}
	if (line_width(l) + 18 <= w)
		seg(l, UI_ROLE_DIM, "/help for commands");
}

void ui_panel_toosmall(int w, ui_block *out)
{
	ui_block_clear(out);
	/* "need", so the size reads as what is wanted, not what there is. */
	segf(ui_block_row(out, 0, 0, w), UI_ROLE_WARN,
	     w >= 34   ? "terminal too small: need %dx%d"
	     : w >= 20 ? "too small: need %dx%d"
	               : "need %dx%d",
	     UI_MIN_COLS, UI_MIN_ROWS);
}

void ui_panel_status(const char *text, ui_role role, int w, ui_block *out)
{
	ui_block_clear(out);
	segf(ui_block_row(out, 0, 0, w), role, " %s", text);
}

void ui_input_remark(const ui_input_info *in, bool ascii, char *buf, size_t n)
{
	const ui_glyphs *g = ui_glyphs_get(ascii);
	char chars[32], tok[16], model[64];
	size_t len;
	if (!n)
		return;
	buf[0] = '\0';
	if (in->chars == 0)
		return;
	fmt_count(chars, sizeof chars, in->chars);
	if (in->lines > 1)
		snprintf(buf, n, "%d lines%s%s chars", in->lines, g->dot, chars);
	else if (!in->fits)
		snprintf(buf, n, "%s chars", chars);
	if (in->command)
		return;
	fmt_tokens(tok, sizeof tok, in->context_tokens + (in->chars + 3) / 4);
	const char *mode = in->model_mode && in->model_mode[0] ? in->model_mode : "auto";
	if (strcmp(mode, "auto"))
		ui_model_short(mode, model, sizeof model);
	else
		snprintf(model, sizeof model, "auto");
	len = strlen(buf);
	snprintf(buf + len, n - len, "%s%s%s tok %s %s", len ? g->dot : "", ascii ? "~" : "\u2248",
	         tok, g->arrow, model);
}
