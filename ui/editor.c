/* editor: a readline-like text buffer in wchar_t, grown on demand, with a
 * bounded history. Up/Down walk the history; the text being typed is kept
 * as a draft and comes back after the newest entry, as in shells. */
#include "editor.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fmt.h"
#include "text.h"

struct ui_editor {
	wchar_t *buf;
	int len, cur, cap;
	char *hist[UI_ED_HISTORY];
	int nhist, hpos; /* hpos == nhist: editing the draft */
	char *draft;
};

ui_editor *ui_editor_new(void)
{
	return am_xcalloc(1, sizeof(ui_editor));
}

void ui_editor_free(ui_editor *ed)
{
	if (!ed)
		return;
	for (int i = 0; i < ed->nhist; i++)
		free(ed->hist[i]);
	free(ed->draft);
	free(ed->buf);
	free(ed);
}

/* Room for `more` characters; false when the text would pass UI_ED_MAX. */
static bool reserve(ui_editor *ed, long more)
{
	if (more < 0 || ed->len + more > UI_ED_MAX)
		return false;
	if (ed->len + more > ed->cap || !ed->buf) {
		int cap = ed->cap ? ed->cap : 256;
		while (cap < ed->len + more)
			cap *= 2;
		ed->buf = am_xrealloc(ed->buf, (size_t)cap * sizeof(wchar_t));
		ed->cap = cap;
	}
	return true;
}

static int cells(wchar_t ch)
{
	int w = ch == L'\n' || ch == L'\t' ? 1 : wcwidth(ch);
	return w < 0 ? 1 : w;
}

static bool typable(wchar_t ch)
{
	if (ch == L'\n' || ch == L'\t')
		return true;
	return !(ch < 0x20 || ch == 0x7F || (ch >= 0x80 && ch < 0xA0));
}

/* Opens a gap of k characters at the cursor (room already reserved). */
static void gap(ui_editor *ed, int k)
{
	memmove(ed->buf + ed->cur + k, ed->buf + ed->cur,
	        (size_t)(ed->len - ed->cur) * sizeof(wchar_t));
	ed->len += k;
}

bool ui_editor_insert(ui_editor *ed, wchar_t ch)
{
	if (!typable(ch) || !reserve(ed, 1))
		return false;
	gap(ed, 1);
	ed->buf[ed->cur++] = ch;
	return true;
}

/* Decodes a pasted block into out (may be NULL to count); returns the
 * characters it holds. */
static long paste_chars(const char *s, size_t n, wchar_t *out)
{
	long k = 0;
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		int step = am_utf8_decode(s + i, n - i, &cp);
		i += step ? (size_t)step : 1;
		if (cp == '\r') {
			if (i < n && s[i] == '\n')
				i++;
			cp = '\n';
		}
		if (!typable((wchar_t)cp))
			continue;
		if (out)
			out[k] = (wchar_t)cp;
		k++;
	}
	return k;
}

long ui_editor_insert_text(ui_editor *ed, const char *s, size_t n)
{
	long k = paste_chars(s, n, NULL);
	if (!reserve(ed, k))
		return -1;
	gap(ed, (int)k);
	paste_chars(s, n, ed->buf + ed->cur);
	ed->cur += (int)k;
	return k;
}

static void erase(ui_editor *ed, int from, int to)
{
	memmove(ed->buf + from, ed->buf + to, (size_t)(ed->len - to) * sizeof(wchar_t));
	ed->len -= to - from;
	if (ed->cur > to)
		ed->cur -= to - from;
	else if (ed->cur > from)
		ed->cur = from;
}

static char *to_utf8(const wchar_t *w, int len)
{
	char *s = am_xmalloc((size_t)len * 4 + 1), *p = s;
	for (int i = 0; i < len; i++)
		p += am_utf8_encode((uint32_t)w[i], p);
	*p = '\0';
	return s;
}

static void load(ui_editor *ed, const char *s)
{
	/* History entries were taken from this editor, so they fit. */
	ed->len = ed->cur = 0;
	ui_editor_insert_text(ed, s, strlen(s));
}

/* Where the line holding position `at` starts. */
static int line_start(const ui_editor *ed, int at)
{
	while (at > 0 && ed->buf[at - 1] != L'\n')
		at--;
	return at;
}

static int line_end(const ui_editor *ed, int at)
{
	while (at < ed->len && ed->buf[at] != L'\n')
		at++;
	return at;
}

/* Moves the cursor a line up (dir < 0) or down, to the same column or
 * the line's end; false on the first or last line. */
static bool move_line(ui_editor *ed, int dir)
{
	int ls = line_start(ed, ed->cur), col = ed->cur - ls, to;
	if (dir < 0) {
		if (ls == 0)
			return false;
		to = line_start(ed, ls - 1);
	} else {
		int le = line_end(ed, ed->cur);
		if (le == ed->len)
			return false;
		to = le + 1;
	}
	int end = line_end(ed, to);
	ed->cur = to + col < end ? to + col : end;
	return true;
}

bool ui_editor_op(ui_editor *ed, ui_ed_op op)
{
	int c = ed->cur;
	switch (op) {
	case UI_ED_UP:
		return move_line(ed, -1) || ui_editor_op(ed, UI_ED_HIST_PREV);
	case UI_ED_DOWN:
		return move_line(ed, 1) || ui_editor_op(ed, UI_ED_HIST_NEXT);
	case UI_ED_LEFT:
		ed->cur = c > 0 ? c - 1 : 0;
		break;
	case UI_ED_RIGHT:
		ed->cur = c < ed->len ? c + 1 : c;
		break;
	case UI_ED_HOME:
		ed->cur = 0;
		break;
	case UI_ED_END:
		ed->cur = ed->len;
		break;
	case UI_ED_BACKSPACE:
		if (c == 0)
			return false;
		erase(ed, c - 1, c);
		return true;
	case UI_ED_DELETE:
		if (c == ed->len)
			return false;
		erase(ed, c, c + 1);
		return true;
	case UI_ED_KILL_LINE:
		if (c == 0)
			return false;
		erase(ed, 0, c);
		return true;
	case UI_ED_KILL_END:
		if (c == ed->len)
			return false;
		ed->len = c;
		return true;
	case UI_ED_KILL_WORD: {
		int from = c;
		while (from > 0 && ed->buf[from - 1] == L' ')
			from--;
		while (from > 0 && ed->buf[from - 1] != L' ')
			from--;
		if (from == c)
			return false;
		erase(ed, from, c);
		return true;
	}
	case UI_ED_HIST_PREV:
		if (ed->hpos == 0)
			return false;
		if (ed->hpos == ed->nhist) {
			free(ed->draft);
			ed->draft = to_utf8(ed->buf, ed->len);
		}
		load(ed, ed->hist[--ed->hpos]);
		return true;
	case UI_ED_HIST_NEXT:
		if (ed->hpos >= ed->nhist)
			return false;
		ed->hpos++;
		load(ed, ed->hpos == ed->nhist ? (ed->draft ? ed->draft : "") : ed->hist[ed->hpos]);
		return true;
	}
	return ed->cur != c;
}

int ui_editor_len(const ui_editor *ed)
{
	return ed->len;
}

int ui_editor_lines(const ui_editor *ed)
{
	int n = 1;
	for (int i = 0; i < ed->len; i++)
		n += ed->buf[i] == L'\n';
	return n;
}

bool ui_editor_blank(const ui_editor *ed)
{
	for (int i = 0; i < ed->len; i++)
		if (ed->buf[i] != L' ' && ed->buf[i] != L'\n' && ed->buf[i] != L'\t')
			return false;
	return true;
}

char *ui_editor_text(const ui_editor *ed)
{
	return to_utf8(ed->buf, ed->len);
}

/* Characters [from, to) into buf as UTF-8, at most width cells: a tab
 * as a space, a newline as nl. Returns the bytes written. */
static size_t render(const ui_editor *ed, int from, int to, int width, const char *nl, char *buf,
                     size_t n)
{
	size_t o = 0;
	int used = 0;
	for (int i = from; i < to; i++) {
		char tmp[16];
		int cw = cells(ed->buf[i]), k;
		if (ed->buf[i] == L'\n')
			k = snprintf(tmp, sizeof tmp, "%s", nl);
		else
			k = am_utf8_encode(ed->buf[i] == L'\t' ? ' ' : (uint32_t)ed->buf[i], tmp);
		if (k < 0 || (size_t)k >= sizeof tmp || used + cw > width || o + (size_t)k + 1 > n)
			break;
		memcpy(buf + o, tmp, (size_t)k);
		o += (size_t)k;
		used += cw;
	}
	if (n)
		buf[o] = '\0';
	return o;
}

void ui_editor_head(const ui_editor *ed, char *buf, size_t n)
{
	render(ed, 0, ed->len, INT_MAX, "\n", buf, n);
}

bool ui_editor_at_end(const ui_editor *ed)
{
	return ed->cur == ed->len;
}

void ui_editor_set(ui_editor *ed, const char *s)
{
	load(ed, s);
}

void ui_editor_remember(ui_editor *ed, const char *s)
{
	if (*s && (ed->nhist == 0 || strcmp(ed->hist[ed->nhist - 1], s))) {
		if (ed->nhist == UI_ED_HISTORY) {
			free(ed->hist[0]);
			memmove(ed->hist, ed->hist + 1, (UI_ED_HISTORY - 1) * sizeof ed->hist[0]);
			ed->nhist--;
		}
		ed->hist[ed->nhist++] = am_xstrdup(s);
	}
	ed->hpos = ed->nhist;
}

char *ui_editor_take(ui_editor *ed)
{
	char *s = to_utf8(ed->buf, ed->len);
	if (!ui_editor_blank(ed))
		ui_editor_remember(ed, s);
	ed->hpos = ed->nhist;
	free(ed->draft);
	ed->draft = NULL;
	ed->len = ed->cur = 0;
	return s;
}

int ui_editor_view_rows(const ui_editor *ed, int width, int rows, ui_ed_row_cb cb, void *ctx,
                        int *cur_row, int *cur_col)
{
	char buf[8192];
	int nlines = ui_editor_lines(ed), cl = 0;
	for (int i = 0; i < ed->cur; i++)
		cl += ed->buf[i] == L'\n';
	int first = nlines - rows < cl ? nlines - rows : cl;
	if (first < 0)
		first = 0;
	/* Skip to the first line shown. */
	int at = 0;
	for (int l = 0; l < first; l++)
		at = line_end(ed, at) + 1;
	*cur_row = cl - first;
	*cur_col = 0;
	int row = 0;
	for (; row < rows && at <= ed->len; row++) {
		int end = line_end(ed, at), start = at;
		if (row == *cur_row) {
			/* Scroll right just enough that the cursor cell shows. */
			int w = 0;
			for (int i = at; i < ed->cur; i++)
				w += cells(ed->buf[i]);
			while (start < ed->cur && w > width - 1)
				w -= cells(ed->buf[start++]);
			*cur_col = w;
		}
		render(ed, start, end, width, "", buf, sizeof buf);
		cb(ctx, row, buf);
		if (end == ed->len) {
			row++;
			break;
		}
		at = end + 1;
	}
	return row;
}

void ui_editor_view(const ui_editor *ed, int width, const char *nl, char *buf, size_t n,
                    int *cursor_col)
{
	int start = 0, w = 0;
	for (int i = 0; i < ed->cur; i++)
		w += cells(ed->buf[i]);
	/* Scroll right just enough that the cursor cell is inside the field. */
	while (start < ed->cur && w > width - 1)
		w -= cells(ed->buf[start++]);
	*cursor_col = w;
	render(ed, start, ed->len, width, nl, buf, n);
}
