/* bench_redis: the shared limiter on a private loopback Redis (redisfix),
 * beside the in-process limiter in the same run, and three hosts sharing
 * one simulator's limits. Build Release.
 *
 *   redis_grant_us_p50        one grant through the shared limiter (the
 *   redis_grant_us_p99        acquire script: all four dimensions, one
 *                             round trip), one process, limits far above
 *                             the load. Goal p50 <= 100 us.
 *   redis_grants_per_s        grants a second from 8 processes at once,
 *                             each with its own connection, on one pool.
 *   limiter_grant_us_p50      the in-process limiter's grant in the same
 *   limiter_grants_per_s      run (ticket_init + acquire + sent + settle,
 *                             the clock read per grant), one thread.
 *   redis_hosts_ideal_pct     three workers ("hosts": their own ledgers)
 *   redis_hosts_429s          share one simulator's limits (600 RPM with a
 *                             bucket of 10, the org's) through Redis, 60
 *                             prompts each at once: the ideal time for what
 *                             the simulator admitted (as bench_pipeline:
 *                             (admitted - capacity) / rate) over the time
 *                             taken, and the 429s. Goals >= 90 and 0.
 * Output: one line per figure, `<figure> <value> <unit>`. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "clock.h"
#include "limiter.h"
#include "redis.h"
#include "redisfix.h"
#include "workfix.h"

static const am_clock *clk;
static am_rf rf;

static int64_t mono(void)
{
	return am_clock_mono(clk);
}

static void die(const char *what, const am_err *err)
{
	fprintf(stderr, "bench_redis: %s: %s\n", what, err ? err->msg : "failed");
	am_rf_free(&rf);
	exit(1);
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static am_redis *connect_redis(void)
{
	am_redis_opts o = { .url = rf.url, .prefix = "bench:" };
	am_redis *r;
	am_err err;
	if (am_redis_new(&r, &o, &err))
		die("redis", &err);
	if (am_redis_ensure(r, mono()) != 1)
		die(am_redis_why(r), NULL);
	return r;
}

/* Far above the load: every acquire is granted at once. */
static am_redis_rl_pool big_pool(void)
{
	am_redis_rl_pool p;
	memset(&p, 0, sizeof p);
	snprintf(p.name, sizeof p.name, "bench");
	const int64_t per_min[AM_RL_NDIMS] = { 6000000000LL, 600000000000LL, 600000000000LL,
		                               6000000000LL };
	for (int d = 0; d < AM_RL_NDIMS; d++)
		p.dim[d] = (am_redis_rl_dim){ per_min[d], 60 * AM_NS_PER_SEC,
			                      d == AM_RL_REQ_SHORT ? per_min[d] / 60 : per_min[d],
			                      1000000 };
	return p;
}

static const int64_t cost[AM_RL_NDIMS] = { 1, 2000, 400, 1 };

static int grant_redis(am_redis *r, const am_redis_rl_pool *p)
{
	am_redis_grant g;
	int64_t wait;
	am_err err;
	int rc = am_redis_rl_acquire(r, p, cost, &g, &wait, &err);
	if (rc < 0)
		die("acquire", &err);
	return rc;
}

static void bench_redis_latency(int n)
{
	am_redis *r = connect_redis();
	am_redis_rl_pool p = big_pool();
	int64_t *us = malloc(sizeof *us * (size_t)n);
	for (int i = 0; i < 200; i++) /* warm: scripts cached, buckets made */
		grant_redis(r, &p);
	for (int i = 0; i < n; i++) {
		int64_t t0 = mono();
		if (grant_redis(r, &p) != 1)
			die("a grant was refused", NULL);
		us[i] = mono() - t0;
	}
	qsort(us, (size_t)n, sizeof *us, cmp64);
	/* How much of it Redis spends running the script (the rest is the
	 * round trip and the client), for the reader of stderr. */
	redisContext *c = redisConnect("127.0.0.1", rf.port);
	redisReply *rep = c ? redisCommand(c, "INFO commandstats") : NULL;
	const char *ev = rep && rep->type == REDIS_REPLY_STRING ? strstr(rep->str, "cmdstat_evalsha:") : NULL;
	const char *upc = ev ? strstr(ev, "usec_per_call=") : NULL;
	if (upc)
		fprintf(stderr, "bench_redis: Redis runs the acquire script in %.1f us a call\n",
		        atof(upc + 14));
	if (rep)
		freeReplyObject(rep);
	if (c)
		redisFree(c);
	printf("redis_grant_us_p50 %.1f us\n", (double)us[n / 2] / 1000.0);
	printf("redis_grant_us_p99 %.1f us\n", (double)us[n * 99 / 100] / 1000.0);
	free(us);
	am_redis_free(r);
}

static void bench_redis_procs(int nproc, int secs)
{
	int fds[64][2];
	pid_t pids[64];
	for (int k = 0; k < nproc; k++) {
		if (pipe(fds[k]))
			die("pipe", NULL);
		pids[k] = fork();
		if (pids[k] == 0) {
			close(fds[k][0]);
			am_redis *r = connect_redis();
			am_redis_rl_pool p = big_pool();
			int64_t n = 0, end = mono() + (int64_t)secs * AM_NS_PER_SEC;
			while (mono() < end)
				n += grant_redis(r, &p);
			am_redis_free(r);
			if (write(fds[k][1], &n, sizeof n) != (ssize_t)sizeof n)
				_exit(1);
			_exit(0);
		}
		close(fds[k][1]);
	}
	int64_t total = 0;
	for (int k = 0; k < nproc; k++) {
		int64_t n = 0;
		if (read(fds[k][0], &n, sizeof n) != (ssize_t)sizeof n)
			die("a child failed", NULL);
		total += n;
		close(fds[k][0]);
		int st;
		waitpid(pids[k], &st, 0);
	}
	printf("redis_grants_per_s %.0f grants/s (%d processes)\n", (double)total / secs, nproc);
}

static void bench_local(int n)
{
	am_rl_pool_cfg pc;
	am_rl_pool_cfg_init(&pc, "bench", 6000000000LL, 600000000000LL, 600000000000LL);
	pc.max_in_flight = 1 << 20;
	am_rl_cfg cfg;
	am_rl_cfg_init(&cfg);
	cfg.pools = &pc;
	cfg.npools = 1;
	am_rl *rl;
	am_err err;
	if (am_rl_create(&rl, &cfg, mono(), &err))
		die("limiter", &err);
	int64_t *ns = malloc(sizeof *ns * (size_t)n);
	const int64_t c[AM_RL_NCOST] = { 1, 2000, 400 }, used[AM_RL_NCOST] = { 1, 1800, 200 };
	am_rl_ticket t;
	memset(&t, 0, sizeof t);
	int64_t start = mono();
	for (int i = 0; i < n; i++) {
		int64_t t0 = mono();
		if (am_rl_ticket_init(rl, &t, 0, c, NULL, &err) || am_rl_acquire(rl, &t, t0, &err) != 1)
			die("local grant", &err);
		am_rl_sent(rl, &t, t0);
		am_rl_settle(rl, &t, used, t0);
		ns[i] = mono() - t0;
	}
	double secs = (double)(mono() - start) / AM_NS_PER_SEC;
	qsort(ns, (size_t)n, sizeof *ns, cmp64);
	printf("limiter_grant_us_p50 %.3f us\n", (double)ns[n / 2] / 1000.0);
	printf("limiter_grants_per_s %.0f grants/s (1 thread)\n", (double)n / secs);
	free(ns);
	am_rl_free(rl);
}

/* ---- three hosts, one simulator ------------------------------------------------------- */

typedef struct tally {
	int64_t done, failed;
} tally;

static void count_event(void *ctx, const am_event *ev)
{
	tally *t = ctx;
	t->done += ev->kind == AM_EV_DONE;
	t->failed += ev->kind == AM_EV_FAILED;
}

static double ideal_s(int64_t admitted, int64_t cap, int64_t per_min)
{
	if (per_min <= 0 || admitted <= cap)
		return 0;
	return (double)(admitted - cap) * 60.0 / (double)per_min;
}

static void bench_hosts(int per_host)
{
	enum { H = 3 };
	am_wf f[H];
	am_sim_cfg sc;
	am_sim_cfg_default(&sc);
	sc.rpm = 600;
	sc.rpm_burst = 10;
	sc.itpm = 0;
	sc.otpm = 0;
	sc.latency_ms = 100;
	sc.output_tokens = 40;
	const char *const keys[][2] = {
		{ "limits.rpm", "600" },  { "limits.rpm_burst", "10" }, { "limits.itpm", "0" },
		{ "limits.otpm", "0" },   { "cache.enabled", "false" }, { "redis.prefix", "hosts:" },
		{ "worker.concurrency", "32" },
	};
	am_err err;
	for (int h = 0; h < H; h++) {
		char tag[16];
		snprintf(tag, sizeof tag, "bench-host%d", h);
		if (am_wf_init(&f[h], tag, &err) || am_wf_set(&f[h], "redis.url", rf.url, &err))
			die("host", &err);
		for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
			if (am_wf_set(&f[h], keys[k][0], keys[k][1], &err))
				die(keys[k][0], &err);
		if (h > 0)
			f[h].sim = f[0].sim;
		if (am_wf_start(&f[h], h == 0 ? &sc : NULL, &err))
			die("start", &err);
	}
	tally t = { 0, 0 };
	int64_t t0 = mono();
	char prompt[96];
	for (int i = 0; i < per_host; i++)
		for (int h = 0; h < H; h++) {
			snprintf(prompt, sizeof prompt, "Host %d prompt %d about shared limits", h, i);
			if (am_wf_submit(&f[h], prompt, 64, false, true, &err) < 0)
				die("submit", &err);
		}
	while (t.done + t.failed < H * per_host)
		for (int h = 0; h < H; h++)
			am_wf_pump(&f[h], 5, count_event, &t);
	double elapsed = (double)(mono() - t0) / AM_NS_PER_SEC;
	am_sim_stats st;
	am_sim_get_stats(f[0].sim, &st);
	int64_t adm = st.requests - st.rate_limited - st.overloaded - st.server_errors;
	double ideal = ideal_s(adm, sc.rpm_burst, sc.rpm);
	printf("redis_hosts_ideal_pct %.1f %% (3 hosts, %" PRId64 " requests)\n",
	       100.0 * ideal / elapsed, adm);
	printf("redis_hosts_429s %" PRId64 " responses\n", st.rate_limited);
	fprintf(stderr, "bench_redis: 3 hosts: %" PRId64 " done, %" PRId64 " failed in %.2f s, "
	                "ideal %.2f s\n", t.done, t.failed, elapsed, ideal);
	for (int h = H - 1; h >= 0; h--) {
		if (h > 0)
			f[h].sim = NULL;
		am_wf_free(&f[h]);
	}
}

int main(void)
{
	clk = am_clock_system();
	signal(SIGPIPE, SIG_IGN);
	if (am_rf_start(&rf, NULL))
		return 1;
	const char *e = getenv("AIMETER_BENCH_N");
	int n = e && atoi(e) > 0 ? atoi(e) : 20000;
	bench_redis_latency(n);
	bench_redis_procs(8, 3);
	bench_local(n * 10);
	if (!getenv("AIMETER_BENCH_SKIP_HOSTS"))
		bench_hosts(60);
	am_rf_free(&rf);
	return 0;
}
