/* memo: the console's inputs and conversation in the ledger (memo.h). */
#include "memo.h"

#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

/* Runs one statement: the texts bound first (?1...), then the integers. */
static int run(am_ledger *l, const char *sql, const char *const *texts, int ntexts,
               const int64_t *ints, int nints, const char *what, am_err *err)
{
	sqlite3 *db = am_ledger_db(l);
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return am_ledger_sqlite_error(db, rc, what, err);
	for (int i = 0; i < ntexts; i++)
		sqlite3_bind_text(st, i + 1, texts[i], -1, SQLITE_STATIC);
	for (int i = 0; i < nints; i++)
		sqlite3_bind_int64(st, ntexts + i + 1, ints[i]);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return am_ledger_sqlite_error(db, rc, what, err);
	return 0;
}

int am_memo_add_input(am_ledger *l, const char *text, int64_t wall_ns, am_err *err)
{
	if (!text || !*text || strlen(text) > AM_MEMO_MAX_INPUT)
		return 0;
	const char *t[] = { text };
	int64_t v[] = { wall_ns, AM_MEMO_MAX_INPUTS };
	if (run(l,
	        "INSERT INTO console_inputs(text, at_ns) SELECT ?1, ?2 WHERE ?1 IS NOT "
	        "(SELECT text FROM console_inputs ORDER BY id DESC LIMIT 1)",
	        t, 1, v, 1, "keeping the console's input", err))
		return -1;
	return run(l,
	           "DELETE FROM console_inputs WHERE id <= "
	           "(SELECT max(id) FROM console_inputs) - ?1",
	           NULL, 0, v + 1, 1, "capping the console's inputs", err);
}

int am_memo_add_exchange(am_ledger *l, const am_memo_exchange *x, int64_t wall_ns, am_err *err)
{
	const char *t[] = { x->user ? x->user : "", x->assistant ? x->assistant : "",
		            x->summary ? x->summary : "" };
	int64_t v[] = { x->tokens, x->cost_pusd, x->price_known, wall_ns, AM_MEMO_MAX_TURNS };
	if (run(l,
	        "INSERT INTO console_turns(user, assistant, summary, tokens, cost_pusd, "
	        "price_known, at_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	        t, 3, v, 4, "keeping the conversation", err))
		return -1;
	return run(l,
	           "DELETE FROM console_turns WHERE id <= (SELECT max(id) FROM console_turns) - ?1",
	           NULL, 0, v + 4, 1, "capping the conversation", err);
}

int am_memo_forget_conversation(am_ledger *l, am_err *err)
{
	return run(l, "DELETE FROM console_turns", NULL, 0, NULL, 0, "forgetting the conversation",
	           err);
}

static char *col_dup(sqlite3_stmt *st, int i)
{
	const char *s = (const char *)sqlite3_column_text(st, i);
	return am_xstrdup(s ? s : "");
}

int am_memo_load(am_ledger *l, am_memo *out, am_err *err)
{
	memset(out, 0, sizeof *out);
	sqlite3 *db = am_ledger_db(l);
	sqlite3_stmt *st;
	/* The newest, capped again in case another writer ran past the cap. */
	int rc = sqlite3_prepare_v2(db,
	                            "SELECT text FROM (SELECT id, text FROM console_inputs ORDER BY "
	                            "id DESC LIMIT ?1) ORDER BY id",
	                            -1, &st, NULL);
	if (rc != SQLITE_OK)
		return am_ledger_sqlite_error(db, rc, "reading the console's inputs", err);
	sqlite3_bind_int(st, 1, AM_MEMO_MAX_INPUTS);
	out->inputs = am_xcalloc(AM_MEMO_MAX_INPUTS, sizeof *out->inputs);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && out->ninputs < AM_MEMO_MAX_INPUTS)
		out->inputs[out->ninputs++] = col_dup(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		goto fail;
	rc = sqlite3_prepare_v2(db,
	                        "SELECT user, assistant, summary, tokens, cost_pusd, price_known FROM "
	                        "(SELECT * FROM console_turns ORDER BY id DESC LIMIT ?1) ORDER BY id",
	                        -1, &st, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	sqlite3_bind_int(st, 1, AM_MEMO_MAX_TURNS);
	out->ex = am_xcalloc(AM_MEMO_MAX_TURNS, sizeof *out->ex);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && out->nex < AM_MEMO_MAX_TURNS) {
		am_memo_exchange *x = &out->ex[out->nex++];
		x->user = col_dup(st, 0);
		x->assistant = col_dup(st, 1);
		x->summary = col_dup(st, 2);
		x->tokens = sqlite3_column_int64(st, 3);
		x->cost_pusd = sqlite3_column_int64(st, 4);
		x->price_known = sqlite3_column_int(st, 5) != 0;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		goto fail;
	return 0;
fail:
	am_ledger_sqlite_error(db, rc, "reading the console's conversation", err);
	am_memo_free(out);
	return -1;
}

void am_memo_free(am_memo *m)
{
	if (!m)
		return;
	for (int i = 0; i < m->ninputs; i++)
		free(m->inputs[i]);
	free(m->inputs);
	for (int i = 0; i < m->nex; i++) {
		free(m->ex[i].user);
		free(m->ex[i].assistant);
		free(m->ex[i].summary);
	}
	free(m->ex);
	memset(m, 0, sizeof *m);
}
