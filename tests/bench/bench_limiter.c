/* bench_limiter: cost of the limiter's hot path, and in the same run the
 * floors it is compared with. Build Release.
 *
 * What one "op" is. The worker reads the clock once per pass and hands that
 * `now` to every limiter call it makes in the pass, so an op here is one
 * monotonic clock read plus ticket_init + acquire (granted at once: the
 * pool's rates are far above anything reached) + settle (a refund on ITOK
 * and OTOK, as a typical response uses less than it reserved), both calls
 * with that one `now`: the figure "acquire + settle
 * with the clock read". A real pass settles other tickets than it grants;
 * same calls, same cost.
 *
 * Figures (ns per op, medians over ROUNDS rounds):
 *   acquire_settle_1t_ns        one thread, one pool
 *   acquire_settle_8t_ns        8 threads on one pool: wall time from a
 *                               common start to the last thread's end,
 *                               divided by the ops of all threads
 *   acquire_sent_settle_1t_ns   the worker's whole cycle for a call that
 *                               needs no correction from headers: the op
 *                               above plus am_rl_sent (a third locked call)
 *   baseline_clock_mutex_ns     a clock read + one mutex lock/unlock
 *   baseline_clock_2mutex_ns    a clock read + two lock/unlock pairs: the
 *                               floor of any acquire + settle made of two
 *                               locked calls, before any limiter work
 *   baseline_clock_mutex_8t_ns  8 threads, each op a clock read + lock/unlock
 *                               of one shared mutex (per-op wall, as 8t)
 *   floor_clock_2xchg_ns        a clock read + two take/give pairs of the
 *                               limiter's lock (atomic exchange, release
 *                               store), uncontended: what acquire + settle
 *                               cost here with no work inside the locks
 *   clock_read_ns               the clock read alone
 *   acquire_settle_1t_x_baseline / _8t_x_baseline_8t: medians of the
 *                               per-round ratios (unit x)
 * Method: every round runs every single-thread figure once, in chunks well
 * under a scheduler time slice, so that on a shared machine each figure and
 * its baseline see the same load and most chunks run unpreempted; the
 * median over the rounds discards the chunks that were preempted (longer
 * chunks would be preempted more often than their shorter baselines and
 * inflate the ratios). Every EVERY8-th round also runs the two 8-thread
 * figures, back to back, in longer chunks. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "clock.h"
#include "limiter.h"

#define ROUNDS 201
#define N1 5000       /* ops per single-thread chunk (well under 1 ms) */
#define NT 8
#define EVERY8 10     /* an 8-thread pair every EVERY8 rounds */
#define ROUNDS8 ((ROUNDS + EVERY8 - 1) / EVERY8)
#define NPER 25000    /* ops per thread per 8-thread chunk: long enough to
		       * amortise starting 8 threads on 2 cores */

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

/* ---- the measured loops ------------------------------------------------- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int spin;
static volatile int64_t sink;

static void loop_clock(int n)
{
	const am_clock *clk = am_clock_system();
	for (int i = 0; i < n; i++)
		sink = am_clock_mono(clk);
}

static void loop_mutex(int n, int locks)
{
	const am_clock *clk = am_clock_system();
	for (int i = 0; i < n; i++) {
		int64_t now = am_clock_mono(clk);
		for (int k = 0; k < locks; k++) {
			pthread_mutex_lock(&mu);
			sink += now;
			pthread_mutex_unlock(&mu);
		}
	}
}

static void loop_xchg(int n)
{
	const am_clock *clk = am_clock_system();
	for (int i = 0; i < n; i++) {
		int64_t now = am_clock_mono(clk);
		for (int k = 0; k < 2; k++) {
			while (atomic_exchange_explicit(&spin, 1, memory_order_acquire))
				;
			sink += now;
			atomic_store_explicit(&spin, 0, memory_order_release);
		}
	}
}

static void loop_limiter(am_rl *rl, int n, bool sent)
{
	const am_clock *clk = am_clock_system();
	static const int64_t cost[AM_RL_NCOST] = { 1, 2000, 1024 };
	static const int64_t used[AM_RL_NCOST] = { 1, 1800, 400 };
	am_rl_ticket t = { 0 };
	for (int i = 0; i < n; i++) {
		int64_t now = am_clock_mono(clk);
		am_rl_ticket_init(rl, &t, 0, cost, NULL, NULL);
		if (am_rl_acquire(rl, &t, now, NULL) != 1) {
			/* the figure would not be the hot path's */
			fprintf(stderr, "bench_limiter: an acquire was not granted at once\n");
			exit(1);
		}
		if (sent)
			am_rl_sent(rl, &t, now);
		am_rl_settle(rl, &t, used, now);
	}
}

/* ---- threads -------------------------------------------------------------- */

struct team {
	am_rl *rl;          /* NULL: the mutex baseline */
	atomic_int go;
};

static void *member(void *arg)
{
	struct team *tm = arg;
	while (!atomic_load_explicit(&tm->go, memory_order_acquire))
		sched_yield();
	if (tm->rl)
		loop_limiter(tm->rl, NPER, false);
	else
		loop_mutex(NPER, 1);
	return NULL;
}

/* Per-op wall time of NT threads from a common start to the last end. */
static double team_run(am_rl *rl)
{
	const am_clock *clk = am_clock_system();
	struct team tm = { .rl = rl };
	pthread_t th[NT];
	atomic_init(&tm.go, 0);
	for (int i = 0; i < NT; i++)
		if (pthread_create(&th[i], NULL, member, &tm)) {
			fprintf(stderr, "bench_limiter: cannot start threads\n");
			exit(1);
		}
	int64_t t0 = am_clock_mono(clk);
	atomic_store_explicit(&tm.go, 1, memory_order_release);
	for (int i = 0; i < NT; i++)
		pthread_join(th[i], NULL);
	return (double)(am_clock_mono(clk) - t0) / ((double)NT * NPER);
}

/* ---- figures -------------------------------------------------------------- */

enum { F_CLOCK, F_BASE, F_BASE2, F_XCHG, F_BASE8, F_1T, F_8T, F_SENT, F_R1, F_R8, NFIG };

static const char *const fig_name[NFIG] = {
	"clock_read_ns", "baseline_clock_mutex_ns", "baseline_clock_2mutex_ns",
	"floor_clock_2xchg_ns",
	"baseline_clock_mutex_8t_ns", "acquire_settle_1t_ns", "acquire_settle_8t_ns",
	"acquire_sent_settle_1t_ns",
	"acquire_settle_1t_x_baseline", "acquire_settle_8t_x_baseline_8t"
};

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

static double per_op(int64_t t0, int n)
{
	return (double)(am_clock_mono(am_clock_system()) - t0) / n;
}

int main(void)
{
	const am_clock *clk = am_clock_system();
	static double v[NFIG][ROUNDS];
	for (int r = 0; r < ROUNDS; r++) {
		int64_t t0 = am_clock_mono(clk);
		loop_clock(N1);
		v[F_CLOCK][r] = per_op(t0, N1);

		t0 = am_clock_mono(clk);
		loop_mutex(N1, 1);
		v[F_BASE][r] = per_op(t0, N1);

		t0 = am_clock_mono(clk);
		loop_mutex(N1, 2);
		v[F_BASE2][r] = per_op(t0, N1);

		t0 = am_clock_mono(clk);
		loop_xchg(N1);
		v[F_XCHG][r] = per_op(t0, N1);

		am_rl *rl = make();
		t0 = am_clock_mono(clk);
		loop_limiter(rl, N1, false);
		v[F_1T][r] = per_op(t0, N1);
		am_rl_free(rl);

		rl = make();
		t0 = am_clock_mono(clk);
		loop_limiter(rl, N1, true);
		v[F_SENT][r] = per_op(t0, N1);
		am_rl_free(rl);

		v[F_R1][r] = v[F_1T][r] / v[F_BASE][r];
		if (r % EVERY8)
			continue;
		int r8 = r / EVERY8;
		v[F_BASE8][r8] = team_run(NULL);
		rl = make();
		v[F_8T][r8] = team_run(rl);
		am_rl_free(rl);
		v[F_R8][r8] = v[F_8T][r8] / v[F_BASE8][r8];
	}
	static const int order[NFIG] = { F_BASE, F_1T, F_8T, F_CLOCK, F_BASE2, F_XCHG,
					 F_BASE8, F_SENT, F_R1, F_R8 };
	for (int k = 0; k < NFIG; k++) {
		int f = order[k];
		bool ratio = f == F_R1 || f == F_R8;
		int n = f == F_BASE8 || f == F_8T || f == F_R8 ? ROUNDS8 : ROUNDS;
		printf("%s %.*f %s\n", fig_name[f], ratio ? 2 : 1, median(v[f], n), ratio ? "x" : "ns");
	}
	return 0;
}
