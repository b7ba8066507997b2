/* pbatch: the provider's message batches in the ledger - the batches a run
 * submitted, the jobs in each, and what became of every job's request.
 *
 * The life of one provider batch:
 *   am_pb_intent      before the submit: a row in state 'submitting' with its
 *                     jobs (now in_flight, attempts + 1) and each job's budget
 *                     reservation, in one transaction;
 *   am_pb_remote      the provider's answer (the id, its counts and times);
 *                     also every poll after;
 *   am_pb_lost        a submit that never reached the provider: its jobs go
 *                     back to queued, the reservations are released;
 *   am_pb_settle_*    a result line: the job's outcome on its link, written
 *                     in the caller's transaction with the ledger row and the
 *                     job's new state, so a result is settled exactly once;
 *   am_pb_finish      every line read: links without a result are 'missing'
 *                     and their jobs queued again; the batch is 'done'.
 * A job's reservation counts (am_pb_outstanding) until its link has an
 * outcome. The custom_id of a job's request is its job id in decimal.
 *
 * Threads: the connection of the calling thread; each function is one
 * statement or one transaction (a savepoint inside the caller's). */
#ifndef AIMETER_PBATCH_H
#define AIMETER_PBATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <sqlite3.h>

#include "batchq.h"
#include "err.h"

typedef enum am_pb_state {
	AM_PB_SUBMITTING,
	AM_PB_IN_PROGRESS,
	AM_PB_CANCELING,
	AM_PB_ENDED,
	AM_PB_DONE,
	AM_PB_LOST,
	AM_PB_NSTATES
} am_pb_state;

const char *am_pb_state_name(am_pb_state s);

/* One provider batch as the ledger has it. */
typedef struct am_pb_row {
	int64_t id;                 /* local */
	char provider_id[128];      /* "" while submitting */
	am_pb_state state;
	char base_url[512];
	char owner[48];
	int64_t requests, bytes;
	int64_t intent_ns, created_ns, ended_ns, expires_ns, updated_ns;
	int64_t processing, succeeded, errored, canceled, expired;
	char results_url[1024];
	int64_t settled;            /* links with an outcome */
	int64_t cost_pusd;          /* the ledger rows of its succeeded jobs */
	int64_t realtime_pusd;      /* what they would have cost at real-time prices */
	int64_t reserved_pusd;      /* reservations still held (links without an outcome) */
} am_pb_row;

/* What the provider says about a batch (msgbatch's am_mb_batch, in the
 * store's words). */
typedef struct am_pb_remote {
	const char *provider_id;
	am_pb_state state;          /* IN_PROGRESS, CANCELING or ENDED */
	int64_t processing, succeeded, errored, canceled, expired;
	int64_t created_ns, ended_ns, expires_ns;
	const char *results_url;    /* NULL = none yet */
} am_pb_remote;

/* Writes the intent: a 'submitting' row for n jobs (ids[i], reserved[i]
 * pUSD), bytes of body, at base_url, owned by `owner`; the jobs become
 * in_flight with one more attempt. *id = the local id. */
int am_pb_intent(sqlite3 *db, const char *base_url, const char *owner, const int64_t *ids,
                 const int64_t *reserved, int64_t n, int64_t bytes, int64_t now_ns, int64_t *id,
                 am_err *err);

/* The provider's view of local batch id (the first answer, or a poll). */
int am_pb_remote_set(sqlite3 *db, int64_t id, const am_pb_remote *r, int64_t now_ns, am_err *err);

/* A submit that never arrived: 'lost', its unsettled links 'lost', their
 * jobs queued with the attempt given back. */
int am_pb_lost(sqlite3 *db, int64_t id, int64_t now_ns, am_err *err);

/* The local batch that holds provider_id: 1 and *row, 0 when none, -1. */
int am_pb_find(sqlite3 *db, const char *provider_id, am_pb_row *row, am_err *err);

/* The local batches not yet done or lost that hold a job of run `r`
 * (NULL: any), whose owner `claimable` accepts (NULL: any), oldest first.
 * *rows is heap (free()). */
int am_pb_open(sqlite3 *db, am_queue_run *r, bool (*claimable)(void *ctx, const char *owner),
               void *ctx, am_pb_row **rows, int *n, am_err *err);

/* Every local batch, newest first, at most `limit` (0 = all), with its
 * money (cost so far, real-time equivalent, reservations held). */
int am_pb_list(sqlite3 *db, int limit, am_pb_row **rows, int *n, am_err *err);

/* Takes a 'submitting' row over for `owner` (a re-run after a crash). */
int am_pb_set_owner(sqlite3 *db, int64_t id, const char *owner, am_err *err);

/* The link of job_id in local batch id: 1 with *settled (it has an
 * outcome), *reserved, the job's *attempts and its tag (tag: AM_TAG_MAX + 1
 * bytes; "" = untagged), 0 when the job is not in that batch, -1. */
int am_pb_link(sqlite3 *db, int64_t id, int64_t job_id, bool *settled, int64_t *reserved,
               int *attempts, char *tag, am_err *err);

typedef enum am_pb_outcome {
	AM_PB_SUCCEEDED,
	AM_PB_ERRORED,
	AM_PB_CANCELED,
	AM_PB_EXPIRED,
	AM_PB_MISSING
} am_pb_outcome;

/* Writes the link's outcome (and, for a success, the real-time price of
 * the same usage). 1 when written, 0 when the link already had one (the
 * line was settled before: the caller rolls back), -1. */
int am_pb_settle(sqlite3 *db, int64_t id, int64_t job_id, am_pb_outcome o, int64_t realtime_pusd,
                 am_err *err);

/* Every line read: links without an outcome become 'missing' and their
 * jobs queued again; the batch becomes 'done'. *requeued counts them. */
int am_pb_finish(sqlite3 *db, int64_t id, int64_t now_ns, int64_t *requeued, am_err *err);

/* The reservations still held by links without an outcome, over every
 * batch not lost or done (the budget counts them as spent). */
int am_pb_outstanding(sqlite3 *db, int64_t *pusd, am_err *err);

/* The same reservations by the tag of their jobs (tagged jobs only): fn
 * once per tag with its sum; a non-zero return stops the walk. */
typedef int (*am_pb_tag_fn)(void *ctx, const char *tag, int64_t pusd);
int am_pb_outstanding_tags(sqlite3 *db, am_pb_tag_fn fn, void *ctx, am_err *err);

/* Calls fn for each job of run `r` that waits for a batch (state queued or
 * blocked_budget), in id order, with its request JSON, attempts and tag
 * ("" when none); a non-zero return stops the walk and is returned. */
typedef int (*am_pb_job_fn)(void *ctx, int64_t job_id, const char *request,
                            const char *model_requested, int attempts, const char *tag);
int am_pb_each_waiting(am_queue_run *r, am_pb_job_fn fn, void *ctx, am_err *err);

/* Job `id` answered: done, with the model that answered and the text. */
int am_pb_job_done(sqlite3 *db, int64_t id, const char *model, const char *text, int64_t now_ns,
                   am_err *err);

/* The jobs of run `r` left in_flight or waiting_limit outside any open
 * batch (a real-time run that died): done when the ledger has their row,
 * else queued. *n counts them. */
int am_pb_strays(am_queue_run *r, int64_t now_ns, int64_t *n, am_err *err);

/* The provider batches at a glance (the dashboard's line): those still
 * open, their requests by state (as the provider last said), when the
 * oldest was created, the time it has left by the mean processing time of
 * the last 20 batches that ended (-1 when none has), and what succeeded
 * requests cost and saved against real-time prices, all batches together. */
typedef struct am_pb_summary {
	int64_t open, requests, processing, succeeded, errored, expired, canceled;
	int64_t oldest_ns;      /* wall ns; 0 = none open */
	int64_t left_ns;        /* -1 = unknown */
	int64_t cost_pusd, saved_pusd;
} am_pb_summary;

/* Fills *out (zeroed first) as of now_ns (wall). 0, or -1 + err. A ledger
 * from before the batches schema reads as no batches. */
int am_pb_summary_read(sqlite3 *db, int64_t now_ns, am_pb_summary *out, am_err *err);

/* 1 when job `id` is in a provider batch still out (its result not read
 * yet), 0 when not, -1 + err. */
int am_pb_job_in_open_batch(sqlite3 *db, int64_t id, am_err *err);

/* Marks job `id` with state and error (NULL leaves it), attempts given
 * back by `give_back` (a request the provider never ran). */
int am_pb_job_state(sqlite3 *db, int64_t id, const char *state, const char *error, int give_back,
                    int64_t now_ns, am_err *err);

#endif
