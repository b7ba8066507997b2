/* litellm: LiteLLM price-file import (see litellm.h for the field mapping).
 *
 * The file is loaded with jsonlex so that every price keeps its source text;
 * each anthropic entry becomes a full am_price that starts from the effective
 * table's entry for the same id (or from nothing, for a new id) and takes
 * LiteLLM's fields over it. Comparing that with the table gives the report.
 * Writing merges the changed entries into the override document and proves
 * the result loads before it replaces the old file. */
#include "litellm.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "jsonlex.h"
#include "money.h"
#include "paths.h"

#define LC_THRESHOLD 200000 /* LiteLLM's *_above_200k_tokens */

/* A growing "; "-separated sentence list. */
struct sb {
	char *s;
	size_t len, cap;
};

__attribute__((format(printf, 2, 3))) static void sb_add(struct sb *b, const char *fmt, ...)
{
	char piece[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(piece, sizeof piece, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	size_t plen = strlen(piece), need = b->len + plen + 3;
	if (need > b->cap) {
		b->cap = need * 2;
		b->s = am_xrealloc(b->s, b->cap);
	}
	if (b->len) {
		memcpy(b->s + b->len, "; ", 2);
		b->len += 2;
	}
	memcpy(b->s + b->len, piece, plen + 1);
	b->len += plen;
}

static const char *mtok(int64_t v, char *buf, size_t n)
{
	am_money_format_per_mtok(v, buf, n);
	return buf;
}

/* One LiteLLM USD-per-token field. Absent or null leaves *present false. */
static int per_token(json_t *entry, const char *key, bool *present, int64_t *out, am_err *err)
{
	json_t *v = json_object_get(entry, key);
	*present = false;
	if (!v || json_is_null(v))
		return 0;
	char text[96];
	if (am_jsonlex_decimal_text(v, text, sizeof text, err) ||
	    am_money_parse_per_token(text, out, err))
		return am_err_prefix(err, "%s", key);
	*present = true;
	return 0;
}

static int times(int64_t v, int64_t num, int64_t den, const char *what, int64_t *out, am_err *err)
{
	int64_t t;
	if (am_money_mul(v, num, &t) || t % den)
		return am_err_set(err, "%s cannot be derived exactly from the input price", what);
	*out = t / den;
	return 0;
}

/* The 1h write price: LiteLLM's when it is the documented 2x input, else
 * `fallback` with a warning (LiteLLM carries wrong 1h prices). */
static void one_hour(bool have, int64_t litellm, int64_t twice_input, int64_t fallback,
                     bool from_table, const char *label, int64_t *out, struct sb *warn)
{
	char a[32], b[32];
	if (!have) {
		*out = fallback;
		return;
	}
	if (litellm == twice_input) {
		*out = litellm;
		return;
	}
	*out = fallback;
	if (litellm != fallback)
		sb_add(warn,
		       "LiteLLM's %s price $%s/MTok is not 2x its input price, a known LiteLLM "
		       "error; %s $%s/MTok",
		       label, mtok(litellm, a, sizeof a),
		       from_table ? "keeping the table's" : "using 2x input,",
		       mtok(fallback, b, sizeof b));
}

/* A LiteLLM number as an exact pUSD-scaled value ("1.1" -> 1.1e12). */
static int scaled(json_t *v, int64_t *out, am_err *err)
{
	char text[96];
	return am_jsonlex_decimal_text(v, text, sizeof text, err) ||
	               am_money_parse_usd(text, out, err)
	           ? -1
	           : 0;
}

/* Fast-mode and US multipliers (provider_specific_entry {"fast", "us"}) and
 * the search fee (search_context_cost_per_query, USD per search): taken for
 * a model the table lacks; for a known model the table's stay, with a
 * warning when LiteLLM says otherwise (it has been wrong before). */
static int read_multipliers(json_t *e, const am_price *old, am_price *p, struct sb *warn,
                            am_err *err)
{
	json_t *pse = json_object_get(e, "provider_specific_entry");
	static const char *const keys[] = { "fast", "us" };
	int *slot[] = { &p->fast_pct, &p->geo_us_pct };
	for (int i = 0; i < 2 && json_is_object(pse); i++) {
		json_t *v = json_object_get(pse, keys[i]);
		int64_t x;
		if (!v || json_is_null(v))
			continue;
		if (scaled(v, &x, err) || x % (AM_PUSD_PER_USD / 100) || x <= 0 ||
		    x > 100 * AM_PUSD_PER_USD)
			return am_err_set(err, "provider_specific_entry.%s: expected a multiplier from "
			                       "0.01 to 100", keys[i]);
		int pct = (int)(x / (AM_PUSD_PER_USD / 100));
		int have = old ? (i == 0 ? old->fast_pct : old->geo_us_pct) : 0;
		if (!old)
			*slot[i] = pct;
		else if (pct != (have > 0 ? have : 100))
			sb_add(warn, "LiteLLM's %s multiplier %d%% differs from the table's %d%%; "
			       "keeping the table's", keys[i], pct, have > 0 ? have : 100);
	}
	json_t *search = json_object_get(e, "search_context_cost_per_query");
	json_t *medium = json_is_object(search)
	                     ? json_object_get(search, "search_context_size_medium")
	                     : NULL;
	int64_t fee;
	if (medium && !json_is_null(medium)) {
		if (scaled(medium, &fee, err) || fee < 0)
			return am_err_set(err, "search_context_cost_per_query: expected USD per search");
		if (!old)
			p->web_search_pusd = fee;
		else if (fee != old->web_search_pusd)
			sb_add(warn, "LiteLLM's web search fee differs from the table's; keeping the "
			       "table's");
	}
	return 0;
}

static int read_long_context(json_t *e, const am_price *old, am_price *p, struct sb *warn,
                             am_err *err)
{
	static const char *const keys[] = {
		"input_cost_per_token_above_200k_tokens",
		"output_cost_per_token_above_200k_tokens",
		"cache_creation_input_token_cost_above_200k_tokens",
		"cache_read_input_token_cost_above_200k_tokens",
		"cache_creation_input_token_cost_above_1hr_above_200k_tokens",
	};
	int64_t v[5] = { 0 };
	bool have[5];
	for (size_t i = 0; i < 5; i++)
		if (per_token(e, keys[i], &have[i], &v[i], err))
			return -1;
	if (!have[0] && !have[1])
		return 0; /* LiteLLM is silent: the table's rule stands */
	if (!have[0] || !have[1])
		return am_err_set(err, "%s and %s must come together", keys[0], keys[1]);
	int64_t twice;
	if (am_money_mul(v[0], 2, &twice))
		return am_err_set(err, "%s is too large", keys[0]);
	p->long_context_threshold = LC_THRESHOLD;
	p->lc_input = v[0];
	p->lc_output = v[1];
	if (have[2])
		p->lc_cache_write_5m = v[2];
	else if (times(v[0], 125, 100, "the long-context 5m write price", &p->lc_cache_write_5m, err))
		return -1;
	if (have[3])
		p->lc_cache_read = v[3];
	else if (times(v[0], 1, 10, "the long-context read price", &p->lc_cache_read, err))
		return -1;
	bool from_table = have[4] && old && old->long_context_threshold;
	one_hour(have[4], v[4], twice, from_table ? old->lc_cache_write_1h : twice, from_table,
	         "long-context 1h cache-write", &p->lc_cache_write_1h, warn);
	return 0;
}

/* Builds the entry LiteLLM describes for `id`, starting from `old` (NULL for
 * a model the table does not know). */
static int build_entry(const am_pricing *eff, const char *id, json_t *e, const am_price *old,
                       am_price *p, struct sb *warn, am_err *err)
{
	if (old) {
		*p = *old;
	} else {
		memset(p, 0, sizeof *p);
		p->batch_discount_pct = 50;
		p->geo_us_pct = 100;
		p->web_search_pusd = AM_WEB_SEARCH_PUSD;
		am_pricing_guess_family(eff, id, p);
	}
	snprintf(p->model, sizeof p->model, "%s", id);
	p->canonical[0] = '\0';
	snprintf(p->source, sizeof p->source, "override");

	struct {
		const char *key;
		int64_t *slot;
		bool have;
	} f[] = {
		{ "input_cost_per_token", &p->input, false },
		{ "output_cost_per_token", &p->output, false },
		{ "cache_creation_input_token_cost", &p->cache_write_5m, false },
		{ "cache_read_input_token_cost", &p->cache_read, false },
	};
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
		if (per_token(e, f[i].key, &f[i].have, f[i].slot, err))
			return -1;
	if (!old && (!f[0].have || !f[1].have))
		return am_err_set(err, "a new model needs input_cost_per_token and "
		                       "output_cost_per_token");
	if (!old && !f[2].have && times(p->input, 125, 100, "the 5m write price", f[2].slot, err))
		return -1;
	if (!old && !f[3].have && times(p->input, 1, 10, "the read price", f[3].slot, err))
		return -1;

	int64_t h, twice;
	bool have_h;
	if (per_token(e, "cache_creation_input_token_cost_above_1hr", &have_h, &h, err))
		return -1;
	if (am_money_mul(p->input, 2, &twice))
		return am_err_set(err, "input_cost_per_token is too large");
	one_hour(have_h, h, twice, old ? old->cache_write_1h : twice, old != NULL, "1h cache-write",
	         &p->cache_write_1h, warn);

	if (read_long_context(e, old, p, warn, err) || read_multipliers(e, old, p, warn, err))
		return -1;

	json_t *dep = json_object_get(e, "deprecation_date");
	if (json_is_string(dep)) {
		const char *d = json_string_value(dep);
		bool ok = strlen(d) == 10 && d[4] == '-' && d[7] == '-';
		for (int i = 0; ok && i < 10; i++)
			ok = i == 4 || i == 7 || (d[i] >= '0' && d[i] <= '9');
		/* Months 01-12 and days 01-31 only, as the table's loader demands:
		 * anything else would make the written override fail to load. */
		ok = ok && strncmp(d + 5, "01", 2) >= 0 && strncmp(d + 5, "12", 2) <= 0 &&
		     strncmp(d + 8, "01", 2) >= 0 && strncmp(d + 8, "31", 2) <= 0;
		if (ok)
			memcpy(p->deprecation_date, d, 11);
		else
			sb_add(warn, "ignored deprecation_date '%.20s' (not YYYY-MM-DD)", d);
	}
	return 0;
}

static void diff_price(struct sb *b, const char *name, int64_t old, int64_t new, bool old_set,
                       bool new_set)
{
	char x[32], y[32];
	if (old_set == new_set && (!old_set || old == new))
		return;
	sb_add(b, "%s: %s -> %s", name, old_set ? mtok(old, x, sizeof x) : "none",
	       new_set ? mtok(new, y, sizeof y) : "none");
}

/* "field: old -> new" for every field that differs; NULL when none. */
static char *diff_entries(const am_price *o, const am_price *n)
{
	struct sb b = { 0 };
	diff_price(&b, "input", o->input, n->input, true, true);
	diff_price(&b, "output", o->output, n->output, true, true);
	diff_price(&b, "cache_write_5m", o->cache_write_5m, n->cache_write_5m, true, true);
	diff_price(&b, "cache_write_1h", o->cache_write_1h, n->cache_write_1h, true, true);
	diff_price(&b, "cache_read", o->cache_read, n->cache_read, true, true);
	if (o->batch_discount_pct != n->batch_discount_pct)
		sb_add(&b, "batch_discount_pct: %d -> %d", o->batch_discount_pct,
		       n->batch_discount_pct);
	bool ol = o->long_context_threshold > 0, nl = n->long_context_threshold > 0;
	if (o->long_context_threshold != n->long_context_threshold) {
		char x[24] = "none", y[24] = "none";
		if (ol)
			snprintf(x, sizeof x, "%lld", (long long)o->long_context_threshold);
		if (nl)
			snprintf(y, sizeof y, "%lld", (long long)n->long_context_threshold);
		sb_add(&b, "long_context.above_input_tokens: %s -> %s", x, y);
	}
	diff_price(&b, "long_context.input", o->lc_input, n->lc_input, ol, nl);
	diff_price(&b, "long_context.output", o->lc_output, n->lc_output, ol, nl);
	diff_price(&b, "long_context.cache_write_5m", o->lc_cache_write_5m, n->lc_cache_write_5m,
	           ol, nl);
	diff_price(&b, "long_context.cache_write_1h", o->lc_cache_write_1h, n->lc_cache_write_1h,
	           ol, nl);
	diff_price(&b, "long_context.cache_read", o->lc_cache_read, n->lc_cache_read, ol, nl);
	if (strcmp(o->deprecation_date, n->deprecation_date))
		sb_add(&b, "deprecation_date: %s -> %s",
		       o->deprecation_date[0] ? o->deprecation_date : "none",
		       n->deprecation_date[0] ? n->deprecation_date : "none");
	return b.s;
}

static bool is_anthropic(const char *key, json_t *e)
{
	if (!strcmp(key, "sample_spec") || !json_is_object(e))
		return false;
	json_t *prov = json_object_get(e, "litellm_provider");
	return json_is_string(prov) && !strcmp(json_string_value(prov), "anthropic");
}

static int cmp_item(const void *a, const void *b)
{
	return strcmp(((const am_litellm_item *)a)->model, ((const am_litellm_item *)b)->model);
}

static void import_one(const am_pricing *eff, const char *id, json_t *e, am_litellm_item *it,
                       am_litellm_result *r)
{
	snprintf(it->model, sizeof it->model, "%s", id);
	/* Ids the table refuses (pricing.c check_id) are skipped here rather
	 * than written into an override that would not load. */
	size_t len = strlen(id);
	const char *bad = !len                     ? "empty model id"
	                  : len >= sizeof it->model ? "model id longer than 127 characters"
	                                            : NULL;
	for (const char *c = id; !bad && *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			bad = "model id contains a space or control character";
	if (bad) {
		it->status = AM_LITELLM_SKIPPED;
		it->detail = am_xstrdup(bad);
		r->skipped++;
		return;
	}
	const am_price *old = am_pricing_lookup(eff, id);
	struct sb warn = { 0 };
	am_err e2;
	if (build_entry(eff, id, e, old, &it->price, &warn, &e2)) {
		it->status = AM_LITELLM_SKIPPED;
		it->detail = am_xstrdup(e2.msg);
		free(warn.s);
		r->skipped++;
		return;
	}
	it->warning = warn.s;
	if (!old) {
		it->status = AM_LITELLM_ADDED;
		r->added++;
	} else if ((it->detail = diff_entries(old, &it->price))) {
		it->status = AM_LITELLM_CHANGED;
		r->changed++;
	} else {
		it->status = AM_LITELLM_UNCHANGED;
		r->unchanged++;
	}
}

int am_litellm_import(const am_pricing *effective, const char *path, am_litellm_result *out,
                      am_err *err)
{
	memset(out, 0, sizeof *out);
	json_t *root;
	if (am_jsonlex_load_file(path, true, &root, NULL, err))
		return -1;
	if (!json_is_object(root)) {
		json_decref(root);
		return am_err_set(err, "%s: expected a JSON object keyed by model name", path);
	}
	const char *slash = strrchr(path, '/');
	snprintf(out->source_name, sizeof out->source_name, "%s", slash ? slash + 1 : path);

	size_t n = 0;
	const char *key;
	json_t *e;
	json_object_foreach (root, key, e)
		if (is_anthropic(key, e))
			n++;
	out->items = am_xcalloc(n ? n : 1, sizeof *out->items);
	json_object_foreach (root, key, e) {
		if (!is_anthropic(key, e)) {
			out->other_entries++;
			continue;
		}
		import_one(effective, key, e, &out->items[out->n++], out);
	}
	qsort(out->items, out->n, sizeof *out->items, cmp_item);
	json_decref(root);
	return 0;
}

void am_litellm_result_free(am_litellm_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		free(r->items[i].detail);
		free(r->items[i].warning);
	}
	free(r->items);
	memset(r, 0, sizeof *r);
}

/* ---- writing the override ------------------------------------------------ */

static int write_all(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t w = write(fd, s, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		s += w;
		len -= (size_t)w;
	}
	return 0;
}

/* The override document with the imported entries merged in. */
static json_t *merged_doc(const am_litellm_result *r, const char *path, am_err *err)
{
	json_t *root;
	bool missing;
	if (am_jsonlex_load_file(path, true, &root, &missing, err)) {
		if (!missing)
			return NULL;
		root = json_object();
		json_object_set_new(root, "format", json_string("aimeter-pricing"));
		json_object_set_new(root, "version", json_integer(1));
		json_object_set_new(root, "unit", json_string("USD per million tokens"));
	}
	if (!json_is_object(root)) {
		json_decref(root);
		am_err_set(err, "%s: expected a JSON object at the top", path);
		return NULL;
	}
	json_t *models = json_object_get(root, "models");
	if (!models) {
		models = json_object();
		json_object_set_new(root, "models", models);
	} else if (!json_is_object(models)) {
		json_decref(root);
		am_err_set(err, "%s: \"models\" must be an object", path);
		return NULL;
	}
	json_t *aliases = json_object_get(root, "aliases");
	for (size_t i = 0; i < r->n; i++) {
		const am_litellm_item *it = &r->items[i];
		if (it->status != AM_LITELLM_ADDED && it->status != AM_LITELLM_CHANGED)
			continue;
		json_t *o = am_price_to_json(&it->price);
		json_object_set_new(o, "note", json_sprintf("imported from %s", r->source_name));
		json_object_set_new(models, it->model, o);
		if (json_is_object(aliases))
			json_object_del(aliases, it->model);
	}
	return root;
}

int am_litellm_write_override(const am_pricing *effective, const am_litellm_result *r,
                              const char *override_path, am_err *err)
{
	if (r->added + r->changed == 0)
		return 0;
	json_t *root = merged_doc(r, override_path, err);
	if (!root)
		return -1;
	char *text = json_dumps(root, JSON_INDENT(2));
	json_decref(root);
	if (!text)
		return am_err_set(err, "cannot serialize the price override");

	int rc = -1;
	char tmp[4096];
	int fd = -1;
	if (am_mkdir_parent(override_path, err))
		goto out;
	if (snprintf(tmp, sizeof tmp, "%s.XXXXXX", override_path) >= (int)sizeof tmp) {
		am_err_set(err, "%s: path is too long", override_path);
		goto out;
	}
	fd = mkstemp(tmp); /* created 0600 */
	if (fd < 0) {
		am_err_set(err, "cannot create %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (fchmod(fd, 0600) || write_all(fd, text, strlen(text)) || write_all(fd, "\n", 1) ||
	    fsync(fd)) {
		am_err_set(err, "cannot write %s: %s", tmp, strerror(errno));
		goto unlink_tmp;
	}
	if (close(fd)) {
		fd = -1;
		am_err_set(err, "cannot write %s: %s", tmp, strerror(errno));
		goto unlink_tmp;
	}
	fd = -1;
	am_pricing *check;
	if (am_pricing_load(&check, am_pricing_shipped_path(effective), tmp, err)) {
		am_err_prefix(err, "the merged override would not load");
		goto unlink_tmp;
	}
	am_pricing_free(check);
	if (rename(tmp, override_path)) {
		am_err_set(err, "cannot replace %s: %s", override_path, strerror(errno));
		goto unlink_tmp;
	}
	rc = 0;
	goto out;
unlink_tmp:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
out:
	free(text);
	return rc;
}
