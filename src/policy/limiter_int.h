/* limiter_int: the limiter's private state and the helpers its files share
 * (limiter.c creation, model map, settings and figures; limiter_gcra.c the
 * bucket arithmetic; limiter_pool.c the queue, grants and ticket life;
 * limiter_feedback.c header calibration and 429s; limiter_estimate.c the
 * input-token estimator). Nothing outside src/policy/limiter*.c includes it.
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
 * One owner. An am_rl belongs to one thread (the worker's): nothing here
 * locks, and no field is laid out for sharing between cores. */
#ifndef AIMETER_LIMITER_INT_H
#define AIMETER_LIMITER_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "limiter.h"

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
/* The longest pause a 429's retry-after may impose (the retry policy's cap
 * too): a server that says "wait a year" must not stall a pool for one. */
#define RETRY_AFTER_MAX_NS (60 * NS_PER_S)
#define TOKEN_ROUNDING 500            /* remaining is rounded to 1000s */
#define EST_RING 32

/* ---- state ----------------------------------------------------------------- */

struct dim {
	/* the bucket, its unconfirmed sum and what the fast paths read */
	int64_t tat;
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
	bool guarded;           /* the short request bucket: runs a little slow
	                         * (rl_dim_effective_limit) */
	int64_t share;          /* ppm */
	int64_t recover_at;
	/* figures */
	int64_t n429;
	bool has_srv;
	int64_t srv_rem, srv_reset;
	int64_t fw_start, fw_sum, foreign_pm;
	bool calibrated;        /* the level is no longer the starting guess
	                         * (headers bounded it from below, or the pool
	                         * does not learn its level) */
};

struct gent {                   /* one recent grant, for calibration */
	uint64_t gseq;
	int64_t charge[AM_RL_NCOST];
	int64_t adj[AM_RL_NCOST];   /* debt - refund applied after the grant */
	int64_t t_conf;             /* when it left the unconfirmed sums
	                             * (INT64_MAX: not yet) */
	bool open;                  /* not settled yet */
};

struct pool {
	int in_flight, conc_cap, depth;
	int64_t last;           /* the clamp */
	int64_t recover_min;    /* min over dims of recover_at */
	int64_t gate;           /* max over dims of cooldown */
	am_rl_ticket *head, *tail;
	uint64_t next_seq;
	uint64_t next_gseq;     /* grants so far (also the figure "granted") */
	struct gent *ring;
	uint64_t ring_mask;
	int max_queue, conc_cfg, conc_ok, consec429;
	int64_t conf_lost;      /* latest confirmation of a grant the ring had
	                         * already forgotten */
	int backfill;
	int32_t init_fill;
	struct dim d[AM_RL_NDIMS];
	char name[32];
	int64_t n429;
	int64_t backfilled, failed;
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
	struct est est[AM_RL_MAX_MODELS];
	int nest;
	uint64_t est_tick;
	int32_t est_default, est_margin;
	int est_min;
};

extern const char *const rl_dim_names[AM_RL_NDIMS]; /* "RPM", ... */
extern const char *const rl_dim_units[AM_RL_NDIMS]; /* "requests", ... */

/* ---- integer helpers (inline: the hot path uses them) ---------------------- */

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

/* The short request bucket is configured off (window 0 or a full period). */
static inline bool short_off(int i, const struct dim *d)
{
	return i == AM_RL_REQ_SHORT && (d->burst_ns <= 0 || d->burst_ns >= d->period);
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

/* ---- limiter_gcra.c: one bucket ---------------------------------------------- */

int64_t rl_units_of(const struct dim *d, int64_t span, bool up);
void rl_dim_params(struct dim *d);
int64_t rl_dim_level(const struct dim *d, int64_t t);
void rl_dim_set_level(struct dim *d, int64_t t, int64_t level);
void rl_dim_rescale(struct dim *d, int64_t t, int64_t limit, int64_t burst_ns,
		    int64_t share, int32_t init_fill);
int64_t rl_dim_effective_limit(const struct dim *d);
int64_t rl_per_period(const struct dim *d, int64_t per_minute);
bool rl_span_ok(int64_t limit, int64_t period, int64_t burst_ns);
void rl_dims_recover(struct dim *dims, int64_t t, int32_t init_fill);
void rl_pool_summarize(struct pool *p);

/* Refunds k units at t without lifting the level above capacity minus what
 * is granted and unconfirmed. Returns the units actually credited (rounded
 * down). */
static inline int64_t dim_refund(struct dim *d, int64_t t, int64_t k)
{
	if (!d->limit || k <= 0)
		return 0;
	int64_t floor_tat = d->unconf ? sadd(t, ns_up(d, d->unconf)) : t;
	int64_t want = ssub(d->tat, ns_dn(d, k));
	int64_t nt = max64(want, floor_tat);
	if (nt >= d->tat)
		return 0;
	int64_t credited = nt == want ? k : rl_units_of(d, d->tat - nt, false);
	d->tat = nt;
	return credited;
}

static inline void dim_debt(struct dim *d, int64_t t, int64_t k)
{
	if (!d->limit || k <= 0)
		return;
	d->tat = sadd(max64(d->tat, t), ns_up(d, k));
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
		rl_dims_recover(p->d, p->last, p->init_fill);
		rl_pool_summarize(p);
	}
	return p->last;
}

/* ---- limiter_pool.c: the queue and the life of a ticket ---------------------- */

int64_t rl_plan_costs(const struct pool *p, const struct dim *dims,
		      const int64_t *cost, int64_t t, int *blk);
bool rl_oversize(const struct pool *p, const int64_t *cost, int *which);
void rl_q_insert_by_seq(struct pool *p, am_rl_ticket *tk);
struct gent *rl_ring_entry(struct pool *p, const am_rl_ticket *tk);
void rl_unconfirm(struct pool *p, am_rl_ticket *tk, int64_t t);
void rl_settle_hold(struct pool *p, am_rl_ticket *tk, const int64_t *actual,
		    int64_t t, am_rl_state final);
bool rl_holds(const am_rl_ticket *tk);
struct pool *rl_pool_of(am_rl *rl, const am_rl_ticket *t);

#endif
