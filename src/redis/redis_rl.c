/* redis_rl: the shared limiter's calls - the arguments of the acquire,
 * settle, 429 and view scripts, and their answers. */
#include "redis_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define US 1000LL /* ns per microsecond */
#define RETRY_MAX_NS (60 * 1000000000LL)

typedef char num_arg[24];

static void put(num_arg a, int64_t v)
{
	snprintf(a, sizeof(num_arg), "%" PRId64, v);
}

/* The bucket arguments of dimension d: limit, period_us, cap, init_ppm. */
static int dim_args(const am_redis_rl_pool *p, int d, num_arg *a)
{
	const am_redis_rl_dim *x = &p->dim[d];
	bool on = x->limit > 0 && x->period_ns >= US && x->cap > 0;
	put(a[0], on ? x->limit : 0);
	put(a[1], x->period_ns / US);
	put(a[2], x->cap);
	put(a[3], x->init_ppm);
	return 4;
}

int am_redis_rl_acquire(am_redis *r, const am_redis_rl_pool *p, const int64_t cost[AM_RL_NDIMS],
                        am_redis_grant *g, int64_t *wait_ns, am_err *err)
{
	num_arg a[AM_RL_NDIMS * 5];
	const char *argv[2 + AM_RL_NDIMS * 5];
	int n = 0;
	argv[n++] = r->prefix;
	argv[n++] = p->name;
	for (int d = 0; d < AM_RL_NDIMS; d++) {
		num_arg *x = &a[d * 5];
		dim_args(p, d, x);
		put(x[4], cost[d] > 0 ? cost[d] : 0);
		for (int k = 0; k < 5; k++)
			argv[n++] = x[k];
	}
	redisReply *rep = rx_eval(r, RS_ACQUIRE, n, argv, err);
	if (!rep)
		return -1;
	int rc = -1;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 2) {
		am_err_setc(err, AM_E_FAIL, "Redis: an unexpected answer to acquire");
	} else if (rx_int(rep->element[0], -9) == 1 && rep->elements == 1 + AM_RL_NDIMS) {
		memset(g, 0, sizeof *g);
		for (int d = 0; d < AM_RL_NDIMS; d++) {
			g->cost[d] = cost[d];
			g->mark[d] = rx_int(rep->element[1 + d], 0);
		}
		rc = 1;
	} else if (rx_int(rep->element[0], -9) == 0) {
		*wait_ns = rx_int(rep->element[1], 1000) * US;
		rc = 0;
	} else {
		int d = (int)rx_int(rep->element[1], 0);
		am_err_setc(err, AM_E_INVALID,
		            "the request can never fit the shared rate limit of pool %s (%s: it "
		            "costs more than the bucket holds)",
		            p->name, d == AM_RL_ITOK ? "input tokens" : d == AM_RL_OTOK ? "output tokens"
		                                                                        : "requests");
	}
	freeReplyObject(rep);
	return rc;
}

/* The header bucket that bounds dimension d, and its rounding. */
static const am_rl_bucket_hdr *hdr_of(const am_rl_headers *h, int d, int64_t *rounding)
{
	*rounding = 0;
	if (!h)
		return NULL;
	const am_rl_bucket_hdr *b = NULL;
	switch (d) {
	case AM_RL_REQ: b = &h->b[AM_RLH_REQUESTS]; break;
	case AM_RL_ITOK: b = &h->b[AM_RLH_INPUT_TOKENS]; *rounding = 500; break;
	case AM_RL_OTOK: b = &h->b[AM_RLH_OUTPUT_TOKENS]; *rounding = 500; break;
	default: return NULL;
	}
	return b->present && b->has_remaining && b->remaining >= 0 ? b : NULL;
}

int am_redis_rl_settle(am_redis *r, const am_redis_rl_pool *p, const am_redis_grant *g,
                       const int64_t refund[AM_RL_NDIMS], const am_rl_headers *h,
                       int64_t since_sent_ns, am_err *err)
{
	num_arg a[1 + AM_RL_NDIMS * 9];
	const char *argv[3 + AM_RL_NDIMS * 9];
	int n = 0;
	argv[n++] = r->prefix;
	argv[n++] = p->name;
	put(a[0], since_sent_ns > 0 ? since_sent_ns / US : 0);
	argv[n++] = a[0];
	for (int d = 0; d < AM_RL_NDIMS; d++) {
		num_arg *x = &a[1 + d * 9];
		dim_args(p, d, x);
		int64_t rounding;
		const am_rl_bucket_hdr *b = hdr_of(h, d, &rounding);
		put(x[4], refund ? refund[d] : 0);
		put(x[5], b ? 1 : 0);
		put(x[6], b ? b->remaining : 0);
		put(x[7], g ? g->mark[d] : 0);
		put(x[8], rounding);
		for (int k = 0; k < 9; k++)
			argv[n++] = x[k];
	}
	redisReply *rep = rx_eval(r, RS_SETTLE, n, argv, err);
	if (!rep)
		return -1;
	freeReplyObject(rep);
	return 0;
}

int am_redis_rl_on_429(am_redis *r, const am_redis_rl_pool *p, int dim, int64_t retry_ns,
                       const am_rl_headers *h, am_err *err)
{
	if (retry_ns <= 0)
		retry_ns = 1000000000LL;
	if (retry_ns > RETRY_MAX_NS)
		retry_ns = RETRY_MAX_NS;
	num_arg a[1 + AM_RL_NDIMS * 7];
	const char *argv[3 + AM_RL_NDIMS * 7];
	int n = 0;
	argv[n++] = r->prefix;
	argv[n++] = p->name;
	put(a[0], retry_ns / US);
	argv[n++] = a[0];
	for (int d = 0; d < AM_RL_NDIMS; d++) {
		num_arg *x = &a[1 + d * 7];
		dim_args(p, d, x);
		int64_t rounding;
		const am_rl_bucket_hdr *b = hdr_of(h, d, &rounding);
		bool hit = d == dim || (dim == AM_RL_REQ && d == AM_RL_REQ_SHORT);
		put(x[4], hit ? 1 : 0);
		put(x[5], b ? 1 : 0);
		put(x[6], b ? b->remaining : 0);
		for (int k = 0; k < 7; k++)
			argv[n++] = x[k];
	}
	redisReply *rep = rx_eval(r, RS_429, n, argv, err);
	if (!rep)
		return -1;
	freeReplyObject(rep);
	return 0;
}

int am_redis_rl_view_dim(am_redis *r, const am_redis_rl_pool *p, int dim, am_redis_rl_view *out,
                         am_err *err)
{
	memset(out, 0, sizeof *out);
	if (dim < 0 || dim >= AM_RL_NDIMS)
		return am_err_setc(err, AM_E_INVALID, "no dimension %d", dim);
	num_arg a[5];
	const char *argv[7] = { r->prefix, p->name, a[0], a[1], a[2], a[3], a[4] };
	put(a[0], dim);
	dim_args(p, dim, &a[1]);
	if (p->dim[dim].limit <= 0)
		return am_err_setc(err, AM_E_INVALID, "dimension %d is not limited", dim);
	redisReply *rep = rx_eval(r, RS_VIEW, 7, argv, err);
	if (!rep)
		return -1;
	int rc = 0;
	if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 4) {
		out->level = rx_int(rep->element[0], 0);
		out->share_ppm = rx_int(rep->element[1], 0);
		out->cooldown_ns = rx_int(rep->element[2], 0) * US;
		out->granted = rx_int(rep->element[3], 0);
	} else {
		rc = am_err_setc(err, AM_E_FAIL, "Redis: an unexpected answer to view");
	}
	freeReplyObject(rep);
	return rc;
}
