/* redis_int: what the files of the Redis layer share - the connection
 * object and the script runner. Nothing outside src/redis includes it. */
#ifndef AIMETER_REDIS_INT_H
#define AIMETER_REDIS_INT_H

#include <hiredis/hiredis.h>

#include "redis.h"

/* The scripts, by number; their text is in redis_scripts.c. */
enum { RS_ACQUIRE, RS_SETTLE, RS_429, RS_VIEW, RS_RESERVE, RS_PUBLISH, RS_N };
extern const char *const am_redis_script_src[RS_N];

struct am_redis {
	am_redis_url url;
	char where[AM_REDIS_HOST_MAX + 32];
	char prefix[AM_REDIS_PREFIX_MAX];
	int connect_ms, timeout_ms;
	redisContext *c;
	char sha[RS_N][41];
	int64_t next_try;  /* mono ns: no reconnect before */
	int64_t backoff;   /* ns */
	int64_t last_now;  /* the latest time ensure was given */
	char why[256];
};

/* Runs script s with the given arguments (no KEYS: the scripts build their
 * keys from the prefix, the first argument). NULL + err when Redis failed
 * (the connection is dropped) or the script answered an error. The caller
 * frees the reply with freeReplyObject. */
redisReply *rx_eval(am_redis *r, int s, int argc, const char **argv, am_err *err);

/* A plain command (argv), NULL + err as rx_eval. */
redisReply *rx_cmd(am_redis *r, int argc, const char **argv, am_err *err);

/* An integer from a reply element (integer or decimal string), else def. */
int64_t rx_int(const redisReply *e, int64_t def);

#endif
