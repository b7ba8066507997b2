/* cfgjson: small readers shared by the modules that take a section of the
 * config file as a jansson object (selector, budget, cache), so each of them
 * reports bad values and unknown keys the same way.
 *
 * All functions are pure and thread-safe; errors name the key as
 * "section.key". */
#ifndef AIMETER_CFGJSON_H
#define AIMETER_CFGJSON_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "err.h"

/* Collects the keys of obj that are not in `known` (NULL-terminated) into
 * warn as "unknown key(s) in <section>: a, b"; warn's message is "" when
 * there are none. warn may be NULL. */
void am_cfgjson_unknown_keys(const json_t *obj, const char *section,
                             const char *const known[], am_err *warn);

/* An integer in [min, max]. A real is refused (no silent truncation). */
int am_cfgjson_int(const json_t *v, const char *section, const char *key, int64_t min,
                   int64_t max, int64_t *out, am_err *err);

int am_cfgjson_bool(const json_t *v, const char *section, const char *key, bool *out,
                    am_err *err);

/* A string copied into out[n]; too long is an error. */
int am_cfgjson_string(const json_t *v, const char *section, const char *key, char *out,
                      size_t n, am_err *err);

/* A USD amount, >= 0, into pUSD: a string ("12.50", exact, see
 * am_money_parse_usd) or a JSON number. A number is read back through its
 * shortest 15-significant-digit decimal form, which is exactly the decimal
 * the user wrote whenever that has at most 15 significant digits (every
 * plausible budget); money never stays a double. */
int am_cfgjson_usd(const json_t *v, const char *section, const char *key, int64_t *out_pusd,
                   am_err *err);

#endif
