/* The worker through its transport seam: what a call's answer carries -
 * status, rate-limit headers, a stream's pieces, usage - reaches the
 * limiter, the observer and the ledger; a 429's retry-after holds the job
 * on the clock; an overloaded answer is retried after a backoff; a
 * cancelled call ends cancelled; the answers of one run are recorded in
 * one commit, and one the ledger refuses holds back only itself. The
 * calls go to a fake transport on a fake clock that only the test moves. */
#include <check.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "check_run.h"
#include "clock.h"
#include "faketp.h"
#include "ledger.h"
#include "pricing.h"
#include "queue.h"
#include "tmpdir.h"
#include "workstart.h"
#include "worker.h"

enum { MAX_EVENTS = 1024, ROUNDS = 400 };

static char dir[512], db_path[600];
static am_pricing *pricing;
static am_ft *ft;
static am_worker *worker;
static am_engine_ops ops;
static am_event evs[MAX_EVENTS];
static int nev;

static const char *const config =
        "{\"limits\": {\"rpm\": 100000, \"itpm\": 100000000, \"otpm\": 100000000},"
        " \"cache\": {\"enabled\": false}, \"budget\": {\"daily_usd\": \"10\"}}";

static void setup(void)
{
	am_err err;
	ck_assert_int_eq(am_test_tmpdir("worker_transport", dir, sizeof dir), 0);
	snprintf(db_path, sizeof db_path, "%s/ledger.db", dir);
	ck_assert_msg(am_test_pricing(&pricing, &err) == 0, "%s", err.msg);
	worker = NULL;
	ft = NULL;
	nev = 0;
}

static void teardown(void)
{
	for (int i = 0; i < nev; i++)
		am_event_free(&evs[i]);
	am_worker_stop(worker, 0);
	am_ft_free(ft);
	am_pricing_free(pricing);
	am_test_rmtree(dir);
}

static void start(am_ft_script_fn script)
{
	ft = am_ft_new(1000 * AM_NS_PER_SEC, am_clock_wall(am_clock_system()), script, NULL);
	am_ft_set_manual(ft, true);
	am_err err;
	worker = am_test_worker_ft(config, pricing, db_path, ft, "console", false, &err);
	ck_assert_msg(worker != NULL, "%s", err.msg);
	ops = am_worker_ops(worker);
}

/* Takes what the worker queued, deltas included, waiting on the wake fd. */
static void pump(void)
{
	struct pollfd p = { ops.wake_fd(ops.ctx), POLLIN, 0 };
	poll(&p, 1, 20);
	nev += ops.drain(ops.ctx, evs + nev, MAX_EVENTS - nev);
}

static int find(am_event_kind kind, int64_t job)
{
	for (int i = 0; i < nev; i++)
		if (evs[i].kind == kind && evs[i].job_id == job)
			return i;
	return -1;
}

/* Pumps until an event of kind for job arrives, moving the clock step_ns
 * a round. Returns its index, or -1 (bounded). */
static int wait_for(am_event_kind kind, int64_t job, int64_t step_ns)
{
	for (int r = 0; r < ROUNDS; r++) {
		int i = find(kind, job);
		if (i >= 0)
			return i;
		if (step_ns)
			am_ft_advance(ft, step_ns);
		pump();
	}
	return find(kind, job);
}

static int64_t submit(const char *text, bool stream)
{
	am_turn t = { "user", text };
	am_prompt p = { 0 };
	p.turns = &t;
	p.nturns = 1;
	p.stream = stream;
	p.max_tokens = 64;
	p.model = "claude-haiku-4-5";
	int64_t id = -1;
	am_err err;
	ck_assert_msg(ops.submit(ops.ctx, &p, &id, &err) == 0, "%s", err.msg);
	return id;
}

static int64_t haiku_cost(int64_t in, int64_t out)
{
	am_usage u = { .input_tokens = in, .output_tokens = out };
	int64_t cost = 0;
	ck_assert(am_cost(am_pricing_lookup(pricing, "claude-haiku-4-5"), &u, false, &cost, NULL) ==
	          0);
	return cost;
}

/* Stops the worker and reads the ledger's all-time report into *s; the
 * ledger stays open for more questions (the caller closes it). */
static am_ledger *stop_and_report(am_ledger_summary *s)
{
	am_worker_stop(worker, 0);
	worker = NULL;
	am_ledger *l;
	am_err err;
	ck_assert_msg(am_ledger_open(&l, db_path, NULL, &err) == 0, "%s", err.msg);
	ck_assert_msg(am_ledger_report(l, "2000-01-01", "2999-12-31", false, s, &err) == 0, "%s",
	              err.msg);
	return l;
}

/* ---- a stream --------------------------------------------------------- */

static void stream_in_pieces(void *ctx, const am_ft_call *call, am_ft_answer *a)
{
	(void)ctx;
	ck_assert(call->stream);
	static const char *const chunks[] = {
		"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\","
		"\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-haiku-4-5-20251001\","
		"\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":120,"
		"\"output_tokens\":1}}}\n\n",
		"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
		"\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
		"\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\n",
		/* An event split across two reads. */
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"ind",
		"ex\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"lo\"}}\n\n",
		"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
		"\"end_turn\"},\"usage\":{\"output_tokens\":42}}\n\n",
		"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
	};
	for (size_t i = 0; i < sizeof chunks / sizeof *chunks; i++)
		a->chunks[a->nchunks++] = chunks[i];
	a->headers[a->nheaders++] = "request-id: req_stream_1";
}

START_TEST(a_stream_reaches_the_observer_piece_by_piece)
{
	start(stream_in_pieces);
	int64_t job = submit("hello", true);
	int done = wait_for(AM_EV_DONE, job, 0);
	ck_assert_msg(done >= 0, "no done event");
	char text[64] = "";
	int pieces = 0;
	for (int i = 0; i < done; i++)
		if (evs[i].kind == AM_EV_DELTA && evs[i].job_id == job) {
			snprintf(text + strlen(text), sizeof text - strlen(text), "%s", evs[i].text);
			pieces++;
		}
	ck_assert_str_eq(text, "Hello");
	ck_assert_int_eq(pieces, 2);
	ck_assert_int_eq(evs[done].usage.input_tokens, 120);
	ck_assert_int_eq(evs[done].usage.output_tokens, 42);
	ck_assert_int_eq(evs[done].http_status, 200);
	ck_assert(evs[done].price_known);
	ck_assert_int_eq(evs[done].cost_pusd, haiku_cost(120, 42));

	/* The ledger row carries the answered model and the request id. */
	am_ledger_summary s;
	am_ledger *l = stop_and_report(&s);
	ck_assert_int_eq(s.nrows, 1);
	ck_assert_str_eq(s.rows[0].model, "claude-haiku-4-5-20251001");
	ck_assert_int_eq(s.rows[0].output_tokens, 42);
	am_ledger_summary_free(&s);
	am_ledger_close(l);
}
END_TEST

/* ---- a 429 ------------------------------------------------------------- */

static void limited_once(void *ctx, const am_ft_call *call, am_ft_answer *a)
{
	(void)ctx;
	if (call->n == 1) {
		a->status = 429;
		a->error_message = "Number of request tokens has exceeded your per-minute rate limit";
		a->headers[a->nheaders++] = "retry-after: 30";
	}
}

START_TEST(a_429_holds_the_job_for_its_retry_after)
{
	start(limited_once);
	int64_t job = submit("hello", false);
	int w = wait_for(AM_EV_WAITING, job, 0);
	ck_assert_msg(w >= 0, "no waiting event after the 429");
	ck_assert_msg(strstr(evs[w].text, "cool-down") && strstr(evs[w].text, "429"), "'%s'",
	              evs[w].text);
	/* 29 seconds on, the call has not gone again. */
	for (int i = 0; i < 29; i++) {
		am_ft_advance(ft, AM_NS_PER_SEC);
		pump();
	}
	ck_assert_int_eq(am_ft_started(ft), 1);
	ck_assert_int_lt(find(AM_EV_DONE, job), 0);
	int done = wait_for(AM_EV_DONE, job, AM_NS_PER_SEC);
	ck_assert_msg(done >= 0, "not done after the retry-after");
	ck_assert_int_eq(am_ft_started(ft), 2);
	ck_assert_int_lt(find(AM_EV_FAILED, job), 0);
}
END_TEST

/* ---- overloaded -------------------------------------------------------- */

static void overloaded_twice(void *ctx, const am_ft_call *call, am_ft_answer *a)
{
	(void)ctx;
	if (call->n <= 2)
		a->status = 529;
}

START_TEST(an_overloaded_call_is_retried_after_a_backoff)
{
	start(overloaded_twice);
	int64_t job = submit("hello", false);
	int w = wait_for(AM_EV_RETRY, job, 0);
	ck_assert_msg(w >= 0, "no retry event after the 529");
	ck_assert_int_eq(evs[w].attempt, 1);
	ck_assert_msg(evs[w].retry_in_ns > 0, "retry in %lld ns", (long long)evs[w].retry_in_ns);
	ck_assert_msg(evs[w].error[0], "the retry names no error");
	char line[400];
	am_event_retry_text(&evs[w], line, sizeof line);
	ck_assert_msg(strncmp(line, "retry 1 in ", 11) == 0, "'%s'", line);
	/* The backoff is on the clock: without time, no second call. */
	for (int i = 0; i < 5; i++)
		pump();
	ck_assert_int_eq(am_ft_started(ft), 1);
	int done = wait_for(AM_EV_DONE, job, 100 * AM_NS_PER_MS);
	ck_assert_msg(done >= 0, "not done after two 529s");
	ck_assert_int_eq(am_ft_started(ft), 3);
}
END_TEST

/* ---- cancel ------------------------------------------------------------ */

static void never_answers(void *ctx, const am_ft_call *call, am_ft_answer *a)
{
	(void)ctx;
	(void)call;
	a->hang = true;
}

static bool one_pending(void *arg)
{
	(void)arg;
	pump();
	return am_ft_pending(ft) == 1;
}

START_TEST(a_cancelled_call_ends_cancelled)
{
	start(never_answers);
	int64_t job = submit("hello", false);
	bool sent = false;
	for (int r = 0; r < ROUNDS && !sent; r++)
		sent = one_pending(NULL);
	ck_assert_msg(sent, "the call never went out");
	am_command c = { 0 };
	c.kind = AM_CMD_CANCEL_JOB;
	c.value = job;
	am_err err;
	ck_assert_msg(ops.command(ops.ctx, &c, &err) == 0, "%s", err.msg);
	ck_assert_msg(wait_for(AM_EV_CANCELLED, job, 0) >= 0, "no cancelled event");
	ck_assert_int_eq(am_ft_pending(ft), 0);
	am_worker_stop(worker, 0);
	worker = NULL;
	am_ledger *l;
	ck_assert_msg(am_ledger_open(&l, db_path, NULL, &err) == 0, "%s", err.msg);
	int64_t counts[AM_JOB_NSTATES];
	ck_assert_msg(am_queue_counts(am_ledger_db(l), counts, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(counts[AM_JOB_CANCELLED], 1);
	am_ledger_close(l);
}
END_TEST

/* ---- usage figures out of bounds ---------------------------------------- */

static const char *const bad_usage[] = {
	"\"input_tokens\": 10, \"output_tokens\": -5",
	"\"input_tokens\": 10, \"output_tokens\": 99999999999999",
	"\"input_tokens\": 10.5, \"output_tokens\": 5",
	"\"input_tokens\": \"10\", \"output_tokens\": 5",
	"\"input_tokens\": 10",
	"\"input_tokens\": 10, \"output_tokens\": 5, \"cache_read_input_tokens\": 9223372036854775807",
};
enum { NBAD = sizeof bad_usage / sizeof *bad_usage };

static void usage_of_call(void *ctx, const am_ft_call *call, am_ft_answer *a)
{
	(void)ctx;
	static char body[512];
	const char *u = call->n <= NBAD ? bad_usage[call->n - 1]
	                                : "\"input_tokens\": 10, \"output_tokens\": 5";
	snprintf(body, sizeof body,
	         "{\"type\": \"message\", \"id\": \"msg\", \"model\": \"claude-haiku-4-5-20251001\","
	         " \"content\": [{\"type\": \"text\", \"text\": \"ok\"}], \"stop_reason\":"
	         " \"end_turn\", \"usage\": {%s}}",
	         u);
	a->body = body;
}

/* A usage figure that is negative, huge, a float, a string or missing is
 * not trusted: the answer is recorded with the usage its reservation
 * assumed (64 output tokens here), its price not claimed as known, the
 * ledger row and the observer saying why; the limiter carries no debt
 * from it, so the next call goes at once. Before, such figures were
 * recorded as 0 tokens at $0, exact, or as a debt of 10^14 tokens. */
START_TEST(suspect_usage_is_never_exact)
{
	start(usage_of_call);
	for (int i = 0; i <= NBAD; i++) {
		int64_t job = submit("hello", false);
		int k = wait_for(AM_EV_DONE, job, 0);
		ck_assert_msg(k >= 0, "call %d: no answer", i + 1);
		const am_event *ev = &evs[k];
		if (i == NBAD) {
			ck_assert(ev->price_known);
			ck_assert_str_eq(ev->error, "");
			ck_assert_int_eq(ev->usage.output_tokens, 5);
			break;
		}
		ck_assert_msg(!ev->price_known, "call %d (%s) shown as exact", i + 1, bad_usage[i]);
		ck_assert_msg(strstr(ev->error, "suspect usage"), "call %d: '%s'", i + 1, ev->error);
		ck_assert_int_eq(ev->usage.output_tokens, 64);
		ck_assert_int_eq(ev->usage.cache_read, 0);
		ck_assert_int_gt(ev->cost_pusd, 0);
	}
	am_worker_stop(worker, 0);
	worker = NULL;
	am_ledger *l;
	am_err err;
	ck_assert_msg(am_ledger_open(&l, db_path, NULL, &err) == 0, "%s", err.msg);
	sqlite3_stmt *st;
	ck_assert_int_eq(sqlite3_prepare_v2(am_ledger_db(l),
	                                    "SELECT count(*), sum(output_tokens = 64), "
	                                    "sum(error LIKE 'suspect usage from the server: %'), "
	                                    "sum(cost_pusd IS NULL) FROM usage_events "
	                                    "WHERE price_known = 0",
	                                    -1, &st, NULL),
	                 SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	for (int c = 0; c < 4; c++)
		ck_assert_int_eq(sqlite3_column_int64(st, c), NBAD);
	sqlite3_finalize(st);
	am_ledger_close(l);
}
END_TEST

/* ---- a stream cut short ------------------------------------------------ */

#define CUT_START                                                                          \
	"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_c\","  \
	"\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-haiku-4-5-20251001\","   \
	"\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":1000,"                 \
	"\"output_tokens\":1}}}\n\n"
#define CUT_DELTA(t)                                                                       \
	"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"      \
	"\"delta\":{\"type\":\"text_delta\",\"text\":\"" t "\"}}\n\n"

/* message_start, then 20 bytes of text, then the connection ends. */
static void cut_after_start(void *ctx, const am_ft_call *call, am_ft_answer *a)
{
	(void)ctx;
	(void)call;
	a->chunks[a->nchunks++] = CUT_START;
	a->chunks[a->nchunks++] =
	        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
	        "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n";
	a->chunks[a->nchunks++] = CUT_DELTA("Hello, wor");
	a->chunks[a->nchunks++] = CUT_DELTA("ld! Hi th");
	a->chunks[a->nchunks++] = "event: content_block_delta\ndata: {\"type\":\"cont";
}

/* The same, with a cumulative usage report in between that counts more
 * output than the text shows. */
static void cut_after_usage(void *ctx, const am_ft_call *call, am_ft_answer *a)
{
	(void)ctx;
	(void)call;
	a->chunks[a->nchunks++] = CUT_START;
	a->chunks[a->nchunks++] = CUT_DELTA("Hello");
	a->chunks[a->nchunks++] = "event: message_delta\ndata: {\"type\":\"message_delta\","
	                          "\"delta\":{},\"usage\":{\"output_tokens\":30}}\n\n";
}

/* The connection ends before message_start: nothing was billed. */
static void cut_before_start(void *ctx, const am_ft_call *call, am_ft_answer *a)
{
	(void)ctx;
	(void)call;
	a->chunks[a->nchunks++] = ": a comment\n\nevent: ping\ndata: {\"type\":\"ping\"}\n\n";
}

/* Sends one stream that script cuts after message_start; returns the index
 * of its done event, which says it is estimated and why (*job: its handle). */
static int cut_stream(am_ft_script_fn script, int64_t *job)
{
	start(script);
	int64_t h = submit("hello", true);
	int done = wait_for(AM_EV_DONE, h, 0);
	ck_assert_msg(done >= 0, "no done event for the cut stream");
	ck_assert(evs[done].estimated);
	ck_assert_msg(strstr(evs[done].error, "cut off"), "'%s'", evs[done].error);
	if (job)
		*job = h;
	return done;
}

/* Stops the worker: the ledger holds one row, estimated, and its job failed. */
static void only_row(am_ledger_summary *s)
{
	am_ledger *l = stop_and_report(s);
	am_err err;
	sqlite3_stmt *st;
	ck_assert_int_eq(sqlite3_prepare_v2(am_ledger_db(l),
	                                    "SELECT count(*), sum(estimated) FROM usage_events", -1,
	                                    &st, NULL),
	                 SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(st, 0), 1);
	ck_assert_int_eq(sqlite3_column_int(st, 1), 1);
	sqlite3_finalize(st);
	int64_t counts[AM_JOB_NSTATES];
	ck_assert_msg(am_queue_counts(am_ledger_db(l), counts, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(counts[AM_JOB_FAILED], 1);
	ck_assert_int_eq(counts[AM_JOB_QUEUED] + counts[AM_JOB_IN_FLIGHT], 0);
	am_ledger_close(l);
}

/* A stream cut after message_start is billed: it is recorded once, as
 * estimated - the input message_start reported, the output counted from the
 * text that arrived (19 bytes: 7 tokens at 3 bytes a token, rounded up) -
 * priced as usual, and counted against the budget; it is not sent again. */
START_TEST(a_stream_cut_after_message_start_is_recorded_as_estimated)
{
	int64_t job;
	int done = cut_stream(cut_after_start, &job);
	ck_assert_int_eq(evs[done].usage.input_tokens, 1000);
	ck_assert_int_eq(evs[done].usage.output_tokens, 7);
	int64_t cost = haiku_cost(1000, 7);
	ck_assert_int_eq(evs[done].cost_pusd, cost);
	ck_assert_int_lt(find(AM_EV_RETRY, job), 0);
	am_snapshot snap;
	for (int r = 0; r < ROUNDS; r++) {
		ops.snapshot(ops.ctx, &snap);
		if (snap.budget.day_spent_pusd == cost && snap.total.estimated == 1)
			break;
		am_ft_advance(ft, 100 * AM_NS_PER_MS);
		pump();
	}
	ck_assert_int_eq(snap.budget.day_spent_pusd, cost);
	ck_assert_int_eq(snap.budget.reserved_pusd, 0);
	ck_assert_int_eq(snap.total.estimated, 1);
	ck_assert_int_eq(am_ft_started(ft), 1);
	am_ledger_summary s;
	only_row(&s);
	ck_assert_int_eq(s.total.input_tokens, 1000);
	ck_assert_int_eq(s.total.output_tokens, 7);
	ck_assert_int_eq(s.total.cost_pusd, cost);
	ck_assert_int_eq(s.total.estimated, 1);
	am_ledger_summary_free(&s);
}
END_TEST

/* The last cumulative output count wins over the text's estimate when it
 * is larger. */
START_TEST(a_cut_stream_keeps_the_last_reported_output)
{
	int done = cut_stream(cut_after_usage, NULL);
	ck_assert_int_eq(evs[done].usage.output_tokens, 30);
	ck_assert_int_eq(evs[done].cost_pusd, haiku_cost(1000, 30));
	am_ledger_summary s;
	only_row(&s);
	am_ledger_summary_free(&s);
}
END_TEST

/* Cut before message_start: no charge is recorded (the call is retried,
 * and fails in the end like any broken call). */
START_TEST(a_stream_cut_before_message_start_records_nothing)
{
	start(cut_before_start);
	int64_t job = submit("hello", true);
	int failed = wait_for(AM_EV_FAILED, job, 100 * AM_NS_PER_MS);
	ck_assert_msg(failed >= 0, "no failed event");
	ck_assert_int_lt(find(AM_EV_DONE, job), 0);
	am_ledger_summary s;
	am_ledger *l = stop_and_report(&s);
	ck_assert_int_eq(s.nrows, 0);
	ck_assert_int_eq(s.total.cost_pusd, 0);
	am_ledger_summary_free(&s);
	am_ledger_close(l);
}
END_TEST

/* ---- a run of answers ------------------------------------------------- */

enum { NRUN = 8 };

static void answer_in_1ms(void *ctx, const am_ft_call *call, am_ft_answer *a)
{
	(void)ctx;
	(void)call;
	a->latency_ns = AM_NS_PER_MS;
}

/* Submits NRUN prompts and waits until all their calls are on the wire. */
static void all_in_flight(int64_t *jobs)
{
	for (int i = 0; i < NRUN; i++) {
		char text[32];
		snprintf(text, sizeof text, "question %d", i);
		jobs[i] = submit(text, false);
	}
	for (int r = 0; r < ROUNDS && am_ft_pending(ft) < NRUN; r++)
		pump();
	ck_assert_int_eq(am_ft_pending(ft), NRUN);
	for (int r = 0; r < 3; r++) /* the pass that sent them ends */
		pump();
}

static sqlite3 *open_db(void)
{
	sqlite3 *db;
	ck_assert_int_eq(sqlite3_open(db_path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	/* A first read: until then the connection has not seen the log. */
	ck_assert_int_eq(sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL),
	                 SQLITE_OK);
	return db;
}

/* The frames in the ledger's log (the pages written, one per page a commit
 * changed), read by a second connection. */
static int wal_frames(sqlite3 *db)
{
	int frames = -1, done = -1;
	ck_assert_int_eq(sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &frames,
	                                           &done),
	                 SQLITE_OK);
	return frames;
}

static void exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK, "%s: %s", sql,
	              msg ? msg : "");
}

/* Stops the worker: each of the NRUN jobs has one ledger row, at its
 * exact cost, and is done. */
static void each_recorded_once(void)
{
	am_ledger_summary s;
	am_ledger *l = stop_and_report(&s);
	ck_assert_int_eq(s.total.requests, NRUN);
	ck_assert_int_eq(s.total.cost_pusd, NRUN * haiku_cost(10, 5));
	int64_t counts[AM_JOB_NSTATES];
	am_err err;
	ck_assert_msg(am_queue_counts(am_ledger_db(l), counts, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(counts[AM_JOB_DONE], NRUN);
	am_ledger_summary_free(&s);
	am_ledger_close(l);
}

/* Answers that come back in one run of the transport are recorded in one
 * commit: the pages their rows share (the ledger's last page, its time
 * index, the day's totals) are written once, not once per answer. Each
 * job still has its own row at its exact cost, and is done. A reader
 * holds its snapshot meanwhile, so the log only grows and its frames
 * count what was written. */
START_TEST(answers_of_one_run_share_one_commit)
{
	start(answer_in_1ms);
	int64_t jobs[NRUN];
	all_in_flight(jobs);
	sqlite3 *reader = open_db(), *db = open_db();
	exec(reader, "BEGIN; SELECT count(*) FROM usage_events;");
	int before = wal_frames(db);
	am_ft_advance(ft, AM_NS_PER_MS);
	for (int i = 0; i < NRUN; i++)
		ck_assert_msg(wait_for(AM_EV_DONE, jobs[i], 0) >= 0, "job %d not done", i);
	for (int r = 0; r < 5; r++) /* and the jobs' states after the answers */
		pump();
	int written = wal_frames(db) - before;
	exec(reader, "COMMIT");
	sqlite3_close(reader);
	sqlite3_close(db);
	/* One commit per answer wrote 4 pages each (32 here) before the
	 * states; one for all writes the shared pages once. */
	ck_assert_msg(written > 0 && written <= 2 * NRUN, "%d pages written for %d answers",
	              written, NRUN);
	each_recorded_once();
}
END_TEST

static bool ledger_notice(void)
{
	for (int i = 0; i < nev; i++)
		if (evs[i].kind == AM_EV_NOTICE && evs[i].text && strstr(evs[i].text, "ledger:"))
			return true;
	return false;
}

/* A run of answers the ledger cannot take (another process holds its
 * write lock past the busy timeout) is held together, and no observer
 * hears of an answer before its row is committed. (One commit for each
 * answer waited out the busy timeout once per answer: 40 s here.) Once
 * the ledger is free and the retry is due, each answer is recorded once. */
START_TEST(a_run_of_answers_waits_for_a_locked_ledger_together)
{
	start(answer_in_1ms);
	int64_t jobs[NRUN];
	all_in_flight(jobs);
	sqlite3 *db = open_db();
	exec(db, "BEGIN IMMEDIATE");
	am_ft_advance(ft, AM_NS_PER_MS);
	for (int r = 0; r < ROUNDS && am_ft_pending(ft) > 0; r++)
		pump();
	ck_assert_int_eq(am_ft_pending(ft), 0);
	/* The worker waits out the busy timeout (5 s) once, then goes on. */
	for (int r = 0; r < 400 && !ledger_notice(); r++)
		pump();
	ck_assert_msg(ledger_notice(), "no notice that the ledger cannot be written");
	for (int i = 0; i < NRUN; i++)
		ck_assert_msg(find(AM_EV_DONE, jobs[i]) < 0, "job %d done before its row", i);
	exec(db, "ROLLBACK");
	sqlite3_close(db);
	for (int i = 0; i < NRUN; i++)
		ck_assert_msg(wait_for(AM_EV_DONE, jobs[i], 200 * AM_NS_PER_MS) >= 0,
		              "job %d never done", i);
	each_recorded_once();
}
END_TEST

static void third_is_refused(void *ctx, const am_ft_call *call, am_ft_answer *a)
{
	(void)ctx;
	a->latency_ns = AM_NS_PER_MS;
	a->headers[a->nheaders++] = call->n == 3 ? "request-id: req_refused" : "request-id: req_ok";
}

/* One answer of a run whose row the ledger refuses (a trigger the test
 * adds stands for any statement that fails while the ledger can still be
 * written): the others are recorded and told, each once; it alone waits,
 * and is recorded when the ledger takes it. */
START_TEST(an_answer_the_ledger_refuses_holds_back_only_itself)
{
	start(third_is_refused);
	int64_t jobs[NRUN];
	all_in_flight(jobs);
	sqlite3 *db = open_db();
	exec(db, "CREATE TRIGGER refuse BEFORE INSERT ON usage_events"
	         " WHEN NEW.request_id = 'req_refused' BEGIN SELECT RAISE(ABORT, 'refused'); END");
	am_ft_advance(ft, AM_NS_PER_MS);
	for (int i = 0; i < NRUN; i++)
		if (i != 2)
			ck_assert_msg(wait_for(AM_EV_DONE, jobs[i], 0) >= 0, "job %d not done", i);
	ck_assert_msg(find(AM_EV_DONE, jobs[2]) < 0, "the refused answer was told");
	ck_assert(ledger_notice());
	exec(db, "DROP TRIGGER refuse");
	sqlite3_close(db);
	ck_assert_msg(wait_for(AM_EV_DONE, jobs[2], 200 * AM_NS_PER_MS) >= 0,
	              "the refused answer was never recorded");
	each_recorded_once();
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("worker_transport");
	TCase *tc = tcase_create("transport");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, a_stream_reaches_the_observer_piece_by_piece);
	tcase_add_test(tc, a_429_holds_the_job_for_its_retry_after);
	tcase_add_test(tc, an_overloaded_call_is_retried_after_a_backoff);
	tcase_add_test(tc, a_cancelled_call_ends_cancelled);
	tcase_add_test(tc, suspect_usage_is_never_exact);
	tcase_add_test(tc, a_stream_cut_after_message_start_is_recorded_as_estimated);
	tcase_add_test(tc, a_cut_stream_keeps_the_last_reported_output);
	tcase_add_test(tc, a_stream_cut_before_message_start_records_nothing);
	tcase_add_test(tc, answers_of_one_run_share_one_commit);
	tcase_add_test(tc, a_run_of_answers_waits_for_a_locked_ledger_together);
	tcase_add_test(tc, an_answer_the_ledger_refuses_holds_back_only_itself);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(suite());
}
