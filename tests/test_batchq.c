/* test_batchq: the batch runner's reads of the queue on a real ledger: the
 * key of a file's line, the tally of a run's own jobs (by id, cost from
 * their usage rows) and each job's outcome as the
 * results file needs it. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "batchq.h"
#include "check_run.h"
#include "jobfix.h"
#include "ledger.h"
#include "queue.h"
#include "scratch.h"

static am_scratch sc;

#define T0 1718452800000000000LL /* 2024-06-15 12:00 UTC */

static void setup(void)
{
	am_err err = {0};
	ck_assert_msg(am_scratch_open(&sc, "batchq", &err) == 0, "%s", err.msg);
}

static void teardown(void)
{
	am_scratch_close(&sc);
}

static int64_t add(const char *key, am_job_state st)
{
	return am_test_add_job(sc.db, NULL, key, st, T0);
}

START_TEST(a_line_key_is_its_hash_and_number)
{
	char k[AM_QUEUE_BATCH_KEY_MAX], k2[AM_QUEUE_BATCH_KEY_MAX];
	/* SHA-256("abc") begins ba7816bf8f01cfea414140de5dae2223. */
	am_queue_batch_key("abcdef", 3, 7, k);
	ck_assert_str_eq(k, "b1:ba7816bf8f01cfea414140de5dae2223:7");
	am_queue_batch_key("abc", 3, 8, k2);
	ck_assert_str_eq(k2, "b1:ba7816bf8f01cfea414140de5dae2223:8");
	am_queue_batch_key("abd", 3, 7, k2);
	ck_assert_str_ne(k, k2);
	am_queue_batch_key("", 0, INT64_MAX, k2);
	ck_assert_uint_lt(strlen(k2), AM_QUEUE_BATCH_KEY_MAX);
	ck_assert_ptr_nonnull(strstr(k2, ":9223372036854775807"));
}
END_TEST

static am_queue_run *run_of(sqlite3 *db, const int64_t *ids, int n)
{
	am_err err = {0};
	am_queue_run *r = am_queue_run_new(db, &err);
	ck_assert_msg(r != NULL, "%s", err.msg);
	for (int i = 0; i < n; i++)
		ck_assert_msg(am_queue_run_add(r, ids[i], &err) == 0, "%s", err.msg);
	return r;
}

START_TEST(the_tally_counts_the_jobs_of_the_run)
{
	am_err err = {0};
	int64_t before = add("b1:00:1", AM_JOB_DONE); /* an earlier run's */
	int64_t ids[] = {
		add("b1:01:1", AM_JOB_DONE),      add("b1:02:2", AM_JOB_DONE),
		add("b1:03:3", AM_JOB_FAILED),    add("b1:04:4", AM_JOB_CANCELLED),
		add("b1:05:5", AM_JOB_BLOCKED_BUDGET), add("b1:06:6", AM_JOB_QUEUED),
		add("b1:07:7", AM_JOB_IN_FLIGHT), add("b1:08:8", AM_JOB_WAITING_LIMIT),
	};
	int64_t after = add("b1:09:9", AM_JOB_FAILED);
	ck_assert_int_eq(am_test_record_answer(sc.led, ids[0], T0, &err), 1);
	ck_assert_int_eq(am_test_record_answer(sc.led, ids[1], T0, &err), 1);
	ck_assert_int_eq(am_test_record_answer(sc.led, before, T0, &err), 1);
	ck_assert_int_eq(am_test_record_answer(sc.led, after, T0, &err), 1);

	am_queue_run *r = run_of(sc.db, ids, 8);
	ck_assert_int_eq(am_queue_run_add(r, ids[3], &err), 0); /* noted twice, counted once */
	am_queue_tally t;
	ck_assert_msg(am_queue_run_tally(r, &t, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(t.done, 2);
	ck_assert_int_eq(t.failed, 2);
	ck_assert_int_eq(t.blocked, 1);
	ck_assert_int_eq(t.unfinished, 3);
	ck_assert_int_eq(t.cost_pusd, 2000);
	am_queue_run_free(r);

	/* A run with no job yet is all zero. */
	r = run_of(sc.db, NULL, 0);
	memset(&t, 0x55, sizeof t);
	ck_assert_int_eq(am_queue_run_tally(r, &t, &err), 0);
	ck_assert_int_eq(t.done + t.failed + t.blocked + t.unfinished + t.cost_pusd, 0);
	am_queue_run_free(r);
}
END_TEST

/* Two batches at once: their inserts interleave ids, and each counts only
 * its own jobs and their cost (a range lo..hi of ids would count both). */
START_TEST(two_runs_at_once_count_apart)
{
	am_err err = {0};
	int64_t a[3], b[3];
	for (int i = 0; i < 3; i++) {
		char k[32];
		snprintf(k, sizeof k, "b1:a%d:%d", i, i + 1);
		a[i] = add(k, AM_JOB_DONE);
		snprintf(k, sizeof k, "b1:b%d:%d", i, i + 1);
		b[i] = add(k, i ? AM_JOB_FAILED : AM_JOB_QUEUED);
	}
	ck_assert_int_eq(am_test_record_answer(sc.led, a[0], T0, &err), 1);
	ck_assert_int_eq(am_test_record_answer(sc.led, a[2], T0, &err), 1);
	am_queue_run *ra = run_of(sc.db, a, 3), *rb = run_of(sc.db, b, 3);
	am_queue_tally t;
	ck_assert_msg(am_queue_run_tally(ra, &t, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(t.done, 3);
	ck_assert_int_eq(t.failed + t.blocked + t.unfinished, 0);
	ck_assert_int_eq(t.cost_pusd, 2000);
	ck_assert_msg(am_queue_run_tally(rb, &t, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(t.done, 0);
	ck_assert_int_eq(t.failed, 2);
	ck_assert_int_eq(t.unfinished, 1);
	ck_assert_int_eq(t.cost_pusd, 0);
	am_queue_run_free(ra);
	am_queue_run_free(rb);
}
END_TEST

START_TEST(an_outcome_has_the_answer_and_its_usage)
{
	am_err err = {0};
	int64_t done = add("b1:01:1", AM_JOB_QUEUED);
	ck_assert_int_eq(am_queue_update(sc.db, done, AM_JOB_DONE, "claude-sonnet-4-5", "auto",
	                                 NULL, "the answer", 1, T0, &err),
	                 0);
	am_ledger_event ev = {
		.job_id = done, .ts_ns = T0, .model = "claude-haiku-4-5",
		.usage = { .input_tokens = 11, .output_tokens = 22, .cache_write_5m = 3,
		           .cache_write_1h = 4, .cache_read = 5 },
		.price_known = true, .cost_pusd = 1234, .cached = true, .latency_ms = -1,
		.source = "batch",
	};
	ck_assert_int_eq(am_ledger_record(sc.led, &ev, &err), 1);
	int64_t failed = add("b1:02:2", AM_JOB_QUEUED);
	ck_assert_int_eq(am_queue_update(sc.db, failed, AM_JOB_FAILED, "claude-opus-4-5", NULL,
	                                 "HTTP 400: bad", NULL, 1, T0, &err),
	                 0);
	int64_t blocked = add("b1:03:3", AM_JOB_BLOCKED_BUDGET);

	am_queue_outcomes *r = am_queue_outcomes_new(sc.db, &err);
	ck_assert_msg(r != NULL, "%s", err.msg);
	am_job_outcome o;
	ck_assert_int_eq(am_queue_outcome(r, done, &o, &err), 1);
	ck_assert_int_eq(o.state, AM_JOB_DONE);
	ck_assert_str_eq(o.model, "claude-haiku-4-5"); /* the ledger's model wins */
	ck_assert_str_eq(o.result, "the answer");
	ck_assert_ptr_null(o.error);
	ck_assert(o.has_usage && o.price_known && o.cached);
	ck_assert_int_eq(o.usage.input_tokens, 11);
	ck_assert_int_eq(o.usage.output_tokens, 22);
	ck_assert_int_eq(o.usage.cache_write_5m, 3);
	ck_assert_int_eq(o.usage.cache_write_1h, 4);
	ck_assert_int_eq(o.usage.cache_read, 5);
	ck_assert_int_eq(o.cost_pusd, 1234);

	ck_assert_int_eq(am_queue_outcome(r, failed, &o, &err), 1);
	ck_assert_int_eq(o.state, AM_JOB_FAILED);
	ck_assert_str_eq(o.model, "claude-opus-4-5"); /* no usage row: the job's */
	ck_assert_str_eq(o.error, "HTTP 400: bad");
	ck_assert_ptr_null(o.result);
	ck_assert(!o.has_usage && !o.cached);
	ck_assert_int_eq(o.cost_pusd, 0);

	ck_assert_int_eq(am_queue_outcome(r, blocked, &o, &err), 1);
	ck_assert_int_eq(o.state, AM_JOB_BLOCKED_BUDGET);
	ck_assert_ptr_null(o.model);

	ck_assert_int_eq(am_queue_outcome(r, blocked + 100, &o, &err), 0);
	am_queue_outcomes_free(r);
	am_queue_outcomes_free(NULL);
}
END_TEST

/* A connection without the queue's tables: errors, not crashes or zeros. */
START_TEST(errors_are_reported)
{
	sqlite3 *db;
	ck_assert_int_eq(sqlite3_open(":memory:", &db), SQLITE_OK);
	am_err err = {0};
	am_queue_run *r = am_queue_run_new(db, &err);
	ck_assert_msg(r != NULL, "%s", err.msg);
	ck_assert_int_eq(am_queue_run_add(r, 1, &err), 0);
	am_queue_tally t;
	ck_assert_int_eq(am_queue_run_tally(r, &t, &err), -1);
	ck_assert_msg(strstr(err.msg, "counting the jobs of a batch"), "%s", err.msg);
	am_queue_run_free(r);
	err.msg[0] = '\0';
	ck_assert_ptr_null(am_queue_outcomes_new(db, &err));
	ck_assert_msg(strstr(err.msg, "reading the outcomes of jobs"), "%s", err.msg);
	sqlite3_close(db);
}
END_TEST

static Suite *batchq_suite(void)
{
	Suite *s = suite_create("batchq");
	TCase *tc = tcase_create("batchq");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, a_line_key_is_its_hash_and_number);
	tcase_add_test(tc, the_tally_counts_the_jobs_of_the_run);
	tcase_add_test(tc, two_runs_at_once_count_apart);
	tcase_add_test(tc, an_outcome_has_the_answer_and_its_usage);
	tcase_add_test(tc, errors_are_reported);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(batchq_suite());
}
