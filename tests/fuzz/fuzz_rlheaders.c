/* fuzz_rlheaders: the response-header parser (am_prov_headers_*) and the two
 * date parsers it uses (src/anthropic.c).
 *
 * Two choice bytes set the wall clock handed to am_prov_headers_finish; the
 * rest is a header block, fed line by line the way libcurl delivers it. A
 * small reference reading of the same lines (ref_* below: exact decimals in
 * 128-bit arithmetic, counts, which line wins) must agree with the parser on
 * retry-after-ms, retry-after seconds and every limit/remaining count. Every
 * date either parser accepts must survive a round trip through a formatter
 * written here from the calendar arithmetic (not the parser's). The whole
 * input is also tried as one RFC 3339 date and as one HTTP-date. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "anthropic.h"
#include "fuzz_util.h"

#define NS 1000000000LL

__extension__ typedef __int128 i128; /* exact, so overflow cannot hide */

/* ---- dates back to text ---------------------------------------------------- */

/* Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
 * civil_from_days, the inverse of what the parser uses). */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static void split_ns(int64_t ns, int64_t *y, int *mo, int *d, int *h, int *mi, int *s,
                     int64_t *frac)
{
	int64_t secs = ns / NS, f = ns % NS;
	if (f < 0)
		f += NS, secs--;
	int64_t days = secs / 86400, rem = secs % 86400;
	if (rem < 0)
		rem += 86400, days--;
	civil_from_days(days, y, mo, d);
	*h = (int)(rem / 3600);
	*mi = (int)(rem / 60 % 60);
	*s = (int)(rem % 60);
	*frac = f;
}

static void check_rfc3339_round_trip(int64_t ns)
{
	int64_t y, frac, back;
	int mo, d, h, mi, s;
	split_ns(ns, &y, &mo, &d, &h, &mi, &s, &frac);
	FUZZ_CHECK(y >= 1 && y <= 9999);
	char buf[64];
	snprintf(buf, sizeof buf, "%04lld-%02d-%02dT%02d:%02d:%02d.%09lldZ", (long long)y, mo, d, h,
	         mi, s, (long long)frac);
	FUZZ_CHECK(am_prov_parse_rfc3339(buf, strlen(buf), &back) == 0);
	FUZZ_CHECK(back == ns);
}

static void check_http_date_round_trip(int64_t ns)
{
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
		                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	int64_t y, frac, back;
	int mo, d, h, mi, s;
	split_ns(ns, &y, &mo, &d, &h, &mi, &s, &frac);
	FUZZ_CHECK(frac == 0);
	FUZZ_CHECK(y >= 1 && y <= 9999);
	char buf[64];
	snprintf(buf, sizeof buf, "Sun, %02d %s %04lld %02d:%02d:%02d GMT", d, months[mo - 1],
	         (long long)y, h, mi, s);
	FUZZ_CHECK(am_prov_parse_http_date(buf, strlen(buf), &back) == 0);
	FUZZ_CHECK(back == ns);
}

static void try_dates(const char *s, size_t n)
{
	int64_t ns;
	if (am_prov_parse_rfc3339(s, n, &ns) == 0)
		check_rfc3339_round_trip(ns);
	if (am_prov_parse_http_date(s, n, &ns) == 0)
		check_http_date_round_trip(ns);
}

/* ---- the reference reading of numeric headers ------------------------------ */

/* "[+-]digits[.digits]" × unit, exactly: fraction digits past the unit's
 * precision are dropped (truncation), at least one digit overall. The parser
 * refuses whole parts a little below INT64_MAX / unit (its overflow guard),
 * so the reference does too: bound = ((INT64_MAX / unit - 9) / 10) * 10 + 9. */
static bool ref_decimal(const char *s, size_t n, int64_t unit, int64_t *out)
{
	size_t i = 0;
	bool neg = false;
	if (i < n && (s[i] == '-' || s[i] == '+'))
		neg = s[i++] == '-';
	i128 whole = 0, frac = 0, scale = 1;
	bool any = false;
	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, any = true)
		if (whole <= INT64_MAX)
			whole = whole * 10 + (s[i] - '0');
	if (i < n && s[i] == '.')
		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, any = true)
			if (scale < unit)
				frac = frac * 10 + (s[i] - '0'), scale *= 10;
	if (!any || i != n)
		return false;
	if (whole > (i128)((INT64_MAX / unit - 9) / 10) * 10 + 9)
		return false;
	i128 v = whole * unit + frac * (unit / scale);
	FUZZ_CHECK(v <= INT64_MAX);
	*out = (int64_t)(neg ? -v : v);
	return true;
}

/* Digits only; the parser's guard refuses the last few values below
 * INT64_MAX (anything above INT64_MAX - 8). */
static bool ref_count(const char *s, size_t n, int64_t *out)
{
	i128 v = 0;
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v <= INT64_MAX)
			v = v * 10 + (s[i] - '0');
	}
	if (v > INT64_MAX - 8)
		return false;
	*out = (int64_t)v;
	return true;
}

typedef struct ref_bucket {
	bool has_limit, has_remaining;
	int64_t limit, remaining;
} ref_bucket;

typedef struct ref {
	bool has_ms, has_secs;
	int64_t ms, secs;
	ref_bucket b[AM_RLH_COUNT];
} ref;

static bool name_is(const char *s, size_t n, const char *want)
{
	return strlen(want) == n && !strncasecmp(s, want, n);
}

static void ref_line(ref *r, const char *line, size_t len)
{
	static const char *const prefixes[AM_RLH_COUNT] = {
		[AM_RLH_REQUESTS] = "anthropic-ratelimit-requests-",
		[AM_RLH_TOKENS] = "anthropic-ratelimit-tokens-",
		[AM_RLH_INPUT_TOKENS] = "anthropic-ratelimit-input-tokens-",
		[AM_RLH_OUTPUT_TOKENS] = "anthropic-ratelimit-output-tokens-",
		[AM_RLH_PRIO_INPUT] = "anthropic-priority-input-tokens-",
		[AM_RLH_PRIO_OUTPUT] = "anthropic-priority-output-tokens-",
	};
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (len >= 5 && !strncmp(line, "HTTP/", 5)) {
		memset(r, 0, sizeof *r);
		return;
	}
	const char *colon = memchr(line, ':', len);
	if (!colon)
		return;
	size_t n = (size_t)(colon - line);
	const char *v = colon + 1, *end = line + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	size_t vn = (size_t)(end - v);
	if (name_is(line, n, "retry-after-ms"))
		r->has_ms = ref_decimal(v, vn, 1000000, &r->ms);
	else if (name_is(line, n, "retry-after"))
		r->has_secs = ref_decimal(v, vn, NS, &r->secs);
	for (int d = 0; d < AM_RLH_COUNT; d++) {
		size_t pl = strlen(prefixes[d]);
		if (n <= pl || strncasecmp(line, prefixes[d], pl))
			continue;
		int64_t x;
		/* A malformed value leaves what an earlier line gave. */
		if (name_is(line + pl, n - pl, "limit") && ref_count(v, vn, &x))
			r->b[d].has_limit = true, r->b[d].limit = x;
		else if (name_is(line + pl, n - pl, "remaining") && ref_count(v, vn, &x))
			r->b[d].has_remaining = true, r->b[d].remaining = x;
	}
}

/* ---- the target --------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_in in = { data, size };
	/* 2025-02-24T22:25:00Z plus up to 18 hours. */
	int64_t now = (1740435900LL + (int64_t)fuzz_u16(&in)) * NS;
	const char *text = (const char *)in.p;
	size_t len = in.n;

	try_dates(text, len);

	am_prov_headers h;
	ref want;
	am_prov_headers_init(&h);
	memset(&want, 0, sizeof want);
	for (size_t off = 0; off < len;) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - (text + off)) + 1 : len - off;
		am_prov_headers_line(&h, text + off, n);
		ref_line(&want, text + off, n);
		off += n;
	}
	am_prov_headers_finish(&h, now);

	FUZZ_CHECK_UTF8_CSTR(h.request_id);
	FUZZ_CHECK_UTF8_CSTR(h.content_type);
	FUZZ_CHECK(h.should_retry >= -1 && h.should_retry <= 1);
	FUZZ_CHECK(h.rl.http_status >= 0 && h.rl.http_status <= 999);
	FUZZ_CHECK(h.has_retry_after_ms == want.has_ms);
	if (want.has_ms)
		FUZZ_CHECK(h.retry_after_ms_ns == want.ms);
	FUZZ_CHECK(h.has_retry_after_secs == want.has_secs);
	if (want.has_secs)
		FUZZ_CHECK(h.retry_after_secs_ns == want.secs);
	if (h.has_retry_after_date) {
		FUZZ_CHECK(!h.has_retry_after_secs);
		check_http_date_round_trip(h.retry_after_date_ns);
	}
	if (h.rl.has_retry_after)
		FUZZ_CHECK(h.rl.retry_after_ns >= 0);
	else
		FUZZ_CHECK(h.rl.retry_after_ns == 0);
	if (h.rl.has_date)
		check_http_date_round_trip(h.rl.date_ns);
	for (int d = 0; d < AM_RLH_COUNT; d++) {
		const am_rl_bucket_hdr *b = &h.rl.b[d];
		FUZZ_CHECK(b->present == (b->has_limit || b->has_remaining || b->has_reset));
		FUZZ_CHECK(b->has_limit == want.b[d].has_limit);
		FUZZ_CHECK(b->has_remaining == want.b[d].has_remaining);
		if (b->has_limit)
			FUZZ_CHECK(b->limit == want.b[d].limit);
		if (b->has_remaining)
			FUZZ_CHECK(b->remaining == want.b[d].remaining);
		if (b->has_reset)
			check_rfc3339_round_trip(b->reset_ns);
	}

	/* Retry policy on what was parsed: a bounded, non-negative delay. */
	am_prov_retry_cfg cfg;
	am_prov_retry_cfg_default(&cfg);
	for (int retry = 1; retry <= 3; retry++) {
		int64_t delay = am_prov_retry_delay(&cfg, retry, &h.rl, 0.5);
		FUZZ_CHECK(delay > 0);
		FUZZ_CHECK(delay <= cfg.max_delay_ns || delay <= cfg.max_retry_after_ns);
	}
	return 0;
}
