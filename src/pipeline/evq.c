/* evq: a growable ring of events behind one mutex, and an eventfd to wake
 * the observer's poll(). */
#include "evq.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct am_evq {
	pthread_mutex_t mu;
	am_event *ring;
	int cap, head, len;
	int soft_cap;
	int fd;
	bool armed;     /* the fd was written since the observer last drained */
};

am_evq *am_evq_new(int soft_cap, am_err *err)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (fd < 0) {
		am_err_set(err, "cannot create the wake-up fd: %s", strerror(errno));
		return NULL;
	}
	am_evq *q = am_xcalloc(1, sizeof *q);
	pthread_mutex_init(&q->mu, NULL);
	q->cap = 64;
	q->ring = am_xcalloc((size_t)q->cap, sizeof *q->ring);
	q->soft_cap = soft_cap > 0 ? soft_cap : 4096;
	q->fd = fd;
	return q;
}

void am_evq_free(am_evq *q)
{
	if (!q)
		return;
	for (int i = 0; i < q->len; i++)
		am_event_free(&q->ring[(q->head + i) % q->cap]);
	free(q->ring);
	close(q->fd);
	pthread_mutex_destroy(&q->mu);
	free(q);
}

static void wake(const am_evq *q)
{
	uint64_t one = 1;
	/* EAGAIN means the counter is already non-zero: the observer will wake. */
	if (write(q->fd, &one, sizeof one) < 0 && errno != EAGAIN)
		return;
}

static am_event *at(am_evq *q, int i)
{
	return &q->ring[(q->head + i) % q->cap];
}

/* Appends ev's text to the newest pending delta of the same job; false when
 * there is none. */
static int merge_delta(am_evq *q, am_event *ev)
{
	for (int i = q->len - 1; i >= 0; i--) {
		am_event *e = at(q, i);
		if (e->job_id != ev->job_id)
			continue;
		if (e->kind != AM_EV_DELTA)
			return 0;
		size_t a = e->text ? strlen(e->text) : 0, b = ev->text ? strlen(ev->text) : 0;
		e->text = am_xrealloc(e->text, a + b + 1);
		memcpy(e->text + a, ev->text ? ev->text : "", b + 1);
		am_event_free(ev);
		return 1;
	}
	return 0;
}

static void grow(am_evq *q)
{
	int ncap = q->cap * 2;
	am_event *n = am_xcalloc((size_t)ncap, sizeof *n);
	for (int i = 0; i < q->len; i++)
		n[i] = *at(q, i);
	free(q->ring);
	q->ring = n;
	q->cap = ncap;
	q->head = 0;
}

/* The fd is written once per drain, by the first push that wants a wake
 * after it: later pushes find the observer already woken (or about to be)
 * and not yet drained. A call's progress events and its answer, pushed
 * microseconds apart, then cost one write(2) and one wake-up. */
static void push(am_evq *q, am_event *ev, bool wake_now)
{
	pthread_mutex_lock(&q->mu);
	if (!(ev->kind == AM_EV_DELTA && q->len >= q->soft_cap && merge_delta(q, ev))) {
		if (q->len == q->cap)
			grow(q);
		*at(q, q->len) = *ev;
		q->len++;
	}
	ev->text = NULL;
	bool need = wake_now && !q->armed;
	if (need)
		q->armed = true;
	pthread_mutex_unlock(&q->mu);
	if (need)
		wake(q);
}

void am_evq_push(am_evq *q, am_event *ev)
{
	push(q, ev, true);
}

void am_evq_push_lazy(am_evq *q, am_event *ev)
{
	push(q, ev, false);
}

void am_evq_pushf(am_evq *q, am_event_kind kind, int64_t job_id, const char *fmt, ...)
{
	am_event ev;
	memset(&ev, 0, sizeof ev);
	ev.kind = kind;
	ev.job_id = job_id;
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	ev.text = am_xstrdup(buf);
	am_evq_push(q, &ev);
}

int am_evq_drain(am_evq *q, am_event *out, int max)
{
	uint64_t v;
	while (read(q->fd, &v, sizeof v) > 0)
		;
	pthread_mutex_lock(&q->mu);
	q->armed = false;
	int n = 0;
	while (n < max && q->len > 0) {
		out[n++] = *at(q, 0);
		memset(at(q, 0), 0, sizeof(am_event));
		q->head = (q->head + 1) % q->cap;
		q->len--;
	}
	int left = q->len;
	if (left)
		q->armed = true;
	pthread_mutex_unlock(&q->mu);
	if (left)
		wake(q);
	return n;
}

void am_evq_signal(am_evq *q)
{
	wake(q);
}

int am_evq_fd(const am_evq *q)
{
	return q->fd;
}

int am_evq_pending(am_evq *q)
{
	pthread_mutex_lock(&q->mu);
	int n = q->len;
	pthread_mutex_unlock(&q->mu);
	return n;
}
