/* limitfix: small builders shared by the limiter tests (tests/test_limit_*). */
#ifndef AIMETER_TEST_LIMITFIX_H
#define AIMETER_TEST_LIMITFIX_H

#include <check.h>
#include <stdint.h>

#include "limiter.h"

__extension__ typedef __int128 lf_i128;

/* ck_assert records a mark point (a file write) on every call; in loops of
 * 10^5 steps use this, which only reports on failure. */
#define LF_CHECK(cond, ...)                      \
	do {                                     \
		if (!(cond))                     \
			ck_abort_msg(__VA_ARGS__); \
	} while (0)

#define LF_S 1000000000LL
#define LF_MIN (60 * LF_S)

/* A pool config: limits per minute, a full bucket at start (not a guess to
 * learn), no short
 * request bucket (tests that want it set short_window_ns). */
am_rl_pool_cfg lf_pool(const char *name, int64_t rpm, int64_t itpm, int64_t otpm);

/* A limiter over n pools with the given backfill scan; aborts the test
 * (ck_abort) when creation fails. */
am_rl *lf_new(const am_rl_pool_cfg *pools, int n, int backfill, int64_t now);

/* Initialises a ticket (asserting success) with costs {req, in, out}. */
void lf_ticket(am_rl *rl, am_rl_ticket *t, int pool, int64_t req, int64_t in,
	       int64_t out);

/* Runs a suite and returns the process exit status. */
int lf_run_suite(Suite *s);

/* xorshift64* PRNG and helpers, deterministic per seed. */
uint64_t lf_rand(uint64_t *s);
double lf_uniform(uint64_t *s);                       /* (0, 1) */
double lf_lognormal(uint64_t *s, double mean, double sigma); /* mean of the result */
int64_t lf_range(uint64_t *s, int64_t lo, int64_t hi); /* [lo, hi] */

#endif
