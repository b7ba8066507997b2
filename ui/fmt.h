/* fmt: the pure formatting layer of the dashboard. Numbers, money, bars and
 * sparklines become text here; the curses layer only paints that text.
 *
 * Nothing in this file calls curses, reads a clock (times are passed in) or
 * allocates except where stated. Every function writes a NUL-terminated
 * UTF-8 string into a caller buffer and returns the number of bytes written
 * (not counting the NUL), truncating safely when the buffer is short, like
 * snprintf but never more than n-1. `ascii` selects the fallback glyphs for
 * terminals whose locale is not UTF-8: the output is then pure ASCII.
 *
 * Widths are in terminal cells. Cell widths of non-ASCII characters come
 * from wcwidth(3), so the caller must have set an UTF-8 LC_CTYPE (the UI
 * does setlocale at start; tests set C.UTF-8). Thread-safe. */
#ifndef AIMETER_UI_FMT_H
#define AIMETER_UI_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes enough for any fmt_bar/fmt_spark of `cells` cells (3 bytes a cell). */
#define FMT_CELLS_BYTES(cells) ((size_t)(cells) * 3 + 1)

/* value × scale / max without overflow, clamped to [0, scale]; max <= 0
 * gives 0 (nothing to compare against). Rounds down. */
int64_t fmt_scale(int64_t value, int64_t max, int64_t scale);

/* A horizontal bar of exactly `width` cells showing value/max: full blocks,
 * then one eighth-block partial (▏▎▍▌▋▊▉), then ░ for the rest. ASCII: '#'
 * full, '=' for a partial of half or more, '-' for less, '.' empty. A
 * negative value (a bucket in debt) is an empty bar; value > max is full.
 * width <= 0 writes "". */
int fmt_bar(char *buf, size_t n, int width, int64_t value, int64_t max, bool ascii);

/* A sparkline of the last `width` of the nv values (oldest first), scaled
 * to the largest of those shown: 0 is ▁, any positive value at least ▂,
 * the maximum █. Fewer values than cells are padded with spaces on the
 * left. ASCII levels: "_.:-=+*#". Negative values count as 0. */
int fmt_spark(char *buf, size_t n, const int64_t *v, int nv, int width, bool ascii);

/* Sums the nv values (oldest first) into at most `cells` cells of k values
 * each, k = ceil(nv / cells), aligned so the newest value ends the last
 * cell (the oldest cell may hold fewer). Writes ceil(nv / k) sums into out
 * (room for nv) and returns k; a sparkline of out then spans all nv
 * values. cells < 1 counts as 1; nv < 1 writes nothing and returns 1. */
int fmt_rebucket(const int64_t *v, int nv, int cells, int64_t *out, int *nout);

/* Money for people, via am_money_format_display. fmt_money adapts its
 * precision so small costs stay readable: >= $1: "$1,234.57"; >= $0.01:
 * "$0.469"; smaller: "$0.0005"; a positive amount under $0.0001 is
 * "<$0.0001"; 0 is "$0.00". fmt_money_cents always uses 2 decimals. */
int fmt_money(char *buf, size_t n, int64_t pusd);
int fmt_money_cents(char *buf, size_t n, int64_t pusd);
/* A limit someone set (a budget), exactly, without zeros that say
 * nothing: "$0.001", "$12.50", "$10.00". */
int fmt_money_limit(char *buf, size_t n, int64_t pusd);

/* A whole number with thousands separators: 48210 -> "48,210". */
int fmt_count(char *buf, size_t n, int64_t v);

/* A token count in at most 5 characters: 950, 7.1k, 18k, 402k, 1.2M, 35M,
 * 1.4G. One decimal below 10 of a unit, none above; rounds half up and
 * moves to the next unit when rounding reaches 1000. */
int fmt_tokens(char *buf, size_t n, int64_t v);

/* A duration: "0.4s", "1.2s", "12s", "4m05s", "2h05m", "3d04h". Negative
 * durations are shown as 0. Sub-10-second values keep one decimal
 * (rounded down, so a countdown never shows 0.0s while still running
 * unless under 100 ms). */
int fmt_duration_ns(char *buf, size_t n, int64_t ns);

/* A countdown in whole seconds, rounded up: 3.2 s -> "4s"; "1m05s" above a
 * minute. */
int fmt_countdown_ns(char *buf, size_t n, int64_t ns);

/* Local wall-clock time of day: "16:23" (hm) or "14:32:07" (hms). The
 * weekday form "Sat 14:32:07" for the header. wall_ns is ns since epoch. */
int fmt_clock_hm(char *buf, size_t n, int64_t wall_ns);
int fmt_clock_hms(char *buf, size_t n, int64_t wall_ns);
int fmt_clock_day_hms(char *buf, size_t n, int64_t wall_ns);

/* A byte count: "512 B", "8.1 KB", "12 MB" (powers of 1024, one decimal
 * below 10). */
int fmt_bytes(char *buf, size_t n, int64_t v);

/* num/den as a percentage with `decimals` (0..3) decimals, rounded half
 * up: (314, 1000, 1) -> "31.4%". den <= 0 gives "-". */
int fmt_pct(char *buf, size_t n, int64_t num, int64_t den, int decimals);

/* ---- text -------------------------------------------------------------- */


/* Cells taken by a (sanitised) UTF-8 string. */
int fmt_width(const char *s, size_t len);

/* Copies s, cut to at most `width` cells; when it had to cut, the last cell
 * is "…" ("~" in ASCII). Returns bytes written. */
int fmt_fit(char *buf, size_t n, const char *s, int width, bool ascii);

/* Copies s right-aligned (pad 'right' = false) or left-aligned in exactly
 * `width` cells, cutting with fmt_fit when longer. */
int fmt_pad(char *buf, size_t n, const char *s, int width, bool right);

/* Wraps sanitised text to `width` cells: breaks at '\n', else after the
 * last space that fits, else inside a word. Each line is reported through
 * cb (which may be NULL to count) as a slice of s without its break
 * characters. An empty text is one empty line. Returns the number of
 * lines. width < 1 is treated as 1. */
typedef void (*fmt_line_cb)(void *ctx, const char *line, size_t len, int cells);
int fmt_wrap(const char *s, size_t len, int width, fmt_line_cb cb, void *ctx);

#endif
