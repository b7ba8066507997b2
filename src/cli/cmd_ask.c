/* aimeter ask: one prompt, answered on stdout as it arrives, one summary
 * line on stderr (model · reason · tokens · cost · time).
 *
 * This is the direct version: it drives the provider client itself on the
 * main thread, retrying what the provider says is retryable with the
 * client's policy (retry-after, else jittered backoff; an authentication
 * failure or a spend limit is never retried). When the pipeline lands, ask
 * goes through it (selector, response cache, budget, limiter, ledger).
 * With --sim it talks to an in-process simulator instead of the API. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "anthropic.h"
#include "bbuf.h"
#include "cli.h"
#include "client.h"
#include "commands.h"
#include "money.h"
#include "pricing.h"
#include "sim.h"

enum { OPT_MODEL = 1, OPT_MAX_TOKENS, OPT_SYSTEM, OPT_NO_CACHE, OPT_STREAM, OPT_NO_STREAM,
       OPT_JSON, OPT_SIM };

static const am_cli_opt opts[] = {
    {"model", "M", "the model id (default: selector.model when pinned, else the first tier)",
     OPT_MODEL, NULL},
    {"max-tokens", "N", "the answer's token limit (default: client.max_tokens)", OPT_MAX_TOKENS,
     NULL},
    {"system", "S", "a system prompt", OPT_SYSTEM, NULL},
    {"no-cache", NULL, "do not answer from the response cache", OPT_NO_CACHE, NULL},
    {"stream", NULL, "stream the answer (default: client.stream)", OPT_STREAM, NULL},
    {"no-stream", NULL, "wait for the whole answer", OPT_NO_STREAM, NULL},
    {"json", NULL, "print one JSON object (model, text, usage, cost_usd, ...) instead of text",
     OPT_JSON, NULL},
    {"sim", NULL, "ask the built-in simulator (sim.* settings) instead of the API", OPT_SIM,
     NULL},
    {NULL, NULL, NULL, 0, NULL},
};

#define MAX_PROMPT ((size_t)8 << 20)

struct ask {
	bool json;
	bool printed;        /* text of this attempt reached stdout */
	bool done;
	am_prov_result r;
};

static void on_text(void *ctx, const char *t, size_t n)
{
	struct ask *a = ctx;
	if (a->json)
		return;
	fwrite(t, 1, n, stdout);
	fflush(stdout);
	a->printed = true;
}

static void on_done(void *ctx, am_prov_result *r)
{
	struct ask *a = ctx;
	a->r = *r;
	r->text = NULL; /* ours now */
	a->done = true;
}

static char *read_stdin(void)
{
	am_bbuf b;
	am_bbuf_init(&b, MAX_PROMPT);
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0) {
		if (am_bbuf_append(&b, chunk, n) != 0) {
			am_bbuf_free(&b);
			return NULL;
		}
	}
	return am_bbuf_take(&b);
}

/* A uniform number in [0, 1) for the backoff jitter; not for secrets. */
static double jitter(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return (double)(*state >> 11) / 9007199254740992.0;
}

/* The exact cost, when the model's price is known. */
static bool cost_of(const am_config *cfg, const am_prov_result *r, int64_t *pusd)
{
	am_pricing *p;
	am_err err;
	if (am_pricing_load(&p, am_pricing_default_path(), cfg->pricing_file, &err) != 0) {
		fprintf(stderr, "aimeter ask: warning: %s\n", err.msg);
		return false;
	}
	const am_price *price = am_pricing_lookup(p, r->model);
	bool known = price && am_cost(price, &r->usage, false, pusd, &err) == 0;
	am_pricing_free(p);
	return known;
}

static void summary(const am_prov_result *r, const char *reason, bool known, int64_t pusd,
                    bool sim)
{
	char cost[64] = "price unknown";
	if (known)
		am_money_format_display(pusd, 6, cost, sizeof cost);
	const am_usage *u = &r->usage;
	fprintf(stderr, "%s · %s · %" PRId64 " in + %" PRId64 " out tokens", r->model, reason,
	        u->input_tokens, u->output_tokens);
	if (u->cache_read || u->cache_write_5m || u->cache_write_1h)
		fprintf(stderr, " (cache: %" PRId64 " read, %" PRId64 " written)", u->cache_read,
		        u->cache_write_5m + u->cache_write_1h);
	fprintf(stderr, " · %s%s · %.2f s\n", cost, sim ? " (simulator)" : "",
	        (double)r->latency_ns / 1e9);
}

static void print_json(const am_prov_result *r, bool known, int64_t pusd)
{
	char cost[32];
	am_money_format(pusd, cost, sizeof cost);
	json_t *o = json_object();
	json_object_set_new(o, "status", json_string(r->err == AM_PERR_NONE ? "ok" : "failed"));
	json_object_set_new(o, "model", json_string(r->model));
	json_object_set_new(o, "text", json_stringn(r->text ? r->text : "", r->text_len));
	json_object_set_new(o, "stop_reason", json_string(r->stop_reason));
	json_object_set_new(o, "usage",
	                    json_pack("{s:I,s:I,s:I,s:I,s:I}", "input_tokens",
	                              (json_int_t)r->usage.input_tokens, "output_tokens",
	                              (json_int_t)r->usage.output_tokens, "cache_write_5m",
	                              (json_int_t)r->usage.cache_write_5m, "cache_write_1h",
	                              (json_int_t)r->usage.cache_write_1h, "cache_read",
	                              (json_int_t)r->usage.cache_read));
	json_object_set_new(o, "cost_usd", known ? json_string(cost) : json_null());
	json_object_set_new(o, "request_id", json_string(r->request_id));
	json_object_set_new(o, "latency_ms", json_integer(r->latency_ns / 1000000));
	if (r->err != AM_PERR_NONE)
		json_object_set_new(o, "error", json_pack("{s:s,s:s,s:i}", "kind",
		                                          am_prov_errkind_name(r->err), "message",
		                                          r->message, "http_status", r->http_status));
	json_dumpf(o, stdout, JSON_COMPACT);
	fputc('\n', stdout);
	json_decref(o);
}

static void report_failure(const am_prov_result *r)
{
	const char *what = r->err == AM_PERR_AUTH ? "authentication failed"
	                   : r->err == AM_PERR_SPEND_LIMIT || r->err == AM_PERR_USER_SPEND_LIMIT
	                           ? "spend limit reached"
	                           : am_prov_errkind_name(r->err);
	fprintf(stderr, "aimeter ask: %s: %s", what, r->message);
	if (r->http_status)
		fprintf(stderr, " (HTTP %d", r->http_status);
	if (r->request_id[0])
		fprintf(stderr, "%s request %s", r->http_status ? "," : " (", r->request_id);
	fprintf(stderr, "%s\n", r->http_status || r->request_id[0] ? ")" : "");
}

/* Sends the body until it is answered, fails for good, or the retries run
 * out. Returns the last outcome in *a. */
static void converse(am_client *c, const am_config *cfg, const char *body, bool stream,
                     struct ask *a)
{
	am_prov_retry_cfg rc;
	am_prov_retry_cfg_default(&rc);
	rc.max_retries = (int)cfg->client.max_retries;
	uint64_t rng = (uint64_t)time(NULL) * 2654435761u + (uint64_t)getpid();
	for (int attempt = 1;; attempt++) {
		am_prov_result_free(&a->r);
		am_prov_result_init(&a->r);
		a->done = false;
		am_client_req req = { .endpoint = AM_PROV_MESSAGES, .body = body, .stream = stream };
		am_client_cb cb = { NULL, on_text, on_done, a };
		am_err err;
		if (!am_client_start(c, &req, &cb, &err)) {
			am_prov_result_fail(&a->r, AM_PERR_SETUP, "%s", err.msg);
			return;
		}
		while (!a->done)
			if (am_client_run(c, 1000, &err) < 0)
				fprintf(stderr, "aimeter ask: warning: %s\n", err.msg);
		/* Text already on the terminal cannot be taken back: no retry. */
		if (a->printed || !am_prov_retry_should(&rc, attempt, &a->r))
			return;
		int64_t delay = am_prov_retry_delay(&rc, attempt, &a->r.rl, jitter(&rng));
		fprintf(stderr, "aimeter ask: %s (%s); retry %d of %d in %.1f s\n",
		        am_prov_errkind_name(a->r.err), a->r.message, attempt, rc.max_retries,
		        (double)delay / 1e9);
		struct timespec ts = { (time_t)(delay / 1000000000), (long)(delay % 1000000000) };
		nanosleep(&ts, NULL);
	}
}

int cmd_ask(int argc, char **argv)
{
	am_cli cli;
	am_cli_init(&cli, "ask", "[OPTIONS] PROMPT|-",
	            "Send one prompt; the answer goes to stdout, a summary line to stderr.", opts,
	            true, argc, argv);
	const char *model = NULL, *system = NULL, *prompt_arg = NULL;
	int64_t max_tokens = -1;
	int stream = -1;
	bool json = false, sim = false;
	for (int id; (id = am_cli_next(&cli)) != AM_CLI_END;) {
		switch (id) {
		case AM_CLI_EXIT: return cli.exit_code;
		case AM_CLI_ARG:
			if (prompt_arg)
				return am_cli_usage_error("ask", "one prompt only (quote it)");
			prompt_arg = cli.value;
			break;
		case OPT_MODEL: model = cli.value; break;
		case OPT_SYSTEM: system = cli.value; break;
		case OPT_MAX_TOKENS:
			if (am_cli_int(&cli, 1, 1000000, &max_tokens) != 0)
				return cli.exit_code;
			break;
		case OPT_NO_CACHE: break; /* the direct version has no response cache */
		case OPT_STREAM: stream = 1; break;
		case OPT_NO_STREAM: stream = 0; break;
		case OPT_JSON: json = true; break;
		case OPT_SIM: sim = true; break;
		default: break;
		}
	}
	if (!prompt_arg)
		return am_cli_usage_error("ask", "a prompt is required (or - to read stdin)");
	am_config cfg;
	int rc = am_cli_load_config(&cli, &cfg);
	if (rc)
		return rc;

	char *prompt = !strcmp(prompt_arg, "-") ? read_stdin() : am_xstrdup(prompt_arg);
	if (!prompt || !prompt[0]) {
		free(prompt);
		return am_cli_usage_error("ask", prompt ? "the prompt is empty"
		                                        : "the prompt on stdin is over 8 MiB");
	}
	const char *reason = "--model";
	if (!model && strcmp(cfg.selector.model, "auto")) {
		model = cfg.selector.model;
		reason = "pinned";
	} else if (!model) {
		model = cfg.selector.ntiers > 0 ? cfg.selector.tier[0].model : "claude-haiku-4-5";
		reason = "first tier";
	}
	am_prov_message msg = { .role = "user", .text = prompt };
	am_prov_request rq = { .model = model,
		               .max_tokens = max_tokens > 0 ? max_tokens : cfg.client.max_tokens,
		               .messages = &msg, .nmessages = 1, .system = system,
		               .stream = stream < 0 ? cfg.client.stream : stream == 1 };
	char *body = NULL;
	am_err err;
	am_sim *server = NULL;
	am_client *client = NULL;
	struct ask a = { .json = json };
	am_prov_result_init(&a.r);
	rc = 1;
	if (am_prov_build_body(&rq, AM_PROV_MESSAGES, &body, NULL, &err) != 0) {
		rc = am_cli_usage_error("ask", "%s", err.msg);
		goto out;
	}
	am_client_opts co;
	am_client_opts_default(&co);
	co.base_url = cfg.base_url;
	co.api_key = cfg.api_key[0] ? cfg.api_key : NULL;
	co.connect_timeout_ms = cfg.client.connect_timeout_ms;
	co.total_timeout_ms = cfg.client.timeout_ms;
	co.max_response_bytes = (size_t)cfg.client.max_response_bytes;
	if (sim) {
		am_sim_cfg sc;
		am_sim_cfg_default(&sc);
		sc.rpm = cfg.sim.rpm;
		sc.itpm = cfg.sim.itpm;
		sc.otpm = cfg.sim.otpm;
		sc.rpm_burst = cfg.sim.rpm_burst;
		sc.latency_ms = (int)cfg.sim.latency_ms;
		sc.tokens_per_second = (int)cfg.sim.tokens_per_second;
		sc.seed = (uint64_t)cfg.sim.seed;
		if (am_sim_start(&server, &sc, &err) != 0) {
			fprintf(stderr, "aimeter ask: simulator: %s\n", err.msg);
			goto out;
		}
		co.base_url = am_sim_url(server);
		co.api_key = "sim";
	} else if (!co.api_key && !strcmp(cfg.base_url, AM_PROV_DEFAULT_BASE_URL)) {
		fprintf(stderr, "aimeter ask: no API key: set ANTHROPIC_API_KEY or api_key_file "
		                "(or try --sim)\n");
		goto out;
	}
	if (am_client_new(&client, &co, &err) != 0) {
		fprintf(stderr, "aimeter ask: %s\n", err.msg);
		goto out;
	}
	converse(client, &cfg, body, rq.stream, &a);
	int64_t pusd = 0;
	bool known = a.r.err == AM_PERR_NONE && cost_of(&cfg, &a.r, &pusd);
	if (json) {
		print_json(&a.r, known, pusd);
	} else if (a.r.err == AM_PERR_NONE) {
		if (!a.printed)
			fwrite(a.r.text ? a.r.text : "", 1, a.r.text_len, stdout);
		if (a.r.text_len && a.r.text[a.r.text_len - 1] != '\n')
			fputc('\n', stdout);
		fflush(stdout);
	} else if (a.printed) {
		fputc('\n', stdout);
		fflush(stdout);
	}
	if (a.r.err == AM_PERR_NONE) {
		summary(&a.r, reason, known, pusd, sim);
		rc = 0;
	} else {
		report_failure(&a.r);
	}
out:
	am_prov_result_free(&a.r);
	am_client_free(client);
	am_sim_stop(server);
	free(body);
	free(prompt);
	return rc;
}
