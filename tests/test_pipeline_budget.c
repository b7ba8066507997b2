/* test_pipeline_budget: the budget guard end to end through `aimeter batch`.
 *
 *  - 200 requests at once (concurrency 200, slow answers so that they are
 *    all in flight together) against a hard daily limit: the sum of the
 *    actual costs never crosses it, the rest wait as blocked_budget (exit
 *    3) only once nothing more fits, and a re-run with a higher --budget
 *    finishes them without repeating any;
 *  - a re-run resumes failed jobs too, whatever their place in the file
 *    relative to the blocked ones. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "money.h"
#include "pipefix.h"
#include "check_run.h"

static am_pf f;

static void teardown(void)
{
	am_pf_free(&f);
}

/* Limits far above the load: only the budget holds anything back. */
static void config_open(char *buf, size_t n, int max_retries)
{
	snprintf(buf, n,
	"{\"limits\": {\"rpm\": 1000000, \"itpm\": 100000000, \"otpm\": 100000000,"
	" \"max_in_flight\": 512, \"init_fill_pct\": 100},"
	" \"worker\": {\"concurrency\": 256}, \"budget\": {\"daily_usd\": \"0\"},"
	" \"client\": {\"max_retries\": %d}, \"cache\": {\"enabled\": false}}",
	max_retries);
}

static const char *write_lines(int n, const char *name)
{
	size_t cap = (size_t)n * 160 + 1, len = 0;
	char *text = calloc(1, cap);
	for (int i = 1; i <= n; i++)
		len += (size_t)snprintf(text + len, cap - len,
		                        "{\"id\":%d,\"prompt\":\"Budget question number %d\","
		                        "\"max_tokens\":64}\n",
		                        i, i);
	const char *p = am_pf_write(&f, name, text);
	free(text);
	return p;
}

static void count_statuses(const char *path, int *ok, int *blocked, int *failed)
{
	*ok = *blocked = *failed = 0;
	FILE *fp = fopen(path, "r");
	ck_assert_ptr_nonnull(fp);
	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, fp) > 0) {
		json_t *o = json_loads(line, 0, NULL);
		ck_assert_ptr_nonnull(o);
		const char *st = json_string_value(json_object_get(o, "status"));
		if (!strcmp(st, "ok"))
			(*ok)++;
		else if (!strcmp(st, "blocked"))
			(*blocked)++;
		else
			(*failed)++;
		json_decref(o);
	}
	free(line);
	fclose(fp);
}

/* Runs `batch IN --out OUT --concurrency N --budget USD`, which must stop
 * with jobs blocked (exit 3) and no call over its reservation. */
static void run_over_budget(const char *in, const char *out, const char *concurrency,
                            const char *usd)
{
	int rc = am_pf_run(&f, NULL, 55,
	                   (const char *const[]){ "batch", in, "--out", out, "--concurrency",
	                                          concurrency, "--budget", usd, NULL });
	char *err = am_pf_slurp(f.err);
	ck_assert_msg(rc == 3, "exit %d; stderr:\n%s", rc, err);
	ck_assert_msg(!strstr(err, "more than its reservation"), "%s", err);
	free(err);
}

START_TEST(two_hundred_at_once_never_overshoot_and_finish_when_raised)
{
	char cfg[512];
	config_open(cfg, sizeof cfg, 2);
	am_pf_init(&f, "pipe-budget", cfg);
	am_sim_cfg sc;
	am_sim_cfg_default(&sc);
	sc.latency_ms = 300; /* every call is still on the wire when the next ones start */
	sc.seed = 11;
	am_pf_start_sim(&f, &sc);
	char in[700], out[700];
	snprintf(in, sizeof in, "%s", write_lines(200, "in.jsonl"));
	snprintf(out, sizeof out, "%s/out1.jsonl", f.dir);

	/* $0.02 holds about a third of the 200 calls. */
	const int64_t limit = 20000000000LL;
	run_over_budget(in, out, "200", "0.02");

	sqlite3 *db = am_pf_db(&f);
	int64_t done = am_pf_i64(db, "SELECT count(*) FROM jobs WHERE state = 'done'");
	int64_t blocked = am_pf_i64(db, "SELECT count(*) FROM jobs WHERE state = 'blocked_budget'");
	ck_assert_int_eq(done + blocked, 200);
	ck_assert_int_gt(done, 20);
	ck_assert_int_gt(blocked, 20);
	int64_t spent = am_pf_i64(db, "SELECT coalesce(sum(cost_pusd), 0) FROM usage_events");
	ck_assert_msg(spent <= limit, "spent %lld pUSD over a limit of %lld", (long long)spent,
	              (long long)limit);
	ck_assert_int_eq(am_pf_i64(db, "SELECT count(*) FROM usage_events"), done);
	/* Blocked jobs wait only when they no longer fit: what is left of the
	 * limit is less than the worst case of one more call. That worst case
	 * is at most (request bytes + model) input tokens and 64 output tokens
	 * at Haiku 4.5's prices. */
	am_pf_price p;
	am_pf_price_of("claude-haiku-4-5", &p);
	int64_t bytes = am_pf_i64(db, "SELECT max(length(request)) FROM jobs");
	int64_t worst = (bytes + 64) * p.in + 64 * p.out;
	ck_assert_msg(limit - spent < worst,
	              "jobs stayed blocked with $%lld pUSD of the limit unused (one call needs "
	              "at most %lld)",
	              (long long)(limit - spent), (long long)worst);
	int64_t recomputed, recorded;
	am_pf_ledger_costs(db, &recomputed, &recorded);
	ck_assert_int_eq(recorded, recomputed);
	sqlite3_close(db);
	int ok, nblocked, failed;
	count_statuses(out, &ok, &nblocked, &failed);
	ck_assert_int_eq(ok, done);
	ck_assert_int_eq(nblocked, blocked);
	ck_assert_int_eq(failed, 0);
	am_sim_stats s1;
	am_sim_get_stats(f.sim, &s1);
	ck_assert_int_eq(s1.ok, done);

	/* A higher limit for the re-run: the blocked ones finish, the done
	 * ones are not sent again. */
	snprintf(out, sizeof out, "%s/out2.jsonl", f.dir);
	int rc = am_pf_run(&f, NULL, 55,
	                   (const char *const[]){ "batch", in, "--out", out, "--concurrency", "200",
	                                          "--budget", "5", NULL });
	char *err = am_pf_slurp(f.err);
	ck_assert_msg(rc == 0, "exit %d; stderr:\n%s", rc, err);
	free(err);
	am_sim_stats s2;
	am_sim_get_stats(f.sim, &s2);
	ck_assert_int_eq(s2.ok - s1.ok, blocked);
	ck_assert_int_eq(s2.requests, 200);
	db = am_pf_db(&f);
	ck_assert_int_eq(am_pf_i64(db, "SELECT count(*) FROM jobs"), 200);
	ck_assert_int_eq(am_pf_i64(db, "SELECT count(*) FROM jobs WHERE state = 'done'"), 200);
	ck_assert_int_eq(am_pf_i64(db, "SELECT count(DISTINCT job_id) FROM usage_events"), 200);
	ck_assert_int_eq(am_pf_i64(db, "SELECT count(*) FROM usage_events"), 200);
	am_pf_ledger_costs(db, &recomputed, &recorded);
	ck_assert_int_eq(recorded, recomputed);
	sqlite3_close(db);
	count_statuses(out, &ok, &nblocked, &failed);
	ck_assert_int_eq(ok, 200);
}
END_TEST

/* Calls that are billed beyond their tokens at standard rates: fast mode,
 * US-only inference (the workspace default here, so the requests do not
 * say it) and web searches. The reservations cover them, so the limit
 * holds; reserving tokens at standard rates would let every call through
 * and spend many times the limit. */
START_TEST(fast_us_and_web_search_never_cross_the_limit)
{
	char cfg[512];
	config_open(cfg, sizeof cfg, 0);
	am_pf_init(&f, "pipe-budget-dims", cfg);
	am_sim_cfg sc;
	am_sim_cfg_default(&sc);
	sc.latency_ms = 300; /* all in flight together */
	sc.seed = 5;
	sc.default_geo = "us";
	am_pf_start_sim(&f, &sc);
	size_t cap = 40 * 320 + 1, len = 0;
	char *text = calloc(1, cap);
	for (int i = 1; i <= 40; i++)
		len += (size_t)snprintf(text + len, cap - len,
		                        "{\"id\":%d,\"model\":\"claude-opus-5-5\",\"max_tokens\":64,"
		                        "\"speed\":\"fast\",\"tools\":[{\"type\":\"web_search_20250305\","
		                        "\"name\":\"web_search\",\"max_uses\":3}],\"messages\":[{\"role\":"
		                        "\"user\",\"content\":\"Search question %d\"}]}\n",
		                        i, i);
	char in[700], out[700];
	snprintf(in, sizeof in, "%s", am_pf_write(&f, "in.jsonl", text));
	free(text);
	snprintf(out, sizeof out, "%s/out.jsonl", f.dir);
	const int64_t limit = 100000000000LL; /* $0.10: about three such calls */
	run_over_budget(in, out, "40", "0.10");
	sqlite3 *db = am_pf_db(&f);
	int64_t done = am_pf_i64(db, "SELECT count(*) FROM jobs WHERE state = 'done'");
	ck_assert_int_ge(done, 1);
	ck_assert_int_eq(am_pf_i64(db, "SELECT count(*) FROM usage_events WHERE speed = 'fast' AND "
	                               "inference_geo = 'us' AND web_search_requests = 3"),
	                 done);
	int64_t spent = am_pf_i64(db, "SELECT coalesce(sum(cost_pusd), 0) FROM usage_events");
	ck_assert_msg(spent <= limit, "spent %lld pUSD over a limit of %lld", (long long)spent,
	              (long long)limit);
	/* each call cost more than its three searches: the limit was the bound */
	ck_assert_int_gt(spent, done * 30000000000LL);
	sqlite3_close(db);
}
END_TEST

/* budget.tags: a tag's own daily limit blocks that tag's lines only. 60
 * lines at once, every third tagged "capped" (a limit that pays for a
 * few), the others "free" or untagged, under a global limit far above
 * them: every free and untagged line is answered, the capped ones stop
 * short of their limit and wait as blocked_budget with a reason naming the
 * tag, and report --by tag adds up to the total. */
START_TEST(a_tags_budget_blocks_that_tag_only)
{
	const char *cfg =
	    "{\"limits\": {\"rpm\": 1000000, \"itpm\": 100000000, \"otpm\": 100000000,"
	    " \"max_in_flight\": 512, \"init_fill_pct\": 100},"
	    " \"worker\": {\"concurrency\": 256}, \"cache\": {\"enabled\": false},"
	    " \"budget\": {\"daily_usd\": \"100\", \"tags\": {\"capped\": \"0.002\"}}}";
	am_pf_init(&f, "pipe-budget-tags", cfg);
	am_sim_cfg sc;
	am_sim_cfg_default(&sc);
	sc.latency_ms = 200; /* all in flight together */
	sc.seed = 13;
	am_pf_start_sim(&f, &sc);
	size_t cap = 60 * 200 + 1, len = 0;
	char *text = calloc(1, cap);
	for (int i = 1; i <= 60; i++)
		len += (size_t)snprintf(text + len, cap - len,
		                        "{\"id\":%d,\"prompt\":\"Tagged question %d\",\"max_tokens\":64%s}\n",
		                        i, i, i % 3 == 0 ? ",\"tag\":\"capped\"" :
		                              i % 3 == 1 ? ",\"tag\":\"free\"" : "");
	char in[700], out[700];
	snprintf(in, sizeof in, "%s", am_pf_write(&f, "in.jsonl", text));
	free(text);
	snprintf(out, sizeof out, "%s/out.jsonl", f.dir);
	int rc = am_pf_run(&f, NULL, 55,
	                   (const char *const[]){ "batch", in, "--out", out, "--tag", "free",
	                                          "--concurrency", "60", NULL });
	char *err = am_pf_slurp(f.err);
	ck_assert_msg(rc == 3, "exit %d; stderr:\n%s", rc, err);
	free(err);

	sqlite3 *db = am_pf_db(&f);
	/* Lines without a tag of their own took --tag's. */
	ck_assert_int_eq(am_pf_i64(db, "SELECT count(*) FROM jobs WHERE tag = 'free'"), 40);
	ck_assert_int_eq(am_pf_i64(db, "SELECT count(*) FROM jobs WHERE state = 'done' AND "
	                               "tag = 'free'"), 40);
	int64_t done = am_pf_i64(db, "SELECT count(*) FROM jobs WHERE state = 'done' AND "
	                             "tag = 'capped'");
	int64_t blocked = am_pf_i64(db, "SELECT count(*) FROM jobs WHERE state = "
	                                "'blocked_budget'");
	ck_assert_int_gt(done, 0);
	ck_assert_int_gt(blocked, 0);
	ck_assert_int_eq(done + blocked, 20);
	ck_assert_int_eq(am_pf_i64(db, "SELECT count(*) FROM jobs WHERE state = 'blocked_budget' "
	                               "AND tag = 'capped' AND error LIKE '%%tag capped%%daily "
	                               "limit $0.002%%'"),
	                 blocked);
	int64_t spent = am_pf_i64(db, "SELECT coalesce(sum(cost_pusd), 0) FROM usage_events "
	                              "WHERE tag = 'capped'");
	ck_assert_msg(spent <= 2000000000LL, "the capped tag spent %lld pUSD", (long long)spent);
	ck_assert_int_eq(am_pf_i64(db, "SELECT count(*) FROM usage_events WHERE tag = 'free'"),
	                 40);
	sqlite3_close(db);

	/* report --by tag --json: the tags add up to the total exactly. */
	rc = am_pf_run(&f, NULL, 30, (const char *const[]){ "report", "--by", "tag", "--json",
	                                                    NULL });
	ck_assert_int_eq(rc, 0);
	char *json = am_pf_slurp(f.out);
	json_t *o = json_loads(json, 0, NULL);
	ck_assert_msg(o != NULL, "%s", json);
	json_t *tags = json_object_get(o, "tags");
	ck_assert_uint_eq(json_array_size(tags), 2);
	int64_t sum = 0, total = 0, requests = 0;
	for (size_t i = 0; i < json_array_size(tags); i++) {
		json_t *t = json_array_get(tags, i);
		int64_t v = 0;
		ck_assert_int_eq(am_money_parse_usd(json_string_value(json_object_get(t, "cost_usd")),
		                                    &v, NULL), 0);
		sum += v;
		requests += json_integer_value(json_object_get(t, "requests"));
	}
	ck_assert_int_eq(am_money_parse_usd(json_string_value(json_object_get(
	                     json_object_get(o, "total"), "cost_usd")), &total, NULL), 0);
	ck_assert_int_eq(sum, total);
	ck_assert_int_eq(requests, 40 + done);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(tags, 0), "tag")),
	                 "capped");
	json_decref(o);
	free(json);
}
END_TEST

START_TEST(a_rerun_retries_failed_jobs_before_and_after_blocked_ones)
{
	char cfg[512];
	config_open(cfg, sizeof cfg, 0); /* no retries: 500s fail at once */
	am_pf_init(&f, "pipe-resume", cfg);
	am_sim_cfg sc;
	am_sim_cfg_default(&sc);
	sc.latency_ms = 50;
	sc.fault_500 = 0.3;
	sc.seed = 5;
	am_pf_start_sim(&f, &sc);
	char in[700], out[700];
	snprintf(in, sizeof in, "%s", write_lines(120, "in.jsonl"));
	snprintf(out, sizeof out, "%s/out1.jsonl", f.dir);
	int rc = am_pf_run(&f, NULL, 55,
	                   (const char *const[]){ "batch", in, "--out", out, "--concurrency", "8",
	                                          "--budget", "0.01", NULL });
	ck_assert_msg(rc == 3, "exit %d", rc);
	sqlite3 *db = am_pf_db(&f);
	int64_t failed = am_pf_i64(db, "SELECT count(*) FROM jobs WHERE state = 'failed'");
	int64_t last_blocked = am_pf_i64(db, "SELECT max(id) FROM jobs WHERE state = "
	                                     "'blocked_budget'");
	ck_assert_int_gt(failed, 0);
	/* A job that failed before the last blocked one: the case to resume. */
	ck_assert_int_gt(am_pf_i64(db, "SELECT count(*) FROM jobs WHERE state = 'failed' AND "
	                               "id < %lld",
	                           (long long)last_blocked),
	                 0);
	ck_assert_int_gt(am_pf_i64(db, "SELECT count(*) FROM jobs WHERE state = 'failed' AND "
	                               "error LIKE '%%HTTP 500%%'"),
	                 0);
	sqlite3_close(db);

	/* Healthy again, and a budget for everything. */
	am_sim_cfg_default(&sc);
	sc.latency_ms = 5;
	am_pf_start_sim(&f, &sc);
	snprintf(out, sizeof out, "%s/out2.jsonl", f.dir);
	rc = am_pf_run(&f, NULL, 55,
	               (const char *const[]){ "batch", in, "--out", out, "--budget", "5", NULL });
	char *err = am_pf_slurp(f.err);
	ck_assert_msg(rc == 0, "exit %d; stderr:\n%s", rc, err);
	free(err);
	db = am_pf_db(&f);
	ck_assert_int_eq(am_pf_i64(db, "SELECT count(*) FROM jobs WHERE state = 'done'"), 120);
	ck_assert_int_eq(am_pf_i64(db, "SELECT count(*) FROM usage_events"), 120);
	ck_assert_int_eq(am_pf_i64(db, "SELECT count(DISTINCT job_id) FROM usage_events"), 120);
	sqlite3_close(db);
	int ok, nblocked, nfailed;
	count_statuses(out, &ok, &nblocked, &nfailed);
	ck_assert_int_eq(ok, 120);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pipeline_budget");
	TCase *tc = tcase_create("budget");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 150);
	tcase_add_test(tc, two_hundred_at_once_never_overshoot_and_finish_when_raised);
	tcase_add_test(tc, fast_us_and_web_search_never_cross_the_limit);
	tcase_add_test(tc, a_rerun_retries_failed_jobs_before_and_after_blocked_ones);
	tcase_add_test(tc, a_tags_budget_blocks_that_tag_only);
	suite_add_tcase(s, tc);
	return check_run(s);
}
