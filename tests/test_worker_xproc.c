/* Spend recorded by another process on the same database reaches this
 * worker: its budget, today's table and the burn ring count every ledger
 * row exactly once, and a job whose reservation no longer fits waits as
 * blocked_budget.
 *
 * "Another process" is either a second ledger connection that records rows
 * the way `batch`, `ask` or `aimeter record` do, or a second real worker on
 * the same file. Each worker calls a fake transport that answers at once,
 * on a fake clock of its own that moves only while the test waits for it
 * (each worker scans the ledger about once a second of its clock); waits
 * are bounded waits for the worker's events. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "clock.h"
#include "config.h"
#include "faketp.h"
#include "ledger.h"
#include "money.h"
#include "pricing.h"
#include "tmpdir.h"
#include "workstart.h"
#include "worker.h"

#define USD AM_PUSD_PER_USD
enum { WAIT_MS = 15000 };

/* A worker and the events drained from it but not asked for yet. */
typedef struct peer {
	am_worker *w;
	am_ft *ft;
	am_test_obs obs;
} peer;

static char dir[512], db_path[600];
static am_pricing *pricing;
static peer p1, p2;
static am_ledger *other; /* the other process's connection */

static const char *const fast =
        "\"limits\": {\"rpm\": 100000, \"itpm\": 100000000, \"otpm\": 100000000},"
        " \"cache\": {\"enabled\": false}";

static void setup(void)
{
	am_err err;
	ck_assert_int_eq(am_test_tmpdir("worker_xproc", dir, sizeof dir), 0);
	snprintf(db_path, sizeof db_path, "%s/ledger.db", dir);
	ck_assert_msg(am_test_pricing(&pricing, &err) == 0, "%s", err.msg);
	memset(&p1, 0, sizeof p1);
	memset(&p2, 0, sizeof p2);
	other = NULL;
}

static void peer_stop(peer *p)
{
	am_test_obs_clear(&p->obs);
	am_worker_stop(p->w, 0);
	p->w = NULL;
	am_ft_free(p->ft);
	p->ft = NULL;
}

static void teardown(void)
{
	peer_stop(&p1);
	peer_stop(&p2);
	am_ledger_close(other);
	am_pricing_free(pricing);
	am_test_rmtree(dir);
}

/* Every answer is cut at max_tokens: a call costs exactly its max_tokens
 * of output. */
static void cut_at_max_tokens(void *ctx, const am_ft_call *call, am_ft_answer *ans)
{
	(void)ctx;
	ans->output_tokens = call->max_tokens;
	ans->stop_reason = "max_tokens";
}

/* Starts a worker on `json` (a config file's text) as the dashboard does. */
static void start(peer *p, const char *json, const char *source)
{
	am_err err;
	p->ft = am_ft_new(1000 * AM_NS_PER_SEC, am_clock_wall(am_clock_system()), cut_at_max_tokens,
	                  NULL);
	am_ft_set_manual(p->ft, true);
	p->w = am_test_worker_ft(json, pricing, db_path, p->ft, source, false, &err);
	ck_assert_msg(p->w != NULL, "%s", err.msg);
	p->obs.ops = am_worker_ops(p->w);
	p->obs.wait_ms = WAIT_MS;
	p->obs.ft = p->ft;
	p->obs.step_ns = 250 * AM_NS_PER_MS;
}

/* pred with an integer argument, for am_test_wait_snap. */
typedef struct pred_i64 {
	bool (*pred)(const am_snapshot *, int64_t);
	int64_t arg;
} pred_i64;

static bool call_pred_i64(const am_snapshot *s, const void *arg)
{
	const pred_i64 *p = arg;
	return p->pred(s, p->arg);
}

/* Waits until pred(snapshot) holds; the snapshot is left in *s. */
static bool wait_snap(peer *p, am_snapshot *s, bool (*pred)(const am_snapshot *, int64_t),
                      int64_t arg)
{
	pred_i64 pa = { pred, arg };
	return am_test_wait_snap(&p->obs, s, call_pred_i64, &pa);
}

static bool wait_event(peer *p, am_event_kind kind, int64_t job, const char *text,
                       am_event *out)
{
	return am_test_wait_event(&p->obs, kind, job, text, out);
}

/* A short prompt with a 10-token answer (cut_at_max_tokens: the call
 * costs exactly 10 output tokens), counted under tag (NULL: untagged). */
static int64_t submit_tagged(peer *p, const char *text, const char *model, const char *tag)
{
	am_turn t = { "user", text };
	am_prompt pr = { 0 };
	pr.turns = &t;
	pr.nturns = 1;
	pr.model = model;
	pr.max_tokens = 10;
	pr.no_cache = true;
	pr.tag = tag;
	int64_t id = -1;
	am_err err;
	ck_assert_msg(p->obs.ops.submit(p->obs.ops.ctx, &pr, &id, &err) == 0, "%s", err.msg);
	return id;
}

static int64_t submit(peer *p, const char *text, const char *model)
{
	return submit_tagged(p, text, model, NULL);
}

/* Runs one job to completion; returns its cost. */
static int64_t call(peer *p, const char *text, const char *model)
{
	int64_t job = submit(p, text, model);
	am_event ev;
	ck_assert_msg(wait_event(p, AM_EV_DONE, job, NULL, &ev), "job %lld not done",
	              (long long)job);
	ck_assert(ev.price_known);
	ck_assert_int_gt(ev.cost_pusd, 0);
	return ev.cost_pusd;
}

/* Events of `kind` among those the worker has queued so far. */
static int count_events(peer *p, am_event_kind kind)
{
	am_test_obs_drain(&p->obs);
	int k = 0;
	for (int i = 0; i < p->obs.nbacklog; i++)
		k += p->obs.backlog[i].kind == kind;
	return k;
}

static void set_day_limit(peer *p, int64_t pusd)
{
	am_command c = { 0 };
	c.kind = AM_CMD_SET_BUDGET_DAY;
	c.value = pusd;
	am_err err;
	ck_assert_msg(p->obs.ops.command(p->obs.ops.ctx, &c, &err) == 0, "%s", err.msg);
}

/* What the other process records: one call of `model`. */
static void record_other(const char *model, int64_t in, int64_t out, bool known, int64_t cost)
{
	am_err err;
	if (!other)
		ck_assert_msg(am_ledger_open(&other, db_path, NULL, &err) == 0, "%s", err.msg);
	am_ledger_event ev = { 0 };
	ev.ts_ns = am_clock_wall(am_clock_system());
	ev.model = model;
	ev.usage.input_tokens = in;
	ev.usage.output_tokens = out;
	ev.price_known = known;
	ev.cost_pusd = cost;
	ev.latency_ms = -1;
	ev.source = "batch";
	ck_assert_msg(am_ledger_record(other, &ev, &err) == 1, "%s", err.msg);
}

static bool day_spent_is(const am_snapshot *s, int64_t v)
{
	return s->budget.day_spent_pusd == v;
}

static bool blocked_is(const am_snapshot *s, int64_t v)
{
	return s->budget.blocked_jobs == v;
}

static const am_snap_model *row_of(const am_snapshot *s, const char *prefix)
{
	for (int i = 0; i < s->nmodels; i++)
		if (!strncmp(s->model[i].model, prefix, strlen(prefix)))
			return &s->model[i];
	return NULL;
}

static void assert_row(const am_snapshot *s, const char *model, int64_t requests, int64_t cost,
                       bool known)
{
	const am_snap_model *m = row_of(s, model);
	ck_assert_msg(m != NULL, "no row for %s", model);
	ck_assert_int_eq(m->requests, requests);
	ck_assert_int_eq(m->cost_pusd, cost);
	ck_assert_int_eq(m->price_known, known);
}

static int64_t spark_sum(const am_snapshot *s)
{
	int64_t sum = 0;
	for (int i = 0; i < AM_SNAP_SPARK; i++)
		sum += s->budget.spend_per_min[i];
	return sum;
}

/* What a row of an unpriced model is charged: the dearest model's prices. */
static int64_t dearest_cost(int64_t in, int64_t out)
{
	am_usage u = { .input_tokens = in, .output_tokens = out };
	int64_t c = 0;
	ck_assert_int_eq(am_cost(am_pricing_most_expensive(pricing), &u, false, &c, NULL), 0);
	return c;
}

/* Rows another connection records reach the budget, the table and the
 * sparkline once each; the worker's own rows, interleaved with them, are
 * not counted again; spend from elsewhere that leaves too little blocks the
 * next job until the limit is raised. */
START_TEST(spend_recorded_elsewhere_counts_once_and_blocks)
{
	char json[512];
	snprintf(json, sizeof json, "{%s, \"budget\": {\"daily_usd\": \"1\", \"alert_pct\": [80]}}",
	         fast);
	start(&p1, json, "console");
	am_snapshot s;

	/* Our row A lands between the other's F1 and F2. */
	const int64_t f1 = USD / 4;
	record_other("claude-sonnet-4-5", 1000, 500, true, f1);
	int64_t a = call(&p1, "first", NULL);
	record_other("mystery-model-x", 100, 100, false, 0);
	int64_t f2 = dearest_cost(100, 100);
	ck_assert_msg(wait_snap(&p1, &s, day_spent_is, f1 + a + f2),
	              "day spent %lld, want %lld", (long long)s.budget.day_spent_pusd,
	              (long long)(f1 + a + f2));
	ck_assert_int_eq(s.budget.month_spent_pusd, f1 + a + f2);
	ck_assert(s.budget.unknown_prices);
	ck_assert_int_eq(s.nmodels, 3);
	assert_row(&s, "claude-sonnet-4-5", 1, f1, true);
	assert_row(&s, "claude-haiku-4-5", 1, a, true);
	assert_row(&s, "mystery-model-x", 1, 0, false);
	ck_assert_int_eq(s.total.requests, 3);
	ck_assert_int_eq(spark_sum(&s), f1 + a + f2);

	/* The other process leaves one picodollar of today's dollar. */
	int64_t f3 = USD - 1 - (f1 + a + f2);
	record_other("claude-sonnet-4-5", 10, 10, true, f3);
	ck_assert(wait_snap(&p1, &s, day_spent_is, USD - 1));
	ck_assert(wait_event(&p1, AM_EV_ALERT, 0, "80% of the daily limit", NULL));
	int64_t b = submit(&p1, "second", NULL);
	am_event ev;
	ck_assert(wait_event(&p1, AM_EV_BLOCKED, b, "daily limit", &ev));
	ck_assert(wait_snap(&p1, &s, blocked_is, 1));
	ck_assert_int_eq(s.done, 1);

	/* A raised limit lets it through; the other's next row, after ours,
	 * shows the scan has passed our row B without counting it. */
	set_day_limit(&p1, 2 * USD);
	ck_assert(wait_event(&p1, AM_EV_DONE, b, NULL, &ev));
	const int64_t f4 = 7;
	record_other("claude-sonnet-4-5", 1, 1, true, f4);
	ck_assert_msg(wait_snap(&p1, &s, day_spent_is, USD - 1 + ev.cost_pusd + f4),
	              "day spent %lld", (long long)s.budget.day_spent_pusd);
	ck_assert_int_eq(s.budget.blocked_jobs, 0);
	assert_row(&s, "claude-haiku-4-5", 2, a + ev.cost_pusd, true);
	assert_row(&s, "claude-sonnet-4-5", 3, f1 + f3 + f4, true);
	ck_assert_int_eq(s.total.requests, 6);
	ck_assert_int_eq(spark_sum(&s), USD - 1 + ev.cost_pusd + f4);
	/* The 80% alert fired once. */
	ck_assert_int_eq(count_events(&p1, AM_EV_ALERT), 0);
}
END_TEST

/* Two workers on one database: each sees the other's calls in its budget
 * and its table, counts its own once, and a limit the other's spend has
 * used up blocks the next job. */
START_TEST(two_workers_guard_one_limit)
{
	char json[512];
	snprintf(json, sizeof json, "{%s, \"budget\": {\"daily_usd\": \"1\"}}", fast);
	start(&p1, json, "console");
	snprintf(json, sizeof json, "{%s, \"budget\": {\"daily_usd\": \"0\"}}", fast);
	start(&p2, json, "ask");
	am_snapshot s;

	int64_t c2 = call(&p2, "from the other one", "claude-opus-4-5");
	ck_assert(wait_snap(&p1, &s, day_spent_is, c2));
	assert_row(&s, "claude-opus-4-5", 1, c2, true);
	ck_assert_int_eq(spark_sum(&s), c2);

	int64_t c1 = call(&p1, "from this one", NULL);
	ck_assert_msg(wait_snap(&p2, &s, day_spent_is, c1 + c2), "p2 day spent %lld",
	              (long long)s.budget.day_spent_pusd);
	assert_row(&s, "claude-opus-4-5", 1, c2, true);
	assert_row(&s, "claude-haiku-4-5", 1, c1, true);
	ck_assert(wait_snap(&p1, &s, day_spent_is, c1 + c2));
	ck_assert_int_eq(s.total.requests, 2);

	/* Less room than a 10-token Haiku call reserves (10 × $5/MTok alone is
	 * 50,000,000 pUSD), but more than enough had p1 counted only its own
	 * call: the Opus call of p2 costs several times that. */
	ck_assert_int_gt(c2, 100000000);
	set_day_limit(&p1, c1 + c2 + 10000000);
	int64_t b = submit(&p1, "one more", NULL);
	ck_assert(wait_event(&p1, AM_EV_BLOCKED, b, "daily limit", NULL));
	ck_assert(wait_snap(&p1, &s, blocked_is, 1));
	ck_assert_int_eq(s.budget.day_spent_pusd, c1 + c2);
}
END_TEST

/* ---- settings: one truth, shared by every process on the ledger ---------- */

static int send_command(peer *p, am_cmd_kind kind, int64_t value, const char *pool,
                        const char *text, am_err *err)
{
	am_command c = { 0 };
	c.kind = kind;
	c.value = value;
	c.persist = true;
	snprintf(c.pool, sizeof c.pool, "%s", pool ? pool : "");
	snprintf(c.text, sizeof c.text, "%s", text ? text : "");
	memset(err, 0, sizeof *err);
	return p->obs.ops.command(p->obs.ops.ctx, &c, err);
}

static bool day_limit_is(const am_snapshot *s, int64_t v)
{
	return s->budget.day_limit_pusd == v;
}

static bool some_rpm_limit_is(const am_snapshot *s, int64_t v)
{
	for (int i = 0; i < s->npools; i++)
		for (int d = 0; d < s->pool[i].ndims; d++)
			if (!strcmp(s->pool[i].dim[d].name, "RPM") && s->pool[i].dim[d].limit == v)
				return true;
	return false;
}

static int count_setting(void *ctx, const char *key, const char *value, int64_t ns)
{
	(void)value;
	(void)ns;
	if (!strncmp(key, "limits.pools.", 13) && strstr(key, ".rpm"))
		++*(int *)ctx;
	return 0;
}

/* A budget and a global limit set in one worker reach the other on the same
 * ledger within a few seconds of its clock; the global limit replaces the
 * saved per-pool ones of its dimension; an unknown pool or model is refused
 * at once, saying what is known. */
START_TEST(settings_reach_the_other_worker)
{
	start(&p1, "{\"limits\": {\"rpm\": 100000}}", "console");
	start(&p2, "{\"limits\": {\"rpm\": 100000}}", "console");
	am_err err;
	am_snapshot s;

	ck_assert_int_eq(send_command(&p1, AM_CMD_SET_RPM, 100, "nosuchpool", NULL, &err), -1);
	ck_assert_msg(strstr(err.msg, "no pool 'nosuchpool'") && strstr(err.msg, "default"), "%s",
	              err.msg);
	ck_assert_int_eq(send_command(&p1, AM_CMD_SET_MODEL, 0, NULL, "claude-foo-9", &err), -1);
	ck_assert_msg(strstr(err.msg, "unknown model 'claude-foo-9'") &&
	                      strstr(err.msg, "claude-haiku-4-5"),
	              "%s", err.msg);
	ck_assert_int_eq(send_command(&p1, AM_CMD_SET_MODEL, 0, NULL, "claude-haiku-4-5", &err), 0);

	/* An F-key's per-pool limit, then a global one: the per-pool row goes. */
	ck_assert_msg(send_command(&p1, AM_CMD_SET_RPM, 24, "default", NULL, &err) == 0, "%s",
	              err.msg);
	ck_assert(wait_event(&p2, AM_EV_NOTICE, 0, "limits.pools.default.rpm = 24", NULL));
	ck_assert_msg(send_command(&p1, AM_CMD_SET_RPM, 4321, NULL, NULL, &err) == 0, "%s",
	              err.msg);
	ck_assert(wait_event(&p2, AM_EV_NOTICE, 0, "limits.rpm = 4321", NULL));
	ck_assert_int_eq(am_ledger_open(&other, db_path, &(am_ledger_opts){ 0 }, &err), 0);
	int per_pool = 0;
	ck_assert_int_eq(am_ledger_settings_each(other, count_setting, &per_pool, &err), 0);
	ck_assert_int_eq(per_pool, 0);
	char *v = NULL;
	ck_assert_int_eq(am_ledger_setting_get(other, "limits.rpm", &v, &err), 1);
	ck_assert_str_eq(v, "4321");
	free(v);
	/* p2's limiter took it: a call shows its pool at 4321 RPM */
	call(&p2, "after the change", "claude-haiku-4-5");
	ck_assert(wait_snap(&p2, &s, some_rpm_limit_is, 4321));

	ck_assert_msg(send_command(&p1, AM_CMD_SET_BUDGET_DAY, 7 * USD, NULL, NULL, &err) == 0,
	              "%s", err.msg);
	ck_assert(wait_snap(&p2, &s, day_limit_is, 7 * USD));
	/* and the other way round */
	ck_assert_msg(send_command(&p2, AM_CMD_SET_BUDGET_DAY, 3 * USD, NULL, NULL, &err) == 0,
	              "%s", err.msg);
	ck_assert(wait_snap(&p1, &s, day_limit_is, 3 * USD));
	ck_assert_str_eq(s.model_mode, "claude-haiku-4-5");
	/* money in the notice reads as money, whatever digits the row holds */
	ck_assert(wait_event(&p1, AM_EV_NOTICE, 0, "budget.daily_usd = $3.00", NULL));
	ck_assert_int_eq(am_ledger_setting_set(other, "budget.daily_usd", "4.250000000000",
	                                       am_clock_wall(am_clock_system()), &err), 0);
	ck_assert(wait_event(&p1, AM_EV_NOTICE, 0, "budget.daily_usd = $4.25", NULL));
	ck_assert(wait_snap(&p1, &s, day_limit_is, 425 * USD / 100));
}
END_TEST

static void set_tag_limit(peer *p, const char *tag, int64_t pusd)
{
	am_err err;
	ck_assert_msg(send_command(p, AM_CMD_SET_TAG_BUDGET, pusd, NULL, tag, &err) == 0, "%s",
	              err.msg);
}

static int64_t tag_limit_of(const am_snapshot *s, const char *tag)
{
	for (int i = 0; i < s->ntags; i++)
		if (!strcmp(s->tag[i].tag, tag))
			return s->tag[i].limit_pusd;
	return -1;
}

static bool capped_limit_is(const am_snapshot *s, int64_t v)
{
	return tag_limit_of(s, "capped") == v;
}

/* A tag's own daily limit changes while the worker runs, from a command or
 * from another process: lowered, the tag's next call waits blocked (other
 * calls go on); raised, the blocked call goes at once; the setting is saved
 * for the next start and reaches the other worker on the ledger; removed
 * there, it is gone here too. A bad tag or amount is refused at once. */
START_TEST(a_tag_limit_changes_while_running)
{
	start(&p1, "{\"limits\": {\"rpm\": 100000}, \"budget\": {\"daily_usd\": \"100\"}}",
	      "console");
	start(&p2, "{\"limits\": {\"rpm\": 100000}, \"budget\": {\"daily_usd\": \"100\"}}",
	      "console");
	am_err err;
	am_snapshot s;
	ck_assert_int_eq(send_command(&p1, AM_CMD_SET_TAG_BUDGET, USD, NULL, NULL, &err), -1);
	ck_assert_msg(strstr(err.msg, "needs the tag"), "%s", err.msg);
	ck_assert_int_eq(send_command(&p1, AM_CMD_SET_TAG_BUDGET, USD, NULL, "has space", &err), -1);
	ck_assert_int_eq(send_command(&p1, AM_CMD_SET_TAG_BUDGET, -1, NULL, "capped", &err), -1);

	/* A limit of one pUSD: the tag's call cannot reserve its worst case. */
	set_tag_limit(&p1, "capped", 1);
	ck_assert(wait_snap(&p1, &s, capped_limit_is, 1));
	int64_t job = submit_tagged(&p1, "a capped question", "claude-haiku-4-5", "capped");
	ck_assert(wait_event(&p1, AM_EV_BLOCKED, job, "tag capped", NULL));
	/* an untagged call is not held back by it */
	call(&p1, "an untagged question", "claude-haiku-4-5");
	ck_assert(wait_snap(&p1, &s, blocked_is, 1));

	/* Raised: the blocked call goes. */
	set_tag_limit(&p1, "capped", USD);
	am_event ev;
	ck_assert_msg(wait_event(&p1, AM_EV_DONE, job, NULL, &ev), "the capped job stayed blocked");
	ck_assert_int_gt(ev.cost_pusd, 0);
	ck_assert(wait_snap(&p1, &s, blocked_is, 0));

	/* Saved, and taken by the other worker on the same ledger. */
	ck_assert_int_eq(am_ledger_open(&other, db_path, &(am_ledger_opts){ 0 }, &err), 0);
	char *v = NULL;
	ck_assert_int_eq(am_ledger_setting_get(other, "budget.tags.capped", &v, &err), 1);
	int64_t saved = -1;
	ck_assert_int_eq(am_money_parse_usd(v, &saved, &err), 0);
	free(v);
	ck_assert_int_eq(saved, USD);
	ck_assert(wait_event(&p2, AM_EV_NOTICE, 0, "budget.tags.capped = $1.00", NULL));
	ck_assert(wait_snap(&p2, &s, capped_limit_is, USD));

	/* Removed in the other worker ("0"), and here by another process's
	 * empty value: either way no limit of its own is left. */
	set_tag_limit(&p2, "capped", 0);
	ck_assert(wait_snap(&p1, &s, capped_limit_is, 0));
	set_tag_limit(&p1, "capped", 2 * USD);
	ck_assert(wait_snap(&p1, &s, capped_limit_is, 2 * USD));
	ck_assert_int_eq(am_ledger_setting_set(other, "budget.tags.capped", "",
	                                       am_clock_wall(am_clock_system()), &err), 0);
	ck_assert(wait_snap(&p1, &s, capped_limit_is, 0));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("worker_xproc");
	TCase *tc = tcase_create("xproc");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, spend_recorded_elsewhere_counts_once_and_blocks);
	tcase_add_test(tc, two_workers_guard_one_limit);
	tcase_add_test(tc, settings_reach_the_other_worker);
	tcase_add_test(tc, a_tag_limit_changes_while_running);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	check_fixed_tz();
	return check_run(suite());
}
