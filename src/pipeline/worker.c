/* worker: the pipeline's background thread.
 *
 * Design note. One thread owns everything that does I/O or holds policy
 * state: its SQLite connection (ledger, queue, cache), the libcurl multi
 * handle (through client.h), the limiter, the budget and the selector. Each
 * pass of its loop reads the clock once, then
 *   1. takes commands and submissions from the inbox (a mutex-guarded list
 *      that observers fill without waiting for the worker),
 *   2. moves due retries back to the front of the pending FIFO,
 *   3. dispatches pending jobs in FIFO order while fewer than `concurrency`
 *      are inside the limiter or in flight: selector -> cache -> budget
 *      reservation -> limiter ticket,
 *   4. starts the calls the limiter granted (am_rl_poll),
 *   5. runs the client's multi loop until the next limiter event, a retry,
 *      an inbox wake-up or the snapshot tick, whichever is first; finished
 *      calls settle the limiter and the budget, land in the ledger together
 *      with the job's final state (one transaction), and feed the cache,
 *   6. publishes a snapshot (at most every 100 ms, and only when something
 *      changed) and wakes the observer through the event queue's fd.
 * Observers never block on the network or the disk: submit, command,
 * snapshot and drain touch only memory under short locks. */
#include "worker.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "anthropic.h"
#include "budget.h"
#include "cache.h"
#include "client.h"
#include "evq.h"
#include "ledger.h"
#include "limiter.h"
#include "snapshot.h"
#include "log.h"
#include "money.h"
#include "queue.h"
#include "selector.h"

enum {
	MAX_MARKS = 256,
	SNAPSHOT_PERIOD_MS = 100,
	REFILL_WINDOW_MS = 61000,  /* a bucket spent at the end of busy work is full again */
	MAX_TICK_MS = 250,
	DB_RETRY_MS = 1000,      /* after a failed ledger write: next try, no new calls */
	DB_GIVE_UP = 3,          /* halt_on_fatal: failed rounds of writes before halting */
	DEFAULT_MAX_TOKENS = 1024,
	MAX_MODELS = AM_SNAP_MAX_MODELS
};

/* Reading what other processes recorded (count_foreign). */
enum { FOREIGN_SCAN_MS = 1000, FOREIGN_ROWS = 10000, OWN_ROWS_MAX = 1024 };

typedef enum wstate {
	W_PENDING,   /* in the FIFO, not yet through the selector */
	W_RETRY,     /* waiting for its backoff to pass */
	W_BLOCKED,   /* the budget said no */
	W_LIMIT,     /* holds a reservation; in the limiter's queue */
	W_FLIGHT,    /* the call is on the wire */
	W_UNRECORDED, /* answered, but the ledger write failed: tried again */
	W_FINISHED
} wstate;

/* An answer that arrived (a paid call or a cache hit): everything the
 * ledger row and the done event need, kept until the ledger takes it. */
typedef struct held_answer {
	char model[AM_PROV_MODEL_MAX];
	am_usage usage;
	bool known, cached;
	int64_t cost, saved, latency_ms;
	int status;
	char request_id[AM_PROV_ID_MAX];
	char stop_reason[40];
	char *text;
} held_answer;

typedef struct wjob {
	int64_t handle;          /* engine job id: what events carry */
	int64_t id;              /* jobs.id */
	json_t *body;            /* the Messages request; "model" may be absent */
	char *model_req;         /* pinned model, NULL = auto */
	char model[128];
	char reason[96];
	const char *source;      /* ledger source */
	bool no_cache;
	bool stream;
	bool answer_is_output;   /* batch: its answer is read back from its row */
	bool after_529;
	int attempts;
	wstate st;
	int64_t not_before;      /* W_RETRY: mono ns */
	int64_t t_submit;        /* mono ns */
	int64_t t_sent;
	am_rl_ticket ticket;
	bool ticket_live;
	int64_t budget_id;
	bool budget_held;
	int64_t reserved_pusd;
	uint8_t key[AM_CACHE_KEY_LEN];
	bool cacheable;
	char *wire;              /* the body as sent */
	size_t wire_len;
	uint64_t xfer;           /* client transfer id; 0 = none */
	bool cancelling;         /* cancel_job asked the client to abort it */
	char wait_key[24];       /* W_LIMIT: the reason last sent in AM_EV_WAITING */
	held_answer *held;       /* W_UNRECORDED (and while landing) */
	struct am_worker *w;
	struct wjob *next;       /* the list it is on */
	struct wjob *all_next;   /* every live job */
	struct wjob *all_prev;
} wjob;

typedef struct jlist {
	wjob *head, *tail;
	int n;
} jlist;

typedef struct inbox_item {
	enum { IN_SUBMIT, IN_COMMAND } kind;
	int64_t handle;
	json_t *body;
	char *model;
	bool no_cache, stream;
	am_command cmd;
	struct inbox_item *next;
} inbox_item;

typedef struct model_total {
	am_snap_model m;
} model_total;

struct am_worker {
	/* ---- shared with observers (mutex) ---- */
	pthread_mutex_t mu;
	inbox_item *inbox, *inbox_tail;
	int inbox_n;
	am_snapshot snap;           /* the published snapshot */
	atomic_bool stop;
	atomic_bool finished;
	atomic_bool poked;
	atomic_int_fast64_t next_handle;
	atomic_int unfinished;      /* jobs the worker knows that are not final */
	int64_t queue_capacity;
	am_evq *evq;
	pthread_t thread;
	int grace_ms;
	bool quiet;                 /* see am_worker_quiet */
	bool quiet_paused;

	/* ---- worker thread only ---- */
	am_worker_opts opts;
	am_config *config;          /* our copy of opts.config */
	const am_pricing *pricing;
	const am_clock *clock;
	char db_path[1024];
	char base_url[512];
	char api_key[256];
	char endpoint[64];
	am_ledger *ledger;
	am_owner owner;             /* whose jobs this worker sends (jobs.owner) */
	am_queue_stmts *qs;         /* the queue's hot statements on db */
	/* Progress states (waiting_limit, in_flight) are written after the pass
	 * has sent its calls, in one transaction, not before each send: crash
	 * recovery treats them like queued, so they are for people reading the
	 * jobs table, and a commit in front of every call would add its latency
	 * to every call. */
	struct state_mark {
		int64_t id;
		am_job_state st;
		char model[128];
		char reason[96];
	} marks[MAX_MARKS];
	int nmarks;
	sqlite3_stmt *mark_stmt;
	/* The pass transaction (see "the pass transaction"). fresh: the jobs
	 * whose row is not committed yet (id 0: not even written). */
	bool tx_open;
	wjob **fresh;
	int nfresh, fresh_cap;
	bool sent;                  /* this pass started a call */
	am_log *log;                /* log_file; NULL = none */
	uint64_t rng;               /* backoff jitter state */
	sqlite3 *db;
	am_client *client;
	am_rl *rl;
	am_budget *budget;
	am_cache *cache;
	am_sel_config sel;
	am_budget_config bcfg;
	am_prov_retry_cfg retry;
	char model_mode[128];       /* "auto" or pinned */
	char alert_command[1024];
	bool bell;
	bool paused;
	int64_t concurrency;
	int64_t default_max_tokens;
	bool stream_default;
	wjob *all;
	jlist pending, retry_list, blocked, limit, flight;
	jlist unrecorded;           /* answers waiting for a ledger write */
	int db_fails;               /* ledger writes failed in a row */
	int64_t db_retry_at;        /* mono ns: no new calls before this */
	bool halted;                /* halt_on_fatal: the loop ends */
	bool need_db_scan;
	char today[11];
	am_budget_now bn;           /* budget_now's last conversion */
	bool bn_valid;
	int nmodels;
	model_total models[MAX_MODELS];
	int64_t done, failed;
	bool dirty;
	int64_t last_snap_mono;
	int64_t last_wait_check;    /* mono ns: waiting reasons refreshed */
	int64_t last_busy;          /* mono ns: something was queued or in flight */
	bool budget_changed;
	bool tearing_down;
	/* Per pool and dimension (REQ, ITOK, OTOK): the user set this limit (or
	 * learn_from_headers is off), so it is a ceiling over what the provider
	 * reports; otherwise it is only a starting guess that the provider's
	 * reported limit replaces. */
	int64_t ceiling[AM_RL_MAX_POOLS][AM_RL_NCOST];
	/* Ledger rows up to seen_row are counted; own_rows holds, ascending, the
	 * ids above it that this worker wrote (count_foreign skips them). */
	int64_t seen_row;
	int64_t own_rows[OWN_ROWS_MAX];
	int nown;
	int64_t next_foreign_scan;  /* mono ns */
	am_err init_err;
	int init_state;             /* 0 starting, 1 ok, -1 failed */
	pthread_cond_t init_cv;
};

/* ------------------------------------------------------------------------ */
/* lists                                                                      */

static void jl_push(jlist *l, wjob *j)
{
	j->next = NULL;
	if (l->tail)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
	l->n++;
}

static void jl_push_front(jlist *l, wjob *j)
{
	j->next = l->head;
	l->head = j;
	if (!l->tail)
		l->tail = j;
	l->n++;
}

static wjob *jl_pop(jlist *l)
{
	wjob *j = l->head;
	if (j) {
		l->head = j->next;
		if (!l->head)
			l->tail = NULL;
		l->n--;
		j->next = NULL;
	}
	return j;
}

static void jl_remove(jlist *l, wjob *j)
{
	wjob **pp = &l->head, *prev = NULL;
	while (*pp && *pp != j) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (!*pp)
		return;
	*pp = j->next;
	if (l->tail == j)
		l->tail = prev;
	l->n--;
	j->next = NULL;
}

/* Inserts j before the first job with a larger id (FIFO by age). */
static void jl_insert_by_id(jlist *l, wjob *j)
{
	if (!l->tail || l->tail->id < j->id) {
		jl_push(l, j); /* the usual case, and O(1): loading jobs in id order */
		return;
	}
	wjob **pp = &l->head, *prev = NULL;
	while (*pp && (*pp)->id < j->id) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	j->next = *pp;
	*pp = j;
	if (!j->next)
		l->tail = j;
	(void)prev;
	l->n++;
}

/* ------------------------------------------------------------------------ */
/* small helpers                                                              */

static int64_t now_mono(am_worker *w)
{
	return am_clock_mono(w->clock);
}

static int64_t now_wall(am_worker *w)
{
	return am_clock_wall(w->clock);
}

static void event_basic(am_worker *w, am_event_kind kind, const wjob *j, const char *text)
{
	am_event ev;
	memset(&ev, 0, sizeof ev);
	ev.kind = kind;
	ev.job_id = j ? j->handle : 0;
	if (j) {
		snprintf(ev.model, sizeof ev.model, "%s", j->model);
		snprintf(ev.reason, sizeof ev.reason, "%s", j->reason);
	}
	ev.text = text ? am_xstrdup(text) : NULL;
	/* Progress rides with the next wake (the answer, or the snapshot this
	 * pass makes due within SNAPSHOT_PERIOD_MS): an observer woken for each
	 * step of a fast call would take the CPU the call needs. */
	if (kind == AM_EV_QUEUED || kind == AM_EV_STARTED || kind == AM_EV_WAITING)
		am_evq_push_lazy(w->evq, &ev);
	else
		am_evq_push(w->evq, &ev);
	w->dirty = true;
}

static void notice(am_worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void notice(am_worker *w, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	am_log_write(w->log, now_wall(w), "%s", buf);
	event_basic(w, AM_EV_NOTICE, NULL, buf);
}

/* Length of a model id without its "-YYYYMMDD" snapshot suffix. */
static size_t model_base_len(const char *m)
{
	size_t n = strlen(m);
	if (n > 9 && m[n - 9] == '-' && strspn(m + n - 8, "0123456789") == 8)
		return n - 9;
	return n;
}

static model_total *model_slot(am_worker *w, const char *model)
{
	/* A dated id and its alias are one model for today's table (the API
	 * answers with the dated id; older ledger rows may hold the alias). */
	size_t base = model_base_len(model);
	for (int i = 0; i < w->nmodels; i++)
		if (model_base_len(w->models[i].m.model) == base &&
		    !strncmp(w->models[i].m.model, model, base))
			return &w->models[i];
	if (w->nmodels == MAX_MODELS)
		return &w->models[MAX_MODELS - 1]; /* the last row absorbs the rest */
	model_total *m = &w->models[w->nmodels++];
	memset(m, 0, sizeof *m);
	snprintf(m->m.model, sizeof m->m.model, "%s", model);
	m->m.price_known = true;
	return m;
}

static void free_held(wjob *j)
{
	if (j->held) {
		free(j->held->text);
		free(j->held);
		j->held = NULL;
	}
}

/* halt_on_fatal: ends the loop after this pass; unfinished jobs stay
 * queued in the database for the next run. */
static void halt(am_worker *w, const char *why)
{
	if (w->halted)
		return;
	w->halted = true;
	notice(w, "stopped: %s", why);
}

/* A ledger write failed. New calls wait DB_RETRY_MS (each would want a
 * write too); a batch gives up after DB_GIVE_UP rounds, a retry period
 * apart, that all failed (failures within one round count once). */
static void db_trouble(am_worker *w, const am_err *err)
{
	if (w->tearing_down)
		return;
	int64_t now = now_mono(w);
	if (now < w->db_retry_at)
		return; /* the same round of writes as the last failure */
	w->db_fails++;
	w->db_retry_at = now + (int64_t)DB_RETRY_MS * AM_NS_PER_MS;
	if (w->db_fails == 1)
		notice(w, "ledger: %s — no new calls until it can be written", err->msg);
	if (w->opts.halt_on_fatal && w->db_fails >= DB_GIVE_UP) {
		char why[AM_ERR_MAX + 64];
		snprintf(why, sizeof why, "the ledger cannot be written: %s", err->msg);
		halt(w, why);
	}
}

static void db_ok(am_worker *w)
{
	if (!w->db_fails)
		return;
	w->db_fails = 0;
	w->db_retry_at = 0;
	notice(w, "ledger: writable again");
}

static void all_add(am_worker *w, wjob *j)
{
	j->all_prev = NULL;
	j->all_next = w->all;
	if (w->all)
		w->all->all_prev = j;
	w->all = j;
}

static void fresh_forget(am_worker *w, const wjob *j);

static void free_job(am_worker *w, wjob *j)
{
	fresh_forget(w, j);
	if (j->all_prev)
		j->all_prev->all_next = j->all_next;
	else
		w->all = j->all_next;
	if (j->all_next)
		j->all_next->all_prev = j->all_prev;
	free_held(j);
	json_decref(j->body);
	free(j->model_req);
	free(j->wire);
	free(j);
	atomic_fetch_sub(&w->unfinished, 1);
}

static int64_t json_int(const json_t *o, const char *k, int64_t def)
{
	json_t *v = json_object_get(o, k);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : def;
}

/* ------------------------------------------------------------------------ */
/* job life cycle                                                             */

/* ---- the pass transaction ------------------------------------------------
 *
 * A prompt taken from the inbox becomes a job in memory at once and gets
 * its row after the pass has put its calls on the wire: one transaction
 * at the end of the pass writes the new rows and the progress states
 * (marks) of the pass. Writing a row, and above all committing it, costs
 * more than everything else the worker does before a send; done after it,
 * it overlaps the provider's work, and a pass that takes many prompts
 * commits once.
 *
 * The price: until that commit the job exists only in the worker, as the
 * prompt did while it sat in the inbox, so a crash in the microseconds
 * between a send and the commit loses the job after its call went out
 * (paid, not recorded): the window an answer already has between its
 * arrival and its ledger commit.
 *
 * A write about a job that has no row yet writes the row first, in the
 * same transaction (ensure_row): a cache hit's ledger row, a failure, a
 * budget block. When a commit fails, or SQLite rolls a transaction back
 * after an error, the rows written in it are gone: those jobs go back to
 * id 0 and are written again later, never under an id that SQLite may
 * hand out again. Invariant: a job with id 0 is in fresh. */

static void fresh_add(am_worker *w, wjob *j)
{
	if (w->nfresh == w->fresh_cap) {
		w->fresh_cap = w->fresh_cap ? 2 * w->fresh_cap : 64;
		w->fresh = am_xrealloc(w->fresh, (size_t)w->fresh_cap * sizeof *w->fresh);
	}
	w->fresh[w->nfresh++] = j;
}

/* Keeps the order: rows are written in submit order, so job ids follow it. */
static void fresh_forget(am_worker *w, const wjob *j)
{
	for (int i = 0; i < w->nfresh; i++)
		if (w->fresh[i] == j) {
			memmove(&w->fresh[i], &w->fresh[i + 1],
			        (size_t)(w->nfresh - i - 1) * sizeof *w->fresh);
			w->nfresh--;
			return;
		}
}

static int tx_begin(am_worker *w, am_err *err)
{
	if (w->tx_open)
		return 0;
	if (am_ledger_begin(w->ledger, err))
		return -1;
	w->tx_open = true;
	return 0;
}

/* The open transaction is gone (rolled back), and the rows written in it.
 * Marks of those jobs go too, as their ids may be handed out again. */
static void tx_lost(am_worker *w)
{
	for (int i = 0; i < w->nfresh; i++) {
		int64_t id = w->fresh[i]->id;
		if (!id)
			continue;
		for (int k = 0; k < w->nmarks;)
			if (w->marks[k].id == id)
				w->marks[k] = w->marks[--w->nmarks];
			else
				k++;
		w->fresh[i]->id = 0;
	}
	w->tx_open = false;
}

static void tx_abort(am_worker *w)
{
	if (!w->tx_open)
		return;
	am_ledger_rollback(w->ledger);
	tx_lost(w);
}

/* After a failed statement inside the transaction: SQLite may have rolled
 * it back by itself (disk full, I/O error). */
static void tx_check(am_worker *w)
{
	if (w->tx_open && sqlite3_get_autocommit(w->db))
		tx_lost(w);
}

static void mark_state(am_worker *w, wjob *j, am_job_state st);

/* Writes j's row, as queued, then the state it has reached. */
static int write_row(am_worker *w, wjob *j, am_err *err)
{
	char *req = json_dumps(j->body, JSON_COMPACT);
	if (!req)
		return am_err_set(err, "cannot serialise the request");
	int64_t id = 0;
	int rc = am_queue_add_s(w->qs, w->owner.id, NULL, req, j->model_req, 0, now_wall(w), &id,
	                        NULL, err);
	free(req);
	if (rc < 0) {
		tx_check(w);
		return -1;
	}
	j->id = id;
	if (j->st == W_FLIGHT)
		mark_state(w, j, AM_JOB_IN_FLIGHT);
	else if (j->st == W_LIMIT)
		mark_state(w, j, AM_JOB_WAITING_LIMIT);
	return 0;
}

/* Gives j a row if it has none, in the open transaction (opened if need
 * be; the pass commits it): the rows of the jobs taken before j first, so
 * that ids keep the order of submission. j == NULL: every fresh job. */
static int ensure_row(am_worker *w, wjob *j, am_err *err)
{
	if (j ? j->id != 0 : !w->nfresh)
		return 0;
	if (tx_begin(w, err))
		return -1;
	for (int i = 0; i < w->nfresh; i++) {
		wjob *k = w->fresh[i];
		if (!k->id && write_row(w, k, err))
			return -1;
		if (k == j)
			return 0;
	}
	return 0;
}

/* Writes the progress states noted since the last flush (see marks) into
 * the open transaction. A job that has since ended keeps its final state:
 * the update only moves jobs that are still unfinished. */
static void write_marks(am_worker *w)
{
	if (!w->nmarks)
		return;
	if (!w->mark_stmt &&
	    sqlite3_prepare_v3(w->db,
	                       /* Not "state IN (...)": SQLite builds a temporary
	                        * table for a list of more than two values on every
	                        * run, and freeing it made glibc give pages back to
	                        * the kernel (madvise) and fault them in again on
	                        * every call. */
	                       "UPDATE jobs SET state=?1, model=coalesce(?2, model), "
	                       "reason=coalesce(?3, reason), updated_ns=?4 WHERE id=?5 AND "
	                       "state <> 'done' AND state <> 'failed' AND state <> 'cancelled' AND "
	                       "state <> 'blocked_budget'",
	                       -1, SQLITE_PREPARE_PERSISTENT, &w->mark_stmt, NULL) != SQLITE_OK) {
		w->nmarks = 0;
		return;
	}
	int64_t wall = now_wall(w);
	for (int i = 0; i < w->nmarks; i++) {
		struct state_mark *m = &w->marks[i];
		sqlite3_stmt *st = w->mark_stmt;
		sqlite3_bind_text(st, 1, am_job_state_name(m->st), -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, m->model[0] ? m->model : NULL, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, m->reason[0] ? m->reason : NULL, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, wall);
		sqlite3_bind_int64(st, 5, m->id);
		sqlite3_step(st);
		sqlite3_reset(st);
	}
}

/* Commits the open transaction with the pending marks. On failure the
 * marks of jobs that kept their rows stay for the next flush. */
static int tx_commit(am_worker *w, am_err *err)
{
	if (!w->tx_open)
		return 0;
	write_marks(w);
	tx_check(w);
	if (!w->tx_open)
		return am_err_set(err, "ledger %s: the transaction was rolled back", w->db_path);
	if (am_ledger_commit(w->ledger, err)) {
		tx_lost(w);
		return -1;
	}
	w->tx_open = false;
	w->nmarks = 0;
	int keep = 0;
	for (int i = 0; i < w->nfresh; i++)
		if (!w->fresh[i]->id)
			w->fresh[keep++] = w->fresh[i];
	w->nfresh = keep;
	return 0;
}

static void db_update(am_worker *w, wjob *j, am_job_state st, const char *error, const char *result)
{
	am_err err;
	if (ensure_row(w, j, &err) ||
	    am_queue_update_s(w->qs, j->id, st, j->model[0] ? j->model : NULL,
	                      j->reason[0] ? j->reason : NULL, error, result, j->attempts,
	                      now_wall(w), &err)) {
		tx_check(w);
		db_trouble(w, &err);
	} else {
		db_ok(w);
	}
}

/* Writes what the pass has to write: the rows of new jobs (with the state
 * each has reached), the marks, anything already in the open transaction;
 * one commit. */
static void flush_writes(am_worker *w)
{
	bool rows = w->nfresh && now_mono(w) >= w->db_retry_at;
	if (!w->nmarks && !w->tx_open && !rows)
		return;
	am_err err;
	if (tx_begin(w, &err)) {
		/* Not now (locked, full): the states catch up at the next flush. */
		if (w->nmarks == MAX_MARKS)
			w->nmarks = 0;
		if (rows)
			db_trouble(w, &err);
		return;
	}
	if (rows)
		ensure_row(w, NULL, &err); /* a failure shows in the commit */
	if (tx_commit(w, &err))
		db_trouble(w, &err);
	else
		db_ok(w);
}

static void mark_state(am_worker *w, wjob *j, am_job_state st)
{
	if (!j->id)
		return; /* no row yet: the row it gets carries the state then */
	if (w->nmarks == MAX_MARKS && w->tx_open) {
		write_marks(w); /* into the open transaction, which commits them */
		w->nmarks = 0;
	}
	if (w->nmarks == MAX_MARKS)
		flush_writes(w);
	if (w->nmarks == MAX_MARKS)
		return; /* the database is not taking writes: the state is only shown */
	struct state_mark *m = &w->marks[w->nmarks++];
	m->id = j->id;
	m->st = st;
	snprintf(m->model, sizeof m->model, "%s", j->model);
	snprintf(m->reason, sizeof m->reason, "%s", j->reason);
}

static void release_budget(am_worker *w, wjob *j)
{
	if (j->budget_held) {
		am_budget_cancel(w->budget, j->budget_id, NULL);
		j->budget_held = false;
		w->budget_changed = true;
	}
}

static void finish_failed(am_worker *w, wjob *j, const char *error)
{
	int64_t now = now_mono(w);
	if (j->ticket_live) {
		am_rl_cancel(w->rl, &j->ticket, now);
		j->ticket_live = false;
	}
	release_budget(w, j);
	j->st = W_FINISHED;
	db_update(w, j, AM_JOB_FAILED, error, NULL);
	am_log_write(w->log, now_wall(w), "job %" PRId64 " failed (%s): %s", j->id,
	             j->model[0] ? j->model : "no model", error);
	am_event ev;
	memset(&ev, 0, sizeof ev);
	ev.kind = AM_EV_FAILED;
	ev.job_id = j->handle;
	snprintf(ev.model, sizeof ev.model, "%s", j->model);
	snprintf(ev.reason, sizeof ev.reason, "%s", j->reason);
	snprintf(ev.error, sizeof ev.error, "%s", error);
	am_evq_push(w->evq, &ev);
	w->failed++;
	w->dirty = true;
	free_job(w, j);
}

static void to_blocked(am_worker *w, wjob *j, const char *why)
{
	j->st = W_BLOCKED;
	db_update(w, j, AM_JOB_BLOCKED_BUDGET, why, NULL); /* first: it may give j its id */
	jl_insert_by_id(&w->blocked, j);
	event_basic(w, AM_EV_BLOCKED, j, why);
}

/* The local day changes only at midnight: between a conversion and the
 * midnight it found, the day and month stay and only the time left moves.
 * (mktime, inside the conversion, stats /etc/localtime on every call, and
 * the worker asks twice per call.) TZ is set once, before the worker runs. */
static void budget_now(am_worker *w, am_budget_now *bn)
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

static void run_alert_command(am_worker *w, const am_budget_alert *a)
{
	if (!w->alert_command[0])
		return;
	am_budget_env env;
	am_budget_alert_env(a, &env);
	pid_t pid = fork();
	if (pid == 0) {
		/* A grandchild runs the command, so nobody has to reap it later. */
		if (fork() == 0) {
			for (int i = 0; env.env[i]; i++)
				putenv(env.env[i]);
			execl("/bin/sh", "sh", "-c", w->alert_command, (char *)NULL);
			_exit(127);
		}
		_exit(0);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

static void fire_alerts(am_worker *w, const am_budget_alerts *al)
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

/* ------------------------------------------------------------------------ */
/* recording                                                                  */

static bool counts_cache_reads(const char *model)
{
	/* Claude Haiku 3.5 is the one model whose cache reads count toward ITPM. */
	return model && strstr(model, "3-5-haiku") != NULL;
}

static int64_t price_usage(am_worker *w, const char *model, const am_usage *u, bool *known)
{
	const am_price *p = am_pricing_lookup(w->pricing, model);
	int64_t cost = 0;
	*known = p != NULL;
	if (!p)
		p = am_pricing_most_expensive(w->pricing);
	if (p && am_cost(p, u, false, &cost, NULL))
		cost = INT64_MAX / 4;
	return cost;
}

static void own_row(am_worker *w, int64_t id);

/* Records one finished call (or cache hit): its ledger row, and with it
 * the job's final state and answer when with_state. The ledger row is what
 * makes a job done (recovery and scan_db go by it), so a job may take its
 * "done" a moment later (see land). */
static int record_done(am_worker *w, wjob *j, const char *answered_model, const am_usage *u,
                       bool known, int64_t cost, bool cached, int64_t saved, int64_t latency_ms,
                       int status, const char *request_id, const char *text, bool with_state,
                       am_err *err)
{
	am_ledger_event ev;
	memset(&ev, 0, sizeof ev);
	ev.job_id = j->id;
	ev.ts_ns = now_wall(w);
	ev.model_requested = j->model_req ? j->model_req : j->model;
	ev.model = answered_model;
	ev.reason = j->reason;
	ev.usage = *u;
	ev.price_known = known;
	ev.cost_pusd = known ? cost : 0;
	ev.cached = cached;
	ev.saved_pusd = saved;
	ev.latency_ms = latency_ms;
	ev.http_status = status;
	ev.request_id = request_id;
	ev.source = j->source;
	if (tx_begin(w, err))
		return -1;
	if (ensure_row(w, j, err)) {
		tx_abort(w);
		return -1;
	}
	ev.job_id = j->id;
	int added = am_ledger_record(w->ledger, &ev, err);
	int64_t row = sqlite3_last_insert_rowid(w->db);
	if (added < 0 ||
	    (with_state && am_queue_update_s(w->qs, j->id, AM_JOB_DONE, j->model, j->reason, NULL,
	                                     text ? text : "", j->attempts, ev.ts_ns, err))) {
		tx_abort(w);
		return -1;
	}
	if (tx_commit(w, err))
		return -1;
	if (added)
		own_row(w, row); /* only once committed: a rolled-back id may be reused */
	return 0;
}

static void count_model(am_worker *w, const char *model, const am_usage *u, bool known,
                        int64_t cost)
{
	model_total *m = model_slot(w, model);
	m->m.requests++;
	m->m.input += u->input_tokens;
	m->m.output += u->output_tokens;
	m->m.cache_write += u->cache_write_5m + u->cache_write_1h;
	m->m.cache_read += u->cache_read;
	if (known)
		m->m.cost_pusd += cost;
	else
		m->m.price_known = false;
}

static void emit_done(am_worker *w, wjob *j, const char *model, const am_usage *u, bool known,
                      int64_t cost, bool cached, int64_t latency_ms, int status)
{
	am_event ev;
	memset(&ev, 0, sizeof ev);
	ev.kind = AM_EV_DONE;
	ev.job_id = j->handle;
	snprintf(ev.model, sizeof ev.model, "%s", model);
	snprintf(ev.reason, sizeof ev.reason, "%s", j->reason);
	ev.usage = *u;
	ev.cost_pusd = cost;
	ev.price_known = known;
	ev.cached = cached;
	ev.latency_ms = latency_ms;
	ev.http_status = status;
	am_evq_push(w->evq, &ev);
	w->done++;
	w->dirty = true;
}

/* ------------------------------------------------------------------------ */
/* what a waiting job waits for                                               */

static void wait_duration(int64_t ns, char *buf, size_t n)
{
	/* Display only: tenths under a minute, else minutes and seconds. */
	if (ns < 0)
		ns = 0;
	if (ns < 60 * AM_NS_PER_SEC)
		snprintf(buf, n, "%.1fs", (double)ns / AM_NS_PER_SEC);
	else
		snprintf(buf, n, "%" PRId64 "m%02" PRId64 "s", (int64_t)(ns / (60 * AM_NS_PER_SEC)),
		         (int64_t)(ns / AM_NS_PER_SEC % 60));
}

/* Why the jobs in a pool's limiter queue wait, in words for the console
 * ("OTPM 1.2s", "RPM cool-down 4.0s after a 429", "a free slot (8 in
 * flight)"), and a key that changes only when the reason does, so each job
 * hears about a new reason once. Both "" when the head may go now. */
static void limit_wait_reason(am_worker *w, int pool, int64_t now, char *text, size_t n,
                              char *key, size_t kn)
{
	am_rl_pool_stats st;
	am_rl_stats(w->rl, pool, now, &st);
	text[0] = key[0] = '\0';
	int cd = -1;
	for (int d = 0; d < AM_RL_NDIMS; d++)
		if (st.dim[d].cooldown_until_ns > now &&
		    (cd < 0 || st.dim[d].cooldown_until_ns > st.dim[cd].cooldown_until_ns))
			cd = d;
	char t[32];
	if (cd >= 0) {
		wait_duration(st.dim[cd].cooldown_until_ns - now, t, sizeof t);
		snprintf(key, kn, "%s cool-down", st.dim[cd].name);
		snprintf(text, n, "%s cool-down %s after a 429", st.dim[cd].name, t);
	} else if (st.head_blocked_by == AM_RL_BLOCK_CONC) {
		snprintf(key, kn, "a free slot");
		snprintf(text, n, "a free slot (%d in flight)", st.in_flight);
	} else if (st.head_blocked_by >= 0 && st.head_blocked_by < AM_RL_NDIMS) {
		const char *dim = st.dim[st.head_blocked_by].name;
		wait_duration(st.head_ready_in_ns, t, sizeof t);
		snprintf(key, kn, "%s", dim);
		snprintf(text, n, "%s %s", dim, t);
	}
}

/* Tells each job in the limiter's queues what it waits for, when that
 * changed: the head of a pool's queue (the lowest FIFO seq) hears the
 * dimension and the time to go ("OTPM 1.2s"), the jobs behind it that
 * they are in line. A handful of events per reason, never a countdown
 * stream (a batch may keep `concurrency` jobs here). */
static void refresh_waiting(am_worker *w, int64_t now)
{
	enum { NP = AM_RL_MAX_POOLS };
	char text[NP][96], key[NP][24];
	bool known[NP] = { false };
	const wjob *head[NP] = { NULL };
	for (wjob *j = w->limit.head; j; j = j->next) {
		int p = j->ticket.pool;
		if (p >= 0 && p < NP && (!head[p] || j->ticket.seq < head[p]->ticket.seq))
			head[p] = j;
	}
	for (wjob *j = w->limit.head; j; j = j->next) {
		int p = j->ticket.pool;
		if (p < 0 || p >= NP)
			continue;
		if (!known[p]) {
			limit_wait_reason(w, p, now, text[p], sizeof text[p], key[p], sizeof key[p]);
			known[p] = true;
		}
		if (!key[p][0])
			continue;
		char k[sizeof j->wait_key], t[sizeof text[p]];
		bool cooling = strstr(key[p], "cool-down") != NULL;
		snprintf(k, sizeof k, "%s%s", key[p], j == head[p] || cooling ? "" : " +");
		if (!strcmp(j->wait_key, k))
			continue;
		if (j == head[p] || cooling)
			snprintf(t, sizeof t, "%s", text[p]);
		else
			snprintf(t, sizeof t, "%s, in line", key[p]);
		snprintf(j->wait_key, sizeof j->wait_key, "%s", k);
		event_basic(w, AM_EV_WAITING, j, t);
	}
}

/* ------------------------------------------------------------------------ */
/* dispatch: selector -> cache -> budget -> limiter                           */

static void select_model(am_worker *w, wjob *j, const am_budget_now *bn)
{
	am_sel_input in;
	memset(&in, 0, sizeof in);
	const char *pinned = j->model_req;
	if (!pinned && strcmp(w->model_mode, "auto"))
		pinned = w->model_mode;
	in.model = pinned;
	in.chars = am_sel_body_chars(j->body);
	in.budget_pct = am_budget_used_pct(w->budget, bn);
	in.after_529 = j->after_529;
	am_sel_choice ch;
	am_sel_choose(&w->sel, &in, &ch);
	snprintf(j->model, sizeof j->model, "%s", ch.model);
	snprintf(j->reason, sizeof j->reason, "%s", ch.reason);
}

static int build_wire(am_worker *w, wjob *j, am_err *err)
{
	/* Shallow: the fields set here are the only ones that differ from the
	 * job's body, and nothing below changes a shared value. */
	json_t *b = json_copy(j->body);
	json_object_set_new(b, "model", json_string(j->model));
	if (!json_is_integer(json_object_get(b, "max_tokens")))
		json_object_set_new(b, "max_tokens", json_integer(w->default_max_tokens));
	if (j->stream)
		json_object_set_new(b, "stream", json_true());
	else
		json_object_del(b, "stream");
	free(j->wire);
	j->wire = json_dumps(b, JSON_COMPACT);
	j->cacheable = !j->no_cache && am_cache_key(b, j->key, NULL) == 0;
	json_decref(b);
	if (!j->wire)
		return am_err_set(err, "cannot serialise the request");
	j->wire_len = strlen(j->wire);
	return 0;
}

/* Records j's held answer and the job's end, then tells the observers.
 * Returns false, keeping everything, when the ledger cannot be written:
 * the caller parks the job on the unrecorded list and the loop tries again
 * (an answer that was paid for is not thrown away while the process lives;
 * if it dies first, recovery re-queues the job, which has no ledger row). */
/* The cache keeps an answer's text only, so only answers that are all text
 * can be replayed: a tool call (tool_use) or a paused turn cannot. An answer
 * cut at max_tokens or at a stop sequence is the whole answer to that
 * request, whose key includes both. */
static bool text_answer(const char *stop_reason)
{
	return !strcmp(stop_reason, "end_turn") || !strcmp(stop_reason, "max_tokens") ||
	       !strcmp(stop_reason, "stop_sequence");
}

static bool land(am_worker *w, wjob *j)
{
	held_answer *h = j->held;
	am_err err;
	/* A batch job's answer is its output, read back from the job's row: it
	 * lands with the ledger row. Anyone else's was just told; its row takes
	 * "done" and the text right after the observer hears, out of the
	 * answer's way (a crash between the two leaves the row without the
	 * text, and done by its ledger row). */
	if (record_done(w, j, h->model, &h->usage, h->known, h->cost, h->cached, h->saved,
	                h->latency_ms, h->status, h->cached ? NULL : h->request_id, h->text,
	                j->answer_is_output, &err)) {
		db_trouble(w, &err);
		return false;
	}
	db_ok(w);
	count_model(w, h->model, &h->usage, h->known, h->cost);
	/* A stream's text went out as it arrived. */
	if ((h->cached || !j->stream) && h->text && *h->text)
		event_basic(w, AM_EV_DELTA, j, h->text);
	emit_done(w, j, h->model, &h->usage, h->known, h->cost, h->cached, h->latency_ms,
	          h->status);
	/* The observer has heard; the rest can follow, in the transaction the
	 * loop commits after this round of answers (one commit for all). */
	am_err terr;
	bool tx = tx_begin(w, &terr) == 0;
	if (!j->answer_is_output) {
		if (tx)
			db_update(w, j, AM_JOB_DONE, NULL, h->text ? h->text : "");
		else
			db_trouble(w, &terr);
	}
	if (!h->cached && j->cacheable && w->cache && text_answer(h->stop_reason)) {
		am_cache_answer a;
		memset(&a, 0, sizeof a);
		snprintf(a.model, sizeof a.model, "%s", h->model);
		snprintf(a.stop_reason, sizeof a.stop_reason, "%s", h->stop_reason);
		a.text = h->text ? h->text : (char *)"";
		a.usage = h->usage;
		a.cost_pusd = h->known ? h->cost : 0;
		if (am_cache_put(w->cache, j->key, &a, now_wall(w), NULL, &err))
			notice(w, "cache: %s", err.msg);
	}
	j->st = W_FINISHED;
	free_job(w, j);
	return true;
}

static void land_or_hold(am_worker *w, wjob *j)
{
	if (!land(w, j)) {
		j->st = W_UNRECORDED;
		jl_push(&w->unrecorded, j);
	}
}

/* Tries the parked answers again, oldest first, until one fails. */
static void land_unrecorded(am_worker *w)
{
	wjob *j;
	while ((j = jl_pop(&w->unrecorded))) {
		if (!land(w, j)) {
			jl_push_front(&w->unrecorded, j);
			return;
		}
	}
}

static void answer_from_cache(am_worker *w, wjob *j, am_cache_answer *a)
{
	/* A hit costs nothing and saves what the original call cost. */
	held_answer *h = am_xcalloc(1, sizeof *h);
	snprintf(h->model, sizeof h->model, "%s", a->model);
	h->usage = a->usage;
	h->known = true;
	h->cached = true;
	h->saved = a->cost_pusd;
	h->latency_ms = (now_mono(w) - j->t_submit) / AM_NS_PER_MS;
	h->status = 200;
	snprintf(h->stop_reason, sizeof h->stop_reason, "%s", a->stop_reason);
	h->text = a->text;
	a->text = NULL;
	j->held = h;
	event_basic(w, AM_EV_STARTED, j, NULL);
	land_or_hold(w, j);
}

static void start_call(am_worker *w, wjob *j);

/* Takes j (already off the pending list) through cache, budget and limiter.
 * Returns false when dispatching must stop for this pass. */
static void dispatch(am_worker *w, wjob *j, const am_budget_now *bn, int64_t now)
{
	am_err err;
	if (!j->model[0] || j->after_529)
		select_model(w, j, bn);
	if (build_wire(w, j, &err)) {
		finish_failed(w, j, err.msg);
		return;
	}
	if (j->attempts == 0 && !j->after_529)
		event_basic(w, AM_EV_QUEUED, j, NULL);

	if (j->cacheable && w->cache && am_cache_enabled(w->cache)) {
		am_cache_answer a;
		am_cache_result res = AM_CACHE_MISS;
		memset(&a, 0, sizeof a);
		if (am_cache_get(w->cache, j->key, now_wall(w), &a, &res, &err) == 0 &&
		    res == AM_CACHE_HIT) {
			answer_from_cache(w, j, &a);
			am_cache_answer_free(&a);
			return;
		}
		am_cache_answer_free(&a);
	}

	int pool = am_rl_pool_for_model(w->rl, j->model);
	int64_t max_tokens = json_int(j->body, "max_tokens", w->default_max_tokens);
	int64_t est = am_rl_estimate_input(w->rl, j->model, (int64_t)j->wire_len);

	if (!j->budget_held) {
		am_budget_estimate be = { .input_tokens = est, .max_tokens = max_tokens,
		                          .cache_writes = strstr(j->wire, "\"cache_control\"") != NULL };
		am_prov_request_billing(j->body, w->bcfg.web_search_uses, &be.fast, &be.web_searches);
		am_budget_cost bc;
		const am_price *p = am_pricing_lookup(w->pricing, j->model);
		if (am_budget_worst_case(p, am_pricing_most_expensive(w->pricing), &be, &bc, &err)) {
			finish_failed(w, j, err.msg);
			return;
		}
		am_budget_grant g;
		if (am_budget_reserve(w->budget, bn, &bc, &g, &err)) {
			/* The reservation table is full: try again later. */
			j->st = W_PENDING;
			jl_push_front(&w->pending, j);
			return;
		}
		if (g.verdict != AM_BUDGET_RESERVED) {
			to_blocked(w, j, g.why);
			return;
		}
		j->budget_id = g.id;
		j->budget_held = true;
		j->reserved_pusd = g.amount_pusd;
	}

	int64_t cost[AM_RL_NCOST] = { 1, est, max_tokens };
	if (am_rl_ticket_init(w->rl, &j->ticket, pool, cost, j, &err)) {
		finish_failed(w, j, err.msg);
		return;
	}
	int rc = am_rl_acquire(w->rl, &j->ticket, now, &err);
	if (rc < 0) {
		if (j->ticket.code == AM_RL_EFULL) {
			j->st = W_PENDING;
			jl_push_front(&w->pending, j);
			return;
		}
		finish_failed(w, j, err.msg);
		return;
	}
	j->ticket_live = true;
	if (rc == 1) {
		start_call(w, j);
	} else {
		j->st = W_LIMIT;
		j->wait_key[0] = '\0';
		jl_push(&w->limit, j);
		mark_state(w, j, AM_JOB_WAITING_LIMIT);
	}
}

static void retry_blocked(am_worker *w, const am_budget_now *bn, int64_t now)
{
	/* Blocked jobs go again in id order; the first that is still blocked
	 * stops the scan (the budget only grows tighter behind it). */
	while (w->blocked.head && !w->paused) {
		wjob *j = jl_pop(&w->blocked);
		int before = w->blocked.n;
		j->st = W_PENDING;
		dispatch(w, j, bn, now);
		if (j && w->blocked.n > before)
			break;
	}
}

/* ------------------------------------------------------------------------ */
/* calls                                                                      */

static void on_headers(void *ctx, int status, const am_rl_headers *rl)
{
	wjob *j = ctx;
	am_worker *w = j->w;
	int64_t now = now_mono(w);
	/* The server has charged the call once headers arrive. A stream's
	 * headers describe the server at the call's start: calibrate now. A
	 * plain response is calibrated after settling (call_succeeded). */
	if (j->ticket_live && status >= 200 && status < 300) {
		if (j->stream) {
			am_rl_observe(w->rl, &j->ticket, rl, now);
		} else {
			am_rl_confirm(w->rl, &j->ticket, now);
		}
	}
}

static void on_text(void *ctx, const char *text, size_t len)
{
	wjob *j = ctx;
	am_event ev;
	memset(&ev, 0, sizeof ev);
	ev.kind = AM_EV_DELTA;
	ev.job_id = j->handle;
	ev.text = am_xstrndup(text, len);
	am_evq_push(j->w->evq, &ev);
}

static void on_call_done(void *ctx, am_prov_result *r);

static void start_call(am_worker *w, wjob *j)
{
	am_err err;
	int64_t now = now_mono(w);
	j->st = W_FLIGHT;
	j->t_sent = now;
	w->sent = true;
	jl_push(&w->flight, j);
	am_rl_sent(w->rl, &j->ticket, now);
	mark_state(w, j, AM_JOB_IN_FLIGHT);
	event_basic(w, AM_EV_STARTED, j, NULL);
	am_client_req req;
	memset(&req, 0, sizeof req);
	req.endpoint = AM_PROV_MESSAGES;
	req.body = j->wire;
	req.body_len = j->wire_len;
	req.stream = j->stream;
	am_client_cb cb = { on_headers, on_text, on_call_done, j };
	j->xfer = am_client_start(w->client, &req, &cb, &err);
	if (!j->xfer) {
		jl_remove(&w->flight, j);
		finish_failed(w, j, err.msg);
	}
}

static void settle_limiter(am_worker *w, wjob *j, const am_prov_result *r, int64_t now)
{
	int64_t in = r->usage.input_tokens + r->usage.cache_write_5m + r->usage.cache_write_1h;
	if (counts_cache_reads(r->model))
		in += r->usage.cache_read;
	int64_t actual[AM_RL_NCOST] = { 1, in, r->usage.output_tokens };
	am_rl_settle(w->rl, &j->ticket, actual, now);
	if (!j->stream)
		am_rl_observe(w->rl, &j->ticket, &r->rl, now); /* settled: calibrates only */
	j->ticket_live = false;
	am_rl_learn_input(w->rl, j->model, (int64_t)j->wire_len, am_usage_total_input(&r->usage));
}

static void call_succeeded(am_worker *w, wjob *j, am_prov_result *r, int64_t now)
{
	settle_limiter(w, j, r, now);
	const char *model = r->model[0] ? r->model : j->model;
	bool known;
	int64_t cost = price_usage(w, model, &r->usage, &known);
	am_budget_now bn;
	budget_now(w, &bn);
	if (j->budget_held) {
		int64_t over = 0;
		am_budget_alerts al;
		memset(&al, 0, sizeof al);
		am_budget_settle(w->budget, &bn, j->budget_id, cost, &over, &al, NULL);
		j->budget_held = false;
		w->budget_changed = true;
		if (over > 0) {
			char m[32];
			am_money_format(over, m, sizeof m);
			notice(w, "job %" PRId64 " cost $%s more than its reservation", j->id, m);
		}
		fire_alerts(w, &al);
	}
	held_answer *h = am_xcalloc(1, sizeof *h);
	snprintf(h->model, sizeof h->model, "%s", model);
	h->usage = r->usage;
	h->known = known;
	h->cost = cost;
	h->latency_ms = r->latency_ns / AM_NS_PER_MS;
	h->status = r->http_status;
	snprintf(h->request_id, sizeof h->request_id, "%s", r->request_id);
	snprintf(h->stop_reason, sizeof h->stop_reason, "%s", r->stop_reason);
	h->text = r->text;
	r->text = NULL;
	j->held = h;
	land_or_hold(w, j);
}

static bool final_stops_everything(am_prov_errkind k)
{
	return k == AM_PERR_AUTH || k == AM_PERR_SPEND_LIMIT || k == AM_PERR_USER_SPEND_LIMIT ||
	       k == AM_PERR_BILLING || k == AM_PERR_SETUP;
}

/* A uniform number in [0, 1) for backoff jitter (xorshift64*, worker-owned). */
static double jitter01(am_worker *w)
{
	uint64_t x = w->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	w->rng = x;
	return (double)((x * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

static void call_failed(am_worker *w, wjob *j, am_prov_result *r, int64_t now)
{
	char msg[256];
	am_prov_describe(r, msg, sizeof msg);

	j->attempts++;
	bool retry = am_prov_retry_should(&w->retry, j->attempts, r);
	if (!retry) {
		if (final_stops_everything(r->err) && w->opts.halt_on_fatal) {
			halt(w, msg);
		} else if (final_stops_everything(r->err) && !w->paused) {
			w->paused = true;
			notice(w, "paused: %s — every further call would fail; fix it, then /resume",
			       r->message);
		}
		if (j->ticket_live) {
			am_rl_cancel(w->rl, &j->ticket, now);
			j->ticket_live = false;
		}
		finish_failed(w, j, msg);
		return;
	}
	db_update(w, j, AM_JOB_QUEUED, msg, NULL);
	if (r->err == AM_PERR_RATE_LIMIT) {
		/* The limiter pauses that pool dimension and puts the ticket back at
		 * the head of its queue; the budget reservation stays. */
		am_rl_on_429(w->rl, &j->ticket, &r->rl, am_rl_dim_from_message(r->message), now);
		j->st = W_LIMIT;
		jl_push(&w->limit, j);
		char why[96];
		limit_wait_reason(w, j->ticket.pool, now, why, sizeof why, j->wait_key,
		                  sizeof j->wait_key);
		event_basic(w, AM_EV_WAITING, j, why[0] ? why : "a retry after a 429");
		return;
	}
	if (r->err == AM_PERR_OVERLOADED || r->err == AM_PERR_SERVER) {
		am_rl_on_overload(w->rl, &j->ticket, now);
		if (r->err == AM_PERR_OVERLOADED && w->sel.fallback_model[0])
			j->after_529 = true;
	} else {
		am_rl_cancel(w->rl, &j->ticket, now);
	}
	j->ticket_live = false;
	release_budget(w, j);
	int64_t delay = am_prov_retry_delay(&w->retry, j->attempts, &r->rl, jitter01(w));
	j->not_before = now + delay;
	j->st = W_RETRY;
	jl_push(&w->retry_list, j);
	char why[300];
	char t[32];
	wait_duration(delay, t, sizeof t);
	snprintf(why, sizeof why, "retry %d in %s after %s", j->attempts, t, msg);
	event_basic(w, AM_EV_WAITING, j, why);
}

/* Called by the client on the worker thread (from am_client_run). */
static void on_call_done(void *ctx, am_prov_result *r)
{
	wjob *j = ctx;
	am_worker *w = j->w;
	int64_t now = now_mono(w);
	j->xfer = 0;
	if (w->tearing_down)
		return;
	jl_remove(&w->flight, j);
	if (j->cancelling || r->err == AM_PERR_CANCELLED) {
		j->st = W_FINISHED;
		if (j->ticket_live) {
			am_rl_cancel(w->rl, &j->ticket, now);
			j->ticket_live = false;
		}
		release_budget(w, j);
		db_update(w, j, AM_JOB_CANCELLED, "cancelled", NULL);
		event_basic(w, AM_EV_CANCELLED, j, NULL);
		free_job(w, j);
		return;
	}
	if (r->err == AM_PERR_NONE)
		call_succeeded(w, j, r, now);
	else
		call_failed(w, j, r, now);
}

/* ------------------------------------------------------------------------ */
/* the loop                                                                   */

static int cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Takes one unfinished job from the database into memory, as pending. */
static void load_job(am_worker *w, const am_job *job)
{
	json_error_t je;
	json_t *body = json_loads(job->request, 0, &je);
	if (!json_is_object(body)) {
		json_decref(body);
		am_queue_update(w->db, job->id, AM_JOB_FAILED, NULL, NULL,
		                "stored request is not valid JSON", NULL, job->attempts, now_wall(w),
		                NULL);
		return;
	}
	wjob *j = am_xcalloc(1, sizeof *j);
	j->w = w;
	j->handle = atomic_fetch_add(&w->next_handle, 1);
	j->id = job->id;
	j->body = body;
	j->model_req = job->model_requested ? am_xstrdup(job->model_requested) : NULL;
	j->attempts = job->attempts;
	j->source = "batch";
	j->answer_is_output = true;
	j->stream = json_is_true(json_object_get(body, "stream"));
	j->no_cache = json_is_true(json_object_get(body, "x-no-cache"));
	json_object_del(j->body, "x-no-cache");
	j->t_submit = now_mono(w);
	all_add(w, j);
	atomic_fetch_add(&w->unfinished, 1);
	jl_insert_by_id(&w->pending, j);
}

/* Loads the unfinished jobs of the database that are not in memory: jobs
 * another connection added (batch), and jobs it put back to queued (a
 * re-run retries what failed), whatever their ids; only jobs this worker
 * may claim (nobody's, its own, a dead process's), never a live other
 * process's. */
static void scan_db(am_worker *w)
{
	int64_t *ids = NULL;
	int n = 0;
	am_err err;
	if (am_queue_claim_unfinished(w->db, &w->owner, w->queue_capacity, &ids, &n, &err)) {
		notice(w, "%s", err.msg);
		return;
	}
	size_t nmem = 0, cap = 64;
	int64_t *mem = am_xmalloc(cap * sizeof *mem);
	for (const wjob *j = w->all; j; j = j->all_next) {
		if (nmem == cap)
			mem = am_xrealloc(mem, (cap *= 2) * sizeof *mem);
		mem[nmem++] = j->id;
	}
	qsort(mem, nmem, sizeof *mem, cmp_id);
	for (int i = 0; i < n; i++) {
		if (bsearch(&ids[i], mem, nmem, sizeof *mem, cmp_id))
			continue;
		am_job job;
		if (am_queue_get(w->db, ids[i], &job, &err)) {
			notice(w, "%s", err.msg);
			continue;
		}
		if (!am_job_state_final(job.state))
			load_job(w, &job);
		am_job_clear(&job);
	}
	free(mem);
	free(ids);
	w->dirty = true;
}

static jlist *list_of(am_worker *w, wjob *j)
{
	switch (j->st) {
	case W_PENDING: return &w->pending;
	case W_RETRY: return &w->retry_list;
	case W_BLOCKED: return &w->blocked;
	case W_LIMIT: return &w->limit;
	case W_FLIGHT: return &w->flight;
	case W_UNRECORDED: return &w->unrecorded;
	default: return NULL;
	}
}

/* Cancels a job that has not finished: it leaves its list, gives back its
 * limiter ticket and budget reservation, and ends as cancelled. A call on
 * the wire is aborted first (the client reports it cancelled). */
static void cancel_job(am_worker *w, int64_t handle, int64_t now)
{
	wjob *j = w->all;
	while (j && j->handle != handle)
		j = j->all_next;
	if (!j || j->st == W_FINISHED || j->st == W_UNRECORDED)
		return; /* an answer that arrived is recorded, not cancelled */
	if (j->xfer) {
		/* The client reports the abort through on_call_done, which ends the job. */
		j->cancelling = true;
		am_client_cancel(w->client, j->xfer);
		return;
	}
	jlist *l = list_of(w, j);
	if (l)
		jl_remove(l, j);
	if (j->ticket_live) {
		am_rl_cancel(w->rl, &j->ticket, now);
		j->ticket_live = false;
	}
	release_budget(w, j);
	j->st = W_FINISHED;
	db_update(w, j, AM_JOB_CANCELLED, "cancelled", NULL);
	event_basic(w, AM_EV_CANCELLED, j, NULL);
	free_job(w, j);
}

static void apply_command(am_worker *w, const am_command *c, int64_t now)
{
	am_err err;
	am_budget_now bn;
	budget_now(w, &bn);
	am_budget_alerts al;
	memset(&al, 0, sizeof al);
	char key[96], val[64];
	key[0] = val[0] = '\0';
	int pool = -1;
	if (c->pool[0]) {
		for (int i = 0; i < am_rl_npools(w->rl); i++)
			if (!strcmp(am_rl_pool_name(w->rl, i), c->pool))
				pool = i;
	}
	switch (c->kind) {
	case AM_CMD_SET_RPM:
	case AM_CMD_SET_ITPM:
	case AM_CMD_SET_OTPM: {
		int dim = c->kind == AM_CMD_SET_RPM ? AM_RL_REQ
		          : c->kind == AM_CMD_SET_ITPM ? AM_RL_ITOK : AM_RL_OTOK;
		const char *name = c->kind == AM_CMD_SET_RPM ? "rpm"
		                   : c->kind == AM_CMD_SET_ITPM ? "itpm" : "otpm";
		if (am_rl_set_limit(w->rl, pool, dim, c->value, now, &err)) {
			notice(w, "%s", err.msg);
			return;
		}
		if (pool >= 0)
			snprintf(key, sizeof key, "limits.pools.%s.%s", c->pool, name);
		else
			snprintf(key, sizeof key, "limits.%s", name);
		snprintf(val, sizeof val, "%" PRId64, c->value);
		break;
	}
	case AM_CMD_SET_BUDGET_DAY:
	case AM_CMD_SET_BUDGET_MONTH: {
		bool day = c->kind == AM_CMD_SET_BUDGET_DAY;
		if (day)
			w->bcfg.day_limit_pusd = c->value;
		else
			w->bcfg.month_limit_pusd = c->value;
		if (am_budget_set_limits(w->budget, &bn, w->bcfg.day_limit_pusd,
		                         w->bcfg.month_limit_pusd, &al, &err)) {
			notice(w, "%s", err.msg);
			return;
		}
		w->budget_changed = true;
		snprintf(key, sizeof key, "budget.%s", day ? "daily_usd" : "monthly_usd");
		am_money_format(c->value, val, sizeof val);
		break;
	}
	case AM_CMD_SET_ALERT_PCT: {
		int pct = (int)c->value;
		if (am_budget_set_alerts(w->budget, &bn, &pct, 1, &al, &err)) {
			notice(w, "%s", err.msg);
			return;
		}
		w->bcfg.nalerts = 1;
		w->bcfg.alert_pct[0] = pct;
		snprintf(key, sizeof key, "budget.alert_pct");
		snprintf(val, sizeof val, "%d", pct);
		break;
	}
	case AM_CMD_SET_MODEL:
		snprintf(w->model_mode, sizeof w->model_mode, "%s", c->text[0] ? c->text : "auto");
		snprintf(key, sizeof key, "selector.model");
		snprintf(val, sizeof val, "%s", w->model_mode);
		break;
	case AM_CMD_CACHE_ON:
	case AM_CMD_CACHE_OFF:
		if (w->cache)
			am_cache_set_enabled(w->cache, c->kind == AM_CMD_CACHE_ON);
		snprintf(key, sizeof key, "cache.enabled");
		snprintf(val, sizeof val, "%s", c->kind == AM_CMD_CACHE_ON ? "true" : "false");
		break;
	case AM_CMD_CACHE_CLEAR:
		if (w->cache && am_cache_clear(w->cache, &err))
			notice(w, "cache: %s", err.msg);
		break;
	case AM_CMD_PAUSE:
		w->paused = true;
		break;
	case AM_CMD_RESUME:
		w->paused = false;
		w->budget_changed = true;
		break;
	case AM_CMD_CANCEL_JOB:
		cancel_job(w, c->value, now);
		break;
	}
	fire_alerts(w, &al);
	if (c->persist && key[0] &&
	    am_ledger_setting_set(w->ledger, key, val, now_wall(w), &err))
		notice(w, "could not save %s: %s", key, err.msg);
	w->dirty = true;
}

static void take_inbox(am_worker *w, int64_t now)
{
	pthread_mutex_lock(&w->mu);
	inbox_item *it = w->inbox;
	w->inbox = w->inbox_tail = NULL;
	w->inbox_n = 0;
	pthread_mutex_unlock(&w->mu);
	while (it) {
		inbox_item *next = it->next;
		if (it->kind == IN_COMMAND) {
			apply_command(w, &it->cmd, now);
		} else {
			wjob *j = am_xcalloc(1, sizeof *j);
			j->w = w;
			j->handle = it->handle;
			j->body = it->body;
			j->model_req = it->model;
			it->model = NULL;
			j->no_cache = it->no_cache;
			j->stream = it->stream;
			j->source = w->opts.source ? w->opts.source : "console";
			j->t_submit = now;
			all_add(w, j);
			fresh_add(w, j); /* its row is written at the end of the pass */
			jl_push(&w->pending, j);
		}
		free(it->model);
		free(it);
		it = next;
	}
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

/* ------------------------------------------------------------------------ */
/* spend recorded by other processes                                          */

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
static int count_foreign(am_worker *w)
{
	static const char sql[] =
	        "SELECT id, day, ts_ns, model, input_tokens, output_tokens, cache_write_5m,"
	        " cache_write_1h, cache_read, cost_pusd, price_known FROM usage_events"
	        " WHERE id > ?1 ORDER BY id LIMIT ?2";
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(w->db, sql, -1, &st, NULL) != SQLITE_OK) {
		notice(w, "ledger: reading other processes' calls: %s", sqlite3_errmsg(w->db));
		return -1;
	}
	sqlite3_bind_int64(st, 1, w->seen_row);
	sqlite3_bind_int(st, 2, FOREIGN_ROWS);
	am_budget_now bn;
	int rows = 0, counted = 0, k = 0, rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (rows++ == 0) {
			/* Every row visible now was stamped before this moment. */
			budget_now(w, &bn);
			day_rollover(w, &bn);
		}
		int64_t id = sqlite3_column_int64(st, 0);
		w->seen_row = id;
		while (k < w->nown && w->own_rows[k] < id)
			k++;
		if (k < w->nown && w->own_rows[k] == id)
			continue;
		const char *day = (const char *)sqlite3_column_text(st, 1);
		const char *model = (const char *)sqlite3_column_text(st, 3);
		am_usage u = { .input_tokens = sqlite3_column_int64(st, 4),
		               .output_tokens = sqlite3_column_int64(st, 5),
		               .cache_write_5m = sqlite3_column_int64(st, 6),
		               .cache_write_1h = sqlite3_column_int64(st, 7),
		               .cache_read = sqlite3_column_int64(st, 8) };
		int64_t cost = sqlite3_column_int64(st, 9); /* NULL (0) when the price was unknown */
		bool known = sqlite3_column_int(st, 10) != 0, ours;
		/* An unknown price is charged as a reservation is: at our table's
		 * price for the model, else at the dearest model's. */
		int64_t charge = known ? cost : price_usage(w, model ? model : "", &u, &ours);
		am_budget_alerts al;
		am_err err;
		if (am_budget_add_spent(w->budget, &bn, day ? day : "", sqlite3_column_int64(st, 2),
		                        charge, !known, &al, &err))
			notice(w, "ledger row %" PRId64 ": %s", id, err.msg);
		fire_alerts(w, &al);
		if (day && model && !strcmp(day, w->today))
			count_model(w, model, &u, known, cost);
		counted++;
	}
	if (rc != SQLITE_DONE)
		notice(w, "ledger: reading other processes' calls: %s", sqlite3_errmsg(w->db));
	sqlite3_finalize(st);
	int passed = 0;
	while (passed < w->nown && w->own_rows[passed] <= w->seen_row)
		passed++;
	w->nown -= passed;
	memmove(w->own_rows, w->own_rows + passed, (size_t)w->nown * sizeof *w->own_rows);
	if (counted) {
		w->budget_changed = true; /* blocked jobs look again */
		w->dirty = true;
	}
	return rc == SQLITE_DONE ? rows : -1;
}

/* Remembers a row this worker has just committed (see count_foreign). */
static void own_row(am_worker *w, int64_t id)
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
	w->next_foreign_scan = rows == FOREIGN_ROWS ? now : now + FOREIGN_SCAN_MS * AM_NS_PER_MS;
}

/* The pools worth a place on the dashboard, most active first: those with
 * calls today, queued work, calls in flight, a 429 or a cool-down, and
 * those of the models the selector would choose now. A price table names
 * many pools that this user never touches; listing them all hides the ones
 * that matter. Ties keep the limiter's order (overrides, then the
 * selector's tiers). Returns how many indexes went into order. */
static int pools_that_matter(am_worker *w, int64_t now, int *order, int max)
{
	int np = am_rl_npools(w->rl);
	if (np > AM_RL_MAX_POOLS)
		np = AM_RL_MAX_POOLS;
	int64_t score[AM_RL_MAX_POOLS] = { 0 };
	bool want[AM_RL_MAX_POOLS] = { false };
	for (int i = 0; i < w->nmodels; i++) {
		int p = am_rl_pool_for_model(w->rl, w->models[i].m.model);
		if (p >= 0 && p < np && w->models[i].m.requests > 0) {
			score[p] += w->models[i].m.requests;
			want[p] = true;
		}
	}
	bool pinned = strcmp(w->model_mode, "auto") != 0;
	for (int i = 0; i < (pinned ? 1 : w->sel.nrules) && i < AM_SEL_MAX_RULES; i++) {
		int p = am_rl_pool_for_model(w->rl, pinned ? w->model_mode : w->sel.rule[i].model);
		if (p >= 0 && p < np)
			want[p] = true;
	}
	for (int p = 0; p < np; p++) {
		am_rl_pool_stats st;
		am_rl_stats(w->rl, p, now, &st);
		score[p] += st.queue_depth + st.in_flight;
		bool alarm = st.n429 > 0;
		for (int d = 0; d < AM_RL_NDIMS; d++)
			alarm = alarm || st.dim[d].cooldown_until_ns > now;
		if (st.queue_depth || st.in_flight || alarm)
			want[p] = true;
	}
	int n = 0;
	for (int p = 0; p < np && n < max; p++) {
		if (!want[p])
			continue;
		int at = n++;
		while (at > 0 && score[order[at - 1]] < score[p]) {
			order[at] = order[at - 1];
			at--;
		}
		order[at] = p;
	}
	return n;
}

static void publish(am_worker *w, int64_t now, bool force)
{
	if (!force && (!w->dirty || now - w->last_snap_mono < SNAPSHOT_PERIOD_MS * AM_NS_PER_MS))
		return;
	am_snapshot s;
	memset(&s, 0, sizeof s);
	s.mono_ns = now;
	s.wall_ns = now_wall(w);
	s.simulator = w->opts.simulator;
	snprintf(s.endpoint, sizeof s.endpoint, "%s", w->endpoint);
	snprintf(s.model_mode, sizeof s.model_mode, "%s", w->model_mode);
	s.paused = w->paused;
	s.queue_depth = w->pending.n + w->retry_list.n + w->limit.n;
	s.in_flight = w->flight.n;
	s.waiting_limit = w->limit.n;
	s.done = (int)w->done;
	s.failed = (int)w->failed;
	int order[AM_SNAP_MAX_POOLS];
	s.npools = pools_that_matter(w, now, order, AM_SNAP_MAX_POOLS);
	for (int i = 0; i < s.npools; i++)
		am_snap_pool_fill(w->rl, order[i], now, &s.pool[i]);
	s.nmodels = w->nmodels;
	memset(&s.total, 0, sizeof s.total);
	snprintf(s.total.model, sizeof s.total.model, "total");
	s.total.price_known = true;
	for (int i = 0; i < w->nmodels; i++) {
		s.model[i] = w->models[i].m;
		s.total.requests += s.model[i].requests;
		s.total.input += s.model[i].input;
		s.total.output += s.model[i].output;
		s.total.cache_write += s.model[i].cache_write;
		s.total.cache_read += s.model[i].cache_read;
		s.total.cost_pusd += s.model[i].cost_pusd;
		if (!s.model[i].price_known)
			s.total.price_known = false;
	}
	if (w->cache)
		am_cache_stats(w->cache, &s.cache);
	am_budget_now bn;
	budget_now(w, &bn);
	am_budget_snapshot(w->budget, &bn, &s.budget);
	s.budget.blocked_jobs = w->blocked.n;
	pthread_mutex_lock(&w->mu);
	s.seq = w->snap.seq + 1;
	w->snap = s;
	pthread_mutex_unlock(&w->mu);
	am_evq_signal(w->evq);
	w->dirty = false;
	w->last_snap_mono = now;
}

static bool idle(am_worker *w)
{
	int inbox;
	pthread_mutex_lock(&w->mu);
	inbox = w->inbox_n;
	pthread_mutex_unlock(&w->mu);
	return !inbox && !w->pending.n && !w->retry_list.n && !w->limit.n && !w->flight.n &&
	       !w->unrecorded.n && !atomic_load(&w->poked);
}

/* Quiet: nothing this worker could do before someone submits, commands or
 * pokes. Paused, only the calls in flight can still move; otherwise blocked
 * jobs must have been tried again since the last settle or limit change,
 * and no ledger write may be waiting for its next try. */
static void update_quiet(am_worker *w, int64_t now)
{
	pthread_mutex_lock(&w->mu);
	w->quiet = !w->inbox_n && !atomic_load(&w->poked) && !w->flight.n && !w->unrecorded.n &&
	           now >= w->db_retry_at &&
	           (w->paused || (!w->pending.n && !w->retry_list.n && !w->limit.n &&
	                          !w->budget_changed));
	w->quiet_paused = w->paused;
	pthread_mutex_unlock(&w->mu);
}

static void loop_pass(am_worker *w)
{
	int64_t now = now_mono(w);
	am_budget_now bn;
	budget_now(w, &bn);
	day_rollover(w, &bn);
	am_budget_tick(w->budget, &bn);
	foreign_tick(w, now);

	take_inbox(w, now);
	if (atomic_exchange(&w->poked, false))
		scan_db(w);
	if (w->unrecorded.n && now >= w->db_retry_at)
		land_unrecorded(w);
	/* While the ledger cannot be written, no new call is started. */
	bool hold = w->paused || w->unrecorded.n || now < w->db_retry_at;

	/* Due retries go back to the front, oldest first. */
	for (wjob *j = w->retry_list.head, *next; j; j = next) {
		next = j->next;
		if (j->not_before <= now) {
			jl_remove(&w->retry_list, j);
			j->st = W_PENDING;
			jl_insert_by_id(&w->pending, j);
		}
	}

	if (!hold) {
		if (w->budget_changed) {
			w->budget_changed = false;
			retry_blocked(w, &bn, now);
		}
		while (w->pending.head && w->limit.n + w->flight.n < w->concurrency) {
			wjob *j = jl_pop(&w->pending);
			dispatch(w, j, &bn, now);
			if (w->pending.head == j)
				break; /* could not go this pass (reservations or queue full) */
		}
	}

	/* Start what the limiter granted. */
	am_rl_ticket *granted[64];
	int n;
	while ((n = am_rl_poll(w->rl, now, granted, 64)) > 0) {
		for (int i = 0; i < n; i++) {
			wjob *j = granted[i]->user;
			jl_remove(&w->limit, j);
			if (granted[i]->state == AM_RL_ST_GRANTED) {
				if (hold) {
					/* Granted while holding: give the tokens back and wait. */
					am_rl_cancel(w->rl, &j->ticket, now);
					j->ticket_live = false;
					release_budget(w, j);
					j->st = W_PENDING;
					jl_insert_by_id(&w->pending, j);
					continue;
				}
				start_call(w, j);
			} else {
				j->ticket_live = false;
				char msg[AM_ERR_MAX];
				snprintf(msg, sizeof msg,
				         "the request can never fit the rate limit (it costs more than "
				         "a bucket holds)");
				finish_failed(w, j, msg);
			}
		}
		if (n < 64)
			break;
	}

	/* The pass transaction: the calls go out first, then the rows. */
	if (w->tx_open || w->nfresh) {
		if (w->sent)
			am_client_run(w->client, 0, NULL);
		flush_writes(w);
	}
	w->sent = false;

	if (now - w->last_wait_check >= SNAPSHOT_PERIOD_MS * AM_NS_PER_MS) {
		w->last_wait_check = now;
		refresh_waiting(w, now);
	}

	/* Wait for I/O until the next thing that needs the loop. */
	int64_t next = am_rl_next_event_ns(w->rl, now);
	for (wjob *j = w->retry_list.head; j; j = j->next)
		if (j->not_before < next)
			next = j->not_before;
	if (w->db_retry_at > now && w->db_retry_at < next)
		next = w->db_retry_at;
	int64_t wait_ms = next == INT64_MAX ? MAX_TICK_MS : (next - now) / AM_NS_PER_MS + 1;
	if (w->dirty) {
		int64_t snap_due = SNAPSHOT_PERIOD_MS - (now - w->last_snap_mono) / AM_NS_PER_MS;
		if (snap_due < wait_ms)
			wait_ms = snap_due;
	}
	if (wait_ms < 0)
		wait_ms = 0;
	if (wait_ms > MAX_TICK_MS)
		wait_ms = MAX_TICK_MS;
	am_client_run(w->client, (int)wait_ms, NULL);
	flush_writes(w);
	/* Bars and the head's wait move with time, not only with events: live
	 * while there is work, then once a second while the buckets refill
	 * (a minute at most), then not at all. */
	now = now_mono(w);
	if (w->pending.n || w->retry_list.n || w->limit.n || w->flight.n) {
		w->last_busy = now;
		w->dirty = true;
	} else if (now - w->last_busy < REFILL_WINDOW_MS * AM_NS_PER_MS &&
	           now - w->last_snap_mono >= AM_NS_PER_SEC) {
		w->dirty = true;
	}
	publish(w, now, false);
	update_quiet(w, now);
}

/* ------------------------------------------------------------------------ */
/* set-up                                                                     */

static void add_pool(am_worker *w, am_rl_pool_cfg *pools, int *n, const am_config *cfg,
                     const char *name)
{
	if (!name || !*name || *n >= AM_RL_MAX_POOLS)
		return;
	for (int i = 0; i < *n; i++)
		if (!strcmp(pools[i].name, name))
			return;
	am_config_limits lim;
	unsigned explicit_mask = 0;
	am_config_pool_limits(cfg, name, &lim, &explicit_mask);
	static const int fields[AM_RL_NCOST] = { AM_LIM_RPM, AM_LIM_ITPM, AM_LIM_OTPM };
	const int64_t vals[AM_RL_NCOST] = { lim.rpm, lim.itpm, lim.otpm };
	for (int d = 0; d < AM_RL_NCOST; d++)
		w->ceiling[*n][d] = !cfg->limits.learn_from_headers ||
		                            (explicit_mask & (1u << fields[d]))
		                    ? vals[d] : -1;
	am_rl_pool_cfg *pc = &pools[(*n)++];
	am_rl_pool_cfg_init(pc, name, lim.rpm, lim.itpm, lim.otpm);
	if (lim.max_in_flight > 0)
		pc->max_in_flight = (int)lim.max_in_flight;
	if (lim.rpm_burst > 0 && lim.rpm > 0)
		pc->short_window_ns = lim.rpm_burst * 60 * AM_NS_PER_SEC / lim.rpm;
	pc->init_fill_ppm = (int32_t)(cfg->limits.init_fill_pct * 10000);
}

static int build_limiter(am_worker *w, const am_config *cfg, int64_t now, am_err *err)
{
	am_rl_pool_cfg pools[AM_RL_MAX_POOLS];
	int np = 0;
	/* The pools of the configured overrides and of the selector's models go
	 * first, then the rest of the price table's pools; "default" catches
	 * models that belong to none. */
	for (int i = 0; i < cfg->limits.npools; i++)
		add_pool(w, pools, &np, cfg, cfg->limits.pool[i].name);
	for (int i = 0; i < w->sel.ntiers; i++) {
		const am_price *p = am_pricing_lookup(w->pricing, w->sel.tier[i].model);
		const char *pool = am_config_pool_of_model(cfg, w->sel.tier[i].model);
		add_pool(w, pools, &np, cfg, pool ? pool : p ? p->pool : NULL);
	}
	for (size_t i = 0; i < am_pricing_count(w->pricing); i++)
		add_pool(w, pools, &np, cfg, am_pricing_at(w->pricing, i)->pool);
	if (np == AM_RL_MAX_POOLS)
		np--;
	add_pool(w, pools, &np, cfg, "default");

	/* Every priced model maps to its pool, when that pool exists. */
	am_rl_map map[256];
	int nmap = 0;
	for (int i = 0; i < cfg->limits.nmodel_pools && nmap < 256; i++)
		map[nmap++] = (am_rl_map){ cfg->limits.model_pool[i].model,
		                           cfg->limits.model_pool[i].pool };
	for (size_t i = 0; i < am_pricing_count(w->pricing) && nmap < 256; i++) {
		const am_price *p = am_pricing_at(w->pricing, i);
		for (int k = 0; k < np; k++)
			if (!strcmp(pools[k].name, p->pool))
				map[nmap++] = (am_rl_map){ p->model, p->pool };
	}
	am_rl_cfg rc;
	am_rl_cfg_init(&rc);
	rc.pools = pools;
	rc.npools = np;
	rc.map = map;
	rc.nmap = nmap;
	if (!cfg->limits.backfill)
		rc.backfill_scan = 0;
	if (am_rl_create(&w->rl, &rc, now, err))
		return -1;
	for (int i = 0; i < np; i++)
		for (int d = 0; d < AM_RL_NCOST; d++)
			if (w->ceiling[i][d] > 0 && am_rl_set_limit(w->rl, i, d, w->ceiling[i][d], now, err))
				return -1;
	return 0;
}

static int build_selector(am_worker *w, const am_config *cfg, am_err *err)
{
	if (am_sel_config_from(cfg, &w->sel, err))
		return -1;
	snprintf(w->model_mode, sizeof w->model_mode, "%s",
	         cfg->selector.model[0] ? cfg->selector.model : "auto");
	return 0;
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
		int64_t all = price_usage(w, r->model, &u, &ours);
		if (all > r->cost_pusd)
			extra += all - r->cost_pusd;
	}
	return extra;
}

static int load_today(am_worker *w, const am_budget_now *bn, int64_t *day_spent,
                      int64_t *month_spent, bool *unknown, am_err *err)
{
	am_ledger_summary s;
	if (am_ledger_report(w->ledger, bn->day, bn->day, false, &s, err))
		return -1;
	w->nmodels = 0;
	for (size_t i = 0; i < s.nrows && i < MAX_MODELS; i++) {
		model_total *m = model_slot(w, s.rows[i].model);
		m->m.requests += s.rows[i].requests;
		m->m.input += s.rows[i].input_tokens;
		m->m.output += s.rows[i].output_tokens;
		m->m.cache_write += s.rows[i].cache_write;
		m->m.cache_read += s.rows[i].cache_read;
		m->m.cost_pusd += s.rows[i].cost_pusd;
		m->m.price_known = m->m.price_known && s.rows[i].price_known;
	}
	*day_spent = s.total.cost_pusd + unknown_charge(w, &s);
	*unknown = !s.total.price_known;
	am_ledger_summary_free(&s);
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
static int load_today_marked(am_worker *w, const am_budget_now *bn, int64_t *day_spent,
                             int64_t *month_spent, bool *unknown, am_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_exec(w->db, "BEGIN", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(w->db, "SELECT coalesce(max(id), 0) FROM usage_events", -1,
		                        &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		w->seen_row = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_OK)
		am_err_set(err, "ledger: %s", sqlite3_errmsg(w->db));
	sqlite3_finalize(st);
	if (rc == SQLITE_OK && load_today(w, bn, day_spent, month_spent, unknown, err))
		rc = SQLITE_ERROR;
	sqlite3_exec(w->db, rc == SQLITE_OK ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : -1;
}

/* The burn rate and the spend sparkline look back an hour: after a restart
 * they start from what the ledger recorded in that hour, not from zero.
 * Reads by the ts_ns index, so a large ledger costs only its last hour. */
static int load_recent_burn(am_worker *w, am_err *err)
{
	sqlite3_stmt *st = NULL;
	int64_t since = now_wall(w) - (int64_t)AM_BUDGET_RING_MINUTES * 60 * AM_NS_PER_SEC;
	if (sqlite3_prepare_v2(w->db,
	                       "SELECT ts_ns, cost_pusd FROM usage_events"
	                       " WHERE ts_ns >= ?1 AND cost_pusd > 0 AND id <= ?2",
	                       -1, &st, NULL) != SQLITE_OK)
		return am_err_set(err, "ledger: %s", sqlite3_errmsg(w->db));
	sqlite3_bind_int64(st, 1, since);
	sqlite3_bind_int64(st, 2, w->seen_row); /* later rows are count_foreign's */
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		am_budget_burn_feed(w->budget, sqlite3_column_int64(st, 0),
		                    sqlite3_column_int64(st, 1));
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return am_err_set(err, "ledger: %s", sqlite3_errmsg(w->db));
	return 0;
}

static int restore_setting(void *ctx, const char *key, const char *value, int64_t updated_ns)
{
	(void)updated_ns;
	am_config_restore(ctx, key, value, NULL);
	return 0;
}

static int worker_init(am_worker *w, am_err *err)
{
	am_config cfg = *w->config;
	if (cfg.log_file[0] && am_log_open(&w->log, cfg.log_file, err))
		return -1;
	am_ledger_opts lo = { 0 };
	if (am_ledger_open(&w->ledger, w->db_path, &lo, err))
		return -1;
	w->db = am_ledger_db(w->ledger);
	w->qs = am_queue_stmts_new(w->db);
	if (w->opts.load_settings &&
	    am_ledger_settings_each(w->ledger, restore_setting, &cfg, err))
		return -1;
	int requeued = 0;
	if (am_queue_recover(w->db, &w->owner, now_wall(w), &requeued, err))
		return -1;

	if (build_selector(w, &cfg, err))
		return -1;
	int64_t now = now_mono(w);
	if (build_limiter(w, &cfg, now, err))
		return -1;
	w->last_busy = now; /* the buckets start part-full (init_fill_pct) and refill */

	if (am_budget_config_from(&cfg, &w->bcfg, err))
		return -1;
	snprintf(w->alert_command, sizeof w->alert_command, "%s", cfg.budget.alert_command);
	w->bell = cfg.budget.bell;
	am_budget_now bn;
	if (am_budget_now_local(now_wall(w), &bn, err))
		return -1;
	int64_t day_spent = 0, month_spent = 0;
	bool unknown = false;
	if (load_today_marked(w, &bn, &day_spent, &month_spent, &unknown, err))
		return -1;
	if (am_budget_new(&w->budget, &w->bcfg, &bn, day_spent, month_spent, unknown, err) ||
	    load_recent_burn(w, err))
		return -1;

	am_cache_config cc;
	if (am_cache_config_from(&cfg, &cc, err))
		return -1;
	if (am_cache_open(&w->cache, w->db, &cc, err))
		return -1;

	am_prov_retry_cfg_default(&w->retry);
	w->retry.max_retries = (int)cfg.client.max_retries;
	w->concurrency = cfg.worker.concurrency > 0 ? cfg.worker.concurrency : 64;
	w->default_max_tokens = cfg.client.max_tokens > 0 ? cfg.client.max_tokens
	                                                  : DEFAULT_MAX_TOKENS;
	w->stream_default = cfg.client.stream;

	am_client_opts co;
	am_client_opts_default(&co);
	co.base_url = w->base_url;
	co.api_key = w->api_key;
	co.connect_timeout_ms = cfg.client.connect_timeout_ms;
	co.total_timeout_ms = cfg.client.timeout_ms;
	co.max_response_bytes = (size_t)cfg.client.max_response_bytes;
	co.clock = w->clock;
	am_client *client;
	if (am_client_new(&client, &co, err))
		return -1;
	pthread_mutex_lock(&w->mu);
	w->client = client;
	pthread_mutex_unlock(&w->mu);

	am_log_write(w->log, now_wall(w), "started: %s%s, database %s", w->endpoint,
	             w->opts.simulator ? " (simulator)" : "", w->db_path);
	scan_db(w);
	/* Jobs left by a quit (still queued) or a crash (requeued above). */
	if (w->pending.n)
		notice(w, "resumed %d job%s from an earlier run", w->pending.n,
		       w->pending.n == 1 ? "" : "s");
	am_config_wipe(&cfg);
	return 0;
}

static void worker_teardown(am_worker *w)
{
	/* Calls still on the wire are cancelled; their jobs stay queued in the
	 * database (recovery re-sends them) and their reservations die with the
	 * process's budget object. */
	w->tearing_down = true;
	pthread_mutex_lock(&w->mu);
	am_client *client = w->client;
	w->client = NULL;
	pthread_mutex_unlock(&w->mu);
	am_client_free(client);
	/* Jobs without a row get one now, to be resumed at the next start. */
	am_err err;
	if (w->ledger) {
		ensure_row(w, NULL, &err);
		if (tx_commit(w, &err))
			tx_abort(w);
	}
	w->nfresh = 0;
	while (w->all) {
		wjob *j = w->all;
		if (j->id && (j->st == W_FLIGHT || j->st == W_LIMIT))
			am_queue_update(w->db, j->id, AM_JOB_QUEUED, NULL, NULL, NULL, NULL,
			                j->attempts, now_wall(w), NULL);
		free_held(j);
		json_decref(j->body);
		free(j->model_req);
		free(j->wire);
		w->all = j->all_next;
		free(j);
	}
	am_cache_close(w->cache);
	am_budget_free(w->budget);
	am_rl_free(w->rl);
	am_queue_stmts_free(w->qs);
	w->qs = NULL;
	sqlite3_finalize(w->mark_stmt);
	w->mark_stmt = NULL;
	w->nmarks = 0;
	free(w->fresh);
	w->fresh = NULL;
	w->nfresh = w->fresh_cap = 0;
	am_ledger_close(w->ledger);
	am_log_close(w->log);
	w->log = NULL;
	w->cache = NULL;
	w->budget = NULL;
	w->rl = NULL;
	w->ledger = NULL;
}

static void *worker_main(void *arg)
{
	am_worker *w = arg;
	am_err err;
	memset(&err, 0, sizeof err);
	int rc = worker_init(w, &err);
	/* The first snapshot is out before am_worker_start returns, so an
	 * observer never paints an empty one. */
	if (!rc)
		publish(w, now_mono(w), true);
	pthread_mutex_lock(&w->mu);
	w->init_state = rc ? -1 : 1;
	w->init_err = err;
	pthread_cond_broadcast(&w->init_cv);
	pthread_mutex_unlock(&w->mu);
	if (rc) {
		worker_teardown(w);
		atomic_store(&w->finished, true);
		return NULL;
	}
	while (!atomic_load(&w->stop) && !w->halted) {
		loop_pass(w);
		if (w->opts.stop_when_idle && idle(w) && !w->dirty)
			break;
	}
	/* What observers sent before stopping still counts: a cancel must reach
	 * the database (or the job would run at the next start), and a prompt
	 * accepted by submit is persisted as queued, for the next start. */
	take_inbox(w, now_mono(w));
	flush_writes(w);
	if (w->halted) {
		/* Answers that never reached the ledger: their jobs stay queued (in
		 * the database they are still in flight, which recovery re-queues). */
		for (wjob *j = w->unrecorded.head; j; j = j->next) {
			const char *why = "the answer arrived but could not be recorded; the job "
			                  "stays queued";
			am_event ev;
			memset(&ev, 0, sizeof ev);
			ev.kind = AM_EV_FAILED;
			ev.job_id = j->handle;
			snprintf(ev.model, sizeof ev.model, "%s", j->model);
			snprintf(ev.error, sizeof ev.error, "%s", why);
			am_evq_push(w->evq, &ev);
		}
	}
	/* Grace: let calls in flight finish, start nothing new. */
	if (atomic_load(&w->stop) && w->grace_ms > 0) {
		w->paused = true;
		int64_t end = now_mono(w) + (int64_t)w->grace_ms * AM_NS_PER_MS;
		while (w->flight.n && now_mono(w) < end) {
			am_client_run(w->client, 50, NULL);
			flush_writes(w); /* not holding the write lock while waiting */
		}
	}
	publish(w, now_mono(w), true);
	worker_teardown(w);
	atomic_store(&w->finished, true);
	am_evq_signal(w->evq);
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* the observer's side                                                        */

static json_t *prompt_body(const am_prompt *p, am_err *err)
{
	if (!p || p->nturns < 1 || !p->turns[p->nturns - 1].text)
		return am_err_set(err, "empty prompt"), NULL;
	json_t *msgs = json_array();
	for (int i = 0; i < p->nturns; i++) {
		const char *role = p->turns[i].role ? p->turns[i].role : "user";
		if (strcmp(role, "user") && strcmp(role, "assistant")) {
			json_decref(msgs);
			return am_err_set(err, "bad role '%s'", role), NULL;
		}
		json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", role, "content",
		                                      p->turns[i].text));
	}
	json_t *body = json_object();
	json_object_set_new(body, "messages", msgs);
	if (p->system && *p->system)
		json_object_set_new(body, "system", json_string(p->system));
	if (p->max_tokens > 0)
		json_object_set_new(body, "max_tokens", json_integer(p->max_tokens));
	return body;
}

static int inbox_put(am_worker *w, inbox_item *it, am_err *err)
{
	pthread_mutex_lock(&w->mu);
	if (it->kind == IN_SUBMIT && w->queue_capacity > 0 &&
	    atomic_load(&w->unfinished) >= w->queue_capacity) {
		pthread_mutex_unlock(&w->mu);
		return am_err_setc(err, AM_E_FULL, "queue is full (%" PRId64 " jobs)", w->queue_capacity);
	}
	if (it->kind == IN_SUBMIT)
		atomic_fetch_add(&w->unfinished, 1);
	if (w->inbox_tail)
		w->inbox_tail->next = it;
	else
		w->inbox = it;
	w->inbox_tail = it;
	w->inbox_n++;
	w->quiet = false;
	if (w->client)
		am_client_wakeup(w->client);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

static int ops_submit(void *ctx, const am_prompt *p, int64_t *job_id, am_err *err)
{
	am_worker *w = ctx;
	if (atomic_load(&w->finished))
		return am_err_set(err, "the worker has stopped");
	json_t *body = prompt_body(p, err);
	if (!body)
		return -1;
	inbox_item *it = am_xcalloc(1, sizeof *it);
	it->kind = IN_SUBMIT;
	it->handle = atomic_fetch_add(&w->next_handle, 1);
	it->body = body;
	it->model = p->model && *p->model && strcmp(p->model, "auto") ? am_xstrdup(p->model) : NULL;
	it->no_cache = p->no_cache;
	it->stream = p->stream;
	/* Once in the inbox the item belongs to the worker, which may free it
	 * before inbox_put returns: read the handle first. */
	int64_t handle = it->handle;
	if (inbox_put(w, it, err)) {
		json_decref(body);
		free(it->model);
		free(it);
		return -1;
	}
	*job_id = handle;
	return 0;
}

static void ops_snapshot(void *ctx, am_snapshot *out)
{
	am_worker *w = ctx;
	pthread_mutex_lock(&w->mu);
	*out = w->snap;
	pthread_mutex_unlock(&w->mu);
}

static int ops_drain(void *ctx, am_event *out, int max)
{
	am_worker *w = ctx;
	return am_evq_drain(w->evq, out, max);
}

static int ops_command(void *ctx, const am_command *cmd, am_err *err)
{
	am_worker *w = ctx;
	switch (cmd->kind) {
	case AM_CMD_SET_RPM:
	case AM_CMD_SET_ITPM:
	case AM_CMD_SET_OTPM:
		if (cmd->value < 0 || cmd->value > 1000000000000LL)
			return am_err_set(err, "a limit must be between 0 (none) and 10^12 per minute");
		break;
	case AM_CMD_SET_BUDGET_DAY:
	case AM_CMD_SET_BUDGET_MONTH:
		if (cmd->value < 0)
			return am_err_set(err, "a budget cannot be negative");
		break;
	case AM_CMD_SET_ALERT_PCT:
		if (cmd->value < 1 || cmd->value > 100)
			return am_err_set(err, "the alert threshold is a percentage from 1 to 100");
		break;
	case AM_CMD_SET_MODEL:
		if (strcmp(cmd->text, "auto") && !am_pricing_lookup(w->pricing, cmd->text) &&
		    strncmp(cmd->text, "claude-", 7))
			return am_err_set(err, "unknown model '%s' (try 'auto' or a claude-* id)",
			                  cmd->text);
		break;
	default:
		break;
	}
	inbox_item *it = am_xcalloc(1, sizeof *it);
	it->kind = IN_COMMAND;
	it->cmd = *cmd;
	return inbox_put(w, it, err);
}

static int ops_wake_fd(void *ctx)
{
	am_worker *w = ctx;
	return am_evq_fd(w->evq);
}

am_engine_ops am_worker_ops(am_worker *w)
{
	am_engine_ops ops = { ops_submit, ops_snapshot, ops_drain, ops_command, ops_wake_fd, w };
	return ops;
}

/* What am_worker_start allocated, once its thread has ended (or never ran). */
static void worker_free(am_worker *w)
{
	if (w->config) {
		am_config_wipe(w->config);
		free(w->config);
	}
	am_evq_free(w->evq);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->init_cv);
	memset(w->api_key, 0, sizeof w->api_key);
	free(w);
}

am_worker *am_worker_start(const am_worker_opts *opts, am_err *err)
{
	am_worker *w = am_xcalloc(1, sizeof *w);
	w->opts = *opts;
	w->pricing = opts->pricing;
	w->clock = opts->clock ? opts->clock : am_clock_system();
	snprintf(w->db_path, sizeof w->db_path, "%s", opts->db_path);
	snprintf(w->base_url, sizeof w->base_url, "%s",
	         opts->base_url && *opts->base_url ? opts->base_url : AM_PROV_DEFAULT_BASE_URL);
	snprintf(w->api_key, sizeof w->api_key, "%s", opts->api_key ? opts->api_key : "");
	const char *host = strstr(w->base_url, "://");
	snprintf(w->endpoint, sizeof w->endpoint, "%s", host ? host + 3 : w->base_url);
	w->queue_capacity = opts->config->worker.queue_capacity;
	w->rng = (uint64_t)am_clock_mono(w->clock) | 1;
	atomic_init(&w->next_handle, 1);
	atomic_init(&w->unfinished, 0);
	atomic_init(&w->stop, false);
	atomic_init(&w->finished, false);
	atomic_init(&w->poked, false);
	w->opts.config = NULL; /* the caller's may go away: worker_init reads our copy */
	if (opts->owner)
		w->owner = *opts->owner;
	else
		am_owner_self(&w->owner);
	w->opts.owner = NULL;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->init_cv, NULL);
	w->evq = am_evq_new(4096, err);
	if (!w->evq)
		goto fail;
	/* The config is copied now: the caller's may go away after we return. */
	w->config = am_xmalloc(sizeof *w->config);
	*w->config = *opts->config;
	if (pthread_create(&w->thread, NULL, worker_main, w)) {
		am_err_set(err, "cannot start the worker thread");
		goto fail;
	}
	pthread_mutex_lock(&w->mu);
	while (w->init_state == 0)
		pthread_cond_wait(&w->init_cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
	if (w->init_state < 0) {
		if (err)
			*err = w->init_err;
		pthread_join(w->thread, NULL);
		goto fail;
	}
	return w;
fail:
	worker_free(w);
	return NULL;
}

static void wake_worker(am_worker *w)
{
	pthread_mutex_lock(&w->mu);
	if (w->client)
		am_client_wakeup(w->client);
	pthread_mutex_unlock(&w->mu);
}

void am_worker_poke(am_worker *w)
{
	pthread_mutex_lock(&w->mu);
	atomic_store(&w->poked, true);
	w->quiet = false;
	if (w->client)
		am_client_wakeup(w->client);
	pthread_mutex_unlock(&w->mu);
}

bool am_worker_quiet(am_worker *w, bool *paused)
{
	pthread_mutex_lock(&w->mu);
	bool q = w->quiet || atomic_load(&w->finished);
	if (paused)
		*paused = w->quiet_paused;
	pthread_mutex_unlock(&w->mu);
	return q;
}

bool am_worker_finished(am_worker *w)
{
	return atomic_load(&w->finished);
}

void am_worker_stop(am_worker *w, int grace_ms)
{
	if (!w)
		return;
	w->grace_ms = grace_ms;
	atomic_store(&w->stop, true);
	wake_worker(w);
	pthread_join(w->thread, NULL);
	pthread_mutex_lock(&w->mu);
	for (inbox_item *it = w->inbox, *next; it; it = next) {
		next = it->next;
		json_decref(it->body);
		free(it->model);
		free(it);
	}
	pthread_mutex_unlock(&w->mu);
	worker_free(w);
}
