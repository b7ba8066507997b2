/* test_pipeline_faults: `aimeter batch` against a simulator that answers
 * 10% of calls with 529, 10% with 500 and breaks 10% off mid-answer (a 529
 * for these non-streamed calls): every job ends done, or failed with its
 * error, none is lost or recorded twice, 529s move to the fallback model,
 * and the money stays exact across both models. (Streamed calls under the
 * same faults: test_pipeline_worker.) */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "pipefix.h"
#include "check_run.h"

static am_pf f;

static void teardown(void)
{
	am_pf_free(&f);
}

START_TEST(every_job_ends_done_or_failed_and_none_is_lost)
{
	am_pf_init(&f, "pipe-faults",
	           "{\"limits\": {\"rpm\": 1000000, \"itpm\": 100000000, \"otpm\": 100000000,"
	           " \"max_in_flight\": 256, \"init_fill_pct\": 100},"
	           " \"worker\": {\"concurrency\": 32}, \"budget\": {\"daily_usd\": \"0\"},"
	           " \"client\": {\"max_retries\": 2}, \"cache\": {\"enabled\": false},"
	           " \"selector\": {\"fallback_model\": \"claude-sonnet-4-5\"}}");
	am_sim_cfg sc;
	am_sim_cfg_default(&sc);
	sc.latency_ms = 5;
	sc.fault_529 = 0.1;
	sc.fault_500 = 0.1;
	sc.fault_midstream = 0.1;
	sc.seed = 99;
	am_pf_start_sim(&f, &sc);
	const int n = 200;
	size_t cap = (size_t)n * 100, len = 0;
	char *text = calloc(1, cap);
	for (int i = 1; i <= n; i++)
		len += (size_t)snprintf(text + len, cap - len,
		                        "{\"prompt\":\"Faulty question %d\",\"max_tokens\":32}\n", i);
	/* A bad line is reported and skipped; the rest runs. */
	len += (size_t)snprintf(text + len, cap - len, "{\"prompt\": 12}\n");
	char in[700], out[700];
	snprintf(in, sizeof in, "%s", am_pf_write(&f, "in.jsonl", text));
	free(text);
	snprintf(out, sizeof out, "%s/out.jsonl", f.dir);
	int rc = am_pf_run(&f, NULL, 55, (const char *const[]){ "batch", in, "--out", out, NULL });
	char *err = am_pf_slurp(f.err);
	ck_assert_msg(rc == 1, "exit %d (the bad line fails); stderr:\n%s", rc, err);
	ck_assert_msg(strstr(err, ":201: "), "the bad line is named: %s", err);
	free(err);

	am_sim_stats ss;
	am_sim_get_stats(f.sim, &ss);
	ck_assert_int_gt(ss.overloaded, 0);
	ck_assert_int_gt(ss.server_errors, 0);

	sqlite3 *db = am_pf_db(&f);
	int64_t jobs = am_pf_i64(db, "SELECT count(*) FROM jobs");
	int64_t done = am_pf_i64(db, "SELECT count(*) FROM jobs WHERE state = 'done'");
	int64_t failed = am_pf_i64(db, "SELECT count(*) FROM jobs WHERE state = 'failed'");
	ck_assert_int_eq(jobs, n);
	ck_assert_int_eq(done + failed, n);
	ck_assert_int_gt(done, n * 3 / 4);
	/* A failed job says why: the last error the provider gave. */
	ck_assert_int_eq(am_pf_i64(db, "SELECT count(*) FROM jobs WHERE state = 'failed' AND NOT "
	                               "(error LIKE '%%HTTP 529%%' OR error LIKE '%%HTTP 500%%')"),
	                 0);
	ck_assert_int_eq(am_pf_i64(db, "SELECT count(*) FROM jobs WHERE state = 'failed' AND "
	                               "attempts <> 3"),
	                 0);
	/* Each done job is in the ledger exactly once, and only done jobs. */
	ck_assert_int_eq(am_pf_i64(db, "SELECT count(*) FROM usage_events"), done);
	ck_assert_int_eq(am_pf_i64(db, "SELECT count(DISTINCT job_id) FROM usage_events"), done);
	ck_assert_int_eq(am_pf_i64(db, "SELECT count(*) FROM usage_events u JOIN jobs j ON "
	                               "j.id = u.job_id WHERE j.state = 'done'"),
	                 done);
	/* Every whole answer the simulator gave is one of those rows. */
	ck_assert_int_eq(ss.ok, done);
	/* After a 529 the fallback model answers, and says why. */
	ck_assert_int_gt(am_pf_i64(db, "SELECT count(*) FROM usage_events WHERE model LIKE "
	                               "'claude-sonnet-4-5%%' AND reason LIKE '%%529%%'"),
	                 0);
	ck_assert_int_gt(am_pf_i64(db, "SELECT count(*) FROM usage_events WHERE model LIKE "
	                               "'claude-haiku-4-5%%'"),
	                 0);
	int64_t recomputed, recorded;
	am_pf_ledger_costs(db, &recomputed, &recorded);
	ck_assert_int_eq(recorded, recomputed);
	sqlite3_close(db);

	/* The results: one line per input line, in order; failures carry the
	 * error. */
	FILE *fp = fopen(out, "r");
	ck_assert_ptr_nonnull(fp);
	char *line = NULL;
	size_t lcap = 0;
	int lines = 0, ok = 0, bad = 0;
	while (getline(&line, &lcap, fp) > 0) {
		json_t *o = json_loads(line, 0, NULL);
		ck_assert_ptr_nonnull(o);
		lines++;
		const char *st = json_string_value(json_object_get(o, "status"));
		const char *e = json_string_value(json_object_get(o, "error"));
		if (!strcmp(st, "ok")) {
			ok++;
			ck_assert_ptr_null(e);
		} else {
			ck_assert_str_eq(st, "failed");
			ck_assert_msg(e && *e, "line %d failed without an error", lines);
			bad++;
		}
		json_decref(o);
	}
	free(line);
	fclose(fp);
	ck_assert_int_eq(lines, n + 1);
	ck_assert_int_eq(ok, done);
	ck_assert_int_eq(bad, failed + 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pipeline_faults");
	TCase *tc = tcase_create("faults");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, every_job_ends_done_or_failed_and_none_is_lost);
	suite_add_tcase(s, tc);
	return check_run(s);
}
