/* bench_proxy: what the proxy adds to a call, against the in-process
 * simulator (no latency, no pacing, no limits) and a real worker on a
 * ledger in a private directory - everything in one process, as
 * `aimeter --proxy` runs it.
 *
 *   proxy_added_latency_us_p50           median of (through the proxy - direct)
 *                                        for small non-streaming calls, one
 *                                        keep-alive connection each way, the
 *                                        two alternated so that both see the
 *                                        same machine
 *   proxy_stream_first_byte_added_us_p50 the same for the first byte of a
 *                                        streamed answer (time to first byte)
 *   proxy_requests_per_s                 small calls through the proxy from
 *                                        8 client threads, each recorded
 *   direct_requests_per_s                the same straight to the simulator
 *
 * Optional arguments: calls per latency figure (default 2000), seconds for
 * the throughput figures (default 3). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "clock.h"
#include "pricing.h"
#include "proxy.h"
#include "sim.h"
#include "tmpdir.h"
#include "workstart.h"

static const char *const config =
        "{\"limits\": {\"rpm\": 100000000, \"itpm\": 1000000000000, \"otpm\": 1000000000000,"
        " \"max_in_flight\": 1024, \"init_fill_pct\": 100}, \"worker\": {\"concurrency\": 1024},"
        " \"budget\": {\"daily_usd\": \"0\"}, \"cache\": {\"enabled\": false}}";
static const char *const plain =
        "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":8,"
        "\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}";
static const char *const streamed =
        "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":8,\"stream\":true,"
        "\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}";

static size_t sink(char *p, size_t size, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return size * n;
}

typedef struct client {
	CURL *c;
	struct curl_slist *h;
	char url[160];
} client;

static void client_init(client *k, const char *base)
{
	k->c = curl_easy_init();
	k->h = NULL;
	k->h = curl_slist_append(k->h, "x-api-key: bench-key-0001");
	k->h = curl_slist_append(k->h, "anthropic-version: 2023-06-01");
	k->h = curl_slist_append(k->h, "content-type: application/json");
	snprintf(k->url, sizeof k->url, "%s/v1/messages", base);
	curl_easy_setopt(k->c, CURLOPT_URL, k->url);
	curl_easy_setopt(k->c, CURLOPT_HTTPHEADER, k->h);
	curl_easy_setopt(k->c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(k->c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(k->c, CURLOPT_TCP_NODELAY, 1L);
}

static void client_free(client *k)
{
	curl_slist_free_all(k->h);
	curl_easy_cleanup(k->c);
}

/* One call: its total time (or time to first byte) in ns; -1 on failure. */
static int64_t timed(client *k, const char *body, bool first_byte)
{
	curl_easy_setopt(k->c, CURLOPT_POSTFIELDS, body);
	long code = 0;
	if (curl_easy_perform(k->c) != CURLE_OK ||
	    curl_easy_getinfo(k->c, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK || code != 200)
		return -1;
	curl_off_t us = 0;
	curl_easy_getinfo(k->c, first_byte ? CURLINFO_STARTTRANSFER_TIME_T : CURLINFO_TOTAL_TIME_T,
	                  &us);
	return (int64_t)us * 1000;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static int64_t median(int64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp64);
	return v[n / 2];
}

/* The median of via - direct over n alternated calls, in microseconds. */
static double added_us(const char *sim_url, const char *px_url, const char *body, bool first,
                       int n, double *direct_us)
{
	client d, p;
	client_init(&d, sim_url);
	client_init(&p, px_url);
	int64_t *dv = calloc((size_t)n, sizeof *dv), *pv = calloc((size_t)n, sizeof *pv);
	for (int i = 0; i < 50; i++) { /* warm: connections, caches, the limiter's estimates */
		timed(&d, body, first);
		timed(&p, body, first);
	}
	int got = 0;
	for (int i = 0; i < n; i++) {
		int64_t a = timed(&d, body, first), b = timed(&p, body, first);
		if (a < 0 || b < 0) {
			fprintf(stderr, "bench_proxy: a call failed\n");
			exit(1);
		}
		dv[got] = a;
		pv[got++] = b;
	}
	int64_t md = median(dv, got), mp = median(pv, got);
	*direct_us = (double)md / 1000.0;
	free(dv);
	free(pv);
	client_free(&d);
	client_free(&p);
	return (double)(mp - md) / 1000.0;
}

struct loop {
	const char *url;
	int64_t deadline;
	long done, failed;
};

static void *run(void *arg)
{
	struct loop *l = arg;
	client k;
	client_init(&k, l->url);
	const am_clock *clk = am_clock_system();
	while (am_clock_mono(clk) < l->deadline) {
		if (timed(&k, plain, false) >= 0)
			l->done++;
		else
			l->failed++;
	}
	client_free(&k);
	return NULL;
}

static double per_s(const char *url, int threads, double secs, long *failed)
{
	struct loop l[16];
	pthread_t t[16];
	const am_clock *clk = am_clock_system();
	int64_t start = am_clock_mono(clk), deadline = start + (int64_t)(secs * AM_NS_PER_SEC);
	for (int i = 0; i < threads; i++) {
		l[i] = (struct loop){ url, deadline, 0, 0 };
		pthread_create(&t[i], NULL, run, &l[i]);
	}
	long done = 0;
	*failed = 0;
	for (int i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		done += l[i].done;
		*failed += l[i].failed;
	}
	return (double)done / ((double)(am_clock_mono(clk) - start) / AM_NS_PER_SEC);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 2000;
	double secs = argc > 2 ? atof(argv[2]) : 3.0;
	if (n < 10)
		n = 10;
	curl_global_init(CURL_GLOBAL_ALL);
	char dir[512], db[600];
	am_err err;
	if (am_test_tmpdir("bench_proxy", dir, sizeof dir)) {
		fprintf(stderr, "bench_proxy: no temporary directory\n");
		return 1;
	}
	snprintf(db, sizeof db, "%s/ledger.db", dir);
	am_pricing *pricing;
	if (am_test_pricing(&pricing, &err)) {
		fprintf(stderr, "bench_proxy: %s\n", err.msg);
		return 1;
	}
	am_sim_cfg sc;
	am_sim_cfg_default(&sc);
	am_sim *sim;
	if (am_sim_start(&sim, &sc, &err)) {
		fprintf(stderr, "bench_proxy: %s\n", err.msg);
		return 1;
	}
	am_worker *w = am_test_worker(config, pricing, db, am_sim_url(sim), "console", false, &err);
	if (!w) {
		fprintf(stderr, "bench_proxy: %s\n", err.msg);
		return 1;
	}
	am_proxy_opts po;
	memset(&po, 0, sizeof po);
	po.worker = w;
	po.upstream = am_sim_url(sim);
	po.max_wait_ns = 60 * AM_NS_PER_SEC;
	am_proxy *px;
	if (am_proxy_start(&px, &po, &err)) {
		fprintf(stderr, "bench_proxy: %s\n", err.msg);
		return 1;
	}
	printf("cores %ld\n", sysconf(_SC_NPROCESSORS_ONLN));
	double direct;
	double add = added_us(am_sim_url(sim), am_proxy_url(px), plain, false, n, &direct);
	printf("direct_latency_us_p50 %.0f us\n", direct);
	printf("proxy_added_latency_us_p50 %.0f us\n", add);
	add = added_us(am_sim_url(sim), am_proxy_url(px), streamed, true, n, &direct);
	printf("direct_stream_first_byte_us_p50 %.0f us\n", direct);
	printf("proxy_stream_first_byte_added_us_p50 %.0f us\n", add);
	long failed;
	double rate = per_s(am_proxy_url(px), 8, secs, &failed);
	printf("proxy_requests_per_s %.0f req/s\n", rate);
	if (failed)
		printf("proxy_failed %ld calls\n", failed);
	rate = per_s(am_sim_url(sim), 8, secs, &failed);
	printf("direct_requests_per_s %.0f req/s\n", rate);
	am_proxy_stop(px);
	am_worker_stop(w, 2000);
	am_sim_stop(sim);
	am_pricing_free(pricing);
	am_test_rmtree(dir);
	curl_global_cleanup();
	return 0;
}
