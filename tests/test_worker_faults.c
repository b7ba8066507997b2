/* The worker under errors that every further call would hit:
 * with halt_on_fatal (batch, ask) an authentication failure ends the loop
 * with a "stopped:" notice and leaves the jobs it did not send queued in
 * the database; without it (the console) the worker pauses and keeps
 * running. Jobs go in the way batch adds them: through the queue on a
 * second connection, then a poke. The calls go to a fake transport whose
 * every answer is a 401, on its fake clock; the test waits on the worker's
 * events, bounded. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "clock.h"
#include "config.h"
#include "engine.h"
#include "faketp.h"
#include "ledger.h"
#include "pricing.h"
#include "queue.h"
#include "tmpdir.h"
#include "worker.h"
#include "workstart.h"

enum { NJOBS = 12, CONCURRENCY = 2, WAIT_MS = 10000 };

static char dir[512], db_path[600];
static am_ft *ft;          /* the transport of the running worker */
static am_pricing *pricing;
static am_ledger *batch_ledger; /* batch's own connection, opened first as batch does */

static void setup(void)
{
	ck_assert_int_eq(am_test_tmpdir("worker_faults", dir, sizeof dir), 0);
	snprintf(db_path, sizeof db_path, "%s/ledger.db", dir);
	am_err err;
	ck_assert_msg(am_pricing_load(&pricing, am_pricing_default_path(), NULL, &err) == 0, "%s",
	              err.msg);
	/* Before any worker thread: opening calls tzset(), which is not safe
	 * to run beside another thread's localtime_r. */
	ck_assert_msg(am_ledger_open(&batch_ledger, db_path, NULL, &err) == 0, "%s", err.msg);
}

static void teardown(void)
{
	am_ledger_close(batch_ledger);
	am_ft_free(ft);
	ft = NULL;
	am_pricing_free(pricing);
	am_test_rmtree(dir);
}

/* The provider refuses the key of every call. */
static void refuse_key(void *ctx, const am_ft_call *call, am_ft_answer *ans)
{
	(void)ctx;
	(void)call;
	ans->status = 401;
	ans->error_message = "invalid x-api-key";
	ans->latency_ns = 5 * AM_NS_PER_MS;
}

static am_worker *start(bool halt_on_fatal)
{
	ft = am_ft_new(1000 * AM_NS_PER_SEC, am_clock_wall(am_clock_system()), refuse_key, NULL);
	am_config cfg;
	am_config_init(&cfg);
	cfg.worker.concurrency = CONCURRENCY;
	cfg.client.max_retries = 2;
	cfg.budget.daily_pusd = 0;
	am_worker_opts wo;
	memset(&wo, 0, sizeof wo);
	wo.config = &cfg;
	wo.pricing = pricing;
	wo.clock = am_ft_clock(ft);
	wo.db_path = db_path;
	wo.transport = am_ft_transport(ft);
	wo.source = "batch";
	wo.halt_on_fatal = halt_on_fatal;
	am_err err;
	am_worker *w = am_worker_start(&wo, &err);
	ck_assert_msg(w != NULL, "%s", err.msg);
	am_config_wipe(&cfg);
	return w;
}

/* Adds NJOBS jobs the way batch does, on its own connection. */
static void add_jobs(am_worker *w)
{
	am_err err;
	for (int i = 0; i < NJOBS; i++) {
		char key[32], req[160];
		snprintf(key, sizeof key, "b1:test:%d", i + 1);
		snprintf(req, sizeof req,
		         "{\"messages\":[{\"role\":\"user\",\"content\":\"job %d\"}],\"max_tokens\":16}",
		         i + 1);
		int64_t id;
		ck_assert_msg(am_queue_add(am_ledger_db(batch_ledger), NULL, key, req, NULL, 0, 0, &id, NULL,
		                           &err) == 0,
		              "%s", err.msg);
	}
	am_worker_poke(w);
}

static bool finished(void *w)
{
	return am_worker_finished(w);
}

static bool paused(void *w)
{
	am_engine_ops ops = am_worker_ops(w);
	am_snapshot snap;
	ops.snapshot(ops.ctx, &snap);
	return snap.paused;
}

static am_test_obs obs;

static void observe(am_worker *w)
{
	memset(&obs, 0, sizeof obs);
	obs.ops = am_worker_ops(w);
	obs.wait_ms = WAIT_MS;
}

static void states(int64_t counts[AM_JOB_NSTATES])
{
	am_err err;
	ck_assert_msg(am_queue_counts(am_ledger_db(batch_ledger), counts, &err) == 0, "%s", err.msg);
}

START_TEST(halt_on_fatal_ends_the_loop_and_keeps_the_rest_queued)
{
	am_worker *w = start(true);
	observe(w);
	add_jobs(w);
	am_test_wait_for(&obs, finished, w);
	ck_assert_msg(am_worker_finished(w), "the worker did not end after an auth failure");
	am_event ev;
	bool stopped = am_test_wait_event(&obs, AM_EV_NOTICE, 0, "stopped: ", &ev);
	ck_assert_msg(stopped, "no 'stopped:' notice");
	ck_assert_msg(strstr(ev.error, "auth") != NULL, "the notice does not say why: %s", ev.error);
	am_test_obs_clear(&obs);
	am_worker_stop(w, 0);
	int64_t c[AM_JOB_NSTATES];
	states(c);
	/* Only the calls that were in flight failed; the rest wait, unsent. */
	ck_assert_int_ge(c[AM_JOB_FAILED], 1);
	ck_assert_int_le(c[AM_JOB_FAILED], CONCURRENCY);
	ck_assert_int_eq(c[AM_JOB_FAILED] + c[AM_JOB_QUEUED], NJOBS);
	ck_assert_int_le(am_ft_started(ft), CONCURRENCY); /* auth errors are not retried */
}
END_TEST

START_TEST(without_it_the_worker_pauses_and_runs_on)
{
	am_worker *w = start(false);
	observe(w);
	add_jobs(w);
	am_test_wait_for(&obs, paused, w);
	ck_assert_msg(paused(w), "the worker did not pause after an auth failure");
	ck_assert_msg(am_test_wait_event(&obs, AM_EV_NOTICE, 0, "paused: ", NULL),
	              "no 'paused:' notice");
	ck_assert(!am_worker_finished(w));
	am_test_obs_clear(&obs);
	am_worker_stop(w, 0);
	int64_t c[AM_JOB_NSTATES];
	states(c);
	ck_assert_int_eq(c[AM_JOB_FAILED] + c[AM_JOB_QUEUED], NJOBS);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("worker_faults");
	TCase *tc = tcase_create("fatal");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, halt_on_fatal_ends_the_loop_and_keeps_the_rest_queued);
	tcase_add_test(tc, without_it_the_worker_pauses_and_runs_on);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(suite());
}
