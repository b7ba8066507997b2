/* tagload: fills a tag budget (tagbudget.h) from the config and the ledger,
 * the same way for the real-time worker and for `batch --via batches`. */
#ifndef AIMETER_TAGLOAD_H
#define AIMETER_TAGLOAD_H

#include "config.h"
#include "err.h"
#include "ledger.h"
#include "tagbudget.h"

/* Each tag's daily limit of budget.tags. -1 + err as am_tagbudget_set_limit. */
int am_tagload_limits(am_tagbudget *tb, const am_config_tag_budget *tags, int ntags,
                      am_err *err);

/* Each tag's known-price spend on local day `day` in the ledger, added as
 * spent (an unknown-price call of a tag counts toward its limit from when
 * this process sees it). */
int am_tagload_today(am_tagbudget *tb, am_ledger *l, const char *day, am_err *err);

#endif
