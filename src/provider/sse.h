/* sse: an incremental parser for Server-Sent Events (the WHATWG "event
 * stream" format) as Anthropic's streaming Messages API sends them.
 *
 * Bytes may arrive in chunks of any size, split anywhere (even inside a CRLF
 * pair); lines may end in CRLF, LF or CR. Each complete event (a blank line
 * after one or more `data:` lines) is handed to the callback as the pair
 * (event name, data), where the name defaults to "message" and multiple data
 * lines are joined with "\n". Comments (`:` lines), `id:` and `retry:` are
 * ignored, as is a UTF-8 byte-order mark at the start of the stream.
 *
 * Memory is bounded: a line or an event's data longer than max_event bytes
 * is an error, not growth. After an error the parser refuses further input.
 * An am_sse belongs to one thread at a time. */
#ifndef AIMETER_SSE_H
#define AIMETER_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bbuf.h"
#include "err.h"

/* Called once per complete event. `event` is NUL-terminated; `data` is
 * NUL-terminated and data_len bytes long (it may hold inner NULs). Both are
 * valid only during the call. Return 0 to go on, or -1 after filling err to
 * stop: am_sse_feed then returns -1 with that message. */
typedef int (*am_sse_event_fn)(void *ctx, const char *event, const char *data, size_t data_len,
                               am_err *err);

enum { AM_SSE_EVENT_NAME_MAX = 128 };

typedef struct am_sse {
	am_sse_event_fn fn;
	void *ctx;
	am_bbuf line; /* the current line while it spans chunks */
	am_bbuf data; /* the data field of the event being read */
	char event[AM_SSE_EVENT_NAME_MAX];
	size_t max_event;
	uint64_t events; /* events dispatched so far */
	bool has_data;   /* at least one data line since the last dispatch */
	bool cr_pending; /* the previous chunk ended in CR */
	bool first_line; /* the BOM check is still to be done */
	bool failed;
} am_sse;

/* Prepares p; max_event bounds one line and one event's data (bytes; 0
 * means 1 MiB). fn is called for each event with ctx. Never fails. */
void am_sse_init(am_sse *p, size_t max_event, am_sse_event_fn fn, void *ctx);

/* Feeds the next len bytes of the stream (len may be 0). Dispatches every
 * event the bytes complete, in order. Returns 0, or -1 with err when a line
 * or event is too long, the callback stopped, or an earlier call failed. */
int am_sse_feed(am_sse *p, const char *buf, size_t len, am_err *err);

/* At end of stream: reports whether an event was started but never ended by
 * a blank line (such an event is discarded, as the standard says). */
bool am_sse_pending(const am_sse *p);

/* Frees the buffers; p may be re-initialised afterwards. */
void am_sse_free(am_sse *p);

#endif
