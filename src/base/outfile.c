/* outfile: write to a temporary file, then rename it over the target. */
#define _GNU_SOURCE /* mkostemp */
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int am_outfile_open(am_outfile *o, const char *path, am_err *err)
{
	memset(o, 0, sizeof *o);
	/* A symlink stays a symlink: the file it points to is what is replaced. */
	char *real = realpath(path, NULL);
	int n = snprintf(o->path, sizeof o->path, "%s", real ? real : path);
	free(real);
	if (n < 0 || (size_t)n >= sizeof o->path ||
	    snprintf(o->tmp, sizeof o->tmp, "%s.XXXXXX", o->path) >= (int)sizeof o->tmp) {
		o->tmp[0] = '\0';
		return am_err_set(err, "%s: path is too long", path);
	}
	struct stat st;
	bool exists = stat(o->path, &st) == 0;
	if (exists && S_ISDIR(st.st_mode)) {
		o->tmp[0] = '\0';
		return am_err_set(err, "cannot write %s: it is a directory", path);
	}
	if (exists && !S_ISREG(st.st_mode)) {
		/* A device or a pipe (/dev/stdout, /dev/null, a FIFO) cannot be
		 * replaced, and need not be: written in place. */
		o->tmp[0] = '\0';
		if (!(o->f = fopen(o->path, "we")))
			return am_err_set(err, "cannot write %s: %s", path, strerror(errno));
		return 0;
	}
	mode_t mode;
	if (exists) {
		mode = st.st_mode & 07777;
	} else {
		mode_t mask = umask(077);
		umask(mask);
		mode = 0666 & ~mask;
	}
	int fd = mkostemp(o->tmp, O_CLOEXEC); /* created 0600 */
	if (fd < 0) {
		o->tmp[0] = '\0';
		return am_err_set(err, "cannot write %s: %s", path, strerror(errno));
	}
	if (fchmod(fd, mode) != 0 || !(o->f = fdopen(fd, "w"))) {
		am_err_set(err, "cannot write %s: %s", path, strerror(errno));
		close(fd);
		unlink(o->tmp);
		o->tmp[0] = '\0';
		return -1;
	}
	return 0;
}

int am_outfile_commit(am_outfile *o, am_err *err)
{
	errno = 0;
	bool ok = fflush(o->f) == 0 && !ferror(o->f) && (!o->tmp[0] || fsync(fileno(o->f)) == 0);
	int e = errno;
	if (fclose(o->f) != 0 && ok) {
		ok = false;
		e = errno;
	}
	o->f = NULL;
	if (ok && o->tmp[0] && rename(o->tmp, o->path) != 0) {
		ok = false;
		e = errno;
	}
	if (!ok) {
		am_err_set(err, "cannot write %s: %s", o->path, e ? strerror(e) : "write error");
		if (o->tmp[0])
			unlink(o->tmp);
	}
	o->tmp[0] = '\0';
	return ok ? 0 : -1;
}

void am_outfile_abort(am_outfile *o)
{
	if (o->f)
		fclose(o->f);
	o->f = NULL;
	if (o->tmp[0])
		unlink(o->tmp);
	o->tmp[0] = '\0';
}

bool am_same_file(int fd, const char *path)
{
	struct stat a, b;
	return fd >= 0 && fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}
