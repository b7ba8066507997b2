/* tag: validating the label a call is counted under. */
#include "tag.h"

#include <string.h>

int am_tag_check(const char *tag, am_err *err)
{
	if (!tag)
		return 0;
	size_t n = strlen(tag);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)tag[i];
		if (c < 0x21 || c > 0x7e)
			return am_err_setc(err, AM_E_INVALID,
			                   "bad tag: byte %zu is %s (0x%02x); a tag is 1-%d printable "
			                   "ASCII characters without spaces",
			                   i + 1, c == ' ' ? "a space" : "not printable ASCII", c,
			                   AM_TAG_MAX);
	}
	if (n > AM_TAG_MAX)
		return am_err_setc(err, AM_E_INVALID, "bad tag '%.20s...': %zu bytes, at most %d",
		                   tag, n, AM_TAG_MAX);
	return 0;
}
