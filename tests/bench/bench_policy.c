/* bench_policy: what the selector, the budget guard and the response cache
 * add to each call, the pieces of pipeline_added_us. The cache runs on a
 * ledger database (WAL, synchronous=NORMAL) in a temporary directory, filled
 * to its entry cap so that every later put also evicts.
 *
 * Prints: selector_choose_ns, budget_reserve_settle_ns, cache_key_us,
 * cache_put_us (below the cap), cache_get_miss_us, cache_get_hit_us,
 * cache_put_evict_us (at the cap): medians. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "cache.h"
#include "clock.h"
#include "config.h"
#include "ledger.h"
#include "money.h"
#include "selector.h"
#include "tmpdir.h"

enum { N = 20000, CAP = 10000 };

static int64_t samples[N];

static int cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static int64_t median(int n)
{
	qsort(samples, (size_t)n, sizeof samples[0], cmp);
	return samples[n / 2];
}

static int64_t now_ns(void)
{
	return am_clock_mono(am_clock_system());
}

static void bench_selector(void)
{
	am_config conf;
	am_config_init(&conf);
	am_sel_config cfg;
	if (am_sel_config_from(&conf, &cfg, NULL) < 0)
		exit(1);
	am_sel_choice c;
	volatile int sink = 0;
	for (int i = 0; i < N; i++) {
		am_sel_input in = {.chars = i % 3000, .budget_pct = i % 100, .after_529 = i % 50 == 0};
		int64_t t = now_ns();
		am_sel_choose(&cfg, &in, &c);
		samples[i] = now_ns() - t;
		sink += c.model[0];
	}
	(void)sink;
	printf("selector_choose_ns %lld ns\n", (long long)median(N));
}

static void bench_budget(void)
{
	am_budget_config cfg = {.day_limit_pusd = 1000 * AM_PUSD_PER_USD, .nalerts = 1,
	                        .alert_pct = {80}, .max_reservations = 4096};
	am_budget *b;
	am_budget_now now = {.day = "2025-03-14", .month = "2025-03", .wall_ns = 0,
	                     .day_left_s = 3600};
	if (am_budget_new(&b, &cfg, &now, 0, 0, false, NULL) < 0)
		exit(1);
	am_budget_cost cost = {.pusd = 10000000};
	for (int i = 0; i < N; i++) {
		am_budget_grant g;
		now.wall_ns += AM_NS_PER_MS;
		int64_t t = now_ns();
		am_budget_reserve(b, &now, &cost, &g, NULL);
		am_budget_settle(b, &now, g.id, cost.pusd / 2, NULL, NULL, NULL);
		samples[i] = now_ns() - t;
	}
	am_budget_free(b);
	printf("budget_reserve_settle_ns %lld ns\n", (long long)median(N));
}

/* A typical console request: a short system prompt and a few turns, ~2 KB. */
static json_t *body(int i)
{
	char turn[600];
	memset(turn, 'a' + i % 26, sizeof turn - 1);
	turn[sizeof turn - 1] = '\0';
	return json_pack("{s:s, s:i, s:s, s:f, s:[{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:i}]}",
	                 "model", "claude-sonnet-4-5", "max_tokens", 1024, "system",
	                 "You are a terse assistant.", "temperature", 0.2, "messages",
	                 "role", "user", "content", turn, "role", "assistant", "content", turn,
	                 "role", "user", "content", turn, "role", "user", "content", i);
}

static void bench_cache(void)
{
	char dir[512], path[600];
	if (am_test_tmpdir("bench-policy", dir, sizeof dir) < 0)
		exit(1);
	snprintf(path, sizeof path, "%s/ledger.db", dir);
	am_ledger *ledger;
	am_err err;
	if (am_ledger_open(&ledger, path, NULL, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		exit(1);
	}
	am_cache_config cfg = {.enabled = true, .ttl_s = 86400, .max_entries = CAP};
	am_cache *c;
	if (am_cache_open(&c, am_ledger_db(ledger), &cfg, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		exit(1);
	}
	static uint8_t keys[N][AM_CACHE_KEY_LEN];
	for (int i = 0; i < N; i++) {
		json_t *j = body(i);
		int64_t t = now_ns();
		am_cache_key(j, keys[i], NULL);
		samples[i] = now_ns() - t;
		json_decref(j);
	}
	printf("cache_key_us %.1f us\n", (double)median(N) / 1e3);

	am_cache_answer a;
	memset(&a, 0, sizeof a);
	strcpy(a.model, "claude-sonnet-4-5-20250929");
	strcpy(a.stop_reason, "end_turn");
	char text[1500];
	memset(text, 'z', sizeof text - 1);
	text[sizeof text - 1] = '\0';
	a.text = text;
	a.usage = (am_usage){.input_tokens = 500, .output_tokens = 300};
	int64_t wall = 1741953600LL * AM_NS_PER_SEC;
	for (int i = 0; i < CAP; i++) { /* fill to the cap */
		int64_t t = now_ns();
		am_cache_put(c, keys[i], &a, wall + i, NULL, NULL);
		samples[i] = now_ns() - t;
	}
	printf("cache_put_us %.1f us\n", (double)median(CAP) / 1e3);

	am_cache_answer got;
	am_cache_result r;
	for (int i = 0; i < N - CAP; i++) {
		int64_t t = now_ns();
		am_cache_get(c, keys[CAP + i], wall + CAP + i, &got, &r, NULL);
		samples[i] = now_ns() - t;
	}
	printf("cache_get_miss_us %.1f us\n", (double)median(N - CAP) / 1e3);
	for (int i = 0; i < N - CAP; i++) {
		int64_t t = now_ns();
		am_cache_get(c, keys[i], wall + N + i, &got, &r, NULL);
		samples[i] = now_ns() - t;
		am_cache_answer_free(&got);
	}
	printf("cache_get_hit_us %.1f us\n", (double)median(N - CAP) / 1e3);
	for (int i = 0; i < N - CAP; i++) {
		int64_t t = now_ns();
		am_cache_put(c, keys[CAP + i], &a, wall + 2 * N + i, NULL, NULL);
		samples[i] = now_ns() - t;
	}
	printf("cache_put_evict_us %.1f us\n", (double)median(N - CAP) / 1e3);
	am_cache_counts s;
	am_cache_stats(c, &s);
	if (s.entries != CAP)
		fprintf(stderr, "bench_policy: %lld entries, expected %d\n", (long long)s.entries, CAP);
	am_cache_close(c);
	am_ledger_close(ledger);
	am_test_rmtree(dir);
}

int main(void)
{
	bench_selector();
	bench_budget();
	bench_cache();
	return 0;
}
