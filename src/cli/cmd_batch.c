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
#include "cli.h"
#include "clock.h"
#include "commands.h"
#include "ledger.h"
#include "outfile.h"
#include "say.h"
#include "tag.h"

enum { O_OUT = 1, O_CONC, O_BUDGET, O_NOCACHE, O_SIM, O_TAG, O_DIM /* + am_dim */ };

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

int cmd_batch(int argc, char **argv)
{
	const char *out_path = NULL, *path = NULL, *tag = NULL;
	bool no_cache = false, sim = false;
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
	am_app app;
	rc = am_app_open(&app, &c, &cfg, sim);
	am_config_wipe(&cfg);
	am_ledger *ledger = NULL;
	if (!rc)
		rc = am_cli_open_ledger("batch", app.cfg.db, false, &ledger);
	app.halt_on_fatal = true;
	if (!rc)
		rc = am_app_start(&app, "batch", false);
	if (rc) {
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
	};
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
	am_ledger_close(ledger);
	am_app_close(&app, 0);
	return rc;
}
