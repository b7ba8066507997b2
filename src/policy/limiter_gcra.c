/* limiter_gcra: one GCRA bucket (struct dim) in integers: parameters from
 * limit, period, burst and share; the level at a time; setting a level;
 * rescaling with level continuity; debts and capped refunds; the lazy +1%
 * per minute share recovery. See limiter.h for the model and
 * limiter_int.h for the representation. */
#include "limiter_int.h"

/* Units in a span of ns, exactly: span * limit * share / (period * 1e6). */
int64_t rl_units_of(const struct dim *d, int64_t span, bool up)
{
	if (span <= 0 || !d->limit)
		return 0;
	u128 num = (u128)span * (u128)d->limit * (u128)d->share;
	u128 den = (u128)d->period * PPM;
	u128 q = num / den;
	if (up && q * den != num)
		q++;
	return q > (u128)INT64_MAX ? INT64_MAX : (int64_t)q;
}

/* Recomputes everything derived from limit, period, burst and share. */
void rl_dim_params(struct dim *d)
{
	if (!d->limit) {
		d->cap = 0;
		d->q_up = d->q_dn = d->q_up_hi = d->q_dn_hi = 0;
		d->n_max_up = d->n_max_dn = INT64_MAX;
		d->n_fast = INT64_MAX;
		d->tau = 0;
		return;
	}
	u128 capu = (u128)d->limit * (u128)d->burst_ns / (u128)d->period;
	d->cap = capu < 1 ? 1 : capu > (u128)COST_MAX ? COST_MAX : (int64_t)capu;
	u128 num = ((u128)d->period * PPM) << FRAC;
	u128 den = (u128)d->limit * (u128)d->share;
	u128 qd = num / den;
	u128 qu = qd + (qd * den != num);
	d->q_dn = (uint64_t)qd;
	d->q_dn_hi = (uint64_t)(qd >> 64);
	d->q_up = (uint64_t)qu;
	d->q_up_hi = (uint64_t)(qu >> 64);
	/* n * q must stay below 2^126 and the result within int64. */
	u128 lim = (((u128)1) << 62) << FRAC;
	u128 nu = lim / qu, nd = lim / (qd ? qd : 1);
	d->n_max_up = nu > (u128)INT64_MAX ? INT64_MAX : (int64_t)nu;
	d->n_max_dn = nd > (u128)INT64_MAX ? INT64_MAX : (int64_t)nd;
	d->n_fast = d->q_up_hi ? 0 : (uint64_t)d->n_max_up; /* n_max_up <= n_max_dn */
	d->tau = ns_up(d, d->cap);
}

/* Level at t in whole units, rounded down (deficit rounded up). */
int64_t rl_dim_level(const struct dim *d, int64_t t)
{
	if (!d->limit)
		return 0;
	if (d->tat <= t)
		return d->cap;
	int64_t def = clamp64((i128)d->tat - t);
	return clamp64((i128)d->cap - rl_units_of(d, def, true));
}

/* Sets TAT so that the level at t is `level` units (clamped to capacity). */
void rl_dim_set_level(struct dim *d, int64_t t, int64_t level)
{
	if (!d->limit)
		return;
	if (level >= d->cap) {
		d->tat = min64(d->tat, t);
		return;
	}
	d->tat = sadd(t, ns_up(d, clamp64((i128)d->cap - level)));
}

/* Applies a change of parameters at t keeping the level in units (never
 * more than the new capacity: no unearned burst, no stale reservation). */
void rl_dim_rescale(struct dim *d, int64_t t, int64_t limit, int64_t burst_ns,
			int64_t share, int32_t init_fill)
{
	bool was = d->limit != 0;
	int64_t lvl = rl_dim_level(d, t);
	d->limit = limit;
	d->burst_ns = burst_ns;
	d->share = share;
	rl_dim_params(d);
	if (!d->limit)
		return;
	if (!was) /* coming out of "unlimited": start as a new pool would */
		lvl = (int64_t)((i128)d->cap * init_fill / PPM);
	d->tat = t;
	rl_dim_set_level(d, t, min64(lvl, d->cap));
}

int64_t rl_dim_effective_limit(const struct dim *d)
{
	int64_t l = d->limit_srv > 0 ? d->limit_srv : d->limit_cfg;
	if (d->limit_cap > 0 && d->limit_cap < l)
		l = d->limit_cap;
	/* A request leaves some time after its grant, and that time varies (the
	 * worker's pass, the transfer's start): two grants one interval apart
	 * can reach the server closer together. A server bucket of a request or
	 * a few, refilled at the same rate, has no room for that: the short
	 * request bucket runs 1/129 slower (at least 1 a period: 9 ms in an
	 * interval of 1.2 s, 50 RPM). */
	if (d->guarded && l > 1)
		l -= max64(1, l / 129);
	return l;
}

/* Per-minute figure (keyboard, headers) -> units per this dimension's period. */
int64_t rl_per_period(const struct dim *d, int64_t per_minute)
{
	if (per_minute <= 0)
		return 0;
	if (d->period == PERIOD_DEFAULT)
		return per_minute;
	i128 v = (i128)per_minute * d->period / PERIOD_DEFAULT;
	return v < 1 ? 1 : clamp64(v);
}

/* A limit is usable when its widest span (capacity at the minimum share)
 * fits SPAN_MAX. */
bool rl_span_ok(int64_t limit, int64_t period, int64_t burst_ns)
{
	if (!limit)
		return true;
	if (limit < 0 || limit > LIMIT_MAX || period <= 0 || period > PERIOD_MAX ||
	    burst_ns <= 0 || burst_ns > PERIOD_MAX)
		return false;
	struct dim d = { .limit = limit, .period = period, .burst_ns = burst_ns,
			 .share = SHARE_MIN };
	rl_dim_params(&d);
	return d.tau < SPAN_MAX;
}

/* Additive share recovery, applied lazily in whole steps. */
void rl_dims_recover(struct dim *dims, int64_t t, int32_t init_fill)
{
	for (int i = 0; i < AM_RL_NDIMS; i++) {
		struct dim *d = &dims[i];
		if (d->recover_at > t)
			continue;
		int64_t steps = 1 + (t - d->recover_at) / RECOVER_NS;
		int64_t share = min64(PPM, d->share + (steps > PPM ? PPM : steps) * SHARE_STEP);
		rl_dim_rescale(d, t, d->limit, d->burst_ns, share, init_fill);
		d->recover_at = share >= PPM ? INT64_MAX
					     : sadd(d->recover_at, steps * RECOVER_NS);
	}
}

/* Refreshes the pool's summaries of its dimensions (earliest share step,
 * latest 429 cooldown) so that the common case tests one integer each.
 * Call after every change to a dimension's recover_at or cooldown. */
void rl_pool_summarize(struct pool *p)
{
	p->recover_min = INT64_MAX;
	p->gate = INT64_MIN;
	for (int i = 0; i < AM_RL_NDIMS; i++) {
		p->recover_min = min64(p->recover_min, p->d[i].recover_at);
		p->gate = max64(p->gate, p->d[i].cooldown);
	}
}
