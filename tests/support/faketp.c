/* faketp: a fake transport with scripted answers on a fake clock. */
#include "faketp.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "anthropic.h"
#include "bbuf.h"
#include "err.h"

typedef struct ft_call {
	uint64_t id;
	am_client_cb cb;
	bool stream, cancelled, hang;
	int status;
	char *headers[AM_FT_MAX_LINES];
	int nheaders;
	char *chunks[AM_FT_MAX_LINES + 8];
	int nchunks;
	char *body;
	int64_t t_start, due;
	struct ft_call *next;
} ft_call;

struct am_ft {
	am_clock clock;
	_Atomic int64_t mono;
	int64_t wall0, mono0;
	am_ft_script_fn script;
	void *ctx;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool woken;
	ft_call *calls;          /* started, not reported; start order */
	uint64_t next_id;
	_Atomic int64_t started;
	_Atomic int pending;
	int idle_real_us;
	bool manual;
};

static int64_t ft_mono(void *ctx)
{
	am_ft *f = ctx;
	return atomic_load(&f->mono);
}

static int64_t ft_wall(void *ctx)
{
	am_ft *f = ctx;
	return f->wall0 + (atomic_load(&f->mono) - f->mono0);
}

am_ft *am_ft_new(int64_t mono_ns, int64_t wall_ns, am_ft_script_fn script, void *ctx)
{
	am_ft *f = am_xcalloc(1, sizeof *f);
	f->clock = (am_clock){ ft_mono, ft_wall, f };
	atomic_init(&f->mono, mono_ns);
	f->mono0 = mono_ns;
	f->wall0 = wall_ns;
	f->script = script;
	f->ctx = ctx;
	f->idle_real_us = 1000;
	atomic_init(&f->started, 0);
	atomic_init(&f->pending, 0);
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	return f;
}

static void call_free(ft_call *c)
{
	for (int i = 0; i < c->nheaders; i++)
		free(c->headers[i]);
	for (int i = 0; i < c->nchunks; i++)
		free(c->chunks[i]);
	free(c->body);
	free(c);
}

void am_ft_free(am_ft *f)
{
	if (!f)
		return;
	for (ft_call *c = f->calls, *next; c; c = next) {
		next = c->next;
		call_free(c);
	}
	pthread_mutex_destroy(&f->mu);
	pthread_cond_destroy(&f->cv);
	free(f);
}

const am_clock *am_ft_clock(am_ft *f)
{
	return &f->clock;
}

void am_ft_advance(am_ft *f, int64_t ns)
{
	atomic_fetch_add(&f->mono, ns);
	pthread_mutex_lock(&f->mu);
	f->woken = true;
	pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

void am_ft_set_manual(am_ft *f, bool manual)
{
	f->manual = manual;
}

int64_t am_ft_started(am_ft *f)
{
	return atomic_load(&f->started);
}

int am_ft_pending(am_ft *f)
{
	return atomic_load(&f->pending);
}

void am_ft_set_idle_real_us(am_ft *f, int us)
{
	f->idle_real_us = us;
}

/* ---- answers ------------------------------------------------------------ */

static const char *error_type(int status)
{
	switch (status) {
	case 400: return "invalid_request_error";
	case 401: return "authentication_error";
	case 403: return "permission_error";
	case 404: return "not_found_error";
	case 413: return "request_too_large";
	case 429: return "rate_limit_error";
	case 529: return "overloaded_error";
	default: return "api_error";
	}
}

static json_t *message_json(const am_ft_answer *a, const char *model, const char *text)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:[{s:s, s:s}], s:s, s:n, s:{s:I, s:I}}", "id",
	                 "msg_fake", "type", "message", "role", "assistant", "model", model,
	                 "content", "type", "text", "text", text, "stop_reason",
	                 a->stop_reason ? a->stop_reason : "end_turn", "stop_sequence", "usage",
	                 "input_tokens", (json_int_t)(a->input_tokens ? a->input_tokens : 10),
	                 "output_tokens", (json_int_t)(a->output_tokens ? a->output_tokens : 5));
}

static char *event(const char *name, json_t *data)
{
	char *d = json_dumps(data, JSON_COMPACT);
	json_decref(data);
	size_t n = strlen(name) + strlen(d) + 32;
	char *s = am_xmalloc(n);
	snprintf(s, n, "event: %s\ndata: %s\n\n", name, d);
	free(d);
	return s;
}

/* The events of a streamed Message: start, one text block, delta, stop. */
static void stream_events(ft_call *c, const am_ft_answer *a, const char *model, const char *text)
{
	json_t *m = message_json(a, model, "");
	json_object_set_new(m, "content", json_array());
	json_object_set_new(m, "stop_reason", json_null());
	json_object_set_new(json_object_get(m, "usage"), "output_tokens", json_integer(1));
	c->chunks[c->nchunks++] = event("message_start", json_pack("{s:s, s:o}", "type",
	                                                           "message_start", "message", m));
	c->chunks[c->nchunks++] =
	        event("content_block_start",
	              json_pack("{s:s, s:i, s:{s:s, s:s}}", "type", "content_block_start", "index", 0,
	                        "content_block", "type", "text", "text", ""));
	c->chunks[c->nchunks++] =
	        event("content_block_delta",
	              json_pack("{s:s, s:i, s:{s:s, s:s}}", "type", "content_block_delta", "index", 0,
	                        "delta", "type", "text_delta", "text", text));
	c->chunks[c->nchunks++] = event(
	        "content_block_stop", json_pack("{s:s, s:i}", "type", "content_block_stop", "index", 0));
	c->chunks[c->nchunks++] = event(
	        "message_delta",
	        json_pack("{s:s, s:{s:s, s:n}, s:{s:I}}", "type", "message_delta", "delta",
	                  "stop_reason", a->stop_reason ? a->stop_reason : "end_turn",
	                  "stop_sequence", "usage", "output_tokens",
	                  (json_int_t)(a->output_tokens ? a->output_tokens : 5)));
	c->chunks[c->nchunks++] = event("message_stop", json_pack("{s:s}", "type", "message_stop"));
}

static void make_answer(ft_call *c, const am_ft_call *call, const am_ft_answer *a)
{
	c->status = a->status ? a->status : 200;
	c->hang = a->hang;
	for (int i = 0; i < a->nheaders && i < AM_FT_MAX_LINES; i++)
		c->headers[c->nheaders++] = am_xstrdup(a->headers[i]);
	const char *model = a->model ? a->model : call->model;
	const char *text = a->text ? a->text : "ok";
	bool ok = c->status >= 200 && c->status < 300;
	if (c->stream && ok) {
		if (a->nchunks) {
			for (int i = 0; i < a->nchunks && i < AM_FT_MAX_LINES; i++)
				c->chunks[c->nchunks++] = am_xstrdup(a->chunks[i]);
		} else if (a->body) {
			c->chunks[c->nchunks++] = am_xstrdup(a->body);
		} else {
			stream_events(c, a, model, text);
		}
		return;
	}
	if (a->body) {
		c->body = am_xstrdup(a->body);
		return;
	}
	json_t *j = ok ? message_json(a, model, text)
	               : json_pack("{s:s, s:{s:s, s:s}}", "type", "error", "error", "type",
	                           error_type(c->status), "message",
	                           a->error_message ? a->error_message : "fake error");
	c->body = json_dumps(j, JSON_COMPACT);
	json_decref(j);
}

/* ---- the transport ------------------------------------------------------ */

static uint64_t ft_start(void *ctx, const am_client_req *req, const am_client_cb *cb, am_err *err)
{
	am_ft *f = ctx;
	if (!req->body)
		return am_err_set(err, "fake transport: no body"), 0;
	ft_call *c = am_xcalloc(1, sizeof *c);
	c->cb = *cb;
	c->stream = req->stream;
	c->t_start = atomic_load(&f->mono);
	json_t *rq = json_loadb(req->body, req->body_len ? req->body_len : strlen(req->body), 0, NULL);
	json_t *m = json_object_get(rq, "model");
	json_t *mt = json_object_get(rq, "max_tokens");
	char *body = am_xstrndup(req->body, req->body_len ? req->body_len : strlen(req->body));
	am_ft_call call = { atomic_fetch_add(&f->started, 1) + 1, body,
		            json_is_string(m) ? json_string_value(m) : "", req->stream,
		            json_is_integer(mt) ? (int64_t)json_integer_value(mt) : 0 };
	am_ft_answer a;
	memset(&a, 0, sizeof a);
	a.latency_ns = f->manual ? 0 : AM_NS_PER_MS;
	if (f->script)
		f->script(f->ctx, &call, &a);
	make_answer(c, &call, &a);
	json_decref(rq);
	free(body);
	c->due = c->t_start + a.latency_ns;
	c->id = ++f->next_id;
	/* Keep the list in start order. */
	ft_call **pp = &f->calls;
	while (*pp)
		pp = &(*pp)->next;
	*pp = c;
	atomic_fetch_add(&f->pending, 1);
	return c->id;
}

static int ft_cancel(void *ctx, uint64_t id)
{
	am_ft *f = ctx;
	for (ft_call *c = f->calls; c; c = c->next)
		if (c->id == id && !c->cancelled) {
			c->cancelled = true;
			return 0;
		}
	return -1;
}

static void text_to_cb(void *ctx, const char *text, size_t len)
{
	ft_call *c = ctx;
	if (c->cb.on_text && !c->cancelled)
		c->cb.on_text(c->cb.ctx, text, len);
}

/* Reports c (already off the list), as the client reports a transfer. */
static void deliver(am_ft *f, ft_call *c)
{
	am_prov_result r;
	am_prov_result_init(&r);
	am_prov_headers h;
	am_prov_headers_init(&h);
	char status_line[32];
	snprintf(status_line, sizeof status_line, "HTTP/1.1 %d\r\n", c->status);
	am_prov_headers_line(&h, status_line, strlen(status_line));
	for (int i = 0; i < c->nheaders; i++)
		am_prov_headers_line(&h, c->headers[i], strlen(c->headers[i]));
	am_prov_headers_finish(&h, ft_wall(f));
	bool ok = c->status >= 200 && c->status < 300;
	if (c->cancelled) {
		am_prov_result_fail(&r, AM_PERR_CANCELLED, "cancelled");
	} else {
		if (c->cb.on_headers)
			c->cb.on_headers(c->cb.ctx, c->status, &h.rl);
		if (c->stream && ok) {
			am_prov_stream st;
			am_prov_stream_init(&st, 0, 0, text_to_cb, c);
			am_err err;
			for (int i = 0; i < c->nchunks; i++)
				if (am_prov_stream_feed(&st, c->chunks[i], strlen(c->chunks[i]), &err))
					break;
			am_prov_stream_finish(&st, &r);
			am_prov_stream_free(&st);
			r.stream = true;
		} else {
			am_prov_finish_response(AM_PROV_MESSAGES, c->status, c->body,
			                        c->body ? strlen(c->body) : 0, h.should_retry, &r);
		}
	}
	r.rl = h.rl;
	memcpy(r.request_id, h.request_id, sizeof r.request_id);
	r.http_status = c->cancelled ? 0 : c->status;
	r.latency_ns = atomic_load(&f->mono) - c->t_start;
	atomic_fetch_sub(&f->pending, 1);
	am_client_cb cb = c->cb;
	call_free(c);
	if (cb.on_done)
		cb.on_done(cb.ctx, &r);
	am_prov_result_free(&r);
}

/* Takes the first call that is due or cancelled off the list. */
static ft_call *take_due(am_ft *f, int64_t now)
{
	for (ft_call **pp = &f->calls; *pp; pp = &(*pp)->next) {
		ft_call *c = *pp;
		if (c->cancelled || (!c->hang && c->due <= now)) {
			*pp = c->next;
			return c;
		}
	}
	return NULL;
}

static int deliver_due(am_ft *f)
{
	int n = 0;
	ft_call *c;
	while ((c = take_due(f, atomic_load(&f->mono)))) {
		deliver(f, c);
		n++;
	}
	return n;
}

static int ft_run(void *ctx, int timeout_ms, am_err *err)
{
	(void)err;
	am_ft *f = ctx;
	if (deliver_due(f))
		return atomic_load(&f->pending);
	if (f->manual) {
		/* Only the test moves time: wait for it, or for a wakeup. */
		pthread_mutex_lock(&f->mu);
		if (!f->woken && timeout_ms > 0) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
			ts.tv_sec += timeout_ms / 1000 + ts.tv_nsec / 1000000000L;
			ts.tv_nsec %= 1000000000L;
			pthread_cond_timedwait(&f->cv, &f->mu, &ts);
		}
		f->woken = false;
		pthread_mutex_unlock(&f->mu);
		deliver_due(f);
		return atomic_load(&f->pending);
	}
	bool answering = false; /* a call is on its way to an answer */
	for (ft_call *c = f->calls; c && !answering; c = c->next)
		answering = !c->hang;
	pthread_mutex_lock(&f->mu);
	bool woken = f->woken;
	f->woken = false;
	if (!woken && timeout_ms > 0 && !answering && f->idle_real_us > 0) {
		/* Nothing will answer: let the other threads run (a submit ends
		 * the wait) before time moves. */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += (long)f->idle_real_us * 1000;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&f->cv, &f->mu, &ts);
		woken = f->woken;
		f->woken = false;
	}
	pthread_mutex_unlock(&f->mu);
	if (woken || timeout_ms <= 0)
		return atomic_load(&f->pending);
	/* The wait passes on the fake clock: up to the first answer due in it. */
	int64_t now = atomic_load(&f->mono);
	int64_t until = now + (int64_t)timeout_ms * AM_NS_PER_MS;
	for (ft_call *c = f->calls; c; c = c->next)
		if (!c->hang && c->due < until)
			until = c->due;
	if (until > now)
		atomic_fetch_add(&f->mono, until - now);
	deliver_due(f);
	return atomic_load(&f->pending);
}

static void ft_wakeup(void *ctx)
{
	am_ft *f = ctx;
	pthread_mutex_lock(&f->mu);
	f->woken = true;
	pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

static void ft_close(void *ctx)
{
	am_ft *f = ctx;
	for (ft_call *c = f->calls; c; c = c->next)
		c->cancelled = true;
	deliver_due(f);
}

am_transport am_ft_transport(am_ft *f)
{
	static const am_transport_ops ops = { ft_start, ft_cancel, ft_run, ft_wakeup, ft_close };
	am_transport t = { &ops, f };
	return t;
}
