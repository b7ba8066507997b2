/* aimeter pricing: list the effective price table, or import LiteLLM prices
 * into the override file.
 *
 * The table is the shipped file (am_pricing_default_path) with the override
 * file laid over it: pricing.json beside the config file this run uses
 * (am_cli_load_pricing), by default $XDG_CONFIG_HOME/aimeter/pricing.json. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "say.h"
#include "cli.h"
#include "commands.h"
#include "litellm.h"
#include "money.h"
#include "pricing.h"

enum { O_JSON = 1, O_DRY_RUN };

static const am_cli_opt opts[] = {
    {"json", NULL, "machine-readable output (prices as exact decimal strings)", O_JSON, NULL},
    {"dry-run", NULL, "import: report what would change, write nothing", O_DRY_RUN, NULL},
    {NULL, NULL, NULL, 0, NULL},
};

/* "0.8" -> "0.80": at least two decimals reads as money. */
static void price_cell(int64_t pusd_per_token, char *buf, size_t n)
{
	am_money_format_per_mtok(pusd_per_token, buf, n);
	const char *dot = strchr(buf, '.');
	size_t len = strlen(buf);
	if (!dot && len + 3 < n)
		memcpy(buf + len, ".00", 4);
	else if (dot && buf + len - dot == 2 && len + 1 < n)
		memcpy(buf + len, "0", 2);
}

enum { COLS = 11 };

static const char *const headers[COLS] = { "MODEL",        "INPUT", "OUTPUT", "WRITE 5M",
	                                   "WRITE 1H",     "READ",  "BATCH",  "LONG CONTEXT",
	                                   "POOL",         "DEPRECATED", "SOURCE" };
static const bool right[COLS] = { false, true, true, true, true, true, true, false, false, false,
	                          false };

static void row_cells(const am_price *p, char cells[COLS][64])
{
	am_say_copy(cells[0], 64, p->model);
	price_cell(p->input, cells[1], 64);
	price_cell(p->output, cells[2], 64);
	price_cell(p->cache_write_5m, cells[3], 64);
	price_cell(p->cache_write_1h, cells[4], 64);
	price_cell(p->cache_read, cells[5], 64);
	snprintf(cells[6], 64, "-%d%%", p->batch_discount_pct);
	if (p->long_context_threshold > 0) {
		char in[32], out[32];
		price_cell(p->lc_input, in, sizeof in);
		price_cell(p->lc_output, out, sizeof out);
		if (p->long_context_threshold % 1000 == 0)
			snprintf(cells[7], 64, ">%lldk: %s/%s",
			         (long long)(p->long_context_threshold / 1000), in, out);
		else
			snprintf(cells[7], 64, ">%lld: %s/%s", (long long)p->long_context_threshold,
			         in, out);
	} else {
		snprintf(cells[7], 64, "-");
	}
	am_say_copy(cells[8], 64, p->pool);
	snprintf(cells[9], 64, "%s", p->deprecation_date[0] ? p->deprecation_date : "-");
	am_say_copy(cells[10], 64, p->source);
}

static void print_row(char cells[COLS][64], const size_t width[COLS])
{
	for (int c = 0; c < COLS; c++) {
		int w = (int)width[c];
		if (c == COLS - 1)
			printf("%s\n", cells[c]);
		else if (right[c])
			printf("%*s  ", w, cells[c]);
		else
			printf("%-*s  ", w, cells[c]);
	}
}

static void list_text(const am_pricing *t)
{
	size_t width[COLS];
	char cells[COLS][64];
	for (int c = 0; c < COLS; c++)
		width[c] = strlen(headers[c]);
	for (size_t i = 0; i < am_pricing_count(t); i++) {
		const am_price *p = am_pricing_at(t, i);
		if (am_price_is_alias(p))
			continue;
		row_cells(p, cells);
		for (int c = 0; c < COLS; c++)
			if (strlen(cells[c]) > width[c])
				width[c] = strlen(cells[c]);
	}
	printf("Prices in USD per million tokens. BATCH is the discount on a batch call's total;\n"
	       "long context prices every token when total input exceeds the threshold.\n"
	       "shipped:  %s\noverride: %s\n\n",
	       am_pricing_shipped_path(t),
	       am_pricing_override_path(t) ? am_pricing_override_path(t) : "(none)");
	for (int c = 0; c < COLS; c++)
		snprintf(cells[c], 64, "%s", headers[c]);
	print_row(cells, width);
	for (size_t i = 0; i < am_pricing_count(t); i++) {
		const am_price *p = am_pricing_at(t, i);
		if (am_price_is_alias(p))
			continue;
		row_cells(p, cells);
		print_row(cells, width);
	}
	size_t aw = 0;
	for (size_t i = 0; i < am_pricing_count(t); i++)
		if (am_price_is_alias(am_pricing_at(t, i)) && strlen(am_pricing_at(t, i)->model) > aw)
			aw = strlen(am_pricing_at(t, i)->model);
	if (aw)
		printf("\nAliases:\n");
	for (size_t i = 0; i < am_pricing_count(t); i++) {
		const am_price *p = am_pricing_at(t, i);
		if (am_price_is_alias(p))
			am_say(stdout, "  %-*s -> %s\n", (int)aw, p->model, p->canonical);
	}
}

static void print_json(json_t *doc)
{
	char *s = am_say_json(doc, JSON_INDENT(2));
	if (s)
		printf("%s\n", s);
	free(s);
	json_decref(doc);
}

static void list_json(const am_pricing *t)
{
	json_t *doc = json_object(), *models = json_array();
	json_object_set_new(doc, "unit", json_string("USD per million tokens"));
	json_object_set_new(doc, "shipped", json_string(am_pricing_shipped_path(t)));
	json_object_set_new(doc, "override", am_pricing_override_path(t)
	                                             ? json_string(am_pricing_override_path(t))
	                                             : json_null());
	for (size_t i = 0; i < am_pricing_count(t); i++) {
		const am_price *p = am_pricing_at(t, i);
		json_t *o = json_object();
		json_object_set_new(o, "model", json_string(p->model));
		json_object_set_new(o, "alias_of",
		                    am_price_is_alias(p) ? json_string(p->canonical) : json_null());
		json_t *fields = am_price_to_json(p);
		json_object_update(o, fields);
		json_decref(fields);
		json_object_set_new(o, "source", json_string(p->source));
		json_array_append_new(models, o);
	}
	json_object_set_new(doc, "models", models);
	print_json(doc);
}

static const char *status_word(am_litellm_status s)
{
	switch (s) {
	case AM_LITELLM_ADDED:
		return "added";
	case AM_LITELLM_CHANGED:
		return "changed";
	case AM_LITELLM_UNCHANGED:
		return "unchanged";
	case AM_LITELLM_SKIPPED:
		return "skipped";
	}
	return "?";
}

static void import_report_text(const char *file, const am_litellm_result *r)
{
	size_t w = 0;
	for (size_t i = 0; i < r->n; i++)
		if (strlen(r->items[i].model) > w)
			w = strlen(r->items[i].model);
	am_say(stdout, "%s: %zu anthropic entries (%zu other entries not read: other providers, "
	       "sample_spec)\n",
	       file, r->n, r->other_entries);
	for (size_t i = 0; i < r->n; i++) {
		const am_litellm_item *it = &r->items[i];
		if (it->detail)
			am_say(stdout, "  %-*s  %s (%s)\n", (int)w, it->model, status_word(it->status),
			       it->detail);
		else
			am_say(stdout, "  %-*s  %s\n", (int)w, it->model, status_word(it->status));
		if (it->warning)
			am_say(stdout, "  %-*s  warning: %s\n", (int)w, "", it->warning);
	}
	am_say(stdout, "%zu added, %zu changed, %zu unchanged, %zu skipped\n", r->added, r->changed,
	       r->unchanged, r->skipped);
}

static void import_report_json(const char *file, const am_litellm_result *r, bool dry_run,
                               const char *written)
{
	json_t *doc = json_object(), *items = json_array();
	json_object_set_new(doc, "file", json_string(file));
	json_object_set_new(doc, "dry_run", json_boolean(dry_run));
	json_object_set_new(doc, "written", written ? json_string(written) : json_null());
	for (size_t i = 0; i < r->n; i++) {
		const am_litellm_item *it = &r->items[i];
		json_t *o = json_object();
		json_object_set_new(o, "model", json_string(it->model));
		json_object_set_new(o, "status", json_string(status_word(it->status)));
		json_object_set_new(o, "detail", it->detail ? json_string(it->detail) : json_null());
		json_object_set_new(o, "warning", it->warning ? json_string(it->warning) : json_null());
		if (it->status != AM_LITELLM_SKIPPED)
			json_object_set_new(o, "price", am_price_to_json(&it->price));
		json_array_append_new(items, o);
	}
	json_object_set_new(doc, "items", items);
	json_object_set_new(doc, "added", json_integer((json_int_t)r->added));
	json_object_set_new(doc, "changed", json_integer((json_int_t)r->changed));
	json_object_set_new(doc, "unchanged", json_integer((json_int_t)r->unchanged));
	json_object_set_new(doc, "skipped", json_integer((json_int_t)r->skipped));
	json_object_set_new(doc, "other_entries", json_integer((json_int_t)r->other_entries));
	print_json(doc);
}

static int run_import(am_pricing *table, const char *file, const char *override_path,
                      bool dry_run, bool json)
{
	am_litellm_result r;
	am_err err;
	if (am_litellm_import(table, file, &r, &err)) {
		am_say(stderr, "aimeter pricing import: %s\n", err.msg);
		return 1;
	}
	bool write = !dry_run && r.added + r.changed > 0;
	if (write && am_litellm_write_override(table, &r, override_path, &err)) {
		am_say(stderr, "aimeter pricing import: %s\n", err.msg);
		am_litellm_result_free(&r);
		return 1;
	}
	if (json) {
		import_report_json(file, &r, dry_run, write ? override_path : NULL);
	} else {
		import_report_text(file, &r);
		if (dry_run)
			printf("dry run: %s not written\n", override_path);
		else if (write)
			printf("wrote %s\n", override_path);
		else
			printf("nothing to write: %s unchanged\n", override_path);
	}
	am_litellm_result_free(&r);
	return 0;
}

int cmd_pricing(int argc, char **argv)
{
	bool json = false, dry_run = false, import = false;
	const char *file = NULL;
	am_cli c;
	am_cli_init(
	    &c, "pricing", "[import FILE [--dry-run]] [OPTIONS]",
	    "List the effective price table (USD per million tokens), or import the Anthropic\n"
	    "entries of a LiteLLM model_prices_and_context_window.json into the override file:\n"
	    "pricing.json beside the config file (--config, else $AIMETER_CONFIG, else\n"
	    "$XDG_CONFIG_HOME/aimeter/). The config itself is not read, so it need not exist.\n"
	    "The shipped table is $AIMETER_DATA_DIR/pricing.json, the source tree's data/, or\n"
	    "<prefix>/share/aimeter/pricing.json. Prices do not live in the ledger: --db is\n"
	    "accepted like everywhere and not used.",
	    opts, true, argc, argv);
	c.max_args = 2; /* import FILE */
	for (int id; (id = am_cli_next(&c)) != AM_CLI_END;) {
		switch (id) {
		case AM_CLI_EXIT:
			return c.exit_code;
		case AM_CLI_ARG:
			if (import)
				file = c.value;
			else if (!strcmp(c.value, "import"))
				import = true;
			else
				return am_cli_usage_error(c.cmd, "unknown argument '%s'", c.value);
			break;
		case O_JSON:
			json = true;
			break;
		case O_DRY_RUN:
			dry_run = true;
			break;
		}
	}
	if (import && !file)
		return am_cli_usage_error(c.cmd, "import needs a FILE");
	if (dry_run && !import)
		return am_cli_usage_error(c.cmd, "--dry-run only applies to 'import'");

	/* The config only matters for its pricing_file; an import may create the
	 * override beside a config file that does not exist yet. */
	am_config cfg;
	const char *cp = c.config_path ? c.config_path : getenv("AIMETER_CONFIG");
	bool have_config = !cp || !*cp || access(cp, F_OK) == 0;
	int status = have_config ? am_cli_load_config(&c, &cfg) : 0;
	if (status)
		return status;
	char override_path[AM_CONFIG_PATH_MAX + 32];
	am_pricing *table;
	status = am_cli_load_pricing(&c, have_config ? &cfg : NULL, &table, override_path,
	                             sizeof override_path);
	if (have_config)
		am_config_wipe(&cfg);
	if (status)
		return 1;
	int rc = 0;
	if (file)
		rc = run_import(table, file, override_path, dry_run, json);
	else if (json)
		list_json(table);
	else
		list_text(table);
	am_pricing_free(table);
	return rc;
}
