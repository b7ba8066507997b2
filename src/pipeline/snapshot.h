/* snapshot: the lower layers' own figures put into the shape the observers
 * read (engine.h). The worker builds each snapshot with these. */
#ifndef AIMETER_SNAPSHOT_H
#define AIMETER_SNAPSHOT_H

#include <stdint.h>

#include "engine.h"
#include "limiter.h"

/* Fills *out with the pool's limited dimensions at `now` (mono ns), in the
 * order RPM, RPM/s, ITPM, OTPM, each limit stated per minute (per second for
 * RPM/s), plus its queue and concurrency figures. */
void am_snap_pool_fill(am_rl *rl, int pool, int64_t now, am_snap_pool *out);

#endif
