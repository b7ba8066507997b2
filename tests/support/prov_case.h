/* prov_case: one provider fixture case under tests/fixtures/anthropic.
 *
 * A case is <name>.json or <name>.sse (the response body, copied from
 * the provider's documented examples), an optional <name>.headers (raw response header lines) and
 * <name>.want (a JSON object of expectations: status, ok | error,
 * retryable, text, model, usage, rl, retry_after_ns, events, ...). */
#ifndef AIMETER_TEST_PROV_CASE_H
#define AIMETER_TEST_PROV_CASE_H

#include <jansson.h>
#include <stdbool.h>

#include "anthropic.h"

typedef struct am_test_case {
	char name[128];
	char *body;
	size_t len;
	bool sse;
	char *headers; /* NULL when the case has none */
	json_t *want;
	int status;
	am_prov_endpoint ep;
} am_test_case;

/* Loads dir/file (a .json or .sse body) and its siblings; fails the test when
 * the .want file is missing or malformed. */
void am_test_case_load(am_test_case *c, const char *dir, const char *file);
void am_test_case_free(am_test_case *c);

/* Feeds a status line and the case's header lines into h, then finishes it
 * with now_wall_ns = 0. */
void am_test_case_headers(const am_test_case *c, am_prov_headers *h);

/* Runs the whole case the way the client does: headers, then the body as a
 * stream (fed in the given chunk sizes: chunk 0 = all at once) or as one
 * JSON response. Fills r (caller frees it). */
void am_test_case_run(const am_test_case *c, size_t chunk, am_prov_result *r);

/* Asserts r matches every expectation in the .want file. */
void am_test_case_check(const am_test_case *c, const am_prov_result *r);

/* Wall ns of "YYYY-MM-DDTHH:MM:SSZ" computed with timegm(), an independent
 * check on the parser under test. */
int64_t am_test_utc_ns(const char *iso);

#endif
