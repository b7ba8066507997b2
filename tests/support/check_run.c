/* check_run: see check_run.h. */
#include "check_run.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

bool check_utf8_locale(void)
{
	if (setlocale(LC_CTYPE, "C.UTF-8") || setlocale(LC_CTYPE, "en_US.UTF-8"))
		return true;
	fprintf(stderr, "no UTF-8 locale available\n");
	return false;
}

void check_fixed_tz(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
}

int check_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
