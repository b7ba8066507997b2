/* worker_publish: what the observers see - events, the notices, what a
 * waiting job waits for, the snapshot (with the pools worth a place on the
 * dashboard), and whether the worker is quiet. */
#include "worker_int.h"

void wk_event_init(am_event *ev, am_event_kind kind, const wjob *j)
{
	memset(ev, 0, sizeof *ev);
	ev->kind = kind;
	ev->job_id = j ? j->handle : 0;
	if (j) {
		snprintf(ev->model, sizeof ev->model, "%s", j->model);
		snprintf(ev->reason, sizeof ev->reason, "%s", j->reason);
	}
}

void wk_event_basic(am_worker *w, am_event_kind kind, const wjob *j, const char *text)
{
	am_event ev;
	wk_event_init(&ev, kind, j);
	ev.text = text ? am_xstrdup(text) : NULL;
	/* Progress rides with the next wake (the answer, or the snapshot this
	 * pass makes due within SNAPSHOT_PERIOD_MS): an observer woken for each
	 * step of a fast call would take the CPU the call needs. */
	if (kind == AM_EV_QUEUED || kind == AM_EV_STARTED || kind == AM_EV_WAITING)
		am_evq_push_lazy(w->evq, &ev);
	else
		am_evq_push(w->evq, &ev);
	w->dirty = true;
}

void wk_emit_retry(am_worker *w, const wjob *j, int64_t delay_ns, const char *why)
{
	am_event ev;
	wk_event_init(&ev, AM_EV_RETRY, j);
	ev.attempt = j->attempts;
	ev.retry_in_ns = delay_ns;
	snprintf(ev.error, sizeof ev.error, "%s", why);
	am_evq_push(w->evq, &ev);
	w->dirty = true;
}

void wk_notice(am_worker *w, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	am_log_write(w->log, now_wall(w), "%s", buf);
	wk_event_basic(w, AM_EV_NOTICE, NULL, buf);
}

void wk_emit_done(am_worker *w, wjob *j, const char *model, const am_usage *u, bool known,
                  int64_t cost, bool cached, int64_t latency_ms, int status, const char *note)
{
	am_event ev;
	memset(&ev, 0, sizeof ev);
	ev.kind = AM_EV_DONE;
	ev.job_id = j->handle;
	snprintf(ev.model, sizeof ev.model, "%s", model);
	snprintf(ev.reason, sizeof ev.reason, "%s", j->reason);
	ev.usage = *u;
	ev.cost_pusd = cost;
	ev.price_known = known;
	ev.cached = cached;
	ev.latency_ms = latency_ms;
	ev.http_status = status;
	snprintf(ev.error, sizeof ev.error, "%s", note ? note : "");
	if (j->held && j->held->estimated) {
		ev.estimated = true;
		if (!ev.error[0])
			snprintf(ev.error, sizeof ev.error, "%s", j->held->error);
	}
	am_evq_push(w->evq, &ev);
	w->done++;
	w->dirty = true;
}

/* Why the jobs in a pool's limiter queue wait, in words for the console
 * ("OTPM 1.2s", "RPM cool-down 4.0s after a 429", "a free slot (8 in
 * flight)"), and a key that changes only when the reason does, so each job
 * hears about a new reason once. Both "" when the head may go now. */
void wk_limit_wait_reason(am_worker *w, int pool, int64_t now, char *text, size_t n, char *key,
                          size_t kn)
{
	am_rl_pool_stats st;
	am_rl_stats(w->rl, pool, now, &st);
	text[0] = key[0] = '\0';
	int cd = -1;
	for (int d = 0; d < AM_RL_NDIMS; d++)
		if (st.dim[d].cooldown_until_ns > now &&
		    (cd < 0 || st.dim[d].cooldown_until_ns > st.dim[cd].cooldown_until_ns))
			cd = d;
	char t[32];
	if (cd >= 0) {
		am_duration_text(st.dim[cd].cooldown_until_ns - now, t, sizeof t);
		snprintf(key, kn, "%s cool-down", st.dim[cd].name);
		snprintf(text, n, "%s cool-down %s after a 429", st.dim[cd].name, t);
	} else if (st.head_blocked_by == AM_RL_BLOCK_CONC) {
		snprintf(key, kn, "a free slot");
		snprintf(text, n, "a free slot (%d in flight)", st.in_flight);
	} else if (st.head_blocked_by >= 0 && st.head_blocked_by < AM_RL_NDIMS) {
		const char *dim = st.dim[st.head_blocked_by].name;
		am_duration_text(st.head_ready_in_ns, t, sizeof t);
		snprintf(key, kn, "%s", dim);
		snprintf(text, n, "%s %s", dim, t);
	} else if (w->nswait && w->swait_at[pool] > now) {
		/* Granted here, waiting for the limits shared with other hosts. */
		am_duration_text(w->swait_at[pool] - now, t, sizeof t);
		snprintf(key, kn, "shared limit");
		snprintf(text, n, "the organisation's limit %s", t);
	}
}

/* Tells each job in the limiter's queues what it waits for, when that
 * changed: the head of a pool's queue (the lowest FIFO seq) hears the
 * dimension and the time to go ("OTPM 1.2s"), the jobs behind it that
 * they are in line. A handful of events per reason, never a countdown
 * stream (a batch may keep `concurrency` jobs here). */
static void refresh_waiting(am_worker *w, int64_t now)
{
	enum { NP = AM_RL_MAX_POOLS };
	char text[NP][96], key[NP][24];
	bool known[NP] = { false };
	const wjob *head[NP] = { NULL };
	for (wjob *j = w->limit.head; j; j = j->next) {
		int p = j->ticket.pool;
		if (p >= 0 && p < NP && (!head[p] || j->ticket.seq < head[p]->ticket.seq))
			head[p] = j;
	}
	for (wjob *j = w->limit.head; j; j = j->next) {
		int p = j->ticket.pool;
		if (p < 0 || p >= NP)
			continue;
		if (!known[p]) {
			wk_limit_wait_reason(w, p, now, text[p], sizeof text[p], key[p],
			                     sizeof key[p]);
			known[p] = true;
		}
		if (!key[p][0])
			continue;
		char k[sizeof j->wait_key], t[sizeof text[p]];
		bool cooling = strstr(key[p], "cool-down") != NULL;
		snprintf(k, sizeof k, "%s%s", key[p], j == head[p] || cooling ? "" : " +");
		if (!strcmp(j->wait_key, k))
			continue;
		if (j == head[p] || cooling)
			snprintf(t, sizeof t, "%s", text[p]);
		else
			snprintf(t, sizeof t, "%s, in line", key[p]);
		snprintf(j->wait_key, sizeof j->wait_key, "%s", k);
		wk_event_basic(w, AM_EV_WAITING, j, t);
	}
}

/* The pools worth a place on the dashboard, most active first: those with
 * calls today, queued work, calls in flight, a 429 or a cool-down, and
 * those of the models the selector would choose now. A price table names
 * many pools that this user never touches; listing them all hides the ones
 * that matter. Ties keep the limiter's order (overrides, then the
 * selector's tiers). Returns how many indexes went into order. */
static int pools_that_matter(am_worker *w, int64_t now, int *order, int max)
{
	int np = am_rl_npools(w->rl);
	if (np > AM_RL_MAX_POOLS)
		np = AM_RL_MAX_POOLS;
	int64_t score[AM_RL_MAX_POOLS] = { 0 };
	bool want[AM_RL_MAX_POOLS] = { false };
	for (int i = 0; i < w->nmodels; i++) {
		int p = am_rl_pool_for_model(w->rl, w->models[i].m.model);
		if (p >= 0 && p < np && w->models[i].m.requests > 0) {
			score[p] += w->models[i].m.requests;
			want[p] = true;
		}
	}
	bool pinned = strcmp(w->model_mode, "auto") != 0;
	for (int i = 0; i < (pinned ? 1 : w->sel.nrules) && i < AM_SEL_MAX_RULES; i++) {
		int p = am_rl_pool_for_model(w->rl, pinned ? w->model_mode : w->sel.rule[i].model);
		if (p >= 0 && p < np)
			want[p] = true;
	}
	for (int p = 0; p < np; p++) {
		am_rl_pool_stats st;
		am_rl_stats(w->rl, p, now, &st);
		score[p] += st.queue_depth + st.in_flight;
		bool alarm = st.n429 > 0;
		for (int d = 0; d < AM_RL_NDIMS; d++)
			alarm = alarm || st.dim[d].cooldown_until_ns > now;
		if (st.queue_depth || st.in_flight || alarm)
			want[p] = true;
	}
	int n = 0;
	for (int p = 0; p < np && n < max; p++) {
		if (!want[p])
			continue;
		int at = n++;
		while (at > 0 && score[order[at - 1]] < score[p]) {
			order[at] = order[at - 1];
			at--;
		}
		order[at] = p;
	}
	return n;
}

void wk_publish(am_worker *w, int64_t now, bool force)
{
	if (!force && (!w->dirty || now - w->last_snap_mono < SNAPSHOT_PERIOD_MS * AM_NS_PER_MS))
		return;
	am_snapshot s;
	memset(&s, 0, sizeof s);
	s.mono_ns = now;
	s.wall_ns = now_wall(w);
	s.simulator = w->opts.simulator;
	snprintf(s.endpoint, sizeof s.endpoint, "%s", w->endpoint);
	snprintf(s.model_mode, sizeof s.model_mode, "%s", w->model_mode);
	s.paused = w->paused;
	s.queue_depth = w->pending.n + w->retry_list.n + w->limit.n;
	s.in_flight = w->flight.n;
	s.waiting_limit = w->limit.n;
	s.done = (int)w->done;
	s.failed = (int)w->failed;
	int order[AM_SNAP_MAX_POOLS];
	s.npools = pools_that_matter(w, now, order, AM_SNAP_MAX_POOLS);
	for (int i = 0; i < s.npools; i++)
		am_snap_pool_fill(w->rl, order[i], now, &s.pool[i]);
	s.nmodels = w->nmodels;
	memset(&s.total, 0, sizeof s.total);
	snprintf(s.total.model, sizeof s.total.model, "total");
	s.total.price_known = true;
	for (int i = 0; i < w->nmodels; i++) {
		s.model[i] = w->models[i].m;
		s.total.requests += s.model[i].requests;
		s.total.input += s.model[i].input;
		s.total.output += s.model[i].output;
		s.total.cache_write += s.model[i].cache_write;
		s.total.cache_read += s.model[i].cache_read;
		s.total.cost_pusd += s.model[i].cost_pusd;
		s.total.estimated += s.model[i].estimated;
		if (!s.model[i].price_known)
			s.total.price_known = false;
	}
	if (w->cache)
		am_cache_stats(w->cache, &s.cache);
	am_budget_now bn;
	wk_budget_now(w, &bn);
	am_budget_snapshot(w->budget, &bn, &s.budget);
	s.budget.blocked_jobs = w->blocked.n;
	s.ntags = (int)am_tagbudget_top(w->tagb, bn.day, s.tag, AM_SNAP_MAX_TAGS);
	wk_shared_snapshot(w, &s.org);
	pthread_mutex_lock(&w->mu);
	s.seq = w->snap.seq + 1;
	w->snap = s;
	pthread_mutex_unlock(&w->mu);
	am_evq_signal(w->evq);
	w->dirty = false;
	w->last_snap_mono = now;
}

bool wk_idle(am_worker *w)
{
	int inbox;
	pthread_mutex_lock(&w->mu);
	inbox = w->inbox_n;
	pthread_mutex_unlock(&w->mu);
	return !inbox && !w->pending.n && !w->retry_list.n && !w->limit.n && !w->flight.n &&
	       !w->unrecorded.n && !atomic_load(&w->poked);
}

/* Quiet: nothing this worker could do before someone submits, commands or
 * pokes. Paused, only the calls in flight can still move; otherwise blocked
 * jobs must have been tried again since the last settle or limit change,
 * and no ledger write may be waiting for its next try. */
static void update_quiet(am_worker *w, int64_t now)
{
	pthread_mutex_lock(&w->mu);
	w->quiet = !w->inbox_n && !atomic_load(&w->poked) && !w->flight.n && !w->unrecorded.n &&
	           now >= w->db_retry_at &&
	           (w->paused || (!w->pending.n && !w->retry_list.n && !w->limit.n &&
	                          !w->budget_changed));
	w->quiet_paused = w->paused;
	pthread_mutex_unlock(&w->mu);
}

/* What the jobs in the limiter wait for, at most every snapshot period. */
void wk_publish_waiting(am_worker *w, int64_t now)
{
	if (now - w->last_wait_check >= SNAPSHOT_PERIOD_MS * AM_NS_PER_MS) {
		w->last_wait_check = now;
		refresh_waiting(w, now);
	}
}

/* The snapshot and the quiet flag. Bars and the head's wait move with
 * time, not only with events: live while there is work, then once a
 * second while the buckets refill (a minute at most), then not at all. */
void wk_publish_pass(am_worker *w)
{
	int64_t now = now_mono(w);
	if (w->pending.n || w->retry_list.n || w->limit.n || w->flight.n) {
		w->last_busy = now;
		w->dirty = true;
	} else if (now - w->last_busy < REFILL_WINDOW_MS * AM_NS_PER_MS &&
	           now - w->last_snap_mono >= AM_NS_PER_SEC) {
		w->dirty = true;
	}
	wk_publish(w, now, false);
	update_quiet(w, now);
}
