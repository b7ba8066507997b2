/* aimeter report: spend per model over local days, from the ledger.
 *
 * A composition root of its own: parse flags, pick the day range (today in
 * the local time zone by default, TZ honoured), read the ledger's per-day
 * summary and print it as a table, JSON (the stable interface) or CSV. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "cliargs.h"
#include "commands.h"
#include "ledger.h"
#include "report.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: aimeter report [--day YYYY-MM-DD | --since YYYY-MM-DD [--until YYYY-MM-DD]]\n"
	        "                      [--json | --csv] [--db PATH] [--config PATH]\n"
	        "\n"
	        "Spend per model from the ledger, over local calendar days (TZ is honoured).\n"
	        "\n"
	        "  --day D       one day (default: today)\n"
	        "  --since D     first day of a range\n"
	        "  --until D     last day of a range (default: today)\n"
	        "  --json        one JSON object: {from, to, models[], total}\n"
	        "  --csv         CSV, one line per day and model\n"
	        "  --db PATH     the ledger database (default: $XDG_DATA_HOME/aimeter/aimeter.db)\n"
	        "  --config PATH the configuration file (default: $XDG_CONFIG_HOME/aimeter/config.json)\n"
	        "  --help        show this help\n"
	        "\n"
	        "Costs are exact. Calls to a model without a known price are flagged\n"
	        "\"price ?\" and left out of the totals, which say so.\n");
}

enum format { FMT_TABLE, FMT_JSON, FMT_CSV };

int cmd_report(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "day", required_argument, NULL, 'd' },
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "json", no_argument, NULL, 'j' },
		{ "csv", no_argument, NULL, 'c' },
		{ "db", required_argument, NULL, 'D' },
		{ "config", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *day = NULL, *since = NULL, *until = NULL, *db = NULL;
	enum format fmt = FMT_TABLE;
	int nfmt = 0, c;
	am_err err;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': day = optarg; break;
		case 's': since = optarg; break;
		case 'u': until = optarg; break;
		case 'j': fmt = FMT_JSON; nfmt++; break;
		case 'c': fmt = FMT_CSV; nfmt++; break;
		case 'D': db = optarg; break;
		case 'C': break; /* accepted; report reads no configuration yet */
		case 'h': usage(stdout); return 0;
		default: return am_cli_getopt_error("report", c, argv);
		}
	}
	if (optind < argc)
		return am_cli_usage_error("report", "unexpected argument '%s' (see --help)", argv[optind]);
	if (nfmt > 1)
		return am_cli_usage_error("report", "--json and --csv exclude each other");
	if (day && (since || until))
		return am_cli_usage_error("report", "--day excludes --since and --until");
	if (until && !since)
		return am_cli_usage_error("report", "--until needs --since");
	const char *names[] = { "--day", "--since", "--until" };
	const char *vals[] = { day, since, until };
	for (int i = 0; i < 3; i++)
		if (vals[i] && am_ledger_parse_day(vals[i], &err))
			return am_cli_usage_error("report", "%s: %s", names[i], err.msg);

	char today[AM_LEDGER_DAY_LEN];
	tzset();
	if (am_ledger_day(am_clock_wall(am_clock_system()), today, &err)) {
		fprintf(stderr, "aimeter report: %s\n", err.msg);
		return 1;
	}
	const char *from = day ? day : since ? since : today;
	const char *to = day ? day : until ? until : today;
	if (strcmp(from, to) > 0)
		return am_cli_usage_error("report", "--since %s is after --until %s", from, to);

	am_ledger *l;
	int status = am_cli_open_ledger("report", db, true, &l);
	if (status)
		return status;
	am_ledger_summary sum;
	if (am_ledger_report(l, from, to, fmt == FMT_CSV, &sum, &err)) {
		fprintf(stderr, "aimeter report: %s\n", err.msg);
		status = 1;
	} else {
		int rc = fmt == FMT_JSON ? am_report_json(&sum, stdout, &err)
		       : fmt == FMT_CSV  ? am_report_csv(&sum, stdout, &err)
		                         : am_report_table(&sum, stdout, &err);
		if (rc || fflush(stdout)) {
			fprintf(stderr, "aimeter report: %s\n", rc ? err.msg : "cannot write the report");
			status = 1;
		}
	}
	am_ledger_summary_free(&sum);
	am_ledger_close(l);
	return status;
}
