/* batchapi: a run's jobs through the provider's Message Batches API, at
 * batch prices - the driver behind `aimeter batch --via batches`.
 *
 * What it does with the run's jobs (jobs queued or blocked by the budget,
 * in id order):
 *  - reserves each job's worst case at batch prices against the daily and
 *    monthly limits, counting what the ledger has spent and the
 *    reservations of every batch still out; the first job that does not fit
 *    and every job after it wait as blocked_budget;
 *  - reserves the same worst case against its tag's daily limit
 *    (budget.tags, tagbudget.h), counted the same way per tag: a job that
 *    its tag's limit refuses waits as blocked_budget with a reason naming
 *    the tag, while jobs of other tags after it go on;
 *  - packs the jobs that fit into provider batches of at most 100,000
 *    requests and 256 MB, custom_id = the job id;
 *  - writes each batch's intent (pbatch.h) before its submit, so that after
 *    a crash a submit whose answer was lost is looked for in the provider's
 *    list (by creation time and request count; each result then by its
 *    custom_id) and never sent twice;
 *  - polls each open batch, backing off from 2 s to at most 60 s (or every
 *    poll_s), waiting out a 429's retry-after;
 *  - reads each ended batch's results line by line: a succeeded line is
 *    recorded once, at batch prices, batch = 1, and its job is done; an
 *    errored line sends its job again in a later batch until max_retries
 *    retries were made, then fails it with the provider's error; canceled
 *    and expired lines fail their jobs, or with requeue leave them queued
 *    for the next run; jobs the results do not name are sent again;
 *  - prints progress on msgs: counts, the open batches' age and the time
 *    left as estimated from the batches that ended in this run.
 * On start it takes up the run's batches still open from an earlier run
 * (a re-run polls them instead of submitting their jobs again).
 *
 * Threads: the calling thread, on the run's ledger connection. */
#ifndef AIMETER_BATCHAPI_H
#define AIMETER_BATCHAPI_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "batchq.h"
#include "budget.h"
#include "clock.h"
#include "config.h"
#include "err.h"
#include "ledger.h"
#include "msgbatch.h"
#include "owner.h"
#include "pricing.h"
#include "selector.h"

typedef struct am_bapi_opts {
	am_ledger *ledger;            /* the run's connection */
	am_queue_run *jobs;           /* the run's jobs */
	const am_owner *me;
	am_mb *mb;                    /* the provider's batch endpoints */
	const char *base_url;         /* where mb points (kept with each batch) */
	const am_pricing *pricing;
	const am_sel_config *sel;     /* picks the model of a job that names none */
	am_budget_config budget;
	const am_config_tag_budget *tags; /* budget.tags: each tag's daily limit */
	int ntags;
	int64_t default_max_tokens;
	int max_retries;              /* submissions after the first for an errored job */
	bool expire_fail;             /* canceled/expired: failed (else left queued) */
	double poll_s;                /* > 0: poll every poll_s seconds; 0 = back off */
	bool simulator;               /* the built-in simulator: rows named "simulated:" */
	int64_t max_requests;         /* per batch; 0 = AM_MB_MAX_REQUESTS */
	int64_t max_bytes;            /* per batch body; 0 = AM_MB_MAX_BYTES */
	FILE *msgs;                   /* progress and notices */
	bool tty;                     /* msgs is a terminal: progress redrawn in place */
	const am_clock *clock;        /* NULL = system */
	atomic_int *stop;             /* non-zero ends the run early; may be NULL */
} am_bapi_opts;

/* 0 when every job of the run has ended, is blocked by the budget or waits
 * for the next run; 1 when *stop ended it early (open batches stay in the
 * ledger: a re-run takes them up); -1 + err when the provider refused the
 * run (a bad key, a refused body) or the ledger failed. */
int am_bapi_drive(const am_bapi_opts *o, am_err *err);

/* ---- pure helpers (tests) ---------------------------------------------------- */

/* The next poll interval after `prev_ns` (0 = the first): 2 s, then × 1.5,
 * at most 60 s; poll_s > 0 replaces the schedule. */
int64_t am_bapi_next_interval(int64_t prev_ns, double poll_s);

#endif
