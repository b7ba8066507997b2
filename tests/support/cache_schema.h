/* cache_schema: the cache_entries table as the ledger creates it, for tests
 * of the cache that run without the ledger. */
#ifndef AIMETER_TEST_CACHE_SCHEMA_H
#define AIMETER_TEST_CACHE_SCHEMA_H

#include <sqlite3.h>

/* Opens a private in-memory database holding an empty cache_entries table
 * and its index. Returns NULL (after printing why) on failure. */
sqlite3 *am_test_cache_db(void);

#endif
