/* test_limit_property: randomised operation streams (acquire, try, poll,
 * sent, confirm, settle with debt or refund, cancel, stale and backward
 * time) replayed into an exact reference bucket per dimension (rational
 * levels as 128-bit integers, level * period). Checked after every step:
 *  - safety: the reference never goes below zero at a grant (the limiter
 *    never admits what the exact bucket would not);
 *  - the limiter's level is never above the reference's, and never more
 *    than 2 ns of rate per operation below it (charges round up by < 1 ns,
 *    refunds and caps round by < 1 ns each), so precision cannot drift;
 * and over the whole run: for every dimension and every 60 s window,
 * granted - refunded <= limit + capacity + 1 (G1). 10^5 operations per
 * seed, 24 seeds. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "limitfix.h"
#include "limiter.h"

#define T0 (7 * LF_S)
#define MS 1000000LL
#define NT 48
#define OPS 100000

struct ref {
	lf_i128 s[AM_RL_NDIMS];  /* level * period */
	int64_t unconf[AM_RL_NDIMS];
	int64_t t;
	int64_t since_full[AM_RL_NDIMS];
};

struct evt {
	int64_t t;
	lf_i128 units_p;        /* + granted, - credited refund, scaled by period */
};

struct run {
	am_rl *rl;
	am_rl_raw cfg;          /* limit, capacity per dimension */
	int64_t period;
	struct ref r;
	struct evt *ev[AM_RL_NDIMS];
	int nev[AM_RL_NDIMS], capev;
	bool confirmed[NT];
};

static void ref_refill(struct run *u, int64_t now)
{
	int64_t t = now > u->r.t ? now : u->r.t;
	for (int d = 0; d < AM_RL_NDIMS; d++) {
		if (!u->cfg.limit[d])
			continue;
		lf_i128 full = (lf_i128)u->cfg.capacity[d] * u->period;
		u->r.s[d] += (lf_i128)(t - u->r.t) * u->cfg.limit[d];
		if (u->r.s[d] >= full) {
			u->r.s[d] = full;
			u->r.since_full[d] = 0;
		}
	}
	u->r.t = t;
}

/* The reference follows the limiter's clamped clock exactly. */
static void ref_sync(struct run *u)
{
	am_rl_raw raw;
	am_rl_export(u->rl, 0, &raw);
	LF_CHECK(raw.last_now >= u->r.t, "the clamp went back");
	ref_refill(u, raw.last_now);
}

static void add_ev(struct run *u, int d, lf_i128 v)
{
	if (u->nev[d] == u->capev)
		ck_abort_msg("event log full");
	u->ev[d][u->nev[d]++] = (struct evt){ u->r.t, v };
}

static void ref_grant(struct run *u, const am_rl_ticket *t)
{
	LF_CHECK(t->t_grant == u->r.t, "granted at a time other than the clamp");
	for (int d = 0; d < AM_RL_NDIMS; d++) {
		if (!u->cfg.limit[d])
			continue;
		u->r.s[d] -= (lf_i128)t->cost[d] * u->period;
		LF_CHECK(u->r.s[d] >= 0, "dim %d: the exact bucket went below zero", d);
		u->r.unconf[d] += t->cost[d];
		add_ev(u, d, (lf_i128)t->cost[d] * u->period);
		u->r.since_full[d]++;
	}
}

static void ref_unconfirm(struct run *u, const am_rl_ticket *t, int idx)
{
	if (u->confirmed[idx])
		return;
	u->confirmed[idx] = true;
	for (int d = 0; d < AM_RL_NDIMS; d++)
		if (u->cfg.limit[d])
			u->r.unconf[d] -= t->cost[d];
}

/* actual - charged on each dimension: debt, or a refund capped at
 * capacity minus unconfirmed. */
static void ref_correct(struct run *u, const am_rl_ticket *t, const int64_t *actual)
{
	for (int d = 0; d < AM_RL_NDIMS; d++) {
		if (!u->cfg.limit[d])
			continue;
		int64_t a = actual[d == AM_RL_REQ_SHORT ? AM_RL_REQ : d];
		lf_i128 delta = (lf_i128)(a - t->cost[d]) * u->period;
		lf_i128 *s = &u->r.s[d];
		if (delta > 0) {
			*s -= delta;
		} else if (delta < 0) {
			lf_i128 cap = (lf_i128)(u->cfg.capacity[d] - u->r.unconf[d]) * u->period;
			lf_i128 want = *s - delta;
			lf_i128 ns = want < cap ? want : cap;
			if (ns > *s) {
				add_ev(u, d, -(ns - *s));
				*s = ns;
			}
		}
		u->r.since_full[d]++;
	}
}

/* Limiter level vs the reference, exactly. */
static void compare(struct run *u)
{
	am_rl_raw raw;
	am_rl_export(u->rl, 0, &raw);
	for (int d = 0; d < AM_RL_NDIMS; d++) {
		if (!u->cfg.limit[d])
			continue;
		lf_i128 def = raw.tat[d] > u->r.t ? (lf_i128)(raw.tat[d] - u->r.t) : 0;
		lf_i128 lim = (lf_i128)u->cfg.capacity[d] * u->period - def * u->cfg.limit[d];
		LF_CHECK(lim <= u->r.s[d], "dim %d: limiter above the exact level", d);
		lf_i128 slack = (lf_i128)(2 * u->r.since_full[d] + 2) * u->cfg.limit[d];
		LF_CHECK(u->r.s[d] - lim <= slack,
			      "dim %d: limiter %lld ns behind after %lld ops", d,
			      (long long)((u->r.s[d] - lim) / u->cfg.limit[d]),
			      (long long)u->r.since_full[d]);
	}
}

/* G1 over every window [s, s + 60 s]. */
static void check_windows(struct run *u)
{
	const int64_t w = 60 * LF_S;
	bool near = false;
	for (int d = 0; d < AM_RL_NDIMS; d++) {
		if (!u->cfg.limit[d])
			continue;
		lf_i128 bound = ((lf_i128)u->cfg.limit[d] * w / u->period + u->cfg.capacity[d] + 1) *
				u->period;
		lf_i128 sum = 0, worst = 0;
		int lo = 0;
		for (int hi = 0; hi < u->nev[d]; hi++) {
			sum += u->ev[d][hi].units_p;
			while (u->ev[d][lo].t < u->ev[d][hi].t - w)
				sum -= u->ev[d][lo++].units_p;
			if (sum > worst)
				worst = sum;
		}
		LF_CHECK(worst <= bound, "dim %d: %lld units in a 60 s window, bound %lld", d,
			      (long long)(worst / u->period), (long long)(bound / u->period));
		near |= worst * 2 > (lf_i128)u->cfg.limit[d] * u->period;
	}
	LF_CHECK(near, "the run never came near any limit");
}

static int idx_of(const struct run *u, const am_rl_ticket *base, const am_rl_ticket *t)
{
	(void)u;
	return (int)(t - base);
}

START_TEST(window_invariant_vs_exact_model)
{
	uint64_t rs = 0xabcdef + (uint64_t)_i * 7919;
	struct run u;
	memset(&u, 0, sizeof u);
	u.period = 60 * LF_S;
	am_rl_pool_cfg pc = lf_pool("p", lf_range(&rs, 50, 4000), lf_range(&rs, 20000, 2000000),
				    lf_range(&rs, 8000, 400000));
	pc.short_window_ns = lf_range(&rs, 0, 1) ? LF_S : 0;
	pc.dim[AM_RL_ITOK].burst_ns = lf_range(&rs, 1, 60) * LF_S;
	pc.dim[AM_RL_OTOK].burst_ns = lf_range(&rs, 1, 60) * LF_S;
	pc.init_fill_ppm = (int32_t)lf_range(&rs, 0, 1000000);
	pc.max_in_flight = (int)lf_range(&rs, 4, NT);
	u.rl = lf_new(&pc, 1, (int)lf_range(&rs, 0, 8), T0);
	am_rl_export(u.rl, 0, &u.cfg);
	u.r.t = T0;
	for (int d = 0; d < AM_RL_NDIMS; d++) {
		int64_t lvl = u.cfg.tat[d] > T0 ? u.cfg.tat[d] - T0 : 0;
		u.r.s[d] = (lf_i128)u.cfg.capacity[d] * u.period - (lf_i128)lvl * u.cfg.limit[d];
	}
	u.capev = 4 * OPS;
	for (int d = 0; d < AM_RL_NDIMS; d++)
		u.ev[d] = malloc((size_t)u.capev * sizeof *u.ev[d]);
	am_rl_ticket *t = calloc(NT, sizeof *t);
	int64_t now = T0, truth = T0;
	int64_t mean_in = u.cfg.capacity[AM_RL_ITOK] / 20 + 1;
	int64_t mean_out = u.cfg.capacity[AM_RL_OTOK] / 20 + 1;
	/* time steps sized so that the offered load is about 2x the rate */
	int64_t step = u.period / u.cfg.limit[AM_RL_REQ] + 1;
	for (int op = 0; op < OPS; op++) {
		int k = (int)lf_range(&rs, 0, 99);
		if (k < 10)
			truth += lf_range(&rs, 0, step);
		/* sometimes a stale reading, up to 5 s old (clocks read before a
		 * lock, out-of-order threads) */
		now = k >= 90 ? truth - lf_range(&rs, 0, 5 * LF_S) : truth;
		am_rl_ticket *x = &t[lf_range(&rs, 0, NT - 1)];
		int xi = idx_of(&u, t, x);
		if (x->state == AM_RL_ST_IDLE || x->state == AM_RL_ST_SETTLED ||
		    x->state == AM_RL_ST_CANCELLED) {
			int64_t in = (int64_t)lf_lognormal(&rs, (double)mean_in, 1.0);
			int64_t out = lf_range(&rs, 0, 2 * mean_out);
			if (in > u.cfg.capacity[AM_RL_ITOK])
				in = u.cfg.capacity[AM_RL_ITOK];
			if (out > u.cfg.capacity[AM_RL_OTOK])
				out = u.cfg.capacity[AM_RL_OTOK];
			lf_ticket(u.rl, x, 0, 1, in, out);
			u.confirmed[xi] = false;
			int rc = lf_range(&rs, 0, 3) ? am_rl_acquire(u.rl, x, now, NULL)
						     : am_rl_try_acquire(u.rl, x, now, NULL, NULL);
			LF_CHECK(rc >= 0, "acquire failed");
			ref_sync(&u);
			if (rc == 1)
				ref_grant(&u, x);
		} else if (x->state == AM_RL_ST_GRANTED && k % 3 == 0) {
			am_rl_sent(u.rl, x, now);
			ref_sync(&u);
		} else if (x->state == AM_RL_ST_SENT && k % 2 == 0) {
			am_rl_confirm(u.rl, x, now);
			ref_sync(&u);
			ref_unconfirm(&u, x, xi);
		} else if ((x->state == AM_RL_ST_CONFIRMED || x->state == AM_RL_ST_SENT) && k % 5 < 3) {
			int64_t a[3] = { 1, x->cost[1] * lf_range(&rs, 50, 120) / 100,
					 lf_range(&rs, 0, x->cost[2] * 11 / 10) };
			am_rl_settle(u.rl, x, a, now);
			ref_sync(&u);
			ref_unconfirm(&u, x, xi);
			ref_correct(&u, x, a);
		} else if (k >= 97) {
			am_rl_state st = x->state;
			am_rl_cancel(u.rl, x, now);
			ref_sync(&u);
			if (st == AM_RL_ST_GRANTED || st == AM_RL_ST_SENT || st == AM_RL_ST_CONFIRMED) {
				ref_unconfirm(&u, x, xi);
				if (st == AM_RL_ST_GRANTED)
					ref_correct(&u, x, (int64_t[3]){ 0, 0, 0 });
			}
		}
		am_rl_ticket *out[NT];
		int n = am_rl_poll(u.rl, now, out, NT);
		ref_sync(&u);
		for (int i = 0; i < n; i++) {
			LF_CHECK(out[i]->state == AM_RL_ST_GRANTED, "poll returned a failed ticket");
			ref_grant(&u, out[i]);
		}
		compare(&u);
	}
	check_windows(&u);
	for (int d = 0; d < AM_RL_NDIMS; d++)
		free(u.ev[d]);
	free(t);
	am_rl_free(u.rl);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("limit_property");
	TCase *tc = tcase_create("property");
	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, window_invariant_vs_exact_model, 0, 24);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return lf_run_suite(suite());
}
