/* log: timestamped lines appended to a private file. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "paths.h"

struct am_log {
	int fd;
};

int am_log_open(am_log **out, const char *path, am_err *err)
{
	*out = NULL;
	if (am_mkdir_parent(path, err))
		return -1;
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return am_err_set(err, "cannot open the log %s: %s", path, strerror(errno));
	am_log *l = am_xcalloc(1, sizeof *l);
	l->fd = fd;
	*out = l;
	return 0;
}

void am_log_close(am_log *l)
{
	if (l) {
		close(l->fd);
		free(l);
	}
}

void am_log_write(am_log *l, int64_t wall_ns, const char *fmt, ...)
{
	if (!l)
		return;
	char line[1024];
	time_t secs = (time_t)(wall_ns / AM_NS_PER_SEC);
	struct tm tm;
	gmtime_r(&secs, &tm);
	size_t n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%SZ ", &tm);
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += (size_t)m < sizeof line - n - 1 ? (size_t)m : sizeof line - n - 2;
	for (size_t i = 0; i < n; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[n++] = '\n';
	/* One write per line: O_APPEND keeps lines whole. */
	if (write(l->fd, line, n) < 0)
		return;
}
