/* `aimeter dashboard --demo` (src/cli/demo.c): the scripted load reaches
 * the real worker and the snapshot moves - requests, tokens, cost, cache
 * hits, a budget alert, 429s from the simulator's squeeze - while a prompt
 * of the observer's own goes through as on the real dashboard; the demo
 * reads no key, no config and no ledger of the user's, and leaves no file.
 *
 * Every wait is on the demo's wake fd, bounded; nothing sleeps for a fixed
 * time. The worker and the simulator run threads, so the suite runs under
 * TSan too. */
#include <check.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_run.h"
#include "clock.h"
#include "demo.h"
#include "money.h"
#include "tmpdir.h"

enum { WAIT_MS = 120000 };

/* What an observer saw, as the UI would: every event drained. */
struct seen {
	int notices, demo_notices, alerts, done, cached;
	int64_t own_id;
	bool own_done;
	int64_t own_cost, own_output;
	size_t own_text;
	am_snapshot snap;
};

static int64_t now_ms(void)
{
	return am_clock_mono(am_clock_system()) / AM_NS_PER_MS;
}

/* One turn of an observer's loop: wait for the wake fd (at most 200 ms),
 * drain everything, take the snapshot. */
static void observe(const am_engine_ops *ops, struct seen *s)
{
	struct pollfd p = { ops->wake_fd(ops->ctx), POLLIN, 0 };
	ck_assert_int_ge(p.fd, 0);
	ck_assert_int_ge(poll(&p, 1, 200), 0);
	am_event ev[64];
	int n;
	while ((n = ops->drain(ops->ctx, ev, 64)) > 0) {
		for (int i = 0; i < n; i++) {
			const am_event *e = &ev[i];
			if (e->kind == AM_EV_NOTICE) {
				s->notices++;
				if (e->text && !strncmp(e->text, "demo: ", 6))
					s->demo_notices++;
			}
			s->alerts += e->kind == AM_EV_ALERT;
			if (e->kind == AM_EV_DONE) {
				s->done++;
				s->cached += e->cached;
			}
			if (e->job_id == s->own_id && s->own_id > 0) {
				if (e->kind == AM_EV_DELTA && e->text)
					s->own_text += strlen(e->text);
				if (e->kind == AM_EV_DONE) {
					s->own_done = true;
					s->own_cost = e->cost_pusd;
					s->own_output = e->usage.output_tokens;
				}
				ck_assert_int_ne(e->kind, AM_EV_FAILED);
			}
			am_event_free(&ev[i]);
		}
	}
	ops->snapshot(ops->ctx, &s->snap);
}

typedef bool (*pred_fn)(const struct seen *);

static bool wait_until(const am_engine_ops *ops, struct seen *s, pred_fn pred)
{
	int64_t end = now_ms() + WAIT_MS;
	while (now_ms() < end) {
		observe(ops, s);
		if (pred(s))
			return true;
	}
	return false;
}

static bool moving(const struct seen *s)
{
	const am_snap_model *t = &s->snap.total;
	return t->requests >= 5 && t->input > 0 && t->output > 0 && t->cost_pusd > 0 &&
	       s->snap.budget.day_spent_pusd > 0 && s->snap.in_flight + s->snap.queue_depth > 0;
}

static bool own_done(const struct seen *s)
{
	return s->own_done;
}

static bool cache_hit(const struct seen *s)
{
	return s->snap.cache.hits > 0 && s->cached > 0;
}

static bool alert_fired(const struct seen *s)
{
	return s->alerts > 0 && s->snap.budget.state != AM_BUDGET_OK;
}

static bool had_429(const struct seen *s)
{
	for (int i = 0; i < s->snap.npools; i++)
		if (s->snap.pool[i].n429 > 0)
			return true;
	return false;
}

static bool file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

START_TEST(scripted_load_moves_the_real_pipeline)
{
	/* A user's environment the demo must ignore: a key, a ledger path, a
	 * config and a data directory that must stay empty. */
	char home[512], user_db[600], cfg_dir[600], data_dir[600];
	ck_assert_int_eq(am_test_tmpdir("demo", home, sizeof home), 0);
	snprintf(user_db, sizeof user_db, "%s/user.db", home);
	snprintf(cfg_dir, sizeof cfg_dir, "%s/config", home);
	snprintf(data_dir, sizeof data_dir, "%s/data", home);
	setenv("ANTHROPIC_API_KEY", "sk-ant-test-never-sent-0000000000000000", 1);
	setenv("AIMETER_DB", user_db, 1);
	setenv("XDG_CONFIG_HOME", cfg_dir, 1);
	setenv("XDG_DATA_HOME", data_dir, 1);

	am_err err;
	am_demo *d = am_demo_start();
	ck_assert_ptr_nonnull(d);
	const am_config *cfg = am_demo_config(d);
	ck_assert_str_eq(cfg->api_key, "");
	char db[AM_CONFIG_PATH_MAX];
	snprintf(db, sizeof db, "%s", cfg->db);
	ck_assert_str_ne(db, user_db);
	ck_assert(file_exists(db));
	am_engine_ops ops = am_demo_ops(d);
	struct seen s;
	memset(&s, 0, sizeof s);

	/* Within seconds the worker is busy with the scripted prompts and the
	 * figures come from its ledger. */
	ck_assert_msg(wait_until(&ops, &s, moving), "the snapshot did not move: %lld requests",
	              (long long)s.snap.total.requests);
	ck_assert(s.snap.simulator);
	ck_assert_msg(!strncmp(s.snap.endpoint, "demo, 127.0.0.1:", 16), "%s", s.snap.endpoint);
	ck_assert_int_ge(s.demo_notices, 1);
	ck_assert_int_gt(am_demo_submitted(d), 0);
	ck_assert_int_eq(s.snap.budget.day_limit_pusd, AM_PUSD_PER_USD / 10);

	/* The observer's own prompt goes through the same pipeline. */
	am_turn t = { "user", "a prompt of the observer's own" };
	am_prompt p = { .turns = &t, .nturns = 1, .stream = true };
	ck_assert_int_eq(ops.submit(ops.ctx, &p, &s.own_id, &err), 0);
	ck_assert_msg(wait_until(&ops, &s, own_done), "the observer's prompt was not answered");
	ck_assert_int_gt(s.own_output, 0);
	ck_assert_int_gt(s.own_text, 0);

	/* Repeated prompts come from the response cache. */
	ck_assert_msg(wait_until(&ops, &s, cache_hit), "no cache hit");
	/* The small daily budget raises an alert. */
	ck_assert_msg(wait_until(&ops, &s, alert_fired), "no budget alert (spent %lld of %lld)",
	              (long long)s.snap.budget.day_spent_pusd,
	              (long long)s.snap.budget.day_limit_pusd);
	/* The simulator's squeeze turns into 429s on the limits panel. */
	ck_assert_msg(wait_until(&ops, &s, had_429), "no 429 from the squeeze");

	am_demo_stop(d);
	/* The temporary ledger is gone, and nothing of the user's was made. */
	ck_assert(!file_exists(db));
	*strrchr(db, '/') = '\0';
	ck_assert_msg(!file_exists(db), "%s is left behind", db);
	ck_assert(!file_exists(user_db));
	ck_assert(!file_exists(cfg_dir));
	ck_assert(!file_exists(data_dir));
	am_test_rmtree(home);
}
END_TEST

int main(void)
{
	check_fixed_tz();
	Suite *s = suite_create("demo");
	TCase *t = tcase_create("demo");
	tcase_set_timeout(t, 300);
	tcase_add_test(t, scripted_load_moves_the_real_pipeline);
	suite_add_tcase(s, t);
	return check_run(s);
}
