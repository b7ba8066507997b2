/* money: exact decimal parsing and formatting of picodollar amounts.
 *
 * Everything works on digit strings and int64_t; no value ever becomes a
 * double. Exponent notation (LiteLLM's "1.25e-06") is handled by shifting
 * the decimal point in the digit string. */
#include "money.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

int am_money_mul(int64_t a, int64_t b, int64_t *out)
{
	int64_t r;
	if (__builtin_mul_overflow(a, b, &r))
		return -1;
	*out = r;
	return 0;
}

int am_money_add(int64_t a, int64_t b, int64_t *out)
{
	int64_t r;
	if (__builtin_add_overflow(a, b, &r))
		return -1;
	*out = r;
	return 0;
}

/* A parsed decimal: sign, the significant digits, and the power of ten that
 * the last digit stands for (value = digits × 10^exp10). */
struct decimal {
	bool neg;
	char digits[64];
	size_t ndigits;
	int exp10;
};

static int parse_decimal(const char *s, bool allow_exp, bool allow_dollar, struct decimal *d,
                         am_err *err)
{
	const char *p = s;
	memset(d, 0, sizeof *d);
	while (isspace((unsigned char)*p))
		p++;
	if (*p == '-' || *p == '+') {
		d->neg = *p == '-';
		p++;
	}
	if (allow_dollar && *p == '$')
		p++;
	bool any = false, point = false;
	size_t zeros = 0; /* fraction zeros not yet known to be significant */
	for (; *p; p++) {
		if (isdigit((unsigned char)*p)) {
			any = true;
			if (d->ndigits == 0 && *p == '0') {
				if (point)
					d->exp10--;
				continue;
			}
			if (point && *p == '0') {
				zeros++;
				continue;
			}
			for (size_t z = 0; z <= zeros; z++) {
				if (d->ndigits >= sizeof d->digits - 1)
					return am_err_set(err, "'%s': too many digits", s);
				d->digits[d->ndigits++] = z < zeros ? '0' : *p;
				if (point)
					d->exp10--;
			}
			zeros = 0;
		} else if (*p == '.' && !point) {
			point = true;
		} else if (*p == ',' && !point && allow_dollar && any && isdigit((unsigned char)p[1]) &&
		           isdigit((unsigned char)p[2]) && isdigit((unsigned char)p[3]) &&
		           !isdigit((unsigned char)p[4])) {
			continue; /* a thousands separator: "1,000" */
		} else {
			break;
		}
	}
	/* Trailing fraction zeros ("0.500") do not change the value. */
	if (!any)
		return am_err_set(err, "'%s' is not a number", s);
	if (d->ndigits == 0)
		d->neg = false; /* "-0" is zero */
	if (allow_exp && (*p == 'e' || *p == 'E')) {
		p++;
		bool eneg = false;
		if (*p == '-' || *p == '+') {
			eneg = *p == '-';
			p++;
		}
		if (!isdigit((unsigned char)*p))
			return am_err_set(err, "'%s' has a bad exponent", s);
		int e = 0;
		for (; isdigit((unsigned char)*p); p++) {
			if (e > 1000)
				return am_err_set(err, "'%s': exponent out of range", s);
			e = e * 10 + (*p - '0');
		}
		d->exp10 += eneg ? -e : e;
	}
	while (isspace((unsigned char)*p))
		p++;
	if (*p)
		return am_err_set(err, "'%s' is not a number", s);
	return 0;
}

/* value × 10^scale as an exact int64, or an error when it is fractional or
 * overflows. */
static int decimal_to_int(const struct decimal *d, int scale, const char *s, const char *what,
                          int64_t *out, am_err *err)
{
	int shift = d->exp10 + scale; /* power of ten of the last digit in the result unit */
	size_t keep = d->ndigits;
	if (shift < 0) {
		/* The last -shift digits must be zeros. */
		size_t drop = (size_t)-shift;
		if (drop > keep) {
			for (size_t i = 0; i < keep; i++)
				if (d->digits[i] != '0')
					return am_err_set(err, "'%s' is finer than %s", s, what);
			*out = 0;
			return 0;
		}
		for (size_t i = keep - drop; i < keep; i++)
			if (d->digits[i] != '0')
				return am_err_set(err, "'%s' is finer than %s", s, what);
		keep -= drop;
		shift = 0;
	}
	int64_t v = 0;
	for (size_t i = 0; i < keep; i++)
		if (am_money_mul(v, 10, &v) || am_money_add(v, d->digits[i] - '0', &v))
			return am_err_set(err, "'%s' is too large", s);
	for (int i = 0; i < shift; i++)
		if (am_money_mul(v, 10, &v))
			return am_err_set(err, "'%s' is too large", s);
	*out = d->neg ? -v : v;
	return 0;
}

int am_money_parse_usd(const char *s, int64_t *out_pusd, am_err *err)
{
	struct decimal d;
	if (parse_decimal(s, false, true, &d, err))
		return -1;
	return decimal_to_int(&d, 12, s, "a picodollar", out_pusd, err);
}

int am_money_parse_per_mtok(const char *s, int64_t *out, am_err *err)
{
	struct decimal d;
	if (parse_decimal(s, false, true, &d, err))
		return -1;
	if (d.neg)
		return am_err_set(err, "price '%s' is negative", s);
	/* USD/MTok -> pUSD/token: × 1e12 / 1e6 = × 1e6 */
	return decimal_to_int(&d, 6, s, "a picodollar per token", out, err);
}

int am_money_parse_per_token(const char *s, int64_t *out, am_err *err)
{
	struct decimal d;
	if (parse_decimal(s, true, false, &d, err))
		return -1;
	if (d.neg)
		return am_err_set(err, "price '%s' is negative", s);
	return decimal_to_int(&d, 12, s, "a picodollar per token", out, err);
}

/* Writes |v| with `frac` implied fractional digits, trimmed. */
static int format_scaled(int64_t v, int frac, char *buf, size_t n)
{
	char digits[32];
	bool neg = v < 0;
	uint64_t u = neg ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	int len = snprintf(digits, sizeof digits, "%llu", (unsigned long long)u);
	char whole[32], part[32];
	if (len > frac) {
		memcpy(whole, digits, (size_t)(len - frac));
		whole[len - frac] = '\0';
		memcpy(part, digits + len - frac, (size_t)frac);
	} else {
		strcpy(whole, "0");
		memset(part, '0', (size_t)(frac - len));
		memcpy(part + frac - len, digits, (size_t)len);
	}
	part[frac] = '\0';
	int plen = frac;
	while (plen > 0 && part[plen - 1] == '0')
		part[--plen] = '\0';
	if (plen)
		return snprintf(buf, n, "%s%s.%s", neg ? "-" : "", whole, part);
	return snprintf(buf, n, "%s%s", neg ? "-" : "", whole);
}

int am_money_format(int64_t pusd, char *buf, size_t n)
{
	return format_scaled(pusd, 12, buf, n);
}

int am_money_format_per_mtok(int64_t pusd_per_token, char *buf, size_t n)
{
	return format_scaled(pusd_per_token, 6, buf, n);
}

int am_money_format_short(int64_t pusd, int max_decimals, char *buf, size_t n)
{
	char t[64];
	am_money_format_display(pusd, max_decimals, t, sizeof t);
	char *dot = strchr(t, '.');
	if (dot) {
		size_t len = strlen(t);
		while (len > (size_t)(dot - t) + 3 && t[len - 1] == '0')
			t[--len] = '\0';
	}
	return snprintf(buf, n, "%s", t);
}

int am_money_format_display(int64_t pusd, int decimals, char *buf, size_t n)
{
	if (decimals < 0)
		decimals = 0;
	if (decimals > 12)
		decimals = 12;
	bool neg = pusd < 0;
	uint64_t u = neg ? (uint64_t)0 - (uint64_t)pusd : (uint64_t)pusd;
	uint64_t unit = 1;
	for (int i = 0; i < 12 - decimals; i++)
		unit *= 10;
	uint64_t q = u / unit, r = u % unit;
	if (r * 2 >= unit)
		q++; /* half-up */
	uint64_t pow = 1;
	for (int i = 0; i < decimals; i++)
		pow *= 10;
	uint64_t whole = q / pow, fracv = q % pow;
	if (q == 0)
		neg = false; /* -0.001 shown to 2 places is "$0.00", not "-$0.00" */
	char w[40], grouped[56];
	int wl = snprintf(w, sizeof w, "%llu", (unsigned long long)whole);
	int gi = 0;
	for (int i = 0; i < wl; i++) {
		if (i && (wl - i) % 3 == 0)
			grouped[gi++] = ',';
		grouped[gi++] = w[i];
	}
	grouped[gi] = '\0';
	if (decimals)
		return snprintf(buf, n, "%s$%s.%0*llu", neg ? "-" : "", grouped, decimals,
		                (unsigned long long)fracv);
	return snprintf(buf, n, "%s$%s", neg ? "-" : "", grouped);
}
