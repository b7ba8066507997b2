/* aimeter ask: one prompt through the pipeline; the answer streams to
 * stdout, a one-line summary goes to stderr. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "app.h"
#include "cli.h"
#include "commands.h"
#include "text.h"
#include "money.h"
#include "say.h"
#include "tag.h"

enum { O_MODEL = 1, O_MAX, O_SYSTEM, O_NOCACHE, O_STREAM, O_NOSTREAM, O_JSON, O_SIM, O_TAG };

static const am_cli_opt opts[] = {
	{ "model", "M", "pin the model (default: the selector decides)", O_MODEL, NULL },
	{ "max-tokens", "N", "the answer's token bound", O_MAX, NULL },
	{ "system", "S", "a system prompt", O_SYSTEM, NULL },
	{ "no-cache", NULL, "do not answer from (or store in) the response cache", O_NOCACHE, NULL },
	{ "stream", NULL, "stream the answer (default: config client.stream)", O_STREAM, NULL },
	{ "no-stream", NULL, "wait for the whole answer", O_NOSTREAM, NULL },
	{ "json", NULL, "print one JSON object instead of text", O_JSON, NULL },
	{ "sim", NULL, "use the built-in simulator even with an API key", O_SIM, NULL },
	{ "tag", "T", "count the call under tag T (report --by tag, budget.tags)", O_TAG, NULL },
	{ NULL, NULL, NULL, 0, NULL },
};

/* The prompt on stdin, whole: NULL + err when it cannot be sent as it is.
 * A NUL byte is refused, not cut at (the prompt is a C string from here on,
 * and JSON text would carry it as "\u0000" only by changing it). */
static char *read_stdin(am_err *err)
{
	enum { MAX_PROMPT = 64 * 1024 * 1024 };
	size_t cap = 4096, len = 0;
	char *buf = am_xmalloc(cap);
	size_t n;
	while ((n = fread(buf + len, 1, cap - len - 1, stdin)) > 0) {
		len += n;
		if (len + 1 == cap) {
			if (cap > MAX_PROMPT) {
				free(buf);
				am_err_set(err, "the prompt on stdin is larger than %d MiB",
				           MAX_PROMPT / (1024 * 1024));
				return NULL;
			}
			cap *= 2;
			buf = am_xrealloc(buf, cap);
		}
	}
	if (ferror(stdin)) {
		free(buf);
		am_err_set(err, "cannot read the prompt from stdin: %s", strerror(errno));
		return NULL;
	}
	const char *nul = memchr(buf, '\0', len);
	if (nul) {
		am_err_set(err, "the prompt on stdin holds a NUL byte (at byte %zu); remove it, e.g. "
		           "with tr -d '\\000'", (size_t)(nul - buf));
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

/* The answer on a terminal goes through am_text_sanitize: it is untrusted
 * text, and escape sequences in it could move the cursor, retitle the
 * window or write the clipboard. A pipe or a file gets it byte for byte.
 * A character split between two chunks waits in carry for the rest. */
typedef struct answer_out {
	bool safe;
	am_text_san st;
	char carry[8];
	size_t ncarry;
} answer_out;

/* ---- interruptions ------------------------------------------------------
 *
 * SIGINT, SIGTERM, SIGHUP, or a reader that went away (SIGPIPE is ignored
 * here, so a write to a closed pipe fails with EPIPE instead of killing
 * the process): the call may already be billed, so it is not simply
 * dropped. The job is cancelled through the engine, and the worker records
 * what had arrived (estimated, when the provider had begun the answer)
 * before the process ends, waiting at most INTERRUPT_WAIT_MS for that.
 * Then the signal is raised again with its default action, so that the
 * caller sees how the process ended. */
enum { INTERRUPT_WAIT_MS = 5000 };

static int sig_pipe[2] = { -1, -1 };
static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	int e = errno;
	got_signal = sig;
	if (sig_pipe[1] >= 0) {
		ssize_t w = write(sig_pipe[1], "", 1);
		(void)w;
	}
	errno = e;
}

static const int quit_signals[] = { SIGINT, SIGTERM, SIGHUP };

static void catch_signals(void)
{
	if (pipe(sig_pipe) == 0) {
		for (int i = 0; i < 2; i++) {
			fcntl(sig_pipe[i], F_SETFL, O_NONBLOCK);
			fcntl(sig_pipe[i], F_SETFD, FD_CLOEXEC);
		}
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof quit_signals / sizeof *quit_signals; i++)
		sigaction(quit_signals[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Ends the process as the signal would have, once everything is closed. */
static void die_of(int sig)
{
	fflush(stdout);
	fflush(stderr);
	signal(sig, SIG_DFL);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
	_exit(128 + sig);
}

static void answer_put(answer_out *o, const char *s, size_t len, bool last)
{
	if (!o->safe) {
		fwrite(s, 1, len, stdout);
		fflush(stdout);
		return;
	}
	size_t n = o->ncarry + len;
	char *in = am_xmalloc(n + 1);
	memcpy(in, o->carry, o->ncarry);
	memcpy(in + o->ncarry, s, len);
	size_t keep = last ? 0 : am_utf8_incomplete_tail(in, n);
	char *out = am_xmalloc(4 * (n - keep) + 1);
	fwrite(out, 1, am_text_sanitize(in, n - keep, out, false, &o->st), stdout);
	fflush(stdout);
	memcpy(o->carry, in + n - keep, keep);
	o->ncarry = keep;
	free(in);
	free(out);
}

static void summary(const am_event *ev, int64_t job_ms)
{
	char cost[48];
	if (ev->cached)
		snprintf(cost, sizeof cost, "$0 (cache hit)");
	else if (ev->price_known)
		am_money_format_display(ev->cost_pusd, 6, cost, sizeof cost);
	else if (ev->error[0])
		snprintf(cost, sizeof cost, "not exact (suspect usage)");
	else
		snprintf(cost, sizeof cost, "price unknown");
	long long in = (long long)(ev->usage.input_tokens + ev->usage.cache_write_5m +
	                           ev->usage.cache_write_1h + ev->usage.cache_read);
	/* Cut short: the counts and the cost are estimated (≈). */
	am_say(stderr, "%s · %s · %lld in / %s%lld out · %s%s · %.1fs%s\n", ev->model, ev->reason,
	       in, ev->estimated ? "≈" : "", (long long)ev->usage.output_tokens,
	       ev->estimated ? "≈" : "", cost,
	       (double)(ev->latency_ms ? ev->latency_ms : job_ms) / 1000.0,
	       ev->estimated ? " · estimated (cut short)" : "");
	if (ev->error[0] && !ev->estimated)
		am_say(stderr, "aimeter ask: %s\n", ev->error);
}

static json_t *result_json(const am_event *ev, const char *text)
{
	char cost[32];
	am_money_format(ev->cached ? 0 : ev->cost_pusd, cost, sizeof cost);
	return json_pack("{s:s, s:s, s:s, s:{s:I, s:I, s:I, s:I}, s:o, s:b, s:I, s:b}", "model",
	                 ev->model, "reason", ev->reason, "text", text ? text : "", "usage",
	                 "input_tokens", (json_int_t)ev->usage.input_tokens, "output_tokens",
	                 (json_int_t)ev->usage.output_tokens, "cache_creation_input_tokens",
	                 (json_int_t)(ev->usage.cache_write_5m + ev->usage.cache_write_1h),
	                 "cache_read_input_tokens", (json_int_t)ev->usage.cache_read, "cost_usd",
	                 ev->price_known ? json_string(cost) : json_null(), "cached", ev->cached,
	                 "latency_ms", (json_int_t)ev->latency_ms, "estimated", ev->estimated);
}

int cmd_ask(int argc, char **argv)
{
	const char *model = NULL, *system = NULL, *arg = NULL, *tag = NULL;
	am_err terr;
	int64_t max_tokens = 0;
	int stream = -1;
	bool no_cache = false, json = false, sim = false;
	am_cli c;
	am_cli_init(&c, "ask", "[OPTIONS] PROMPT|-",
	            "Sends one prompt through the queue, selector, cache, budget guard and rate\n"
	            "limiter; prints the answer on stdout as it arrives and a summary on stderr.\n"
	            "'-' reads the prompt from standard input. Exit status: 0 answered, 1 failed\n"
	            "(an answer cut short is recorded as estimated, and is 1 too), 2 usage error,\n"
	            "3 blocked by the budget. On SIGINT, SIGTERM, SIGHUP or a closed stdout the call\n"
	            "is cancelled, what arrived is recorded, and aimeter ends by that signal.",
	            opts, true, argc, argv);
	c.max_args = -1; /* a second word gets the hint below */
	for (int id; (id = am_cli_next(&c)) != AM_CLI_END;) {
		switch (id) {
		case AM_CLI_EXIT: return c.exit_code;
		case AM_CLI_ARG:
			if (arg)
				return am_cli_usage_error("ask", "one PROMPT only (quote it)");
			arg = c.value;
			break;
		case O_MODEL: model = c.value; break;
		case O_MAX:
			if (am_cli_int(&c, 1, 1000000, &max_tokens))
				return 2;
			break;
		case O_SYSTEM: system = c.value; break;
		case O_NOCACHE: no_cache = true; break;
		case O_STREAM: stream = 1; break;
		case O_NOSTREAM: stream = 0; break;
		case O_JSON: json = true; break;
		case O_SIM: sim = true; break;
		case O_TAG:
			if (am_tag_check(c.value, &terr))
				return am_cli_usage_error("ask", "--tag: %s", terr.msg);
			tag = c.value;
			break;
		}
	}
	if (!arg)
		return am_cli_usage_error("ask", "a PROMPT (or '-') is required");
	am_config cfg;
	int rc = am_cli_load_config(&c, &cfg);
	if (rc)
		return rc;
	am_err rerr;
	char *prompt = !strcmp(arg, "-") ? read_stdin(&rerr) : am_xstrdup(arg);
	if (!prompt) {
		am_config_wipe(&cfg);
		fprintf(stderr, "aimeter ask: %s\n", rerr.msg);
		return 2;
	}
	if (!*prompt) {
		free(prompt);
		return am_cli_usage_error("ask", "the prompt is empty");
	}

	am_app app;
	rc = am_app_open(&app, &c, &cfg, sim);
	am_config_wipe(&cfg);
	app.halt_on_fatal = true;
	if (rc || (rc = am_app_start(&app, "ask", false))) {
		free(prompt);
		am_app_close(&app, 0);
		return rc;
	}
	am_engine_ops ops = am_worker_ops(app.worker);
	am_turn turn = { "user", prompt };
	am_prompt p = { &turn, 1, system, model, max_tokens, no_cache,
	                stream < 0 ? app.cfg.client.stream : stream == 1, tag };
	if (json)
		p.stream = false;
	int64_t job = 0;
	am_err err;
	catch_signals();
	if (ops.submit(ops.ctx, &p, &job, &err)) {
		am_say(stderr, "aimeter ask: %s\n", err.msg);
		free(prompt);
		am_app_close(&app, 0);
		return 1;
	}
	size_t tlen = 0, tcap = 1024;
	char *text = am_xmalloc(tcap);
	text[0] = '\0';
	rc = -1;
	am_event evs[64];
	bool tty = isatty(2);
	answer_out out = { .safe = isatty(1) };
	char last_notice[AM_ERR_MAX + 64] = "";
	int interrupted = 0;      /* the signal that ends the run (SIGPIPE: stdout closed) */
	bool stdout_failed = false; /* the interruption was a failed write, not a signal */
	int64_t give_up_ms = 0;   /* after an interruption: the bounded wait left */
	while (rc < 0) {
		struct pollfd pfd[2] = { { ops.wake_fd(ops.ctx), POLLIN, 0 }, { sig_pipe[0], POLLIN, 0 } };
		int timeout = interrupted ? 100 : 1000;
		if (poll(pfd, sig_pipe[0] >= 0 ? 2 : 1, timeout) < 0 && errno != EINTR)
			break;
		if (sig_pipe[0] >= 0 && (pfd[1].revents & POLLIN)) {
			char drain[16];
			while (read(sig_pipe[0], drain, sizeof drain) > 0)
				;
		}
		if (!interrupted && (got_signal || (!json && ferror(stdout)))) {
			/* Cancel the job; the worker records what arrived, then says so. */
			interrupted = got_signal ? (int)got_signal : SIGPIPE;
			stdout_failed = !got_signal;
			give_up_ms = INTERRUPT_WAIT_MS;
			am_command cancel = { .kind = AM_CMD_CANCEL_JOB, .value = job };
			ops.command(ops.ctx, &cancel, NULL);
		} else if (interrupted && (give_up_ms -= timeout) <= 0) {
			fprintf(stderr, "aimeter ask: interrupted; the call's end was not recorded\n");
			rc = 1;
			break;
		}
		/* Read before draining: the events of a worker that has ended are
		 * all in the queue by then. */
		bool finished = am_worker_finished(app.worker);
		int n = ops.drain(ops.ctx, evs, 64);
		for (int i = 0; i < n; i++) {
			am_event *ev = &evs[i];
			if (ev->job_id == job && ev->kind == AM_EV_DELTA && ev->text) {
				size_t add = strlen(ev->text);
				if (tlen + add + 1 > tcap) {
					tcap = (tlen + add + 1) * 2;
					text = am_xrealloc(text, tcap);
				}
				memcpy(text + tlen, ev->text, add + 1);
				tlen += add;
				if (!json && !interrupted)
					answer_put(&out, ev->text, add, false);
			} else if (ev->job_id == job && ev->kind == AM_EV_STARTED && tlen > 0) {
				/* A retry after a stream broke off: the answer starts over.
				 * What was printed cannot be taken back, so say so and
				 * start on a new line; the text kept (--json) restarts. */
				if (!json) {
					answer_put(&out, "", 0, true);
					putchar('\n');
					fflush(stdout);
					memset(&out.st, 0, sizeof out.st);
				}
				fprintf(stderr, "aimeter ask: the answer broke off; it starts again\n");
				tlen = 0;
				text[0] = '\0';
			} else if (ev->job_id == job && ev->kind == AM_EV_DONE && rc < 0 &&
			           (ev->estimated || interrupted)) {
				/* Cut short (a broken stream, or the interruption): what
				 * arrived is recorded, as estimated. */
				if (!json && !interrupted)
					answer_put(&out, "", 0, true);
				/* A line of its own for what follows; a file or pipe
				 * that was cut off by a signal keeps what arrived. */
				if (!json && tlen && interrupted != SIGPIPE && (!interrupted || out.safe))
					putchar('\n');
				fprintf(stderr, "aimeter ask: %s\n", ev->error[0] ? ev->error : "cut short");
				summary(ev, 0);
				rc = 1;
			} else if (ev->job_id == job && ev->kind == AM_EV_CANCELLED && interrupted &&
			           rc < 0) {
				rc = 1; /* cancelled before the provider began: nothing billed */
			} else if (ev->job_id == job && ev->kind == AM_EV_DONE && rc < 0) {
				if (json) {
					json_t *o = result_json(ev, text);
					char *s = am_say_json(o, JSON_COMPACT);
					if (s)
						puts(s);
					free(s);
					json_decref(o);
				} else {
					answer_put(&out, "", 0, true);
					if (tlen && text[tlen - 1] != '\n')
						putchar('\n');
				}
				summary(ev, 0);
				rc = 0;
			} else if (ev->job_id == job && ev->kind == AM_EV_FAILED && rc < 0) {
				am_say(stderr, "aimeter ask: %s\n", ev->error);
				rc = 1;
			} else if (ev->job_id == job && ev->kind == AM_EV_BLOCKED && rc < 0) {
				am_say(stderr, "aimeter ask: blocked by the budget: %s\n",
				        ev->text ? ev->text : "");
				am_command cancel = { .kind = AM_CMD_CANCEL_JOB, .value = job };
				ops.command(ops.ctx, &cancel, NULL);
				rc = 3;
			} else if (ev->kind == AM_EV_ALERT && ev->text) {
				fputc('\a', stderr); /* the bell is ours; the text is sanitized */
				am_say(stderr, "%s\n", ev->text);
			} else if (ev->kind == AM_EV_NOTICE && ev->text) {
				/* Kept for an early end: why the worker stopped (a
				 * ledger it cannot write, say). Redis going away or
				 * coming back changes what happens to this call (held,
				 * or under local limits): said at once. */
				snprintf(last_notice, sizeof last_notice, "%s", ev->text);
				if (!strncmp(ev->text, "redis: ", 7))
					am_say(stderr, "aimeter ask: %s\n", ev->text);
			} else if (ev->job_id == job && ev->kind == AM_EV_RETRY) {
				/* A retry (the provider failed) is always worth a line. */
				char line[400];
				am_event_retry_text(ev, line, sizeof line);
				am_say(stderr, "aimeter ask: %s\n", line);
			} else if (ev->job_id == job && ev->kind == AM_EV_WAITING && ev->text && tty) {
				/* Waiting for a limit only on a terminal, so that in
				 * scripts stderr stays the summary line. */
				am_say(stderr, "aimeter ask: waiting for %s\n", ev->text);
			}
			am_event_free(ev);
		}
		if (rc < 0 && finished && n < 64) {
			if (last_notice[0])
				fprintf(stderr, "aimeter ask: %s\n", last_notice);
			else
				fprintf(stderr, "aimeter ask: the worker stopped unexpectedly\n");
			rc = 1;
		}
	}
	free(text);
	free(prompt);
	am_app_close(&app, rc == 3 ? 2000 : 0);
	/* A reader that went away ends the run as SIGPIPE would; a write that
	 * failed otherwise (a full disk) is an error, which main reports. */
	struct stat so;
	bool to_pipe = fstat(STDOUT_FILENO, &so) == 0 && (S_ISFIFO(so.st_mode) || S_ISSOCK(so.st_mode));
	if (interrupted && (!stdout_failed || to_pipe))
		die_of(interrupted);
	return interrupted ? 1 : rc;
}
