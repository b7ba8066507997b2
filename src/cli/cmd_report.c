/* aimeter report: spend per model (or per tag) over local days, from the
 * ledger.
 *
 * A composition root of its own: parse flags, load the config (its `db` and
 * `timezone`), pick the day range (today in that time zone by default), read
 * the ledger's per-day summary and print it as a table, JSON (the stable
 * interface) or CSV. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "clock.h"
#include "commands.h"
#include "ledger.h"
#include "report.h"

enum { O_DAY = 1, O_SINCE, O_UNTIL, O_JSON, O_CSV, O_BY };

static const am_cli_opt opts[] = {
    {"day", "YYYY-MM-DD", "one local day (default: today)", O_DAY, NULL},
    {"since", "YYYY-MM-DD", "first day of a range", O_SINCE, NULL},
    {"until", "YYYY-MM-DD", "last day of a range (default: today)", O_UNTIL, NULL},
    {"json", NULL, "one JSON object: {from, to, models[], total}", O_JSON, NULL},
    {"csv", NULL, "CSV, one line per day and model", O_CSV, NULL},
    {"by", "model|tag", "one row per model (default) or per tag", O_BY, NULL},
    {NULL, NULL, NULL, 0, NULL},
};

enum format { FMT_TABLE, FMT_JSON, FMT_CSV };

int cmd_report(int argc, char **argv)
{
	const char *day = NULL, *since = NULL, *until = NULL;
	enum format fmt = FMT_TABLE;
	int nfmt = 0;
	bool by_tag = false;
	am_err err;
	am_cli c;
	am_cli_init(&c, "report",
	            "[--day D | --since D [--until D]] [--by model|tag] [--json | --csv] [OPTIONS]",
	            "Spend per model from the ledger, over local calendar days: the config's\n"
	            "timezone, else TZ. Costs are exact. Calls to a model without a known price\n"
	            "are flagged \"price ?\" and left out of the totals, which say so.\n"
	            "--by tag: one row per tag (--tag, a batch line's \"tag\", the proxy's),\n"
	            "and one for the calls without a tag; the rows add up to the total.",
	            opts, true, argc, argv);
	for (int id; (id = am_cli_next(&c)) != AM_CLI_END;) {
		switch (id) {
		case AM_CLI_EXIT: return c.exit_code;
		case O_DAY: day = c.value; break;
		case O_SINCE: since = c.value; break;
		case O_UNTIL: until = c.value; break;
		case O_JSON: fmt = FMT_JSON; nfmt++; break;
		case O_CSV: fmt = FMT_CSV; nfmt++; break;
		case O_BY:
			if (strcmp(c.value, "model") && strcmp(c.value, "tag"))
				return am_cli_usage_error(c.cmd, "bad value for --by: '%s' (model or tag)",
				                          c.value);
			by_tag = !strcmp(c.value, "tag");
			break;
		}
	}
	if (nfmt > 1)
		return am_cli_usage_error(c.cmd, "--json and --csv exclude each other");
	if (day && (since || until))
		return am_cli_usage_error(c.cmd, "--day excludes --since and --until");
	if (until && !since)
		return am_cli_usage_error(c.cmd, "--until needs --since");
	const char *names[] = { "--day", "--since", "--until" };
	const char *vals[] = { day, since, until };
	for (int i = 0; i < 3; i++)
		if (vals[i] && am_ledger_parse_day(vals[i], &err))
			return am_cli_usage_error(c.cmd, "bad value for %s: %s", names[i], err.msg);

	/* The config's timezone decides what "today" is. */
	am_config cfg;
	int status = am_cli_load_config(&c, &cfg);
	if (status)
		return status;
	char today[AM_LEDGER_DAY_LEN];
	am_ledger *l = NULL;
	if (am_ledger_day(am_clock_wall(am_clock_system()), today, &err)) {
		fprintf(stderr, "aimeter report: %s\n", err.msg);
		status = 1;
	}
	const char *from = day ? day : since ? since : today;
	const char *to = day ? day : until ? until : today;
	if (!status && strcmp(from, to) > 0)
		status = am_cli_usage_error(c.cmd, "--since %s is after --until %s", from, to);
	if (!status)
		status = am_cli_open_ledger(c.cmd, cfg.db, true, &l);
	am_config_wipe(&cfg);
	if (status)
		return status;
	am_ledger_summary sum;
	int got = by_tag ? am_ledger_report_tags(l, from, to, fmt == FMT_CSV, &sum, &err)
	                 : am_ledger_report(l, from, to, fmt == FMT_CSV, &sum, &err);
	if (got) {
		fprintf(stderr, "aimeter report: %s\n", err.msg);
		status = 1;
	} else {
		int rc = fmt == FMT_JSON ? am_report_json(&sum, stdout, &err)
		       : fmt == FMT_CSV  ? am_report_csv(&sum, stdout, &err)
		                         : am_report_table(&sum, stdout, &err);
		if (rc) {
			fprintf(stderr, "aimeter report: %s\n", err.msg);
			status = 1;
		}
	}
	am_ledger_summary_free(&sum);
	am_ledger_close(l);
	return status;
}
