/* check_run: the shared main() body of the Check suites of the UI. */
#ifndef AIMETER_TEST_CHECK_RUN_H
#define AIMETER_TEST_CHECK_RUN_H

#include <check.h>
#include <stdbool.h>

/* Sets an UTF-8 LC_CTYPE (C.UTF-8 or en_US.UTF-8), as the UI does at start,
 * so wcwidth measures wide characters. False when none exists. */
bool check_utf8_locale(void);

/* Runs the suite (taking ownership), prints the results, and returns the
 * process exit status: 0 when every test passed. */
int check_run(Suite *s);

#endif
