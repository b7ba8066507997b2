/* worker: the pipeline's background thread, and the observers' side.
 *
 * Design note. One thread owns everything that does I/O or holds policy
 * state: its SQLite connection (ledger, queue, cache; through the store),
 * the transport (the libcurl client in production), the limiter, the
 * budget and the selector. Each pass of its loop (loop_pass) reads the
 * clock once and runs the phases in order, each in a file of its own:
 *   tally    (worker_tally.c)   the day, the budget's minute, and what
 *                               other processes recorded on the ledger;
 *   intake   (worker_intake.c)  submissions and commands from the inbox (a
 *                               mutex-guarded list that observers fill
 *                               without waiting for the worker), and jobs
 *                               another connection added;
 *   admit    (worker_admit.c)   due retries back to the front of the
 *                               pending FIFO, then pending jobs in FIFO
 *                               order while fewer than `concurrency` are in
 *                               the limiter or in flight: selector -> cache
 *                               -> budget reservation -> limiter ticket;
 *   send     (worker_send.c)    the calls the limiter granted, out through
 *                               the transport;
 *   record   (worker_record.c)  the pass transaction (new rows, progress
 *                               states), ledger rows with the jobs' final
 *                               states, the cache;
 *   collect  (worker_collect.c) waits for answers until the next limiter
 *                               event, retry, inbox wake-up or snapshot
 *                               tick; a finished call settles the limiter
 *                               and the budget, and is recorded or retried
 *                               (the answers of one wait in one commit);
 *   publish  (worker_publish.c) a snapshot (at most every 100 ms, and only
 *                               when something changed), events, and the
 *                               wake-up of the observer through the event
 *                               queue's fd.
 * worker_jobs.c holds the jobs and their lists, worker_setup.c the start
 * and the end of the thread, worker_int.h what they share.
 * Observers never block on the network or the disk: submit, command,
 * snapshot and drain touch only memory under short locks. */
#include "worker_int.h"

#include "tag.h"

/* halt_on_fatal: ends the loop after this pass; unfinished jobs stay
 * queued in the database for the next run. */
void wk_halt(am_worker *w, const char *why)
{
	if (w->halted)
		return;
	w->halted = true;
	wk_notice(w, "stopped: %s", why);
}

/* One pass of the loop: the clock is read once and `now` passed down. */
static void loop_pass(am_worker *w)
{
	int64_t now = now_mono(w);
	am_budget_now bn;
	wk_tally_tick(w, now, &bn);
	wk_intake(w, now);
	wk_record_unrecorded(w, now);
	bool hold = wk_holding(w, now);
	wk_requeue_due_retries(w, now);
	if (!hold) {
		wk_tx_for_rows(w);
		wk_admit(w, &bn, now);
	}
	wk_send_granted(w, now, hold);
	wk_proxy_tick(w, now);
	wk_record_pass(w);
	wk_publish_waiting(w, now);
	wk_collect(w, now);
	wk_flush_writes(w);
	wk_publish_pass(w);
}

static void *worker_main(void *arg)
{
	am_worker *w = arg;
	am_err err;
	memset(&err, 0, sizeof err);
	int rc = wk_setup(w, &err);
	/* The first snapshot is out before am_worker_start returns, so an
	 * observer never paints an empty one. */
	if (!rc)
		wk_publish(w, now_mono(w), true);
	pthread_mutex_lock(&w->mu);
	w->init_state = rc ? -1 : 1;
	w->init_err = err;
	pthread_cond_broadcast(&w->init_cv);
	pthread_mutex_unlock(&w->mu);
	if (rc) {
		wk_teardown(w);
		atomic_store(&w->finished, true);
		return NULL;
	}
	while (!atomic_load(&w->stop) && !w->halted) {
		loop_pass(w);
		if (w->opts.stop_when_idle && wk_idle(w) && !w->dirty)
			break;
	}
	/* What observers sent before stopping still counts: a cancel must reach
	 * the database (or the job would run at the next start), and a prompt
	 * accepted by submit is persisted as queued, for the next start. */
	wk_take_inbox(w, now_mono(w));
	wk_flush_writes(w);
	if (w->halted) {
		/* Answers that never reached the ledger: their jobs stay queued (in
		 * the database they are still in flight, which recovery re-queues). */
		for (wjob *j = w->unrecorded.head; j; j = j->next) {
			const char *why = "the answer arrived but could not be recorded; the job "
			                  "stays queued";
			am_event ev;
			memset(&ev, 0, sizeof ev);
			ev.kind = AM_EV_FAILED;
			ev.job_id = j->handle;
			snprintf(ev.model, sizeof ev.model, "%s", j->model);
			snprintf(ev.error, sizeof ev.error, "%s", why);
			am_evq_push(w->evq, &ev);
		}
	}
	/* Grace: let calls in flight finish, start nothing new. */
	if (atomic_load(&w->stop) && w->grace_ms > 0) {
		w->paused = true;
		int64_t end = now_mono(w) + (int64_t)w->grace_ms * AM_NS_PER_MS;
		while (w->flight.n && now_mono(w) < end) {
			wk_tp_run(w, 50);
			wk_flush_writes(w); /* not holding the write lock while waiting */
		}
	}
	wk_abandon_flight(w); /* what began is recorded, estimated */
	wk_publish(w, now_mono(w), true);
	wk_teardown(w);
	atomic_store(&w->finished, true);
	am_evq_signal(w->evq);
	return NULL;
}

static json_t *prompt_body(const am_prompt *p, am_err *err)
{
	if (!p || p->nturns < 1 || !p->turns[p->nturns - 1].text)
		return am_err_set(err, "empty prompt"), NULL;
	json_t *msgs = json_array();
	for (int i = 0; i < p->nturns; i++) {
		const char *role = p->turns[i].role ? p->turns[i].role : "user";
		if (strcmp(role, "user") && strcmp(role, "assistant")) {
			json_decref(msgs);
			return am_err_set(err, "bad role '%s'", role), NULL;
		}
		json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", role, "content",
		                                      p->turns[i].text));
	}
	json_t *body = json_object();
	json_object_set_new(body, "messages", msgs);
	if (p->system && *p->system)
		json_object_set_new(body, "system", json_string(p->system));
	if (p->max_tokens > 0)
		json_object_set_new(body, "max_tokens", json_integer(p->max_tokens));
	return body;
}

int wk_inbox_put(am_worker *w, inbox_item *it, am_err *err)
{
	bool proxied = it->kind == IN_PROXY || it->kind == IN_PROXY_DONE || it->kind == IN_PROXY_STOP;
	pthread_mutex_lock(&w->mu);
	if (proxied && (atomic_load(&w->finished) || atomic_load(&w->stop))) {
		pthread_mutex_unlock(&w->mu);
		return am_err_set(err, "the worker has stopped");
	}
	/* A call that reaches the inbox after the proxy's stop would wait for
	 * a refusal already given: refused here, in the same order. */
	if (it->kind == IN_PROXY && w->proxy_closed) {
		pthread_mutex_unlock(&w->mu);
		return am_err_set(err, "aimeter's proxy is stopping");
	}
	if (it->kind == IN_PROXY_STOP)
		w->proxy_closed = true;
	/* A proxied call waits in its client, not in the queue: no capacity. */
	if (it->kind == IN_SUBMIT && w->queue_capacity > 0 &&
	    atomic_load(&w->unfinished) >= w->queue_capacity) {
		pthread_mutex_unlock(&w->mu);
		return am_err_setc(err, AM_E_FULL, "queue is full (%" PRId64 " jobs)", w->queue_capacity);
	}
	if (it->kind == IN_SUBMIT || it->kind == IN_PROXY)
		atomic_fetch_add(&w->unfinished, 1);
	if (w->inbox_tail)
		w->inbox_tail->next = it;
	else
		w->inbox = it;
	w->inbox_tail = it;
	w->inbox_n++;
	w->quiet = false;
	if (w->tp_live)
		w->tp.ops->wakeup(w->tp.ctx);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

static int ops_submit(void *ctx, const am_prompt *p, int64_t *job_id, am_err *err)
{
	am_worker *w = ctx;
	if (atomic_load(&w->finished))
		return am_err_set(err, "the worker has stopped");
	if (am_tag_check(p->tag, err))
		return -1;
	json_t *body = prompt_body(p, err);
	if (!body)
		return -1;
	inbox_item *it = am_xcalloc(1, sizeof *it);
	it->kind = IN_SUBMIT;
	it->handle = atomic_fetch_add(&w->next_handle, 1);
	it->body = body;
	it->model = p->model && *p->model && strcmp(p->model, "auto") ? am_xstrdup(p->model) : NULL;
	it->no_cache = p->no_cache;
	it->stream = p->stream;
	it->tag = p->tag && *p->tag ? am_xstrdup(p->tag) : NULL;
	/* Once in the inbox the item belongs to the worker, which may free it
	 * before wk_inbox_put returns: read the handle first. */
	int64_t handle = it->handle;
	if (wk_inbox_put(w, it, err)) {
		wk_inbox_free(it);
		return -1;
	}
	*job_id = handle;
	return 0;
}

static void ops_snapshot(void *ctx, am_snapshot *out)
{
	am_worker *w = ctx;
	pthread_mutex_lock(&w->mu);
	*out = w->snap;
	pthread_mutex_unlock(&w->mu);
}

static int ops_drain(void *ctx, am_event *out, int max)
{
	am_worker *w = ctx;
	return am_evq_drain(w->evq, out, max);
}

/* A list of names for a message: "a, b, c" (cut with "..." when long). */
static void name_list(char *out, size_t cap, const char *name)
{
	size_t n = strlen(out);
	if (n + 8 >= cap)
		return;
	if (n + strlen(name) + 6 >= cap) {
		snprintf(out + n, cap - n, "%s...", n ? ", " : "");
		return;
	}
	snprintf(out + n, cap - n, "%s%s", n ? ", " : "", name);
}

/* The pools are the limiter's, fixed once the worker has started (before
 * am_worker_start returns, so this thread may read them). */
static int refuse_pool(const am_worker *w, const char *pool, am_err *err)
{
	char names[160] = "";
	for (int i = 0; i < am_rl_npools(w->rl); i++) {
		if (!strcmp(am_rl_pool_name(w->rl, i), pool))
			return 0;
		name_list(names, sizeof names, am_rl_pool_name(w->rl, i));
	}
	return am_err_set(err, "no pool '%s' (the pools: %s)", pool, names);
}

/* A model must be one the price table or the selector knows: a call to any
 * other would fail at the provider, or be charged at an unknown price. */
static int refuse_model(const am_worker *w, const char *model, am_err *err)
{
	if (am_pricing_lookup(w->pricing, model))
		return 0;
	char names[200] = "";
	for (int i = 0; i < w->sel.ntiers; i++) {
		if (!strcmp(w->sel.tier[i].model, model))
			return 0;
		name_list(names, sizeof names, w->sel.tier[i].model);
	}
	for (size_t i = 0; i < am_pricing_count(w->pricing); i++) {
		const char *m = am_pricing_at(w->pricing, i)->model;
		bool tier = false;
		for (int k = 0; k < w->sel.ntiers && !tier; k++)
			tier = !strcmp(w->sel.tier[k].model, m);
		if (!tier)
			name_list(names, sizeof names, m);
	}
	return am_err_set(err, "unknown model '%s': use auto or a known one (%s); a new model "
	                  "needs a price in the pricing file first", model, names);
}

static int ops_command(void *ctx, const am_command *cmd, am_err *err)
{
	am_worker *w = ctx;
	switch (cmd->kind) {
#define SET_DIM_CASE(id, key, label, unit, what) case AM_CMD_SET_##id:
	AM_DIMS(SET_DIM_CASE)
#undef SET_DIM_CASE
		if (cmd->value < 0 || cmd->value > 1000000000000LL)
			return am_err_set(err, "a limit must be between 0 (none) and 10^12 per minute");
		if (cmd->pool[0] && refuse_pool(w, cmd->pool, err))
			return -1;
		break;
	case AM_CMD_SET_BUDGET_DAY:
	case AM_CMD_SET_BUDGET_MONTH:
		if (cmd->value < 0)
			return am_err_set(err, "a budget cannot be negative");
		break;
	case AM_CMD_SET_TAG_BUDGET:
		if (!cmd->text[0])
			return am_err_set(err, "a tag's budget needs the tag");
		if (am_tag_check(cmd->text, err))
			return -1;
		if (cmd->value < 0)
			return am_err_set(err, "a budget cannot be negative");
		break;
	case AM_CMD_SET_ALERT_PCT:
		if (cmd->value < 1 || cmd->value > 100)
			return am_err_set(err, "the alert threshold is a percentage from 1 to 100");
		break;
	case AM_CMD_SET_MODEL:
		if (strcmp(cmd->text, "auto") && refuse_model(w, cmd->text, err))
			return -1;
		break;
	default:
		break;
	}
	inbox_item *it = am_xcalloc(1, sizeof *it);
	it->kind = IN_COMMAND;
	it->cmd = *cmd;
	return wk_inbox_put(w, it, err);
}

static int ops_wake_fd(void *ctx)
{
	am_worker *w = ctx;
	return am_evq_fd(w->evq);
}

/* The selector's configuration and the price table are fixed once the
 * worker has started (as refuse_model relies on); the rest comes from the
 * caller's snapshot. */
static int ops_preview(void *ctx, const am_snapshot *snap, const am_preview_in *in,
                       am_preview *out, am_err *err)
{
	am_worker *w = ctx;
	return am_engine_preview(&w->sel, w->pricing, snap, in, out, err);
}

static int ops_remember(void *ctx, am_memo_kind kind, const char *input,
                        const am_memo_exchange *x, am_err *err)
{
	am_worker *w = ctx;
	if (!w->opts.console_memory)
		return 0;
	inbox_item *it = am_xcalloc(1, sizeof *it);
	it->kind = IN_MEMO;
	it->memo = kind;
	it->input = input ? am_xstrdup(input) : NULL;
	if (x) {
		it->ex = *x;
		it->ex.user = am_xstrdup(x->user ? x->user : "");
		it->ex.assistant = am_xstrdup(x->assistant ? x->assistant : "");
		it->ex.summary = am_xstrdup(x->summary ? x->summary : "");
	}
	if (wk_inbox_put(w, it, err)) {
		wk_inbox_free(it);
		return -1;
	}
	return 0;
}

static bool ops_recall(void *ctx, void (*input)(void *cb, const char *line),
                       void (*exchange)(void *cb, const am_memo_exchange *x), void *cb)
{
	am_worker *w = ctx;
	am_memo m;
	pthread_mutex_lock(&w->mu);
	bool have = w->memo_loaded && (w->memo.ninputs || w->memo.nex);
	m = w->memo;
	memset(&w->memo, 0, sizeof w->memo);
	w->memo_loaded = false;
	pthread_mutex_unlock(&w->mu);
	for (int i = 0; i < m.ninputs; i++)
		input(cb, m.inputs[i]);
	for (int i = 0; i < m.nex; i++)
		exchange(cb, &m.ex[i]);
	am_memo_free(&m);
	return have;
}

am_engine_ops am_worker_ops(am_worker *w)
{
	am_engine_ops ops = { ops_submit, ops_snapshot, ops_drain, ops_command, ops_wake_fd, w,
	                      ops_preview, ops_remember, ops_recall };
	return ops;
}

/* What am_worker_start allocated, once its thread has ended (or never ran). */
static void worker_free(am_worker *w)
{
	if (w->tp.ops) /* given, and the thread never ran */
		w->tp.ops->free(w->tp.ctx);
	if (w->config) {
		am_config_wipe(w->config);
		free(w->config);
	}
	am_evq_free(w->evq);
	am_memo_free(&w->memo); /* never recalled */
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->init_cv);
	memset(w->api_key, 0, sizeof w->api_key);
	free(w);
}

am_worker *am_worker_start(const am_worker_opts *opts, am_err *err)
{
	am_worker *w = am_xcalloc(1, sizeof *w);
	w->opts = *opts;
	w->pricing = opts->pricing;
	w->clock = opts->clock ? opts->clock : am_clock_system();
	snprintf(w->db_path, sizeof w->db_path, "%s", opts->db_path);
	snprintf(w->base_url, sizeof w->base_url, "%s",
	         opts->base_url && *opts->base_url ? opts->base_url : AM_PROV_DEFAULT_BASE_URL);
	snprintf(w->api_key, sizeof w->api_key, "%s", opts->api_key ? opts->api_key : "");
	const char *host = strstr(w->base_url, "://");
	snprintf(w->endpoint, sizeof w->endpoint, "%s", host ? host + 3 : w->base_url);
	w->queue_capacity = opts->config->worker.queue_capacity;
	w->rng = (uint64_t)am_clock_mono(w->clock) | 1;
	atomic_init(&w->next_handle, 1);
	atomic_init(&w->unfinished, 0);
	atomic_init(&w->stop, false);
	atomic_init(&w->finished, false);
	atomic_init(&w->poked, false);
	w->opts.config = NULL; /* the caller's may go away: worker_init reads our copy */
	if (opts->owner)
		w->owner = *opts->owner;
	else
		am_owner_self(&w->owner);
	if (!w->owner.kind) /* what jobs.source says of its submissions */
		w->owner.kind = opts->source ? opts->source : "console";
	w->opts.owner = NULL;
	w->tp = opts->transport;
	w->tp_live = w->tp.ops != NULL;
	memset(&w->opts.transport, 0, sizeof w->opts.transport);
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->init_cv, NULL);
	w->evq = am_evq_new(4096, err);
	if (!w->evq)
		goto fail;
	/* The config is copied now: the caller's may go away after we return. */
	w->config = am_xmalloc(sizeof *w->config);
	*w->config = *opts->config;
	if (pthread_create(&w->thread, NULL, worker_main, w)) {
		am_err_set(err, "cannot start the worker thread");
		goto fail;
	}
	pthread_mutex_lock(&w->mu);
	while (w->init_state == 0)
		pthread_cond_wait(&w->init_cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
	if (w->init_state < 0) {
		if (err)
			*err = w->init_err;
		pthread_join(w->thread, NULL);
		goto fail;
	}
	return w;
fail:
	worker_free(w);
	return NULL;
}

static void wake_worker(am_worker *w)
{
	pthread_mutex_lock(&w->mu);
	if (w->tp_live)
		w->tp.ops->wakeup(w->tp.ctx);
	pthread_mutex_unlock(&w->mu);
}

void am_worker_poke(am_worker *w)
{
	pthread_mutex_lock(&w->mu);
	atomic_store(&w->poked, true);
	w->quiet = false;
	if (w->tp_live)
		w->tp.ops->wakeup(w->tp.ctx);
	pthread_mutex_unlock(&w->mu);
}

bool am_worker_quiet(am_worker *w, bool *paused)
{
	pthread_mutex_lock(&w->mu);
	bool q = w->quiet || atomic_load(&w->finished);
	if (paused)
		*paused = w->quiet_paused;
	pthread_mutex_unlock(&w->mu);
	return q;
}

bool am_worker_finished(am_worker *w)
{
	return atomic_load(&w->finished);
}

void am_worker_stop(am_worker *w, int grace_ms)
{
	if (!w)
		return;
	w->grace_ms = grace_ms;
	atomic_store(&w->stop, true);
	wake_worker(w);
	pthread_join(w->thread, NULL);
	pthread_mutex_lock(&w->mu);
	for (inbox_item *it = w->inbox, *next; it; it = next) {
		next = it->next;
		wk_inbox_free(it);
	}
	pthread_mutex_unlock(&w->mu);
	worker_free(w);
}
