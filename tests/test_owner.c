/* test_owner: owner strings and the real liveness check, on real
 * processes: this one, a child that runs, the same child as a zombie and
 * once reaped, a pid whose start time does not match (a reused pid), and
 * strings that name no process. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "owner.h"
#include "check_run.h"

/* The start time of pid, field 22 of /proc/<pid>/stat, read here with
 * sscanf (the module counts fields after the last ')'). */
static unsigned long long start_of(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s", path);
	unsigned long long start = 0;
	int got = fscanf(f,
	                 "%*d (%*[^)]) %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d "
	                 "%*d %*d %*d %*d %llu",
	                 &start);
	fclose(f);
	ck_assert_int_eq(got, 1);
	return start;
}

static char *owner_str(pid_t pid, unsigned long long start, char buf[AM_OWNER_MAX])
{
	snprintf(buf, AM_OWNER_MAX, "%d:%llu", (int)pid, start);
	return buf;
}

START_TEST(parse_accepts_only_pid_colon_start)
{
	long pid;
	unsigned long long start;
	ck_assert_int_eq(am_owner_parse("123:456", &pid, &start), 0);
	ck_assert_int_eq(pid, 123);
	ck_assert(start == 456);
	ck_assert_int_eq(am_owner_parse("1:0", &pid, &start), 0);
	ck_assert_int_eq(am_owner_parse("2147483647:18446744073709551615", &pid, &start), 0);
	ck_assert(start == 18446744073709551615ULL);
	const char *bad[] = { "", "0:5", "-1:5", "12", "12:", "12:x", "12:5x", "a:1", " 1:2",
		              "2147483648:1", "1:18446744073709551616", "1:-3", "1:+3", "01:2" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(am_owner_parse(bad[i], &pid, &start) == -1, "'%s' parsed", bad[i]);
	ck_assert_int_eq(am_owner_parse(NULL, &pid, &start), -1);
}
END_TEST

START_TEST(self_is_pid_and_start_time_and_alive)
{
	am_owner o;
	am_owner_self(&o);
	char want[AM_OWNER_MAX];
	ck_assert_str_eq(o.id, owner_str(getpid(), start_of(getpid()), want));
	ck_assert(o.alive == NULL);
	ck_assert(am_owner_alive(NULL, o.id));
	/* Our own jobs and nobody's are ours to take; a live other's is not. */
	ck_assert(am_owner_claimable(&o, o.id));
	ck_assert(am_owner_claimable(&o, NULL));
	char parent[AM_OWNER_MAX];
	owner_str(getppid(), start_of(getppid()), parent);
	ck_assert(am_owner_alive(NULL, parent));
	ck_assert(!am_owner_claimable(&o, parent));
}
END_TEST

START_TEST(a_reused_pid_is_dead)
{
	char s[AM_OWNER_MAX];
	unsigned long long start = start_of(getpid());
	ck_assert(!am_owner_alive(NULL, owner_str(getpid(), start + 1, s)));
	ck_assert(!am_owner_alive(NULL, owner_str(getpid(), start - 1, s)));
	/* Start 0: written where /proc could not be read; the pid decides. */
	ck_assert(am_owner_alive(NULL, owner_str(getpid(), 0, s)));
}
END_TEST

START_TEST(a_child_is_alive_then_dead_as_zombie_and_reaped)
{
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char c;
		close(fds[1]);
		while (read(fds[0], &c, 1) < 0)
			;
		_exit(0);
	}
	close(fds[0]);
	char s[AM_OWNER_MAX];
	owner_str(pid, start_of(pid), s);
	ck_assert(am_owner_alive(NULL, s));
	am_owner me;
	am_owner_self(&me);
	ck_assert(!am_owner_claimable(&me, s));

	/* Ended, not yet reaped: a zombie sends nothing more. */
	close(fds[1]);
	siginfo_t si;
	memset(&si, 0, sizeof si);
	ck_assert_int_eq(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
	ck_assert_int_eq(kill(pid, 0), 0); /* the pid still exists */
	ck_assert(!am_owner_alive(NULL, s));
	ck_assert(am_owner_claimable(&me, s));

	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	ck_assert(!am_owner_alive(NULL, s));
}
END_TEST

START_TEST(another_users_process_counts_as_alive)
{
	/* pid 1 runs as root: kill(1, 0) fails with EPERM for anyone else. */
	char s[AM_OWNER_MAX];
	ck_assert(am_owner_alive(NULL, owner_str(1, start_of(1), s)));
	ck_assert(!am_owner_alive(NULL, owner_str(1, start_of(1) + 7, s)));
}
END_TEST

START_TEST(strings_that_name_no_process_are_dead)
{
	ck_assert(!am_owner_alive(NULL, ""));
	ck_assert(!am_owner_alive(NULL, "garbage"));
	ck_assert(!am_owner_alive(NULL, "0:1"));
	/* Larger than any pid Linux hands out (pid_max is at most 2^22). */
	ck_assert(!am_owner_alive(NULL, "2147483646:1"));
	am_owner me;
	am_owner_self(&me);
	ck_assert(am_owner_claimable(&me, "garbage"));
}
END_TEST

static int calls;
static bool never_alive(void *ctx, const char *owner)
{
	(void)owner;
	ck_assert_ptr_eq(ctx, &calls);
	calls++;
	return false;
}

START_TEST(an_injected_check_decides)
{
	am_owner o = { "5:5", never_alive, &calls, NULL };
	am_owner me;
	am_owner_self(&me);
	/* Judged dead by the injected check, though the process runs. */
	ck_assert(am_owner_claimable(&o, me.id));
	ck_assert_int_eq(calls, 1);
	ck_assert(am_owner_claimable(&o, "5:5"));
	ck_assert(am_owner_claimable(&o, NULL));
	ck_assert_int_eq(calls, 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("owner");
	TCase *tc = tcase_create("owner");
	tcase_add_test(tc, parse_accepts_only_pid_colon_start);
	tcase_add_test(tc, self_is_pid_and_start_time_and_alive);
	tcase_add_test(tc, a_reused_pid_is_dead);
	tcase_add_test(tc, a_child_is_alive_then_dead_as_zombie_and_reaped);
	tcase_add_test(tc, another_users_process_counts_as_alive);
	tcase_add_test(tc, strings_that_name_no_process_are_dead);
	tcase_add_test(tc, an_injected_check_decides);
	suite_add_tcase(s, tc);
	return check_run(s);
}
