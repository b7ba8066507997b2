/* limiter_feedback: what the server tells the limiter after a grant:
 * rate-limit headers (adopting a reported limit, calibrating the level,
 * counting foreign use) and 429s (pausing the dimension, cutting its
 * share, requeueing the ticket). See limiter.h. */
#include "limiter_int.h"

#include <string.h>

static const int hdr_dim[AM_RL_NCOST] = { AM_RLH_REQUESTS, AM_RLH_INPUT_TOKENS,
					  AM_RLH_OUTPUT_TOKENS };

/* A server-reported per-minute limit for cost index c: adopt it with level
 * continuity (REQ carries REQ_SHORT along). */
static void adopt_limit(struct pool *p, int c, int64_t per_minute, int64_t t)
{
	int ds[2];
	int nd = dims_of(c, ds);
	for (int j = 0; j < nd; j++) {
		struct dim *d = &p->d[ds[j]];
		if (short_off(ds[j], d))
			continue;
		int64_t srv = rl_per_period(d, per_minute);
		if (srv == d->limit_srv || !rl_span_ok(srv, d->period, d->burst_ns))
			continue;
		d->limit_srv = srv;
		int64_t eff = rl_dim_effective_limit(d);
		if (eff != d->limit)
			rl_dim_rescale(d, t, eff, d->burst_ns, d->share, p->init_fill);
	}
}

/* Upper bound on the server's level (units) when it made the headers, or
 * INT64_MAX when the headers say nothing. */
static int64_t header_upper(const struct dim *d, int c, const am_rl_bucket_hdr *b,
			    const am_rl_headers *h)
{
	int64_t u = INT64_MAX;
	if (b->has_remaining)
		u = sadd(b->remaining, c == AM_RL_REQ ? 0 : TOKEN_ROUNDING);
	if (b->has_reset && h->has_date) {
		/* Both stamps have 1 s resolution: the true time to full is more
		 * than (reset - date) - 2 s. Capacity is at most the limit. */
		int64_t ttf = clamp64((i128)b->reset_ns - h->date_ns - 2 * NS_PER_S);
		int64_t l = d->limit_srv > 0 ? d->limit_srv : d->limit_cfg;
		if (ttf > 0 && l > 0) {
			i128 refilled = (i128)l * ttf / d->period;
			u = min64(u, clamp64((i128)l - refilled));
		}
	}
	return u;
}

/* Lower bound on what the server holds for this process now, from the
 * headers of tk's admitted response, or INT64_MIN when they cannot tell
 * or when others spend from the same buckets (the server misses more of
 * its limit than this pool ever charged).
 * The server's level when it wrote them is at least remaining minus the
 * rounding (tokens are rounded to the nearest thousand; a remaining of 0
 * may hide a debt and tells nothing), and, for tokens, at least the
 * reported limit minus the refill the reset time still needs (the two
 * stamps have 1 s resolution: the true time to full is less than
 * (reset - date) + 1 s; a token bucket holds its limit). From it goes
 * every charge of ours the server may not have made by then: all that is
 * granted and unconfirmed now, and every grant confirmed after tk was sent
 * (it may have reached the server after tk). For input tokens also the
 * charge of every grant the headers do reflect that is not settled yet:
 * the server charged its actual input, and the settle still to come
 * refunds what the estimate had above that (output refunds come on both
 * sides alike). Refill since the headers and the server's refunds are
 * left out: both only add. */
static int64_t header_lower(const struct pool *p, const struct dim *d, int c,
			    const am_rl_bucket_hdr *b, const am_rl_headers *h,
			    const am_rl_ticket *tk)
{
	int64_t lo = INT64_MIN;
	if (b->has_remaining && b->remaining > 0)
		lo = b->remaining - (c == AM_RL_REQ ? 0 : TOKEN_ROUNDING);
	if (c != AM_RL_REQ && b->has_reset && h->has_date && d->limit_srv > 0) {
		int64_t l = d->limit_srv;
		int64_t ttf = max64(0, clamp64((i128)b->reset_ns - h->date_ns + NS_PER_S));
		i128 need = ((i128)l * ttf + d->period - 1) / d->period;
		lo = max64(lo, clamp64((i128)l - need));
	}
	if (lo == INT64_MIN || p->conf_lost > tk->t_sent)
		return INT64_MIN;
	/* The server's bucket must be the one the model keeps: under a lower
	 * cap of the user's (set_limit) the model is that cap's bucket, of
	 * which no header says anything. Alone? What the server misses of its
	 * limit must be ours: every charge since the pool began (all still in
	 * the ring). Else others are spending too, and their charges in flight
	 * are in no header. */
	int64_t u = header_upper(d, c, b, h);
	if (d->limit_srv <= 0 || d->limit < d->limit_srv || u == INT64_MAX ||
	    p->next_gseq > p->ring_mask + 1)
		return INT64_MIN;
	i128 ours = 0;
	for (uint64_t g = 0; g < p->next_gseq; g++) {
		const struct gent *x = &p->ring[g & p->ring_mask];
		ours += (i128)x->charge[c] + max64(0, x->adj[c]);
	}
	if ((i128)d->limit_srv - u > ours)
		return INT64_MIN;
	i128 pend = d->unconf;
	for (uint64_t k = 0; k <= p->ring_mask; k++) {
		const struct gent *x = &p->ring[k];
		if (x->gseq == UINT64_MAX || x->t_conf == INT64_MAX) /* unconfirmed: in unconf */
			continue;
		if (x->gseq != tk->gseq && x->t_conf > tk->t_sent)
			pend += (i128)x->charge[c] + max64(0, x->adj[c]);
		else if (c == AM_RL_ITOK && x->open)
			pend += x->charge[c];
	}
	return clamp64((i128)lo - pend);
}

static void foreign_add(struct dim *d, int64_t t, int64_t gap)
{
	if (t - d->fw_start >= FOREIGN_WIN_NS) {
		int64_t el = t - d->fw_start;
		int64_t per_min = clamp64((i128)d->fw_sum * FOREIGN_WIN_NS / el);
		d->foreign_pm = clamp64(((i128)d->foreign_pm * 3 + per_min) / 4);
		d->fw_sum = 0;
		d->fw_start = t;
	}
	d->fw_sum = sadd(d->fw_sum, gap);
}

/* Brings dimension c to what the headers allow. Lowers the model to the
 * upper bound on the server's level (any response). For an admitted
 * response (`admitted`: the server charged tk before writing them; false
 * for a 429, whose headers only lower) that bounds the dimension from
 * below (header_lower: only while the pool can tell that it is alone on
 * the server), raises the model to that bound when it is higher; and the
 * first such bound sets the level even when it is lower: it replaces the
 * guess a new pool starts with (init fill) by what the server surely
 * holds. */
static void calibrate(struct pool *p, am_rl_ticket *tk, const am_rl_headers *h,
		      int64_t t, bool admitted)
{
	for (int c = 0; c < AM_RL_NCOST; c++) {
		const am_rl_bucket_hdr *b = &h->b[hdr_dim[c]];
		struct dim *d = &p->d[c];
		if (!b->present)
			continue;
		d->has_srv = true;
		d->srv_rem = b->has_remaining ? b->remaining : d->srv_rem;
		d->srv_reset = b->has_reset ? b->reset_ns : d->srv_reset;
		if (b->has_limit && b->limit > 0)
			adopt_limit(p, c, b->limit, t);
		if (!tk || !d->limit)
			continue;
		int64_t u = header_upper(d, c, b, h);
		struct gent *e = rl_ring_entry(p, tk);
		if (u == INT64_MAX || !e || p->next_gseq - tk->gseq > p->ring_mask)
			continue;
		/* What our model holds that the server's figure did not: the net
		 * of every later grant, this ticket's own corrections, and its
		 * charge when the server rejected it. */
		i128 later = e->adj[c] + (admitted ? 0 : e->charge[c]);
		for (uint64_t g = tk->gseq + 1; g < p->next_gseq; g++) {
			const struct gent *x = &p->ring[g & p->ring_mask];
			later += (i128)x->charge[c] + x->adj[c];
		}
		int64_t l = d->limit_srv > 0 ? d->limit_srv : d->limit_cfg;
		int64_t since = max64(0, t - tk->t_sent);
		i128 refill = (i128)l * since / d->period;
		int64_t target = clamp64((i128)u + refill - later);
		int64_t level = rl_dim_level(d, t);
		int64_t lo = admitted ? header_lower(p, d, c, b, h, tk) : INT64_MIN;
		int64_t gap = 0;
		if (lo != INT64_MIN && !d->calibrated) { /* the guess goes */
			d->calibrated = true;
			rl_dim_set_level(d, t, min64(lo, target));
		} else if (lo != INT64_MIN && lo > level) {
			rl_dim_set_level(d, t, min64(lo, target));
		} else if (level > target) {
			gap = level - target;
			rl_dim_set_level(d, t, target);
		}
		foreign_add(d, t, gap); /* a wrong guess is no one's use */
	}
}

void am_rl_observe(am_rl *rl, am_rl_ticket *t, const am_rl_headers *h, int64_t now)
{
	struct pool *p = t ? rl_pool_of(rl, t) : NULL;
	if (!h || !p)
		return;
	int64_t tn = pool_sync(p, now);
	bool live = rl_holds(t) || t->state == AM_RL_ST_SETTLED;
	if (t->state == AM_RL_ST_GRANTED || t->state == AM_RL_ST_SENT) {
		rl_unconfirm(p, t, tn);
		t->state = AM_RL_ST_CONFIRMED;
	}
	calibrate(p, live ? t : NULL, h, tn, true);
}

int am_rl_dim_from_message(const char *msg)
{
	if (!msg)
		return AM_RL_DIM_UNKNOWN;
	if (strstr(msg, "input tokens") || strstr(msg, "input_tokens"))
		return AM_RL_ITOK;
	if (strstr(msg, "output tokens") || strstr(msg, "output_tokens"))
		return AM_RL_OTOK;
	if (strstr(msg, "requests per") || strstr(msg, "request rate"))
		return AM_RL_REQ;
	return AM_RL_DIM_UNKNOWN;
}

/* Which limit a 429 hit, from the headers: the one whose remaining cannot
 * cover this request, else the emptiest, else REQ. */
static int infer_dim(const struct pool *p, const am_rl_ticket *tk, const am_rl_headers *h)
{
	int best = AM_RL_REQ;
	i128 best_short = 0;
	int emptiest = -1;
	i128 em_num = 0, em_den = 1;
	if (!h)
		return best;
	for (int c = 0; c < AM_RL_NCOST; c++) {
		const am_rl_bucket_hdr *b = &h->b[hdr_dim[c]];
		if (!b->has_remaining || !p->d[c].limit)
			continue;
		i128 room = (i128)b->remaining + (c == AM_RL_REQ ? 0 : TOKEN_ROUNDING);
		i128 shortfall = (i128)tk->cost[c] - room;
		if (shortfall > 0 && shortfall * p->d[c].cap > best_short) {
			best_short = shortfall * p->d[c].cap;
			best = c;
		}
		/* remaining / capacity, compared as fractions */
		if (emptiest < 0 || (i128)b->remaining * em_den < em_num * p->d[c].cap) {
			emptiest = c;
			em_num = b->remaining;
			em_den = p->d[c].cap;
		}
	}
	if (best_short > 0)
		return best;
	return emptiest >= 0 ? emptiest : AM_RL_REQ;
}

void am_rl_on_429(am_rl *rl, am_rl_ticket *t, const am_rl_headers *h, int dim,
		  int64_t now)
{
	struct pool *p = rl_pool_of(rl, t);
	if (!p)
		return;
	if (!rl_holds(t))
		return;
	int64_t tn = pool_sync(p, now);
	/* The server did not charge it: take it back as a settle with zero use. */
	const int64_t zero[AM_RL_NCOST] = { 0, 0, 0 };
	rl_settle_hold(p, t, zero, tn, AM_RL_ST_QUEUED);
	if (h)
		calibrate(p, t, h, tn, false);
	if (dim < 0 || dim >= AM_RL_NCOST)
		dim = infer_dim(p, t, h);
	int64_t ra = h && h->has_retry_after && h->retry_after_ns > 0
	                     ? min64(h->retry_after_ns, RETRY_AFTER_MAX_NS)
	                     : -1;
	if (ra < 0) {
		int n = p->consec429 < 4 ? p->consec429 : 4;
		ra = min64(BACKOFF_MAX_NS, BACKOFF_BASE_NS << n);
	}
	p->consec429++;
	p->n429++;
	int ds[2];
	int nd = dims_of(dim, ds);
	for (int j = 0; j < nd; j++) {
		struct dim *d = &p->d[ds[j]];
		if (!d->limit)
			continue;
		if (j == 0)
			d->n429++;
		/* Unexplained (the model still thinks it fits): the server's
		 * bucket is shorter than ours; halve ours down to 1 s of rate. */
		int64_t burst = d->burst_ns;
		if (rl_dim_level(d, tn) >= t->cost[ds[j]])
			burst = max64(d->burst_ns / 2, min64(d->burst_ns, d->period / 60));
		int64_t share = max64(SHARE_MIN, d->share * 9 / 10);
		rl_dim_rescale(d, tn, d->limit, burst, share, p->init_fill);
		d->recover_at = sadd(tn, RECOVER_NS);
		int64_t until = sadd(tn, ra);
		d->cooldown = max64(d->cooldown, until);
		int64_t room = ns_dn(d, d->cap - min64(t->cost[ds[j]], d->cap));
		d->tat = max64(d->tat, sadd(until, room));
	}
	rl_pool_summarize(p);
	t->t_grant = 0;
	rl_q_insert_by_seq(p, t);
}
