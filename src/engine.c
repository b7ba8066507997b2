/* engine: helpers shared by every implementation of the engine contract. */
#include "engine.h"

#include <stdlib.h>

void am_event_free(am_event *ev)
{
	if (ev) {
		free(ev->text);
		ev->text = NULL;
	}
}
