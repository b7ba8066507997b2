/* client: the libcurl multi loop behind client.h.
 *
 * Design. One CURLM handle holds every transfer of this client; one thread
 * calls am_client_run in a loop (curl_multi_poll + perform + info_read). The
 * multi handle owns the connection cache, so keep-alive connections and
 * HTTP/2 streams are shared by all transfers; easy handles are recycled
 * through a small pool. Transfers enter libcurl only inside am_client_run,
 * which makes am_client_start and am_client_cancel safe to call from within
 * libcurl's callbacks (where adding or removing handles is not allowed).
 *
 * A transfer's bytes go either to the streaming accumulator (a 2xx answer
 * to a streaming request) or to a bounded body buffer; either way the
 * classification lives in anthropic.c, and this file only adds what the
 * transport knows: timeouts, resets, size caps and cancellation.
 *
 * The API key lives in one header string, sent on every request and wiped
 * on free. Requests with extra headers borrow it by chaining their own list
 * in front of the shared one instead of copying it. */
#include "client.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bbuf.h"
#include "curlopt.h"

#define DEFAULT_CONNECT_MS 10000
#define DEFAULT_TOTAL_MS 600000
#define DEFAULT_MAX_RESPONSE ((size_t)32 << 20)
#define DEFAULT_MAX_TRANSFERS 1024
#define EASY_POOL 64
#define MAX_SSE_EVENT ((size_t)1 << 20)

typedef struct xfer xfer;

struct xfer {
	xfer *prev, *next;
	am_client *c;
	uint64_t id;
	CURL *easy;
	struct curl_slist *own_hdrs; /* extra headers; tail chained to the shared list */
	struct curl_slist *own_tail;
	char *body;
	size_t body_len;
	am_prov_endpoint ep;
	bool stream; /* the request asked for SSE */
	bool sse;    /* ... and the answer is SSE */
	bool added;  /* in the multi handle */
	bool cancelled;
	bool headers_done;
	bool too_big;
	bool stream_failed;
	int status;
	int64_t timeout_ms;
	am_client_cb cb;
	am_prov_headers h;
	am_bbuf resp;
	am_prov_stream st;
	size_t received;
	int64_t t_start, t_first;
	char errbuf[CURL_ERROR_SIZE];
};

typedef struct xlist {
	xfer *head, *tail;
	int n;
} xlist;

struct am_client {
	CURLM *multi;
	char *base;
	char *url[2]; /* by am_prov_endpoint */
	char *user_agent;
	char *key;               /* for scrubbing messages; wiped on free */
	struct curl_slist *hdrs; /* shared: key, version, content type */
	am_client_opts opts;
	const am_clock *clock;
	xlist queued, active;
	int ncancel; /* cancelled transfers not yet reported */
	uint64_t next_id;
	CURL *pool[EASY_POOL];
	int npool;
	am_client_stats stats;
	uint64_t reported; /* on_done calls so far */
};

/* ---- lists ------------------------------------------------------------------- */

static void list_push(xlist *l, xfer *x)
{
	x->prev = l->tail;
	x->next = NULL;
	if (l->tail)
		l->tail->next = x;
	else
		l->head = x;
	l->tail = x;
	l->n++;
}

static void list_remove(xlist *l, xfer *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else
		l->head = x->next;
	if (x->next)
		x->next->prev = x->prev;
	else
		l->tail = x->prev;
	x->prev = x->next = NULL;
	l->n--;
}

/* ---- options and setup -------------------------------------------------------------- */

void am_client_opts_default(am_client_opts *o)
{
	memset(o, 0, sizeof *o);
}

static bool has_line_break(const char *s)
{
	return strpbrk(s, "\r\n") != NULL;
}

/* Whether an http:// URL's host is this machine: "localhost", 127.0.0.0/8
 * or [::1], read the way curl reads the authority (userinfo before the
 * last '@', port after the host). Anything else could be on the network. */
bool am_client_url_loopback(const char *url)
{
	const char *auth = url + strlen("http://");
	size_t alen = strcspn(auth, "/?#");
	const char *at = NULL;
	for (const char *p = auth; p < auth + alen; p++)
		if (*p == '@')
			at = p;
	const char *h = at ? at + 1 : auth;
	size_t hlen = (size_t)(auth + alen - h);
	char host[256];
	if (*h == '[') {
		const char *close = memchr(h, ']', hlen);
		if (!close || (size_t)(close - h - 1) >= sizeof host)
			return false;
		memcpy(host, h + 1, (size_t)(close - h - 1));
		host[close - h - 1] = '\0';
		struct in6_addr a6;
		return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
	}
	hlen = strcspn(h, ":/?#");
	if (hlen == 0 || hlen >= sizeof host)
		return false;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	struct in_addr a4;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	return !strcasecmp(host, "localhost");
}

static char *join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = am_xmalloc(la + lb + 1);
	memcpy(s, a, la);
	memcpy(s + la, b, lb + 1);
	return s;
}

static void wipe(char *s)
{
	if (s)
		explicit_bzero(s, strlen(s));
}

static void free_shared_headers(struct curl_slist *l)
{
	for (struct curl_slist *p = l; p; p = p->next)
		wipe(p->data);
	curl_slist_free_all(l);
}

int am_client_new(am_client **out, const am_client_opts *opts, am_err *err)
{
	*out = NULL;
	am_client_opts o;
	if (opts)
		o = *opts;
	else
		am_client_opts_default(&o);
	const char *base = o.base_url && o.base_url[0] ? o.base_url : AM_PROV_DEFAULT_BASE_URL;
	if (strncasecmp(base, "http://", 7) && strncasecmp(base, "https://", 8))
		return am_err_set(err, "base URL '%.200s' is not http:// or https://", base);
	if (has_line_break(base))
		return am_err_set(err, "base URL contains a line break");
	if (!strncasecmp(base, "http://", 7) && !o.allow_insecure_http && !am_client_url_loopback(base))
		return am_err_set(err,
		                  "base URL '%.200s' is plain http to a host other than loopback: the "
		                  "API key would travel in cleartext; use https://, or set "
		                  "allow_insecure_http to true in the config to accept it",
		                  base);
	if (o.api_key && has_line_break(o.api_key))
		return am_err_set(err, "the API key contains a line break");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return am_err_set(err, "libcurl could not be initialised");

	am_client *c = am_xcalloc(1, sizeof *c);
	c->multi = curl_multi_init();
	if (!c->multi) {
		free(c);
		curl_global_cleanup();
		return am_err_set(err, "libcurl could not create a multi handle");
	}
	size_t bl = strlen(base);
	while (bl > 0 && base[bl - 1] == '/')
		bl--;
	c->base = am_xstrndup(base, bl);
	c->url[AM_PROV_MESSAGES] = join(c->base, am_prov_endpoint_path(AM_PROV_MESSAGES));
	c->url[AM_PROV_COUNT_TOKENS] = join(c->base, am_prov_endpoint_path(AM_PROV_COUNT_TOKENS));
	c->user_agent = am_xstrdup(o.user_agent ? o.user_agent : "aimeter/" AIMETER_VERSION);
	c->opts = o;
	c->opts.base_url = c->base;
	c->opts.api_key = NULL;
	c->opts.user_agent = c->user_agent;
	if (!c->opts.connect_timeout_ms)
		c->opts.connect_timeout_ms = DEFAULT_CONNECT_MS;
	if (!c->opts.total_timeout_ms)
		c->opts.total_timeout_ms = DEFAULT_TOTAL_MS;
	if (!c->opts.max_response_bytes)
		c->opts.max_response_bytes = DEFAULT_MAX_RESPONSE;
	if (c->opts.max_transfers <= 0)
		c->opts.max_transfers = DEFAULT_MAX_TRANSFERS;
	c->clock = o.clock ? o.clock : am_clock_system();
	c->next_id = 1;

	if (o.api_key) {
		c->key = am_xstrdup(o.api_key);
		char *line = join("x-api-key: ", o.api_key);
		c->hdrs = curl_slist_append(c->hdrs, line);
		wipe(line);
		free(line);
	}
	c->hdrs = curl_slist_append(c->hdrs, "anthropic-version: " AM_PROV_API_VERSION);
	c->hdrs = curl_slist_append(c->hdrs, "content-type: application/json");
	c->hdrs = curl_slist_append(c->hdrs, "Expect:"); /* no 100-continue round trip */
	if (!c->hdrs) {
		am_client_free(c);
		return am_err_set(err, "out of memory building request headers");
	}
	curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	if (o.max_host_connections > 0)
		curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, o.max_host_connections);
	*out = c;
	return 0;
}

/* ---- one transfer ---------------------------------------------------------------------- */

static void stream_text(void *ctx, const char *text, size_t len)
{
	xfer *x = ctx;
	if (!x->cancelled && x->cb.on_text)
		x->cb.on_text(x->cb.ctx, text, len);
}

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
	xfer *x = ud;
	size_t len = size * n;
	if (!x->t_first)
		x->t_first = am_clock_mono(x->c->clock);
	if (x->headers_done)
		return len; /* trailers carry nothing we use */
	am_prov_headers_line(&x->h, buf, len);
	if (len > 2 || (buf[0] != '\r' && buf[0] != '\n'))
		return len;
	long code = 0;
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
	if (code < 200)
		return len; /* an interim 1xx block; the real one follows */
	x->status = (int)code;
	x->headers_done = true;
	x->h.rl.http_status = (int)code;
	am_prov_headers_finish(&x->h, am_clock_wall(x->c->clock));
	/* Errors come as JSON even on a streaming request. */
	x->sse = x->stream && code >= 200 && code <= 299 &&
	         strncasecmp(x->h.content_type, "application/json", 16) != 0;
	if (x->sse)
		am_prov_stream_init(&x->st, MAX_SSE_EVENT, x->c->opts.max_response_bytes,
		                    stream_text, x);
	if (x->cb.on_headers && !x->cancelled)
		x->cb.on_headers(x->cb.ctx, (int)code, &x->h.rl);
	return len;
}

static size_t on_write(char *buf, size_t size, size_t n, void *ud)
{
	xfer *x = ud;
	size_t len = size * n;
	if (x->cancelled)
		return 0; /* aborts the transfer */
	if (len > x->c->opts.max_response_bytes - x->received) {
		x->too_big = true;
		return 0;
	}
	x->received += len;
	if (!x->sse) {
		/* The cap was checked above, so this append cannot fail. */
		am_bbuf_append(&x->resp, buf, len);
		return len;
	}
	if (am_prov_stream_feed(&x->st, buf, len, NULL) != 0) {
		x->stream_failed = true;
		return 0;
	}
	/* After an error event the server has nothing more to say. */
	return x->st.errored || x->cancelled ? 0 : len;
}

static CURL *easy_get(am_client *c)
{
	return c->npool ? c->pool[--c->npool] : curl_easy_init();
}

static void easy_put(am_client *c, CURL *e)
{
	if (!e)
		return;
	if (c->npool < EASY_POOL) {
		curl_easy_reset(e);
		c->pool[c->npool++] = e;
	} else {
		curl_easy_cleanup(e);
	}
}

/* Connections are opened close-on-exec in one step, so that no program
 * aimeter starts (alert_command) inherits a socket to the API. */
static curl_socket_t open_socket(void *ctx, curlsocktype purpose, struct curl_sockaddr *a)
{
	(void)ctx;
	(void)purpose;
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static int configure(am_client *c, xfer *x)
{
	CURL *e = x->easy;
	bool tls = !strncasecmp(c->base, "https://", 8);
	CURLcode rc = CURLE_OK;
#define SET(opt, val) AM_CURL_SET(rc, e, opt, val)
	SET(CURLOPT_URL, c->url[x->ep]);
	SET(CURLOPT_PRIVATE, (void *)x);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_POST, 1L);
	SET(CURLOPT_POSTFIELDS, x->body);
	SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
	SET(CURLOPT_HTTPHEADER, x->own_hdrs ? x->own_hdrs : c->hdrs);
	SET(CURLOPT_USERAGENT, c->user_agent);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, (void *)x);
	SET(CURLOPT_WRITEFUNCTION, on_write);
	SET(CURLOPT_WRITEDATA, (void *)x);
	SET(CURLOPT_ERRORBUFFER, x->errbuf);
	SET(CURLOPT_CONNECTTIMEOUT_MS, (long)c->opts.connect_timeout_ms);
	SET(CURLOPT_TIMEOUT_MS, (long)x->timeout_ms);
	SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_OPENSOCKETFUNCTION, open_socket);
	if (tls)
		SET(CURLOPT_PIPEWAIT, 1L); /* prefer a multiplexed stream to a new connection */
#undef SET
	return rc == CURLE_OK ? 0 : -1;
}

static void xfer_free(xfer *x)
{
	if (x->own_tail)
		x->own_tail->next = NULL; /* the shared list is not ours */
	curl_slist_free_all(x->own_hdrs);
	free(x->body);
	am_bbuf_free(&x->resp);
	if (x->sse)
		am_prov_stream_free(&x->st);
	free(x);
}

/* Replaces every copy of the key in s (defence in depth: libcurl's messages
 * name hosts and URLs, not headers). A key too short to be a real one
 * (tests use "k") would only garble ordinary words. */
static void scrub(const am_client *c, char *s)
{
	enum { MIN_SCRUB_LEN = 8 };
	if (!c->key || strlen(c->key) < MIN_SCRUB_LEN)
		return;
	size_t kl = strlen(c->key);
	for (char *p = strstr(s, c->key); p; p = strstr(p, c->key)) {
		memmove(p + 3, p + kl, strlen(p + kl) + 1);
		memcpy(p, "***", 3);
	}
}

static am_prov_errkind transport_kind(CURLcode code)
{
	switch (code) {
	case CURLE_OPERATION_TIMEDOUT:
		return AM_PERR_TIMEOUT;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_NOT_BUILT_IN:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_BAD_FUNCTION_ARGUMENT:
		return AM_PERR_SETUP;
	default:
		return AM_PERR_NETWORK;
	}
}

static void transport_message(const xfer *x, CURLcode code, char *buf, size_t n)
{
	snprintf(buf, n, "%s%s%s", curl_easy_strerror(code), x->errbuf[0] ? ": " : "", x->errbuf);
}

/* The outcome of a transfer libcurl has finished with (or that was
 * cancelled), from what the transport and the provider layer know. */
static void outcome(xfer *x, CURLcode code, am_prov_result *r)
{
	char why[CURL_ERROR_SIZE + 128] = "";
	if (code != CURLE_OK)
		transport_message(x, code, why, sizeof why);
	r->rl = x->h.rl;
	memcpy(r->request_id, x->h.request_id, sizeof r->request_id);
	r->http_status = x->status;

	if (x->sse) {
		am_prov_stream_finish(&x->st, r);
		if (x->cancelled)
			am_prov_result_fail(r, AM_PERR_CANCELLED, "cancelled");
		else if (x->too_big)
			am_prov_result_fail(r, AM_PERR_RESPONSE_TOO_BIG,
			                    "the streamed answer exceeds %zu bytes",
			                    x->c->opts.max_response_bytes);
		else if (r->err == AM_PERR_TRUNCATED && code == CURLE_OPERATION_TIMEDOUT)
			am_prov_result_fail(r, AM_PERR_TIMEOUT,
			                    "timed out mid-stream after %lld ms",
			                    (long long)x->timeout_ms);
		else if (r->err == AM_PERR_TRUNCATED && code != CURLE_OK)
			am_prov_result_fail(r, AM_PERR_TRUNCATED, "the stream broke off: %s", why);
	} else if (x->cancelled) {
		am_prov_result_fail(r, AM_PERR_CANCELLED, "cancelled");
	} else if (x->headers_done && (x->status < 200 || x->status > 299)) {
		/* An error status decides, even with a partial or oversized body. */
		am_prov_classify_http(x->status, x->resp.data, x->resp.len, x->h.should_retry, r);
	} else if (x->headers_done && code == CURLE_OK) {
		am_prov_finish_response(x->ep, x->status, x->resp.data, x->resp.len,
		                        x->h.should_retry, r);
	} else if (x->too_big) {
		am_prov_result_fail(r, AM_PERR_RESPONSE_TOO_BIG, "the answer exceeds %zu bytes",
		                    x->c->opts.max_response_bytes);
	} else if (code == CURLE_OPERATION_TIMEDOUT) {
		am_prov_result_fail(r, AM_PERR_TIMEOUT, "timed out after %lld ms: %s",
		                    (long long)x->timeout_ms, why);
	} else if (x->headers_done) {
		am_prov_result_fail(r, AM_PERR_TRUNCATED, "the answer broke off: %s", why);
	} else {
		am_prov_result_fail(r, transport_kind(code), "%s", why);
	}
	scrub(x->c, r->message);
	int64_t now = am_clock_mono(x->c->clock);
	r->latency_ns = now - x->t_start;
	r->ttfb_ns = x->t_first ? x->t_first - x->t_start : 0;
}

/* Takes x out of the client, reports it, frees it. The callback runs last,
 * so it may start or cancel other transfers. */
static void finish(am_client *c, xfer *x, CURLcode code)
{
	am_prov_result r;
	am_prov_result_init(&r);
	c->stats.transfers++;
	c->stats.bytes_received += (int64_t)x->received;
	if (x->added) {
		long conns = 0;
		if (curl_easy_getinfo(x->easy, CURLINFO_NUM_CONNECTS, &conns) == CURLE_OK)
			c->stats.connections_opened += conns;
		curl_multi_remove_handle(c->multi, x->easy);
		list_remove(&c->active, x);
	} else {
		list_remove(&c->queued, x);
	}
	if (x->cancelled)
		c->ncancel--;
	outcome(x, code, &r);
	easy_put(c, x->easy);
	x->easy = NULL;
	am_client_cb cb = x->cb;
	xfer_free(x);
	c->reported++;
	if (cb.on_done)
		cb.on_done(cb.ctx, &r);
	am_prov_result_free(&r);
}

/* ---- the public surface --------------------------------------------------------------- */

static int add_extra_headers(am_client *c, xfer *x, const am_client_req *req, am_err *err)
{
	for (size_t i = 0; i < req->nheaders; i++) {
		const char *h = req->headers[i];
		const char *colon = h ? strchr(h, ':') : NULL;
		if (!colon || colon == h || has_line_break(h))
			return am_err_set(err,
			                  "extra header %zu is not a single 'Name: value' line", i);
		if ((size_t)(colon - h) == 9 && !strncasecmp(h, "x-api-key", 9))
			return am_err_set(err, "extra headers may not set x-api-key");
		struct curl_slist *l = curl_slist_append(x->own_hdrs, h);
		if (!l)
			return am_err_set(err, "out of memory building request headers");
		x->own_hdrs = l;
	}
	if (x->own_hdrs) {
		x->own_tail = x->own_hdrs;
		while (x->own_tail->next)
			x->own_tail = x->own_tail->next;
		x->own_tail->next = c->hdrs;
	}
	return 0;
}

uint64_t am_client_start(am_client *c, const am_client_req *req, const am_client_cb *cb,
                         am_err *err)
{
	if (!req->body) {
		am_err_set(err, "a request needs a body");
		return 0;
	}
	if (c->queued.n + c->active.n >= c->opts.max_transfers) {
		am_err_set(err, "too many transfers (%d) queued or in flight",
		           c->opts.max_transfers);
		return 0;
	}
	xfer *x = am_xcalloc(1, sizeof *x);
	x->c = c;
	x->ep = req->endpoint == AM_PROV_COUNT_TOKENS ? AM_PROV_COUNT_TOKENS : AM_PROV_MESSAGES;
	x->stream = req->stream && x->ep == AM_PROV_MESSAGES;
	x->body_len = req->body_len ? req->body_len : strlen(req->body);
	x->body = am_xstrndup(req->body, x->body_len);
	x->timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : c->opts.total_timeout_ms;
	if (cb)
		x->cb = *cb;
	am_prov_headers_init(&x->h);
	am_bbuf_init(&x->resp, c->opts.max_response_bytes);
	if (add_extra_headers(c, x, req, err) != 0) {
		xfer_free(x);
		return 0;
	}
	x->id = c->next_id++;
	x->t_start = am_clock_mono(c->clock);
	list_push(&c->queued, x);
	return x->id;
}

static xfer *find(const xlist *l, uint64_t id)
{
	for (xfer *x = l->head; x; x = x->next)
		if (x->id == id)
			return x;
	return NULL;
}

int am_client_cancel(am_client *c, uint64_t id)
{
	xfer *x = find(&c->active, id);
	if (!x)
		x = find(&c->queued, id);
	if (!x || x->cancelled)
		return -1;
	x->cancelled = true;
	if (x->sse)
		x->st.silent = true;
	c->ncancel++;
	return 0;
}

static xfer *first_cancelled(const am_client *c)
{
	for (xfer *x = c->queued.head; x; x = x->next)
		if (x->cancelled)
			return x;
	for (xfer *x = c->active.head; x; x = x->next)
		if (x->cancelled)
			return x;
	return NULL;
}

/* Reports cancelled transfers. A callback may cancel more, so rescan. */
static void reap_cancelled(am_client *c)
{
	xfer *x;
	while (c->ncancel > 0 && (x = first_cancelled(c)))
		finish(c, x, CURLE_ABORTED_BY_CALLBACK);
}

/* Moves queued transfers into libcurl. One that cannot be set up fails
 * at once (reported like any other outcome). */
static void admit(am_client *c)
{
	xfer *x;
	while ((x = c->queued.head)) {
		x->easy = easy_get(c);
		CURLMcode mc = CURLM_OK;
		if (!x->easy || configure(c, x) != 0 ||
		    (mc = curl_multi_add_handle(c->multi, x->easy)) != CURLM_OK) {
			snprintf(x->errbuf, sizeof x->errbuf, "%s",
			         mc != CURLM_OK ? curl_multi_strerror(mc)
			                        : "transfer setup failed");
			finish(c, x, CURLE_FAILED_INIT);
			continue;
		}
		list_remove(&c->queued, x);
		list_push(&c->active, x);
		x->added = true;
	}
}

static void drain(am_client *c)
{
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(c->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		CURLcode code = m->data.result;
		char *priv = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
		if (priv)
			finish(c, (xfer *)priv, code);
	}
}

static int perform(am_client *c, am_err *err)
{
	int running;
	CURLMcode mc = curl_multi_perform(c->multi, &running);
	drain(c);
	reap_cancelled(c);
	if (mc != CURLM_OK)
		return am_err_set(err, "libcurl: %s", curl_multi_strerror(mc));
	return 0;
}

int am_client_run(am_client *c, int timeout_ms, am_err *err)
{
	uint64_t reported = c->reported;
	reap_cancelled(c);
	admit(c);
	if (perform(c, err) != 0)
		return -1;
	/* Having reported an outcome, hand control back at once: the caller
	 * may want to act on it (send the next call) before any wait. */
	if (c->reported != reported)
		return c->queued.n + c->active.n;
	/* Callbacks may have queued more: start them before waiting. */
	if (c->queued.n) {
		admit(c);
		timeout_ms = 0;
	}
	CURLMcode mc = curl_multi_poll(c->multi, NULL, 0, timeout_ms < 0 ? 0 : timeout_ms, NULL);
	if (mc != CURLM_OK)
		return am_err_set(err, "libcurl: %s", curl_multi_strerror(mc));
	if (perform(c, err) != 0)
		return -1;
	return c->queued.n + c->active.n;
}

void am_client_wakeup(am_client *c)
{
	curl_multi_wakeup(c->multi);
}

int am_client_pending(const am_client *c)
{
	return c->queued.n + c->active.n;
}

void am_client_get_stats(const am_client *c, am_client_stats *out)
{
	*out = c->stats;
}

const char *am_client_base_url(const am_client *c)
{
	return c->base;
}

void am_client_free(am_client *c)
{
	if (!c)
		return;
	for (xfer *x = c->active.head; x; x = x->next)
		if (!x->cancelled) {
			x->cancelled = true;
			c->ncancel++;
		}
	for (xfer *x = c->queued.head; x; x = x->next)
		if (!x->cancelled) {
			x->cancelled = true;
			c->ncancel++;
		}
	reap_cancelled(c);
	while (c->npool > 0)
		curl_easy_cleanup(c->pool[--c->npool]);
	curl_multi_cleanup(c->multi);
	free_shared_headers(c->hdrs);
	wipe(c->key);
	free(c->key);
	free(c->base);
	free(c->url[0]);
	free(c->url[1]);
	free(c->user_agent);
	free(c);
	curl_global_cleanup();
}

/* ---- the client as a transport (transport.h) ---------------------------- */

static uint64_t tp_start(void *ctx, const am_client_req *req, const am_client_cb *cb, am_err *err)
{
	return am_client_start(ctx, req, cb, err);
}

static int tp_cancel(void *ctx, uint64_t id)
{
	return am_client_cancel(ctx, id);
}

static int tp_run(void *ctx, int timeout_ms, am_err *err)
{
	return am_client_run(ctx, timeout_ms, err);
}

static void tp_wakeup(void *ctx)
{
	am_client_wakeup(ctx);
}

static void tp_free(void *ctx)
{
	am_client_free(ctx);
}

am_transport am_client_transport(am_client *c)
{
	static const am_transport_ops ops = { tp_start, tp_cancel, tp_run, tp_wakeup, tp_free };
	am_transport t = { &ops, c };
	return t;
}
