/* pbatch: the provider's batches in the ledger - the intent written with
 * its jobs before a submit, the provider's answer, a lost submit giving its
 * jobs back, each result settled once, the batch finished with its missing
 * jobs queued again, the reservations still held, the jobs waiting for a
 * batch, strays of a dead real-time run, and the summary the dashboard
 * shows. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batchq.h"
#include "check_run.h"
#include "jobfix.h"
#include "ledger.h"
#include "owner.h"
#include "pbatch.h"
#include "queue.h"
#include "scratch.h"
#include "tag.h"

static am_scratch sc;

#define T0 1718452800000000000LL /* 2024-06-15 12:00 UTC */
#define SEC 1000000000LL

static void setup(void)
{
	am_err err = {0};
	ck_assert_msg(am_scratch_open(&sc, "pbatch", &err) == 0, "%s", err.msg);
}

static void teardown(void)
{
	am_scratch_close(&sc);
}

static int64_t add(const char *key, am_job_state st)
{
	return am_test_add_job(sc.db, NULL, key, st, T0);
}

static const char *state_of(int64_t id)
{
	static char buf[32];
	am_job j;
	am_err err;
	ck_assert_int_eq(am_queue_get(sc.db, id, &j, &err), 0);
	snprintf(buf, sizeof buf, "%s/%d", am_job_state_name(j.state), j.attempts);
	am_job_clear(&j);
	return buf;
}

static int64_t intent(const int64_t *ids, const int64_t *res, int n)
{
	int64_t id;
	am_err err = {0};
	ck_assert_msg(am_pb_intent(sc.db, "http://127.0.0.1:1", "1:1", ids, res, n, 100, T0, &id,
	                           &err) == 0, "%s", err.msg);
	return id;
}

/* am_pb_outstanding_tags into "tag=pusd;..." */
static int tag_sum(void *ctx, const char *tag, int64_t pusd)
{
	char *buf = ctx;
	size_t len = strlen(buf);
	snprintf(buf + len, 128 - len, "%s=%lld;", tag, (long long)pusd);
	return 0;
}

static const char *outstanding_tags(void)
{
	static char buf[128];
	buf[0] = '\0';
	am_err err = {0};
	ck_assert_msg(am_pb_outstanding_tags(sc.db, tag_sum, buf, &err) == 0, "%s", err.msg);
	return buf;
}

START_TEST(intent_answer_settle_finish)
{
	int64_t j[3] = { add("k1", AM_JOB_QUEUED), add("k2", AM_JOB_QUEUED),
		         add("k3", AM_JOB_BLOCKED_BUDGET) };
	int64_t res[3] = { 100, 200, 300 };
	int64_t b = intent(j, res, 3);
	for (int i = 0; i < 3; i++)
		ck_assert_str_eq(state_of(j[i]), "in_flight/1");
	am_err err = {0};
	int64_t out;
	ck_assert_int_eq(am_pb_outstanding(sc.db, &out, &err), 0);
	ck_assert_int_eq(out, 600);
	/* By tag: the tagged jobs' reservations, the untagged one left out. */
	char sql[96];
	snprintf(sql, sizeof sql, "UPDATE jobs SET tag = 'evals' WHERE id IN (%lld, %lld)",
	         (long long)j[0], (long long)j[1]);
	ck_assert_int_eq(sqlite3_exec(sc.db, sql, NULL, NULL, NULL), SQLITE_OK);
	ck_assert_str_eq(outstanding_tags(), "evals=300;");

	am_pb_row row;
	ck_assert_int_eq(am_pb_find(sc.db, "msgbatch_x", &row, &err), 0);
	am_pb_remote r = { .provider_id = "msgbatch_x", .state = AM_PB_IN_PROGRESS, .processing = 3,
		           .created_ns = T0 + SEC, .expires_ns = T0 + 86400 * SEC };
	ck_assert_int_eq(am_pb_remote_set(sc.db, b, &r, T0 + SEC, &err), 0);
	ck_assert_int_eq(am_pb_find(sc.db, "msgbatch_x", &row, &err), 1);
	ck_assert_int_eq(row.id, b);
	ck_assert_int_eq(row.state, AM_PB_IN_PROGRESS);
	ck_assert_int_eq(row.requests, 3);
	ck_assert_int_eq(row.reserved_pusd, 600);

	/* The first result settles; the same line again changes nothing. */
	bool settled;
	int64_t reserved;
	int attempts;
	char tag[AM_TAG_MAX + 1];
	ck_assert_int_eq(am_pb_link(sc.db, b, j[0], &settled, &reserved, &attempts, tag, &err), 1);
	ck_assert(!settled);
	ck_assert_int_eq(reserved, 100);
	ck_assert_int_eq(attempts, 1);
	ck_assert_int_eq(am_pb_settle(sc.db, b, j[0], AM_PB_SUCCEEDED, 180, &err), 1);
	ck_assert_int_eq(am_pb_settle(sc.db, b, j[0], AM_PB_SUCCEEDED, 180, &err), 0);
	ck_assert_int_eq(am_pb_link(sc.db, b, j[0], &settled, &reserved, &attempts, tag, &err), 1);
	ck_assert(settled);
	ck_assert_int_eq(am_pb_link(sc.db, b, 999, &settled, &reserved, &attempts, tag, &err), 0);
	ck_assert_int_eq(am_pb_job_done(sc.db, j[0], "claude-x", "hi", T0, &err), 0);
	ck_assert_int_eq(am_pb_outstanding(sc.db, &out, &err), 0);
	ck_assert_int_eq(out, 500);
	ck_assert_str_eq(outstanding_tags(), "evals=200;");
	ck_assert_str_eq(tag, "evals");
	ck_assert_int_eq(am_pb_settle(sc.db, b, j[1], AM_PB_EXPIRED, 0, &err), 1);
	ck_assert_int_eq(am_pb_job_state(sc.db, j[1], "queued", "expired", 1, T0, &err), 0);
	ck_assert_str_eq(state_of(j[1]), "queued/0");

	/* Finished: the job the results never named goes back to the queue. */
	int64_t requeued;
	ck_assert_int_eq(am_pb_finish(sc.db, b, T0 + 2 * SEC, &requeued, &err), 0);
	ck_assert_int_eq(requeued, 1);
	ck_assert_str_eq(state_of(j[2]), "queued/1");
	ck_assert_str_eq(state_of(j[0]), "done/1");
	ck_assert_int_eq(am_pb_outstanding(sc.db, &out, &err), 0);
	ck_assert_int_eq(out, 0);
	ck_assert_str_eq(outstanding_tags(), "");
	ck_assert_int_eq(am_pb_find(sc.db, "msgbatch_x", &row, &err), 1);
	ck_assert_int_eq(row.state, AM_PB_DONE);
	ck_assert_int_eq(row.settled, 3);
	/* A late poll does not reopen it. */
	r.state = AM_PB_ENDED;
	ck_assert_int_eq(am_pb_remote_set(sc.db, b, &r, T0 + 3 * SEC, &err), 0);
	ck_assert_int_eq(am_pb_find(sc.db, "msgbatch_x", &row, &err), 1);
	ck_assert_int_eq(row.state, AM_PB_DONE);
}
END_TEST

START_TEST(a_lost_submit_gives_its_jobs_back)
{
	int64_t j[2] = { add("k1", AM_JOB_QUEUED), add("k2", AM_JOB_QUEUED) };
	int64_t res[2] = { 5, 5 };
	int64_t b = intent(j, res, 2);
	am_err err = {0};
	am_pb_row *rows;
	int n;
	ck_assert_int_eq(am_pb_open(sc.db, NULL, NULL, NULL, &rows, &n, &err), 0);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(rows[0].state, AM_PB_SUBMITTING);
	ck_assert_str_eq(rows[0].provider_id, "");
	free(rows);
	ck_assert_int_eq(am_pb_lost(sc.db, b, T0, &err), 0);
	ck_assert_str_eq(state_of(j[0]), "queued/0");
	ck_assert_str_eq(state_of(j[1]), "queued/0");
	ck_assert_int_eq(am_pb_open(sc.db, NULL, NULL, NULL, &rows, &n, &err), 0);
	ck_assert_int_eq(n, 0);
	free(rows);
	int64_t out;
	ck_assert_int_eq(am_pb_outstanding(sc.db, &out, &err), 0);
	ck_assert_int_eq(out, 0);
	ck_assert_str_eq(outstanding_tags(), "");
}
END_TEST

static int collect(void *ctx, int64_t id, const char *request, const char *model, int attempts,
                   const char *tag)
{
	(void)request;
	(void)tag;
	(void)model;
	(void)attempts;
	int64_t *v = ctx;
	v[++v[0]] = id;
	return 0;
}

START_TEST(the_waiting_jobs_and_the_strays_of_a_run)
{
	am_err err = {0};
	int64_t q = add("q", AM_JOB_QUEUED), bl = add("b", AM_JOB_BLOCKED_BUDGET),
	        dn = add("d", AM_JOB_DONE), fl = add("f", AM_JOB_IN_FLIGHT),
	        fr = add("r", AM_JOB_IN_FLIGHT), other = add("o", AM_JOB_QUEUED);
	ck_assert_int_eq(am_test_record_answer(sc.led, fr, T0, &err), 1);
	am_queue_run *r = am_queue_run_new(sc.db, &err);
	ck_assert_ptr_nonnull(r);
	int64_t mine[] = { q, bl, dn, fl, fr };
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(am_queue_run_add(r, mine[i], &err), 0);
	/* fl in an open batch stays; without one it is a stray. */
	int64_t res = 1;
	int64_t b = intent(&fl, &res, 1);
	int64_t n;
	ck_assert_int_eq(am_pb_strays(r, T0, &n, &err), 0);
	ck_assert_int_eq(n, 1); /* fr: its answer is in the ledger, so done */
	ck_assert_str_eq(state_of(fr), "done/0");
	ck_assert_str_eq(state_of(fl), "in_flight/1");
	ck_assert_int_eq(am_pb_lost(sc.db, b, T0, &err), 0);
	ck_assert_int_eq(am_pb_job_state(sc.db, fl, "in_flight", NULL, 0, T0, &err), 0);
	ck_assert_int_eq(am_pb_strays(r, T0, &n, &err), 0);
	ck_assert_int_eq(n, 1);
	ck_assert_str_eq(state_of(fl), "queued/0");
	int64_t v[8] = { 0 };
	ck_assert_int_eq(am_pb_each_waiting(r, collect, v, &err), 0);
	ck_assert_int_eq(v[0], 3); /* q, b, fl; not done, not another run's */
	ck_assert_int_eq(v[1], q);
	ck_assert_int_eq(v[2], bl);
	ck_assert_int_eq(v[3], fl);
	(void)other;
	/* The run's open batches: only those holding its jobs. */
	int64_t b2 = intent(&other, &res, 1);
	am_pb_row *rows;
	int nr;
	ck_assert_int_eq(am_pb_open(sc.db, r, NULL, NULL, &rows, &nr, &err), 0);
	ck_assert_int_eq(nr, 0);
	free(rows);
	ck_assert_int_eq(am_pb_open(sc.db, NULL, NULL, NULL, &rows, &nr, &err), 0);
	ck_assert_int_eq(nr, 1);
	ck_assert_int_eq(rows[0].id, b2);
	free(rows);
	am_queue_run_free(r);
}
END_TEST

START_TEST(the_summary_for_the_dashboard)
{
	am_err err = {0};
	am_pb_summary s;
	ck_assert_int_eq(am_pb_summary_read(sc.db, T0, &s, &err), 0);
	ck_assert_int_eq(s.open, 0);
	ck_assert_int_eq(s.left_ns, -1);
	/* One batch ended after 100 s, with one job recorded; one open for 30 s. */
	int64_t a = add("a", AM_JOB_QUEUED), c = add("c", AM_JOB_QUEUED);
	int64_t res = 10;
	int64_t b1 = intent(&a, &res, 1), b2 = intent(&c, &res, 1);
	am_pb_remote r1 = { .provider_id = "msgbatch_1", .state = AM_PB_ENDED, .succeeded = 1,
		            .created_ns = T0, .ended_ns = T0 + 100 * SEC };
	am_pb_remote r2 = { .provider_id = "msgbatch_2", .state = AM_PB_IN_PROGRESS,
		            .processing = 1, .created_ns = T0 + 200 * SEC };
	ck_assert_int_eq(am_pb_remote_set(sc.db, b1, &r1, T0, &err), 0);
	ck_assert_int_eq(am_pb_remote_set(sc.db, b2, &r2, T0, &err), 0);
	ck_assert_int_eq(am_test_record_answer(sc.led, a, T0, &err), 1);
	ck_assert_int_eq(am_pb_settle(sc.db, b1, a, AM_PB_SUCCEEDED, 1000000, &err), 1);
	ck_assert_int_eq(am_pb_finish(sc.db, b1, T0, NULL, &err), 0);
	ck_assert_int_eq(am_pb_summary_read(sc.db, T0 + 230 * SEC, &s, &err), 0);
	ck_assert_int_eq(s.open, 1);
	ck_assert_int_eq(s.requests, 1);
	ck_assert_int_eq(s.processing, 1);
	ck_assert_int_eq(s.oldest_ns, T0 + 200 * SEC);
	ck_assert_int_eq(s.left_ns, 70 * SEC);
	ck_assert_int_eq(s.saved_pusd, 1000000 - s.cost_pusd);
	am_pb_row *rows;
	int n;
	ck_assert_int_eq(am_pb_list(sc.db, 0, &rows, &n, &err), 0);
	ck_assert_int_eq(n, 2);
	ck_assert_str_eq(rows[0].provider_id, "msgbatch_2"); /* newest first */
	ck_assert_int_eq(rows[1].realtime_pusd, 1000000);
	free(rows);
}
END_TEST

/* A real-time sender never takes a job in a provider batch still out:
 * recovery leaves it in flight and the claim passes it by, until the batch
 * is done or lost. */
START_TEST(real_time_senders_leave_open_batches_alone)
{
	am_err err = {0};
	int64_t j = add("k", AM_JOB_QUEUED);
	int64_t res = 1;
	int64_t b = intent(&j, &res, 1);
	ck_assert_int_eq(am_pb_job_in_open_batch(sc.db, j, &err), 1);
	am_owner me;
	am_owner_self(&me);
	int requeued = -1;
	ck_assert_int_eq(am_queue_recover(sc.db, &me, T0, &requeued, &err), 0);
	ck_assert_str_eq(state_of(j), "in_flight/1");
	int64_t *ids;
	int n;
	ck_assert_int_eq(am_queue_claim_unfinished(sc.db, &me, 0, &ids, &n, &err), 0);
	ck_assert_int_eq(n, 0);
	free(ids);
	ck_assert_int_eq(am_pb_lost(sc.db, b, T0, &err), 0);
	ck_assert_int_eq(am_pb_job_in_open_batch(sc.db, j, &err), 0);
	ck_assert_int_eq(am_queue_claim_unfinished(sc.db, &me, 0, &ids, &n, &err), 0);
	ck_assert_int_eq(n, 1);
	free(ids);
}
END_TEST

static Suite *pbatch_suite(void)
{
	Suite *s = suite_create("pbatch");
	TCase *tc = tcase_create("pbatch");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, intent_answer_settle_finish);
	tcase_add_test(tc, a_lost_submit_gives_its_jobs_back);
	tcase_add_test(tc, the_waiting_jobs_and_the_strays_of_a_run);
	tcase_add_test(tc, the_summary_for_the_dashboard);
	tcase_add_test(tc, real_time_senders_leave_open_batches_alone);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(pbatch_suite());
}
