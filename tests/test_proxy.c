/* test_proxy: the proxy (src/proxy) - what it reads from a request
 * (proxy_req), and the whole path in one process: clients on threads call
 * the proxy, which asks a real worker for admission and relays to the
 * simulator; the ledger holds each call once at its exact cost, the console
 * hears of each in one line (tag, model, tokens, cost, latency), and a
 * budget the worker is told to shrink refuses the next call with the
 * provider's spend-limit 400 before it reaches the simulator. Threads
 * everywhere: run under TSan as well as ASan. */
#include <check.h>
#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "passthru.h"
#include "pricing.h"
#include "proxy.h"
#include "proxy_req.h"
#include "sim.h"
#include "tag.h"
#include "tmpdir.h"
#include "workstart.h"

/* ---- proxy_req ------------------------------------------------------------- */

START_TEST(routes)
{
	ck_assert_int_eq(am_px_route_of("POST", "/v1/messages"), AM_PX_MESSAGES);
	ck_assert_int_eq(am_px_route_of("POST", "/v1/messages/count_tokens"), AM_PX_COUNT);
	ck_assert_int_eq(am_px_route_of("GET", "/v1/messages"), AM_PX_OTHER);
	ck_assert_int_eq(am_px_route_of("POST", "/v1/messages/"), AM_PX_OTHER);
	ck_assert_int_eq(am_px_route_of("POST", "/v1/models"), AM_PX_OTHER);
}
END_TEST

START_TEST(headers_forwarded)
{
	am_px_headers h;
	memset(&h, 0, sizeof h);
	am_px_headers_take(&h, "x-api-key", "sk-ant-secretABCD");
	am_px_headers_take(&h, "anthropic-version", "2026-10-21");
	am_px_headers_take(&h, "anthropic-beta", "a,b");
	am_px_headers_take(&h, "X-Aimeter-Tag", "evals");
	am_px_headers_take(&h, "x-aimeter-token", "t");
	am_px_headers_take(&h, "Connection", "keep-alive");
	am_px_headers_take(&h, "Transfer-Encoding", "chunked");
	am_px_headers_take(&h, "Host", "127.0.0.1");
	am_px_headers_take(&h, "Content-Length", "5");
	am_px_headers_take(&h, "Accept-Encoding", "gzip");
	am_px_headers_take(&h, ";semi", "x");        /* not a token: no line of its own */
	am_px_headers_take(&h, "x-split", "a\r\nHost: evil");
	am_px_headers_take(&h, "x-empty", "");
	ck_assert_uint_eq(h.n, 4);
	ck_assert_str_eq(h.line[0], "x-api-key: sk-ant-secretABCD");
	ck_assert_str_eq(h.line[1], "anthropic-version: 2026-10-21");
	ck_assert_str_eq(h.line[2], "anthropic-beta: a,b");
	ck_assert_str_eq(h.line[3], "x-empty;");
	ck_assert_str_eq(h.tag, "evals");
	ck_assert_str_eq(h.api_key, "sk-ant-secretABCD");
	am_px_headers_free(&h);
	ck_assert(am_px_forward_response_header("request-id", 10));
	ck_assert(!am_px_forward_response_header("Transfer-Encoding", 17));
	ck_assert(!am_px_forward_response_header("content-length", 14));
}
END_TEST

START_TEST(tags_and_hints)
{
	char tag[AM_PROXY_TAG_MAX];
	am_px_tag("hdr", "flag", "cfg", tag);
	ck_assert_str_eq(tag, "hdr");
	am_px_tag("", "flag", "cfg", tag);
	ck_assert_str_eq(tag, "flag");
	am_px_tag(NULL, NULL, "cfg", tag);
	ck_assert_str_eq(tag, "cfg");
	am_px_tag(NULL, NULL, NULL, tag);
	ck_assert_str_eq(tag, "");
	am_px_tag("night ly\x01\xc3\xa9", NULL, NULL, tag);
	ck_assert_str_eq(tag, "night_ly___");
	char longtag[200];
	memset(longtag, 'x', sizeof longtag - 1);
	longtag[sizeof longtag - 1] = '\0';
	am_px_tag(longtag, NULL, NULL, tag);
	ck_assert_uint_eq(strlen(tag), AM_TAG_MAX);
	am_err err;
	ck_assert_int_eq(am_tag_check(tag, &err), 0);

	char hint[AM_PROXY_HINT_MAX];
	am_px_key_hint("sk-ant-api03-abcdWXYZ", "Bearer other1234", hint);
	ck_assert_str_eq(hint, "WXYZ");
	am_px_key_hint(NULL, "Bearer tok-9876", hint);
	ck_assert_str_eq(hint, "9876");
	am_px_key_hint("ab", NULL, hint);
	ck_assert_str_eq(hint, "ab");
	am_px_key_hint("key\"<>!", NULL, hint);
	ck_assert_str_eq(hint, "????");
	am_px_key_hint(NULL, NULL, hint);
	ck_assert_str_eq(hint, "");
}
END_TEST

START_TEST(token_query_body)
{
	ck_assert(am_px_token_ok(NULL, NULL));
	ck_assert(am_px_token_ok("", "x"));
	ck_assert(am_px_token_ok("s3cret", "s3cret"));
	ck_assert(!am_px_token_ok("s3cret", "s3cre"));
	ck_assert(!am_px_token_ok("s3cret", "s3cretx"));
	ck_assert(!am_px_token_ok("s3cret", NULL));

	am_bbuf q;
	am_bbuf_init(&q, 64);
	ck_assert_int_eq(am_px_query_add(&q, "beta", "true"), 0);
	ck_assert_int_eq(am_px_query_add(&q, "a b", "x&y=z"), 0);
	ck_assert_int_eq(am_px_query_add(&q, "flag", NULL), 0);
	ck_assert_str_eq(am_bbuf_str(&q), "?beta=true&a%20b=x%26y%3Dz&flag");
	am_bbuf_free(&q);

	am_px_body b;
	am_err err;
	const char *ok = "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":9,\"stream\":true}";
	ck_assert_int_eq(am_px_parse_body(ok, strlen(ok), &b, &err), 0);
	ck_assert_str_eq(b.model, "claude-haiku-4-5");
	ck_assert_int_eq(b.max_tokens, 9);
	ck_assert(b.stream);
	json_decref(b.json);
	ck_assert_int_eq(am_px_parse_body("[1]", 3, &b, &err), -1);
	ck_assert_int_eq(am_px_parse_body("{\"max_tokens\":1}", 16, &b, &err), -1);
	ck_assert_int_eq(am_px_parse_body("{\"model\":1}", 11, &b, &err), -1);
	ck_assert_int_eq(am_px_parse_body("{\"model\":\"a\",\"model\":\"b\"}", 25, &b, &err), -1);

	char *e = am_px_error_json("request_too_large", "too \"big\"");
	ck_assert_str_eq(e, "{\"type\":\"error\",\"error\":{\"type\":\"request_too_large\","
	                    "\"message\":\"too \\\"big\\\"\"}}");
	free(e);
	ck_assert(am_proxy_loopback("127.0.0.1") && am_proxy_loopback("127.9.0.1") &&
	          am_proxy_loopback("::1") && am_proxy_loopback("localhost"));
	ck_assert(!am_proxy_loopback("0.0.0.0") && !am_proxy_loopback("10.0.0.1") &&
	          !am_proxy_loopback("::"));
}
END_TEST

/* ---- the whole path, in one process -------------------------------------------- */

enum { THREADS = 8, CALLS = 6, WAIT_MS = 30000 };

static char dir[512], db_path[600];
static am_pricing *pricing;
static am_sim *sim;
static am_worker *worker;
static am_proxy *proxy;

static const char *const config =
        "{\"limits\": {\"rpm\": 1000000, \"itpm\": 1000000000, \"otpm\": 1000000000,"
        " \"max_in_flight\": 256, \"init_fill_pct\": 100}, \"worker\": {\"concurrency\": 256},"
        " \"budget\": {\"daily_usd\": \"0\"}}";

static void start_all(void)
{
	am_err err;
	ck_assert_int_eq(am_test_tmpdir("proxy", dir, sizeof dir), 0);
	snprintf(db_path, sizeof db_path, "%s/ledger.db", dir);
	ck_assert_msg(am_test_pricing(&pricing, &err) == 0, "%s", err.msg);
	am_sim_cfg sc;
	am_sim_cfg_default(&sc);
	ck_assert_msg(am_sim_start(&sim, &sc, &err) == 0, "%s", err.msg);
	worker = am_test_worker(config, pricing, db_path, am_sim_url(sim), "console", false, &err);
	ck_assert_msg(worker != NULL, "%s", err.msg);
	am_proxy_opts po;
	memset(&po, 0, sizeof po);
	po.worker = worker;
	po.upstream = am_sim_url(sim);
	po.default_tag = "suite";
	po.max_wait_ns = 60000000000LL;
	ck_assert_msg(am_proxy_start(&proxy, &po, &err) == 0, "%s", err.msg);
}

static void stop_all(void)
{
	am_proxy_stop(proxy);
	am_worker_stop(worker, 1000);
	am_sim_stop(sim);
	am_pricing_free(pricing);
	proxy = NULL;
	worker = NULL;
	sim = NULL;
	pricing = NULL;
}

/* One call through the proxy (with one more header line when extra is
 * not NULL): its status, and its body in *out (heap). */
static int call_with(const char *tag, bool stream, int max_tokens, const char *extra, char **out)
{
	char url[200], body[256], tagh[100];
	snprintf(url, sizeof url, "%s/v1/messages", am_proxy_url(proxy));
	snprintf(body, sizeof body,
	         "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":%d,\"stream\":%s,"
	         "\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}",
	         max_tokens, stream ? "true" : "false");
	snprintf(tagh, sizeof tagh, "x-aimeter-tag: %s", tag);
	const char *hdrs[] = { "x-api-key: sk-suite-key-7Q2z", "anthropic-version: 2023-06-01",
	                       "content-type: application/json", extra ? extra : tagh, tagh };
	am_pass_req req;
	memset(&req, 0, sizeof req);
	req.url = url;
	req.method = "POST";
	req.headers = hdrs;
	req.nheaders = extra ? 5 : 4;
	req.body = body;
	req.body_len = strlen(body);
	am_pass *p;
	am_err err;
	if (am_pass_open(&p, &req, &err))
		return -1;
	am_bbuf b;
	am_bbuf_init(&b, 1 << 20);
	char buf[4096];
	ssize_t n;
	while ((n = am_pass_read(p, buf, sizeof buf)) > 0)
		am_bbuf_append(&b, buf, (size_t)n);
	int status = n < 0 ? -2 : am_pass_status(p);
	am_pass_free(p);
	*out = am_bbuf_take(&b);
	return status;
}

static int call(const char *tag, bool stream, int max_tokens, char **out)
{
	return call_with(tag, stream, max_tokens, NULL, out);
}

static bool pool_saw_429(const am_snapshot *s, const void *arg)
{
	(void)arg;
	for (int i = 0; i < s->npools; i++)
		if (s->pool[i].n429 > 0)
			return true;
	return false;
}

START_TEST(upstream_429_passed_back_and_feeds_the_limiter)
{
	start_all();
	char *body = NULL;
	int st = call_with("t", false, 8, "x-sim-fault: 429", &body);
	ck_assert_int_eq(st, 429);
	ck_assert_ptr_nonnull(strstr(body, "\"rate_limit_error\""));
	free(body);
	am_test_obs obs;
	memset(&obs, 0, sizeof obs);
	obs.ops = am_worker_ops(worker);
	obs.wait_ms = WAIT_MS;
	am_snapshot snap;
	ck_assert_msg(am_test_wait_snap(&obs, &snap, pool_saw_429, NULL),
	              "the limiter never heard of the 429");
	/* the console hears of it as a failed call, and it leaves no row (not billed) */
	am_event ev;
	ck_assert(am_test_wait_event(&obs, AM_EV_FAILED, 0, NULL, &ev));
	ck_assert_int_eq(ev.http_status, 429);
	ck_assert(!strncmp(ev.reason, "proxy t", 7));
	am_test_obs_clear(&obs);
	stop_all();
	sqlite3 *db;
	ck_assert_int_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_stmt *s;
	ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT count(*) FROM usage_events", -1, &s, NULL),
	                 SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(s, 0), 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
}
END_TEST

static void *client(void *arg)
{
	intptr_t k = (intptr_t)arg;
	for (int i = 0; i < CALLS; i++) {
		char *body = NULL;
		int st = call(k % 2 ? "odd" : "even", i % 2 == 0, 8 + i, &body);
		if (st != 200 || !body || !strstr(body, "claude-haiku-4-5")) {
			free(body);
			return (void *)1;
		}
		free(body);
	}
	return NULL;
}

static int64_t q_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s;
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	int64_t v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
	sqlite3_finalize(s);
	return v;
}

START_TEST(concurrent_calls_recorded_once)
{
	start_all();
	am_test_obs obs;
	memset(&obs, 0, sizeof obs);
	obs.ops = am_worker_ops(worker);
	obs.wait_ms = WAIT_MS;
	pthread_t th[THREADS];
	for (intptr_t k = 0; k < THREADS; k++)
		ck_assert_int_eq(pthread_create(&th[k], NULL, client, (void *)k), 0);
	int bad = 0;
	for (int k = 0; k < THREADS; k++) {
		void *r;
		pthread_join(th[k], &r);
		bad += r != NULL;
	}
	ck_assert_int_eq(bad, 0);
	/* The console hears of each call once, in one line's worth. */
	for (int i = 0; i < THREADS * CALLS; i++) {
		am_event ev;
		ck_assert_msg(am_test_wait_event(&obs, AM_EV_DONE, 0, NULL, &ev), "done event %d", i);
		ck_assert_msg(!strncmp(ev.reason, "proxy ", 6), "reason %s", ev.reason);
		ck_assert_str_eq(ev.model, "claude-haiku-4-5-20251001");
		ck_assert_int_gt(ev.usage.output_tokens, 0);
		ck_assert_int_eq(ev.cost_pusd, ev.usage.input_tokens * 1000000 +
		                                   ev.usage.output_tokens * 5000000);
		ck_assert(!ev.estimated);
	}
	am_test_obs_clear(&obs);

	am_sim_stats before;
	am_sim_get_stats(sim, &before);
	/* A budget already spent: the next call is refused before upstream. */
	am_engine_ops ops = am_worker_ops(worker);
	am_command c;
	memset(&c, 0, sizeof c);
	c.kind = AM_CMD_SET_BUDGET_DAY;
	c.value = 1; /* one picodollar */
	am_err err;
	ck_assert_int_eq(ops.command(ops.ctx, &c, &err), 0);
	char *body = NULL;
	int st = -1;
	for (int i = 0; i < 100 && st != 400; i++) { /* the command lands at the next pass */
		free(body);
		body = NULL;
		st = call("late", false, 8, &body);
	}
	ck_assert_int_eq(st, 400);
	ck_assert_ptr_nonnull(strstr(body, "\"type\":\"invalid_request_error\""));
	ck_assert_ptr_nonnull(strstr(body, "You have reached your specified API usage limits"));
	free(body);
	stop_all();

	am_sim_stats after;
	(void)after;
	sqlite3 *db;
	ck_assert_int_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	int64_t late = q_int(db, "SELECT count(*) FROM usage_events WHERE tag = 'late'");
	ck_assert_int_eq(q_int(db, "SELECT count(*) FROM usage_events WHERE source = 'proxy'"),
	                 THREADS * CALLS + late);
	ck_assert_int_eq(q_int(db, "SELECT count(*) FROM usage_events WHERE estimated != 0"), 0);
	ck_assert_int_eq(q_int(db, "SELECT count(DISTINCT request_id) FROM usage_events"),
	                 THREADS * CALLS + late);
	ck_assert_int_eq(q_int(db, "SELECT count(*) FROM usage_events WHERE key_hint = '7Q2z'"),
	                 THREADS * CALLS + late);
	ck_assert_int_eq(q_int(db, "SELECT count(*) FROM usage_events WHERE tag = 'odd'"),
	                 THREADS / 2 * CALLS);
	ck_assert_int_eq(q_int(db, "SELECT count(*) FROM usage_events WHERE cost_pusd != "
	                           "input_tokens * 1000000 + output_tokens * 5000000"), 0);
	sqlite3_close(db);
	/* the refused call never reached the simulator: every request it saw
	 * before the refusal is a recorded call */
	ck_assert_int_eq(before.requests, THREADS * CALLS + late);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("proxy");
	TCase *t = tcase_create("req");
	tcase_add_test(t, routes);
	tcase_add_test(t, headers_forwarded);
	tcase_add_test(t, tags_and_hints);
	tcase_add_test(t, token_query_body);
	suite_add_tcase(s, t);
	t = tcase_create("path");
	tcase_set_timeout(t, 120);
	tcase_add_test(t, concurrent_calls_recorded_once);
	tcase_add_test(t, upstream_429_passed_back_and_feeds_the_limiter);
	suite_add_tcase(s, t);
	return check_run(s);
}
