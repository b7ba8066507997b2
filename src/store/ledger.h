/* ledger: the SQLite database that records every call, the persisted queue,
 * run-time settings and the response cache.
 *
 * One file (default am_path_default_db), created 0600 in a 0700 directory,
 * in WAL mode with a busy timeout, foreign keys on and synchronous=NORMAL.
 * The schema is versioned by PRAGMA user_version and brought forward by
 * migrations on open; a database newer than this build is refused.
 *
 * Threads: an am_ledger (one SQLite connection and its cached statements)
 * belongs to ONE thread. Another thread, or another process, opens its own
 * am_ledger on the same path; SQLite's locking and the busy timeout make
 * concurrent writers wait for each other instead of failing. Sibling modules
 * (queue, cache) that run on the owning thread use the same connection
 * through am_ledger_db().
 *
 * Errors: every fallible function returns -1 and fills *err with one
 * sentence naming the database and the cause: read-only, locked by another
 * process, not a database / corrupted, disk full, integer overflow. Nothing
 * here aborts on a bad database.
 *
 * Durability: each write is one transaction. A crash never leaves half a
 * record. Under WAL with synchronous=NORMAL a committed transaction survives
 * the process crashing; an operating-system crash or power loss may lose the
 * last few commits (never corrupting the file). */
#ifndef AIMETER_LEDGER_H
#define AIMETER_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "usage.h"

/* The schema version this build writes (PRAGMA user_version). */
#define AM_LEDGER_SCHEMA_VERSION 8

/* The model of a row of the built-in simulator's begins with this: its
 * calls were never paid for, and reports list them apart by model. */
#define AM_LEDGER_SIMULATED "simulated:"

/* Default busy timeout: how long a write waits for another writer. */
#define AM_LEDGER_BUSY_TIMEOUT_MS 5000

/* "YYYY-MM-DD" plus the terminator. */
#define AM_LEDGER_DAY_LEN 11

typedef struct am_ledger am_ledger;

/* The raw connection, for sibling modules; matches sqlite3.h's `sqlite3`. */
struct sqlite3;

typedef struct am_ledger_opts {
	/* Open an existing ledger read-only: never creates the file, never
	 * migrates (an older schema is an error naming the fix). */
	bool readonly;
	/* Milliseconds a statement waits for a lock; 0 = the default. */
	int busy_timeout_ms;
	/* Build the schema only up to this version (1..latest); 0 = latest.
	 * For migration tests and tools; normal callers pass 0. */
	int schema_version;
} am_ledger_opts;

/* Called, when set, just before an existing ledger is brought from schema
 * version `from` to `to`, on the thread that opens it: a migration that
 * rebuilds a table takes seconds on a large ledger (about 6 s for a million
 * jobs), once, and the command can say why it is quiet. Process-wide: set
 * it at start, before any ledger is opened or any thread started. */
typedef void (*am_ledger_migrate_fn)(const char *path, int from, int to);
void am_ledger_on_migrate(am_ledger_migrate_fn fn);

/* Opens (creating if needed, mode 0600, parent directory 0700) and migrates
 * the ledger at `path`. `opts` may be NULL for the defaults. Calls tzset()
 * so that local days follow TZ. On success *out owns the connection;
 * close it with am_ledger_close from the same thread. */
int am_ledger_open(am_ledger **out, const char *path, const am_ledger_opts *opts, am_err *err);

/* Finalizes the cached statements and closes the connection. NULL is a
 * no-op. */
void am_ledger_close(am_ledger *l);

/* The schema version of the open database (PRAGMA user_version). */
int am_ledger_schema_version(am_ledger *l, am_err *err);

/* The raw sqlite3 handle, owned by the ledger: for modules that keep their
 * tables in the same database (queue: jobs; cache: cache_entries) and run
 * on the ledger's thread. Do not close it; finalize your own statements
 * before am_ledger_close. */
struct sqlite3 *am_ledger_db(am_ledger *l);

/* The path given to am_ledger_open (for messages). */
const char *am_ledger_path(const am_ledger *l);

/* Fills *err with the ledger's wording for a failed SQLite call (result
 * code rc) on db, any connection to a ledger file (the queue's, the
 * cache's): one sentence naming the file and the cause - locked by another
 * process, read-only, corrupted, not a database, disk full, I/O error -
 * ending "while <doing>". Returns -1. */
int am_ledger_sqlite_error(struct sqlite3 *db, int rc, const char *doing, am_err *err);

/* ---- transactions ------------------------------------------------------- */

/* An explicit write transaction (BEGIN IMMEDIATE, waiting up to the busy
 * timeout), so that a caller can make several changes atomically, e.g. the
 * queue marking a job done and recording its usage event together. Ledger
 * writes made inside it join it (they use savepoints) instead of committing
 * on their own. Not nestable: begin while already in a transaction fails. */
int am_ledger_begin(am_ledger *l, am_err *err);
int am_ledger_commit(am_ledger *l, am_err *err);
/* Rolls back; safe to call when no transaction is open. */
void am_ledger_rollback(am_ledger *l);

/* ---- usage events ------------------------------------------------------- */

typedef struct am_ledger_event {
	int64_t job_id;              /* > 0: the job this call served; 0: none */
	int64_t ts_ns;               /* wall time, ns since the epoch (UTC) */
	const char *model_requested; /* may be NULL */
	const char *model;           /* the model the response named; required */
	const char *reason;          /* selection reason; may be NULL */
	am_usage usage;              /* every count >= 0; every billed dimension is kept */
	bool price_known;            /* false: model missing from the price table */
	int64_t cost_pusd;           /* >= 0; ignored (stored NULL) when !price_known */
	bool batch;                  /* priced at the batch discount */
	bool cached;                 /* answered from the response cache */
	int64_t saved_pusd;          /* >= 0; what a cache hit saved */
	int64_t latency_ms;          /* < 0 = unknown (NULL) */
	int http_status;             /* 0 = none (NULL) */
	const char *request_id;      /* provider request-id; may be NULL */
	const char *error;           /* may be NULL */
	const char *source;          /* the kind of run: "ask", "batch", "console", "proxy",
	                                "demo" or "record" */
	bool estimated;              /* cut short: the counts are what had arrived */
	const char *tag;             /* NULL or "" = untagged; else a valid tag (tag.h) */
	const char *key_hint;        /* a proxied call: the last four characters of its
	                                API key, never more; NULL otherwise */
} am_ledger_event;

/* The most of an API key a ledger row may hold (am_ledger_event.key_hint). */
#define AM_LEDGER_KEY_HINT_MAX 4

/* Local calendar day ("YYYY-MM-DD") of a wall time, by localtime_r: the
 * process's TZ as of its last tzset(). The ledger stores this per event, so
 * a day is the local day when the call was recorded. */
int am_ledger_day(int64_t wall_ns, char out[AM_LEDGER_DAY_LEN], am_err *err);

/* Validates a "YYYY-MM-DD" string: exactly that form and a real date. */
int am_ledger_parse_day(const char *s, am_err *err);

/* Appends one event in one transaction (or a savepoint inside
 * am_ledger_begin). Idempotent by job_id: recording a job that is already
 * in the ledger changes nothing. Returns 1 when the row was added, 0 when
 * the job was already recorded, -1 on error (nothing written). */
int am_ledger_record(am_ledger *l, const am_ledger_event *ev, am_err *err);

/* Replaces every column of the event with row id `id` (a proxied call's
 * row, written estimated before its call and made exact after it) in one
 * transaction (or a savepoint). -1 when there is no such row. */
int am_ledger_rewrite(am_ledger *l, int64_t id, const am_ledger_event *ev, am_err *err);

/* Removes the event with row id `id` (a proxied call that was never billed). */
int am_ledger_forget(am_ledger *l, int64_t id, am_err *err);

/* Appends n events in ONE transaction: all of them or none. Jobs already
 * recorded are skipped. Returns the number of rows added, or -1 (nothing
 * written). For bulk loads and benchmarks; the pipeline records each call
 * with am_ledger_record so that a finished call is durable at once. */
int64_t am_ledger_record_many(am_ledger *l, const am_ledger_event *ev, size_t n, am_err *err);

/* ---- reports ------------------------------------------------------------ */

typedef struct am_ledger_row {
	char day[AM_LEDGER_DAY_LEN];  /* "" unless the report is by day */
	char *model;                  /* heap; "" for the totals row */
	int64_t requests;
	int64_t input_tokens, output_tokens;
	int64_t cache_write;          /* 5m + 1h */
	int64_t cache_write_5m, cache_write_1h;
	int64_t cache_read;
	int64_t cost_pusd;            /* sum over rows with a known price only */
	bool price_known;             /* false if any row had an unknown price */
	int64_t unknown_count;        /* rows with an unknown price */
	int64_t cached;               /* cache hits */
	int64_t saved_pusd;           /* what the cache hits saved */
	int64_t estimated;            /* of requests: cut short, counts estimated */
	bool untagged;                /* by tag: the calls without a tag (model "") */
} am_ledger_row;

typedef struct am_ledger_summary {
	char from[AM_LEDGER_DAY_LEN], to[AM_LEDGER_DAY_LEN];
	bool by_tag;                  /* rows are tags (am_ledger_report_tags): `model`
	                                 holds the tag, "" in the untagged row */
	size_t nrows;
	am_ledger_row *rows;          /* by model; by day then model when by_day */
	am_ledger_row total;          /* every row summed; model "" */
} am_ledger_summary;

/* Spend per model over the local days from..to inclusive (validated
 * "YYYY-MM-DD"; from <= to). With by_day, one row per (day, model).
 * Sums are exact int64: a sum past INT64_MAX is an error, never a wrapped
 * or rounded figure. Reads a per-day summary maintained by triggers, so the
 * cost does not grow with the number of events. Free with
 * am_ledger_summary_free (also after an error). */
int am_ledger_report(am_ledger *l, const char *from_day, const char *to_day, bool by_day,
                     am_ledger_summary *out, am_err *err);
void am_ledger_summary_free(am_ledger_summary *s);

/* Spend per tag over the local days from..to inclusive, as am_ledger_report
 * (by_day: one row per (day, tag)), with by_tag set: each tag's row in tag
 * order, then the untagged calls' row (untagged, model "") when there are
 * any. The untagged row is the days' totals less the tags' sums, so the
 * rows add up to the total exactly. Reads usage_tag_daily and usage_daily
 * (schema 5): a handful of rows at any ledger size. */
int am_ledger_report_tags(am_ledger *l, const char *from_day, const char *to_day, bool by_day,
                          am_ledger_summary *out, am_err *err);

/* A tag's known-price spend over from..to inclusive, in pUSD, and its
 * unknown-price event count (may be NULL), for a tag's daily budget. */
int am_ledger_tag_spend(am_ledger *l, const char *tag, const char *from_day, const char *to_day,
                        int64_t *out_pusd, int64_t *out_unknown, am_err *err);

/* Known-price spend over from..to inclusive, in pUSD, for the budget guard.
 * *out_unknown (may be NULL) receives the number of unknown-price events,
 * which the guard treats conservatively. */
int am_ledger_spend(am_ledger *l, const char *from_day, const char *to_day,
                    int64_t *out_pusd, int64_t *out_unknown, am_err *err);

/* ---- pricing rows again ---------------------------------------------------- */

/* One stored call, as far as its price goes. */
typedef struct am_ledger_stored {
	int64_t id;
	int64_t ts_ns;
	char day[AM_LEDGER_DAY_LEN];  /* the local day the row counts toward */
	const char *model;            /* valid during the callback only */
	am_usage usage;               /* every billed dimension (schema v3) */
	bool batch, cached, price_known, estimated;
	int64_t cost_pusd;            /* 0 when the price is unknown */
} am_ledger_stored;

/* The new price of a row: return 0 with *known and *cost_pusd set (the
 * row's own values leave it unchanged), or -1 with err to stop. */
typedef int (*am_ledger_price_fn)(void *ctx, const am_ledger_stored *row, bool *known,
                                  int64_t *cost_pusd, am_err *err);

/* What a re-pricing changed, per model and in total. */
typedef struct am_ledger_repriced {
	char *model;                  /* heap; "" for the total */
	int64_t rows;                 /* rows looked at */
	int64_t changed;              /* rows whose price or cost moved */
	int64_t newly_known;          /* unknown before, priced now */
	int64_t still_unknown;
	int64_t before_pusd, after_pusd; /* known-price cost before and after */
} am_ledger_repriced;

typedef struct am_ledger_reprice_report {
	size_t n;
	am_ledger_repriced *models;   /* by model id */
	am_ledger_repriced total;
} am_ledger_reprice_report;

/* Prices the rows of local days from..to again with fn, in ONE transaction:
 * all rows when `all`, else only those whose price was unknown. Cache hits
 * (cost 0 by definition) are left alone. Rows whose result differs are
 * updated (the per-day summary follows through its trigger). dry_run
 * computes the report and writes nothing. Free the report with
 * am_ledger_reprice_report_free (also after an error). */
int am_ledger_reprice(am_ledger *l, const char *from_day, const char *to_day, bool all,
                      bool dry_run, am_ledger_price_fn fn, void *ctx,
                      am_ledger_reprice_report *out, am_err *err);
void am_ledger_reprice_report_free(am_ledger_reprice_report *r);

/* ---- settings (limits and budgets changed at run time) ------------------ */

/* Returns 1 and a heap copy in *out_value when `key` is set, 0 (and NULL)
 * when it is not, -1 on error. */
int am_ledger_setting_get(am_ledger *l, const char *key, char **out_value, am_err *err);

/* Inserts or replaces `key`, stamping updated_ns = now_ns (wall ns). */
int am_ledger_setting_set(am_ledger *l, const char *key, const char *value, int64_t now_ns,
                          am_err *err);

/* Removes `key` (a no-op when absent): the value falls back to config. */
int am_ledger_setting_delete(am_ledger *l, const char *key, am_err *err);

/* Calls fn for each setting in key order; a non-zero return from fn stops
 * the walk and is returned. */
typedef int (*am_ledger_setting_fn)(void *ctx, const char *key, const char *value,
                                    int64_t updated_ns);
int am_ledger_settings_each(am_ledger *l, am_ledger_setting_fn fn, void *ctx, am_err *err);

/* ---- settings written together, and changes made by other processes ---- */

/* One step of am_ledger_settings_write: value set = insert or replace key;
 * value NULL = delete every key matching the GLOB pattern `key`
 * ("limits.pools.*.rpm"). */
typedef struct am_ledger_setting_op {
	const char *key;
	const char *value;
} am_ledger_setting_op;

/* Applies ops in order in one transaction (a savepoint inside the caller's):
 * all of them or none. Sets are stamped updated_ns = now_ns. */
int am_ledger_settings_write(am_ledger *l, const am_ledger_setting_op *ops, int n,
                             int64_t now_ns, am_err *err);

/* SQLite's data version of this connection: it changes when another
 * connection (another process sharing the file) commits, never for this
 * connection's own commits. A cheap check before re-reading the settings. */
int am_ledger_data_version(am_ledger *l, int64_t *out, am_err *err);

/* The settings saved in the ledger file at `path`, read without opening it
 * as a ledger: a read-only connection of its own (any thread) that never
 * creates, migrates or writes anything, so that looking at the
 * configuration changes nothing on disk. Calls fn for each row in key order
 * (a row with a NULL key or value is skipped); a non-zero return from fn
 * stops the walk and is returned. 0 when path is "" or no file, or the file
 * has no settings table (nothing was saved). -1 + err with SQLite's own
 * message (e.g. "file is not a database") when the file cannot be read;
 * rows already passed to fn stay passed. */
int am_ledger_settings_peek(const char *path, am_ledger_setting_fn fn, void *ctx, am_err *err);

#endif
