/* engine: helpers shared by every implementation of the engine contract. */
#include "engine.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
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

int am_engine_preview(const am_sel_config *sel, const am_pricing *pricing,
                      const am_snapshot *snap, const am_preview_in *in, am_preview *out,
                      am_err *err)
{
	memset(out, 0, sizeof *out);
	/* The selector as the worker's dispatch calls it (worker_admit.c). */
	am_sel_input si;
	memset(&si, 0, sizeof si);
	const char *pinned = in->model && *in->model && strcmp(in->model, "auto") ? in->model : NULL;
	if (!pinned && snap->model_mode[0] && strcmp(snap->model_mode, "auto"))
		pinned = snap->model_mode;
	si.model = pinned;
	si.chars = in->chars;
	si.budget_pct = snap->budget_pct;
	am_sel_choice ch;
	am_sel_choose(sel, &si, &ch);
	snprintf(out->model, sizeof out->model, "%s", ch.model);
	snprintf(out->reason, sizeof out->reason, "%s", ch.reason);
	/* The budget's worst case, as the reservation prices it. */
	out->max_tokens = in->max_tokens > 0 ? in->max_tokens : snap->max_tokens;
	int64_t input = in->input_tokens > 0 ? in->input_tokens : 1;
	if (in->bytes > 0 && snap->input_ppm > 0) {
		/* As the estimator rounds: up, and never below one token. */
		__extension__ __int128 t = ((__int128)in->bytes * snap->input_ppm + 999999) / 1000000;
		if (t > input)
			input = t > INT64_MAX / 2 ? INT64_MAX / 2 : (int64_t)t;
	}
	am_budget_estimate be = { .input_tokens = input, .max_tokens = out->max_tokens };
	am_price price;
	bool priced = am_pricing_resolve(pricing, out->model, &price);
	am_budget_cost bc;
	if (am_budget_worst_case(priced ? &price : NULL, am_pricing_most_expensive(pricing), &be,
	                         &bc, err))
		return -1;
	out->worst_pusd = bc.exempt ? 0 : bc.pusd;
	out->unknown_price = bc.unknown_price;
	return 0;
}
