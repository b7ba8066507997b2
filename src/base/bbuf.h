/* bbuf: a growable byte buffer with a hard ceiling.
 *
 * Everything aimeter reads from the network is bounded (curl dynbuf's
 * `toobig`): appending past `max` fails instead of growing, and the caller
 * turns that into an error. The contents are always NUL-terminated so text
 * can be handed to C string functions; `len` excludes the terminator.
 * Not thread-safe; an am_bbuf is owned by one thread at a time. */
#ifndef AIMETER_BBUF_H
#define AIMETER_BBUF_H

#include <stddef.h>

typedef struct am_bbuf {
	char *data; /* NULL until the first append; then NUL-terminated */
	size_t len; /* bytes held, excluding the terminator */
	size_t cap; /* bytes allocated */
	size_t max; /* the ceiling on len */
} am_bbuf;

/* An empty buffer that will refuse to hold more than max bytes. */
void am_bbuf_init(am_bbuf *b, size_t max);

/* Appends n bytes. Returns 0, or -1 (buffer unchanged) when len + n would
 * exceed max. Out of memory ends the program (am_xrealloc). */
int am_bbuf_append(am_bbuf *b, const void *p, size_t n);

/* The contents as a C string: "" when nothing was appended. */
const char *am_bbuf_str(const am_bbuf *b);

/* Forgets the contents, keeps the allocation. */
void am_bbuf_clear(am_bbuf *b);

/* Hands the heap string to the caller (who frees it) and leaves the buffer
 * empty. Never returns NULL: an empty buffer yields a fresh "". */
char *am_bbuf_take(am_bbuf *b);

/* Releases the allocation; the buffer may be reused after am_bbuf_init. */
void am_bbuf_free(am_bbuf *b);

#endif
