/* pricing: the price table and exact cost of one call.
 *
 * Prices are pUSD per token (see money.h). The shipped table is
 * data/pricing.json; an override file in the config dir takes precedence
 * entry by entry. A model id missing from the table is "price unknown":
 * cost functions say so and never return $0 for it.
 * A table is immutable after loading and may be read from any thread. */
#ifndef AIMETER_PRICING_H
#define AIMETER_PRICING_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "usage.h"

typedef struct am_price {
	char model[128];          /* id or alias as it appears in the table */
	char canonical[128];      /* the dated id an alias resolves to ("" if none) */
	int64_t input;            /* pUSD per token, base input */
	int64_t output;
	int64_t cache_write_5m;
	int64_t cache_write_1h;
	int64_t cache_read;
	int batch_discount_pct;   /* 50 = batch halves the total */
	/* Long context: when total input > threshold tokens, every token is
	 * priced at the long-context prices below (0 threshold = no premium). */
	int64_t long_context_threshold;
	int64_t lc_input, lc_output, lc_cache_write_5m, lc_cache_write_1h, lc_cache_read;
	char deprecation_date[11];  /* "YYYY-MM-DD" or "" */
	char pool[32];              /* rate-limit pool name ("opus-4", "sonnet-4", ...) */
	char tier[16];              /* "haiku" | "sonnet" | "opus" | "" : the selector's tiers */
	char source[16];            /* "shipped" | "override" */
} am_price;

typedef struct am_pricing am_pricing;

/* Loads the shipped table from `shipped_path` and then, if `override_path`
 * is non-NULL and exists, overlays it. Errors name the file, line and
 * column. */
int am_pricing_load(am_pricing **out, const char *shipped_path,
                    const char *override_path, am_err *err);
void am_pricing_free(am_pricing *p);

/* Exact lookup by id or alias; NULL when unknown. */
const am_price *am_pricing_lookup(const am_pricing *p, const char *model);
size_t am_pricing_count(const am_pricing *p);
const am_price *am_pricing_at(const am_pricing *p, size_t i);

/* The highest-priced known model (by output price, then input): the budget
 * guard charges unknown models at this price. NULL for an empty table. */
const am_price *am_pricing_most_expensive(const am_pricing *p);

/* Cost of one call in pUSD, exactly:
 *   uncached input × input + 5m writes × 5m price + 1h writes × 1h price
 *   + cache reads × read price + output × output price,
 * with the long-context prices when total input exceeds the threshold, and
 * the batch discount applied to the total. Returns 0 on success, -1 on
 * overflow (err says so). */
int am_cost(const am_price *price, const am_usage *u, bool batch,
            int64_t *out_pusd, am_err *err);

/* Where the shipped table lives: $AIMETER_DATA_DIR/pricing.json, then the
 * source tree's data/, then the install prefix's share/aimeter/. */
const char *am_pricing_default_path(void);

#endif
