/* test_report: what `aimeter report` prints: the exact JSON shape, sums over
 * 10,000 random events against sums computed here from the generated data,
 * and the CSV and table renderings. */
#include <check.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>
#include <time.h>

#include "check_run.h"
#include "clock.h"
#include "ledger.h"
#include "money.h"
#include "report.h"
#include "testrng.h"
#include "tmpdir.h"

static char dir[512];
static char db[600];
static am_ledger *l;

static void setup(void)
{
	setenv("TZ", "UTC0", 1);
	tzset();
	ck_assert_int_eq(am_test_tmpdir("report", dir, sizeof dir), 0);
	snprintf(db, sizeof db, "%s/aimeter.db", dir);
	am_err err = {0};
	ck_assert_msg(am_ledger_open(&l, db, NULL, &err) == 0, "%s", err.msg);
}

static void teardown(void)
{
	am_ledger_close(l);
	am_test_rmtree(dir);
}

/* Midnight UTC of 2024-06-<d>. */
static int64_t june_ns(int d)
{
	struct tm tm = { .tm_year = 124, .tm_mon = 5, .tm_mday = d };
	return (int64_t)timegm(&tm) * AM_NS_PER_SEC;
}

static am_ledger_event event(const char *model, int64_t ts, am_usage u, int64_t cost, bool known)
{
	am_ledger_event ev = { .ts_ns = ts, .model = model, .usage = u, .price_known = known,
		               .cost_pusd = cost, .latency_ms = -1, .source = "record" };
	return ev;
}

static void record(am_ledger_event ev)
{
	am_err err = {0};
	ck_assert_msg(am_ledger_record(l, &ev, &err) == 1, "%s", err.msg);
}

/* Renders with `fn` into a heap string. */
static char *render(int (*fn)(const am_ledger_summary *, FILE *, am_err *),
                    const char *from, const char *to, bool by_day)
{
	am_ledger_summary sum;
	am_err err = {0};
	ck_assert_msg(am_ledger_report(l, from, to, by_day, &sum, &err) == 0, "%s", err.msg);
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	ck_assert_int_eq(fn(&sum, out, &err), 0);
	fclose(out);
	am_ledger_summary_free(&sum);
	return buf;
}

#define TOK(i, o, w5, w1, r)                                                              \
	((am_usage){ .input_tokens = (i), .output_tokens = (o), .cache_write_5m = (w5),      \
	             .cache_write_1h = (w1), .cache_read = (r) })

static void small_ledger(void)
{
	int64_t noon = june_ns(15) + 12 * 3600 * AM_NS_PER_SEC;
	record(event("claude-haiku-4-5", noon, TOK(100, 50, 10, 5, 1000), 123456789, true));
	record(event("claude-haiku-4-5", noon + 1, TOK(1, 2, 0, 0, 0), 1, true));
	record(event("mystery", noon + 2, TOK(1234567, 3, 0, 0, 0), 0, false));
	record(event("claude-haiku-4-5", june_ns(16), TOK(9, 9, 9, 9, 9), 9, true));
}

/* Rows cut short are counted per model and day and marked in every format;
 * without any, JSON keeps its shape (test_json_shape_exact). */
START_TEST(test_estimated_rows_are_marked)
{
	small_ledger();
	am_ledger_event cut = event("claude-haiku-4-5", june_ns(16) + 1, TOK(7, 3, 0, 0, 0), 5, true);
	cut.estimated = true;
	record(cut);
	char *got = render(am_report_json, "2024-06-16", "2024-06-16", false);
	ck_assert_msg(strstr(got, "\"price_known\":true,\"estimated_requests\":1}"), "%s", got);
	ck_assert_msg(strstr(got, "\"total\":{\"requests\":2,\"cost_usd\":\"0.000000000014\","
	                          "\"estimated_requests\":1}"), "%s", got);
	free(got);
	got = render(am_report_csv, "2024-06-15", "2024-06-16", true);
	ck_assert_msg(strstr(got, "2024-06-15,claude-haiku-4-5,2,101,52,15,1000,0.00012345679,true,0,0\r\n"
	                          "2024-06-15,mystery,1,1234567,3,0,0,0,false,1,0\r\n"
	                          "2024-06-16,claude-haiku-4-5,2,16,12,18,9,0.000000000014,true,0,1\r\n"),
	              "%s", got);
	free(got);
	got = render(am_report_table, "2024-06-16", "2024-06-16", false);
	ck_assert_msg(strstr(got, "$0.000000000014 est.\n"), "%s", got);
	ck_assert_msg(strstr(got, "est.: 1 request was cut short"), "%s", got);
	free(got);
	/* The count follows the rows (triggers): moved to another day, then gone. */
	sqlite3 *h = am_ledger_db(l);
	ck_assert_int_eq(sqlite3_exec(h, "UPDATE usage_events SET day = '2024-06-15' "
	                                  "WHERE estimated = 1", NULL, NULL, NULL),
	                 SQLITE_OK);
	got = render(am_report_json, "2024-06-16", "2024-06-16", false);
	ck_assert_msg(!strstr(got, "estimated_requests"), "%s", got);
	free(got);
	got = render(am_report_json, "2024-06-15", "2024-06-15", false);
	ck_assert_msg(strstr(got, "\"estimated_requests\":1}}"), "%s", got);
	free(got);
	ck_assert_int_eq(sqlite3_exec(h, "DELETE FROM usage_events WHERE estimated = 1", NULL, NULL,
	                              NULL),
	                 SQLITE_OK);
	got = render(am_report_json, "2024-06-15", "2024-06-16", false);
	ck_assert_msg(!strstr(got, "estimated_requests"), "%s", got);
	free(got);
}
END_TEST

START_TEST(test_json_shape_exact)
{
	small_ledger();
	char *got = render(am_report_json, "2024-06-15", "2024-06-15", false);
	ck_assert_str_eq(got,
		"{\"from\":\"2024-06-15\",\"to\":\"2024-06-15\",\"models\":["
		"{\"model\":\"claude-haiku-4-5\",\"requests\":2,\"input_tokens\":101,"
		"\"output_tokens\":52,\"cache_creation_input_tokens\":15,"
		"\"cache_read_input_tokens\":1000,\"cost_usd\":\"0.00012345679\","
		"\"price_known\":true},"
		"{\"model\":\"mystery\",\"requests\":1,\"input_tokens\":1234567,"
		"\"output_tokens\":3,\"cache_creation_input_tokens\":0,"
		"\"cache_read_input_tokens\":0,\"cost_usd\":\"0\",\"price_known\":false}],"
		"\"total\":{\"requests\":3,\"cost_usd\":\"0.00012345679\"}}\n");
	free(got);
	got = render(am_report_json, "2024-01-01", "2024-01-31", false);
	ck_assert_str_eq(got, "{\"from\":\"2024-01-01\",\"to\":\"2024-01-31\",\"models\":[],"
	                      "\"total\":{\"requests\":0,\"cost_usd\":\"0\"}}\n");
	free(got);
}
END_TEST

/* ---- 10k random events ------------------------------------------------------- */

static am_test_rng rng;

static int64_t rnd_below(int64_t n)
{
	return am_test_rng_below(&rng, n);
}

/* The exact decimal, written here without money.c. */
static void plain_usd(int64_t pusd, char *buf, size_t n)
{
	int64_t whole = pusd / 1000000000000LL, frac = pusd % 1000000000000LL;
	if (!frac) {
		snprintf(buf, n, "%" PRId64, whole);
		return;
	}
	char f[16];
	snprintf(f, sizeof f, "%012" PRId64, frac);
	for (int i = 11; i >= 0 && f[i] == '0'; i--)
		f[i] = '\0';
	snprintf(buf, n, "%" PRId64 ".%s", whole, f);
}

enum { NMODELS = 6, NEVENTS = 10000 };

struct expect {
	int64_t requests, input, output, cache_write, cache_read, cost, unknown;
};

START_TEST(test_sums_over_10k_random_events)
{
	/* Sorted: the report lists models by name. */
	static const char *const models[NMODELS] = {
		"claude-3-haiku-20240307", "claude-haiku-4-5", "claude-opus-4-5", "claude-sonnet-4-5",
		"mixed-price", "unknown-model",
	};
	struct expect want[NMODELS] = { { 0 } };
	struct expect total = { 0 };
	rng.state = 0x9E3779B97F4A7C15ULL;
	am_ledger_event *batch = calloc(NEVENTS, sizeof *batch);
	for (int i = 0; i < NEVENTS; i++) {
		int m = (int)rnd_below(NMODELS);
		int day = 10 + (int)rnd_below(7); /* June 10..16; the report covers 11..15 */
		int64_t ts = june_ns(day) + rnd_below(86400LL * AM_NS_PER_SEC);
		am_usage u = { .input_tokens = rnd_below(200000), .output_tokens = rnd_below(64000),
			       .cache_write_5m = rnd_below(50000), .cache_write_1h = rnd_below(50000),
			       .cache_read = rnd_below(1000000) };
		bool known = m == 5 ? false : m == 4 ? rnd_below(3) != 0 : true;
		int64_t cost = known ? rnd_below(2000000000000LL) : 0; /* up to $2 */
		batch[i] = event(models[m], ts, u, cost, known);
		batch[i].job_id = i % 3 ? i + 1 : 0; /* some with jobs, some without */
		if (day < 11 || day > 15)
			continue;
		struct expect *w = &want[m];
		w->requests++;
		w->input += u.input_tokens;
		w->output += u.output_tokens;
		w->cache_write += u.cache_write_5m + u.cache_write_1h;
		w->cache_read += u.cache_read;
		w->cost += cost;
		w->unknown += !known;
		total.requests++;
		total.cost += cost;
		total.unknown += !known;
	}
	/* Both write paths: one event per transaction, then batches. */
	am_err err = {0};
	for (int i = 0; i < 500; i++)
		ck_assert_msg(am_ledger_record(l, &batch[i], &err) == 1, "%s", err.msg);
	for (int i = 500; i < NEVENTS; i += 950) {
		size_t n = (size_t)(NEVENTS - i < 950 ? NEVENTS - i : 950);
		ck_assert_msg(am_ledger_record_many(l, &batch[i], n, &err) == (int64_t)n, "%s", err.msg);
	}
	free(batch);

	am_ledger_summary sum;
	ck_assert_msg(am_ledger_report(l, "2024-06-11", "2024-06-15", false, &sum, &err) == 0, "%s",
	              err.msg);
	ck_assert_uint_eq(sum.nrows, NMODELS);
	for (int m = 0; m < NMODELS; m++) {
		const am_ledger_row *r = &sum.rows[m];
		ck_assert_str_eq(r->model, models[m]);
		ck_assert_int_eq(r->requests, want[m].requests);
		ck_assert_int_eq(r->input_tokens, want[m].input);
		ck_assert_int_eq(r->output_tokens, want[m].output);
		ck_assert_int_eq(r->cache_write, want[m].cache_write);
		ck_assert_int_eq(r->cache_read, want[m].cache_read);
		ck_assert_int_eq(r->cost_pusd, want[m].cost);
		ck_assert_int_eq(r->unknown_count, want[m].unknown);
		ck_assert(r->price_known == (want[m].unknown == 0));
	}
	ck_assert_int_eq(sum.total.requests, total.requests);
	ck_assert_int_eq(sum.total.cost_pusd, total.cost);
	ck_assert_int_eq(sum.total.unknown_count, total.unknown);
	am_ledger_summary_free(&sum);

	int64_t spend, unknown;
	ck_assert_int_eq(am_ledger_spend(l, "2024-06-11", "2024-06-15", &spend, &unknown, &err), 0);
	ck_assert_int_eq(spend, total.cost);
	ck_assert_int_eq(unknown, total.unknown);

	/* The JSON carries the same figures, money as exact strings. */
	char *text = render(am_report_json, "2024-06-11", "2024-06-15", false);
	json_error_t jerr;
	json_t *root = json_loads(text, 0, &jerr);
	ck_assert_msg(root != NULL, "bad JSON at %d:%d: %s", jerr.line, jerr.column, jerr.text);
	json_t *arr = json_object_get(root, "models");
	ck_assert_uint_eq(json_array_size(arr), NMODELS);
	for (int m = 0; m < NMODELS; m++) {
		json_t *o = json_array_get(arr, (size_t)m);
		ck_assert_uint_eq(json_object_size(o), 8);
		ck_assert_str_eq(json_string_value(json_object_get(o, "model")), models[m]);
		ck_assert_int_eq(json_integer_value(json_object_get(o, "requests")), want[m].requests);
		ck_assert_int_eq(json_integer_value(json_object_get(o, "input_tokens")), want[m].input);
		ck_assert_int_eq(json_integer_value(json_object_get(o, "output_tokens")), want[m].output);
		ck_assert_int_eq(json_integer_value(json_object_get(o, "cache_creation_input_tokens")),
		                 want[m].cache_write);
		ck_assert_int_eq(json_integer_value(json_object_get(o, "cache_read_input_tokens")),
		                 want[m].cache_read);
		char usd[40];
		plain_usd(want[m].cost, usd, sizeof usd);
		ck_assert_str_eq(json_string_value(json_object_get(o, "cost_usd")), usd);
		ck_assert(json_is_boolean(json_object_get(o, "price_known")));
		ck_assert(json_boolean_value(json_object_get(o, "price_known")) == (want[m].unknown == 0));
	}
	json_t *t = json_object_get(root, "total");
	ck_assert_uint_eq(json_object_size(t), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(t, "requests")), total.requests);
	char usd[40];
	plain_usd(total.cost, usd, sizeof usd);
	ck_assert_str_eq(json_string_value(json_object_get(t, "cost_usd")), usd);
	int64_t back;
	ck_assert_int_eq(am_money_parse_usd(usd, &back, NULL), 0);
	ck_assert_int_eq(back, total.cost);
	ck_assert_uint_eq(json_object_size(root), 4);
	json_decref(root);
	free(text);
}
END_TEST

/* ---- CSV and table ------------------------------------------------------------ */

START_TEST(test_csv_rows_by_day)
{
	small_ledger();
	record(event("we\"ird,model", june_ns(16), TOK(1, 1, 0, 0, 0), 1500000000000, true));
	char *got = render(am_report_csv, "2024-06-15", "2024-06-16", true);
	ck_assert_str_eq(got,
		"day,model,requests,input_tokens,output_tokens,cache_creation_input_tokens,"
		"cache_read_input_tokens,cost_usd,price_known,unknown_price_requests,"
		"estimated_requests\r\n"
		"2024-06-15,claude-haiku-4-5,2,101,52,15,1000,0.00012345679,true,0,0\r\n"
		"2024-06-15,mystery,1,1234567,3,0,0,0,false,1,0\r\n"
		"2024-06-16,claude-haiku-4-5,1,9,9,18,9,0.000000000009,true,0,0\r\n"
		"2024-06-16,\"we\"\"ird,model\",1,1,1,0,0,1.5,true,0,0\r\n");
	free(got);
}
END_TEST

START_TEST(test_table_aligned_with_totals)
{
	small_ledger();
	am_ledger_event hit = event("claude-haiku-4-5", june_ns(15) + 5, TOK(10, 10, 0, 0, 0),
	                            0, true);
	hit.cached = true;
	hit.saved_pusd = 2500000000000; /* $2.50 */
	record(hit);
	char *got = render(am_report_table, "2024-06-15", "2024-06-15", false);
	ck_assert_msg(strstr(got, "Spend on 2024-06-15"), "%s", got);
	ck_assert_msg(strstr(got, "1,234,567"), "%s", got);
	ck_assert_msg(strstr(got, "price ?"), "%s", got);
	ck_assert_msg(strstr(got, "$0.00012345679 *"), "%s", got);
	ck_assert_msg(strstr(got, "excludes 1 request with an unknown price: mystery."), "%s", got);
	ck_assert_msg(strstr(got, "Cache: 1 hit, $2.5 saved."), "%s", got);
	/* Every line from the header to TOTAL has the same width, and the
	 * numbers are right-aligned (their last characters line up). */
	const char *start = strstr(got, "MODEL");
	const char *end = strstr(got, "TOTAL");
	ck_assert_ptr_nonnull(start);
	ck_assert_ptr_nonnull(end);
	end = strchr(end, '\n');
	size_t width = 0;
	int lines = 0;
	for (const char *p = start; p < end; lines++) {
		const char *nl = strchr(p, '\n');
		size_t w = (size_t)(nl - p);
		if (!width)
			width = w;
		ck_assert_msg(w == width, "line %d is %zu wide, not %zu:\n%s", lines, w, width, got);
		p = nl + 1;
	}
	ck_assert_int_eq(lines, 5); /* header, 2 models, rule, total */
	ck_assert_msg(strstr(got, "TOTAL") - strstr(got, "MODEL") > 0, "%s", got);
	free(got);

	got = render(am_report_table, "2024-01-01", "2024-01-02", false);
	ck_assert_msg(strstr(got, "Spend from 2024-01-01 to 2024-01-02"), "%s", got);
	ck_assert_msg(strstr(got, "(no usage recorded)"), "%s", got);
	ck_assert_msg(strstr(got, "TOTAL"), "%s", got);
	ck_assert_msg(!strstr(got, "excludes"), "%s", got);
	free(got);
}
END_TEST

START_TEST(test_number_formats)
{
	char buf[64];
	struct { int64_t v; const char *want; } g[] = {
		{ 0, "0" }, { 999, "999" }, { 1000, "1,000" }, { -1234567, "-1,234,567" },
		{ INT64_MAX, "9,223,372,036,854,775,807" }, { INT64_MIN, "-9,223,372,036,854,775,808" },
	};
	for (size_t i = 0; i < sizeof g / sizeof g[0]; i++) {
		am_report_group(g[i].v, buf, sizeof buf);
		ck_assert_str_eq(buf, g[i].want);
	}
	struct { int64_t v; const char *want; } u[] = {
		{ 0, "$0" }, { 1, "$0.000000000001" }, { 1500000000000, "$1.5" },
		{ 1234567890000000, "$1,234.56789" }, { -500000000000, "-$0.5" },
		{ INT64_MAX, "$9,223,372.036854775807" },
	};
	for (size_t i = 0; i < sizeof u / sizeof u[0]; i++) {
		am_report_usd(u[i].v, buf, sizeof buf);
		ck_assert_str_eq(buf, u[i].want);
	}
}
END_TEST

static Suite *report_suite(void)
{
	Suite *s = suite_create("report");
	TCase *tc = tcase_create("report");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_json_shape_exact);
	tcase_add_test(tc, test_estimated_rows_are_marked);
	tcase_add_test(tc, test_sums_over_10k_random_events);
	tcase_add_test(tc, test_csv_rows_by_day);
	tcase_add_test(tc, test_table_aligned_with_totals);
	tcase_add_test(tc, test_number_formats);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(report_suite());
}
