/* proxy_req: see proxy_req.h. */
#include "proxy_req.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

am_px_route am_px_route_of(const char *method, const char *path)
{
	if (!method || !path || strcmp(method, "POST"))
		return AM_PX_OTHER;
	if (!strcmp(path, "/v1/messages"))
		return AM_PX_MESSAGES;
	if (!strcmp(path, "/v1/messages/count_tokens"))
		return AM_PX_COUNT;
	return AM_PX_OTHER;
}

static const char *const hop_by_hop[] = {
	"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
	"te", "trailer", "trailers", "transfer-encoding", "upgrade",
};

static bool is_hop(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof hop_by_hop / sizeof hop_by_hop[0]; i++)
		if (strlen(hop_by_hop[i]) == len && !strncasecmp(name, hop_by_hop[i], len))
			return true;
	return false;
}

bool am_px_forward_request_header(const char *name)
{
	if (!name || !*name)
		return false;
	size_t len = strlen(name);
	if (is_hop(name, len) || !strncasecmp(name, "x-aimeter-", 10))
		return false;
	static const char *const own[] = { "host", "content-length", "expect", "accept-encoding" };
	for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
		if (!strcasecmp(name, own[i]))
			return false;
	/* only an HTTP token (RFC 9110): nothing libcurl would read as a line
	 * end, a separator, or its empty-value form ("Name;") */
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("!#$%&'*+-.^_`|~", c)))
			return false;
	}
	return true;
}

void am_px_headers_take(am_px_headers *h, const char *name, const char *value)
{
	if (!name)
		return;
	if (!value)
		value = "";
	if (!strcasecmp(name, "x-api-key"))
		h->api_key = value;
	else if (!strcasecmp(name, "authorization"))
		h->authorization = value;
	else if (!strcasecmp(name, "x-aimeter-tag"))
		h->tag = value;
	else if (!strcasecmp(name, "x-aimeter-cache"))
		h->cache = value;
	if (!am_px_forward_request_header(name) || strpbrk(value, "\r\n"))
		return;
	if (h->n == AM_PX_MAX_HEADERS) {
		h->too_many = true;
		return;
	}
	size_t n = strlen(name) + strlen(value) + 3;
	char *line = am_xmalloc(n);
	if (*value)
		snprintf(line, n, "%s: %s", name, value);
	else
		snprintf(line, n, "%s;", name);
	h->line[h->n++] = line;
}

void am_px_headers_free(am_px_headers *h)
{
	for (size_t i = 0; i < h->n; i++)
		free(h->line[i]);
	h->n = 0;
}

bool am_px_forward_response_header(const char *name, size_t len)
{
	return len && !is_hop(name, len) && !(len == 14 && !strncasecmp(name, "content-length", 14));
}

static bool tag_char(char c)
{
	return c >= 0x21 && c <= 0x7e; /* printable ASCII, no space (tag.h) */
}

void am_px_tag(const char *header, const char *flag, const char *config,
               char out[AM_PROXY_TAG_MAX])
{
	const char *src = header && *header ? header : flag && *flag ? flag : config ? config : "";
	size_t n = 0;
	for (; src[n] && n < AM_PROXY_TAG_MAX - 1; n++)
		out[n] = tag_char(src[n]) ? src[n] : '_';
	out[n] = '\0';
}

void am_px_key_hint(const char *x_api_key, const char *authorization,
                    char out[AM_PROXY_HINT_MAX])
{
	const char *k = x_api_key && *x_api_key ? x_api_key : NULL;
	if (!k && authorization) {
		k = authorization;
		if (!strncasecmp(k, "Bearer ", 7))
			k += 7;
		while (*k == ' ')
			k++;
	}
	out[0] = '\0';
	if (!k || !*k)
		return;
	size_t len = strlen(k), from = len > 4 ? len - 4 : 0, n = 0;
	for (size_t i = from; i < len; i++) {
		char c = k[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		          c == '_' || c == '-';
		out[n++] = ok ? c : '?';
	}
	out[n] = '\0';
}

bool am_px_token_ok(const char *token, const char *given)
{
	if (!token || !*token)
		return true;
	if (!given)
		return false;
	size_t tl = strlen(token), gl = strlen(given);
	unsigned diff = tl != gl;
	for (size_t i = 0; i < tl; i++)
		diff |= (unsigned char)token[i] ^ (unsigned char)(i < gl ? given[i] : 0);
	return diff == 0;
}

static int put_encoded(am_bbuf *q, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~') {
			if (am_bbuf_append(q, s, 1))
				return -1;
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };
			if (am_bbuf_append(q, e, 3))
				return -1;
		}
	}
	return 0;
}

int am_px_query_add(am_bbuf *q, const char *key, const char *value)
{
	if (!key)
		return 0;
	if (am_bbuf_append(q, q->len ? "&" : "?", 1) || put_encoded(q, key))
		return -1;
	if (value && (am_bbuf_append(q, "=", 1) || put_encoded(q, value)))
		return -1;
	return 0;
}

int am_px_parse_body(const char *body, size_t len, am_px_body *out, am_err *err)
{
	memset(out, 0, sizeof *out);
	json_error_t je;
	json_t *j = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(j)) {
		json_decref(j);
		return am_err_set(err, "the body is not a JSON object");
	}
	const char *model = json_string_value(json_object_get(j, "model"));
	if (!model || !*model || strlen(model) >= sizeof out->model ||
	    strcspn(model, "\r\n\t") != strlen(model)) {
		json_decref(j);
		return am_err_set(err, "the body names no model");
	}
	snprintf(out->model, sizeof out->model, "%s", model);
	json_t *mt = json_object_get(j, "max_tokens");
	if (json_is_integer(mt) && json_integer_value(mt) > 0)
		out->max_tokens = (int64_t)json_integer_value(mt);
	out->stream = json_is_true(json_object_get(j, "stream"));
	out->json = j;
	return 0;
}

char *am_px_error_json(const char *type, const char *message)
{
	json_t *o = json_pack("{s:s, s:{s:s, s:s}}", "type", "error", "error", "type", type,
	                      "message", message);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return s ? s : am_xstrdup("{\"type\":\"error\",\"error\":{\"type\":\"api_error\","
	                          "\"message\":\"error\"}}");
}
