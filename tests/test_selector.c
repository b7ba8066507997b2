/* test_selector: the model selector's rules, precedence and reasons. */
#include <check.h>
#include <string.h>

#include "selector.h"
#include "check_run.h"
#include "config.h"

#define GE "\xe2\x89\xa5"

static am_sel_config cfg;

/* The configuration's defaults: the seed's rules. */
static void setup(void)
{
	am_config c;
	am_config_init(&c);
	am_err err = {0};
	ck_assert_msg(am_sel_config_from(&c, &cfg, &err) == 0, "%s", err.msg);
}

static am_sel_choice choose(const char *model, int64_t chars, int budget_pct, bool after_529)
{
	am_sel_input in = {.model = model, .chars = chars, .budget_pct = budget_pct,
	                   .after_529 = after_529};
	am_sel_choice c;
	am_sel_choose(&cfg, &in, &c);
	return c;
}

START_TEST(default_config_is_valid)
{
	am_err err = {0};
	ck_assert_int_eq(am_sel_config_check(&cfg, &err), 0);
	am_sel_config d;
	am_sel_config_default(&d);
	ck_assert_int_eq(memcmp(&d, &cfg, sizeof d), 0);
	ck_assert_int_eq(cfg.nrules, 3);
	ck_assert_int_eq(cfg.downgrade_pct, 80);
	ck_assert(cfg.downgrade_on_budget);
}
END_TEST

START_TEST(length_rules_at_the_boundaries)
{
	struct { int64_t chars; const char *model; const char *reason; } cases[] = {
		{0, "claude-haiku-4-5", "0 chars < 500"},
		{312, "claude-haiku-4-5", "312 chars < 500"},
		{499, "claude-haiku-4-5", "499 chars < 500"},
		{500, "claude-sonnet-4-5", "500 chars < 2,000"},
		{1999, "claude-sonnet-4-5", "1,999 chars < 2,000"},
		{2000, "claude-opus-4-5", "2,000 chars " GE " 2,000"},
		{2400, "claude-opus-4-5", "2,400 chars " GE " 2,000"},
		{1234567, "claude-opus-4-5", "1,234,567 chars " GE " 2,000"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		am_sel_choice c = choose(NULL, cases[i].chars, -1, false);
		ck_assert_str_eq(c.model, cases[i].model);
		ck_assert_str_eq(c.reason, cases[i].reason);
		ck_assert_int_eq(c.why, AM_SEL_RULE);
	}
}
END_TEST

START_TEST(pinned_model_always_wins)
{
	/* over budget, after a 529, a long prompt: still the pinned model */
	am_sel_choice c = choose("claude-3-haiku-20240307", 5000, 99, true);
	ck_assert_str_eq(c.model, "claude-3-haiku-20240307");
	ck_assert_str_eq(c.reason, "pinned");
	ck_assert_int_eq(c.why, AM_SEL_PINNED);
	/* "" and "auto" mean no pin */
	ck_assert_str_eq(choose("", 10, -1, false).reason, "10 chars < 500");
	ck_assert_str_eq(choose("auto", 10, -1, false).reason, "10 chars < 500");
}
END_TEST

START_TEST(budget_downgrades_one_tier)
{
	am_sel_choice c = choose(NULL, 2400, 85, false);
	ck_assert_str_eq(c.model, "claude-sonnet-4-5");
	ck_assert_str_eq(c.reason, "budget 85% " GE " 80%: downgraded");
	ck_assert_int_eq(c.why, AM_SEL_DOWNGRADED);

	c = choose(NULL, 600, 80, false); /* exactly at the threshold */
	ck_assert_str_eq(c.model, "claude-haiku-4-5");
	ck_assert_str_eq(c.reason, "budget 80% " GE " 80%: downgraded");

	c = choose(NULL, 600, 79, false); /* just below: no change */
	ck_assert_str_eq(c.model, "claude-sonnet-4-5");
	ck_assert_str_eq(c.reason, "600 chars < 2,000");

	c = choose(NULL, 100, 95, false); /* lowest tier stays */
	ck_assert_str_eq(c.model, "claude-haiku-4-5");
	ck_assert_str_eq(c.reason, "100 chars < 500");
	ck_assert_int_eq(c.why, AM_SEL_RULE);
}
END_TEST

START_TEST(budget_downgrade_can_be_switched_off)
{
	cfg.downgrade_on_budget = false;
	am_sel_choice c = choose(NULL, 2400, 100, false);
	ck_assert_str_eq(c.model, "claude-opus-4-5");
	ck_assert_str_eq(c.reason, "2,400 chars " GE " 2,000");
}
END_TEST

START_TEST(downgrade_uses_the_configured_threshold)
{
	cfg.downgrade_pct = 95;
	ck_assert_str_eq(choose(NULL, 2400, 94, false).model, "claude-opus-4-5");
	am_sel_choice c = choose(NULL, 2400, 95, false);
	ck_assert_str_eq(c.model, "claude-sonnet-4-5");
	ck_assert_str_eq(c.reason, "budget 95% " GE " 95%: downgraded");
}
END_TEST

START_TEST(tier_of_by_model_then_by_name)
{
	ck_assert_int_eq(am_sel_tier_of(&cfg, "claude-haiku-4-5"), 0);
	ck_assert_int_eq(am_sel_tier_of(&cfg, "claude-opus-4-5"), 2);
	ck_assert_int_eq(am_sel_tier_of(&cfg, "claude-opus-4-1-20250805"), 2);
	ck_assert_int_eq(am_sel_tier_of(&cfg, "claude-sonnet-4-20250514"), 1);
	ck_assert_int_eq(am_sel_tier_of(&cfg, "gpt-4o"), -1);

	/* a rule model outside the map but named like a tier still drops */
	strcpy(cfg.rule[2].model, "claude-opus-4-1");
	ck_assert_str_eq(choose(NULL, 3000, 90, false).model, "claude-sonnet-4-5");
	/* one with no tier at all does not */
	strcpy(cfg.rule[2].model, "local-llama");
	am_sel_choice c = choose(NULL, 3000, 90, false);
	ck_assert_str_eq(c.model, "local-llama");
	ck_assert_str_eq(c.reason, "3,000 chars " GE " 2,000");
}
END_TEST

START_TEST(fallback_after_529)
{
	am_sel_choice c = choose(NULL, 3000, -1, true);
	ck_assert_str_eq(c.model, "claude-sonnet-4-5");
	ck_assert_str_eq(c.reason, "fallback after 529");
	ck_assert_int_eq(c.why, AM_SEL_FALLBACK);
	/* beats the budget downgrade too */
	strcpy(cfg.fallback_model, "claude-opus-4-5");
	c = choose(NULL, 100, 90, true);
	ck_assert_str_eq(c.model, "claude-opus-4-5");
	ck_assert_str_eq(c.reason, "fallback after 529");
	/* no fallback configured: the rules decide */
	cfg.fallback_model[0] = '\0';
	c = choose(NULL, 3000, -1, true);
	ck_assert_str_eq(c.model, "claude-opus-4-5");
	ck_assert_int_eq(c.why, AM_SEL_RULE);
}
END_TEST

START_TEST(count_code_points)
{
	ck_assert_int_eq(am_sel_count_chars(NULL), 0);
	ck_assert_int_eq(am_sel_count_chars(""), 0);
	ck_assert_int_eq(am_sel_count_chars("hello"), 5);
	ck_assert_int_eq(am_sel_count_chars("h\xc3\xa9llo"), 5);        /* é: 2 bytes */
	ck_assert_int_eq(am_sel_count_chars("\xe2\x82\xac" "5"), 2);    /* €5 */
	ck_assert_int_eq(am_sel_count_chars("\xf0\x9f\x98\x80!"), 2);   /* emoji: 4 bytes */
	ck_assert_int_eq(am_sel_count_chars("\xe6\x97\xa5\xe6\x9c\xac"), 2); /* 日本 */
	/* a stray continuation byte is not a character; a lone lead byte is */
	ck_assert_int_eq(am_sel_count_chars("a\x80" "b"), 2);
	ck_assert_int_eq(am_sel_count_chars("a\xc3"), 2);
}
END_TEST

START_TEST(body_chars_string_and_blocks)
{
	json_t *b = json_loads("{\"model\":\"m\",\"system\":\"ignored system text\",\"messages\":["
	                       "{\"role\":\"user\",\"content\":\"first\"},"
	                       "{\"role\":\"assistant\",\"content\":\"x\"},"
	                       "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"ab\"},"
	                       "{\"type\":\"image\"},{\"type\":\"text\",\"text\":\"\xc3\xa9\"}]}]}",
	                       0, NULL);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(am_sel_body_chars(b), 3);
	json_t *m = json_loads("{\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}", 0, NULL);
	ck_assert_int_eq(am_sel_body_chars(m), 5);
	json_t *none = json_loads("{\"model\":\"m\"}", 0, NULL);
	ck_assert_int_eq(am_sel_body_chars(none), 0);
	json_decref(b);
	json_decref(m);
	json_decref(none);
}
END_TEST

START_TEST(config_check_rejects_bad_rules)
{
	am_err err = {0};
	am_sel_config c = cfg;
	c.rule[2].max_chars = 5000; /* no catch-all */
	ck_assert_int_eq(am_sel_config_check(&c, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "catch-all"));
	c = cfg;
	c.rule[1].max_chars = 400; /* not increasing */
	ck_assert_int_eq(am_sel_config_check(&c, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "rule 2"));
	c = cfg;
	c.rule[0].max_chars = 0; /* a catch-all before the end */
	ck_assert_int_eq(am_sel_config_check(&c, &err), -1);
	c = cfg;
	c.rule[1].model[0] = '\0';
	ck_assert_int_eq(am_sel_config_check(&c, &err), -1);
	c = cfg;
	strcpy(c.tier[2].name, "haiku");
	ck_assert_int_eq(am_sel_config_check(&c, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "twice"));
	c = cfg;
	c.downgrade_pct = 0;
	ck_assert_int_eq(am_sel_config_check(&c, &err), -1);
	c = cfg;
	c.nrules = 0;
	ck_assert_int_eq(am_sel_config_check(&c, &err), -1);
}
END_TEST

START_TEST(single_catch_all_rule)
{
	cfg.nrules = 1;
	cfg.rule[0].max_chars = 0;
	strcpy(cfg.rule[0].model, "claude-sonnet-4-5");
	am_err err = {0};
	ck_assert_int_eq(am_sel_config_check(&cfg, &err), 0);
	am_sel_choice c = choose(NULL, 1500, -1, false);
	ck_assert_str_eq(c.model, "claude-sonnet-4-5");
	ck_assert_str_eq(c.reason, "1,500 chars: default");
}
END_TEST

static int load(am_config *c, const char *text, am_err *err)
{
	char *const envp[] = {NULL};
	return am_config_load_text(c, text, strlen(text), "test.json", envp, err);
}

START_TEST(config_from_the_config_file)
{
	am_config c;
	am_err err = {0};
	const char *text = "{\"selector\": {\"rules\": [{\"max_chars\": 100, \"model\": \"a-haiku\"},"
	                   "{\"model\": \"b-opus\"}], \"tiers\": [{\"name\": \"haiku\", \"model\": "
	                   "\"a-haiku\"}, {\"name\": \"opus\", \"model\": \"b-opus\"}], "
	                   "\"downgrade_pct\": 90, \"fallback_model\": \"\"}}";
	ck_assert_msg(load(&c, text, &err) == 0, "%s", err.msg);
	ck_assert_msg(am_sel_config_from(&c, &cfg, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(cfg.nrules, 2);
	ck_assert_str_eq(choose(NULL, 99, -1, false).reason, "99 chars < 100");
	am_sel_choice ch = choose(NULL, 100, 90, true);
	ck_assert_str_eq(ch.model, "a-haiku"); /* no fallback; downgraded from b-opus */
	ck_assert_str_eq(ch.reason, "budget 90% " GE " 90%: downgraded");

	/* selector.model pins every request that does not name its own model */
	ck_assert_int_eq(load(&c, "{\"selector\": {\"model\": \"claude-opus-4-1\"}}", &err), 0);
	ck_assert_int_eq(am_sel_config_from(&c, &cfg, &err), 0);
	ch = choose(NULL, 10, 95, true);
	ck_assert_str_eq(ch.model, "claude-opus-4-1");
	ck_assert_str_eq(ch.reason, "pinned");
	ck_assert_str_eq(choose("claude-haiku-4-5", 10, -1, false).model, "claude-haiku-4-5");
	ck_assert_str_eq(choose("auto", 10, -1, false).model, "claude-opus-4-1");
}
END_TEST

START_TEST(config_from_rejects_what_the_selector_cannot_use)
{
	/* the config accepts any list; the selector needs increasing bounds */
	am_config c;
	am_config_init(&c);
	c.selector.rule[1].max_chars = 100;
	am_err err = {0};
	ck_assert_int_eq(am_sel_config_from(&c, &cfg, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "rule 2"));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("selector");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, default_config_is_valid);
	tcase_add_test(tc, length_rules_at_the_boundaries);
	tcase_add_test(tc, pinned_model_always_wins);
	tcase_add_test(tc, budget_downgrades_one_tier);
	tcase_add_test(tc, budget_downgrade_can_be_switched_off);
	tcase_add_test(tc, downgrade_uses_the_configured_threshold);
	tcase_add_test(tc, tier_of_by_model_then_by_name);
	tcase_add_test(tc, fallback_after_529);
	tcase_add_test(tc, count_code_points);
	tcase_add_test(tc, body_chars_string_and_blocks);
	tcase_add_test(tc, config_check_rejects_bad_rules);
	tcase_add_test(tc, single_catch_all_rule);
	tcase_add_test(tc, config_from_the_config_file);
	tcase_add_test(tc, config_from_rejects_what_the_selector_cannot_use);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(suite());
}
