/* batch: the running policy of `aimeter batch`, see batch.h. */
#include "say.h"
#include "batch.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "batchio.h"
#include "batchq.h"
#include "engine.h"
#include "money.h"
#include "queue.h"

/* One per input line, kept until the results are written: small, so that
 * a file of a million lines costs tens of megabytes, not hundreds. */
typedef struct line_job {
	int64_t lineno;
	char *id;               /* heap */
	int64_t job_id;         /* 0 = a bad line */
	char *bad;              /* the parse error of a bad line */
} line_job;

/* Lines of the file whose jobs a live other process holds. */
typedef struct held {
	int64_t n;
	long pid;          /* the first holder's */
	bool several;      /* more than one holder */
	char first[AM_OWNER_MAX];
} held;

typedef struct run {
	const am_batch_run_opts *o;
	sqlite3 *db;
	am_queue_stmts *qs;
	am_owner me;
	const char *cr;          /* "\r\033[K" on a terminal: clears the progress line */
	const am_clock *clk;
	int64_t t0;              /* when the run started, monotonic ns */
	line_job *lines;
	int64_t nlines, caplines;
	am_queue_run *jobs;      /* the run's own jobs, by id */
	int64_t bad;             /* bad lines */
	char *buf;               /* the line being read */
	size_t bufcap;
	int64_t lineno;
	char *pending;           /* a line read but not queued yet (the queue was full) */
	size_t pending_len;
	bool eof;
	bool stopped;            /* *stop, or an enqueue error */
	held held;
} run;

static bool stop_asked(const run *r)
{
	return r->stopped || (r->o->stop && atomic_load(r->o->stop));
}

/* Reads the next line without its line end; -1 at the end of the file. */
static ssize_t next_line(run *r)
{
	ssize_t len = getline(&r->buf, &r->bufcap, r->o->in);
	while (len > 0 && (r->buf[len - 1] == '\n' || r->buf[len - 1] == '\r'))
		r->buf[--len] = '\0';
	return len;
}

static void held_add(held *h, const char *holder)
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
 * other process, adding nothing (the verdict names how many). */
static void count_held(run *r)
{
	ssize_t len;
	while ((len = next_line(r)) >= 0) {
		char key[AM_QUEUE_BATCH_KEY_MAX];
		am_queue_batch_key(r->buf, (size_t)len, ++r->lineno, key);
		am_job j;
		if (am_queue_find(r->db, key, &j, NULL) == 1) {
			if (!am_job_state_final(j.state) && !am_owner_claimable(&r->me, j.owner))
				held_add(&r->held, j.owner);
			am_job_clear(&j);
		}
	}
}

static line_job *new_line(run *r)
{
	if (r->nlines == r->caplines) {
		r->caplines = r->caplines ? r->caplines * 2 : 1024;
		r->lines = am_xrealloc(r->lines, (size_t)r->caplines * sizeof *r->lines);
	}
	line_job *lj = &r->lines[r->nlines];
	memset(lj, 0, sizeof *lj);
	lj->lineno = r->lineno;
	return lj;
}

/* Reads the next line into r->pending; false at the end of the file. */
static bool read_pending(run *r)
{
	ssize_t len = next_line(r);
	if (len < 0)
		return false;
	r->lineno++;
	r->pending = r->buf;
	r->pending_len = (size_t)len;
	/* A UTF-8 byte order mark (some Windows editors write one) is not part
	 * of line 1. */
	if (r->lineno == 1 && len >= 3 && !memcmp(r->buf, "\xEF\xBB\xBF", 3)) {
		r->pending += 3;
		r->pending_len -= 3;
	}
	return true;
}

/* Queues r->pending (a parsed request) as a job, taking over an earlier
 * run's job of the same line. 1 when queued (or resumed), 0 when a live
 * other process holds it, -1 + err (AM_E_FULL: no room yet). */
static int enqueue(run *r, am_batch_line *bl, int64_t *id, am_err *err)
{
	char key[AM_QUEUE_BATCH_KEY_MAX];
	am_queue_batch_key(r->pending, r->pending_len, r->lineno, key);
	json_object_set_new(bl->body, "stream", json_false());
	if (r->o->no_cache)
		json_object_set_new(bl->body, "x-no-cache", json_true());
	char *req = json_dumps(bl->body, JSON_COMPACT);
	am_job_state prev = AM_JOB_QUEUED;
	am_queue_stmts_tag(r->qs, bl->tag[0] ? bl->tag : r->o->tag);
	int ar = am_queue_add_s(r->qs, r->me.id, key, req, bl->model, r->o->queue_capacity, 0, id,
	                        &prev, err);
	am_queue_stmts_tag(r->qs, NULL);
	free(req);
	if (ar != 1)
		return ar < 0 ? -1 : 1;
	if (prev == AM_JOB_DONE)
		return 1;
	/* A re-run takes over what is left: its own crashed run's jobs, not a
	 * live run's. */
	char holder[AM_OWNER_MAX];
	int cr = am_queue_claim(r->db, &r->me, *id, holder, err);
	if (cr == 0) {
		held_add(&r->held, holder);
		return 0;
	}
	if (cr < 0)
		return -1;
	/* A re-run retries what failed before; what is done stays done. */
	if ((prev == AM_JOB_FAILED || prev == AM_JOB_CANCELLED) &&
	    am_queue_update(r->db, *id, AM_JOB_QUEUED, NULL, NULL, NULL, NULL, 0, 0, err))
		return -1;
	return 1;
}

/* Adds up to `most` lines while the queue has room; returns how many jobs
 * were queued. Sets r->eof at the end of the file (and when held: the rest
 * of the file is then only counted). */
static int add_lines(run *r, int most)
{
	int added = 0;
	am_err err;
	while (!r->eof && added < most) {
		if (!r->pending && !read_pending(r)) {
			r->eof = true;
			break;
		}
		am_batch_line bl;
		int pr = am_batch_parse_line(r->pending, r->pending_len, r->lineno, &bl, &err);
		if (pr == 0) {
			r->pending = NULL;
			continue;
		}
		if (pr < 0) {
			line_job *lj = new_line(r);
			char num[24];
			snprintf(num, sizeof num, "%" PRId64, r->lineno);
			lj->id = am_xstrdup(num);
			lj->bad = am_xstrdup(err.msg);
			fputs(r->cr, r->o->msgs); /* ours: clears the progress line */
			am_say(r->o->msgs, "%s:%" PRId64 ": %s (skipped)\n", r->o->in_name,
			       r->lineno, err.msg);
			r->nlines++;
			r->bad++;
			r->pending = NULL;
			continue;
		}
		int64_t id = 0;
		int er = enqueue(r, &bl, &id, &err);
		if (er == 0) {
			am_batch_line_free(&bl);
			r->pending = NULL;
			count_held(r);
			r->eof = true;
			break;
		}
		if (er < 0) {
			am_batch_line_free(&bl);
			if (err.code == AM_E_FULL)
				break; /* room comes back as jobs finish */
			fputs(r->cr, r->o->msgs); /* ours: clears the progress line */
			am_say(r->o->msgs, "aimeter batch: %s\n", err.msg);
			r->stopped = true;
			break;
		}
		if (am_queue_run_add(r->jobs, id, &err)) {
			am_batch_line_free(&bl);
			fprintf(r->o->msgs, "%saimeter batch: %s\n", r->cr, err.msg);
			r->stopped = true;
			break;
		}
		line_job *lj = new_line(r);
		lj->id = am_xstrdup(bl.id);
		am_batch_line_free(&bl);
		lj->job_id = id;
		r->nlines++;
		added++;
		r->pending = NULL;
	}
	return added;
}

/* Prints the worker's alerts and notices. */
static void print_events(run *r, const am_engine_ops *ops)
{
	am_event evs[64];
	int n;
	while ((n = ops->drain(ops->ctx, evs, 64)) > 0)
		for (int i = 0; i < n; i++) {
			bool alert = evs[i].kind == AM_EV_ALERT;
			if ((alert || evs[i].kind == AM_EV_NOTICE) && evs[i].text) {
				fputs(r->cr, r->o->msgs); /* ours: clears the progress line */
				am_say(r->o->msgs, "%s%s\n", alert ? "" : "aimeter batch: ",
				       evs[i].text);
			}
			am_event_free(&evs[i]);
		}
}

/* The run's jobs as the ledger has them, bad lines counted as failed. */
static int tally(run *r, am_queue_tally *t)
{
	am_err err;
	int rc = am_queue_run_tally(r->jobs, t, &err);
	t->failed += r->bad;
	return rc;
}

static double elapsed(const run *r)
{
	return (double)(am_clock_mono(r->clk) - r->t0) / AM_NS_PER_SEC;
}

static void progress(const run *r, const am_queue_tally *t, int64_t in_flight, double elapsed,
                     bool final)
{
	char cost[48];
	am_money_format_display(t->cost_pusd, 4, cost, sizeof cost);
	int64_t ended = t->done + t->failed;
	double rate = elapsed > 0 ? (double)ended / elapsed : 0;
	fprintf(r->o->msgs,
	        "%sbatch %" PRId64 "/%" PRId64 " done · %" PRId64 " failed · %" PRId64
	        " blocked · %" PRId64 " in flight · %s · %.1f/s%s",
	        r->cr, t->done, r->nlines, t->failed, t->blocked, in_flight, cost, rate,
	        r->o->tty && !final ? "" : "\n");
	fflush(r->o->msgs);
}

/* One result line per input line, in input order. */
static int write_results(run *r, am_err *err)
{
	am_queue_outcomes *rd = am_queue_outcomes_new(r->db, err);
	if (!rd)
		return -1;
	int status = 0;
	for (int64_t i = 0; i < r->nlines && !status; i++) {
		const line_job *lj = &r->lines[i];
		am_batch_result res = { 0 };
		res.id = lj->id;
		char badmsg[AM_ERR_MAX + 32];
		am_job_outcome jo;
		int got;
		if (!lj->job_id) {
			res.status = AM_BATCH_FAILED;
			snprintf(badmsg, sizeof badmsg, "line %" PRId64 ": %s", lj->lineno, lj->bad);
			res.error = badmsg;
		} else if ((got = am_queue_outcome(rd, lj->job_id, &jo, err)) < 0) {
			status = -1;
			break;
		} else if (got == 0) {
			res.status = AM_BATCH_FAILED;
			res.error = "job not found";
		} else {
			res.status = jo.state == AM_JOB_DONE             ? AM_BATCH_OK
			             : jo.state == AM_JOB_BLOCKED_BUDGET ? AM_BATCH_BLOCKED
			                                                 : AM_BATCH_FAILED;
			res.model = jo.model;
			res.error = res.status == AM_BATCH_OK ? NULL : jo.error;
			res.text = res.status == AM_BATCH_OK ? jo.result : NULL;
			res.has_usage = jo.has_usage;
			res.usage = jo.usage;
			res.cost_pusd = jo.cost_pusd;
			res.price_known = jo.price_known;
			res.cached = jo.cached;
			if (res.status == AM_BATCH_FAILED && !res.error)
				res.error = am_job_state_name(jo.state);
		}
		char *s = am_batch_format_result(&res);
		if (fputs(s, r->o->out) == EOF || fputc('\n', r->o->out) == EOF)
			status = am_err_set(err, "cannot write the results: %s", strerror(errno));
		free(s);
	}
	/* The lines sit in the stream's buffer until here: a full disk or a
	 * closed pipe shows only at the flush. */
	errno = 0;
	if (!status && (fflush(r->o->out) == EOF || ferror(r->o->out)))
		status = am_err_set(err, "cannot write the results: %s",
		                    errno ? strerror(errno) : "write error");
	am_queue_outcomes_free(rd);
	return status;
}

/* Feeds the worker until every line has ended (true), or the run must end
 * early: held, stopped, or the worker ended (false). */
static bool feed(run *r, bool *worker_ended)
{
	int64_t last_note = 0;
	am_engine_ops ops = am_worker_ops(r->o->worker);
	while (!stop_asked(r)) {
		int added = add_lines(r, 1000);
		if (r->held.n)
			return false;
		if (added)
			am_worker_poke(r->o->worker);

		struct pollfd pfd = { ops.wake_fd(ops.ctx), POLLIN, 0 };
		poll(&pfd, 1, 200);
		/* Read before draining: the notices of a worker that has ended
		 * (why it stopped) are all in the queue by then. */
		*worker_ended = am_worker_finished(r->o->worker);
		print_events(r, &ops);
		am_snapshot snap;
		ops.snapshot(ops.ctx, &snap);
		/* Quiet first, counts second: once the worker is quiet nothing
		 * changes the jobs but us, so the counts are its final word (a
		 * settle may still let blocked jobs through until it is quiet). */
		bool quiet = am_worker_quiet(r->o->worker, NULL);
		am_queue_tally t;
		bool counted = tally(r, &t) == 0;
		double el = elapsed(r);
		if (r->o->tty || el - (double)last_note >= 10) {
			progress(r, &t, snap.in_flight, el, false);
			last_note = (int64_t)el;
		}
		if (r->eof && !r->pending && counted && quiet && t.unfinished == 0) {
			*worker_ended = false;
			return true;
		}
		if (*worker_ended)
			return false;
	}
	return false;
}

int am_batch_run(const am_batch_run_opts *o, am_batch_outcome *out)
{
	memset(out, 0, sizeof *out);
	run r;
	memset(&r, 0, sizeof r);
	r.o = o;
	r.db = am_ledger_db(o->ledger);
	r.qs = am_queue_stmts_new(r.db);
	am_queue_stmts_source(r.qs, "batch");
	if (o->owner)
		r.me = *o->owner;
	else
		am_owner_self(&r.me);
	r.cr = o->tty ? "\r\033[K" : "";
	r.clk = o->clock ? o->clock : am_clock_system();
	r.t0 = am_clock_mono(r.clk);

	bool worker_ended = false;
	r.jobs = am_queue_run_new(r.db, &out->err);
	if (!r.jobs) {
		am_queue_stmts_free(r.qs);
		am_worker_stop(o->worker, 0);
		fprintf(o->msgs, "aimeter batch: %s\n", out->err.msg);
		out->end = AM_BATCH_END_INTERRUPTED;
		return 1;
	}
	feed(&r, &worker_ended);
	am_queue_stmts_free(r.qs);
	free(r.buf);

	bool stopped = stop_asked(&r);
	am_worker_stop(o->worker, stopped ? 0 : 1000);
	am_queue_tally t;
	tally(&r, &t);
	out->lines = r.nlines;
	out->done = t.done;
	out->failed = t.failed;
	out->blocked = t.blocked;
	out->unfinished = t.unfinished;
	out->cost_pusd = t.cost_pusd;
	out->eof = r.eof;
	if (!r.held.n)
		progress(&r, &t, 0, elapsed(&r), true);

	int status;
	if (r.held.n) {
		out->end = AM_BATCH_END_HELD;
		out->held = r.held.n;
		out->held_pid = r.held.pid;
		out->held_several = r.held.several;
		status = 4;
	} else if (stopped) {
		out->end = AM_BATCH_END_INTERRUPTED;
		status = 1;
	} else if (worker_ended) {
		out->end = AM_BATCH_END_WORKER;
		status = 1;
	} else if (write_results(&r, &out->err)) {
		out->end = AM_BATCH_END_WRITE;
		status = 1;
	} else {
		out->end = AM_BATCH_END_DONE;
		status = t.blocked ? 3 : t.failed ? 1 : 0;
	}
	for (int64_t i = 0; i < r.nlines; i++) {
		free(r.lines[i].bad);
		free(r.lines[i].id);
	}
	free(r.lines);
	am_queue_run_free(r.jobs);
	return status;
}
