/* sim_text: what the simulator reads in a request and writes in an answer.
 *
 * The token estimate (documented, and identical for /v1/messages and
 * /v1/messages/count_tokens):
 *
 *   input = 1
 *         + Σ tools      ceil(bytes of the tool's compact JSON / 4)
 *         + Σ system     ceil(bytes of the text / 4)   (a string, or each text block)
 *         + Σ messages   (4 + Σ content ceil(bytes / 4))
 *
 * where a string content or a text block counts its text's bytes and any
 * other block counts its compact JSON (without cache_control). This gives
 * 14 for the docs' count_tokens example (system "You are a scientist", user
 * "Hello, Claude"). Each output token is one word of lorem-ipsum text (with
 * its leading space and punctuation).
 *
 * Cache breakpoints: every block carrying `cache_control` (tools, system
 * blocks, message content blocks) and a top-level `cache_control` (on the
 * last block) records the token count and a hash of the prompt prefix up to
 * and including that block. Pure functions; thread-safe. */
#ifndef AIMETER_SIM_TEXT_H
#define AIMETER_SIM_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "err.h"

/* The API allows at most four cache_control blocks per request. */
#define AM_SIMTEXT_MAX_BREAKPOINTS 4
/* The simulator's own bound on stop_sequences (a request over it gets a 400). */
#define AM_SIMTEXT_MAX_STOPS 256

typedef struct am_simtext_bp {
	int64_t tokens; /* prompt tokens up to and including the marked block */
	uint64_t hash;  /* hash of that prefix */
	bool ttl_1h;    /* {"type":"ephemeral","ttl":"1h"}; otherwise 5 minutes */
} am_simtext_bp;

typedef struct am_simtext_prompt {
	int64_t tokens; /* the whole input, by the estimate above */
	uint64_t hash;  /* hash of the whole prompt (tools, system, messages) */
	int n_bp;
	am_simtext_bp bp[AM_SIMTEXT_MAX_BREAKPOINTS];
} am_simtext_prompt;

/* Validates and measures `tools`, `system`, `messages` and the top-level
 * `cache_control` of a request object. On a malformed request returns -1
 * with an API-style message in err ("messages: Field required", ...), which
 * the simulator sends as a 400 invalid_request_error. */
int am_simtext_prompt_parse(const json_t *req, am_simtext_prompt *out, am_err *err);

/* Tokens of one text under the estimate: ceil(bytes / 4). */
int64_t am_simtext_tokens(size_t bytes);

enum am_simtext_stop { AM_SIMTEXT_END_TURN, AM_SIMTEXT_MAX_TOKENS, AM_SIMTEXT_STOP_SEQUENCE };

/* A generated answer. text is NUL-terminated; tok_end[i] is the byte offset
 * where output token i ends (so token i is text[tok_end[i-1] .. tok_end[i]));
 * the last one is clipped where a stop sequence began. */
typedef struct am_simtext_answer {
	char *text;
	size_t len;
	size_t *tok_end;
	int64_t n_tokens; /* output_tokens */
	enum am_simtext_stop stop;
	int stop_index; /* index into stops when stop == STOP_SEQUENCE, else -1 */
} am_simtext_answer;

/* Generates the answer for a request whose identity is `h` (seed, model and
 * prompt hashed by the caller). The natural length, 12..~800 tokens, depends
 * on h only (length > 0 replaces it), so max_tokens and stop_sequences only
 * cut the same text short:
 * max_tokens bounds n_tokens (stop MAX_TOKENS when it cuts), and the earliest
 * occurrence of any stop sequence ends the text before it (stop
 * STOP_SEQUENCE; the token that completed the match still counts). Owns its
 * buffers; free with am_simtext_answer_free. */
void am_simtext_answer_make(uint64_t h, int64_t length, int64_t max_tokens,
                            const char *const *stops, size_t n_stops, am_simtext_answer *out);
void am_simtext_answer_free(am_simtext_answer *a);

/* Hash helpers shared with the simulator: FNV-1a 64 over bytes, and a
 * splitmix64 finaliser for mixing words and for its counter-based PRNG. */
uint64_t am_simtext_hash(uint64_t h, const void *data, size_t n);
uint64_t am_simtext_mix(uint64_t x);

#endif
