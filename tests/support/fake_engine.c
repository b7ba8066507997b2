/* fake_engine: see fake_engine.h. A queue of events in a fixed array, a log
 * of commands, a copy of the last prompt. */
#include "fake_engine.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void signal_wake(fake_engine *f)
{
	char b = 1;
	if (write(f->wake[1], &b, 1) < 0) {
		/* full pipe: already readable */
	}
}

static void clear_turns(fake_engine *f)
{
	for (int i = 0; i < f->nturns; i++) {
		free(f->turn_role[i]);
		free(f->turn_text[i]);
	}
	f->nturns = 0;
}

static int fake_submit(void *ctx, const am_prompt *p, int64_t *job_id, am_err *err)
{
	fake_engine *f = ctx;
	if (f->refuse_submit)
		return am_err_set(err, "%s", f->refuse_submit);
	clear_turns(f);
	for (int i = 0; i < p->nturns && i < FAKE_MAX_TURNS; i++) {
		f->turn_role[i] = am_xstrdup(p->turns[i].role);
		f->turn_text[i] = am_xstrdup(p->turns[i].text);
		f->nturns++;
	}
	f->last_stream = p->stream;
	snprintf(f->last_tag, sizeof f->last_tag, "%s", p->tag ? p->tag : "");
	f->nsubmits++;
	*job_id = ++f->next_id;
	return 0;
}

static void fake_snapshot(void *ctx, am_snapshot *out)
{
	*out = ((fake_engine *)ctx)->snap;
}

static int fake_drain(void *ctx, am_event *out, int max)
{
	fake_engine *f = ctx;
	int n = 0;
	while (n < max && f->nevents > 0) {
		out[n++] = f->events[f->head];
		f->head = (f->head + 1) % FAKE_MAX_EVENTS;
		f->nevents--;
	}
	return n;
}

static int fake_command(void *ctx, const am_command *cmd, am_err *err)
{
	fake_engine *f = ctx;
	if (f->refuse_commands)
		return am_err_set(err, "%s", f->refuse_commands);
	if (f->ncmds < FAKE_MAX_CMDS)
		f->cmds[f->ncmds++] = *cmd;
	return 0;
}

static int fake_wake_fd(void *ctx)
{
	return ((fake_engine *)ctx)->wake[0];
}

void fake_engine_init(fake_engine *f)
{
	memset(f, 0, sizeof *f);
	if (pipe(f->wake))
		abort();
	for (int i = 0; i < 2; i++)
		fcntl(f->wake[i], F_SETFL, fcntl(f->wake[i], F_GETFL) | O_NONBLOCK);
	f->ops = (am_engine_ops){fake_submit, fake_snapshot, fake_drain, fake_command, fake_wake_fd, f};
	f->snap.seq = 1;
	snprintf(f->snap.model_mode, sizeof f->snap.model_mode, "auto");
}

void fake_engine_free(fake_engine *f)
{
	am_event ev;
	while (fake_drain(f, &ev, 1))
		am_event_free(&ev);
	clear_turns(f);
	close(f->wake[0]);
	close(f->wake[1]);
}

void fake_engine_publish(fake_engine *f)
{
	f->snap.seq++;
	signal_wake(f);
}

static am_event *slot(fake_engine *f)
{
	if (f->nevents == FAKE_MAX_EVENTS)
		abort(); /* a test that floods the fake is wrong */
	am_event *ev = &f->events[(f->head + f->nevents++) % FAKE_MAX_EVENTS];
	memset(ev, 0, sizeof *ev);
	return ev;
}

void fake_engine_push(fake_engine *f, am_event_kind kind, int64_t job_id, const char *text)
{
	am_event *ev = slot(f);
	ev->kind = kind;
	ev->job_id = job_id;
	ev->text = text ? am_xstrdup(text) : NULL;
	if (kind == AM_EV_FAILED && text)
		snprintf(ev->error, sizeof ev->error, "%s", text);
	signal_wake(f);
}

void fake_engine_push_done(fake_engine *f, int64_t job_id, const char *model, int64_t in,
                           int64_t out, int64_t cost_pusd, int64_t latency_ms, bool cached)
{
	am_event *ev = slot(f);
	ev->kind = AM_EV_DONE;
	ev->job_id = job_id;
	snprintf(ev->model, sizeof ev->model, "%s", model);
	ev->usage.input_tokens = in;
	ev->usage.output_tokens = out;
	ev->cost_pusd = cost_pusd;
	ev->price_known = true;
	ev->latency_ms = latency_ms;
	ev->cached = cached;
	signal_wake(f);
}

void fake_engine_add_pool(fake_engine *f, const char *name, int64_t rpm, int64_t itpm,
                          int64_t otpm)
{
	if (f->snap.npools == AM_SNAP_MAX_POOLS)
		return;
	am_snap_pool *p = &f->snap.pool[f->snap.npools++];
	memset(p, 0, sizeof *p);
	snprintf(p->name, sizeof p->name, "%s", name);
	static const char *const names[3] = {"RPM", "ITPM", "OTPM"};
	const int64_t lim[3] = {rpm, itpm, otpm};
	p->ndims = 3;
	for (int k = 0; k < 3; k++) {
		snprintf(p->dim[k].name, sizeof p->dim[k].name, "%s", names[k]);
		p->dim[k].level = p->dim[k].capacity = p->dim[k].limit = lim[k];
		p->dim[k].share_ppm = 1000000;
	}
}
