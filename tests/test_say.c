/* test_say: the sanitizing printer every command uses for text from
 * outside, and the all-or-nothing output file behind `batch --out`. */
#include <check.h>
#include <fcntl.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_run.h"
#include "outfile.h"
#include "say.h"

/* What am_say printed for a format and its arguments. */
#define SAID(out, ...)                                                                             \
	do {                                                                                       \
		size_t len_ = 0;                                                                   \
		FILE *f_ = open_memstream(&(out), &len_);                                          \
		ck_assert_ptr_nonnull(f_);                                                         \
		ck_assert_int_ge(am_say(f_, __VA_ARGS__), 0);                                      \
		fclose(f_);                                                                        \
	} while (0)

START_TEST(test_say_escapes_controls)
{
	char *s;
	SAID(s, "model %s\n", "x\033]0;PWNED\a\033[2J\r\nFORGED\xc2\x9b" "31m");
	ck_assert_str_eq(s, "model x^[]0;PWNED^G^[[2J^JFORGED\xef\xbf\xbd" "31m\n");
	free(s);
	/* Our own line end stays; text without one gets none. */
	SAID(s, "%s", "plain · text");
	ck_assert_str_eq(s, "plain · text");
	free(s);
	SAID(s, "%s\n", "a\nb\rc");
	ck_assert_str_eq(s, "a^Jb^Mc\n");
	free(s);
	/* Long text is not cut. */
	char big[5000];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	SAID(s, "%s", big);
	ck_assert_uint_eq(strlen(s), sizeof big - 1);
	free(s);
}
END_TEST

START_TEST(test_say_copy_cuts_whole_characters)
{
	char out[8];
	am_say_copy(out, sizeof out, "ab\033c\nd");
	ck_assert_str_eq(out, "ab^[c^J");
	am_say_copy(out, 6, "abcd\xc3\xa9"); /* é does not fit after abcd */
	ck_assert_str_eq(out, "abcd");
	am_say_copy(out, 1, "abc");
	ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(test_say_json_escapes_c1_and_del)
{
	json_t *o = json_pack("{s:s}", "m", "a\033b\x7f" "c\xc2\x9b" "d\xc3\xa9");
	char *s = am_say_json(o, JSON_COMPACT);
	ck_assert_str_eq(s, "{\"m\":\"a\\u001Bb\\u007Fc\\u009Bd\xc3\xa9\"}");
	json_t *back = json_loads(s, 0, NULL);
	ck_assert_ptr_nonnull(back);
	ck_assert(json_equal(o, back));
	json_decref(back);
	json_decref(o);
	free(s);
}
END_TEST

static char dir[64];

static void mkdir_tmp(void)
{
	snprintf(dir, sizeof dir, "/tmp/test_say.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void rm_tmp(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	static char buf[256];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

START_TEST(test_outfile_all_or_nothing)
{
	mkdir_tmp();
	char path[128], link[128];
	snprintf(path, sizeof path, "%s/out.jsonl", dir);
	snprintf(link, sizeof link, "%s/link.jsonl", dir);
	FILE *f = fopen(path, "w");
	fputs("old\n", f);
	fclose(f);
	chmod(path, 0640);
	ck_assert_int_eq(symlink(path, link), 0);
	am_outfile o;
	am_err err;
	/* Aborted: the old file stays, no temporary file is left. */
	ck_assert_int_eq(am_outfile_open(&o, link, &err), 0);
	fputs("half", o.f);
	am_outfile_abort(&o);
	ck_assert_str_eq(slurp(path), "old\n");
	/* Committed through the link: the target is replaced, the link and
	 * the mode kept. */
	ck_assert_int_eq(am_outfile_open(&o, link, &err), 0);
	ck_assert_int_eq(fcntl(fileno(o.f), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	fputs("new\n", o.f);
	ck_assert_str_eq(slurp(path), "old\n");
	ck_assert_int_eq(am_outfile_commit(&o, &err), 0);
	ck_assert_str_eq(slurp(path), "new\n");
	struct stat st;
	ck_assert_int_eq(lstat(link, &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0640);
	char cmd[160];
	snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) -eq 2", dir);
	ck_assert_int_eq(system(cmd), 0);
	/* The same file, by any name. */
	int fd = open(path, O_RDONLY);
	ck_assert(am_same_file(fd, path));
	ck_assert(am_same_file(fd, link));
	ck_assert(!am_same_file(fd, dir));
	snprintf(cmd, sizeof cmd, "%s/absent", dir);
	ck_assert(!am_same_file(fd, cmd));
	close(fd);
	/* A device is written in place, never replaced; a directory refused. */
	ck_assert_int_eq(am_outfile_open(&o, "/dev/null", &err), 0);
	fputs("gone\n", o.f);
	ck_assert_int_eq(am_outfile_commit(&o, &err), 0);
	ck_assert_int_eq(stat("/dev/null", &st), 0);
	ck_assert(S_ISCHR(st.st_mode));
	ck_assert_int_eq(am_outfile_open(&o, dir, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "directory"));
	am_outfile_abort(&o);
	/* A directory that does not exist: a clear error. */
	snprintf(cmd, sizeof cmd, "%s/no/such/out", dir);
	ck_assert_int_eq(am_outfile_open(&o, cmd, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "no/such/out"));
	am_outfile_abort(&o);
	rm_tmp();
}
END_TEST

static Suite *say_suite(void)
{
	Suite *s = suite_create("say");
	TCase *tc = tcase_create("say");
	tcase_add_test(tc, test_say_escapes_controls);
	tcase_add_test(tc, test_say_copy_cuts_whole_characters);
	tcase_add_test(tc, test_say_json_escapes_c1_and_del);
	suite_add_tcase(s, tc);
	tc = tcase_create("outfile");
	tcase_add_test(tc, test_outfile_all_or_nothing);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	setlocale(LC_CTYPE, "C.UTF-8");
	return check_run(say_suite());
}
