/* aimeter batches: the provider batches `batch --via batches` submitted, as
 * the ledger has them (id, state, request counts, age, cost so far and the
 * saving against real-time prices), and `aimeter batches cancel ID`. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clock.h"
#include "commands.h"
#include "ledger.h"
#include "money.h"
#include "msgbatch.h"
#include "pbatch.h"
#include "say.h"

enum { O_ALL = 1 };

static const am_cli_opt opts[] = {
	{ "all", NULL, "every batch, not only the last 20", O_ALL, NULL },
	{ NULL, NULL, NULL, 0, NULL },
};

static void fmt_age(int64_t ns, char *buf, size_t n)
{
	int64_t s = ns > 0 ? ns / AM_NS_PER_SEC : 0;
	if (s >= 86400)
		snprintf(buf, n, "%" PRId64 "d%02" PRId64 "h", s / 86400, s / 3600 % 24);
	else if (s >= 3600)
		snprintf(buf, n, "%" PRId64 "h%02" PRId64 "m", s / 3600, s / 60 % 60);
	else if (s >= 60)
		snprintf(buf, n, "%" PRId64 "m%02" PRId64 "s", s / 60, s % 60);
	else
		snprintf(buf, n, "%" PRId64 "s", s);
}

static void print_row(const am_pb_row *r, int64_t now)
{
	char age[24], cost[48], saved[48];
	fmt_age(now - (r->created_ns ? r->created_ns : r->intent_ns), age, sizeof age);
	am_money_format_display(r->cost_pusd, 4, cost, sizeof cost);
	am_money_format_display(r->realtime_pusd - r->cost_pusd, 4, saved, sizeof saved);
	am_say(stdout,
	       "%s  %s  %" PRId64 " request%s: %" PRId64 " succeeded, %" PRId64 " errored, %" PRId64
	       " expired, %" PRId64 " canceled, %" PRId64 " processing · age %s · %s so far · "
	       "saved %s against real-time prices\n",
	       r->provider_id[0] ? r->provider_id : "(not yet known)", am_pb_state_name(r->state),
	       r->requests, r->requests == 1 ? "" : "s", r->succeeded, r->errored, r->expired,
	       r->canceled, r->processing, age, cost, saved);
}

static int cancel(const am_config *cfg, am_ledger *l, const char *id)
{
	am_err err;
	if (!cfg->api_key[0]) {
		fprintf(stderr, "aimeter batches: cancel needs an API key (ANTHROPIC_API_KEY)\n");
		return 1;
	}
	am_mb_opts mo = {
		.base_url = cfg->base_url,
		.api_key = cfg->api_key,
		.connect_timeout_ms = cfg->client.connect_timeout_ms,
		.timeout_ms = cfg->client.timeout_ms,
		.allow_insecure_http = cfg->allow_insecure_http,
	};
	am_mb *mb;
	if (am_mb_open(&mb, &mo, &err)) {
		fprintf(stderr, "aimeter batches: %s\n", err.msg);
		return 1;
	}
	am_mb_batch b;
	am_mb_reply rep;
	int rc = am_mb_cancel(mb, id, &b, &rep, &err);
	am_mb_close(mb);
	if (rc) {
		am_say(stderr, "aimeter batches: cancel %s: %s\n", id, err.msg);
		return err.code == AM_E_INVALID ? 2 : 1;
	}
	/* The ledger's row follows; the results are read by the next run. */
	am_pb_row row;
	sqlite3 *db = am_ledger_db(l);
	if (am_pb_find(db, b.id, &row, &err) == 1) {
		am_pb_remote r = {
			.provider_id = b.id,
			.state = !strcmp(b.status, "ended") ? AM_PB_ENDED : AM_PB_CANCELING,
			.processing = b.processing, .succeeded = b.succeeded, .errored = b.errored,
			.canceled = b.canceled, .expired = b.expired, .created_ns = b.created_ns,
			.ended_ns = b.ended_ns, .expires_ns = b.expires_ns,
			.results_url = b.results_url[0] ? b.results_url : NULL,
		};
		am_pb_remote_set(db, row.id, &r, am_clock_wall(am_clock_system()), &err);
	}
	am_say(stdout, "%s: %s (the next `aimeter batch --via batches` of its file reads what "
	               "it finished)\n", b.id, b.status);
	return 0;
}

int cmd_batches(int argc, char **argv)
{
	bool all = false;
	const char *args[2] = { NULL, NULL };
	int nargs = 0;
	am_cli c;
	am_cli_init(&c, "batches", "[cancel ID] [OPTIONS]",
	            "Lists the provider batches `aimeter batch --via batches` submitted: id,\n"
	            "state, request counts, age, cost so far and the saving against real-time\n"
	            "prices. `aimeter batches cancel ID` cancels one at the provider.",
	            opts, true, argc, argv);
	c.max_args = 2;
	for (int id; (id = am_cli_next(&c)) != AM_CLI_END;) {
		switch (id) {
		case AM_CLI_EXIT: return c.exit_code;
		case AM_CLI_ARG: args[nargs++] = c.value; break;
		case O_ALL: all = true; break;
		}
	}
	if (nargs && (strcmp(args[0], "cancel") || nargs != 2))
		return am_cli_usage_error("batches", "expected `batches` or `batches cancel ID`");
	am_config cfg;
	int rc = am_cli_load_config(&c, &cfg);
	if (rc)
		return rc;
	am_ledger *l = NULL;
	rc = am_cli_open_ledger(c.cmd, cfg.db, !nargs, &l);
	if (!rc && nargs) {
		rc = cancel(&cfg, l, args[1]);
	} else if (!rc) {
		am_pb_row *rows;
		int n;
		am_err err;
		if (am_pb_list(am_ledger_db(l), all ? 0 : 20, &rows, &n, &err)) {
			fprintf(stderr, "aimeter batches: %s\n", err.msg);
			rc = 1;
		} else {
			int64_t now = am_clock_wall(am_clock_system());
			for (int i = 0; i < n; i++)
				print_row(&rows[i], now);
			if (!n)
				printf("no provider batches yet (aimeter batch FILE --via batches)\n");
			free(rows);
		}
	}
	am_ledger_close(l);
	am_config_wipe(&cfg);
	return rc;
}
