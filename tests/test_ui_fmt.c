/* The pure formatting layer of the dashboard: bars, sparklines, money,
 * durations, token counts, percentages, sanitising of untrusted text,
 * wrapping, and the layout at every size from 20×5 to 300×100. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check_run.h"
#include "fmt.h"
#include "text.h"
#include "layout.h"
#include "money.h"

#define USD AM_PUSD_PER_USD

static int cells(const char *s)
{
	return fmt_width(s, strlen(s));
}

/* ---- bars ------------------------------------------------------------------ */

START_TEST(bar_eighths)
{
	char b[FMT_CELLS_BYTES(10)];
	fmt_bar(b, sizeof b, 10, 0, 100, false);
	ck_assert_str_eq(b, "░░░░░░░░░░");
	fmt_bar(b, sizeof b, 10, 100, 100, false);
	ck_assert_str_eq(b, "██████████");
	/* 64% of 10 cells = 6 cells and 3.2 eighths -> 6 full + 3/8 partial. */
	fmt_bar(b, sizeof b, 10, 64, 100, false);
	ck_assert_str_eq(b, "██████▍░░░");
	fmt_bar(b, sizeof b, 4, 1, 32, false); /* exactly one eighth */
	ck_assert_str_eq(b, "▏░░░");
	ck_assert_int_eq(cells(b), 4);
}
END_TEST

START_TEST(bar_edges)
{
	char b[FMT_CELLS_BYTES(8)];
	fmt_bar(b, sizeof b, 8, -5, 10, false); /* debt: empty */
	ck_assert_str_eq(b, "░░░░░░░░");
	fmt_bar(b, sizeof b, 8, 500, 10, false); /* over: full */
	ck_assert_str_eq(b, "████████");
	fmt_bar(b, sizeof b, 8, 5, 0, false); /* no max: empty */
	ck_assert_str_eq(b, "░░░░░░░░");
	ck_assert_int_eq(fmt_bar(b, sizeof b, 0, 5, 10, false), 0);
	ck_assert_str_eq(b, "");
	/* Money-sized values do not overflow: $9M of $9.2M. */
	fmt_bar(b, sizeof b, 8, 9000000 * USD, 9200000 * USD, false);
	ck_assert_str_eq(b, "███████▊");
	/* A short buffer is cut at a whole glyph, never mid-character. */
	char small[8];
	fmt_bar(small, sizeof small, 8, 8, 8, false);
	ck_assert_str_eq(small, "██");
}
END_TEST

START_TEST(bar_ascii)
{
	char b[FMT_CELLS_BYTES(10)];
	fmt_bar(b, sizeof b, 10, 64, 100, true);
	ck_assert_str_eq(b, "######-...");
	fmt_bar(b, sizeof b, 10, 66, 100, true);
	ck_assert_str_eq(b, "######=...");
}
END_TEST

START_TEST(scale_no_overflow)
{
	ck_assert_int_eq(fmt_scale(INT64_MAX / 2, INT64_MAX, 1000), 499);
	ck_assert_int_eq(fmt_scale(1, 3, 8), 2);
	ck_assert_int_eq(fmt_scale(5, 5, 8), 8);
	ck_assert_int_eq(fmt_scale(0, 5, 8), 0);
}
END_TEST

/* ---- sparkline ---------------------------------------------------------------- */

START_TEST(spark_levels)
{
	char b[FMT_CELLS_BYTES(16)];
	int64_t v[] = {0, 1, 50, 100};
	fmt_spark(b, sizeof b, v, 4, 4, false);
	/* zero is the baseline, any spend stands above it, the peak is full */
	ck_assert_str_eq(b, "▁▂▅█");
	fmt_spark(b, sizeof b, v, 4, 6, false);
	ck_assert_str_eq(b, "  ▁▂▅█");
	fmt_spark(b, sizeof b, v, 4, 2, false); /* the last two, rescaled */
	ck_assert_str_eq(b, "▅█");
	fmt_spark(b, sizeof b, v, 4, 4, true);
	ck_assert_str_eq(b, "_.=#");
	int64_t zeros[3] = {0, 0, -4};
	fmt_spark(b, sizeof b, zeros, 3, 3, false);
	ck_assert_str_eq(b, "▁▁▁");
}
END_TEST

/* An hour that does not fit is summed into wider cells, newest last, so
 * the sparkline still spans all of it. */
START_TEST(spark_rebucket)
{
	int64_t v[7] = {1, 2, 3, 4, 5, 6, 7}, out[7];
	int n;
	ck_assert_int_eq(fmt_rebucket(v, 7, 7, out, &n), 1);
	ck_assert_int_eq(n, 7);
	ck_assert_int_eq(out[6], 7);
	ck_assert_int_eq(fmt_rebucket(v, 7, 3, out, &n), 3); /* ceil(7/3) values a cell */
	ck_assert_int_eq(n, 3);
	ck_assert_int_eq(out[0], 1);         /* the oldest cell holds what is left */
	ck_assert_int_eq(out[1], 2 + 3 + 4);
	ck_assert_int_eq(out[2], 5 + 6 + 7); /* the newest value ends the last cell */
	ck_assert_int_eq(fmt_rebucket(v, 7, 0, out, &n), 7);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(out[0], 28);
	int64_t neg[4] = {-5, 2, 0, 1};
	ck_assert_int_eq(fmt_rebucket(neg, 4, 2, out, &n), 2);
	ck_assert_int_eq(out[0], 2); /* negative values count as 0, as in fmt_spark */
	ck_assert_int_eq(out[1], 1);
	int64_t hour[60] = {0}, cells[60];
	hour[59] = 9;
	ck_assert_int_eq(fmt_rebucket(hour, 60, 34, cells, &n), 2); /* 34 cells: 2 min each */
	ck_assert_int_eq(n, 30);
	ck_assert_int_eq(cells[29], 9);
	ck_assert_int_eq(fmt_rebucket(v, 0, 3, out, &n), 1);
	ck_assert_int_eq(n, 0);
}
END_TEST

/* ---- money, counts, tokens -------------------------------------------------------- */

START_TEST(money_display)
{
	char b[32];
	fmt_money(b, sizeof b, 0);
	ck_assert_str_eq(b, "$0.00");
	fmt_money(b, sizeof b, 1234567 * (USD / 1000)); /* $1,234.567 */
	ck_assert_str_eq(b, "$1,234.57");
	fmt_money(b, sizeof b, 469050000000LL); /* $0.46905 */
	ck_assert_str_eq(b, "$0.469");
	fmt_money(b, sizeof b, 500000000LL); /* $0.0005 */
	ck_assert_str_eq(b, "$0.0005");
	fmt_money(b, sizeof b, 1); /* one picodollar */
	ck_assert_str_eq(b, "<$0.0001");
	fmt_money(b, sizeof b, 50000000LL); /* $0.00005 rounds to $0.0001 */
	ck_assert_str_eq(b, "$0.0001");
	fmt_money_cents(b, sizeof b, 10 * USD);
	ck_assert_str_eq(b, "$10.00");
	fmt_money(b, sizeof b, -2 * USD);
	ck_assert_str_eq(b, "-$2.00");
}
END_TEST

START_TEST(counts_and_tokens)
{
	char b[32];
	fmt_count(b, sizeof b, 48210);
	ck_assert_str_eq(b, "48,210");
	fmt_count(b, sizeof b, 0);
	ck_assert_str_eq(b, "0");
	fmt_count(b, sizeof b, -1234567);
	ck_assert_str_eq(b, "-1,234,567");
	fmt_count(b, sizeof b, 999);
	ck_assert_str_eq(b, "999");

	static const struct {
		int64_t v;
		const char *s;
	} t[] = {{0, "0"},         {950, "950"},        {1000, "1k"},       {7100, "7.1k"},
	         {12345, "12k"},   {18000, "18k"},      {402118, "402k"},   {999499, "999k"},
	         {999500, "1M"},   {1234567, "1.2M"},   {35000000, "35M"},  {1400000000, "1.4G"},
	         {9960, "10k"},    {-5, "0"}};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		fmt_tokens(b, sizeof b, t[i].v);
		ck_assert_msg(!strcmp(b, t[i].s), "%lld -> '%s', want '%s'", (long long)t[i].v, b,
		              t[i].s);
	}
}
END_TEST

START_TEST(bytes_and_pct)
{
	char b[32];
	fmt_bytes(b, sizeof b, 512);
	ck_assert_str_eq(b, "512 B");
	fmt_bytes(b, sizeof b, 8493465);
	ck_assert_str_eq(b, "8.1 MB");
	fmt_bytes(b, sizeof b, 20 * 1024 * 1024);
	ck_assert_str_eq(b, "20 MB");
	fmt_pct(b, sizeof b, 54, 172, 1);
	ck_assert_str_eq(b, "31.4%");
	fmt_pct(b, sizeof b, 642, 1000, 0);
	ck_assert_str_eq(b, "64%");
	fmt_pct(b, sizeof b, 5, 1000, 0); /* 0.5% rounds half up */
	ck_assert_str_eq(b, "1%");
	fmt_pct(b, sizeof b, 12 * USD, 10 * USD, 0);
	ck_assert_str_eq(b, "120%");
	fmt_pct(b, sizeof b, 1, 0, 0);
	ck_assert_str_eq(b, "-");
	fmt_pct(b, sizeof b, INT64_MAX / 2, INT64_MAX, 2); /* large values, no overflow */
	ck_assert_str_eq(b, "50.00%");
}
END_TEST

/* ---- durations and clock --------------------------------------------------------- */

START_TEST(durations)
{
	static const struct {
		int64_t ns;
		const char *s;
	} t[] = {{0, "0.0s"},
	         {400 * 1000000LL, "0.4s"},
	         {1234 * 1000000LL, "1.2s"},
	         {9999 * 1000000LL, "9.9s"},
	         {12 * 1000000000LL, "12s"},
	         {245 * 1000000000LL, "4m05s"},
	         {7500 * 1000000000LL, "2h05m"},
	         {3LL * 86400 * 1000000000LL + 4 * 3600 * 1000000000LL, "3d04h"},
	         {-5, "0.0s"}};
	char b[32];
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		fmt_duration_ns(b, sizeof b, t[i].ns);
		ck_assert_msg(!strcmp(b, t[i].s), "%lld ns -> '%s', want '%s'", (long long)t[i].ns, b,
		              t[i].s);
	}
	fmt_countdown_ns(b, sizeof b, 3200 * 1000000LL);
	ck_assert_str_eq(b, "4s");
	fmt_countdown_ns(b, sizeof b, 4000 * 1000000LL);
	ck_assert_str_eq(b, "4s");
	fmt_countdown_ns(b, sizeof b, 65 * 1000000000LL);
	ck_assert_str_eq(b, "1m05s");
}
END_TEST

START_TEST(clock_times)
{
	char b[32];
	setenv("TZ", "UTC", 1);
	tzset();
	int64_t t = 1700000000LL * 1000000000LL; /* Tue 2023-11-14 22:13:20 UTC */
	fmt_clock_hm(b, sizeof b, t);
	ck_assert_str_eq(b, "22:13");
	fmt_clock_hms(b, sizeof b, t);
	ck_assert_str_eq(b, "22:13:20");
	fmt_clock_day_hms(b, sizeof b, t);
	ck_assert_str_eq(b, "Tue 22:13:20");
}
END_TEST

/* ---- text ----------------------------------------------------------------------- */

static char *san(const char *in, size_t len, bool ascii)
{
	static char out[4096];
	am_text_sanitize(in, len, out, ascii, NULL);
	return out;
}

START_TEST(sanitise_controls)
{
	ck_assert_str_eq(san("a\x1b[31mred\x1b[0m", 13, false), "a^[[31mred^[[0m");
	ck_assert_str_eq(san("bell\x07!", 6, false), "bell^G!");
	ck_assert_str_eq(san("del\x7f", 4, false), "del^?");
	ck_assert_str_eq(san("nul\0x", 5, false), "nul^@x");
	ck_assert_str_eq(san("a\r\nb", 4, false), "a\nb");
	ck_assert_str_eq(san("a\rb", 3, false), "a^Mb");
	ck_assert_str_eq(san("line\nnext", 9, false), "line\nnext");
	/* tabs go to the next multiple of 4 cells */
	ck_assert_str_eq(san("\tx", 2, false), "    x");
	ck_assert_str_eq(san("ab\tx", 4, false), "ab  x");
	/* C1 controls (CSI U+009B), bidi overrides, separators */
	ck_assert_str_eq(san("x\xc2\x9b" "31m", 6, false), "x\xef\xbf\xbd" "31m");
	ck_assert_str_eq(san("\xe2\x80\xae" "abc", 6, false), "\xef\xbf\xbd" "abc");
	ck_assert_str_eq(san("\xe2\x80\xa8", 3, false), "\xef\xbf\xbd");
	/* nothing that reaches the terminal is a control byte */
	char all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (char)i;
	const char *s = san(all, sizeof all, false);
	for (size_t i = 0; s[i]; i++) {
		unsigned char c = (unsigned char)s[i];
		ck_assert_msg(c == '\n' || (c >= 0x20 && c != 0x7f), "control byte %02x at %zu", c, i);
	}
}
END_TEST

START_TEST(sanitise_utf8)
{
	ck_assert_str_eq(san("caf\xc3\xa9", 5, false), "café");
	ck_assert_str_eq(san("日本", 6, false), "日本");
	/* invalid: stray continuation, overlong, surrogate, truncated */
	ck_assert_str_eq(san("\x80", 1, false), "\xef\xbf\xbd");
	ck_assert_str_eq(san("\xc0\xaf", 2, false), "\xef\xbf\xbd\xef\xbf\xbd");
	ck_assert_str_eq(san("\xed\xa0\x80", 3, false), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	ck_assert_str_eq(san("a\xe6\x97", 3, false), "a\xef\xbf\xbd\xef\xbf\xbd");
	/* ASCII mode: every non-ASCII character is one '?' */
	ck_assert_str_eq(san("café 日本\x1b", 13, true), "caf? ??^[");
}
END_TEST

START_TEST(sanitise_streamed)
{
	/* "é" split across two chunks survives when the tail is held back. */
	const char *s = "ab\xc3\xa9";
	ck_assert_uint_eq(am_utf8_incomplete_tail(s, 3), 1);
	ck_assert_uint_eq(am_utf8_incomplete_tail(s, 4), 0);
	ck_assert_uint_eq(am_utf8_incomplete_tail("x\xe6\x97", 3), 2);
	ck_assert_uint_eq(am_utf8_incomplete_tail("x\r", 2), 1);
	ck_assert_uint_eq(am_utf8_incomplete_tail("x\x80", 2), 0); /* stray: not incomplete */
	/* a tab's stop depends on what came before, across chunks */
	am_text_san st = {0};
	char out[64];
	am_text_sanitize("abc", 3, out, false, &st);
	am_text_sanitize("\tx", 2, out, false, &st);
	ck_assert_str_eq(out, " x");
}
END_TEST

START_TEST(widths_and_fit)
{
	ck_assert_int_eq(cells("abc"), 3);
	ck_assert_int_eq(cells("日本"), 4);
	ck_assert_int_eq(cells("e\xcc\x81"), 1); /* e + combining acute */
	char b[64];
	fmt_fit(b, sizeof b, "hello world", 8, false);
	ck_assert_str_eq(b, "hello w…");
	ck_assert_int_eq(cells(b), 8);
	fmt_fit(b, sizeof b, "hello world", 8, true);
	ck_assert_str_eq(b, "hello w~");
	fmt_fit(b, sizeof b, "日本語です", 5, false); /* never half a wide char */
	ck_assert_str_eq(b, "日本…");
	ck_assert_int_eq(cells(b), 5);
	fmt_fit(b, sizeof b, "short", 8, false);
	ck_assert_str_eq(b, "short");
	fmt_pad(b, sizeof b, "42", 5, true);
	ck_assert_str_eq(b, "   42");
	fmt_pad(b, sizeof b, "日", 4, false);
	ck_assert_str_eq(b, "日  ");
}
END_TEST

struct wrapped {
	int n;
	char line[16][64];
	int cells[16];
};

static void collect(void *ctx, const char *s, size_t len, int c)
{
	struct wrapped *w = ctx;
	if (w->n < 16) {
		snprintf(w->line[w->n], 64, "%.*s", (int)len, s);
		w->cells[w->n] = c;
	}
	w->n++;
}

START_TEST(wrapping)
{
	struct wrapped w = {0};
	const char *s = "the quick brown fox jumps";
	ck_assert_int_eq(fmt_wrap(s, strlen(s), 10, collect, &w), 3);
	ck_assert_str_eq(w.line[0], "the quick");
	ck_assert_str_eq(w.line[1], "brown fox");
	ck_assert_str_eq(w.line[2], "jumps");
	memset(&w, 0, sizeof w);
	s = "abcdefghijkl";
	ck_assert_int_eq(fmt_wrap(s, strlen(s), 5, collect, &w), 3); /* a long word is cut */
	ck_assert_str_eq(w.line[0], "abcde");
	ck_assert_str_eq(w.line[2], "kl");
	memset(&w, 0, sizeof w);
	s = "one\n\ntwo";
	ck_assert_int_eq(fmt_wrap(s, strlen(s), 20, collect, &w), 3);
	ck_assert_str_eq(w.line[1], "");
	memset(&w, 0, sizeof w);
	s = "日本語日本語"; /* 12 cells, wide chars never split across a line */
	ck_assert_int_eq(fmt_wrap(s, strlen(s), 5, collect, &w), 3);
	ck_assert_str_eq(w.line[0], "日本");
	ck_assert_int_eq(w.cells[0], 4);
	ck_assert_int_eq(fmt_wrap("", 0, 10, NULL, NULL), 1);
	/* every line fits, whatever the width */
	s = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod";
	for (int width = 1; width < 40; width++) {
		memset(&w, 0, sizeof w);
		int n = fmt_wrap(s, strlen(s), width, collect, &w);
		for (int i = 0; i < n && i < 16; i++)
			ck_assert_int_le(w.cells[i], width);
	}
}
END_TEST

/* ---- layout ---------------------------------------------------------------------- */

static bool inside(ui_rect r, int cols, int rows)
{
	return r.y >= 0 && r.x >= 0 && r.y + r.h <= rows && r.x + r.w <= cols;
}

static bool overlap(ui_rect a, ui_rect b)
{
	return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

/* Checks one size; returns NULL or what is wrong. Plain ifs, not
 * ck_assert, because Check reports every passing assertion through a pipe
 * and the sweep makes a hundred thousand layouts. */
static const char *layout_fault(int cols, int rows, const ui_layout_hint *h, char *why, size_t n)
{
	ui_layout l;
	ui_layout_compute(cols, rows, h, &l);
	for (int p = 0; p < UI_P_COUNT; p++) {
		const char *pn = ui_panel_name((ui_panel)p);
		if (!ui_layout_has(&l, (ui_panel)p)) {
			if (cols >= 80 && rows >= 24 && p != UI_P_TOOSMALL) {
				snprintf(why, n, "%dx%d: %s missing", cols, rows, pn);
				return why;
			}
			continue;
		}
		if (!inside(l.r[p], cols, rows)) {
			snprintf(why, n, "%dx%d: %s outside the screen", cols, rows, pn);
			return why;
		}
		for (int q = p + 1; q < UI_P_COUNT; q++)
			if (ui_layout_has(&l, (ui_panel)q) && overlap(l.r[p], l.r[q])) {
				snprintf(why, n, "%dx%d: %s overlaps %s", cols, rows, pn,
				         ui_panel_name((ui_panel)q));
				return why;
			}
	}
	bool small = l.mode == UI_LAYOUT_TOO_SMALL;
	if (small && (!ui_layout_has(&l, UI_P_TOOSMALL) || l.r[UI_P_TOOSMALL].h != 1))
		snprintf(why, n, "%dx%d: no one-line message", cols, rows);
	else if (!small && (!ui_layout_has(&l, UI_P_HEADER) || !ui_layout_has(&l, UI_P_INPUT) ||
	                    !ui_layout_has(&l, UI_P_CONSOLE) || ui_layout_has(&l, UI_P_TOOSMALL)))
		snprintf(why, n, "%dx%d: header, console and input must show", cols, rows);
	else if (cols >= 80 && rows >= 24 && l.r[UI_P_CONSOLE].h < 3)
		snprintf(why, n, "%dx%d: console too short", cols, rows);
	else if (l.mode == UI_LAYOUT_FULL && (l.budget_lines < 6 || l.r[UI_P_CACHE].h - 2 < 4))
		snprintf(why, n, "%dx%d: budget or cache panel too short", cols, rows);
	else
		return NULL;
	return why;
}

START_TEST(layout_every_size)
{
	static const ui_layout_hint hints[] = {{4, 1, 4, 0}, {0, 0, 0, 0}, {16, 8, 4, 3},
	                                       {1, 3, 3, 1}};
	char why[128];
	const char *fault = NULL;
	int checked = 0;
	for (size_t k = 0; k < sizeof hints / sizeof hints[0] && !fault; k++)
		for (int rows = 5; rows <= 100 && !fault; rows++)
			for (int cols = 20; cols <= 300 && !fault; cols++, checked++)
				fault = layout_fault(cols, rows, &hints[k], why, sizeof why);
	if (!fault)
		fault = layout_fault(120, 40, NULL, why, sizeof why);
	ck_assert_msg(!fault, "%s", fault);
	ck_assert_int_eq(checked, 4 * 96 * 281);
}
END_TEST

START_TEST(layout_modes)
{
	ui_layout l;
	ui_layout_compute(120, 40, NULL, &l);
	ck_assert_int_eq(l.mode, UI_LAYOUT_FULL);
	ck_assert(l.boxed);
	/* budget and limits side by side, models and cache side by side */
	ck_assert_int_eq(l.r[UI_P_BUDGET].y, l.r[UI_P_LIMITS].y);
	ck_assert_int_eq(l.r[UI_P_MODELS].y, l.r[UI_P_CACHE].y);
	ck_assert_int_ge(l.r[UI_P_CONSOLE].h, 15);
	ck_assert_int_eq(l.r[UI_P_HINTS].y, 39);
	ck_assert_int_eq(l.r[UI_P_INPUT].y, 38);

	ui_layout_compute(80, 24, NULL, &l);
	ck_assert_int_eq(l.mode, UI_LAYOUT_COMPACT);
	ck_assert(!l.boxed);
	ck_assert_int_ge(l.r[UI_P_CONSOLE].h, 6);

	ui_layout_compute(40, 12, NULL, &l);
	ck_assert_int_eq(l.mode, UI_LAYOUT_COMPACT);
	ck_assert(!ui_layout_has(&l, UI_P_MODELS)); /* dropped first */
	ck_assert(ui_layout_has(&l, UI_P_BUDGET));

	ui_layout_compute(20, 5, NULL, &l);
	ck_assert_int_eq(l.mode, UI_LAYOUT_TOO_SMALL);
	ui_layout_compute(0, 0, NULL, &l);
	ck_assert_int_eq(l.mode, UI_LAYOUT_TOO_SMALL);
	ck_assert(!ui_layout_has(&l, UI_P_TOOSMALL));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("ui_fmt");
	TCase *t = tcase_create("fmt");
	tcase_add_test(t, bar_eighths);
	tcase_add_test(t, bar_edges);
	tcase_add_test(t, bar_ascii);
	tcase_add_test(t, scale_no_overflow);
	tcase_add_test(t, spark_levels);
	tcase_add_test(t, spark_rebucket);
	tcase_add_test(t, money_display);
	tcase_add_test(t, counts_and_tokens);
	tcase_add_test(t, bytes_and_pct);
	tcase_add_test(t, durations);
	tcase_add_test(t, clock_times);
	tcase_add_test(t, sanitise_controls);
	tcase_add_test(t, sanitise_utf8);
	tcase_add_test(t, sanitise_streamed);
	tcase_add_test(t, widths_and_fit);
	tcase_add_test(t, wrapping);
	suite_add_tcase(s, t);
	TCase *l = tcase_create("layout");
	tcase_add_test(l, layout_every_size);
	tcase_add_test(l, layout_modes);
	suite_add_tcase(s, l);
	return s;
}

int main(void)
{
	/* wcwidth needs an UTF-8 LC_CTYPE, as the UI sets at start. */
	if (!check_utf8_locale())
		return EXIT_FAILURE;
	return check_run(suite());
}
