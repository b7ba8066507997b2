/* redis_budget: the shared budget's calls (reserve, publish, rehold) and
 * the shared cache's (get, put). */
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

/* ---- the cache ------------------------------------------------------------------ */

static void cache_key(const am_redis *r, const uint8_t key[AM_CACHE_KEY_LEN],
                      char *out, size_t n)
{
	char hex[2 * AM_CACHE_KEY_LEN + 1];
	am_cache_key_hex(key, hex);
	snprintf(out, n, "%sc:%s", r->prefix, hex);
}

/* The value: the original call's cost in pUSD, a newline, the answer as the
 * local table stores it. */
int am_redis_cache_get(am_redis *r, const uint8_t key[AM_CACHE_KEY_LEN], am_cache_answer *out,
                       am_err *err)
{
	memset(out, 0, sizeof *out);
	char k[AM_REDIS_PREFIX_MAX + 2 * AM_CACHE_KEY_LEN + 8];
	cache_key(r, key, k, sizeof k);
	const char *argv[] = { "GET", k };
	redisReply *rep = rx_cmd(r, 2, argv, err);
	if (!rep)
		return -1;
	int rc = 0;
	if (rep->type == REDIS_REPLY_STRING) {
		char *nl = memchr(rep->str, '\n', rep->len);
		char *end;
		long long cost = nl ? strtoll(rep->str, &end, 10) : -1;
		if (nl && end == nl && cost >= 0 && strlen(nl + 1) == rep->len - (size_t)(nl + 1 - rep->str) &&
		    am_cache_answer_decode(nl + 1, out) == 0) {
			out->cost_pusd = (int64_t)cost;
			rc = 1;
		} else {
			/* Not ours or damaged: a miss (the next answer replaces it). */
			am_cache_answer_free(out);
			memset(out, 0, sizeof *out);
		}
	}
	freeReplyObject(rep);
	return rc;
}

int am_redis_cache_put(am_redis *r, const uint8_t key[AM_CACHE_KEY_LEN], const am_cache_answer *a,
                       int64_t ttl_s, int64_t max_bytes, bool *stored, am_err *err)
{
	if (stored)
		*stored = false;
	char *json = am_cache_answer_encode(a);
	if (!json)
		return am_err_set(err, "cache: the answer is not valid UTF-8");
	size_t jl = strlen(json);
	if (max_bytes > 0 && (int64_t)jl > max_bytes) {
		free(json);
		return 0;
	}
	char head[32];
	int hl = snprintf(head, sizeof head, "%" PRId64 "\n", a->cost_pusd > 0 ? a->cost_pusd : 0);
	char *val = malloc((size_t)hl + jl + 1);
	if (!val) {
		free(json);
		return am_err_setc(err, AM_E_FAIL, "out of memory");
	}
	memcpy(val, head, (size_t)hl);
	memcpy(val + hl, json, jl + 1);
	free(json);
	char k[AM_REDIS_PREFIX_MAX + 2 * AM_CACHE_KEY_LEN + 8], ttl[24];
	cache_key(r, key, k, sizeof k);
	snprintf(ttl, sizeof ttl, "%" PRId64, ttl_s > 0 ? ttl_s : 86400);
	const char *argv[] = { "SET", k, val, "EX", ttl };
	redisReply *rep = rx_cmd(r, 5, argv, err);
	free(val);
	if (!rep)
		return -1;
	freeReplyObject(rep);
	if (stored)
		*stored = true;
	return 0;
}
