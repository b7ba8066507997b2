/* proxy: an Anthropic-compatible HTTP endpoint on this machine that other
 * programs (the SDKs, agents, editors - anything that takes
 * ANTHROPIC_BASE_URL) send their calls through, so that aimeter's budget,
 * limiter and ledger cover them.
 *
 *   POST /v1/messages (streaming or not): admitted by the worker
 *     (proxycall.h), relayed upstream unchanged, its answer relayed back as
 *     it arrives (SSE events are passed on as they come), recorded once
 *     with source "proxy", the tag and the key's last four characters.
 *   A Messages body aimeter cannot read (not a JSON object with a model,
 *     or a key given twice) is refused here with a 400, never sent.
 *   POST /v1/messages/count_tokens and every other path: passed upstream
 *     unchanged, not recorded.
 *
 * The client's own x-api-key (or Authorization) goes upstream; a client
 * without one gets aimeter's key only when use_own_key is set. Headers
 * named x-aimeter-* are aimeter's (x-aimeter-tag, x-aimeter-token) and
 * never go upstream. Bodies over 32 MB get a 413 in the provider's shape.
 * Keys and headers are never logged. The response cache answers a call only
 * when asked (opts.cache, or the header x-aimeter-cache: on); such an
 * answer carries x-aimeter-cache: hit.
 *
 * Threads: libmicrohttpd runs a thread per connection; each relays its own
 * transfer (passthru.h) and talks to the worker only through proxycall.h. */
#ifndef AIMETER_PROXY_H
#define AIMETER_PROXY_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "worker.h"

typedef struct am_proxy am_proxy;

typedef struct am_proxy_opts {
	am_worker *worker;        /* borrowed; must outlive the proxy */
	const char *listen;       /* address to bind; NULL or "" = 127.0.0.1 */
	uint16_t port;            /* 0 = any free port */
	const char *upstream;     /* base URL calls go to (base_url) */
	const char *own_key;      /* aimeter's key, for clients without one (use_own_key) */
	bool use_own_key;
	const char *token;        /* required as x-aimeter-token when set; must be set
	                             to listen anywhere but loopback */
	const char *tag;          /* --tag: the tag of calls without x-aimeter-tag */
	const char *default_tag;  /* proxy.default_tag: when neither says */
	int64_t max_wait_ns;      /* longest a call waits for the limiter */
	int64_t timeout_ms;       /* upstream transfer timeout; 0 = none */
	bool cache;               /* proxy.cache: every call may use the response cache
	                             (else only those sending x-aimeter-cache: on) */
} am_proxy_opts;

/* Starts serving. -1 + err when the address cannot be bound, or is not
 * loopback and no token is set. */
int am_proxy_start(am_proxy **out, const am_proxy_opts *opts, am_err *err);

/* "http://127.0.0.1:PORT" (the address it listens on). */
const char *am_proxy_url(const am_proxy *p);

/* Stops accepting, lets the calls in progress end, frees. NULL is a no-op. */
void am_proxy_stop(am_proxy *p);

/* Whether an address string names this machine (127.0.0.0/8, ::1,
 * "localhost"). */
bool am_proxy_loopback(const char *addr);

#endif
