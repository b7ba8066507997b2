/* benchrun: see benchrun.h. */
#include "benchrun.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

double am_bench_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int am_bench_write_lines(const char *path, long n)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	for (long i = 1; i <= n; i++)
		fprintf(f, "{\"id\":\"q%ld\",\"prompt\":\"question number %ld\",\"max_tokens\":16}\n", i,
		        i);
	return fclose(f);
}

int am_bench_run(const char *bin, char *const argv[], const char *out_path, const char *err_path,
                 const char *cfg, const char *url, double *seconds, long *rss_kb)
{
	double t0 = am_bench_now_s();
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fe = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fe < 0 || dup2(fe, 2) < 0)
			_exit(127);
		if (out_path) {
			int fo = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
			if (fo < 0 || dup2(fo, 1) < 0)
				_exit(127);
		}
		setenv("AIMETER_CONFIG", cfg, 1);
		setenv("ANTHROPIC_BASE_URL", url, 1);
		setenv("ANTHROPIC_API_KEY", "sk-bench", 1);
		execv(bin, argv);
		_exit(127);
	}
	int status;
	struct rusage ru;
	if (wait4(pid, &status, 0, &ru) < 0)
		return -1;
	*seconds = am_bench_now_s() - t0;
	*rss_kb = ru.ru_maxrss;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "%s exited %d (see %s)\n", argv[0],
		        WIFEXITED(status) ? WEXITSTATUS(status) : -1, err_path);
		return -1;
	}
	return 0;
}
