/* worker_shared: the hosts of one organisation share limits, budget and
 * cache through Redis (redis.h); this file is the worker's side of it.
 *
 * Limits. The local limiter still orders the queue and caps concurrency;
 * a ticket it grants then asks the shared limiter (one round trip) before
 * the call goes. A pool whose head must wait remembers until when
 * (swait_at) and asks again then, so nothing spins. A 429 and each
 * answer's headers go to the shared state as well, so every host sees the
 * cool-down, the share cut and the calibration.
 *
 * Budget. After the local budget reserves a job's worst case, the shared
 * one must too (the organisation's day and month); a settle publishes this
 * host's absolute totals and drops the reservation in the same script, so
 * the organisation's figure never dips between the two. Releases without
 * spend (a cancel, a retry) wait for the next publication (holding longer
 * is the safe side). Blocked jobs are tried again at every publication,
 * since other hosts' settles and limit changes are not announced.
 *
 * Failure. A failed Redis call marks it down; the tick reconnects with a
 * backoff. on_failure pause (the default) holds every new call while it is
 * down (wk_holding); local goes on with the local limiter at
 * local_share_pct of each limit and the local budget alone. Either way the
 * user is told once when it goes and once when it is back. Back, the host
 * puts its outstanding reservations again and publishes its totals: what
 * it spent while away is settled by that one publication. */
#include "worker_int.h"

#include <unistd.h>

enum { PUBLISH_MS = 1000, RES_ID_MAX = 40 };

static void fnv(uint64_t *h, const char *s)
{
	for (; *s; s++) {
		*h ^= (unsigned char)*s;
		*h *= 0x100000001b3ULL;
	}
}

/* The shared figures of each pool, from the local limiter's settings (its
 * effective limits: configured, or adopted from the provider's headers). */
static void build_pools(am_worker *w, int64_t now)
{
	for (int i = 0; i < am_rl_npools(w->rl) && i < AM_RL_MAX_POOLS; i++) {
		am_rl_pool_stats st;
		am_rl_stats(w->rl, i, now, &st);
		am_redis_rl_pool *p = &w->spool[i];
		memset(p, 0, sizeof *p);
		snprintf(p->name, sizeof p->name, "%s", st.name);
		for (int d = 0; d < AM_RL_NDIMS; d++) {
			const am_rl_dim_stats *s = &st.dim[d];
			if (!s->limited)
				continue;
			/* A new shared bucket starts as the local ones do: the short
			 * request bucket full, the others at init_fill_pct. */
			int32_t init = d == AM_RL_REQ_SHORT ? 1000000 : w->shared_init_ppm;
			p->dim[d] = (am_redis_rl_dim){ s->limit, s->period_ns, s->capacity, init };
		}
	}
}

int wk_shared_setup(am_worker *w, const am_config *cfg, am_err *err)
{
	if (!cfg->redis.url[0])
		return 0;
	am_redis_opts o = { .url = cfg->redis.url,
		            .password_file = cfg->redis.password_file,
		            .prefix = cfg->redis.prefix,
		            .connect_timeout_ms = 500,
		            .timeout_ms = 2000 };
	if (am_redis_new(&w->shared, &o, err))
		return -1;
	w->on_failure = cfg->redis.on_failure;
	w->local_share_pct = cfg->redis.local_share_pct;
	w->lease_s = cfg->redis.lease_s;
	w->cache_ttl_s = cfg->cache.ttl_s;
	w->cache_max_bytes = cfg->cache.max_bytes;
	w->shared_init_ppm = (int32_t)(cfg->limits.init_fill_pct * 10000);
	/* A host is its ledger: every process on one ledger publishes the same
	 * totals. A member is this process: its reservations. */
	char host[256] = "";
	gethostname(host, sizeof host - 1);
	char real[4096];
	const char *db = realpath(w->db_path, real) ? real : w->db_path;
	uint64_t h = 0xcbf29ce484222325ULL;
	fnv(&h, host);
	fnv(&h, "\n");
	fnv(&h, db);
	snprintf(w->host_id, sizeof w->host_id, "%.40s-%016" PRIx64, host, h);
	snprintf(w->member_id, sizeof w->member_id, "%s-%ld-%" PRIx64, w->host_id, (long)getpid(),
	         (uint64_t)now_mono(w) & 0xffffff);
	build_pools(w, now_mono(w));
	w->shared_told = true; /* the first tick says how it went */
	w->shared_was_up = true;
	return 0;
}

static am_redis_budget_id budget_id(const am_worker *w)
{
	return (am_redis_budget_id){ w->host_id, w->member_id, w->lease_s };
}

static void res_id(const wjob *j, char *buf, size_t n)
{
	snprintf(buf, n, "j%" PRId64, j->handle);
}

/* Whether the shared state is in use now (set up and answering). */
static bool shared_on(const am_worker *w)
{
	return w->shared && am_redis_up(w->shared);
}

bool wk_shared_holding(const am_worker *w)
{
	return w->shared && !am_redis_up(w->shared) && w->on_failure == AM_REDIS_PAUSE;
}

/* on_failure local: the local limiter alone, at local_share_pct of each
 * limit; back to the whole limits when Redis is back. */
static void local_share(am_worker *w, int64_t now, bool alone)
{
	for (int i = 0; i < am_rl_npools(w->rl) && i < AM_RL_MAX_POOLS; i++)
		for (int d = 0; d < AM_RL_NCOST; d++) {
			const am_redis_rl_dim *x = &w->spool[i].dim[d];
			if (x->limit <= 0 || x->period_ns <= 0)
				continue;
			int64_t per_min = x->limit * 60 * AM_NS_PER_SEC / x->period_ns;
			if (alone)
				per_min = per_min * w->local_share_pct / 100 > 0
				              ? per_min * w->local_share_pct / 100
				              : 1;
			am_err err;
			am_rl_set_limit(w->rl, i, d, per_min, now, &err);
		}
}

/* A Redis call failed: say so once, and switch to what on_failure says. */
static void went_down(am_worker *w, int64_t now)
{
	if (!w->shared_was_up)
		return;
	w->shared_was_up = false;
	w->dirty = true;
	if (w->on_failure == AM_REDIS_LOCAL) {
		local_share(w, now, true);
		wk_notice(w, "redis: %s is unreachable (%s); going on alone with %" PRId64
		             "%% of each limit and the local budget (redis.on_failure local)",
		          am_redis_where(w->shared), am_redis_why(w->shared), w->local_share_pct);
	} else {
		wk_notice(w, "redis: %s is unreachable (%s); calls are held until it is back "
		             "(redis.on_failure pause)",
		          am_redis_where(w->shared), am_redis_why(w->shared));
	}
}

/* Publishes this host's totals with the releases waiting; false when Redis
 * failed (they wait for the next one). */
static bool publish(am_worker *w, int64_t now)
{
	am_budget_now bn;
	wk_budget_now(w, &bn);
	am_budget_view v;
	am_budget_snapshot(w->budget, &bn, &v);
	am_redis_budget_id id = budget_id(w);
	am_redis_totals t;
	am_err err;
	if (am_redis_budget_publish(w->shared, &id, bn.day, bn.month, v.day_spent_pusd,
	                            v.month_spent_pusd, (const char *const *)w->release,
	                            w->nrelease, &t, &err)) {
		if (!am_redis_up(w->shared))
			went_down(w, now);
		else
			wk_notice(w, "redis: %s", err.msg);
		return false;
	}
	for (int i = 0; i < w->nrelease; i++)
		free(w->release[i]);
	w->nrelease = 0;
	w->org = t;
	w->org_valid = true;
	w->dirty = true;
	w->next_publish = now + PUBLISH_MS * AM_NS_PER_MS;
	return true;
}

/* Back: the reservations Redis may have lost (a restart), then the totals. */
static void came_back(am_worker *w, int64_t now)
{
	am_redis_budget_id id = budget_id(w);
	const char *ids[64];
	char idbuf[64][RES_ID_MAX];
	int64_t amounts[64];
	int n = 0;
	am_err err;
	for (wjob *j = w->all; j; j = j->all_next) {
		if (!j->shared_res)
			continue;
		res_id(j, idbuf[n], sizeof idbuf[n]);
		ids[n] = idbuf[n];
		amounts[n] = j->reserved_pusd;
		if (++n == 64) {
			am_redis_budget_rehold(w->shared, &id, ids, amounts, n, &err);
			n = 0;
		}
	}
	am_redis_budget_rehold(w->shared, &id, ids, amounts, n, &err);
	if (!publish(w, now))
		return;
	if (!w->shared_was_up) {
		if (w->on_failure == AM_REDIS_LOCAL)
			local_share(w, now, false);
		wk_notice(w, "redis: %s is back; this host's spend is settled with the organisation",
		          am_redis_where(w->shared));
	}
	w->shared_was_up = true;
	w->budget_changed = true;
}

void wk_shared_tick(am_worker *w, int64_t now)
{
	if (!w->shared)
		return;
	if (w->shared_told) {
		/* The first tick: connect, or say at once that it cannot. */
		w->shared_told = false;
		if (am_redis_ensure(w->shared, now) < 0)
			went_down(w, now);
		else
			came_back(w, now);
		return;
	}
	int rc = am_redis_ensure(w->shared, now);
	if (rc == 1) {
		came_back(w, now);
		return;
	}
	if (rc < 0) {
		went_down(w, now);
		return;
	}
	if (now >= w->next_publish) {
		/* Limits the local limiter adopted from headers or the keyboard
		 * since: the shared buckets follow (not while it runs alone at a
		 * share of them, which is what going back restores). */
		if (w->shared_was_up)
			build_pools(w, now);
		publish(w, now);
		if (w->blocked.n)
			w->budget_changed = true;
	}
}

void wk_shared_teardown(am_worker *w)
{
	if (!w->shared)
		return;
	/* Every reservation this process holds goes: its jobs stay queued. */
	for (wjob *j = w->all; j; j = j->all_next)
		if (j->shared_res)
			wk_shared_release(w, j);
	if (am_redis_up(w->shared) && w->budget)
		publish(w, now_mono(w));
	for (int i = 0; i < w->nrelease; i++)
		free(w->release[i]);
	free(w->release);
	w->release = NULL;
	w->nrelease = w->release_cap = 0;
	am_redis_free(w->shared);
	w->shared = NULL;
}

/* ---- budget ------------------------------------------------------------------------ */

int wk_shared_reserve(am_worker *w, wjob *j, const am_budget_now *bn, char *why, size_t n)
{
	if (!shared_on(w))
		return w->on_failure == AM_REDIS_LOCAL || !w->shared ? 1 : -1;
	char id[RES_ID_MAX];
	res_id(j, id, sizeof id);
	am_redis_budget_id bid = budget_id(w);
	am_redis_verdict v;
	am_redis_totals t;
	am_err err;
	if (am_redis_budget_reserve(w->shared, &bid, bn->day, bn->month, id, j->reserved_pusd,
	                            w->bcfg.day_limit_pusd, w->bcfg.month_limit_pusd, &v, &t,
	                            &err)) {
		if (!am_redis_up(w->shared)) {
			went_down(w, now_mono(w));
			return w->on_failure == AM_REDIS_LOCAL ? 1 : -1;
		}
		snprintf(why, n, "the shared budget failed: %s", err.msg);
		return 0;
	}
	w->org = t;
	w->org_valid = true;
	if (v == AM_REDIS_RESERVED) {
		j->shared_res = true;
		return 1;
	}
	char spent[32], held[32], lim[32];
	bool day = v == AM_REDIS_BLOCKED_DAY;
	am_money_format(day ? t.day_pusd : t.month_pusd, spent, sizeof spent);
	am_money_format(t.reserved_pusd, held, sizeof held);
	am_money_format(day ? w->bcfg.day_limit_pusd : w->bcfg.month_limit_pusd, lim, sizeof lim);
	snprintf(why, n, "the organisation's %s budget: $%s spent and $%s held of $%s",
	         day ? "daily" : "monthly", spent, held, lim);
	return 0;
}

void wk_shared_release(am_worker *w, wjob *j)
{
	if (!j->shared_res)
		return;
	j->shared_res = false;
	if (w->nrelease == w->release_cap) {
		w->release_cap = w->release_cap ? 2 * w->release_cap : 16;
		w->release = am_xrealloc(w->release, (size_t)w->release_cap * sizeof *w->release);
	}
	char id[RES_ID_MAX];
	res_id(j, id, sizeof id);
	w->release[w->nrelease++] = am_xstrdup(id);
}

void wk_shared_settled(am_worker *w, wjob *j, int64_t now)
{
	if (!w->shared)
		return;
	wk_shared_release(w, j);
	if (am_redis_up(w->shared))
		publish(w, now);
}

/* ---- limits -------------------------------------------------------------------------- */

void wk_shared_gate(am_worker *w, wjob *j)
{
	/* Granted locally: waits in the limit list (it still counts against the
	 * concurrency) for the shared grant, in the order of local grants. */
	j->swait = true;
	j->st = W_LIMIT;
	jl_push(&w->limit, j);
	w->nswait++;
}

bool wk_shared_gating(const am_worker *w)
{
	return shared_on(w);
}

static void unwait(am_worker *w, wjob *j)
{
	j->swait = false;
	w->nswait--;
	jl_remove(&w->limit, j);
}

void wk_shared_send(am_worker *w, int64_t now, bool hold)
{
	if (!w->nswait)
		return;
	for (wjob *j = w->limit.head, *next; j; j = next) {
		next = j->next;
		if (!j->swait)
			continue;
		int pool = j->ticket.pool;
		if (hold || wk_holding(w, now) || (!shared_on(w) && w->on_failure == AM_REDIS_PAUSE)) {
			/* Holding: the local tokens and the reservation go back. */
			unwait(w, j);
			wk_give_back(w, j, now);
			continue;
		}
		if (!shared_on(w)) {
			/* on_failure local: the local grant is enough. */
			unwait(w, j);
			wk_start_call(w, j);
			continue;
		}
		if (w->swait_at[pool] > now)
			continue;
		int64_t cost[AM_RL_NDIMS];
		for (int d = 0; d < AM_RL_NDIMS; d++)
			cost[d] = j->ticket.cost[d];
		int64_t wait = 0;
		am_err err;
		int rc = am_redis_rl_acquire(w->shared, &w->spool[pool], cost, &j->sgrant, &wait,
		                             &err);
		if (rc == 1) {
			w->swait_at[pool] = 0;
			j->sgrant_live = true;
			unwait(w, j);
			wk_start_call(w, j);
		} else if (rc == 0) {
			w->swait_at[pool] = now + wait;
		} else if (!am_redis_up(w->shared)) {
			went_down(w, now);
			next = w->limit.head; /* start over: every waiting job is handled above */
		} else {
			unwait(w, j);
			am_rl_cancel(w->rl, &j->ticket, now);
			j->ticket_live = false;
			wk_finish_failed(w, j, err.msg);
		}
	}
}

int64_t wk_shared_next_event(const am_worker *w)
{
	int64_t next = INT64_MAX;
	if (!w->nswait)
		return next;
	for (const wjob *j = w->limit.head; j; j = j->next)
		if (j->swait && w->swait_at[j->ticket.pool] < next)
			next = w->swait_at[j->ticket.pool];
	return next;
}

/* The call's shared charge: final with `actual` {REQ, ITOK, OTOK} refunds
 * the difference (NULL: it never left, everything goes back); not final
 * (a stream's headers) only calibrates. h: the headers (may be NULL). */
void wk_shared_settle(am_worker *w, wjob *j, const int64_t *actual, const am_rl_headers *h,
                      bool final, int64_t now)
{
	if (!w->shared || !j->sgrant_live)
		return;
	if (final)
		j->sgrant_live = false;
	if (!shared_on(w))
		return;
	int64_t refund[AM_RL_NDIMS] = { 0 };
	for (int d = 0; d < AM_RL_NCOST; d++)
		refund[d] = j->sgrant.cost[d] - (actual ? actual[d] : 0);
	refund[AM_RL_REQ_SHORT] = actual ? 0 : j->sgrant.cost[AM_RL_REQ_SHORT];
	am_err err;
	if (am_redis_rl_settle(w->shared, &w->spool[j->ticket.pool], &j->sgrant,
	                       final ? refund : NULL, h, now - j->t_sent, &err) &&
	    !am_redis_up(w->shared))
		went_down(w, now);
}

void wk_shared_on_429(am_worker *w, wjob *j, const am_rl_headers *h, int dim, int64_t now)
{
	j->sgrant_live = false; /* the server charged it, or not: nothing back */
	if (!shared_on(w))
		return;
	int64_t retry = h && h->has_retry_after ? h->retry_after_ns : 0;
	am_err err;
	if (am_redis_rl_on_429(w->shared, &w->spool[j->ticket.pool],
	                       dim == AM_RL_DIM_UNKNOWN ? AM_RL_REQ : dim, retry, h, &err) &&
	    !am_redis_up(w->shared))
		went_down(w, now);
}

/* ---- cache -------------------------------------------------------------------------- */

int wk_shared_cache_get(am_worker *w, wjob *j, am_cache_answer *a)
{
	if (!shared_on(w))
		return 0;
	am_err err;
	int rc = am_redis_cache_get(w->shared, j->key, a, &err);
	if (rc < 0 && !am_redis_up(w->shared))
		went_down(w, now_mono(w));
	return rc == 1;
}

void wk_shared_cache_put(am_worker *w, wjob *j, const am_cache_answer *a)
{
	if (!shared_on(w))
		return;
	am_err err;
	if (am_redis_cache_put(w->shared, j->key, a, w->cache_ttl_s, w->cache_max_bytes, NULL, &err) &&
	    !am_redis_up(w->shared))
		went_down(w, now_mono(w));
}

void wk_shared_snapshot(const am_worker *w, am_snap_org *o)
{
	memset(o, 0, sizeof *o);
	if (!w->shared)
		return;
	o->on = true;
	o->up = am_redis_up(w->shared) && w->shared_was_up;
	o->local = !o->up && w->on_failure == AM_REDIS_LOCAL;
	if (w->org_valid) {
		o->day_pusd = w->org.day_pusd;
		o->month_pusd = w->org.month_pusd;
		o->reserved_pusd = w->org.reserved_pusd;
		o->host_day_pusd = w->org.host_day_pusd;
	}
}
