/* test_config: the configuration module - defaults, the file, the
 * environment, flags and run-time values, their precedence, every error a
 * user can make, exact money, the API key file and its masking, and the
 * shipped example. Environments are passed as explicit arrays, so the
 * process's own variables never leak in. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_run.h"
#include "config.h"
#include "money.h"

static char *const noenv[] = {NULL};
static char tmpdir[256];

static void setup(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/am_test_config.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	/* Default paths come from the process environment: keep them here. */
	char buf[300];
	snprintf(buf, sizeof buf, "%s/xdgconfig", tmpdir);
	setenv("XDG_CONFIG_HOME", buf, 1);
	snprintf(buf, sizeof buf, "%s/xdgdata", tmpdir);
	setenv("XDG_DATA_HOME", buf, 1);
}

static void teardown(void)
{
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static int load(am_config *cfg, const char *json, char *const *envp, am_err *err)
{
	return am_config_load_text(cfg, json, strlen(json), "test.json", envp ? envp : noenv, err);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

static char *get(const am_config *cfg, const char *key, am_config_source *src)
{
	char *s = NULL;
	am_err err = {0};
	ck_assert_msg(am_config_get_string(cfg, key, &s, src, &err) == 0, "%s: %s", key, err.msg);
	return s;
}

static void assert_value(const am_config *cfg, const char *key, const char *want,
                         am_config_source want_src)
{
	am_config_source src;
	char *s = get(cfg, key, &src);
	ck_assert_msg(!strcmp(s, want), "%s = '%s', want '%s'", key, s, want);
	ck_assert_msg(src == want_src, "%s source %s, want %s", key, am_config_source_name(src),
	              am_config_source_name(want_src));
	free(s);
}

static char *print_to_string(const am_config *cfg)
{
	FILE *f = tmpfile();
	ck_assert_ptr_nonnull(f);
	am_config_print(cfg, f);
	long n = ftell(f);
	ck_assert_int_gt(n, 0);
	char *buf = malloc((size_t)n + 1);
	rewind(f);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static bool any_warning_contains(const am_config *cfg, const char *needle)
{
	for (int i = 0; i < am_config_nwarnings(cfg); i++)
		if (strstr(am_config_warning(cfg, i), needle))
			return true;
	return false;
}

/* ---- defaults ---------------------------------------------------------------- */

START_TEST(test_defaults)
{
	am_config cfg;
	am_config_init(&cfg);
	ck_assert_int_eq(cfg.limits.def.rpm, 50);
	ck_assert_int_eq(cfg.limits.def.itpm, 30000);
	ck_assert_int_eq(cfg.limits.def.otpm, 8000);
	ck_assert_int_eq(cfg.limits.def.max_in_flight, 64);
	ck_assert_int_eq(cfg.worker.concurrency, 64);
	ck_assert_int_eq(cfg.worker.queue_capacity, 10000);
	ck_assert_int_eq(cfg.client.max_retries, 2);
	ck_assert(!cfg.client.count_tokens);
	ck_assert(cfg.client.stream);
	ck_assert_int_eq(cfg.cache.ttl_s, 86400);
	ck_assert(cfg.cache.enabled);
	ck_assert_int_eq(cfg.budget.daily_pusd, 10 * AM_PUSD_PER_USD);
	ck_assert_int_eq(cfg.budget.monthly_pusd, 0);
	ck_assert_int_eq(cfg.budget.nalerts, 1);
	ck_assert_int_eq(cfg.budget.alert_pct[0], 80);
	ck_assert_int_eq(cfg.selector.nrules, 3);
	ck_assert_int_eq(cfg.selector.rule[0].max_chars, 500);
	ck_assert_str_eq(cfg.selector.rule[0].model, "claude-haiku-4-5");
	ck_assert_int_eq(cfg.selector.rule[1].max_chars, 2000);
	ck_assert_str_eq(cfg.selector.rule[1].model, "claude-sonnet-4-5");
	ck_assert_int_eq(cfg.selector.rule[2].max_chars, 0);
	ck_assert_str_eq(cfg.selector.rule[2].model, "claude-opus-4-5");
	ck_assert_int_eq(cfg.selector.ntiers, 3);
	ck_assert_str_eq(cfg.selector.model, "auto");
	ck_assert_str_eq(cfg.selector.fallback_model, "claude-sonnet-4-5");
	ck_assert_str_eq(cfg.base_url, "https://api.anthropic.com");
	ck_assert_int_eq(cfg.ui.color, AM_COLOR_AUTO);
	ck_assert_str_eq(cfg.api_key, "");
	ck_assert_int_eq(am_config_nwarnings(&cfg), 0);

	char want[300];
	snprintf(want, sizeof want, "%s/xdgdata/aimeter/aimeter.db", tmpdir);
	ck_assert_str_eq(cfg.db, want);
	snprintf(want, sizeof want, "%s/xdgconfig/aimeter/pricing.json", tmpdir);
	ck_assert_str_eq(cfg.pricing_file, want);
	for (size_t i = 0; i < am_config_key_count(); i++)
		ck_assert_int_eq(cfg.src[i], AM_CFG_DEFAULT);
}
END_TEST

/* Every key's value goes out as text and back in unchanged, and the table's
 * documented default is what a fresh config holds. */
START_TEST(test_every_key_round_trips)
{
	am_config a, b;
	am_config_init(&a);
	am_config_init(&b);
	ck_assert_uint_ge(am_config_key_count(), 40);
	for (size_t i = 0; i < am_config_key_count(); i++) {
		const am_config_key_info *k = am_config_key_at(i);
		am_err err = {0};
		char *s = get(&a, k->name, NULL), *s2;
		ck_assert_msg(am_config_validate(k->name, k->def, &err) == 0, "%s: %s", k->name,
		              err.msg);
		ck_assert_msg(am_config_set_from_string(&b, k->name, s, AM_CFG_RUNTIME, &err) == 0,
		              "%s: %s", k->name, err.msg);
		s2 = get(&b, k->name, NULL);
		ck_assert_str_eq(s, s2);
		ck_assert(k->help && *k->help && k->type && *k->type);
		free(s);
		free(s2);
	}
	ck_assert_ptr_null(am_config_key_at(am_config_key_count()));
}
END_TEST

/* ---- the file ------------------------------------------------------------------ */

START_TEST(test_file_values_and_sources)
{
	am_config cfg;
	am_err err = {0};
	const char *json =
	    "{\"limits\": {\"rpm\": 1000, \"itpm\": 450000},"
	    " \"worker\": {\"concurrency\": 28},"
	    " \"budget\": {\"daily_usd\": \"25.50\", \"alert_pct\": [50, 90]},"
	    " \"cache\": {\"enabled\": false},"
	    " \"ui\": {\"color\": \"never\"},"
	    " \"selector\": {\"rules\": [{\"max_chars\": 100, \"model\": \"m-small\"},"
	    "                          {\"model\": \"m-big\"}]},"
	    " \"base_url\": \"http://127.0.0.1:8080/\"}";
	ck_assert_msg(load(&cfg, json, NULL, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(am_config_nwarnings(&cfg), 0);
	ck_assert_int_eq(cfg.limits.def.rpm, 1000);
	ck_assert_int_eq(cfg.limits.def.itpm, 450000);
	ck_assert_int_eq(cfg.limits.def.otpm, 8000);
	ck_assert_int_eq(cfg.worker.concurrency, 28);
	ck_assert_int_eq(cfg.budget.daily_pusd, 25500000000000LL);
	ck_assert_int_eq(cfg.budget.nalerts, 2);
	ck_assert_int_eq(cfg.budget.alert_pct[1], 90);
	ck_assert(!cfg.cache.enabled);
	ck_assert_int_eq(cfg.ui.color, AM_COLOR_NEVER);
	ck_assert_int_eq(cfg.selector.nrules, 2);
	ck_assert_str_eq(cfg.selector.rule[1].model, "m-big");
	ck_assert_str_eq(cfg.base_url, "http://127.0.0.1:8080"); /* trailing '/' dropped */
	assert_value(&cfg, "limits.rpm", "1000", AM_CFG_FILE);
	assert_value(&cfg, "limits.otpm", "8000", AM_CFG_DEFAULT);
	assert_value(&cfg, "budget.daily_usd", "25.5", AM_CFG_FILE);
	assert_value(&cfg, "budget.alert_pct", "[50,90]", AM_CFG_FILE);
	assert_value(&cfg, "cache.ttl_s", "86400", AM_CFG_DEFAULT);
}
END_TEST

/* Dotted keys at the top level are the same keys; "_" keys are comments. */
START_TEST(test_dotted_keys_and_comments)
{
	am_config cfg;
	am_err err = {0};
	ck_assert(load(&cfg,
	               "{\"_comment\": \"mine\", \"limits.rpm\": 7,"
	               " \"limits\": {\"_why\": 1, \"otpm\": 9}}",
	               NULL, &err) == 0);
	ck_assert_int_eq(am_config_nwarnings(&cfg), 0);
	ck_assert_int_eq(cfg.limits.def.rpm, 7);
	ck_assert_int_eq(cfg.limits.def.otpm, 9);
}
END_TEST

START_TEST(test_bad_json_has_line_and_column)
{
	am_config cfg;
	am_err err = {0};
	const char *json = "{\n  \"limits\": {\n    \"rpm\": 50,\n  }\n}\n";
	ck_assert_int_eq(load(&cfg, json, NULL, &err), -1);
	/* jansson reports the '}' that follows the trailing comma: line 4. */
	ck_assert_msg(!strncmp(err.msg, "test.json:4:", 12), "%s", err.msg);
	int line, col;
	ck_assert_int_eq(sscanf(err.msg, "test.json:%d:%d:", &line, &col), 2);
	ck_assert_int_eq(line, 4);
	ck_assert_int_ge(col, 1);
	/* Failure leaves the defaults. */
	ck_assert_int_eq(cfg.limits.def.rpm, 50);

	ck_assert_int_eq(load(&cfg, "{\"a\": 1, \"a\": 2}", NULL, &err), -1);
	ck_assert_msg(strstr(err.msg, "duplicate"), "%s", err.msg);
	ck_assert_int_eq(load(&cfg, "[1, 2]", NULL, &err), -1);
	ck_assert_msg(strstr(err.msg, "top level"), "%s", err.msg);
	ck_assert_int_eq(load(&cfg, "", NULL, &err), -1);
	ck_assert_msg(!strncmp(err.msg, "test.json:", 10), "%s", err.msg);
}
END_TEST

START_TEST(test_bad_json_file_names_path)
{
	am_config cfg;
	am_err err = {0};
	char path[300];
	snprintf(path, sizeof path, "%s/bad.json", tmpdir);
	write_file(path, "{\n\"worker\": {\"concurrency\": 8,,}\n}", 0600);
	am_config_load_opts o = {.path = path, .envp = noenv};
	ck_assert_int_eq(am_config_load(&cfg, &o, &err), -1);
	char want[320];
	snprintf(want, sizeof want, "%s:2:", path);
	ck_assert_msg(!strncmp(err.msg, want, strlen(want)), "%s", err.msg);
}
END_TEST

START_TEST(test_unknown_keys_warn)
{
	am_config cfg;
	am_err err = {0};
	const char *json =
	    "{\"limits\": {\"rpmm\": 5, \"pools\": {\"opus-4\": {\"rpm\": 9, \"tpm\": 1}}},"
	    " \"colour\": true,"
	    " \"selector\": {\"rules\": [{\"model\": \"m\", \"chars\": 3}]}}";
	ck_assert_msg(load(&cfg, json, NULL, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(am_config_nwarnings(&cfg), 4);
	ck_assert_msg(strstr(am_config_warning(&cfg, 0), "unknown key 'limits.rpmm'"), "%s",
	              am_config_warning(&cfg, 0));
	ck_assert_msg(strstr(am_config_warning(&cfg, 0), "did you mean 'limits.rpm'"), "%s",
	              am_config_warning(&cfg, 0));
	ck_assert(strstr(am_config_warning(&cfg, 0), "test.json"));
	ck_assert(any_warning_contains(&cfg, "'limits.pools.opus-4.tpm'"));
	ck_assert(any_warning_contains(&cfg, "'colour'"));
	ck_assert(any_warning_contains(&cfg, "'selector.rules[0].chars'"));
	ck_assert_int_eq(cfg.limits.def.rpm, 50);
	ck_assert_ptr_null(am_config_warning(&cfg, 4));

	/* The key does not belong in the file: ignored, with a warning. */
	ck_assert(load(&cfg, "{\"api_key\": \"sk-ant-api03-INFILE-0000000000\"}", NULL, &err) == 0);
	ck_assert_str_eq(cfg.api_key, "");
	ck_assert(any_warning_contains(&cfg, "api_key is ignored"));
	ck_assert(!any_warning_contains(&cfg, "INFILE"));

	/* Warnings are bounded. */
	char big[4096] = "{";
	for (int i = 0; i < 40; i++)
		snprintf(big + strlen(big), sizeof big - strlen(big), "%s\"junk%d\": 1",
		         i ? "," : "", i);
	strcat(big, "}");
	ck_assert(load(&cfg, big, NULL, &err) == 0);
	ck_assert_int_eq(am_config_nwarnings(&cfg), AM_CONFIG_MAX_WARNINGS);
	ck_assert_int_eq(cfg.warnings_dropped, 40 - AM_CONFIG_MAX_WARNINGS);
}
END_TEST

/* Each bad value is an error naming its key, and nothing of the file applies. */
START_TEST(test_wrong_types_and_ranges)
{
	static const struct {
		const char *json, *want;
	} cases[] = {
	    {"{\"limits\": {\"rpm\": \"fast\"}}",
	     "limits.rpm: expected a whole number, got a string"},
	    {"{\"limits\": {\"rpm\": 12.5}}", "limits.rpm: 12.5 is not a whole number"},
	    {"{\"limits\": {\"rpm\": -1}}", "limits.rpm: -1 is out of range"},
	    {"{\"limits\": 5}", "limits: expected an object"},
	    {"{\"worker\": {\"concurrency\": 0}}",
	     "worker.concurrency: 0 is out of range (1..4096)"},
	    {"{\"cache\": {\"enabled\": \"yes\"}}", "cache.enabled: expected true or false"},
	    {"{\"ui\": {\"color\": \"blue\"}}", "ui.color: 'blue' is not one of"},
	    {"{\"base_url\": \"ftp://x\"}",
	     "base_url: 'ftp://x' is not an http:// or https:// URL"},
	    {"{\"base_url\": 5}", "base_url: expected a string"},
	    {"{\"budget\": {\"daily_usd\": \"ten\"}}", "budget.daily_usd:"},
	    {"{\"budget\": {\"daily_usd\": \"-3\"}}", "budget.daily_usd: '-3' is negative"},
	    {"{\"budget\": {\"daily_usd\": true}}", "budget.daily_usd: expected an amount"},
	    {"{\"budget\": {\"alert_pct\": [90, 80]}}",
	     "budget.alert_pct: thresholds must increase"},
	    {"{\"budget\": {\"alert_pct\": [101]}}", "budget.alert_pct[0]: 101 is out of range"},
	    {"{\"budget\": {\"alert_pct\": [10,20,30,40,50]}}", "budget.alert_pct: at most 4"},
	    {"{\"selector\": {\"rules\": []}}", "selector.rules: expected 1 to 8 rules"},
	    {"{\"selector\": {\"rules\": [{\"max_chars\": 5, \"model\": \"a\"}]}}",
	     "selector.rules[0]: the last rule takes every longer prompt"},
	    {"{\"selector\": {\"rules\": [{\"model\": \"a\"}, {\"model\": \"b\"}]}}",
	     "selector.rules[0]: only the last rule may leave out max_chars"},
	    {"{\"selector\": {\"rules\": [{\"max_chars\": 9, \"model\": \"a\"},"
	     " {\"max_chars\": 9, \"model\": \"b\"}, {\"model\": \"c\"}]}}",
	     "selector.rules[1]: max_chars must increase"},
	    {"{\"selector\": {\"rules\": [{\"max_chars\": 9}]}}",
	     "selector.rules[0]: the rule has no model"},
	    {"{\"selector\": {\"tiers\": [{\"name\": \"a\", \"model\": \"x\"},"
	     " {\"name\": \"a\", \"model\": \"y\"}]}}",
	     "selector.tiers[1]: tier 'a' appears twice"},
	    {"{\"selector\": {\"model\": \"has space\"}}", "selector.model: model id 'has space'"},
	    {"{\"limits\": {\"pools\": {\"bad.name\": {\"rpm\": 1}}}}", "may hold only letters"},
	    {"{\"limits\": {\"pools\": {\"p\": {\"rpm\": \"x\"}}}}",
	     "limits.pools.p.rpm: expected a whole number"},
	    {"{\"limits\": {\"model_pools\": {\"claude-*-x\": \"p\"}}}", "'*' may only end"},
	    {"{\"timezone\": \"Not a zone\"}", "timezone: 'Not a zone' is not a time zone name"},
	    {"{\"client\": {\"timeout_ms\": 1e20}}", "client.timeout_ms:"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		am_config cfg;
		am_err err = {0};
		ck_assert_msg(load(&cfg, cases[i].json, NULL, &err) == -1, "accepted %s",
		              cases[i].json);
		ck_assert_msg(strstr(err.msg, cases[i].want), "%s\n  gave: %s\n  want: %s",
		              cases[i].json, err.msg, cases[i].want);
		ck_assert_msg(!strncmp(err.msg, "test.json: ", 11), "no file name: %s", err.msg);
		ck_assert_int_eq(cfg.limits.def.rpm, 50);
	}
}
END_TEST

/* ---- money ----------------------------------------------------------------- */

START_TEST(test_money_exact)
{
	static const struct {
		const char *json;
		int64_t pusd;
	} ok[] = {
	    {"{\"budget\": {\"daily_usd\": \"12.345678901234\"}}", 12345678901234LL},
	    {"{\"budget\": {\"daily_usd\": \"$1,000\"}}", 1000000000000000LL},
	    {"{\"budget\": {\"daily_usd\": 7}}", 7000000000000LL},
	    /* 1.15 is 1.149999... as a double: read from the text, it stays 1.15. */
	    {"{\"budget\": {\"daily_usd\": 1.15}}", 1150000000000LL},
	    {"{\"budget\": {\"daily_usd\": 0.1}}", 100000000000LL},
	    {"{\"budget\": {\"daily_usd\": 0.123456789012}}", 123456789012LL},
	    {"{\"budget\": {\"daily_usd\": 19.99, \"monthly_usd\": 300.07}}", 19990000000000LL},
	    {"{\"budget.daily_usd\": 2.675}", 2675000000000LL},
	    {"{\"budget\": {\"note\": [1.5, {\"daily_usd\": 9.9}], \"daily_usd\": 4.35}}",
	     4350000000000LL},
	    {"{\"budget\": {\"daily_usd\": 0}}", 0},
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		am_config cfg;
		am_err err = {0};
		ck_assert_msg(load(&cfg, ok[i].json, NULL, &err) == 0, "%s: %s", ok[i].json,
		              err.msg);
		ck_assert_msg(cfg.budget.daily_pusd == ok[i].pusd, "%s -> %lld", ok[i].json,
		              (long long)cfg.budget.daily_pusd);
	}
	am_config cfg;
	am_err err = {0};
	ck_assert(load(&cfg, ok[6].json, NULL, &err) == 0);
	ck_assert_int_eq(cfg.budget.monthly_pusd, 300070000000000LL);

	static const char *const bad[] = {
	    "{\"budget\": {\"daily_usd\": 1e3}}",                 /* exponent: write a string */
	    "{\"budget\": {\"daily_usd\": \"0.0000000000001\"}}", /* finer than a picodollar */
	    "{\"budget\": {\"daily_usd\": 0.0000000000001}}",
	    "{\"budget\": {\"daily_usd\": 99999999999}}", /* beyond int64 pUSD */
	    "{\"budget\": {\"daily_usd\": \"9999999999999\"}}",
	    "{\"budget\": {\"daily_usd\": -0.5}}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_msg(load(&cfg, bad[i], NULL, &err) == -1, "accepted %s", bad[i]);
		ck_assert_msg(strstr(err.msg, "budget.daily_usd"), "%s", err.msg);
	}

	/* As text, exact both ways. */
	am_config_init(&cfg);
	ck_assert(am_config_set_from_string(&cfg, "budget.daily_usd", "0.000000000001",
	                                    AM_CFG_RUNTIME, &err) == 0);
	ck_assert_int_eq(cfg.budget.daily_pusd, 1);
	assert_value(&cfg, "budget.daily_usd", "0.000000000001", AM_CFG_RUNTIME);
}
END_TEST

/* ---- environment, flags, run time: precedence ----------------------------------- */

START_TEST(test_precedence)
{
	am_config cfg;
	am_err err = {0};
	char *const env[] = {"ANTHROPIC_BASE_URL=http://127.0.0.1:9999", "TZ=UTC", "NO_COLOR=1",
	                     "AIMETER_DB=/tmp/from-env.db", NULL};
	const char *json = "{\"base_url\": \"http://127.0.0.1:1111\", \"timezone\": \"GMT\","
	                   " \"ui\": {\"color\": \"always\"}, \"limits\": {\"rpm\": 100}}";

	/* env beats the file ... */
	ck_assert_msg(load(&cfg, json, env, &err) == 0, "%s", err.msg);
	assert_value(&cfg, "base_url", "http://127.0.0.1:9999", AM_CFG_ENV);
	assert_value(&cfg, "db", "/tmp/from-env.db", AM_CFG_ENV);
	/* ... except the weak variables, which the file overrides ... */
	assert_value(&cfg, "timezone", "GMT", AM_CFG_FILE);
	assert_value(&cfg, "ui.color", "always", AM_CFG_FILE);
	/* ... and which apply over the defaults. */
	ck_assert(load(&cfg, "{}", env, &err) == 0);
	assert_value(&cfg, "timezone", "UTC", AM_CFG_ENV);
	assert_value(&cfg, "ui.color", "never", AM_CFG_ENV);
	/* An empty variable counts as unset (NO_COLOR's rule). */
	char *const empty[] = {"NO_COLOR=", "ANTHROPIC_BASE_URL=", NULL};
	ck_assert(load(&cfg, "{}", empty, &err) == 0);
	assert_value(&cfg, "ui.color", "auto", AM_CFG_DEFAULT);
	assert_value(&cfg, "base_url", "https://api.anthropic.com", AM_CFG_DEFAULT);

	/* A saved run-time value beats the file; a flag beats both, and a
	 * saved value does not undo a flag, whatever the order. */
	ck_assert(load(&cfg, json, env, &err) == 0);
	ck_assert_int_eq(am_config_restore(&cfg, "limits.rpm", "40", &err), 1);
	assert_value(&cfg, "limits.rpm", "40", AM_CFG_RUNTIME);
	ck_assert(am_config_set_from_string(&cfg, "limits.rpm", "20", AM_CFG_FLAG, &err) == 0);
	ck_assert_int_eq(am_config_restore(&cfg, "limits.rpm", "40", &err), 0);
	assert_value(&cfg, "limits.rpm", "20", AM_CFG_FLAG);
	ck_assert_int_eq(cfg.limits.def.rpm, 20);
	/* A live change is the latest act. */
	ck_assert(am_config_set_from_string(&cfg, "limits.rpm", "10", AM_CFG_RUNTIME, &err) == 0);
	assert_value(&cfg, "limits.rpm", "10", AM_CFG_RUNTIME);

	/* A saved value for a key that no longer exists, or a bad one. */
	ck_assert_int_eq(am_config_restore(&cfg, "limits.gone", "1", &err), -1);
	ck_assert_msg(strstr(err.msg, "unknown key 'limits.gone'"), "%s", err.msg);
	ck_assert_int_eq(am_config_restore(&cfg, "budget.daily_usd", "lots", &err), -1);

	/* A bad strong variable is an error naming it; a bad weak one a warning. */
	char *const badenv[] = {"ANTHROPIC_BASE_URL=localhost:80", NULL};
	ck_assert_int_eq(load(&cfg, "{}", badenv, &err), -1);
	ck_assert_msg(strstr(err.msg, "ANTHROPIC_BASE_URL"), "%s", err.msg);
	char *const badweak[] = {"TZ=Europe/Paris with space", NULL};
	ck_assert(load(&cfg, "{}", badweak, &err) == 0);
	ck_assert(any_warning_contains(&cfg, "TZ ignored"));
	assert_value(&cfg, "timezone", "", AM_CFG_DEFAULT);
}
END_TEST

START_TEST(test_set_from_string)
{
	am_config cfg, before;
	am_err err = {0};
	am_config_init(&cfg);
	ck_assert(am_config_set_from_string(&cfg, "limits.rpm", "50", AM_CFG_RUNTIME, &err) == 0);
	assert_value(&cfg, "limits.rpm", "50", AM_CFG_RUNTIME);
	ck_assert(am_config_set_from_string(&cfg, "budget.daily_usd", "12.50", AM_CFG_RUNTIME,
	                                    &err) == 0);
	assert_value(&cfg, "budget.daily_usd", "12.5", AM_CFG_RUNTIME);
	ck_assert(am_config_set_from_string(&cfg, "budget.alert_pct", "80,95", AM_CFG_RUNTIME,
	                                    &err) == 0);
	assert_value(&cfg, "budget.alert_pct", "[80,95]", AM_CFG_RUNTIME);
	ck_assert(am_config_set_from_string(&cfg, "budget.alert_pct", " 70 , 90", AM_CFG_RUNTIME,
	                                    &err) == 0);
	assert_value(&cfg, "budget.alert_pct", "[70,90]", AM_CFG_RUNTIME);
	ck_assert(
	    am_config_set_from_string(&cfg, "budget.alert_pct", "[50]", AM_CFG_RUNTIME, &err) == 0);
	ck_assert_int_eq(cfg.budget.nalerts, 1);
	ck_assert(am_config_set_from_string(&cfg, "budget.alert_pct", "[]", AM_CFG_RUNTIME, &err) ==
	          0);
	ck_assert_int_eq(cfg.budget.nalerts, 0);
	ck_assert(am_config_set_from_string(&cfg, "cache.enabled", "off", AM_CFG_RUNTIME, &err) ==
	          0);
	assert_value(&cfg, "cache.enabled", "false", AM_CFG_RUNTIME);
	ck_assert(am_config_set_from_string(&cfg, "selector.model", "claude-opus-4-5",
	                                    AM_CFG_RUNTIME, &err) == 0);
	ck_assert_str_eq(cfg.selector.model, "claude-opus-4-5");
	ck_assert(
	    am_config_set_from_string(&cfg, "selector.rules",
	                              "[{\"max_chars\":10,\"model\":\"a\"},{\"model\":\"b\"}]",
	                              AM_CFG_RUNTIME, &err) == 0);
	assert_value(&cfg, "selector.rules",
	             "[{\"max_chars\":10,\"model\":\"a\"},{\"model\":\"b\"}]", AM_CFG_RUNTIME);

	/* Bad values and unknown keys change nothing. */
	static const char *const bad[][2] = {
	    {"limits.rpm", "fifty"},    {"limits.rpm", ""},
	    {"limits.rpm", "5 0"},      {"limits.rpm", "99999999999999999999"},
	    {"cache.enabled", "maybe"}, {"budget.alert_pct", "80,x"},
	    {"selector.rules", "[{"},   {"no.such.key", "1"},
	    {"api_key", "sk-ant-x"},    {"limits.pools.p.tpm", "1"},
	    {"ui.color", "AUTO"},       {"budget.daily_usd", "1e3"},
	};
	memcpy(&before, &cfg, sizeof cfg);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_msg(am_config_set_from_string(&cfg, bad[i][0], bad[i][1], AM_CFG_RUNTIME,
		                                        &err) == -1,
		              "accepted %s=%s", bad[i][0], bad[i][1]);
		ck_assert_msg(memcmp(&cfg, &before, sizeof cfg) == 0, "%s changed the config",
		              bad[i][0]);
	}
	ck_assert_int_eq(am_config_validate("limits.rpm", "abc", &err), -1);
	ck_assert_msg(strstr(err.msg, "limits.rpm: 'abc' is not a whole number"), "%s", err.msg);
	ck_assert_int_eq(am_config_validate("limits.rpm", "10", &err), 0);
	ck_assert_int_eq(am_config_get_string(&cfg, "nope", NULL, NULL, &err), -1);
	ck_assert_msg(strstr(err.msg, "unknown key 'nope'"), "%s", err.msg);
}
END_TEST

START_TEST(test_pools_and_model_map)
{
	am_config cfg;
	am_err err = {0};
	am_config_limits l;
	unsigned mask;
	const char *json =
	    "{\"limits\": {\"rpm\": 100, \"pools\": {\"opus-4\": {\"rpm\": 1000,"
	    " \"max_in_flight\": 8}},"
	    " \"model_pools\": {\"claude-opus-*\": \"opus-4\", \"claude-opus-4-5-x\": \"other\","
	    " \"claude-*\": \"wide\"}}}";
	ck_assert_msg(load(&cfg, json, NULL, &err) == 0, "%s", err.msg);
	am_config_pool_limits(&cfg, "opus-4", &l, &mask);
	ck_assert_int_eq(l.rpm, 1000); /* the pool's own, over limits.rpm (same source) */
	ck_assert_int_eq(l.itpm, 30000);
	ck_assert_int_eq(l.max_in_flight, 8);
	ck_assert_uint_eq(mask, (1u << AM_LIM_RPM) | (1u << AM_LIM_MAX_IN_FLIGHT));
	am_config_pool_limits(&cfg, "sonnet-4", &l, &mask);
	ck_assert_int_eq(l.rpm, 100);
	ck_assert_uint_eq(mask, 1u << AM_LIM_RPM);
	am_config_pool_limits(&cfg, NULL, &l, NULL);
	ck_assert_int_eq(l.rpm, 100);
	assert_value(&cfg, "limits.pools.opus-4.rpm", "1000", AM_CFG_FILE);
	assert_value(&cfg, "limits.pools.opus-4.otpm", "8000", AM_CFG_DEFAULT);
	assert_value(&cfg, "limits.pools.opus-4", "{\"rpm\":1000,\"max_in_flight\":8}",
	             AM_CFG_FILE);

	/* "/rpm 10" at run time reaches the pool set in the file. */
	ck_assert(am_config_set_from_string(&cfg, "limits.rpm", "10", AM_CFG_RUNTIME, &err) == 0);
	am_config_pool_limits(&cfg, "opus-4", &l, NULL);
	ck_assert_int_eq(l.rpm, 10);
	assert_value(&cfg, "limits.pools.opus-4.rpm", "10", AM_CFG_RUNTIME);
	/* A run-time change to the pool itself wins again. */
	ck_assert(am_config_set_from_string(&cfg, "limits.pools.opus-4.rpm", "30", AM_CFG_RUNTIME,
	                                    &err) == 0);
	am_config_pool_limits(&cfg, "opus-4", &l, NULL);
	ck_assert_int_eq(l.rpm, 30);
	ck_assert_int_eq(l.max_in_flight, 8); /* merged, not replaced */
	/* A new pool from text. */
	ck_assert(am_config_set_from_string(&cfg, "limits.pools.haiku-4.otpm", "5", AM_CFG_FLAG,
	                                    &err) == 0);
	ck_assert_int_eq(cfg.limits.npools, 2);

	ck_assert_str_eq(am_config_pool_of_model(&cfg, "claude-opus-4-5"), "opus-4");
	ck_assert_str_eq(am_config_pool_of_model(&cfg, "claude-opus-4-5-x"), "other");
	ck_assert_str_eq(am_config_pool_of_model(&cfg, "claude-sonnet-4-5"), "wide");
	ck_assert_ptr_null(am_config_pool_of_model(&cfg, "gpt-4"));
	ck_assert(am_config_set_from_string(&cfg, "limits.model_pools.claude-*", "", AM_CFG_RUNTIME,
	                                    &err) == 0);
	ck_assert_ptr_null(am_config_pool_of_model(&cfg, "claude-sonnet-4-5"));
	ck_assert_int_eq(cfg.limits.nmodel_pools, 2);
	ck_assert(am_config_set_from_string(&cfg, "limits.model_pools.claude-3.5-x", "legacy",
	                                    AM_CFG_RUNTIME, &err) == 0);
	assert_value(&cfg, "limits.model_pools.claude-3.5-x", "legacy", AM_CFG_RUNTIME);

	/* At most AM_CONFIG_MAX_POOLS pools. */
	for (int i = 0; i < AM_CONFIG_MAX_POOLS - 2; i++) {
		char key[64];
		snprintf(key, sizeof key, "limits.pools.p%d.rpm", i);
		ck_assert(am_config_set_from_string(&cfg, key, "1", AM_CFG_RUNTIME, &err) == 0);
	}
	ck_assert_int_eq(
	    am_config_set_from_string(&cfg, "limits.pools.one-more.rpm", "1", AM_CFG_RUNTIME, &err),
	    -1);
	ck_assert_msg(strstr(err.msg, "at most"), "%s", err.msg);
}
END_TEST

/* budget.tags: exact USD per tag from strings and numbers, one row per
 * tag, dynamic keys to set and remove one, and clear errors. */
START_TEST(test_tag_budgets)
{
	am_config cfg;
	am_err err = {0};
	ck_assert_msg(load(&cfg, "{\"budget\": {\"tags\": {\"nightly-evals\": \"5\","
	                         " \"app:web\": 0.000000000001, \"ci\": 3, \"_note\": \"x\"}}}",
	                   NULL, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(cfg.budget.ntags, 3);
	ck_assert_str_eq(cfg.budget.tag[0].tag, "nightly-evals");
	ck_assert_int_eq(cfg.budget.tag[0].daily_pusd, 5 * AM_PUSD_PER_USD);
	ck_assert_int_eq(cfg.budget.tag[1].daily_pusd, 1);
	ck_assert_int_eq(cfg.budget.tag[2].daily_pusd, 3 * AM_PUSD_PER_USD);
	assert_value(&cfg, "budget.tags", "{\"nightly-evals\":\"5\",\"app:web\":\"0.000000000001\","
	             "\"ci\":\"3\"}", AM_CFG_FILE);
	assert_value(&cfg, "budget.tags.ci", "3", AM_CFG_FILE);
	ck_assert(am_config_set_from_string(&cfg, "budget.tags.ci", "7.25", AM_CFG_RUNTIME, &err) ==
	          0);
	assert_value(&cfg, "budget.tags.ci", "7.25", AM_CFG_RUNTIME);
	ck_assert(am_config_set_from_string(&cfg, "budget.tags.app:web", "0", AM_CFG_RUNTIME, &err) ==
	          0);
	ck_assert_int_eq(cfg.budget.ntags, 2);
	ck_assert(am_config_set_from_string(&cfg, "budget.tags", "{\"ci\": \"\"}", AM_CFG_RUNTIME,
	                                    &err) == 0);
	ck_assert_int_eq(cfg.budget.ntags, 1);
	ck_assert_str_eq(cfg.budget.tag[0].tag, "nightly-evals");

	static const struct {
		const char *json, *needle;
	} bad[] = {
	    {"{\"budget\": {\"tags\": [\"x\"]}}", "expected an object"},
	    {"{\"budget\": {\"tags\": {\"two words\": \"1\"}}}", "not a tag"},
	    {"{\"budget\": {\"tags\": {\"t\": \"-1\"}}}", "budget.tags.t"},
	    {"{\"budget\": {\"tags\": {\"t\": \"abc\"}}}", "budget.tags.t"},
	    {"{\"budget\": {\"tags\": {\"t\": true}}}", "budget.tags.t"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_msg(load(&cfg, bad[i].json, NULL, &err) == -1, "accepted %s", bad[i].json);
		ck_assert_msg(strstr(err.msg, bad[i].needle), "%s -> %s", bad[i].json, err.msg);
	}
	ck_assert_int_eq(am_config_validate("budget.tags.x y", "1", &err), -1);
	ck_assert_int_eq(am_config_validate("budget.tags.ok", "1.5", &err), 0);
}
END_TEST

/* ---- the key ----------------------------------------------------------------- */

START_TEST(test_api_key_file_and_mode_warning)
{
	am_config cfg;
	am_err err = {0};
	char path[300],
	    json[400], *const env_key[] = {"ANTHROPIC_API_KEY=sk-ant-env-ENVSECRETENV-wxyz", NULL};
	const char *secret = "sk-ant-file-FILESECRETFILE-abcd";
	snprintf(path, sizeof path, "%s/key", tmpdir);
	write_file(path, "  sk-ant-file-FILESECRETFILE-abcd\n", 0644);
	snprintf(json, sizeof json, "{\"api_key_file\": \"%s\"}", path);

	ck_assert_msg(load(&cfg, json, NULL, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(cfg.api_key, secret);
	ck_assert_int_eq(cfg.api_key_src, AM_CFG_FILE);
	ck_assert_int_eq(am_config_nwarnings(&cfg), 1);
	ck_assert_msg(strstr(am_config_warning(&cfg, 0), "mode 0644"), "%s",
	              am_config_warning(&cfg, 0));
	ck_assert(strstr(am_config_warning(&cfg, 0), path));
	ck_assert(!any_warning_contains(&cfg, "FILESECRET"));

	ck_assert_int_eq(chmod(path, 0600), 0);
	ck_assert(load(&cfg, json, NULL, &err) == 0);
	ck_assert_int_eq(am_config_nwarnings(&cfg), 0);
	ck_assert_str_eq(cfg.api_key, secret);

	/* The environment's key wins, as in the SDKs. */
	ck_assert(load(&cfg, json, env_key, &err) == 0);
	ck_assert_str_eq(cfg.api_key, "sk-ant-env-ENVSECRETENV-wxyz");
	ck_assert_int_eq(cfg.api_key_src, AM_CFG_ENV);

	/* Relative to the config file's directory; "~/" is HOME. */
	char cfgpath[300], home_env[300];
	snprintf(cfgpath, sizeof cfgpath, "%s/cfg.json", tmpdir);
	write_file(cfgpath, "{\"api_key_file\": \"key\"}", 0600);
	am_config_load_opts o = {.path = cfgpath, .envp = noenv};
	ck_assert_msg(am_config_load(&cfg, &o, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(cfg.api_key_file, path);
	ck_assert_str_eq(cfg.api_key, secret);
	snprintf(home_env, sizeof home_env, "HOME=%s", tmpdir);
	char *const home[] = {home_env, NULL};
	ck_assert(load(&cfg, "{\"api_key_file\": \"~/key\"}", home, &err) == 0);
	ck_assert_str_eq(cfg.api_key_file, path);

	/* Failures name the file, never the key. */
	ck_assert_int_eq(load(&cfg, "{\"api_key_file\": \"/nonexistent/key\"}", NULL, &err), -1);
	ck_assert_msg(strstr(err.msg, "/nonexistent/key"), "%s", err.msg);
	write_file(path, "\n\n", 0600);
	ck_assert_int_eq(load(&cfg, json, NULL, &err), -1);
	ck_assert_msg(strstr(err.msg, "is empty"), "%s", err.msg);
	write_file(path, "sk-ant-TWO WORDS-SECRETSECRET", 0600);
	ck_assert_int_eq(load(&cfg, json, NULL, &err), -1);
	ck_assert_msg(strstr(err.msg, "space or a control character"), "%s", err.msg);
	ck_assert(!strstr(err.msg, "SECRETSECRET"));
	char *const crlf[] = {"ANTHROPIC_API_KEY=sk-ant-abc\r\nX-Evil: 1", NULL};
	ck_assert_int_eq(load(&cfg, "{}", crlf, &err), -1);
	ck_assert(!strstr(err.msg, "Evil"));

	/* Setting api_key_file later reads it now. */
	write_file(path, secret, 0600);
	am_config_init(&cfg);
	ck_assert(am_config_set_from_string(&cfg, "api_key_file", path, AM_CFG_FLAG, &err) == 0);
	ck_assert_str_eq(cfg.api_key, secret);
	am_config_wipe(&cfg);
	ck_assert_str_eq(cfg.api_key, "");
}
END_TEST

START_TEST(test_mask_never_shows_the_middle)
{
	char buf[64];
	am_config_mask("sk-ant-test-SECRETSECRET-1234", buf, sizeof buf);
	ck_assert_str_eq(buf, "sk-ant-...1234");
	am_config_mask(NULL, buf, sizeof buf);
	ck_assert_str_eq(buf, "(not set)");
	am_config_mask("", buf, sizeof buf);
	ck_assert_str_eq(buf, "(not set)");
	am_config_mask("short", buf, sizeof buf);
	ck_assert_str_eq(buf, "(hidden)");
	am_config_mask("0123456789abcdef", buf, sizeof buf);
	ck_assert_str_eq(buf, "...ef");
	am_config_mask("sk-ant-\x01\x02\x03-0123456789012345-ab\x7f!", buf, sizeof buf);
	ck_assert_str_eq(buf, "sk-ant-...ab??");
	am_config_mask("sk-ant-test-SECRETSECRET-1234", buf, 5);
	ck_assert_str_eq(buf, "sk-a");

	/* Any key: what is shown is at most its first 7 and last 4 characters. */
	srand(7);
	for (int t = 0; t < 2000; t++) {
		char key[201];
		int len = rand() % 200;
		for (int i = 0; i < len; i++)
			key[i] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
			    [rand() % 64];
		key[len] = '\0';
		am_config_mask(key, buf, sizeof buf);
		size_t shown = 0;
		for (char *p = buf; *p; p++)
			shown += *p != '.';
		if (len == 0) {
			ck_assert_str_eq(buf, "(not set)");
		} else if (len < 12) {
			ck_assert_str_eq(buf, "(hidden)");
		} else {
			ck_assert_uint_le(shown, len >= 24 ? 11 : 2);
			ck_assert_uint_ge((size_t)len - shown, 10); /* most of it stays hidden */
			const char *dots = strstr(buf, "...");
			ck_assert_ptr_nonnull(dots);
			ck_assert(!strncmp(buf, key, (size_t)(dots - buf)));
			ck_assert_str_eq(dots + 3, key + len - strlen(dots + 3));
		}
	}
}
END_TEST

/* The printed and JSON forms show the key masked and nothing of its middle. */
START_TEST(test_print_and_json)
{
	am_config cfg;
	am_err err = {0};
	char *const env[] = {"ANTHROPIC_API_KEY=sk-ant-test-SECRETSECRET-1234",
	                     "ANTHROPIC_BASE_URL=http://127.0.0.1:1", NULL};
	ck_assert(load(&cfg,
	               "{\"limits\": {\"pools\": {\"opus-4\": {\"rpm\": 7}},"
	               " \"model_pools\": {\"claude-opus-*\": \"opus-4\"}}}",
	               env, &err) == 0);
	ck_assert(am_config_restore(&cfg, "budget.daily_usd", "3.5", &err) == 1);
	ck_assert(am_config_set_from_string(&cfg, "worker.concurrency", "9", AM_CFG_FLAG, &err) ==
	          0);
	char *out = print_to_string(&cfg);
	ck_assert(!strstr(out, "SECRET"));
	ck_assert_msg(strstr(out, "sk-ant-...1234"), "%s", out);
	ck_assert(strstr(out, "env ANTHROPIC_API_KEY"));
	ck_assert(strstr(out, "env ANTHROPIC_BASE_URL"));
	ck_assert(strstr(out, "changed at run time"));
	ck_assert(strstr(out, "limits.pools.opus-4.rpm"));
	ck_assert(strstr(out, "limits.model_pools.claude-opus-*"));
	ck_assert(strstr(out, "(none)")); /* api_key_file "" */
	/* Every key has a row, and the value and source columns line up. */
	for (size_t i = 0; i < am_config_key_count(); i++) {
		const char *name = am_config_key_at(i)->name;
		if (strcmp(name, "limits.pools") && strcmp(name, "limits.model_pools")) {
			char needle[128];
			snprintf(needle, sizeof needle, "\n%s ", name);
			ck_assert_msg(strstr(out, needle), "no row for %s", name);
		}
	}
	const char *hdr = strstr(out, "KEY ");
	ck_assert_ptr_nonnull(hdr);
	size_t scol = (size_t)(strstr(hdr, "SOURCE") - hdr),
	       vcol = (size_t)(strstr(hdr, "VALUE") - hdr);
	for (const char *line = hdr; *line; line = strchr(line, '\n') + 1) {
		ck_assert_msg(strchr(line, '\n') - line > (long)vcol, "short row: %.60s", line);
		const size_t cols[2] = {scol, vcol};
		for (int c = 0; c < 2; c++)
			ck_assert_msg(line[cols[c] - 1] == ' ' && line[cols[c] - 2] == ' ' &&
			                  line[cols[c]] != ' ',
			              "misaligned at %zu: %.90s", cols[c], line);
	}
	const char *row = strstr(out, "\nworker.concurrency ");
	ck_assert_ptr_nonnull(row);
	ck_assert_msg(!strncmp(row + 1 + scol, "flag ", 5), "%.80s", row + 1);
	ck_assert(!strncmp(row + 1 + vcol, "9\n", 2));
	row = strstr(out, "\nbudget.daily_usd ");
	ck_assert(row && !strncmp(row + 1 + scol, "changed at run time ", 20));
	ck_assert(!strncmp(row + 1 + vcol, "3.5\n", 4));
	free(out);

	json_t *j = am_config_to_json(&cfg);
	char *s = json_dumps(j, JSON_COMPACT);
	ck_assert(!strstr(s, "SECRET"));
	ck_assert_msg(strstr(s, "\"api_key\":{\"value\":\"sk-ant-...1234\",\"source\":\"env\","
	                        "\"env\":\"ANTHROPIC_API_KEY\"}"),
	              "%s", s);
	ck_assert(strstr(s, "\"budget.daily_usd\":{\"value\":\"3.5\",\"source\":\"runtime\"}"));
	ck_assert(strstr(s, "\"limits.rpm\":{\"value\":50,\"source\":\"default\"}"));
	ck_assert(strstr(s, "\"worker.concurrency\":{\"value\":9,\"source\":\"flag\"}"));
	free(s);
	json_decref(j);
}
END_TEST

/* ---- files on disk --------------------------------------------------------------- */

START_TEST(test_load_paths)
{
	am_config cfg;
	am_err err = {0};
	am_config_load_opts o = {.envp = noenv};

	/* The default path may be missing: defaults. */
	ck_assert_msg(am_config_load(&cfg, &o, &err) == 0, "%s", err.msg);
	ck_assert(!cfg.file_loaded);
	char want[300];
	snprintf(want, sizeof want, "%s/xdgconfig/aimeter/config.json", tmpdir);
	ck_assert_str_eq(cfg.file, want);
	char *out = print_to_string(&cfg);
	ck_assert(strstr(out, "not found: defaults apply"));
	free(out);

	/* ... and is read when present. */
	char dir[300];
	snprintf(dir, sizeof dir, "%s/xdgconfig/aimeter", tmpdir);
	snprintf(want, sizeof want, "%s/xdgconfig", tmpdir);
	ck_assert_int_eq(mkdir(want, 0700), 0);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	snprintf(want, sizeof want, "%s/config.json", dir);
	write_file(want, "{\"sim\": {\"seed\": 42}}", 0600);
	ck_assert(am_config_load(&cfg, &o, &err) == 0);
	ck_assert(cfg.file_loaded);
	ck_assert_int_eq(cfg.sim.seed, 42);

	/* --config and AIMETER_CONFIG must exist. */
	o.path = "/nonexistent/aimeter.json";
	ck_assert_int_eq(am_config_load(&cfg, &o, &err), -1);
	ck_assert_msg(strstr(err.msg, "/nonexistent/aimeter.json: no such file (from --config)"),
	              "%s", err.msg);
	char *const env[] = {"AIMETER_CONFIG=/nonexistent/env.json", NULL};
	o.path = NULL;
	o.envp = env;
	ck_assert_int_eq(am_config_load(&cfg, &o, &err), -1);
	ck_assert_msg(strstr(err.msg, "AIMETER_CONFIG"), "%s", err.msg);
	o.path = tmpdir; /* a directory */
	ck_assert_int_eq(am_config_load(&cfg, &o, &err), -1);
	ck_assert_msg(strstr(err.msg, "not a regular file"), "%s", err.msg);
}
END_TEST

START_TEST(test_timezone_names)
{
	am_config cfg;
	am_err err = {0};
	char zdir[300], zfile[340], tzdir_env[320];
	snprintf(zdir, sizeof zdir, "%s/zoneinfo", tmpdir);
	ck_assert_int_eq(mkdir(zdir, 0700), 0);
	snprintf(zfile, sizeof zfile, "%s/Europe", zdir);
	ck_assert_int_eq(mkdir(zfile, 0700), 0);
	snprintf(zfile, sizeof zfile, "%s/Europe/Paris", zdir);
	write_file(zfile, "TZif", 0600);
	snprintf(tzdir_env, sizeof tzdir_env, "TZDIR=%s", zdir);
	char *const env[] = {tzdir_env, NULL};

	ck_assert_msg(load(&cfg, "{\"timezone\": \"Europe/Paris\"}", env, &err) == 0, "%s",
	              err.msg);
	ck_assert_str_eq(cfg.timezone, "Europe/Paris");
	ck_assert(load(&cfg, "{\"timezone\": \"UTC\"}", env, &err) == 0);
	ck_assert(load(&cfg, "{\"timezone\": \"CET-1CEST,M3.5.0,M10.5.0/3\"}", env, &err) == 0);
	ck_assert_int_eq(load(&cfg, "{\"timezone\": \"Europe/Pariss\"}", env, &err), -1);
	ck_assert_msg(strstr(err.msg, "unknown time zone 'Europe/Pariss'"), "%s", err.msg);
	ck_assert_int_eq(load(&cfg, "{\"timezone\": \"../../etc/passwd\"}", env, &err), -1);
}
END_TEST

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	char *buf = malloc(1 << 20);
	size_t n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void example_path(char *buf, size_t n)
{
	const char *src = getenv("AIMETER_SOURCE_DIR");
	snprintf(buf, n, "%s/data/config.example.json", src ? src : AIMETER_SOURCE_DIR);
}

/* The shipped example names every key, loads with no warning, and holds
 * exactly the defaults. */
START_TEST(test_example_file)
{
	am_config ex, def;
	am_err err = {0};
	char path[1024];
	example_path(path, sizeof path);
	am_config_load_opts o = {.path = path, .envp = noenv};
	ck_assert_msg(am_config_load(&ex, &o, &err) == 0, "%s", err.msg);
	for (int i = 0; i < am_config_nwarnings(&ex); i++)
		ck_abort_msg("warning: %s", am_config_warning(&ex, i));
	ck_assert(ex.file_loaded);
	am_config_init(&def);
	for (size_t i = 0; i < am_config_key_count(); i++) {
		const char *name = am_config_key_at(i)->name;
		am_config_source src;
		char *a = get(&ex, name, &src), *b = get(&def, name, NULL);
		ck_assert_msg(src == AM_CFG_FILE, "%s is not in the example", name);
		ck_assert_msg(!strcmp(a, b), "%s: example '%s', default '%s'", name, a, b);
		free(a);
		free(b);
	}
}
END_TEST

/* Mangled versions of the example never crash the loader (ASan watches),
 * and each either loads or says why. */
START_TEST(test_mutations_do_not_crash)
{
	char path[1024];
	example_path(path, sizeof path);
	char *text = read_all(path);
	size_t len = strlen(text);
	char *buf = malloc(len + 1);
	static const char junk[] = "{}[],:\"\\0123456789.eE-+ tfn_\n\xff";
	srand(11);
	for (int t = 0; t < 1500; t++) {
		memcpy(buf, text, len + 1);
		size_t cut = len;
		int edits = 1 + rand() % 4;
		for (int e = 0; e < edits; e++) {
			size_t at = (size_t)rand() % len;
			if (rand() % 5 == 0)
				cut = at;
			else
				buf[at] = junk[rand() % (sizeof junk - 1)];
		}
		am_config cfg;
		am_err err = {0};
		if (am_config_load_text(&cfg, buf, cut, "m.json", noenv, &err) != 0)
			ck_assert_msg(err.msg[0] != '\0', "failed without a reason");
	}
	free(buf);
	free(text);
}
END_TEST

/* The Redis keys: the URL from the file or AIMETER_REDIS_URL, its password
 * never shown, the failure mode an enum. */
START_TEST(test_redis_keys)
{
	am_config c;
	am_err err = {0};
	ck_assert_msg(load(&c, "{\"redis\":{\"url\":\"redis://ops:hunter22@10.1.2.3:6380/2\","
	                       "\"on_failure\":\"local\",\"local_share_pct\":50}}",
	                   NULL, &err) == 0,
	              "%s", err.msg);
	ck_assert_str_eq(c.redis.url, "redis://ops:hunter22@10.1.2.3:6380/2");
	ck_assert_int_eq(c.redis.on_failure, AM_REDIS_LOCAL);
	ck_assert_int_eq(c.redis.local_share_pct, 50);
	char *shown = get(&c, "redis.url", NULL);
	ck_assert_str_eq(shown, "redis://ops:(hidden)@10.1.2.3:6380/2");
	free(shown);
	char buf[8192];
	FILE *f = fmemopen(buf, sizeof buf, "w");
	am_config_print(&c, f);
	fclose(f);
	ck_assert_ptr_null(strstr(buf, "hunter22"));
	ck_assert_int_eq(load(&c, "{\"redis\":{\"url\":\"http://x\"}}", NULL, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "redis.url"));
	ck_assert_int_eq(load(&c, "{\"redis\":{\"on_failure\":\"ignore\"}}", NULL, &err), -1);
	char *env[] = {(char *)"AIMETER_REDIS_URL=redis://127.0.0.1:7777", NULL};
	ck_assert_msg(load(&c, "{}", env, &err) == 0, "%s", err.msg);
	assert_value(&c, "redis.url", "redis://127.0.0.1:7777", AM_CFG_ENV);
	assert_value(&c, "redis.prefix", "aimeter:", AM_CFG_DEFAULT);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_redis_keys);
	tcase_add_test(tc, test_every_key_round_trips);
	tcase_add_test(tc, test_file_values_and_sources);
	tcase_add_test(tc, test_dotted_keys_and_comments);
	tcase_add_test(tc, test_bad_json_has_line_and_column);
	tcase_add_test(tc, test_bad_json_file_names_path);
	tcase_add_test(tc, test_unknown_keys_warn);
	tcase_add_test(tc, test_wrong_types_and_ranges);
	tcase_add_test(tc, test_money_exact);
	tcase_add_test(tc, test_precedence);
	tcase_add_test(tc, test_set_from_string);
	tcase_add_test(tc, test_pools_and_model_map);
	tcase_add_test(tc, test_tag_budgets);
	tcase_add_test(tc, test_api_key_file_and_mode_warning);
	tcase_add_test(tc, test_mask_never_shows_the_middle);
	tcase_add_test(tc, test_print_and_json);
	tcase_add_test(tc, test_load_paths);
	tcase_add_test(tc, test_timezone_names);
	tcase_add_test(tc, test_example_file);
	tcase_add_test(tc, test_mutations_do_not_crash);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(config_suite());
}
