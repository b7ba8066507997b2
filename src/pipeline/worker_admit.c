/* worker_admit: a pending job on its way to a call - the selector picks
 * its model, the cache may answer it, the budget reserves its worst case
 * (or blocks it), and the limiter takes its ticket. */
#include "worker_int.h"

static void to_blocked(am_worker *w, wjob *j, const char *why)
{
	if (j->proxied) {
		wk_proxy_budget_refused(w, j, why);
		return;
	}
	j->st = W_BLOCKED;
	wk_db_update(w, j, AM_JOB_BLOCKED_BUDGET, why, NULL); /* first: it may give j its id */
	jl_insert_by_id(&w->blocked, j);
	wk_event_basic(w, AM_EV_BLOCKED, j, why);
}

static void select_model(am_worker *w, wjob *j, const am_budget_now *bn)
{
	am_sel_input in;
	memset(&in, 0, sizeof in);
	const char *pinned = j->model_req;
	if (!pinned && strcmp(w->model_mode, "auto"))
		pinned = w->model_mode;
	in.model = pinned;
	in.chars = am_sel_body_chars(j->body);
	in.budget_pct = am_budget_used_pct(w->budget, bn);
	in.after_529 = j->after_529;
	am_sel_choice ch;
	am_sel_choose(&w->sel, &in, &ch);
	snprintf(j->model, sizeof j->model, "%s", ch.model);
	snprintf(j->reason, sizeof j->reason, "%s", ch.reason);
}

static int build_wire(am_worker *w, wjob *j, am_err *err)
{
	if (j->proxied)
		return wk_proxy_wire(j, err);
	/* Shallow: the fields set here are the only ones that differ from the
	 * job's body, and nothing below changes a shared value. */
	json_t *b = json_copy(j->body);
	json_object_set_new(b, "model", json_string(j->model));
	if (!json_is_integer(json_object_get(b, "max_tokens")))
		json_object_set_new(b, "max_tokens", json_integer(w->default_max_tokens));
	if (j->stream)
		json_object_set_new(b, "stream", json_true());
	else
		json_object_del(b, "stream");
	free(j->wire);
	j->wire = json_dumps(b, JSON_COMPACT);
	j->cacheable = !j->no_cache && am_cache_key(b, j->key, NULL) == 0;
	json_decref(b);
	if (!j->wire)
		return am_err_set(err, "cannot serialise the request");
	j->wire_len = strlen(j->wire);
	return 0;
}

static void answer_from_cache(am_worker *w, wjob *j, am_cache_answer *a)
{
	wk_proxy_cached(w, j, a); /* a proxied call's client gets it now */
	/* A hit costs nothing and saves what the original call cost. */
	held_answer *h = am_xcalloc(1, sizeof *h);
	snprintf(h->model, sizeof h->model, "%s", a->model);
	h->usage = a->usage;
	h->known = true;
	h->cached = true;
	h->saved = a->cost_pusd;
	h->latency_ms = (now_mono(w) - j->t_submit) / AM_NS_PER_MS;
	h->status = 200;
	snprintf(h->stop_reason, sizeof h->stop_reason, "%s", a->stop_reason);
	h->text = a->text;
	a->text = NULL;
	j->held = h;
	wk_event_basic(w, AM_EV_STARTED, j, NULL);
	wk_land_or_hold(w, j);
}

/* Takes j (already off the pending list) through cache, budget and limiter.
 * Returns false when dispatching must stop for this pass. */
static void dispatch(am_worker *w, wjob *j, const am_budget_now *bn, int64_t now)
{
	am_err err;
	if (j->proxied)
		wk_proxy_select(w, j);
	else if (!j->model[0] || j->after_529)
		select_model(w, j, bn);
	if (build_wire(w, j, &err)) {
		wk_finish_failed(w, j, err.msg);
		return;
	}
	if (j->attempts == 0 && !j->after_529 && !j->proxied)
		wk_event_basic(w, AM_EV_QUEUED, j, NULL);

	if (j->cacheable && w->cache && am_cache_enabled(w->cache)) {
		am_cache_answer a;
		am_cache_result res = AM_CACHE_MISS;
		memset(&a, 0, sizeof a);
		if ((am_cache_get(w->cache, j->key, now_wall(w), &a, &res, &err) == 0 &&
		     res == AM_CACHE_HIT) ||
		    (am_cache_answer_free(&a), wk_shared_cache_get(w, j, &a))) {
			answer_from_cache(w, j, &a);
			am_cache_answer_free(&a);
			return;
		}
	}

	int pool = am_rl_pool_for_model(w->rl, j->model);
	int64_t max_tokens = json_int(j->body, "max_tokens", w->default_max_tokens);
	int64_t est = am_rl_estimate_input(w->rl, j->model, (int64_t)j->wire_len);
	j->est_input = est;
	j->max_tokens = max_tokens;

	if (!j->budget_held) {
		am_budget_estimate be = { .input_tokens = est, .max_tokens = max_tokens,
		                          .cache_writes = strstr(j->wire, "\"cache_control\"") != NULL };
		am_prov_request_billing(j->body, w->bcfg.web_search_uses, &be.fast, &be.web_searches);
		am_budget_cost bc;
		j->priced = wk_resolve_price(w, j->model, &j->price);
		const am_price *p = j->priced ? &j->price : NULL;
		if (am_budget_worst_case(p, am_pricing_most_expensive(w->pricing), &be, &bc, &err)) {
			wk_finish_failed(w, j, err.msg);
			return;
		}
		am_budget_grant g;
		if (am_budget_reserve(w->budget, bn, &bc, &g, &err)) {
			/* The reservation table is full: try again later. */
			j->st = W_PENDING;
			jl_push_front(&w->pending, j);
			return;
		}
		j->tag_blocked = false;
		if (g.verdict != AM_BUDGET_RESERVED) {
			to_blocked(w, j, g.why);
			return;
		}
		/* The same worst case against the tag's own daily limit. */
		am_tagbudget_grant tg;
		if (am_tagbudget_reserve(w->tagb, bn->day, j->tag, g.amount_pusd, &tg, &err) ||
		    tg.blocked) {
			am_budget_cancel(w->budget, g.id, NULL);
			if (!tg.blocked) {
				wk_finish_failed(w, j, err.msg);
				return;
			}
			j->tag_blocked = true;
			to_blocked(w, j, tg.why);
			return;
		}
		j->tag_held = tg.held;
		j->budget_id = g.id;
		j->budget_held = true;
		j->reserved_pusd = g.amount_pusd;
		char why[200];
		int sh = wk_shared_reserve(w, j, bn, why, sizeof why);
		if (sh <= 0) {
			/* Its local reservation goes back unused: no change of
			 * the budget that would send the blocked jobs round again. */
			am_budget_cancel(w->budget, j->budget_id, NULL);
			j->budget_held = false;
			if (sh == 0) {
				to_blocked(w, j, why);
			} else { /* Redis just went away: held until it is back */
				j->st = W_PENDING;
				jl_push_front(&w->pending, j);
			}
			return;
		}
	}

	int64_t cost[AM_RL_NCOST] = { 1, est, max_tokens };
	if (am_rl_ticket_init(w->rl, &j->ticket, pool, cost, j, &err)) {
		wk_finish_failed(w, j, err.msg);
		return;
	}
	int rc = am_rl_acquire(w->rl, &j->ticket, now, &err);
	if (rc < 0) {
		if (j->ticket.code == AM_RL_EFULL) {
			j->st = W_PENDING;
			jl_push_front(&w->pending, j);
			return;
		}
		wk_finish_failed(w, j, err.msg);
		return;
	}
	j->ticket_live = true;
	if (rc == 1 && wk_shared_gating(w)) {
		wk_shared_gate(w, j);
		wk_mark_state(w, j, AM_JOB_WAITING_LIMIT);
	} else if (rc == 1) {
		wk_start_call(w, j);
	} else if (!(j->proxied && wk_proxy_wait_too_long(w, j, now))) {
		j->st = W_LIMIT;
		j->wait_key[0] = '\0';
		jl_push(&w->limit, j);
		wk_mark_state(w, j, AM_JOB_WAITING_LIMIT);
	}
}

static void retry_blocked(am_worker *w, const am_budget_now *bn, int64_t now)
{
	/* Blocked jobs go again in id order; the first that the global budget
	 * still blocks stops the scan (it only grows tighter behind it). One
	 * that its tag's limit blocks does not: jobs of other tags behind it
	 * may fit. Each job is tried once per scan. */
	jlist todo = w->blocked;
	memset(&w->blocked, 0, sizeof w->blocked);
	while (todo.head && !w->paused) {
		wjob *j = jl_pop(&todo);
		int before = w->blocked.n;
		j->st = W_PENDING;
		dispatch(w, j, bn, now);
		/* j may be gone (failed, answered from the cache) unless blocked again. */
		if (w->blocked.n > before && !j->tag_blocked)
			break;
	}
	while (todo.head) {
		wjob *j = jl_pop(&todo);
		jl_insert_by_id(&w->blocked, j);
	}
}

/* While paused, or while the ledger cannot be written, no new call starts. */
bool wk_holding(const am_worker *w, int64_t now)
{
	return w->paused || w->unrecorded.n || now < w->db_retry_at || wk_shared_holding(w);
}

/* Due retries go back to the front, oldest first. */
void wk_requeue_due_retries(am_worker *w, int64_t now)
{
	for (wjob *j = w->retry_list.head, *next; j; j = next) {
		next = j->next;
		if (j->not_before <= now) {
			jl_remove(&w->retry_list, j);
			j->st = W_PENDING;
			jl_insert_by_id(&w->pending, j);
		}
	}
}

/* Pending jobs, oldest first, through selector, cache, budget and into the
 * limiter while fewer than `concurrency` are there or in flight; blocked
 * jobs first when the budget changed. */
void wk_admit(am_worker *w, const am_budget_now *bn, int64_t now)
{
	if (w->budget_changed) {
		w->budget_changed = false;
		retry_blocked(w, bn, now);
	}
	while (w->pending.head && w->limit.n + w->flight.n < w->concurrency &&
	       !wk_holding(w, now)) {
		wjob *j = jl_pop(&w->pending);
		dispatch(w, j, bn, now);
		if (w->pending.head == j)
			break; /* could not go this pass (reservations or queue full) */
	}
}
