/* workfix: the pipeline in the test's own process: the simulator, the price
 * table, a config and the worker (am_worker_start), driven through its
 * engine ops as the console drives it. For the in-process pipeline tests
 * (which TSan checks, observer and worker threads both being ours) and the
 * pipeline benchmark. Functions report failures; none aborts. */
#ifndef AIMETER_TEST_WORKFIX_H
#define AIMETER_TEST_WORKFIX_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "engine.h"
#include "err.h"
#include "pricing.h"
#include "sim.h"
#include "worker.h"

typedef struct am_wf {
	char dir[512];
	char db[600];
	am_config cfg;
	am_pricing *pricing;
	am_sim *sim;
	am_worker *w;
	am_engine_ops ops;
	const am_owner *owner;  /* the worker's (am_worker_opts.owner); NULL = this process */
} am_wf;

/* A private directory and a config with the built-in defaults except: the
 * database inside the directory, no budget, limits far above any test's
 * load (1e6 RPM, 1e8 ITPM and OTPM, 1024 in flight), the whole bucket at
 * start, concurrency 256. -1 + err on failure. */
int am_wf_init(am_wf *f, const char *tag, am_err *err);

/* Sets a config key ("budget.daily_usd", "0.01") before am_wf_start. */
int am_wf_set(am_wf *f, const char *key, const char *value, am_err *err);

/* Starts the simulator with *sc (NULL = keep the running one) and the
 * worker against it. */
int am_wf_start(am_wf *f, const am_sim_cfg *sc, am_err *err);

/* Stops the worker (grace_ms for calls in flight), keeping the simulator
 * and the database: a later am_wf_start resumes from them. */
void am_wf_stop_worker(am_wf *f, int grace_ms);

/* Stops everything and removes the directory (unless AIMETER_KEEP_TEST_DIRS). */
void am_wf_free(am_wf *f);

/* Submits one user prompt; returns its handle, or -1 + err. */
int64_t am_wf_submit(am_wf *f, const char *prompt, int64_t max_tokens, bool stream,
                     bool no_cache, am_err *err);

/* Waits up to timeout_ms for the wake fd, then hands every pending event
 * to cb (which must not keep ev->text) and frees it. Returns how many. */
int am_wf_pump(am_wf *f, int timeout_ms, void (*cb)(void *ctx, const am_event *ev), void *ctx);

#endif
