/* app: the composition root shared by the commands that run the pipeline
 * (dashboard, ask, batch). It loads the configuration and the price table,
 * starts the built-in simulator when there is no API key (or --sim), and
 * starts the worker; am_app_close tears down in reverse order. */
#ifndef AIMETER_CLI_APP_H
#define AIMETER_CLI_APP_H

#include <stdbool.h>

#include "cli.h"
#include "config.h"
#include "pricing.h"
#include "proxy.h"
#include "sim.h"
#include "worker.h"

typedef struct am_app {
	const char *cmd;            /* for messages: "ask", "batch", ... */
	am_config cfg;
	am_pricing *pricing;
	am_sim *sim;                /* non-NULL when running on the simulator */
	char base_url[512];
	am_worker *worker;
	bool halt_on_fatal;         /* set before am_app_start: am_worker_opts.halt_on_fatal */
} am_app;

/* Takes a copy of the config `c` loaded (am_cli_load_config, which also set
 * the time zone), loads the prices (am_cli_load_pricing) and starts the
 * simulator when there is no API key or `sim` is set. Returns 0, or the exit
 * status after printing one line; am_app_close is safe either way. */
int am_app_open(am_app *a, const am_cli *c, const am_config *cfg, bool sim);

/* Starts the simulator from cfg.sim and points base_url at it (done by
 * am_app_open when it has to). For a caller that filled cmd, cfg and
 * pricing itself. Returns 0 or 1 after printing the error. */
int am_app_start_sim(am_app *a);

/* Starts the worker. Returns 0 or 1 after printing the error. */
int am_app_start(am_app *a, const char *source, bool persist_settings);

/* Starts the proxy (proxy.h) in front of the app's worker and upstream,
 * with the config's proxy.* keys; tag is --tag (NULL = none). Returns 0,
 * or 1 after printing the error. Stop it (am_proxy_stop) before
 * am_app_close. */
int am_app_start_proxy(am_app *a, const char *tag, am_proxy **out);

void am_app_close(am_app *a, int grace_ms);

#endif
