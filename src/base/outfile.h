/* outfile: a file written whole or not at all. The text goes to a temporary
 * file beside the target, which replaces the target by rename only once
 * every byte is flushed and synced, so an interrupted or failed write
 * leaves the old file as it was, and a reader never sees half of it. */
#ifndef AIMETER_OUTFILE_H
#define AIMETER_OUTFILE_H

#include <stdbool.h>
#include <stdio.h>

#include "err.h"

typedef struct am_outfile {
	FILE *f;         /* write here; NULL when not open */
	char path[4096]; /* the target, symlinks resolved */
	char tmp[4096];  /* the temporary file beside it */
} am_outfile;

/* Creates the temporary file beside `path` (a symlink's target when path is
 * one), with the mode the target has, else 0666 less the umask. A target
 * that is a device or a pipe (/dev/null, /dev/stdout) is written in place;
 * a directory is an error. Reads the umask: call it before other threads
 * create files. Returns 0, or -1 with err naming the path. */
int am_outfile_open(am_outfile *o, const char *path, am_err *err);

/* Flushes, syncs and closes the temporary file and renames it over the
 * target. Returns 0, or -1 with err (the temporary file is removed). */
int am_outfile_commit(am_outfile *o, am_err *err);

/* Closes and removes the temporary file; the target is untouched. Safe on
 * a closed or zeroed o. */
void am_outfile_abort(am_outfile *o);

/* Whether `path` names the file open as `fd` (same device and inode: also
 * through a symlink or another hard link). False when path does not exist. */
bool am_same_file(int fd, const char *path);

#endif
