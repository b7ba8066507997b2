/* worker_collect: answers come back - the wait for them, and each
 * outcome: a success settles the limiter and the budget and is recorded;
 * a failure is retried (after a backoff, or through the limiter after a
 * 429) or ends the job, and an error that every call would hit pauses the
 * worker or halts the loop. */
#include "worker_int.h"

static bool counts_cache_reads(const char *model)
{
	/* Claude Haiku 3.5 is the one model whose cache reads count toward ITPM. */
	return model && strstr(model, "3-5-haiku") != NULL;
}

/* Settles the call's ticket at the usage it reported; at what it reserved
 * when that usage is suspect (no debt of a trillion tokens, no refund). */
static void settle_limiter(am_worker *w, wjob *j, const am_prov_result *r, bool suspect,
                           int64_t now)
{
	int64_t in = r->usage.input_tokens + r->usage.cache_write_5m + r->usage.cache_write_1h;
	if (counts_cache_reads(r->model))
		in += r->usage.cache_read;
	int64_t actual[AM_RL_NCOST] = { 1, in, r->usage.output_tokens };
	if (suspect) {
		actual[1] = j->est_input;
		actual[2] = j->max_tokens;
	}
	am_rl_settle(w->rl, &j->ticket, actual, now);
	if (!j->stream)
		am_rl_observe(w->rl, &j->ticket, &r->rl, now); /* settled: calibrates only */
	wk_shared_settle(w, j, actual, j->stream ? NULL : &r->rl, true, now);
	j->ticket_live = false;
	if (!suspect)
		am_rl_learn_input(w->rl, j->model, (int64_t)j->wire_len,
		                  am_usage_total_input(&r->usage));
}

/* An answer whose usage cannot be trusted - a figure out of bounds, not an
 * integer or missing (the parser says which), or a cost past int64 - is
 * recorded with the usage its reservation assumed, its price not claimed
 * as known (so reports never show it exact, and the budget charges it at
 * the dearest known price after a restart), and charged now at the larger
 * of its reservation and that usage's cost. */
static int64_t suspect_cost(am_worker *w, wjob *j, am_usage *u)
{
	memset(u, 0, sizeof *u);
	u->input_tokens = j->est_input;
	u->output_tokens = j->max_tokens;
	int64_t c = 0;
	const am_price *dear = am_pricing_most_expensive(w->pricing);
	if (!dear || am_cost(dear, u, false, &c, NULL))
		c = INT64_MAX / 4;
	return j->budget_held && j->reserved_pusd > c ? j->reserved_pusd : c;
}

/* An answer arrived: complete (cut NULL), or cut short after message_start
 * (worker_cut.c) with cut saying why and the job ending in `end`. */
void wk_call_succeeded(am_worker *w, wjob *j, am_prov_result *r, int64_t now, const char *cut,
                       am_job_state end)
{
	const char *model = r->model[0] ? r->model : j->model;
	bool known = false;
	int64_t cost = r->usage_suspect ? -1 : wk_price_answer(w, j, model, &r->usage, &known);
	char suspect[128] = "";
	if (cost < 0) {
		snprintf(suspect, sizeof suspect, "suspect usage from the server: %s",
		         r->usage_suspect ? r->usage_why : "its cost exceeds the int64 range");
		cost = suspect_cost(w, j, &r->usage);
		known = false;
		char usd[48];
		am_money_format(cost, usd, sizeof usd);
		wk_notice(w, "job %" PRId64 ": %s; charged $%s against the budget, not as exact", j->id,
		          suspect, usd);
	}
	settle_limiter(w, j, r, suspect[0] != '\0', now);
	am_budget_now bn;
	wk_budget_now(w, &bn);
	if (j->budget_held) {
		int64_t over = 0;
		am_budget_alerts al;
		memset(&al, 0, sizeof al);
		am_budget_settle(w->budget, &bn, j->budget_id, cost, &over, &al, NULL);
		j->budget_held = false;
		w->budget_changed = true;
		if (over > 0) {
			char m[32];
			am_money_format(over, m, sizeof m);
			wk_notice(w, "job %" PRId64 " cost $%s more than its reservation", j->id,
			          m);
		}
		wk_fire_alerts(w, &al);
	}
	if (j->tag) {
		am_err terr;
		if (am_tagbudget_settle(w->tagb, bn.day, j->tag, j->tag_held ? j->reserved_pusd : 0,
		                        cost, &terr))
			wk_notice(w, "job %" PRId64 ": %s", j->id, terr.msg);
		j->tag_held = false;
	}
	wk_shared_settled(w, j, now);
	held_answer *h = am_xcalloc(1, sizeof *h);
	snprintf(h->model, sizeof h->model, "%s", model);
	h->usage = r->usage;
	h->known = known;
	h->cost = cost;
	h->latency_ms = r->latency_ns / AM_NS_PER_MS;
	h->status = r->http_status;
	snprintf(h->request_id, sizeof h->request_id, "%s", r->request_id);
	snprintf(h->stop_reason, sizeof h->stop_reason, "%s", r->stop_reason);
	snprintf(h->suspect, sizeof h->suspect, "%s", suspect);
	h->text = r->text;
	r->text = NULL;
	if (cut) {
		h->estimated = true;
		h->end = end;
		snprintf(h->error, sizeof h->error, "%s", cut);
	}
	j->held = h;
	jl_push(&w->arrived, j); /* recorded with the others of its delivery */
}

static bool final_stops_everything(am_prov_errkind k)
{
	return k == AM_PERR_AUTH || k == AM_PERR_SPEND_LIMIT || k == AM_PERR_USER_SPEND_LIMIT ||
	       k == AM_PERR_BILLING || k == AM_PERR_SETUP;
}

/* A uniform number in [0, 1) for backoff jitter (xorshift64*, worker-owned). */
static double jitter01(am_worker *w)
{
	uint64_t x = w->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	w->rng = x;
	return (double)((x * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

static void call_failed(am_worker *w, wjob *j, am_prov_result *r, int64_t now)
{
	char msg[256];
	am_prov_describe(r, msg, sizeof msg);

	j->attempts++;
	bool retry = am_prov_retry_should(&w->retry, j->attempts, r);
	if (!retry) {
		if (final_stops_everything(r->err) && w->opts.halt_on_fatal) {
			wk_halt(w, msg);
		} else if (final_stops_everything(r->err) && !w->paused) {
			w->paused = true;
			wk_notice(
			    w, "paused: %s — every further call would fail; fix it, then /resume",
			    r->message);
		}
		if (j->ticket_live) {
			am_rl_cancel(w->rl, &j->ticket, now);
			j->ticket_live = false;
		}
		j->sgrant_live = false; /* it may have been charged: nothing back */
		wk_finish_failed(w, j, msg);
		return;
	}
	wk_db_update(w, j, AM_JOB_QUEUED, msg, NULL);
	if (r->err == AM_PERR_RATE_LIMIT) {
		/* The limiter pauses that pool dimension and puts the ticket back at
		 * the head of its queue; the budget reservation stays. */
		am_rl_on_429(w->rl, &j->ticket, &r->rl, am_rl_dim_from_message(r->message), now);
		wk_shared_on_429(w, j, &r->rl, am_rl_dim_from_message(r->message), now);
		j->st = W_LIMIT;
		jl_push(&w->limit, j);
		char why[96];
		wk_limit_wait_reason(w, j->ticket.pool, now, why, sizeof why, j->wait_key,
		                     sizeof j->wait_key);
		wk_event_basic(w, AM_EV_WAITING, j, why[0] ? why : "a retry after a 429");
		return;
	}
	if (r->err == AM_PERR_OVERLOADED || r->err == AM_PERR_SERVER) {
		am_rl_on_overload(w->rl, &j->ticket, now);
		if (r->err == AM_PERR_OVERLOADED && w->sel.fallback_model[0])
			j->after_529 = true;
	} else {
		am_rl_cancel(w->rl, &j->ticket, now);
	}
	j->ticket_live = false;
	j->sgrant_live = false;
	wk_release_budget(w, j);
	int64_t delay = am_prov_retry_delay(&w->retry, j->attempts, &r->rl, jitter01(w));
	j->not_before = now + delay;
	j->st = W_RETRY;
	jl_push(&w->retry_list, j);
	wk_emit_retry(w, j, delay, msg);
}

/* Called by the client on the worker thread (from am_client_run). */
void wk_on_call_done(void *ctx, am_prov_result *r)
{
	wjob *j = ctx;
	am_worker *w = j->w;
	int64_t now = now_mono(w);
	j->xfer = 0;
	if (w->tearing_down)
		return;
	jl_remove(&w->flight, j);
	if (wk_cut_short(j, r)) {
		/* Billed from message_start on: recorded as estimated, and ended. */
		bool cancelled = j->cancelling || r->err == AM_PERR_CANCELLED;
		char msg[256];
		if (cancelled)
			snprintf(msg, sizeof msg, "cancelled after the answer began");
		else
			am_prov_describe(r, msg, sizeof msg);
		wk_estimate_cut(j, r);
		wk_call_succeeded(w, j, r, now, msg, cancelled ? AM_JOB_CANCELLED : AM_JOB_FAILED);
		return;
	}
	if (w->abandoning && !j->cancelling)
		return; /* not begun, nothing billed: teardown re-queues it */
	if (j->cancelling || r->err == AM_PERR_CANCELLED) {
		j->st = W_FINISHED;
		if (j->ticket_live) {
			am_rl_cancel(w->rl, &j->ticket, now);
			j->ticket_live = false;
		}
		wk_release_budget(w, j);
		wk_db_update(w, j, AM_JOB_CANCELLED, "cancelled", NULL);
		wk_event_basic(w, AM_EV_CANCELLED, j, NULL);
		wk_free_job(w, j);
		return;
	}
	if (r->err == AM_PERR_NONE)
		wk_call_succeeded(w, j, r, now, NULL, AM_JOB_DONE);
	else
		call_failed(w, j, r, now);
}

/* Waits for answers until the next thing that needs the loop (a limiter
 * grant, a retry, the ledger's next try, the snapshot), at most
 * MAX_TICK_MS; the transport reports what finished (on_call_done). */
void wk_collect(am_worker *w, int64_t now)
{
	int64_t next = am_rl_next_event_ns(w->rl, now);
	int64_t shared_next = wk_shared_next_event(w);
	if (shared_next < next)
		next = shared_next;
	for (wjob *j = w->retry_list.head; j; j = j->next)
		if (j->not_before < next)
			next = j->not_before;
	if (w->db_retry_at > now && w->db_retry_at < next)
		next = w->db_retry_at;
	int64_t px = wk_proxy_next_deadline(w);
	if (px < next)
		next = px;
	int64_t wait_ms = next == INT64_MAX ? MAX_TICK_MS : (next - now) / AM_NS_PER_MS + 1;
	if (w->dirty) {
		int64_t snap_due = SNAPSHOT_PERIOD_MS - (now - w->last_snap_mono) / AM_NS_PER_MS;
		if (snap_due < wait_ms)
			wait_ms = snap_due;
	}
	if (wait_ms < 0)
		wait_ms = 0;
	if (wait_ms > MAX_TICK_MS)
		wait_ms = MAX_TICK_MS;
	wk_tp_run(w, (int)wait_ms);
}
