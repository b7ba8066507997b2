/* fuzz_response: the Anthropic answer parsers (src/anthropic.c).
 *
 * Two choice bytes (HTTP status, x-should-retry, endpoint, size limits and a
 * chunk size), then a body. The body is read twice:
 *  - as a complete response: am_prov_finish_response. A 2xx Message is
 *    checked against jansson read directly (text blocks, usage fields: a
 *    figure that is negative, huge, a float, a string or missing makes the
 *    usage suspect, and every figure stays within its bounds), and
 *    every result is checked for sane, NUL-terminated UTF-8 strings and an
 *    error decision that matches the documented rules;
 *  - as an SSE stream: the accumulator fed in one piece and in small chunks
 *    must end in the same result, and the text it passed on as it arrived
 *    must be exactly the final text. */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "anthropic.h"
#include "bbuf.h"
#include "fuzz_util.h"

static const int statuses[16] = { 200, 200, 200, 201, 400, 401, 402, 403,
	                          404, 408, 409, 413, 429, 500, 529, 302 };

/* Every figure within its bounds, whatever the server sent (a cache
 * write total made of two breakdown figures may reach twice the bound). */
static void check_usage(const am_usage *u)
{
	FUZZ_CHECK(u->input_tokens >= 0 && u->output_tokens >= 0 && u->cache_read >= 0);
	FUZZ_CHECK(u->cache_write_5m >= 0 && u->cache_write_1h >= 0);
	FUZZ_CHECK(u->input_tokens <= AM_PROV_MAX_TOKENS && u->output_tokens <= AM_PROV_MAX_TOKENS);
	FUZZ_CHECK(u->cache_read <= AM_PROV_MAX_TOKENS && u->cache_write_1h <= AM_PROV_MAX_TOKENS);
	FUZZ_CHECK(u->cache_write_5m <= 2 * (int64_t)AM_PROV_MAX_TOKENS);
}

/* What every result must look like, however it came about. */
static void check_result(const am_prov_result *r)
{
	FUZZ_CHECK((unsigned)r->err < AM_PERR_COUNT_);
	FUZZ_CHECK(strcmp(am_prov_errkind_name(r->err), "unknown") != 0);
	FUZZ_CHECK_UTF8_CSTR(r->error_type);
	FUZZ_CHECK_UTF8_CSTR(r->message);
	FUZZ_CHECK_UTF8_CSTR(r->request_id);
	FUZZ_CHECK_UTF8_CSTR(r->id);
	FUZZ_CHECK_UTF8_CSTR(r->model);
	FUZZ_CHECK_UTF8_CSTR(r->stop_reason);
	FUZZ_CHECK_UTF8_CSTR(r->stop_sequence);
	FUZZ_CHECK_UTF8_CSTR(r->service_tier);
	if (r->err != AM_PERR_NONE)
		FUZZ_CHECK(r->message[0] != '\0');
	else
		FUZZ_CHECK(!r->retryable);
	if (r->text) {
		FUZZ_CHECK(strlen(r->text) == r->text_len);
		FUZZ_CHECK(fuzz_utf8_ok(r->text, r->text_len));
	} else {
		FUZZ_CHECK(r->text_len == 0);
	}
	check_usage(&r->usage);
	/* Suspect usage says why; trusted usage says nothing. */
	FUZZ_CHECK_UTF8_CSTR(r->usage_why);
	FUZZ_CHECK(r->usage_suspect == (r->usage_why[0] != '\0'));
}

/* A count the way the API defines it: a JSON integer in
 * 0..AM_PROV_MAX_TOKENS, else 0. Anything else that is present and not
 * null (negative, huge, a float, a string, an object) sets *bad. */
static int64_t count_of(const json_t *obj, const char *key, bool *present, bool *bad)
{
	const json_t *v = json_object_get(obj, key);
	bool ok = json_is_integer(v) && json_integer_value(v) >= 0 &&
	          json_integer_value(v) <= AM_PROV_MAX_TOKENS;
	if (present)
		*present = ok;
	if (!ok && v && !json_is_null(v))
		*bad = true;
	return ok ? json_integer_value(v) : 0;
}

/* A successful Message parse agrees with jansson read directly. */
static void check_message(const char *body, size_t len, const am_prov_result *r)
{
	json_t *root = json_loadb(body, len, JSON_ALLOW_NUL, NULL);
	FUZZ_CHECK(json_is_object(root));
	const json_t *usage = json_object_get(root, "usage");
	FUZZ_CHECK(json_is_object(usage));
	bool has_in, has_out, has_cc, has5, has1, bad = false;
	FUZZ_CHECK(r->usage.input_tokens == count_of(usage, "input_tokens", &has_in, &bad));
	FUZZ_CHECK(r->usage.output_tokens == count_of(usage, "output_tokens", &has_out, &bad));
	FUZZ_CHECK(r->usage.cache_read == count_of(usage, "cache_read_input_tokens", NULL, &bad));
	int64_t cc = count_of(usage, "cache_creation_input_tokens", &has_cc, &bad);
	const json_t *bd = json_object_get(usage, "cache_creation");
	int64_t m5 = 0, h1 = 0;
	if (json_is_object(bd)) {
		m5 = count_of(bd, "ephemeral_5m_input_tokens", &has5, &bad);
		h1 = count_of(bd, "ephemeral_1h_input_tokens", &has1, &bad);
	} else {
		has5 = has1 = false;
	}
	/* The server tools' counts are billed too: a bad one is as suspect. */
	const json_t *st = json_object_get(usage, "server_tool_use");
	if (json_is_object(st)) {
		FUZZ_CHECK(r->usage.web_search_requests ==
		           count_of(st, "web_search_requests", NULL, &bad));
		FUZZ_CHECK(r->usage.web_fetch_requests ==
		           count_of(st, "web_fetch_requests", NULL, &bad));
		FUZZ_CHECK(r->usage.code_execution_requests ==
		           count_of(st, "code_execution_requests", NULL, &bad));
	} else {
		FUZZ_CHECK(r->usage.web_search_requests == 0 && r->usage.web_fetch_requests == 0 &&
		           r->usage.code_execution_requests == 0);
	}
	/* Negative, huge, float, string or missing: suspect, never exact. */
	FUZZ_CHECK(r->usage_suspect == (bad || !has_in || !has_out));
	if (has_cc) {
		/* The total is what is billed; the split may only move tokens. */
		FUZZ_CHECK(r->usage.cache_write_5m + r->usage.cache_write_1h == cc);
		FUZZ_CHECK(r->usage.cache_write_1h == (h1 < cc ? h1 : cc));
	} else if (has5 || has1) {
		/* Bounded figures: their sum cannot overflow. */
		FUZZ_CHECK(r->usage.cache_write_5m == m5 && r->usage.cache_write_1h == h1);
	} else {
		FUZZ_CHECK(r->usage.cache_write_5m == 0 && r->usage.cache_write_1h == 0);
	}
	/* The answer is its text blocks, joined. */
	am_bbuf text;
	am_bbuf_init(&text, len + 1);
	size_t i;
	const json_t *blk;
	json_array_foreach(json_object_get(root, "content"), i, blk) {
		const json_t *t = json_object_get(blk, "text");
		const char *bt = json_string_value(json_object_get(blk, "type"));
		if (!bt || strcmp(bt, "text") || !json_is_string(t))
			continue;
		/* A NUL in the answer reads as U+2400. */
		const char *p = json_string_value(t);
		for (size_t k = 0; k < json_string_length(t); k++)
			FUZZ_CHECK((p[k] ? am_bbuf_append(&text, p + k, 1)
			                 : am_bbuf_append(&text, "\xE2\x90\x80", 3)) == 0);
	}
	FUZZ_CHECK(r->text && text.len == r->text_len && !memcmp(am_bbuf_str(&text), r->text,
	                                                          text.len));
	am_bbuf_free(&text);
	json_decref(root);
}

static void fuzz_complete(const char *body, size_t len, int status, int should_retry,
                          am_prov_endpoint ep)
{
	am_prov_result r;
	am_prov_result_init(&r);
	am_prov_finish_response(ep, status, body, len, should_retry, &r);
	check_result(&r);
	FUZZ_CHECK(r.http_status == status);
	if (status >= 200 && status <= 299) {
		FUZZ_CHECK(r.err == AM_PERR_NONE || r.err == AM_PERR_TRUNCATED ||
		           r.err == AM_PERR_PROTOCOL);
		if (r.err == AM_PERR_NONE) {
			FUZZ_CHECK(r.has_usage && r.usage_final);
			if (ep == AM_PROV_MESSAGES)
				check_message(body, len, &r);
		}
	} else {
		FUZZ_CHECK(r.err != AM_PERR_NONE);
		bool pinned = r.err == AM_PERR_AUTH || r.err == AM_PERR_SPEND_LIMIT ||
		              r.err == AM_PERR_USER_SPEND_LIMIT;
		FUZZ_CHECK(!pinned || !r.retryable);
		if (should_retry >= 0 && !pinned)
			FUZZ_CHECK(r.retryable == (should_retry == 1));
		else
			FUZZ_CHECK(r.retryable == am_prov_errkind_retryable(r.err));
		if (status == 401)
			FUZZ_CHECK(r.err == AM_PERR_AUTH);
	}
	am_prov_result_free(&r);
}

/* ---- the stream --------------------------------------------------------- */

typedef struct seen {
	am_bbuf text;
} seen;

static void on_text(void *ctx, const char *text, size_t len)
{
	seen *s = ctx;
	FUZZ_CHECK(len > 0);
	FUZZ_CHECK(am_bbuf_append(&s->text, text, len) == 0);
}

static void stream_run(const char *body, size_t len, size_t chunk, size_t max_event,
                       size_t max_text, am_prov_result *r, seen *s)
{
	am_prov_stream st;
	am_err err;
	am_bbuf_init(&s->text, (size_t)64 << 20);
	am_prov_stream_init(&st, max_event, max_text, on_text, s);
	for (size_t off = 0; off < len;) {
		size_t n = len - off < chunk ? len - off : chunk;
		err.msg[0] = '\0';
		if (am_prov_stream_feed(&st, body + off, n, &err) != 0) {
			FUZZ_CHECK(err.msg[0] != '\0');
			FUZZ_CHECK(st.errored);
			break;
		}
		off += n;
	}
	am_prov_result_init(r);
	r->http_status = 200;
	am_prov_stream_finish(&st, r);
	am_prov_stream_free(&st);
	check_result(r);
	FUZZ_CHECK(r->stream && r->text);
	/* What went out live is exactly the answer. */
	FUZZ_CHECK(s->text.len == r->text_len && !memcmp(am_bbuf_str(&s->text), r->text,
	                                                  r->text_len));
	FUZZ_CHECK(r->text_len <= (max_text ? max_text : (size_t)8 << 20));
	if (r->err == AM_PERR_NONE)
		FUZZ_CHECK(r->usage_final && r->has_usage);
	else
		FUZZ_CHECK(r->err == AM_PERR_MIDSTREAM || r->err == AM_PERR_TRUNCATED ||
		           r->err == AM_PERR_PROTOCOL || r->err == AM_PERR_RESPONSE_TOO_BIG);
}

static void same_result(const am_prov_result *a, const am_prov_result *b)
{
	FUZZ_CHECK(a->err == b->err && a->retryable == b->retryable);
	FUZZ_CHECK(!strcmp(a->message, b->message) && !strcmp(a->error_type, b->error_type));
	FUZZ_CHECK(!strcmp(a->id, b->id) && !strcmp(a->model, b->model));
	FUZZ_CHECK(!strcmp(a->stop_reason, b->stop_reason));
	FUZZ_CHECK(!strcmp(a->stop_sequence, b->stop_sequence));
	FUZZ_CHECK(!strcmp(a->service_tier, b->service_tier));
	FUZZ_CHECK(a->has_usage == b->has_usage && a->usage_final == b->usage_final);
	FUZZ_CHECK(!memcmp(&a->usage, &b->usage, sizeof a->usage));
	FUZZ_CHECK(a->usage_suspect == b->usage_suspect && !strcmp(a->usage_why, b->usage_why));
	FUZZ_CHECK(a->missing_message_stop == b->missing_message_stop);
	FUZZ_CHECK(a->text_len == b->text_len && !memcmp(a->text, b->text, a->text_len));
}

static void fuzz_stream(const char *body, size_t len, size_t chunk, size_t max_event,
                        size_t max_text)
{
	am_prov_result whole, cut;
	seen sw, sc;
	stream_run(body, len, len ? len : 1, max_event, max_text, &whole, &sw);
	stream_run(body, len, chunk, max_event, max_text, &cut, &sc);
	same_result(&whole, &cut);
	am_prov_result_free(&whole);
	am_prov_result_free(&cut);
	am_bbuf_free(&sw.text);
	am_bbuf_free(&sc.text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t max_events[4] = { 0, 64, 512, 4096 };
	static const size_t max_texts[4] = { 0, 1, 16, 256 };
	fuzz_in in = { data, size };
	unsigned a = fuzz_byte(&in), b = fuzz_byte(&in);
	int status = statuses[a & 15];
	int should_retry = (int)((a >> 4) & 3) - 1;
	if (should_retry > 1)
		should_retry = -1;
	am_prov_endpoint ep = (a & 0x40) ? AM_PROV_COUNT_TOKENS : AM_PROV_MESSAGES;
	const char *body = (const char *)in.p;

	fuzz_complete(body, in.n, status, should_retry, ep);
	fuzz_stream(body, in.n, 1 + (b >> 4), max_events[b & 3], max_texts[(b >> 2) & 3]);
	return 0;
}
