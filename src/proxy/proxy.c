/* proxy: see proxy.h. libmicrohttpd with a thread per connection (as the
 * simulator runs it): the request handler of a connection reads the body,
 * asks the worker for admission, opens the upstream transfer and queues a
 * callback response whose reader pulls the upstream body as it arrives; the
 * response's free callback ends the transfer (cancelling it when the client
 * went away first) and hands the outcome to the worker. */
#include "proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "clock.h"
#include "passthru.h"
#include "proxy_req.h"
#include "proxycall.h"

enum {
	MAX_CONNECTIONS = 1024,
	BLOCK = 32 * 1024,     /* bytes relayed per read */
	QUERY_MAX = 8192,
	STOP_WAIT_MS = 2000    /* for the requests under way to be answered at stop */
};

struct am_proxy {
	struct MHD_Daemon *d;
	am_proxy_opts o;
	char *listen, *upstream, *own_key, *token, *tag, *default_tag;
	char url[96];
	am_pass_pool *pool;
	atomic_bool stopping;
	atomic_int open;          /* requests from their first header to their answer sent */
};

/* One request, from its first header to its answer. */
typedef struct px_conn {
	am_bbuf body;
	bool too_large;
} px_conn;

/* The relay of one answer: the response's reader context. */
typedef struct px_relay {
	am_proxy *p;
	am_pass *pass;
	bool recorded;
	int64_t handle;
} px_relay;

bool am_proxy_loopback(const char *addr)
{
	if (!addr || !*addr || !strcmp(addr, "localhost") || !strcmp(addr, "::1"))
		return true;
	struct in_addr a4;
	if (inet_pton(AF_INET, addr, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	return false;
}

static bool stopping(void *ctx)
{
	am_proxy *p = ctx;
	return atomic_load(&p->stopping);
}

/* ---- answers of the proxy's own ----------------------------------------------- */

static enum MHD_Result reply_error(struct MHD_Connection *conn, unsigned status, const char *type,
                                   const char *message, int64_t retry_after_s)
{
	char *body = am_px_error_json(type, message);
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "content-type", "application/json");
	if (retry_after_s > 0) {
		char ra[24];
		snprintf(ra, sizeof ra, "%lld", (long long)retry_after_s);
		MHD_add_response_header(r, "retry-after", ra);
	}
	enum MHD_Result ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* An answer from the response cache, written out as the API sends one. */
static enum MHD_Result reply_cached(struct MHD_Connection *conn, am_proxy_call *pc)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(pc->answer), pc->answer,
	                                                         MHD_RESPMEM_MUST_FREE);
	if (!r)
		return MHD_NO;
	pc->answer = NULL; /* the response frees it */
	MHD_add_response_header(r, "content-type", pc->answer_sse ? "text/event-stream; charset=utf-8"
	                                                          : "application/json");
	MHD_add_response_header(r, "x-aimeter-cache", "hit");
	enum MHD_Result ret = MHD_queue_response(conn, 200, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result too_large(struct MHD_Connection *conn)
{
	return reply_error(conn, 413, "request_too_large",
	                   "Request exceeds the maximum allowed number of bytes.", 0);
}

/* ---- the request's headers and query -------------------------------------------- */

static enum MHD_Result on_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
	(void)kind;
	am_px_headers_take(cls, key, value);
	return MHD_YES;
}

static enum MHD_Result on_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                              const char *value)
{
	(void)kind;
	am_bbuf *q = cls;
	am_px_query_add(q, key, value);
	return MHD_YES;
}

/* ---- relaying the answer -------------------------------------------------------- */

static ssize_t relay_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	px_relay *rl = cls;
	(void)pos;
	ssize_t n = am_pass_read(rl->pass, buf, max);
	if (n > 0)
		return n;
	return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
}

/* The answer has been sent, or the client went away: the transfer ends here
 * (cancelled upstream when it was not complete) and the worker hears how
 * the call went. */
static void relay_free(void *cls)
{
	px_relay *rl = cls;
	if (rl->recorded) {
		am_prov_result r;
		am_prov_result_init(&r);
		bool cut = !am_pass_complete(rl->pass);
		am_pass_finish(rl->pass, &r);
		am_pass_free(rl->pass);
		rl->pass = NULL;
		am_worker_proxy_done(rl->p->o.worker, rl->handle, &r, cut);
		am_prov_result_free(&r);
	}
	am_pass_free(rl->pass);
	free(rl);
}

static void add_response_headers(struct MHD_Response *r, const am_pass *pass)
{
	for (size_t i = 0; i < am_pass_nheaders(pass); i++) {
		const char *line = am_pass_header(pass, i);
		const char *colon = strchr(line, ':');
		if (!colon || !am_px_forward_response_header(line, (size_t)(colon - line)))
			continue;
		char name[128];
		size_t nl = (size_t)(colon - line);
		if (nl >= sizeof name)
			continue;
		memcpy(name, line, nl);
		name[nl] = '\0';
		const char *v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		MHD_add_response_header(r, name, v);
	}
}

/* A call the worker admitted that never got an answer: it was not billed. */
static void report_unanswered(am_proxy *p, int64_t handle, const char *why)
{
	am_prov_result r;
	am_prov_result_init(&r);
	am_prov_result_fail(&r, AM_PERR_NETWORK, "%s", why);
	am_worker_proxy_done(p->o.worker, handle, &r, false);
	am_prov_result_free(&r);
}

static enum MHD_Result relay(am_proxy *p, struct MHD_Connection *conn, const char *url,
                             const char *method, px_conn *c)
{
	am_px_headers h;
	memset(&h, 0, sizeof h);
	MHD_get_connection_values(conn, MHD_HEADER_KIND, on_header, &h);
	if (h.too_many) {
		am_px_headers_free(&h);
		return reply_error(conn, 431, "invalid_request_error", "too many request headers", 0);
	}
	char own_hdr[320];
	if (!h.api_key && !h.authorization && p->o.use_own_key && p->own_key && *p->own_key &&
	    h.n < AM_PX_MAX_HEADERS) {
		snprintf(own_hdr, sizeof own_hdr, "x-api-key: %s", p->own_key);
		h.line[h.n++] = am_xstrdup(own_hdr);
		memset(own_hdr, 0, sizeof own_hdr);
	}
	am_bbuf q;
	am_bbuf_init(&q, QUERY_MAX);
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, on_arg, &q);
	size_t ul = strlen(p->upstream) + strlen(url) + q.len + 1;
	char *full = am_xmalloc(ul);
	snprintf(full, ul, "%s%s%s", p->upstream, url, am_bbuf_str(&q));
	am_bbuf_free(&q);

	am_px_route route = am_px_route_of(method, url);
	am_px_body b;
	memset(&b, 0, sizeof b);
	am_err err;
	bool recorded = false;
	int64_t handle = 0;
	if (route == AM_PX_MESSAGES && am_px_parse_body(c->body.data, c->body.len, &b, &err)) {
		/* A body aimeter cannot read could not be budgeted or recorded:
		 * it never goes upstream, where it might be read and paid for. */
		char msg[AM_ERR_MAX + 32];
		snprintf(msg, sizeof msg, "aimeter proxy: %s", err.msg);
		am_px_headers_free(&h);
		free(full);
		return reply_error(conn, 400, "invalid_request_error", msg, 0);
	}
	if (route == AM_PX_MESSAGES) {
		am_proxy_call pc;
		am_proxy_call_init(&pc);
		pc.body = c->body.data ? c->body.data : "";
		pc.body_len = c->body.len;
		pc.json = b.json;
		b.json = NULL;
		snprintf(pc.model, sizeof pc.model, "%s", b.model);
		pc.max_tokens = b.max_tokens;
		pc.stream = b.stream;
		am_px_tag(h.tag, p->tag, p->default_tag, pc.tag);
		am_px_key_hint(h.api_key, h.authorization, pc.key_hint);
		pc.max_wait_ns = p->o.max_wait_ns;
		pc.cache = p->o.cache || (h.cache && !strcasecmp(h.cache, "on"));
		am_proxy_verdict v = AM_PROXY_REFUSED;
		if (am_worker_proxy_admit(p->o.worker, &pc, &err)) {
			pc.status = 503;
			snprintf(pc.error_type, sizeof pc.error_type, "api_error");
			snprintf(pc.message, sizeof pc.message, "aimeter: %s", err.msg);
		} else {
			v = am_proxy_call_wait(&pc);
		}
		if (v == AM_PROXY_CACHED) {
			enum MHD_Result ret = reply_cached(conn, &pc);
			am_proxy_call_clear(&pc);
			am_px_headers_free(&h);
			free(full);
			return ret;
		}
		if (v != AM_PROXY_GRANTED) {
			enum MHD_Result ret = reply_error(conn, (unsigned)pc.status, pc.error_type,
			                                  pc.message, pc.retry_after_s);
			am_proxy_call_clear(&pc);
			am_px_headers_free(&h);
			free(full);
			return ret;
		}
		handle = pc.handle;
		recorded = true;
		am_proxy_call_clear(&pc);
	}
	json_decref(b.json);

	am_pass_req req;
	memset(&req, 0, sizeof req);
	req.url = full;
	req.method = method;
	req.headers = (const char *const *)h.line;
	req.nheaders = h.n;
	req.body = c->body.data;
	req.body_len = c->body.len;
	req.parse = recorded;
	req.ep = AM_PROV_MESSAGES;
	req.stream = b.stream;
	req.timeout_ms = p->o.timeout_ms;
	req.pool = p->pool;
	req.cancelled = stopping;
	req.cancel_ctx = p;
	am_pass *pass = NULL;
	int rc = am_pass_open(&pass, &req, &err);
	am_px_headers_free(&h);
	free(full);
	if (rc) {
		if (recorded)
			report_unanswered(p, handle, err.msg);
		char msg[AM_ERR_MAX + 64];
		snprintf(msg, sizeof msg, "aimeter proxy: no answer from upstream: %s", err.msg);
		return reply_error(conn, 502, "api_error", msg, 0);
	}
	px_relay *rl = am_xcalloc(1, sizeof *rl);
	rl->p = p;
	rl->pass = pass;
	rl->recorded = recorded;
	rl->handle = handle;
	int64_t cl = am_pass_content_length(pass);
	bool head = !strcmp(method, "HEAD");
	struct MHD_Response *r = MHD_create_response_from_callback(
	    cl >= 0 && !head ? (uint64_t)cl : MHD_SIZE_UNKNOWN, BLOCK, relay_read, rl, relay_free);
	if (!r) {
		relay_free(rl);
		return MHD_NO;
	}
	add_response_headers(r, pass);
	enum MHD_Result ret = MHD_queue_response(conn, (unsigned)am_pass_status(pass), r);
	MHD_destroy_response(r);
	return ret;
}

/* ---- the request handler ---------------------------------------------------------- */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **req_cls)
{
	am_proxy *p = cls;
	px_conn *c = *req_cls;
	(void)version;
	bool first = !c;
	if (first) {
		c = am_xcalloc(1, sizeof *c);
		am_bbuf_init(&c->body, AM_PROXY_BODY_MAX);
		*req_cls = c;
		atomic_fetch_add(&p->open, 1);
	}
	if (atomic_load(&p->stopping)) {
		/* A request that comes while the proxy stops (on a connection
		 * it already had) is answered, never cut off: its body is read
		 * and dropped, and nothing goes upstream. */
		if (*upload_size) {
			*upload_size = 0;
			return MHD_YES;
		}
		return reply_error(conn, 503, "api_error", "aimeter proxy: stopping", 0);
	}
	if (first) {
		const char *given = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "x-aimeter-token");
		if (!am_px_token_ok(p->token, given))
			return reply_error(conn, 401, "authentication_error",
			                   "aimeter proxy: missing or wrong x-aimeter-token", 0);
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		                                             MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > AM_PROXY_BODY_MAX)
			return too_large(conn);
		return MHD_YES;
	}
	if (*upload_size) {
		size_t n = *upload_size;
		*upload_size = 0;
		if (!c->too_large && am_bbuf_append(&c->body, upload, n)) {
			c->too_large = true;
			am_bbuf_free(&c->body);
			am_bbuf_init(&c->body, AM_PROXY_BODY_MAX);
		}
		return MHD_YES;
	}
	if (c->too_large)
		return too_large(conn);
	return relay(p, conn, url, method, c);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
	am_proxy *p = cls;
	(void)conn;
	(void)toe;
	px_conn *c = *req_cls;
	if (!c)
		return;
	am_bbuf_free(&c->body);
	free(c);
	*req_cls = NULL;
	atomic_fetch_sub(&p->open, 1);
}

/* ---- start and stop ------------------------------------------------------------- */

static char *dup_or_null(const char *s)
{
	return s && *s ? am_xstrdup(s) : NULL;
}

int am_proxy_start(am_proxy **out, const am_proxy_opts *opts, am_err *err)
{
	*out = NULL;
	const char *listen = opts->listen && *opts->listen ? opts->listen : "127.0.0.1";
	if (!strcmp(listen, "localhost"))
		listen = "127.0.0.1";
	if (!am_proxy_loopback(listen) && (!opts->token || !*opts->token))
		return am_err_set(err, "proxy: listening on %s (not loopback) needs proxy.token, which "
		                  "clients then send as x-aimeter-token", listen);
	if (!opts->upstream || !*opts->upstream)
		return am_err_set(err, "proxy: no upstream base URL");
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
	                 MHD_USE_POLL | MHD_USE_ITC | MHD_USE_SUPPRESS_DATE_NO_CLOCK | MHD_USE_TURBO;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	bool v6 = false;
	if (inet_pton(AF_INET, listen, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(opts->port);
	} else if (inet_pton(AF_INET6, listen, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(opts->port);
		flags |= MHD_USE_IPv6;
		v6 = true;
	} else {
		return am_err_set(err, "proxy: '%s' is not an IPv4 or IPv6 address to listen on",
		                  listen);
	}
	am_proxy *p = am_xcalloc(1, sizeof *p);
	p->o = *opts;
	p->listen = am_xstrdup(listen);
	p->upstream = am_xstrdup(opts->upstream);
	size_t ul = strlen(p->upstream);
	while (ul && p->upstream[ul - 1] == '/')
		p->upstream[--ul] = '\0';
	p->own_key = dup_or_null(opts->own_key);
	p->token = dup_or_null(opts->token);
	p->tag = dup_or_null(opts->tag);
	p->default_tag = dup_or_null(opts->default_tag);
	p->pool = am_pass_pool_new();
	atomic_init(&p->stopping, false);
	atomic_init(&p->open, 0);
	p->d = MHD_start_daemon(flags, opts->port, NULL, NULL, on_request, p, MHD_OPTION_SOCK_ADDR,
	                        (struct sockaddr *)&ss, MHD_OPTION_NOTIFY_COMPLETED, on_completed, p,
	                        MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
	                        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)600, MHD_OPTION_END);
	if (!p->d) {
		am_err_set(err, "proxy: cannot listen on %s:%u", listen, (unsigned)opts->port);
		am_proxy_stop(p);
		return -1;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(p->d, MHD_DAEMON_INFO_BIND_PORT);
	unsigned port = info ? info->port : opts->port;
	snprintf(p->url, sizeof p->url, v6 ? "http://[%s]:%u" : "http://%s:%u", listen, port);
	*out = p;
	return 0;
}

const char *am_proxy_url(const am_proxy *p)
{
	return p->url;
}

void am_proxy_stop(am_proxy *p)
{
	if (!p)
		return;
	atomic_store(&p->stopping, true);
	/* Every request under way is answered before the daemon's stop closes
	 * its socket: calls waiting for the limiter get 503 now (not at their
	 * deadline), relays in progress see `stopping` and end, and new
	 * requests on open connections get 503. A request counts until its
	 * answer has been sent (on_completed). */
	if (p->d && p->o.worker) {
		MHD_socket ls = MHD_quiesce_daemon(p->d);
		if (ls != MHD_INVALID_SOCKET)
			close(ls);
		am_worker_proxy_refuse_waiting(p->o.worker);
		const am_clock *clk = am_clock_system();
		int64_t end = am_clock_mono(clk) + STOP_WAIT_MS * AM_NS_PER_MS;
		while (atomic_load(&p->open) > 0 && am_clock_mono(clk) < end)
			nanosleep(&(struct timespec){ 0, 5 * 1000 * 1000 }, NULL);
	}
	if (p->d)
		MHD_stop_daemon(p->d);
	am_pass_pool_free(p->pool);
	if (p->own_key)
		memset(p->own_key, 0, strlen(p->own_key));
	if (p->token)
		memset(p->token, 0, strlen(p->token));
	free(p->listen);
	free(p->upstream);
	free(p->own_key);
	free(p->token);
	free(p->tag);
	free(p->default_tag);
	free(p);
}
