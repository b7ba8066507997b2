/* limitfix: builders and a PRNG for the limiter tests. */
#include "limitfix.h"

#include "check_run.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>

am_rl_pool_cfg lf_pool(const char *name, int64_t rpm, int64_t itpm, int64_t otpm)
{
	am_rl_pool_cfg pc;
	am_rl_pool_cfg_init(&pc, name, rpm, itpm, otpm);
	pc.short_window_ns = 0;
	pc.init_fill_ppm = 1000000;
	pc.learn_level = false;
	return pc;
}

am_rl *lf_new(const am_rl_pool_cfg *pools, int n, int backfill, int64_t now)
{
	am_rl_cfg cfg;
	am_rl_cfg_init(&cfg);
	cfg.pools = pools;
	cfg.npools = n;
	cfg.backfill_scan = backfill;
	am_rl *rl = NULL;
	am_err err = {0};
	if (am_rl_create(&rl, &cfg, now, &err) < 0)
		ck_abort_msg("am_rl_create: %s", err.msg);
	return rl;
}

void lf_ticket(am_rl *rl, am_rl_ticket *t, int pool, int64_t req, int64_t in, int64_t out)
{
	int64_t c[AM_RL_NCOST] = { req, in, out };
	am_err err = {0};
	if (am_rl_ticket_init(rl, t, pool, c, t, &err) < 0)
		ck_abort_msg("am_rl_ticket_init: %s", err.msg);
}

uint64_t lf_rand(uint64_t *s)
{
	uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ULL;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

double lf_uniform(uint64_t *s)
{
	return ((double)(lf_rand(s) >> 11) + 0.5) / 9007199254740992.0;
}

double lf_lognormal(uint64_t *s, double mean, double sigma)
{
	double u1 = lf_uniform(s), u2 = lf_uniform(s);
	double z = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
	return mean * exp(sigma * z - sigma * sigma / 2.0);
}

int64_t lf_range(uint64_t *s, int64_t lo, int64_t hi)
{
	uint64_t span = (uint64_t)hi - (uint64_t)lo + 1; /* 0: the full range */
	uint64_t r = span ? lf_rand(s) % span : lf_rand(s);
	return (int64_t)((uint64_t)lo + r);
}

int lf_run_suite(Suite *s)
{
	return check_run(s);
}
