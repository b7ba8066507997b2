/* sim_bucket: exact integer token buckets for the simulator's rate limits.
 * See sim_bucket.h for the unit trick that keeps refill exact. */
#include "sim_bucket.h"

static int64_t clamp(int64_t v, int64_t lo, int64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static int64_t ceil_div(int64_t a, int64_t b)
{
	return a / b + (a % b != 0);
}

/* Brings the level up to now. The step is capped at what fills the bucket,
 * so limit × dt never overflows. */
static void refill(am_simbucket *b, int64_t now_ns)
{
	if (now_ns <= b->last_ns)
		return;
	int64_t dt = now_ns - b->last_ns;
	b->last_ns = now_ns;
	int64_t need = b->cap * AM_SIMBUCKET_UNIT - b->level;
	if (need <= 0)
		return;
	if (dt >= ceil_div(need, b->limit))
		b->level = b->cap * AM_SIMBUCKET_UNIT;
	else
		b->level += b->limit * dt;
}

void am_simbucket_init(am_simbucket *b, int64_t limit, int64_t cap, int64_t now_ns)
{
	b->limit = clamp(limit, 0, AM_SIMBUCKET_MAX);
	b->cap = cap > 0 ? clamp(cap, 1, AM_SIMBUCKET_MAX) : b->limit;
	b->level = b->cap * AM_SIMBUCKET_UNIT;
	b->last_ns = now_ns;
}

void am_simbucket_set(am_simbucket *b, int64_t limit, int64_t cap, int64_t now_ns)
{
	if (b->limit == 0) {
		am_simbucket_init(b, limit, cap, now_ns);
		return;
	}
	refill(b, now_ns);
	int64_t level = b->level;
	am_simbucket_init(b, limit, cap, now_ns > b->last_ns ? now_ns : b->last_ns);
	if (level < b->level)
		b->level = level;
}

int64_t am_simbucket_wait_ns(am_simbucket *b, int64_t n, int64_t now_ns)
{
	if (b->limit == 0 || n <= 0)
		return 0;
	if (n > b->cap)
		return AM_SIMBUCKET_NEVER;
	refill(b, now_ns);
	int64_t deficit = n * AM_SIMBUCKET_UNIT - b->level;
	return deficit <= 0 ? 0 : ceil_div(deficit, b->limit);
}

void am_simbucket_take(am_simbucket *b, int64_t n, int64_t now_ns)
{
	if (b->limit == 0 || n <= 0)
		return;
	refill(b, now_ns);
	int64_t units = (n > b->cap ? b->cap : n) * AM_SIMBUCKET_UNIT;
	b->level = b->level > units ? b->level - units : 0;
}

void am_simbucket_give(am_simbucket *b, int64_t n, int64_t now_ns)
{
	if (b->limit == 0 || n <= 0)
		return;
	refill(b, now_ns);
	int64_t room = b->cap * AM_SIMBUCKET_UNIT - b->level;
	int64_t units = (n > b->cap ? b->cap : n) * AM_SIMBUCKET_UNIT;
	b->level += units < room ? units : room;
}

int64_t am_simbucket_remaining(am_simbucket *b, int64_t now_ns)
{
	if (b->limit == 0)
		return 0;
	refill(b, now_ns);
	return b->level / AM_SIMBUCKET_UNIT;
}

int64_t am_simbucket_full_in_ns(am_simbucket *b, int64_t now_ns)
{
	if (b->limit == 0)
		return 0;
	refill(b, now_ns);
	return ceil_div(b->cap * AM_SIMBUCKET_UNIT - b->level, b->limit);
}
