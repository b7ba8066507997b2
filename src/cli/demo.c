/* demo: the real pipeline on the simulator, with a scripted load (demo.h).
 *
 * The script is a handful of clocks on the monotonic time line, all read
 * and acted on in pump(), which every snapshot and drain calls first:
 *  - the next prompt: an opening burst 150 ms apart, then 350..1100 ms
 *    apart, skipped while the queue is long;
 *  - the next spike: SPIKE_BURST tiny prompts at once (see below);
 *  - the budget watch: calls blocked by the budget for 3 s raise today's
 *    limit by DEMO_BUDGET_STEP.
 * Prompts are built from a small bank of questions, with a context
 * paragraph repeated to make the middle and long sizes the selector's
 * rules send to Sonnet and Opus; a share of them repeat an earlier prompt
 * exactly. Numbers are chosen so the screen is busy within a second and a
 * budget alert fires within about ten. */
#include "demo.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "app.h"
#include "clock.h"
#include "money.h"
#include "pricing.h"
#include "sim_text.h"
#include "worker.h"

#define MS AM_NS_PER_MS
#define SEC AM_NS_PER_SEC

/* The demo's whole configuration. aimeter's own limits (per pool) sit
 * below the simulator's (shared by every model), so the limiter, not the
 * server, paces the load; the buckets start a quarter full and refill while
 * the load draws on them. A prompt typed in the console gets a short
 * answer (max_tokens 160) that fits the screen and rarely waits long. The
 * budget is small enough for its first alert within seconds. */
static const char demo_config[] =
	"{ \"limits\": { \"rpm\": 60, \"rpm_burst\": 10, \"itpm\": 15000, \"otpm\": 6000,"
	"              \"init_fill_pct\": 25 },"
	"  \"client\": { \"max_tokens\": 160, \"max_retries\": 6 },"
	"  \"budget\": { \"daily_usd\": \"0.10\", \"monthly_usd\": \"5\","
	"              \"alert_pct\": [25, 50, 80], \"bell\": false },"
	"  \"sim\": { \"rpm\": 600, \"rpm_burst\": 8, \"itpm\": 200000, \"otpm\": 40000,"
	"           \"latency_ms\": 250, \"tokens_per_second\": 160, \"seed\": 7 } }";

/* The spike: SPIKE_BURST tiny prompts at once, spread over the three
 * tiers' pools. Each pool lets rpm_burst (10) of them go back to back, but
 * the simulator, like the API enforcing "600 RPM" as a few requests per
 * moment, takes only sim.rpm_burst (8) at once, and the limiter learns that
 * only from the answers: the calls over it meet 429s (retry-after 1 s), the
 * limits panel counts them and the pools cool down, then the retries go
 * through. Later spikes mostly pass, paced by what the headers reported.
 * The simulator's limits stay as they are, so nothing stalls. */
enum {
	SPIKE_FIRST_S = 10,         /* the first spike, seconds after the start */
	SPIKE_EVERY_S = 40,
	SPIKE_BURST = 18,
	BURST_GAP_MS = 150,
	QUEUE_SKIP = 4,             /* no new steady prompt while this many wait */
	BLOCKED_RAISE_S = 3,
	RECENT = 24,                /* prompts kept for repeats */
	REPEAT_AFTER_S = 6,         /* a repeat waits until its original has likely landed */
	MAX_NOTES = 8,
	PROMPT_MAX = 4096
};
#define DEMO_BUDGET_STEP (AM_PUSD_PER_USD / 10) /* $0.10 */

enum kind { SHORT, MEDIUM, LONG, REPEAT, TINY };

struct recent {
	char *text;
	int64_t at;
	int64_t max_tokens;
};

struct am_demo {
	am_app app;                 /* the configuration, prices, simulator and worker */
	am_engine_ops inner;        /* the worker's */
	char dir[1024];
	const am_clock *clock;
	int epfd, tfd;
	int64_t armed_for;          /* mono ns the timer is set to; 0 = not armed */

	uint64_t rng;               /* the script's choices: a counter, mixed */
	int submitted, fresh;       /* scripted prompts; of them, new ones (numbering) */
	int64_t next_prompt, next_spike, next_watch, blocked_since;
	int burst_left;
	const enum kind *burst;     /* the kinds of the current burst, burst_left from the end */
	struct recent recent[RECENT];
	int nrecent, recent_at;

	am_event note[MAX_NOTES];   /* "demo:" notices not yet drained */
	int nnotes;
};

/* ---- the prompts ------------------------------------------------------------ */

static const char *const questions[] = {
	"What does an HTTP 429 from an API mean, and how long should a client wait?",
	"Explain a token bucket in two sentences.",
	"Why do streamed answers arrive as server-sent events?",
	"What is the difference between input and output tokens?",
	"Give three ways to make a prompt cheaper.",
	"When is a cached answer the wrong answer?",
	"What does GCRA stand for, and what does it compute?",
	"How should a client spread retries after an overload error?",
	"Summarize what a rate-limit reset header tells a client.",
	"Why keep money as integers instead of floating point?",
	"What is a daily budget good for if a monthly one exists?",
	"Name two signs that a model is too large for a task.",
	"How does prompt caching change the cost of a long system prompt?",
	"What should a dashboard show first when spend spikes?",
	"Is a request per second the same limit as sixty per minute?",
	"Write a haiku about a queue that never empties.",
};

static const char context[] =
	"Context: the service sends a few hundred prompts an hour from a support tool. Most are "
	"short questions, some carry a pasted log or a long email thread, and a few ask for a "
	"summary of a whole conversation. Spend is capped per day, the provider limits requests "
	"and tokens per minute, and identical questions come back often enough that a response "
	"cache pays for itself. ";

/* Counter-based, as the simulator's own generator: every demo run tells
 * the same story. */
static uint64_t rnd(am_demo *d)
{
	return am_simtext_mix(++d->rng);
}

static int rnd_below(am_demo *d, int n)
{
	return (int)((rnd(d) >> 33) % (uint64_t)n);
}

/* A new prompt of `kind` into buf; returns its max_tokens. Under 500
 * characters the default rules pick Haiku, under 2,000 Sonnet, else Opus. */
static int64_t make_prompt(am_demo *d, enum kind kind, char *buf, size_t n)
{
	int q = rnd_below(d, (int)(sizeof questions / sizeof questions[0]));
	int o = snprintf(buf, n, "Q%d. %s", ++d->fresh, questions[q]);
	int copies = kind == SHORT || kind == TINY ? 0 : kind == MEDIUM ? 2 + rnd_below(d, 2) : 6 + rnd_below(d, 2);
	if (copies)
		o += snprintf(buf + o, n - (size_t)o, "\n\n");
	for (int i = 0; i < copies && (size_t)o < n; i++)
		o += snprintf(buf + o, n - (size_t)o, "%s", context);
	if (kind == TINY)
		return 40;
	return kind == SHORT ? 120 + 40 * rnd_below(d, 3) : kind == MEDIUM ? 300 : 450;
}

/* ---- notices ------------------------------------------------------------------ */

static void note(am_demo *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note(am_demo *d, const char *fmt, ...)
{
	if (d->nnotes == MAX_NOTES)
		return; /* an observer that never drains: the panels still tell */
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	am_event *ev = &d->note[d->nnotes++];
	memset(ev, 0, sizeof *ev);
	ev->kind = AM_EV_NOTICE;
	ev->text = am_xstrdup(buf);
}

/* ---- the script ----------------------------------------------------------------- */

static void submit(am_demo *d, enum kind kind, const char *model, int64_t now)
{
	char buf[PROMPT_MAX];
	const char *text = buf;
	int64_t max_tokens = 0;
	if (kind == REPEAT) {
		int eligible[RECENT], ne = 0;
		for (int i = 0; i < d->nrecent; i++)
			if (now - d->recent[i].at >= REPEAT_AFTER_S * SEC)
				eligible[ne++] = i;
		if (ne == 0) {
			kind = SHORT;
		} else {
			const struct recent *r = &d->recent[eligible[rnd_below(d, ne)]];
			text = r->text;
			max_tokens = r->max_tokens;
		}
	}
	if (kind != REPEAT)
		max_tokens = make_prompt(d, kind, buf, sizeof buf);
	am_turn t = { "user", text };
	am_prompt p = { .turns = &t, .nturns = 1, .model = model, .max_tokens = max_tokens,
	                .stream = true };
	int64_t id;
	am_err err;
	if (d->inner.submit(d->inner.ctx, &p, &id, &err))
		return; /* a full queue: the next step tries again */
	d->submitted++;
	if (kind == REPEAT || kind == TINY)
		return;
	struct recent *r;
	if (d->nrecent < RECENT) {
		r = &d->recent[d->nrecent++];
	} else {
		r = &d->recent[d->recent_at];
		d->recent_at = (d->recent_at + 1) % RECENT;
		free(r->text);
	}
	*r = (struct recent){ am_xstrdup(buf), now, max_tokens };
}

static enum kind steady_kind(am_demo *d)
{
	int x = rnd_below(d, 100);
	return x < 22 ? REPEAT : x < 62 ? SHORT : x < 88 ? MEDIUM : LONG;
}

static const enum kind opening[] = { MEDIUM, SHORT, LONG, SHORT, MEDIUM, SHORT, SHORT };

static void start_burst(am_demo *d, const enum kind *kinds, int n, int64_t now)
{
	d->burst = kinds;
	d->burst_left = n;
	d->next_prompt = now;
}

/* A short answer each, all at once and spread over the tiers' models (so
 * over their pools): the requests, not the tokens, are what the spike is
 * about. */
static void tiny_burst(am_demo *d, int n, int64_t now)
{
	int ntiers = d->app.cfg.selector.ntiers;
	for (int i = 0; i < n; i++)
		submit(d, TINY, ntiers ? d->app.cfg.selector.tier[i % ntiers].model : NULL, now);
}

static void prompt_step(am_demo *d, const am_snapshot *s, int64_t now)
{
	if (d->burst_left > 0) {
		submit(d, d->burst[--d->burst_left], NULL, now);
		d->next_prompt = now + BURST_GAP_MS * MS;
		return;
	}
	if (s->queue_depth < QUEUE_SKIP)
		submit(d, steady_kind(d), NULL, now);
	d->next_prompt = now + (350 + rnd_below(d, 750)) * MS;
}

static void spike_step(am_demo *d, int64_t now)
{
	note(d,
	     "demo: %d prompts arrive at once; the simulator, like the API, takes only %lld "
	     "requests back to back: calls beyond that meet 429s until the limiter has "
	     "calibrated on its headers",
	     SPIKE_BURST, (long long)d->app.cfg.sim.rpm_burst);
	tiny_burst(d, SPIKE_BURST, now);
	d->next_spike = now + SPIKE_EVERY_S * SEC;
}

/* Calls blocked by the budget for a while: raise today's limit, as a user
 * would with /budget. */
static void budget_watch(am_demo *d, const am_snapshot *s, int64_t now)
{
	const am_snap_budget *b = &s->budget;
	if (b->day_limit_pusd <= 0 || (b->blocked_jobs == 0 && b->state != AM_BUDGET_OVER)) {
		d->blocked_since = 0;
		return;
	}
	if (!d->blocked_since) {
		d->blocked_since = now;
		return;
	}
	if (now - d->blocked_since < BLOCKED_RAISE_S * SEC)
		return;
	am_command c = { .kind = AM_CMD_SET_BUDGET_DAY, .value = b->day_limit_pusd + DEMO_BUDGET_STEP };
	am_err err;
	if (d->inner.command(d->inner.ctx, &c, &err))
		return;
	char was[32], to[32];
	am_money_format_display(b->day_limit_pusd, 2, was, sizeof was);
	am_money_format_display(c.value, 2, to, sizeof to);
	note(d, "demo: today's budget of %s is used up; the demo raises it to %s (/budget %s)", was,
	     to, to + 1);
	d->blocked_since = 0;
}

static int64_t next_due(const am_demo *d)
{
	int64_t t = d->next_prompt;
	if (d->next_spike < t)
		t = d->next_spike;
	if (d->next_watch < t)
		t = d->next_watch;
	return t;
}

static void arm(am_demo *d, int64_t now)
{
	int64_t at = d->nnotes ? now : next_due(d);
	if (at == d->armed_for)
		return;
	int64_t in = at - now;
	if (in < MS)
		in = MS;
	struct itimerspec its = { { 0, 0 }, { (time_t)(in / SEC), (long)(in % SEC) } };
	if (timerfd_settime(d->tfd, 0, &its, NULL) == 0)
		d->armed_for = at;
}

/* Runs what is due. Called first by every snapshot and drain. */
static void pump(am_demo *d)
{
	uint64_t ticks;
	if (read(d->tfd, &ticks, sizeof ticks) > 0)
		d->armed_for = 0; /* it fired (and is clear now); EAGAIN: still set */
	int64_t now = am_clock_mono(d->clock);
	if (now >= d->next_watch || now >= d->next_prompt) {
		am_snapshot s;
		d->inner.snapshot(d->inner.ctx, &s);
		if (now >= d->next_watch) {
			budget_watch(d, &s, now);
			d->next_watch = now + 500 * MS;
		}
		if (now >= d->next_prompt)
			prompt_step(d, &s, now);
	}
	if (now >= d->next_spike)
		spike_step(d, now);
	arm(d, now);
}

/* ---- the engine ops ------------------------------------------------------------- */

static int demo_submit(void *ctx, const am_prompt *p, int64_t *job_id, am_err *err)
{
	am_demo *d = ctx;
	return d->inner.submit(d->inner.ctx, p, job_id, err);
}

static void demo_snapshot(void *ctx, am_snapshot *out)
{
	am_demo *d = ctx;
	pump(d);
	d->inner.snapshot(d->inner.ctx, out);
	char ep[sizeof out->endpoint];
	snprintf(ep, sizeof ep, "demo, %s", out->endpoint);
	memcpy(out->endpoint, ep, sizeof ep);
}

static int demo_drain(void *ctx, am_event *out, int max)
{
	am_demo *d = ctx;
	pump(d);
	int n = 0;
	while (n < max && n < d->nnotes) {
		out[n] = d->note[n];
		n++;
	}
	memmove(d->note, d->note + n, (size_t)(d->nnotes - n) * sizeof d->note[0]);
	d->nnotes -= n;
	if (n < max)
		n += d->inner.drain(d->inner.ctx, out + n, max - n);
	return n;
}

static int demo_command(void *ctx, const am_command *c, am_err *err)
{
	am_demo *d = ctx;
	return d->inner.command(d->inner.ctx, c, err);
}

static int demo_wake_fd(void *ctx)
{
	return ((am_demo *)ctx)->epfd;
}

static int demo_preview(void *ctx, const am_snapshot *snap, const am_preview_in *in,
                        am_preview *out, am_err *err)
{
	am_demo *d = ctx;
	return d->inner.preview(d->inner.ctx, snap, in, out, err);
}

static int demo_remember(void *ctx, am_memo_kind kind, const char *input,
                         const am_memo_exchange *x, am_err *err)
{
	am_demo *d = ctx;
	return d->inner.remember(d->inner.ctx, kind, input, x, err);
}

static bool demo_recall(void *ctx, void (*input)(void *cb, const char *line),
                        void (*exchange)(void *cb, const am_memo_exchange *x), void *cb)
{
	am_demo *d = ctx;
	return d->inner.recall(d->inner.ctx, input, exchange, cb);
}

am_engine_ops am_demo_ops(am_demo *d)
{
	return (am_engine_ops){ demo_submit, demo_snapshot, demo_drain, demo_command, demo_wake_fd,
	                        d, demo_preview, demo_remember, demo_recall };
}

const am_config *am_demo_config(const am_demo *d)
{
	return &d->app.cfg;
}

int am_demo_submitted(const am_demo *d)
{
	return d->submitted;
}

/* ---- start and stop -------------------------------------------------------------- */

/* Removes the temporary directory and the files in it (the ledger, its
 * WAL and shared-memory files); it has no subdirectories. */
static void remove_dir(const char *dir)
{
	DIR *dp = opendir(dir);
	if (dp) {
		char path[1300];
		for (struct dirent *e; (e = readdir(dp));) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
			unlink(path);
		}
		closedir(dp);
	}
	rmdir(dir);
}

void am_demo_stop(am_demo *d)
{
	if (!d)
		return;
	am_app_close(&d->app, 0);
	for (int i = 0; i < d->nnotes; i++)
		am_event_free(&d->note[i]);
	for (int i = 0; i < d->nrecent; i++)
		free(d->recent[i].text);
	if (d->epfd >= 0)
		close(d->epfd);
	if (d->tfd >= 0)
		close(d->tfd);
	if (d->dir[0])
		remove_dir(d->dir);
	free(d);
}

static int watch_fd(int epfd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

am_demo *am_demo_start(void)
{
	am_demo *d = am_xcalloc(1, sizeof *d);
	am_err err;
	d->epfd = d->tfd = -1;
	d->clock = am_clock_system();
	d->app.cmd = "dashboard --demo";

	const char *tmp = getenv("TMPDIR");
	char db[1100];
	snprintf(d->dir, sizeof d->dir, "%s/aimeter-demo-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(d->dir)) {
		fprintf(stderr, "aimeter %s: cannot create a directory for the temporary ledger in %s: %s\n",
		        d->app.cmd, tmp && *tmp ? tmp : "/tmp", strerror(errno));
		d->dir[0] = '\0';
		goto fail;
	}
	/* The configuration is built in: no file and no environment (envp is
	 * empty), so no key, no endpoint and no ledger of the user's. The
	 * prices are the shipped table alone. */
	char *const no_env[] = { NULL };
	snprintf(db, sizeof db, "%s/demo.db", d->dir);
	if (am_config_load_text(&d->app.cfg, demo_config, sizeof demo_config - 1, "demo", no_env,
	                        &err) ||
	    am_config_set_from_string(&d->app.cfg, "db", db, AM_CFG_FLAG, &err) ||
	    am_pricing_load(&d->app.pricing, am_pricing_default_path(), NULL, &err)) {
		fprintf(stderr, "aimeter %s: %s\n", d->app.cmd, err.msg);
		goto fail;
	}
	/* The same simulator and worker as the dashboard without a key. */
	if (am_app_start_sim(&d->app) || am_app_start(&d->app, "console", true))
		goto fail;
	d->inner = am_worker_ops(d->app.worker);

	d->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->tfd < 0 || d->epfd < 0 || watch_fd(d->epfd, d->inner.wake_fd(d->inner.ctx)) ||
	    watch_fd(d->epfd, d->tfd)) {
		fprintf(stderr, "aimeter %s: cannot set up the demo's timer: %s\n", d->app.cmd,
		        strerror(errno));
		goto fail;
	}

	int64_t now = am_clock_mono(d->clock);
	d->next_watch = now + 500 * MS;
	d->next_spike = now + SPIKE_FIRST_S * SEC;
	start_burst(d, opening, (int)(sizeof opening / sizeof opening[0]), now);
	note(d,
	     "demo: the real pipeline on the built-in simulator, fed a scripted load; the ledger "
	     "is temporary, nothing leaves this machine and nothing is billed. Type to join in.");
	arm(d, now);
	return d;
fail:
	am_demo_stop(d);
	return NULL;
}
