/* test_fuzz_regress: what the libFuzzer targets (tests/fuzz) found, kept as
 * plain Check tests so every ASan and TSan run repeats them. Each test is
 * the smallest form of one finding; the comment says what went wrong. */
#include <check.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anthropic.h"
#include "batchio.h"
#include "litellm.h"
#include "pricing.h"
#include "check_run.h"
#include "tmpdir.h"

/* Well-formed UTF-8 (no overlongs, surrogates or stray bytes). */
static int utf8_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		unsigned c = *p++, n = c < 0x80 ? 0 : c >= 0xC2 && c <= 0xDF ? 1
		                                 : (c & 0xF0) == 0xE0          ? 2
		                                 : c >= 0xF0 && c <= 0xF4      ? 3
		                                                               : 9;
		if (n == 9)
			return 0;
		for (unsigned i = 0; i < n; i++, p++)
			if ((*p & 0xC0) != 0x80)
				return 0;
	}
	return 1;
}

static void stream_text(const char *text, am_prov_result *r)
{
	am_prov_stream s;
	am_prov_stream_init(&s, 0, 0, NULL, NULL);
	am_prov_stream_feed(&s, text, strlen(text), NULL);
	am_prov_result_init(r);
	am_prov_stream_finish(&s, r);
	am_prov_stream_free(&s);
}

/* A stream whose message_start was lost ended "successfully" with no model
 * and no usage: a $0 answer of unknown model in the ledger. */
START_TEST(stream_without_message_start_is_protocol_error)
{
	am_prov_result r;
	stream_text("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n", &r);
	ck_assert_int_eq(r.err, AM_PERR_PROTOCOL);
	ck_assert(!r.retryable);
	am_prov_result_free(&r);

	stream_text("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":"
	            "{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":5}}\n\n",
	            &r);
	ck_assert_int_eq(r.err, AM_PERR_PROTOCOL);
	am_prov_result_free(&r);
}
END_TEST

/* An `error` event with an empty message left the failed result without
 * any message for the user. */
START_TEST(midstream_error_always_says_something)
{
	am_prov_result r;
	stream_text("event: error\ndata: {\"type\": \"error\", \"error\": {\"type\": "
	            "\"overloaded_error\", \"message\": \"\"}}\n\n",
	            &r);
	ck_assert_int_eq(r.err, AM_PERR_MIDSTREAM);
	ck_assert_str_eq(r.error_type, "overloaded_error");
	ck_assert_str_eq(r.message, "error event in the stream");
	am_prov_result_free(&r);
}
END_TEST

/* jansson's error text quotes the input up to the bad byte, which can end
 * inside a UTF-8 character ("invalid escape near '"\<C3>'"): the message
 * reached the result, the ledger and JSON output as invalid UTF-8. */
START_TEST(result_messages_are_utf8)
{
	am_prov_result r;
	stream_text("event: content_block_delta\ndata: {\"x\":\"\\\xC3\xA9\"}\n\n", &r);
	ck_assert_int_eq(r.err, AM_PERR_PROTOCOL);
	ck_assert_ptr_nonnull(strstr(r.message, "content_block_delta"));
	ck_assert(utf8_ok(r.message));
	am_prov_result_free(&r);

	am_prov_headers h;
	am_prov_headers_init(&h);
	am_prov_headers_line(&h, "request-id: req_\xFF\xC3\r\n", 20);
	ck_assert_str_eq(h.request_id, "req_??");
	const char *cut = "{\"a\":\"\\\xE2\x82\xAC\"}";
	am_prov_result_init(&r);
	am_prov_finish_response(AM_PROV_MESSAGES, 200, cut, strlen(cut), -1, &r);
	ck_assert_int_eq(r.err, AM_PERR_PROTOCOL);
	ck_assert(utf8_ok(r.message));
	am_prov_result_free(&r);
	/* Text that is UTF-8 passes unchanged. */
	const char *body = "{\"error\":{\"type\":\"api_error\",\"message\":\"caf\\u00e9 \xE2\x82\xAC\"}}";
	am_prov_result_init(&r);
	am_prov_finish_response(AM_PROV_MESSAGES, 500, body, strlen(body), -1, &r);
	ck_assert_str_eq(r.message, "caf\xC3\xA9 \xE2\x82\xAC");
	am_prov_result_free(&r);
}
END_TEST

/* A cache_creation breakdown without a total summed the two counts in
 * int64: signed overflow (undefined behaviour) on hostile numbers. Such a
 * count is now out of bounds: read as 0, and the usage is suspect. */
START_TEST(cache_breakdown_sum_saturates)
{
	const char *body = "{\"type\":\"message\",\"content\":[],\"usage\":{\"cache_creation\":"
	                   "{\"ephemeral_5m_input_tokens\":9223372036854775807,"
	                   "\"ephemeral_1h_input_tokens\":1}}}";
	am_prov_result r;
	am_prov_result_init(&r);
	am_prov_finish_response(AM_PROV_MESSAGES, 200, body, strlen(body), -1, &r);
	ck_assert_int_eq(r.err, AM_PERR_NONE);
	ck_assert_int_eq(r.usage.cache_write_1h, 1);
	ck_assert_int_eq(r.usage.cache_write_5m, 0);
	ck_assert(r.usage_suspect);
	ck_assert_str_eq(r.usage_why, "ephemeral_5m_input_tokens is out of bounds");
	am_prov_result_free(&r);
}
END_TEST

/* retry-after as an HTTP-date minus a Date centuries earlier overflowed
 * int64 nanoseconds (both parse: the range is 1678..2262). */
START_TEST(retry_after_date_difference_cannot_overflow)
{
	am_prov_headers h;
	am_prov_headers_init(&h);
	const char *date = "Date: Sun, 01 Jan 1678 00:00:00 GMT\r\n";
	const char *ra = "retry-after: Fri, 31 Dec 2261 00:00:00 GMT\r\n";
	am_prov_headers_line(&h, date, strlen(date));
	am_prov_headers_line(&h, ra, strlen(ra));
	ck_assert(h.rl.has_date && h.has_retry_after_date);
	am_prov_headers_finish(&h, 0);
	ck_assert(!h.rl.has_retry_after);
	ck_assert_int_eq(h.rl.retry_after_ns, 0);
}
END_TEST

static const char *shipped(void)
{
	static char path[4096];
	const char *src = getenv("AIMETER_SOURCE_DIR");
	snprintf(path, sizeof path, "%s/data/pricing.json", src ? src : AIMETER_SOURCE_DIR);
	return path;
}

/* The LiteLLM import accepted empty ids, ids with spaces and dates like
 * 2025-13-40, which the table refuses: writing the override then failed as
 * a whole ("the merged override would not load"). */
START_TEST(litellm_import_only_takes_what_the_table_holds)
{
	char dir[512], in[600], ov[600];
	ck_assert_int_eq(am_test_tmpdir("fuzzregress", dir, sizeof dir), 0);
	snprintf(in, sizeof in, "%s/litellm.json", dir);
	snprintf(ov, sizeof ov, "%s/override.json", dir);
	FILE *f = fopen(in, "w");
	ck_assert_ptr_nonnull(f);
	fputs("{\"claude x\": {\"litellm_provider\": \"anthropic\", \"input_cost_per_token\": 1e-06,"
	      " \"output_cost_per_token\": 5e-06},"
	      " \"\": {\"litellm_provider\": \"anthropic\", \"input_cost_per_token\": 1e-06,"
	      " \"output_cost_per_token\": 5e-06},"
	      " \"claude-new-1\": {\"litellm_provider\": \"anthropic\", \"input_cost_per_token\": 1e-06,"
	      " \"output_cost_per_token\": 5e-06, \"deprecation_date\": \"2025-13-40\"}}",
	      f);
	fclose(f);
	am_pricing *t;
	am_err err;
	ck_assert_msg(am_pricing_load(&t, shipped(), NULL, &err) == 0, "%s", err.msg);
	am_litellm_result r;
	ck_assert_msg(am_litellm_import(t, in, &r, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(r.n, 3);
	ck_assert_str_eq(r.items[0].model, "");
	ck_assert_int_eq(r.items[0].status, AM_LITELLM_SKIPPED);
	ck_assert_str_eq(r.items[1].model, "claude x");
	ck_assert_int_eq(r.items[1].status, AM_LITELLM_SKIPPED);
	ck_assert_int_eq(r.items[2].status, AM_LITELLM_ADDED);
	ck_assert_str_eq(r.items[2].price.deprecation_date, "");
	ck_assert_ptr_nonnull(strstr(r.items[2].warning, "deprecation_date"));
	ck_assert_msg(am_litellm_write_override(t, &r, ov, &err) == 0, "%s", err.msg);
	am_litellm_result_free(&r);
	am_pricing *back;
	ck_assert_msg(am_pricing_load(&back, shipped(), ov, &err) == 0, "%s", err.msg);
	ck_assert_ptr_nonnull(am_pricing_lookup(back, "claude-new-1"));
	am_pricing_free(back);
	am_pricing_free(t);
	am_test_rmtree(dir);
}
END_TEST

/* A bad batch line whose JSON error quoted half a UTF-8 character produced
 * a result line without its "error" member: json_string() refused it. */
START_TEST(batch_result_line_keeps_a_non_utf8_error)
{
	const char *line = "{\"prompt\":\"\\\xC3\xA9\"}";
	am_batch_line l;
	am_err err;
	ck_assert_int_eq(am_batch_parse_line(line, strlen(line), 3, &l, &err), -1);
	am_batch_result r = { .id = "3", .status = AM_BATCH_FAILED, .error = err.msg };
	char *s = am_batch_format_result(&r);
	json_t *o = json_loads(s, 0, NULL);
	ck_assert_ptr_nonnull(o);
	const char *e = json_string_value(json_object_get(o, "error"));
	ck_assert_ptr_nonnull(e);
	ck_assert_ptr_nonnull(strstr(e, "not valid JSON"));
	json_decref(o);
	free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fuzz_regress");
	TCase *tc = tcase_create("findings");
	tcase_add_test(tc, stream_without_message_start_is_protocol_error);
	tcase_add_test(tc, midstream_error_always_says_something);
	tcase_add_test(tc, result_messages_are_utf8);
	tcase_add_test(tc, cache_breakdown_sum_saturates);
	tcase_add_test(tc, retry_after_date_difference_cannot_overflow);
	tcase_add_test(tc, litellm_import_only_takes_what_the_table_holds);
	tcase_add_test(tc, batch_result_line_keeps_a_non_utf8_error);
	suite_add_tcase(s, tc);
	return check_run(s);
}
