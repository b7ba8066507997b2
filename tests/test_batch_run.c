/* test_batch_run: the batch runner (am_batch_run) on a real worker against
 * the in-process simulator on loopback, with a ledger in a private
 * directory: results in input order with bad and blank lines, a re-run
 * that resumes (done lines are not sent again, failed ones are), lines held
 * by a live other process (status 4, nothing sent), a queue smaller than
 * the file, the budget blocking (status 3), a stop, and results that
 * cannot be written. */
#include <check.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "batch.h"
#include "batchq.h"
#include "check_run.h"
#include "ledger.h"
#include "pricing.h"
#include "queue.h"
#include "sim.h"
#include "tmpdir.h"
#include "workstart.h"

static char dir[512], db_path[600], in_path[700];
static am_pricing *pricing;
static am_sim *sim;
static char *outbuf, *msgbuf;
static size_t outlen, msglen;

static void setup(void)
{
	am_err err;
	ck_assert_int_eq(am_test_tmpdir("batch_run", dir, sizeof dir), 0);
	snprintf(db_path, sizeof db_path, "%s/ledger.db", dir);
	snprintf(in_path, sizeof in_path, "%s/in.jsonl", dir);
	ck_assert_msg(am_test_pricing(&pricing, &err) == 0, "%s", err.msg);
	am_sim_cfg sc;
	am_sim_cfg_default(&sc);
	ck_assert_msg(am_sim_start(&sim, &sc, &err) == 0, "%s", err.msg);
}

static void teardown(void)
{
	free(outbuf);
	free(msgbuf);
	outbuf = msgbuf = NULL;
	am_sim_stop(sim);
	am_pricing_free(pricing);
	am_test_rmtree(dir);
}

static int64_t sent(void)
{
	am_sim_stats st;
	am_sim_get_stats(sim, &st);
	return st.requests;
}

typedef struct run_args {
	const char *config;      /* the worker's config text; NULL = "{}" */
	int64_t capacity;
	atomic_int *stop;
	FILE *out;               /* NULL = a memory stream read into outbuf */
	bool no_cache;
} run_args;

/* Writes `text` as the input file and runs it on a fresh worker. */
static int run_text(const char *text, const run_args *a, am_batch_outcome *oc)
{
	am_err err;
	FILE *f = fopen(in_path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
	free(outbuf);
	free(msgbuf);
	outbuf = msgbuf = NULL;

	am_worker *w = am_test_worker(a && a->config ? a->config : "{}", pricing, db_path,
	                              am_sim_url(sim), "batch", false, &err);
	ck_assert_msg(w != NULL, "%s", err.msg);
	am_ledger *led = NULL;
	ck_assert_msg(am_ledger_open(&led, db_path, NULL, &err) == 0, "%s", err.msg);
	FILE *in = fopen(in_path, "r");
	FILE *out = a && a->out ? a->out : open_memstream(&outbuf, &outlen);
	FILE *msgs = open_memstream(&msgbuf, &msglen);
	ck_assert(in && out && msgs);
	am_batch_run_opts ro = {
		.in = in,
		.in_name = "in.jsonl",
		.out = out,
		.msgs = msgs,
		.no_cache = a && a->no_cache,
		.queue_capacity = a ? a->capacity : 0,
		.ledger = led,
		.worker = w,
		.stop = a ? a->stop : NULL,
	};
	int rc = am_batch_run(&ro, oc);
	fclose(in);
	if (!(a && a->out))
		fclose(out);
	fclose(msgs);
	am_ledger_close(led);
	return rc;
}

/* The n-th line of outbuf (1-based) starts with `prefix`. */
static void expect_line(int n, const char *prefix)
{
	const char *p = outbuf ? outbuf : "";
	for (int i = 1; i < n && p; i++)
		if ((p = strchr(p, '\n')))
			p++;
	ck_assert_msg(p && !strncmp(p, prefix, strlen(prefix)), "line %d: want %s in:\n%s", n,
	              prefix, outbuf ? outbuf : "");
}

static int count_lines(const char *s)
{
	int n = 0;
	for (; s && *s; s++)
		n += *s == '\n';
	return n;
}

static int64_t job_of_line(am_ledger *led, const char *line, int64_t lineno, am_job *j)
{
	char key[AM_QUEUE_BATCH_KEY_MAX];
	am_queue_batch_key(line, strlen(line), lineno, key);
	am_err err;
	ck_assert_int_eq(am_queue_find(am_ledger_db(led), key, j, &err), 1);
	return j->id;
}

START_TEST(results_come_in_input_order_with_bad_lines_failed)
{
	am_batch_outcome oc;
	int rc = run_text("\xEF\xBB\xBF{\"prompt\":\"one\"}\n"
	                  "\n"
	                  "{not json\n"
	                  "{\"id\":\"x\",\"prompt\":\"two\",\"max_tokens\":8}\r\n",
	                  NULL, &oc);
	ck_assert_int_eq(rc, 1); /* a bad line */
	ck_assert_int_eq(oc.end, AM_BATCH_END_DONE);
	ck_assert_int_eq(oc.lines, 3);
	ck_assert_int_eq(oc.done, 2);
	ck_assert_int_eq(oc.failed, 1);
	ck_assert_int_eq(oc.blocked + oc.unfinished, 0);
	ck_assert(oc.eof);
	ck_assert_int_gt(oc.cost_pusd, 0);
	ck_assert_int_eq(sent(), 2);
	ck_assert_int_eq(count_lines(outbuf), 3);
	expect_line(1, "{\"id\":\"1\",\"status\":\"ok\"");
	expect_line(2, "{\"id\":\"3\",\"status\":\"failed\"");
	expect_line(3, "{\"id\":\"x\",\"status\":\"ok\"");
	ck_assert_msg(strstr(outbuf, "\"error\":\"line 3: "), "%s", outbuf);
	ck_assert_msg(strstr(msgbuf, "in.jsonl:3: ") && strstr(msgbuf, "(skipped)\n"), "%s", msgbuf);
	ck_assert_msg(strstr(msgbuf, "batch 2/3 done · 1 failed · 0 blocked · 0 in flight"), "%s",
	              msgbuf);
}
END_TEST

START_TEST(a_rerun_sends_only_what_did_not_succeed)
{
	const char *text = "{\"prompt\":\"a\"}\n{\"prompt\":\"b\"}\n{\"prompt\":\"c\"}\n";
	run_args a = { .no_cache = true }; /* or the cache would answer the re-sent line */
	am_batch_outcome oc;
	ck_assert_int_eq(run_text(text, &a, &oc), 0);
	ck_assert_int_eq(sent(), 3);

	/* Line 2 failed last time (no answer reached the ledger): the re-run
	 * sends it again, and only it. */
	am_ledger *led = NULL;
	am_err err;
	ck_assert_int_eq(am_ledger_open(&led, db_path, NULL, &err), 0);
	am_job j;
	int64_t id = job_of_line(led, "{\"prompt\":\"b\"}", 2, &j);
	am_job_clear(&j);
	char sql[100];
	snprintf(sql, sizeof sql, "DELETE FROM usage_events WHERE job_id = %lld", (long long)id);
	ck_assert_int_eq(sqlite3_exec(am_ledger_db(led), sql, NULL, NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(am_queue_update(am_ledger_db(led), id, AM_JOB_FAILED, NULL, NULL, "boom",
	                                 NULL, 1, 0, &err),
	                 0);
	am_ledger_close(led);

	ck_assert_int_eq(run_text(text, &a, &oc), 0);
	ck_assert_int_eq(sent(), 4);
	ck_assert_int_eq(oc.done, 3);
	ck_assert_int_eq(count_lines(outbuf), 3);
	expect_line(2, "{\"id\":\"2\",\"status\":\"ok\"");

	ck_assert_int_eq(am_ledger_open(&led, db_path, NULL, &err), 0);
	int64_t counts[AM_JOB_NSTATES];
	ck_assert_int_eq(am_queue_counts(am_ledger_db(led), counts, &err), 0);
	ck_assert_int_eq(counts[AM_JOB_DONE], 3); /* the same three jobs */
	am_ledger_close(led);
}
END_TEST

/* Lines 1 and 3 belong to a live other process (the test's parent, with a
 * start time of 0, which matches any). */
START_TEST(lines_of_a_live_run_are_left_to_it)
{
	const char *l1 = "{\"prompt\":\"a\"}", *l3 = "{\"prompt\":\"c\"}";
	char other[AM_OWNER_MAX];
	snprintf(other, sizeof other, "%ld:0", (long)getppid());
	am_ledger *led = NULL;
	am_err err;
	ck_assert_int_eq(am_ledger_open(&led, db_path, NULL, &err), 0);
	char k1[AM_QUEUE_BATCH_KEY_MAX], k3[AM_QUEUE_BATCH_KEY_MAX];
	am_queue_batch_key(l1, strlen(l1), 1, k1);
	am_queue_batch_key(l3, strlen(l3), 3, k3);
	int64_t id;
	ck_assert_int_eq(am_queue_add(am_ledger_db(led), other, k1, "{}", NULL, 0, 0, &id, NULL, &err),
	                 0);
	ck_assert_int_eq(am_queue_add(am_ledger_db(led), other, k3, "{}", NULL, 0, 0, &id, NULL, &err),
	                 0);
	am_ledger_close(led);

	char text[200];
	snprintf(text, sizeof text, "%s\n{\"prompt\":\"b\"}\n%s\n", l1, l3);
	am_batch_outcome oc;
	ck_assert_int_eq(run_text(text, NULL, &oc), 4);
	ck_assert_int_eq(oc.end, AM_BATCH_END_HELD);
	ck_assert_int_eq(oc.held, 2);
	ck_assert_int_eq(oc.held_pid, (long)getppid());
	ck_assert(!oc.held_several);
	ck_assert_int_eq(sent(), 0);
	ck_assert_int_eq(outlen, 0);
	ck_assert_msg(!strstr(msgbuf, "batch "), "%s", msgbuf); /* no progress line */

	ck_assert_int_eq(am_ledger_open(&led, db_path, NULL, &err), 0);
	am_job j;
	job_of_line(led, l3, 3, &j);
	ck_assert_str_eq(j.owner, other);
	ck_assert_int_eq(j.state, AM_JOB_QUEUED);
	am_job_clear(&j);
	am_ledger_close(led);
}
END_TEST

START_TEST(a_queue_smaller_than_the_file_takes_it_in_turns)
{
	char text[1024];
	size_t len = 0;
	for (int i = 1; i <= 9; i++)
		len += (size_t)snprintf(text + len, sizeof text - len,
		                        "{\"id\":\"q%d\",\"prompt\":\"question %d\",\"max_tokens\":8}\n",
		                        i, i);
	run_args a = { .capacity = 2 };
	am_batch_outcome oc;
	ck_assert_int_eq(run_text(text, &a, &oc), 0);
	ck_assert_int_eq(oc.done, 9);
	ck_assert_int_eq(sent(), 9);
	ck_assert_int_eq(count_lines(outbuf), 9);
	for (int i = 1; i <= 9; i++) {
		char want[64];
		snprintf(want, sizeof want, "{\"id\":\"q%d\",\"status\":\"ok\"", i);
		expect_line(i, want);
	}
}
END_TEST

START_TEST(jobs_the_budget_blocks_end_with_status_3)
{
	run_args a = { .config = "{\"budget\": {\"daily_usd\": 0.000001}}" };
	am_batch_outcome oc;
	ck_assert_int_eq(run_text("{\"prompt\":\"a\",\"max_tokens\":500}\n", &a, &oc), 3);
	ck_assert_int_eq(oc.end, AM_BATCH_END_DONE);
	ck_assert_int_eq(oc.blocked, 1);
	ck_assert_int_eq(sent(), 0);
	expect_line(1, "{\"id\":\"1\",\"status\":\"blocked\"");
}
END_TEST

START_TEST(a_stop_ends_the_run_without_results)
{
	atomic_int stop = 1;
	run_args a = { .stop = &stop };
	am_batch_outcome oc;
	ck_assert_int_eq(run_text("{\"prompt\":\"a\"}\n", &a, &oc), 1);
	ck_assert_int_eq(oc.end, AM_BATCH_END_INTERRUPTED);
	ck_assert_int_eq(outlen, 0);
	ck_assert_int_eq(sent(), 0);
}
END_TEST

START_TEST(results_that_cannot_be_written_are_an_error)
{
	char ro_path[720];
	snprintf(ro_path, sizeof ro_path, "%s/ro.jsonl", dir);
	FILE *ro = fopen(ro_path, "w+");
	ck_assert_ptr_nonnull(ro);
	fclose(ro);
	ro = fopen(ro_path, "r"); /* writes to it fail */
	run_args a = { .out = ro };
	am_batch_outcome oc;
	ck_assert_int_eq(run_text("{\"prompt\":\"a\"}\n", &a, &oc), 1);
	fclose(ro);
	ck_assert_int_eq(oc.end, AM_BATCH_END_WRITE);
	ck_assert_msg(strstr(oc.err.msg, "cannot write the results"), "%s", oc.err.msg);
	ck_assert_int_eq(oc.done, 1);
}
END_TEST

static Suite *batch_run_suite(void)
{
	Suite *s = suite_create("batch_run");
	TCase *tc = tcase_create("batch_run");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, results_come_in_input_order_with_bad_lines_failed);
	tcase_add_test(tc, a_rerun_sends_only_what_did_not_succeed);
	tcase_add_test(tc, lines_of_a_live_run_are_left_to_it);
	tcase_add_test(tc, a_queue_smaller_than_the_file_takes_it_in_turns);
	tcase_add_test(tc, jobs_the_budget_blocks_end_with_status_3);
	tcase_add_test(tc, a_stop_ends_the_run_without_results);
	tcase_add_test(tc, results_that_cannot_be_written_are_an_error);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	check_fixed_tz();
	return check_run(batch_run_suite());
}
