/* The panel builders without a terminal: snapshots in, rich lines out.
 * Each case feeds a snapshot to a builder at a panel size the layout gives
 * on a screen of 120, 80 or 60 columns (and in ASCII mode) and asserts the
 * exact text and colour role of every segment that lands on screen. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "fmt.h"
#include "layout.h"
#include "money.h"
#include "panels.h"

#define USD AM_PUSD_PER_USD
#define SEC 1000000000LL

/* 2026-12-05 14:32:07 UTC, a Saturday. */
static const int64_t WALL = 1796481127LL * SEC;
static const int64_t MONO = 5000 * SEC;

/* ---- dumping a block -------------------------------------------------------- */

static const char *const role_names[UI_ROLE_COUNT] = {
#define UI_ROLE_NAME(r) #r,
	UI_ROLES(UI_ROLE_NAME)
#undef UI_ROLE_NAME
};

static void dump_line(char *out, size_t n, const ui_rline *l)
{
	for (int i = 0; i < l->n; i++) {
		const char *t = ui_rline_text(l, i);
		if (!*t)
			continue;
		size_t len = strlen(out);
		snprintf(out + len, n - len, "{%s}%s", role_names[l->role[i]], t);
	}
}

/* The block as it lands on screen: the title, then each row as
 * "y+x: {ROLE}text{ROLE}text", each row cut to its width first. */
static char *dump(const ui_block *b, bool ascii)
{
	static char out[65536];
	ui_rline fit;
	out[0] = '\0';
	if (b->title.n) {
		strcat(out, "title: ");
		dump_line(out, sizeof out, &b->title);
		strcat(out, "\n");
	}
	for (int i = 0; i < b->n; i++) {
		const ui_place *p = &b->row[i];
		size_t len = strlen(out);
		snprintf(out + len, sizeof out - len, "%d+%d: ", p->y, p->x);
		ui_rline_fit(&p->line, p->w, ascii, &fit);
		dump_line(out, sizeof out, &fit);
		strcat(out, "\n");
	}
	return out;
}

#define ck_dump(b, ascii, want)                                                           \
	do {                                                                              \
		const char *got_ = dump(b, ascii);                                        \
		if (strcmp(got_, want))                                                   \
			ck_abort_msg("block differs\n--- got ---\n%s--- want ---\n%s", got_, \
			             want);                                                   \
	} while (0)

/* The rectangle the painter gives a panel's text on a cols × rows screen:
 * inside the box in the full layout, less one cell each side in the
 * compact one; the header, the hints and the compact cache rule get their
 * whole rectangle. */
static void area(int cols, int rows, ui_panel p, int *w, int *h)
{
	ui_layout lay;
	ui_layout_hint hint = {.nmodels = 3, .npools = 2, .ndims = 4};
	ui_layout_compute(cols, rows, &hint, &lay);
	ui_rect r = lay.r[p];
	ck_assert_msg(ui_layout_has(&lay, p), "%s absent at %dx%d", ui_panel_name(p), cols, rows);
	bool whole = p == UI_P_HEADER || p == UI_P_HINTS || (p == UI_P_CACHE && !lay.boxed);
	if (whole) {
		*w = r.w;
		*h = r.h;
	} else if (lay.boxed) {
		*w = r.w - 4;
		*h = r.h - 2;
	} else {
		*w = r.w - 2;
		*h = r.h;
	}
}

/* ---- snapshots --------------------------------------------------------------- */

static am_snap_dim dim(const char *name, int64_t level, int64_t limit)
{
	am_snap_dim d = {.level = level, .capacity = limit, .limit = limit};
	snprintf(d.name, sizeof d.name, "%s", name);
	return d;
}

static am_snap_model model(const char *name, int64_t req, int64_t in, int64_t out,
                           int64_t cw, int64_t cr, int64_t cost)
{
	am_snap_model m = {.requests = req, .input = in, .output = out, .cache_write = cw,
	                   .cache_read = cr, .cost_pusd = cost, .price_known = true};
	snprintf(m.model, sizeof m.model, "%s", name);
	return m;
}

/* A quiet afternoon: a daily and a monthly limit well below, two pools,
 * three models, a warm cache. */
static void busy(am_snapshot *s)
{
	memset(s, 0, sizeof *s);
	s->mono_ns = MONO;
	s->wall_ns = WALL;
	snprintf(s->endpoint, sizeof s->endpoint, "api.anthropic.com");
	snprintf(s->model_mode, sizeof s->model_mode, "auto");
	s->queue_depth = 2;
	s->in_flight = 1;

	am_snap_budget *b = &s->budget;
	b->day_spent_pusd = 1234 * USD / 1000;
	b->day_limit_pusd = 5 * USD;
	b->month_spent_pusd = 4210 * USD / 100;
	b->month_limit_pusd = 100 * USD;
	b->nalerts = 2;
	b->alert_pct[0] = 50;
	b->alert_pct[1] = 80;
	b->state = AM_BUDGET_OK;
	b->burn_pusd_per_hour = 42 * USD / 100;
	b->projected_eod_pusd = 4 * USD;
	for (int i = 0; i < AM_SNAP_SPARK; i++)
		b->spend_per_min[i] = (i % 7) * USD / 1000;

	s->npools = 2;
	am_snap_pool *p = &s->pool[0];
	snprintf(p->name, sizeof p->name, "sonnet-4");
	p->ndims = 4;
	p->dim[0] = dim("RPM", 40, 50);
	p->dim[1] = dim("RPM/s", 1, 1);
	p->dim[2] = dim("ITPM", 20000, 30000);
	p->dim[3] = dim("OTPM", 7000, 8000);
	p->queue_depth = 2;
	p->in_flight = 1;
	p->concurrency_cap = 4;
	p = &s->pool[1];
	snprintf(p->name, sizeof p->name, "haiku-3-5");
	p->ndims = 3;
	p->dim[0] = dim("RPM", 50, 50);
	p->dim[1] = dim("ITPM", 50000, 50000);
	p->dim[2] = dim("OTPM", 10000, 10000);

	s->nmodels = 3;
	s->model[0] =
	        model("claude-sonnet-4-20250514", 12, 48210, 9120, 3000, 12000, 312 * USD / 1000);
	s->model[1] = model("claude-3-5-haiku-20241022", 30, 90000, 15000, 0, 0, 150 * USD / 1000);
	s->model[2] = model("claude-opus-4-1-20250805", 1, 1000, 200, 0, 0, 30 * USD / 1000);
	s->total = model("", 43, 139210, 24320, 3000, 12000, 492 * USD / 1000);

	am_snap_cache *c = &s->cache;
	c->enabled = true;
	c->hits = 25;
	c->misses = 75;
	c->entries = 70;
	c->bytes = 300 * 1024;
	c->saved_pusd = 81 * USD / 1000;
	c->saved_tokens = 41000;
	c->ttl_s = 24 * 3600;
}

/* Trouble: over the daily budget with prompts held back, a 429 cool-down on
 * the second pool, a blocked queue head on the first, a model without a
 * price, the cache off. */
static void trouble(am_snapshot *s)
{
	busy(s);
	s->simulator = true;
	s->paused = true;
	am_snap_budget *b = &s->budget;
	b->day_spent_pusd = 5 * USD + 20 * USD / 100;
	b->state = AM_BUDGET_OVER;
	b->blocked_jobs = 3;
	b->unknown_prices = true;
	b->reserved_pusd = 2 * USD / 100;
	b->month_limit_pusd = 0;
	am_snap_pool *p = &s->pool[0];
	p->dim[2].blocks_head = true;
	p->dim[2].level = 100;
	p->head_wait_ns = 3 * SEC;
	p->head_ready_in_ns = 12 * SEC;
	p->n429 = 0;
	p = &s->pool[1];
	p->dim[0].cooldown_until_ns = MONO + 7 * SEC + SEC / 2;
	p->n429 = 2;
	s->model[2].price_known = false;
	s->cache.enabled = false;
}

static ui_panel_ctx ctx(const am_snapshot *s, bool compact, bool ascii)
{
	return (ui_panel_ctx){.snap = s,
	                      .version = "0.9.0",
	                      .now_mono = MONO,
	                      .now_wall = WALL,
	                      .ascii = ascii,
	                      .compact = compact};
}

static ui_block blk;
static am_snapshot snap;

/* ---- rich lines ----------------------------------------------------------------- */

START_TEST(rline_fit_cuts)
{
	ui_rline l, f;
	ui_rline_clear(&l);
	ui_rline_add(&l, UI_ROLE_TITLE, "budget ");
	ui_rline_add(&l, UI_ROLE_CALM, "████");
	ui_rline_add(&l, UI_ROLE_DIM, " tail");
	ck_assert_int_eq(ui_rline_width(&l), 16);
	ui_rline_fit(&l, 10, false, &f);
	ck_assert_int_eq(f.n, 2);
	ck_assert_str_eq(ui_rline_text(&f, 0), "budget ");
	ck_assert_int_eq(ui_rline_width(&f), 10);
	ck_assert_str_eq(ui_rline_text(&f, 1), "██…");
	ui_rline_fit(&l, 10, true, &f);
	ck_assert_str_eq(ui_rline_text(&f, 1), "██~");
	ui_rline_insert(&l, 1, UI_ROLE_DIM, "x");
	ck_assert_str_eq(ui_rline_text(&l, 1), "x");
	ck_assert_int_eq(l.role[2], UI_ROLE_CALM);
	/* A segment is cut at a whole character, and a full line drops more. */
	char big[2000];
	memset(big, 0, sizeof big);
	for (int i = 0; i < 400; i++)
		strcat(big, "\u2500");
	ui_rline_clear(&l);
	ui_rline_add(&l, UI_ROLE_BORDER, big);
	ck_assert_int_eq((int)strlen(ui_rline_text(&l, 0)), 765);
	for (int i = 0; i < 40; i++)
		ui_rline_add(&l, UI_ROLE_DIM, "y");
	ck_assert_int_eq(l.n, UI_RLINE_SEGS);
}
END_TEST

/* ---- header --------------------------------------------------------------------- */

START_TEST(header_widths)
{
	int w, h;
	busy(&snap);
	ui_panel_ctx c = ctx(&snap, false, false);
	area(120, 40, UI_P_HEADER, &w, &h);
	ck_assert_int_eq(w, 120);
	ui_panel_header(&c, w, &blk);
	ck_dump(&blk, false,
	        "0+0: {TITLE} aimeter 0.9.0{NORMAL}  {BADGE_LIVE}● live{DIM}  api.anthropic.com"
	        "{NORMAL}   model: auto{WARN}   queue 2{NORMAL}  in flight 1{NORMAL}   cache on\n"
	        "0+98: {DIM}Sat 14:32:07  {KEY}F1{NORMAL} help \n");
	/* 100 columns: no room left for the endpoint. */
	ui_panel_header(&c, 100, &blk);
	ck_dump(&blk, false,
	        "0+0: {TITLE} aimeter 0.9.0{NORMAL}  {BADGE_LIVE}● live{NORMAL}   model: auto"
	        "{WARN}   queue 2{NORMAL}  in flight 1{NORMAL}   cache on\n"
	        "0+78: {DIM}Sat 14:32:07  {KEY}F1{NORMAL} help \n");

	c.compact = true;
	area(80, 24, UI_P_HEADER, &w, &h);
	ui_panel_header(&c, w, &blk);
	ck_dump(&blk, false,
	        "0+0: {TITLE} aimeter{NORMAL}  {BADGE_LIVE}● live{NORMAL}  auto{WARN}  q2"
	        "{NORMAL} f1{NORMAL}  cache 25%\n"
	        "0+62: {DIM}14:32:07  {KEY}F1{NORMAL} help \n");
	area(60, 20, UI_P_HEADER, &w, &h);
	trouble(&snap);
	ui_panel_header(&c, w, &blk);
	ck_dump(&blk, false,
	        "0+0: {TITLE} aimeter{NORMAL}  {BADGE_SIM} SIMULATOR {WARN}  PAUSED{NORMAL}  auto"
	        "{WARN}  q2{NORMAL} …\n"
	        "0+42: {DIM}14:32:07  {KEY}F1{NORMAL} help \n");
	/* Narrower than twice the clock: the left part gets the whole line. */
	ui_panel_header(&c, 34, &blk);
	ck_dump(&blk, false,
	        "0+0: {TITLE} aimeter{NORMAL}  {BADGE_SIM} SIMULATOR {WARN}  PAUSED"
	        "{NORMAL}  au…\n");
}
END_TEST

START_TEST(header_ascii)
{
	busy(&snap);
	ui_panel_ctx c = ctx(&snap, false, true);
	ui_panel_header(&c, 120, &blk);
	ck_dump(&blk, true,
	        "0+0: {TITLE} aimeter 0.9.0{NORMAL}  {BADGE_LIVE}* live{DIM}  api.anthropic.com"
	        "{NORMAL}   model: auto{WARN}   queue 2{NORMAL}  in flight 1{NORMAL}   cache on\n"
	        "0+98: {DIM}Sat 14:32:07  {KEY}F1{NORMAL} help \n");
}
END_TEST

/* ---- budget ---------------------------------------------------------------------- */

START_TEST(budget_full)
{
	int w, h;
	busy(&snap);
	ui_panel_ctx c = ctx(&snap, false, false);
	area(120, 40, UI_P_BUDGET, &w, &h);
	ui_panel_budget(&c, w, h, &blk);
	ck_dump(&blk, false,
	        "title: {TITLE}Budget{DIM} · today\n"
	        "0+0: {TITLE}$1.23 of $5.00  {CALM}████████▍{BAR_EMPTY}░░░░░░░░░░░░░░░░░░░░░░░░░"
	        "{CALM}  25%\n"
	        "1+0: {CALM}ok{DIM} · alert at 50%{DIM}, 80%{DIM} · stop at 100%\n"
	        "2+0: {NORMAL}burn $0.42/h{DIM} (15 min){NORMAL} · at this pace $4.00 by 24:00\n"
	        "3+0: {CALM}limit not reached today at this pace\n"
	        "4+0: {NORMAL}month $42.10 of $100.00  {CALM}████████▍{BAR_EMPTY}░░░░░░░░░░░"
	        "{NORMAL} 42%\n"
	        "5+0: {DIM}spend/2min {ACCENT}▂▄▆▅▃▅█▂▄▆▅▃▅█▂▄▆▅▃▅█▂▄▆▅▃▅█▂▄{DIM}  peak $0.011\n");
	area(100, 30, UI_P_BUDGET, &w, &h);
	ui_panel_budget(&c, w, h, &blk);
	ck_dump(&blk, false,
	        "title: {TITLE}Budget{DIM} · today\n"
	        "0+0: {TITLE}$1.23 of $5.00  {CALM}█████▉{BAR_EMPTY}░░░░░░░░░░░░░░░░░░"
	        "{CALM}  25%\n"
	        "1+0: {CALM}ok{DIM} · alert at 50%{DIM}, 80%{DIM} · stop at 100%\n"
	        "2+0: {NORMAL}burn $0.42/h{NORMAL} · at this pace $4.00 by 24:00\n"
	        "3+0: {CALM}limit not reached today at this pace\n"
	        "4+0: {NORMAL}month $42.10 of $100.00  {CALM}██████▎{BAR_EMPTY}░░░░░░░░"
	        "{NORMAL} 42%\n"
	        "5+0: {DIM}spend/3min {ACCENT}▃▆▄▅▆▄█▃▆▄▅▆▄█▃▆▄▅▆▄{DIM}  peak $0.015\n");
	trouble(&snap);
	area(120, 40, UI_P_BUDGET, &w, &h);
	ui_panel_budget(&c, w, h, &blk);
	ck_dump(&blk, false,
	        "title: {TITLE}Budget{DIM} · today\n"
	        "0+0: {TITLE}$5.20 of $5.00  {ALARM}██████████████████████████████████"
	        "{ALARM} 104%\n"
	        "1+0: {ALARM}OVER BUDGET{DIM} · alert at 50%{DIM}, 80%{DIM} · stop at 100%\n"
	        "2+0: {NORMAL}burn $0.42/h{DIM} (15 min){NORMAL} · at this pace $4.00 by 24:00\n"
	        "3+0: {ALARM}limit reached: new prompts wait for /budget or tomorrow{ALARM}…\n"
	        "4+0: {NORMAL}month $42.10{DIM} · no monthly limit\n"
	        "5+0: {DIM}spend/2min {ACCENT}▂▄▆▅▃▅█▂▄▆▅▃▅█▂▄▆▅▃▅█▂▄▆▅▃▅█▂▄{DIM}  peak $0.011\n");
	/* No limits at all; a short panel shows its first lines. */
	snap.budget.day_limit_pusd = 0;
	snap.budget.state = AM_BUDGET_OK;
	snap.budget.blocked_jobs = 0;
	snap.budget.limit_hit_wall_ns = 0;
	ui_panel_budget(&c, w, 3, &blk);
	ck_dump(&blk, false,
	        "title: {TITLE}Budget{DIM} · today\n"
	        "0+0: {TITLE}$5.20 today{DIM} · no daily limit (/budget USD)\n"
	        "1+0: {DIM}no alerts without a daily limit{WARN} · unknown prices\n"
	        "2+0: {NORMAL}burn $0.42/h{DIM} (15 min){NORMAL} · at this pace $4.00 by 24:00\n");
}
END_TEST

/* Today's spend per tag on the budget panel's seventh line, which the
 * layout gives it when there are tags: each tag with its own limit when it
 * has one, in the limit's colours; what does not fit is left out whole. */
START_TEST(budget_tags_line)
{
	busy(&snap);
	ui_panel_ctx c = ctx(&snap, false, false);
	ui_layout lay;
	ui_layout_hint hint = {.nmodels = 3, .npools = 2, .ndims = 4, .ntags = 0};
	ui_layout_compute(120, 40, &hint, &lay);
	ck_assert_int_eq(lay.r[UI_P_BUDGET].h - 2, 6);
	hint.ntags = 3;
	ui_layout_compute(120, 40, &hint, &lay);
	int w = lay.r[UI_P_BUDGET].w - 4, h = lay.r[UI_P_BUDGET].h - 2;
	ck_assert_int_eq(h, 7);
	static const struct { const char *tag; int64_t spent, held, limit; } tags[] = {
		{ "nightly-evals", 5 * USD, 0, 5 * USD },
		{ "ci", 41 * USD / 10, 0, 5 * USD },
		{ "app:web", 3 * USD / 100, USD / 100, 0 },
		{ "cheap", USD / 100, 0, 100 * USD },
	};
	snap.ntags = 4;
	for (int i = 0; i < 4; i++) {
		snprintf(snap.tag[i].tag, sizeof snap.tag[i].tag, "%s", tags[i].tag);
		snap.tag[i].spent_pusd = tags[i].spent;
		snap.tag[i].held_pusd = tags[i].held;
		snap.tag[i].limit_pusd = tags[i].limit;
	}
	ui_panel_budget(&c, w, h, &blk);
	ck_assert_int_eq(blk.n, 7);
	const char *got = dump(&blk, false);
	const char *row = strstr(got, "6+0: ");
	ck_assert_msg(row != NULL, "%s", got);
	ck_assert_str_eq(row, "6+0: {DIM}tags {ALARM}nightly-evals $5.00/$5.00{WARN} · ci "
	                      "$4.10/$5.00\n");
	ui_panel_budget(&c, 120, h, &blk);
	got = dump(&blk, false);
	row = strstr(got, "6+0: ");
	ck_assert_str_eq(row, "6+0: {DIM}tags {ALARM}nightly-evals $5.00/$5.00{WARN} · ci "
	                      "$4.10/$5.00{NORMAL} · app:web $0.030{CALM} · cheap $0.010/$100.00\n");
	/* Narrow: the tags that do not fit are left out, not cut. */
	ui_panel_budget(&c, 40, h, &blk);
	got = dump(&blk, false);
	row = strstr(got, "6+0: ");
	ck_assert_msg(row && !strstr(row, "ci") && strstr(row, "nightly-evals"), "%s", got);
	/* Without tags, or without room, no seventh line. */
	snap.ntags = 0;
	ui_panel_budget(&c, w, h, &blk);
	ck_assert_int_eq(blk.n, 6);
	snap.ntags = 4;
	ui_panel_budget(&c, w, 6, &blk);
	ck_assert_int_eq(blk.n, 6);

	/* Compact: on the second line before the sparkline, as many as fit in
	 * half of what is left there, or none (never a lone "tags"). */
	ui_panel_ctx cc = ctx(&snap, true, false);
	ui_panel_budget(&cc, 160, 2, &blk);
	got = dump(&blk, false);
	ck_assert_msg(strstr(got, "{DIM} · tags {ALARM}nightly-evals $5.00/$5.00{WARN} · ci "
	                          "$4.10/$5.00{NORMAL} · app:web $0.030{DIM}  {DIM}spend/"),
	              "%s", got);
	ui_panel_budget(&cc, 78, 2, &blk);
	got = dump(&blk, false);
	ck_assert_msg(!strstr(got, "tags"), "%s", got);
}
END_TEST

/* Hosts sharing a budget through Redis: the organisation's day and this
 * host's part replace the local pace line; Redis away says what happens. */
START_TEST(budget_org)
{
	int w, h;
	busy(&snap);
	snap.org = (am_snap_org){ .on = true, .up = true, .day_pusd = 3690000000000LL,
	                          .host_day_pusd = 1230000000000LL };
	ui_panel_ctx c = ctx(&snap, false, false);
	area(120, 40, UI_P_BUDGET, &w, &h);
	ui_panel_budget(&c, w, h, &blk);
	ck_assert_ptr_nonnull(strstr(dump(&blk, false),
	                             "3+0: {NORMAL}org $3.69 today, this host $1.23 (33%)\n"));
	snap.org.up = false;
	ui_panel_budget(&c, w, h, &blk);
	ck_assert_ptr_nonnull(strstr(dump(&blk, false), "3+0: {ALARM}Redis unreachable: calls held\n"));
	snap.org.local = true;
	ui_panel_budget(&c, w, h, &blk);
	ck_assert_ptr_nonnull(
	    strstr(dump(&blk, false), "3+0: {ALARM}Redis unreachable: local limits and budget\n"));
	memset(&snap.org, 0, sizeof snap.org);
}
END_TEST

START_TEST(budget_compact)
{
	int w, h;
	busy(&snap);
	snap.budget.state = AM_BUDGET_ALERT;
	snap.budget.limit_hit_wall_ns = WALL + 3 * 3600 * SEC;
	ui_panel_ctx c = ctx(&snap, true, false);
	area(80, 24, UI_P_BUDGET, &w, &h);
	ui_panel_budget(&c, w, h, &blk);
	ck_dump(&blk, false,
	        "title: {TITLE}Budget{DIM} · today\n"
	        "0+0: {TITLE}budget $1.23/$5.00 {WARN}█████▋{BAR_EMPTY}░░░░░░░░░░░░░░░░░"
	        "{WARN} 25% ALERT{NORMAL}  $0.42/h → $4.00 by 24:00\n"
	        "1+0: {NORMAL}month $42.10/$100.00{WARN} · limit at ~ 17:32{DIM}  "
	        "{DIM}spend/3min {ACCENT}▃▆▄▅▆▄█▃▆▄▅▆▄█▃▆▄▅▆▄\n");
	area(60, 20, UI_P_BUDGET, &w, &h);
	ui_panel_budget(&c, w, h, &blk);
	ck_dump(&blk, false,
	        "title: {TITLE}Budget{DIM} · today\n"
	        "0+0: {TITLE}budget $1.23/$5.00 {WARN}▉{BAR_EMPTY}░░░{WARN} 25% ALERT"
	        "{NORMAL}  $0.42/h → $4.00 by 24:…\n"
	        "1+0: {NORMAL}month $42.10/$100.00{WARN} · limit at ~ 17:32{DIM}  "
	        "{DIM}spend/12min {ACCENT}▆▇█▇▇\n");
	trouble(&snap);
	ui_panel_budget(&c, w, 1, &blk);
	ck_dump(&blk, false,
	        "title: {TITLE}Budget{DIM} · today\n"
	        "0+0: {TITLE}budget $5.20/$5.00 {ALARM}████{ALARM} 104% OVER BUDGET"
	        "{NORMAL}  $0.42/h → $4.00…\n");
	ui_panel_budget(&c, w, 2, &blk);
	ck_dump(&blk, false,
	        "title: {TITLE}Budget{DIM} · today\n"
	        "0+0: {TITLE}budget $5.20/$5.00 {ALARM}████{ALARM} 104% OVER BUDGET"
	        "{NORMAL}  $0.42/h → $4.00…\n"
	        "1+0: {NORMAL}month $42.10{ALARM} · limit reached{ALARM} · 3 blocked{DIM}  "
	        "{DIM}spend/15min {ACCENT}▇▇▇█\n");
}
END_TEST

START_TEST(budget_ascii)
{
	int w, h;
	busy(&snap);
	snap.budget.limit_hit_wall_ns = WALL + 3 * 3600 * SEC;
	ui_panel_ctx c = ctx(&snap, false, true);
	area(120, 40, UI_P_BUDGET, &w, &h);
	ui_panel_budget(&c, w, h, &blk);
	ck_dump(&blk, true,
	        "title: {TITLE}Budget{DIM} - today\n"
	        "0+0: {TITLE}$1.23 of $5.00  {CALM}########-{BAR_EMPTY}........................."
	        "{CALM}  25%\n"
	        "1+0: {CALM}ok{DIM} - alert at 50%{DIM}, 80%{DIM} - stop at 100%\n"
	        "2+0: {NORMAL}burn $0.42/h{DIM} (15 min){NORMAL} - at this pace $4.00 by 24:00\n"
	        "3+0: {WARN}limit reached at ~ 17:32{DIM} unless the pace drops\n"
	        "4+0: {NORMAL}month $42.10 of $100.00  {CALM}########-{BAR_EMPTY}..........."
	        "{NORMAL} 42%\n"
	        "5+0: {DIM}spend/2min {ACCENT}.-+=:=#.-+=:=#.-+=:=#.-+=:=#.-{DIM}  peak $0.011\n");
	c.compact = true;
	area(80, 24, UI_P_BUDGET, &w, &h);
	ui_panel_budget(&c, w, h, &blk);
	ck_dump(&blk, true,
	        "title: {TITLE}Budget{DIM} - today\n"
	        "0+0: {TITLE}budget $1.23/$5.00 {CALM}#####={BAR_EMPTY}.................."
	        "{CALM} 25% ok{NORMAL}  $0.42/h -> $4.00 by 24:00\n"
	        "1+0: {NORMAL}month $42.10/$100.00{WARN} - limit at ~ 17:32{DIM}  "
	        "{DIM}spend/3min {ACCENT}:+-=+-#:+-=+-#:+-=+-\n");
}
END_TEST

/* ---- rate limits --------------------------------------------------------------------- */

START_TEST(limits_full)
{
	int w, h;
	busy(&snap);
	ui_panel_ctx c = ctx(&snap, false, false);
	area(120, 40, UI_P_LIMITS, &w, &h);
	ui_panel_limits(&c, w, h, &blk);
	ck_dump(&blk, false,
	        "title: {TITLE}Rate limits{DIM} · in use / limit{DIM} · sonnet-4 pool\n"
	        "0+0: {NORMAL}RPM   {CALM}███{BAR_EMPTY}░░░░░░░░░░░░{NORMAL}      10 / 50"
	        "{NORMAL}  {CALM}ok\n"
	        "1+0: {NORMAL}ITPM  {CALM}█████{BAR_EMPTY}░░░░░░░░░░{NORMAL}    10k / 30k"
	        "{NORMAL}  {CALM}ok\n"
	        "2+0: {NORMAL}OTPM  {CALM}█▉{BAR_EMPTY}░░░░░░░░░░░░░{NORMAL}      1k / 8k"
	        "{NORMAL}  {CALM}ok\n"
	        "3+0: {WARN}waiting 2{NORMAL} · {NORMAL}in flight 1{NORMAL}/4{DIM} · 429s 0\n"
	        "4+0: {TITLE}haiku-3-5{DIM}  RPM {CALM}0/50{DIM}  ITPM {CALM}0/50k{DIM}  OTPM "
	        "{CALM}0/10k\n");
	snap.pool[0].dim[0].has_server = true;
	snap.pool[0].dim[0].server_remaining = 38;
	snap.pool[0].dim[0].server_reset_ns = WALL + 20 * SEC;
	snap.pool[0].dim[0].share_ppm = 500000;
	area(100, 30, UI_P_LIMITS, &w, &h);
	ui_panel_limits(&c, w, h, &blk);
	ck_dump(&blk, false,
	        "title: {TITLE}Rate limits{DIM} · in use / limit{DIM} · sonnet-4 pool\n"
	        "0+0: {NORMAL}RPM   {CALM}█{BAR_EMPTY}░░░░{NORMAL}      10 / 50{NORMAL}  "
	        "{DIM}srv 38 left{DIM} ↻20s\n"
	        "1+0: {NORMAL}ITPM  {CALM}█▋{BAR_EMPTY}░░░{NORMAL}    10k / 30k{NORMAL}  {CALM}ok\n"
	        "2+0: {NORMAL}OTPM  {CALM}▋{BAR_EMPTY}░░░░{NORMAL}      1k / 8k{NORMAL}  {CALM}ok\n"
	        "3+0: {WARN}waiting 2{NORMAL} · {NORMAL}in flight 1{NORMAL}/4{DIM} · 429s 0"
	        "{WARN} · share 50%\n"
	        "4+0: {TITLE}haiku-3-5{DIM}  RPM {CALM}0/50{DIM}  ITPM {CALM}0/50k{DIM}  OTPM "
	        "{CALM}0/10k\n");
	/* The pool in a cool-down takes the detail; the blocked one is brief. */
	trouble(&snap);
	area(120, 40, UI_P_LIMITS, &w, &h);
	ui_panel_limits(&c, w, h, &blk);
	ck_dump(&blk, false,
	        "title: {TITLE}Rate limits{DIM} · in use / limit{DIM} · haiku-3-5 pool\n"
	        "0+0: {NORMAL}RPM   {BAR_EMPTY}░░░░░░░░░░░░░░░{NORMAL}       0 / 50{NORMAL}  "
	        "{ALARM}cool-down 8s\n"
	        "1+0: {NORMAL}ITPM  {BAR_EMPTY}░░░░░░░░░░░░░░░{NORMAL}      0 / 50k{NORMAL}  "
	        "{CALM}ok\n"
	        "2+0: {NORMAL}OTPM  {BAR_EMPTY}░░░░░░░░░░░░░░░{NORMAL}      0 / 10k{NORMAL}  "
	        "{CALM}ok\n"
	        "3+0: {NORMAL}waiting 0{NORMAL} · {NORMAL}in flight 0{ALARM} · 429s 2\n"
	        "4+0: {TITLE}sonnet-4{DIM}  RPM {CALM}10/50{DIM}  ITPM {WARN}30k/30k{DIM}  OTPM "
	        "{CALM}1k/8k{WARN}  w2 f1\n");
	snap.pool[1].dim[0].cooldown_until_ns = 0;
	ui_panel_limits(&c, w, h, &blk);
	ck_dump(&blk, true,
	        "title: {TITLE}Rate limits{DIM} · in use / limit{DIM} · sonnet-4 pool\n"
	        "0+0: {NORMAL}RPM   {CALM}███{BAR_EMPTY}░░░░░░░░░░░░{NORMAL}      10 / 50"
	        "{NORMAL}  {CALM}ok\n"
	        "1+0: {WARN}ITPM  {WARN}██████████████▉{NORMAL}    30k / 30k{NORMAL}  "
	        "{WARN}◀ blocks head{DIM} 12s\n"
	        "2+0: {NORMAL}OTPM  {CALM}█▉{BAR_EMPTY}░░░░░░░░░░░░░{NORMAL}      1k / 8k"
	        "{NORMAL}  {CALM}ok\n"
	        "3+0: {WARN}waiting 2{NORMAL} · {NORMAL}in flight 1{NORMAL}/4"
	        "{WARN} · head waits 3.0s{DIM} · 429s 0\n"
	        "4+0: {TITLE}haiku-3-5{ALARM} 429s 2{DIM}  RPM {CALM}0/50{DIM}  ITPM {CALM}0/50k"
	        "{DIM}  OTPM {CALM}0/10k\n");
	/* RPM/s shows only when it is what the queue head waits for: a bar
	 * that is full whenever a call was just sent says nothing else. */
	busy(&snap);
	area(120, 40, UI_P_LIMITS, &w, &h);
	ui_panel_limits(&c, w, h, &blk);
	ck_assert_ptr_null(strstr(dump(&blk, false), "RPM/s"));
	snap.pool[0].dim[1].level = 0;
	snap.pool[0].dim[1].blocks_head = true;
	ui_panel_limits(&c, w, h, &blk);
	ck_assert_ptr_nonnull(strstr(dump(&blk, false),
	                             "1+0: {WARN}RPM/s {ALARM}███████████████{NORMAL}        1 / 1"));
	snap.npools = 0;
	ui_panel_limits(&c, w, h, &blk);
	ck_dump(&blk, false,
	        "title: {TITLE}Rate limits\n"
	        "0+0: {DIM}no rate-limit pools yet\n");
}
END_TEST

START_TEST(limits_compact)
{
	int w, h;
	busy(&snap);
	ui_panel_ctx c = ctx(&snap, true, false);
	area(80, 24, UI_P_LIMITS, &w, &h);
	ui_panel_limits(&c, w, h, &blk);
	ck_dump(&blk, false,
	        "title: {TITLE}Rate limits{DIM} · in use / limit{DIM} · sonnet-4 pool\n"
	        "0+0: {DIM}in use:{NORMAL} RPM {CALM}██{BAR_EMPTY}░░░░░░░░{NORMAL} 10/50{NORMAL}  ITPM "
	        "{CALM}███▎{BAR_EMPTY}░░░░░░{NORMAL} 10k/30k{NORMAL}  OTPM {CALM}█▎{BAR_EMPTY}░░░░░░░░"
	        "{NORMAL} 1k/8k\n"
	        "1+0: {DIM}sonnet-4: {WARN}w2{NORMAL} f1{NORMAL}/4{DIM} · 429s 0{NORMAL}   "
	        "{TITLE}haiku-3-5{DIM} RPM {CALM}0/50\n");
	area(60, 20, UI_P_LIMITS, &w, &h);
	ui_panel_limits(&c, w, h, &blk);
	ck_dump(&blk, false,
	        "title: {TITLE}Rate limits{DIM} · in use / limit{DIM} · sonnet-4 pool\n"
	        "0+0: {NORMAL}RPM {CALM}█{BAR_EMPTY}░░░░{NORMAL} 10/50{NORMAL}  ITPM {CALM}█▋"
	        "{BAR_EMPTY}░░░{NORMAL} 10k/30k{NORMAL}  OTPM {CALM}▋{BAR_EMPTY}░░░░"
	        "{NORMAL} 1k/8k\n"
	        "1+0: {DIM}sonnet-4: {WARN}w2{NORMAL} f1{NORMAL}/4{DIM} · 429s 0{NORMAL}   "
	        "{TITLE}haiku-3-5{DIM} RPM {CALM}0/50\n");
	trouble(&snap);
	area(80, 24, UI_P_LIMITS, &w, &h);
	ui_panel_limits(&c, w, h, &blk);
	ck_dump(&blk, false,
	        "title: {TITLE}Rate limits{DIM} · in use / limit{DIM} · haiku-3-5 pool\n"
	        "0+0: {ALARM}cool-down 8s{DIM}  in use:{NORMAL} RPM {BAR_EMPTY}░░░░░░{ALARM} 0/50"
	        "{NORMAL}  ITPM {BAR_EMPTY}░░░░░░{NORMAL} 0/50k{NORMAL}  OTPM {BAR_EMPTY}░░░░░░"
	        "{NORMAL} 0/10k\n"
	        "1+0: {DIM}haiku-3-5: {NORMAL}w0{NORMAL} f0{ALARM} · 429s 2{NORMAL}   {TITLE}sonnet-4"
	        "{DIM} ITPM {WARN}30k/30k{WARN} w2 f1\n");
	snap.pool[1].dim[0].cooldown_until_ns = 0;
	area(60, 20, UI_P_LIMITS, &w, &h);
	ui_panel_limits(&c, w, h, &blk);
	ck_dump(&blk, false,
	        "title: {TITLE}Rate limits{DIM} · in use / limit{DIM} · sonnet-4 pool\n"
	        "0+0: {NORMAL}RPM {CALM}█{BAR_EMPTY}░░░░{NORMAL} 10/50{WARN}  ITPM {WARN}████▉"
	        "{WARN} 30k/30k{NORMAL}  OTPM {CALM}▋{BAR_EMPTY}░░░░{NORMAL} 1k/8k\n"
	        "1+0: {DIM}sonnet-4: {WARN}w2{NORMAL} f1{NORMAL}/4{DIM} · 429s 0{NORMAL}   "
	        "{TITLE}haiku-3-5{DIM} RPM {CALM}0/50{ALARM} 429s 2\n");
	c.ascii = true;
	ui_panel_limits(&c, w, h, &blk);
	ck_dump(&blk, true,
	        "title: {TITLE}Rate limits{DIM} - in use / limit{DIM} - sonnet-4 pool\n"
	        "0+0: {NORMAL}RPM {CALM}#{BAR_EMPTY}....{NORMAL} 10/50{WARN}  ITPM {WARN}####="
	        "{WARN} 30k/30k{NORMAL}  OTPM {CALM}={BAR_EMPTY}....{NORMAL} 1k/8k\n"
	        "1+0: {DIM}sonnet-4: {WARN}w2{NORMAL} f1{NORMAL}/4{DIM} - 429s 0{NORMAL}   "
	        "{TITLE}haiku-3-5{DIM} RPM {CALM}0/50{ALARM} 429s 2\n");
	snap.npools = 0;
	ui_panel_limits(&c, w, h, &blk);
	ck_dump(&blk, false,
	        "title: {TITLE}Rate limits\n"
	        "0+0: {DIM}rate limits: no pools yet\n");
}
END_TEST

/* ---- models ------------------------------------------------------------------------- */

START_TEST(models_widths)
{
	int w, h;
	busy(&snap);
	ui_panel_ctx c = ctx(&snap, false, false);
	area(120, 40, UI_P_MODELS, &w, &h);
	ui_panel_models(&c, w, h, &blk);
	ck_dump(&blk, false,
	        "title: {TITLE}Models{DIM} · today\n"
	        "0+0: {DIM}model                   "
	        "{DIM}   req     input    output  cache w   cache r       cost\n"
	        "1+0: {NORMAL}claude-sonnet-4         {NORMAL}    12{NORMAL}    48,210"
	        "{NORMAL}     9,120{NORMAL}    3,000{NORMAL}    12,000{NORMAL}     $0.312\n"
	        "2+0: {NORMAL}claude-3-5-haiku        {NORMAL}    30{NORMAL}    90,000"
	        "{NORMAL}    15,000{NORMAL}        0{NORMAL}         0{NORMAL}     $0.150\n"
	        "3+0: {NORMAL}claude-opus-4-1         {NORMAL}     1{NORMAL}     1,000"
	        "{NORMAL}       200{NORMAL}        0{NORMAL}         0{NORMAL}     $0.030\n"
	        "4+0: {TITLE}total                   {TITLE}    43{TITLE}   139,210"
	        "{TITLE}    24,320{TITLE}    3,000{TITLE}    12,000{TITLE}     $0.492\n");
	/* Narrow: the cache-write column goes, then the "claude-" prefix. */
	area(100, 30, UI_P_MODELS, &w, &h);
	ui_panel_models(&c, w, h, &blk);
	ck_dump(&blk, false,
	        "title: {TITLE}Models{DIM} · today\n"
	        "0+0: {DIM}model            {DIM}   req     input    output   cache r       cost\n"
	        "1+0: {NORMAL}claude-sonnet-4  {NORMAL}    12{NORMAL}    48,210{NORMAL}     9,120"
	        "{NORMAL}    12,000{NORMAL}     $0.312\n"
	        "2+0: {NORMAL}claude-3-5-haiku {NORMAL}    30{NORMAL}    90,000{NORMAL}    15,000"
	        "{NORMAL}         0{NORMAL}     $0.150\n"
	        "3+0: {NORMAL}claude-opus-4-1  {NORMAL}     1{NORMAL}     1,000{NORMAL}       200"
	        "{NORMAL}         0{NORMAL}     $0.030\n"
	        "4+0: {TITLE}total            {TITLE}    43{TITLE}   139,210{TITLE}    24,320"
	        "{TITLE}    12,000{TITLE}     $0.492\n");
	c.compact = true;
	area(80, 24, UI_P_MODELS, &w, &h);
	ui_panel_models(&c, w, h, &blk);
	ck_dump(&blk, false,
	        "title: {TITLE}Models{DIM} · today\n"
	        "0+0: {DIM}model                         "
	        "{DIM}  req     in    out cache r      cost\n"
	        "1+0: {NORMAL}sonnet-4                      {NORMAL}   12{NORMAL}    48k"
	        "{NORMAL}   9.1k{NORMAL}     12k{NORMAL}    $0.312\n"
	        "2+0: {NORMAL}3-5-haiku                     {NORMAL}   30{NORMAL}    90k"
	        "{NORMAL}    15k{NORMAL}       0{NORMAL}    $0.150\n"
	        "3+0: {NORMAL}opus-4-1                      {NORMAL}    1{NORMAL}     1k"
	        "{NORMAL}    200{NORMAL}       0{NORMAL}    $0.030\n"
	        "4+0: {TITLE}total                         {TITLE}   43{TITLE}   139k"
	        "{TITLE}    24k{TITLE}     12k{TITLE}    $0.492\n");
	trouble(&snap);
	area(60, 20, UI_P_MODELS, &w, &h);
	ui_panel_models(&c, w, 4, &blk);
	ck_dump(&blk, false,
	        "title: {TITLE}Models{DIM} · today\n"
	        "0+0: {DIM}model                {DIM}  req     in    out cache r      cost\n"
	        "1+0: {NORMAL}sonnet-4             {NORMAL}   12{NORMAL}    48k{NORMAL}   9.1k"
	        "{NORMAL}     12k{NORMAL}    $0.312\n"
	        "2+0: {NORMAL}3-5-haiku            {NORMAL}   30{NORMAL}    90k{NORMAL}    15k"
	        "{NORMAL}       0{NORMAL}    $0.150\n"
	        "3+0: {TITLE}total                {TITLE}   43{TITLE}   139k{TITLE}    24k"
	        "{TITLE}     12k{TITLE}  $0.492+?\n"
	        "3+5: {DIM} (+1 more)\n");
	snap.nmodels = 0;
	snap.total = (am_snap_model){0};
	snap.budget.unknown_prices = false;
	ui_panel_models(&c, w, h, &blk);
	ck_dump(&blk, false,
	        "title: {TITLE}Models{DIM} · today\n"
	        "0+0: {DIM}model                {DIM}  req     in    out cache r      cost\n"
	        "1+0: {DIM}no calls today yet\n"
	        "4+0: {TITLE}total                {TITLE}    0{TITLE}      0{TITLE}      0{TITLE}       0"
	        "{TITLE}     $0.00\n");

	/* A sum under a cent reads as the budget and the answers write it. */
	snap.nmodels = 1;
	snap.model[0] = model("claude-haiku-4-5", 1, 100, 100, 0, 0, 35 * USD / 10000);
	snap.total = snap.model[0];
	ui_panel_models(&c, w, h, &blk);
	ck_assert_ptr_nonnull(strstr(dump(&blk, false), " $0.0035\n"));
}
END_TEST

/* Calls cut short (estimated counts) mark their model's cost and the
 * total's with '~' (the column keeps its width); the other rows are as in
 * models_widths. */
START_TEST(models_estimated_mark)
{
	int w, h;
	busy(&snap);
	snap.model[2].estimated = 1;
	snap.total.estimated = 1;
	ui_panel_ctx c = ctx(&snap, false, false);
	area(120, 40, UI_P_MODELS, &w, &h);
	ui_panel_models(&c, w, h, &blk);
	const char *got = dump(&blk, false);
	ck_assert_msg(strstr(got, "{NORMAL}       200{NORMAL}        0{NORMAL}         0"
	                          "{NORMAL}    $0.030~\n"), "%s", got);
	ck_assert_msg(strstr(got, "{TITLE}    12,000{TITLE}    $0.492~\n"), "%s", got);
	ck_assert_msg(strstr(got, "{NORMAL}     $0.312\n"), "%s", got);
}
END_TEST

/* ---- cache -------------------------------------------------------------------------- */

START_TEST(cache_widths)
{
	int w, h;
	busy(&snap);
	ui_panel_ctx c = ctx(&snap, false, false);
	area(120, 40, UI_P_CACHE, &w, &h);
	ui_panel_cache(&c, w, h, &blk);
	ck_dump(&blk, false,
	        "title: {TITLE}Cache{DIM} · since start\n"
	        "0+0: {NORMAL}hit rate  25.0% {CALM}████{BAR_EMPTY}░░░░░░░░░░░░\n"
	        "1+0: {NORMAL}hits 25 · misses 75\n"
	        "2+0: {CALM}saved $0.081{NORMAL} · 41k tokens\n"
	        "3+0: {DIM}70 entries · 300 KB{DIM} · ttl 24h\n");
	snap.cache.entries = 1;
	snap.cache.ttl_s = 90;
	c.ascii = true;
	ui_panel_cache(&c, w, h, &blk);
	ck_dump(&blk, true,
	        "title: {TITLE}Cache{DIM} - since start\n"
	        "0+0: {NORMAL}hit rate  25.0% {CALM}####{BAR_EMPTY}............\n"
	        "1+0: {NORMAL}hits 25 - misses 75\n"
	        "2+0: {CALM}saved $0.081{NORMAL} - 41k tokens\n"
	        "3+0: {DIM}1 entry - 300 KB{DIM} - ttl 1m30s\n");
	c.ascii = false;
	c.compact = true;
	area(80, 24, UI_P_CACHE, &w, &h);
	ui_panel_cache(&c, w, h, &blk);
	ck_dump(&blk, false,
	        "0+0: {BORDER}── {NORMAL}cache 25.0% hit"
	        "{DIM} · 25/100 · saved $0.081, 41k tok · 1 entry, 300 KB {BORDER}──────────\n");
	area(60, 20, UI_P_CACHE, &w, &h);
	ui_panel_cache(&c, w, h, &blk);
	ck_dump(&blk, false,
	        "0+0: {BORDER}── {NORMAL}cache 25.0% hit"
	        "{DIM} · 25/100 · saved $0.081, 41k tok · 1 ent…\n");
	trouble(&snap);
	ui_panel_cache(&c, w, h, &blk);
	ck_dump(&blk, false,
	        "0+0: {BORDER}── {DIM}cache off "
	        "{BORDER}───────────────────────────────────────────────\n");
	c.compact = false;
	area(120, 40, UI_P_CACHE, &w, &h);
	ui_panel_cache(&c, w, h, &blk);
	ck_dump(&blk, false,
	        "title: {TITLE}Cache{DIM} · since start{WARN} · off\n"
	        "0+0: {WARN}off: /cache on or Alt-c\n"
	        "1+0: {NORMAL}hits 25 · misses 75\n"
	        "2+0: {CALM}saved $0.081{NORMAL} · 41k tokens\n"
	        "3+0: {DIM}70 entries · 300 KB{DIM} · ttl 24h\n");
}
END_TEST

/* ---- hints and "too small" ---------------------------------------------------------- */

START_TEST(hints_widths)
{
	int w, h;
	area(120, 40, UI_P_HINTS, &w, &h);
	ui_panel_hints(w, &blk);
	ck_dump(&blk, false,
	        "0+0: {NORMAL} {KEY}F1{NORMAL} help  {KEY}F10{NORMAL} quit  {KEY}F2/F3"
	        "{NORMAL} RPM -/+  {KEY}F4/F5{NORMAL} ITPM -/+  {KEY}F6/F7{NORMAL} OTPM -/+  "
	        "{KEY}F8/F9{NORMAL} budget -/+  {KEY}F11{NORMAL} pause  "
	        "{KEY}F12{NORMAL} model  \n");
	area(80, 24, UI_P_HINTS, &w, &h);
	ui_panel_hints(w, &blk);
	ck_dump(&blk, false,
	        "0+0: {NORMAL} {KEY}F1{NORMAL} help {KEY}F10{NORMAL} quit {KEY}F2/3{NORMAL} RPM "
	        "{KEY}F4/5{NORMAL} ITPM {KEY}F6/7{NORMAL} OTPM {KEY}F8/9{NORMAL} budget {KEY}F11"
	        "{NORMAL} pause {KEY}F12{NORMAL} model \n");
	ui_panel_hints(60, &blk);
	ck_dump(&blk, true,
	        "0+0: {NORMAL} {KEY}F1{NORMAL} help {KEY}F10{NORMAL} quit {KEY}F2/3{NORMAL} RPM "
	        "{KEY}F4/5{NORMAL} ITPM {KEY}F6/7{NORMAL} OTPM {KEY}F8/9{NORMAL} budget {KEY}~\n");
	ui_panel_toosmall(39, &blk);
	ck_dump(&blk, false,
	        "0+0: {WARN}terminal too small: need 40x6\n");
	ui_panel_toosmall(20, &blk);
	ck_dump(&blk, false,
	        "0+0: {WARN}too small: need 40x6\n");
	ui_panel_toosmall(12, &blk);
	ck_dump(&blk, false, "0+0: {WARN}need 40x6\n");
}
END_TEST

/* ---- curses stays with the painter ---------------------------------------------- */

/* Only the terminal and the painter include curses, directly or through
 * term.h or paint.h; every other ui/ file builds without it. */
START_TEST(builders_curses_free)
{
	static const char *const painters[] = {"curses_inc.h", "term.h", "term.c",
	                                       "paint.h",      "paint.c", "ui.c"};
	static const char *const curses[] = {"\"curses_inc.h\"", "\"term.h\"", "\"paint.h\"",
	                                     "curses.h>"};
	const char *src = getenv("AIMETER_SOURCE_DIR");
	ck_assert_msg(src, "AIMETER_SOURCE_DIR is not set");
	char dir[4096], path[4400], line[1024];
	snprintf(dir, sizeof dir, "%s/ui", src);
	DIR *d = opendir(dir);
	ck_assert_msg(d, "cannot open %s", dir);
	int checked = 0;
	for (struct dirent *e; (e = readdir(d));) {
		size_t n = strlen(e->d_name);
		if (n < 3 || (strcmp(e->d_name + n - 2, ".c") && strcmp(e->d_name + n - 2, ".h")))
			continue;
		bool painter = false;
		for (size_t i = 0; i < sizeof painters / sizeof *painters; i++)
			painter = painter || !strcmp(e->d_name, painters[i]);
		if (painter)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		FILE *f = fopen(path, "r");
		ck_assert_msg(f, "cannot read %s", path);
		while (fgets(line, sizeof line, f)) {
			if (strncmp(line, "#include", 8))
				continue;
			for (size_t i = 0; i < sizeof curses / sizeof *curses; i++)
				ck_assert_msg(!strstr(line, curses[i]), "%s includes %s", e->d_name,
				              curses[i]);
		}
		fclose(f);
		checked++;
	}
	closedir(d);
	ck_assert_int_ge(checked, 6); /* panels, rline, roles, fmt, layout ... */
}
END_TEST

/* ---- the input line's remark ------------------------------------------------------------ */

START_TEST(input_remark)
{
	char b[160];
	ui_input_info in = {.chars = 11, .lines = 1, .fits = true, .model_mode = "auto"};
	ui_input_remark(&in, false, b, sizeof b);
	ck_assert_str_eq(b, "≈3 tok → auto");
	/* the context is sent again; a pinned model is named */
	in.context_tokens = 3280;
	in.model_mode = "claude-opus-4-5-20251101";
	ui_input_remark(&in, false, b, sizeof b);
	ck_assert_str_eq(b, "≈3.3k tok → opus-4-5");
	in.chars = 20126;
	in.lines = 200;
	in.fits = false;
	in.context_tokens = 0;
	ui_input_remark(&in, true, b, sizeof b);
	ck_assert_str_eq(b, "200 lines - 20,126 chars - ~5k tok -> opus-4-5");
	/* a command has no call to preview; empty text says nothing */
	in.command = true;
	in.lines = 1;
	ui_input_remark(&in, false, b, sizeof b);
	ck_assert_str_eq(b, "20,126 chars");
	in.fits = true;
	ui_input_remark(&in, false, b, sizeof b);
	ck_assert_str_eq(b, "");
	in.chars = 0;
	in.command = false;
	ui_input_remark(&in, false, b, sizeof b);
	ck_assert_str_eq(b, "");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("ui_panels");
	TCase *t = tcase_create("panels");
	tcase_add_test(t, rline_fit_cuts);
	tcase_add_test(t, header_widths);
	tcase_add_test(t, header_ascii);
	tcase_add_test(t, budget_full);
	tcase_add_test(t, budget_tags_line);
	tcase_add_test(t, budget_org);
	tcase_add_test(t, budget_compact);
	tcase_add_test(t, budget_ascii);
	tcase_add_test(t, limits_full);
	tcase_add_test(t, limits_compact);
	tcase_add_test(t, models_widths);
	tcase_add_test(t, models_estimated_mark);
	tcase_add_test(t, cache_widths);
	tcase_add_test(t, hints_widths);
	tcase_add_test(t, input_remark);
	tcase_add_test(t, builders_curses_free);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	/* wcwidth needs an UTF-8 LC_CTYPE, as the UI sets at start. */
	if (!check_utf8_locale())
		return EXIT_FAILURE;
	check_fixed_tz();
	return check_run(suite());
}
