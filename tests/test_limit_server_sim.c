/* test_limit_server_sim: the limiter against an exact model of the
 * provider's accounting (tests/support/srvmodel), on a fake clock, as a
 * discrete-event simulation of the real pipeline: 64 workers with an
 * infinite backlog, each acquiring, sending (150 ms one way), getting
 * headers at admission, generating (0.5 s + output/60 tok/s), settling with
 * the actual usage and teaching the input estimator.
 *
 * Workload W1: Tier-2-like limits 1,000 RPM / 450k ITPM /
 * 90k OTPM; lognormal input ~2k tokens (request bytes ~3.6 per token, +-10%),
 * lognormal output ~400 capped at max_tokens 1024. Passing means 0 429s and
 * >= 99% of the binding limit over the steady-state window 180..900 s; with
 * the server's request bucket holding only 1 s of capacity, still 0 429s.
 * A negative control (client without its short request bucket) must see
 * 429s, so the simulation can fail. Two processes: a second limiter that
 * starts while another spends draws no 429. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "limitfix.h"
#include "limiter.h"
#include "srvmodel.h"

#define MS 1000000LL
#define T0 (100 * LF_S)
#define ONE_WAY (150 * MS)
#define MODEL "claude-sonnet-4-5"

enum { EV_TIMER, EV_ARRIVE, EV_HEADERS, EV_SRV_DONE, EV_DONE, EV_FOREIGN };

struct event {
	int64_t at;
	uint64_t seq;
	int kind, job;
	uint64_t gen;
};

struct heap {
	struct event *e;
	int n, cap;
	uint64_t seq;
};

static void heap_push(struct heap *h, int64_t at, int kind, int job, uint64_t gen)
{
	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 256;
		h->e = realloc(h->e, (size_t)h->cap * sizeof *h->e);
		ck_assert_ptr_nonnull(h->e);
	}
	struct event ev = { at, h->seq++, kind, job, gen };
	int i = h->n++;
	while (i > 0) {
		int p = (i - 1) / 2;
		struct event *q = &h->e[p];
		if (q->at < ev.at || (q->at == ev.at && q->seq < ev.seq))
			break;
		h->e[i] = *q;
		i = p;
	}
	h->e[i] = ev;
}

static struct event heap_pop(struct heap *h)
{
	struct event top = h->e[0], last = h->e[--h->n];
	int i = 0;
	for (;;) {
		int c = 2 * i + 1;
		if (c >= h->n)
			break;
		if (c + 1 < h->n && (h->e[c + 1].at < h->e[c].at ||
				     (h->e[c + 1].at == h->e[c].at && h->e[c + 1].seq < h->e[c].seq)))
			c++;
		if (last.at < h->e[c].at || (last.at == h->e[c].at && last.seq < h->e[c].seq))
			break;
		h->e[i] = h->e[c];
		i = c;
	}
	h->e[i] = last;
	return top;
}

struct job {
	am_rl_ticket t;
	int64_t input, bytes, out;
	int64_t t_adm;
	bool rejected;
	int rej_dim;
	am_rl_headers h;
};

struct simcfg {
	int64_t srv_cap_req;   /* server request bucket (units); 0 = a minute */
	bool client_short;     /* the client's 1 s request bucket */
	int64_t foreign_itpm;  /* another client's steady input tokens per minute */
	int workers;
	int64_t max_tokens;
	int64_t minutes;
	uint64_t seed;
};

struct simres {
	int64_t n429, n429_first_min, admitted;
	double frac[SRVM_NDIMS]; /* of the limit, over 180..end s */
	double binding;
};

static const int64_t LIMITS[SRVM_NDIMS] = { 1000, 450000, 90000 };

struct sim {
	const struct simcfg *cfg;
	am_rl *rl;
	srvm *srv;
	struct heap q;
	struct job *jobs;
	uint64_t rs, timer_gen;
	int64_t timer_at;
	int64_t win_start, win_end;
	int64_t used[SRVM_NDIMS];
	struct simres *res;
};

static void dispatch(struct sim *s, int j, int64_t now)
{
	am_rl_sent(s->rl, &s->jobs[j].t, now);
	heap_push(&s->q, now + ONE_WAY, EV_ARRIVE, j, 0);
}

static void new_job(struct sim *s, int j, int64_t now)
{
	struct job *jb = &s->jobs[j];
	jb->input = (int64_t)lf_lognormal(&s->rs, 2000, 0.6) + 1;
	jb->bytes = (int64_t)((double)jb->input * 3.6 * (0.9 + 0.2 * lf_uniform(&s->rs)));
	int64_t out = (int64_t)lf_lognormal(&s->rs, 400, 0.8);
	jb->out = out > s->cfg->max_tokens ? s->cfg->max_tokens : out;
	int64_t est = am_rl_estimate_input(s->rl, MODEL, jb->bytes);
	lf_ticket(s->rl, &jb->t, 0, 1, est, s->cfg->max_tokens);
	am_err err = {0};
	int rc = am_rl_acquire(s->rl, &jb->t, now, &err);
	ck_assert_msg(rc >= 0, "acquire: %s", err.msg);
	if (rc == 1)
		dispatch(s, j, now);
}

static void arrive(struct sim *s, int j, int64_t now)
{
	struct job *jb = &s->jobs[j];
	int dim = -1;
	jb->rejected = !srvm_admit(s->srv, now, jb->input, s->cfg->max_tokens, &jb->h, &dim);
	jb->rej_dim = dim;
	if (jb->rejected) {
		s->res->n429++;
		if (now < T0 + LF_MIN)
			s->res->n429_first_min++;
	} else {
		jb->t_adm = now;
		s->res->admitted++;
		if (now >= s->win_start && now < s->win_end) {
			s->used[SRVM_REQ] += 1;
			s->used[SRVM_ITOK] += jb->input;
			s->used[SRVM_OTOK] += jb->out;
		}
		int64_t gen = 500 * MS + jb->out * LF_S / 60;
		heap_push(&s->q, now + gen, EV_SRV_DONE, j, 0);
	}
	heap_push(&s->q, now + ONE_WAY, EV_HEADERS, j, 0);
}

static void on_event(struct sim *s, const struct event *ev)
{
	int64_t now = ev->at;
	struct job *jb = ev->job >= 0 ? &s->jobs[ev->job] : NULL;
	switch (ev->kind) {
	case EV_TIMER: {
		if (ev->gen != s->timer_gen)
			return;
		s->timer_at = INT64_MAX;
		am_rl_ticket *out[64];
		int n;
		while ((n = am_rl_poll(s->rl, now, out, 64)) > 0)
			for (int i = 0; i < n; i++) {
				ck_assert_int_eq(out[i]->state, AM_RL_ST_GRANTED);
				dispatch(s, (int)((struct job *)out[i]->user - s->jobs), now);
			}
		return;
	}
	case EV_ARRIVE:
		arrive(s, ev->job, now);
		return;
	case EV_HEADERS:
		if (jb->rejected) /* the body names the limit */
			am_rl_on_429(s->rl, &jb->t, &jb->h, jb->rej_dim, now);
		else
			am_rl_observe(s->rl, &jb->t, &jb->h, now);
		return;
	case EV_SRV_DONE:
		srvm_complete(s->srv, now, s->cfg->max_tokens, jb->out);
		heap_push(&s->q, now + ONE_WAY, EV_DONE, ev->job, 0);
		return;
	case EV_DONE: {
		int64_t actual[3] = { 1, jb->input, jb->out };
		am_rl_settle(s->rl, &jb->t, actual, now);
		am_rl_learn_input(s->rl, MODEL, jb->bytes, jb->input);
		new_job(s, ev->job, now);
		return;
	}
	case EV_FOREIGN:
		srvm_consume(s->srv, now, SRVM_ITOK, s->cfg->foreign_itpm / 60);
		heap_push(&s->q, now + LF_S, EV_FOREIGN, -1, 0);
		return;
	}
}

static void run_sim(const struct simcfg *cfg, struct simres *res)
{
	memset(res, 0, sizeof *res);
	struct sim s = { .cfg = cfg, .rs = cfg->seed, .timer_at = INT64_MAX, .res = res };
	am_rl_pool_cfg pc;
	am_rl_pool_cfg_init(&pc, "sonnet-4", LIMITS[0], LIMITS[1], LIMITS[2]);
	pc.max_in_flight = cfg->workers;
	if (!cfg->client_short)
		pc.short_window_ns = 0;
	am_rl_cfg lc;
	am_rl_cfg_init(&lc);
	lc.pools = &pc;
	lc.npools = 1;
	am_err err;
	ck_assert_int_eq(am_rl_create(&s.rl, &lc, T0, &err), 0);
	srvm_cfg sc = { .limit = { LIMITS[0], LIMITS[1], LIMITS[2] },
			.capacity = { cfg->srv_cap_req, 0, 0 },
			.wall_offset_ns = 1700000000 * LF_S };
	s.srv = srvm_new(&sc, T0);
	s.jobs = calloc((size_t)cfg->workers, sizeof *s.jobs);
	ck_assert_ptr_nonnull(s.jobs);
	s.win_start = T0 + 180 * LF_S;
	s.win_end = T0 + cfg->minutes * LF_MIN;
	for (int j = 0; j < cfg->workers; j++)
		new_job(&s, j, T0);
	if (cfg->foreign_itpm)
		heap_push(&s.q, T0, EV_FOREIGN, -1, 0);
	int64_t now = T0;
	for (;;) {
		int64_t ne = am_rl_next_event_ns(s.rl, now);
		if (ne != s.timer_at && ne != INT64_MAX) {
			s.timer_at = ne;
			heap_push(&s.q, ne > now ? ne : now, EV_TIMER, -1, ++s.timer_gen);
		}
		ck_assert_int_gt(s.q.n, 0);
		struct event ev = heap_pop(&s.q);
		ck_assert_int_ge(ev.at, now);
		now = ev.at;
		if (now >= s.win_end)
			break;
		on_event(&s, &ev);
	}
	double minutes = (double)(s.win_end - s.win_start) / (double)LF_MIN;
	for (int d = 0; d < SRVM_NDIMS; d++) {
		res->frac[d] = (double)s.used[d] / ((double)LIMITS[d] * minutes);
		if (res->frac[d] > res->binding)
			res->binding = res->frac[d];
	}
	fprintf(stderr, "sim srv_cap_req=%lld short=%d foreign=%lld: RPM %.4f ITPM %.4f OTPM %.4f "
		"binding %.4f, 429s %lld (first minute %lld), admitted %lld\n",
		(long long)cfg->srv_cap_req, cfg->client_short, (long long)cfg->foreign_itpm,
		res->frac[0], res->frac[1], res->frac[2], res->binding, (long long)res->n429,
		(long long)res->n429_first_min, (long long)res->admitted);
	free(s.q.e);
	free(s.jobs);
	srvm_free(s.srv);
	am_rl_free(s.rl);
}

START_TEST(tier2_zero_429_full_rate)
{
	struct simcfg c = { .workers = 64, .max_tokens = 1024, .minutes = 15,
			    .client_short = true, .seed = 11 + (uint64_t)_i };
	struct simres r;
	run_sim(&c, &r);
	ck_assert_int_eq(r.n429, 0);
	ck_assert_msg(r.binding >= 0.99, "binding limit at %.4f", r.binding);
	/* the server enforces anyway; this checks the bookkeeping: at most the
	 * rate plus one bucket over the 12-minute window */
	ck_assert_msg(r.frac[SRVM_ITOK] <= 1.0 + 1.0 / 12, "ITPM %.4f", r.frac[SRVM_ITOK]);
}
END_TEST

START_TEST(one_second_request_bucket)
{
	struct simcfg c = { .workers = 64, .max_tokens = 1024, .minutes = 15,
			    .client_short = true, .srv_cap_req = 1000 / 60, .seed = 21 + (uint64_t)_i };
	struct simres r;
	run_sim(&c, &r);
	ck_assert_int_eq(r.n429, 0);
	ck_assert_msg(r.binding >= 0.99, "binding limit at %.4f", r.binding);
}
END_TEST

/* The same server without the client's short bucket: the opening burst
 * overruns a 1 s request bucket. Shows the simulation can see 429s; the
 * limiter must then recover (few 429s after the first minute). */
START_TEST(negative_control_without_short_bucket)
{
	struct simcfg c = { .workers = 64, .max_tokens = 1024, .minutes = 15,
			    .client_short = false, .srv_cap_req = 1000 / 60, .seed = 31 };
	struct simres r;
	run_sim(&c, &r);
	ck_assert_int_gt(r.n429, 0);
	ck_assert_int_le(r.n429 - r.n429_first_min, r.admitted / 1000);
}
END_TEST

/* Another client of the organisation takes 20% of ITPM: calibration from
 * headers finds it; a handful of 429s at first, then nearly none, and the
 * rest of the limit is still used. */
START_TEST(foreign_consumer)
{
	struct simcfg c = { .workers = 64, .max_tokens = 1024, .minutes = 15,
			    .client_short = true, .foreign_itpm = 90000, .seed = 41 + (uint64_t)_i };
	struct simres r;
	run_sim(&c, &r);
	ck_assert_int_le(r.n429_first_min, 10);
	ck_assert_int_le(r.n429 - r.n429_first_min, r.admitted / 500);
	ck_assert_msg(r.frac[SRVM_ITOK] >= 0.99 * 0.8, "ITPM share %.4f", r.frac[SRVM_ITOK]);
}
END_TEST

/* ---- two processes, one organisation -------------------------------------- */

/* A second process starts while a first is spending: each has its own
 * limiter with the defaults (buckets guessed at 25%), both draw on
 * one server. A starts with a backlog that spends most of the server's
 * bucket, then keeps spending at a steady pace; B starts 5 s later with a
 * backlog of its own, when the server holds less than B's 25% guess. B's
 * first answer tells it what the server holds: neither draws a 429.
 * Time-stepped at 1 ms; headers at admission + one way (streaming). */
enum { P_IDLE, P_QUEUED, P_SENT, P_HDR, P_GEN, P_DONE };

struct pjob {
	am_rl_ticket t;
	int st;
	int64_t at, srv_done, input, bytes, out;
	bool rej;
	int rej_dim;
	am_rl_headers h;
};

struct proc {
	am_rl *rl;
	struct pjob job[64];
	int workers, backlog;
	int64_t start, think, in_mean, max_tokens, n429, done;
	uint64_t rs;
};

static void proc_init(struct proc *p, int workers, int backlog, int64_t in_mean, int64_t start,
		      int64_t think, uint64_t seed)
{
	memset(p, 0, sizeof *p);
	am_rl_pool_cfg pc;
	am_rl_pool_cfg_init(&pc, "sonnet-4", LIMITS[0], LIMITS[1], LIMITS[2]);
	pc.max_in_flight = workers;
	am_rl_cfg lc;
	am_rl_cfg_init(&lc);
	lc.pools = &pc;
	lc.npools = 1;
	am_err err;
	ck_assert_int_eq(am_rl_create(&p->rl, &lc, start, &err), 0);
	p->workers = workers;
	p->backlog = backlog;
	p->start = start;
	p->think = think;
	p->in_mean = in_mean;
	p->max_tokens = workers == 64 ? 1024 : 256;
	p->rs = seed;
	for (int j = 0; j < workers; j++)
		p->job[j].at = start;
}

static void proc_step(struct proc *p, srvm *srv, int64_t now)
{
	if (now < p->start)
		return;
	am_rl_ticket *out[64];
	int n = am_rl_poll(p->rl, now, out, 64);
	for (int k = 0; k < n; k++) {
		struct pjob *jb = out[k]->user;
		ck_assert_int_eq(out[k]->state, AM_RL_ST_GRANTED);
		am_rl_sent(p->rl, &jb->t, now);
		jb->st = P_SENT;
		jb->at = now + ONE_WAY;
	}
	for (int j = 0; j < p->workers; j++) {
		struct pjob *jb = &p->job[j];
		if (jb->st == P_QUEUED || now < jb->at)
			continue;
		switch (jb->st) {
		case P_IDLE: {
			if (p->backlog > 0) {
				p->backlog--;
			} else if (!p->think) {
				break;
			}
			jb->input = (int64_t)lf_lognormal(&p->rs, (double)p->in_mean, 0.3) + 1;
			jb->bytes = (int64_t)((double)jb->input * 3.6 * (0.9 + 0.2 * lf_uniform(&p->rs)));
			int64_t o = (int64_t)lf_lognormal(&p->rs, 400, 0.8);
			jb->out = o > p->max_tokens ? p->max_tokens : o;
			int64_t c[AM_RL_NCOST] = { 1, am_rl_estimate_input(p->rl, MODEL, jb->bytes),
						   p->max_tokens };
			am_err err = {0};
			ck_assert_int_eq(am_rl_ticket_init(p->rl, &jb->t, 0, c, jb, &err), 0);
			int rc = am_rl_acquire(p->rl, &jb->t, now, &err);
			ck_assert_msg(rc >= 0, "acquire: %s", err.msg);
			jb->st = rc ? P_SENT : P_QUEUED;
			if (rc) {
				am_rl_sent(p->rl, &jb->t, now);
				jb->at = now + ONE_WAY;
			}
			break;
		}
		case P_SENT:
			jb->rej_dim = -1;
			jb->rej = !srvm_admit(srv, now, jb->input, p->max_tokens, &jb->h, &jb->rej_dim);
			p->n429 += jb->rej;
			jb->srv_done = now + 500 * MS + jb->out * LF_S / 60;
			jb->st = P_HDR;
			jb->at = now + ONE_WAY;
			break;
		case P_HDR:
			if (jb->rej) {
				am_rl_on_429(p->rl, &jb->t, &jb->h, jb->rej_dim, now);
				jb->st = P_QUEUED;
			} else {
				am_rl_observe(p->rl, &jb->t, &jb->h, now);
				jb->st = P_GEN;
				jb->at = jb->srv_done;
			}
			break;
		case P_GEN:
			srvm_complete(srv, now, p->max_tokens, jb->out);
			jb->st = P_DONE;
			jb->at = now + ONE_WAY;
			break;
		case P_DONE: {
			int64_t actual[3] = { 1, jb->input, jb->out };
			am_rl_settle(p->rl, &jb->t, actual, now);
			am_rl_learn_input(p->rl, MODEL, jb->bytes, jb->input);
			p->done++;
			jb->st = P_IDLE;
			jb->at = now + p->think;
			break;
		}
		}
	}
}

START_TEST(second_process_no_429)
{
	srvm_cfg sc = { .limit = { LIMITS[0], LIMITS[1], LIMITS[2] },
			.wall_offset_ns = 1700000000 * LF_S };
	srvm *srv = srvm_new(&sc, T0);
	static struct proc a, b;
	/* A: 64 workers, inputs of ~7,000 tokens, a backlog of 64 calls (the
	 * whole bucket), then each worker one call every 240 s (about 1/4 of
	 * ITPM); B: 10 s later, 48 workers, inputs of ~2,000, max_tokens 256,
	 * 150 calls */
	proc_init(&a, 64, 64, 7000, T0, 240 * LF_S, 51 + (uint64_t)_i);
	proc_init(&b, 48, 150, 2000, T0 + 10 * LF_S, 0, 61 + (uint64_t)_i);
	int64_t srv_at_b = -1;
	for (int64_t now = T0; now < T0 + 120 * LF_S; now += MS) {
		if (now == b.start)
			srv_at_b = srvm_level(srv, now, SRVM_ITOK);
		proc_step(&a, srv, now);
		proc_step(&b, srv, now);
	}
	fprintf(stderr, "two processes: server ITPM level %lld when B starts; A %lld done, %lld 429s; "
		"B %lld done, %lld 429s\n", (long long)srv_at_b, (long long)a.done,
		(long long)a.n429, (long long)b.done, (long long)b.n429);
	/* the case is the one described: B's guess is more than the server holds */
	ck_assert_int_lt(srv_at_b, LIMITS[1] / 4);
	ck_assert_int_eq(b.done, 150);
	ck_assert_int_eq(b.n429, 0);
	ck_assert_int_eq(a.n429, 0);
	am_rl_free(a.rl);
	am_rl_free(b.rl);
	srvm_free(srv);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("limit_server_sim");
	TCase *tc = tcase_create("sim");
	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, tier2_zero_429_full_rate, 0, 3);
	tcase_add_loop_test(tc, one_second_request_bucket, 0, 2);
	tcase_add_test(tc, negative_control_without_short_bucket);
	tcase_add_loop_test(tc, foreign_consumer, 0, 3);
	tcase_add_loop_test(tc, second_process_no_429, 0, 3);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return lf_run_suite(suite());
}
