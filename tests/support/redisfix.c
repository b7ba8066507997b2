/* redisfix: see redisfix.h. */
#include "redisfix.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tmpdir.h"

/* A port the kernel just handed out and took back: free unless another
 * process grabs it in between (then the start is tried again). */
static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof a;
	int port = -1;
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static bool answers(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	bool ok = false;
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
		static const char ping[] = "PING\r\n";
		char buf[64];
		ssize_t n = write(fd, ping, sizeof ping - 1) == (ssize_t)(sizeof ping - 1)
		                ? read(fd, buf, sizeof buf - 1)
		                : -1;
		/* +PONG, or -NOAUTH when a password is required: up either way. */
		ok = n > 0 && (buf[0] == '+' || buf[0] == '-');
	}
	if (fd >= 0)
		close(fd);
	return ok;
}

static int spawn(am_rf *rf)
{
	char port[16];
	snprintf(port, sizeof port, "%d", rf->port);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		char log[600];
		snprintf(log, sizeof log, "%s/redis.log", rf->dir);
		char empty[1] = "", *argv[20];
		int n = 0;
		char a0[] = "redis-server", a1[] = "--port", a3[] = "--bind", a4[] = "127.0.0.1",
		     a5[] = "--save", a7[] = "--appendonly", a8[] = "no", a9[] = "--dir",
		     a11[] = "--logfile", a13[] = "--requirepass";
		argv[n++] = a0;
		argv[n++] = a1;
		argv[n++] = port;
		argv[n++] = a3;
		argv[n++] = a4;
		argv[n++] = a5;
		argv[n++] = empty;
		argv[n++] = a7;
		argv[n++] = a8;
		argv[n++] = a9;
		argv[n++] = rf->dir;
		argv[n++] = a11;
		argv[n++] = log;
		if (rf->password[0]) {
			argv[n++] = a13;
			argv[n++] = rf->password;
		}
		argv[n] = NULL;
		execvp("redis-server", argv);
		_exit(127);
	}
	rf->pid = pid;
	for (int i = 0; i < 200; i++) {
		if (answers(rf->port))
			return 0;
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			rf->pid = 0;
			return -1;
		}
		struct timespec ts = { 0, 25 * 1000000L };
		nanosleep(&ts, NULL);
	}
	am_rf_stop(rf, true);
	return -1;
}

int am_rf_start(am_rf *rf, const char *password)
{
	memset(rf, 0, sizeof *rf);
	if (am_test_tmpdir("redis", rf->dir, sizeof rf->dir))
		return -1;
	snprintf(rf->password, sizeof rf->password, "%s", password ? password : "");
	for (int attempt = 0; attempt < 5; attempt++) {
		rf->port = free_port();
		if (rf->port > 0 && spawn(rf) == 0) {
			snprintf(rf->url, sizeof rf->url, "redis://127.0.0.1:%d", rf->port);
			return 0;
		}
	}
	fprintf(stderr, "redisfix: cannot start redis-server (is it installed?)\n");
	return -1;
}

int am_rf_restart(am_rf *rf)
{
	for (int attempt = 0; attempt < 40; attempt++) {
		if (spawn(rf) == 0)
			return 0;
		struct timespec ts = { 0, 100 * 1000000L }; /* the port may linger */
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "redisfix: cannot restart redis-server on port %d\n", rf->port);
	return -1;
}

void am_rf_stop(am_rf *rf, bool hard)
{
	if (rf->pid <= 0)
		return;
	kill(rf->pid, hard ? SIGKILL : SIGTERM);
	int st;
	while (waitpid(rf->pid, &st, 0) < 0 && errno == EINTR) {
	}
	rf->pid = 0;
}

void am_rf_free(am_rf *rf)
{
	am_rf_stop(rf, false);
	if (rf->dir[0])
		am_test_rmtree(rf->dir);
	rf->dir[0] = '\0';
}
