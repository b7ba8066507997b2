/* msgbatch: the Message Batches client against the simulator - every call,
 * the results read line by line, the result types parsed with their usage,
 * errors classified for a retry, and the key kept to the base URL. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_run.h"
#include "msgbatch.h"
#include "sim.h"

static am_sim *sim;
static am_mb *mb;

static void start(int delay_ms, int err_pct, int64_t batch_rpm)
{
	am_sim_cfg cfg;
	am_sim_cfg_default(&cfg);
	cfg.batch_delay_ms = delay_ms;
	cfg.batch_error_pct = err_pct;
	cfg.batch_rpm = batch_rpm;
	am_err err;
	ck_assert_msg(am_sim_start(&sim, &cfg, &err) == 0, "%s", err.msg);
	am_mb_opts o = { .base_url = am_sim_url(sim), .api_key = "sk-test" };
	ck_assert_msg(am_mb_open(&mb, &o, &err) == 0, "%s", err.msg);
}

static void stop(void)
{
	am_mb_close(mb);
	am_sim_stop(sim);
}

#define REQ(id, model)                                                                        \
	"{\"custom_id\":\"" id "\",\"params\":{\"model\":\"" model "\",\"max_tokens\":12,"      \
	"\"messages\":[{\"role\":\"user\",\"content\":\"hi " id "\"}]}}"

struct seen {
	int n, ok, errored;
	int64_t out_tokens;
	char first_error[200];
};

static int on_line(void *ctx, const char *line, size_t len)
{
	struct seen *s = ctx;
	am_mb_result r;
	am_err err;
	ck_assert_msg(am_mb_parse_result(line, len, &r, &err) == 0, "%s", err.msg);
	s->n++;
	if (r.kind == AM_MB_SUCCEEDED) {
		s->ok++;
		ck_assert(r.msg.has_usage);
		ck_assert_str_eq(r.msg.usage.service_tier, "batch");
		ck_assert_ptr_nonnull(r.msg.text);
		s->out_tokens += r.msg.usage.output_tokens;
	} else if (r.kind == AM_MB_ERRORED) {
		s->errored++;
		if (!s->first_error[0])
			snprintf(s->first_error, sizeof s->first_error, "%s: %s", r.msg.error_type,
			         r.msg.message);
	}
	am_prov_result_free(&r.msg);
	return 0;
}

START_TEST(create_poll_list_and_read_results)
{
	start(200, 0, 0);
	const char *body = "{\"requests\":[" REQ("1", "claude-sonnet-4-5") "," REQ(
	    "2", "claude-haiku-4-5") "," REQ("3", "no-such-model") "]}";
	am_mb_batch b;
	am_mb_reply rep;
	am_err err;
	ck_assert_msg(am_mb_create(mb, body, strlen(body), &b, &rep, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(rep.http_status, 200);
	ck_assert_str_eq(b.status, "in_progress");
	ck_assert_int_eq(b.processing, 3);
	ck_assert_int_eq(am_mb_total(&b), 3);
	ck_assert_int_gt(b.created_ns, 0);
	ck_assert_int_eq(b.expires_ns - b.created_ns, (int64_t)24 * 3600 * 1000000000LL);
	ck_assert_str_eq(b.results_url, "");
	char id[AM_MB_ID_MAX];
	snprintf(id, sizeof id, "%s", b.id);
	usleep(250 * 1000);
	ck_assert_msg(am_mb_get(mb, id, &b, &rep, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(b.status, "ended");
	ck_assert_int_eq(b.succeeded, 2);
	ck_assert_int_eq(b.errored, 1);
	ck_assert_int_gt(b.ended_ns, 0);

	struct seen s = { 0 };
	ck_assert_msg(am_mb_results(mb, b.results_url, 0, on_line, &s, &rep, &err) == 0, "%s",
	              err.msg);
	ck_assert_int_eq(s.n, 3);
	ck_assert_int_eq(s.ok, 2);
	ck_assert_int_eq(s.errored, 1);
	ck_assert_ptr_nonnull(strstr(s.first_error, "invalid_request_error"));
	am_sim_stats st;
	am_sim_get_stats(sim, &st);
	ck_assert_int_eq(s.out_tokens, st.batch_output_tokens);

	/* A line too long for the cap is an error, not a cut line. */
	s = (struct seen){ 0 };
	ck_assert_int_eq(am_mb_results(mb, b.results_url, 16, on_line, &s, &rep, &err), -1);

	am_mb_batch *page;
	int n;
	bool more;
	ck_assert_msg(am_mb_list(mb, 10, NULL, &page, &n, &more, &rep, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(n, 1);
	ck_assert(!more);
	ck_assert_str_eq(page[0].id, id);
	free(page);

	ck_assert_int_eq(am_mb_get(mb, "msgbatch_nope", &b, &rep, &err), -1);
	ck_assert_int_eq(rep.http_status, 404);
	ck_assert(!rep.retryable);
	ck_assert_int_eq(am_mb_get(mb, "../x", &b, &rep, &err), -1);
	ck_assert_int_eq(err.code, AM_E_INVALID);
	/* The key goes to the base URL only. */
	ck_assert_int_eq(am_mb_results(mb, "https://elsewhere.example/r", 0, on_line, &s, &rep,
	                               &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "not sent there"));
	stop();
}
END_TEST

START_TEST(cancel_and_rate_limits)
{
	start(10000, 0, 3);
	const char *body = "{\"requests\":[" REQ("a", "claude-sonnet-4-5") "]}";
	am_mb_batch b;
	am_mb_reply rep;
	am_err err;
	ck_assert_msg(am_mb_create(mb, body, strlen(body), &b, &rep, &err) == 0, "%s", err.msg);
	ck_assert_msg(am_mb_cancel(mb, b.id, &b, &rep, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(b.status, "canceling");
	ck_assert_int_gt(b.cancel_ns, 0);
	ck_assert_msg(am_mb_get(mb, b.id, &b, &rep, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(b.status, "ended");
	ck_assert_int_eq(b.canceled, 1);
	/* The fourth call in the minute: 429, retryable, with the wait. */
	ck_assert_int_eq(am_mb_get(mb, b.id, &b, &rep, &err), -1);
	ck_assert_int_eq(rep.http_status, 429);
	ck_assert(rep.retryable);
	ck_assert_int_ge(rep.retry_after_ns, 1000000000LL);
	stop();
}
END_TEST

START_TEST(result_lines_parse_every_type)
{
	am_mb_result r;
	am_err err;
	const char *ok =
	    "{\"custom_id\":\"7\",\"result\":{\"type\":\"succeeded\",\"message\":{\"id\":\"msg_1\","
	    "\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-opus-5\",\"content\":"
	    "[{\"type\":\"text\",\"text\":\"Hello\"}],\"stop_reason\":\"end_turn\","
	    "\"stop_sequence\":null,\"usage\":{\"input_tokens\":11,\"output_tokens\":36,"
	    "\"cache_creation_input_tokens\":30,\"cache_read_input_tokens\":40,"
	    "\"cache_creation\":{\"ephemeral_5m_input_tokens\":10,\"ephemeral_1h_input_tokens\":20},"
	    "\"service_tier\":\"batch\"}}}}";
	ck_assert_msg(am_mb_parse_result(ok, strlen(ok), &r, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(r.kind, AM_MB_SUCCEEDED);
	ck_assert_str_eq(r.custom_id, "7");
	ck_assert_str_eq(r.msg.model, "claude-opus-5");
	ck_assert_str_eq(r.msg.text, "Hello");
	ck_assert_int_eq(r.msg.usage.input_tokens, 11);
	ck_assert_int_eq(r.msg.usage.output_tokens, 36);
	ck_assert_int_eq(r.msg.usage.cache_write_5m, 10);
	ck_assert_int_eq(r.msg.usage.cache_write_1h, 20);
	ck_assert_int_eq(r.msg.usage.cache_read, 40);
	am_prov_result_free(&r.msg);
	const char *er = "{\"custom_id\":\"r2\",\"result\":{\"type\":\"errored\",\"error\":{\"type\":"
	                 "\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":"
	                 "\"bad\"},\"request_id\":\"req_9\"}}}";
	ck_assert_int_eq(am_mb_parse_result(er, strlen(er), &r, &err), 0);
	ck_assert_int_eq(r.kind, AM_MB_ERRORED);
	ck_assert_str_eq(r.msg.error_type, "invalid_request_error");
	ck_assert_str_eq(r.msg.message, "bad");
	ck_assert_str_eq(r.msg.request_id, "req_9");
	am_prov_result_free(&r.msg);
	const char *cx = "{\"custom_id\":\"r3\",\"result\":{\"type\":\"canceled\"}}";
	ck_assert_int_eq(am_mb_parse_result(cx, strlen(cx), &r, &err), 0);
	ck_assert_int_eq(r.kind, AM_MB_CANCELED);
	am_prov_result_free(&r.msg);
	const char *ex = "{\"custom_id\":\"r4\",\"result\":{\"type\":\"expired\"}}";
	ck_assert_int_eq(am_mb_parse_result(ex, strlen(ex), &r, &err), 0);
	ck_assert_int_eq(r.kind, AM_MB_EXPIRED);
	am_prov_result_free(&r.msg);
	ck_assert_int_eq(am_mb_parse_result("{", 1, &r, &err), -1);
	const char *odd = "{\"custom_id\":\"r5\",\"result\":{\"type\":\"weird\"}}";
	ck_assert_int_eq(am_mb_parse_result(odd, strlen(odd), &r, &err), -1);
}
END_TEST

static Suite *msgbatch_suite(void)
{
	Suite *s = suite_create("msgbatch");
	TCase *tc = tcase_create("msgbatch");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, result_lines_parse_every_type);
	tcase_add_test(tc, create_poll_list_and_read_results);
	tcase_add_test(tc, cancel_and_rate_limits);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(msgbatch_suite());
}
