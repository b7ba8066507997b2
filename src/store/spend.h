/* spend: the ledger reads that keep a running budget in step with the
 * ledger, for the worker (which keeps today's totals and the budget in
 * memory and must count what other processes record on the same file).
 *
 * Every function runs on the ledger's thread, on its connection. */
#ifndef AIMETER_SPEND_H
#define AIMETER_SPEND_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "ledger.h"
#include "usage.h"

/* One usage_events row, as the budget counts it. Strings are valid during
 * the callback only; day and model may be NULL. cost_pusd is 0 when the
 * price was unknown. */
typedef struct am_spend_row {
	int64_t id;
	const char *day;
	int64_t ts_ns;
	const char *model;
	am_usage usage;
	int64_t cost_pusd;
	bool price_known;
	const char *tag;          /* NULL = untagged */
} am_spend_row;

typedef void (*am_spend_row_fn)(void *ctx, const am_spend_row *row);

/* Calls fn for each usage_events row with id > after, ascending by id, at
 * most max rows (a range of the integer primary key). Returns the rows
 * read, or -1 + err when the ledger cannot be read (fn may have run for
 * some rows first). */
int am_spend_rows_after(am_ledger *l, int64_t after, int max, am_spend_row_fn fn, void *ctx,
                        am_err *err);

/* In one read transaction: *mark = the highest usage_events id (0 when
 * none), then fn(ctx, err). What fn reads is the snapshot *mark was taken
 * from, so a row is either at or below the mark and in what fn read, or
 * above it. Returns 0, or -1 + err (fn's failure passed on). */
int am_spend_marked(am_ledger *l, int64_t *mark, int (*fn)(void *ctx, am_err *err), void *ctx,
                    am_err *err);

/* Calls fn(ctx, ts_ns, cost_pusd) for the rows with ts_ns >= since_ns, a
 * cost above zero and id <= upto (by the ts_ns index). 0, or -1 + err. */
int am_spend_recent(am_ledger *l, int64_t since_ns, int64_t upto,
                    void (*fn)(void *ctx, int64_t ts_ns, int64_t cost_pusd), void *ctx,
                    am_err *err);

/* The rowid of the last row inserted on the ledger's connection (the
 * usage_events id of a call just recorded). */
int64_t am_spend_last_row(am_ledger *l);

#endif
