/* sim: an Anthropic-compatible HTTP server on loopback, for tests and for the
 * no-key dashboard. Built on libmicrohttpd; runs on its own thread(s).
 *
 * It implements POST /v1/messages (JSON and SSE) and
 * /v1/messages/count_tokens with auth and version checks, the documented
 * error shape, three token buckets with the documented accounting,
 * anthropic-ratelimit-* headers, 429 with retry-after, dated model ids,
 * prompt-caching usage, deterministic answers from the seed, paced streams
 * and fault injection. */
#ifndef AIMETER_SIM_H
#define AIMETER_SIM_H

#include <stdint.h>

#include "err.h"

typedef struct am_sim_cfg {
	uint16_t port;              /* 0 = an ephemeral port */
	int64_t rpm, itpm, otpm;    /* 0 = unlimited */
	int64_t rpm_burst;          /* request-bucket capacity; 0 = rpm (a 60 s bucket) */
	int latency_ms;             /* time to first byte */
	int tokens_per_second;      /* stream pacing; 0 = as fast as possible */
	double fault_529, fault_500, fault_midstream, fault_truncate; /* probabilities 0..1 */
	uint64_t seed;
	const char *api_key;        /* required x-api-key; NULL accepts any non-empty key */
} am_sim_cfg;

typedef struct am_sim am_sim;

/* Fills cfg with defaults (ephemeral port, no limits, no faults, seed 1). */
void am_sim_cfg_default(am_sim_cfg *cfg);

/* Starts listening on 127.0.0.1. Returns 0 or -1 with err. */
int am_sim_start(am_sim **out, const am_sim_cfg *cfg, am_err *err);

/* "http://127.0.0.1:PORT" (owned by the sim). */
const char *am_sim_url(const am_sim *s);
uint16_t am_sim_port(const am_sim *s);

/* Counters since start, for tests: requests seen, 429s sent, 529/500 sent. */
typedef struct am_sim_stats {
	int64_t requests, ok, rate_limited, overloaded, server_errors, midstream_errors, truncated;
	int64_t input_tokens, output_tokens, cache_write_tokens, cache_read_tokens;
} am_sim_stats;
void am_sim_get_stats(const am_sim *s, am_sim_stats *out);

/* Changes limits at run time (tests of the dashboard's 429 display). */
void am_sim_set_limits(am_sim *s, int64_t rpm, int64_t itpm, int64_t otpm);

/* Stops the server and frees it. Safe with NULL. */
void am_sim_stop(am_sim *s);

#endif
