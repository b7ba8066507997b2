/* report: JSON, CSV and table renderings of a ledger summary.
 *
 * Each renderer only reads the summary; the numbers were summed exactly by
 * the ledger. The table computes its column widths from the cells it is
 * about to print, so it stays aligned for any figure size. */
#include "say.h"
#include "report.h"

#include <inttypes.h>
#include <stdlib.h>
#include <jansson.h>
#include <stdbool.h>
#include <string.h>

#include "jsonlex.h"
#include "money.h"

int am_report_group(int64_t v, char *buf, size_t n)
{
	char digits[24], out[32];
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	int len = snprintf(digits, sizeof digits, "%" PRIu64, u);
	int o = 0;
	if (v < 0)
		out[o++] = '-';
	for (int i = 0; i < len; i++) {
		if (i && (len - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = digits[i];
	}
	out[o] = '\0';
	return snprintf(buf, n, "%s", out);
}

int am_report_usd(int64_t pusd, char *buf, size_t n)
{
	char exact[32], whole[40];
	am_money_format(pusd, exact, sizeof exact);
	const char *p = exact;
	bool neg = *p == '-';
	if (neg)
		p++;
	const char *dot = strchr(p, '.');
	size_t wlen = dot ? (size_t)(dot - p) : strlen(p);
	/* The whole part fits int64 (it is at most INT64_MAX / 1e12). */
	int64_t w = 0;
	for (size_t i = 0; i < wlen; i++)
		w = w * 10 + (p[i] - '0');
	am_report_group(w, whole, sizeof whole);
	return snprintf(buf, n, "%s$%s%s", neg ? "-" : "", whole, dot ? dot : "");
}

/* ---- JSON ------------------------------------------------------------------ */

static json_t *money_json(int64_t pusd)
{
	char buf[32];
	am_money_format(pusd, buf, sizeof buf);
	return json_string(buf);
}

int am_report_json(const am_ledger_summary *s, FILE *out, am_err *err)
{
	json_t *root = json_object(), *models = json_array(), *total = json_object();
	const char *key = s->by_tag ? "tag" : "model";
	json_object_set_new(root, "from", json_string(s->from));
	json_object_set_new(root, "to", json_string(s->to));
	for (size_t i = 0; i < s->nrows; i++) {
		const am_ledger_row *r = &s->rows[i];
		json_t *m = json_object();
		json_object_set_new(m, key, r->untagged ? json_null() : am_jsonlex_string(r->model));
		json_object_set_new(m, "requests", json_integer(r->requests));
		json_object_set_new(m, "input_tokens", json_integer(r->input_tokens));
		json_object_set_new(m, "output_tokens", json_integer(r->output_tokens));
		json_object_set_new(m, "cache_creation_input_tokens", json_integer(r->cache_write));
		json_object_set_new(m, "cache_read_input_tokens", json_integer(r->cache_read));
		json_object_set_new(m, "cost_usd", money_json(r->cost_pusd));
		json_object_set_new(m, "price_known", json_boolean(r->price_known));
		if (r->estimated > 0)
			json_object_set_new(m, "estimated_requests", json_integer(r->estimated));
		json_array_append_new(models, m);
	}
	json_object_set_new(root, s->by_tag ? "tags" : "models", models);
	json_object_set_new(total, "requests", json_integer(s->total.requests));
	json_object_set_new(total, "cost_usd", money_json(s->total.cost_pusd));
	if (s->total.estimated > 0)
		json_object_set_new(total, "estimated_requests", json_integer(s->total.estimated));
	json_object_set_new(root, "total", total);
	char *text = am_say_json(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	int rc = text ? fputs(text, out) : EOF;
	free(text);
	if (rc == EOF || fputc('\n', out) == EOF)
		return am_err_set(err, "cannot write the report");
	return 0;
}

/* ---- CSV ------------------------------------------------------------------- */

/* A field from the ledger: sanitized (a control becomes caret text, so a
 * line break cannot forge a row and an escape cannot reach a terminal),
 * then quoted when it holds a comma or a quote. */
static void csv_field(FILE *out, const char *raw)
{
	size_t cap = 4 * strlen(raw) + 1;
	char *v = am_xmalloc(cap);
	am_say_copy(v, cap, raw);
	if (!strpbrk(v, ",\"\r\n")) {
		fputs(v, out);
	} else {
		fputc('"', out);
		for (const char *p = v; *p; p++) {
			if (*p == '"')
				fputc('"', out);
			fputc(*p, out);
		}
		fputc('"', out);
	}
	free(v);
}

int am_report_csv(const am_ledger_summary *s, FILE *out, am_err *err)
{
	fputs(s->by_tag ? "day,tag," : "day,model,", out);
	fputs("requests,input_tokens,output_tokens,cache_creation_input_tokens,"
	      "cache_read_input_tokens,cost_usd,price_known,unknown_price_requests,"
	      "estimated_requests\r\n", out);
	for (size_t i = 0; i < s->nrows; i++) {
		const am_ledger_row *r = &s->rows[i];
		char cost[32];
		am_money_format(r->cost_pusd, cost, sizeof cost);
		fputs(r->day, out);
		fputc(',', out);
		csv_field(out, r->model);
		fprintf(out, ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%s,%s,%" PRId64
		        ",%" PRId64 "\r\n", r->requests, r->input_tokens, r->output_tokens,
		        r->cache_write, r->cache_read, cost, r->price_known ? "true" : "false",
		        r->unknown_count, r->estimated);
	}
	if (ferror(out))
		return am_err_set(err, "cannot write the report");
	return 0;
}

/* ---- table ----------------------------------------------------------------- */

enum { COL_MODEL, COL_REQ, COL_IN, COL_OUT, COL_CW, COL_CR, COL_COST, NCOLS };

static const char *const headers[NCOLS] = {
	"MODEL", "REQUESTS", "INPUT", "OUTPUT", "CACHE WRITE", "CACHE READ", "COST (USD)"
};

struct cells {
	char c[NCOLS][160];
};

static void row_cells(const am_ledger_row *r, const char *label, struct cells *out)
{
	snprintf(out->c[COL_MODEL], sizeof out->c[COL_MODEL], "%s", label);
	am_report_group(r->requests, out->c[COL_REQ], sizeof out->c[COL_REQ]);
	am_report_group(r->input_tokens, out->c[COL_IN], sizeof out->c[COL_IN]);
	am_report_group(r->output_tokens, out->c[COL_OUT], sizeof out->c[COL_OUT]);
	am_report_group(r->cache_write, out->c[COL_CW], sizeof out->c[COL_CW]);
	am_report_group(r->cache_read, out->c[COL_CR], sizeof out->c[COL_CR]);
	char usd[48];
	am_report_usd(r->cost_pusd, usd, sizeof usd);
	bool is_total = !*r->model && !r->untagged;
	if (r->requests > 0 && r->unknown_count == r->requests && !is_total)
		snprintf(out->c[COL_COST], sizeof out->c[COL_COST], "price ?");
	else if (r->unknown_count > 0 && !is_total)
		snprintf(out->c[COL_COST], sizeof out->c[COL_COST], "%s + price ?", usd);
	else
		snprintf(out->c[COL_COST], sizeof out->c[COL_COST], "%s%s", usd,
		         r->unknown_count > 0 ? " *" : "");
	if (r->estimated > 0) /* some of it cut short: see the note under the table */
		snprintf(out->c[COL_COST] + strlen(out->c[COL_COST]),
		         sizeof out->c[COL_COST] - strlen(out->c[COL_COST]), " est.");
}

static void print_cells(FILE *out, const struct cells *c, const size_t *width)
{
	for (int i = 0; i < NCOLS; i++) {
		int w = (int)width[i];
		if (i == COL_MODEL)
			fprintf(out, "%-*s", w, c->c[i]);
		else
			fprintf(out, "  %*s", w, c->c[i]);
	}
	fputc('\n', out);
}

int am_report_table(const am_ledger_summary *s, FILE *out, am_err *err)
{
	size_t n = s->nrows;
	struct cells *cells = am_xcalloc(n + 2, sizeof *cells);
	size_t width[NCOLS];
	for (int i = 0; i < NCOLS; i++)
		snprintf(cells[0].c[i], sizeof cells[0].c[i], "%s",
		         i == COL_MODEL && s->by_tag ? "TAG" : headers[i]);
	for (size_t i = 0; i < n; i++) {
		const am_ledger_row *r = &s->rows[i];
		char label[160], model[140];
		am_say_copy(model, sizeof model, r->untagged ? AM_REPORT_UNTAGGED : r->model);
		if (*r->day)
			snprintf(label, sizeof label, "%s %s", r->day, model);
		else
			snprintf(label, sizeof label, "%s", model);
		row_cells(r, label, &cells[i + 1]);
	}
	row_cells(&s->total, "TOTAL", &cells[n + 1]);
	for (int c = 0; c < NCOLS; c++) {
		width[c] = 0;
		for (size_t i = 0; i < n + 2; i++)
			if (strlen(cells[i].c[c]) > width[c])
				width[c] = strlen(cells[i].c[c]);
	}

	if (!strcmp(s->from, s->to))
		fprintf(out, "Spend on %s (local time)\n\n", s->from);
	else
		fprintf(out, "Spend from %s to %s (local time)\n\n", s->from, s->to);
	print_cells(out, &cells[0], width);
	if (n == 0)
		fprintf(out, "(no usage recorded)\n");
	for (size_t i = 1; i <= n; i++)
		print_cells(out, &cells[i], width);
	size_t rule = width[COL_MODEL];
	for (int c = 1; c < NCOLS; c++)
		rule += 2 + width[c];
	for (size_t i = 0; i < rule; i++)
		fputc('-', out);
	fputc('\n', out);
	print_cells(out, &cells[n + 1], width);
	free(cells);

	if (s->total.unknown_count > 0) {
		fprintf(out, "\n* The total excludes %" PRId64 " request%s with an unknown price:",
		        s->total.unknown_count, s->total.unknown_count == 1 ? "" : "s");
		const char *last = NULL;
		for (size_t i = 0; i < n; i++) {
			const am_ledger_row *r = &s->rows[i];
			const char *name = r->untagged ? AM_REPORT_UNTAGGED : r->model;
			if (r->unknown_count > 0 && (!last || strcmp(last, name))) {
				am_say(out, "%s %s", last ? "," : "", name);
				last = name;
			}
		}
		fprintf(out, ".\n  Give them a price in the override file (see 'aimeter pricing').\n");
	}
	/* The built-in simulator's rows: in the table by their own names, and
	 * said apart here, so that they are never read as spend. */
	int64_t sim_req = 0, sim_pusd = 0;
	for (size_t i = 0; i < n && !s->by_tag; i++)
		if (!strncmp(s->rows[i].model, AM_LEDGER_SIMULATED, strlen(AM_LEDGER_SIMULATED))) {
			sim_req += s->rows[i].requests;
			sim_pusd += s->rows[i].cost_pusd;
		}
	if (sim_req > 0) {
		char usd[48];
		am_report_usd(sim_pusd, usd, sizeof usd);
		fprintf(out, "\nSimulated: %" PRId64 " request%s (%s of the total) went to the built-in "
		        "simulator (\"%s\" models), never paid for.\n", sim_req,
		        sim_req == 1 ? "" : "s", usd, AM_LEDGER_SIMULATED);
	}
	if (s->total.estimated > 0)
		fprintf(out, "%sest.: %" PRId64 " request%s cut short: counts and cost estimated from what "
		        "arrived.\n", s->total.unknown_count > 0 ? "" : "\n", s->total.estimated,
		        s->total.estimated == 1 ? " was" : "s were");
	if (s->total.cached > 0) {
		char saved[48];
		am_report_usd(s->total.saved_pusd, saved, sizeof saved);
		fprintf(out, "%sCache: %" PRId64 " hit%s, %s saved.\n",
		        s->total.unknown_count > 0 ? "" : "\n", s->total.cached,
		        s->total.cached == 1 ? "" : "s", saved);
	}
	if (ferror(out))
		return am_err_set(err, "cannot write the report");
	return 0;
}
