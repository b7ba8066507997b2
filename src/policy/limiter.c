/* limiter: GCRA buckets per pool dimension, a FIFO of tickets per pool, and
 * the corrections that keep the model at or below the provider's buckets
 * (settle, header calibration, 429). See limiter.h for the model and the
 * contract, and the reasons behind its choices.
 *
 * Representation. Each dimension keeps its TAT in monotonic ns and derives
 * everything else from its parameters. The emission interval T is held as a
 * 64.32 fixed point twice, rounded up (charges, debts, spans) and down
 * (refunds), so a conversion is one 64x64 multiply and a shift whenever T is
 * under 2^32 ns and the count cannot saturate (ns_up); exact 128-bit
 * division is kept for the rare paths (limit and share changes, calibration,
 * figures). Every sum saturates at INT64_MAX, which reads as "never", the
 * safe direction.
 *
 * Hot path. The common call sequence (ticket_init, acquire granted at once,
 * settle) does one pass over the four dimensions per call: acquire tries
 * grant_fast (empty queue, no share step or 429 cooldown due: two pool
 * summaries, recover_min and gate, answer that in two compares) before the
 * general admit/plan/queue path, and settle corrects each dimension in one
 * step. Both give results identical to the general path's; the state they
 * touch is packed into the first cache line of the pool and of each
 * dimension (see "Layout").
 *
 * Locking. One lock per pool guards its dimensions, queue and counters; the
 * estimator has its own. No call takes two locks at once. The lock is a
 * test-and-test-and-set spinlock that yields after a short spin: critical
 * sections are a few dozen instructions, where a pthread mutex's futex path
 * under contention costs more than the work (bench_limiter measures both
 * against a mutex baseline). */
#include "limiter.h"

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


__extension__ typedef __int128 i128;
__extension__ typedef unsigned __int128 u128;

#define NS_PER_S 1000000000LL
#define PERIOD_DEFAULT (60 * NS_PER_S)
#define SPAN_MAX ((int64_t)1 << 61)   /* longest tau a config may produce */
#define PERIOD_MAX ((int64_t)1 << 56) /* ~2.3 years */
#define LIMIT_MAX ((int64_t)1 << 50)
#define COST_MAX ((int64_t)1 << 50)
#define FRAC 32
#define PPM 1000000
#define SHARE_MIN 500000
#define SHARE_STEP 10000              /* +1% ... */
#define RECOVER_NS (60 * NS_PER_S)    /* ... per minute */
#define FOREIGN_WIN_NS (60 * NS_PER_S)
#define BACKOFF_BASE_NS (500 * 1000000LL)
#define BACKOFF_MAX_NS (8 * NS_PER_S)
#define TOKEN_ROUNDING 500            /* remaining is rounded to 1000s */
#define EST_RING 32

/* ---- the pool lock -------------------------------------------------------- */

typedef struct {
	atomic_int v;
} rl_lock;

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* One pause, then yield while the lock is held. The holder is a few dozen
 * instructions from giving it back when it runs; when it does not run (more
 * threads than cores, the case that costs) only yielding lets it. Spinning
 * 100 pauses before the first yield cost 8 threads on 2 cores 280-380 ns an
 * operation in bench_limiter; one pause, 120-130 ns. */
#define LOCK_SPINS 1

static inline void lock_take(rl_lock *l)
{
	for (;;) {
		if (!atomic_exchange_explicit(&l->v, 1, memory_order_acquire))
			return;
		for (int i = 0; atomic_load_explicit(&l->v, memory_order_relaxed); i++) {
			if (i >= LOCK_SPINS) {
				sched_yield();
				i = 0;
			} else {
				cpu_relax();
			}
		}
	}
}

static inline void lock_give(rl_lock *l)
{
	atomic_store_explicit(&l->v, 0, memory_order_release);
}

/* ---- state ----------------------------------------------------------------- */

/* Layout. What a grant and a settle touch in the common case sits in one
 * 64-byte line per dimension (struct dim's first line) plus the pool's
 * first line, so that with threads on several cores a grant moves few lines
 * between them; the pool is allocated 64-byte aligned (pool_alloc). */
#define LINE 64

struct dim {
	/* hot: the bucket, its unconfirmed sum and what the fast paths read */
	_Alignas(LINE) int64_t tat;
	int64_t unconf;
	int64_t limit;          /* effective units per period; 0 = unlimited */
	int64_t cap;            /* b, units */
	uint64_t q_up, q_dn;    /* T << FRAC, low words (rounded up / down) */
	uint64_t n_fast;        /* n_max_up when T < 2^32 ns, else 0 (ns_up) */
	int64_t cooldown;
	/* parameters */
	uint64_t q_up_hi, q_dn_hi; /* high words, nonzero only when T >= 2^32 ns */
	int64_t n_max_up, n_max_dn; /* larger unit counts saturate */
	int64_t tau;            /* b * T, rounded up (span checks) */
	int64_t limit_cfg, limit_cap, limit_srv;
	int64_t period;
	int64_t burst_ns;
	int64_t share;          /* ppm */
	int64_t recover_at;
	/* figures */
	int64_t n429;
	bool has_srv;
	int64_t srv_rem, srv_reset;
	int64_t fw_start, fw_sum, foreign_pm;
};

struct gent {                   /* one recent grant, for calibration */
	uint64_t gseq;
	int64_t charge[AM_RL_NCOST];
	int64_t adj[AM_RL_NCOST];   /* debt - refund applied after the grant */
};

struct pool {
	/* The lock alone in its line: a thread waiting for it reads it without
	 * taking the holder's data line away (8 threads on 2 cores: 4% less per
	 * operation in bench_limiter). */
	_Alignas(LINE) rl_lock lk;
	/* hot: what every grant reads or writes (one line) */
	_Alignas(LINE) int in_flight, conc_cap, depth;
	int64_t last;           /* the clamp */
	int64_t recover_min;    /* min over dims of recover_at */
	int64_t gate;           /* max over dims of cooldown */
	am_rl_ticket *head;
	uint64_t next_seq;
	uint64_t next_gseq;     /* grants so far (also the figure "granted") */
	/* read-mostly */
	_Alignas(LINE) struct gent *ring;
	uint64_t ring_mask;
	int max_queue, conc_cfg, conc_ok, consec429;
	int backfill;
	int32_t init_fill;
	am_rl_ticket *tail;
	struct dim d[AM_RL_NDIMS];
	/* cold */
	char name[32];
	int64_t n429;
	int64_t backfilled, failed;
	void *mem;              /* what pool_alloc got from the allocator */
};

struct est {
	char model[64];
	int n, pos;
	uint32_t ratio[EST_RING];  /* tokens per byte, ppm */
	uint64_t used;
};

struct am_rl {
	int npools;
	struct pool *pool[AM_RL_MAX_POOLS];
	int nmap;
	char **map_model, **map_pool;
	pthread_mutex_t est_mu;
	struct est est[AM_RL_MAX_MODELS];
	int nest;
	uint64_t est_tick;
	int32_t est_default, est_margin;
	int est_min;
};

static const char *const dim_names[AM_RL_NDIMS] = { "RPM", "ITPM", "OTPM", "RPM/s" };
static const char *const dim_units[AM_RL_NDIMS] = { "requests", "input tokens",
						    "output tokens", "requests" };

/* ---- integer helpers -------------------------------------------------------- */

static inline int64_t clamp64(i128 v)
{
	if (v > INT64_MAX)
		return INT64_MAX;
	if (v < INT64_MIN)
		return INT64_MIN;
	return (int64_t)v;
}

static inline int64_t sadd(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

/* a - b for b >= 0, saturating at INT64_MIN. */
static inline int64_t ssub(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_sub_overflow(a, b, &r))
		return INT64_MIN;
	return r;
}

static inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

#define FRAC_MASK ((((u128)1) << FRAC) - 1)

/* ns for n units, rounded up (charges, debts, spans); saturates. The first
 * branch is the hot path: 0 <= n <= n_fast means T fits in 64 bits and n * T
 * cannot saturate, so it is one 64x64 multiply; it returns what the general
 * branch would. */
static inline int64_t ns_up(const struct dim *d, int64_t n)
{
	if (__builtin_expect((uint64_t)n <= d->n_fast, 1))
		return (int64_t)(((u128)(uint64_t)n * d->q_up + FRAC_MASK) >> FRAC);
	if (n <= 0)
		return 0;
	if (n > d->n_max_up)
		return INT64_MAX;
	u128 q = (u128)d->q_up_hi << 64 | d->q_up;
	return (int64_t)(((u128)n * q + FRAC_MASK) >> FRAC);
}

/* ns for n units, rounded down (refunds). */
static inline int64_t ns_dn(const struct dim *d, int64_t n)
{
	if (__builtin_expect((uint64_t)n <= d->n_fast, 1))
		return (int64_t)(((u128)(uint64_t)n * d->q_dn) >> FRAC);
	if (n <= 0)
		return 0;
	if (n > d->n_max_dn)
		return INT64_MAX;
	u128 q = (u128)d->q_dn_hi << 64 | d->q_dn;
	return (int64_t)(((u128)n * q) >> FRAC);
}

/* Units in a span of ns, exactly: span * limit * share / (period * 1e6). */
static int64_t units_of(const struct dim *d, int64_t span, bool up)
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
static void dim_params(struct dim *d)
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

/* When c units fit: level >= c <=> TAT - t <= (b - c) * T. The span is
 * rounded down so that no rounding ever admits more than the exact bucket
 * (ceil(b T) - ceil(c T) can exceed (b - c) T), and it is exact whenever
 * (b - c) T is whole, e.g. a full-bucket request on a full bucket. */
static inline int64_t ready_at(const struct dim *d, int64_t tat, int64_t c)
{
	if (c > d->cap)
		return INT64_MAX;
	return ssub(tat, ns_dn(d, d->cap - c));
}

/* Level at t in whole units, rounded down (deficit rounded up). */
static int64_t dim_level(const struct dim *d, int64_t t)
{
	if (!d->limit)
		return 0;
	if (d->tat <= t)
		return d->cap;
	int64_t def = clamp64((i128)d->tat - t);
	return clamp64((i128)d->cap - units_of(d, def, true));
}

/* Sets TAT so that the level at t is `level` units (clamped to capacity). */
static void dim_set_level(struct dim *d, int64_t t, int64_t level)
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
static void dim_rescale(struct dim *d, int64_t t, int64_t limit, int64_t burst_ns,
			int64_t share, int32_t init_fill)
{
	bool was = d->limit != 0;
	int64_t lvl = dim_level(d, t);
	d->limit = limit;
	d->burst_ns = burst_ns;
	d->share = share;
	dim_params(d);
	if (!d->limit)
		return;
	if (!was) /* coming out of "unlimited": start as a new pool would */
		lvl = (int64_t)((i128)d->cap * init_fill / PPM);
	d->tat = t;
	dim_set_level(d, t, min64(lvl, d->cap));
}

static int64_t dim_effective_limit(const struct dim *d)
{
	int64_t l = d->limit_srv > 0 ? d->limit_srv : d->limit_cfg;
	if (d->limit_cap > 0 && d->limit_cap < l)
		l = d->limit_cap;
	return l;
}

/* The short request bucket is configured off (window 0 or a full period). */
static inline bool short_off(int i, const struct dim *d)
{
	return i == AM_RL_REQ_SHORT && (d->burst_ns <= 0 || d->burst_ns >= d->period);
}

/* Per-minute figure (keyboard, headers) -> units per this dimension's period. */
static int64_t per_period(const struct dim *d, int64_t per_minute)
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
static bool span_ok(int64_t limit, int64_t period, int64_t burst_ns)
{
	if (!limit)
		return true;
	if (limit < 0 || limit > LIMIT_MAX || period <= 0 || period > PERIOD_MAX ||
	    burst_ns <= 0 || burst_ns > PERIOD_MAX)
		return false;
	struct dim d = { .limit = limit, .period = period, .burst_ns = burst_ns,
			 .share = SHARE_MIN };
	dim_params(&d);
	return d.tau < SPAN_MAX;
}

/* ---- time ------------------------------------------------------------------ */

/* Additive share recovery, applied lazily in whole steps. */
static void dims_recover(struct dim *dims, int64_t t, int32_t init_fill)
{
	for (int i = 0; i < AM_RL_NDIMS; i++) {
		struct dim *d = &dims[i];
		if (d->recover_at > t)
			continue;
		int64_t steps = 1 + (t - d->recover_at) / RECOVER_NS;
		int64_t share = min64(PPM, d->share + (steps > PPM ? PPM : steps) * SHARE_STEP);
		dim_rescale(d, t, d->limit, d->burst_ns, share, init_fill);
		d->recover_at = share >= PPM ? INT64_MAX
					     : sadd(d->recover_at, steps * RECOVER_NS);
	}
}

/* Refreshes the pool's summaries of its dimensions (earliest share step,
 * latest 429 cooldown) so that the common case tests one integer each.
 * Call after every change to a dimension's recover_at or cooldown. */
static void pool_summarize(struct pool *p)
{
	p->recover_min = INT64_MAX;
	p->gate = INT64_MIN;
	for (int i = 0; i < AM_RL_NDIMS; i++) {
		p->recover_min = min64(p->recover_min, p->d[i].recover_at);
		p->gate = max64(p->gate, p->d[i].cooldown);
	}
}

static inline bool recover_due(const struct pool *p, int64_t t)
{
	return p->recover_min <= t;
}

/* The clamp: time seen by the pool never goes back. */
static inline int64_t pool_sync(struct pool *p, int64_t now)
{
	if (now > p->last)
		p->last = now;
	if (recover_due(p, p->last)) {
		dims_recover(p->d, p->last, p->init_fill);
		pool_summarize(p);
	}
	return p->last;
}

/* ---- planning ----------------------------------------------------------- */

/* Earliest time at which the costs fit every dimension, given dims; INT64_MAX
 * when the concurrency cap blocks. *blk = the binding dimension (or
 * AM_RL_BLOCK_CONC, or -1 when nothing binds). */
static int64_t plan_costs(const struct pool *p, const struct dim *dims,
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

static bool oversize(const struct pool *p, const int64_t *cost, int *which)
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
static void q_insert_by_seq(struct pool *p, am_rl_ticket *tk)
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
		if (oversize(p, h->cost, NULL)) {
			q_unlink(p, h);
			fail_oversize(p, h);
			out[n++] = h;
			continue;
		}
		int64_t t_head = plan_costs(p, p->d, h->cost, t, NULL);
		if (t_head <= t) {
			q_unlink(p, h);
			grant(p, h, t);
			out[n++] = h;
			continue;
		}
		am_rl_ticket *r = h->next;
		for (int k = 0; r && k < p->backfill && n < max; k++) {
			am_rl_ticket *nx = r->next;
			if (!oversize(p, r->cost, NULL) &&
			    plan_costs(p, p->d, r->cost, t, NULL) <= t &&
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

/* ---- corrections ------------------------------------------------------------ */

/* Refunds k units at t without lifting the level above capacity minus what
 * is granted and unconfirmed. Returns the units actually credited (rounded
 * down). */
static int64_t dim_refund(struct dim *d, int64_t t, int64_t k)
{
	if (!d->limit || k <= 0)
		return 0;
	int64_t floor_tat = sadd(t, ns_up(d, d->unconf));
	int64_t want = ssub(d->tat, ns_dn(d, k));
	int64_t nt = max64(want, floor_tat);
	if (nt >= d->tat)
		return 0;
	int64_t credited = nt == want ? k : units_of(d, d->tat - nt, false);
	d->tat = nt;
	return credited;
}

static void dim_debt(struct dim *d, int64_t t, int64_t k)
{
	if (!d->limit || k <= 0)
		return;
	d->tat = sadd(max64(d->tat, t), ns_up(d, k));
}

static struct gent *ring_entry(struct pool *p, const am_rl_ticket *tk)
{
	struct gent *e = &p->ring[tk->gseq & p->ring_mask];
	return e->gseq == tk->gseq && p->next_gseq > tk->gseq ? e : NULL;
}

static void unconfirm(struct pool *p, am_rl_ticket *tk)
{
	if (!tk->in_unconf)
		return;
	for (int i = 0; i < AM_RL_NDIMS; i++)
		if (p->d[i].limit)
			p->d[i].unconf -= tk->cost[i];
	tk->in_unconf = false;
}

/* The dimensions a caller-side cost index moves: REQ moves REQ_SHORT too. */
static inline int dims_of(int c, int out[2])
{
	out[0] = c;
	if (c == AM_RL_REQ) {
		out[1] = AM_RL_REQ_SHORT;
		return 2;
	}
	return 1;
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
static void settle_locked(struct pool *p, am_rl_ticket *tk, const int64_t *actual,
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
	struct gent *e = ring_entry(p, tk);
	if (e) {
		e->adj[AM_RL_REQ] += n_req;
		e->adj[AM_RL_ITOK] += n_in;
		e->adj[AM_RL_OTOK] += n_out;
	}
	tk->state = final;
	p->in_flight--;
}

static bool holds(const am_rl_ticket *tk)
{
	return tk->state == AM_RL_ST_GRANTED || tk->state == AM_RL_ST_SENT ||
	       tk->state == AM_RL_ST_CONFIRMED;
}

/* ---- creation ------------------------------------------------------------- */

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

/* A zeroed pool on a cache-line boundary (struct pool's alignment), from
 * the house allocator (which only promises malloc's alignment). */
static struct pool *pool_alloc(void)
{
	char *mem = am_xcalloc(1, sizeof(struct pool) + LINE);
	struct pool *p = (struct pool *)(mem + (LINE - (uintptr_t)mem % LINE));
	p->mem = mem;
	return p;
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
		if (!span_ok(limit, period, burst))
			return am_err_set(err, "rate limiter: pool %s: %s limit %lld per %lld ns "
					  "(bucket %lld ns) is out of range",
					  pc->name, dim_names[i], (long long)dc->limit,
					  (long long)period, (long long)burst);
		d->limit = d->limit_cfg = limit;
		d->period = period;
		d->burst_ns = burst;
		d->share = PPM;
		d->recover_at = INT64_MAX;
		d->cooldown = INT64_MIN;
		dim_params(d);
		d->tat = now;
		/* Cold start: part-full, for what other processes may have spent
		 * of the minute - but the short request bucket starts full: it
		 * refills within its window (a second), and a one-shot `ask`
		 * would otherwise wait most of that second for nothing. */
		int64_t fill = i == AM_RL_REQ_SHORT ? PPM : pc->init_fill_ppm;
		dim_set_level(d, now, (int64_t)((i128)d->cap * fill / PPM));
		d->fw_start = now;
	}
	p->max_queue = pc->max_queue;
	p->conc_cap = p->conc_cfg = pc->max_in_flight;
	p->backfill = cfg->backfill_scan < 0 ? 0 : cfg->backfill_scan;
	p->init_fill = pc->init_fill_ppm;
	p->last = now;
	pool_summarize(p);
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
	pthread_mutex_init(&rl->est_mu, NULL);
	for (int i = 0; i < cfg->npools; i++) {
		rl->pool[i] = pool_alloc();
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
		free(rl->pool[i]->mem);
	}
	for (int i = 0; i < rl->nmap; i++) {
		free(rl->map_model[i]);
		free(rl->map_pool[i]);
	}
	free(rl->map_model);
	free(rl->map_pool);
	pthread_mutex_destroy(&rl->est_mu);
	free(rl);
}

int am_rl_npools(const am_rl *rl) { return rl->npools; }

const char *am_rl_pool_name(const am_rl *rl, int pool)
{
	return pool >= 0 && pool < rl->npools ? rl->pool[pool]->name : NULL;
}

/* ---- model -> pool ---------------------------------------------------------- */

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

/* ---- tickets -------------------------------------------------------------- */

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
	return am_err_set(err, "rate limiter: %s cost %lld is out of range", dim_names[i],
			  (long long)cost[i]);
}

/* am_rl_ticket_init sets every field by hand: adding one must update it. */
_Static_assert(sizeof(void *) != 8 || sizeof(am_rl_ticket) == 120,
	       "am_rl_ticket changed: set the new field in am_rl_ticket_init");

int am_rl_ticket_init(am_rl *rl, am_rl_ticket *t, int pool,
		      const int64_t cost[AM_RL_NCOST], void *user, am_err *err)
{
	if (holds(t) || t->state == AM_RL_ST_QUEUED) {
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

static struct pool *pool_of(am_rl *rl, const am_rl_ticket *t)
{
	return t->pool >= 0 && t->pool < rl->npools ? rl->pool[t->pool] : NULL;
}

static int err_oversize(const struct pool *p, am_rl_ticket *t, int i, am_err *err)
{
	t->code = AM_RL_E2BIG;
	return am_err_set(err, "request needs %lld %s but the %s bucket of pool %s holds "
			  "at most %lld: it can never be admitted",
			  (long long)t->cost[i], dim_units[i], dim_names[i], p->name,
			  (long long)p->d[i].cap);
}

/* The ticket's pool, locked, or NULL (+ err, t->code). */
static struct pool *admit_lock(am_rl *rl, am_rl_ticket *t, am_err *err)
{
	struct pool *p = pool_of(rl, t);
	if (!p) {
		t->code = AM_RL_EINVAL;
		am_err_set(err, "rate limiter: ticket has no pool");
		return NULL;
	}
	lock_take(&p->lk);
	return p;
}

/* Checks shared by acquire and try_acquire, under the lock, before any
 * state changes. false (+ err, t->code): the caller unlocks and fails. */
static bool admit_check(const struct pool *p, am_rl_ticket *t, am_err *err)
{
	int which;
	if (t->state != AM_RL_ST_IDLE) {
		t->code = AM_RL_EINVAL;
		am_err_set(err, "rate limiter: ticket is not idle");
		return false;
	}
	if (oversize(p, t->cost, &which)) {
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
		if (d->limit && (c > d->cap || ready_at(d, d->tat, c) > tn))
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
	*ready = plan_costs(p, dims, t->cost, now, NULL);
	if (*ready > now)
		return false;
	if (!p->head)
		return true;
	if (p->depth >= p->backfill)
		return false;
	int64_t t_head = plan_costs(p, dims, p->head->cost, now, NULL);
	if (t_head <= now)
		return false; /* the head goes first */
	return !delays_head(p, t->cost, p->head, now, t_head);
}

int am_rl_acquire(am_rl *rl, am_rl_ticket *t, int64_t now, am_err *err)
{
	struct pool *p = admit_lock(rl, t, err);
	if (!p)
		return -1;
	if (grant_fast(p, t, now)) {
		lock_give(&p->lk);
		return 1;
	}
	if (!admit_check(p, t, err)) {
		lock_give(&p->lk);
		return -1;
	}
	if (p->depth >= p->max_queue) {
		t->code = AM_RL_EFULL;
		am_err_set(err, "rate limiter: pool %s has %d calls queued (the maximum)",
			   p->name, p->depth);
		lock_give(&p->lk);
		return -1;
	}
	int64_t tn = pool_sync(p, now), ready;
	if (fits_now(p, p->d, t, tn, &ready)) {
		grant_new(p, t, tn);
		lock_give(&p->lk);
		return 1;
	}
	t->seq = p->next_seq++;
	t->t_enqueue = tn;
	t->code = AM_RL_OK;
	t->state = AM_RL_ST_QUEUED;
	q_push_tail(p, t);
	lock_give(&p->lk);
	return 0;
}

int am_rl_try_acquire(am_rl *rl, am_rl_ticket *t, int64_t now,
		      int64_t *retry_in_ns, am_err *err)
{
	struct pool *p = admit_lock(rl, t, err);
	if (!p)
		return -1;
	if (grant_fast(p, t, now)) {
		lock_give(&p->lk);
		if (retry_in_ns)
			*retry_in_ns = 0;
		return 1;
	}
	if (!admit_check(p, t, err)) {
		lock_give(&p->lk);
		return -1;
	}
	/* Work on a copy when a share step is due, so that a refusal changes
	 * nothing at all. */
	int64_t tn = max64(now, p->last), ready;
	struct dim tmp[AM_RL_NDIMS];
	const struct dim *dims = p->d;
	if (recover_due(p, tn)) {
		memcpy(tmp, p->d, sizeof tmp);
		dims_recover(tmp, tn, p->init_fill);
		dims = tmp;
	}
	if (!fits_now(p, dims, t, tn, &ready)) {
		if (retry_in_ns) {
			if (ready <= tn && p->head) /* the queue is ahead of it */
				ready = plan_costs(p, dims, p->head->cost, tn, NULL);
			*retry_in_ns = ready == INT64_MAX ? INT64_MAX : max64(0, ready - tn);
		}
		lock_give(&p->lk);
		return 0;
	}
	if (dims != p->d) {
		memcpy(p->d, tmp, sizeof tmp);
		pool_summarize(p);
	}
	p->last = tn;
	grant_new(p, t, tn);
	lock_give(&p->lk);
	if (retry_in_ns)
		*retry_in_ns = 0;
	return 1;
}

int am_rl_poll(am_rl *rl, int64_t now, am_rl_ticket **out, int max)
{
	int n = 0;
	for (int i = 0; i < rl->npools && n < max; i++) {
		struct pool *p = rl->pool[i];
		lock_take(&p->lk);
		if (p->head) {
			int64_t t = pool_sync(p, now);
			n += pool_run(p, t, out + n, max - n);
		}
		lock_give(&p->lk);
	}
	return n;
}

static int64_t pool_next_locked(const struct pool *p, int64_t now)
{
	if (!p->head)
		return INT64_MAX;
	int64_t t = max64(now, p->last);
	if (oversize(p, p->head->cost, NULL))
		return t;
	int64_t r = plan_costs(p, p->d, p->head->cost, t, NULL);
	for (int i = 0; i < AM_RL_NDIMS; i++) /* a share step re-plans earlier */
		r = min64(r, max64(t, p->d[i].recover_at));
	return r;
}

int64_t am_rl_pool_next_event_ns(am_rl *rl, int pool, int64_t now)
{
	if (pool < 0 || pool >= rl->npools)
		return INT64_MAX;
	struct pool *p = rl->pool[pool];
	lock_take(&p->lk);
	int64_t r = pool_next_locked(p, now);
	lock_give(&p->lk);
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
	struct pool *p = pool_of(rl, t);
	if (!p)
		return;
	lock_take(&p->lk);
	if (t->state == AM_RL_ST_GRANTED) {
		t->t_sent = pool_sync(p, now);
		t->state = AM_RL_ST_SENT;
	}
	lock_give(&p->lk);
}

void am_rl_confirm(am_rl *rl, am_rl_ticket *t, int64_t now)
{
	struct pool *p = pool_of(rl, t);
	if (!p)
		return;
	lock_take(&p->lk);
	if (t->state == AM_RL_ST_GRANTED || t->state == AM_RL_ST_SENT) {
		pool_sync(p, now);
		unconfirm(p, t);
		t->state = AM_RL_ST_CONFIRMED;
	}
	lock_give(&p->lk);
}

void am_rl_settle(am_rl *rl, am_rl_ticket *t, const int64_t actual[AM_RL_NCOST],
		  int64_t now)
{
	struct pool *p = pool_of(rl, t);
	if (!p)
		return;
	lock_take(&p->lk);
	if (holds(t)) {
		int64_t tn = pool_sync(p, now);
		settle_locked(p, t, actual, tn, AM_RL_ST_SETTLED);
		if (p->consec429) /* keeps the line clean in the common case */
			p->consec429 = 0;
		if (p->conc_cap < p->conc_cfg && ++p->conc_ok >= p->conc_cap) {
			p->conc_cap++;
			p->conc_ok = 0;
		}
	}
	lock_give(&p->lk);
}

void am_rl_cancel(am_rl *rl, am_rl_ticket *t, int64_t now)
{
	struct pool *p = pool_of(rl, t);
	if (!p)
		return;
	lock_take(&p->lk);
	if (t->state == AM_RL_ST_QUEUED) {
		q_unlink(p, t);
		t->state = AM_RL_ST_CANCELLED;
	} else if (t->state == AM_RL_ST_GRANTED) {
		const int64_t zero[AM_RL_NCOST] = { 0, 0, 0 };
		settle_locked(p, t, zero, pool_sync(p, now), AM_RL_ST_CANCELLED);
	} else if (holds(t)) {
		settle_locked(p, t, t->cost, pool_sync(p, now), AM_RL_ST_CANCELLED);
	}
	lock_give(&p->lk);
}

void am_rl_on_overload(am_rl *rl, am_rl_ticket *t, int64_t now)
{
	struct pool *p = pool_of(rl, t);
	if (!p)
		return;
	lock_take(&p->lk);
	if (holds(t)) {
		settle_locked(p, t, t->cost, pool_sync(p, now), AM_RL_ST_SETTLED);
		p->conc_cap = p->conc_cap * 9 / 10;
		if (p->conc_cap < 1)
			p->conc_cap = 1;
		p->conc_ok = 0;
	}
	lock_give(&p->lk);
}

/* ---- calibration ---------------------------------------------------------- */

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
		int64_t srv = per_period(d, per_minute);
		if (srv == d->limit_srv || !span_ok(srv, d->period, d->burst_ns))
			continue;
		d->limit_srv = srv;
		int64_t eff = dim_effective_limit(d);
		if (eff != d->limit)
			dim_rescale(d, t, eff, d->burst_ns, d->share, p->init_fill);
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

/* Lowers dimension c to what the headers allow. `admitted`: the server
 * charged tk before writing them (false for a 429). */
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
		struct gent *e = ring_entry(p, tk);
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
		int64_t level = dim_level(d, t);
		int64_t gap = level > target ? level - target : 0;
		if (gap)
			dim_set_level(d, t, target);
		foreign_add(d, t, gap);
	}
}

void am_rl_observe(am_rl *rl, am_rl_ticket *t, const am_rl_headers *h, int64_t now)
{
	struct pool *p = t ? pool_of(rl, t) : NULL;
	if (!h || !p)
		return;
	lock_take(&p->lk);
	int64_t tn = pool_sync(p, now);
	bool live = holds(t) || t->state == AM_RL_ST_SETTLED;
	if (t->state == AM_RL_ST_GRANTED || t->state == AM_RL_ST_SENT) {
		unconfirm(p, t);
		t->state = AM_RL_ST_CONFIRMED;
	}
	calibrate(p, live ? t : NULL, h, tn, true);
	lock_give(&p->lk);
}

/* ---- 429 --------------------------------------------------------------------- */

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
	struct pool *p = pool_of(rl, t);
	if (!p)
		return;
	lock_take(&p->lk);
	if (!holds(t)) {
		lock_give(&p->lk);
		return;
	}
	int64_t tn = pool_sync(p, now);
	/* The server did not charge it: take it back as a settle with zero use. */
	const int64_t zero[AM_RL_NCOST] = { 0, 0, 0 };
	settle_locked(p, t, zero, tn, AM_RL_ST_QUEUED);
	if (h)
		calibrate(p, t, h, tn, false);
	if (dim < 0 || dim >= AM_RL_NCOST)
		dim = infer_dim(p, t, h);
	int64_t ra = h && h->has_retry_after && h->retry_after_ns > 0 ? h->retry_after_ns : -1;
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
		if (dim_level(d, tn) >= t->cost[ds[j]])
			burst = max64(d->burst_ns / 2, min64(d->burst_ns, d->period / 60));
		int64_t share = max64(SHARE_MIN, d->share * 9 / 10);
		dim_rescale(d, tn, d->limit, burst, share, p->init_fill);
		d->recover_at = sadd(tn, RECOVER_NS);
		int64_t until = sadd(tn, ra);
		d->cooldown = max64(d->cooldown, until);
		int64_t room = ns_dn(d, d->cap - min64(t->cost[ds[j]], d->cap));
		d->tat = max64(d->tat, sadd(until, room));
	}
	pool_summarize(p);
	t->t_grant = 0;
	q_insert_by_seq(p, t);
	lock_give(&p->lk);
}

/* ---- run-time settings ------------------------------------------------------- */

static int set_limit_one(struct pool *p, int dim, int64_t per_minute, int64_t now,
			 am_err *err)
{
	int ds[2];
	int nd = dims_of(dim, ds);
	for (int j = 0; j < nd; j++) {
		struct dim *d = &p->d[ds[j]];
		if (short_off(ds[j], d))
			continue;
		if (!span_ok(per_period(d, per_minute), d->period, d->burst_ns))
			return am_err_set(err, "rate limiter: %s %lld per minute is out of range",
					  dim_names[dim], (long long)per_minute);
	}
	int64_t t = pool_sync(p, now);
	for (int j = 0; j < nd; j++) {
		struct dim *d = &p->d[ds[j]];
		if (short_off(ds[j], d))
			continue;
		d->limit_cfg = d->limit_cap = per_period(d, per_minute);
		dim_rescale(d, t, dim_effective_limit(d), d->burst_ns, d->share, p->init_fill);
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
				  dim_names[dim]);
	if (pool < -1 || pool >= rl->npools)
		return am_err_set(err, "rate limiter: no pool %d", pool);
	for (int i = 0; i < rl->npools; i++) {
		if (pool >= 0 && i != pool)
			continue;
		struct pool *p = rl->pool[i];
		lock_take(&p->lk);
		int rc = set_limit_one(p, dim, per_minute, now, err);
		lock_give(&p->lk);
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
	lock_take(&p->lk);
	p->conc_cap = p->conc_cfg = cap;
	p->conc_ok = 0;
	lock_give(&p->lk);
	return 0;
}

/* ---- input estimator -------------------------------------------------------- */

static struct est *est_find(am_rl *rl, const char *model, bool create)
{
	for (int i = 0; i < rl->nest; i++)
		if (!strcmp(rl->est[i].model, model))
			return &rl->est[i];
	if (!create || strlen(model) >= sizeof rl->est[0].model)
		return NULL;
	struct est *e;
	if (rl->nest < AM_RL_MAX_MODELS) {
		e = &rl->est[rl->nest++];
	} else { /* forget the least recently used */
		e = &rl->est[0];
		for (int i = 1; i < rl->nest; i++)
			if (rl->est[i].used < e->used)
				e = &rl->est[i];
	}
	memset(e, 0, sizeof *e);
	snprintf(e->model, sizeof e->model, "%s", model);
	return e;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

/* Tokens per byte (ppm) to charge: the 90th percentile of the last samples
 * plus the margin; before enough samples, never below the default. */
static int64_t est_ratio(const am_rl *rl, const struct est *e)
{
	if (!e || !e->n)
		return rl->est_default;
	uint32_t v[EST_RING];
	memcpy(v, e->ratio, sizeof v);
	qsort(v, (size_t)e->n, sizeof v[0], cmp_u32);
	int k = (e->n * 9 + 9) / 10 - 1;
	int64_t q = v[k];
	if (e->n < rl->est_min)
		return max64(rl->est_default, v[e->n - 1]);
	return q + (q * rl->est_margin + PPM - 1) / PPM;
}

int64_t am_rl_estimate_input(am_rl *rl, const char *model, int64_t bytes)
{
	if (bytes <= 0)
		return 1;
	pthread_mutex_lock(&rl->est_mu);
	struct est *e = est_find(rl, model ? model : "", false);
	if (e)
		e->used = ++rl->est_tick;
	int64_t ratio = est_ratio(rl, e);
	pthread_mutex_unlock(&rl->est_mu);
	i128 tok = ((i128)bytes * ratio + PPM - 1) / PPM;
	return tok < 1 ? 1 : clamp64(tok > COST_MAX ? COST_MAX : tok);
}

void am_rl_learn_input(am_rl *rl, const char *model, int64_t bytes, int64_t tokens)
{
	if (bytes <= 0 || tokens <= 0)
		return;
	i128 r = ((i128)tokens * PPM + bytes - 1) / bytes;
	uint32_t ratio = r > 100 * PPM ? 100 * PPM : (uint32_t)r;
	pthread_mutex_lock(&rl->est_mu);
	struct est *e = est_find(rl, model ? model : "", true);
	if (e) {
		e->ratio[e->pos] = ratio;
		e->pos = (e->pos + 1) % EST_RING;
		if (e->n < EST_RING)
			e->n++;
		e->used = ++rl->est_tick;
	}
	pthread_mutex_unlock(&rl->est_mu);
}

/* ---- figures ---------------------------------------------------------------- */

void am_rl_stats(am_rl *rl, int pool, int64_t now, am_rl_pool_stats *out)
{
	memset(out, 0, sizeof *out);
	out->head_blocked_by = -1;
	if (pool < 0 || pool >= rl->npools)
		return;
	struct pool *p = rl->pool[pool];
	lock_take(&p->lk);
	int64_t t = max64(now, p->last);
	struct dim dims[AM_RL_NDIMS];
	memcpy(dims, p->d, sizeof dims);
	dims_recover(dims, t, p->init_fill);
	memcpy(out->name, p->name, sizeof out->name);
	for (int i = 0; i < AM_RL_NDIMS; i++) {
		const struct dim *d = &dims[i];
		am_rl_dim_stats *s = &out->dim[i];
		s->name = dim_names[i];
		s->limited = d->limit != 0;
		s->level = dim_level(d, t);
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
		int64_t r = plan_costs(p, dims, p->head->cost, t, &blk);
		out->head_wait_ns = t - p->head->t_enqueue;
		out->head_ready_in_ns = r == INT64_MAX ? INT64_MAX : r - t;
		out->head_blocked_by = blk;
	}
	lock_give(&p->lk);
}

void am_rl_export(am_rl *rl, int pool, am_rl_raw *out)
{
	memset(out, 0, sizeof *out);
	if (pool < 0 || pool >= rl->npools)
		return;
	struct pool *p = rl->pool[pool];
	lock_take(&p->lk);
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
	lock_give(&p->lk);
}
