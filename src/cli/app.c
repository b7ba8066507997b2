/* app: building and tearing down what a pipeline command needs. */
#include "app.h"

#include "ledger.h"

#include <stdio.h>
#include <string.h>

int am_app_open(am_app *a, const am_cli *c, const am_config *cfg, bool sim)
{
	memset(a, 0, sizeof *a);
	a->cmd = c->cmd;
	a->cfg = *cfg;
	if (am_cli_load_pricing(c, cfg, &a->pricing, NULL, 0))
		return 1;
	if (!sim && !a->cfg.api_key[0]) {
		/* No key: the built-in simulator, said out loud - unless the
		 * config names an endpoint of its own, which would go unheard. */
		static am_config defaults;
		am_config_init(&defaults);
		if (strcmp(a->cfg.base_url, defaults.base_url)) {
			fprintf(stderr, "aimeter %s: no API key (ANTHROPIC_API_KEY is empty or unset) "
			        "for %s: set it, or pass --sim for the built-in simulator\n", a->cmd,
			        a->cfg.base_url);
			return 1;
		}
		if (strcmp(a->cmd, "dashboard"))
			fprintf(stderr, "aimeter %s: no API key (ANTHROPIC_API_KEY is empty or unset): "
			        "using the built-in simulator; its calls are recorded as simulated "
			        "(\"%s\" models), not as spend\n", a->cmd, AM_LEDGER_SIMULATED);
		sim = true;
	}
	if (sim)
		return am_app_start_sim(a);
	snprintf(a->base_url, sizeof a->base_url, "%s", a->cfg.base_url);
	return 0;
}

int am_app_start_sim(am_app *a)
{
	am_err err;
	am_sim_cfg sc;
	am_sim_cfg_default(&sc);
	sc.rpm = a->cfg.sim.rpm;
	sc.itpm = a->cfg.sim.itpm;
	sc.otpm = a->cfg.sim.otpm;
	sc.rpm_burst = a->cfg.sim.rpm_burst;
	sc.latency_ms = (int)a->cfg.sim.latency_ms;
	sc.tokens_per_second = (int)a->cfg.sim.tokens_per_second;
	sc.seed = (uint64_t)a->cfg.sim.seed;
	if (am_sim_start(&a->sim, &sc, &err)) {
		fprintf(stderr, "aimeter %s: simulator: %s\n", a->cmd, err.msg);
		return 1;
	}
	snprintf(a->base_url, sizeof a->base_url, "%s", am_sim_url(a->sim));
	return 0;
}

int am_app_start(am_app *a, const char *source, bool persist_settings)
{
	am_err err;
	am_worker_opts wo;
	memset(&wo, 0, sizeof wo);
	wo.config = &a->cfg;
	wo.pricing = a->pricing;
	wo.clock = am_clock_system();
	wo.db_path = a->cfg.db;
	wo.base_url = a->base_url;
	wo.api_key = a->sim ? "sim-key" : a->cfg.api_key;
	wo.simulator = a->sim != NULL;
	wo.source = source;
	wo.persist_settings = persist_settings;
	wo.load_settings = true;
	wo.halt_on_fatal = a->halt_on_fatal;
	/* The calls go out through the libcurl client. */
	am_client_opts co;
	am_worker_client_opts(&a->cfg, wo.base_url, wo.api_key, wo.clock, &co);
	am_client *client;
	if (am_client_new(&client, &co, &err)) {
		fprintf(stderr, "aimeter %s: %s\n", a->cmd, err.msg);
		return 1;
	}
	wo.transport = am_client_transport(client);
	a->worker = am_worker_start(&wo, &err);
	if (!a->worker) {
		fprintf(stderr, "aimeter %s: %s\n", a->cmd, err.msg);
		return 1;
	}
	return 0;
}

int am_app_start_proxy(am_app *a, const char *tag, am_proxy **out)
{
	am_proxy_opts po;
	memset(&po, 0, sizeof po);
	po.worker = a->worker;
	po.listen = a->cfg.proxy.listen;
	po.port = (uint16_t)a->cfg.proxy.port;
	po.upstream = a->base_url;
	/* the built-in simulator takes any key: its clients need none */
	po.own_key = a->sim ? "sim-key" : a->cfg.api_key;
	po.use_own_key = a->cfg.proxy.use_own_key || a->sim;
	po.token = a->cfg.proxy.token;
	po.tag = tag;
	po.default_tag = a->cfg.proxy.default_tag;
	po.max_wait_ns = a->cfg.proxy.max_wait_s * AM_NS_PER_SEC;
	po.timeout_ms = a->cfg.client.timeout_ms;
	po.cache = a->cfg.proxy.cache;
	am_err err;
	if (am_proxy_start(out, &po, &err)) {
		fprintf(stderr, "aimeter %s: %s\n", a->cmd, err.msg);
		return 1;
	}
	return 0;
}

void am_app_close(am_app *a, int grace_ms)
{
	am_worker_stop(a->worker, grace_ms);
	a->worker = NULL;
	am_sim_stop(a->sim);
	a->sim = NULL;
	am_pricing_free(a->pricing);
	a->pricing = NULL;
	am_config_wipe(&a->cfg);
}
