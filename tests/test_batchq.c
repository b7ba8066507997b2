/* test_batchq: the batch runner's reads of the queue on a real ledger: the
 * key of a file's line, the tally of a run's jobs (only batch jobs in the
 * run's id range, cost from their usage rows) and each job's outcome as the
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
	am_err err = {0};
	int64_t id = am_test_add_job(sc.db, NULL, key, st, T0, &err);
	ck_assert_msg(id > 0, "%s", err.msg);
	return id;
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

START_TEST(the_tally_counts_the_batch_jobs_of_the_range)
{
	am_err err = {0};
	int64_t before = add("b1:00:1", AM_JOB_DONE); /* an earlier run, out of range */
	int64_t lo = add("b1:01:1", AM_JOB_DONE);
	add("b1:02:2", AM_JOB_DONE);
	add("b1:03:3", AM_JOB_FAILED);
	add("b1:04:4", AM_JOB_CANCELLED);
	add("b1:05:5", AM_JOB_BLOCKED_BUDGET);
	add("b1:06:6", AM_JOB_QUEUED);
	add("b1:07:7", AM_JOB_IN_FLIGHT);
	add(NULL, AM_JOB_DONE);                 /* not a batch job: in range, not counted */
	int64_t hi = add("b1:08:8", AM_JOB_WAITING_LIMIT);
	int64_t after = add("b1:09:9", AM_JOB_FAILED);
	ck_assert_int_eq(am_test_record_answer(sc.led, lo, T0, &err), 1);
	ck_assert_int_eq(am_test_record_answer(sc.led, lo + 1, T0, &err), 1);
	ck_assert_int_eq(am_test_record_answer(sc.led, before, T0, &err), 1);
	ck_assert_int_eq(am_test_record_answer(sc.led, after, T0, &err), 1);

	am_queue_tally t;
	ck_assert_msg(am_queue_batch_tally(sc.db, lo, hi, &t, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(t.done, 2);
	ck_assert_int_eq(t.failed, 2);
	ck_assert_int_eq(t.blocked, 1);
	ck_assert_int_eq(t.unfinished, 3);
	ck_assert_int_eq(t.cost_pusd, 2000);

	/* An empty range (no job added yet) is all zero. */
	memset(&t, 0x55, sizeof t);
	ck_assert_int_eq(am_queue_batch_tally(sc.db, INT64_MAX, 0, &t, &err), 0);
	ck_assert_int_eq(t.done + t.failed + t.blocked + t.unfinished + t.cost_pusd, 0);
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
	am_queue_tally t;
	ck_assert_int_eq(am_queue_batch_tally(db, 1, 10, &t, &err), -1);
	ck_assert_msg(strstr(err.msg, "counting the jobs of a batch"), "%s", err.msg);
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
	tcase_add_test(tc, the_tally_counts_the_batch_jobs_of_the_range);
	tcase_add_test(tc, an_outcome_has_the_answer_and_its_usage);
	tcase_add_test(tc, errors_are_reported);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(batchq_suite());
}
