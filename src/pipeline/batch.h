/* batch: the running policy of `aimeter batch` - a JSONL file of prompts
 * through the persisted queue and a started worker, results in input order.
 *
 * Every line becomes a job whose batch key is made from the line's bytes and
 * number (am_queue_batch_key), so re-running the same file against the same
 * ledger resumes: jobs already done are not repeated, unfinished ones
 * continue, failed and cancelled ones are queued again. Lines are added as
 * the queue has room (at most queue_capacity unfinished jobs); results are
 * written in input order once every job has ended or waits on the budget.
 *
 * The jobs are added owned by `owner` (see owner.h), so a dashboard or `ask`
 * started on the same ledger mid-batch leaves them alone. A re-run while an
 * earlier run of the same file still runs finds its lines owned by that live
 * process: it does not wait (the other process may be paused or blocked on
 * the budget for hours), it counts the file's lines that process holds and
 * ends AM_BATCH_END_HELD without asking the worker to send anything.
 *
 * What it prints on `msgs` while it runs (the words `aimeter batch` uses):
 * a bad line "<in_name>:<n>: <why> (skipped)"; the worker's alerts as they
 * are; its notices and an enqueue error as "aimeter batch: <text>"; a
 * progress line ("batch D/T done · F failed · B blocked · N in flight ·
 * $cost · R/s") redrawn in place on a terminal, else every 10 seconds, and
 * a last one at the end unless the run was held. The final verdict
 * (interrupted, stopped early, held) is the caller's to word, from the
 * outcome.
 *
 * Threads: the calling thread, on its own ledger connection; it talks to
 * the worker only through worker.h. */
#ifndef AIMETER_BATCH_H
#define AIMETER_BATCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "clock.h"
#include "err.h"
#include "ledger.h"
#include "owner.h"
#include "worker.h"

typedef struct am_batch_run_opts {
	FILE *in;                 /* the lines; read up to the end (less when held) */
	const char *in_name;      /* the file's name in messages ("-" for stdin) */
	FILE *out;                /* the results (JSONL, batchio.h), input order */
	FILE *msgs;               /* progress and notices (stderr) */
	bool tty;                 /* msgs is a terminal: progress redrawn on one line */
	bool no_cache;            /* every request carries "x-no-cache": true */
	const char *tag;          /* the tag of lines without their own "tag"; NULL = none */
	int64_t queue_capacity;   /* unfinished jobs at most (worker.queue_capacity; 0 = no bound) */
	am_ledger *ledger;        /* the calling thread's connection; not closed here */
	am_worker *worker;        /* started on the same ledger, its owner = `owner`;
	                             the run takes it: stopped and freed before the
	                             results are read */
	const am_owner *owner;    /* NULL = this process (am_owner_self) */
	const am_clock *clock;    /* progress rate and its 10-second pace; NULL = system */
	atomic_int *stop;         /* non-zero (a signal handler) ends the run early; may be NULL */
} am_batch_run_opts;

typedef enum am_batch_end {
	AM_BATCH_END_DONE,        /* every job ended or is blocked; results written */
	AM_BATCH_END_HELD,        /* lines of the file belong to a live other process */
	AM_BATCH_END_INTERRUPTED, /* *stop was set, or a line could not be queued (printed) */
	AM_BATCH_END_WORKER,      /* the worker ended early (its notices said why) */
	AM_BATCH_END_WRITE,       /* writing the results failed: err */
} am_batch_end;

typedef struct am_batch_outcome {
	am_batch_end end;
	int64_t lines;            /* lines with a result: requests and bad lines */
	int64_t done;             /* jobs done */
	int64_t failed;           /* jobs failed or cancelled, plus bad lines */
	int64_t blocked;          /* jobs blocked by the budget */
	int64_t unfinished;       /* jobs still queued (they stay for a re-run) */
	int64_t cost_pusd;        /* what the run's jobs cost, pUSD */
	bool eof;                 /* the whole file was read */
	int64_t held;             /* HELD: lines a live other process holds */
	long held_pid;            /* HELD: the first holder's pid; 0 when unknown */
	bool held_several;        /* HELD: more than one process holds lines */
	am_err err;               /* WRITE: why */
} am_batch_outcome;

/* Runs the file (see above) and fills *out. Returns the exit status of
 * `aimeter batch`: 0 every line done, 1 some failed (or a bad line), 3 some
 * blocked by the budget (before 1), 4 held; 1 for an interrupted run, a
 * worker that ended early, or results that could not be written. */
int am_batch_run(const am_batch_run_opts *o, am_batch_outcome *out);

#endif
