/* tagbudget: per-tag daily limits by reservation (tagbudget.h). A small
 * table searched linearly: a handful of tags in practice, a bounded number
 * at most. */
#include "tagbudget.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "money.h"

struct am_tagbudget {
	char day[11];
	size_t n;
	am_tagbudget_view t[AM_TAGBUDGET_MAX];
};

am_tagbudget *am_tagbudget_new(const char *day)
{
	am_tagbudget *tb = am_xcalloc(1, sizeof *tb);
	snprintf(tb->day, sizeof tb->day, "%s", day ? day : "");
	return tb;
}

void am_tagbudget_free(am_tagbudget *tb)
{
	free(tb);
}

/* A later day: every tag starts the day at nothing spent; tags that have
 * neither a limit nor a reservation give their place back. */
static void roll(am_tagbudget *tb, const char *day)
{
	if (!day || strcmp(day, tb->day) <= 0)
		return;
	snprintf(tb->day, sizeof tb->day, "%s", day);
	size_t k = 0;
	for (size_t i = 0; i < tb->n; i++) {
		am_tagbudget_view *v = &tb->t[i];
		v->spent_pusd = 0;
		if (v->limit_pusd > 0 || v->held_pusd > 0)
			tb->t[k++] = *v;
	}
	tb->n = k;
}

static am_tagbudget_view *find(am_tagbudget *tb, const char *tag)
{
	for (size_t i = 0; i < tb->n; i++)
		if (!strcmp(tb->t[i].tag, tag))
			return &tb->t[i];
	return NULL;
}

/* The tag's entry, made when there is room (and the tag is valid). */
static am_tagbudget_view *find_or_add(am_tagbudget *tb, const char *tag)
{
	am_tagbudget_view *v = find(tb, tag);
	if (v || tb->n == AM_TAGBUDGET_MAX || am_tag_check(tag, NULL) || strlen(tag) > AM_TAG_MAX)
		return v;
	v = &tb->t[tb->n++];
	memset(v, 0, sizeof *v);
	snprintf(v->tag, sizeof v->tag, "%s", tag);
	return v;
}

int am_tagbudget_set_limit(am_tagbudget *tb, const char *tag, int64_t limit_pusd, am_err *err)
{
	if (!tag || !*tag || am_tag_check(tag, err))
		return tag && *tag ? -1 : am_err_set(err, "tag budget: no tag given");
	if (limit_pusd < 0)
		return am_err_set(err, "tag budget %s: a limit must not be negative", tag);
	am_tagbudget_view *v = limit_pusd ? find_or_add(tb, tag) : find(tb, tag);
	if (!v)
		return limit_pusd ? am_err_set(err, "tag budget: more than %d tags", AM_TAGBUDGET_MAX)
		                  : 0;
	v->limit_pusd = limit_pusd;
	return 0;
}

int am_tagbudget_add_spent(am_tagbudget *tb, const char *day, const char *spent_day,
                           const char *tag, int64_t pusd, am_err *err)
{
	if (pusd < 0)
		return am_err_set(err, "tag budget: negative spend");
	roll(tb, day);
	if (!tag || !*tag || !spent_day || strcmp(spent_day, tb->day) < 0)
		return 0; /* untagged, or a past day */
	am_tagbudget_view *v = find_or_add(tb, tag);
	if (v && __builtin_add_overflow(v->spent_pusd, pusd, &v->spent_pusd))
		return am_err_set(err, "tag budget %s: today's spend exceeds the int64 range", tag);
	return 0;
}

int am_tagbudget_reserve(am_tagbudget *tb, const char *day, const char *tag, int64_t amount_pusd,
                         am_tagbudget_grant *out, am_err *err)
{
	memset(out, 0, sizeof *out);
	if (amount_pusd < 0)
		return am_err_set(err, "tag budget: negative reservation");
	roll(tb, day);
	if (!tag || !*tag)
		return 0;
	am_tagbudget_view *v = find_or_add(tb, tag);
	if (!v)
		return 0; /* no room to track it, hence no limit of its own */
	int64_t sum;
	if (__builtin_add_overflow(v->spent_pusd, v->held_pusd, &sum) ||
	    __builtin_add_overflow(sum, amount_pusd, &sum))
		return am_err_set(err, "tag budget %s: the total exceeds the int64 range", tag);
	if (v->limit_pusd > 0 && amount_pusd > 0 && sum > v->limit_pusd) {
		char lim[32], spent[32], held[32], call[32];
		am_money_format(v->limit_pusd, lim, sizeof lim);
		am_money_format(v->spent_pusd, spent, sizeof spent);
		am_money_format(v->held_pusd, held, sizeof held);
		am_money_format(amount_pusd, call, sizeof call);
		out->blocked = true;
		snprintf(out->why, sizeof out->why,
		         "tag %s's daily limit $%s: spent $%s + held $%s + this call $%s would cross it",
		         tag, lim, spent, held, call);
		return 0;
	}
	v->held_pusd += amount_pusd;
	out->held = true;
	return 0;
}

int am_tagbudget_settle(am_tagbudget *tb, const char *day, const char *tag, int64_t held_pusd,
                        int64_t actual_pusd, am_err *err)
{
	if (actual_pusd < 0 || held_pusd < 0)
		return am_err_set(err, "tag budget: negative amount");
	am_tagbudget_cancel(tb, tag, held_pusd);
	return am_tagbudget_add_spent(tb, day, day, tag, actual_pusd, err);
}

void am_tagbudget_cancel(am_tagbudget *tb, const char *tag, int64_t held_pusd)
{
	am_tagbudget_view *v = tag && *tag ? find(tb, tag) : NULL;
	if (v)
		v->held_pusd = held_pusd < v->held_pusd ? v->held_pusd - held_pusd : 0;
}

static int by_spend(const void *a, const void *b)
{
	const am_tagbudget_view *x = a, *y = b;
	int64_t sx = x->spent_pusd + x->held_pusd, sy = y->spent_pusd + y->held_pusd;
	if (sx != sy)
		return sx > sy ? -1 : 1;
	if ((x->limit_pusd > 0) != (y->limit_pusd > 0))
		return x->limit_pusd > 0 ? -1 : 1;
	return strcmp(x->tag, y->tag);
}

size_t am_tagbudget_top(am_tagbudget *tb, const char *day, am_tagbudget_view *out, size_t n)
{
	roll(tb, day);
	am_tagbudget_view *all = am_xmalloc((tb->n ? tb->n : 1) * sizeof *all);
	memcpy(all, tb->t, tb->n * sizeof *all);
	qsort(all, tb->n, sizeof *all, by_spend);
	size_t k = tb->n < n ? tb->n : n;
	memcpy(out, all, k * sizeof *out);
	free(all);
	return k;
}

void am_tagbudget_get(am_tagbudget *tb, const char *day, const char *tag, am_tagbudget_view *out)
{
	roll(tb, day);
	am_tagbudget_view *v = tag ? find(tb, tag) : NULL;
	if (v) {
		*out = *v;
	} else {
		memset(out, 0, sizeof *out);
		snprintf(out->tag, sizeof out->tag, "%s", tag ? tag : "");
	}
}
