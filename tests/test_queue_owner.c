/* test_queue_owner: job ownership on a real ledger database. A process
 * takes a job only when its owner is nobody, itself or dead: claims one by
 * one and in bulk, a lost race between two connections (forced at the
 * worst moment, and two threads at once), crash recovery that leaves a
 * live process's jobs alone, and a version-1 ledger migrating with its
 * jobs. Liveness is injected: no process is started or killed here. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "ledger.h"
#include "owner.h"
#include "queue.h"
#include "check_run.h"
#include "jobfix.h"
#include "pipefix.h"
#include "scratch.h"
#include "tmpdir.h"

#define T0 1718452800000000000LL /* 2024-06-15 12:00 UTC */
#define ME "100:1000"
#define DEAD "200:2000"
#define LIVE "300:3000"

static am_scratch sc; /* the ledger under test */

/* The injected liveness: the owners listed run, every other is dead.
 * `hook`, when set, runs the first time `hook_on` is judged: the place to
 * let another process act between a claimer's look and its write. */
typedef struct fake {
	const char *live[4];
	int calls;
	const char *hook_on;
	void (*hook)(void);
} fake;

static bool fake_alive(void *ctx, const char *owner)
{
	fake *f = ctx;
	__atomic_add_fetch(&f->calls, 1, __ATOMIC_RELAXED);
	if (f->hook && f->hook_on && !strcmp(owner, f->hook_on)) {
		void (*h)(void) = f->hook;
		f->hook = NULL;
		h();
	}
	for (int i = 0; i < 4; i++)
		if (f->live[i] && !strcmp(f->live[i], owner))
			return true;
	return false;
}

static fake liveness;
static am_owner me;

static void setup(void)
{
	am_err err = {0};
	ck_assert_msg(am_scratch_open(&sc, "queue_owner", &err) == 0, "%s", err.msg);
	memset(&liveness, 0, sizeof liveness);
	liveness.live[0] = LIVE;
	me = (am_owner){ ME, fake_alive, &liveness, NULL };
}

static void teardown(void)
{
	am_scratch_close(&sc);
}

static int64_t add_owned(const char *owner, am_job_state st)
{
	return am_test_add_job(sc.db, owner, NULL, st, T0);
}

/* The job's owner, "(null)" for nobody; and its state. */
static const char *owner_of(sqlite3 *h, int64_t id, am_job_state *st)
{
	static char buf[AM_OWNER_MAX];
	am_job j;
	am_err err = {0};
	ck_assert_msg(am_queue_get(h, id, &j, &err) == 0, "%s", err.msg);
	snprintf(buf, sizeof buf, "%s", j.owner ? j.owner : "(null)");
	if (st)
		*st = j.state;
	am_job_clear(&j);
	return buf;
}

static void record_usage(int64_t job_id)
{
	am_err err = {0};
	ck_assert_msg(am_test_record_answer(sc.led, job_id, T0, &err) == 1, "%s", err.msg);
}

/* Asserts job id's owner (NULL: nobody) and state. */
static void is(int64_t id, const char *owner, am_job_state st)
{
	am_job_state got;
	ck_assert_str_eq(owner_of(sc.db, id, &got), owner ? owner : "(null)");
	ck_assert_msg(got == st, "job %lld is %s, want %s", (long long)id, am_job_state_name(got),
	              am_job_state_name(st));
}

static am_ledger *open_second(void)
{
	am_ledger *l = NULL;
	am_err err = {0};
	ck_assert_msg(am_ledger_open(&l, sc.path, NULL, &err) == 0, "%s", err.msg);
	return l;
}

START_TEST(add_writes_the_owner_and_find_reads_it)
{
	int64_t id = 0;
	am_err err = {0};
	ck_assert_int_eq(am_queue_add(sc.db, ME, "b1:aa:1", "{}", NULL, 0, T0, &id, NULL, &err), 0);
	ck_assert_str_eq(owner_of(sc.db, id, NULL), ME);
	am_job j;
	ck_assert_int_eq(am_queue_find(sc.db, "b1:aa:1", &j, &err), 1);
	ck_assert_int_eq(j.id, id);
	ck_assert_str_eq(j.owner, ME);
	am_job_clear(&j);
	ck_assert_int_eq(am_queue_find(sc.db, "b1:zz:9", &j, &err), 0);
	/* An existing key keeps its first owner: a re-run claims explicitly. */
	int64_t again = 0;
	ck_assert_int_eq(
	    am_queue_add(sc.db, LIVE, "b1:aa:1", "{}", NULL, 0, T0, &again, NULL, &err), 1);
	ck_assert_int_eq(again, id);
	ck_assert_str_eq(owner_of(sc.db, id, NULL), ME);
	int64_t nobody = add_owned(NULL, AM_JOB_QUEUED);
	ck_assert_str_eq(owner_of(sc.db, nobody, NULL), "(null)");
}
END_TEST

START_TEST(claim_takes_nobodys_own_and_dead_jobs_never_a_live_ones)
{
	int64_t n = add_owned(NULL, AM_JOB_QUEUED), m = add_owned(ME, AM_JOB_IN_FLIGHT),
	        d = add_owned(DEAD, AM_JOB_WAITING_LIMIT), l = add_owned(LIVE, AM_JOB_QUEUED),
	        df = add_owned(DEAD, AM_JOB_FAILED);
	char holder[AM_OWNER_MAX] = "";
	am_err err = {0};
	ck_assert_int_eq(am_queue_claim(sc.db, &me, n, holder, &err), 1);
	ck_assert_int_eq(am_queue_claim(sc.db, &me, m, holder, &err), 1);
	ck_assert_int_eq(am_queue_claim(sc.db, &me, d, holder, &err), 1);
	ck_assert_int_eq(am_queue_claim(sc.db, &me, df, holder, &err), 1); /* any state */
	ck_assert_str_eq(holder, "");
	ck_assert_int_eq(am_queue_claim(sc.db, &me, l, holder, &err), 0);
	ck_assert_str_eq(holder, LIVE);
	ck_assert_int_eq(am_queue_claim(sc.db, &me, l, NULL, &err), 0);
	is(n, ME, AM_JOB_QUEUED);
	is(m, ME, AM_JOB_IN_FLIGHT);
	is(d, ME, AM_JOB_WAITING_LIMIT); /* a claim moves the owner only */
	is(df, ME, AM_JOB_FAILED);
	is(l, LIVE, AM_JOB_QUEUED);
	/* Neither nobody nor ourselves needs a liveness check: DEAD twice,
	 * LIVE twice. */
	ck_assert_int_eq(liveness.calls, 4);
	ck_assert_int_eq(am_queue_claim(sc.db, &me, l + 100, holder, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "no job"));

	/* The same job once its owner has died. */
	liveness.live[0] = NULL;
	ck_assert_int_eq(am_queue_claim(sc.db, &me, l, holder, &err), 1);
	ck_assert_str_eq(owner_of(sc.db, l, NULL), ME);
}
END_TEST

static void assert_ids(const int64_t *got, int n, const int64_t *want, int nwant)
{
	ck_assert_int_eq(n, nwant);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(got[i], want[i]);
}

START_TEST(claim_unfinished_takes_what_it_may_in_id_order)
{
	int64_t live[5];
	for (int i = 0; i < 5; i++)
		live[i] = add_owned(LIVE, i % 2 ? AM_JOB_IN_FLIGHT : AM_JOB_QUEUED);
	int64_t n = add_owned(NULL, AM_JOB_QUEUED), m = add_owned(ME, AM_JOB_IN_FLIGHT);
	int64_t d[3];
	for (int i = 0; i < 3; i++)
		d[i] = add_owned(DEAD, i ? AM_JOB_WAITING_LIMIT : AM_JOB_BLOCKED_BUDGET);
	int64_t d_done = add_owned(DEAD, AM_JOB_DONE), d_failed = add_owned(DEAD, AM_JOB_FAILED);
	int64_t answered = add_owned(NULL, AM_JOB_IN_FLIGHT);
	record_usage(answered); /* answered: done whatever its state says */
	int64_t live_blocked = add_owned(LIVE, AM_JOB_BLOCKED_BUDGET);

	int64_t *ids = NULL;
	int cnt = -1;
	am_err err = {0};
	/* A bound counts only jobs we may take: the live process's five at the
	 * front use none of it. */
	ck_assert_msg(am_queue_claim_unfinished(sc.db, &me, 2, &ids, &cnt, &err) == 0, "%s",
	              err.msg);
	assert_ids(ids, cnt, (int64_t[]){ n, m }, 2);
	free(ids);
	ck_assert_str_eq(owner_of(sc.db, n, NULL), ME);
	ck_assert_str_eq(owner_of(sc.db, d[0], NULL), DEAD); /* past the bound: not claimed */

	liveness.calls = 0;
	ck_assert_msg(am_queue_claim_unfinished(sc.db, &me, 0, &ids, &cnt, &err) == 0, "%s",
	              err.msg);
	assert_ids(ids, cnt, (int64_t[]){ n, m, d[0], d[1], d[2] }, 5);
	free(ids);
	/* Once per distinct owner (LIVE, DEAD), not once per job. */
	ck_assert_int_eq(liveness.calls, 2);
	for (int i = 0; i < 3; i++)
		ck_assert_str_eq(owner_of(sc.db, d[i], NULL), ME);
	for (int i = 0; i < 5; i++)
		ck_assert_str_eq(owner_of(sc.db, live[i], NULL), LIVE);
	ck_assert_str_eq(owner_of(sc.db, live_blocked, NULL), LIVE);
	ck_assert_str_eq(owner_of(sc.db, d_done, NULL), DEAD);
	ck_assert_str_eq(owner_of(sc.db, d_failed, NULL), DEAD);
	ck_assert_str_eq(owner_of(sc.db, answered, NULL), "(null)");

	/* Everything we may take is ours now: the next look writes nothing. */
	int before = sqlite3_total_changes(sc.db);
	ck_assert_int_eq(am_queue_claim_unfinished(sc.db, &me, 0, &ids, &cnt, &err), 0);
	assert_ids(ids, cnt, (int64_t[]){ n, m, d[0], d[1], d[2] }, 5);
	free(ids);
	ck_assert_int_eq(sqlite3_total_changes(sc.db), before);

	/* The live process dies: its unfinished jobs come to us. */
	liveness.live[0] = NULL;
	ck_assert_int_eq(am_queue_claim_unfinished(sc.db, &me, 0, &ids, &cnt, &err), 0);
	ck_assert_int_eq(cnt, 11);
	free(ids);
	ck_assert_str_eq(owner_of(sc.db, live_blocked, NULL), ME);
}
END_TEST

/* ---- two claimers --------------------------------------------------------- */

/* The other process: its own connection and id; it judges DEAD dead too. */
static am_ledger *other_led;
static fake other_liveness;
static am_owner other;
static int64_t race_job;
static int other_won;

static void other_claims_first(void)
{
	am_err err = {0};
	other_won = am_queue_claim(am_ledger_db(other_led), &other, race_job, NULL, &err);
}

START_TEST(of_two_claimers_exactly_one_wins)
{
	other_led = open_second();
	other_liveness = (fake){ .live = { ME } };
	other = (am_owner){ LIVE, fake_alive, &other_liveness, NULL };
	/* We have judged DEAD dead and are about to write when the other
	 * process claims the job: our write must find the owner changed. */
	race_job = add_owned(DEAD, AM_JOB_QUEUED);
	int64_t mine = add_owned(DEAD, AM_JOB_QUEUED);
	liveness.hook_on = DEAD;
	liveness.hook = other_claims_first;
	int64_t *ids = NULL;
	int n = -1;
	am_err err = {0};
	ck_assert_msg(am_queue_claim_unfinished(sc.db, &me, 0, &ids, &n, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(other_won, 1);
	assert_ids(ids, n, (int64_t[]){ mine }, 1);
	free(ids);
	ck_assert_str_eq(owner_of(sc.db, race_job, NULL), LIVE);
	ck_assert_str_eq(owner_of(sc.db, mine, NULL), ME);

	/* The same race on a single claim: the loser looks again and sees a
	 * live owner. */
	race_job = add_owned(DEAD, AM_JOB_QUEUED);
	other_won = -1;
	liveness.hook = other_claims_first;
	char holder[AM_OWNER_MAX] = "";
	ck_assert_int_eq(am_queue_claim(sc.db, &me, race_job, holder, &err), 0);
	ck_assert_int_eq(other_won, 1);
	ck_assert_str_eq(holder, LIVE);
	ck_assert_str_eq(owner_of(sc.db, race_job, NULL), LIVE);
	am_ledger_close(other_led);
}
END_TEST

enum { RACE_JOBS = 300, RACE_ROUNDS = 4 };

typedef struct racer {
	am_owner owner;
	fake alive;
	pthread_barrier_t *go;
	int64_t ids[RACE_JOBS];
	int n;
	char err[AM_ERR_MAX];
} racer;

static void *race(void *arg)
{
	racer *r = arg;
	am_ledger *l = NULL;
	am_err err = {0};
	if (am_ledger_open(&l, sc.path, NULL, &err)) {
		snprintf(r->err, sizeof r->err, "%s", err.msg);
		pthread_barrier_wait(r->go);
		return NULL;
	}
	pthread_barrier_wait(r->go);
	for (int round = 0; round < RACE_ROUNDS; round++) {
		int64_t *ids = NULL;
		int n = 0;
		if (am_queue_claim_unfinished(am_ledger_db(l), &r->owner, 0, &ids, &n, &err)) {
			snprintf(r->err, sizeof r->err, "%s", err.msg);
			break;
		}
		if (n)
			memcpy(r->ids, ids, (size_t)n * sizeof *ids);
		r->n = n;
		free(ids);
	}
	am_ledger_close(l);
	return NULL;
}

START_TEST(two_threads_claiming_at_once_split_the_jobs)
{
	for (int i = 0; i < RACE_JOBS; i++)
		add_owned(i % 3 ? DEAD : NULL, i % 2 ? AM_JOB_QUEUED : AM_JOB_IN_FLIGHT);
	pthread_barrier_t go;
	pthread_barrier_init(&go, NULL, 2);
	static racer r[2];
	const char *names[2] = { "401:1", "402:1" };
	for (int i = 0; i < 2; i++) {
		memset(&r[i], 0, sizeof r[i]);
		r[i].alive = (fake){ .live = { names[0], names[1] } };
		r[i].owner = (am_owner){ "", fake_alive, &r[i].alive, NULL };
		snprintf(r[i].owner.id, sizeof r[i].owner.id, "%s", names[i]);
		r[i].go = &go;
	}
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, race, &r[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&go);
	for (int i = 0; i < 2; i++)
		ck_assert_msg(!r[i].err[0], "racer %d: %s", i, r[i].err);
	/* Every job went to exactly one of them, and each holds what it said. */
	ck_assert_int_eq(r[0].n + r[1].n, RACE_JOBS);
	for (int i = 0; i < 2; i++)
		for (int k = 0; k < r[i].n; k++)
			ck_assert_str_eq(owner_of(sc.db, r[i].ids[k], NULL), names[i]);
}
END_TEST

/* ---- recovery --------------------------------------------------------------- */

START_TEST(recovery_leaves_a_live_owners_jobs_alone)
{
	int64_t lf = add_owned(LIVE, AM_JOB_IN_FLIGHT), lw = add_owned(LIVE, AM_JOB_WAITING_LIMIT),
	        la = add_owned(LIVE, AM_JOB_IN_FLIGHT), df = add_owned(DEAD, AM_JOB_IN_FLIGHT),
	        da = add_owned(DEAD, AM_JOB_QUEUED), nw = add_owned(NULL, AM_JOB_WAITING_LIMIT),
	        mf = add_owned(ME, AM_JOB_IN_FLIGHT), db_ = add_owned(DEAD, AM_JOB_BLOCKED_BUDGET);
	record_usage(la); /* the live process recorded it and is about to say done */
	record_usage(da);
	int requeued = -1;
	am_err err = {0};
	ck_assert_msg(am_queue_recover(sc.db, &me, T0 + 5, &requeued, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(requeued, 3); /* df, nw, mf */
	is(lf, LIVE, AM_JOB_IN_FLIGHT);
	is(lw, LIVE, AM_JOB_WAITING_LIMIT);
	is(la, LIVE, AM_JOB_IN_FLIGHT);
	is(df, DEAD, AM_JOB_QUEUED); /* recovery moves states, not owners */
	is(da, DEAD, AM_JOB_DONE);
	is(nw, NULL, AM_JOB_QUEUED);
	is(mf, ME, AM_JOB_QUEUED);
	is(db_, DEAD, AM_JOB_BLOCKED_BUDGET);
	ck_assert_int_eq(liveness.calls, 2);
	ck_assert_int_eq(sqlite3_get_autocommit(sc.db), 1);

	/* Once the live process is gone, its jobs are recovered too. */
	liveness.live[0] = NULL;
	ck_assert_int_eq(am_queue_recover(sc.db, &me, T0 + 6, &requeued, &err), 0);
	ck_assert_int_eq(requeued, 2); /* lf, lw */
	is(la, LIVE, AM_JOB_DONE);
}
END_TEST

/* Inside a caller's transaction recovery and claims join it (a savepoint)
 * and go with its rollback. */
START_TEST(claims_join_an_open_transaction)
{
	int64_t d = add_owned(DEAD, AM_JOB_IN_FLIGHT);
	am_err err = {0};
	ck_assert_int_eq(am_ledger_begin(sc.led, &err), 0);
	int requeued = 0;
	ck_assert_msg(am_queue_recover(sc.db, &me, T0, &requeued, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(requeued, 1);
	int64_t *ids = NULL;
	int n = 0;
	ck_assert_int_eq(am_queue_claim_unfinished(sc.db, &me, 0, &ids, &n, &err), 0);
	assert_ids(ids, n, &d, 1);
	free(ids);
	ck_assert_int_eq(sqlite3_get_autocommit(sc.db), 0);
	am_ledger_rollback(sc.led);
	is(d, DEAD, AM_JOB_IN_FLIGHT);
}
END_TEST

/* ---- migration --------------------------------------------------------------- */

START_TEST(a_version_1_ledger_migrates_with_its_jobs)
{
	char old_path[620];
	snprintf(old_path, sizeof old_path, "%s/v1.db", sc.dir);
	am_ledger *l = NULL;
	am_err err = {0};
	am_ledger_opts o = { .schema_version = 1 };
	ck_assert_msg(am_ledger_open(&l, old_path, &o, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(am_ledger_schema_version(l, NULL), 1);
	sqlite3 *h = am_ledger_db(l);
	/* Version 1 has no owner column: rows as a v1 aimeter wrote them. */
	ck_assert_int_eq(sqlite3_exec(h,
	                              "INSERT INTO jobs(batch_key, state, request, attempts, "
	                              "created_ns, updated_ns) VALUES"
	                              "('b1:a:1', 'done', '{\"a\":1}', 1, 1, 2),"
	                              "('b1:b:2', 'in_flight', '{\"b\":2}', 1, 3, 4),"
	                              "(NULL, 'queued', '{\"c\":3}', 0, 5, 6)",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	ck_assert_int_ne(sqlite3_exec(h, "UPDATE jobs SET owner = 'x'", NULL, NULL, NULL),
	                 SQLITE_OK);
	ck_assert_int_eq(am_test_record_answer(l, 1, T0, &err), 1);
	am_ledger_close(l);

	ck_assert_msg(am_ledger_open(&l, old_path, NULL, &err) == 0, "%s", err.msg);
	h = am_ledger_db(l);
	ck_assert_int_eq(am_ledger_schema_version(l, NULL), AM_LEDGER_SCHEMA_VERSION);
	ck_assert_int_eq(am_pf_i64(h, "SELECT count(*) FROM jobs"), 3);
	ck_assert_int_eq(am_pf_i64(h, "SELECT count(*) FROM jobs WHERE owner IS NULL"), 3);
	ck_assert_int_eq(am_pf_i64(h, "SELECT count(*) FROM usage_events WHERE job_id = 1"), 1);
	am_job j;
	ck_assert_int_eq(am_queue_find(h, "b1:b:2", &j, &err), 1);
	ck_assert_int_eq(j.id, 2);
	ck_assert_int_eq(j.state, AM_JOB_IN_FLIGHT);
	ck_assert_str_eq(j.request, "{\"b\":2}");
	ck_assert_int_eq(j.created_ns, 3);
	ck_assert_ptr_null(j.owner);
	am_job_clear(&j);
	/* Nobody's jobs: the first process to start takes them. */
	int requeued = 0;
	ck_assert_int_eq(am_queue_recover(h, &me, T0, &requeued, &err), 0);
	ck_assert_int_eq(requeued, 1);
	int64_t *ids = NULL;
	int n = 0;
	ck_assert_int_eq(am_queue_claim_unfinished(h, &me, 0, &ids, &n, &err), 0);
	assert_ids(ids, n, (int64_t[]){ 2, 3 }, 2);
	free(ids);
	ck_assert_int_eq(am_pf_i64(h, "SELECT count(*) FROM jobs WHERE owner = '" ME "'"), 2);
	/* New rows carry their owner. */
	int64_t id = 0;
	ck_assert_int_eq(am_queue_add(h, ME, NULL, "{}", NULL, 0, T0, &id, NULL, &err), 0);
	ck_assert_int_eq(id, 4);
	ck_assert_str_eq(owner_of(h, id, NULL), ME);
	am_ledger_close(l);
}
END_TEST

/* A job written by a run of `kind` (jobs.source), owned by owner, in flight. */
static int64_t add_kind(const char *owner, const char *kind)
{
	am_queue_stmts *qs = am_queue_stmts_new(sc.db);
	am_queue_stmts_source(qs, kind);
	int64_t id = 0;
	am_err err = {0};
	ck_assert_msg(am_queue_add_s(qs, owner, NULL, "{}", NULL, 0, T0, &id, NULL, &err) == 0, "%s",
	              err.msg);
	am_queue_stmts_free(qs);
	ck_assert_int_eq(am_queue_update(sc.db, id, AM_JOB_IN_FLIGHT, NULL, NULL, NULL, NULL, 1, T0,
	                                 &err),
	                 0);
	return id;
}

/* A dead process's job goes again only by a run of its own kind, and an
 * ask's by none: recovery ends it ("abandoned"), and no claim takes it. */
START_TEST(a_dead_owners_job_is_taken_only_by_its_kind_and_an_ask_by_none)
{
	int64_t ask = add_kind(DEAD, "ask");
	int64_t console = add_kind(DEAD, "console");
	int64_t batch = add_kind(DEAD, "batch");
	int64_t old = add_kind(DEAD, NULL); /* a v3 row: any kind's */
	am_err err = {0};
	const char *kinds[] = { "batch", "console", "ask" };
	for (int k = 0; k < 3; k++) {
		am_owner o = me;
		o.kind = kinds[k];
		int64_t *ids = NULL;
		int n = 0;
		/* A look at what it would take, rolled back afterwards. */
		ck_assert_int_eq(sqlite3_exec(sc.db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
		ck_assert_msg(am_queue_claim_unfinished(sc.db, &o, 0, &ids, &n, &err) == 0, "%s",
		              err.msg);
		bool took_ask = false, took_console = false, took_batch = false, took_old = false;
		for (int i = 0; i < n; i++) {
			took_ask |= ids[i] == ask;
			took_console |= ids[i] == console;
			took_batch |= ids[i] == batch;
			took_old |= ids[i] == old;
		}
		free(ids);
		ck_assert_int_eq(sqlite3_exec(sc.db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
		ck_assert_msg(!took_ask, "a %s run took a dead ask's job", kinds[k]);
		ck_assert_int_eq(took_console, k == 1);
		ck_assert_int_eq(took_batch, k == 0);
		ck_assert(took_old);
	}
	am_owner b = me;
	b.kind = "batch";
	ck_assert_msg(am_queue_recover(sc.db, &b, T0 + 1, NULL, &err) == 0, "%s", err.msg);
	is(ask, DEAD, AM_JOB_FAILED);
	is(console, DEAD, AM_JOB_QUEUED);
	is(batch, DEAD, AM_JOB_QUEUED);
	/* An ask whose answer was recorded is done, not abandoned. */
	int64_t answered = add_kind(DEAD, "ask");
	record_usage(answered);
	ck_assert_msg(am_queue_recover(sc.db, &b, T0 + 2, NULL, &err) == 0, "%s", err.msg);
	is(answered, DEAD, AM_JOB_DONE);
}
END_TEST

int main(void)
{
	check_fixed_tz();
	Suite *s = suite_create("queue_owner");
	TCase *tc = tcase_create("owner");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, add_writes_the_owner_and_find_reads_it);
	tcase_add_test(tc, claim_takes_nobodys_own_and_dead_jobs_never_a_live_ones);
	tcase_add_test(tc, claim_unfinished_takes_what_it_may_in_id_order);
	tcase_add_test(tc, of_two_claimers_exactly_one_wins);
	tcase_add_test(tc, two_threads_claiming_at_once_split_the_jobs);
	tcase_add_test(tc, recovery_leaves_a_live_owners_jobs_alone);
	tcase_add_test(tc, claims_join_an_open_transaction);
	tcase_add_test(tc, a_version_1_ledger_migrates_with_its_jobs);
	tcase_add_test(tc, a_dead_owners_job_is_taken_only_by_its_kind_and_an_ask_by_none);
	suite_add_tcase(s, tc);
	return check_run(s);
}
