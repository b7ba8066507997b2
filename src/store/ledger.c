/* ledger: the SQLite store behind every figure aimeter shows.
 *
 * Design notes.
 * - Schema. Versioned by PRAGMA user_version. migrations[i] takes a database
 *   from version i to i+1; a later version appends one entry and bumps
 *   AM_LEDGER_SCHEMA_VERSION. Opening runs the missing steps in one
 *   BEGIN IMMEDIATE transaction, re-reading the version inside it so that
 *   two processes opening a fresh file at once migrate it exactly once.
 * - Reports. usage_daily holds one row per (local day, model) with exact
 *   integer sums, kept by triggers on usage_events (insert, delete and
 *   update, so hand edits with sqlite3 keep it true). "Today's spend per
 *   model" then reads a handful of rows whatever the size of the ledger.
 *   SQLite's integer `+` turns into a REAL on overflow; the CHECK on
 *   usage_daily refuses that, so a total past int64 fails the write instead
 *   of silently rounding. SUM() raises "integer overflow" itself.
 * - Statements are prepared once per connection (SQLITE_PREPARE_PERSISTENT)
 *   and reset after each use; a connection is used by one thread
 *   (SQLITE_OPEN_NOMUTEX).
 * - Writes: BEGIN IMMEDIATE takes the write lock up front, so a busy
 *   database waits in the busy handler rather than failing a read-to-write
 *   upgrade. Inside a caller's am_ledger_begin, writes use a savepoint. */
#include "ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "paths.h"
#include "tag.h"

/* ---- schema --------------------------------------------------------------- */

/* The sums a summary row keeps of an event (R is NEW or OLD): its values
 * in column order after the key and `requests`, and the SET lists that add
 * a new row's values (excluded.*) or take R's away. */
#define SUM_VALUES(R)                                                                  \
	R ".input_tokens, " R ".output_tokens, " R ".cache_write_5m, " R ".cache_write_1h, " \
	R ".cache_read, coalesce(" R ".cost_pusd, 0), " R ".price_known = 0, "              \
	R ".cached != 0, " R ".saved_pusd"
#define SUM_ADD                                                                        \
	"requests = requests + 1, "                                                           \
	"input_tokens = input_tokens + excluded.input_tokens, "                               \
	"output_tokens = output_tokens + excluded.output_tokens, "                            \
	"cache_write_5m = cache_write_5m + excluded.cache_write_5m, "                         \
	"cache_write_1h = cache_write_1h + excluded.cache_write_1h, "                         \
	"cache_read = cache_read + excluded.cache_read, "                                     \
	"cost_pusd = cost_pusd + excluded.cost_pusd, "                                        \
	"unknown_count = unknown_count + excluded.unknown_count, "                            \
	"cached = cached + excluded.cached, "                                                 \
	"saved_pusd = saved_pusd + excluded.saved_pusd"
#define SUM_SUB(R)                                                                     \
	"requests = requests - 1, "                                                           \
	"input_tokens = input_tokens - " R ".input_tokens, "                                  \
	"output_tokens = output_tokens - " R ".output_tokens, "                               \
	"cache_write_5m = cache_write_5m - " R ".cache_write_5m, "                            \
	"cache_write_1h = cache_write_1h - " R ".cache_write_1h, "                            \
	"cache_read = cache_read - " R ".cache_read, "                                        \
	"cost_pusd = cost_pusd - coalesce(" R ".cost_pusd, 0), "                              \
	"unknown_count = unknown_count - (" R ".price_known = 0), "                          \
	"cached = cached - (" R ".cached != 0), "                                             \
	"saved_pusd = saved_pusd - " R ".saved_pusd"

/* A summary table's sum columns (after its key) and the CHECK that keeps
 * them integers (SQLite's `+` turns to REAL on overflow). */
#define SUM_COLUMNS                                                                    \
	"  requests INTEGER NOT NULL,\n"                                                    \
	"  input_tokens INTEGER NOT NULL,\n"                                                \
	"  output_tokens INTEGER NOT NULL,\n"                                               \
	"  cache_write_5m INTEGER NOT NULL,\n"                                              \
	"  cache_write_1h INTEGER NOT NULL,\n"                                              \
	"  cache_read INTEGER NOT NULL,\n"                                                  \
	"  cost_pusd INTEGER NOT NULL,\n"                                                   \
	"  unknown_count INTEGER NOT NULL,\n"                                               \
	"  cached INTEGER NOT NULL,\n"                                                      \
	"  saved_pusd INTEGER NOT NULL,\n"
#define SUM_EXACT                                                                      \
	"CHECK(typeof(requests) = 'integer'\n"                                              \
	"    AND typeof(input_tokens) = 'integer' AND typeof(output_tokens) = 'integer'\n"  \
	"    AND typeof(cache_write_5m) = 'integer' AND typeof(cache_write_1h) = 'integer'\n" \
	"    AND typeof(cache_read) = 'integer' AND typeof(cost_pusd) = 'integer'\n"        \
	"    AND typeof(saved_pusd) = 'integer')\n"

/* The per-day summary row an event adds to or takes from (R is NEW or OLD). */
#define DAILY_ADD(R)                                                                   \
	"INSERT INTO usage_daily VALUES(" R ".day, " R ".model, 1, " SUM_VALUES(R) ") "      \
	"ON CONFLICT(day, model) DO UPDATE SET " SUM_ADD ";\n"

#define DAILY_SUB(R)                                                                   \
	"UPDATE usage_daily SET " SUM_SUB(R) " "                                              \
	"WHERE day = " R ".day AND model = " R ".model;\n"                                    \
	"DELETE FROM usage_daily WHERE day = " R ".day AND model = " R ".model "              \
	"AND requests = 0;\n"

/* The columns of a job that version 1 created and version 8 keeps (versions
 * 2, 4 and 5 added owner, source and tag). A migration's text never
 * changes once released: edit neither use of this. */
#define JOBS_COLUMNS                                                                  \
	"  state TEXT NOT NULL CHECK(state IN ('queued', 'waiting_limit', 'in_flight', 'done',\n" \
	"    'failed', 'blocked_budget', 'cancelled')),\n"                                      \
	"  request TEXT NOT NULL,\n"                                                          \
	"  model_requested TEXT,\n"                                                           \
	"  model TEXT,\n"                                                                     \
	"  reason TEXT,\n"                                                                    \
	"  attempts INTEGER NOT NULL DEFAULT 0,\n"                                            \
	"  error TEXT,\n"                                                                     \
	"  result TEXT,\n"                                                                    \
	"  created_ns INTEGER NOT NULL,\n"                                                    \
	"  updated_ns INTEGER NOT NULL"

static const char *const schema_v1[] = {
	"CREATE TABLE usage_events(\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  job_id INTEGER UNIQUE,\n"
	"  ts_ns INTEGER NOT NULL,\n"
	"  day TEXT NOT NULL,\n"
	"  model_requested TEXT,\n"
	"  model TEXT NOT NULL,\n"
	"  reason TEXT,\n"
	"  input_tokens INTEGER NOT NULL DEFAULT 0,\n"
	"  output_tokens INTEGER NOT NULL DEFAULT 0,\n"
	"  cache_write_5m INTEGER NOT NULL DEFAULT 0,\n"
	"  cache_write_1h INTEGER NOT NULL DEFAULT 0,\n"
	"  cache_read INTEGER NOT NULL DEFAULT 0,\n"
	"  cost_pusd INTEGER,\n"
	"  price_known INTEGER NOT NULL,\n"
	"  batch INTEGER NOT NULL DEFAULT 0,\n"
	"  cached INTEGER NOT NULL DEFAULT 0,\n"
	"  saved_pusd INTEGER NOT NULL DEFAULT 0,\n"
	"  latency_ms INTEGER,\n"
	"  http_status INTEGER,\n"
	"  request_id TEXT,\n"
	"  error TEXT,\n"
	"  source TEXT\n"
	");\n",
	"CREATE INDEX usage_events_ts ON usage_events(ts_ns);\n",
	"CREATE TABLE usage_daily(\n"
	"  day TEXT NOT NULL,\n"
	"  model TEXT NOT NULL,\n"
	SUM_COLUMNS
	"  PRIMARY KEY(day, model),\n"
	"  CONSTRAINT usage_daily_exact " SUM_EXACT
	") WITHOUT ROWID;\n",
	"CREATE TRIGGER usage_daily_ins AFTER INSERT ON usage_events BEGIN\n"
	DAILY_ADD("NEW")
	"END;\n",
	"CREATE TRIGGER usage_daily_del AFTER DELETE ON usage_events BEGIN\n"
	DAILY_SUB("OLD")
	"END;\n",
	"CREATE TRIGGER usage_daily_upd AFTER UPDATE OF day, model, input_tokens, output_tokens,\n"
	"  cache_write_5m, cache_write_1h, cache_read, cost_pusd, price_known, cached, saved_pusd\n"
	"  ON usage_events BEGIN\n"
	DAILY_SUB("OLD")
	DAILY_ADD("NEW")
	"END;\n",
	/* AUTOINCREMENT: a job id is never reused, even after old jobs are
	 * purged, because the ledger's idempotency is keyed on it. */
	"CREATE TABLE jobs(\n"
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"  batch_key TEXT UNIQUE,\n"
	JOBS_COLUMNS "\n"
	");\n",
	"CREATE INDEX jobs_state ON jobs(state);\n",
	"CREATE TABLE settings(\n"
	"  key TEXT PRIMARY KEY,\n"
	"  value TEXT NOT NULL,\n"
	"  updated_ns INTEGER NOT NULL\n"
	");\n",
	"CREATE TABLE cache_entries(\n"
	"  key BLOB PRIMARY KEY,\n"
	"  model TEXT NOT NULL,\n"
	"  response TEXT NOT NULL,\n"
	"  input_tokens INTEGER NOT NULL DEFAULT 0,\n"
	"  output_tokens INTEGER NOT NULL DEFAULT 0,\n"
	"  cache_write_5m INTEGER NOT NULL DEFAULT 0,\n"
	"  cache_write_1h INTEGER NOT NULL DEFAULT 0,\n"
	"  cache_read INTEGER NOT NULL DEFAULT 0,\n"
	"  cost_pusd INTEGER NOT NULL DEFAULT 0,\n"
	"  bytes INTEGER NOT NULL,\n"
	"  created_ns INTEGER NOT NULL,\n"
	"  last_used_ns INTEGER NOT NULL,\n"
	"  expires_ns INTEGER NOT NULL,\n"
	"  hits INTEGER NOT NULL DEFAULT 0\n"
	");\n",
	"CREATE INDEX cache_entries_last_used ON cache_entries(last_used_ns);\n",
	"CREATE INDEX cache_entries_expiry ON cache_entries(expires_ns);\n",
	NULL,
};

/* Version 2: jobs.owner, the process that sends the job ("<pid>:<start
 * ticks>", see owner.h; NULL = nobody, so the jobs of a v1 file are anyone's
 * to take). No index: every query that reads it also filters on state,
 * which jobs_state serves. */
static const char *const schema_v2[] = {
	"ALTER TABLE jobs ADD COLUMN owner TEXT;\n",
	NULL,
};

/* ---- schema v3: every billed dimension of a call ------------------------- */

/* Version 3: what a call was billed for beyond its tokens, so that any row
 * can be priced again: what was served (speed, inference_geo,
 * service_tier; NULL = the response did not say), the server-tool counts,
 * and `estimated` (the answer was cut short: the counts are what arrived).
 * Rows of a v2 file read as standard, unreported, no tools. */
static const char *const schema_v3[] = {
	"ALTER TABLE usage_events ADD COLUMN speed TEXT;\n",
	"ALTER TABLE usage_events ADD COLUMN inference_geo TEXT;\n",
	"ALTER TABLE usage_events ADD COLUMN service_tier TEXT;\n",
	"ALTER TABLE usage_events ADD COLUMN web_search_requests INTEGER NOT NULL DEFAULT 0;\n",
	"ALTER TABLE usage_events ADD COLUMN web_fetch_requests INTEGER NOT NULL DEFAULT 0;\n",
	"ALTER TABLE usage_events ADD COLUMN code_execution_requests INTEGER NOT NULL DEFAULT 0;\n",
	"ALTER TABLE usage_events ADD COLUMN estimated INTEGER NOT NULL DEFAULT 0;\n",
	NULL,
};

/* ---- schema v4: whose kind of run a job is; the estimated rows ----------- */

/* The estimated-row count of an event's day and model that an event adds to
 * (when R.estimated) or takes from. */
#define ESTIMATED_ADD(R)                                                               \
	"INSERT INTO usage_estimated SELECT " R ".day, " R ".model, 1 WHERE "                \
	R ".estimated != 0 ON CONFLICT(day, model) DO UPDATE SET requests = requests + 1;\n"
#define ESTIMATED_SUB(R)                                                               \
	"UPDATE usage_estimated SET requests = requests - 1 WHERE " R ".estimated != 0 "      \
	"AND day = " R ".day AND model = " R ".model;\n"                                      \
	"DELETE FROM usage_estimated WHERE day = " R ".day AND model = " R ".model "          \
	"AND requests = 0;\n"

/* Version 4: jobs.source, the kind of run that queued the job (ask, batch,
 * console; NULL = a v3 job, any kind's): a job abandoned by a dead process
 * is taken again only by a run of its own kind (queue.c), and an `ask`
 * job by none. And usage_estimated, kept by triggers like usage_daily:
 * per local day and model, the events cut short (estimated), so that a
 * report counts them without reading usage_events (and an exact event,
 * the usual one, runs none of their statements). A v3 file has none
 * (nothing set the flag before this version). */
static const char *const schema_v4[] = {
	"ALTER TABLE jobs ADD COLUMN source TEXT;\n",
	"CREATE TABLE usage_estimated(\n"
	"  day TEXT NOT NULL,\n"
	"  model TEXT NOT NULL,\n"
	"  requests INTEGER NOT NULL,\n"
	"  PRIMARY KEY(day, model)\n"
	") WITHOUT ROWID;\n",
	"CREATE TRIGGER usage_estimated_ins AFTER INSERT ON usage_events\n"
	"WHEN NEW.estimated != 0 BEGIN\n"
	ESTIMATED_ADD("NEW")
	"END;\n",
	"CREATE TRIGGER usage_estimated_del AFTER DELETE ON usage_events\n"
	"WHEN OLD.estimated != 0 BEGIN\n"
	ESTIMATED_SUB("OLD")
	"END;\n",
	"CREATE TRIGGER usage_estimated_upd AFTER UPDATE OF day, model, estimated ON usage_events\n"
	"WHEN OLD.estimated != 0 OR NEW.estimated != 0 BEGIN\n"
	ESTIMATED_SUB("OLD")
	ESTIMATED_ADD("NEW")
	"END;\n",
	NULL,
};

/* ---- schema v5: tags, the kind of run, the key a proxied call used ------ */

/* The per-day-per-tag row a tagged event adds to or takes from (R is NEW or
 * OLD; the INSERT's WHERE skips an untagged one). Untagged events have no
 * rows here: a report derives them as the day's total (usage_daily) less
 * the tags' sums, so the usual untagged call runs none of these statements
 * and the tags add up to the total by construction. */
#define TAG_ADD(R)                                                                     \
	"INSERT INTO usage_tag_daily SELECT " R ".day, " R ".tag, 1, " SUM_VALUES(R) ", "    \
	R ".estimated != 0 WHERE " R ".tag IS NOT NULL "                                     \
	"ON CONFLICT(day, tag) DO UPDATE SET " SUM_ADD ", "                                   \
	"estimated = estimated + excluded.estimated;\n"

#define TAG_SUB(R)                                                                     \
	"UPDATE usage_tag_daily SET " SUM_SUB(R) ", "                                         \
	"estimated = estimated - (" R ".estimated != 0) "                                     \
	"WHERE day = " R ".day AND tag = " R ".tag;\n"                                        \
	"DELETE FROM usage_tag_daily WHERE day = " R ".day AND tag = " R ".tag "              \
	"AND requests = 0;\n"

/* Version 5: usage_events.tag (NULL = untagged), usage_events.key_hint (the
 * last four characters of the API key a proxied call used; NULL otherwise)
 * and jobs.tag, carried from the queued job to its event. usage_tag_daily
 * keeps, per local day and tag, the sums usage_daily keeps per model (and
 * the estimated count), so that `report --by tag` and a tag's daily budget
 * read a handful of rows at any ledger size. A v4 file has no tagged rows:
 * nothing to fill in. */
static const char *const schema_v5[] = {
	"ALTER TABLE usage_events ADD COLUMN tag TEXT;\n",
	"ALTER TABLE usage_events ADD COLUMN key_hint TEXT;\n",
	"ALTER TABLE jobs ADD COLUMN tag TEXT;\n",
	"CREATE TABLE usage_tag_daily(\n"
	"  day TEXT NOT NULL,\n"
	"  tag TEXT NOT NULL,\n"
	SUM_COLUMNS
	"  estimated INTEGER NOT NULL,\n"
	"  PRIMARY KEY(day, tag),\n"
	"  CONSTRAINT usage_tag_daily_exact " SUM_EXACT
	") WITHOUT ROWID;\n",
	"CREATE TRIGGER usage_tag_daily_ins AFTER INSERT ON usage_events\n"
	"WHEN NEW.tag IS NOT NULL BEGIN\n"
	TAG_ADD("NEW")
	"END;\n",
	"CREATE TRIGGER usage_tag_daily_del AFTER DELETE ON usage_events\n"
	"WHEN OLD.tag IS NOT NULL BEGIN\n"
	TAG_SUB("OLD")
	"END;\n",
	"CREATE TRIGGER usage_tag_daily_upd AFTER UPDATE OF day, tag, input_tokens, output_tokens,\n"
	"  cache_write_5m, cache_write_1h, cache_read, cost_pusd, price_known, cached, saved_pusd,\n"
	"  estimated ON usage_events\n"
	"WHEN OLD.tag IS NOT NULL OR NEW.tag IS NOT NULL BEGIN\n"
	TAG_SUB("OLD")
	TAG_ADD("NEW")
	"END;\n",
	NULL,
};

/* Message Batches: the provider's batches this ledger submitted, and which
 * job went in which. A batch's row is written (state 'submitting', with its
 * jobs) before the submit goes out, so that a submit whose answer was lost
 * is looked for in the provider's list before its jobs are sent again. */
static const char *const schema_v6[] = {
	"CREATE TABLE provider_batches(\n"
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"  provider_id TEXT UNIQUE,\n"
	"  state TEXT NOT NULL CHECK(state IN ('submitting', 'in_progress', 'canceling',\n"
	"    'ended', 'done', 'lost')),\n"
	"  base_url TEXT NOT NULL,\n"
	"  owner TEXT,\n"
	"  requests INTEGER NOT NULL,\n"
	"  bytes INTEGER NOT NULL,\n"
	"  intent_ns INTEGER NOT NULL,\n"
	"  created_ns INTEGER,\n"
	"  ended_ns INTEGER,\n"
	"  expires_ns INTEGER,\n"
	"  processing INTEGER NOT NULL DEFAULT 0,\n"
	"  succeeded INTEGER NOT NULL DEFAULT 0,\n"
	"  errored INTEGER NOT NULL DEFAULT 0,\n"
	"  canceled INTEGER NOT NULL DEFAULT 0,\n"
	"  expired INTEGER NOT NULL DEFAULT 0,\n"
	"  results_url TEXT,\n"
	"  updated_ns INTEGER NOT NULL\n"
	");\n",
	"CREATE INDEX provider_batches_state ON provider_batches(state);\n",
	"CREATE TABLE provider_batch_jobs(\n"
	"  batch INTEGER NOT NULL REFERENCES provider_batches(id),\n"
	"  job_id INTEGER NOT NULL REFERENCES jobs(id),\n"
	"  reserved_pusd INTEGER NOT NULL,\n"
	"  realtime_pusd INTEGER,\n"
	"  outcome TEXT CHECK(outcome IN ('succeeded', 'errored', 'canceled', 'expired',\n"
	"    'missing', 'lost')),\n"
	"  PRIMARY KEY(batch, job_id)\n"
	") WITHOUT ROWID;\n",
	"CREATE INDEX provider_batch_jobs_job ON provider_batch_jobs(job_id);\n",
	NULL,
};

/* Version 7: the console's memory (memo.c): the lines typed on its input
 * line and the exchanges of the conversation in progress, each table
 * capped by its writer. */
static const char *const schema_v7[] = {
	"CREATE TABLE console_inputs(\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  text TEXT NOT NULL,\n"
	"  at_ns INTEGER NOT NULL\n"
	");\n",
	"CREATE TABLE console_turns(\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  user TEXT NOT NULL,\n"
	"  assistant TEXT NOT NULL,\n"
	"  summary TEXT NOT NULL,\n"
	"  tokens INTEGER NOT NULL,\n"
	"  cost_pusd INTEGER NOT NULL,\n"
	"  price_known INTEGER NOT NULL,\n"
	"  at_ns INTEGER NOT NULL\n"
	");\n",
	NULL,
};

/* Version 8: the jobs table rebuilt for the write every call waits for. A
 * call goes out only once its job's row is committed, and each page the
 * insert touches is a page the commit writes to the log. Version 1's table
 * touched four: the table, the index behind batch_key's UNIQUE (which
 * holds every NULL key too), jobs_state, and AUTOINCREMENT's
 * sqlite_sequence row. Now the batch-key index holds batch jobs only, and
 * ids come from INTEGER PRIMARY KEY alone (the largest id plus one): no
 * code deletes a job, so the largest id never goes away and no id is
 * handed out twice, which the ledger's idempotency by job id relies on.
 * Ids are copied as they are. Rebuilding a table that others reference is
 * done with foreign keys off (migrate() turns them off around the
 * migration and checks them before it commits). */
static const char *const schema_v8[] = {
	"CREATE TABLE jobs_v8(\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  batch_key TEXT,\n"
	JOBS_COLUMNS ",\n"
	"  owner TEXT,\n"
	"  source TEXT,\n"
	"  tag TEXT\n"
	");\n",
	"INSERT INTO jobs_v8(id, batch_key, state, request, model_requested, model, reason,\n"
	"  attempts, error, result, created_ns, updated_ns, owner, source, tag)\n"
	"SELECT id, batch_key, state, request, model_requested, model, reason, attempts, error,\n"
	"  result, created_ns, updated_ns, owner, source, tag FROM jobs;\n",
	"DROP TABLE jobs;\n",
	"ALTER TABLE jobs_v8 RENAME TO jobs;\n",
	"CREATE INDEX jobs_state ON jobs(state);\n",
	"CREATE UNIQUE INDEX jobs_batch_key ON jobs(batch_key) WHERE batch_key IS NOT NULL;\n",
	"DELETE FROM sqlite_sequence WHERE name = 'jobs';\n",
	NULL,
};

/* migrations[i] brings a database from version i to i + 1: its statements,
 * NULL-terminated, run in one transaction. */
static const char *const *const migrations[] = {
	schema_v1,
	schema_v2,
	schema_v3,
	schema_v4,
	schema_v5,
	schema_v6,
	schema_v7,
	schema_v8,
};

_Static_assert(sizeof migrations / sizeof migrations[0] == AM_LEDGER_SCHEMA_VERSION,
               "one migration per schema version");

/* ---- statements ------------------------------------------------------------ */

enum stmt_id {
	ST_BEGIN, ST_COMMIT, ST_ROLLBACK, ST_SAVEPOINT, ST_RELEASE, ST_ROLLBACK_TO,
	ST_INSERT_EVENT, ST_INSERT_EVENT_V3, ST_INSERT_EVENT_V2, ST_REWRITE_EVENT,
	ST_FORGET_EVENT,
	ST_REPORT, ST_REPORT_BY_DAY, ST_ESTIMATED, ST_SPEND, ST_DAY_TOTAL,
	ST_TAGS, ST_TAGS_BY_DAY, ST_TAG_TOTAL, ST_TAG_TOTAL_BY_DAY, ST_TAG_SPEND,
	ST_SETTING_GET, ST_SETTING_SET, ST_SETTING_DEL, ST_SETTINGS_ALL,
	ST_COUNT
};

#define DAILY_SUMS                                                                  \
	"SUM(requests), SUM(input_tokens), SUM(output_tokens), SUM(cache_write_5m), "     \
	"SUM(cache_write_1h), SUM(cache_read), SUM(cost_pusd), SUM(unknown_count), "      \
	"SUM(cached), SUM(saved_pusd)"

/* The columns of an event by the schema version that added them, and their
 * parameters (?1..?21, ?22..?28; v5's tag and key_hint are ?29, ?30). */
#define EVENT_COLS_V2                                                               \
	"job_id, ts_ns, day, model_requested, model, reason, input_tokens, output_tokens," \
	" cache_write_5m, cache_write_1h, cache_read, cost_pusd, price_known, batch,"      \
	" cached, saved_pusd, latency_ms, http_status, request_id, error, source"
#define EVENT_VALS_V2                                                               \
	"?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18," \
	" ?19, ?20, ?21"
#define EVENT_COLS_V3                                                               \
	"speed, inference_geo, service_tier, web_search_requests, web_fetch_requests,"     \
	" code_execution_requests, estimated"
#define EVENT_VALS_V3 "?22, ?23, ?24, ?25, ?26, ?27, ?28"

static const char *const stmt_sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SAVEPOINT] = "SAVEPOINT am_ledger",
	[ST_RELEASE] = "RELEASE am_ledger",
	[ST_ROLLBACK_TO] = "ROLLBACK TO am_ledger",
	[ST_INSERT_EVENT] =
		"INSERT INTO usage_events(" EVENT_COLS_V2 ", " EVENT_COLS_V3 ", tag, key_hint)"
		" VALUES(" EVENT_VALS_V2 ", " EVENT_VALS_V3 ", ?29, ?30)"
		" ON CONFLICT(job_id) DO NOTHING",
	/* A ledger kept at an older schema (am_ledger_opts.schema_version)
	 * records the columns it has. */
	[ST_INSERT_EVENT_V3] =
		"INSERT INTO usage_events(" EVENT_COLS_V2 ", " EVENT_COLS_V3 ")"
		" VALUES(" EVENT_VALS_V2 ", " EVENT_VALS_V3 ")"
		" ON CONFLICT(job_id) DO NOTHING",
	[ST_INSERT_EVENT_V2] =
		"INSERT INTO usage_events(" EVENT_COLS_V2 ")"
		" VALUES(" EVENT_VALS_V2 ")"
		" ON CONFLICT(job_id) DO NOTHING",
	/* The same columns and parameters as ST_INSERT_EVENT, for one row. */
	[ST_REWRITE_EVENT] =
		"UPDATE usage_events SET job_id = ?1, ts_ns = ?2, day = ?3, model_requested = ?4,"
		" model = ?5, reason = ?6, input_tokens = ?7, output_tokens = ?8,"
		" cache_write_5m = ?9, cache_write_1h = ?10, cache_read = ?11, cost_pusd = ?12,"
		" price_known = ?13, batch = ?14, cached = ?15, saved_pusd = ?16, latency_ms = ?17,"
		" http_status = ?18, request_id = ?19, error = ?20, source = ?21, speed = ?22,"
		" inference_geo = ?23, service_tier = ?24, web_search_requests = ?25,"
		" web_fetch_requests = ?26, code_execution_requests = ?27, estimated = ?28,"
		" tag = ?29, key_hint = ?30 WHERE id = ?31",
	[ST_FORGET_EVENT] = "DELETE FROM usage_events WHERE id = ?1",
	[ST_REPORT] = "SELECT '', model, " DAILY_SUMS " FROM usage_daily"
	              " WHERE day BETWEEN ?1 AND ?2 GROUP BY model ORDER BY model",
	[ST_REPORT_BY_DAY] = "SELECT day, model, " DAILY_SUMS " FROM usage_daily"
	                     " WHERE day BETWEEN ?1 AND ?2 GROUP BY day, model ORDER BY day, model",
	[ST_ESTIMATED] = "SELECT day, model, requests FROM usage_estimated"
	                 " WHERE day BETWEEN ?1 AND ?2",
	[ST_SPEND] = "SELECT SUM(cost_pusd), SUM(unknown_count) FROM usage_daily"
	             " WHERE day BETWEEN ?1 AND ?2",
	[ST_DAY_TOTAL] = "SELECT '', '', " DAILY_SUMS " FROM usage_daily WHERE day = ?1",
	/* By tag: the tags' rows, and the totals they are taken from (with the
	 * estimated count, which usage_daily does not keep) for the untagged. */
	[ST_TAGS] = "SELECT '', tag, " DAILY_SUMS ", SUM(estimated) FROM usage_tag_daily"
	            " WHERE day BETWEEN ?1 AND ?2 GROUP BY tag ORDER BY tag",
	[ST_TAGS_BY_DAY] = "SELECT day, tag, " DAILY_SUMS ", SUM(estimated) FROM usage_tag_daily"
	                   " WHERE day BETWEEN ?1 AND ?2 GROUP BY day, tag ORDER BY day, tag",
	[ST_TAG_TOTAL] = "SELECT '', '', " DAILY_SUMS ", (SELECT SUM(requests) FROM"
	                 " usage_estimated WHERE day BETWEEN ?1 AND ?2) FROM usage_daily"
	                 " WHERE day BETWEEN ?1 AND ?2",
	[ST_TAG_TOTAL_BY_DAY] = "SELECT d.day, '', " DAILY_SUMS ", (SELECT SUM(e.requests) FROM"
	                        " usage_estimated e WHERE e.day = d.day) FROM usage_daily d"
	                        " WHERE d.day BETWEEN ?1 AND ?2 GROUP BY d.day ORDER BY d.day",
	[ST_TAG_SPEND] = "SELECT SUM(cost_pusd), SUM(unknown_count) FROM usage_tag_daily"
	                 " WHERE tag = ?3 AND day BETWEEN ?1 AND ?2",
	[ST_SETTING_GET] = "SELECT value FROM settings WHERE key = ?1",
	[ST_SETTING_SET] = "INSERT INTO settings(key, value, updated_ns) VALUES(?1, ?2, ?3)"
	                   " ON CONFLICT(key) DO UPDATE SET value = excluded.value,"
	                   " updated_ns = excluded.updated_ns",
	[ST_SETTING_DEL] = "DELETE FROM settings WHERE key = ?1",
	[ST_SETTINGS_ALL] = "SELECT key, value, updated_ns FROM settings ORDER BY key",
};

struct am_ledger {
	sqlite3 *db;
	char *path;
	int busy_ms;
	bool readonly;
	int schema;  /* the version the file was brought to */
	sqlite3_stmt *stmt[ST_COUNT];
};

/* ---- errors ---------------------------------------------------------------- */

/* One sentence for a failed SQLite call: the database, what we were doing,
 * and the cause in words a user can act on. busy_ms < 0: unknown (another
 * module's connection). */
static int fail_at(const char *path, int busy_ms, sqlite3 *db, int rc, const char *doing,
                   am_err *err)
{
	const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		if (busy_ms < 0)
			return am_err_set(err, "ledger %s is locked by another process while %s", path,
			                  doing);
		return am_err_set(err, "ledger %s is locked by another process (waited %d ms) while %s",
		                  path, busy_ms, doing);
	case SQLITE_READONLY:
		return am_err_set(err, "ledger %s is read-only while %s (%s): check the permissions of "
		                  "the file and its directory", path, doing, msg);
	case SQLITE_NOTADB:
		return am_err_set(err, "ledger %s is not an SQLite database or is encrypted (file is "
		                  "not a database)", path);
	case SQLITE_CORRUPT:
		return am_err_set(err, "ledger %s is corrupted (%s) while %s", path, msg, doing);
	case SQLITE_FULL:
		return am_err_set(err, "disk full while %s in ledger %s (%s)", doing, path, msg);
	case SQLITE_CANTOPEN: {
		int e = db ? sqlite3_system_errno(db) : 0;
		return am_err_set(err, "cannot open ledger %s: %s", path, e ? strerror(e) : msg);
	}
	case SQLITE_IOERR:
		return am_err_set(err, "I/O error on ledger %s while %s (%s)", path, doing, msg);
	case SQLITE_CONSTRAINT:
		if (strstr(msg, "usage_daily_exact") || strstr(msg, "usage_tag_daily_exact"))
			return am_err_set(err, "ledger %s: a daily total would exceed the exact int64 range "
			                  "while %s", path, doing);
		return am_err_set(err, "ledger %s: %s while %s", path, msg, doing);
	default:
		if (strstr(msg, "integer overflow"))
			return am_err_set(err, "ledger %s: a total exceeds the exact int64 range while %s",
			                  path, doing);
		return am_err_set(err, "ledger %s: %s while %s", path, msg, doing);
	}
}

static int fail(const am_ledger *l, int rc, const char *doing, am_err *err)
{
	return fail_at(l->path, l->busy_ms, l->db, rc, doing, err);
}

int am_ledger_sqlite_error(struct sqlite3 *db, int rc, const char *doing, am_err *err)
{
	const char *path = db ? sqlite3_db_filename(db, "main") : NULL;
	return fail_at(path && *path ? path : "(in memory)", -1, db, rc, doing, err);
}

static sqlite3_stmt *stmt(am_ledger *l, enum stmt_id id, am_err *err)
{
	if (!l->stmt[id]) {
		int rc = sqlite3_prepare_v3(l->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
		                            &l->stmt[id], NULL);
		if (rc != SQLITE_OK) {
			fail(l, rc, "preparing a statement", err);
			l->stmt[id] = NULL;
			return NULL;
		}
	}
	return l->stmt[id];
}

/* Runs a statement that returns no rows, then resets it. */
static int run(am_ledger *l, enum stmt_id id, const char *doing, am_err *err)
{
	sqlite3_stmt *s = stmt(l, id, err);
	if (!s)
		return -1;
	int rc = sqlite3_step(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		fail(l, rc, doing, err);
		sqlite3_reset(s);
		return -1;
	}
	sqlite3_reset(s);
	return 0;
}

static int exec(am_ledger *l, const char *sql, const char *doing, am_err *err)
{
	int rc = sqlite3_exec(l->db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : fail(l, rc, doing, err);
}

/* Column i as an exact integer; NULL reads as 0 (SUM over no rows). */
static int col_i64(am_ledger *l, sqlite3_stmt *s, int i, int64_t *out, am_err *err)
{
	switch (sqlite3_column_type(s, i)) {
	case SQLITE_NULL:
		*out = 0;
		return 0;
	case SQLITE_INTEGER:
		*out = sqlite3_column_int64(s, i);
		return 0;
	default:
		return am_err_set(err, "ledger %s: column '%s' holds a non-integer value", l->path,
		                  sqlite3_column_name(s, i));
	}
}

/* ---- transactions ---------------------------------------------------------- */

int am_ledger_begin(am_ledger *l, am_err *err)
{
	if (!sqlite3_get_autocommit(l->db))
		return am_err_set(err, "ledger %s: a transaction is already open", l->path);
	return run(l, ST_BEGIN, "starting a transaction", err);
}

int am_ledger_commit(am_ledger *l, am_err *err)
{
	if (sqlite3_get_autocommit(l->db))
		return am_err_set(err, "ledger %s: no transaction to commit (rolled back after an "
		                  "error?)", l->path);
	if (run(l, ST_COMMIT, "committing", err)) {
		am_ledger_rollback(l);
		return -1;
	}
	return 0;
}

void am_ledger_rollback(am_ledger *l)
{
	if (!sqlite3_get_autocommit(l->db))
		run(l, ST_ROLLBACK, "rolling back", NULL);
}

/* A write unit: its own transaction, or a savepoint inside the caller's. */
static int unit_begin(am_ledger *l, bool *nested, am_err *err)
{
	*nested = !sqlite3_get_autocommit(l->db);
	return run(l, *nested ? ST_SAVEPOINT : ST_BEGIN, "starting a transaction", err);
}

static void unit_rollback(am_ledger *l, bool nested)
{
	if (sqlite3_get_autocommit(l->db))
		return; /* SQLite already rolled everything back (disk full, I/O error) */
	if (nested) {
		run(l, ST_ROLLBACK_TO, "rolling back", NULL);
		run(l, ST_RELEASE, "rolling back", NULL);
	} else {
		run(l, ST_ROLLBACK, "rolling back", NULL);
	}
}

static int unit_commit(am_ledger *l, bool nested, am_err *err)
{
	if (run(l, nested ? ST_RELEASE : ST_COMMIT, "committing", err)) {
		unit_rollback(l, nested);
		return -1;
	}
	return 0;
}

/* ---- open, migrate, close -------------------------------------------------- */

static int read_version(am_ledger *l, int *out, am_err *err)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(l->db, "PRAGMA user_version", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return fail(l, rc, "reading the schema version", err);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : fail(l, rc, "reading the schema version", err);
}

/* Version 0 must be an empty database: refuse to add our tables to some
 * other program's SQLite file that --db happened to point at. */
static int check_foreign(am_ledger *l, am_err *err)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(l->db, "SELECT count(*) FROM sqlite_master", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return fail(l, rc, "reading the schema", err);
	rc = sqlite3_step(s);
	int n = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW)
		return fail(l, rc, "reading the schema", err);
	if (n > 0)
		return am_err_set(err, "%s is an SQLite database but not an aimeter ledger (it has "
		                  "tables and no aimeter schema version)", l->path);
	return 0;
}

/* A version this build can bring forward: 0 (a new file) up to ours. A
 * negative one (PRAGMA user_version is any 32-bit integer) is no ledger
 * version at all, and must never index migrations[]. */
static int check_version(am_ledger *l, int v, am_err *err)
{
	if (v < 0)
		return am_err_set(err, "ledger %s has schema version %d, which no aimeter writes: "
		                  "it is damaged or not an aimeter ledger", l->path, v);
	if (v > AM_LEDGER_SCHEMA_VERSION)
		return am_err_set(err, "ledger %s has schema version %d, newer than this aimeter "
		                  "understands (%d): upgrade aimeter", l->path, v,
		                  AM_LEDGER_SCHEMA_VERSION);
	return 0;
}

static am_ledger_migrate_fn migrate_notice;

void am_ledger_on_migrate(am_ledger_migrate_fn fn)
{
	migrate_notice = fn;
}

/* After a migration, inside its transaction: every reference between
 * tables still finds its row. */
static int check_references(am_ledger *l, int target, am_err *err)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(l->db, "PRAGMA foreign_key_check", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return fail(l, rc, "checking references", err);
	rc = sqlite3_step(s);
	char table[64] = "";
	if (rc == SQLITE_ROW)
		snprintf(table, sizeof table, "%s",
		         sqlite3_column_text(s, 0) ? (const char *)sqlite3_column_text(s, 0) : "?");
	sqlite3_finalize(s);
	if (rc == SQLITE_ROW)
		return am_err_set(err, "ledger %s: migrating to schema version %d would leave a row of "
		                  "%s pointing at nothing; nothing was changed", l->path, target, table);
	return rc == SQLITE_DONE ? 0 : fail(l, rc, "checking references", err);
}

static int migrate_in_transaction(am_ledger *l, int target, am_err *err)
{
	int v;
	if (am_ledger_begin(l, err))
		return am_err_prefix(err, "migrating");
	/* Another process may have migrated while we waited for the lock. */
	if (read_version(l, &v, err) || check_version(l, v, err))
		goto fail;
	if (v == 0 && check_foreign(l, err))
		goto fail;
	for (int i = v; i < target; i++) {
		char doing[64];
		snprintf(doing, sizeof doing, "migrating the schema to version %d", i + 1);
		for (const char *const *sql = migrations[i]; *sql; sql++)
			if (exec(l, *sql, doing, err))
				goto fail;
	}
	if (v < target) {
		char sql[48];
		snprintf(sql, sizeof sql, "PRAGMA user_version = %d", target);
		if (exec(l, sql, "setting the schema version", err))
			goto fail;
	}
	if (check_references(l, target, err))
		goto fail;
	return am_ledger_commit(l, err);
fail:
	am_ledger_rollback(l);
	return -1;
}

static int migrate(am_ledger *l, int target, am_err *err)
{
	int v;
	if (read_version(l, &v, err))
		return -1;
	if (check_version(l, v, err))
		return -1;
	if (v == target)
		return 0;
	if (v > target)
		return am_err_set(err, "ledger %s is already at schema version %d (asked for %d)",
		                  l->path, v, target);
	if (l->readonly)
		return am_err_set(err, "ledger %s has schema version %d and needs migrating to %d: "
		                  "open it once with write access", l->path, v, target);
	if (v > 0 && migrate_notice)
		migrate_notice(l->path, v, target);
	/* Off outside the transaction (SQLite ignores the pragma inside one), so
	 * that a migration may rebuild a table others reference; checked before
	 * the commit, and on again whatever happens. */
	if (exec(l, "PRAGMA foreign_keys=OFF", "migrating", err))
		return -1;
	int rc = migrate_in_transaction(l, target, err);
	/* A failed migration keeps its own message. */
	if (exec(l, "PRAGMA foreign_keys=ON", "migrating", rc ? NULL : err))
		return -1;
	return rc;
}

/* Creates the file 0600 before SQLite does (SQLite would use 0644 less the
 * umask, and gives its -wal and -shm files the database file's mode).
 * An existing file is never opened here: closing any descriptor of a file
 * drops every POSIX lock this process holds on it, including the shared
 * lock of a connection already open in another thread (batch's and the
 * worker's). Without that lock another process closing its connection
 * believes it is the last one, checkpoints and deletes the -wal file, and
 * every later commit of ours goes to the deleted file: lost. */
static int create_private(const char *path, am_err *err)
{
	if (am_mkdir_parent(path, err))
		return am_err_prefix(err, "ledger %s", path);
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			return 0;
		if (errno == EACCES || errno == EROFS || errno == EPERM) {
			/* Maybe an existing file we may only read: let SQLite say. */
			if (access(path, F_OK) == 0)
				return 0;
		}
		return am_err_set(err, "cannot create ledger %s: %s", path, strerror(errno));
	}
	close(fd); /* a new file: no connection holds a lock on it yet */
	return 0;
}

static int query_expect(am_ledger *l, const char *sql, const char *want, const char *doing,
                       am_err *err)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(l->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return fail(l, rc, doing, err);
	rc = sqlite3_step(s);
	bool ok = rc == SQLITE_ROW || rc == SQLITE_DONE;
	const char *got = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 0) : NULL;
	bool match = want && got && !strcmp(got, want);
	sqlite3_finalize(s);
	if (!ok)
		return fail(l, rc, doing, err);
	if (want && !match)
		return am_err_set(err, "ledger %s: could not switch to %s while %s", l->path, want, doing);
	return 0;
}

/* The journal-mode switch needs a moment when no other connection is in the
 * middle of opening the same file, and SQLite answers SQLITE_BUSY for it at
 * once, without the busy handler (which could deadlock there). So wait here,
 * a little at a time, up to the busy timeout: two processes opening a fresh
 * ledger together must both succeed. */
static int switch_to_wal(am_ledger *l, am_err *err)
{
	const struct timespec step = { 0, 10 * 1000 * 1000 };
	for (int waited = 0;; waited += 10) {
		sqlite3_stmt *s;
		int rc = sqlite3_prepare_v2(l->db, "PRAGMA journal_mode=WAL", -1, &s, NULL);
		if (rc == SQLITE_OK) {
			rc = sqlite3_step(s);
			bool wal = rc == SQLITE_ROW &&
			           !strcmp((const char *)sqlite3_column_text(s, 0), "wal");
			sqlite3_finalize(s);
			if (wal)
				return 0;
			if (rc == SQLITE_ROW || rc == SQLITE_DONE)
				return am_err_set(err, "ledger %s: could not switch to WAL", l->path);
		}
		if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
			return fail(l, rc, "switching to WAL", err);
		if (waited >= l->busy_ms)
			return fail(l, rc, "switching to WAL", err);
		nanosleep(&step, NULL);
	}
}

/* Reading a WAL database needs its -shm file, which a reader without write
 * access to the directory cannot create. When no -wal file exists, no
 * process has the database open and the main file is complete, so it can
 * be read as immutable. */
static int reopen_immutable(am_ledger *l, am_err *err)
{
	char wal[4200];
	snprintf(wal, sizeof wal, "%s-wal", l->path);
	if (access(wal, F_OK) == 0)
		return -1; /* keep the first error: the log holds data we cannot see */
	size_t n = strlen(l->path);
	char *uri = am_xmalloc(3 * n + 32), *p = uri;
	p += sprintf(p, "file:");
	for (const char *c = l->path; *c; c++) {
		if (*c == '%' || *c == '?' || *c == '#')
			p += sprintf(p, "%%%02X", (unsigned char)*c);
		else
			*p++ = *c;
	}
	strcpy(p, "?immutable=1");
	sqlite3_close_v2(l->db);
	l->db = NULL;
	int rc = sqlite3_open_v2(uri, &l->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX |
	                         SQLITE_OPEN_URI, NULL);
	free(uri);
	if (rc != SQLITE_OK)
		return fail(l, rc, "opening read-only", err);
	sqlite3_extended_result_codes(l->db, 1);
	return 0;
}

int am_ledger_open(am_ledger **out, const char *path, const am_ledger_opts *opts, am_err *err)
{
	am_ledger_opts o = { 0 };
	if (opts)
		o = *opts;
	*out = NULL;
	if (!path || !*path)
		return am_err_set(err, "no ledger path given");
	if (o.schema_version < 0 || o.schema_version > AM_LEDGER_SCHEMA_VERSION)
		return am_err_set(err, "ledger schema version %d does not exist (1..%d)",
		                  o.schema_version, AM_LEDGER_SCHEMA_VERSION);
	int target = o.schema_version ? o.schema_version : AM_LEDGER_SCHEMA_VERSION;

	am_ledger *l = am_xcalloc(1, sizeof *l);
	l->path = am_xstrdup(path);
	l->busy_ms = o.busy_timeout_ms > 0 ? o.busy_timeout_ms : AM_LEDGER_BUSY_TIMEOUT_MS;
	l->readonly = o.readonly;

	int flags = SQLITE_OPEN_NOMUTEX;
	if (o.readonly) {
		if (access(path, F_OK) != 0) {
			am_err_set(err, "no ledger at %s: %s", path, strerror(errno));
			goto fail;
		}
		flags |= SQLITE_OPEN_READONLY;
	} else {
		if (create_private(path, err))
			goto fail;
		flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	}
	int rc = sqlite3_open_v2(path, &l->db, flags, NULL);
	if (rc != SQLITE_OK) {
		fail(l, rc, "opening", err);
		goto fail;
	}
	sqlite3_extended_result_codes(l->db, 1);
	sqlite3_busy_timeout(l->db, l->busy_ms);
	if (!o.readonly && sqlite3_db_readonly(l->db, "main") == 1) {
		am_err_set(err, "ledger %s is read-only: check the permissions of the file and its "
		           "directory", path);
		goto fail;
	}
	/* The first statement that reads the file: a non-database fails here. */
	if (query_expect(l, "SELECT count(*) FROM sqlite_master", NULL, "reading the schema", err) &&
	    (!o.readonly || reopen_immutable(l, err) ||
	     query_expect(l, "SELECT count(*) FROM sqlite_master", NULL, "reading the schema", err)))
		goto fail;
	if (!o.readonly &&
	    switch_to_wal(l, err))
		goto fail;
	/* A checkpoint costs two fsyncs and copies each changed page once, so
	 * checkpointing every 4,000 pages (16 MB of log) instead of SQLite's
	 * 1,000 writes the hot pages (today's summary row, the index tails)
	 * back far less often. */
	if (exec(l, "PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;"
	         " PRAGMA wal_autocheckpoint=4000", "configuring", err))
		goto fail;
	if (migrate(l, target, err))
		goto fail;
	l->schema = target;
	tzset();
	*out = l;
	return 0;
fail:
	am_ledger_close(l);
	return -1;
}

void am_ledger_close(am_ledger *l)
{
	if (!l)
		return;
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(l->stmt[i]);
	if (l->db) {
		/* Keeps planner statistics fresh; the limit bounds the work on
		 * a large ledger (SQLite's recommended setting). */
		if (!l->readonly && sqlite3_get_autocommit(l->db))
			sqlite3_exec(l->db, "PRAGMA analysis_limit=400; PRAGMA optimize", NULL, NULL,
			             NULL);
		sqlite3_close_v2(l->db);
	}
	free(l->path);
	free(l);
}

int am_ledger_schema_version(am_ledger *l, am_err *err)
{
	int v = 0;
	return read_version(l, &v, err) ? -1 : v;
}

struct sqlite3 *am_ledger_db(am_ledger *l)
{
	return l->db;
}

const char *am_ledger_path(const am_ledger *l)
{
	return l->path;
}

/* ---- days ------------------------------------------------------------------ */

int am_ledger_day(int64_t wall_ns, char out[AM_LEDGER_DAY_LEN], am_err *err)
{
	/* Floor division: a time just before the epoch belongs to the day before. */
	int64_t sec = wall_ns / AM_NS_PER_SEC;
	if (wall_ns % AM_NS_PER_SEC < 0)
		sec--;
	time_t t = (time_t)sec;
	struct tm tm;
	if (!localtime_r(&t, &tm) || tm.tm_year + 1900 < 1 || tm.tm_year + 1900 > 9999)
		return am_err_set(err, "time %lld ns has no local calendar day", (long long)wall_ns);
	snprintf(out, AM_LEDGER_DAY_LEN, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1,
	         tm.tm_mday);
	return 0;
}

int am_ledger_parse_day(const char *s, am_err *err)
{
	static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return am_err_set(err, "'%s' is not a date (YYYY-MM-DD)", s ? s : "");
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return am_err_set(err, "'%s' is not a date (YYYY-MM-DD)", s);
	int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	int m = (s[5] - '0') * 10 + (s[6] - '0');
	int d = (s[8] - '0') * 10 + (s[9] - '0');
	if (y < 1 || m < 1 || m > 12)
		return am_err_set(err, "'%s' is not a valid date", s);
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	int max = mdays[m - 1] + (m == 2 && leap);
	if (d < 1 || d > max)
		return am_err_set(err, "'%s' is not a valid date", s);
	return 0;
}

/* ---- events ---------------------------------------------------------------- */

static const char *const sources[] = { "ask", "batch", "console", "proxy", "demo", "record" };

static int check_event(const am_ledger_event *ev, am_err *err)
{
	if (!ev->model || !*ev->model)
		return am_err_set(err, "usage event has no model");
	const am_usage *u = &ev->usage;
	if (u->input_tokens < 0 || u->output_tokens < 0 || u->cache_write_5m < 0 ||
	    u->cache_write_1h < 0 || u->cache_read < 0)
		return am_err_set(err, "usage event for %s has a negative token count", ev->model);
	if (u->web_search_requests < 0 || u->web_fetch_requests < 0 ||
	    u->code_execution_requests < 0)
		return am_err_set(err, "usage event for %s has a negative server-tool count",
		                  ev->model);
	if ((ev->price_known && ev->cost_pusd < 0) || ev->saved_pusd < 0)
		return am_err_set(err, "usage event for %s has a negative amount", ev->model);
	if (ev->job_id < 0)
		return am_err_set(err, "usage event for %s has a negative job id", ev->model);
	bool known = false;
	for (size_t i = 0; ev->source && i < sizeof sources / sizeof sources[0]; i++)
		known |= !strcmp(ev->source, sources[i]);
	if (!known)
		return am_err_set(err, "usage event for %s has an unknown source '%s'", ev->model,
		                  ev->source ? ev->source : "(none)");
	if (am_tag_check(ev->tag, err))
		return am_err_prefix(err, "usage event for %s", ev->model);
	if (ev->key_hint && strlen(ev->key_hint) > AM_LEDGER_KEY_HINT_MAX)
		return am_err_set(err, "usage event for %s: a key hint is at most the last %d "
		                  "characters of a key", ev->model, AM_LEDGER_KEY_HINT_MAX);
	return 0;
}

static void bind_text_or_null(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i);
}

static void bind_i64_or_null(sqlite3_stmt *s, int i, bool present, int64_t v)
{
	if (present)
		sqlite3_bind_int64(s, i, v);
	else
		sqlite3_bind_null(s, i);
}

/* The columns schema v3 added: every billed dimension beyond tokens. */
static void bind_v3(sqlite3_stmt *s, const am_ledger_event *ev)
{
	const am_usage *u = &ev->usage;
	bind_text_or_null(s, 22, u->speed[0] ? u->speed : NULL);
	bind_text_or_null(s, 23, u->inference_geo[0] ? u->inference_geo : NULL);
	bind_text_or_null(s, 24, u->service_tier[0] ? u->service_tier : NULL);
	sqlite3_bind_int64(s, 25, u->web_search_requests);
	sqlite3_bind_int64(s, 26, u->web_fetch_requests);
	sqlite3_bind_int64(s, 27, u->code_execution_requests);
	sqlite3_bind_int(s, 28, ev->estimated);
}

static int read_row(am_ledger *l, sqlite3_stmt *s, am_ledger_row *r, am_err *err);

/* The day's totals across models, as a report or the budget reads them,
 * must stay exact: an event that would take one past int64 is refused
 * when it is recorded (the caller rolls back), not left to make every
 * later read of the day fail. Each model's row is kept exact by the
 * usage_daily CHECK; this checks their sums. */
static int check_day_total(am_ledger *l, const char *day, am_err *err)
{
	sqlite3_stmt *s = stmt(l, ST_DAY_TOTAL, err);
	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, day, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s), status = 0;
	am_ledger_row r;
	memset(&r, 0, sizeof r);
	if (rc != SQLITE_ROW)
		status = fail(l, rc, "recording a usage event", err);
	else if (read_row(l, s, &r, err))
		status = -1;
	free(r.model);
	sqlite3_reset(s);
	if (status)
		am_err_prefix(err, "refused: the totals of %s across models", day);
	return status;
}

/* Binds an event's columns (parameters 1..21, 22..28 from schema v3, 29..30
 * from v5). */
static void bind_event(sqlite3_stmt *s, const am_ledger_event *ev, const char *day, bool v3,
                       bool v5)
{
	bind_i64_or_null(s, 1, ev->job_id > 0, ev->job_id);
	sqlite3_bind_int64(s, 2, ev->ts_ns);
	sqlite3_bind_text(s, 3, day, -1, SQLITE_STATIC);
	bind_text_or_null(s, 4, ev->model_requested);
	sqlite3_bind_text(s, 5, ev->model, -1, SQLITE_STATIC);
	bind_text_or_null(s, 6, ev->reason);
	sqlite3_bind_int64(s, 7, ev->usage.input_tokens);
	sqlite3_bind_int64(s, 8, ev->usage.output_tokens);
	sqlite3_bind_int64(s, 9, ev->usage.cache_write_5m);
	sqlite3_bind_int64(s, 10, ev->usage.cache_write_1h);
	sqlite3_bind_int64(s, 11, ev->usage.cache_read);
	bind_i64_or_null(s, 12, ev->price_known, ev->cost_pusd);
	sqlite3_bind_int(s, 13, ev->price_known);
	sqlite3_bind_int(s, 14, ev->batch);
	sqlite3_bind_int(s, 15, ev->cached);
	sqlite3_bind_int64(s, 16, ev->saved_pusd);
	bind_i64_or_null(s, 17, ev->latency_ms >= 0, ev->latency_ms);
	bind_i64_or_null(s, 18, ev->http_status != 0, ev->http_status);
	bind_text_or_null(s, 19, ev->request_id);
	bind_text_or_null(s, 20, ev->error);
	sqlite3_bind_text(s, 21, ev->source, -1, SQLITE_STATIC);
	if (v3)
		bind_v3(s, ev);
	if (v5) {
		bind_text_or_null(s, 29, am_tag_or_null(ev->tag));
		bind_text_or_null(s, 30, ev->key_hint && *ev->key_hint ? ev->key_hint : NULL);
	}
}

/* Inserts one event inside the current write unit: 1 added, 0 duplicate. */
static int insert_event(am_ledger *l, const am_ledger_event *ev, am_err *err)
{
	char day[AM_LEDGER_DAY_LEN];
	if (check_event(ev, err) || am_ledger_day(ev->ts_ns, day, err))
		return -1;
	bool v3 = l->schema >= 3, v5 = l->schema >= 5;
	sqlite3_stmt *s = stmt(l, v5 ? ST_INSERT_EVENT : v3 ? ST_INSERT_EVENT_V3 : ST_INSERT_EVENT_V2,
	                       err);
	if (!s)
		return -1;
	bind_event(s, ev, day, v3, v5);
	int rc = sqlite3_step(s);
	int added = sqlite3_changes(l->db) > 0;
	if (rc != SQLITE_DONE)
		fail(l, rc, "recording a usage event", err);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc != SQLITE_DONE)
		return -1;
	return added && check_day_total(l, day, err) ? -1 : added;
}

int am_ledger_rewrite(am_ledger *l, int64_t id, const am_ledger_event *ev, am_err *err)
{
	char day[AM_LEDGER_DAY_LEN];
	if (check_event(ev, err) || am_ledger_day(ev->ts_ns, day, err))
		return -1;
	if (l->schema < AM_LEDGER_SCHEMA_VERSION)
		return am_err_set(err, "ledger %s: rewriting a row needs the latest schema", l->path);
	bool nested;
	if (unit_begin(l, &nested, err))
		return -1;
	sqlite3_stmt *s = stmt(l, ST_REWRITE_EVENT, err);
	if (!s) {
		unit_rollback(l, nested);
		return -1;
	}
	bind_event(s, ev, day, true, true);
	sqlite3_bind_int64(s, 31, id);
	int rc = sqlite3_step(s);
	bool changed = sqlite3_changes(l->db) > 0;
	if (rc != SQLITE_DONE)
		fail(l, rc, "rewriting a usage event", err);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc == SQLITE_DONE && !changed) {
		am_err_set(err, "ledger %s: no usage event %lld to rewrite", l->path, (long long)id);
		rc = SQLITE_ERROR;
	}
	if (rc != SQLITE_DONE || check_day_total(l, day, err) || unit_commit(l, nested, err)) {
		unit_rollback(l, nested);
		return -1;
	}
	return 0;
}

int am_ledger_forget(am_ledger *l, int64_t id, am_err *err)
{
	sqlite3_stmt *s = stmt(l, ST_FORGET_EVENT, err);
	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	int rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		fail(l, rc, "removing a usage event", err);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

int am_ledger_record(am_ledger *l, const am_ledger_event *ev, am_err *err)
{
	bool nested;
	if (unit_begin(l, &nested, err))
		return -1;
	int added = insert_event(l, ev, err);
	if (added < 0 || unit_commit(l, nested, err)) {
		unit_rollback(l, nested);
		return -1;
	}
	return added;
}

int64_t am_ledger_record_many(am_ledger *l, const am_ledger_event *ev, size_t n, am_err *err)
{
	bool nested;
	int64_t added = 0;
	if (unit_begin(l, &nested, err))
		return -1;
	for (size_t i = 0; i < n; i++) {
		int r = insert_event(l, &ev[i], err);
		if (r < 0) {
			am_err_prefix(err, "event %zu of %zu", i + 1, n);
			unit_rollback(l, nested);
			return -1;
		}
		added += r;
	}
	if (unit_commit(l, nested, err))
		return -1;
	return added;
}

/* ---- reports --------------------------------------------------------------- */

static int check_range(const char *from, const char *to, am_err *err)
{
	if (am_ledger_parse_day(from, err) || am_ledger_parse_day(to, err))
		return -1;
	if (strcmp(from, to) > 0)
		return am_err_set(err, "the range %s .. %s ends before it starts", from, to);
	return 0;
}

/* Reads one summary row (columns: day, model, then DAILY_SUMS). */
static int read_row(am_ledger *l, sqlite3_stmt *s, am_ledger_row *r, am_err *err)
{
	const char *day = (const char *)sqlite3_column_text(s, 0);
	const char *model = (const char *)sqlite3_column_text(s, 1);
	snprintf(r->day, sizeof r->day, "%s", day ? day : "");
	r->model = am_xstrdup(model ? model : "");
	int64_t *dst[] = { &r->requests, &r->input_tokens, &r->output_tokens, &r->cache_write_5m,
		           &r->cache_write_1h, &r->cache_read, &r->cost_pusd, &r->unknown_count,
		           &r->cached, &r->saved_pusd };
	for (int i = 0; i < (int)(sizeof dst / sizeof dst[0]); i++)
		if (col_i64(l, s, i + 2, dst[i], err))
			return -1;
	if (__builtin_add_overflow(r->cache_write_5m, r->cache_write_1h, &r->cache_write))
		return am_err_set(err, "ledger %s: cache writes for %s exceed the int64 range", l->path,
		                  r->model);
	r->price_known = r->unknown_count == 0;
	return 0;
}

static int add_to_total(am_ledger_row *t, const am_ledger_row *r)
{
	const int64_t *src[] = { &r->requests, &r->input_tokens, &r->output_tokens,
		                 &r->cache_write, &r->cache_write_5m, &r->cache_write_1h,
		                 &r->cache_read, &r->cost_pusd, &r->unknown_count, &r->cached,
		                 &r->saved_pusd };
	int64_t *dst[] = { &t->requests, &t->input_tokens, &t->output_tokens, &t->cache_write,
		           &t->cache_write_5m, &t->cache_write_1h, &t->cache_read, &t->cost_pusd,
		           &t->unknown_count, &t->cached, &t->saved_pusd };
	for (size_t i = 0; i < sizeof dst / sizeof dst[0]; i++)
		if (__builtin_add_overflow(*dst[i], *src[i], dst[i]))
			return -1;
	t->price_known = t->unknown_count == 0;
	return 0;
}

/* The estimated rows (cut short) of each report row, from usage_estimated
 * (few rows: usage_daily does not keep them). */
static int count_estimated(am_ledger *l, const char *from_day, const char *to_day, bool by_day,
                           am_ledger_summary *out, am_err *err)
{
	sqlite3_stmt *s = stmt(l, ST_ESTIMATED, err);
	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, from_day, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, to_day, -1, SQLITE_STATIC);
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *day = (const char *)sqlite3_column_text(s, 0);
		const char *model = (const char *)sqlite3_column_text(s, 1);
		int64_t n = sqlite3_column_int64(s, 2);
		for (size_t i = 0; i < out->nrows; i++) {
			am_ledger_row *r = &out->rows[i];
			if (!strcmp(r->model, model ? model : "") &&
			    (!by_day || !strcmp(r->day, day ? day : ""))) {
				r->estimated += n;
				break;
			}
		}
		out->total.estimated += n;
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : fail(l, rc, "reading the report", err);
}

/* Reads the rows of a report statement (columns: day, key, DAILY_SUMS and,
 * with_estimated, the estimated count) into a growing array. */
static int read_rows(am_ledger *l, enum stmt_id id, const char *from_day, const char *to_day,
                     bool with_estimated, am_ledger_row **rows, size_t *n, am_err *err)
{
	sqlite3_stmt *s = stmt(l, id, err);
	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, from_day, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, to_day, -1, SQLITE_STATIC);
	size_t cap = 0;
	int rc, status = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			*rows = am_xrealloc(*rows, cap * sizeof **rows);
		}
		am_ledger_row *r = &(*rows)[(*n)++];
		memset(r, 0, sizeof *r);
		if (read_row(l, s, r, err) ||
		    (with_estimated && col_i64(l, s, 12, &r->estimated, err))) {
			status = -1;
			break;
		}
	}
	if (status == 0 && rc != SQLITE_DONE)
		status = fail(l, rc, "reading the report", err);
	sqlite3_reset(s);
	return status;
}

int am_ledger_report(am_ledger *l, const char *from_day, const char *to_day, bool by_day,
                     am_ledger_summary *out, am_err *err)
{
	memset(out, 0, sizeof *out);
	out->total.model = am_xstrdup("");
	out->total.price_known = true;
	if (check_range(from_day, to_day, err))
		return -1;
	snprintf(out->from, sizeof out->from, "%s", from_day);
	snprintf(out->to, sizeof out->to, "%s", to_day);
	int status = read_rows(l, by_day ? ST_REPORT_BY_DAY : ST_REPORT, from_day, to_day, false,
	                       &out->rows, &out->nrows, err);
	for (size_t i = 0; status == 0 && i < out->nrows; i++)
		if (add_to_total(&out->total, &out->rows[i]))
			status = am_err_set(err, "ledger %s: the total over %s .. %s exceeds the int64 "
			                    "range", l->path, from_day, to_day);
	if (status == 0)
		status = count_estimated(l, from_day, to_day, by_day, out, err);
	return status;
}

void am_ledger_summary_free(am_ledger_summary *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nrows; i++)
		free(s->rows[i].model);
	free(s->rows);
	free(s->total.model);
	memset(s, 0, sizeof *s);
}

/* ---- by tag ---------------------------------------------------------------- */

/* t -= r, field by field; -1 when a field would go negative (the summary
 * tables disagree: only a hand edit of them can do that). */
static int take_from(am_ledger_row *t, const am_ledger_row *r)
{
	const int64_t *src[] = { &r->requests, &r->input_tokens, &r->output_tokens,
		                 &r->cache_write, &r->cache_write_5m, &r->cache_write_1h,
		                 &r->cache_read, &r->cost_pusd, &r->unknown_count, &r->cached,
		                 &r->saved_pusd, &r->estimated };
	int64_t *dst[] = { &t->requests, &t->input_tokens, &t->output_tokens, &t->cache_write,
		           &t->cache_write_5m, &t->cache_write_1h, &t->cache_read, &t->cost_pusd,
		           &t->unknown_count, &t->cached, &t->saved_pusd, &t->estimated };
	for (size_t i = 0; i < sizeof dst / sizeof dst[0]; i++) {
		if (*src[i] > *dst[i])
			return -1;
		*dst[i] -= *src[i];
	}
	t->price_known = t->unknown_count == 0;
	return 0;
}

static void push_row(am_ledger_summary *out, size_t *cap, const am_ledger_row *r)
{
	if (out->nrows == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		out->rows = am_xrealloc(out->rows, *cap * sizeof *out->rows);
	}
	out->rows[out->nrows++] = *r;
}

int am_ledger_report_tags(am_ledger *l, const char *from_day, const char *to_day, bool by_day,
                          am_ledger_summary *out, am_err *err)
{
	memset(out, 0, sizeof *out);
	out->by_tag = true;
	out->total.model = am_xstrdup("");
	out->total.price_known = true;
	if (check_range(from_day, to_day, err))
		return -1;
	if (l->schema < 5)
		return am_err_set(err, "ledger %s is kept at schema %d, which has no tags", l->path,
		                  l->schema);
	snprintf(out->from, sizeof out->from, "%s", from_day);
	snprintf(out->to, sizeof out->to, "%s", to_day);
	am_ledger_row *totals = NULL, *tags = NULL;
	size_t ntotals = 0, ntags = 0, cap = 0, ti = 0;
	int status = read_rows(l, by_day ? ST_TAG_TOTAL_BY_DAY : ST_TAG_TOTAL, from_day, to_day,
	                       true, &totals, &ntotals, err);
	if (status == 0)
		status = read_rows(l, by_day ? ST_TAGS_BY_DAY : ST_TAGS, from_day, to_day, true, &tags,
		                   &ntags, err);
	/* Both lists are in day order (one day "" when not by day): each day's
	 * tags, then what of the day's total no tag took. */
	for (size_t d = 0; status == 0 && d < ntotals; d++) {
		am_ledger_row *rest = &totals[d];
		for (; ti < ntags && !strcmp(tags[ti].day, rest->day); ti++) {
			if (take_from(rest, &tags[ti])) {
				status = am_err_set(err, "ledger %s: the per-tag summary of %s exceeds the "
				                    "day's total (usage_tag_daily was edited?)", l->path,
				                    rest->day);
				break;
			}
			push_row(out, &cap, &tags[ti]);
			tags[ti].model = NULL; /* moved */
		}
		if (status == 0 && rest->requests > 0) {
			rest->untagged = true;
			push_row(out, &cap, rest);
			rest->model = NULL;
		}
	}
	if (status == 0 && ti < ntags)
		status = am_err_set(err, "ledger %s: tagged calls on %s that the day's total does not "
		                    "count (usage_tag_daily was edited?)", l->path, tags[ti].day);
	for (size_t i = 0; status == 0 && i < out->nrows; i++)
		if (add_to_total(&out->total, &out->rows[i]) ||
		    __builtin_add_overflow(out->total.estimated, out->rows[i].estimated,
		                           &out->total.estimated))
			status = am_err_set(err, "ledger %s: the total over %s .. %s exceeds the int64 "
			                    "range", l->path, from_day, to_day);
	for (size_t i = 0; i < ntotals; i++)
		free(totals[i].model);
	for (size_t i = 0; i < ntags; i++)
		free(tags[i].model);
	free(totals);
	free(tags);
	return status;
}

/* Known-price spend and unknown-price count of one statement: ST_SPEND over
 * every call, ST_TAG_SPEND over one tag's. */
static int spend_of(am_ledger *l, enum stmt_id id, const char *tag, const char *from_day,
                    const char *to_day, int64_t *out_pusd, int64_t *out_unknown, am_err *err)
{
	if (check_range(from_day, to_day, err))
		return -1;
	if (tag && l->schema < 5) {
		*out_pusd = 0;
		if (out_unknown)
			*out_unknown = 0;
		return 0; /* no tags before schema 5 */
	}
	sqlite3_stmt *s = stmt(l, id, err);
	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, from_day, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, to_day, -1, SQLITE_STATIC);
	if (tag)
		sqlite3_bind_text(s, 3, tag, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	int status = 0;
	int64_t spend = 0, unknown = 0;
	if (rc != SQLITE_ROW)
		status = fail(l, rc, "reading the spend", err);
	else if (col_i64(l, s, 0, &spend, err) || col_i64(l, s, 1, &unknown, err))
		status = -1;
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (status == 0) {
		*out_pusd = spend;
		if (out_unknown)
			*out_unknown = unknown;
	}
	return status;
}

int am_ledger_spend(am_ledger *l, const char *from_day, const char *to_day, int64_t *out_pusd,
                    int64_t *out_unknown, am_err *err)
{
	return spend_of(l, ST_SPEND, NULL, from_day, to_day, out_pusd, out_unknown, err);
}

int am_ledger_tag_spend(am_ledger *l, const char *tag, const char *from_day, const char *to_day,
                        int64_t *out_pusd, int64_t *out_unknown, am_err *err)
{
	if (!tag || !*tag)
		return am_err_set(err, "no tag given");
	return spend_of(l, ST_TAG_SPEND, tag, from_day, to_day, out_pusd, out_unknown, err);
}

/* ---- settings -------------------------------------------------------------- */

int am_ledger_setting_get(am_ledger *l, const char *key, char **out_value, am_err *err)
{
	*out_value = NULL;
	sqlite3_stmt *s = stmt(l, ST_SETTING_GET, err);
	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s), status = 0;
	if (rc == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(s, 0);
		*out_value = am_xstrdup(v ? v : "");
		status = 1;
	} else if (rc != SQLITE_DONE) {
		status = fail(l, rc, "reading a setting", err);
	}
	sqlite3_reset(s);
	return status;
}

static int setting_write(am_ledger *l, enum stmt_id id, const char *key, const char *value,
                         int64_t now_ns, am_err *err)
{
	sqlite3_stmt *s = stmt(l, id, err);
	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	if (value) {
		sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, now_ns);
	}
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_DONE ? 0 : fail(l, rc, "writing a setting", err);
}

int am_ledger_setting_set(am_ledger *l, const char *key, const char *value, int64_t now_ns,
                          am_err *err)
{
	if (!key || !*key || !value)
		return am_err_set(err, "a setting needs a key and a value");
	return setting_write(l, ST_SETTING_SET, key, value, now_ns, err);
}

int am_ledger_setting_delete(am_ledger *l, const char *key, am_err *err)
{
	return setting_write(l, ST_SETTING_DEL, key, NULL, 0, err);
}

int am_ledger_settings_each(am_ledger *l, am_ledger_setting_fn fn, void *ctx, am_err *err)
{
	sqlite3_stmt *s = stmt(l, ST_SETTINGS_ALL, err);
	if (!s)
		return -1;
	int rc, stop = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(s, 0);
		const char *v = (const char *)sqlite3_column_text(s, 1);
		stop = fn(ctx, k ? k : "", v ? v : "", sqlite3_column_int64(s, 2));
		if (stop)
			break;
	}
	int status = stop;
	if (!stop && rc != SQLITE_DONE)
		status = fail(l, rc, "reading the settings", err);
	sqlite3_reset(s);
	return status;
}

int am_ledger_settings_peek(const char *path, am_ledger_setting_fn fn, void *ctx, am_err *err)
{
	struct stat sb;
	if (!path || !*path || stat(path, &sb) != 0)
		return 0;
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_busy_timeout(db, 2000);
		rc = sqlite3_prepare_v2(db, "SELECT key, value, updated_ns FROM settings ORDER BY key",
		                        -1, &s, NULL);
	}
	if (rc != SQLITE_OK) {
		const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
		int status = strstr(msg, "no such table") ? 0 : am_err_set(err, "%s", msg);
		sqlite3_close(db);
		return status;
	}
	int stop = 0;
	while (!stop && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(s, 0);
		const char *v = (const char *)sqlite3_column_text(s, 1);
		if (k && v)
			stop = fn(ctx, k, v, sqlite3_column_int64(s, 2));
	}
	int status = stop;
	if (!stop && rc != SQLITE_DONE)
		status = am_err_set(err, "%s", sqlite3_errmsg(db));
	sqlite3_finalize(s);
	sqlite3_close(db);
	return status;
}

/* ---- settings written together, and changes made by other processes ---- */

static int settings_op(am_ledger *l, const am_ledger_setting_op *op, int64_t now_ns, am_err *err)
{
	if (!op->key || !*op->key)
		return am_err_set(err, "a setting needs a key");
	if (op->value)
		return setting_write(l, ST_SETTING_SET, op->key, op->value, now_ns, err);
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(l->db, "DELETE FROM settings WHERE key GLOB ?1", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return fail(l, rc, "clearing settings", err);
	sqlite3_bind_text(s, 1, op->key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : fail(l, rc, "clearing settings", err);
}

int am_ledger_settings_write(am_ledger *l, const am_ledger_setting_op *ops, int n,
                             int64_t now_ns, am_err *err)
{
	bool nested;
	if (unit_begin(l, &nested, err))
		return -1;
	for (int i = 0; i < n; i++) {
		if (settings_op(l, &ops[i], now_ns, err)) {
			unit_rollback(l, nested);
			return -1;
		}
	}
	return unit_commit(l, nested, err);
}

int am_ledger_data_version(am_ledger *l, int64_t *out, am_err *err)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(l->db, "PRAGMA data_version", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return fail(l, rc, "reading the data version", err);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : fail(l, rc, "reading the data version", err);
}

/* ---- pricing rows again (schema v3) ---------------------------------------- */

/* Every column a price depends on, for the rows of a day range. */
#define REPRICE_SELECT                                                                    \
	"SELECT id, ts_ns, day, model, input_tokens, output_tokens, cache_write_5m,"          \
	" cache_write_1h, cache_read, web_search_requests, web_fetch_requests,"               \
	" code_execution_requests, speed, inference_geo, service_tier, batch, cached,"        \
	" price_known, coalesce(cost_pusd, 0), estimated FROM usage_events"                   \
	" WHERE day BETWEEN ?1 AND ?2 AND cached = 0"

struct reprice_change {
	int64_t id;
	bool known;
	int64_t cost;
};

static void copy_tag(char dst[AM_USAGE_TAG_MAX], sqlite3_stmt *s, int col)
{
	const char *v = (const char *)sqlite3_column_text(s, col);
	snprintf(dst, AM_USAGE_TAG_MAX, "%s", v ? v : "");
}

static am_ledger_repriced *reprice_slot(am_ledger_reprice_report *r, const char *model)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->models[i].model, model))
			return &r->models[i];
	r->models = am_xrealloc(r->models, (r->n + 1) * sizeof *r->models);
	am_ledger_repriced *m = &r->models[r->n++];
	memset(m, 0, sizeof *m);
	m->model = am_xstrdup(model);
	return m;
}

static int cmp_repriced(const void *a, const void *b)
{
	return strcmp(((const am_ledger_repriced *)a)->model,
	              ((const am_ledger_repriced *)b)->model);
}

/* Adds one row's before and after to a model's figures and the total. */
static int reprice_count(am_ledger *l, am_ledger_repriced *m, am_ledger_repriced *t,
                         const am_ledger_stored *row, bool known, int64_t cost, am_err *err)
{
	am_ledger_repriced *both[2] = { m, t };
	for (int k = 0; k < 2; k++) {
		am_ledger_repriced *x = both[k];
		x->rows++;
		x->changed += known != row->price_known || (known && cost != row->cost_pusd);
		x->newly_known += known && !row->price_known;
		x->still_unknown += !known;
		if ((row->price_known &&
		     __builtin_add_overflow(x->before_pusd, row->cost_pusd, &x->before_pusd)) ||
		    (known && __builtin_add_overflow(x->after_pusd, cost, &x->after_pusd)))
			return am_err_set(err, "ledger %s: a re-priced total exceeds the exact int64 "
			                  "range", l->path);
	}
	return 0;
}

int am_ledger_reprice(am_ledger *l, const char *from_day, const char *to_day, bool all,
                      bool dry_run, am_ledger_price_fn fn, void *ctx,
                      am_ledger_reprice_report *out, am_err *err)
{
	memset(out, 0, sizeof *out);
	out->total.model = am_xstrdup("");
	if (check_range(from_day, to_day, err))
		return -1;
	bool nested;
	if (unit_begin(l, &nested, err))
		return -1;
	sqlite3_stmt *s = NULL, *up = NULL;
	struct reprice_change *ch = NULL;
	size_t nch = 0, cap = 0;
	int rc = sqlite3_prepare_v2(l->db, all ? REPRICE_SELECT : REPRICE_SELECT " AND price_known = 0",
	                            -1, &s, NULL);
	if (rc != SQLITE_OK) {
		fail(l, rc, "reading rows to price again", err);
		goto fail;
	}
	sqlite3_bind_text(s, 1, from_day, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, to_day, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		am_ledger_stored row;
		memset(&row, 0, sizeof row);
		row.id = sqlite3_column_int64(s, 0);
		row.ts_ns = sqlite3_column_int64(s, 1);
		const char *day = (const char *)sqlite3_column_text(s, 2);
		snprintf(row.day, sizeof row.day, "%s", day ? day : "");
		const char *model = (const char *)sqlite3_column_text(s, 3);
		row.model = model ? model : "";
		int64_t *count[] = { &row.usage.input_tokens, &row.usage.output_tokens,
			             &row.usage.cache_write_5m, &row.usage.cache_write_1h,
			             &row.usage.cache_read, &row.usage.web_search_requests,
			             &row.usage.web_fetch_requests, &row.usage.code_execution_requests };
		for (int i = 0; i < 8; i++)
			*count[i] = sqlite3_column_int64(s, 4 + i);
		copy_tag(row.usage.speed, s, 12);
		copy_tag(row.usage.inference_geo, s, 13);
		copy_tag(row.usage.service_tier, s, 14);
		row.batch = sqlite3_column_int(s, 15) != 0;
		row.cached = sqlite3_column_int(s, 16) != 0;
		row.price_known = sqlite3_column_int(s, 17) != 0;
		row.cost_pusd = sqlite3_column_int64(s, 18);
		row.estimated = sqlite3_column_int(s, 19) != 0;
		bool known = row.price_known;
		int64_t cost = row.cost_pusd;
		if (fn(ctx, &row, &known, &cost, err))
			goto fail;
		if (known && cost < 0) {
			am_err_set(err, "row %lld: a negative price", (long long)row.id);
			goto fail;
		}
		if (reprice_count(l, reprice_slot(out, row.model), &out->total, &row, known, cost,
		                  err))
			goto fail;
		if (known != row.price_known || (known && cost != row.cost_pusd)) {
			if (nch == cap) {
				cap = cap ? 2 * cap : 64;
				ch = am_xrealloc(ch, cap * sizeof *ch);
			}
			ch[nch++] = (struct reprice_change){ row.id, known, known ? cost : 0 };
		}
	}
	if (rc != SQLITE_DONE) {
		fail(l, rc, "reading rows to price again", err);
		goto fail;
	}
	sqlite3_finalize(s);
	s = NULL;
	if (!dry_run && nch) {
		rc = sqlite3_prepare_v2(l->db, "UPDATE usage_events SET price_known = ?2,"
		                        " cost_pusd = ?3 WHERE id = ?1", -1, &up, NULL);
		if (rc != SQLITE_OK) {
			fail(l, rc, "pricing rows again", err);
			goto fail;
		}
		for (size_t i = 0; i < nch; i++) {
			sqlite3_bind_int64(up, 1, ch[i].id);
			sqlite3_bind_int(up, 2, ch[i].known);
			bind_i64_or_null(up, 3, ch[i].known, ch[i].cost);
			rc = sqlite3_step(up);
			sqlite3_reset(up);
			if (rc != SQLITE_DONE) {
				fail(l, rc, "pricing rows again", err);
				goto fail;
			}
		}
		sqlite3_finalize(up);
		up = NULL;
	}
	free(ch);
	qsort(out->models, out->n, sizeof *out->models, cmp_repriced);
	if (dry_run) {
		unit_rollback(l, nested);
		return 0;
	}
	return unit_commit(l, nested, err);
fail:
	sqlite3_finalize(s);
	sqlite3_finalize(up);
	free(ch);
	unit_rollback(l, nested);
	return -1;
}

void am_ledger_reprice_report_free(am_ledger_reprice_report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		free(r->models[i].model);
	free(r->models);
	free(r->total.model);
	memset(r, 0, sizeof *r);
}
