/* err: error slots and the allocation wrappers that end the program on OOM. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void (*fatal_hook)(void);

int am_err_set(am_err *err, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		err->code = AM_E_FAIL;
		vsnprintf(err->msg, sizeof err->msg, fmt, ap);
		va_end(ap);
	}
	return -1;
}

int am_err_setc(am_err *err, am_err_code code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		err->code = code;
		vsnprintf(err->msg, sizeof err->msg, fmt, ap);
		va_end(ap);
	}
	return -1;
}

int am_err_prefix(am_err *err, const char *fmt, ...)
{
	if (err) {
		char prefix[AM_ERR_MAX], old[AM_ERR_MAX];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(prefix, sizeof prefix, fmt, ap);
		va_end(ap);
		memcpy(old, err->msg, sizeof old);
		snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old);
	}
	return -1;
}

void am_set_fatal_hook(void (*hook)(void))
{
	fatal_hook = hook;
}

static void oom(size_t n)
{
	if (fatal_hook)
		fatal_hook();
	fprintf(stderr, "aimeter: out of memory (%zu bytes)\n", n);
	exit(70);
}

void *am_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

void *am_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom(n * size);
	return p;
}

void *am_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom(n);
	return q;
}

char *am_xstrdup(const char *s)
{
	return am_xstrndup(s, strlen(s));
}

char *am_xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = am_xmalloc(len + 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}
