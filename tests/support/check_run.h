/* check_run: the shared main() body of the Check suites of the UI. */
#ifndef AIMETER_TEST_CHECK_RUN_H
#define AIMETER_TEST_CHECK_RUN_H

#include <check.h>
#include <stdbool.h>

/* Sets an UTF-8 LC_CTYPE (C.UTF-8 or en_US.UTF-8), as the UI does at start,
 * so wcwidth measures wide characters. False when none exists. */
bool check_utf8_locale(void);

/* Fixes TZ to UTC before any thread starts. With TZ unset, glibc's mktime
 * and tzset re-read the zone on every call, freeing and copying its name
 * under a lock TSan cannot see, so two threads converting local times (two
 * workers, two ledgers being opened) would look like a race. Local days are
 * UTC days in such a suite. */
void check_fixed_tz(void);

/* Runs the suite (taking ownership), prints the results, and returns the
 * process exit status: 0 when every test passed. */
int check_run(Suite *s);

#endif
