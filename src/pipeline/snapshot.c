/* snapshot: see snapshot.h. */
#include "snapshot.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"

/* units per period_ns, restated per `per_ns`, saturated */
static int64_t rate_per(int64_t units, int64_t period_ns, int64_t per_ns)
{
	__extension__ __int128 v = (__int128)units * per_ns / period_ns;
	return v > INT64_MAX ? INT64_MAX : v < INT64_MIN ? INT64_MIN : (int64_t)v;
}

void am_snap_pool_fill(am_rl *rl, int pool, int64_t now, am_snap_pool *out)
{
	static const int order[AM_RL_NDIMS] = { AM_RL_REQ, AM_RL_REQ_SHORT, AM_RL_ITOK,
						AM_RL_OTOK };
	am_rl_pool_stats st;
	am_rl_stats(rl, pool, now, &st);
	memset(out, 0, sizeof *out);
	snprintf(out->name, sizeof out->name, "%s", st.name);
	for (int k = 0; k < AM_RL_NDIMS && out->ndims < AM_SNAP_MAX_DIMS; k++) {
		const am_rl_dim_stats *s = &st.dim[order[k]];
		if (!s->limited)
			continue;
		am_snap_dim *o = &out->dim[out->ndims++];
		snprintf(o->name, sizeof o->name, "%s", s->name);
		o->level = s->level;
		o->capacity = s->capacity;
		if (order[k] == AM_RL_REQ_SHORT) {
			int64_t per_s = rate_per(s->limit, s->period_ns, AM_NS_PER_SEC);
			o->limit = per_s > 1 ? per_s : 1;
		} else {
			o->limit = rate_per(s->limit, s->period_ns, 60 * AM_NS_PER_SEC);
		}
		o->share_ppm = s->share_ppm;
		o->has_server = s->has_server;
		o->server_remaining = s->server_remaining;
		o->server_reset_ns = s->server_reset_ns;
		o->cooldown_until_ns = s->cooldown_until_ns;
		o->blocks_head = st.head_blocked_by == order[k];
	}
	out->queue_depth = st.queue_depth;
	out->in_flight = st.in_flight;
	out->concurrency_cap = st.max_in_flight;
	out->head_wait_ns = st.head_wait_ns;
	out->head_ready_in_ns = st.head_ready_in_ns;
	out->n429 = st.n429;
}
