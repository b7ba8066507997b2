/* test_cost: am_cost over every model of the shipped table and every token
 * class, checked against values computed independently.
 *
 * The expectations never touch money.c or int64 prices: this file reads the
 * decimal strings of data/pricing.json with jansson and does schoolbook
 * arithmetic on digit strings (tokens × $/MTok ÷ 10^6, × 0.5 for batch),
 * then compares with am_money_format(am_cost(...)). */
#include <check.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "money.h"
#include "pricing.h"

/* ---- decimal strings ----------------------------------------------------- */

/* A non-negative decimal as digits (most significant first) and the number
 * of those digits after the point. */
struct dec {
	char d[128];
	int len, frac;
};

static void dec_from(struct dec *x, const char *s)
{
	x->len = 0;
	x->frac = 0;
	bool point = false;
	for (; *s; s++) {
		if (*s == '.') {
			point = true;
			continue;
		}
		ck_assert_msg(*s >= '0' && *s <= '9', "bad test decimal '%s'", s);
		x->d[x->len++] = *s;
		if (point)
			x->frac++;
	}
}

static void dec_mul(struct dec *out, const struct dec *a, const struct dec *b)
{
	int r[256] = { 0 };
	for (int i = a->len - 1; i >= 0; i--)
		for (int j = b->len - 1; j >= 0; j--)
			r[i + j + 1] += (a->d[i] - '0') * (b->d[j] - '0');
	int n = a->len + b->len;
	for (int k = n - 1; k > 0; k--) {
		r[k - 1] += r[k] / 10;
		r[k] %= 10;
	}
	for (int k = 0; k < n; k++)
		out->d[k] = (char)('0' + r[k]);
	out->len = n;
	out->frac = a->frac + b->frac;
}

static void dec_add(struct dec *out, const struct dec *a, const struct dec *b)
{
	int frac = a->frac > b->frac ? a->frac : b->frac;
	int ia = a->len - a->frac, ib = b->len - b->frac;
	int intd = (ia > ib ? ia : ib) + 1;
	int n = intd + frac, r[256] = { 0 };
	for (int k = 0; k < a->len; k++)
		r[intd - ia + k] += a->d[k] - '0';
	for (int k = 0; k < b->len; k++)
		r[intd - ib + k] += b->d[k] - '0';
	for (int k = n - 1; k > 0; k--) {
		r[k - 1] += r[k] / 10;
		r[k] %= 10;
	}
	for (int k = 0; k < n; k++)
		out->d[k] = (char)('0' + r[k]);
	out->len = n;
	out->frac = frac;
}

/* Canonical text: no leading zeros, no trailing fraction zeros, "0" for 0 —
 * the form am_money_format writes. */
static void dec_str(const struct dec *x, char *buf, size_t n)
{
	int end = x->len, f = x->frac;
	while (f > 0 && x->d[end - 1] == '0') {
		end--;
		f--;
	}
	int start = 0;
	while (start < end - f && x->d[start] == '0')
		start++;
	char tmp[300];
	int o = 0;
	if (start == end - f)
		tmp[o++] = '0';
	for (int k = start; k < end - f; k++)
		tmp[o++] = x->d[k];
	if (f) {
		tmp[o++] = '.';
		for (int k = end - f; k < end; k++)
			tmp[o++] = x->d[k];
	}
	tmp[o] = '\0';
	snprintf(buf, n, "%s", tmp);
}

/* tokens × price_mtok / 10^6 (× 0.5 for batch), in USD. */
static void expected_usd(int64_t tokens, const char *price_mtok, bool batch, struct dec *out)
{
	char t[32];
	snprintf(t, sizeof t, "%lld", (long long)tokens);
	struct dec a, b;
	dec_from(&a, t);
	dec_from(&b, price_mtok);
	dec_mul(out, &a, &b);
	out->frac += 6;
	while (out->len < out->frac + 1) { /* keep at least one integer digit */
		memmove(out->d + 1, out->d, (size_t)out->len);
		out->d[0] = '0';
		out->len++;
	}
	if (batch) {
		struct dec half, r;
		dec_from(&half, "0.5");
		dec_mul(&r, out, &half);
		*out = r;
	}
}

static void cost_str(const am_price *p, const am_usage *u, bool batch, char *buf, size_t n)
{
	int64_t c = -1;
	am_err err;
	ck_assert_msg(am_cost(p, u, batch, &c, &err) == 0, "%s: %s", p->model, err.msg);
	am_money_format(c, buf, n);
}

/* ---- the shipped table, read two ways ------------------------------------ */

static am_pricing *table;
static json_t *doc; /* data/pricing.json as plain jansson, prices as strings */

static void load(void)
{
	const char *src = getenv("AIMETER_SOURCE_DIR");
	char path[4096];
	snprintf(path, sizeof path, "%s/data/pricing.json", src ? src : AIMETER_SOURCE_DIR);
	am_err err;
	ck_assert_msg(am_pricing_load(&table, path, NULL, &err) == 0, "%s", err.msg);
	json_error_t je;
	doc = json_load_file(path, 0, &je);
	ck_assert_msg(doc != NULL, "%s", je.text);
}

static void unload(void)
{
	am_pricing_free(table);
	json_decref(doc);
	table = NULL;
	doc = NULL;
}

/* The JSON model object a table row's prices come from. */
static json_t *model_json(const am_price *p)
{
	const char *id = p->model;
	json_t *alias = json_object_get(json_object_get(doc, "aliases"), id);
	if (alias)
		id = json_string_value(alias);
	json_t *m = json_object_get(json_object_get(doc, "models"), id);
	ck_assert_msg(m != NULL, "no JSON entry behind %s", p->model);
	return m;
}

static const char *const classes[] = { "input", "output", "cache_write_5m", "cache_write_1h",
	                               "cache_read" };

static am_usage one_class(int cls, int64_t n)
{
	am_usage u = { 0 };
	switch (cls) {
	case 0: u.input_tokens = n; break;
	case 1: u.output_tokens = n; break;
	case 2: u.cache_write_5m = n; break;
	case 3: u.cache_write_1h = n; break;
	default: u.cache_read = n; break;
	}
	return u;
}

START_TEST(test_table_matches_file)
{
	size_t models = json_object_size(json_object_get(doc, "models"));
	size_t aliases = json_object_size(json_object_get(doc, "aliases"));
	ck_assert_uint_eq(am_pricing_count(table), models + aliases);
	ck_assert_uint_ge(models, 12);
}
END_TEST

/* Every row × every class × token counts on both sides of the long-context
 * threshold, with and without batch. */
START_TEST(test_every_model_every_class)
{
	static const int64_t counts[] = { 0, 1, 3, 7, 999, 200000, 200001, 1000003, 123456789 };
	size_t checked = 0;
	for (size_t i = 0; i < am_pricing_count(table); i++) {
		const am_price *p = am_pricing_at(table, i);
		json_t *m = model_json(p);
		json_t *lc = json_object_get(m, "long_context");
		for (int cls = 0; cls < 5; cls++) {
			for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
				int64_t n = counts[k];
				am_usage u = one_class(cls, n);
				/* Output alone is never "input"; the rest is total input. */
				bool long_ctx = json_is_object(lc) && cls != 1 &&
				                n > json_integer_value(
				                        json_object_get(lc, "above_input_tokens"));
				json_t *src = long_ctx ? lc : m;
				const char *price = json_string_value(json_object_get(src, classes[cls]));
				ck_assert_msg(price, "%s: %s is not a string", p->model, classes[cls]);
				for (int batch = 0; batch < 2; batch++) {
					struct dec want;
					char ws[160], got[32];
					expected_usd(n, price, batch, &want);
					dec_str(&want, ws, sizeof ws);
					cost_str(p, &u, batch, got, sizeof got);
					ck_assert_msg(!strcmp(got, ws),
					              "%s %s=%lld batch=%d: got %s, want %s", p->model,
					              classes[cls], (long long)n, batch, got, ws);
					checked++;
				}
			}
		}
	}
	ck_assert_uint_eq(checked, am_pricing_count(table) * 5 * 9 * 2);
}
END_TEST

/* A mixed call: the sum of the classes, computed on strings. */
START_TEST(test_every_model_mixed_call)
{
	const int64_t n[5] = { 2095, 503, 2051, 977, 2051 };
	for (size_t i = 0; i < am_pricing_count(table); i++) {
		const am_price *p = am_pricing_at(table, i);
		json_t *m = model_json(p);
		struct dec sum;
		dec_from(&sum, "0");
		for (int cls = 0; cls < 5; cls++) {
			struct dec part, t;
			expected_usd(n[cls], json_string_value(json_object_get(m, classes[cls])), false,
			             &part);
			dec_add(&t, &sum, &part);
			sum = t;
		}
		am_usage u = { .input_tokens = n[0], .output_tokens = n[1], .cache_write_5m = n[2],
			       .cache_write_1h = n[3], .cache_read = n[4] };
		char ws[160], got[32];
		dec_str(&sum, ws, sizeof ws);
		cost_str(p, &u, false, got, sizeof got);
		ck_assert_msg(!strcmp(got, ws), "%s: got %s, want %s", p->model, got, ws);
	}
}
END_TEST

/* ---- documented examples (values worked out by hand) --------------------- */

struct example {
	const char *model;
	am_usage u;
	bool batch;
	const char *usd;
	const char *day; /* NULL: the current rates */
};

#define CALL U(10000, 2000, 1000, 1000, 10000)
#define U(i, o, w5, w1, r)                                                                \
	{ .input_tokens = (i), .output_tokens = (o), .cache_write_5m = (w5),                 \
	  .cache_write_1h = (w1), .cache_read = (r) }

static const struct example examples[] = {
	/* The documentation's full-field example on Opus 4.6: 2095 in, 503 out,
	 * 2051 cache write (no breakdown -> 5m), 2051 read:
	 * 2095×5 + 503×25 + 2051×6.25 + 2051×0.5 = 36,894.25 µ$ */
	{ "claude-opus-4-6", U(2095, 503, 2051, 0, 2051), false, "0.03689425", NULL },
	{ "claude-opus-4-6", U(2095, 503, 2051, 0, 2051), true, "0.018447125", NULL },
	/* A constructed cache hit on Haiku 4.5: 12 in, 2048 read, 6 out:
	 * 12×1 + 2048×0.1 + 6×5 = 246.8 µ$ */
	{ "claude-haiku-4-5-20251001", U(12, 6, 0, 0, 2048), false, "0.0002468", NULL },
	/* The minimal example, 100 in / 50 out, on Sonnet 4.5: 300 + 750 µ$ */
	{ "claude-sonnet-4-5", U(100, 50, 0, 0, 0), false, "0.00105", NULL },
	/* money.h: Haiku 3's batch cache read is $0.015/MTok */
	{ "claude-3-haiku-20240307", U(0, 0, 0, 0, 1), true, "0.000000015", NULL },
	/* Haiku 3.5's 1h write is $1.6/MTok (LiteLLM's 6 is wrong) */
	{ "claude-3-5-haiku-20241022", U(0, 0, 0, 1000000, 0), false, "1.6", NULL },
	/* Opus 4.5 is $5/$25, not the article's $15/$75 */
	{ "claude-opus-4-5", U(1000000, 1000000, 0, 0, 0), false, "30", NULL },
	/* Haiku 4.5 is $1/$5, not $0.25/$1.25 */
	{ "claude-haiku-4-5", U(1000000, 1000000, 0, 0, 0), false, "6", NULL },
	/* Long context on Sonnet 4.5: at exactly 200,000 input the base
	 * prices hold; one more token and every token costs $6 in / $22.50 out. */
	{ "claude-sonnet-4-5-20250929", U(200000, 1000, 0, 0, 0), false, "0.615", NULL },
	{ "claude-sonnet-4-5-20250929", U(200001, 1000, 0, 0, 0), false, "1.222506", NULL },
	{ "claude-sonnet-4-5-20250929", U(200001, 1000, 0, 0, 0), true, "0.611253", NULL },
	/* Total input counts cache reads and writes: 100k+50k+25k+25k = 200k is
	 * still base; one more read token switches to 7.50 / 12 / 0.60. */
	{ "claude-sonnet-4-20250514", U(100000, 1000, 50000, 25000, 25000), false, "0.66", NULL },
	{ "claude-sonnet-4-20250514", U(100000, 1000, 50000, 25000, 25001), false,
	  "1.3125006", NULL },
	/* Sonnet 4.6 has no long-context premium in the table. */
	{ "claude-sonnet-4-6", U(200001, 1000, 0, 0, 0), false, "0.615003", NULL },
	/* The most expensive: Opus 4.1 output, a million tokens = $75. */
	{ "claude-opus-4-1", U(0, 1000000, 0, 0, 0), false, "75", NULL },
	/* The current line-up and the older models, one call each:
	 * 10,000 in, 2,000 out, 1,000 5m writes, 1,000 1h writes, 10,000 reads
	 * (prompt size 22,000; every band's base). In µ$:
	 * Opus 5.5 (4/20/5/8/0.20): 40000+40000+5000+8000+2000 = 95000 */
	{ "claude-opus-5-5", CALL, false, "0.095", NULL },
	/* Opus 5 and 4.5 to 4.8 (5/25/6.25/10/0.50):
	 * 50000+50000+6250+10000+5000 = 121250 */
	{ "claude-opus-5", CALL, false, "0.12125", NULL },
	{ "claude-opus-4-8", CALL, false, "0.12125", NULL },
	{ "claude-opus-4-7", CALL, false, "0.12125", NULL },
	{ "claude-opus-4-6", CALL, false, "0.12125", NULL },
	{ "claude-opus-4-5-20251101", CALL, false, "0.12125", NULL },
	/* Opus 4.1 and 4 (15/75/18.75/30/1.50): 150000+150000+18750+30000+15000 */
	{ "claude-opus-4-1-20250805", CALL, false, "0.36375", NULL },
	{ "claude-opus-4-20250514", CALL, false, "0.36375", NULL },
	/* Sonnet 5.5 (2/10/2.50/4, read 0.10 from 2026-10-07, 0.20 before):
	 * 20000+20000+2500+4000+1000 = 47500; before the cut 48500 */
	{ "claude-sonnet-5-5", CALL, false, "0.0475", NULL },
	{ "claude-sonnet-5-5", CALL, false, "0.0475", "2026-10-07" },
	{ "claude-sonnet-5-5", CALL, false, "0.0485", "2026-10-06" },
	{ "claude-sonnet-5-5", CALL, false, "0.0485", "2026-06-30" },
	/* ... batch before the cut: half of 48500 */
	{ "claude-sonnet-5-5", CALL, true, "0.02425", "2026-10-06" },
	/* Sonnet 5 (2/10/2.50/4/0.20): 48500 */
	{ "claude-sonnet-5", CALL, false, "0.0485", NULL },
	/* Sonnet 4.6, 4.5, 4 (3/15/3.75/6/0.30): 30000+30000+3750+6000+3000 */
	{ "claude-sonnet-4-6", CALL, false, "0.07275", NULL },
	{ "claude-sonnet-4-5-20250929", CALL, false, "0.07275", NULL },
	{ "claude-sonnet-4-20250514", CALL, false, "0.07275", NULL },
	/* Haiku 5.5 (0.10/0.50/0.125/0.20/0.01): 1000+1000+125+200+100 = 2425 */
	{ "claude-haiku-5-5", CALL, false, "0.002425", NULL },
	{ "claude-haiku-5-5", CALL, true, "0.0012125", NULL },
	/* Haiku 4.5 (1/5/1.25/2/0.10): 10000+10000+1250+2000+1000 = 24250 */
	{ "claude-haiku-4-5-20251001", CALL, false, "0.02425", NULL },
	/* Haiku 3.5 (0.80/4/1/1.6/0.08): 8000+8000+1000+1600+800 = 19400 */
	{ "claude-3-5-haiku-20241022", CALL, false, "0.0194", NULL },
	/* Haiku 3 (0.25/1.25/0.30/0.50/0.03): 2500+2500+300+500+300 = 6100 */
	{ "claude-3-haiku-20240307", CALL, false, "0.0061", NULL },
	/* Fable 5.2 (8/40/10/16/0.20): 80000+80000+10000+16000+2000 */
	{ "claude-fable-5-2", CALL, false, "0.188", NULL },
	/* Fable 5.1 (10/50/12.50/20/0.25): 100000+100000+12500+20000+2500 */
	{ "claude-fable-5-1", CALL, false, "0.235", NULL },
	/* Fable 5 (10/50/12.50/20/1): 100000+100000+12500+20000+10000 */
	{ "claude-fable-5", CALL, false, "0.2425", NULL },
	/* Batch halves the tokens: Opus 5, 121250 / 2 */
	{ "claude-opus-5", CALL, true, "0.060625", NULL },
	/* Haiku 5.5's band: a prompt of exactly 100,000 (80,000 + 5,000 +
	 * 5,000 + 10,000) is base: 8000+1000+625+1000+100 = 10725 µ$ */
	{ "claude-haiku-5-5", U(80000, 2000, 5000, 5000, 10000), false, "0.010725", NULL },
	/* one more read token and all of it is 5x (0.50/2.50/0.625/1/0.05):
	 * 40000+5000+3125+5000+500.05 = 53625.05 µ$ */
	{ "claude-haiku-5-5", U(80000, 2000, 5000, 5000, 10001), false, "0.05362505", NULL },
	{ "claude-haiku-5-5", U(80000, 2000, 5000, 5000, 10001), true, "0.026812525", NULL },
};

/* The same calls with what the response said was served. */
struct served {
	const char *model;
	am_usage u;
	bool batch;
	const char *usd;
};

#define SERVED(speed_, geo_, tier_, searches)                                             \
	{ .input_tokens = 10000, .output_tokens = 2000, .cache_write_5m = 1000,              \
	  .cache_write_1h = 1000, .cache_read = 10000, .web_search_requests = (searches),     \
	  .speed = speed_, .inference_geo = geo_, .service_tier = tier_ }

static const struct served served[] = {
	/* Fast mode: 6x on Opus 4.6 and 4.7 (121250 × 6), 2x on Opus 4.8, 5, 5.5 */
	{ "claude-opus-4-6", SERVED("fast", "", "", 0), false, "0.7275" },
	{ "claude-opus-4-7", SERVED("fast", "", "", 0), false, "0.7275" },
	{ "claude-opus-4-8", SERVED("fast", "", "", 0), false, "0.2425" },
	{ "claude-opus-5", SERVED("fast", "", "", 0), false, "0.2425" },
	{ "claude-opus-5-5", SERVED("fast", "", "", 0), false, "0.19" },
	{ "claude-opus-5-5", SERVED("standard", "global", "standard", 0), false, "0.095" },
	/* US-only inference: 1.1x from Opus 4.6 and Sonnet 4.6 on: 95000 × 1.1 */
	{ "claude-opus-5-5", SERVED("", "us", "", 0), false, "0.1045" },
	{ "claude-opus-4-6", SERVED("", "us", "", 0), false, "0.133375" },
	{ "claude-sonnet-4-6", SERVED("", "us", "", 0), false, "0.080025" },
	{ "claude-haiku-5-5", SERVED("", "us", "", 0), false, "0.0026675" },
	/* ... older models are unchanged (they report "not_available") */
	{ "claude-sonnet-4-5-20250929", SERVED("", "us", "", 0), false, "0.07275" },
	{ "claude-haiku-4-5-20251001", SERVED("", "not_available", "", 0), false, "0.02425" },
	/* they stack: 95000 × 2 × 1.1 = 209000 */
	{ "claude-opus-5-5", SERVED("fast", "us", "", 0), false, "0.209" },
	/* 6 × 1.1 on Opus 4.6: 121250 × 6.6 = 800250 */
	{ "claude-opus-4-6", SERVED("fast", "us", "", 0), false, "0.80025" },
	/* Web search, $10 per 1,000: 3 searches are $0.03 on top */
	{ "claude-opus-5-5", SERVED("", "", "", 3), false, "0.125" },
	/* ... not discounted by batch (47500 + 30000) nor raised by geo */
	{ "claude-opus-5-5", SERVED("", "", "", 3), true, "0.0775" },
	{ "claude-opus-5-5", SERVED("", "us", "", 3), false, "0.1345" },
	/* service_tier "batch" is a batch call even when the caller did not say */
	{ "claude-opus-5", SERVED("", "", "batch", 0), false, "0.060625" },
	/* batch and geo: 121250 × 1.1 / 2 */
	{ "claude-opus-5", SERVED("", "us", "batch", 0), false, "0.0666875" },
};

START_TEST(test_served_examples)
{
	const struct served *e = &served[_i];
	const am_price *p = am_pricing_lookup(table, e->model);
	ck_assert_msg(p != NULL, "%s missing", e->model);
	int64_t c;
	am_err err;
	char got[32];
	ck_assert_msg(am_cost(p, &e->u, e->batch, &c, &err) == 0, "%s: %s", e->model, err.msg);
	am_money_format(c, got, sizeof got);
	ck_assert_msg(!strcmp(got, e->usd), "%s (speed %s, geo %s, tier %s, %lld searches): got "
	              "%s, want %s", e->model, e->u.speed, e->u.inference_geo, e->u.service_tier,
	              (long long)e->u.web_search_requests, got, e->usd);
}
END_TEST

/* Band and multipliers together: Haiku 5.5 above 100,000 in the US,
 * 53625.05 × 1.1 = 58987.555 µ$. */
START_TEST(test_band_with_geo)
{
	const am_price *p = am_pricing_lookup(table, "claude-haiku-5-5");
	am_usage u = U(80000, 2000, 5000, 5000, 10001);
	snprintf(u.inference_geo, sizeof u.inference_geo, "us");
	int64_t c;
	ck_assert_int_eq(am_cost(p, &u, false, &c, NULL), 0);
	ck_assert_int_eq(c, 58987555000LL);
}
END_TEST

START_TEST(test_refused_combinations)
{
	am_err err;
	int64_t c = 7;
	/* fast mode is never batched */
	am_usage u = SERVED("fast", "", "", 0);
	const am_price *p = am_pricing_lookup(table, "claude-opus-5-5");
	ck_assert_int_eq(am_cost(p, &u, true, &c, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "batch"));
	am_usage b = SERVED("fast", "", "batch", 0);
	ck_assert_int_eq(am_cost(p, &b, false, &c, &err), -1);
	/* a model without a fast-mode price */
	p = am_pricing_lookup(table, "claude-sonnet-5-5");
	ck_assert_int_eq(am_cost(p, &u, false, &c, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "fast"));
	/* a malformed day; negative searches */
	am_usage n = SERVED("", "", "", -1);
	ck_assert_int_eq(am_cost(p, &n, false, &c, &err), -1);
	am_usage ok = SERVED("", "", "", 0);
	ck_assert_int_eq(am_cost_on(p, &ok, false, "2026-13-01", &c, &err), -1);
	ck_assert_int_eq(c, 7);
	/* the day only moves the rates its entry names */
	int64_t r[5];
	am_price_rates_on(p, "2026-10-06", r);
	ck_assert_int_eq(r[4], 200000);
	ck_assert_int_eq(r[0], 2000000);
	am_price_rates_on(p, "2026-10-07", r);
	ck_assert_int_eq(r[4], 100000);
}
END_TEST


START_TEST(test_documented_examples)
{
	const struct example *e = &examples[_i];
	const am_price *p = am_pricing_lookup(table, e->model);
	ck_assert_msg(p != NULL, "%s missing", e->model);
	char got[32];
	int64_t c;
	am_err err;
	ck_assert_msg(am_cost_on(p, &e->u, e->batch, e->day, &c, &err) == 0, "%s: %s", e->model,
	              err.msg);
	am_money_format(c, got, sizeof got);
	ck_assert_msg(!strcmp(got, e->usd), "%s on %s: got %s, want %s", e->model,
	              e->day ? e->day : "today", got, e->usd);
}
END_TEST

/* Every model of the shipped table has a hand-worked example above. */
START_TEST(test_every_table_model_has_an_example)
{
	const char *id;
	json_t *m;
	json_object_foreach (json_object_get(doc, "models"), id, m) {
		bool found = false;
		for (size_t i = 0; i < sizeof examples / sizeof examples[0] && !found; i++) {
			const am_price *p = am_pricing_lookup(table, examples[i].model);
			found = p && (!strcmp(p->model, id) || !strcmp(p->canonical, id));
		}
		ck_assert_msg(found, "%s has no worked example", id);
	}
}
END_TEST

START_TEST(test_long_context_sums_by_hand)
{
	/* The two sonnet-4 rows above, spelled out so the comment is checked:
	 * base: 100000×3 + 1000×15 + 50000×3.75 + 25000×6 + 25000×0.3 µ$
	 * long: 100000×6 + 1000×22.5 + 50000×7.5 + 25000×12 + 25001×0.6 µ$
	 * (in hundredths of a µ$ so that every term is an integer) */
	ck_assert_int_eq(100000 * 3 * 100 + 1000 * 15 * 100 + 50000 * 375 + 25000 * 6 * 100 +
	                         25000 * 30,
	                 66000000);
	ck_assert_int_eq(100000 * 6 * 100 + 1000 * 2250 + 50000 * 750 + 25000 * 12 * 100 +
	                         25001 * 60,
	                 131250060);
}
END_TEST

/* ---- unknown models, rounding, overflow ---------------------------------- */

START_TEST(test_unknown_model)
{
	ck_assert_ptr_null(am_pricing_lookup(table, "claude-nonexistent-9"));
	ck_assert_ptr_null(am_pricing_lookup(table, ""));
	ck_assert_ptr_null(am_pricing_lookup(table, "CLAUDE-OPUS-4-6"));
	ck_assert_ptr_null(am_pricing_lookup(table, "claude-opus-4-6 "));
	ck_assert_ptr_null(am_pricing_lookup(table, NULL));
	char longid[300];
	memset(longid, 'a', sizeof longid - 1);
	longid[sizeof longid - 1] = '\0';
	ck_assert_ptr_null(am_pricing_lookup(table, longid));
	ck_assert_ptr_nonnull(am_pricing_lookup(table, "claude-opus-4-6"));
}
END_TEST

START_TEST(test_most_expensive)
{
	const am_price *p = am_pricing_most_expensive(table);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(p->output, 75000000);
	ck_assert_int_eq(p->input, 15000000);
	for (size_t i = 0; i < am_pricing_count(table); i++)
		ck_assert_int_le(am_pricing_at(table, i)->output, p->output);
	ck_assert_ptr_null(am_pricing_most_expensive(NULL));
}
END_TEST

static am_price synthetic(int64_t per_token, int batch_pct)
{
	am_price p;
	memset(&p, 0, sizeof p);
	snprintf(p.model, sizeof p.model, "synthetic");
	p.input = p.output = p.cache_write_5m = p.cache_write_1h = p.cache_read = per_token;
	p.batch_discount_pct = batch_pct;
	return p;
}

START_TEST(test_batch_rounding_and_percent)
{
	/* Published prices halve exactly; a made-up 1 pUSD/token price shows
	 * the documented half-up rounding of the discounted total. */
	am_price p = synthetic(1, 50);
	am_usage u = { .input_tokens = 1 };
	int64_t c;
	ck_assert_int_eq(am_cost(&p, &u, true, &c, NULL), 0);
	ck_assert_int_eq(c, 1);
	u.input_tokens = 3;
	ck_assert_int_eq(am_cost(&p, &u, true, &c, NULL), 0);
	ck_assert_int_eq(c, 2);
	u.input_tokens = 4;
	ck_assert_int_eq(am_cost(&p, &u, true, &c, NULL), 0);
	ck_assert_int_eq(c, 2);
	p = synthetic(1000, 0); /* no discount */
	ck_assert_int_eq(am_cost(&p, &u, true, &c, NULL), 0);
	ck_assert_int_eq(c, 4000);
	p = synthetic(1000, 100); /* free in batch */
	ck_assert_int_eq(am_cost(&p, &u, true, &c, NULL), 0);
	ck_assert_int_eq(c, 0);
	p = synthetic(1000, 30);
	ck_assert_int_eq(am_cost(&p, &u, true, &c, NULL), 0);
	ck_assert_int_eq(c, 2800);
}
END_TEST

START_TEST(test_overflow_bounds)
{
	const am_price *p = am_pricing_lookup(table, "claude-opus-4-1-20250805");
	ck_assert_ptr_nonnull(p);
	int64_t c = 42;
	am_err err = {0};
	int64_t max_out = INT64_MAX / p->output; /* 122,978,293,824 tokens */
	am_usage u = { .output_tokens = max_out };
	ck_assert_int_eq(am_cost(p, &u, false, &c, &err), 0);
	ck_assert_int_eq(c, max_out * p->output);
	ck_assert_int_eq(am_cost(p, &u, true, &c, &err), 0);
	ck_assert_int_eq(c, max_out * p->output / 2);

	u.output_tokens = max_out + 1;
	c = 42;
	ck_assert_int_eq(am_cost(p, &u, false, &c, &err), -1);
	ck_assert_int_eq(c, 42); /* never a wrapped value */
	ck_assert_msg(strstr(err.msg, "overflow"), "%s", err.msg);

	/* Each part fits, the sum does not. */
	am_usage v = { .output_tokens = max_out, .input_tokens = max_out };
	ck_assert_int_eq(am_cost(p, &v, false, &c, &err), -1);

	/* Total input itself overflows. */
	am_usage w = { .input_tokens = INT64_MAX, .cache_read = 1 };
	ck_assert_int_eq(am_cost(p, &w, false, &c, &err), -1);
	am_usage x = { .input_tokens = INT64_MAX };
	ck_assert_int_eq(am_cost(p, &x, false, &c, &err), -1);

	/* Negative counts are refused, not subtracted. */
	am_usage y = { .input_tokens = 10, .cache_read = -1 };
	ck_assert_int_eq(am_cost(p, &y, false, &c, &err), -1);
	ck_assert_msg(strstr(err.msg, "negative"), "%s", err.msg);

	/* Zero tokens cost zero. */
	am_usage z = { 0 };
	ck_assert_int_eq(am_cost(p, &z, false, &c, &err), 0);
	ck_assert_int_eq(c, 0);
}
END_TEST

START_TEST(test_long_context_boundary_every_class)
{
	/* Reaching 200,001 through any one input class flips the whole call. */
	const am_price *p = am_pricing_lookup(table, "claude-sonnet-4-5");
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(p->long_context_threshold, 200000);
	for (int cls = 0; cls < 5; cls++) {
		if (cls == 1)
			continue;
		am_usage u = one_class(cls, 199999);
		u.output_tokens = 10;
		int64_t base, lc;
		ck_assert_int_eq(am_cost(p, &u, false, &base, NULL), 0);
		am_usage v = u;
		v.input_tokens += 1; /* 200,000: still base */
		int64_t at;
		ck_assert_int_eq(am_cost(p, &v, false, &at, NULL), 0);
		ck_assert_int_eq(at, base + p->input);
		v.input_tokens += 1; /* 200,001 */
		ck_assert_int_eq(am_cost(p, &v, false, &lc, NULL), 0);
		int64_t rate[5] = { p->lc_input, p->lc_output, p->lc_cache_write_5m,
			            p->lc_cache_write_1h, p->lc_cache_read };
		ck_assert_int_eq(lc, 199999 * rate[cls] + 2 * p->lc_input + 10 * p->lc_output);
	}
}
END_TEST

static Suite *cost_suite(void)
{
	Suite *s = suite_create("cost");
	TCase *tc = tcase_create("table");
	tcase_add_checked_fixture(tc, load, unload);
	tcase_add_test(tc, test_table_matches_file);
	tcase_add_test(tc, test_every_model_every_class);
	tcase_add_test(tc, test_every_model_mixed_call);
	tcase_add_loop_test(tc, test_documented_examples, 0,
	                    (int)(sizeof examples / sizeof examples[0]));
	tcase_add_loop_test(tc, test_served_examples, 0, (int)(sizeof served / sizeof served[0]));
	tcase_add_test(tc, test_band_with_geo);
	tcase_add_test(tc, test_refused_combinations);
	tcase_add_test(tc, test_every_table_model_has_an_example);
	tcase_add_test(tc, test_long_context_sums_by_hand);
	tcase_add_test(tc, test_unknown_model);
	tcase_add_test(tc, test_most_expensive);
	tcase_add_test(tc, test_batch_rounding_and_percent);
	tcase_add_test(tc, test_overflow_bounds);
	tcase_add_test(tc, test_long_context_boundary_every_class);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(cost_suite());
}
