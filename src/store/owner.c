/* owner: names this process as a job owner and tells whether another
 * owner still runs, from kill(pid, 0) and the start time in
 * /proc/<pid>/stat (the pair survives pid reuse; the pid alone does not). */
#include "owner.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* Reads the state letter and start time (clock ticks since boot) of pid
 * from /proc/<pid>/stat. -1 with errno set when the file cannot be read or
 * parsed. */
static int proc_stat(long pid, char *state, unsigned long long *start)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n;
	do
		n = read(fd, buf, sizeof buf - 1);
	while (n < 0 && errno == EINTR);
	int e = errno;
	close(fd);
	if (n <= 0) {
		errno = n < 0 ? e : EIO;
		return -1;
	}
	buf[n] = '\0';
	/* "pid (comm) S ppid ...": comm may hold spaces and ')', so the fields
	 * are counted from the last ')'. Field 3 is the state, 22 the start. */
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2]) {
		errno = EIO;
		return -1;
	}
	*state = p[2];
	p += 2;
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p) {
			errno = EIO;
			return -1;
		}
		p++;
	}
	char *end;
	errno = 0;
	unsigned long long v = strtoull(p, &end, 10);
	if (end == p || errno) {
		errno = EIO;
		return -1;
	}
	*start = v;
	return 0;
}

void am_owner_self(am_owner *o)
{
	memset(o, 0, sizeof *o);
	long pid = (long)getpid();
	char state;
	unsigned long long start = 0;
	if (proc_stat(pid, &state, &start))
		start = 0;
	snprintf(o->id, sizeof o->id, "%ld:%llu", pid, start);
}

int am_owner_parse(const char *owner, long *pid, unsigned long long *start)
{
	if (!owner || owner[0] < '1' || owner[0] > '9')
		return -1;
	char *end;
	errno = 0;
	long p = strtol(owner, &end, 10);
	if (errno || *end != ':' || p <= 0 || p > INT_MAX)
		return -1;
	const char *s = end + 1;
	if (*s < '0' || *s > '9')
		return -1;
	unsigned long long st = strtoull(s, &end, 10);
	if (errno || *end)
		return -1;
	*pid = p;
	*start = st;
	return 0;
}

bool am_owner_alive(void *ctx, const char *owner)
{
	(void)ctx;
	long pid;
	unsigned long long start;
	if (am_owner_parse(owner, &pid, &start))
		return false;
	if (kill((pid_t)pid, 0) != 0 && errno != EPERM)
		return false;
	char state;
	unsigned long long now_start;
	if (proc_stat(pid, &state, &now_start)) {
		/* Gone since kill(), or no /proc here: only kill() can say. */
		char self[64];
		snprintf(self, sizeof self, "/proc/%ld/stat", (long)getpid());
		return access(self, R_OK) != 0;
	}
	if (state == 'Z' || state == 'X')
		return false; /* exited, not yet reaped: it sends nothing more */
	return start == 0 || now_start == start;
}

bool am_owner_claimable(const am_owner *o, const char *owner)
{
	if (!owner || !strcmp(owner, o->id))
		return true;
	return !(o->alive ? o->alive(o->ctx, owner) : am_owner_alive(NULL, owner));
}
