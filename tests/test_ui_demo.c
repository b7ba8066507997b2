/* The demo engine behind `aimeter dashboard --demo` keeps the engine
 * contract: events in order per job, deltas that add up to the answer,
 * exact costs at published prices reflected in the snapshot, commands that
 * act at once, and a wake fd that becomes readable. It runs a real worker
 * thread, so waits here are real but bounded (and the suite runs under
 * TSan too). */
#include <check.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_run.h"
#include "demo_engine.h"
#include "money.h"

#define USD AM_PUSD_PER_USD

struct run {
	am_event_kind kinds[512];
	int n;
	char text[8192];
	am_event done;
};

/* Drains events of job `id` until it ends or 10 s pass. */
static void run_job(const am_engine_ops *ops, int64_t id, struct run *r)
{
	memset(r, 0, sizeof *r);
	for (int spins = 0; spins < 1000; spins++) {
		struct pollfd p = {ops->wake_fd(ops->ctx), POLLIN, 0};
		poll(&p, 1, 10);
		char b[64];
		if (p.revents & POLLIN)
			ck_assert_int_gt(read(p.fd, b, sizeof b), 0);
		am_event ev[32];
		int n = ops->drain(ops->ctx, ev, 32);
		for (int i = 0; i < n; i++) {
			if (ev[i].job_id == id) {
				if (r->n < 512)
					r->kinds[r->n++] = ev[i].kind;
				if (ev[i].kind == AM_EV_DELTA)
					strncat(r->text, ev[i].text, sizeof r->text - strlen(r->text) - 1);
				if (ev[i].kind == AM_EV_DONE || ev[i].kind == AM_EV_FAILED) {
					r->done = ev[i];
					r->done.text = NULL;
				}
			}
			am_event_free(&ev[i]);
		}
		if (r->n && (r->kinds[r->n - 1] == AM_EV_DONE || r->kinds[r->n - 1] == AM_EV_FAILED))
			return;
	}
	ck_abort_msg("job %lld did not finish", (long long)id);
}

static int64_t submit(const am_engine_ops *ops, const char *text)
{
	am_turn t = {"user", text};
	am_prompt p = {.turns = &t, .nturns = 1, .stream = true};
	int64_t id = -1;
	am_err err;
	ck_assert_int_eq(ops->submit(ops->ctx, &p, &id, &err), 0);
	return id;
}

START_TEST(answer_and_accounting)
{
	ui_demo *d = ui_demo_new();
	const am_engine_ops *ops = ui_demo_ops(d);
	am_snapshot before, after;
	ops->snapshot(ops->ctx, &before);
	ck_assert(before.simulator);
	struct run r;
	run_job(ops, submit(ops, "hello"), &r);
	ck_assert_int_eq(r.kinds[0], AM_EV_QUEUED);
	ck_assert_int_eq(r.kinds[1], AM_EV_STARTED);
	ck_assert_int_eq(r.kinds[r.n - 1], AM_EV_DONE);
	for (int i = 2; i < r.n - 1; i++)
		ck_assert_int_eq(r.kinds[i], AM_EV_DELTA);
	ck_assert_ptr_nonnull(strstr(r.text, "demo engine"));
	/* haiku-4-5: $1/MTok in, $5/MTok out, exactly */
	ck_assert_str_eq(r.done.model, "claude-haiku-4-5");
	ck_assert_int_eq(r.done.cost_pusd,
	                 r.done.usage.input_tokens * 1000000 + r.done.usage.output_tokens * 5000000);
	ck_assert_int_eq(r.done.usage.output_tokens, (int64_t)strlen(r.text) / 4 + 1);
	ops->snapshot(ops->ctx, &after);
	ck_assert_int_gt(after.seq, before.seq);
	ck_assert_int_eq(after.budget.day_spent_pusd - before.budget.day_spent_pusd, r.done.cost_pusd);
	ck_assert_int_eq(after.total.requests, before.total.requests + 1);

	/* The same conversation again comes from the cache, free. */
	run_job(ops, submit(ops, "hello"), &r);
	ck_assert(r.done.cached);
	ck_assert_int_eq(r.done.cost_pusd, 0);
	ops->snapshot(ops->ctx, &before);
	ck_assert_int_eq(before.cache.hits, after.cache.hits + 1);
	ui_demo_free(d);
}
END_TEST

START_TEST(commands_and_failures)
{
	ui_demo *d = ui_demo_new();
	const am_engine_ops *ops = ui_demo_ops(d);
	am_err err;
	am_command c = {.kind = AM_CMD_SET_RPM, .value = 10, .persist = true};
	ck_assert_int_eq(ops->command(ops->ctx, &c, &err), 0);
	c = (am_command){.kind = AM_CMD_SET_BUDGET_DAY, .value = 5 * USD};
	ck_assert_int_eq(ops->command(ops->ctx, &c, &err), 0);
	am_snapshot s;
	ops->snapshot(ops->ctx, &s);
	for (int i = 0; i < s.npools; i++)
		ck_assert_int_eq(s.pool[i].dim[0].limit, 10);
	ck_assert_int_eq(s.budget.day_limit_pusd, 5 * USD);
	c = (am_command){.kind = AM_CMD_SET_MODEL};
	strcpy(c.text, "claude-nonesuch");
	ck_assert_int_eq(ops->command(ops->ctx, &c, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "unknown model"));
	c = (am_command){.kind = AM_CMD_SET_RPM, .value = 10};
	strcpy(c.pool, "nope");
	ck_assert_int_eq(ops->command(ops->ctx, &c, &err), -1);

	struct run r;
	run_job(ops, submit(ops, "please fail"), &r);
	ck_assert_int_eq(r.kinds[r.n - 1], AM_EV_FAILED);
	ck_assert_int_eq(r.done.http_status, 529);

	/* A budget below today's spend blocks until it is raised. */
	c = (am_command){.kind = AM_CMD_SET_BUDGET_DAY, .value = 1 * USD};
	ck_assert_int_eq(ops->command(ops->ctx, &c, &err), 0);
	int64_t id = submit(ops, "blocked?");
	bool blocked = false;
	for (int spins = 0; spins < 300 && !blocked; spins++) {
		usleep(10000);
		am_event ev[16];
		int n = ops->drain(ops->ctx, ev, 16);
		for (int i = 0; i < n; i++) {
			blocked |= ev[i].job_id == id && ev[i].kind == AM_EV_BLOCKED;
			am_event_free(&ev[i]);
		}
	}
	ck_assert(blocked);
	c = (am_command){.kind = AM_CMD_SET_BUDGET_DAY, .value = 100 * USD};
	ck_assert_int_eq(ops->command(ops->ctx, &c, &err), 0);
	run_job(ops, id, &r);
	ck_assert_int_eq(r.kinds[r.n - 1], AM_EV_DONE);
	ui_demo_free(d);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ui_demo");
	TCase *t = tcase_create("demo");
	tcase_set_timeout(t, 60);
	tcase_add_test(t, answer_and_accounting);
	tcase_add_test(t, commands_and_failures);
	suite_add_tcase(s, t);
	return check_run(s);
}
