/* budget: the spend guard. Daily and monthly limits enforced by reserving
 * each call's worst case before it is sent, alerts at thresholds, and the
 * burn rate.
 *
 * Hard stop by reservation. Before a call goes out the worker reserves its
 * worst-case cost (am_budget_worst_case). The reservation succeeds only if
 *     spent in the period + all outstanding reservations + this one <= limit
 * for the day limit and for the month limit; otherwise the verdict says which
 * limit blocks and the job waits (blocked_budget) until the limit is raised
 * or the period rolls over: nothing here remembers blocked jobs, the worker
 * simply tries again. When the call ends the worker settles the reservation
 * with the actual cost (released, actual added to the day and the month) or
 * cancels it. Hence settled actuals + outstanding reservations never exceed
 * a limit, as long as each actual stays within its reservation; when one
 * does not (the input was underestimated) it is still recorded in full and
 * the excess is reported to the caller.
 *
 * Periods. Time comes in as an am_budget_now: the local day "YYYY-MM-DD",
 * the local month "YYYY-MM", wall ns and the seconds left in the local day
 * (am_budget_now_local computes it for the process time zone, TZ). Every
 * call first rolls the budget forward: a later day resets the day's spend
 * and re-arms its alerts, a later month likewise; an earlier day (the clock
 * stepped back) is ignored, so a step back never hands out a second budget.
 * Spend settled is attributed to the period current at settle time, as the
 * ledger stamps a call when it completes. Reservations outstanding across a
 * rollover keep counting against the new period.
 *
 * Alerts. Each threshold (percent of a limit; default 80, up to
 * AM_BUDGET_MAX_ALERTS) fires once per period and per limit (day and month
 * separately) from the call whose settled spend makes it true: settle, or a
 * limit/threshold change. It is returned to the caller as an am_budget_alert
 * (which prints the line, rings the bell and runs alert_command with
 * am_budget_alert_env). Raising a limit above a fired threshold re-arms it,
 * since it is then a new limit. At creation thresholds already crossed by
 * the ledger's totals count as fired: a restart does not repeat them (the
 * state is ALERT anyway).
 *
 * Zero-price models (input and output price both 0, such as a local server)
 * are exempt: their reservations are 0 and are never blocked.
 *
 * Money is exact int64 pUSD throughout; rates are pUSD per hour.
 *
 * Threads: an am_budget is plain data with no lock. The worker thread owns it
 * and publishes copies (am_budget_snapshot) to observers. */
#ifndef AIMETER_BUDGET_H
#define AIMETER_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "pricing.h"

enum {
	AM_BUDGET_MAX_ALERTS = 4,
	AM_BUDGET_BURN_MINUTES = 15,  /* the burn-rate window */
	AM_BUDGET_RING_MINUTES = 60   /* spend per minute kept for the sparkline */
};

typedef enum am_budget_state { AM_BUDGET_OK, AM_BUDGET_ALERT, AM_BUDGET_OVER } am_budget_state;

/* What the budget shows its observers: am_budget_snapshot fills every field but
 * blocked_jobs, which counts jobs held in the pipeline and is the caller's. */
typedef struct am_budget_view {
	int64_t day_spent_pusd;
	int64_t day_limit_pusd;       /* 0 = no daily limit */
	int64_t month_spent_pusd;
	int64_t month_limit_pusd;     /* 0 = no monthly limit */
	int64_t reserved_pusd;        /* held by calls in flight */
	int nalerts;
	int alert_pct[AM_BUDGET_MAX_ALERTS];
	am_budget_state state;
	int64_t burn_pusd_per_hour;   /* over the last 15 minutes */
	int64_t projected_eod_pusd;   /* spent + burn × hours left today */
	int64_t limit_hit_wall_ns;    /* 0 = not at this pace today */
	int64_t spend_per_min[AM_BUDGET_RING_MINUTES]; /* oldest first, last = current minute */
	int blocked_jobs;
	bool unknown_prices;          /* some spend today has no known price */
} am_budget_view;

typedef struct am_budget_config {
	int64_t day_limit_pusd;    /* 0 = no daily limit */
	int64_t month_limit_pusd;  /* 0 = no monthly limit */
	int nalerts;
	int alert_pct[AM_BUDGET_MAX_ALERTS]; /* each 1..100, strictly increasing */
	int max_reservations;      /* outstanding at once; a bound, not a tuning knob */
	int64_t web_search_uses;   /* searches reserved for a web search tool without max_uses */
} am_budget_config;

/* Thresholds 1..100, strictly increasing, at most AM_BUDGET_MAX_ALERTS;
 * limits >= 0; max_reservations >= 1. */
int am_budget_config_check(const am_budget_config *cfg, am_err *err);

/* The budget part of the configuration: budget.daily_usd, monthly_usd,
 * alert_pct, max_reservations (alert_command and bell are the caller's),
 * checked as above. */
int am_budget_config_from(const am_config *cfg, am_budget_config *out, am_err *err);

/* The configuration's defaults (am_config_init: $10 a day, no monthly
 * limit, an alert at 80%, 4,096 reservations), for callers without an
 * am_config. */
void am_budget_config_default(am_budget_config *out);

typedef struct am_budget_now {
	char day[11];        /* local "YYYY-MM-DD" */
	char month[8];       /* local "YYYY-MM" */
	int64_t wall_ns;     /* Unix epoch ns */
	int64_t day_left_s;  /* seconds until the next local midnight, >= 0 */
	int64_t midnight_ns; /* that midnight, Unix epoch ns */
} am_budget_now;

/* Fills *out for wall_ns in the process's local time zone (TZ, as set by
 * the caller with setenv + tzset for the configured zone). The day's length
 * follows DST (23 or 25 hours). Reads no clock; not a pure function of its
 * arguments only because of TZ. -1 + err if the time cannot be converted. */
int am_budget_now_local(int64_t wall_ns, am_budget_now *out, am_err *err);

typedef struct am_budget am_budget;

/* A budget starting at `now` with the day's and the month's spend as the
 * ledger recorded them, so a restart keeps the totals:
 *   am_ledger_spend(l, now.day, now.day, &day_spent, &unknown)
 *   am_ledger_spend(l, "<now.month>-01", now.day, &month_spent, NULL)
 * and day_unknown = unknown > 0 (the ledger's figure leaves unknown-price
 * calls out; the flag reaches the snapshot so the UI can say so). Fails on
 * an invalid config or negative totals. */
int am_budget_new(am_budget **out, const am_budget_config *cfg, const am_budget_now *now,
                  int64_t day_spent_pusd, int64_t month_spent_pusd, bool day_unknown,
                  am_err *err);
void am_budget_free(am_budget *b);

/* ---- worst case ----------------------------------------------------------- */

typedef struct am_budget_estimate {
	int64_t input_tokens;  /* estimated total input of the request */
	int64_t max_tokens;    /* the request's max_tokens: the output bound */
	bool cache_writes;     /* the request has cache_control breakpoints */
	bool fast;             /* the request asks "speed": "fast" */
	int64_t web_searches;  /* the searches its web search tools may make */
	bool batch;            /* sent through the Message Batches API: the price's batch
	                        * discount comes off the token cost (rounded up; the search
	                        * fee is not discounted) */
} am_budget_estimate;

/* A model the table does not know is reserved at the dearest model's rates
 * and US multiplier (those rates are far above any model's US price), and
 * when it asks for fast mode at 6x, the largest fast multiplier any model
 * has, unless the dearest's own is larger. */
enum { AM_BUDGET_UNKNOWN_FAST_PCT = 600 };

typedef struct am_budget_cost {
	int64_t pusd;          /* the amount to reserve */
	bool exempt;           /* zero-price model: reserve nothing, never block */
	bool unknown_price;    /* priced at the most expensive known model */
} am_budget_cost;

/* The worst-case cost of a call: (input × input price + max_tokens × output
 * price) × multipliers + searches × search fee, where
 *  - price NULL (unknown model) means `most_expensive`'s prices
 *    (am_pricing_most_expensive); both NULL is an error;
 *  - with cache_writes, input is priced at the dearest of base input, 5m and
 *    1h cache-write prices (a breakpoint can turn every input token into a
 *    1h write at 2× input);
 *  - when the estimate exceeds the long-context threshold, the long-context
 *    prices apply;
 *  - fast asked: the model's fast-mode multiplier (a model without fast mode
 *    refuses such a call, so none applies);
 *  - the US-only multiplier always, where the model has one: a workspace
 *    default can set it without the request saying so;
 *  - web_searches × the model's search fee.
 * The total rounds up to a whole pUSD. The batch discount applies only when
 * est->batch says the call goes through the batch API. A known price with input and
 * output 0 is exempt. -1 + err on NULL prices, negative counts or overflow. */
int am_budget_worst_case(const am_price *price, const am_price *most_expensive,
                         const am_budget_estimate *est, am_budget_cost *out, am_err *err);

/* ---- reserve / settle / cancel --------------------------------------------- */

typedef enum am_budget_period { AM_BUDGET_DAY, AM_BUDGET_MONTH } am_budget_period;

typedef enum am_budget_verdict {
	AM_BUDGET_RESERVED,       /* go ahead; settle or cancel the id later */
	AM_BUDGET_BLOCKED_DAY,    /* would cross the daily limit */
	AM_BUDGET_BLOCKED_MONTH   /* would cross the monthly limit (day checked first) */
} am_budget_verdict;

typedef struct am_budget_grant {
	am_budget_verdict verdict;
	int64_t id;            /* reservation id (> 0) when RESERVED */
	int64_t amount_pusd;   /* what is held (0 for exempt) */
	char why[160];         /* when blocked: "daily limit $10.00: spent $9.80 + held $0.40
	                        * + this call $0.50 would cross it" */
} am_budget_grant;

/* Reserves cost->pusd (nothing when exempt). Blocked is not an error: it
 * returns 0 with the verdict set. -1 + err when the reservation table is
 * full (max_reservations outstanding) or the amount is negative. */
int am_budget_reserve(am_budget *b, const am_budget_now *now, const am_budget_cost *cost,
                      am_budget_grant *out, am_err *err);

/* Alerts fired by one call (at most one per threshold and period). */
typedef struct am_budget_alert {
	int pct;
	am_budget_period period;
	int64_t spent_pusd;    /* settled spend in the period when it fired */
	int64_t limit_pusd;
	char day[11];          /* the local day it fired on */
	char month[8];
} am_budget_alert;

typedef struct am_budget_alerts {
	int n;
	am_budget_alert a[2 * AM_BUDGET_MAX_ALERTS];
} am_budget_alerts;

/* Releases reservation `id` and adds actual_pusd (>= 0) to the day and the
 * month; feeds the burn ring at now->wall_ns. *over_by_pusd (may be NULL)
 * gets actual - reserved when positive, else 0: the caller logs it. alerts
 * (may be NULL) receives the thresholds this crossed. -1 + err for an
 * unknown or already settled id or a negative actual; nothing changes then. */
int am_budget_settle(am_budget *b, const am_budget_now *now, int64_t id, int64_t actual_pusd,
                     int64_t *over_by_pusd, am_budget_alerts *alerts, am_err *err);

/* Adds spend that happened outside this budget, with no reservation: a
 * call another process (a batch, an ask, a second dashboard) recorded in
 * the same ledger. `day` is the local day the ledger stamped it with
 * ("YYYY-MM-DD"); after rolling forward to `now` the amount counts toward
 * the day when `day` is the current day and toward the month when it falls
 * in the current month. A later day (the other process's clock or zone runs
 * ahead) counts as the current one: a guard errs toward stopping. An
 * earlier month counts toward neither. wall_ns, the call's time, feeds the
 * burn ring (dropped when older than the ring). unknown_price (the caller
 * priced it at the dearest model) flags the day when it counts toward it.
 * alerts (may be NULL) receives the thresholds this crossed, each once per
 * period as with settle. -1 + err for a negative amount, a malformed day or
 * a total that overflows; nothing changes then. */
int am_budget_add_spent(am_budget *b, const am_budget_now *now, const char *day,
                        int64_t wall_ns, int64_t pusd, bool unknown_price,
                        am_budget_alerts *alerts, am_err *err);

/* Releases reservation `id` without spending (the call was not sent, or
 * failed without being billed). -1 + err for an unknown id. */
int am_budget_cancel(am_budget *b, int64_t id, am_err *err);

/* Rolls the periods forward to `now` (a new day or month resets its spend).
 * The worker calls it once per pass so observers and blocked jobs see the
 * rollover even when nothing is settled. */
void am_budget_tick(am_budget *b, const am_budget_now *now);

/* ---- run-time changes ------------------------------------------------------ */

/* New limits (pUSD, 0 = none, negative is an error). Raising one lets
 * blocked reservations through on the next try and re-arms thresholds no
 * longer crossed; lowering one may fire alerts into `alerts`. */
int am_budget_set_limits(am_budget *b, const am_budget_now *now, int64_t day_limit_pusd,
                         int64_t month_limit_pusd, am_budget_alerts *alerts, am_err *err);

/* New thresholds (as in the config). Thresholds already crossed fire now. */
int am_budget_set_alerts(am_budget *b, const am_budget_now *now, const int *pct, int n,
                         am_budget_alerts *alerts, am_err *err);

/* ---- figures ---------------------------------------------------------------- */

/* The used share of the tightest limit, floor(spent × 100 / limit), the
 * larger of day and month; -1 when there is no limit. The selector's
 * budget_pct. */
int am_budget_used_pct(am_budget *b, const am_budget_now *now);

/* Outstanding reservations: their count and total. */
int am_budget_outstanding(const am_budget *b, int64_t *reserved_pusd);

typedef struct am_budget_burn {
	int64_t per_hour_pusd;       /* spend in the last 15 minutes × 4 */
	int64_t projected_eod_pusd;  /* day spent + per_hour × day_left_s / 3600 */
	int64_t limit_hit_wall_ns;   /* when the day limit is reached at this pace,
	                              * 0 = no day limit, no burn, already over, or
	                              * not before midnight */
	int64_t per_min[AM_BUDGET_RING_MINUTES]; /* oldest first; last = current minute */
} am_budget_burn;

/* Adds spend to the burn ring without touching the totals (settle feeds it
 * already; this is for spend the budget does not guard). Minutes are epoch
 * minutes (wall_ns / 60 s); an amount older than the ring is dropped. */
void am_budget_burn_feed(am_budget *b, int64_t wall_ns, int64_t pusd);

/* The burn figures at now. The 15-minute window is the current (partial)
 * minute and the 14 before it. Integer math: floors throughout. */
void am_budget_burn_at(am_budget *b, const am_budget_now *now, am_budget_burn *out);

/* Fills the fields of *out this module owns: spent, limits, reserved,
 * alerts, state, burn, projection, limit-hit time, spark, unknown_prices.
 * blocked_jobs is left as it is (the worker counts those). State: OVER when
 * a period's spend reached its limit, ALERT when it reached the lowest
 * threshold, else OK. Rolls the periods forward first. */
void am_budget_snapshot(am_budget *b, const am_budget_now *now, am_budget_view *out);

/* ---- alert output --------------------------------------------------------- */

/* One line for the console or stderr:
 * "budget alert: 80% of the daily limit: $8.00 of $10.00 spent (2025-03-14)". */
void am_budget_alert_line(const am_budget_alert *a, char *buf, size_t n);

/* The environment for alert_command, as "NAME=value" strings:
 *   AIMETER_ALERT_PCT  "80"
 *   AIMETER_SPENT_USD  exact decimal ("8.0125", am_money_format)
 *   AIMETER_LIMIT_USD  exact decimal ("10")
 *   AIMETER_PERIOD     "day" | "month"
 *   AIMETER_DAY        the local day "YYYY-MM-DD"
 * env[] is NULL-terminated, pointing into var[]: the alert command's
 * environment, with no more of the caller's than it needs. */
typedef struct am_budget_env {
	char var[5][64];
	char *env[6];
} am_budget_env;

void am_budget_alert_env(const am_budget_alert *a, am_budget_env *out);

#endif
