/* test_tagbudget: a tag's daily limit blocks that tag only; reservations
 * never let a tag's spend plus holds pass its limit; days roll over; the
 * figures for the dashboard come most spent first. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "money.h"
#include "tagbudget.h"

#define D1 "2026-03-14"
#define D2 "2026-03-15"

static int64_t usd(const char *s)
{
	int64_t v = 0;
	ck_assert_int_eq(am_money_parse_usd(s, &v, NULL), 0);
	return v;
}

static am_tagbudget_grant reserve(am_tagbudget *tb, const char *day, const char *tag,
                                  const char *amount)
{
	am_tagbudget_grant g;
	am_err err = {0};
	ck_assert_msg(am_tagbudget_reserve(tb, day, tag, usd(amount), &g, &err) == 0, "%s",
	              err.msg);
	return g;
}

START_TEST(a_tags_limit_blocks_that_tag_only)
{
	am_tagbudget *tb = am_tagbudget_new(D1);
	am_err err = {0};
	ck_assert_int_eq(am_tagbudget_set_limit(tb, "nightly-evals", usd("5"), &err), 0);
	ck_assert_int_eq(am_tagbudget_add_spent(tb, D1, D1, "nightly-evals", usd("4.5"), &err), 0);

	am_tagbudget_grant g = reserve(tb, D1, "nightly-evals", "0.4");
	ck_assert(!g.blocked && g.held);
	/* 4.5 spent + 0.4 held + 0.2 > 5: blocked, with the tag and figures named. */
	g = reserve(tb, D1, "nightly-evals", "0.2");
	ck_assert(g.blocked && !g.held);
	ck_assert_msg(strstr(g.why, "nightly-evals") && strstr(g.why, "$5") &&
	              strstr(g.why, "$4.5") && strstr(g.why, "$0.4") && strstr(g.why, "$0.2"),
	              "%s", g.why);
	/* Exactly up to the limit is allowed. */
	g = reserve(tb, D1, "nightly-evals", "0.1");
	ck_assert(!g.blocked);
	/* Other tags, untagged calls and exempt calls go on. */
	ck_assert(!reserve(tb, D1, "app:web", "1000").blocked);
	ck_assert(!reserve(tb, D1, NULL, "1000").blocked);
	ck_assert(!reserve(tb, D1, "", "1000").blocked);
	ck_assert(!reserve(tb, D1, "nightly-evals", "0").blocked);

	/* The 0.4 call cost 0.1: room again for 0.2 (4.6 + 0.1 held + 0.2 <= 5). */
	ck_assert_int_eq(am_tagbudget_settle(tb, D1, "nightly-evals", usd("0.4"), usd("0.1"), &err),
	                 0);
	ck_assert(!reserve(tb, D1, "nightly-evals", "0.2").blocked);
	am_tagbudget_view v;
	am_tagbudget_get(tb, D1, "nightly-evals", &v);
	ck_assert_int_eq(v.spent_pusd, usd("4.6"));
	ck_assert_int_eq(v.held_pusd, usd("0.3"));
	ck_assert_int_eq(v.limit_pusd, usd("5"));
	/* A cancel gives the hold back without spending. */
	am_tagbudget_cancel(tb, "nightly-evals", usd("0.3"));
	am_tagbudget_get(tb, D1, "nightly-evals", &v);
	ck_assert_int_eq(v.held_pusd, 0);
	ck_assert_int_eq(v.spent_pusd, usd("4.6"));

	/* Raising the limit lets the call through; removing it too. */
	ck_assert(reserve(tb, D1, "nightly-evals", "0.5").blocked);
	ck_assert_int_eq(am_tagbudget_set_limit(tb, "nightly-evals", usd("6"), &err), 0);
	ck_assert(!reserve(tb, D1, "nightly-evals", "0.5").blocked);
	ck_assert_int_eq(am_tagbudget_set_limit(tb, "nightly-evals", 0, &err), 0);
	ck_assert(!reserve(tb, D1, "nightly-evals", "100").blocked);
	am_tagbudget_free(tb);
}
END_TEST

/* Many reservations of random sizes against one limit: spent + held never
 * passes it, and every refusal is one that would have. */
START_TEST(reservations_never_pass_the_limit)
{
	am_tagbudget *tb = am_tagbudget_new(D1);
	am_err err = {0};
	const int64_t limit = usd("1");
	ck_assert_int_eq(am_tagbudget_set_limit(tb, "t", limit, &err), 0);
	int64_t held[64] = {0};
	int nheld = 0, granted = 0, blocked = 0;
	unsigned seed = 7;
	for (int i = 0; i < 2000; i++) {
		seed = seed * 1103515245u + 12345u;
		int64_t amount = ((int64_t)(seed >> 8) % 50000 + 1) * usd("0.000001");
		if (nheld == 64 || (seed & 3) == 0) {
			if (nheld) {
				int64_t h = held[--nheld];
				ck_assert_int_eq(am_tagbudget_settle(tb, D1, "t", h, h / 2, &err), 0);
			}
			continue;
		}
		am_tagbudget_view before;
		am_tagbudget_get(tb, D1, "t", &before);
		am_tagbudget_grant g;
		ck_assert_int_eq(am_tagbudget_reserve(tb, D1, "t", amount, &g, &err), 0);
		if (g.blocked) {
			ck_assert_int_gt(before.spent_pusd + before.held_pusd + amount, limit);
			blocked++;
		} else {
			held[nheld++] = amount;
			granted++;
		}
		am_tagbudget_view after;
		am_tagbudget_get(tb, D1, "t", &after);
		ck_assert_int_le(after.spent_pusd + after.held_pusd, limit);
	}
	ck_assert_int_gt(granted, 10);
	ck_assert_int_gt(blocked, 10);
	am_tagbudget_free(tb);
}
END_TEST

START_TEST(days_roll_over)
{
	am_tagbudget *tb = am_tagbudget_new(D1);
	am_err err = {0};
	ck_assert_int_eq(am_tagbudget_set_limit(tb, "t", usd("1"), &err), 0);
	ck_assert_int_eq(am_tagbudget_add_spent(tb, D1, D1, "t", usd("1"), &err), 0);
	ck_assert_int_eq(am_tagbudget_add_spent(tb, D1, D1, "other", usd("2"), &err), 0);
	ck_assert(reserve(tb, D1, "t", "0.01").blocked);
	/* Yesterday's spend reported late counts toward nothing; a row a
	 * process ahead of us stamped tomorrow counts toward today. */
	ck_assert_int_eq(am_tagbudget_add_spent(tb, D1, "2026-03-13", "t", usd("5"), &err), 0);
	am_tagbudget_view v;
	am_tagbudget_get(tb, D1, "t", &v);
	ck_assert_int_eq(v.spent_pusd, usd("1"));
	ck_assert_int_eq(am_tagbudget_add_spent(tb, D1, D2, "t", usd("0.5"), &err), 0);
	am_tagbudget_get(tb, D1, "t", &v);
	ck_assert_int_eq(v.spent_pusd, usd("1.5"));
	/* A new day: nothing spent, the limit stays; a step back changes nothing. */
	ck_assert(!reserve(tb, D2, "t", "0.5").blocked);
	ck_assert(!reserve(tb, D1, "t", "0.4").blocked);
	ck_assert(reserve(tb, D2, "t", "0.2").blocked);
	am_tagbudget_get(tb, D2, "other", &v);
	ck_assert_int_eq(v.spent_pusd, 0);
	am_tagbudget_free(tb);
}
END_TEST

START_TEST(top_is_most_spent_first_and_bad_input_is_refused)
{
	am_tagbudget *tb = am_tagbudget_new(D1);
	am_err err = {0};
	ck_assert_int_eq(am_tagbudget_set_limit(tb, "limited", usd("3"), &err), 0);
	ck_assert_int_eq(am_tagbudget_add_spent(tb, D1, D1, "b", usd("2"), &err), 0);
	ck_assert_int_eq(am_tagbudget_add_spent(tb, D1, D1, "a", usd("2"), &err), 0);
	ck_assert_int_eq(am_tagbudget_add_spent(tb, D1, D1, "big", usd("9"), &err), 0);
	am_tagbudget_view top[8];
	size_t n = am_tagbudget_top(tb, D1, top, 8);
	ck_assert_uint_eq(n, 4);
	ck_assert_str_eq(top[0].tag, "big");
	ck_assert_str_eq(top[1].tag, "a");
	ck_assert_str_eq(top[2].tag, "b");
	ck_assert_str_eq(top[3].tag, "limited");
	ck_assert_int_eq(top[3].limit_pusd, usd("3"));
	ck_assert_uint_eq(am_tagbudget_top(tb, D1, top, 2), 2);

	am_tagbudget_grant g;
	ck_assert_int_eq(am_tagbudget_set_limit(tb, "two words", 1, &err), -1);
	ck_assert_msg(strstr(err.msg, "tag"), "%s", err.msg);
	ck_assert_int_eq(am_tagbudget_set_limit(tb, "t", -1, &err), -1);
	ck_assert_int_eq(am_tagbudget_reserve(tb, D1, "t", -1, &g, &err), -1);
	ck_assert_int_eq(am_tagbudget_add_spent(tb, D1, D1, "t", -1, &err), -1);
	ck_assert_int_eq(am_tagbudget_add_spent(tb, D1, D1, "big", INT64_MAX, &err), -1);
	ck_assert_msg(strstr(err.msg, "int64"), "%s", err.msg);

	/* Past AM_TAGBUDGET_MAX tags, a tag without a limit is not tracked (and
	 * never blocked); limits still find room while any is free. */
	am_tagbudget *full = am_tagbudget_new(D1);
	for (int i = 0; i < AM_TAGBUDGET_MAX; i++) {
		char tag[16];
		snprintf(tag, sizeof tag, "t%d", i);
		ck_assert_int_eq(am_tagbudget_add_spent(full, D1, D1, tag, 1, &err), 0);
	}
	ck_assert(!reserve(full, D1, "one-more", "1").blocked);
	ck_assert_int_eq(am_tagbudget_set_limit(full, "one-more", 1, &err), -1);
	ck_assert_msg(strstr(err.msg, "more than"), "%s", err.msg);
	am_tagbudget_free(full);
	am_tagbudget_free(tb);
}
END_TEST

static Suite *tagbudget_suite(void)
{
	Suite *s = suite_create("tagbudget");
	TCase *tc = tcase_create("tagbudget");
	tcase_add_test(tc, a_tags_limit_blocks_that_tag_only);
	tcase_add_test(tc, reservations_never_pass_the_limit);
	tcase_add_test(tc, days_roll_over);
	tcase_add_test(tc, top_is_most_spent_first_and_bad_input_is_refused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(tagbudget_suite());
}
