/* evq: the worker's outbox to its observer: a queue of am_event plus a wake
 * fd (an eventfd) that becomes readable whenever there is something new.
 *
 * Threads: any thread may push (the worker does); one observer thread
 * drains. Pushing never blocks beyond a short mutex and never waits for the
 * observer. Bounded: past `soft_cap` queued events, text deltas are merged
 * into the newest pending delta of the same job instead of queued, so a
 * stalled observer costs at most the text it has not read yet (which the
 * client bounds per response); other events (a handful per job, and jobs are
 * bounded by the queue's capacity) are always kept, so no completion is
 * ever lost. */
#ifndef AIMETER_EVQ_H
#define AIMETER_EVQ_H

#include "engine.h"
#include "err.h"

typedef struct am_evq am_evq;

/* NULL + err when the eventfd cannot be created. */
am_evq *am_evq_new(int soft_cap, am_err *err);
void am_evq_free(am_evq *q);

/* Takes ownership of ev->text (ev->text is set to NULL). */
void am_evq_push(am_evq *q, am_event *ev);

/* Queues ev without waking the observer: it comes with the next wake (a
 * push, a drain that leaves events, am_evq_signal). For progress the
 * observer can learn a moment later (the worker signals a snapshot at
 * least every 100 ms while anything changes). */
void am_evq_push_lazy(am_evq *q, am_event *ev);

/* Convenience: push an event of `kind` for `job_id` with a formatted text. */
void am_evq_pushf(am_evq *q, am_event_kind kind, int64_t job_id, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Moves up to max events into out, oldest first; returns the count. Also
 * clears the wake fd. The caller frees each with am_event_free. */
int am_evq_drain(am_evq *q, am_event *out, int max);

/* Wakes the observer without an event (a new snapshot, say). */
void am_evq_signal(am_evq *q);

/* The readable-when-new fd. Owned by the queue. */
int am_evq_fd(const am_evq *q);

int am_evq_pending(am_evq *q);

#endif
