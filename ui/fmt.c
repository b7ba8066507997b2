/* fmt: numbers, money, bars, sparklines and untrusted text turned into
 * painted-ready strings. Pure functions over caller buffers: the curses
 * layer (ui/paint.c) never computes a figure, it only places these strings.
 * Integer arithmetic throughout; money goes through money.h's exact
 * formatter, never through a double. */
#include "fmt.h"
#include "text.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <wchar.h>

#include "money.h"

/* A bounded string builder: appends only what fits whole. */
struct sb {
	char *b;
	size_t n, len;
};

static void sb_init(struct sb *s, char *buf, size_t n)
{
	s->b = buf;
	s->n = n;
	s->len = 0;
	if (n)
		buf[0] = '\0';
}

static void sb_putn(struct sb *s, const char *p, size_t k)
{
	if (s->n == 0 || s->len + k >= s->n)
		return;
	memcpy(s->b + s->len, p, k);
	s->len += k;
	s->b[s->len] = '\0';
}

static void sb_put(struct sb *s, const char *p)
{
	sb_putn(s, p, strlen(p));
}

static int done(struct sb *s)
{
	return (int)s->len;
}

static int put_str(char *buf, size_t n, const char *s)
{
	struct sb b;
	sb_init(&b, buf, n);
	sb_put(&b, s);
	return done(&b);
}

int64_t fmt_scale(int64_t value, int64_t max, int64_t scale)
{
	if (max <= 0 || value <= 0 || scale <= 0)
		return 0;
	if (value >= max)
		return scale;
	/* value < max here, so reducing both keeps the ratio within a unit. */
	while (value > INT64_MAX / scale) {
		value >>= 1;
		max >>= 1;
	}
	return value * scale / max;
}

static const char *const eighths[8] = {"", "\u258f", "\u258e", "\u258d",
                                       "\u258c", "\u258b", "\u258a", "\u2589"};

int fmt_bar(char *buf, size_t n, int width, int64_t value, int64_t max, bool ascii)
{
	struct sb s;
	sb_init(&s, buf, n);
	if (width <= 0)
		return 0;
	int64_t e = fmt_scale(value, max, (int64_t)width * 8);
	int full = (int)(e / 8), part = (int)(e % 8);
	for (int i = 0; i < width; i++) {
		if (i < full)
			sb_put(&s, ascii ? "#" : "\u2588");
		else if (i == full && part)
			sb_put(&s, ascii ? (part >= 4 ? "=" : "-") : eighths[part]);
		else
			sb_put(&s, ascii ? "." : "\u2591");
	}
	return done(&s);
}

int fmt_rebucket(const int64_t *v, int nv, int cells, int64_t *out, int *nout)
{
	*nout = 0;
	if (nv < 1)
		return 1;
	if (cells < 1)
		cells = 1;
	int k = (nv + cells - 1) / cells;
	int n = (nv + k - 1) / k;
	for (int j = 0; j < n; j++) {
		/* Cell j ends at value nv - (n - 1 - j) * k, newest last. */
		int hi = nv - (n - 1 - j) * k, lo = hi - k < 0 ? 0 : hi - k;
		out[j] = 0;
		for (int i = lo; i < hi; i++)
			out[j] += v[i] > 0 ? v[i] : 0;
	}
	*nout = n;
	return k;
}

int fmt_spark(char *buf, size_t n, const int64_t *v, int nv, int width, bool ascii)
{
	static const char *const blocks[8] = {"\u2581", "\u2582", "\u2583", "\u2584",
	                                      "\u2585", "\u2586", "\u2587", "\u2588"};
	static const char levels[] = "_.:-=+*#";
	struct sb s;
	sb_init(&s, buf, n);
	if (width <= 0 || nv < 0)
		return 0;
	int shown = nv < width ? nv : width;
	const int64_t *p = v + (nv - shown);
	int64_t max = 0;
	for (int i = 0; i < shown; i++)
		if (p[i] > max)
			max = p[i];
	for (int i = shown; i < width; i++)
		sb_put(&s, " ");
	for (int i = 0; i < shown; i++) {
		int idx = 0;
		if (p[i] > 0) /* 1..7: anything spent stands above the baseline */
			idx = 1 + (int)fmt_scale(p[i], max, 6);
		if (idx > 7)
			idx = 7;
		if (ascii) {
			char c[2] = {levels[idx], 0};
			sb_put(&s, c);
		} else {
			sb_put(&s, blocks[idx]);
		}
	}
	return done(&s);
}

int fmt_money_cents(char *buf, size_t n, int64_t pusd)
{
	return am_money_format_display(pusd, 2, buf, n);
}

int fmt_money_limit(char *buf, size_t n, int64_t pusd)
{
	return am_money_format_short(pusd, 12, buf, n);
}

int fmt_money(char *buf, size_t n, int64_t pusd)
{
	int64_t a = pusd < 0 ? (pusd == INT64_MIN ? INT64_MAX : -pusd) : pusd;
	const int64_t cent = AM_PUSD_PER_USD / 100, tenth_mil = AM_PUSD_PER_USD / 10000;
	if (a == 0)
		return am_money_format_display(0, 2, buf, n);
	if (a >= AM_PUSD_PER_USD)
		return am_money_format_display(pusd, 2, buf, n);
	if (a >= cent)
		return am_money_format_display(pusd, 3, buf, n);
	if (a * 2 >= tenth_mil) /* rounds to at least $0.0001 */
		return am_money_format_display(pusd, 4, buf, n);
	return put_str(buf, n, pusd < 0 ? "-<$0.0001" : "<$0.0001");
}

int fmt_count(char *buf, size_t n, int64_t v)
{
	char digits[32];
	struct sb s;
	sb_init(&s, buf, n);
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	int nd = snprintf(digits, sizeof digits, "%llu", (unsigned long long)u);
	if (v < 0)
		sb_put(&s, "-");
	for (int i = 0; i < nd; i++) {
		if (i && (nd - i) % 3 == 0)
			sb_put(&s, ",");
		sb_putn(&s, digits + i, 1);
	}
	return done(&s);
}

int fmt_tokens(char *buf, size_t n, int64_t v)
{
	static const char units[] = "kMGTP";
	if (v < 0)
		v = 0;
	if (v < 1000)
		return snprintf(buf, n, "%lld", (long long)v) < (int)n ? (int)strlen(buf) : 0;
	int64_t u = 1000;
	for (int k = 0; units[k]; k++, u *= 1000) {
		int64_t tenths = (v + u / 20) / (u / 10);
		char tmp[32];
		if (tenths < 100) {
			if (tenths % 10)
				snprintf(tmp, sizeof tmp, "%lld.%lld%c", (long long)(tenths / 10),
				         (long long)(tenths % 10), units[k]);
			else
				snprintf(tmp, sizeof tmp, "%lld%c", (long long)(tenths / 10), units[k]);
			return put_str(buf, n, tmp);
		}
		int64_t whole = (v + u / 2) / u;
		if (whole < 1000 || !units[k + 1]) {
			snprintf(tmp, sizeof tmp, "%lld%c", (long long)whole, units[k]);
			return put_str(buf, n, tmp);
		}
	}
	return put_str(buf, n, "?");
}

int fmt_duration_ns(char *buf, size_t n, int64_t ns)
{
	char tmp[48];
	if (ns < 0)
		ns = 0;
	int64_t ms = ns / 1000000, s = ns / 1000000000;
	if (s < 10)
		snprintf(tmp, sizeof tmp, "%lld.%llds", (long long)s, (long long)(ms % 1000 / 100));
	else if (s < 60)
		snprintf(tmp, sizeof tmp, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(tmp, sizeof tmp, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
	else if (s < 86400)
		snprintf(tmp, sizeof tmp, "%lldh%02lldm", (long long)(s / 3600),
		         (long long)(s % 3600 / 60));
	else
		snprintf(tmp, sizeof tmp, "%lldd%02lldh", (long long)(s / 86400),
		         (long long)(s % 86400 / 3600));
	return put_str(buf, n, tmp);
}

int fmt_countdown_ns(char *buf, size_t n, int64_t ns)
{
	char tmp[48];
	if (ns < 0)
		ns = 0;
	int64_t s = ns / 1000000000 + (ns % 1000000000 ? 1 : 0);
	if (s < 60)
		snprintf(tmp, sizeof tmp, "%llds", (long long)s);
	else
		snprintf(tmp, sizeof tmp, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
	return put_str(buf, n, tmp);
}

/* Local time of day, or NULL when the time cannot be converted. */
static struct tm *clock_tm(int64_t wall_ns, struct tm *tm)
{
	time_t t = (time_t)(wall_ns / 1000000000);
	return localtime_r(&t, tm);
}

int fmt_clock_hm(char *buf, size_t n, int64_t wall_ns)
{
	struct tm tm;
	if (!clock_tm(wall_ns, &tm))
		return put_str(buf, n, "--:--");
	char tmp[32];
	snprintf(tmp, sizeof tmp, "%02d:%02d", tm.tm_hour, tm.tm_min);
	return put_str(buf, n, tmp);
}

int fmt_clock_hms(char *buf, size_t n, int64_t wall_ns)
{
	struct tm tm;
	if (!clock_tm(wall_ns, &tm))
		return put_str(buf, n, "--:--:--");
	char tmp[32];
	snprintf(tmp, sizeof tmp, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
	return put_str(buf, n, tmp);
}

int fmt_clock_day_hms(char *buf, size_t n, int64_t wall_ns)
{
	static const char *const days[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	struct tm tm;
	if (!clock_tm(wall_ns, &tm))
		return put_str(buf, n, "--:--:--");
	char tmp[32];
	snprintf(tmp, sizeof tmp, "%s %02d:%02d:%02d", days[tm.tm_wday % 7], tm.tm_hour, tm.tm_min,
	         tm.tm_sec);
	return put_str(buf, n, tmp);
}

int fmt_bytes(char *buf, size_t n, int64_t v)
{
	static const char *const units[] = {"KB", "MB", "GB", "TB"};
	char tmp[32];
	if (v < 0)
		v = 0;
	if (v < 1024) {
		snprintf(tmp, sizeof tmp, "%lld B", (long long)v);
		return put_str(buf, n, tmp);
	}
	int64_t u = 1024;
	for (int k = 0; k < 4; k++, u *= 1024) {
		int64_t tenths = (v * 10 + u / 2) / u;
		if (tenths < 100) {
			snprintf(tmp, sizeof tmp, "%lld.%lld %s", (long long)(tenths / 10),
			         (long long)(tenths % 10), units[k]);
			return put_str(buf, n, tmp);
		}
		if ((v + u / 2) / u < 1024 || k == 3) {
			snprintf(tmp, sizeof tmp, "%lld %s", (long long)((v + u / 2) / u), units[k]);
			return put_str(buf, n, tmp);
		}
	}
	return put_str(buf, n, "?");
}

int fmt_pct(char *buf, size_t n, int64_t num, int64_t den, int decimals)
{
	char tmp[64];
	if (den <= 0)
		return put_str(buf, n, "-");
	if (decimals < 0)
		decimals = 0;
	if (decimals > 3)
		decimals = 3;
	int64_t pow10 = 1;
	for (int i = 0; i < decimals; i++)
		pow10 *= 10;
	bool neg = num < 0;
	int64_t a = neg ? (num == INT64_MIN ? INT64_MAX : -num) : num;
	int64_t scale = 100 * pow10 * 2; /* ×2 to round half up */
	while (a > INT64_MAX / scale) {
		a >>= 1;
		den >>= 1;
		if (den == 0)
			den = 1;
	}
	int64_t v = (a * scale / den + 1) / 2;
	if (decimals)
		snprintf(tmp, sizeof tmp, "%s%lld.%0*lld%%", neg ? "-" : "", (long long)(v / pow10),
		         decimals, (long long)(v % pow10));
	else
		snprintf(tmp, sizeof tmp, "%s%lld%%", neg ? "-" : "", (long long)v);
	return put_str(buf, n, tmp);
}

/* ---- text ---------------------------------------------------------------- */

/* Cells of the character at s; sets *bytes. Invalid bytes count as one. */
static int char_cells(const char *s, size_t len, int *bytes)
{
	uint32_t cp;
	int k = am_utf8_decode(s, len, &cp);
	*bytes = k ? k : 1;
	if (!k)
		return 1;
	if (cp < 0x80)
		return cp >= 0x20 && cp != 0x7F ? 1 : 0;
	int w = wcwidth((wchar_t)cp);
	return w < 0 ? 1 : w;
}

int fmt_width(const char *s, size_t len)
{
	int cells = 0, k;
	for (size_t i = 0; i < len; i += (size_t)k)
		cells += char_cells(s + i, len - i, &k);
	return cells;
}

int fmt_fit(char *buf, size_t n, const char *s, int width, bool ascii)
{
	struct sb b;
	sb_init(&b, buf, n);
	size_t len = strlen(s);
	if (width <= 0)
		return 0;
	if (fmt_width(s, len) <= width) {
		sb_putn(&b, s, len);
		return done(&b);
	}
	int cells = 0, k;
	for (size_t i = 0; i < len; i += (size_t)k) {
		int w = char_cells(s + i, len - i, &k);
		if (cells + w > width - 1)
			break;
		sb_putn(&b, s + i, (size_t)k);
		cells += w;
	}
	sb_put(&b, ascii ? "~" : "\u2026");
	return done(&b);
}

int fmt_pad(char *buf, size_t n, const char *s, int width, bool right)
{
	char fitted[1024];
	struct sb b;
	sb_init(&b, buf, n);
	if (width <= 0)
		return 0;
	fmt_fit(fitted, sizeof fitted, s, width, false);
	int w = fmt_width(fitted, strlen(fitted));
	if (right)
		for (int i = w; i < width; i++)
			sb_put(&b, " ");
	sb_put(&b, fitted);
	if (!right)
		for (int i = w; i < width; i++)
			sb_put(&b, " ");
	return done(&b);
}

int fmt_wrap(const char *s, size_t len, int width, fmt_line_cb cb, void *ctx)
{
	int lines = 0, k;
	size_t start = 0, brk = 0;
	int cells = 0, brk_cells = 0;
	bool have_brk = false;
	if (width < 1)
		width = 1;
	for (size_t i = 0; i < len; i += (size_t)k) {
		if (s[i] == '\n') {
			k = 1;
			if (cb)
				cb(ctx, s + start, i - start, cells);
			lines++;
			start = i + 1;
			cells = 0;
			have_brk = false;
			continue;
		}
		int w = char_cells(s + i, len - i, &k);
		while (cells > 0 && cells + w > width) {
			if (have_brk) {
				if (cb)
					cb(ctx, s + start, brk - start, brk_cells);
				cells -= brk_cells + 1;
				start = brk + 1;
				have_brk = false;
			} else {
				if (cb)
					cb(ctx, s + start, i - start, cells);
				start = i;
				cells = 0;
			}
			lines++;
		}
		if (s[i] == ' ') {
			have_brk = true;
			brk = i;
			brk_cells = cells;
		}
		cells += w;
	}
	if (cb)
		cb(ctx, s + start, len - start, cells);
	return lines + 1;
}
