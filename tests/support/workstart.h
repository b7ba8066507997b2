/* workstart: a worker started from a config file's text, as the dashboard
 * starts one, against a simulator: for suites that drive workers through
 * their engine ops themselves (several in one process, restarts). */
#ifndef AIMETER_TEST_WORKSTART_H
#define AIMETER_TEST_WORKSTART_H

#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "err.h"
#include "pricing.h"
#include "worker.h"

/* Loads the repository's price table, data/pricing.json under
 * $AIMETER_SOURCE_DIR (default "."). -1 + err on failure. */
int am_test_pricing(am_pricing **out, am_err *err);

/* Starts a worker with the config `json` on the ledger db_path, calling the
 * simulator at base_url with a test key; `source` names its ledger rows
 * ("console", "ask"); settings: persist and load run-time settings as the
 * dashboard does. NULL + err on failure. */
am_worker *am_test_worker(const char *json, const am_pricing *pricing, const char *db_path,
                          const char *base_url, const char *source, bool settings,
                          am_err *err);

/* Like am_test_worker, with the calls going out through the fake
 * transport ft (faketp.h) on its clock. */
struct am_ft;
am_worker *am_test_worker_ft(const char *json, const am_pricing *pricing, const char *db_path,
                             struct am_ft *ft, const char *source, bool settings, am_err *err);

/* An observer of one worker, as a test drives it: the events drained but
 * not asked for yet (text deltas are dropped), and waits bounded by
 * wait_ms on the wake fd. Set ops and wait_ms (and ft, step_ns); zero the
 * rest. */
enum { AM_TEST_BACKLOG = 512 };
typedef struct am_test_obs {
	am_engine_ops ops;
	int wait_ms;
	/* A worker on a fake clock in manual time: each round of a wait moves
	 * it step_ns on (time passes only while the test waits). */
	struct am_ft *ft;
	int64_t step_ns;
	am_event backlog[AM_TEST_BACKLOG];
	int nbacklog;
} am_test_obs;

/* Frees the events kept. */
void am_test_obs_clear(am_test_obs *o);

/* Drains what the worker has queued into the backlog (deltas dropped). */
void am_test_obs_drain(am_test_obs *o);

/* Waits until pred(snapshot, arg) holds; the snapshot is left in *s. */
bool am_test_wait_snap(am_test_obs *o, am_snapshot *s,
                       bool (*pred)(const am_snapshot *, const void *), const void *arg);

/* Waits until pred(arg) holds, draining events into the backlog while it
 * waits on the wake fd. */
bool am_test_wait_for(am_test_obs *o, bool (*pred)(void *), void *arg);

/* Waits for an event of `kind` for `job` (0 = any job) whose text contains
 * `text` (NULL = any); copies it into *out (NULL ok) with its text in
 * out->error and takes it out of the backlog. Earlier events stay. */
bool am_test_wait_event(am_test_obs *o, am_event_kind kind, int64_t job, const char *text,
                        am_event *out);

#endif
