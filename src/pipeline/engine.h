/* engine: the contract between the pipeline (queue, worker, selector, cache,
 * budget, limiter, client, ledger) and whoever watches and steers it: the
 * dashboard, `ask` and `batch`.
 *
 * Threads: the engine runs its own worker thread. Every function here may be
 * called from one observer thread (the UI thread) and never blocks on the
 * network or the database: snapshot and drain copy out of memory under a
 * short lock; commands are queued to the worker and take effect on its next
 * pass. The wake fd becomes readable whenever a new snapshot or event is
 * available; the observer reads it (non-blocking) to clear it.
 *
 * The UI is written against am_engine_ops so that it can be driven by the
 * real pipeline or by a scripted fake in tests. */
#ifndef AIMETER_ENGINE_H
#define AIMETER_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "budget.h"
#include "cache.h"
#include "dims.h"
#include "err.h"
#include "tagbudget.h"
#include "pbatch.h"
#include "memo.h"
#include "pricing.h"
#include "selector.h"
#include "usage.h"

/* ---- the snapshot ------------------------------------------------------- */

enum { AM_SNAP_MAX_POOLS = 8, AM_SNAP_MAX_DIMS = 4, AM_SNAP_MAX_MODELS = 16, AM_SNAP_MAX_TAGS = 6,
       AM_SNAP_SPARK = AM_BUDGET_RING_MINUTES, AM_SNAP_MAX_ALERTS = AM_BUDGET_MAX_ALERTS };

typedef struct am_snap_dim {
	char name[8];              /* "RPM", "RPM/s", "ITPM", "OTPM" */
	int64_t level;             /* units available now (may be negative: debt) */
	int64_t capacity;          /* bucket size in units */
	int64_t limit;             /* configured per-minute limit (per-second for RPM/s) */
	int32_t share_ppm;         /* AIMD share, 1,000,000 = 100% */
	bool has_server;           /* last server-reported figures are known */
	int64_t server_remaining;
	int64_t server_reset_ns;   /* wall ns */
	int64_t cooldown_until_ns; /* mono ns; > now while paused after a 429 */
	bool blocks_head;          /* this dimension is what the queue head waits for */
} am_snap_dim;

typedef struct am_snap_pool {
	char name[32];             /* "sonnet-4", ... */
	int ndims;
	am_snap_dim dim[AM_SNAP_MAX_DIMS];
	int queue_depth;           /* prompts waiting for this pool's limits (the limiter's queue) */
	int in_flight;
	int concurrency_cap;
	int64_t head_wait_ns;      /* how long the head has waited so far */
	int64_t head_ready_in_ns;  /* planned grant time - now (0 = now) */
	int64_t n429;
} am_snap_pool;

typedef struct am_snap_model {
	char model[64];
	int64_t requests, input, output, cache_write, cache_read;
	int64_t cost_pusd;         /* excludes unknown-price calls */
	bool price_known;
	int64_t estimated;         /* of requests: cut short, counts estimated (≈) */
} am_snap_model;

typedef am_cache_counts am_snap_cache;   /* cache.h */
typedef am_pb_summary am_snap_batches;   /* pbatch.h: the provider's message batches */

typedef am_budget_view am_snap_budget;  /* budget.h */

/* The organisation, when its hosts share limits and budget through Redis. */
typedef struct am_snap_org {
	bool on;                      /* redis.url is set */
	bool up;                      /* Redis answers */
	bool local;                   /* down, going on alone (redis.on_failure local) */
	int64_t day_pusd, month_pusd; /* every host's spend */
	int64_t reserved_pusd;        /* every live host's reservations */
	int64_t host_day_pusd;        /* this host's part of day_pusd */
} am_snap_org;

typedef struct am_snapshot {
	uint64_t seq;                 /* increases with every publication */
	int64_t mono_ns, wall_ns;     /* when it was taken */
	bool simulator;               /* figures are not real spend */
	char endpoint[64];            /* "api.anthropic.com" or "127.0.0.1:PORT" */
	char model_mode[64];          /* "auto" or the pinned model */
	int budget_pct;               /* the selector's budget input: used share of the
	                               * tightest limit, floor; < 0 = no limit */
	int64_t max_tokens;           /* a prompt's output bound when it sets none */
	int64_t input_ppm;            /* input tokens per request byte the budget may
	                               * charge at most (am_rl_input_ratio_max) */
	bool paused;
	int queue_depth, in_flight, waiting_limit, done, failed; /* queue_depth: not sent yet
	                                                          * (budget.blocked_jobs aside) */
	int npools;                   /* the pools that matter, most active first */
	am_snap_pool pool[AM_SNAP_MAX_POOLS];
	int nmodels;
	am_snap_model model[AM_SNAP_MAX_MODELS];
	am_snap_model total;
	am_snap_cache cache;
	am_snap_budget budget;
	int ntags;                    /* today's spend per tag, most first (budget.tags) */
	am_tagbudget_view tag[AM_SNAP_MAX_TAGS];
	am_snap_org org;
	am_snap_batches batches;      /* read from the ledger every second */
} am_snapshot;

/* ---- events: what happened to each job, in order ------------------------ */

typedef enum am_event_kind {
	AM_EV_QUEUED,       /* accepted; model and reason are known */
	AM_EV_WAITING,      /* waiting for a limit: text names it ("OTPM 1.2s") */
	AM_EV_RETRY,        /* the call failed and goes again: attempt, retry_in_ns, error */
	AM_EV_BLOCKED,      /* blocked by the budget */
	AM_EV_STARTED,      /* sent */
	AM_EV_DELTA,        /* text: a piece of the answer */
	AM_EV_DONE,         /* usage, cost, latency, cached are set */
	AM_EV_FAILED,       /* error is set */
	AM_EV_CANCELLED,
	AM_EV_ALERT,        /* text: a budget alert line */
	AM_EV_NOTICE        /* text: informational line (settings changed, ...) */
} am_event_kind;

typedef struct am_event {
	am_event_kind kind;
	int64_t job_id;
	char model[64];
	char reason[96];
	char *text;          /* heap, owned by the event; free with am_event_free */
	am_usage usage;
	int64_t cost_pusd;
	bool price_known;
	bool cached;
	int64_t latency_ms;
	int http_status;
	char error[256];
	int attempt;         /* AM_EV_RETRY: the attempt that failed (1 = the first send) */
	int64_t retry_in_ns; /* AM_EV_RETRY: how long until it is sent again */
	/* AM_EV_DONE: the answer was cut short after the provider began it
	 * (a broken stream, a cancel): usage holds the input it reported and
	 * the output that arrived, estimated; error says why it ended. */
	bool estimated;
} am_event;

void am_event_free(am_event *ev);

/* A short duration for people: tenths of a second under a minute ("1.5s"),
 * else minutes and seconds ("2m05s"). Negative reads as 0. */
void am_duration_text(int64_t ns, char *buf, size_t n);

/* An AM_EV_RETRY in words: "retry 2 in 1.5s after <error>". */
void am_event_retry_text(const am_event *ev, char *buf, size_t n);

/* ---- commands ------------------------------------------------------------ */

typedef enum am_cmd_kind {
	/* AM_CMD_SET_RPM, _ITPM, _OTPM, one per row of dims.h and in its order:
	 * value = per minute (0 = none); pool "" = all */
#define AM_CMD_SET_DIM_(id, key, label, unit, what) AM_CMD_SET_##id,
	AM_DIMS(AM_CMD_SET_DIM_)
#undef AM_CMD_SET_DIM_
	AM_CMD_SET_BUDGET_DAY, AM_CMD_SET_BUDGET_MONTH,     /* value = pUSD; 0 = none */
	AM_CMD_SET_TAG_BUDGET,                              /* text = a tag, value = its daily
	                                                     * limit in pUSD; 0 = none */
	AM_CMD_SET_ALERT_PCT,                               /* value = percent */
	AM_CMD_SET_MODEL,                                   /* text = "auto" or a model id */
	AM_CMD_CACHE_ON, AM_CMD_CACHE_OFF, AM_CMD_CACHE_CLEAR,
	AM_CMD_PAUSE, AM_CMD_RESUME,
	AM_CMD_CANCEL_JOB                                   /* value = job id (the handle) */
} am_cmd_kind;

/* The dimension a set-limit command sets, or -1 for any other command. */
static inline int am_cmd_limit_dim(am_cmd_kind k)
{
	return k >= AM_CMD_SET_RPM && k < AM_CMD_SET_RPM + AM_DIM_N ? (int)(k - AM_CMD_SET_RPM) : -1;
}

typedef struct am_command {
	am_cmd_kind kind;
	int64_t value;
	char pool[32];
	char text[128];
	bool persist;          /* save in the settings table (the console does; batch flags don't) */
} am_command;

/* A prompt from the console: the conversation so far plus the new turn. */
typedef struct am_turn {
	const char *role;      /* "user" | "assistant" */
	const char *text;
} am_turn;

typedef struct am_prompt {
	const am_turn *turns;  /* the last one is the new user turn */
	int nturns;
	const char *system;    /* NULL = none */
	const char *model;     /* NULL = the selector decides */
	int64_t max_tokens;    /* 0 = default */
	bool no_cache;
	bool stream;
	const char *tag;       /* NULL or "" = untagged; else a valid tag (tag.h) */
} am_prompt;

/* ---- a preview: what a prompt would be sent to, and cost at worst ------- */

typedef struct am_preview_in {
	int64_t chars;         /* code points of the new user turn (the selector's length) */
	int64_t input_tokens;  /* estimated input of the whole call, context included */
	int64_t bytes;         /* the request's size as sent (JSON), at least: the budget
	                        * estimates its input from it (snapshot's input_ppm) */
	int64_t max_tokens;    /* 0 = the engine's default (the snapshot's) */
	const char *model;     /* the prompt's own model; NULL or "auto" = the engine's mode */
} am_preview_in;

typedef struct am_preview {
	char model[AM_SEL_MODEL_MAX];   /* the model the selector would choose now */
	char reason[AM_SEL_REASON_MAX];
	int64_t max_tokens;             /* the output bound the worst case assumes */
	int64_t worst_pusd;             /* what the budget guard would reserve */
	bool unknown_price;             /* priced at the dearest known model */
} am_preview;

/* The preview of one prompt, from the policies the worker applies to it:
 * the selector (sel, with the snapshot's model mode and budget share) and
 * the budget's worst case (am_budget_worst_case over the model's resolved
 * price, am_pricing_resolve), its input the larger of input_tokens and
 * what the budget's estimator may charge for `bytes`. Pure: the same
 * inputs give the same answer; the worker's own dispatch reaches the same
 * model, and a reservation no larger when its request is no larger than
 * `bytes`. -1 + err when the prices cannot say (an empty
 * table, an overflow). */
int am_engine_preview(const am_sel_config *sel, const am_pricing *pricing,
                      const am_snapshot *snap, const am_preview_in *in, am_preview *out,
                      am_err *err);

/* ---- the interface ------------------------------------------------------- */

typedef struct am_engine_ops {
	/* Queues a prompt; *job_id identifies its events. -1 + err when the queue
	 * is full or the prompt is invalid. */
	int (*submit)(void *ctx, const am_prompt *p, int64_t *job_id, am_err *err);
	/* Copies the latest snapshot. */
	void (*snapshot)(void *ctx, am_snapshot *out);
	/* Moves up to max pending events into out (caller frees each with
	 * am_event_free); returns how many. */
	int (*drain)(void *ctx, am_event *out, int max);
	/* Applies a command; -1 + err when it is invalid (bad value, unknown model). */
	int (*command)(void *ctx, const am_command *cmd, am_err *err);
	/* Readable when there is something new; see above. */
	int (*wake_fd)(void *ctx);
	void *ctx;
	/* The preview of a prompt (am_engine_preview) against snap, the latest
	 * snapshot the caller holds. NULL when the engine offers none; -1 + err
	 * when it cannot say. Never blocks. */
	int (*preview)(void *ctx, const am_snapshot *snap, const am_preview_in *in,
	               am_preview *out, am_err *err);
	/* The console's memory in the ledger (memo.h). remember keeps a line
	 * typed (input), an exchange that ended (x) or forgets the conversation
	 * (copied; written on the worker's next pass; -1 + err when it cannot
	 * be queued). recall passes what the ledger held at start, once, oldest
	 * first, to input() for each line and exchange() for each exchange
	 * (both on the caller's thread, their arguments valid during the call);
	 * false when there is nothing. NULL when the engine keeps nothing.
	 * Never block. */
	int (*remember)(void *ctx, am_memo_kind kind, const char *input,
	                const am_memo_exchange *x, am_err *err);
	bool (*recall)(void *ctx, void (*input)(void *cb, const char *line),
	               void (*exchange)(void *cb, const am_memo_exchange *x), void *cb);
} am_engine_ops;

#endif
