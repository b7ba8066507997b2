/* fuzz_pricing: aimeter's own price-file format (src/pricing.c, jsonlex.c,
 * money.c).
 *
 * One choice byte: bit 0 clear reads the input as the shipped table, set
 * reads it as a user's override laid over the real data/pricing.json. When
 * the load succeeds, the table must be well formed (sorted unique ids that
 * look themselves up, aliases resolved to models with their prices, sane
 * fields, a cost for every entry or an overflow error) and must survive a
 * round trip: written back in the file format with am_price_to_json and
 * loaded again, it gives the same table field for field. That round trip is
 * what `aimeter pricing import` relies on when it writes an override. */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_price.h"
#include "fuzz_util.h"
#include "pricing.h"
#include "usage.h"

#define SHIPPED AIMETER_SOURCE_DIR "/data/pricing.json"

static void check_entry(const am_pricing *t, const am_price *p)
{
	FUZZ_CHECK_CSTR(p->model);
	FUZZ_CHECK_CSTR(p->canonical);
	FUZZ_CHECK_CSTR(p->deprecation_date);
	FUZZ_CHECK_CSTR(p->pool);
	FUZZ_CHECK_CSTR(p->tier);
	FUZZ_CHECK_CSTR(p->source);
	size_t n = strlen(p->model);
	FUZZ_CHECK(n > 0 && fuzz_utf8_ok(p->model, n));
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK((unsigned char)p->model[i] > ' ' && p->model[i] != 0x7f);
	FUZZ_CHECK(am_pricing_lookup(t, p->model) == p);
	FUZZ_CHECK(p->input >= 0 && p->output >= 0 && p->cache_write_5m >= 0 &&
	           p->cache_write_1h >= 0 && p->cache_read >= 0);
	FUZZ_CHECK(p->lc_input >= 0 && p->lc_output >= 0 && p->lc_cache_write_5m >= 0 &&
	           p->lc_cache_write_1h >= 0 && p->lc_cache_read >= 0);
	FUZZ_CHECK(p->long_context_threshold >= 0);
	FUZZ_CHECK(p->batch_discount_pct >= 0 && p->batch_discount_pct <= 100);
	FUZZ_CHECK(p->pool[0] != '\0');
	FUZZ_CHECK(!strcmp(p->tier, "") || !strcmp(p->tier, "haiku") || !strcmp(p->tier, "sonnet") ||
	           !strcmp(p->tier, "opus"));
	FUZZ_CHECK(!strcmp(p->source, "shipped") || !strcmp(p->source, "override"));
	size_t dl = strlen(p->deprecation_date);
	FUZZ_CHECK(dl == 0 || (dl == 10 && p->deprecation_date[4] == '-' &&
	                       p->deprecation_date[7] == '-'));
	if (am_price_is_alias(p)) {
		const am_price *target = am_pricing_lookup(t, p->canonical);
		FUZZ_CHECK(target && !am_price_is_alias(target));
		am_price copy = *target;
		memcpy(copy.model, p->model, sizeof copy.model);
		memcpy(copy.canonical, p->canonical, sizeof copy.canonical);
		FUZZ_CHECK(fuzz_same_price(&copy, p));
	}
	/* A cost for every entry, or an overflow error: never a wrapped value. */
#define U(i, o, w5, w1, r)                                                                \
	{ .input_tokens = (i), .output_tokens = (o), .cache_write_5m = (w5),                 \
	  .cache_write_1h = (w1), .cache_read = (r) }
	static const am_usage uses[] = {
		U(1, 1, 1, 1, 1),
		U(1000000, 64000, 0, 0, 0),
		U(300000, 1, 2, 3, 4),
		U(INT64_MAX / 4, 0, 0, 0, 1),
		/* served fast in the US with searches: an error where the model
		 * has no fast price, else a cost */
		{ .input_tokens = 1000, .output_tokens = 1000, .web_search_requests = 5,
		  .speed = "fast", .inference_geo = "us" },
	};
#undef U
	for (size_t i = 0; i < sizeof uses / sizeof uses[0]; i++)
		for (int batch = 0; batch < 2; batch++) {
			int64_t cost = -1, full = -1;
			am_err err;
			if (am_cost(p, &uses[i], batch, &cost, &err) == 0) {
				FUZZ_CHECK(cost >= 0);
				if (batch && am_cost(p, &uses[i], false, &full, &err) == 0)
					FUZZ_CHECK(cost <= full);
			} else {
				FUZZ_CHECK(cost == -1 && err.msg[0] != '\0');
			}
		}
}

/* The table in the file format, as a shipped file. */
static char *table_to_text(const am_pricing *t)
{
	json_t *root = json_object(), *models = json_object(), *aliases = json_object();
	json_object_set_new(root, "format", json_string("aimeter-pricing"));
	json_object_set_new(root, "version", json_integer(1));
	json_object_set_new(root, "unit", json_string("USD per million tokens"));
	for (size_t i = 0; i < am_pricing_count(t); i++) {
		const am_price *p = am_pricing_at(t, i);
		if (am_price_is_alias(p))
			FUZZ_CHECK(json_object_set_new(aliases, p->model, json_string(p->canonical)) ==
			           0);
		else
			FUZZ_CHECK(json_object_set_new(models, p->model, am_price_to_json(p)) == 0);
	}
	json_object_set_new(root, "models", models);
	json_object_set_new(root, "aliases", aliases);
	char *text = json_dumps(root, JSON_COMPACT);
	FUZZ_CHECK(text != NULL);
	json_decref(root);
	return text;
}

static void check_round_trip(const am_pricing *t)
{
	char *text = table_to_text(t);
	const char *path = fuzz_path(1, "roundtrip.json");
	fuzz_write_file(path, text, strlen(text));
	free(text);
	am_pricing *back;
	am_err err;
	if (am_pricing_load(&back, path, NULL, &err) != 0) {
		fprintf(stderr, "round trip does not load: %s\n", err.msg);
		FUZZ_CHECK(!"the table written back loads");
	}
	FUZZ_CHECK(am_pricing_count(back) == am_pricing_count(t));
	for (size_t i = 0; i < am_pricing_count(t); i++)
		FUZZ_CHECK(fuzz_same_price(am_pricing_at(t, i), am_pricing_at(back, i)));
	am_pricing_free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_in in = { data, size };
	bool override = fuzz_byte(&in) & 1;
	const char *path = fuzz_path(0, "input.json");
	fuzz_write_file(path, in.p, in.n);

	am_pricing *t;
	am_err err;
	err.msg[0] = '\0';
	int rc = override ? am_pricing_load(&t, SHIPPED, path, &err)
	                  : am_pricing_load(&t, path, NULL, &err);
	if (rc != 0) {
		FUZZ_CHECK(t == NULL && err.msg[0] != '\0');
		return 0;
	}
	for (size_t i = 0; i < am_pricing_count(t); i++) {
		const am_price *p = am_pricing_at(t, i);
		if (i > 0)
			FUZZ_CHECK(strcmp(am_pricing_at(t, i - 1)->model, p->model) < 0);
		check_entry(t, p);
	}
	FUZZ_CHECK(am_pricing_at(t, am_pricing_count(t)) == NULL);
	const am_price *top = am_pricing_most_expensive(t);
	FUZZ_CHECK((top == NULL) == (am_pricing_count(t) == 0));
	check_round_trip(t);
	am_pricing_free(t);
	return 0;
}
