/* sim_cache: a small bounded table of cached prompt prefixes with expiry,
 * and the read-then-write rule that turns a prompt into cache usage.
 * A linear table is enough: the simulator caches at most a few thousand
 * prefixes and only requests with cache_control look here. */
#include "sim_cache.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

void am_simcache_init(am_simcache *c, size_t cap)
{
	c->cap = cap ? cap : 1;
	c->n = 0;
	c->e = am_xcalloc(c->cap, sizeof *c->e);
}

void am_simcache_free(am_simcache *c)
{
	free(c->e);
	memset(c, 0, sizeof *c);
}

static am_simcache_entry *find(am_simcache *c, uint64_t key, int64_t now_ns)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->e[i].key == key && c->e[i].expires_ns > now_ns)
			return &c->e[i];
	return NULL;
}

static void put(am_simcache *c, uint64_t key, int64_t expires_ns, int64_t now_ns)
{
	am_simcache_entry *e = NULL;
	for (size_t i = 0; i < c->n && !e; i++)
		if (c->e[i].key == key)
			e = &c->e[i];
	if (!e && c->n < c->cap)
		e = &c->e[c->n++];
	if (!e) {
		e = &c->e[0];
		for (size_t i = 1; i < c->n && e->expires_ns > now_ns; i++)
			if (c->e[i].expires_ns < e->expires_ns)
				e = &c->e[i];
	} else if (e->key == key && e->expires_ns > expires_ns) {
		return; /* a live longer-lived entry stays as it is */
	}
	e->key = key;
	e->expires_ns = expires_ns;
}

static uint64_t key_of(uint64_t scope, uint64_t hash)
{
	return am_simtext_mix(scope ^ am_simtext_mix(hash));
}

void am_simcache_apply(am_simcache *c, const am_simtext_prompt *p, uint64_t scope,
                       int64_t min_tokens, int64_t now_ns, bool commit, am_simcache_use *out)
{
	memset(out, 0, sizeof *out);
	int hit = -1;
	for (int k = p->n_bp - 1; k >= 0 && hit < 0; k--) {
		if (p->bp[k].tokens < min_tokens)
			continue;
		am_simcache_entry *e = find(c, key_of(scope, p->bp[k].hash), now_ns);
		if (e && commit) {
			int64_t ttl =
			    p->bp[k].ttl_1h ? AM_SIMCACHE_TTL_1H_NS : AM_SIMCACHE_TTL_5M_NS;
			if (e->expires_ns < now_ns + ttl)
				e->expires_ns = now_ns + ttl;
		}
		if (e)
			hit = k;
	}
	int64_t done = hit >= 0 ? p->bp[hit].tokens : 0;
	out->read = done;
	for (int k = hit + 1; k < p->n_bp; k++) {
		const am_simtext_bp *bp = &p->bp[k];
		if (bp->tokens < min_tokens)
			continue;
		int64_t ttl = bp->ttl_1h ? AM_SIMCACHE_TTL_1H_NS : AM_SIMCACHE_TTL_5M_NS;
		if (commit)
			put(c, key_of(scope, bp->hash), now_ns + ttl, now_ns);
		if (bp->tokens > done) {
			*(bp->ttl_1h ? &out->write_1h : &out->write_5m) += bp->tokens - done;
			done = bp->tokens;
		}
	}
}
