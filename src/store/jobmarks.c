/* jobmarks: progress states written in bulk (jobmarks.h). */
#include "jobmarks.h"

#include <stdlib.h>

#include <sqlite3.h>

#include "log.h"

struct am_job_marks {
	am_ledger *ledger;
	sqlite3_stmt *st;
};

am_job_marks *am_job_marks_new(am_ledger *l)
{
	am_job_marks *m = am_xcalloc(1, sizeof *m);
	m->ledger = l;
	return m;
}

void am_job_marks_free(am_job_marks *m)
{
	if (!m)
		return;
	sqlite3_finalize(m->st);
	free(m);
}

int am_job_marks_write(am_job_marks *m, int64_t id, am_job_state st, const char *model,
                       const char *reason, int64_t now_ns, am_err *err)
{
	sqlite3 *db = am_ledger_db(m->ledger);
	int rc;
	if (!m->st &&
	    (rc = sqlite3_prepare_v3(db,
	                             /* Not "state IN (...)": SQLite builds a temporary
	                              * table for a list of more than two values on every
	                              * run, and freeing it made glibc give pages back to
	                              * the kernel (madvise) and fault them in again on
	                              * every call. */
	                             "UPDATE jobs SET state=?1, model=coalesce(?2, model), "
	                             "reason=coalesce(?3, reason), updated_ns=?4 WHERE id=?5 AND "
	                             "state <> 'done' AND state <> 'failed' AND "
	                             "state <> 'cancelled' AND state <> 'blocked_budget'",
	                             -1, SQLITE_PREPARE_PERSISTENT, &m->st, NULL)) != SQLITE_OK) {
		m->st = NULL;
		return am_ledger_sqlite_error(db, rc, "preparing the job states", err);
	}
	sqlite3_bind_text(m->st, 1, am_job_state_name(st), -1, SQLITE_STATIC);
	sqlite3_bind_text(m->st, 2, model, -1, SQLITE_STATIC);
	sqlite3_bind_text(m->st, 3, reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(m->st, 4, now_ns);
	sqlite3_bind_int64(m->st, 5, id);
	rc = sqlite3_step(m->st);
	sqlite3_reset(m->st);
	if (rc != SQLITE_DONE)
		return am_ledger_sqlite_error(db, rc, "writing job states", err);
	return 0;
}

bool am_ledger_in_transaction(am_ledger *l)
{
	return !sqlite3_get_autocommit(am_ledger_db(l));
}
