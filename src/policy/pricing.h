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

enum { AM_PRICE_MAX_EARLIER = 4 };

/* The web search fee when an entry names none: $10 per 1,000 searches. */
#define AM_WEB_SEARCH_PUSD (1000000000000LL / 100)

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
	/* Multipliers in percent of every token rate (cache rates included):
	 * fast mode (usage.speed "fast"; 0 = the model has no fast-mode price)
	 * and US-only inference (usage.inference_geo "us"; 100 = no premium). */
	int fast_pct;
	int geo_us_pct;
	int64_t web_search_pusd;    /* fee per web search (not discounted, not multiplied) */
	/* Rates that held before a day: earlier[i] gives, for calls before
	 * earlier[i].until, the base rates named in `fields` (bits by rate
	 * index: input, output, 5m write, 1h write, read). Sorted by until. */
	int nearlier;
	struct am_price_earlier {
		char until[11];         /* "YYYY-MM-DD", the first day of the next rates */
		unsigned fields;
		int64_t rate[5];
	} earlier[AM_PRICE_MAX_EARLIER];
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

/* True when id is model's dated id: model, '-', then a date (8 or more
 * digits): "claude-haiku-4-5-20251001" of "claude-haiku-4-5". */
bool am_model_dated_id_of(const char *id, const char *model);

/* The one price calls for `model` are reserved by and charged at. A call
 * for an alias is answered, and billed, under a dated id, and the table
 * (with an override, which also detaches an alias it prices) may price the
 * two apart. So the price is the dearest, item by item (the lower
 * long-context threshold, the smaller batch discount), of the model's own
 * row, the row its alias points to and the rows of its dated ids: never
 * less than what the call may be billed at. False when the model has no
 * price. */
bool am_pricing_resolve(const am_pricing *pricing, const char *model, am_price *out);

/* The highest-priced known model (by output price, then input): the budget
 * guard charges unknown models at this price. NULL for an empty table. */
const am_price *am_pricing_most_expensive(const am_pricing *p);

/* Cost of one call in pUSD, exactly:
 *   uncached input × input + 5m writes × 5m price + 1h writes × 1h price
 *   + cache reads × read price + output × output price,
 * with the long-context prices when total input exceeds the threshold, and
 * the batch discount applied to the total. Returns 0 on success, -1 on
 * overflow (err says so).
 * Details: total input is uncached input +
 * both cache writes + cache reads; "exceeds" is strict (200,000 is base,
 * 200,001 is long context) and then every token of the call, output
 * included, takes the long-context price. The 5m/1h split of cache writes is
 * the caller's (usage.h: a response without a cache_creation breakdown
 * counts all cache_creation_input_tokens as 5m). The discounted total is
 * total × (100 - pct) / 100, half a pUSD rounding up; with published prices
 * it is exact. A negative token count is an error, as is overflow at any
 * step (never a wrapped value); *out_pusd is untouched on error.
 * Thread-safe: reads only its arguments. */
int am_cost(const am_price *price, const am_usage *u, bool batch,
            int64_t *out_pusd, am_err *err);

/* am_cost at the rates in force on `day` ("YYYY-MM-DD", UTC; NULL or "" =
 * the current rates), and with every billed dimension of the usage:
 *   - the band: the long-context rates when the prompt size exceeds the
 *     threshold (this is the one mechanism for every size band);
 *   - the rates of the day: the base rates an `earlier` entry names apply
 *     to calls before its `until` day;
 *   - fast mode (u->speed "fast") multiplies every token rate by fast_pct,
 *     US-only inference (u->inference_geo "us") by geo_us_pct; they stack,
 *     and the cache rates move with them;
 *   - batch (the flag, or u->service_tier "batch") takes batch_discount_pct
 *     off the token cost; fast mode with batch is an error (the provider
 *     offers no such call), as is fast mode on a model without a fast price;
 *   - web searches add web_search_pusd each, after every multiplier.
 * Token cost = sum(tokens × rate) × fast × geo × (100 - batch pct), divided
 * by 100^3 at the end, half a pUSD rounding up: exact for published rates.
 * A negative count, a malformed day or overflow is an error. */
int am_cost_on(const am_price *price, const am_usage *u, bool batch, const char *day,
               int64_t *out_pusd, am_err *err);

/* The day's base rates (input, output, 5m write, 1h write, read). */
void am_price_rates_on(const am_price *price, const char *day, int64_t rate[5]);

/* Where the shipped table lives: $AIMETER_DATA_DIR/pricing.json when that
 * variable is set (even if the file is missing, so the error names it), else
 * the source tree's data/pricing.json when it exists, else
 * <directory of the executable>/../share/aimeter/pricing.json.
 * The string lives in thread-local storage until the next call on the same
 * thread. */
const char *am_pricing_default_path(void);

/* ---- additions ------------------------------------------------------ */

struct json_t;

/* True when `price` is an alias row (canonical names its target). */
static inline bool am_price_is_alias(const am_price *price)
{
	return price->canonical[0] != '\0';
}

/* The files the table was loaded from. The override path is NULL when none
 * was given or the file did not exist. Owned by the table. */
const char *am_pricing_shipped_path(const am_pricing *p);
const char *am_pricing_override_path(const am_pricing *p);

/* The price-override file that goes with a config file: pricing.json in the
 * same directory as `config_path`, or am_path_pricing_override() when
 * config_path is NULL. */
int am_pricing_override_for_config(const char *config_path, char *buf, size_t n, am_err *err);

/* Fills price->pool and price->tier for a model the table does not know:
 * the pool of the longest known id that is a prefix of `model` at a '-'
 * boundary ("claude-opus-4-6-20260205" -> the pool of "claude-opus-4-6"),
 * else the model id itself; the tier from the name ("haiku", "sonnet",
 * "opus", else ""). */
void am_pricing_guess_family(const am_pricing *p, const char *model, am_price *price);

/* One entry in the pricing-file model form (prices as exact $/MTok decimal
 * strings). Returns a new jansson reference. */
struct json_t *am_price_to_json(const am_price *price);

#endif
