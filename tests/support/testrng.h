/* testrng: a small deterministic generator (xorshift64*) for tests and
 * benchmarks, so that a failure reproduces from its seed. */
#ifndef AIMETER_TEST_TESTRNG_H
#define AIMETER_TEST_TESTRNG_H

#include <stdint.h>

typedef struct am_test_rng {
	uint64_t state; /* any non-zero seed */
} am_test_rng;

uint64_t am_test_rng_next(am_test_rng *r);

/* Uniform enough in [0, n) for test data; n > 0. */
int64_t am_test_rng_below(am_test_rng *r, int64_t n);

#endif
