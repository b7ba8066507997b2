/* rline: rich lines and blocks; see rline.h. */
#include "rline.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fmt.h"

void ui_rline_clear(ui_rline *l)
{
	l->n = 0;
	l->used = 0;
}

const char *ui_rline_text(const ui_rline *l, int i)
{
	return l->buf + l->at[i];
}

/* Stores s (cut to a segment's bytes, never inside a character) in buf;
 * -1 when the line is full. */
static int store(ui_rline *l, const char *s)
{
	size_t len = strlen(s);
	if (len > UI_RSEG_BYTES - 1) {
		len = UI_RSEG_BYTES - 1;
		while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
			len--;
	}
	if (l->n == UI_RLINE_SEGS || (size_t)l->used + len + 1 > UI_RLINE_BYTES)
		return -1;
	int at = l->used;
	memcpy(l->buf + at, s, len);
	l->buf[at + (int)len] = '\0';
	l->used += (int)len + 1;
	return at;
}

void ui_rline_insert(ui_rline *l, int at, ui_role r, const char *s)
{
	if (at < 0 || at > l->n)
		return;
	int off = store(l, s);
	if (off < 0)
		return;
	memmove(&l->role[at + 1], &l->role[at], (size_t)(l->n - at) * sizeof l->role[0]);
	memmove(&l->at[at + 1], &l->at[at], (size_t)(l->n - at) * sizeof l->at[0]);
	l->role[at] = r;
	l->at[at] = (uint16_t)off;
	l->n++;
}

void ui_rline_add(ui_rline *l, ui_role r, const char *s)
{
	ui_rline_insert(l, l->n, r, s);
}

/* Formats a segment and appends it, when `fit`, only if all of it fits in
 * `width` cells. */
__attribute__((format(printf, 5, 0))) static void vadd(ui_rline *l, bool fit, int width,
                                                     ui_role r, const char *fmt, va_list ap);
static void vadd(ui_rline *l, bool fit, int width, ui_role r, const char *fmt, va_list ap)
{
	char buf[UI_RSEG_BYTES];
	vsnprintf(buf, sizeof buf, fmt, ap);
	if (!fit || ui_rline_width(l) + fmt_width(buf, strlen(buf)) <= width)
		ui_rline_add(l, r, buf);
}

void ui_rline_addf(ui_rline *l, ui_role r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vadd(l, false, 0, r, fmt, ap);
	va_end(ap);
}

void ui_rline_addf_fit(ui_rline *l, int width, ui_role r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vadd(l, true, width, r, fmt, ap);
	va_end(ap);
}

void ui_rline_append(ui_rline *l, const ui_rline *o)
{
	for (int i = 0; i < o->n; i++)
		ui_rline_add(l, o->role[i], ui_rline_text(o, i));
}

int ui_rline_width(const ui_rline *l)
{
	int w = 0;
	for (int i = 0; i < l->n; i++) {
		const char *s = ui_rline_text(l, i);
		w += fmt_width(s, strlen(s));
	}
	return w;
}

void ui_rline_fit(const ui_rline *l, int width, bool ascii, ui_rline *out)
{
	char buf[2048];
	int used = 0;
	ui_rline_clear(out);
	for (int i = 0; i < l->n && used < width; i++) {
		fmt_fit(buf, sizeof buf, ui_rline_text(l, i), width - used, ascii);
		ui_rline_add(out, l->role[i], buf);
		used += fmt_width(buf, strlen(buf));
	}
}

void ui_block_clear(ui_block *b)
{
	ui_rline_clear(&b->title);
	b->n = 0;
}

ui_rline *ui_block_row(ui_block *b, int y, int x, int w)
{
	ui_place *p = b->n < UI_BLOCK_ROWS ? &b->row[b->n++] : &b->spare;
	p->y = y;
	p->x = x;
	p->w = w;
	ui_rline_clear(&p->line);
	return &p->line;
}
