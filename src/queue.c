/* queue: jobs persisted in SQLite so that none is lost across a crash. */
#include "queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger.h"

static const char *const state_names[AM_JOB_NSTATES] = {
	"queued", "waiting_limit", "in_flight", "done", "failed", "blocked_budget", "cancelled",
};

const char *am_job_state_name(am_job_state s)
{
	return (unsigned)s < AM_JOB_NSTATES ? state_names[s] : "?";
}

int am_job_state_parse(const char *name, am_job_state *out)
{
	for (int i = 0; i < AM_JOB_NSTATES; i++)
		if (name && !strcmp(name, state_names[i])) {
			*out = (am_job_state)i;
			return 0;
		}
	return -1;
}

void am_job_clear(am_job *j)
{
	free(j->batch_key);
	free(j->request);
	free(j->model_requested);
	free(j->model);
	free(j->reason);
	free(j->error);
	free(j->result);
	memset(j, 0, sizeof *j);
}

/* The statements of the hot paths, kept prepared by an am_queue_stmts (the
 * worker adds and updates jobs thousands of times a second; parsing the SQL
 * each time was a fifth of its work). Without one they are prepared per
 * call, as the other statements here always are. */
enum { Q_LOOKUP, Q_INSERT, Q_UPDATE, Q_N };

static const char *const q_sql[Q_N] = {
	[Q_LOOKUP] = "SELECT id, state FROM jobs WHERE batch_key = ?",
	[Q_INSERT] = "INSERT INTO jobs(batch_key, state, request, model_requested, "
	             "attempts, created_ns, updated_ns) VALUES(?, 'queued', ?, ?, 0, ?, ?)",
	[Q_UPDATE] = "UPDATE jobs SET state=?, model=coalesce(?, model), "
	             "reason=coalesce(?, reason), error=coalesce(?, error), "
	             "result=coalesce(?, result), attempts=?, updated_ns=? WHERE id=?",
};

struct am_queue_stmts {
	sqlite3 *db;
	sqlite3_stmt *st[Q_N];
};

am_queue_stmts *am_queue_stmts_new(sqlite3 *db)
{
	am_queue_stmts *qs = am_xcalloc(1, sizeof *qs);
	qs->db = db;
	return qs;
}

void am_queue_stmts_free(am_queue_stmts *qs)
{
	if (!qs)
		return;
	for (int i = 0; i < Q_N; i++)
		sqlite3_finalize(qs->st[i]);
	free(qs);
}

static sqlite3_stmt *get_stmt(sqlite3 *db, am_queue_stmts *qs, int which)
{
	if (qs && qs->st[which])
		return qs->st[which];
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v3(db, q_sql[which], -1, qs ? SQLITE_PREPARE_PERSISTENT : 0, &st,
	                       NULL) != SQLITE_OK)
		return NULL;
	if (qs)
		qs->st[which] = st;
	return st;
}

static void put_stmt(am_queue_stmts *qs, sqlite3_stmt *st)
{
	if (qs) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	} else {
		sqlite3_finalize(st);
	}
}

/* Every state a job can still leave; SQL list. */
#define UNFINISHED "('queued','waiting_limit','in_flight','blocked_budget')"

/* `doing` completes "... while <doing>". */
static int db_fail(sqlite3 *db, am_err *err, const char *doing)
{
	am_ledger_sqlite_error(db, sqlite3_extended_errcode(db), doing, err);
	return am_err_prefix(err, "job queue");
}

static char *col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? am_xstrdup((const char *)t) : NULL;
}

static int64_t count_unfinished(sqlite3 *db, am_err *err)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db,
	                       "SELECT count(*) FROM jobs WHERE state IN " UNFINISHED,
	                       -1, &st, NULL) != SQLITE_OK)
		return db_fail(db, err, "counting jobs");
	int64_t n = -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	else
		db_fail(db, err, "counting jobs");
	sqlite3_finalize(st);
	return n;
}

static int add(sqlite3 *db, am_queue_stmts *qs, const char *batch_key, const char *request_json,
               const char *model_requested, int64_t capacity, int64_t now_ns, int64_t *id,
               am_job_state *state, am_err *err)
{
	sqlite3_stmt *st = NULL;
	if (batch_key) {
		if (!(st = get_stmt(db, qs, Q_LOOKUP)))
			return db_fail(db, err, "looking up a batch job");
		sqlite3_bind_text(st, 1, batch_key, -1, SQLITE_STATIC);
		int rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			*id = sqlite3_column_int64(st, 0);
			am_job_state s = AM_JOB_QUEUED;
			am_job_state_parse((const char *)sqlite3_column_text(st, 1), &s);
			if (state)
				*state = s;
			put_stmt(qs, st);
			return 1;
		}
		put_stmt(qs, st);
		if (rc != SQLITE_DONE)
			return db_fail(db, err, "looking up a batch job");
	}
	if (capacity > 0) {
		/* Counting walks the unfinished jobs: only when there is a bound. */
		int64_t n = count_unfinished(db, err);
		if (n < 0)
			return -1;
		if (n >= capacity)
			return am_err_set(err, "queue is full (%lld unfinished jobs; capacity %lld)",
			                  (long long)n, (long long)capacity);
	}
	if (!(st = get_stmt(db, qs, Q_INSERT)))
		return db_fail(db, err, "adding a job");
	sqlite3_bind_text(st, 1, batch_key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, request_json, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, model_requested, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now_ns);
	sqlite3_bind_int64(st, 5, now_ns);
	int rc = sqlite3_step(st);
	put_stmt(qs, st);
	if (rc != SQLITE_DONE)
		return db_fail(db, err, "adding a job");
	*id = sqlite3_last_insert_rowid(db);
	if (state)
		*state = AM_JOB_QUEUED;
	return 0;
}

int am_queue_add(sqlite3 *db, const char *batch_key, const char *request_json,
                 const char *model_requested, int64_t capacity, int64_t now_ns, int64_t *id,
                 am_job_state *state, am_err *err)
{
	return add(db, NULL, batch_key, request_json, model_requested, capacity, now_ns, id, state,
	           err);
}

int am_queue_add_s(am_queue_stmts *qs, const char *batch_key, const char *request_json,
                   const char *model_requested, int64_t capacity, int64_t now_ns, int64_t *id,
                   am_job_state *state, am_err *err)
{
	return add(qs->db, qs, batch_key, request_json, model_requested, capacity, now_ns, id,
	           state, err);
}

int am_queue_recover(sqlite3 *db, int64_t now_ns, int *requeued, am_err *err)
{
	char *msg = NULL;
	char sql[512];
	snprintf(sql, sizeof sql,
	         "BEGIN IMMEDIATE;"
	         "UPDATE jobs SET state='done', updated_ns=%lld WHERE state IN "
	         "('queued','waiting_limit','in_flight') AND id IN "
	         "(SELECT job_id FROM usage_events WHERE job_id IS NOT NULL);"
	         "UPDATE jobs SET state='queued', updated_ns=%lld WHERE state IN "
	         "('waiting_limit','in_flight');",
	         (long long)now_ns, (long long)now_ns);
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		am_ledger_sqlite_error(db, rc, "recovering unfinished jobs", err);
		am_err_prefix(err, "job queue");
		sqlite3_free(msg);
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	int n = sqlite3_changes(db);
	rc = sqlite3_exec(db, "COMMIT", NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		am_ledger_sqlite_error(db, rc, "recovering unfinished jobs", err);
		am_err_prefix(err, "job queue");
		sqlite3_free(msg);
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	if (requeued)
		*requeued = n;
	return 0;
}

static void row_to_job(sqlite3_stmt *st, am_job *j)
{
	memset(j, 0, sizeof *j);
	j->id = sqlite3_column_int64(st, 0);
	j->batch_key = col_dup(st, 1);
	j->state = AM_JOB_QUEUED;
	am_job_state_parse((const char *)sqlite3_column_text(st, 2), &j->state);
	j->request = col_dup(st, 3);
	j->model_requested = col_dup(st, 4);
	j->model = col_dup(st, 5);
	j->reason = col_dup(st, 6);
	j->attempts = sqlite3_column_int(st, 7);
	j->error = col_dup(st, 8);
	j->result = col_dup(st, 9);
	j->created_ns = sqlite3_column_int64(st, 10);
	j->updated_ns = sqlite3_column_int64(st, 11);
}

#define JOB_COLUMNS                                                                    \
	"id, batch_key, state, request, model_requested, model, reason, attempts, error, " \
	"result, created_ns, updated_ns"

int am_queue_load_unfinished(sqlite3 *db, int64_t limit, am_job **out, int *n, am_err *err)
{
	sqlite3_stmt *st;
	*out = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(db,
	                       "SELECT " JOB_COLUMNS " FROM jobs WHERE state IN " UNFINISHED
	                       " AND NOT EXISTS (SELECT 1 FROM usage_events u WHERE u.job_id = jobs.id) "
	                       "ORDER BY id LIMIT ?",
	                       -1, &st, NULL) != SQLITE_OK)
		return db_fail(db, err, "loading jobs");
	sqlite3_bind_int64(st, 1, limit > 0 ? limit : INT64_MAX);
	int cap = 0, rc;
	am_job *jobs = NULL;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			jobs = am_xrealloc(jobs, (size_t)cap * sizeof *jobs);
		}
		row_to_job(st, &jobs[(*n)++]);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		am_queue_free_list(jobs, *n);
		*n = 0;
		return db_fail(db, err, "loading jobs");
	}
	*out = jobs;
	return 0;
}

int am_queue_unfinished_ids(sqlite3 *db, int64_t limit, int64_t **ids, int *n, am_err *err)
{
	sqlite3_stmt *st;
	*ids = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(db,
	                       /* A job with a ledger row is done, whatever its state
	                        * says (the worker may not have written "done" yet). */
	                       "SELECT id FROM jobs WHERE state IN " UNFINISHED " AND NOT EXISTS "
	                       "(SELECT 1 FROM usage_events u WHERE u.job_id = jobs.id) "
	                       "ORDER BY id LIMIT ?",
	                       -1, &st, NULL) != SQLITE_OK)
		return db_fail(db, err, "listing unfinished jobs");
	sqlite3_bind_int64(st, 1, limit > 0 ? limit : INT64_MAX);
	int cap = 0, rc;
	int64_t *v = NULL;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 256;
			v = am_xrealloc(v, (size_t)cap * sizeof *v);
		}
		v[(*n)++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		free(v);
		*n = 0;
		return db_fail(db, err, "listing unfinished jobs");
	}
	*ids = v;
	return 0;
}

void am_queue_free_list(am_job *jobs, int n)
{
	for (int i = 0; i < n; i++)
		am_job_clear(&jobs[i]);
	free(jobs);
}

static int update(sqlite3 *db, am_queue_stmts *qs, int64_t id, am_job_state state,
                  const char *model, const char *reason, const char *error, const char *result,
                  int attempts, int64_t now_ns, am_err *err)
{
	sqlite3_stmt *st = get_stmt(db, qs, Q_UPDATE);
	if (!st)
		return db_fail(db, err, "updating a job");
	sqlite3_bind_text(st, 1, am_job_state_name(state), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, model, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, reason, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, error, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, result, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 6, attempts);
	sqlite3_bind_int64(st, 7, now_ns);
	sqlite3_bind_int64(st, 8, id);
	int rc = sqlite3_step(st);
	put_stmt(qs, st);
	if (rc != SQLITE_DONE)
		return db_fail(db, err, "updating a job");
	return 0;
}

int am_queue_update(sqlite3 *db, int64_t id, am_job_state state, const char *model,
                    const char *reason, const char *error, const char *result, int attempts,
                    int64_t now_ns, am_err *err)
{
	return update(db, NULL, id, state, model, reason, error, result, attempts, now_ns, err);
}

int am_queue_update_s(am_queue_stmts *qs, int64_t id, am_job_state state, const char *model,
                      const char *reason, const char *error, const char *result, int attempts,
                      int64_t now_ns, am_err *err)
{
	return update(qs->db, qs, id, state, model, reason, error, result, attempts, now_ns, err);
}

int am_queue_get(sqlite3 *db, int64_t id, am_job *out, am_err *err)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "SELECT " JOB_COLUMNS " FROM jobs WHERE id=?", -1, &st, NULL) !=
	    SQLITE_OK)
		return db_fail(db, err, "reading a job");
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		row_to_job(st, out);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return am_err_set(err, "job queue: no job %lld", (long long)id);
	return db_fail(db, err, "reading a job");
}

int am_queue_counts(sqlite3 *db, int64_t counts[AM_JOB_NSTATES], am_err *err)
{
	sqlite3_stmt *st;
	memset(counts, 0, sizeof(int64_t) * AM_JOB_NSTATES);
	if (sqlite3_prepare_v2(db, "SELECT state, count(*) FROM jobs GROUP BY state", -1, &st,
	                       NULL) != SQLITE_OK)
		return db_fail(db, err, "counting jobs");
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		am_job_state s;
		if (!am_job_state_parse((const char *)sqlite3_column_text(st, 0), &s))
			counts[s] = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : db_fail(db, err, "counting jobs");
}
