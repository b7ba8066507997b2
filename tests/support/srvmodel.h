/* srvmodel: an exact, in-process model of the provider's rate limiter, for
 * fake-clock tests of the client limiter (and anything else that needs a
 * server that says 429 the way the docs describe).
 *
 * Accounting, as the provider documents it: three continuously refilled
 * token buckets (requests, input tokens, output tokens), each `limit` units
 * per period with its own capacity. A request is admitted only when every
 * bucket holds its cost; admission charges 1 request, the actual input
 * tokens and max_tokens output tokens; a rejected request is not charged.
 * At completion the unused output (max_tokens - output) is refunded, but a
 * bucket never rises above its capacity (the refund is truncated). Levels
 * are exact rationals (units * period, in 128-bit integers).
 *
 * Headers describe the state right after admission: remaining (tokens
 * rounded to the nearest thousand), reset (when full, whole seconds), Date
 * (whole seconds), and on a 429 an integer retry-after. Not thread-safe. */
#ifndef AIMETER_TEST_SRVMODEL_H
#define AIMETER_TEST_SRVMODEL_H

#include <stdint.h>

#include "rlheaders.h"

enum { SRVM_REQ = 0, SRVM_ITOK = 1, SRVM_OTOK = 2, SRVM_NDIMS = 3 };

typedef struct srvm_cfg {
	int64_t limit[SRVM_NDIMS];     /* per period; 0 = unlimited */
	int64_t capacity[SRVM_NDIMS];  /* units; 0 = limit (a full period) */
	int64_t period_ns;             /* 0 = 60 s */
	int64_t wall_offset_ns;        /* wall = mono + this */
} srvm_cfg;

typedef struct srvm srvm;

srvm *srvm_new(const srvm_cfg *cfg, int64_t now);
void srvm_free(srvm *s);

/* Tries to admit a request at mono time t. Returns 1 (charged) or 0
 * (rejected, nothing charged; *dim = the first bucket that could not cover
 * it). Fills h (may be NULL) with the response headers. */
int srvm_admit(srvm *s, int64_t t, int64_t input, int64_t max_tokens,
	       am_rl_headers *h, int *dim);

/* The request finished at t with `output` tokens: refund max_tokens - output
 * (truncated at capacity). */
void srvm_complete(srvm *s, int64_t t, int64_t max_tokens, int64_t output);

/* Another client of the same organisation uses units of dim at t (may drive
 * the level negative, as an admitted request's later input adjustment can). */
void srvm_consume(srvm *s, int64_t t, int dim, int64_t units);

/* Level in whole units at t (floor). */
int64_t srvm_level(srvm *s, int64_t t, int dim);

typedef struct srvm_stats {
	int64_t admitted, rejected;
	int64_t used[SRVM_NDIMS];      /* net units consumed (after refunds) */
} srvm_stats;
void srvm_get_stats(const srvm *s, srvm_stats *out);

#endif
