/* err: the caller-provided error slot every fallible core function fills.
 *
 * Contract: a function that can fail returns a status (0 or a positive
 * count on success, -1 on failure) and, on failure, writes one human
 * sentence into *err (when err is non-NULL), with a code that says what kind
 * of failure it was. Callers decide by the code, never by the words; the
 * message is for people and never contains a secret. Any thread may use
 * these; an am_err is owned by its caller. */
#ifndef AIMETER_ERR_H
#define AIMETER_ERR_H

#include <stddef.h>

#define AM_ERR_MAX 512

/* What kind of failure: what a caller may do about it. */
typedef enum am_err_code {
	AM_E_FAIL = 0,   /* nothing more specific to say */
	AM_E_INVALID,    /* the input is wrong: a bad value, flag, file or request */
	AM_E_FULL        /* a bounded queue is full: try again when it drains */
} am_err_code;

typedef struct am_err {
	am_err_code code;
	char msg[AM_ERR_MAX];
} am_err;

/* Formats into err->msg (truncating safely) with code AM_E_FAIL. err may be
 * NULL. Returns -1 so that `return am_err_set(err, ...)` reads naturally. */
int am_err_set(am_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The same with a code. */
int am_err_setc(am_err *err, am_err_code code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefixes err->msg with "prefix: ", for adding context on the way up; the
 * code stays. */
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
