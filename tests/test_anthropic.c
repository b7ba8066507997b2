/* test_anthropic: the pure provider layer - fixtures in tests/fixtures/anthropic (one
 * file per case, found by listing the directory), request bodies, error
 * classes and retry decisions, rate-limit headers, retry-after variants,
 * RFC 3339 and HTTP-date parsing, and the backoff bounds. */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "anthropic.h"
#include "fixture_files.h"
#include "prov_case.h"
#include "check_run.h"

#define NS 1000000000LL
#define MS 1000000LL

/* ---- fixtures -------------------------------------------------------------- */

static size_t run_dir_cases(const char *suffix)
{
	const char *dir = am_test_fixture_dir("anthropic");
	size_t n;
	char **names = am_test_list_dir(dir, suffix, &n);
	for (size_t i = 0; i < n; i++) {
		am_test_case c;
		am_prov_result r;
		am_test_case_load(&c, dir, names[i]);
		am_test_case_run(&c, 0, &r);
		am_test_case_check(&c, &r);
		am_prov_result_free(&r);
		am_test_case_free(&c);
	}
	am_test_free_list(names);
	return n;
}

START_TEST(fixtures_json)
{
	/* 3 messages + 2 malformed + count_tokens + 17 error bodies. */
	ck_assert_uint_ge(run_dir_cases(".json"), 20);
}
END_TEST

START_TEST(fixtures_sse)
{
	ck_assert_uint_ge(run_dir_cases(".sse"), 6);
}
END_TEST

START_TEST(every_fixture_has_expectations)
{
	const char *dir = am_test_fixture_dir("anthropic");
	size_t n;
	char **wants = am_test_list_dir(dir, ".want", &n);
	for (size_t i = 0; i < n; i++) {
		char path[4096];
		size_t l = strlen(wants[i]) - 5;
		snprintf(path, sizeof path, "%s/%.*s.json", dir, (int)l, wants[i]);
		bool json = am_test_file_exists(path);
		snprintf(path, sizeof path, "%s/%.*s.sse", dir, (int)l, wants[i]);
		ck_assert_msg(json != am_test_file_exists(path), "%s: needs one body file",
		              wants[i]);
	}
	am_test_free_list(wants);
}
END_TEST

/* The headline numbers of the reference example, spelled out. */
START_TEST(reference_usage_2095_503_2051_2051)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/message_full_reference.json",
	         am_test_fixture_dir("anthropic"));
	size_t len;
	char *body = am_test_read_file(path, &len);
	ck_assert_ptr_nonnull(body);
	am_prov_result r;
	am_prov_result_init(&r);
	ck_assert_int_eq(am_prov_parse_message(body, len, &r, NULL, NULL), 0);
	ck_assert_int_eq(r.usage.input_tokens, 2095);
	ck_assert_int_eq(r.usage.output_tokens, 503);
	ck_assert_int_eq(r.usage.cache_write_5m + r.usage.cache_write_1h, 2051);
	ck_assert_int_eq(r.usage.cache_read, 2051);
	ck_assert_int_eq(am_usage_total_input(&r.usage), 2095 + 2051 + 2051);
	am_prov_result_free(&r);
	free(body);
}
END_TEST

/* ---- request bodies ----------------------------------------------------------- */

static json_t *build(const am_prov_request *rq, am_prov_endpoint ep)
{
	char *body = NULL;
	am_err err;
	ck_assert_msg(am_prov_build_body(rq, ep, &body, NULL, &err) == 0, "%s", err.msg);
	json_t *j = json_loads(body, 0, NULL);
	ck_assert_ptr_nonnull(j);
	free(body);
	return j;
}

START_TEST(body_documented_request)
{
	/* The documented example request, with every field the brief names. */
	am_prov_message msg = {.role = "user", .text = "Hello, Claude"};
	const char *stops[] = {"\n\nEND"};
	am_prov_request rq = {
	    .model = "claude-sonnet-4-5-20250929",
	    .max_tokens = 1024,
	    .system = "You are a terse assistant.",
	    .messages = &msg,
	    .nmessages = 1,
	    .has_temperature = true,
	    .temperature = 0.2,
	    .stop_sequences = stops,
	    .nstop_sequences = 1,
	    .metadata_user_id = "8f14e45f-ceea-4670-a2b4-5b2bb3f0c1a2",
	};
	char *body;
	ck_assert_int_eq(am_prov_build_body(&rq, AM_PROV_MESSAGES, &body, NULL, NULL), 0);
	ck_assert_str_eq(body, "{\"model\":\"claude-sonnet-4-5-20250929\",\"max_tokens\":1024,"
	                       "\"system\":\"You are a terse assistant.\",\"messages\":[{\"role\":"
	                       "\"user\",\"content\":\"Hello, Claude\"}],\"temperature\":0.2,"
	                       "\"stop_sequences\":[\"\\n\\nEND\"],\"metadata\":{\"user_id\":"
	                       "\"8f14e45f-ceea-4670-a2b4-5b2bb3f0c1a2\"}}");
	free(body);
	rq.stream = true;
	json_t *j = build(&rq, AM_PROV_MESSAGES);
	ck_assert(json_is_true(json_object_get(j, "stream")));
	json_decref(j);
}
END_TEST

START_TEST(body_multi_turn_cache_blocks_passthrough)
{
	am_prov_block sys[] = {{"Long shared context.", AM_PROV_CACHE_1H},
	                       {"Rules.", AM_PROV_CACHE_5M},
	                       {"Plain.", AM_PROV_CACHE_NONE}};
	am_prov_block ublk[] = {{"document", AM_PROV_CACHE_5M}};
	am_prov_message msgs[] = {
	    {.role = "user", .blocks = ublk, .nblocks = 1},
	    {.role = "assistant", .text = "Noted."},
	    {.role = "user",
	     .content_json = "[{\"type\":\"tool_result\",\"tool_use_id\":\"t1\","
	                     "\"content\":\"42\"}]"},
	};
	am_prov_request rq = {
	    .model = "claude-haiku-4-5",
	    .max_tokens = 0,
	    .messages = msgs,
	    .nmessages = 3,
	    .system_blocks = sys,
	    .nsystem_blocks = 3,
	    .has_top_k = true,
	    .top_k = 5,
	    .has_top_p = true,
	    .top_p = 0.99,
	    .tools_json = "[{\"name\":\"get_weather\",\"input_schema\":{\"type\":\"object\"}}]",
	    .tool_choice_json = "{\"type\":\"auto\"}",
	    .extra_json = "{\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":1024},"
	                  "\"service_tier\":\"auto\",\"model\":\"ignored\"}",
	};
	json_t *j = build(&rq, AM_PROV_MESSAGES);
	ck_assert_str_eq(json_string_value(json_object_get(j, "model")), "claude-haiku-4-5");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "max_tokens")), 0);
	json_t *s = json_object_get(j, "system");
	ck_assert_uint_eq(json_array_size(s), 3);
	json_t *cc0 = json_object_get(json_array_get(s, 0), "cache_control");
	ck_assert_str_eq(json_string_value(json_object_get(cc0, "type")), "ephemeral");
	ck_assert_str_eq(json_string_value(json_object_get(cc0, "ttl")), "1h");
	json_t *cc1 = json_object_get(json_array_get(s, 1), "cache_control");
	ck_assert_ptr_null(json_object_get(cc1, "ttl"));
	ck_assert_ptr_null(json_object_get(json_array_get(s, 2), "cache_control"));
	json_t *m = json_object_get(j, "messages");
	ck_assert_uint_eq(json_array_size(m), 3);
	json_t *c0 = json_object_get(json_array_get(m, 0), "content");
	ck_assert(json_is_array(c0));
	ck_assert_ptr_nonnull(json_object_get(json_array_get(c0, 0), "cache_control"));
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(m, 1), "content")),
	                 "Noted.");
	json_t *c2 = json_object_get(json_array_get(m, 2), "content");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(c2, 0), "type")),
	                 "tool_result");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "top_k")), 5);
	ck_assert(json_real_value(json_object_get(j, "top_p")) == 0.99);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "tools")), 1);
	ck_assert_ptr_nonnull(json_object_get(j, "tool_choice"));
	ck_assert_ptr_nonnull(json_object_get(j, "thinking"));
	ck_assert_str_eq(json_string_value(json_object_get(j, "service_tier")), "auto");
	ck_assert_ptr_null(json_object_get(j, "stream"));
	json_decref(j);

	/* count_tokens takes no max_tokens, sampling, metadata, stream or tier. */
	rq.stream = true;
	rq.has_temperature = true;
	rq.metadata_user_id = "u";
	j = build(&rq, AM_PROV_COUNT_TOKENS);
	ck_assert_ptr_null(json_object_get(j, "max_tokens"));
	ck_assert_ptr_null(json_object_get(j, "stream"));
	ck_assert_ptr_null(json_object_get(j, "temperature"));
	ck_assert_ptr_null(json_object_get(j, "top_k"));
	ck_assert_ptr_null(json_object_get(j, "metadata"));
	ck_assert_ptr_null(json_object_get(j, "service_tier"));
	ck_assert_ptr_nonnull(json_object_get(j, "thinking"));
	ck_assert_ptr_nonnull(json_object_get(j, "tools"));
	ck_assert_uint_eq(json_array_size(json_object_get(j, "system")), 3);
	json_decref(j);
	ck_assert_str_eq(am_prov_endpoint_path(AM_PROV_COUNT_TOKENS), "/v1/messages/count_tokens");
	ck_assert_str_eq(am_prov_endpoint_path(AM_PROV_MESSAGES), "/v1/messages");
}
END_TEST

START_TEST(body_deterministic)
{
	am_prov_message msg = {.role = "user", .text = "same"};
	am_prov_request rq = {.model = "m",
	                      .max_tokens = 7,
	                      .messages = &msg,
	                      .nmessages = 1,
	                      .has_temperature = true,
	                      .temperature = 0.7};
	char *a, *b;
	size_t la, lb;
	ck_assert_int_eq(am_prov_build_body(&rq, AM_PROV_MESSAGES, &a, &la, NULL), 0);
	ck_assert_int_eq(am_prov_build_body(&rq, AM_PROV_MESSAGES, &b, &lb, NULL), 0);
	ck_assert_uint_eq(la, strlen(a));
	ck_assert_str_eq(a, b);
	ck_assert_ptr_nonnull(strstr(a, "\"temperature\":0.7"));
	free(a);
	free(b);
}
END_TEST

START_TEST(body_errors)
{
	am_prov_message ok = {.role = "user", .text = "hi"};
	am_prov_message bad_role = {.role = "system", .text = "hi"};
	am_prov_message empty = {.role = "user"};
	am_prov_message bad_utf8 = {.role = "user", .text = "\xff\xfe"};
	am_prov_message bad_json = {.role = "user", .content_json = "[{"};
	const am_prov_request cases[] = {
	    {.model = NULL, .max_tokens = 1, .messages = &ok, .nmessages = 1},
	    {.model = "", .max_tokens = 1, .messages = &ok, .nmessages = 1},
	    {.model = "m", .max_tokens = 1, .messages = NULL, .nmessages = 0},
	    {.model = "m", .max_tokens = -1, .messages = &ok, .nmessages = 1},
	    {.model = "m", .max_tokens = 1, .messages = &bad_role, .nmessages = 1},
	    {.model = "m", .max_tokens = 1, .messages = &empty, .nmessages = 1},
	    {.model = "m", .max_tokens = 1, .messages = &bad_utf8, .nmessages = 1},
	    {.model = "m", .max_tokens = 1, .messages = &bad_json, .nmessages = 1},
	    {.model = "m", .max_tokens = 1, .messages = &ok, .nmessages = 1, .tools_json = "{"},
	    {.model = "m", .max_tokens = 1, .messages = &ok, .nmessages = 1, .extra_json = "[]"},
	    {.model = "m", .max_tokens = 1, .messages = &ok, .nmessages = 1, .system = "\xc3"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *out = (char *)1;
		am_err err = {0};
		ck_assert_int_eq(am_prov_build_body(&cases[i], AM_PROV_MESSAGES, &out, NULL, &err),
		                 -1);
		ck_assert_ptr_null(out);
		ck_assert_msg(err.msg[0] != '\0', "case %zu has no message", i);
	}
}
END_TEST

/* ---- error classes ----------------------------------------------------------- */

static am_prov_result classify(int status, const char *body, int should_retry)
{
	am_prov_result r;
	am_prov_result_init(&r);
	am_prov_classify_http(status, body, body ? strlen(body) : 0, should_retry, &r);
	return r;
}

START_TEST(classify_every_status)
{
	static const struct {
		int status;
		am_prov_errkind kind;
		bool retry;
	} t[] = {
	    {400, AM_PERR_INVALID_REQUEST, false}, {401, AM_PERR_AUTH, false},
	    {402, AM_PERR_BILLING, false},         {403, AM_PERR_PERMISSION, false},
	    {404, AM_PERR_NOT_FOUND, false},       {408, AM_PERR_TIMEOUT, true},
	    {409, AM_PERR_CONFLICT, true},         {413, AM_PERR_TOO_LARGE, false},
	    {422, AM_PERR_CLIENT, false},          {429, AM_PERR_RATE_LIMIT, true},
	    {500, AM_PERR_SERVER, true},           {502, AM_PERR_SERVER, true},
	    {503, AM_PERR_SERVER, true},           {504, AM_PERR_SERVER, true},
	    {529, AM_PERR_OVERLOADED, true},       {301, AM_PERR_CLIENT, false},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		/* An HTML page from a proxy or no body at all: the status decides. */
		const char *bodies[] = {NULL, "<html>bad gateway</html>", "{}"};
		for (int b = 0; b < 3; b++) {
			am_prov_result r = classify(t[i].status, bodies[b], -1);
			ck_assert_msg(r.err == t[i].kind, "%d -> %s", t[i].status,
			              am_prov_errkind_name(r.err));
			ck_assert_int_eq(r.retryable, t[i].retry);
			ck_assert_int_eq(r.http_status, t[i].status);
			ck_assert_ptr_nonnull(strstr(r.message, "HTTP"));
		}
	}
}
END_TEST

START_TEST(classify_spend_limits_are_final)
{
	/* Without details, the documented wording still marks the tier cap. */
	am_prov_result r = classify(429,
	                            "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\","
	                            "\"message\":\"You have reached your API usage limits: x\"}}",
	                            1);
	ck_assert_int_eq(r.err, AM_PERR_SPEND_LIMIT);
	ck_assert(!r.retryable);
	/* details alone are enough too. */
	r = classify(429,
	             "{\"error\":{\"type\":\"rate_limit_error\",\"message\":\"m\","
	             "\"details\":{\"error_code\":\"enforced_spend_limit_reached\"}}}",
	             -1);
	ck_assert_int_eq(r.err, AM_PERR_SPEND_LIMIT);
	/* The user-set limit is a 400; the same words on another status are not. */
	r = classify(400,
	             "{\"error\":{\"type\":\"invalid_request_error\",\"message\":"
	             "\"You have reached your specified API usage limits.\"}}",
	             1);
	ck_assert_int_eq(r.err, AM_PERR_USER_SPEND_LIMIT);
	ck_assert(!r.retryable);
	r = classify(500,
	             "{\"error\":{\"type\":\"api_error\",\"message\":"
	             "\"You have reached your specified API usage limits.\"}}",
	             -1);
	ck_assert_int_eq(r.err, AM_PERR_SERVER);
	/* A plain rate limit stays retryable. */
	r = classify(429,
	             "{\"error\":{\"type\":\"rate_limit_error\",\"message\":\"Rate limited\"},"
	             "\"request_id\":\"req_1\"}",
	             -1);
	ck_assert_int_eq(r.err, AM_PERR_RATE_LIMIT);
	ck_assert(r.retryable);
	ck_assert_str_eq(r.request_id, "req_1");
	ck_assert_str_eq(r.message, "Rate limited");
}
END_TEST

START_TEST(classify_keeps_header_request_id_and_truncates_utf8)
{
	am_prov_result r;
	am_prov_result_init(&r);
	strcpy(r.request_id, "req_header");
	/* A long message of 3-byte characters must be cut on a character boundary. */
	char body[4096] = "{\"error\":{\"type\":\"api_error\",\"message\":\"";
	for (int i = 0; i < 300; i++)
		strcat(body, "\xe2\x82\xac");
	strcat(body, "\"},\"request_id\":\"req_body\"}");
	am_prov_classify_http(500, body, strlen(body), -1, &r);
	ck_assert_str_eq(r.request_id, "req_header");
	size_t n = strlen(r.message);
	ck_assert_uint_gt(n, 200);
	ck_assert_uint_lt(n, sizeof r.message);
	ck_assert_uint_eq(n % 3, 0);
}
END_TEST

START_TEST(errkind_names_and_retryability)
{
	int retryable = 0;
	for (int k = 0; k < AM_PERR_COUNT_; k++) {
		const char *name = am_prov_errkind_name((am_prov_errkind)k);
		ck_assert_ptr_nonnull(name);
		ck_assert_str_ne(name, "unknown");
		for (int j = 0; j < k; j++)
			ck_assert_str_ne(name, am_prov_errkind_name((am_prov_errkind)j));
		retryable += am_prov_errkind_retryable((am_prov_errkind)k);
	}
	ck_assert_int_eq(retryable, 8);
	ck_assert(!am_prov_errkind_retryable(AM_PERR_NONE));
	ck_assert(!am_prov_errkind_retryable(AM_PERR_CANCELLED));
	ck_assert(am_prov_errkind_retryable(AM_PERR_MIDSTREAM));
	ck_assert(am_prov_errkind_retryable(AM_PERR_TRUNCATED));
	ck_assert_str_eq(am_prov_errkind_name(AM_PERR_COUNT_), "unknown");
	for (int k = 0; k < AM_PERR_COUNT_; k++) {
		const char *label = am_prov_errkind_label((am_prov_errkind)k);
		ck_assert_str_ne(label, "unknown error");
		for (int j = 0; j < k; j++)
			ck_assert_str_ne(label, am_prov_errkind_label((am_prov_errkind)j));
	}
}
END_TEST

START_TEST(describe_says_what_failed)
{
	am_prov_result r = classify(401,
	                            "{\"type\":\"error\",\"error\":{\"type\":"
	                            "\"authentication_error\",\"message\":\"invalid x-api-key\"},"
	                            "\"request_id\":\"req_9\"}",
	                            -1);
	char line[256];
	am_prov_describe(&r, line, sizeof line);
	ck_assert_str_eq(line,
	                 "authentication failed: invalid x-api-key (HTTP 401, request-id req_9)");
	r = classify(400,
	             "{\"error\":{\"message\":\"You have reached your specified API usage "
	             "limits.\"}}",
	             -1);
	am_prov_describe(&r, line, sizeof line);
	ck_assert_str_eq(line, "spend limit reached (your limit): You have reached your specified "
	                       "API usage limits. (HTTP 400)");
	am_prov_result_init(&r);
	am_prov_result_fail(&r, AM_PERR_NETWORK, "Couldn't connect to server");
	am_prov_describe(&r, line, sizeof line);
	ck_assert_str_eq(line, "network error: Couldn't connect to server");
	ck_assert_int_eq(am_prov_describe(&r, line, 8),
	                 (int)strlen("network error: Couldn't connect to server"));
	ck_assert_str_eq(line, "network");
}
END_TEST

/* ---- stream accumulator details ----------------------------------------------- */

struct texts {
	char buf[256];
	int calls;
};

static void collect(void *ctx, const char *t, size_t n)
{
	struct texts *x = ctx;
	strncat(x->buf, t, n);
	x->calls++;
}

static void feed_all(am_prov_stream *s, const char *text)
{
	ck_assert_int_eq(am_prov_stream_feed(s, text, strlen(text), NULL), 0);
}

START_TEST(stream_delta_overrides_and_cache_breakdown)
{
	struct texts x = {"", 0};
	am_prov_stream s;
	am_prov_stream_init(&s, 0, 0, collect, &x);
	feed_all(
	    &s,
	    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m1\","
	    "\"model\":\"claude-sonnet-4-5-20250929\",\"usage\":{\"input_tokens\":10,"
	    "\"cache_creation_input_tokens\":300,\"cache_read_input_tokens\":0,"
	    "\"cache_creation\":{\"ephemeral_5m_input_tokens\":100,"
	    "\"ephemeral_1h_input_tokens\":200},\"output_tokens\":1}}}\n\n"
	    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
	    "\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"hmm\"}}\n\n"
	    "event: brand_new_event\ndata: {\"whatever\":true}\n\n"
	    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,"
	    "\"delta\":{\"type\":\"text_delta\",\"text\":\"A\"}}\n\n"
	    "data: {\"type\":\"content_block_delta\",\"index\":1,"
	    "\"delta\":{\"type\":\"text_delta\",\"text\":\"B\"}}\n\n"
	    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
	    "\"stop_sequence\",\"stop_sequence\":\"END\"},\"usage\":{\"output_tokens\":7,"
	    "\"input_tokens\":12,\"cache_read_input_tokens\":5}}\n\n"
	    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
	    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,"
	    "\"delta\":{\"type\":\"text_delta\",\"text\":\"late\"}}\n\n");
	am_prov_result r;
	am_prov_result_init(&r);
	am_prov_stream_finish(&s, &r);
	ck_assert_int_eq(r.err, AM_PERR_NONE);
	ck_assert_str_eq(x.buf, "AB");
	ck_assert_int_eq(x.calls, 2);
	ck_assert_str_eq(r.text, "AB");
	ck_assert_int_eq(r.usage.input_tokens, 12);
	ck_assert_int_eq(r.usage.output_tokens, 7);
	ck_assert_int_eq(r.usage.cache_write_5m, 100);
	ck_assert_int_eq(r.usage.cache_write_1h, 200);
	ck_assert_int_eq(r.usage.cache_read, 5);
	ck_assert_str_eq(r.stop_reason, "stop_sequence");
	ck_assert_str_eq(r.stop_sequence, "END");
	ck_assert_uint_eq(s.unknown_events, 1);
	ck_assert(r.stream);
	am_prov_result_free(&r);
	am_prov_stream_free(&s);
}
END_TEST

/* What was served and billed beyond tokens, from a plain answer. */
START_TEST(usage_served_fields_plain)
{
	const char *body =
	    "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":"
	    "\"claude-opus-5-5\",\"content\":[{\"type\":\"server_tool_use\",\"id\":\"srvtoolu_1\","
	    "\"name\":\"web_search\",\"input\":{\"query\":\"q\"}},{\"type\":\"text\",\"text\":\"hi\"}],"
	    "\"stop_reason\":\"end_turn\",\"usage\":{\"input_tokens\":11,\"output_tokens\":36,"
	    "\"server_tool_use\":{\"web_search_requests\":3,\"web_fetch_requests\":1,"
	    "\"code_execution_requests\":2},\"service_tier\":\"standard\",\"inference_geo\":\"us\","
	    "\"speed\":\"fast\"}}";
	am_prov_result r;
	am_prov_result_init(&r);
	ck_assert_int_eq(am_prov_parse_message(body, strlen(body), &r, NULL, NULL), 0);
	ck_assert_int_eq(r.usage.web_search_requests, 3);
	ck_assert_int_eq(r.usage.web_fetch_requests, 1);
	ck_assert_int_eq(r.usage.code_execution_requests, 2);
	ck_assert_str_eq(r.usage.speed, "fast");
	ck_assert_str_eq(r.usage.inference_geo, "us");
	ck_assert_str_eq(r.usage.service_tier, "standard");
	ck_assert_str_eq(r.text, "hi");
	am_prov_result_free(&r);
	/* a value that is not a plain word is left out, not stored */
	const char *odd = "{\"type\":\"message\",\"content\":[],\"usage\":{\"input_tokens\":1,"
	                  "\"output_tokens\":1,\"speed\":\"FAST\\u001b[2J\",\"inference_geo\":7,"
	                  "\"server_tool_use\":{\"web_search_requests\":-4}}}";
	am_prov_result_init(&r);
	ck_assert_int_eq(am_prov_parse_message(odd, strlen(odd), &r, NULL, NULL), 0);
	ck_assert_str_eq(r.usage.speed, "");
	ck_assert_str_eq(r.usage.inference_geo, "");
	ck_assert_int_eq(r.usage.web_search_requests, 0);
	am_prov_result_free(&r);
}
END_TEST

/* ... and from a stream: message_start says what was served, the
 * cumulative message_delta usage carries the searches. */
START_TEST(usage_served_fields_stream)
{
	am_prov_stream s;
	am_prov_stream_init(&s, 0, 0, NULL, NULL);
	feed_all(&s,
	         "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m1\","
	         "\"model\":\"claude-opus-4-8\",\"usage\":{\"input_tokens\":10,\"output_tokens\":1,"
	         "\"service_tier\":\"standard\",\"inference_geo\":\"us\",\"speed\":\"fast\"}}}\n\n"
	         "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
	         "\"end_turn\"},\"usage\":{\"output_tokens\":40,\"server_tool_use\":"
	         "{\"web_search_requests\":2}}}\n\n"
	         "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
	am_prov_result r;
	am_prov_result_init(&r);
	am_prov_stream_finish(&s, &r);
	ck_assert_int_eq(r.err, AM_PERR_NONE);
	ck_assert_int_eq(r.usage.input_tokens, 10);
	ck_assert_int_eq(r.usage.output_tokens, 40);
	ck_assert_int_eq(r.usage.web_search_requests, 2);
	ck_assert_str_eq(r.usage.speed, "fast");
	ck_assert_str_eq(r.usage.inference_geo, "us");
	ck_assert_str_eq(r.usage.service_tier, "standard");
	am_prov_result_free(&r);
	am_prov_stream_free(&s);
}
END_TEST

/* A NUL in an answer ("\u0000") is kept, as U+2400, in a Message and in a
 * stream: the answer is readable, so its call is recorded, and its text is
 * one C string that no later layer cuts short. */
START_TEST(nul_in_an_answer_is_kept_visible)
{
	const char *msg = "{\"type\":\"message\",\"model\":\"m\",\"content\":[{\"type\":\"text\","
	                  "\"text\":\"a\\u0000b\\u0000\"}],\"stop_reason\":\"end_turn\","
	                  "\"usage\":{\"input_tokens\":3,\"output_tokens\":4}}";
	am_prov_result r;
	am_prov_result_init(&r);
	am_err err = {0};
	ck_assert_msg(am_prov_parse_message(msg, strlen(msg), &r, NULL, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(r.text, "a\xE2\x90\x80" "b\xE2\x90\x80");
	ck_assert_uint_eq(r.text_len, strlen(r.text));
	ck_assert_int_eq(r.usage.output_tokens, 4);
	am_prov_result_free(&r);

	struct texts x = {"", 0};
	am_prov_stream s;
	am_prov_stream_init(&s, 0, 0, collect, &x);
	feed_all(&s, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{"
	             "\"model\":\"m\",\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n"
	             "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
	             "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"\\u0000x\"}}\n\n"
	             "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{"
	             "\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":2}}\n\n"
	             "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
	am_prov_result_init(&r);
	am_prov_stream_finish(&s, &r);
	ck_assert_int_eq(r.err, AM_PERR_NONE);
	ck_assert_str_eq(r.text, "\xE2\x90\x80x");
	ck_assert_str_eq(x.buf, "\xE2\x90\x80x");
	am_prov_result_free(&r);
	am_prov_stream_free(&s);

	/* A delta that passes the size limit once its NUL is spelt out goes in
	 * whole or not at all: the text stays what the observer was given. */
	struct texts y = {"", 0};
	am_prov_stream_init(&s, 0, 3, collect, &y);
	const char *ev = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
	                 "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"a\\u0000\"}}\n\n";
	am_err err2;
	ck_assert_int_eq(am_prov_stream_feed(&s, ev, strlen(ev), &err2), -1);
	am_prov_result_init(&r);
	am_prov_stream_finish(&s, &r);
	ck_assert_int_eq(r.err, AM_PERR_RESPONSE_TOO_BIG);
	ck_assert_str_eq(r.text, "");
	ck_assert_int_eq(y.calls, 0);
	am_prov_result_free(&r);
	am_prov_stream_free(&s);
}
END_TEST

/* What a request asks that the budget must reserve for. */
START_TEST(request_billing_asks)
{
	json_t *b = json_loads("{\"speed\":\"fast\",\"tools\":[{\"type\":\"web_search_20250305\","
	                       "\"name\":\"web_search\",\"max_uses\":3},{\"type\":\"custom\"},"
	                       "{\"type\":\"web_search_20260209\",\"name\":\"web_search\"}]}",
	                       0, NULL);
	bool fast = false;
	int64_t n = -1;
	am_prov_request_billing(b, 10, &fast, &n);
	ck_assert(fast);
	ck_assert_int_eq(n, 13); /* 3, and the default 10 for the tool without max_uses */
	json_decref(b);
	b = json_loads("{\"speed\":\"standard\",\"tools\":\"junk\"}", 0, NULL);
	am_prov_request_billing(b, 10, &fast, &n);
	ck_assert(!fast);
	ck_assert_int_eq(n, 0);
	json_decref(b);
	am_prov_request_billing(NULL, 10, &fast, &n);
	ck_assert(!fast);
	ck_assert_int_eq(n, 0);
}
END_TEST

START_TEST(stream_malformed_known_event_is_protocol_error)
{
	am_prov_stream s;
	am_prov_stream_init(&s, 0, 0, NULL, NULL);
	const char *bad = "event: message_start\ndata: {\"type\": \"message_start\", \n\n";
	am_err err;
	ck_assert_int_eq(am_prov_stream_feed(&s, bad, strlen(bad), &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "message_start"));
	ck_assert_int_eq(am_prov_stream_feed(&s, "x", 1, &err), -1);
	am_prov_result r;
	am_prov_result_init(&r);
	am_prov_stream_finish(&s, &r);
	ck_assert_int_eq(r.err, AM_PERR_PROTOCOL);
	ck_assert(!r.retryable);
	am_prov_result_free(&r);
	am_prov_stream_free(&s);
}
END_TEST

START_TEST(stream_overlong_event_and_text_cap)
{
	am_prov_stream s;
	am_prov_stream_init(&s, 64, 0, NULL, NULL);
	char big[200];
	memset(big, 'x', sizeof big);
	memcpy(big, "data: ", 6);
	am_err err;
	ck_assert_int_eq(am_prov_stream_feed(&s, big, sizeof big, &err), -1);
	am_prov_result r;
	am_prov_result_init(&r);
	am_prov_stream_finish(&s, &r);
	ck_assert_int_eq(r.err, AM_PERR_PROTOCOL);
	am_prov_result_free(&r);
	am_prov_stream_free(&s);

	am_prov_stream_init(&s, 0, 3, NULL, NULL);
	const char *ev = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
	                 "\"delta\":{\"type\":\"text_delta\",\"text\":\"four\"}}\n\n";
	ck_assert_int_eq(am_prov_stream_feed(&s, ev, strlen(ev), &err), -1);
	am_prov_result_init(&r);
	am_prov_stream_finish(&s, &r);
	ck_assert_int_eq(r.err, AM_PERR_RESPONSE_TOO_BIG);
	am_prov_result_free(&r);
	am_prov_stream_free(&s);
}
END_TEST

START_TEST(usage_from_raw_rules)
{
	am_usage u;
	am_prov_raw_usage raw = {
	    .has_input = true, .input = 1, .has_cc = true, .cache_creation = 150};
	am_prov_usage_from_raw(&raw, &u);
	ck_assert_int_eq(u.cache_write_5m, 150); /* no breakdown: all 5m */
	ck_assert_int_eq(u.cache_write_1h, 0);
	raw.has_breakdown = true;
	raw.cc_5m = 100;
	raw.cc_1h = 50;
	am_prov_usage_from_raw(&raw, &u);
	ck_assert_int_eq(u.cache_write_5m, 100);
	ck_assert_int_eq(u.cache_write_1h, 50);
	raw.cc_1h = 500; /* inconsistent: never more than the total */
	am_prov_usage_from_raw(&raw, &u);
	ck_assert_int_eq(u.cache_write_1h, 150);
	ck_assert_int_eq(u.cache_write_5m, 0);
	raw.has_cc = false; /* breakdown only: the total is its sum */
	raw.cc_1h = 50;
	am_prov_usage_from_raw(&raw, &u);
	ck_assert_int_eq(u.cache_write_5m + u.cache_write_1h, 150);
}
END_TEST

START_TEST(count_tokens_parse)
{
	int64_t n = -1;
	bool premature;
	ck_assert_int_eq(
	    am_prov_parse_count_tokens("{ \"input_tokens\": 14 }", 22, &n, &premature, NULL), 0);
	ck_assert_int_eq(n, 14);
	ck_assert_int_eq(
	    am_prov_parse_count_tokens("{ \"input_tokens\": ", 18, &n, &premature, NULL), -1);
	ck_assert(premature);
	ck_assert_int_eq(am_prov_parse_count_tokens("{\"x\":1}", 7, &n, &premature, NULL), -1);
	ck_assert(!premature);
	/* The bounds of every usage figure: the largest passes, one more, a
	 * negative or a float does not. */
	static const char *const bodies[] = { "{\"input_tokens\": 100000000}",
		                              "{\"input_tokens\": 100000001}",
		                              "{\"input_tokens\": 14100000001}",
		                              "{\"input_tokens\": -1}", "{\"input_tokens\": 5.0}" };
	for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
		am_err err;
		n = -1;
		int rc = am_prov_parse_count_tokens(bodies[i], strlen(bodies[i]), &n, &premature, &err);
		ck_assert_msg(rc == (i == 0 ? 0 : -1), "%s", bodies[i]);
		if (i == 0)
			ck_assert_int_eq(n, AM_PROV_MAX_TOKENS);
		else
			ck_assert_msg(strstr(err.msg, "from 0 to 100000000") && n == -1, "%s: %s",
			              bodies[i], err.msg);
	}
}
END_TEST

/* ---- headers --------------------------------------------------------------------- */

static void feed_headers(am_prov_headers *h, const char *const *lines, int64_t now)
{
	am_prov_headers_init(h);
	for (size_t i = 0; lines[i]; i++)
		am_prov_headers_line(h, lines[i], strlen(lines[i]));
	am_prov_headers_finish(h, now);
}

START_TEST(headers_case_status_and_garbage)
{
	const char *lines[] = {
	    "HTTP/1.1 100 Continue\r\n",
	    "request-id: req_old\r\n",
	    "\r\n",
	    "HTTP/2 429 \r\n",
	    "Anthropic-RateLimit-Requests-Limit: 50\r\n",
	    "anthropic-ratelimit-requests-remaining:   0  \r\n",
	    "ANTHROPIC-RATELIMIT-REQUESTS-RESET: 2025-02-24T22:25:30.5+01:00\r\n",
	    "anthropic-ratelimit-tokens-remaining: lots\r\n",
	    "anthropic-ratelimit-tokens-limit: -5\r\n",
	    "anthropic-ratelimit-output-tokens-reset: yesterday\r\n",
	    "anthropic-ratelimit-input-tokens-limitx: 9\r\n",
	    "anthropic-organization-id: 997c7200\r\n",
	    "x-request-id: req_x\r\n",
	    "Request-Id: req_new\r\n",
	    "Content-Type: text/event-stream; charset=utf-8\r\n",
	    "x-should-retry: TRUE\r\n",
	    "no colon here\r\n",
	    NULL,
	};
	am_prov_headers h;
	feed_headers(&h, lines, 0);
	ck_assert_int_eq(h.rl.http_status, 429);
	ck_assert_str_eq(h.request_id, "req_new");
	ck_assert_str_eq(h.content_type, "text/event-stream; charset=utf-8");
	ck_assert_int_eq(h.should_retry, 1);
	const am_rl_bucket_hdr *b = &h.rl.b[AM_RLH_REQUESTS];
	ck_assert(b->present && b->has_limit && b->has_remaining && b->has_reset);
	ck_assert_int_eq(b->limit, 50);
	ck_assert_int_eq(b->remaining, 0);
	ck_assert_int_eq(b->reset_ns, am_test_utc_ns("2025-02-24T21:25:30Z") + 500 * MS);
	for (int d = AM_RLH_TOKENS; d < AM_RLH_COUNT; d++)
		ck_assert_msg(!h.rl.b[d].present, "dimension %d", d);
	ck_assert(!h.rl.has_date);
	ck_assert(!h.rl.has_retry_after);
}
END_TEST

static int64_t retry_after(const char *const *lines, int64_t now, bool *has)
{
	am_prov_headers h;
	feed_headers(&h, lines, now);
	*has = h.rl.has_retry_after;
	return h.rl.retry_after_ns;
}

START_TEST(retry_after_variants)
{
	bool has;
	const char *ms[] = {"retry-after-ms: 1500.5", "retry-after: 9", NULL};
	ck_assert_int_eq(retry_after(ms, 0, &has), 1500500000);
	ck_assert(has);
	const char *ms_bad[] = {"retry-after-ms: soon", "retry-after: 9", NULL};
	ck_assert_int_eq(retry_after(ms_bad, 0, &has), 9 * NS);
	const char *ms_neg[] = {"retry-after-ms: -10", "retry-after: 2", NULL};
	ck_assert_int_eq(retry_after(ms_neg, 0, &has), 2 * NS);
	const char *secs[] = {"retry-after: 17", NULL};
	ck_assert_int_eq(retry_after(secs, 0, &has), 17 * NS);
	const char *fsecs[] = {"retry-after: 1.25", NULL};
	ck_assert_int_eq(retry_after(fsecs, 0, &has), 1250 * MS);
	const char *tiny[] = {"retry-after: 0.0000000019", NULL};
	ck_assert_int_eq(retry_after(tiny, 0, &has), 1);
	const char *date[] = {"Date: Sun, 06 Nov 1994 08:49:37 GMT",
	                      "retry-after: Sun, 06 Nov 1994 08:49:42 GMT", NULL};
	ck_assert_int_eq(retry_after(date, 0, &has), 5 * NS);
	/* Without a Date header the HTTP-date is taken relative to "now". */
	const char *nodate[] = {"retry-after: Sun, 06 Nov 1994 08:49:42 GMT", NULL};
	ck_assert_int_eq(retry_after(nodate, 784111777LL * NS - 3 * NS, &has), 8 * NS);
	const char *past[] = {"Date: Sun, 06 Nov 1994 08:49:50 GMT",
	                      "retry-after: Sun, 06 Nov 1994 08:49:42 GMT", NULL};
	retry_after(past, 0, &has);
	ck_assert(!has);
	const char *neg[] = {"retry-after: -3", NULL};
	retry_after(neg, 0, &has);
	ck_assert(!has);
	const char *junk[] = {"retry-after: 5s", NULL};
	retry_after(junk, 0, &has);
	ck_assert(!has);
	const char *none[] = {"x: y", NULL};
	retry_after(none, 0, &has);
	ck_assert(!has);
	const char *huge[] = {"retry-after: 99999999999999999999", NULL};
	retry_after(huge, 0, &has);
	ck_assert(!has);
}
END_TEST

START_TEST(retry_policy_uses_hint_within_60s_only)
{
	am_prov_retry_cfg cfg;
	am_prov_retry_cfg_default(&cfg);
	am_rl_headers h = {.has_retry_after = true};
	h.retry_after_ns = 60 * NS;
	ck_assert_int_eq(am_prov_retry_delay(&cfg, 3, &h, 0.9), 60 * NS);
	h.retry_after_ns = 60 * NS + 1; /* over the limit: backoff */
	ck_assert_int_eq(am_prov_retry_delay(&cfg, 1, &h, 0.0), 500 * MS);
	h.retry_after_ns = 0; /* zero is no hint */
	ck_assert_int_eq(am_prov_retry_delay(&cfg, 2, &h, 0.0), 1000 * MS);
	h.retry_after_ns = 1;
	ck_assert_int_eq(am_prov_retry_delay(&cfg, 2, &h, 0.0), 1);
	ck_assert_int_eq(am_prov_retry_delay(&cfg, 2, NULL, 0.0), 1000 * MS);
}
END_TEST

START_TEST(backoff_bounds)
{
	am_prov_retry_cfg cfg;
	am_prov_retry_cfg_default(&cfg);
	const int64_t want[] = {500 * MS, 1 * NS, 2 * NS, 4 * NS, 8 * NS, 8 * NS, 8 * NS};
	for (int n = 1; n <= 40; n++) {
		int64_t base = n <= 7 ? want[n - 1] : 8 * NS;
		ck_assert_int_eq(am_prov_retry_delay(&cfg, n, NULL, 0.0), base);
		for (double r = 0.0; r < 1.0; r += 0.125) {
			int64_t d = am_prov_retry_delay(&cfg, n, NULL, r);
			ck_assert_int_le(d, base);
			ck_assert_int_ge(d, base - base / 4);
		}
		ck_assert_int_eq(am_prov_retry_delay(&cfg, n, NULL, 1.0), base - base / 4);
	}
	/* Out-of-range inputs are clamped rather than trusted. */
	ck_assert_int_eq(am_prov_retry_delay(&cfg, 0, NULL, -1.0), 500 * MS);
	ck_assert_int_eq(am_prov_retry_delay(&cfg, 1, NULL, 7.0), 375 * MS);
	ck_assert_int_eq(am_prov_retry_delay(&cfg, 1000000, NULL, 0.0), 8 * NS);
	cfg.initial_delay_ns = 100 * MS;
	cfg.max_delay_ns = 250 * MS;
	ck_assert_int_eq(am_prov_retry_delay(&cfg, 3, NULL, 0.0), 250 * MS);
}
END_TEST

START_TEST(retry_attempts_bounded)
{
	am_prov_retry_cfg cfg;
	am_prov_retry_cfg_default(&cfg);
	am_prov_result r;
	am_prov_result_init(&r);
	am_prov_result_fail(&r, AM_PERR_OVERLOADED, "Overloaded");
	ck_assert(am_prov_retry_should(&cfg, 1, &r));
	ck_assert(am_prov_retry_should(&cfg, 2, &r));
	ck_assert(!am_prov_retry_should(&cfg, 3, &r));
	ck_assert(!am_prov_retry_should(&cfg, 0, &r));
	cfg.max_retries = 0;
	ck_assert(!am_prov_retry_should(&cfg, 1, &r));
	cfg.max_retries = 5;
	ck_assert(am_prov_retry_should(&cfg, 5, &r));
	am_prov_result_fail(&r, AM_PERR_AUTH, "bad key");
	ck_assert(!am_prov_retry_should(&cfg, 1, &r));
	am_prov_result_init(&r);
	ck_assert(!am_prov_retry_should(&cfg, 1, &r)); /* success is never retried */
}
END_TEST

/* ---- dates ----------------------------------------------------------------------- */

static int64_t rfc(const char *s)
{
	int64_t ns = 0;
	ck_assert_msg(am_prov_parse_rfc3339(s, strlen(s), &ns) == 0, "rejected %s", s);
	return ns;
}

START_TEST(rfc3339_variants)
{
	int64_t base = am_test_utc_ns("2025-02-24T22:25:32Z");
	ck_assert_int_eq(rfc("2025-02-24T22:25:32Z"), base);
	ck_assert_int_eq(rfc("2025-02-24t22:25:32z"), base);
	ck_assert_int_eq(rfc("2025-02-24 22:25:32Z"), base);
	ck_assert_int_eq(rfc("2025-02-24T22:25:32.5Z"), base + 500 * MS);
	ck_assert_int_eq(rfc("2025-02-24T22:25:32.123456789Z"), base + 123456789);
	ck_assert_int_eq(rfc("2025-02-24T22:25:32.1234567899Z"), base + 123456789);
	ck_assert_int_eq(rfc("2025-02-24T23:25:32+01:00"), base);
	ck_assert_int_eq(rfc("2025-02-24T16:55:32-05:30"), base);
	ck_assert_int_eq(rfc("2025-02-24T22:25:32-00:00"), base);
	ck_assert_int_eq(rfc("2025-02-25T00:25:32.25+02:00"), base + 250 * MS);
	ck_assert_int_eq(rfc("1970-01-01T00:00:00Z"), 0);
	ck_assert_int_eq(rfc("1969-12-31T23:59:59Z"), -NS);
	ck_assert_int_eq(rfc("2024-02-29T00:00:00Z"), am_test_utc_ns("2024-02-29T00:00:00Z"));
	ck_assert_int_eq(rfc("2016-12-31T23:59:60Z"), am_test_utc_ns("2017-01-01T00:00:00Z"));
	const char *bad[] = {
	    "2025-02-24T22:25:32",      "2025-02-24T22:25Z",         "2025-13-01T00:00:00Z",
	    "2023-02-29T00:00:00Z",     "2025-04-31T00:00:00Z",      "2025-02-24T24:00:00Z",
	    "2025-02-24T22:60:00Z",     "2025-02-24T22:25:61Z",      "2025-02-24T22:25:32.Z",
	    "2025-02-24T22:25:32+0100", "2025-02-24T22:25:32+24:00", "2025-02-24T22:25:32Zjunk",
	    "9999-12-31T23:59:59Z",     "25-02-24T22:25:32Z",        "",
	    "2025-02-24X22:25:32Z",     "2025-00-10T00:00:00Z",      "2025-01-00T00:00:00Z",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int64_t ns;
		ck_assert_msg(am_prov_parse_rfc3339(bad[i], strlen(bad[i]), &ns) == -1,
		              "accepted %s", bad[i]);
	}
}
END_TEST

START_TEST(http_date_forms)
{
	const int64_t want = 784111777LL * NS; /* RFC 9110's example instant */
	const char *good[] = {"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
	                      "Sun Nov  6 08:49:37 1994", "sun, 06 nov 1994 08:49:37 GMT"};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		int64_t ns = 0;
		ck_assert_msg(am_prov_parse_http_date(good[i], strlen(good[i]), &ns) == 0, "%s",
		              good[i]);
		ck_assert_int_eq(ns, want);
	}
	int64_t ns;
	const char *y2k = "Thursday, 01-Jan-32 00:00:00 GMT";
	ck_assert_int_eq(am_prov_parse_http_date(y2k, strlen(y2k), &ns), 0);
	ck_assert_int_eq(ns, am_test_utc_ns("2032-01-01T00:00:00Z"));
	const char *bad[] = {"Sun, 06 Nov 1994 08:49:37",
	                     "Sun, 06 Nov 1994 08:49:37 UTC",
	                     "Sun, 31 Feb 1994 08:49:37 GMT",
	                     "06 Nov 1994 08:49:37 GMT",
	                     "Sun, 06 Foo 1994 08:49:37 GMT",
	                     "Sun Nov 6 08:49:37 94",
	                     "17",
	                     "",
	                     "Sun, 06 Nov 1994 08:49:37 GMT x"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(am_prov_parse_http_date(bad[i], strlen(bad[i]), &ns) == -1,
		              "accepted %s", bad[i]);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("anthropic");
	TCase *t = tcase_create("fixtures");
	tcase_add_test(t, fixtures_json);
	tcase_add_test(t, fixtures_sse);
	tcase_add_test(t, every_fixture_has_expectations);
	tcase_add_test(t, reference_usage_2095_503_2051_2051);
	suite_add_tcase(s, t);
	t = tcase_create("bodies");
	tcase_add_test(t, body_documented_request);
	tcase_add_test(t, body_multi_turn_cache_blocks_passthrough);
	tcase_add_test(t, body_deterministic);
	tcase_add_test(t, body_errors);
	suite_add_tcase(s, t);
	t = tcase_create("errors");
	tcase_add_test(t, classify_every_status);
	tcase_add_test(t, classify_spend_limits_are_final);
	tcase_add_test(t, classify_keeps_header_request_id_and_truncates_utf8);
	tcase_add_test(t, errkind_names_and_retryability);
	tcase_add_test(t, describe_says_what_failed);
	suite_add_tcase(s, t);
	t = tcase_create("stream");
	tcase_add_test(t, stream_delta_overrides_and_cache_breakdown);
	tcase_add_test(t, usage_served_fields_plain);
	tcase_add_test(t, usage_served_fields_stream);
	tcase_add_test(t, request_billing_asks);
	tcase_add_test(t, nul_in_an_answer_is_kept_visible);
	tcase_add_test(t, stream_malformed_known_event_is_protocol_error);
	tcase_add_test(t, stream_overlong_event_and_text_cap);
	tcase_add_test(t, usage_from_raw_rules);
	tcase_add_test(t, count_tokens_parse);
	suite_add_tcase(s, t);
	t = tcase_create("headers");
	tcase_add_test(t, headers_case_status_and_garbage);
	tcase_add_test(t, retry_after_variants);
	tcase_add_test(t, retry_policy_uses_hint_within_60s_only);
	tcase_add_test(t, backoff_bounds);
	tcase_add_test(t, retry_attempts_bounded);
	tcase_add_test(t, rfc3339_variants);
	tcase_add_test(t, http_date_forms);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return check_run(suite());
}
