/* budget: reservations against daily and monthly limits, once-per-period
 * alerts and a per-minute burn ring. Pure policy: time arrives as an
 * am_budget_now, nothing reads a clock or does I/O (except
 * am_budget_now_local, which converts a given time with the C library).
 *
 * Reservations live in a slot table with a free list; an id packs the slot
 * and a per-slot generation, so settling a stale or forged id is detected
 * instead of releasing someone else's hold. Products of money and percents
 * or seconds are taken in 128 bits, so no limit the int64 money type can
 * hold overflows the comparisons. */
#include "budget.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "money.h"

__extension__ typedef __int128 i128;

enum { SLOT_BITS = 24 }; /* ids: generation << SLOT_BITS | slot */
#define MAX_SLOTS (1 << SLOT_BITS)
#define NS_PER_MIN (60 * AM_NS_PER_SEC)

typedef struct slot {
	int64_t gen;          /* odd while held */
	int64_t amount;
	bool unknown_price;
	int next_free;
} slot;

struct am_budget {
	am_budget_config cfg;
	char day[11], month[8];
	int64_t spent[2];             /* [AM_BUDGET_DAY], [AM_BUDGET_MONTH] */
	bool fired[2][AM_BUDGET_MAX_ALERTS];
	bool day_unknown;

	slot *slots;
	int nslots, cap_slots, free_head, held;
	int64_t reserved;

	int64_t ring_min[AM_BUDGET_RING_MINUTES]; /* epoch minute each bucket holds */
	int64_t ring_amt[AM_BUDGET_RING_MINUTES];
	int64_t ring_latest;                      /* newest minute fed */
};

/* ---- config ------------------------------------------------------------------ */

static int check_alerts(const int *pct, int n, am_err *err)
{
	if (n < 0 || n > AM_BUDGET_MAX_ALERTS)
		return am_err_set(err, "budget: %d alert thresholds; at most %d", n,
		                  AM_BUDGET_MAX_ALERTS);
	for (int i = 0; i < n; i++) {
		if (pct[i] < 1 || pct[i] > 100)
			return am_err_set(err, "budget: alert threshold %d%% is outside 1..100", pct[i]);
		if (i > 0 && pct[i] <= pct[i - 1])
			return am_err_set(err, "budget: alert thresholds must increase (%d%% after %d%%)",
			                  pct[i], pct[i - 1]);
	}
	return 0;
}

int am_budget_config_check(const am_budget_config *cfg, am_err *err)
{
	if (cfg->day_limit_pusd < 0 || cfg->month_limit_pusd < 0)
		return am_err_set(err, "budget: a limit must not be negative");
	if (cfg->max_reservations < 1 || cfg->max_reservations > MAX_SLOTS)
		return am_err_set(err, "budget: max_reservations %d is outside 1..%d",
		                  cfg->max_reservations, MAX_SLOTS);
	return check_alerts(cfg->alert_pct, cfg->nalerts, err);
}

int am_budget_config_from(const am_config *cfg, am_budget_config *out, am_err *err)
{
	_Static_assert((int)AM_BUDGET_MAX_ALERTS == (int)AM_CONFIG_MAX_ALERTS, "alert tables differ");
	memset(out, 0, sizeof *out);
	out->day_limit_pusd = cfg->budget.daily_pusd;
	out->month_limit_pusd = cfg->budget.monthly_pusd;
	out->nalerts = cfg->budget.nalerts;
	memcpy(out->alert_pct, cfg->budget.alert_pct, sizeof out->alert_pct);
	if (cfg->budget.max_reservations > MAX_SLOTS)
		return am_err_set(err, "budget: max_reservations %lld is above %d",
		                  (long long)cfg->budget.max_reservations, MAX_SLOTS);
	out->max_reservations = (int)cfg->budget.max_reservations;
	out->web_search_uses = cfg->budget.web_search_uses;
	return am_budget_config_check(out, err);
}

void am_budget_config_default(am_budget_config *out)
{
	am_config c;
	am_config_init(&c);
	am_budget_config_from(&c, out, NULL); /* the defaults pass: see test_budget */
}

/* ---- time ---------------------------------------------------------------------- */

int am_budget_now_local(int64_t wall_ns, am_budget_now *out, am_err *err)
{
	time_t t = (time_t)(wall_ns / AM_NS_PER_SEC - (wall_ns % AM_NS_PER_SEC < 0));
	struct tm tm;
	if (!localtime_r(&t, &tm))
		return am_err_set(err, "budget: cannot convert time %lld to local time",
		                  (long long)wall_ns);
	memset(out, 0, sizeof *out);
	snprintf(out->day, sizeof out->day, "%04d-%02d-%02d", (tm.tm_year + 1900) % 10000,
	         tm.tm_mon + 1, tm.tm_mday);
	snprintf(out->month, sizeof out->month, "%04d-%02d", (tm.tm_year + 1900) % 10000,
	         tm.tm_mon + 1);
	out->wall_ns = wall_ns;
	/* Midnight that starts tomorrow: mktime normalises mday+1 across month
	 * ends and resolves DST itself (tm_isdst -1). */
	struct tm next = tm;
	next.tm_mday += 1;
	next.tm_hour = next.tm_min = next.tm_sec = 0;
	next.tm_isdst = -1;
	time_t midnight = mktime(&next);
	if (midnight == (time_t)-1)
		return am_err_set(err, "budget: cannot find the end of the local day %s", out->day);
	out->midnight_ns = (int64_t)midnight * AM_NS_PER_SEC;
	int64_t left = out->midnight_ns - wall_ns;
	out->day_left_s = left > 0 ? left / AM_NS_PER_SEC : 0;
	return 0;
}

/* ---- alerts ---------------------------------------------------------------------- */

static int64_t limit_of(const am_budget *b, int period)
{
	return period == AM_BUDGET_DAY ? b->cfg.day_limit_pusd : b->cfg.month_limit_pusd;
}

static bool reached(int64_t spent, int64_t limit, int pct)
{
	return limit > 0 && (i128)spent * 100 >= (i128)limit * pct;
}

/* Fires thresholds that became true and re-arms those that are no longer
 * (a raised limit, a rollover). With out NULL it only records them. */
static void evaluate(am_budget *b, am_budget_alerts *out)
{
	for (int p = AM_BUDGET_DAY; p <= AM_BUDGET_MONTH; p++) {
		int64_t limit = limit_of(b, p);
		for (int i = 0; i < b->cfg.nalerts; i++) {
			bool now = reached(b->spent[p], limit, b->cfg.alert_pct[i]);
			if (now && !b->fired[p][i] && out &&
			    out->n < (int)(sizeof out->a / sizeof out->a[0])) {
				am_budget_alert *a = &out->a[out->n++];
				a->pct = b->cfg.alert_pct[i];
				a->period = (am_budget_period)p;
				a->spent_pusd = b->spent[p];
				a->limit_pusd = limit;
				memcpy(a->day, b->day, sizeof a->day);
				memcpy(a->month, b->month, sizeof a->month);
			}
			b->fired[p][i] = now;
		}
	}
}

static void clear_alerts(am_budget_alerts *alerts)
{
	if (alerts)
		alerts->n = 0;
}

static void roll(am_budget *b, const am_budget_now *now)
{
	bool rolled = false;
	if (strcmp(now->month, b->month) > 0) {
		memcpy(b->month, now->month, sizeof b->month);
		b->spent[AM_BUDGET_MONTH] = 0;
		rolled = true;
	}
	if (strcmp(now->day, b->day) > 0) {
		memcpy(b->day, now->day, sizeof b->day);
		b->spent[AM_BUDGET_DAY] = 0;
		b->day_unknown = false;
		rolled = true;
	}
	if (rolled)
		evaluate(b, NULL); /* re-arms: spend went to 0, nothing can fire */
}

void am_budget_tick(am_budget *b, const am_budget_now *now)
{
	roll(b, now);
}

/* ---- lifecycle ------------------------------------------------------------------- */

int am_budget_new(am_budget **out, const am_budget_config *cfg, const am_budget_now *now,
                  int64_t day_spent, int64_t month_spent, bool day_unknown, am_err *err)
{
	if (am_budget_config_check(cfg, err) < 0)
		return -1;
	if (day_spent < 0 || month_spent < 0)
		return am_err_set(err, "budget: the ledger's spend must not be negative");
	am_budget *b = am_xcalloc(1, sizeof *b);
	b->cfg = *cfg;
	memcpy(b->day, now->day, sizeof b->day);
	memcpy(b->month, now->month, sizeof b->month);
	b->spent[AM_BUDGET_DAY] = day_spent;
	b->spent[AM_BUDGET_MONTH] = month_spent;
	b->day_unknown = day_unknown;
	b->free_head = -1;
	for (int i = 0; i < AM_BUDGET_RING_MINUTES; i++)
		b->ring_min[i] = INT64_MIN;
	b->ring_latest = INT64_MIN;
	evaluate(b, NULL); /* thresholds the ledger's totals already crossed stay quiet */
	*out = b;
	return 0;
}

void am_budget_free(am_budget *b)
{
	if (b) {
		free(b->slots);
		free(b);
	}
}

/* ---- worst case -------------------------------------------------------------------- */

static int64_t max3(int64_t a, int64_t b, int64_t c)
{
	int64_t m = a > b ? a : b;
	return m > c ? m : c;
}

int am_budget_worst_case(const am_price *price, const am_price *most_expensive,
                         const am_budget_estimate *est, am_budget_cost *out, am_err *err)
{
	memset(out, 0, sizeof *out);
	if (est->input_tokens < 0 || est->max_tokens < 0 || est->web_searches < 0)
		return am_err_set(err, "budget: negative token estimate");
	const am_price *p = price;
	if (!p) {
		if (!most_expensive)
			return am_err_set(err, "budget: the price is unknown and the price table is empty");
		p = most_expensive;
		out->unknown_price = true;
	} else if (p->input == 0 && p->output == 0) {
		out->exempt = true;
		return 0;
	}
	bool lc = p->long_context_threshold > 0 && est->input_tokens > p->long_context_threshold;
	int64_t in = lc ? p->lc_input : p->input;
	int64_t outp = lc ? p->lc_output : p->output;
	if (est->cache_writes)
		in = max3(in, lc ? p->lc_cache_write_5m : p->cache_write_5m,
		          lc ? p->lc_cache_write_1h : p->cache_write_1h);
	int64_t a, c, tokens, fees;
	if (am_money_mul(est->input_tokens, in, &a) < 0 ||
	    am_money_mul(est->max_tokens, outp, &c) < 0 || am_money_add(a, c, &tokens) < 0)
		return am_err_set(err, "budget: the worst-case cost overflows");
	/* Multipliers in percent, the product rounded up. */
	int fast = 100, geo = 100;
	if (est->fast && p->fast_pct > 0)
		fast = p->fast_pct;
	if (est->fast && out->unknown_price && fast < AM_BUDGET_UNKNOWN_FAST_PCT)
		fast = AM_BUDGET_UNKNOWN_FAST_PCT;
	if (p->geo_us_pct > 100)
		geo = p->geo_us_pct;
	i128 scaled = ((i128)tokens * fast * geo + 100 * 100 - 1) / (100 * 100);
	if (est->batch && p->batch_discount_pct > 0 && p->batch_discount_pct <= 100)
		scaled = (scaled * (100 - p->batch_discount_pct) + 99) / 100;
	if (scaled > INT64_MAX || am_money_mul(est->web_searches, p->web_search_pusd, &fees) < 0 ||
	    am_money_add((int64_t)scaled, fees, &out->pusd) < 0)
		return am_err_set(err, "budget: the worst-case cost overflows");
	return 0;
}

/* ---- reservations ------------------------------------------------------------------ */

/* Spend for people as the dashboard shows it: below a dollar three
 * decimals, below a cent four (six below $0.0001), never a zero that says
 * nothing ("$0.0002", not "$0.000202"). */
static void fmt_usd(int64_t pusd, char *buf, size_t n)
{
	int64_t a = pusd < 0 ? -(pusd / 2) * 2 : pusd; /* no overflow at INT64_MIN */
	int dec = a >= AM_PUSD_PER_USD        ? 2
	          : a >= AM_PUSD_PER_USD / 100 ? 3
	          : a >= AM_PUSD_PER_USD / 10000 ? 4
	          : a                          ? 6
	                                       : 2;
	am_money_format_short(pusd, dec, buf, n);
}

/* A limit someone set, exactly ("$0.001", "$10.00"). */
static void fmt_limit(int64_t pusd, char *buf, size_t n)
{
	am_money_format_short(pusd, 12, buf, n);
}

static bool fits(const am_budget *b, int period, int64_t amount)
{
	int64_t limit = limit_of(b, period);
	return limit == 0 || (i128)b->spent[period] + b->reserved + amount <= limit;
}

static void explain_block(const am_budget *b, int period, int64_t amount, char *why, size_t n)
{
	char lim[40], spent[40], held[40], this[40];
	fmt_limit(limit_of(b, period), lim, sizeof lim);
	fmt_usd(b->spent[period], spent, sizeof spent);
	fmt_usd(b->reserved, held, sizeof held);
	fmt_usd(amount, this, sizeof this);
	snprintf(why, n, "%s limit %s: spent %s + held %s + this call %s would cross it",
	         period == AM_BUDGET_DAY ? "daily" : "monthly", lim, spent, held, this);
}

static int take_slot(am_budget *b, am_err *err)
{
	if (b->free_head >= 0) {
		int s = b->free_head;
		b->free_head = b->slots[s].next_free;
		return s;
	}
	if (b->nslots == b->cfg.max_reservations)
		return am_err_set(err, "budget: %d reservations outstanding; that is the bound",
		                  b->cfg.max_reservations);
	if (b->nslots == b->cap_slots) {
		int cap = b->cap_slots ? b->cap_slots * 2 : 64;
		if (cap > b->cfg.max_reservations)
			cap = b->cfg.max_reservations;
		b->slots = am_xrealloc(b->slots, (size_t)cap * sizeof *b->slots);
		b->cap_slots = cap;
	}
	b->slots[b->nslots].gen = 0;
	return b->nslots++;
}

int am_budget_reserve(am_budget *b, const am_budget_now *now, const am_budget_cost *cost,
                      am_budget_grant *out, am_err *err)
{
	memset(out, 0, sizeof *out);
	int64_t amount = cost->exempt ? 0 : cost->pusd;
	if (amount < 0)
		return am_err_set(err, "budget: negative reservation");
	roll(b, now);
	if (!cost->exempt) {
		for (int p = AM_BUDGET_DAY; p <= AM_BUDGET_MONTH; p++) {
			if (!fits(b, p, amount)) {
				out->verdict = p == AM_BUDGET_DAY ? AM_BUDGET_BLOCKED_DAY
				                                  : AM_BUDGET_BLOCKED_MONTH;
				explain_block(b, p, amount, out->why, sizeof out->why);
				return 0;
			}
		}
	}
	int64_t reserved;
	if (am_money_add(b->reserved, amount, &reserved) < 0)
		return am_err_set(err, "budget: reservations overflow");
	int s = take_slot(b, err);
	if (s < 0)
		return -1;
	slot *sl = &b->slots[s];
	sl->gen++; /* even -> odd: held */
	sl->amount = amount;
	sl->unknown_price = cost->unknown_price;
	b->held++;
	b->reserved = reserved;
	out->verdict = AM_BUDGET_RESERVED;
	out->id = (sl->gen << SLOT_BITS) | s;
	out->amount_pusd = amount;
	return 0;
}

static slot *find(am_budget *b, int64_t id, am_err *err)
{
	int64_t s = id & (MAX_SLOTS - 1);
	int64_t gen = id >> SLOT_BITS;
	if (id <= 0 || s >= b->nslots || b->slots[s].gen != gen || gen % 2 == 0) {
		am_err_set(err, "budget: no reservation %lld outstanding", (long long)id);
		return NULL;
	}
	return &b->slots[s];
}

static void release(am_budget *b, slot *sl)
{
	int s = (int)(sl - b->slots);
	sl->gen++; /* odd -> even: free; the old id no longer matches */
	b->reserved -= sl->amount;
	b->held--;
	sl->next_free = b->free_head;
	b->free_head = s;
}

int am_budget_settle(am_budget *b, const am_budget_now *now, int64_t id, int64_t actual,
                     int64_t *over_by, am_budget_alerts *alerts, am_err *err)
{
	clear_alerts(alerts);
	if (over_by)
		*over_by = 0;
	if (actual < 0)
		return am_err_set(err, "budget: negative actual cost");
	slot *sl = find(b, id, err);
	if (!sl)
		return -1;
	roll(b, now);
	int64_t day, month;
	if (am_money_add(b->spent[AM_BUDGET_DAY], actual, &day) < 0 ||
	    am_money_add(b->spent[AM_BUDGET_MONTH], actual, &month) < 0)
		return am_err_set(err, "budget: spend overflows");
	b->spent[AM_BUDGET_DAY] = day;
	b->spent[AM_BUDGET_MONTH] = month;
	if (sl->unknown_price)
		b->day_unknown = true;
	if (over_by && actual > sl->amount)
		*over_by = actual - sl->amount;
	release(b, sl);
	am_budget_burn_feed(b, now->wall_ns, actual);
	evaluate(b, alerts);
	return 0;
}

static bool is_day(const char *s)
{
	for (int i = 0; i < 10; i++)
		if (i == 4 || i == 7 ? s[i] != '-' : s[i] < '0' || s[i] > '9')
			return false;
	return s[10] == '\0';
}

int am_budget_add_spent(am_budget *b, const am_budget_now *now, const char *day,
                        int64_t wall_ns, int64_t pusd, bool unknown_price,
                        am_budget_alerts *alerts, am_err *err)
{
	clear_alerts(alerts);
	if (pusd < 0)
		return am_err_set(err, "budget: negative spend");
	if (!day || !is_day(day))
		return am_err_set(err, "budget: '%s' is not a day (YYYY-MM-DD)", day ? day : "(none)");
	roll(b, now);
	/* Strings of this fixed form compare in calendar order. */
	bool in_day = strcmp(day, b->day) >= 0;
	bool in_month = strncmp(day, b->month, 7) >= 0;
	int64_t spent[2] = { b->spent[AM_BUDGET_DAY], b->spent[AM_BUDGET_MONTH] };
	if ((in_day && am_money_add(spent[AM_BUDGET_DAY], pusd, &spent[AM_BUDGET_DAY]) < 0) ||
	    (in_month && am_money_add(spent[AM_BUDGET_MONTH], pusd, &spent[AM_BUDGET_MONTH]) < 0))
		return am_err_set(err, "budget: spend overflows");
	b->spent[AM_BUDGET_DAY] = spent[AM_BUDGET_DAY];
	b->spent[AM_BUDGET_MONTH] = spent[AM_BUDGET_MONTH];
	if (in_day && unknown_price)
		b->day_unknown = true;
	am_budget_burn_feed(b, wall_ns, pusd);
	evaluate(b, alerts);
	return 0;
}

int am_budget_cancel(am_budget *b, int64_t id, am_err *err)
{
	slot *sl = find(b, id, err);
	if (!sl)
		return -1;
	release(b, sl);
	return 0;
}

int am_budget_outstanding(const am_budget *b, int64_t *reserved_pusd)
{
	if (reserved_pusd)
		*reserved_pusd = b->reserved;
	return b->held;
}

/* ---- run-time changes ---------------------------------------------------------------- */

int am_budget_set_limits(am_budget *b, const am_budget_now *now, int64_t day, int64_t month,
                         am_budget_alerts *alerts, am_err *err)
{
	clear_alerts(alerts);
	if (day < 0 || month < 0)
		return am_err_set(err, "budget: a limit must not be negative");
	roll(b, now);
	b->cfg.day_limit_pusd = day;
	b->cfg.month_limit_pusd = month;
	evaluate(b, alerts);
	return 0;
}

int am_budget_set_alerts(am_budget *b, const am_budget_now *now, const int *pct, int n,
                         am_budget_alerts *alerts, am_err *err)
{
	clear_alerts(alerts);
	if (check_alerts(pct, n, err) < 0)
		return -1;
	roll(b, now);
	b->cfg.nalerts = n;
	memcpy(b->cfg.alert_pct, pct, (size_t)n * sizeof *pct);
	memset(b->fired, 0, sizeof b->fired);
	evaluate(b, alerts);
	return 0;
}

/* ---- figures ----------------------------------------------------------------------------- */

int am_budget_used_pct(am_budget *b, const am_budget_now *now)
{
	roll(b, now);
	int best = -1;
	for (int p = AM_BUDGET_DAY; p <= AM_BUDGET_MONTH; p++) {
		int64_t limit = limit_of(b, p);
		if (limit == 0)
			continue;
		i128 pct = (i128)b->spent[p] * 100 / limit;
		int v = pct > 1000000 ? 1000000 : (int)pct;
		if (v > best)
			best = v;
	}
	return best;
}

static int64_t epoch_minute(int64_t wall_ns)
{
	return wall_ns / NS_PER_MIN - (wall_ns % NS_PER_MIN < 0);
}

static int ring_index(int64_t minute)
{
	return (int)(((minute % AM_BUDGET_RING_MINUTES) + AM_BUDGET_RING_MINUTES) %
	             AM_BUDGET_RING_MINUTES);
}

void am_budget_burn_feed(am_budget *b, int64_t wall_ns, int64_t pusd)
{
	int64_t m = epoch_minute(wall_ns);
	if (b->ring_latest != INT64_MIN && m <= b->ring_latest - AM_BUDGET_RING_MINUTES)
		return; /* older than the ring reaches */
	int i = ring_index(m);
	if (b->ring_min[i] != m) {
		b->ring_min[i] = m;
		b->ring_amt[i] = 0;
	}
	int64_t sum;
	b->ring_amt[i] = am_money_add(b->ring_amt[i], pusd, &sum) < 0 ? INT64_MAX : sum;
	if (m > b->ring_latest)
		b->ring_latest = m;
}

static int64_t sat(i128 v)
{
	return v > INT64_MAX ? INT64_MAX : v < INT64_MIN ? INT64_MIN : (int64_t)v;
}

void am_budget_burn_at(am_budget *b, const am_budget_now *now, am_budget_burn *out)
{
	roll(b, now);
	memset(out, 0, sizeof *out);
	int64_t cur = epoch_minute(now->wall_ns);
	i128 window = 0;
	for (int k = 0; k < AM_BUDGET_RING_MINUTES; k++) {
		int64_t m = cur - (AM_BUDGET_RING_MINUTES - 1) + k;
		int i = ring_index(m);
		int64_t v = b->ring_min[i] == m ? b->ring_amt[i] : 0;
		out->per_min[k] = v;
		if (m > cur - AM_BUDGET_BURN_MINUTES)
			window += v;
	}
	out->per_hour_pusd = sat(window * 60 / AM_BUDGET_BURN_MINUTES);
	int64_t spent = b->spent[AM_BUDGET_DAY];
	out->projected_eod_pusd = sat(spent + (i128)out->per_hour_pusd * now->day_left_s / 3600);
	int64_t limit = b->cfg.day_limit_pusd;
	if (limit > 0 && out->per_hour_pusd > 0 && spent < limit) {
		i128 ns = (i128)(limit - spent) * 3600 * AM_NS_PER_SEC / out->per_hour_pusd;
		if (ns <= (i128)now->day_left_s * AM_NS_PER_SEC)
			out->limit_hit_wall_ns = sat(now->wall_ns + ns);
	}
}

void am_budget_snapshot(am_budget *b, const am_budget_now *now, am_budget_view *out)
{
	am_budget_burn burn;
	am_budget_burn_at(b, now, &burn); /* rolls first */
	out->day_spent_pusd = b->spent[AM_BUDGET_DAY];
	out->day_limit_pusd = b->cfg.day_limit_pusd;
	out->month_spent_pusd = b->spent[AM_BUDGET_MONTH];
	out->month_limit_pusd = b->cfg.month_limit_pusd;
	out->reserved_pusd = b->reserved;
	out->nalerts = b->cfg.nalerts;
	memcpy(out->alert_pct, b->cfg.alert_pct, sizeof out->alert_pct);
	out->state = AM_BUDGET_OK;
	for (int p = AM_BUDGET_DAY; p <= AM_BUDGET_MONTH; p++) {
		if (reached(b->spent[p], limit_of(b, p), 100))
			out->state = AM_BUDGET_OVER;
		else if (out->state == AM_BUDGET_OK && b->cfg.nalerts > 0 &&
		         reached(b->spent[p], limit_of(b, p), b->cfg.alert_pct[0]))
			out->state = AM_BUDGET_ALERT;
	}
	out->burn_pusd_per_hour = burn.per_hour_pusd;
	out->projected_eod_pusd = burn.projected_eod_pusd;
	out->limit_hit_wall_ns = burn.limit_hit_wall_ns;
	memcpy(out->spend_per_min, burn.per_min, sizeof out->spend_per_min);
	out->unknown_prices = b->day_unknown;
}

/* ---- alert output ------------------------------------------------------------------------- */

void am_budget_alert_line(const am_budget_alert *a, char *buf, size_t n)
{
	char spent[40], limit[40];
	fmt_usd(a->spent_pusd, spent, sizeof spent);
	fmt_limit(a->limit_pusd, limit, sizeof limit);
	/* One call can carry the spend far past the threshold (a limit below
	 * one call's cost); the line then says where the spend stands. */
	i128 at = a->limit_pusd > 0 ? (i128)a->spent_pusd * 100 / a->limit_pusd : 0;
	const char *period = a->period == AM_BUDGET_DAY ? "daily" : "monthly";
	const char *when = a->period == AM_BUDGET_DAY ? a->day : a->month;
	if (at > a->pct)
		snprintf(buf, n, "budget alert: %d%% of the %s limit passed, spend at %lld%%: %s of %s "
		         "spent (%s)",
		         a->pct, period, (long long)(at > 999999 ? 999999 : at), spent, limit, when);
	else
		snprintf(buf, n, "budget alert: %d%% of the %s limit: %s of %s spent (%s)", a->pct,
		         period, spent, limit, when);
}

void am_budget_alert_env(const am_budget_alert *a, am_budget_env *out)
{
	char spent[32], limit[32];
	am_money_format(a->spent_pusd, spent, sizeof spent);
	am_money_format(a->limit_pusd, limit, sizeof limit);
	memset(out, 0, sizeof *out);
	snprintf(out->var[0], sizeof out->var[0], "AIMETER_ALERT_PCT=%d", a->pct);
	snprintf(out->var[1], sizeof out->var[1], "AIMETER_SPENT_USD=%s", spent);
	snprintf(out->var[2], sizeof out->var[2], "AIMETER_LIMIT_USD=%s", limit);
	snprintf(out->var[3], sizeof out->var[3], "AIMETER_PERIOD=%s",
	         a->period == AM_BUDGET_DAY ? "day" : "month");
	snprintf(out->var[4], sizeof out->var[4], "AIMETER_DAY=%s", a->day);
	for (int i = 0; i < 5; i++)
		out->env[i] = out->var[i];
	out->env[5] = NULL;
}
