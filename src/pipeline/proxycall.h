/* proxycall: how a call that another program sent through the proxy
 * (src/proxy) gets the worker's admission, and hands back its outcome.
 *
 * The worker stays the one owner of policy. The proxy fills an
 * am_proxy_call and queues it (am_worker_proxy_admit); the worker takes it
 * like a submission - budget reservation, limiter ticket - and, before it
 * grants, writes the call's ledger row (source "proxy", estimated at its
 * reservation) and commits it, so that no paid call goes out that cannot be
 * recorded. The proxy's thread waits (am_proxy_call_wait) for the verdict:
 * granted, or refused with the HTTP answer to give (a budget's 400 in the
 * provider's spend-limit shape, a 429 when the limiter would hold it longer
 * than max_wait_ns). A granted call is sent upstream by the proxy's thread,
 * which reports the outcome once (am_worker_proxy_done); the worker settles
 * the limiter and the budget, rewrites the row with the exact usage and cost
 * (or leaves it estimated when the answer was cut short), and tells the
 * observer (an AM_EV_DONE naming the tag). A call that may use the cache
 * (pc->cache) and whose answer is there is answered by the worker instead
 * (AM_PROXY_CACHED, recorded as a hit), and a granted one's answer is
 * stored for the next.
 *
 * Threads: admit, wait and done may be called from any thread. */
#ifndef AIMETER_PROXYCALL_H
#define AIMETER_PROXYCALL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "anthropic.h"
#include "err.h"
#include "tag.h"

typedef struct am_worker am_worker;

enum { AM_PROXY_TAG_MAX = AM_TAG_MAX + 1, AM_PROXY_HINT_MAX = 8 };

typedef enum am_proxy_verdict {
	AM_PROXY_WAITING,
	AM_PROXY_GRANTED,
	AM_PROXY_REFUSED,
	AM_PROXY_CACHED      /* answered from the response cache: send `answer` */
} am_proxy_verdict;

typedef struct am_proxy_call {
	/* ---- in: set before am_worker_proxy_admit ---- */
	const char *body;          /* the request body as the client sent it (borrowed
	                              until the verdict) */
	size_t body_len;
	struct json_t *json;       /* body parsed (an object); the worker takes it */
	char model[AM_PROV_MODEL_MAX];
	int64_t max_tokens;        /* the body's; 0 = absent */
	bool stream;
	char tag[AM_PROXY_TAG_MAX];
	char key_hint[AM_PROXY_HINT_MAX]; /* the client key's last four characters */
	int64_t max_wait_ns;       /* the longest the limiter may hold it */
	bool cache;                /* it may be answered from (and stored in) the cache */

	/* ---- out: the verdict, set by the worker ---- */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	am_proxy_verdict verdict;
	int status;                /* refused: the HTTP status to answer */
	char error_type[48];       /* refused: the provider's error.type */
	char message[320];         /* refused: error.message */
	int64_t retry_after_s;     /* refused with 429: seconds; 0 = none */
	int64_t handle;            /* granted: what am_worker_proxy_done names */
	char *answer;              /* cached: the body to send (heap; the caller frees) */
	bool answer_sse;           /* cached: it is an event stream */
} am_proxy_call;

/* Prepares pc (zeroes it, sets up its lock); am_proxy_call_clear undoes it. */
void am_proxy_call_init(am_proxy_call *pc);
void am_proxy_call_clear(am_proxy_call *pc);

/* Queues pc for admission. -1 + err when the worker has stopped. */
int am_worker_proxy_admit(am_worker *w, am_proxy_call *pc, am_err *err);

/* Refuses (503) every proxied call still waiting for its verdict, and
 * every one admitted after this: the proxy is stopping and its clients
 * should not wait for the limiter. */
void am_worker_proxy_refuse_waiting(am_worker *w);

/* Waits for the verdict and returns it. */
am_proxy_verdict am_proxy_call_wait(am_proxy_call *pc);

/* The outcome of a granted call (handle from its grant): r as
 * am_pass_finish filled it (its text is taken); cut: the client went away
 * or the transfer broke before the answer was whole. */
void am_worker_proxy_done(am_worker *w, int64_t handle, am_prov_result *r, bool cut);

#endif
