/* msgbatch: the Message Batches API - create, retrieve, list, cancel, and
 * the results read as a stream of JSONL lines.
 *
 * Blocking calls on one libcurl easy handle (keep-alive between calls),
 * for the one thread that drives a batch run; the results are handed to a
 * callback a line at a time as they arrive, so a results file of any size
 * costs one line of memory. The API key is sent as x-api-key to the base
 * URL only: a results_url elsewhere is refused, never sent the key.
 *
 * Every call returns 0, or -1 with err and *rep saying what came back: the
 * HTTP status (0 = none), whether a retry may succeed (429, 5xx, 529,
 * network) and the wait the server asked for (retry-after). */
#ifndef AIMETER_MSGBATCH_H
#define AIMETER_MSGBATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "anthropic.h"
#include "err.h"
#include "usage.h"

/* A provider limit: requests and bytes of one batch. */
enum { AM_MB_MAX_REQUESTS = 100000 };
#define AM_MB_MAX_BYTES ((size_t)256 * 1000 * 1000)

typedef struct am_mb_opts {
	const char *base_url;       /* NULL = https://api.anthropic.com */
	const char *api_key;        /* copied; wiped on close */
	int64_t connect_timeout_ms; /* 0 = 10 000 */
	int64_t timeout_ms;         /* a call, results included; 0 = 600 000 */
	bool allow_insecure_http;   /* http:// beyond loopback */
} am_mb_opts;

typedef struct am_mb am_mb;

int am_mb_open(am_mb **out, const am_mb_opts *o, am_err *err);
/* The longest one call may take (its timeout_ms in force), ms. */
int64_t am_mb_timeout_ms(const am_mb *c);
void am_mb_close(am_mb *c);

/* What came back, for the caller's retry decision. */
typedef struct am_mb_reply {
	int http_status;
	bool retryable;
	int64_t retry_after_ns; /* 0 = none given */
	/* anthropic-ratelimit-requests-{limit,remaining}: -1 = not sent */
	int64_t requests_limit, requests_remaining;
	char request_id[AM_PROV_ID_MAX];
} am_mb_reply;

enum { AM_MB_ID_MAX = 128, AM_MB_URL_MAX = 1024 };

/* A MessageBatch object. Times are ns since the epoch, 0 when null. */
typedef struct am_mb_batch {
	char id[AM_MB_ID_MAX];
	char status[16];            /* in_progress | canceling | ended */
	int64_t processing, succeeded, errored, canceled, expired;
	int64_t created_ns, ended_ns, expires_ns, cancel_ns;
	char results_url[AM_MB_URL_MAX];
} am_mb_batch;

static inline int64_t am_mb_total(const am_mb_batch *b)
{
	return b->processing + b->succeeded + b->errored + b->canceled + b->expired;
}

/* Parses a MessageBatch object's JSON. 0, or -1 + err. */
int am_mb_parse_batch(const char *json, size_t len, am_mb_batch *out, am_err *err);

/* POST /v1/messages/batches with body ({"requests":[...]}, len bytes). */
int am_mb_create(am_mb *c, const char *body, size_t len, am_mb_batch *out, am_mb_reply *rep,
                 am_err *err);
/* GET /v1/messages/batches/{id}. */
int am_mb_get(am_mb *c, const char *id, am_mb_batch *out, am_mb_reply *rep, am_err *err);
/* POST /v1/messages/batches/{id}/cancel. */
int am_mb_cancel(am_mb *c, const char *id, am_mb_batch *out, am_mb_reply *rep, am_err *err);

/* One page of the list, most recent first: at most `limit` (1..1000)
 * batches after after_id (NULL = from the newest). *out is heap (free());
 * *has_more says whether a next page exists (after_id = the last id). */
int am_mb_list(am_mb *c, int limit, const char *after_id, am_mb_batch **out, int *n,
               bool *has_more, am_mb_reply *rep, am_err *err);

/* One result line, parsed. */
typedef enum am_mb_kind {
	AM_MB_SUCCEEDED,
	AM_MB_ERRORED,
	AM_MB_CANCELED,
	AM_MB_EXPIRED
} am_mb_kind;

typedef struct am_mb_result {
	char custom_id[72];
	am_mb_kind kind;
	am_prov_result msg;  /* SUCCEEDED: the Message (model, text, usage, stop_reason);
	                        ERRORED: error_type, message, request_id */
} am_mb_result;

/* Parses one JSONL line of the results. 0, or -1 + err (then nothing to
 * free). Free out->msg with am_prov_result_free. */
int am_mb_parse_result(const char *line, size_t len, am_mb_result *out, am_err *err);

/* A result line (not NUL-terminated; no line end). Non-zero stops the read
 * (am_mb_results then returns that value). */
typedef int (*am_mb_line_fn)(void *ctx, const char *line, size_t len);

/* GETs results_url (which must lie under the base URL) and hands each line
 * to fn as it arrives; a line may be up to max_line bytes (0 = 64 MiB).
 * 0 when every line was read, fn's non-zero, or -1 + err. */
int am_mb_results(am_mb *c, const char *results_url, size_t max_line, am_mb_line_fn fn,
                  void *ctx, am_mb_reply *rep, am_err *err);

#endif
