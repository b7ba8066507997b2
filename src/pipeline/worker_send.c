/* worker_send: the calls the limiter granted go out through the
 * transport; its headers confirm or calibrate the limiter, a stream's
 * text goes to the observer as it arrives. */
#include "worker_int.h"

static void on_headers(void *ctx, int status, const am_rl_headers *rl)
{
	wjob *j = ctx;
	am_worker *w = j->w;
	int64_t now = now_mono(w);
	/* The server has charged the call once headers arrive. A stream's
	 * headers describe the server at the call's start: calibrate now. A
	 * plain response is calibrated after settling (call_succeeded). */
	if (j->ticket_live && status >= 200 && status < 300) {
		if (j->stream) {
			am_rl_observe(w->rl, &j->ticket, rl, now);
			wk_shared_settle(w, j, NULL, rl, false, now);
		} else {
			am_rl_confirm(w->rl, &j->ticket, now);
		}
	}
}

static void on_text(void *ctx, const char *text, size_t len)
{
	wjob *j = ctx;
	am_event ev;
	memset(&ev, 0, sizeof ev);
	ev.kind = AM_EV_DELTA;
	ev.job_id = j->handle;
	ev.text = am_xstrndup(text, len);
	am_evq_push(j->w->evq, &ev);
}

/* Never send what cannot be recorded: a call goes out only once its job's
 * row is committed (with the rows of the jobs taken before it, in one
 * commit). A ledger that cannot take the row - a full disk, a lock held
 * too long - refuses the call before it is paid for: the job gives its
 * tokens and its reservation back and waits in the queue (in memory) while
 * the worker holds new calls and tries the ledger again; a command that
 * halts on a fatal error says why. False when the call must wait. */
static bool row_committed(am_worker *w, wjob *j, int64_t now)
{
	/* A row may be written and not committed yet: another job's write in
	 * this pass (a budget block, a failure) writes the rows of the jobs
	 * taken before it into the open transaction. Rows stay among the fresh
	 * jobs until their commit, so a job with a row that is not fresh is
	 * committed, whatever else the open transaction holds (the progress
	 * marks of calls already sent need no commit before this one goes). */
	if (j->id && !wk_is_fresh(w, j))
		return true;
	am_err err;
	if (wk_ensure_row(w, NULL, &err) || wk_tx_commit(w, &err)) {
		wk_tx_abort(w);
		wk_db_trouble(w, &err);
		if (j->ticket_live) {
			am_rl_cancel(w->rl, &j->ticket, now);
			j->ticket_live = false;
		}
		wk_shared_settle(w, j, NULL, NULL, true, now); /* never left: all back */
		wk_release_budget(w, j);
		j->st = W_PENDING;
		jl_insert_by_id(&w->pending, j);
		return false;
	}
	wk_db_ok(w);
	return true;
}

void wk_start_call(am_worker *w, wjob *j)
{
	if (j->proxied) {
		wk_proxy_grant(w, j);
		return;
	}
	am_err err;
	int64_t now = now_mono(w);
	/* A row written now is written in flight (write_row); one written
	 * before takes the state as a mark, after the send. */
	bool had_row = j->id != 0;
	j->st = W_FLIGHT;
	if (!row_committed(w, j, now))
		return;
	j->t_sent = now;
	w->sent = true;
	jl_push(&w->flight, j);
	am_rl_sent(w->rl, &j->ticket, now);
	if (had_row)
		wk_mark_state(w, j, AM_JOB_IN_FLIGHT);
	wk_event_basic(w, AM_EV_STARTED, j, NULL);
	am_client_req req;
	memset(&req, 0, sizeof req);
	req.endpoint = AM_PROV_MESSAGES;
	req.body = j->wire;
	req.body_len = j->wire_len;
	req.stream = j->stream;
	am_client_cb cb = { on_headers, on_text, wk_on_call_done, j };
	j->xfer = w->tp.ops->start(w->tp.ctx, &req, &cb, &err);
	if (!j->xfer) {
		jl_remove(&w->flight, j);
		wk_finish_failed(w, j, err.msg);
	}
}

/* A granted job that must not go now: its tokens and its reservation go
 * back, and it waits in the pending list. */
void wk_give_back(am_worker *w, wjob *j, int64_t now)
{
	am_rl_cancel(w->rl, &j->ticket, now);
	j->ticket_live = false;
	wk_release_budget(w, j);
	j->st = W_PENDING;
	jl_insert_by_id(&w->pending, j);
}

/* Starts the calls the limiter granted; while holding, gives their tokens
 * back instead. */
void wk_send_granted(am_worker *w, int64_t now, bool hold)
{
	am_rl_ticket *granted[64];
	int n;
	while ((n = am_rl_poll(w->rl, now, granted, 64)) > 0) {
		for (int i = 0; i < n; i++) {
			wjob *j = granted[i]->user;
			jl_remove(&w->limit, j);
			if (granted[i]->state == AM_RL_ST_GRANTED) {
				if (hold || wk_holding(w, now)) {
					/* Granted while holding (or since: the ledger just
					 * refused a row): give the tokens back and wait. */
					wk_give_back(w, j, now);
					continue;
				}
				if (wk_shared_gating(w))
					wk_shared_gate(w, j);
				else
					wk_start_call(w, j);
			} else {
				j->ticket_live = false;
				char msg[AM_ERR_MAX];
				snprintf(msg, sizeof msg,
				         "the request can never fit the rate limit (it costs more than "
				         "a bucket holds)");
				wk_finish_failed(w, j, msg);
			}
		}
		if (n < 64)
			break;
	}
	wk_shared_send(w, now, hold);
}
