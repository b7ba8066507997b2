/* fuzz_sse: the incremental event-stream parser (src/sse.c) against a
 * reference model.
 *
 * The input is a few choice bytes (the size limit, an event after which the
 * callback stops, a cut point and a chunk size) followed by the stream. The
 * stream is parsed three ways - in one piece, cut in two at the chosen point
 * with an empty feed in between, and in small chunks - and each must give
 * exactly the events, the failure and the pending state that a plain
 * whole-buffer reading of the WHATWG rules gives (ref_parse below). Every
 * event handed to the callback must also be well formed: a non-empty name
 * without line breaks, NUL-terminated data within the limit. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bbuf.h"
#include "fuzz_util.h"
#include "sse.h"

/* Events as a byte log: name, NUL, 8-byte data length, data. */
typedef struct rec {
	am_bbuf log;
	size_t count;
	size_t stop_after;  /* the callback fails on this event (0 = never) */
	size_t max_event;
} rec;

static void rec_init(rec *r, size_t stop_after, size_t max_event)
{
	am_bbuf_init(&r->log, (size_t)64 << 20);
	r->count = 0;
	r->stop_after = stop_after;
	r->max_event = max_event;
}

static void rec_add(rec *r, const char *event, size_t elen, const char *data, size_t len)
{
	uint64_t n = len;
	FUZZ_CHECK(am_bbuf_append(&r->log, event, elen) == 0);
	FUZZ_CHECK(am_bbuf_append(&r->log, "", 1) == 0);
	FUZZ_CHECK(am_bbuf_append(&r->log, &n, sizeof n) == 0);
	FUZZ_CHECK(am_bbuf_append(&r->log, data, len) == 0);
}

/* Returns whether the callback asks to stop at this event. */
static bool rec_event(rec *r, const char *event, size_t elen, const char *data, size_t len)
{
	rec_add(r, event, elen, data, len);
	r->count++;
	return r->stop_after && r->count == r->stop_after;
}

static int on_event(void *ctx, const char *event, const char *data, size_t len, am_err *err)
{
	rec *r = ctx;
	size_t elen = strlen(event);
	FUZZ_CHECK(elen > 0 && elen < AM_SSE_EVENT_NAME_MAX);
	FUZZ_CHECK(!memchr(event, '\n', elen) && !memchr(event, '\r', elen));
	FUZZ_CHECK(data[len] == '\0');
	FUZZ_CHECK(len <= r->max_event);
	FUZZ_CHECK(!memchr(data, '\r', len));
	if (rec_event(r, event, elen, data, len))
		return am_err_set(err, "stop");
	return 0;
}

/* ---- the reference: the whole stream at once, rules read literally ------- */

typedef struct ref_state {
	rec *r;
	size_t max;
	bool first_line, has_data, failed;
	char event[AM_SSE_EVENT_NAME_MAX];
	am_bbuf data;
} ref_state;

/* One complete line; false when parsing must stop (a limit or the stop). */
static bool ref_line(ref_state *st, const char *s, size_t n)
{
	if (st->first_line) {
		st->first_line = false;
		if (n >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3)) {
			s += 3;
			n -= 3;
		}
	}
	if (n == 0) {
		bool stop = false;
		if (st->has_data) {
			const char *name = st->event[0] ? st->event : "message";
			stop = rec_event(st->r, name, strlen(name), am_bbuf_str(&st->data),
			                 st->data.len);
		}
		am_bbuf_clear(&st->data);
		st->has_data = false;
		st->event[0] = '\0';
		return !stop;
	}
	if (s[0] == ':')
		return true;
	size_t nlen = n, vlen = 0;
	const char *val = s + n;
	const char *colon = memchr(s, ':', n);
	if (colon) {
		nlen = (size_t)(colon - s);
		val = colon + 1;
		vlen = n - nlen - 1;
		if (vlen && *val == ' ')
			val++, vlen--;
	}
	if (nlen == 4 && !memcmp(s, "data", 4)) {
		size_t total = st->data.len + (st->has_data ? 1 : 0) + vlen;
		if (total > st->max)
			return false;
		if (st->has_data)
			am_bbuf_append(&st->data, "\n", 1);
		am_bbuf_append(&st->data, val, vlen);
		st->has_data = true;
	} else if (nlen == 5 && !memcmp(s, "event", 5)) {
		if (vlen >= sizeof st->event)
			return false;
		memcpy(st->event, val, vlen);
		st->event[vlen] = '\0';
	}
	return true;
}

/* Parses all of buf; returns whether it failed, and sets *pending. */
static bool ref_parse(const char *buf, size_t len, size_t max, rec *r, bool *pending)
{
	ref_state st = { .r = r, .max = max, .first_line = true };
	am_bbuf_init(&st.data, (size_t)64 << 20);
	size_t i = 0, partial = 0;
	bool failed = false;
	while (i < len) {
		size_t j = i;
		while (j < len && buf[j] != '\n' && buf[j] != '\r')
			j++;
		if (j - i > max) {
			failed = true;
			break;
		}
		if (j == len) {
			partial = j - i;
			break;
		}
		if (!ref_line(&st, buf + i, j - i)) {
			failed = true;
			break;
		}
		if (buf[j] == '\r' && j + 1 < len && buf[j + 1] == '\n')
			j++;
		i = j + 1;
	}
	*pending = st.has_data || partial > 0 || st.event[0] != '\0';
	am_bbuf_free(&st.data);
	return failed;
}

/* ---- the parser under test, fed three ways ------------------------------ */

typedef struct outcome {
	rec r;
	bool failed;
	bool pending;
} outcome;

/* Feeds buf cut at the offsets in cuts[] (ascending; an offset may repeat,
 * which feeds zero bytes). Stops at the first failure, then checks that the
 * parser refuses more input without calling back again. */
static void run(const char *buf, size_t len, const size_t *cuts, size_t ncuts, size_t max,
                size_t stop_after, outcome *o)
{
	am_sse p;
	am_err err;
	rec_init(&o->r, stop_after, max ? max : (size_t)1 << 20);
	am_sse_init(&p, max, on_event, &o->r);
	o->failed = false;
	size_t off = 0;
	for (size_t i = 0; i <= ncuts && !o->failed; i++) {
		size_t end = i < ncuts ? cuts[i] : len;
		err.msg[0] = '\0';
		if (am_sse_feed(&p, buf + off, end - off, &err) != 0) {
			o->failed = true;
			FUZZ_CHECK(err.msg[0] != '\0');
		}
		off = end;
	}
	if (o->failed) {
		size_t before = o->r.count;
		FUZZ_CHECK(am_sse_feed(&p, "\n\ndata: x\n\n", 11, &err) == -1);
		FUZZ_CHECK(o->r.count == before);
	} else {
		o->pending = am_sse_pending(&p);
	}
	FUZZ_CHECK(p.events == o->r.count);
	am_sse_free(&p);
}

static void same(const outcome *a, const outcome *want)
{
	FUZZ_CHECK(a->failed == want->failed);
	FUZZ_CHECK(a->r.count == want->r.count);
	FUZZ_CHECK(a->r.log.len == want->r.log.len);
	FUZZ_CHECK(!memcmp(am_bbuf_str(&a->r.log), am_bbuf_str(&want->r.log), a->r.log.len));
	if (!want->failed)
		FUZZ_CHECK(a->pending == want->pending);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t limits[8] = { 0, 1, 2, 5, 16, 64, 200, 4096 };
	fuzz_in in = { data, size };
	unsigned opt = fuzz_byte(&in);
	size_t max = limits[opt & 7];
	size_t stop_after = (opt >> 3) & 7;
	size_t cut = fuzz_u16(&in);
	size_t chunk = 1 + fuzz_byte(&in) % 17;
	const char *buf = (const char *)in.p;
	size_t len = in.n;
	if (cut > len)
		cut = len ? cut % (len + 1) : 0;

	outcome want;
	rec_init(&want.r, stop_after, max ? max : (size_t)1 << 20);
	want.failed = ref_parse(buf, len, max ? max : (size_t)1 << 20, &want.r, &want.pending);

	outcome whole, two, small;
	run(buf, len, NULL, 0, max, stop_after, &whole);
	same(&whole, &want);

	size_t cuts2[2] = { cut, cut };
	run(buf, len, cuts2, 2, max, stop_after, &two);
	same(&two, &want);

	size_t ncuts = len / chunk;
	size_t *cuts = malloc((ncuts ? ncuts : 1) * sizeof *cuts);
	for (size_t i = 0; i < ncuts; i++)
		cuts[i] = (i + 1) * chunk;
	run(buf, len, cuts, ncuts, max, stop_after, &small);
	same(&small, &want);
	free(cuts);

	am_bbuf_free(&want.r.log);
	am_bbuf_free(&whole.r.log);
	am_bbuf_free(&two.r.log);
	am_bbuf_free(&small.r.log);
	return 0;
}
