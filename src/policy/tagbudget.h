/* tagbudget: daily limits per tag (config budget.tags), enforced like the
 * global daily limit (budget.h) by reserving each call's worst case:
 *     the tag's spend today + its outstanding reservations + this one <= limit
 * or the call waits (blocked_budget) with a reason naming the tag, while
 * calls of other tags go on. The worker reserves here after the global
 * budget granted the same amount, and settles or cancels both.
 *
 * It also keeps today's spend of every tag it sees (up to AM_TAGBUDGET_MAX
 * tags; limited tags always have their place), for the dashboard.
 *
 * Days. Every call names the current local day ("YYYY-MM-DD", as
 * am_budget_now has it); a later day than the last resets every tag's
 * spend, an earlier one (the clock stepped back) changes nothing. Spend
 * added for a past day counts toward nothing; for a later day (another
 * process's clock runs ahead), toward today: a guard errs toward stopping.
 * Reservations outstanding across midnight keep counting.
 *
 * Pure policy: time arrives as the day string; plain data, no lock; the
 * worker thread owns it. Money is exact int64 pUSD. */
#ifndef AIMETER_TAGBUDGET_H
#define AIMETER_TAGBUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "tag.h"

enum { AM_TAGBUDGET_MAX = 256 };

typedef struct am_tagbudget am_tagbudget;

/* One tag's figures today. */
typedef struct am_tagbudget_view {
	char tag[AM_TAG_MAX + 1];
	int64_t spent_pusd;   /* settled today, this process's and others' */
	int64_t held_pusd;    /* reserved by calls in flight */
	int64_t limit_pusd;   /* 0 = no limit of its own */
} am_tagbudget_view;

/* An empty tracker on local day `day`. */
am_tagbudget *am_tagbudget_new(const char *day);
void am_tagbudget_free(am_tagbudget *tb);

/* Sets tag's daily limit (pUSD > 0), or removes it (0). -1 + err for a bad
 * tag, a negative limit, or no room (AM_TAGBUDGET_MAX tags with a limit or
 * a reservation). Raising a limit lets blocked calls through on the next try. */
int am_tagbudget_set_limit(am_tagbudget *tb, const char *tag, int64_t limit_pusd, am_err *err);

/* Spend recorded outside a reservation: today's totals at start, another
 * process's calls. `spent_day` is the local day the ledger stamped it with;
 * see the top for which day it counts toward. A tag without room is not
 * tracked unless it has a limit. -1 + err for a negative amount or a total
 * past int64. */
int am_tagbudget_add_spent(am_tagbudget *tb, const char *day, const char *spent_day,
                           const char *tag, int64_t pusd, am_err *err);

typedef struct am_tagbudget_grant {
	bool blocked;         /* would cross the tag's limit: the call waits */
	bool held;            /* amount is held: settle or cancel it */
	char why[200];        /* when blocked: "tag nightly-evals's daily limit $5: spent
	                       * $4.90 + held $0.05 + this call $0.10 would cross it" */
} am_tagbudget_grant;

/* Reserves amount_pusd (>= 0) for a call of `tag` (NULL or "" = untagged:
 * always granted, nothing held). An amount of 0 (an exempt call) is never
 * blocked. A tag with no limit is granted and held when there is room to
 * track it. -1 + err for a negative amount or a total past int64. */
int am_tagbudget_reserve(am_tagbudget *tb, const char *day, const char *tag, int64_t amount_pusd,
                         am_tagbudget_grant *out, am_err *err);

/* A call of `tag` ended: releases held_pusd (what its grant held; 0 when it
 * held nothing) and adds actual_pusd (>= 0) to today's spend. */
int am_tagbudget_settle(am_tagbudget *tb, const char *day, const char *tag, int64_t held_pusd,
                        int64_t actual_pusd, am_err *err);

/* Releases held_pusd without spending (the call was not sent). */
void am_tagbudget_cancel(am_tagbudget *tb, const char *tag, int64_t held_pusd);

/* Today's figures of up to n tags, most spent (with held) first, tags with
 * a limit before others at equal spend; ties by name. Returns how many. */
size_t am_tagbudget_top(am_tagbudget *tb, const char *day, am_tagbudget_view *out, size_t n);

/* The figures of one tag (zeros and its limit when it spent nothing). */
void am_tagbudget_get(am_tagbudget *tb, const char *day, const char *tag, am_tagbudget_view *out);

#endif
