/* batchapi: a run's jobs through the Message Batches API, see batchapi.h. */
#include "batchapi.h"

#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "bbuf.h"
#include "money.h"
#include "pbatch.h"
#include "say.h"
#include "tag.h"
#include "tagbudget.h"
#include "tagload.h"

enum { LIST_PAGE = 100, MAX_POLL_FAILS = 20, RESULTS_GROUP = 1000 };
#define FIRST_POLL_NS (2 * AM_NS_PER_SEC)
#define MAX_POLL_NS (60 * AM_NS_PER_SEC)
/* When a lost submit's batch may have been created: from a little before
 * its intent (the clocks' skew) to the submit's timeout and the skew after
 * it (find_after). */
#define FIND_BEFORE_NS ((int64_t)2 * 60 * AM_NS_PER_SEC)
/* How long after the submit's timeout its batch may still be committed by
 * the provider (our own clock on both ends: no skew). */
#define FIND_LATE_NS ((int64_t)2 * AM_NS_PER_SEC)

int64_t am_bapi_next_interval(int64_t prev_ns, double poll_s)
{
	if (poll_s > 0)
		return (int64_t)(poll_s * (double)AM_NS_PER_SEC);
	if (prev_ns <= 0)
		return FIRST_POLL_NS;
	int64_t next = prev_ns + prev_ns / 2;
	return next > MAX_POLL_NS ? MAX_POLL_NS : next;
}

/* An open provider batch of the run. */
typedef struct active {
	am_pb_row row;
	int64_t next_ns;      /* next poll, monotonic */
	int64_t interval_ns;
	int fails;            /* polls in a row that failed */
} active;

/* A set of job ids (open addressing; 0 is the empty slot). */
typedef struct idset {
	int64_t *v;
	size_t n, cap;
} idset;

static bool idset_has(const idset *s, int64_t id)
{
	if (!s->cap)
		return false;
	for (size_t k = (size_t)id * 0x9e3779b97f4a7c15ULL & (s->cap - 1); s->v[k];
	     k = (k + 1) & (s->cap - 1))
		if (s->v[k] == id)
			return true;
	return false;
}

static void idset_add(idset *s, int64_t id)
{
	if (idset_has(s, id))
		return;
	if ((s->n + 1) * 2 > s->cap) {
		idset old = *s;
		s->cap = s->cap ? s->cap * 2 : 256;
		s->v = am_xcalloc(s->cap, sizeof *s->v);
		s->n = 0;
		for (size_t i = 0; i < old.cap; i++)
			if (old.v[i])
				idset_add(s, old.v[i]);
		free(old.v);
	}
	size_t k = (size_t)id * 0x9e3779b97f4a7c15ULL & (s->cap - 1);
	while (s->v[k])
		k = (k + 1) & (s->cap - 1);
	s->v[k] = id;
	s->n++;
}

typedef struct drv {
	const am_bapi_opts *o;
	sqlite3 *db;
	const am_clock *clk;
	const char *cr;
	active *act;
	int nact, capact;
	idset deferred;           /* canceled/expired, left queued for the next run */
	bool want_submit;
	int64_t not_before;       /* mono: the batch endpoints asked us to wait */
	int64_t backoff_ns;       /* after a refused submit */
	int64_t ended_n, ended_sum_ns; /* batches ended in this run and their durations */
	int64_t last_note;
	int64_t t0;
	am_err *err;
} drv;

static int64_t mono(const drv *d)
{
	return am_clock_mono(d->clk);
}

static int64_t wall(const drv *d)
{
	return am_clock_wall(d->clk);
}

static bool stopped(const drv *d)
{
	return d->o->stop && atomic_load(d->o->stop);
}

__attribute__((format(printf, 2, 3))) static void note(drv *d, const char *fmt, ...)
{
	fputs(d->cr, d->o->msgs); /* clears the progress line */
	char line[AM_ERR_MAX * 2 + 128];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	am_say(d->o->msgs, "aimeter batch: %s\n", line);
}

static void add_active(drv *d, const am_pb_row *row)
{
	if (d->nact == d->capact) {
		d->capact = d->capact ? d->capact * 2 : 8;
		d->act = am_xrealloc(d->act, (size_t)d->capact * sizeof *d->act);
	}
	active *a = &d->act[d->nact++];
	memset(a, 0, sizeof *a);
	a->row = *row;
	a->interval_ns = am_bapi_next_interval(0, d->o->poll_s);
	a->next_ns = mono(d);
}

static void drop_active(drv *d, int i)
{
	d->act[i] = d->act[--d->nact];
}

/* After a call the batch endpoints answered: with their request bucket
 * empty, the next call waits for one request's refill (limit per minute),
 * so polling keeps to their limit instead of meeting a 429. */
static void pace(drv *d, const am_mb_reply *rep)
{
	if (rep->requests_remaining == 0 && rep->requests_limit > 0) {
		int64_t at = mono(d) + 60 * AM_NS_PER_SEC / rep->requests_limit + AM_NS_PER_MS;
		if (at > d->not_before)
			d->not_before = at;
	}
}

/* The wait a refused call asks for: its retry-after, else a backoff. */
static void wait_out(drv *d, const am_mb_reply *rep)
{
	int64_t w = rep->retry_after_ns;
	if (w <= 0) {
		d->backoff_ns = am_bapi_next_interval(d->backoff_ns, 0);
		w = d->backoff_ns;
	}
	if (w > MAX_POLL_NS)
		w = MAX_POLL_NS;
	d->not_before = mono(d) + w;
}

static void remote_of(const am_mb_batch *b, am_pb_remote *r)
{
	memset(r, 0, sizeof *r);
	r->provider_id = b->id;
	r->state = !strcmp(b->status, "ended")       ? AM_PB_ENDED
	           : !strcmp(b->status, "canceling") ? AM_PB_CANCELING
	                                              : AM_PB_IN_PROGRESS;
	r->processing = b->processing;
	r->succeeded = b->succeeded;
	r->errored = b->errored;
	r->canceled = b->canceled;
	r->expired = b->expired;
	r->created_ns = b->created_ns;
	r->ended_ns = b->ended_ns;
	r->expires_ns = b->expires_ns;
	r->results_url = b->results_url[0] ? b->results_url : NULL;
}

static void take_remote(active *a, const am_mb_batch *b)
{
	snprintf(a->row.provider_id, sizeof a->row.provider_id, "%s", b->id);
	am_pb_remote r;
	remote_of(b, &r);
	a->row.state = r.state;
	a->row.processing = b->processing;
	a->row.succeeded = b->succeeded;
	a->row.errored = b->errored;
	a->row.canceled = b->canceled;
	a->row.expired = b->expired;
	a->row.created_ns = b->created_ns;
	snprintf(a->row.results_url, sizeof a->row.results_url, "%s", b->results_url);
}

/* ---- results --------------------------------------------------------------- */

typedef struct reader {
	drv *d;
	active *a;
	bool in_tx;
	int in_group;
	int64_t lines, foreign;
	int status;   /* -1 after a ledger error (d->err) */
} reader;

static int group_commit(reader *rd)
{
	if (!rd->in_tx)
		return 0;
	rd->in_tx = false;
	rd->in_group = 0;
	return am_ledger_commit(rd->d->o->ledger, rd->d->err);
}

static int settle_succeeded(reader *rd, int64_t job, const char *tag, am_mb_result *res)
{
	drv *d = rd->d;
	const am_prov_result *m = &res->msg;
	const am_price *price = am_pricing_lookup(d->o->pricing, m->model);
	int64_t cost = 0, realtime = 0;
	char day[AM_LEDGER_DAY_LEN];
	int64_t now = wall(d);
	if (am_ledger_day(now, day, d->err))
		return -1;
	am_usage rt = m->usage;
	snprintf(rt.service_tier, sizeof rt.service_tier, "standard");
	am_err perr;
	bool known = price && !m->usage_suspect &&
	             am_cost_on(price, &m->usage, true, day, &cost, &perr) == 0 &&
	             am_cost_on(price, &rt, false, day, &realtime, &perr) == 0;
	int s = am_pb_settle(d->db, rd->a->row.id, job, AM_PB_SUCCEEDED, known ? realtime : 0,
	                     d->err);
	if (s <= 0)
		return s;
	char sim_model[AM_PROV_MODEL_MAX + 16];
	snprintf(sim_model, sizeof sim_model, "%s%s", AM_LEDGER_SIMULATED, m->model);
	am_ledger_event ev;
	memset(&ev, 0, sizeof ev);
	ev.job_id = job;
	ev.ts_ns = now;
	ev.model = d->o->simulator ? sim_model : m->model;
	ev.reason = "batch";
	ev.usage = m->usage;
	ev.price_known = known;
	ev.cost_pusd = known ? cost : 0;
	ev.batch = true;
	ev.latency_ms = -1;
	ev.http_status = 200;
	ev.request_id = m->id[0] ? m->id : NULL;
	ev.error = m->usage_suspect ? m->usage_why : NULL;
	ev.source = "batch";
	ev.tag = tag[0] ? tag : NULL;
	if (am_ledger_record(d->o->ledger, &ev, d->err) < 0)
		return -1;
	return am_pb_job_done(d->db, job, m->model, m->text, now, d->err);
}

static int settle_other(reader *rd, int64_t job, int attempts, const am_mb_result *res)
{
	drv *d = rd->d;
	int64_t now = wall(d);
	if (res->kind == AM_MB_ERRORED) {
		if (am_pb_settle(d->db, rd->a->row.id, job, AM_PB_ERRORED, 0, d->err) <= 0)
			return d->err->msg[0] ? -1 : 0;
		char why[AM_ERR_MAX];
		snprintf(why, sizeof why, "%s: %s%s%s", res->msg.error_type, res->msg.message,
		         res->msg.request_id[0] ? " (request-id " : "",
		         res->msg.request_id[0] ? res->msg.request_id : "");
		if (res->msg.request_id[0])
			strncat(why, ")", sizeof why - strlen(why) - 1);
		bool last = attempts > d->o->max_retries;
		return am_pb_job_state(d->db, job, last ? "failed" : "queued", why, 0, now, d->err);
	}
	bool expired = res->kind == AM_MB_EXPIRED;
	if (am_pb_settle(d->db, rd->a->row.id, job, expired ? AM_PB_EXPIRED : AM_PB_CANCELED, 0,
	                 d->err) <= 0)
		return d->err->msg[0] ? -1 : 0;
	const char *why = d->o->expire_fail
	                      ? (expired ? "expired: the batch ended before this request ran"
	                                 : "canceled: the batch was canceled before this request ran")
	                      : (expired ? "expired; left queued for the next run"
	                                 : "canceled; left queued for the next run");
	if (!d->o->expire_fail)
		idset_add(&d->deferred, job);
	return am_pb_job_state(d->db, job, d->o->expire_fail ? "failed" : "queued", why, 1, now,
	                       d->err);
}

static int on_line(void *ctx, const char *line, size_t len)
{
	reader *rd = ctx;
	drv *d = rd->d;
	rd->lines++;
	am_mb_result res;
	am_err perr;
	if (am_mb_parse_result(line, len, &res, &perr)) {
		rd->foreign++; /* unreadable: its job counts as missing */
		return 0;
	}
	char *end;
	long long job = strtoll(res.custom_id, &end, 10);
	bool settled = false;
	int64_t reserved = 0;
	int attempts = 0;
	int rc = 0;
	d->err->msg[0] = '\0';
	if (*end || job <= 0) {
		rd->foreign++;
		goto out;
	}
	if (!rd->in_tx) {
		if (am_ledger_begin(d->o->ledger, d->err)) {
			rc = -1;
			goto out;
		}
		rd->in_tx = true;
	}
	char tag[AM_TAG_MAX + 1] = "";
	int got = am_pb_link(d->db, rd->a->row.id, job, &settled, &reserved, &attempts, tag, d->err);
	if (got < 0) {
		rc = -1;
		goto out;
	}
	if (!got) {
		rd->foreign++; /* another batch's line: not ours to record */
		goto out;
	}
	if (settled)
		goto out; /* read before a crash or an earlier read */
	rc = res.kind == AM_MB_SUCCEEDED ? settle_succeeded(rd, job, tag, &res)
	                                 : settle_other(rd, job, attempts, &res);
	rc = rc < 0 ? -1 : 0;
	if (!rc && ++rd->in_group >= RESULTS_GROUP)
		rc = group_commit(rd);
out:
	am_prov_result_free(&res.msg);
	if (rc) {
		if (rd->in_tx)
			am_ledger_rollback(d->o->ledger);
		rd->in_tx = false;
		rd->status = -1;
	}
	return rc;
}

/* Reads the results of ended batch a. 1 when it is done, 0 to try again
 * later, -1 + err (the ledger). */
static int read_results(drv *d, active *a)
{
	reader rd = { .d = d, .a = a };
	am_mb_reply rep;
	am_err rerr;
	int rc = 0;
	if (a->row.results_url[0])
		rc = am_mb_results(d->o->mb, a->row.results_url, 0, on_line, &rd, &rep, &rerr);
	if (a->row.results_url[0])
		pace(d, &rep);
	if (rd.status < 0)
		return -1;
	if (rc == 0 && group_commit(&rd))
		return -1;
	if (rc) {
		if (rd.in_tx)
			group_commit(&rd); /* what was settled stays settled */
		if (rep.http_status == 429)
			wait_out(d, &rep);
		if (++a->fails >= MAX_POLL_FAILS)
			return am_err_set(d->err, "cannot read the results of %s: %s",
			                  a->row.provider_id, rerr.msg);
		a->interval_ns = am_bapi_next_interval(a->interval_ns, d->o->poll_s);
		a->next_ns = mono(d) + a->interval_ns;
		return 0;
	}
	int64_t requeued = 0;
	if (am_pb_finish(d->db, a->row.id, wall(d), &requeued, d->err))
		return -1;
	if (rd.foreign)
		note(d, "%" PRId64 " result line%s of %s named no job of this batch (left alone)",
		     rd.foreign, rd.foreign == 1 ? "" : "s", a->row.provider_id);
	if (a->row.created_ns > 0) {
		d->ended_n++;
		d->ended_sum_ns += wall(d) - a->row.created_ns;
	}
	return 1;
}

/* ---- polling and finding lost submits --------------------------------------- */

/* Polls a. 1 when it is done (results read), 0 otherwise, -1 + err. */
static int poll_one(drv *d, active *a)
{
	/* Ended already: its results are what is left to read. */
	if (a->row.state == AM_PB_ENDED)
		return read_results(d, a);
	am_mb_batch b;
	am_mb_reply rep;
	am_err perr;
	int grc = am_mb_get(d->o->mb, a->row.provider_id, &b, &rep, &perr);
	pace(d, &rep);
	if (grc) {
		if (rep.http_status == 429)
			wait_out(d, &rep);
		else if (rep.http_status && !rep.retryable && rep.http_status != 404)
			return am_err_set(d->err, "%s", perr.msg);
		/* A new batch may 404 for a moment after its creation. */
		if (++a->fails >= MAX_POLL_FAILS)
			return am_err_set(d->err, "cannot poll %s: %s", a->row.provider_id, perr.msg);
		a->interval_ns = am_bapi_next_interval(a->interval_ns, d->o->poll_s);
		a->next_ns = mono(d) + a->interval_ns;
		return 0;
	}
	a->fails = 0;
	take_remote(a, &b);
	am_pb_remote r;
	remote_of(&b, &r);
	if (am_pb_remote_set(d->db, a->row.id, &r, wall(d), d->err))
		return -1;
	if (r.state == AM_PB_ENDED)
		return read_results(d, a);
	a->interval_ns = am_bapi_next_interval(a->interval_ns, d->o->poll_s);
	a->next_ns = mono(d) + a->interval_ns;
	return 0;
}

/* The submit's timeout: a create sent at the intent can be answered, and
 * its batch show up in the list, until then (and FIND_LATE_NS more). */
static int64_t submit_timeout_ns(const drv *d)
{
	return am_mb_timeout_ms(d->o->mb) * AM_NS_PER_MS;
}

/* Whether another open lost submit's intent is nearer than a's to a batch
 * created at created_ns. One process sends its creates one at a time, each
 * after its intent, so a batch belongs to the intent written just before
 * it: an older intent whose create never arrived must not take the batch
 * of a younger one (their jobs differ, and both would be sent again). */
static bool nearer_intent(const drv *d, const active *a, int64_t created_ns, int64_t gap)
{
	for (int i = 0; i < d->nact; i++) {
		const active *o = &d->act[i];
		if (o == a || o->row.state != AM_PB_SUBMITTING || o->row.requests != a->row.requests)
			continue;
		int64_t og = created_ns - o->row.intent_ns;
		if (og < 0)
			og = -og;
		if (og < gap)
			return true;
	}
	return false;
}

/* A 'submitting' batch whose answer never came: looks through the
 * provider's list for a batch created near the intent with as many
 * requests that no other local batch holds and no other lost intent is
 * nearer to. The list shows no custom_ids, so this is the match: the
 * creation time, the request count, the ids the ledger already has
 * left out.
 *
 * Not there is final only once the create can no longer appear: while
 * the intent is younger than the submit's timeout the create may still
 * be in flight (inside the provider, after our process died), so the
 * list is read again later. 1 found (now polled), 0 not there (its jobs
 * go back to the queue), 2 try again later (next_ns not set), 3 not yet
 * there (next_ns set), -1 + err. */
static int find_lost(drv *d, active *a)
{
	char after[AM_MB_ID_MAX] = "";
	am_mb_batch best;
	int64_t best_gap = -1;
	int64_t find_after = submit_timeout_ns(d) + FIND_BEFORE_NS;
	/* Read before the list: a batch the list cannot show yet was not
	 * given up on too early. */
	int64_t age = wall(d) - a->row.intent_ns;
	for (;;) {
		am_mb_batch *page;
		int n;
		bool more;
		am_mb_reply rep;
		am_err perr;
		int lrc = am_mb_list(d->o->mb, LIST_PAGE, after[0] ? after : NULL, &page, &n, &more,
		                     &rep, &perr);
		pace(d, &rep);
		if (lrc) {
			if (rep.http_status == 429)
				wait_out(d, &rep);
			if (rep.http_status && !rep.retryable)
				return am_err_set(d->err, "%s", perr.msg);
			return 2;
		}
		bool older = false;
		for (int i = 0; i < n; i++) {
			int64_t gap = page[i].created_ns - a->row.intent_ns;
			if (gap < -FIND_BEFORE_NS)
				older = true; /* the list is newest first: no need to read on */
			if (gap < -FIND_BEFORE_NS || gap > find_after ||
			    am_mb_total(&page[i]) != a->row.requests)
				continue;
			if (gap < 0)
				gap = -gap;
			if (nearer_intent(d, a, page[i].created_ns, gap))
				continue;
			am_pb_row other;
			int f = am_pb_find(d->db, page[i].id, &other, d->err);
			if (f < 0) {
				free(page);
				return -1;
			}
			if (f == 0 && (best_gap < 0 || gap < best_gap)) {
				best = page[i];
				best_gap = gap;
			}
		}
		if (n)
			snprintf(after, sizeof after, "%s", page[n - 1].id);
		free(page);
		if (!more || older || !n)
			break;
	}
	if (best_gap < 0) {
		int64_t left = submit_timeout_ns(d) + FIND_LATE_NS - age;
		if (left > 0) {
			a->interval_ns = am_bapi_next_interval(a->interval_ns, d->o->poll_s);
			a->next_ns = mono(d) + (a->interval_ns < left ? a->interval_ns : left + 1);
			return 3;
		}
		if (am_pb_lost(d->db, a->row.id, wall(d), d->err))
			return -1;
		return 0;
	}
	take_remote(a, &best);
	am_pb_remote r;
	remote_of(&best, &r);
	if (am_pb_remote_set(d->db, a->row.id, &r, wall(d), d->err))
		return -1;
	fputs(d->cr, d->o->msgs);
	am_say(d->o->msgs, "aimeter batch: found the batch %s submitted before a crash\n",
	       best.id);
	return 1;
}

/* ---- submitting ----------------------------------------------------------------- */

/* Jobs left out of a batch, each with its reason. */
typedef struct aside {
	int64_t *ids, n, cap;
	char **why;
} aside;

/* One provider batch being packed from the waiting jobs, and what the scan
 * decided about the jobs that do not go in it. */
typedef struct pack {
	drv *d;
	am_budget *budget;
	am_budget_now bn;
	int64_t max_n;
	size_t max_b;
	am_bbuf body;            /* {"requests":[ line, line, ... */
	int64_t *ids, *res, n, cap;
	bool full;               /* the next job did not fit: scan again after the submit */
	char blocked_why[160];   /* the first job the budget refused: it and all after wait */
	int64_t *blocked, nblocked, capblocked;
	am_tagbudget *tagb;      /* budget.tags, counted like the global budget */
	aside failed;            /* jobs that cannot be sent */
	aside tagged;            /* jobs their tag's limit refused: blocked_budget */
} pack;

static void push_id(int64_t **v, int64_t *n, int64_t *cap, int64_t id)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 256;
		*v = am_xrealloc(*v, (size_t)*cap * sizeof **v);
	}
	(*v)[(*n)++] = id;
}

static void set_aside(aside *a, int64_t id, const char *why)
{
	int64_t cap = a->cap;
	push_id(&a->ids, &a->n, &a->cap, id);
	if (cap != a->cap)
		a->why = am_xrealloc(a->why, (size_t)a->cap * sizeof *a->why);
	a->why[a->n - 1] = am_xstrdup(why);
}

static void fail_job(pack *p, int64_t id, const char *why)
{
	set_aside(&p->failed, id, why);
}

/* Writes state for each job of a, with its reason. */
static int write_aside(drv *d, const aside *a, const char *state, int64_t now)
{
	for (int64_t i = 0; i < a->n; i++)
		if (am_pb_job_state(d->db, a->ids[i], state, a->why[i], 0, now, d->err))
			return -1;
	return 0;
}

static void aside_clear(aside *a)
{
	for (int64_t i = 0; i < a->n; i++)
		free(a->why[i]);
	a->n = 0;
}

static void aside_free(aside *a)
{
	aside_clear(a);
	free(a->ids);
	free(a->why);
}

/* The request as a batch line ({"custom_id":..,"params":..}, heap): the
 * model chosen, max_tokens set, the keys the batch API refuses (stream)
 * or that are aimeter's own dropped; and its worst case at batch prices.
 * NULL + why when it cannot be sent. */
static char *make_line(drv *d, int64_t id, const char *request, const char *pinned,
                       am_budget_cost *cost, char *why, size_t whyn)
{
	json_t *body = json_loads(request ? request : "", 0, NULL);
	if (!json_is_object(body)) {
		json_decref(body);
		snprintf(why, whyn, "the job's request is not a JSON object");
		return NULL;
	}
	json_object_del(body, "stream");
	json_object_del(body, "x-no-cache");
	am_sel_input in = { .model = pinned, .chars = am_sel_body_chars(body), .budget_pct = -1 };
	am_sel_choice ch;
	am_sel_choose(d->o->sel, &in, &ch);
	json_object_set_new(body, "model", json_string(ch.model));
	if (!json_is_integer(json_object_get(body, "max_tokens")))
		json_object_set_new(body, "max_tokens", json_integer(d->o->default_max_tokens));
	char cid[24];
	snprintf(cid, sizeof cid, "%" PRId64, id);
	json_t *line = json_pack("{s:s,s:O}", "custom_id", cid, "params", body);
	char *text = json_dumps(line, JSON_COMPACT);
	json_decref(line);
	if (!text) {
		json_decref(body);
		snprintf(why, whyn, "the job's request cannot be written as a batch line");
		return NULL;
	}
	/* Every byte of the request a token (no tokenizer makes more tokens
	 * than bytes), max_tokens out, at batch prices. */
	am_budget_estimate be = { .input_tokens = (int64_t)strlen(text),
		                  .max_tokens = json_integer_value(json_object_get(body, "max_tokens")),
		                  .cache_writes = strstr(text, "\"cache_control\"") != NULL,
		                  .batch = true };
	am_prov_request_billing(body, d->o->budget.web_search_uses, &be.fast, &be.web_searches);
	json_decref(body);
	const am_price *p = am_pricing_lookup(d->o->pricing, ch.model);
	am_err err;
	if (am_budget_worst_case(p, am_pricing_most_expensive(d->o->pricing), &be, cost, &err)) {
		snprintf(why, whyn, "%s", err.msg);
		free(text);
		return NULL;
	}
	return text;
}

static int on_waiting(void *ctx, int64_t job_id, const char *request, const char *pinned,
                      int attempts, const char *tag)
{
	pack *p = ctx;
	drv *d = p->d;
	if (idset_has(&d->deferred, job_id))
		return 0;
	if (attempts > d->o->max_retries) {
		fail_job(p, job_id, "no result after every retry");
		return 0;
	}
	if (p->blocked_why[0]) {
		push_id(&p->blocked, &p->nblocked, &p->capblocked, job_id);
		return 0;
	}
	am_budget_cost cost;
	char why[AM_ERR_MAX];
	char *line = make_line(d, job_id, request, pinned, &cost, why, sizeof why);
	if (!line) {
		fail_job(p, job_id, why);
		return 0;
	}
	size_t len = strlen(line);
	if (p->n == p->max_n || p->body.len + len + 2 > p->max_b) {
		free(line);
		p->full = true;
		return 1; /* this job opens the next batch */
	}
	am_budget_grant g;
	am_err err;
	if (am_budget_reserve(p->budget, &p->bn, &cost, &g, &err) ||
	    g.verdict != AM_BUDGET_RESERVED) {
		snprintf(p->blocked_why, sizeof p->blocked_why, "%s",
		         g.verdict != AM_BUDGET_RESERVED ? g.why : err.msg);
		push_id(&p->blocked, &p->nblocked, &p->capblocked, job_id);
		free(line);
		return 0;
	}
	/* The same worst case against the tag's own daily limit; a job it
	 * refuses waits, and the jobs of other tags after it go on. */
	am_tagbudget_grant tg;
	if (am_tagbudget_reserve(p->tagb, p->bn.day, tag, g.amount_pusd, &tg, &err) || tg.blocked) {
		am_budget_cancel(p->budget, g.id, NULL);
		if (tg.blocked)
			set_aside(&p->tagged, job_id, tg.why);
		else
			fail_job(p, job_id, err.msg);
		free(line);
		return 0;
	}
	am_bbuf_append(&p->body, p->n ? "," : "{\"requests\":[", p->n ? 1 : 13);
	am_bbuf_append(&p->body, line, len);
	free(line);
	int64_t cap = p->cap;
	push_id(&p->ids, &p->n, &p->cap, job_id);
	if (cap != p->cap)
		p->res = am_xrealloc(p->res, (size_t)p->cap * sizeof *p->res);
	p->res[p->n - 1] = cost.exempt ? 0 : cost.pusd;
	return 0;
}

/* Submits the packed batch. 0 submitted (or left for the list to tell),
 * 1 refused for now (its jobs queued again), -1 + err. */
static int submit(drv *d, pack *p)
{
	int64_t local, intent_ns = wall(d);
	am_bbuf_append(&p->body, "]}", 2);
	if (am_pb_intent(d->db, d->o->base_url, d->o->me->id, p->ids, p->res, p->n,
	                 (int64_t)p->body.len, intent_ns, &local, d->err))
		return -1;
	am_mb_batch b;
	am_mb_reply rep;
	am_err serr;
	int rc = am_mb_create(d->o->mb, p->body.data, p->body.len, &b, &rep, &serr);
	pace(d, &rep);
	am_pb_row row;
	memset(&row, 0, sizeof row);
	row.id = local;
	row.requests = p->n;
	row.intent_ns = intent_ns;
	row.state = AM_PB_SUBMITTING;
	if (rc == 0) {
		d->backoff_ns = 0;
		am_pb_remote r;
		remote_of(&b, &r);
		if (am_pb_remote_set(d->db, local, &r, wall(d), d->err))
			return -1;
		add_active(d, &row);
		active *a = &d->act[d->nact - 1];
		take_remote(a, &b);
		a->next_ns = mono(d) + a->interval_ns;
		return 0;
	}
	if (!rep.http_status) {
		/* No answer: it may have arrived. The list will tell. */
		add_active(d, &row);
		d->act[d->nact - 1].next_ns = mono(d) + FIRST_POLL_NS;
		note(d, "no answer to a submit (%s): looking for it in the provider's list",
		     serr.msg);
		return 0;
	}
	if (am_pb_lost(d->db, local, wall(d), d->err))
		return -1;
	if (!rep.retryable)
		return am_err_set(d->err, "the provider refused a batch: %s", serr.msg);
	wait_out(d, &rep);
	return 1;
}

/* Writes what a scan decided about the jobs left out of its batch. */
static int settle_scan(drv *d, pack *p)
{
	int64_t now = wall(d);
	if (write_aside(d, &p->failed, "failed", now) ||
	    write_aside(d, &p->tagged, "blocked_budget", now))
		return -1;
	for (int64_t i = 0; i < p->nblocked; i++)
		if (am_pb_job_state(d->db, p->blocked[i], "blocked_budget", p->blocked_why, 0, now,
		                    d->err))
			return -1;
	return 0;
}

static void pack_reset(pack *p)
{
	aside_clear(&p->failed);
	aside_clear(&p->tagged);
	p->nblocked = p->n = 0;
	p->full = false;
	am_bbuf_clear(&p->body);
}

static int add_outstanding(void *ctx, const char *tag, int64_t pusd)
{
	pack *p = ctx;
	return am_tagbudget_add_spent(p->tagb, p->bn.day, p->bn.day, tag, pusd, p->d->err) ? -1 : 0;
}

/* A fresh tag budget for the next batch, like the global one: each tag's
 * spend today in the ledger, and its reservations still out counted as
 * spent. */
static int new_tagbudget(drv *d, pack *p)
{
	am_tagbudget_free(p->tagb);
	p->tagb = am_tagbudget_new(p->bn.day);
	if (am_tagload_limits(p->tagb, d->o->tags, d->o->ntags, d->err) ||
	    am_tagload_today(p->tagb, d->o->ledger, p->bn.day, d->err))
		return -1;
	int rc = am_pb_outstanding_tags(d->db, add_outstanding, p, d->err);
	return rc ? -1 : 0;
}

/* The run's waiting jobs: reserved, packed one provider batch at a time
 * (only that batch's lines in memory) and submitted, or blocked. */
static int submit_waiting(drv *d)
{
	pack p;
	memset(&p, 0, sizeof p);
	p.d = d;
	p.max_n = d->o->max_requests > 0 ? d->o->max_requests : AM_MB_MAX_REQUESTS;
	p.max_b = d->o->max_bytes > 0 ? (size_t)d->o->max_bytes : AM_MB_MAX_BYTES;
	am_bbuf_init(&p.body, p.max_b + 16);
	int status = -1;
	/* What may still be spent: the ledger's day and month, and every
	 * reservation of a batch still out counted as spent. */
	int64_t day = 0, month = 0, out = 0, unknown = 0;
	char first[AM_LEDGER_DAY_LEN + 1];
	if (am_budget_now_local(wall(d), &p.bn, d->err) ||
	    am_ledger_spend(d->o->ledger, p.bn.day, p.bn.day, &day, &unknown, d->err))
		goto out;
	snprintf(first, sizeof first, "%s-01", p.bn.month);
	if (am_ledger_spend(d->o->ledger, first, p.bn.day, &month, NULL, d->err) ||
	    am_pb_outstanding(d->db, &out, d->err))
		goto out;
	am_budget_config bc = d->o->budget;
	bc.max_reservations = AM_MB_MAX_REQUESTS; /* one batch's worth at a time, see below */
	for (;;) {
		/* A fresh budget per batch, counting the batches before it as
		 * outstanding: a batch never holds more reservations than it has
		 * requests. */
		am_budget_free(p.budget);
		p.budget = NULL;
		if (am_pb_outstanding(d->db, &out, d->err) ||
		    am_budget_new(&p.budget, &bc, &p.bn, day + out, month + out, unknown > 0, d->err) ||
		    new_tagbudget(d, &p))
			goto out;
		pack_reset(&p);
		if (am_pb_each_waiting(d->o->jobs, on_waiting, &p, d->err) < 0 || settle_scan(d, &p))
			goto out;
		if (!p.n)
			break;
		while (mono(d) < d->not_before && !stopped(d))
			poll(NULL, 0, 50); /* the batch endpoints' limit holds between submits */
		if (stopped(d))
			break; /* the rest stays queued for the next run */
		int rc = submit(d, &p);
		if (rc < 0)
			goto out;
		if (rc > 0) {
			d->want_submit = true; /* refused for now: the rest waits too */
			break;
		}
		if (!p.full)
			break;
	}
	status = 0;
out:
	pack_reset(&p);
	am_budget_free(p.budget);
	am_bbuf_free(&p.body);
	free(p.ids);
	free(p.res);
	am_tagbudget_free(p.tagb);
	free(p.blocked);
	aside_free(&p.failed);
	aside_free(&p.tagged);
	return status;
}

/* ---- progress --------------------------------------------------------------------- */

static void fmt_age(int64_t ns, char *buf, size_t n)
{
	int64_t s = ns / AM_NS_PER_SEC;
	if (s < 0)
		s = 0;
	if (s >= 3600)
		snprintf(buf, n, "%" PRId64 "h%02" PRId64 "m", s / 3600, s / 60 % 60);
	else if (s >= 60)
		snprintf(buf, n, "%" PRId64 "m%02" PRId64 "s", s / 60, s % 60);
	else
		snprintf(buf, n, "%" PRId64 "s", s);
}

static void progress(drv *d, bool force)
{
	int64_t el = (mono(d) - d->t0) / AM_NS_PER_SEC;
	if (!force && !d->o->tty && el - d->last_note < 10)
		return;
	d->last_note = el;
	am_queue_tally t;
	am_err err;
	if (am_queue_run_tally(d->o->jobs, &t, &err))
		return;
	int64_t in_batches = 0, oldest = 0, now = wall(d);
	for (int i = 0; i < d->nact; i++) {
		in_batches += d->act[i].row.requests;
		int64_t age = now - (d->act[i].row.created_ns ? d->act[i].row.created_ns
		                                               : d->act[i].row.intent_ns);
		if (age > oldest)
			oldest = age;
	}
	char cost[48], age[24], left[32] = "?";
	am_money_format_display(t.cost_pusd, 4, cost, sizeof cost);
	fmt_age(oldest, age, sizeof age);
	if (d->ended_n && d->nact) {
		int64_t avg = d->ended_sum_ns / d->ended_n;
		fmt_age(avg > oldest ? avg - oldest : 0, left, sizeof left);
	}
	fprintf(d->o->msgs,
	        "%sbatches %" PRId64 "/%" PRId64 " done · %" PRId64 " failed · %" PRId64
	        " blocked · %" PRId64 " in %d batch%s · age %s · ~%s left · %s%s",
	        d->cr, t.done, t.done + t.failed + t.blocked + t.unfinished, t.failed, t.blocked,
	        in_batches, d->nact, d->nact == 1 ? "" : "es", age, left, cost,
	        d->o->tty ? "" : "\n");
	fflush(d->o->msgs);
}

/* ---- the loop ------------------------------------------------------------------------ */

/* The open batch whose poll is due the longest, or -1. */
static int most_due(const drv *d, int64_t now)
{
	int best = -1;
	for (int i = 0; i < d->nact; i++)
		if (d->act[i].next_ns <= now && (best < 0 || d->act[i].next_ns < d->act[best].next_ns))
			best = i;
	return best;
}

/* Whether a lost submit is still being looked for. No new intent is
 * written meanwhile: a batch created after it is then not one of the lost
 * submit's, and at most one lost intent of the run is open at a time, so
 * the match by creation time is not left to choose between two. */
static bool looking(const drv *d)
{
	for (int i = 0; i < d->nact; i++)
		if (d->act[i].row.state == AM_PB_SUBMITTING)
			return true;
	return false;
}

static bool claimable(void *ctx, const char *owner)
{
	return am_owner_claimable(ctx, owner);
}

int am_bapi_drive(const am_bapi_opts *o, am_err *err)
{
	drv d;
	memset(&d, 0, sizeof d);
	d.o = o;
	d.db = am_ledger_db(o->ledger);
	d.clk = o->clock ? o->clock : am_clock_system();
	d.cr = o->tty ? "\r\033[K" : "";
	d.err = err;
	d.t0 = mono(&d);
	d.want_submit = true;
	int status = -1;
	int64_t strays;
	am_pb_row *rows = NULL;
	int nrows = 0;
	am_owner me = *o->me;
	if (am_pb_strays(o->jobs, wall(&d), &strays, err) ||
	    am_pb_open(d.db, o->jobs, claimable, &me, &rows, &nrows, err))
		goto out;
	for (int i = 0; i < nrows; i++) {
		if (am_pb_set_owner(d.db, rows[i].id, o->me->id, err))
			goto out;
		add_active(&d, &rows[i]);
	}
	free(rows);
	rows = NULL;

	for (;;) {
		if (stopped(&d)) {
			status = 1;
			break;
		}
		int64_t now = mono(&d);
		bool waited = now < d.not_before;
		/* The due batches, the longest waiting first (none is starved when
		 * a 429 lets only one call through at a time). */
		for (int i; !waited && (i = most_due(&d, now)) >= 0;) {
			active *a = &d.act[i];
			bool lookup = a->row.state == AM_PB_SUBMITTING;
			int r = lookup ? find_lost(&d, a) : poll_one(&d, a);
			if (r < 0)
				goto out;
			if (lookup && r == 2) { /* the list could not be read: later */
				a->interval_ns = am_bapi_next_interval(a->interval_ns, 0);
				a->next_ns = mono(&d) + a->interval_ns;
			} else if (lookup && r == 3) { /* not there yet: next_ns is set */
			} else if (lookup && r == 1) { /* found: polled from now on */
				a->next_ns = mono(&d) + a->interval_ns;
			} else if ((lookup && r == 0) || (!lookup && r == 1)) { /* lost, or done */
				drop_active(&d, i);
				d.want_submit = true;
			}
			waited = mono(&d) < d.not_before;
		}
		if (d.want_submit && mono(&d) >= d.not_before && !looking(&d)) {
			d.want_submit = false;
			if (submit_waiting(&d))
				goto out;
		}
		progress(&d, false);
		if (!d.nact && !d.want_submit) {
			status = 0;
			break;
		}
		/* Sleep to the next poll, waking for a stop at least every 200 ms. */
		int64_t next = INT64_MAX;
		for (int i = 0; i < d.nact; i++)
			if (d.act[i].next_ns < next)
				next = d.act[i].next_ns;
		if (d.not_before > next || (d.want_submit && d.not_before > mono(&d)))
			next = d.not_before;
		int64_t wait_ms = (next - mono(&d)) / AM_NS_PER_MS;
		if (wait_ms > 200)
			wait_ms = 200;
		if (wait_ms > 0)
			poll(NULL, 0, (int)wait_ms);
	}
out:
	progress(&d, true);
	free(rows);
	free(d.act);
	free(d.deferred.v);
	return status;
}
