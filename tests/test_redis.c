/* test_redis: the Redis layer against a private redis-server (redisfix) -
 * the URL and the password, the shared limiter's scripts (all-or-nothing
 * grants seen by every connection, refunds, 429 cool-downs, calibration,
 * NOSCRIPT), the shared budget (atomic check, exact money, leases that
 * expire with their member), the shared cache, and a Redis that goes away
 * and comes back. */
#include <check.h>
#include <signal.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check_run.h"
#include "redis.h"
#include "redisfix.h"
#include "tmpdir.h"

#define MS 1000000LL
#define S 1000000000LL

static am_rf rf;

static int64_t mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * S + ts.tv_nsec;
}

static void nap_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static void setup(void)
{
	ck_assert_msg(am_rf_start(&rf, NULL) == 0, "redis-server did not start");
}

static void teardown(void)
{
	am_rf_free(&rf);
}

/* A connected client with its own prefix (tests do not see each other). */
static am_redis *client(const char *prefix)
{
	am_redis_opts o = { .url = rf.url, .prefix = prefix };
	am_redis *r;
	am_err err = { 0 };
	ck_assert_msg(am_redis_new(&r, &o, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(am_redis_ensure(r, mono()), 1);
	ck_assert(am_redis_up(r));
	return r;
}

/* A pool of `rpm` requests a minute with a bucket of `cap`, full at start,
 * and `tpm` input tokens a minute (a bucket of a minute). */
static am_redis_rl_pool pool(const char *name, int64_t rpm, int64_t cap, int64_t tpm)
{
	am_redis_rl_pool p;
	memset(&p, 0, sizeof p);
	snprintf(p.name, sizeof p.name, "%s", name);
	p.dim[AM_RL_REQ_SHORT] = (am_redis_rl_dim){ rpm, 60 * S, cap, 1000000 };
	if (tpm)
		p.dim[AM_RL_ITOK] = (am_redis_rl_dim){ tpm, 60 * S, tpm, 1000000 };
	return p;
}

/* ---- the URL --------------------------------------------------------------- */

START_TEST(url_forms)
{
	am_redis_url u;
	am_err err = { 0 };
	ck_assert_int_eq(am_redis_url_parse("redis://10.0.0.5", &u, &err), 0);
	ck_assert_str_eq(u.host, "10.0.0.5");
	ck_assert_int_eq(u.port, 6379);
	ck_assert_int_eq(u.db, 0);
	ck_assert_int_eq(am_redis_url_parse("redis://bob:s3cret@cache.lan:7000/3", &u, &err), 0);
	ck_assert_str_eq(u.user, "bob");
	ck_assert_str_eq(u.pass, "s3cret");
	ck_assert_str_eq(u.host, "cache.lan");
	ck_assert_int_eq(u.port, 7000);
	ck_assert_int_eq(u.db, 3);
	ck_assert_int_eq(am_redis_url_parse("redis://:pw@[::1]:6380/", &u, &err), 0);
	ck_assert_str_eq(u.host, "::1");
	ck_assert_str_eq(u.pass, "pw");
	ck_assert_str_eq(u.user, "");
	const char *bad[] = { "http://x", "redis://", "redis://h:0", "redis://h:99999",
		              "redis://h:12x", "redis://h/db", "redis://h?x=1", "" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(am_redis_url_parse(bad[i], &u, &err) == -1, "%s accepted", bad[i]);
	ck_assert_int_eq(am_redis_url_parse("rediss://u:topsecret@h:6379", &u, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "TLS"));
	ck_assert_ptr_null(strstr(err.msg, "topsecret"));
}
END_TEST

/* ---- the password ----------------------------------------------------------- */

START_TEST(password_file_and_auth)
{
	am_rf_free(&rf);
	ck_assert_int_eq(am_rf_start(&rf, "pa55-word-xyz"), 0);
	char path[600];
	snprintf(path, sizeof path, "%s/pw", rf.dir);
	FILE *f = fopen(path, "w");
	fputs("pa55-word-xyz\n", f);
	fclose(f);
	am_redis *r;
	am_err err = { 0 };
	am_redis_opts o = { .url = rf.url, .password_file = path };
	chmod(path, 0644);
	ck_assert_int_eq(am_redis_new(&r, &o, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "chmod 600"));
	chmod(path, 0600);
	ck_assert_msg(am_redis_new(&r, &o, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(am_redis_ensure(r, mono()), 1);
	am_redis_free(r);

	/* A wrong password: refused, and never echoed. */
	char url[160];
	snprintf(url, sizeof url, "redis://:wrong-guess-123@127.0.0.1:%d", rf.port);
	am_redis_opts w = { .url = url };
	ck_assert_int_eq(am_redis_new(&r, &w, &err), 0);
	ck_assert_int_eq(am_redis_ensure(r, mono()), -1);
	ck_assert_ptr_nonnull(strstr(am_redis_why(r), "password"));
	ck_assert_ptr_null(strstr(am_redis_why(r), "wrong-guess-123"));
	am_redis_free(r);
}
END_TEST

/* ---- the shared limiter ------------------------------------------------------ */

static int acquire(am_redis *r, const am_redis_rl_pool *p, int64_t itok, am_redis_grant *g,
                   int64_t *wait)
{
	int64_t cost[AM_RL_NDIMS] = { 1, itok, 0, 1 };
	am_err err = { 0 };
	*wait = 0;
	int rc = am_redis_rl_acquire(r, p, cost, g, wait, &err);
	ck_assert_msg(rc >= 0, "%s", err.msg);
	return rc;
}

START_TEST(grants_are_shared_by_every_connection)
{
	am_redis *a = client("t1:"), *b = client("t1:");
	am_redis_rl_pool p = pool("sonnet-4", 600, 10, 0); /* 10 at once, then 1 per 100 ms */
	am_redis_grant g;
	int64_t wait;
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(acquire(i % 2 ? a : b, &p, 0, &g, &wait), 1);
	ck_assert_int_eq(acquire(b, &p, 0, &g, &wait), 0);
	ck_assert_msg(wait > 0 && wait <= 100 * MS, "wait %lld", (long long)wait);
	ck_assert_int_eq(acquire(a, &p, 0, &g, &wait), 0);
	nap_ms((int)(wait / MS) + 2);
	ck_assert_int_eq(acquire(a, &p, 0, &g, &wait), 1);
	ck_assert_int_eq(acquire(b, &p, 0, &g, &wait), 0);
	am_redis_free(a);
	am_redis_free(b);
}
END_TEST

/* All or nothing: a grant that does not fit one dimension charges none. */
START_TEST(all_or_nothing_and_refunds)
{
	am_redis *a = client("t2:");
	/* Slow refills (1 request and 10 tokens a second), so that a busy
	 * machine does not refill the buckets between two steps. */
	am_redis_rl_pool p = pool("p", 60, 100, 600);
	p.dim[AM_RL_ITOK].cap = 60000; /* ITOK bucket 60,000 */
	am_redis_grant g;
	int64_t wait;
	am_redis_rl_view v;
	am_err err = { 0 };
	ck_assert_int_eq(acquire(a, &p, 50000, &g, &wait), 1);
	ck_assert_int_eq(acquire(a, &p, 20000, &g, &wait), 0); /* 10,000 left */
	ck_assert_int_eq(am_redis_rl_view_dim(a, &p, AM_RL_REQ_SHORT, &v, &err), 0);
	ck_assert_int_le(v.level, 99);
	ck_assert_int_ge(v.level, 98); /* the failed one took no request */
	ck_assert_int_eq(v.granted, 1);
	/* The first call used 10,000 of its 50,000: 40,000 back. */
	int64_t refund[AM_RL_NDIMS] = { 0, 40000, 0, 0 };
	ck_assert_int_eq(am_redis_rl_settle(a, &p, NULL, refund, NULL, 0, &err), 0);
	ck_assert_int_eq(acquire(a, &p, 20000, &g, &wait), 1);
	ck_assert_int_eq(am_redis_rl_view_dim(a, &p, AM_RL_ITOK, &v, &err), 0);
	ck_assert_int_ge(v.level, 30000);
	ck_assert_int_le(v.level, 30050);
	/* A refund never fills past the capacity. */
	int64_t big[AM_RL_NDIMS] = { 0, 1000000, 0, 0 };
	ck_assert_int_eq(am_redis_rl_settle(a, &p, NULL, big, NULL, 0, &err), 0);
	ck_assert_int_eq(am_redis_rl_view_dim(a, &p, AM_RL_ITOK, &v, &err), 0);
	ck_assert_int_eq(v.level, 60000);
	/* Oversize: never fits, said at once. */
	int64_t cost[AM_RL_NDIMS] = { 1, 70000, 0, 1 };
	ck_assert_int_eq(am_redis_rl_acquire(a, &p, cost, &g, &wait, &err), -1);
	ck_assert_int_eq(err.code, AM_E_INVALID);
	am_redis_free(a);
}
END_TEST

START_TEST(a_429_pauses_every_host)
{
	am_redis *a = client("t3:"), *b = client("t3:");
	am_redis_rl_pool p = pool("p", 60, 100, 0); /* refills 1 a second */
	am_redis_grant g;
	int64_t wait;
	am_err err = { 0 };
	ck_assert_int_eq(acquire(b, &p, 0, &g, &wait), 1);
	ck_assert_int_eq(am_redis_rl_on_429(a, &p, AM_RL_REQ, 400 * MS, NULL, &err), 0);
	ck_assert_int_eq(acquire(b, &p, 0, &g, &wait), 0);
	ck_assert_msg(wait > 300 * MS && wait <= 400 * MS, "wait %lld", (long long)wait);
	am_redis_rl_view v;
	ck_assert_int_eq(am_redis_rl_view_dim(b, &p, AM_RL_REQ_SHORT, &v, &err), 0);
	ck_assert_int_eq(v.share_ppm, 900000); /* the share cut, seen by b */
	ck_assert_int_le(v.level, 50);         /* unexplained: half the bucket */
	nap_ms(410);
	ck_assert_int_eq(acquire(b, &p, 0, &g, &wait), 1);
	am_redis_free(a);
	am_redis_free(b);
}
END_TEST

/* The first headers set the level, later ones only lower it. */
START_TEST(headers_calibrate_the_shared_level)
{
	am_redis *a = client("t4:");
	am_redis_rl_pool p;
	memset(&p, 0, sizeof p);
	snprintf(p.name, sizeof p.name, "p");
	p.dim[AM_RL_REQ] = (am_redis_rl_dim){ 60, 60 * S, 60, 250000 }; /* starts at 15 */
	am_redis_grant g;
	int64_t wait;
	am_err err = { 0 };
	am_redis_rl_view v;
	int64_t cost[AM_RL_NDIMS] = { 1, 0, 0, 0 };
	ck_assert_int_eq(am_redis_rl_acquire(a, &p, cost, &g, &wait, &err), 1);
	am_rl_headers h;
	memset(&h, 0, sizeof h);
	h.b[AM_RLH_REQUESTS] = (am_rl_bucket_hdr){ true, true, true, false, 60, 50, 0 };
	ck_assert_int_eq(am_redis_rl_settle(a, &p, &g, NULL, &h, 0, &err), 0);
	ck_assert_int_eq(am_redis_rl_view_dim(a, &p, AM_RL_REQ, &v, &err), 0);
	ck_assert_int_ge(v.level, 50); /* learnt upward from 14 */
	ck_assert_int_le(v.level, 51);
	h.b[AM_RLH_REQUESTS].remaining = 55; /* higher: ignored */
	ck_assert_int_eq(am_redis_rl_settle(a, &p, &g, NULL, &h, 0, &err), 0);
	ck_assert_int_eq(am_redis_rl_view_dim(a, &p, AM_RL_REQ, &v, &err), 0);
	ck_assert_int_le(v.level, 51);
	h.b[AM_RLH_REQUESTS].remaining = 20; /* lower: adopted */
	ck_assert_int_eq(am_redis_rl_settle(a, &p, &g, NULL, &h, 0, &err), 0);
	ck_assert_int_eq(am_redis_rl_view_dim(a, &p, AM_RL_REQ, &v, &err), 0);
	ck_assert_int_le(v.level, 21);
	ck_assert_int_ge(v.level, 19);
	am_redis_free(a);
}
END_TEST

/* Redis forgot the scripts (restart, SCRIPT FLUSH): loaded again. */
START_TEST(noscript_reloads)
{
	am_redis *a = client("t5:");
	redisContext *c = redisConnect("127.0.0.1", rf.port);
	redisReply *rep = redisCommand(c, "SCRIPT FLUSH");
	ck_assert_ptr_nonnull(rep);
	freeReplyObject(rep);
	redisFree(c);
	am_redis_rl_pool p = pool("p", 600, 10, 0);
	am_redis_grant g;
	int64_t wait;
	ck_assert_int_eq(acquire(a, &p, 0, &g, &wait), 1);
	am_redis_free(a);
}
END_TEST

/* ---- the shared budget -------------------------------------------------------- */

static am_redis_budget_id bid(const char *host, const char *member, int64_t lease)
{
	return (am_redis_budget_id){ host, member, lease };
}

START_TEST(budget_reserves_atomically_and_exactly)
{
	am_redis *a = client("t6:"), *b = client("t6:");
	am_redis_budget_id ia = bid("hostA", "hostA:1", 60), ib = bid("hostB", "hostB:1", 60);
	am_redis_verdict v;
	am_redis_totals t;
	am_err err = { 0 };
	/* Amounts past 2^53 pUSD: a float would lose the last unit. */
	const int64_t limit = 9007199254740993LL; /* 2^53 + 1 */
	ck_assert_int_eq(am_redis_budget_publish(a, &ia, "2026-12-06", "2026-12", 4503599627370496LL,
	                                         4503599627370496LL, NULL, 0, &t, &err), 0);
	ck_assert_int_eq(t.day_pusd, 4503599627370496LL);
	ck_assert_int_eq(am_redis_budget_reserve(b, &ib, "2026-12-06", "2026-12", "r1",
	                                         4503599627370496LL, limit, 0, &v, &t, &err), 0);
	ck_assert_int_eq(v, AM_REDIS_RESERVED);
	/* spent 2^52 + reserved 2^52 = 2^53: one unit is left, two are not. */
	ck_assert_int_eq(am_redis_budget_reserve(a, &ia, "2026-12-06", "2026-12", "r2", 2, limit, 0,
	                                         &v, &t, &err), 0);
	ck_assert_int_eq(v, AM_REDIS_BLOCKED_DAY);
	ck_assert_int_eq(t.reserved_pusd, 4503599627370496LL);
	ck_assert_int_eq(am_redis_budget_reserve(a, &ia, "2026-12-06", "2026-12", "r2", 1, limit, 0,
	                                         &v, &t, &err), 0);
	ck_assert_int_eq(v, AM_REDIS_RESERVED);
	/* B settles: its reservation goes, its spend (absolute) counts. */
	const char *rel[] = { "r1" };
	ck_assert_int_eq(am_redis_budget_publish(b, &ib, "2026-12-06", "2026-12", 1000, 1000, rel, 1,
	                                         &t, &err), 0);
	ck_assert_int_eq(t.day_pusd, 4503599627370496LL + 1000);
	ck_assert_int_eq(t.reserved_pusd, 1);
	ck_assert_int_eq(t.host_day_pusd, 1000);
	/* A stale (lower) figure never lowers a host's spend. */
	ck_assert_int_eq(am_redis_budget_publish(b, &ib, "2026-12-06", "2026-12", 10, 10, NULL, 0, &t,
	                                         &err), 0);
	ck_assert_int_eq(t.host_day_pusd, 1000);
	/* The month limit is checked too. */
	ck_assert_int_eq(am_redis_budget_reserve(b, &ib, "2026-12-06", "2026-12", "r3", 5000, 0,
	                                         4503599627370496LL + 5000, &v, &t, &err), 0);
	ck_assert_int_eq(v, AM_REDIS_BLOCKED_MONTH);
	am_redis_free(a);
	am_redis_free(b);
}
END_TEST

START_TEST(a_dead_members_reservations_expire)
{
	am_redis *a = client("t7:"), *b = client("t7:");
	am_redis_budget_id ia = bid("hostA", "hostA:1", 1), ib = bid("hostB", "hostB:1", 60);
	am_redis_verdict v;
	am_redis_totals t;
	am_err err = { 0 };
	ck_assert_int_eq(am_redis_budget_reserve(a, &ia, "d", "m", "r1", 900, 1000, 0, &v, &t, &err),
	                 0);
	ck_assert_int_eq(v, AM_REDIS_RESERVED);
	ck_assert_int_eq(am_redis_budget_reserve(b, &ib, "d", "m", "r1", 200, 1000, 0, &v, &t, &err),
	                 0);
	ck_assert_int_eq(v, AM_REDIS_BLOCKED_DAY);
	am_redis_free(a); /* A dies without settling */
	nap_ms(1300);     /* its lease (1 s) runs out */
	ck_assert_int_eq(am_redis_budget_reserve(b, &ib, "d", "m", "r1", 200, 1000, 0, &v, &t, &err),
	                 0);
	ck_assert_int_eq(v, AM_REDIS_RESERVED);
	ck_assert_int_eq(t.reserved_pusd, 0);
	am_redis_free(b);
}
END_TEST

/* ---- the shared cache ------------------------------------------------------------ */

START_TEST(cache_round_trip)
{
	am_redis *a = client("t8:"), *b = client("t8:");
	uint8_t key[AM_CACHE_KEY_LEN];
	memset(key, 7, sizeof key);
	am_cache_answer in, out;
	memset(&in, 0, sizeof in);
	snprintf(in.model, sizeof in.model, "claude-haiku-4-5");
	snprintf(in.stop_reason, sizeof in.stop_reason, "end_turn");
	in.text = (char *)"bonjour \xc3\xa0 tous";
	in.usage.input_tokens = 12;
	in.usage.output_tokens = 34;
	in.usage.cache_read = 5;
	in.cost_pusd = 123456789;
	am_err err = { 0 };
	ck_assert_int_eq(am_redis_cache_get(b, key, &out, &err), 0);
	bool stored;
	ck_assert_int_eq(am_redis_cache_put(a, key, &in, 60, 1 << 20, &stored, &err), 0);
	ck_assert(stored);
	ck_assert_int_eq(am_redis_cache_get(b, key, &out, &err), 1);
	ck_assert_str_eq(out.text, in.text);
	ck_assert_str_eq(out.model, in.model);
	ck_assert_str_eq(out.stop_reason, "end_turn");
	ck_assert_int_eq(out.usage.input_tokens, 12);
	ck_assert_int_eq(out.usage.output_tokens, 34);
	ck_assert_int_eq(out.usage.cache_read, 5);
	ck_assert_int_eq(out.cost_pusd, 123456789);
	am_cache_answer_free(&out);
	/* Above the byte cap: not stored. */
	uint8_t k2[AM_CACHE_KEY_LEN];
	memset(k2, 8, sizeof k2);
	ck_assert_int_eq(am_redis_cache_put(a, k2, &in, 60, 20, &stored, &err), 0);
	ck_assert(!stored);
	ck_assert_int_eq(am_redis_cache_get(b, k2, &out, &err), 0);
	/* The TTL is Redis's. */
	ck_assert_int_eq(am_redis_cache_put(a, k2, &in, 1, 1 << 20, &stored, &err), 0);
	nap_ms(1100);
	ck_assert_int_eq(am_redis_cache_get(b, k2, &out, &err), 0);
	am_redis_free(a);
	am_redis_free(b);
}
END_TEST

/* ---- Redis goes away ------------------------------------------------------------- */

START_TEST(down_then_back)
{
	am_redis *a = client("t9:");
	am_redis_rl_pool p = pool("p", 600, 10, 0);
	am_redis_grant g;
	int64_t wait, cost[AM_RL_NDIMS] = { 1, 0, 0, 1 };
	am_err err = { 0 };
	am_rf_stop(&rf, true);
	/* A large write to a dead peer raises SIGPIPE: never the end of us. */
	ck_assert_ptr_eq(signal(SIGPIPE, SIG_DFL) == SIG_ERR ? NULL : a, a);
	uint8_t key[AM_CACHE_KEY_LEN] = { 1 };
	am_cache_answer big;
	memset(&big, 0, sizeof big);
	big.text = malloc(8 << 20);
	memset(big.text, 'x', (8 << 20) - 1);
	big.text[(8 << 20) - 1] = '\0';
	ck_assert_int_eq(am_redis_cache_put(a, key, &big, 60, 0, NULL, &err), -1);
	free(big.text);
	ck_assert(!am_redis_up(a));
	ck_assert_int_eq(am_redis_ensure(a, mono() + 60 * S), -1); /* still down */
	ck_assert_int_eq(am_redis_rl_acquire(a, &p, cost, &g, &wait, &err), -1);
	ck_assert_int_eq(err.code, AM_E_FAIL);
	ck_assert(!am_redis_up(a));
	int64_t now = mono() + 60 * S;
	ck_assert_int_eq(am_redis_ensure(a, now), -1); /* down, and the backoff holds */
	ck_assert_int_eq(am_rf_restart(&rf), 0);
	ck_assert_int_eq(am_redis_ensure(a, now), -1); /* not due yet: no connect attempt */
	ck_assert_int_eq(am_redis_ensure(a, now + 10 * S), 1);
	ck_assert_int_eq(am_redis_rl_acquire(a, &p, cost, &g, &wait, &err), 1);
	am_redis_free(a);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("redis");
	TCase *u = tcase_create("url");
	tcase_add_test(u, url_forms);
	suite_add_tcase(s, u);
	TCase *t = tcase_create("server");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 60);
	tcase_add_test(t, password_file_and_auth);
	tcase_add_test(t, grants_are_shared_by_every_connection);
	tcase_add_test(t, all_or_nothing_and_refunds);
	tcase_add_test(t, a_429_pauses_every_host);
	tcase_add_test(t, headers_calibrate_the_shared_level);
	tcase_add_test(t, noscript_reloads);
	tcase_add_test(t, budget_reserves_atomically_and_exactly);
	tcase_add_test(t, a_dead_members_reservations_expire);
	tcase_add_test(t, cache_round_trip);
	tcase_add_test(t, down_then_back);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return check_run(suite());
}
