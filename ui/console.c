/* console: transcript entries, the jobs they belong to, and the exchanges
 * of the current conversation.
 *
 * An entry is one block of text of one kind. A prompt makes four at once
 * (spacer, "you", meta, an empty answer) so a job's lines stay together
 * however other jobs interleave; events then rewrite the meta line and grow
 * the answer. Raw answer bytes are kept per job for the next turn; what is
 * painted is their sanitised copy, made incrementally so streamed text split
 * inside a UTF-8 character is not mangled. */
#include "console.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fmt.h"
#include "text.h"
#include "money.h"

struct entry {
	ui_tx_kind kind;
	bool cursor;
	uint64_t seq;
	char *text;
	size_t len, cap;
	int wrap_w, wrap_lines; /* cached line count for width wrap_w; 0 = stale */
};

struct job {
	int64_t id;           /* -1 until the engine accepted it */
	uint64_t meta_seq, ans_seq, sum_seq;
	char model[64], reason[96], status[160];
	char *raw;            /* the answer as received, for the conversation */
	size_t raw_len, raw_cap, san_upto;
	am_text_san san;
	bool truncated;
	bool blocked;
	ui_q_state st;
	char *prompt;         /* as typed, for sending it again */
	char excerpt[UI_Q_EXCERPT];
};

/* A prompt that ended without an answer (queue view). */
struct ended {
	int64_t id;
	ui_q_state st;
	char model[64], why[160], excerpt[UI_Q_EXCERPT];
	char *prompt;
};

struct exchange {
	char *user, *assistant; /* assistant NULL while pending */
	int64_t job_id;
	char *summary;          /* the answer's figures, once it ended */
	int64_t bytes;          /* what its two turns add to a request (ui_json_bytes) */
	int64_t tokens, cost;   /* the context it left, what it cost */
	bool known;             /* cost known */
};

struct ui_console {
	bool ascii;
	struct entry *e;
	int n, cap;
	size_t bytes;
	uint64_t next_seq;
	struct job *jobs[UI_CON_MAX_JOBS];
	int njobs;
	struct exchange ex[UI_CON_MAX_TURNS + 1];
	int nex;
	am_turn turns[2 * (UI_CON_MAX_TURNS + 1)];
	int64_t ctx_tokens, ctx_cost; /* the conversation's context and cost */
	bool ctx_unknown;
	struct ended ended[UI_CON_MAX_ENDED]; /* newest first */
	int nended;
};

ui_console *ui_console_new(bool ascii)
{
	ui_console *c = am_xcalloc(1, sizeof *c);
	c->ascii = ascii;
	c->next_seq = 1;
	return c;
}

static void job_free(struct job *j)
{
	if (j) {
		free(j->raw);
		free(j->prompt);
		free(j);
	}
}

static void exchange_drop(ui_console *c, int i)
{
	free(c->ex[i].user);
	free(c->ex[i].assistant);
	free(c->ex[i].summary);
	memmove(&c->ex[i], &c->ex[i + 1], (size_t)(c->nex - i - 1) * sizeof c->ex[0]);
	c->nex--;
}

void ui_console_free(ui_console *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->n; i++)
		free(c->e[i].text);
	free(c->e);
	for (int i = 0; i < c->njobs; i++)
		job_free(c->jobs[i]);
	while (c->nex)
		exchange_drop(c, c->nex - 1);
	for (int i = 0; i < c->nended; i++)
		free(c->ended[i].prompt);
	free(c);
}

/* ---- entries -------------------------------------------------------------- */

static void trim_oldest(ui_console *c)
{
	int drop = c->n / 8 + 1;
	if (drop > c->n)
		drop = c->n;
	for (int i = 0; i < drop; i++) {
		c->bytes -= c->e[i].cap;
		free(c->e[i].text);
	}
	memmove(c->e, c->e + drop, (size_t)(c->n - drop) * sizeof c->e[0]);
	c->n -= drop;
}

static struct entry *entry_find(ui_console *c, uint64_t seq)
{
	int lo = 0, hi = c->n - 1;
	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		if (c->e[mid].seq == seq)
			return &c->e[mid];
		if (c->e[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

static uint64_t entry_add(ui_console *c, ui_tx_kind kind)
{
	while (c->n > 0 && (c->n >= UI_CON_MAX_ENTRIES || c->bytes > UI_CON_MAX_BYTES))
		trim_oldest(c);
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->e = am_xrealloc(c->e, (size_t)c->cap * sizeof c->e[0]);
	}
	struct entry *e = &c->e[c->n++];
	memset(e, 0, sizeof *e);
	e->kind = kind;
	e->seq = c->next_seq++;
	e->cap = 16;
	e->text = am_xmalloc(e->cap);
	e->text[0] = '\0';
	c->bytes += e->cap;
	return e->seq;
}

/* Appends untrusted bytes, sanitised. */
static void entry_append(ui_console *c, struct entry *e, const char *s, size_t len, am_text_san *st)
{
	if (!e)
		return;
	size_t need = e->len + 4 * len + 1;
	if (need > e->cap) {
		size_t cap = e->cap;
		while (cap < need)
			cap *= 2;
		c->bytes += cap - e->cap;
		e->text = am_xrealloc(e->text, cap);
		e->cap = cap;
	}
	e->len += am_text_sanitize(s, len, e->text + e->len, c->ascii, st);
	e->wrap_w = 0;
}

static void entry_set(ui_console *c, struct entry *e, const char *s)
{
	if (!e)
		return;
	e->len = 0;
	e->text[0] = '\0';
	entry_append(c, e, s, strlen(s), NULL);
}

void ui_console_add(ui_console *c, ui_tx_kind kind, const char *text)
{
	uint64_t seq = entry_add(c, kind);
	struct entry *e = entry_find(c, seq);
	if (e) /* always: the entry was just added */
		entry_set(c, e, text);
}

/* ---- jobs -------------------------------------------------------------------- */

static struct job *job_find(ui_console *c, int64_t id)
{
	for (int i = 0; i < c->njobs; i++)
		if (c->jobs[i]->id == id)
			return c->jobs[i];
	return NULL;
}

static void job_remove(ui_console *c, struct job *j)
{
	for (int i = 0; i < c->njobs; i++)
		if (c->jobs[i] == j) {
			c->jobs[i] = c->jobs[--c->njobs];
			break;
		}
	job_free(j);
}

static int exchange_find(ui_console *c, int64_t job_id)
{
	for (int i = 0; i < c->nex; i++)
		if (c->ex[i].job_id == job_id && !c->ex[i].assistant)
			return i;
	return -1;
}

void ui_model_short(const char *model, char *buf, size_t n)
{
	const char *m = model;
	if (!strncmp(m, "claude-", 7))
		m += 7;
	size_t len = strlen(m);
	/* A trailing -YYYYMMDD snapshot date says nothing at a glance. */
	if (len > 9 && m[len - 9] == '-') {
		bool date = true;
		for (size_t i = len - 8; i < len; i++)
			date = date && m[i] >= '0' && m[i] <= '9';
		if (date)
			len -= 9;
	}
	snprintf(buf, n, "%.*s", (int)len, m);
}

/* The meta line: model, the reason it was chosen (with_reason), status. */
static void meta_text(const ui_console *c, const struct job *j, bool with_reason, char *line,
                      size_t n)
{
	char model[64];
	const char *dot = c->ascii ? " - " : " \u00b7 ";
	line[0] = '\0';
	if (j->model[0]) {
		ui_model_short(j->model, model, sizeof model);
		snprintf(line, n, "%s%s", model, dot);
	}
	if (with_reason && j->reason[0])
		snprintf(line + strlen(line), n - strlen(line), "%s%s", j->reason, dot);
	snprintf(line + strlen(line), n - strlen(line), "%s", j->status);
}

/* Rewrites the job's meta line and moves the cursor to where text grows. */
static void job_refresh(ui_console *c, struct job *j, bool live)
{
	struct entry *meta = entry_find(c, j->meta_seq);
	struct entry *ans = entry_find(c, j->ans_seq);
	if (meta) {
		char line[512];
		meta_text(c, j, true, line, sizeof line);
		entry_set(c, meta, line);
		meta->cursor = live && (!ans || ans->len == 0);
	}
	if (ans)
		ans->cursor = live && ans->len > 0;
}

static void job_take_delta(ui_console *c, struct job *j, const char *s, size_t len)
{
	if (j->truncated)
		return;
	if (j->raw_len + len > UI_CON_MAX_ANSWER) {
		len = UI_CON_MAX_ANSWER - j->raw_len;
		j->truncated = true;
	}
	if (j->raw_len + len + 1 > j->raw_cap) {
		size_t cap = j->raw_cap ? j->raw_cap : 256;
		while (cap < j->raw_len + len + 1)
			cap *= 2;
		j->raw = am_xrealloc(j->raw, cap);
		j->raw_cap = cap;
	}
	memcpy(j->raw + j->raw_len, s, len);
	j->raw_len += len;
	j->raw[j->raw_len] = '\0';
	/* Paint only whole characters; the rest waits for the next piece. */
	size_t upto = j->raw_len - am_utf8_incomplete_tail(j->raw, j->raw_len);
	struct entry *ans = entry_find(c, j->ans_seq);
	if (ans && upto > j->san_upto)
		entry_append(c, ans, j->raw + j->san_upto, upto - j->san_upto, &j->san);
	j->san_upto = upto;
}

static void job_flush(ui_console *c, struct job *j)
{
	struct entry *ans = entry_find(c, j->ans_seq);
	if (ans && j->raw_len > j->san_upto)
		entry_append(c, ans, j->raw + j->san_upto, j->raw_len - j->san_upto, &j->san);
	j->san_upto = j->raw_len;
	if (ans && j->truncated)
		entry_append(c, ans, " [answer cut at 1 MiB]", 22, NULL);
}

static void san_copy(const char *in, bool ascii, char *out, size_t n);

void ui_excerpt(const char *text, bool ascii, char *out, size_t n)
{
	/* One line: newlines and runs of blanks read as one space. */
	char flat[UI_Q_EXCERPT];
	size_t k = 0;
	bool blank = false;
	for (const char *p = text; *p && k + 1 < sizeof flat; p++) {
		bool b = *p == '\n' || *p == '\r' || *p == '\t' || *p == ' ';
		if (b && (blank || k == 0)) {
			blank = true;
			continue;
		}
		flat[k++] = b ? ' ' : *p;
		blank = b;
	}
	k -= am_utf8_incomplete_tail(flat, k);
	flat[k] = '\0';
	san_copy(flat, ascii, out, n);
}

void ui_console_prompt(ui_console *c, const char *text, am_prompt *p)
{
	if (c->n > 0)
		entry_add(c, UI_TX_SPACER);
	ui_console_add(c, UI_TX_YOU, text);
	struct job *j = am_xcalloc(1, sizeof *j);
	j->id = -1;
	j->meta_seq = entry_add(c, UI_TX_META);
	j->ans_seq = entry_add(c, UI_TX_ANSWER);
	j->sum_seq = entry_add(c, UI_TX_SUMMARY);
	snprintf(j->status, sizeof j->status, "submitting");
	j->st = UI_Q_SUBMITTING;
	j->prompt = am_xstrdup(text);
	ui_excerpt(text, c->ascii, j->excerpt, sizeof j->excerpt);
	if (c->njobs == UI_CON_MAX_JOBS) /* the oldest silent job gives way */
		job_remove(c, c->jobs[0]);
	c->jobs[c->njobs++] = j;
	job_refresh(c, j, true);

	if (c->nex == UI_CON_MAX_TURNS + 1)
		exchange_drop(c, 0);
	int nt = 0;
	for (int i = 0; i < c->nex; i++) {
		if (!c->ex[i].assistant)
			continue; /* still running: its answer cannot be part of this turn */
		c->turns[nt++] = (am_turn){"user", c->ex[i].user};
		c->turns[nt++] = (am_turn){"assistant", c->ex[i].assistant};
	}
	c->ex[c->nex++] = (struct exchange){am_xstrdup(text), NULL, -1, NULL, 0, 0, 0, false};
	c->turns[nt++] = (am_turn){"user", c->ex[c->nex - 1].user};
	memset(p, 0, sizeof *p);
	p->turns = c->turns;
	p->nturns = nt;
	p->stream = true;
}

void ui_console_submitted(ui_console *c, int64_t job_id)
{
	struct job *j = job_find(c, -1);
	int x = exchange_find(c, -1);
	if (j) {
		j->id = job_id;
		j->st = UI_Q_QUEUED;
		snprintf(j->status, sizeof j->status, "queued");
		job_refresh(c, j, true);
	}
	if (x >= 0)
		c->ex[x].job_id = job_id;
}

void ui_console_submit_failed(ui_console *c, const char *error)
{
	struct job *j = job_find(c, -1);
	int x = exchange_find(c, -1);
	if (j) {
		snprintf(j->status, sizeof j->status, "not sent");
		job_refresh(c, j, false);
		struct entry *ans = entry_find(c, j->ans_seq);
		if (ans) {
			ans->kind = UI_TX_ERROR;
			entry_set(c, ans, error);
		}
		job_remove(c, j);
	}
	if (x >= 0)
		exchange_drop(c, x);
}

/* "12 in / 48 out · $0.000252 · 1.2s": a finished call's figures. */
static void done_figures(const ui_console *c, const am_event *ev, char *buf, size_t n)
{
	char in[32], out[32], cost[32], lat[32];
	const char *dot = c->ascii ? " - " : " \u00b7 ";
	fmt_count(in, sizeof in, am_usage_total_input(&ev->usage));
	fmt_count(out, sizeof out, ev->usage.output_tokens);
	if (ev->price_known)
		fmt_money(cost, sizeof cost, ev->cost_pusd);
	else
		snprintf(cost, sizeof cost, "price ?");
	/* A cache hit or a fast local answer would read "0.0s". */
	if (ev->latency_ms < 100)
		snprintf(lat, sizeof lat, "<0.1s");
	else
		fmt_duration_ns(lat, sizeof lat, ev->latency_ms * 1000000);
	/* Cut short: the counts and the cost are estimated. */
	const char *est = ev->estimated ? (c->ascii ? "~" : "\u2248") : "";
	snprintf(buf, n, "%s in / %s%s out%s%s%s%s%s%s", in, est, out, dot, est, cost, dot, lat,
	         ev->cached ? (c->ascii ? " - cached" : " \u00b7 cached") : "");
}

static void status_done(ui_console *c, struct job *j, const am_event *ev)
{
	done_figures(c, ev, j->status, sizeof j->status);
}

/* A call another program sent through the proxy (its reason is "proxy" and
 * its tag): one line with its tag, model and figures. */
static void proxied_line(const ui_console *c, const am_event *ev, char *buf, size_t n)
{
	char fig[160];
	const char *dot = c->ascii ? " - " : " \u00b7 ";
	done_figures(c, ev, fig, sizeof fig);
	snprintf(buf, n, "%s%s%s%s", ev->reason, dot, ev->model, dot);
	size_t used = strlen(buf);
	snprintf(buf + used, n - used, "%s", fig);
}

/* Outside text, sanitised and cut to fit out (n <= 160). */
static void san_copy(const char *in, bool ascii, char *out, size_t n)
{
	char san[4 * 160 + 1];
	size_t len = strlen(in);
	if (n > 160)
		n = 160;
	if (len > n - 1)
		len = n - 1;
	len -= am_utf8_incomplete_tail(in, len);
	len = am_text_sanitize(in, len, san, ascii, NULL);
	if (len > n - 1)
		len = n - 1 - am_utf8_incomplete_tail(san, n - 1); /* whole characters */
	snprintf(out, n, "%.*s", (int)len, san);
}

/* Keeps a prompt that ended without an answer, newest first. */
static void ended_add(ui_console *c, struct job *j, ui_q_state st, const char *why)
{
	if (c->nended == UI_CON_MAX_ENDED)
		free(c->ended[--c->nended].prompt);
	memmove(&c->ended[1], &c->ended[0], (size_t)c->nended * sizeof c->ended[0]);
	c->nended++;
	struct ended *e = &c->ended[0];
	e->id = j->id;
	e->st = st;
	snprintf(e->model, sizeof e->model, "%s", j->model);
	san_copy(why, c->ascii, e->why, sizeof e->why);
	memcpy(e->excerpt, j->excerpt, sizeof e->excerpt);
	e->prompt = j->prompt;
	j->prompt = NULL;
}

int64_t ui_json_bytes(const char *s)
{
	/* The text's bytes, plus what escaping adds: \" \\ \n \r \t \b \f take
	 * two bytes, other controls six (\u00XX). */
	int64_t n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\' || *p == '\n' || *p == '\r' || *p == '\t' || *p == '\b' ||
		    *p == '\f')
			n += 2;
		else if (*p < 0x20 || *p == 0x7f)
			n += 6;
		else
			n++;
	}
	return n;
}

/* A turn's framing in the request: {"role":"assistant","content":""}, */
enum { TURN_FRAMING = 40 };

static int64_t exchange_bytes(const char *user, const char *assistant)
{
	return ui_json_bytes(user) + ui_json_bytes(assistant) + 2 * TURN_FRAMING;
}

int64_t ui_console_context_bytes(const ui_console *c)
{
	int64_t n = 0;
	for (int i = 0; i < c->nex; i++)
		if (c->ex[i].assistant)
			n += c->ex[i].bytes;
	return n + TURN_FRAMING; /* and the new turn's */
}

bool ui_console_event(ui_console *c, const am_event *ev)
{
	char line[512];
	if (ev->kind == AM_EV_NOTICE || ev->kind == AM_EV_ALERT) {
		ui_console_add(c, ev->kind == AM_EV_ALERT ? UI_TX_ALERT : UI_TX_NOTICE,
		               ev->text ? ev->text : "");
		return true;
	}
	struct job *j = job_find(c, ev->job_id);
	if (!j && ev->kind == AM_EV_DONE && !strncmp(ev->reason, "proxy", 5)) {
		proxied_line(c, ev, line, sizeof line);
		ui_console_add(c, UI_TX_NOTICE, line);
		return true;
	}
	if (!j) {
		if (ev->kind != AM_EV_FAILED)
			return false;
		snprintf(line, sizeof line, "job %lld failed: %s", (long long)ev->job_id, ev->error);
		ui_console_add(c, UI_TX_ERROR, line);
		return true;
	}
	if (ev->model[0])
		snprintf(j->model, sizeof j->model, "%s", ev->model);
	if (ev->reason[0])
		snprintf(j->reason, sizeof j->reason, "%s", ev->reason);
	switch (ev->kind) {
	case AM_EV_QUEUED:
		j->st = UI_Q_QUEUED;
		snprintf(j->status, sizeof j->status, "queued");
		break;
	case AM_EV_WAITING:
		j->st = UI_Q_WAITING;
		snprintf(j->status, sizeof j->status, "waiting for %s", ev->text ? ev->text : "a limit");
		break;
	case AM_EV_RETRY:
		j->st = UI_Q_RETRY;
		am_event_retry_text(ev, j->status, sizeof j->status);
		break;
	case AM_EV_BLOCKED:
		j->st = UI_Q_BLOCKED;
		j->blocked = true;
		snprintf(j->status, sizeof j->status, "blocked by the budget%s%s",
		         ev->text ? ": " : "", ev->text ? ev->text : "");
		break;
	case AM_EV_STARTED:
		j->st = UI_Q_SENT;
		j->blocked = false;
		snprintf(j->status, sizeof j->status, "sent, waiting for the answer");
		break;
	case AM_EV_DELTA:
		if (ev->text)
			job_take_delta(c, j, ev->text, strlen(ev->text));
		j->st = UI_Q_STREAMING;
		snprintf(j->status, sizeof j->status, "streaming");
		break;
	case AM_EV_DONE: {
		if (j->raw_len == 0 && ev->text)
			job_take_delta(c, j, ev->text, strlen(ev->text));
		job_flush(c, j);
		status_done(c, j, ev);
		/* The figures again under the answer, where a long one ends. */
		struct entry *sum = entry_find(c, j->sum_seq);
		if (sum && j->raw_len) {
			char t[512];
			snprintf(t, sizeof t, "%s ", c->ascii ? "--" : "\u2514");
			meta_text(c, j, false, t + strlen(t), sizeof t - strlen(t));
			entry_set(c, sum, t);
		}
		int x = exchange_find(c, j->id);
		if (x >= 0) {
			if (j->raw_len) {
				struct exchange *xe = &c->ex[x];
				xe->assistant = j->raw;
				j->raw = NULL;
				c->ctx_tokens = am_usage_total_input(&ev->usage) + ev->usage.output_tokens;
				if (ev->price_known)
					c->ctx_cost += ev->cost_pusd;
				else
					c->ctx_unknown = true;
				if (sum)
					xe->summary = am_xstrndup(sum->text, sum->len);
				xe->tokens = c->ctx_tokens;
				xe->bytes = exchange_bytes(xe->user, xe->assistant);
				xe->cost = ev->price_known ? ev->cost_pusd : 0;
				xe->known = ev->price_known;
			} else {
				exchange_drop(c, x); /* an empty turn would be refused next time */
			}
		}
		job_refresh(c, j, false);
		job_remove(c, j);
		return true;
	}
	case AM_EV_FAILED:
	case AM_EV_CANCELLED: {
		bool failed = ev->kind == AM_EV_FAILED;
		job_flush(c, j);
		snprintf(j->status, sizeof j->status, "%s", failed ? "failed" : "cancelled");
		job_refresh(c, j, false);
		if (failed) {
			if (ev->http_status)
				snprintf(line, sizeof line, "HTTP %d: %s", ev->http_status, ev->error);
			else
				snprintf(line, sizeof line, "%s", ev->error[0] ? ev->error : "failed");
			struct entry *ans = entry_find(c, j->ans_seq);
			if (ans && ans->len == 0) {
				ans->kind = UI_TX_ERROR;
				entry_set(c, ans, line);
			} else {
				ui_console_add(c, UI_TX_ERROR, line);
			}
		}
		int x = exchange_find(c, j->id);
		if (x >= 0)
			exchange_drop(c, x);
		ended_add(c, j, failed ? UI_Q_FAILED : UI_Q_CANCELLED, failed ? line : "cancelled");
		job_remove(c, j);
		return true;
	}
	case AM_EV_ALERT:
	case AM_EV_NOTICE:
		break;
	}
	job_refresh(c, j, true);
	return true;
}

void ui_console_new_conversation(ui_console *c)
{
	/* Running exchanges go too: their answers belong to the old talk. */
	while (c->nex)
		exchange_drop(c, c->nex - 1);
	c->ctx_tokens = c->ctx_cost = 0;
	c->ctx_unknown = false;
}

void ui_console_context(const ui_console *c, int64_t *tokens, int64_t *cost_pusd,
                        bool *price_unknown)
{
	*tokens = c->ctx_tokens;
	*cost_pusd = c->ctx_cost;
	*price_unknown = c->ctx_unknown;
}

int ui_console_turns(const ui_console *c)
{
	int n = 0;
	for (int i = 0; i < c->nex; i++)
		n += c->ex[i].assistant != NULL;
	return n;
}

int ui_console_entries(const ui_console *c)
{
	return c->n;
}

int ui_console_running(const ui_console *c)
{
	return c->njobs;
}

int ui_console_running_ids(const ui_console *c, int64_t *ids, int max)
{
	int n = 0;
	for (int i = 0; i < c->njobs && n < max; i++) {
		int64_t id = c->jobs[i]->id;
		if (id < 0)
			continue;
		/* Insertion sort: ids grow with submission. */
		int k = n++;
		while (k > 0 && ids[k - 1] > id) {
			ids[k] = ids[k - 1];
			k--;
		}
		ids[k] = id;
	}
	return n;
}

/* ---- layout ------------------------------------------------------------------ */

static int wrap_width(const struct entry *e, int width)
{
	/* One cell stays free on the right for the cursor. */
	int w = width - 1 - (e->kind == UI_TX_YOU ? UI_TX_YOU_INDENT : 0);
	return w < 1 ? 1 : w;
}

static size_t shown_len(const struct entry *e)
{
	size_t len = e->len;
	while (len && e->text[len - 1] == '\n')
		len--;
	return len;
}

static int entry_lines(struct entry *e, int width)
{
	if (e->kind == UI_TX_SPACER)
		return 1;
	if (e->len == 0 && !(e->cursor && e->kind != UI_TX_ANSWER))
		return e->kind == UI_TX_ANSWER || e->kind == UI_TX_SUMMARY ? 0 : 1;
	if (e->wrap_w != width) {
		e->wrap_lines = fmt_wrap(e->text, shown_len(e), wrap_width(e, width), NULL, NULL);
		e->wrap_w = width;
	}
	return e->wrap_lines;
}

struct emit {
	ui_tx_cb cb;
	void *ctx;
	const struct entry *e;
	int skip, row, rows, line_no, nlines;
};

static void emit_line(void *ctx, const char *s, size_t len, int cells)
{
	struct emit *m = ctx;
	(void)cells;
	int no = m->line_no++;
	if (no < m->skip || m->row >= m->rows)
		return;
	ui_tx_line l = {m->e->kind, s, len, no == 0, m->e->cursor && no == m->nlines - 1};
	m->cb(m->ctx, m->row++, &l);
}

int ui_console_render(ui_console *c, int width, int rows, int scroll, ui_tx_cb cb, void *ctx)
{
	if (rows <= 0 || width <= 0)
		return 0;
	int total = 0;
	for (int i = 0; i < c->n; i++)
		total += entry_lines(&c->e[i], width);
	int max_scroll = total > rows ? total - rows : 0;
	if (scroll > max_scroll)
		scroll = max_scroll;
	if (scroll < 0)
		scroll = 0;
	/* First line shown, counted from the top of the whole transcript. */
	int first = total - rows - scroll;
	if (first < 0)
		first = 0;
	int at = 0, row = 0;
	for (int i = 0; i < c->n && row < rows; i++) {
		struct entry *e = &c->e[i];
		int nl = entry_lines(e, width);
		if (nl == 0 || at + nl <= first) {
			at += nl;
			continue;
		}
		struct emit m = {cb, ctx, e, first > at ? first - at : 0, row, rows, 0, nl};
		if (e->kind == UI_TX_SPACER || e->len == 0) {
			emit_line(&m, "", 0, 0);
		} else {
			fmt_wrap(e->text, shown_len(e), wrap_width(e, width), emit_line, &m);
		}
		row = m.row;
		at += nl;
	}
	return max_scroll;
}

/* ---- the queue view ----------------------------------------------------------------- */

int ui_console_queue(const ui_console *c, ui_queue_row *rows, int max)
{
	int n = 0;
	/* The running jobs by id (submitting ones, -1, first). */
	int64_t ids[UI_CON_MAX_JOBS];
	int nids = 0;
	for (int i = 0; i < c->njobs; i++)
		ids[nids++] = c->jobs[i]->id;
	for (int a = 1; a < nids; a++)
		for (int b = a; b > 0 && ids[b - 1] > ids[b]; b--) {
			int64_t t = ids[b];
			ids[b] = ids[b - 1];
			ids[b - 1] = t;
		}
	for (int i = 0; i < nids && n < max; i++) {
		const struct job *j = NULL;
		for (int k = 0; k < c->njobs && !j; k++)
			if (c->jobs[k]->id == ids[i])
				j = c->jobs[k];
		if (!j)
			continue; /* every id came from c->jobs: never taken */
		ui_queue_row *r = &rows[n++];
		memset(r, 0, sizeof *r);
		r->id = j->id;
		r->state = j->st;
		snprintf(r->model, sizeof r->model, "%s", j->model);
		san_copy(j->status, c->ascii, r->why, sizeof r->why); /* the engine's words */
		memcpy(r->excerpt, j->excerpt, sizeof r->excerpt);
	}
	for (int i = 0; i < c->nended && n < max; i++) {
		const struct ended *e = &c->ended[i];
		ui_queue_row *r = &rows[n++];
		memset(r, 0, sizeof *r);
		r->id = e->id;
		r->state = e->st;
		snprintf(r->model, sizeof r->model, "%s", e->model);
		snprintf(r->why, sizeof r->why, "%s", e->why);
		memcpy(r->excerpt, e->excerpt, sizeof r->excerpt);
	}
	return n;
}

const char *ui_console_prompt_text(const ui_console *c, int64_t id)
{
	for (int i = 0; i < c->njobs; i++)
		if (c->jobs[i]->id == id)
			return c->jobs[i]->prompt;
	for (int i = 0; i < c->nended; i++)
		if (c->ended[i].id == id)
			return c->ended[i].prompt;
	return NULL;
}

void ui_console_forget_ended(ui_console *c, int64_t id)
{
	for (int i = 0; i < c->nended; i++)
		if (c->ended[i].id == id) {
			free(c->ended[i].prompt);
			memmove(&c->ended[i], &c->ended[i + 1],
			        (size_t)(c->nended - i - 1) * sizeof c->ended[0]);
			c->nended--;
			return;
		}
}

/* ---- what is kept across restarts ------------------------------------------------- */

bool ui_console_exchange_of(const ui_console *c, int64_t job_id, am_memo_exchange *out)
{
	for (int i = 0; i < c->nex; i++) {
		const struct exchange *x = &c->ex[i];
		if (x->job_id == job_id && x->assistant) {
			*out = (am_memo_exchange){x->user, x->assistant, x->summary ? x->summary : "",
			                          x->tokens, x->cost, x->known};
			return true;
		}
	}
	return false;
}

void ui_console_restore(ui_console *c, const am_memo_exchange *x)
{
	if (c->n > 0)
		entry_add(c, UI_TX_SPACER);
	ui_console_add(c, UI_TX_YOU, x->user);
	ui_console_add(c, UI_TX_ANSWER, x->assistant);
	if (x->summary && *x->summary)
		ui_console_add(c, UI_TX_SUMMARY, x->summary);
	if (c->nex == UI_CON_MAX_TURNS + 1)
		exchange_drop(c, 0);
	c->ex[c->nex++] = (struct exchange){am_xstrdup(x->user), am_xstrdup(x->assistant), -2,
	                                    am_xstrdup(x->summary ? x->summary : ""),
	                                    exchange_bytes(x->user, x->assistant), x->tokens,
	                                    x->cost_pusd, x->price_known};
	c->ctx_tokens = x->tokens;
	if (x->price_known)
		c->ctx_cost += x->cost_pusd;
	else
		c->ctx_unknown = true;
}
