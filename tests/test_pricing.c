/* test_pricing: loading the shipped table, the override overlay, error
 * messages, exact JSON number text (jsonlex), and LiteLLM import. */
#include <check.h>
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_run.h"
#include "jsonlex.h"
#include "litellm.h"
#include "pricing.h"

/* ---- fixtures ------------------------------------------------------------ */

static char tmpdir[256];
static char shipped[512];

static const char *src_dir(void)
{
	const char *s = getenv("AIMETER_SOURCE_DIR");
	return s ? s : AIMETER_SOURCE_DIR;
}

static void setup(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/aimeter-test-pricing-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(shipped, sizeof shipped, "%s/data/pricing.json", src_dir());
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void teardown(void)
{
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes `text` to tmpdir/name and returns the path (static buffer per
 * call site is not needed: callers copy). */
static void write_file(const char *name, const char *text, char *path, size_t n)
{
	snprintf(path, n, "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static am_pricing *load_with(const char *override_text)
{
	char path[512];
	am_pricing *t = NULL;
	am_err err;
	if (override_text)
		write_file("override.json", override_text, path, sizeof path);
	int rc = am_pricing_load(&t, shipped, override_text ? path : NULL, &err);
	ck_assert_msg(rc == 0, "load: %s", err.msg);
	return t;
}

/* The error message of a load that must fail. */
static void load_fails(const char *shipped_text, const char *override_text, char *msg, size_t n)
{
	char sp[512], op[512];
	if (shipped_text)
		write_file("shipped.json", shipped_text, sp, sizeof sp);
	if (override_text)
		write_file("override.json", override_text, op, sizeof op);
	am_pricing *t = NULL;
	am_err err = {0};
	int rc = am_pricing_load(&t, shipped_text ? sp : shipped, override_text ? op : NULL, &err);
	ck_assert_msg(rc == -1, "load unexpectedly succeeded");
	ck_assert_ptr_null(t);
	snprintf(msg, n, "%s", err.msg);
}

#define assert_has(msg, needle) \
	ck_assert_msg(strstr((msg), (needle)), "'%s' not in: %s", (needle), (msg))

/* The five prices of a row, pUSD per token. */
static void assert_prices(const am_price *p, int64_t in, int64_t out, int64_t w5, int64_t w1,
                          int64_t rd)
{
	ck_assert_ptr_nonnull(p);
	int64_t got[5] = { p->input, p->output, p->cache_write_5m, p->cache_write_1h,
		           p->cache_read };
	int64_t want[5] = { in, out, w5, w1, rd };
	for (int i = 0; i < 5; i++)
		ck_assert_msg(got[i] == want[i], "%s price %d: %lld, want %lld", p->model, i,
		              (long long)got[i], (long long)want[i]);
}

static void assert_long_context(const am_price *p, int64_t above, int64_t in, int64_t out,
                                int64_t w5, int64_t w1, int64_t rd)
{
	ck_assert_int_eq(p->long_context_threshold, above);
	int64_t got[5] = { p->lc_input, p->lc_output, p->lc_cache_write_5m, p->lc_cache_write_1h,
		           p->lc_cache_read };
	int64_t want[5] = { in, out, w5, w1, rd };
	for (int i = 0; i < 5; i++)
		ck_assert_msg(got[i] == want[i], "%s long-context price %d: %lld, want %lld",
		              p->model, i, (long long)got[i], (long long)want[i]);
}

/* ---- the shipped table --------------------------------------------------- */

static const char *const required_ids[] = {
	"claude-opus-4-8",          "claude-opus-4-7",          "claude-opus-4-6",
	"claude-opus-4-5",          "claude-opus-4-5-20251101", "claude-opus-4-1",
	"claude-opus-4-1-20250805", "claude-opus-4-0",          "claude-opus-4-20250514",
	"claude-4-opus-20250514",   "claude-sonnet-4-6",        "claude-sonnet-4-5",
	"claude-sonnet-4-5-20250929", "claude-sonnet-4-0",      "claude-sonnet-4-20250514",
	"claude-4-sonnet-20250514", "claude-haiku-4-5",         "claude-haiku-4-5-20251001",
	"claude-3-5-haiku-latest",  "claude-3-5-haiku-20241022", "claude-3-haiku-20240307",
	"claude-opus-5-5",          "claude-opus-5",            "claude-sonnet-5-5",
	"claude-sonnet-5",          "claude-haiku-5-5",         "claude-fable-5-2",
	"claude-fable-5-1",         "claude-fable-5",
};

START_TEST(test_shipped_has_every_model)
{
	am_pricing *t = load_with(NULL);
	for (size_t i = 0; i < sizeof required_ids / sizeof required_ids[0]; i++)
		ck_assert_msg(am_pricing_lookup(t, required_ids[i]), "%s missing", required_ids[i]);
	ck_assert_uint_eq(am_pricing_count(t), 29);
	ck_assert_str_eq(am_pricing_shipped_path(t), shipped);
	ck_assert_ptr_null(am_pricing_override_path(t));
	for (size_t i = 0; i < am_pricing_count(t); i++) {
		const am_price *p = am_pricing_at(t, i);
		ck_assert_int_eq(p->batch_discount_pct, 50);
		ck_assert_str_eq(p->source, "shipped");
		ck_assert_msg(p->pool[0], "%s has no pool", p->model);
		ck_assert_msg(!strcmp(p->tier, "haiku") || !strcmp(p->tier, "sonnet") ||
		                      !strcmp(p->tier, "opus"),
		              "%s tier '%s'", p->model, p->tier);
		/* The documented multipliers hold for every shipped model but
		 * Haiku 3, whose 5m write ($0.30) and read ($0.03) are rounded up
		 * from $0.3125 and $0.025, and the reads that are cheaper than
		 * 0.1x: Opus 5.5 and Sonnet 5.5 at 0.05x, Fable 5.1 and 5.2 at
		 * 0.025x. */
		ck_assert_int_eq(p->cache_write_1h, p->input * 2);
		if (strcmp(p->model, "claude-3-haiku-20240307"))
			ck_assert_int_eq(p->cache_write_5m * 4, p->input * 5);
		if (!strcmp(p->model, "claude-opus-5-5") || !strcmp(p->model, "claude-sonnet-5-5"))
			ck_assert_int_eq(p->cache_read * 20, p->input);
		else if (!strncmp(p->model, "claude-fable-5-", 15))
			ck_assert_int_eq(p->cache_read * 40, p->input);
		else if (strcmp(p->model, "claude-3-haiku-20240307"))
			ck_assert_int_eq(p->cache_read * 10, p->input);
		if (i)
			ck_assert_int_lt(strcmp(am_pricing_at(t, i - 1)->model, p->model), 0);
	}
	am_pricing_free(t);
}
END_TEST

START_TEST(test_shipped_prices)
{
	am_pricing *t = load_with(NULL);
	const am_price *p = am_pricing_lookup(t, "claude-opus-4-5");
	ck_assert_str_eq(p->canonical, "claude-opus-4-5-20251101");
	/* $5/$25, not the article's $15/$75 */
	assert_prices(p, 5000000, 25000000, 6250000, 10000000, 500000);
	ck_assert_str_eq(p->pool, "opus-4");
	ck_assert_str_eq(p->tier, "opus");
	ck_assert(am_price_is_alias(p));
	ck_assert(!am_price_is_alias(am_pricing_lookup(t, "claude-opus-4-5-20251101")));

	p = am_pricing_lookup(t, "claude-haiku-4-5");
	assert_prices(p, 1000000, 5000000, 1250000, 2000000, 100000); /* not $0.25/$1.25 */
	ck_assert_str_eq(p->pool, "haiku-4-5");

	p = am_pricing_lookup(t, "claude-sonnet-4-5");
	assert_prices(p, 3000000, 15000000, 3750000, 6000000, 300000);
	assert_long_context(p, 200000, 6000000, 22500000, 7500000, 12000000, 600000);
	ck_assert_int_eq(am_pricing_lookup(t, "claude-sonnet-4-0")->long_context_threshold, 200000);
	ck_assert_int_eq(am_pricing_lookup(t, "claude-sonnet-4-6")->long_context_threshold, 0);
	ck_assert_int_eq(am_pricing_lookup(t, "claude-opus-4-6")->long_context_threshold, 0);

	p = am_pricing_lookup(t, "claude-3-haiku-20240307");
	assert_prices(p, 250000, 1250000, 300000, 500000, 30000);
	ck_assert_str_eq(p->deprecation_date, "");

	ck_assert_str_eq(am_pricing_lookup(t, "claude-opus-4-0")->deprecation_date, "2026-05-14");
	ck_assert_str_eq(am_pricing_lookup(t, "claude-opus-4-1")->deprecation_date, "2026-08-05");
	ck_assert_str_eq(am_pricing_lookup(t, "claude-3-5-haiku-latest")->deprecation_date,
	                 "2025-10-01");
	ck_assert_int_eq(am_pricing_lookup(t, "claude-3-5-haiku-latest")->cache_write_1h, 1600000);
	am_pricing_free(t);
}
END_TEST

START_TEST(test_default_paths)
{
	char want[600], buf[600];
	setenv("AIMETER_DATA_DIR", "/opt/x", 1);
	ck_assert_str_eq(am_pricing_default_path(), "/opt/x/pricing.json");
	unsetenv("AIMETER_DATA_DIR");
	snprintf(want, sizeof want, "%s/data/pricing.json", AIMETER_SOURCE_DIR);
	ck_assert_str_eq(am_pricing_default_path(), want);

	ck_assert_int_eq(am_pricing_override_for_config("/a/b/config.json", buf, sizeof buf, NULL),
	                 0);
	ck_assert_str_eq(buf, "/a/b/pricing.json");
	ck_assert_int_eq(am_pricing_override_for_config("config.json", buf, sizeof buf, NULL), 0);
	ck_assert_str_eq(buf, "pricing.json");
	setenv("XDG_CONFIG_HOME", "/cfg", 1);
	ck_assert_int_eq(am_pricing_override_for_config(NULL, buf, sizeof buf, NULL), 0);
	ck_assert_str_eq(buf, "/cfg/aimeter/pricing.json");
	char tiny[8];
	ck_assert_int_eq(am_pricing_override_for_config("/a/b/config.json", tiny, sizeof tiny,
	                                                NULL),
	                 -1);
}
END_TEST

/* ---- the override --------------------------------------------------------- */

START_TEST(test_override_precedence)
{
	am_pricing *t = load_with(
	        "{\"version\": 1, \"models\": {\n"
	        "  \"claude-opus-4-5-20251101\": {\"input\": \"4\"},\n"
	        "  \"claude-sonnet-4-5\": {\"output\": 16},\n"
	        "  \"my-local-model\": {\"input\": \"0.1\", \"output\": 0.2},\n"
	        "  \"claude-opus-4-6-20260205\": {\"input\": \"5\", \"output\": \"25\"},\n"
	        "  \"claude-3-haiku-20240307\": {\"deprecation_date\": \"2026-12-31\",\n"
	        "                               \"long_context\": {\"above_input_tokens\": 1000,\n"
	        "        \"input\": \"1\", \"output\": \"2\", \"cache_write_5m\": \"3\",\n"
	        "        \"cache_write_1h\": \"4\", \"cache_read\": \"5\"}}\n"
	        "}, \"aliases\": {\"fast\": \"claude-haiku-4-5-20251001\",\n"
	        "                 \"local\": \"my-local-model\",\n"
	        "                 \"claude-opus-4-8\": \"claude-opus-4-7\"}}\n");
	ck_assert_ptr_nonnull(am_pricing_override_path(t));

	/* A partial entry replaces only what it names; aliases follow. */
	const am_price *p = am_pricing_lookup(t, "claude-opus-4-5-20251101");
	ck_assert_int_eq(p->input, 4000000);
	ck_assert_int_eq(p->output, 25000000);
	ck_assert_int_eq(p->cache_write_5m, 6250000);
	ck_assert_str_eq(p->source, "override");
	p = am_pricing_lookup(t, "claude-opus-4-5");
	ck_assert_int_eq(p->input, 4000000);
	ck_assert_str_eq(p->source, "override");
	ck_assert_str_eq(p->canonical, "claude-opus-4-5-20251101");

	/* Overriding an alias detaches it from its target. */
	p = am_pricing_lookup(t, "claude-sonnet-4-5");
	ck_assert(!am_price_is_alias(p));
	ck_assert_int_eq(p->output, 16000000);
	ck_assert_int_eq(p->input, 3000000);
	ck_assert_int_eq(p->long_context_threshold, 200000);
	ck_assert_int_eq(am_pricing_lookup(t, "claude-sonnet-4-5-20250929")->output, 15000000);
	ck_assert_str_eq(am_pricing_lookup(t, "claude-sonnet-4-5-20250929")->source, "shipped");

	/* A new model: cache prices by the documented multipliers; a family
	 * guessed from the name. */
	p = am_pricing_lookup(t, "my-local-model");
	assert_prices(p, 100000, 200000, 125000, 200000, 10000);
	ck_assert_int_eq(p->batch_discount_pct, 50);
	ck_assert_str_eq(p->pool, "my-local-model");
	ck_assert_str_eq(p->tier, "");
	p = am_pricing_lookup(t, "claude-opus-4-6-20260205");
	ck_assert_str_eq(p->pool, "opus-4");
	ck_assert_str_eq(p->tier, "opus");

	p = am_pricing_lookup(t, "claude-3-haiku-20240307");
	ck_assert_str_eq(p->deprecation_date, "2026-12-31");
	assert_long_context(p, 1000, 1000000, 2000000, 3000000, 4000000, 5000000);
	ck_assert_int_eq(p->input, 250000);

	/* Override aliases: new, and replacing a shipped model. */
	p = am_pricing_lookup(t, "fast");
	ck_assert_str_eq(p->canonical, "claude-haiku-4-5-20251001");
	ck_assert_int_eq(p->input, 1000000);
	ck_assert_str_eq(p->source, "override");
	ck_assert_str_eq(am_pricing_lookup(t, "claude-opus-4-8")->canonical, "claude-opus-4-7");
	p = am_pricing_lookup(t, "local"); /* an alias of a model whose family was guessed */
	ck_assert_str_eq(p->pool, "my-local-model");
	ck_assert_int_eq(p->cache_read, 10000);

	ck_assert_str_eq(am_pricing_lookup(t, "claude-opus-4-6")->source, "shipped");
	am_pricing_free(t);
}
END_TEST

START_TEST(test_override_missing_is_fine)
{
	char path[600];
	snprintf(path, sizeof path, "%s/no/such/pricing.json", tmpdir);
	am_pricing *t;
	am_err err;
	ck_assert_int_eq(am_pricing_load(&t, shipped, path, &err), 0);
	ck_assert_ptr_null(am_pricing_override_path(t));
	ck_assert_uint_eq(am_pricing_count(t), 29);
	am_pricing_free(t);
}
END_TEST

START_TEST(test_override_null_removes_long_context)
{
	am_pricing *t = load_with("{\"version\":1,\"models\":{\"claude-sonnet-4-5-20250929\":"
	                          "{\"long_context\":null}}}");
	ck_assert_int_eq(am_pricing_lookup(t, "claude-sonnet-4-5")->long_context_threshold, 0);
	ck_assert_int_eq(am_pricing_lookup(t, "claude-sonnet-4-0")->long_context_threshold,
	                 200000);
	am_pricing_free(t);
}
END_TEST

START_TEST(test_bad_json_names_line_and_column)
{
	char msg[AM_ERR_MAX], want[600];
	load_fails(NULL,
	           "{\n"
	           "  \"version\": 1,\n"
	           "  \"models\": {\n"
	           "    \"x\": {\"input\": \"1\",}\n"
	           "  }\n"
	           "}\n",
	           msg, sizeof msg);
	snprintf(want, sizeof want, "%s/override.json:4:", tmpdir);
	assert_has(msg, want);
	int line = 0, col = 0;
	const char *p = strstr(msg, "override.json:");
	ck_assert_int_eq(sscanf(p, "override.json:%d:%d:", &line, &col), 2);
	ck_assert_int_eq(line, 4);
	ck_assert_int_eq(col, 24); /* the '}' after the trailing comma */

	load_fails("{\"version\": 1, \"models\": {}", NULL, msg, sizeof msg);
	assert_has(msg, "shipped.json:1:");

	/* Duplicate keys are a mistake in a price file. */
	load_fails(NULL, "{\"version\":1,\n\"version\":1}", msg, sizeof msg);
	assert_has(msg, "override.json:2:");
	assert_has(msg, "duplicate");
}
END_TEST

struct bad_case {
	const char *override;
	const char *needle;
};

static const struct bad_case bad_overrides[] = {
	{ "{\"version\":1,\"models\":{\"claude-opus-4-6\":{\"inptu\":\"5\"}}}", "'inptu'" },
	{ "{\"version\":1,\"models\":{\"claude-opus-4-6\":{\"input\":\"5x\"}}}",
	  "models.\"claude-opus-4-6\": input" },
	{ "{\"version\":1,\"models\":{\"claude-opus-4-6\":{\"input\":\"0.0000001\"}}}", "finer" },
	{ "{\"version\":1,\"models\":{\"claude-opus-4-6\":{\"input\":\"-1\"}}}", "negative" },
	{ "{\"version\":1,\"models\":{\"claude-opus-4-6\":{\"input\":true}}}", "input" },
	{ "{\"version\":1,\"models\":{\"claude-opus-4-6\":{\"tier\":\"gpt\"}}}", "tier" },
	{ "{\"version\":1,\"models\":{\"claude-opus-4-6\":{\"deprecation_date\":\"2026-13-01\"}}}",
	  "deprecation_date" },
	{ "{\"version\":1,\"models\":{\"claude-opus-4-6\":{\"batch_discount_pct\":101}}}",
	  "batch_discount_pct" },
	{ "{\"version\":1,\"models\":{\"claude-opus-4-6\":{\"long_context\":"
	  "{\"above_input_tokens\":10,\"input\":\"1\"}}}}",
	  "long_context: output is missing" },
	{ "{\"version\":1,\"models\":{\"new-model\":{\"input\":\"1\"}}}", "output is missing" },
	{ "{\"version\":1,\"models\":{\"new-model\":{\"input\":\"0.000001\",\"output\":\"1\"}}}",
	  "cache_write_5m: cannot be derived" },
	{ "{\"version\":1,\"models\":{\"bad id\":{\"input\":\"1\",\"output\":\"1\"}}}", "bad id" },
	{ "{\"version\":1,\"aliases\":{\"a\":\"nowhere\"}}", "points to unknown model" },
	{ "{\"version\":1,\"aliases\":{\"a\":\"b\",\"b\":\"a\"}}", "cycle" },
	{ "{\"version\":1,\"models\":{\"m\":{\"input\":\"1\",\"output\":\"1\"}},"
	  "\"aliases\":{\"m\":\"claude-opus-4-6\"}}",
	  "both a model and an alias" },
	{ "{\"version\":2}", "newer" },
	{ "{\"models\":{}}", "\"version\" is missing" },
	{ "{\"version\":1,\"format\":\"other\"}", "format" },
	{ "{\"version\":1,\"colour\":\"red\"}", "'colour'" },
	{ "[1,2]", "expected a JSON object" },
};

START_TEST(test_bad_override_entries)
{
	const struct bad_case *c = &bad_overrides[_i];
	char msg[AM_ERR_MAX];
	load_fails(NULL, c->override, msg, sizeof msg);
	assert_has(msg, c->needle);
	assert_has(msg, "override.json");
}
END_TEST

START_TEST(test_shipped_must_be_complete)
{
	char msg[AM_ERR_MAX];
	load_fails("{\"version\":1,\"models\":{\"m\":{\"input\":\"1\",\"output\":\"2\","
	           "\"cache_write_5m\":\"1.25\",\"cache_write_1h\":\"2\",\"batch_discount_pct\":50,"
	           "\"pool\":\"p\",\"tier\":\"\"}}}",
	           NULL, msg, sizeof msg);
	assert_has(msg, "cache_read is missing");
	load_fails("{\"version\":1}", NULL, msg, sizeof msg);
	assert_has(msg, "\"models\" is missing");

	char sp[512];
	write_file("shipped.json",
	           "{\"version\":1,\"models\":{\"m\":{\"input\":\"1\",\"output\":\"2\","
	           "\"cache_write_5m\":\"1.25\",\"cache_write_1h\":\"2\",\"cache_read\":0.1,"
	           "\"batch_discount_pct\":50,\"pool\":\"p\",\"tier\":\"\"}}}",
	           sp, sizeof sp);
	am_pricing *t;
	am_err err;
	ck_assert_msg(am_pricing_load(&t, sp, NULL, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(am_pricing_lookup(t, "m")->cache_read, 100000);
	am_pricing_free(t);
}
END_TEST

START_TEST(test_missing_shipped_file)
{
	char path[600], msg[AM_ERR_MAX];
	snprintf(path, sizeof path, "%s/absent.json", tmpdir);
	am_pricing *t;
	am_err err;
	ck_assert_int_eq(am_pricing_load(&t, path, NULL, &err), -1);
	snprintf(msg, sizeof msg, "%s", err.msg);
	assert_has(msg, path);
}
END_TEST

START_TEST(test_price_to_json_round_trip)
{
	am_pricing *t = load_with(NULL);
	for (size_t i = 0; i < am_pricing_count(t); i++) {
		const am_price *p = am_pricing_at(t, i);
		json_t *o = am_price_to_json(p);
		json_t *doc = json_pack("{s:i, s:{s:o}}", "version", 1, "models", "x", o);
		char *text = json_dumps(doc, 0);
		json_decref(doc);
		char path[512];
		write_file("override.json", text, path, sizeof path);
		free(text);
		am_pricing *u;
		am_err err;
		ck_assert_msg(am_pricing_load(&u, shipped, path, &err) == 0, "%s", err.msg);
		const am_price *q = am_pricing_lookup(u, "x");
		assert_prices(q, p->input, p->output, p->cache_write_5m, p->cache_write_1h,
		              p->cache_read);
		assert_long_context(q, p->long_context_threshold, p->lc_input, p->lc_output,
		                    p->lc_cache_write_5m, p->lc_cache_write_1h, p->lc_cache_read);
		ck_assert_int_eq(q->batch_discount_pct, p->batch_discount_pct);
		ck_assert_str_eq(q->deprecation_date, p->deprecation_date);
		ck_assert_str_eq(q->pool, p->pool);
		ck_assert_str_eq(q->tier, p->tier);
		am_pricing_free(u);
	}
	am_pricing_free(t);
}
END_TEST

/* ---- jsonlex ------------------------------------------------------------- */

START_TEST(test_jsonlex_keeps_number_text)
{
	const char *text = "{\"a\": 1.25e-06, \"b\": [3e-08, 2, \"x1.5\", -0.5, 1E+2],\n"
	                   " \"c\": {\"d\": 0.1, \"e\": \"q\\\"1.5\", \"f\": -7, \"g\": true}}";
	json_t *v;
	am_err err;
	ck_assert_msg(am_jsonlex_load(text, strlen(text), "t.json", true, &v, &err) == 0, "%s",
	              err.msg);
	ck_assert_str_eq(json_string_value(json_object_get(v, "a")), "1.25e-06");
	json_t *b = json_object_get(v, "b");
	ck_assert_str_eq(json_string_value(json_array_get(b, 0)), "3e-08");
	ck_assert(json_is_integer(json_array_get(b, 1)));
	ck_assert_int_eq(json_integer_value(json_array_get(b, 1)), 2);
	ck_assert_str_eq(json_string_value(json_array_get(b, 2)), "x1.5");
	ck_assert_str_eq(json_string_value(json_array_get(b, 3)), "-0.5");
	ck_assert_str_eq(json_string_value(json_array_get(b, 4)), "1E+2");
	json_t *c = json_object_get(v, "c");
	ck_assert_str_eq(json_string_value(json_object_get(c, "d")), "0.1");
	ck_assert_str_eq(json_string_value(json_object_get(c, "e")), "q\"1.5");
	ck_assert_int_eq(json_integer_value(json_object_get(c, "f")), -7);
	ck_assert(json_is_true(json_object_get(c, "g")));

	char buf[32];
	ck_assert_int_eq(am_jsonlex_decimal_text(json_object_get(c, "f"), buf, sizeof buf, NULL),
	                 0);
	ck_assert_str_eq(buf, "-7");
	ck_assert_int_eq(am_jsonlex_decimal_text(json_object_get(c, "g"), buf, sizeof buf, NULL),
	                 -1);
	json_decref(v);

	/* A bare real at the top level. */
	ck_assert_int_eq(am_jsonlex_load("2.50", 4, NULL, true, &v, &err), 0);
	ck_assert_str_eq(json_string_value(v), "2.50");
	json_decref(v);

	ck_assert_int_eq(am_jsonlex_load("{\"a\": 1.5,\n\"b\": }", 17, "t.json", true, &v, &err),
	                 -1);
	ck_assert_msg(!strncmp(err.msg, "t.json:2:", 9), "%s", err.msg);
}
END_TEST

/* ---- LiteLLM import ------------------------------------------------------- */

static const am_litellm_item *find_item(const am_litellm_result *r, const char *model)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->items[i].model, model))
			return &r->items[i];
	return NULL;
}

/* The report line for `model`, which must be there. */
static const am_litellm_item *item(const am_litellm_result *r, const char *model)
{
	const am_litellm_item *it = find_item(r, model);
	if (!it)
		ck_abort_msg("%s is not in the import report", model);
	return it;
}

static void fixture(const char *name, char *path, size_t n)
{
	snprintf(path, n, "%s/tests/fixtures/litellm/%s", src_dir(), name);
}

static void import_fixture(const am_pricing *t, const char *name, am_litellm_result *r)
{
	char path[600];
	am_err err;
	fixture(name, path, sizeof path);
	ck_assert_msg(am_litellm_import(t, path, r, &err) == 0, "%s", err.msg);
}

START_TEST(test_import_real_file)
{
	am_pricing *t = load_with(NULL);
	am_litellm_result r;
	import_fixture(t, "model_prices_and_context_window.json", &r);
	ck_assert_uint_eq(r.n, 26);
	ck_assert_uint_eq(r.other_entries, 192);
	ck_assert_uint_eq(r.added, 6);
	ck_assert_uint_eq(r.changed, 0);
	ck_assert_uint_eq(r.unchanged, 20);
	ck_assert_uint_eq(r.skipped, 0);
	ck_assert_str_eq(r.source_name, "model_prices_and_context_window.json");
	for (size_t i = 0; i < r.n; i++) {
		ck_assert_msg(!strncmp(r.items[i].model, "claude-", 7), "%s", r.items[i].model);
		if (i)
			ck_assert_int_lt(strcmp(r.items[i - 1].model, r.items[i].model), 0);
	}
	ck_assert_ptr_null(find_item(&r, "gpt-4o"));

	const am_litellm_item *it = item(&r, "claude-mythos-5");
	ck_assert_int_eq(it->status, AM_LITELLM_ADDED);
	assert_prices(&it->price, 10000000, 50000000, 12500000, 20000000, 1000000);
	ck_assert_int_eq(it->price.batch_discount_pct, 50);
	ck_assert_str_eq(it->price.pool, "claude-mythos-5");
	ck_assert_str_eq(it->price.tier, "");
	ck_assert_str_eq(it->price.source, "override");
	ck_assert_ptr_null(it->warning);
	/* a new model takes LiteLLM's multipliers and search fee */
	ck_assert_int_eq(it->price.fast_pct, 600);
	ck_assert_int_eq(it->price.geo_us_pct, 110);
	ck_assert_int_eq(it->price.web_search_pusd, 10000000000LL);
	/* a known one keeps the table's (Opus 4.8's fast mode is 2x, not
	 * LiteLLM's 6x), and the import says so */
	it = item(&r, "claude-opus-4-8");
	ck_assert_int_eq(it->status, AM_LITELLM_UNCHANGED);
	ck_assert_int_eq(it->price.fast_pct, 200);
	ck_assert_ptr_nonnull(it->warning);
	assert_has(it->warning, "fast multiplier 600%");

	it = item(&r, "claude-opus-4-6-20260205");
	ck_assert_int_eq(it->status, AM_LITELLM_ADDED);
	ck_assert_str_eq(it->price.pool, "opus-4");
	ck_assert_str_eq(it->price.tier, "opus");

	it = item(&r, "claude-3-7-sonnet-20250219");
	ck_assert_int_eq(it->status, AM_LITELLM_ADDED);
	ck_assert_int_eq(it->price.cache_read, 300000);
	ck_assert_str_eq(it->price.deprecation_date, "2026-02-19");

	/* LiteLLM's known-wrong 1h prices: the table's value stays, with a
	 * warning; for a model the table lacks, 2x input. */
	it = item(&r, "claude-3-haiku-20240307");
	ck_assert_int_eq(it->status, AM_LITELLM_UNCHANGED);
	ck_assert_int_eq(it->price.cache_write_1h, 500000);
	ck_assert_ptr_nonnull(it->warning);
	assert_has(it->warning, "$6/MTok");
	assert_has(it->warning, "$0.5/MTok");
	it = item(&r, "claude-3-opus-20240229");
	ck_assert_int_eq(it->status, AM_LITELLM_ADDED);
	ck_assert_int_eq(it->price.cache_write_1h, 30000000);
	ck_assert_ptr_nonnull(it->warning);

	/* Long context read from the *_above_200k fields; the missing 1h one is
	 * 2x the long-context input, as the table has it. */
	it = item(&r, "claude-4-sonnet-20250514");
	ck_assert_int_eq(it->status, AM_LITELLM_UNCHANGED);
	assert_long_context(&it->price, 200000, 6000000, 22500000, 7500000, 12000000, 600000);
	it = item(&r, "claude-sonnet-4-5");
	ck_assert_int_eq(it->status, AM_LITELLM_UNCHANGED);
	ck_assert_int_eq(it->price.lc_cache_write_5m, 7500000);

	it = item(&r, "claude-opus-4-20250514");
	ck_assert_int_eq(it->status, AM_LITELLM_UNCHANGED);
	ck_assert_ptr_null(it->detail);
	am_litellm_result_free(&r);
	am_pricing_free(t);
}
END_TEST

START_TEST(test_import_edge_cases)
{
	am_pricing *t = load_with(NULL);
	am_litellm_result r;
	import_fixture(t, "edge_cases.json", &r);
	ck_assert_uint_eq(r.n, 7);
	ck_assert_uint_eq(r.other_entries, 3); /* sample_spec, openai, bedrock */
	ck_assert_ptr_null(find_item(&r, "sample_spec"));
	ck_assert_uint_eq(r.added, 1);
	ck_assert_uint_eq(r.changed, 3);
	ck_assert_uint_eq(r.skipped, 3);

	const am_litellm_item *it = item(&r, "claude-haiku-4-5");
	ck_assert_int_eq(it->status, AM_LITELLM_CHANGED);
	ck_assert_str_eq(it->detail, "input: 1 -> 1.1");
	ck_assert_int_eq(it->price.input, 1100000);
	it = item(&r, "claude-haiku-4-5-20251001");
	ck_assert_str_eq(it->detail, "deprecation_date: none -> 2027-01-01");
	ck_assert_int_eq(it->price.cache_write_1h, 2000000); /* absent: kept */
	it = item(&r, "claude-sonnet-4-6");
	ck_assert_int_eq(it->status, AM_LITELLM_CHANGED);
	assert_has(it->detail, "long_context.above_input_tokens: none -> 200000");
	assert_has(it->detail, "long_context.output: none -> 22.5");
	ck_assert_int_eq(it->price.lc_cache_write_1h, 12000000);

	it = item(&r, "claude-new-7");
	ck_assert_int_eq(it->status, AM_LITELLM_ADDED);
	assert_prices(&it->price, 7000000, 35000000, 8750000, 14000000, 700000);
	ck_assert_str_eq(it->price.tier, "");

	it = item(&r, "claude-bad-number");
	ck_assert_int_eq(it->status, AM_LITELLM_SKIPPED);
	assert_has(it->detail, "cheap");
	it = item(&r, "claude-too-fine");
	ck_assert_int_eq(it->status, AM_LITELLM_SKIPPED);
	assert_has(it->detail, "picodollar");
	it = item(&r, "claude-no-output");
	ck_assert_int_eq(it->status, AM_LITELLM_SKIPPED);
	assert_has(it->detail, "output_cost_per_token");
	am_litellm_result_free(&r);
	am_pricing_free(t);
}
END_TEST

START_TEST(test_import_writes_override)
{
	char override[600], path[600];
	snprintf(override, sizeof override, "%s/cfg/aimeter/pricing.json", tmpdir);
	/* An entry of the user's own that the import must keep. */
	char dir[600];
	snprintf(dir, sizeof dir, "%s/cfg", tmpdir);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	snprintf(dir, sizeof dir, "%s/cfg/aimeter", tmpdir);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	FILE *f = fopen(override, "w");
	fputs("{\"version\": 1, \"note\": \"mine\", \"models\": {\"my-model\": {\"input\": 0.3, "
	      "\"output\": \"1\"}}, \"aliases\": {\"claude-haiku-4-5\": \"my-model\"}}",
	      f);
	fclose(f);
	chmod(override, 0644);

	am_pricing *t;
	am_err err;
	ck_assert_msg(am_pricing_load(&t, shipped, override, &err) == 0, "%s", err.msg);
	fixture("edge_cases.json", path, sizeof path);
	am_litellm_result r;
	ck_assert_msg(am_litellm_import(t, path, &r, &err) == 0, "%s", err.msg);
	ck_assert_msg(am_litellm_write_override(t, &r, override, &err) == 0, "%s", err.msg);
	am_litellm_result_free(&r);
	am_pricing_free(t);

	struct stat st;
	ck_assert_int_eq(stat(override, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);

	ck_assert_msg(am_pricing_load(&t, shipped, override, &err) == 0, "%s", err.msg);
	const am_price *p = am_pricing_lookup(t, "my-model");
	ck_assert_int_eq(p->input, 300000); /* a JSON number survived the rewrite */
	p = am_pricing_lookup(t, "claude-haiku-4-5");
	ck_assert(!am_price_is_alias(p)); /* the import replaced the user's alias */
	ck_assert_int_eq(p->input, 1100000);
	ck_assert_str_eq(p->source, "override");
	p = am_pricing_lookup(t, "claude-new-7");
	ck_assert_int_eq(p->output, 35000000);
	ck_assert_str_eq(am_pricing_lookup(t, "claude-haiku-4-5-20251001")->deprecation_date,
	                 "2027-01-01");
	ck_assert_ptr_null(am_pricing_lookup(t, "claude-bad-number"));

	/* Importing again changes nothing. */
	ck_assert_msg(am_litellm_import(t, path, &r, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(r.added, 0);
	ck_assert_uint_eq(r.changed, 0);
	ck_assert_uint_eq(r.unchanged, 4);
	am_litellm_result_free(&r);
	am_pricing_free(t);

	/* The file holds exact decimal strings and says where they came from. */
	json_error_t je;
	json_t *doc = json_load_file(override, 0, &je);
	ck_assert_ptr_nonnull(doc);
	ck_assert_str_eq(json_string_value(json_object_get(doc, "note")), "mine");
	json_t *m = json_object_get(json_object_get(doc, "models"), "claude-new-7");
	ck_assert_str_eq(json_string_value(json_object_get(m, "cache_read")), "0.7");
	assert_has(json_string_value(json_object_get(m, "note")), "edge_cases.json");
	json_decref(doc);
}
END_TEST

START_TEST(test_import_creates_private_dir)
{
	char override[600], dir[600];
	snprintf(override, sizeof override, "%s/new/aimeter/pricing.json", tmpdir);
	am_pricing *t = load_with(NULL);
	am_litellm_result r;
	am_err err;
	import_fixture(t, "model_prices_and_context_window.json", &r);
	ck_assert_msg(am_litellm_write_override(t, &r, override, &err) == 0, "%s", err.msg);
	am_litellm_result_free(&r);
	am_pricing_free(t);
	struct stat st;
	snprintf(dir, sizeof dir, "%s/new/aimeter", tmpdir);
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0700);
	ck_assert_int_eq(stat(override, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_msg(am_pricing_load(&t, shipped, override, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(am_pricing_count(t), 29 + 6);
	ck_assert_int_eq(am_pricing_lookup(t, "claude-3-opus-20240229")->cache_write_1h, 30000000);
	am_pricing_free(t);
}
END_TEST

START_TEST(test_import_errors)
{
	am_pricing *t = load_with(NULL);
	am_litellm_result r;
	am_err err;
	char path[600], msg[AM_ERR_MAX];
	snprintf(path, sizeof path, "%s/absent.json", tmpdir);
	ck_assert_int_eq(am_litellm_import(t, path, &r, &err), -1);
	assert_has(err.msg, path);
	write_file("bad.json", "{\n \"claude-x\": {\"input_cost_per_token\": 1e-06,,}\n}", path,
	           sizeof path);
	ck_assert_int_eq(am_litellm_import(t, path, &r, &err), -1);
	snprintf(msg, sizeof msg, "%s", err.msg);
	assert_has(msg, "bad.json:2:");
	write_file("arr.json", "[]", path, sizeof path);
	ck_assert_int_eq(am_litellm_import(t, path, &r, &err), -1);
	/* Nothing to write: the override file is not created. */
	write_file("none.json", "{\"gpt-4o\": {\"litellm_provider\": \"openai\"}}", path,
	           sizeof path);
	ck_assert_int_eq(am_litellm_import(t, path, &r, &err), 0);
	ck_assert_uint_eq(r.n, 0);
	char override[600];
	snprintf(override, sizeof override, "%s/o/pricing.json", tmpdir);
	ck_assert_int_eq(am_litellm_write_override(t, &r, override, &err), 0);
	ck_assert_int_eq(access(override, F_OK), -1);
	am_litellm_result_free(&r);
	am_pricing_free(t);
}
END_TEST

/* A model named twice is refused, naming it: otherwise the last price of
 * the two would win without a word. */
START_TEST(test_import_duplicate_key)
{
	am_pricing *t = load_with(NULL);
	am_litellm_result r;
	am_err err;
	char path[600];
	write_file("dup.json",
	           "{\"claude-dup-1\": {\"litellm_provider\": \"anthropic\", \"mode\": \"chat\", "
	           "\"input_cost_per_token\": 1e-06, \"output_cost_per_token\": 5e-06},\n"
	           " \"claude-dup-1\": {\"litellm_provider\": \"anthropic\", \"mode\": \"chat\", "
	           "\"input_cost_per_token\": 0, \"output_cost_per_token\": 0}}",
	           path, sizeof path);
	ck_assert_int_eq(am_litellm_import(t, path, &r, &err), -1);
	assert_has(err.msg, "duplicate");
	assert_has(err.msg, "claude-dup-1");
	assert_has(err.msg, "dup.json:2:");
	am_pricing_free(t);
}
END_TEST

static Suite *pricing_suite(void)
{
	Suite *s = suite_create("pricing");
	TCase *tc = tcase_create("table");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_shipped_has_every_model);
	tcase_add_test(tc, test_shipped_prices);
	tcase_add_test(tc, test_default_paths);
	tcase_add_test(tc, test_override_precedence);
	tcase_add_test(tc, test_override_missing_is_fine);
	tcase_add_test(tc, test_override_null_removes_long_context);
	tcase_add_test(tc, test_bad_json_names_line_and_column);
	tcase_add_loop_test(tc, test_bad_override_entries, 0,
	                    (int)(sizeof bad_overrides / sizeof bad_overrides[0]));
	tcase_add_test(tc, test_shipped_must_be_complete);
	tcase_add_test(tc, test_missing_shipped_file);
	tcase_add_test(tc, test_price_to_json_round_trip);
	tcase_add_test(tc, test_jsonlex_keeps_number_text);
	suite_add_tcase(s, tc);
	tc = tcase_create("litellm");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_import_real_file);
	tcase_add_test(tc, test_import_edge_cases);
	tcase_add_test(tc, test_import_writes_override);
	tcase_add_test(tc, test_import_creates_private_dir);
	tcase_add_test(tc, test_import_errors);
	tcase_add_test(tc, test_import_duplicate_key);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(pricing_suite());
}
