/* sim_bucket: the simulator's server-side token buckets (RPM, ITPM, OTPM).
 *
 * A continuously refilled token bucket, as Anthropic documents its limiter:
 * `limit` tokens per minute flow in, up to `cap` tokens. The level is kept
 * as an exact integer in units of 1/60e9 token, so that refill is exactly
 * `limit` units per nanosecond and no rounding ever mints or loses tokens.
 * Time is an argument (monotonic nanoseconds); a `now` earlier than the last
 * one seen is treated as no time passing, so time never runs backwards.
 * Plain data: the caller serialises access (the simulator holds its lock). */
#ifndef AIMETER_SIM_BUCKET_H
#define AIMETER_SIM_BUCKET_H

#include <stdint.h>

#include "clock.h"

/* Level units per token: 60 s in nanoseconds. */
#define AM_SIMBUCKET_UNIT (60LL * AM_NS_PER_SEC)
/* Largest limit and capacity (tokens per minute / tokens): keeps cap × UNIT in int64. */
#define AM_SIMBUCKET_MAX 100000000LL
/* am_simbucket_wait_ns's answer when a charge can never fit (n > cap). */
#define AM_SIMBUCKET_NEVER INT64_MAX

typedef struct am_simbucket {
	int64_t limit;   /* tokens per minute; 0 = unlimited (every call below is a no-op) */
	int64_t cap;     /* capacity in tokens, 1..AM_SIMBUCKET_MAX */
	int64_t level;   /* units, 0..cap × UNIT */
	int64_t last_ns; /* monotonic time the level was computed at */
} am_simbucket;

/* Sets limit and capacity; the bucket starts full. limit and cap are clamped
 * to 0..AM_SIMBUCKET_MAX; cap <= 0 means cap = limit (one minute). */
void am_simbucket_init(am_simbucket *b, int64_t limit, int64_t cap, int64_t now_ns);

/* Changes limit and capacity at run time, keeping the current level (clamped
 * to the new capacity). A bucket that was unlimited starts full. */
void am_simbucket_set(am_simbucket *b, int64_t limit, int64_t cap, int64_t now_ns);

/* Nanoseconds until n tokens are available: 0 when they are now,
 * AM_SIMBUCKET_NEVER when n exceeds the capacity. Refills first. */
int64_t am_simbucket_wait_ns(am_simbucket *b, int64_t n, int64_t now_ns);

/* Removes n tokens. Call only after am_simbucket_wait_ns(b, n, now) == 0. */
void am_simbucket_take(am_simbucket *b, int64_t n, int64_t now_ns);

/* Gives n tokens back (a refund), never above the capacity. n < 0 is ignored. */
void am_simbucket_give(am_simbucket *b, int64_t n, int64_t now_ns);

/* Whole tokens available now (rounded down). */
int64_t am_simbucket_remaining(am_simbucket *b, int64_t now_ns);

/* Nanoseconds until the bucket is full again (0 when it is full). */
int64_t am_simbucket_full_in_ns(am_simbucket *b, int64_t now_ns);

#endif
