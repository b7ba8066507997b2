/* test_cache: the request key's canonical form, and the store's TTL, LRU
 * eviction under the caps, switches and stats, on an in-memory database. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache.h"
#include "check_run.h"
#include "config.h"
#include "ledger.h"
#include "tmpdir.h"

#define S_NS 1000000000LL
#define T0 (1741953600LL * S_NS)

/* ---- key ------------------------------------------------------------------ */

static void key_of(const char *json, uint8_t key[AM_CACHE_KEY_LEN])
{
	json_error_t jerr;
	json_t *j = json_loads(json, 0, &jerr);
	ck_assert_msg(j != NULL, "%s: %s", json, jerr.text);
	am_err err = {0};
	ck_assert_msg(am_cache_key(j, key, &err) == 0, "%s", err.msg);
	json_decref(j);
}

static bool same_key(const char *a, const char *b)
{
	uint8_t ka[AM_CACHE_KEY_LEN], kb[AM_CACHE_KEY_LEN];
	key_of(a, ka);
	key_of(b, kb);
	return memcmp(ka, kb, sizeof ka) == 0;
}

START_TEST(key_is_sha256_of_the_canonical_form)
{
	const char *body = "{ \"model\" : \"claude-haiku-4-5\",\n  \"max_tokens\": 10,\n"
	                   "  \"messages\": [ {\"role\": \"user\", \"content\": \"hi\"} ],\n"
	                   "  \"stream\": true, \"metadata\": {\"user_id\": \"u1\"} }";
	json_t *j = json_loads(body, 0, NULL);
	char *canon = am_cache_canonical(j, NULL);
	ck_assert_str_eq(canon, "{\"max_tokens\":10,\"messages\":[{\"content\":\"hi\",\"role\":"
	                        "\"user\"}],\"model\":\"claude-haiku-4-5\"}");
	free(canon);
	json_decref(j);
	uint8_t key[AM_CACHE_KEY_LEN];
	char hex[2 * AM_CACHE_KEY_LEN + 1];
	key_of(body, key);
	am_cache_key_hex(key, hex);
	/* sha256 of the canonical string above (computed independently) */
	ck_assert_str_eq(hex, "45633427d0f23f61a1aadc811192af695b1ba05dd4f915e63b94385b6548bf69");
}
END_TEST

START_TEST(key_order_and_whitespace_do_not_matter)
{
	ck_assert(same_key(
		"{\"model\":\"m\",\"max_tokens\":5,\"system\":[{\"type\":\"text\",\"text\":\"s\"}],"
		"\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"q\"}]}],"
		"\"tools\":[{\"name\":\"t\",\"input_schema\":{\"type\":\"object\",\"properties\":{}}}]}",
		"{\n\t\"tools\" : [ { \"input_schema\" : { \"properties\" : { }, \"type\" : \"object\" },"
		" \"name\" : \"t\" } ],\n\t\"messages\" : [ { \"content\" : [ { \"text\" : \"q\", "
		"\"type\" : \"text\" } ], \"role\" : \"user\" } ],\n\t\"system\":[{\"text\":\"s\","
		"\"type\":\"text\"}], \"max_tokens\" : 5 , \"model\" : \"m\"\n}"));
}
END_TEST

START_TEST(key_ignores_stream_metadata_and_other_fields)
{
	const char *base = "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\","
	                   "\"content\":\"q\"}]}";
	ck_assert(same_key(base, "{\"model\":\"m\",\"max_tokens\":5,\"stream\":true,\"messages\":"
	                         "[{\"role\":\"user\",\"content\":\"q\"}]}"));
	ck_assert(same_key(base, "{\"model\":\"m\",\"max_tokens\":5,\"stream\":false,\"metadata\":"
	                         "{\"user_id\":\"abc\"},\"messages\":[{\"role\":\"user\",\"content\":"
	                         "\"q\"}],\"x_trace\":42}"));
}
END_TEST

START_TEST(each_answer_changing_field_changes_the_key)
{
	const char *full =
		"{\"model\":\"m\",\"system\":\"s\",\"messages\":[{\"role\":\"user\",\"content\":\"q\"}],"
		"\"max_tokens\":5,\"temperature\":0.5,\"top_p\":0.9,\"top_k\":40,"
		"\"stop_sequences\":[\"END\"],\"tools\":[{\"name\":\"t\"}]}";
	struct { const char *field; const char *other; } changes[] = {
		{"model", "\"m2\""},
		{"system", "\"s2\""},
		{"messages", "[{\"role\":\"user\",\"content\":\"q2\"}]"},
		{"max_tokens", "6"},
		{"temperature", "0.25"},
		{"top_p", "0.8"},
		{"top_k", "41"},
		{"stop_sequences", "[\"STOP\"]"},
		{"tools", "[{\"name\":\"u\"}]"},
	};
	uint8_t base[AM_CACHE_KEY_LEN], seen[2 * 9][AM_CACHE_KEY_LEN];
	key_of(full, base);
	int nseen = 0;
	for (size_t i = 0; i < sizeof changes / sizeof changes[0]; i++) {
		json_t *j = json_loads(full, 0, NULL);
		json_object_set_new(j, changes[i].field, json_loads(changes[i].other,
		                                                    JSON_DECODE_ANY, NULL));
		uint8_t k[AM_CACHE_KEY_LEN];
		ck_assert_int_eq(am_cache_key(j, k, NULL), 0);
		ck_assert_msg(memcmp(k, base, sizeof k) != 0, "changing %s kept the key",
		              changes[i].field);
		memcpy(seen[nseen++], k, sizeof k);
		/* dropping an optional field changes it too (model and messages are required) */
		if (strcmp(changes[i].field, "model") != 0 && strcmp(changes[i].field, "messages") != 0) {
			json_object_del(j, changes[i].field);
			ck_assert_int_eq(am_cache_key(j, k, NULL), 0);
			ck_assert_msg(memcmp(k, base, sizeof k) != 0, "dropping %s kept the key",
			              changes[i].field);
			memcpy(seen[nseen++], k, sizeof k);
		}
		json_decref(j);
	}
	for (int a = 0; a < nseen; a++)
		for (int b = a + 1; b < nseen; b++)
			ck_assert(memcmp(seen[a], seen[b], AM_CACHE_KEY_LEN) != 0);
}
END_TEST

START_TEST(key_numbers_compare_by_value)
{
	const char *a = "{\"model\":\"m\",\"max_tokens\":5,\"temperature\":1,\"messages\":[]}";
	const char *b = "{\"model\":\"m\",\"max_tokens\":5.0,\"temperature\":1.0,\"messages\":[]}";
	const char *c = "{\"model\":\"m\",\"max_tokens\":5,\"temperature\":0.50,\"messages\":[]}";
	const char *d = "{\"model\":\"m\",\"max_tokens\":5,\"temperature\":5e-1,\"messages\":[]}";
	ck_assert(same_key(a, b));
	ck_assert(same_key(c, d));
	ck_assert(!same_key(a, c));
}
END_TEST

START_TEST(key_needs_model_and_messages)
{
	am_err err = {0};
	uint8_t k[AM_CACHE_KEY_LEN];
	const char *bad[] = {"{\"messages\":[]}", "{\"model\":\"m\"}", "{\"model\":1,\"messages\":[]}",
	                     "[1]"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		json_t *j = json_loads(bad[i], JSON_DECODE_ANY, NULL);
		ck_assert_int_eq(am_cache_key(j, k, &err), -1);
		ck_assert_ptr_nonnull(strstr(err.msg, "model"));
		json_decref(j);
	}
}
END_TEST

/* ---- store ------------------------------------------------------------------ */

/* The store runs on the ledger's own database, as in the program. */
static char dir[512];
static am_ledger *ledger;
static sqlite3 *db;

static am_ledger *open_ledger(void)
{
	char path[600];
	snprintf(path, sizeof path, "%s/ledger.db", dir);
	am_ledger *l = NULL;
	am_err err = {0};
	ck_assert_msg(am_ledger_open(&l, path, NULL, &err) == 0, "%s", err.msg);
	return l;
}

static void db_setup(void)
{
	ck_assert_int_eq(am_test_tmpdir("cache", dir, sizeof dir), 0);
	ledger = open_ledger();
	db = am_ledger_db(ledger);
}

static void db_teardown(void)
{
	am_ledger_close(ledger);
	am_test_rmtree(dir);
}

static am_cache *open_cache(int64_t max_bytes, int64_t max_entries)
{
	am_cache_config cfg = {.enabled = true, .ttl_s = 3600, .max_bytes = max_bytes,
	                       .max_entries = max_entries};
	am_cache *c = NULL;
	am_err err = {0};
	ck_assert_msg(am_cache_open(&c, db, &cfg, &err) == 0, "%s", err.msg);
	return c;
}

static void mk_key(int n, uint8_t key[AM_CACHE_KEY_LEN])
{
	memset(key, 0, AM_CACHE_KEY_LEN);
	key[0] = (uint8_t)n;
	key[31] = 0xAA;
}

static am_cache_answer answer(const char *text, int64_t cost)
{
	am_cache_answer a;
	memset(&a, 0, sizeof a);
	strcpy(a.model, "claude-haiku-4-5-20251001");
	strcpy(a.stop_reason, "end_turn");
	a.text = (char *)(uintptr_t)text;
	a.usage = (am_usage){.input_tokens = 12, .output_tokens = 6, .cache_write_5m = 100,
	                     .cache_write_1h = 200, .cache_read = 2048};
	a.cost_pusd = cost;
	return a;
}

static void put(am_cache *c, int n, const char *text, int64_t now)
{
	uint8_t k[AM_CACHE_KEY_LEN];
	mk_key(n, k);
	am_cache_answer a = answer(text, 1000);
	bool stored = false;
	am_err err = {0};
	ck_assert_msg(am_cache_put(c, k, &a, now, &stored, &err) == 0, "%s", err.msg);
	ck_assert(stored);
}

static am_cache_result get(am_cache *c, int n, int64_t now)
{
	uint8_t k[AM_CACHE_KEY_LEN];
	mk_key(n, k);
	am_cache_answer a;
	am_cache_result r;
	am_err err = {0};
	ck_assert_msg(am_cache_get(c, k, now, &a, &r, &err) == 0, "%s", err.msg);
	am_cache_answer_free(&a);
	return r;
}

static int64_t sql_int(const char *q)
{
	sqlite3_stmt *st;
	ck_assert_int_eq(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static bool present(int n)
{
	char q[128];
	snprintf(q, sizeof q, "SELECT count(*) FROM cache_entries WHERE hex(key) LIKE '%02X%%'", n);
	return sql_int(q) == 1;
}

static void check_totals(const am_cache *c)
{
	am_cache_counts s;
	am_cache_stats(c, &s);
	ck_assert_int_eq(s.entries, sql_int("SELECT count(*) FROM cache_entries"));
	ck_assert_int_eq(s.bytes, sql_int("SELECT coalesce(sum(bytes),0) FROM cache_entries"));
	ck_assert_int_eq(s.bytes, sql_int("SELECT coalesce(sum(length(CAST(response AS BLOB))),0) "
	                                  "FROM cache_entries"));
}

START_TEST(put_then_get_round_trips)
{
	am_cache *c = open_cache(0, 0);
	uint8_t k[AM_CACHE_KEY_LEN];
	mk_key(1, k);
	am_cache_answer a = answer("Hello, \xc3\xa9t\xc3\xa9 \"quoted\"\n", 123456789);
	strcpy(a.stop_reason, "stop_sequence");
	a.stop_sequence = (char *)(uintptr_t)"\n\nEND";
	ck_assert_int_eq(am_cache_put(c, k, &a, T0, NULL, NULL), 0);

	am_cache_answer got;
	am_cache_result r;
	ck_assert_int_eq(am_cache_get(c, k, T0 + 5 * S_NS, &got, &r, NULL), 0);
	ck_assert_int_eq(r, AM_CACHE_HIT);
	ck_assert_str_eq(got.text, a.text);
	ck_assert_str_eq(got.model, "claude-haiku-4-5-20251001");
	ck_assert_str_eq(got.stop_reason, "stop_sequence");
	ck_assert_str_eq(got.stop_sequence, "\n\nEND");
	ck_assert_int_eq(got.usage.input_tokens, 12);
	ck_assert_int_eq(got.usage.output_tokens, 6);
	ck_assert_int_eq(got.usage.cache_write_5m, 100);
	ck_assert_int_eq(got.usage.cache_write_1h, 200);
	ck_assert_int_eq(got.usage.cache_read, 2048);
	ck_assert_int_eq(got.cost_pusd, 123456789);
	ck_assert_int_eq(got.created_ns, T0);
	ck_assert_int_eq(got.expires_ns, T0 + 3600 * S_NS);
	ck_assert_int_eq(got.hits, 1);
	am_cache_answer_free(&got);
	ck_assert_int_eq(sql_int("SELECT last_used_ns FROM cache_entries"), T0 + 5 * S_NS);
	ck_assert_int_eq(sql_int("SELECT hits FROM cache_entries"), 1);

	/* the stored response is the usage-shaped JSON a replay needs */
	sqlite3_stmt *st;
	sqlite3_prepare_v2(db, "SELECT response FROM cache_entries", -1, &st, NULL);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	json_t *j = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
	sqlite3_finalize(st);
	ck_assert_str_eq(json_string_value(json_object_get(j, "stop_reason")), "stop_sequence");
	json_t *u = json_object_get(j, "usage");
	ck_assert_int_eq(json_integer_value(json_object_get(u, "cache_creation_input_tokens")), 300);
	ck_assert_int_eq(json_integer_value(json_object_get(u, "cache_read_input_tokens")), 2048);
	json_decref(j);

	/* a miss */
	mk_key(2, k);
	ck_assert_int_eq(am_cache_get(c, k, T0, &got, &r, NULL), 0);
	ck_assert_int_eq(r, AM_CACHE_MISS);
	ck_assert_ptr_null(got.text);
	check_totals(c);
	am_cache_close(c);
}
END_TEST

START_TEST(stats_count_hits_misses_and_savings)
{
	am_cache *c = open_cache(0, 0);
	put(c, 1, "one", T0);
	put(c, 2, "two", T0);
	ck_assert_int_eq(get(c, 1, T0 + 1), AM_CACHE_HIT);
	ck_assert_int_eq(get(c, 1, T0 + 2), AM_CACHE_HIT);
	ck_assert_int_eq(get(c, 2, T0 + 3), AM_CACHE_HIT);
	ck_assert_int_eq(get(c, 3, T0 + 4), AM_CACHE_MISS);
	am_cache_counts s;
	am_cache_stats(c, &s);
	ck_assert(s.enabled);
	ck_assert_int_eq(s.hits, 3);
	ck_assert_int_eq(s.misses, 1);
	ck_assert_int_eq(s.entries, 2);
	ck_assert_int_eq(s.saved_pusd, 3 * 1000);
	ck_assert_int_eq(s.saved_tokens, 3 * (12 + 6 + 100 + 200 + 2048));
	ck_assert_int_eq(s.ttl_s, 3600);
	ck_assert_int_eq(sql_int("SELECT hits FROM cache_entries WHERE hex(key) LIKE '01%'"), 2);
	check_totals(c);
	am_cache_close(c);
}
END_TEST

START_TEST(entries_expire_after_the_ttl)
{
	am_cache *c = open_cache(0, 0);
	put(c, 1, "old", T0);
	ck_assert_int_eq(get(c, 1, T0 + 3600 * S_NS - 1), AM_CACHE_HIT);
	/* a hit does not extend the life of an entry */
	ck_assert_int_eq(get(c, 1, T0 + 3600 * S_NS), AM_CACHE_MISS);
	ck_assert(!present(1));
	check_totals(c);
	put(c, 2, "a", T0);
	put(c, 3, "b", T0 + 10 * S_NS);
	ck_assert_int_eq(am_cache_purge_expired(c, T0 + 3605 * S_NS, NULL), 1);
	ck_assert(!present(2));
	ck_assert(present(3));
	check_totals(c);
	am_cache_close(c);
}
END_TEST

START_TEST(lru_eviction_under_the_entry_cap)
{
	am_cache *c = open_cache(0, 3);
	put(c, 1, "a", T0 + 1);
	put(c, 2, "b", T0 + 2);
	put(c, 3, "c", T0 + 3);
	ck_assert_int_eq(get(c, 1, T0 + 4), AM_CACHE_HIT); /* 1 is fresh again; 2 is the LRU */
	put(c, 4, "d", T0 + 5);
	ck_assert(present(1));
	ck_assert(!present(2));
	ck_assert(present(3));
	ck_assert(present(4));
	put(c, 5, "e", T0 + 6); /* now 3 goes */
	ck_assert(!present(3));
	ck_assert_int_eq(sql_int("SELECT count(*) FROM cache_entries"), 3);
	/* replacing a key does not evict anything */
	put(c, 5, "e2", T0 + 7);
	ck_assert(present(1) && present(4) && present(5));
	check_totals(c);
	am_cache_close(c);
}
END_TEST

START_TEST(lru_eviction_under_the_byte_cap)
{
	am_cache *c = open_cache(0, 0);
	/* measure one entry, then cap at room for exactly two and a half */
	put(c, 9, "0123456789", T0);
	am_cache_counts s;
	am_cache_stats(c, &s);
	int64_t one = s.bytes;
	ck_assert_int_gt(one, 100);
	am_cache_close(c);
	sqlite3_exec(db, "DELETE FROM cache_entries", NULL, NULL, NULL);

	c = open_cache(one * 5 / 2, 0);
	put(c, 1, "0123456789", T0 + 1);
	put(c, 2, "abcdefghij", T0 + 2);
	put(c, 3, "ABCDEFGHIJ", T0 + 3);
	ck_assert(!present(1));
	ck_assert(present(2) && present(3));
	am_cache_stats(c, &s);
	ck_assert_int_eq(s.bytes, 2 * one);
	/* an answer `one` bytes longer (2 × one in all) takes both victims */
	char *longer = malloc((size_t)(10 + one + 1));
	memset(longer, 'y', (size_t)(10 + one));
	longer[10 + one] = '\0';
	put(c, 4, longer, T0 + 4);
	free(longer);
	ck_assert(!present(2) && !present(3));
	ck_assert(present(4));
	am_cache_stats(c, &s);
	ck_assert_int_eq(s.bytes, 2 * one);
	check_totals(c);

	/* an answer larger than the whole cap is not stored and evicts nothing */
	char big[1024];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	uint8_t k[AM_CACHE_KEY_LEN];
	mk_key(7, k);
	am_cache_answer a = answer(big, 1);
	bool stored = true;
	int64_t before = sql_int("SELECT count(*) FROM cache_entries");
	ck_assert_int_eq(am_cache_put(c, k, &a, T0 + 5, &stored, NULL), 0);
	ck_assert(!stored);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM cache_entries"), before);
	am_cache_close(c);
}
END_TEST

START_TEST(expired_entries_go_before_recent_ones)
{
	am_cache *c = open_cache(0, 2);
	put(c, 1, "a", T0);                 /* expires at T0 + 1 h */
	put(c, 2, "b", T0 + 60 * S_NS);
	ck_assert_int_eq(get(c, 1, T0 + 120 * S_NS), AM_CACHE_HIT); /* 2 is now the LRU */
	put(c, 3, "c", T0 + 3600 * S_NS + 1); /* 1 has expired: it goes, not 2 */
	ck_assert(!present(1));
	ck_assert(present(2) && present(3));
	check_totals(c);
	am_cache_close(c);
}
END_TEST

START_TEST(disable_and_clear)
{
	am_cache *c = open_cache(0, 0);
	put(c, 1, "a", T0);
	am_cache_set_enabled(c, false);
	ck_assert(!am_cache_enabled(c));
	ck_assert_int_eq(get(c, 1, T0 + 1), AM_CACHE_OFF);
	uint8_t k[AM_CACHE_KEY_LEN];
	mk_key(2, k);
	am_cache_answer a = answer("b", 1);
	bool stored = true;
	ck_assert_int_eq(am_cache_put(c, k, &a, T0, &stored, NULL), 0);
	ck_assert(!stored);
	ck_assert(!present(2));
	am_cache_counts s;
	am_cache_stats(c, &s);
	ck_assert(!s.enabled);
	ck_assert_int_eq(s.hits + s.misses, 0);

	am_cache_set_enabled(c, true);
	ck_assert_int_eq(get(c, 1, T0 + 2), AM_CACHE_HIT);
	ck_assert_int_eq(am_cache_clear(c, NULL), 0);
	ck_assert_int_eq(get(c, 1, T0 + 3), AM_CACHE_MISS);
	am_cache_stats(c, &s);
	ck_assert_int_eq(s.entries, 0);
	ck_assert_int_eq(s.bytes, 0);
	ck_assert_int_eq(s.hits, 1); /* session counters survive a clear */
	am_cache_close(c);
}
END_TEST

START_TEST(refresh_sees_other_writers)
{
	am_cache *c = open_cache(0, 0);
	am_cache *other = open_cache(0, 0);
	put(other, 1, "from another process", T0);
	am_cache_counts s;
	am_cache_stats(c, &s);
	ck_assert_int_eq(s.entries, 0);
	ck_assert_int_eq(am_cache_refresh(c, NULL), 0);
	check_totals(c);
	ck_assert_int_eq(get(c, 1, T0 + 1), AM_CACHE_HIT);
	am_cache_close(other);
	am_cache_close(c);
}
END_TEST

START_TEST(put_inside_a_caller_transaction)
{
	am_cache *c = open_cache(0, 1);
	put(c, 1, "a", T0);
	ck_assert_int_eq(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
	put(c, 2, "b", T0 + 1); /* evicts 1 inside the caller's transaction */
	ck_assert_int_eq(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	ck_assert(present(1));
	ck_assert(!present(2));
	ck_assert_int_eq(am_cache_refresh(c, NULL), 0);
	check_totals(c);
	am_cache_close(c);
}
END_TEST

START_TEST(corrupt_entry_is_dropped)
{
	am_cache *c = open_cache(0, 0);
	put(c, 1, "a", T0);
	sqlite3_exec(db, "UPDATE cache_entries SET response = 'not json'", NULL, NULL, NULL);
	uint8_t k[AM_CACHE_KEY_LEN];
	mk_key(1, k);
	am_cache_answer a;
	am_cache_result r;
	am_err err = {0};
	ck_assert_int_eq(am_cache_get(c, k, T0 + 1, &a, &r, &err), -1);
	ck_assert_int_eq(r, AM_CACHE_MISS);
	ck_assert_ptr_nonnull(strstr(err.msg, "corrupt"));
	ck_assert(!present(1));
	check_totals(c);
	am_cache_close(c);
}
END_TEST

START_TEST(database_errors_are_reported)
{
	am_cache *c = open_cache(0, 0);
	put(c, 1, "a", T0);
	/* the table vanishes under the cache: the put fails cleanly */
	sqlite3_exec(db, "DROP TABLE cache_entries", NULL, NULL, NULL);
	uint8_t k[AM_CACHE_KEY_LEN];
	mk_key(2, k);
	am_cache_answer a = answer("b", 1);
	am_err err = {0};
	ck_assert_int_eq(am_cache_put(c, k, &a, T0, NULL, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "cache:"));
	am_cache_counts s;
	am_cache_stats(c, &s);
	ck_assert_int_eq(s.entries, 1); /* unchanged by the failed put */
	am_cache_close(c);

	am_cache_config cfg = {.enabled = true, .ttl_s = 60};
	ck_assert_int_eq(am_cache_open(&c, db, &cfg, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "cache_entries"));
}
END_TEST

START_TEST(caps_hold_across_connections)
{
	am_ledger *theirs = open_ledger(); /* another process on the same file */
	am_cache *a = open_cache(0, 2);
	am_cache_config cfg = {.enabled = true, .ttl_s = 3600, .max_entries = 2};
	am_cache *b = NULL;
	ck_assert_int_eq(am_cache_open(&b, am_ledger_db(theirs), &cfg, NULL), 0);
	/* the other process fills the cache; ours still believes it is empty */
	put(b, 1, "a", T0 + 1);
	put(b, 2, "b", T0 + 2);
	put(a, 3, "c", T0 + 3);
	ck_assert(!present(1));
	ck_assert(present(2) && present(3));
	check_totals(a);
	am_cache_close(a);
	am_cache_close(b);
	am_ledger_close(theirs);
}
END_TEST

START_TEST(config_from_the_config_file)
{
	am_config c;
	am_config_init(&c);
	am_cache_config cfg;
	am_err err = {0};
	ck_assert_int_eq(am_cache_config_from(&c, &cfg, &err), 0);
	ck_assert(cfg.enabled);
	ck_assert_int_eq(cfg.ttl_s, 86400);
	ck_assert_int_eq(cfg.max_bytes, 256LL << 20);
	ck_assert_int_eq(cfg.max_entries, 100000);
	am_cache_config d;
	am_cache_config_default(&d);
	ck_assert_int_eq(memcmp(&d, &cfg, sizeof d), 0);
	char *const envp[] = {NULL};
	const char *text = "{\"cache\": {\"enabled\": false, \"ttl_s\": 600, "
	                   "\"max_bytes\": 1048576, \"max_entries\": 50}}";
	ck_assert_int_eq(am_config_load_text(&c, text, strlen(text), "t.json", envp, &err), 0);
	ck_assert_int_eq(am_cache_config_from(&c, &cfg, &err), 0);
	ck_assert(!cfg.enabled);
	ck_assert_int_eq(cfg.ttl_s, 600);
	ck_assert_int_eq(cfg.max_bytes, 1048576);
	ck_assert_int_eq(cfg.max_entries, 50);
	c.cache.ttl_s = 0;
	ck_assert_int_eq(am_cache_config_from(&c, &cfg, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "ttl_s"));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("cache");
	TCase *key = tcase_create("key");
	tcase_add_test(key, key_is_sha256_of_the_canonical_form);
	tcase_add_test(key, key_order_and_whitespace_do_not_matter);
	tcase_add_test(key, key_ignores_stream_metadata_and_other_fields);
	tcase_add_test(key, each_answer_changing_field_changes_the_key);
	tcase_add_test(key, key_numbers_compare_by_value);
	tcase_add_test(key, key_needs_model_and_messages);
	tcase_add_test(key, config_from_the_config_file);
	suite_add_tcase(s, key);
	TCase *store = tcase_create("store");
	tcase_add_checked_fixture(store, db_setup, db_teardown);
	tcase_add_test(store, put_then_get_round_trips);
	tcase_add_test(store, stats_count_hits_misses_and_savings);
	tcase_add_test(store, entries_expire_after_the_ttl);
	tcase_add_test(store, lru_eviction_under_the_entry_cap);
	tcase_add_test(store, lru_eviction_under_the_byte_cap);
	tcase_add_test(store, expired_entries_go_before_recent_ones);
	tcase_add_test(store, disable_and_clear);
	tcase_add_test(store, refresh_sees_other_writers);
	tcase_add_test(store, put_inside_a_caller_transaction);
	tcase_add_test(store, corrupt_entry_is_dropped);
	tcase_add_test(store, database_errors_are_reported);
	tcase_add_test(store, caps_hold_across_connections);
	suite_add_tcase(s, store);
	return s;
}

int main(void)
{
	return check_run(suite());
}
