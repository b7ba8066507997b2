/* engine: helpers shared by every implementation of the engine contract. */
#include "engine.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "clock.h"

#include "config.h"

/* What the config allows must fit the snapshot the observers read. */
_Static_assert((int)AM_CONFIG_MAX_ALERTS == (int)AM_SNAP_MAX_ALERTS, "alerts fit the snapshot");
_Static_assert((int)AM_CONFIG_MAX_POOLS <= (int)AM_SNAP_MAX_POOLS, "pools fit the snapshot");
_Static_assert(AM_CONFIG_POOL_MAX <= sizeof(((am_snap_pool *)0)->name), "pool names fit");

void am_event_free(am_event *ev)
{
	if (ev) {
		free(ev->text);
		ev->text = NULL;
	}
}

void am_duration_text(int64_t ns, char *buf, size_t n)
{
	/* Display only: tenths under a minute, else minutes and seconds. */
	if (ns < 0)
		ns = 0;
	if (ns < 60 * AM_NS_PER_SEC)
		snprintf(buf, n, "%" PRId64 ".%" PRId64 "s", (int64_t)(ns / AM_NS_PER_SEC),
		         (int64_t)(ns % AM_NS_PER_SEC / (AM_NS_PER_SEC / 10)));
	else
		snprintf(buf, n, "%" PRId64 "m%02" PRId64 "s", (int64_t)(ns / (60 * AM_NS_PER_SEC)),
		         (int64_t)(ns / AM_NS_PER_SEC % 60));
}

void am_event_retry_text(const am_event *ev, char *buf, size_t n)
{
	char t[32];
	am_duration_text(ev->retry_in_ns, t, sizeof t);
	snprintf(buf, n, "retry %d in %s after %s", ev->attempt, t, ev->error);
}
