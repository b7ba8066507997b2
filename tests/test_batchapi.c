/* batchapi: the Message Batches driver on a scratch ledger against the
 * simulator in-process - the poll schedule, a submit whose answer was lost
 * found again in the provider's list (its jobs not sent twice) even when
 * the list shows it late or another lost submit is near, a submit that
 * never arrived sent again, and a budget that blocks the rest. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batchapi.h"
#include "batchq.h"
#include "check_run.h"
#include "clock.h"
#include "ledger.h"
#include "pbatch.h"
#include "queue.h"
#include "scratch.h"
#include "sim.h"

#define SEC 1000000000LL
#define TIMEOUT_MS 1500 /* the client's: how long a lost submit may still appear */

static am_scratch sc;
static am_sim *sim;
static am_mb *mb;
static am_pricing *pricing;
static am_sel_config sel;
static am_owner me;
static FILE *msgs;

/* A fresh simulator (its new batches left out of the list hide_ms) and a
 * client of it. */
static void start_sim(int hide_ms)
{
	am_err err = {0};
	if (sim) {
		am_mb_close(mb);
		am_sim_stop(sim);
	}
	am_sim_cfg cfg;
	am_sim_cfg_default(&cfg);
	cfg.batch_hide_ms = hide_ms;
	ck_assert_msg(am_sim_start(&sim, &cfg, &err) == 0, "%s", err.msg);
	am_mb_opts o = { .base_url = am_sim_url(sim), .api_key = "sk-test", .timeout_ms = TIMEOUT_MS };
	ck_assert_msg(am_mb_open(&mb, &o, &err) == 0, "%s", err.msg);
}

static void setup(void)
{
	am_err err = {0};
	ck_assert_msg(am_scratch_open(&sc, "batchapi", &err) == 0, "%s", err.msg);
	start_sim(0);
	const char *src = getenv("AIMETER_SOURCE_DIR");
	char prices[1024];
	snprintf(prices, sizeof prices, "%s/data/pricing.json", src ? src : ".");
	ck_assert_msg(am_pricing_load(&pricing, prices, NULL, &err) == 0, "%s", err.msg);
	am_sel_config_default(&sel);
	am_owner_self(&me);
	msgs = tmpfile();
}

static void teardown(void)
{
	fclose(msgs);
	am_pricing_free(pricing);
	am_mb_close(mb);
	am_sim_stop(sim);
	sim = NULL;
	am_scratch_close(&sc);
}

static char last_id[AM_MB_ID_MAX]; /* the batch lost_submit created last */

/* What a run killed in a submit leaves: the intent for the n jobs, and
 * (arrived) their batch at the provider, its answer gone. The intent's id. */
static int64_t lost_submit(const int64_t *ids, int n, bool arrived)
{
	int64_t res[8] = { 1, 1, 1, 1, 1, 1, 1, 1 }, local;
	am_err err = {0};
	ck_assert_int_le(n, 8);
	ck_assert_int_eq(am_pb_intent(sc.db, am_sim_url(sim), me.id, ids, res, n, 100,
	                              am_clock_wall(am_clock_system()), &local, &err), 0);
	if (!arrived)
		return local;
	char body[2048];
	int k = snprintf(body, sizeof body, "{\"requests\":[");
	for (int i = 0; i < n; i++)
		k += snprintf(body + k, sizeof body - (size_t)k,
		              "%s{\"custom_id\":\"%lld\",\"params\":{\"model\":\"claude-haiku-4-5\","
		              "\"max_tokens\":8,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}}",
		              i ? "," : "", (long long)ids[i]);
	snprintf(body + k, sizeof body - (size_t)k, "]}");
	am_mb_batch b;
	am_mb_reply rep;
	ck_assert_int_eq(am_mb_create(mb, body, strlen(body), &b, &rep, &err), 0);
	snprintf(last_id, sizeof last_id, "%s", b.id);
	return local;
}

/* n jobs of this process, noted in a run. */
static am_queue_run *jobs(int n, int64_t *ids)
{
	am_err err = {0};
	am_queue_run *r = am_queue_run_new(sc.db, &err);
	ck_assert_ptr_nonnull(r);
	for (int i = 0; i < n; i++) {
		char key[32], req[160];
		snprintf(key, sizeof key, "k%d", i);
		snprintf(req, sizeof req,
		         "{\"messages\":[{\"role\":\"user\",\"content\":\"line %d\"}],\"max_tokens\":8}",
		         i);
		am_job_state st;
		ck_assert_int_eq(am_queue_add(sc.db, me.id, key, req, "claude-haiku-4-5", 0,
		                              am_clock_wall(am_clock_system()), &ids[i], &st, &err),
		                 0);
		ck_assert_int_eq(am_queue_run_add(r, ids[i], &err), 0);
	}
	return r;
}

static int drive(am_queue_run *r, int64_t day_limit_pusd)
{
	am_bapi_opts o = { .ledger = sc.led, .jobs = r, .me = &me, .mb = mb,
		           .base_url = am_sim_url(sim), .pricing = pricing, .sel = &sel,
		           .default_max_tokens = 16, .max_retries = 2, .poll_s = 0.02, .msgs = msgs };
	am_budget_config_default(&o.budget);
	o.budget.day_limit_pusd = day_limit_pusd;
	am_err err = {0};
	int rc = am_bapi_drive(&o, &err);
	ck_assert_msg(rc >= 0, "%s", err.msg);
	return rc;
}

static int64_t count(const char *sql)
{
	sqlite3_stmt *st;
	ck_assert_int_eq(sqlite3_prepare_v2(sc.db, sql, -1, &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* The simulator saw n requests, none of them twice. */
static void sent_once(int64_t n)
{
	am_sim_stats st;
	am_sim_get_stats(sim, &st);
	ck_assert_int_eq(st.batch_repeated, 0);
	ck_assert_int_eq(st.batch_requests, n);
}

START_TEST(the_poll_schedule_backs_off_to_a_minute)
{
	int64_t iv = am_bapi_next_interval(0, 0);
	ck_assert_int_eq(iv, 2 * SEC);
	iv = am_bapi_next_interval(iv, 0);
	ck_assert_int_eq(iv, 3 * SEC);
	for (int i = 0; i < 20; i++)
		iv = am_bapi_next_interval(iv, 0);
	ck_assert_int_eq(iv, 60 * SEC);
	ck_assert_int_eq(am_bapi_next_interval(iv, 0.25), SEC / 4);
}
END_TEST

/* The intent is written, the batch reaches the provider, the answer dies
 * with the process: the next run finds the batch in the list and reads its
 * results instead of submitting its jobs again. */
START_TEST(a_lost_answer_is_found_in_the_list)
{
	int64_t ids[3];
	am_queue_run *r = jobs(3, ids);
	int64_t local = lost_submit(ids, 3, true);
	am_err err = {0};
	ck_assert_int_eq(drive(r, 0), 0);
	am_sim_stats st;
	am_sim_get_stats(sim, &st);
	ck_assert_int_eq(st.batch_requests, 3); /* nothing submitted again */
	ck_assert_int_eq(count("SELECT count(*) FROM jobs WHERE state = 'done'"), 3);
	ck_assert_int_eq(count("SELECT count(*) FROM usage_events WHERE batch = 1"), 3);
	am_pb_row row;
	ck_assert_int_eq(am_pb_find(sc.db, last_id, &row, &err), 1);
	ck_assert_int_eq(row.id, local);
	ck_assert_int_eq(row.state, AM_PB_DONE);
	am_queue_run_free(r);
}
END_TEST

/* The batch of a submit whose answer died with the process, created but
 * not yet in the list when the next run first reads it (the create still
 * being committed): the run reads the list again until the submit's
 * timeout has passed, and finds it then; it sends nothing new meanwhile. */
START_TEST(a_batch_listed_late_is_waited_for)
{
	start_sim(700);
	int64_t ids[5];
	am_queue_run *r = jobs(5, ids);
	int64_t local = lost_submit(ids, 3, true);
	ck_assert_int_eq(drive(r, 0), 0);
	sent_once(5);
	ck_assert_int_eq(count("SELECT count(*) FROM provider_batches WHERE state = 'lost'"), 0);
	ck_assert_int_eq(count("SELECT count(*) FROM jobs WHERE state = 'done'"), 5);
	/* The other two jobs went only once the lost batch was found. */
	ck_assert_int_ge(count("SELECT max(intent_ns) - min(intent_ns) FROM provider_batches"),
	                 SEC * 7 / 10);
	am_err err = {0};
	am_pb_row row;
	ck_assert_int_eq(am_pb_find(sc.db, last_id, &row, &err), 1);
	ck_assert_int_eq(row.id, local);
	am_queue_run_free(r);
}
END_TEST

/* Two killed runs, each leaving an intent of as many requests: the older
 * one's create never arrived, the younger one's did. The batch is the
 * younger intent's (a create follows its own intent): the older one does
 * not take it, its jobs are sent once when it can no longer appear, and
 * nothing is sent twice. */
START_TEST(a_batch_goes_to_the_intent_just_before_it)
{
	int64_t ids[4];
	am_queue_run *r = jobs(4, ids);
	int64_t older = lost_submit(ids, 2, false);
	int64_t younger = lost_submit(ids + 2, 2, true);
	ck_assert_int_eq(drive(r, 0), 0);
	sent_once(4);
	am_err err = {0};
	am_pb_row row;
	ck_assert_int_eq(am_pb_find(sc.db, last_id, &row, &err), 1);
	ck_assert_int_eq(row.id, younger);
	char sql[128];
	snprintf(sql, sizeof sql, "SELECT count(*) FROM provider_batches WHERE id = %lld AND state = 'lost'",
	         (long long)older);
	ck_assert_int_eq(count(sql), 1);
	ck_assert_int_eq(count("SELECT count(*) FROM jobs WHERE state = 'done'"), 4);
	am_queue_run_free(r);
}
END_TEST

/* The intent is written but the submit never arrived: its jobs are
 * submitted once, in a new batch. */
START_TEST(a_submit_that_never_arrived_is_sent)
{
	int64_t ids[2];
	am_queue_run *r = jobs(2, ids);
	lost_submit(ids, 2, false);
	ck_assert_int_eq(drive(r, 0), 0);
	sent_once(2);
	ck_assert_int_eq(count("SELECT count(*) FROM provider_batches WHERE state = 'lost'"), 1);
	ck_assert_int_eq(count("SELECT count(*) FROM jobs WHERE state = 'done'"), 2);
	am_queue_run_free(r);
}
END_TEST

/* A limit that holds one request's worst case (79 µ$ at batch prices, for
 * an answer of 23.5 µ$) but not that answer and a second worst case: one
 * goes, the others wait as blocked_budget, nothing recorded passes the
 * limit. (With more room, the budget each answer leaves unused lets the
 * next batch go: the reservations settle as results arrive.) */
START_TEST(the_budget_blocks_the_rest)
{
	int64_t ids[4];
	am_queue_run *r = jobs(4, ids);
	ck_assert_int_eq(drive(r, 100000000), 0);
	int64_t done = count("SELECT count(*) FROM jobs WHERE state = 'done'");
	int64_t blocked = count("SELECT count(*) FROM jobs WHERE state = 'blocked_budget'");
	int64_t reserved = count("SELECT max(reserved_pusd) FROM provider_batch_jobs");
	int64_t cost = count("SELECT max(cost_pusd) FROM usage_events");
	ck_assert_msg(done == 1 && blocked == 3, "done %lld, blocked %lld; reserved %lld, cost %lld",
	              (long long)done, (long long)blocked, (long long)reserved, (long long)cost);
	ck_assert_int_le(count("SELECT coalesce(sum(cost_pusd), 0) FROM usage_events"), 100000000);
	am_queue_run_free(r);
}
END_TEST

static Suite *batchapi_suite(void)
{
	Suite *s = suite_create("batchapi");
	TCase *tc = tcase_create("batchapi");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, the_poll_schedule_backs_off_to_a_minute);
	tcase_add_test(tc, a_lost_answer_is_found_in_the_list);
	tcase_add_test(tc, a_batch_listed_late_is_waited_for);
	tcase_add_test(tc, a_batch_goes_to_the_intent_just_before_it);
	tcase_add_test(tc, a_submit_that_never_arrived_is_sent);
	tcase_add_test(tc, the_budget_blocks_the_rest);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(batchapi_suite());
}
