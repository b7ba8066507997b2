/* clock: the real clock and a manual one for tests. */
#include "clock.h"

#include <time.h>

static int64_t ts_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * AM_NS_PER_SEC + ts.tv_nsec;
}

static int64_t sys_mono(void *ctx)
{
	(void)ctx;
	return ts_ns(CLOCK_MONOTONIC);
}

static int64_t sys_wall(void *ctx)
{
	(void)ctx;
	return ts_ns(CLOCK_REALTIME);
}

static const am_clock system_clock = { sys_mono, sys_wall, 0 };

const am_clock *am_clock_system(void)
{
	return &system_clock;
}

static int64_t fake_mono(void *ctx)
{
	return ((am_clock_fake *)ctx)->mono;
}

static int64_t fake_wall(void *ctx)
{
	return ((am_clock_fake *)ctx)->wall;
}

void am_clock_fake_init(am_clock_fake *f, int64_t mono_ns, int64_t wall_ns)
{
	f->clock.mono_ns = fake_mono;
	f->clock.wall_ns = fake_wall;
	f->clock.ctx = f;
	f->mono = mono_ns;
	f->wall = wall_ns;
}

void am_clock_fake_advance(am_clock_fake *f, int64_t delta_ns)
{
	f->mono += delta_ns;
	f->wall += delta_ns;
}
