/* memo: what the console remembers across restarts, kept in the ledger
 * (schema v5): the lines typed on its input line, for Up to recall, and
 * the exchanges of the conversation in progress, to show it again and go
 * on with it.
 *
 * Capped where it is written: the last AM_MEMO_MAX_INPUTS lines (a line
 * longer than AM_MEMO_MAX_INPUT bytes is not kept, nor one equal to the
 * line before it) and the last AM_MEMO_MAX_TURNS exchanges; forgetting the
 * conversation (/new) deletes its exchanges. The text is kept as typed or
 * received: whoever shows it sanitises it, as any text from outside.
 *
 * Threads: the caller's connection, one thread at a time. */
#ifndef AIMETER_MEMO_H
#define AIMETER_MEMO_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "ledger.h"

enum { AM_MEMO_MAX_INPUTS = 1000, AM_MEMO_MAX_INPUT = 64 << 10, AM_MEMO_MAX_TURNS = 50 };

/* One exchange: the prompt, its answer, the answer's summary line as the
 * console showed it, the context it left (tokens the next turn sends
 * again) and what it cost. */
typedef struct am_memo_exchange {
	char *user, *assistant, *summary;
	int64_t tokens;
	int64_t cost_pusd;
	bool price_known;
} am_memo_exchange;

/* What to keep (am_engine_ops.remember). */
typedef enum am_memo_kind {
	AM_MEMO_INPUT,     /* a line typed on the input line */
	AM_MEMO_EXCHANGE,  /* an exchange of the conversation ended */
	AM_MEMO_FORGET     /* a new conversation: the old one's exchanges go */
} am_memo_kind;

/* What the ledger holds, oldest first. */
typedef struct am_memo {
	char **inputs;
	int ninputs;
	am_memo_exchange *ex;
	int nex;
} am_memo;

int am_memo_add_input(am_ledger *l, const char *text, int64_t wall_ns, am_err *err);
int am_memo_add_exchange(am_ledger *l, const am_memo_exchange *x, int64_t wall_ns, am_err *err);
int am_memo_forget_conversation(am_ledger *l, am_err *err);

/* Reads everything kept into *out (am_memo_free frees it; zeroed on error). */
int am_memo_load(am_ledger *l, am_memo *out, am_err *err);
void am_memo_free(am_memo *m);

#endif
