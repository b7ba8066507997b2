/* report: turns a ledger summary into the text `aimeter report` prints.
 *
 * Pure formatting over an am_ledger_summary (see ledger.h): no database, no
 * clock. Money is printed exactly (am_money_format: every digit, no
 * rounding). Unknown prices are never shown as $0: rows say "price ?" and
 * totals say what they exclude. Any thread; the summary is only read. */
#ifndef AIMETER_REPORT_H
#define AIMETER_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "ledger.h"

/* How the table names the calls without a tag (a tag has no spaces). */
#define AM_REPORT_UNTAGGED "(untagged)"

/* The stable machine interface, one line:
 * {"from":"YYYY-MM-DD","to":"YYYY-MM-DD","models":[{"model":ID,"requests":N,
 *  "input_tokens":N,"output_tokens":N,"cache_creation_input_tokens":N,
 *  "cache_read_input_tokens":N,"cost_usd":"<exact>","price_known":BOOL}],
 *  "total":{"requests":N,"cost_usd":"<exact>"}}
 * cost_usd sums the known-price calls only; price_known is false when some
 * of the model's calls have no price (their cost is not in cost_usd), and
 * total.cost_usd excludes every such call. A model (and the total) with
 * calls cut short adds "estimated_requests":N, how many of its requests
 * hold estimated counts (absent when none). Expects a summary by model (not
 * by day). */
int am_report_json(const am_ledger_summary *s, FILE *out, am_err *err);
/* A summary by tag (am_ledger_report_tags) has "tags":[{"tag":NAME, ...}]
 * instead of "models", the same fields per row, "tag":null for the calls
 * without a tag; the rows add up to the total exactly. The CSV's second
 * column is then "tag" (empty for untagged), the table's "TAG" with
 * AM_REPORT_UNTAGGED. */

/* RFC 4180 CSV with a header line and one line per row of `s` (by day when
 * the summary is by day, else "day" is empty):
 * day,model,requests,input_tokens,output_tokens,cache_creation_input_tokens,
 * cache_read_input_tokens,cost_usd,price_known,unknown_price_requests,
 * estimated_requests (calls cut short, whose counts are estimated) */
int am_report_csv(const am_ledger_summary *s, FILE *out, am_err *err);

/* The table for people: a title naming the range, aligned columns with
 * thousands separators, exact dollars, a TOTAL row, and a note for
 * unknown prices and cache savings. */
int am_report_table(const am_ledger_summary *s, FILE *out, am_err *err);

/* "1,234,567" (with a leading '-' when negative). Returns the length. */
int am_report_group(int64_t v, char *buf, size_t n);

/* Exact dollars with thousands separators: "$1,234.000000000001". */
int am_report_usd(int64_t pusd, char *buf, size_t n);

#endif
