/* worker: the pipeline. One background thread takes jobs from the persisted
 * queue and sends each through
 *     model selector -> response cache -> budget guard -> rate limiter
 *     -> transport (the libcurl client: many transfers at once) -> ledger
 * and publishes a snapshot and events for its observer (engine.h).
 *
 * Threads and ownership (see README "Architecture"):
 *  - The worker thread owns its SQLite connection, the transport, the
 *    limiter, the budget, the cache and the selector state. Nothing else
 *    touches them (an observer may only wake the transport).
 *  - Observers (the UI thread, `ask`, `batch`) talk to it only through
 *    am_worker_ops() (submit, snapshot, drain, command, wake fd) and
 *    am_worker_poke/stop. None of these blocks on the network or the disk.
 *  - Jobs added to the database by another connection (batch) are picked up
 *    after am_worker_poke().
 *
 * Time: the loop reads the clock once per pass and passes `now` down; the
 * policy modules never read it. */
#ifndef AIMETER_WORKER_H
#define AIMETER_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "client.h"
#include "clock.h"
#include "config.h"
#include "engine.h"
#include "err.h"
#include "owner.h"
#include "pricing.h"
#include "transport.h"

typedef struct am_worker am_worker;

typedef struct am_worker_opts {
	const am_config *config;      /* read at start; not kept */
	const am_pricing *pricing;    /* borrowed; must outlive the worker */
	const am_clock *clock;        /* borrowed */
	const char *db_path;
	const char *base_url;         /* provider endpoint */
	const char *api_key;          /* copied into the client; never logged */
	bool simulator;               /* figures are not real spend (header; ledger rows
	                                 name AM_LEDGER_SIMULATED models) */
	const char *source;           /* ledger `source` of UI-submitted jobs: "console", "ask" */
	bool persist_settings;        /* apply and save run-time settings (the console) */
	bool console_memory;          /* load the console's memory at start and keep what
	                                 remember is given (memo.h) */
	bool load_settings;           /* apply saved run-time settings at start */
	bool stop_when_idle;          /* batch/ask: the loop ends when nothing is left to do */
	/* batch/ask: the loop ends (am_worker_finished) when every further call or
	 * write would fail - an auth, billing or TLS error, or a ledger that
	 * stays unwritable for three tries a second apart - after a notice
	 * "stopped: <why>". Unfinished jobs stay queued for the next run. Without
	 * it (the console) the worker pauses on such an error instead, and holds
	 * new calls while the ledger cannot be written, trying every second. */
	bool halt_on_fatal;
	/* The owner the jobs are claimed and written for (copied at start);
	 * NULL = this process (am_owner_self). Tests pass another id, or a
	 * liveness check, to play several processes in one. */
	const am_owner *owner;
	/* The calls' way out (transport.h), given to the worker: it frees it
	 * (ops->free) when it stops, or when am_worker_start fails. It must be
	 * free to move to the worker's thread, and to see the clock above.
	 * ops NULL: the worker makes a libcurl client to base_url with api_key
	 * and the config's client settings (am_worker_client_opts). */
	am_transport transport;
} am_worker_opts;

/* The libcurl client's options for a worker: base_url, api_key (both
 * borrowed until am_client_new), clock and the config's client.* keys. */
void am_worker_client_opts(const am_config *cfg, const char *base_url, const char *api_key,
                           const am_clock *clock, am_client_opts *co);

/* Opens the database (in the worker thread), recovers the queue, loads
 * today's totals, applies saved settings and starts the thread. Returns
 * NULL + err on failure (bad database, ...). */
am_worker *am_worker_start(const am_worker_opts *opts, am_err *err);

/* The engine interface for observers. Valid until am_worker_stop. */
am_engine_ops am_worker_ops(am_worker *w);

/* Tells the worker that jobs were added to the database by another
 * connection. Thread-safe. */
void am_worker_poke(am_worker *w);

/* True when the worker has nothing it can do until the next submit, command
 * or poke: no job pending, retrying, waiting for a limit or in flight, no
 * answer waiting for the ledger, and jobs blocked by the budget were tried
 * again after the last change that could let them through. While paused (a
 * pause command, or an authentication or billing error without
 * halt_on_fatal) it is quiet once no call is in flight; *paused (may be
 * NULL) tells which. A caller that sees it quiet and then reads the
 * database sees the settled outcome of everything it handed over. True
 * once the loop has ended. Thread-safe. */
bool am_worker_quiet(am_worker *w, bool *paused);

/* True once the loop has ended (stop_when_idle and nothing left, or
 * halt_on_fatal and a fatal error). */
bool am_worker_finished(am_worker *w);

/* Stops the worker: no new call is started; calls in flight get up to
 * `grace_ms` to finish; unfinished jobs stay queued in the database for the
 * next start. Joins the thread and frees everything. Safe with NULL. */
void am_worker_stop(am_worker *w, int grace_ms);

#endif
