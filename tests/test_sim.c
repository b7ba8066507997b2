/* Tests of the simulator: its pure parts (buckets, cache, token estimate,
 * answers) on fake time, and the server through libcurl on an ephemeral
 * loopback port. Bucket-dependent tests inject an atomic fake clock, so
 * remaining counts, reset times and retry-after are exact; only latency,
 * pacing and concurrency tests take real time (bounded, well under 1 s). */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>

#include "check_run.h"
#include "sim.h"
#include "sim_bucket.h"
#include "sim_cache.h"
#include "sim_text.h"

/* ---- an atomic fake clock (the sim's threads read it) ----------------- */

struct tclock {
	am_clock clock;
	_Atomic int64_t mono, wall;
};

static int64_t tc_mono(void *ctx)
{
	return atomic_load(&((struct tclock *)ctx)->mono);
}

static int64_t tc_wall(void *ctx)
{
	return atomic_load(&((struct tclock *)ctx)->wall);
}

/* 2025-02-24T22:25:00Z */
#define T0_WALL (1740435900LL * AM_NS_PER_SEC)

static void tc_init(struct tclock *t)
{
	t->clock = (am_clock){tc_mono, tc_wall, t};
	atomic_store(&t->mono, 1000 * AM_NS_PER_SEC);
	atomic_store(&t->wall, T0_WALL);
}

/* Default settings with the clock set to a fresh fake one. */
static void cfg_on_fake_time(am_sim_cfg *cfg, struct tclock *t)
{
	tc_init(t);
	am_sim_cfg_default(cfg);
	cfg->clock = &t->clock;
}

static void tc_advance(struct tclock *t, int64_t ns)
{
	atomic_fetch_add(&t->mono, ns);
	atomic_fetch_add(&t->wall, ns);
}

/* ---- HTTP helpers -------------------------------------------------------- */

struct resp {
	CURLcode rc;
	long status;
	char *body;
	size_t len;
	char *hdrs;
	size_t hlen;
	double ttfb, total;
};

static size_t append(char **buf, size_t *len, const char *p, size_t n)
{
	*buf = realloc(*buf, *len + n + 1);
	memcpy(*buf + *len, p, n);
	*len += n;
	(*buf)[*len] = '\0';
	return n;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct resp *r = ud;
	return append(&r->body, &r->len, p, size * n);
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct resp *r = ud;
	return append(&r->hdrs, &r->hlen, p, size * n);
}

static void resp_free(struct resp *r)
{
	free(r->body);
	free(r->hdrs);
	memset(r, 0, sizeof *r);
}

/* The value of header `name` (case-insensitive) in out, or NULL. */
static const char *header(const struct resp *r, const char *name, char *out, size_t n)
{
	size_t nl = strlen(name);
	for (const char *line = r->hdrs; line && *line;) {
		const char *end = strstr(line, "\r\n");
		if (!end)
			break;
		if ((size_t)(end - line) > nl && !strncasecmp(line, name, nl) && line[nl] == ':') {
			const char *v = line + nl + 1;
			while (*v == ' ')
				v++;
			snprintf(out, n, "%.*s", (int)(end - v), v);
			return out;
		}
		line = end + 2;
	}
	return NULL;
}

static long header_long(const struct resp *r, const char *name)
{
	char v[128];
	ck_assert_msg(header(r, name, v, sizeof v), "missing header %s", name);
	return atol(v);
}

static CURL *easy; /* one handle per test: keep-alive, one connection */

/* POSTs body to sim+path (GET when body is NULL) with the standard headers
 * unless `bare`, plus extra ("name: value" lines, NULL-terminated). */
static void call(am_sim *sim, const char *path, const char *body, bool bare,
                 const char *const *extra, struct resp *r)
{
	memset(r, 0, sizeof *r);
	if (!easy)
		easy = curl_easy_init();
	CURL *c = easy;
	curl_easy_reset(c);
	char url[256];
	snprintf(url, sizeof url, "%s%s", am_sim_url(sim), path);
	struct curl_slist *h = NULL;
	if (!bare) {
		h = curl_slist_append(h, "x-api-key: test-key");
		h = curl_slist_append(h, "anthropic-version: 2023-06-01");
	}
	h = curl_slist_append(h, "content-type: application/json");
	for (size_t i = 0; extra && extra[i]; i++)
		h = curl_slist_append(h, extra[i]);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	r->rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_getinfo(c, CURLINFO_STARTTRANSFER_TIME, &r->ttfb);
	curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &r->total);
	curl_slist_free_all(h);
}

static void post(am_sim *sim, const char *body, struct resp *r)
{
	call(sim, "/v1/messages", body, false, NULL, r);
}

static void post_with(am_sim *sim, const char *body, const char *extra, struct resp *r)
{
	const char *x[] = {extra, NULL};
	call(sim, "/v1/messages", body, false, x, r);
}

static json_t *parse(const struct resp *r)
{
	json_error_t e;
	json_t *j = json_loadb(r->body ? r->body : "", r->len, 0, &e);
	ck_assert_msg(j != NULL, "bad JSON: %s in %.200s", e.text, r->body ? r->body : "");
	return j;
}

/* The value at "a.b.c" through nested objects, or NULL. */
static const json_t *jpath(const json_t *j, const char *path)
{
	char buf[128];
	snprintf(buf, sizeof buf, "%s", path);
	const json_t *v = j;
	for (char *tok = strtok(buf, "."); tok && v; tok = strtok(NULL, "."))
		v = json_object_get(v, tok);
	return v;
}

static const char *jstr(const json_t *j, const char *path)
{
	return json_string_value(jpath(j, path));
}

static long long jint(const json_t *j, const char *path)
{
	const json_t *v = jpath(j, path);
	ck_assert_msg(json_is_integer(v), "%s is not an integer", path);
	return json_integer_value(v);
}

/* POSTs a /v1/messages body, checks the status, returns the parsed body. */
static json_t *post_json(am_sim *sim, const char *body, long want_status)
{
	struct resp r;
	post(sim, body, &r);
	ck_assert_msg(r.status == want_status, "status %ld, wanted %ld: %.300s", r.status,
	              want_status, r.body ? r.body : "");
	json_t *j = parse(&r);
	resp_free(&r);
	return j;
}

static am_sim *start(am_sim_cfg *cfg)
{
	am_sim *sim;
	am_err err;
	ck_assert_msg(am_sim_start(&sim, cfg, &err) == 0, "%s", err.msg);
	ck_assert_uint_gt(am_sim_port(sim), 0);
	return sim;
}

static am_sim *start_default(void)
{
	am_sim_cfg cfg;
	am_sim_cfg_default(&cfg);
	return start(&cfg);
}

static void finish(am_sim *sim)
{
	if (easy)
		curl_easy_cleanup(easy);
	easy = NULL;
	am_sim_stop(sim);
}

/* Checks the documented error shape and returns error.type (owned by j). */
static const char *check_error(const struct resp *r, json_t *j)
{
	char rid[128];
	ck_assert_str_eq(jstr(j, "type"), "error");
	ck_assert_ptr_nonnull(jstr(j, "error.type"));
	ck_assert_ptr_nonnull(jstr(j, "error.message"));
	ck_assert_ptr_nonnull(header(r, "request-id", rid, sizeof rid));
	ck_assert_str_eq(jstr(j, "request_id"), rid);
	ck_assert(!strncmp(rid, "req_", 4));
	return jstr(j, "error.type");
}

/* SSE: the events of a complete body, as (name, data) pairs. */
struct event {
	char name[32];
	json_t *data;
};

static int sse_events(const char *body, struct event *ev, int max)
{
	int n = 0;
	const char *p = body ? body : "";
	while (*p && n < max) {
		const char *end = strstr(p, "\n\n");
		if (!end)
			break;
		const char *nl = strchr(p, '\n');
		ck_assert(!strncmp(p, "event: ", 7));
		snprintf(ev[n].name, sizeof ev[n].name, "%.*s", (int)(nl - p - 7), p + 7);
		ck_assert(!strncmp(nl + 1, "data: ", 6));
		json_error_t e;
		ev[n].data = json_loadb(nl + 7, (size_t)(end - nl - 7), 0, &e);
		ck_assert_msg(ev[n].data != NULL, "bad event data: %s", e.text);
		ck_assert_str_eq(json_string_value(json_object_get(ev[n].data, "type")),
		                 ev[n].name);
		n++;
		p = end + 2;
	}
	return n;
}

static void events_free(struct event *ev, int n)
{
	for (int i = 0; i < n; i++)
		json_decref(ev[i].data);
}

/* Concatenated text_delta texts. */
static void sse_text(const struct event *ev, int n, char *out, size_t cap)
{
	out[0] = '\0';
	for (int i = 0; i < n; i++)
		if (!strcmp(ev[i].name, "content_block_delta"))
			strncat(out, jstr(ev[i].data, "delta.text"), cap - strlen(out) - 1);
}

static int count_words(const char *s)
{
	int n = 0;
	bool in = false;
	for (; *s; s++) {
		bool ws = *s == ' ' || *s == '\n';
		if (!ws && !in)
			n++;
		in = !ws;
	}
	return n;
}

#define HELLO(model, max)                                                                          \
	"{\"model\":\"" model "\",\"max_tokens\":" #max                                            \
	",\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}"
#define HELLO_STREAM(model, max)                                                                   \
	"{\"model\":\"" model "\",\"max_tokens\":" #max                                            \
	",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}"

/* ---- pure parts ---------------------------------------------------------- */

START_TEST(bucket_refill_is_exact)
{
	am_simbucket b;
	int64_t t = 5 * AM_NS_PER_SEC;
	am_simbucket_init(&b, 60, 0, t); /* 1 token per second, capacity 60 */
	ck_assert_int_eq(am_simbucket_remaining(&b, t), 60);
	ck_assert_int_eq(am_simbucket_full_in_ns(&b, t), 0);
	ck_assert_int_eq(am_simbucket_wait_ns(&b, 60, t), 0);
	am_simbucket_take(&b, 60, t);
	ck_assert_int_eq(am_simbucket_remaining(&b, t), 0);
	ck_assert_int_eq(am_simbucket_wait_ns(&b, 1, t), AM_NS_PER_SEC);
	ck_assert_int_eq(am_simbucket_full_in_ns(&b, t), 60 * AM_NS_PER_SEC);
	/* 1.5 s later: 1.5 tokens, one whole */
	t += 1500 * AM_NS_PER_MS;
	ck_assert_int_eq(am_simbucket_remaining(&b, t), 1);
	ck_assert_int_eq(am_simbucket_wait_ns(&b, 2, t), 500 * AM_NS_PER_MS);
	/* time running backwards mints nothing */
	ck_assert_int_eq(am_simbucket_remaining(&b, t - 10 * AM_NS_PER_SEC), 1);
	ck_assert_int_eq(am_simbucket_wait_ns(&b, 2, t), 500 * AM_NS_PER_MS);
	/* many small steps sum to the same as one big one */
	for (int i = 0; i < 1000; i++)
		t += AM_NS_PER_MS;
	ck_assert_int_eq(am_simbucket_remaining(&b, t), 2);
	ck_assert_int_eq(am_simbucket_wait_ns(&b, 3, t), 500 * AM_NS_PER_MS);
	ck_assert_int_eq(am_simbucket_remaining(&b, t + 3600 * AM_NS_PER_SEC), 60);
	ck_assert_int_eq(am_simbucket_wait_ns(&b, 61, t), AM_SIMBUCKET_NEVER);
}
END_TEST

START_TEST(bucket_refund_and_resize)
{
	am_simbucket b;
	int64_t t = 0;
	am_simbucket_init(&b, 600, 0, t);
	am_simbucket_take(&b, 500, t);
	am_simbucket_give(&b, 200, t);
	ck_assert_int_eq(am_simbucket_remaining(&b, t), 300);
	am_simbucket_give(&b, 10000, t); /* capped at the capacity */
	ck_assert_int_eq(am_simbucket_remaining(&b, t), 600);
	am_simbucket_take(&b, 100, t);
	am_simbucket_set(&b, 1200, 0, t); /* level kept */
	ck_assert_int_eq(b.limit, 1200);
	ck_assert_int_eq(am_simbucket_remaining(&b, t), 500);
	am_simbucket_set(&b, 60, 0, t); /* clamped to the new capacity */
	ck_assert_int_eq(am_simbucket_remaining(&b, t), 60);
	am_simbucket_set(&b, 0, 0, t); /* unlimited: everything passes */
	ck_assert_int_eq(am_simbucket_wait_ns(&b, 1000000, t), 0);
	am_simbucket_set(&b, 120, 2, t); /* limited again: starts full, short bucket */
	ck_assert_int_eq(am_simbucket_remaining(&b, t), 2);
	am_simbucket_take(&b, 2, t);
	ck_assert_int_eq(am_simbucket_wait_ns(&b, 1, t), 500 * AM_NS_PER_MS);
	/* the largest limit does not overflow */
	am_simbucket_init(&b, AM_SIMBUCKET_MAX, 0, t);
	am_simbucket_take(&b, AM_SIMBUCKET_MAX, t);
	am_simbucket_give(&b, AM_SIMBUCKET_MAX, t);
	ck_assert_int_eq(am_simbucket_remaining(&b, t + 1000 * AM_NS_PER_SEC), AM_SIMBUCKET_MAX);
}
END_TEST

static void prompt_of(const char *json, am_simtext_prompt *p)
{
	json_error_t e;
	json_t *j = json_loads(json, 0, &e);
	ck_assert_ptr_nonnull(j);
	am_err err;
	ck_assert_msg(am_simtext_prompt_parse(j, p, &err) == 0, "%s", err.msg);
	json_decref(j);
}

START_TEST(text_token_estimate)
{
	am_simtext_prompt p, q;
	/* the docs' count_tokens example */
	prompt_of("{\"system\":\"You are a scientist\",\"messages\":[{\"role\":\"user\","
	          "\"content\":\"Hello, Claude\"}]}",
	          &p);
	ck_assert_int_eq(p.tokens, 14);
	ck_assert_int_eq(p.n_bp, 0);
	/* a string content is the same prompt as one text block */
	prompt_of("{\"system\":[{\"type\":\"text\",\"text\":\"You are a scientist\"}],"
	          "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
	          "\"text\":\"Hello, Claude\"}]}]}",
	          &q);
	ck_assert_int_eq(q.tokens, 14);
	ck_assert_uint_eq(q.hash, p.hash);
	prompt_of("{\"messages\":[{\"role\":\"user\",\"content\":\"Hello, Claudf\"}]}", &q);
	ck_assert_uint_ne(q.hash, p.hash);
	ck_assert_int_eq(am_simtext_tokens(0), 0);
	ck_assert_int_eq(am_simtext_tokens(1), 1);
	ck_assert_int_eq(am_simtext_tokens(4), 1);
	ck_assert_int_eq(am_simtext_tokens(5), 2);
	/* breakpoints record the prefix; 1h then 5m */
	prompt_of("{\"system\":[{\"type\":\"text\",\"text\":\"12345678\",\"cache_control\":"
	          "{\"type\":\"ephemeral\",\"ttl\":\"1h\"}}],\"messages\":[{\"role\":\"user\","
	          "\"content\":[{\"type\":\"text\",\"text\":\"abcd\",\"cache_control\":"
	          "{\"type\":\"ephemeral\"}},{\"type\":\"text\",\"text\":\"x\"}]}]}",
	          &p);
	ck_assert_int_eq(p.n_bp, 2);
	ck_assert_int_eq(p.bp[0].tokens, 3);
	ck_assert(p.bp[0].ttl_1h);
	ck_assert_int_eq(p.bp[1].tokens, 8);
	ck_assert(!p.bp[1].ttl_1h);
	ck_assert_int_eq(p.tokens, 9);
	/* a top-level cache_control marks the end of the prompt */
	prompt_of("{\"cache_control\":{\"type\":\"ephemeral\"},\"system\":\"You are a scientist\","
	          "\"messages\":[{\"role\":\"user\",\"content\":\"Hello, Claude\"}]}",
	          &q);
	ck_assert_int_eq(q.n_bp, 1);
	ck_assert_int_eq(q.bp[0].tokens, 14);
	ck_assert_uint_eq(q.bp[0].hash, q.hash);
}
END_TEST

START_TEST(text_rejects_bad_prompts)
{
	static const char *const bad[] = {
	    "{}",
	    "{\"messages\":{}}",
	    "{\"messages\":[]}",
	    "{\"messages\":[{\"role\":\"system\",\"content\":\"x\"}]}",
	    "{\"messages\":[{\"role\":\"user\"}]}",
	    "{\"messages\":[{\"role\":\"user\",\"content\":3}]}",
	    "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"\"}]}]}",
	    "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"a\"}]}]}",
	    "{\"system\":5,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
	    "{\"system\":[{\"type\":\"image\"}],\"messages\":[{\"role\":\"user\",\"content\":\"x\"}"
	    "]}",
	    "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\","
	    "\"cache_control\":{\"type\":\"persistent\"}}]}]}",
	    "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\","
	    "\"cache_control\":{\"type\":\"ephemeral\",\"ttl\":\"2h\"}}]}]}",
	    "{\"system\":[{\"type\":\"text\",\"text\":\"a\",\"cache_control\":{\"type\":"
	    "\"ephemeral\"}},{\"type\":\"text\",\"text\":\"b\",\"cache_control\":{\"type\":"
	    "\"ephemeral\",\"ttl\":\"1h\"}}],\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		json_t *j = json_loads(bad[i], 0, NULL);
		am_simtext_prompt p;
		am_err err = {0};
		ck_assert_msg(am_simtext_prompt_parse(j, &p, &err) == -1, "accepted %s", bad[i]);
		ck_assert_msg(err.msg[0], "no message for %s", bad[i]);
		json_decref(j);
	}
}
END_TEST

START_TEST(text_answers_are_deterministic_prefixes)
{
	am_simtext_answer a, b, c;
	am_simtext_answer_make(42, 0, 100000, NULL, 0, &a);
	ck_assert_int_ge(a.n_tokens, 12);
	ck_assert_int_eq(a.stop, AM_SIMTEXT_END_TURN);
	ck_assert_int_eq(count_words(a.text), a.n_tokens);
	ck_assert_int_eq(a.tok_end[a.n_tokens - 1], a.len);
	ck_assert_int_eq(a.text[a.len - 1], '.');
	am_simtext_answer_make(42, 0, 100000, NULL, 0, &b);
	ck_assert_str_eq(a.text, b.text);
	am_simtext_answer_free(&b);
	/* max_tokens cuts the same text */
	am_simtext_answer_make(42, 0, 7, NULL, 0, &b);
	ck_assert_int_eq(b.n_tokens, 7);
	ck_assert_int_eq(b.stop, AM_SIMTEXT_MAX_TOKENS);
	ck_assert(!strncmp(a.text, b.text, b.len));
	ck_assert_int_eq(b.len, a.tok_end[6]);
	/* a stop sequence ends the text before it; the completing token counts */
	size_t from = a.tok_end[3], to = a.tok_end[4];
	char stop[64];
	snprintf(stop, sizeof stop, "%.*s", (int)(to - from), a.text + from);
	const char *stops[] = {"never-there", stop};
	am_simtext_answer_make(42, 0, 100000, stops, 2, &c);
	ck_assert_int_eq(c.stop, AM_SIMTEXT_STOP_SEQUENCE);
	ck_assert_int_eq(c.stop_index, 1);
	const char *first = strstr(a.text, stop);
	ck_assert_int_eq(c.len, (size_t)(first - a.text));
	ck_assert(!strncmp(a.text, c.text, c.len));
	ck_assert_int_le(c.n_tokens, 5);
	am_simtext_answer_free(&c);
	am_simtext_answer_make(43, 0, 100000, NULL, 0, &c);
	ck_assert_str_ne(a.text, c.text);
	am_simtext_answer_free(&c);
	am_simtext_answer_free(&b);
	am_simtext_answer_make(42, 5000, 100000, NULL, 0, &c); /* a forced length */
	ck_assert_int_eq(c.n_tokens, 5000);
	ck_assert_int_eq(c.stop, AM_SIMTEXT_END_TURN);
	ck_assert(!strncmp(a.text, c.text, a.tok_end[a.n_tokens - 2]));
	am_simtext_answer_free(&c);
	am_simtext_answer_free(&a);
	am_simtext_answer_make(42, 0, 0, NULL, 0, &a);
	ck_assert_int_eq(a.n_tokens, 0);
	ck_assert_int_eq(a.len, 0);
	ck_assert_int_eq(a.stop, AM_SIMTEXT_MAX_TOKENS);
	am_simtext_answer_free(&a);
}
END_TEST

START_TEST(cache_read_write_expire_bounded)
{
	am_simcache c;
	am_simcache_init(&c, 2);
	am_simtext_prompt p = {0};
	p.n_bp = 2;
	p.bp[0] = (am_simtext_bp){100, 1, true};
	p.bp[1] = (am_simtext_bp){150, 2, false};
	p.tokens = 160;
	am_simcache_use u;
	int64_t t = 0;
	am_simcache_apply(&c, &p, 9, 50, t, false, &u); /* a dry run writes nothing */
	ck_assert_int_eq(u.write_1h, 100);
	ck_assert_int_eq(u.write_5m, 50);
	am_simcache_apply(&c, &p, 9, 50, t, true, &u);
	ck_assert_int_eq(u.read, 0);
	ck_assert_int_eq(u.write_1h, 100);
	ck_assert_int_eq(u.write_5m, 50);
	am_simcache_apply(&c, &p, 9, 50, t, true, &u);
	ck_assert_int_eq(u.read, 150);
	ck_assert_int_eq(u.write_1h + u.write_5m, 0);
	/* another scope (model) shares nothing */
	am_simcache_apply(&c, &p, 10, 50, t, false, &u);
	ck_assert_int_eq(u.read, 0);
	/* after 5 minutes the 5m entry is gone, the 1h one is read */
	t += AM_SIMCACHE_TTL_5M_NS + 1;
	am_simcache_apply(&c, &p, 9, 50, t, true, &u);
	ck_assert_int_eq(u.read, 100);
	ck_assert_int_eq(u.write_5m, 50);
	/* below the minimum nothing is cached */
	am_simcache_apply(&c, &p, 11, 1000, t, true, &u);
	ck_assert_int_eq(u.read + u.write_1h + u.write_5m, 0);
	/* bounded: a third prefix replaces one of the two */
	am_simtext_prompt q = {0};
	q.n_bp = 1;
	q.bp[0] = (am_simtext_bp){60, 3, false};
	am_simcache_apply(&c, &q, 9, 50, t, true, &u);
	ck_assert_uint_eq(c.n, 2);
	am_simcache_apply(&c, &q, 9, 50, t, true, &u);
	ck_assert_int_eq(u.read, 60);
	am_simcache_free(&c);
}
END_TEST

/* ---- the server ------------------------------------------------------------ */

START_TEST(json_answer_has_the_documented_shape)
{
	am_sim *sim = start_default();
	struct resp r;
	post(sim, HELLO("claude-haiku-4-5", 1000), &r);
	ck_assert_int_eq(r.rc, CURLE_OK);
	ck_assert_int_eq(r.status, 200);
	char v[256];
	ck_assert_ptr_nonnull(header(&r, "content-type", v, sizeof v));
	ck_assert_str_eq(v, "application/json");
	ck_assert_ptr_nonnull(header(&r, "request-id", v, sizeof v));
	ck_assert(!strncmp(v, "req_011C", 8) && strlen(v) == 28);
	ck_assert_ptr_nonnull(header(&r, "date", v, sizeof v));
	ck_assert(strstr(v, " GMT"));
	ck_assert_ptr_null(header(&r, "anthropic-ratelimit-requests-limit", v, sizeof v));
	json_t *j = parse(&r);
	ck_assert_str_eq(jstr(j, "type"), "message");
	ck_assert_str_eq(jstr(j, "role"), "assistant");
	ck_assert(!strncmp(jstr(j, "id"), "msg_01", 6));
	ck_assert_str_eq(jstr(j, "model"), "claude-haiku-4-5-20251001");
	ck_assert_str_eq(jstr(j, "stop_reason"), "end_turn");
	ck_assert(json_is_null(json_object_get(j, "stop_sequence")));
	json_t *content = json_object_get(j, "content");
	ck_assert_int_eq(json_array_size(content), 1);
	ck_assert_str_eq(jstr(json_array_get(content, 0), "type"), "text");
	const char *text = jstr(json_array_get(content, 0), "text");
	ck_assert_int_eq(jint(j, "usage.input_tokens"), 7); /* 1 + 4 + ceil(5/4) */
	ck_assert_int_eq(jint(j, "usage.cache_creation_input_tokens"), 0);
	ck_assert_int_eq(jint(j, "usage.cache_read_input_tokens"), 0);
	ck_assert_int_eq(jint(j, "usage.cache_creation.ephemeral_5m_input_tokens"), 0);
	ck_assert_int_eq(jint(j, "usage.cache_creation.ephemeral_1h_input_tokens"), 0);
	long long out = jint(j, "usage.output_tokens");
	ck_assert_int_ge(out, 12);
	ck_assert_int_eq(count_words(text), out);
	ck_assert_str_eq(jstr(j, "usage.service_tier"), "standard");
	json_decref(j);
	resp_free(&r);
	finish(sim);
}
END_TEST

START_TEST(sse_follows_the_documented_sequence)
{
	am_sim *sim = start_default();
	struct resp r;
	json_t *j = post_json(sim, HELLO("claude-sonnet-4-5", 1000), 200);
	char json_text[16384];
	snprintf(json_text, sizeof json_text, "%s",
	         jstr(json_array_get(json_object_get(j, "content"), 0), "text"));
	long long out = jint(j, "usage.output_tokens");

	post(sim, HELLO_STREAM("claude-sonnet-4-5", 1000), &r);
	ck_assert_int_eq(r.rc, CURLE_OK);
	ck_assert_int_eq(r.status, 200);
	char v[256];
	ck_assert_ptr_nonnull(header(&r, "content-type", v, sizeof v));
	ck_assert(!strncmp(v, "text/event-stream", 17));
	static struct event ev[2048];
	int n = sse_events(r.body, ev, 2048);
	ck_assert_int_eq(n, (int)out + 6);
	ck_assert_str_eq(ev[0].name, "message_start");
	ck_assert_str_eq(jstr(ev[0].data, "message.model"), "claude-sonnet-4-5-20250929");
	ck_assert_int_eq(
	    json_array_size(json_object_get(json_object_get(ev[0].data, "message"), "content")), 0);
	ck_assert(
	    json_is_null(json_object_get(json_object_get(ev[0].data, "message"), "stop_reason")));
	ck_assert_int_eq(jint(ev[0].data, "message.usage.input_tokens"), 7);
	ck_assert_int_eq(jint(ev[0].data, "message.usage.cache_read_input_tokens"), 0);
	ck_assert_int_eq(jint(ev[0].data, "message.usage.output_tokens"), 1);
	ck_assert_str_eq(ev[1].name, "content_block_start");
	ck_assert_int_eq(jint(ev[1].data, "index"), 0);
	ck_assert_str_eq(jstr(ev[1].data, "content_block.type"), "text");
	ck_assert_str_eq(ev[2].name, "ping");
	for (int i = 3; i < n - 3; i++) {
		ck_assert_str_eq(ev[i].name, "content_block_delta");
		ck_assert_str_eq(jstr(ev[i].data, "delta.type"), "text_delta");
	}
	ck_assert_str_eq(ev[n - 3].name, "content_block_stop");
	ck_assert_str_eq(ev[n - 2].name, "message_delta");
	ck_assert_str_eq(jstr(ev[n - 2].data, "delta.stop_reason"), "end_turn");
	ck_assert_int_eq(jint(ev[n - 2].data, "usage.output_tokens"), out);
	ck_assert_str_eq(ev[n - 1].name, "message_stop");
	char text[16384];
	sse_text(ev, n, text, sizeof text);
	ck_assert_str_eq(text, json_text);
	events_free(ev, n);
	json_decref(j);
	resp_free(&r);
	finish(sim);
}
END_TEST

START_TEST(auth_and_version_errors)
{
	am_sim_cfg cfg;
	am_sim_cfg_default(&cfg);
	cfg.api_key = "sk-sim-secret";
	am_sim *sim = start(&cfg);
	struct resp r;
	const char *version[] = {"anthropic-version: 2023-06-01", NULL};
	call(sim, "/v1/messages", HELLO("claude-haiku-4-5", 10), true, version, &r);
	ck_assert_int_eq(r.status, 401);
	json_t *j = parse(&r);
	ck_assert_str_eq(check_error(&r, j), "authentication_error");
	json_decref(j);
	resp_free(&r);

	const char *wrong[] = {"x-api-key: sk-other", "anthropic-version: 2023-06-01", NULL};
	call(sim, "/v1/messages", HELLO("claude-haiku-4-5", 10), true, wrong, &r);
	ck_assert_int_eq(r.status, 401);
	j = parse(&r);
	ck_assert_str_eq(check_error(&r, j), "authentication_error");
	ck_assert_ptr_null(strstr(r.body, "sk-"));
	json_decref(j);
	resp_free(&r);

	const char *no_version[] = {"x-api-key: sk-sim-secret", NULL};
	call(sim, "/v1/messages", HELLO("claude-haiku-4-5", 10), true, no_version, &r);
	ck_assert_int_eq(r.status, 400);
	j = parse(&r);
	ck_assert_str_eq(check_error(&r, j), "invalid_request_error");
	ck_assert(strstr(jstr(j, "error.message"), "anthropic-version"));
	json_decref(j);
	resp_free(&r);

	const char *bad_version[] = {"x-api-key: sk-sim-secret", "anthropic-version: 2020-01-01",
	                             NULL};
	call(sim, "/v1/messages", HELLO("claude-haiku-4-5", 10), true, bad_version, &r);
	ck_assert_int_eq(r.status, 400);
	resp_free(&r);

	const char *good[] = {"x-api-key: sk-sim-secret", "anthropic-version: 2023-06-01", NULL};
	call(sim, "/v1/messages", HELLO("claude-haiku-4-5", 10), true, good, &r);
	ck_assert_int_eq(r.status, 200);
	resp_free(&r);
	finish(sim);
}
END_TEST

/* What today's SDKs send: version 2026-10-21 and a bearer token. */
START_TEST(todays_sdk_headers)
{
	am_sim_cfg cfg;
	am_sim_cfg_default(&cfg);
	cfg.api_key = "sk-sim-secret";
	am_sim *sim = start(&cfg);
	struct resp r;
	const char *bearer[] = {"Authorization: Bearer sk-sim-secret",
	                        "anthropic-version: 2026-10-21", NULL};
	call(sim, "/v1/messages", HELLO("claude-opus-5-5", 10), true, bearer, &r);
	ck_assert_msg(r.status == 200, "%ld %.300s", r.status, r.body ? r.body : "");
	json_t *j = parse(&r);
	ck_assert_str_eq(jstr(j, "model"), "claude-opus-5-5");
	json_decref(j);
	resp_free(&r);

	const char *wrong[] = {"Authorization: Bearer sk-other", "anthropic-version: 2026-10-21",
	                       NULL};
	call(sim, "/v1/messages", HELLO("claude-opus-5-5", 10), true, wrong, &r);
	ck_assert_int_eq(r.status, 401);
	resp_free(&r);

	/* 2026-10-21 removed the sampling parameters; 2023-06-01 keeps them */
	const char *temp = "{\"model\":\"claude-haiku-5-5\",\"max_tokens\":5,\"temperature\":0.5,"
	                   "\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}";
	call(sim, "/v1/messages", temp, true, bearer, &r);
	ck_assert_int_eq(r.status, 400);
	ck_assert_ptr_nonnull(strstr(r.body, "temperature"));
	resp_free(&r);
	const char *old[] = {"x-api-key: sk-sim-secret", "anthropic-version: 2023-06-01", NULL};
	call(sim, "/v1/messages", temp, true, old, &r);
	ck_assert_int_eq(r.status, 200);
	resp_free(&r);
	finish(sim);
}
END_TEST

/* Fast mode, data residency and web search, served and reported. */
START_TEST(served_dimensions_in_usage)
{
	am_sim_cfg cfg;
	am_sim_cfg_default(&cfg);
	am_sim *sim = start(&cfg);
	json_t *j = post_json(sim,
	                      "{\"model\":\"claude-opus-5-5\",\"max_tokens\":20,\"speed\":\"fast\","
	                      "\"inference_geo\":\"us\",\"tools\":[{\"type\":\"web_search_20250305\","
	                      "\"name\":\"web_search\",\"max_uses\":3}],"
	                      "\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}",
	                      200);
	ck_assert_str_eq(jstr(j, "usage.speed"), "fast");
	ck_assert_str_eq(jstr(j, "usage.inference_geo"), "us");
	ck_assert_int_eq(jint(j, "usage.server_tool_use.web_search_requests"), 3);
	json_decref(j);

	/* Opus 4.6 serves fast quietly as standard; older models say the
	 * geo is not available; nothing asked, nothing reported */
	j = post_json(sim,
	              "{\"model\":\"claude-opus-4-6\",\"max_tokens\":5,\"speed\":\"fast\","
	              "\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}",
	              200);
	ck_assert_str_eq(jstr(j, "usage.speed"), "standard");
	ck_assert_str_eq(jstr(j, "usage.inference_geo"), "global");
	json_decref(j);
	j = post_json(sim, HELLO("claude-haiku-4-5", 5), 200);
	ck_assert_str_eq(jstr(j, "usage.inference_geo"), "not_available");
	ck_assert_ptr_null(jpath(j, "usage.speed"));
	ck_assert_ptr_null(jpath(j, "usage.server_tool_use"));
	json_decref(j);

	/* refused: fast where there is none, a geo on an older model, junk */
	j = post_json(sim,
	              "{\"model\":\"claude-sonnet-5-5\",\"max_tokens\":5,\"speed\":\"fast\","
	              "\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}",
	              400);
	json_decref(j);
	j = post_json(sim,
	              "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":5,\"inference_geo\":\"us\","
	              "\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}",
	              400);
	json_decref(j);
	j = post_json(sim,
	              "{\"model\":\"claude-opus-5\",\"max_tokens\":5,\"speed\":\"warp\","
	              "\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}",
	              400);
	json_decref(j);

	/* streamed: message_start says what was served, message_delta counts
	 * the searches */
	struct resp r;
	post(sim,
	     "{\"model\":\"claude-opus-4-8\",\"max_tokens\":8,\"stream\":true,\"speed\":\"fast\","
	     "\"tools\":[{\"type\":\"web_search_20260209\",\"name\":\"web_search\"}],"
	     "\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}",
	     &r);
	ck_assert_int_eq(r.status, 200);
	struct event ev[64];
	int n = sse_events(r.body, ev, 64);
	ck_assert_int_gt(n, 2);
	ck_assert_str_eq(jstr(ev[0].data, "message.usage.speed"), "fast");
	ck_assert_str_eq(jstr(ev[0].data, "message.usage.inference_geo"), "global");
	bool counted = false;
	for (int i = 0; i < n; i++)
		if (!strcmp(ev[i].name, "message_delta"))
			counted = jint(ev[i].data, "usage.server_tool_use.web_search_requests") == 1;
	ck_assert(counted);
	events_free(ev, n);
	resp_free(&r);
	finish(sim);

	/* a workspace default sets the geo without the request saying so */
	cfg.default_geo = "us";
	sim = start(&cfg);
	j = post_json(sim, HELLO("claude-sonnet-5-5", 5), 200);
	ck_assert_str_eq(jstr(j, "usage.inference_geo"), "us");
	json_decref(j);
	finish(sim);
}
END_TEST

START_TEST(request_validation)
{
	static const struct {
		const char *body;
		long status;
		const char *type, *msg;
	} cases[] = {
	    {"not json", 400, "invalid_request_error", "Invalid JSON"},
	    {"[1]", 400, "invalid_request_error", "JSON object"},
	    {"{\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 400,
	     "invalid_request_error", "model: Field required"},
	    {"{\"model\":\"claude-haiku-4-5\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]"
	     "}",
	     400, "invalid_request_error", "max_tokens: Field required"},
	    {"{\"model\":\"claude-haiku-4-5\",\"max_tokens\":\"5\",\"messages\":[{\"role\":"
	     "\"user\","
	     "\"content\":\"x\"}]}",
	     400, "invalid_request_error", "max_tokens: Input should be a valid integer"},
	    {"{\"model\":\"claude-haiku-4-5\",\"max_tokens\":-1,\"messages\":[{\"role\":\"user\","
	     "\"content\":\"x\"}]}",
	     400, "invalid_request_error", "max_tokens"},
	    {"{\"model\":\"claude-haiku-4-5\",\"max_tokens\":100000,\"messages\":[{\"role\":"
	     "\"user\",\"content\":\"x\"}]}",
	     400, "invalid_request_error", "max_tokens: 100000 > 64000"},
	    {"{\"model\":\"claude-haiku-4-5\",\"max_tokens\":5}", 400, "invalid_request_error",
	     "messages: Field required"},
	    {"{\"model\":\"claude-haiku-4-5\",\"max_tokens\":5,\"messages\":[]}", 400,
	     "invalid_request_error", "messages"},
	    {"{\"model\":\"claude-haiku-4-5\",\"max_tokens\":5,\"messages\":[{\"role\":\"bot\","
	     "\"content\":\"x\"}]}",
	     400, "invalid_request_error", "messages.0.role"},
	    {"{\"model\":\"claude-haiku-4-5\",\"max_tokens\":5,\"stream\":1,\"messages\":[{"
	     "\"role\":"
	     "\"user\",\"content\":\"x\"}]}",
	     400, "invalid_request_error", "stream"},
	    {"{\"model\":\"claude-haiku-4-5\",\"max_tokens\":5,\"stop_sequences\":[\" \"],"
	     "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
	     400, "invalid_request_error", "stop_sequences"},
	    {"{\"model\":\"claude-haiku-4-5\",\"max_tokens\":5,\"temperature\":1.5,"
	     "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
	     400, "invalid_request_error", "temperature"},
	    {"{\"model\":\"claude-nope-9\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\","
	     "\"content\":\"x\"}]}",
	     404, "not_found_error", "model: claude-nope-9"},
	    {"{\"model\":\"sim-fault-nonsense\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\","
	     "\"content\":\"x\"}]}",
	     404, "not_found_error", "model"},
	};
	am_sim *sim = start_default();
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct resp r;
		post(sim, cases[i].body, &r);
		ck_assert_msg(r.status == cases[i].status, "case %zu: status %ld", i, r.status);
		json_t *j = parse(&r);
		ck_assert_str_eq(check_error(&r, j), cases[i].type);
		ck_assert_msg(strstr(jstr(j, "error.message"), cases[i].msg), "case %zu: %s", i,
		              jstr(j, "error.message"));
		json_decref(j);
		resp_free(&r);
	}
	struct resp r;
	call(sim, "/v1/nothing", "{}", false, NULL, &r);
	ck_assert_int_eq(r.status, 404);
	json_t *j = parse(&r);
	ck_assert_str_eq(check_error(&r, j), "not_found_error");
	json_decref(j);
	resp_free(&r);
	call(sim, "/v1/messages", NULL, false, NULL, &r);
	ck_assert_int_eq(r.status, 405);
	resp_free(&r);
	post_with(sim, HELLO("claude-haiku-4-5", 5), "x-sim-fault: sometimes", &r);
	ck_assert_int_eq(r.status, 400);
	resp_free(&r);
	am_sim_stats st;
	am_sim_get_stats(sim, &st);
	ck_assert_int_eq(st.requests, (int64_t)(sizeof cases / sizeof cases[0]) + 3);
	ck_assert_int_eq(st.ok, 0);
	finish(sim);
}
END_TEST

struct reader {
	size_t left;
};

static size_t read_zeros(char *buf, size_t size, size_t n, void *ud)
{
	struct reader *rd = ud;
	size_t k = size * n < rd->left ? size * n : rd->left;
	memset(buf, ' ', k);
	rd->left -= k;
	return k;
}

START_TEST(bodies_over_32mb_get_413)
{
	am_sim *sim = start_default();
	size_t big = 32u * 1024 * 1024 + 1;
	char *body = malloc(big + 1);
	memset(body, ' ', big);
	body[big] = '\0';
	struct resp r;
	post(sim, body, &r); /* Content-Length: answered before the body is read */
	ck_assert_int_eq(r.status, 413);
	json_t *j = parse(&r);
	ck_assert_str_eq(check_error(&r, j), "request_too_large");
	json_decref(j);
	resp_free(&r);
	free(body);

	/* chunked, no Content-Length: read, capped, and refused at the end */
	CURL *c = curl_easy_init();
	char url[256];
	snprintf(url, sizeof url, "%s/v1/messages", am_sim_url(sim));
	struct curl_slist *h = NULL;
	h = curl_slist_append(h, "x-api-key: k");
	h = curl_slist_append(h, "anthropic-version: 2023-06-01");
	h = curl_slist_append(h, "Transfer-Encoding: chunked");
	h = curl_slist_append(h, "Expect:");
	struct reader rd = {big};
	memset(&r, 0, sizeof r);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, read_zeros);
	curl_easy_setopt(c, CURLOPT_READDATA, &rd);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
	ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	ck_assert_int_eq(r.status, 413);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	resp_free(&r);
	finish(sim);
}
END_TEST

START_TEST(count_tokens_matches_message_usage)
{
	am_sim *sim = start_default();
	struct resp r;
	call(sim, "/v1/messages/count_tokens",
	     "{\"model\":\"claude-sonnet-4-5\",\"system\":\"You are a scientist\",\"messages\":"
	     "[{\"role\":\"user\",\"content\":\"Hello, Claude\"}]}",
	     false, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	json_t *j = parse(&r);
	ck_assert_int_eq(jint(j, "input_tokens"), 14);
	ck_assert_int_eq(json_object_size(j), 1);
	json_decref(j);
	resp_free(&r);

	const char *prompt =
	    "\"system\":[{\"type\":\"text\",\"text\":\"Be "
	    "brief.\"}],\"tools\":[{\"name\":\"get_time\","
	    "\"description\":\"Returns the time\",\"input_schema\":{\"type\":\"object\"}}],"
	    "\"messages\":[{\"role\":\"user\",\"content\":\"What time is it?\"},{\"role\":"
	    "\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"Let me check.\"}]},"
	    "{\"role\":\"user\",\"content\":\"Thanks\"}]";
	char body[2048];
	snprintf(body, sizeof body, "{\"model\":\"claude-haiku-4-5\",%s}", prompt);
	call(sim, "/v1/messages/count_tokens", body, false, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	j = parse(&r);
	long long counted = jint(j, "input_tokens");
	json_decref(j);
	resp_free(&r);
	snprintf(body, sizeof body, "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":20,%s}",
	         prompt);
	j = post_json(sim, body, 200);
	ck_assert_int_eq(jint(j, "usage.input_tokens"), counted);
	json_decref(j);

	call(sim, "/v1/messages/count_tokens",
	     "{\"model\":\"gpt-4\",\"messages\":[{\"role\":"
	     "\"user\",\"content\":\"x\"}]}",
	     false, NULL, &r);
	ck_assert_int_eq(r.status, 404);
	resp_free(&r);
	am_sim_stats st;
	am_sim_get_stats(sim, &st);
	ck_assert_int_eq(st.input_tokens, counted); /* count_tokens is free */
	finish(sim);
}
END_TEST

START_TEST(count_tokens_has_its_own_limit)
{
	struct tclock tc;
	am_sim_cfg cfg;
	cfg_on_fake_time(&cfg, &tc);
	cfg.count_rpm = 2;
	cfg.rpm = 100;
	am_sim *sim = start(&cfg);
	const char *body = "{\"model\":\"claude-haiku-4-5\",\"messages\":[{\"role\":\"user\","
	                   "\"content\":\"x\"}]}";
	struct resp r;
	for (int i = 0; i < 2; i++) {
		call(sim, "/v1/messages/count_tokens", body, false, NULL, &r);
		ck_assert_int_eq(r.status, 200);
		ck_assert_int_eq(header_long(&r, "anthropic-ratelimit-requests-limit"), 2);
		ck_assert_int_eq(header_long(&r, "anthropic-ratelimit-requests-remaining"), 1 - i);
		resp_free(&r);
	}
	call(sim, "/v1/messages/count_tokens", body, false, NULL, &r);
	ck_assert_int_eq(r.status, 429);
	ck_assert_int_eq(header_long(&r, "retry-after"), 30);
	resp_free(&r);
	post(sim, HELLO("claude-haiku-4-5", 5), &r); /* independent of messages */
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(header_long(&r, "anthropic-ratelimit-requests-limit"), 100);
	resp_free(&r);
	finish(sim);
}
END_TEST

START_TEST(rpm_bucket_gives_429_with_retry_after)
{
	struct tclock tc;
	am_sim_cfg cfg;
	cfg_on_fake_time(&cfg, &tc);
	cfg.rpm = 3;
	am_sim *sim = start(&cfg);
	struct resp r;
	char v[128];
	static const char *const resets[] = {"2025-02-24T22:25:20Z", "2025-02-24T22:25:40Z",
	                                     "2025-02-24T22:26:00Z"};
	for (int i = 0; i < 3; i++) {
		post(sim, HELLO("claude-haiku-4-5", 5), &r);
		ck_assert_int_eq(r.status, 200);
		ck_assert_int_eq(header_long(&r, "anthropic-ratelimit-requests-limit"), 3);
		ck_assert_int_eq(header_long(&r, "anthropic-ratelimit-requests-remaining"), 2 - i);
		header(&r, "anthropic-ratelimit-requests-reset", v, sizeof v);
		ck_assert_str_eq(v, resets[i]);
		header(&r, "date", v, sizeof v);
		ck_assert_str_eq(v, "Mon, 24 Feb 2025 22:25:00 GMT");
		resp_free(&r);
	}
	post(sim, HELLO("claude-haiku-4-5", 5), &r);
	ck_assert_int_eq(r.status, 429);
	ck_assert_int_eq(header_long(&r, "retry-after"), 20);
	ck_assert_ptr_null(header(&r, "retry-after-ms", v, sizeof v));
	ck_assert_int_eq(header_long(&r, "anthropic-ratelimit-requests-remaining"), 0);
	json_t *j = parse(&r);
	ck_assert_str_eq(check_error(&r, j), "rate_limit_error");
	ck_assert(strstr(jstr(j, "error.message"), "3 requests per minute"));
	json_decref(j);
	resp_free(&r);
	tc_advance(&tc, 19 * AM_NS_PER_SEC);
	post(sim, HELLO("claude-haiku-4-5", 5), &r);
	ck_assert_int_eq(r.status, 429);
	ck_assert_int_eq(header_long(&r, "retry-after"), 1);
	resp_free(&r);
	tc_advance(&tc, AM_NS_PER_SEC);
	post(sim, HELLO("claude-haiku-4-5", 5), &r);
	ck_assert_int_eq(r.status, 200);
	resp_free(&r);
	am_sim_stats st;
	am_sim_get_stats(sim, &st);
	ck_assert_int_eq(st.rate_limited, 2);
	ck_assert_int_eq(st.ok, 4);
	finish(sim);
}
END_TEST

START_TEST(rpm_burst_is_a_short_bucket)
{
	struct tclock tc;
	am_sim_cfg cfg;
	cfg_on_fake_time(&cfg, &tc);
	cfg.rpm = 120;
	cfg.rpm_burst = 2; /* one second of capacity */
	cfg.retry_after_ms = true;
	am_sim *sim = start(&cfg);
	struct resp r;
	for (int i = 0; i < 2; i++) {
		post(sim, HELLO("claude-haiku-4-5", 5), &r);
		ck_assert_int_eq(r.status, 200);
		resp_free(&r);
	}
	post(sim, HELLO("claude-haiku-4-5", 5), &r);
	ck_assert_int_eq(r.status, 429);
	ck_assert_int_eq(header_long(&r, "retry-after"), 1);
	ck_assert_int_eq(header_long(&r, "retry-after-ms"), 500);
	ck_assert_int_eq(header_long(&r, "anthropic-ratelimit-requests-limit"), 120);
	resp_free(&r);
	tc_advance(&tc, 500 * AM_NS_PER_MS);
	post(sim, HELLO("claude-haiku-4-5", 5), &r);
	ck_assert_int_eq(r.status, 200);
	resp_free(&r);
	finish(sim);
}
END_TEST

/* A user message of exactly `tokens` estimated tokens in total (with the
 * 1 + 4 overhead). */
static char *body_of_tokens(const char *model, int tokens, int max_tokens, bool stream)
{
	size_t bytes = (size_t)(tokens - 5) * 4;
	char *text = malloc(bytes + 1);
	for (size_t i = 0; i < bytes; i++)
		text[i] = "abcdefgh "[i % 9];
	text[bytes] = '\0';
	size_t n = bytes + 256;
	char *body = malloc(n);
	snprintf(
	    body, n,
	    "{\"model\":\"%s\",\"max_tokens\":%d,\"stream\":%s,\"messages\":[{\"role\":\"user\","
	    "\"content\":\"%s\"}]}",
	    model, max_tokens, stream ? "true" : "false", text);
	free(text);
	return body;
}

START_TEST(token_buckets_headers_and_refund)
{
	struct tclock tc;
	am_sim_cfg cfg;
	cfg_on_fake_time(&cfg, &tc);
	cfg.itpm = 50000;
	cfg.otpm = 10000;
	am_sim *sim = start(&cfg);
	struct resp r;
	char v[128];

	/* JSON: ITPM charged the input, OTPM charged max_tokens and refunded at once */
	char *body = body_of_tokens("claude-haiku-4-5", 3000, 8000, false);
	post(sim, body, &r);
	free(body);
	ck_assert_int_eq(r.status, 200);
	json_t *j = parse(&r);
	long long out1 = jint(j, "usage.output_tokens");
	ck_assert_int_eq(jint(j, "usage.input_tokens"), 3000);
	json_decref(j);
	ck_assert_int_eq(header_long(&r, "anthropic-ratelimit-input-tokens-limit"), 50000);
	ck_assert_int_eq(header_long(&r, "anthropic-ratelimit-input-tokens-remaining"), 47000);
	ck_assert_int_eq(header_long(&r, "anthropic-ratelimit-output-tokens-limit"), 10000);
	ck_assert_int_eq(header_long(&r, "anthropic-ratelimit-output-tokens-remaining"),
	                 (10000 - out1 + 500) / 1000 * 1000);
	ck_assert_int_eq(header_long(&r, "anthropic-ratelimit-tokens-limit"), 60000);
	ck_assert_int_eq(header_long(&r, "anthropic-ratelimit-tokens-remaining"),
	                 (47000 + 10000 - out1 + 500) / 1000 * 1000);
	/* 3000 tokens at 50000/min: full in 3.6 s, rounded up */
	header(&r, "anthropic-ratelimit-input-tokens-reset", v, sizeof v);
	ck_assert_str_eq(v, "2025-02-24T22:25:04Z");
	char out_reset[32];
	int64_t out_ns = out1 * 60 * AM_NS_PER_SEC / 10000;
	snprintf(out_reset, sizeof out_reset, "2025-02-24T22:25:%02lldZ",
	         (long long)((out_ns + AM_NS_PER_SEC - 1) / AM_NS_PER_SEC));
	header(&r, "anthropic-ratelimit-output-tokens-reset", v, sizeof v);
	ck_assert_str_eq(v, out_reset);
	header(&r, "anthropic-ratelimit-tokens-reset", v, sizeof v);
	ck_assert_str_eq(v, out_ns > 4 * AM_NS_PER_SEC ? out_reset : "2025-02-24T22:25:04Z");
	resp_free(&r);

	/* SSE: while it streams the headers show max_tokens charged... */
	tc_advance(&tc, 60 * AM_NS_PER_SEC);
	post(sim, HELLO_STREAM("claude-haiku-4-5", 8000), &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(header_long(&r, "anthropic-ratelimit-output-tokens-remaining"), 2000);
	static struct event ev[2048];
	int n = sse_events(r.body, ev, 2048);
	long long out2 = jint(ev[n - 2].data, "usage.output_tokens");
	events_free(ev, n);
	resp_free(&r);
	/* ...and once it ended, the unused part is back (a forced 529 charges nothing) */
	post_with(sim, HELLO("claude-haiku-4-5", 5), "x-sim-fault: 529", &r);
	ck_assert_int_eq(r.status, 529);
	ck_assert_int_eq(header_long(&r, "anthropic-ratelimit-output-tokens-remaining"),
	                 (10000 - out2 + 500) / 1000 * 1000);
	resp_free(&r);

	/* ITPM exhausted: 45000 tokens fit, another 6000 must wait for 1000 more */
	tc_advance(&tc, 60 * AM_NS_PER_SEC);
	body = body_of_tokens("claude-haiku-4-5", 45000, 1, false);
	post(sim, body, &r);
	free(body);
	ck_assert_int_eq(r.status, 200);
	resp_free(&r);
	body = body_of_tokens("claude-haiku-4-5", 6000, 1, false);
	post(sim, body, &r);
	ck_assert_int_eq(r.status, 429);
	ck_assert_int_eq(header_long(&r, "retry-after"), 2); /* 1000 tokens = 1.2 s */
	j = parse(&r);
	ck_assert(strstr(jstr(j, "error.message"), "50000 input tokens per minute"));
	json_decref(j);
	resp_free(&r);
	tc_advance(&tc, 1200 * AM_NS_PER_MS);
	post(sim, body, &r);
	ck_assert_int_eq(r.status, 200);
	resp_free(&r);
	free(body);

	/* OTPM: max_tokens above the capacity can never fit */
	post(sim, HELLO("claude-haiku-4-5", 20000), &r);
	ck_assert_int_eq(r.status, 429);
	j = parse(&r);
	ck_assert(strstr(jstr(j, "error.message"), "10000 output tokens per minute"));
	json_decref(j);
	resp_free(&r);
	finish(sim);
}
END_TEST

static char *cached_body(const char *model, int sys_tokens, const char *ttl, const char *tail)
{
	size_t bytes = (size_t)sys_tokens * 4;
	char *text = malloc(bytes + 1);
	for (size_t i = 0; i < bytes; i++)
		text[i] = "systemprompt "[i % 13];
	text[bytes] = '\0';
	size_t n = bytes + 512;
	char *body = malloc(n);
	snprintf(
	    body, n,
	    "{\"model\":\"%s\",\"max_tokens\":10,\"system\":[{\"type\":\"text\",\"text\":\"%s\","
	    "\"cache_control\":{\"type\":\"ephemeral\"%s}}],\"messages\":[{\"role\":\"user\","
	    "\"content\":\"%s\"}]}",
	    model, text, ttl ? ttl : "", tail);
	free(text);
	return body;
}

static void usage_of(am_sim *sim, const char *body, long long u[4])
{
	json_t *j = post_json(sim, body, 200);
	u[0] = jint(j, "usage.input_tokens");
	u[1] = jint(j, "usage.cache_creation.ephemeral_5m_input_tokens");
	u[2] = jint(j, "usage.cache_creation.ephemeral_1h_input_tokens");
	u[3] = jint(j, "usage.cache_read_input_tokens");
	ck_assert_int_eq(jint(j, "usage.cache_creation_input_tokens"), u[1] + u[2]);
	json_decref(j);
}

START_TEST(prompt_cache_writes_then_reads)
{
	struct tclock tc;
	am_sim_cfg cfg;
	cfg_on_fake_time(&cfg, &tc);
	cfg.itpm = 100000;
	am_sim *sim = start(&cfg);
	long long u[4];
	/* 10000 system tokens: breakpoint after 1 + 10000 */
	char *body = cached_body("claude-sonnet-4-5", 10000, NULL, "Hello");
	usage_of(sim, body, u);
	ck_assert_int_eq(u[0], 6); /* 4 + ceil(5/4) after the breakpoint */
	ck_assert_int_eq(u[1], 10001);
	ck_assert_int_eq(u[2], 0);
	ck_assert_int_eq(u[3], 0);
	struct resp r;
	post(sim, body, &r);
	json_t *j = parse(&r);
	ck_assert_int_eq(jint(j, "usage.cache_read_input_tokens"), 10001);
	ck_assert_int_eq(jint(j, "usage.cache_creation_input_tokens"), 0);
	ck_assert_int_eq(jint(j, "usage.input_tokens"), 6);
	json_decref(j);
	/* ITPM was charged 10007, then 6: cache reads do not count */
	ck_assert_int_eq(header_long(&r, "anthropic-ratelimit-input-tokens-remaining"), 90000);
	resp_free(&r);
	/* a read refreshes the 5-minute lifetime */
	tc_advance(&tc, 200 * AM_NS_PER_SEC);
	usage_of(sim, body, u);
	ck_assert_int_eq(u[3], 10001);
	tc_advance(&tc, 200 * AM_NS_PER_SEC);
	usage_of(sim, body, u);
	ck_assert_int_eq(u[3], 10001);
	/* unused for more than 5 minutes: written again */
	tc_advance(&tc, 301 * AM_NS_PER_SEC);
	usage_of(sim, body, u);
	ck_assert_int_eq(u[3], 0);
	ck_assert_int_eq(u[1], 10001);
	/* the cache is per model */
	free(body);
	body = cached_body("claude-opus-4-1", 10000, NULL, "Hello");
	usage_of(sim, body, u);
	ck_assert_int_eq(u[1], 10001);
	free(body);

	/* 1-hour entries are reported as such and outlive 5 minutes */
	body = cached_body("claude-sonnet-4-5", 3000, ",\"ttl\":\"1h\"", "Hi");
	usage_of(sim, body, u);
	ck_assert_int_eq(u[1], 0);
	ck_assert_int_eq(u[2], 3001);
	tc_advance(&tc, 1800 * AM_NS_PER_SEC);
	usage_of(sim, body, u);
	ck_assert_int_eq(u[3], 3001);
	free(body);

	/* below the model's minimum (1024 for Sonnet 4.5, 4096 for Haiku 4.5): no caching */
	body = cached_body("claude-sonnet-4-5", 500, NULL, "Hello");
	usage_of(sim, body, u);
	ck_assert_int_eq(u[0], 507);
	ck_assert_int_eq(u[1] + u[2] + u[3], 0);
	free(body);
	body = cached_body("claude-haiku-4-5", 3000, NULL, "Hello");
	usage_of(sim, body, u);
	ck_assert_int_eq(u[1] + u[2] + u[3], 0);
	free(body);

	am_sim_stats st;
	am_sim_get_stats(sim, &st);
	ck_assert_int_eq(st.cache_read_tokens, 3 * 10001 + 3001);
	ck_assert_int_eq(st.cache_write_tokens, 3 * 10001 + 3001);
	finish(sim);
}
END_TEST

START_TEST(two_breakpoints_split_by_ttl)
{
	am_sim *sim = start_default();
	size_t bytes = 8000; /* 2000 tokens each */
	char *a = malloc(bytes + 1), *b = malloc(bytes + 1);
	memset(a, 'a', bytes);
	memset(b, 'b', bytes);
	a[bytes] = b[bytes] = '\0';
	size_t n = 2 * bytes + 512;
	char *body = malloc(n);
	snprintf(
	    body, n,
	    "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":5,\"system\":[{\"type\":\"text\","
	    "\"text\":\"%s\",\"cache_control\":{\"type\":\"ephemeral\",\"ttl\":\"1h\"}}],"
	    "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"%s\","
	    "\"cache_control\":{\"type\":\"ephemeral\"}},{\"type\":\"text\",\"text\":\"?\"}]}]}",
	    a, b);
	long long u[4];
	usage_of(sim, body, u);
	ck_assert_int_eq(u[2], 2001);
	ck_assert_int_eq(u[1], 2004);
	ck_assert_int_eq(u[0], 1);
	usage_of(sim, body, u);
	ck_assert_int_eq(u[3], 4005);
	free(a);
	free(b);
	free(body);
	finish(sim);
}
END_TEST

START_TEST(aliases_answer_with_dated_ids)
{
	static const char *const pairs[][2] = {
	    {"claude-haiku-4-5", "claude-haiku-4-5-20251001"},
	    {"claude-sonnet-4-5", "claude-sonnet-4-5-20250929"},
	    {"claude-opus-4-5", "claude-opus-4-5-20251101"},
	    {"claude-opus-4-1", "claude-opus-4-1-20250805"},
	    {"claude-opus-4-0", "claude-opus-4-20250514"},
	    {"claude-sonnet-4-0", "claude-sonnet-4-20250514"},
	    {"claude-3-5-haiku-latest", "claude-3-5-haiku-20241022"},
	    {"claude-sonnet-4-5-20250929", "claude-sonnet-4-5-20250929"},
	    {"claude-3-haiku-20240307", "claude-3-haiku-20240307"},
	    {"claude-opus-4-6", "claude-opus-4-6"},
	    {"claude-sonnet-4-6", "claude-sonnet-4-6"},
	};
	am_sim *sim = start_default();
	for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
		char body[256];
		snprintf(body, sizeof body,
		         "{\"model\":\"%s\",\"max_tokens\":3,\"messages\":[{\"role\":\"user\","
		         "\"content\":\"x\"}]}",
		         pairs[i][0]);
		json_t *j = post_json(sim, body, 200);
		ck_assert_str_eq(jstr(j, "model"), pairs[i][1]);
		json_decref(j);
	}
	finish(sim);
}
END_TEST

static void answer_text(am_sim *sim, const char *body, char *out, size_t n)
{
	json_t *j = post_json(sim, body, 200);
	json_t *c = json_array_get(json_object_get(j, "content"), 0);
	snprintf(out, n, "%s", c ? jstr(c, "text") : "");
	json_decref(j);
}

START_TEST(answers_are_deterministic_by_seed)
{
	am_sim_cfg cfg;
	am_sim_cfg_default(&cfg);
	cfg.seed = 7;
	char a[8192], b[8192], c[8192], d[8192];
	am_sim *sim = start(&cfg);
	answer_text(sim, HELLO("claude-haiku-4-5", 1000), a, sizeof a);
	answer_text(sim, HELLO("claude-haiku-4-5", 1000), b, sizeof b);
	ck_assert_str_eq(a, b);
	answer_text(sim, HELLO("claude-sonnet-4-5", 1000), c, sizeof c);
	ck_assert_str_ne(a, c);
	finish(sim);
	sim = start(&cfg);
	answer_text(sim, HELLO("claude-haiku-4-5", 1000), b, sizeof b);
	ck_assert_str_eq(a, b);
	answer_text(sim, HELLO("claude-haiku-4-5-20251001", 1000), b, sizeof b);
	ck_assert_str_eq(a, b); /* an alias and its snapshot are the same model */
	finish(sim);
	cfg.seed = 8;
	sim = start(&cfg);
	answer_text(sim, HELLO("claude-haiku-4-5", 1000), d, sizeof d);
	ck_assert_str_ne(a, d);
	finish(sim);
}
END_TEST

START_TEST(max_tokens_and_stop_sequences)
{
	am_sim *sim = start_default();
	json_t *j = post_json(sim, HELLO("claude-haiku-4-5", 5), 200);
	ck_assert_str_eq(jstr(j, "stop_reason"), "max_tokens");
	ck_assert_int_eq(jint(j, "usage.output_tokens"), 5);
	ck_assert_int_eq(
	    count_words(jstr(json_array_get(json_object_get(j, "content"), 0), "text")), 5);
	json_decref(j);

	struct resp r;
	post_with(sim, HELLO("claude-haiku-4-5", 3000), "x-sim-output-tokens: 2500", &r);
	j = parse(&r);
	ck_assert_int_eq(jint(j, "usage.output_tokens"), 2500);
	ck_assert_str_eq(jstr(j, "stop_reason"), "end_turn");
	json_decref(j);
	resp_free(&r);

	j = post_json(sim, HELLO("claude-haiku-4-5", 0), 200);
	ck_assert_int_eq(json_array_size(json_object_get(j, "content")), 0);
	ck_assert_int_eq(jint(j, "usage.output_tokens"), 0);
	json_decref(j);

	char full[8192];
	answer_text(sim, HELLO("claude-haiku-4-5", 1000), full, sizeof full);
	/* the fourth word, as a stop sequence */
	char word[64];
	const char *p = full;
	for (int i = 0; i < 3; i++)
		p = strchr(p, ' ') + 1;
	snprintf(word, sizeof word, "%.*s", (int)strcspn(p, " ,.\n"), p);
	char body[512];
	snprintf(body, sizeof body,
	         "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":1000,\"stop_sequences\":[\"%s\"],"
	         "\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}",
	         word);
	j = post_json(sim, body, 200);
	ck_assert_str_eq(jstr(j, "stop_reason"), "stop_sequence");
	ck_assert_str_eq(jstr(j, "stop_sequence"), word);
	const char *text = jstr(json_array_get(json_object_get(j, "content"), 0), "text");
	ck_assert_int_eq(strlen(text), (size_t)(strstr(full, word) - full));
	ck_assert(!strncmp(text, full, strlen(text)));
	ck_assert_int_le(jint(j, "usage.output_tokens"), 4);
	json_decref(j);
	finish(sim);
}
END_TEST

START_TEST(forced_faults_by_header)
{
	static const struct {
		const char *fault;
		long status;
		const char *type;
	} cases[] = {
	    {"429", 429, "rate_limit_error"}, {"529", 529, "overloaded_error"},
	    {"500", 500, "api_error"},        {"401", 401, "authentication_error"},
	    {"403", 403, "permission_error"}, {"408", 408, "timeout_error"},
	    {"409", 409, "conflict_error"},   {"413", 413, "request_too_large"},
	    {"503", 503, "api_error"},        {"400", 400, "invalid_request_error"},
	};
	am_sim *sim = start_default();
	struct resp r;
	char v[128];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char h[64];
		snprintf(h, sizeof h, "x-sim-fault: %s", cases[i].fault);
		post_with(sim, HELLO("claude-haiku-4-5", 5), h, &r);
		ck_assert_int_eq(r.status, cases[i].status);
		json_t *j = parse(&r);
		ck_assert_str_eq(check_error(&r, j), cases[i].type);
		json_decref(j);
		if (cases[i].status == 429)
			ck_assert_int_eq(header_long(&r, "retry-after"), 1);
		else
			ck_assert_ptr_null(header(&r, "retry-after", v, sizeof v));
		resp_free(&r);
	}

	post_with(sim, HELLO("claude-haiku-4-5", 5), "x-sim-fault: spend_limit", &r);
	ck_assert_int_eq(r.status, 429);
	ck_assert_ptr_null(header(&r, "retry-after", v, sizeof v));
	json_t *j = parse(&r);
	ck_assert_str_eq(check_error(&r, j), "rate_limit_error");
	ck_assert_str_eq(jstr(j, "error.details.error_code"), "enforced_spend_limit_reached");
	ck_assert(!strncmp(jstr(j, "error.message"), "You have reached your API usage limits", 38));
	json_decref(j);
	resp_free(&r);

	post_with(sim, HELLO("claude-haiku-4-5", 5), "x-sim-fault: user_spend_limit", &r);
	ck_assert_int_eq(r.status, 400);
	j = parse(&r);
	ck_assert_str_eq(check_error(&r, j), "invalid_request_error");
	ck_assert(!strncmp(jstr(j, "error.message"),
	                   "You have reached your specified API usage limits", 48));
	json_decref(j);
	resp_free(&r);

	/* the same through a model name, for clients that cannot add headers */
	post(sim, HELLO("sim-fault-spend_limit", 5), &r);
	ck_assert_int_eq(r.status, 429);
	ck_assert(strstr(r.body, "enforced_spend_limit_reached"));
	resp_free(&r);

	/* retry-after in every form a client must parse */
	const char *forms[][2] = {
	    {"x-sim-retry-after: 2.5", "2.5"},
	    {"x-sim-retry-after: Wed, 21 Oct 2015 07:28:00 GMT", "Wed, 21 Oct 2015 07:28:00 GMT"},
	};
	for (size_t i = 0; i < 2; i++) {
		const char *x[] = {"x-sim-fault: 529", forms[i][0], NULL};
		call(sim, "/v1/messages", HELLO("claude-haiku-4-5", 5), false, x, &r);
		ck_assert_int_eq(r.status, 529);
		ck_assert_ptr_nonnull(header(&r, "retry-after", v, sizeof v));
		ck_assert_str_eq(v, forms[i][1]);
		resp_free(&r);
	}
	const char *ms[] = {"x-sim-fault: 429", "x-sim-retry-after-ms: 1500", NULL};
	call(sim, "/v1/messages", HELLO("claude-haiku-4-5", 5), false, ms, &r);
	ck_assert_int_eq(header_long(&r, "retry-after-ms"), 1500);
	ck_assert_ptr_null(header(&r, "retry-after", v, sizeof v));
	resp_free(&r);

	/* midstream without a stream is its non-streaming equivalent, a 529 */
	post_with(sim, HELLO("claude-haiku-4-5", 5), "x-sim-fault: midstream", &r);
	ck_assert_int_eq(r.status, 529);
	resp_free(&r);
	am_sim_stats st;
	am_sim_get_stats(sim, &st);
	ck_assert_int_eq(st.rate_limited, 4);
	ck_assert_int_eq(st.overloaded, 4);
	ck_assert_int_eq(st.server_errors, 1);
	ck_assert_int_eq(st.ok, 0);
	ck_assert_int_eq(st.input_tokens, 0);
	finish(sim);
}
END_TEST

START_TEST(midstream_error_and_truncation)
{
	am_sim *sim = start_default();
	struct resp r;
	static struct event ev[2048];
	post_with(sim, HELLO_STREAM("claude-haiku-4-5", 40), "x-sim-fault: midstream", &r);
	ck_assert_int_eq(r.rc, CURLE_OK);
	ck_assert_int_eq(r.status, 200);
	int n = sse_events(r.body, ev, 2048);
	ck_assert_str_eq(ev[n - 1].name, "error");
	ck_assert_str_eq(jstr(ev[n - 1].data, "error.type"), "overloaded_error");
	int deltas = 0;
	for (int i = 0; i < n; i++) {
		ck_assert_str_ne(ev[i].name, "message_stop");
		ck_assert_str_ne(ev[i].name, "message_delta");
		deltas += !strcmp(ev[i].name, "content_block_delta");
	}
	ck_assert_int_eq(deltas, 20);
	events_free(ev, n);
	resp_free(&r);

	post_with(sim, HELLO_STREAM("claude-haiku-4-5", 40), "x-sim-fault: truncate", &r);
	ck_assert_int_ne(r.rc, CURLE_OK);
	ck_assert_ptr_nonnull(r.body);
	ck_assert_ptr_null(strstr(r.body, "message_stop"));
	ck_assert(r.len > 2 && strcmp(r.body + r.len - 2, "\n\n")); /* cut inside an event */
	resp_free(&r);

	post_with(sim, HELLO("claude-haiku-4-5", 40), "x-sim-fault: truncate", &r);
	ck_assert_int_eq(r.rc, CURLE_PARTIAL_FILE);
	ck_assert_int_eq(r.status, 200);
	json_error_t e;
	ck_assert_ptr_null(json_loadb(r.body, r.len, 0, &e));
	resp_free(&r);

	post_with(sim, HELLO("claude-haiku-4-5", 40), "x-sim-fault: drop", &r);
	ck_assert_int_eq(r.rc, CURLE_GOT_NOTHING);
	resp_free(&r);

	post(sim, HELLO_STREAM("claude-haiku-4-5", 40), &r); /* the next call is whole */
	ck_assert_int_eq(r.rc, CURLE_OK);
	ck_assert(strstr(r.body, "event: message_stop"));
	resp_free(&r);
	am_sim_stats st;
	am_sim_get_stats(sim, &st);
	ck_assert_int_eq(st.midstream_errors, 1);
	ck_assert_int_eq(st.truncated, 3);
	ck_assert_int_eq(st.ok, 1);
	ck_assert_int_eq(st.output_tokens, 20 + 20 + 40 + 40);
	finish(sim);
}
END_TEST

START_TEST(random_faults_follow_the_seed)
{
	am_sim_cfg cfg;
	am_sim_cfg_default(&cfg);
	cfg.fault_529 = 0.3;
	cfg.seed = 99;
	int pattern[2][100];
	for (int run = 0; run < 2; run++) {
		am_sim *sim = start(&cfg);
		int n529 = 0;
		for (int i = 0; i < 100; i++) {
			struct resp r;
			post(sim, HELLO("claude-haiku-4-5", 3), &r);
			ck_assert(r.status == 200 || r.status == 529);
			pattern[run][i] = (int)r.status;
			n529 += r.status == 529;
			resp_free(&r);
		}
		ck_assert_int_ge(n529, 15);
		ck_assert_int_le(n529, 45);
		am_sim_stats st;
		am_sim_get_stats(sim, &st);
		ck_assert_int_eq(st.overloaded, n529);
		finish(sim);
	}
	ck_assert(!memcmp(pattern[0], pattern[1], sizeof pattern[0]));

	am_sim_cfg_default(&cfg);
	cfg.fault_500 = 1;
	cfg.rpm = 1; /* a failed call is not charged */
	am_sim *sim = start(&cfg);
	for (int i = 0; i < 3; i++) {
		struct resp r;
		post(sim, HELLO("claude-haiku-4-5", 3), &r);
		ck_assert_int_eq(r.status, 500);
		resp_free(&r);
	}
	finish(sim);

	am_sim_cfg_default(&cfg);
	cfg.fault_midstream = 1;
	cfg.fault_truncate = 1;
	sim = start(&cfg);
	struct resp r;
	post(sim, HELLO_STREAM("claude-haiku-4-5", 10), &r);
	ck_assert(strstr(r.body, "event: error"));
	resp_free(&r);
	post(sim, HELLO("claude-haiku-4-5", 10), &r);
	ck_assert_int_eq(r.rc, CURLE_PARTIAL_FILE);
	resp_free(&r);
	finish(sim);
}
END_TEST

START_TEST(latency_and_pacing_take_real_time)
{
	am_sim_cfg cfg;
	am_sim_cfg_default(&cfg);
	cfg.latency_ms = 80;
	cfg.tokens_per_second = 200;
	am_sim *sim = start(&cfg);
	struct resp r;
	post(sim, HELLO_STREAM("claude-haiku-4-5", 20), &r);
	ck_assert_int_eq(r.rc, CURLE_OK);
	ck_assert_double_ge(r.ttfb, 0.075);
	ck_assert_double_ge(r.total, 0.075 + 0.095); /* 20 tokens at 200/s */
	ck_assert_double_lt(r.total, 3.0);
	resp_free(&r);
	post(sim, HELLO("claude-haiku-4-5", 20), &r); /* JSON waits for the whole text */
	ck_assert_double_ge(r.ttfb, 0.075 + 0.095);
	resp_free(&r);
	post_with(sim, HELLO("claude-haiku-4-5", 1), "x-sim-latency-ms: 300", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_double_ge(r.ttfb, 0.295); /* this call's own latency */
	resp_free(&r);
	finish(sim);
}
END_TEST

START_TEST(sixty_four_paced_streams_at_once)
{
	am_sim_cfg cfg;
	am_sim_cfg_default(&cfg);
	cfg.tokens_per_second = 40;
	am_sim *sim = start(&cfg);
	enum { N = 64 };
	CURLM *m = curl_multi_init();
	CURL *e[N];
	struct resp r[N];
	struct curl_slist *h = NULL;
	h = curl_slist_append(h, "x-api-key: k");
	h = curl_slist_append(h, "anthropic-version: 2023-06-01");
	char url[256];
	snprintf(url, sizeof url, "%s/v1/messages", am_sim_url(sim));
	curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
	for (int i = 0; i < N; i++) {
		memset(&r[i], 0, sizeof r[i]);
		e[i] = curl_easy_init();
		curl_easy_setopt(e[i], CURLOPT_URL, url);
		curl_easy_setopt(e[i], CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(e[i], CURLOPT_POSTFIELDS, HELLO_STREAM("claude-haiku-4-5", 8));
		curl_easy_setopt(e[i], CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(e[i], CURLOPT_WRITEDATA, &r[i]);
		curl_multi_add_handle(m, e[i]);
	}
	const am_clock *clk = am_clock_system();
	int64_t t0 = am_clock_mono(clk);
	int running = N;
	while (running) {
		curl_multi_perform(m, &running);
		if (running)
			curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	double secs = (double)(am_clock_mono(clk) - t0) / AM_NS_PER_SEC;
	ck_assert_double_ge(secs, 0.19); /* 8 tokens at 40/s: 0.2 s each ... */
	ck_assert_double_lt(secs, 6.0);  /* ... but not 64 × 0.2 s = 12.8 s one after another */
	for (int i = 0; i < N; i++) {
		ck_assert(r[i].body && strstr(r[i].body, "event: message_stop"));
		curl_multi_remove_handle(m, e[i]);
		curl_easy_cleanup(e[i]);
		resp_free(&r[i]);
	}
	curl_slist_free_all(h);
	curl_multi_cleanup(m);
	am_sim_stats st;
	am_sim_get_stats(sim, &st);
	ck_assert_int_eq(st.ok, N);
	ck_assert_int_eq(st.output_tokens, N * 8);
	am_sim_stop(sim);
}
END_TEST

struct bg {
	am_sim *sim;
	struct resp r;
};

static void *slow_call(void *arg)
{
	struct bg *b = arg;
	CURL *c = curl_easy_init();
	char url[256];
	snprintf(url, sizeof url, "%s/v1/messages", am_sim_url(b->sim));
	struct curl_slist *h = NULL;
	h = curl_slist_append(h, "x-api-key: k");
	h = curl_slist_append(h, "anthropic-version: 2023-06-01");
	h = curl_slist_append(h, "x-sim-latency-ms: 60000");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, HELLO("claude-haiku-4-5", 5));
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b->r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	b->r.rc = curl_easy_perform(c);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return NULL;
}

START_TEST(stop_ends_waiting_calls_promptly)
{
	am_sim *sim = start_default();
	struct bg b = {sim, {0}};
	pthread_t t;
	pthread_create(&t, NULL, slow_call, &b);
	/* wait (bounded) until the call is inside the sim */
	am_sim_stats st = {0};
	for (int i = 0; i < 500 && st.requests == 0; i++) {
		struct timespec ts = {0, 2 * 1000 * 1000};
		nanosleep(&ts, NULL);
		am_sim_get_stats(sim, &st);
	}
	ck_assert_int_eq(st.requests, 1);
	const am_clock *clk = am_clock_system();
	int64_t t0 = am_clock_mono(clk);
	am_sim_stop(sim);
	ck_assert_int_lt(am_clock_mono(clk) - t0, 5 * AM_NS_PER_SEC);
	pthread_join(t, NULL);
	ck_assert_int_ne(b.r.rc, CURLE_OK);
	resp_free(&b.r);
}
END_TEST

START_TEST(limits_change_at_run_time)
{
	am_sim *sim = start_default();
	struct resp r;
	char v[64];
	post(sim, HELLO("claude-haiku-4-5", 5), &r);
	ck_assert_ptr_null(header(&r, "anthropic-ratelimit-requests-limit", v, sizeof v));
	resp_free(&r);
	am_sim_set_limits(sim, 2, 40000, 8000);
	for (int i = 0; i < 2; i++) {
		post(sim, HELLO("claude-haiku-4-5", 5), &r);
		ck_assert_int_eq(r.status, 200);
		ck_assert_int_eq(header_long(&r, "anthropic-ratelimit-requests-limit"), 2);
		ck_assert_int_eq(header_long(&r, "anthropic-ratelimit-input-tokens-limit"), 40000);
		ck_assert_int_eq(header_long(&r, "anthropic-ratelimit-output-tokens-limit"), 8000);
		resp_free(&r);
	}
	post(sim, HELLO("claude-haiku-4-5", 5), &r);
	ck_assert_int_eq(r.status, 429);
	resp_free(&r);
	am_sim_set_limits(sim, 0, 0, 0);
	post(sim, HELLO("claude-haiku-4-5", 5), &r);
	ck_assert_int_eq(r.status, 200);
	resp_free(&r);
	finish(sim);
}
END_TEST

START_TEST(start_fails_on_a_taken_port)
{
	am_sim *a = start_default();
	am_sim_cfg cfg;
	am_sim_cfg_default(&cfg);
	cfg.port = am_sim_port(a);
	am_sim *b = NULL;
	am_err err;
	ck_assert_int_eq(am_sim_start(&b, &cfg, &err), -1);
	ck_assert_ptr_null(b);
	ck_assert(strstr(err.msg, "127.0.0.1"));
	am_sim_stop(a);
	am_sim_stop(NULL);
}
END_TEST

/* ---- message batches ---------------------------------------------------- */

static json_t *batch_call(am_sim *sim, const char *path, const char *body, long want)
{
	struct resp r;
	call(sim, path, body, false, NULL, &r);
	ck_assert_msg(r.status == want, "%s: status %ld, wanted %ld: %.300s", path, r.status, want,
	              r.body ? r.body : "");
	json_t *j = parse(&r);
	resp_free(&r);
	return j;
}

#define BREQ(id, model) \
	"{\"custom_id\":\"" id "\",\"params\":{\"model\":\"" model "\",\"max_tokens\":16," \
	"\"messages\":[{\"role\":\"user\",\"content\":\"hello " id "\"}]}}"

START_TEST(batches_lifecycle_shapes_and_results)
{
	am_sim_cfg cfg;
	am_sim_cfg_default(&cfg);
	cfg.batch_delay_ms = 300;
	am_sim *sim = start(&cfg);
	json_t *b = batch_call(sim, "/v1/messages/batches",
	                       "{\"requests\":[" BREQ("a1", "claude-sonnet-4-5") "," BREQ(
	                           "a2", "claude-haiku-4-5") "," BREQ("a3", "no-such-model") "]}",
	                       200);
	ck_assert_str_eq(jstr(b, "type"), "message_batch");
	ck_assert_str_eq(jstr(b, "processing_status"), "in_progress");
	ck_assert_int_eq(jint(b, "request_counts.processing"), 3);
	ck_assert(json_is_null(json_object_get(b, "results_url")));
	ck_assert(!strncmp(jstr(b, "id"), "msgbatch_01", 11));
	char path[160], rpath[200];
	snprintf(path, sizeof path, "/v1/messages/batches/%s", jstr(b, "id"));
	snprintf(rpath, sizeof rpath, "%s/results", path);
	json_decref(b);
	json_decref(batch_call(sim, rpath, NULL, 400)); /* not ended yet */
	usleep(350 * 1000);
	b = batch_call(sim, path, NULL, 200);
	ck_assert_str_eq(jstr(b, "processing_status"), "ended");
	ck_assert_int_eq(jint(b, "request_counts.processing"), 0);
	ck_assert_int_eq(jint(b, "request_counts.succeeded"), 2);
	ck_assert_int_eq(jint(b, "request_counts.errored"), 1);
	ck_assert_ptr_nonnull(strstr(jstr(b, "results_url"), rpath));
	json_decref(b);

	struct resp r;
	call(sim, rpath, NULL, false, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	int lines = 0, ok = 0, errored = 0;
	for (char *save = NULL, *l = strtok_r(r.body, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		json_t *j = json_loads(l, 0, NULL);
		ck_assert_ptr_nonnull(j);
		const char *type = jstr(j, "result.type");
		if (!strcmp(type, "succeeded")) {
			ok++;
			ck_assert_str_eq(jstr(j, "result.message.usage.service_tier"), "batch");
			ck_assert_int_gt(jint(j, "result.message.usage.output_tokens"), 0);
		} else {
			errored++;
			ck_assert_str_eq(jstr(j, "custom_id"), "a3");
			ck_assert_str_eq(jstr(j, "result.error.error.type"), "invalid_request_error");
		}
		lines++;
		json_decref(j);
	}
	resp_free(&r);
	ck_assert_int_eq(lines, 3);
	ck_assert_int_eq(ok, 2);
	ck_assert_int_eq(errored, 1);

	/* A second batch, cancelled at once: every request canceled. */
	b = batch_call(sim, "/v1/messages/batches",
	               "{\"requests\":[" BREQ("a1", "claude-sonnet-4-5") "]}", 200);
	snprintf(path, sizeof path, "/v1/messages/batches/%s/cancel", jstr(b, "id"));
	json_decref(b);
	b = batch_call(sim, path, "", 200);
	ck_assert_str_eq(jstr(b, "processing_status"), "canceling");
	json_decref(b);
	/* The list: newest first, paged. */
	b = batch_call(sim, "/v1/messages/batches?limit=1", NULL, 200);
	ck_assert(json_is_true(json_object_get(b, "has_more")));
	ck_assert_int_eq(json_array_size(json_object_get(b, "data")), 1);
	ck_assert_str_eq(jstr(json_array_get(json_object_get(b, "data"), 0), "processing_status"),
	                 "ended");
	ck_assert_int_eq(jint(json_array_get(json_object_get(b, "data"), 0),
	                      "request_counts.canceled"), 1);
	char next[200];
	snprintf(next, sizeof next, "/v1/messages/batches?limit=5&after_id=%s", jstr(b, "last_id"));
	json_decref(b);
	b = batch_call(sim, next, NULL, 200);
	ck_assert(json_is_false(json_object_get(b, "has_more")));
	ck_assert_int_eq(json_array_size(json_object_get(b, "data")), 1);
	json_decref(b);

	am_sim_stats st;
	am_sim_get_stats(sim, &st);
	ck_assert_int_eq(st.batches, 2);
	ck_assert_int_eq(st.batch_requests, 4);
	ck_assert_int_eq(st.batch_distinct, 3);
	ck_assert_int_eq(st.batch_repeated, 1);
	ck_assert_int_eq(st.batch_succeeded, 2);
	ck_assert_int_eq(st.batch_canceled, 1);
	ck_assert_int_gt(st.batch_output_tokens, 0);
	finish(sim);
}
END_TEST

START_TEST(batches_refuse_bad_shapes_and_inject_faults)
{
	am_sim_cfg cfg;
	am_sim_cfg_default(&cfg);
	cfg.batch_expire_pct = 100;
	cfg.batch_rpm = 4;
	am_sim *sim = start(&cfg);
	json_t *e = batch_call(sim, "/v1/messages/batches",
	                       "{\"requests\":[" BREQ("bad id", "claude-sonnet-4-5") "]}", 400);
	ck_assert_str_eq(jstr(e, "error.type"), "invalid_request_error");
	json_decref(e);
	e = batch_call(sim, "/v1/messages/batches",
	               "{\"requests\":[" BREQ("x", "claude-sonnet-4-5") "," BREQ(
	                   "x", "claude-sonnet-4-5") "]}",
	               400);
	json_decref(e);
	json_t *b = batch_call(sim, "/v1/messages/batches",
	                       "{\"requests\":[" BREQ("e1", "claude-sonnet-4-5") "]}", 200);
	char path[160];
	snprintf(path, sizeof path, "/v1/messages/batches/%s", jstr(b, "id"));
	json_decref(b);
	b = batch_call(sim, path, NULL, 200);
	ck_assert_int_eq(jint(b, "request_counts.expired"), 1);
	json_decref(b);
	/* The fifth call in the minute: the batch endpoints' own bucket. */
	struct resp r;
	call(sim, path, NULL, false, NULL, &r);
	ck_assert_int_eq(r.status, 429);
	ck_assert_int_ge(header_long(&r, "retry-after"), 1);
	resp_free(&r);
	/* The Messages endpoint is not limited by it. */
	json_decref(post_json(sim, "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":4,"
	                           "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", 200));
	finish(sim);
}
END_TEST


static Suite *suite(void)
{
	Suite *s = suite_create("sim");
	TCase *pure = tcase_create("pure");
	tcase_add_test(pure, bucket_refill_is_exact);
	tcase_add_test(pure, bucket_refund_and_resize);
	tcase_add_test(pure, text_token_estimate);
	tcase_add_test(pure, text_rejects_bad_prompts);
	tcase_add_test(pure, text_answers_are_deterministic_prefixes);
	tcase_add_test(pure, cache_read_write_expire_bounded);
	suite_add_tcase(s, pure);
	TCase *srv = tcase_create("server");
	tcase_set_timeout(srv, 60);
	tcase_add_test(srv, json_answer_has_the_documented_shape);
	tcase_add_test(srv, batches_lifecycle_shapes_and_results);
	tcase_add_test(srv, batches_refuse_bad_shapes_and_inject_faults);
	tcase_add_test(srv, sse_follows_the_documented_sequence);
	tcase_add_test(srv, auth_and_version_errors);
	tcase_add_test(srv, todays_sdk_headers);
	tcase_add_test(srv, served_dimensions_in_usage);
	tcase_add_test(srv, request_validation);
	tcase_add_test(srv, bodies_over_32mb_get_413);
	tcase_add_test(srv, count_tokens_matches_message_usage);
	tcase_add_test(srv, count_tokens_has_its_own_limit);
	tcase_add_test(srv, rpm_bucket_gives_429_with_retry_after);
	tcase_add_test(srv, rpm_burst_is_a_short_bucket);
	tcase_add_test(srv, token_buckets_headers_and_refund);
	tcase_add_test(srv, prompt_cache_writes_then_reads);
	tcase_add_test(srv, two_breakpoints_split_by_ttl);
	tcase_add_test(srv, aliases_answer_with_dated_ids);
	tcase_add_test(srv, answers_are_deterministic_by_seed);
	tcase_add_test(srv, max_tokens_and_stop_sequences);
	tcase_add_test(srv, forced_faults_by_header);
	tcase_add_test(srv, midstream_error_and_truncation);
	tcase_add_test(srv, random_faults_follow_the_seed);
	tcase_add_test(srv, latency_and_pacing_take_real_time);
	tcase_add_test(srv, sixty_four_paced_streams_at_once);
	tcase_add_test(srv, stop_ends_waiting_calls_promptly);
	tcase_add_test(srv, limits_change_at_run_time);
	tcase_add_test(srv, start_fails_on_a_taken_port);
	suite_add_tcase(s, srv);
	return s;
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = check_run(suite());
	curl_global_cleanup();
	return rc;
}
