/* limiter (am_rl_): decides when each queued call may go, so that the
 * pipeline runs at the highest rate the provider allows without 429s.
 *
 * Model. A limiter holds up to AM_RL_MAX_POOLS pools (one per provider limit
 * group: "opus-4", "sonnet-4", ...); config maps model ids to pools. A pool
 * has four dimensions, each a GCRA token bucket kept as ONE int64, its TAT
 * (theoretical arrival time, monotonic ns; the bucket is full when TAT <= now):
 *   AM_RL_REQ        requests per minute (60 s bucket by default)
 *   AM_RL_ITOK       input tokens per minute
 *   AM_RL_OTOK       output tokens per minute (charged max_tokens at grant,
 *                    corrected at settle, as the server does)
 *   AM_RL_REQ_SHORT  the same request rate with a 1 s bucket ("60 RPM may be
 *                    enforced as 1 request per second")
 * Emission interval T = period / (limit * share); capacity b units;
 * tolerance tau = b * T. Level(t) = b - max(0, TAT - t) / T. A cost c fits at
 * t iff TAT + c*T - tau <= t; a grant commits TAT = max(TAT, t) + c*T on every
 * dimension at once (all-or-nothing). Integer math only: T is a 64.32 fixed
 * point rounded UP for charges and DOWN for refunds, with __int128
 * intermediates; every sum saturates, so no input overflows (1/day .. 10^9/s,
 * costs up to 2^40, clocks up to 2^62 ns).
 *
 * Time is a parameter: every call takes `now` (monotonic ns) and the pool
 * clamps it to the latest `now` it has seen, so a stale or backward time can
 * never mint tokens. The limiter does no I/O, owns no thread and never sleeps.
 * The worker asks am_rl_next_event_ns() when to call am_rl_poll() next and
 * arms one timer for it (re-asking after every call that changes state).
 *
 * Tickets. The caller owns an am_rl_ticket (usually inside its job):
 *   init -> acquire (GRANTED at once, or QUEUED) -> [poll grants it] -> sent
 *   -> observe/confirm (headers arrived) -> settle (usage known)
 * or cancel at any point, or on_429 (back to the head of the queue). The pool
 * queue is FIFO and only its head is planned; a later ticket may be granted
 * first ("backfill") only when it fits now and granting it does not move the
 * head's planned grant time. A ticket must not be freed or re-initialised
 * while the limiter holds it (QUEUED, GRANTED, SENT, CONFIRMED).
 *
 * Guarantees (tests/test_limit_*.c):
 *  - Safety: for every dimension and every window of length W, units granted
 *    minus units refunded <= b + W * limit/period (+1 unit of rounding).
 *  - Utilization: with an infinite backlog the grant rate reaches >= 99% of
 *    limit * share.
 *  - Failure atomicity: a failed try_acquire or a call that returns -1 leaves
 *    the pool state byte-identical.
 *  - Oversize: a cost above a bucket's capacity fails at once (AM_RL_E2BIG).
 *
 * Where this departs from a plain GCRA limiter (and why):
 *  - No clock object and no timers inside: `now` is an argument and
 *    am_rl_next_event_ns() tells the caller's event loop when to wake (house
 *    rule: policy code takes time as a parameter).
 *  - The refund cap counts every charge granted and not yet confirmed, not
 *    only the sent ones: a granted-but-unsent charge will also reach the
 *    server, so leaving it out could let the model exceed the server.
 *  - Header calibration subtracts the refill since the ticket was SENT (the
 *    server cannot have produced the headers earlier), not zero: it is still
 *    an upper bound on the server's level, and ignoring that refill would
 *    lower the model on every response at full load and lose throughput.
 *    The "after this ticket" sum is the net (charge + debt - refund) of later
 *    grants, from a bounded ring of recent grants.
 *  - Share recovery is +1% per minute up to 100%, not capped by the foreign
 *    estimate: calibration already subtracts what others consume, so capping
 *    the share as well would count foreign use twice. The foreign estimate
 *    is reported.
 *  - Rescaling on a limit or share change rounds the deficit up to whole
 *    units (loses < 1 unit per change, never grants one).
 *  - A cost c fits when TAT - t <= (b - c) * T with that span rounded DOWN,
 *    not TAT + c*T - tau <= t with both rounded up: ceil(bT) - ceil(cT) can
 *    exceed (b - c)T and admit a fraction of a unit more than the exact
 *    bucket (the property test against the exact model found it).
 *  - 429 handling also keeps a per-dimension cooldown gate until retry-after,
 *    so a smaller request cannot slip in before the server's stated time.
 *
 * Ownership: one thread owns an am_rl - the worker thread (worker.h), which
 * creates it, makes every call on it and frees it. The limiter is not
 * thread-safe and takes no locks; no other thread may call any am_rl_
 * function on it, not even the read-only figures (am_rl_stats): observers
 * get those through the worker's snapshot. The tickets it holds are the
 * worker's too. */
#ifndef AIMETER_LIMITER_H
#define AIMETER_LIMITER_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "rlheaders.h"


enum {
	AM_RL_REQ = 0,
	AM_RL_ITOK = 1,
	AM_RL_OTOK = 2,
	AM_RL_REQ_SHORT = 3,
	AM_RL_NDIMS = 4,
	AM_RL_NCOST = 3,        /* costs the caller gives: REQ, ITOK, OTOK */
	AM_RL_MAX_POOLS = 8,
	AM_RL_MAX_MODELS = 32,  /* input-ratio estimators kept */
	AM_RL_DIM_UNKNOWN = -1,
	AM_RL_BLOCK_CONC = 4    /* "blocked by" value: the concurrency cap */
};

typedef enum am_rl_state {
	AM_RL_ST_IDLE = 0,   /* initialised, not in the limiter */
	AM_RL_ST_QUEUED,
	AM_RL_ST_GRANTED,    /* charged; the caller may send it */
	AM_RL_ST_SENT,
	AM_RL_ST_CONFIRMED,  /* response headers arrived */
	AM_RL_ST_SETTLED,
	AM_RL_ST_CANCELLED,
	AM_RL_ST_FAILED      /* see code: can never be admitted */
} am_rl_state;

typedef enum am_rl_code {
	AM_RL_OK = 0,
	AM_RL_EINVAL,  /* bad argument or wrong ticket state */
	AM_RL_E2BIG,   /* costs more than a bucket holds: can never be admitted */
	AM_RL_EFULL    /* the pool's queue is full */
} am_rl_code;

/* ---- configuration ------------------------------------------------------ */

typedef struct am_rl_dim_cfg {
	int64_t limit;      /* units per period; 0 = unlimited (never blocks) */
	int64_t period_ns;  /* 0 = 60 s */
	int64_t burst_ns;   /* capacity as refill time: b = limit*burst/period
	                     * (at least 1 unit); 0 = period */
} am_rl_dim_cfg;

typedef struct am_rl_pool_cfg {
	char name[32];
	am_rl_dim_cfg dim[AM_RL_NCOST]; /* REQ, ITOK, OTOK */
	int64_t short_window_ns;  /* REQ_SHORT bucket: this much of the REQ rate; 0 = off */
	int max_in_flight;        /* concurrency cap (granted, not settled) */
	int max_queue;            /* queued tickets at most */
	int32_t init_fill_ppm;    /* level at creation, fraction of capacity
	                           * (the short request bucket starts full) */
	bool learn_level;         /* the starting levels are a guess: the first
	                           * headers that bound a dimension from below
	                           * set its level (am_rl_observe) */
} am_rl_pool_cfg;

/* A model id -> pool name entry. `model` matches exactly, or as a prefix when
 * it ends in '*'. */
typedef struct am_rl_map {
	const char *model;
	const char *pool;
} am_rl_map;

typedef struct am_rl_cfg {
	const am_rl_pool_cfg *pools;
	int npools;               /* 1 .. AM_RL_MAX_POOLS */
	const am_rl_map *map;
	int nmap;
	int backfill_scan;        /* how many queued tickets behind the head may
	                           * be granted early; 0 = strict FIFO */
	int grant_ring;           /* recent grants remembered for calibration
	                           * (power of two; 0 = default 1024) */
	int32_t est_default_ppm;  /* input tokens per request byte before learning
	                           * (ppm); default 333334 = 1 token per 3 bytes */
	int32_t est_margin_ppm;   /* added on top of the learned quantile */
	int est_min_samples;      /* samples before the learned ratio replaces
	                           * max(default, learned) */
} am_rl_cfg;

/* Fills a pool config with the defaults: name, limits per minute (0 =
 * unlimited), 60 s buckets, 1 s short request bucket, 64 in flight, queue of
 * 4096, init fill 25%, learn_level on. */
void am_rl_pool_cfg_init(am_rl_pool_cfg *pc, const char *name, int64_t rpm,
			 int64_t itpm, int64_t otpm);

/* Fills a limiter config with the defaults (backfill 32, ring 1024,
 * estimator 1 token per 3 bytes, +2% margin, 8 samples); pools and map are
 * left for the caller. */
void am_rl_cfg_init(am_rl_cfg *cfg);

typedef struct am_rl am_rl;

/* Builds a limiter; buckets start at init_fill at time `now`. Copies
 * everything from cfg. -1 + err on an invalid config (no pools, duplicate
 * names, a limit whose bucket would span more than 2^61 ns, ...). */
int am_rl_create(am_rl **out, const am_rl_cfg *cfg, int64_t now, am_err *err);

/* Frees the limiter. Tickets still inside are forgotten (not touched). */
void am_rl_free(am_rl *rl);

int am_rl_npools(const am_rl *rl);
const char *am_rl_pool_name(const am_rl *rl, int pool);

/* Pool index for a model id: an exact map entry, else the longest matching
 * prefix entry ("claude-opus-4*"), else the pool named after the model's
 * family ("claude-opus-4-5-2025..." -> "opus-4", "claude-3-5-haiku-..." ->
 * "haiku-3"), else the pool named "default", else pool 0. Never fails. */
int am_rl_pool_for_model(const am_rl *rl, const char *model);

/* ---- tickets ------------------------------------------------------------- */

typedef struct am_rl_ticket {
	/* Read-only for the caller. */
	void *user;                   /* the caller's pointer, returned by poll */
	int pool;
	am_rl_state state;
	am_rl_code code;              /* why state is FAILED */
	int64_t cost[AM_RL_NDIMS];    /* units charged per dimension at grant */
	uint64_t seq;                 /* FIFO position (kept when requeued) */
	int64_t t_enqueue, t_grant;   /* mono ns */
	/* Private to the limiter. */
	struct am_rl_ticket *prev, *next;
	uint64_t gseq;                /* grant number, for calibration */
	int64_t t_sent;
	bool in_unconf;               /* counted in the unconfirmed sums */
} am_rl_ticket;

/* Prepares a ticket for `pool` with costs {REQ, ITOK, OTOK} (REQ is usually
 * 1, ITOK an estimate biased up (am_rl_estimate_input), OTOK max_tokens).
 * A new ticket must be zero-initialised (= {0}); a settled, cancelled or
 * failed one may be re-initialised. -1 + err (code EINVAL) on a bad pool, a
 * negative cost or a ticket the limiter still holds. Oversize is reported by acquire. */
int am_rl_ticket_init(am_rl *rl, am_rl_ticket *t, int pool,
		      const int64_t cost[AM_RL_NCOST], void *user, am_err *err);

/* Queues the ticket (FIFO). Returns 1 when granted at once (queue empty or a
 * backfill that cannot delay the head), 0 when queued (am_rl_poll grants it
 * later), -1 + err: t->code = E2BIG when a cost exceeds a bucket's capacity
 * (the message names the dimension), EFULL when the queue is full, EINVAL.
 * On -1 nothing changed. */
int am_rl_acquire(am_rl *rl, am_rl_ticket *t, int64_t now, am_err *err);

/* Grants now or not at all; never queues. Returns 1 when granted, 0 when it
 * does not fit now (nothing changed, not even the clamp; *retry_in_ns, when
 * non-NULL, is the earliest wait after which it could fit if nothing else
 * changes, INT64_MAX when only a settle can help), -1 + err as acquire. */
int am_rl_try_acquire(am_rl *rl, am_rl_ticket *t, int64_t now,
		      int64_t *retry_in_ns, am_err *err);

/* Grants every queue head (and backfill) that is due at `now`, over all
 * pools, and fails heads that can no longer ever fit (a limit was lowered
 * below their cost: state FAILED, code E2BIG). Writes up to max changed
 * tickets to out and returns how many; call again when it returns max. */
int am_rl_poll(am_rl *rl, int64_t now, am_rl_ticket **out, int max);

/* When to call am_rl_poll next: the earliest planned grant over all pools
 * (<= now: poll now), or INT64_MAX when nothing waits on time (empty queues,
 * or heads waiting only for a settle under the concurrency cap). */
int64_t am_rl_next_event_ns(am_rl *rl, int64_t now);
int64_t am_rl_pool_next_event_ns(am_rl *rl, int pool, int64_t now);

/* The request left (the server may charge it from now on). */
void am_rl_sent(am_rl *rl, am_rl_ticket *t, int64_t now);

/* Response headers arrived: the server has charged this ticket. */
void am_rl_confirm(am_rl *rl, am_rl_ticket *t, int64_t now);

/* Confirms t and calibrates its pool from the headers of t's response:
 * a changed `limit` is adopted with level continuity; remaining/reset give an
 * upper bound on the server's level, and the model is lowered to it; the gap
 * is counted as foreign consumption. They also give a lower bound (remaining
 * less the rounding, the limit less what the reset time says is missing),
 * and less every charge of ours the server may not have made yet it is what
 * the server surely holds for us. In a pool that learns its level, while
 * the pool can tell that it is alone on the server (the server misses no
 * more of its limit than the pool ever charged, and the pool's whole
 * history is still in its grant ring), the model is raised to that bound,
 * and the first such bound sets it even when lower. So a new process that
 * guessed its buckets low (init fill) uses what the server reports from its
 * first answer on; when others spend too, their charges in flight are in
 * no header, and headers only lower. For a ticket no longer
 * held (cancelled) only limits and the figures shown are updated. For headers that describe the
 * server at the request's start (streaming) call this when they arrive; for a
 * response whose headers come with the body, call it after am_rl_settle. */
void am_rl_observe(am_rl *rl, am_rl_ticket *t, const am_rl_headers *h,
		   int64_t now);

/* The call finished with `actual` usage {REQ, ITOK, OTOK} as the server
 * counts it (ITOK: input + cache writes, + cache reads for models that count
 * them). Over-use becomes debt; the unused part is refunded, but never above
 * capacity minus what is granted and still unconfirmed. Idempotent; a no-op
 * for a ticket that is not granted/sent/confirmed. */
void am_rl_settle(am_rl *rl, am_rl_ticket *t, const int64_t actual[AM_RL_NCOST],
		  int64_t now);

/* QUEUED: leaves the queue, nothing else changes. GRANTED (not sent): full
 * refund (capped as in settle). SENT/CONFIRMED: settled as charged (the server
 * may have charged it). Otherwise a no-op. */
void am_rl_cancel(am_rl *rl, am_rl_ticket *t, int64_t now);

/* A 429 for t (granted, sent or confirmed). dim is the limit the body names
 * (am_rl_dim_from_message) or AM_RL_DIM_UNKNOWN (then the headers decide, else
 * REQ). Pauses only that pool dimension until retry-after-ms / retry-after
 * (else 0.5 s * 2^n up to 8 s), calibrates from h (may be NULL), cuts that
 * dimension's share by 10% (floor 50%; +1% per minute after), halves its
 * bucket when the model cannot explain the 429, and puts t back at the head
 * of the queue with its seq (state QUEUED). */
void am_rl_on_429(am_rl *rl, am_rl_ticket *t, const am_rl_headers *h, int dim,
		  int64_t now);

/* A 529/5xx for t: settles it as charged (the server may have charged) and
 * lowers the pool's concurrency cap by 10% (floor 1); the cap climbs back by
 * one per cap-many successful settles. */
void am_rl_on_overload(am_rl *rl, am_rl_ticket *t, int64_t now);

/* The dimension a 429 message names ("input tokens" -> ITOK, "output tokens"
 * -> OTOK, "requests" -> REQ), else AM_RL_DIM_UNKNOWN. msg may be NULL. */
int am_rl_dim_from_message(const char *msg);

/* ---- run-time settings -------------------------------------------------- */

/* Sets a pool's limit for dim (REQ, ITOK or OTOK; REQ also drives REQ_SHORT)
 * in units per minute, as the user's cap: the effective limit is
 * min(server-reported limit if known else this, this). Keeps the level in
 * units (no unearned burst when raising; when lowering the level is clamped
 * to the new capacity) and takes effect on the next grant. pool -1 = all.
 * -1 + err for a bad value. */
int am_rl_set_limit(am_rl *rl, int pool, int dim, int64_t per_minute,
		    int64_t now, am_err *err);

/* Sets the concurrency cap of a pool (>= 1). */
int am_rl_set_max_in_flight(am_rl *rl, int pool, int cap, am_err *err);

/* ---- input-token estimator ---------------------------------------------- */

/* Estimated input tokens for a request body of `bytes` for `model`, biased
 * up: a high quantile of the model's recent tokens-per-byte ratios plus a
 * margin, or 1 token per 3 bytes (configurable) until enough samples. >= 1. */
int64_t am_rl_estimate_input(am_rl *rl, const char *model, int64_t bytes);

/* The largest tokens-per-byte ratio (ppm) am_rl_estimate_input charges
 * now, over every model it knows and the default: a bound on what it
 * would estimate for any model. Reads only. */
int64_t am_rl_input_ratio_max(const am_rl *rl);

/* Teaches the estimator: a request of `bytes` counted `tokens` input tokens
 * (all of them, cache reads included). Ignores non-positive values. */
void am_rl_learn_input(am_rl *rl, const char *model, int64_t bytes,
		       int64_t tokens);

/* ---- observation -------------------------------------------------------- */

typedef struct am_rl_dim_stats {
	const char *name;           /* "RPM", "ITPM", "OTPM", "RPM/s" (static) */
	bool limited;               /* limit > 0 */
	int64_t level;              /* units available now, floor (negative = debt) */
	int64_t capacity;           /* b */
	int64_t limit;              /* effective units per period */
	int64_t period_ns;
	int64_t limit_cfg, limit_srv; /* configured / server-reported (0 unknown) */
	int32_t share_ppm;
	int64_t unconfirmed;        /* units granted and not yet confirmed */
	int64_t n429;
	bool has_server;
	int64_t server_remaining;
	int64_t server_reset_ns;    /* wall ns, as the server stated */
	int64_t cooldown_until_ns;  /* mono ns; <= now when not paused */
	int64_t foreign_per_min;    /* estimated consumption by others, units/min */
} am_rl_dim_stats;

typedef struct am_rl_pool_stats {
	char name[32];
	am_rl_dim_stats dim[AM_RL_NDIMS];
	int queue_depth, in_flight, max_in_flight;
	int64_t head_wait_ns;       /* now - head's enqueue time; 0 when empty */
	int64_t head_ready_in_ns;   /* planned grant - now (0 = due; INT64_MAX
	                             * when blocked by concurrency) */
	int head_blocked_by;        /* dim index, AM_RL_BLOCK_CONC, or -1 */
	int64_t n429;
	int64_t granted, backfilled, failed;
} am_rl_pool_stats;

/* Copies a pool's figures at `now` (not clamped into the pool: read-only). */
void am_rl_stats(am_rl *rl, int pool, int64_t now, am_rl_pool_stats *out);

/* The pool's complete mutable state as plain integers: one TAT per dimension
 * (what a shared store would hold), plus the local bookkeeping. For tests
 * (byte-identical comparisons) and a later shared mode. Padding is zeroed. */
typedef struct am_rl_raw {
	int64_t tat[AM_RL_NDIMS];
	int64_t unconf[AM_RL_NDIMS];
	int64_t cooldown[AM_RL_NDIMS];
	int64_t recover_at[AM_RL_NDIMS];
	int64_t limit[AM_RL_NDIMS];
	int64_t limit_srv[AM_RL_NDIMS];
	int64_t capacity[AM_RL_NDIMS];
	int64_t burst_ns[AM_RL_NDIMS];
	int64_t share_ppm[AM_RL_NDIMS];
	int64_t last_now;
	int64_t queue_depth, in_flight, max_in_flight;
	uint64_t next_seq, next_gseq;
} am_rl_raw;

void am_rl_export(am_rl *rl, int pool, am_rl_raw *out);

#endif
