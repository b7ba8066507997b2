/* test_money: exact parsing and formatting of picodollar amounts.
 *
 * Expected values are written out by hand; round trips use a fixed PRNG so
 * failures reproduce. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "money.h"

struct parse_case {
	const char *in;
	int rc;
	int64_t want;
};

typedef int (*parse_fn)(const char *, int64_t *, am_err *);

static void check_parse(parse_fn fn, const struct parse_case *c)
{
	int64_t v = 0;
	am_err err = {0};
	int rc = fn(c->in, &v, &err);
	ck_assert_msg(rc == c->rc, "'%s': rc %d, want %d (%s)", c->in, rc, c->rc, err.msg);
	if (rc == 0)
		ck_assert_msg(v == c->want, "'%s': %lld, want %lld", c->in, (long long)v,
		              (long long)c->want);
	else
		ck_assert_msg(err.msg[0] != '\0', "'%s': failure without a message", c->in);
}

static const struct parse_case usd_cases[] = {
	{ "12", 0, 12000000000000LL },
	{ "0.50", 0, 500000000000LL },
	{ "0", 0, 0 },
	{ "-0", 0, 0 },
	{ "-0.5", 0, -500000000000LL },
	{ "+2", 0, 2000000000000LL },
	{ " $1,234.56 ", 0, 1234560000000000LL },
	{ "-$3", 0, -3000000000000LL },
	{ "1,000,000", 0, 1000000000000000000LL },
	{ ".5", 0, 500000000000LL },
	{ "5.", 0, 5000000000000LL },
	{ "0.000000000001", 0, 1 },
	{ "0.000000000123", 0, 123 },
	{ "1.50000000000000000000000000000000000000000000000000000000000000000000", 0,
	  1500000000000LL },
	{ "9223372.036854775807", 0, INT64_MAX },
	{ "-9223372.036854775807", 0, -INT64_MAX },
	{ "9223372.036854775808", -1, 0 },
	{ "10000000", -1, 0 },
	{ "0.0000000000001", -1, 0 },
	{ "0.0000000000010", 0, 1 },
	{ "1e-6", -1, 0 },
	{ "", -1, 0 },
	{ "   ", -1, 0 },
	{ "abc", -1, 0 },
	{ "1.2.3", -1, 0 },
	{ "--1", -1, 0 },
	{ "1,23", -1, 0 },
	{ ",500", -1, 0 },
	{ "1,0000", -1, 0 },
	{ "1 2", -1, 0 },
	{ "$", -1, 0 },
	{ "0x10", -1, 0 },
};

START_TEST(test_parse_usd)
{
	check_parse(am_money_parse_usd, &usd_cases[_i]);
}
END_TEST

static const struct parse_case mtok_cases[] = {
	{ "3.75", 0, 3750000 },
	{ "0.015", 0, 15000 },
	{ "0.03", 0, 30000 },
	{ "18.75", 0, 18750000 },
	{ "22.50", 0, 22500000 },
	{ "0.000001", 0, 1 },
	{ "0", 0, 0 },
	{ "$5", 0, 5000000 },
	{ "0.0000001", -1, 0 },
	{ "0.00000015", -1, 0 },
	{ "-1", -1, 0 },
	{ "1e1", -1, 0 },
	{ "9223372036854.775807", 0, INT64_MAX },
	{ "9223372036854.775808", -1, 0 },
	{ "three", -1, 0 },
};

START_TEST(test_parse_per_mtok)
{
	check_parse(am_money_parse_per_mtok, &mtok_cases[_i]);
}
END_TEST

static const struct parse_case token_cases[] = {
	{ "1.25e-06", 0, 1250000 },
	{ "1.25E-06", 0, 1250000 },
	{ "3e-08", 0, 30000 },
	{ "1.875e-08", 0, 18750 },
	{ "2.5e-09", 0, 2500 },
	{ "1.5625e-06", 0, 1562500 },
	{ "1e-12", 0, 1 },
	{ "0.000003", 0, 3000000 },
	{ "0.0", 0, 0 },
	{ "0", 0, 0 },
	{ "1e+2", 0, 100000000000000LL },
	{ "1e2", 0, 100000000000000LL },
	{ "0.5e-06", 0, 500000 },
	{ "150e-08", 0, 1500000 },
	{ "5e-06 ", 0, 5000000 },
	{ "1e-13", -1, 0 },
	{ "1.5e-13", -1, 0 },
	{ "1.0000000000001e-06", -1, 0 },
	{ "1e", -1, 0 },
	{ "1e-", -1, 0 },
	{ "e-6", -1, 0 },
	{ "-1e-6", -1, 0 },
	{ "1e-1000000", -1, 0 },
	{ "1e30", -1, 0 },
	{ "1,000e-06", -1, 0 },
	{ "$1e-06", -1, 0 },
};

START_TEST(test_parse_per_token)
{
	check_parse(am_money_parse_per_token, &token_cases[_i]);
}
END_TEST

START_TEST(test_finer_message_names_unit)
{
	int64_t v;
	am_err err = {0};
	ck_assert_int_eq(am_money_parse_per_token("1e-13", &v, &err), -1);
	ck_assert_msg(strstr(err.msg, "picodollar") && strstr(err.msg, "1e-13"), "%s", err.msg);
}
END_TEST

struct fmt_case {
	int64_t in;
	const char *want;
};

static const struct fmt_case fmt_cases[] = {
	{ 0, "0" },
	{ 1500000000000LL, "1.5" },
	{ 123, "0.000000000123" },
	{ -500000000000LL, "-0.5" },
	{ 1000000000000LL, "1" },
	{ 1, "0.000000000001" },
	{ -1, "-0.000000000001" },
	{ 36894250000LL, "0.03689425" },
	{ INT64_MAX, "9223372.036854775807" },
	{ INT64_MIN, "-9223372.036854775808" },
	{ 12000000000000LL, "12" },
};

START_TEST(test_format)
{
	const struct fmt_case *c = &fmt_cases[_i];
	char buf[24];
	int n = am_money_format(c->in, buf, sizeof buf);
	ck_assert_str_eq(buf, c->want);
	ck_assert_int_eq(n, (int)strlen(c->want));
}
END_TEST

START_TEST(test_format_truncates_safely)
{
	char buf[5];
	int n = am_money_format(1500000000000LL, buf, sizeof buf);
	ck_assert_int_eq(n, 3);
	ck_assert_str_eq(buf, "1.5");
	n = am_money_format(123, buf, sizeof buf);
	ck_assert_int_eq(n, 14);
	ck_assert_str_eq(buf, "0.00");
}
END_TEST

static const struct fmt_case mtok_fmt_cases[] = {
	{ 3750000, "3.75" }, { 15000, "0.015" }, { 5000000, "5" },
	{ 1, "0.000001" },   { 0, "0" },         { 22500000, "22.5" },
};

START_TEST(test_format_per_mtok)
{
	const struct fmt_case *c = &mtok_fmt_cases[_i];
	char buf[32];
	am_money_format_per_mtok(c->in, buf, sizeof buf);
	ck_assert_str_eq(buf, c->want);
	int64_t back;
	ck_assert_int_eq(am_money_parse_per_mtok(buf, &back, NULL), 0);
	ck_assert_int_eq(back, c->in);
}
END_TEST

struct display_case {
	int64_t in;
	int decimals;
	const char *want;
};

static const struct display_case display_cases[] = {
	{ 1234560000000000LL, 2, "$1,234.56" },
	{ 0, 2, "$0.00" },
	{ 5000000000LL, 2, "$0.01" },      /* $0.005: half rounds up */
	{ 4999999999LL, 2, "$0.00" },
	{ -1, 2, "$0.00" },                /* no "-$0.00" */
	{ -5000000000LL, 2, "-$0.01" },
	{ -1500000000000LL, 0, "-$2" },
	{ 999999999999999LL, 2, "$1,000.00" },
	{ 999000000000000LL, 0, "$999" },
	{ 1000000000000000LL, 0, "$1,000" },
	{ 100000000000000000LL, 2, "$100,000.00" },
	{ INT64_MAX, 2, "$9,223,372.04" },
	{ INT64_MIN, 2, "-$9,223,372.04" },
	{ 123, 12, "$0.000000000123" },
	{ 36894250000LL, 4, "$0.0369" },
	{ 36894250000LL, 6, "$0.036894" },
	{ 36894250000LL, 7, "$0.0368943" },  /* ...25 -> up */
	{ 1500000000000LL, -3, "$2" },       /* clamped to 0 decimals */
	{ 1, 20, "$0.000000000001" },        /* clamped to 12 */
};

START_TEST(test_format_short)
{
	char buf[64];
	am_money_format_short(1000000000LL, 12, buf, sizeof buf); /* $0.001 */
	ck_assert_str_eq(buf, "$0.001");
	am_money_format_short(12500000000000LL, 12, buf, sizeof buf);
	ck_assert_str_eq(buf, "$12.50");
	am_money_format_short(3500000000LL, 12, buf, sizeof buf);
	ck_assert_str_eq(buf, "$0.0035");
	am_money_format_short(0, 12, buf, sizeof buf);
	ck_assert_str_eq(buf, "$0.00");
	am_money_format_short(1234567890000000LL, 2, buf, sizeof buf);
	ck_assert_str_eq(buf, "$1,234.57");
	am_money_format_short(35462000000LL, 3, buf, sizeof buf);
	ck_assert_str_eq(buf, "$0.035");
	am_money_format_short(-1000000000LL, 6, buf, sizeof buf);
	ck_assert_str_eq(buf, "-$0.001");
	am_money_format_short(123, 12, buf, sizeof buf);
	ck_assert_str_eq(buf, "$0.000000000123");
}
END_TEST

START_TEST(test_format_display)
{
	const struct display_case *c = &display_cases[_i];
	char buf[64];
	am_money_format_display(c->in, c->decimals, buf, sizeof buf);
	ck_assert_msg(!strcmp(buf, c->want), "%lld @%d: '%s', want '%s'", (long long)c->in,
	              c->decimals, buf, c->want);
}
END_TEST

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	/* xorshift64*: deterministic, so a failure names a reproducible value */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

START_TEST(test_round_trip_usd)
{
	for (int i = 0; i < 20000; i++) {
		/* A spread of magnitudes, not just huge values. */
		int64_t v = (int64_t)(rng() >> (rng() % 63));
		if (rng() & 1)
			v = -v;
		char buf[24];
		am_money_format(v, buf, sizeof buf);
		int64_t back = 0;
		am_err err;
		ck_assert_msg(am_money_parse_usd(buf, &back, &err) == 0, "%s: %s", buf, err.msg);
		ck_assert_msg(back == v, "%lld -> '%s' -> %lld", (long long)v, buf, (long long)back);
	}
}
END_TEST

START_TEST(test_round_trip_per_token)
{
	/* LiteLLM writes Python's repr of price/1e6: mantissa digits and an
	 * exponent. Build such strings from a known pUSD value and parse back. */
	for (int i = 0; i < 5000; i++) {
		int64_t v = (int64_t)(rng() % 100000000000ULL) + 1; /* up to $0.1/token */
		char digits[24], text[48];
		int nd = snprintf(digits, sizeof digits, "%lld", (long long)v);
		/* v pUSD = d1.d2d3... × 10^(nd-1-12) USD */
		int exp = nd - 1 - 12;
		int end = nd;
		while (end > 1 && digits[end - 1] == '0')
			end--;
		if (end > 1)
			snprintf(text, sizeof text, "%c.%.*se%c%02d", digits[0], end - 1, digits + 1,
			         exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
		else
			snprintf(text, sizeof text, "%ce%c%02d", digits[0], exp < 0 ? '-' : '+',
			         exp < 0 ? -exp : exp);
		int64_t back = 0;
		am_err err;
		ck_assert_msg(am_money_parse_per_token(text, &back, &err) == 0, "%s: %s", text,
		              err.msg);
		ck_assert_msg(back == v, "%lld -> '%s' -> %lld", (long long)v, text,
		              (long long)back);
	}
}
END_TEST

START_TEST(test_checked_arithmetic)
{
	int64_t r = 7;
	ck_assert_int_eq(am_money_mul(3, 4, &r), 0);
	ck_assert_int_eq(r, 12);
	ck_assert_int_eq(am_money_mul(INT64_MAX / 2 + 1, 2, &r), -1);
	ck_assert_int_eq(r, 12); /* untouched on overflow */
	ck_assert_int_eq(am_money_mul(INT64_MIN, -1, &r), -1);
	ck_assert_int_eq(am_money_mul(-3, 4, &r), 0);
	ck_assert_int_eq(r, -12);
	ck_assert_int_eq(am_money_add(INT64_MAX, 1, &r), -1);
	ck_assert_int_eq(r, -12);
	ck_assert_int_eq(am_money_add(INT64_MAX - 1, 1, &r), 0);
	ck_assert_int_eq(r, INT64_MAX);
	ck_assert_int_eq(am_money_add(INT64_MIN, -1, &r), -1);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *money_suite(void)
{
	Suite *s = suite_create("money");
	TCase *tc = tcase_create("parse");
	tcase_add_loop_test(tc, test_parse_usd, 0, N(usd_cases));
	tcase_add_loop_test(tc, test_parse_per_mtok, 0, N(mtok_cases));
	tcase_add_loop_test(tc, test_parse_per_token, 0, N(token_cases));
	tcase_add_test(tc, test_finer_message_names_unit);
	suite_add_tcase(s, tc);
	tc = tcase_create("format");
	tcase_add_loop_test(tc, test_format, 0, N(fmt_cases));
	tcase_add_test(tc, test_format_truncates_safely);
	tcase_add_loop_test(tc, test_format_per_mtok, 0, N(mtok_fmt_cases));
	tcase_add_loop_test(tc, test_format_display, 0, N(display_cases));
	tcase_add_test(tc, test_format_short);
	suite_add_tcase(s, tc);
	tc = tcase_create("round_trip");
	tcase_add_test(tc, test_round_trip_usd);
	tcase_add_test(tc, test_round_trip_per_token);
	tcase_add_test(tc, test_checked_arithmetic);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(money_suite());
}
