/* engine: helpers shared by every implementation of the engine contract. */
#include "engine.h"

#include <stdlib.h>

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
