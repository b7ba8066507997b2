/* queue: the persisted job queue, in the ledger database's `jobs` table.
 *
 * A job is one API call to make: its request JSON, its state, attempts and
 * error. Jobs survive a crash: on start am_queue_recover puts jobs that were
 * in flight or waiting back to queued (they are re-sent), except jobs whose
 * answer already reached the ledger, which are marked done — the ledger row
 * (unique by job id) is the proof that the call completed, so no answer is
 * paid for twice and none is recorded twice.
 *
 * Ownership (see owner.h): every job row names the process that sends it
 * (jobs.owner; NULL = nobody). A process takes a job only when its owner is
 * NULL, itself or dead, and claims it by writing its own id under the write
 * lock with the owner it saw re-checked by value: of two processes claiming
 * one job, exactly one wins. Jobs of a live other process are never loaded,
 * re-queued or marked done here, so two aimeter processes on one ledger
 * never send the same job.
 *
 * Threads: all functions take the sqlite3 connection of the calling thread
 * (the worker's). Each function is one statement or one transaction. */
#ifndef AIMETER_QUEUE_H
#define AIMETER_QUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sqlite3.h>

#include "err.h"
#include "owner.h"

typedef enum am_job_state {
	AM_JOB_QUEUED,
	AM_JOB_WAITING_LIMIT,
	AM_JOB_IN_FLIGHT,
	AM_JOB_DONE,
	AM_JOB_FAILED,
	AM_JOB_BLOCKED_BUDGET,
	AM_JOB_CANCELLED,
	AM_JOB_NSTATES
} am_job_state;

const char *am_job_state_name(am_job_state s);
int am_job_state_parse(const char *name, am_job_state *out);
static inline bool am_job_state_final(am_job_state s)
{
	return s == AM_JOB_DONE || s == AM_JOB_FAILED || s == AM_JOB_CANCELLED;
}

typedef struct am_job {
	int64_t id;
	char *batch_key;        /* NULL when not from a batch */
	am_job_state state;
	char *request;          /* the request JSON (owned) */
	char *model_requested;  /* NULL = auto */
	char *model;
	char *reason;
	int attempts;
	char *error;
	char *result;
	char *owner;            /* owner string; NULL = nobody */
	char *source;           /* the kind of run that queued it; NULL = unknown (any) */
	char *tag;              /* the tag its ledger row gets; NULL = untagged */
	int64_t created_ns, updated_ns;
} am_job;

void am_job_clear(am_job *j);

/* Adds a job owned by `owner` (an owner string, normally the caller's
 * am_owner id; NULL = nobody's, any process may take it). With a batch_key
 * that already exists, adds nothing and returns 1 with *id and *state of
 * the existing job (a re-run resumes; claim it with am_queue_claim before
 * counting on it). Returns 0 when added. -1 + err when the queue already
 * holds `capacity` unfinished jobs ("queue is full"; capacity 0 = no bound,
 * and no count: counting costs a walk over the unfinished jobs) or on a
 * database error. */
int am_queue_add(sqlite3 *db, const char *owner, const char *batch_key,
                 const char *request_json, const char *model_requested, int64_t capacity,
                 int64_t now_ns, int64_t *id, am_job_state *state, am_err *err);

/* Crash recovery, see above, for the jobs `me` may take (owner NULL, me or
 * dead; see am_owner_claimable): the queued, waiting and in-flight jobs of
 * a live other process are its own business and stay as they are. An
 * unanswered "ask" job of a dead process ends failed ("abandoned"): nobody
 * sends it again (see am_queue_claim_unfinished). One
 * transaction. *requeued (may be NULL) counts jobs put back to queued.
 * Ownership does not change here: am_queue_claim_unfinished claims. */
int am_queue_recover(sqlite3 *db, const am_owner *me, int64_t now_ns, int *requeued,
                     am_err *err);

/* Claims job `id` for `me` when its owner is NULL, me or dead. Returns 1
 * when the job is me's (claimed now or already), 0 when a live other
 * process holds it (its owner string copied to `holder` when not NULL),
 * -1 + err on a database error or when there is no such job. Any state:
 * a batch re-run claims a failed job before queueing it again. */
int am_queue_claim(sqlite3 *db, const am_owner *me, int64_t id, char holder[AM_OWNER_MAX],
                   am_err *err);

/* Unfinished jobs (queued, waiting, in flight, blocked) in id order,
 * whoever owns them: a view, not a claim (a sender uses
 * am_queue_claim_unfinished). The caller frees with am_queue_free_list.
 * `limit` bounds how many. */
int am_queue_load_unfinished(sqlite3 *db, int64_t limit, am_job **out, int *n, am_err *err);
void am_queue_free_list(am_job *jobs, int n);

/* Claims for `me` the unfinished jobs it may take (owner NULL, me or dead;
 * a dead process's job only when its source is NULL or me->kind, or me->kind
 * is NULL, and never an "ask" job: the prompt of an `ask` that ended is
 * that ask's alone, and no other run sends it)
 * and returns the ids of those it holds, in id order, at most `limit`
 * (0 = all): the jobs another connection added or put back to queued.
 * Jobs with a ledger row count as done and are left out. Claims are one
 * transaction (a savepoint when the connection is already inside one); a
 * job another claimer takes first is left out. Liveness is asked once per
 * distinct owner. The caller frees *ids. */
int am_queue_claim_unfinished(sqlite3 *db, const am_owner *me, int64_t limit, int64_t **ids,
                              int *n, am_err *err);

/* The job with this batch key: 1 and *out filled (free with am_job_clear),
 * 0 when there is none, -1 + err. */
int am_queue_find(sqlite3 *db, const char *batch_key, am_job *out, am_err *err);

/* Sets the state and the optional fields (NULL leaves a field unchanged). */
int am_queue_update(sqlite3 *db, int64_t id, am_job_state state, const char *model,
                    const char *reason, const char *error, const char *result, int attempts,
                    int64_t now_ns, am_err *err);

int am_queue_get(sqlite3 *db, int64_t id, am_job *out, am_err *err);

/* The same add and update with their statements kept prepared, for a
 * caller that makes many on one connection (the worker): the SQL is parsed
 * once instead of per call. The cache belongs to that connection's thread;
 * free it before the connection closes (a statement left open keeps the
 * connection from closing). */
typedef struct am_queue_stmts am_queue_stmts;
am_queue_stmts *am_queue_stmts_new(sqlite3 *db);
/* The jobs.source that am_queue_add_s writes from now on (borrowed;
 * NULL = none): the kind of run adding them, see am_owner.kind. */
void am_queue_stmts_source(am_queue_stmts *qs, const char *source);
/* The jobs.tag that am_queue_add_s writes from now on (borrowed; NULL or
 * "" = untagged; the caller validated it, see tag.h): a batch sets it per
 * line, the worker per submitted prompt. */
void am_queue_stmts_tag(am_queue_stmts *qs, const char *tag);
void am_queue_stmts_free(am_queue_stmts *qs);
int am_queue_add_s(am_queue_stmts *qs, const char *owner, const char *batch_key,
                   const char *request_json, const char *model_requested, int64_t capacity,
                   int64_t now_ns, int64_t *id, am_job_state *state, am_err *err);
/* Adds a job (no batch key, no capacity check) already in an unfinished
 * state, with the model and reason chosen for it (NULL = none): the row
 * the worker writes for a job it has taken this far, in one statement
 * instead of an insert and an update. */
int am_queue_add_in_s(am_queue_stmts *qs, const char *owner, const char *request_json,
                      const char *model_requested, am_job_state state, const char *model,
                      const char *reason, int64_t now_ns, int64_t *id, am_err *err);
int am_queue_update_s(am_queue_stmts *qs, int64_t id, am_job_state state, const char *model,
                      const char *reason, const char *error, const char *result, int attempts,
                      int64_t now_ns, am_err *err);

/* Number of jobs in each state. */
int am_queue_counts(sqlite3 *db, int64_t counts[AM_JOB_NSTATES], am_err *err);

#endif
