/* testrng: xorshift64* (Vigna), deterministic test data. */
#include "testrng.h"

uint64_t am_test_rng_next(am_test_rng *r)
{
	r->state ^= r->state >> 12;
	r->state ^= r->state << 25;
	r->state ^= r->state >> 27;
	return r->state * 0x2545F4914F6CDD1DULL;
}

int64_t am_test_rng_below(am_test_rng *r, int64_t n)
{
	return (int64_t)(am_test_rng_next(r) % (uint64_t)n);
}
