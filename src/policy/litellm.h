/* litellm: import LiteLLM's model_prices_and_context_window.json into the
 * price-override file.
 *
 * Only entries whose litellm_provider is "anthropic" are read ("sample_spec"
 * and every other provider are skipped). LiteLLM's USD-per-token numbers
 * ("1.25e-06") are converted from their source text, never through a double.
 * Field mapping: input_cost_per_token -> input, output_cost_per_token ->
 * output, cache_creation_input_token_cost -> 5m write,
 * cache_creation_input_token_cost_above_1hr -> 1h write,
 * cache_read_input_token_cost -> read, the *_above_200k_tokens fields -> the
 * long-context prices (above 200,000 input tokens), deprecation_date.
 * A field LiteLLM leaves out keeps the table's value (for a model the table
 * does not know: the documented multipliers of input, 1.25x / 2x / 0.1x).
 * LiteLLM's 1h write price is known to be wrong for some models; where it is not 2x the input price, the table's value (or 2x input
 * for a new model) is kept and the item carries a warning.
 * Batch: LiteLLM has no batch fields for Anthropic; the 50% discount stays.
 * Not thread-safe per result; results are independent. */
#ifndef AIMETER_LITELLM_H
#define AIMETER_LITELLM_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "pricing.h"

typedef enum am_litellm_status {
	AM_LITELLM_ADDED,     /* the table has no such id */
	AM_LITELLM_CHANGED,   /* some field differs from the effective table */
	AM_LITELLM_UNCHANGED,
	AM_LITELLM_SKIPPED,   /* an anthropic entry that could not be read */
} am_litellm_status;

typedef struct am_litellm_item {
	char model[128];
	am_litellm_status status;
	/* CHANGED: "input: 3 -> 4; cache_read: 0.3 -> 0.4" (prices in $/MTok).
	 * SKIPPED: why. Otherwise NULL. Owned by the result. */
	char *detail;
	char *warning;  /* NULL or one sentence; owned by the result */
	am_price price; /* the entry as it would be written (source "override") */
} am_litellm_item;

typedef struct am_litellm_result {
	am_litellm_item *items;   /* anthropic entries, sorted by model id */
	size_t n;
	size_t added, changed, unchanged, skipped;
	size_t other_entries;     /* other providers and sample_spec, not read */
	char source_name[256];    /* the imported file's base name */
} am_litellm_result;

/* Reads `path` and compares every anthropic entry with `effective` (the
 * table as loaded, override included). Writes nothing. On success *out
 * holds the report (free with am_litellm_result_free). Errors: unreadable
 * file, bad JSON (file:line:column), top level not an object. */
int am_litellm_import(const am_pricing *effective, const char *path, am_litellm_result *out,
                      am_err *err);

void am_litellm_result_free(am_litellm_result *r);

/* Merges the added and changed entries into the override file at
 * `override_path` (keeping its other entries; an alias of the same id in it
 * is dropped), after checking that the merged file loads over the table's
 * shipped file. Writes atomically: a 0600 temporary file renamed over the
 * old one; a missing directory is created 0700. Nothing to write (no added
 * or changed entry) leaves the file untouched. */
int am_litellm_write_override(const am_pricing *effective, const am_litellm_result *r,
                              const char *override_path, am_err *err);

#endif
