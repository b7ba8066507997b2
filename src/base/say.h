/* say: the one way aimeter prints text that may hold what came from outside
 * (a server's model id, error message or request id, a ledger row, a price
 * file, an argument). Every byte goes through am_text_sanitize, whether
 * the stream is a terminal or not: a line in a log or a pipe is read on a
 * terminal later. An escape, a bell, a CR or LF or a C1 control becomes
 * visible text ("^[", "^G", "^M", "^J", U+FFFD) that cannot move the
 * cursor, retitle the window or forge a line; only the final '\n' of a
 * printed line stays a line break (so a format prints one line, ending in
 * "\n" or not). */
#ifndef AIMETER_SAY_H
#define AIMETER_SAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

/* printf to f, sanitized. Returns the bytes written, or -1 when the write
 * failed (f keeps its error flag). */
int am_say(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A sanitized copy of s into out (n >= 1 bytes; no line break at all), cut
 * at a whole character when it does not fit: a table cell or a CSV field. */
void am_say_copy(char *out, size_t n, const char *s);

/* json_dumps(j, flags), with the controls JSON leaves raw escaped too:
 * DEL and the C1 controls (U+0080..U+009F, which a terminal may obey)
 * become \u007F, \u0080... The text stays valid JSON meaning the same.
 * The caller frees it (free); NULL when jansson fails. */
char *am_say_json(const json_t *j, size_t flags);

#endif
