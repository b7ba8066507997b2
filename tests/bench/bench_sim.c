/* bench_sim: how many small /v1/messages calls per second the in-process
 * simulator answers over keep-alive connections, driven by plain libcurl
 * easy loops (one thread per connection). The client's own benchmark
 * (bench_client) needs the simulator well above 2,000 requests/s, so that
 * what it measures is the client.
 *
 * Prints `sim_requests_per_s_<N>conn <value> req/s` for 1, 2 and 8
 * connections, and `sim_stream_requests_per_s_2conn` for small SSE calls.
 * Optional argument: seconds per figure (default 2). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "clock.h"
#include "sim.h"

struct worker {
	const char *url;
	const char *body;
	int64_t deadline;
	long done, failed;
};

static size_t sink(char *p, size_t size, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return size * n;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	h = curl_slist_append(h, "x-api-key: bench");
	h = curl_slist_append(h, "anthropic-version: 2023-06-01");
	h = curl_slist_append(h, "content-type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, w->url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, w->body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	const am_clock *clk = am_clock_system();
	while (am_clock_mono(clk) < w->deadline) {
		long code = 0;
		if (curl_easy_perform(c) == CURLE_OK &&
		    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code == 200)
			w->done++;
		else
			w->failed++;
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return NULL;
}

static void figure(const char *name, const char *url, const char *body, int conns, double secs)
{
	struct worker w[16];
	pthread_t t[16];
	const am_clock *clk = am_clock_system();
	int64_t start = am_clock_mono(clk);
	int64_t deadline = start + (int64_t)(secs * AM_NS_PER_SEC);
	for (int i = 0; i < conns; i++) {
		w[i] = (struct worker){url, body, deadline, 0, 0};
		pthread_create(&t[i], NULL, run, &w[i]);
	}
	long done = 0, failed = 0;
	for (int i = 0; i < conns; i++) {
		pthread_join(t[i], NULL);
		done += w[i].done;
		failed += w[i].failed;
	}
	double elapsed = (double)(am_clock_mono(clk) - start) / AM_NS_PER_SEC;
	printf("%s %.0f req/s\n", name, (double)done / elapsed);
	if (failed)
		fprintf(stderr, "bench_sim: %s: %ld failed requests\n", name, failed);
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 2.0;
	if (secs <= 0)
		secs = 2.0;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	am_sim_cfg cfg;
	am_sim_cfg_default(&cfg);
	am_sim *sim;
	am_err err;
	if (am_sim_start(&sim, &cfg, &err)) {
		fprintf(stderr, "bench_sim: %s\n", err.msg);
		return 1;
	}
	char url[128];
	snprintf(url, sizeof url, "%s/v1/messages", am_sim_url(sim));
	const char *json = "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":16,"
	                   "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}";
	const char *sse = "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":16,\"stream\":true,"
	                  "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}";
	figure("sim_requests_per_s_1conn", url, json, 1, secs);
	figure("sim_requests_per_s_2conn", url, json, 2, secs);
	figure("sim_requests_per_s_8conn", url, json, 8, secs);
	figure("sim_stream_requests_per_s_2conn", url, sse, 2, secs);
	am_sim_stop(sim);
	curl_global_cleanup();
	return 0;
}
