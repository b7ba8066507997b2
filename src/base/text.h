/* text: untrusted text (answers, model ids, error messages) made safe for a
 * terminal, and the strict UTF-8 decoding it rests on. Used by every layer
 * that prints what a server or a file said: the dashboard (ui/) and the
 * commands (src/cli/). Pure functions over caller buffers. */
#ifndef AIMETER_TEXT_H
#define AIMETER_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes one UTF-8 character strictly (no overlongs, surrogates or values
 * above U+10FFFF). Returns its length (1..4) and sets *cp, or returns 0 when
 * s[0..len) does not start with a valid character (*cp = U+FFFD, consume
 * one byte). len must be >= 1. */
int am_utf8_decode(const char *s, size_t len, uint32_t *cp);

/* Encodes cp into out (4 bytes room); returns the length. */
int am_utf8_encode(uint32_t cp, char *out);

/* How many bytes at the end of s[0..len) form the start of a character
 * that is not complete yet (0..3), so that streamed text split inside a
 * character is not turned into U+FFFD. A trailing CR is held back too, so
 * a CRLF split across chunks still reads as one line break. */
size_t am_utf8_incomplete_tail(const char *s, size_t len);

/* State carried between chunks of one sanitised text. */
typedef struct am_text_san {
	int col; /* cells since the last newline, for tab stops */
} am_text_san;

/* Makes untrusted text (an answer, an error) safe to paint: nothing that
 * reaches the terminal can move the cursor or change its state.
 * - '\n' stays; CRLF becomes '\n'; a lone CR becomes "^M".
 * - '\t' becomes spaces up to the next multiple of 4 cells.
 * - Other C0 controls and DEL become caret escapes ("^[" for ESC, "^?").
 * - C1 controls (U+0080..U+009F), bidi overrides and isolates, line and
 *   paragraph separators, and characters wcwidth calls non-printable
 *   become U+FFFD; so does every byte of invalid UTF-8.
 * - ascii: every non-ASCII character becomes '?'.
 * Writes at most 4 × len + 1 bytes (the caller sizes out for that; a tab is
 * the only expansion beyond 3 bytes and is at most 4 spaces); returns the
 * length written. st may be NULL for a one-shot text. */
size_t am_text_sanitize(const char *in, size_t len, char *out, bool ascii, am_text_san *st);

#endif
