/* test_limit_core: the limiter's contract on a fake clock, case by case:
 * exact GCRA timings, FIFO and backfill, all-or-nothing grants, failure
 * atomicity, stale time, oversize, settle, run-time limits, next-event
 * timing, concurrency, utilization, numeric extremes (run under UBSan), the
 * model map, the input estimator, the dashboard snapshot, and many callers
 * interleaved on the owner thread. Calibration and 429 handling are in
 * test_limit_feedback.c. */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "limitfix.h"
#include "limiter.h"
#include "snapshot.h"

#define T0 (1000 * LF_S)
#define MS 1000000LL

static int64_t level(am_rl *rl, int pool, int dim, int64_t now)
{
	am_rl_pool_stats st;
	am_rl_stats(rl, pool, now, &st);
	return st.dim[dim].level;
}

static int try1(am_rl *rl, am_rl_ticket *t, int64_t now, int64_t *retry)
{
	am_err err = {0};
	int rc = am_rl_try_acquire(rl, t, now, retry, &err);
	ck_assert_msg(rc >= 0, "try_acquire: %s", err.msg);
	return rc;
}

static int acq(am_rl *rl, am_rl_ticket *t, int64_t now)
{
	am_err err = {0};
	int rc = am_rl_acquire(rl, t, now, &err);
	ck_assert_msg(rc >= 0, "acquire: %s", err.msg);
	return rc;
}

static void settle_as_charged(am_rl *rl, am_rl_ticket *t, int64_t now)
{
	int64_t a[AM_RL_NCOST] = { t->cost[0], t->cost[1], t->cost[2] };
	am_rl_settle(rl, t, a, now);
}

/* One poll at exactly `now`; returns how many tickets changed. */
static int poll_at(am_rl *rl, int64_t now)
{
	am_rl_ticket *out[64];
	return am_rl_poll(rl, now, out, 64);
}

/* ---- exact timings ---------------------------------------------------- */

START_TEST(burst_then_rate)
{
	am_rl_pool_cfg pc = lf_pool("p", 60, 0, 0); /* 1 request/s, bucket 60 */
	am_rl *rl = lf_new(&pc, 1, 32, T0);
	am_rl_ticket t = { 0 };
	int64_t retry = -1;
	for (int i = 0; i < 60; i++) {
		lf_ticket(rl, &t, 0, 1, 0, 0);
		ck_assert_int_eq(try1(rl, &t, T0, &retry), 1);
		settle_as_charged(rl, &t, T0);
	}
	lf_ticket(rl, &t, 0, 1, 0, 0);
	ck_assert_int_eq(try1(rl, &t, T0, &retry), 0);
	ck_assert_int_eq(retry, LF_S);
	ck_assert_int_eq(try1(rl, &t, T0 + LF_S - 1, &retry), 0);
	ck_assert_int_eq(retry, 1);
	ck_assert_int_eq(try1(rl, &t, T0 + LF_S, &retry), 1);
	am_rl_free(rl);
}
END_TEST

START_TEST(reservation_table)
{
	/* 10 tokens/s (T = 100 ms), bucket of 3 tokens, like x/time/rate's
	 * SimpleReserve: each queued request's time is exact. */
	am_rl_pool_cfg pc = lf_pool("p", 0, 600, 0);
	pc.dim[AM_RL_ITOK].burst_ns = 300 * MS;
	am_rl *rl = lf_new(&pc, 1, 0, T0);
	am_rl_ticket a = { 0 }, b = { 0 }, c = { 0 };
	lf_ticket(rl, &a, 0, 1, 2, 0);
	lf_ticket(rl, &b, 0, 1, 2, 0);
	lf_ticket(rl, &c, 0, 1, 3, 0);
	ck_assert_int_eq(acq(rl, &a, T0), 1);
	ck_assert_int_eq(acq(rl, &b, T0), 0);
	ck_assert_int_eq(acq(rl, &c, T0), 0);
	ck_assert_int_eq(am_rl_next_event_ns(rl, T0), T0 + 100 * MS);
	ck_assert_int_eq(poll_at(rl, T0 + 100 * MS - 1), 0);
	ck_assert_int_eq(poll_at(rl, T0 + 100 * MS), 1);
	ck_assert_int_eq(b.state, AM_RL_ST_GRANTED);
	ck_assert_int_eq(b.t_grant, T0 + 100 * MS);
	ck_assert_int_eq(am_rl_next_event_ns(rl, T0 + 100 * MS), T0 + 400 * MS);
	ck_assert_int_eq(poll_at(rl, T0 + 400 * MS), 1);
	ck_assert_int_eq(c.t_grant, T0 + 400 * MS);
	ck_assert_int_eq(am_rl_next_event_ns(rl, T0 + 400 * MS), INT64_MAX);
	am_rl_free(rl);
}
END_TEST

/* Drives the event loop: sleep to the next event, poll, settle as charged.
 * Returns the time of the last grant. */
static int64_t run_queue(am_rl *rl, int64_t now)
{
	int64_t last = now;
	for (;;) {
		int64_t ne = am_rl_next_event_ns(rl, now);
		if (ne == INT64_MAX)
			return last;
		if (ne > now)
			now = ne;
		am_rl_ticket *out[16];
		int n = am_rl_poll(rl, now, out, 16);
		for (int i = 0; i < n; i++) {
			last = out[i]->t_grant;
			settle_as_charged(rl, out[i], now);
		}
	}
}

START_TEST(weight_invariance)
{
	/* acquire(5)+acquire(1) == acquire(2)+acquire(3)+acquire(1), from an
	 * empty bucket: same last grant time, same TAT. */
	int64_t sizes[2][3] = { { 5, 1, 0 }, { 2, 3, 1 } };
	int64_t last[2];
	am_rl_raw raw[2];
	for (int k = 0; k < 2; k++) {
		am_rl_pool_cfg pc = lf_pool("p", 0, 600, 0);
		pc.dim[AM_RL_ITOK].burst_ns = 600 * MS;
		pc.init_fill_ppm = 0;
		am_rl *rl = lf_new(&pc, 1, 0, T0);
		am_rl_ticket t[3];
		memset(t, 0, sizeof t);
		for (int i = 0; i < 3 && sizes[k][i]; i++) {
			lf_ticket(rl, &t[i], 0, 1, sizes[k][i], 0);
			ck_assert_int_eq(acq(rl, &t[i], T0), 0);
		}
		last[k] = run_queue(rl, T0);
		am_rl_export(rl, 0, &raw[k]);
		am_rl_free(rl);
	}
	ck_assert_int_eq(last[0], T0 + 600 * MS);
	ck_assert_int_eq(last[0], last[1]);
	ck_assert_int_eq(raw[0].tat[AM_RL_ITOK], raw[1].tat[AM_RL_ITOK]);
}
END_TEST

/* ---- FIFO and backfill --------------------------------------------------- */

/* Head waits on OTPM; a request that costs no output tokens is backfilled,
 * one that does would delay the head and waits. The head's grant time is
 * the same with and without backfill. */
START_TEST(fifo_backfill_keeps_head_time)
{
	int64_t head_time[2];
	for (int bf = 0; bf < 2; bf++) {
		am_rl_pool_cfg pc = lf_pool("p", 1000, 0, 1000); /* T_out = 60 ms */
		am_rl *rl = lf_new(&pc, 1, bf ? 32 : 0, T0);
		am_rl_ticket big = { 0 }, head = { 0 }, s0 = { 0 }, s1 = { 0 };
		lf_ticket(rl, &big, 0, 1, 0, 900);
		lf_ticket(rl, &head, 0, 1, 0, 500);
		lf_ticket(rl, &s0, 0, 1, 0, 0);
		lf_ticket(rl, &s1, 0, 1, 0, 50);
		ck_assert_int_eq(acq(rl, &big, T0), 1);
		ck_assert_int_eq(acq(rl, &head, T0), 0);
		ck_assert_int_eq(acq(rl, &s0, T0), bf ? 1 : 0);
		ck_assert_int_eq(acq(rl, &s1, T0), 0);
		settle_as_charged(rl, &big, T0);
		if (bf)
			settle_as_charged(rl, &s0, T0);
		/* replay the queue and note when `head` went */
		int64_t now = T0;
		while (head.state == AM_RL_ST_QUEUED) {
			now = am_rl_next_event_ns(rl, now);
			am_rl_ticket *out[8];
			int n = am_rl_poll(rl, now, out, 8);
			for (int i = 0; i < n; i++)
				settle_as_charged(rl, out[i], now);
		}
		head_time[bf] = head.t_grant;
		ck_assert_int_eq(s1.state == AM_RL_ST_QUEUED || s1.t_grant >= head.t_grant, 1);
		am_rl_free(rl);
	}
	/* 400 more output tokens at 1000/min = 24 s */
	ck_assert_int_eq(head_time[0], T0 + 24 * LF_S);
	ck_assert_int_eq(head_time[1], head_time[0]);
}
END_TEST

static int64_t head_plan(am_rl *rl, int64_t now)
{
	am_rl_pool_stats st;
	am_rl_stats(rl, 0, now, &st);
	if (!st.queue_depth || st.head_ready_in_ns == INT64_MAX)
		return INT64_MAX;
	return now + st.head_ready_in_ns;
}

/* Randomised: every backfill (through acquire or poll) leaves the head's
 * planned grant time unchanged or earlier, and grants happen in seq order
 * except for backfills. */
START_TEST(backfill_never_delays_head)
{
	uint64_t rs = 0x1234 + (uint64_t)_i;
	am_rl_pool_cfg pc = lf_pool("p", 600, 60000, 6000);
	pc.init_fill_ppm = 200000;
	pc.max_in_flight = 1000;
	am_rl *rl = lf_new(&pc, 1, 8, T0);
	enum { N = 1000 };
	am_rl_ticket *t = calloc(N, sizeof *t);
	int64_t now = T0;
	int backfills = 0;
	for (int i = 0; i < N; i++) {
		/* zero costs in a dimension are what lets a ticket pass a head
		 * that is bound by that dimension */
		int64_t in = lf_range(&rs, 0, 3) ? lf_range(&rs, 0, 400) : lf_range(&rs, 2000, 20000);
		int64_t ot = lf_range(&rs, 0, 2) ? lf_range(&rs, 0, 50) : lf_range(&rs, 500, 3000);
		if (lf_range(&rs, 0, 2) == 0)
			in = 0;
		else if (lf_range(&rs, 0, 1) == 0)
			ot = 0;
		lf_ticket(rl, &t[i], 0, 1, in, ot);
		am_rl_pool_stats st;
		am_rl_stats(rl, 0, now, &st);
		int64_t before = head_plan(rl, now);
		am_rl_ticket *h = NULL;
		for (int j = 0; j < i; j++)
			if (t[j].state == AM_RL_ST_QUEUED && (!h || t[j].seq < h->seq))
				h = &t[j];
		int rc = acq(rl, &t[i], now);
		if (rc == 1 && st.queue_depth > 0) {
			backfills++;
			ck_assert_int_le(head_plan(rl, now), before);
			ck_assert_int_eq(h->state, AM_RL_ST_QUEUED);
		}
		now += lf_range(&rs, 0, 300) * MS;
		before = head_plan(rl, now);
		am_rl_ticket *out[16];
		int n = am_rl_poll(rl, now, out, 16);
		for (int k = 0; k < n; k++) {
			if (h && out[k] != h && h->state == AM_RL_ST_QUEUED) {
				ck_assert_int_le(head_plan(rl, now), before);
				backfills++;
			}
			settle_as_charged(rl, out[k], now);
		}
	}
	ck_assert_int_gt(backfills, 0);
	free(t);
	am_rl_free(rl);
}
END_TEST

/* A large request at the head is never starved by a stream of small ones. */
START_TEST(large_request_not_starved)
{
	am_rl_pool_cfg pc = lf_pool("p", 0, 60000, 0); /* 1000 tok/s */
	pc.max_in_flight = 100000;
	am_rl *rl = lf_new(&pc, 1, 32, T0);
	am_rl_ticket small[600], big = { 0 };
	memset(small, 0, sizeof small);
	int64_t now = T0;
	int si = 0;
	for (; si < 300; si++) { /* the bucket drains */
		lf_ticket(rl, &small[si], 0, 1, 1000, 0);
		acq(rl, &small[si], now);
	}
	lf_ticket(rl, &big, 0, 1, 50000, 0);
	ck_assert_int_eq(acq(rl, &big, now), 0);
	for (; si < 600; si++) {
		lf_ticket(rl, &small[si], 0, 1, 1000, 0);
		acq(rl, &small[si], now);
	}
	while (big.state == AM_RL_ST_QUEUED) {
		now = am_rl_next_event_ns(rl, now);
		ck_assert_int_ne(now, INT64_MAX);
		poll_at(rl, now);
	}
	/* 60 full + 240 more tokens-thousands before it, then its 50k: the FIFO
	 * bound is (300k - 60k + 50k) / 1000 per s = 290 s. */
	ck_assert_int_eq(big.t_grant, T0 + 290 * LF_S);
	for (int i = 300; i < 600; i++)
		ck_assert_int_eq(small[i].state, AM_RL_ST_QUEUED);
	am_rl_free(rl);
}
END_TEST

START_TEST(all_or_nothing)
{
	am_rl_pool_cfg pc = lf_pool("p", 60, 6000, 600);
	am_rl *rl = lf_new(&pc, 1, 0, T0);
	am_rl_ticket a = { 0 }, h = { 0 };
	lf_ticket(rl, &a, 0, 1, 10, 600);
	ck_assert_int_eq(acq(rl, &a, T0), 1);
	settle_as_charged(rl, &a, T0);
	lf_ticket(rl, &h, 0, 1, 100, 300);
	ck_assert_int_eq(acq(rl, &h, T0), 0);
	am_rl_raw r0, r1;
	am_rl_export(rl, 0, &r0);
	ck_assert_int_eq(poll_at(rl, T0 + 10 * LF_S), 0);
	am_rl_export(rl, 0, &r1);
	for (int d = 0; d < AM_RL_NDIMS; d++)
		ck_assert_int_eq(r0.tat[d], r1.tat[d]);
	am_rl_pool_stats st;
	am_rl_stats(rl, 0, T0 + 10 * LF_S, &st);
	ck_assert_int_eq(st.head_blocked_by, AM_RL_OTOK);
	ck_assert_int_eq(st.head_ready_in_ns, 20 * LF_S);
	ck_assert_int_eq(poll_at(rl, T0 + 30 * LF_S), 1);
	am_rl_export(rl, 0, &r1);
	ck_assert_int_gt(r1.tat[AM_RL_REQ], r0.tat[AM_RL_REQ]);
	ck_assert_int_gt(r1.tat[AM_RL_ITOK], r0.tat[AM_RL_ITOK]);
	ck_assert_int_gt(r1.tat[AM_RL_OTOK], r0.tat[AM_RL_OTOK]);
	am_rl_free(rl);
}
END_TEST

/* ---- failure atomicity ------------------------------------------------ */

static void same_state(am_rl *rl, const am_rl_raw *a)
{
	am_rl_raw b;
	am_rl_export(rl, 0, &b);
	ck_assert_int_eq(memcmp(a, &b, sizeof b), 0);
}

START_TEST(failure_atomicity)
{
	am_rl_pool_cfg pc = lf_pool("p", 60, 6000, 600); /* OTPM: 10 per s */
	pc.short_window_ns = LF_S;
	pc.max_queue = 2;
	am_rl *rl = lf_new(&pc, 1, 32, T0);
	am_rl_ticket a = { 0 }, b = { 0 }, c = { 0 }, x = { 0 };
	am_rl_raw raw;
	am_err err;
	int64_t retry;
	/* drain OTPM, then a failed try at a later time: not even the clamp moves */
	lf_ticket(rl, &a, 0, 1, 10, 600);
	ck_assert_int_eq(acq(rl, &a, T0), 1);
	am_rl_export(rl, 0, &raw);
	lf_ticket(rl, &x, 0, 1, 10, 600);
	ck_assert_int_eq(try1(rl, &x, T0 + 5 * LF_S, &retry), 0);
	ck_assert_int_eq(retry, 55 * LF_S);
	same_state(rl, &raw);
	ck_assert_int_eq(x.state, AM_RL_ST_IDLE);
	/* after a 429 a share step is due: a failed try still changes nothing */
	am_rl_headers h;
	memset(&h, 0, sizeof h);
	h.has_retry_after = true;
	h.retry_after_ns = LF_S;
	h.b[AM_RLH_OUTPUT_TOKENS].present = h.b[AM_RLH_OUTPUT_TOKENS].has_remaining = true;
	am_rl_on_429(rl, &a, &h, AM_RL_OTOK, T0);
	int64_t now = am_rl_next_event_ns(rl, T0);
	ck_assert_int_gt(now, T0 + LF_S);
	ck_assert_int_eq(poll_at(rl, now), 1);
	ck_assert_int_eq(a.state, AM_RL_ST_GRANTED);
	am_rl_export(rl, 0, &raw);
	ck_assert_int_eq(raw.share_ppm[AM_RL_OTOK], 900000);
	ck_assert_int_eq(raw.capacity[AM_RL_OTOK], 600);
	ck_assert_int_lt(raw.recover_at[AM_RL_OTOK], now + 60 * LF_S);
	ck_assert_int_eq(try1(rl, &x, now + 60 * LF_S, &retry), 0);
	same_state(rl, &raw);
	/* oversize and queue-full leave it alone too */
	am_rl_ticket big = { 0 };
	lf_ticket(rl, &big, 0, 1, 6001, 0);
	ck_assert_int_eq(am_rl_acquire(rl, &big, now + 70 * LF_S, &err), -1);
	ck_assert_int_eq(big.code, AM_RL_E2BIG);
	ck_assert_int_eq(am_rl_try_acquire(rl, &big, now + 70 * LF_S, NULL, &err), -1);
	same_state(rl, &raw);
	lf_ticket(rl, &b, 0, 1, 10, 600);
	lf_ticket(rl, &c, 0, 1, 10, 600);
	ck_assert_int_eq(acq(rl, &b, raw.last_now), 0);
	ck_assert_int_eq(acq(rl, &c, raw.last_now), 0);
	am_rl_export(rl, 0, &raw);
	ck_assert_int_eq(am_rl_acquire(rl, &x, now + 70 * LF_S, &err), -1);
	ck_assert_int_eq(x.code, AM_RL_EFULL);
	same_state(rl, &raw);
	/* cancel before grant: buckets byte-identical, only the queue changed */
	am_rl_cancel(rl, &c, raw.last_now);
	am_rl_cancel(rl, &b, raw.last_now);
	am_rl_raw after;
	am_rl_export(rl, 0, &after);
	ck_assert_int_eq(after.queue_depth, 0);
	after.queue_depth = raw.queue_depth;
	ck_assert_int_eq(memcmp(&raw, &after, sizeof raw), 0);
	ck_assert_int_eq(b.state, AM_RL_ST_CANCELLED);
	am_rl_free(rl);
}
END_TEST

/* ---- stale and backward time --------------------------------------------- */

START_TEST(jump_back_never_over_admits)
{
	am_rl_pool_cfg pc = lf_pool("p", 60, 0, 0);
	pc.dim[AM_RL_REQ].burst_ns = LF_S; /* 1/s, bucket 1 */
	am_rl *rl = lf_new(&pc, 1, 0, T0);
	am_rl_ticket t = { 0 };
	int64_t r;
	lf_ticket(rl, &t, 0, 1, 0, 0);
	ck_assert_int_eq(try1(rl, &t, T0 + 10 * LF_S, &r), 1);
	settle_as_charged(rl, &t, T0 + 10 * LF_S);
	lf_ticket(rl, &t, 0, 1, 0, 0);
	ck_assert_int_eq(try1(rl, &t, T0 + 9 * LF_S, &r), 0); /* back 1 s */
	ck_assert_int_eq(try1(rl, &t, T0, &r), 0);            /* back 10 s */
	ck_assert_int_eq(try1(rl, &t, T0 + 10 * LF_S + 999 * MS, &r), 0);
	ck_assert_int_eq(try1(rl, &t, T0 + 11 * LF_S, &r), 1);
	am_rl_raw raw;
	am_rl_export(rl, 0, &raw);
	ck_assert_int_eq(raw.last_now, T0 + 11 * LF_S);
	/* a stale settle or acquire cannot rewind the clamp either */
	settle_as_charged(rl, &t, T0);
	am_rl_export(rl, 0, &raw);
	ck_assert_int_eq(raw.last_now, T0 + 11 * LF_S);
	am_rl_free(rl);
}
END_TEST

/* G5: any permutation of the timestamps admits no more than the sorted
 * sequence does. */
START_TEST(permuted_time_admits_no_more)
{
	uint64_t rs = 77 + (uint64_t)_i;
	enum { N = 2000 };
	int64_t ts[N];
	int64_t t = T0;
	for (int i = 0; i < N; i++) {
		t += lf_range(&rs, 0, 400) * MS;
		ts[i] = t;
	}
	int admitted[2];
	for (int k = 0; k < 2; k++) {
		int64_t seq[N];
		memcpy(seq, ts, sizeof seq);
		if (k == 1) /* adversarial: local shuffles with big backward steps */
			for (int i = N - 1; i > 0; i--) {
				int j = i - (int)lf_range(&rs, 0, i < 50 ? i : 50);
				int64_t tmp = seq[i];
				seq[i] = seq[j];
				seq[j] = tmp;
			}
		am_rl_pool_cfg pc = lf_pool("p", 120, 0, 0);
		pc.dim[AM_RL_REQ].burst_ns = 3 * LF_S;
		am_rl *rl = lf_new(&pc, 1, 0, T0);
		admitted[k] = 0;
		for (int i = 0; i < N; i++) {
			am_rl_ticket x = { 0 };
			lf_ticket(rl, &x, 0, 1, 0, 0);
			if (try1(rl, &x, seq[i], NULL)) {
				admitted[k]++;
				settle_as_charged(rl, &x, seq[i]);
			}
		}
		am_rl_free(rl);
	}
	ck_assert_int_gt(admitted[0], 100);
	ck_assert_int_le(admitted[1], admitted[0]);
}
END_TEST

/* ---- oversize ------------------------------------------------------------- */

START_TEST(oversize_fails_at_once)
{
	am_rl_pool_cfg pc = lf_pool("sonnet-4", 50, 30000, 8000);
	am_rl *rl = lf_new(&pc, 1, 32, T0);
	am_rl_ticket t = { 0 }, q = { 0 }, blocker = { 0 };
	am_err err = {0};
	lf_ticket(rl, &t, 0, 1, 30001, 100);
	ck_assert_int_eq(am_rl_acquire(rl, &t, T0, &err), -1);
	ck_assert_int_eq(t.code, AM_RL_E2BIG);
	ck_assert_ptr_nonnull(strstr(err.msg, "ITPM"));
	ck_assert_ptr_nonnull(strstr(err.msg, "30001"));
	ck_assert_ptr_nonnull(strstr(err.msg, "sonnet-4"));
	lf_ticket(rl, &t, 0, 1, 100, 8001);
	ck_assert_int_eq(am_rl_try_acquire(rl, &t, T0, NULL, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "OTPM"));
	lf_ticket(rl, &t, 0, 1, 30000, 8000); /* exactly the capacity fits */
	ck_assert_int_eq(acq(rl, &t, T0), 1);
	/* a queued request that a lowered limit makes oversize fails, not hangs */
	lf_ticket(rl, &blocker, 0, 1, 1000, 100);
	lf_ticket(rl, &q, 0, 1, 20000, 100);
	ck_assert_int_eq(acq(rl, &blocker, T0), 0);
	ck_assert_int_eq(acq(rl, &q, T0), 0);
	ck_assert_int_eq(am_rl_set_limit(rl, 0, AM_RL_ITOK, 10000, T0, &err), 0);
	int64_t now = T0;
	while (q.state == AM_RL_ST_QUEUED) {
		now = am_rl_next_event_ns(rl, now);
		ck_assert_int_ne(now, INT64_MAX);
		poll_at(rl, now);
	}
	ck_assert_int_eq(q.state, AM_RL_ST_FAILED);
	ck_assert_int_eq(q.code, AM_RL_E2BIG);
	am_rl_free(rl);
}
END_TEST

/* ---- settle ---------------------------------------------------------------- */

START_TEST(settle_debt_and_refund_exact)
{
	am_rl_pool_cfg pc = lf_pool("p", 0, 600, 0); /* T = 100 ms, b = 600 */
	am_rl *rl = lf_new(&pc, 1, 0, T0);
	am_rl_ticket a = { 0 }, b = { 0 };
	am_rl_raw raw;
	lf_ticket(rl, &a, 0, 1, 100, 0);
	ck_assert_int_eq(acq(rl, &a, T0), 1);
	am_rl_export(rl, 0, &raw);
	ck_assert_int_eq(raw.tat[AM_RL_ITOK], T0 + 10 * LF_S);
	int64_t debt[3] = { 1, 150, 0 };
	am_rl_settle(rl, &a, debt, T0);
	am_rl_export(rl, 0, &raw);
	ck_assert_int_eq(raw.tat[AM_RL_ITOK], T0 + 15 * LF_S);
	am_rl_settle(rl, &a, debt, T0); /* twice: no-op */
	am_rl_export(rl, 0, &raw);
	ck_assert_int_eq(raw.tat[AM_RL_ITOK], T0 + 15 * LF_S);
	/* the debt delays the next grant by exactly 50 * T */
	am_rl_ticket c = { 0 };
	int64_t r;
	lf_ticket(rl, &c, 0, 1, 600 - 150 + 1, 0);
	ck_assert_int_eq(try1(rl, &c, T0, &r), 0);
	ck_assert_int_eq(r, 100 * MS);
	/* refund: plain, back to the same TAT as a smaller charge */
	lf_ticket(rl, &b, 0, 1, 100, 0);
	ck_assert_int_eq(acq(rl, &b, T0 + 15 * LF_S), 1); /* TAT = T0+25 s */
	int64_t small[3] = { 1, 40, 0 };
	am_rl_settle(rl, &b, small, T0 + 15 * LF_S);
	am_rl_export(rl, 0, &raw);
	ck_assert_int_eq(raw.tat[AM_RL_ITOK], T0 + 19 * LF_S);
	am_rl_free(rl);
}
END_TEST

START_TEST(refund_capped_by_unconfirmed)
{
	am_rl_pool_cfg pc = lf_pool("p", 0, 600, 0); /* T = 100 ms, b = 600 */
	am_rl *rl = lf_new(&pc, 1, 0, T0);
	am_rl_ticket a = { 0 }, b = { 0 };
	am_rl_raw raw;
	lf_ticket(rl, &a, 0, 1, 300, 0);
	lf_ticket(rl, &b, 0, 1, 100, 0);
	ck_assert_int_eq(acq(rl, &a, T0), 1);
	ck_assert_int_eq(acq(rl, &b, T0), 1); /* TAT = T0 + 40 s */
	am_rl_sent(rl, &a, T0);
	am_rl_sent(rl, &b, T0);
	am_rl_confirm(rl, &a, T0);
	/* at +1 s the level is 210; refunding 300 would give 510 but b is still
	 * unconfirmed (100): the cap is 500 */
	int64_t zero[3] = { 1, 0, 0 };
	am_rl_settle(rl, &a, zero, T0 + LF_S);
	am_rl_export(rl, 0, &raw);
	ck_assert_int_eq(raw.tat[AM_RL_ITOK], T0 + LF_S + 10 * LF_S);
	ck_assert_int_eq(level(rl, 0, AM_RL_ITOK, T0 + LF_S), 500);
	ck_assert_int_eq(raw.unconf[AM_RL_ITOK], 100);
	/* above the cap already: no refund at all */
	am_rl_ticket c = { 0 };
	lf_ticket(rl, &c, 0, 1, 50, 0);
	ck_assert_int_eq(acq(rl, &c, T0 + 9 * LF_S), 1);
	am_rl_confirm(rl, &c, T0 + 9 * LF_S);
	int64_t before = level(rl, 0, AM_RL_ITOK, T0 + 9 * LF_S);
	ck_assert_int_eq(before, 530);
	am_rl_settle(rl, &c, zero, T0 + 9 * LF_S);
	ck_assert_int_eq(level(rl, 0, AM_RL_ITOK, T0 + 9 * LF_S), before);
	am_rl_free(rl);
}
END_TEST

/* ---- run-time limits --------------------------------------------------------- */

START_TEST(limit_change_continuity)
{
	am_rl_pool_cfg pc = lf_pool("p", 50, 0, 0); /* T = 1.2 s, b = 50 */
	am_rl *rl = lf_new(&pc, 1, 0, T0);
	am_err err;
	am_rl_ticket t = { 0 };
	int64_t r;
	/* lowering 50 -> 10 acts on the next grant: 10 fit, then 6 s apart */
	ck_assert_int_eq(am_rl_set_limit(rl, 0, AM_RL_REQ, 10, T0, &err), 0);
	int n = 0;
	for (;; n++) {
		lf_ticket(rl, &t, 0, 1, 0, 0);
		if (!try1(rl, &t, T0, &r))
			break;
		settle_as_charged(rl, &t, T0);
	}
	ck_assert_int_eq(n, 10);
	ck_assert_int_eq(r, 6 * LF_S);
	/* raising 10 -> 50 grants no burst: still empty, now 1.2 s apart */
	ck_assert_int_eq(am_rl_set_limit(rl, 0, AM_RL_REQ, 50, T0, &err), 0);
	ck_assert_int_eq(try1(rl, &t, T0, &r), 0);
	ck_assert_int_eq(r, 1200 * MS);
	ck_assert_int_eq(level(rl, 0, AM_RL_REQ, T0), 0);
	/* a queued head is re-planned at once */
	ck_assert_int_eq(acq(rl, &t, T0), 0);
	ck_assert_int_eq(am_rl_next_event_ns(rl, T0), T0 + 1200 * MS);
	ck_assert_int_eq(am_rl_set_limit(rl, 0, AM_RL_REQ, 5, T0, &err), 0);
	ck_assert_int_eq(am_rl_next_event_ns(rl, T0), T0 + 12 * LF_S);
	/* 0 = no limit, as in the config: the queued head goes at once, and so
	 * does any number after it */
	ck_assert_int_eq(am_rl_set_limit(rl, 0, AM_RL_REQ, 0, T0, &err), 0);
	ck_assert_int_le(am_rl_next_event_ns(rl, T0), T0);
	poll_at(rl, T0);
	ck_assert_int_eq(t.state, AM_RL_ST_GRANTED);
	settle_as_charged(rl, &t, T0);
	for (int i = 0; i < 1000; i++) {
		lf_ticket(rl, &t, 0, 1, 0, 0);
		ck_assert_int_eq(try1(rl, &t, T0, &r), 1);
		settle_as_charged(rl, &t, T0);
	}
	ck_assert_int_eq(am_rl_set_limit(rl, 0, AM_RL_REQ, -1, T0, &err), -1);
	ck_assert_int_eq(am_rl_set_limit(rl, 5, AM_RL_REQ, 10, T0, &err), -1);
	am_rl_free(rl);
}
END_TEST

/* ---- events and concurrency ------------------------------------------------- */

START_TEST(concurrency_cap_and_next_event)
{
	am_rl_pool_cfg pc = lf_pool("p", 1000, 0, 0);
	pc.max_in_flight = 2;
	am_rl *rl = lf_new(&pc, 1, 32, T0);
	am_rl_ticket t[3];
	memset(t, 0, sizeof t);
	for (int i = 0; i < 3; i++)
		lf_ticket(rl, &t[i], 0, 1, 0, 0);
	ck_assert_int_eq(am_rl_next_event_ns(rl, T0), INT64_MAX);
	ck_assert_int_eq(acq(rl, &t[0], T0), 1);
	ck_assert_int_eq(acq(rl, &t[1], T0), 1);
	ck_assert_int_eq(acq(rl, &t[2], T0), 0);
	ck_assert_int_eq(am_rl_next_event_ns(rl, T0), INT64_MAX); /* only a settle helps */
	am_rl_pool_stats st;
	am_rl_stats(rl, 0, T0, &st);
	ck_assert_int_eq(st.head_blocked_by, AM_RL_BLOCK_CONC);
	ck_assert_int_eq(st.in_flight, 2);
	am_rl_cancel(rl, &t[0], T0 + MS);
	ck_assert_int_eq(am_rl_next_event_ns(rl, T0 + MS), T0 + MS);
	ck_assert_int_eq(poll_at(rl, T0 + MS), 1);
	ck_assert_int_eq(t[2].state, AM_RL_ST_GRANTED);
	/* overload: the cap drops and climbs back */
	ck_assert_int_eq(am_rl_set_max_in_flight(rl, 0, 20, NULL), 0);
	am_rl_on_overload(rl, &t[1], T0 + MS);
	am_rl_stats(rl, 0, T0 + MS, &st);
	ck_assert_int_eq(st.max_in_flight, 18);
	ck_assert_int_eq(t[1].state, AM_RL_ST_SETTLED);
	for (int i = 0; i < 40; i++) {
		am_rl_ticket x = { 0 };
		lf_ticket(rl, &x, 0, 1, 0, 0);
		ck_assert_int_eq(try1(rl, &x, T0 + LF_S, NULL), 1);
		settle_as_charged(rl, &x, T0 + LF_S);
	}
	am_rl_stats(rl, 0, T0 + LF_S, &st);
	ck_assert_int_eq(st.max_in_flight, 20);
	am_rl_free(rl);
}
END_TEST

/* ---- utilization --------------------------------------------------------------- */

struct util_case {
	int64_t limit, period, burst;
	int64_t cost_lo, cost_hi;
	int64_t warm, window;
};

/* Infinite backlog on one dimension (ITOK): granted units over the window are
 * within [0.99 r W, b + r W + 1]. */
static void utilization(const struct util_case *c, uint64_t seed)
{
	am_rl_pool_cfg pc = lf_pool("p", 0, 0, 0);
	pc.dim[AM_RL_ITOK].limit = c->limit;
	pc.dim[AM_RL_ITOK].period_ns = c->period;
	pc.dim[AM_RL_ITOK].burst_ns = c->burst;
	pc.init_fill_ppm = 0;
	pc.max_queue = 64;
	am_rl *rl = lf_new(&pc, 1, 32, T0);
	am_rl_ticket q[8];
	memset(q, 0, sizeof q);
	int64_t now = T0, end = T0 + c->warm + c->window;
	lf_i128 granted = 0;
	for (int i = 0; i < 8; i++) {
		lf_ticket(rl, &q[i], 0, 0, lf_range(&seed, c->cost_lo, c->cost_hi), 0);
		acq(rl, &q[i], now);
	}
	while (now <= end) {
		int64_t ne = am_rl_next_event_ns(rl, now);
		ck_assert_int_ne(ne, INT64_MAX);
		now = ne > now ? ne : now;
		if (now > end)
			break;
		am_rl_ticket *out[8];
		int n = am_rl_poll(rl, now, out, 8);
		for (int i = 0; i < n; i++) {
			if (out[i]->t_grant >= T0 + c->warm)
				granted += out[i]->cost[AM_RL_ITOK];
			settle_as_charged(rl, out[i], now);
			lf_ticket(rl, out[i], 0, 0, lf_range(&seed, c->cost_lo, c->cost_hi), 0);
			acq(rl, out[i], now);
		}
	}
	am_rl_pool_stats st;
	am_rl_stats(rl, 0, now, &st);
	lf_i128 ideal = (lf_i128)c->limit * c->window / c->period;
	ck_assert_msg(granted * 100 >= ideal * 99 - (lf_i128)c->cost_hi * 100,
		      "limit %lld/%lld ns: granted %lld of ideal %lld", (long long)c->limit,
		      (long long)c->period, (long long)granted, (long long)ideal);
	ck_assert(granted <= ideal + st.dim[AM_RL_ITOK].capacity + 1);
	am_rl_free(rl);
}

START_TEST(utilization_infinite_backlog)
{
	static const struct util_case cases[] = {
		/* 1/hour, unit costs, over 200 hours */
		{ 1, 3600 * LF_S, 3600 * LF_S, 1, 1, 3600 * LF_S, 200 * 3600 * LF_S },
		/* Tier-2 RPM-like, unit costs */
		{ 1000, LF_MIN, LF_MIN, 1, 1, 2 * LF_MIN, 10 * LF_MIN },
		/* 450k ITPM with random costs 1..20000 */
		{ 450000, LF_MIN, LF_MIN, 1, 20000, 2 * LF_MIN, 10 * LF_MIN },
		/* 10^7 per second, costs up to 10^5 */
		{ 10000000, LF_S, LF_S, 1000, 100000, 2 * LF_S, 60 * LF_S },
		/* 10^9 per second (1 ns per unit), unit-ish costs */
		{ 1000000000, LF_S, LF_S / 1000, 1000, 5000, LF_S / 100, LF_S / 10 },
	};
	utilization(&cases[_i], 42 + (uint64_t)_i);
}
END_TEST

/* ---- numeric extremes (UBSan) --------------------------------------------------- */

START_TEST(extreme_one_per_day_near_2_62)
{
	const int64_t day = 86400 * LF_S;
	const int64_t t0 = ((int64_t)1 << 62) - 100 * day;
	am_rl_pool_cfg pc = lf_pool("p", 0, 0, 0);
	pc.dim[AM_RL_REQ].limit = 1;
	pc.dim[AM_RL_REQ].period_ns = day;
	am_rl *rl = lf_new(&pc, 1, 32, t0);
	am_rl_ticket t = { 0 };
	int64_t r;
	lf_ticket(rl, &t, 0, 1, 0, 0);
	ck_assert_int_eq(try1(rl, &t, t0, &r), 1);
	settle_as_charged(rl, &t, t0);
	lf_ticket(rl, &t, 0, 1, 0, 0);
	ck_assert_int_eq(try1(rl, &t, t0 + day - 1, &r), 0);
	ck_assert_int_eq(r, 1);
	ck_assert_int_eq(try1(rl, &t, t0 + day, &r), 1);
	/* an absurd debt saturates instead of wrapping */
	int64_t huge[3] = { INT64_MAX, 0, 0 };
	am_rl_settle(rl, &t, huge, t0 + day);
	lf_ticket(rl, &t, 0, 1, 0, 0);
	ck_assert_int_eq(try1(rl, &t, t0 + 50 * day, &r), 0);
	ck_assert_int_gt(r, 50 * day);
	ck_assert_int_lt(level(rl, 0, AM_RL_REQ, t0 + 50 * day), 0);
	am_rl_free(rl);
}
END_TEST

START_TEST(extreme_billion_per_second)
{
	const int64_t t0 = ((int64_t)1 << 62) - 1000 * LF_S;
	am_rl_pool_cfg pc = lf_pool("p", 0, 0, 0);
	pc.dim[AM_RL_ITOK].limit = 1000000000;
	pc.dim[AM_RL_ITOK].period_ns = LF_S;
	pc.dim[AM_RL_ITOK].burst_ns = (int64_t)1 << 40; /* b = 2^40 units */
	am_rl *rl = lf_new(&pc, 1, 32, t0);
	am_rl_ticket t = { 0 };
	int64_t r;
	lf_ticket(rl, &t, 0, 0, (int64_t)1 << 40, 0);
	ck_assert_int_eq(try1(rl, &t, t0, &r), 1);
	settle_as_charged(rl, &t, t0);
	lf_ticket(rl, &t, 0, 0, 1000, 0);
	ck_assert_int_eq(try1(rl, &t, t0, &r), 0);
	ck_assert_int_eq(r, 1000); /* 1 ns per unit */
	ck_assert_int_eq(try1(rl, &t, t0 + 1000, &r), 1);
	am_rl_free(rl);
}
END_TEST

START_TEST(extreme_random_ops)
{
	uint64_t rs = 99 + (uint64_t)_i;
	const int64_t day = 86400 * LF_S;
	for (int round = 0; round < 40; round++) {
		/* rates from 1/day to 10^9/s */
		int64_t period = lf_range(&rs, 0, 1) ? day : LF_S;
		int64_t limit = period == day ? lf_range(&rs, 1, 1000) : lf_range(&rs, 1, 1000000000);
		int64_t t0 = lf_range(&rs, 0, ((int64_t)1 << 62) - 1000 * day);
		am_rl_pool_cfg pc = lf_pool("p", 0, 0, 0);
		for (int d = 0; d < AM_RL_NCOST; d++) {
			pc.dim[d].limit = limit;
			pc.dim[d].period_ns = period;
		}
		pc.max_in_flight = 8;
		am_rl *rl = lf_new(&pc, 1, 4, t0);
		am_rl_ticket t[8];
		memset(t, 0, sizeof t);
		int64_t now = t0;
		for (int op = 0; op < 300; op++) {
			am_rl_ticket *x = &t[lf_range(&rs, 0, 7)];
			int k = (int)lf_range(&rs, 0, 5);
			int64_t big = lf_range(&rs, 0, (int64_t)1 << 40);
			if (x->state == AM_RL_ST_IDLE || x->state == AM_RL_ST_SETTLED ||
			    x->state == AM_RL_ST_CANCELLED || x->state == AM_RL_ST_FAILED) {
				int64_t c[3] = { lf_range(&rs, 0, 2), big % (limit + 1), big % 7 };
				am_rl_ticket_init(rl, x, 0, c, NULL, NULL);
				am_rl_acquire(rl, x, now, NULL);
			} else if (k == 0) {
				int64_t a[3] = { 1, big, lf_range(&rs, 0, INT64_MAX) };
				am_rl_settle(rl, x, a, now);
			} else if (k == 1) {
				am_rl_cancel(rl, x, now);
			} else if (k == 2) {
				am_rl_headers h;
				memset(&h, 0, sizeof h);
				h.has_retry_after = true;
				h.retry_after_ns = lf_range(&rs, 0, INT64_MAX / 4);
				am_rl_on_429(rl, x, &h, (int)lf_range(&rs, -1, 2), now);
			} else {
				am_rl_set_limit(rl, 0, (int)lf_range(&rs, 0, 2),
						lf_range(&rs, 1, (int64_t)1 << 40), now, NULL);
			}
			now += lf_range(&rs, 0, 3) == 0 ? -lf_range(&rs, 0, day)
							: lf_range(&rs, 0, 10 * day);
			am_rl_ticket *out[8];
			am_rl_poll(rl, now, out, 8);
			am_rl_next_event_ns(rl, now);
			am_rl_pool_stats st;
			am_rl_stats(rl, 0, now, &st);
			for (int d = 0; d < AM_RL_NDIMS; d++)
				ck_assert_int_le(st.dim[d].level, st.dim[d].capacity);
		}
		am_rl_free(rl);
	}
}
END_TEST

START_TEST(config_out_of_range_rejected)
{
	am_rl_pool_cfg pc = lf_pool("p", 0, 0, 0);
	pc.dim[AM_RL_REQ].limit = 1;
	pc.dim[AM_RL_REQ].period_ns = 86400 * LF_S;
	pc.dim[AM_RL_REQ].burst_ns = ((int64_t)1 << 56); /* 2^56 ns bucket at 1/day: fine */
	am_rl_cfg cfg;
	am_rl_cfg_init(&cfg);
	cfg.pools = &pc;
	cfg.npools = 1;
	am_rl *rl = NULL;
	am_err err;
	ck_assert_int_eq(am_rl_create(&rl, &cfg, T0, &err), 0);
	am_rl_free(rl);
	pc.dim[AM_RL_REQ].limit = (int64_t)1 << 40; /* 2^40 per day, bucket 2^56 ns */
	ck_assert_int_eq(am_rl_create(&rl, &cfg, T0, &err), 0);
	am_rl_free(rl);
	pc.dim[AM_RL_REQ].limit = -1;
	ck_assert_int_eq(am_rl_create(&rl, &cfg, T0, &err), -1);
	ck_assert_ptr_null(rl);
	pc.dim[AM_RL_REQ].limit = 10;
	pc.dim[AM_RL_REQ].period_ns = ((int64_t)1 << 60);
	ck_assert_int_eq(am_rl_create(&rl, &cfg, T0, &err), -1);
	am_rl_pool_cfg two[2] = { lf_pool("a", 1, 1, 1), lf_pool("a", 1, 1, 1) };
	cfg.pools = two;
	cfg.npools = 2;
	ck_assert_int_eq(am_rl_create(&rl, &cfg, T0, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "twice"));
	am_rl_ticket t = { 0 };
	int64_t neg[3] = { 1, -5, 0 };
	two[1] = lf_pool("b", 1, 1, 1);
	ck_assert_int_eq(am_rl_create(&rl, &cfg, T0, &err), 0);
	ck_assert_int_eq(am_rl_ticket_init(rl, &t, 0, neg, NULL, &err), -1);
	ck_assert_int_eq(t.code, AM_RL_EINVAL);
	ck_assert_int_eq(am_rl_ticket_init(rl, &t, 7, neg, NULL, &err), -1);
	am_rl_free(rl);
}
END_TEST

/* ---- model map ----------------------------------------------------------------- */

START_TEST(model_to_pool)
{
	am_rl_pool_cfg pcs[4] = { lf_pool("default", 50, 1, 1), lf_pool("opus-4", 50, 1, 1),
				  lf_pool("haiku-3", 50, 1, 1), lf_pool("fast", 50, 1, 1) };
	am_rl_map map[2] = { { "claude-sonnet-4*", "fast" }, { "claude-sonnet-4-5-x", "opus-4" } };
	am_rl_cfg cfg;
	am_rl_cfg_init(&cfg);
	cfg.pools = pcs;
	cfg.npools = 4;
	cfg.map = map;
	cfg.nmap = 2;
	am_rl *rl = NULL;
	am_err err;
	ck_assert_int_eq(am_rl_create(&rl, &cfg, T0, &err), 0);
	ck_assert_int_eq(am_rl_pool_for_model(rl, "claude-opus-4-5-20251101"), 1);
	ck_assert_int_eq(am_rl_pool_for_model(rl, "claude-opus-4-1"), 1);
	ck_assert_int_eq(am_rl_pool_for_model(rl, "claude-3-5-haiku-20241022"), 2);
	ck_assert_int_eq(am_rl_pool_for_model(rl, "claude-sonnet-4-20250514"), 3);
	ck_assert_int_eq(am_rl_pool_for_model(rl, "claude-sonnet-4-5-x"), 1);
	ck_assert_int_eq(am_rl_pool_for_model(rl, "gpt-4o"), 0);
	ck_assert_int_eq(am_rl_pool_for_model(rl, NULL), 0);
	ck_assert_str_eq(am_rl_pool_name(rl, 1), "opus-4");
	ck_assert_int_eq(am_rl_npools(rl), 4);
	am_rl_free(rl);
	map[0].pool = "nope";
	ck_assert_int_eq(am_rl_create(&rl, &cfg, T0, &err), -1);
}
END_TEST

/* ---- input estimator --------------------------------------------------------- */

START_TEST(input_estimator)
{
	am_rl_pool_cfg pc = lf_pool("p", 50, 1, 1);
	am_rl *rl = lf_new(&pc, 1, 32, T0);
	/* default: 1 token per 3 bytes, rounded up */
	ck_assert_int_eq(am_rl_estimate_input(rl, "m", 3000), 1001);
	ck_assert_int_eq(am_rl_estimate_input(rl, "m", 0), 1);
	/* few samples below the default: the default still rules */
	for (int i = 0; i < 3; i++)
		am_rl_learn_input(rl, "m", 4000, 1000);
	ck_assert_int_eq(am_rl_estimate_input(rl, "m", 3000), 1001);
	/* enough samples: the 90th percentile plus 2% */
	uint64_t rs = 5;
	int64_t tokens[32];
	for (int i = 0; i < 32; i++) {
		tokens[i] = 900 + lf_range(&rs, 0, 200); /* 0.225 .. 0.275 per byte */
		am_rl_learn_input(rl, "m", 4000, tokens[i]);
	}
	int64_t est = am_rl_estimate_input(rl, "m", 4000);
	int above = 0;
	for (int i = 0; i < 32; i++)
		above += tokens[i] > est;
	ck_assert_int_le(above, 3);
	ck_assert_int_le(est, 1100 * 102 / 100 + 1);
	ck_assert_int_lt(est, 1001 * 4 / 3); /* learned below the default */
	/* another model is separate */
	ck_assert_int_eq(am_rl_estimate_input(rl, "other", 3000), 1001);
	/* more models than slots: still answers */
	char name[32];
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof name, "m%d", i);
		am_rl_learn_input(rl, name, 100, 50);
	}
	ck_assert_int_ge(am_rl_estimate_input(rl, "m39", 100), 50);
	am_rl_free(rl);
}
END_TEST

/* ---- snapshot ---------------------------------------------------------------- */

START_TEST(snapshot_fill)
{
	am_rl_pool_cfg pc = lf_pool("sonnet-4", 1000, 450000, 90000);
	pc.short_window_ns = LF_S;
	am_rl *rl = lf_new(&pc, 1, 0, T0);
	am_rl_ticket a = { 0 }, b = { 0 };
	lf_ticket(rl, &a, 0, 1, 1000, 90000);
	lf_ticket(rl, &b, 0, 1, 1000, 1000);
	ck_assert_int_eq(acq(rl, &a, T0), 1);
	ck_assert_int_eq(acq(rl, &b, T0), 0);
	am_snap_pool sp;
	am_snap_pool_fill(rl, 0, T0 + 100 * MS, &sp);
	ck_assert_str_eq(sp.name, "sonnet-4");
	ck_assert_int_eq(sp.ndims, 4);
	ck_assert_str_eq(sp.dim[0].name, "RPM");
	ck_assert_str_eq(sp.dim[1].name, "RPM/s");
	ck_assert_str_eq(sp.dim[2].name, "ITPM");
	ck_assert_str_eq(sp.dim[3].name, "OTPM");
	ck_assert_int_eq(sp.dim[1].limit, 16);
	ck_assert_int_eq(sp.dim[1].capacity, 16);
	ck_assert_int_eq(sp.dim[2].limit, 450000);
	/* 100 ms of 1500/s; charges round up by < 1 ns, so the floor may be 149 */
	ck_assert_int_ge(sp.dim[3].level, 149);
	ck_assert_int_le(sp.dim[3].level, 150);
	ck_assert(sp.dim[3].blocks_head);
	ck_assert(!sp.dim[2].blocks_head);
	ck_assert_int_eq(sp.dim[3].share_ppm, 1000000);
	ck_assert_int_eq(sp.queue_depth, 1);
	ck_assert_int_eq(sp.in_flight, 1);
	ck_assert_int_eq(sp.concurrency_cap, 64);
	ck_assert_int_eq(sp.head_wait_ns, 100 * MS);
	ck_assert_int_ge(sp.head_ready_in_ns, 566666666); /* 850 more at 1500/s */
	ck_assert_int_le(sp.head_ready_in_ns, 566666668);
	am_rl_free(rl);
}
END_TEST

/* ---- many clients, one owner ------------------------------------------------ */

/* A frozen clock and a full bucket of 1000 input tokens: of 4000 attempts
 * at 7 each, exactly floor(1000 / 7) are granted, whatever came before. */
START_TEST(frozen_clock_exact_grants)
{
	am_rl_pool_cfg pc = lf_pool("p", 0, 1000, 0); /* b = 1000 */
	pc.max_in_flight = 100000;
	am_rl *rl = lf_new(&pc, 1, 32, T0);
	int granted = 0;
	for (int i = 0; i < 4000; i++) {
		am_rl_ticket t = { 0 };
		lf_ticket(rl, &t, 0, 1, 7, 0);
		granted += try1(rl, &t, T0, NULL);
	}
	ck_assert_int_eq(granted, 1000 / 7);
	am_rl_free(rl);
}
END_TEST

/* The worker's interleaving, on one thread: NCLIENT callers, each holding one
 * ticket at a time, take turns in a random order with the poller (grants
 * queue heads when next_event says so) and the dashboard (snapshot, input
 * estimator). A caller reads its time one turn and uses it a later turn, so
 * times arrive out of order and the clamp has work to do. Queued tickets are
 * cancelled after a while (a cancel of a ticket the poller granted refunds
 * it). At the end nothing is in flight, and on every dimension what was used
 * is at most rate * elapsed + 1 (the bucket started empty; no debts). */
#define NCLIENT 8

struct client {
	am_rl_ticket t;
	int stage;       /* 0 idle, 1 time read, 2 granted, 3 queued */
	int64_t now;     /* the time read at stage 1 */
	int waits;
};

static bool busy(const struct client *cl)
{
	for (int i = 0; i < NCLIENT; i++)
		if (cl[i].stage)
			return true;
	return false;
}

START_TEST(interleaved_clients_bounds)
{
	am_rl_pool_cfg pc = lf_pool("p", 6000, 3000000, 300000);
	pc.short_window_ns = LF_S;
	pc.init_fill_ppm = 0;
	am_rl *rl = lf_new(&pc, 1, 8, T0);
	uint64_t rs = 12345 + (uint64_t)_i;
	struct client cl[NCLIENT];
	memset(cl, 0, sizeof cl);
	int64_t clock = T0, used[AM_RL_NCOST] = { 0, 0, 0 };
	int left = 3000 * NCLIENT;
	while (left > 0 || busy(cl)) {
		int who = (int)lf_range(&rs, 0, NCLIENT + 1);
		if (who == NCLIENT) { /* the poller */
			if (am_rl_next_event_ns(rl, clock) <= clock)
				poll_at(rl, clock);
			continue;
		}
		if (who == NCLIENT + 1) { /* the dashboard */
			am_snap_pool sp;
			am_snap_pool_fill(rl, 0, clock, &sp);
			LF_CHECK(sp.in_flight <= NCLIENT, "%d in flight", sp.in_flight);
			am_rl_estimate_input(rl, "m", 1000);
			am_rl_learn_input(rl, "m", 1000, 300);
			continue;
		}
		struct client *c = &cl[who];
		switch (c->stage) {
		case 0:
			if (left <= 0)
				break;
			left--;
			c->now = clock;
			clock += lf_range(&rs, 0, 200000);
			c->stage = 1;
			break;
		case 1: {
			lf_ticket(rl, &c->t, 0, 1, lf_range(&rs, 1, 3000), lf_range(&rs, 0, 500));
			int rc = lf_range(&rs, 0, 1) ? try1(rl, &c->t, c->now, NULL)
						     : acq(rl, &c->t, c->now);
			c->stage = rc == 1 ? 2 : rc == 0 && c->t.state == AM_RL_ST_QUEUED ? 3 : 0;
			c->waits = 0;
			break;
		}
		case 2: {
			am_rl_sent(rl, &c->t, clock);
			int64_t a[AM_RL_NCOST] = { 1, c->t.cost[1] * lf_range(&rs, 50, 100) / 100,
						   lf_range(&rs, 0, c->t.cost[2]) };
			for (int d = 0; d < AM_RL_NCOST; d++)
				used[d] += a[d];
			am_rl_settle(rl, &c->t, a, clock);
			LF_CHECK(c->t.state == AM_RL_ST_SETTLED, "state %d", c->t.state);
			c->stage = 0;
			break;
		}
		case 3:
			if (++c->waits < 50) {
				am_rl_pool_next_event_ns(rl, 0, clock);
				break;
			}
			am_rl_cancel(rl, &c->t, clock);
			LF_CHECK(c->t.state == AM_RL_ST_CANCELLED, "state %d", c->t.state);
			c->stage = 0;
			break;
		}
	}
	int64_t elapsed = clock - T0;
	am_rl_pool_stats st;
	am_rl_stats(rl, 0, clock, &st);
	ck_assert_int_eq(st.in_flight, 0);
	ck_assert_int_eq(st.queue_depth, 0);
	for (int d = 0; d < AM_RL_NCOST; d++) {
		lf_i128 bound = (lf_i128)st.dim[d].limit * elapsed / st.dim[d].period_ns + 1;
		ck_assert_msg(used[d] <= bound, "dim %d: %lld used, bound %lld", d,
			      (long long)used[d], (long long)bound);
		ck_assert_int_gt(used[d], 0);
	}
	am_rl_free(rl);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("limit_core");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, burst_then_rate);
	tcase_add_test(tc, reservation_table);
	tcase_add_test(tc, weight_invariance);
	tcase_add_test(tc, fifo_backfill_keeps_head_time);
	tcase_add_loop_test(tc, backfill_never_delays_head, 0, 20);
	tcase_add_test(tc, large_request_not_starved);
	tcase_add_test(tc, all_or_nothing);
	tcase_add_test(tc, failure_atomicity);
	tcase_add_test(tc, jump_back_never_over_admits);
	tcase_add_loop_test(tc, permuted_time_admits_no_more, 0, 20);
	tcase_add_test(tc, oversize_fails_at_once);
	tcase_add_test(tc, settle_debt_and_refund_exact);
	tcase_add_test(tc, refund_capped_by_unconfirmed);
	tcase_add_test(tc, limit_change_continuity);
	tcase_add_test(tc, concurrency_cap_and_next_event);
	tcase_add_loop_test(tc, utilization_infinite_backlog, 0, 5);
	tcase_add_test(tc, extreme_one_per_day_near_2_62);
	tcase_add_test(tc, extreme_billion_per_second);
	tcase_add_loop_test(tc, extreme_random_ops, 0, 10);
	tcase_add_test(tc, config_out_of_range_rejected);
	tcase_add_test(tc, model_to_pool);
	tcase_add_test(tc, input_estimator);
	tcase_add_test(tc, snapshot_fill);
	tcase_add_test(tc, frozen_clock_exact_grants);
	tcase_add_loop_test(tc, interleaved_clients_bounds, 0, 4);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return lf_run_suite(suite());
}
