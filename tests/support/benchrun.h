/* benchrun: what the benchmarks that drive the real binary share - the
 * monotonic clock in seconds, a file of distinct prompts, and one run of
 * aimeter in a child process with its wall time and peak memory. */
#ifndef AIMETER_TEST_BENCHRUN_H
#define AIMETER_TEST_BENCHRUN_H

double am_bench_now_s(void);

/* Writes n lines {"id":"q<i>","prompt":"question number <i>","max_tokens":16}.
 * 0, or -1. */
int am_bench_write_lines(const char *path, long n);

/* Runs bin with argv (argv[0] included, NULL-terminated) in a child whose
 * stdout goes to out_path (NULL = unchanged) and stderr to err_path, with
 * AIMETER_CONFIG=cfg, ANTHROPIC_BASE_URL=url and a bench API key. Fills
 * the wall time and the child's peak RSS. 0 when it exited 0, else -1
 * after printing the status. */
int am_bench_run(const char *bin, char *const argv[], const char *out_path, const char *err_path,
                 const char *cfg, const char *url, double *seconds, long *rss_kb);

#endif
