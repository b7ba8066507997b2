/* worker_setup: the thread's start (the database, the selector, the
 * limiter's pools, the budget from the ledger, the cache, the transport)
 * and its end. */
#include "worker_int.h"
#include "tagload.h"

/* The dimensions a user sets (dims.h) are the limiter's first ones, in the
 * same order, so a dimension's number means the same on both sides. */
_Static_assert((int)AM_DIM_RPM == (int)AM_RL_REQ && (int)AM_DIM_ITPM == (int)AM_RL_ITOK &&
                   (int)AM_DIM_OTPM == (int)AM_RL_OTOK,
               "dims.h follows the limiter's numbering");
_Static_assert((int)AM_DIM_N == (int)AM_RL_NCOST, "one limiter cost per dimension");
_Static_assert(AM_LIM_RPM == 0 && AM_LIM_OTPM == AM_DIM_N - 1, "limit fields start with the dims");

void am_worker_client_opts(const am_config *cfg, const char *base_url, const char *api_key,
                           const am_clock *clock, am_client_opts *co)
{
	am_client_opts_default(co);
	co->base_url = base_url;
	co->api_key = api_key;
	co->connect_timeout_ms = cfg->client.connect_timeout_ms;
	co->total_timeout_ms = cfg->client.timeout_ms;
	co->max_response_bytes = (size_t)cfg->client.max_response_bytes;
	co->clock = clock;
	co->allow_insecure_http = cfg->allow_insecure_http;
}

static void add_pool(am_worker *w, am_rl_pool_cfg *pools, int *n, const am_config *cfg,
                     const char *name)
{
	if (!name || !*name || *n >= AM_RL_MAX_POOLS)
		return;
	for (int i = 0; i < *n; i++)
		if (!strcmp(pools[i].name, name))
			return;
	am_config_limits lim;
	unsigned explicit_mask = 0;
	am_config_pool_limits(cfg, name, &lim, &explicit_mask);
	const int64_t vals[AM_DIM_N] = {
#define LIM_VAL(id, key, label, unit, what) [AM_DIM_##id] = lim.key,
		AM_DIMS(LIM_VAL)
#undef LIM_VAL
	};
	for (int d = 0; d < AM_DIM_N; d++)
		w->ceiling[*n][d] = !cfg->limits.learn_from_headers ||
		                            (explicit_mask & (1u << (AM_LIM_RPM + d)))
		                    ? vals[d] : -1;
	am_rl_pool_cfg *pc = &pools[(*n)++];
	am_rl_pool_cfg_init(pc, name, lim.rpm, lim.itpm, lim.otpm);
	if (lim.max_in_flight > 0)
		pc->max_in_flight = (int)lim.max_in_flight;
	if (lim.rpm_burst > 0 && lim.rpm > 0)
		pc->short_window_ns = lim.rpm_burst * 60 * AM_NS_PER_SEC / lim.rpm;
	pc->init_fill_ppm = (int32_t)(cfg->limits.init_fill_pct * 10000);
}

static int build_limiter(am_worker *w, const am_config *cfg, int64_t now, am_err *err)
{
	am_rl_pool_cfg pools[AM_RL_MAX_POOLS];
	int np = 0;
	/* The pools of the configured overrides and of the selector's models go
	 * first, then the rest of the price table's pools; "default" catches
	 * models that belong to none. */
	for (int i = 0; i < cfg->limits.npools; i++)
		add_pool(w, pools, &np, cfg, cfg->limits.pool[i].name);
	for (int i = 0; i < w->sel.ntiers; i++) {
		const am_price *p = am_pricing_lookup(w->pricing, w->sel.tier[i].model);
		const char *pool = am_config_pool_of_model(cfg, w->sel.tier[i].model);
		add_pool(w, pools, &np, cfg, pool ? pool : p ? p->pool : NULL);
	}
	for (size_t i = 0; i < am_pricing_count(w->pricing); i++)
		add_pool(w, pools, &np, cfg, am_pricing_at(w->pricing, i)->pool);
	if (np == AM_RL_MAX_POOLS)
		np--;
	add_pool(w, pools, &np, cfg, "default");

	/* Every priced model maps to its pool, when that pool exists. */
	am_rl_map map[256];
	int nmap = 0;
	for (int i = 0; i < cfg->limits.nmodel_pools && nmap < 256; i++)
		map[nmap++] = (am_rl_map){ cfg->limits.model_pool[i].model,
		                           cfg->limits.model_pool[i].pool };
	for (size_t i = 0; i < am_pricing_count(w->pricing) && nmap < 256; i++) {
		const am_price *p = am_pricing_at(w->pricing, i);
		for (int k = 0; k < np; k++)
			if (!strcmp(pools[k].name, p->pool))
				map[nmap++] = (am_rl_map){ p->model, p->pool };
	}
	am_rl_cfg rc;
	am_rl_cfg_init(&rc);
	rc.pools = pools;
	rc.npools = np;
	rc.map = map;
	rc.nmap = nmap;
	if (!cfg->limits.backfill)
		rc.backfill_scan = 0;
	if (am_rl_create(&w->rl, &rc, now, err))
		return -1;
	for (int i = 0; i < np; i++)
		for (int d = 0; d < AM_RL_NCOST; d++)
			if (w->ceiling[i][d] > 0 && am_rl_set_limit(w->rl, i, d, w->ceiling[i][d], now, err))
				return -1;
	return 0;
}

static int build_selector(am_worker *w, const am_config *cfg, am_err *err)
{
	if (am_sel_config_from(cfg, &w->sel, err))
		return -1;
	snprintf(w->model_mode, sizeof w->model_mode, "%s",
	         cfg->selector.model[0] ? cfg->selector.model : "auto");
	return 0;
}

static int restore_setting(void *ctx, const char *key, const char *value, int64_t updated_ns)
{
	(void)updated_ns;
	am_config_restore(ctx, key, value, NULL);
	return 0;
}

int wk_setup(am_worker *w, am_err *err)
{
	am_config cfg = *w->config;
	if (cfg.log_file[0] && am_log_open(&w->log, cfg.log_file, err))
		return -1;
	am_ledger_opts lo = { 0 };
	if (am_ledger_open(&w->ledger, w->db_path, &lo, err))
		return -1;
	w->db = am_ledger_db(w->ledger);
	w->qs = am_queue_stmts_new(w->db);
	am_queue_stmts_source(w->qs, w->owner.kind);
	w->jm = am_job_marks_new(w->ledger);
	/* What other processes change from here on is told apart from what
	 * is saved now: the poll's baseline is read before the settings this
	 * start applies, so a change committed in between is applied again
	 * (harmlessly) rather than taken for the baseline and missed. */
	wk_settings_poll(w, 0);
	if (w->opts.load_settings &&
	    am_ledger_settings_each(w->ledger, restore_setting, &cfg, err))
		return -1;
	int requeued = 0;
	if (am_queue_recover(w->db, &w->owner, now_wall(w), &requeued, err))
		return -1;
	if (w->opts.console_memory) {
		am_memo m;
		if (am_memo_load(w->ledger, &m, err))
			return -1;
		pthread_mutex_lock(&w->mu);
		w->memo = m;
		w->memo_loaded = true;
		pthread_mutex_unlock(&w->mu);
	}

	if (build_selector(w, &cfg, err))
		return -1;
	int64_t now = now_mono(w);
	if (build_limiter(w, &cfg, now, err))
		return -1;
	w->last_busy = now; /* the buckets start part-full (init_fill_pct) and refill */

	if (am_budget_config_from(&cfg, &w->bcfg, err))
		return -1;
	snprintf(w->alert_command, sizeof w->alert_command, "%s", cfg.budget.alert_command);
	w->bell = cfg.budget.bell;
	am_budget_now bn;
	if (am_budget_now_local(now_wall(w), &bn, err))
		return -1;
	int64_t day_spent = 0, month_spent = 0;
	bool unknown = false;
	w->tagb = am_tagbudget_new(bn.day);
	if (am_tagload_limits(w->tagb, cfg.budget.tag, cfg.budget.ntags, err))
		return -1;
	if (wk_load_today_marked(w, &bn, &day_spent, &month_spent, &unknown, err))
		return -1;
	if (am_budget_new(&w->budget, &w->bcfg, &bn, day_spent, month_spent, unknown, err) ||
	    wk_load_recent_burn(w, err))
		return -1;

	if (wk_shared_setup(w, &cfg, err))
		return -1;
	am_cache_config cc;
	if (am_cache_config_from(&cfg, &cc, err))
		return -1;
	if (am_cache_open(&w->cache, w->db, &cc, err))
		return -1;

	am_prov_retry_cfg_default(&w->retry);
	w->retry.max_retries = (int)cfg.client.max_retries;
	w->concurrency = cfg.worker.concurrency > 0 ? cfg.worker.concurrency : 64;
	w->default_max_tokens = cfg.client.max_tokens > 0 ? cfg.client.max_tokens
	                                                  : DEFAULT_MAX_TOKENS;
	w->stream_default = cfg.client.stream;

	if (!w->tp.ops) {
		/* No transport given: a libcurl client to base_url. */
		am_client_opts co;
		am_worker_client_opts(&cfg, w->base_url, w->api_key, w->clock, &co);
		am_client *client;
		if (am_client_new(&client, &co, err))
			return -1;
		pthread_mutex_lock(&w->mu);
		w->tp = am_client_transport(client);
		w->tp_live = true;
		pthread_mutex_unlock(&w->mu);
	}

	am_log_write(w->log, now_wall(w), "started: %s%s, database %s", w->endpoint,
	             w->opts.simulator ? " (simulator)" : "", w->db_path);
	wk_scan_db(w);
	/* Jobs left by a quit (still queued) or a crash (requeued above). */
	if (w->pending.n)
		wk_notice(w, "resumed %d job%s from an earlier run", w->pending.n,
		          w->pending.n == 1 ? "" : "s");
	am_config_wipe(&cfg);
	return 0;
}

void wk_teardown(am_worker *w)
{
	/* Calls still on the wire are cancelled; their jobs stay queued in the
	 * database (recovery re-sends them) and their reservations die with the
	 * process's budget object. */
	w->tearing_down = true;
	pthread_mutex_lock(&w->mu);
	am_transport tp = w->tp;
	w->tp_live = false;
	memset(&w->tp, 0, sizeof w->tp);
	pthread_mutex_unlock(&w->mu);
	if (tp.ops)
		tp.ops->free(tp.ctx);
	/* Jobs without a row get one now, to be resumed at the next start. */
	am_err err;
	if (w->ledger) {
		wk_ensure_row(w, NULL, &err);
		if (wk_tx_commit(w, &err))
			wk_tx_abort(w);
	}
	w->nfresh = 0;
	wk_shared_teardown(w);
	if (w->ledger && w->opts.console_memory)
		wk_keep_memos(w);
	while (w->all) {
		wjob *j = w->all;
		if (j->id && (j->st == W_FLIGHT || j->st == W_LIMIT))
			am_queue_update(w->db, j->id, AM_JOB_QUEUED, NULL, NULL, NULL, NULL,
			                j->attempts, now_wall(w), NULL);
		wk_free_held(j);
		json_decref(j->body);
		free(j->model_req);
		free(j->tag);
		free(j->wire);
		w->all = j->all_next;
		free(j);
	}
	am_cache_close(w->cache);
	am_budget_free(w->budget);
	am_tagbudget_free(w->tagb);
	w->tagb = NULL;
	am_rl_free(w->rl);
	am_queue_stmts_free(w->qs);
	w->qs = NULL;
	am_job_marks_free(w->jm);
	w->jm = NULL;
	w->nmarks = 0;
	free(w->fresh);
	w->fresh = NULL;
	w->nfresh = w->fresh_cap = 0;
	wk_settings_forget(w);
	am_ledger_close(w->ledger);
	am_log_close(w->log);
	w->log = NULL;
	w->cache = NULL;
	w->budget = NULL;
	w->rl = NULL;
	w->ledger = NULL;
}
