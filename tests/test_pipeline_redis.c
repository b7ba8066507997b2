/* test_pipeline_redis: workers ("hosts", each with its own ledger) that
 * share limits, budget and cache through one private Redis (redisfix), in
 * this process so that TSan and ASan watch every thread:
 *  - an answer cached by one host is a free hit on another, and nothing is
 *    sent for it;
 *  - three hosts under one daily budget never spend past it together, and
 *    raising it lets the blocked jobs finish;
 *  - Redis killed mid-run with on_failure pause: nothing is sent while it
 *    is down, the hosts say so, and after it restarts every job finishes
 *    and is recorded exactly once;
 *  - on_failure local: a host goes on alone, and says so. */
#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check_run.h"
#include "pipefix.h"
#include "redisfix.h"
#include "workfix.h"

static am_rf rf;
static am_wf host[3];
static int nhosts;

typedef struct tally {
	int done, cached, failed, blocked;
	char notices[4096];
} tally;

static void on_event(void *ctx, const am_event *ev)
{
	tally *t = ctx;
	if (ev->kind == AM_EV_DONE) {
		t->done++;
		t->cached += ev->cached;
	} else if (ev->kind == AM_EV_FAILED) {
		t->failed++;
	} else if (ev->kind == AM_EV_BLOCKED) {
		t->blocked++;
	} else if (ev->kind == AM_EV_NOTICE && ev->text) {
		size_t len = strlen(t->notices);
		snprintf(t->notices + len, sizeof t->notices - len, "%s\n", ev->text);
	}
}

static void setup(void)
{
	ck_assert_int_eq(am_rf_start(&rf, NULL), 0);
	nhosts = 0;
}

static void teardown(void)
{
	for (int i = nhosts - 1; i >= 0; i--) {
		if (i > 0)
			host[i].sim = NULL; /* host 0's: stopped with it */
		am_wf_free(&host[i]);
	}
	nhosts = 0;
	am_rf_free(&rf);
}

/* Host i: its own ledger, Redis, and host 0's simulator (started with sc). */
static am_wf *start_host(const am_sim_cfg *sc, const char *const (*keys)[2], int nkeys)
{
	am_wf *f = &host[nhosts];
	am_err err = { 0 };
	char tag[16];
	snprintf(tag, sizeof tag, "host%d", nhosts);
	ck_assert_msg(am_wf_init(f, tag, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(am_wf_set(f, "redis.url", rf.url, &err), 0);
	for (int i = 0; i < nkeys; i++)
		ck_assert_msg(am_wf_set(f, keys[i][0], keys[i][1], &err) == 0, "%s", err.msg);
	if (nhosts > 0)
		f->sim = host[0].sim;
	ck_assert_msg(am_wf_start(f, nhosts == 0 ? sc : NULL, &err) == 0, "%s", err.msg);
	nhosts++;
	return f;
}

static int64_t sent(void)
{
	am_sim_stats st;
	am_sim_get_stats(host[0].sim, &st);
	return st.requests;
}

static void submit(am_wf *f, const char *prompt, int64_t max_tokens, bool no_cache)
{
	am_err err = { 0 };
	ck_assert_msg(am_wf_submit(f, prompt, max_tokens, false, no_cache, &err) > 0, "%s",
	              err.msg);
}

static int64_t sql_i64(const char *db, const char *sql)
{
	sqlite3 *h;
	ck_assert_int_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_busy_timeout(h, 5000);
	int64_t v = am_pf_i64(h, "%s", sql);
	sqlite3_close(h);
	return v;
}

/* ---- cache ---------------------------------------------------------------------------- */

START_TEST(a_cached_answer_is_free_on_another_host)
{
	am_sim_cfg sc;
	am_sim_cfg_default(&sc);
	am_wf *a = start_host(&sc, NULL, 0), *b = start_host(NULL, NULL, 0);
	tally ta = { 0 }, tb = { 0 };
	submit(a, "What does a shared cache save?", 32, false);
	for (int i = 0; i < 200 && ta.done < 1; i++)
		am_wf_pump(a, 50, on_event, &ta);
	ck_assert_int_eq(ta.done, 1);
	ck_assert_int_eq(sent(), 1);
	/* The answer is told before it is stored: host a's pass ends first. */
	for (int i = 0; i < 200 && !am_worker_quiet(a->w, NULL); i++)
		am_wf_pump(a, 10, on_event, &ta);
	submit(b, "What does a shared cache save?", 32, false);
	for (int i = 0; i < 200 && tb.done < 1; i++)
		am_wf_pump(b, 50, on_event, &tb);
	ck_assert_int_eq(tb.done, 1);
	ck_assert_int_eq(tb.cached, 1);
	ck_assert_int_eq(sent(), 1); /* nothing sent for host b */
	/* Host b's ledger has the hit, free. */
	ck_assert_int_eq(sql_i64(b->db, "SELECT count(*) FROM usage_events WHERE cached = 1 AND "
	                                "cost_pusd = 0"),
	                 1);
}
END_TEST

/* ---- budget --------------------------------------------------------------------------- */

static bool settled(am_wf *f, int n)
{
	am_snapshot s;
	f->ops.snapshot(f->ops.ctx, &s);
	return s.done + s.budget.blocked_jobs >= n && s.in_flight == 0 &&
	       s.queue_depth == s.budget.blocked_jobs;
}

START_TEST(three_hosts_one_daily_budget)
{
	am_sim_cfg sc;
	am_sim_cfg_default(&sc);
	sc.latency_ms = 200; /* calls overlap across hosts */
	sc.output_tokens = 40;
	const char *const keys[][2] = { { "budget.daily_usd", "0.004" }, { "cache.enabled", "false" } };
	const int n = 20;
	for (int h = 0; h < 3; h++)
		start_host(h == 0 ? &sc : NULL, keys, 2);
	char prompt[96];
	for (int i = 0; i < n; i++)
		for (int h = 0; h < 3; h++) {
			snprintf(prompt, sizeof prompt, "Host %d asks budget question %d", h, i);
			submit(&host[h], prompt, 64, true);
		}
	tally t[3] = { { 0 }, { 0 }, { 0 } };
	for (int i = 0; i < 600; i++) {
		for (int h = 0; h < 3; h++)
			am_wf_pump(&host[h], 10, on_event, &t[h]);
		if (settled(&host[0], n) && settled(&host[1], n) && settled(&host[2], n))
			break;
	}
	int64_t spent = 0, done = 0;
	for (int h = 0; h < 3; h++) {
		spent += sql_i64(host[h].db, "SELECT coalesce(sum(cost_pusd), 0) FROM usage_events");
		done += sql_i64(host[h].db, "SELECT count(*) FROM usage_events");
	}
	const int64_t limit = 4000000000LL; /* $0.004 */
	ck_assert_msg(spent <= limit, "together %lld pUSD over %lld", (long long)spent,
	              (long long)limit);
	ck_assert_msg(spent > limit / 2, "only %lld pUSD of %lld spent", (long long)spent,
	              (long long)limit);
	ck_assert_int_lt(done, 3 * n); /* some wait */
	ck_assert_int_gt(t[0].blocked + t[1].blocked + t[2].blocked, 0);
	/* Raised on every host: the blocked jobs finish. */
	for (int h = 0; h < 3; h++) {
		am_command cmd;
		memset(&cmd, 0, sizeof cmd);
		cmd.kind = AM_CMD_SET_BUDGET_DAY;
		cmd.value = 1000000000000LL; /* $1 */
		am_err err = { 0 };
		ck_assert_msg(host[h].ops.command(host[h].ops.ctx, &cmd, &err) == 0, "%s", err.msg);
	}
	for (int i = 0; i < 1000 && t[0].done + t[1].done + t[2].done < 3 * n; i++)
		for (int h = 0; h < 3; h++)
			am_wf_pump(&host[h], 10, on_event, &t[h]);
	ck_assert_int_eq(t[0].done + t[1].done + t[2].done, 3 * n);
	for (int h = 0; h < 3; h++)
		ck_assert_int_eq(sql_i64(host[h].db, "SELECT count(*) FROM usage_events"), n);
}
END_TEST

/* ---- Redis goes away ---------------------------------------------------------------------- */

START_TEST(redis_killed_mid_run_pause_holds_then_finishes)
{
	am_sim_cfg sc;
	am_sim_cfg_default(&sc);
	sc.rpm = 600;
	sc.rpm_burst = 5;
	sc.latency_ms = 50;
	const char *const keys[][2] = { { "limits.rpm", "600" }, { "limits.rpm_burst", "5" },
		                        { "cache.enabled", "false" } };
	am_wf *a = start_host(&sc, keys, 3), *b = start_host(NULL, keys, 3);
	const int n = 30;
	char prompt[96];
	for (int i = 0; i < n; i++) {
		snprintf(prompt, sizeof prompt, "Outage question %d", i);
		submit(i % 2 ? a : b, prompt, 16, true);
	}
	tally ta = { 0 }, tb = { 0 };
	while (ta.done + tb.done < 8) {
		am_wf_pump(a, 10, on_event, &ta);
		am_wf_pump(b, 10, on_event, &tb);
	}
	am_rf_stop(&rf, true);
	for (int i = 0; i < 20; i++) { /* calls on the wire land; the hosts notice */
		am_wf_pump(a, 10, on_event, &ta);
		am_wf_pump(b, 10, on_event, &tb);
	}
	int64_t before = sent();
	for (int i = 0; i < 150; i++) {
		am_wf_pump(a, 10, on_event, &ta);
		am_wf_pump(b, 10, on_event, &tb);
	}
	ck_assert_int_eq(sent(), before); /* nothing sent while Redis is down */
	ck_assert_int_lt(ta.done + tb.done, n);
	ck_assert_msg(strstr(ta.notices, "unreachable") && strstr(ta.notices, "held"), "%s",
	              ta.notices);
	ck_assert_int_eq(am_rf_restart(&rf), 0);
	for (int i = 0; i < 3000 && ta.done + tb.done < n; i++) {
		am_wf_pump(a, 10, on_event, &ta);
		am_wf_pump(b, 10, on_event, &tb);
	}
	ck_assert_int_eq(ta.done + tb.done, n);
	ck_assert_int_eq(ta.failed + tb.failed, 0);
	ck_assert_msg(strstr(ta.notices, "is back"), "%s", ta.notices);
	for (int h = 0; h < 2; h++) {
		ck_assert_int_eq(sql_i64(host[h].db, "SELECT count(*) FROM usage_events"), n / 2);
		ck_assert_int_eq(sql_i64(host[h].db, "SELECT count(*) FROM jobs WHERE state = 'done' "
		                                     "AND (SELECT count(*) FROM usage_events u WHERE "
		                                     "u.job_id = jobs.id) = 1"),
		                 n / 2);
	}
	ck_assert_int_eq(sent(), n);
}
END_TEST

START_TEST(redis_down_local_goes_on_alone)
{
	am_rf_stop(&rf, true);
	am_sim_cfg sc;
	am_sim_cfg_default(&sc);
	const char *const keys[][2] = { { "redis.on_failure", "local" },
		                        { "redis.local_share_pct", "50" } };
	am_wf *a = start_host(&sc, keys, 2);
	tally ta = { 0 };
	for (int i = 0; i < 5; i++) {
		char prompt[64];
		snprintf(prompt, sizeof prompt, "Alone question %d", i);
		submit(a, prompt, 16, true);
	}
	for (int i = 0; i < 500 && ta.done < 5; i++)
		am_wf_pump(a, 10, on_event, &ta);
	ck_assert_int_eq(ta.done, 5);
	ck_assert_msg(strstr(ta.notices, "going on alone with 50%"), "%s", ta.notices);
	am_snapshot s;
	a->ops.snapshot(a->ops.ctx, &s);
	ck_assert(s.org.on && !s.org.up && s.org.local);
}
END_TEST

/* A limit changed on a host (the keyboard, or adopted from the provider's
 * headers) reaches the shared buckets within a second: 1 request a second
 * at start, 60,000 a minute after /rpm, and 20 calls go at once. */
START_TEST(a_changed_limit_reaches_the_shared_buckets)
{
	am_sim_cfg sc;
	am_sim_cfg_default(&sc);
	sc.rpm = 0;
	const char *const keys[][2] = { { "limits.rpm", "60" }, { "limits.rpm_burst", "1" },
		                        { "cache.enabled", "false" } };
	am_wf *a = start_host(&sc, keys, 3);
	am_command cmd;
	memset(&cmd, 0, sizeof cmd);
	cmd.kind = AM_CMD_SET_RPM;
	cmd.value = 60000;
	am_err err = { 0 };
	ck_assert_msg(a->ops.command(a->ops.ctx, &cmd, &err) == 0, "%s", err.msg);
	tally ta = { 0 };
	for (int i = 0; i < 150; i++) /* a publication tick and a half */
		am_wf_pump(a, 10, on_event, &ta);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 20; i++) {
		char prompt[64];
		snprintf(prompt, sizeof prompt, "Fast question %d", i);
		submit(a, prompt, 16, true);
	}
	for (int i = 0; i < 2000 && ta.done < 20; i++)
		am_wf_pump(a, 10, on_event, &ta);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_int_eq(ta.done, 20);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ck_assert_msg(secs < 8, "20 calls took %.1f s: the shared bucket kept 1 a second", secs);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("pipeline_redis");
	TCase *t = tcase_create("hosts");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 120);
	tcase_add_test(t, a_cached_answer_is_free_on_another_host);
	tcase_add_test(t, three_hosts_one_daily_budget);
	tcase_add_test(t, redis_killed_mid_run_pause_holds_then_finishes);
	tcase_add_test(t, redis_down_local_goes_on_alone);
	tcase_add_test(t, a_changed_limit_reaches_the_shared_buckets);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	check_fixed_tz();
	return check_run(suite());
}
