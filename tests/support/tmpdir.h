/* tmpdir: private scratch directories for tests that write files. */
#ifndef AIMETER_TEST_TMPDIR_H
#define AIMETER_TEST_TMPDIR_H

#include <stddef.h>

/* Creates a fresh 0700 directory under $TMPDIR (or /tmp) named after `tag`
 * and writes its path into buf. Returns 0, or -1 after printing why. */
int am_test_tmpdir(const char *tag, char *buf, size_t n);

/* Removes a directory tree (like rm -rf); a missing path is not an error. */
int am_test_rmtree(const char *path);

#endif
