/* proxy_req: what the proxy reads from a client's request, apart from the
 * server around it (so that it can be fuzzed alone): the route of a path,
 * which headers go upstream, the tag, the key's hint, the token check, the
 * query string rebuilt, and the few fields of a Messages body the pipeline
 * needs. Pure: no I/O, no threads. */
#ifndef AIMETER_PROXY_REQ_H
#define AIMETER_PROXY_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bbuf.h"
#include "err.h"
#include "proxycall.h"

/* The provider's cap on a request body (Messages, count_tokens). */
#define AM_PROXY_BODY_MAX ((size_t)32 << 20)

typedef enum am_px_route {
	AM_PX_MESSAGES,    /* POST /v1/messages: through the pipeline, recorded */
	AM_PX_COUNT,       /* POST /v1/messages/count_tokens: passed, not recorded */
	AM_PX_OTHER        /* anything else: passed upstream unchanged */
} am_px_route;

am_px_route am_px_route_of(const char *method, const char *path);

/* Whether a request header goes upstream: not aimeter's own (x-aimeter-*),
 * not hop-by-hop, not those libcurl sets itself (host, content-length,
 * expect), not accept-encoding (answers must come back readable). */
bool am_px_forward_request_header(const char *name);

/* A request's headers as they arrive: the lines that go upstream ("Name:
 * value", or "Name;" for an empty value, as libcurl sends it) and the
 * values the proxy itself reads (borrowed from the caller's strings). */
enum { AM_PX_MAX_HEADERS = 128 };
typedef struct am_px_headers {
	char *line[AM_PX_MAX_HEADERS];
	size_t n;
	bool too_many;          /* more than AM_PX_MAX_HEADERS to forward */
	const char *api_key, *authorization, *tag, *cache;
} am_px_headers;

/* Takes one header; a value holding CR or LF is not forwarded. */
void am_px_headers_take(am_px_headers *h, const char *name, const char *value);
void am_px_headers_free(am_px_headers *h);

/* Whether a response header comes back to the client (not hop-by-hop, not
 * content-length, which the server sets from the body it sends). */
bool am_px_forward_response_header(const char *name, size_t len);

/* The ledger's tag: the first non-empty of header, flag, config; a
 * character that is not printable ASCII (or is a space) becomes '_', at
 * most AM_TAG_MAX of them, so that it always passes am_tag_check. "" when
 * all are empty. */
void am_px_tag(const char *header, const char *flag, const char *config,
               char out[AM_PROXY_TAG_MAX]);

/* The key's last four characters (a character that is not [A-Za-z0-9_-]
 * reads '?'), from x-api-key, else from "Authorization: Bearer <token>".
 * "" when there is no key. Never more of the key. */
void am_px_key_hint(const char *x_api_key, const char *authorization,
                    char out[AM_PROXY_HINT_MAX]);

/* Whether `given` equals `token`, in time that does not depend on where
 * they differ. A NULL or empty token accepts anything. */
bool am_px_token_ok(const char *token, const char *given);

/* Appends "key=value" (percent-encoded) to a query string being built
 * ("?" before the first, "&" after). -1 when it would pass the buffer's cap. */
int am_px_query_add(am_bbuf *q, const char *key, const char *value);

/* The fields of a Messages body that admission needs. json is the parsed
 * object (the caller owns it). */
typedef struct am_px_body {
	struct json_t *json;
	char model[AM_PROV_MODEL_MAX];
	int64_t max_tokens; /* 0 = absent */
	bool stream;
} am_px_body;

/* 0, or -1 + err when the body is not a JSON object naming a model, or
 * names a key twice (the proxy refuses such a request itself: what it
 * cannot read it cannot budget). */
int am_px_parse_body(const char *body, size_t len, am_px_body *out, am_err *err);

/* The provider's error shape: {"type":"error","error":{"type":..,
 * "message":..}}; heap. */
char *am_px_error_json(const char *type, const char *message);

#endif
