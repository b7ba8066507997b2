/* pipefix: a private world for one end-to-end run of the real binary. */
#include "pipefix.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "fixture_files.h"
#include "tmpdir.h"

extern char **environ;

void am_pf_init(am_pf *f, const char *tag, const char *config_json)
{
	memset(f, 0, sizeof *f);
	ck_assert_int_eq(am_test_tmpdir(tag, f->dir, sizeof f->dir), 0);
	snprintf(f->db, sizeof f->db, "%s/aimeter.db", f->dir);
	snprintf(f->config, sizeof f->config, "%s/config.json", f->dir);
	snprintf(f->out, sizeof f->out, "%s/stdout", f->dir);
	snprintf(f->err, sizeof f->err, "%s/stderr", f->dir);
	snprintf(f->key, sizeof f->key, "sk-test-pipeline");
	am_pf_write(f, "config.json", config_json ? config_json : "{}");
}

void am_pf_start_sim(am_pf *f, const am_sim_cfg *cfg)
{
	am_pf_stop_sim(f);
	am_err err = {0};
	ck_assert_msg(am_sim_start(&f->sim, cfg, &err) == 0, "simulator: %s", err.msg);
}

void am_pf_stop_sim(am_pf *f)
{
	am_sim_stop(f->sim);
	f->sim = NULL;
}

const char *am_pf_write(am_pf *f, const char *name, const char *text)
{
	static char path[700];
	snprintf(path, sizeof path, "%s/%s", f->dir, name);
	FILE *fp = fopen(path, "w");
	ck_assert_msg(fp != NULL, "%s: %s", path, strerror(errno));
	ck_assert(fputs(text, fp) >= 0);
	ck_assert_int_eq(fclose(fp), 0);
	return path;
}

static bool ours(const char *e)
{
	static const char *const prefixes[] = { "ANTHROPIC_", "AIMETER_", "XDG_", "HOME=", "TZ=",
		                                "NO_COLOR=" };
	for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
		if (!strncmp(e, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

int am_pf_spawn(am_pf *f, const char *in_path, const char *const *argv)
{
	const char *bin = getenv("AIMETER_BIN");
	ck_assert_msg(bin && *bin, "AIMETER_BIN is not set");
	const char *src = getenv("AIMETER_SOURCE_DIR");
	/* The environment: the parent's (sanitizer options, PATH) minus
	 * anything that would point the binary elsewhere, plus the fixture. */
	size_t n = 0;
	while (environ[n])
		n++;
	char **env = calloc(n + 16, sizeof *env);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (!ours(environ[i]))
			env[k++] = environ[i];
	char vars[10][800];
	int v = 0;
	snprintf(vars[v++], sizeof vars[0], "HOME=%s", f->dir);
	snprintf(vars[v++], sizeof vars[0], "XDG_CONFIG_HOME=%s/xdg-config", f->dir);
	snprintf(vars[v++], sizeof vars[0], "XDG_DATA_HOME=%s/xdg-data", f->dir);
	snprintf(vars[v++], sizeof vars[0], "XDG_STATE_HOME=%s/xdg-state", f->dir);
	snprintf(vars[v++], sizeof vars[0], "AIMETER_DB=%s", f->db);
	snprintf(vars[v++], sizeof vars[0], "AIMETER_CONFIG=%s", f->config);
	snprintf(vars[v++], sizeof vars[0], "TZ=UTC");
	if (src && *src)
		snprintf(vars[v++], sizeof vars[0], "AIMETER_DATA_DIR=%s/data", src);
	if (f->sim)
		snprintf(vars[v++], sizeof vars[0], "ANTHROPIC_BASE_URL=%s", am_sim_url(f->sim));
	if (f->key[0])
		snprintf(vars[v++], sizeof vars[0], "ANTHROPIC_API_KEY=%s", f->key);
	for (int i = 0; i < v; i++)
		env[k++] = vars[i];
	env[k] = NULL;
	int argc = 0;
	while (argv[argc])
		argc++;
	char **args = calloc((size_t)argc + 2, sizeof *args);
	args[0] = strdup(bin);
	for (int i = 0; i < argc; i++)
		args[i + 1] = strdup(argv[i]);

	fflush(NULL);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int in = open(in_path ? in_path : "/dev/null", O_RDONLY);
		int out = open(f->out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int err = open(f->err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (in < 0 || out < 0 || err < 0)
			_exit(125);
		dup2(in, 0);
		dup2(out, 1);
		dup2(err, 2);
		setpgid(0, 0);
		execve(bin, args, env);
		_exit(126);
	}
	for (int i = 0; i <= argc; i++)
		free(args[i]);
	free(args);
	free(env);
	return (int)pid;
}

int am_pf_wait(int pid, int timeout_s)
{
	/* The process's pidfd becomes readable when it exits: wait on that,
	 * not on a timer. */
	int pfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
	ck_assert_msg(pfd >= 0, "pidfd_open: %s", strerror(errno));
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int st = 0;
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid) {
			close(pfd);
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		ck_assert_int_eq(r, 0);
		clock_gettime(CLOCK_MONOTONIC, &t);
		int64_t left_ms = (int64_t)timeout_s * 1000 - ((int64_t)(t.tv_sec - t0.tv_sec) * 1000 +
		                                               (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (left_ms <= 0) {
			close(pfd);
			return -1;
		}
		struct pollfd p = { pfd, POLLIN, 0 };
		poll(&p, 1, (int)left_ms);
	}
}

int am_pf_run(am_pf *f, const char *in_path, int timeout_s, const char *const *argv)
{
	int pid = am_pf_spawn(f, in_path, argv);
	int rc = am_pf_wait(pid, timeout_s);
	if (rc < 0) {
		kill(-pid, SIGKILL);
		waitpid(pid, NULL, 0);
		char *e = am_pf_slurp(f->err);
		ck_abort_msg("aimeter %s ran longer than %d s; stderr:\n%s", argv[0], timeout_s, e);
	}
	return rc;
}

char *am_pf_slurp(const char *path)
{
	char *s = am_test_read_file(path, NULL);
	return s ? s : strdup("");
}

sqlite3 *am_pf_db(am_pf *f)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READONLY, NULL);
	ck_assert_msg(rc == SQLITE_OK, "%s: %s", f->db, db ? sqlite3_errmsg(db) : "no memory");
	sqlite3_busy_timeout(db, 5000);
	return db;
}

int64_t am_pf_i64(sqlite3 *db, const char *fmt, ...)
{
	char sql[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(sql, sizeof sql, fmt, ap);
	va_end(ap);
	sqlite3_stmt *st;
	ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql,
	              sqlite3_errmsg(db));
	ck_assert_msg(sqlite3_step(st) == SQLITE_ROW, "%s: no row", sql);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* "USD per million tokens" as an exact decimal string -> pUSD per token:
 * 1 USD/MTok = 10^12 / 10^6 = 10^6 pUSD per token, so up to six decimals
 * are exact. */
static int64_t pusd_per_token(const char *s)
{
	ck_assert_ptr_nonnull(s);
	int64_t whole = 0, frac = 0;
	int digits = 0;
	const char *p = s;
	ck_assert_msg(*p >= '0' && *p <= '9', "price '%s'", s);
	while (*p >= '0' && *p <= '9')
		whole = whole * 10 + (*p++ - '0');
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9') {
			ck_assert_msg(digits < 6, "price '%s' is finer than a pUSD per token", s);
			frac = frac * 10 + (*p++ - '0');
			digits++;
		}
	}
	ck_assert_msg(*p == '\0', "price '%s'", s);
	for (; digits < 6; digits++)
		frac *= 10;
	return whole * 1000000 + frac;
}

void am_pf_price_of(const char *model, am_pf_price *out)
{
	const char *src = getenv("AIMETER_SOURCE_DIR");
	char path[1024];
	snprintf(path, sizeof path, "%s/data/pricing.json", src && *src ? src : ".");
	json_error_t je;
	json_t *root = json_load_file(path, 0, &je);
	ck_assert_msg(root != NULL, "%s: %s", path, je.text);
	json_t *models = json_object_get(root, "models");
	json_t *m = json_object_get(models, model);
	if (!m) {
		const char *alias = json_string_value(json_object_get(json_object_get(root, "aliases"),
		                                                      model));
		m = alias ? json_object_get(models, alias) : NULL;
	}
	ck_assert_msg(m != NULL, "no price for %s in %s", model, path);
	out->in = pusd_per_token(json_string_value(json_object_get(m, "input")));
	out->out = pusd_per_token(json_string_value(json_object_get(m, "output")));
	out->cw5m = pusd_per_token(json_string_value(json_object_get(m, "cache_write_5m")));
	out->cw1h = pusd_per_token(json_string_value(json_object_get(m, "cache_write_1h")));
	out->cr = pusd_per_token(json_string_value(json_object_get(m, "cache_read")));
	json_t *lc = json_object_get(m, "long_context");
	out->long_above = json_is_object(lc)
	                          ? (int64_t)json_integer_value(json_object_get(lc, "above_input_tokens"))
	                          : 0;
	json_decref(root);
}

void am_pf_ledger_costs(sqlite3 *db, int64_t *recomputed, int64_t *recorded)
{
	sqlite3_stmt *st;
	ck_assert(sqlite3_prepare_v2(db,
	                             "SELECT model, input_tokens, output_tokens, cache_write_5m, "
	                             "cache_write_1h, cache_read, cached, coalesce(cost_pusd, -1), "
	                             "price_known, batch FROM usage_events",
	                             -1, &st, NULL) == SQLITE_OK);
	*recomputed = *recorded = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *model = (const char *)sqlite3_column_text(st, 0);
		int64_t in = sqlite3_column_int64(st, 1), out = sqlite3_column_int64(st, 2),
		        w5 = sqlite3_column_int64(st, 3), w1 = sqlite3_column_int64(st, 4),
		        cr = sqlite3_column_int64(st, 5), cost = sqlite3_column_int64(st, 7);
		bool cached = sqlite3_column_int(st, 6);
		ck_assert_msg(sqlite3_column_int(st, 8), "%s: price unknown in the ledger", model);
		ck_assert_int_eq(sqlite3_column_int(st, 9), 0);
		am_pf_price p;
		am_pf_price_of(model, &p);
		ck_assert_msg(!p.long_above || in + w5 + w1 + cr <= p.long_above,
		              "long-context prices are out of this test's scope");
		if (!cached)
			*recomputed += in * p.in + out * p.out + w5 * p.cw5m + w1 * p.cw1h + cr * p.cr;
		*recorded += cost;
	}
	sqlite3_finalize(st);
}

void am_pf_free(am_pf *f)
{
	am_pf_stop_sim(f);
	if (f->dir[0] && !getenv("AIMETER_KEEP_TEST_DIRS"))
		am_test_rmtree(f->dir);
	f->dir[0] = '\0';
}
