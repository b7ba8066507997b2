/* jobmarks: progress states (waiting_limit, in_flight) written in bulk.
 *
 * The worker notes the states its jobs reach during a pass and writes them
 * together inside its pass transaction. A mark moves only a job that is
 * still unfinished: a job that has since ended keeps its final state.
 * Also the connection state the pass transaction needs.
 *
 * Threads: the connection's thread only. */
#ifndef AIMETER_JOBMARKS_H
#define AIMETER_JOBMARKS_H

#include <stdbool.h>
#include <stdint.h>

#include "ledger.h"
#include "queue.h"

typedef struct am_job_marks am_job_marks;

/* The statement is prepared at the first write. Never NULL. */
am_job_marks *am_job_marks_new(am_ledger *l);
void am_job_marks_free(am_job_marks *m);

/* Moves job id to state st (model, reason: NULL = keep), stamped now_ns,
 * unless it has ended. Returns 0, or -1 + err when the statement cannot be
 * prepared or run. */
int am_job_marks_write(am_job_marks *m, int64_t id, am_job_state st, const char *model,
                       const char *reason, int64_t now_ns, am_err *err);

/* True while an explicit transaction is open on the ledger's connection
 * (false once SQLite rolled one back by itself after an error). */
bool am_ledger_in_transaction(am_ledger *l);

#endif
