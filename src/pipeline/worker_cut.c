/* worker_cut: an answer cut short after the provider began it.
 *
 * Once a stream's message_start has arrived the call is billed: its input
 * as message_start reported it, and the output generated until the cut. So
 * a stream that breaks off, errs or times out after message_start, or that
 * is cancelled then (a user's cancel, a signal, a stop), is recorded like
 * an answer - priced, settled against its budget reservation and the
 * limiter, one ledger row - but flagged `estimated`, and its job ends
 * there (never sent again: a second call would be paid again, and the
 * ledger keeps one row per job). A cut before message_start charges
 * nothing and follows the usual path (a retry, a failure, a cancel).
 *
 * The output count: the provider's last cumulative output_tokens, when a
 * message_delta carried one, else what message_start said (usually 1);
 * but never less than an estimate from the text that arrived, one token
 * per EST_BYTES_PER_TOKEN bytes rounded up (at most the request's
 * max_tokens). Text in English runs at about
 * four bytes a token, so three over-counts: an estimate of spend should
 * err towards more, not less.
 *
 * The same holds for the calls aimeter itself abandons when it stops
 * (wk_abandon_flight). */
#include "worker_int.h"

enum { EST_BYTES_PER_TOKEN = 3 };

bool wk_cut_short(const wjob *j, const am_prov_result *r)
{
	(void)j;
	return r->err != AM_PERR_NONE && r->stream && r->started;
}

void wk_estimate_cut(const wjob *j, am_prov_result *r)
{
	int64_t len = (int64_t)r->text_len;
	int64_t from_text = len / EST_BYTES_PER_TOKEN + (len % EST_BYTES_PER_TOKEN != 0);
	/* The model never writes past the request's max_tokens. */
	int64_t max = json_int(j->body, "max_tokens", 0);
	if (max > 0 && from_text > max)
		from_text = max;
	if (r->usage.output_tokens < from_text)
		r->usage.output_tokens = from_text;
}

/* Stopping with calls still on the wire (after the grace): they are
 * cancelled here, while the worker can still record, so that a stream the
 * provider had begun leaves its estimated row instead of vanishing (and
 * being paid again when its job is re-sent). The calls that had not begun
 * cost nothing: wk_on_call_done leaves their jobs in flight, and teardown
 * puts them back to queued for the next start. */
void wk_abandon_flight(am_worker *w)
{
	if (!w->flight.n || !w->tp.ops)
		return;
	w->abandoning = true;
	for (wjob *j = w->flight.head; j; j = j->next)
		if (j->xfer)
			w->tp.ops->cancel(w->tp.ctx, j->xfer);
	/* The transport reports the cancelled calls at its next run. */
	for (int i = 0; i < 8 && w->flight.n; i++)
		wk_tp_run(w, 0);
	wk_flush_writes(w);
}
