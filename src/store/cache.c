/* cache: request hashing and the SQLite-backed answer store with TTL and
 * LRU eviction under a byte and entry cap.
 *
 * The key hashes a canonical rendering of only the answer-changing fields,
 * so two clients that order keys differently, pretty-print, stream or tag
 * metadata still share entries. Writes that evict run inside a savepoint:
 * either the eviction and the insert both happen or neither does, and the
 * in-memory totals are restored with the rollback. */
#include "cache.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <pthread.h>

#define NS_PER_S 1000000000LL

/* ---- config ------------------------------------------------------------------ */

int am_cache_config_check(const am_cache_config *cfg, am_err *err)
{
	if (cfg->ttl_s < 1 || cfg->ttl_s > INT64_MAX / NS_PER_S / 2)
		return am_err_set(err, "cache: ttl_s %lld is out of range", (long long)cfg->ttl_s);
	if (cfg->max_bytes < 0 || cfg->max_entries < 0)
		return am_err_set(err, "cache: caps must not be negative (0 = none)");
	return 0;
}

int am_cache_config_from(const am_config *cfg, am_cache_config *out, am_err *err)
{
	memset(out, 0, sizeof *out);
	out->enabled = cfg->cache.enabled;
	out->ttl_s = cfg->cache.ttl_s;
	out->max_bytes = cfg->cache.max_bytes;
	out->max_entries = cfg->cache.max_entries;
	return am_cache_config_check(out, err);
}

void am_cache_config_default(am_cache_config *out)
{
	am_config c;
	am_config_init(&c);
	am_cache_config_from(&c, out, NULL); /* the defaults pass: see test_cache */
}

/* ---- key --------------------------------------------------------------------- */

static const char *const key_fields[] = {"model", "system", "messages", "max_tokens",
                                         "temperature", "top_p", "top_k", "stop_sequences",
                                         "tools"};

/* A copy of v in which every real with an integral value is an integer. */
static json_t *normalise(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		json_t *o = json_object();
		const char *k;
		json_t *x;
		json_object_foreach((json_t *)(uintptr_t)v, k, x)
			json_object_set_new(o, k, normalise(x));
		return o;
	}
	case JSON_ARRAY: {
		json_t *a = json_array();
		for (size_t i = 0; i < json_array_size(v); i++)
			json_array_append_new(a, normalise(json_array_get(v, i)));
		return a;
	}
	case JSON_REAL: {
		double d = json_real_value(v);
		/* 2^53: beyond it a double no longer tells integers apart. */
		if (d == floor(d) && fabs(d) <= 9007199254740992.0)
			return json_integer((json_int_t)d);
		return json_real(d);
	}
	default:
		return json_deep_copy(v);
	}
}

static bool has_integral_real(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *k;
		json_t *x;
		json_object_foreach((json_t *)(uintptr_t)v, k, x)
			if (has_integral_real(x))
				return true;
		return false;
	}
	case JSON_ARRAY:
		for (size_t i = 0; i < json_array_size(v); i++)
			if (has_integral_real(json_array_get(v, i)))
				return true;
		return false;
	case JSON_REAL:
		return json_real_value(v) == floor(json_real_value(v));
	default:
		return false;
	}
}

char *am_cache_canonical(const json_t *body, am_err *err)
{
	if (!json_is_object(body) || !json_is_string(json_object_get(body, "model")) ||
	    !json_is_array(json_object_get(body, "messages"))) {
		am_err_set(err, "cache: the request needs a \"model\" string and a \"messages\" array");
		return NULL;
	}
	json_t *sel = json_object();
	for (size_t i = 0; i < sizeof key_fields / sizeof key_fields[0]; i++) {
		json_t *v = json_object_get(body, key_fields[i]);
		if (v) /* share the value unless a real has to be rewritten: no copy */
			json_object_set_new(sel, key_fields[i],
			                    has_integral_real(v) ? normalise(v) : json_incref(v));
	}
	char *s = json_dumps(sel, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(sel);
	if (!s)
		am_err_set(err, "cache: cannot serialise the request");
	return s;
}

/* SHA-256 fetched once: EVP_sha256() makes EVP_Digest look the algorithm
 * up in the provider store on every call, which cost more than hashing a
 * short request. NULL if the fetch failed (then EVP_sha256() is used). */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

int am_cache_key(const json_t *body, uint8_t key[AM_CACHE_KEY_LEN], am_err *err)
{
	char *s = am_cache_canonical(body, err);
	if (!s)
		return -1;
	unsigned int len = 0;
	pthread_once(&sha256_once, sha256_fetch);
	int ok = EVP_Digest(s, strlen(s), key, &len, sha256_md ? sha256_md : EVP_sha256(), NULL);
	free(s);
	if (!ok || len != AM_CACHE_KEY_LEN)
		return am_err_set(err, "cache: SHA-256 failed");
	return 0;
}

void am_cache_key_hex(const uint8_t key[AM_CACHE_KEY_LEN], char hex[2 * AM_CACHE_KEY_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	for (int i = 0; i < AM_CACHE_KEY_LEN; i++) {
		hex[2 * i] = digits[key[i] >> 4];
		hex[2 * i + 1] = digits[key[i] & 15];
	}
	hex[2 * AM_CACHE_KEY_LEN] = '\0';
}

void am_cache_answer_free(am_cache_answer *a)
{
	if (a) {
		free(a->text);
		free(a->stop_sequence);
		a->text = a->stop_sequence = NULL;
	}
}

/* ---- the store ------------------------------------------------------------------ */

enum { ST_GET, ST_TOUCH, ST_DEL, ST_BYTES, ST_PUT, ST_TOTALS, ST_LRU, ST_EXPIRED, ST_PURGE,
       ST_CLEAR, ST_VERSION, ST_N };

static const char *const sql[ST_N] = {
	[ST_GET] = "SELECT model, response, input_tokens, output_tokens, cache_write_5m, "
	           "cache_write_1h, cache_read, cost_pusd, bytes, created_ns, expires_ns, hits "
	           "FROM cache_entries WHERE key = ?1",
	[ST_TOUCH] = "UPDATE cache_entries SET last_used_ns = ?2, hits = hits + 1 WHERE key = ?1",
	[ST_DEL] = "DELETE FROM cache_entries WHERE key = ?1",
	[ST_BYTES] = "SELECT bytes FROM cache_entries WHERE key = ?1",
	[ST_PUT] = "INSERT OR REPLACE INTO cache_entries(key, model, response, input_tokens, "
	           "output_tokens, cache_write_5m, cache_write_1h, cache_read, cost_pusd, bytes, "
	           "created_ns, last_used_ns, expires_ns, hits) "
	           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?12, 0)",
	[ST_TOTALS] = "SELECT count(*), coalesce(sum(bytes), 0) FROM cache_entries",
	[ST_LRU] = "SELECT key, bytes FROM cache_entries WHERE key != ?1 "
	           "ORDER BY last_used_ns LIMIT 64",
	[ST_EXPIRED] = "SELECT count(*), coalesce(sum(bytes), 0) FROM cache_entries "
	               "WHERE expires_ns <= ?1",
	[ST_PURGE] = "DELETE FROM cache_entries WHERE expires_ns <= ?1",
	[ST_CLEAR] = "DELETE FROM cache_entries",
	[ST_VERSION] = "PRAGMA data_version",
};

struct am_cache {
	sqlite3 *db;
	am_cache_config cfg;
	sqlite3_stmt *st[ST_N];
	int64_t entries, bytes;            /* the table's, kept up to date incrementally */
	int64_t data_version;              /* at the last refresh: others' commits change it */
	int64_t hits, misses, saved_pusd, saved_tokens; /* this session */
};

static int db_fail(am_cache *c, am_err *err, const char *what)
{
	return am_err_set(err, "cache: %s: %s", what, sqlite3_errmsg(c->db));
}

/* Runs a statement that returns no rows, then resets it. */
static int run(am_cache *c, sqlite3_stmt *st, am_err *err, const char *what)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE)
		return db_fail(c, err, what);
	return 0;
}

static void finish(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* PRAGMA data_version: changes when another connection commits. */
static int data_version(am_cache *c, int64_t *out, am_err *err)
{
	sqlite3_stmt *st = c->st[ST_VERSION];
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	finish(st);
	return rc == SQLITE_ROW ? 0 : db_fail(c, err, "reading data_version");
}

int am_cache_refresh(am_cache *c, am_err *err)
{
	if (data_version(c, &c->data_version, err) < 0)
		return -1;
	sqlite3_stmt *st = c->st[ST_TOTALS];
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		c->entries = sqlite3_column_int64(st, 0);
		c->bytes = sqlite3_column_int64(st, 1);
	}
	finish(st);
	return rc == SQLITE_ROW ? 0 : db_fail(c, err, "counting entries");
}

int am_cache_open(am_cache **out, sqlite3 *db, const am_cache_config *cfg, am_err *err)
{
	if (am_cache_config_check(cfg, err) < 0)
		return -1;
	am_cache *c = am_xcalloc(1, sizeof *c);
	c->db = db;
	c->cfg = *cfg;
	for (int i = 0; i < ST_N; i++) {
		if (sqlite3_prepare_v2(db, sql[i], -1, &c->st[i], NULL) != SQLITE_OK) {
			db_fail(c, err, "preparing statements (is the cache_entries table there?)");
			am_cache_close(c);
			return -1;
		}
	}
	if (am_cache_refresh(c, err) < 0) {
		am_cache_close(c);
		return -1;
	}
	*out = c;
	return 0;
}

void am_cache_close(am_cache *c)
{
	if (!c)
		return;
	for (int i = 0; i < ST_N; i++)
		sqlite3_finalize(c->st[i]);
	free(c);
}

void am_cache_set_enabled(am_cache *c, bool on)
{
	c->cfg.enabled = on;
}

bool am_cache_enabled(const am_cache *c)
{
	return c->cfg.enabled;
}

static int64_t tokens_of(const am_usage *u)
{
	return am_usage_total_input(u) + u->output_tokens;
}

static int delete_key(am_cache *c, const uint8_t *key, int64_t bytes, am_err *err)
{
	sqlite3_stmt *st = c->st[ST_DEL];
	sqlite3_bind_blob(st, 1, key, AM_CACHE_KEY_LEN, SQLITE_STATIC);
	if (run(c, st, err, "deleting an entry") < 0)
		return -1;
	if (sqlite3_changes(c->db) > 0) {
		c->entries--;
		c->bytes -= bytes;
	}
	return 0;
}

/* Fills text, stop reason and sequence from the stored JSON. */
static int parse_answer(const char *json, am_cache_answer *out)
{
	json_t *j = json_loads(json, 0, NULL);
	const json_t *text = json_object_get(j, "text");
	const json_t *reason = json_object_get(j, "stop_reason");
	const json_t *seq = json_object_get(j, "stop_sequence");
	int rc = -1;
	if (json_is_string(text)) {
		out->text = am_xstrdup(json_string_value(text));
		if (json_is_string(reason))
			snprintf(out->stop_reason, sizeof out->stop_reason, "%s",
			         json_string_value(reason));
		if (json_is_string(seq))
			out->stop_sequence = am_xstrdup(json_string_value(seq));
		rc = 0;
	}
	json_decref(j);
	return rc;
}

int am_cache_get(am_cache *c, const uint8_t key[AM_CACHE_KEY_LEN], int64_t now,
                 am_cache_answer *out, am_cache_result *res, am_err *err)
{
	memset(out, 0, sizeof *out);
	*res = AM_CACHE_MISS;
	if (!c->cfg.enabled) {
		*res = AM_CACHE_OFF;
		return 0;
	}
	sqlite3_stmt *st = c->st[ST_GET];
	sqlite3_bind_blob(st, 1, key, AM_CACHE_KEY_LEN, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		finish(st);
		c->misses++;
		return 0;
	}
	if (rc != SQLITE_ROW) {
		db_fail(c, err, "looking up an entry");
		finish(st);
		return -1;
	}
	const unsigned char *model = sqlite3_column_text(st, 0);
	const unsigned char *response = sqlite3_column_text(st, 1);
	snprintf(out->model, sizeof out->model, "%s", model ? (const char *)model : "");
	int parsed = response ? parse_answer((const char *)response, out) : -1;
	out->usage.input_tokens = sqlite3_column_int64(st, 2);
	out->usage.output_tokens = sqlite3_column_int64(st, 3);
	out->usage.cache_write_5m = sqlite3_column_int64(st, 4);
	out->usage.cache_write_1h = sqlite3_column_int64(st, 5);
	out->usage.cache_read = sqlite3_column_int64(st, 6);
	out->cost_pusd = sqlite3_column_int64(st, 7);
	int64_t bytes = sqlite3_column_int64(st, 8);
	out->created_ns = sqlite3_column_int64(st, 9);
	out->expires_ns = sqlite3_column_int64(st, 10);
	out->hits = sqlite3_column_int64(st, 11) + 1;
	finish(st);

	if (out->expires_ns <= now || parsed < 0) {
		am_cache_answer_free(out);
		c->misses++;
		if (delete_key(c, key, bytes, err) < 0)
			return -1;
		if (parsed < 0)
			return am_err_set(err, "cache: a stored answer was corrupt and is deleted");
		return 0;
	}
	st = c->st[ST_TOUCH];
	sqlite3_bind_blob(st, 1, key, AM_CACHE_KEY_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	if (run(c, st, err, "marking a hit") < 0) {
		am_cache_answer_free(out);
		return -1;
	}
	c->hits++;
	c->saved_pusd += out->cost_pusd;
	c->saved_tokens += tokens_of(&out->usage);
	*res = AM_CACHE_HIT;
	return 0;
}

static char *answer_json(const am_cache_answer *a)
{
	const am_usage *u = &a->usage;
	json_t *j = json_pack("{s:s, s:s, s:s?, s:s?, s:{s:I, s:I, s:I, s:I, s:{s:I, s:I}}}",
	                      "model", a->model, "text", a->text ? a->text : "",
	                      "stop_reason", a->stop_reason[0] ? a->stop_reason : NULL,
	                      "stop_sequence", a->stop_sequence, "usage",
	                      "input_tokens", (json_int_t)u->input_tokens,
	                      "output_tokens", (json_int_t)u->output_tokens,
	                      "cache_creation_input_tokens",
	                      (json_int_t)(u->cache_write_5m + u->cache_write_1h),
	                      "cache_read_input_tokens", (json_int_t)u->cache_read,
	                      "cache_creation",
	                      "ephemeral_5m_input_tokens", (json_int_t)u->cache_write_5m,
	                      "ephemeral_1h_input_tokens", (json_int_t)u->cache_write_1h);
	if (!j)
		return NULL; /* invalid UTF-8 in the text or model */
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return s;
}

char *am_cache_answer_encode(const am_cache_answer *a)
{
	return answer_json(a);
}

int am_cache_answer_decode(const char *json, am_cache_answer *out)
{
	memset(out, 0, sizeof *out);
	if (parse_answer(json, out))
		return -1;
	json_t *j = json_loads(json, 0, NULL);
	const json_t *u = json_object_get(j, "usage");
	const json_t *cc = json_object_get(u, "cache_creation");
	snprintf(out->model, sizeof out->model, "%s",
	         json_is_string(json_object_get(j, "model"))
	             ? json_string_value(json_object_get(j, "model"))
	             : "");
	out->usage.input_tokens = json_integer_value(json_object_get(u, "input_tokens"));
	out->usage.output_tokens = json_integer_value(json_object_get(u, "output_tokens"));
	out->usage.cache_read = json_integer_value(json_object_get(u, "cache_read_input_tokens"));
	out->usage.cache_write_5m = json_integer_value(json_object_get(cc, "ephemeral_5m_input_tokens"));
	out->usage.cache_write_1h = json_integer_value(json_object_get(cc, "ephemeral_1h_input_tokens"));
	json_decref(j);
	return 0;
}

/* Whether key has an entry, and its size. */
static int lookup_bytes(am_cache *c, const uint8_t *key, bool *exists, int64_t *bytes,
                        am_err *err)
{
	sqlite3_stmt *st = c->st[ST_BYTES];
	sqlite3_bind_blob(st, 1, key, AM_CACHE_KEY_LEN, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	*exists = rc == SQLITE_ROW;
	*bytes = *exists ? sqlite3_column_int64(st, 0) : 0;
	finish(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(c, err, "looking up an entry");
	return 0;
}

static bool over_caps(const am_cache *c, int64_t entries, int64_t bytes)
{
	return (c->cfg.max_entries > 0 && entries > c->cfg.max_entries) ||
	       (c->cfg.max_bytes > 0 && bytes > c->cfg.max_bytes);
}

/* Both statements walk the ledger's index on expires_ns: the cost follows
 * the number of expired entries, not the size of the table. */
int am_cache_purge_expired(am_cache *c, int64_t now, am_err *err)
{
	sqlite3_stmt *st = c->st[ST_EXPIRED];
	sqlite3_bind_int64(st, 1, now);
	int rc = sqlite3_step(st);
	int64_t n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	int64_t bytes = rc == SQLITE_ROW ? sqlite3_column_int64(st, 1) : 0;
	finish(st);
	if (rc != SQLITE_ROW)
		return db_fail(c, err, "counting expired entries");
	if (n == 0)
		return 0;
	st = c->st[ST_PURGE];
	sqlite3_bind_int64(st, 1, now);
	if (run(c, st, err, "deleting expired entries") < 0)
		return -1;
	c->entries -= n;
	c->bytes -= bytes;
	return n > INT32_MAX ? INT32_MAX : (int)n;
}

/* Makes room for an entry of `bytes` under `key` (which is replaced if it
 * exists, so it is never a victim). Called inside the put savepoint.
 * Full-table work is kept off the common path: the totals are re-read only
 * when another connection has committed since the last read (a cheap
 * pragma tells), and the sweep for expired entries walks the ledger's index
 * on expires_ns. */
static int make_room(am_cache *c, const uint8_t *key, bool *exists, int64_t *old_bytes,
                     int64_t bytes, int64_t now, am_err *err)
{
#define AFTER_PUT_OVER() \
	over_caps(c, c->entries + (*exists ? 0 : 1), c->bytes - *old_bytes + bytes)
	int64_t version = c->data_version;
	if (data_version(c, &version, err) < 0)
		return -1;
	if (version != c->data_version && am_cache_refresh(c, err) < 0)
		return -1;
	if (!AFTER_PUT_OVER())
		return 0;
	int purged = am_cache_purge_expired(c, now, err);
	if (purged < 0)
		return -1;
	/* the sweep may have taken the entry being replaced */
	if (purged > 0 && *exists && lookup_bytes(c, key, exists, old_bytes, err) < 0)
		return -1;
	sqlite3_stmt *st;
	while (AFTER_PUT_OVER()) {
		uint8_t victims[64][AM_CACHE_KEY_LEN];
		int64_t vbytes[64];
		int n = 0, rc = SQLITE_DONE;
		st = c->st[ST_LRU];
		sqlite3_bind_blob(st, 1, key, AM_CACHE_KEY_LEN, SQLITE_STATIC);
		while (n < 64 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
			if (sqlite3_column_bytes(st, 0) == AM_CACHE_KEY_LEN) {
				memcpy(victims[n], sqlite3_column_blob(st, 0), AM_CACHE_KEY_LEN);
				vbytes[n++] = sqlite3_column_int64(st, 1);
			}
		}
		finish(st);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return db_fail(c, err, "choosing entries to evict");
		if (n == 0)
			break; /* nothing else left to evict */
		for (int i = 0; i < n && AFTER_PUT_OVER(); i++)
			if (delete_key(c, victims[i], vbytes[i], err) < 0)
				return -1;
	}
#undef AFTER_PUT_OVER
	return 0;
}

static int exec(am_cache *c, const char *s, am_err *err)
{
	if (sqlite3_exec(c->db, s, NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(c, err, s);
	return 0;
}

int am_cache_put(am_cache *c, const uint8_t key[AM_CACHE_KEY_LEN], const am_cache_answer *a,
                 int64_t now, bool *stored, am_err *err)
{
	if (stored)
		*stored = false;
	if (!c->cfg.enabled)
		return 0;
	char *json = answer_json(a);
	if (!json)
		return am_err_set(err, "cache: the answer is not valid UTF-8");
	int64_t bytes = (int64_t)strlen(json);
	if (c->cfg.max_bytes > 0 && bytes > c->cfg.max_bytes) {
		free(json);
		return 0;
	}
	int64_t entries0 = c->entries, bytes0 = c->bytes;
	if (exec(c, "SAVEPOINT am_cache_put", err) < 0) {
		free(json);
		return -1;
	}

	bool exists;
	int64_t old_bytes;
	if (lookup_bytes(c, key, &exists, &old_bytes, err) < 0 ||
	    make_room(c, key, &exists, &old_bytes, bytes, now, err) < 0)
		goto fail;

	sqlite3_stmt *st = c->st[ST_PUT];
	sqlite3_bind_blob(st, 1, key, AM_CACHE_KEY_LEN, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, a->model, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, json, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, a->usage.input_tokens);
	sqlite3_bind_int64(st, 5, a->usage.output_tokens);
	sqlite3_bind_int64(st, 6, a->usage.cache_write_5m);
	sqlite3_bind_int64(st, 7, a->usage.cache_write_1h);
	sqlite3_bind_int64(st, 8, a->usage.cache_read);
	sqlite3_bind_int64(st, 9, a->cost_pusd);
	sqlite3_bind_int64(st, 10, bytes);
	sqlite3_bind_int64(st, 11, now);
	sqlite3_bind_int64(st, 12, now + c->cfg.ttl_s * NS_PER_S);
	if (run(c, st, err, "storing an entry") < 0)
		goto fail;
	if (exec(c, "RELEASE am_cache_put", err) < 0)
		goto fail;
	c->entries += exists ? 0 : 1;
	c->bytes += bytes - old_bytes;
	free(json);
	if (stored)
		*stored = true;
	return 0;
fail:
	sqlite3_exec(c->db, "ROLLBACK TO am_cache_put; RELEASE am_cache_put", NULL, NULL, NULL);
	c->entries = entries0;
	c->bytes = bytes0;
	free(json);
	return -1;
}

int am_cache_clear(am_cache *c, am_err *err)
{
	if (run(c, c->st[ST_CLEAR], err, "clearing") < 0)
		return -1;
	c->entries = c->bytes = 0;
	return 0;
}


void am_cache_stats(const am_cache *c, am_cache_counts *out)
{
	out->enabled = c->cfg.enabled;
	out->hits = c->hits;
	out->misses = c->misses;
	out->entries = c->entries;
	out->bytes = c->bytes;
	out->saved_pusd = c->saved_pusd;
	out->saved_tokens = c->saved_tokens;
	out->ttl_s = c->cfg.ttl_s;
}
