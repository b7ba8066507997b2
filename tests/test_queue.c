/* test_queue: the persisted job queue on a real ledger database: adding with
 * and without batch keys (a re-run resumes), the capacity bound, crash
 * recovery (in flight -> queued, answered -> done), loading and counts. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "ledger.h"
#include "queue.h"
#include "check_run.h"
#include "jobfix.h"
#include "scratch.h"
#include "tmpdir.h"

static am_scratch sc; /* the ledger under test */

#define T0 1718452800000000000LL /* 2024-06-15 12:00 UTC */

/* Recovery as this process sees it; the jobs here belong to nobody (their
 * owners are test_queue_owner's subject). */
static const am_owner me = { "100:1000", NULL, NULL, NULL };

static void setup(void)
{
	am_err err = {0};
	ck_assert_msg(am_scratch_open(&sc, "queue", &err) == 0, "%s", err.msg);
}

static void teardown(void)
{
	am_scratch_close(&sc);
}

static int64_t add(const char *key, int64_t capacity)
{
	int64_t id = 0;
	am_job_state st = AM_JOB_NSTATES;
	am_err err = {0};
	int rc =
	    am_queue_add(sc.db, NULL, key, "{\"messages\":[]}", NULL, capacity, T0, &id, &st, &err);
	ck_assert_msg(rc == 0, "add %s: rc %d %s", key ? key : "(none)", rc, err.msg);
	ck_assert_int_eq(st, AM_JOB_QUEUED);
	ck_assert_int_gt(id, 0);
	return id;
}

static void set_state(int64_t id, am_job_state st)
{
	am_err err = {0};
	ck_assert_msg(am_queue_update(sc.db, id, st, NULL, NULL, NULL, NULL, 0, T0, &err) == 0,
	              "%s", err.msg);
}

static am_job_state state_of(int64_t id)
{
	am_job j;
	am_err err = {0};
	ck_assert_msg(am_queue_get(sc.db, id, &j, &err) == 0, "%s", err.msg);
	am_job_state s = j.state;
	am_job_clear(&j);
	return s;
}

/* A usage row for the job: the proof that its answer was recorded. */
static void record_usage(int64_t job_id)
{
	am_err err = {0};
	ck_assert_msg(am_test_record_answer(sc.led, job_id, T0, &err) == 1, "%s", err.msg);
}

START_TEST(state_names_round_trip)
{
	for (int i = 0; i < AM_JOB_NSTATES; i++) {
		am_job_state s = AM_JOB_NSTATES;
		ck_assert_int_eq(am_job_state_parse(am_job_state_name((am_job_state)i), &s), 0);
		ck_assert_int_eq(s, i);
	}
	am_job_state s = AM_JOB_QUEUED;
	ck_assert_int_eq(am_job_state_parse("finished", &s), -1);
	ck_assert_int_eq(am_job_state_parse(NULL, &s), -1);
	ck_assert_str_eq(am_job_state_name(AM_JOB_BLOCKED_BUDGET), "blocked_budget");
	ck_assert(am_job_state_final(AM_JOB_DONE) && am_job_state_final(AM_JOB_FAILED) &&
	          am_job_state_final(AM_JOB_CANCELLED));
	ck_assert(!am_job_state_final(AM_JOB_BLOCKED_BUDGET) &&
	          !am_job_state_final(AM_JOB_IN_FLIGHT));
}
END_TEST

START_TEST(add_stores_the_request_in_id_order)
{
	int64_t a = add(NULL, 0), b = add(NULL, 0);
	ck_assert_int_gt(b, a);
	int64_t id = 0;
	am_err err = {0};
	ck_assert_int_eq(am_queue_add(sc.db, NULL, NULL, "{\"x\":1}", "claude-opus-4-5", 0, T0 + 5,
	                              &id, NULL, &err),
	                 0);
	am_job j;
	ck_assert_int_eq(am_queue_get(sc.db, id, &j, &err), 0);
	ck_assert_str_eq(j.request, "{\"x\":1}");
	ck_assert_str_eq(j.model_requested, "claude-opus-4-5");
	ck_assert_ptr_null(j.batch_key);
	ck_assert_int_eq(j.state, AM_JOB_QUEUED);
	ck_assert_int_eq(j.attempts, 0);
	ck_assert_int_eq(j.created_ns, T0 + 5);
	am_job_clear(&j);
	ck_assert_int_eq(am_queue_get(sc.db, id + 100, &j, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "no job"));
}
END_TEST

/* jobs.tag: what am_queue_stmts_tag says when the job is added ("" and
 * NULL untagged), read back by get and load_unfinished. */
START_TEST(a_job_keeps_its_tag)
{
	am_queue_stmts *qs = am_queue_stmts_new(sc.db);
	am_err err = {0};
	int64_t t1 = 0, t2 = 0, t3 = 0;
	am_queue_stmts_tag(qs, "nightly-evals");
	ck_assert_int_eq(am_queue_add_s(qs, NULL, NULL, "{}", NULL, 0, T0, &t1, NULL, &err), 0);
	am_queue_stmts_tag(qs, "");
	ck_assert_int_eq(am_queue_add_s(qs, NULL, NULL, "{}", NULL, 0, T0, &t2, NULL, &err), 0);
	am_queue_stmts_tag(qs, NULL);
	ck_assert_int_eq(am_queue_add_s(qs, NULL, NULL, "{}", NULL, 0, T0, &t3, NULL, &err), 0);
	am_queue_stmts_free(qs);
	am_job j;
	ck_assert_int_eq(am_queue_get(sc.db, t1, &j, &err), 0);
	ck_assert_str_eq(j.tag, "nightly-evals");
	am_job_clear(&j);
	ck_assert_int_eq(am_queue_get(sc.db, t2, &j, &err), 0);
	ck_assert_ptr_null(j.tag);
	am_job_clear(&j);
	am_job *all = NULL;
	int n = 0;
	ck_assert_int_eq(am_queue_load_unfinished(sc.db, 0, &all, &n, &err), 0);
	ck_assert_int_eq(n, 3);
	ck_assert_str_eq(all[0].tag, "nightly-evals");
	ck_assert_ptr_null(all[2].tag);
	am_queue_free_list(all, n);
}
END_TEST

START_TEST(a_batch_key_resumes_instead_of_adding)
{
	int64_t a = add("b1:aa:1", 0), b = add("b1:bb:2", 0);
	int64_t id = 0;
	am_job_state st = AM_JOB_NSTATES;
	am_err err = {0};
	/* The same key again: nothing is added; the existing job is named. */
	ck_assert_int_eq(
	    am_queue_add(sc.db, NULL, "b1:aa:1", "{\"other\":true}", NULL, 0, T0, &id, &st, &err),
	    1);
	ck_assert_int_eq(id, a);
	ck_assert_int_eq(st, AM_JOB_QUEUED);
	set_state(b, AM_JOB_DONE);
	ck_assert_int_eq(am_queue_add(sc.db, NULL, "b1:bb:2", "{}", NULL, 0, T0, &id, &st, &err),
	                 1);
	ck_assert_int_eq(id, b);
	ck_assert_int_eq(st, AM_JOB_DONE);
	/* The stored request is the first one's. */
	am_job j;
	ck_assert_int_eq(am_queue_get(sc.db, a, &j, &err), 0);
	ck_assert_str_eq(j.request, "{\"messages\":[]}");
	am_job_clear(&j);
	int64_t counts[AM_JOB_NSTATES];
	ck_assert_int_eq(am_queue_counts(sc.db, counts, &err), 0);
	ck_assert_int_eq(counts[AM_JOB_QUEUED], 1);
	ck_assert_int_eq(counts[AM_JOB_DONE], 1);
}
END_TEST

START_TEST(a_full_queue_is_an_error_not_a_hang)
{
	int64_t ids[3];
	for (int i = 0; i < 3; i++)
		ids[i] = add(NULL, 3);
	int64_t id = -7;
	am_err err = {0};
	ck_assert_int_eq(am_queue_add(sc.db, NULL, NULL, "{}", NULL, 3, T0, &id, NULL, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "queue is full"));
	ck_assert_int_eq(id, -7);
	/* Every unfinished state holds a slot, blocked jobs included. */
	set_state(ids[0], AM_JOB_BLOCKED_BUDGET);
	set_state(ids[1], AM_JOB_IN_FLIGHT);
	set_state(ids[2], AM_JOB_WAITING_LIMIT);
	ck_assert_int_eq(am_queue_add(sc.db, NULL, NULL, "{}", NULL, 3, T0, &id, NULL, &err), -1);
	/* A finished job gives its slot back. */
	set_state(ids[1], AM_JOB_DONE);
	add(NULL, 3);
	ck_assert_int_eq(am_queue_add(sc.db, NULL, "b1:x:1", "{}", NULL, 3, T0, &id, NULL, &err),
	                 -1);
	/* Resuming a known key never needs room: it adds nothing. */
	set_state(ids[2], AM_JOB_FAILED);
	int64_t k = add("b1:x:1", 3);
	set_state(ids[0], AM_JOB_CANCELLED);
	set_state(ids[2], AM_JOB_QUEUED);
	am_job_state st;
	ck_assert_int_eq(am_queue_add(sc.db, NULL, "b1:x:1", "{}", NULL, 3, T0, &id, &st, &err), 1);
	ck_assert_int_eq(id, k);
	/* capacity 0 = unbounded */
	for (int i = 0; i < 5; i++)
		add(NULL, 0);
}
END_TEST

START_TEST(recovery_requeues_what_was_in_flight_and_closes_what_was_answered)
{
	int64_t q = add(NULL, 0);          /* queued, not answered: stays queued */
	int64_t qa = add(NULL, 0);         /* queued but answered: done */
	int64_t w = add(NULL, 0);          /* waiting_limit: queued */
	int64_t f = add(NULL, 0);          /* in_flight, not answered: queued (re-sent) */
	int64_t fa = add(NULL, 0);         /* in_flight and answered: done, not re-sent */
	int64_t wa = add(NULL, 0);         /* waiting_limit and answered (429 retry): done */
	int64_t bl = add(NULL, 0);         /* blocked_budget: stays blocked */
	int64_t dn = add(NULL, 0);         /* done: unchanged */
	int64_t fl = add(NULL, 0);         /* failed: unchanged */
	int64_t cn = add(NULL, 0);         /* cancelled: unchanged */
	set_state(w, AM_JOB_WAITING_LIMIT);
	set_state(f, AM_JOB_IN_FLIGHT);
	set_state(fa, AM_JOB_IN_FLIGHT);
	set_state(wa, AM_JOB_WAITING_LIMIT);
	set_state(bl, AM_JOB_BLOCKED_BUDGET);
	set_state(dn, AM_JOB_DONE);
	set_state(fl, AM_JOB_FAILED);
	set_state(cn, AM_JOB_CANCELLED);
	record_usage(qa);
	record_usage(fa);
	record_usage(wa);
	record_usage(dn);

	int requeued = -1;
	am_err err = {0};
	ck_assert_msg(am_queue_recover(sc.db, &me, T0 + 99, &requeued, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(requeued, 2); /* w and f */
	ck_assert_int_eq(state_of(q), AM_JOB_QUEUED);
	ck_assert_int_eq(state_of(qa), AM_JOB_DONE);
	ck_assert_int_eq(state_of(w), AM_JOB_QUEUED);
	ck_assert_int_eq(state_of(f), AM_JOB_QUEUED);
	ck_assert_int_eq(state_of(fa), AM_JOB_DONE);
	ck_assert_int_eq(state_of(wa), AM_JOB_DONE);
	ck_assert_int_eq(state_of(bl), AM_JOB_BLOCKED_BUDGET);
	ck_assert_int_eq(state_of(dn), AM_JOB_DONE);
	ck_assert_int_eq(state_of(fl), AM_JOB_FAILED);
	ck_assert_int_eq(state_of(cn), AM_JOB_CANCELLED);
	am_job j;
	ck_assert_int_eq(am_queue_get(sc.db, f, &j, &err), 0);
	ck_assert_int_eq(j.updated_ns, T0 + 99);
	am_job_clear(&j);

	int64_t counts[AM_JOB_NSTATES];
	ck_assert_int_eq(am_queue_counts(sc.db, counts, &err), 0);
	ck_assert_int_eq(counts[AM_JOB_QUEUED], 3);
	ck_assert_int_eq(counts[AM_JOB_WAITING_LIMIT], 0);
	ck_assert_int_eq(counts[AM_JOB_IN_FLIGHT], 0);
	ck_assert_int_eq(counts[AM_JOB_DONE], 4);
	ck_assert_int_eq(counts[AM_JOB_FAILED], 1);
	ck_assert_int_eq(counts[AM_JOB_BLOCKED_BUDGET], 1);
	ck_assert_int_eq(counts[AM_JOB_CANCELLED], 1);

	/* Recovery is idempotent: a second start finds nothing to move. */
	ck_assert_int_eq(am_queue_recover(sc.db, &me, T0 + 100, &requeued, &err), 0);
	ck_assert_int_eq(requeued, 0);
}
END_TEST

START_TEST(load_unfinished_is_in_id_order_and_bounded)
{
	int64_t ids[7];
	for (int i = 0; i < 7; i++)
		ids[i] = add(NULL, 0);
	set_state(ids[0], AM_JOB_DONE);
	set_state(ids[1], AM_JOB_BLOCKED_BUDGET);
	set_state(ids[2], AM_JOB_FAILED);
	set_state(ids[3], AM_JOB_IN_FLIGHT);
	set_state(ids[4], AM_JOB_CANCELLED);
	set_state(ids[5], AM_JOB_WAITING_LIMIT);
	am_job *jobs = NULL;
	int n = -1;
	am_err err = {0};
	ck_assert_int_eq(am_queue_load_unfinished(sc.db, 0, &jobs, &n, &err), 0);
	ck_assert_int_eq(n, 4);
	const int64_t want[] = { ids[1], ids[3], ids[5], ids[6] };
	const am_job_state want_st[] = { AM_JOB_BLOCKED_BUDGET, AM_JOB_IN_FLIGHT,
		                         AM_JOB_WAITING_LIMIT, AM_JOB_QUEUED };
	for (int i = 0; i < n; i++) {
		ck_assert_int_eq(jobs[i].id, want[i]);
		ck_assert_int_eq(jobs[i].state, want_st[i]);
		ck_assert_str_eq(jobs[i].request, "{\"messages\":[]}");
	}
	am_queue_free_list(jobs, n);
	ck_assert_int_eq(am_queue_load_unfinished(sc.db, 2, &jobs, &n, &err), 0);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(jobs[0].id, ids[1]);
	ck_assert_int_eq(jobs[1].id, ids[3]);
	am_queue_free_list(jobs, n);
	/* More rows than the first allocation holds. */
	for (int i = 0; i < 150; i++)
		add(NULL, 0);
	ck_assert_int_eq(am_queue_load_unfinished(sc.db, 0, &jobs, &n, &err), 0);
	ck_assert_int_eq(n, 154);
	for (int i = 1; i < n; i++)
		ck_assert_int_gt(jobs[i].id, jobs[i - 1].id);
	am_queue_free_list(jobs, n);
}
END_TEST

START_TEST(update_changes_only_what_it_is_given)
{
	int64_t id = add("b1:u:1", 0);
	am_err err = {0};
	ck_assert_int_eq(am_queue_update(sc.db, id, AM_JOB_IN_FLIGHT, "claude-haiku-4-5",
	                                 "12 chars < 500", NULL, NULL, 1, T0 + 1, &err),
	                 0);
	ck_assert_int_eq(am_queue_update(sc.db, id, AM_JOB_QUEUED, NULL, NULL,
	                                 "overloaded (HTTP 529)", NULL, 2, T0 + 2, &err),
	                 0);
	ck_assert_int_eq(am_queue_update(sc.db, id, AM_JOB_DONE, NULL, NULL, NULL, "the answer", 2,
	                                 T0 + 3, &err),
	                 0);
	am_job j;
	ck_assert_int_eq(am_queue_get(sc.db, id, &j, &err), 0);
	ck_assert_int_eq(j.state, AM_JOB_DONE);
	ck_assert_str_eq(j.model, "claude-haiku-4-5");
	ck_assert_str_eq(j.reason, "12 chars < 500");
	ck_assert_str_eq(j.error, "overloaded (HTTP 529)");
	ck_assert_str_eq(j.result, "the answer");
	ck_assert_str_eq(j.batch_key, "b1:u:1");
	ck_assert_int_eq(j.attempts, 2);
	ck_assert_int_eq(j.created_ns, T0);
	ck_assert_int_eq(j.updated_ns, T0 + 3);
	am_job_clear(&j);
}
END_TEST

START_TEST(errors_name_the_queue_and_the_cause)
{
	am_err err = {0};
	sqlite3_exec(sc.db, "DROP TABLE jobs", NULL, NULL, NULL);
	int64_t id = 0, counts[AM_JOB_NSTATES];
	ck_assert_int_eq(am_queue_add(sc.db, NULL, NULL, "{}", NULL, 0, T0, &id, NULL, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "job queue"));
	ck_assert_int_eq(am_queue_add(sc.db, NULL, "b1:k", "{}", NULL, 0, T0, &id, NULL, &err), -1);
	ck_assert_int_eq(am_queue_counts(sc.db, counts, &err), -1);
	ck_assert_int_eq(am_queue_recover(sc.db, &me, T0, NULL, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "job queue"));
	ck_assert_ptr_nonnull(strstr(err.msg, "recovering"));
	am_job *jobs = (am_job *)&id;
	int n = 5;
	ck_assert_int_eq(am_queue_load_unfinished(sc.db, 0, &jobs, &n, &err), -1);
	ck_assert_ptr_null(jobs);
	ck_assert_int_eq(n, 0);
	/* The failed recovery left no transaction open. */
	ck_assert_int_eq(sqlite3_get_autocommit(sc.db), 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("queue");
	TCase *tc = tcase_create("queue");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, state_names_round_trip);
	tcase_add_test(tc, add_stores_the_request_in_id_order);
	tcase_add_test(tc, a_job_keeps_its_tag);
	tcase_add_test(tc, a_batch_key_resumes_instead_of_adding);
	tcase_add_test(tc, a_full_queue_is_an_error_not_a_hang);
	tcase_add_test(tc, recovery_requeues_what_was_in_flight_and_closes_what_was_answered);
	tcase_add_test(tc, load_unfinished_is_in_id_order_and_bounded);
	tcase_add_test(tc, update_changes_only_what_it_is_given);
	tcase_add_test(tc, errors_name_the_queue_and_the_cause);
	suite_add_tcase(s, tc);
	return check_run(s);
}
