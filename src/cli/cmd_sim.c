/* `aimeter sim`: runs the built-in Anthropic-compatible simulator in the
 * foreground until SIGINT or SIGTERM.
 *
 * The signals are blocked before the server starts, so every thread it
 * creates inherits the mask and the main thread alone takes them with
 * sigwait: no handler runs in signal context and the stop is an ordinary
 * call to am_sim_stop. */
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "config.h"
#include "sim.h"

enum {
	O_PORT = 1,
	O_RPM,
	O_ITPM,
	O_OTPM,
	O_RPM_BURST,
	O_COUNT_RPM,
	O_LATENCY,
	O_TPS,
	O_F529,
	O_F500,
	O_FMID,
	O_FTRUNC,
	O_SEED,
	O_OUTPUT_BYTES,
	O_OUTPUT_TOKENS,
	O_BATCH_DELAY,
	O_BATCH_RPM,
	O_BATCH_ERR,
	O_BATCH_EXP, /* numbers: see fields[] */
	O_API_KEY,
	O_OUTPUT_TEXT,
	O_GEO,
	O_RETRY_AFTER,
	O_END
};

static const am_cli_opt opts[] = {
    {"port", "N", "port on 127.0.0.1 (default 0: an ephemeral port)", O_PORT, NULL},
    {"rpm", "N", "requests per minute (default: sim.rpm's, 1000; 0: unlimited)", O_RPM, NULL},
    {"itpm", "N", "input tokens per minute (default: sim.itpm's, 450000; 0: unlimited)", O_ITPM,
     NULL},
    {"otpm", "N", "output tokens per minute (default: sim.otpm's, 90000; 0: unlimited)", O_OTPM,
     NULL},
    {"rpm-burst", "N", "request bucket capacity, e.g. rpm/60 for 1 s (default: rpm)", O_RPM_BURST,
     NULL},
    {"count-rpm", "N", "count_tokens requests per minute (default 0: unlimited)", O_COUNT_RPM,
     NULL},
    {"latency-ms", "N", "time to first byte (default 0)", O_LATENCY, NULL},
    {"tokens-per-second", "N", "output pacing (default 0: as fast as possible)", O_TPS, NULL},
    {"fault-529", "P", "probability of a 529 overloaded_error (default 0)", O_F529, NULL},
    {"fault-500", "P", "probability of a 500 api_error (default 0)", O_F500, NULL},
    {"fault-midstream", "P", "probability of an `event: error` mid-stream (default 0)", O_FMID,
     NULL},
    {"fault-truncate", "P", "probability of a body cut off (default 0)", O_FTRUNC, NULL},
    {"seed", "N", "seed for answers and faults (default 1)", O_SEED, NULL},
    {"output-bytes", "N", "stretch every answer to at least N bytes (default 0: natural)",
     O_OUTPUT_BYTES, NULL},
    {"output-tokens", "N", "every answer's natural length in tokens (default 0: 12..~800)",
     O_OUTPUT_TOKENS, NULL},
    {"output-text", "TEXT", "answer every call with TEXT (UTF-8; a token per word)",
     O_OUTPUT_TEXT, NULL},
    {"batch-delay-ms", "N", "a message batch's processing time (default 0)", O_BATCH_DELAY, NULL},
    {"batch-rpm", "N", "requests per minute to the batch endpoints (default 0: unlimited)",
     O_BATCH_RPM, NULL},
    {"batch-error-pct", "N", "percent of batch requests that end errored (default 0)",
     O_BATCH_ERR, NULL},
    {"batch-expire-pct", "N", "percent of batch requests that end expired (default 0)",
     O_BATCH_EXP, NULL},
    {"api-key", "KEY", "the x-api-key to require (default: any non-empty key)", O_API_KEY, NULL},
    {"inference-geo", "G", "the workspace's default inference_geo, global or us (default global)",
     O_GEO, NULL},
    {"retry-after-ms", NULL, "also send retry-after-ms on 429s", O_RETRY_AFTER, NULL},
    {NULL, NULL, NULL, 0, NULL},
};

/* Where a numeric flag's value goes in am_sim_cfg, as what type, and its
 * largest value (the smallest is 0); indexed by the option's id. */
enum kind { K_I64 = 1, K_INT, K_U16, K_U64, K_PROB };

static const struct field {
	enum kind kind;
	size_t off;
	int64_t max;
} fields[O_END] = {
#define F(field) offsetof(am_sim_cfg, field)
    [O_PORT] = {K_U16, F(port), 65535},
    [O_RPM] = {K_I64, F(rpm), 100000000},
    [O_ITPM] = {K_I64, F(itpm), 100000000},
    [O_OTPM] = {K_I64, F(otpm), 100000000},
    [O_RPM_BURST] = {K_I64, F(rpm_burst), 100000000},
    [O_COUNT_RPM] = {K_I64, F(count_rpm), 100000000},
    [O_LATENCY] = {K_INT, F(latency_ms), 600000},
    [O_TPS] = {K_INT, F(tokens_per_second), 1000000},
    [O_F529] = {K_PROB, F(fault_529), 1},
    [O_F500] = {K_PROB, F(fault_500), 1},
    [O_FMID] = {K_PROB, F(fault_midstream), 1},
    [O_FTRUNC] = {K_PROB, F(fault_truncate), 1},
    [O_SEED] = {K_U64, F(seed), INT64_MAX},
    [O_OUTPUT_BYTES] = {K_I64, F(output_bytes), (int64_t)64 << 20},
    [O_OUTPUT_TOKENS] = {K_I64, F(output_tokens), 1000000},
    [O_BATCH_DELAY] = {K_INT, F(batch_delay_ms), 86400000},
    [O_BATCH_RPM] = {K_I64, F(batch_rpm), 100000000},
    [O_BATCH_ERR] = {K_INT, F(batch_error_pct), 100},
    [O_BATCH_EXP] = {K_INT, F(batch_expire_pct), 100},
#undef F
};

/* Parses the current option's value into its field; -1 after a usage
 * error (c->exit_code). */
static int set_field(am_cli *c, am_sim_cfg *cfg, const struct field *f)
{
	char *at = (char *)cfg + f->off;
	int64_t v = 0;
	double p = 0;
	if (f->kind == K_PROB ? am_cli_real(c, 0, 1, &p) : am_cli_int(c, 0, f->max, &v))
		return -1;
	switch (f->kind) {
	case K_I64:
		*(int64_t *)(void *)at = v;
		break;
	case K_INT:
		*(int *)(void *)at = (int)v;
		break;
	case K_U16:
		*(uint16_t *)(void *)at = (uint16_t)v;
		break;
	case K_U64:
		*(uint64_t *)(void *)at = (uint64_t)v;
		break;
	case K_PROB:
		*(double *)(void *)at = p;
		break;
	}
	return 0;
}

int cmd_sim(int argc, char **argv)
{
	am_sim_cfg cfg;
	am_sim_cfg_default(&cfg);
	/* The limits default to the config's sim.* defaults, so that every
	 * answer carries anthropic-ratelimit-* headers as the real API's do. */
	am_config dc;
	am_config_init(&dc);
	cfg.rpm = dc.sim.rpm;
	cfg.itpm = dc.sim.itpm;
	cfg.otpm = dc.sim.otpm;
	am_config_wipe(&dc);
	am_cli c;
	am_cli_init(&c, "sim", "[OPTIONS]",
	            "Runs the Anthropic-compatible simulator on 127.0.0.1 and prints its URL\n"
	            "(one line on stdout). Stops cleanly on SIGINT or SIGTERM.",
	            opts, false, argc, argv);
	for (int id; (id = am_cli_next(&c)) != AM_CLI_END;) {
		switch (id) {
		case AM_CLI_EXIT:
			return c.exit_code;
		case O_API_KEY:
			if (!*c.value)
				return am_cli_usage_error(
				    c.cmd, "option '--api-key' needs a non-empty KEY");
			cfg.api_key = c.value;
			break;
		case O_OUTPUT_TEXT:
			if (!*c.value)
				return am_cli_usage_error(
				    c.cmd, "option '--output-text' needs a non-empty TEXT");
			cfg.output_text = c.value;
			break;
		case O_GEO:
			if (strcmp(c.value, "us") && strcmp(c.value, "global"))
				return am_cli_usage_error(c.cmd, "--inference-geo: expected global or us, "
				                                 "not '%s'", c.value);
			cfg.default_geo = c.value;
			break;
		case O_RETRY_AFTER:
			cfg.retry_after_ms = true;
			break;
		default:
			if (set_field(&c, &cfg, &fields[id]))
				return c.exit_code;
			break;
		}
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
	if (st.batches)
		fprintf(stderr,
		        "aimeter sim: batches: %lld batches, %lld batch requests, %lld distinct "
		        "custom_ids, %lld repeated, %lld succeeded, %lld errored, %lld expired, %lld "
		        "canceled, %lld batch input, %lld batch output, %lld batch cache writes, %lld "
		        "batch cache reads\n",
		        (long long)st.batches, (long long)st.batch_requests,
		        (long long)st.batch_distinct, (long long)st.batch_repeated,
		        (long long)st.batch_succeeded, (long long)st.batch_errored,
		        (long long)st.batch_expired, (long long)st.batch_canceled,
		        (long long)st.batch_input_tokens, (long long)st.batch_output_tokens,
		        (long long)st.batch_cache_write_tokens, (long long)st.batch_cache_read_tokens);
	return 0;
}
