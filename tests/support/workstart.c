/* workstart: see workstart.h. */
#include "workstart.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "faketp.h"

int am_test_pricing(am_pricing **out, am_err *err)
{
	const char *src = getenv("AIMETER_SOURCE_DIR");
	char prices[1024];
	snprintf(prices, sizeof prices, "%s/data/pricing.json", src ? src : ".");
	return am_pricing_load(out, prices, NULL, err);
}

/* Starts a worker on `json`, with transport t (ops NULL: the client to
 * base_url) on clock. */
static am_worker *start_worker(const char *json, const am_pricing *pricing, const char *db_path,
                               const char *base_url, const am_clock *clock, am_transport t,
                               const char *source, bool settings, am_err *err)
{
	am_config cfg;
	char *const no_env[] = { NULL };
	if (am_config_load_text(&cfg, json, strlen(json), "test", no_env, err)) {
		if (t.ops)
			t.ops->free(t.ctx);
		return NULL;
	}
	am_worker_opts wo = { 0 };
	wo.config = &cfg;
	wo.pricing = pricing;
	wo.clock = clock;
	wo.db_path = db_path;
	wo.base_url = base_url;
	wo.api_key = "test-key";
	wo.simulator = false; /* its rows are the ones real calls make */
	wo.source = source;
	wo.persist_settings = settings;
	wo.load_settings = settings;
	wo.transport = t;
	am_worker *w = am_worker_start(&wo, err);
	am_config_wipe(&cfg);
	return w;
}

am_worker *am_test_worker(const char *json, const am_pricing *pricing, const char *db_path,
                          const char *base_url, const char *source, bool settings,
                          am_err *err)
{
	am_transport none = { 0 };
	return start_worker(json, pricing, db_path, base_url, am_clock_system(), none, source,
	                    settings, err);
}

am_worker *am_test_worker_ft(const char *json, const am_pricing *pricing, const char *db_path,
                             struct am_ft *ft, const char *source, bool settings, am_err *err)
{
	return start_worker(json, pricing, db_path, NULL, am_ft_clock(ft), am_ft_transport(ft),
	                    source, settings, err);
}

void am_test_obs_clear(am_test_obs *o)
{
	for (int i = 0; i < o->nbacklog; i++)
		am_event_free(&o->backlog[i]);
	o->nbacklog = 0;
}

static int64_t now_ms(void)
{
	return am_clock_mono(am_clock_system()) / AM_NS_PER_MS;
}

static void wait_wake(am_test_obs *o)
{
	if (o->ft)
		am_ft_advance(o->ft, o->step_ns);
	struct pollfd p = { o->ops.wake_fd(o->ops.ctx), POLLIN, 0 };
	poll(&p, 1, 50);
}

/* Answer text is not what these tests look at. */
static int drain(am_test_obs *o)
{
	int n = o->ops.drain(o->ops.ctx, o->backlog + o->nbacklog, AM_TEST_BACKLOG - o->nbacklog);
	int kept = o->nbacklog;
	for (int i = o->nbacklog; i < o->nbacklog + n; i++) {
		if (o->backlog[i].kind == AM_EV_DELTA)
			am_event_free(&o->backlog[i]);
		else
			o->backlog[kept++] = o->backlog[i];
	}
	o->nbacklog = kept;
	return n;
}

void am_test_obs_drain(am_test_obs *o)
{
	while (o->nbacklog < AM_TEST_BACKLOG && drain(o) > 0)
		;
}

bool am_test_wait_snap(am_test_obs *o, am_snapshot *s,
                       bool (*pred)(const am_snapshot *, const void *), const void *arg)
{
	int64_t end = now_ms() + o->wait_ms;
	for (;;) {
		o->ops.snapshot(o->ops.ctx, s);
		if (s->seq > 0 && pred(s, arg))
			return true;
		if (now_ms() > end)
			return false;
		wait_wake(o);
	}
}

bool am_test_wait_for(am_test_obs *o, bool (*pred)(void *), void *arg)
{
	int64_t end = now_ms() + o->wait_ms;
	for (;;) {
		if (pred(arg))
			return true;
		if (now_ms() > end)
			return false;
		wait_wake(o);
		drain(o);
	}
}

bool am_test_wait_event(am_test_obs *o, am_event_kind kind, int64_t job, const char *text,
                        am_event *out)
{
	int64_t end = now_ms() + o->wait_ms;
	for (;;) {
		for (int i = 0; i < o->nbacklog; i++) {
			am_event *e = &o->backlog[i];
			if (e->kind != kind || (job && e->job_id != job) ||
			    (text && !(e->text && strstr(e->text, text))))
				continue;
			if (out) {
				*out = *e;
				out->text = NULL;
				snprintf(out->error, sizeof out->error, "%s", e->text ? e->text : "");
			}
			am_event_free(e);
			memmove(e, e + 1, (size_t)(o->nbacklog - i - 1) * sizeof *e);
			o->nbacklog--;
			return true;
		}
		if (now_ms() > end || o->nbacklog == AM_TEST_BACKLOG)
			return false;
		if (drain(o) == 0)
			wait_wake(o);
	}
}
