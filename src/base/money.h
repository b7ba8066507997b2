/* money: exact amounts in picodollars (pUSD, 1e-12 USD) in an int64_t.
 *
 * Every published per-token price is a whole number of pUSD (the finest,
 * Haiku 3's batch cache read, is $0.015/MTok = 15,000 pUSD/token), and
 * int64_t reaches about $9.2 million. Money never passes through a float:
 * parsing and formatting work on decimal strings digit by digit.
 * All functions are pure and thread-safe. */
#ifndef AIMETER_MONEY_H
#define AIMETER_MONEY_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define AM_PUSD_PER_USD 1000000000000LL     /* 1e12 */
#define AM_PUSD_MAX     INT64_MAX

/* Parses a decimal USD amount ("12", "0.50", "1e-06" is NOT accepted here)
 * into pUSD. Up to 12 fractional digits; more, a sign other than a leading
 * '-', or overflow is an error. Surrounding spaces and a leading '$' are
 * allowed. Commas are accepted only as thousands separators ("1,000"), and
 * zeros after the last significant fraction digit do not count ("1.50000"). */
int am_money_parse_usd(const char *s, int64_t *out_pusd, am_err *err);

/* Parses a price in USD per million tokens ("3.75") into pUSD per token
 * (3,750,000). Up to 6 fractional digits are exact; more is an error. */
int am_money_parse_per_mtok(const char *s, int64_t *out_pusd_per_token, am_err *err);

/* Parses a USD-per-token number in exponent or plain notation, as LiteLLM
 * writes it ("1.25e-06", "0.000003"), into pUSD per token, exactly: the
 * digits are shifted, never multiplied as a double. A value that is not a
 * whole number of pUSD per token is an error. */
int am_money_parse_per_token(const char *s, int64_t *out_pusd_per_token, am_err *err);

/* Exact decimal USD string, no rounding, trailing zeros trimmed, at least
 * one digit after the point only when needed: 0 -> "0", 1500000000000 ->
 * "1.5", 123 -> "0.000000000123", -5e11 -> "-0.5". Needs at most 24 bytes.
 * Returns the length written (like snprintf). */
int am_money_format(int64_t pusd, char *buf, size_t n);

/* Display form for people: "$1.23" rounded half-up to `decimals` (0..12)
 * fractional digits, with thousands separators ("$1,234.56"). Negative
 * amounts round their magnitude the same way ("-$0.01" for -$0.005); an
 * amount that rounds to zero shows no sign ("$0.00"). */
int am_money_format_display(int64_t pusd, int decimals, char *buf, size_t n);

/* The display form with no zeros that say nothing: rounded to
 * max_decimals, then trailing zeros trimmed down to cents: "$0.001",
 * "$12.50", "$0.0035" (max_decimals 12 shows an amount exactly). */
int am_money_format_short(int64_t pusd, int max_decimals, char *buf, size_t n);

/* Price per million tokens back to its decimal string ("3.75"). */
int am_money_format_per_mtok(int64_t pusd_per_token, char *buf, size_t n);

/* Overflow-checked arithmetic: return -1 on overflow, leaving *out unset. */
int am_money_mul(int64_t a, int64_t b, int64_t *out);
int am_money_add(int64_t a, int64_t b, int64_t *out);

#endif
