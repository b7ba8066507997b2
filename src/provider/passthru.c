/* passthru: see passthru.h. One curl easy handle in a multi handle of its
 * own, driven by the calling thread: am_pass_open runs it until the final
 * header block has ended, am_pass_read until body bytes are buffered. */
#include "passthru.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdio.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "bbuf.h"
#include "curlopt.h"
#include "clock.h"
#include "log.h"

enum {
	MAX_HEADER_LINES = 128,
	MAX_BODY_KEPT = 64 << 20,  /* a non-streamed answer read for its usage */
	MAX_STREAM_TEXT = 8 << 20, /* a stream's text, kept for the estimate of a cut */
	POLL_MS = 1000
};

enum { POOL_HANDLES = 64 };

/* Connections, DNS and idle transfer handles, shared by the threads. */
struct am_pass_pool {
	CURLSH *sh;
	pthread_mutex_t mu[CURL_LOCK_DATA_LAST];
	pthread_mutex_t idle_mu;
	struct idle {
		CURLM *multi;
		CURL *easy;
	} idle[POOL_HANDLES];
	int nidle;
};

static void pool_lock(CURL *e, curl_lock_data d, curl_lock_access a, void *ctx)
{
	(void)e;
	(void)a;
	am_pass_pool *p = ctx;
	pthread_mutex_lock(&p->mu[d]);
}

static void pool_unlock(CURL *e, curl_lock_data d, void *ctx)
{
	(void)e;
	am_pass_pool *p = ctx;
	pthread_mutex_unlock(&p->mu[d]);
}

am_pass_pool *am_pass_pool_new(void)
{
	am_pass_pool *p = am_xcalloc(1, sizeof *p);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&p->mu[i], NULL);
	pthread_mutex_init(&p->idle_mu, NULL);
	p->sh = curl_share_init();
	if (p->sh) {
		curl_share_setopt(p->sh, CURLSHOPT_LOCKFUNC, pool_lock);
		curl_share_setopt(p->sh, CURLSHOPT_UNLOCKFUNC, pool_unlock);
		curl_share_setopt(p->sh, CURLSHOPT_USERDATA, (void *)p);
		curl_share_setopt(p->sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
		curl_share_setopt(p->sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	}
	return p;
}

void am_pass_pool_free(am_pass_pool *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->nidle; i++) {
		curl_easy_cleanup(p->idle[i].easy);
		curl_multi_cleanup(p->idle[i].multi);
	}
	if (p->sh)
		curl_share_cleanup(p->sh);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&p->mu[i]);
	pthread_mutex_destroy(&p->idle_mu);
	free(p);
}

/* An idle pair of handles from the pool (reset), else new ones: a transfer
 * then costs no handle set-up (a multi handle opens a wake-up socket). */
static void take_handles(am_pass_pool *pool, CURLM **multi, CURL **easy)
{
	*multi = NULL;
	*easy = NULL;
	if (pool) {
		pthread_mutex_lock(&pool->idle_mu);
		if (pool->nidle) {
			pool->nidle--;
			*multi = pool->idle[pool->nidle].multi;
			*easy = pool->idle[pool->nidle].easy;
		}
		pthread_mutex_unlock(&pool->idle_mu);
	}
	if (*easy) {
		curl_easy_reset(*easy);
		return;
	}
	*multi = curl_multi_init();
	*easy = curl_easy_init();
}

/* Back to the pool (false: it is full, or there is none; free them). */
static bool give_handles(am_pass_pool *pool, CURLM *multi, CURL *easy)
{
	if (!pool || !multi || !easy)
		return false;
	bool kept = false;
	pthread_mutex_lock(&pool->idle_mu);
	if (pool->nidle < POOL_HANDLES) {
		pool->idle[pool->nidle].multi = multi;
		pool->idle[pool->nidle].easy = easy;
		pool->nidle++;
		kept = true;
	}
	pthread_mutex_unlock(&pool->idle_mu);
	return kept;
}

struct am_pass {
	CURLM *multi;
	CURL *easy;
	struct curl_slist *hdrs;
	am_pass_req req;
	int64_t t0;
	/* the response headers of the final block */
	char *line[MAX_HEADER_LINES];
	size_t nline;
	bool headers_done;
	am_prov_headers ph;
	int64_t content_length;
	/* body bytes read from upstream, not yet given to the caller */
	am_bbuf pend;
	size_t pend_off;
	bool done;       /* the transfer ended */
	CURLcode result; /* its outcome once done */
	bool eof;        /* the caller read the end */
	uint64_t given;  /* body bytes handed to the caller */
	bool parse_sse;  /* a 2xx event stream */
	bool sse_failed;
	am_prov_stream st;
	am_bbuf body;    /* a plain answer's bytes, for its usage */
	bool body_over;
	int64_t ttfb_ns;
	char errbuf[CURL_ERROR_SIZE];
};

static void clear_lines(am_pass *p)
{
	for (size_t i = 0; i < p->nline; i++)
		free(p->line[i]);
	p->nline = 0;
}

static size_t on_header(char *data, size_t size, size_t n, void *ctx)
{
	am_pass *p = ctx;
	size_t len = size * n, l = len;
	while (l && (data[l - 1] == '\n' || data[l - 1] == '\r'))
		l--;
	if (!strncmp(data, "HTTP/", 5)) {
		/* a new block (after 1xx interim responses): start over */
		clear_lines(p);
		p->content_length = -1;
		p->headers_done = false;
		am_prov_headers_line(&p->ph, data, len);
		return len;
	}
	if (l == 0) {
		long code = 0;
		curl_easy_getinfo(p->easy, CURLINFO_RESPONSE_CODE, &code);
		if (code >= 200)
			p->headers_done = true;
		return len;
	}
	am_prov_headers_line(&p->ph, data, len);
	if (!strncasecmp(data, "content-length:", 15)) {
		char *end;
		long long v = strtoll(data + 15, &end, 10);
		p->content_length = v >= 0 ? v : -1;
	}
	if (p->nline < MAX_HEADER_LINES)
		p->line[p->nline++] = am_xstrndup(data, l);
	return len;
}

static void parse_piece(am_pass *p, const char *data, size_t len)
{
	if (!p->req.parse)
		return;
	if (p->parse_sse) {
		am_err err;
		if (!p->sse_failed && am_prov_stream_feed(&p->st, data, len, &err))
			p->sse_failed = true;
		return;
	}
	if (!p->body_over && am_bbuf_append(&p->body, data, len))
		p->body_over = true;
}

static size_t on_write(char *data, size_t size, size_t n, void *ctx)
{
	am_pass *p = ctx;
	size_t len = size * n;
	if (!p->ttfb_ns)
		p->ttfb_ns = am_clock_mono(am_clock_system()) - p->t0;
	if (!p->pend.data || p->pend_off == p->pend.len) {
		am_bbuf_clear(&p->pend);
		p->pend_off = 0;
	}
	if (am_bbuf_append(&p->pend, data, len))
		return 0; /* cannot hold it: the transfer fails */
	parse_piece(p, data, len);
	return len;
}

static curl_socket_t open_socket(void *ctx, curlsocktype purpose, struct curl_sockaddr *a)
{
	(void)ctx;
	(void)purpose;
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* Runs the transfer once, waiting up to POLL_MS for something to do. */
static void step(am_pass *p)
{
	int running = 0;
	curl_multi_perform(p->multi, &running);
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(p->multi, &left)))
		if (m->msg == CURLMSG_DONE) {
			p->done = true;
			p->result = m->data.result;
		}
	if (!p->done && !running) {
		p->done = true;
		p->result = CURLE_RECV_ERROR;
	}
}

static void wait_some(am_pass *p)
{
	curl_multi_poll(p->multi, NULL, 0, POLL_MS, NULL);
	if (!p->done && p->req.cancelled && p->req.cancelled(p->req.cancel_ctx)) {
		p->done = true;
		p->result = CURLE_ABORTED_BY_CALLBACK;
		snprintf(p->errbuf, sizeof p->errbuf, "cancelled");
	}
}

int am_pass_open(am_pass **out, const am_pass_req *req, am_err *err)
{
	*out = NULL;
	am_pass *p = am_xcalloc(1, sizeof *p);
	p->req = *req;
	p->content_length = -1;
	p->t0 = am_clock_mono(am_clock_system());
	am_prov_headers_init(&p->ph);
	am_bbuf_init(&p->pend, (size_t)MAX_BODY_KEPT);
	am_bbuf_init(&p->body, (size_t)MAX_BODY_KEPT);
	take_handles(req->pool, &p->multi, &p->easy);
	if (!p->multi || !p->easy) {
		am_pass_free(p);
		return am_err_set(err, "cannot start a transfer (out of memory)");
	}
	for (size_t i = 0; i < req->nheaders; i++) {
		struct curl_slist *n = curl_slist_append(p->hdrs, req->headers[i]);
		if (!n) {
			am_pass_free(p);
			return am_err_set(err, "cannot start a transfer (out of memory)");
		}
		p->hdrs = n;
	}
	/* libcurl adds these unless told not to: the client's own (or none) go. */
	static const char *const none[] = { "Expect:", "Accept:" };
	for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
		bool given = false;
		size_t nl = strlen(none[i]);
		for (size_t k = 0; k < req->nheaders && !given; k++)
			given = !strncasecmp(req->headers[k], none[i], nl);
		if (!given)
			p->hdrs = curl_slist_append(p->hdrs, none[i]);
	}
	CURL *e = p->easy;
	CURLcode rc = CURLE_OK;
#define SET(opt, val) AM_CURL_SET(rc, e, opt, val)
	SET(CURLOPT_URL, req->url);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_CUSTOMREQUEST, req->method);
	if (req->body_len || !strcmp(req->method, "POST") || !strcmp(req->method, "PUT") ||
	    !strcmp(req->method, "PATCH")) {
		SET(CURLOPT_POSTFIELDS, req->body ? req->body : "");
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
	} else if (!strcmp(req->method, "HEAD")) {
		SET(CURLOPT_NOBODY, 1L);
	}
	SET(CURLOPT_HTTPHEADER, p->hdrs);
	SET(CURLOPT_USERAGENT, NULL);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, (void *)p);
	SET(CURLOPT_WRITEFUNCTION, on_write);
	SET(CURLOPT_WRITEDATA, (void *)p);
	SET(CURLOPT_ERRORBUFFER, p->errbuf);
	SET(CURLOPT_CONNECTTIMEOUT_MS, (long)(req->connect_timeout_ms > 0 ? req->connect_timeout_ms
	                                                                  : 10000));
	SET(CURLOPT_TIMEOUT_MS, (long)(req->timeout_ms > 0 ? req->timeout_ms : 0));
	SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_TCP_NODELAY, 1L);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_OPENSOCKETFUNCTION, open_socket);
	if (req->pool && req->pool->sh)
		SET(CURLOPT_SHARE, req->pool->sh);
#undef SET
	if (rc != CURLE_OK || curl_multi_add_handle(p->multi, e) != CURLM_OK) {
		am_pass_free(p);
		return am_err_set(err, "cannot start a transfer: %s", curl_easy_strerror(rc));
	}
	while (!p->headers_done && !p->done) {
		step(p);
		if (!p->headers_done && !p->done)
			wait_some(p);
	}
	if (!p->headers_done) {
		am_err_set(err, "%s", p->errbuf[0] ? p->errbuf : curl_easy_strerror(p->result));
		am_pass_free(p);
		return -1;
	}
	int status = am_pass_status(p);
	p->parse_sse = req->parse && req->stream && status >= 200 && status < 300 &&
	               strstr(p->ph.content_type, "event-stream") != NULL;
	if (p->parse_sse) {
		am_prov_stream_init(&p->st, 0, MAX_STREAM_TEXT, NULL, NULL);
		/* bytes that came with the headers were kept as a plain body */
		if (p->body.len)
			am_prov_stream_feed(&p->st, p->body.data, p->body.len, err);
		am_bbuf_clear(&p->body);
	}
	*out = p;
	return 0;
}

int am_pass_status(const am_pass *p)
{
	long code = 0;
	curl_easy_getinfo(p->easy, CURLINFO_RESPONSE_CODE, &code);
	return (int)code;
}

size_t am_pass_nheaders(const am_pass *p)
{
	return p->nline;
}

const char *am_pass_header(const am_pass *p, size_t i)
{
	return i < p->nline ? p->line[i] : NULL;
}

int64_t am_pass_content_length(const am_pass *p)
{
	return p->content_length;
}

ssize_t am_pass_read(am_pass *p, char *buf, size_t max)
{
	for (;;) {
		if (p->pend_off < p->pend.len) {
			size_t n = p->pend.len - p->pend_off;
			if (n > max)
				n = max;
			memcpy(buf, p->pend.data + p->pend_off, n);
			p->pend_off += n;
			p->given += n;
			return (ssize_t)n;
		}
		if (p->done) {
			if (p->result != CURLE_OK)
				return -1;
			p->eof = true;
			return 0;
		}
		step(p);
		if (p->pend_off == p->pend.len && !p->done)
			wait_some(p);
	}
}

bool am_pass_complete(am_pass *p)
{
	/* A reader that stops at the announced length never asks for the end:
	 * the transfer is then run to its end here (the bytes have all come). */
	if (!p->eof && p->content_length >= 0 && p->given >= (uint64_t)p->content_length) {
		while (!p->done) {
			step(p);
			if (!p->done)
				wait_some(p);
		}
		p->eof = p->result == CURLE_OK && p->pend_off == p->pend.len;
	}
	return p->eof;
}

void am_pass_finish(am_pass *p, am_prov_result *r)
{
	int status = am_pass_status(p);
	am_prov_headers_finish(&p->ph, am_clock_wall(am_clock_system()));
	r->http_status = status;
	r->rl = p->ph.rl;
	snprintf(r->request_id, sizeof r->request_id, "%s", p->ph.request_id);
	r->latency_ns = am_clock_mono(am_clock_system()) - p->t0;
	r->ttfb_ns = p->ttfb_ns;
	bool whole = p->eof;
	if (!p->req.parse) {
		if (!whole)
			am_prov_result_fail(r, AM_PERR_TRUNCATED, "the transfer was cut short");
		return;
	}
	if (p->parse_sse) {
		am_prov_stream_finish(&p->st, r);
		r->stream = true;
		return;
	}
	if (!whole || p->body_over) {
		am_prov_result_fail(r, AM_PERR_TRUNCATED, "the answer was cut short");
		return;
	}
	am_prov_finish_response(p->req.ep, status, p->body.data ? p->body.data : "", p->body.len,
	                        p->ph.should_retry, r);
}

void am_pass_free(am_pass *p)
{
	if (!p)
		return;
	if (p->multi && p->easy)
		curl_multi_remove_handle(p->multi, p->easy); /* a transfer cut short closes its
		                                               connection here */
	if (!give_handles(p->req.pool, p->multi, p->easy)) {
		if (p->easy)
			curl_easy_cleanup(p->easy);
		if (p->multi)
			curl_multi_cleanup(p->multi);
	}
	curl_slist_free_all(p->hdrs);
	clear_lines(p);
	if (p->parse_sse)
		am_prov_stream_free(&p->st);
	am_bbuf_free(&p->pend);
	am_bbuf_free(&p->body);
	free(p);
}
