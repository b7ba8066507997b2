/* redis_cache: the shared response cache's calls (get, put). */
#include "redis_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
