/* demo: what `aimeter dashboard --demo` runs. The real pipeline - the same
 * worker, selector, cache, budget guard, limiter, client and ledger the
 * dashboard uses - against the in-process simulator, fed by a scripted
 * load so that every panel moves within seconds:
 *  - a varied stream of prompts (short ones go to Haiku, longer ones to
 *    Sonnet and Opus by the selector's rules; some repeat an earlier prompt
 *    word for word, so the response cache answers them);
 *  - limits low enough that the buckets visibly drain and refill and the
 *    queue head sometimes waits;
 *  - a small daily budget, so its alerts fire, the selector downgrades and
 *    calls are blocked; the demo then raises the budget itself;
 *  - now and then the simulator lowers its request limit for a few seconds,
 *    and the calls the limiter had already let through meet 429s.
 * Its steps appear in the console as "demo:" notices.
 *
 * It never touches the user's files: the configuration is built in (no
 * config file, no environment), the prices are the shipped table without
 * the user's overrides, and the ledger is a private temporary directory
 * removed by am_demo_stop. No API key is read or sent.
 *
 * The load generator is a layer over the worker's engine ops, and
 * am_demo_ops is again an am_engine_ops: everything passes through to the
 * worker, and the script's due steps run inside snapshot and drain, on the
 * observer's thread (the engine contract has one observer thread). Its
 * wake fd is an epoll set of the worker's wake fd and a timer for the next
 * step, so an observer that waits on it wakes for either.
 *
 * Threads: am_demo_ops functions, like the worker's, from one observer
 * thread; start and stop from the same thread. */
#ifndef AIMETER_CLI_DEMO_H
#define AIMETER_CLI_DEMO_H

#include "config.h"
#include "engine.h"

typedef struct am_demo am_demo;

/* Creates the temporary ledger and starts the simulator and the worker as
 * the dashboard does (app.h). The script's clock starts now. NULL after
 * printing why on stderr; nothing is left behind. */
am_demo *am_demo_start(void);

/* The engine the UI watches. Valid until am_demo_stop. */
am_engine_ops am_demo_ops(am_demo *d);

/* The configuration the demo runs with (the selector's tiers, ui.*). */
const am_config *am_demo_config(const am_demo *d);

/* Scripted prompts submitted so far (tests). */
int am_demo_submitted(const am_demo *d);

/* Stops the worker (calls in flight are dropped), the simulator, and
 * removes the temporary ledger. Safe with NULL. */
void am_demo_stop(am_demo *d);

#endif
