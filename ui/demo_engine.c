/* demo_engine: a small, honest stand-in for the pipeline.
 *
 * Design: one mutex guards all state; the worker thread sleeps on a
 * condition variable until the next thing it has to do (a chunk of an
 * answer, the end of a cool-down, the next second for bucket refill) or
 * until a submit or command wakes it. Every change bumps the snapshot
 * sequence and writes one byte to the wake pipe (non-blocking: a full pipe
 * already means "wake up"). Events go into a bounded ring; when it is full
 * the worker stops producing until the observer drains, so nothing is lost
 * and nothing grows without bound. Token buckets refill continuously at
 * limit per minute; prices are exact pUSD per token. */
#include "demo_engine.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "money.h"

enum { NPOOLS = 3, NMODELS = 4, MAX_JOBS = 64, EV_RING = 2048, CACHE_SLOTS = 64,
       CONCURRENCY = 4 };

#define MS (AM_NS_PER_MS)
#define SEC (AM_NS_PER_SEC)

struct price {
	const char *model, *pool;
	int64_t in, out, cw, cr; /* pUSD per token */
	bool known;
};

/* Published prices, USD per MTok × 1e6 = pUSD per token. */
static const struct price prices[NMODELS] = {
	{"claude-haiku-4-5", "haiku-4-5", 1000000, 5000000, 1250000, 100000, true},
	{"claude-sonnet-4-5", "sonnet-4-5", 3000000, 15000000, 3750000, 300000, true},
	{"claude-opus-4-5", "opus-4-5", 5000000, 25000000, 6250000, 500000, true},
	{"claude-3-9-mystery", "sonnet-4-5", 0, 0, 0, 0, false},
};

enum job_state { J_QUEUED, J_STREAMING };

struct job {
	int64_t id;
	enum job_state state;
	int model;                 /* index into prices */
	int pool;
	char reason[96];
	char *answer;
	size_t pos, len;
	int64_t input, output;     /* tokens */
	int64_t queued_at, started_at, next_at;
	bool want429, did429, fail, cached, blocked_sent;
	char waiting_for[16];
	uint64_t key;              /* cache key */
};

struct cache_slot {
	uint64_t key;
	char *answer;
	int64_t input, output, cost;
	int model;
};

struct ui_demo {
	am_engine_ops ops;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	int wake[2];

	am_snapshot snap;          /* the state, kept in snapshot form */
	int64_t last_refill;
	int64_t minute;            /* wall minute of spend_per_min's last slot */
	int64_t seeded_month;

	struct job *jobs[MAX_JOBS];
	int njobs;
	int64_t next_id;

	am_event ring[EV_RING];
	int ev_head, ev_len;

	struct cache_slot cache[CACHE_SLOTS];
	int ncache;
};

static int64_t mono(void)
{
	return am_clock_mono(am_clock_system());
}

static int64_t wall(void)
{
	return am_clock_wall(am_clock_system());
}

static void wake_observer(ui_demo *d)
{
	char b = 1;
	d->snap.seq++;
	if (write(d->wake[1], &b, 1) < 0) {
		/* EAGAIN: the pipe is full, the observer will wake anyway. */
	}
}

static am_event *emit(ui_demo *d, am_event_kind kind, const struct job *j)
{
	am_event *ev = &d->ring[(d->ev_head + d->ev_len++) % EV_RING];
	memset(ev, 0, sizeof *ev);
	ev->kind = kind;
	if (j) {
		ev->job_id = j->id;
		snprintf(ev->model, sizeof ev->model, "%s", prices[j->model].model);
		snprintf(ev->reason, sizeof ev->reason, "%s", j->reason);
	}
	return ev;
}

/* ---- state ------------------------------------------------------------------- */

static am_snap_dim *dim(ui_demo *d, int pool, const char *name)
{
	am_snap_pool *p = &d->snap.pool[pool];
	for (int k = 0; k < p->ndims; k++)
		if (!strcmp(p->dim[k].name, name))
			return &p->dim[k];
	return NULL;
}

static void set_dim(am_snap_dim *x, const char *name, int64_t level, int64_t limit)
{
	snprintf(x->name, sizeof x->name, "%s", name);
	x->level = level;
	x->capacity = limit;
	x->limit = limit;
	x->share_ppm = 1000000;
}

static int64_t model_cost(int m, int64_t in, int64_t out, int64_t cw, int64_t cr)
{
	const struct price *p = &prices[m];
	return in * p->in + out * p->out + cw * p->cw + cr * p->cr;
}

static void add_usage(ui_demo *d, int m, int64_t reqs, int64_t in, int64_t out, int64_t cw,
                      int64_t cr, int64_t cost)
{
	am_snapshot *s = &d->snap;
	int i;
	for (i = 0; i < s->nmodels; i++)
		if (!strcmp(s->model[i].model, prices[m].model))
			break;
	if (i == s->nmodels) {
		if (s->nmodels == AM_SNAP_MAX_MODELS)
			return;
		s->nmodels++;
		memset(&s->model[i], 0, sizeof s->model[i]);
		snprintf(s->model[i].model, sizeof s->model[i].model, "%s", prices[m].model);
		s->model[i].price_known = prices[m].known;
	}
	am_snap_model *r = &s->model[i];
	r->requests += reqs, r->input += in, r->output += out, r->cache_write += cw,
		r->cache_read += cr;
	s->total.requests += reqs, s->total.input += in, s->total.output += out,
		s->total.cache_write += cw, s->total.cache_read += cr;
	if (prices[m].known) {
		r->cost_pusd += cost;
		s->total.cost_pusd += cost;
		s->budget.day_spent_pusd += cost;
		s->budget.month_spent_pusd += cost;
		s->budget.spend_per_min[AM_SNAP_SPARK - 1] += cost;
	} else {
		s->budget.unknown_prices = true;
	}
}

/* Burn over 15 minutes, end-of-day projection, limit time, budget state. */
static void budget_derive(ui_demo *d, int64_t now_wall)
{
	am_snap_budget *b = &d->snap.budget;
	int64_t last15 = 0;
	for (int i = AM_SNAP_SPARK - 15; i < AM_SNAP_SPARK; i++)
		last15 += b->spend_per_min[i];
	b->burn_pusd_per_hour = last15 * 4;
	time_t t = (time_t)(now_wall / SEC);
	struct tm tm;
	localtime_r(&t, &tm);
	int64_t secs_left = 86400 - (tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec);
	int64_t per_s = b->burn_pusd_per_hour / 3600;
	b->projected_eod_pusd = b->day_spent_pusd + per_s * secs_left;
	b->limit_hit_wall_ns = 0;
	if (b->day_limit_pusd > 0 && per_s > 0 && b->day_spent_pusd < b->day_limit_pusd) {
		int64_t secs = (b->day_limit_pusd - b->day_spent_pusd) / per_s;
		if (secs < secs_left)
			b->limit_hit_wall_ns = now_wall + secs * SEC;
	}
	b->state = AM_BUDGET_OK;
	if (b->day_limit_pusd > 0) {
		if (b->day_spent_pusd >= b->day_limit_pusd)
			b->state = AM_BUDGET_OVER;
		else if (b->nalerts && b->day_spent_pusd >= b->day_limit_pusd / 100 * b->alert_pct[0])
			b->state = AM_BUDGET_ALERT;
	}
	int blocked = 0;
	for (int i = 0; i < d->njobs; i++)
		blocked += d->jobs[i]->blocked_sent;
	b->blocked_jobs = blocked;
}

static void seed(ui_demo *d)
{
	am_snapshot *s = &d->snap;
	int64_t now = wall();
	s->simulator = true;
	snprintf(s->endpoint, sizeof s->endpoint, "demo, offline");
	snprintf(s->model_mode, sizeof s->model_mode, "auto");
	s->npools = NPOOLS;
	static const char *const names[NPOOLS] = {"sonnet-4-5", "haiku-4-5", "opus-4-5"};
	static const int64_t lim[NPOOLS][3] = {{50, 40000, 8000}, {50, 50000, 10000}, {50, 30000, 8000}};
	static const int64_t lvl[NPOOLS][3] = {{38, 18000, 7100}, {46, 48000, 9700}, {50, 30000, 8000}};
	for (int p = 0; p < NPOOLS; p++) {
		am_snap_pool *pl = &s->pool[p];
		snprintf(pl->name, sizeof pl->name, "%s", names[p]);
		pl->ndims = 3;
		set_dim(&pl->dim[0], "RPM", lvl[p][0], lim[p][0]);
		set_dim(&pl->dim[1], "ITPM", lvl[p][1], lim[p][1]);
		set_dim(&pl->dim[2], "OTPM", lvl[p][2], lim[p][2]);
		pl->concurrency_cap = CONCURRENCY;
	}
	s->pool[0].dim[1].has_server = true;
	s->pool[0].dim[1].server_remaining = 17000;
	s->pool[0].dim[1].server_reset_ns = now + 40 * SEC;

	/* A day of earlier use: per model, exact at published prices. */
	add_usage(d, 2, 12, 48210, 9120, 0, 0, model_cost(2, 48210, 9120, 0, 0));
	add_usage(d, 1, 141, 402118, 81405, 12288, 96120, model_cost(1, 402118, 81405, 12288, 96120));
	add_usage(d, 0, 388, 210466, 120220, 0, 0, model_cost(0, 210466, 120220, 0, 0));
	add_usage(d, 3, 2, 1100, 400, 0, 0, 0);
	/* The spend of the last hour, in tenths of a cent per minute; the
	 * sparkline should show a morning's rhythm, not a flat line. */
	static const int shape[AM_SNAP_SPARK] = {
		2, 2, 3, 3, 4, 6, 9, 11, 8, 6, 4, 4, 3, 3, 2, 2, 3, 4, 5, 6,
		7, 6, 5, 4, 3, 3, 2, 2, 2, 3, 3, 4, 6, 8, 9, 8, 6, 5, 4, 3,
		2, 2, 2, 3, 4, 5, 5, 4, 3, 2, 2, 3, 4, 5, 6, 7, 6, 5, 4, 3};
	am_snap_budget *b = &s->budget;
	for (int i = 0; i < AM_SNAP_SPARK; i++)
		b->spend_per_min[i] = (int64_t)shape[i] * (AM_PUSD_PER_USD / 1000);
	b->day_limit_pusd = 10 * AM_PUSD_PER_USD;
	b->month_limit_pusd = 300 * AM_PUSD_PER_USD;
	b->month_spent_pusd += 13945 * (AM_PUSD_PER_USD / 100);
	b->nalerts = 1;
	b->alert_pct[0] = 80;
	s->cache = (am_snap_cache){true, 54, 118, 1204, 8493465, 81 * (AM_PUSD_PER_USD / 100), 212000,
	                           86400};
	d->minute = now / (60 * SEC);
	budget_derive(d, now);
}

/* ---- the worker ----------------------------------------------------------------- */

static void refill(ui_demo *d, int64_t now)
{
	int64_t dt = now - d->last_refill;
	if (dt < 50 * MS)
		return;
	d->last_refill = now;
	for (int p = 0; p < d->snap.npools; p++) {
		am_snap_pool *pl = &d->snap.pool[p];
		for (int k = 0; k < pl->ndims; k++) {
			am_snap_dim *x = &pl->dim[k];
			if (x->level >= x->capacity)
				continue;
			int64_t add = x->limit * (dt / MS) / 60000;
			if (add < 1 && x->limit * (dt / MS) > 0)
				add = 1; /* small limits still move every few ticks */
			x->level = x->level + add > x->capacity ? x->capacity : x->level + add;
		}
	}
}

static void roll_minutes(ui_demo *d, int64_t now_wall)
{
	int64_t m = now_wall / (60 * SEC);
	int64_t steps = m - d->minute;
	if (steps <= 0)
		return;
	if (steps > AM_SNAP_SPARK)
		steps = AM_SNAP_SPARK;
	int64_t *v = d->snap.budget.spend_per_min;
	memmove(v, v + steps, (size_t)(AM_SNAP_SPARK - steps) * sizeof v[0]);
	memset(v + AM_SNAP_SPARK - steps, 0, (size_t)steps * sizeof v[0]);
	d->minute = m;
}

static const char *canned(const char *prompt)
{
	if (strstr(prompt, "escape"))
		return "Terminals obey escape codes, so an answer could try \x1b[31mto paint red\x1b[0m, "
		       "ring a bell\x07 or move the cursor\x1b[2J. The console shows them as text "
		       "instead.\tTabs become spaces.";
	if (strstr(prompt, "rate") || strstr(prompt, "limit"))
		return "The anthropic-ratelimit-* headers report, for requests and for input and output "
		       "tokens, the limit, what remains (tokens rounded to the nearest thousand) and "
		       "when the bucket is full again, as an RFC 3339 time.";
	return NULL;
}

static char *make_answer(const am_prompt *p, const char *last)
{
	char *s = am_xmalloc(8192);
	const char *c = canned(last);
	int turn = p->nturns / 2 + 1;
	if (c) {
		snprintf(s, 8192, "%s", c);
	} else if (strstr(last, "long")) {
		size_t o = 0;
		for (int i = 1; i <= 12 && o < 7000; i++)
			o += (size_t)snprintf(s + o, 8192 - o,
			                      "%sParagraph %d of a long answer: each piece arrives as a "
			                      "delta event and the console wraps it to the width of the "
			                      "panel, so PgUp and PgDn have something to scroll through.",
			                      i > 1 ? "\n\n" : "", i);
	} else {
		snprintf(s, 8192,
		         "This answer comes from aimeter's demo engine: nothing left this machine "
		         "and nothing was billed. It is turn %d of this conversation; the line above "
		         "shows the model the selector picked and why, the tokens, the cost and the "
		         "time.",
		         turn);
	}
	return s;
}

static uint64_t fnv(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (h ^ 0xff) * 1099511628211ULL;
}

static struct cache_slot *cache_find(ui_demo *d, uint64_t key)
{
	for (int i = 0; i < d->ncache; i++)
		if (d->cache[i].key == key)
			return &d->cache[i];
	return NULL;
}

static void job_free(struct job *j)
{
	free(j->answer);
	free(j);
}

static void job_remove(ui_demo *d, int i)
{
	job_free(d->jobs[i]);
	memmove(d->jobs + i, d->jobs + i + 1, (size_t)(d->njobs - i - 1) * sizeof d->jobs[0]);
	d->njobs--;
}

/* Tries to start the job: budget, cool-down, then each bucket. */
static bool try_start(ui_demo *d, struct job *j, int64_t now, int *started_in_pool)
{
	am_snap_budget *b = &d->snap.budget;
	am_snap_pool *pl = &d->snap.pool[j->pool];
	if (b->day_limit_pusd > 0 && b->day_spent_pusd >= b->day_limit_pusd && !j->cached) {
		if (!j->blocked_sent) {
			j->blocked_sent = true;
			emit(d, AM_EV_BLOCKED, j)->text = am_xstrdup("today's budget is spent; raise it with /budget");
		}
		return false;
	}
	if (j->blocked_sent) {
		j->blocked_sent = false;
		emit(d, AM_EV_QUEUED, j);
	}
	if (j->want429 && !j->did429) {
		j->did429 = true;
		pl->n429++;
		am_snap_dim *x = dim(d, j->pool, "OTPM");
		if (x) {
			x->cooldown_until_ns = now + 4 * SEC;
			x->level = 0;
		}
		emit(d, AM_EV_WAITING, j)->text = am_xstrdup("cool-down after a 429, 4s");
		return false;
	}
	for (int k = 0; k < pl->ndims; k++)
		if (pl->dim[k].cooldown_until_ns > now)
			return false;
	if (started_in_pool[j->pool] + pl->in_flight >= CONCURRENCY)
		return false;
	const char *need_name = NULL;
	int64_t need_ms = 0;
	int64_t need[3] = {1, j->input, j->output};
	for (int k = 0; k < 3 && k < pl->ndims; k++) {
		am_snap_dim *x = &pl->dim[k];
		int64_t want = need[k] < x->capacity ? need[k] : x->capacity;
		x->blocks_head = false;
		if (x->level < want && !need_name) {
			need_name = x->name;
			need_ms = (want - x->level) * 60000 / (x->limit > 0 ? x->limit : 1);
			x->blocks_head = true;
		}
	}
	if (need_name) {
		if (strcmp(j->waiting_for, need_name)) {
			snprintf(j->waiting_for, sizeof j->waiting_for, "%s", need_name);
			char t[64];
			snprintf(t, sizeof t, "%s %lld.%llds", need_name, (long long)(need_ms / 1000),
			         (long long)(need_ms % 1000 / 100));
			emit(d, AM_EV_WAITING, j)->text = am_xstrdup(t);
		}
		pl->head_ready_in_ns = need_ms * MS;
		return false;
	}
	for (int k = 0; k < 3 && k < pl->ndims; k++)
		pl->dim[k].level -= need[k] < pl->dim[k].capacity ? need[k] : pl->dim[k].capacity;
	pl->head_ready_in_ns = 0;
	j->state = J_STREAMING;
	j->started_at = now;
	j->next_at = now + (j->cached ? 5 * MS : 350 * MS);
	started_in_pool[j->pool]++;
	emit(d, AM_EV_STARTED, j);
	return true;
}

static void finish(ui_demo *d, int i, int64_t now)
{
	struct job *j = d->jobs[i];
	if (j->fail) {
		am_event *ev = emit(d, AM_EV_FAILED, j);
		ev->http_status = 529;
		snprintf(ev->error, sizeof ev->error,
		         "overloaded_error: the demo provider is overloaded (a prompt without 'fail' "
		         "succeeds)");
		job_remove(d, i);
		return;
	}
	int64_t cost = j->cached ? 0 : model_cost(j->model, j->input, j->output, 0, 0);
	am_event *ev = emit(d, AM_EV_DONE, j);
	ev->usage.input_tokens = j->input;
	ev->usage.output_tokens = j->output;
	ev->cost_pusd = cost;
	ev->price_known = prices[j->model].known;
	ev->cached = j->cached;
	ev->latency_ms = (now - j->started_at) / MS;
	am_snap_cache *c = &d->snap.cache;
	if (j->cached) {
		c->hits++;
		c->saved_pusd += model_cost(j->model, j->input, j->output, 0, 0);
		c->saved_tokens += j->input + j->output;
	} else {
		add_usage(d, j->model, 1, j->input, j->output, 0, 0, cost);
		d->snap.done++;
		if (c->enabled) {
			c->misses++;
			struct cache_slot *slot = d->ncache < CACHE_SLOTS ? &d->cache[d->ncache++]
			                                                  : &d->cache[j->id % CACHE_SLOTS];
			free(slot->answer);
			*slot = (struct cache_slot){j->key, am_xstrdup(j->answer), j->input, j->output, cost,
			                            j->model};
			c->entries++;
			c->bytes += (int64_t)j->len + 200;
		}
	}
	job_remove(d, i);
}

/* One pass over the jobs; returns the time of the next thing to do. */
static int64_t step(ui_demo *d, int64_t now, bool *changed)
{
	int64_t next = now + SEC;
	int started[NPOOLS] = {0};
	am_snapshot *s = &d->snap;
	for (int p = 0; p < s->npools; p++) {
		s->pool[p].queue_depth = 0;
		s->pool[p].in_flight = 0;
		s->pool[p].head_wait_ns = 0;
		s->pool[p].head_ready_in_ns = 0;
		for (int k = 0; k < s->pool[p].ndims; k++)
			s->pool[p].dim[k].blocks_head = false;
		for (int k = 0; k < s->pool[p].ndims; k++)
			if (s->pool[p].dim[k].cooldown_until_ns > now && s->pool[p].dim[k].cooldown_until_ns < next)
				next = s->pool[p].dim[k].cooldown_until_ns;
	}
	for (int i = 0; i < d->njobs; i++)
		if (d->jobs[i]->state == J_STREAMING)
			s->pool[d->jobs[i]->pool].in_flight++;
	bool head_seen[NPOOLS] = {false};
	for (int i = 0; i < d->njobs && d->ev_len + 4 <= EV_RING;) {
		struct job *j = d->jobs[i];
		if (j->state == J_QUEUED) {
			am_snap_pool *pl = &s->pool[j->pool];
			bool head = !head_seen[j->pool];
			head_seen[j->pool] = true;
			if (!s->paused && head && try_start(d, j, now, started)) {
				*changed = true;
			} else {
				pl->queue_depth++;
				if (head)
					pl->head_wait_ns = now - j->queued_at;
				i++;
				continue;
			}
		}
		if (j->state == J_STREAMING && now >= j->next_at) {
			if (j->pos >= j->len || j->fail) {
				finish(d, i, now);
				*changed = true;
				continue;
			}
			/* A piece of 6..17 bytes, never inside a UTF-8 character. */
			size_t n = 6 + (size_t)((j->id * 7 + j->pos) % 12);
			if (j->pos + n > j->len)
				n = j->len - j->pos;
			while (j->pos + n < j->len && ((unsigned char)j->answer[j->pos + n] & 0xC0) == 0x80)
				n++;
			am_event *ev = emit(d, AM_EV_DELTA, j);
			ev->text = am_xstrndup(j->answer + j->pos, n);
			j->pos += n;
			j->next_at = now + (j->cached ? 2 * MS : 30 * MS);
			*changed = true;
		}
		if (j->state == J_STREAMING && j->next_at < next)
			next = j->next_at;
		i++;
	}
	int queued = 0, flight = 0, waiting = 0;
	for (int i = 0; i < d->njobs; i++) {
		queued += d->jobs[i]->state == J_QUEUED;
		flight += d->jobs[i]->state == J_STREAMING;
		waiting += d->jobs[i]->state == J_QUEUED && d->jobs[i]->waiting_for[0];
	}
	s->queue_depth = queued;
	s->in_flight = flight;
	s->waiting_limit = waiting;
	if (queued && next > now + 100 * MS)
		next = now + 100 * MS; /* buckets refill: look again soon */
	return next;
}

static void *worker(void *arg)
{
	ui_demo *d = arg;
	pthread_mutex_lock(&d->mu);
	while (!d->stop) {
		int64_t now = mono(), now_wall = wall();
		bool changed = false;
		am_snapshot before = d->snap;
		refill(d, now);
		roll_minutes(d, now_wall);
		int64_t next = step(d, now, &changed);
		budget_derive(d, now_wall);
		d->snap.mono_ns = now;
		d->snap.wall_ns = now_wall;
		before.mono_ns = now, before.wall_ns = now_wall;
		if (changed || memcmp(&before, &d->snap, sizeof before))
			wake_observer(d);
		if (d->ev_len + 4 > EV_RING)
			next = now + 20 * MS;
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		int64_t wait = next - now;
		if (wait < MS)
			wait = MS;
		int64_t abs = (int64_t)ts.tv_sec * SEC + ts.tv_nsec + wait;
		ts.tv_sec = (time_t)(abs / SEC);
		ts.tv_nsec = (long)(abs % SEC);
		pthread_cond_timedwait(&d->cv, &d->mu, &ts);
	}
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

/* ---- the interface ---------------------------------------------------------------- */

static int pick_model(ui_demo *d, size_t chars, char *reason, size_t n)
{
	const char *mode = d->snap.model_mode;
	for (int m = 0; m < NMODELS; m++)
		if (!strcmp(mode, prices[m].model)) {
			snprintf(reason, n, "pinned with /model");
			return m;
		}
	if (chars < 200) {
		snprintf(reason, n, "%zu chars < 200", chars);
		return 0;
	}
	if (chars < 2000) {
		snprintf(reason, n, "%zu chars < 2,000", chars);
		return 1;
	}
	snprintf(reason, n, "%zu chars, long prompt", chars);
	return 2;
}

static int pool_of(int model)
{
	static const char *const names[NPOOLS] = {"sonnet-4-5", "haiku-4-5", "opus-4-5"};
	for (int p = 0; p < NPOOLS; p++)
		if (!strcmp(prices[model].pool, names[p]))
			return p;
	return 0;
}

static int demo_submit(void *ctx, const am_prompt *p, int64_t *job_id, am_err *err)
{
	ui_demo *d = ctx;
	if (!p || p->nturns < 1 || !p->turns[p->nturns - 1].text)
		return am_err_set(err, "empty prompt");
	const char *last = p->turns[p->nturns - 1].text;
	if (!last[0])
		return am_err_set(err, "empty prompt");
	size_t chars = 0;
	uint64_t key = 1469598103934665603ULL;
	for (int i = 0; i < p->nturns; i++) {
		chars += strlen(p->turns[i].text);
		key = fnv(fnv(key, p->turns[i].role), p->turns[i].text);
	}
	pthread_mutex_lock(&d->mu);
	if (d->njobs == MAX_JOBS || d->ev_len + 4 > EV_RING) {
		pthread_mutex_unlock(&d->mu);
		return am_err_setc(err, AM_E_FULL, "the queue is full (%d prompts); wait for some to finish", MAX_JOBS);
	}
	struct job *j = am_xcalloc(1, sizeof *j);
	j->id = ++d->next_id;
	j->model = pick_model(d, chars, j->reason, sizeof j->reason);
	j->pool = pool_of(j->model);
	j->key = fnv(key, prices[j->model].model);
	struct cache_slot *hit = d->snap.cache.enabled && !p->no_cache ? cache_find(d, j->key) : NULL;
	j->answer = hit ? am_xstrdup(hit->answer) : make_answer(p, last);
	j->len = strlen(j->answer);
	j->input = hit ? hit->input : (int64_t)chars / 4 + 12;
	j->output = hit ? hit->output : (int64_t)j->len / 4 + 1;
	j->cached = hit != NULL;
	j->want429 = strstr(last, "429") != NULL && !hit;
	j->fail = strstr(last, "fail") != NULL && !hit;
	j->queued_at = mono();
	d->jobs[d->njobs++] = j;
	*job_id = j->id;
	emit(d, AM_EV_QUEUED, j);
	if (j->cached)
		snprintf(j->reason + strlen(j->reason), sizeof j->reason - strlen(j->reason),
		         ", from the cache");
	wake_observer(d);
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
	return 0;
}

static void demo_snapshot(void *ctx, am_snapshot *out)
{
	ui_demo *d = ctx;
	pthread_mutex_lock(&d->mu);
	*out = d->snap;
	pthread_mutex_unlock(&d->mu);
}

static int demo_drain(void *ctx, am_event *out, int max)
{
	ui_demo *d = ctx;
	int n = 0;
	pthread_mutex_lock(&d->mu);
	bool was_full = d->ev_len + 4 > EV_RING;
	while (n < max && d->ev_len > 0) {
		out[n++] = d->ring[d->ev_head];
		d->ev_head = (d->ev_head + 1) % EV_RING;
		d->ev_len--;
	}
	if (was_full && n)
		pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
	return n;
}

static int set_limit(ui_demo *d, const am_command *c, const char *name, am_err *err)
{
	int matched = 0;
	if (c->value < 1)
		return am_err_set(err, "%s must be at least 1", name);
	for (int p = 0; p < d->snap.npools; p++) {
		if (c->pool[0] && strcmp(c->pool, d->snap.pool[p].name))
			continue;
		am_snap_dim *x = dim(d, p, name);
		if (!x)
			continue;
		x->limit = x->capacity = c->value;
		if (x->level > x->capacity)
			x->level = x->capacity;
		matched++;
	}
	if (!matched)
		return am_err_set(err, "no pool named '%s' (pools: sonnet-4-5, haiku-4-5, opus-4-5)",
		                  c->pool);
	return 0;
}

static int apply(ui_demo *d, const am_command *c, am_err *err)
{
	am_snapshot *s = &d->snap;
	switch (c->kind) {
	case AM_CMD_SET_RPM:
		return set_limit(d, c, "RPM", err);
	case AM_CMD_SET_ITPM:
		return set_limit(d, c, "ITPM", err);
	case AM_CMD_SET_OTPM:
		return set_limit(d, c, "OTPM", err);
	case AM_CMD_SET_BUDGET_DAY:
	case AM_CMD_SET_BUDGET_MONTH:
		if (c->value < 0)
			return am_err_set(err, "a budget cannot be negative");
		if (c->kind == AM_CMD_SET_BUDGET_DAY)
			s->budget.day_limit_pusd = c->value;
		else
			s->budget.month_limit_pusd = c->value;
		return 0;
	case AM_CMD_SET_ALERT_PCT:
		if (c->value < 1 || c->value > 100)
			return am_err_set(err, "the alert must be between 1 and 100 percent");
		s->budget.nalerts = 1;
		s->budget.alert_pct[0] = (int)c->value;
		return 0;
	case AM_CMD_SET_MODEL:
		if (strcmp(c->text, "auto")) {
			int m;
			for (m = 0; m < NMODELS; m++)
				if (prices[m].known && !strcmp(c->text, prices[m].model))
					break;
			if (m == NMODELS)
				return am_err_set(err, "unknown model '%s' (try claude-haiku-4-5, "
				                  "claude-sonnet-4-5, claude-opus-4-5 or auto)", c->text);
		}
		snprintf(s->model_mode, sizeof s->model_mode, "%s", c->text);
		return 0;
	case AM_CMD_CACHE_ON:
	case AM_CMD_CACHE_OFF:
		s->cache.enabled = c->kind == AM_CMD_CACHE_ON;
		return 0;
	case AM_CMD_CACHE_CLEAR:
		for (int i = 0; i < d->ncache; i++)
			free(d->cache[i].answer);
		d->ncache = 0;
		s->cache.entries = 0;
		s->cache.bytes = 0;
		return 0;
	case AM_CMD_PAUSE:
	case AM_CMD_RESUME:
		s->paused = c->kind == AM_CMD_PAUSE;
		return 0;
	case AM_CMD_CANCEL_JOB:
		return am_err_set(err, "the demo engine cannot cancel a job");
	}
	return am_err_set(err, "unknown command");
}

static int demo_command(void *ctx, const am_command *c, am_err *err)
{
	ui_demo *d = ctx;
	pthread_mutex_lock(&d->mu);
	int rc = apply(d, c, err);
	if (rc == 0) {
		budget_derive(d, wall());
		wake_observer(d);
		pthread_cond_signal(&d->cv);
	}
	pthread_mutex_unlock(&d->mu);
	return rc;
}

static int demo_wake_fd(void *ctx)
{
	return ((ui_demo *)ctx)->wake[0];
}

ui_demo *ui_demo_new(void)
{
	ui_demo *d = am_xcalloc(1, sizeof *d);
	pthread_mutex_init(&d->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pipe(d->wake)) {
		d->wake[0] = d->wake[1] = -1;
	} else {
		for (int i = 0; i < 2; i++) {
			fcntl(d->wake[i], F_SETFL, fcntl(d->wake[i], F_GETFL) | O_NONBLOCK);
			fcntl(d->wake[i], F_SETFD, FD_CLOEXEC);
		}
	}
	d->last_refill = mono();
	seed(d);
	d->ops = (am_engine_ops){demo_submit, demo_snapshot, demo_drain, demo_command, demo_wake_fd, d};
	if (pthread_create(&d->thread, NULL, worker, d)) {
		fprintf(stderr, "aimeter: cannot start the demo engine thread\n");
		exit(1);
	}
	return d;
}

const am_engine_ops *ui_demo_ops(ui_demo *d)
{
	return &d->ops;
}

void ui_demo_free(ui_demo *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->mu);
	d->stop = true;
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
	pthread_join(d->thread, NULL);
	while (d->njobs)
		job_remove(d, d->njobs - 1);
	while (d->ev_len) {
		am_event_free(&d->ring[d->ev_head]);
		d->ev_head = (d->ev_head + 1) % EV_RING;
		d->ev_len--;
	}
	for (int i = 0; i < d->ncache; i++)
		free(d->cache[i].answer);
	for (int i = 0; i < 2; i++)
		if (d->wake[i] >= 0)
			close(d->wake[i]);
	pthread_cond_destroy(&d->cv);
	pthread_mutex_destroy(&d->mu);
	free(d);
}
