/* bench_limiter: cost of the limiter's hot path. Build Release.
 *
 * What one op is: ticket_init + acquire (granted at once: the pool's rates
 * are far above anything reached) + settle (a refund on ITOK and OTOK, as a
 * typical response uses less than it reserved) on a pool with all four
 * dimensions limited (RPM, ITPM, OTPM and the 1 s request bucket). `now` is
 * passed in, as the worker does (it reads the clock once per pass): the
 * loop advances it by 1 us per op and reads no clock. A real pass settles
 * other tickets than it grants; same calls, same cost.
 *
 * Figures (ns per op, medians over ROUNDS rounds of N ops each):
 *   acquire_settle_ns        the op above
 *   acquire_sent_settle_ns   the worker's whole cycle for a call that
 *                            needs no correction from headers: the op plus
 *                            am_rl_sent
 * Method: each round times one chunk of each figure, well under a scheduler
 * time slice, so that on a shared machine most chunks run unpreempted; the
 * median over the rounds discards the chunks that were preempted. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "clock.h"
#include "limiter.h"

#ifndef ROUNDS
#define ROUNDS 401
#endif
#define N 20000       /* ops per chunk (well under 1 ms) */
#define T0 (1000LL * 1000000000LL)

static am_rl *make(void)
{
	am_rl_pool_cfg pc;
	/* far above any rate reached here: every acquire is granted at once */
	am_rl_pool_cfg_init(&pc, "bench", 6000000000LL, 60000000000LL, 60000000000LL);
	pc.max_in_flight = 1024;
	am_rl_cfg cfg;
	am_rl_cfg_init(&cfg);
	cfg.pools = &pc;
	cfg.npools = 1;
	am_rl *rl = NULL;
	am_err err;
	if (am_rl_create(&rl, &cfg, T0, &err) < 0) {
		fprintf(stderr, "bench_limiter: %s\n", err.msg);
		exit(1);
	}
	am_rl_pool_stats st;
	am_rl_stats(rl, 0, T0, &st);
	for (int i = 0; i < AM_RL_NDIMS; i++)
		if (!st.dim[i].limited) {
			fprintf(stderr, "bench_limiter: dimension %s is not limited\n", st.dim[i].name);
			exit(1);
		}
	return rl;
}

/* N ops from *now on, 1 us apart. */
static void loop_limiter(am_rl *rl, int64_t *now, bool sent)
{
	static const int64_t cost[AM_RL_NCOST] = { 1, 2000, 1024 };
	static const int64_t used[AM_RL_NCOST] = { 1, 1800, 400 };
	am_rl_ticket t = { 0 };
	int64_t tn = *now;
	for (int i = 0; i < N; i++, tn += 1000) {
		am_rl_ticket_init(rl, &t, 0, cost, NULL, NULL);
		if (am_rl_acquire(rl, &t, tn, NULL) != 1) {
			/* the figure would not be the hot path's */
			fprintf(stderr, "bench_limiter: an acquire was not granted at once\n");
			exit(1);
		}
		if (sent)
			am_rl_sent(rl, &t, tn);
		am_rl_settle(rl, &t, used, tn);
	}
	*now = tn;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof v[0], cmp);
	return v[n / 2];
}

int main(void)
{
	const am_clock *clk = am_clock_system();
	static double plain[ROUNDS], sent[ROUNDS];
	am_rl *rl = make(), *rl_sent = make();
	int64_t now = T0, now_sent = T0;
	for (int r = 0; r < ROUNDS; r++) {
		int64_t t0 = am_clock_mono(clk);
		loop_limiter(rl, &now, false);
		int64_t t1 = am_clock_mono(clk);
		loop_limiter(rl_sent, &now_sent, true);
		int64_t t2 = am_clock_mono(clk);
		plain[r] = (double)(t1 - t0) / N;
		sent[r] = (double)(t2 - t1) / N;
	}
	am_rl_free(rl);
	am_rl_free(rl_sent);
	printf("acquire_settle_ns %.1f ns\n", median(plain, ROUNDS));
	printf("acquire_sent_settle_ns %.1f ns\n", median(sent, ROUNDS));
	return 0;
}
