/* fake_engine: a scripted am_engine_ops for tests of the dashboard.
 *
 * The test sets the snapshot and pushes events by hand; the fake records
 * every command and prompt it is given and can be told to refuse them. No
 * thread: everything happens on the test's thread, so tests stay
 * deterministic. The wake fd is a real pipe written by fake_engine_publish
 * and fake_engine_push, so a loop under test can poll it. */
#ifndef AIMETER_TEST_FAKE_ENGINE_H
#define AIMETER_TEST_FAKE_ENGINE_H

#include <stdbool.h>

#include "engine.h"

enum { FAKE_MAX_EVENTS = 256, FAKE_MAX_CMDS = 64, FAKE_MAX_TURNS = 64 };

typedef struct fake_engine {
	am_engine_ops ops;
	am_snapshot snap;           /* what snapshot() returns; edit, then publish */
	am_event events[FAKE_MAX_EVENTS];
	int nevents, head;
	am_command cmds[FAKE_MAX_CMDS]; /* commands received, in order */
	int ncmds;
	int nsubmits;
	int nturns;                 /* the last prompt's turns, copied */
	char *turn_role[FAKE_MAX_TURNS], *turn_text[FAKE_MAX_TURNS];
	bool last_stream;
	char last_tag[AM_TAG_MAX + 1]; /* the last prompt's tag; "" = none */
	int64_t next_id;
	const char *refuse_commands; /* non-NULL: command() fails with this */
	const char *refuse_submit;   /* non-NULL: submit() fails with this */
	int wake[2];
} fake_engine;

void fake_engine_init(fake_engine *f);
void fake_engine_free(fake_engine *f);

/* Bumps the snapshot sequence and signals the wake fd. */
void fake_engine_publish(fake_engine *f);

/* Queues an event (text is copied; NULL for none) and signals. */
void fake_engine_push(fake_engine *f, am_event_kind kind, int64_t job_id, const char *text);

/* Queues a finished job's DONE event with usage and cost. */
void fake_engine_push_done(fake_engine *f, int64_t job_id, const char *model, int64_t in,
                           int64_t out, int64_t cost_pusd, int64_t latency_ms, bool cached);

/* Adds a pool with RPM, ITPM and OTPM dimensions at full level. */
void fake_engine_add_pool(fake_engine *f, const char *name, int64_t rpm, int64_t itpm,
                          int64_t otpm);

#endif
