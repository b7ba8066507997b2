/* dashboard: the live console, and this command's composition root: parse
 * the flags, load the configuration and prices, start the simulator when
 * there is no API key (or --sim), start the worker, run the UI on this
 * thread, then tear down in reverse. The UI sees only am_engine_ops; with
 * --demo they are the same pipeline's, on a private simulator and ledger,
 * fed by the scripted load of demo.h. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "cli.h"
#include "clock.h"
#include "commands.h"
#include "demo.h"
#include "ui.h"

enum { O_DEMO = 1, O_SIM, O_ASCII, O_NOCOLOR, O_KEYS, O_PROXY };
enum { QUIT_GRACE_MS = 3000 };

static const am_cli_opt opts[] = {
	{ "sim", NULL, "use the built-in simulator even with an API key", O_SIM, NULL },
	{ "demo", NULL,
	  "a scripted load on the simulator, with a temporary ledger (no key, no spend)", O_DEMO,
	  NULL },
	{ "ascii", NULL, "plain ASCII glyphs (automatic when the locale is not UTF-8)", O_ASCII,
	  NULL },
	{ "no-color", NULL, "no colours (also when NO_COLOR is set)", O_NOCOLOR, NULL },
	{ "proxy", "PORT",
	  "serve the proxy (as `aimeter proxy`) on 127.0.0.1:PORT; its calls show in the console",
	  O_PROXY, "proxy.port" },
	{ "keys-markdown", NULL, "print the command and key tables (markdown) and exit", O_KEYS,
	  NULL },
	{ NULL, NULL, NULL, 0, NULL },
};

/* The engine's snapshot at quit. The latest one may predate a call sent in
 * the last publication period (the worker publishes every 100 ms while
 * busy and not at all when idle), so a recent one is followed by the next,
 * waiting a quarter second at most. */
static void settled_snapshot(const am_engine_ops *ops, am_snapshot *s)
{
	const am_clock *clk = am_clock_system();
	int64_t end = am_clock_mono(clk) + 250 * AM_NS_PER_MS;
	ops->snapshot(ops->ctx, s);
	uint64_t seq = s->seq;
	while (am_clock_mono(clk) - s->mono_ns < 150 * AM_NS_PER_MS && am_clock_mono(clk) < end) {
		nanosleep(&(struct timespec){ 0, 20 * 1000 * 1000 }, NULL);
		ops->snapshot(ops->ctx, s);
		if (s->seq != seq)
			break;
	}
}

/* The selector's tiers, for the model key to cycle through. */
static void tier_models(const am_config *cfg, const char **models, ui_options *opt)
{
	for (int i = 0; i < cfg->selector.ntiers; i++)
		models[i] = cfg->selector.tier[i].model;
	opt->models = cfg->selector.ntiers ? models : NULL;
	opt->nmodels = cfg->selector.ntiers;
}

/* --demo: neither the user's config nor ledger is read (demo.h). */
static int run_demo(ui_options *opt)
{
	am_demo *d = am_demo_start();
	if (!d)
		return 1;
	const char *models[AM_CONFIG_MAX_TIERS];
	tier_models(am_demo_config(d), models, opt);
	am_engine_ops ops = am_demo_ops(d);
	int rc = ui_run(&ops, opt);
	am_demo_stop(d);
	return rc;
}

int cmd_dashboard(int argc, char **argv)
{
	ui_options opt = { 0 };
	bool demo = false, sim = false;
	am_cli c;
	am_cli_init(&c, "dashboard", "[OPTIONS]",
	            "Opens the live console: spend against the budget, rate limits, models, cache\n"
	            "and a prompt line. Without ANTHROPIC_API_KEY it runs on the built-in simulator.",
	            opts, true, argc, argv);
	for (int id; (id = am_cli_next(&c)) != AM_CLI_END;) {
		switch (id) {
		case AM_CLI_EXIT: return c.exit_code;
		case O_DEMO: demo = true; break;
		case O_SIM: sim = true; break;
		case O_ASCII: opt.ascii = true; break;
		case O_NOCOLOR: opt.no_color = true; break;
		case O_KEYS: ui_print_keys_markdown(stdout); return 0;
		case O_PROXY: break; /* bound to proxy.port */
		}
	}
	if (demo)
		return run_demo(&opt);
	am_config cfg;
	int rc = am_cli_load_config(&c, &cfg);
	if (rc)
		return rc;
	am_app app;
	rc = am_app_open(&app, &c, &cfg, sim);
	am_config_wipe(&cfg);
	if (rc || (rc = am_app_start(&app, "console", true))) {
		am_app_close(&app, 0);
		return rc;
	}
	/* The in-process proxy: other programs' calls appear in the console. */
	am_proxy *px = NULL;
	if (app.cfg.proxy.port > 0 && am_app_start_proxy(&app, NULL, &px)) {
		am_app_close(&app, 0);
		return 1;
	}
	const char *models[AM_CONFIG_MAX_TIERS];
	tier_models(&app.cfg, models, &opt);
	if (app.cfg.ui.color == AM_COLOR_NEVER)
		opt.no_color = true;
	opt.max_fps = (int)app.cfg.ui.refresh_hz;
	am_engine_ops ops = am_worker_ops(app.worker);
	rc = ui_run(&ops, &opt);
	am_proxy_stop(px); /* its calls in progress end and are recorded */
	/* Calls in flight get a moment to finish; the rest stay queued for the
	 * next start. The terminal is back already: say why it is quiet. */
	am_snapshot snap;
	settled_snapshot(&ops, &snap);
	if (snap.in_flight > 0)
		fprintf(stderr,
		        "aimeter: finishing %d call%s in flight (up to %d s; Ctrl-C again leaves "
		        "%s queued for the next start)\n",
		        snap.in_flight, snap.in_flight == 1 ? "" : "s", QUIT_GRACE_MS / 1000,
		        snap.in_flight == 1 ? "it" : "them");
	am_app_close(&app, QUIT_GRACE_MS);
	return rc;
}
