/* control: input lines and hotkeys become engine commands and prompts;
 * engine snapshots and events become reaction bits and console lines.
 *
 * The -/+ keys step each pool's own limit (a pool-wide /rpm would flatten
 * pools with different limits), and the budget keys step to whole cents so
 * the figures stay readable; a step the other way right after one goes
 * back to where it started (100 -> 90 -> 100). What a command or key did,
 * or why it was refused, goes to the status line, not the conversation. */
#include "control.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "money.h"

static const char *const builtin_models[] = {"claude-haiku-4-5", "claude-sonnet-4-5",
                                             "claude-opus-4-5"};

void ui_ctl_init(ui_ctl *c, const am_engine_ops *ops, bool ascii, const char *const *models,
                 int nmodels)
{
	memset(c, 0, sizeof *c);
	c->ops = ops;
	c->con = ui_console_new(ascii);
	c->models = models ? models : builtin_models;
	c->nmodels = models ? nmodels : (int)(sizeof builtin_models / sizeof builtin_models[0]);
}

void ui_ctl_done(ui_ctl *c)
{
	ui_console_free(c->con);
	c->con = NULL;
}

void ui_ctl_status(ui_ctl *c, ui_role role, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->status, sizeof c->status, fmt, ap);
	va_end(ap);
	c->status_role = role;
	c->status_seq++;
}

#define SAME(a, b, field) (!memcmp(&(a)->field, &(b)->field, sizeof (a)->field))

static unsigned snapshot_diff(const am_snapshot *o, const am_snapshot *n)
{
	unsigned d = 0;
	if (!SAME(o, n, simulator) || !SAME(o, n, endpoint) || !SAME(o, n, model_mode) ||
	    !SAME(o, n, paused) || !SAME(o, n, queue_depth) || !SAME(o, n, in_flight) ||
	    !SAME(o, n, waiting_limit) || !SAME(o, n, cache.enabled) || !SAME(o, n, cache.hits) ||
	    !SAME(o, n, cache.misses) || !SAME(o, n, budget.blocked_jobs))
		d |= UI_R_HEADER;
	if (!SAME(o, n, budget) || !SAME(o, n, ntags) || !SAME(o, n, tag))
		d |= UI_R_BUDGET;
	if (!SAME(o, n, npools) || !SAME(o, n, pool) || !SAME(o, n, queue_depth) ||
	    !SAME(o, n, in_flight))
		d |= UI_R_LIMITS;
	if (!SAME(o, n, nmodels) || !SAME(o, n, model) || !SAME(o, n, total))
		d |= UI_R_MODELS;
	if (!SAME(o, n, cache))
		d |= UI_R_CACHE;
	if (o->nmodels != n->nmodels || o->npools != n->npools || (o->ntags > 0) != (n->ntags > 0) ||
	    (n->npools && o->pool[0].ndims != n->pool[0].ndims))
		d |= UI_R_LAYOUT;
	return d;
}

unsigned ui_ctl_pump(ui_ctl *c, int max_events)
{
	unsigned d = 0;
	am_snapshot n;
	memset(&n, 0, sizeof n);
	c->ops->snapshot(c->ops->ctx, &n);
	if (!c->have_snap) {
		d |= UI_R_PANELS | UI_R_LAYOUT;
		c->have_snap = true;
	} else if (n.seq != c->snap.seq) {
		d |= snapshot_diff(&c->snap, &n);
	}
	c->snap = n;

	am_event ev[16];
	c->more = false;
	while (max_events > 0) {
		int want = max_events < 16 ? max_events : 16;
		int got = c->ops->drain(c->ops->ctx, ev, want);
		if (got <= 0)
			break;
		for (int i = 0; i < got; i++) {
			if (ui_console_event(c->con, &ev[i]))
				d |= UI_R_CONSOLE;
			am_memo_exchange x;
			/* An exchange that ended is kept for the next start. */
			if (ev[i].kind == AM_EV_DONE && c->ops->remember &&
			    ui_console_exchange_of(c->con, ev[i].job_id, &x)) {
				am_err err;
				c->ops->remember(c->ops->ctx, AM_MEMO_EXCHANGE, NULL, &x, &err);
			}
			am_event_free(&ev[i]);
		}
		max_events -= got;
		if (got < want)
			break;
		c->more = max_events == 0;
	}
	return d;
}

/* Sends one command; on refusal the status line says why. Returns 0 when
 * it was taken. */
static int send_cmd(ui_ctl *c, const am_command *cmd)
{
	am_err err = {0};
	if (c->ops->command(c->ops->ctx, cmd, &err)) {
		ui_ctl_status(c, UI_ROLE_ALARM, "%s", err.msg[0] ? err.msg : "the engine refused");
		return -1;
	}
	return 0;
}

static unsigned apply(ui_ctl *c, const am_command *cmd, const char *done_msg)
{
	if (!send_cmd(c, cmd) && done_msg)
		ui_ctl_status(c, UI_ROLE_CALM, "%s", done_msg);
	/* The panels change when the engine's next snapshot says so. */
	return UI_R_HINTS;
}

static unsigned submit(ui_ctl *c, const char *text)
{
	am_prompt p;
	am_err err = {0};
	int64_t id = -1;
	ui_console_prompt(c->con, text, &p);
	p.system = c->system;
	p.tag = c->tag[0] ? c->tag : NULL;
	if (c->ops->submit(c->ops->ctx, &p, &id, &err))
		ui_console_submit_failed(c->con, err.msg[0] ? err.msg : "the queue refused the prompt");
	else
		ui_console_submitted(c->con, id);
	return UI_R_CONSOLE;
}

/* What a command did, in words, for the console. */
static void done_message(const ui_cmd *cmd, char *msg, size_t n)
{
	const am_command *e = &cmd->engine;
	char v[48], where[64];
	snprintf(where, sizeof where, e->pool[0] ? "pool %s" : "every pool", e->pool);
	switch (e->kind) {
#define SET_DIM_CASE(id, key, label, unit, what) case AM_CMD_SET_##id:
	AM_DIMS(SET_DIM_CASE)
#undef SET_DIM_CASE
		fmt_count(v, sizeof v, e->value);
		if (e->value == 0)
			snprintf(v, sizeof v, "none");
		snprintf(msg, n, "%s limit %s%s for %s (saved)",
		         am_dim_info_of((am_dim)am_cmd_limit_dim(e->kind))->label, v,
		         e->value ? " per minute" : " (unlimited)", where);
		break;
	case AM_CMD_SET_BUDGET_DAY:
	case AM_CMD_SET_BUDGET_MONTH:
		fmt_money_limit(v, sizeof v, e->value);
		if (e->value == 0)
			snprintf(msg, n, "%s budget removed (saved)",
			         e->kind == AM_CMD_SET_BUDGET_DAY ? "daily" : "monthly");
		else
			snprintf(msg, n, "%s budget %s (saved)",
			         e->kind == AM_CMD_SET_BUDGET_DAY ? "daily" : "monthly", v);
		break;
	case AM_CMD_SET_TAG_BUDGET:
		fmt_money_limit(v, sizeof v, e->value);
		if (e->value == 0)
			snprintf(msg, n, "tag %s: its own daily limit removed (saved)", e->text);
		else
			snprintf(msg, n, "tag %s: daily limit %s (saved)", e->text, v);
		break;
	case AM_CMD_SET_ALERT_PCT:
		snprintf(msg, n, "budget alert at %lld%% (saved)", (long long)e->value);
		break;
	case AM_CMD_CANCEL_JOB:
		snprintf(msg, n, "job %lld cancelled", (long long)e->value);
		break;
	case AM_CMD_SET_MODEL:
		snprintf(msg, n, strcmp(e->text, "auto") ? "model pinned to %s (saved)"
		                                         : "model: %s, the selector chooses (saved)",
		         e->text);
		break;
	case AM_CMD_CACHE_ON:
		snprintf(msg, n, "cache on (saved)");
		break;
	case AM_CMD_CACHE_OFF:
		snprintf(msg, n, "cache off (saved)");
		break;
	case AM_CMD_CACHE_CLEAR:
		snprintf(msg, n, "cache cleared");
		break;
	case AM_CMD_PAUSE:
		snprintf(msg, n, "paused: prompts wait in the queue (/resume)");
		break;
	case AM_CMD_RESUME:
		snprintf(msg, n, "resumed: sending again");
		break;
	}
}

/* /cancel: the last running prompt, or all of them. The console marks
 * each "cancelled" when the engine says it is. */
static unsigned cancel(ui_ctl *c, bool all)
{
	int64_t ids[UI_CON_MAX_JOBS];
	int n = ui_console_running_ids(c->con, ids, UI_CON_MAX_JOBS), done = 0;
	if (n == 0) {
		ui_ctl_status(c, UI_ROLE_WARN, "no prompt is queued, waiting or running");
		return UI_R_HINTS;
	}
	for (int i = all ? 0 : n - 1; i < n; i++) {
		am_command cmd = {.kind = AM_CMD_CANCEL_JOB, .value = ids[i]};
		if (send_cmd(c, &cmd))
			return UI_R_HINTS;
		done++;
	}
	if (done == 1)
		ui_ctl_status(c, UI_ROLE_CALM, "cancelling job %lld", (long long)ids[n - 1]);
	else
		ui_ctl_status(c, UI_ROLE_CALM, "cancelling %d prompts", done);
	return UI_R_HINTS;
}

/* Whether job id is still running (submitted, not answered or ended). */
static bool job_running(const ui_ctl *c, int64_t id)
{
	int64_t ids[UI_CON_MAX_JOBS];
	int n = ui_console_running_ids(c->con, ids, UI_CON_MAX_JOBS);
	for (int i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

unsigned ui_ctl_cancel_job(ui_ctl *c, int64_t id)
{
	if (id < 0 || !job_running(c, id)) {
		ui_ctl_status(c, UI_ROLE_WARN, "job %lld is not queued, waiting or running",
		              (long long)id);
		return UI_R_HINTS;
	}
	am_command cmd = {.kind = AM_CMD_CANCEL_JOB, .value = id};
	if (send_cmd(c, &cmd) == 0)
		ui_ctl_status(c, UI_ROLE_CALM, "cancelling job %lld", (long long)id);
	return UI_R_HINTS;
}

unsigned ui_ctl_retry_job(ui_ctl *c, int64_t id)
{
	const char *text = id >= 0 ? ui_console_prompt_text(c->con, id) : NULL;
	if (!text) {
		ui_ctl_status(c, UI_ROLE_WARN, "job %lld has no prompt to send again", (long long)id);
		return UI_R_HINTS;
	}
	char *copy = am_xstrdup(text);
	if (job_running(c, id)) {
		am_command cmd = {.kind = AM_CMD_CANCEL_JOB, .value = id};
		if (send_cmd(c, &cmd)) {
			free(copy);
			return UI_R_HINTS;
		}
	} else {
		ui_console_forget_ended(c->con, id);
	}
	int before = ui_console_running(c->con);
	unsigned r = submit(c, copy);
	free(copy);
	int64_t ids[UI_CON_MAX_JOBS];
	int n = ui_console_running_ids(c->con, ids, UI_CON_MAX_JOBS);
	if (ui_console_running(c->con) > before && n > 0)
		ui_ctl_status(c, UI_ROLE_CALM, "job %lld sent again as job %lld", (long long)id,
		              (long long)ids[n - 1]);
	return r | UI_R_HINTS;
}

void ui_ctl_remember_input(ui_ctl *c, const char *line)
{
	am_err err;
	if (c->ops->remember && line[strspn(line, " \t\n")])
		c->ops->remember(c->ops->ctx, AM_MEMO_INPUT, line, NULL, &err);
}

struct recall {
	ui_ctl *c;
	void (*input)(void *ctx, const char *line);
	void *ctx;
	int nex;
};

static void recall_input(void *cb, const char *line)
{
	struct recall *r = cb;
	r->input(r->ctx, line);
}

static void recall_exchange(void *cb, const am_memo_exchange *x)
{
	struct recall *r = cb;
	ui_console_restore(r->c->con, x);
	r->nex++;
}

void ui_ctl_recall(ui_ctl *c, void (*input)(void *ctx, const char *line), void *ctx)
{
	struct recall r = {c, input, ctx, 0};
	if (!c->ops->recall || !c->ops->recall(c->ops->ctx, recall_input, recall_exchange, &r))
		return;
	if (r.nex)
		ui_console_add(c->con, UI_TX_NOTICE,
		               "the last conversation, kept from the previous run: it goes on from "
		               "here (/new starts afresh)");
}

unsigned ui_ctl_line(ui_ctl *c, const char *line)
{
	ui_cmd cmd;
	am_err err = {0};
	const char *p = line;
	while (*p == ' ')
		p++;
	if (!*p)
		return 0;
	if (!ui_cmd_is_command(p))
		return submit(c, p[0] == '/' ? p + 1 : p); /* "//x" sends "/x" */
	if (ui_cmd_parse(p, &cmd, &err)) {
		ui_ctl_status(c, UI_ROLE_ALARM, "%s", err.msg);
		return UI_R_HINTS;
	}
	switch (cmd.id) {
	case UI_CMD_HELP:
		return UI_R_HELP;
	case UI_CMD_QUIT:
		return UI_R_QUIT;
	case UI_CMD_CANCEL:
		return cancel(c, cmd.engine.value != 0);
	case UI_CMD_TAG:
		snprintf(c->tag, sizeof c->tag, "%s", cmd.engine.text);
		if (c->tag[0])
			ui_ctl_status(c, UI_ROLE_CALM, "prompts are tagged %s from now on (/tag: none)",
			              c->tag);
		else
			ui_ctl_status(c, UI_ROLE_CALM, "prompts are untagged from now on");
		return UI_R_HINTS;
	case UI_CMD_QUEUE:
		return UI_R_QUEUE;
	case UI_CMD_NEW:
		ui_console_new_conversation(c->con);
		if (c->ops->remember) {
			am_err e;
			c->ops->remember(c->ops->ctx, AM_MEMO_FORGET, NULL, NULL, &e);
		}
		ui_ctl_status(c, UI_ROLE_CALM, "new conversation: earlier turns are not sent");
		return UI_R_CONSOLE | UI_R_HINTS;
	default:
		break;
	}
	char msg[300];
	done_message(&cmd, msg, sizeof msg);
	return apply(c, &cmd.engine, msg);
}

/* The value a -/+ key moves `from` to: 10% down or up, or back to where
 * the last step of this setting started when this one goes the other way
 * from where it ended, so steps undo each other exactly. */
static int64_t step_value(ui_ctl *c, am_cmd_kind kind, const char *pool, int64_t from, bool up,
                          bool *undo)
{
	for (int i = 0; i < c->nsteps; i++) {
		const struct ui_step *s = &c->steps[i];
		if (s->kind == kind && !strcmp(s->pool, pool) && s->to == from &&
		    (up ? s->from > s->to : s->from < s->to)) {
			*undo = true;
			return s->from;
		}
	}
	*undo = false;
	return up ? ui_step_up(from) : ui_step_down(from);
}

static void step_remember(ui_ctl *c, am_cmd_kind kind, const char *pool, int64_t from, int64_t to)
{
	int i = 0;
	while (i < c->nsteps && !(c->steps[i].kind == kind && !strcmp(c->steps[i].pool, pool)))
		i++;
	if (i == UI_CTL_STEPS)
		i = 0; /* full: the oldest memory goes (a step still works, it only rounds) */
	else if (i == c->nsteps)
		c->nsteps++;
	c->steps[i].kind = kind;
	snprintf(c->steps[i].pool, sizeof c->steps[i].pool, "%s", pool);
	c->steps[i].from = from;
	c->steps[i].to = to;
}

/* Steps one per-minute dimension of every pool that has it; the status
 * line lists every pool's step in one line. */
static unsigned step_dim(ui_ctl *c, const char *dim, am_cmd_kind kind, bool up)
{
	char msg[sizeof c->status];
	int changed = 0;
	snprintf(msg, sizeof msg, "%s limit per minute:", dim);
	for (int i = 0; i < c->snap.npools; i++) {
		const am_snap_pool *pl = &c->snap.pool[i];
		for (int k = 0; k < pl->ndims && k < AM_SNAP_MAX_DIMS; k++) {
			if (strcmp(pl->dim[k].name, dim))
				continue;
			am_command cmd = {.kind = kind, .persist = true};
			int64_t from = pl->dim[k].limit;
			bool undo;
			cmd.value = step_value(c, kind, pl->name, from, up, &undo);
			snprintf(cmd.pool, sizeof cmd.pool, "%s", pl->name);
			if (send_cmd(c, &cmd))
				return UI_R_HINTS;
			step_remember(c, kind, pl->name, from, cmd.value);
			char a[32], b[32];
			fmt_count(a, sizeof a, from);
			fmt_count(b, sizeof b, cmd.value);
			size_t len = strlen(msg);
			snprintf(msg + len, sizeof msg - len, "%s %s %s -> %s", changed ? "," : "",
			         pl->name, a, b);
			changed++;
		}
	}
	if (!changed)
		ui_ctl_status(c, UI_ROLE_ALARM, "no pool has an %s limit to change yet", dim);
	else
		ui_ctl_status(c, UI_ROLE_CALM, "%s (saved)", msg);
	return UI_R_HINTS;
}

static unsigned step_budget(ui_ctl *c, bool up)
{
	const int64_t cent = AM_PUSD_PER_USD / 100;
	int64_t from = c->snap.budget.day_limit_pusd;
	if (from <= 0) {
		ui_ctl_status(c, UI_ROLE_ALARM, "no daily budget is set: use /budget USD");
		return UI_R_HINTS;
	}
	bool undo;
	int64_t to = step_value(c, AM_CMD_SET_BUDGET_DAY, "", from, up, &undo);
	if (!undo) {
		to = (to + cent / 2) / cent * cent;
		if (to == from)
			to = up ? from + cent : from - cent;
		if (to < cent)
			to = cent;
	}
	am_command cmd = {.kind = AM_CMD_SET_BUDGET_DAY, .value = to, .persist = true};
	if (send_cmd(c, &cmd))
		return UI_R_HINTS;
	step_remember(c, AM_CMD_SET_BUDGET_DAY, "", from, to);
	char a[32], b[32];
	fmt_money_limit(a, sizeof a, from);
	fmt_money_limit(b, sizeof b, to);
	ui_ctl_status(c, UI_ROLE_CALM, "daily budget %s -> %s (saved)", a, b);
	return UI_R_HINTS;
}

static unsigned cycle_model(ui_ctl *c)
{
	const char *cur = c->snap.model_mode;
	int at = -1; /* -1 = auto */
	for (int i = 0; i < c->nmodels; i++)
		if (!strcmp(cur, c->models[i]))
			at = i;
	am_command cmd = {.kind = AM_CMD_SET_MODEL, .persist = true};
	const char *next = at + 1 < c->nmodels ? c->models[at + 1] : "auto";
	snprintf(cmd.text, sizeof cmd.text, "%s", next);
	char msg[200];
	snprintf(msg, sizeof msg, "model: %s", next);
	return apply(c, &cmd, msg);
}

unsigned ui_ctl_action(ui_ctl *c, ui_act act)
{
	am_command cmd = {.persist = true};
	switch (act) {
	case UI_ACT_HELP:
		return UI_R_HELP;
	case UI_ACT_QUIT:
		return UI_R_QUIT;
	case UI_ACT_SCROLL_UP:
		return UI_R_SCROLL_UP;
	case UI_ACT_SCROLL_DOWN:
		return UI_R_SCROLL_DOWN;
	case UI_ACT_RPM_DOWN: case UI_ACT_RPM_UP:
	case UI_ACT_ITPM_DOWN: case UI_ACT_ITPM_UP:
	case UI_ACT_OTPM_DOWN: case UI_ACT_OTPM_UP: {
		/* down/up pairs in dims.h's order (checked in cmdtab.c) */
		am_dim d = (am_dim)((act - UI_ACT_RPM_DOWN) / 2);
		return step_dim(c, am_dim_info_of(d)->label, (am_cmd_kind)(AM_CMD_SET_RPM + d),
		                (act - UI_ACT_RPM_DOWN) % 2 == 1);
	}
	case UI_ACT_BUDGET_DOWN:
	case UI_ACT_BUDGET_UP:
		return step_budget(c, act == UI_ACT_BUDGET_UP);
	case UI_ACT_PAUSE:
		cmd.kind = c->snap.paused ? AM_CMD_RESUME : AM_CMD_PAUSE;
		return apply(c, &cmd, c->snap.paused ? "resumed: sending again" :
		                                      "paused: prompts wait in the queue");
	case UI_ACT_MODEL:
		return cycle_model(c);
	case UI_ACT_CACHE:
		cmd.kind = c->snap.cache.enabled ? AM_CMD_CACHE_OFF : AM_CMD_CACHE_ON;
		return apply(c, &cmd, c->snap.cache.enabled ? "cache off" : "cache on");
	case UI_ACT_NEW:
		return ui_ctl_line(c, "/new");
	case UI_ACT_QUEUE:
		return UI_R_QUEUE;
	case UI_ACT_NONE:
	case UI_ACT_COUNT:
		break;
	}
	return 0;
}

/* ---- Tab completion -------------------------------------------------------------------- */

enum { COMPLETE_MAX = 64 };

struct words {
	const char *w[COMPLETE_MAX];
	int n;
};

static void word_add(struct words *ws, const char *w)
{
	for (int i = 0; i < ws->n; i++)
		if (!strcmp(ws->w[i], w))
			return;
	if (ws->n < COMPLETE_MAX && w[0])
		ws->w[ws->n++] = w;
}

/* The words the arg-th argument (1-based) of command `name` can be. */
static void arg_words(const ui_ctl *c, const char *name, int arg, struct words *ws)
{
	static const char *const cache_words[] = {"on", "off", "clear"};
	if (!strcmp(name, "model") && arg == 1) {
		word_add(ws, "auto");
		for (int i = 0; i < c->nmodels; i++)
			word_add(ws, c->models[i]);
		for (int i = 0; i < c->snap.nmodels && i < AM_SNAP_MAX_MODELS; i++)
			word_add(ws, c->snap.model[i].model);
	} else if (!strcmp(name, "cache") && arg == 1) {
		for (size_t i = 0; i < sizeof cache_words / sizeof cache_words[0]; i++)
			word_add(ws, cache_words[i]);
	} else if ((!strcmp(name, "rpm") || !strcmp(name, "itpm") || !strcmp(name, "otpm")) &&
	           arg == 2) {
		for (int i = 0; i < c->snap.npools && i < AM_SNAP_MAX_POOLS; i++)
			word_add(ws, c->snap.pool[i].name);
	}
}

bool ui_ctl_complete(ui_ctl *c, const char *line, char *out, size_t n)
{
	static const char *const names[] = {
#define UI_CMD_NAME(id, name, args, help) name,
		UI_COMMANDS(UI_CMD_NAME)
#undef UI_CMD_NAME
	};
	struct words all = {{0}, 0}, fit = {{0}, 0};
	if (!ui_cmd_is_command(line) || strchr(line, '\n'))
		return false;
	while (*line == ' ')
		line++;
	const char *word = strrchr(line, ' ');
	word = word ? word + 1 : line + 1;
	if (word == line + 1) {
		for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
			word_add(&all, names[i]);
	} else {
		char name[32];
		int arg = 0;
		size_t k = 0;
		for (const char *p = line + 1; *p && *p != ' ' && k < sizeof name - 1; p++)
			name[k++] = *p;
		name[k] = '\0';
		for (const char *p = line; p < word; p++)
			arg += p[0] == ' ' && p[1] != ' ';
		arg_words(c, name, arg, &all);
	}
	size_t wl = strlen(word);
	for (int i = 0; i < all.n; i++)
		if (!strncmp(all.w[i], word, wl))
			word_add(&fit, all.w[i]);
	if (fit.n == 0)
		return false;
	/* The longest start every fitting word shares. */
	size_t common = strlen(fit.w[0]);
	for (int i = 1; i < fit.n; i++) {
		size_t j = 0;
		while (j < common && fit.w[i][j] == fit.w[0][j])
			j++;
		common = j;
	}
	if (fit.n > 1) {
		char list[sizeof c->status] = "";
		for (int i = 0; i < fit.n; i++) {
			size_t len = strlen(list);
			snprintf(list + len, sizeof list - len, "%s%s%s", i ? "  " : "",
			         word == line + 1 ? "/" : "", fit.w[i]);
		}
		ui_ctl_status(c, UI_ROLE_DIM, "%s", list);
	}
	if (common == wl && fit.n > 1)
		return false;
	int len = snprintf(out, n, "%.*s%.*s%s", (int)(word - line), line, (int)common, fit.w[0],
	                   fit.n == 1 ? " " : "");
	return len > 0 && (size_t)len < n;
}
