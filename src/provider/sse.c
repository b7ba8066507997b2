/* sse: the event-stream line machine. Lines that fit inside one chunk are
 * parsed in place; only a line that straddles chunks is copied into the line
 * buffer, so large chunks cost one scan and small ones stay correct. */
#include "sse.h"

#include <string.h>

#define SSE_DEFAULT_MAX ((size_t)1 << 20)

void am_sse_init(am_sse *p, size_t max_event, am_sse_event_fn fn, void *ctx)
{
	memset(p, 0, sizeof *p);
	p->fn = fn;
	p->ctx = ctx;
	p->max_event = max_event ? max_event : SSE_DEFAULT_MAX;
	am_bbuf_init(&p->line, p->max_event);
	am_bbuf_init(&p->data, p->max_event);
	p->first_line = true;
}

void am_sse_free(am_sse *p)
{
	am_bbuf_free(&p->line);
	am_bbuf_free(&p->data);
}

bool am_sse_pending(const am_sse *p)
{
	return p->has_data || p->line.len > 0 || p->event[0] != '\0';
}

static int fail(am_sse *p, am_err *err, const char *what)
{
	p->failed = true;
	return am_err_set(err, "event stream: %s (limit %zu bytes)", what, p->max_event);
}

static int dispatch(am_sse *p, am_err *err)
{
	int rc = 0;
	if (p->has_data) {
		const char *name = p->event[0] ? p->event : "message";
		p->events++;
		if (p->fn(p->ctx, name, am_bbuf_str(&p->data), p->data.len, err) != 0) {
			p->failed = true;
			rc = -1;
		}
	}
	am_bbuf_clear(&p->data);
	p->has_data = false;
	p->event[0] = '\0';
	return rc;
}

static int field(am_sse *p, const char *name, size_t nlen, const char *val, size_t vlen,
                 am_err *err)
{
	if (nlen == 4 && !memcmp(name, "data", 4)) {
		if ((p->has_data && am_bbuf_append(&p->data, "\n", 1) != 0) ||
		    am_bbuf_append(&p->data, val, vlen) != 0)
			return fail(p, err, "event data too long");
		p->has_data = true;
	} else if (nlen == 5 && !memcmp(name, "event", 5)) {
		if (vlen >= sizeof p->event)
			return fail(p, err, "event name too long");
		memcpy(p->event, val, vlen);
		p->event[vlen] = '\0';
	}
	/* id, retry and unknown fields carry nothing this client uses. */
	return 0;
}

static int line(am_sse *p, const char *s, size_t n, am_err *err)
{
	if (p->first_line) {
		p->first_line = false;
		if (n >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3)) {
			s += 3;
			n -= 3;
		}
	}
	if (n == 0)
		return dispatch(p, err);
	if (s[0] == ':')
		return 0;
	const char *colon = memchr(s, ':', n);
	if (!colon)
		return field(p, s, n, "", 0, err);
	size_t nlen = (size_t)(colon - s);
	const char *val = colon + 1;
	size_t vlen = n - nlen - 1;
	if (vlen && *val == ' ') {
		val++;
		vlen--;
	}
	return field(p, s, nlen, val, vlen, err);
}

int am_sse_feed(am_sse *p, const char *buf, size_t len, am_err *err)
{
	if (p->failed)
		return am_err_set(err, "event stream: input after an earlier error");
	size_t i = 0;
	if (p->cr_pending && len > 0) {
		p->cr_pending = false;
		if (buf[0] == '\n')
			i = 1;
	}
	while (i < len) {
		size_t j = i;
		while (j < len && buf[j] != '\n' && buf[j] != '\r')
			j++;
		if (j == len) {
			if (am_bbuf_append(&p->line, buf + i, len - i) != 0)
				return fail(p, err, "line too long");
			break;
		}
		int rc;
		if (p->line.len) {
			if (am_bbuf_append(&p->line, buf + i, j - i) != 0)
				return fail(p, err, "line too long");
			rc = line(p, p->line.data, p->line.len, err);
			am_bbuf_clear(&p->line);
		} else {
			if (j - i > p->max_event)
				return fail(p, err, "line too long");
			rc = line(p, buf + i, j - i, err);
		}
		if (rc != 0)
			return -1;
		if (buf[j] == '\r') {
			if (j + 1 == len)
				p->cr_pending = true;
			else if (buf[j + 1] == '\n')
				j++;
		}
		i = j + 1;
	}
	return 0;
}
