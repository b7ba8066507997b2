/* sim_cache: the simulator's prompt cache, as usage numbers.
 *
 * It remembers which prompt prefixes (cache breakpoints, see sim_text.h)
 * were written and until when. A request reads the longest breakpoint prefix
 * still cached (and refreshes its lifetime, as the API does), then writes
 * every later breakpoint, attributing each segment to the TTL of the
 * breakpoint that ends it. Prefixes shorter than the model's minimum
 * cacheable length are neither read nor written. Bounded: when full, an
 * expired entry or else the one expiring soonest is replaced. Time is an
 * argument (monotonic ns). Not thread-safe: the simulator holds its lock. */
#ifndef AIMETER_SIM_CACHE_H
#define AIMETER_SIM_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim_text.h"

#define AM_SIMCACHE_TTL_5M_NS (300LL * 1000000000LL)
#define AM_SIMCACHE_TTL_1H_NS (3600LL * 1000000000LL)

typedef struct am_simcache_entry {
	uint64_t key;
	int64_t expires_ns;
} am_simcache_entry;

typedef struct am_simcache {
	am_simcache_entry *e;
	size_t n, cap;
} am_simcache;

/* What one request's usage shows. input_tokens is prompt.tokens minus all three. */
typedef struct am_simcache_use {
	int64_t read;     /* cache_read_input_tokens */
	int64_t write_5m; /* cache_creation.ephemeral_5m_input_tokens */
	int64_t write_1h; /* cache_creation.ephemeral_1h_input_tokens */
} am_simcache_use;

/* cap >= 1 entries. */
void am_simcache_init(am_simcache *c, size_t cap);
void am_simcache_free(am_simcache *c);

/* Reads and writes the cache for prompt p. scope separates caches (the
 * simulator passes a hash of the model id: caches are per model). With
 * commit false nothing changes: it only says what the usage would be (the
 * simulator asks before the rate limiter admits the call). */
void am_simcache_apply(am_simcache *c, const am_simtext_prompt *p, uint64_t scope,
                       int64_t min_tokens, int64_t now_ns, bool commit, am_simcache_use *out);

#endif
