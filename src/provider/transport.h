/* transport: the seam between the worker and whatever carries its calls.
 *
 * The worker starts calls, drives them, cancels them and hears their
 * outcome only through these operations. The libcurl client implements
 * them (am_client_transport); tests implement them with scripted answers
 * on a fake clock (tests/support/faketransport).
 *
 * A call reports through its am_client_cb: on_headers once with the final
 * status and the rate-limit headers (am_rl_headers), on_text for each
 * piece of a streamed answer, then on_done exactly once with the outcome
 * (am_prov_result: status, headers, text, usage, the classified error).
 *
 * Threads: a transport belongs to one thread (the worker's), except
 * wakeup, which any thread may call. */
#ifndef AIMETER_TRANSPORT_H
#define AIMETER_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "anthropic.h"
#include "err.h"
#include "rlheaders.h"

/* One call. The body and headers are copied; nothing is borrowed after
 * start returns. */
typedef struct am_client_req {
	am_prov_endpoint endpoint;
	const char *body;           /* JSON, from am_prov_build_body */
	size_t body_len;            /* 0 = strlen(body) */
	bool stream;                /* the body asked for SSE: parse the answer as events */
	const char *const *headers; /* extra "Name: value" lines (anthropic-beta, or the
	                               simulator's x-sim-fault in tests); x-api-key is refused */
	size_t nheaders;
	int64_t timeout_ms; /* 0 = opts.total_timeout_ms */
} am_client_req;

/* How a transfer reports. Any callback may be NULL; ctx is passed back.
 * on_headers and on_text run inside the transport's run (the client: inside
 * libcurl): they may start and cancel calls (both take effect at the next
 * run) but never run or free the transport. on_done runs from run (or
 * free) after the call has left the transport. */
typedef struct am_client_cb {
	/* The final response's status and parsed rate-limit headers, once,
	 * before any text. rl is valid during the call. */
	void (*on_headers)(void *ctx, int status, const am_rl_headers *rl);
	/* A piece of the answer as it arrives (streams only; not NUL-terminated). */
	void (*on_text)(void *ctx, const char *text, size_t len);
	/* The outcome. r is valid during the call; to keep the text, take
	 * r->text and set it to NULL. Cancelled transfers report
	 * AM_PERR_CANCELLED (with whatever usage a stream had reported). */
	void (*on_done)(void *ctx, am_prov_result *r);
	void *ctx;
} am_client_cb;

typedef struct am_transport_ops {
	/* Queues a call; returns its id (> 0), or 0 + err when it cannot be
	 * taken. The request and callbacks are copied. Its callbacks run from
	 * run (or free), never from start. */
	uint64_t (*start)(void *ctx, const am_client_req *req, const am_client_cb *cb,
	                  am_err *err);
	/* Aborts a queued or running call: its on_done (AM_PERR_CANCELLED) runs
	 * at the next run. -1 when no such call is pending. */
	int (*cancel)(void *ctx, uint64_t id);
	/* Moves the calls on, waiting up to timeout_ms for something to happen
	 * (or wakeup), and reports what finished. Returns the calls still
	 * pending, or -1 + err (the calls stay; calling again is allowed). */
	int (*run)(void *ctx, int timeout_ms, am_err *err);
	/* Ends a wait in run now. Any thread. */
	void (*wakeup)(void *ctx);
	/* Cancels what is pending (on_done runs with AM_PERR_CANCELLED) and frees
	 * the transport. */
	void (*free)(void *ctx);
} am_transport_ops;

typedef struct am_transport {
	const am_transport_ops *ops; /* NULL = none */
	void *ctx;
} am_transport;

#endif
