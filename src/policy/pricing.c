/* pricing: the price table (shipped file + override file) and exact cost.
 *
 * Both files use one format (README "Price table"): a "models" object keyed
 * by id whose prices are exact decimal strings in USD per million tokens, and
 * an "aliases" object mapping an alias to the id it stands for. The shipped
 * file must give every field of every model. The override is laid over it
 * entry by entry: an override entry for a known id starts from that entry and
 * replaces only the fields it names; an entry for a new id needs input and
 * output, and its cache prices follow the documented multipliers (5m write
 * 1.25x input, 1h write 2x, read 0.1x) when not given.
 *
 * After loading, the table is one sorted array with a row per id (aliases
 * included, carrying their target's prices), so lookups are a binary search
 * and the table is read-only from then on. Cost is int64 picodollars with
 * every product and sum overflow-checked. */
#include "pricing.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "jsonlex.h"
#include "money.h"
#include "paths.h"

#define AM_PRICE_ID_MAX 128 /* sizeof am_price.model */
#define FORMAT_NAME    "aimeter-pricing"
#define FORMAT_VERSION 1
#define FORMAT_UNIT    "USD per million tokens"

enum {
	F_INPUT = 1 << 0,
	F_OUTPUT = 1 << 1,
	F_CW5 = 1 << 2,
	F_CW1 = 1 << 3,
	F_CR = 1 << 4,
	F_BATCH = 1 << 5,
	F_LC = 1 << 6,
	F_DEPR = 1 << 7,
	F_POOL = 1 << 8,
	F_TIER = 1 << 9,
	F_SHIPPED_REQUIRED = F_INPUT | F_OUTPUT | F_CW5 | F_CW1 | F_CR | F_BATCH | F_POOL | F_TIER,
};

struct price_field {
	const char *key;
	unsigned flag;
	size_t off;    /* the base price in am_price */
	size_t lc_off; /* its long-context counterpart */
};

static const struct price_field price_fields[] = {
	{ "input", F_INPUT, offsetof(am_price, input), offsetof(am_price, lc_input) },
	{ "output", F_OUTPUT, offsetof(am_price, output), offsetof(am_price, lc_output) },
	{ "cache_write_5m", F_CW5, offsetof(am_price, cache_write_5m),
	  offsetof(am_price, lc_cache_write_5m) },
	{ "cache_write_1h", F_CW1, offsetof(am_price, cache_write_1h),
	  offsetof(am_price, lc_cache_write_1h) },
	{ "cache_read", F_CR, offsetof(am_price, cache_read), offsetof(am_price, lc_cache_read) },
};
#define NPRICE (sizeof price_fields / sizeof price_fields[0])

/* The price_fields index of `key`, or NPRICE. */
static size_t price_field_index(const char *key)
{
	size_t i;
	for (i = 0; i < NPRICE; i++)
		if (!strcmp(key, price_fields[i].key))
			break;
	return i;
}

static int64_t *price_slot(am_price *p, size_t off)
{
	return (int64_t *)(void *)((char *)p + off);
}

static int64_t price_get(const am_price *p, size_t off)
{
	return *(const int64_t *)(const void *)((const char *)p + off);
}

/* ---- the rows being assembled ------------------------------------------- */

struct row {
	am_price p;
	char target[128];  /* alias target; "" for a model */
	const char *file;  /* which file declared it, for error messages */
	unsigned guess;    /* F_POOL/F_TIER still to be derived */
};

struct rows {
	struct row *v;
	size_t n, cap;
};

struct am_pricing {
	am_price *v;
	size_t n;
	char *shipped_path;
	char *override_path;
};

static struct row *rows_find(struct rows *r, const char *id)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->v[i].p.model, id))
			return &r->v[i];
	return NULL;
}

static struct row *rows_add(struct rows *r, const char *id)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 32;
		r->v = am_xrealloc(r->v, r->cap * sizeof *r->v);
	}
	struct row *row = &r->v[r->n++];
	memset(row, 0, sizeof *row);
	snprintf(row->p.model, sizeof row->p.model, "%s", id);
	return row;
}

/* ---- parsing one file ---------------------------------------------------- */

static int check_id(const char *file, const char *what, const char *id, am_err *err)
{
	size_t len = strlen(id);
	if (len == 0 || len >= AM_PRICE_ID_MAX)
		return am_err_set(err, "%s: %s id '%.40s' must be 1 to 127 characters", file, what,
		                  id);
	for (const char *c = id; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			return am_err_set(err, "%s: %s id '%s' contains a space or control character",
			                  file, what, id);
	return 0;
}

static bool valid_date(const char *s)
{
	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return false;
	int month = (s[5] - '0') * 10 + (s[6] - '0');
	int day = (s[8] - '0') * 10 + (s[9] - '0');
	return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

static int parse_mtok(const json_t *v, int64_t *out, am_err *err)
{
	char text[96];
	if (am_jsonlex_decimal_text(v, text, sizeof text, err) ||
	    am_money_parse_per_mtok(text, out, err))
		return -1;
	return 0;
}

static int parse_long_context(json_t *v, am_price *p, am_err *err)
{
	if (json_is_null(v)) {
		p->long_context_threshold = 0;
		for (size_t i = 0; i < NPRICE; i++)
			*price_slot(p, price_fields[i].lc_off) = 0;
		return 0;
	}
	if (!json_is_object(v))
		return am_err_set(err, "long_context: expected an object or null");
	unsigned seen = 0;
	const char *key;
	json_t *child;
	json_object_foreach (v, key, child) {
		size_t i = price_field_index(key);
		if (i < NPRICE) {
			if (parse_mtok(child, price_slot(p, price_fields[i].lc_off), err))
				return am_err_prefix(err, "long_context.%s", key);
			seen |= price_fields[i].flag;
		} else if (!strcmp(key, "above_input_tokens")) {
			if (!json_is_integer(child) || json_integer_value(child) <= 0)
				return am_err_set(err, "long_context.above_input_tokens: expected a "
				                       "positive integer");
			p->long_context_threshold = json_integer_value(child);
		} else {
			return am_err_set(err, "long_context: unknown key '%s'", key);
		}
	}
	if (!p->long_context_threshold)
		return am_err_set(err, "long_context: above_input_tokens is missing");
	for (size_t i = 0; i < NPRICE; i++)
		if (!(seen & price_fields[i].flag))
			return am_err_set(err, "long_context: %s is missing", price_fields[i].key);
	return 0;
}

static int copy_string(const json_t *v, char *dst, size_t n, bool allow_empty, const char *key,
                       am_err *err)
{
	if (!json_is_string(v))
		return am_err_set(err, "%s: expected a string", key);
	const char *s = json_string_value(v);
	if ((!allow_empty && !*s) || strlen(s) >= n)
		return am_err_set(err, "%s: expected 1 to %zu characters", key, n - 1);
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

/* An exact decimal (a string or a number) scaled by 1e12, as money is. */
static int parse_scaled(const json_t *v, int64_t *out, am_err *err)
{
	char text[96];
	if (am_jsonlex_decimal_text(v, text, sizeof text, err) ||
	    am_money_parse_usd(text, out, err))
		return -1;
	return 0;
}

/* A multiplier as an exact decimal ("6", "1.1") in percent, 1% to 10000%. */
static int parse_pct(const json_t *v, int *out, am_err *err)
{
	int64_t pusd;
	if (parse_scaled(v, &pusd, err))
		return -1;
	if (pusd % (AM_PUSD_PER_USD / 100) || pusd < AM_PUSD_PER_USD / 100 ||
	    pusd > 100 * AM_PUSD_PER_USD)
		return am_err_set(err, "expected a multiplier from 0.01 to 100 in steps of 0.01");
	*out = (int)(pusd / (AM_PUSD_PER_USD / 100));
	return 0;
}

/* A fee in USD per 1,000 uses, as pUSD per use (exactly). */
static int parse_per_1000(const json_t *v, int64_t *out, am_err *err)
{
	int64_t pusd;
	if (parse_scaled(v, &pusd, err))
		return -1;
	if (pusd < 0 || pusd % 1000)
		return am_err_set(err, "expected a non-negative USD amount per 1,000 uses");
	*out = pusd / 1000;
	return 0;
}

/* "earlier": [{"until": "YYYY-MM-DD", <base rates that held before it>}],
 * sorted by until; each entry names at least one rate. */
static int parse_earlier(json_t *v, am_price *p, am_err *err)
{
	if (!json_is_array(v))
		return am_err_set(err, "expected an array");
	if (json_array_size(v) > AM_PRICE_MAX_EARLIER)
		return am_err_set(err, "at most %d entries", AM_PRICE_MAX_EARLIER);
	int n = 0;
	size_t i;
	json_t *e;
	json_array_foreach (v, i, e) {
		struct am_price_earlier *pe = &p->earlier[n];
		memset(pe, 0, sizeof *pe);
		if (!json_is_object(e))
			return am_err_set(err, "[%zu]: expected an object", i);
		const char *key;
		json_t *child;
		json_object_foreach (e, key, child) {
			size_t k = price_field_index(key);
			if (k < NPRICE) {
				if (parse_mtok(child, &pe->rate[k], err))
					return am_err_prefix(err, "[%zu].%s", i, key);
				pe->fields |= 1u << k;
			} else if (!strcmp(key, "until")) {
				if (!json_is_string(child) || !valid_date(json_string_value(child)))
					return am_err_set(err, "[%zu].until: expected \"YYYY-MM-DD\"", i);
				memcpy(pe->until, json_string_value(child), 11);
			} else if (strcmp(key, "note") && strcmp(key, "source")) {
				return am_err_set(err, "[%zu]: unknown key '%s'", i, key);
			}
		}
		if (!pe->until[0] || !pe->fields)
			return am_err_set(err, "[%zu]: needs \"until\" and at least one rate", i);
		if (n > 0 && strcmp(p->earlier[n - 1].until, pe->until) >= 0)
			return am_err_set(err, "[%zu]: entries must be in increasing order of until", i);
		n++;
	}
	p->nearlier = n;
	return 0;
}

/* Applies the fields of one model object onto *p; *present gets the flags of
 * the fields it named. Errors are relative to the entry (the caller adds the
 * file and id). */
static int parse_entry(json_t *obj, am_price *p, unsigned *present, am_err *err)
{
	*present = 0;
	if (!json_is_object(obj))
		return am_err_set(err, "expected an object");
	const char *key;
	json_t *v;
	json_object_foreach (obj, key, v) {
		size_t i = price_field_index(key);
		if (i < NPRICE) {
			if (parse_mtok(v, price_slot(p, price_fields[i].off), err))
				return am_err_prefix(err, "%s", key);
			*present |= price_fields[i].flag;
		} else if (!strcmp(key, "batch_discount_pct")) {
			if (!json_is_integer(v) || json_integer_value(v) < 0 ||
			    json_integer_value(v) > 100)
				return am_err_set(err, "%s: expected an integer from 0 to 100", key);
			p->batch_discount_pct = (int)json_integer_value(v);
			*present |= F_BATCH;
		} else if (!strcmp(key, "long_context")) {
			if (parse_long_context(v, p, err))
				return -1;
			*present |= F_LC;
		} else if (!strcmp(key, "deprecation_date")) {
			if (json_is_null(v)) {
				p->deprecation_date[0] = '\0';
			} else if (!json_is_string(v) || !valid_date(json_string_value(v))) {
				return am_err_set(err, "%s: expected \"YYYY-MM-DD\" or null", key);
			} else {
				memcpy(p->deprecation_date, json_string_value(v), 11);
			}
			*present |= F_DEPR;
		} else if (!strcmp(key, "pool")) {
			if (copy_string(v, p->pool, sizeof p->pool, false, key, err))
				return -1;
			*present |= F_POOL;
		} else if (!strcmp(key, "tier")) {
			if (copy_string(v, p->tier, sizeof p->tier, true, key, err))
				return -1;
			if (*p->tier && strcmp(p->tier, "haiku") && strcmp(p->tier, "sonnet") &&
			    strcmp(p->tier, "opus"))
				return am_err_set(err, "tier: expected \"haiku\", \"sonnet\", "
				                       "\"opus\" or \"\"");
			*present |= F_TIER;
		} else if (!strcmp(key, "fast_multiplier") || !strcmp(key, "us_multiplier")) {
			int *slot = key[0] == 'f' ? &p->fast_pct : &p->geo_us_pct;
			if (json_is_null(v))
				*slot = key[0] == 'f' ? 0 : 100;
			else if (parse_pct(v, slot, err))
				return am_err_prefix(err, "%s", key);
		} else if (!strcmp(key, "web_search_per_1000")) {
			if (parse_per_1000(v, &p->web_search_pusd, err))
				return am_err_prefix(err, "%s", key);
		} else if (!strcmp(key, "earlier")) {
			if (parse_earlier(v, p, err))
				return am_err_prefix(err, "earlier");
		} else if (!strcmp(key, "name") || !strcmp(key, "note") || !strcmp(key, "source")) {
			if (!json_is_string(v) && !json_is_null(v))
				return am_err_set(err, "%s: expected a string", key);
		} else {
			return am_err_set(err, "unknown key '%s'", key);
		}
	}
	return 0;
}

/* exact × num / den, or -1 when that is not a whole number of pUSD. */
static int scaled_exact(int64_t v, int64_t num, int64_t den, int64_t *out)
{
	int64_t t;
	if (am_money_mul(v, num, &t) || t % den)
		return -1;
	*out = t / den;
	return 0;
}

/* Cache prices an override entry for a new model left out: the documented
 * multipliers of the input price (1.25x for a 5-minute write, 2x for a
 * 1-hour write, 0.1x for a read). */
static int derive_cache_prices(am_price *p, unsigned present, am_err *err)
{
	static const struct {
		unsigned flag;
		size_t off;
		int64_t num, den;
		const char *key;
	} rule[] = {
		{ F_CW5, offsetof(am_price, cache_write_5m), 125, 100, "cache_write_5m" },
		{ F_CW1, offsetof(am_price, cache_write_1h), 2, 1, "cache_write_1h" },
		{ F_CR, offsetof(am_price, cache_read), 1, 10, "cache_read" },
	};
	for (size_t i = 0; i < sizeof rule / sizeof rule[0]; i++) {
		if (present & rule[i].flag)
			continue;
		if (scaled_exact(p->input, rule[i].num, rule[i].den, price_slot(p, rule[i].off)))
			return am_err_set(err, "%s: cannot be derived exactly from input; give it",
			                  rule[i].key);
	}
	return 0;
}

static const char *missing_field(unsigned present, unsigned required)
{
	static const struct {
		unsigned flag;
		const char *key;
	} names[] = {
		{ F_INPUT, "input" },       { F_OUTPUT, "output" },
		{ F_CW5, "cache_write_5m" }, { F_CW1, "cache_write_1h" },
		{ F_CR, "cache_read" },     { F_BATCH, "batch_discount_pct" },
		{ F_POOL, "pool" },         { F_TIER, "tier" },
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if ((required & names[i].flag) && !(present & names[i].flag))
			return names[i].key;
	return NULL;
}

static int parse_models(json_t *models, const char *file, bool shipped, struct rows *rows,
                        am_err *err)
{
	const char *id;
	json_t *obj;
	json_object_foreach (models, id, obj) {
		if (check_id(file, "model", id, err))
			return -1;
		struct row *row = rows_find(rows, id);
		am_price base;
		bool known = false;
		memset(&base, 0, sizeof base);
		if (row && !row->target[0]) {
			base = row->p;
			known = true;
		} else if (row) {
			/* An override of an alias detaches it: it starts from the
			 * prices the alias resolved to. */
			const struct row *t = rows_find(rows, row->target);
			if (t && !t->target[0]) {
				base = t->p;
				known = true;
			}
		}
		if (!known) {
			base.batch_discount_pct = 50;
			base.geo_us_pct = 100;
			base.web_search_pusd = AM_WEB_SEARCH_PUSD;
		}
		unsigned present;
		if (parse_entry(obj, &base, &present, err))
			return am_err_prefix(err, "%s: models.\"%s\"", file, id);
		if (shipped || !known) {
			unsigned required = shipped ? F_SHIPPED_REQUIRED : (F_INPUT | F_OUTPUT);
			const char *miss = missing_field(present, required);
			if (miss)
				return am_err_set(err, "%s: models.\"%s\": %s is missing", file, id,
				                  miss);
			if (!shipped && derive_cache_prices(&base, present, err))
				return am_err_prefix(err, "%s: models.\"%s\"", file, id);
		}
		if (!row)
			row = rows_add(rows, id);
		row->p = base;
		snprintf(row->p.model, sizeof row->p.model, "%s", id);
		row->p.canonical[0] = '\0';
		snprintf(row->p.source, sizeof row->p.source, "%s", shipped ? "shipped" : "override");
		row->target[0] = '\0';
		row->file = file;
		row->guess = known ? 0 : (F_POOL | F_TIER) & ~present;
	}
	return 0;
}

static int parse_aliases(json_t *aliases, json_t *models, const char *file,
                         bool shipped, struct rows *rows, am_err *err)
{
	const char *id;
	json_t *v;
	json_object_foreach (aliases, id, v) {
		if (check_id(file, "alias", id, err))
			return -1;
		if (!json_is_string(v))
			return am_err_set(err, "%s: aliases.\"%s\": expected a model id string", file,
			                  id);
		if (models && json_object_get(models, id))
			return am_err_set(err, "%s: \"%s\" is both a model and an alias", file, id);
		if (check_id(file, "alias target", json_string_value(v), err))
			return -1;
		struct row *row = rows_find(rows, id);
		if (!row)
			row = rows_add(rows, id);
		memset(&row->p, 0, sizeof row->p);
		snprintf(row->p.model, sizeof row->p.model, "%s", id);
		snprintf(row->p.source, sizeof row->p.source, "%s", shipped ? "shipped" : "override");
		snprintf(row->target, sizeof row->target, "%s", json_string_value(v));
		row->file = file;
		row->guess = 0;
	}
	return 0;
}

static int parse_doc(json_t *root, const char *file, bool shipped, struct rows *rows,
                     am_err *err)
{
	if (!json_is_object(root))
		return am_err_set(err, "%s: expected a JSON object at the top", file);
	json_t *version = json_object_get(root, "version");
	if (!version)
		return am_err_set(err, "%s: \"version\" is missing (this format is version %d)", file,
		                  FORMAT_VERSION);
	if (!json_is_integer(version) || json_integer_value(version) < 1)
		return am_err_set(err, "%s: \"version\" must be a positive integer", file);
	if (json_integer_value(version) > FORMAT_VERSION)
		return am_err_set(err, "%s: version %lld is newer than this aimeter reads (%d)", file,
		                  (long long)json_integer_value(version), FORMAT_VERSION);
	json_t *models = NULL, *aliases = NULL;
	const char *key;
	json_t *v;
	json_object_foreach (root, key, v) {
		if (!strcmp(key, "format")) {
			if (!json_is_string(v) || strcmp(json_string_value(v), FORMAT_NAME))
				return am_err_set(err, "%s: \"format\" must be \"%s\"", file,
				                  FORMAT_NAME);
		} else if (!strcmp(key, "unit")) {
			if (!json_is_string(v) || strcmp(json_string_value(v), FORMAT_UNIT))
				return am_err_set(err, "%s: \"unit\" must be \"%s\"", file, FORMAT_UNIT);
		} else if (!strcmp(key, "models")) {
			if (!json_is_object(v))
				return am_err_set(err, "%s: \"models\" must be an object", file);
			models = v;
		} else if (!strcmp(key, "aliases")) {
			if (!json_is_object(v))
				return am_err_set(err, "%s: \"aliases\" must be an object", file);
			aliases = v;
		} else if (strcmp(key, "version") && strcmp(key, "updated") &&
		           strcmp(key, "sources") && strcmp(key, "note")) {
			return am_err_set(err, "%s: unknown top-level key '%s'", file, key);
		}
	}
	if (shipped && !models)
		return am_err_set(err, "%s: \"models\" is missing", file);
	if (models && parse_models(models, file, shipped, rows, err))
		return -1;
	if (aliases && parse_aliases(aliases, models, file, shipped, rows, err))
		return -1;
	return 0;
}

/* ---- assembling the table ----------------------------------------------- */

static int resolve_aliases(struct rows *rows, am_err *err)
{
	for (size_t i = 0; i < rows->n; i++) {
		struct row *a = &rows->v[i];
		if (!a->target[0])
			continue;
		const struct row *t = a;
		size_t hops = 0;
		while (t && t->target[0] && hops++ <= rows->n)
			t = rows_find(rows, t->target);
		if (!t)
			return am_err_set(err, "%s: alias \"%s\" points to unknown model \"%s\"",
			                  a->file, a->p.model, a->target);
		if (t->target[0])
			return am_err_set(err, "%s: alias \"%s\" is part of a cycle", a->file,
			                  a->p.model);
		am_price p = t->p;
		snprintf(p.model, sizeof p.model, "%s", a->p.model);
		snprintf(p.canonical, sizeof p.canonical, "%s", t->p.model);
		if (!strcmp(a->p.source, "override") || !strcmp(t->p.source, "override"))
			snprintf(p.source, sizeof p.source, "override");
		a->p = p;
	}
	/* Only now may target[] go: every alias has been followed. */
	for (size_t i = 0; i < rows->n; i++)
		rows->v[i].target[0] = '\0';
	return 0;
}

static void guess_tier(const char *model, char *tier, size_t n)
{
	static const char *const tiers[] = { "haiku", "sonnet", "opus" };
	tier[0] = '\0';
	for (size_t i = 0; i < sizeof tiers / sizeof tiers[0]; i++)
		if (strstr(model, tiers[i])) {
			snprintf(tier, n, "%s", tiers[i]);
			return;
		}
}

/* The longest known id that is a '-'-bounded prefix of model. */
static const am_price *family_of(const am_price *v, size_t n, const char *model)
{
	const am_price *best = NULL;
	size_t best_len = 0;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(v[i].model);
		if (len > best_len && !strncmp(model, v[i].model, len) && model[len] == '-' &&
		    v[i].pool[0]) {
			best = &v[i];
			best_len = len;
		}
	}
	return best;
}

static void guess_family(const am_price *v, size_t n, const char *model, unsigned what,
                         am_price *price)
{
	const am_price *fam = family_of(v, n, model);
	if (what & F_POOL) {
		if (fam)
			memcpy(price->pool, fam->pool, sizeof price->pool);
		else
			snprintf(price->pool, sizeof price->pool, "%s", model);
	}
	if (what & F_TIER) {
		if (fam)
			memcpy(price->tier, fam->tier, sizeof price->tier);
		else
			guess_tier(model, price->tier, sizeof price->tier);
	}
}

void am_pricing_guess_family(const am_pricing *p, const char *model, am_price *price)
{
	guess_family(p ? p->v : NULL, p ? p->n : 0, model, F_POOL | F_TIER, price);
}

static int cmp_price(const void *a, const void *b)
{
	return strcmp(((const am_price *)a)->model, ((const am_price *)b)->model);
}

int am_pricing_load(am_pricing **out, const char *shipped_path, const char *override_path,
                    am_err *err)
{
	struct rows rows = { 0 };
	json_t *root = NULL;
	int rc = -1;
	*out = NULL;
	if (!shipped_path) {
		am_err_set(err, "no price table path");
		goto done;
	}
	if (am_jsonlex_load_file(shipped_path, true, &root, NULL, err) ||
	    parse_doc(root, shipped_path, true, &rows, err))
		goto done;
	json_decref(root);
	root = NULL;
	bool have_override = false;
	if (override_path) {
		bool missing;
		if (am_jsonlex_load_file(override_path, true, &root, &missing, err)) {
			if (!missing)
				goto done;
		} else {
			have_override = true;
			if (parse_doc(root, override_path, false, &rows, err))
				goto done;
		}
	}
	if (resolve_aliases(&rows, err))
		goto done;

	am_pricing *p = am_xcalloc(1, sizeof *p);
	p->n = rows.n;
	p->v = am_xcalloc(rows.n ? rows.n : 1, sizeof *p->v);
	size_t known = 0;
	for (size_t i = 0; i < rows.n; i++)
		if (!rows.v[i].guess)
			p->v[known++] = rows.v[i].p;
	/* Guessed families come from the entries that had theirs given. */
	size_t k = known;
	for (size_t i = 0; i < rows.n; i++)
		if (rows.v[i].guess) {
			p->v[k] = rows.v[i].p;
			guess_family(p->v, known, p->v[k].model, rows.v[i].guess, &p->v[k]);
			k++;
		}
	qsort(p->v, p->n, sizeof *p->v, cmp_price);
	/* Aliases copied their target before its family was guessed. */
	for (size_t i = 0; i < p->n; i++) {
		if (!am_price_is_alias(&p->v[i]))
			continue;
		const am_price *t = am_pricing_lookup(p, p->v[i].canonical);
		memcpy(p->v[i].pool, t->pool, sizeof t->pool);
		memcpy(p->v[i].tier, t->tier, sizeof t->tier);
	}
	p->shipped_path = am_xstrdup(shipped_path);
	p->override_path = have_override ? am_xstrdup(override_path) : NULL;
	*out = p;
	rc = 0;
done:
	json_decref(root);
	free(rows.v);
	return rc;
}

void am_pricing_free(am_pricing *p)
{
	if (!p)
		return;
	free(p->v);
	free(p->shipped_path);
	free(p->override_path);
	free(p);
}

const am_price *am_pricing_lookup(const am_pricing *p, const char *model)
{
	if (!p || !model || strlen(model) >= sizeof p->v[0].model)
		return NULL;
	am_price key;
	snprintf(key.model, sizeof key.model, "%s", model);
	return bsearch(&key, p->v, p->n, sizeof *p->v, cmp_price);
}

size_t am_pricing_count(const am_pricing *p)
{
	return p ? p->n : 0;
}

const am_price *am_pricing_at(const am_pricing *p, size_t i)
{
	return p && i < p->n ? &p->v[i] : NULL;
}

const am_price *am_pricing_most_expensive(const am_pricing *p)
{
	const am_price *best = NULL;
	for (size_t i = 0; p && i < p->n; i++) {
		const am_price *c = &p->v[i];
		if (!best || c->output > best->output ||
		    (c->output == best->output && c->input > best->input))
			best = c;
	}
	return best;
}

const char *am_pricing_shipped_path(const am_pricing *p)
{
	return p ? p->shipped_path : NULL;
}

const char *am_pricing_override_path(const am_pricing *p)
{
	return p ? p->override_path : NULL;
}

/* ---- cost ---------------------------------------------------------------- */

void am_price_rates_on(const am_price *price, const char *day, int64_t rate[5])
{
	for (size_t k = 0; k < NPRICE; k++)
		rate[k] = price_get(price, price_fields[k].off);
	if (!day || !day[0])
		return;
	/* Latest change first, so an older entry has the last word for the
	 * days before it. */
	for (int i = price->nearlier - 1; i >= 0; i--) {
		const struct am_price_earlier *e = &price->earlier[i];
		if (strcmp(day, e->until) >= 0)
			break;
		for (size_t k = 0; k < NPRICE; k++)
			if (e->fields & (1u << k))
				rate[k] = e->rate[k];
	}
}

__extension__ typedef __int128 i128;

int am_cost_on(const am_price *price, const am_usage *u, bool batch, const char *day,
               int64_t *out_pusd, am_err *err)
{
	static const char *const names[] = { "uncached input", "5m cache write", "1h cache write",
		                             "cache read", "output" };
	const int64_t tokens[] = { u->input_tokens, u->cache_write_5m, u->cache_write_1h,
		                   u->cache_read, u->output_tokens };
	if (day && day[0] && !valid_date(day))
		return am_err_set(err, "'%s' is not a day (YYYY-MM-DD)", day);
	int64_t total_input = 0;
	for (size_t i = 0; i < 5; i++) {
		if (tokens[i] < 0)
			return am_err_set(err, "%s: negative token count %lld", names[i],
			                  (long long)tokens[i]);
		if (i < 4 && am_money_add(total_input, tokens[i], &total_input))
			return am_err_set(err, "total input token count overflows");
	}
	if (u->web_search_requests < 0)
		return am_err_set(err, "web search: negative count %lld",
		                  (long long)u->web_search_requests);
	batch = batch || !strcmp(u->service_tier, "batch");
	bool fast = am_usage_fast(u);
	if (fast && batch)
		return am_err_set(err, "fast mode does not combine with batch pricing");
	if (fast && price->fast_pct <= 0)
		return am_err_set(err, "%s has no fast-mode price", price->model);
	bool lc = price->long_context_threshold > 0 && total_input > price->long_context_threshold;
	int64_t day_rate[NPRICE];
	am_price_rates_on(price, day, day_rate);
	/* tokens[] order: input, 5m write, 1h write, read, output */
	static const size_t field_of[5] = { 0, 2, 3, 4, 1 };
	int64_t rate[5];
	for (size_t i = 0; i < 5; i++)
		rate[i] = lc ? price_get(price, price_fields[field_of[i]].lc_off)
		             : day_rate[field_of[i]];
	int64_t sum = 0, part;
	for (size_t i = 0; i < 5; i++) {
		if (am_money_mul(tokens[i], rate[i], &part))
			return am_err_set(err, "cost of %lld %s tokens of %s overflows",
			                  (long long)tokens[i], names[i], price->model);
		if (am_money_add(sum, part, &sum))
			return am_err_set(err, "cost of a call to %s overflows", price->model);
	}
	/* Every multiplier is in percent; divide once, at the end, so a rate
	 * times 1.1 times 6 times 0.5 stays exact. */
	i128 num = (i128)sum * (fast ? price->fast_pct : 100) *
	           (am_usage_geo_us(u) && price->geo_us_pct > 0 ? price->geo_us_pct : 100) *
	           (batch ? 100 - price->batch_discount_pct : 100);
	const i128 den = (i128)100 * 100 * 100;
	i128 q = (num + den / 2) / den;
	int64_t fee;
	if (q > INT64_MAX || am_money_mul(u->web_search_requests, price->web_search_pusd, &fee) ||
	    am_money_add((int64_t)q, fee, &sum))
		return am_err_set(err, "cost of a call to %s overflows", price->model);
	*out_pusd = sum;
	return 0;
}

int am_cost(const am_price *price, const am_usage *u, bool batch, int64_t *out_pusd, am_err *err)
{
	return am_cost_on(price, u, batch, NULL, out_pusd, err);
}

/* ---- paths and serialization -------------------------------------------- */

const char *am_pricing_default_path(void)
{
	static _Thread_local char buf[4096];
	const char *dir = getenv("AIMETER_DATA_DIR");
	if (dir && *dir) {
		snprintf(buf, sizeof buf, "%s/pricing.json", dir);
		return buf;
	}
#ifdef AIMETER_SOURCE_DIR
	snprintf(buf, sizeof buf, "%s/data/pricing.json", AIMETER_SOURCE_DIR);
	if (access(buf, R_OK) == 0)
		return buf;
#endif
	char exe[2048];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (len > 0) {
		exe[len] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			snprintf(buf, sizeof buf, "%s/../share/aimeter/pricing.json", exe);
			return buf;
		}
	}
	return "/usr/local/share/aimeter/pricing.json";
}

int am_pricing_override_for_config(const char *config_path, char *buf, size_t n, am_err *err)
{
	if (!config_path)
		return am_path_pricing_override(buf, n, err);
	const char *slash = strrchr(config_path, '/');
	int len = slash ? snprintf(buf, n, "%.*s/pricing.json", (int)(slash - config_path),
	                           config_path)
	                : snprintf(buf, n, "pricing.json");
	if (len < 0 || (size_t)len >= n)
		return am_err_set(err, "price override path is too long");
	return 0;
}

static json_t *mtok_json(int64_t pusd_per_token)
{
	char buf[32];
	am_money_format_per_mtok(pusd_per_token, buf, sizeof buf);
	return json_string(buf);
}

json_t *am_price_to_json(const am_price *price)
{
	json_t *o = json_object();
	for (size_t i = 0; i < NPRICE; i++)
		json_object_set_new(o, price_fields[i].key,
		                    mtok_json(price_get(price, price_fields[i].off)));
	json_object_set_new(o, "batch_discount_pct", json_integer(price->batch_discount_pct));
	if (price->long_context_threshold > 0) {
		json_t *lc = json_object();
		json_object_set_new(lc, "above_input_tokens",
		                    json_integer(price->long_context_threshold));
		for (size_t i = 0; i < NPRICE; i++)
			json_object_set_new(lc, price_fields[i].key,
			                    mtok_json(price_get(price, price_fields[i].lc_off)));
		json_object_set_new(o, "long_context", lc);
	} else {
		json_object_set_new(o, "long_context", json_null());
	}
	json_object_set_new(o, "deprecation_date", price->deprecation_date[0]
	                                                   ? json_string(price->deprecation_date)
	                                                   : json_null());
	json_object_set_new(o, "pool", json_string(price->pool));
	json_object_set_new(o, "tier", json_string(price->tier));
	char buf[32];
	if (price->fast_pct > 0) {
		am_money_format((int64_t)price->fast_pct * (AM_PUSD_PER_USD / 100), buf, sizeof buf);
		json_object_set_new(o, "fast_multiplier", json_string(buf));
	}
	if (price->geo_us_pct != 100 && price->geo_us_pct > 0) {
		am_money_format((int64_t)price->geo_us_pct * (AM_PUSD_PER_USD / 100), buf, sizeof buf);
		json_object_set_new(o, "us_multiplier", json_string(buf));
	}
	am_money_format(price->web_search_pusd * 1000, buf, sizeof buf);
	json_object_set_new(o, "web_search_per_1000", json_string(buf));
	if (price->nearlier > 0) {
		json_t *a = json_array();
		for (int i = 0; i < price->nearlier; i++) {
			const struct am_price_earlier *e = &price->earlier[i];
			json_t *eo = json_object();
			json_object_set_new(eo, "until", json_string(e->until));
			for (size_t k = 0; k < NPRICE; k++)
				if (e->fields & (1u << k))
					json_object_set_new(eo, price_fields[k].key, mtok_json(e->rate[k]));
			json_array_append_new(a, eo);
		}
		json_object_set_new(o, "earlier", a);
	}
	return o;
}

/* ---- one price per model (am_pricing_resolve) ------------------------------ */

static int64_t dearer(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

bool am_model_dated_id_of(const char *id, const char *model)
{
	size_t n = strlen(model);
	if (strncmp(id, model, n) || id[n] != '-' || strlen(id + n + 1) < 8)
		return false;
	return strspn(id + n + 1, "0123456789") == strlen(id + n + 1);
}

/* Takes the dearer of each price of c into out. */
static void take_dearer(am_price *out, const am_price *c)
{
	out->input = dearer(out->input, c->input);
	out->output = dearer(out->output, c->output);
	out->cache_write_5m = dearer(out->cache_write_5m, c->cache_write_5m);
	out->cache_write_1h = dearer(out->cache_write_1h, c->cache_write_1h);
	out->cache_read = dearer(out->cache_read, c->cache_read);
	out->lc_input = dearer(out->lc_input, c->lc_input);
	out->lc_output = dearer(out->lc_output, c->lc_output);
	out->lc_cache_write_5m = dearer(out->lc_cache_write_5m, c->lc_cache_write_5m);
	out->lc_cache_write_1h = dearer(out->lc_cache_write_1h, c->lc_cache_write_1h);
	out->lc_cache_read = dearer(out->lc_cache_read, c->lc_cache_read);
	if (!out->long_context_threshold ||
	    (c->long_context_threshold && c->long_context_threshold < out->long_context_threshold))
		out->long_context_threshold = c->long_context_threshold;
	if (c->batch_discount_pct < out->batch_discount_pct)
		out->batch_discount_pct = c->batch_discount_pct;
}

/* A call for an alias ("claude-haiku-4-5") is answered, and billed,
 * under a dated id ("claude-haiku-4-5-20251001"), and the table (with an
 * override, which also detaches an alias it prices) may price the two
 * apart. So the price of a model is the dearest, item by item (the lower
 * long-context threshold, the smaller batch discount), of its own row, the
 * row its alias points to and the rows of its dated ids: never less than
 * what the call may be billed at. An alias priced at zero then no longer
 * lets calls past the budget. False when the model has no price. */
bool am_pricing_resolve(const am_pricing *pricing, const char *model, am_price *out)
{
	const am_price *p = am_pricing_lookup(pricing, model);
	if (!p)
		return false;
	*out = *p;
	const am_price *c = am_price_is_alias(p) ? am_pricing_lookup(pricing, p->canonical)
	                                         : NULL;
	if (c)
		take_dearer(out, c);
	size_t n = am_pricing_count(pricing);
	for (size_t i = 0; i < n; i++) {
		const am_price *d = am_pricing_at(pricing, i);
		if (d != c && am_model_dated_id_of(d->model, model))
			take_dearer(out, d);
	}
	return true;
}
