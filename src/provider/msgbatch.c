/* msgbatch: the Message Batches API over one blocking libcurl handle, see
 * msgbatch.h. */
#include "msgbatch.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bbuf.h"
#include "client.h"
#include "clock.h"

enum { DEFAULT_CONNECT_MS = 10000, DEFAULT_TIMEOUT_MS = 600000 };
#define JSON_MAX ((size_t)16 << 20)  /* a batch object or a list page */
#define LINE_MAX_DEFAULT ((size_t)64 << 20)

struct am_mb {
	CURL *e;
	char *base;
	char *key;
	struct curl_slist *hdrs;
	am_mb_opts o;
};

int am_mb_open(am_mb **out, const am_mb_opts *o, am_err *err)
{
	*out = NULL;
	const char *base = o->base_url && *o->base_url ? o->base_url : AM_PROV_DEFAULT_BASE_URL;
	if (strncasecmp(base, "http://", 7) && strncasecmp(base, "https://", 8))
		return am_err_setc(err, AM_E_INVALID, "base URL '%.200s' is not http:// or https://",
		                   base);
	if (strpbrk(base, "\r\n") || (o->api_key && strpbrk(o->api_key, "\r\n")))
		return am_err_setc(err, AM_E_INVALID, "the base URL or the API key has a line break");
	if (!strncasecmp(base, "http://", 7) && !o->allow_insecure_http &&
	    !am_client_url_loopback(base))
		return am_err_setc(err, AM_E_INVALID,
		                   "base URL '%.200s' is plain http to a host other than loopback: "
		                   "the API key would travel in cleartext; use https://", base);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return am_err_set(err, "libcurl could not be initialised");
	am_mb *c = am_xcalloc(1, sizeof *c);
	c->e = curl_easy_init();
	if (!c->e) {
		free(c);
		curl_global_cleanup();
		return am_err_set(err, "libcurl could not create a handle");
	}
	size_t bl = strlen(base);
	while (bl > 0 && base[bl - 1] == '/')
		bl--;
	c->base = am_xstrndup(base, bl);
	c->o = *o;
	c->o.base_url = c->base;
	c->o.api_key = NULL;
	if (c->o.connect_timeout_ms <= 0)
		c->o.connect_timeout_ms = DEFAULT_CONNECT_MS;
	if (c->o.timeout_ms <= 0)
		c->o.timeout_ms = DEFAULT_TIMEOUT_MS;
	if (o->api_key) {
		c->key = am_xstrdup(o->api_key);
		size_t n = strlen(o->api_key) + 16;
		char *line = am_xmalloc(n);
		snprintf(line, n, "x-api-key: %s", o->api_key);
		c->hdrs = curl_slist_append(c->hdrs, line);
		explicit_bzero(line, n);
		free(line);
	}
	c->hdrs = curl_slist_append(c->hdrs, "anthropic-version: " AM_PROV_API_VERSION);
	c->hdrs = curl_slist_append(c->hdrs, "content-type: application/json");
	c->hdrs = curl_slist_append(c->hdrs, "Expect:");
	*out = c;
	return 0;
}

int64_t am_mb_timeout_ms(const am_mb *c)
{
	return c->o.timeout_ms;
}

void am_mb_close(am_mb *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->e);
	curl_slist_free_all(c->hdrs); /* the key's line is in libcurl's copy */
	if (c->key) {
		explicit_bzero(c->key, strlen(c->key));
		free(c->key);
	}
	free(c->base);
	free(c);
	curl_global_cleanup();
}

/* ---- one call --------------------------------------------------------------- */

typedef struct xfer {
	am_prov_headers h;
	long status;
	bool headers_done;
	am_bbuf body;           /* the JSON answer, an error body, or the line being read */
	bool lines;             /* a 2xx answer goes to fn line by line */
	am_mb_line_fn fn;
	void *ctx;
	int stopped;            /* fn's non-zero */
	bool too_big;
} xfer;

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
	xfer *x = ud;
	size_t len = size * n;
	if (x->headers_done)
		return len;
	am_prov_headers_line(&x->h, buf, len);
	if (len > 2 || (buf[0] != '\r' && buf[0] != '\n'))
		return len;
	if (x->h.rl.http_status < 200)
		return len; /* an interim 1xx block */
	x->status = x->h.rl.http_status;
	x->headers_done = true;
	am_prov_headers_finish(&x->h, am_clock_wall(am_clock_system()));
	return len;
}

/* Hands every whole line in the buffer to fn and keeps the rest. */
static int flush_lines(xfer *x)
{
	char *p = x->body.data, *end = p + x->body.len, *nl;
	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p)))) {
		size_t n = (size_t)(nl - p);
		if (n && p[n - 1] == '\r')
			n--;
		if (n && (x->stopped = x->fn(x->ctx, p, n)))
			return -1;
		p = nl + 1;
	}
	size_t rest = (size_t)(end - p);
	memmove(x->body.data, p, rest);
	x->body.len = rest;
	x->body.data[rest] = '\0';
	return 0;
}

static size_t on_write(char *buf, size_t size, size_t n, void *ud)
{
	xfer *x = ud;
	size_t len = size * n;
	if (am_bbuf_append(&x->body, buf, len)) {
		x->too_big = true;
		return 0;
	}
	if (x->lines && x->status >= 200 && x->status <= 299 && x->body.data &&
	    memchr(x->body.data, '\n', x->body.len) && flush_lines(x))
		return 0;
	return len;
}

/* Runs one request; the answer's body stays in x->body unless x->lines. */
static int perform(am_mb *c, const char *method, const char *url, const char *body, size_t len,
                   xfer *x, am_mb_reply *rep, am_err *err)
{
	memset(rep, 0, sizeof *rep);
	rep->requests_limit = rep->requests_remaining = -1;
	am_prov_headers_init(&x->h);
	CURL *e = c->e;
	curl_easy_reset(e);
	char errbuf[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->hdrs);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "aimeter/" AIMETER_VERSION);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, (void *)x);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, (void *)x);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)c->o.connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)c->o.timeout_ms);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	if (!strcmp(method, "POST")) {
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? len : 0));
	}
	CURLcode rc = curl_easy_perform(e);
	rep->http_status = (int)x->status;
	snprintf(rep->request_id, sizeof rep->request_id, "%s", x->h.request_id);
	if (x->h.rl.has_retry_after)
		rep->retry_after_ns = x->h.rl.retry_after_ns;
	const am_rl_bucket_hdr *rb = &x->h.rl.b[AM_RLH_REQUESTS];
	rep->requests_limit = rb->has_limit ? rb->limit : -1;
	rep->requests_remaining = rb->has_remaining ? rb->remaining : -1;
	if (x->stopped)
		return 0;
	if (x->headers_done && (x->status < 200 || x->status > 299)) {
		am_prov_result r;
		am_prov_result_init(&r);
		snprintf(r.request_id, sizeof r.request_id, "%s", x->h.request_id);
		r.http_status = (int)x->status;
		am_prov_classify_http((int)x->status, x->body.data, x->body.len, x->h.should_retry,
		                      &r);
		rep->retryable = r.retryable;
		char msg[AM_ERR_MAX];
		am_prov_describe(&r, msg, sizeof msg);
		am_prov_result_free(&r);
		return am_err_set(err, "%s", msg);
	}
	if (x->too_big)
		return am_err_set(err, "the answer from %.200s is larger than allowed", url);
	if (rc != CURLE_OK) {
		rep->retryable = true;
		return am_err_set(err, "%s%s%s", curl_easy_strerror(rc), errbuf[0] ? ": " : "",
		                  errbuf);
	}
	if (x->lines && x->body.len) {
		/* the last line may come without its line end */
		if (am_bbuf_append(&x->body, "\n", 1) || flush_lines(x))
			return x->stopped ? 0 : am_err_set(err, "a result line is too long");
	}
	return 0;
}

/* ---- the objects ------------------------------------------------------------ */

static int64_t time_of(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	int64_t ns = 0;
	if (s && am_prov_parse_rfc3339(s, strlen(s), &ns))
		ns = 0;
	return ns;
}

static int batch_from(const json_t *o, am_mb_batch *out, am_err *err)
{
	memset(out, 0, sizeof *out);
	const char *id = json_string_value(json_object_get(o, "id"));
	const char *st = json_string_value(json_object_get(o, "processing_status"));
	const json_t *rc = json_object_get(o, "request_counts");
	if (!id || !st || !json_is_object(rc) || strlen(id) >= sizeof out->id)
		return am_err_set(err, "the answer is not a message batch");
	snprintf(out->id, sizeof out->id, "%s", id);
	snprintf(out->status, sizeof out->status, "%s", st);
	out->processing = json_integer_value(json_object_get(rc, "processing"));
	out->succeeded = json_integer_value(json_object_get(rc, "succeeded"));
	out->errored = json_integer_value(json_object_get(rc, "errored"));
	out->canceled = json_integer_value(json_object_get(rc, "canceled"));
	out->expired = json_integer_value(json_object_get(rc, "expired"));
	out->created_ns = time_of(o, "created_at");
	out->ended_ns = time_of(o, "ended_at");
	out->expires_ns = time_of(o, "expires_at");
	out->cancel_ns = time_of(o, "cancel_initiated_at");
	const char *url = json_string_value(json_object_get(o, "results_url"));
	if (url)
		snprintf(out->results_url, sizeof out->results_url, "%s", url);
	return 0;
}

int am_mb_parse_batch(const char *json, size_t len, am_mb_batch *out, am_err *err)
{
	json_t *o = json_loadb(json ? json : "", len, 0, NULL);
	int rc = batch_from(o, out, err);
	json_decref(o);
	return rc;
}

static int batch_call(am_mb *c, const char *method, const char *url, const char *body,
                      size_t len, am_mb_batch *out, am_mb_reply *rep, am_err *err)
{
	xfer x = { 0 };
	am_bbuf_init(&x.body, JSON_MAX);
	int rc = perform(c, method, url, body, len, &x, rep, err);
	if (!rc && am_mb_parse_batch(x.body.data, x.body.len, out, err))
		rc = -1;
	am_bbuf_free(&x.body);
	return rc;
}

static bool valid_id(const char *id)
{
	if (!*id || strlen(id) >= AM_MB_ID_MAX)
		return false;
	for (const char *p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '_' || *p == '-'))
			return false;
	return true;
}

static char *url_of(const am_mb *c, const char *id, const char *op)
{
	size_t n = strlen(c->base) + strlen(id) + strlen(op) + 40;
	char *u = am_xmalloc(n);
	snprintf(u, n, "%s/v1/messages/batches%s%s%s%s", c->base, *id ? "/" : "", id,
	         *op ? "/" : "", op);
	return u;
}

int am_mb_create(am_mb *c, const char *body, size_t len, am_mb_batch *out, am_mb_reply *rep,
                 am_err *err)
{
	char *url = url_of(c, "", "");
	int rc = batch_call(c, "POST", url, body, len, out, rep, err);
	free(url);
	return rc;
}

static int id_call(am_mb *c, const char *method, const char *id, const char *op,
                   am_mb_batch *out, am_mb_reply *rep, am_err *err)
{
	if (!valid_id(id)) {
		memset(rep, 0, sizeof *rep);
		return am_err_setc(err, AM_E_INVALID, "'%.80s' is not a message batch id", id);
	}
	char *url = url_of(c, id, op);
	int rc = batch_call(c, method, url, *op ? "" : NULL, 0, out, rep, err);
	free(url);
	return rc;
}

int am_mb_get(am_mb *c, const char *id, am_mb_batch *out, am_mb_reply *rep, am_err *err)
{
	return id_call(c, "GET", id, "", out, rep, err);
}

int am_mb_cancel(am_mb *c, const char *id, am_mb_batch *out, am_mb_reply *rep, am_err *err)
{
	return id_call(c, "POST", id, "cancel", out, rep, err);
}

int am_mb_list(am_mb *c, int limit, const char *after_id, am_mb_batch **out, int *n,
               bool *has_more, am_mb_reply *rep, am_err *err)
{
	*out = NULL;
	*n = 0;
	*has_more = false;
	if (after_id && !valid_id(after_id)) {
		memset(rep, 0, sizeof *rep);
		return am_err_setc(err, AM_E_INVALID, "'%.80s' is not a message batch id", after_id);
	}
	char *base = url_of(c, "", "");
	size_t un = strlen(base) + AM_MB_ID_MAX + 48;
	char *url = am_xmalloc(un);
	snprintf(url, un, "%s?limit=%d%s%s", base, limit < 1 ? 1 : limit > 1000 ? 1000 : limit,
	         after_id ? "&after_id=" : "", after_id ? after_id : "");
	free(base);
	xfer x = { 0 };
	am_bbuf_init(&x.body, JSON_MAX);
	int rc = perform(c, "GET", url, NULL, 0, &x, rep, err);
	free(url);
	json_t *page = rc ? NULL : json_loadb(x.body.data ? x.body.data : "", x.body.len, 0, NULL);
	am_bbuf_free(&x.body);
	if (rc)
		return -1;
	json_t *data = json_object_get(page, "data");
	if (!json_is_array(data)) {
		json_decref(page);
		return am_err_set(err, "the answer is not a list of message batches");
	}
	size_t nd = json_array_size(data);
	*out = am_xcalloc(nd ? nd : 1, sizeof **out);
	for (size_t i = 0; i < nd; i++)
		if (batch_from(json_array_get(data, i), &(*out)[*n], err) == 0)
			(*n)++;
	*has_more = json_is_true(json_object_get(page, "has_more"));
	json_decref(page);
	return 0;
}

/* ---- results ------------------------------------------------------------------- */

int am_mb_parse_result(const char *line, size_t len, am_mb_result *out, am_err *err)
{
	memset(out, 0, sizeof *out);
	am_prov_result_init(&out->msg);
	json_error_t je;
	json_t *o = json_loadb(line, len, 0, &je);
	const char *cid = json_string_value(json_object_get(o, "custom_id"));
	json_t *res = json_object_get(o, "result");
	const char *type = json_string_value(json_object_get(res, "type"));
	int rc = 0;
	if (!o)
		rc = am_err_set(err, "a result line is not JSON: %s", je.text);
	else if (!cid || strlen(cid) >= sizeof out->custom_id || !type)
		rc = am_err_set(err, "a result line has no custom_id or result type");
	if (rc) {
		json_decref(o);
		return -1;
	}
	snprintf(out->custom_id, sizeof out->custom_id, "%s", cid);
	if (!strcmp(type, "succeeded")) {
		out->kind = AM_MB_SUCCEEDED;
		char *msg = json_dumps(json_object_get(res, "message"), JSON_COMPACT);
		if (!msg || am_prov_parse_message(msg, strlen(msg), &out->msg, NULL, err))
			rc = msg ? -1 : am_err_set(err, "a succeeded result has no message");
		free(msg);
	} else if (!strcmp(type, "errored")) {
		out->kind = AM_MB_ERRORED;
		json_t *e = json_object_get(res, "error");
		json_t *inner = json_object_get(e, "error");
		const char *et = json_string_value(json_object_get(inner ? inner : e, "type"));
		const char *em = json_string_value(json_object_get(inner ? inner : e, "message"));
		const char *rid = json_string_value(json_object_get(e, "request_id"));
		snprintf(out->msg.error_type, sizeof out->msg.error_type, "%s", et ? et : "error");
		snprintf(out->msg.message, sizeof out->msg.message, "%s", em ? em : "errored");
		snprintf(out->msg.request_id, sizeof out->msg.request_id, "%s", rid ? rid : "");
	} else if (!strcmp(type, "canceled")) {
		out->kind = AM_MB_CANCELED;
	} else if (!strcmp(type, "expired")) {
		out->kind = AM_MB_EXPIRED;
	} else {
		rc = am_err_set(err, "a result line has the unknown type '%.40s'", type);
	}
	json_decref(o);
	if (rc)
		am_prov_result_free(&out->msg);
	return rc;
}

int am_mb_results(am_mb *c, const char *results_url, size_t max_line, am_mb_line_fn fn,
                  void *ctx, am_mb_reply *rep, am_err *err)
{
	memset(rep, 0, sizeof *rep);
	size_t bl = strlen(c->base);
	if (strncmp(results_url, c->base, bl) || results_url[bl] != '/' ||
	    strpbrk(results_url, "\r\n \t"))
		return am_err_setc(err, AM_E_INVALID,
		                   "the results URL '%.200s' is not under %.200s: the API key is "
		                   "not sent there", results_url, c->base);
	xfer x = { 0 };
	am_bbuf_init(&x.body, max_line ? max_line : LINE_MAX_DEFAULT);
	x.lines = true;
	x.fn = fn;
	x.ctx = ctx;
	int rc = perform(c, "GET", results_url, NULL, 0, &x, rep, err);
	am_bbuf_free(&x.body);
	return rc ? rc : x.stopped;
}
