/* usage: what one API call was billed for, as the provider reports it.
 *
 * Field meanings follow Anthropic's `usage` object:
 * input_tokens counts only tokens after the last cache breakpoint;
 * cache_write_5m + cache_write_1h == cache_creation_input_tokens (when the
 * response carries no `cache_creation` breakdown, all of it is 5m).
 * Beyond tokens: server_tool_use.web_search_requests (billed per search),
 * web_fetch_requests and code_execution_requests (recorded, no fee per
 * request), and what was served: speed ("standard" | "fast"),
 * inference_geo ("global" | "us" | "not_available" | ...) and service_tier
 * ("standard" | "priority" | "batch" | ...). An empty string means the
 * response did not say. Prices follow what was served, not what was asked. */
#ifndef AIMETER_USAGE_H
#define AIMETER_USAGE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

enum { AM_USAGE_TAG_MAX = 24 };

typedef struct am_usage {
	int64_t input_tokens;
	int64_t output_tokens;
	int64_t cache_write_5m;
	int64_t cache_write_1h;
	int64_t cache_read;
	int64_t web_search_requests;
	int64_t web_fetch_requests;
	int64_t code_execution_requests;
	char speed[AM_USAGE_TAG_MAX];
	char inference_geo[AM_USAGE_TAG_MAX];
	char service_tier[AM_USAGE_TAG_MAX];
} am_usage;

/* Total input as the rate limiter and the price bands count it: the prompt
 * size (uncached input + cache writes + cache reads). */
static inline int64_t am_usage_total_input(const am_usage *u)
{
	return u->input_tokens + u->cache_write_5m + u->cache_write_1h + u->cache_read;
}

static inline bool am_usage_fast(const am_usage *u)
{
	return !strcmp(u->speed, "fast");
}

static inline bool am_usage_geo_us(const am_usage *u)
{
	return !strcmp(u->inference_geo, "us");
}

#endif
