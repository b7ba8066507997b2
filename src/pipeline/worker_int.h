/* worker_int: what the files of the worker share (worker.c describes the
 * loop and its phases). Everything here belongs to the worker thread,
 * except the fields of am_worker marked as shared with observers. */
#ifndef AIMETER_WORKER_INT_H
#define AIMETER_WORKER_INT_H

#include "worker.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "anthropic.h"
#include "budget.h"
#include "cache.h"
#include "evq.h"
#include "jobmarks.h"
#include "ledger.h"
#include "limiter.h"
#include "proxycall.h"
#include "log.h"
#include "memo.h"
#include "money.h"
#include "queue.h"
#include "redis.h"
#include "selector.h"
#include "snapshot.h"
#include "spend.h"
#include "tagbudget.h"

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
enum { SETTINGS_POLL_MS = 1000 };

typedef enum wstate {
	W_PENDING,   /* in the FIFO, not yet through the selector */
	W_RETRY,     /* waiting for its backoff to pass */
	W_BLOCKED,   /* the budget said no */
	W_LIMIT,     /* holds a reservation; in the limiter's queue */
	W_FLIGHT,    /* the call is on the wire */
	W_UNRECORDED, /* answered, but the ledger write failed: tried again */
	W_TWIN,      /* waits for the answer of an identical request on its way
	              * (same cache key): then a cache hit, or dispatched again */
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
	char suspect[128];       /* "" or why its usage was not trusted (the
	                            ledger row's error; the cost is then not exact) */
	char *text;
	/* Cut short after message_start (see worker_cut.c): recorded with
	 * estimated counts, and the job ends in `end` with `error`. */
	bool estimated;
	am_job_state end;
	char error[256];
} held_answer;

typedef struct wjob {
	int64_t handle;          /* engine job id: what events carry */
	int64_t id;              /* jobs.id */
	json_t *body;            /* the Messages request; "model" may be absent */
	char *model_req;         /* pinned model, NULL = auto */
	char *tag;               /* its ledger row's tag; NULL = untagged */
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
	bool tag_held;           /* its tag's budget holds reserved_pusd too */
	bool tag_blocked;        /* W_BLOCKED by its tag's limit, not the global one */
	int64_t reserved_pusd;
	int64_t est_input;       /* input tokens the reservation assumed */
	int64_t max_tokens;      /* output tokens it assumed */
	am_price price;          /* wk_resolve_price of model, when priced */
	bool priced;             /* price holds the resolution its reservation used */
	uint8_t key[AM_CACHE_KEY_LEN];
	bool cacheable;
	char *wire;              /* the body as sent */
	size_t wire_len;
	uint64_t xfer;           /* client transfer id; 0 = none */
	bool cancelling;         /* cancel_job asked the client to abort it */
	char wait_key[24];       /* W_LIMIT: the reason last sent in AM_EV_WAITING */
	bool swait;              /* W_LIMIT, granted locally: waits for the shared limiter */
	am_redis_grant sgrant;   /* what the shared limiter charged */
	bool sgrant_live;        /* ... and has not been settled */
	bool shared_res;         /* holds a reservation in the shared budget */
	held_answer *held;       /* W_UNRECORDED (and while landing) */
	int64_t ledger_row;      /* usage_events.id its answer wrote (0: none new) */
	/* A call the proxy relays (worker_proxy.c): it has no jobs row; px is
	 * its admission until the verdict, px_row its ledger row once granted. */
	bool proxied;
	am_proxy_call *px;
	int64_t px_row;
	int64_t px_deadline;     /* mono ns: refused with a 429 if not granted by then */
	char key_hint[AM_PROXY_HINT_MAX];
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
	enum { IN_SUBMIT, IN_COMMAND, IN_PROXY, IN_PROXY_DONE, IN_PROXY_STOP, IN_MEMO } kind;
	int64_t handle;
	json_t *body;
	char *model;
	char *tag;
	bool no_cache, stream;
	am_command cmd;
	am_proxy_call *pc;       /* IN_PROXY */
	am_prov_result *res;     /* IN_PROXY_DONE (heap), with cut */
	bool cut;
	am_memo_kind memo;          /* IN_MEMO: what to keep */
	char *input;                /* IN_MEMO input */
	am_memo_exchange ex;        /* IN_MEMO exchange (owned copies) */
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
	bool proxy_closed;          /* IN_PROXY_STOP queued: no proxied call after it */
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
	am_job_marks *jm;         /* writes the marks */
	/* The pass transaction (see "the pass transaction"). fresh: the jobs
	 * whose row is not committed yet (id 0: not even written). */
	bool tx_open;
	wjob **fresh;
	int nfresh, fresh_cap;
	bool sent;                  /* this pass started a call */
	am_log *log;                /* log_file; NULL = none */
	uint64_t rng;               /* backoff jitter state */
	sqlite3 *db;
	am_transport tp;            /* the calls' way out (transport.h) */
	bool tp_live;               /* tp may be woken (under mu) */
	am_rl *rl;
	am_budget *budget;
	am_tagbudget *tagb;         /* budget.tags: each tag's day */
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
	jlist arrived;              /* answers a transport run delivered (wk_tp_run records them) */
	jlist twins;                /* W_TWIN: single-flight (worker_admit.c) */
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
	bool abandoning;            /* stopping: the calls in flight are cancelled (worker_cut.c) */
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
	am_snap_batches batches;    /* the provider's batches, read with the foreign rows */
	/* The settings table as this worker last saw it (worker_intake.c):
	 * another process's change is the difference, applied at the next poll. */
	struct wk_setting *seen_set;
	int nseen_set;
	bool seen_loaded;
	int64_t data_version;       /* the ledger's, at the last settings read */
	int64_t next_settings_poll; /* mono ns */
	/* Shared with the organisation's other hosts (worker_shared.c); NULL:
	 * this host alone. */
	am_redis *shared;
	am_redis_rl_pool spool[AM_RL_MAX_POOLS];
	int64_t swait_at[AM_RL_MAX_POOLS]; /* mono ns: the pool's next shared try */
	int nswait;                 /* jobs in the limit list waiting for it */
	am_config_redis_failure on_failure;
	int64_t local_share_pct, lease_s, cache_ttl_s, cache_max_bytes;
	int32_t shared_init_ppm;
	bool shared_told;           /* the first tick has not run yet */
	bool shared_was_up;         /* false once "unreachable" was said */
	char host_id[128], member_id[192];
	char **release;             /* reservations to drop at the next publication */
	int nrelease, release_cap;
	int64_t next_publish;       /* mono ns */
	am_redis_totals org;
	bool org_valid;
	am_memo memo;               /* console_memory: read at start, until recall takes it
	                             * (under mu) */
	bool memo_loaded;
	am_err init_err;
	int init_state;             /* 0 starting, 1 ok, -1 failed */
	pthread_cond_t init_cv;
};

static inline void jl_push(jlist *l, wjob *j)
{
	j->next = NULL;
	if (l->tail)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
	l->n++;
}

static inline void jl_push_front(jlist *l, wjob *j)
{
	j->next = l->head;
	l->head = j;
	if (!l->tail)
		l->tail = j;
	l->n++;
}

static inline wjob *jl_pop(jlist *l)
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

static inline void jl_remove(jlist *l, wjob *j)
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
static inline void jl_insert_by_id(jlist *l, wjob *j)
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

static inline int64_t now_mono(am_worker *w)
{
	return am_clock_mono(w->clock);
}

static inline int64_t now_wall(am_worker *w)
{
	return am_clock_wall(w->clock);
}

static inline int64_t json_int(const json_t *o, const char *k, int64_t def)
{
	json_t *v = json_object_get(o, k);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : def;
}

/* worker_jobs.c */
model_total *wk_model_slot(am_worker *w, const char *model);
void wk_free_held(wjob *j);
void wk_all_add(am_worker *w, wjob *j);
void wk_free_job(am_worker *w, wjob *j);
jlist *wk_list_of(am_worker *w, wjob *j);

/* worker_publish.c */
void wk_event_basic(am_worker *w, am_event_kind kind, const wjob *j, const char *text);
void wk_notice(am_worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void wk_emit_done(am_worker *w, wjob *j, const char *model, const am_usage *u, bool known,
                  int64_t cost, bool cached, int64_t latency_ms, int status, const char *note);
/* An event about job j (NULL: none): kind, handle, model and reason set, the rest zero. */
void wk_event_init(am_event *ev, am_event_kind kind, const wjob *j);
void wk_emit_retry(am_worker *w, const wjob *j, int64_t delay_ns, const char *why);
void wk_limit_wait_reason(am_worker *w, int pool, int64_t now, char *text, size_t n, char *key,
                          size_t kn);
void wk_publish(am_worker *w, int64_t now, bool force);
bool wk_idle(am_worker *w);
void wk_publish_waiting(am_worker *w, int64_t now);
void wk_publish_pass(am_worker *w);

/* worker_record.c */
void wk_fresh_add(am_worker *w, wjob *j);
void wk_fresh_forget(am_worker *w, const wjob *j);
void wk_tx_abort(am_worker *w);
void wk_db_trouble(am_worker *w, const am_err *err);
void wk_db_ok(am_worker *w);
int wk_ensure_row(am_worker *w, wjob *j, am_err *err);
void wk_tx_for_rows(am_worker *w);
/* Whether j waits for its row's commit (no row yet, or one in the open
 * transaction). */
bool wk_is_fresh(const am_worker *w, const wjob *j);
int wk_tx_commit(am_worker *w, am_err *err);
void wk_db_update(am_worker *w, wjob *j, am_job_state st, const char *error, const char *result);
void wk_flush_writes(am_worker *w);
void wk_mark_state(am_worker *w, wjob *j, am_job_state st);
void wk_finish_failed(am_worker *w, wjob *j, const char *error);
void wk_land_or_hold(am_worker *w, wjob *j);
void wk_land_arrived(am_worker *w);
void wk_tp_run(am_worker *w, int timeout_ms);
void wk_record_unrecorded(am_worker *w, int64_t now);
void wk_record_pass(am_worker *w);

/* worker_tally.c */
void wk_release_budget(am_worker *w, wjob *j);
void wk_budget_now(am_worker *w, am_budget_now *bn);
void wk_fire_alerts(am_worker *w, const am_budget_alerts *al);
bool wk_resolve_price(const am_worker *w, const char *model, am_price *out);
int64_t wk_price_usage(am_worker *w, const char *model, const am_usage *u, bool *known);
int64_t wk_price_answer(am_worker *w, const wjob *j, const char *model, const am_usage *u,
                        bool *known);
void wk_count_model(am_worker *w, const char *model, const am_usage *u, bool known, int64_t cost);
void wk_own_row(am_worker *w, int64_t id);
void wk_tally_tick(am_worker *w, int64_t now, am_budget_now *bn);
int wk_load_today_marked(am_worker *w, const am_budget_now *bn, int64_t *day_spent,
                         int64_t *month_spent, bool *unknown, am_err *err);
int wk_load_recent_burn(am_worker *w, am_err *err);

/* worker_intake.c */
void wk_scan_db(am_worker *w);
void wk_take_inbox(am_worker *w, int64_t now);
/* Appends an item to the worker's inbox and wakes the worker (worker.c):
 * a submission past the queue's capacity is refused (AM_E_FULL), a proxy
 * item once the worker stops. */
int wk_inbox_put(am_worker *w, inbox_item *it, am_err *err);
/* Frees an inbox item of any kind; a proxied call never taken is refused. */
void wk_inbox_free(inbox_item *it);
/* The console's memory: what is left in the inbox is written (teardown). */
void wk_keep_memos(am_worker *w);
void wk_intake(am_worker *w, int64_t now);
/* Applies the settings another process sharing the ledger changed since the
 * last look (at most every SETTINGS_POLL_MS); wk_settings_forget frees what
 * it keeps. */
void wk_settings_poll(am_worker *w, int64_t now);
void wk_settings_forget(am_worker *w);

/* worker_admit.c */
bool wk_holding(const am_worker *w, int64_t now);
void wk_requeue_due_retries(am_worker *w, int64_t now);
void wk_admit(am_worker *w, const am_budget_now *bn, int64_t now);

/* worker_send.c */
void wk_start_call(am_worker *w, wjob *j);
void wk_give_back(am_worker *w, wjob *j, int64_t now);
void wk_send_granted(am_worker *w, int64_t now, bool hold);

/* worker_cut.c */
bool wk_cut_short(const wjob *j, const am_prov_result *r);
void wk_abandon_flight(am_worker *w);
void wk_estimate_cut(const wjob *j, am_prov_result *r);

/* worker_proxy.c */
void wk_proxy_take(am_worker *w, inbox_item *it, int64_t now);
void wk_proxy_select(am_worker *w, wjob *j);
int wk_proxy_wire(wjob *j, am_err *err);
void wk_proxy_refuse(am_worker *w, wjob *j, int status, const char *type, int64_t retry_after_s,
                     const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void wk_proxy_budget_refused(am_worker *w, wjob *j, const char *why);
bool wk_proxy_wait_too_long(am_worker *w, wjob *j, int64_t now);
void wk_proxy_grant(am_worker *w, wjob *j);
void wk_proxy_cached(am_worker *w, wjob *j, const am_cache_answer *a);
void wk_proxy_tick(am_worker *w, int64_t now);
void wk_proxy_refuse_all(am_worker *w);
int64_t wk_proxy_next_deadline(const am_worker *w);
int wk_proxy_record(am_worker *w, wjob *j, const am_ledger_event *ev, am_err *err);
void wk_proxy_refuse_stopping(am_proxy_call *pc);
void wk_proxy_done_item(am_worker *w, inbox_item *it, int64_t now);

/* worker_collect.c */
void wk_call_succeeded(am_worker *w, wjob *j, am_prov_result *r, int64_t now, const char *cut,
                       am_job_state end);
void wk_on_call_done(void *ctx, am_prov_result *r);
void wk_collect(am_worker *w, int64_t now);

/* worker_shared.c */
int wk_shared_setup(am_worker *w, const am_config *cfg, am_err *err);
void wk_shared_teardown(am_worker *w);
void wk_shared_tick(am_worker *w, int64_t now);
bool wk_shared_holding(const am_worker *w);
int wk_shared_reserve(am_worker *w, wjob *j, const am_budget_now *bn, char *why, size_t n);
void wk_shared_release(am_worker *w, wjob *j);
void wk_shared_settled(am_worker *w, wjob *j, int64_t now);
bool wk_shared_gating(const am_worker *w);
void wk_shared_gate(am_worker *w, wjob *j);
void wk_shared_send(am_worker *w, int64_t now, bool hold);
int64_t wk_shared_next_event(const am_worker *w);
void wk_shared_settle(am_worker *w, wjob *j, const int64_t *actual, const am_rl_headers *h,
                      bool final, int64_t now);
void wk_shared_on_429(am_worker *w, wjob *j, const am_rl_headers *h, int dim, int64_t now);
int wk_shared_cache_get(am_worker *w, wjob *j, am_cache_answer *a);
void wk_shared_cache_put(am_worker *w, wjob *j, const am_cache_answer *a);
void wk_shared_snapshot(const am_worker *w, am_snap_org *o);

/* worker_setup.c */
int wk_setup(am_worker *w, am_err *err);
void wk_teardown(am_worker *w);

/* worker.c */
void wk_halt(am_worker *w, const char *why);

#endif
