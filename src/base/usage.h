/* usage: the token counts of one API call, as the provider reports them.
 *
 * Field meanings follow Anthropic's `usage` object:
 * input_tokens counts only tokens after the last cache breakpoint;
 * cache_write_5m + cache_write_1h == cache_creation_input_tokens (when the
 * response carries no `cache_creation` breakdown, all of it is 5m). */
#ifndef AIMETER_USAGE_H
#define AIMETER_USAGE_H

#include <stdint.h>

typedef struct am_usage {
	int64_t input_tokens;
	int64_t output_tokens;
	int64_t cache_write_5m;
	int64_t cache_write_1h;
	int64_t cache_read;
} am_usage;

/* Total input as the rate limiter and long-context rule count it. */
static inline int64_t am_usage_total_input(const am_usage *u)
{
	return u->input_tokens + u->cache_write_5m + u->cache_write_1h + u->cache_read;
}

#endif
