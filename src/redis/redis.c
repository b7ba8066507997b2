/* redis: the connection - the URL, the password, connecting with a
 * backoff, and running the scripts (loaded once, EVALSHA, reloaded on
 * NOSCRIPT). */
#include "redis_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NS_PER_MS 1000000LL
#define BACKOFF_MIN (250 * NS_PER_MS)
#define BACKOFF_MAX (8000 * NS_PER_MS)

static int parse_port(const char *s, size_t n, int *out)
{
	if (n == 0 || n > 5)
		return -1;
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return -1;
	*out = v;
	return 0;
}

int am_redis_url_parse(const char *url, am_redis_url *out, am_err *err)
{
	memset(out, 0, sizeof *out);
	out->port = 6379;
	if (!url || !*url)
		return am_err_setc(err, AM_E_INVALID, "redis.url is empty");
	if (!strncmp(url, "rediss://", 9))
		return am_err_setc(err, AM_E_INVALID,
		                   "redis.url: rediss:// needs a hiredis built with TLS, and this "
		                   "one has none; use redis:// on a trusted network or a TLS tunnel");
	if (strncmp(url, "redis://", 8))
		return am_err_setc(err, AM_E_INVALID, "redis.url: not a redis:// URL");
	const char *s = url + 8;
	const char *end = s + strcspn(s, "/?#");
	const char *at = NULL;
	for (const char *p = s; p < end; p++)
		if (*p == '@')
			at = p;
	if (at) {
		const char *colon = memchr(s, ':', (size_t)(at - s));
		size_t ulen = colon ? (size_t)(colon - s) : (size_t)(at - s);
		if (ulen >= sizeof out->user)
			return am_err_setc(err, AM_E_INVALID, "redis.url: the user name is too long");
		memcpy(out->user, s, ulen);
		if (colon) {
			size_t plen = (size_t)(at - colon - 1);
			if (plen >= sizeof out->pass)
				return am_err_setc(err, AM_E_INVALID, "redis.url: the password is too long");
			memcpy(out->pass, colon + 1, plen);
		} else {
			/* redis://secret@host: a lone userinfo is the password. */
			memcpy(out->pass, out->user, ulen + 1);
			out->user[0] = '\0';
		}
		s = at + 1;
	}
	const char *hend = s;
	if (*s == '[') { /* [::1]:6379 */
		hend = memchr(s, ']', (size_t)(end - s));
		if (!hend)
			return am_err_setc(err, AM_E_INVALID, "redis.url: an unclosed [ in the host");
		if ((size_t)(hend - s - 1) >= sizeof out->host)
			return am_err_setc(err, AM_E_INVALID, "redis.url: the host is too long");
		memcpy(out->host, s + 1, (size_t)(hend - s - 1));
		hend++;
	} else {
		while (hend < end && *hend != ':')
			hend++;
		if ((size_t)(hend - s) >= sizeof out->host)
			return am_err_setc(err, AM_E_INVALID, "redis.url: the host is too long");
		memcpy(out->host, s, (size_t)(hend - s));
	}
	if (!out->host[0])
		return am_err_setc(err, AM_E_INVALID, "redis.url: no host");
	if (hend < end) {
		if (*hend != ':' || parse_port(hend + 1, (size_t)(end - hend - 1), &out->port))
			return am_err_setc(err, AM_E_INVALID, "redis.url: the port must be 1..65535");
	}
	if (*end == '/' && end[1]) {
		char *e;
		errno = 0;
		long db = strtol(end + 1, &e, 10);
		if (errno || *e || db < 0 || db > 100000 || e == end + 1)
			return am_err_setc(err, AM_E_INVALID,
			                   "redis.url: the database must be a number after the '/'");
		out->db = (int)db;
	} else if (*end && !(*end == '/' && !end[1])) {
		return am_err_setc(err, AM_E_INVALID, "redis.url: unexpected text after the host");
	}
	return 0;
}

/* The password file: one line, mode 0600 or narrower, the password never
 * echoed in a message. */
static int read_password(const char *path, char *out, size_t n, am_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return am_err_setc(err, AM_E_INVALID, "redis.password_file %s: %s", path,
		                   strerror(errno));
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return am_err_setc(err, AM_E_INVALID, "redis.password_file %s: not a regular file",
		                   path);
	}
	if (st.st_mode & 077) {
		close(fd);
		return am_err_setc(err, AM_E_INVALID,
		                   "redis.password_file %s: others may read it (mode %03o); "
		                   "chmod 600 it",
		                   path, (unsigned)(st.st_mode & 0777));
	}
	ssize_t got = read(fd, out, n - 1);
	close(fd);
	if (got < 0)
		return am_err_setc(err, AM_E_INVALID, "redis.password_file %s: %s", path,
		                   strerror(errno));
	out[got] = '\0';
	out[strcspn(out, "\r\n")] = '\0';
	if (!out[0])
		return am_err_setc(err, AM_E_INVALID, "redis.password_file %s is empty", path);
	return 0;
}

int am_redis_new(am_redis **out, const am_redis_opts *o, am_err *err)
{
	*out = NULL;
	am_redis *r = calloc(1, sizeof *r);
	if (!r)
		return am_err_setc(err, AM_E_FAIL, "out of memory");
	if (am_redis_url_parse(o->url, &r->url, err) ||
	    (o->password_file && *o->password_file &&
	     read_password(o->password_file, r->url.pass, sizeof r->url.pass, err))) {
		am_redis_free(r);
		return -1;
	}
	const char *prefix = o->prefix && *o->prefix ? o->prefix : "aimeter:";
	if (strlen(prefix) >= sizeof r->prefix) {
		am_redis_free(r);
		return am_err_setc(err, AM_E_INVALID, "redis.prefix is too long");
	}
	snprintf(r->prefix, sizeof r->prefix, "%s", prefix);
	snprintf(r->where, sizeof r->where, "%s:%d/%d", r->url.host, r->url.port, r->url.db);
	r->connect_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 500;
	r->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 2000;
	r->backoff = BACKOFF_MIN;
	r->next_try = INT64_MIN;
	snprintf(r->why, sizeof r->why, "not connected yet");
	*out = r;
	return 0;
}

void am_redis_free(am_redis *r)
{
	if (!r)
		return;
	if (r->c)
		redisFree(r->c);
	memset(&r->url, 0, sizeof r->url);
	free(r);
}

bool am_redis_up(const am_redis *r)
{
	return r && r->c;
}

const char *am_redis_why(const am_redis *r)
{
	return r->why;
}

const char *am_redis_where(const am_redis *r)
{
	return r->where;
}

const char *am_redis_prefix(const am_redis *r)
{
	return r->prefix;
}

void am_redis_drop(am_redis *r, int64_t now, const char *why)
{
	if (r->c) {
		redisFree(r->c);
		r->c = NULL;
		r->next_try = now + r->backoff;
	}
	snprintf(r->why, sizeof r->why, "%s", why);
}

/* A write to a Redis that went away raises SIGPIPE, which would end the
 * process (a batch, the console): hiredis writes with write(2), so the
 * signal is blocked in this thread around each command and one it raised
 * is taken off the pending set before the mask is restored. */
typedef struct pipe_guard {
	sigset_t old;
	bool was_pending;
} pipe_guard;

static void guard_on(pipe_guard *g)
{
	sigset_t set, pend;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, &g->old);
	g->was_pending = sigpending(&pend) == 0 && sigismember(&pend, SIGPIPE);
}

static void guard_off(pipe_guard *g)
{
	sigset_t set, pend;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	if (!g->was_pending && sigpending(&pend) == 0 && sigismember(&pend, SIGPIPE)) {
		struct timespec zero = { 0, 0 };
		sigtimedwait(&set, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

static redisReply *command(am_redis *r, int argc, const char **argv)
{
	pipe_guard g;
	guard_on(&g);
	redisReply *rep = redisCommandArgv(r->c, argc, argv, NULL);
	guard_off(&g);
	return rep;
}

/* A failure of the connection itself: dropped, the backoff grows. */
static void conn_failed(am_redis *r, const char *what)
{
	char msg[200];
	snprintf(msg, sizeof msg, "%s: %s", what,
	         r->c && r->c->errstr[0] ? r->c->errstr : "connection lost");
	am_redis_drop(r, r->last_now, msg);
	r->next_try = r->last_now + r->backoff;
	r->backoff = r->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : r->backoff * 2;
}

redisReply *rx_cmd(am_redis *r, int argc, const char **argv, am_err *err)
{
	if (!r->c) {
		am_err_setc(err, AM_E_FAIL, "Redis at %s is unreachable (%s)", r->where, r->why);
		return NULL;
	}
	redisReply *rep = command(r, argc, argv);
	if (!rep) {
		conn_failed(r, "Redis");
		am_err_setc(err, AM_E_FAIL, "Redis at %s is unreachable (%s)", r->where, r->why);
		return NULL;
	}
	if (rep->type == REDIS_REPLY_ERROR) {
		am_err_setc(err, AM_E_FAIL, "Redis: %.200s", rep->str);
		freeReplyObject(rep);
		return NULL;
	}
	return rep;
}

static int load_script(am_redis *r, int s, am_err *err)
{
	const char *argv[] = { "SCRIPT", "LOAD", am_redis_script_src[s] };
	redisReply *rep = rx_cmd(r, 3, argv, err);
	if (!rep)
		return -1;
	int rc = 0;
	if (rep->type == REDIS_REPLY_STRING && rep->len == 40)
		memcpy(r->sha[s], rep->str, 41);
	else
		rc = am_err_setc(err, AM_E_FAIL, "Redis: SCRIPT LOAD gave no digest");
	freeReplyObject(rep);
	return rc;
}

redisReply *rx_eval(am_redis *r, int s, int argc, const char **argv, am_err *err)
{
	enum { MAXARG = 64 };
	const char *a[MAXARG + 3];
	if (argc > MAXARG) {
		am_err_setc(err, AM_E_INVALID, "too many script arguments");
		return NULL;
	}
	a[0] = "EVALSHA";
	a[1] = r->sha[s];
	a[2] = "0";
	memcpy(a + 3, argv, (size_t)argc * sizeof *argv);
	for (int attempt = 0; attempt < 2; attempt++) {
		if (!r->c) {
			am_err_setc(err, AM_E_FAIL, "Redis at %s is unreachable (%s)", r->where, r->why);
			return NULL;
		}
		if (!r->sha[s][0] && load_script(r, s, err))
			return NULL;
		a[1] = r->sha[s];
		redisReply *rep = command(r, argc + 3, a);
		if (!rep) {
			conn_failed(r, "Redis");
			am_err_setc(err, AM_E_FAIL, "Redis at %s is unreachable (%s)", r->where, r->why);
			return NULL;
		}
		if (rep->type == REDIS_REPLY_ERROR && !strncmp(rep->str, "NOSCRIPT", 8)) {
			/* Redis restarted or its scripts were flushed: load again. */
			freeReplyObject(rep);
			r->sha[s][0] = '\0';
			continue;
		}
		if (rep->type == REDIS_REPLY_ERROR) {
			am_err_setc(err, AM_E_FAIL, "Redis script: %.200s", rep->str);
			freeReplyObject(rep);
			return NULL;
		}
		return rep;
	}
	am_err_setc(err, AM_E_FAIL, "Redis keeps forgetting its scripts");
	return NULL;
}

int64_t rx_int(const redisReply *e, int64_t def)
{
	if (!e)
		return def;
	if (e->type == REDIS_REPLY_INTEGER)
		return (int64_t)e->integer;
	if (e->type == REDIS_REPLY_STRING && e->len > 0) {
		char *end;
		errno = 0;
		long long v = strtoll(e->str, &end, 10);
		if (!errno && *end == '\0')
			return (int64_t)v;
	}
	return def;
}

static int handshake(am_redis *r, am_err *err)
{
	if (r->url.pass[0]) {
		const char *argv[3] = { "AUTH", r->url.user, r->url.pass };
		redisReply *rep = r->url.user[0] ? rx_cmd(r, 3, argv, err)
		                                 : (argv[1] = r->url.pass, rx_cmd(r, 2, argv, err));
		if (!rep)
			/* The reply may quote the command: say only that it failed. */
			return am_err_setc(err, AM_E_FAIL, "Redis at %s refused the password",
			                   r->where);
		freeReplyObject(rep);
	}
	if (r->url.db) {
		char db[16];
		snprintf(db, sizeof db, "%d", r->url.db);
		const char *argv[] = { "SELECT", db };
		redisReply *rep = rx_cmd(r, 2, argv, err);
		if (!rep)
			return -1;
		freeReplyObject(rep);
	}
	for (int s = 0; s < RS_N; s++)
		if (load_script(r, s, err))
			return -1;
	return 0;
}

int am_redis_ensure(am_redis *r, int64_t now)
{
	if (now > r->last_now)
		r->last_now = now;
	if (r->c)
		return 0;
	if (now < r->next_try)
		return -1;
	struct timeval ct = { r->connect_ms / 1000, (r->connect_ms % 1000) * 1000 };
	r->c = redisConnectWithTimeout(r->url.host, r->url.port, ct);
	if (!r->c || r->c->err) {
		char msg[200];
		snprintf(msg, sizeof msg, "cannot connect: %s",
		         r->c ? r->c->errstr : "out of memory");
		if (r->c)
			redisFree(r->c);
		r->c = NULL;
		snprintf(r->why, sizeof r->why, "%s", msg);
		r->next_try = now + r->backoff;
		r->backoff = r->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : r->backoff * 2;
		return -1;
	}
	struct timeval tt = { r->timeout_ms / 1000, (r->timeout_ms % 1000) * 1000 };
	redisSetTimeout(r->c, tt);
	memset(r->sha, 0, sizeof r->sha);
	am_err err;
	if (handshake(r, &err)) {
		if (r->c) {
			redisFree(r->c);
			r->c = NULL;
		}
		snprintf(r->why, sizeof r->why, "%s", err.msg);
		r->next_try = now + r->backoff;
		r->backoff = r->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : r->backoff * 2;
		return -1;
	}
	r->backoff = BACKOFF_MIN;
	r->why[0] = '\0';
	return 1;
}
