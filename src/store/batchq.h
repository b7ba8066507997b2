/* batchq: the queue as `aimeter batch` sees it - the key of a file's line,
 * the tally of one run's own jobs, and each job's outcome for the results file.
 *
 * A batch job's key is "b1:<the first 16 bytes of the line's SHA-256, in
 * hex>:<line number>": the same bytes on the same line of a file make the
 * same key, so a re-run of the file finds the jobs of the earlier run
 * (am_queue_add returns 1 for them) instead of adding them again. Only
 * jobs with a key of this form count as batch jobs here.
 *
 * Threads: the functions take the sqlite3 connection of the calling thread
 * (the batch runner's own connection, never the worker's); an
 * am_queue_outcomes belongs to the thread of its connection. Each call is
 * one read statement: it sees what other connections have committed. */
#ifndef AIMETER_BATCHQ_H
#define AIMETER_BATCHQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

#include "err.h"
#include "queue.h"
#include "usage.h"

/* Room for a batch key and its terminator. */
enum { AM_QUEUE_BATCH_KEY_MAX = 80 };

/* The key of line number `lineno` (1-based) whose bytes are line[0..len)
 * (without its line end). Never fails. */
void am_queue_batch_key(const char *line, size_t len, int64_t lineno,
                        char out[AM_QUEUE_BATCH_KEY_MAX]);

/* What a run's jobs have come to, by state (every job counted once), and
 * what their calls cost. */
typedef struct am_queue_tally {
	int64_t done;        /* done */
	int64_t failed;      /* failed or cancelled */
	int64_t blocked;     /* blocked_budget */
	int64_t unfinished;  /* queued, waiting_limit, in_flight */
	int64_t cost_pusd;   /* Σ cost_pusd of their usage events, pUSD (unknown prices add 0) */
} am_queue_tally;

/* A run's own jobs, known by id (not by a range of ids: the jobs of two
 * runs at once interleave). Kept in the connection's temporary database:
 * free it before the connection closes. NULL + err on failure. */
typedef struct am_queue_run am_queue_run;
am_queue_run *am_queue_run_new(sqlite3 *db, am_err *err);
void am_queue_run_free(am_queue_run *r);

/* The run's table, "temp.am_run_<n>" (one column: id), for the store's
 * other readers of a run's jobs. */
const char *am_queue_run_table(const am_queue_run *r);
sqlite3 *am_queue_run_db(const am_queue_run *r);

/* Notes job `id` as one of the run's (again: no effect). 0, or -1 + err. */
int am_queue_run_add(am_queue_run *r, int64_t id, am_err *err);

/* Fills *out (zeroed first; all zero for a run with no jobs). 0, or -1 +
 * err (the ledger's wording; *out then holds no figures to trust). */
int am_queue_run_tally(am_queue_run *r, am_queue_tally *out, am_err *err);

/* One job's outcome: its state and answer, and its usage event if its call
 * reached the ledger. The strings belong to the reader and stay valid until
 * its next am_queue_outcome or am_queue_outcomes_free. */
typedef struct am_job_outcome {
	am_job_state state;
	const char *model;    /* the model the ledger recorded, else the job's; NULL = none */
	const char *error;    /* the job's last error; NULL = none */
	const char *result;   /* the answer text; NULL = none */
	bool has_usage;       /* false: no usage event (the fields below are 0) */
	am_usage usage;
	int64_t cost_pusd;    /* pUSD; 0 when !price_known */
	bool price_known;
	bool cached;          /* answered from the response cache */
} am_job_outcome;

/* A reader of outcomes with its statement kept prepared, for a caller that
 * reads many (a results file of a million lines). NULL + err on failure.
 * Free it before the connection closes. */
typedef struct am_queue_outcomes am_queue_outcomes;
am_queue_outcomes *am_queue_outcomes_new(sqlite3 *db, am_err *err);
void am_queue_outcomes_free(am_queue_outcomes *r);

/* The outcome of job `id`: 1 and *out filled, 0 when there is no such job,
 * -1 + err. */
int am_queue_outcome(am_queue_outcomes *r, int64_t id, am_job_outcome *out, am_err *err);

#endif
