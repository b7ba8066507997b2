/* err: the caller-provided error slot every fallible core function fills.
 *
 * Contract: a function that can fail returns a status (0 or a positive
 * count on success, -1 on failure) and, on failure, writes one human
 * sentence into *err (when err is non-NULL). The message never contains a
 * secret. Any thread may use these; an am_err is owned by its caller. */
#ifndef AIMETER_ERR_H
#define AIMETER_ERR_H

#include <stddef.h>

#define AM_ERR_MAX 512

typedef struct am_err {
	char msg[AM_ERR_MAX];
} am_err;

/* Formats into err->msg (truncating safely). err may be NULL. Returns -1 so
 * that `return am_err_set(err, ...)` reads naturally. */
int am_err_set(am_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Prefixes err->msg with "prefix: ", for adding context on the way up. */
int am_err_prefix(am_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Out-of-memory ends the program (after the registered hook, which the UI
 * uses to restore the terminal). These never return NULL. */
void *am_xmalloc(size_t n);
void *am_xcalloc(size_t n, size_t size);
void *am_xrealloc(void *p, size_t n);
char *am_xstrdup(const char *s);
char *am_xstrndup(const char *s, size_t n);
void am_set_fatal_hook(void (*hook)(void));

#endif
