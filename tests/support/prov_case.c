/* prov_case: loading, running and checking provider fixture cases. */
#include "prov_case.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fixture_files.h"

void am_test_case_load(am_test_case *c, const char *dir, const char *file)
{
	memset(c, 0, sizeof *c);
	char path[4096];
	const char *dot = strrchr(file, '.');
	size_t nl = dot ? (size_t)(dot - file) : 0;
	ck_assert_msg(nl > 0 && nl < sizeof c->name, "bad fixture name %s", file);
	memcpy(c->name, file, nl);
	c->name[nl] = '\0';
	c->sse = !strcmp(dot, ".sse");

	snprintf(path, sizeof path, "%s/%s", dir, file);
	c->body = am_test_read_file(path, &c->len);
	ck_assert_msg(c->body != NULL, "cannot read %s", path);
	snprintf(path, sizeof path, "%s/%s.headers", dir, c->name);
	c->headers = am_test_read_file(path, NULL);
	snprintf(path, sizeof path, "%s/%s.want", dir, c->name);
	json_error_t je;
	c->want = json_load_file(path, 0, &je);
	ck_assert_msg(json_is_object(c->want), "%s: %s", path, je.text);
	const json_t *st = json_object_get(c->want, "status");
	c->status = json_is_integer(st) ? (int)json_integer_value(st) : 200;
	const char *ep = json_string_value(json_object_get(c->want, "endpoint"));
	c->ep = ep && !strcmp(ep, "count_tokens") ? AM_PROV_COUNT_TOKENS : AM_PROV_MESSAGES;
}

void am_test_case_free(am_test_case *c)
{
	free(c->body);
	free(c->headers);
	json_decref(c->want);
}

void am_test_case_headers(const am_test_case *c, am_prov_headers *h)
{
	char line[64];
	am_prov_headers_init(h);
	snprintf(line, sizeof line, "HTTP/1.1 %d Fixture\r\n", c->status);
	am_prov_headers_line(h, line, strlen(line));
	for (const char *p = c->headers; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p + 1) : strlen(p);
		am_prov_headers_line(h, p, n);
		p += n;
	}
	am_prov_headers_finish(h, 0);
}

void am_test_case_run(const am_test_case *c, size_t chunk, am_prov_result *r)
{
	am_prov_headers h;
	am_test_case_headers(c, &h);
	am_prov_result_init(r);
	r->rl = h.rl;
	memcpy(r->request_id, h.request_id, sizeof r->request_id);
	if (!(c->sse && c->status == 200)) {
		am_prov_finish_response(c->ep, c->status, c->body, c->len, h.should_retry, r);
		return;
	}
	am_prov_stream s;
	am_prov_stream_init(&s, 0, 0, NULL, NULL);
	size_t step = chunk ? chunk : c->len;
	for (size_t off = 0; off < c->len; off += step) {
		size_t n = c->len - off < step ? c->len - off : step;
		if (am_prov_stream_feed(&s, c->body + off, n, NULL) != 0)
			break;
	}
	r->http_status = c->status;
	am_prov_stream_finish(&s, r);
	am_prov_stream_free(&s);
}

int64_t am_test_utc_ns(const char *iso)
{
	struct tm tm = {0};
	int n = sscanf(iso, "%d-%d-%dT%d:%d:%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
	               &tm.tm_min, &tm.tm_sec);
	ck_assert_int_eq(n, 6);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm) * 1000000000LL;
}

static const char *want_str(const am_test_case *c, const char *key)
{
	return json_string_value(json_object_get(c->want, key));
}

static void check_str(const am_test_case *c, const char *key, const char *got)
{
	const char *w = want_str(c, key);
	if (w)
		ck_assert_msg(!strcmp(w, got), "%s: %s is \"%s\", want \"%s\"", c->name, key, got,
		              w);
}

static void check_int(const am_test_case *c, const json_t *obj, const char *key, int64_t got)
{
	const json_t *v = json_object_get(obj, key);
	if (v)
		ck_assert_msg(json_is_integer(v) && json_integer_value(v) == got,
		              "%s: %s is %lld, want %lld", c->name, key, (long long)got,
		              (long long)json_integer_value(v));
}

static void check_bool(const am_test_case *c, const char *key, bool got)
{
	const json_t *v = json_object_get(c->want, key);
	if (v)
		ck_assert_msg(json_is_true(v) == got, "%s: %s is %d", c->name, key, got);
}

static void check_rl(const am_test_case *c, const am_rl_headers *rl)
{
	static const char *const names[AM_RLH_COUNT] = {
	    "requests", "tokens", "input_tokens", "output_tokens", "prio_input", "prio_output"};
	const json_t *want = json_object_get(c->want, "rl");
	if (!want)
		return;
	for (int d = 0; d < AM_RLH_COUNT; d++) {
		const json_t *w = json_object_get(want, names[d]);
		const am_rl_bucket_hdr *b = &rl->b[d];
		if (!w) {
			ck_assert_msg(!b->present, "%s: unexpected %s headers", c->name, names[d]);
			continue;
		}
		ck_assert_msg(b->present && b->has_limit && b->has_remaining && b->has_reset,
		              "%s: %s headers incomplete", c->name, names[d]);
		check_int(c, w, "limit", b->limit);
		check_int(c, w, "remaining", b->remaining);
		const char *reset = json_string_value(json_object_get(w, "reset"));
		ck_assert_int_eq(b->reset_ns, am_test_utc_ns(reset));
	}
}

void am_test_case_check(const am_test_case *c, const am_prov_result *r)
{
	const json_t *w = c->want;
	if (json_is_true(json_object_get(w, "ok")))
		ck_assert_msg(r->err == AM_PERR_NONE, "%s: failed with %s: %s", c->name,
		              am_prov_errkind_name(r->err), r->message);
	check_str(c, "error", am_prov_errkind_name(r->err));
	check_bool(c, "retryable", r->retryable);
	check_int(c, w, "status", r->http_status);
	check_str(c, "text", r->text ? r->text : "");
	check_str(c, "model", r->model);
	check_str(c, "id", r->id);
	check_str(c, "stop_reason", r->stop_reason);
	check_str(c, "service_tier", r->service_tier);
	check_str(c, "request_id", r->request_id);
	check_str(c, "error_type", r->error_type);
	check_str(c, "message", r->message);
	const char *prefix = want_str(c, "message_prefix");
	if (prefix)
		ck_assert_msg(!strncmp(r->message, prefix, strlen(prefix)), "%s: message \"%s\"",
		              c->name, r->message);
	check_bool(c, "usage_final", r->usage_final);
	check_bool(c, "missing_message_stop", r->missing_message_stop);
	const json_t *u = json_object_get(w, "usage");
	if (u) {
		ck_assert_msg(r->has_usage, "%s: no usage", c->name);
		check_int(c, u, "input", r->usage.input_tokens);
		check_int(c, u, "output", r->usage.output_tokens);
		check_int(c, u, "cache_write_5m", r->usage.cache_write_5m);
		check_int(c, u, "cache_write_1h", r->usage.cache_write_1h);
		check_int(c, u, "cache_read", r->usage.cache_read);
	}
	check_rl(c, &r->rl);
	const char *date = want_str(c, "date");
	if (date) {
		ck_assert(r->rl.has_date);
		ck_assert_int_eq(r->rl.date_ns, am_test_utc_ns(date));
	}
	check_bool(c, "has_retry_after", r->rl.has_retry_after);
	check_int(c, w, "retry_after_ns", r->rl.retry_after_ns);
	const json_t *delay = json_object_get(w, "retry_delay_ns");
	if (delay) {
		am_prov_retry_cfg cfg;
		am_prov_retry_cfg_default(&cfg);
		ck_assert_msg(am_prov_retry_should(&cfg, 1, r), "%s: not retried", c->name);
		ck_assert_int_eq(am_prov_retry_delay(&cfg, 1, &r->rl, 0.0),
		                 json_integer_value(delay));
	} else if (json_object_get(w, "retryable")) {
		am_prov_retry_cfg cfg;
		am_prov_retry_cfg_default(&cfg);
		ck_assert(!am_prov_retry_should(&cfg, 1, r));
	}
}
