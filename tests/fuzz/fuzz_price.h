/* fuzz_price: field-by-field equality of two price rows, for the price-file
 * targets (fuzz_pricing, fuzz_litellm). The source field is left out: a
 * row's origin changes when it is written elsewhere, its prices must not. */
#ifndef AIMETER_FUZZ_PRICE_H
#define AIMETER_FUZZ_PRICE_H

#include <stdbool.h>
#include <string.h>

#include "pricing.h"

static inline bool fuzz_same_price(const am_price *a, const am_price *b)
{
	return !strcmp(a->model, b->model) && !strcmp(a->canonical, b->canonical) &&
	       a->input == b->input && a->output == b->output &&
	       a->cache_write_5m == b->cache_write_5m && a->cache_write_1h == b->cache_write_1h &&
	       a->cache_read == b->cache_read && a->batch_discount_pct == b->batch_discount_pct &&
	       a->long_context_threshold == b->long_context_threshold &&
	       a->lc_input == b->lc_input && a->lc_output == b->lc_output &&
	       a->lc_cache_write_5m == b->lc_cache_write_5m &&
	       a->lc_cache_write_1h == b->lc_cache_write_1h && a->lc_cache_read == b->lc_cache_read &&
	       !strcmp(a->deprecation_date, b->deprecation_date) && !strcmp(a->pool, b->pool) &&
	       !strcmp(a->tier, b->tier);
}

#endif
