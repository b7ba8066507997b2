/* cache_schema: the exact DDL of cache_entries (issue 5's schema). */
#include "cache_schema.h"

#include <stdio.h>

static const char ddl[] =
	"CREATE TABLE cache_entries("
	"key BLOB PRIMARY KEY, model TEXT NOT NULL, response TEXT NOT NULL, "
	"input_tokens INTEGER NOT NULL DEFAULT 0, output_tokens INTEGER NOT NULL DEFAULT 0, "
	"cache_write_5m INTEGER NOT NULL DEFAULT 0, cache_write_1h INTEGER NOT NULL DEFAULT 0, "
	"cache_read INTEGER NOT NULL DEFAULT 0, cost_pusd INTEGER NOT NULL DEFAULT 0, "
	"bytes INTEGER NOT NULL, created_ns INTEGER NOT NULL, last_used_ns INTEGER NOT NULL, "
	"expires_ns INTEGER NOT NULL, hits INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX cache_entries_last_used ON cache_entries(last_used_ns);";

sqlite3 *am_test_cache_db(void)
{
	sqlite3 *db = NULL;
	char *msg = NULL;
	if (sqlite3_open(":memory:", &db) != SQLITE_OK ||
	    sqlite3_exec(db, ddl, NULL, NULL, &msg) != SQLITE_OK) {
		fprintf(stderr, "cache_schema: %s\n", msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		sqlite3_close(db);
		return NULL;
	}
	return db;
}
