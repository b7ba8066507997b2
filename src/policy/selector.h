/* selector: which model answers a prompt, and why.
 *
 * The rules are data from the config: an ordered list of {max_chars, model}
 * where a prompt shorter than max_chars takes that rule's model and the last
 * rule (max_chars 0) takes everything else. The default reproduces the seed:
 * under 500 characters Haiku, under 2,000 Sonnet, otherwise Opus.
 *
 * Precedence, first match wins:
 *   1. an explicit model ("pinned"): the request's own, else the one the
 *      config or the console pinned (selector.model). The user asked for
 *      it, so nothing overrides it, not even a 529 fallback or the budget;
 *   2. after a 529 (overloaded) the configured fallback model ("fallback
 *      after 529"), when one is configured;
 *   3. the length rules, then, when the budget's used share is at or above
 *      downgrade_pct, one tier lower ("budget 85% ≥ 80%: downgraded"); a model
 *      already in the lowest tier stays and keeps its rule's reason.
 *
 * Length: the number of Unicode code points in the text of the LAST USER
 * TURN. The system prompt and earlier turns do not count: a long, constant
 * system prompt or a long conversation would otherwise push every short
 * question to the most expensive model, which is not what the seed means by
 * "prompt length".
 *
 * Tiers: an ordered map, lowest first (haiku < sonnet < opus), of tier name
 * to the model that represents it. A model's tier is the entry whose model
 * equals it, or else the first tier whose name occurs in the model id
 * ("claude-opus-4-1" is in tier "opus"). Downgrading picks the model of the
 * tier below.
 *
 * Everything here is pure and thread-safe (no state, no clock). */
#ifndef AIMETER_SELECTOR_H
#define AIMETER_SELECTOR_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "config.h"
#include "err.h"

enum { AM_SEL_MAX_RULES = 8, AM_SEL_MAX_TIERS = 8, AM_SEL_MODEL_MAX = 128, AM_SEL_REASON_MAX = 96 };

typedef struct am_sel_rule {
	int64_t max_chars;               /* prompts with fewer code points match; 0 = catch-all */
	char model[AM_SEL_MODEL_MAX];
} am_sel_rule;

typedef struct am_sel_tier {
	char name[16];                   /* "haiku", "sonnet", "opus" */
	char model[AM_SEL_MODEL_MAX];
} am_sel_tier;

typedef struct am_sel_config {
	char pinned[AM_SEL_MODEL_MAX];       /* config's selector.model: "auto" (or "") = the
	                                      * rules decide, else every request is pinned */
	int nrules;
	am_sel_rule rule[AM_SEL_MAX_RULES];  /* increasing max_chars, last one 0 */
	int ntiers;
	am_sel_tier tier[AM_SEL_MAX_TIERS];  /* lowest first */
	bool downgrade_on_budget;
	int downgrade_pct;                   /* budget used share that downgrades, 1..100 */
	char fallback_model[AM_SEL_MODEL_MAX]; /* "" = none: a 529 is retried on the same model */
} am_sel_config;

/* Checks a config: 1..AM_SEL_MAX_RULES rules with strictly increasing
 * positive max_chars, the last one 0 (catch-all) and only it; non-empty
 * models; unique non-empty tier names; downgrade_pct in 1..100. -1 + err
 * names the first problem. */
int am_sel_config_check(const am_sel_config *cfg, am_err *err);

/* The selector part of the configuration (selector.*; the defaults there
 * reproduce the seed: < 500 claude-haiku-4-5, < 2,000 claude-sonnet-4-5,
 * otherwise claude-opus-4-5, tiers haiku < sonnet < opus, downgrade at 80%,
 * fallback claude-sonnet-4-5), checked as above. */
int am_sel_config_from(const am_config *cfg, am_sel_config *out, am_err *err);

/* The configuration's defaults (am_config_init), for callers that have no
 * am_config at hand. */
void am_sel_config_default(am_sel_config *out);

typedef struct am_sel_input {
	const char *model;   /* the request's explicit model; NULL, "" or "auto" = none, then
	                      * cfg->pinned applies */
	int64_t chars;       /* prompt length in code points (am_sel_body_chars) */
	int budget_pct;      /* used share of the tightest budget limit, floor; < 0 = no limit */
	bool after_529;      /* the previous attempt of this job got a 529 */
} am_sel_input;

typedef enum am_sel_why {
	AM_SEL_PINNED, AM_SEL_RULE, AM_SEL_DOWNGRADED, AM_SEL_FALLBACK
} am_sel_why;

typedef struct am_sel_choice {
	char model[AM_SEL_MODEL_MAX];
	char reason[AM_SEL_REASON_MAX];  /* "pinned", "312 chars < 500", "2,400 chars ≥ 2,000",
	                                  * "budget 85% ≥ 80%: downgraded", "fallback after 529" */
	am_sel_why why;
} am_sel_choice;

/* Chooses the model for one request. cfg must have passed
 * am_sel_config_check. Numbers in reasons carry thousands separators; "≥"
 * is U+2265 in UTF-8. Pure. */
void am_sel_choose(const am_sel_config *cfg, const am_sel_input *in, am_sel_choice *out);

/* Unicode code points in a UTF-8 string: every byte that is not a
 * continuation byte (10xxxxxx) starts one, so malformed input still gives a
 * stable count. NULL counts 0. */
int64_t am_sel_count_chars(const char *utf8);

/* The prompt length the rules see, from a Messages request body: code points
 * of the last "user" message's content, a string or the sum of its "text"
 * blocks. 0 when there is none. */
int64_t am_sel_body_chars(const json_t *body);

/* The tier index of a model in cfg (see above), -1 when it has none. */
int am_sel_tier_of(const am_sel_config *cfg, const char *model);

#endif
