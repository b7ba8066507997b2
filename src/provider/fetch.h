/* fetch: one GET of a public file over https (a price list), for commands
 * that read data from the web. TLS is verified, redirects are followed only
 * to https, plain http only to loopback (tests), and the body has a size
 * cap. Blocking; any thread, one call at a time per caller. */
#ifndef AIMETER_FETCH_H
#define AIMETER_FETCH_H

#include <stdbool.h>
#include <stddef.h>

#include "bbuf.h"
#include "err.h"

/* Whether s names something to fetch (https://, or http:// to loopback)
 * rather than a local file. */
bool am_fetch_is_url(const char *s);

/* GETs url into out (initialised by the caller with its size cap). 0, or -1
 * with a message naming the URL and the cause (HTTP status, TLS, a body
 * over the cap, plain http beyond loopback). */
int am_fetch(const char *url, am_bbuf *out, am_err *err);

#endif
