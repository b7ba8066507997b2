/* aimeter batch: a JSONL file of prompts through the persisted queue.
 *
 * Every line becomes a job whose batch key is derived from the line's bytes
 * and number, so re-running the same file against the same database resumes:
 * jobs already done are not repeated, unfinished ones continue. Lines are
 * added as the queue has room; results are written in input order once every
 * job has ended (or waits on the budget).
 *
 * The jobs are written owned by this process (jobs.owner, see owner.h), so
 * a dashboard or `ask` started on the same ledger mid-batch leaves them to
 * us. A re-run while an earlier run of the same file still runs finds its
 * lines owned by that live process: it does not wait (the other process may
 * be paused or blocked on the budget for hours), it names the process and
 * exits with status 4 before sending anything of its own. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "app.h"
#include "batchio.h"
#include "cli.h"
#include "clock.h"
#include "commands.h"
#include "ledger.h"
#include "money.h"
#include "owner.h"
#include "queue.h"

enum { O_OUT = 1, O_CONC, O_RPM, O_ITPM, O_OTPM, O_BUDGET, O_NOCACHE, O_SIM };

static const am_cli_opt opts[] = {
	{ "out", "FILE", "write results (JSONL, input order) to FILE (default stdout)", O_OUT, NULL },
	{ "concurrency", "N", "calls in flight at most (this run only)", O_CONC,
	  "worker.concurrency" },
	{ "rpm", "N", "requests per minute (this run only)", O_RPM, "limits.rpm" },
	{ "itpm", "N", "input tokens per minute (this run only)", O_ITPM, "limits.itpm" },
	{ "otpm", "N", "output tokens per minute (this run only)", O_OTPM, "limits.otpm" },
	{ "budget", "USD", "daily budget for this run (saved settings are unchanged)", O_BUDGET,
	  "budget.daily_usd" },
	{ "no-cache", NULL, "do not use the response cache", O_NOCACHE, NULL },
	{ "sim", NULL, "use the built-in simulator even with an API key", O_SIM, NULL },
	{ NULL, NULL, NULL, 0, NULL },
};

/* One per input line, kept until the results are written: small, so that
 * a file of a million lines costs tens of megabytes, not hundreds. */
typedef struct line_job {
	int64_t lineno;
	char *id;               /* heap */
	int64_t job_id;         /* 0 = a bad line */
	char *bad;              /* the parse error of a bad line */
} line_job;

static atomic_int interrupted;

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&interrupted, 1);
}

static void line_key(const char *line, size_t len, int64_t lineno, char out[80])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_Digest(line, len, md, &mdlen, EVP_sha256(), NULL);
	int n = snprintf(out, 80, "b1:");
	for (int i = 0; i < 16; i++)
		n += snprintf(out + n, (size_t)(80 - n), "%02x", md[i]);
	snprintf(out + n, (size_t)(80 - n), ":%" PRId64, lineno);
}

/* Reads the next line without its line end; -1 at the end of the file. */
static ssize_t next_line(FILE *in, char **buf, size_t *cap)
{
	ssize_t len = getline(buf, cap, in);
	while (len > 0 && ((*buf)[len - 1] == '\n' || (*buf)[len - 1] == '\r'))
		(*buf)[--len] = '\0';
	return len;
}

/* Lines of a file whose jobs a live other process holds. */
struct held {
	int64_t n;
	long pid;          /* the first holder's */
	bool several;      /* more than one holder */
	char first[AM_OWNER_MAX];
};

static void held_add(struct held *h, const char *holder)
{
	if (!h->n++) {
		unsigned long long start;
		if (am_owner_parse(holder, &h->pid, &start))
			h->pid = 0;
		snprintf(h->first, sizeof h->first, "%s", holder);
	} else if (strcmp(h->first, holder)) {
		h->several = true;
	}
}

/* After a held line: counts the rest of the file's lines held by a live
 * other process, adding nothing (the message names how many). */
static void count_held(FILE *in, char **buf, size_t *cap, int64_t lineno, sqlite3 *db,
                       const am_owner *me, struct held *h)
{
	ssize_t len;
	while ((len = next_line(in, buf, cap)) >= 0) {
		char key[80];
		line_key(*buf, (size_t)len, ++lineno, key);
		am_job j;
		if (am_queue_find(db, key, &j, NULL) == 1) {
			if (!am_job_state_final(j.state) && !am_owner_claimable(me, j.owner))
				held_add(h, j.owner);
			am_job_clear(&j);
		}
	}
}

struct counts {
	int64_t done, failed, blocked, unfinished;
	int64_t cost_pusd;
};

static int count_jobs(sqlite3 *db, int64_t lo, int64_t hi, struct counts *c)
{
	memset(c, 0, sizeof *c);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db,
	                       "SELECT state, count(*) FROM jobs WHERE id BETWEEN ? AND ? AND "
	                       "batch_key LIKE 'b1:%' GROUP BY state",
	                       -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, lo);
	sqlite3_bind_int64(st, 2, hi);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *s = (const char *)sqlite3_column_text(st, 0);
		int64_t n = sqlite3_column_int64(st, 1);
		if (!strcmp(s, "done"))
			c->done += n;
		else if (!strcmp(s, "failed") || !strcmp(s, "cancelled"))
			c->failed += n;
		else if (!strcmp(s, "blocked_budget"))
			c->blocked += n;
		else
			c->unfinished += n;
	}
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(db,
	                       "SELECT coalesce(sum(u.cost_pusd),0) FROM usage_events u JOIN jobs j "
	                       "ON u.job_id = j.id WHERE j.id BETWEEN ? AND ? AND "
	                       "j.batch_key LIKE 'b1:%'",
	                       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, lo);
		sqlite3_bind_int64(st, 2, hi);
		if (sqlite3_step(st) == SQLITE_ROW)
			c->cost_pusd = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	return 0;
}

static void progress(bool tty, int64_t total, const struct counts *c, int64_t in_flight,
                     double elapsed, bool final)
{
	char cost[48];
	am_money_format_display(c->cost_pusd, 4, cost, sizeof cost);
	int64_t ended = c->done + c->failed;
	double rate = elapsed > 0 ? (double)ended / elapsed : 0;
	fprintf(stderr,
	        "%sbatch %" PRId64 "/%" PRId64 " done · %" PRId64 " failed · %" PRId64
	        " blocked · %" PRId64 " in flight · %s · %.1f/s%s",
	        tty ? "\r\033[K" : "", c->done, total, c->failed, c->blocked, in_flight, cost, rate,
	        tty && !final ? "" : "\n");
	fflush(stderr);
}

static int write_results(sqlite3 *db, line_job *lines, int64_t n, FILE *out, am_err *err)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db,
	                       "SELECT j.state, j.model, j.error, j.result, u.input_tokens, "
	                       "u.output_tokens, u.cache_write_5m, u.cache_write_1h, u.cache_read, "
	                       "u.cost_pusd, u.price_known, u.cached, u.model FROM jobs j LEFT JOIN "
	                       "usage_events u ON u.job_id = j.id WHERE j.id = ?",
	                       -1, &st, NULL) != SQLITE_OK)
		return am_err_set(err, "%s", sqlite3_errmsg(db));
	for (int64_t i = 0; i < n; i++) {
		am_batch_result r = { 0 };
		r.id = lines[i].id;
		char badmsg[AM_ERR_MAX + 32];
		if (!lines[i].job_id) {
			r.status = AM_BATCH_FAILED;
			snprintf(badmsg, sizeof badmsg, "line %" PRId64 ": %s", lines[i].lineno,
			         lines[i].bad);
			r.error = badmsg;
		} else {
			sqlite3_reset(st);
			sqlite3_bind_int64(st, 1, lines[i].job_id);
			if (sqlite3_step(st) != SQLITE_ROW) {
				r.status = AM_BATCH_FAILED;
				r.error = "job not found";
			} else {
				const char *state = (const char *)sqlite3_column_text(st, 0);
				r.status = !strcmp(state, "done") ? AM_BATCH_OK
				           : !strcmp(state, "blocked_budget") ? AM_BATCH_BLOCKED
				                                              : AM_BATCH_FAILED;
				r.model = (const char *)sqlite3_column_text(st, 12);
				if (!r.model)
					r.model = (const char *)sqlite3_column_text(st, 1);
				r.error = (const char *)sqlite3_column_text(st, 2);
				if (r.status == AM_BATCH_OK) {
					r.error = NULL;
					r.text = (const char *)sqlite3_column_text(st, 3);
				}
				if (sqlite3_column_type(st, 4) != SQLITE_NULL) {
					r.has_usage = true;
					r.usage.input_tokens = sqlite3_column_int64(st, 4);
					r.usage.output_tokens = sqlite3_column_int64(st, 5);
					r.usage.cache_write_5m = sqlite3_column_int64(st, 6);
					r.usage.cache_write_1h = sqlite3_column_int64(st, 7);
					r.usage.cache_read = sqlite3_column_int64(st, 8);
					r.cost_pusd = sqlite3_column_int64(st, 9);
					r.price_known = sqlite3_column_int(st, 10);
					r.cached = sqlite3_column_int(st, 11);
				}
				if (r.status == AM_BATCH_FAILED && !r.error)
					r.error = state;
			}
		}
		char *s = am_batch_format_result(&r);
		if (fputs(s, out) == EOF || fputc('\n', out) == EOF) {
			free(s);
			sqlite3_finalize(st);
			return am_err_set(err, "cannot write the results: %s", strerror(errno));
		}
		free(s);
	}
	sqlite3_finalize(st);
	return 0;
}

int cmd_batch(int argc, char **argv)
{
	const char *out_path = NULL, *path = NULL;
	bool no_cache = false, sim = false;
	am_cli c;
	am_cli_init(&c, "batch", "FILE.jsonl [OPTIONS]",
	            "Runs every line of FILE through the pipeline at the highest rate the limits\n"
	            "allow. A line is {\"prompt\": ..., \"model\"?, \"max_tokens\"?, \"system\"?,\n"
	            "\"id\"?} or a full Messages body. Re-running the same file resumes: finished\n"
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
		}
	}
	if (!path)
		return am_cli_usage_error("batch", "FILE.jsonl is required");
	am_config cfg;
	int rc = am_cli_load_config(&c, &cfg);
	if (rc)
		return rc;
	FILE *in = strcmp(path, "-") ? fopen(path, "r") : stdin;
	if (!in) {
		fprintf(stderr, "aimeter batch: cannot open %s: %s\n", path, strerror(errno));
		am_config_wipe(&cfg);
		return 1;
	}

	am_app app;
	rc = am_app_open(&app, &c, &cfg, sim);
	am_config_wipe(&cfg);
	FILE *out = NULL;
	if (!rc && out_path && !(out = fopen(out_path, "w"))) {
		fprintf(stderr, "aimeter batch: cannot write %s: %s\n", out_path, strerror(errno));
		rc = 1;
	}
	am_ledger *ledger = NULL;
	if (!rc)
		rc = am_cli_open_ledger("batch", app.cfg.db, false, &ledger);
	app.halt_on_fatal = true;
	if (!rc)
		rc = am_app_start(&app, "batch", false);
	if (rc) {
		if (in != stdin)
			fclose(in);
		if (out)
			fclose(out);
		am_ledger_close(ledger);
		am_app_close(&app, 0);
		return rc;
	}
	am_err err;
	sqlite3 *db = am_ledger_db(ledger);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	bool tty = isatty(2);

	line_job *lines = NULL;
	int64_t nlines = 0, caplines = 0, lo_id = INT64_MAX, hi_id = 0, bad = 0;
	char *buf = NULL;
	size_t bufcap = 0;
	ssize_t len;
	int64_t lineno = 0;
	const am_clock *clk = am_clock_system();
	int64_t t0 = am_clock_mono(clk);
	int64_t last_note = 0;
	am_engine_ops ops = am_worker_ops(app.worker);
	am_owner me;
	am_owner_self(&me);
	struct held held = { 0 };
	bool eof = false, worker_ended = false;
	char *pending_line = NULL;
	size_t pending_len = 0;

	while (!atomic_load(&interrupted)) {
		/* Add lines while the queue has room. */
		int added = 0;
		while (!eof && added < 1000) {
			if (!pending_line) {
				len = next_line(in, &buf, &bufcap);
				if (len < 0) {
					eof = true;
					break;
				}
				lineno++;
				pending_line = buf;
				pending_len = (size_t)len;
				/* A UTF-8 byte order mark (some Windows editors write
				 * one) is not part of line 1. */
				if (lineno == 1 && len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3)) {
					pending_line += 3;
					pending_len -= 3;
				}
			}
			am_batch_line bl;
			int pr = am_batch_parse_line(pending_line, pending_len, lineno, &bl, &err);
			if (pr == 0) {
				pending_line = NULL;
				continue;
			}
			if (nlines == caplines) {
				caplines = caplines ? caplines * 2 : 1024;
				lines = am_xrealloc(lines, (size_t)caplines * sizeof *lines);
			}
			line_job *lj = &lines[nlines];
			memset(lj, 0, sizeof *lj);
			lj->lineno = lineno;
			if (pr < 0) {
				char num[24];
				snprintf(num, sizeof num, "%" PRId64, lineno);
				lj->id = am_xstrdup(num);
				lj->bad = am_xstrdup(err.msg);
				fprintf(stderr, "%s%s:%" PRId64 ": %s (skipped)\n", tty ? "\r\033[K" : "",
				        path, lineno, err.msg);
				nlines++;
				bad++;
				pending_line = NULL;
				continue;
			}
			char key[80];
			line_key(pending_line, pending_len, lineno, key);
			json_object_set_new(bl.body, "stream", json_false());
			if (no_cache)
				json_object_set_new(bl.body, "x-no-cache", json_true());
			char *req = json_dumps(bl.body, JSON_COMPACT);
			int64_t id = 0;
			am_job_state prev = AM_JOB_QUEUED;
			int ar = am_queue_add(db, me.id, key, req, bl.model,
			                      app.cfg.worker.queue_capacity, 0, &id, &prev, &err);
			/* A re-run takes over what is left: its own crashed run's jobs,
			 * not a live run's. */
			char holder[AM_OWNER_MAX];
			int cr = ar == 1 && prev != AM_JOB_DONE
			                 ? am_queue_claim(db, &me, id, holder, &err)
			                 : 1;
			if (cr == 0) {
				held_add(&held, holder);
				free(req);
				am_batch_line_free(&bl);
				count_held(in, &buf, &bufcap, lineno, db, &me, &held);
				eof = true;
				pending_line = NULL;
				break;
			}
			if (cr < 0)
				ar = -1;
			/* A re-run retries what failed before; what is done stays done. */
			if (ar == 1 && (prev == AM_JOB_FAILED || prev == AM_JOB_CANCELLED))
				am_queue_update(db, id, AM_JOB_QUEUED, NULL, NULL, NULL, NULL, 0, 0, NULL);
			free(req);
			if (ar >= 0)
				lj->id = am_xstrdup(bl.id);
			am_batch_line_free(&bl);
			if (ar < 0) {
				if (err.code == AM_E_FULL)
					break; /* room comes back as jobs finish */
				fprintf(stderr, "%saimeter batch: %s\n", tty ? "\r\033[K" : "", err.msg);
				atomic_store(&interrupted, 1);
				break;
			}
			lj->job_id = id;
			if (id < lo_id)
				lo_id = id;
			if (id > hi_id)
				hi_id = id;
			nlines++;
			added++;
			pending_line = NULL;
		}
		if (held.n)
			break;
		if (added)
			am_worker_poke(app.worker);

		struct pollfd pfd = { ops.wake_fd(ops.ctx), POLLIN, 0 };
		poll(&pfd, 1, 200);
		/* Read before draining: the notices of a worker that has ended
		 * (why it stopped) are all in the queue by then. */
		worker_ended = am_worker_finished(app.worker);
		am_event evs[64];
		int n;
		while ((n = ops.drain(ops.ctx, evs, 64)) > 0)
			for (int i = 0; i < n; i++) {
				if (evs[i].kind == AM_EV_ALERT && evs[i].text)
					fprintf(stderr, "%s%s\n", tty ? "\r\033[K" : "", evs[i].text);
				else if (evs[i].kind == AM_EV_NOTICE && evs[i].text)
					fprintf(stderr, "%saimeter batch: %s\n", tty ? "\r\033[K" : "",
					        evs[i].text);
				am_event_free(&evs[i]);
			}
		am_snapshot snap;
		ops.snapshot(ops.ctx, &snap);
		/* Quiet first, counts second: once the worker is quiet nothing
		 * changes the jobs but us, so the counts are its final word (a
		 * settle may still let blocked jobs through until it is quiet). */
		bool quiet = am_worker_quiet(app.worker, NULL);
		struct counts cnt;
		bool counted = count_jobs(db, lo_id, hi_id, &cnt) == 0;
		cnt.failed += bad;
		double el = (double)(am_clock_mono(clk) - t0) / AM_NS_PER_SEC;
		if (tty || el - (double)last_note >= 10) {
			progress(tty, nlines, &cnt, snap.in_flight, el, false);
			last_note = (int64_t)el;
		}
		if (eof && !pending_line && counted && quiet && cnt.unfinished == 0) {
			worker_ended = false;
			break;
		}
		if (worker_ended)
			break;
	}
	free(buf);
	if (in != stdin)
		fclose(in);

	bool stopped = atomic_load(&interrupted);
	am_worker_stop(app.worker, stopped ? 0 : 1000);
	app.worker = NULL;
	struct counts cnt;
	count_jobs(db, lo_id, hi_id, &cnt);
	cnt.failed += bad;
	if (!held.n)
		progress(tty, nlines, &cnt, 0, (double)(am_clock_mono(clk) - t0) / AM_NS_PER_SEC,
		         true);
	if (held.n) {
		fprintf(stderr, "aimeter batch: %" PRId64 " job%s of this file belong%s to aimeter pid "
		                "%ld%s, still running: let it finish (or stop it), then run the same "
		                "command again\n",
		        held.n, held.n == 1 ? "" : "s", held.n == 1 ? "s" : "", held.pid,
		        held.several ? " and others" : "");
		rc = 4;
	} else if (stopped) {
		fprintf(stderr, "aimeter batch: interrupted; unfinished jobs stay queued — run the "
		                "same command again to resume\n");
		rc = 1;
	} else if (worker_ended) {
		fprintf(stderr, "aimeter batch: stopped early; %" PRId64 " unfinished job%s stay%s "
		                "queued%s — fix the cause above, then run the same command again "
		                "to resume\n",
		        cnt.unfinished, cnt.unfinished == 1 ? "" : "s", cnt.unfinished == 1 ? "s" : "",
		        eof ? "" : " and the rest of the file is not read yet");
		rc = 1;
	} else if (write_results(db, lines, nlines, out ? out : stdout, &err)) {
		fprintf(stderr, "aimeter batch: %s\n", err.msg);
		rc = 1;
	} else {
		rc = cnt.blocked ? 3 : cnt.failed ? 1 : 0;
	}
	if (out && fclose(out) != 0 && rc == 0) {
		fprintf(stderr, "aimeter batch: cannot write %s: %s\n", out_path, strerror(errno));
		rc = 1;
	}
	for (int64_t i = 0; i < nlines; i++) {
		free(lines[i].bad);
		free(lines[i].id);
	}
	free(lines);
	am_ledger_close(ledger);
	am_app_close(&app, 0);
	return rc;
}
