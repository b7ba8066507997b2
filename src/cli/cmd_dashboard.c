/* dashboard: the live console. Parses its flags, builds the engine, runs
 * the UI on this thread and tears down in reverse (the composition root of
 * this command).
 *
 * Today the engine is the built-in demo (--demo); the real pipeline (and
 * the simulator when no API key is set) is wired here once it lands: the UI
 * only sees am_engine_ops either way. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "demo_engine.h"
#include "ui.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: aimeter [dashboard] [OPTIONS]\n"
	        "\n"
	        "Opens the live console: spend, rate limits, models, cache and a prompt line.\n"
	        "\n"
	        "  --demo           run on the built-in demo engine (no network, not real spend)\n"
	        "  --ascii          plain ASCII glyphs (automatic when the locale is not UTF-8)\n"
	        "  --no-color       no colours (also when NO_COLOR is set)\n"
	        "  --keys-markdown  print the command and key tables (markdown) and exit\n"
	        "  --help           show this help\n");
}

int cmd_dashboard(int argc, char **argv)
{
	ui_options opt = {0};
	bool demo = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--keys-markdown")) {
			ui_print_keys_markdown(stdout);
			return 0;
		} else if (!strcmp(a, "--demo")) {
			demo = true;
		} else if (!strcmp(a, "--ascii")) {
			opt.ascii = true;
		} else if (!strcmp(a, "--no-color")) {
			opt.no_color = true;
		} else {
			fprintf(stderr, "aimeter dashboard: unknown option '%s'\n", a);
			usage(stderr);
			return 2;
		}
	}
	if (!demo) {
		fprintf(stderr, "aimeter: the pipeline is not in this build yet; "
		                "'aimeter dashboard --demo' shows the screen on a demo engine\n");
		return 1;
	}
	ui_demo *engine = ui_demo_new();
	int rc = ui_run(ui_demo_ops(engine), &opt);
	ui_demo_free(engine);
	return rc;
}
