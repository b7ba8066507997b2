/* pbatch: the provider's message batches in the ledger, see pbatch.h. */
#include "pbatch.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger.h"
#include "tag.h"

static const char *const state_names[AM_PB_NSTATES] = {
	"submitting", "in_progress", "canceling", "ended", "done", "lost",
};

static const char *const outcome_names[] = {
	"succeeded", "errored", "canceled", "expired", "missing",
};

const char *am_pb_state_name(am_pb_state s)
{
	return s >= 0 && s < AM_PB_NSTATES ? state_names[s] : "?";
}

static am_pb_state state_parse(const char *s)
{
	for (int i = 0; i < AM_PB_NSTATES; i++)
		if (s && !strcmp(s, state_names[i]))
			return (am_pb_state)i;
	return AM_PB_LOST;
}

static int fail(sqlite3 *db, int rc, const char *doing, am_err *err)
{
	return am_ledger_sqlite_error(db, rc, doing, err);
}

/* A transaction of our own, or a savepoint inside the caller's. */
static int tx_begin(sqlite3 *db, bool *outer, am_err *err)
{
	*outer = sqlite3_get_autocommit(db) != 0;
	int rc = sqlite3_exec(db, *outer ? "BEGIN IMMEDIATE" : "SAVEPOINT am_pb", NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : fail(db, rc, "starting a batch update", err);
}

static int tx_end(sqlite3 *db, bool outer, int status, am_err *err)
{
	if (status) {
		sqlite3_exec(db, outer ? "ROLLBACK" : "ROLLBACK TO am_pb; RELEASE am_pb", NULL, NULL,
		             NULL);
		return status;
	}
	int rc = sqlite3_exec(db, outer ? "COMMIT" : "RELEASE am_pb", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		if (outer)
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return fail(db, rc, "committing a batch update", err);
	}
	return 0;
}

/* Prepares sql; NULL + err on failure. */
static sqlite3_stmt *prep(sqlite3 *db, const char *sql, const char *doing, am_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK) {
		fail(db, rc, doing, err);
		return NULL;
	}
	return st;
}

/* Steps st to its end and finalizes it. */
static int run(sqlite3 *db, sqlite3_stmt *st, const char *doing, am_err *err)
{
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : fail(db, rc, doing, err);
}

int am_pb_intent(sqlite3 *db, const char *base_url, const char *owner, const int64_t *ids,
                 const int64_t *reserved, int64_t n, int64_t bytes, int64_t now_ns, int64_t *id,
                 am_err *err)
{
	const char *doing = "noting a batch about to be submitted";
	bool outer;
	if (tx_begin(db, &outer, err))
		return -1;
	int status = -1;
	sqlite3_stmt *st = prep(db,
	                        "INSERT INTO provider_batches(state, base_url, owner, requests, "
	                        "bytes, intent_ns, updated_ns) VALUES('submitting', ?, ?, ?, ?, ?, ?)",
	                        doing, err);
	sqlite3_stmt *link = NULL, *job = NULL;
	if (!st)
		goto out;
	sqlite3_bind_text(st, 1, base_url, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, owner, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, n);
	sqlite3_bind_int64(st, 4, bytes);
	sqlite3_bind_int64(st, 5, now_ns);
	sqlite3_bind_int64(st, 6, now_ns);
	if (run(db, st, doing, err))
		goto out;
	*id = sqlite3_last_insert_rowid(db);
	link = prep(db, "INSERT INTO provider_batch_jobs(batch, job_id, reserved_pusd) VALUES(?, ?, ?)",
	            doing, err);
	job = prep(db, "UPDATE jobs SET state = 'in_flight', attempts = attempts + 1, "
	               "updated_ns = ? WHERE id = ?", doing, err);
	if (!link || !job)
		goto out;
	for (int64_t i = 0; i < n; i++) {
		sqlite3_bind_int64(link, 1, *id);
		sqlite3_bind_int64(link, 2, ids[i]);
		sqlite3_bind_int64(link, 3, reserved[i]);
		int rc = sqlite3_step(link);
		sqlite3_reset(link);
		if (rc != SQLITE_DONE) {
			fail(db, rc, doing, err);
			goto out;
		}
		sqlite3_bind_int64(job, 1, now_ns);
		sqlite3_bind_int64(job, 2, ids[i]);
		rc = sqlite3_step(job);
		sqlite3_reset(job);
		if (rc != SQLITE_DONE) {
			fail(db, rc, doing, err);
			goto out;
		}
	}
	status = 0;
out:
	sqlite3_finalize(link);
	sqlite3_finalize(job);
	return tx_end(db, outer, status, err);
}

int am_pb_remote_set(sqlite3 *db, int64_t id, const am_pb_remote *r, int64_t now_ns, am_err *err)
{
	const char *doing = "recording a batch's state";
	/* A batch already done keeps 'done': a late poll does not reopen it. */
	sqlite3_stmt *st = prep(
	    db,
	    "UPDATE provider_batches SET provider_id = ?, state = CASE WHEN state IN ('done', "
	    "'lost') THEN state ELSE ? END, processing = ?, succeeded = ?, errored = ?, "
	    "canceled = ?, expired = ?, created_ns = ?, ended_ns = nullif(?, 0), "
	    "expires_ns = nullif(?, 0), results_url = coalesce(?, results_url), updated_ns = ? "
	    "WHERE id = ?",
	    doing, err);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, r->provider_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, am_pb_state_name(r->state), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, r->processing);
	sqlite3_bind_int64(st, 4, r->succeeded);
	sqlite3_bind_int64(st, 5, r->errored);
	sqlite3_bind_int64(st, 6, r->canceled);
	sqlite3_bind_int64(st, 7, r->expired);
	sqlite3_bind_int64(st, 8, r->created_ns);
	sqlite3_bind_int64(st, 9, r->ended_ns);
	sqlite3_bind_int64(st, 10, r->expires_ns);
	if (r->results_url && *r->results_url)
		sqlite3_bind_text(st, 11, r->results_url, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 12, now_ns);
	sqlite3_bind_int64(st, 13, id);
	return run(db, st, doing, err);
}

int am_pb_job_state(sqlite3 *db, int64_t id, const char *state, const char *error, int give_back,
                    int64_t now_ns, am_err *err)
{
	const char *doing = "updating a job of a batch";
	sqlite3_stmt *st = prep(db,
	                        "UPDATE jobs SET state = ?, error = coalesce(?, error), "
	                        "attempts = max(attempts - ?, 0), updated_ns = ? WHERE id = ?",
	                        doing, err);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, state, -1, SQLITE_STATIC);
	if (error)
		sqlite3_bind_text(st, 2, error, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, give_back);
	sqlite3_bind_int64(st, 4, now_ns);
	sqlite3_bind_int64(st, 5, id);
	return run(db, st, doing, err);
}

/* The unsettled links of batch id get `outcome` and their jobs go back to
 * queued (the attempt given back when give_back); then the batch takes
 * `state`. */
static int close_batch(sqlite3 *db, int64_t id, const char *outcome, int give_back,
                       const char *state, int64_t now_ns, int64_t *requeued, am_err *err)
{
	const char *doing = "closing a batch";
	bool outer;
	if (tx_begin(db, &outer, err))
		return -1;
	int status = -1;
	sqlite3_stmt *st = prep(db,
	                        "UPDATE jobs SET state = 'queued', attempts = max(attempts - ?, 0), "
	                        "updated_ns = ? WHERE state = 'in_flight' AND id IN (SELECT job_id "
	                        "FROM provider_batch_jobs WHERE batch = ? AND outcome IS NULL)",
	                        doing, err);
	if (!st)
		goto out;
	sqlite3_bind_int(st, 1, give_back);
	sqlite3_bind_int64(st, 2, now_ns);
	sqlite3_bind_int64(st, 3, id);
	if (run(db, st, doing, err))
		goto out;
	if (requeued)
		*requeued = sqlite3_changes(db);
	st = prep(db, "UPDATE provider_batch_jobs SET outcome = ? WHERE batch = ? AND outcome IS NULL",
	          doing, err);
	if (!st)
		goto out;
	sqlite3_bind_text(st, 1, outcome, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, id);
	if (run(db, st, doing, err))
		goto out;
	st = prep(db, "UPDATE provider_batches SET state = ?, updated_ns = ? WHERE id = ?", doing,
	          err);
	if (!st)
		goto out;
	sqlite3_bind_text(st, 1, state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now_ns);
	sqlite3_bind_int64(st, 3, id);
	status = run(db, st, doing, err);
out:
	return tx_end(db, outer, status, err);
}

int am_pb_lost(sqlite3 *db, int64_t id, int64_t now_ns, am_err *err)
{
	return close_batch(db, id, "lost", 1, "lost", now_ns, NULL, err);
}

int am_pb_finish(sqlite3 *db, int64_t id, int64_t now_ns, int64_t *requeued, am_err *err)
{
	return close_batch(db, id, "missing", 0, "done", now_ns, requeued, err);
}

#define ROW_COLS                                                                              \
	"b.id, coalesce(b.provider_id, ''), b.state, b.base_url, coalesce(b.owner, ''), "     \
	"b.requests, b.bytes, b.intent_ns, coalesce(b.created_ns, 0), coalesce(b.ended_ns, 0), " \
	"coalesce(b.expires_ns, 0), b.updated_ns, b.processing, b.succeeded, b.errored, "     \
	"b.canceled, b.expired, coalesce(b.results_url, ''), "                                  \
	"(SELECT count(*) FROM provider_batch_jobs l WHERE l.batch = b.id AND l.outcome IS NOT " \
	"NULL), "                                                                               \
	"(SELECT coalesce(sum(u.cost_pusd), 0) FROM provider_batch_jobs l JOIN usage_events u " \
	"ON u.job_id = l.job_id WHERE l.batch = b.id AND l.outcome = 'succeeded'), "            \
	"(SELECT coalesce(sum(l.realtime_pusd), 0) FROM provider_batch_jobs l WHERE l.batch = " \
	"b.id AND l.outcome = 'succeeded'), "                                                   \
	"(SELECT coalesce(sum(l.reserved_pusd), 0) FROM provider_batch_jobs l WHERE l.batch = " \
	"b.id AND l.outcome IS NULL)"

static void row_of(sqlite3_stmt *st, am_pb_row *r)
{
	memset(r, 0, sizeof *r);
	r->id = sqlite3_column_int64(st, 0);
	snprintf(r->provider_id, sizeof r->provider_id, "%s", sqlite3_column_text(st, 1));
	r->state = state_parse((const char *)sqlite3_column_text(st, 2));
	snprintf(r->base_url, sizeof r->base_url, "%s", sqlite3_column_text(st, 3));
	snprintf(r->owner, sizeof r->owner, "%s", sqlite3_column_text(st, 4));
	r->requests = sqlite3_column_int64(st, 5);
	r->bytes = sqlite3_column_int64(st, 6);
	r->intent_ns = sqlite3_column_int64(st, 7);
	r->created_ns = sqlite3_column_int64(st, 8);
	r->ended_ns = sqlite3_column_int64(st, 9);
	r->expires_ns = sqlite3_column_int64(st, 10);
	r->updated_ns = sqlite3_column_int64(st, 11);
	r->processing = sqlite3_column_int64(st, 12);
	r->succeeded = sqlite3_column_int64(st, 13);
	r->errored = sqlite3_column_int64(st, 14);
	r->canceled = sqlite3_column_int64(st, 15);
	r->expired = sqlite3_column_int64(st, 16);
	snprintf(r->results_url, sizeof r->results_url, "%s", sqlite3_column_text(st, 17));
	r->settled = sqlite3_column_int64(st, 18);
	r->cost_pusd = sqlite3_column_int64(st, 19);
	r->realtime_pusd = sqlite3_column_int64(st, 20);
	r->reserved_pusd = sqlite3_column_int64(st, 21);
}

/* Reads the rows of st into a heap array, keeping those keep() accepts. */
static int rows_of(sqlite3 *db, sqlite3_stmt *st, bool (*keep)(void *ctx, const char *owner),
                   void *ctx, am_pb_row **rows, int *n, const char *doing, am_err *err)
{
	*rows = NULL;
	*n = 0;
	int cap = 0, rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			*rows = am_xrealloc(*rows, (size_t)cap * sizeof **rows);
		}
		row_of(st, &(*rows)[*n]);
		if (!keep || keep(ctx, (*rows)[*n].owner))
			(*n)++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		free(*rows);
		*rows = NULL;
		*n = 0;
		return fail(db, rc, doing, err);
	}
	return 0;
}

int am_pb_find(sqlite3 *db, const char *provider_id, am_pb_row *row, am_err *err)
{
	const char *doing = "looking up a batch";
	sqlite3_stmt *st =
	    prep(db, "SELECT " ROW_COLS " FROM provider_batches b WHERE b.provider_id = ?", doing,
	         err);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, provider_id, -1, SQLITE_STATIC);
	am_pb_row *rows;
	int n;
	if (rows_of(db, st, NULL, NULL, &rows, &n, doing, err))
		return -1;
	if (n)
		*row = rows[0];
	free(rows);
	return n > 0;
}

int am_pb_open(sqlite3 *db, am_queue_run *r, bool (*claimable)(void *ctx, const char *owner),
               void *ctx, am_pb_row **rows, int *n, am_err *err)
{
	const char *doing = "reading the batches still open";
	char sql[2048];
	snprintf(sql, sizeof sql,
	         "SELECT " ROW_COLS " FROM provider_batches b WHERE b.state NOT IN ('done', 'lost')"
	         "%s%s%s ORDER BY b.id",
	         r ? " AND EXISTS (SELECT 1 FROM provider_batch_jobs l JOIN " : "",
	         r ? am_queue_run_table(r) : "",
	         r ? " x ON x.id = l.job_id WHERE l.batch = b.id)" : "");
	sqlite3_stmt *st = prep(db, sql, doing, err);
	if (!st)
		return -1;
	return rows_of(db, st, claimable, ctx, rows, n, doing, err);
}

int am_pb_list(sqlite3 *db, int limit, am_pb_row **rows, int *n, am_err *err)
{
	const char *doing = "listing the batches";
	sqlite3_stmt *st = prep(
	    db, "SELECT " ROW_COLS " FROM provider_batches b ORDER BY b.id DESC LIMIT ?", doing, err);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, limit > 0 ? limit : -1);
	return rows_of(db, st, NULL, NULL, rows, n, doing, err);
}

int am_pb_set_owner(sqlite3 *db, int64_t id, const char *owner, am_err *err)
{
	const char *doing = "taking a batch over";
	sqlite3_stmt *st = prep(db, "UPDATE provider_batches SET owner = ? WHERE id = ?", doing, err);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, id);
	return run(db, st, doing, err);
}

int am_pb_link(sqlite3 *db, int64_t id, int64_t job_id, bool *settled, int64_t *reserved,
               int *attempts, char *tag, am_err *err)
{
	const char *doing = "reading a job of a batch";
	sqlite3_stmt *st = prep(db,
	                        "SELECT l.outcome IS NOT NULL, l.reserved_pusd, j.attempts, "
	                        "coalesce(j.tag, '') FROM "
	                        "provider_batch_jobs l JOIN jobs j ON j.id = l.job_id "
	                        "WHERE l.batch = ? AND l.job_id = ?",
	                        doing, err);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, job_id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*settled = sqlite3_column_int(st, 0);
		*reserved = sqlite3_column_int64(st, 1);
		*attempts = sqlite3_column_int(st, 2);
		snprintf(tag, AM_TAG_MAX + 1, "%s", sqlite3_column_text(st, 3));
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : fail(db, rc, doing, err);
}

int am_pb_settle(sqlite3 *db, int64_t id, int64_t job_id, am_pb_outcome o, int64_t realtime_pusd,
                 am_err *err)
{
	const char *doing = "settling a job of a batch";
	sqlite3_stmt *st = prep(db,
	                        "UPDATE provider_batch_jobs SET outcome = ?, realtime_pusd = ? "
	                        "WHERE batch = ? AND job_id = ? AND outcome IS NULL",
	                        doing, err);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, outcome_names[o], -1, SQLITE_STATIC);
	if (o == AM_PB_SUCCEEDED)
		sqlite3_bind_int64(st, 2, realtime_pusd);
	sqlite3_bind_int64(st, 3, id);
	sqlite3_bind_int64(st, 4, job_id);
	if (run(db, st, doing, err))
		return -1;
	return sqlite3_changes(db) > 0;
}

int am_pb_outstanding(sqlite3 *db, int64_t *pusd, am_err *err)
{
	const char *doing = "adding up the reservations of batches";
	sqlite3_stmt *st = prep(db,
	                        "SELECT coalesce(sum(l.reserved_pusd), 0) FROM provider_batch_jobs l "
	                        "JOIN provider_batches b ON b.id = l.batch WHERE l.outcome IS NULL "
	                        "AND b.state NOT IN ('done', 'lost')",
	                        doing, err);
	if (!st)
		return -1;
	int rc = sqlite3_step(st);
	*pusd = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : fail(db, rc, doing, err);
}

int am_pb_outstanding_tags(sqlite3 *db, am_pb_tag_fn fn, void *ctx, am_err *err)
{
	const char *doing = "adding up the reservations of batches by tag";
	sqlite3_stmt *st = prep(db,
	                        "SELECT j.tag, sum(l.reserved_pusd) FROM provider_batch_jobs l "
	                        "JOIN provider_batches b ON b.id = l.batch "
	                        "JOIN jobs j ON j.id = l.job_id WHERE l.outcome IS NULL "
	                        "AND b.state NOT IN ('done', 'lost') AND j.tag IS NOT NULL "
	                        "AND j.tag != '' GROUP BY j.tag",
	                        doing, err);
	if (!st)
		return -1;
	int rc, stop = 0;
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW)
		stop = fn(ctx, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1));
	sqlite3_finalize(st);
	if (stop)
		return stop;
	return rc == SQLITE_DONE ? 0 : fail(db, rc, doing, err);
}

int am_pb_each_waiting(am_queue_run *r, am_pb_job_fn fn, void *ctx, am_err *err)
{
	const char *doing = "reading the jobs waiting for a batch";
	sqlite3 *db = am_queue_run_db(r);
	char sql[512];
	snprintf(sql, sizeof sql,
	         "SELECT j.id, j.request, j.model_requested, j.attempts, coalesce(j.tag, '') "
	         "FROM %s x JOIN jobs j ON j.id = x.id WHERE "
	         "j.state IN ('queued', 'blocked_budget') ORDER BY j.id",
	         am_queue_run_table(r));
	sqlite3_stmt *st = prep(db, sql, doing, err);
	if (!st)
		return -1;
	int rc, stop = 0;
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW)
		stop = fn(ctx, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
		          (const char *)sqlite3_column_text(st, 2), sqlite3_column_int(st, 3),
		          (const char *)sqlite3_column_text(st, 4));
	sqlite3_finalize(st);
	if (stop)
		return stop;
	return rc == SQLITE_DONE ? 0 : fail(db, rc, doing, err);
}

int am_pb_job_done(sqlite3 *db, int64_t id, const char *model, const char *text, int64_t now_ns,
                   am_err *err)
{
	const char *doing = "marking a job of a batch done";
	sqlite3_stmt *st = prep(db,
	                        "UPDATE jobs SET state = 'done', model = coalesce(?, model), "
	                        "result = ?, error = NULL, updated_ns = ? WHERE id = ?",
	                        doing, err);
	if (!st)
		return -1;
	if (model)
		sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, text ? text : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now_ns);
	sqlite3_bind_int64(st, 4, id);
	return run(db, st, doing, err);
}

int am_pb_strays(am_queue_run *r, int64_t now_ns, int64_t *n, am_err *err)
{
	const char *doing = "taking back the jobs of a run that died";
	sqlite3 *db = am_queue_run_db(r);
	char sql[1024];
	*n = 0;
	for (int pass = 0; pass < 2; pass++) {
		snprintf(sql, sizeof sql,
		         "UPDATE jobs SET state = '%s', updated_ns = ? WHERE id IN (SELECT id FROM %s) "
		         "AND state IN ('in_flight', 'waiting_limit') AND NOT EXISTS (SELECT 1 FROM "
		         "provider_batch_jobs l JOIN provider_batches b ON b.id = l.batch WHERE "
		         "l.job_id = jobs.id AND l.outcome IS NULL AND b.state NOT IN ('done', "
		         "'lost')) AND %sEXISTS (SELECT 1 FROM usage_events u WHERE u.job_id = jobs.id)",
		         pass ? "queued" : "done", am_queue_run_table(r), pass ? "NOT " : "");
		sqlite3_stmt *st = prep(db, sql, doing, err);
		if (!st)
			return -1;
		sqlite3_bind_int64(st, 1, now_ns);
		if (run(db, st, doing, err))
			return -1;
		*n += sqlite3_changes(db);
	}
	return 0;
}

int am_pb_summary_read(sqlite3 *db, int64_t now_ns, am_pb_summary *out, am_err *err)
{
	const char *doing = "reading the batches' summary";
	memset(out, 0, sizeof *out);
	out->left_ns = -1;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(
	    db,
	    "SELECT (SELECT count(*) FROM provider_batches WHERE state NOT IN ('done', 'lost')), "
	    "(SELECT coalesce(sum(requests), 0) FROM provider_batches WHERE state NOT IN ('done', "
	    "'lost')), "
	    "(SELECT coalesce(sum(processing), 0) FROM provider_batches WHERE state NOT IN "
	    "('done', 'lost')), "
	    "(SELECT coalesce(sum(succeeded), 0) FROM provider_batches WHERE state NOT IN "
	    "('done', 'lost')), "
	    "(SELECT coalesce(sum(errored), 0) FROM provider_batches WHERE state NOT IN ('done', "
	    "'lost')), "
	    "(SELECT coalesce(sum(expired), 0) FROM provider_batches WHERE state NOT IN ('done', "
	    "'lost')), "
	    "(SELECT coalesce(sum(canceled), 0) FROM provider_batches WHERE state NOT IN "
	    "('done', 'lost')), "
	    "(SELECT coalesce(min(coalesce(created_ns, intent_ns)), 0) FROM provider_batches "
	    "WHERE state NOT IN ('done', 'lost')), "
	    "(SELECT avg(d) FROM (SELECT ended_ns - created_ns AS d FROM provider_batches WHERE "
	    "ended_ns IS NOT NULL AND created_ns IS NOT NULL ORDER BY id DESC LIMIT 20)), "
	    "(SELECT coalesce(sum(u.cost_pusd), 0) FROM provider_batch_jobs l JOIN usage_events u "
	    "ON u.job_id = l.job_id WHERE l.outcome = 'succeeded'), "
	    "(SELECT coalesce(sum(l.realtime_pusd), 0) FROM provider_batch_jobs l WHERE "
	    "l.outcome = 'succeeded')",
	    -1, &st, NULL);
	if (rc != SQLITE_OK) {
		sqlite3_finalize(st);
		/* An older ledger has no batches. */
		if (strstr(sqlite3_errmsg(db), "no such table"))
			return 0;
		return fail(db, rc, doing, err);
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		int64_t *f[] = { &out->open, &out->requests, &out->processing, &out->succeeded,
			         &out->errored, &out->expired, &out->canceled, &out->oldest_ns };
		for (int i = 0; i < 8; i++)
			*f[i] = sqlite3_column_int64(st, i);
		if (out->open && sqlite3_column_type(st, 8) != SQLITE_NULL) {
			int64_t avg = (int64_t)sqlite3_column_double(st, 8);
			int64_t age = now_ns - out->oldest_ns;
			out->left_ns = avg > age ? avg - age : 0;
		}
		out->cost_pusd = sqlite3_column_int64(st, 9);
		out->saved_pusd = sqlite3_column_int64(st, 10) - out->cost_pusd;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : fail(db, rc, doing, err);
}

int am_pb_job_in_open_batch(sqlite3 *db, int64_t id, am_err *err)
{
	const char *doing = "looking for a job in the batches";
	sqlite3_stmt *st = prep(db,
	                        "SELECT 1 FROM provider_batch_jobs l JOIN provider_batches b ON "
	                        "b.id = l.batch WHERE l.job_id = ? AND l.outcome IS NULL AND "
	                        "b.state NOT IN ('done', 'lost')",
	                        doing, err);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : fail(db, rc, doing, err);
}
