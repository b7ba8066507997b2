/* pipefix: the fixture of the end-to-end pipeline tests. A private
 * directory (home, config, database), the simulator running in the test's
 * own process (so the test reads its counters with am_sim_get_stats), and a
 * runner for the real `aimeter` binary ($AIMETER_BIN) pointed at it through
 * ANTHROPIC_BASE_URL, with its exit status and output captured.
 *
 * Also the test's own look-ups, written apart from the code under test: SQL
 * on the ledger file, and per-token prices read straight from
 * data/pricing.json with a decimal parser of its own. */
#ifndef AIMETER_TEST_PIPEFIX_H
#define AIMETER_TEST_PIPEFIX_H

#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include "sim.h"

typedef struct am_pf {
	char dir[512];
	char db[600];
	char config[600];
	char key[64];        /* ANTHROPIC_API_KEY the runs use */
	am_sim *sim;
	char out[600];       /* stdout of the last run (a file) */
	char err[600];       /* stderr of the last run (a file) */
} am_pf;

/* Makes the directory and writes `config_json` as the config file (NULL =
 * "{}"). Fails the test on error. */
void am_pf_init(am_pf *f, const char *tag, const char *config_json);

/* Starts the in-process simulator (replacing a running one). */
void am_pf_start_sim(am_pf *f, const am_sim_cfg *cfg);
void am_pf_stop_sim(am_pf *f);

/* Writes `text` to dir/name and returns the path (static per call site:
 * copy it before the next call). */
const char *am_pf_write(am_pf *f, const char *name, const char *text);

/* Runs $AIMETER_BIN with argv (argv[0] is the subcommand; NULL-terminated)
 * in the fixture's environment: HOME, XDG_* and AIMETER_DB/AIMETER_CONFIG
 * inside the directory, ANTHROPIC_BASE_URL = the simulator,
 * ANTHROPIC_API_KEY = f->key (none when empty). stdin comes from `in_path`
 * (NULL = /dev/null). stdout and stderr go to f->out and f->err. Fails the
 * test if the process runs longer than timeout_s; returns its exit status
 * (128 + signal when killed). */
int am_pf_run(am_pf *f, const char *in_path, int timeout_s, const char *const *argv);

/* Like am_pf_run, without waiting: returns the child's pid. */
int am_pf_spawn(am_pf *f, const char *in_path, const char *const *argv);
/* Waits up to timeout_s for pid; returns its status as am_pf_run does, or
 * -1 on timeout (the child is then still running). */
int am_pf_wait(int pid, int timeout_s);

/* The whole of a file (heap, NUL-terminated; "" when missing). */
char *am_pf_slurp(const char *path);

/* A read-only connection to the ledger (fails the test when it cannot
 * open), and one-integer queries on it (printf-style SQL). */
sqlite3 *am_pf_db(am_pf *f);
int64_t am_pf_i64(sqlite3 *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prices per token in pUSD, straight from data/pricing.json (the model or
 * its alias): input, output, 5-minute and 1-hour cache writes, cache
 * reads. Fails the test for an unknown model or an inexact price. */
typedef struct am_pf_price {
	int64_t in, out, cw5m, cw1h, cr;
	int64_t long_above; /* 0 = no long-context prices */
} am_pf_price;
void am_pf_price_of(const char *model, am_pf_price *p);

/* Σ cost of every usage_events row recomputed from its tokens and
 * data/pricing.json (cached rows count 0), and the ledger's own Σ
 * cost_pusd. Fails the test when a row's model has no price. */
void am_pf_ledger_costs(sqlite3 *db, int64_t *recomputed, int64_t *recorded);

/* Removes the directory and stops the simulator. */
void am_pf_free(am_pf *f);

#endif
