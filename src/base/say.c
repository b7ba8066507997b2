/* say: formatted output through the terminal sanitizer. */
#define _GNU_SOURCE /* vasprintf */
#include "say.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "text.h"

/* Sanitizes in[0..len) into a new string (*out_len bytes). A line break
 * inside the text becomes "^J" too, so one message or one cell stays one
 * line; with keep_last, a final '\n' (the end of our own line) stays. */
static char *safe_text(const char *in, size_t len, bool keep_last, size_t *out_len)
{
	char *tmp = am_xmalloc(4 * len + 1);
	size_t n = am_text_sanitize(in, len, tmp, false, NULL);
	size_t breaks = 0;
	for (size_t i = 0; i < n; i++)
		breaks += tmp[i] == '\n';
	char *out = am_xmalloc(n + breaks + 1);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (tmp[i] == '\n' && !(keep_last && i == n - 1)) {
			out[m++] = '^';
			out[m++] = 'J';
		} else {
			out[m++] = tmp[i];
		}
	}
	out[m] = '\0';
	free(tmp);
	*out_len = m;
	return out;
}

int am_say(FILE *f, const char *fmt, ...)
{
	char *in;
	va_list ap;
	va_start(ap, fmt);
	int len = vasprintf(&in, fmt, ap);
	va_end(ap);
	if (len < 0)
		return -1;
	size_t n;
	char *out = safe_text(in, (size_t)len, true, &n);
	free(in);
	size_t put = fwrite(out, 1, n, f);
	free(out);
	return put == n ? (int)n : -1;
}

void am_say_copy(char *out, size_t n, const char *s)
{
	size_t m;
	char *tmp = safe_text(s, strlen(s), false, &m);
	if (m >= n) {
		m = n - 1;
		/* back off over continuation bytes: whole characters only */
		while (m > 0 && ((unsigned char)tmp[m] & 0xC0) == 0x80)
			m--;
	}
	memcpy(out, tmp, m);
	out[m] = '\0';
	free(tmp);
}

char *am_say_json(const json_t *j, size_t flags)
{
	char *s = json_dumps(j, flags);
	if (!s)
		return NULL;
	size_t len = strlen(s), extra = 0;
	for (size_t i = 0; i < len; i++)
		if (s[i] == 0x7f || ((unsigned char)s[i] == 0xC2 && i + 1 < len &&
		                     (unsigned char)s[i + 1] >= 0x80 && (unsigned char)s[i + 1] <= 0x9F))
			extra += 5;
	if (!extra)
		return s;
	/* Outside strings JSON has no such bytes: each one is inside a string,
	 * where \u00XX means the same character. */
	char *out = malloc(len + extra + 1);
	if (!out) {
		free(s);
		return NULL;
	}
	size_t m = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned cp = 0;
		if (s[i] == 0x7f)
			cp = 0x7f;
		else if ((unsigned char)s[i] == 0xC2 && i + 1 < len &&
		         (unsigned char)s[i + 1] >= 0x80 && (unsigned char)s[i + 1] <= 0x9F)
			cp = (unsigned char)s[++i];
		if (cp)
			m += (size_t)sprintf(out + m, "\\u%04X", cp);
		else
			out[m++] = s[i];
	}
	out[m] = '\0';
	free(s);
	return out;
}
