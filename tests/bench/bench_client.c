/* bench_client: what the client costs over a bare libcurl loop.
 *
 * Both run in the same process against the same in-process simulator
 * (unlimited, no latency, short non-streamed answers):
 *   - throughput: CONC requests kept in flight for a fixed time, by the
 *     client (am_client_run loop) and by a minimal curl_multi loop that
 *     sends the same bytes and discards the answer;
 *   - added latency: one request at a time, client and a keep-alive
 *     curl_easy_perform loop, interleaved in rounds so drift hits both; the
 *     figure is the difference of the medians.
 * Prints `<figure> <value> <unit>` lines. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "anthropic.h"
#include "client.h"
#include "sim.h"

#define CONC 16
#define RUN_NS (2 * 1000000000LL)
#define ROUNDS 6
#define PER_ROUND 300

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static int64_t median(int64_t *v, size_t n)
{
	qsort(v, n, sizeof *v, cmp64);
	return v[n / 2];
}

static const char *const HEADERS[] = {"x-api-key: sk-ant-bench", "anthropic-version: 2023-06-01",
                                      "content-type: application/json", "Expect:"};

/* ---- the client ----------------------------------------------------------- */

struct cstate {
	am_client *c;
	const char *body;
	int64_t done, failed;
	bool refill;
};

static void start_one(struct cstate *st);

static void c_done(void *ctx, am_prov_result *r)
{
	struct cstate *st = ctx;
	if (r->err == AM_PERR_NONE)
		st->done++;
	else
		st->failed++;
	if (st->refill)
		start_one(st);
}

static void start_one(struct cstate *st)
{
	am_client_req rq = {.body = st->body};
	am_client_cb cb = {NULL, NULL, c_done, st};
	if (!am_client_start(st->c, &rq, &cb, NULL)) {
		fprintf(stderr, "bench: start failed\n");
		exit(1);
	}
}

static double client_throughput(struct cstate *st)
{
	st->done = st->failed = 0;
	st->refill = true;
	for (int i = 0; i < CONC; i++)
		start_one(st);
	int64_t t0 = now_ns(), end = t0 + RUN_NS;
	while (now_ns() < end)
		am_client_run(st->c, 10, NULL);
	st->refill = false;
	int64_t counted = st->done, took = now_ns() - t0;
	while (am_client_pending(st->c))
		am_client_run(st->c, 10, NULL);
	return (double)counted * 1e9 / (double)took;
}

static int64_t client_one(struct cstate *st)
{
	int64_t before = st->done + st->failed, t0 = now_ns();
	start_one(st);
	while (st->done + st->failed == before)
		am_client_run(st->c, 100, NULL);
	return now_ns() - t0;
}

/* ---- the bare libcurl baseline -------------------------------------------------- */

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
	(void)p;
	*(size_t *)ud += size * n;
	return size * n;
}

struct bare {
	CURL *easy;
	size_t got;
};

static void bare_setup(struct bare *b, const char *url, const char *body, struct curl_slist *hdrs)
{
	curl_easy_reset(b->easy);
	curl_easy_setopt(b->easy, CURLOPT_URL, url);
	curl_easy_setopt(b->easy, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(b->easy, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(b->easy, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(b->easy, CURLOPT_WRITEDATA, &b->got);
	curl_easy_setopt(b->easy, CURLOPT_NOSIGNAL, 1L);
}

static double bare_throughput(const char *url, const char *body, struct curl_slist *hdrs)
{
	CURLM *m = curl_multi_init();
	struct bare b[CONC];
	for (int i = 0; i < CONC; i++) {
		b[i].easy = curl_easy_init();
		b[i].got = 0;
		bare_setup(&b[i], url, body, hdrs);
		curl_easy_setopt(b[i].easy, CURLOPT_PRIVATE, (void *)&b[i]);
		curl_multi_add_handle(m, b[i].easy);
	}
	int64_t done = 0, counted = 0, took = 0, t0 = now_ns(), end = t0 + RUN_NS;
	int running = CONC;
	bool refill = true;
	while (running || refill) {
		curl_multi_perform(m, &running);
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(m, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			CURL *e = msg->easy_handle;
			long code = 0;
			curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
			done += msg->data.result == CURLE_OK && code == 200;
			curl_multi_remove_handle(m, e);
			if (refill) {
				curl_multi_add_handle(m, e);
				running++;
			}
		}
		if (refill && now_ns() >= end) {
			refill = false;
			counted = done;
			took = now_ns() - t0;
		}
		if (running)
			curl_multi_poll(m, NULL, 0, 10, NULL);
	}
	double rate = (double)counted * 1e9 / (double)took;
	for (int i = 0; i < CONC; i++)
		curl_easy_cleanup(b[i].easy);
	curl_multi_cleanup(m);
	return rate;
}

static int64_t bare_one(struct bare *b)
{
	int64_t t0 = now_ns();
	CURLcode rc = curl_easy_perform(b->easy);
	if (rc != CURLE_OK) {
		fprintf(stderr, "bench: baseline failed: %s\n", curl_easy_strerror(rc));
		exit(1);
	}
	return now_ns() - t0;
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	am_sim_cfg cfg;
	am_sim_cfg_default(&cfg);
	am_sim *sim;
	am_err err;
	if (am_sim_start(&sim, &cfg, &err) != 0) {
		fprintf(stderr, "bench: %s\n", err.msg);
		return 1;
	}
	am_prov_message msg = {.role = "user", .text = "Hi."};
	am_prov_request prq = {
	    .model = "claude-haiku-4-5", .max_tokens = 8, .messages = &msg, .nmessages = 1};
	char *body;
	if (am_prov_build_body(&prq, AM_PROV_MESSAGES, &body, NULL, &err) != 0)
		return 1;

	am_client_opts o;
	am_client_opts_default(&o);
	o.base_url = am_sim_url(sim);
	o.api_key = "sk-ant-bench";
	struct cstate st = {.body = body};
	if (am_client_new(&st.c, &o, &err) != 0) {
		fprintf(stderr, "bench: %s\n", err.msg);
		return 1;
	}
	char url[128];
	snprintf(url, sizeof url, "%s/v1/messages", am_sim_url(sim));
	struct curl_slist *hdrs = NULL;
	for (size_t i = 0; i < sizeof HEADERS / sizeof HEADERS[0]; i++)
		hdrs = curl_slist_append(hdrs, HEADERS[i]);

	/* Warm both paths (connections, caches) before measuring. */
	struct bare one = {curl_easy_init(), 0};
	bare_setup(&one, url, body, hdrs);
	for (int i = 0; i < 50; i++) {
		client_one(&st);
		bare_one(&one);
	}

	double base_rps = bare_throughput(url, body, hdrs);
	double client_rps = client_throughput(&st);

	int64_t *lc = malloc(sizeof(int64_t) * ROUNDS * PER_ROUND);
	int64_t *lb = malloc(sizeof(int64_t) * ROUNDS * PER_ROUND);
	size_t n = 0;
	for (int r = 0; r < ROUNDS; r++) {
		for (int i = 0; i < PER_ROUND; i++) {
			lb[n + (size_t)i] = bare_one(&one);
			lc[n + (size_t)i] = client_one(&st);
		}
		n += PER_ROUND;
	}
	int64_t pc = median(lc, n), pb = median(lb, n);
	if (st.failed) {
		fprintf(stderr, "bench: %lld client calls failed\n", (long long)st.failed);
		return 1;
	}
	printf("client_requests_per_s %.0f req/s\n", client_rps);
	printf("baseline_requests_per_s %.0f req/s\n", base_rps);
	printf("client_latency_us_p50 %.1f us\n", (double)pc / 1e3);
	printf("baseline_latency_us_p50 %.1f us\n", (double)pb / 1e3);
	printf("client_added_latency_us_p50 %.1f us\n", (double)(pc - pb) / 1e3);
	printf("concurrency %d streams\n", CONC);

	free(lc);
	free(lb);
	curl_easy_cleanup(one.easy);
	curl_slist_free_all(hdrs);
	am_client_free(st.c);
	free(body);
	am_sim_stop(sim);
	curl_global_cleanup();
	return 0;
}
