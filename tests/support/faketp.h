/* faketp: a fake transport (transport.h) and the fake clock it runs on,
 * for the worker suites: scripted answers - status, headers, a body or SSE
 * chunks - that arrive after a latency on the fake clock, with no network
 * and no real waiting for it.
 *
 * Time. The clock is the fake's own (am_ft_clock), safe to read from any
 * thread. It moves when the worker waits for answers in the transport's
 * run: up to the next scripted answer, or by the whole wait when none is
 * due before it (so limiter waits, backoffs and snapshot ticks pass at
 * once). A run with no call pending also yields to the other threads for
 * a moment (a real wait of at most idle_real_us, cut short by wakeup), so
 * an idle worker does not spin. The test may move the clock too
 * (am_ft_advance), or alone (am_ft_set_manual).
 *
 * Threads: the transport's operations run on the worker's thread, its
 * script too; wakeup, the clock and the counters are safe from any. */
#ifndef AIMETER_TEST_FAKETP_H
#define AIMETER_TEST_FAKETP_H

#include <stdbool.h>
#include <stdint.h>

#include "clock.h"
#include "transport.h"

typedef struct am_ft am_ft;

/* A call the worker started, as the script sees it. */
typedef struct am_ft_call {
	int64_t n;           /* 1 for the first call started */
	const char *body;    /* the request JSON */
	const char *model;   /* its "model" ("" when none) */
	bool stream;
	int64_t max_tokens;  /* 0 when absent */
} am_ft_call;

enum { AM_FT_MAX_LINES = 16 };

/* The answer to one call. Zeroed before the script fills it; strings are
 * copied when the script returns. */
typedef struct am_ft_answer {
	int status;          /* 0 = 200 */
	const char *headers[AM_FT_MAX_LINES]; /* "Name: value" lines */
	int nheaders;
	/* The body: NULL = one made from the fields below (2xx: a Message, or
	 * its events for a stream; else an error of the status's type). */
	const char *body;
	const char *text;          /* NULL = "ok" */
	const char *error_message; /* NULL = "fake error" */
	const char *model;         /* NULL = the request's */
	const char *stop_reason;   /* NULL = "end_turn" */
	int64_t input_tokens;      /* 0 = 10 */
	int64_t output_tokens;     /* 0 = 5 */
	/* A stream's answer in pieces (each fed to the parser as it is): NULL
	 * = the body made from the fields above, in one piece per event. */
	const char *chunks[AM_FT_MAX_LINES];
	int nchunks;
	int64_t latency_ns;        /* from start to the answer, on the fake clock */
	bool hang;                 /* never answers; only cancel ends it */
} am_ft_answer;

typedef void (*am_ft_script_fn)(void *ctx, const am_ft_call *call, am_ft_answer *ans);

/* A fake at mono_ns and wall_ns. NULL script = every call gets the
 * default answer, 1 ms later (manual time: at once). */
am_ft *am_ft_new(int64_t mono_ns, int64_t wall_ns, am_ft_script_fn script, void *ctx);

/* Frees the fake (after the worker that used it has stopped). */
void am_ft_free(am_ft *f);

const am_clock *am_ft_clock(am_ft *f);

/* The transport to give the worker. Its free only closes it (pending calls
 * are reported cancelled); the counters stay readable until am_ft_free. */
am_transport am_ft_transport(am_ft *f);

/* Moves the clock on by ns. */
void am_ft_advance(am_ft *f, int64_t ns);

/* Calls started so far; calls started and not yet answered. */
int64_t am_ft_started(am_ft *f);
int am_ft_pending(am_ft *f);

/* The real wait of a run with no call pending (default 1000 us). */
void am_ft_set_idle_real_us(am_ft *f, int us);

/* Manual time: the clock moves only by am_ft_advance (which ends a wait in
 * run), so what depends on time - a limiter's wait, a backoff - stays put
 * until the test moves it. run answers the calls due and otherwise waits
 * for real, up to its timeout, for a wakeup or an advance. Set before the
 * worker starts. A grace at am_worker_stop runs on this clock too: stop a
 * worker with calls that never answer with a grace of 0. */
void am_ft_set_manual(am_ft *f, bool manual);

#endif
