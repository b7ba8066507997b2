/* limiter: creating and freeing a limiter, the model -> pool map, run-time
 * settings and figures. The rest of the limiter is split by concern:
 * limiter_gcra.c (one bucket's arithmetic), limiter_pool.c (queue, grants,
 * tickets), limiter_feedback.c (headers and 429s), limiter_estimate.c (the
 * input estimator); limiter_int.h holds the shared private state. See
 * limiter.h for the model and the contract, and the reasons behind its
 * choices. */
#include "limiter_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const rl_dim_names[AM_RL_NDIMS] = { "RPM", "ITPM", "OTPM", "RPM/s" };
const char *const rl_dim_units[AM_RL_NDIMS] = { "requests", "input tokens",
						"output tokens", "requests" };

void am_rl_pool_cfg_init(am_rl_pool_cfg *pc, const char *name, int64_t rpm,
			 int64_t itpm, int64_t otpm)
{
	memset(pc, 0, sizeof *pc);
	snprintf(pc->name, sizeof pc->name, "%s", name ? name : "default");
	pc->dim[AM_RL_REQ].limit = rpm;
	pc->dim[AM_RL_ITOK].limit = itpm;
	pc->dim[AM_RL_OTOK].limit = otpm;
	pc->short_window_ns = NS_PER_S;
	pc->max_in_flight = 64;
	pc->max_queue = 4096;
	pc->init_fill_ppm = 250000;
	pc->learn_level = true;
}

void am_rl_cfg_init(am_rl_cfg *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->backfill_scan = 32;
	cfg->grant_ring = 1024;
	cfg->est_default_ppm = 333334;
	cfg->est_margin_ppm = 20000;
	cfg->est_min_samples = 8;
}

static int pool_init(struct pool *p, const am_rl_pool_cfg *pc, const am_rl_cfg *cfg,
		     int64_t now, am_err *err)
{
	if (!pc->name[0])
		return am_err_set(err, "rate limiter: a pool has no name");
	if (pc->max_in_flight < 1 || pc->max_queue < 1)
		return am_err_set(err, "rate limiter: pool %s: max_in_flight and max_queue must be >= 1",
				  pc->name);
	if (pc->init_fill_ppm < 0 || pc->init_fill_ppm > PPM)
		return am_err_set(err, "rate limiter: pool %s: init fill must be 0..100%%", pc->name);
	if (pc->short_window_ns < 0 || pc->short_window_ns > PERIOD_MAX)
		return am_err_set(err, "rate limiter: pool %s: bad short window", pc->name);
	memcpy(p->name, pc->name, sizeof p->name);
	p->name[sizeof p->name - 1] = 0;
	for (int i = 0; i < AM_RL_NDIMS; i++) {
		const am_rl_dim_cfg *dc = &pc->dim[i == AM_RL_REQ_SHORT ? AM_RL_REQ : i];
		struct dim *d = &p->d[i];
		int64_t period = dc->period_ns ? dc->period_ns : PERIOD_DEFAULT;
		int64_t burst = dc->burst_ns ? dc->burst_ns : period;
		int64_t limit = dc->limit;
		if (i == AM_RL_REQ_SHORT) {
			burst = pc->short_window_ns;
			if (!burst || burst >= period)
				limit = 0;
		}
		if (!rl_span_ok(limit, period, burst))
			return am_err_set(err, "rate limiter: pool %s: %s limit %lld per %lld ns "
					  "(bucket %lld ns) is out of range",
					  pc->name, rl_dim_names[i], (long long)dc->limit,
					  (long long)period, (long long)burst);
		d->guarded = i == AM_RL_REQ_SHORT;
		d->limit_cfg = limit;
		d->limit = rl_dim_effective_limit(d);
		d->period = period;
		d->burst_ns = burst;
		d->share = PPM;
		d->recover_at = INT64_MAX;
		d->cooldown = INT64_MIN;
		rl_dim_params(d);
		d->tat = now;
		/* Cold start: part-full, for what other processes may have spent
		 * of the minute - but the short request bucket starts full: it
		 * refills within its window (a second), and a one-shot `ask`
		 * would otherwise wait most of that second for nothing. */
		int64_t fill = i == AM_RL_REQ_SHORT ? PPM : pc->init_fill_ppm;
		rl_dim_set_level(d, now, (int64_t)((i128)d->cap * fill / PPM));
		d->fw_start = now;
		d->calibrated = !pc->learn_level;
	}
	p->max_queue = pc->max_queue;
	p->conc_cap = p->conc_cfg = pc->max_in_flight;
	p->backfill = cfg->backfill_scan < 0 ? 0 : cfg->backfill_scan;
	p->init_fill = pc->init_fill_ppm;
	p->conf_lost = INT64_MIN;
	p->last = now;
	rl_pool_summarize(p);
	int ring = cfg->grant_ring ? cfg->grant_ring : 1024;
	p->ring = am_xcalloc((size_t)ring, sizeof *p->ring);
	p->ring_mask = (uint64_t)ring - 1;
	for (int i = 0; i < ring; i++)
		p->ring[i].gseq = UINT64_MAX;
	return 0;
}

int am_rl_create(am_rl **out, const am_rl_cfg *cfg, int64_t now, am_err *err)
{
	*out = NULL;
	if (!cfg || cfg->npools < 1 || cfg->npools > AM_RL_MAX_POOLS || !cfg->pools)
		return am_err_set(err, "rate limiter: need 1 to %d pools", AM_RL_MAX_POOLS);
	int ring = cfg->grant_ring ? cfg->grant_ring : 1024;
	if (ring < 16 || ring > 65536 || (ring & (ring - 1)))
		return am_err_set(err, "rate limiter: grant ring must be a power of two in 16..65536");
	if (cfg->est_default_ppm <= 0 || cfg->est_margin_ppm < 0 || cfg->est_min_samples < 1 ||
	    cfg->est_min_samples > EST_RING)
		return am_err_set(err, "rate limiter: bad input estimator settings");
	for (int i = 0; i < cfg->npools; i++)
		for (int j = 0; j < i; j++)
			if (!strcmp(cfg->pools[i].name, cfg->pools[j].name))
				return am_err_set(err, "rate limiter: pool %s is defined twice",
						  cfg->pools[i].name);
	am_rl *rl = am_xcalloc(1, sizeof *rl);
	for (int i = 0; i < cfg->npools; i++) {
		rl->pool[i] = am_xcalloc(1, sizeof *rl->pool[i]);
		rl->npools = i + 1;
		if (pool_init(rl->pool[i], &cfg->pools[i], cfg, now, err) < 0) {
			am_rl_free(rl);
			return -1;
		}
	}
	rl->map_model = am_xcalloc((size_t)cfg->nmap + 1, sizeof(char *));
	rl->map_pool = am_xcalloc((size_t)cfg->nmap + 1, sizeof(char *));
	for (int i = 0; i < cfg->nmap; i++) {
		const am_rl_map *m = &cfg->map[i];
		bool found = false;
		for (int j = 0; m->pool && j < rl->npools; j++)
			found |= !strcmp(rl->pool[j]->name, m->pool);
		if (!m->model || !m->model[0] || !found) {
			am_err_set(err, "rate limiter: model map entry %d names no model or an unknown pool",
				   i + 1);
			am_rl_free(rl);
			return -1;
		}
		rl->map_model[i] = am_xstrdup(m->model);
		rl->map_pool[i] = am_xstrdup(m->pool);
		rl->nmap = i + 1;
	}
	rl->est_default = cfg->est_default_ppm;
	rl->est_margin = cfg->est_margin_ppm;
	rl->est_min = cfg->est_min_samples;
	*out = rl;
	return 0;
}

void am_rl_free(am_rl *rl)
{
	if (!rl)
		return;
	for (int i = 0; i < rl->npools; i++) {
		free(rl->pool[i]->ring);
		free(rl->pool[i]);
	}
	for (int i = 0; i < rl->nmap; i++) {
		free(rl->map_model[i]);
		free(rl->map_pool[i]);
	}
	free(rl->map_model);
	free(rl->map_pool);
	free(rl);
}

int am_rl_npools(const am_rl *rl) { return rl->npools; }

const char *am_rl_pool_name(const am_rl *rl, int pool)
{
	return pool >= 0 && pool < rl->npools ? rl->pool[pool]->name : NULL;
}

static int pool_by_name(const am_rl *rl, const char *name)
{
	for (int i = 0; i < rl->npools; i++)
		if (!strcmp(rl->pool[i]->name, name))
			return i;
	return -1;
}

static bool small_number(const char *s, size_t n)
{
	if (n == 0 || n > 2)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* "claude-opus-4-5-20251101" -> "opus-4"; "claude-3-5-haiku-x" -> "haiku-3". */
static bool family_of(const char *model, char *out, size_t outsz)
{
	static const char *const fams[] = { "opus", "sonnet", "haiku" };
	const char *tok[16];
	size_t len[16];
	int n = 0;
	for (const char *s = model; *s && n < 16;) {
		const char *e = strchr(s, '-');
		size_t l = e ? (size_t)(e - s) : strlen(s);
		tok[n] = s;
		len[n++] = l;
		if (!e)
			break;
		s = e + 1;
	}
	for (int i = 0; i < n; i++)
		for (size_t f = 0; f < sizeof fams / sizeof fams[0]; f++) {
			if (len[i] != strlen(fams[f]) || strncmp(tok[i], fams[f], len[i]))
				continue;
			int v = -1;
			if (i + 1 < n && small_number(tok[i + 1], len[i + 1]))
				v = i + 1;
			else if (i >= 2 && small_number(tok[1], len[1]))
				v = 1;
			if (v < 0)
				return false;
			snprintf(out, outsz, "%s-%.*s", fams[f], (int)len[v], tok[v]);
			return true;
		}
	return false;
}

int am_rl_pool_for_model(const am_rl *rl, const char *model)
{
	if (!model)
		model = "";
	int best = -1;
	size_t best_len = 0;
	for (int i = 0; i < rl->nmap; i++) {
		const char *m = rl->map_model[i];
		size_t l = strlen(m);
		if (l && m[l - 1] == '*') {
			if (!strncmp(model, m, l - 1) && (best < 0 || l - 1 > best_len)) {
				best = i;
				best_len = l - 1;
			}
		} else if (!strcmp(model, m)) {
			return pool_by_name(rl, rl->map_pool[i]);
		}
	}
	if (best >= 0)
		return pool_by_name(rl, rl->map_pool[best]);
	char fam[40];
	int p;
	if (family_of(model, fam, sizeof fam) && (p = pool_by_name(rl, fam)) >= 0)
		return p;
	p = pool_by_name(rl, "default");
	return p >= 0 ? p : 0;
}

static int set_limit_one(struct pool *p, int dim, int64_t per_minute, int64_t now,
			 am_err *err)
{
	int ds[2];
	int nd = dims_of(dim, ds);
	for (int j = 0; j < nd; j++) {
		struct dim *d = &p->d[ds[j]];
		if (short_off(ds[j], d))
			continue;
		if (!rl_span_ok(rl_per_period(d, per_minute), d->period, d->burst_ns))
			return am_err_set(err, "rate limiter: %s %lld per minute is out of range",
					  rl_dim_names[dim], (long long)per_minute);
	}
	int64_t t = pool_sync(p, now);
	for (int j = 0; j < nd; j++) {
		struct dim *d = &p->d[ds[j]];
		if (short_off(ds[j], d))
			continue;
		d->limit_cfg = d->limit_cap = rl_per_period(d, per_minute);
		rl_dim_rescale(d, t, rl_dim_effective_limit(d), d->burst_ns, d->share, p->init_fill);
	}
	return 0;
}

int am_rl_set_limit(am_rl *rl, int pool, int dim, int64_t per_minute, int64_t now,
		    am_err *err)
{
	if (dim < 0 || dim >= AM_RL_NCOST)
		return am_err_set(err, "rate limiter: no dimension %d", dim);
	if (per_minute < 0) /* 0 = no cap of the user's, as in the config */
		return am_err_set(err, "rate limiter: %s cannot be negative (0 = no limit)",
				  rl_dim_names[dim]);
	if (pool < -1 || pool >= rl->npools)
		return am_err_set(err, "rate limiter: no pool %d", pool);
	for (int i = 0; i < rl->npools; i++) {
		if (pool >= 0 && i != pool)
			continue;
		struct pool *p = rl->pool[i];
		int rc = set_limit_one(p, dim, per_minute, now, err);
		if (rc < 0)
			return am_err_prefix(err, "pool %s", p->name);
	}
	return 0;
}

int am_rl_set_max_in_flight(am_rl *rl, int pool, int cap, am_err *err)
{
	if (pool < 0 || pool >= rl->npools || cap < 1)
		return am_err_set(err, "rate limiter: bad pool or concurrency cap");
	struct pool *p = rl->pool[pool];
	p->conc_cap = p->conc_cfg = cap;
	p->conc_ok = 0;
	return 0;
}

void am_rl_stats(am_rl *rl, int pool, int64_t now, am_rl_pool_stats *out)
{
	memset(out, 0, sizeof *out);
	out->head_blocked_by = -1;
	if (pool < 0 || pool >= rl->npools)
		return;
	struct pool *p = rl->pool[pool];
	int64_t t = max64(now, p->last);
	struct dim dims[AM_RL_NDIMS];
	memcpy(dims, p->d, sizeof dims);
	rl_dims_recover(dims, t, p->init_fill);
	memcpy(out->name, p->name, sizeof out->name);
	for (int i = 0; i < AM_RL_NDIMS; i++) {
		const struct dim *d = &dims[i];
		am_rl_dim_stats *s = &out->dim[i];
		s->name = rl_dim_names[i];
		s->limited = d->limit != 0;
		s->level = rl_dim_level(d, t);
		s->capacity = d->cap;
		s->limit = d->limit;
		s->period_ns = d->period;
		s->limit_cfg = d->limit_cfg;
		s->limit_srv = d->limit_srv;
		s->share_ppm = (int32_t)d->share;
		s->unconfirmed = d->unconf;
		s->n429 = d->n429;
		s->has_server = d->has_srv;
		s->server_remaining = d->srv_rem;
		s->server_reset_ns = d->srv_reset;
		s->cooldown_until_ns = d->cooldown;
		s->foreign_per_min = d->foreign_pm;
	}
	out->queue_depth = p->depth;
	out->in_flight = p->in_flight;
	out->max_in_flight = p->conc_cap;
	out->n429 = p->n429;
	out->granted = (int64_t)p->next_gseq;
	out->backfilled = p->backfilled;
	out->failed = p->failed;
	if (p->head) {
		int blk;
		int64_t r = rl_plan_costs(p, dims, p->head->cost, t, &blk);
		out->head_wait_ns = t - p->head->t_enqueue;
		out->head_ready_in_ns = r == INT64_MAX ? INT64_MAX : r - t;
		out->head_blocked_by = blk;
	}
}

void am_rl_export(am_rl *rl, int pool, am_rl_raw *out)
{
	memset(out, 0, sizeof *out);
	if (pool < 0 || pool >= rl->npools)
		return;
	struct pool *p = rl->pool[pool];
	for (int i = 0; i < AM_RL_NDIMS; i++) {
		const struct dim *d = &p->d[i];
		out->tat[i] = d->tat;
		out->unconf[i] = d->unconf;
		out->cooldown[i] = d->cooldown;
		out->recover_at[i] = d->recover_at;
		out->limit[i] = d->limit;
		out->limit_srv[i] = d->limit_srv;
		out->capacity[i] = d->cap;
		out->burst_ns[i] = d->burst_ns;
		out->share_ppm[i] = d->share;
	}
	out->last_now = p->last;
	out->queue_depth = p->depth;
	out->in_flight = p->in_flight;
	out->max_in_flight = p->conc_cap;
	out->next_seq = p->next_seq;
	out->next_gseq = p->next_gseq;
}
