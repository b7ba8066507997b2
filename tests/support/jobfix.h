/* jobfix: what the queue tests need around their jobs. */
#ifndef AIMETER_TEST_JOBFIX_H
#define AIMETER_TEST_JOBFIX_H

#include <stdint.h>

#include <sqlite3.h>

#include "err.h"
#include "ledger.h"
#include "queue.h"

/* Adds a job (request "{\"messages\":[]}") owned by `owner` (NULL =
 * nobody) with batch key `key` (may be NULL) at ts_ns, and sets its state
 * to `st`. Returns its id; a failure fails the test, with the store's
 * message. */
int64_t am_test_add_job(sqlite3 *db, const char *owner, const char *key, am_job_state st,
                        int64_t ts_ns);

/* Records a small priced Haiku answer (10 in, 5 out, 1000 pUSD) for job_id
 * at ts_ns: the ledger row that proves the job's call completed. Returns
 * what am_ledger_record returns. */
int am_test_record_answer(am_ledger *l, int64_t job_id, int64_t ts_ns, am_err *err);

#endif
