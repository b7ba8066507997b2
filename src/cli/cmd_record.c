/* aimeter record: append one usage event by hand and print its cost.
 *
 * For tests and for logging calls made elsewhere. The cost comes from the
 * effective price table (shipped table plus the user's override); a model
 * missing from it is still recorded, flagged "price unknown", never $0. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "cliargs.h"
#include "commands.h"
#include "ledger.h"
#include "paths.h"
#include "pricing.h"
#include "report.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: aimeter record --model M --input N --output N [--cache-write-5m N]\n"
	        "                      [--cache-write-1h N] [--cache-read N] [--batch]\n"
	        "                      [--db PATH] [--config PATH]\n"
	        "\n"
	        "Append one usage event to the ledger, dated now, and print its cost.\n"
	        "\n"
	        "  --model M           the model id the call used (required)\n"
	        "  --input N           uncached input tokens (required)\n"
	        "  --output N          output tokens (required)\n"
	        "  --cache-write-5m N  input tokens written to the 5-minute cache\n"
	        "  --cache-write-1h N  input tokens written to the 1-hour cache\n"
	        "  --cache-read N      input tokens read from the cache\n"
	        "  --batch             priced as a Message Batches call\n"
	        "  --db PATH           the ledger database (default: $XDG_DATA_HOME/aimeter/aimeter.db)\n"
	        "  --config PATH       the configuration file\n"
	        "  --help              show this help\n");
}

/* Looks up the price and computes the exact cost: 1 priced, 0 unknown. */
static int price_call(const char *model, const am_usage *u, bool batch, int64_t *cost,
                      am_err *err)
{
	char override[4096];
	am_pricing *p;
	if (am_path_pricing_override(override, sizeof override, err))
		return -1;
	if (am_pricing_load(&p, am_pricing_default_path(), override, err))
		return -1;
	const am_price *price = am_pricing_lookup(p, model);
	int known = price != NULL;
	if (price && am_cost(price, u, batch, cost, err))
		known = -1;
	am_pricing_free(p);
	return known;
}

int cmd_record(int argc, char **argv)
{
	enum { O_IN = 1000, O_OUT, O_CW5, O_CW1, O_CR, O_BATCH, O_DB, O_CONFIG };
	static const struct option longopts[] = {
		{ "model", required_argument, NULL, 'm' },
		{ "input", required_argument, NULL, O_IN },
		{ "output", required_argument, NULL, O_OUT },
		{ "cache-write-5m", required_argument, NULL, O_CW5 },
		{ "cache-write-1h", required_argument, NULL, O_CW1 },
		{ "cache-read", required_argument, NULL, O_CR },
		{ "batch", no_argument, NULL, O_BATCH },
		{ "db", required_argument, NULL, O_DB },
		{ "config", required_argument, NULL, O_CONFIG },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *model = NULL, *db = NULL;
	am_usage u = { 0 };
	bool batch = false, have_in = false, have_out = false;
	int c, idx = 0;
	am_err err;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", longopts, &idx)) != -1) {
		int64_t *count = NULL;
		switch (c) {
		case 'm': model = optarg; break;
		case O_IN: count = &u.input_tokens; have_in = true; break;
		case O_OUT: count = &u.output_tokens; have_out = true; break;
		case O_CW5: count = &u.cache_write_5m; break;
		case O_CW1: count = &u.cache_write_1h; break;
		case O_CR: count = &u.cache_read; break;
		case O_BATCH: batch = true; break;
		case O_DB: db = optarg; break;
		case O_CONFIG: break; /* accepted; record reads no configuration yet */
		case 'h': usage(stdout); return 0;
		default: return am_cli_getopt_error("record", c, argv);
		}
		if (count && am_cli_parse_count(optarg, count))
			return am_cli_usage_error("record", "--%s: '%s' is not a token count",
			                          longopts[idx].name, optarg);
	}
	if (optind < argc)
		return am_cli_usage_error("record", "unexpected argument '%s' (see --help)", argv[optind]);
	if (!model || !*model)
		return am_cli_usage_error("record", "--model is required");
	if (!have_in)
		return am_cli_usage_error("record", "--input is required");
	if (!have_out)
		return am_cli_usage_error("record", "--output is required");

	int64_t cost = 0;
	int known = price_call(model, &u, batch, &cost, &err);
	if (known < 0) {
		fprintf(stderr, "aimeter record: %s\n", err.msg);
		return 1;
	}
	am_ledger *l;
	int status = am_cli_open_ledger("record", db, false, &l);
	if (status)
		return status;
	am_ledger_event ev = {
		.ts_ns = am_clock_wall(am_clock_system()),
		.model_requested = model,
		.model = model,
		.usage = u,
		.price_known = known == 1,
		.cost_pusd = cost,
		.batch = batch,
		.latency_ms = -1,
		.source = "record",
	};
	if (am_ledger_record(l, &ev, &err) < 0) {
		fprintf(stderr, "aimeter record: %s\n", err.msg);
		am_ledger_close(l);
		return 1;
	}
	am_ledger_close(l);

	char in[32], out[32], usd[48];
	am_report_group(am_usage_total_input(&u), in, sizeof in);
	am_report_group(u.output_tokens, out, sizeof out);
	if (known == 1) {
		am_report_usd(cost, usd, sizeof usd);
		printf("recorded %s: %s input + %s output tokens%s, cost %s\n", model, in, out,
		       batch ? " (batch)" : "", usd);
	} else {
		printf("recorded %s: %s input + %s output tokens%s, price unknown (not in the totals)\n",
		       model, in, out, batch ? " (batch)" : "");
	}
	return 0;
}
