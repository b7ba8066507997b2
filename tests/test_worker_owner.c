/* test_worker_owner: a worker on a ledger that another live aimeter process
 * shares sends only the jobs it may take - nobody's, its own, a dead
 * process's - at start and when poked, writes its console prompts owned by
 * itself, and takes the other process's jobs once that process dies. The
 * "other process" is an owner string the injected liveness check calls
 * alive; the simulator counts what was sent. */
#include <check.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ledger.h"
#include "owner.h"
#include "pipefix.h"
#include "queue.h"
#include "check_run.h"
#include "workfix.h"

#define ME "900:1"
#define OTHER "901:1"
#define CRASHED "902:1"
enum { N_OTHER = 12, N_FREE = 4, N_CRASHED = 3, WAIT_MS = 20000 };

static atomic_bool other_alive;

static bool fake_alive(void *ctx, const char *owner)
{
	(void)ctx;
	return !strcmp(owner, OTHER) && atomic_load(&other_alive);
}

static am_wf f;
static am_ledger *led; /* the other process's connection */

static int64_t q(const char *sql)
{
	return am_pf_i64(am_ledger_db(led), "%s", sql);
}

static int64_t sent(void)
{
	am_sim_stats st;
	am_sim_get_stats(f.sim, &st);
	return st.requests;
}

/* Pumps the worker's events until `sql` counts `want` (bounded). */
static bool wait_count(const char *sql, int64_t want)
{
	for (int waited = 0; waited < WAIT_MS; waited += 20) {
		if (q(sql) == want)
			return true;
		am_wf_pump(&f, 20, NULL, NULL);
	}
	return false;
}

static void add(const char *owner, am_job_state st, int n)
{
	/* Every prompt differs: identical ones would be answered once (single-flight). */
	static int seq;
	for (int i = 0; i < n; i++) {
		char req[128];
		snprintf(req, sizeof req,
		         "{\"max_tokens\":8,\"messages\":[{\"role\":\"user\",\"content\":\"%s %d\"}]}",
		         owner ? owner : "nobody", seq++);
		int64_t id;
		am_err err = {0};
		ck_assert_msg(am_queue_add(am_ledger_db(led), owner, NULL, req, NULL, 0, 1, &id, NULL,
		                           &err) == 0,
		              "%s", err.msg);
		if (st != AM_JOB_QUEUED)
			ck_assert(am_queue_update(am_ledger_db(led), id, st, NULL, NULL, NULL, NULL, 1, 1,
			                          &err) == 0);
	}
}

START_TEST(a_worker_leaves_a_live_processs_jobs_alone)
{
	am_err err = {0};
	ck_assert_msg(am_wf_init(&f, "worker_owner", &err) == 0, "%s", err.msg);
	ck_assert_msg(am_ledger_open(&led, f.db, NULL, &err) == 0, "%s", err.msg);
	atomic_store(&other_alive, true);
	/* The other process: calls in flight and more queued; nobody's jobs and
	 * a crashed process's, which are ours to take. */
	add(OTHER, AM_JOB_IN_FLIGHT, N_OTHER / 2);
	add(OTHER, AM_JOB_QUEUED, N_OTHER / 2);
	add(NULL, AM_JOB_QUEUED, N_FREE);
	add(CRASHED, AM_JOB_IN_FLIGHT, N_CRASHED);

	am_owner me = { ME, fake_alive, NULL, NULL };
	f.owner = &me;
	am_sim_cfg sc;
	am_sim_cfg_default(&sc);
	sc.latency_ms = 0;
	ck_assert_msg(am_wf_start(&f, &sc, &err) == 0, "%s", err.msg);
	ck_assert_msg(wait_count("SELECT count(*) FROM jobs WHERE state = 'done'", N_FREE + N_CRASHED),
	              "at start: %lld done", (long long)q("SELECT count(*) FROM jobs WHERE state = 'done'"));
	ck_assert_int_eq(q("SELECT count(*) FROM jobs WHERE owner = '" ME "' AND state = 'done'"),
	                 N_FREE + N_CRASHED);
	/* Poked (as a batch adding lines pokes), it still leaves them. */
	add(OTHER, AM_JOB_QUEUED, 1);
	am_worker_poke(f.w);
	int64_t h = am_wf_submit(&f, "a prompt of the console", 8, false, false, &err);
	ck_assert_msg(h > 0, "%s", err.msg);
	ck_assert(wait_count("SELECT count(*) FROM jobs WHERE state = 'done'", N_FREE + N_CRASHED + 1));
	ck_assert_int_eq(q("SELECT count(*) FROM jobs WHERE owner = '" ME "'"),
	                 N_FREE + N_CRASHED + 1);
	ck_assert_int_eq(q("SELECT count(*) FROM jobs WHERE owner = '" OTHER "' AND state = "
	                   "'in_flight'"),
	                 N_OTHER / 2);
	ck_assert_int_eq(q("SELECT count(*) FROM jobs WHERE owner = '" OTHER "' AND state = "
	                   "'queued'"),
	                 N_OTHER / 2 + 1);
	ck_assert_int_eq(sent(), N_FREE + N_CRASHED + 1);

	/* The other process dies: the next poke takes its jobs, each once. */
	atomic_store(&other_alive, false);
	am_worker_poke(f.w);
	const int64_t all = N_OTHER + 1 + N_FREE + N_CRASHED + 1;
	ck_assert_msg(wait_count("SELECT count(*) FROM jobs WHERE state = 'done'", all),
	              "%lld of %lld done", (long long)q("SELECT count(*) FROM jobs WHERE state = 'done'"),
	              (long long)all);
	ck_assert_int_eq(q("SELECT count(*) FROM jobs WHERE owner = '" ME "'"), all);
	ck_assert_int_eq(q("SELECT count(*) FROM usage_events"), all);
	ck_assert_int_eq(sent(), all);
	am_ledger_close(led);
	am_wf_free(&f);
}
END_TEST

int main(void)
{
	check_fixed_tz();
	Suite *s = suite_create("worker_owner");
	TCase *tc = tcase_create("owner");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, a_worker_leaves_a_live_processs_jobs_alone);
	suite_add_tcase(s, tc);
	return check_run(s);
}
