/* test_ledger: the SQLite ledger: schema and migrations, round-trips,
 * idempotent recording, local-day boundaries in other time zones, two
 * processes writing at once, and the clear errors for databases that are
 * read-only, corrupted, locked, full or would overflow. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check_run.h"
#include "clock.h"
#include "ledger.h"
#include "memo.h"
#include "spend.h"
#include "tmpdir.h"

static char dir[512];
static char db[600];

static void setup(void)
{
	ck_assert_int_eq(am_test_tmpdir("ledger", dir, sizeof dir), 0);
	snprintf(db, sizeof db, "%s/sub/dir/aimeter.db", dir);
}

static void teardown(void)
{
	am_test_rmtree(dir);
}

static int64_t utc_ns(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
		         .tm_hour = h, .tm_min = mi, .tm_sec = s };
	return (int64_t)timegm(&tm) * AM_NS_PER_SEC;
}

/* 2024-06-15 12:00 UTC: a plain day in every zone these tests use. */
#define NOON_NS utc_ns(2024, 6, 15, 12, 0, 0)
#define AM_PUSD_PER_USD_TEST 1000000000000LL

static am_ledger_event event(const char *model, int64_t ts, int64_t in, int64_t out,
                             int64_t cost, bool known)
{
	am_ledger_event ev = {
		.ts_ns = ts, .model = model, .model_requested = model,
		.usage = { .input_tokens = in, .output_tokens = out },
		.price_known = known, .cost_pusd = cost, .latency_ms = -1, .source = "record",
	};
	return ev;
}

static am_ledger *open_ok(const char *path)
{
	am_ledger *l = NULL;
	am_err err = {0};
	int rc = am_ledger_open(&l, path, NULL, &err);
	ck_assert_msg(rc == 0, "open %s: %s", path, err.msg);
	return l;
}

/* A ledger at an older schema version v, at DIR/v<v>.db (its path in
 * path). */
static am_ledger *open_old(int v, char path[620])
{
	snprintf(path, 620, "%s/v%d.db", dir, v);
	am_ledger *old = NULL;
	am_ledger_opts o = { .schema_version = v };
	am_err err = {0};
	ck_assert_msg(am_ledger_open(&old, path, &o, &err) == 0, "v%d: %s", v, err.msg);
	return old;
}

static int64_t query_i64(am_ledger *l, const char *sql)
{
	sqlite3_stmt *s;
	ck_assert_int_eq(sqlite3_prepare_v2(am_ledger_db(l), sql, -1, &s, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

/* The schema as text, for comparing a migrated database with a fresh one:
 * sqlite_master without the planner's statistics
 * (sqlite_stat*: PRAGMA optimize at close adds them after queries). */
static char *schema_text(const char *path)
{
	sqlite3 *h;
	sqlite3_stmt *s;
	ck_assert_int_eq(sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(h, "SELECT type, name, tbl_name, coalesce(sql, '') "
	                                       "FROM sqlite_master WHERE name NOT LIKE 'sqlite_stat%' "
	                                       "ORDER BY type, name", -1, &s, NULL),
	                 SQLITE_OK);
	size_t cap = 1 << 16, len = 0;
	char *out = calloc(1, cap);
	while (sqlite3_step(s) == SQLITE_ROW)
		len += (size_t)snprintf(out + len, cap - len, "%s|%s|%s|%s\n", sqlite3_column_text(s, 0),
		                        sqlite3_column_text(s, 1), sqlite3_column_text(s, 2),
		                        sqlite3_column_text(s, 3));
	ck_assert_uint_lt(len, cap);
	sqlite3_finalize(s);
	sqlite3_close(h);
	return out;
}

static void write_file(const char *path, const void *data, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, n), (ssize_t)n);
	close(fd);
}

/* ---- schema and migrations ---------------------------------------------- */

START_TEST(test_open_creates_private_wal_db)
{
	am_ledger *l = open_ok(db);
	struct stat st;
	ck_assert_int_eq(stat(db, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	char parent[600];
	snprintf(parent, sizeof parent, "%s/sub/dir", dir);
	ck_assert_int_eq(stat(parent, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0700);
	ck_assert_int_eq(am_ledger_schema_version(l, NULL), AM_LEDGER_SCHEMA_VERSION);
	ck_assert_int_eq(query_i64(l, "PRAGMA foreign_keys"), 1);
	ck_assert_int_eq(query_i64(l, "PRAGMA synchronous"), 1); /* NORMAL */
	ck_assert_int_eq(query_i64(l, "SELECT journal_mode = 'wal' FROM pragma_journal_mode"), 1);
	ck_assert_int_gt(query_i64(l, "PRAGMA busy_timeout"), 0);
	ck_assert_str_eq(am_ledger_path(l), db);
	/* The tables other modules rely on exist with their documented names. */
	ck_assert_int_eq(query_i64(l, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
	                              "name IN ('usage_events', 'jobs', 'settings', "
	                              "'cache_entries', 'usage_daily')"), 5);
	/* The write-ahead log gets the database's private mode too. */
	am_ledger_event ev = event("m", NOON_NS, 1, 1, 1, true);
	ck_assert_int_eq(am_ledger_record(l, &ev, NULL), 1);
	char wal[620];
	snprintf(wal, sizeof wal, "%s-wal", db);
	ck_assert_int_eq(stat(wal, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	am_ledger_close(l);
}
END_TEST

START_TEST(test_migration_from_empty_and_each_version)
{
	/* The reference: a ledger created fresh at the latest version. */
	char fresh[620];
	snprintf(fresh, sizeof fresh, "%s/fresh.db", dir);
	am_ledger_close(open_ok(fresh));
	char *want = schema_text(fresh);

	/* Version 0 as an empty (0-byte) file, then every earlier version,
	 * each holding an event, a job and a setting where it has the tables. */
	for (int v = 0; v < AM_LEDGER_SCHEMA_VERSION; v++) {
		char path[620];
		snprintf(path, sizeof path, "%s/v%d.db", dir, v);
		int64_t rows = 0;
		if (v == 0) {
			write_file(path, "", 0);
		} else {
			am_ledger *old = NULL;
			am_ledger_opts o = { .schema_version = v };
			am_err err = {0};
			ck_assert_msg(am_ledger_open(&old, path, &o, &err) == 0, "v%d: %s", v, err.msg);
			ck_assert_int_eq(am_ledger_schema_version(old, NULL), v);
			am_ledger_event ev = event("m", NOON_NS, 10, 20, 30, true);
			ck_assert_int_eq(am_ledger_record(old, &ev, &err), 1);
			ck_assert_int_eq(am_ledger_setting_set(old, "k", "v", 1, &err), 0);
			rows = 1;
			am_ledger_close(old);
		}
		am_ledger *l = open_ok(path);
		ck_assert_int_eq(am_ledger_schema_version(l, NULL), AM_LEDGER_SCHEMA_VERSION);
		ck_assert_int_eq(query_i64(l, "SELECT count(*) FROM usage_events"), rows);
		ck_assert_int_eq(query_i64(l, "SELECT count(*) FROM settings"), rows);
		am_ledger_close(l);
		char *got = schema_text(path);
		ck_assert_msg(!strcmp(got, want), "schema migrated from v%d differs:\n%s\nvs fresh:\n%s",
		              v, got, want);
		free(got);
	}
	/* And from nothing at all (the file does not exist). */
	am_ledger_close(open_ok(db));
	char *got = schema_text(db);
	ck_assert_str_eq(got, want);
	free(got);
	free(want);
}
END_TEST

/* PRAGMA user_version holds any 32-bit integer: a negative one is refused
 * by name, before it can pick a migration. */
START_TEST(test_negative_schema_version_refused)
{
	char path[620];
	snprintf(path, sizeof path, "%s/negative.db", dir);
	sqlite3 *h;
	ck_assert_int_eq(sqlite3_open(path, &h), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(h, "CREATE TABLE t(x); PRAGMA user_version = -1", NULL, NULL,
	                              NULL),
	                 SQLITE_OK);
	sqlite3_close(h);
	am_ledger *l = NULL;
	am_err err = {0};
	ck_assert_int_eq(am_ledger_open(&l, path, NULL, &err), -1);
	ck_assert_ptr_null(l);
	ck_assert_msg(strstr(err.msg, "-1") && strstr(err.msg, "not an aimeter ledger"), "%s",
	              err.msg);
	am_ledger_opts ro = { .readonly = true };
	ck_assert_int_eq(am_ledger_open(&l, path, &ro, &err), -1);
	ck_assert_msg(strstr(err.msg, "-1"), "%s", err.msg);
}
END_TEST

/* Schema v3 keeps every billed dimension of a call; a v2 row reads as a
 * plain call. */
START_TEST(test_v3_keeps_every_billed_dimension)
{
	char path[620];
	am_ledger *old = open_old(2, path);
	am_err err = {0};
	am_ledger_event ev = event("claude-opus-4-6", NOON_NS, 10, 20, 30, true);
	ck_assert_int_eq(am_ledger_record(old, &ev, &err), 1);
	am_ledger_close(old);

	am_ledger *l = open_ok(path);
	ck_assert_int_eq(query_i64(l, "SELECT count(*) FROM usage_events WHERE speed IS NULL AND "
	                              "inference_geo IS NULL AND service_tier IS NULL AND "
	                              "web_search_requests = 0 AND estimated = 0"),
	                 1);
	ev = event("claude-opus-5-5", NOON_NS + 1, 100, 200, 300, true);
	snprintf(ev.usage.speed, sizeof ev.usage.speed, "fast");
	snprintf(ev.usage.inference_geo, sizeof ev.usage.inference_geo, "us");
	snprintf(ev.usage.service_tier, sizeof ev.usage.service_tier, "standard");
	ev.usage.web_search_requests = 3;
	ev.usage.web_fetch_requests = 2;
	ev.usage.code_execution_requests = 1;
	ev.estimated = true;
	ck_assert_int_eq(am_ledger_record(l, &ev, &err), 1);
	ck_assert_int_eq(query_i64(l, "SELECT count(*) FROM usage_events WHERE speed = 'fast' AND "
	                              "inference_geo = 'us' AND service_tier = 'standard' AND "
	                              "web_search_requests = 3 AND web_fetch_requests = 2 AND "
	                              "code_execution_requests = 1 AND estimated = 1"),
	                 1);
	ev.job_id = 0;
	ev.usage.web_search_requests = -1;
	ck_assert_int_eq(am_ledger_record(l, &ev, &err), -1);
	am_ledger_close(l);
}
END_TEST

/* The tags step (main's ledger was at version 4): a v4 file keeps its rows,
 * which read as untagged; tag, source and key_hint are written and read
 * back; usage_tag_daily holds only tagged rows and follows every edit. */
START_TEST(test_tags_migrate_and_round_trip)
{
	char path[620];
	am_ledger *old = open_old(4, path);
	am_err err = {0};
	am_ledger_event ev = event("m", NOON_NS, 10, 20, 30, true);
	ev.tag = "ignored-by-v4";
	ck_assert_int_eq(am_ledger_record(old, &ev, &err), 1);
	ck_assert_int_eq(sqlite3_exec(am_ledger_db(old),
	                              "INSERT INTO jobs(state, request, created_ns, updated_ns) "
	                              "VALUES('queued', '{}', 1, 1)", NULL, NULL, NULL),
	                 SQLITE_OK);
	am_ledger_close(old);

	am_ledger *l = open_ok(path);
	ck_assert_int_eq(query_i64(l, "SELECT count(*) FROM usage_events WHERE tag IS NULL AND "
	                              "key_hint IS NULL AND source = 'record' AND cost_pusd = 30"),
	                 1);
	ck_assert_int_eq(query_i64(l, "SELECT count(*) FROM jobs WHERE tag IS NULL"), 1);
	ck_assert_int_eq(query_i64(l, "SELECT count(*) FROM usage_tag_daily"), 0);

	/* Written and read back; "" is untagged like NULL. */
	ev = event("m", NOON_NS + 1, 1, 2, 300, true);
	ev.tag = "nightly-evals";
	ev.source = "proxy";
	ev.key_hint = "wxyz";
	ev.estimated = true;
	ck_assert_int_eq(am_ledger_record(l, &ev, &err), 1);
	ev = event("n", NOON_NS + 2, 5, 6, 7, false);
	ev.tag = "";
	ev.source = "demo";
	ev.key_hint = "";
	ck_assert_int_eq(am_ledger_record(l, &ev, &err), 1);
	ck_assert_int_eq(query_i64(l, "SELECT count(*) FROM usage_events WHERE tag = "
	                              "'nightly-evals' AND source = 'proxy' AND key_hint = 'wxyz'"),
	                 1);
	ck_assert_int_eq(query_i64(l, "SELECT count(*) FROM usage_events WHERE model = 'n' AND "
	                              "tag IS NULL AND key_hint IS NULL AND source = 'demo'"),
	                 1);
	ck_assert_int_eq(query_i64(l, "SELECT count(*) FROM usage_tag_daily"), 1);
	ck_assert_int_eq(query_i64(l, "SELECT cost_pusd * 1000 + requests * 100 + estimated * 10 + "
	                              "input_tokens FROM usage_tag_daily WHERE tag = "
	                              "'nightly-evals'"),
	                 300111);

	/* Refused, nothing written: a bad tag, a key hint longer than four. */
	int64_t before = query_i64(l, "SELECT count(*) FROM usage_events");
	ev = event("m", NOON_NS + 3, 1, 1, 1, true);
	ev.tag = "has space";
	ck_assert_int_eq(am_ledger_record(l, &ev, &err), -1);
	ck_assert_msg(strstr(err.msg, "tag") && strstr(err.msg, "space"), "%s", err.msg);
	char longtag[80];
	memset(longtag, 'x', 65);
	longtag[65] = '\0';
	ev.tag = longtag;
	ck_assert_int_eq(am_ledger_record(l, &ev, &err), -1);
	ck_assert_msg(strstr(err.msg, "64"), "%s", err.msg);
	ev.tag = "bell\a";
	ck_assert_int_eq(am_ledger_record(l, &ev, &err), -1);
	ck_assert_msg(!strchr(err.msg, '\a'), "%s", err.msg);
	ev.tag = "ok";
	ev.key_hint = "sk-ant-1234";
	ck_assert_int_eq(am_ledger_record(l, &ev, &err), -1);
	ck_assert_msg(strstr(err.msg, "key"), "%s", err.msg);
	ck_assert_int_eq(query_i64(l, "SELECT count(*) FROM usage_events"), before);
	longtag[64] = '\0';
	ev.tag = longtag; /* exactly 64: fine */
	ev.key_hint = "1234";
	ck_assert_int_eq(am_ledger_record(l, &ev, &err), 1);

	/* The rollup follows inserts, deletes and updates (tagging, untagging,
	 * moving days, re-pricing) exactly. */
	for (int i = 0; i < 60; i++) {
		ev = event(i % 2 ? "a" : "b", NOON_NS + (int64_t)(i % 3) * 86400 * AM_NS_PER_SEC, i,
		           2 * i, 1000 * i, i % 7 != 0);
		ev.tag = i % 4 == 0 ? NULL : i % 4 == 1 ? "t1" : i % 4 == 2 ? "t2" : "t3";
		ev.usage.cache_write_5m = i % 5;
		ev.usage.cache_write_1h = i % 2;
		ev.usage.cache_read = i;
		ev.cached = i % 11 == 0;
		ev.saved_pusd = ev.cached ? 17 : 0;
		ev.estimated = i % 6 == 0;
		ck_assert_int_eq(am_ledger_record(l, &ev, &err), 1);
	}
	sqlite3 *h = am_ledger_db(l);
	ck_assert_int_eq(sqlite3_exec(h, "DELETE FROM usage_events WHERE id % 5 = 0;"
	                              "UPDATE usage_events SET tag = 't9' WHERE id % 7 = 0;"
	                              "UPDATE usage_events SET tag = NULL WHERE id % 8 = 0;"
	                              "UPDATE usage_events SET cost_pusd = NULL, price_known = 0,"
	                              " estimated = 1 WHERE id % 9 = 0;"
	                              "UPDATE usage_events SET day = '2024-06-20' WHERE id % 13 = 0",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	static const char raw[] =
		"SELECT day, tag, count(*), sum(input_tokens), sum(output_tokens),"
		" sum(cache_write_5m), sum(cache_write_1h), sum(cache_read),"
		" sum(coalesce(cost_pusd, 0)), sum(price_known = 0), sum(cached != 0), sum(saved_pusd),"
		" sum(estimated != 0) FROM usage_events WHERE tag IS NOT NULL"
		" GROUP BY day, tag ORDER BY day, tag";
	static const char kept[] =
		"SELECT day, tag, requests, input_tokens, output_tokens, cache_write_5m,"
		" cache_write_1h, cache_read, cost_pusd, unknown_count, cached, saved_pusd, estimated"
		" FROM usage_tag_daily ORDER BY day, tag";
	sqlite3_stmt *a, *b;
	ck_assert_int_eq(sqlite3_prepare_v2(h, raw, -1, &a, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(h, kept, -1, &b, NULL), SQLITE_OK);
	int rows = 0;
	for (;;) {
		int ra = sqlite3_step(a), rb = sqlite3_step(b);
		ck_assert_int_eq(ra, rb);
		if (ra != SQLITE_ROW)
			break;
		rows++;
		ck_assert_str_eq((const char *)sqlite3_column_text(a, 0),
		                 (const char *)sqlite3_column_text(b, 0));
		ck_assert_str_eq((const char *)sqlite3_column_text(a, 1),
		                 (const char *)sqlite3_column_text(b, 1));
		for (int i = 2; i < 13; i++)
			ck_assert_int_eq(sqlite3_column_int64(a, i), sqlite3_column_int64(b, i));
	}
	ck_assert_int_gt(rows, 8);
	sqlite3_finalize(a);
	sqlite3_finalize(b);
	am_ledger_close(l);
}
END_TEST

/* The report by tag: each tag's row and the untagged rest match the events
 * summed directly, by day and over the range, and the rows add up to the
 * report by model's total exactly. */
START_TEST(test_report_by_tag_adds_up)
{
	am_ledger *l = open_ok(db);
	am_err err = {0};
	for (int i = 0; i < 90; i++) {
		am_ledger_event ev = event(i % 3 ? "a" : "b",
		                           NOON_NS + (int64_t)(i % 4) * 86400 * AM_NS_PER_SEC, i, 2 * i,
		                           1000003 * i, i % 7 != 0);
		ev.tag = i % 5 == 0 ? NULL : i % 5 == 1 ? "zeta" : i % 5 == 2 ? "alpha" : "nightly";
		ev.estimated = i % 6 == 0;
		ev.cached = i % 11 == 0;
		ev.saved_pusd = ev.cached ? 5 : 0;
		ck_assert_int_eq(am_ledger_record(l, &ev, &err), 1);
	}
	static const char raw[] =
		"SELECT coalesce(tag, ''), count(*), sum(input_tokens), sum(output_tokens),"
		" sum(coalesce(cost_pusd, 0)), sum(price_known = 0), sum(cached), sum(saved_pusd),"
		" sum(estimated) FROM usage_events WHERE day BETWEEN '2024-06-16' AND '2024-06-17'"
		" GROUP BY tag IS NULL, tag ORDER BY tag IS NULL, tag";
	am_ledger_summary by_tag, by_model;
	ck_assert_msg(am_ledger_report_tags(l, "2024-06-16", "2024-06-17", false, &by_tag, &err) == 0,
	              "%s", err.msg);
	ck_assert(by_tag.by_tag);
	sqlite3_stmt *s;
	ck_assert_int_eq(sqlite3_prepare_v2(am_ledger_db(l), raw, -1, &s, NULL), SQLITE_OK);
	size_t n = 0;
	while (sqlite3_step(s) == SQLITE_ROW) {
		ck_assert_uint_lt(n, by_tag.nrows);
		const am_ledger_row *r = &by_tag.rows[n++];
		ck_assert_str_eq(r->model, (const char *)sqlite3_column_text(s, 0));
		ck_assert(r->untagged == !*r->model);
		int64_t got[] = { r->requests, r->input_tokens, r->output_tokens, r->cost_pusd,
			          r->unknown_count, r->cached, r->saved_pusd, r->estimated };
		for (int i = 0; i < 8; i++)
			ck_assert_int_eq(got[i], sqlite3_column_int64(s, 1 + i));
	}
	sqlite3_finalize(s);
	ck_assert_uint_eq(n, by_tag.nrows);
	ck_assert_uint_eq(n, 4); /* alpha, nightly, zeta, untagged */
	ck_assert_str_eq(by_tag.rows[0].model, "alpha");
	ck_assert(by_tag.rows[3].untagged);
	ck_assert_int_eq(am_ledger_report(l, "2024-06-16", "2024-06-17", false, &by_model, &err), 0);
	ck_assert_int_eq(by_tag.total.cost_pusd, by_model.total.cost_pusd);
	ck_assert_int_eq(by_tag.total.requests, by_model.total.requests);
	ck_assert_int_eq(by_tag.total.estimated, by_model.total.estimated);
	ck_assert_int_eq(by_tag.total.unknown_count, by_model.total.unknown_count);
	am_ledger_summary_free(&by_tag);
	am_ledger_summary_free(&by_model);

	/* By day: each day's rows add up to that day's total. */
	ck_assert_int_eq(am_ledger_report_tags(l, "2024-06-01", "2024-06-30", true, &by_tag, &err), 0);
	ck_assert_int_eq(am_ledger_report(l, "2024-06-01", "2024-06-30", true, &by_model, &err), 0);
	ck_assert_uint_eq(by_tag.nrows, 16);
	ck_assert_int_eq(by_tag.total.cost_pusd, by_model.total.cost_pusd);
	ck_assert_int_eq(by_tag.total.requests, 90);
	for (size_t i = 0; i < by_tag.nrows; i++) {
		int64_t day_total = 0, tags = 0;
		for (size_t j = 0; j < by_model.nrows; j++)
			if (!strcmp(by_model.rows[j].day, by_tag.rows[i].day))
				day_total += by_model.rows[j].cost_pusd;
		for (size_t j = 0; j < by_tag.nrows; j++)
			if (!strcmp(by_tag.rows[j].day, by_tag.rows[i].day))
				tags += by_tag.rows[j].cost_pusd;
		ck_assert_int_eq(tags, day_total);
	}
	am_ledger_summary_free(&by_tag);
	am_ledger_summary_free(&by_model);

	/* A tag's spend, for its budget; nothing at all is an empty report. */
	int64_t pusd = -1, unknown = -1, want;
	ck_assert_int_eq(am_ledger_tag_spend(l, "nightly", "2024-06-15", "2024-06-15", &pusd,
	                                     &unknown, &err), 0);
	want = query_i64(l, "SELECT sum(coalesce(cost_pusd, 0)) FROM usage_events WHERE tag = "
	                    "'nightly' AND day = '2024-06-15'");
	ck_assert_int_eq(pusd, want);
	ck_assert_int_gt(pusd, 0);
	ck_assert_int_eq(am_ledger_tag_spend(l, "absent", "2024-06-15", "2024-06-15", &pusd,
	                                     &unknown, &err), 0);
	ck_assert_int_eq(pusd, 0);
	ck_assert_int_eq(am_ledger_report_tags(l, "2025-01-01", "2025-01-31", false, &by_tag, &err),
	                 0);
	ck_assert_uint_eq(by_tag.nrows, 0);
	ck_assert_int_eq(by_tag.total.requests, 0);
	am_ledger_summary_free(&by_tag);

	/* A hand edit that makes the summaries disagree is an error, not a
	 * negative untagged row. */
	ck_assert_int_eq(sqlite3_exec(am_ledger_db(l), "UPDATE usage_tag_daily SET cost_pusd = "
	                              "cost_pusd + 1000000000000", NULL, NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(am_ledger_report_tags(l, "2024-06-01", "2024-06-30", false, &by_tag, &err),
	                 -1);
	ck_assert_msg(strstr(err.msg, "usage_tag_daily"), "%s", err.msg);
	am_ledger_summary_free(&by_tag);
	am_ledger_close(l);
}
END_TEST

/* A test pricing: $1 per input token for model "m", unknown otherwise;
 * counts what it saw. */
struct pricer {
	int calls;
	int64_t searches;
};

static int price_m(void *ctx, const am_ledger_stored *row, bool *known, int64_t *cost,
                   am_err *err)
{
	struct pricer *p = ctx;
	(void)err;
	p->calls++;
	p->searches += row->usage.web_search_requests;
	if (strcmp(row->model, "m"))
		return 0; /* unchanged */
	*known = true;
	*cost = row->usage.input_tokens * AM_PUSD_PER_USD_TEST;
	return 0;
}

START_TEST(test_reprice_unknown_then_all)
{
	am_ledger *l = open_ok(db);
	am_err err = {0};
	am_ledger_event a = event("m", NOON_NS, 2, 1, 0, false);
	a.usage.web_search_requests = 4;
	am_ledger_event b = event("m", NOON_NS + 1, 3, 1, 5, true);
	am_ledger_event c = event("other", NOON_NS + 2, 7, 1, 0, false);
	am_ledger_event d = event("m", utc_ns(2024, 6, 20, 12, 0, 0), 9, 1, 0, false);
	ck_assert_int_eq(am_ledger_record(l, &a, &err), 1);
	ck_assert_int_eq(am_ledger_record(l, &b, &err), 1);
	ck_assert_int_eq(am_ledger_record(l, &c, &err), 1);
	ck_assert_int_eq(am_ledger_record(l, &d, &err), 1);
	int64_t spend, unknown;
	ck_assert_int_eq(am_ledger_spend(l, "2024-06-15", "2024-06-15", &spend, &unknown, &err), 0);
	ck_assert_int_eq(spend, 5);
	ck_assert_int_eq(unknown, 2);

	/* a dry run reports and writes nothing */
	struct pricer p = { 0, 0 };
	am_ledger_reprice_report r;
	ck_assert_msg(am_ledger_reprice(l, "2024-06-15", "2024-06-15", false, true, price_m, &p,
	                                &r, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(p.calls, 2); /* the unknown rows of the day only */
	ck_assert_int_eq(p.searches, 4);
	ck_assert_int_eq(r.total.newly_known, 1);
	ck_assert_int_eq(r.total.still_unknown, 1);
	am_ledger_reprice_report_free(&r);
	ck_assert_int_eq(am_ledger_spend(l, "2024-06-15", "2024-06-15", &spend, &unknown, &err), 0);
	ck_assert_int_eq(spend, 5);

	/* the unknown row of "m" gets its price: the total moves by exactly it */
	ck_assert_int_eq(am_ledger_reprice(l, "2024-06-15", "2024-06-15", false, false, price_m, &p,
	                                   &r, &err), 0);
	ck_assert_uint_eq(r.n, 2);
	ck_assert_str_eq(r.models[0].model, "m");
	ck_assert_int_eq(r.models[0].changed, 1);
	ck_assert_int_eq(r.models[0].before_pusd, 0);
	ck_assert_int_eq(r.models[0].after_pusd, 2 * AM_PUSD_PER_USD_TEST);
	ck_assert_str_eq(r.models[1].model, "other");
	ck_assert_int_eq(r.models[1].changed, 0);
	ck_assert_int_eq(r.total.after_pusd - r.total.before_pusd, 2 * AM_PUSD_PER_USD_TEST);
	am_ledger_reprice_report_free(&r);
	ck_assert_int_eq(am_ledger_spend(l, "2024-06-15", "2024-06-15", &spend, &unknown, &err), 0);
	ck_assert_int_eq(spend, 5 + 2 * AM_PUSD_PER_USD_TEST);
	ck_assert_int_eq(unknown, 1);

	/* --all re-prices the priced row too ($3 instead of 5 pUSD) */
	ck_assert_int_eq(am_ledger_reprice(l, "2024-06-15", "2024-06-15", true, false, price_m, &p,
	                                   &r, &err), 0);
	ck_assert_int_eq(r.total.rows, 3);
	ck_assert_int_eq(r.total.changed, 1);
	ck_assert_int_eq(r.total.before_pusd, 5 + 2 * AM_PUSD_PER_USD_TEST);
	ck_assert_int_eq(r.total.after_pusd, 5 * AM_PUSD_PER_USD_TEST);
	am_ledger_reprice_report_free(&r);
	ck_assert_int_eq(am_ledger_spend(l, "2024-06-15", "2024-06-15", &spend, &unknown, &err), 0);
	ck_assert_int_eq(spend, 5 * AM_PUSD_PER_USD_TEST);
	/* the day outside the range was left alone */
	ck_assert_int_eq(am_ledger_spend(l, "2024-06-20", "2024-06-20", &spend, &unknown, &err), 0);
	ck_assert_int_eq(unknown, 1);
	ck_assert_int_eq(am_ledger_reprice(l, "2024-06-16", "2024-06-15", true, false, price_m, &p,
	                                   &r, &err), -1);
	am_ledger_reprice_report_free(&r);
	am_ledger_close(l);
}
END_TEST

START_TEST(test_newer_schema_and_foreign_db_refused)
{
	char path[620];
	snprintf(path, sizeof path, "%s/newer.db", dir);
	sqlite3 *h;
	ck_assert_int_eq(sqlite3_open(path, &h), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(h, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	am_ledger *l = NULL;
	am_err err = {0};
	ck_assert_int_eq(am_ledger_open(&l, path, NULL, &err), -1);
	ck_assert_ptr_null(l);
	ck_assert_msg(strstr(err.msg, "newer") && strstr(err.msg, "99"), "%s", err.msg);

	snprintf(path, sizeof path, "%s/other.db", dir);
	ck_assert_int_eq(sqlite3_open(path, &h), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(h, "CREATE TABLE photos(x)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	ck_assert_int_eq(am_ledger_open(&l, path, NULL, &err), -1);
	ck_assert_msg(strstr(err.msg, "not an aimeter ledger"), "%s", err.msg);
	/* ... and left it alone. */
	ck_assert_int_eq(sqlite3_open(path, &h), SQLITE_OK);
	sqlite3_stmt *s;
	sqlite3_prepare_v2(h, "SELECT count(*) FROM sqlite_master", -1, &s, NULL);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(s, 0), 1);
	sqlite3_finalize(s);
	sqlite3_close(h);
}
END_TEST

/* ---- round trip ------------------------------------------------------------ */

START_TEST(test_round_trip_every_field)
{
	am_ledger *l = open_ok(db);
	am_ledger_event ev = {
		.job_id = 7, .ts_ns = NOON_NS + 123456789, .model_requested = "claude-sonnet-4-5",
		.model = "claude-sonnet-4-5-20250929", .reason = "312 chars < 500",
		.usage = { 11, 22, 33, 44, 55 }, .price_known = true, .cost_pusd = 987654321012345,
		.batch = true, .cached = true, .saved_pusd = 4242, .latency_ms = 1234,
		.http_status = 200, .request_id = "req_011CSHoEeqs5C35K2UUqR7Fy",
		.error = "overloaded_error: Overloaded", .source = "batch",
	};
	am_err err = {0};
	ck_assert_msg(am_ledger_record(l, &ev, &err) == 1, "%s", err.msg);
	sqlite3_stmt *s;
	ck_assert_int_eq(sqlite3_prepare_v2(am_ledger_db(l),
		"SELECT job_id, ts_ns, day, model_requested, model, reason, input_tokens, output_tokens,"
		" cache_write_5m, cache_write_1h, cache_read, cost_pusd, price_known, batch, cached,"
		" saved_pusd, latency_ms, http_status, request_id, error, source FROM usage_events",
		-1, &s, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int64(s, 0), 7);
	ck_assert_int_eq(sqlite3_column_int64(s, 1), NOON_NS + 123456789);
	char day[AM_LEDGER_DAY_LEN];
	ck_assert_int_eq(am_ledger_day(NOON_NS, day, NULL), 0);
	ck_assert_str_eq((const char *)sqlite3_column_text(s, 2), day);
	ck_assert_str_eq((const char *)sqlite3_column_text(s, 3), "claude-sonnet-4-5");
	ck_assert_str_eq((const char *)sqlite3_column_text(s, 4), "claude-sonnet-4-5-20250929");
	ck_assert_str_eq((const char *)sqlite3_column_text(s, 5), "312 chars < 500");
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(sqlite3_column_int64(s, 6 + i), 11 * (i + 1));
	ck_assert_int_eq(sqlite3_column_int64(s, 11), 987654321012345);
	ck_assert_int_eq(sqlite3_column_int(s, 12), 1);
	ck_assert_int_eq(sqlite3_column_int(s, 13), 1);
	ck_assert_int_eq(sqlite3_column_int(s, 14), 1);
	ck_assert_int_eq(sqlite3_column_int64(s, 15), 4242);
	ck_assert_int_eq(sqlite3_column_int64(s, 16), 1234);
	ck_assert_int_eq(sqlite3_column_int(s, 17), 200);
	ck_assert_str_eq((const char *)sqlite3_column_text(s, 18), "req_011CSHoEeqs5C35K2UUqR7Fy");
	ck_assert_str_eq((const char *)sqlite3_column_text(s, 19), "overloaded_error: Overloaded");
	ck_assert_str_eq((const char *)sqlite3_column_text(s, 20), "batch");
	ck_assert_int_eq(sqlite3_step(s), SQLITE_DONE);
	sqlite3_finalize(s);

	/* Unknown price: cost is NULL, never 0, and optional fields are NULL. */
	am_ledger_event u = event("mystery-1", NOON_NS, 5, 6, 999, false);
	ck_assert_int_eq(am_ledger_record(l, &u, &err), 1);
	ck_assert_int_eq(query_i64(l, "SELECT count(*) FROM usage_events WHERE model = 'mystery-1'"
	                              " AND cost_pusd IS NULL AND price_known = 0 AND job_id IS NULL"
	                              " AND latency_ms IS NULL AND http_status IS NULL"
	                              " AND request_id IS NULL AND error IS NULL"), 1);

	am_ledger_summary sum;
	ck_assert_int_eq(am_ledger_report(l, day, day, false, &sum, &err), 0);
	ck_assert_uint_eq(sum.nrows, 2);
	ck_assert_str_eq(sum.rows[0].model, "claude-sonnet-4-5-20250929");
	ck_assert_int_eq(sum.rows[0].requests, 1);
	ck_assert_int_eq(sum.rows[0].input_tokens, 11);
	ck_assert_int_eq(sum.rows[0].output_tokens, 22);
	ck_assert_int_eq(sum.rows[0].cache_write, 77);
	ck_assert_int_eq(sum.rows[0].cache_read, 55);
	ck_assert_int_eq(sum.rows[0].cost_pusd, 987654321012345);
	ck_assert(sum.rows[0].price_known);
	ck_assert_int_eq(sum.rows[0].cached, 1);
	ck_assert_int_eq(sum.rows[0].saved_pusd, 4242);
	ck_assert_str_eq(sum.rows[1].model, "mystery-1");
	ck_assert(!sum.rows[1].price_known);
	ck_assert_int_eq(sum.rows[1].unknown_count, 1);
	ck_assert_int_eq(sum.rows[1].cost_pusd, 0);
	ck_assert_int_eq(sum.total.requests, 2);
	ck_assert_int_eq(sum.total.cost_pusd, 987654321012345);
	ck_assert(!sum.total.price_known);
	am_ledger_summary_free(&sum);

	int64_t spend, unknown;
	ck_assert_int_eq(am_ledger_spend(l, day, day, &spend, &unknown, &err), 0);
	ck_assert_int_eq(spend, 987654321012345);
	ck_assert_int_eq(unknown, 1);
	ck_assert_int_eq(am_ledger_spend(l, "2000-01-01", "2000-01-31", &spend, NULL, &err), 0);
	ck_assert_int_eq(spend, 0);
	am_ledger_close(l);

	/* It is all still there after reopening. */
	l = open_ok(db);
	ck_assert_int_eq(query_i64(l, "SELECT count(*) FROM usage_events"), 2);
	am_ledger_close(l);
}
END_TEST

START_TEST(test_idempotent_by_job_id)
{
	am_ledger *l = open_ok(db);
	am_err err = {0};
	am_ledger_event ev = event("m", NOON_NS, 100, 10, 5000, true);
	ev.job_id = 42;
	ck_assert_int_eq(am_ledger_record(l, &ev, &err), 1);
	ev.usage.input_tokens = 999; /* a re-sent job's second answer changes nothing */
	ck_assert_int_eq(am_ledger_record(l, &ev, &err), 0);
	ck_assert_int_eq(query_i64(l, "SELECT count(*) FROM usage_events"), 1);
	ck_assert_int_eq(query_i64(l, "SELECT input_tokens FROM usage_events"), 100);

	/* Events without a job never collide. */
	am_ledger_event free_ev = event("m", NOON_NS, 1, 1, 1, true);
	ck_assert_int_eq(am_ledger_record(l, &free_ev, &err), 1);
	ck_assert_int_eq(am_ledger_record(l, &free_ev, &err), 1);

	/* The batch path skips recorded jobs and counts only what it added. */
	am_ledger_event many[4];
	for (int i = 0; i < 4; i++) {
		many[i] = event("m", NOON_NS, 1, 1, 1, true);
		many[i].job_id = 41 + i; /* 42 is already there; 43 appears twice */
	}
	many[3].job_id = 43;
	ck_assert_int_eq(am_ledger_record_many(l, many, 4, &err), 2);
	ck_assert_int_eq(query_i64(l, "SELECT count(*) FROM usage_events"), 5);

	char day[AM_LEDGER_DAY_LEN];
	am_ledger_day(NOON_NS, day, NULL);
	am_ledger_summary sum;
	ck_assert_int_eq(am_ledger_report(l, day, day, false, &sum, &err), 0);
	ck_assert_int_eq(sum.total.requests, 5);
	ck_assert_int_eq(sum.total.input_tokens, 100 + 2 + 2);
	am_ledger_summary_free(&sum);
	am_ledger_close(l);
}
END_TEST

START_TEST(test_bad_events_write_nothing)
{
	am_ledger *l = open_ok(db);
	am_err err = {0};
	am_ledger_event ev = event("m", NOON_NS, -1, 1, 1, true);
	ck_assert_int_eq(am_ledger_record(l, &ev, &err), -1);
	ck_assert_msg(strstr(err.msg, "negative"), "%s", err.msg);
	ev = event("", NOON_NS, 1, 1, 1, true);
	ck_assert_int_eq(am_ledger_record(l, &ev, &err), -1);
	ev = event("m", NOON_NS, 1, 1, -5, true);
	ck_assert_int_eq(am_ledger_record(l, &ev, &err), -1);
	ev = event("m", NOON_NS, 1, 1, 1, true);
	ev.source = "elsewhere";
	ck_assert_int_eq(am_ledger_record(l, &ev, &err), -1);
	ck_assert_msg(strstr(err.msg, "source"), "%s", err.msg);
	/* One bad event in a batch rolls the whole batch back. */
	am_ledger_event many[3] = { event("a", NOON_NS, 1, 1, 1, true),
		                    event("b", NOON_NS, 1, 1, 1, true),
		                    event("c", NOON_NS, -1, 1, 1, true) };
	ck_assert_int_eq(am_ledger_record_many(l, many, 3, &err), -1);
	ck_assert_msg(strstr(err.msg, "event 3 of 3"), "%s", err.msg);
	ck_assert_int_eq(query_i64(l, "SELECT count(*) FROM usage_events"), 0);
	ck_assert_int_eq(query_i64(l, "SELECT count(*) FROM usage_daily"), 0);
	am_ledger_close(l);
}
END_TEST

START_TEST(test_caller_transaction_is_atomic)
{
	am_ledger *l = open_ok(db);
	am_err err = {0};
	am_ledger_event ev = event("m", NOON_NS, 1, 1, 1, true);
	ev.job_id = 1;
	ck_assert_int_eq(am_ledger_begin(l, &err), 0);
	ck_assert_int_eq(am_ledger_begin(l, &err), -1); /* not nestable */
	ck_assert_int_eq(am_ledger_record(l, &ev, &err), 1);
	ck_assert_int_eq(sqlite3_exec(am_ledger_db(l), "INSERT INTO jobs(state, request, created_ns,"
	                              " updated_ns) VALUES('done', '{}', 1, 1)", NULL, NULL, NULL),
	                 SQLITE_OK);
	/* A failed write inside the transaction undoes only itself. */
	am_ledger_event bad = event("m", NOON_NS, -1, 1, 1, true);
	ck_assert_int_eq(am_ledger_record(l, &bad, &err), -1);
	am_ledger_rollback(l);
	ck_assert_int_eq(query_i64(l, "SELECT count(*) FROM usage_events"), 0);
	ck_assert_int_eq(query_i64(l, "SELECT count(*) FROM jobs"), 0);
	ck_assert_int_eq(query_i64(l, "SELECT count(*) FROM usage_daily"), 0);

	ck_assert_int_eq(am_ledger_begin(l, &err), 0);
	ck_assert_int_eq(am_ledger_record(l, &ev, &err), 1);
	ck_assert_int_eq(am_ledger_record(l, &bad, &err), -1);
	ck_assert_msg(am_ledger_commit(l, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(query_i64(l, "SELECT count(*) FROM usage_events"), 1);
	ck_assert_int_eq(am_ledger_commit(l, &err), -1);
	am_ledger_rollback(l); /* harmless with nothing open */
	am_ledger_close(l);
}
END_TEST

/* The per-day summary follows inserts, hand deletes and hand updates. */
START_TEST(test_summary_follows_edits)
{
	am_ledger *l = open_ok(db);
	am_err err = {0};
	for (int i = 0; i < 60; i++) {
		am_ledger_event ev = event(i % 3 == 0 ? "a" : i % 3 == 1 ? "b" : "c",
		                           NOON_NS + (int64_t)(i % 4) * 86400 * AM_NS_PER_SEC,
		                           i, 2 * i, 1000 * i, i % 7 != 0);
		ev.usage.cache_write_5m = i % 5;
		ev.usage.cache_write_1h = i % 2;
		ev.usage.cache_read = i;
		ev.cached = i % 11 == 0;
		ev.saved_pusd = ev.cached ? 17 : 0;
		ck_assert_int_eq(am_ledger_record(l, &ev, &err), 1);
	}
	sqlite3 *h = am_ledger_db(l);
	ck_assert_int_eq(sqlite3_exec(h, "DELETE FROM usage_events WHERE id % 5 = 0;"
	                              "UPDATE usage_events SET model = 'd', cost_pusd = NULL,"
	                              " price_known = 0 WHERE id % 9 = 0;"
	                              "UPDATE usage_events SET input_tokens = input_tokens + 1000,"
	                              " day = '2024-06-20' WHERE id % 13 = 0", NULL, NULL, NULL),
	                 SQLITE_OK);
	static const char raw[] =
		"SELECT day, model, count(*), sum(input_tokens), sum(output_tokens),"
		" sum(cache_write_5m), sum(cache_write_1h), sum(cache_read),"
		" sum(coalesce(cost_pusd, 0)), sum(price_known = 0), sum(cached != 0), sum(saved_pusd)"
		" FROM usage_events GROUP BY day, model ORDER BY day, model";
	sqlite3_stmt *s;
	ck_assert_int_eq(sqlite3_prepare_v2(h, raw, -1, &s, NULL), SQLITE_OK);
	am_ledger_summary sum;
	ck_assert_int_eq(am_ledger_report(l, "2024-01-01", "2024-12-31", true, &sum, &err), 0);
	size_t n = 0;
	while (sqlite3_step(s) == SQLITE_ROW) {
		ck_assert_uint_lt(n, sum.nrows);
		const am_ledger_row *r = &sum.rows[n++];
		ck_assert_str_eq(r->day, (const char *)sqlite3_column_text(s, 0));
		ck_assert_str_eq(r->model, (const char *)sqlite3_column_text(s, 1));
		int64_t want[] = { r->requests, r->input_tokens, r->output_tokens, r->cache_write_5m,
			           r->cache_write_1h, r->cache_read, r->cost_pusd, r->unknown_count,
			           r->cached, r->saved_pusd };
		for (int i = 0; i < 10; i++)
			ck_assert_int_eq(want[i], sqlite3_column_int64(s, 2 + i));
	}
	ck_assert_uint_eq(n, sum.nrows);
	ck_assert_uint_gt(n, 8);
	sqlite3_finalize(s);
	am_ledger_summary_free(&sum);
	am_ledger_close(l);
}
END_TEST

static int collect_setting(void *ctx, const char *k, const char *val, int64_t ns)
{
	char *seen = ctx;
	size_t len = strlen(seen);
	snprintf(seen + len, 256 - len, "%s=%s@%lld;", k, val, (long long)ns);
	return 0;
}

START_TEST(test_settings)
{
	am_ledger *l = open_ok(db);
	am_err err = {0};
	char *v = (char *)"x";
	ck_assert_int_eq(am_ledger_setting_get(l, "budget.daily_usd", &v, &err), 0);
	ck_assert_ptr_null(v);
	ck_assert_int_eq(am_ledger_setting_set(l, "budget.daily_usd", "25", 100, &err), 0);
	ck_assert_int_eq(am_ledger_setting_set(l, "limits.rpm", "50", 101, &err), 0);
	ck_assert_int_eq(am_ledger_setting_set(l, "budget.daily_usd", "30.5", 102, &err), 0);
	ck_assert_int_eq(am_ledger_setting_get(l, "budget.daily_usd", &v, &err), 1);
	ck_assert_str_eq(v, "30.5");
	free(v);
	ck_assert_int_eq(am_ledger_setting_set(l, "", "x", 1, &err), -1);
	ck_assert_int_eq(query_i64(l, "SELECT updated_ns FROM settings WHERE key = 'budget.daily_usd'"),
	                 102);
	char seen[256] = "";
	ck_assert_int_eq(am_ledger_settings_each(l, collect_setting, seen, &err), 0);
	ck_assert_str_eq(seen, "budget.daily_usd=30.5@102;limits.rpm=50@101;");
	ck_assert_int_eq(am_ledger_setting_delete(l, "limits.rpm", &err), 0);
	ck_assert_int_eq(am_ledger_setting_delete(l, "limits.rpm", &err), 0);
	ck_assert_int_eq(am_ledger_setting_get(l, "limits.rpm", &v, &err), 0);
	am_ledger_close(l);
}
END_TEST

static int stop_at_first(void *ctx, const char *k, const char *val, int64_t ns)
{
	(void)k, (void)val, (void)ns;
	++*(int *)ctx;
	return 7;
}

/* Peeking at the saved settings reads a ledger as it is: no file, no table
 * and an old schema are all "nothing saved" or the rows there, and nothing
 * is created or migrated on the way. */
START_TEST(test_settings_peek_changes_nothing)
{
	am_err err = {0};
	char seen[256] = "";
	ck_assert_int_eq(am_ledger_settings_peek("", collect_setting, seen, &err), 0);
	ck_assert_int_eq(am_ledger_settings_peek(db, collect_setting, seen, &err), 0);
	ck_assert_int_eq(access(db, F_OK), -1); /* not created */
	ck_assert_str_eq(seen, "");

	/* A ledger of schema 1 with two settings: read, not migrated. */
	am_ledger_opts v1 = { .schema_version = 1 };
	am_ledger *l = NULL;
	ck_assert_msg(am_ledger_open(&l, db, &v1, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(am_ledger_setting_set(l, "limits.rpm", "50", 101, &err), 0);
	ck_assert_int_eq(am_ledger_setting_set(l, "budget.daily_usd", "25", 100, &err), 0);
	am_ledger_close(l);
	ck_assert_int_eq(am_ledger_settings_peek(db, collect_setting, seen, &err), 0);
	ck_assert_str_eq(seen, "budget.daily_usd=25@100;limits.rpm=50@101;");
	sqlite3 *h;
	ck_assert_int_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_stmt *st;
	ck_assert_int_eq(sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(st, 0), 1);
	sqlite3_finalize(st);
	sqlite3_close(h);

	/* A non-zero return stops the walk and is returned. */
	int calls = 0;
	ck_assert_int_eq(am_ledger_settings_peek(db, stop_at_first, &calls, &err), 7);
	ck_assert_int_eq(calls, 1);

	/* An SQLite file without the table: nothing saved. */
	char other[700];
	snprintf(other, sizeof other, "%s/other.db", dir);
	ck_assert_int_eq(sqlite3_open(other, &h), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(h, "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	seen[0] = '\0';
	ck_assert_int_eq(am_ledger_settings_peek(other, collect_setting, seen, &err), 0);
	ck_assert_str_eq(seen, "");

	/* A file that is no database: an error in SQLite's words. */
	char junk[700];
	snprintf(junk, sizeof junk, "%s/junk.db", dir);
	char text[4096];
	memset(text, 'x', sizeof text);
	write_file(junk, text, sizeof text);
	ck_assert_int_eq(am_ledger_settings_peek(junk, collect_setting, seen, &err), -1);
	ck_assert_msg(strstr(err.msg, "not a database"), "%s", err.msg);
}
END_TEST

/* ---- local days ------------------------------------------------------------ */

static void expect_day(int64_t ns, const char *want)
{
	char got[AM_LEDGER_DAY_LEN];
	am_err err = {0};
	ck_assert_msg(am_ledger_day(ns, got, &err) == 0, "%s", err.msg);
	ck_assert_msg(!strcmp(got, want), "TZ=%s %lld ns: got %s, want %s", getenv("TZ"),
	              (long long)ns, got, want);
}

static void set_tz(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

/* POSIX TZ rules, so that the test needs no tzdata: the same offsets and
 * DST changes as America/Los_Angeles and Asia/Kolkata. */
#define TZ_LA      "PST8PDT,M3.2.0,M11.1.0"
#define TZ_KOLKATA "IST-5:30"

START_TEST(test_day_boundaries_non_utc)
{
	set_tz(TZ_LA);
	/* 2024-03-09 23:59:59 PST = 07:59:59 UTC next day. */
	int64_t last = utc_ns(2024, 3, 10, 7, 59, 59);
	expect_day(last, "2024-03-09");
	expect_day(last + AM_NS_PER_SEC - 1, "2024-03-09"); /* 23:59:59.999999999 */
	expect_day(last + AM_NS_PER_SEC, "2024-03-10");     /* 00:00:00 */
	/* The day after the spring change is on PDT (UTC-7). */
	expect_day(utc_ns(2024, 3, 11, 6, 59, 59), "2024-03-10");
	expect_day(utc_ns(2024, 3, 11, 7, 0, 0), "2024-03-11");
	/* The 25-hour day in November. */
	expect_day(utc_ns(2024, 11, 3, 7, 0, 0), "2024-11-03");
	expect_day(utc_ns(2024, 11, 4, 7, 59, 59), "2024-11-03");
	expect_day(utc_ns(2024, 11, 4, 8, 0, 0), "2024-11-04");

	set_tz(TZ_KOLKATA);
	int64_t k_last = utc_ns(2024, 6, 30, 18, 29, 59); /* 23:59:59 IST */
	expect_day(k_last, "2024-06-30");
	expect_day(k_last + AM_NS_PER_SEC, "2024-07-01");

	set_tz("UTC0");
	expect_day(k_last, "2024-06-30");
	expect_day(-1, "1969-12-31"); /* floor, not truncation, before the epoch */
	expect_day(0, "1970-01-01");

	/* Through the ledger: events land on the local day of their time. */
	set_tz(TZ_KOLKATA);
	am_ledger *l = open_ok(db);
	am_err err = {0};
	am_ledger_event a = event("m", k_last, 1, 0, 10, true);
	am_ledger_event b = event("m", k_last + AM_NS_PER_SEC, 2, 0, 20, true);
	ck_assert_int_eq(am_ledger_record(l, &a, &err), 1);
	ck_assert_int_eq(am_ledger_record(l, &b, &err), 1);
	int64_t spend;
	ck_assert_int_eq(am_ledger_spend(l, "2024-06-30", "2024-06-30", &spend, NULL, &err), 0);
	ck_assert_int_eq(spend, 10);
	ck_assert_int_eq(am_ledger_spend(l, "2024-07-01", "2024-07-01", &spend, NULL, &err), 0);
	ck_assert_int_eq(spend, 20);
	ck_assert_int_eq(am_ledger_spend(l, "2024-06-30", "2024-07-01", &spend, NULL, &err), 0);
	ck_assert_int_eq(spend, 30);
	/* The same instants are both on 2024-06-30 in Los Angeles. */
	set_tz(TZ_LA);
	am_ledger_event c = event("m", k_last, 4, 0, 40, true);
	am_ledger_event d = event("m", k_last + AM_NS_PER_SEC, 8, 0, 80, true);
	ck_assert_int_eq(am_ledger_record(l, &c, &err), 1);
	ck_assert_int_eq(am_ledger_record(l, &d, &err), 1);
	ck_assert_int_eq(am_ledger_spend(l, "2024-06-30", "2024-06-30", &spend, NULL, &err), 0);
	ck_assert_int_eq(spend, 10 + 40 + 80);
	am_ledger_close(l);
}
END_TEST

START_TEST(test_parse_day)
{
	const char *good[] = { "2024-02-29", "2000-02-29", "2023-12-31", "0001-01-01", "9999-12-31" };
	const char *bad[] = { "2023-02-29", "1900-02-29", "2024-13-01", "2024-00-10", "2024-04-31",
		              "2024-4-01", "2024-04-1", "24-04-01", "2024/04/01", "2024-04-01x",
		              "", "0000-01-01", "２０２４-01-01", "2024-04-00" };
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		ck_assert_msg(am_ledger_parse_day(good[i], NULL) == 0, "%s", good[i]);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		am_err err = {0};
		ck_assert_msg(am_ledger_parse_day(bad[i], &err) == -1, "%s", bad[i]);
		ck_assert_ptr_nonnull(strstr(err.msg, "date"));
	}
	am_ledger *l = open_ok(db);
	am_ledger_summary sum;
	am_err err = {0};
	ck_assert_int_eq(am_ledger_report(l, "2024-02-02", "2024-02-01", false, &sum, &err), -1);
	ck_assert_msg(strstr(err.msg, "ends before"), "%s", err.msg);
	am_ledger_summary_free(&sum);
	ck_assert_int_eq(am_ledger_report(l, "2024-02-30", "2024-03-01", false, &sum, &err), -1);
	am_ledger_summary_free(&sum);
	am_ledger_close(l);
}
END_TEST

/* ---- concurrency ----------------------------------------------------------- */

enum { WRITERS = 2, PER_WRITER = 300 };

static int writer(int w, int go_fd)
{
	char c;
	if (read(go_fd, &c, 1) < 0) /* wait until both are ready, then race */
		return 3;
	am_ledger *l = NULL;
	am_err err = {0};
	if (am_ledger_open(&l, db, NULL, &err)) {
		fprintf(stderr, "writer %d: %s\n", w, err.msg);
		return 1;
	}
	for (int i = 0; i < PER_WRITER; i++) {
		am_ledger_event ev = event(w ? "w1" : "w0", NOON_NS + i, i, 1, 1000 + i, true);
		ev.job_id = (int64_t)w * 1000000 + i + 1;
		if (am_ledger_record(l, &ev, &err) != 1) {
			fprintf(stderr, "writer %d event %d: %s\n", w, i, err.msg);
			am_ledger_close(l);
			return 2;
		}
	}
	am_ledger_close(l);
	return 0;
}

START_TEST(test_two_processes_write_at_once)
{
	/* Both open the fresh file at the same moment: the schema is created
	 * once, and every event from both is there. */
	int go[2];
	ck_assert_int_eq(pipe(go), 0);
	pid_t pid[WRITERS];
	for (int w = 0; w < WRITERS; w++) {
		pid[w] = fork();
		ck_assert_int_ge(pid[w], 0);
		if (pid[w] == 0) {
			close(go[1]);
			_exit(writer(w, go[0]));
		}
	}
	close(go[0]);
	close(go[1]); /* EOF releases both writers together */
	for (int w = 0; w < WRITERS; w++) {
		int status;
		ck_assert_int_eq(waitpid(pid[w], &status, 0), pid[w]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		              "writer %d failed (status %d)", w, status);
	}
	am_ledger *l = open_ok(db);
	ck_assert_int_eq(query_i64(l, "SELECT count(*) FROM usage_events"), WRITERS * PER_WRITER);
	ck_assert_int_eq(query_i64(l, "SELECT count(DISTINCT job_id) FROM usage_events"),
	                 WRITERS * PER_WRITER);
	char day[AM_LEDGER_DAY_LEN];
	am_ledger_day(NOON_NS, day, NULL);
	int64_t spend, want = 0;
	for (int i = 0; i < PER_WRITER; i++)
		want += WRITERS * (1000 + i);
	ck_assert_int_eq(am_ledger_spend(l, day, day, &spend, NULL, NULL), 0);
	ck_assert_int_eq(spend, want);
	am_ledger_close(l);
}
END_TEST

/* ---- errors ---------------------------------------------------------------- */

static int try_open_write(const char *path, char *msg, size_t n)
{
	am_ledger *l = NULL;
	am_err err = {0};
	int rc = am_ledger_open(&l, path, NULL, &err);
	if (rc == 0) {
		am_ledger_event ev = event("m", NOON_NS, 1, 1, 1, true);
		rc = am_ledger_record(l, &ev, &err) == 1 ? 0 : -1;
		am_ledger_close(l);
	}
	snprintf(msg, n, "%s", err.msg);
	return rc;
}

START_TEST(test_read_only_db_is_a_clear_error)
{
	am_ledger_close(open_ok(db));
	char sub[600];
	snprintf(sub, sizeof sub, "%s/sub/dir", dir);
	/* Root ignores permission bits: drop to an unprivileged user in a child. */
	ck_assert_int_eq(chmod(dir, 0755), 0);
	ck_assert_int_eq(chmod(db, 0444), 0);
	char sub1[600];
	snprintf(sub1, sizeof sub1, "%s/sub", dir);
	ck_assert_int_eq(chmod(sub1, 0755), 0);
	ck_assert_int_eq(chmod(sub, 0555), 0);
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		if (geteuid() == 0 && (setgid(65534) || setuid(65534)))
			_exit(9);
		char msg[AM_ERR_MAX];
		int rc = try_open_write(db, msg, sizeof msg);
		/* Read-only opening still reads it (what `report` falls back to). */
		am_ledger *l = NULL;
		am_err err = {0};
		am_ledger_opts ro = { .readonly = true };
		int ro_rc = am_ledger_open(&l, db, &ro, &err);
		int64_t spend = -1;
		if (ro_rc == 0) {
			char day[AM_LEDGER_DAY_LEN];
			am_ledger_day(NOON_NS, day, NULL);
			ro_rc = am_ledger_spend(l, day, day, &spend, NULL, &err);
			am_ledger_close(l);
		}
		dprintf(fds[1], "%d|%s|%d|%lld|%s", rc, msg, ro_rc, (long long)spend, err.msg);
		_exit(0);
	}
	close(fds[1]);
	char buf[2048] = "";
	ssize_t n = 0, got;
	while ((got = read(fds[0], buf + n, sizeof buf - 1 - (size_t)n)) > 0)
		n += got;
	close(fds[0]);
	int status;
	waitpid(pid, &status, 0);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
	ck_assert_msg(!strncmp(buf, "-1|", 3), "writing a read-only ledger did not fail: %s", buf);
	ck_assert_msg(strstr(buf, "read-only") && strstr(buf, db), "unclear error: %s", buf);
	ck_assert_msg(strstr(buf, "|0|0|"), "read-only open could not read: %s", buf);
}
END_TEST

START_TEST(test_readonly_option_refuses_writes)
{
	am_ledger_close(open_ok(db));
	am_ledger *l = NULL;
	am_err err = {0};
	am_ledger_opts ro = { .readonly = true };
	ck_assert_int_eq(am_ledger_open(&l, db, &ro, &err), 0);
	am_ledger_event ev = event("m", NOON_NS, 1, 1, 1, true);
	ck_assert_int_eq(am_ledger_record(l, &ev, &err), -1);
	ck_assert_msg(strstr(err.msg, "read-only"), "%s", err.msg);
	am_ledger_close(l);
	char missing[620];
	snprintf(missing, sizeof missing, "%s/none.db", dir);
	ck_assert_int_eq(am_ledger_open(&l, missing, &ro, &err), -1);
	ck_assert_msg(strstr(err.msg, "no ledger"), "%s", err.msg);
	ck_assert_int_eq(access(missing, F_OK), -1); /* and did not create it */
}
END_TEST

START_TEST(test_corrupted_file_is_a_clear_error)
{
	char path[620];
	snprintf(path, sizeof path, "%s/garbage.db", dir);
	char junk[8192];
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = "this is not an SQLite database\n"[i % 31];
	write_file(path, junk, sizeof junk);
	am_ledger *l = NULL;
	am_err err = {0};
	ck_assert_int_eq(am_ledger_open(&l, path, NULL, &err), -1);
	ck_assert_msg(strstr(err.msg, "file is not a database") && strstr(err.msg, path), "%s",
	              err.msg);

	/* A real ledger whose pages after the first were overwritten. */
	l = open_ok(db);
	for (int i = 0; i < 300; i++) {
		am_ledger_event ev = event(i % 2 ? "a" : "b", NOON_NS + i, i, i, i, true);
		ck_assert_int_eq(am_ledger_record(l, &ev, NULL), 1);
	}
	am_ledger_close(l);
	int fd = open(db, O_WRONLY);
	struct stat st;
	fstat(fd, &st);
	memset(junk, 0xA5, sizeof junk);
	for (off_t off = 4096; off < st.st_size; off += (off_t)sizeof junk)
		ck_assert_int_gt(pwrite(fd, junk, sizeof junk, off), 0);
	close(fd);
	int rc = am_ledger_open(&l, db, NULL, &err);
	if (rc == 0) {
		am_ledger_summary sum;
		char day[AM_LEDGER_DAY_LEN];
		am_ledger_day(NOON_NS, day, NULL);
		rc = am_ledger_report(l, day, day, false, &sum, &err);
		am_ledger_summary_free(&sum);
		am_ledger_close(l);
	}
	ck_assert_int_eq(rc, -1);
	ck_assert_msg(strstr(err.msg, "corrupt") || strstr(err.msg, "malformed"), "%s", err.msg);
}
END_TEST

START_TEST(test_locked_db_is_a_clear_error)
{
	am_ledger *l = NULL;
	am_err err = {0};
	am_ledger_opts o = { .busy_timeout_ms = 50 };
	ck_assert_int_eq(am_ledger_open(&l, db, &o, &err), 0);
	sqlite3 *other;
	ck_assert_int_eq(sqlite3_open(db, &other), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(other, "BEGIN IMMEDIATE; INSERT INTO settings"
	                              " VALUES('x', 'y', 0)", NULL, NULL, NULL), SQLITE_OK);
	am_ledger_event ev = event("m", NOON_NS, 1, 1, 1, true);
	ck_assert_int_eq(am_ledger_record(l, &ev, &err), -1);
	ck_assert_msg(strstr(err.msg, "locked by another process") && strstr(err.msg, "50 ms"), "%s",
	              err.msg);
	/* Readers are not blocked by a writer under WAL. */
	int64_t spend;
	ck_assert_int_eq(am_ledger_spend(l, "2024-01-01", "2024-12-31", &spend, NULL, &err), 0);
	ck_assert_int_eq(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(other);
	ck_assert_int_eq(am_ledger_record(l, &ev, &err), 1);
	am_ledger_close(l);
}
END_TEST

START_TEST(test_disk_full_is_a_clear_error)
{
	am_ledger *l = open_ok(db);
	sqlite3 *h = am_ledger_db(l);
	/* A page budget stands in for a full disk: SQLite reports SQLITE_FULL. */
	ck_assert_int_eq(sqlite3_exec(h, "PRAGMA max_page_count = 40", NULL, NULL, NULL), SQLITE_OK);
	char long_error[3000];
	memset(long_error, 'e', sizeof long_error - 1);
	long_error[sizeof long_error - 1] = '\0';
	am_err err = {0};
	int ok = 0, rc = 0;
	for (int i = 0; i < 1000 && rc == 0; i++) {
		am_ledger_event ev = event("m", NOON_NS, 1, 1, 1, true);
		ev.error = long_error;
		rc = am_ledger_record(l, &ev, &err);
		if (rc == 1) {
			ok++;
			rc = 0;
		}
	}
	ck_assert_int_eq(rc, -1);
	ck_assert_msg(strstr(err.msg, "disk full") && strstr(err.msg, db), "%s", err.msg);
	ck_assert_int_gt(ok, 0);
	/* Nothing half-written, and the ledger goes on once there is room. */
	ck_assert_int_eq(query_i64(l, "SELECT count(*) FROM usage_events"), ok);
	ck_assert_int_eq(query_i64(l, "SELECT requests FROM usage_daily"), ok);
	ck_assert_int_eq(sqlite3_exec(h, "PRAGMA max_page_count = 1000000", NULL, NULL, NULL),
	                 SQLITE_OK);
	am_ledger_event ev = event("m", NOON_NS, 1, 1, 1, true);
	ck_assert_int_eq(am_ledger_record(l, &ev, &err), 1);
	am_ledger_close(l);
}
END_TEST

START_TEST(test_overflowing_sums_are_errors)
{
	am_ledger *l = open_ok(db);
	am_err err = {0};
	int64_t day_ns = 86400 * AM_NS_PER_SEC;
	/* Same day and model: the summary row would overflow; the write fails. */
	am_ledger_event big = event("a", NOON_NS, 1, 1, INT64_MAX - 10, true);
	am_ledger_event more = event("a", NOON_NS, 1, 1, 100, true);
	ck_assert_int_eq(am_ledger_record(l, &big, &err), 1);
	ck_assert_int_eq(am_ledger_record(l, &more, &err), -1);
	ck_assert_msg(strstr(err.msg, "int64"), "%s", err.msg);
	ck_assert_int_eq(query_i64(l, "SELECT count(*) FROM usage_events"), 1);
	/* Across days: SUM() overflows in the range report. */
	am_ledger_event next_day = event("a", NOON_NS + day_ns, 1, 1, 100, true);
	ck_assert_int_eq(am_ledger_record(l, &next_day, &err), 1);
	char d1[AM_LEDGER_DAY_LEN], d2[AM_LEDGER_DAY_LEN];
	am_ledger_day(NOON_NS, d1, NULL);
	am_ledger_day(NOON_NS + day_ns, d2, NULL);
	am_ledger_summary sum;
	ck_assert_int_eq(am_ledger_report(l, d1, d2, false, &sum, &err), -1);
	ck_assert_msg(strstr(err.msg, "int64"), "%s", err.msg);
	am_ledger_summary_free(&sum);
	int64_t spend;
	ck_assert_int_eq(am_ledger_spend(l, d1, d2, &spend, NULL, &err), -1);
	/* Across models on one day: refused when recorded, with the day and
	 * the reason, so that the day's report and budget stay readable. */
	am_ledger_event other = event("b", NOON_NS, 1, 1, 100, true);
	ck_assert_int_eq(am_ledger_record(l, &other, &err), -1);
	ck_assert_msg(strstr(err.msg, "refused") && strstr(err.msg, d1) && strstr(err.msg, "int64"),
	              "%s", err.msg);
	ck_assert_int_eq(query_i64(l, "SELECT count(*) FROM usage_events WHERE model = 'b'"), 0);
	ck_assert_int_eq(am_ledger_report(l, d1, d1, false, &sum, &err), 0);
	ck_assert_int_eq(sum.total.cost_pusd, INT64_MAX - 10);
	am_ledger_summary_free(&sum);
	ck_assert_int_eq(am_ledger_spend(l, d1, d1, &spend, NULL, &err), 0);
	/* Cache writes: each column fits, their sum (the report's) does not. */
	am_ledger_event cw = event("c", NOON_NS + 2 * day_ns, 0, 0, 1, true);
	cw.usage.cache_write_5m = INT64_MAX - 1;
	ck_assert_int_eq(am_ledger_record(l, &cw, &err), 1);
	cw.model = "d";
	cw.usage.cache_write_5m = 0;
	cw.usage.cache_write_1h = 5;
	ck_assert_int_eq(am_ledger_record(l, &cw, &err), -1);
	ck_assert_msg(strstr(err.msg, "int64"), "%s", err.msg);
	/* Each day alone is still reported exactly. */
	ck_assert_int_eq(am_ledger_report(l, d2, d2, false, &sum, &err), 0);
	ck_assert_int_eq(sum.total.cost_pusd, 100);
	am_ledger_summary_free(&sum);
	am_ledger_close(l);
}
END_TEST

/* ---- the console's memory (memo.c) ---------------------------------------- */

/* Version 8 rebuilds jobs: ids, batch keys and the references of
 * provider_batch_jobs survive, a new job's id follows the largest, a batch
 * key is still unique and found through its index, foreign keys are on
 * again, and a new job's row costs two pages of log, not four. */
static int migrated_from, migrated_to, migrations_said;

static void note_migration(const char *path, int from, int to)
{
	ck_assert_ptr_nonnull(strstr(path, "v7.db"));
	migrated_from = from;
	migrated_to = to;
	migrations_said++;
}

START_TEST(test_v8_rebuilds_jobs)
{
	char path[620];
	am_ledger_on_migrate(note_migration);
	am_ledger *old = open_old(7, path);
	ck_assert_int_eq(migrations_said, 0); /* a new file is created, not updated */
	ck_assert_int_eq(sqlite3_exec(am_ledger_db(old),
	        "INSERT INTO jobs(id, batch_key, state, request, created_ns, updated_ns, owner, tag)"
	        " VALUES(5, 'b:1', 'done', '{}', 1, 2, 'o', 't'), (9, NULL, 'queued', '{}', 3, 4,"
	        " NULL, NULL);"
	        "INSERT INTO provider_batches(state, base_url, requests, bytes, intent_ns, updated_ns)"
	        " VALUES('submitting', 'u', 1, 1, 1, 1);"
	        "INSERT INTO provider_batch_jobs(batch, job_id, reserved_pusd) VALUES(1, 9, 0);",
	        NULL, NULL, NULL), SQLITE_OK);
	am_ledger_close(old);

	am_ledger *l = open_ok(path);
	am_ledger_on_migrate(NULL);
	ck_assert_int_eq(migrations_said, 1);
	ck_assert_int_eq(migrated_from, 7);
	ck_assert_int_eq(migrated_to, AM_LEDGER_SCHEMA_VERSION);
	sqlite3 *h = am_ledger_db(l);
	ck_assert_int_eq(query_i64(l, "SELECT count(*) FROM jobs WHERE id = 5 AND batch_key = 'b:1'"
	                              " AND state = 'done' AND owner = 'o' AND tag = 't'"
	                              " AND updated_ns = 2"), 1);
	ck_assert_int_eq(query_i64(l, "SELECT count(*) FROM provider_batch_jobs WHERE job_id = 9"), 1);
	ck_assert_int_eq(query_i64(l, "PRAGMA foreign_keys"), 1);
	ck_assert_int_eq(query_i64(l, "SELECT count(*) FROM sqlite_sequence WHERE name = 'jobs'"), 0);
	ck_assert_int_eq(sqlite3_exec(h, "INSERT INTO jobs(state, request, created_ns, updated_ns)"
	                                 " VALUES('queued', '{}', 5, 5)", NULL, NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_last_insert_rowid(h), 10);
	ck_assert_int_eq(sqlite3_exec(h, "INSERT INTO jobs(batch_key, state, request, created_ns,"
	                                 " updated_ns) VALUES('b:1', 'queued', '{}', 5, 5)",
	                              NULL, NULL, NULL) & 0xff, SQLITE_CONSTRAINT);
	sqlite3_stmt *plan;
	ck_assert_int_eq(sqlite3_prepare_v2(h, "EXPLAIN QUERY PLAN SELECT id FROM jobs WHERE"
	                                       " batch_key = 'b:1'", -1, &plan, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(plan), SQLITE_ROW);
	ck_assert_ptr_nonnull(strstr((const char *)sqlite3_column_text(plan, 3), "jobs_batch_key"));
	sqlite3_finalize(plan);
	/* A reference to a job that does not exist is still refused. */
	ck_assert_int_eq(sqlite3_exec(h, "INSERT INTO provider_batch_jobs(batch, job_id,"
	                                 " reserved_pusd) VALUES(1, 77, 0)", NULL, NULL, NULL) & 0xff,
	                 SQLITE_CONSTRAINT);
	/* The pages a new job's row writes, counted in the log's frames. */
	ck_assert_int_eq(sqlite3_wal_checkpoint_v2(h, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL),
	                 SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(h, "INSERT INTO jobs(state, request, created_ns, updated_ns)"
	                                 " VALUES('in_flight', '{}', 6, 6)", NULL, NULL, NULL),
	                 SQLITE_OK);
	int frames = 0;
	ck_assert_int_eq(sqlite3_wal_checkpoint_v2(h, NULL, SQLITE_CHECKPOINT_PASSIVE, &frames,
	                                           NULL), SQLITE_OK);
	ck_assert_int_eq(frames, 2);
	am_ledger_close(l);
}
END_TEST

/* The last hour's spend is read at every start: it must come from the ts
 * index, not a walk over the whole ledger. The work is counted in SQLite's
 * virtual-machine steps (a callback every 100), which is exact and does not
 * depend on the machine's speed: 20,000 old rows scanned would cost well over
 * 1,000 callbacks, the index path a handful. */
static int count_progress(void *ctx)
{
	(*(int *)ctx)++;
	return 0;
}

static void sum_recent(void *ctx, int64_t ts_ns, int64_t cost_pusd)
{
	(void)ts_ns;
	*(int64_t *)ctx += cost_pusd;
}

START_TEST(test_recent_spend_reads_the_hour_only)
{
	am_ledger *l = open_ok(db);
	sqlite3 *h = am_ledger_db(l);
	ck_assert_int_eq(sqlite3_exec(h,
	        "BEGIN;"
	        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)"
	        " INSERT INTO usage_events(ts_ns, day, model, cost_pusd, price_known)"
	        " SELECT 1718409600000000000 + i * 1000000000, '2024-06-15', 'm', 7, 1 FROM n;"
	        "COMMIT;", NULL, NULL, NULL), SQLITE_OK);
	am_err err = {0};
	int64_t now = NOON_NS + 30 * 86400 * AM_NS_PER_SEC;
	for (int i = 0; i < 3; i++) {
		am_ledger_event ev = event("m", now - i * AM_NS_PER_SEC, 10, 10, 1000 + i, true);
		ck_assert_msg(am_ledger_record(l, &ev, &err) == 1, "%s", err.msg);
	}
	int steps = 0;
	int64_t sum = 0;
	sqlite3_progress_handler(h, 100, count_progress, &steps);
	ck_assert_int_eq(am_spend_recent(l, now - 3600 * AM_NS_PER_SEC, am_spend_last_row(l),
	                                 sum_recent, &sum, &err), 0);
	sqlite3_progress_handler(h, 0, NULL, NULL);
	ck_assert_int_eq(sum, 3003);
	ck_assert_msg(steps < 20, "the hour's spend took %d00 VM steps", steps);
	am_ledger_close(l);
}
END_TEST

/* Inputs: the last AM_MEMO_MAX_INPUTS, oldest first, a repeat of the line
 * before and an oversized line not kept; exchanges: the last
 * AM_MEMO_MAX_TURNS, forgotten with the conversation. */
START_TEST(test_memo_caps_and_order)
{
	am_ledger *l = open_ok(db);
	am_err err;
	char t[32];
	for (int i = 0; i < AM_MEMO_MAX_INPUTS + 5; i++) {
		snprintf(t, sizeof t, "line %d", i);
		ck_assert_msg(am_memo_add_input(l, t, i, &err) == 0, "%s", err.msg);
		ck_assert(am_memo_add_input(l, t, i, &err) == 0); /* the same again: not kept */
	}
	char *big = malloc(AM_MEMO_MAX_INPUT + 2);
	memset(big, 'x', AM_MEMO_MAX_INPUT + 1);
	big[AM_MEMO_MAX_INPUT + 1] = '\0';
	ck_assert(am_memo_add_input(l, big, 0, &err) == 0);
	free(big);
	ck_assert(am_memo_add_input(l, "", 0, &err) == 0);
	for (int i = 0; i < AM_MEMO_MAX_TURNS + 3; i++) {
		snprintf(t, sizeof t, "q%d", i);
		am_memo_exchange x = { t, "an answer \x1b[2J", "└ haiku-4-5 · $0.0004", 100 + i, 7, i % 2 };
		ck_assert_msg(am_memo_add_exchange(l, &x, i, &err) == 0, "%s", err.msg);
	}
	am_memo m;
	ck_assert_msg(am_memo_load(l, &m, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(m.ninputs, AM_MEMO_MAX_INPUTS);
	ck_assert_str_eq(m.inputs[0], "line 5");
	ck_assert_str_eq(m.inputs[AM_MEMO_MAX_INPUTS - 1], "line 1004");
	ck_assert_int_eq(m.nex, AM_MEMO_MAX_TURNS);
	ck_assert_str_eq(m.ex[0].user, "q3");
	ck_assert_str_eq(m.ex[m.nex - 1].user, "q52");
	ck_assert_str_eq(m.ex[m.nex - 1].assistant, "an answer \x1b[2J"); /* kept as received */
	ck_assert_str_eq(m.ex[m.nex - 1].summary, "└ haiku-4-5 · $0.0004");
	ck_assert_int_eq(m.ex[m.nex - 1].tokens, 152);
	ck_assert_int_eq(m.ex[m.nex - 1].cost_pusd, 7);
	ck_assert(!m.ex[m.nex - 1].price_known);
	ck_assert(m.ex[m.nex - 2].price_known);
	am_memo_free(&m);
	ck_assert_int_eq(query_i64(l, "SELECT count(*) FROM console_inputs"), AM_MEMO_MAX_INPUTS);
	ck_assert(am_memo_forget_conversation(l, &err) == 0);
	ck_assert(am_memo_load(l, &m, &err) == 0);
	ck_assert_int_eq(m.nex, 0);
	ck_assert_int_eq(m.ninputs, AM_MEMO_MAX_INPUTS);
	am_memo_free(&m);
	am_ledger_close(l);
}
END_TEST

static Suite *ledger_suite(void)
{
	Suite *s = suite_create("ledger");
	TCase *tc = tcase_create("ledger");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_open_creates_private_wal_db);
	tcase_add_test(tc, test_migration_from_empty_and_each_version);
	tcase_add_test(tc, test_newer_schema_and_foreign_db_refused);
	tcase_add_test(tc, test_negative_schema_version_refused);
	tcase_add_test(tc, test_v3_keeps_every_billed_dimension);
	tcase_add_test(tc, test_tags_migrate_and_round_trip);
	tcase_add_test(tc, test_report_by_tag_adds_up);
	tcase_add_test(tc, test_reprice_unknown_then_all);
	tcase_add_test(tc, test_round_trip_every_field);
	tcase_add_test(tc, test_idempotent_by_job_id);
	tcase_add_test(tc, test_bad_events_write_nothing);
	tcase_add_test(tc, test_caller_transaction_is_atomic);
	tcase_add_test(tc, test_summary_follows_edits);
	tcase_add_test(tc, test_settings);
	tcase_add_test(tc, test_settings_peek_changes_nothing);
	tcase_add_test(tc, test_day_boundaries_non_utc);
	tcase_add_test(tc, test_parse_day);
	tcase_add_test(tc, test_two_processes_write_at_once);
	tcase_add_test(tc, test_read_only_db_is_a_clear_error);
	tcase_add_test(tc, test_readonly_option_refuses_writes);
	tcase_add_test(tc, test_corrupted_file_is_a_clear_error);
	tcase_add_test(tc, test_locked_db_is_a_clear_error);
	tcase_add_test(tc, test_disk_full_is_a_clear_error);
	tcase_add_test(tc, test_overflowing_sums_are_errors);
	tcase_add_test(tc, test_memo_caps_and_order);
	tcase_add_test(tc, test_recent_spend_reads_the_hour_only);
	tcase_add_test(tc, test_v8_rebuilds_jobs);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(ledger_suite());
}
