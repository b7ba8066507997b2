/* workfix: the composition cmd_ask/cmd_batch do through app.c, minus the
 * command line. */
#include "workfix.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tmpdir.h"

int am_wf_init(am_wf *f, const char *tag, am_err *err)
{
	memset(f, 0, sizeof *f);
	if (am_test_tmpdir(tag, f->dir, sizeof f->dir))
		return am_err_set(err, "no temporary directory");
	snprintf(f->db, sizeof f->db, "%s/aimeter.db", f->dir);
	am_config_init(&f->cfg);
	static const char *const defaults[][2] = {
		{ "budget.daily_usd", "0" },        { "limits.rpm", "1000000" },
		{ "limits.itpm", "100000000" },     { "limits.otpm", "100000000" },
		{ "limits.max_in_flight", "1024" }, { "limits.init_fill_pct", "100" },
		{ "worker.concurrency", "256" },
	};
	for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
		if (am_wf_set(f, defaults[i][0], defaults[i][1], err))
			return -1;
	snprintf(f->cfg.db, sizeof f->cfg.db, "%s", f->db);
	const char *src = getenv("AIMETER_SOURCE_DIR");
	char path[1024];
	snprintf(path, sizeof path, "%s/data/pricing.json", src && *src ? src : AIMETER_SOURCE_DIR);
	return am_pricing_load(&f->pricing, path, NULL, err);
}

int am_wf_set(am_wf *f, const char *key, const char *value, am_err *err)
{
	return am_config_set_from_string(&f->cfg, key, value, AM_CFG_FLAG, err);
}

int am_wf_start(am_wf *f, const am_sim_cfg *sc, am_err *err)
{
	if (sc) {
		am_sim_stop(f->sim);
		f->sim = NULL;
		if (am_sim_start(&f->sim, sc, err))
			return -1;
	}
	am_worker_opts wo;
	memset(&wo, 0, sizeof wo);
	wo.config = &f->cfg;
	wo.pricing = f->pricing;
	wo.clock = am_clock_system();
	wo.db_path = f->db;
	wo.base_url = am_sim_url(f->sim);
	wo.api_key = "sk-workfix";
	wo.simulator = false; /* its rows are the ones real calls make */
	wo.source = "console";
	wo.owner = f->owner;
	f->w = am_worker_start(&wo, err);
	if (!f->w)
		return -1;
	f->ops = am_worker_ops(f->w);
	return 0;
}

void am_wf_stop_worker(am_wf *f, int grace_ms)
{
	am_worker_stop(f->w, grace_ms);
	f->w = NULL;
}

void am_wf_free(am_wf *f)
{
	am_wf_stop_worker(f, 0);
	am_sim_stop(f->sim);
	f->sim = NULL;
	am_pricing_free(f->pricing);
	f->pricing = NULL;
	am_config_wipe(&f->cfg);
	if (f->dir[0] && !getenv("AIMETER_KEEP_TEST_DIRS"))
		am_test_rmtree(f->dir);
	f->dir[0] = '\0';
}

int64_t am_wf_submit(am_wf *f, const char *prompt, int64_t max_tokens, bool stream,
                     bool no_cache, am_err *err)
{
	am_turn turn = { "user", prompt };
	am_prompt p = { &turn, 1, NULL, NULL, max_tokens, no_cache, stream, NULL };
	int64_t id = 0;
	if (f->ops.submit(f->ops.ctx, &p, &id, err))
		return -1;
	return id;
}

int am_wf_pump(am_wf *f, int timeout_ms, void (*cb)(void *ctx, const am_event *ev), void *ctx)
{
	struct pollfd pfd = { f->ops.wake_fd(f->ops.ctx), POLLIN, 0 };
	poll(&pfd, 1, timeout_ms);
	am_event evs[128];
	int n, total = 0;
	while ((n = f->ops.drain(f->ops.ctx, evs, 128)) > 0) {
		for (int i = 0; i < n; i++) {
			if (cb)
				cb(ctx, &evs[i]);
			am_event_free(&evs[i]);
		}
		total += n;
	}
	return total;
}
