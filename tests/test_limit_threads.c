/* test_limit_threads: the limiter under real threads (run it under TSan).
 * Frozen clock: 8 threads racing try_acquire get exactly floor(b / c)
 * grants (x/time/rate's TestSimultaneousRequests). Moving clock: producers,
 * a worker that polls on next_event, and an observer reading snapshots,
 * all with timestamps read before the lock (so they arrive out of order);
 * total grants stay within b + r * elapsed + 1 on every dimension. */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "limitfix.h"
#include "limiter.h"
#include "snapshot.h"

#define NTHREADS 8
#define T0 (50 * LF_S)

struct shared {
	am_rl *rl;
	atomic_llong clock;    /* fake monotonic ns */
	atomic_llong granted[AM_RL_NCOST];
	atomic_int stop;
	int iters;
	uint64_t seed;
};

static void *frozen_worker(void *arg)
{
	struct shared *sh = arg;
	for (int i = 0; i < sh->iters; i++) {
		am_rl_ticket t = { 0 };
		lf_ticket(sh->rl, &t, 0, 1, 7, 0);
		if (am_rl_try_acquire(sh->rl, &t, T0, NULL, NULL) == 1)
			atomic_fetch_add(&sh->granted[AM_RL_ITOK], 1);
	}
	return NULL;
}

START_TEST(frozen_clock_exact_grants)
{
	am_rl_pool_cfg pc = lf_pool("p", 0, 1000, 0); /* b = 1000 */
	pc.max_in_flight = 100000;
	struct shared sh = { .rl = lf_new(&pc, 1, 32, T0), .iters = 500 };
	pthread_t th[NTHREADS];
	for (int i = 0; i < NTHREADS; i++)
		pthread_create(&th[i], NULL, frozen_worker, &sh);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	ck_assert_int_eq(atomic_load(&sh.granted[AM_RL_ITOK]), 1000 / 7);
	am_rl_free(sh.rl);
}
END_TEST

/* Units actually used (settled); cancelled grants were refunded. */
static void count(struct shared *sh, const int64_t *actual)
{
	for (int d = 0; d < AM_RL_NCOST; d++)
		atomic_fetch_add(&sh->granted[d], actual[d]);
}

/* A producer: one ticket at a time; acquire or try, then settle or cancel. */
static void *producer(void *arg)
{
	struct shared *sh = arg;
	uint64_t rs = sh->seed ^ (uint64_t)(uintptr_t)&rs;
	am_rl_ticket t = { 0 };
	for (int i = 0; i < sh->iters; i++) {
		int64_t now = atomic_fetch_add(&sh->clock, lf_range(&rs, 0, 200000));
		lf_ticket(sh->rl, &t, 0, 1, lf_range(&rs, 1, 3000), lf_range(&rs, 0, 500));
		int rc = lf_range(&rs, 0, 1) ? am_rl_try_acquire(sh->rl, &t, now, NULL, NULL)
					     : am_rl_acquire(sh->rl, &t, now, NULL);
		if (rc == 0) {
			/* queued (the worker may grant it meanwhile; its state is
			 * the worker's until the cancel takes the lock): give it a
			 * moment, then cancel, which refunds it if granted */
			for (int k = 0; k < 50; k++)
				am_rl_pool_next_event_ns(sh->rl, 0, atomic_load(&sh->clock));
			am_rl_cancel(sh->rl, &t, atomic_load(&sh->clock));
			continue;
		}
		if (rc == 1) {
			now = atomic_load(&sh->clock);
			am_rl_sent(sh->rl, &t, now);
			int64_t a[3] = { 1, t.cost[1] * lf_range(&rs, 50, 100) / 100,
					 lf_range(&rs, 0, t.cost[2]) };
			count(sh, a);
			am_rl_settle(sh->rl, &t, a, now);
		}
	}
	return NULL;
}

/* The worker: polls when the limiter says so; granted tickets belong to
 * producers that cancel them (cancel of GRANTED refunds), so it only
 * exercises the grant path concurrently. */
static void *worker(void *arg)
{
	struct shared *sh = arg;
	while (!atomic_load(&sh->stop)) {
		int64_t now = atomic_load(&sh->clock);
		if (am_rl_next_event_ns(sh->rl, now) <= now) {
			am_rl_ticket *out[16];
			am_rl_poll(sh->rl, now, out, 16);
		}
	}
	return NULL;
}

static void *observer(void *arg)
{
	struct shared *sh = arg;
	while (!atomic_load(&sh->stop)) {
		am_snap_pool sp;
		am_snap_pool_fill(sh->rl, 0, atomic_load(&sh->clock), &sp);
		ck_assert_int_le(sp.in_flight, NTHREADS);
		am_rl_estimate_input(sh->rl, "m", 1000);
		am_rl_learn_input(sh->rl, "m", 1000, 300);
	}
	return NULL;
}

START_TEST(moving_clock_bounds)
{
	am_rl_pool_cfg pc = lf_pool("p", 6000, 3000000, 300000);
	pc.short_window_ns = LF_S;
	pc.init_fill_ppm = 0;
	struct shared sh = { .iters = 3000, .seed = 12345 };
	sh.rl = lf_new(&pc, 1, 8, T0);
	atomic_store(&sh.clock, T0);
	pthread_t th[NTHREADS], w, o;
	pthread_create(&w, NULL, worker, &sh);
	pthread_create(&o, NULL, observer, &sh);
	for (int i = 0; i < NTHREADS; i++)
		pthread_create(&th[i], NULL, producer, &sh);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	atomic_store(&sh.stop, 1);
	pthread_join(w, NULL);
	pthread_join(o, NULL);
	int64_t elapsed = atomic_load(&sh.clock) - T0;
	am_rl_pool_stats st;
	am_rl_stats(sh.rl, 0, atomic_load(&sh.clock), &st);
	ck_assert_int_eq(st.in_flight, 0);
	for (int d = 0; d < AM_RL_NCOST; d++) {
		/* started empty and no debts: what was used is at most what was
		 * granted minus what was credited back, <= r * elapsed + 1 */
		lf_i128 bound = (lf_i128)st.dim[d].limit * elapsed / st.dim[d].period_ns + 1;
		long long used = atomic_load(&sh.granted[d]);
		ck_assert_msg(used <= bound, "dim %d: %lld used, bound %lld", d, used, (long long)bound);
		ck_assert_int_gt(used, 0);
	}
	am_rl_free(sh.rl);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("limit_threads");
	TCase *tc = tcase_create("threads");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, frozen_clock_exact_grants);
	tcase_add_test(tc, moving_clock_bounds);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return lf_run_suite(suite());
}
