/* scratch: a fresh ledger in a private directory, for suites that look at
 * what is stored in it. */
#ifndef AIMETER_TEST_SCRATCH_H
#define AIMETER_TEST_SCRATCH_H

#include <sqlite3.h>

#include "err.h"
#include "ledger.h"

typedef struct am_scratch {
	char dir[512];     /* the directory (removed by am_scratch_close) */
	char path[600];    /* dir/aimeter.db */
	am_ledger *led;
	sqlite3 *db;       /* led's connection */
} am_scratch;

/* Makes the directory (tag names it) and opens the ledger. -1 + err. */
int am_scratch_open(am_scratch *s, const char *tag, am_err *err);

/* Closes the ledger and removes the directory. */
void am_scratch_close(am_scratch *s);

#endif
