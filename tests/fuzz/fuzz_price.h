/* fuzz_price: field-by-field equality of two price rows, for the price-file
 * targets (fuzz_pricing, fuzz_litellm). The source field is left out: a
 * row's origin changes when it is written elsewhere, its prices must not. */
#ifndef AIMETER_FUZZ_PRICE_H
#define AIMETER_FUZZ_PRICE_H

#include <stdbool.h>
#include <string.h>

#include "pricing.h"

static inline bool fuzz_same_earlier(const am_price *a, const am_price *b)
{
	if (a->nearlier != b->nearlier)
		return false;
	for (int i = 0; i < a->nearlier; i++) {
		const struct am_price_earlier *x = &a->earlier[i], *y = &b->earlier[i];
		if (strcmp(x->until, y->until) || x->fields != y->fields)
			return false;
		for (int k = 0; k < 5; k++)
			if ((x->fields & (1u << k)) && x->rate[k] != y->rate[k])
				return false;
	}
	return true;
}

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
	       !strcmp(a->tier, b->tier) && a->fast_pct == b->fast_pct &&
	       a->geo_us_pct == b->geo_us_pct && a->web_search_pusd == b->web_search_pusd &&
	       fuzz_same_earlier(a, b);
}

#endif
