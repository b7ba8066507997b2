/* jobfix: jobs in a given state, and a ledger row standing for a job's answer. */
#include "jobfix.h"

#include <check.h>

int am_test_record_answer(am_ledger *l, int64_t job_id, int64_t ts_ns, am_err *err)
{
	am_ledger_event ev = {
		.job_id = job_id, .ts_ns = ts_ns, .model = "claude-haiku-4-5",
		.usage = { .input_tokens = 10, .output_tokens = 5 },
		.price_known = true, .cost_pusd = 1000, .latency_ms = -1, .source = "batch",
	};
	return am_ledger_record(l, &ev, err);
}

int64_t am_test_add_job(sqlite3 *db, const char *owner, const char *key, am_job_state st,
                        int64_t ts_ns)
{
	am_err err = {0};
	int64_t id = 0;
	if (am_queue_add(db, owner, key, "{\"messages\":[]}", NULL, 0, ts_ns, &id, NULL, &err) != 0 ||
	    (st != AM_JOB_QUEUED &&
	     am_queue_update(db, id, st, NULL, NULL, NULL, NULL, 0, ts_ns, &err) != 0))
		id = -1;
	ck_assert_msg(id > 0, "%s", err.msg);
	return id;
}
