/* demo_engine: an in-process engine that needs no network, for
 * `aimeter dashboard --demo`, screen tests and benchmarks of the screen.
 *
 * It implements am_engine_ops with a worker thread of its own, so the UI
 * meets it exactly as it meets the real pipeline (snapshot copies, an event
 * queue, a wake pipe). Its figures are plausible and exact (the prices are
 * the published ones, in pUSD) but not real spend: the snapshot says
 * simulator = true and the header shows SIMULATOR.
 *
 * Scripted by the prompt text, so tests can reach every state:
 * - "429" in a prompt: its pool gets a 429 and a 4 s cool-down first;
 * - "fail": the call fails (HTTP 529 overloaded);
 * - "escape": the answer carries ESC sequences, BEL and a tab;
 * - "long": a long answer (for scrolling);
 * - otherwise a short answer that names the turn of the conversation.
 * Identical conversations are answered from its response cache.
 * Commands act on its limiter, budget and cache at once; a budget at or
 * below today's spend blocks new prompts until it is raised.
 *
 * Threads: ops may be called from one observer thread; the worker is
 * internal. Stop it with ui_demo_free. */
#ifndef AIMETER_UI_DEMO_ENGINE_H
#define AIMETER_UI_DEMO_ENGINE_H

#include "engine.h"

typedef struct ui_demo ui_demo;

/* Starts the demo engine (spawns its worker). Never NULL; aborts through
 * the OOM path only. */
ui_demo *ui_demo_new(void);

/* The engine interface; valid until ui_demo_free. */
const am_engine_ops *ui_demo_ops(ui_demo *d);

/* Stops the worker, drops what is queued, frees everything. */
void ui_demo_free(ui_demo *d);

#endif
