/* client (prov_ transport): many Anthropic calls at once on one thread,
 * through the libcurl multi interface.
 *
 * Threads: an am_client belongs to one thread (the worker). Every function
 * here must be called on that thread, except am_client_wakeup, which any
 * thread may call to end a wait in am_client_run early. No call blocks on
 * the network except am_client_run, and only for its timeout.
 *
 * Flow: am_client_start queues a transfer and returns its id; the next
 * am_client_run adds it to the multi handle and drives it with every other
 * transfer (keep-alive connections are reused, HTTP/2 is multiplexed when
 * the server offers it). Each transfer reports through its callbacks, and
 * on_done is called exactly once per started transfer, with the classified
 * outcome (anthropic.h): success, retryable, or final. The client never
 * retries by itself: the caller decides (am_prov_retry_should) and sends
 * again through its rate limiter.
 *
 * The API key is sent as x-api-key and nowhere else: it is never logged,
 * never put in an error message, and scrubbed from memory on free. */
#ifndef AIMETER_CLIENT_H
#define AIMETER_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "anthropic.h"
#include "clock.h"
#include "err.h"
#include "rlheaders.h"
#include "transport.h"

typedef struct am_client_opts {
	const char *base_url;       /* NULL = https://api.anthropic.com; http(s) only.
	                               ANTHROPIC_BASE_URL is the caller's business */
	const char *api_key;        /* NULL = send no x-api-key; copied */
	int64_t connect_timeout_ms; /* 0 = 10 000 */
	int64_t total_timeout_ms;   /* whole transfer; 0 = 600 000 */
	size_t max_response_bytes;  /* per response, streams included; 0 = 32 MiB */
	const char *user_agent;     /* NULL = "aimeter/<version>" */
	long max_host_connections;  /* 0 = no limit (HTTP/2 multiplexes anyway) */
	int max_transfers;          /* queued + in flight; 0 = 1024 */
	const am_clock *clock;      /* latency and Date fallback; NULL = system */
	bool allow_insecure_http;   /* accept http:// to a host other than loopback */
} am_client_opts;

/* Fills o with the defaults above (all zeros / NULL). */
void am_client_opts_default(am_client_opts *o);

typedef struct am_client am_client;

/* Creates a client. Returns 0, or -1 with err for a bad base URL, a key
 * with a line break, or a libcurl failure. The error never shows the key. */
int am_client_new(am_client **out, const am_client_opts *opts, am_err *err);

/* Cancels every transfer still queued or in flight - their on_done runs
 * from here with AM_PERR_CANCELLED - then frees the client. Safe with NULL. */
void am_client_free(am_client *c);

/* Queues a transfer. Returns its id (> 0), or 0 with err when the request
 * is malformed (no body, a bad extra header) or max_transfers are already
 * queued or in flight. The callbacks are copied. */
uint64_t am_client_start(am_client *c, const am_client_req *req, const am_client_cb *cb,
                         am_err *err);

/* Cancels a queued or in-flight transfer: no more on_text; its on_done
 * (AM_PERR_CANCELLED) runs at the next am_client_run. Returns 0, or -1 when
 * no such transfer is pending (it already finished). */
int am_client_cancel(am_client *c, uint64_t id);

/* One pass of the loop: starts queued transfers, moves data, waits up to
 * timeout_ms for activity (or am_client_wakeup), moves data again, and
 * reports finished transfers through on_done. It returns without waiting
 * when the first step already reported an outcome. Returns the number of
 * transfers still queued or in flight, or -1 with err when libcurl's multi
 * handle fails (the transfers stay; calling again is allowed). */
int am_client_run(am_client *c, int timeout_ms, am_err *err);

/* Ends a wait in am_client_run now. Any thread; async-signal-unsafe. */
void am_client_wakeup(am_client *c);

/* Transfers queued or in flight. */
int am_client_pending(const am_client *c);

/* Counters since am_client_new, for tests and the dashboard. */
typedef struct am_client_stats {
	int64_t transfers;          /* finished (on_done called), cancelled included */
	int64_t connections_opened; /* new connections libcurl made for them */
	int64_t bytes_received;     /* response bodies, as delivered */
} am_client_stats;
void am_client_get_stats(const am_client *c, am_client_stats *out);

/* The client as the worker's transport (transport.h): start, cancel, run
 * and wakeup are the functions above, and free is am_client_free. */
am_transport am_client_transport(am_client *c);

/* The base URL in use ("https://api.anthropic.com"), owned by the client. */
const char *am_client_base_url(const am_client *c);

/* Whether an http:// URL's host is this machine: "localhost", 127.0.0.0/8
 * or [::1], read the way curl reads the authority. */
bool am_client_url_loopback(const char *http_url);

#endif
