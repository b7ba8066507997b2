/* `aimeter proxy`: serves an Anthropic-compatible endpoint on this machine
 * (src/proxy) in front of base_url, with a worker and no console, until
 * SIGINT or SIGTERM. Its URL is the first line of stdout, as with `aimeter
 * sim`. Signals are blocked before any thread starts and taken by sigwait
 * in the main thread, so the stop is an ordinary call: the proxy first
 * (calls in progress end and are recorded), then the worker. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "cli.h"
#include "commands.h"
#include "proxy.h"
#include "tag.h"

enum { O_PORT = 1, O_LISTEN, O_TAG, O_SIM };

static const am_cli_opt opts[] = {
	{ "port", "N", "port to listen on (default: proxy.port's; 0 = any free port)", O_PORT,
	  "proxy.port" },
	{ "listen", "ADDR", "address (default 127.0.0.1; anything else needs proxy.token)", O_LISTEN,
	  "proxy.listen" },
	{ "tag", "T", "ledger tag of calls that send no x-aimeter-tag", O_TAG, NULL },
	{ "sim", NULL, "relay to the built-in simulator instead of base_url", O_SIM, NULL },
	{ NULL, NULL, NULL, 0, NULL },
};

int cmd_proxy(int argc, char **argv)
{
	am_cli c;
	am_cli_init(&c, "proxy", "[--port N] [--listen ADDR] [--tag T]",
	            "Serve an Anthropic-compatible endpoint (POST /v1/messages, streaming or not) "
	            "that other programs reach through ANTHROPIC_BASE_URL: their calls go through "
	            "aimeter's budget, rate limiter and ledger (source proxy). Prints its URL, then "
	            "runs until SIGINT or SIGTERM.",
	            opts, true, argc, argv);
	const char *tag = NULL;
	bool sim = false;
	int id;
	while ((id = am_cli_next(&c)) != AM_CLI_END) {
		switch (id) {
		case AM_CLI_EXIT:
			return c.exit_code;
		case O_PORT:
		case O_LISTEN:
			break; /* bound to their config keys */
		case O_TAG: {
			am_err err;
			if (am_tag_check(c.value, &err))
				return am_cli_usage_error(c.cmd, "--tag: %s", err.msg);
			tag = c.value;
			break;
		}
		case O_SIM:
			sim = true;
			break;
		default:
			return am_cli_usage_error(c.cmd, "unexpected argument '%s'", c.value);
		}
	}
	am_config cfg;
	if (am_cli_load_config(&c, &cfg))
		return 2;

	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	am_app a;
	int rc = am_app_open(&a, &c, &cfg, sim);
	am_config_wipe(&cfg);
	if (rc || am_app_start(&a, "proxy", false)) {
		am_app_close(&a, 0);
		return 1;
	}
	am_proxy *px;
	if (am_app_start_proxy(&a, tag, &px)) {
		am_app_close(&a, 0);
		return 1;
	}
	printf("%s\n", am_proxy_url(px));
	fflush(stdout);
	int sig = 0;
	while (sigwait(&set, &sig) != 0)
		;
	am_proxy_stop(px);
	am_app_close(&a, 2000);
	return 0;
}
