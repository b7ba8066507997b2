/* passthru: one HTTP request relayed as it is - the proxy's way upstream.
 *
 * Unlike the client (client.c), which builds its own requests and hands the
 * worker a parsed outcome, a pass-through sends the caller's method, headers
 * and body unchanged and gives the response back as it arrives: status and
 * header lines first (am_pass_open), then the body in pieces (am_pass_read),
 * driven on the caller's thread (blocking; one transfer per am_pass). On the
 * way through, a Messages answer is read as the worker reads its own (the
 * JSON body, or the SSE events message_start and message_delta), so that
 * am_pass_finish reports its usage in an am_prov_result.
 *
 * Threads: an am_pass belongs to the thread that opened it. Connections to
 * upstream are pooled across threads (am_pass_pool). Header values are never
 * logged or kept beyond the transfer. */
#ifndef AIMETER_PASSTHRU_H
#define AIMETER_PASSTHRU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "anthropic.h"
#include "err.h"

/* Connections kept open between transfers, shared by threads. */
typedef struct am_pass_pool am_pass_pool;
am_pass_pool *am_pass_pool_new(void);
void am_pass_pool_free(am_pass_pool *p);

typedef struct am_pass_req {
	const char *url;            /* upstream URL, path and query included */
	const char *method;         /* "POST", "GET", ... */
	const char *const *headers; /* "Name: value" lines, sent as given */
	size_t nheaders;
	const char *body;           /* borrowed until am_pass_free; may be NULL */
	size_t body_len;
	/* What the answer is read as: AM_PROV_MESSAGES (usage, SSE when
	 * stream) or AM_PROV_COUNT_TOKENS; parse false = not read at all. */
	bool parse;
	am_prov_endpoint ep;
	bool stream;
	int64_t connect_timeout_ms; /* 0 = 10 s */
	int64_t timeout_ms;         /* 0 = none */
	am_pass_pool *pool;         /* NULL = a connection of its own */
	/* Asked between waits (at least every second): true ends the transfer
	 * (read returns -1). May be NULL. */
	bool (*cancelled)(void *ctx);
	void *cancel_ctx;
} am_pass_req;

typedef struct am_pass am_pass;

/* Sends the request and waits for the final response's status and headers.
 * 0: *out is the transfer (free with am_pass_free). -1 + err when no
 * response came (cannot connect, timed out, bad URL); *out is NULL then. */
int am_pass_open(am_pass **out, const am_pass_req *req, am_err *err);

int am_pass_status(const am_pass *p);
/* The i-th response header line ("Name: value", no line end), i < n. */
size_t am_pass_nheaders(const am_pass *p);
const char *am_pass_header(const am_pass *p, size_t i);
/* The Content-Length upstream announced, or -1. */
int64_t am_pass_content_length(const am_pass *p);

/* The next bytes of the body: up to max into buf, waiting for them. Returns
 * how many (> 0), 0 at the end of the body, -1 when the transfer broke. */
ssize_t am_pass_read(am_pass *p, char *buf, size_t max);

/* Whether the whole body has been read: am_pass_read returned 0, or the
 * announced Content-Length was read and the transfer ended well. */
bool am_pass_complete(am_pass *p);

/* Ends the transfer (aborting it upstream when it is not complete) and
 * fills r: status, rate-limit headers, request-id, and for a parsed answer
 * its usage and outcome as the worker's client would report it. A body cut
 * short reads as an error (a stream keeps what usage had arrived: started,
 * usage_final false). r must be initialised (am_prov_result_init). */
void am_pass_finish(am_pass *p, am_prov_result *r);

void am_pass_free(am_pass *p);

#endif
