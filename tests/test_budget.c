/* test_budget: reservations never overshoot a limit, periods roll over,
 * alerts fire once per period, burn figures are exact integers. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "budget.h"
#include "clock.h"
#include "money.h"
#include "check_run.h"
#include "config.h"
#include "pricing.h"
#include "testrng.h"

#define MIN_NS (60 * AM_NS_PER_SEC)
#define T0 (1741953600LL * AM_NS_PER_SEC) /* 2025-03-14 12:00:00 UTC, a minute boundary */

/* Exact amounts from decimal strings: money never passes through a double. */
static int64_t usd(const char *s)
{
	int64_t v = 0;
	ck_assert_int_eq(am_money_parse_usd(s, &v, NULL), 0);
	return v;
}

static am_budget_now mk_now(const char *day, int64_t wall_ns, int64_t left_s)
{
	am_budget_now n;
	memset(&n, 0, sizeof n);
	snprintf(n.day, sizeof n.day, "%s", day);
	snprintf(n.month, sizeof n.month, "%.7s", day);
	n.wall_ns = wall_ns;
	n.day_left_s = left_s;
	return n;
}

/* Limits as given, one alert at 80%, the table bound the config defaults to. */
static am_budget_config config(int64_t day_limit, int64_t month_limit)
{
	am_budget_config cfg = {.day_limit_pusd = day_limit, .month_limit_pusd = month_limit,
	                        .nalerts = 1, .alert_pct = {80}, .max_reservations = 4096};
	return cfg;
}

/* A budget with that config, starting from the ledger's totals. */
static am_budget *mk_from(int64_t day_limit, int64_t month_limit, int64_t day_spent,
                          int64_t month_spent, const am_budget_now *now)
{
	am_budget_config cfg = config(day_limit, month_limit);
	am_budget *b = NULL;
	am_err err = {0};
	ck_assert_int_eq(am_budget_new(&b, &cfg, now, day_spent, month_spent, false, &err), 0);
	return b;
}

static am_budget *mk(int64_t day_limit, int64_t month_limit, const am_budget_now *now)
{
	return mk_from(day_limit, month_limit, 0, 0, now);
}

static am_budget_cost cost(int64_t pusd)
{
	am_budget_cost c = {.pusd = pusd};
	return c;
}

static int64_t reserve_ok(am_budget *b, const am_budget_now *now, int64_t pusd)
{
	am_budget_grant g;
	am_budget_cost c = cost(pusd);
	ck_assert_int_eq(am_budget_reserve(b, now, &c, &g, NULL), 0);
	ck_assert_int_eq(g.verdict, AM_BUDGET_RESERVED);
	ck_assert_int_gt(g.id, 0);
	ck_assert_int_eq(g.amount_pusd, pusd);
	return g.id;
}

static am_budget_verdict try_reserve(am_budget *b, const am_budget_now *now, int64_t pusd,
                                     int64_t *id)
{
	am_budget_grant g;
	am_budget_cost c = cost(pusd);
	ck_assert_int_eq(am_budget_reserve(b, now, &c, &g, NULL), 0);
	if (id)
		*id = g.id;
	return g.verdict;
}

static void settle(am_budget *b, const am_budget_now *now, int64_t id, int64_t actual,
                   am_budget_alerts *alerts)
{
	am_err err = {0};
	ck_assert_msg(am_budget_settle(b, now, id, actual, NULL, alerts, &err) == 0, "%s", err.msg);
}

static int64_t day_spent(am_budget *b, const am_budget_now *now)
{
	am_budget_view s;
	memset(&s, 0, sizeof s);
	am_budget_snapshot(b, now, &s);
	return s.day_spent_pusd;
}

/* A price entry as the table holds it (pUSD per token). */
static am_price price(const char *model, int64_t in, int64_t out, int64_t w5m, int64_t w1h,
                      int64_t read)
{
	am_price p;
	memset(&p, 0, sizeof p);
	snprintf(p.model, sizeof p.model, "%s", model);
	p.input = in;
	p.output = out;
	p.cache_write_5m = w5m;
	p.cache_write_1h = w1h;
	p.cache_read = read;
	return p;
}

/* Sonnet 4.5 with its 1M-context premium above 200K input tokens. */
static am_price sonnet(void)
{
	am_price p = price("claude-sonnet-4-5", 3000000, 15000000, 3750000, 6000000, 300000);
	p.long_context_threshold = 200000;
	p.lc_input = 6000000;
	p.lc_output = 22500000;
	p.lc_cache_write_5m = 7500000;
	p.lc_cache_write_1h = 12000000;
	p.lc_cache_read = 600000;
	return p;
}

static am_price opus41(void)
{
	return price("claude-opus-4-1", 15000000, 75000000, 18750000, 30000000, 1500000);
}

/* ---- worst case --------------------------------------------------------------- */

START_TEST(worst_case_known_price)
{
	am_price s = sonnet(), o = opus41();
	am_budget_cost c;
	am_err err = {0};
	am_budget_estimate e = {.input_tokens = 1000, .max_tokens = 500};
	ck_assert_int_eq(am_budget_worst_case(&s, &o, &e, &c, &err), 0);
	ck_assert_int_eq(c.pusd, 1000LL * 3000000 + 500LL * 15000000); /* $0.0105 */
	ck_assert(!c.exempt);
	ck_assert(!c.unknown_price);

	e.cache_writes = true; /* every input token could be a 1h write */
	ck_assert_int_eq(am_budget_worst_case(&s, &o, &e, &c, &err), 0);
	ck_assert_int_eq(c.pusd, 1000LL * 6000000 + 500LL * 15000000);

	e = (am_budget_estimate){.input_tokens = 250000, .max_tokens = 1000};
	ck_assert_int_eq(am_budget_worst_case(&s, &o, &e, &c, &err), 0);
	ck_assert_int_eq(c.pusd, 250000LL * 6000000 + 1000LL * 22500000); /* long context */
	e.input_tokens = 200000; /* at the threshold: not above it */
	ck_assert_int_eq(am_budget_worst_case(&s, &o, &e, &c, &err), 0);
	ck_assert_int_eq(c.pusd, 200000LL * 3000000 + 1000LL * 15000000);
}
END_TEST

/* Through the batch API the batch discount comes off, rounded up; the
 * search fee stays whole. */
START_TEST(worst_case_at_batch_prices)
{
	am_price s = sonnet(), o = opus41();
	s.batch_discount_pct = 50;
	s.web_search_pusd = AM_WEB_SEARCH_PUSD;
	am_budget_cost c;
	am_err err = {0};
	am_budget_estimate e = {.input_tokens = 1001, .max_tokens = 3, .batch = true};
	ck_assert_int_eq(am_budget_worst_case(&s, &o, &e, &c, &err), 0);
	ck_assert_int_eq(c.pusd, (1001LL * 3000000 + 3LL * 15000000) / 2);
	s.input = 3; /* an odd total: half rounds up */
	e = (am_budget_estimate){.input_tokens = 1, .max_tokens = 0, .batch = true,
	                         .web_searches = 2};
	ck_assert_int_eq(am_budget_worst_case(&s, &o, &e, &c, &err), 0);
	ck_assert_int_eq(c.pusd, 2 + 2 * AM_WEB_SEARCH_PUSD);
	e.batch = false;
	ck_assert_int_eq(am_budget_worst_case(&s, &o, &e, &c, &err), 0);
	ck_assert_int_eq(c.pusd, 3 + 2 * AM_WEB_SEARCH_PUSD);
}
END_TEST

START_TEST(worst_case_unknown_price_at_most_expensive)
{
	am_price o = opus41();
	am_budget_cost c;
	am_err err = {0};
	am_budget_estimate e = {.input_tokens = 2000, .max_tokens = 1000};
	ck_assert_int_eq(am_budget_worst_case(NULL, &o, &e, &c, &err), 0);
	ck_assert_int_eq(c.pusd, 2000LL * 15000000 + 1000LL * 75000000);
	ck_assert(c.unknown_price);
	ck_assert_int_eq(am_budget_worst_case(NULL, NULL, &e, &c, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "unknown"));
}
END_TEST

START_TEST(worst_case_zero_price_exempt_and_errors)
{
	am_price z = price("local-llama", 0, 0, 0, 0, 0), o = opus41();
	am_budget_cost c;
	am_err err = {0};
	am_budget_estimate e = {.input_tokens = 1000000, .max_tokens = 100000};
	ck_assert_int_eq(am_budget_worst_case(&z, &o, &e, &c, &err), 0);
	ck_assert(c.exempt);
	ck_assert_int_eq(c.pusd, 0);

	e.input_tokens = -1;
	ck_assert_int_eq(am_budget_worst_case(&o, &o, &e, &c, &err), -1);
	e = (am_budget_estimate){.input_tokens = INT64_MAX / 2, .max_tokens = 1};
	ck_assert_int_eq(am_budget_worst_case(&o, &o, &e, &c, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "overflow"));
}
END_TEST

/* ---- reservations --------------------------------------------------------------- */

START_TEST(reserve_settle_cancel_against_the_day_limit)
{
	am_budget_now now = mk_now("2025-03-14", T0, 43200);
	am_budget *b = mk(usd("1"), 0, &now);
	int64_t a = reserve_ok(b, &now, usd("0.4"));
	int64_t c = reserve_ok(b, &now, usd("0.4"));
	am_budget_grant g;
	am_budget_cost big = cost(usd("0.4"));
	ck_assert_int_eq(am_budget_reserve(b, &now, &big, &g, NULL), 0);
	ck_assert_int_eq(g.verdict, AM_BUDGET_BLOCKED_DAY);
	ck_assert_str_eq(g.why, "daily limit $1.00: spent $0.00 + held $0.80 + this call $0.40 "
	                        "would cross it");
	int64_t held;
	ck_assert_int_eq(am_budget_outstanding(b, &held), 2);
	ck_assert_int_eq(held, usd("0.8"));

	settle(b, &now, a, usd("0.3"), NULL);
	ck_assert_int_eq(day_spent(b, &now), usd("0.3"));
	/* 0.3 spent + 0.4 held + 0.3 = exactly the limit: allowed */
	int64_t d = reserve_ok(b, &now, usd("0.3"));
	ck_assert_int_eq(try_reserve(b, &now, 1, NULL), AM_BUDGET_BLOCKED_DAY); /* 1 pUSD more */
	ck_assert_int_eq(am_budget_cancel(b, c, NULL), 0);
	ck_assert_int_eq(am_budget_outstanding(b, &held), 1);
	ck_assert_int_eq(held, usd("0.3"));
	settle(b, &now, d, usd("0.3"), NULL);
	ck_assert_int_eq(day_spent(b, &now), usd("0.6"));
	ck_assert_int_eq(am_budget_outstanding(b, &held), 0);
	ck_assert_int_eq(held, 0);

	/* ids are single-use */
	am_err err = {0};
	ck_assert_int_eq(am_budget_settle(b, &now, a, 0, NULL, NULL, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "no reservation"));
	ck_assert_int_eq(am_budget_cancel(b, c, &err), -1);
	ck_assert_int_eq(am_budget_cancel(b, 0, &err), -1);
	ck_assert_int_eq(am_budget_cancel(b, 123456789, &err), -1);
	/* a reused slot gets a new id: the old one still fails */
	int64_t e = reserve_ok(b, &now, 5);
	ck_assert_int_ne(e, d);
	ck_assert_int_eq(am_budget_cancel(b, d, &err), -1);
	ck_assert_int_eq(am_budget_cancel(b, e, &err), 0);
	ck_assert_int_eq(day_spent(b, &now), usd("0.6"));
	am_budget_free(b);
}
END_TEST

START_TEST(month_limit_blocks_and_says_so)
{
	am_budget_now now = mk_now("2025-03-14", T0, 43200);
	am_budget *b = mk_from(usd("10"), usd("50"), usd("1"), usd("49.5"), &now);
	am_budget_grant g;
	am_budget_cost c = cost(usd("0.6"));
	ck_assert_int_eq(am_budget_reserve(b, &now, &c, &g, NULL), 0);
	ck_assert_int_eq(g.verdict, AM_BUDGET_BLOCKED_MONTH);
	ck_assert_ptr_nonnull(strstr(g.why, "monthly limit $50.00: spent $49.50"));
	/* both crossed: the day is named */
	c = cost(usd("9.5"));
	ck_assert_int_eq(am_budget_reserve(b, &now, &c, &g, NULL), 0);
	ck_assert_int_eq(g.verdict, AM_BUDGET_BLOCKED_DAY);
	reserve_ok(b, &now, usd("0.5"));
	am_budget_free(b);
}
END_TEST

START_TEST(actual_above_reservation_is_recorded_and_reported)
{
	am_budget_now now = mk_now("2025-03-14", T0, 43200);
	am_budget *b = mk(usd("1"), 0, &now);
	int64_t id = reserve_ok(b, &now, usd("0.9"));
	int64_t over = -1;
	ck_assert_int_eq(am_budget_settle(b, &now, id, usd("1.2"), &over, NULL, NULL), 0);
	ck_assert_int_eq(over, usd("0.3"));
	ck_assert_int_eq(day_spent(b, &now), usd("1.2"));
	ck_assert_int_eq(try_reserve(b, &now, 1, NULL), AM_BUDGET_BLOCKED_DAY);
	/* over the limit, even a call with a zero worst case waits (only exempt ones pass) */
	ck_assert_int_eq(try_reserve(b, &now, 0, NULL), AM_BUDGET_BLOCKED_DAY);
	am_budget_free(b);
}
END_TEST

START_TEST(zero_price_exempt_even_when_over)
{
	am_budget_now now = mk_now("2025-03-14", T0, 43200);
	am_budget *b = mk(usd("1"), 0, &now);
	settle(b, &now, reserve_ok(b, &now, usd("1")), usd("1"), NULL);
	ck_assert_int_eq(try_reserve(b, &now, 1, NULL), AM_BUDGET_BLOCKED_DAY);
	am_price z = price("local", 0, 0, 0, 0, 0), o = opus41();
	am_budget_estimate e = {.input_tokens = 5000, .max_tokens = 5000};
	am_budget_cost c;
	ck_assert_int_eq(am_budget_worst_case(&z, &o, &e, &c, NULL), 0);
	am_budget_grant g;
	ck_assert_int_eq(am_budget_reserve(b, &now, &c, &g, NULL), 0);
	ck_assert_int_eq(g.verdict, AM_BUDGET_RESERVED);
	ck_assert_int_eq(g.amount_pusd, 0);
	settle(b, &now, g.id, 0, NULL);
	ck_assert_int_eq(day_spent(b, &now), usd("1"));
	am_budget_free(b);
}
END_TEST

START_TEST(unknown_price_flags_the_day)
{
	am_budget_now now = mk_now("2025-03-14", T0, 43200);
	am_budget *b = mk(usd("10"), 0, &now);
	am_price o = opus41();
	am_budget_estimate e = {.input_tokens = 1000, .max_tokens = 1000};
	am_budget_cost c;
	ck_assert_int_eq(am_budget_worst_case(NULL, &o, &e, &c, NULL), 0);
	am_budget_grant g;
	ck_assert_int_eq(am_budget_reserve(b, &now, &c, &g, NULL), 0);
	ck_assert_int_eq(g.amount_pusd, 1000LL * 15000000 + 1000LL * 75000000);
	am_budget_view s;
	am_budget_snapshot(b, &now, &s);
	ck_assert(!s.unknown_prices);
	ck_assert_int_eq(s.reserved_pusd, g.amount_pusd);
	settle(b, &now, g.id, usd("0.05"), NULL);
	am_budget_snapshot(b, &now, &s);
	ck_assert(s.unknown_prices);
	am_budget_now tomorrow = mk_now("2025-03-15", T0 + 86400 * AM_NS_PER_SEC, 43200);
	am_budget_snapshot(b, &tomorrow, &s);
	ck_assert(!s.unknown_prices);
	am_budget_free(b);
}
END_TEST

START_TEST(reservation_table_is_bounded)
{
	am_budget_now now = mk_now("2025-03-14", T0, 43200);
	am_budget_config cfg = config(0, 0);
	cfg.max_reservations = 3;
	am_budget *b = NULL;
	ck_assert_int_eq(am_budget_new(&b, &cfg, &now, 0, 0, false, NULL), 0);
	int64_t ids[3];
	for (int i = 0; i < 3; i++)
		ids[i] = reserve_ok(b, &now, 10);
	am_budget_grant g;
	am_budget_cost c = cost(10);
	am_err err = {0};
	ck_assert_int_eq(am_budget_reserve(b, &now, &c, &g, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "3 reservations outstanding"));
	ck_assert_int_eq(am_budget_cancel(b, ids[1], NULL), 0);
	reserve_ok(b, &now, 10);
	c = cost(-1);
	ck_assert_int_eq(am_budget_reserve(b, &now, &c, &g, &err), -1);
	ck_assert_int_eq(am_budget_settle(b, &now, ids[0], -1, NULL, NULL, &err), -1);
	ck_assert_int_eq(am_budget_outstanding(b, NULL), 3);
	am_budget_free(b);
}
END_TEST

/* ---- the randomized hard-stop test ------------------------------------------------ */

static am_test_rng rng;

static int64_t rnd_range(int64_t lo, int64_t hi) /* inclusive */
{
	return lo + am_test_rng_below(&rng, hi - lo + 1);
}

enum { JOBS = 200 };

START_TEST(random_concurrent_reservations_never_overshoot)
{
	for (uint64_t seed = 1; seed <= 25; seed++) {
		rng.state = seed * 0x9E3779B97F4A7C15ULL; /* deterministic per seed */
		am_budget_now now = mk_now("2025-03-14", T0, 43200);
		int64_t limit = usd("3") + rnd_range(0, 999999); /* not a round number */
		am_budget *b = mk(limit, 0, &now);
		int64_t worst[JOBS], out_id[JOBS], out_amt[JOBS], blocked_amt[JOBS];
		int nout = 0, nblocked = 0, next = 0;
		int64_t settled = 0, held = 0;
		for (int j = 0; j < JOBS; j++)
			worst[j] = rnd_range(usd("0.001"), usd("0.1")); /* ~$10 in all */

		while (next < JOBS || nout > 0) {
			bool do_reserve = next < JOBS && (nout == 0 || (nout < 40 && am_test_rng_below(&rng, 2)));
			if (do_reserve) {
				int64_t id;
				am_budget_verdict v = try_reserve(b, &now, worst[next], &id);
				if (v == AM_BUDGET_RESERVED) {
					out_id[nout] = id;
					out_amt[nout++] = worst[next];
					held += worst[next];
				} else {
					ck_assert_int_eq(v, AM_BUDGET_BLOCKED_DAY);
					/* blocked only when it really would not fit */
					ck_assert_int_gt(settled + held + worst[next], limit);
					blocked_amt[nblocked++] = worst[next];
				}
				next++;
			} else {
				int k = (int)rnd_range(0, nout - 1);
				if (am_test_rng_below(&rng, 10) == 0) {
					ck_assert_int_eq(am_budget_cancel(b, out_id[k], NULL), 0);
				} else {
					/* a quarter spend exactly their worst case: the edge that must still hold */
					int64_t actual = am_test_rng_below(&rng, 4) == 0 ? out_amt[k] : rnd_range(0, out_amt[k]);
					int64_t over = -1;
					ck_assert_int_eq(am_budget_settle(b, &now, out_id[k], actual, &over,
					                                  NULL, NULL), 0);
					ck_assert_int_eq(over, 0);
					settled += actual;
				}
				held -= out_amt[k];
				out_id[k] = out_id[nout - 1];
				out_amt[k] = out_amt[--nout];
			}
			int64_t h;
			ck_assert_int_eq(am_budget_outstanding(b, &h), nout);
			ck_assert_int_eq(h, held);
			ck_assert_int_le(settled + held, limit);
			now.wall_ns += AM_NS_PER_SEC;
		}
		ck_assert_int_eq(day_spent(b, &now), settled);
		ck_assert_int_le(settled, limit);
		ck_assert_int_gt(nblocked, 0); /* the limit did bind */

		/* raising the limit lets every blocked job through, exactly to the new limit */
		int64_t need = 0;
		for (int i = 0; i < nblocked; i++)
			need += blocked_amt[i];
		ck_assert_int_eq(am_budget_set_limits(b, &now, settled + need, 0, NULL, NULL), 0);
		for (int i = 0; i < nblocked; i++)
			out_id[i] = reserve_ok(b, &now, blocked_amt[i]);
		ck_assert_int_eq(try_reserve(b, &now, 1, NULL), AM_BUDGET_BLOCKED_DAY);
		for (int i = 0; i < nblocked; i++)
			settle(b, &now, out_id[i], blocked_amt[i], NULL);
		ck_assert_int_eq(day_spent(b, &now), settled + need);
		am_budget_free(b);
	}
}
END_TEST

/* ---- periods ------------------------------------------------------------------------ */

START_TEST(day_rollover_resets_and_unblocks)
{
	am_budget_now d1 = mk_now("2025-03-14", T0, 43200);
	am_budget *b = mk(usd("1"), usd("100"), &d1);
	settle(b, &d1, reserve_ok(b, &d1, usd("0.9")), usd("0.9"), NULL);
	int64_t held = reserve_ok(b, &d1, usd("0.05")); /* in flight across midnight */
	ck_assert_int_eq(try_reserve(b, &d1, usd("0.2"), NULL), AM_BUDGET_BLOCKED_DAY);

	am_budget_now d2 = mk_now("2025-03-15", T0 + 12 * 3600 * AM_NS_PER_SEC, 86400);
	am_budget_view s;
	am_budget_snapshot(b, &d2, &s);
	ck_assert_int_eq(s.day_spent_pusd, 0);
	ck_assert_int_eq(s.month_spent_pusd, usd("0.9"));
	ck_assert_int_eq(s.reserved_pusd, usd("0.05"));
	/* the in-flight reservation still counts: 0.05 + 0.95 = 1 fits, 0.96 does not */
	ck_assert_int_eq(try_reserve(b, &d2, usd("0.96"), NULL), AM_BUDGET_BLOCKED_DAY);
	int64_t id = reserve_ok(b, &d2, usd("0.95"));
	settle(b, &d2, held, usd("0.04"), NULL); /* settled in the new day */
	ck_assert_int_eq(day_spent(b, &d2), usd("0.04"));
	ck_assert_int_eq(am_budget_cancel(b, id, NULL), 0);

	/* the clock stepping back to yesterday does not reopen yesterday's budget */
	am_budget_tick(b, &d1);
	am_budget_snapshot(b, &d1, &s);
	ck_assert_int_eq(s.day_spent_pusd, usd("0.04"));
	ck_assert_int_eq(s.month_spent_pusd, usd("0.94"));
	am_budget_free(b);
}
END_TEST

START_TEST(month_rollover)
{
	am_budget_now m1 = mk_now("2025-03-31", T0, 60);
	am_budget *b = mk(0, usd("2"), &m1);
	settle(b, &m1, reserve_ok(b, &m1, usd("2")), usd("2"), NULL);
	ck_assert_int_eq(try_reserve(b, &m1, 1, NULL), AM_BUDGET_BLOCKED_MONTH);
	am_budget_view s;
	am_budget_snapshot(b, &m1, &s);
	ck_assert_int_eq(s.state, AM_BUDGET_OVER);
	am_budget_now m2 = mk_now("2025-04-01", T0 + 120 * AM_NS_PER_SEC, 86000);
	reserve_ok(b, &m2, usd("2"));
	am_budget_snapshot(b, &m2, &s);
	ck_assert_int_eq(s.month_spent_pusd, 0);
	ck_assert_int_eq(s.state, AM_BUDGET_OK);
	ck_assert_int_eq(am_budget_used_pct(b, &m2), 0);
	am_budget_free(b);
}
END_TEST

START_TEST(restart_keeps_totals)
{
	am_budget_now now = mk_now("2025-03-14", T0, 43200);
	/* the ledger says $8.50 today, already past 80%: no alert is repeated */
	am_budget *b = mk_from(usd("10"), 0, usd("8.5"), usd("20"), &now);
	am_budget_alerts al;
	settle(b, &now, reserve_ok(b, &now, usd("1")), usd("0.5"), &al);
	ck_assert_int_eq(al.n, 0);
	am_budget_view s;
	am_budget_snapshot(b, &now, &s);
	ck_assert_int_eq(s.day_spent_pusd, usd("9"));
	ck_assert_int_eq(s.month_spent_pusd, usd("20.5"));
	ck_assert_int_eq(s.state, AM_BUDGET_ALERT);
	ck_assert_int_eq(try_reserve(b, &now, usd("1") + 1, NULL), AM_BUDGET_BLOCKED_DAY);
	am_budget_config cfg = config(0, 0);
	am_budget *other = NULL;
	ck_assert_int_eq(am_budget_new(&other, &cfg, &now, -1, 0, false, NULL), -1);
	ck_assert_ptr_null(other);
	am_budget_free(b);
}
END_TEST

/* ---- alerts --------------------------------------------------------------------------- */

START_TEST(alerts_fire_once_per_period)
{
	am_budget_now now = mk_now("2025-03-14", T0, 43200);
	am_budget_config cfg = config(usd("10"), 0);
	cfg.nalerts = 3;
	cfg.alert_pct[0] = 50;
	cfg.alert_pct[1] = 80;
	cfg.alert_pct[2] = 100;
	am_budget *b = NULL;
	ck_assert_int_eq(am_budget_new(&b, &cfg, &now, 0, 0, false, NULL), 0);
	am_budget_alerts al;

	settle(b, &now, reserve_ok(b, &now, usd("5")), usd("4.99"), &al);
	ck_assert_int_eq(al.n, 0);
	settle(b, &now, reserve_ok(b, &now, usd("1")), usd("0.01"), &al); /* exactly 50% */
	ck_assert_int_eq(al.n, 1);
	ck_assert_int_eq(al.a[0].pct, 50);
	ck_assert_int_eq(al.a[0].period, AM_BUDGET_DAY);
	ck_assert_int_eq(al.a[0].spent_pusd, usd("5"));
	ck_assert_int_eq(al.a[0].limit_pusd, usd("10"));
	ck_assert_str_eq(al.a[0].day, "2025-03-14");
	settle(b, &now, reserve_ok(b, &now, usd("1")), usd("1"), &al);
	ck_assert_int_eq(al.n, 0); /* 60%: 50 already fired */
	settle(b, &now, reserve_ok(b, &now, usd("4")), usd("4"), &al); /* to 100%: two at once */
	ck_assert_int_eq(al.n, 2);
	ck_assert_int_eq(al.a[0].pct, 80);
	ck_assert_int_eq(al.a[1].pct, 100);
	settle(b, &now, reserve_ok(b, &now, 0), 0, &al);
	ck_assert_int_eq(al.n, 0);

	/* next day: everything is armed again */
	am_budget_now d2 = mk_now("2025-03-15", T0 + 86400 * AM_NS_PER_SEC, 43200);
	settle(b, &d2, reserve_ok(b, &d2, usd("6")), usd("6"), &al);
	ck_assert_int_eq(al.n, 1);
	ck_assert_int_eq(al.a[0].pct, 50);
	ck_assert_str_eq(al.a[0].day, "2025-03-15");
	ck_assert_int_eq(al.a[0].spent_pusd, usd("6"));
	am_budget_free(b);
}
END_TEST

START_TEST(month_alerts_are_separate)
{
	am_budget_now now = mk_now("2025-03-14", T0, 43200);
	am_budget *b = mk(usd("10"), usd("20"), &now);
	am_budget_alerts al;
	settle(b, &now, reserve_ok(b, &now, usd("9")), usd("8"), &al); /* day 80% */
	ck_assert_int_eq(al.n, 1);
	ck_assert_int_eq(al.a[0].period, AM_BUDGET_DAY);
	am_budget_now d2 = mk_now("2025-03-15", T0 + 86400 * AM_NS_PER_SEC, 43200);
	settle(b, &d2, reserve_ok(b, &d2, usd("9")), usd("8.5"), &al); /* day 85%, month 82.5% */
	ck_assert_int_eq(al.n, 2);
	ck_assert_int_eq(al.a[0].period, AM_BUDGET_DAY);
	ck_assert_int_eq(al.a[1].period, AM_BUDGET_MONTH);
	ck_assert_int_eq(al.a[1].spent_pusd, usd("16.5"));
	ck_assert_int_eq(al.a[1].limit_pusd, usd("20"));
	ck_assert_str_eq(al.a[1].month, "2025-03");
	am_budget_free(b);
}
END_TEST

START_TEST(limit_changes_rearm_and_fire)
{
	am_budget_now now = mk_now("2025-03-14", T0, 43200);
	am_budget *b = mk(usd("10"), 0, &now);
	am_budget_alerts al;
	settle(b, &now, reserve_ok(b, &now, usd("9")), usd("9"), &al);
	ck_assert_int_eq(al.n, 1);
	ck_assert_int_eq(try_reserve(b, &now, usd("2"), NULL), AM_BUDGET_BLOCKED_DAY);

	/* raising unblocks and re-arms 80% (now 45%) */
	ck_assert_int_eq(am_budget_set_limits(b, &now, usd("20"), 0, &al, NULL), 0);
	ck_assert_int_eq(al.n, 0);
	int64_t id = reserve_ok(b, &now, usd("2"));
	settle(b, &now, id, usd("7"), &al); /* 16 of 20 */
	ck_assert_int_eq(al.n, 1);
	ck_assert_int_eq(al.a[0].limit_pusd, usd("20"));

	/* lowering below a fresh threshold fires at once; 0 removes the limit */
	ck_assert_int_eq(am_budget_set_limits(b, &now, 0, usd("18"), &al, NULL), 0);
	ck_assert_int_eq(al.n, 1);
	ck_assert_int_eq(al.a[0].period, AM_BUDGET_MONTH);
	ck_assert_int_eq(am_budget_set_limits(b, &now, -1, 0, &al, NULL), -1);

	/* new thresholds: those already crossed fire now */
	int pct[] = {50, 90};
	ck_assert_int_eq(am_budget_set_alerts(b, &now, pct, 2, &al, NULL), 0);
	ck_assert_int_eq(al.n, 1); /* month 16/18 = 88.9%: 50 fires, 90 not; no day limit */
	ck_assert_int_eq(al.a[0].pct, 50);
	ck_assert_int_eq(al.a[0].period, AM_BUDGET_MONTH);
	int bad[] = {90, 50};
	ck_assert_int_eq(am_budget_set_alerts(b, &now, bad, 2, &al, NULL), -1);
	am_budget_free(b);
}
END_TEST

START_TEST(alert_line_and_environment)
{
	am_budget_alert a = {.pct = 80, .period = AM_BUDGET_DAY, .spent_pusd = 8012500000000LL,
	                     .limit_pusd = usd("10"), .day = "2025-03-14", .month = "2025-03"};
	char line[200];
	am_budget_alert_line(&a, line, sizeof line);
	ck_assert_str_eq(line, "budget alert: 80% of the daily limit: $8.01 of $10.00 spent "
	                       "(2025-03-14)");
	am_budget_env env;
	am_budget_alert_env(&a, &env);
	ck_assert_str_eq(env.env[0], "AIMETER_ALERT_PCT=80");
	ck_assert_str_eq(env.env[1], "AIMETER_SPENT_USD=8.0125");
	ck_assert_str_eq(env.env[2], "AIMETER_LIMIT_USD=10");
	ck_assert_str_eq(env.env[3], "AIMETER_PERIOD=day");
	ck_assert_str_eq(env.env[4], "AIMETER_DAY=2025-03-14");
	ck_assert_ptr_null(env.env[5]);
	a.period = AM_BUDGET_MONTH;
	a.spent_pusd = 123;
	am_budget_alert_env(&a, &env);
	ck_assert_str_eq(env.env[1], "AIMETER_SPENT_USD=0.000000000123");
	ck_assert_str_eq(env.env[3], "AIMETER_PERIOD=month");
	am_budget_alert_line(&a, line, sizeof line);
	ck_assert_str_eq(line, "budget alert: 80% of the monthly limit: $0.00 of $10.00 "
	                       "spent (2025-03)");
	/* a limit below one call's cost: the line says where the spend stands,
	 * in figures that show the limit */
	a.period = AM_BUDGET_DAY;
	a.pct = 50;
	a.spent_pusd = usd("0.035462");
	a.limit_pusd = usd("0.001");
	am_budget_alert_line(&a, line, sizeof line);
	ck_assert_str_eq(line, "budget alert: 50% of the daily limit passed, spend at 3546%: "
	                       "$0.035 of $0.001 spent (2025-03-14)");
}
END_TEST

/* ---- figures -------------------------------------------------------------------------- */

START_TEST(snapshot_state_and_used_pct)
{
	am_budget_now now = mk_now("2025-03-14", T0, 43200);
	am_budget *b = mk(usd("10"), usd("100"), &now);
	am_budget_view s;
	memset(&s, 0, sizeof s);
	s.blocked_jobs = 7;
	am_budget_snapshot(b, &now, &s);
	ck_assert_int_eq(s.state, AM_BUDGET_OK);
	ck_assert_int_eq(s.blocked_jobs, 7); /* not ours */
	ck_assert_int_eq(s.nalerts, 1);
	ck_assert_int_eq(s.alert_pct[0], 80);
	ck_assert_int_eq(s.day_limit_pusd, usd("10"));
	ck_assert_int_eq(s.month_limit_pusd, usd("100"));
	ck_assert_int_eq(am_budget_used_pct(b, &now), 0);
	settle(b, &now, reserve_ok(b, &now, usd("8")), usd("7.99"), NULL);
	ck_assert_int_eq(am_budget_used_pct(b, &now), 79);
	am_budget_snapshot(b, &now, &s);
	ck_assert_int_eq(s.state, AM_BUDGET_OK);
	settle(b, &now, reserve_ok(b, &now, 10000000000LL), 10000000000LL, NULL);
	ck_assert_int_eq(am_budget_used_pct(b, &now), 80);
	am_budget_snapshot(b, &now, &s);
	ck_assert_int_eq(s.state, AM_BUDGET_ALERT);
	settle(b, &now, reserve_ok(b, &now, usd("2")), usd("2"), NULL);
	am_budget_snapshot(b, &now, &s);
	ck_assert_int_eq(s.state, AM_BUDGET_OVER);
	ck_assert_int_eq(am_budget_used_pct(b, &now), 100);
	ck_assert_int_eq(am_budget_set_limits(b, &now, 0, 0, NULL, NULL), 0);
	ck_assert_int_eq(am_budget_used_pct(b, &now), -1);
	am_budget_free(b);
}
END_TEST

START_TEST(burn_rate_projection_and_limit_time)
{
	int64_t now_ns = T0 + 30 * AM_NS_PER_SEC; /* 30 s into minute M */
	am_budget_now now = mk_now("2025-03-14", now_ns, 5 * 3600);
	am_budget *b = mk(usd("10"), 0, &now);
	struct { int minutes_ago; int64_t amount; } spend[] = {
		{20, usd("1")}, {15, usd("0.25")}, {14, usd("0.5")}, {0, usd("0.25")},
	};
	for (size_t i = 0; i < sizeof spend / sizeof spend[0]; i++) {
		am_budget_now t = now;
		t.wall_ns = now_ns - spend[i].minutes_ago * MIN_NS;
		settle(b, &t, reserve_ok(b, &t, spend[i].amount), spend[i].amount, NULL);
	}
	am_budget_burn burn;
	am_budget_burn_at(b, &now, &burn);
	/* window = minutes M-14..M: 0.5 + 0.25 = 0.75 in 15 min = $3.00/h */
	ck_assert_int_eq(burn.per_hour_pusd, usd("3"));
	/* spent 2.00 + 3.00 × 5 h */
	ck_assert_int_eq(burn.projected_eod_pusd, usd("17"));
	/* 8.00 left at 3.00/h = 2 h 40 min */
	ck_assert_int_eq(burn.limit_hit_wall_ns, now_ns + 9600 * AM_NS_PER_SEC);
	for (int k = 0; k < AM_BUDGET_RING_MINUTES; k++) {
		int64_t want = k == 59 ? usd("0.25") : k == 45 ? usd("0.5") : k == 44 ? usd("0.25")
		             : k == 39 ? usd("1") : 0;
		ck_assert_int_eq(burn.per_min[k], want);
	}
	am_budget_view s;
	am_budget_snapshot(b, &now, &s);
	ck_assert_int_eq(s.burn_pusd_per_hour, usd("3"));
	ck_assert_int_eq(s.projected_eod_pusd, usd("17"));
	ck_assert_int_eq(s.limit_hit_wall_ns, now_ns + 9600 * AM_NS_PER_SEC);
	ck_assert_int_eq(s.spend_per_min[45], usd("0.5"));

	/* not before midnight at this pace */
	now.day_left_s = 9599;
	am_budget_burn_at(b, &now, &burn);
	ck_assert_int_eq(burn.limit_hit_wall_ns, 0);
	ck_assert_int_eq(burn.projected_eod_pusd, usd("2") + usd("3") * 9599 / 3600);

	/* one minute later M-14 leaves the window */
	now.wall_ns += MIN_NS;
	now.day_left_s = 5 * 3600 - 60;
	am_budget_burn_at(b, &now, &burn);
	ck_assert_int_eq(burn.per_hour_pusd, usd("1"));
	ck_assert_int_eq(burn.per_min[58], usd("0.25"));
	ck_assert_int_eq(burn.per_min[59], 0);
	/* 8 left at 1/h = 8 h > the 4 h 59 min left today */
	ck_assert_int_eq(burn.limit_hit_wall_ns, 0);

	/* an hour of silence empties everything */
	now.wall_ns += 60 * MIN_NS;
	am_budget_burn_at(b, &now, &burn);
	ck_assert_int_eq(burn.per_hour_pusd, 0);
	for (int k = 0; k < AM_BUDGET_RING_MINUTES; k++)
		ck_assert_int_eq(burn.per_min[k], 0);
	ck_assert_int_eq(burn.projected_eod_pusd, usd("2"));
	am_budget_free(b);
}
END_TEST

START_TEST(burn_floors_and_stale_feeds)
{
	am_budget_now now = mk_now("2025-03-14", T0, 1000);
	am_budget *b = mk(0, 0, &now);
	am_budget_burn_feed(b, T0, 1);
	am_budget_burn burn;
	am_budget_burn_at(b, &now, &burn);
	ck_assert_int_eq(burn.per_hour_pusd, 4);
	ck_assert_int_eq(burn.projected_eod_pusd, 1); /* 4 × 1000 / 3600 = 1.11 -> 1 */
	ck_assert_int_eq(burn.limit_hit_wall_ns, 0);  /* no day limit */
	/* 7 pUSD in the window -> 28/h */
	am_budget_burn_feed(b, T0 - 3 * MIN_NS, 6);
	/* too old for the ring (the newest minute fed is T0's): dropped */
	am_budget_burn_feed(b, T0 - 60 * MIN_NS, 1000);
	am_budget_burn_at(b, &now, &burn);
	ck_assert_int_eq(burn.per_hour_pusd, 28);
	int64_t sum = 0;
	for (int k = 0; k < AM_BUDGET_RING_MINUTES; k++)
		sum += burn.per_min[k];
	ck_assert_int_eq(sum, 7);
	/* the oldest minute the ring keeps */
	am_budget_burn_feed(b, T0 - 59 * MIN_NS, 100);
	am_budget_burn_at(b, &now, &burn);
	ck_assert_int_eq(burn.per_min[0], 100);
	am_budget_free(b);
}
END_TEST

/* ---- local time ------------------------------------------------------------------------ */

static void set_tz(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

START_TEST(now_local_utc_and_dst)
{
	am_budget_now n;
	am_err err = {0};
	set_tz("UTC");
	ck_assert_int_eq(am_budget_now_local(T0 + 5 * AM_NS_PER_SEC + 1, &n, &err), 0);
	ck_assert_str_eq(n.day, "2025-03-14");
	ck_assert_str_eq(n.month, "2025-03");
	ck_assert_int_eq(n.day_left_s, 12 * 3600 - 6); /* 11:59:54.999 left -> floor */
	ck_assert_int_eq(n.wall_ns, T0 + 5 * AM_NS_PER_SEC + 1);

	set_tz("America/New_York");
	/* 2025-03-09 00:00 EST = 05:00 UTC; DST starts that night: a 23 h day */
	int64_t midnight = (1741478400LL + 5 * 3600) * AM_NS_PER_SEC;
	ck_assert_int_eq(am_budget_now_local(midnight, &n, &err), 0);
	ck_assert_str_eq(n.day, "2025-03-09");
	ck_assert_int_eq(n.day_left_s, 23 * 3600);
	ck_assert_int_eq(am_budget_now_local(midnight - AM_NS_PER_SEC, &n, &err), 0);
	ck_assert_str_eq(n.day, "2025-03-08");
	ck_assert_int_eq(n.day_left_s, 1);
	/* 2025-11-02 00:00 EDT = 04:00 UTC; DST ends: a 25 h day */
	int64_t nov = (1762041600LL + 4 * 3600) * AM_NS_PER_SEC;
	ck_assert_int_eq(am_budget_now_local(nov, &n, &err), 0);
	ck_assert_str_eq(n.day, "2025-11-02");
	ck_assert_str_eq(n.month, "2025-11");
	ck_assert_int_eq(n.day_left_s, 25 * 3600);

	set_tz("Asia/Tokyo"); /* local day differs from the UTC day */
	ck_assert_int_eq(am_budget_now_local((1743465600LL - 3600) * AM_NS_PER_SEC, &n, &err), 0);
	ck_assert_str_eq(n.day, "2025-04-01"); /* 2025-03-31 23:00 UTC = 08:00 JST */
	ck_assert_str_eq(n.month, "2025-04");
	ck_assert_int_eq(n.day_left_s, 16 * 3600);
}
END_TEST

/* ---- config --------------------------------------------------------------------------- */

START_TEST(config_from_the_config_file)
{
	am_config c;
	am_err err = {0};
	char *const envp[] = {NULL};
	const char *text = "{\"budget\": {\"daily_usd\": \"12.50\", \"monthly_usd\": 300.1, "
	                   "\"alert_pct\": [50, 80, 95], \"max_reservations\": 9}}";
	ck_assert_msg(am_config_load_text(&c, text, strlen(text), "t.json", envp, &err) == 0, "%s",
	              err.msg);
	am_budget_config cfg;
	ck_assert_msg(am_budget_config_from(&c, &cfg, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(cfg.day_limit_pusd, usd("12.5"));
	ck_assert_int_eq(cfg.month_limit_pusd, usd("300.1"));
	ck_assert_int_eq(cfg.nalerts, 3);
	ck_assert_int_eq(cfg.alert_pct[0], 50);
	ck_assert_int_eq(cfg.alert_pct[2], 95);
	ck_assert_int_eq(cfg.max_reservations, 9);

	am_config_init(&c); /* the defaults: $10 a day, alert at 80% */
	ck_assert_int_eq(am_budget_config_from(&c, &cfg, &err), 0);
	am_budget_config d;
	am_budget_config_default(&d);
	ck_assert_int_eq(memcmp(&d, &cfg, sizeof d), 0);
	ck_assert_int_eq(cfg.max_reservations, 4096);
	ck_assert_int_eq(cfg.day_limit_pusd, usd("10"));
	ck_assert_int_eq(cfg.month_limit_pusd, 0);
	ck_assert_int_eq(cfg.nalerts, 1);
	ck_assert_int_eq(cfg.alert_pct[0], 80);

	/* what the budget cannot hold is refused, not clipped */
	c.budget.max_reservations = 1 << 25;
	ck_assert_int_eq(am_budget_config_from(&c, &cfg, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "max_reservations"));
	am_config_init(&c);
	c.budget.nalerts = 2;
	c.budget.alert_pct[1] = 50;
	ck_assert_int_eq(am_budget_config_from(&c, &cfg, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "increase"));
}
END_TEST

/* data/pricing.json, loaded (fails the test when it cannot be). */
static am_pricing *shipped_table(void)
{
	char path[1024];
	const char *src = getenv("AIMETER_SOURCE_DIR");
	snprintf(path, sizeof path, "%s/data/pricing.json", src ? src : AIMETER_SOURCE_DIR);
	am_pricing *p = NULL;
	am_err err = {0};
	ck_assert_msg(am_pricing_load(&p, path, NULL, &err) == 0, "%s", err.msg);
	return p;
}

/* The worst case covers fast mode, US-only inference wherever it can
 * apply, and web searches (worked out by hand from the shipped rates). */
START_TEST(worst_case_covers_every_billed_dimension)
{
	am_pricing *p = shipped_table();
	am_err err = {0};
	const am_price *dear = am_pricing_most_expensive(p);
	am_budget_cost c;
	struct {
		const char *model;
		bool fast;
		int64_t searches;
		int64_t pusd;
	} cases[] = {
		/* Opus 4.6, fast: (1000×5 + 1000×25) µ$ × 6 × 1.1 */
		{ "claude-opus-4-6", true, 0, 198000000000LL },
		/* Opus 4.8, fast: 30000 µ$ × 2 × 1.1 */
		{ "claude-opus-4-8", true, 0, 66000000000LL },
		/* Opus 5.5, not fast: (4000 + 20000) µ$ × 1.1 (a workspace default) */
		{ "claude-opus-5-5", false, 0, 26400000000LL },
		/* Sonnet 4.5: no US premium, no fast mode: 3000 + 15000 µ$ */
		{ "claude-sonnet-4-5", false, 0, 18000000000LL },
		/* ... and 5 searches at $0.01 */
		{ "claude-sonnet-4-5", false, 5, 68000000000LL },
		/* Sonnet 5.5 has no fast mode (the API refuses): 12000 µ$ × 1.1 */
		{ "claude-sonnet-5-5", true, 0, 13200000000LL },
		/* Haiku 5.5, 3 searches: 600 µ$ × 1.1 + $0.03 */
		{ "claude-haiku-5-5", false, 3, 30660000000LL },
		/* unknown, fast: the dearest (15/75, no US premium) × 6: 90000 µ$ × 6 */
		{ "claude-nonexistent-9", true, 0, 540000000000LL },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		am_budget_estimate e = { .input_tokens = 1000, .max_tokens = 1000,
			                 .fast = cases[i].fast, .web_searches = cases[i].searches };
		ck_assert_int_eq(am_budget_worst_case(am_pricing_lookup(p, cases[i].model), dear, &e,
		                                      &c, &err), 0);
		ck_assert_msg(c.pusd == cases[i].pusd, "%s fast=%d searches=%lld: %lld, want %lld",
		              cases[i].model, cases[i].fast, (long long)cases[i].searches,
		              (long long)c.pusd, (long long)cases[i].pusd);
		/* never below what such a call can cost */
		am_usage u = { .input_tokens = 1000, .output_tokens = 1000,
			       .web_search_requests = cases[i].searches };
		snprintf(u.inference_geo, sizeof u.inference_geo, "us");
		const am_price *q = am_pricing_lookup(p, cases[i].model);
		if (q && (!cases[i].fast || q->fast_pct > 0)) {
			if (cases[i].fast)
				snprintf(u.speed, sizeof u.speed, "fast");
			int64_t actual;
			ck_assert_int_eq(am_cost(q, &u, false, &actual, &err), 0);
			ck_assert_int_le(actual, c.pusd);
		}
	}
	am_budget_estimate bad = { .input_tokens = 1, .web_searches = -1 };
	ck_assert_int_eq(am_budget_worst_case(dear, dear, &bad, &c, &err), -1);
	am_pricing_free(p);
}
END_TEST

START_TEST(unknown_model_at_the_shipped_tables_dearest)
{
	am_pricing *p = shipped_table();
	am_err err = {0};
	const am_price *dear = am_pricing_most_expensive(p);
	ck_assert_ptr_nonnull(dear);
	ck_assert_ptr_null(am_pricing_lookup(p, "claude-nonexistent-9"));
	/* no known model costs more per output token, or per input token at that output price */
	for (size_t i = 0; i < am_pricing_count(p); i++) {
		const am_price *q = am_pricing_at(p, i);
		ck_assert_int_le(q->output, dear->output);
		if (q->output == dear->output)
			ck_assert_int_le(q->input, dear->input);
	}
	am_budget_estimate e = {.input_tokens = 1000, .max_tokens = 2000};
	am_budget_cost c;
	ck_assert_int_eq(am_budget_worst_case(am_pricing_lookup(p, "claude-nonexistent-9"), dear, &e,
	                                      &c, &err), 0);
	ck_assert(c.unknown_price);
	ck_assert_int_eq(c.pusd, 1000 * dear->input + 2000 * dear->output);
	/* a known model is priced at its own rate */
	const am_price *haiku = am_pricing_lookup(p, "claude-haiku-4-5");
	ck_assert_ptr_nonnull(haiku);
	ck_assert_int_eq(am_budget_worst_case(haiku, dear, &e, &c, &err), 0);
	ck_assert(!c.unknown_price);
	ck_assert_int_eq(c.pusd, 1000 * 1000000LL + 2000 * 5000000LL); /* $1 / $5 per MTok */
	am_pricing_free(p);
}
END_TEST

/* ---- spend recorded elsewhere ------------------------------------------------- */

static void add_spent(am_budget *b, const am_budget_now *now, const char *day, int64_t wall_ns,
                      int64_t pusd, bool unknown, am_budget_alerts *alerts)
{
	am_err err = {0};
	ck_assert_msg(am_budget_add_spent(b, now, day, wall_ns, pusd, unknown, alerts, &err) == 0,
	              "%s", err.msg);
}

/* Another process's calls count toward the period the ledger stamped them
 * with: today's toward the day and the month, an earlier day of this month
 * toward the month only, last month's toward neither; a day ahead of ours
 * (a clock running ahead) counts as today. Each feeds the burn ring at its
 * own minute. */
START_TEST(spend_from_elsewhere_counts_by_its_day)
{
	am_budget_now now = mk_now("2025-03-14", T0, 43200);
	am_budget *b = mk_from(usd("100"), usd("1000"), usd("1"), usd("20"), &now);
	add_spent(b, &now, "2025-03-14", T0 - 2 * MIN_NS, usd("0.000001"), false, NULL);
	add_spent(b, &now, "2025-03-02", T0 - 3 * MIN_NS, usd("2"), false, NULL);
	add_spent(b, &now, "2025-02-28", T0 - 14LL * 86400 * AM_NS_PER_SEC, usd("5"), false, NULL);
	add_spent(b, &now, "2025-03-15", T0 - 1 * MIN_NS, usd("0.5"), false, NULL);
	am_budget_view s;
	memset(&s, 0, sizeof s);
	am_budget_snapshot(b, &now, &s);
	ck_assert_int_eq(s.day_spent_pusd, usd("1.500001"));
	ck_assert_int_eq(s.month_spent_pusd, usd("22.500001"));
	ck_assert_int_eq(s.reserved_pusd, 0);
	ck_assert(!s.unknown_prices);
	/* The ring: last = the current minute (T0 starts it). */
	ck_assert_int_eq(s.spend_per_min[AM_BUDGET_RING_MINUTES - 1], 0);
	ck_assert_int_eq(s.spend_per_min[AM_BUDGET_RING_MINUTES - 2], usd("0.5"));
	ck_assert_int_eq(s.spend_per_min[AM_BUDGET_RING_MINUTES - 3], usd("0.000001"));
	ck_assert_int_eq(s.spend_per_min[AM_BUDGET_RING_MINUTES - 4], usd("2"));
	int64_t ring = 0;
	for (int i = 0; i < AM_BUDGET_RING_MINUTES; i++)
		ring += s.spend_per_min[i];
	ck_assert_int_eq(ring, usd("2.500001")); /* two weeks ago is off the ring */
	ck_assert_int_eq(s.burn_pusd_per_hour, usd("2.500001") * 4);

	/* After midnight a late row of yesterday counts toward the month only. */
	am_budget_now d2 = mk_now("2025-03-15", T0 + 86400 * AM_NS_PER_SEC, 43200);
	add_spent(b, &d2, "2025-03-14", T0 + 86400 * AM_NS_PER_SEC - MIN_NS, usd("3"), true, NULL);
	am_budget_snapshot(b, &d2, &s);
	ck_assert_int_eq(s.day_spent_pusd, 0);
	ck_assert_int_eq(s.month_spent_pusd, usd("25.500001"));
	ck_assert(!s.unknown_prices); /* yesterday's unknown price is not today's */
	add_spent(b, &d2, "2025-03-15", T0 + 86400 * AM_NS_PER_SEC, usd("0.25"), true, NULL);
	am_budget_snapshot(b, &d2, &s);
	ck_assert_int_eq(s.day_spent_pusd, usd("0.25"));
	ck_assert(s.unknown_prices);
	am_budget_free(b);
}
END_TEST

/* Spend from elsewhere tightens what is left for reservations, and fires a
 * threshold once, whichever path crossed it. */
START_TEST(spend_from_elsewhere_blocks_and_alerts_once)
{
	am_budget_now now = mk_now("2025-03-14", T0, 43200);
	am_budget *b = mk(usd("10"), usd("100"), &now);
	am_budget_alerts al;
	int64_t held = reserve_ok(b, &now, usd("1"));
	add_spent(b, &now, "2025-03-14", T0, usd("7.99"), false, &al);
	ck_assert_int_eq(al.n, 0);
	add_spent(b, &now, "2025-03-14", T0, usd("0.01"), false, &al); /* exactly 80% */
	ck_assert_int_eq(al.n, 1);
	ck_assert_int_eq(al.a[0].pct, 80);
	ck_assert_int_eq(al.a[0].period, AM_BUDGET_DAY);
	ck_assert_int_eq(al.a[0].spent_pusd, usd("8"));
	ck_assert_int_eq(al.a[0].limit_pusd, usd("10"));
	/* spent 8 + held 1: 1.000001 more would cross 10, exactly 1 would not */
	int64_t id;
	ck_assert_int_eq(try_reserve(b, &now, usd("1.000001"), &id), AM_BUDGET_BLOCKED_DAY);
	ck_assert_int_eq(try_reserve(b, &now, usd("1"), &id), AM_BUDGET_RESERVED);
	ck_assert_int_eq(am_budget_cancel(b, id, NULL), 0);
	settle(b, &now, held, usd("0.5"), &al);
	ck_assert_int_eq(al.n, 0); /* 85%: fired already */
	ck_assert_int_eq(day_spent(b, &now), usd("8.5"));

	/* An earlier day of the month: the month's threshold, not the day's. */
	add_spent(b, &now, "2025-03-01", T0 - 13LL * 86400 * AM_NS_PER_SEC, usd("71.5"), false,
	          &al);
	ck_assert_int_eq(al.n, 1);
	ck_assert_int_eq(al.a[0].period, AM_BUDGET_MONTH);
	ck_assert_int_eq(al.a[0].spent_pusd, usd("80"));
	ck_assert_int_eq(day_spent(b, &now), usd("8.5"));
	am_budget_free(b);
}
END_TEST

START_TEST(spend_from_elsewhere_errors_change_nothing)
{
	am_budget_now now = mk_now("2025-03-14", T0, 43200);
	am_budget *b = mk_from(usd("10"), 0, usd("2"), usd("2"), &now);
	am_err err = {0};
	am_budget_alerts al;
	al.n = 7;
	ck_assert_int_eq(am_budget_add_spent(b, &now, "2025-03-14", T0, -1, false, &al, &err), -1);
	ck_assert_int_eq(al.n, 0);
	ck_assert_ptr_nonnull(strstr(err.msg, "negative"));
	const char *bad[] = { "2025-3-14", "2025-03-14x", "2025/03/14", "", "20250314" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_int_eq(am_budget_add_spent(b, &now, bad[i], T0, 1, true, NULL, &err), -1);
	ck_assert_int_eq(am_budget_add_spent(b, &now, NULL, T0, 1, true, NULL, &err), -1);
	ck_assert_int_eq(am_budget_add_spent(b, &now, "2025-03-14", T0, INT64_MAX, true, NULL,
	                                     &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "overflow"));
	am_budget_view s;
	memset(&s, 0, sizeof s);
	am_budget_snapshot(b, &now, &s);
	ck_assert_int_eq(s.day_spent_pusd, usd("2"));
	ck_assert_int_eq(s.month_spent_pusd, usd("2"));
	ck_assert(!s.unknown_prices);
	for (int i = 0; i < AM_BUDGET_RING_MINUTES; i++)
		ck_assert_int_eq(s.spend_per_min[i], 0);
	am_budget_free(b);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("budget");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, worst_case_known_price);
	tcase_add_test(tc, worst_case_at_batch_prices);
	tcase_add_test(tc, worst_case_unknown_price_at_most_expensive);
	tcase_add_test(tc, worst_case_zero_price_exempt_and_errors);
	tcase_add_test(tc, reserve_settle_cancel_against_the_day_limit);
	tcase_add_test(tc, month_limit_blocks_and_says_so);
	tcase_add_test(tc, actual_above_reservation_is_recorded_and_reported);
	tcase_add_test(tc, zero_price_exempt_even_when_over);
	tcase_add_test(tc, unknown_price_flags_the_day);
	tcase_add_test(tc, reservation_table_is_bounded);
	tcase_add_test(tc, random_concurrent_reservations_never_overshoot);
	tcase_add_test(tc, day_rollover_resets_and_unblocks);
	tcase_add_test(tc, month_rollover);
	tcase_add_test(tc, restart_keeps_totals);
	tcase_add_test(tc, alerts_fire_once_per_period);
	tcase_add_test(tc, month_alerts_are_separate);
	tcase_add_test(tc, limit_changes_rearm_and_fire);
	tcase_add_test(tc, alert_line_and_environment);
	tcase_add_test(tc, snapshot_state_and_used_pct);
	tcase_add_test(tc, burn_rate_projection_and_limit_time);
	tcase_add_test(tc, burn_floors_and_stale_feeds);
	tcase_add_test(tc, now_local_utc_and_dst);
	tcase_add_test(tc, config_from_the_config_file);
	tcase_add_test(tc, unknown_model_at_the_shipped_tables_dearest);
	tcase_add_test(tc, worst_case_covers_every_billed_dimension);
	tcase_add_test(tc, spend_from_elsewhere_counts_by_its_day);
	tcase_add_test(tc, spend_from_elsewhere_blocks_and_alerts_once);
	tcase_add_test(tc, spend_from_elsewhere_errors_change_nothing);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(suite());
}
