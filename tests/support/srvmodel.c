/* srvmodel: the provider's documented rate-limit accounting, exactly, on a
 * fake clock (see srvmodel.h). */
#include "srvmodel.h"

#include <stdlib.h>
#include <string.h>

__extension__ typedef __int128 i128;

#define NS 1000000000LL

struct bucket {
	int64_t limit, cap;
	i128 s;          /* level * period */
};

struct srvm {
	struct bucket b[SRVM_NDIMS];
	int64_t period, wall_off, t;
	srvm_stats st;
};

static void refill(srvm *s, int64_t t)
{
	if (t <= s->t)
		return;
	for (int i = 0; i < SRVM_NDIMS; i++) {
		struct bucket *b = &s->b[i];
		if (!b->limit)
			continue;
		i128 full = (i128)b->cap * s->period;
		b->s += (i128)(t - s->t) * b->limit;
		if (b->s > full)
			b->s = full;
	}
	s->t = t;
}

srvm *srvm_new(const srvm_cfg *cfg, int64_t now)
{
	srvm *s = calloc(1, sizeof *s);
	if (!s)
		abort();
	s->period = cfg->period_ns ? cfg->period_ns : 60 * NS;
	s->wall_off = cfg->wall_offset_ns;
	s->t = now;
	for (int i = 0; i < SRVM_NDIMS; i++) {
		s->b[i].limit = cfg->limit[i];
		s->b[i].cap = cfg->capacity[i] ? cfg->capacity[i] : cfg->limit[i];
		s->b[i].s = (i128)s->b[i].cap * s->period;
	}
	return s;
}

void srvm_free(srvm *s)
{
	free(s);
}

static int64_t floor_div(i128 a, i128 b)
{
	i128 q = a / b;
	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return (int64_t)q;
}

int64_t srvm_level(srvm *s, int64_t t, int dim)
{
	refill(s, t);
	if (!s->b[dim].limit)
		return INT64_MAX;
	return floor_div(s->b[dim].s, s->period);
}

static void headers(srvm *s, int64_t t, am_rl_headers *h)
{
	static const int map[SRVM_NDIMS] = { AM_RLH_REQUESTS, AM_RLH_INPUT_TOKENS,
					     AM_RLH_OUTPUT_TOKENS };
	int64_t wall = t + s->wall_off;
	h->has_date = true;
	h->date_ns = wall / NS * NS;
	for (int i = 0; i < SRVM_NDIMS; i++) {
		struct bucket *b = &s->b[i];
		if (!b->limit)
			continue;
		am_rl_bucket_hdr *o = &h->b[map[i]];
		int64_t lvl = floor_div(b->s, s->period);
		o->present = o->has_limit = o->has_remaining = o->has_reset = true;
		o->limit = b->limit;
		o->remaining = lvl < 0 ? 0 : i == SRVM_REQ ? lvl : (lvl + 500) / 1000 * 1000;
		/* time to full = (cap*period - s) / limit ns */
		i128 deficit = (i128)b->cap * s->period - b->s;
		int64_t ttf = (int64_t)((deficit + b->limit - 1) / b->limit);
		o->reset_ns = (wall + ttf) / NS * NS;
	}
}

int srvm_admit(srvm *s, int64_t t, int64_t input, int64_t max_tokens,
	       am_rl_headers *h, int *dim)
{
	int64_t cost[SRVM_NDIMS] = { 1, input, max_tokens };
	refill(s, t);
	if (h)
		memset(h, 0, sizeof *h);
	for (int i = 0; i < SRVM_NDIMS; i++) {
		struct bucket *b = &s->b[i];
		if (!b->limit || b->s >= (i128)cost[i] * s->period)
			continue;
		if (dim)
			*dim = i;
		s->st.rejected++;
		if (h) {
			headers(s, t, h);
			i128 need = (i128)cost[i] * s->period - b->s;
			int64_t wait = (int64_t)((need + b->limit - 1) / b->limit);
			h->has_retry_after = true;
			h->retry_after_ns = (wait + NS - 1) / NS * NS;
			h->http_status = 429;
		}
		return 0;
	}
	for (int i = 0; i < SRVM_NDIMS; i++) {
		if (!s->b[i].limit)
			continue;
		s->b[i].s -= (i128)cost[i] * s->period;
	}
	s->st.admitted++;
	s->st.used[SRVM_REQ] += 1;
	s->st.used[SRVM_ITOK] += input;
	s->st.used[SRVM_OTOK] += max_tokens;
	if (h) {
		headers(s, t, h);
		h->http_status = 200;
	}
	return 1;
}

void srvm_complete(srvm *s, int64_t t, int64_t max_tokens, int64_t output)
{
	refill(s, t);
	int64_t back = max_tokens - output;
	s->st.used[SRVM_OTOK] -= back;
	struct bucket *b = &s->b[SRVM_OTOK];
	if (!b->limit)
		return;
	i128 full = (i128)b->cap * s->period;
	b->s += (i128)back * s->period;
	if (b->s > full)
		b->s = full;
}

void srvm_consume(srvm *s, int64_t t, int dim, int64_t units)
{
	refill(s, t);
	if (s->b[dim].limit)
		s->b[dim].s -= (i128)units * s->period;
	s->st.used[dim] += units;
}

void srvm_get_stats(const srvm *s, srvm_stats *out)
{
	*out = s->st;
}
