/* queue: jobs persisted in SQLite so that none is lost across a crash, and
 * owned by one process at a time so that none is sent twice when several
 * aimeter processes share the ledger. */
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
	free(j->owner);
	free(j->source);
	free(j->tag);
	memset(j, 0, sizeof *j);
}

/* The statements of the hot paths, kept prepared by an am_queue_stmts (the
 * worker adds and updates jobs thousands of times a second; parsing the SQL
 * each time was a fifth of its work). Without one they are prepared per
 * call, as the other statements here always are. */
enum { Q_LOOKUP, Q_INSERT, Q_UPDATE, Q_N };

static const char *const q_sql[Q_N] = {
	[Q_LOOKUP] = "SELECT id, state FROM jobs WHERE batch_key = ?",
	[Q_INSERT] = "INSERT INTO jobs(batch_key, request, model_requested, created_ns, "
	             "updated_ns, owner, source, tag, state, model, reason, attempts) "
	             "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, coalesce(?9, 'queued'), ?10, ?11, 0)",
	[Q_UPDATE] = "UPDATE jobs SET state=?, model=coalesce(?, model), "
	             "reason=coalesce(?, reason), error=coalesce(?, error), "
	             "result=coalesce(?, result), attempts=?, updated_ns=? WHERE id=?",
};

struct am_queue_stmts {
	sqlite3 *db;
	sqlite3_stmt *st[Q_N];
	const char *source;
	const char *tag;
};

void am_queue_stmts_source(am_queue_stmts *qs, const char *source)
{
	qs->source = source;
}

void am_queue_stmts_tag(am_queue_stmts *qs, const char *tag)
{
	qs->tag = tag && *tag ? tag : NULL;
}

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

/* What a new row starts with besides its request: NULL = queued, no model
 * and reason yet. */
typedef struct add_state {
	am_job_state state;
	const char *model, *reason;
} add_state;

static int add(sqlite3 *db, am_queue_stmts *qs, const char *owner, const char *batch_key,
               const char *request_json, const char *model_requested, int64_t capacity,
               int64_t now_ns, const add_state *as, int64_t *id, am_job_state *state,
               am_err *err)
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
			return am_err_setc(err, AM_E_FULL, "queue is full (%lld unfinished jobs; capacity %lld)",
			                  (long long)n, (long long)capacity);
	}
	if (!(st = get_stmt(db, qs, Q_INSERT)))
		return db_fail(db, err, "adding a job");
	sqlite3_bind_text(st, 1, batch_key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, request_json, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, model_requested, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now_ns);
	sqlite3_bind_int64(st, 5, now_ns);
	sqlite3_bind_text(st, 6, owner, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, qs ? qs->source : NULL, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, qs ? qs->tag : NULL, -1, SQLITE_STATIC);
	if (as) {
		sqlite3_bind_text(st, 9, am_job_state_name(as->state), -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 10, as->model, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 11, as->reason, -1, SQLITE_STATIC);
	}
	int rc = sqlite3_step(st);
	put_stmt(qs, st);
	if (rc != SQLITE_DONE)
		return db_fail(db, err, "adding a job");
	*id = sqlite3_last_insert_rowid(db);
	if (state)
		*state = as ? as->state : AM_JOB_QUEUED;
	return 0;
}

int am_queue_add(sqlite3 *db, const char *owner, const char *batch_key,
                 const char *request_json, const char *model_requested, int64_t capacity,
                 int64_t now_ns, int64_t *id, am_job_state *state, am_err *err)
{
	return add(db, NULL, owner, batch_key, request_json, model_requested, capacity, now_ns, NULL,
	           id, state, err);
}

int am_queue_add_s(am_queue_stmts *qs, const char *owner, const char *batch_key,
                   const char *request_json, const char *model_requested, int64_t capacity,
                   int64_t now_ns, int64_t *id, am_job_state *state, am_err *err)
{
	return add(qs->db, qs, owner, batch_key, request_json, model_requested, capacity, now_ns,
	           NULL, id, state, err);
}

int am_queue_add_in_s(am_queue_stmts *qs, const char *owner, const char *request_json,
                      const char *model_requested, am_job_state state, const char *model,
                      const char *reason, int64_t now_ns, int64_t *id, am_err *err)
{
	if (am_job_state_final(state) || (unsigned)state >= AM_JOB_NSTATES)
		return am_err_setc(err, AM_E_INVALID, "job queue: a new job cannot start %s",
		                   am_job_state_name(state));
	add_state as = { state, model, reason };
	return add(qs->db, qs, owner, NULL, request_json, model_requested, 0, now_ns, &as, id, NULL,
	           err);
}

/* ---- ownership ------------------------------------------------------------
 *
 * Whether an owner is dead is decided here, in C (a pid and /proc), and
 * then written as a condition on the owner's value: the claim's UPDATE
 * names the owner it saw, so when two processes judge the same dead owner
 * at once, the first UPDATE (under SQLite's write lock) changes the row and
 * the second finds another owner and changes nothing. */

/* The verdicts of one call: liveness is asked once per distinct owner, not
 * once per job (a live batch may own thousands). Owners past the table's
 * size are asked each time: slower, still right. */
enum { VERDICTS = 32 };

typedef struct verdicts {
	const am_owner *me;
	int n;
	struct {
		char owner[AM_OWNER_MAX];
		bool takeable;
	} v[VERDICTS];
} verdicts;

static bool may_take(verdicts *vs, const char *owner)
{
	if (!owner || !strcmp(owner, vs->me->id))
		return true;
	for (int i = 0; i < vs->n; i++)
		if (!strcmp(vs->v[i].owner, owner))
			return vs->v[i].takeable;
	bool ok = am_owner_claimable(vs->me, owner);
	if (vs->n < VERDICTS && strlen(owner) < AM_OWNER_MAX) {
		strcpy(vs->v[vs->n].owner, owner);
		vs->v[vs->n++].takeable = ok;
	}
	return ok;
}

/* Whether me's kind of run may send a job of `source` that owner (one
 * may_take allowed) left: its own jobs always; another's, when that
 * owner is gone, only of its own kind, and an ask's never. */
static bool kind_takes(const am_owner *me, const char *owner, const char *source)
{
	if (!owner || !strcmp(owner, me->id) || !source)
		return true;
	if (!strcmp(source, "ask"))
		return false;
	return !me->kind || !strcmp(source, me->kind);
}

#define CLAIM_SQL "UPDATE jobs SET owner = ?1 WHERE id = ?2 AND owner IS ?3"

/* A write unit: BEGIN IMMEDIATE, or a savepoint inside the caller's
 * transaction. */
static int unit_begin(sqlite3 *db, bool *nested, am_err *err, const char *doing)
{
	*nested = !sqlite3_get_autocommit(db);
	int rc = sqlite3_exec(db, *nested ? "SAVEPOINT am_queue" : "BEGIN IMMEDIATE", NULL, NULL,
	                      NULL);
	if (rc != SQLITE_OK) {
		am_ledger_sqlite_error(db, rc, doing, err);
		return am_err_prefix(err, "job queue");
	}
	return 0;
}

static int unit_end(sqlite3 *db, bool nested, bool ok, am_err *err, const char *doing)
{
	if (ok) {
		int rc = sqlite3_exec(db, nested ? "RELEASE am_queue" : "COMMIT", NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			return 0;
		am_ledger_sqlite_error(db, rc, doing, err);
		am_err_prefix(err, "job queue");
	}
	if (nested) {
		sqlite3_exec(db, "ROLLBACK TO am_queue", NULL, NULL, NULL);
		sqlite3_exec(db, "RELEASE am_queue", NULL, NULL, NULL);
	} else if (!sqlite3_get_autocommit(db)) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	}
	return -1;
}

int am_queue_claim(sqlite3 *db, const am_owner *me, int64_t id, char holder[AM_OWNER_MAX],
                   am_err *err)
{
	sqlite3_stmt *get = NULL, *claim = NULL;
	int ret = -1;
	if (sqlite3_prepare_v2(db, "SELECT owner FROM jobs WHERE id = ?", -1, &get, NULL) !=
	            SQLITE_OK ||
	    sqlite3_prepare_v2(db, CLAIM_SQL, -1, &claim, NULL) != SQLITE_OK) {
		db_fail(db, err, "claiming a job");
		goto out;
	}
	/* Each lost race means another process now owns the job: the next
	 * look sees it, so this ends at the second round in practice. */
	for (int round = 0; round < 8; round++) {
		sqlite3_bind_int64(get, 1, id);
		int rc = sqlite3_step(get);
		if (rc == SQLITE_DONE) {
			am_err_set(err, "job queue: no job %lld", (long long)id);
			goto out;
		}
		if (rc != SQLITE_ROW) {
			db_fail(db, err, "claiming a job");
			goto out;
		}
		char *seen = col_dup(get, 0);
		sqlite3_reset(get);
		if (seen && !strcmp(seen, me->id)) {
			free(seen);
			ret = 1;
			goto out;
		}
		if (!am_owner_claimable(me, seen)) {
			if (holder)
				snprintf(holder, AM_OWNER_MAX, "%s", seen);
			free(seen);
			ret = 0;
			goto out;
		}
		sqlite3_bind_text(claim, 1, me->id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(claim, 2, id);
		sqlite3_bind_text(claim, 3, seen, -1, SQLITE_STATIC);
		rc = sqlite3_step(claim);
		sqlite3_reset(claim);
		free(seen);
		if (rc != SQLITE_DONE) {
			db_fail(db, err, "claiming a job");
			goto out;
		}
		if (sqlite3_changes(db) == 1) {
			ret = 1;
			goto out;
		}
	}
	am_err_set(err, "job queue: job %lld keeps changing owners", (long long)id);
out:
	sqlite3_finalize(get);
	sqlite3_finalize(claim);
	return ret;
}

/* The states recovery moves; blocked jobs wait for the budget as they are. */
#define RECOVERABLE "('queued','waiting_limit','in_flight')"

/* A job in a provider batch still out (pbatch.h) is the batch run's to
 * settle from the batch's results: no real-time sender takes it. */
#define NOT_IN_OPEN_BATCH                                                               \
	" AND NOT EXISTS (SELECT 1 FROM provider_batch_jobs l JOIN provider_batches b ON " \
	"b.id = l.batch WHERE l.job_id = jobs.id AND l.outcome IS NULL AND b.state NOT IN " \
	"('done', 'lost'))"

/* Runs recovery's two updates for the jobs of one owner (NULL = nobody's);
 * adds the re-queued count to *n. */
static int recover_owner(sqlite3 *db, sqlite3_stmt *done, sqlite3_stmt *abandon,
                         sqlite3_stmt *requeue, const char *owner, int64_t now_ns, int *n)
{
	sqlite3_stmt *st[3] = { done, abandon, requeue };
	for (int i = 0; i < 3; i++) {
		sqlite3_bind_int64(st[i], 1, now_ns);
		sqlite3_bind_text(st[i], 2, owner, -1, SQLITE_STATIC);
		int rc = sqlite3_step(st[i]);
		sqlite3_reset(st[i]);
		if (rc != SQLITE_DONE)
			return -1;
	}
	*n += sqlite3_changes(db);
	return 0;
}

int am_queue_recover(sqlite3 *db, const am_owner *me, int64_t now_ns, int *requeued,
                     am_err *err)
{
	static const char *const doing = "recovering unfinished jobs";
	sqlite3_stmt *owners = NULL, *done = NULL, *abandon = NULL, *requeue = NULL;
	bool nested;
	if (unit_begin(db, &nested, err, doing))
		return -1;
	bool ok = false;
	int n = 0;
	if (sqlite3_prepare_v2(db,
	                       "SELECT DISTINCT owner FROM jobs WHERE state IN " RECOVERABLE
	                       " AND owner IS NOT NULL",
	                       -1, &owners, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
	                       "UPDATE jobs SET state='done', updated_ns=?1 WHERE state IN "
	                       RECOVERABLE " AND owner IS ?2 AND id IN "
	                       "(SELECT job_id FROM usage_events WHERE job_id IS NOT NULL)",
	                       -1, &done, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
	                       "UPDATE jobs SET state='failed', updated_ns=?1, error='abandoned: "
	                       "the ask that sent it ended' WHERE state IN " RECOVERABLE
	                       " AND owner IS ?2 AND source = 'ask'",
	                       -1, &abandon, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
	                       "UPDATE jobs SET state='queued', updated_ns=?1 WHERE state IN "
	                       "('waiting_limit','in_flight') AND owner IS ?2" NOT_IN_OPEN_BATCH,
	                       -1, &requeue, NULL) != SQLITE_OK)
		goto out;
	/* The owners first, the updates after: a statement that writes the
	 * rows a running SELECT walks is better avoided. */
	verdicts vs = { .me = me };
	char **mine = NULL;
	int nmine = 0, cap = 0, rc;
	while ((rc = sqlite3_step(owners)) == SQLITE_ROW) {
		const char *o = (const char *)sqlite3_column_text(owners, 0);
		if (!may_take(&vs, o))
			continue;
		if (nmine == cap)
			mine = am_xrealloc(mine, (size_t)(cap = cap ? 2 * cap : 8) * sizeof *mine);
		mine[nmine++] = am_xstrdup(o);
	}
	ok = rc == SQLITE_DONE && !recover_owner(db, done, abandon, requeue, NULL, now_ns, &n);
	for (int i = 0; i < nmine; i++) {
		if (ok && recover_owner(db, done, abandon, requeue, mine[i], now_ns, &n))
			ok = false;
		free(mine[i]);
	}
	free(mine);
out:
	if (!ok)
		db_fail(db, err, doing);
	sqlite3_finalize(owners);
	sqlite3_finalize(done);
	sqlite3_finalize(abandon);
	sqlite3_finalize(requeue);
	if (unit_end(db, nested, ok, err, doing))
		return -1;
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
	j->owner = col_dup(st, 12);
	j->source = col_dup(st, 13);
	j->tag = col_dup(st, 14);
}

#define JOB_COLUMNS                                                                    \
	"id, batch_key, state, request, model_requested, model, reason, attempts, error, " \
	"result, created_ns, updated_ns, owner, source, tag"

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

/* A job am_queue_claim_unfinished may take; seen = its owner as read
 * (heap, NULL = nobody), claim = it is not ours yet. */
typedef struct candidate {
	int64_t id;
	char *seen;
	bool claim;
} candidate;

/* The unfinished jobs me may take, in id order, at most limit. */
static int takeable(sqlite3 *db, const am_owner *me, int64_t limit, candidate **out, int *n,
                    am_err *err)
{
	sqlite3_stmt *st;
	*out = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(db,
	                       /* A job with a ledger row is done, whatever its state
	                        * says (the worker may not have written "done" yet). */
	                       "SELECT id, owner, source FROM jobs WHERE state IN " UNFINISHED
	                       " AND NOT EXISTS "
	                       "(SELECT 1 FROM usage_events u WHERE u.job_id = jobs.id)"
	                       NOT_IN_OPEN_BATCH " ORDER BY id",
	                       -1, &st, NULL) != SQLITE_OK)
		return db_fail(db, err, "listing unfinished jobs");
	if (limit <= 0)
		limit = INT64_MAX;
	verdicts vs = { .me = me };
	int cap = 0, rc = SQLITE_DONE;
	candidate *v = NULL;
	while (*n < limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *owner = (const char *)sqlite3_column_text(st, 1);
		const char *source = (const char *)sqlite3_column_text(st, 2);
		if (!may_take(&vs, owner) || !kind_takes(me, owner, source))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 256;
			v = am_xrealloc(v, (size_t)cap * sizeof *v);
		}
		candidate *c = &v[(*n)++];
		c->id = sqlite3_column_int64(st, 0);
		c->claim = !owner || strcmp(owner, me->id);
		c->seen = c->claim && owner ? am_xstrdup(owner) : NULL;
	}
	if (*n == limit)
		rc = SQLITE_DONE;
	sqlite3_finalize(st);
	*out = v;
	if (rc != SQLITE_DONE)
		return db_fail(db, err, "listing unfinished jobs");
	return 0;
}

/* Claims the candidates that are not ours yet, in one write unit; a
 * candidate another process took first gets id 0. */
static int claim_all(sqlite3 *db, const am_owner *me, candidate *v, int n, am_err *err)
{
	static const char *const doing = "claiming jobs";
	int i = 0;
	while (i < n && !v[i].claim)
		i++;
	if (i == n)
		return 0; /* all ours already: no write lock taken */
	bool nested;
	if (unit_begin(db, &nested, err, doing))
		return -1;
	sqlite3_stmt *st;
	bool ok = sqlite3_prepare_v2(db, CLAIM_SQL, -1, &st, NULL) == SQLITE_OK;
	for (; ok && i < n; i++) {
		if (!v[i].claim)
			continue;
		sqlite3_bind_text(st, 1, me->id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, v[i].id);
		sqlite3_bind_text(st, 3, v[i].seen, -1, SQLITE_STATIC);
		ok = sqlite3_step(st) == SQLITE_DONE;
		if (ok && sqlite3_changes(db) != 1)
			v[i].id = 0;
		sqlite3_reset(st);
	}
	if (!ok)
		db_fail(db, err, doing);
	sqlite3_finalize(st);
	return unit_end(db, nested, ok, err, doing);
}

int am_queue_claim_unfinished(sqlite3 *db, const am_owner *me, int64_t limit, int64_t **ids,
                              int *n, am_err *err)
{
	candidate *v;
	int nv;
	*ids = NULL;
	*n = 0;
	int rc = takeable(db, me, limit, &v, &nv, err);
	if (!rc)
		rc = claim_all(db, me, v, nv, err);
	int64_t *out = rc || !nv ? NULL : am_xmalloc((size_t)nv * sizeof *out);
	for (int i = 0; i < nv; i++) {
		if (out && v[i].id)
			out[(*n)++] = v[i].id;
		free(v[i].seen);
	}
	free(v);
	*ids = out;
	return rc;
}

int am_queue_find(sqlite3 *db, const char *batch_key, am_job *out, am_err *err)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "SELECT " JOB_COLUMNS " FROM jobs WHERE batch_key = ?", -1, &st,
	                       NULL) != SQLITE_OK)
		return db_fail(db, err, "looking up a batch job");
	sqlite3_bind_text(st, 1, batch_key, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		row_to_job(st, out);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : db_fail(db, err, "looking up a batch job");
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
