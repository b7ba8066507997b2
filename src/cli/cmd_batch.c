/* aimeter batch: a JSONL file of prompts through the persisted queue.
 *
 * The command: its flags, the worker and ledger it runs on, and the words
 * of its verdict. The running policy - lines queued as there is room, a
 * re-run resuming the earlier run of the same file, the lines of a live
 * other run not touched (exit status 4), results in input order - is
 * am_batch_run's (pipeline/batch.h). */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "batch.h"
#include "batchapi.h"
#include "budget.h"
#include "msgbatch.h"
#include "selector.h"
#include "cli.h"
#include "clock.h"
#include "commands.h"
#include "ledger.h"
#include "outfile.h"
#include "say.h"
#include "tag.h"

enum {
	O_OUT = 1,
	O_CONC,
	O_BUDGET,
	O_NOCACHE,
	O_SIM,
	O_TAG,
	O_VIA,
	O_POLL,
	O_EXPIRE,
	O_MAXREQ,
	O_DIM /* + am_dim */
};

static const am_cli_opt opts[] = {
	{ "out", "FILE", "write results (JSONL, input order) to FILE (default stdout)", O_OUT, NULL },
	{ "concurrency", "N", "calls in flight at most (this run only)", O_CONC,
	  "worker.concurrency" },
#define DIM_OPT(id, key, label, unit, what) \
	{ #key, "N", what " (this run only)", O_DIM + AM_DIM_##id, "limits." #key },
	AM_DIMS(DIM_OPT)
#undef DIM_OPT
	{ "budget", "USD", "daily budget for this run (saved settings are unchanged)", O_BUDGET,
	  "budget.daily_usd" },
	{ "no-cache", NULL, "do not use the response cache", O_NOCACHE, NULL },
	{ "sim", NULL, "use the built-in simulator even with an API key", O_SIM, NULL },
	{ "tag", "T", "count the calls under tag T (a line's own \"tag\" wins)", O_TAG, NULL },
	{ "via", "HOW", "messages (real time) or batches (Message Batches API, half price)", O_VIA,
	  "batch.via" },
	{ "poll-s", "S", "with --via batches: poll every S seconds (default: 2 s backing off to 60 s)",
	  O_POLL, NULL },
	{ "on-expire", "WHAT", "with --via batches: expired or canceled requests are left queued "
	  "for the next run (requeue, the default) or failed (fail)", O_EXPIRE, NULL },
	{ "max-requests", "N", "with --via batches: requests per provider batch at most "
	  "(default 100000)", O_MAXREQ, NULL },
	{ NULL, NULL, NULL, 0, NULL },
};

static atomic_int interrupted;

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&interrupted, 1);
}

/* The verdict of a run that did not write its results (or failed to). */
static void print_verdict(const am_batch_outcome *oc)
{
	switch (oc->end) {
	case AM_BATCH_END_HELD:
		fprintf(stderr, "aimeter batch: %" PRId64 " job%s of this file belong%s to aimeter pid "
		                "%ld%s, still running: let it finish (or stop it), then run the same "
		                "command again\n",
		        oc->held, oc->held == 1 ? "" : "s", oc->held == 1 ? "s" : "", oc->held_pid,
		        oc->held_several ? " and others" : "");
		break;
	case AM_BATCH_END_INTERRUPTED:
		fprintf(stderr, "aimeter batch: interrupted; unfinished jobs stay queued — run the "
		                "same command again to resume\n");
		break;
	case AM_BATCH_END_WORKER:
		if (oc->via_batches) {
			fprintf(stderr, "aimeter batch: stopped early; %" PRId64 " unfinished job%s "
			                "stay%s in the ledger — fix the cause above, then run the same "
			                "command again to resume\n",
			        oc->unfinished, oc->unfinished == 1 ? "" : "s",
			        oc->unfinished == 1 ? "s" : "");
			break;
		}
		fprintf(stderr, "aimeter batch: stopped early; %" PRId64 " unfinished job%s stay%s "
		                "queued%s — fix the cause above, then run the same command again "
		                "to resume\n",
		        oc->unfinished, oc->unfinished == 1 ? "" : "s", oc->unfinished == 1 ? "s" : "",
		        oc->eof ? "" : " and the rest of the file is not read yet");
		break;
	case AM_BATCH_END_WRITE:
		am_say(stderr, "aimeter batch: %s\n", oc->err.msg);
		break;
	case AM_BATCH_END_DONE:
		break;
	}
}

/* What --via batches runs on instead of the worker: the provider's batch
 * endpoints, the prices, the selector and the budget. 0, or 1 after
 * printing why. */
static int batches_setup(am_app *app, am_bapi_opts *bo, am_sel_config *sel, am_mb **mb)
{
	am_err err;
	memset(bo, 0, sizeof *bo);
	am_mb_opts mo = {
		.base_url = app->base_url,
		.api_key = app->sim ? "sim-key" : app->cfg.api_key,
		.connect_timeout_ms = app->cfg.client.connect_timeout_ms,
		.timeout_ms = app->cfg.client.timeout_ms,
		.allow_insecure_http = app->cfg.allow_insecure_http,
	};
	if (am_sel_config_from(&app->cfg, sel, &err) ||
	    am_budget_config_from(&app->cfg, &bo->budget, &err) || am_mb_open(mb, &mo, &err)) {
		fprintf(stderr, "aimeter batch: %s\n", err.msg);
		return 1;
	}
	bo->mb = *mb;
	bo->base_url = app->base_url;
	bo->pricing = app->pricing;
	bo->sel = sel;
	bo->budget.web_search_uses = app->cfg.budget.web_search_uses;
	bo->tags = app->cfg.budget.tag;
	bo->ntags = app->cfg.budget.ntags;
	bo->default_max_tokens = app->cfg.client.max_tokens;
	bo->max_retries = (int)app->cfg.client.max_retries;
	bo->simulator = app->sim != NULL;
	return 0;
}

int cmd_batch(int argc, char **argv)
{
	const char *out_path = NULL, *path = NULL, *tag = NULL;
	bool no_cache = false, sim = false, expire_fail = false;
	double poll_s = 0;
	int64_t max_requests = 0;
	am_err terr;
	am_cli c;
	am_cli_init(&c, "batch", "FILE.jsonl [OPTIONS]",
	            "Runs every line of FILE through the pipeline at the highest rate the limits\n"
	            "allow. A line is {\"prompt\": ..., \"model\"?, \"max_tokens\"?, \"system\"?,\n"
	            "\"id\"?, \"tag\"?} or a full Messages body. Re-running the same file resumes: finished\n"
	            "lines are not sent again. Exit status: 0 all done, 1 some failed, 2 usage\n"
	            "error, 3 some blocked by the budget, 4 lines of the file belong to another\n"
	            "aimeter process that still runs.",
	            opts, true, argc, argv);
	c.max_args = 1;
	for (int id; (id = am_cli_next(&c)) != AM_CLI_END;) {
		switch (id) {
		case AM_CLI_EXIT: return c.exit_code;
		case AM_CLI_ARG: path = c.value; break;
		case O_OUT: out_path = c.value; break;
		case O_NOCACHE: no_cache = true; break;
		case O_SIM: sim = true; break;
		case O_TAG:
			if (am_tag_check(c.value, &terr))
				return am_cli_usage_error("batch", "--tag: %s", terr.msg);
			tag = c.value;
			break;
		case O_POLL:
			if (am_cli_real(&c, 0.01, 3600, &poll_s))
				return c.exit_code;
			break;
		case O_MAXREQ:
			if (am_cli_int(&c, 1, AM_MB_MAX_REQUESTS, &max_requests))
				return c.exit_code;
			break;
		case O_EXPIRE:
			if (strcmp(c.value, "requeue") && strcmp(c.value, "fail"))
				return am_cli_usage_error("batch", "--on-expire: expected requeue or fail, "
				                                   "not '%s'", c.value);
			expire_fail = !strcmp(c.value, "fail");
			break;
		}
	}
	if (!path)
		return am_cli_usage_error("batch", "FILE.jsonl is required");
	am_config cfg;
	int rc = am_cli_load_config(&c, &cfg);
	if (rc)
		return rc;
	FILE *in = strcmp(path, "-") ? fopen(path, "re") : stdin;
	if (!in) {
		fprintf(stderr, "aimeter batch: cannot open %s: %s\n", path, strerror(errno));
		am_config_wipe(&cfg);
		return 1;
	}

	/* The results replace --out only once they are all written, and never
	 * the prompts they come from. */
	am_outfile out = { 0 };
	am_err err;
	if (out_path && am_same_file(fileno(in), out_path)) {
		if (in != stdin)
			fclose(in);
		am_config_wipe(&cfg);
		return am_cli_usage_error("batch", "--out %s is the input file; results would "
		                          "overwrite the prompts", out_path);
	}
	if (out_path && am_outfile_open(&out, out_path, &err)) {
		fprintf(stderr, "aimeter batch: %s\n", err.msg);
		if (in != stdin)
			fclose(in);
		am_config_wipe(&cfg);
		return 1;
	}
	bool via_batches = cfg.batch.via == AM_BATCH_VIA_BATCHES;
	am_app app;
	rc = am_app_open(&app, &c, &cfg, sim);
	am_config_wipe(&cfg);
	am_ledger *ledger = NULL;
	if (!rc)
		rc = am_cli_open_ledger("batch", app.cfg.db, false, &ledger);
	app.halt_on_fatal = true;
	am_bapi_opts bo;
	am_sel_config sel;
	am_mb *mb = NULL;
	if (!rc && via_batches)
		rc = batches_setup(&app, &bo, &sel, &mb);
	else if (!rc)
		rc = am_app_start(&app, "batch", false);
	if (rc) {
		am_mb_close(mb);
		if (in != stdin)
			fclose(in);
		am_outfile_abort(&out);
		am_ledger_close(ledger);
		am_app_close(&app, 0);
		return rc;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	am_batch_run_opts ro = {
		.in = in,
		.in_name = path,
		.out = out.f ? out.f : stdout,
		.msgs = stderr,
		.tty = isatty(2),
		.no_cache = no_cache,
		.tag = tag,
		.queue_capacity = app.cfg.worker.queue_capacity,
		.ledger = ledger,
		.worker = app.worker,
		.clock = am_clock_system(),
		.stop = &interrupted,
		.via_batches = via_batches ? &bo : NULL,
	};
	if (via_batches) {
		ro.queue_capacity = 0;
		bo.poll_s = poll_s;
		bo.expire_fail = expire_fail;
		bo.max_requests = max_requests;
	}
	app.worker = NULL; /* the run stops it */
	am_batch_outcome oc;
	rc = am_batch_run(&ro, &oc);
	print_verdict(&oc);
	if (in != stdin)
		fclose(in);
	if (!out.f || oc.end != AM_BATCH_END_DONE) {
		am_outfile_abort(&out);
	} else if (am_outfile_commit(&out, &err)) {
		fprintf(stderr, "aimeter batch: %s\n", err.msg);
		rc = 1;
	}
	am_mb_close(mb);
	am_ledger_close(ledger);
	am_app_close(&app, 0);
	return rc;
}
