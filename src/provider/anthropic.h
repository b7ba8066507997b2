/* anthropic (prov_): the Anthropic Messages API as pure data work.
 *
 * Everything here is free of I/O, clocks and threads, so it is tested on
 * fixtures (tests/fixtures/anthropic): building request bodies, parsing JSON
 * answers, accumulating a streamed answer from its SSE events, classifying
 * errors into retryable and final, parsing the rate-limit headers, and the
 * retry policy. The libcurl transport (client.h) uses these; so may tests
 * and the simulator. Any thread may call these functions on its own data. */
#ifndef AIMETER_ANTHROPIC_H
#define AIMETER_ANTHROPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bbuf.h"
#include "err.h"
#include "rlheaders.h"
#include "sse.h"
#include "usage.h"

#define AM_PROV_API_VERSION "2023-06-01"
#define AM_PROV_DEFAULT_BASE_URL "https://api.anthropic.com"

/* ---- request bodies ----------------------------------------------------- */

typedef enum am_prov_cache_ttl {
	AM_PROV_CACHE_NONE, /* no cache_control */
	AM_PROV_CACHE_5M,   /* {"type":"ephemeral"}: the default 5-minute TTL */
	AM_PROV_CACHE_1H    /* {"type":"ephemeral","ttl":"1h"} */
} am_prov_cache_ttl;

/* One text block of a system prompt or a message, optionally a cache
 * breakpoint. */
typedef struct am_prov_block {
	const char *text;
	am_prov_cache_ttl cache;
} am_prov_block;

/* One turn. Content is the first that is set of: content_json (a raw JSON
 * array of content blocks, passed through: tool results, images), blocks
 * (nblocks > 0), text (a plain string). */
typedef struct am_prov_message {
	const char *role; /* "user" or "assistant" */
	const char *text;
	const am_prov_block *blocks;
	size_t nblocks;
	const char *content_json;
} am_prov_message;

/* A Messages request. Strings are borrowed for the duration of the build
 * call. Optional numbers are sent only when their has_ flag is set; NULL
 * strings and empty arrays are left out. */
typedef struct am_prov_request {
	const char *model;               /* required */
	int64_t max_tokens;              /* required, >= 0 (0 pre-warms the cache) */
	const am_prov_message *messages; /* required, nmessages >= 1 */
	size_t nmessages;
	const char *system;                 /* a system string, or ... */
	const am_prov_block *system_blocks; /* ... blocks (used when nsystem_blocks > 0) */
	size_t nsystem_blocks;
	bool has_temperature;
	double temperature;
	bool has_top_p;
	double top_p;
	bool has_top_k;
	int64_t top_k;
	const char *const *stop_sequences;
	size_t nstop_sequences;
	const char *metadata_user_id; /* metadata.user_id */
	const char *tools_json;       /* raw JSON array, passed through */
	const char *tool_choice_json; /* raw JSON object, passed through */
	const char *extra_json;       /* raw JSON object: its members are added
	                                 (thinking, service_tier, ...) */
	bool stream;
} am_prov_request;

typedef enum am_prov_endpoint {
	AM_PROV_MESSAGES,    /* POST /v1/messages */
	AM_PROV_COUNT_TOKENS /* POST /v1/messages/count_tokens */
} am_prov_endpoint;

/* The path of an endpoint, e.g. "/v1/messages". */
const char *am_prov_endpoint_path(am_prov_endpoint ep);

/* Builds the compact JSON body for ep. For AM_PROV_COUNT_TOKENS only the
 * fields that endpoint accepts are sent (model, messages, system, tools,
 * tool_choice, and thinking/cache_control/output_config from extra_json).
 * Key order is fixed, so equal requests give byte-equal bodies. On success
 * *out is a heap string (caller frees) of *out_len bytes (out_len may be
 * NULL). Returns 0, or -1 with err for a missing field or invalid raw JSON. */
int am_prov_build_body(const am_prov_request *rq, am_prov_endpoint ep, char **out, size_t *out_len,
                       am_err *err);

/* ---- results and error classes ------------------------------------------ */

/* What went wrong, if anything. The first group is retryable by default,
 * the second is final (retrying cannot help or would spend money wrongly). */
typedef enum am_prov_errkind {
	AM_PERR_NONE = 0,
	/* retryable */
	AM_PERR_RATE_LIMIT, /* 429 rate_limit_error */
	AM_PERR_OVERLOADED, /* 529 overloaded_error */
	AM_PERR_SERVER,     /* other 5xx */
	AM_PERR_TIMEOUT,    /* 408, or the client's connect/total timeout */
	AM_PERR_CONFLICT,   /* 409 */
	AM_PERR_NETWORK,    /* connect, DNS, reset: no complete response */
	AM_PERR_TRUNCATED,  /* the body ended early */
	AM_PERR_MIDSTREAM,  /* an `error` event after the 200 */
	/* final */
	AM_PERR_INVALID_REQUEST,  /* 400 */
	AM_PERR_AUTH,             /* 401: never retried, whatever x-should-retry says */
	AM_PERR_BILLING,          /* 402 */
	AM_PERR_PERMISSION,       /* 403 */
	AM_PERR_NOT_FOUND,        /* 404 */
	AM_PERR_TOO_LARGE,        /* 413 */
	AM_PERR_SPEND_LIMIT,      /* 429 with error.details.error_code
	                             "enforced_spend_limit_reached" (the tier's cap) */
	AM_PERR_USER_SPEND_LIMIT, /* 400 "You have reached your specified API usage
	                             limits" (a limit the user set) */
	AM_PERR_CLIENT,           /* another 3xx/4xx */
	AM_PERR_PROTOCOL,         /* a 2xx we cannot read, an over-long SSE event */
	AM_PERR_RESPONSE_TOO_BIG, /* over the client's response size cap */
	AM_PERR_SETUP,            /* bad URL, TLS trust failure: fix the config */
	AM_PERR_CANCELLED,        /* cancelled by the caller */
	AM_PERR_COUNT_
} am_prov_errkind;

/* A stable lower-case name ("rate_limit", "spend_limit", ...) for logs,
 * the ledger and the UI. */
const char *am_prov_errkind_name(am_prov_errkind k);

/* What the kind means to a person, for the start of an error line:
 * "authentication failed", "spend limit reached (API tier)", "overloaded",
 * "timed out", ... ("ok" for AM_PERR_NONE). */
const char *am_prov_errkind_label(am_prov_errkind k);

/* Whether the kind is retryable absent an x-should-retry override. */
bool am_prov_errkind_retryable(am_prov_errkind k);

enum { AM_PROV_MSG_MAX = 320, AM_PROV_ID_MAX = 96, AM_PROV_MODEL_MAX = 128 };

/* The outcome of one call. Strings are NUL-terminated, well-formed UTF-8
 * (any other byte becomes '?') and truncated at a character boundary when
 * too long. */
typedef struct am_prov_result {
	int http_status;                 /* 0 when no response status arrived */
	am_prov_errkind err;             /* AM_PERR_NONE on success */
	bool retryable;                  /* the decision after x-should-retry */
	char error_type[48];             /* provider error.type, e.g. "overloaded_error" */
	char message[AM_PROV_MSG_MAX];   /* provider error.message, or what the client saw */
	char request_id[AM_PROV_ID_MAX]; /* request-id header, else body request_id */
	char id[AM_PROV_ID_MAX];         /* message id */
	char model[AM_PROV_MODEL_MAX];   /* the model the response names (dated id) */
	char stop_reason[40];
	char stop_sequence[128];
	char service_tier[16];
	bool has_usage;   /* usage holds what the provider reported */
	bool usage_final; /* false when a stream ended before message_delta:
	                     the counts are what had arrived (still billed) */
	bool started;     /* a stream's message_start arrived: the call is billed,
	                     whatever happens to the rest of it */
	am_usage usage;   /* count_tokens: usage.input_tokens is the count */
	/* A usage figure outside its bounds (AM_PROV_MAX_TOKENS), not an
	 * integer, or input_tokens or output_tokens missing: the figure reads
	 * 0 in usage and usage_why says which (the caller must not trust the
	 * counts for money or limits). */
	bool usage_suspect;
	char usage_why[96];
	char *text;       /* heap, the answer's text (NULL when none) */
	size_t text_len;
	bool stream;               /* the answer came as SSE */
	bool missing_message_stop; /* stream ended after message_delta, without
	                              message_stop (accepted as complete) */
	am_rl_headers rl;          /* parsed response headers */
	int64_t latency_ns;        /* start to completion, monotonic */
	int64_t ttfb_ns;           /* start to the first response byte; 0 when none */
} am_prov_result;

void am_prov_result_init(am_prov_result *r);
/* Frees r->text (a caller that took it sets it to NULL first). */
void am_prov_result_free(am_prov_result *r);

/* One line for the user about a failed call: label, the provider's message,
 * then the HTTP status and request id when known, e.g. "authentication
 * failed: invalid x-api-key (HTTP 401, request-id req_01...)". Truncates to
 * n bytes (NUL included); returns what snprintf would have written. */
int am_prov_describe(const am_prov_result *r, char *buf, size_t n);

/* Sets err and retryable from kind, and message (printf-style). */
void am_prov_result_fail(am_prov_result *r, am_prov_errkind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Classifies a non-2xx response from its status and body (the documented
 * error shape; any body is accepted, including none or HTML). Fills err,
 * retryable, error_type, message, and request_id when r->request_id is still
 * empty. should_retry is the x-should-retry header: -1 absent, 0 false,
 * 1 true; it overrides the status decision except for AUTH and both spend
 * limits, which stay final. */
void am_prov_classify_http(int status, const char *body, size_t len, int should_retry,
                           am_prov_result *r);

/* Parses a non-streaming 200 Message: text (the text blocks joined), id,
 * model, stop_reason, stop_sequence and usage (cache_creation breakdown; when
 * absent all of cache_creation_input_tokens counts as 5m). Returns 0, or -1
 * with err when the body is not a Message; *premature is set when the JSON
 * simply ended early (a truncated body) - premature may be NULL. */
int am_prov_parse_message(const char *body, size_t len, am_prov_result *r, bool *premature,
                          am_err *err);

/* Parses a count_tokens answer {"input_tokens": N}. Returns 0 or -1. */
int am_prov_parse_count_tokens(const char *body, size_t len, int64_t *input_tokens, bool *premature,
                               am_err *err);

/* The whole outcome of a complete non-streaming response (and of an error
 * response to a streaming request): a 2xx is parsed as ep's answer (a body
 * that cannot be read is AM_PERR_TRUNCATED when its JSON simply ended early,
 * else AM_PERR_PROTOCOL); anything else goes to am_prov_classify_http. */
void am_prov_finish_response(am_prov_endpoint ep, int status, const char *body, size_t len,
                             int should_retry, am_prov_result *r);

/* ---- the streaming accumulator ------------------------------------------- */

/* Called with each text_delta as it is parsed (not NUL-terminated). */
typedef void (*am_prov_text_fn)(void *ctx, const char *text, size_t len);

/* Raw usage as the stream reports it; every field is overwritten by each
 * event that carries it (message_start, then each message_delta). */
typedef struct am_prov_raw_usage {
	bool has_input, has_output, has_cc, has_cr, has_breakdown;
	int64_t input, output, cache_creation, cache_read, cc_5m, cc_1h;
	/* server_tool_use counts and what was served (see usage.h) */
	int64_t web_search, web_fetch, code_execution;
	char speed[AM_USAGE_TAG_MAX], inference_geo[AM_USAGE_TAG_MAX],
	    service_tier[AM_USAGE_TAG_MAX];
	char bad[96];   /* the first figure out of bounds ("" = none) */
} am_prov_raw_usage;

/* The most tokens one call may report in one usage field: a hundred times
 * the largest context window. Beyond it (or below 0, or not an integer) a
 * figure is suspect, never money. */
enum { AM_PROV_MAX_TOKENS = 100000000 };

/* The result's usage_suspect and usage_why from raw usage (a final answer
 * must carry input_tokens and output_tokens). */
void am_prov_usage_check(const am_prov_raw_usage *raw, am_prov_result *r);

typedef struct am_prov_stream {
	am_sse sse;
	am_bbuf text;
	am_prov_text_fn on_text;
	void *ctx;
	am_prov_raw_usage u;
	bool started;    /* message_start seen */
	bool delta_seen; /* message_delta with a stop_reason seen */
	bool stopped;    /* message_stop seen */
	bool errored;    /* an `error` event, or the stream could not be read */
	am_prov_errkind fail_kind;
	bool silent; /* stop passing text on (after an error or cancel) */
	char id[AM_PROV_ID_MAX];
	char model[AM_PROV_MODEL_MAX];
	char stop_reason[40];
	char stop_sequence[128];
	char service_tier[16];
	char error_type[48];
	char message[AM_PROV_MSG_MAX];
	uint64_t unknown_events;
	uint64_t pings;
} am_prov_stream;

/* Prepares s. max_event bounds one SSE event (0 = 1 MiB); max_text bounds
 * the accumulated text (0 = 8 MiB). on_text may be NULL. */
void am_prov_stream_init(am_prov_stream *s, size_t max_event, size_t max_text,
                         am_prov_text_fn on_text, void *ctx);

/* Feeds bytes of the event stream, split anywhere. Text deltas reach on_text
 * before this returns. ping and unknown events are ignored; after an
 * `error` event or message_stop, later events are ignored. Returns 0, or -1
 * with err when the stream cannot be read (an over-long event, a known event
 * whose JSON is malformed): feeding should stop then. */
int am_prov_stream_feed(am_prov_stream *s, const char *buf, size_t len, am_err *err);

/* Ends the stream and fills r (text is moved into r): success when
 * message_stop arrived, or message_delta with a stop_reason arrived and only
 * message_stop is missing (it carries nothing); AM_PERR_MIDSTREAM after an
 * `error` event; AM_PERR_TRUNCATED when it ended before message_delta (the
 * usage so far is kept, usage_final false); AM_PERR_PROTOCOL when it ended
 * but never began (no message_start: model and input usage unknown).
 * Leaves r->http_status alone. */
void am_prov_stream_finish(am_prov_stream *s, am_prov_result *r);

void am_prov_stream_free(am_prov_stream *s);

/* Usage from the raw fields: cache_creation 5m/1h from the breakdown when
 * present (what the breakdown does not cover counts as 5m), else all 5m;
 * server_tool_use's web_search_requests, web_fetch_requests and
 * code_execution_requests, and speed, inference_geo and service_tier as
 * reported (a value that is not a plain lower-case word is left out). */
void am_prov_usage_from_raw(const am_prov_raw_usage *raw, am_usage *u);

/* ---- response headers ----------------------------------------------------- */

typedef struct am_prov_headers {
	am_rl_headers rl;
	char request_id[AM_PROV_ID_MAX];
	char content_type[64];
	int should_retry;        /* x-should-retry: -1 absent, 0 false, 1 true */
	bool has_retry_after_ms; /* retry-after-ms, a float of milliseconds */
	int64_t retry_after_ms_ns;
	bool has_retry_after_secs; /* retry-after as (float) seconds */
	int64_t retry_after_secs_ns;
	bool has_retry_after_date; /* retry-after as an HTTP-date */
	int64_t retry_after_date_ns;
} am_prov_headers;

void am_prov_headers_init(am_prov_headers *h);

/* Takes one header line as libcurl's header callback delivers it
 * ("Name: value\r\n"; the line end is optional). A status line ("HTTP/1.1
 * 429 ...", "HTTP/2 200") starts a new header block: everything is reset and
 * rl.http_status set. Unknown headers and malformed values are ignored. */
void am_prov_headers_line(am_prov_headers *h, const char *line, size_t len);

/* Resolves retry-after into rl.retry_after_ns: retry-after-ms first, then
 * retry-after seconds, then an HTTP-date taken relative to the Date header
 * (or to now_wall_ns when the response has no Date). Negative results are
 * dropped (has_retry_after stays false). Call once the block is complete. */
void am_prov_headers_finish(am_prov_headers *h, int64_t now_wall_ns);

/* What a Messages request body asks that is billed beyond tokens: *fast
 * when "speed" is "fast"; *web_searches the sum over its web_search_* tools
 * of max_uses, `default_uses` for a tool that sets none. Bodies it cannot
 * read ask for nothing. */
struct json_t;
void am_prov_request_billing(const struct json_t *body, int64_t default_uses, bool *fast,
                             int64_t *web_searches);

/* RFC 3339 date-time ("2025-02-24T22:25:32Z", fractional seconds, Z or
 * +hh:mm/-hh:mm offsets; 't', 'z' and a space separator are accepted) to ns
 * since the Unix epoch. Returns 0, or -1 on anything else. */
int am_prov_parse_rfc3339(const char *s, size_t n, int64_t *out_ns);

/* HTTP-date (RFC 9110 §5.6.7: IMF-fixdate, obsolete RFC 850 and asctime
 * forms) to ns since the epoch. Returns 0 or -1. */
int am_prov_parse_http_date(const char *s, size_t n, int64_t *out_ns);

/* ---- retry policy --------------------------------------------------------- */

typedef struct am_prov_retry_cfg {
	int max_retries;            /* retries after the first attempt (default 2) */
	int64_t initial_delay_ns;   /* first backoff (default 0.5 s) */
	int64_t max_delay_ns;       /* backoff cap (default 8 s) */
	int64_t max_retry_after_ns; /* server hints above this are ignored (default 60 s) */
} am_prov_retry_cfg;

void am_prov_retry_cfg_default(am_prov_retry_cfg *c);

/* Whether a call that has been attempted `attempts` times (>= 1) and ended
 * with r should be sent again: r is retryable and attempts <= max_retries. */
bool am_prov_retry_should(const am_prov_retry_cfg *c, int attempts, const am_prov_result *r);

/* The wait before retry number `retry` (1 = the first retry), in ns: the
 * server's retry-after (h may be NULL) when 0 < value <= max_retry_after,
 * else min(initial × 2^(retry-1), max) × (1 - 0.25 × rnd01), as the official
 * SDKs do. rnd01 is a uniform random number in [0, 1) the caller draws.
 * Pure: never sleeps, never reads a clock. */
int64_t am_prov_retry_delay(const am_prov_retry_cfg *c, int retry, const am_rl_headers *h,
                            double rnd01);

/* ---- answers written out again ---------------------------------------------- */

/* A stored answer (the response cache's: its text as one block) as the API
 * sends it: a Message object (am_prov_message_json), or the SSE events of a
 * streamed Message (am_prov_message_sse: message_start, content_block_start,
 * one content_block_delta, content_block_stop, message_delta, message_stop).
 * stop_sequence may be NULL. Heap; NULL when text is not valid UTF-8. */
char *am_prov_message_json(const char *id, const char *model, const char *text,
                           const char *stop_reason, const char *stop_sequence,
                           const am_usage *u);
char *am_prov_message_sse(const char *id, const char *model, const char *text,
                          const char *stop_reason, const char *stop_sequence,
                          const am_usage *u);

#endif
