/* The worker's text log: private file, one whole line per write. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check_run.h"
#include "log.h"
#include "tmpdir.h"

START_TEST(lines_are_stamped_private_and_single)
{
	char dir[512], path[600];
	ck_assert_int_eq(am_test_tmpdir("log", dir, sizeof dir), 0);
	snprintf(path, sizeof path, "%s/sub/aimeter.log", dir);
	am_log *l;
	am_err err;
	ck_assert_int_eq(am_log_open(&l, path, &err), 0);
	am_log_write(l, 1764340327LL * 1000000000LL, "job %d failed:\nsecond line", 7);
	am_log_write(NULL, 0, "ignored");
	am_log_close(l);
	ck_assert_int_eq(am_log_open(&l, path, &err), 0); /* appends */
	am_log_write(l, 0, "again");
	am_log_close(l);

	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	FILE *f = fopen(path, "r");
	char a[256], b[256];
	ck_assert_ptr_nonnull(fgets(a, sizeof a, f));
	ck_assert_ptr_nonnull(fgets(b, sizeof b, f));
	ck_assert_ptr_null(fgets(b + 100, 100, f));
	fclose(f);
	ck_assert_str_eq(a, "2025-11-28T14:32:07Z job 7 failed: second line\n");
	ck_assert_str_eq(b, "1970-01-01T00:00:00Z again\n");
	am_test_rmtree(dir);
}
END_TEST

START_TEST(unwritable_path_is_a_clear_error)
{
	am_log *l;
	am_err err = {0};
	ck_assert_int_eq(am_log_open(&l, "/proc/aimeter-no/x.log", &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "/proc/aimeter-no"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, lines_are_stamped_private_and_single);
	tcase_add_test(tc, unwritable_path_is_a_clear_error);
	suite_add_tcase(s, tc);
	return check_run(s);
}
