/* bench_batch: `aimeter batch` over a large file (batches of
 * 100k lines), against the simulator with no limits and no latency.
 *
 *   AIMETER_BIN=build/release/aimeter bench_batch [LINES]   (default 100000)
 *
 * Runs the real binary twice, on LINES/10 and on LINES distinct prompts,
 * each into a fresh ledger, and prints one figure a line: wall time, rate,
 * the peak resident memory of the aimeter process (getrusage of the
 * child) and the ledger's size. Memory that stays nearly flat from the
 * small run to the large one is the point: the queue holds at most
 * worker.queue_capacity jobs and the answers wait in the ledger, not in
 * memory. Every line must come back ok, in order, or the bench fails. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "benchrun.h"
#include "sim.h"
#include "tmpdir.h"

/* Counts lines, and lines carrying "status":"ok" with the id in order. */
static int check_output(const char *path, long n, long *ok)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	char *line = NULL;
	size_t cap = 0;
	long i = 0;
	*ok = 0;
	while (getline(&line, &cap, f) > 0) {
		i++;
		char want[64];
		snprintf(want, sizeof want, "{\"id\":\"q%ld\",\"status\":\"ok\"", i);
		if (!strncmp(line, want, strlen(want)))
			(*ok)++;
	}
	free(line);
	fclose(f);
	return i == n ? 0 : -1;
}

struct result {
	double seconds;
	long rss_kb;
	long ok;
	double db_mb;
};

static int run(const char *bin, const char *dir, const char *url, long n, struct result *r)
{
	char in[700], out[700], err[700], cfg[700], db[700], wal[720];
	snprintf(in, sizeof in, "%s/in-%ld.jsonl", dir, n);
	snprintf(out, sizeof out, "%s/out-%ld.jsonl", dir, n);
	snprintf(err, sizeof err, "%s/err-%ld.txt", dir, n);
	snprintf(cfg, sizeof cfg, "%s/config-%ld.json", dir, n);
	snprintf(db, sizeof db, "%s/ledger-%ld.db", dir, n);
	snprintf(wal, sizeof wal, "%s-wal", db);
	if (am_bench_write_lines(in, n))
		return fprintf(stderr, "bench_batch: cannot write %s\n", in), -1;
	FILE *c = fopen(cfg, "w");
	if (!c)
		return -1;
	fprintf(c, "{\"db\":\"%s\",\"limits\":{\"rpm\":0,\"itpm\":0,\"otpm\":0},"
	           "\"budget\":{\"daily_usd\":\"0\"}}\n", db);
	fclose(c);

	char *const argv[] = { "aimeter", "batch", "--no-cache", in, NULL };
	if (am_bench_run(bin, argv, out, err, cfg, url, &r->seconds, &r->rss_kb))
		return -1;
	if (check_output(out, n, &r->ok) || r->ok != n)
		return fprintf(stderr, "bench_batch: %ld of %ld lines ok in %s\n", r->ok, n, out), -1;
	struct stat st;
	r->db_mb = 0;
	if (stat(db, &st) == 0)
		r->db_mb += (double)st.st_size / 1048576.0;
	if (stat(wal, &st) == 0)
		r->db_mb += (double)st.st_size / 1048576.0;
	unlink(in);
	unlink(out);
	return 0;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
	const char *bin = getenv("AIMETER_BIN");
	if (n < 10 || !bin || access(bin, X_OK)) {
		fprintf(stderr, "usage: AIMETER_BIN=path/to/aimeter bench_batch [LINES >= 10]\n");
		return 2;
	}
	char dir[512];
	if (am_test_tmpdir("bench_batch", dir, sizeof dir))
		return 1;
	am_sim_cfg sc;
	am_sim_cfg_default(&sc);
	am_sim *sim;
	am_err e;
	if (am_sim_start(&sim, &sc, &e)) {
		fprintf(stderr, "bench_batch: %s\n", e.msg);
		return 1;
	}
	struct result small, large;
	int rc = run(bin, dir, am_sim_url(sim), n / 10, &small) ||
	         run(bin, dir, am_sim_url(sim), n, &large);
	am_sim_stop(sim);
	if (!rc) {
		printf("batch_lines %ld lines\n", n);
		printf("batch_seconds %.1f s\n", large.seconds);
		printf("batch_rate %.0f lines/s\n", (double)n / large.seconds);
		printf("batch_peak_rss %.1f MB\n", (double)large.rss_kb / 1024.0);
		printf("batch_peak_rss_tenth %.1f MB\n", (double)small.rss_kb / 1024.0);
		printf("batch_rate_tenth %.0f lines/s\n", (double)(n / 10) / small.seconds);
		printf("batch_ledger_size %.1f MB\n", large.db_mb);
	}
	am_test_rmtree(dir);
	return rc ? 1 : 0;
}
