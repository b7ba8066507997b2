/* rlheaders: what one response says about the provider's rate limits.
 *
 * The client (prov_) fills this from `anthropic-ratelimit-*`,
 * `anthropic-priority-*`, `retry-after-ms`, `retry-after` and `Date`; the
 * limiter (rl_) reads it to calibrate. Plain data, no functions. A field is
 * meaningful only when its `present` flag is set. Times are wall-clock
 * nanoseconds since the Unix epoch, as the server stated them. */
#ifndef AIMETER_RLHEADERS_H
#define AIMETER_RLHEADERS_H

#include <stdbool.h>
#include <stdint.h>

enum am_rl_dim_hdr {
	AM_RLH_REQUESTS,      /* anthropic-ratelimit-requests-*          */
	AM_RLH_TOKENS,        /* anthropic-ratelimit-tokens-*            */
	AM_RLH_INPUT_TOKENS,  /* anthropic-ratelimit-input-tokens-*      */
	AM_RLH_OUTPUT_TOKENS, /* anthropic-ratelimit-output-tokens-*     */
	AM_RLH_PRIO_INPUT,    /* anthropic-priority-input-tokens-*       */
	AM_RLH_PRIO_OUTPUT,   /* anthropic-priority-output-tokens-*      */
	AM_RLH_COUNT
};

typedef struct am_rl_bucket_hdr {
	bool present;        /* at least one of the three was sent */
	bool has_limit, has_remaining, has_reset;
	int64_t limit;
	int64_t remaining;   /* tokens: rounded to the nearest thousand by the server */
	int64_t reset_ns;    /* RFC 3339 time when the bucket is full again */
} am_rl_bucket_hdr;

typedef struct am_rl_headers {
	am_rl_bucket_hdr b[AM_RLH_COUNT];
	bool has_date;
	int64_t date_ns;          /* the response's Date header (server clock) */
	bool has_retry_after;
	int64_t retry_after_ns;   /* retry-after-ms first, then retry-after (secs or HTTP-date, relative to Date) */
	int http_status;          /* 0 when unknown */
} am_rl_headers;

#endif
