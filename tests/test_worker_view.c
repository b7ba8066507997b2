/* What the pipeline shows its observer (the dashboard): the pools worth a
 * place on the screen, what waiting jobs wait for, the burn rate and
 * today's table rebuilt from the ledger at start, jobs left by an earlier
 * run, and prompt submission racing the worker.
 *
 * Each test runs the real worker with a ledger in a private directory; its
 * calls go to a fake transport on a fake clock that only the test moves
 * (what a waiting job hears stays put). Waits are for the worker's events,
 * bounded. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "check_run.h"
#include "clock.h"
#include "config.h"
#include "faketp.h"
#include "ledger.h"
#include "money.h"
#include "pricing.h"
#include "queue.h"
#include "tmpdir.h"
#include "workstart.h"
#include "worker.h"

#define USD AM_PUSD_PER_USD
enum { WAIT_MS = 15000 };

static char dir[512], db_path[600];
static am_pricing *pricing;
static am_ft *ft;
static am_worker *worker;
static am_engine_ops ops;
static am_test_obs obs; /* its events drained, not asked for yet */

static void setup(void)
{
	am_err err;
	ck_assert_int_eq(am_test_tmpdir("worker_view", dir, sizeof dir), 0);
	snprintf(db_path, sizeof db_path, "%s/ledger.db", dir);
	ck_assert_msg(am_test_pricing(&pricing, &err) == 0, "%s", err.msg);
	ft = am_ft_new(1000 * AM_NS_PER_SEC, am_clock_wall(am_clock_system()), NULL, NULL);
	am_ft_set_manual(ft, true);
	worker = NULL;
}

static void teardown(void)
{
	am_test_obs_clear(&obs);
	am_worker_stop(worker, 0);
	am_ft_free(ft);
	am_pricing_free(pricing);
	am_test_rmtree(dir);
}

/* Starts the worker on `json` (a config file's text) as the dashboard does. */
static void start(const char *json)
{
	am_err err;
	worker = am_test_worker_ft(json, pricing, db_path, ft, "console", true, &err);
	ck_assert_msg(worker != NULL, "%s", err.msg);
	ops = am_worker_ops(worker);
	obs.ops = ops;
	obs.wait_ms = WAIT_MS;
	obs.ft = ft;
	obs.step_ns = 100 * AM_NS_PER_MS; /* a snapshot period */
}

static bool wait_snap(am_snapshot *s, bool (*pred)(const am_snapshot *, const void *),
                      const void *arg)
{
	return am_test_wait_snap(&obs, s, pred, arg);
}

static bool wait_event(am_event_kind kind, int64_t job, const char *text, am_event *out)
{
	return am_test_wait_event(&obs, kind, job, text, out);
}

static int64_t submit(const char *text)
{
	am_turn t = { "user", text };
	am_prompt p = { 0 };
	p.turns = &t;
	p.nturns = 1;
	p.stream = true;
	int64_t id = -1;
	am_err err;
	ck_assert_msg(ops.submit(ops.ctx, &p, &id, &err) == 0, "%s", err.msg);
	return id;
}

static void command(am_cmd_kind kind, const char *text)
{
	am_command c = { 0 };
	c.kind = kind;
	snprintf(c.text, sizeof c.text, "%s", text ? text : "");
	am_err err;
	ck_assert_msg(ops.command(ops.ctx, &c, &err) == 0, "%s", err.msg);
}

static bool pool_names_are(const am_snapshot *s, const void *arg)
{
	/* arg: "a,b,c" in order */
	char want[128];
	snprintf(want, sizeof want, "%s", (const char *)arg);
	int i = 0;
	for (char *tok = strtok(want, ","); tok; tok = strtok(NULL, ","), i++)
		if (i >= s->npools || strcmp(s->pool[i].name, tok))
			return false;
	return i == s->npools;
}

static bool model_mode_is(const am_snapshot *s, const void *arg)
{
	return !strcmp(s->model_mode, arg);
}

static const char *pool_list(const am_snapshot *s)
{
	static char buf[256];
	buf[0] = '\0';
	for (int i = 0; i < s->npools; i++)
		snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", i ? "," : "",
		         s->pool[i].name);
	return buf;
}

/* A price table names many pools; the screen gets those of the selector's
 * models and those with traffic, most active first. */
START_TEST(pools_follow_the_selector_and_traffic)
{
	am_snapshot s;
	start("{}");
	ck_assert_msg(wait_snap(&s, pool_names_are, "haiku-4-5,sonnet-4,opus-4"),
	              "auto: the rules' pools, got %s", pool_list(&s));

	command(AM_CMD_SET_MODEL, "claude-opus-4-5");
	ck_assert(wait_snap(&s, model_mode_is, "claude-opus-4-5"));
	ck_assert_msg(pool_names_are(&s, "opus-4"), "pinned: got %s", pool_list(&s));

	int64_t job = submit("hello");
	ck_assert(wait_event(AM_EV_DONE, job, NULL, NULL));
	command(AM_CMD_SET_MODEL, "auto");
	ck_assert_msg(wait_snap(&s, pool_names_are, "opus-4,haiku-4-5,sonnet-4"),
	              "the pool with today's call first, got %s", pool_list(&s));
}
END_TEST

static bool three_wait(const am_snapshot *s, const void *arg)
{
	(void)arg;
	return s->waiting_limit >= 3;
}

/* With too little OTPM for one call, the head of the queue hears the
 * dimension and its time to go; the jobs behind it that they are in line. */
START_TEST(waiting_jobs_hear_what_they_wait_for)
{
	/* 25% of 3,000 OTPM is in the bucket at start; a call reserves 1,024. */
	start("{\"limits\": {\"otpm\": 3000, \"learn_from_headers\": false}}");
	int64_t a = submit("first"), b = submit("second"), c = submit("third");
	am_event ev;
	ck_assert(wait_event(AM_EV_WAITING, a, NULL, &ev));
	ck_assert_msg(!strncmp(ev.error, "OTPM ", 5) && ev.error[strlen(ev.error) - 1] == 's' &&
	                  strspn(ev.error + 5, "0123456789.") == strlen(ev.error) - 6,
	              "head: '%s'", ev.error);
	ck_assert(wait_event(AM_EV_WAITING, b, "OTPM, in line", NULL));
	ck_assert(wait_event(AM_EV_WAITING, c, "OTPM, in line", NULL));
	am_snapshot s;
	ck_assert_msg(wait_snap(&s, three_wait, NULL), "waiting_limit %d", s.waiting_limit);
}
END_TEST

static bool has_models(const am_snapshot *s, const void *arg)
{
	(void)arg;
	return s->nmodels > 0;
}

/* After a restart the sparkline, the burn rate and today's table start
 * from the ledger; a dated id and its alias are one row. */
START_TEST(burn_and_today_come_from_the_ledger)
{
	am_ledger *l;
	am_err err;
	ck_assert_msg(am_ledger_open(&l, db_path, &(am_ledger_opts){ 0 }, &err) == 0, "%s",
	              err.msg);
	int64_t now = am_clock_wall(am_clock_system());
	const char *models[2] = { "claude-haiku-4-5", "claude-haiku-4-5-20251001" };
	for (int i = 0; i < 2; i++) {
		am_ledger_event ev = { 0 };
		ev.job_id = 0;
		ev.ts_ns = now - (2 - i) * AM_NS_PER_SEC;
		ev.model = models[i];
		ev.usage.input_tokens = 10;
		ev.usage.output_tokens = 20;
		ev.price_known = true;
		ev.cost_pusd = (i + 1) * USD;
		ev.source = "console";
		ck_assert_int_eq(am_ledger_record(l, &ev, &err), 1);
	}
	am_ledger_close(l);

	start("{}");
	am_snapshot s;
	ck_assert(wait_snap(&s, has_models, NULL));
	ck_assert_int_eq(s.nmodels, 1);
	ck_assert_int_eq(s.model[0].requests, 2);
	ck_assert_int_eq(s.model[0].cost_pusd, 3 * USD);
	ck_assert_int_eq(s.budget.day_spent_pusd, 3 * USD);
	int64_t spark = 0;
	for (int i = 0; i < AM_SNAP_SPARK; i++)
		spark += s.budget.spend_per_min[i];
	ck_assert_int_eq(spark, 3 * USD);
	ck_assert_int_eq(s.budget.burn_pusd_per_hour, 12 * USD); /* 15 minutes × 4 */
	/* The pool of that model has traffic today: it leads. */
	ck_assert_str_eq(s.pool[0].name, "haiku-4-5");
}
END_TEST

/* A call whose price was unknown counts against today's budget after a
 * restart as it did while running: at the dearest known model's price. */
START_TEST(unknown_prices_count_after_a_restart)
{
	am_ledger *l;
	am_err err;
	ck_assert_msg(am_ledger_open(&l, db_path, &(am_ledger_opts){ 0 }, &err) == 0, "%s",
	              err.msg);
	am_ledger_event ev = { 0 };
	ev.ts_ns = am_clock_wall(am_clock_system()) - AM_NS_PER_SEC;
	ev.model = "claude-nobody-knows-1";
	ev.usage.input_tokens = 1000000;
	ev.usage.output_tokens = 1000;
	ev.price_known = false;
	ev.source = "record";
	ck_assert_int_eq(am_ledger_record(l, &ev, &err), 1);
	ev.ts_ns += 1;
	ev.model = "claude-haiku-4-5";
	ev.usage.input_tokens = 10;
	ev.usage.output_tokens = 20;
	ev.price_known = true;
	ev.cost_pusd = USD;
	ck_assert_int_eq(am_ledger_record(l, &ev, &err), 1);
	am_ledger_close(l);

	am_usage u = { .input_tokens = 1000000, .output_tokens = 1000 };
	int64_t dear = 0;
	ck_assert(am_cost(am_pricing_most_expensive(pricing), &u, false, &dear, NULL) == 0);
	ck_assert_int_gt(dear, USD);

	start("{}");
	am_snapshot s;
	ck_assert(wait_snap(&s, has_models, NULL));
	ck_assert_int_eq(s.budget.day_spent_pusd, USD + dear);
	ck_assert_int_eq(s.budget.month_spent_pusd, USD + dear);
}
END_TEST

static bool two_requests(const am_snapshot *s, const void *arg)
{
	(void)arg;
	return s->nmodels > 0 && s->model[0].requests >= 2;
}

/* A dated id and its alias share a row of today's table, whose sums the
 * ledger's own per-model checks do not cover: a sum that would leave int64
 * stays at its largest value and the row no longer claims an exact cost
 * (it never wraps around to a negative count). The second row is written
 * by another process the way an older aimeter could. */
START_TEST(today_sums_never_wrap)
{
	am_ledger *l;
	am_err err;
	ck_assert_msg(am_ledger_open(&l, db_path, &(am_ledger_opts){ 0 }, &err) == 0, "%s",
	              err.msg);
	int64_t now = am_clock_wall(am_clock_system());
	am_ledger_event ev = { 0 };
	ev.ts_ns = now - AM_NS_PER_SEC;
	ev.model = "claude-haiku-4-5";
	ev.usage.input_tokens = INT64_MAX - 5;
	ev.price_known = true;
	ev.cost_pusd = USD;
	ev.source = "record";
	ck_assert_int_eq(am_ledger_record(l, &ev, &err), 1);

	start("{}");
	am_snapshot s;
	ck_assert(wait_snap(&s, has_models, NULL));
	ck_assert(s.model[0].price_known);
	char day[AM_LEDGER_DAY_LEN], sql[512];
	ck_assert_int_eq(am_ledger_day(now, day, &err), 0);
	snprintf(sql, sizeof sql,
	         "INSERT INTO usage_events(ts_ns, day, model, input_tokens, cost_pusd, price_known,"
	         " source) VALUES(%lld, '%s', 'claude-haiku-4-5-20251001', 10, 1, 1, 'record')",
	         (long long)now, day);
	ck_assert_int_eq(sqlite3_exec(am_ledger_db(l), sql, NULL, NULL, NULL), SQLITE_OK);
	am_ledger_close(l);
	ck_assert_msg(wait_snap(&s, two_requests, NULL), "the other row was not counted");
	ck_assert_int_eq(s.nmodels, 1);
	ck_assert_int_eq(s.model[0].input, INT64_MAX);
	ck_assert(!s.model[0].price_known);
}
END_TEST

static bool quiet(void *w)
{
	return am_worker_quiet(w, NULL);
}

/* Never send what cannot be recorded: with the ledger unable to grow (a
 * full disk, here a file size limit just above the log's present size) a
 * new prompt's call does not go out, the worker says why, and the call
 * goes once the ledger takes writes again. */
START_TEST(a_call_waits_until_its_row_is_written)
{
	start("{\"limits\": {\"rpm\": 0, \"itpm\": 0, \"otpm\": 0}}");
	int64_t first = submit("first");
	ck_assert(wait_event(AM_EV_DONE, first, NULL, NULL));
	ck_assert_int_eq(am_ft_started(ft), 1);
	/* Everything of the first call written: only the new row needs room. */
	ck_assert(am_test_wait_for(&obs, quiet, worker));

	char wal[620];
	snprintf(wal, sizeof wal, "%s-wal", db_path);
	struct stat st;
	ck_assert_int_eq(stat(wal, &st), 0);
	struct rlimit was, full = { 0, 0 };
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &was), 0);
	full.rlim_cur = (rlim_t)st.st_size;
	full.rlim_max = was.rlim_max;
	signal(SIGXFSZ, SIG_IGN);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &full), 0);

	int64_t second = submit("second");
	am_event ev;
	bool told = wait_event(AM_EV_NOTICE, 0, "no new calls until it can be written", &ev);
	int64_t started = am_ft_started(ft);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &was), 0);
	ck_assert_msg(told, "no word that the ledger cannot be written");
	ck_assert_msg(started == 1, "%lld calls sent before the job had a row", (long long)started);
	ck_assert(wait_event(AM_EV_DONE, second, NULL, NULL));
	ck_assert_int_eq(am_ft_started(ft), 2);
}
END_TEST

/* The server answers a call for the alias with its dated id and a long
 * answer: $0.005 at Haiku 4.5's price. */
static void dated_long_answer(void *ctx, const am_ft_call *call, am_ft_answer *a)
{
	(void)ctx;
	(void)call;
	a->model = "claude-haiku-4-5-20251001";
	a->output_tokens = 1000;
}

static int64_t query(const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	ck_assert_int_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* An override that prices the alias at zero (and so detaches it from its
 * dated id, which keeps its price): the calls are still reserved at the
 * dearest price they may be billed at and charged at that same price, so
 * the day's spend stays under the cap and the rest is blocked. Reserving
 * at the alias's zero let every call through. */
START_TEST(an_alias_priced_at_zero_keeps_the_cap)
{
	am_err err;
	char ovr[640];
	snprintf(ovr, sizeof ovr, "%s/pricing.json", dir);
	FILE *f = fopen(ovr, "w");
	ck_assert_ptr_nonnull(f);
	fputs("{\"version\": 1, \"models\": {\"claude-haiku-4-5\": {\"input\": \"0\", "
	      "\"output\": \"0\", \"cache_write_5m\": \"0\", \"cache_write_1h\": \"0\", "
	      "\"cache_read\": \"0\"}}}\n", f);
	fclose(f);
	am_pricing_free(pricing);
	ck_assert_msg(am_pricing_load(&pricing, am_pricing_default_path(), ovr, &err) == 0, "%s",
	              err.msg);
	ck_assert_int_eq(am_pricing_lookup(pricing, "claude-haiku-4-5")->output, 0);
	am_ft_free(ft);
	ft = am_ft_new(1000 * AM_NS_PER_SEC, am_clock_wall(am_clock_system()), dated_long_answer,
	               NULL);
	am_ft_set_manual(ft, true);
	start("{\"limits\": {\"rpm\": 0, \"itpm\": 0, \"otpm\": 0}, \"cache\": {\"enabled\": "
	      "false}, \"budget\": {\"daily_usd\": \"0.012\"}, \"selector\": {\"model\": "
	      "\"claude-haiku-4-5\"}}");
	for (int i = 0; i < 5; i++) {
		char text[16];
		snprintf(text, sizeof text, "prompt %d", i);
		submit(text);
	}
	ck_assert(am_test_wait_for(&obs, quiet, worker));
	int64_t spent = query("SELECT coalesce(sum(cost_pusd), 0) FROM usage_events");
	int64_t blocked = query("SELECT count(*) FROM jobs WHERE state = 'blocked_budget'");
	ck_assert_msg(spent <= 12 * USD / 1000, "spent %lld pUSD over a cap of $0.012",
	              (long long)spent);
	ck_assert_int_eq(query("SELECT count(*) FROM usage_events"), 2);
	ck_assert_int_eq(spent, 2 * (10 * 1000000LL + 1000 * 5000000LL)); /* the dated id's price */
	ck_assert_int_eq(blocked, 3);
}
END_TEST

/* A trigger of the test's own that refuses to move a job's row to
 * in_flight by an update. */
static void refuse_in_flight_updates(void)
{
	am_ledger *l;
	am_err err;
	ck_assert_msg(am_ledger_open(&l, db_path, &(am_ledger_opts){ 0 }, &err) == 0, "%s",
	              err.msg);
	ck_assert_int_eq(sqlite3_exec(am_ledger_db(l),
	                              "CREATE TRIGGER no_flight BEFORE UPDATE OF state ON jobs "
	                              "WHEN NEW.state = 'in_flight' BEGIN "
	                              "SELECT RAISE(ABORT, 'in_flight refused'); END",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	am_ledger_close(l);
}

static void hanging_answer(void *ctx, const am_ft_call *call, am_ft_answer *a)
{
	(void)ctx;
	(void)call;
	a->hang = true;
}

/* A progress state the ledger refuses fails the commit it was in, which
 * says so: it is never committed without it, the result of the write
 * unread. The job has a row from an earlier run, so its in_flight is an
 * update of that row (a new prompt's row is written in flight). */
START_TEST(a_refused_state_fails_its_commit)
{
	am_ledger *l;
	am_err err;
	ck_assert(am_ledger_open(&l, db_path, &(am_ledger_opts){ 0 }, &err) == 0);
	int64_t id = 0;
	ck_assert_msg(am_queue_add(am_ledger_db(l), NULL, NULL,
	                           "{\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}",
	                           NULL, 0, am_clock_wall(am_clock_system()), &id, NULL, &err) == 0,
	              "%s", err.msg);
	am_ledger_close(l);
	refuse_in_flight_updates();
	am_ft_free(ft); /* a call that stays in flight: its state is written meanwhile */
	ft = am_ft_new(1000 * AM_NS_PER_SEC, am_clock_wall(am_clock_system()), hanging_answer, NULL);
	am_ft_set_manual(ft, true);
	start("{\"limits\": {\"rpm\": 0, \"itpm\": 0, \"otpm\": 0}}");
	ck_assert_msg(wait_event(AM_EV_NOTICE, 0, "in_flight refused", NULL),
	              "the refused state was not reported");
}
END_TEST

/* A new prompt's row is written in the state it has reached, with its
 * model, by the one commit that lets its call go: no update of its state
 * follows the send (here any would be refused, and said). */
START_TEST(a_new_row_is_written_in_flight)
{
	refuse_in_flight_updates();
	start("{\"limits\": {\"rpm\": 0, \"itpm\": 0, \"otpm\": 0}, \"selector\": "
	      "{\"model\": \"claude-haiku-4-5\"}}");
	int64_t h = submit("hello");
	ck_assert(wait_event(AM_EV_DONE, h, NULL, NULL));
	ck_assert(am_test_wait_for(&obs, quiet, worker));
	for (int i = 0; i < obs.nbacklog; i++)
		ck_assert_msg(obs.backlog[i].kind != AM_EV_NOTICE, "notice: %s",
		              obs.backlog[i].text ? obs.backlog[i].text : obs.backlog[i].error);
	ck_assert_int_eq(query("SELECT count(*) FROM jobs WHERE state = 'done' AND model = "
	                       "'claude-haiku-4-5'"),
	                 1);
}
END_TEST

/* A job an earlier run left queued (a quit during its call) is announced
 * and sent. */
START_TEST(jobs_left_queued_are_resumed)
{
	am_ledger *l;
	am_err err;
	ck_assert(am_ledger_open(&l, db_path, &(am_ledger_opts){ 0 }, &err) == 0);
	int64_t id = 0;
	ck_assert_msg(am_queue_add(am_ledger_db(l), NULL,
	                           NULL, "{\"messages\":[{\"role\":\"user\",\"content\":\"left over\"}]}",
	                           NULL, 0, am_clock_wall(am_clock_system()), &id, NULL, &err) == 0,
	              "%s", err.msg);
	am_ledger_close(l);

	start("{}");
	ck_assert(wait_event(AM_EV_NOTICE, 0, "resumed 1 job from an earlier run", NULL));
	ck_assert(wait_event(AM_EV_DONE, 0, NULL, NULL));
}
END_TEST

/* A job's tag reaches its ledger row: a submitted prompt's (am_prompt.tag)
 * and a queued job's (jobs.tag, as a batch writes it); an untagged prompt
 * stays untagged, a bad tag is refused at submit, and a stored one the
 * ledger would refuse is dropped with a notice (the call is recorded). */
START_TEST(tags_reach_the_ledger)
{
	am_ledger *l;
	am_err err;
	ck_assert(am_ledger_open(&l, db_path, &(am_ledger_opts){ 0 }, &err) == 0);
	am_queue_stmts *qs = am_queue_stmts_new(am_ledger_db(l));
	am_queue_stmts_tag(qs, "from-batch");
	int64_t id = 0;
	ck_assert_msg(am_queue_add_s(qs, NULL, NULL,
	                             "{\"messages\":[{\"role\":\"user\",\"content\":\"left\"}]}",
	                             NULL, 0, am_clock_wall(am_clock_system()), &id, NULL, &err) == 0,
	              "%s", err.msg);
	/* And one whose tag was edited into something the ledger refuses. */
	ck_assert_msg(am_queue_add_s(qs, NULL, NULL,
	                             "{\"messages\":[{\"role\":\"user\",\"content\":\"odd\"}]}",
	                             NULL, 0, am_clock_wall(am_clock_system()), &id, NULL, &err) == 0,
	              "%s", err.msg);
	am_queue_stmts_free(qs);
	ck_assert_int_eq(sqlite3_exec(am_ledger_db(l), "UPDATE jobs SET tag = 'bad tag' WHERE id = "
	                              "(SELECT max(id) FROM jobs)", NULL, NULL, NULL), SQLITE_OK);
	am_ledger_close(l);

	start("{}");
	ck_assert(wait_event(AM_EV_NOTICE, 0, "recorded untagged", NULL));
	ck_assert(wait_event(AM_EV_DONE, 0, NULL, NULL));
	ck_assert(wait_event(AM_EV_DONE, 0, NULL, NULL));
	am_turn t = { "user", "tagged" };
	am_prompt p = { .turns = &t, .nturns = 1, .tag = "evals" };
	int64_t tagged = -1, plain = -1;
	ck_assert_msg(ops.submit(ops.ctx, &p, &tagged, &err) == 0, "%s", err.msg);
	p.tag = "";
	ck_assert_msg(ops.submit(ops.ctx, &p, &plain, &err) == 0, "%s", err.msg);
	p.tag = "two words";
	int64_t bad = -1;
	ck_assert_int_eq(ops.submit(ops.ctx, &p, &bad, &err), -1);
	ck_assert_msg(strstr(err.msg, "tag"), "%s", err.msg);
	ck_assert(wait_event(AM_EV_DONE, tagged, NULL, NULL));
	ck_assert(wait_event(AM_EV_DONE, plain, NULL, NULL));
	am_worker_stop(worker, 0);
	worker = NULL;

	sqlite3 *db;
	ck_assert_int_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_stmt *st;
	ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT coalesce(group_concat(coalesce(ut, '-') "
	                                        "|| '/' || coalesce(jt, '-'), ','), '') FROM "
	                                        "(SELECT u.tag AS ut, j.tag AS jt FROM usage_events u "
	                                        "JOIN jobs j ON j.id = u.job_id ORDER BY j.id)",
	                                    -1, &st, NULL),
	                 SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_str_eq((const char *)sqlite3_column_text(st, 0),
	                 "from-batch/from-batch,-/bad tag,evals/evals,-/-");
	sqlite3_finalize(st);
	sqlite3_close(db);
}
END_TEST

/* Submitting while the worker takes the inbox: every prompt gets its own
 * handle and an answer (an earlier version read the inbox item after the
 * worker had freed it). */
START_TEST(submissions_race_the_worker)
{
	enum { N = 40 };
	start("{\"limits\": {\"rpm\": 100000, \"itpm\": 100000000, \"otpm\": 100000000}}");
	int64_t ids[N];
	for (int i = 0; i < N; i++) {
		char text[32];
		snprintf(text, sizeof text, "prompt %d", i);
		ids[i] = submit(text);
		for (int k = 0; k < i; k++)
			ck_assert_int_ne(ids[k], ids[i]);
	}
	int done = 0;
	for (int i = 0; i < N; i++) {
		am_event ev;
		ck_assert_msg(wait_event(AM_EV_DONE, ids[i], NULL, &ev), "job %d", i);
		done++;
	}
	for (int i = 0; i < obs.nbacklog; i++)
		ck_assert_msg(obs.backlog[i].kind != AM_EV_FAILED, "failed: %s", obs.backlog[i].error);
	ck_assert_int_eq(done, N);
}
END_TEST

static void answer_in_ten_seconds(void *ctx, const am_ft_call *call, am_ft_answer *ans);

/* The preview is the selector and the budget's worst case, pure: the model
 * by length, the pinned model, the downgrade near the budget, and the
 * reservation at the resolved price (input x input rate + max_tokens x
 * output rate; an unknown model at the dearest known one's rates). */
START_TEST(preview_is_the_policies_worst_case)
{
	am_sel_config sel;
	am_sel_config_default(&sel);
	am_snapshot s;
	memset(&s, 0, sizeof s);
	snprintf(s.model_mode, sizeof s.model_mode, "auto");
	s.budget_pct = -1;
	s.max_tokens = 1024;
	am_preview_in in = {.chars = 2400, .input_tokens = 3300};
	am_preview pv;
	am_err err;
	ck_assert_msg(am_engine_preview(&sel, pricing, &s, &in, &pv, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(pv.model, "claude-opus-4-5");
	ck_assert_int_eq(pv.max_tokens, 1024);
	ck_assert_int_eq(pv.worst_pusd, 3300 * 5000000LL + 1024 * 25000000LL); /* $0.0421 */
	ck_assert(!pv.unknown_price);
	in.chars = 100;
	ck_assert(am_engine_preview(&sel, pricing, &s, &in, &pv, &err) == 0);
	ck_assert_str_eq(pv.model, "claude-haiku-4-5");
	ck_assert_int_eq(pv.worst_pusd, 3300 * 1000000LL + 1024 * 5000000LL);
	/* the prompt's own max_tokens */
	in.max_tokens = 10;
	ck_assert(am_engine_preview(&sel, pricing, &s, &in, &pv, &err) == 0);
	ck_assert_int_eq(pv.worst_pusd, 3300 * 1000000LL + 10 * 5000000LL);
	in.max_tokens = 0;
	/* the console's pinned model */
	snprintf(s.model_mode, sizeof s.model_mode, "claude-sonnet-4-5");
	ck_assert(am_engine_preview(&sel, pricing, &s, &in, &pv, &err) == 0);
	ck_assert_str_eq(pv.model, "claude-sonnet-4-5");
	ck_assert_int_eq(pv.worst_pusd, 3300 * 3000000LL + 1024 * 15000000LL);
	/* near the budget a long prompt goes one tier down */
	snprintf(s.model_mode, sizeof s.model_mode, "auto");
	s.budget_pct = 85;
	in.chars = 2400;
	ck_assert(am_engine_preview(&sel, pricing, &s, &in, &pv, &err) == 0);
	ck_assert_str_eq(pv.model, "claude-sonnet-4-5");
	ck_assert_ptr_nonnull(strstr(pv.reason, "downgraded"));
	/* a model without a price is reserved at the dearest's */
	in.model = "claude-foo-9";
	ck_assert(am_engine_preview(&sel, pricing, &s, &in, &pv, &err) == 0);
	ck_assert_str_eq(pv.model, "claude-foo-9");
	ck_assert(pv.unknown_price);
	const am_price *d = am_pricing_most_expensive(pricing);
	ck_assert_int_ge(pv.worst_pusd, 3300 * d->input + 1024 * d->output);
	/* the request's size: what the budget's estimator may charge for it,
	 * when that is more (30,000 bytes at 1 token per 3 bytes, rounded up) */
	in.model = NULL;
	s.budget_pct = -1;
	s.input_ppm = 333334;
	in.bytes = 30000;
	ck_assert(am_engine_preview(&sel, pricing, &s, &in, &pv, &err) == 0);
	ck_assert_str_eq(pv.model, "claude-opus-4-5");
	ck_assert_int_eq(pv.worst_pusd, 10001 * 5000000LL + 1024 * 25000000LL);
	in.bytes = 300; /* less than the given estimate: that one stays */
	ck_assert(am_engine_preview(&sel, pricing, &s, &in, &pv, &err) == 0);
	ck_assert_int_eq(pv.worst_pusd, 3300 * 5000000LL + 1024 * 25000000LL);
}
END_TEST

/* The preview's worst case is never below what the budget then reserves
 * for the same prompt (a request no larger than the bytes it was told). */
START_TEST(preview_bounds_the_reservation)
{
	am_ft_free(ft);
	ft = am_ft_new(1000 * AM_NS_PER_SEC, am_clock_wall(am_clock_system()), answer_in_ten_seconds,
	               NULL);
	am_ft_set_manual(ft, true);
	start("{\"budget\": {\"daily_usd\": \"100\"}, \"cache\": {\"enabled\": false}}");
	am_snapshot s;
	ck_assert(wait_snap(&s, pool_names_are, "haiku-4-5,sonnet-4,opus-4"));
	ck_assert_int_gt(s.input_ppm, 0);
	static char text[2101];
	for (size_t i = 0; i < sizeof text - 1; i++)
		text[i] = "ab\"\n"[i % 4]; /* quotes and newlines escape to two bytes */
	am_preview_in in = {.chars = (int64_t)strlen(text), .input_tokens = 1,
	                    .bytes = 2 * (int64_t)strlen(text) + 256 + 40};
	am_preview pv;
	am_err err;
	ck_assert_msg(ops.preview(ops.ctx, &s, &in, &pv, &err) == 0, "%s", err.msg);
	int64_t job = submit(text);
	ck_assert(wait_event(AM_EV_STARTED, job, NULL, NULL));
	ops.snapshot(ops.ctx, &s);
	ck_assert_int_gt(s.budget.reserved_pusd, 0);
	ck_assert_msg(s.budget.reserved_pusd <= pv.worst_pusd, "reserved %lld > preview %lld",
	              (long long)s.budget.reserved_pusd, (long long)pv.worst_pusd);
}
END_TEST

/* The worker's preview op names the model its dispatch then picks, with
 * the budget share and the default max_tokens it publishes. */
START_TEST(preview_op_agrees_with_dispatch)
{
	start("{\"client\": {\"max_tokens\": 512}}");
	am_snapshot s;
	ck_assert(wait_snap(&s, pool_names_are, "haiku-4-5,sonnet-4,opus-4"));
	ck_assert_int_eq(s.max_tokens, 512);
	ck_assert(ops.preview != NULL);
	char text[2100];
	memset(text, 'x', sizeof text - 1);
	text[sizeof text - 1] = '\0';
	am_preview_in in = {.chars = (int64_t)strlen(text), .input_tokens = 600};
	am_preview pv;
	am_err err;
	ck_assert_msg(ops.preview(ops.ctx, &s, &in, &pv, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(pv.max_tokens, 512);
	ck_assert_int_eq(pv.worst_pusd, 600 * 5000000LL + 512 * 25000000LL);
	int64_t job = submit(text);
	am_event ev;
	ck_assert(wait_event(AM_EV_QUEUED, job, NULL, &ev));
	ck_assert_str_eq(ev.model, pv.model);
	ck_assert_str_eq(ev.reason, pv.reason);
}
END_TEST

static void answer_in_ten_seconds(void *ctx, const am_ft_call *call, am_ft_answer *ans)
{
	(void)ctx;
	(void)call;
	ans->latency_ns = 10 * AM_NS_PER_SEC;
}

/* Single-flight: an identical request waits for the one on its way and is
 * its cache hit; when that one ends without an answer (cancelled), the
 * copy is sent itself. */
START_TEST(an_identical_request_waits_for_the_first)
{
	am_ft_free(ft);
	ft = am_ft_new(1000 * AM_NS_PER_SEC, am_clock_wall(am_clock_system()), answer_in_ten_seconds,
	               NULL);
	am_ft_set_manual(ft, true);
	start("{\"limits\": {\"rpm\": 0, \"itpm\": 0, \"otpm\": 0}, \"cache\": {\"enabled\": true}}");
	int64_t a = submit("the same question"), b = submit("the same question");
	am_event ev;
	ck_assert(wait_event(AM_EV_STARTED, a, NULL, NULL));
	ck_assert(wait_event(AM_EV_WAITING, b, "identical request", NULL));
	am_snapshot s;
	ops.snapshot(ops.ctx, &s);
	ck_assert_int_eq(s.queue_depth, 1); /* the copy still counts as queued */
	ck_assert_int_eq(am_ft_started(ft), 1);
	am_ft_advance(ft, 10 * AM_NS_PER_SEC);
	ck_assert(wait_event(AM_EV_DONE, a, NULL, &ev));
	ck_assert(!ev.cached);
	ck_assert(wait_event(AM_EV_DONE, b, NULL, &ev));
	ck_assert(ev.cached);
	ck_assert_int_eq(ev.cost_pusd, 0);
	ck_assert_int_eq(am_ft_started(ft), 1);

	int64_t c = submit("another question"), d = submit("another question");
	ck_assert(wait_event(AM_EV_STARTED, c, NULL, NULL));
	ck_assert(wait_event(AM_EV_WAITING, d, "identical request", NULL));
	am_command cmd = { .kind = AM_CMD_CANCEL_JOB, .value = c };
	am_err err;
	ck_assert(ops.command(ops.ctx, &cmd, &err) == 0);
	ck_assert(wait_event(AM_EV_CANCELLED, c, NULL, NULL));
	ck_assert(wait_event(AM_EV_STARTED, d, NULL, NULL));
	ck_assert_int_eq(am_ft_started(ft), 3);
	/* a waiting copy can be cancelled too */
	int64_t e = submit("another question");
	ck_assert(wait_event(AM_EV_WAITING, e, "identical request", NULL));
	cmd.value = e;
	ck_assert(ops.command(ops.ctx, &cmd, &err) == 0);
	ck_assert(wait_event(AM_EV_CANCELLED, e, NULL, NULL));
	am_ft_advance(ft, 10 * AM_NS_PER_SEC);
	ck_assert(wait_event(AM_EV_DONE, d, NULL, &ev));
	ck_assert(!ev.cached);
	ck_assert_int_eq(am_ft_started(ft), 3);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("worker_view");
	TCase *tc = tcase_create("view");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, pools_follow_the_selector_and_traffic);
	tcase_add_test(tc, waiting_jobs_hear_what_they_wait_for);
	tcase_add_test(tc, burn_and_today_come_from_the_ledger);
	tcase_add_test(tc, unknown_prices_count_after_a_restart);
	tcase_add_test(tc, today_sums_never_wrap);
	tcase_add_test(tc, a_call_waits_until_its_row_is_written);
	tcase_add_test(tc, an_alias_priced_at_zero_keeps_the_cap);
	tcase_add_test(tc, a_refused_state_fails_its_commit);
	tcase_add_test(tc, a_new_row_is_written_in_flight);
	tcase_add_test(tc, jobs_left_queued_are_resumed);
	tcase_add_test(tc, tags_reach_the_ledger);
	tcase_add_test(tc, submissions_race_the_worker);
	tcase_add_test(tc, preview_is_the_policies_worst_case);
	tcase_add_test(tc, preview_op_agrees_with_dispatch);
	tcase_add_test(tc, preview_bounds_the_reservation);
	tcase_add_test(tc, an_identical_request_waits_for_the_first);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(suite());
}
