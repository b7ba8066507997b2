/* test_pipeline_worker: the worker in this process, driven through its
 * engine ops against the simulator, so that TSan sees both sides (the
 * observer here, the worker thread) and the test sees every event:
 *
 *  - faults (529, 500 and mid-stream errors at 10% each) on streamed
 *    calls: every job ends exactly once, done or failed with its error;
 *    each done job has one ledger row, the deltas after its last STARTED
 *    event are its answer, and the simulator delivered exactly as many
 *    whole answers as there are rows;
 *  - the snapshot's cache stats after identical prompts;
 *  - blocked jobs finish when a command raises the daily limit, and a limit
 *    raised only part of the way is never overshot. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "check_run.h"
#include "workfix.h"

static am_wf f;

static void teardown(void)
{
	am_wf_free(&f);
}

static void init(const char *tag)
{
	am_err err = {0};
	ck_assert_msg(am_wf_init(&f, tag, &err) == 0, "%s", err.msg);
}

static void set(const char *key, const char *value)
{
	am_err err = {0};
	ck_assert_msg(am_wf_set(&f, key, value, &err) == 0, "%s: %s", key, err.msg);
}

static void start(const am_sim_cfg *sc)
{
	am_err err = {0};
	ck_assert_msg(am_wf_start(&f, sc, &err) == 0, "%s", err.msg);
}

static int64_t submit(const char *prompt, int64_t max_tokens, bool stream)
{
	am_err err = {0};
	int64_t h = am_wf_submit(&f, prompt, max_tokens, stream, false, &err);
	ck_assert_msg(h > 0, "%s", err.msg);
	return h;
}

static int64_t db_i64(const char *sql)
{
	sqlite3 *db;
	ck_assert_int_eq(sqlite3_open_v2(f.db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	sqlite3_stmt *st;
	ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, "%s",
	              sqlite3_errmsg(db));
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* ---- per-job bookkeeping from the events ------------------------------- */

enum { MAXJ = 256 };

typedef struct jobrec {
	int64_t handle;
	int finals;             /* DONE + FAILED + CANCELLED events */
	int started, blocked;
	bool done, failed;
	char text[8192];        /* deltas since the last STARTED */
	am_usage usage;
	int64_t cost;
	bool cached;
	bool estimated;         /* done, cut short after message_start */
	char error[256];
} jobrec;

typedef struct book {
	jobrec j[MAXJ];
	int n;
	int finals, blocked_events, unknown;
} book;

static jobrec *rec_of(book *b, int64_t handle)
{
	for (int i = 0; i < b->n; i++)
		if (b->j[i].handle == handle)
			return &b->j[i];
	return NULL;
}

static void on_event(void *ctx, const am_event *ev)
{
	book *b = ctx;
	if (ev->kind == AM_EV_NOTICE || ev->kind == AM_EV_ALERT)
		return;
	jobrec *r = rec_of(b, ev->job_id);
	if (!r) {
		b->unknown++;
		return;
	}
	switch (ev->kind) {
	case AM_EV_STARTED:
		r->started++;
		r->text[0] = '\0';
		break;
	case AM_EV_DELTA:
		ck_assert_int_lt(strlen(r->text) + strlen(ev->text), sizeof r->text);
		strcat(r->text, ev->text);
		break;
	case AM_EV_DONE:
		r->finals++;
		b->finals++;
		r->done = true;
		r->usage = ev->usage;
		r->cost = ev->cost_pusd;
		r->cached = ev->cached;
		r->estimated = ev->estimated;
		snprintf(r->error, sizeof r->error, "%s", ev->error);
		break;
	case AM_EV_FAILED:
	case AM_EV_CANCELLED:
		r->finals++;
		b->finals++;
		r->failed = true;
		snprintf(r->error, sizeof r->error, "%s", ev->error);
		break;
	case AM_EV_BLOCKED:
		r->blocked++;
		b->blocked_events++;
		break;
	default:
		break;
	}
}

static void add(book *b, int64_t handle)
{
	ck_assert_int_lt(b->n, MAXJ);
	memset(&b->j[b->n], 0, sizeof b->j[0]);
	b->j[b->n++].handle = handle;
}

enum { STREAM_NONE, STREAM_ALL, STREAM_ODD };

/* Submits n prompts "<what> <i>" and books their handles. */
static void submit_many(book *b, int n, const char *what, int64_t max_tokens, int stream)
{
	for (int i = 0; i < n; i++) {
		char p[96];
		snprintf(p, sizeof p, "%s %d", what, i);
		bool st = stream == STREAM_ALL || (stream == STREAM_ODD && i % 2);
		add(b, submit(p, max_tokens, st));
	}
}

/* Pumps events until cond holds or timeout_s passes (real I/O: bounded). */
static bool pump_until(book *b, bool (*cond)(const book *, int), int arg, int timeout_s)
{
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!cond(b, arg)) {
		am_wf_pump(&f, 100, on_event, b);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > timeout_s)
			return false;
	}
	return true;
}

static bool finals_at_least(const book *b, int n)
{
	return b->finals >= n;
}

static bool blocked_at_least(const book *b, int n)
{
	return b->blocked_events >= n;
}

static void wait_quiet(void)
{
	for (int i = 0; i < 300 && !am_worker_quiet(f.w, NULL); i++)
		am_wf_pump(&f, 100, NULL, NULL);
	ck_assert(am_worker_quiet(f.w, NULL));
}

static void snapshot(am_snapshot *s)
{
	f.ops.snapshot(f.ops.ctx, s);
}

/* Waits for a snapshot published after everything settled. */
static void settled_snapshot(am_snapshot *s, bool (*ok)(const am_snapshot *))
{
	for (int i = 0; i < 100; i++) {
		snapshot(s);
		if (ok(s))
			return;
		am_wf_pump(&f, 50, NULL, NULL);
	}
	ck_abort_msg("the snapshot never settled");
}

/* ---- faults ---------------------------------------------------------------- */

START_TEST(streamed_calls_under_faults_end_exactly_once)
{
	init("pipe-wfaults");
	set("client.max_retries", "2");
	set("cache.enabled", "false");
	am_sim_cfg sc;
	am_sim_cfg_default(&sc);
	sc.latency_ms = 10;
	sc.tokens_per_second = 4000;
	sc.fault_529 = 0.1;
	sc.fault_500 = 0.1;
	sc.fault_midstream = 0.1;
	sc.seed = 21;
	start(&sc);
	static book b;
	memset(&b, 0, sizeof b);
	const int n = 150;
	submit_many(&b, n, "Streamed question", 40, STREAM_ALL);
	ck_assert_msg(pump_until(&b, finals_at_least, n, 50), "%d of %d jobs ended", b.finals, n);
	/* Let late duplicates, if any, arrive. */
	am_wf_pump(&f, 200, on_event, &b);
	ck_assert_int_eq(b.unknown, 0);
	int done = 0, failed = 0, estimated = 0;
	for (int i = 0; i < n; i++) {
		jobrec *r = &b.j[i];
		ck_assert_msg(r->finals == 1, "job %lld ended %d times", (long long)r->handle,
		              r->finals);
		ck_assert_int_ge(r->started, 1);
		if (r->done && r->estimated) {
			/* A stream cut after message_start: recorded, estimated. */
			estimated++;
			ck_assert(r->usage.output_tokens >= 1 && r->usage.output_tokens <= 40);
			ck_assert_int_gt(r->usage.input_tokens, 0);
			ck_assert_msg(r->error[0], "job %lld: estimated without a reason",
			              (long long)r->handle);
		} else if (r->done) {
			done++;
			ck_assert(r->usage.output_tokens >= 1 && r->usage.output_tokens <= 40);
			ck_assert_int_gt(strlen(r->text), 0);
		} else {
			failed++;
			ck_assert_msg(strstr(r->error, "HTTP 529") || strstr(r->error, "HTTP 500") ||
			                  strstr(r->error, "verloaded"),
			              "job %lld: '%s'", (long long)r->handle, r->error);
		}
	}
	ck_assert_int_gt(done, n / 2);
	am_sim_stats ss;
	am_sim_get_stats(f.sim, &ss);
	ck_assert_int_gt(ss.overloaded, 0);
	ck_assert_int_gt(ss.server_errors, 0);
	ck_assert_int_gt(ss.midstream_errors, 0);
	ck_assert_int_gt(estimated, 0);
	ck_assert_int_eq(ss.rate_limited, 0);

	/* The database agrees: each done job once in the ledger, with the
	 * streamed text as its result. */
	am_wf_stop_worker(&f, 1000);
	ck_assert_int_eq(db_i64("SELECT count(*) FROM jobs"), n);
	ck_assert_int_eq(db_i64("SELECT count(*) FROM jobs WHERE state = 'done'"), done);
	ck_assert_int_eq(db_i64("SELECT count(*) FROM jobs WHERE state = 'failed' AND "
	                        "error <> ''"),
	                 failed + estimated);
	ck_assert_int_eq(db_i64("SELECT count(*) FROM usage_events"), done + estimated);
	ck_assert_int_eq(db_i64("SELECT count(*) FROM usage_events WHERE estimated = 1"), estimated);
	ck_assert_int_eq(db_i64("SELECT count(DISTINCT job_id) FROM usage_events"), done + estimated);
	ck_assert_int_eq(db_i64("SELECT count(*) FROM jobs j JOIN usage_events u ON u.job_id = "
	                        "j.id WHERE j.state <> 'done' AND u.estimated = 0"),
	                 0);
	/* Each whole answer the simulator delivered is one row: nothing that
	 * succeeded was sent again. */
	ck_assert_int_eq(ss.ok, done);
	sqlite3 *db;
	ck_assert_int_eq(sqlite3_open_v2(f.db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_stmt *st;
	ck_assert(sqlite3_prepare_v2(db, "SELECT result FROM jobs WHERE id = ?", -1, &st, NULL) ==
	          SQLITE_OK);
	/* Handles of console jobs are given in submit order, as are job ids. */
	int64_t first_id = db_i64("SELECT min(id) FROM jobs");
	for (int i = 0; i < n; i++) {
		if (!b.j[i].done)
			continue;
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, first_id + i);
		ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
		ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), b.j[i].text);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
}
END_TEST

/* ---- the simulator's fixed answer length (for the benchmark) --------------- */

START_TEST(a_fixed_answer_length_is_cut_by_max_tokens)
{
	init("pipe-wlen");
	set("cache.enabled", "false");
	am_sim_cfg sc;
	am_sim_cfg_default(&sc);
	sc.output_tokens = 25;
	start(&sc);
	static book b;
	memset(&b, 0, sizeof b);
	submit_many(&b, 6, "Length question", 100, STREAM_ODD);
	add(&b, submit("Length question cut", 10, false));
	ck_assert(pump_until(&b, finals_at_least, 7, 30));
	for (int i = 0; i < 6; i++)
		ck_assert_int_eq(b.j[i].usage.output_tokens, 25);
	ck_assert_int_eq(b.j[6].usage.output_tokens, 10);
}
END_TEST

/* ---- cache stats in the snapshot ------------------------------------------ */

static bool twenty_requests(const am_snapshot *s)
{
	return s->total.requests == 20 && s->cache.hits == 10 && s->queue_depth == 0 &&
	       s->in_flight == 0;
}

START_TEST(the_snapshot_counts_cache_hits_and_savings)
{
	init("pipe-wcache");
	am_sim_cfg sc;
	am_sim_cfg_default(&sc);
	sc.latency_ms = 5;
	start(&sc);
	static book b;
	memset(&b, 0, sizeof b);
	for (int round = 0; round < 2; round++) {
		submit_many(&b, 10, "Cache me", 30, round == 1 ? STREAM_ALL : STREAM_NONE);
		ck_assert(pump_until(&b, finals_at_least, 10 * (round + 1), 30));
	}
	int64_t paid = 0, saved_tokens = 0;
	for (int i = 0; i < 10; i++) {
		ck_assert(b.j[i].done && !b.j[i].cached && b.j[i].cost > 0);
		ck_assert(b.j[10 + i].done && b.j[10 + i].cached && b.j[10 + i].cost == 0);
		/* The replayed stream is the original answer. */
		ck_assert_str_eq(b.j[10 + i].text, b.j[i].text);
		ck_assert_int_eq(b.j[10 + i].usage.output_tokens, b.j[i].usage.output_tokens);
		paid += b.j[i].cost;
		saved_tokens += b.j[i].usage.input_tokens + b.j[i].usage.output_tokens;
	}
	am_sim_stats ss;
	am_sim_get_stats(f.sim, &ss);
	ck_assert_int_eq(ss.requests, 10);
	am_snapshot s;
	settled_snapshot(&s, twenty_requests);
	ck_assert(s.cache.enabled);
	ck_assert_int_eq(s.cache.hits, 10);
	ck_assert_int_eq(s.cache.misses, 10);
	ck_assert_int_eq(s.cache.entries, 10);
	ck_assert_int_gt(s.cache.bytes, 0);
	ck_assert_int_eq(s.cache.saved_pusd, paid);
	ck_assert_int_eq(s.cache.saved_tokens, saved_tokens);
	ck_assert_int_eq(s.total.cost_pusd, paid);
	ck_assert_int_eq(s.done, 20);
	ck_assert_int_eq(s.budget.day_spent_pusd, paid);
	wait_quiet();
	ck_assert_int_eq(db_i64("SELECT sum(cost_pusd) FROM usage_events"), paid);
	ck_assert_int_eq(db_i64("SELECT sum(saved_pusd) FROM usage_events WHERE cached = 1"), paid);
}
END_TEST

/* ---- the budget raised by a command -------------------------------------- */

static bool nothing_moving(const am_snapshot *s)
{
	return s->queue_depth == 0 && s->in_flight == 0 && s->budget.reserved_pusd == 0;
}

static bool forty_blocked(const am_snapshot *s)
{
	return nothing_moving(s) && s->budget.blocked_jobs == 40;
}

START_TEST(blocked_jobs_finish_when_a_command_raises_the_limit)
{
	init("pipe-wbudget");
	set("budget.daily_usd", "0.000001");
	set("cache.enabled", "false");
	am_sim_cfg sc;
	am_sim_cfg_default(&sc);
	sc.latency_ms = 100;
	start(&sc);
	static book b;
	memset(&b, 0, sizeof b);
	const int n = 40;
	submit_many(&b, n, "Budget command question", 50, STREAM_ODD);
	ck_assert_msg(pump_until(&b, blocked_at_least, n, 30), "%d blocked", b.blocked_events);
	am_snapshot s;
	settled_snapshot(&s, forty_blocked);
	ck_assert_int_eq(b.finals, 0);
	am_sim_stats ss;
	am_sim_get_stats(f.sim, &ss);
	ck_assert_int_eq(ss.requests, 0);

	/* Part of the way: $0.003 holds about ten worst cases. */
	const int64_t mid = 3000000000LL;
	am_command c = { .kind = AM_CMD_SET_BUDGET_DAY, .value = mid };
	am_err err = {0};
	ck_assert_msg(f.ops.command(f.ops.ctx, &c, &err) == 0, "%s", err.msg);
	int64_t spent = 0;
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		am_wf_pump(&f, 100, on_event, &b);
		snapshot(&s);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (!(b.finals > 0 && nothing_moving(&s) && s.budget.blocked_jobs + b.finals == n &&
	           am_worker_quiet(f.w, NULL)) &&
	         t.tv_sec - t0.tv_sec < 30);
	ck_assert_int_gt(b.finals, 0);
	ck_assert_int_lt(b.finals, n);
	for (int i = 0; i < n; i++)
		if (b.j[i].done)
			spent += b.j[i].cost;
	ck_assert_int_le(spent, mid);
	ck_assert_int_le(s.budget.day_spent_pusd, mid);

	/* All the way: every blocked job finishes, none twice. */
	c.value = 1000000000000LL;
	ck_assert(f.ops.command(f.ops.ctx, &c, &err) == 0);
	ck_assert_msg(pump_until(&b, finals_at_least, n, 30), "%d of %d finished", b.finals, n);
	for (int i = 0; i < n; i++) {
		ck_assert_int_eq(b.j[i].finals, 1);
		ck_assert(b.j[i].done);
	}
	am_sim_get_stats(f.sim, &ss);
	ck_assert_int_eq(ss.ok, n);
	/* The database holds it all once the worker is quiet. */
	wait_quiet();
	ck_assert_int_eq(db_i64("SELECT count(DISTINCT job_id) FROM usage_events"), n);
	ck_assert_int_eq(db_i64("SELECT count(*) FROM usage_events"), n);
}
END_TEST

/* ---- stopping mid-stream ----------------------------------------------------- */

/* A worker stopped while a stream is under way (after message_start), with
 * no grace: the begun stream is billed, so it is recorded once, estimated,
 * and its job ends (it is not re-sent at the next start). */
START_TEST(a_stop_mid_stream_records_what_began)
{
	init("pipe-wstop");
	set("cache.enabled", "false");
	am_sim_cfg sc;
	am_sim_cfg_default(&sc);
	sc.tokens_per_second = 20; /* a 400-token answer takes 20 s */
	start(&sc);
	static book b;
	memset(&b, 0, sizeof b);
	int64_t h = submit("A long story, please", 400, true);
	b.j[b.n++].handle = h;
	bool begun = false;
	for (int i = 0; i < 100 && !begun; i++) {
		am_wf_pump(&f, 100, on_event, &b);
		begun = strlen(b.j[0].text) > 0;
	}
	ck_assert_msg(begun, "the stream never began");
	am_wf_stop_worker(&f, 0);
	ck_assert_int_eq(db_i64("SELECT count(*) FROM usage_events"), 1);
	ck_assert_int_eq(db_i64("SELECT estimated FROM usage_events"), 1);
	ck_assert_int_gt(db_i64("SELECT input_tokens FROM usage_events"), 0);
	ck_assert_int_ge(db_i64("SELECT output_tokens FROM usage_events"), 1);
	ck_assert_int_le(db_i64("SELECT output_tokens FROM usage_events"), 400);
	ck_assert_int_gt(db_i64("SELECT cost_pusd FROM usage_events"), 0);
	ck_assert_int_eq(db_i64("SELECT count(*) FROM jobs WHERE state = 'cancelled'"), 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pipeline_worker");
	TCase *tc = tcase_create("worker");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, streamed_calls_under_faults_end_exactly_once);
	tcase_add_test(tc, the_snapshot_counts_cache_hits_and_savings);
	tcase_add_test(tc, a_fixed_answer_length_is_cut_by_max_tokens);
	tcase_add_test(tc, blocked_jobs_finish_when_a_command_raises_the_limit);
	tcase_add_test(tc, a_stop_mid_stream_records_what_began);
	suite_add_tcase(s, tc);
	return check_run(s);
}
