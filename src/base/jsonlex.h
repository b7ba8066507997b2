/* jsonlex: load a JSON file without letting any number pass through a double.
 *
 * jansson turns "1.25e-06" into the double nearest to it, and the digits are
 * gone. Prices must stay exact, so this loader hands back every real number
 * as a JSON string holding its source text ("1.25e-06") while integers stay
 * json integers (jansson reads those exactly as int64). Callers that expect a
 * decimal accept a string or an integer and convert the text themselves
 * (money.h). Thread-safe; no shared state. */
#ifndef AIMETER_JSONLEX_H
#define AIMETER_JSONLEX_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "err.h"

/* The largest file am_jsonlex_load_file reads (LiteLLM's file is ~1.6 MB). */
#define AM_JSONLEX_MAX_BYTES (64u * 1024u * 1024u)

/* Parses `len` bytes of JSON text (any top-level value). On success *out is a
 * new reference. Syntax errors read "LINE:COL: what" and are prefixed with
 * `name` when it is non-NULL ("file.json:3:14: ..."). Duplicate object keys
 * are an error when `reject_duplicates`, else the last one wins. */
int am_jsonlex_load(const char *text, size_t len, const char *name, bool reject_duplicates,
                    json_t **out, am_err *err);

/* Reads the file at `path` (at most AM_JSONLEX_MAX_BYTES) and parses it as
 * am_jsonlex_load does, naming the file in errors. A missing file is an error
 * whose message starts with the path; *missing (if non-NULL) is set to true
 * then, so callers can treat an absent optional file as empty. */
int am_jsonlex_load_file(const char *path, bool reject_duplicates, json_t **out, bool *missing,
                         am_err *err);

/* The exact decimal text of a number-like value: a string's contents, or an
 * integer printed in full. Writes into buf and returns 0; -1 (err says why)
 * for any other type or when buf is too small. */
int am_jsonlex_decimal_text(const json_t *v, char *buf, size_t n, am_err *err);

/* A JSON string for text of any origin (new reference, never NULL):
 * json_string(s) when s is UTF-8, else a copy with every non-ASCII byte
 * shown as '?' (json_string refuses invalid UTF-8, and an id or an error
 * message can hold any bytes: jansson's own error text quotes raw input).
 * NULL gives JSON null. */
json_t *am_jsonlex_string(const char *s);

#endif
