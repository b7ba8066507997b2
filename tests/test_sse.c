/* test_sse: the incremental event-stream parser. The recorded streams from
 * the provider (the .sse files in tests/fixtures/anthropic) must give the
 * same events and the same usage however they are cut: at every byte
 * boundary, one byte at a time, in random chunks, and with CRLF or CR line
 * ends. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anthropic.h"
#include "fixture_files.h"
#include "prov_case.h"
#include "sse.h"
#include "check_run.h"

/* ---- an event recorder ---------------------------------------------------- */

typedef struct rec {
	char log[16384]; /* "name\x1fdata\x1e" per event */
	size_t len;
	int count;
	int stop_after; /* the callback fails on this event (0 = never) */
} rec;

static int record(void *ctx, const char *event, const char *data, size_t len, am_err *err)
{
	rec *r = ctx;
	r->count++;
	if (r->stop_after && r->count == r->stop_after)
		return am_err_set(err, "recorder stops at event %d", r->count);
	int n = snprintf(r->log + r->len, sizeof r->log - r->len, "%s\x1f%.*s\x1e", event, (int)len,
	                 data);
	ck_assert_int_lt(n, (int)(sizeof r->log - r->len));
	r->len += (size_t)n;
	return 0;
}

/* Feeds `text` cut at the given offsets (ascending, in (0, n)). */
static int feed_cuts(am_sse *p, const char *text, size_t n, const size_t *cuts, size_t ncuts)
{
	size_t off = 0;
	for (size_t i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : n;
		if (am_sse_feed(p, text + off, end - off, NULL) != 0)
			return -1;
		off = end;
	}
	return 0;
}

static void parse_whole(const char *text, size_t n, rec *out, bool *pending)
{
	am_sse p;
	memset(out, 0, sizeof *out);
	am_sse_init(&p, 0, record, out);
	ck_assert_int_eq(am_sse_feed(&p, text, n, NULL), 0);
	*pending = am_sse_pending(&p);
	am_sse_free(&p);
}

/* ---- unit behaviour ------------------------------------------------------------- */

START_TEST(fields_comments_and_defaults)
{
	const char *s = "\xEF\xBB\xBF: a comment\n"
	                "event:tight\ndata:no space\n\n"
	                "data: line one\ndata: line two\nid: 7\nretry: 100\nunknown: x\n\n"
	                "event: only a name\n\n"
	                "data\n\n"
	                "data:  two spaces\n\n"
	                "event: e\ndata: a:b: c\n\n";
	rec r;
	bool pending;
	parse_whole(s, strlen(s), &r, &pending);
	ck_assert(!pending);
	ck_assert_int_eq(r.count, 5);
	ck_assert_str_eq(r.log, "tight\x1fno space\x1e"
	                        "message\x1fline one\nline two\x1e"
	                        "message\x1f\x1e"
	                        "message\x1f two spaces\x1e"
	                        "e\x1f"
	                        "a:b: c\x1e");
}
END_TEST

START_TEST(line_ends_cr_crlf_lf_mixed)
{
	const char *s = "event: a\rdata: 1\r\revent: b\r\ndata: 2\r\n\r\nevent: c\ndata: 3\n\n"
	                "data: 4\r\n\n";
	size_t n = strlen(s);
	rec whole;
	bool pending;
	parse_whole(s, n, &whole, &pending);
	ck_assert_str_eq(whole.log, "a\x1f"
	                            "1\x1e"
	                            "b\x1f"
	                            "2\x1e"
	                            "c\x1f"
	                            "3\x1e"
	                            "message\x1f"
	                            "4\x1e");
	/* A CR at the end of one chunk and its LF at the start of the next is
	 * one line end, not two (which would dispatch an early blank line). */
	for (size_t k = 1; k < n; k++) {
		rec r = {0};
		am_sse p;
		am_sse_init(&p, 0, record, &r);
		ck_assert_int_eq(feed_cuts(&p, s, n, &k, 1), 0);
		ck_assert_msg(!strcmp(r.log, whole.log), "cut at %zu", k);
		am_sse_free(&p);
	}
}
END_TEST

START_TEST(incomplete_event_is_pending_and_dropped)
{
	const char *s = "event: x\ndata: 1\n\nevent: y\ndata: 2\n";
	rec r;
	bool pending;
	parse_whole(s, strlen(s), &r, &pending);
	ck_assert_int_eq(r.count, 1);
	ck_assert(pending);
	parse_whole("data: 1\n\n: trailing comment", 27, &r, &pending);
	ck_assert(pending); /* a partial line is pending too */
	parse_whole("", 0, &r, &pending);
	ck_assert(!pending);
	ck_assert_int_eq(r.count, 0);
}
END_TEST

START_TEST(bounded_line_data_and_name)
{
	char big[300];
	memset(big, 'a', sizeof big);
	rec r = {0};
	am_sse p;
	am_err err;

	/* One long line in one chunk, and the same line a byte at a time. */
	for (int bytewise = 0; bytewise < 2; bytewise++) {
		am_sse_init(&p, 100, record, &r);
		int rc = 0;
		if (bytewise)
			for (size_t i = 0; i < sizeof big && rc == 0; i++)
				rc = am_sse_feed(&p, big + i, 1, &err);
		else
			rc = am_sse_feed(&p, big, sizeof big, &err);
		ck_assert_int_eq(rc, -1);
		ck_assert_ptr_nonnull(strstr(err.msg, "too long"));
		ck_assert_int_eq(am_sse_feed(&p, "\n\n", 2, &err), -1); /* stays failed */
		am_sse_free(&p);
	}
	/* Many short data lines that add up past the limit. */
	am_sse_init(&p, 100, record, &r);
	int rc = 0;
	for (int i = 0; i < 20 && rc == 0; i++)
		rc = am_sse_feed(&p, "data: 0123456789\n", 17, &err);
	ck_assert_int_eq(rc, -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "data too long"));
	am_sse_free(&p);
	/* An absurd event name. */
	char name[AM_SSE_EVENT_NAME_MAX + 16] = "event: ";
	memset(name + 7, 'n', AM_SSE_EVENT_NAME_MAX);
	name[7 + AM_SSE_EVENT_NAME_MAX] = '\n';
	am_sse_init(&p, 0, record, &r);
	ck_assert_int_eq(am_sse_feed(&p, name, 8 + AM_SSE_EVENT_NAME_MAX, &err), -1);
	am_sse_free(&p);
	/* Exactly at the limit is fine. */
	memcpy(big, "data:", 5);
	big[100] = '\n';
	big[101] = '\n';
	memset(&r, 0, sizeof r);
	am_sse_init(&p, 100, record, &r);
	ck_assert_int_eq(am_sse_feed(&p, big, 102, &err), 0);
	ck_assert_int_eq(r.count, 1);
	am_sse_free(&p);
}
END_TEST

START_TEST(callback_can_stop)
{
	rec r = {.stop_after = 2};
	am_sse p;
	am_err err;
	am_sse_init(&p, 0, record, &r);
	const char *s = "data: 1\n\ndata: 2\n\ndata: 3\n\n";
	ck_assert_int_eq(am_sse_feed(&p, s, strlen(s), &err), -1);
	ck_assert_str_eq(err.msg, "recorder stops at event 2");
	ck_assert_int_eq(r.count, 2);
	ck_assert_uint_eq(p.events, 2);
	am_sse_free(&p);
}
END_TEST

/* ---- the recorded streams, cut every way ----------------------------------------- */

static char *with_line_ends(const char *s, size_t n, const char *eol, size_t *out_n)
{
	size_t el = strlen(eol);
	char *o = malloc(n * el + 1);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n') {
			memcpy(o + k, eol, el);
			k += el;
		} else {
			o[k++] = s[i];
		}
	}
	o[k] = '\0';
	*out_n = k;
	return o;
}

static void check_events(const am_test_case *c, const rec *r)
{
	const json_t *ev = json_object_get(c->want, "events");
	ck_assert_msg(json_is_array(ev), "%s: .want lists no events", c->name);
	char want[4096] = "";
	size_t i;
	const json_t *v;
	int n = 0;
	json_array_foreach(ev, i, v) {
		strcat(want, json_string_value(v));
		strcat(want, ",");
		n++;
	}
	char got[4096] = "";
	for (const char *p = r->log; *p;) {
		const char *us = strchr(p, '\x1f');
		strncat(got, p, (size_t)(us - p));
		strcat(got, ",");
		p = strchr(us, '\x1e') + 1;
	}
	ck_assert_msg(!strcmp(want, got), "%s: events %s, want %s", c->name, got, want);
	ck_assert_int_eq(r->count, n);
}

/* The accumulator's outcome over a given chunking, compared field by field. */
static void same_result(const am_prov_result *a, const am_prov_result *b, const char *what)
{
	ck_assert_msg(a->err == b->err, "%s: err %d vs %d", what, a->err, b->err);
	ck_assert_msg(!memcmp(&a->usage, &b->usage, sizeof a->usage), "%s: usage differs", what);
	ck_assert_msg(a->text_len == b->text_len && !memcmp(a->text, b->text, a->text_len),
	              "%s: text differs", what);
	ck_assert_str_eq(a->model, b->model);
	ck_assert_str_eq(a->stop_reason, b->stop_reason);
	ck_assert_str_eq(a->message, b->message);
	ck_assert_int_eq(a->usage_final, b->usage_final);
	ck_assert_int_eq(a->missing_message_stop, b->missing_message_stop);
}

static void stream_result(const char *s, size_t n, const size_t *cuts, size_t ncuts,
                          am_prov_result *r)
{
	am_prov_stream st;
	am_prov_stream_init(&st, 0, 0, NULL, NULL);
	size_t off = 0;
	for (size_t i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : n;
		if (am_prov_stream_feed(&st, s + off, end - off, NULL) != 0)
			break;
		off = end;
	}
	am_prov_result_init(r);
	am_prov_stream_finish(&st, r);
	am_prov_stream_free(&st);
}

static void every_cut(const am_test_case *c, const char *s, size_t n, const char *label)
{
	rec whole;
	bool pending;
	parse_whole(s, n, &whole, &pending);
	check_events(c, &whole);
	const json_t *wp = json_object_get(c->want, "sse_pending");
	ck_assert_int_eq(pending, json_is_true(wp));

	am_prov_result ref;
	stream_result(s, n, NULL, 0, &ref);
	/* The uncut run must match the documented expectations... */
	am_prov_headers h;
	am_test_case_headers(c, &h);
	ref.http_status = 200;
	ref.rl = h.rl;
	memcpy(ref.request_id, h.request_id, sizeof ref.request_id);
	am_test_case_check(c, &ref);

	/* ...and every other way of cutting must match the uncut run. */
	char what[256];
	for (size_t k = 1; k < n; k++) {
		rec r = {0};
		am_sse p;
		am_sse_init(&p, 0, record, &r);
		ck_assert_int_eq(feed_cuts(&p, s, n, &k, 1), 0);
		snprintf(what, sizeof what, "%s %s cut at %zu", c->name, label, k);
		ck_assert_msg(!strcmp(r.log, whole.log), "%s: events differ", what);
		ck_assert_int_eq(am_sse_pending(&p), pending);
		am_sse_free(&p);

		am_prov_result res;
		stream_result(s, n, &k, 1, &res);
		same_result(&res, &ref, what);
		am_prov_result_free(&res);
	}
	/* One byte at a time, and random chunkings (fixed seed). */
	size_t *cuts = malloc(n * sizeof *cuts);
	for (size_t k = 1; k < n; k++)
		cuts[k - 1] = k;
	am_prov_result res;
	stream_result(s, n, cuts, n - 1, &res);
	snprintf(what, sizeof what, "%s %s byte by byte", c->name, label);
	same_result(&res, &ref, what);
	am_prov_result_free(&res);
	unsigned seed = 12345;
	for (int round = 0; round < 50; round++) {
		size_t nc = 0;
		for (size_t k = 1; k < n; k++) {
			seed = seed * 1103515245u + 12345u;
			if ((seed >> 16) % 7 == 0)
				cuts[nc++] = k;
		}
		rec r = {0};
		am_sse p;
		am_sse_init(&p, 0, record, &r);
		ck_assert_int_eq(feed_cuts(&p, s, n, cuts, nc), 0);
		ck_assert_str_eq(r.log, whole.log);
		am_sse_free(&p);
		stream_result(s, n, cuts, nc, &res);
		snprintf(what, sizeof what, "%s %s random round %d", c->name, label, round);
		same_result(&res, &ref, what);
		am_prov_result_free(&res);
	}
	free(cuts);
	am_prov_result_free(&ref);
}

START_TEST(recorded_streams_every_boundary)
{
	const char *dir = am_test_fixture_dir("anthropic");
	size_t n;
	char **names = am_test_list_dir(dir, ".sse", &n);
	ck_assert_uint_ge(n, 6);
	for (size_t i = 0; i < n; i++) {
		am_test_case c;
		am_test_case_load(&c, dir, names[i]);
		every_cut(&c, c.body, c.len, "LF");
		const char *eols[] = {"\r\n", "\r"};
		for (int e = 0; e < 2; e++) {
			size_t m;
			char *conv = with_line_ends(c.body, c.len, eols[e], &m);
			every_cut(&c, conv, m, e ? "CR" : "CRLF");
			free(conv);
		}
		am_test_case_free(&c);
	}
	am_test_free_list(names);
}
END_TEST

/* Text reaches the callback as it is parsed: after the chunk that completes
 * each delta event, not at the end. */
struct progress {
	char text[64];
	size_t at_chunk[8];
	int n;
	size_t chunk;
};

static void on_text(void *ctx, const char *t, size_t len)
{
	struct progress *p = ctx;
	strncat(p->text, t, len);
	if (p->n < 8)
		p->at_chunk[p->n++] = p->chunk;
}

START_TEST(text_is_passed_on_as_it_arrives)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/stream_basic.sse", am_test_fixture_dir("anthropic"));
	size_t n;
	char *s = am_test_read_file(path, &n);
	ck_assert_ptr_nonnull(s);
	struct progress pr = {"", {0}, 0, 0};
	am_prov_stream st;
	am_prov_stream_init(&st, 0, 0, on_text, &pr);
	for (pr.chunk = 0; pr.chunk < n; pr.chunk++)
		ck_assert_int_eq(am_prov_stream_feed(&st, s + pr.chunk, 1, NULL), 0);
	ck_assert_str_eq(pr.text, "Hello!");
	ck_assert_int_eq(pr.n, 2);
	/* "Hello" arrives before "!" is even on the wire. */
	const char *second = strstr(s, "\"!\"");
	ck_assert_uint_lt(pr.at_chunk[0], (size_t)(second - s));
	ck_assert_uint_gt(pr.at_chunk[1], (size_t)(second - s));
	am_prov_stream_free(&st);
	free(s);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("sse");
	TCase *t = tcase_create("parser");
	tcase_add_test(t, fields_comments_and_defaults);
	tcase_add_test(t, line_ends_cr_crlf_lf_mixed);
	tcase_add_test(t, incomplete_event_is_pending_and_dropped);
	tcase_add_test(t, bounded_line_data_and_name);
	tcase_add_test(t, callback_can_stop);
	suite_add_tcase(s, t);
	t = tcase_create("recorded");
	tcase_set_timeout(t, 120);
	tcase_add_test(t, recorded_streams_every_boundary);
	tcase_add_test(t, text_is_passed_on_as_it_arrives);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return check_run(suite());
}
