/* fuzz_litellm: importing LiteLLM's model_prices_and_context_window.json
 * (src/litellm.c, over jsonlex.c and money.c).
 *
 * The input is the LiteLLM file; the effective table is the real
 * data/pricing.json. The report must be consistent (counts, sorted unique
 * ids, a reason for every skipped entry and a diff for every changed one,
 * non-negative exact prices). Then, as `aimeter pricing import` does, the
 * added and changed entries are written to a fresh override file: that must
 * succeed - an entry the import accepts must be one the table can hold - and
 * the table loaded with that override must carry exactly the imported
 * prices. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_price.h"
#include "fuzz_util.h"
#include "litellm.h"
#include "pricing.h"

#define SHIPPED AIMETER_SOURCE_DIR "/data/pricing.json"

static am_pricing *table;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	am_err err;
	if (am_pricing_load(&table, SHIPPED, NULL, &err) != 0) {
		fprintf(stderr, "fuzz_litellm: %s\n", err.msg);
		abort();
	}
	return 0;
}

static void check_item(const am_litellm_item *it)
{
	FUZZ_CHECK_CSTR(it->model);
	switch (it->status) {
	case AM_LITELLM_SKIPPED:
		FUZZ_CHECK(it->detail && it->detail[0]);
		return;
	case AM_LITELLM_CHANGED:
		FUZZ_CHECK(it->detail && it->detail[0]);
		break;
	case AM_LITELLM_ADDED:
		FUZZ_CHECK(!it->detail && !am_pricing_lookup(table, it->model));
		break;
	case AM_LITELLM_UNCHANGED: {
		FUZZ_CHECK(!it->detail);
		const am_price *old = am_pricing_lookup(table, it->model);
		FUZZ_CHECK(old != NULL);
		break;
	}
	default:
		FUZZ_CHECK(!"a known status");
	}
	FUZZ_CHECK(it->model[0] != '\0');
	FUZZ_CHECK(!it->warning || it->warning[0]);
	const am_price *p = &it->price;
	FUZZ_CHECK(!strcmp(p->model, it->model) && !strcmp(p->source, "override"));
	FUZZ_CHECK(!am_price_is_alias(p));
	FUZZ_CHECK(p->input >= 0 && p->output >= 0 && p->cache_write_5m >= 0 &&
	           p->cache_write_1h >= 0 && p->cache_read >= 0);
	FUZZ_CHECK(p->lc_input >= 0 && p->lc_output >= 0 && p->lc_cache_write_5m >= 0 &&
	           p->lc_cache_write_1h >= 0 && p->lc_cache_read >= 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in_path = fuzz_path(0, "model_prices_and_context_window.json");
	const char *ov_path = fuzz_path(1, "override.json");
	fuzz_write_file(in_path, data, size);

	am_litellm_result r;
	am_err err;
	err.msg[0] = '\0';
	if (am_litellm_import(table, in_path, &r, &err) != 0) {
		FUZZ_CHECK(err.msg[0] != '\0' && r.n == 0 && r.items == NULL);
		return 0;
	}
	FUZZ_CHECK(r.added + r.changed + r.unchanged + r.skipped == r.n);
	FUZZ_CHECK(!strcmp(r.source_name, "model_prices_and_context_window.json"));
	for (size_t i = 0; i < r.n; i++) {
		/* Sorted and unique, except that two over-long ids skipped for
		 * their length may share the 127 characters shown. */
		if (i > 0) {
			int c = strcmp(r.items[i - 1].model, r.items[i].model);
			FUZZ_CHECK(c < 0 || (c == 0 && r.items[i].status == AM_LITELLM_SKIPPED &&
			                     strlen(r.items[i].model) == sizeof r.items[i].model - 1));
		}
		check_item(&r.items[i]);
	}

	/* Write what the import found, then read the table back with it. */
	unlink(ov_path);
	if (am_litellm_write_override(table, &r, ov_path, &err) != 0) {
		fprintf(stderr, "writing the import failed: %s\n", err.msg);
		FUZZ_CHECK(!"an accepted import can be written");
	}
	if (r.added + r.changed == 0) {
		FUZZ_CHECK(access(ov_path, F_OK) != 0);
	} else {
		am_pricing *t;
		FUZZ_CHECK(am_pricing_load(&t, SHIPPED, ov_path, &err) == 0);
		for (size_t i = 0; i < r.n; i++) {
			const am_litellm_item *it = &r.items[i];
			if (it->status != AM_LITELLM_ADDED && it->status != AM_LITELLM_CHANGED)
				continue;
			const am_price *now = am_pricing_lookup(t, it->model);
			FUZZ_CHECK(now && fuzz_same_price(now, &it->price));
		}
		am_pricing_free(t);
	}
	am_litellm_result_free(&r);
	return 0;
}
