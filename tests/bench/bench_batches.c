/* bench_batches: `aimeter batch --via batches` over a large file, against
 * the simulator's Message Batches endpoints: one provider batch of LINES
 * requests whose results (each answer stretched to 1 KB, so the results
 * file is over 100 MB at 100,000 lines) are read as a stream.
 *
 *   AIMETER_BIN=build/rel/aimeter bench_batches [LINES]   (default 100000)
 *
 * Runs the real binary on LINES/10 and on LINES distinct prompts, each into
 * a fresh ledger, and prints one figure a line: wall time, rate, the peak
 * resident memory of the aimeter process (getrusage of the child; the
 * simulator runs in this process, apart) and the size of the results the
 * simulator sent. Memory that stays well below the results' size, and
 * nearly flat from the small run to the large one, is the point. Every
 * line must come back ok, or the bench fails. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "benchrun.h"
#include "sim.h"
#include "tmpdir.h"

enum { ANSWER_BYTES = 1000 };

static long count_ok(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	char *line = NULL;
	size_t cap = 0;
	long ok = 0;
	while (getline(&line, &cap, f) > 0)
		ok += strstr(line, "\"status\":\"ok\"") != NULL;
	free(line);
	fclose(f);
	return ok;
}

struct result {
	double seconds;
	long rss_kb;
};

static int run(const char *bin, const char *dir, const char *url, long n, struct result *r)
{
	char in[700], out[700], err[700], cfg[700], db[700];
	snprintf(in, sizeof in, "%s/in-%ld.jsonl", dir, n);
	snprintf(out, sizeof out, "%s/out-%ld.jsonl", dir, n);
	snprintf(err, sizeof err, "%s/err-%ld.txt", dir, n);
	snprintf(cfg, sizeof cfg, "%s/config-%ld.json", dir, n);
	snprintf(db, sizeof db, "%s/ledger-%ld.db", dir, n);
	if (am_bench_write_lines(in, n))
		return fprintf(stderr, "bench_batches: cannot write %s\n", in), -1;
	FILE *c = fopen(cfg, "w");
	if (!c)
		return -1;
	fprintf(c, "{\"db\":\"%s\",\"budget\":{\"daily_usd\":\"0\"}}\n", db);
	fclose(c);

	char *const argv[] = { "aimeter", "batch", in, "--out", out, "--via", "batches",
		               "--poll-s", "0.2", NULL };
	if (am_bench_run(bin, argv, NULL, err, cfg, url, &r->seconds, &r->rss_kb))
		return -1;
	long ok = count_ok(out);
	if (ok != n)
		return fprintf(stderr, "bench_batches: %ld of %ld lines ok in %s\n", ok, n, out), -1;
	unlink(in);
	unlink(out);
	return 0;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
	const char *bin = getenv("AIMETER_BIN");
	if (n < 10 || n > 100000 || !bin || access(bin, X_OK)) {
		fprintf(stderr, "usage: AIMETER_BIN=path/to/aimeter bench_batches [10 <= LINES <= 100000]\n");
		return 2;
	}
	char dir[512];
	if (am_test_tmpdir("bench_batches", dir, sizeof dir))
		return 1;
	am_sim_cfg sc;
	am_sim_cfg_default(&sc);
	sc.output_bytes = ANSWER_BYTES;
	am_sim *sim;
	am_err e;
	if (am_sim_start(&sim, &sc, &e)) {
		fprintf(stderr, "bench_batches: %s\n", e.msg);
		return 1;
	}
	struct result small, large;
	int rc = run(bin, dir, am_sim_url(sim), n / 10, &small) ||
	         run(bin, dir, am_sim_url(sim), n, &large);
	am_sim_stats st;
	am_sim_get_stats(sim, &st);
	am_sim_stop(sim);
	if (!rc) {
		printf("batches_lines %ld lines\n", n);
		printf("batches_seconds %.1f s\n", large.seconds);
		printf("batches_rate %.0f lines/s\n", (double)n / large.seconds);
		printf("batches_peak_rss %.1f MB\n", (double)large.rss_kb / 1024.0);
		printf("batches_peak_rss_tenth %.1f MB\n", (double)small.rss_kb / 1024.0);
		printf("batches_results_size_min %.0f MB\n",
		       (double)(n * ANSWER_BYTES) / 1048576.0);
		printf("batches_requests %lld requests\n", (long long)st.batch_requests);
	}
	am_test_rmtree(dir);
	return rc ? 1 : 0;
}
