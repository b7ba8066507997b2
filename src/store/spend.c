/* spend: the ledger reads that keep a running budget in step (spend.h). */
#include "spend.h"

#include <sqlite3.h>

int am_spend_rows_after(am_ledger *l, int64_t after, int max, am_spend_row_fn fn, void *ctx,
                        am_err *err)
{
	static const char sql[] =
	        "SELECT id, day, ts_ns, model, input_tokens, output_tokens, cache_write_5m,"
	        " cache_write_1h, cache_read, cost_pusd, price_known, tag FROM usage_events"
	        " WHERE id > ?1 ORDER BY id LIMIT ?2";
	sqlite3 *db = am_ledger_db(l);
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return am_ledger_sqlite_error(db, rc, "reading other processes' calls", err);
	sqlite3_bind_int64(st, 1, after);
	sqlite3_bind_int(st, 2, max);
	int rows = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		am_spend_row r;
		r.id = sqlite3_column_int64(st, 0);
		r.day = (const char *)sqlite3_column_text(st, 1);
		r.ts_ns = sqlite3_column_int64(st, 2);
		r.model = (const char *)sqlite3_column_text(st, 3);
		r.usage = (am_usage){ .input_tokens = sqlite3_column_int64(st, 4),
		                      .output_tokens = sqlite3_column_int64(st, 5),
		                      .cache_write_5m = sqlite3_column_int64(st, 6),
		                      .cache_write_1h = sqlite3_column_int64(st, 7),
		                      .cache_read = sqlite3_column_int64(st, 8) };
		r.cost_pusd = sqlite3_column_int64(st, 9);
		r.price_known = sqlite3_column_int(st, 10) != 0;
		r.tag = (const char *)sqlite3_column_text(st, 11);
		rows++;
		fn(ctx, &r);
	}
	if (rc != SQLITE_DONE) {
		am_ledger_sqlite_error(db, rc, "reading other processes' calls", err);
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return rows;
}

int am_spend_marked(am_ledger *l, int64_t *mark, int (*fn)(void *ctx, am_err *err), void *ctx,
                    am_err *err)
{
	sqlite3 *db = am_ledger_db(l);
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, "SELECT coalesce(max(id), 0) FROM usage_events", -1, &st,
		                        NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		*mark = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_OK)
		am_ledger_sqlite_error(db, rc, "reading today's spend", err);
	sqlite3_finalize(st);
	if (rc == SQLITE_OK && fn(ctx, err))
		rc = SQLITE_ERROR;
	if (rc != SQLITE_OK) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	if ((rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK) {
		am_ledger_sqlite_error(db, rc, "reading today's spend", err);
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}

int am_spend_recent(am_ledger *l, int64_t since_ns, int64_t upto,
                    void (*fn)(void *ctx, int64_t ts_ns, int64_t cost_pusd), void *ctx,
                    am_err *err)
{
	sqlite3 *db = am_ledger_db(l);
	sqlite3_stmt *st = NULL;
	/* "+id" keeps the planner off the rowid range, which would walk the
	 * whole ledger from its first row; the hour is found by the ts index. */
	int rc = sqlite3_prepare_v2(db,
	                            "SELECT ts_ns, cost_pusd FROM usage_events"
	                            " WHERE ts_ns >= ?1 AND cost_pusd > 0 AND +id <= ?2",
	                            -1, &st, NULL);
	if (rc != SQLITE_OK)
		return am_ledger_sqlite_error(db, rc, "reading the last hour's spend", err);
	sqlite3_bind_int64(st, 1, since_ns);
	sqlite3_bind_int64(st, 2, upto);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fn(ctx, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1));
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return am_ledger_sqlite_error(db, rc, "reading the last hour's spend", err);
	return 0;
}

int64_t am_spend_last_row(am_ledger *l)
{
	return sqlite3_last_insert_rowid(am_ledger_db(l));
}
