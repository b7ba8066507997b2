/* bench_pipeline: the pipeline worker against the in-process simulator.
 *
 *   pipeline_requests_per_s   many small non-streamed calls submitted
 *                             through the engine ops, no limits, answers at
 *                             once (latency 0): completed calls per second,
 *                             queue -> selector -> cache -> budget -> limiter
 *                             -> client -> ledger -> event. Goal >= 1,500.
 *   pipeline_added_us_p50     one call at a time, the median time from
 *                             submit to its DONE event, minus the median
 *                             time of the same calls through am_client alone
 *                             (measured in the same run), the simulator
 *                             answering at once. Goal <= 100 us.
 *   pipeline_added_1ms_us_p50 the same with the simulator answering after
 *                             1 ms. At once, the figure depends on whether
 *                             the worker is still busy when the answer
 *                             comes: a thread asleep on an idle vCPU of a VM
 *                             without halt polling takes 50-70 us to wake,
 *                             and a worker that is still writing when an
 *                             instant answer arrives skips that wake-up.
 *                             With any answer time longer than the worker's
 *                             own work both paths sleep alike, and the
 *                             figure is the work and the hand-offs the
 *                             pipeline adds.
 *   pipeline_row_commit_us_p50 what a call waits for before it may go out
 *                             (a call is never sent before a committed row
 *                             records it): one job row written in flight
 *                             and committed as the worker writes it
 *                             (BEGIN IMMEDIATE, the insert, COMMIT), on a
 *                             ledger beside the pipeline's, after it:
 *                             the median of as many rows as calls above.
 *   limit_fraction            Tier-2-like limits on the simulator and the
 *   limit_429s                same in aimeter's config (1,000 RPM, 450k
 *                             ITPM, 90k OTPM), inputs of ~2,100 tokens,
 *                             answers of 400 (max_tokens), a standing
 *                             backlog, 80 tokens/s after 400 ms: the share
 *                             of the binding limit used over the steady
 *                             state (after a warm-up that spends aimeter's
 *                             initial bucket and learns the input ratio),
 *                             and the 429s over the whole run. Goals >= 0.97
 *                             and 0.
 *
 *   small_limits_ideal_pct    a new user's batch at small limits: 150
 *   small_limits_429s         prompts of 40-400 words, max_tokens 128,
 *                             answers of 70 tokens, 300 ms to the answer,
 *                             32 in flight, a fresh process (buckets
 *                             guessed at init_fill_pct 25%), the simulator
 *                             and the config at the same limits. The ideal
 *                             time is what the simulator's buckets allow
 *                             for what it admitted (its counters), counting
 *                             the full buckets it starts with: the largest
 *                             over RPM, ITPM, OTPM of (admitted - capacity)
 *                             / rate. The figure is ideal / elapsed (first
 *                             submit to last answer), at two sizes:
 *                             "tier1x" (300 RPM with a 5-request bucket,
 *                             60k ITPM, 6k OTPM) and "tier1" (Tier-1
 *                             Sonnet: 50 RPM with a 1 s request bucket, 30k
 *                             ITPM, 8k OTPM). Goals >= 90 and 0 429s.
 *
 * The limit run lasts AIMETER_BENCH_LIMIT_S seconds of steady state
 * (default 120) after 30 s of warm-up; AIMETER_BENCH_SKIP_LIMIT=1 skips it.
 * The fraction is what the simulator admitted in the window over limit x
 * window, for each dimension (see bench_limits); the binding limit is the
 * one with the highest. AIMETER_BENCH_SKIP_SMALL=1 skips the small-limit
 * runs; AIMETER_BENCH_SMALL_N sets their number of prompts (150).
 * Output: one line per figure, `<figure> <value> <unit>`. */
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "clock.h"
#include "ledger.h"
#include "queue.h"
#include "workfix.h"

static const am_clock *clk;

static int64_t mono(void)
{
	return am_clock_mono(clk);
}

static void die(const char *what, const am_err *err)
{
	fprintf(stderr, "bench_pipeline: %s: %s\n", what, err ? err->msg : "");
	exit(1);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static int64_t median(int64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_i64);
	return v[n / 2];
}

/* ---- events ---------------------------------------------------------------- */

typedef struct tally {
	int64_t done, failed;
	int64_t last_handle_done;
} tally;

static void count_event(void *ctx, const am_event *ev)
{
	tally *t = ctx;
	if (ev->kind == AM_EV_DONE) {
		t->done++;
		t->last_handle_done = ev->job_id;
	} else if (ev->kind == AM_EV_FAILED || ev->kind == AM_EV_CANCELLED) {
		t->failed++;
		fprintf(stderr, "bench_pipeline: job %" PRId64 " failed: %s\n", ev->job_id, ev->error);
	}
}

static am_wf start_pipeline(const char *tag, const am_sim_cfg *sc, const char *const (*keys)[2],
                            int nkeys)
{
	am_wf f;
	am_err err;
	if (am_wf_init(&f, tag, &err))
		die("set-up", &err);
	for (int i = 0; i < nkeys; i++)
		if (am_wf_set(&f, keys[i][0], keys[i][1], &err))
			die(keys[i][0], &err);
	if (am_wf_start(&f, sc, &err))
		die("start", &err);
	return f;
}

/* ---- throughput -------------------------------------------------------------- */

static void bench_throughput(int n)
{
	am_sim_cfg sc;
	am_sim_cfg_default(&sc);
	am_wf f = start_pipeline("bench-rps", &sc, NULL, 0);
	tally t = { 0, 0, 0 };
	int64_t t0 = mono();
	int submitted = 0;
	char prompt[64];
	while (t.done + t.failed < n) {
		/* Keep the queue full: submit until it says so, then drain. */
		while (submitted < n) {
			am_err err;
			snprintf(prompt, sizeof prompt, "Throughput question %d", submitted);
			if (am_wf_submit(&f, prompt, 16, false, false, &err) < 0)
				break;
			submitted++;
		}
		am_wf_pump(&f, 100, count_event, &t);
	}
	double secs = (double)(mono() - t0) / AM_NS_PER_SEC;
	printf("pipeline_requests_per_s %.0f req/s\n", (double)t.done / secs);
	if (t.failed)
		fprintf(stderr, "bench_pipeline: %" PRId64 " calls failed\n", t.failed);
	am_wf_free(&f);
}

/* ---- added latency ------------------------------------------------------------ */

typedef struct bare {
	bool done;
	int status;
} bare;

static void bare_done(void *ctx, am_prov_result *r)
{
	bare *b = ctx;
	b->done = true;
	b->status = r->err == AM_PERR_NONE ? 0 : -1;
}

static void bench_added(const char *figure, int latency_ms, int n)
{
	am_sim_cfg sc;
	am_sim_cfg_default(&sc);
	sc.latency_ms = latency_ms;
	am_wf f = start_pipeline("bench-added", &sc, NULL, 0);
	am_client_opts co;
	am_client_opts_default(&co);
	co.base_url = am_sim_url(f.sim);
	co.api_key = "sk-bench";
	am_client *c;
	am_err err;
	if (am_client_new(&c, &co, &err))
		die("client", &err);
	int64_t *bare_ns = calloc((size_t)n, sizeof *bare_ns);
	int64_t *pipe_ns = calloc((size_t)n, sizeof *pipe_ns);
	char prompt[96], body[256];
	/* Warm both paths (connections, statements, page cache), then
	 * alternate so that drift hits both alike. */
	for (int i = -20; i < n; i++) {
		snprintf(prompt, sizeof prompt, "Latency question %d", i);
		snprintf(body, sizeof body,
		         "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":16,\"messages\":[{\"role\":"
		         "\"user\",\"content\":\"Bare %s\"}]}",
		         prompt);
		bare b = { false, 0 };
		am_client_req req;
		memset(&req, 0, sizeof req);
		req.endpoint = AM_PROV_MESSAGES;
		req.body = body;
		am_client_cb cb = { NULL, NULL, bare_done, &b };
		int64_t t0 = mono();
		if (!am_client_start(c, &req, &cb, &err))
			die("client start", &err);
		while (!b.done)
			am_client_run(c, 100, NULL);
		int64_t t1 = mono();
		if (b.status)
			die("bare call failed", NULL);

		tally t = { 0, 0, 0 };
		int64_t t2 = mono();
		int64_t h = am_wf_submit(&f, prompt, 16, false, false, &err);
		if (h < 0)
			die("submit", &err);
		while (t.last_handle_done != h) {
			am_wf_pump(&f, 100, count_event, &t);
			if (t.failed)
				die("pipeline call failed", NULL);
		}
		int64_t t3 = mono();
		if (i >= 0) {
			bare_ns[i] = t1 - t0;
			pipe_ns[i] = t3 - t2;
		}
	}
	int64_t mb = median(bare_ns, n), mp = median(pipe_ns, n);
	printf("%s %.1f us\n", figure, (double)(mp - mb) / 1000.0);
	fprintf(stderr,
	        "bench_pipeline: answers after %d ms: p50 bare client %.1f us, through the worker "
	        "%.1f us\n",
	        latency_ms, (double)mb / 1000.0, (double)mp / 1000.0);
	free(bare_ns);
	free(pipe_ns);
	am_client_free(c);
	am_wf_free(&f);
}

/* ---- the commit before a call ------------------------------------------------- */

static void bench_row_commit(int n)
{
	am_wf f;
	am_err err;
	if (am_wf_init(&f, "bench-row", &err))
		die("set-up", &err);
	char path[700];
	snprintf(path, sizeof path, "%s/rows.db", f.dir);
	am_ledger *l;
	if (am_ledger_open(&l, path, NULL, &err))
		die("ledger", &err);
	am_queue_stmts *qs = am_queue_stmts_new(am_ledger_db(l));
	am_queue_stmts_source(qs, "console");
	int64_t *ns = calloc((size_t)n, sizeof *ns);
	char req[128];
	for (int i = -20; i < n; i++) {
		snprintf(req, sizeof req,
		         "{\"messages\":[{\"role\":\"user\",\"content\":\"Latency question "
		         "%d\"}],\"max_tokens\":16}",
		         i);
		int64_t t0 = mono(), id;
		if (am_ledger_begin(l, &err) ||
		    am_queue_add_in_s(qs, "bench", req, NULL, AM_JOB_IN_FLIGHT, "claude-haiku-4-5",
		                      "pinned", am_clock_wall(clk), &id, &err) ||
		    am_ledger_commit(l, &err))
			die("row", &err);
		if (i >= 0)
			ns[i] = mono() - t0;
	}
	printf("pipeline_row_commit_us_p50 %.1f us\n", (double)median(ns, n) / 1000.0);
	free(ns);
	am_queue_stmts_free(qs);
	am_ledger_close(l);
	am_wf_free(&f);
}

/* ---- limits ----------------------------------------------------------------- */

enum { RPM = 1000, ITPM = 450000, OTPM = 90000, MAX_TOKENS = 400 };

/* ~2,100 tokens by the simulator's count (bytes / 4) and distinct. */
static void big_prompt(int i, char *buf, size_t n)
{
	int len = snprintf(buf, n, "Request %d. ", i);
	static const char filler[] = "The quick brown fox jumps over the lazy dog near the bank. ";
	while ((size_t)len + sizeof filler < n && len < 8400)
		len += snprintf(buf + len, n - (size_t)len, "%s", filler);
}

typedef struct sample {
	int64_t t, req, in, out, rem_in;
} sample;

static void take_sample(am_wf *f, sample *s)
{
	am_sim_stats st;
	am_sim_get_stats(f->sim, &st);
	am_snapshot snap;
	f->ops.snapshot(f->ops.ctx, &snap);
	s->t = mono();
	s->req = st.requests;
	s->in = st.input_tokens + st.cache_write_tokens;
	s->out = st.output_tokens;
	s->rem_in = -1;
	for (int p = 0; p < snap.npools; p++)
		for (int d = 0; d < snap.pool[p].ndims; d++) {
			const am_snap_dim *sd = &snap.pool[p].dim[d];
			if (sd->has_server && !strcmp(sd->name, "ITPM"))
				s->rem_in = sd->server_remaining;
		}
}

static void bench_limits(int window_s)
{
	const int warm_s = 30;
	am_sim_cfg sc;
	am_sim_cfg_default(&sc);
	sc.rpm = RPM;
	sc.itpm = ITPM;
	sc.otpm = OTPM;
	sc.latency_ms = 400;
	sc.tokens_per_second = 80;
	sc.output_tokens = 420; /* answers of ~400 tokens: cut at max_tokens 400 */
	static const char *const keys[][2] = {
		{ "limits.rpm", "1000" },       { "limits.itpm", "450000" },
		{ "limits.otpm", "90000" },     { "limits.max_in_flight", "64" },
		{ "limits.init_fill_pct", "25" }, { "worker.concurrency", "64" },
		{ "cache.enabled", "false" },
	};
	am_wf f = start_pipeline("bench-limits", &sc, keys, (int)(sizeof keys / sizeof keys[0]));
	tally t = { 0, 0, 0 };
	static char prompt[9000];
	int submitted = 0;
	int64_t start = mono(), end = start + (int64_t)(warm_s + window_s) * AM_NS_PER_SEC;
	sample a = { 0 }, b;
	bool in_window = false;
	while (mono() < end) {
		/* A standing backlog of 200 jobs beyond those finished. */
		while (submitted - t.done - t.failed < 200) {
			am_err err;
			big_prompt(submitted, prompt, sizeof prompt);
			am_turn turn = { "user", prompt };
			am_prompt p = { &turn, 1, NULL, "claude-sonnet-4-5", MAX_TOKENS, true, true, NULL };
			int64_t id;
			if (f.ops.submit(f.ops.ctx, &p, &id, &err))
				die("submit", &err);
			submitted++;
		}
		am_wf_pump(&f, 200, count_event, &t);
		if (!in_window && mono() - start >= (int64_t)warm_s * AM_NS_PER_SEC) {
			take_sample(&f, &a);
			in_window = true;
		}
	}
	take_sample(&f, &b);
	am_sim_stats st;
	am_sim_get_stats(f.sim, &st);
	double mins = (double)(b.t - a.t) / (60.0 * AM_NS_PER_SEC);
	/* Input is counted when the server admits a call, as its bucket charges
	 * it; what its bucket gave beyond the refill (the change of its reported
	 * remaining tokens, rounded to 1,000) is taken out. Output is counted
	 * when an answer ends (no refunds here: every answer runs to
	 * max_tokens), requests when they arrive. */
	int64_t drain_in = a.rem_in >= 0 && b.rem_in >= 0 ? a.rem_in - b.rem_in : 0;
	double f_req = (double)(b.req - a.req) / (RPM * mins);
	double f_in_raw = (double)(b.in - a.in) / (ITPM * mins);
	double f_in = (double)(b.in - a.in - drain_in) / (ITPM * mins);
	double f_out = (double)(b.out - a.out) / (OTPM * mins);
	const char *binding = "ITPM";
	double frac = f_in;
	if (f_out > frac) {
		binding = "OTPM";
		frac = f_out;
	}
	if (f_req > frac) {
		binding = "RPM";
		frac = f_req;
	}
	printf("limit_fraction %.3f of %s\n", frac, binding);
	printf("limit_429s %" PRId64 " responses\n", st.rate_limited);
	fprintf(stderr,
	        "bench_pipeline: %d s window after %d s: RPM %.3f, ITPM %.3f (%.3f before taking "
	        "out %" PRId64 " tokens of the server's bucket: remaining %" PRId64 " -> %" PRId64
	        "), OTPM %.3f; %" PRId64 " done, %" PRId64 " failed, %" PRId64 " 529s\n",
	        window_s, warm_s, f_req, f_in, f_in_raw, drain_in, a.rem_in, b.rem_in, f_out, t.done,
	        t.failed, st.overloaded);
	am_wf_free(&f);
}

/* ---- small limits ------------------------------------------------------------ */

typedef struct small_size {
	const char *name;
	int64_t rpm, rpm_burst, itpm, otpm;
} small_size;

/* A prompt of 40..400 words, distinct per i. */
static void small_prompt(int i, char *buf, size_t n)
{
	static const char *const words[] = { "river", "stone", "light", "paper", "quiet",
					     "orbit", "maple", "cable", "north", "sugar" };
	uint64_t x = (uint64_t)i * 0x9E3779B97F4A7C15ULL + 1;
	x ^= x >> 29;
	int nw = 40 + (int)(x % 361);
	int len = snprintf(buf, n, "Prompt %d:", i);
	for (int w = 0; w < nw && (size_t)len + 8 < n; w++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		len += snprintf(buf + len, n - (size_t)len, " %s", words[(x >> 33) % 10]);
	}
}

static double ideal_s(int64_t admitted, int64_t cap, int64_t per_min)
{
	if (per_min <= 0 || admitted <= cap)
		return 0;
	return (double)(admitted - cap) * 60.0 / (double)per_min;
}

static void bench_small(const small_size *z, int n)
{
	am_sim_cfg sc;
	am_sim_cfg_default(&sc);
	sc.rpm = z->rpm;
	sc.rpm_burst = z->rpm_burst;
	sc.itpm = z->itpm;
	sc.otpm = z->otpm;
	sc.latency_ms = 300;
	sc.output_tokens = 70;
	char rpm[24], burst[24], itpm[24], otpm[24];
	snprintf(rpm, sizeof rpm, "%" PRId64, z->rpm);
	snprintf(burst, sizeof burst, "%" PRId64, z->rpm_burst);
	snprintf(itpm, sizeof itpm, "%" PRId64, z->itpm);
	snprintf(otpm, sizeof otpm, "%" PRId64, z->otpm);
	const char *const keys[][2] = {
		{ "limits.rpm", rpm },     { "limits.rpm_burst", burst },
		{ "limits.itpm", itpm },   { "limits.otpm", otpm },
		{ "limits.max_in_flight", "32" }, { "limits.init_fill_pct", "25" },
		{ "worker.concurrency", "32" },   { "cache.enabled", "false" },
	};
	am_wf f = start_pipeline("bench-small", &sc, keys, (int)(sizeof keys / sizeof keys[0]));
	tally t = { 0, 0, 0 };
	static char prompt[4096];
	int64_t t0 = mono();
	for (int i = 0; i < n; i++) {
		am_err err;
		small_prompt(i, prompt, sizeof prompt);
		am_turn turn = { "user", prompt };
		am_prompt p = { &turn, 1, NULL, "claude-sonnet-4-5", 128, true, false, NULL };
		int64_t id;
		if (f.ops.submit(f.ops.ctx, &p, &id, &err))
			die("submit", &err);
	}
	while (t.done + t.failed < n)
		am_wf_pump(&f, 200, count_event, &t);
	double elapsed = (double)(mono() - t0) / AM_NS_PER_SEC;
	am_sim_stats st;
	am_sim_get_stats(f.sim, &st);
	int64_t adm = st.requests - st.rate_limited - st.overloaded - st.server_errors;
	double i_req = ideal_s(adm, z->rpm_burst > 0 ? z->rpm_burst : z->rpm, z->rpm);
	double i_in = ideal_s(st.input_tokens + st.cache_write_tokens, z->itpm, z->itpm);
	double i_out = ideal_s(st.output_tokens, z->otpm, z->otpm);
	double ideal = i_req > i_in ? i_req : i_in;
	ideal = ideal > i_out ? ideal : i_out;
	printf("small_limits_ideal_pct %.1f %% (%s)\n", 100.0 * ideal / elapsed, z->name);
	printf("small_limits_429s %" PRId64 " responses (%s)\n", st.rate_limited, z->name);
	fprintf(stderr,
	        "bench_pipeline: %s: %d calls in %.1f s, ideal %.1f s (RPM %.1f, ITPM %.1f, OTPM "
	        "%.1f s: %" PRId64 " requests, %" PRId64 " in, %" PRId64 " out); %" PRId64
	        " done, %" PRId64 " failed\n",
	        z->name, n, elapsed, ideal, i_req, i_in, i_out, adm,
	        st.input_tokens + st.cache_write_tokens, st.output_tokens, t.done, t.failed);
	am_wf_free(&f);
}

int main(void)
{
	clk = am_clock_system();
	const char *e = getenv("AIMETER_BENCH_N");
	int n = e && atoi(e) > 0 ? atoi(e) : 20000;
	bench_throughput(n);
	bench_added("pipeline_added_us_p50", 0, 2000);
	bench_added("pipeline_added_1ms_us_p50", 1, 2000);
	bench_row_commit(2000);
	e = getenv("AIMETER_BENCH_SKIP_SMALL");
	if (!e || strcmp(e, "1")) {
		static const small_size sizes[] = {
			{ "tier1x", 300, 5, 60000, 6000 },
			{ "tier1", 50, 1, 30000, 8000 },
		};
		e = getenv("AIMETER_BENCH_SMALL_N");
		int sn = e && atoi(e) > 0 ? atoi(e) : 150;
		for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
			bench_small(&sizes[k], sn);
	}
	e = getenv("AIMETER_BENCH_SKIP_LIMIT");
	if (!e || strcmp(e, "1")) {
		e = getenv("AIMETER_BENCH_LIMIT_S");
		int secs = e && atoi(e) > 0 ? atoi(e) : 120;
		bench_limits(secs);
	}
	return 0;
}
