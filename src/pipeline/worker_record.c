/* worker_record: what reaches the database - the pass transaction (the
 * rows of new jobs and their progress states), the ledger row of each
 * answer with its job's final state, answers held while the ledger cannot
 * be written, and the cache. */
#include "worker_int.h"

/* A ledger write failed. New calls wait DB_RETRY_MS (each would want a
 * write too); a batch gives up after DB_GIVE_UP rounds, a retry period
 * apart, that all failed (failures within one round count once). */
void wk_db_trouble(am_worker *w, const am_err *err)
{
	if (w->tearing_down)
		return;
	int64_t now = now_mono(w);
	if (now < w->db_retry_at)
		return; /* the same round of writes as the last failure */
	w->db_fails++;
	w->db_retry_at = now + (int64_t)DB_RETRY_MS * AM_NS_PER_MS;
	if (w->db_fails == 1)
		wk_notice(w, "ledger: %s — no new calls until it can be written", err->msg);
	if (w->opts.halt_on_fatal && w->db_fails >= DB_GIVE_UP) {
		char why[AM_ERR_MAX + 64];
		snprintf(why, sizeof why, "the ledger cannot be written: %s", err->msg);
		wk_halt(w, why);
	}
}

void wk_db_ok(am_worker *w)
{
	if (!w->db_fails)
		return;
	w->db_fails = 0;
	w->db_retry_at = 0;
	wk_notice(w, "ledger: writable again");
}

/* ---- the pass transaction ------------------------------------------------
 *
 * A prompt taken from the inbox becomes a job in memory at once. Its row
 * is committed before its call goes out (wk_start_call: one commit for the
 * rows of every job taken so far), so a call is never paid for without a
 * row to record it against; a ledger that cannot take the row holds the
 * call back instead. The progress states of the pass (marks) and the rows
 * of jobs that wait (for the limiter, the budget) go in one transaction at
 * the end of the pass.
 *
 * A write about a job that has no row yet writes the row first, in the
 * same transaction (ensure_row): a cache hit's ledger row, a failure, a
 * budget block. When a commit fails, or SQLite rolls a transaction back
 * after an error, the rows written in it are gone: those jobs go back to
 * id 0 and are written again later, never under an id that SQLite may
 * hand out again. Invariant: a job with id 0 is in fresh. */

void wk_fresh_add(am_worker *w, wjob *j)
{
	if (w->nfresh == w->fresh_cap) {
		w->fresh_cap = w->fresh_cap ? 2 * w->fresh_cap : 64;
		w->fresh = am_xrealloc(w->fresh, (size_t)w->fresh_cap * sizeof *w->fresh);
	}
	w->fresh[w->nfresh++] = j;
}

/* Keeps the order: rows are written in submit order, so job ids follow it. */
void wk_fresh_forget(am_worker *w, const wjob *j)
{
	for (int i = 0; i < w->nfresh; i++)
		if (w->fresh[i] == j) {
			memmove(&w->fresh[i], &w->fresh[i + 1],
			        (size_t)(w->nfresh - i - 1) * sizeof *w->fresh);
			w->nfresh--;
			return;
		}
}

static int tx_begin(am_worker *w, am_err *err)
{
	if (w->tx_open)
		return 0;
	if (am_ledger_begin(w->ledger, err))
		return -1;
	w->tx_open = true;
	return 0;
}

/* The open transaction is gone (rolled back), and the rows written in it.
 * Marks of those jobs go too, as their ids may be handed out again. */
static void tx_lost(am_worker *w)
{
	for (int i = 0; i < w->nfresh; i++) {
		int64_t id = w->fresh[i]->id;
		if (!id)
			continue;
		for (int k = 0; k < w->nmarks;)
			if (w->marks[k].id == id)
				w->marks[k] = w->marks[--w->nmarks];
			else
				k++;
		w->fresh[i]->id = 0;
	}
	w->tx_open = false;
}

void wk_tx_abort(am_worker *w)
{
	if (!w->tx_open)
		return;
	am_ledger_rollback(w->ledger);
	tx_lost(w);
}

/* After a failed statement inside the transaction: SQLite may have rolled
 * it back by itself (disk full, I/O error). */
static void tx_check(am_worker *w)
{
	if (w->tx_open && !am_ledger_in_transaction(w->ledger))
		tx_lost(w);
}

/* New jobs get their rows in this pass (before their calls, or at its
 * end): the pass transaction opens now, so that what admitting them reads
 * (the cache) is read inside it rather than in a transaction of its own.
 * A ledger that refuses is dealt with where the rows are written. */
void wk_tx_for_rows(am_worker *w)
{
	am_err err;
	if (w->nfresh && !w->tx_open)
		tx_begin(w, &err);
}

bool wk_is_fresh(const am_worker *w, const wjob *j)
{
	for (int i = 0; i < w->nfresh; i++)
		if (w->fresh[i] == j)
			return true;
	return false;
}

/* Writes j's row in the state it has reached (with its model and reason),
 * in one statement: no mark to follow. */
static int write_row(am_worker *w, wjob *j, am_err *err)
{
	char *req = json_dumps(j->body, JSON_COMPACT);
	if (!req)
		return am_err_set(err, "cannot serialise the request");
	am_job_state st = j->st == W_FLIGHT ? AM_JOB_IN_FLIGHT
	                  : j->st == W_LIMIT ? AM_JOB_WAITING_LIMIT
	                                     : AM_JOB_QUEUED;
	int64_t id = 0;
	am_queue_stmts_tag(w->qs, j->tag);
	int rc = am_queue_add_in_s(w->qs, w->owner.id, req, j->model_req, st,
	                           j->model[0] ? j->model : NULL, j->reason[0] ? j->reason : NULL,
	                           now_wall(w), &id, err);
	am_queue_stmts_tag(w->qs, NULL);
	free(req);
	if (rc < 0) {
		tx_check(w);
		return -1;
	}
	j->id = id;
	return 0;
}

/* Gives j a row if it has none, in the open transaction (opened if need
 * be; the pass commits it): the rows of the jobs taken before j first, so
 * that ids keep the order of submission. j == NULL: every fresh job. */
int wk_ensure_row(am_worker *w, wjob *j, am_err *err)
{
	if (j ? j->id != 0 : !w->nfresh)
		return 0;
	if (tx_begin(w, err))
		return -1;
	for (int i = 0; i < w->nfresh; i++) {
		wjob *k = w->fresh[i];
		if (!k->id && write_row(w, k, err))
			return -1;
		if (k == j)
			return 0;
	}
	return 0;
}

/* Writes the progress states noted since the last flush (see marks) into
 * the open transaction. A job that has since ended keeps its final state:
 * the update only moves jobs that are still unfinished. */
static int write_marks(am_worker *w, am_err *err)
{
	int64_t wall = now_wall(w);
	for (int i = 0; i < w->nmarks; i++) {
		struct state_mark *m = &w->marks[i];
		if (am_job_marks_write(w->jm, m->id, m->st, m->model[0] ? m->model : NULL,
		                       m->reason[0] ? m->reason : NULL, wall, err))
			return -1;
	}
	return 0;
}

/* Commits the open transaction with the pending marks. A mark that cannot
 * be written fails the commit (the transaction is rolled back, never
 * committed without it). On failure the marks of jobs that kept their rows
 * stay for the next flush. */
int wk_tx_commit(am_worker *w, am_err *err)
{
	if (!w->tx_open)
		return 0;
	if (write_marks(w, err)) {
		wk_tx_abort(w);
		return -1;
	}
	tx_check(w);
	if (!w->tx_open)
		return am_err_set(err, "ledger %s: the transaction was rolled back", w->db_path);
	if (am_ledger_commit(w->ledger, err)) {
		tx_lost(w);
		return -1;
	}
	w->tx_open = false;
	w->nmarks = 0;
	int keep = 0;
	for (int i = 0; i < w->nfresh; i++)
		if (!w->fresh[i]->id)
			w->fresh[keep++] = w->fresh[i];
	w->nfresh = keep;
	return 0;
}

void wk_db_update(am_worker *w, wjob *j, am_job_state st, const char *error, const char *result)
{
	if (j->proxied)
		return; /* no jobs row: its ledger row is its record */
	am_err err;
	if (wk_ensure_row(w, j, &err) ||
	    am_queue_update_s(w->qs, j->id, st, j->model[0] ? j->model : NULL,
	                      j->reason[0] ? j->reason : NULL, error, result, j->attempts,
	                      now_wall(w), &err)) {
		tx_check(w);
		wk_db_trouble(w, &err);
	} else {
		wk_db_ok(w);
	}
}

/* Writes what the pass has to write: the rows of new jobs (with the state
 * each has reached), the marks, anything already in the open transaction;
 * one commit. */
void wk_flush_writes(am_worker *w)
{
	bool rows = w->nfresh && now_mono(w) >= w->db_retry_at;
	if (!w->nmarks && !w->tx_open && !rows)
		return;
	am_err err;
	if (tx_begin(w, &err)) {
		/* Not now (locked, full): the states catch up at the next flush. */
		if (w->nmarks == MAX_MARKS)
			w->nmarks = 0;
		if (rows)
			wk_db_trouble(w, &err);
		return;
	}
	if (rows)
		wk_ensure_row(w, NULL, &err); /* a failure shows in the commit */
	if (wk_tx_commit(w, &err))
		wk_db_trouble(w, &err);
	else
		wk_db_ok(w);
}

void wk_mark_state(am_worker *w, wjob *j, am_job_state st)
{
	if (!j->id)
		return; /* no row yet: the row it gets carries the state then */
	if (w->nmarks == MAX_MARKS && w->tx_open) {
		/* Into the open transaction, which commits them. */
		am_err err;
		if (write_marks(w, &err)) {
			wk_tx_abort(w);
			wk_db_trouble(w, &err);
		} else {
			w->nmarks = 0;
		}
	}
	if (w->nmarks == MAX_MARKS)
		wk_flush_writes(w);
	if (w->nmarks == MAX_MARKS)
		return; /* the database is not taking writes: the state is only shown */
	struct state_mark *m = &w->marks[w->nmarks++];
	m->id = j->id;
	m->st = st;
	snprintf(m->model, sizeof m->model, "%s", j->model);
	snprintf(m->reason, sizeof m->reason, "%s", j->reason);
}

void wk_finish_failed(am_worker *w, wjob *j, const char *error)
{
	if (j->px) {
		wk_proxy_refuse(w, j, 400, "invalid_request_error", 0, "%s", error);
		return;
	}
	int64_t now = now_mono(w);
	if (j->ticket_live) {
		am_rl_cancel(w->rl, &j->ticket, now);
		j->ticket_live = false;
	}
	wk_release_budget(w, j);
	j->st = W_FINISHED;
	wk_db_update(w, j, AM_JOB_FAILED, error, NULL);
	am_log_write(w->log, now_wall(w), "job %" PRId64 " failed (%s): %s", j->id,
	             j->model[0] ? j->model : "no model", error);
	am_event ev;
	wk_event_init(&ev, AM_EV_FAILED, j);
	snprintf(ev.error, sizeof ev.error, "%s", error);
	am_evq_push(w->evq, &ev);
	w->failed++;
	w->dirty = true;
	wk_free_job(w, j);
}

/* Writes the ledger row of j's held answer (a finished call or a cache hit)
 * into the open transaction (opened if need be), and with it the job's
 * final state and answer when its answer is its output (a batch's). The
 * ledger row is what makes a job done (recovery and scan_db go by it), so
 * any other job takes its "done" a moment later (see land_recorded). The
 * row's id, once committed, is j->ledger_row (0 when the ledger had it
 * already). On failure nothing of j's answer is in the transaction, which
 * stays open (with what others wrote in it) unless the ledger could not
 * be written at all. */
static int record_row(am_worker *w, wjob *j, am_err *err)
{
	const held_answer *h = j->held;
	am_ledger_event ev;
	memset(&ev, 0, sizeof ev);
	ev.job_id = j->id;
	ev.ts_ns = now_wall(w);
	ev.model_requested = j->model_req ? j->model_req : j->model;
	/* The built-in simulator's answers are not spend: their rows name the
	 * model as "simulated:<model>", so every report (by model) keeps them
	 * apart from real calls. */
	char sim_model[AM_PROV_MODEL_MAX + 16];
	snprintf(sim_model, sizeof sim_model, "%s%s", AM_LEDGER_SIMULATED, h->model);
	ev.model = w->opts.simulator ? sim_model : h->model;
	ev.reason = j->reason;
	ev.usage = h->usage;
	ev.price_known = h->known;
	ev.cost_pusd = h->known ? h->cost : 0;
	ev.cached = h->cached;
	ev.saved_pusd = h->saved;
	ev.latency_ms = h->latency_ms;
	ev.http_status = h->status;
	ev.request_id = h->cached ? NULL : h->request_id;
	ev.error = h->suspect[0] ? h->suspect : NULL;
	ev.source = j->source;
	ev.tag = j->tag;
	ev.key_hint = j->key_hint[0] ? j->key_hint : NULL;
	ev.estimated = h->estimated;
	j->ledger_row = 0;
	if (j->proxied) /* its row was written when the call was granted */
		return wk_proxy_record(w, j, &ev, err);
	if (tx_begin(w, err) || wk_ensure_row(w, j, err))
		return -1;
	ev.job_id = j->id;
	int added = am_ledger_record(w->ledger, &ev, err);
	if (added < 0) {
		tx_check(w); /* its savepoint is undone: nothing of the row stays */
		return -1;
	}
	if (j->answer_is_output &&
	    am_queue_update_s(w->qs, j->id, ev.estimated ? h->end : AM_JOB_DONE, j->model, j->reason,
	                      ev.estimated ? h->error : NULL, h->text ? h->text : "", j->attempts,
	                      ev.ts_ns, err)) {
		wk_tx_abort(w); /* the ledger row without the output: neither */
		return -1;
	}
	if (added)
		j->ledger_row = am_spend_last_row(w->ledger);
	return 0;
}

/* The cache keeps an answer's text only, so only answers that are all text
 * can be replayed: a tool call (tool_use) or a paused turn cannot. An answer
 * cut at max_tokens or at a stop sequence is the whole answer to that
 * request, whose key includes both. */
static bool text_answer(const char *stop_reason)
{
	return !strcmp(stop_reason, "end_turn") || !strcmp(stop_reason, "max_tokens") ||
	       !strcmp(stop_reason, "stop_sequence");
}

static void land_recorded(am_worker *w, wjob *j);

/* Records j's held answer and the job's end, then tells the observers.
 * Returns false, keeping everything, when the ledger cannot be written:
 * the caller parks the job on the unrecorded list and the loop tries again
 * (an answer that was paid for is not thrown away while the process lives;
 * if it dies first, recovery re-queues the job, which has no ledger row). */
static bool land(am_worker *w, wjob *j)
{
	am_err err;
	if (record_row(w, j, &err) || wk_tx_commit(w, &err)) {
		wk_db_trouble(w, &err);
		return false;
	}
	wk_db_ok(w);
	land_recorded(w, j);
	return true;
}

/* j's ledger row is committed: the totals, the observers, then the rest.
 * A batch job's answer is its output, read back from the job's row: it
 * landed with the ledger row. Anyone else's is told now; its row takes
 * "done" and the text right after the observer hears, out of the answer's
 * way (a crash between the two leaves the row without the text, and done
 * by its ledger row). */
static void land_recorded(am_worker *w, wjob *j)
{
	held_answer *h = j->held;
	am_err err;
	if (j->ledger_row)
		wk_own_row(w, j->ledger_row); /* only once committed: a rolled-back id may be reused */
	wk_count_model(w, h->model, &h->usage, h->known, h->cost);
	if (h->estimated)
		wk_model_slot(w, h->model)->m.estimated++;
	/* A stream's text went out as it arrived. The whole text rides with
	 * the done event's wake, pushed next (one wake-up of the observer). */
	if ((h->cached || !j->stream) && h->text && *h->text && !j->proxied) {
		am_event ev;
		wk_event_init(&ev, AM_EV_DELTA, j);
		ev.text = am_xstrdup(h->text);
		am_evq_push_lazy(w->evq, &ev);
	}
	wk_emit_done(w, j, h->model, &h->usage, h->known, h->cost, h->cached, h->latency_ms,
	             h->status, h->suspect);
	/* The observer has heard; the rest can follow, in the transaction the
	 * loop commits after this round of answers (one commit for all). */
	am_err terr;
	bool tx = tx_begin(w, &terr) == 0;
	if (!j->answer_is_output) {
		if (tx)
			wk_db_update(w, j, h->estimated ? h->end : AM_JOB_DONE,
			             h->estimated ? h->error : NULL, h->text ? h->text : "");
		else
			wk_db_trouble(w, &terr);
	}
	if (!h->cached && j->cacheable && w->cache && text_answer(h->stop_reason)) {
		am_cache_answer a;
		memset(&a, 0, sizeof a);
		snprintf(a.model, sizeof a.model, "%s", h->model);
		snprintf(a.stop_reason, sizeof a.stop_reason, "%s", h->stop_reason);
		a.text = h->text ? h->text : (char *)"";
		a.usage = h->usage;
		a.cost_pusd = h->known ? h->cost : 0;
		if (am_cache_put(w->cache, j->key, &a, now_wall(w), NULL, &err))
			wk_notice(w, "cache: %s", err.msg);
		if (am_cache_enabled(w->cache))
			wk_shared_cache_put(w, j, &a);
	}
	j->st = W_FINISHED;
	wk_free_job(w, j);
}

static void hold_unrecorded(am_worker *w, wjob *j)
{
	j->st = W_UNRECORDED;
	jl_push(&w->unrecorded, j);
}

void wk_land_or_hold(am_worker *w, wjob *j)
{
	if (!land(w, j))
		hold_unrecorded(w, j);
}

/* The answers of one transport run: their ledger rows go in one commit
 * (the calls of a batch come back together, and a commit costs more than
 * a row), then each lands as land() does after its commit. An answer whose
 * row is refused while the ledger can still be written waits alone: the
 * rows before it are committed and the rest go on. When the ledger cannot
 * be written at all (locked past the busy timeout, the disk full), they
 * all wait on the unrecorded list, after one wait for the lock rather than
 * one each. */
void wk_land_arrived(am_worker *w)
{
	while (w->arrived.n) {
		am_err err, cerr;
		wjob *bad = NULL;
		int n = 0;
		for (wjob *j = w->arrived.head; j && !bad; j = j->next)
			if (record_row(w, j, &err))
				bad = j;
			else
				n++;
		bool live = w->tx_open; /* else the rows written are gone with it */
		if (!live || wk_tx_commit(w, &cerr)) {
			wk_db_trouble(w, live ? &cerr : &err);
			for (wjob *j; (j = jl_pop(&w->arrived));)
				hold_unrecorded(w, j);
			return;
		}
		for (int i = 0; i < n; i++)
			land_recorded(w, jl_pop(&w->arrived));
		if (!bad) {
			wk_db_ok(w);
			return;
		}
		wk_db_trouble(w, &err);
		hold_unrecorded(w, jl_pop(&w->arrived));
	}
}

/* Runs the transport for up to timeout_ms; the answers it delivers are
 * recorded when it returns (wk_land_arrived). Every run goes through here. */
void wk_tp_run(am_worker *w, int timeout_ms)
{
	w->tp.ops->run(w->tp.ctx, timeout_ms, NULL);
	wk_land_arrived(w);
}

/* Tries the parked answers again, oldest first, until one fails. */
static void land_unrecorded(am_worker *w)
{
	wjob *j;
	while ((j = jl_pop(&w->unrecorded))) {
		if (!land(w, j)) {
			jl_push_front(&w->unrecorded, j);
			return;
		}
	}
}

/* Answers that arrived while the ledger could not be written, once its
 * next try is due. */
void wk_record_unrecorded(am_worker *w, int64_t now)
{
	if (w->unrecorded.n && now >= w->db_retry_at)
		land_unrecorded(w);
}

/* The pass transaction: the marks and the rows of jobs not sent yet. After
 * sends, the calls go out first and the marks follow while they travel (a
 * mark left for later would weigh on the commit of the first answer). */
void wk_record_pass(am_worker *w)
{
	if (w->tx_open || w->nfresh || (w->sent && w->nmarks)) {
		if (w->sent)
			wk_tp_run(w, 0);
		wk_flush_writes(w);
	}
	w->sent = false;
}
