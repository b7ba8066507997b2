/* log: an append-only text log of what the worker did that a person may
 * want to read later (notices, failures, budget alerts), one line each:
 *   2026-11-28T14:32:07Z job 12 failed: Overloaded (HTTP 529, request-id req_…)
 * The file is `log_file` from the config (none when empty), created 0600.
 * Lines never contain the API key: callers pass provider messages and ids,
 * never headers. One writer thread (the worker); a NULL log ignores writes. */
#ifndef AIMETER_LOG_H
#define AIMETER_LOG_H

#include <stdint.h>

#include "err.h"

typedef struct am_log am_log;

/* Opens (creating 0600, parent directory 0700) for appending. -1 + err. */
int am_log_open(am_log **out, const char *path, am_err *err);
void am_log_close(am_log *l);

/* Writes one line stamped with wall_ns (UTC). Newlines in the text become
 * spaces. Write errors are ignored: the log must never stop the pipeline. */
void am_log_write(am_log *l, int64_t wall_ns, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
