/* worker_tally: money and the day - the budget's clock, alerts, the price
 * of a call, today's table, and the spend other processes record on the
 * same ledger (count_foreign); at start, today's totals and the last
 * hour's burn. */
#define _GNU_SOURCE /* posix_spawn_file_actions_addclosefrom_np */
#include "worker_int.h"
#include "tagload.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

void wk_release_budget(am_worker *w, wjob *j)
{
	if (j->tag_held) {
		am_tagbudget_cancel(w->tagb, j->tag, j->reserved_pusd);
		j->tag_held = false;
	}
	if (j->budget_held) {
		am_budget_cancel(w->budget, j->budget_id, NULL);
		j->budget_held = false;
		w->budget_changed = true;
	}
	wk_shared_release(w, j);
}

/* The local day changes only at midnight: between a conversion and the
 * midnight it found, the day and month stay and only the time left moves.
 * (mktime, inside the conversion, stats /etc/localtime on every call, and
 * the worker asks twice per call.) TZ is set once, before the worker runs. */
void wk_budget_now(am_worker *w, am_budget_now *bn)
{
	int64_t wall = now_wall(w);
	if (w->bn_valid && wall >= w->bn.wall_ns && wall < w->bn.midnight_ns) {
		*bn = w->bn;
		bn->wall_ns = wall;
		bn->day_left_s = (w->bn.midnight_ns - wall) / AM_NS_PER_SEC;
		return;
	}
	am_err err;
	w->bn_valid = am_budget_now_local(wall, bn, &err) == 0;
	if (w->bn_valid) {
		w->bn = *bn;
	} else {
		memset(bn, 0, sizeof *bn);
		snprintf(bn->day, sizeof bn->day, "%s", w->today);
	}
}

/* The alert command gets the alert's AIMETER_* variables and only the few
 * inherited ones a shell command needs: never the API key or anything
 * else of this process's environment. */
static int alert_envp(const am_budget_env *env, char **envp, int cap)
{
	static const char *const keep[] = { "PATH=", "HOME=", "LANG=", "LC_ALL=", "LC_CTYPE=",
		                            "TZ=" };
	int n = 0;
	for (int i = 0; env->env[i] && n < cap - 1; i++)
		envp[n++] = env->env[i];
	bool path = false;
	for (size_t k = 0; k < sizeof keep / sizeof keep[0]; k++)
		for (char **e = environ; e && *e && n < cap - 2; e++)
			if (!strncmp(*e, keep[k], strlen(keep[k]))) {
				envp[n++] = *e;
				path = path || k == 0;
				break;
			}
	if (!path)
		envp[n++] = (char *)"PATH=/usr/local/bin:/usr/bin:/bin";
	envp[n] = NULL;
	return n;
}

/* Runs alert_command with posix_spawn (no fork of this threaded process,
 * nothing run between fork and exec): /bin/sh starts the command in the
 * background and exits at once, so the worker waits only for that and
 * leaves nothing to reap. The child gets no descriptor of this process but
 * 0-2 (the connections, the ledger, curl's wakeup pair: closefrom, on top
 * of close-on-exec where aimeter opens them), default signal dispositions
 * and an empty signal mask. */
static void run_alert_command(am_worker *w, const am_budget_alert *a)
{
	if (!w->alert_command[0])
		return;
	am_budget_env env;
	am_budget_alert_env(a, &env);
	char *envp[16];
	alert_envp(&env, envp, 16);
	char *argv[] = { (char *)"sh", (char *)"-c",
		         (char *)"/bin/sh -c \"$1\" aimeter-alert &", (char *)"sh",
		         w->alert_command, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 34)
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	pid_t pid;
	int rc = posix_spawn(&pid, "/bin/sh", &fa, &at, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (rc != 0) {
		am_log_write(w->log, now_wall(w), "alert_command: cannot start /bin/sh: %s",
		             strerror(rc));
		return;
	}
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

void wk_fire_alerts(am_worker *w, const am_budget_alerts *al)
{
	for (int i = 0; al && i < al->n; i++) {
		char line[256];
		am_budget_alert_line(&al->a[i], line, sizeof line);
		am_log_write(w->log, now_wall(w), "%s", line);
		am_event ev;
		memset(&ev, 0, sizeof ev);
		ev.kind = AM_EV_ALERT;
		ev.text = am_xstrdup(line);
		am_evq_push(w->evq, &ev);
		run_alert_command(w, &al->a[i]);
	}
}

/* The one price the worker reserves a model's calls by and charges them
 * at (am_pricing_resolve). */
bool wk_resolve_price(const am_worker *w, const char *model, am_price *out)
{
	return am_pricing_resolve(w->pricing, model, out);
}

/* The cost of u at p (NULL: the dearest known model's price); -1 when it
 * leaves int64. */
static int64_t cost_at(const am_worker *w, const am_price *p, const am_usage *u)
{
	int64_t cost = 0;
	if (!p)
		p = am_pricing_most_expensive(w->pricing);
	if (p && am_cost(p, u, false, &cost, NULL))
		return -1;
	return cost;
}

/* For the budget's view of rows priced elsewhere: an overflowing cost
 * counts as a huge one (it blocks, it never lets spending through). */
int64_t wk_price_usage(am_worker *w, const char *model, const am_usage *u, bool *known)
{
	am_price p;
	*known = wk_resolve_price(w, model, &p);
	int64_t cost = cost_at(w, *known ? &p : NULL, u);
	return cost < 0 ? INT64_MAX / 4 : cost;
}

/* An answer of job j under `model` (the id the server answered with): at
 * the resolution its reservation used when that is the model asked for or
 * one of its dated ids, else at the answering model's own. -1 when the
 * cost leaves int64 (the caller treats the answer's usage as suspect). */
int64_t wk_price_answer(am_worker *w, const wjob *j, const char *model, const am_usage *u,
                        bool *known)
{
	if (j->priced && (!strcmp(model, j->price.model) || !strcmp(model, j->price.canonical) ||
	                  am_model_dated_id_of(model, j->price.model))) {
		*known = true;
		return cost_at(w, &j->price, u);
	}
	am_price p;
	*known = wk_resolve_price(w, model, &p);
	return cost_at(w, *known ? &p : NULL, u);
}

/* *acc += v, or false (with *acc at INT64_MAX) when the sum leaves int64. */
static bool add_count(int64_t *acc, int64_t v)
{
	if (!__builtin_add_overflow(*acc, v, acc))
		return true;
	*acc = INT64_MAX;
	return false;
}

/* Adds to a row of today's table. A figure that would leave int64 stays
 * at its largest value and the row stops claiming an exact cost: no total
 * is shown wrapped around. */
static void add_model(model_total *m, int64_t requests, int64_t input, int64_t output,
                      int64_t cache_write, int64_t cache_read, bool known, int64_t cost)
{
	bool exact = add_count(&m->m.requests, requests);
	exact &= add_count(&m->m.input, input);
	exact &= add_count(&m->m.output, output);
	exact &= add_count(&m->m.cache_write, cache_write);
	exact &= add_count(&m->m.cache_read, cache_read);
	exact &= add_count(&m->m.cost_pusd, cost); /* the known part */
	if (!known || !exact)
		m->m.price_known = false;
}

void wk_count_model(am_worker *w, const char *model, const am_usage *u, bool known, int64_t cost)
{
	int64_t cw;
	if (__builtin_add_overflow(u->cache_write_5m, u->cache_write_1h, &cw)) {
		cw = INT64_MAX;
		known = false;
	}
	add_model(wk_model_slot(w, model), 1, u->input_tokens, u->output_tokens, cw, u->cache_read,
	          known, known ? cost : 0);
}

static void day_rollover(am_worker *w, const am_budget_now *bn)
{
	if (!strcmp(w->today, bn->day))
		return;
	snprintf(w->today, sizeof w->today, "%s", bn->day);
	w->nmodels = 0;
	w->budget_changed = true;
	w->dirty = true;
}

/* Another dashboard, a batch or an ask on the same database spends against
 * the same limits, and a guard that really stops spending must count every
 * ledger row. So every FOREIGN_SCAN_MS the worker reads the usage_events
 * rows above seen_row (a range of the integer primary key, at most
 * FOREIGN_ROWS at a time) and adds those it did not write to the budget,
 * today's table and the burn ring. Its own rows are known by id: the next
 * one after the mark when nobody wrote in between (the mark just moves),
 * else remembered in own_rows until the scan passes them. At start the mark
 * is the last id in the snapshot today's totals came from. Returns the rows
 * read, -1 when the ledger cannot be read (the next scan tries again). */
typedef struct foreign_scan {
	am_worker *w;
	am_budget_now bn;
	int rows, counted, k;
} foreign_scan;

static void count_foreign_row(void *ctx, const am_spend_row *r)
{
	foreign_scan *fs = ctx;
	am_worker *w = fs->w;
	if (fs->rows++ == 0) {
		/* Every row visible now was stamped before this moment. */
		wk_budget_now(w, &fs->bn);
		day_rollover(w, &fs->bn);
	}
	w->seen_row = r->id;
	while (fs->k < w->nown && w->own_rows[fs->k] < r->id)
		fs->k++;
	if (fs->k < w->nown && w->own_rows[fs->k] == r->id)
		return;
	bool ours;
	/* An unknown price is charged as a reservation is: at our table's
	 * price for the model, else at the dearest model's. */
	int64_t charge = r->price_known ? r->cost_pusd
	                                : wk_price_usage(w, r->model ? r->model : "", &r->usage, &ours);
	am_budget_alerts al;
	am_err err;
	if (am_budget_add_spent(w->budget, &fs->bn, r->day ? r->day : "", r->ts_ns, charge,
	                        !r->price_known, &al, &err) ||
	    am_tagbudget_add_spent(w->tagb, fs->bn.day, r->day, r->tag, charge, &err))
		wk_notice(w, "ledger row %" PRId64 ": %s", r->id, err.msg);
	wk_fire_alerts(w, &al);
	if (r->day && r->model && !strcmp(r->day, w->today))
		wk_count_model(w, r->model, &r->usage, r->price_known, r->cost_pusd);
	fs->counted++;
}

static int count_foreign(am_worker *w)
{
	foreign_scan fs = { .w = w };
	am_err err;
	int rc = am_spend_rows_after(w->ledger, w->seen_row, FOREIGN_ROWS, count_foreign_row, &fs,
	                             &err);
	if (rc < 0)
		wk_notice(w, "ledger: %s", err.msg);
	int passed = 0;
	while (passed < w->nown && w->own_rows[passed] <= w->seen_row)
		passed++;
	w->nown -= passed;
	memmove(w->own_rows, w->own_rows + passed, (size_t)w->nown * sizeof *w->own_rows);
	if (fs.counted) {
		w->budget_changed = true; /* blocked jobs look again */
		w->dirty = true;
	}
	return rc < 0 ? -1 : fs.rows;
}

/* Remembers a row this worker has just committed (see count_foreign). */
void wk_own_row(am_worker *w, int64_t id)
{
	if (id <= w->seen_row)
		return; /* an id reused below the mark after a deletion: no scan reads it */
	if (id == w->seen_row + 1 && !w->nown) {
		w->seen_row = id;
		return;
	}
	/* Full: scan now. Each scan moves the mark FOREIGN_ROWS on or to the
	 * end, and our rows lie below the end. */
	while (w->nown == OWN_ROWS_MAX && count_foreign(w) > 0)
		;
	if (w->nown == OWN_ROWS_MAX)
		return; /* the ledger cannot be read: this row may count twice */
	int i = w->nown++;
	for (; i > 0 && w->own_rows[i - 1] > id; i--)
		w->own_rows[i] = w->own_rows[i - 1];
	w->own_rows[i] = id;
}

static void foreign_tick(am_worker *w, int64_t now)
{
	if (now < w->next_foreign_scan)
		return;
	/* A full batch means more are waiting: go on at the next pass. */
	int rows = count_foreign(w);
	am_err err;
	am_snap_batches b;
	if (am_pb_summary_read(am_ledger_db(w->ledger), now_wall(w), &b, &err) == 0)
		w->batches = b; /* a busy ledger keeps the last figures */
	w->next_foreign_scan = rows == FOREIGN_ROWS ? now : now + FOREIGN_SCAN_MS * AM_NS_PER_MS;
}

/* The clock's day, the budget's minute, and what other processes spent. */
void wk_tally_tick(am_worker *w, int64_t now, am_budget_now *bn)
{
	wk_budget_now(w, bn);
	day_rollover(w, bn);
	am_budget_tick(w->budget, bn);
	foreign_tick(w, now);
	wk_settings_poll(w, now);
	wk_shared_tick(w, now);
}

/* What the budget charges for a report's rows whose price was unknown,
 * beyond the known part the ledger summed: as count_foreign and a
 * reservation do, at our table's price for the model, else the dearest
 * model's. A row mixing known and unknown prices is charged whole (never
 * less than its known part): the budget errs on the side of stopping. */
static int64_t unknown_charge(am_worker *w, const am_ledger_summary *s)
{
	int64_t extra = 0;
	for (size_t i = 0; i < s->nrows; i++) {
		const am_ledger_row *r = &s->rows[i];
		if (r->price_known)
			continue;
		am_usage u = { 0 };
		u.input_tokens = r->input_tokens;
		u.output_tokens = r->output_tokens;
		u.cache_write_5m = r->cache_write_5m;
		u.cache_write_1h = r->cache_write_1h;
		u.cache_read = r->cache_read;
		bool ours;
		int64_t all = wk_price_usage(w, r->model, &u, &ours);
		if (all > r->cost_pusd)
			extra += all - r->cost_pusd;
	}
	return extra;
}

static int load_today(am_worker *w, const am_budget_now *bn, int64_t *day_spent,
                      int64_t *month_spent, bool *unknown, am_err *err)
{
	am_ledger_summary s;
	if (am_ledger_report(w->ledger, bn->day, bn->day, false, &s, err)) {
		am_ledger_summary_free(&s);
		return -1;
	}
	w->nmodels = 0;
	for (size_t i = 0; i < s.nrows && i < MAX_MODELS; i++) {
		const am_ledger_row *r = &s.rows[i];
		model_total *m = wk_model_slot(w, r->model);
		add_model(m, r->requests, r->input_tokens, r->output_tokens, r->cache_write,
		          r->cache_read, r->price_known, r->cost_pusd);
		m->m.estimated += r->estimated;
	}
	*day_spent = s.total.cost_pusd + unknown_charge(w, &s);
	*unknown = !s.total.price_known;
	am_ledger_summary_free(&s);
	if (am_tagload_today(w->tagb, w->ledger, bn->day, err))
		return -1;
	char first[11];
	snprintf(first, sizeof first, "%.7s-01", bn->day);
	int64_t unknown_rows = 0;
	if (am_ledger_spend(w->ledger, first, bn->day, month_spent, &unknown_rows, err))
		return -1;
	if (unknown_rows) {
		if (am_ledger_report(w->ledger, first, bn->day, false, &s, err))
			return -1;
		*month_spent += unknown_charge(w, &s);
		am_ledger_summary_free(&s);
	}
	snprintf(w->today, sizeof w->today, "%s", bn->day);
	return 0;
}

/* load_today in one read transaction with the mark count_foreign starts
 * from, so that no row is counted both ways. */
typedef struct today_load {
	am_worker *w;
	const am_budget_now *bn;
	int64_t *day_spent, *month_spent;
	bool *unknown;
} today_load;

static int load_today_cb(void *ctx, am_err *err)
{
	today_load *t = ctx;
	return load_today(t->w, t->bn, t->day_spent, t->month_spent, t->unknown, err);
}

int wk_load_today_marked(am_worker *w, const am_budget_now *bn, int64_t *day_spent,
                         int64_t *month_spent, bool *unknown, am_err *err)
{
	today_load t = {w, bn, day_spent, month_spent, unknown};
	return am_spend_marked(w->ledger, &w->seen_row, load_today_cb, &t, err);
}

/* The burn rate and the spend sparkline look back an hour: after a restart
 * they start from what the ledger recorded in that hour, not from zero.
 * Reads by the ts_ns index, so a large ledger costs only its last hour. */
static void burn_feed(void *ctx, int64_t ts_ns, int64_t cost_pusd)
{
	am_budget_burn_feed(ctx, ts_ns, cost_pusd);
}

int wk_load_recent_burn(am_worker *w, am_err *err)
{
	int64_t since = now_wall(w) - (int64_t)AM_BUDGET_RING_MINUTES * 60 * AM_NS_PER_SEC;
	/* Later rows than the mark are count_foreign's. */
	return am_spend_recent(w->ledger, since, w->seen_row, burn_feed, w->budget, err);
}
