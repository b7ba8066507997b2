/* worker_intake: work comes in - submissions and commands from the
 * inbox, jobs from the database (recovered, or added by a batch on
 * another connection), cancellations. */
#include "worker_int.h"

static int cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Takes one unfinished job from the database into memory, as pending. */
static void load_job(am_worker *w, const am_job *job)
{
	json_error_t je;
	json_t *body = json_loads(job->request, 0, &je);
	if (!json_is_object(body)) {
		json_decref(body);
		am_queue_update(w->db, job->id, AM_JOB_FAILED, NULL, NULL,
		                "stored request is not valid JSON", NULL, job->attempts, now_wall(w),
		                NULL);
		return;
	}
	wjob *j = am_xcalloc(1, sizeof *j);
	j->w = w;
	j->handle = atomic_fetch_add(&w->next_handle, 1);
	j->id = job->id;
	j->body = body;
	j->model_req = job->model_requested ? am_xstrdup(job->model_requested) : NULL;
	j->attempts = job->attempts;
	/* A dead console's prompt keeps its source; anything else is a batch's. */
	j->source = job->source && !strcmp(job->source, "console") ? "console" : "batch";
	j->answer_is_output = true;
	j->stream = json_is_true(json_object_get(body, "stream"));
	j->no_cache = json_is_true(json_object_get(body, "x-no-cache"));
	json_object_del(j->body, "x-no-cache");
	j->t_submit = now_mono(w);
	wk_all_add(w, j);
	atomic_fetch_add(&w->unfinished, 1);
	jl_insert_by_id(&w->pending, j);
}

/* Loads the unfinished jobs of the database that are not in memory: jobs
 * another connection added (batch), and jobs it put back to queued (a
 * re-run retries what failed), whatever their ids; only jobs this worker
 * may claim (nobody's, its own, a dead process's), never a live other
 * process's. */
void wk_scan_db(am_worker *w)
{
	int64_t *ids = NULL;
	int n = 0;
	am_err err;
	if (am_queue_claim_unfinished(w->db, &w->owner, w->queue_capacity, &ids, &n, &err)) {
		wk_notice(w, "%s", err.msg);
		return;
	}
	size_t nmem = 0, cap = 64;
	int64_t *mem = am_xmalloc(cap * sizeof *mem);
	for (const wjob *j = w->all; j; j = j->all_next) {
		if (nmem == cap)
			mem = am_xrealloc(mem, (cap *= 2) * sizeof *mem);
		mem[nmem++] = j->id;
	}
	qsort(mem, nmem, sizeof *mem, cmp_id);
	for (int i = 0; i < n; i++) {
		if (bsearch(&ids[i], mem, nmem, sizeof *mem, cmp_id))
			continue;
		am_job job;
		if (am_queue_get(w->db, ids[i], &job, &err)) {
			wk_notice(w, "%s", err.msg);
			continue;
		}
		if (!am_job_state_final(job.state))
			load_job(w, &job);
		am_job_clear(&job);
	}
	free(mem);
	free(ids);
	w->dirty = true;
}

/* Cancels a job that has not finished: it leaves its list, gives back its
 * limiter ticket and budget reservation, and ends as cancelled. A call on
 * the wire is aborted first (the client reports it cancelled). */
static void cancel_job(am_worker *w, int64_t handle, int64_t now)
{
	wjob *j = w->all;
	while (j && j->handle != handle)
		j = j->all_next;
	if (!j || j->st == W_FINISHED || j->st == W_UNRECORDED)
		return; /* an answer that arrived is recorded, not cancelled */
	if (j->xfer) {
		/* The client reports the abort through on_call_done, which ends the job. */
		j->cancelling = true;
		w->tp.ops->cancel(w->tp.ctx, j->xfer);
		return;
	}
	jlist *l = wk_list_of(w, j);
	if (l)
		jl_remove(l, j);
	if (j->ticket_live) {
		am_rl_cancel(w->rl, &j->ticket, now);
		j->ticket_live = false;
	}
	wk_release_budget(w, j);
	j->st = W_FINISHED;
	wk_db_update(w, j, AM_JOB_CANCELLED, "cancelled", NULL);
	wk_event_basic(w, AM_EV_CANCELLED, j, NULL);
	wk_free_job(w, j);
}

static void apply_command(am_worker *w, const am_command *c, int64_t now)
{
	am_err err;
	am_budget_now bn;
	wk_budget_now(w, &bn);
	am_budget_alerts al;
	memset(&al, 0, sizeof al);
	char key[96], val[64];
	key[0] = val[0] = '\0';
	int pool = -1;
	if (c->pool[0]) {
		for (int i = 0; i < am_rl_npools(w->rl); i++)
			if (!strcmp(am_rl_pool_name(w->rl, i), c->pool))
				pool = i;
	}
	switch (c->kind) {
#define SET_DIM_CASE(id, key, label, unit, what) case AM_CMD_SET_##id:
	AM_DIMS(SET_DIM_CASE) {
#undef SET_DIM_CASE
		int dim = am_cmd_limit_dim(c->kind); /* the limiter's numbering (worker_setup.c) */
		const char *name = am_dim_info_of((am_dim)dim)->key;
		if (am_rl_set_limit(w->rl, pool, dim, c->value, now, &err)) {
			wk_notice(w, "%s", err.msg);
			return;
		}
		if (pool >= 0)
			snprintf(key, sizeof key, "limits.pools.%s.%s", c->pool, name);
		else
			snprintf(key, sizeof key, "limits.%s", name);
		snprintf(val, sizeof val, "%" PRId64, c->value);
		break;
	}
	case AM_CMD_SET_BUDGET_DAY:
	case AM_CMD_SET_BUDGET_MONTH: {
		bool day = c->kind == AM_CMD_SET_BUDGET_DAY;
		if (day)
			w->bcfg.day_limit_pusd = c->value;
		else
			w->bcfg.month_limit_pusd = c->value;
		if (am_budget_set_limits(w->budget, &bn, w->bcfg.day_limit_pusd,
		                         w->bcfg.month_limit_pusd, &al, &err)) {
			wk_notice(w, "%s", err.msg);
			return;
		}
		w->budget_changed = true;
		snprintf(key, sizeof key, "budget.%s", day ? "daily_usd" : "monthly_usd");
		am_money_format(c->value, val, sizeof val);
		break;
	}
	case AM_CMD_SET_ALERT_PCT: {
		int pct = (int)c->value;
		if (am_budget_set_alerts(w->budget, &bn, &pct, 1, &al, &err)) {
			wk_notice(w, "%s", err.msg);
			return;
		}
		w->bcfg.nalerts = 1;
		w->bcfg.alert_pct[0] = pct;
		snprintf(key, sizeof key, "budget.alert_pct");
		snprintf(val, sizeof val, "%d", pct);
		break;
	}
	case AM_CMD_SET_MODEL:
		snprintf(w->model_mode, sizeof w->model_mode, "%s", c->text[0] ? c->text : "auto");
		snprintf(key, sizeof key, "selector.model");
		snprintf(val, sizeof val, "%s", w->model_mode);
		break;
	case AM_CMD_CACHE_ON:
	case AM_CMD_CACHE_OFF:
		if (w->cache)
			am_cache_set_enabled(w->cache, c->kind == AM_CMD_CACHE_ON);
		snprintf(key, sizeof key, "cache.enabled");
		snprintf(val, sizeof val, "%s", c->kind == AM_CMD_CACHE_ON ? "true" : "false");
		break;
	case AM_CMD_CACHE_CLEAR:
		if (w->cache && am_cache_clear(w->cache, &err))
			wk_notice(w, "cache: %s", err.msg);
		break;
	case AM_CMD_PAUSE:
		w->paused = true;
		break;
	case AM_CMD_RESUME:
		w->paused = false;
		w->budget_changed = true;
		break;
	case AM_CMD_CANCEL_JOB:
		cancel_job(w, c->value, now);
		break;
	}
	wk_fire_alerts(w, &al);
	if (c->persist && key[0] &&
	    am_ledger_setting_set(w->ledger, key, val, now_wall(w), &err))
		wk_notice(w, "could not save %s: %s", key, err.msg);
	w->dirty = true;
}

void wk_take_inbox(am_worker *w, int64_t now)
{
	pthread_mutex_lock(&w->mu);
	inbox_item *it = w->inbox;
	w->inbox = w->inbox_tail = NULL;
	w->inbox_n = 0;
	pthread_mutex_unlock(&w->mu);
	while (it) {
		inbox_item *next = it->next;
		if (it->kind == IN_COMMAND) {
			apply_command(w, &it->cmd, now);
		} else {
			wjob *j = am_xcalloc(1, sizeof *j);
			j->w = w;
			j->handle = it->handle;
			j->body = it->body;
			j->model_req = it->model;
			it->model = NULL;
			j->no_cache = it->no_cache;
			j->stream = it->stream;
			j->source = w->opts.source ? w->opts.source : "console";
			j->t_submit = now;
			wk_all_add(w, j);
			wk_fresh_add(w, j); /* its row is written at the end of the pass */
			jl_push(&w->pending, j);
		}
		free(it->model);
		free(it);
		it = next;
	}
}

/* Submissions and commands from the inbox, and the jobs another connection
 * added (after a poke). */
void wk_intake(am_worker *w, int64_t now)
{
	wk_take_inbox(w, now);
	if (atomic_exchange(&w->poked, false))
		wk_scan_db(w);
}
