/* redis (am_redis_): what several hosts of one organisation share through
 * one Redis server - the rate limits, the budget and the response cache.
 *
 * Connection. redis.url is redis://[user:pass@]host:port/db (rediss:// is
 * refused: the hiredis this builds with has no TLS). The password comes
 * from the URL or from redis.password_file (mode 0600; never printed,
 * logged or put in a message). Every key starts with redis.prefix, so one
 * Redis can serve several organisations. An am_redis connects lazily and
 * never crashes its caller: a failed command drops the connection, the
 * object says it is down and why, and am_redis_ensure() reconnects with a
 * backoff (250 ms doubling to 8 s) at the time its caller passes in.
 *
 * Scripts. Each shared operation is one Lua script, loaded once per
 * connection (SCRIPT LOAD) and run by EVALSHA; a NOSCRIPT reply (Redis
 * restarted, or SCRIPT FLUSH) loads it again and retries once. Scripts
 * read Redis's own clock (TIME), so the hosts' clocks never matter; the
 * times they return are durations.
 *
 * Limiter (redis_rl.c). Per pool one hash holds, for each dimension (the
 * limiter's four: REQ, ITOK, OTOK, REQ_SHORT), the GCRA state the local
 * limiter keeps in its TAT (limiter.h), in microseconds of Redis time:
 * tat, the emission interval it was computed with, the share (cut by 10%
 * on a 429, floor 50%, +1% a minute back), the 429 cool-down, a net
 * counter of units granted (for header calibration) and whether headers
 * have set its level yet (redis_scripts.c packs them in one field). Acquire grants all
 * dimensions or none in one round trip and otherwise says how long to
 * wait; settle refunds or charges the difference between the charge and
 * the usage, and calibrates from the response's headers. Queue order and
 * the concurrency cap stay with each host's local limiter.
 *
 * Budget (redis_budget.c). Per day and per month a hash host -> what that
 * host's ledger says it spent (a host publishes its absolute totals, so
 * publishing again is harmless and a host that was cut off settles by
 * publishing once it is back); per member (one process) a hash of its
 * outstanding reservations, which live as long as the member's heartbeat
 * key (redis.lease_s): a member that dies takes its reservations with it.
 * Reserve checks day and month, spent plus reserved plus this one, against
 * the limits in one script. Money is exact: the scripts add decimal
 * strings in two exact parts, never as a float.
 *
 * Cache (redis_cache.c). An entry is a string value under the local
 * cache's key (hex), holding the answer as the local table stores it, with
 * the same TTL, and refused above the same byte cap.
 *
 * Threads: an am_redis belongs to one thread (the worker's); no locks. */
#ifndef AIMETER_REDIS_H
#define AIMETER_REDIS_H

#include <stdbool.h>
#include <stdint.h>

#include "cache.h"
#include "err.h"
#include "limiter.h"
#include "rlheaders.h"

enum {
	AM_REDIS_HOST_MAX = 256,
	AM_REDIS_SECRET_MAX = 256,
	AM_REDIS_PREFIX_MAX = 64
};

typedef struct am_redis_url {
	char host[AM_REDIS_HOST_MAX];
	int port;                       /* 6379 when not given */
	int db;                         /* 0 when not given */
	char user[128];                 /* "" = none (AUTH pass) */
	char pass[AM_REDIS_SECRET_MAX]; /* "" = none */
} am_redis_url;

/* Parses redis://[user[:pass]@]host[:port][/db]. -1 + err (which never
 * holds the password) for anything else; rediss:// is refused with why. */
int am_redis_url_parse(const char *url, am_redis_url *out, am_err *err);

typedef struct am_redis_opts {
	const char *url;
	const char *password_file;  /* NULL or "" = none; overrides the URL's */
	const char *prefix;         /* NULL = "aimeter:" */
	int connect_timeout_ms;     /* 0 = 500 */
	int timeout_ms;             /* a command's, 0 = 2000 */
} am_redis_opts;

typedef struct am_redis am_redis;

/* Parses the URL and reads the password file; does not connect (the first
 * am_redis_ensure does). -1 + err for a bad URL or an unreadable password
 * file (or one others may read). */
int am_redis_new(am_redis **out, const am_redis_opts *o, am_err *err);
void am_redis_free(am_redis *r);

/* Connects when down and the backoff has passed (now: monotonic ns).
 * 1 = connected by this call, 0 = was up already or not due yet, -1 = still
 * down (am_redis_why says why). */
int am_redis_ensure(am_redis *r, int64_t now);
bool am_redis_up(const am_redis *r);
/* Why it is down (or the last failure): never the password. */
const char *am_redis_why(const am_redis *r);
/* Drops the connection as a failure would (tests, and the caller's "stop
 * using it"); the next ensure after the backoff reconnects. */
void am_redis_drop(am_redis *r, int64_t now, const char *why);
/* "host:port/db", for messages. */
const char *am_redis_where(const am_redis *r);
const char *am_redis_prefix(const am_redis *r);

/* ---- the shared limiter --------------------------------------------------- */

typedef struct am_redis_rl_dim {
	int64_t limit;     /* units per period; 0 = not enforced */
	int64_t period_ns;
	int64_t cap;       /* bucket capacity, units */
	int32_t init_ppm;  /* level of a new bucket, share of cap */
} am_redis_rl_dim;

typedef struct am_redis_rl_pool {
	char name[32];
	am_redis_rl_dim dim[AM_RL_NDIMS];
} am_redis_rl_pool;

/* What a grant charged, and the net grant counters right after it. */
typedef struct am_redis_grant {
	int64_t cost[AM_RL_NDIMS];
	int64_t mark[AM_RL_NDIMS];
} am_redis_grant;

/* Charges cost (REQ, ITOK, OTOK, REQ_SHORT) on every dimension at once if
 * all fit now: 1 (g filled). 0: not yet, *wait_ns until it could fit (a
 * cool-down included). -1 + err: Redis failed (err->code AM_E_FAIL) or a
 * cost exceeds a bucket (AM_E_INVALID, never fits). */
int am_redis_rl_acquire(am_redis *r, const am_redis_rl_pool *p, const int64_t cost[AM_RL_NDIMS],
                        am_redis_grant *g, int64_t *wait_ns, am_err *err);

/* After a call: refund[d] > 0 gives units back (never above the bucket's
 * capacity), < 0 charges more. h (may be NULL) calibrates the shared
 * state from the response's headers: the first headers the organisation
 * sees for a dimension set its level (remaining less what was granted after
 * this call and less the rounding), later ones only lower it to the upper
 * bound (remaining plus the refill since the call was sent, less what was
 * granted since). since_sent_ns: how long ago the call left. */
int am_redis_rl_settle(am_redis *r, const am_redis_rl_pool *p, const am_redis_grant *g,
                       const int64_t refund[AM_RL_NDIMS], const am_rl_headers *h,
                       int64_t since_sent_ns, am_err *err);

/* A 429 on dimension dim (REQ, ITOK or OTOK; REQ_SHORT with REQ): every
 * host waits out the cool-down (retry_ns, capped at 60 s), the dimension's
 * share drops by 10% (floor 50%, +1% a minute back), and its level drops to
 * what the headers say remains (else to half the bucket). */
int am_redis_rl_on_429(am_redis *r, const am_redis_rl_pool *p, int dim, int64_t retry_ns,
                       const am_rl_headers *h, am_err *err);

/* The shared state of a pool dimension, for figures and tests. */
typedef struct am_redis_rl_view {
	int64_t level;        /* units available now (floor; negative = debt) */
	int64_t share_ppm;
	int64_t cooldown_ns;  /* left, 0 when none */
	int64_t granted;      /* the net counter */
} am_redis_rl_view;
int am_redis_rl_view_dim(am_redis *r, const am_redis_rl_pool *p, int dim, am_redis_rl_view *out,
                         am_err *err);

/* ---- the shared budget ---------------------------------------------------- */

typedef struct am_redis_budget_id {
	const char *host;   /* the ledger's identity: its spend is one figure */
	const char *member; /* this process: its reservations */
	int64_t lease_s;
} am_redis_budget_id;

typedef struct am_redis_totals {
	int64_t day_pusd, month_pusd; /* spent by every host today / this month */
	int64_t reserved_pusd;        /* reservations of every live member */
	int64_t host_day_pusd;        /* this host's part of day_pusd */
} am_redis_totals;

typedef enum am_redis_verdict {
	AM_REDIS_RESERVED,
	AM_REDIS_BLOCKED_DAY,
	AM_REDIS_BLOCKED_MONTH
} am_redis_verdict;

/* Reserves amount under res_id when day and month (spent + reserved + it)
 * stay within their limits (0 = none): *verdict, and *t the totals seen
 * (without this reservation). -1 + err when Redis failed. */
int am_redis_budget_reserve(am_redis *r, const am_redis_budget_id *id, const char *day,
                            const char *month, const char *res_id, int64_t amount,
                            int64_t day_limit, int64_t month_limit, am_redis_verdict *verdict,
                            am_redis_totals *t, am_err *err);

/* Publishes this host's totals (absolute: they only ever grow within a
 * period, so a stale or repeated figure never lowers them), drops the
 * reservations named in release (n of them), renews the member's lease,
 * and reads the totals (t may be NULL). */
int am_redis_budget_publish(am_redis *r, const am_redis_budget_id *id, const char *day,
                            const char *month, int64_t host_day, int64_t host_month,
                            const char *const *release, int n, am_redis_totals *t, am_err *err);

/* Puts reservations back (after a reconnect: Redis may have lost them). */
int am_redis_budget_rehold(am_redis *r, const am_redis_budget_id *id, const char *const *res_id,
                           const int64_t *amount, int n, am_err *err);

/* ---- the shared cache -------------------------------------------------------- */

/* 1 = hit (*out filled, free with am_cache_answer_free), 0 = miss, -1 + err. */
int am_redis_cache_get(am_redis *r, const uint8_t key[AM_CACHE_KEY_LEN], am_cache_answer *out,
                       am_err *err);

/* Stores a for ttl_s unless its stored form exceeds max_bytes (then
 * *stored false). -1 + err when Redis failed. */
int am_redis_cache_put(am_redis *r, const uint8_t key[AM_CACHE_KEY_LEN], const am_cache_answer *a,
                       int64_t ttl_s, int64_t max_bytes, bool *stored, am_err *err);

#endif
