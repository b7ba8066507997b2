/* redisfix: a private redis-server for a test - on a free loopback port,
 * in its own scratch directory, with no persistence (--save '',
 * --appendonly no), stopped by its pid. Every test that needs Redis uses
 * this one (the CLI scripts use tests/cli/redis_lib.sh, which follows it). */
#ifndef AIMETER_TEST_REDISFIX_H
#define AIMETER_TEST_REDISFIX_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct am_rf {
	pid_t pid;           /* 0 when stopped */
	int port;
	char dir[512];
	char url[128];       /* redis://127.0.0.1:PORT */
	char password[64];   /* "" = none */
} am_rf;

/* Starts a server (requirepass when password is non-NULL) and waits until
 * it answers PING. Returns 0, or -1 after printing why (no redis-server). */
int am_rf_start(am_rf *rf, const char *password);

/* Starts it again on the same port (after am_rf_stop), empty. */
int am_rf_restart(am_rf *rf);

/* SIGKILL (hard = true) or SIGTERM, and waits for it. */
void am_rf_stop(am_rf *rf, bool hard);

/* Stops it and removes its directory. */
void am_rf_free(am_rf *rf);

#endif
