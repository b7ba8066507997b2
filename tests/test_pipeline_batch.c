/* test_pipeline_batch: `aimeter batch` end to end against the simulator.
 *
 *  - 300 requests under limits scaled down so that they bind (a request
 *    bucket of half a second): no 429 reaches the simulator, every job is
 *    done once, the tokens the ledger recorded are the tokens the simulator
 *    counted, and the ledger's Σ cost_pusd equals the sum recomputed here
 *    from the usage rows and data/pricing.json;
 *  - the response cache: the same prompts again (a new batch file, then
 *    `ask`) are answered without a call, cost 0 and record what they saved;
 *  - full-body lines that ask for fast mode, US inference and web search
 *    are recorded with what the simulator reported it served, at exactly
 *    the price of that usage (worked out here from the published rates). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "pipefix.h"
#include "check_run.h"

static am_pf f;

static void teardown(void)
{
	am_pf_free(&f);
}

/* An exact decimal USD string ("0.000123") -> pUSD. */
static int64_t usd_to_pusd(const char *s)
{
	ck_assert_ptr_nonnull(s);
	int64_t whole = 0, frac = 0;
	int digits = 0;
	const char *p = s;
	while (*p >= '0' && *p <= '9')
		whole = whole * 10 + (*p++ - '0');
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++, digits++) {
			ck_assert_int_lt(digits, 12);
			frac = frac * 10 + (*p - '0');
		}
	ck_assert_msg(*p == '\0' && p != s, "cost '%s'", s);
	for (; digits < 12; digits++)
		frac *= 10;
	return whole * 1000000000000LL + frac;
}

/* The prompt of line i: lengths vary so token counts do. */
static void prompt_of(int i, char *buf, size_t n)
{
	static const char *const words[] = { "limits", "tokens", "ledger", "budget", "cache" };
	int len = snprintf(buf, n, "Question %d about", i);
	for (int k = 0; k < i % 17; k++)
		len += snprintf(buf + len, n - (size_t)len, " %s", words[(i + k) % 5]);
}

static char *batch_file(int first, int count, const char *id_prefix, int max_tokens)
{
	size_t cap = (size_t)count * 256 + 1, len = 0;
	char *text = calloc(1, cap);
	for (int i = first; i < first + count; i++) {
		char p[200];
		prompt_of(i, p, sizeof p);
		len += (size_t)snprintf(text + len, cap - len,
		                        "{\"id\":\"%s%d\",\"prompt\":\"%s\",\"max_tokens\":%d}\n",
		                        id_prefix, i, p, max_tokens);
	}
	return text;
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Reads the results file: checks order and status, returns Σ cost_usd.
 * Lines up to `cached_upto` must be cache hits, the others not. */
static int64_t check_results(const char *path, int first, int count, const char *id_prefix,
                             int cached_upto)
{
	FILE *fp = fopen(path, "r");
	ck_assert_ptr_nonnull(fp);
	char *line = NULL;
	size_t cap = 0;
	int i = first;
	int64_t sum = 0;
	while (getline(&line, &cap, fp) > 0) {
		json_error_t je;
		json_t *o = json_loads(line, 0, &je);
		ck_assert_msg(o != NULL, "%s: %s", line, je.text);
		char want_id[64];
		snprintf(want_id, sizeof want_id, "%s%d", id_prefix, i);
		ck_assert_str_eq(json_string_value(json_object_get(o, "id")), want_id);
		ck_assert_str_eq(json_string_value(json_object_get(o, "status")), "ok");
		ck_assert(json_is_null(json_object_get(o, "error")) || !json_object_get(o, "error"));
		bool want_cached = i <= cached_upto;
		ck_assert_int_eq(json_is_true(json_object_get(o, "cached")), want_cached);
		const char *text = json_string_value(json_object_get(o, "text"));
		ck_assert_msg(text && *text, "line %d has no text", i);
		const char *cost = json_string_value(json_object_get(o, "cost_usd"));
		if (want_cached)
			ck_assert_str_eq(cost, "0");
		sum += usd_to_pusd(cost);
		json_decref(o);
		i++;
	}
	free(line);
	fclose(fp);
	ck_assert_int_eq(i, first + count);
	return sum;
}

/* Limits that bind within seconds: 2,400 RPM with a request bucket of 80
 * (two seconds), so 300 requests need at least (300 - 80) / 40 = 5.5 s.
 * aimeter is told the same limits (learning from headers stays on). The
 * bucket is not smaller because the server's bucket sits full until the
 * first requests arrive: on a loaded machine new connections can take long
 * enough that the refill it loses meanwhile exceeds a sub-second bucket. */
static const char *const config_limits =
	"{\"limits\": {\"rpm\": 2400, \"rpm_burst\": 80, \"itpm\": 80000, \"otpm\": 60000},"
	" \"worker\": {\"concurrency\": 64}, \"budget\": {\"daily_usd\": \"0\"},"
	" \"cache\": {\"enabled\": true}}";

static void start_limited_sim(void)
{
	am_sim_cfg sc;
	am_sim_cfg_default(&sc);
	sc.rpm = 2400;
	sc.rpm_burst = 80;
	sc.itpm = 80000;
	sc.otpm = 60000;
	sc.latency_ms = 5;
	sc.seed = 7;
	sc.api_key = f.key;
	am_pf_start_sim(&f, &sc);
}

START_TEST(three_hundred_jobs_under_limits_no_429_exact_ledger)
{
	am_pf_init(&f, "pipe-limits", config_limits);
	start_limited_sim();
	char *text = batch_file(1, 300, "q", 64);
	char in[700], out[700];
	snprintf(in, sizeof in, "%s", am_pf_write(&f, "in.jsonl", text));
	free(text);
	snprintf(out, sizeof out, "%s/out.jsonl", f.dir);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = am_pf_run(&f, NULL, 55, (const char *const[]){ "batch", in, "--out", out, NULL });
	double took = seconds_since(&t0);
	char *err = am_pf_slurp(f.err);
	ck_assert_msg(rc == 0, "exit %d; stderr:\n%s", rc, err);
	ck_assert_msg(strstr(err, "batch 300/300 done · 0 failed · 0 blocked"), "%s", err);
	free(err);

	am_sim_stats ss;
	am_sim_get_stats(f.sim, &ss);
	ck_assert_int_eq(ss.rate_limited, 0);
	ck_assert_int_eq(ss.requests, 300); /* nothing sent twice */
	ck_assert_int_eq(ss.ok, 300);
	/* The limit bound: 220 requests beyond the bucket at 40/s. */
	ck_assert_msg(took >= 5.0, "300 requests in %.1f s: the request limit did not bind", took);

	sqlite3 *db = am_pf_db(&f);
	ck_assert_int_eq(am_pf_i64(db, "SELECT count(*) FROM jobs"), 300);
	ck_assert_int_eq(am_pf_i64(db, "SELECT count(*) FROM jobs WHERE state = 'done'"), 300);
	ck_assert_int_eq(am_pf_i64(db, "SELECT count(*) FROM usage_events"), 300);
	ck_assert_int_eq(am_pf_i64(db, "SELECT count(*) FROM jobs j WHERE (SELECT count(*) FROM "
	                               "usage_events u WHERE u.job_id = j.id) <> 1"),
	                 0);
	ck_assert_int_eq(am_pf_i64(db, "SELECT count(*) FROM usage_events WHERE cached <> 0 OR "
	                               "model NOT LIKE 'claude-haiku-4-5%%' OR source <> 'batch'"),
	                 0);
	/* The ledger's tokens are the simulator's. */
	ck_assert_int_eq(am_pf_i64(db, "SELECT sum(input_tokens) FROM usage_events"),
	                 ss.input_tokens);
	ck_assert_int_eq(am_pf_i64(db, "SELECT sum(output_tokens) FROM usage_events"),
	                 ss.output_tokens);
	/* Exact money: recomputed from the rows and the price file. */
	int64_t recomputed, recorded;
	am_pf_ledger_costs(db, &recomputed, &recorded);
	ck_assert_int_gt(recorded, 0);
	ck_assert_int_eq(recorded, recomputed);
	/* The daily roll-up agrees with the rows. */
	ck_assert_int_eq(am_pf_i64(db, "SELECT sum(cost_pusd) FROM usage_daily"), recorded);
	ck_assert_int_eq(am_pf_i64(db, "SELECT sum(requests) FROM usage_daily"), 300);
	sqlite3_close(db);
	/* And the results file says the same, line by line in input order. */
	ck_assert_int_eq(check_results(out, 1, 300, "q", 0), recorded);
}
END_TEST

START_TEST(fast_us_and_web_search_priced_as_served)
{
	am_pf_init(&f, "pipe-dims",
	           "{\"limits\": {\"rpm\": 100000, \"itpm\": 10000000, \"otpm\": 10000000},"
	           " \"budget\": {\"daily_usd\": \"0\"}, \"cache\": {\"enabled\": false}}");
	am_sim_cfg sc;
	am_sim_cfg_default(&sc);
	sc.seed = 3;
	sc.api_key = f.key;
	sc.default_geo = "us"; /* a workspace default: no request says it */
	am_pf_start_sim(&f, &sc);
	const char *lines =
	    "{\"id\":\"a\",\"model\":\"claude-opus-5-5\",\"max_tokens\":40,\"speed\":\"fast\","
	    "\"inference_geo\":\"us\",\"tools\":[{\"type\":\"web_search_20250305\",\"name\":"
	    "\"web_search\",\"max_uses\":2}],\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"Fast and searched\"}]}\n"
	    "{\"id\":\"b\",\"model\":\"claude-opus-4-6\",\"max_tokens\":40,\"speed\":\"fast\","
	    "\"messages\":[{\"role\":\"user\",\"content\":\"Fast asked, standard served\"}]}\n"
	    "{\"id\":\"c\",\"model\":\"claude-sonnet-5-5\",\"max_tokens\":40,\"tools\":[{\"type\":"
	    "\"web_search_20260209\",\"name\":\"web_search\"}],\"messages\":[{\"role\":\"user\","
	    "\"content\":\"One search\"}]}\n"
	    "{\"id\":\"d\",\"model\":\"claude-haiku-4-5\",\"max_tokens\":40,\"messages\":[{\"role\":"
	    "\"user\",\"content\":\"Plain\"}]}\n";
	char in[700], out[700];
	snprintf(in, sizeof in, "%s", am_pf_write(&f, "in.jsonl", lines));
	snprintf(out, sizeof out, "%s/out.jsonl", f.dir);
	int rc = am_pf_run(&f, NULL, 55, (const char *const[]){ "batch", in, "--out", out, NULL });
	char *err = am_pf_slurp(f.err);
	ck_assert_msg(rc == 0, "exit %d; stderr:\n%s", rc, err);
	free(err);

	/* model, speed, geo, searches served; then $/MTok in and out, and the
	 * multipliers in percent (fast 2x on Opus 5.5; 1.1x in the US from
	 * Opus 4.6 and Sonnet 4.6 on; Haiku 4.5 reports not_available) */
	static const struct {
		const char *model, *speed, *geo;
		int64_t searches, in, out, pct;
	} want[] = {
		{ "claude-opus-5-5", "fast", "us", 2, 4000000, 20000000, 220 },
		{ "claude-opus-4-6", "standard", "us", 0, 5000000, 25000000, 110 },
		{ "claude-sonnet-5-5", "", "us", 1, 2000000, 10000000, 110 },
		{ "claude-haiku-4-5-20251001", "", "not_available", 0, 1000000, 5000000, 100 },
	};
	sqlite3 *db = am_pf_db(&f);
	int64_t sum = 0;
	for (size_t i = 0; i < 4; i++) {
		sqlite3_stmt *st;
		ck_assert(sqlite3_prepare_v2(db,
		                             "SELECT input_tokens, output_tokens, cache_write_5m + "
		                             "cache_write_1h + cache_read, coalesce(speed, ''), "
		                             "inference_geo, web_search_requests, cost_pusd, price_known "
		                             "FROM usage_events WHERE model = ?1",
		                             -1, &st, NULL) == SQLITE_OK);
		sqlite3_bind_text(st, 1, want[i].model, -1, SQLITE_STATIC);
		ck_assert_msg(sqlite3_step(st) == SQLITE_ROW, "no row for %s", want[i].model);
		int64_t in_t = sqlite3_column_int64(st, 0), out_t = sqlite3_column_int64(st, 1);
		ck_assert_int_eq(sqlite3_column_int64(st, 2), 0);
		ck_assert_str_eq((const char *)sqlite3_column_text(st, 3), want[i].speed);
		ck_assert_str_eq((const char *)sqlite3_column_text(st, 4), want[i].geo);
		ck_assert_int_eq(sqlite3_column_int64(st, 5), want[i].searches);
		ck_assert_int_eq(sqlite3_column_int(st, 7), 1);
		int64_t tokens = in_t * want[i].in + out_t * want[i].out;
		ck_assert_int_eq(tokens * want[i].pct % 100, 0);
		int64_t cost = tokens * want[i].pct / 100 + want[i].searches * 10000000000LL;
		ck_assert_msg(sqlite3_column_int64(st, 6) == cost, "%s: recorded %lld, want %lld",
		              want[i].model, (long long)sqlite3_column_int64(st, 6), (long long)cost);
		sum += cost;
		sqlite3_finalize(st);
	}
	ck_assert_int_eq(am_pf_i64(db, "SELECT sum(cost_pusd) FROM usage_daily"), sum);
	sqlite3_close(db);
	/* The results file carries the same money, line by line. */
	char *res = am_pf_slurp(out);
	int64_t listed = 0;
	for (char *line = strtok(res, "\n"); line; line = strtok(NULL, "\n")) {
		json_t *o = json_loads(line, 0, NULL);
		ck_assert_ptr_nonnull(o);
		listed += usd_to_pusd(json_string_value(json_object_get(o, "cost_usd")));
		json_decref(o);
	}
	free(res);
	ck_assert_int_eq(listed, sum);
}
END_TEST

START_TEST(cache_hits_are_counted_and_cost_nothing)
{
	am_pf_init(&f, "pipe-cache", config_limits);
	start_limited_sim();
	char *text = batch_file(1, 30, "a", 48);
	char in[700], out[700];
	snprintf(in, sizeof in, "%s", am_pf_write(&f, "a.jsonl", text));
	free(text);
	snprintf(out, sizeof out, "%s/a.out", f.dir);
	int rc = am_pf_run(&f, NULL, 50, (const char *const[]){ "batch", in, "--out", out, NULL });
	ck_assert_msg(rc == 0, "exit %d", rc);
	int64_t first_cost = check_results(out, 1, 30, "a", 0);
	ck_assert_int_gt(first_cost, 0);

	/* The same prompts under new ids (so new lines and new jobs), then five
	 * new ones: only those five reach the simulator. */
	char *same = batch_file(1, 30, "b", 48), *fresh = batch_file(31, 5, "b", 48);
	char *both = malloc(strlen(same) + strlen(fresh) + 1);
	strcpy(both, same);
	strcat(both, fresh);
	snprintf(in, sizeof in, "%s", am_pf_write(&f, "b.jsonl", both));
	free(same);
	free(fresh);
	free(both);
	snprintf(out, sizeof out, "%s/b.out", f.dir);
	am_sim_stats s0, s1;
	am_sim_get_stats(f.sim, &s0);
	rc = am_pf_run(&f, NULL, 50, (const char *const[]){ "batch", in, "--out", out, NULL });
	ck_assert_msg(rc == 0, "exit %d", rc);
	am_sim_get_stats(f.sim, &s1);
	ck_assert_int_eq(s1.requests - s0.requests, 5);
	int64_t fresh_cost = check_results(out, 1, 35, "b", 30);
	ck_assert_int_gt(fresh_cost, 0);

	sqlite3 *db = am_pf_db(&f);
	/* Each hit: cost 0, flagged, the original's tokens, and saved = what
	 * the original call cost. */
	ck_assert_int_eq(am_pf_i64(db, "SELECT count(*) FROM usage_events WHERE cached = 1"), 30);
	ck_assert_int_eq(
		am_pf_i64(db, "SELECT count(*) FROM usage_events u JOIN jobs j ON u.job_id = j.id "
		              "JOIN jobs j0 ON j0.request = j.request AND j0.id < j.id "
		              "JOIN usage_events u0 ON u0.job_id = j0.id WHERE u.cached = 1 AND "
		              "u0.cached = 0 AND u.cost_pusd = 0 AND u.saved_pusd = u0.cost_pusd AND "
		              "u.saved_pusd > 0 AND u.input_tokens = u0.input_tokens AND "
		              "u.output_tokens = u0.output_tokens AND j.result = j0.result"),
		30);
	ck_assert_int_eq(am_pf_i64(db, "SELECT sum(saved_pusd) FROM usage_events"), first_cost);
	ck_assert_int_eq(am_pf_i64(db, "SELECT sum(cached) FROM usage_daily"), 30);
	ck_assert_int_eq(am_pf_i64(db, "SELECT sum(saved_pusd) FROM usage_daily"), first_cost);
	int64_t recomputed, recorded;
	am_pf_ledger_costs(db, &recomputed, &recorded);
	ck_assert_int_eq(recorded, recomputed);
	sqlite3_close(db);

	/* `ask` with the prompt of line 7: a hit, with the same answer. */
	char prompt[200];
	prompt_of(7, prompt, sizeof prompt);
	rc = am_pf_run(&f, NULL, 30,
	               (const char *const[]){ "ask", "--max-tokens", "48", prompt, NULL });
	char *err = am_pf_slurp(f.err), *answer = am_pf_slurp(f.out);
	ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
	ck_assert_msg(strstr(err, "$0 (cache hit)"), "%s", err);
	db = am_pf_db(&f);
	sqlite3_stmt *st;
	ck_assert(sqlite3_prepare_v2(db, "SELECT result FROM jobs WHERE batch_key LIKE 'b1:%' "
	                                 "ORDER BY id LIMIT 1 OFFSET 6",
	                             -1, &st, NULL) == SQLITE_OK);
	ck_assert(sqlite3_step(st) == SQLITE_ROW);
	const char *want = (const char *)sqlite3_column_text(st, 0);
	ck_assert_int_eq(strncmp(answer, want, strlen(want)), 0);
	sqlite3_finalize(st);
	ck_assert_int_eq(am_pf_i64(db, "SELECT count(*) FROM usage_events WHERE cached = 1 AND "
	                               "source = 'ask' AND cost_pusd = 0 AND saved_pusd > 0"),
	                 1);
	sqlite3_close(db);
	free(err);
	free(answer);
	am_sim_stats s2;
	am_sim_get_stats(f.sim, &s2);
	ck_assert_int_eq(s2.requests, s1.requests);

	/* --no-cache goes to the simulator and pays. */
	rc = am_pf_run(&f, NULL, 30,
	               (const char *const[]){ "ask", "--no-cache", "--max-tokens", "48", prompt,
	                                      NULL });
	err = am_pf_slurp(f.err);
	ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
	ck_assert_msg(!strstr(err, "cache hit"), "%s", err);
	free(err);
	am_sim_get_stats(f.sim, &s1);
	ck_assert_int_eq(s1.requests, s2.requests + 1);
	ck_assert_int_eq(s1.rate_limited, 0);
}
END_TEST

/* Single-flight: a prompt repeated inside one batch waits for its first
 * copy's answer and is a cache hit, so the simulator hears each distinct
 * prompt once (every line is dispatched in the same pass: concurrency 64). */
START_TEST(a_prompt_repeated_in_one_batch_is_paid_once)
{
	am_pf_init(&f, "pipe-twins", config_limits);
	start_limited_sim();
	size_t cap = 12 * 256, len = 0;
	char *text = calloc(1, cap);
	for (int i = 0; i < 12; i++) {
		char p[200];
		prompt_of(100 + i % 3, p, sizeof p);
		len += (size_t)snprintf(text + len, cap - len,
		                        "{\"id\":\"t%d\",\"prompt\":\"%s\",\"max_tokens\":48}\n", i, p);
	}
	char in[700], out[700];
	snprintf(in, sizeof in, "%s", am_pf_write(&f, "t.jsonl", text));
	free(text);
	snprintf(out, sizeof out, "%s/t.out", f.dir);
	am_sim_stats s0, s1;
	am_sim_get_stats(f.sim, &s0);
	int rc = am_pf_run(&f, NULL, 50, (const char *const[]){ "batch", in, "--out", out, NULL });
	ck_assert_msg(rc == 0, "exit %d", rc);
	am_sim_get_stats(f.sim, &s1);
	ck_assert_int_eq(s1.requests - s0.requests, 3);
	sqlite3 *db = am_pf_db(&f);
	ck_assert_int_eq(am_pf_i64(db, "SELECT count(*) FROM usage_events WHERE cached = 0"), 3);
	ck_assert_int_eq(am_pf_i64(db, "SELECT count(*) FROM usage_events WHERE cached = 1 AND "
	                               "cost_pusd = 0 AND saved_pusd > 0"),
	                 9);
	ck_assert_int_eq(am_pf_i64(db, "SELECT count(*) FROM jobs WHERE state = 'done'"), 12);
	/* every copy has its first's answer */
	ck_assert_int_eq(am_pf_i64(db, "SELECT count(DISTINCT request || result) FROM jobs"), 3);
	sqlite3_close(db);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pipeline_batch");
	TCase *tc = tcase_create("batch");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, three_hundred_jobs_under_limits_no_429_exact_ledger);
	tcase_add_test(tc, cache_hits_are_counted_and_cost_nothing);
	tcase_add_test(tc, fast_us_and_web_search_priced_as_served);
	tcase_add_test(tc, a_prompt_repeated_in_one_batch_is_paid_once);
	suite_add_tcase(s, tc);
	return check_run(s);
}
