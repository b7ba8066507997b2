/* aimeter pricing: list the effective price table, import LiteLLM prices
 * into the override file, or price the ledger's rows again.
 *
 * The table is the shipped file (am_pricing_default_path) with the override
 * file laid over it: pricing.json beside the config file this run uses
 * (am_cli_load_pricing), by default $XDG_CONFIG_HOME/aimeter/pricing.json. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "say.h"
#include "fetch.h"
#include "cli.h"
#include "clock.h"
#include "commands.h"
#include "ledger.h"
#include "report.h"
#include "litellm.h"
#include "money.h"
#include "pricing.h"

enum { O_JSON = 1, O_DRY_RUN, O_SINCE, O_UNTIL, O_ALL };

static const am_cli_opt opts[] = {
    {"json", NULL, "machine-readable output (prices as exact decimal strings)", O_JSON, NULL},
    {"dry-run", NULL, "import, reprice: report what would change, write nothing", O_DRY_RUN,
     NULL},
    {"since", "DAY", "reprice: the first local day (YYYY-MM-DD); default the first row",
     O_SINCE, NULL},
    {"until", "DAY", "reprice: the last local day (YYYY-MM-DD); default the last row", O_UNTIL,
     NULL},
    {"all", NULL, "reprice: every row in the range, not only those whose price was unknown",
     O_ALL, NULL},
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

/* The models the ledger at db_path has recorded without a price, with
 * their calls and tokens, and how to price them. Nothing when there is no
 * ledger there (this never creates one) or it has no such rows. */
static void list_unpriced(const char *db_path)
{
	if (!db_path || !*db_path || access(db_path, F_OK) != 0)
		return;
	am_ledger *l = NULL;
	am_ledger_opts o = { .readonly = true };
	am_err err;
	if (am_ledger_open(&l, db_path, &o, &err))
		return;
	am_ledger_summary sum;
	memset(&sum, 0, sizeof sum);
	if (am_ledger_report(l, "0001-01-01", "9999-12-31", false, &sum, &err) == 0 &&
	    sum.total.unknown_count > 0) {
		printf("\nSeen in the ledger without a price (%s):\n", db_path);
		for (size_t i = 0; i < sum.nrows; i++) {
			const am_ledger_row *r = &sum.rows[i];
			if (r->unknown_count == 0)
				continue;
			char calls[32], in[32], out[32];
			am_report_group(r->unknown_count, calls, sizeof calls);
			am_report_group(r->input_tokens + r->cache_write + r->cache_read, in, sizeof in);
			am_report_group(r->output_tokens, out, sizeof out);
			am_say(stdout, "  %s: %s call%s, %s input + %s output tokens\n", r->model, calls,
			       r->unknown_count == 1 ? "" : "s", in, out);
		}
		printf("Give them prices in the override file (by hand, or aimeter pricing import\n"
		       "FILE), then run 'aimeter pricing reprice' to price those calls.\n");
	}
	am_ledger_summary_free(&sum);
	am_ledger_close(l);
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

/* The most a fetched price list may weigh (LiteLLM's is about 1 MB). */
enum { IMPORT_URL_MAX_BYTES = 64 << 20 };

/* Fetches url into a private temporary file; its path in path (unlink it). */
static int fetch_to_temp(const char *url, char *path, size_t n, am_err *err)
{
	am_bbuf b;
	am_bbuf_init(&b, IMPORT_URL_MAX_BYTES);
	if (am_fetch(url, &b, err)) {
		am_bbuf_free(&b);
		return -1;
	}
	const char *tmp = getenv("TMPDIR");
	snprintf(path, n, "%s/aimeter-prices-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	int fd = mkstemp(path); /* 0600 */
	if (fd >= 0)
		fcntl(fd, F_SETFD, FD_CLOEXEC);
	int status = 0;
	if (fd < 0) {
		status = am_err_set(err, "cannot create a temporary file in %s: %s",
		                    tmp && *tmp ? tmp : "/tmp", strerror(errno));
	} else {
		for (size_t off = 0; off < b.len && !status;) {
			ssize_t w = write(fd, b.data + off, b.len - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				status = am_err_set(err, "cannot write %s: %s", path, strerror(errno));
			else
				off += (size_t)w;
		}
		if (close(fd) && !status)
			status = am_err_set(err, "cannot write %s: %s", path, strerror(errno));
		if (status)
			unlink(path);
	}
	am_bbuf_free(&b);
	return status;
}

static int run_import(am_pricing *table, const char *file, const char *override_path,
                      bool dry_run, bool json)
{
	am_litellm_result r;
	am_err err;
	char fetched[4096] = "";
	if (am_fetch_is_url(file) && fetch_to_temp(file, fetched, sizeof fetched, &err)) {
		am_say(stderr, "aimeter pricing import: %s\n", err.msg);
		return 1;
	}
	int irc = am_litellm_import(table, fetched[0] ? fetched : file, &r, &err);
	if (fetched[0])
		unlink(fetched);
	if (irc) {
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

/* ---- reprice ---------------------------------------------------------------- */

struct repricer {
	const am_pricing *table;
	int64_t failed; /* rows whose usage the table cannot price: left as they were */
};

/* A row's price from the table, at the rates of the UTC day of its call. */
static int reprice_row(void *ctx, const am_ledger_stored *row, bool *known, int64_t *cost,
                       am_err *err)
{
	(void)err;
	struct repricer *r = ctx;
	const am_price *p = am_pricing_lookup(r->table, row->model);
	if (!p) {
		*known = false;
		return 0;
	}
	char day[AM_LEDGER_DAY_LEN];
	time_t secs = (time_t)(row->ts_ns / AM_NS_PER_SEC - (row->ts_ns % AM_NS_PER_SEC < 0));
	struct tm tm;
	if (gmtime_r(&secs, &tm))
		snprintf(day, sizeof day, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1,
		         tm.tm_mday);
	else
		day[0] = '\0';
	int64_t c;
	am_err why;
	if (am_cost_on(p, &row->usage, row->batch, day, &c, &why)) {
		if (r->failed++ < 5)
			fprintf(stderr, "aimeter pricing reprice: row %lld left as it was: %s\n",
			        (long long)row->id, why.msg);
		return 0;
	}
	*known = true;
	*cost = c;
	return 0;
}

static json_t *repriced_json(const am_ledger_repriced *m)
{
	char before[32], after[32], delta[32];
	am_money_format(m->before_pusd, before, sizeof before);
	am_money_format(m->after_pusd, after, sizeof after);
	am_money_format(m->after_pusd - m->before_pusd, delta, sizeof delta);
	return json_pack("{s:s, s:I, s:I, s:I, s:I, s:s, s:s, s:s}", "model", m->model, "rows",
	                 (json_int_t)m->rows, "changed", (json_int_t)m->changed, "newly_priced",
	                 (json_int_t)m->newly_known, "still_unknown", (json_int_t)m->still_unknown,
	                 "before_usd", before, "after_usd", after, "change_usd", delta);
}

static void repriced_line(const am_ledger_repriced *m, int w)
{
	char before[48], after[48], delta[48];
	am_report_usd(m->before_pusd, before, sizeof before);
	am_report_usd(m->after_pusd, after, sizeof after);
	am_money_format(m->after_pusd - m->before_pusd, delta, sizeof delta);
	am_say(stdout, "%-*s  %6lld  %7lld  %6lld  %7lld  %14s  %14s  %s%s\n", w,
	       m->model[0] ? m->model : "total", (long long)m->rows, (long long)m->changed,
	       (long long)m->newly_known, (long long)m->still_unknown, before, after,
	       m->after_pusd >= m->before_pusd ? "+$" : "-$",
	       delta[0] == '-' ? delta + 1 : delta);
}

static int run_reprice(am_cli *c, const char *since, const char *until, bool all, bool dry_run,
                       bool json)
{
	am_config cfg;
	int status = am_cli_load_config(c, &cfg);
	if (status)
		return status;
	am_pricing *table = NULL;
	am_ledger *l = NULL;
	status = am_cli_load_pricing(c, &cfg, &table, NULL, 0);
	if (!status)
		status = am_cli_open_ledger(c->cmd, cfg.db, false, &l);
	am_config_wipe(&cfg);
	if (status) {
		am_pricing_free(table);
		return status;
	}
	struct repricer r = { table, 0 };
	am_ledger_reprice_report rep;
	am_err err;
	int rc = am_ledger_reprice(l, since, until, all, dry_run, reprice_row, &r, &rep, &err);
	am_ledger_close(l);
	am_pricing_free(table);
	if (rc) {
		fprintf(stderr, "aimeter pricing reprice: %s\n", err.msg);
		am_ledger_reprice_report_free(&rep);
		return 1;
	}
	if (json) {
		json_t *doc = json_object(), *models = json_array();
		json_object_set_new(doc, "since", json_string(since));
		json_object_set_new(doc, "until", json_string(until));
		json_object_set_new(doc, "all", json_boolean(all));
		json_object_set_new(doc, "dry_run", json_boolean(dry_run));
		for (size_t i = 0; i < rep.n; i++)
			json_array_append_new(models, repriced_json(&rep.models[i]));
		json_object_set_new(doc, "models", models);
		json_object_set_new(doc, "total", repriced_json(&rep.total));
		json_object_del(json_object_get(doc, "total"), "model");
		json_object_set_new(doc, "left_unpriceable",
		                    json_integer((json_int_t)r.failed));
		print_json(doc);
	} else {
		int w = 5;
		for (size_t i = 0; i < rep.n; i++)
			if ((int)strlen(rep.models[i].model) > w)
				w = (int)strlen(rep.models[i].model);
		printf("%s rows %s%s:\n", all ? "every" : "unknown-price",
		       dry_run ? "that would be priced again" : "priced again",
		       strcmp(since, "0001-01-01") || strcmp(until, "9999-12-31") ? "" : " (all days)");
		printf("%-*s  %6s  %7s  %6s  %7s  %14s  %14s  %s\n", w, "MODEL", "ROWS", "CHANGED",
		       "PRICED", "UNKNOWN", "BEFORE", "AFTER", "CHANGE");
		for (size_t i = 0; i < rep.n; i++)
			repriced_line(&rep.models[i], w);
		repriced_line(&rep.total, w);
		if (rep.total.still_unknown)
			printf("%lld row%s still without a price: add the model to the override "
			       "file (aimeter pricing import, or by hand) and run this again\n",
			       (long long)rep.total.still_unknown,
			       rep.total.still_unknown == 1 ? "" : "s");
		if (dry_run)
			printf("dry run: the ledger was not changed\n");
	}
	am_ledger_reprice_report_free(&rep);
	return 0;
}

int cmd_pricing(int argc, char **argv)
{
	bool json = false, dry_run = false, import = false, reprice = false, all = false;
	const char *file = NULL, *since = NULL, *until = NULL;
	am_cli c;
	am_cli_init(
	    &c, "pricing", "[import FILE|URL | reprice [--since DAY] [--until DAY] [--all]] [OPTIONS]",
	    "List the effective price table (USD per million tokens), or import the Anthropic\n"
	    "entries of a LiteLLM model_prices_and_context_window.json (a file, or an https://\n"
	    "URL such as LiteLLM's own on GitHub) into the override file:\n"
	    "pricing.json beside the config file (--config, else $AIMETER_CONFIG, else\n"
	    "$XDG_CONFIG_HOME/aimeter/). The config itself is not read, so it need not exist.\n"
	    "The shipped table is $AIMETER_DATA_DIR/pricing.json, the source tree's data/, or\n"
	    "<prefix>/share/aimeter/pricing.json. 'reprice' prices the ledger's rows again\n"
	    "from every billed dimension they keep, at the rates of each call's day: the rows\n"
	    "whose price was unknown, or with --all every row in the range (after a\n"
	    "correction); it reports what changed per model and in total. Cache hits stay $0.",
	    opts, true, argc, argv);
	c.max_args = 2; /* import FILE */
	for (int id; (id = am_cli_next(&c)) != AM_CLI_END;) {
		switch (id) {
		case AM_CLI_EXIT:
			return c.exit_code;
		case AM_CLI_ARG:
			if (import && !file)
				file = c.value;
			else if (!import && !reprice && !strcmp(c.value, "import"))
				import = true;
			else if (!import && !reprice && !strcmp(c.value, "reprice"))
				reprice = true;
			else
				return am_cli_usage_error(c.cmd, "unknown argument '%s'", c.value);
			break;
		case O_SINCE:
		case O_UNTIL: {
			am_err derr;
			if (am_ledger_parse_day(c.value, &derr))
				return am_cli_usage_error(c.cmd, "--%s: %s", id == O_SINCE ? "since" : "until",
				                          derr.msg);
			*(id == O_SINCE ? &since : &until) = c.value;
			break;
		}
		case O_ALL:
			all = true;
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
		return am_cli_usage_error(c.cmd, "import needs a FILE or an https:// URL");
	if (dry_run && !import && !reprice)
		return am_cli_usage_error(c.cmd, "--dry-run only applies to 'import' and 'reprice'");
	if ((since || until || all) && !reprice)
		return am_cli_usage_error(c.cmd, "--since, --until and --all only apply to 'reprice'");
	if (reprice) {
		if (since && until && strcmp(since, until) > 0)
			return am_cli_usage_error(c.cmd, "--since %s is after --until %s", since, until);
		return run_reprice(&c, since ? since : "0001-01-01", until ? until : "9999-12-31", all,
		                   dry_run, json);
	}

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
	char db_path[AM_CONFIG_PATH_MAX] = "";
	if (have_config) {
		snprintf(db_path, sizeof db_path, "%s", cfg.db);
		am_config_wipe(&cfg);
	}
	if (status)
		return 1;
	int rc = 0;
	if (file)
		rc = run_import(table, file, override_path, dry_run, json);
	else if (json)
		list_json(table);
	else {
		list_text(table);
		list_unpriced(db_path);
	}
	am_pricing_free(table);
	return rc;
}
