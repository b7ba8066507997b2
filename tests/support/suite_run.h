/* suite_run: the main() every Check suite would otherwise repeat. */
#ifndef AIMETER_TEST_SUITE_RUN_H
#define AIMETER_TEST_SUITE_RUN_H

#include <check.h>

/* Runs the suite (CK_NORMAL output), frees it, and returns the process exit
 * status: EXIT_SUCCESS when every test passed. */
int am_test_run_suite(Suite *s);

#endif
