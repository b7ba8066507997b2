/* batchio: the line formats of `aimeter batch`.
 *
 * Input (JSONL), one request per line, in either form:
 *   {"prompt": "...", "model"?: "...", "max_tokens"?: N, "system"?: "...", "id"?: ...,
 *    "tag"?: "..."}
 *   a full Messages body: any object with a "messages" key (an "id" or
 *   "custom_id" member is taken as the line's id and removed, and a "tag"
 *   as the line's tag).
 * A line's "tag" (a valid tag, tag.h) counts its call under that tag,
 * before `batch --tag`.
 * A line's id is its "id" (a string or an integer) or else its line number.
 * "model" absent or "auto" lets the selector choose.
 *
 * Output (JSONL), one result per input line, in input order:
 *   {"id", "status": "ok"|"failed"|"blocked", "model", "text", "usage",
 *    "cost_usd" (exact decimal string; "0" for a cache hit), "cached", "error"}
 *
 * Pure functions; any thread. */
#ifndef AIMETER_BATCHIO_H
#define AIMETER_BATCHIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "err.h"
#include "tag.h"
#include "usage.h"

enum { AM_BATCH_MAX_LINE = 32 * 1024 * 1024, AM_BATCH_ID_MAX = 256 };

typedef struct am_batch_line {
	char id[AM_BATCH_ID_MAX];
	json_t *body;        /* a Messages body without "model" (new reference) */
	char *model;         /* pinned model, NULL = auto */
	char tag[AM_TAG_MAX + 1]; /* the line's "tag"; "" = none */
} am_batch_line;

/* Parses one line (without its newline; len bytes, need not be
 * NUL-terminated). Returns 1 for a request, 0 for a blank line (nothing to
 * do), -1 + err for a bad line: the message says what is wrong, and where in
 * the line for malformed JSON. */
int am_batch_parse_line(const char *line, size_t len, int64_t lineno, am_batch_line *out,
                        am_err *err);
void am_batch_line_free(am_batch_line *l);

typedef enum am_batch_status { AM_BATCH_OK, AM_BATCH_FAILED, AM_BATCH_BLOCKED } am_batch_status;

typedef struct am_batch_result {
	const char *id;
	am_batch_status status;
	const char *model;      /* NULL when none was chosen */
	const char *text;       /* NULL when no answer */
	bool has_usage;
	am_usage usage;
	bool price_known;
	int64_t cost_pusd;
	bool cached;
	const char *error;      /* NULL when none */
} am_batch_result;

/* One output line, without the newline (heap; free()). Every member is
 * always there; a string that is not UTF-8 has its non-ASCII bytes shown
 * as '?'. */
char *am_batch_format_result(const am_batch_result *r);

#endif
