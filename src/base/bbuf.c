/* bbuf: bounded byte buffers for bodies, SSE lines and streamed text. Growth
 * doubles so that appending a stream one byte at a time stays linear. */
#include "bbuf.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

void am_bbuf_init(am_bbuf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

int am_bbuf_append(am_bbuf *b, const void *p, size_t n)
{
	if (n > b->max - b->len)
		return -1;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap < b->len + n + 1)
			cap *= 2;
		if (cap > b->max + 1)
			cap = b->max + 1;
		b->data = am_xrealloc(b->data, cap);
		b->cap = cap;
	}
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

const char *am_bbuf_str(const am_bbuf *b)
{
	return b->data ? b->data : "";
}

void am_bbuf_clear(am_bbuf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

char *am_bbuf_take(am_bbuf *b)
{
	char *s = b->data ? b->data : am_xstrdup("");
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return s;
}

void am_bbuf_free(am_bbuf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}
