/* text: see text.h. */
#include "text.h"

#include <string.h>
#include <wchar.h>

int am_utf8_decode(const char *s, size_t len, uint32_t *cp)
{
	const unsigned char *u = (const unsigned char *)s;
	uint32_t c = u[0], min;
	int need;
	*cp = 0xFFFD;
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if (c >= 0xC2 && c <= 0xDF) {
		need = 1, c &= 0x1F, min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 2, c &= 0x0F, min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 3, c &= 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (len < (size_t)need + 1)
		return 0;
	for (int i = 1; i <= need; i++) {
		if ((u[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (u[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return need + 1;
}

int am_utf8_encode(uint32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

size_t am_utf8_incomplete_tail(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	if (len && u[len - 1] == '\r')
		return 1;
	/* Look back over at most 3 continuation bytes for a lead byte. */
	for (size_t back = 1; back <= 3 && back <= len; back++) {
		unsigned char c = u[len - back];
		if ((c & 0xC0) == 0x80)
			continue;
		size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
		return need > back ? back : 0;
	}
	return 0;
}

static bool is_unsafe_cp(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9F) || (cp >= 0x202A && cp <= 0x202E) ||
	       (cp >= 0x2066 && cp <= 0x2069) || cp == 0x2028 || cp == 0x2029 ||
	       wcwidth((wchar_t)cp) < 0;
}

size_t am_text_sanitize(const char *in, size_t len, char *out, bool ascii, am_text_san *st)
{
	am_text_san local = {0};
	if (!st)
		st = &local;
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		unsigned char b = (unsigned char)in[i];
		if (b < 0x80) {
			i++;
			if (b == '\n') {
				out[o++] = '\n';
				st->col = 0;
			} else if (b == '\r' && i < len && in[i] == '\n') {
				continue; /* CRLF: the LF does the work */
			} else if (b == '\t') {
				int sp = 4 - st->col % 4;
				for (int k = 0; k < sp; k++)
					out[o++] = ' ';
				st->col += sp;
			} else if (b < 0x20 || b == 0x7F) {
				out[o++] = '^';
				out[o++] = b == 0x7F ? '?' : (char)(b + 0x40);
				st->col += 2;
			} else {
				out[o++] = (char)b;
				st->col++;
			}
			continue;
		}
		uint32_t cp;
		int k = am_utf8_decode(in + i, len - i, &cp);
		if (k == 0 || is_unsafe_cp(cp)) {
			i += k ? (size_t)k : 1;
			if (ascii) {
				out[o++] = '?';
			} else {
				o += (size_t)am_utf8_encode(0xFFFD, out + o);
			}
			st->col++;
			continue;
		}
		if (ascii) {
			out[o++] = '?';
			st->col++;
		} else {
			memcpy(out + o, in + i, (size_t)k);
			o += (size_t)k;
			st->col += wcwidth((wchar_t)cp);
		}
		i += (size_t)k;
	}
	out[o] = '\0';
	return o;
}
