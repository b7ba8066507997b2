/* fuzz_proxyreq: what the proxy reads from a client's request
 * (src/proxy/proxy_req.c) - its path, headers and body - as the request
 * handler reads them.
 *
 * The input is a request in text: a first line "METHOD PATH[?QUERY]", header
 * lines "Name: value" up to an empty line, then the body. Invariants: no
 * header line that goes upstream is aimeter's own (x-aimeter-*), hop-by-hop,
 * or able to split into two lines; the tag always passes am_tag_check; the
 * key's hint is at most its last four characters; a rebuilt query holds only
 * unreserved characters and escapes; a body admitted names a model and is a
 * JSON object; the error shape is JSON; a token equals only itself. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "fuzz_util.h"
#include "proxy_req.h"
#include "tag.h"

static const char *const never_forwarded[] = {
	"connection", "keep-alive", "transfer-encoding", "upgrade", "te", "trailer", "host",
	"content-length", "expect", "accept-encoding", "proxy-authorization",
};

static void check_headers(const am_px_headers *h)
{
	FUZZ_CHECK(h->n <= AM_PX_MAX_HEADERS);
	for (size_t i = 0; i < h->n; i++) {
		const char *l = h->line[i];
		FUZZ_CHECK(!strpbrk(l, "\r\n"));
		FUZZ_CHECK(strncasecmp(l, "x-aimeter-", 10) != 0);
		size_t nl = strcspn(l, ":;");
		FUZZ_CHECK(nl > 0 && l[nl]);
		for (size_t k = 0; k < sizeof never_forwarded / sizeof never_forwarded[0]; k++)
			FUZZ_CHECK(!(strlen(never_forwarded[k]) == nl &&
			             !strncasecmp(l, never_forwarded[k], nl)));
	}
}

static void check_hint(const am_px_headers *h)
{
	char hint[AM_PROXY_HINT_MAX];
	am_px_key_hint(h->api_key, h->authorization, hint);
	size_t n = strlen(hint);
	FUZZ_CHECK(n <= 4);
	const char *k = h->api_key && *h->api_key ? h->api_key : NULL;
	if (k) {
		size_t kl = strlen(k);
		FUZZ_CHECK(n == (kl < 4 ? kl : 4));
		for (size_t i = 0; i < n; i++)
			FUZZ_CHECK(hint[i] == k[kl - n + i] || hint[i] == '?');
	}
}

static void check_tag(const am_px_headers *h, const char *flag)
{
	char tag[AM_PROXY_TAG_MAX];
	am_px_tag(h->tag, flag, "cfg", tag);
	am_err err;
	FUZZ_CHECK(am_tag_check(tag, &err) == 0);
	FUZZ_CHECK(strlen(tag) <= AM_TAG_MAX);
	FUZZ_CHECK(*tag);
}

static void check_query(const char *q, size_t n)
{
	am_bbuf out;
	am_bbuf_init(&out, 4096);
	char *copy = am_xstrndup(q, n);
	for (char *save = NULL, *pair = strtok_r(copy, "&", &save); pair;
	     pair = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(pair, '=');
		if (eq)
			*eq = '\0';
		if (am_px_query_add(&out, pair, eq ? eq + 1 : NULL))
			break;
	}
	const char *s = am_bbuf_str(&out);
	FUZZ_CHECK(!out.len || s[0] == '?');
	for (size_t i = 0; i < out.len; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		          strchr("-_.~%=&?", c) != NULL;
		FUZZ_CHECK(ok);
	}
	free(copy);
	am_bbuf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = am_xstrndup((const char *)data, size);
	size_t len = strlen(text); /* a NUL ends the text: MHD strings are C strings */
	char *p = text, *end = text + len;
	/* the request line */
	char *nl = memchr(p, '\n', (size_t)(end - p));
	char *line_end = nl ? nl : end;
	*line_end = '\0';
	char *sp = strchr(p, ' ');
	const char *method = p, *path = "/";
	if (sp) {
		*sp = '\0';
		path = sp + 1;
	}
	char *query = strchr(path, '?');
	if (query)
		*query++ = '\0';
	am_px_route route = am_px_route_of(method, path);
	FUZZ_CHECK(route != AM_PX_MESSAGES || !strcmp(path, "/v1/messages"));
	FUZZ_CHECK(route == AM_PX_OTHER || !strcmp(method, "POST"));
	if (query)
		check_query(query, strlen(query));
	p = nl ? nl + 1 : end;
	/* headers */
	am_px_headers h;
	memset(&h, 0, sizeof h);
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		line_end = nl ? nl : end;
		*line_end = '\0';
		if (line_end > p && line_end[-1] == '\r')
			line_end[-1] = '\0';
		char *next = nl ? nl + 1 : end;
		if (!*p) {
			p = next;
			break;
		}
		char *colon = strchr(p, ':');
		if (colon) {
			*colon = '\0';
			const char *v = colon + 1;
			while (*v == ' ')
				v++;
			am_px_headers_take(&h, p, v);
		}
		p = next;
	}
	check_headers(&h);
	check_hint(&h);
	check_tag(&h, method);
	const char *given = h.api_key ? h.api_key : "";
	FUZZ_CHECK(am_px_token_ok(given, given));
	if (*given) {
		char *longer = am_xmalloc(strlen(given) + 2);
		snprintf(longer, strlen(given) + 2, "%sx", given);
		FUZZ_CHECK(!am_px_token_ok(given, longer));
		FUZZ_CHECK(!am_px_token_ok(longer, given));
		free(longer);
	}
	/* the body: what is left */
	size_t blen = p < end ? (size_t)(end - p) : 0;
	const char *body = p < end ? p : "";
	am_px_body b;
	am_err err;
	if (am_px_parse_body(body, blen, &b, &err) == 0) {
		FUZZ_CHECK(json_is_object(b.json));
		FUZZ_CHECK(*b.model && strlen(b.model) < sizeof b.model);
		FUZZ_CHECK(b.max_tokens >= 0);
		json_decref(b.json);
	} else {
		FUZZ_CHECK(b.json == NULL);
		FUZZ_CHECK_UTF8_CSTR(err.msg);
	}
	char *ej = am_px_error_json("invalid_request_error", path);
	json_error_t je;
	json_t *j = json_loads(ej, 0, &je);
	FUZZ_CHECK(json_is_object(j));
	FUZZ_CHECK(!strcmp(json_string_value(json_object_get(j, "type")), "error"));
	json_decref(j);
	free(ej);
	am_px_headers_free(&h);
	free(text);
	return 0;
}
