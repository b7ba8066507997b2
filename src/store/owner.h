/* owner: which aimeter process a job belongs to.
 *
 * Several aimeter processes may share one ledger (a batch running while the
 * dashboard watches today's spend). Each job row carries the owner string
 * of the process that sends it, "<pid>:<start>", where <start> is the
 * process's start time in clock ticks since boot (field 22 of
 * /proc/<pid>/stat). A process takes a job only when its owner is NULL
 * (nobody), itself, or dead; a job of a live other process is left alone,
 * so no job is sent by two processes. The start time tells a reused pid
 * from the process that wrote the row: same pid, other start = dead.
 *
 * Same host only: the pid is checked with kill(pid, 0), so the processes
 * must share a pid namespace (a ledger on a network share is not supported
 * by SQLite's WAL mode anyway).
 *
 * Threads: every function here is reentrant; an am_owner is read-only once
 * made and may be shared. */
#ifndef AIMETER_OWNER_H
#define AIMETER_OWNER_H

#include <stdbool.h>

/* Room for "<pid>:<start>" and the terminator. */
#define AM_OWNER_MAX 48

/* Whether the process named by `owner` (an owner string, never NULL) still
 * runs. The seam for tests: they decide liveness without real processes. */
typedef bool (*am_owner_alive_fn)(void *ctx, const char *owner);

/* This process as an owner, and how it judges the others. */
typedef struct am_owner {
	char id[AM_OWNER_MAX];   /* this process's owner string */
	am_owner_alive_fn alive; /* NULL = am_owner_alive */
	void *ctx;               /* passed to alive */
	/* The kind of run this process is, as jobs.source names it ("ask",
	 * "batch", "console"); NULL = any. A dead process's job is taken only
	 * by a run of its kind, and an "ask" job by none (queue.h). */
	const char *kind;
} am_owner;

/* Fills *o for the calling process: id from getpid() and its start time,
 * alive = NULL (the real check). Never fails: without a readable /proc the
 * start time is written as 0 and liveness then rests on kill() alone. Make
 * it once per process and keep it (a forked child makes its own). */
void am_owner_self(am_owner *o);

/* The real check, usable as an am_owner_alive_fn (ctx unused). Alive when
 * kill(pid, 0) succeeds or fails with EPERM, the process is no zombie, and
 * its start time equals the recorded one (a recorded 0 matches any). A
 * string that is not "<pid>:<start>" names no aimeter process: dead. */
bool am_owner_alive(void *ctx, const char *owner);

/* Whether o may take a job owned by `owner`: NULL, o's own id, or a process
 * that o's liveness check calls dead. */
bool am_owner_claimable(const am_owner *o, const char *owner);

/* Parses "<pid>:<start>" (decimal, pid > 0). 0, or -1 when malformed. */
int am_owner_parse(const char *owner, long *pid, unsigned long long *start);

#endif
