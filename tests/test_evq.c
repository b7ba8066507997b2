/* test_evq: the worker's outbox: events come out in order, the wake fd is
 * readable exactly while something is new, deltas past the soft cap are
 * merged without losing text or any other event, and producers on several
 * threads never lose an event or a wake-up while one observer drains. */
#include <check.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evq.h"
#include "check_run.h"

static bool readable(am_evq *q)
{
	struct pollfd p = { am_evq_fd(q), POLLIN, 0 };
	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static void push(am_evq *q, am_event_kind kind, int64_t job, const char *text, int64_t tag)
{
	am_event ev;
	memset(&ev, 0, sizeof ev);
	ev.kind = kind;
	ev.job_id = job;
	ev.cost_pusd = tag;
	ev.text = text ? strdup(text) : NULL;
	am_evq_push(q, &ev);
	ck_assert_ptr_null(ev.text); /* the queue took it */
}

static void free_all(am_event *ev, int n)
{
	for (int i = 0; i < n; i++)
		am_event_free(&ev[i]);
}

START_TEST(events_come_out_in_order)
{
	am_err err = {0};
	am_evq *q = am_evq_new(0, &err);
	ck_assert_ptr_nonnull(q);
	/* More than the ring's first allocation, so it grows while wrapped. */
	for (int i = 0; i < 50; i++)
		push(q, AM_EV_QUEUED, i, NULL, i);
	am_event out[300];
	ck_assert_int_eq(am_evq_drain(q, out, 30), 30);
	for (int i = 0; i < 30; i++)
		ck_assert_int_eq(out[i].cost_pusd, i);
	free_all(out, 30);
	for (int i = 50; i < 250; i++)
		push(q, i % 3 ? AM_EV_DONE : AM_EV_DELTA, i, "t", i);
	ck_assert_int_eq(am_evq_pending(q), 220);
	int n = am_evq_drain(q, out, 300);
	ck_assert_int_eq(n, 220);
	for (int i = 0; i < n; i++) {
		ck_assert_int_eq(out[i].cost_pusd, 30 + i);
		ck_assert_int_eq(out[i].job_id, 30 + i);
	}
	ck_assert_str_eq(out[n - 1].text, "t");
	free_all(out, n);
	ck_assert_int_eq(am_evq_drain(q, out, 300), 0);
	ck_assert_int_eq(am_evq_pending(q), 0);

	am_evq_pushf(q, AM_EV_NOTICE, 0, "limit %s set to %d", "rpm", 50);
	ck_assert_int_eq(am_evq_drain(q, out, 1), 1);
	ck_assert_int_eq(out[0].kind, AM_EV_NOTICE);
	ck_assert_str_eq(out[0].text, "limit rpm set to 50");
	free_all(out, 1);
	/* Events still queued are freed with the queue (ASan checks). */
	push(q, AM_EV_DELTA, 1, "left behind", 0);
	am_evq_free(q);
}
END_TEST

START_TEST(the_wake_fd_is_readable_while_something_is_new)
{
	am_err err = {0};
	am_evq *q = am_evq_new(0, &err);
	ck_assert(!readable(q));
	push(q, AM_EV_STARTED, 1, NULL, 0);
	push(q, AM_EV_DONE, 1, NULL, 0);
	ck_assert(readable(q));
	am_event out[4];
	/* A partial drain leaves it readable: the rest is still new. */
	ck_assert_int_eq(am_evq_drain(q, out, 1), 1);
	free_all(out, 1);
	ck_assert(readable(q));
	ck_assert_int_eq(am_evq_drain(q, out, 4), 1);
	free_all(out, 1);
	ck_assert(!readable(q));
	/* A signal without an event wakes too, and a drain clears it. */
	am_evq_signal(q);
	ck_assert(readable(q));
	ck_assert_int_eq(am_evq_drain(q, out, 4), 0);
	ck_assert(!readable(q));
	am_evq_free(q);
}
END_TEST

START_TEST(deltas_past_the_soft_cap_merge_and_nothing_else_is_lost)
{
	am_err err = {0};
	am_evq *q = am_evq_new(4, &err);
	push(q, AM_EV_STARTED, 1, NULL, 0);
	push(q, AM_EV_DELTA, 1, "a", 0);
	push(q, AM_EV_STARTED, 2, NULL, 0);
	push(q, AM_EV_DELTA, 2, "x", 0);
	/* At the cap: job 1's deltas join its pending delta, even with job 2's
	 * events behind it. */
	for (int i = 0; i < 1000; i++)
		push(q, AM_EV_DELTA, 1, "b", 0);
	push(q, AM_EV_DELTA, 2, "yz", 0);
	ck_assert_int_eq(am_evq_pending(q), 4);
	/* Completions are never merged or dropped, however far past the cap. */
	push(q, AM_EV_DONE, 1, NULL, 11);
	/* A delta after the job's DONE is not folded into text before it. */
	push(q, AM_EV_DELTA, 1, "late", 0);
	for (int i = 0; i < 5000; i++)
		push(q, AM_EV_DONE, 100 + i, NULL, i);
	/* A job with no pending delta gets its first one queued. */
	push(q, AM_EV_DELTA, 3, "new", 0);
	push(q, AM_EV_DELTA, 3, "er", 0);
	int total = am_evq_pending(q);
	ck_assert_int_eq(total, 4 + 2 + 5000 + 1);
	am_event *out = calloc((size_t)total, sizeof *out);
	ck_assert_int_eq(am_evq_drain(q, out, total), total);
	ck_assert_int_eq(out[1].kind, AM_EV_DELTA);
	ck_assert_int_eq(strlen(out[1].text), 1001);
	ck_assert_int_eq(out[1].text[0], 'a');
	ck_assert_int_eq(strspn(out[1].text + 1, "b"), 1000);
	ck_assert_str_eq(out[3].text, "xyz");
	ck_assert_int_eq(out[4].kind, AM_EV_DONE);
	ck_assert_int_eq(out[4].cost_pusd, 11);
	ck_assert_int_eq(out[5].kind, AM_EV_DELTA);
	ck_assert_str_eq(out[5].text, "late");
	for (int i = 0; i < 5000; i++) {
		ck_assert_int_eq(out[6 + i].kind, AM_EV_DONE);
		ck_assert_int_eq(out[6 + i].job_id, 100 + i);
	}
	ck_assert_str_eq(out[total - 1].text, "newer");
	free_all(out, total);
	free(out);
	/* Below the cap again, deltas are queued one by one. */
	push(q, AM_EV_DELTA, 1, "p", 0);
	push(q, AM_EV_DELTA, 1, "q", 0);
	ck_assert_int_eq(am_evq_pending(q), 2);
	am_evq_free(q);
}
END_TEST

/* ---- threads ---------------------------------------------------------------- */

enum { PRODUCERS = 4, JOBS_PER_PRODUCER = 200, DELTAS_PER_JOB = 25 };

struct producer {
	am_evq *q;
	int index;
};

static void *produce(void *arg)
{
	struct producer *p = arg;
	for (int j = 0; j < JOBS_PER_PRODUCER; j++) {
		int64_t job = (int64_t)p->index * 100000 + j;
		am_event ev;
		memset(&ev, 0, sizeof ev);
		ev.kind = AM_EV_STARTED;
		ev.job_id = job;
		am_evq_push(p->q, &ev);
		for (int d = 0; d < DELTAS_PER_JOB; d++) {
			char t[16];
			snprintf(t, sizeof t, "%d,", d);
			memset(&ev, 0, sizeof ev);
			ev.kind = AM_EV_DELTA;
			ev.job_id = job;
			ev.text = strdup(t);
			am_evq_push(p->q, &ev);
		}
		memset(&ev, 0, sizeof ev);
		ev.kind = AM_EV_DONE;
		ev.job_id = job;
		ev.cost_pusd = j;
		am_evq_push(p->q, &ev);
	}
	return NULL;
}

START_TEST(producers_on_threads_lose_no_event_and_no_wake_up)
{
	am_err err = {0};
	/* A small cap, so merging happens while the observer lags. */
	am_evq *q = am_evq_new(16, &err);
	char expect[256] = "";
	for (int d = 0; d < DELTAS_PER_JOB; d++) {
		char t[16];
		snprintf(t, sizeof t, "%d,", d);
		strcat(expect, t);
	}
	pthread_t th[PRODUCERS];
	struct producer pr[PRODUCERS];
	for (int i = 0; i < PRODUCERS; i++) {
		pr[i] = (struct producer){ q, i };
		ck_assert_int_eq(pthread_create(&th[i], NULL, produce, &pr[i]), 0);
	}
	static char text[PRODUCERS][JOBS_PER_PRODUCER][256];
	static int state[PRODUCERS][JOBS_PER_PRODUCER]; /* 0 new, 1 started, 2 done */
	memset(text, 0, sizeof text);
	memset(state, 0, sizeof state);
	int next_done[PRODUCERS] = { 0 };
	int done = 0;
	am_event out[7];
	while (done < PRODUCERS * JOBS_PER_PRODUCER) {
		struct pollfd p = { am_evq_fd(q), POLLIN, 0 };
		int pr_rc = poll(&p, 1, 5000);
		/* Waiting 5 s with events queued would be a lost wake-up. */
		ck_assert_msg(pr_rc == 1, "no wake-up with %d events pending", am_evq_pending(q));
		int n;
		while ((n = am_evq_drain(q, out, 7)) > 0) {
			for (int i = 0; i < n; i++) {
				int who = (int)(out[i].job_id / 100000), j = (int)(out[i].job_id % 100000);
				ck_assert(who >= 0 && who < PRODUCERS && j >= 0 && j < JOBS_PER_PRODUCER);
				switch (out[i].kind) {
				case AM_EV_STARTED:
					ck_assert_int_eq(state[who][j], 0);
					state[who][j] = 1;
					break;
				case AM_EV_DELTA:
					ck_assert_int_eq(state[who][j], 1);
					ck_assert_int_lt(strlen(text[who][j]) + strlen(out[i].text), 256);
					strcat(text[who][j], out[i].text);
					break;
				case AM_EV_DONE:
					ck_assert_int_eq(state[who][j], 1);
					ck_assert_int_eq(out[i].cost_pusd, next_done[who]);
					next_done[who]++;
					state[who][j] = 2;
					ck_assert_str_eq(text[who][j], expect);
					done++;
					break;
				default:
					ck_abort_msg("unexpected event kind %d", out[i].kind);
				}
			}
			free_all(out, n);
		}
	}
	for (int i = 0; i < PRODUCERS; i++)
		pthread_join(th[i], NULL);
	ck_assert_int_eq(am_evq_drain(q, out, 7), 0);
	ck_assert(!readable(q));
	am_evq_free(q);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("evq");
	TCase *tc = tcase_create("evq");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, events_come_out_in_order);
	tcase_add_test(tc, the_wake_fd_is_readable_while_something_is_new);
	tcase_add_test(tc, deltas_past_the_soft_cap_merge_and_nothing_else_is_lost);
	tcase_add_test(tc, producers_on_threads_lose_no_event_and_no_wake_up);
	suite_add_tcase(s, tc);
	return check_run(s);
}
