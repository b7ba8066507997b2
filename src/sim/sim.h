/* sim: an Anthropic-compatible HTTP server on loopback, for tests and for the
 * no-key dashboard. Built on libmicrohttpd; runs on its own thread(s).
 *
 * It implements POST /v1/messages (JSON and SSE) and
 * /v1/messages/count_tokens with auth and version checks, the documented
 * error shape, three token buckets with the documented accounting,
 * anthropic-ratelimit-* headers, 429 with retry-after, dated model ids,
 * prompt-caching usage, deterministic answers from the seed, paced streams
 * and fault injection.
 *
 * Wire contract (what a client sees):
 * - Every response carries `request-id: req_...`, `Date` (from cfg.clock) and,
 *   for each limited dimension, anthropic-ratelimit-{requests,input-tokens,
 *   output-tokens}-{limit,remaining,reset}; tokens-* (the sum of input and
 *   output, full when both are) when both token limits are set. Token
 *   remaining is rounded to the nearest thousand; reset is RFC 3339 UTC,
 *   second precision rounded up, the time the bucket is full again.
 *   count_tokens answers carry only its own requests-* bucket (cfg.count_rpm).
 * - Errors: {"type":"error","error":{"type","message"},"request_id"}.
 *   401 authentication_error (x-api-key missing or wrong), 400 for a missing
 *   or unknown anthropic-version (2023-06-01 and 2023-01-01 are known) and
 *   for malformed bodies, 404 not_found_error for an unknown model or path,
 *   405 for a method other than POST, 413 request_too_large over 32 MiB,
 *   429 rate_limit_error with an integer `retry-after` (ceil of the wait),
 *   529 overloaded_error, 500 api_error.
 * - Accounting: a call is admitted only if RPM (1), ITPM (input + cache
 *   writes; cache reads are free) and OTPM (max_tokens) all fit; all three
 *   are charged at once and the unused max_tokens is refunded when the answer
 *   ends. Faulted calls (429/529/500 and forced faults) are not charged. One
 *   set of buckets is shared by all models.
 * - Token estimate and answers: see sim_text.h (documented formula; answers
 *   are lorem-ipsum words, one token each, a function of seed, model and
 *   prompt, cut by max_tokens and stop_sequences).
 * - Prompt caching: see sim_cache.h. Minimum cacheable prefix: 4096 tokens
 *   for Opus 4.5+ and Haiku 4.5, 2048 for Haiku 3.x, 1024 otherwise.
 * - Streams: message_start (usage with input and cache fields, output 1),
 *   content_block_start, ping, one content_block_delta per output token
 *   (paced at tokens_per_second), content_block_stop, message_delta (final
 *   stop_reason, cumulative output_tokens), message_stop.
 * - Message Batches: POST /v1/messages/batches (at most 100,000 requests and
 *   256 MB; custom_id checked, unique in the batch), GET .../{id}, GET
 *   /v1/messages/batches (list, most recent first, limit/after_id/before_id,
 *   has_more/first_id/last_id), POST .../{id}/cancel and GET .../{id}/results
 *   (JSONL, streamed; 400 before the batch ends). Shapes as the API's. A batch
 *   ends cfg.batch_delay_ms after its creation (a cancel ends it at the next
 *   look, the requests not yet processed by then canceled); params are
 *   validated then (errored invalid_request_error), and cfg.batch_error_pct /
 *   batch_expire_pct make requests errored (api_error) or expired by a draw
 *   on the seed, the custom_id and how often it was submitted. A create
 *   answers after cfg.latency_ms. Answers and
 *   usage are those /v1/messages would give (prompt cache included),
 *   service_tier "batch". The endpoints have their own request bucket
 *   (cfg.batch_rpm), sent as anthropic-ratelimit-requests-*.
 * - Test hooks (request headers):
 *     x-sim-fault: 400..599 | spend_limit | user_spend_limit | midstream | truncate | drop
 *       a status answers with that status and its documented error type
 *       (a forced 429 says retry-after: 1); spend_limit is the 429 with
 *       error.details.error_code "enforced_spend_limit_reached" and no
 *       retry-after; user_spend_limit is the 400 "You have reached your
 *       specified API usage limits..."; midstream sends `event: error`
 *       (overloaded_error) after half the deltas and ends the stream without
 *       message_delta/message_stop (a 529 for a non-streaming call);
 *       truncate closes the connection halfway through the body (JSON: with
 *       a Content-Length for all of it; SSE: inside an event); drop closes
 *       it before any response (counted in stats.truncated).
 *     x-sim-retry-after, x-sim-retry-after-ms: copied verbatim into
 *       retry-after / retry-after-ms of a forced error (any form: "2.5", an
 *       HTTP-date, ...).
 *     x-sim-latency-ms: this call's time to first byte (0..600000).
 *     x-sim-seq: N - the request's number, which its ids (request-id,
 *       message id) and random draws come from (default: the arrival
 *       order): the same request with the same N gets the same answer.
 *     x-sim-output-tokens: this call's natural answer length in tokens
 *       (1..1000000; still cut by max_tokens and stop_sequences).
 *     x-sim-output-bytes: stretches this call's answer text to at least N
 *       bytes (0..64 MiB; default cfg.output_bytes) by repeating each
 *       token's text in place; output_tokens is unchanged. For tests of
 *       large answers, which max_tokens alone cannot produce.
 *   Served dimensions: a request's "speed": "fast" is served fast on the
 *   models that have fast mode (Opus 4.7, 4.8, 5, 5.5, Fable 5.2; Opus 4.6
 *   quietly serves it standard) and refused with 400 elsewhere; usage.speed
 *   says which. "inference_geo" ("us" | "global", else the workspace
 *   default) is refused with 400 on models before Opus 4.6 / Sonnet 4.6,
 *   whose usage says "not_available". A web_search_* tool makes max_uses
 *   searches (1 when unset), counted in usage.server_tool_use. Versions
 *   2023-06-01 and 2026-10-21 are accepted (the latter refuses temperature,
 *   top_p and top_k), and the key may come as x-api-key or as
 *   "Authorization: Bearer <key>".
 *   A model named "sim-fault-<fault>" (e.g. sim-fault-spend_limit) acts like
 *   the header, for clients that cannot add headers. */
#ifndef AIMETER_SIM_H
#define AIMETER_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "clock.h"
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
	/* Additions (simulator helper): */
	int64_t count_rpm;          /* /v1/messages/count_tokens requests per minute; 0 = unlimited */
	bool retry_after_ms;        /* also send retry-after-ms on bucket 429s (the API sends only retry-after) */
	const am_clock *clock;      /* NULL = the system clock. Drives the buckets, cache lifetimes,
	                             * Date and reset headers; latency and pacing always use real time. */
	/* Additions (reliability tests): */
	int64_t output_bytes;       /* every answer stretched to at least this many bytes (see
	                             * x-sim-output-bytes); 0 = natural length */
	const char *output_text;    /* every answer's text instead of lorem ipsum (valid UTF-8;
	                             * control characters allowed), one token per word (split
	                             * before each space), cut by max_tokens; NULL = lorem */
	/* Addition (pipeline benchmark): */
	int64_t output_tokens;      /* every answer's natural length (1..1000000; still cut by
	                             * max_tokens); 0 = from seed, model and prompt. The request
	                             * header x-sim-output-tokens overrides it. */
	/* Addition (billed dimensions): */
	const char *default_geo;    /* the workspace's default_inference_geo ("us" | "global");
	                             * NULL = "global". A request's inference_geo wins. */
	/* Addition (Message Batches): */
	int batch_delay_ms;         /* a batch's processing time (real time); 0 = ends at the
	                             * first look after its creation */
	int64_t batch_rpm;          /* requests per minute to the batch endpoints, a bucket of
	                             * their own; 0 = unlimited */
	int batch_error_pct;        /* 0..100: requests that end errored (api_error) */
	int batch_expire_pct;       /* 0..100: requests that end expired */
	int batch_hide_ms;          /* a new batch is left out of the list this long (a create
	                             * still being committed when the list is read); 0 = none */
} am_sim_cfg;

typedef struct am_sim am_sim;

/* Fills cfg with defaults (ephemeral port, no limits, no faults, seed 1). */
void am_sim_cfg_default(am_sim_cfg *cfg);

/* Starts listening on 127.0.0.1 (one thread per connection, so slow paced
 * streams never hold up other clients). cfg and its strings are copied;
 * cfg->clock must outlive the sim and be thread-safe. Limits are clamped
 * to 1e8 per minute, probabilities to 0..1. Returns 0 or -1 with err
 * (port in use, MHD failure). */
int am_sim_start(am_sim **out, const am_sim_cfg *cfg, am_err *err);

/* "http://127.0.0.1:PORT" (owned by the sim). */
const char *am_sim_url(const am_sim *s);
uint16_t am_sim_port(const am_sim *s);

/* Counters since start, for tests: requests seen, 429s sent, 529/500 sent.
 * requests: every HTTP request; ok: answers delivered whole (JSON sent,
 * stream reached message_stop, count_tokens answered); rate_limited: every
 * 429 (buckets, faults, spend limit); overloaded: 529s; server_errors: 500s;
 * midstream_errors: `event: error` sent; truncated: bodies cut off.
 * Token counters sum the usage of admitted /v1/messages calls; output counts
 * the tokens actually produced (a stream cut short counts what it sent).
 * Any thread. */
typedef struct am_sim_stats {
	int64_t requests, ok, rate_limited, overloaded, server_errors, midstream_errors, truncated;
	int64_t input_tokens, output_tokens, cache_write_tokens, cache_read_tokens;
	/* Message batches: batches created; requests in them (custom_ids
	 * submitted); distinct custom_ids ever submitted; submissions of a
	 * custom_id seen before; results by type; and the usage of the
	 * succeeded ones (what a client must have recorded). */
	int64_t batches, batch_requests, batch_distinct, batch_repeated;
	int64_t batch_succeeded, batch_errored, batch_canceled, batch_expired;
	int64_t batch_input_tokens, batch_output_tokens, batch_cache_write_tokens,
	    batch_cache_read_tokens;
} am_sim_stats;
void am_sim_get_stats(const am_sim *s, am_sim_stats *out);

/* Changes limits at run time (tests of the dashboard's 429 display). Bucket
 * levels are kept (clamped to the new capacity); a dimension that was
 * unlimited starts full. The request bucket keeps cfg.rpm_burst as its
 * capacity when that was set. Any thread. */
void am_sim_set_limits(am_sim *s, int64_t rpm, int64_t itpm, int64_t otpm);

/* Stops the server and frees it. Safe with NULL. */
void am_sim_stop(am_sim *s);

#endif
