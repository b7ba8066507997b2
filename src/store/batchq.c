/* batchq: the batch runner's reads of the queue, see batchq.h. */
#include "batchq.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "ledger.h"

void am_queue_batch_key(const char *line, size_t len, int64_t lineno,
                        char out[AM_QUEUE_BATCH_KEY_MAX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_Digest(line, len, md, &mdlen, EVP_sha256(), NULL);
	int n = snprintf(out, AM_QUEUE_BATCH_KEY_MAX, "b1:");
	for (int i = 0; i < 16; i++)
		n += snprintf(out + n, (size_t)(AM_QUEUE_BATCH_KEY_MAX - n), "%02x", md[i]);
	snprintf(out + n, (size_t)(AM_QUEUE_BATCH_KEY_MAX - n), ":%" PRId64, lineno);
}

static int fail(sqlite3 *db, int rc, const char *doing, am_err *err)
{
	return am_ledger_sqlite_error(db, rc, doing, err);
}

/* A run's own jobs: a table of their ids in the connection's temporary
 * database (seen by no other connection, gone when it closes), so that a
 * run counts exactly the jobs it queued or took over, whatever ids other
 * runs' jobs got in between. */
struct am_queue_run {
	sqlite3 *db;
	char name[32];
	char table[40];
	sqlite3_stmt *add;
};

const char *am_queue_run_table(const am_queue_run *r)
{
	return r->table;
}

sqlite3 *am_queue_run_db(const am_queue_run *r)
{
	return r->db;
}

am_queue_run *am_queue_run_new(sqlite3 *db, am_err *err)
{
	static _Atomic unsigned long next;
	am_queue_run *r = calloc(1, sizeof *r);
	if (!r) {
		am_err_set(err, "out of memory");
		return NULL;
	}
	r->db = db;
	snprintf(r->name, sizeof r->name, "am_run_%lu", (unsigned long)++next);
	snprintf(r->table, sizeof r->table, "temp.%s", r->name);
	char sql[128];
	snprintf(sql, sizeof sql, "CREATE TEMP TABLE %s(id INTEGER PRIMARY KEY)", r->name);
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	if (rc == SQLITE_OK) {
		snprintf(sql, sizeof sql, "INSERT OR IGNORE INTO temp.%s(id) VALUES(?)", r->name);
		rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &r->add, NULL);
	}
	if (rc != SQLITE_OK) {
		fail(db, rc, "noting the jobs of a batch", err);
		am_queue_run_free(r);
		return NULL;
	}
	return r;
}

void am_queue_run_free(am_queue_run *r)
{
	if (!r)
		return;
	sqlite3_finalize(r->add);
	char sql[64];
	snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS temp.%s", r->name);
	sqlite3_exec(r->db, sql, NULL, NULL, NULL);
	free(r);
}

int am_queue_run_add(am_queue_run *r, int64_t id, am_err *err)
{
	sqlite3_bind_int64(r->add, 1, id);
	int rc = sqlite3_step(r->add);
	sqlite3_reset(r->add);
	return rc == SQLITE_DONE ? 0 : fail(r->db, rc, "noting the jobs of a batch", err);
}

/* Runs "<select> FROM temp.<the run's table> r <rest>". */
static int run_count(am_queue_run *r, const char *select, const char *rest, am_queue_tally *t,
                     bool by_state, am_err *err)
{
	char sql[256];
	snprintf(sql, sizeof sql, "%s FROM temp.%s r %s", select, r->name, rest);
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(r->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return fail(r->db, rc, "counting the jobs of a batch", err);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!by_state) {
			t->cost_pusd = sqlite3_column_int64(st, 0);
			continue;
		}
		am_job_state s;
		int64_t n = sqlite3_column_int64(st, 1);
		if (am_job_state_parse((const char *)sqlite3_column_text(st, 0), &s))
			t->unfinished += n; /* the schema's CHECK allows no other state */
		else if (s == AM_JOB_DONE)
			t->done += n;
		else if (s == AM_JOB_FAILED || s == AM_JOB_CANCELLED)
			t->failed += n;
		else if (s == AM_JOB_BLOCKED_BUDGET)
			t->blocked += n;
		else
			t->unfinished += n;
	}
	if (rc != SQLITE_DONE)
		fail(r->db, rc, "counting the jobs of a batch", err);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int am_queue_run_tally(am_queue_run *r, am_queue_tally *out, am_err *err)
{
	memset(out, 0, sizeof *out);
	if (run_count(r, "SELECT j.state, count(*)", "JOIN jobs j ON j.id = r.id GROUP BY j.state",
	              out, true, err))
		return -1;
	return run_count(r, "SELECT coalesce(sum(u.cost_pusd),0)",
	                 "JOIN usage_events u ON u.job_id = r.id", out, false, err);
}

struct am_queue_outcomes {
	sqlite3 *db;
	sqlite3_stmt *st;
};

am_queue_outcomes *am_queue_outcomes_new(sqlite3 *db, am_err *err)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v3(db,
	                            "SELECT j.state, j.model, j.error, j.result, u.input_tokens, "
	                            "u.output_tokens, u.cache_write_5m, u.cache_write_1h, "
	                            "u.cache_read, u.cost_pusd, u.price_known, u.cached, u.model "
	                            "FROM jobs j LEFT JOIN usage_events u ON u.job_id = j.id "
	                            "WHERE j.id = ?",
	                            -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
	if (rc != SQLITE_OK) {
		fail(db, rc, "reading the outcomes of jobs", err);
		return NULL;
	}
	am_queue_outcomes *r = calloc(1, sizeof *r);
	if (!r) {
		sqlite3_finalize(st);
		am_err_set(err, "out of memory");
		return NULL;
	}
	r->db = db;
	r->st = st;
	return r;
}

void am_queue_outcomes_free(am_queue_outcomes *r)
{
	if (!r)
		return;
	sqlite3_finalize(r->st);
	free(r);
}

int am_queue_outcome(am_queue_outcomes *r, int64_t id, am_job_outcome *out, am_err *err)
{
	sqlite3_stmt *st = r->st;
	memset(out, 0, sizeof *out);
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW)
		return fail(r->db, rc, "reading the outcome of a job", err);
	const char *state = (const char *)sqlite3_column_text(st, 0);
	if (am_job_state_parse(state, &out->state))
		return am_err_set(err, "job %" PRId64 " has an unknown state '%s'", id,
		                  state ? state : "");
	out->model = (const char *)sqlite3_column_text(st, 12);
	if (!out->model)
		out->model = (const char *)sqlite3_column_text(st, 1);
	out->error = (const char *)sqlite3_column_text(st, 2);
	out->result = (const char *)sqlite3_column_text(st, 3);
	if (sqlite3_column_type(st, 4) != SQLITE_NULL) {
		out->has_usage = true;
		out->usage.input_tokens = sqlite3_column_int64(st, 4);
		out->usage.output_tokens = sqlite3_column_int64(st, 5);
		out->usage.cache_write_5m = sqlite3_column_int64(st, 6);
		out->usage.cache_write_1h = sqlite3_column_int64(st, 7);
		out->usage.cache_read = sqlite3_column_int64(st, 8);
		out->cost_pusd = sqlite3_column_int64(st, 9);
		out->price_known = sqlite3_column_int(st, 10);
		out->cached = sqlite3_column_int(st, 11);
	}
	return 1;
}
