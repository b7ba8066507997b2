/* anthropic (prov_): request bodies, responses, the stream accumulator,
 * error classes, response headers and the retry policy of the Anthropic
 * Messages API. Pure functions over bytes and jansson
 * trees: no I/O, no clock, no globals, so every rule is checked on the
 * documented examples. Numbers in headers are parsed by hand (exact integer
 * nanoseconds) because strtod follows the locale, which the UI sets. */
#include "anthropic.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NS_PER_SEC 1000000000LL
#define DEFAULT_MAX_TEXT ((size_t)8 << 20)

/* ---- small helpers ---------------------------------------------------- */

/* The length of the well-formed UTF-8 sequence at p (RFC 3629: no
 * overlongs, no surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	unsigned c = p[0], cp, min;
	size_t len;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2, cp = c & 0x1F, min = 0x80;
	else if ((c & 0xF0) == 0xE0)
		len = 3, cp = c & 0x0F, min = 0x800;
	else if (c >= 0xF0 && c <= 0xF4)
		len = 4, cp = c & 0x07, min = 0x10000;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3F);
	}
	return cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) ? 0 : len;
}

/* Copies at most cap-1 bytes of s[0..n) into dst; a cut never splits a
 * UTF-8 sequence, and bytes that are not UTF-8 become '?'. Result strings
 * reach the terminal, the ledger and JSON output, and jansson's own error
 * text quotes the raw bytes it choked on. */
static void copy_n(char *dst, size_t cap, const char *s, size_t n)
{
	if (!cap)
		return;
	if (n >= cap) {
		n = cap - 1;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
	for (size_t i = 0; i < n;) {
		size_t len = utf8_seq((const unsigned char *)dst + i, n - i);
		if (len == 0) {
			dst[i] = '?';
			len = 1;
		}
		i += len;
	}
}

#define COPY(dst, s) copy_n((dst), sizeof(dst), (s), strlen(s))

/* Appends answer text. A NUL in it (the server may send "\u0000") goes in
 * as U+2400 SYMBOL FOR NULL: the answer stays one C string, so every layer
 * after this one - the ledger's row, the cache, the observer, a results
 * file - keeps all of it instead of cutting it at the NUL or refusing it. */
static int append_answer(am_bbuf *b, const char *p, size_t n)
{
	static const char nul_symbol[] = "\xE2\x90\x80";
	size_t start = b->len;
	while (n) {
		const char *z = memchr(p, '\0', n);
		size_t run = z ? (size_t)(z - p) : n;
		if (am_bbuf_append(b, p, run) != 0 ||
		    (z && am_bbuf_append(b, nul_symbol, sizeof nul_symbol - 1) != 0)) {
			/* All or nothing, as one append: the text stays what the
			 * observer was given. */
			b->len = start;
			if (b->data)
				b->data[start] = '\0';
			return -1;
		}
		if (!z)
			break;
		p = z + 1;
		n -= run + 1;
	}
	return 0;
}

static const char *jstr(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

static void copy_jstr(char *dst, size_t cap, const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);
	if (json_is_string(v))
		copy_n(dst, cap, json_string_value(v), json_string_length(v));
}

/* Whether v is a count within the bounds every usage figure keeps
 * (0..AM_PROV_MAX_TOKENS): anything else is no figure a caller can reserve
 * or bill by. */
static bool count_in_bounds(const json_t *v)
{
	return json_is_integer(v) && json_integer_value(v) >= 0 &&
	       json_integer_value(v) <= AM_PROV_MAX_TOKENS;
}

/* A count field (count_in_bounds); false when absent, null, malformed or
 * out of bounds. */
static bool jcount(const json_t *obj, const char *key, int64_t *out)
{
	const json_t *v = json_object_get(obj, key);
	if (!count_in_bounds(v))
		return false;
	*out = (int64_t)json_integer_value(v);
	return true;
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- request bodies ----------------------------------------------------- */

const char *am_prov_endpoint_path(am_prov_endpoint ep)
{
	return ep == AM_PROV_COUNT_TOKENS ? "/v1/messages/count_tokens" : "/v1/messages";
}

/* json_string() refuses invalid UTF-8 by returning NULL; say which field. */
static int put_str(json_t *obj, const char *key, const char *s, const char *what, am_err *err)
{
	json_t *v = json_string(s);
	if (!v)
		return am_err_set(err, "%s is not valid UTF-8", what);
	json_object_set_new(obj, key, v);
	return 0;
}

static int put_raw(json_t *obj, const char *key, const char *raw, const char *what, am_err *err)
{
	json_error_t je;
	json_t *v = json_loads(raw, JSON_DECODE_ANY, &je);
	if (!v)
		return am_err_set(err, "%s is not valid JSON: %s", what, je.text);
	json_object_set_new(obj, key, v);
	return 0;
}

static json_t *cache_control(am_prov_cache_ttl ttl)
{
	json_t *cc = json_object();
	json_object_set_new(cc, "type", json_string("ephemeral"));
	if (ttl == AM_PROV_CACHE_1H)
		json_object_set_new(cc, "ttl", json_string("1h"));
	return cc;
}

static json_t *blocks_json(const am_prov_block *b, size_t n, const char *what, am_err *err)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *blk = json_object();
		json_array_append_new(arr, blk);
		json_object_set_new(blk, "type", json_string("text"));
		if (!b[i].text) {
			am_err_set(err, "%s block %zu has no text", what, i);
			goto fail;
		}
		if (put_str(blk, "text", b[i].text, what, err) != 0)
			goto fail;
		if (b[i].cache != AM_PROV_CACHE_NONE)
			json_object_set_new(blk, "cache_control", cache_control(b[i].cache));
	}
	return arr;
fail:
	json_decref(arr);
	return NULL;
}

static int put_messages(json_t *root, const am_prov_request *rq, am_err *err)
{
	if (!rq->messages || rq->nmessages == 0)
		return am_err_set(err, "a request needs at least one message");
	json_t *arr = json_array();
	json_object_set_new(root, "messages", arr);
	for (size_t i = 0; i < rq->nmessages; i++) {
		const am_prov_message *m = &rq->messages[i];
		if (!m->role || (strcmp(m->role, "user") && strcmp(m->role, "assistant")))
			return am_err_set(err,
			                  "message %zu: role must be \"user\" or \"assistant\"", i);
		json_t *msg = json_object();
		json_array_append_new(arr, msg);
		json_object_set_new(msg, "role", json_string(m->role));
		if (m->content_json) {
			if (put_raw(msg, "content", m->content_json, "message content", err) != 0)
				return am_err_prefix(err, "message %zu", i);
		} else if (m->nblocks > 0) {
			json_t *b = blocks_json(m->blocks, m->nblocks, "message", err);
			if (!b)
				return am_err_prefix(err, "message %zu", i);
			json_object_set_new(msg, "content", b);
		} else if (m->text) {
			if (put_str(msg, "content", m->text, "message text", err) != 0)
				return am_err_prefix(err, "message %zu", i);
		} else {
			return am_err_set(err, "message %zu has no content", i);
		}
	}
	return 0;
}

/* Members of extra_json the count_tokens endpoint also accepts. */
static bool count_tokens_accepts(const char *key)
{
	return !strcmp(key, "thinking") || !strcmp(key, "cache_control") ||
	       !strcmp(key, "output_config");
}

static int put_extra(json_t *root, const char *raw, am_prov_endpoint ep, am_err *err)
{
	json_error_t je;
	json_t *extra = json_loads(raw, 0, &je);
	if (!json_is_object(extra)) {
		json_decref(extra);
		return am_err_set(err, "extra request fields must be a JSON object%s%s",
		                  extra ? "" : ": ", extra ? "" : je.text);
	}
	const char *key;
	json_t *v;
	json_object_foreach(extra, key, v) {
		/* Fields aimeter sets itself win: the extras only add. */
		if (json_object_get(root, key))
			continue;
		if (ep == AM_PROV_COUNT_TOKENS && !count_tokens_accepts(key))
			continue;
		json_object_set(root, key, v);
	}
	json_decref(extra);
	return 0;
}

static int build_tree(json_t *root, const am_prov_request *rq, am_prov_endpoint ep, am_err *err)
{
	bool msgs = ep == AM_PROV_MESSAGES;
	if (!rq->model || !rq->model[0])
		return am_err_set(err, "a request needs a model");
	if (put_str(root, "model", rq->model, "model", err) != 0)
		return -1;
	if (msgs) {
		if (rq->max_tokens < 0)
			return am_err_set(err, "max_tokens must not be negative");
		json_object_set_new(root, "max_tokens", json_integer(rq->max_tokens));
	}
	if (rq->nsystem_blocks > 0) {
		json_t *b = blocks_json(rq->system_blocks, rq->nsystem_blocks, "system", err);
		if (!b)
			return -1;
		json_object_set_new(root, "system", b);
	} else if (rq->system && put_str(root, "system", rq->system, "system", err) != 0) {
		return -1;
	}
	if (put_messages(root, rq, err) != 0)
		return -1;
	if (msgs) {
		if (rq->has_temperature)
			json_object_set_new(root, "temperature", json_real(rq->temperature));
		if (rq->has_top_p)
			json_object_set_new(root, "top_p", json_real(rq->top_p));
		if (rq->has_top_k)
			json_object_set_new(root, "top_k", json_integer(rq->top_k));
		if (rq->nstop_sequences > 0) {
			json_t *arr = json_array();
			json_object_set_new(root, "stop_sequences", arr);
			for (size_t i = 0; i < rq->nstop_sequences; i++) {
				json_t *s = rq->stop_sequences[i]
				                ? json_string(rq->stop_sequences[i])
				                : NULL;
				if (!s)
					return am_err_set(err,
					                  "stop sequence %zu is missing or "
					                  "not UTF-8",
					                  i);
				json_array_append_new(arr, s);
			}
		}
		if (rq->metadata_user_id) {
			json_t *md = json_object();
			json_object_set_new(root, "metadata", md);
			if (put_str(md, "user_id", rq->metadata_user_id, "metadata.user_id", err))
				return -1;
		}
	}
	if (rq->tools_json && put_raw(root, "tools", rq->tools_json, "tools", err) != 0)
		return -1;
	if (rq->tool_choice_json &&
	    put_raw(root, "tool_choice", rq->tool_choice_json, "tool_choice", err) != 0)
		return -1;
	if (msgs && rq->stream)
		json_object_set_new(root, "stream", json_true());
	if (rq->extra_json && put_extra(root, rq->extra_json, ep, err) != 0)
		return -1;
	return 0;
}

int am_prov_build_body(const am_prov_request *rq, am_prov_endpoint ep, char **out, size_t *out_len,
                       am_err *err)
{
	*out = NULL;
	json_t *root = json_object();
	int rc = build_tree(root, rq, ep, err);
	if (rc == 0) {
		/* 15 significant digits print 0.2 as 0.2, not 0.20000000000000001. */
		char *s = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(15));
		if (!s) {
			rc = am_err_set(err, "cannot serialise the request");
		} else {
			*out = am_xstrdup(s);
			free(s);
			if (out_len)
				*out_len = strlen(*out);
		}
	}
	json_decref(root);
	return rc;
}

/* ---- error kinds and results --------------------------------------------- */

static const char *const kind_names[AM_PERR_COUNT_] = {
    [AM_PERR_NONE] = "ok",
    [AM_PERR_RATE_LIMIT] = "rate_limit",
    [AM_PERR_OVERLOADED] = "overloaded",
    [AM_PERR_SERVER] = "server_error",
    [AM_PERR_TIMEOUT] = "timeout",
    [AM_PERR_CONFLICT] = "conflict",
    [AM_PERR_NETWORK] = "network",
    [AM_PERR_TRUNCATED] = "truncated",
    [AM_PERR_MIDSTREAM] = "midstream_error",
    [AM_PERR_INVALID_REQUEST] = "invalid_request",
    [AM_PERR_AUTH] = "authentication",
    [AM_PERR_BILLING] = "billing",
    [AM_PERR_PERMISSION] = "permission",
    [AM_PERR_NOT_FOUND] = "not_found",
    [AM_PERR_TOO_LARGE] = "request_too_large",
    [AM_PERR_SPEND_LIMIT] = "spend_limit",
    [AM_PERR_USER_SPEND_LIMIT] = "user_spend_limit",
    [AM_PERR_CLIENT] = "client_error",
    [AM_PERR_PROTOCOL] = "protocol",
    [AM_PERR_RESPONSE_TOO_BIG] = "response_too_big",
    [AM_PERR_SETUP] = "setup",
    [AM_PERR_CANCELLED] = "cancelled",
};

const char *am_prov_errkind_name(am_prov_errkind k)
{
	return (unsigned)k < AM_PERR_COUNT_ ? kind_names[k] : "unknown";
}

static const char *const kind_labels[AM_PERR_COUNT_] = {
    [AM_PERR_NONE] = "ok",
    [AM_PERR_RATE_LIMIT] = "rate limited",
    [AM_PERR_OVERLOADED] = "overloaded",
    [AM_PERR_SERVER] = "server error",
    [AM_PERR_TIMEOUT] = "timed out",
    [AM_PERR_CONFLICT] = "conflict",
    [AM_PERR_NETWORK] = "network error",
    [AM_PERR_TRUNCATED] = "answer cut off",
    [AM_PERR_MIDSTREAM] = "error in the stream",
    [AM_PERR_INVALID_REQUEST] = "invalid request",
    [AM_PERR_AUTH] = "authentication failed",
    [AM_PERR_BILLING] = "billing problem",
    [AM_PERR_PERMISSION] = "permission denied",
    [AM_PERR_NOT_FOUND] = "not found",
    [AM_PERR_TOO_LARGE] = "request too large",
    [AM_PERR_SPEND_LIMIT] = "spend limit reached (API tier)",
    [AM_PERR_USER_SPEND_LIMIT] = "spend limit reached (your limit)",
    [AM_PERR_CLIENT] = "request refused",
    [AM_PERR_PROTOCOL] = "unreadable answer",
    [AM_PERR_RESPONSE_TOO_BIG] = "answer too large",
    [AM_PERR_SETUP] = "connection setup failed",
    [AM_PERR_CANCELLED] = "cancelled",
};

const char *am_prov_errkind_label(am_prov_errkind k)
{
	return (unsigned)k < AM_PERR_COUNT_ ? kind_labels[k] : "unknown error";
}

int am_prov_describe(const am_prov_result *r, char *buf, size_t n)
{
	char where[AM_PROV_ID_MAX + 48] = "";
	if (r->http_status && r->request_id[0])
		snprintf(where, sizeof where, " (HTTP %d, request-id %s)", r->http_status,
		         r->request_id);
	else if (r->http_status)
		snprintf(where, sizeof where, " (HTTP %d)", r->http_status);
	else if (r->request_id[0])
		snprintf(where, sizeof where, " (request-id %s)", r->request_id);
	return snprintf(buf, n, "%s: %s%s", am_prov_errkind_label(r->err), r->message, where);
}

bool am_prov_errkind_retryable(am_prov_errkind k)
{
	return k >= AM_PERR_RATE_LIMIT && k <= AM_PERR_MIDSTREAM;
}

void am_prov_result_init(am_prov_result *r)
{
	memset(r, 0, sizeof *r);
}

void am_prov_result_free(am_prov_result *r)
{
	free(r->text);
	r->text = NULL;
	r->text_len = 0;
}

void am_prov_result_fail(am_prov_result *r, am_prov_errkind kind, const char *fmt, ...)
{
	r->err = kind;
	r->retryable = am_prov_errkind_retryable(kind);
	va_list ap;
	va_start(ap, fmt);
	char msg[AM_PROV_MSG_MAX * 2];
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	COPY(r->message, msg);
}

static am_prov_errkind kind_of_status(int status)
{
	switch (status) {
	case 400:
		return AM_PERR_INVALID_REQUEST;
	case 401:
		return AM_PERR_AUTH;
	case 402:
		return AM_PERR_BILLING;
	case 403:
		return AM_PERR_PERMISSION;
	case 404:
		return AM_PERR_NOT_FOUND;
	case 408:
		return AM_PERR_TIMEOUT;
	case 409:
		return AM_PERR_CONFLICT;
	case 413:
		return AM_PERR_TOO_LARGE;
	case 429:
		return AM_PERR_RATE_LIMIT;
	case 529:
		return AM_PERR_OVERLOADED;
	default:
		return status >= 500 && status <= 599 ? AM_PERR_SERVER : AM_PERR_CLIENT;
	}
}

/* Both spend limits: the tier's monthly cap is a 429 marked
 * in error.details, a limit the user set is a 400 told by its message.
 * Retrying either would only hammer a closed door, so both are final. */
#define TIER_CAP_CODE "enforced_spend_limit_reached"
#define TIER_CAP_MSG "You have reached your API usage limits"
#define USER_CAP_MSG "You have reached your specified API usage limits"

void am_prov_classify_http(int status, const char *body, size_t len, int should_retry,
                           am_prov_result *r)
{
	r->http_status = status;
	json_t *root = body && len ? json_loadb(body, len, 0, NULL) : NULL;
	const json_t *e = json_object_get(root, "error");
	const char *etype = json_is_object(e) ? jstr(e, "type") : NULL;
	const char *emsg = json_is_object(e) ? jstr(e, "message") : NULL;
	const char *ecode = jstr(json_object_get(e, "details"), "error_code");

	am_prov_errkind kind = kind_of_status(status);
	if (status == 429 &&
	    ((ecode && !strcmp(ecode, TIER_CAP_CODE)) || (emsg && starts_with(emsg, TIER_CAP_MSG))))
		kind = AM_PERR_SPEND_LIMIT;
	else if (status == 400 && emsg && starts_with(emsg, USER_CAP_MSG))
		kind = AM_PERR_USER_SPEND_LIMIT;

	if (emsg && emsg[0])
		am_prov_result_fail(r, kind, "%s", emsg);
	else
		am_prov_result_fail(r, kind, "HTTP %d (%s) with no error message", status,
		                    am_prov_errkind_name(kind));
	if (etype)
		COPY(r->error_type, etype);
	if (!r->request_id[0])
		copy_jstr(r->request_id, sizeof r->request_id, root, "request_id");
	bool pinned =
	    kind == AM_PERR_AUTH || kind == AM_PERR_SPEND_LIMIT || kind == AM_PERR_USER_SPEND_LIMIT;
	if (should_retry >= 0 && !pinned)
		r->retryable = should_retry == 1;
	json_decref(root);
}

/* ---- usage and non-streaming answers -------------------------------------- */

/* A served-what tag ("fast", "us", "batch"): kept when the field is a
 * short word of [a-z0-9_-]; anything else leaves the previous value. */
static void usage_tag(char dst[AM_USAGE_TAG_MAX], const json_t *usage, const char *key)
{
	const char *v = jstr(usage, key);
	size_t n = v ? strlen(v) : 0;
	if (n == 0 || n >= AM_USAGE_TAG_MAX)
		return;
	for (size_t i = 0; i < n; i++)
		if (!((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= '0' && v[i] <= '9') || v[i] == '_' ||
		      v[i] == '-'))
			return;
	memcpy(dst, v, n + 1);
}

/* A usage figure: true with *out when it is an integer in
 * 0..AM_PROV_MAX_TOKENS; absent or null: false; anything else (negative,
 * huge, a float, a string): false, and noted in u->bad when it is the
 * first. */
static bool ucount(am_prov_raw_usage *u, const json_t *obj, const char *key, int64_t *out)
{
	const json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v))
		return false;
	if (count_in_bounds(v)) {
		*out = json_integer_value(v);
		return true;
	}
	if (!u->bad[0]) {
		const char *what = json_is_integer(v)   ? (json_integer_value(v) < 0 ? "negative"
		                                                                     : "out of bounds")
		                   : json_is_real(v)    ? "not an integer"
		                   : json_is_string(v)  ? "a string"
		                                        : "not a number";
		snprintf(u->bad, sizeof u->bad, "%.60s is %s", key, what);
	}
	return false;
}

static void raw_usage_merge(am_prov_raw_usage *u, const json_t *usage)
{
	if (!json_is_object(usage))
		return;
	if (ucount(u, usage, "input_tokens", &u->input))
		u->has_input = true;
	if (ucount(u, usage, "output_tokens", &u->output))
		u->has_output = true;
	if (ucount(u, usage, "cache_creation_input_tokens", &u->cache_creation))
		u->has_cc = true;
	if (ucount(u, usage, "cache_read_input_tokens", &u->cache_read))
		u->has_cr = true;
	const json_t *st = json_object_get(usage, "server_tool_use");
	if (json_is_object(st)) {
		ucount(u, st, "web_search_requests", &u->web_search);
		ucount(u, st, "web_fetch_requests", &u->web_fetch);
		ucount(u, st, "code_execution_requests", &u->code_execution);
	}
	usage_tag(u->speed, usage, "speed");
	usage_tag(u->inference_geo, usage, "inference_geo");
	usage_tag(u->service_tier, usage, "service_tier");
	const json_t *cc = json_object_get(usage, "cache_creation");
	if (json_is_object(cc)) {
		int64_t m5 = 0, h1 = 0;
		bool a = ucount(u, cc, "ephemeral_5m_input_tokens", &m5);
		bool b = ucount(u, cc, "ephemeral_1h_input_tokens", &h1);
		if (a || b) {
			u->has_breakdown = true;
			u->cc_5m = m5;
			u->cc_1h = h1;
		}
	}
}

void am_prov_usage_from_raw(const am_prov_raw_usage *raw, am_usage *u)
{
	memset(u, 0, sizeof *u);
	u->input_tokens = raw->has_input ? raw->input : 0;
	u->output_tokens = raw->has_output ? raw->output : 0;
	u->cache_read = raw->has_cr ? raw->cache_read : 0;
	int64_t total = raw->has_cc ? raw->cache_creation : 0;
	/* Counts come off the wire: a sum past int64 saturates (the cost of
	 * such a call then reports an overflow) rather than wrapping. */
	if (!raw->has_cc && raw->has_breakdown &&
	    __builtin_add_overflow(raw->cc_5m, raw->cc_1h, &total))
		total = INT64_MAX;
	/* The breakdown sums to the total; if a later event
	 * moved the total without a breakdown, the rest is 5m, the default TTL. */
	int64_t h1 = raw->has_breakdown ? raw->cc_1h : 0;
	if (h1 > total)
		h1 = total;
	u->cache_write_1h = h1;
	u->cache_write_5m = total - h1;
	u->web_search_requests = raw->web_search;
	u->web_fetch_requests = raw->web_fetch;
	u->code_execution_requests = raw->code_execution;
	memcpy(u->speed, raw->speed, sizeof u->speed);
	memcpy(u->inference_geo, raw->inference_geo, sizeof u->inference_geo);
	memcpy(u->service_tier, raw->service_tier, sizeof u->service_tier);
}

void am_prov_usage_check(const am_prov_raw_usage *raw, am_prov_result *r)
{
	const char *why = raw->bad[0]       ? raw->bad
	                  : !raw->has_input  ? "input_tokens is missing"
	                  : !raw->has_output ? "output_tokens is missing"
	                                     : NULL;
	r->usage_suspect = why != NULL;
	snprintf(r->usage_why, sizeof r->usage_why, "%s", why ? why : "");
}

static void usage_meta(am_prov_result *r, const json_t *usage)
{
	copy_jstr(r->service_tier, sizeof r->service_tier, usage, "service_tier");
}

static json_t *load_object(const char *body, size_t len, bool *premature, const char *what,
                           am_err *err)
{
	json_error_t je;
	if (premature)
		*premature = false;
	json_t *root = json_loadb(body, len, JSON_ALLOW_NUL, &je);
	if (!root) {
		if (premature)
			*premature = json_error_code(&je) == json_error_premature_end_of_input;
		am_err_set(err, "%s is not JSON: %s (byte %d)", what, je.text, je.position);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		am_err_set(err, "%s is not a JSON object", what);
		return NULL;
	}
	return root;
}

int am_prov_parse_message(const char *body, size_t len, am_prov_result *r, bool *premature,
                          am_err *err)
{
	json_t *root = load_object(body, len, premature, "the response", err);
	if (!root)
		return -1;
	const char *type = jstr(root, "type");
	const json_t *content = json_object_get(root, "content");
	const json_t *usage = json_object_get(root, "usage");
	if ((type && strcmp(type, "message")) || !json_is_array(content) ||
	    !json_is_object(usage)) {
		am_err_set(err, "the response is not a Message (type %s)", type ? type : "missing");
		json_decref(root);
		return -1;
	}
	copy_jstr(r->id, sizeof r->id, root, "id");
	copy_jstr(r->model, sizeof r->model, root, "model");
	copy_jstr(r->stop_reason, sizeof r->stop_reason, root, "stop_reason");
	copy_jstr(r->stop_sequence, sizeof r->stop_sequence, root, "stop_sequence");

	am_bbuf text;
	am_bbuf_init(&text, len);
	size_t i;
	const json_t *blk;
	json_array_foreach(content, i, blk) {
		const char *bt = jstr(blk, "type");
		const json_t *t = json_object_get(blk, "text");
		if (bt && !strcmp(bt, "text") && json_is_string(t))
			append_answer(&text, json_string_value(t), json_string_length(t));
	}
	free(r->text);
	r->text_len = text.len;
	r->text = am_bbuf_take(&text);

	am_prov_raw_usage raw = {0};
	raw_usage_merge(&raw, usage);
	am_prov_usage_from_raw(&raw, &r->usage);
	am_prov_usage_check(&raw, r);
	usage_meta(r, usage);
	r->has_usage = true;
	r->usage_final = true;
	json_decref(root);
	return 0;
}

int am_prov_parse_count_tokens(const char *body, size_t len, int64_t *input_tokens, bool *premature,
                               am_err *err)
{
	json_t *root = load_object(body, len, premature, "the count_tokens response", err);
	if (!root)
		return -1;
	int rc = jcount(root, "input_tokens", input_tokens)
	             ? 0
	             : am_err_set(err, "the count_tokens response has no input_tokens from 0 to %d",
	                          (int)AM_PROV_MAX_TOKENS);
	json_decref(root);
	return rc;
}

void am_prov_finish_response(am_prov_endpoint ep, int status, const char *body, size_t len,
                             int should_retry, am_prov_result *r)
{
	if (status < 200 || status > 299) {
		am_prov_classify_http(status, body, len, should_retry, r);
		return;
	}
	r->http_status = status;
	bool premature = false;
	am_err err;
	int rc;
	if (ep == AM_PROV_COUNT_TOKENS) {
		int64_t n = 0;
		rc = am_prov_parse_count_tokens(body, len, &n, &premature, &err);
		if (rc == 0) {
			memset(&r->usage, 0, sizeof r->usage);
			r->usage.input_tokens = n;
			r->has_usage = r->usage_final = true;
		}
	} else {
		rc = am_prov_parse_message(body, len, r, &premature, &err);
	}
	if (rc != 0)
		am_prov_result_fail(r, premature ? AM_PERR_TRUNCATED : AM_PERR_PROTOCOL, "%s",
		                    err.msg);
}

/* ---- the streaming accumulator -------------------------------------------- */

enum ev {
	EV_UNKNOWN,
	EV_PING,
	EV_MESSAGE_START,
	EV_BLOCK_START,
	EV_BLOCK_DELTA,
	EV_BLOCK_STOP,
	EV_MESSAGE_DELTA,
	EV_MESSAGE_STOP,
	EV_ERROR
};

static enum ev event_kind(const char *name)
{
	static const struct {
		const char *name;
		enum ev ev;
	} table[] = {
	    {"content_block_delta", EV_BLOCK_DELTA}, {"ping", EV_PING},
	    {"content_block_start", EV_BLOCK_START}, {"content_block_stop", EV_BLOCK_STOP},
	    {"message_start", EV_MESSAGE_START},     {"message_delta", EV_MESSAGE_DELTA},
	    {"message_stop", EV_MESSAGE_STOP},       {"error", EV_ERROR},
	};
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
		if (!strcmp(name, table[i].name))
			return table[i].ev;
	return EV_UNKNOWN;
}

static int stream_fail(am_prov_stream *s, am_prov_errkind kind, am_err *err, const char *msg)
{
	s->errored = true;
	s->silent = true;
	s->fail_kind = kind;
	COPY(s->message, msg);
	return am_err_set(err, "%s", msg);
}

static int on_text_delta(am_prov_stream *s, const json_t *delta, am_err *err)
{
	const char *dt = jstr(delta, "type");
	const json_t *t = json_object_get(delta, "text");
	/* thinking, signature and input_json deltas are not answer text. */
	if (!dt || strcmp(dt, "text_delta") || !json_is_string(t))
		return 0;
	size_t before = s->text.len;
	if (append_answer(&s->text, json_string_value(t), json_string_length(t)) != 0)
		return stream_fail(s, AM_PERR_RESPONSE_TOO_BIG, err,
		                   "the streamed answer exceeds the size limit");
	size_t n = s->text.len - before;
	if (s->on_text && !s->silent && n)
		s->on_text(s->ctx, s->text.data + before, n);
	return 0;
}

static int on_sse_event(void *ctx, const char *event, const char *data, size_t len, am_err *err)
{
	am_prov_stream *s = ctx;
	if (s->stopped || s->errored)
		return 0;
	enum ev ev = event_kind(event);
	/* Pings and block boundaries carry nothing we keep: skip the JSON. */
	if (ev == EV_PING) {
		s->pings++;
		return 0;
	}
	if (ev == EV_BLOCK_START || ev == EV_BLOCK_STOP)
		return 0;
	bool unnamed = !strcmp(event, "message");
	if (ev == EV_UNKNOWN && !unnamed) {
		s->unknown_events++;
		return 0;
	}
	json_error_t je;
	json_t *obj = json_loadb(data, len, JSON_ALLOW_NUL, &je);
	if (!json_is_object(obj)) {
		json_decref(obj);
		if (unnamed) {
			s->unknown_events++;
			return 0;
		}
		char msg[160];
		snprintf(msg, sizeof msg, "malformed %s event in the stream: %s", event, je.text);
		return stream_fail(s, AM_PERR_PROTOCOL, err, msg);
	}
	if (unnamed) {
		/* A data-only frame: its JSON type names the event. */
		const char *t = jstr(obj, "type");
		ev = t ? event_kind(t) : EV_UNKNOWN;
		if (ev == EV_PING || ev == EV_UNKNOWN)
			s->unknown_events += ev == EV_UNKNOWN;
	}
	int rc = 0;
	switch (ev) {
	case EV_MESSAGE_START: {
		const json_t *m = json_object_get(obj, "message");
		s->started = true;
		copy_jstr(s->id, sizeof s->id, m, "id");
		copy_jstr(s->model, sizeof s->model, m, "model");
		raw_usage_merge(&s->u, json_object_get(m, "usage"));
		copy_jstr(s->service_tier, sizeof s->service_tier, json_object_get(m, "usage"),
		          "service_tier");
		break;
	}
	case EV_BLOCK_DELTA:
		rc = on_text_delta(s, json_object_get(obj, "delta"), err);
		break;
	case EV_MESSAGE_DELTA: {
		const json_t *d = json_object_get(obj, "delta");
		const char *sr = jstr(d, "stop_reason");
		if (sr) {
			COPY(s->stop_reason, sr);
			s->delta_seen = true;
		}
		copy_jstr(s->stop_sequence, sizeof s->stop_sequence, d, "stop_sequence");
		raw_usage_merge(&s->u, json_object_get(obj, "usage"));
		break;
	}
	case EV_MESSAGE_STOP:
		s->stopped = true;
		break;
	case EV_ERROR: {
		const json_t *e = json_object_get(obj, "error");
		const char *m = jstr(e, "message");
		copy_jstr(s->error_type, sizeof s->error_type, e, "type");
		s->errored = true;
		s->silent = true;
		s->fail_kind = AM_PERR_MIDSTREAM;
		COPY(s->message, m && m[0] ? m : "error event in the stream");
		break;
	}
	default:
		break;
	}
	json_decref(obj);
	return rc;
}

void am_prov_stream_init(am_prov_stream *s, size_t max_event, size_t max_text,
                         am_prov_text_fn on_text, void *ctx)
{
	memset(s, 0, sizeof *s);
	am_sse_init(&s->sse, max_event, on_sse_event, s);
	am_bbuf_init(&s->text, max_text ? max_text : DEFAULT_MAX_TEXT);
	s->on_text = on_text;
	s->ctx = ctx;
}

int am_prov_stream_feed(am_prov_stream *s, const char *buf, size_t len, am_err *err)
{
	if (s->errored && s->fail_kind != AM_PERR_MIDSTREAM)
		return am_err_set(err, "%s", s->message);
	if (am_sse_feed(&s->sse, buf, len, err) == 0)
		return 0;
	if (!s->errored) {
		/* The SSE layer itself refused (an over-long line or event). */
		char msg[AM_ERR_MAX];
		COPY(msg, err ? err->msg : "the event stream cannot be read");
		stream_fail(s, AM_PERR_PROTOCOL, NULL, msg);
	}
	return -1;
}

void am_prov_stream_finish(am_prov_stream *s, am_prov_result *r)
{
	r->stream = true;
	COPY(r->id, s->id);
	COPY(r->model, s->model);
	COPY(r->stop_reason, s->stop_reason);
	COPY(r->stop_sequence, s->stop_sequence);
	COPY(r->service_tier, s->service_tier);
	r->has_usage = s->started || s->u.has_input || s->u.has_output;
	r->started = s->started;
	am_prov_usage_from_raw(&s->u, &r->usage);
	am_prov_usage_check(&s->u, r);
	free(r->text);
	r->text_len = s->text.len;
	r->text = am_bbuf_take(&s->text);
	r->usage_final = s->delta_seen || s->stopped;
	if (s->errored) {
		am_prov_result_fail(r, s->fail_kind, "%s", s->message);
		COPY(r->error_type, s->error_type);
	} else if (!s->started && (s->stopped || s->delta_seen)) {
		/* An end without a beginning: the model and input usage are
		 * unknown, so this cannot be recorded as an answer (nor retried:
		 * it may have been paid for). */
		am_prov_result_fail(r, AM_PERR_PROTOCOL, "the stream ended without message_start");
	} else if (s->stopped || s->delta_seen) {
		/* message_stop carries no data: after message_delta the answer,
		 * its stop_reason and its cumulative usage are all known, and a
		 * retry would pay for the same answer twice. */
		r->missing_message_stop = !s->stopped;
	} else {
		am_prov_result_fail(r, AM_PERR_TRUNCATED,
		                    s->started ? "the stream ended before the message was complete"
		                               : "the stream ended before it began");
	}
}

void am_prov_stream_free(am_prov_stream *s)
{
	am_sse_free(&s->sse);
	am_bbuf_free(&s->text);
}

/* ---- dates ----------------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int days_in_month(int64_t y, int m)
{
	static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : dm[m - 1];
}

/* Exactly `count` ASCII digits at *p; advances *p. */
static bool digits(const char **p, const char *end, int count, int64_t *out)
{
	int64_t v = 0;
	for (int i = 0; i < count; i++) {
		if (*p >= end || (**p < '0' || **p > '9'))
			return false;
		v = v * 10 + (**p - '0');
		(*p)++;
	}
	*out = v;
	return true;
}

static bool lit(const char **p, const char *end, char c)
{
	if (*p >= end || **p != c)
		return false;
	(*p)++;
	return true;
}

/* Seconds of a broken-down UTC time, validated; leap second 60 allowed. */
static bool civil_secs(int64_t y, int64_t mo, int64_t d, int64_t h, int64_t mi, int64_t s,
                       int64_t *out)
{
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, (int)mo) || h > 23 || mi > 59 ||
	    s > 60)
		return false;
	*out = days_from_civil(y, (int)mo, (int)d) * 86400 + h * 3600 + mi * 60 + s;
	return true;
}

/* secs + frac_ns as int64 ns, or false when outside ~1678..2262. */
static bool to_ns(int64_t secs, int64_t frac_ns, int64_t *out)
{
	if (secs > INT64_MAX / NS_PER_SEC - 1 || secs < INT64_MIN / NS_PER_SEC + 1)
		return false;
	*out = secs * NS_PER_SEC + frac_ns;
	return true;
}

static bool hms(const char **p, const char *end, int64_t *h, int64_t *m, int64_t *s)
{
	return digits(p, end, 2, h) && lit(p, end, ':') && digits(p, end, 2, m) &&
	       lit(p, end, ':') && digits(p, end, 2, s);
}

int am_prov_parse_rfc3339(const char *s, size_t n, int64_t *out_ns)
{
	const char *p = s, *end = s + n;
	int64_t y, mo, d, h, mi, sec, frac = 0;
	if (!digits(&p, end, 4, &y) || !lit(&p, end, '-') || !digits(&p, end, 2, &mo) ||
	    !lit(&p, end, '-') || !digits(&p, end, 2, &d))
		return -1;
	if (p >= end || (*p != 'T' && *p != 't' && *p != ' '))
		return -1;
	p++;
	if (!hms(&p, end, &h, &mi, &sec))
		return -1;
	if (p < end && *p == '.') {
		p++;
		int nd = 0;
		for (; p < end && *p >= '0' && *p <= '9'; p++, nd++)
			if (nd < 9)
				frac = frac * 10 + (*p - '0');
		if (nd == 0)
			return -1;
		for (; nd < 9; nd++)
			frac *= 10;
	}
	int64_t offset = 0;
	if (p < end && (*p == 'Z' || *p == 'z')) {
		p++;
	} else if (p < end && (*p == '+' || *p == '-')) {
		int sign = *p++ == '-' ? -1 : 1;
		int64_t oh, om;
		if (!digits(&p, end, 2, &oh) || !lit(&p, end, ':') || !digits(&p, end, 2, &om) ||
		    oh > 23 || om > 59)
			return -1;
		offset = sign * (oh * 3600 + om * 60);
	} else {
		return -1;
	}
	int64_t secs;
	if (p != end || !civil_secs(y, mo, d, h, mi, sec, &secs))
		return -1;
	return to_ns(secs - offset, frac, out_ns) ? 0 : -1;
}

static int month_of(const char **p, const char *end)
{
	static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	if (end - *p < 3)
		return 0;
	for (int m = 0; m < 12; m++) {
		if (!strncasecmp(*p, names + 3 * m, 3)) {
			*p += 3;
			return m + 1;
		}
	}
	return 0;
}

static void skip_sp(const char **p, const char *end)
{
	while (*p < end && **p == ' ')
		(*p)++;
}

static bool gmt(const char **p, const char *end)
{
	skip_sp(p, end);
	if (end - *p < 3 || strncmp(*p, "GMT", 3))
		return false;
	*p += 3;
	return true;
}

int am_prov_parse_http_date(const char *s, size_t n, int64_t *out_ns)
{
	const char *p = s, *end = s + n;
	const char *wd = p;
	while (p < end && ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')))
		p++;
	if (p - wd < 3 || p >= end)
		return -1;
	int64_t y, d, h, mi, sec;
	int mo;
	if (*p == ',') {
		p++;
		skip_sp(&p, end);
		if (!digits(&p, end, 2, &d) || p >= end)
			return -1;
		if (*p == ' ') { /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
			p++;
			if (!(mo = month_of(&p, end)) || !lit(&p, end, ' ') ||
			    !digits(&p, end, 4, &y))
				return -1;
		} else { /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
			if (!lit(&p, end, '-') || !(mo = month_of(&p, end)) || !lit(&p, end, '-') ||
			    !digits(&p, end, 2, &y))
				return -1;
			/* RFC 9110: a two-digit year more than 50 years ahead is in the past. */
			y += y < 70 ? 2000 : 1900;
		}
		if (!lit(&p, end, ' ') || !hms(&p, end, &h, &mi, &sec) || !gmt(&p, end))
			return -1;
	} else { /* asctime: Sun Nov  6 08:49:37 1994 */
		skip_sp(&p, end);
		if (!(mo = month_of(&p, end)))
			return -1;
		skip_sp(&p, end);
		if (end - p >= 2 && p[1] >= '0' && p[1] <= '9') {
			if (!digits(&p, end, 2, &d))
				return -1;
		} else if (!digits(&p, end, 1, &d)) {
			return -1;
		}
		if (!lit(&p, end, ' ') || !hms(&p, end, &h, &mi, &sec) || !lit(&p, end, ' ') ||
		    !digits(&p, end, 4, &y))
			return -1;
	}
	int64_t secs;
	if (p != end || !civil_secs(y, mo, d, h, mi, sec, &secs))
		return -1;
	return to_ns(secs, 0, out_ns) ? 0 : -1;
}

/* ---- response headers ------------------------------------------------------ */

/* A decimal "[-]digits[.digits]" times unit_ns, exactly, in integers. */
static bool decimal_ns(const char *s, size_t n, int64_t unit_ns, int64_t *out)
{
	const char *p = s, *end = s + n;
	bool neg = p < end && *p == '-';
	if (p < end && (*p == '-' || *p == '+'))
		p++;
	int64_t whole = 0, frac = 0, scale = 1;
	bool any = false;
	for (; p < end && *p >= '0' && *p <= '9'; p++, any = true) {
		if (whole > (INT64_MAX / unit_ns - 9) / 10)
			return false;
		whole = whole * 10 + (*p - '0');
	}
	if (p < end && *p == '.') {
		for (p++; p < end && *p >= '0' && *p <= '9'; p++, any = true) {
			if (scale < unit_ns) {
				frac = frac * 10 + (*p - '0');
				scale *= 10;
			}
		}
	}
	if (!any || p != end)
		return false;
	int64_t v = whole * unit_ns + frac * (unit_ns / scale);
	*out = neg ? -v : v;
	return true;
}

static bool count_value(const char *s, size_t n, int64_t *out)
{
	int64_t v = 0;
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9' || v > (INT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

void am_prov_headers_init(am_prov_headers *h)
{
	memset(h, 0, sizeof *h);
	h->should_retry = -1;
}

static bool name_is(const char *name, size_t n, const char *want)
{
	return strlen(want) == n && !strncasecmp(name, want, n);
}

/* "anthropic-ratelimit-input-tokens-reset" and friends. */
static void ratelimit_header(am_prov_headers *h, const char *name, size_t n, const char *v,
                             size_t vn)
{
	static const struct {
		const char *prefix;
		enum am_rl_dim_hdr dim;
	} dims[] = {
	    {"anthropic-ratelimit-requests-", AM_RLH_REQUESTS},
	    {"anthropic-ratelimit-tokens-", AM_RLH_TOKENS},
	    {"anthropic-ratelimit-input-tokens-", AM_RLH_INPUT_TOKENS},
	    {"anthropic-ratelimit-output-tokens-", AM_RLH_OUTPUT_TOKENS},
	    {"anthropic-priority-input-tokens-", AM_RLH_PRIO_INPUT},
	    {"anthropic-priority-output-tokens-", AM_RLH_PRIO_OUTPUT},
	};
	for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) {
		size_t pl = strlen(dims[i].prefix);
		if (n <= pl || strncasecmp(name, dims[i].prefix, pl))
			continue;
		const char *field = name + pl;
		size_t fl = n - pl;
		am_rl_bucket_hdr *b = &h->rl.b[dims[i].dim];
		if (name_is(field, fl, "limit") && count_value(v, vn, &b->limit))
			b->present = b->has_limit = true;
		else if (name_is(field, fl, "remaining") && count_value(v, vn, &b->remaining))
			b->present = b->has_remaining = true;
		else if (name_is(field, fl, "reset") &&
		         am_prov_parse_rfc3339(v, vn, &b->reset_ns) == 0)
			b->present = b->has_reset = true;
		return;
	}
}

void am_prov_headers_line(am_prov_headers *h, const char *line, size_t len)
{
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (len >= 5 && !strncmp(line, "HTTP/", 5)) {
		am_prov_headers_init(h);
		const char *sp = memchr(line, ' ', len);
		int64_t status;
		if (sp && (size_t)(line + len - sp) >= 4 && count_value(sp + 1, 3, &status))
			h->rl.http_status = (int)status;
		return;
	}
	const char *colon = memchr(line, ':', len);
	if (!colon)
		return;
	size_t n = (size_t)(colon - line);
	const char *v = colon + 1, *end = line + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	size_t vn = (size_t)(end - v);

	if (n > 10 && !strncasecmp(line, "anthropic-", 10)) {
		ratelimit_header(h, line, n, v, vn);
	} else if (name_is(line, n, "request-id") ||
	           (name_is(line, n, "x-request-id") && !h->request_id[0])) {
		copy_n(h->request_id, sizeof h->request_id, v, vn);
	} else if (name_is(line, n, "content-type")) {
		copy_n(h->content_type, sizeof h->content_type, v, vn);
	} else if (name_is(line, n, "x-should-retry")) {
		if (vn == 4 && !strncasecmp(v, "true", 4))
			h->should_retry = 1;
		else if (vn == 5 && !strncasecmp(v, "false", 5))
			h->should_retry = 0;
	} else if (name_is(line, n, "retry-after-ms")) {
		h->has_retry_after_ms = decimal_ns(v, vn, 1000000, &h->retry_after_ms_ns);
	} else if (name_is(line, n, "retry-after")) {
		h->has_retry_after_secs = decimal_ns(v, vn, NS_PER_SEC, &h->retry_after_secs_ns);
		h->has_retry_after_date =
		    !h->has_retry_after_secs &&
		    am_prov_parse_http_date(v, vn, &h->retry_after_date_ns) == 0;
	} else if (name_is(line, n, "date")) {
		h->rl.has_date = am_prov_parse_http_date(v, vn, &h->rl.date_ns) == 0;
	}
}

void am_prov_headers_finish(am_prov_headers *h, int64_t now_wall_ns)
{
	int64_t v = -1;
	if (h->has_retry_after_ms && h->retry_after_ms_ns >= 0)
		v = h->retry_after_ms_ns;
	else if (h->has_retry_after_secs && h->retry_after_secs_ns >= 0)
		v = h->retry_after_secs_ns;
	else if (h->has_retry_after_date) {
		int64_t base = h->rl.has_date ? h->rl.date_ns : now_wall_ns;
		/* Parsed dates span 1678..2262, so the difference can overflow:
		 * such a hint is nonsense and is dropped. */
		if (__builtin_sub_overflow(h->retry_after_date_ns, base, &v))
			v = -1;
	}
	h->rl.has_retry_after = v >= 0;
	h->rl.retry_after_ns = v >= 0 ? v : 0;
}

/* ---- retry policy ----------------------------------------------------------- */

void am_prov_retry_cfg_default(am_prov_retry_cfg *c)
{
	c->max_retries = 2;
	c->initial_delay_ns = NS_PER_SEC / 2;
	c->max_delay_ns = 8 * NS_PER_SEC;
	c->max_retry_after_ns = 60 * NS_PER_SEC;
}

bool am_prov_retry_should(const am_prov_retry_cfg *c, int attempts, const am_prov_result *r)
{
	return r->err != AM_PERR_NONE && r->retryable && attempts >= 1 &&
	       attempts <= c->max_retries;
}

int64_t am_prov_retry_delay(const am_prov_retry_cfg *c, int retry, const am_rl_headers *h,
                            double rnd01)
{
	if (h && h->has_retry_after && h->retry_after_ns > 0 &&
	    h->retry_after_ns <= c->max_retry_after_ns)
		return h->retry_after_ns;
	int64_t d = c->initial_delay_ns > 0 ? c->initial_delay_ns : 1;
	for (int i = 1; i < retry && d < c->max_delay_ns; i++)
		d *= 2;
	if (d > c->max_delay_ns)
		d = c->max_delay_ns;
	if (!(rnd01 >= 0.0)) /* also catches NaN */
		rnd01 = 0.0;
	if (rnd01 > 1.0)
		rnd01 = 1.0;
	return d - (int64_t)((double)d * 0.25 * rnd01);
}

/* ---- what a request asks that is billed beyond tokens --------------------- */

void am_prov_request_billing(const json_t *body, int64_t default_uses, bool *fast,
                             int64_t *web_searches)
{
	const char *speed = jstr(body, "speed");
	*fast = speed && !strcmp(speed, "fast");
	*web_searches = 0;
	size_t i;
	const json_t *t;
	json_array_foreach(json_object_get(body, "tools"), i, t)
	{
		const char *type = jstr(t, "type");
		if (!type || strncmp(type, "web_search_", 11))
			continue;
		int64_t uses = default_uses;
		const json_t *mu = json_object_get(t, "max_uses");
		if (json_is_integer(mu) && json_integer_value(mu) >= 0)
			uses = (int64_t)json_integer_value(mu);
		if (__builtin_add_overflow(*web_searches, uses, web_searches))
			*web_searches = INT64_MAX;
	}
}

/* ---- answers written out again ---------------------------------------------- */

static json_t *usage_json(const am_usage *u, bool output)
{
	json_t *o = json_pack("{s:I, s:I, s:I, s:{s:I, s:I}}", "input_tokens",
	                      (json_int_t)u->input_tokens, "cache_creation_input_tokens",
	                      (json_int_t)(u->cache_write_5m + u->cache_write_1h),
	                      "cache_read_input_tokens", (json_int_t)u->cache_read, "cache_creation",
	                      "ephemeral_5m_input_tokens", (json_int_t)u->cache_write_5m,
	                      "ephemeral_1h_input_tokens", (json_int_t)u->cache_write_1h);
	json_object_set_new(o, "output_tokens", json_integer(output ? u->output_tokens : 1));
	return o;
}

static json_t *message_obj(const char *id, const char *model, json_t *content,
                           const char *stop_reason, const char *stop_sequence, json_t *usage)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:s}", "id", id, "type", "message", "role",
	                      "assistant", "content", content, "model", model);
	json_object_set_new(o, "stop_reason",
	                    stop_reason && *stop_reason ? json_string(stop_reason) : json_null());
	json_object_set_new(o, "stop_sequence",
	                    stop_sequence ? json_string(stop_sequence) : json_null());
	json_object_set_new(o, "usage", usage);
	return o;
}

char *am_prov_message_json(const char *id, const char *model, const char *text,
                           const char *stop_reason, const char *stop_sequence,
                           const am_usage *u)
{
	json_t *t = json_string(text ? text : "");
	if (!t)
		return NULL;
	json_t *content = json_pack("[{s:s, s:o}]", "type", "text", "text", t);
	json_t *o = message_obj(id, model, content, stop_reason, stop_sequence, usage_json(u, true));
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

static int sse_event(am_bbuf *b, const char *name, json_t *data)
{
	char *d = json_dumps(data, JSON_COMPACT);
	json_decref(data);
	if (!d)
		return -1;
	int rc = am_bbuf_append(b, "event: ", 7) || am_bbuf_append(b, name, strlen(name)) ||
	         am_bbuf_append(b, "\ndata: ", 7) || am_bbuf_append(b, d, strlen(d)) ||
	         am_bbuf_append(b, "\n\n", 2);
	free(d);
	return rc ? -1 : 0;
}

char *am_prov_message_sse(const char *id, const char *model, const char *text,
                          const char *stop_reason, const char *stop_sequence,
                          const am_usage *u)
{
	json_t *t = json_string(text ? text : "");
	if (!t)
		return NULL;
	am_bbuf b;
	am_bbuf_init(&b, (size_t)1 << 30);
	json_t *start = message_obj(id, model, json_array(), NULL, NULL, usage_json(u, false));
	json_t *delta = json_pack("{s:s?, s:s?}", "stop_reason",
	                          stop_reason && *stop_reason ? stop_reason : NULL, "stop_sequence",
	                          stop_sequence);
	if (!json_object_get(delta, "stop_reason"))
		json_object_set_new(delta, "stop_reason", json_null());
	if (!json_object_get(delta, "stop_sequence"))
		json_object_set_new(delta, "stop_sequence", json_null());
	int rc = sse_event(&b, "message_start",
	                   json_pack("{s:s, s:o}", "type", "message_start", "message", start));
	rc |= sse_event(&b, "content_block_start",
	                json_pack("{s:s, s:i, s:{s:s, s:s}}", "type", "content_block_start", "index",
	                          0, "content_block", "type", "text", "text", ""));
	rc |= sse_event(&b, "content_block_delta",
	                json_pack("{s:s, s:i, s:{s:s, s:o}}", "type", "content_block_delta", "index",
	                          0, "delta", "type", "text_delta", "text", t));
	rc |= sse_event(&b, "content_block_stop",
	                json_pack("{s:s, s:i}", "type", "content_block_stop", "index", 0));
	rc |= sse_event(&b, "message_delta",
	                json_pack("{s:s, s:o, s:{s:I}}", "type", "message_delta", "delta", delta,
	                          "usage", "output_tokens", (json_int_t)u->output_tokens));
	rc |= sse_event(&b, "message_stop", json_pack("{s:s}", "type", "message_stop"));
	if (rc) {
		am_bbuf_free(&b);
		return NULL;
	}
	return am_bbuf_take(&b);
}
