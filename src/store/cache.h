/* cache: the response cache. Identical requests get the stored answer
 * instead of a paid call.
 *
 * Key. SHA-256 of the canonical JSON of exactly the request fields that
 * change the answer, when present: model, system, messages, max_tokens,
 * temperature, top_p, top_k, stop_sequences, tools. Canonical = jansson's
 * json_dumps with JSON_SORT_KEYS | JSON_COMPACT (sorted keys at every depth,
 * no whitespace); a real with an integral value (1.0) is written as that
 * integer (1), so equal numbers give equal keys. stream, metadata and every
 * other field are ignored. Different spellings of the same content (a
 * string vs a one-block array, an alias vs a dated model id) give different
 * keys: a miss, never a wrong answer.
 *
 * Storage. Table cache_entries in the SQLite database the caller passes
 * (the ledger creates it, with an index on last_used_ns). An entry holds the
 * answer as JSON {"model","text","stop_reason","stop_sequence","usage"} so a
 * streamed answer can be replayed as a stream, plus the usage and the cost
 * of the original call in columns; bytes = the length of that JSON. Entries
 * expire after the TTL (default 24 h); a get on an expired entry is a miss
 * and deletes it. A put that would exceed max_bytes or max_entries first
 * deletes expired entries (through the ledger's index on expires_ns), then
 * the least recently used ones; an answer larger than max_bytes by itself is
 * not stored. Only text answers belong here (the caller does not cache
 * tool_use or refusals).
 *
 * Switches. The cache can be disabled globally (get is then "off", not a
 * miss, and put stores nothing); bypass per request (--no-cache) is the
 * caller's: it skips both get and put.
 *
 * Stats (am_cache_stats): hits, misses, dollars and tokens saved count since
 * am_cache_open; entries and bytes are the table's, kept incrementally. A
 * put first asks SQLite whether another connection (an `aimeter ask` beside
 * the dashboard) has committed since the totals were read, and re-reads
 * them if so, so the caps hold across processes; between puts the figures
 * may lag such writers until am_cache_refresh.
 *
 * Time: now is wall ns since the epoch, passed in.
 * Threads: an am_cache belongs to the thread that owns its sqlite3
 * connection (the worker); it has no lock. */
#ifndef AIMETER_CACHE_H
#define AIMETER_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <sqlite3.h>

#include "config.h"
#include "err.h"
#include "usage.h"

#define AM_CACHE_KEY_LEN 32

/* The cache's counters, as its observers see them. */
typedef struct am_cache_counts {
	bool enabled;
	int64_t hits, misses, entries, bytes;
	int64_t saved_pusd, saved_tokens;
	int64_t ttl_s;
} am_cache_counts;

typedef struct am_cache_config {
	bool enabled;
	int64_t ttl_s;         /* >= 1 */
	int64_t max_bytes;     /* 0 = no byte cap */
	int64_t max_entries;   /* 0 = no entry cap */
} am_cache_config;

int am_cache_config_check(const am_cache_config *cfg, am_err *err);

/* The cache part of the configuration (cache.*: on, 24 h, 256 MiB and
 * 100,000 entries by default), checked. */
int am_cache_config_from(const am_config *cfg, am_cache_config *out, am_err *err);

/* The configuration's defaults (am_config_init), for callers without an
 * am_config. */
void am_cache_config_default(am_cache_config *out);

/* The request key. body is a Messages request; it must be an object with
 * "model" and "messages". -1 + err otherwise. Pure, thread-safe. */
int am_cache_key(const json_t *body, uint8_t key[AM_CACHE_KEY_LEN], am_err *err);

/* The canonical JSON the key hashes (for tests and `--explain`); heap, free
 * with free(). NULL + err as above. */
char *am_cache_canonical(const json_t *body, am_err *err);

/* Lower-case hex of a key into hex[65]. */
void am_cache_key_hex(const uint8_t key[AM_CACHE_KEY_LEN], char hex[2 * AM_CACHE_KEY_LEN + 1]);

/* A stored answer. Strings are heap-owned by the struct on get. */
typedef struct am_cache_answer {
	char model[128];         /* the model that answered */
	char stop_reason[32];    /* "end_turn", "max_tokens", ... or "" */
	char *stop_sequence;     /* the matched stop sequence or NULL */
	char *text;              /* the answer text, UTF-8 */
	am_usage usage;          /* of the original call */
	int64_t cost_pusd;       /* of the original call: what a hit saves */
	int64_t created_ns, expires_ns, hits; /* filled by get (hits after this one) */
} am_cache_answer;

void am_cache_answer_free(am_cache_answer *a);

/* An answer in the form the table stores (model, text, stop reason and
 * sequence, usage; not the cost), for a second level elsewhere (a shared
 * Redis). encode: heap JSON, NULL when the text is not valid UTF-8. decode
 * fills all of that (free with am_cache_answer_free); -1 when corrupt. */
char *am_cache_answer_encode(const am_cache_answer *a);
int am_cache_answer_decode(const char *json, am_cache_answer *out);

typedef struct am_cache am_cache;

/* Opens the cache on db (not owned; it must outlive the cache and already
 * hold cache_entries). Reads the current entries and bytes. -1 + err when
 * the table is missing or a statement cannot be prepared. */
int am_cache_open(am_cache **out, sqlite3 *db, const am_cache_config *cfg, am_err *err);
void am_cache_close(am_cache *c);

typedef enum am_cache_result { AM_CACHE_MISS, AM_CACHE_HIT, AM_CACHE_OFF } am_cache_result;

/* Looks key up at now. On a hit fills *out (free it with
 * am_cache_answer_free), sets last_used_ns = now and hits + 1, and counts the
 * saving; an expired entry is deleted and is a miss. -1 + err on a database
 * error or a corrupt stored answer (which is deleted); *res is MISS then. */
int am_cache_get(am_cache *c, const uint8_t key[AM_CACHE_KEY_LEN], int64_t now_ns,
                 am_cache_answer *out, am_cache_result *res, am_err *err);

/* Stores (or replaces) the answer for key at now, expiring at now + TTL,
 * evicting as described above. *stored (may be NULL) says whether it was
 * kept (false when disabled or larger than max_bytes). -1 + err on a database
 * error, with the table unchanged. */
int am_cache_put(am_cache *c, const uint8_t key[AM_CACHE_KEY_LEN], const am_cache_answer *a,
                 int64_t now_ns, bool *stored, am_err *err);

/* Deletes every entry (AM_CMD_CACHE_CLEAR). The session counters stay. */
int am_cache_clear(am_cache *c, am_err *err);

/* Deletes expired entries; returns how many, -1 + err. */
int am_cache_purge_expired(am_cache *c, int64_t now_ns, am_err *err);

/* AM_CMD_CACHE_ON / OFF. */
void am_cache_set_enabled(am_cache *c, bool on);
bool am_cache_enabled(const am_cache *c);

/* Re-reads entries and bytes from the table. */
int am_cache_refresh(am_cache *c, am_err *err);

/* Fills *out (all of am_cache_counts). saved_tokens counts every token of the
 * original call: input, cache writes, cache reads and output. */
void am_cache_stats(const am_cache *c, am_cache_counts *out);

#endif
