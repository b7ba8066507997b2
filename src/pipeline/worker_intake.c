/* worker_intake: work comes in - submissions and commands from the
 * inbox, jobs from the database (recovered, or added by a batch on
 * another connection), cancellations. */
#include "worker_int.h"

#include <errno.h>

#include "tag.h"

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
	/* A tag the ledger would refuse (a hand-edited row) is dropped, not
	 * left to fail the call's recording. */
	am_err terr;
	if (job->tag && am_tag_check(job->tag, &terr))
		wk_notice(w, "job %" PRId64 ": %s; recorded untagged", job->id, terr.msg);
	else if (job->tag && *job->tag)
		j->tag = am_xstrdup(job->tag);
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
	if (!j || j->st == W_FINISHED || j->st == W_UNRECORDED || j->proxied)
		return; /* an answer that arrived is recorded, not cancelled; a proxied
		           call ends when its client does */
	if (j->xfer) {
		/* The client reports the abort through on_call_done, which ends the job. */
		j->cancelling = true;
		w->tp.ops->cancel(w->tp.ctx, j->xfer);
		return;
	}
	jlist *l = wk_list_of(w, j);
	if (l)
		jl_remove(l, j);
	if (j->swait) {
		j->swait = false;
		w->nswait--;
		wk_shared_settle(w, j, NULL, NULL, true, now);
	}
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

/* ---- the settings as last seen ------------------------------------------------ */

struct wk_setting {
	char *key, *value;
	int64_t updated_ns; /* wall ns it was saved at */
};

static struct wk_setting *seen_find(am_worker *w, const char *key)
{
	for (int i = 0; i < w->nseen_set; i++)
		if (!strcmp(w->seen_set[i].key, key))
			return &w->seen_set[i];
	return NULL;
}

static void seen_put(am_worker *w, const char *key, const char *value)
{
	struct wk_setting *e = seen_find(w, key);
	if (!e) {
		w->seen_set = am_xrealloc(w->seen_set, (size_t)(w->nseen_set + 1) * sizeof *e);
		e = &w->seen_set[w->nseen_set++];
		e->key = am_xstrdup(key);
		e->value = NULL;
	}
	free(e->value);
	e->value = am_xstrdup(value);
	e->updated_ns = 0;
}

/* Drops the per-pool keys of one dimension ("limits.pools.*.rpm"). */
static void seen_drop_pools(am_worker *w, const char *dim)
{
	size_t nd = strlen(dim);
	for (int i = 0; i < w->nseen_set;) {
		const char *k = w->seen_set[i].key;
		size_t nk = strlen(k);
		if (!strncmp(k, "limits.pools.", 13) && nk > 13 + nd && k[nk - nd - 1] == '.' &&
		    !strcmp(k + nk - nd, dim)) {
			free(w->seen_set[i].key);
			free(w->seen_set[i].value);
			w->seen_set[i] = w->seen_set[--w->nseen_set];
		} else {
			i++;
		}
	}
}

void wk_settings_forget(am_worker *w)
{
	for (int i = 0; i < w->nseen_set; i++) {
		free(w->seen_set[i].key);
		free(w->seen_set[i].value);
	}
	free(w->seen_set);
	w->seen_set = NULL;
	w->nseen_set = 0;
	w->seen_loaded = false;
}

/* The pool named `name`, or -1. */
static int pool_by_name(const am_worker *w, const char *name)
{
	for (int i = 0; i < am_rl_npools(w->rl); i++)
		if (!strcmp(am_rl_pool_name(w->rl, i), name))
			return i;
	return -1;
}

/* Saves a command's setting. A limit for every pool replaces the per-pool
 * ones of its dimension, in the same transaction: they would win over it
 * at the next start. */
static void save_setting(am_worker *w, const am_command *c, const char *key, const char *val)
{
	int dim = am_cmd_limit_dim(c->kind);
	char glob[64];
	am_ledger_setting_op ops[2] = { { key, val }, { glob, NULL } };
	int n = 1;
	if (dim >= 0 && !c->pool[0]) {
		snprintf(glob, sizeof glob, "limits.pools.*.%s", am_dim_info_of((am_dim)dim)->key);
		n = 2;
	}
	am_err err;
	if (am_ledger_settings_write(w->ledger, ops, n, now_wall(w), &err)) {
		wk_notice(w, "could not save %s: %s", key, err.msg);
		return;
	}
	if (n == 2)
		seen_drop_pools(w, am_dim_info_of((am_dim)dim)->key);
	seen_put(w, key, val);
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
	int pool = c->pool[0] ? pool_by_name(w, c->pool) : -1;
	if (c->pool[0] && pool < 0) {
		/* ops_command refuses these; a setting another process saved for a
		 * pool this one lacks changes nothing here */
		wk_notice(w, "no pool '%s' here: its limit is not applied", c->pool);
		return;
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
	case AM_CMD_SET_TAG_BUDGET:
		/* Raised or removed, the tag's blocked calls try again at once;
		 * lowered, the next reservation of the tag meets it. */
		if (am_tagbudget_set_limit(w->tagb, c->text, c->value, &err)) {
			wk_notice(w, "%s", err.msg);
			return;
		}
		w->budget_changed = true;
		snprintf(key, sizeof key, "budget.tags.%s", c->text);
		am_money_format(c->value, val, sizeof val);
		break;
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
	if (c->persist && key[0])
		save_setting(w, c, key, val);
	w->dirty = true;
}

/* ---- settings another process changed ----------------------------------------- */

_Static_assert(AM_TAG_MAX < sizeof(((am_command *)0)->text), "a valid tag fits a command's text");

/* The command that a saved setting stands for; false for keys the worker
 * does not apply at run time. */
static bool command_of_setting(const char *key, const char *value, am_command *c)
{
	memset(c, 0, sizeof *c);
	char *end;
	if (!strncmp(key, "limits.", 7)) {
		const char *rest = key + 7, *dimkey = rest;
		if (!strncmp(rest, "pools.", 6)) {
			const char *dot = strrchr(rest + 6, '.');
			if (!dot || dot == rest + 6 || (size_t)(dot - (rest + 6)) >= sizeof c->pool)
				return false;
			memcpy(c->pool, rest + 6, (size_t)(dot - (rest + 6)));
			dimkey = dot + 1;
		}
		int dim = am_dim_by_key(dimkey);
		if (dim < 0)
			return false;
		c->kind = (am_cmd_kind)(AM_CMD_SET_RPM + dim);
		errno = 0;
		c->value = strtoll(value, &end, 10);
		return !errno && end != value && !*end && c->value >= 0;
	}
	if (!strcmp(key, "budget.daily_usd") || !strcmp(key, "budget.monthly_usd")) {
		c->kind = key[7] == 'd' ? AM_CMD_SET_BUDGET_DAY : AM_CMD_SET_BUDGET_MONTH;
		am_err err;
		return am_money_parse_usd(value, &c->value, &err) == 0 && c->value >= 0;
	}
	if (!strncmp(key, "budget.tags.", 12)) {
		/* "" or 0 removes the tag's limit, as in the config file */
		const char *tag = key + 12;
		am_err err;
		if (!*tag || am_tag_check(tag, &err))
			return false;
		c->kind = AM_CMD_SET_TAG_BUDGET;
		snprintf(c->text, sizeof c->text, "%s", tag);
		if (!*value)
			return true;
		return am_money_parse_usd(value, &c->value, &err) == 0 && c->value >= 0;
	}
	if (!strcmp(key, "budget.alert_pct")) {
		c->kind = AM_CMD_SET_ALERT_PCT;
		errno = 0;
		c->value = strtoll(value, &end, 10);
		return !errno && end != value && !*end && c->value >= 1 && c->value <= 100;
	}
	if (!strcmp(key, "selector.model")) {
		c->kind = AM_CMD_SET_MODEL;
		snprintf(c->text, sizeof c->text, "%s", value);
		return true;
	}
	if (!strcmp(key, "cache.enabled")) {
		c->kind = !strcmp(value, "true") ? AM_CMD_CACHE_ON : AM_CMD_CACHE_OFF;
		return !strcmp(value, "true") || !strcmp(value, "false");
	}
	return false;
}

typedef struct settings_read {
	am_worker *w;
	struct wk_setting *rows;
	int n;
} settings_read;

static int read_setting(void *ctx, const char *key, const char *value, int64_t updated_ns)
{
	settings_read *r = ctx;
	r->rows = am_xrealloc(r->rows, (size_t)(r->n + 1) * sizeof *r->rows);
	r->rows[r->n].key = am_xstrdup(key);
	r->rows[r->n].value = am_xstrdup(value);
	r->rows[r->n].updated_ns = updated_ns;
	r->n++;
	return 0;
}

void wk_settings_poll(am_worker *w, int64_t now)
{
	if (now < w->next_settings_poll)
		return;
	w->next_settings_poll = now + SETTINGS_POLL_MS * AM_NS_PER_MS;
	am_err err;
	int64_t ver = 0;
	if (am_ledger_data_version(w->ledger, &ver, &err))
		return; /* a busy file: the next poll looks again */
	if (w->seen_loaded && ver == w->data_version)
		return; /* nobody else committed anything */
	settings_read r = { w, NULL, 0 };
	if (am_ledger_settings_each(w->ledger, read_setting, &r, &err)) {
		for (int i = 0; i < r.n; i++) {
			free(r.rows[i].key);
			free(r.rows[i].value);
		}
		free(r.rows);
		return;
	}
	/* The first read is what the start applied (or chose not to): only
	 * later differences are another process's changes, applied in the order
	 * they were saved (a per-pool limit saved after a global one wins). */
	bool first = !w->seen_loaded;
	int *changed = am_xmalloc((size_t)(r.n + 1) * sizeof *changed), nch = 0;
	for (int i = 0; i < r.n && !first; i++) {
		const struct wk_setting *e = seen_find(w, r.rows[i].key);
		if (!e || strcmp(e->value, r.rows[i].value))
			changed[nch++] = i;
	}
	for (int a = 1; a < nch; a++) /* insertion sort by updated_ns: a few rows */
		for (int b = a; b > 0 && r.rows[changed[b]].updated_ns <
		                             r.rows[changed[b - 1]].updated_ns; b--) {
			int t = changed[b];
			changed[b] = changed[b - 1];
			changed[b - 1] = t;
		}
	char said[400] = "";
	for (int k = 0; k < nch; k++) {
		const struct wk_setting *row = &r.rows[changed[k]];
		am_command c;
		if (!command_of_setting(row->key, row->value, &c) ||
		    (c.pool[0] && pool_by_name(w, c.pool) < 0))
			continue; /* not a run-time setting, or a pool this worker lacks */
		apply_command(w, &c, now);
		/* Money reads as money ("$4.25"), whatever digits the row holds. */
		char val[48];
		if (c.kind == AM_CMD_SET_BUDGET_DAY || c.kind == AM_CMD_SET_BUDGET_MONTH ||
		    c.kind == AM_CMD_SET_TAG_BUDGET)
			am_money_format_short(c.value, 12, val, sizeof val);
		else
			snprintf(val, sizeof val, "%s", row->value);
		size_t n = strlen(said);
		snprintf(said + n, sizeof said - n, "%s%s = %s", n ? ", " : "", row->key, val);
	}
	free(changed);
	if (said[0]) /* one line for what one look found */
		wk_notice(w, "another process set %s", said);
	wk_settings_forget(w);
	w->seen_set = r.rows;
	w->nseen_set = r.n;
	w->seen_loaded = true;
	w->data_version = ver;
}

void wk_inbox_free(inbox_item *it)
{
	if (it->kind == IN_PROXY && it->pc)
		wk_proxy_refuse_stopping(it->pc); /* never taken: its client hears why */
	if (it->res) {
		am_prov_result_free(it->res);
		free(it->res);
	}
	json_decref(it->body);
	free(it->model);
	free(it->tag);
	free(it->input);
	free(it->ex.user);
	free(it->ex.assistant);
	free(it->ex.summary);
	free(it);
}

/* The console's memory (memo.h): a failed write is said once, as a notice;
 * nothing else depends on it. */
static void keep_memo(am_worker *w, const inbox_item *it)
{
	am_err err;
	int rc = 0;
	if (!w->ledger)
		return;
	switch (it->memo) {
	case AM_MEMO_INPUT:
		rc = am_memo_add_input(w->ledger, it->input, now_wall(w), &err);
		break;
	case AM_MEMO_EXCHANGE:
		rc = am_memo_add_exchange(w->ledger, &it->ex, now_wall(w), &err);
		break;
	case AM_MEMO_FORGET:
		rc = am_memo_forget_conversation(w->ledger, &err);
		break;
	}
	if (rc)
		wk_notice(w, "the console's history was not saved: %s", err.msg);
}

void wk_keep_memos(am_worker *w)
{
	pthread_mutex_lock(&w->mu);
	inbox_item **pp = &w->inbox, *last = NULL;
	while (*pp) {
		inbox_item *it = *pp;
		if (it->kind != IN_MEMO) {
			last = it;
			pp = &it->next;
			continue;
		}
		*pp = it->next;
		w->inbox_n--;
		keep_memo(w, it);
		wk_inbox_free(it);
	}
	w->inbox_tail = last;
	pthread_mutex_unlock(&w->mu);
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
		} else if (it->kind == IN_PROXY) {
			if (atomic_load(&w->stop) || w->halted) {
				atomic_fetch_sub(&w->unfinished, 1);
				wk_inbox_free(it); /* refused: aimeter is stopping */
				it = next;
				continue;
			}
			wk_proxy_take(w, it, now);
		} else if (it->kind == IN_PROXY_DONE) {
			wk_proxy_done_item(w, it, now);
		} else if (it->kind == IN_PROXY_STOP) {
			wk_proxy_refuse_all(w);
		} else if (it->kind == IN_MEMO) {
			keep_memo(w, it);
		} else {
			wjob *j = am_xcalloc(1, sizeof *j);
			j->w = w;
			j->handle = it->handle;
			j->body = it->body;
			it->body = NULL;
			j->model_req = it->model;
			it->model = NULL;
			j->tag = it->tag;
			it->tag = NULL;
			j->no_cache = it->no_cache;
			j->stream = it->stream;
			j->source = w->opts.source ? w->opts.source : "console";
			j->t_submit = now;
			wk_all_add(w, j);
			wk_fresh_add(w, j); /* its row is written at the end of the pass */
			jl_push(&w->pending, j);
			it->body = NULL;
		}
		wk_inbox_free(it);
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
