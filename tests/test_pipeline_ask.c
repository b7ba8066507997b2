/* test_pipeline_ask: `aimeter ask` exit codes against the simulator, and
 * what a wrong API key does to `ask` and to `batch`.
 *
 *   0  answered: the answer on stdout, one summary line on stderr (model,
 *      reason, tokens, cost, latency), one ledger row;
 *   1  failed: a wrong key is a clear message, sent once (never retried),
 *      and never echoes the key; a batch stops at once and keeps the
 *      unsent jobs for a re-run;
 *   2  usage errors, before anything is sent;
 *   3  blocked by the budget: nothing is sent and the job is cancelled, so
 *      that no later run sends it behind the user's back. */
#include <check.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pipefix.h"
#include "check_run.h"

static am_pf f;

static void teardown(void)
{
	am_pf_free(&f);
}

static const char *const config_base =
	"{\"limits\": {\"rpm\": 100000, \"itpm\": 10000000, \"otpm\": 10000000},"
	" \"budget\": {\"daily_usd\": \"0\"}, \"client\": {\"max_retries\": 3}}";

static void start_sim(const char *api_key)
{
	am_sim_cfg sc;
	am_sim_cfg_default(&sc);
	sc.latency_ms = 20;
	sc.tokens_per_second = 2000;
	sc.seed = 3;
	sc.api_key = api_key;
	am_pf_start_sim(&f, &sc);
}

static int64_t sim_requests(void)
{
	am_sim_stats s;
	am_sim_get_stats(f.sim, &s);
	return s.requests;
}

static bool matches(const char *text, const char *re)
{
	regex_t rx;
	ck_assert_int_eq(regcomp(&rx, re, REG_EXTENDED | REG_NEWLINE), 0);
	bool m = regexec(&rx, text, 0, NULL, 0) == 0;
	regfree(&rx);
	return m;
}

START_TEST(answered_exits_0_with_a_summary)
{
	am_pf_init(&f, "pipe-ask0", config_base);
	start_sim(NULL);
	int rc = am_pf_run(&f, NULL, 30,
	                   (const char *const[]){ "ask", "--max-tokens", "40", "Name three colours",
	                                          NULL });
	char *out = am_pf_slurp(f.out), *err = am_pf_slurp(f.err);
	ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
	ck_assert_msg(strlen(out) > 20, "stdout: '%s'", out);
	/* "claude-haiku-4-5-20251001 · 18 chars < 500 · 13 in / 40 out · $0.000213 · 0.1s" */
	ck_assert_msg(matches(err, "^claude-haiku-4-5[-0-9]* · [^·]+ · [0-9]+ in / 40 out · "
	                           "\\$0\\.[0-9]+ · [0-9]+\\.[0-9]s$"),
	              "summary: '%s'", err);
	sqlite3 *db = am_pf_db(&f);
	ck_assert_int_eq(am_pf_i64(db, "SELECT count(*) FROM usage_events WHERE source = 'ask' "
	                               "AND output_tokens = 40 AND cost_pusd > 0"),
	                 1);
	ck_assert_int_eq(am_pf_i64(db, "SELECT count(*) FROM jobs WHERE state = 'done'"), 1);
	int64_t recomputed, recorded;
	am_pf_ledger_costs(db, &recomputed, &recorded);
	ck_assert_int_eq(recorded, recomputed);
	sqlite3_close(db);
	free(out);
	free(err);
	ck_assert_int_eq(sim_requests(), 1);

	/* --json: one object on stdout with the exact cost. */
	rc = am_pf_run(&f, NULL, 30,
	               (const char *const[]){ "ask", "--json", "--no-cache", "--max-tokens", "10",
	                                      "Name three colours", NULL });
	out = am_pf_slurp(f.out);
	ck_assert_int_eq(rc, 0);
	ck_assert_msg(matches(out, "^\\{\"model\":\"claude-haiku-4-5[-0-9]*\".*\"cost_usd\":"
	                           "\"0\\.[0-9]+\".*\\}$"),
	              "%s", out);
	free(out);
}
END_TEST

START_TEST(a_wrong_key_exits_1_at_once_without_retrying)
{
	am_pf_init(&f, "pipe-ask1", config_base);
	start_sim("sk-the-right-key");
	snprintf(f.key, sizeof f.key, "sk-wrong-key-4711");
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = am_pf_run(&f, NULL, 30, (const char *const[]){ "ask", "Hello there", NULL });
	clock_gettime(CLOCK_MONOTONIC, &t1);
	char *out = am_pf_slurp(f.out), *err = am_pf_slurp(f.err);
	ck_assert_msg(rc == 1, "exit %d: %s", rc, err);
	ck_assert_msg(strstr(err, "invalid x-api-key") && strstr(err, "401"), "%s", err);
	ck_assert_msg(!strstr(err, "4711") && !strstr(out, "4711"), "the key was printed");
	ck_assert_int_eq(sim_requests(), 1);
	ck_assert_int_lt(t1.tv_sec - t0.tv_sec, 10);
	free(out);
	free(err);

	/* A batch with the wrong key stops after the first answers instead of
	 * waiting forever, and keeps what it did not send. */
	size_t cap = 40 * 80, len = 0;
	char *text = calloc(1, cap);
	for (int i = 1; i <= 40; i++)
		len += (size_t)snprintf(text + len, cap - len, "{\"prompt\":\"Line %d\"}\n", i);
	char in[700], res[700];
	snprintf(in, sizeof in, "%s", am_pf_write(&f, "in.jsonl", text));
	free(text);
	snprintf(res, sizeof res, "%s/out.jsonl", f.dir);
	int64_t before = sim_requests();
	rc = am_pf_run(&f, NULL, 30,
	               (const char *const[]){ "batch", in, "--out", res, "--concurrency", "4",
	                                      NULL });
	err = am_pf_slurp(f.err);
	ck_assert_msg(rc == 1, "exit %d: %s", rc, err);
	ck_assert_msg(strstr(err, "invalid x-api-key") && strstr(err, "stay queued") &&
	                  strstr(err, "run the same command again"),
	              "%s", err);
	ck_assert_msg(!strstr(err, "4711"), "the key was printed");
	free(err);
	int64_t sent = sim_requests() - before;
	ck_assert_int_ge(sent, 1);
	ck_assert_int_le(sent, 4);
	sqlite3 *db = am_pf_db(&f);
	ck_assert_int_eq(am_pf_i64(db, "SELECT count(*) FROM jobs WHERE batch_key IS NOT NULL"), 40);
	/* The calls that came back failed; the rest (those cut off by the stop
	 * included) stay queued. */
	int64_t failed = am_pf_i64(db, "SELECT count(*) FROM jobs WHERE state = 'failed' AND "
	                               "batch_key IS NOT NULL");
	ck_assert(failed >= 1 && failed <= sent);
	ck_assert_int_eq(am_pf_i64(db, "SELECT count(*) FROM jobs WHERE state = 'queued' AND "
	                               "batch_key IS NOT NULL"),
	                 40 - failed);
	ck_assert_int_eq(am_pf_i64(db, "SELECT count(*) FROM usage_events"), 0);
	sqlite3_close(db);

	/* With the right key the same command finishes everything. */
	snprintf(f.key, sizeof f.key, "sk-the-right-key");
	rc = am_pf_run(&f, NULL, 30, (const char *const[]){ "batch", in, "--out", res, NULL });
	ck_assert_int_eq(rc, 0);
	db = am_pf_db(&f);
	ck_assert_int_eq(am_pf_i64(db, "SELECT count(*) FROM jobs WHERE state = 'done'"), 40);
	ck_assert_int_eq(am_pf_i64(db, "SELECT count(DISTINCT job_id) FROM usage_events"), 40);
	sqlite3_close(db);
}
END_TEST

START_TEST(usage_errors_exit_2_and_send_nothing)
{
	am_pf_init(&f, "pipe-ask2", config_base);
	start_sim(NULL);
	static const char *const cases[][5] = {
		{ "ask", NULL },
		{ "ask", "--max-tokens", "0", "hi", NULL },
		{ "ask", "--bogus", "hi", NULL },
		{ "ask", "one", "two", NULL },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int rc = am_pf_run(&f, NULL, 30, cases[i]);
		char *err = am_pf_slurp(f.err);
		ck_assert_msg(rc == 2, "case %zu: exit %d: %s", i, rc, err);
		ck_assert_msg(strstr(err, "aimeter ask"), "case %zu: %s", i, err);
		free(err);
	}
	/* An empty prompt on stdin is a usage error too. */
	const char *empty = am_pf_write(&f, "empty.txt", "");
	char path[700];
	snprintf(path, sizeof path, "%s", empty);
	ck_assert_int_eq(am_pf_run(&f, path, 30, (const char *const[]){ "ask", "-", NULL }), 2);
	ck_assert_int_eq(sim_requests(), 0);
}
END_TEST

START_TEST(blocked_by_the_budget_exits_3_and_cancels_the_job)
{
	am_pf_init(&f, "pipe-ask3",
	           "{\"budget\": {\"daily_usd\": \"0.000001\"},"
	           " \"limits\": {\"rpm\": 100000, \"itpm\": 10000000, \"otpm\": 10000000}}");
	start_sim(NULL);
	int rc = am_pf_run(&f, NULL, 30, (const char *const[]){ "ask", "What is 2+2?", NULL });
	char *err = am_pf_slurp(f.err);
	ck_assert_msg(rc == 3, "exit %d: %s", rc, err);
	ck_assert_msg(strstr(err, "blocked by the budget"), "%s", err);
	free(err);
	ck_assert_int_eq(sim_requests(), 0);
	sqlite3 *db = am_pf_db(&f);
	ck_assert_int_eq(am_pf_i64(db, "SELECT count(*) FROM jobs"), 1);
	ck_assert_int_eq(am_pf_i64(db, "SELECT count(*) FROM jobs WHERE state = 'cancelled'"), 1);
	sqlite3_close(db);

	/* A later run with room in the budget does not send it. */
	const char *in = am_pf_write(&f, "in.jsonl", "{\"prompt\":\"Something else\"}\n");
	char path[700];
	snprintf(path, sizeof path, "%s", in);
	rc = am_pf_run(&f, NULL, 30,
	               (const char *const[]){ "batch", path, "--budget", "1", NULL });
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(sim_requests(), 1);
	db = am_pf_db(&f);
	ck_assert_int_eq(am_pf_i64(db, "SELECT count(*) FROM jobs WHERE state = 'cancelled'"), 1);
	sqlite3_close(db);
}
END_TEST

START_TEST(a_stream_that_breaks_off_is_recorded_as_estimated_and_not_sent_again)
{
	am_pf_init(&f, "pipe-askmid", config_base);
	/* Half the streams break off halfway; the seed decides which, so try
	 * seeds until one breaks. A break after message_start is billed: the
	 * ask ends (exit 1) with the part that arrived, recorded as estimated,
	 * and the prompt is not sent a second time (it would be paid again). */
	bool seen = false;
	for (uint64_t seed = 1; seed <= 12 && !seen; seed++) {
		am_sim_cfg sc;
		am_sim_cfg_default(&sc);
		sc.latency_ms = 5;
		sc.fault_midstream = 0.5;
		sc.seed = seed;
		am_pf_start_sim(&f, &sc);
		char prompt[64];
		snprintf(prompt, sizeof prompt, "Tell a story number %llu", (unsigned long long)seed);
		int64_t before = sim_requests();
		int rc = am_pf_run(&f, NULL, 30,
		                   (const char *const[]){ "ask", "--stream", "--no-cache",
		                                          "--max-tokens", "60", prompt, NULL });
		char *out = am_pf_slurp(f.out), *err = am_pf_slurp(f.err);
		if (rc == 1 && strstr(err, "estimated")) {
			seen = true;
			ck_assert_int_eq(sim_requests() - before, 1);
			ck_assert_msg(strstr(err, "≈"), "%s", err);
			sqlite3 *db = am_pf_db(&f);
			ck_assert_int_eq(am_pf_i64(db, "SELECT estimated FROM usage_events ORDER BY id "
			                               "DESC LIMIT 1"),
			                 1);
			ck_assert_int_ge(am_pf_i64(db, "SELECT input_tokens FROM usage_events ORDER BY id "
			                               "DESC LIMIT 1"),
			                 1);
			ck_assert_int_eq(am_pf_i64(db, "SELECT count(*) FROM jobs j WHERE state = 'failed'"
			                               " AND id IN (SELECT job_id FROM usage_events)"),
			                 1);
			/* stdout holds the part that arrived, which the job kept. */
			sqlite3_stmt *st;
			ck_assert(sqlite3_prepare_v2(db, "SELECT result FROM jobs ORDER BY id DESC LIMIT 1",
			                             -1, &st, NULL) == SQLITE_OK);
			ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
			const char *answer = (const char *)sqlite3_column_text(st, 0);
			ck_assert_msg(!strncmp(out, answer, strlen(answer)), "'%s' vs '%s'", out, answer);
			sqlite3_finalize(st);
			sqlite3_close(db);
		}
		free(out);
		free(err);
	}
	ck_assert_msg(seen, "no seed gave a stream that broke off");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pipeline_ask");
	TCase *tc = tcase_create("ask");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, answered_exits_0_with_a_summary);
	tcase_add_test(tc, a_wrong_key_exits_1_at_once_without_retrying);
	tcase_add_test(tc, usage_errors_exit_2_and_send_nothing);
	tcase_add_test(tc, blocked_by_the_budget_exits_3_and_cancels_the_job);
	tcase_add_test(tc, a_stream_that_breaks_off_is_recorded_as_estimated_and_not_sent_again);
	suite_add_tcase(s, tc);
	return check_run(s);
}
