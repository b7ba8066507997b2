/* worker_proxy: calls another program sends through the proxy (see
 * proxycall.h), on the worker's side. Such a call is a job without a jobs
 * row: it goes through dispatch like any other (its model is the one the
 * client asked for; the budget reserves, the limiter queues), but a refusal
 * is answered at once instead of waiting in the blocked list, a limiter
 * that would hold it past max_wait_ns answers 429, and the grant writes the
 * call's ledger row before the proxy may send it. The outcome comes back
 * through the inbox and settles like a call of the worker's own. */
#include "worker_int.h"

#include <time.h>

void am_proxy_call_init(am_proxy_call *pc)
{
	memset(pc, 0, sizeof *pc);
	pthread_mutex_init(&pc->mu, NULL);
	pthread_cond_init(&pc->cv, NULL);
}

void am_proxy_call_clear(am_proxy_call *pc)
{
	json_decref(pc->json);
	pc->json = NULL;
	free(pc->answer);
	pc->answer = NULL;
	pthread_cond_destroy(&pc->cv);
	pthread_mutex_destroy(&pc->mu);
}

am_proxy_verdict am_proxy_call_wait(am_proxy_call *pc)
{
	pthread_mutex_lock(&pc->mu);
	while (pc->verdict == AM_PROXY_WAITING)
		pthread_cond_wait(&pc->cv, &pc->mu);
	am_proxy_verdict v = pc->verdict;
	pthread_mutex_unlock(&pc->mu);
	return v;
}

/* The verdict, once: after it the worker never touches pc again. */
static void decide(am_proxy_call *pc, am_proxy_verdict v)
{
	pthread_mutex_lock(&pc->mu);
	pc->verdict = v;
	pthread_cond_signal(&pc->cv);
	pthread_mutex_unlock(&pc->mu);
}

static void refuse_call(am_proxy_call *pc, int status, const char *type, int64_t retry_after_s,
                        const char *msg)
{
	pc->status = status;
	snprintf(pc->error_type, sizeof pc->error_type, "%s", type);
	snprintf(pc->message, sizeof pc->message, "%s", msg);
	pc->retry_after_s = retry_after_s;
	decide(pc, AM_PROXY_REFUSED);
}

/* ---- the observers' side --------------------------------------------------- */

void wk_proxy_refuse_stopping(am_proxy_call *pc)
{
	refuse_call(pc, 503, "api_error", 0, "aimeter is stopping");
}

int am_worker_proxy_admit(am_worker *w, am_proxy_call *pc, am_err *err)
{
	inbox_item *it = am_xcalloc(1, sizeof *it);
	it->kind = IN_PROXY;
	it->pc = pc;
	pc->verdict = AM_PROXY_WAITING;
	if (wk_inbox_put(w, it, err)) {
		free(it);
		return -1;
	}
	return 0;
}

void am_worker_proxy_done(am_worker *w, int64_t handle, am_prov_result *r, bool cut)
{
	inbox_item *it = am_xcalloc(1, sizeof *it);
	it->kind = IN_PROXY_DONE;
	it->handle = handle;
	it->res = am_xmalloc(sizeof *it->res);
	*it->res = *r;
	r->text = NULL; /* taken */
	it->cut = cut;
	am_err err;
	if (wk_inbox_put(w, it, &err))
		wk_inbox_free(it); /* a worker that stopped records nothing more */
}

void am_worker_proxy_refuse_waiting(am_worker *w)
{
	inbox_item *it = am_xcalloc(1, sizeof *it);
	it->kind = IN_PROXY_STOP;
	am_err err;
	if (wk_inbox_put(w, it, &err))
		free(it); /* stopped: nothing waits */
}

/* ---- admission ---------------------------------------------------------------- */

void wk_proxy_refuse(am_worker *w, wjob *j, int status, const char *type, int64_t retry_after_s,
                     const char *fmt, ...)
{
	char msg[320];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	int64_t now = now_mono(w);
	if (j->ticket_live) {
		am_rl_cancel(w->rl, &j->ticket, now);
		j->ticket_live = false;
	}
	wk_release_budget(w, j);
	jlist *l = wk_list_of(w, j);
	if (l)
		jl_remove(l, j);
	j->st = W_FINISHED;
	am_event ev;
	wk_event_init(&ev, AM_EV_FAILED, j);
	snprintf(ev.error, sizeof ev.error, "refused (HTTP %d): %s", status, msg);
	am_evq_push(w->evq, &ev);
	w->failed++;
	w->dirty = true;
	if (j->px) {
		refuse_call(j->px, status, type, retry_after_s, msg);
		j->px = NULL;
	}
	wk_free_job(w, j);
}

void wk_proxy_take(am_worker *w, inbox_item *it, int64_t now)
{
	am_proxy_call *pc = it->pc;
	it->pc = NULL;
	wjob *j = am_xcalloc(1, sizeof *j);
	j->w = w;
	j->handle = atomic_fetch_add(&w->next_handle, 1);
	j->proxied = true;
	j->px = pc;
	j->body = pc->json;
	pc->json = NULL;
	j->model_req = am_xstrdup(pc->model);
	j->stream = pc->stream;
	j->no_cache = true;
	j->source = "proxy";
	j->answer_is_output = true; /* no jobs row to carry a state */
	j->tag = pc->tag[0] ? am_xstrdup(pc->tag) : NULL;
	snprintf(j->key_hint, sizeof j->key_hint, "%s", pc->key_hint);
	j->t_submit = now;
	j->px_deadline = now + (pc->max_wait_ns > 0 ? pc->max_wait_ns : 0);
	wk_all_add(w, j);
	if (!j->body) {
		wk_proxy_refuse(w, j, 400, "invalid_request_error", 0, "the body is not a JSON object");
		return;
	}
	/* Behind the jobs that wait already: the FIFO is fair to every source. */
	jl_push(&w->pending, j);
	w->dirty = true;
}

void wk_proxy_select(am_worker *w, wjob *j)
{
	(void)w;
	snprintf(j->model, sizeof j->model, "%s", j->model_req);
	snprintf(j->reason, sizeof j->reason, "proxy%s%s", j->tag ? " " : "", j->tag ? j->tag : "");
}

int wk_proxy_wire(wjob *j, am_err *err)
{
	/* What goes upstream is the client's body, unchanged; the worker only
	 * sizes it (input estimate) and looks for cache_control. */
	am_proxy_call *pc = j->px;
	if (!pc)
		return am_err_set(err, "the proxied call has no body");
	free(j->wire);
	j->wire = am_xstrndup(pc->body ? pc->body : "", pc->body_len);
	j->wire_len = pc->body_len;
	/* Streamed or not, the same request has the same answer. */
	j->cacheable = false;
	if (pc->cache) {
		json_t *b = json_copy(j->body);
		json_object_del(b, "stream");
		j->cacheable = am_cache_key(b, j->key, NULL) == 0;
		json_decref(b);
	}
	return 0;
}

void wk_proxy_cached(am_worker *w, wjob *j, const am_cache_answer *a)
{
	(void)w;
	am_proxy_call *pc = j->px;
	if (!pc)
		return;
	char id[40];
	snprintf(id, sizeof id, "msg_aimeter");
	for (int i = 0; i < 10; i++)
		snprintf(id + strlen(id), sizeof id - strlen(id), "%02x", j->key[i]);
	pc->answer_sse = j->stream;
	pc->answer = (j->stream ? am_prov_message_sse : am_prov_message_json)(
	    id, a->model, a->text, a->stop_reason, a->stop_sequence, &a->usage);
	j->px = NULL;
	if (!pc->answer) {
		refuse_call(pc, 500, "api_error", 0, "aimeter: the cached answer cannot be sent");
		return;
	}
	decide(pc, AM_PROXY_CACHED);
}

/* "2026-12-07 00:00" local: when the period that blocked resets. */
static void reset_time(am_worker *w, bool month, char *out, size_t n)
{
	time_t t = (time_t)(now_wall(w) / AM_NS_PER_SEC);
	struct tm tm;
	localtime_r(&t, &tm);
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	if (month) {
		tm.tm_mday = 1;
		tm.tm_mon++;
	} else {
		tm.tm_mday++;
	}
	tm.tm_isdst = -1;
	time_t r = mktime(&tm);
	localtime_r(&r, &tm);
	strftime(out, n, "%Y-%m-%d %H:%M %Z", &tm);
}

void wk_proxy_budget_refused(am_worker *w, wjob *j, const char *why)
{
	/* The provider's own spend-limit answer (HTTP 400, invalid_request_error):
	 * SDKs stop on it rather than retry. */
	char when[48];
	reset_time(w, strstr(why, "monthly") != NULL, when, sizeof when);
	wk_proxy_refuse(w, j, 400, "invalid_request_error", 0,
	                "You have reached your specified API usage limits: aimeter's %s. You will "
	                "regain access on %s.", why, when);
}

static int64_t ceil_secs(int64_t ns)
{
	return ns <= 0 ? 1 : (ns + AM_NS_PER_SEC - 1) / AM_NS_PER_SEC;
}

bool wk_proxy_wait_too_long(am_worker *w, wjob *j, int64_t now)
{
	int64_t at = am_rl_pool_next_event_ns(w->rl, j->ticket.pool, now);
	if (at == INT64_MAX || at - now <= j->px_deadline - j->t_submit)
		return false;
	wk_proxy_refuse(w, j, 429, "rate_limit_error", ceil_secs(at - now),
	                "aimeter's rate limiter would hold this request for %" PRId64
	                " s, longer than proxy.max_wait_s allows",
	                ceil_secs(at - now));
	return true;
}

/* Calls still waiting past their deadline get their 429. */
void wk_proxy_tick(am_worker *w, int64_t now)
{
	jlist *lists[] = { &w->limit, &w->pending };
	for (size_t k = 0; k < sizeof lists / sizeof lists[0]; k++)
		for (wjob *j = lists[k]->head, *next; j; j = next) {
			next = j->next;
			if (!j->px || now < j->px_deadline)
				continue;
			int64_t at = j->ticket_live ? am_rl_pool_next_event_ns(w->rl, j->ticket.pool, now)
			                            : INT64_MAX;
			wk_proxy_refuse(w, j, 429, "rate_limit_error",
			                at == INT64_MAX ? 1 : ceil_secs(at - now),
			                "aimeter's rate limiter held this request longer than "
			                "proxy.max_wait_s allows");
		}
}

void wk_proxy_refuse_all(am_worker *w)
{
	jlist *lists[] = { &w->limit, &w->pending, &w->blocked };
	for (size_t k = 0; k < sizeof lists / sizeof lists[0]; k++)
		for (wjob *j = lists[k]->head, *next; j; j = next) {
			next = j->next;
			if (j->px)
				wk_proxy_refuse(w, j, 503, "api_error", 1, "aimeter's proxy is stopping");
		}
}

int64_t wk_proxy_next_deadline(const am_worker *w)
{
	int64_t next = INT64_MAX;
	const jlist *lists[] = { &w->limit, &w->pending };
	for (size_t k = 0; k < sizeof lists / sizeof lists[0]; k++)
		for (const wjob *j = lists[k]->head; j; j = j->next)
			if (j->px && j->px_deadline < next)
				next = j->px_deadline;
	return next;
}

/* The row a proxied call is recorded by: written (estimated at its
 * reservation) when granted, rewritten when its outcome arrives. */
int wk_proxy_record(am_worker *w, wjob *j, const am_ledger_event *ev, am_err *err)
{
	if (j->px_row)
		return am_ledger_rewrite(w->ledger, j->px_row, ev, err);
	/* a cache hit: no call, so no row written before it */
	int added = am_ledger_record(w->ledger, ev, err);
	if (added < 0)
		return -1;
	if (added) /* ours once committed (land_recorded) */
		j->ledger_row = am_spend_last_row(w->ledger);
	return 0;
}

void wk_proxy_grant(am_worker *w, wjob *j)
{
	int64_t now = now_mono(w);
	am_usage u;
	memset(&u, 0, sizeof u);
	u.input_tokens = j->est_input;
	u.output_tokens = j->max_tokens;
	char sim_model[AM_PROV_MODEL_MAX + 16];
	snprintf(sim_model, sizeof sim_model, "%s%s", AM_LEDGER_SIMULATED, j->model);
	am_ledger_event ev;
	memset(&ev, 0, sizeof ev);
	ev.ts_ns = now_wall(w);
	ev.model_requested = j->model_req;
	ev.model = w->opts.simulator ? sim_model : j->model;
	ev.reason = j->reason;
	ev.usage = u;
	ev.price_known = j->priced;
	ev.cost_pusd = j->priced ? j->reserved_pusd : 0;
	ev.latency_ms = -1;
	ev.source = "proxy";
	ev.error = "in flight: estimated at its reservation";
	ev.estimated = true;
	ev.tag = j->tag;
	ev.key_hint = j->key_hint[0] ? j->key_hint : NULL;
	am_err err;
	int64_t row = 0;
	if (!w->tx_open && am_ledger_begin(w->ledger, &err) == 0)
		w->tx_open = true;
	if (!w->tx_open || am_ledger_record(w->ledger, &ev, &err) < 0 ||
	    (row = am_spend_last_row(w->ledger), wk_tx_commit(w, &err))) {
		wk_tx_abort(w);
		wk_db_trouble(w, &err);
		wk_proxy_refuse(w, j, 529, "overloaded_error", 1,
		                "aimeter cannot record the call (%s); try again later", err.msg);
		return;
	}
	wk_db_ok(w);
	wk_own_row(w, row);
	j->px_row = row;
	j->st = W_FLIGHT;
	j->t_sent = now;
	jl_push(&w->flight, j);
	am_rl_sent(w->rl, &j->ticket, now);
	am_proxy_call *pc = j->px;
	j->px = NULL;
	pc->handle = j->handle;
	decide(pc, AM_PROXY_GRANTED);
}

/* ---- the outcome ------------------------------------------------------------- */

static wjob *find_flight(am_worker *w, int64_t handle)
{
	for (wjob *j = w->flight.head; j; j = j->next)
		if (j->handle == handle)
			return j;
	return NULL;
}

static void not_billed(am_worker *w, wjob *j, am_prov_result *r, int64_t now)
{
	if (r->err == AM_PERR_RATE_LIMIT) {
		/* Fed to the limiter as the worker's own 429s are, then let go: the
		 * client decides whether to try again. */
		am_rl_on_429(w->rl, &j->ticket, &r->rl, am_rl_dim_from_message(r->message), now);
		am_rl_cancel(w->rl, &j->ticket, now);
	} else if (r->err == AM_PERR_OVERLOADED || r->err == AM_PERR_SERVER) {
		am_rl_on_overload(w->rl, &j->ticket, now);
	} else {
		am_rl_cancel(w->rl, &j->ticket, now);
	}
	j->ticket_live = false;
	wk_release_budget(w, j);
	am_err err;
	if (am_ledger_forget(w->ledger, j->px_row, &err))
		wk_notice(w, "proxy: %s", err.msg);
	char msg[256];
	am_prov_describe(r, msg, sizeof msg);
	j->st = W_FINISHED;
	am_event ev;
	wk_event_init(&ev, AM_EV_FAILED, j);
	ev.http_status = r->http_status;
	snprintf(ev.error, sizeof ev.error, "%s", msg);
	am_evq_push(w->evq, &ev);
	w->failed++;
	w->dirty = true;
	wk_free_job(w, j);
}

static void proxy_done(am_worker *w, int64_t handle, am_prov_result *r, bool cut, int64_t now)
{
	wjob *j = find_flight(w, handle);
	if (!j)
		return;
	jl_remove(&w->flight, j);
	/* The text is kept only for the cache (the console hears of a proxied
	 * call in one line, not its text). */
	if (!j->cacheable) {
		free(r->text);
		r->text = NULL;
	}
	if (j->ticket_live && j->stream && r->http_status >= 200 && r->http_status < 300)
		am_rl_observe(w->rl, &j->ticket, &r->rl, now);
	if (r->err == AM_PERR_NONE && !cut) {
		wk_call_succeeded(w, j, r, now, NULL, AM_JOB_DONE);
	} else if (wk_cut_short(j, r)) {
		/* Billed from message_start on: what arrived, estimated. */
		wk_estimate_cut(j, r);
		wk_call_succeeded(w, j, r, now,
		                  cut ? "the client went away after the answer began"
		                      : "the answer was cut short",
		                  AM_JOB_FAILED);
	} else if (r->http_status >= 200 && r->http_status < 300 && (cut || !r->stream)) {
		/* A plain answer that did not arrive whole: the call was made, its
		 * usage unknown. It stays charged at what its reservation assumed. */
		snprintf(r->model, sizeof r->model, "%s", j->model);
		memset(&r->usage, 0, sizeof r->usage);
		r->usage.input_tokens = j->est_input;
		r->usage.output_tokens = j->max_tokens;
		r->usage_suspect = false;
		wk_call_succeeded(w, j, r, now, "cut short before its usage arrived", AM_JOB_FAILED);
	} else {
		not_billed(w, j, r, now);
	}
}

void wk_proxy_done_item(am_worker *w, inbox_item *it, int64_t now)
{
	proxy_done(w, it->handle, it->res, it->cut, now);
	wk_land_arrived(w); /* its client waits: recorded now, on its own */
}
