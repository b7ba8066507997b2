/* tmpdir: mkdtemp-based scratch directories and their removal. */
#include "tmpdir.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int am_test_tmpdir(const char *tag, char *buf, size_t n)
{
	const char *base = getenv("TMPDIR");
	if (!base || !*base)
		base = "/tmp";
	int len = snprintf(buf, n, "%s/aimeter-%s-XXXXXX", base, tag);
	if (len < 0 || (size_t)len >= n || !mkdtemp(buf)) {
		fprintf(stderr, "tmpdir: cannot create a directory under %s: %s\n", base,
		        strerror(errno));
		return -1;
	}
	return 0;
}

/* Tests make files and directories read-only on purpose: give write access
 * back, top-down, before removing bottom-up. */
static int unlock_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)ftw;
	if (flag == FTW_D || flag == FTW_DNR)
		chmod(path, (st->st_mode & 07777) | 0700);
	return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) && errno != ENOENT ? -1 : 0;
}

int am_test_rmtree(const char *path)
{
	chmod(path, 0700);
	nftw(path, unlock_one, 16, FTW_PHYS);
	int rc = nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	return rc && errno != ENOENT ? -1 : 0;
}
