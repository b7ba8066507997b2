/* bench_limiter: cost of one acquire + settle on the limiter's hot path,
 * with the clock read that a caller makes for it, single-threaded and with
 * 8 threads on one pool; and, in the same run, the floor it is compared
 * with: a bare monotonic clock read plus an uncontended mutex lock/unlock.
 * Prints `<figure> <value> ns` (median of 5 runs). Build Release. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "clock.h"
#include "limiter.h"

#define RUNS 5
#define N1 4000000
#define NT 8
#define NPER 500000

static am_rl *make(void)
{
	am_rl_pool_cfg pc;
	/* far above any rate reached here: every acquire is granted at once */
	am_rl_pool_cfg_init(&pc, "bench", 60000000000LL, 60000000000LL, 60000000000LL);
	pc.max_in_flight = 1024;
	am_rl_cfg cfg;
	am_rl_cfg_init(&cfg);
	cfg.pools = &pc;
	cfg.npools = 1;
	am_rl *rl = NULL;
	am_err err;
	if (am_rl_create(&rl, &cfg, am_clock_mono(am_clock_system()), &err) < 0) {
		fprintf(stderr, "bench_limiter: %s\n", err.msg);
		exit(1);
	}
	return rl;
}

static long long loop(am_rl *rl, int n)
{
	const am_clock *clk = am_clock_system();
	static const int64_t cost[AM_RL_NCOST] = { 1, 2000, 1024 };
	static const int64_t used[AM_RL_NCOST] = { 1, 1800, 400 };
	am_rl_ticket t = { 0 };
	long long miss = 0;
	for (int i = 0; i < n; i++) {
		int64_t now = am_clock_mono(clk);
		am_rl_ticket_init(rl, &t, 0, cost, NULL, NULL);
		if (am_rl_acquire(rl, &t, now, NULL) != 1)
			miss++;
		am_rl_settle(rl, &t, used, now);
	}
	return miss;
}

static void *thread_main(void *arg)
{
	loop(arg, NPER);
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v)
{
	qsort(v, RUNS, sizeof v[0], cmp);
	return v[RUNS / 2];
}

int main(void)
{
	const am_clock *clk = am_clock_system();
	double base[RUNS], one[RUNS], eight[RUNS];
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	volatile int64_t sink = 0;
	for (int r = 0; r < RUNS; r++) {
		int64_t t0 = am_clock_mono(clk);
		for (int i = 0; i < N1; i++) {
			int64_t now = am_clock_mono(clk);
			pthread_mutex_lock(&mu);
			sink += now;
			pthread_mutex_unlock(&mu);
		}
		base[r] = (double)(am_clock_mono(clk) - t0) / N1;

		am_rl *rl = make();
		t0 = am_clock_mono(clk);
		long long miss = loop(rl, N1);
		one[r] = (double)(am_clock_mono(clk) - t0) / N1;
		if (miss) {
			fprintf(stderr, "bench_limiter: %lld acquires were not immediate\n", miss);
			return 1;
		}

		pthread_t th[NT];
		t0 = am_clock_mono(clk);
		for (int i = 0; i < NT; i++)
			pthread_create(&th[i], NULL, thread_main, rl);
		for (int i = 0; i < NT; i++)
			pthread_join(th[i], NULL);
		eight[r] = (double)(am_clock_mono(clk) - t0) / ((double)NT * NPER);
		am_rl_free(rl);
	}
	printf("baseline_clock_mutex_ns %.1f ns\n", median(base));
	printf("acquire_settle_1t_ns %.1f ns\n", median(one));
	printf("acquire_settle_8t_ns %.1f ns\n", median(eight));
	return 0;
}
