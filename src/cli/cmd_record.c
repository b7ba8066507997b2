/* aimeter record: append one usage event by hand and print its cost.
 *
 * For tests and for logging calls made elsewhere. The config decides the
 * ledger (`db`) and the event's local day (`timezone`); the cost comes from
 * the effective price table (shipped table plus the override beside the
 * config file). A model missing from it is still recorded, flagged "price
 * unknown", never $0. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "clock.h"
#include "commands.h"
#include "anthropic.h"
#include "ledger.h"
#include "pricing.h"
#include "report.h"
#include "say.h"
#include "tag.h"

enum { O_MODEL = 1, O_IN, O_OUT, O_CW5, O_CW1, O_CR, O_BATCH, O_SPEED, O_GEO, O_SEARCH, O_AT,
       O_TAG };

static const am_cli_opt opts[] = {
    {"model", "M", "the model id the call used (required)", O_MODEL, NULL},
    {"input", "N", "uncached input tokens (required)", O_IN, NULL},
    {"output", "N", "output tokens (required)", O_OUT, NULL},
    {"cache-write-5m", "N", "input tokens written to the 5-minute cache", O_CW5, NULL},
    {"cache-write-1h", "N", "input tokens written to the 1-hour cache", O_CW1, NULL},
    {"cache-read", "N", "input tokens read from the cache", O_CR, NULL},
    {"batch", NULL, "priced as a Message Batches call", O_BATCH, NULL},
    {"speed", "S", "what was served: standard or fast (fast mode's rates)", O_SPEED, NULL},
    {"geo", "G", "where inference ran: global or us (US-only inference's rates)", O_GEO, NULL},
    {"web-search", "N", "web searches the call made ($10 per 1,000)", O_SEARCH, NULL},
    {"at", "TIME", "when the call was made (RFC 3339, e.g. 2026-10-06T12:00:00Z): dated\n"
                   "and priced at the rates of that day; default now", O_AT, NULL},
    {"tag", "T", "count the call under tag T (report --by tag, budget.tags)", O_TAG, NULL},
    {NULL, NULL, NULL, 0, NULL},
};

/* Looks up the price and computes the exact cost: 1 priced, 0 unknown, or
 * the exit status 1 after printing why. */
static int price_call(const am_cli *c, const am_config *cfg, const char *model, const am_usage *u,
                      bool batch, const char *day, int64_t *cost, bool *known)
{
	am_pricing *p;
	am_err err;
	if (am_cli_load_pricing(c, cfg, &p, NULL, 0))
		return 1;
	const am_price *price = am_pricing_lookup(p, model);
	int rc = 0;
	*known = price != NULL;
	if (price && am_cost_on(price, u, batch, day, cost, &err)) {
		fprintf(stderr, "aimeter %s: %s\n", c->cmd, err.msg);
		rc = 1;
	}
	am_pricing_free(p);
	return rc;
}

int cmd_record(int argc, char **argv)
{
	const char *model = NULL, *tag = NULL;
	am_usage u = { 0 };
	bool batch = false, have_in = false, have_out = false;
	int64_t at_ns = 0;
	bool have_at = false;
	am_err err;
	am_cli c;
	am_cli_init(&c, "record", "--model M --input N --output N [OPTIONS]",
	            "Append one usage event to the ledger, dated now (or --at) in the config's\n"
	            "timezone, and print its cost at the rates of its day. A model without a\n"
	            "known price is still recorded, flagged \"price unknown\" and left out of\n"
	            "the totals.",
	            opts, true, argc, argv);
	for (int id; (id = am_cli_next(&c)) != AM_CLI_END;) {
		int64_t *count = NULL;
		switch (id) {
		case AM_CLI_EXIT: return c.exit_code;
		case O_MODEL: model = c.value; break;
		case O_IN: count = &u.input_tokens; have_in = true; break;
		case O_OUT: count = &u.output_tokens; have_out = true; break;
		case O_CW5: count = &u.cache_write_5m; break;
		case O_CW1: count = &u.cache_write_1h; break;
		case O_CR: count = &u.cache_read; break;
		case O_BATCH: batch = true; break;
		case O_SEARCH: count = &u.web_search_requests; break;
		case O_SPEED:
			if (strcmp(c.value, "fast") && strcmp(c.value, "standard"))
				return am_cli_usage_error(c.cmd, "--speed: expected standard or fast, "
				                                 "not '%s'", c.value);
			snprintf(u.speed, sizeof u.speed, "%s", c.value);
			break;
		case O_GEO:
			if (strcmp(c.value, "us") && strcmp(c.value, "global"))
				return am_cli_usage_error(c.cmd, "--geo: expected global or us, not '%s'",
				                          c.value);
			snprintf(u.inference_geo, sizeof u.inference_geo, "%s", c.value);
			break;
		case O_AT:
			if (am_prov_parse_rfc3339(c.value, strlen(c.value), &at_ns))
				return am_cli_usage_error(c.cmd, "--at: '%s' is not an RFC 3339 time "
				                                 "(e.g. 2026-10-06T12:00:00Z)", c.value);
			have_at = true;
			break;
		case O_TAG:
			if (am_tag_check(c.value, &err))
				return am_cli_usage_error(c.cmd, "--tag: %s", err.msg);
			tag = c.value;
			break;
		}
		if (count && am_cli_int(&c, 0, INT64_MAX, count))
			return c.exit_code;
	}
	if (!model || !*model)
		return am_cli_usage_error(c.cmd, "--model is required");
	if (!have_in)
		return am_cli_usage_error(c.cmd, "--input is required");
	if (!have_out)
		return am_cli_usage_error(c.cmd, "--output is required");
	if (batch && !strcmp(u.speed, "fast"))
		return am_cli_usage_error(c.cmd, "--speed fast: fast mode is not offered with batch");
	if (!have_at)
		at_ns = am_clock_wall(am_clock_system());
	/* The provider's rates change on UTC days. */
	char day[AM_LEDGER_DAY_LEN];
	time_t secs = (time_t)(at_ns / AM_NS_PER_SEC - (at_ns % AM_NS_PER_SEC < 0));
	struct tm tm;
	if (!gmtime_r(&secs, &tm) || tm.tm_year + 1900 < 1 || tm.tm_year + 1900 > 9999)
		return am_cli_usage_error(c.cmd, "--at: the time is out of range");
	snprintf(day, sizeof day, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);

	am_config cfg;
	int status = am_cli_load_config(&c, &cfg);
	if (status)
		return status;
	int64_t cost = 0;
	bool known = false;
	am_ledger *l = NULL;
	status = price_call(&c, &cfg, model, &u, batch, day, &cost, &known);
	if (!status)
		status = am_cli_open_ledger(c.cmd, cfg.db, false, &l);
	am_config_wipe(&cfg);
	if (status)
		return status;
	am_ledger_event ev = {
		.ts_ns = at_ns,
		.model_requested = model,
		.model = model,
		.usage = u,
		.price_known = known,
		.cost_pusd = cost,
		.batch = batch,
		.latency_ms = -1,
		.source = "record",
		.tag = tag,
	};
	if (am_ledger_record(l, &ev, &err) < 0) {
		fprintf(stderr, "aimeter record: %s\n", err.msg);
		am_ledger_close(l);
		return 1;
	}
	am_ledger_close(l);

	char in[32], out[32], usd[48], extra[96];
	am_report_group(am_usage_total_input(&u), in, sizeof in);
	am_report_group(u.output_tokens, out, sizeof out);
	snprintf(extra, sizeof extra, "%s%s%s", batch ? " (batch)" : "",
	         !strcmp(u.speed, "fast") ? " (fast)" : "", am_usage_geo_us(&u) ? " (us)" : "");
	if (u.web_search_requests > 0)
		snprintf(extra + strlen(extra), sizeof extra - strlen(extra),
		         " + %" PRId64 " web search%s", u.web_search_requests,
		         u.web_search_requests == 1 ? "" : "es");
	if (known) {
		am_report_usd(cost, usd, sizeof usd);
		am_say(stdout, "recorded %s: %s input + %s output tokens%s, cost %s\n", model, in, out,
		       extra, usd);
	} else {
		am_say(stdout, "recorded %s: %s input + %s output tokens%s, price unknown (not in the totals)\n",
		       model, in, out, extra);
	}
	return 0;
}
