/* clock: the one place that reads real time, behind a seam.
 *
 * Policy code (limiter, budget, retry, burn rate) never calls these: loops
 * read the clock once per tick and pass `now` down. Tests use clock_fake.
 * Monotonic time is in nanoseconds; wall time is in nanoseconds since the
 * Unix epoch (UTC). Thread-safe. */
#ifndef AIMETER_CLOCK_H
#define AIMETER_CLOCK_H

#include <stdint.h>

typedef struct am_clock {
	int64_t (*mono_ns)(void *ctx);
	int64_t (*wall_ns)(void *ctx);
	void *ctx;
} am_clock;

#define AM_NS_PER_SEC  1000000000LL
#define AM_NS_PER_MS   1000000LL
#define AM_NS_PER_US   1000LL

/* The process-wide real clock (CLOCK_MONOTONIC, CLOCK_REALTIME). */
const am_clock *am_clock_system(void);

static inline int64_t am_clock_mono(const am_clock *c) { return c->mono_ns(c->ctx); }
static inline int64_t am_clock_wall(const am_clock *c) { return c->wall_ns(c->ctx); }

/* A manual clock for tests. Not thread-safe by itself: advance it from the
 * test thread only. */
typedef struct am_clock_fake {
	am_clock clock;
	int64_t mono;
	int64_t wall;
} am_clock_fake;

void am_clock_fake_init(am_clock_fake *f, int64_t mono_ns, int64_t wall_ns);
void am_clock_fake_advance(am_clock_fake *f, int64_t delta_ns);

#endif
