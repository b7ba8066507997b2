/* suite_run: runs one Check suite and turns the result into an exit status. */
#include "suite_run.h"

#include <stdlib.h>

int am_test_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
