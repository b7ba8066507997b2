/* tag: the label a call is counted under (`--tag`, a batch line's "tag",
 * the proxy's header), so that spend can be reported and budgeted per
 * app or job. A tag is 1..AM_TAG_MAX printable ASCII characters without
 * spaces; NULL or "" means untagged. */
#ifndef AIMETER_TAG_H
#define AIMETER_TAG_H

#include "err.h"

/* The longest tag, in bytes. */
#define AM_TAG_MAX 64

/* 0 when tag is NULL, "" or a valid tag; else -1 and err says what is wrong
 * (the tag is not echoed when it holds a byte a terminal should not see). */
int am_tag_check(const char *tag, am_err *err);

/* The tag to store: NULL for NULL or "" (untagged), else tag itself. */
static inline const char *am_tag_or_null(const char *tag)
{
	return tag && *tag ? tag : NULL;
}

#endif
