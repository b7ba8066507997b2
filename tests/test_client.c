/* test_client: the libcurl client end to end against the in-process
 * simulator on an ephemeral loopback port - JSON and streamed answers,
 * headers, every error class through x-sim-fault, retry-after forms,
 * timeouts, cancellation, size caps, wakeup, connection reuse, and 64
 * concurrent streams driven by one thread. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "anthropic.h"
#include "client.h"
#include "sim.h"
#include "check_run.h"

#define NS 1000000000LL
#define MS 1000000LL
#define KEY "sk-ant-test-secret-0123456789"

/* ---- helpers --------------------------------------------------------------- */

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NS + ts.tv_nsec;
}

typedef struct call {
	bool done;
	int headers_calls;
	int headers_status;
	bool text_before_headers;
	am_rl_headers rl;
	char streamed[16384];
	size_t streamed_len;
	int text_calls;
	int64_t first_text_ns;
	int text_after_cancel;
	bool cancel_sent;
	am_prov_result r; /* a copy; r.text taken from the callback */
	pthread_t thread;
	int64_t done_ns;
	/* optional: cancel this call's transfer after the first text */
	am_client *cancel_client;
	uint64_t cancel_id;
} call;

static void on_headers(void *ctx, int status, const am_rl_headers *rl)
{
	call *k = ctx;
	k->headers_calls++;
	k->headers_status = status;
	k->rl = *rl;
}

static void on_text(void *ctx, const char *t, size_t n)
{
	call *k = ctx;
	if (k->headers_calls == 0)
		k->text_before_headers = true;
	if (k->cancel_sent)
		k->text_after_cancel++;
	ck_assert_uint_lt(k->streamed_len + n, sizeof k->streamed);
	memcpy(k->streamed + k->streamed_len, t, n);
	k->streamed_len += n;
	if (!k->text_calls++)
		k->first_text_ns = now_ns();
	if (k->cancel_client && !k->cancel_sent) {
		ck_assert_int_eq(am_client_cancel(k->cancel_client, k->cancel_id), 0);
		k->cancel_sent = true;
	}
}

static void on_done(void *ctx, am_prov_result *r)
{
	call *k = ctx;
	ck_assert_msg(!k->done, "on_done twice");
	k->done = true;
	k->r = *r;
	r->text = NULL; /* taken */
	k->thread = pthread_self();
	k->done_ns = now_ns();
}

static am_client_cb callbacks(call *k)
{
	return (am_client_cb){on_headers, on_text, on_done, k};
}

static char *body(const char *model, int64_t max_tokens, bool stream, am_prov_endpoint ep)
{
	am_prov_message m = {.role = "user", .text = "Say something about token buckets."};
	am_prov_request rq = {.model = model,
	                      .max_tokens = max_tokens,
	                      .messages = &m,
	                      .nmessages = 1,
	                      .stream = stream};
	char *b;
	am_err err;
	ck_assert_msg(am_prov_build_body(&rq, ep, &b, NULL, &err) == 0, "%s", err.msg);
	return b;
}

static uint64_t start(am_client *c, call *k, bool stream, const char *fault, int64_t timeout_ms)
{
	char *b = body("claude-haiku-4-5", 64, stream, AM_PROV_MESSAGES);
	char hdr[64];
	const char *hdrs[1] = {hdr};
	if (fault)
		snprintf(hdr, sizeof hdr, "x-sim-fault: %s", fault);
	am_client_req rq = {.endpoint = AM_PROV_MESSAGES,
	                    .body = b,
	                    .stream = stream,
	                    .headers = fault ? hdrs : NULL,
	                    .nheaders = fault ? 1 : 0,
	                    .timeout_ms = timeout_ms};
	memset(k, 0, sizeof *k);
	am_client_cb cb = callbacks(k);
	am_err err;
	uint64_t id = am_client_start(c, &rq, &cb, &err);
	ck_assert_msg(id > 0, "%s", err.msg);
	free(b);
	return id;
}

/* Runs the loop until every call is done (bounded real time: this waits
 * for real I/O only). */
static void run_until(am_client *c, call *const *calls, size_t n, int64_t limit_ms)
{
	int64_t deadline = now_ns() + limit_ms * MS;
	for (;;) {
		bool all = true;
		for (size_t i = 0; i < n; i++)
			all = all && calls[i]->done;
		if (all)
			return;
		ck_assert_msg(now_ns() < deadline, "transfers did not finish in %lld ms",
		              (long long)limit_ms);
		am_err err;
		ck_assert_msg(am_client_run(c, 50, &err) >= 0, "%s", err.msg);
	}
}

static void run_one(am_client *c, call *k)
{
	call *const ks[1] = {k};
	run_until(c, ks, 1, 20000);
}

static void ask(am_client *c, call *k, bool stream, const char *fault)
{
	start(c, k, stream, fault, 0);
	run_one(c, k);
}

static am_sim *sim_up(am_sim_cfg *cfg)
{
	am_sim *s;
	am_err err;
	ck_assert_msg(am_sim_start(&s, cfg, &err) == 0, "%s", err.msg);
	return s;
}

static am_client *client_for(const am_sim *s, const char *key, size_t max_response)
{
	am_client_opts o;
	am_client_opts_default(&o);
	o.base_url = am_sim_url(s);
	o.api_key = key;
	o.connect_timeout_ms = 2000;
	o.total_timeout_ms = 20000;
	o.max_response_bytes = max_response;
	am_client *c;
	am_err err;
	ck_assert_msg(am_client_new(&c, &o, &err) == 0, "%s", err.msg);
	return c;
}

/* A simulator and a client talking to it. */
typedef struct env {
	am_sim_cfg cfg;
	am_sim *s;
	am_client *c;
} env;

static void env_cfg(env *e)
{
	memset(e, 0, sizeof *e);
	am_sim_cfg_default(&e->cfg);
}

static am_client *env_up(env *e, const char *key, size_t max_response)
{
	e->s = sim_up(&e->cfg);
	e->c = client_for(e->s, key, max_response);
	return e->c;
}

static void env_down(env *e)
{
	am_client_free(e->c);
	am_sim_stop(e->s);
}

static void call_free(call *k)
{
	am_prov_result_free(&k->r);
}

static void no_key_in(const call *k)
{
	ck_assert_ptr_null(strstr(k->r.message, KEY));
	ck_assert_ptr_null(strstr(k->r.message, "0123456789"));
}

/* ---- answers ------------------------------------------------------------------ */

START_TEST(json_answer)
{
	env e;
	env_cfg(&e);
	e.cfg.rpm = 1000;
	e.cfg.itpm = 100000;
	e.cfg.otpm = 20000;
	am_client *c = env_up(&e, KEY, 0);
	call k;
	ask(c, &k, false, NULL);
	ck_assert_msg(k.r.err == AM_PERR_NONE, "%s: %s", am_prov_errkind_name(k.r.err),
	              k.r.message);
	ck_assert_int_eq(k.r.http_status, 200);
	ck_assert_str_eq(k.r.model, "claude-haiku-4-5-20251001");
	ck_assert(!k.r.stream);
	ck_assert_ptr_nonnull(k.r.text);
	ck_assert_uint_gt(k.r.text_len, 0);
	ck_assert_uint_eq(strlen(k.r.text), k.r.text_len);
	ck_assert(k.r.has_usage && k.r.usage_final);
	ck_assert_int_gt(k.r.usage.input_tokens, 0);
	ck_assert_int_gt(k.r.usage.output_tokens, 0);
	ck_assert_int_le(k.r.usage.output_tokens, 64);
	ck_assert_str_ne(k.r.request_id, "");
	ck_assert_str_ne(k.r.stop_reason, "");
	ck_assert_int_eq(k.headers_calls, 1);
	ck_assert_int_eq(k.headers_status, 200);
	ck_assert_int_eq(k.text_calls, 0);
	ck_assert_int_gt(k.r.latency_ns, 0);
	ck_assert_int_gt(k.r.ttfb_ns, 0);
	ck_assert_int_le(k.r.ttfb_ns, k.r.latency_ns);

	/* Headers end to end: every limited bucket, rounded token counts, a Date. */
	const am_rl_headers *rl = &k.r.rl;
	ck_assert_int_eq(rl->http_status, 200);
	ck_assert(rl->has_date);
	ck_assert(!rl->has_retry_after);
	const am_rl_bucket_hdr *rq = &rl->b[AM_RLH_REQUESTS];
	ck_assert(rq->present && rq->has_limit && rq->has_remaining && rq->has_reset);
	ck_assert_int_eq(rq->limit, 1000);
	ck_assert_int_lt(rq->remaining, 1000);
	ck_assert_int_ge(rq->reset_ns, rl->date_ns - NS);
	const am_rl_bucket_hdr *in = &rl->b[AM_RLH_INPUT_TOKENS];
	ck_assert(in->present && in->has_limit && in->has_remaining);
	ck_assert_int_eq(in->limit, 100000);
	ck_assert_int_eq(in->remaining % 1000, 0);
	ck_assert_int_eq(rl->b[AM_RLH_OUTPUT_TOKENS].limit, 20000);
	ck_assert(!rl->b[AM_RLH_PRIO_INPUT].present);
	ck_assert_mem_eq(&k.rl, rl, sizeof *rl);
	call_free(&k);

	/* count_tokens on the same client. */
	char *b = body("claude-haiku-4-5", 64, false, AM_PROV_COUNT_TOKENS);
	am_client_req req = {.endpoint = AM_PROV_COUNT_TOKENS, .body = b};
	memset(&k, 0, sizeof k);
	am_client_cb cb = callbacks(&k);
	ck_assert_uint_gt(am_client_start(c, &req, &cb, NULL), 0);
	free(b);
	run_one(c, &k);
	ck_assert_msg(k.r.err == AM_PERR_NONE, "%s", k.r.message);
	ck_assert_int_gt(k.r.usage.input_tokens, 0);
	ck_assert_int_eq(k.r.usage.output_tokens, 0);
	call_free(&k);
	env_down(&e);
}
END_TEST

START_TEST(streamed_answer)
{
	env e;
	env_cfg(&e);
	am_client *c = env_up(&e, KEY, 0);
	call k;
	ask(c, &k, true, NULL);
	ck_assert_msg(k.r.err == AM_PERR_NONE, "%s: %s", am_prov_errkind_name(k.r.err),
	              k.r.message);
	ck_assert(k.r.stream);
	ck_assert(!k.text_before_headers);
	ck_assert_int_eq(k.headers_calls, 1);
	ck_assert_int_gt(k.text_calls, 1);
	ck_assert_uint_eq(k.streamed_len, k.r.text_len);
	ck_assert_mem_eq(k.streamed, k.r.text, k.r.text_len);
	ck_assert_str_eq(k.r.model, "claude-haiku-4-5-20251001");
	ck_assert(k.r.usage_final && !k.r.missing_message_stop);
	ck_assert_int_gt(k.r.usage.input_tokens, 0);
	ck_assert_int_gt(k.r.usage.output_tokens, 0);
	ck_assert_str_ne(k.r.stop_reason, "");

	/* The same prompt without streaming gives the same deterministic answer. */
	call j;
	ask(c, &j, false, NULL);
	ck_assert_uint_eq(j.r.text_len, k.r.text_len);
	ck_assert_mem_eq(j.r.text, k.r.text, k.r.text_len);
	ck_assert_int_eq(j.r.usage.output_tokens, k.r.usage.output_tokens);
	ck_assert_int_eq(j.r.usage.input_tokens, k.r.usage.input_tokens);
	call_free(&k);
	call_free(&j);
	env_down(&e);
}
END_TEST

/* ---- errors -------------------------------------------------------------------- */

START_TEST(every_fault_class)
{
	static const struct {
		const char *fault;
		bool stream;
		am_prov_errkind kind;
		bool retryable;
		int status;
	} t[] = {
	    {"429", false, AM_PERR_RATE_LIMIT, true, 429},
	    {"429", true, AM_PERR_RATE_LIMIT, true, 429},
	    {"529", true, AM_PERR_OVERLOADED, true, 529},
	    {"500", false, AM_PERR_SERVER, true, 500},
	    {"503", false, AM_PERR_SERVER, true, 503},
	    {"408", false, AM_PERR_TIMEOUT, true, 408},
	    {"409", false, AM_PERR_CONFLICT, true, 409},
	    {"400", false, AM_PERR_INVALID_REQUEST, false, 400},
	    {"401", true, AM_PERR_AUTH, false, 401},
	    {"403", false, AM_PERR_PERMISSION, false, 403},
	    {"404", false, AM_PERR_NOT_FOUND, false, 404},
	    {"413", false, AM_PERR_TOO_LARGE, false, 413},
	    {"spend_limit", false, AM_PERR_SPEND_LIMIT, false, 429},
	    {"user_spend_limit", true, AM_PERR_USER_SPEND_LIMIT, false, 400},
	    {"midstream", true, AM_PERR_MIDSTREAM, true, 200},
	    {"truncate", true, AM_PERR_TRUNCATED, true, 200},
	    {"truncate", false, AM_PERR_TRUNCATED, true, 200},
	    {"drop", true, AM_PERR_NETWORK, true, 0},
	};
	env e;
	env_cfg(&e);
	am_client *c = env_up(&e, KEY, 0);
	am_prov_retry_cfg retry;
	am_prov_retry_cfg_default(&retry);
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		call k;
		ask(c, &k, t[i].stream, t[i].fault);
		ck_assert_msg(k.r.err == t[i].kind, "%s%s: got %s (%s)", t[i].fault,
		              t[i].stream ? " stream" : "", am_prov_errkind_name(k.r.err),
		              k.r.message);
		ck_assert_int_eq(k.r.retryable, t[i].retryable);
		ck_assert_int_eq(am_prov_retry_should(&retry, 1, &k.r), t[i].retryable);
		ck_assert_int_eq(k.r.http_status, t[i].status);
		ck_assert_msg(k.r.message[0] != '\0', "%s: no message", t[i].fault);
		ck_assert_msg(k.r.request_id[0] != '\0' || t[i].status == 0, "%s: no request id",
		              t[i].fault);
		ck_assert_int_eq(k.headers_calls, t[i].status != 0);
		no_key_in(&k);
		if (t[i].kind == AM_PERR_MIDSTREAM) {
			/* Text that arrived before the error was passed on and kept. */
			ck_assert_int_gt(k.text_calls, 0);
			ck_assert_uint_eq(k.r.text_len, k.streamed_len);
			ck_assert_str_ne(k.r.error_type, "");
			ck_assert(k.r.has_usage && !k.r.usage_final);
			ck_assert_int_gt(k.r.usage.input_tokens, 0);
		}
		if (t[i].kind == AM_PERR_RATE_LIMIT) {
			ck_assert(k.r.rl.has_retry_after);
			int64_t d = am_prov_retry_delay(&retry, 1, &k.r.rl, 0.5);
			ck_assert_int_eq(d, k.r.rl.retry_after_ns);
		}
		if (t[i].kind == AM_PERR_SPEND_LIMIT)
			ck_assert(!k.r.rl.has_retry_after);
		call_free(&k);
	}
	env_down(&e);
}
END_TEST

START_TEST(authentication)
{
	env e;
	env_cfg(&e);
	e.cfg.api_key = "sk-ant-the-right-one";
	e.s = sim_up(&e.cfg);
	const char *keys[] = {KEY, NULL, "sk-ant-the-right-one"};
	for (int i = 0; i < 3; i++) {
		am_client *c = client_for(e.s, keys[i], 0);
		call k;
		ask(c, &k, i == 1, NULL);
		if (i < 2) {
			ck_assert_int_eq(k.r.err, AM_PERR_AUTH);
			ck_assert_int_eq(k.r.http_status, 401);
			ck_assert(!k.r.retryable);
			ck_assert_str_eq(k.r.error_type, "authentication_error");
			no_key_in(&k);
		} else {
			ck_assert_msg(k.r.err == AM_PERR_NONE, "%s", k.r.message);
		}
		call_free(&k);
		am_client_free(c);
	}
	am_sim_stop(e.s);
}
END_TEST

static void start_with_headers(am_client *c, call *k, const char *const *hdrs, size_t n)
{
	char *b = body("claude-haiku-4-5", 16, false, AM_PROV_MESSAGES);
	am_client_req rq = {.body = b, .headers = hdrs, .nheaders = n};
	memset(k, 0, sizeof *k);
	am_client_cb cb = callbacks(k);
	ck_assert_uint_gt(am_client_start(c, &rq, &cb, NULL), 0);
	free(b);
}

START_TEST(retry_after_forms_end_to_end)
{
	env e;
	env_cfg(&e);
	am_client *c = env_up(&e, KEY, 0);
	am_prov_retry_cfg retry;
	am_prov_retry_cfg_default(&retry);
	static const struct {
		const char *h1, *h2;
		bool has;
		int64_t after; /* when has */
		int64_t delay; /* policy, rnd 0, first retry */
	} t[] = {
	    {"x-sim-retry-after-ms: 1500.5", "x-sim-retry-after: 9", true, 1500500000, 1500500000},
	    {"x-sim-retry-after: 17", NULL, true, 17 * NS, 17 * NS},
	    {"x-sim-retry-after: 2.5", NULL, true, 2500 * MS, 2500 * MS},
	    {"x-sim-retry-after: 120", NULL, true, 120 * NS, 500 * MS},
	    {"x-sim-retry-after: -4", NULL, false, 0, 500 * MS},
	    {"x-sim-retry-after: Sun, 06 Nov 1994 08:49:37 GMT", NULL, false, 0, 500 * MS},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		const char *h[3] = {"x-sim-fault: 529", t[i].h1, t[i].h2};
		call k;
		start_with_headers(c, &k, h, t[i].h2 ? 3 : 2);
		run_one(c, &k);
		ck_assert_int_eq(k.r.err, AM_PERR_OVERLOADED);
		ck_assert_msg(k.r.rl.has_retry_after == t[i].has, "case %zu", i);
		if (t[i].has)
			ck_assert_int_eq(k.r.rl.retry_after_ns, t[i].after);
		ck_assert_int_eq(am_prov_retry_delay(&retry, 1, &k.r.rl, 0.0), t[i].delay);
		call_free(&k);
	}
	/* An HTTP-date is taken relative to the response's Date. */
	char date[96];
	time_t later = time(NULL) + 30;
	struct tm tm;
	strftime(date, sizeof date, "x-sim-retry-after: %a, %d %b %Y %H:%M:%S GMT",
	         gmtime_r(&later, &tm));
	const char *h[2] = {"x-sim-fault: 429", date};
	call k;
	start_with_headers(c, &k, h, 2);
	run_one(c, &k);
	ck_assert_int_eq(k.r.err, AM_PERR_RATE_LIMIT);
	ck_assert(k.r.rl.has_retry_after && k.r.rl.has_date);
	ck_assert_int_ge(k.r.rl.retry_after_ns, 28 * NS);
	ck_assert_int_le(k.r.rl.retry_after_ns, 31 * NS);
	call_free(&k);
	env_down(&e);
}
END_TEST

START_TEST(bucket_429_then_policy)
{
	env e;
	env_cfg(&e);
	e.cfg.rpm = 60;
	e.cfg.rpm_burst = 1;
	am_client *c = env_up(&e, KEY, 0);
	call a, b;
	ask(c, &a, false, NULL);
	ask(c, &b, false, NULL);
	ck_assert_int_eq(a.r.err, AM_PERR_NONE);
	ck_assert_int_eq(b.r.err, AM_PERR_RATE_LIMIT);
	ck_assert(b.r.rl.has_retry_after);
	ck_assert_int_gt(b.r.rl.retry_after_ns, 0);
	ck_assert_int_le(b.r.rl.retry_after_ns, 2 * NS);
	ck_assert_int_eq(b.r.rl.b[AM_RLH_REQUESTS].remaining, 0);
	am_prov_retry_cfg retry;
	am_prov_retry_cfg_default(&retry);
	ck_assert(am_prov_retry_should(&retry, 1, &b.r));
	ck_assert_int_eq(am_prov_retry_delay(&retry, 1, &b.r.rl, 0.3), b.r.rl.retry_after_ns);
	am_sim_stats st;
	am_sim_get_stats(e.s, &st);
	ck_assert_int_eq(st.rate_limited, 1);
	call_free(&a);
	call_free(&b);
	env_down(&e);
}
END_TEST

/* ---- transport ------------------------------------------------------------------- */

START_TEST(timeout_is_retryable)
{
	env e;
	env_cfg(&e);
	e.cfg.latency_ms = 1500;
	am_client *c = env_up(&e, KEY, 0);
	call k;
	int64_t t0 = now_ns();
	start(c, &k, true, NULL, 200);
	run_one(c, &k);
	int64_t took = now_ns() - t0;
	ck_assert_msg(k.r.err == AM_PERR_TIMEOUT, "%s: %s", am_prov_errkind_name(k.r.err),
	              k.r.message);
	ck_assert(k.r.retryable);
	ck_assert_int_eq(k.r.http_status, 0);
	ck_assert_int_ge(took, 150 * MS);
	ck_assert_int_lt(took, 2000 * MS);
	ck_assert_int_ge(k.r.latency_ns, 150 * MS);
	call_free(&k);
	env_down(&e);
}
END_TEST

START_TEST(network_failure_and_setup_errors)
{
	/* A port that just stopped listening refuses the connection. */
	am_sim_cfg cfg;
	am_sim_cfg_default(&cfg);
	am_sim *s = sim_up(&cfg);
	char url[64];
	snprintf(url, sizeof url, "%s", am_sim_url(s));
	am_sim_stop(s);
	am_client_opts o;
	am_client_opts_default(&o);
	o.base_url = url;
	o.api_key = KEY;
	am_client *c;
	am_err err;
	ck_assert_int_eq(am_client_new(&c, &o, &err), 0);
	call k;
	ask(c, &k, false, NULL);
	ck_assert_int_eq(k.r.err, AM_PERR_NETWORK);
	ck_assert(k.r.retryable);
	ck_assert_int_eq(k.r.http_status, 0);
	ck_assert_int_eq(k.headers_calls, 0);
	no_key_in(&k);
	call_free(&k);

	/* Malformed requests fail at start, without the key in the message. */
	const char *bad1[] = {"x-api-key: other"};
	const char *bad2[] = {"x-sim-fault: 500\r\nx-evil: 1"};
	const char *bad3[] = {"no colon"};
	const char *const *bads[] = {bad1, bad2, bad3};
	for (int i = 0; i < 3; i++) {
		am_client_req rq = {.body = "{}", .headers = bads[i], .nheaders = 1};
		ck_assert_uint_eq(am_client_start(c, &rq, NULL, &err), 0);
		ck_assert_ptr_null(strstr(err.msg, KEY));
	}
	am_client_req nobody = {.body = NULL};
	ck_assert_uint_eq(am_client_start(c, &nobody, NULL, &err), 0);
	ck_assert_int_eq(am_client_pending(c), 0);
	am_client_free(c);

	o.base_url = "ftp://example.com";
	ck_assert_int_eq(am_client_new(&c, &o, &err), -1);
	o.base_url = url;
	o.api_key = "sk-ant-with\nnewline";
	ck_assert_int_eq(am_client_new(&c, &o, &err), -1);
	ck_assert_ptr_null(strstr(err.msg, "newline"));
	/* Defaults: the real API, trailing slashes trimmed. */
	o.base_url = NULL;
	o.api_key = KEY;
	ck_assert_int_eq(am_client_new(&c, &o, &err), 0);
	ck_assert_str_eq(am_client_base_url(c), "https://api.anthropic.com");
	am_client_free(c);
	o.base_url = "http://127.0.0.1:9//";
	ck_assert_int_eq(am_client_new(&c, &o, &err), 0);
	ck_assert_str_eq(am_client_base_url(c), "http://127.0.0.1:9");
	am_client_free(c);
}
END_TEST

/* Plain http sends the key in cleartext: accepted only to this machine
 * (however the authority is spelled) or when the config allows it. */
START_TEST(plain_http_only_to_loopback)
{
	static const char *const local[] = {
	    "http://127.0.0.1:9", "http://127.8.9.10", "http://localhost:8080/", "http://LOCALHOST",
	    "http://[::1]:9", "http://user:pw@127.0.0.1:9", "https://example.com"};
	static const char *const remote[] = {
	    "http://example.com",         "http://api.anthropic.com:80", "http://10.0.0.1:9",
	    "http://127.0.0.1@evil.test", "http://localhost.evil.test",  "http://[::2]:9",
	    "http://128.0.0.1",           "HTTP://example.com/v1"};
	am_client_opts o;
	am_client_opts_default(&o);
	o.api_key = KEY;
	am_client *c;
	am_err err;
	for (size_t i = 0; i < sizeof local / sizeof local[0]; i++) {
		o.base_url = local[i];
		ck_assert_msg(am_client_new(&c, &o, &err) == 0, "%s: %s", local[i], err.msg);
		am_client_free(c);
	}
	for (size_t i = 0; i < sizeof remote / sizeof remote[0]; i++) {
		o.base_url = remote[i];
		o.allow_insecure_http = false;
		ck_assert_msg(am_client_new(&c, &o, &err) == -1, "%s accepted", remote[i]);
		ck_assert_ptr_nonnull(strstr(err.msg, "allow_insecure_http"));
		ck_assert_ptr_null(strstr(err.msg, KEY));
		o.allow_insecure_http = true;
		ck_assert_msg(am_client_new(&c, &o, &err) == 0, "%s: %s", remote[i], err.msg);
		am_client_free(c);
	}
}
END_TEST

START_TEST(response_size_cap)
{
	env e;
	env_cfg(&e);
	am_client *c = env_up(&e, KEY, 300);
	for (int stream = 0; stream < 2; stream++) {
		call k;
		ask(c, &k, stream, NULL);
		ck_assert_msg(k.r.err == AM_PERR_RESPONSE_TOO_BIG, "%s: %s",
		              am_prov_errkind_name(k.r.err), k.r.message);
		ck_assert(!k.r.retryable);
		ck_assert_uint_le(k.streamed_len, 300);
		call_free(&k);
	}
	/* An error status still classifies by status when its body is cut. */
	call k;
	ask(c, &k, false, "spend_limit");
	ck_assert_int_eq(k.r.http_status, 429);
	ck_assert(k.r.err == AM_PERR_SPEND_LIMIT || k.r.err == AM_PERR_RATE_LIMIT);
	call_free(&k);
	env_down(&e);
}
END_TEST

START_TEST(cancellation)
{
	env e;
	env_cfg(&e);
	e.cfg.tokens_per_second = 40;
	am_client *c = env_up(&e, KEY, 0);

	/* In flight: cancelled from inside on_text after the first piece. */
	call a, b, q;
	uint64_t ida = start(c, &a, true, NULL, 0);
	a.cancel_client = c;
	a.cancel_id = ida;
	/* Queued: cancelled before the loop ever ran it. */
	uint64_t idq = start(c, &q, true, NULL, 0);
	ck_assert_int_eq(am_client_cancel(c, idq), 0);
	ck_assert_int_eq(am_client_cancel(c, idq), -1);
	/* A bystander completes normally. */
	start(c, &b, false, NULL, 0);
	ck_assert_int_eq(am_client_pending(c), 3);
	int64_t t0 = now_ns();
	call *const all[] = {&a, &b, &q};
	run_until(c, all, 3, 20000);
	ck_assert_int_eq(q.r.err, AM_PERR_CANCELLED);
	ck_assert_int_eq(q.text_calls, 0);
	ck_assert_int_eq(q.headers_calls, 0);
	ck_assert_int_eq(a.r.err, AM_PERR_CANCELLED);
	ck_assert(!a.r.retryable);
	ck_assert_int_eq(a.text_calls, 1);
	ck_assert_int_eq(a.text_after_cancel, 0);
	ck_assert(a.r.has_usage && !a.r.usage_final); /* what the stream had reported */
	ck_assert_int_gt(a.r.usage.input_tokens, 0);
	ck_assert_msg(b.r.err == AM_PERR_NONE, "%s", b.r.message);
	ck_assert_int_eq(am_client_cancel(c, ida), -1);
	/* The cancelled stream ended long before its whole answer (1.6 s). */
	ck_assert_int_lt(a.done_ns - t0, 1000 * MS);
	ck_assert_int_eq(am_client_pending(c), 0);
	call_free(&a);
	call_free(&b);
	call_free(&q);

	/* Freeing the client cancels what is left, reporting each once. */
	call d;
	start(c, &d, true, NULL, 0);
	for (int i = 0; i < 5 && d.text_calls == 0; i++)
		am_client_run(c, 100, NULL);
	ck_assert(!d.done);
	env_down(&e);
	ck_assert(d.done);
	ck_assert_int_eq(d.r.err, AM_PERR_CANCELLED);
	call_free(&d);
}
END_TEST

struct waker {
	am_client *c;
	int64_t delay_ns;
};

static void *wake_later(void *arg)
{
	struct waker *w = arg;
	struct timespec ts = {0, (long)w->delay_ns};
	nanosleep(&ts, NULL); /* the other thread must be inside its wait */
	am_client_wakeup(w->c);
	return NULL;
}

START_TEST(wakeup_ends_the_wait)
{
	am_client_opts o;
	am_client_opts_default(&o);
	o.base_url = "http://127.0.0.1:9";
	am_client *c;
	ck_assert_int_eq(am_client_new(&c, &o, NULL), 0);
	struct waker w = {c, 100 * MS};
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, wake_later, &w), 0);
	int64_t t0 = now_ns();
	ck_assert_int_eq(am_client_run(c, 10000, NULL), 0);
	int64_t took = now_ns() - t0;
	pthread_join(th, NULL);
	ck_assert_int_lt(took, 5000 * MS);
	am_client_free(c);
}
END_TEST

START_TEST(connections_are_reused)
{
	env e;
	env_cfg(&e);
	am_client *c = env_up(&e, KEY, 0);
	for (int i = 0; i < 20; i++) {
		call k;
		ask(c, &k, i % 2, NULL);
		ck_assert_msg(k.r.err == AM_PERR_NONE, "%s", k.r.message);
		call_free(&k);
	}
	am_client_stats st;
	am_client_get_stats(c, &st);
	ck_assert_int_eq(st.transfers, 20);
	ck_assert_int_le(st.connections_opened, 2);
	env_down(&e);
}
END_TEST

START_TEST(sixty_four_streams_one_thread)
{
	enum { N = 64 };
	env e;
	env_cfg(&e);
	e.cfg.tokens_per_second = 400;
	am_client *c = env_up(&e, KEY, 0);
	call *ks = calloc(N, sizeof *ks);
	call *ptrs[N];
	for (int i = 0; i < N; i++) {
		start(c, &ks[i], true, NULL, 0);
		ptrs[i] = &ks[i];
	}
	ck_assert_int_eq(am_client_pending(c), N);
	int64_t t0 = now_ns();
	run_until(c, ptrs, N, 30000);
	int64_t took = now_ns() - t0;
	int64_t out = 0, busy = 0;
	for (int i = 0; i < N; i++) {
		ck_assert_msg(ks[i].r.err == AM_PERR_NONE, "stream %d: %s", i, ks[i].r.message);
		ck_assert(pthread_equal(ks[i].thread, pthread_self()));
		ck_assert_uint_eq(ks[i].streamed_len, ks[i].r.text_len);
		ck_assert_mem_eq(ks[i].streamed, ks[i].r.text, ks[i].r.text_len);
		ck_assert_int_gt(ks[i].text_calls, 1);
		out += ks[i].r.usage.output_tokens;
		busy += ks[i].done_ns - ks[i].first_text_ns;
		call_free(&ks[i]);
	}
	/* Concurrent, not one after another: the streams were busy (first text
	 * to done) for many times longer in sum than the whole batch took. */
	ck_assert_msg(busy > 8 * took, "busy %lld ns in %lld ns", (long long)busy, (long long)took);
	am_sim_stats st;
	am_sim_get_stats(e.s, &st);
	ck_assert_int_eq(st.ok, N);
	ck_assert_int_eq(st.output_tokens, out);
	free(ks);
	env_down(&e);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("client");
	TCase *t = tcase_create("sim");
	tcase_set_timeout(t, 60);
	tcase_add_test(t, json_answer);
	tcase_add_test(t, streamed_answer);
	tcase_add_test(t, every_fault_class);
	tcase_add_test(t, authentication);
	tcase_add_test(t, retry_after_forms_end_to_end);
	tcase_add_test(t, bucket_429_then_policy);
	tcase_add_test(t, timeout_is_retryable);
	tcase_add_test(t, network_failure_and_setup_errors);
	tcase_add_test(t, plain_http_only_to_loopback);
	tcase_add_test(t, response_size_cap);
	tcase_add_test(t, cancellation);
	tcase_add_test(t, wakeup_ends_the_wait);
	tcase_add_test(t, connections_are_reused);
	tcase_add_test(t, sixty_four_streams_one_thread);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return check_run(suite());
}
