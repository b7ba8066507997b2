/* `aimeter sim`: runs the built-in Anthropic-compatible simulator in the
 * foreground until SIGINT or SIGTERM.
 *
 * The signals are blocked before the server starts, so every thread it
 * creates inherits the mask and the main thread alone takes them with
 * sigwait: no handler runs in signal context and the stop is an ordinary
 * call to am_sim_stop. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "sim.h"

/* Where a flag's value goes in am_sim_cfg, and as what type. */
enum opt_kind { OPT_I64, OPT_INT, OPT_U16, OPT_U64, OPT_PROB };

struct opt {
	const char *name;
	enum opt_kind kind;
	size_t off;
	long long lo, hi;
	const char *help;
};

#define F(field) offsetof(am_sim_cfg, field)

static const struct opt opts[] = {
    {"--port", OPT_U16, F(port), 0, 65535, "port on 127.0.0.1 (default 0: an ephemeral port)"},
    {"--rpm", OPT_I64, F(rpm), 0, 100000000, "requests per minute (default 0: unlimited)"},
    {"--itpm", OPT_I64, F(itpm), 0, 100000000, "input tokens per minute (default 0: unlimited)"},
    {"--otpm", OPT_I64, F(otpm), 0, 100000000, "output tokens per minute (default 0: unlimited)"},
    {"--rpm-burst", OPT_I64, F(rpm_burst), 0, 100000000,
     "request bucket capacity, e.g. rpm/60 for 1 s (default: rpm)"},
    {"--count-rpm", OPT_I64, F(count_rpm), 0, 100000000,
     "count_tokens requests per minute (default 0: unlimited)"},
    {"--latency-ms", OPT_INT, F(latency_ms), 0, 600000, "time to first byte (default 0)"},
    {"--tokens-per-second", OPT_INT, F(tokens_per_second), 0, 1000000,
     "output pacing (default 0: as fast as possible)"},
    {"--fault-529", OPT_PROB, F(fault_529), 0, 1,
     "probability of a 529 overloaded_error (default 0)"},
    {"--fault-500", OPT_PROB, F(fault_500), 0, 1, "probability of a 500 api_error (default 0)"},
    {"--fault-midstream", OPT_PROB, F(fault_midstream), 0, 1,
     "probability of an `event: error` mid-stream (default 0)"},
    {"--fault-truncate", OPT_PROB, F(fault_truncate), 0, 1,
     "probability of a body cut off (default 0)"},
    {"--seed", OPT_U64, F(seed), 0, INT64_MAX, "seed for answers and faults (default 1)"},
    {"--output-bytes", OPT_I64, F(output_bytes), 0, (long long)64 << 20,
     "stretch every answer to at least N bytes (default 0: natural length)"},
};
#define N_OPTS (sizeof opts / sizeof opts[0])

/* Help text printed with each flag's value placeholder. */
static void print_help(FILE *out)
{
	fprintf(out, "usage: aimeter sim [OPTIONS]\n"
	             "\n"
	             "Runs the Anthropic-compatible simulator on 127.0.0.1 and prints its URL\n"
	             "(one line on stdout). Stops cleanly on SIGINT or SIGTERM.\n"
	             "\n"
	             "Options:\n");
	for (size_t i = 0; i < N_OPTS; i++) {
		char left[40];
		snprintf(left, sizeof left, "%s %s", opts[i].name,
		         opts[i].kind == OPT_PROB ? "P" : "N");
		fprintf(out, "  %-24s %s\n", left, opts[i].help);
	}
	fprintf(out, "  %-24s %s\n", "--api-key KEY",
	        "the x-api-key to require (default: any non-empty key)");
	fprintf(out, "  %-24s %s\n", "--retry-after-ms", "also send retry-after-ms on 429s");
	fprintf(out, "  %-24s %s\n", "--output-text TEXT",
	        "answer every call with TEXT (UTF-8; a token per word)");
	fprintf(out, "  %-24s %s\n", "--help", "show this help");
}

static void set_opt(am_sim_cfg *cfg, const struct opt *o, long long v, double p)
{
	char *at = (char *)cfg + o->off;
	switch (o->kind) {
	case OPT_I64:
		*(int64_t *)(void *)at = v;
		break;
	case OPT_INT:
		*(int *)(void *)at = (int)v;
		break;
	case OPT_U16:
		*(uint16_t *)(void *)at = (uint16_t)v;
		break;
	case OPT_U64:
		*(uint64_t *)(void *)at = (uint64_t)v;
		break;
	case OPT_PROB:
		*(double *)(void *)at = p;
		break;
	}
}

static int parse_value(const struct opt *o, const char *s, long long *v, double *p)
{
	char *end;
	errno = 0;
	if (o->kind == OPT_PROB) {
		*p = strtod(s, &end);
		return (errno || end == s || *end || !(*p >= 0 && *p <= 1)) ? -1 : 0;
	}
	*v = strtoll(s, &end, 10);
	return (errno || end == s || *end || *v < o->lo || *v > o->hi) ? -1 : 0;
}

int cmd_sim(int argc, char **argv)
{
	am_sim_cfg cfg;
	am_sim_cfg_default(&cfg);
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			print_help(stdout);
			return 0;
		}
		if (!strcmp(arg, "--retry-after-ms")) {
			cfg.retry_after_ms = true;
			continue;
		}
		/* --flag VALUE or --flag=VALUE */
		const char *eq = strchr(arg, '=');
		size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
		const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[i + 1] : NULL);
		if (len == strlen("--api-key") && !strncmp(arg, "--api-key", len)) {
			if (!val || !*val) {
				fprintf(stderr, "aimeter sim: --api-key needs a value\n");
				return 2;
			}
			cfg.api_key = val;
			i += !eq;
			continue;
		}
		if (len == strlen("--output-text") && !strncmp(arg, "--output-text", len)) {
			if (!val || !*val) {
				fprintf(stderr, "aimeter sim: --output-text needs a value\n");
				return 2;
			}
			cfg.output_text = val;
			i += !eq;
			continue;
		}
		size_t k;
		for (k = 0; k < N_OPTS; k++)
			if (strlen(opts[k].name) == len && !strncmp(arg, opts[k].name, len))
				break;
		if (k == N_OPTS) {
			fprintf(stderr,
			        "aimeter sim: unknown option '%s' (see 'aimeter sim --help')\n",
			        arg);
			return 2;
		}
		long long v = 0;
		double p = 0;
		if (!val || parse_value(&opts[k], val, &v, &p)) {
			if (opts[k].kind == OPT_PROB)
				fprintf(stderr, "aimeter sim: %s needs a probability from 0 to 1\n",
				        opts[k].name);
			else
				fprintf(stderr,
				        "aimeter sim: %s needs an integer from %lld to %lld\n",
				        opts[k].name, opts[k].lo, opts[k].hi);
			return 2;
		}
		set_opt(&cfg, &opts[k], v, p);
		i += !eq;
	}

	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	am_sim *sim;
	am_err err;
	if (am_sim_start(&sim, &cfg, &err)) {
		fprintf(stderr, "aimeter sim: %s\n", err.msg);
		return 1;
	}
	printf("%s\n", am_sim_url(sim));
	fflush(stdout);
	int sig = 0;
	while (sigwait(&set, &sig) != 0)
		;
	am_sim_stats st;
	am_sim_get_stats(sim, &st);
	am_sim_stop(sim);
	fprintf(stderr,
	        "aimeter sim: stopped (%lld requests, %lld ok, %lld rate-limited, %lld tokens in, "
	        "%lld out, %lld overloaded, %lld server errors, %lld mid-stream errors, %lld cut "
	        "off)\n",
	        (long long)st.requests, (long long)st.ok, (long long)st.rate_limited,
	        (long long)st.input_tokens, (long long)st.output_tokens, (long long)st.overloaded,
	        (long long)st.server_errors, (long long)st.midstream_errors,
	        (long long)st.truncated);
	return 0;
}
