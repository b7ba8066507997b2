/* editor: a readline-like line buffer in wchar_t with a bounded history.
 * Up/Down walk the history; the line being typed is kept as a draft and
 * comes back after the newest entry, as in shells. */
#include "editor.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fmt.h"
#include "text.h"

struct ui_editor {
	wchar_t buf[UI_ED_MAX];
	int len, cur;
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
	free(ed);
}

static int cells(wchar_t ch)
{
	int w = wcwidth(ch);
	return w < 0 ? 1 : w;
}

bool ui_editor_insert(ui_editor *ed, wchar_t ch)
{
	if (ch < 0x20 || ch == 0x7F || (ch >= 0x80 && ch < 0xA0) || ed->len >= UI_ED_MAX - 1)
		return false;
	memmove(ed->buf + ed->cur + 1, ed->buf + ed->cur, (size_t)(ed->len - ed->cur) * sizeof(wchar_t));
	ed->buf[ed->cur++] = ch;
	ed->len++;
	return true;
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
	size_t n = strlen(s);
	ed->len = 0;
	for (size_t i = 0; i < n && ed->len < UI_ED_MAX - 1;) {
		uint32_t cp;
		int k = am_utf8_decode(s + i, n - i, &cp);
		i += k ? (size_t)k : 1;
		ed->buf[ed->len++] = (wchar_t)cp;
	}
	ed->cur = ed->len;
}

bool ui_editor_op(ui_editor *ed, ui_ed_op op)
{
	int c = ed->cur;
	switch (op) {
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

bool ui_editor_blank(const ui_editor *ed)
{
	for (int i = 0; i < ed->len; i++)
		if (ed->buf[i] != L' ')
			return false;
	return true;
}

char *ui_editor_take(ui_editor *ed)
{
	char *s = to_utf8(ed->buf, ed->len);
	if (!ui_editor_blank(ed) && (ed->nhist == 0 || strcmp(ed->hist[ed->nhist - 1], s))) {
		if (ed->nhist == UI_ED_HISTORY) {
			free(ed->hist[0]);
			memmove(ed->hist, ed->hist + 1, (UI_ED_HISTORY - 1) * sizeof ed->hist[0]);
			ed->nhist--;
		}
		ed->hist[ed->nhist++] = am_xstrdup(s);
	}
	ed->hpos = ed->nhist;
	free(ed->draft);
	ed->draft = NULL;
	ed->len = ed->cur = 0;
	return s;
}

void ui_editor_view(const ui_editor *ed, int width, char *buf, size_t n, int *cursor_col)
{
	int start = 0, w = 0;
	for (int i = 0; i < ed->cur; i++)
		w += cells(ed->buf[i]);
	/* Scroll right just enough that the cursor cell is inside the field. */
	while (start < ed->cur && w > width - 1)
		w -= cells(ed->buf[start++]);
	*cursor_col = w;
	size_t o = 0;
	int used = 0;
	for (int i = start; i < ed->len; i++) {
		int cw = cells(ed->buf[i]);
		char tmp[4];
		int k = am_utf8_encode((uint32_t)ed->buf[i], tmp);
		if (used + cw > width || o + (size_t)k + 1 > n)
			break;
		memcpy(buf + o, tmp, (size_t)k);
		o += (size_t)k;
		used += cw;
	}
	if (n)
		buf[o] = '\0';
}
