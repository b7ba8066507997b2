/* bench_ledger: how fast the ledger records and reports.
 *
 * Figures (one line each, `<figure> <value> <unit>`):
 *   ledger_events_per_s            am_ledger_record_many, 1,000 events per
 *                                  transaction (the bulk path)
 *   ledger_events_per_s_single_tx  am_ledger_record, one transaction per
 *                                  event (one finished call at a time)
 *   report_today_ms_1m / _10m    open + today's per-model report + close on a
 *   report_30d_ms_1m / _10m      ledger of 1M / 10M events (median of 7)
 *   report_today_scan_ms_10m     baseline: the same figures summed straight
 *                                from usage_events (no summary table)
 * Each generated ledger spans the last 365 days, in time order, with 10% of
 * its events today, in a temporary directory removed at the end. The bench checks that the
 * report equals the raw sums and exits 1 if not.
 * Usage: bench_ledger [--max-events N]  (default 10,000,000; 1M figures
 * need at least 1,000,000). Build in Release without sanitizers. */
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "ledger.h"
#include "testrng.h"
#include "tmpdir.h"

static const char *const models[] = {
	"claude-haiku-4-5", "claude-sonnet-4-5", "claude-opus-4-5", "claude-sonnet-4-20250514",
	"claude-3-5-haiku-20241022", "unknown-model",
};
enum { NMODELS = sizeof models / sizeof models[0], CHUNK = 50000, BATCH = 1000 };

static am_test_rng rng = { 0x243F6A8885A308D3ULL };

static uint64_t rnd(void)
{
	return am_test_rng_next(&rng);
}

static int64_t now_mono(void)
{
	return am_clock_mono(am_clock_system());
}

static void die(const char *what, const am_err *err)
{
	fprintf(stderr, "bench_ledger: %s: %s\n", what, err ? err->msg : "");
	exit(1);
}

/* Events come in time order, as a ledger receives them. The fill spreads
 * its first 90% over the 364 days before today and the last 10% over today
 * so far; the rate figures stamp events "now", a microsecond apart. */
struct gen {
	int64_t start_ns, step_ns;  /* the current stretch: next ts and spacing */
	int64_t next_job;
};

/* Events made while this is set carry a tag, one of eight or none (a
 * ninth): the generated ledgers and the tagged write rate. */
static bool tagging;
static const char *const tags[] = { "nightly-evals", "app:web", "ci", "agent", "editor",
	                            "cli", "batch-a", "batch-b", NULL };

static void make_event(struct gen *g, am_ledger_event *ev)
{
	int m = (int)(rnd() % NMODELS);
	memset(ev, 0, sizeof *ev);
	ev->job_id = ++g->next_job;
	ev->ts_ns = g->start_ns;
	g->start_ns += g->step_ns;
	ev->model = models[m];
	ev->model_requested = models[m];
	ev->reason = "312 chars < 500";
	ev->usage.input_tokens = (int64_t)(rnd() % 20000);
	ev->usage.output_tokens = (int64_t)(rnd() % 4000);
	ev->usage.cache_read = (int64_t)(rnd() % 50000);
	ev->price_known = m != NMODELS - 1;
	ev->cost_pusd = ev->price_known ? (int64_t)(rnd() % 100000000000ULL) : 0;
	ev->latency_ms = (int64_t)(rnd() % 30000);
	ev->http_status = 200;
	ev->source = "batch";
	if (tagging)
		ev->tag = tags[rnd() % (sizeof tags / sizeof tags[0])];
}

static void fill_span(am_ledger *l, struct gen *g, int64_t n, int64_t from_ns, int64_t to_ns)
{
	static am_ledger_event evs[CHUNK];
	am_err err;
	g->start_ns = from_ns;
	g->step_ns = n > 0 ? (to_ns - from_ns) / n : 0;
	while (n > 0) {
		int64_t k = n < CHUNK ? n : CHUNK;
		for (int64_t i = 0; i < k; i++)
			make_event(g, &evs[i]);
		if (am_ledger_record_many(l, evs, (size_t)k, &err) != k)
			die("filling the ledger", &err);
		n -= k;
	}
}

/* A fresh ledger of n events: 90% over the past year, 10% today. */
static void fill(const char *path, int64_t n, int64_t midnight_ns, int64_t now_ns)
{
	am_ledger *l;
	am_err err;
	struct gen g = { 0 };
	if (am_ledger_open(&l, path, NULL, &err))
		die("opening", &err);
	int64_t today_n = n / 10;
	fill_span(l, &g, n - today_n, midnight_ns - 364LL * 86400 * AM_NS_PER_SEC, midnight_ns);
	fill_span(l, &g, today_n, midnight_ns, now_ns);
	am_ledger_close(l);
}

static void shift_day(const char *today, int days_back, char out[AM_LEDGER_DAY_LEN])
{
	struct tm tm = { 0 };
	sscanf(today, "%d-%d-%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	tm.tm_mday -= days_back;
	tm.tm_hour = 12;
	tm.tm_isdst = -1;
	mktime(&tm);
	snprintf(out, AM_LEDGER_DAY_LEN, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1,
	         tm.tm_mday);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Median over 7 runs of open + report + close, as `aimeter report` does
 * (by tag: `aimeter report --by tag`). */
static double report_ms(const char *path, const char *from, const char *to, bool by_tag,
                        am_ledger_summary *keep)
{
	int64_t t[7];
	for (int r = 0; r < 7; r++) {
		am_ledger *l;
		am_ledger_summary sum;
		am_err err;
		int64_t t0 = now_mono();
		if (am_ledger_open(&l, path, NULL, &err) ||
		    (by_tag ? am_ledger_report_tags(l, from, to, false, &sum, &err)
		            : am_ledger_report(l, from, to, false, &sum, &err)))
			die("reporting", &err);
		am_ledger_close(l);
		t[r] = now_mono() - t0;
		if (r == 0 && keep)
			*keep = sum;
		else
			am_ledger_summary_free(&sum);
	}
	qsort(t, 7, sizeof t[0], cmp_i64);
	return (double)t[3] / 1e6;
}

/* The baseline and the check: today's figures summed from usage_events. */
static double scan_today(am_ledger *l, const char *today, const am_ledger_summary *want)
{
	sqlite3_stmt *s;
	sqlite3 *db = am_ledger_db(l);
	int64_t t0 = now_mono();
	if (sqlite3_prepare_v2(db, "SELECT model, count(*), sum(input_tokens), sum(output_tokens),"
	                       " sum(coalesce(cost_pusd, 0)) FROM usage_events WHERE day = ?1"
	                       " GROUP BY model ORDER BY model", -1, &s, NULL) != SQLITE_OK)
		die(sqlite3_errmsg(db), NULL);
	sqlite3_bind_text(s, 1, today, -1, SQLITE_STATIC);
	size_t i = 0;
	while (sqlite3_step(s) == SQLITE_ROW) {
		const am_ledger_row *r = i < want->nrows ? &want->rows[i] : NULL;
		if (!r || strcmp(r->model, (const char *)sqlite3_column_text(s, 0)) ||
		    r->requests != sqlite3_column_int64(s, 1) ||
		    r->input_tokens != sqlite3_column_int64(s, 2) ||
		    r->output_tokens != sqlite3_column_int64(s, 3) ||
		    r->cost_pusd != sqlite3_column_int64(s, 4))
			die("the report differs from the raw sums", NULL);
		i++;
	}
	sqlite3_finalize(s);
	if (i != want->nrows)
		die("the report has rows the raw sums do not", NULL);
	return (double)(now_mono() - t0) / 1e6;
}

static void bench_report(const char *path, const char *today, const char *label, bool scan)
{
	char from30[AM_LEDGER_DAY_LEN];
	shift_day(today, 29, from30);
	am_ledger_summary sum;
	double t_today = report_ms(path, today, today, false, &sum);
	double t_30 = report_ms(path, from30, today, false, NULL);
	printf("report_today_ms_%s %.3f ms\n", label, t_today);
	printf("report_30d_ms_%s %.3f ms\n", label, t_30);
	am_ledger_summary tagsum;
	double t_tag = report_ms(path, today, today, true, &tagsum);
	double t_tag30 = report_ms(path, from30, today, true, NULL);
	printf("report_by_tag_today_ms_%s %.3f ms\n", label, t_tag);
	printf("report_by_tag_30d_ms_%s %.3f ms\n", label, t_tag30);
	if (tagsum.total.cost_pusd != sum.total.cost_pusd ||
	    tagsum.total.requests != sum.total.requests)
		die("the report by tag does not add up to the report by model", NULL);
	am_ledger_summary_free(&tagsum);
	am_ledger *l;
	am_err err;
	if (am_ledger_open(&l, path, NULL, &err))
		die("opening", &err);
	double t_scan = scan_today(l, today, &sum);
	if (scan)
		printf("report_today_scan_ms_%s %.3f ms\n", label, t_scan);
	fprintf(stderr, "  (%s: %" PRId64 " requests today, checked against the raw sums)\n", label,
	        sum.total.requests);
	am_ledger_close(l);
	am_ledger_summary_free(&sum);
	fflush(stdout);
}

static double rate(am_ledger *l, struct gen *g, bool batched)
{
	static am_ledger_event evs[BATCH];
	am_err err;
	int64_t n = 0, t0 = now_mono(), elapsed;
	g->step_ns = AM_NS_PER_US;
	do {
		for (int i = 0; i < BATCH; i++)
			make_event(g, &evs[i]);
		if (batched) {
			if (am_ledger_record_many(l, evs, BATCH, &err) != BATCH)
				die("recording", &err);
		} else {
			for (int i = 0; i < BATCH; i++)
				if (am_ledger_record(l, &evs[i], &err) != 1)
					die("recording", &err);
		}
		n += BATCH;
		elapsed = now_mono() - t0;
	} while (elapsed < 3 * AM_NS_PER_SEC);
	return (double)n * 1e9 / (double)elapsed;
}

int main(int argc, char **argv)
{
	int64_t max_events = 10000000;
	if (argc == 3 && !strcmp(argv[1], "--max-events"))
		max_events = strtoll(argv[2], NULL, 10);
	else if (argc != 1) {
		fprintf(stderr, "usage: bench_ledger [--max-events N]\n");
		return 2;
	}
	char dir[512], path[600];
	if (am_test_tmpdir("bench-ledger", dir, sizeof dir))
		return 1;
	tzset();
	int64_t now_ns = am_clock_wall(am_clock_system());
	char today[AM_LEDGER_DAY_LEN];
	am_err err;
	if (am_ledger_day(now_ns, today, &err))
		die("today", &err);
	time_t now_s = (time_t)(now_ns / AM_NS_PER_SEC);
	struct tm tm;
	localtime_r(&now_s, &tm);
	int64_t midnight_ns = now_ns - ((int64_t)tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec) *
	                      AM_NS_PER_SEC;

	/* Write rates on a fresh ledger. */
	snprintf(path, sizeof path, "%s/rate.db", dir);
	am_ledger *l;
	if (am_ledger_open(&l, path, NULL, &err))
		die("opening", &err);
	struct gen g = { .start_ns = now_ns };
	printf("ledger_events_per_s %.0f events/s\n", rate(l, &g, true));
	printf("ledger_events_per_s_single_tx %.0f events/s\n", rate(l, &g, false));
	tagging = true; /* from here on: the tagged rate, and tagged ledgers */
	printf("ledger_events_per_s_single_tx_tagged %.0f events/s\n", rate(l, &g, false));
	fflush(stdout);
	am_ledger_close(l);

	static const struct { int64_t n; const char *label; } sizes[] = {
		{ 1000000, "1m" }, { 10000000, "10m" },
	};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0] && sizes[i].n <= max_events; i++) {
		snprintf(path, sizeof path, "%s/%s.db", dir, sizes[i].label);
		int64_t t0 = now_mono();
		fill(path, sizes[i].n, midnight_ns, now_ns);
		fprintf(stderr, "  (generated %" PRId64 " events in %.1f s)\n", sizes[i].n,
		        (double)(now_mono() - t0) / 1e9);
		bench_report(path, today, sizes[i].label, i == 1);
		char sidecar[620];
		remove(path);
		snprintf(sidecar, sizeof sidecar, "%s-wal", path);
		remove(sidecar);
		snprintf(sidecar, sizeof sidecar, "%s-shm", path);
		remove(sidecar);
	}
	am_test_rmtree(dir);
	return 0;
}
