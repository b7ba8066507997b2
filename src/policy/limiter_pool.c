/* limiter_pool: the FIFO of tickets per pool, planning a grant over the
 * four dimensions, backfill, and a ticket's life from init to settle or
 * cancel. See limiter.h for the contract.
 *
 * Hot path. The common call sequence (ticket_init, acquire granted at once,
 * settle) does one pass over the four dimensions per call: acquire tries
 * grant_fast (empty queue, no share step or 429 cooldown due: two pool
 * summaries, recover_min and gate, answer that in two compares) before the
 * general admit/plan/queue path, and settle corrects each dimension in one
 * step. Both give results identical to the general path's. */
#include "limiter_int.h"

#include <string.h>

/* Earliest time at which the costs fit every dimension, given dims; INT64_MAX
 * when the concurrency cap blocks. *blk = the binding dimension (or
 * AM_RL_BLOCK_CONC, or -1 when nothing binds). */
int64_t rl_plan_costs(const struct pool *p, const struct dim *dims,
			  const int64_t *cost, int64_t t, int *blk)
{
	int b = -1;
	int64_t ready = t;
	if (p->in_flight >= p->conc_cap) {
		if (blk)
			*blk = AM_RL_BLOCK_CONC;
		return INT64_MAX;
	}
	for (int i = 0; i < AM_RL_NDIMS; i++) {
		const struct dim *d = &dims[i];
		if (!d->limit)
			continue;
		int64_t r = ready_at(d, d->tat, cost[i]);
		if (cost[i] > 0 && d->cooldown > r)
			r = d->cooldown;
		if (r > ready) {
			ready = r;
			b = i;
		}
	}
	if (blk)
		*blk = b;
	return ready;
}

bool rl_oversize(const struct pool *p, const int64_t *cost, int *which)
{
	for (int i = 0; i < AM_RL_NDIMS; i++)
		if (p->d[i].limit && cost[i] > p->d[i].cap) {
			if (which)
				*which = i;
			return true;
		}
	return false;
}

/* Would granting `cost` at t move the head's planned time past t_head? */
static bool delays_head(const struct pool *p, const int64_t *cost,
			const am_rl_ticket *h, int64_t t, int64_t t_head)
{
	if (p->in_flight + 2 > p->conc_cap)
		return true;
	for (int i = 0; i < AM_RL_NDIMS; i++) {
		const struct dim *d = &p->d[i];
		if (!d->limit)
			continue;
		int64_t tat = sadd(max64(d->tat, t), ns_up(d, cost[i]));
		if (ready_at(d, tat, h->cost[i]) > t_head)
			return true;
	}
	return false;
}

static void q_unlink(struct pool *p, am_rl_ticket *tk)
{
	if (tk->prev)
		tk->prev->next = tk->next;
	else
		p->head = tk->next;
	if (tk->next)
		tk->next->prev = tk->prev;
	else
		p->tail = tk->prev;
	tk->prev = tk->next = NULL;
	p->depth--;
}

static void q_push_tail(struct pool *p, am_rl_ticket *tk)
{
	tk->next = NULL;
	tk->prev = p->tail;
	if (p->tail)
		p->tail->next = tk;
	else
		p->head = tk;
	p->tail = tk;
	p->depth++;
}

/* Requeue keeps FIFO by seq: in front of the first later ticket. */
void rl_q_insert_by_seq(struct pool *p, am_rl_ticket *tk)
{
	am_rl_ticket *at = p->head;
	while (at && at->seq < tk->seq)
		at = at->next;
	if (!at) {
		q_push_tail(p, tk);
		return;
	}
	tk->next = at;
	tk->prev = at->prev;
	if (at->prev)
		at->prev->next = tk;
	else
		p->head = tk;
	at->prev = tk;
	p->depth++;
}

static void grant(struct pool *p, am_rl_ticket *tk, int64_t t)
{
	for (int i = 0; i < AM_RL_NDIMS; i++) {
		struct dim *d = &p->d[i];
		if (d->limit) {
			d->tat = sadd(max64(d->tat, t), ns_up(d, tk->cost[i]));
			d->unconf = sadd(d->unconf, tk->cost[i]);
		}
	}
	tk->in_unconf = true;
	uint64_t g = p->next_gseq++;
	struct gent *e = &p->ring[g & p->ring_mask];
	e->gseq = g;
	/* One by one: a loop here compiled to 16-byte loads of tk->cost, which
	 * ticket_init has just written 8 bytes at a time (a store-forwarding
	 * stall on every grant). */
	e->charge[AM_RL_REQ] = tk->cost[AM_RL_REQ];
	e->charge[AM_RL_ITOK] = tk->cost[AM_RL_ITOK];
	e->charge[AM_RL_OTOK] = tk->cost[AM_RL_OTOK];
	e->adj[AM_RL_REQ] = e->adj[AM_RL_ITOK] = e->adj[AM_RL_OTOK] = 0;
	e->t_conf = INT64_MAX;
	e->open = true;
	tk->gseq = g;
	tk->t_grant = t;
	tk->t_sent = t;
	tk->state = AM_RL_ST_GRANTED;
	p->in_flight++;
}

static void fail_oversize(struct pool *p, am_rl_ticket *tk)
{
	tk->state = AM_RL_ST_FAILED;
	tk->code = AM_RL_E2BIG;
	p->failed++;
}

/* Grants what is due at t: heads in order, then backfill behind a waiting
 * head. */
static int pool_run(struct pool *p, int64_t t, am_rl_ticket **out, int max)
{
	int n = 0;
	while (n < max && p->head) {
		am_rl_ticket *h = p->head;
		if (rl_oversize(p, h->cost, NULL)) {
			q_unlink(p, h);
			fail_oversize(p, h);
			out[n++] = h;
			continue;
		}
		int64_t t_head = rl_plan_costs(p, p->d, h->cost, t, NULL);
		if (t_head <= t) {
			q_unlink(p, h);
			grant(p, h, t);
			out[n++] = h;
			continue;
		}
		am_rl_ticket *r = h->next;
		for (int k = 0; r && k < p->backfill && n < max; k++) {
			am_rl_ticket *nx = r->next;
			if (!rl_oversize(p, r->cost, NULL) &&
			    rl_plan_costs(p, p->d, r->cost, t, NULL) <= t &&
			    !delays_head(p, r->cost, h, t, t_head)) {
				q_unlink(p, r);
				grant(p, r, t);
				p->backfilled++;
				out[n++] = r;
			}
			r = nx;
		}
		break;
	}
	return n;
}

struct gent *rl_ring_entry(struct pool *p, const am_rl_ticket *tk)
{
	struct gent *e = &p->ring[tk->gseq & p->ring_mask];
	return e->gseq == tk->gseq && p->next_gseq > tk->gseq ? e : NULL;
}

/* Records when tk left the unconfirmed sums (the server had charged it by
 * then), for calibration; a grant the ring has forgotten moves conf_lost. */
static void mark_confirmed(struct pool *p, struct gent *e, int64_t t)
{
	if (e)
		e->t_conf = t;
	else if (t > p->conf_lost)
		p->conf_lost = t;
}

void rl_unconfirm(struct pool *p, am_rl_ticket *tk, int64_t t)
{
	if (!tk->in_unconf)
		return;
	for (int i = 0; i < AM_RL_NDIMS; i++)
		if (p->d[i].limit)
			p->d[i].unconf -= tk->cost[i];
	tk->in_unconf = false;
	mark_confirmed(p, rl_ring_entry(p, tk), t);
}

/* One dimension's part of ending a hold: leave the unconfirmed sum (when
 * the ticket is still counted there) and apply delta = actual - charged.
 * Returns the net change to record: the debt, or minus the credited
 * refund. Each dimension's correction depends only on its own TAT and
 * unconfirmed sum. */
static inline int64_t settle_dim(struct dim *d, bool unconf, int64_t charged,
				 int64_t delta, int64_t t)
{
	if (unconf && d->limit)
		d->unconf -= charged;
	if (delta > 0) {
		dim_debt(d, t, delta);
		return delta;
	}
	return delta < 0 ? -dim_refund(d, t, -delta) : 0;
}

/* Ends the hold of tk with `actual` usage (REQ_SHORT follows REQ) and
 * records the net per cost index in tk's ring entry. */
void rl_settle_hold(struct pool *p, am_rl_ticket *tk, const int64_t *actual,
			  int64_t t, am_rl_state final)
{
	bool unc = tk->in_unconf;
	int64_t d_req = (actual[AM_RL_REQ] < 0 ? 0 : actual[AM_RL_REQ]) - tk->cost[AM_RL_REQ];
	int64_t d_in = (actual[AM_RL_ITOK] < 0 ? 0 : actual[AM_RL_ITOK]) - tk->cost[AM_RL_ITOK];
	int64_t d_out = (actual[AM_RL_OTOK] < 0 ? 0 : actual[AM_RL_OTOK]) - tk->cost[AM_RL_OTOK];
	/* Scalars, not arrays: the nets were an array on the stack that the
	 * compiler summed into the ring entry with one 16-byte load of two
	 * 8-byte stores, a store-forwarding stall that was a third of this
	 * function's time (bench_limiter). */
	int64_t n_req = settle_dim(&p->d[AM_RL_REQ], unc, tk->cost[AM_RL_REQ], d_req, t);
	settle_dim(&p->d[AM_RL_REQ_SHORT], unc, tk->cost[AM_RL_REQ_SHORT], d_req, t);
	int64_t n_in = settle_dim(&p->d[AM_RL_ITOK], unc, tk->cost[AM_RL_ITOK], d_in, t);
	int64_t n_out = settle_dim(&p->d[AM_RL_OTOK], unc, tk->cost[AM_RL_OTOK], d_out, t);
	tk->in_unconf = false;
	struct gent *e = rl_ring_entry(p, tk);
	if (unc)
		mark_confirmed(p, e, t);
	if (e) {
		e->open = false;
		e->adj[AM_RL_REQ] += n_req;
		e->adj[AM_RL_ITOK] += n_in;
		e->adj[AM_RL_OTOK] += n_out;
	}
	tk->state = final;
	p->in_flight--;
}

bool rl_holds(const am_rl_ticket *tk)
{
	return tk->state == AM_RL_ST_GRANTED || tk->state == AM_RL_ST_SENT ||
	       tk->state == AM_RL_ST_CONFIRMED;
}

/* A bad pool or cost: the ticket is cleared with code EINVAL. */
static int ticket_init_fail(const am_rl *rl, am_rl_ticket *t, int pool,
			    const int64_t cost[AM_RL_NCOST], am_err *err)
{
	memset(t, 0, sizeof *t);
	t->code = AM_RL_EINVAL;
	if (pool < 0 || pool >= rl->npools)
		return am_err_set(err, "rate limiter: no pool %d", pool);
	int i = 0;
	while (cost[i] >= 0 && cost[i] <= COST_MAX)
		i++;
	return am_err_set(err, "rate limiter: %s cost %lld is out of range", rl_dim_names[i],
			  (long long)cost[i]);
}

int am_rl_ticket_init(am_rl *rl, am_rl_ticket *t, int pool,
		      const int64_t cost[AM_RL_NCOST], void *user, am_err *err)
{
	if (rl_holds(t) || t->state == AM_RL_ST_QUEUED) {
		t->code = AM_RL_EINVAL;
		return am_err_set(err, "rate limiter: ticket is still in use");
	}
	bool ok = pool >= 0 && pool < rl->npools;
	for (int i = 0; ok && i < AM_RL_NCOST; i++)
		ok = cost[i] >= 0 && cost[i] <= COST_MAX;
	if (!ok)
		return ticket_init_fail(rl, t, pool, cost, err);
	/* Field by field rather than memset + stores: a memset of the whole
	 * ticket compiles to `rep stos`, whose start-up latency was a tenth of
	 * the hot path's time (bench_limiter). */
	t->user = user;
	t->pool = pool;
	t->state = AM_RL_ST_IDLE;
	t->code = AM_RL_OK;
	t->cost[AM_RL_REQ] = cost[AM_RL_REQ];
	t->cost[AM_RL_ITOK] = cost[AM_RL_ITOK];
	t->cost[AM_RL_OTOK] = cost[AM_RL_OTOK];
	t->cost[AM_RL_REQ_SHORT] = cost[AM_RL_REQ];
	t->seq = 0;
	t->t_enqueue = t->t_grant = t->t_sent = 0;
	t->prev = t->next = NULL;
	t->gseq = 0;
	t->in_unconf = false;
	return 0;
}

struct pool *rl_pool_of(am_rl *rl, const am_rl_ticket *t)
{
	return t->pool >= 0 && t->pool < rl->npools ? rl->pool[t->pool] : NULL;
}

static int err_oversize(const struct pool *p, am_rl_ticket *t, int i, am_err *err)
{
	t->code = AM_RL_E2BIG;
	return am_err_set(err, "request needs %lld %s but the %s bucket of pool %s holds "
			  "at most %lld: it can never be admitted",
			  (long long)t->cost[i], rl_dim_units[i], rl_dim_names[i], p->name,
			  (long long)p->d[i].cap);
}

/* The ticket's pool, or NULL (+ err, t->code). */
static struct pool *admit_pool(am_rl *rl, am_rl_ticket *t, am_err *err)
{
	struct pool *p = rl_pool_of(rl, t);
	if (!p) {
		t->code = AM_RL_EINVAL;
		am_err_set(err, "rate limiter: ticket has no pool");
	}
	return p;
}

/* Checks shared by acquire and try_acquire, before any state changes.
 * false (+ err, t->code): the caller fails. */
static bool admit_check(const struct pool *p, am_rl_ticket *t, am_err *err)
{
	int which;
	if (t->state != AM_RL_ST_IDLE) {
		t->code = AM_RL_EINVAL;
		am_err_set(err, "rate limiter: ticket is not idle");
		return false;
	}
	if (rl_oversize(p, t->cost, &which)) {
		err_oversize(p, t, which, err);
		return false;
	}
	return true;
}

/* A new ticket granted without queueing (the queue may hold others that it
 * passes as a backfill). */
static void grant_new(struct pool *p, am_rl_ticket *t, int64_t tn)
{
	t->seq = p->next_seq++;
	t->t_enqueue = tn;
	t->code = AM_RL_OK;
	if (p->head)
		p->backfilled++;
	grant(p, t, tn);
}

/* The common case in one pass over the dimensions: an idle ticket, an
 * empty queue, room under the concurrency cap, no share step or 429
 * cooldown due, and every cost fits now. Every check comes before the
 * first write, so when this returns false nothing changed and the general
 * path decides (queue, E2BIG, EINVAL, ...); when it applies, the result is
 * the general path's, step for step: clamp, plan (every ready_at <= now,
 * no cooldown binds), grant. */
static bool grant_fast(struct pool *p, am_rl_ticket *t, int64_t now)
{
	int64_t tn = max64(now, p->last);
	if (t->state != AM_RL_ST_IDLE || p->head || p->in_flight >= p->conc_cap ||
	    recover_due(p, tn) || p->gate > tn)
		return false;
	for (int i = 0; i < AM_RL_NDIMS; i++) {
		const struct dim *d = &p->d[i];
		int64_t c = t->cost[i];
		/* a bucket that is full at tn holds any cost up to its
		 * capacity: ready_at is only needed when it is not */
		if (d->limit && (c > d->cap || (d->tat > tn && ready_at(d, d->tat, c) > tn)))
			return false;
	}
	p->last = tn;
	grant_new(p, t, tn);
	return true;
}

/* Can t be granted now without queueing? (queue empty, or a harmless
 * backfill behind a head that is not due). */
static bool fits_now(const struct pool *p, const struct dim *dims,
		     const am_rl_ticket *t, int64_t now, int64_t *ready)
{
	*ready = rl_plan_costs(p, dims, t->cost, now, NULL);
	if (*ready > now)
		return false;
	if (!p->head)
		return true;
	if (p->depth >= p->backfill)
		return false;
	int64_t t_head = rl_plan_costs(p, dims, p->head->cost, now, NULL);
	if (t_head <= now)
		return false; /* the head goes first */
	return !delays_head(p, t->cost, p->head, now, t_head);
}

int am_rl_acquire(am_rl *rl, am_rl_ticket *t, int64_t now, am_err *err)
{
	struct pool *p = admit_pool(rl, t, err);
	if (!p)
		return -1;
	if (grant_fast(p, t, now))
		return 1;
	if (!admit_check(p, t, err))
		return -1;
	if (p->depth >= p->max_queue) {
		t->code = AM_RL_EFULL;
		am_err_set(err, "rate limiter: pool %s has %d calls queued (the maximum)",
			   p->name, p->depth);
		return -1;
	}
	int64_t tn = pool_sync(p, now), ready;
	if (fits_now(p, p->d, t, tn, &ready)) {
		grant_new(p, t, tn);
		return 1;
	}
	t->seq = p->next_seq++;
	t->t_enqueue = tn;
	t->code = AM_RL_OK;
	t->state = AM_RL_ST_QUEUED;
	q_push_tail(p, t);
	return 0;
}

int am_rl_try_acquire(am_rl *rl, am_rl_ticket *t, int64_t now,
		      int64_t *retry_in_ns, am_err *err)
{
	struct pool *p = admit_pool(rl, t, err);
	if (!p)
		return -1;
	if (grant_fast(p, t, now)) {
		if (retry_in_ns)
			*retry_in_ns = 0;
		return 1;
	}
	if (!admit_check(p, t, err))
		return -1;
	/* Work on a copy when a share step is due, so that a refusal changes
	 * nothing at all. */
	int64_t tn = max64(now, p->last), ready;
	struct dim tmp[AM_RL_NDIMS];
	const struct dim *dims = p->d;
	if (recover_due(p, tn)) {
		memcpy(tmp, p->d, sizeof tmp);
		rl_dims_recover(tmp, tn, p->init_fill);
		dims = tmp;
	}
	if (!fits_now(p, dims, t, tn, &ready)) {
		if (retry_in_ns) {
			if (ready <= tn && p->head) /* the queue is ahead of it */
				ready = rl_plan_costs(p, dims, p->head->cost, tn, NULL);
			*retry_in_ns = ready == INT64_MAX ? INT64_MAX : max64(0, ready - tn);
		}
		return 0;
	}
	if (dims != p->d) {
		memcpy(p->d, tmp, sizeof tmp);
		rl_pool_summarize(p);
	}
	p->last = tn;
	grant_new(p, t, tn);
	if (retry_in_ns)
		*retry_in_ns = 0;
	return 1;
}

int am_rl_poll(am_rl *rl, int64_t now, am_rl_ticket **out, int max)
{
	int n = 0;
	for (int i = 0; i < rl->npools && n < max; i++) {
		struct pool *p = rl->pool[i];
		if (p->head) {
			int64_t t = pool_sync(p, now);
			n += pool_run(p, t, out + n, max - n);
		}
	}
	return n;
}

int64_t am_rl_pool_next_event_ns(am_rl *rl, int pool, int64_t now)
{
	if (pool < 0 || pool >= rl->npools)
		return INT64_MAX;
	const struct pool *p = rl->pool[pool];
	if (!p->head)
		return INT64_MAX;
	int64_t t = max64(now, p->last);
	if (rl_oversize(p, p->head->cost, NULL))
		return t;
	int64_t r = rl_plan_costs(p, p->d, p->head->cost, t, NULL);
	for (int i = 0; i < AM_RL_NDIMS; i++) /* a share step re-plans earlier */
		r = min64(r, max64(t, p->d[i].recover_at));
	return r;
}

int64_t am_rl_next_event_ns(am_rl *rl, int64_t now)
{
	int64_t r = INT64_MAX;
	for (int i = 0; i < rl->npools; i++)
		r = min64(r, am_rl_pool_next_event_ns(rl, i, now));
	return r;
}

void am_rl_sent(am_rl *rl, am_rl_ticket *t, int64_t now)
{
	struct pool *p = rl_pool_of(rl, t);
	if (!p)
		return;
	if (t->state == AM_RL_ST_GRANTED) {
		t->t_sent = pool_sync(p, now);
		t->state = AM_RL_ST_SENT;
	}
}

void am_rl_confirm(am_rl *rl, am_rl_ticket *t, int64_t now)
{
	struct pool *p = rl_pool_of(rl, t);
	if (!p)
		return;
	if (t->state == AM_RL_ST_GRANTED || t->state == AM_RL_ST_SENT) {
		rl_unconfirm(p, t, pool_sync(p, now));
		t->state = AM_RL_ST_CONFIRMED;
	}
}

void am_rl_settle(am_rl *rl, am_rl_ticket *t, const int64_t actual[AM_RL_NCOST],
		  int64_t now)
{
	struct pool *p = rl_pool_of(rl, t);
	if (!p)
		return;
	if (rl_holds(t)) {
		int64_t tn = pool_sync(p, now);
		rl_settle_hold(p, t, actual, tn, AM_RL_ST_SETTLED);
		if (p->consec429) /* no store in the common case */
			p->consec429 = 0;
		if (p->conc_cap < p->conc_cfg && ++p->conc_ok >= p->conc_cap) {
			p->conc_cap++;
			p->conc_ok = 0;
		}
	}
}

void am_rl_cancel(am_rl *rl, am_rl_ticket *t, int64_t now)
{
	struct pool *p = rl_pool_of(rl, t);
	if (!p)
		return;
	if (t->state == AM_RL_ST_QUEUED) {
		q_unlink(p, t);
		t->state = AM_RL_ST_CANCELLED;
	} else if (t->state == AM_RL_ST_GRANTED) {
		const int64_t zero[AM_RL_NCOST] = { 0, 0, 0 };
		rl_settle_hold(p, t, zero, pool_sync(p, now), AM_RL_ST_CANCELLED);
	} else if (rl_holds(t)) {
		rl_settle_hold(p, t, t->cost, pool_sync(p, now), AM_RL_ST_CANCELLED);
	}
}

void am_rl_on_overload(am_rl *rl, am_rl_ticket *t, int64_t now)
{
	struct pool *p = rl_pool_of(rl, t);
	if (!p)
		return;
	if (rl_holds(t)) {
		rl_settle_hold(p, t, t->cost, pool_sync(p, now), AM_RL_ST_SETTLED);
		p->conc_cap = p->conc_cap * 9 / 10;
		if (p->conc_cap < 1)
			p->conc_cap = 1;
		p->conc_ok = 0;
	}
}
