/* redis_budget: the shared budget's calls (reserve, publish, rehold). */
#include "redis_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef char num_arg[24];

static const char *money_arg(num_arg a, int64_t v)
{
	snprintf(a, sizeof(num_arg), "%" PRId64, v > 0 ? v : 0);
	return a;
}

/* The totals of a reply, from element `first`: day, month, reserved, host day. */
static void totals_from(const redisReply *rep, size_t first, am_redis_totals *t)
{
	if (!t)
		return;
	t->day_pusd = rx_int(rep->element[first], 0);
	t->month_pusd = rx_int(rep->element[first + 1], 0);
	t->reserved_pusd = rx_int(rep->element[first + 2], 0);
	t->host_day_pusd = rx_int(rep->element[first + 3], 0);
}

int am_redis_budget_reserve(am_redis *r, const am_redis_budget_id *id, const char *day,
                            const char *month, const char *res_id, int64_t amount,
                            int64_t day_limit, int64_t month_limit, am_redis_verdict *verdict,
                            am_redis_totals *t, am_err *err)
{
	num_arg lease, amt, dl, ml;
	snprintf(lease, sizeof lease, "%" PRId64, id->lease_s > 0 ? id->lease_s : 300);
	const char *argv[] = { r->prefix,
		               id->host,
		               id->member,
		               lease,
		               day,
		               month,
		               res_id,
		               money_arg(amt, amount),
		               money_arg(dl, day_limit),
		               money_arg(ml, month_limit) };
	redisReply *rep = rx_eval(r, RS_RESERVE, 10, argv, err);
	if (!rep)
		return -1;
	int rc = 0;
	if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 5) {
		int64_t v = rx_int(rep->element[0], -1);
		*verdict = v == 1 ? AM_REDIS_BLOCKED_DAY
		           : v == 2 ? AM_REDIS_BLOCKED_MONTH
		                    : AM_REDIS_RESERVED;
		totals_from(rep, 1, t);
	} else {
		rc = am_err_setc(err, AM_E_FAIL, "Redis: an unexpected answer to reserve");
	}
	freeReplyObject(rep);
	return rc;
}

int am_redis_budget_publish(am_redis *r, const am_redis_budget_id *id, const char *day,
                            const char *month, int64_t host_day, int64_t host_month,
                            const char *const *release, int n, am_redis_totals *t, am_err *err)
{
	enum { FIXED = 8, MAXREL = 48 };
	if (n > MAXREL) {
		/* More than one script call's worth: the rest first, then these. */
		if (am_redis_budget_publish(r, id, day, month, host_day, host_month, release + MAXREL,
		                            n - MAXREL, NULL, err))
			return -1;
		n = MAXREL;
	}
	num_arg lease, hd, hm;
	snprintf(lease, sizeof lease, "%" PRId64, id->lease_s > 0 ? id->lease_s : 300);
	const char *argv[FIXED + MAXREL] = { r->prefix, id->host, id->member, lease, day, month,
		                             money_arg(hd, host_day), money_arg(hm, host_month) };
	for (int i = 0; i < n; i++)
		argv[FIXED + i] = release[i];
	redisReply *rep = rx_eval(r, RS_PUBLISH, FIXED + n, argv, err);
	if (!rep)
		return -1;
	int rc = 0;
	if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 4)
		totals_from(rep, 0, t);
	else
		rc = am_err_setc(err, AM_E_FAIL, "Redis: an unexpected answer to publish");
	freeReplyObject(rep);
	return rc;
}

int am_redis_budget_rehold(am_redis *r, const am_redis_budget_id *id, const char *const *res_id,
                           const int64_t *amount, int n, am_err *err)
{
	if (n <= 0)
		return 0;
	char key[AM_REDIS_PREFIX_MAX + 160];
	snprintf(key, sizeof key, "%sb:res:%s", r->prefix, id->member);
	const char **argv = malloc(sizeof *argv * (size_t)(2 + 2 * n));
	num_arg *amt = malloc(sizeof *amt * (size_t)n);
	if (!argv || !amt) {
		free(argv);
		free(amt);
		return am_err_setc(err, AM_E_FAIL, "out of memory");
	}
	argv[0] = "HSET";
	argv[1] = key;
	for (int i = 0; i < n; i++) {
		argv[2 + 2 * i] = res_id[i];
		argv[3 + 2 * i] = money_arg(amt[i], amount[i]);
	}
	redisReply *rep = rx_cmd(r, 2 + 2 * n, argv, err);
	free(argv);
	free(amt);
	if (!rep)
		return -1;
	freeReplyObject(rep);
	return 0;
}
