/* The worker under errors that every further call would hit:
 * with halt_on_fatal (batch, ask) an authentication failure ends the loop
 * with a "stopped:" notice and leaves the jobs it did not send queued in
 * the database; without it (the console) the worker pauses and keeps
 * running. Jobs go in the way batch adds them: through the queue on a
 * second connection, then a poke. Real time, bounded waits: the simulator
 * is a real HTTP server on loopback. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check_run.h"
#include "clock.h"
#include "config.h"
#include "engine.h"
#include "ledger.h"
#include "pricing.h"
#include "queue.h"
#include "sim.h"
#include "tmpdir.h"
#include "worker.h"

enum { NJOBS = 12, CONCURRENCY = 2 };

static char dir[512], db_path[600];
static am_sim *sim;
static am_pricing *pricing;
static am_ledger *batch_ledger; /* batch's own connection, opened first as batch does */

static void setup(void)
{
	ck_assert_int_eq(am_test_tmpdir("worker_faults", dir, sizeof dir), 0);
	snprintf(db_path, sizeof db_path, "%s/ledger.db", dir);
	am_sim_cfg sc;
	am_sim_cfg_default(&sc);
	sc.api_key = "sk-the-right-key";
	am_err err;
	ck_assert_msg(am_sim_start(&sim, &sc, &err) == 0, "%s", err.msg);
	ck_assert_msg(am_pricing_load(&pricing, am_pricing_default_path(), NULL, &err) == 0, "%s",
	              err.msg);
	/* Before any worker thread: opening calls tzset(), which is not safe
	 * to run beside another thread's localtime_r. */
	ck_assert_msg(am_ledger_open(&batch_ledger, db_path, NULL, &err) == 0, "%s", err.msg);
}

static void teardown(void)
{
	am_ledger_close(batch_ledger);
	am_sim_stop(sim);
	am_pricing_free(pricing);
	am_test_rmtree(dir);
}

static am_worker *start(bool halt_on_fatal)
{
	am_config cfg;
	am_config_init(&cfg);
	cfg.worker.concurrency = CONCURRENCY;
	cfg.client.max_retries = 2;
	cfg.budget.daily_pusd = 0;
	am_worker_opts wo;
	memset(&wo, 0, sizeof wo);
	wo.config = &cfg;
	wo.pricing = pricing;
	wo.clock = am_clock_system();
	wo.db_path = db_path;
	wo.base_url = am_sim_url(sim);
	wo.api_key = "sk-a-wrong-key";
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

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Drains events into a text of notices; true when one contains `want`. */
static bool drain_notices(am_worker *w, const char *want, char *seen, size_t n)
{
	am_engine_ops ops = am_worker_ops(w);
	am_event evs[64];
	int k;
	bool found = false;
	while ((k = ops.drain(ops.ctx, evs, 64)) > 0)
		for (int i = 0; i < k; i++) {
			if (evs[i].kind == AM_EV_NOTICE && evs[i].text) {
				size_t len = strlen(seen);
				snprintf(seen + len, n - len, "%s\n", evs[i].text);
				found |= strstr(evs[i].text, want) != NULL;
			}
			am_event_free(&evs[i]);
		}
	return found;
}

static void states(int64_t counts[AM_JOB_NSTATES])
{
	am_err err;
	ck_assert_msg(am_queue_counts(am_ledger_db(batch_ledger), counts, &err) == 0, "%s", err.msg);
}

START_TEST(halt_on_fatal_ends_the_loop_and_keeps_the_rest_queued)
{
	am_worker *w = start(true);
	add_jobs(w);
	char seen[4096] = "";
	bool stopped = false;
	for (int i = 0; i < 400 && !am_worker_finished(w); i++)
		sleep_ms(25);
	ck_assert_msg(am_worker_finished(w), "the worker did not end after an auth failure");
	stopped = drain_notices(w, "stopped: ", seen, sizeof seen);
	ck_assert_msg(stopped, "no 'stopped:' notice; notices:\n%s", seen);
	ck_assert_msg(strstr(seen, "auth") != NULL, "the notice does not say why:\n%s", seen);
	am_worker_stop(w, 0);
	int64_t c[AM_JOB_NSTATES];
	states(c);
	/* Only the calls that were in flight failed; the rest wait, unsent. */
	ck_assert_int_ge(c[AM_JOB_FAILED], 1);
	ck_assert_int_le(c[AM_JOB_FAILED], CONCURRENCY);
	ck_assert_int_eq(c[AM_JOB_FAILED] + c[AM_JOB_QUEUED], NJOBS);
	am_sim_stats st;
	am_sim_get_stats(sim, &st);
	ck_assert_int_le(st.requests, CONCURRENCY); /* auth errors are not retried */
}
END_TEST

START_TEST(without_it_the_worker_pauses_and_runs_on)
{
	am_worker *w = start(false);
	add_jobs(w);
	am_engine_ops ops = am_worker_ops(w);
	am_snapshot snap;
	memset(&snap, 0, sizeof snap);
	for (int i = 0; i < 400 && !snap.paused; i++) {
		sleep_ms(25);
		ops.snapshot(ops.ctx, &snap);
	}
	ck_assert_msg(snap.paused, "the worker did not pause after an auth failure");
	char seen[4096] = "";
	sleep_ms(300);
	ck_assert_msg(drain_notices(w, "paused: ", seen, sizeof seen), "notices:\n%s", seen);
	ck_assert(!am_worker_finished(w));
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
