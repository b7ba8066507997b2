/* The dashboard's behaviour without a terminal: input-line commands and
 * hotkeys reaching the engine (through a scripted fake), prompts and the
 * multi-turn conversation, events growing the transcript, the line editor,
 * and the command table that the help screen and README come from. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "cmdtab.h"
#include "console.h"
#include "control.h"
#include "editor.h"
#include "fake_engine.h"
#include "keys.h"
#include "money.h"

#define USD AM_PUSD_PER_USD

static fake_engine fe;
static ui_ctl ctl;

static void setup(void)
{
	fake_engine_init(&fe);
	ui_ctl_init(&ctl, &fe.ops, false, NULL, 0);
	ui_ctl_pump(&ctl, 100);
}

static void teardown(void)
{
	ui_ctl_done(&ctl);
	fake_engine_free(&fe);
}

/* The transcript as text: one line per row, "kind|text". */
struct tx {
	char buf[16384];
};

static void tx_line(void *ctx, int row, const ui_tx_line *l)
{
	struct tx *t = ctx;
	(void)row;
	size_t n = strlen(t->buf);
	snprintf(t->buf + n, sizeof t->buf - n, "%d|%.*s%s\n", (int)l->kind, (int)l->len, l->text,
	         l->cursor ? "<cursor>" : "");
}

static const char *transcript(ui_console *c, int width, int rows)
{
	static struct tx t;
	t.buf[0] = '\0';
	ui_console_render(c, width, rows, 0, tx_line, &t);
	return t.buf;
}

#define ck_contains(hay, needle) \
	ck_assert_msg(strstr((hay), (needle)) != NULL, "'%s' not in:\n%s", (needle), (hay))

/* ---- input-line commands ---------------------------------------------------------- */

START_TEST(commands_reach_engine)
{
	ui_ctl_line(&ctl, "/rpm 10");
	ui_ctl_line(&ctl, "/itpm 40000 sonnet-4");
	ui_ctl_line(&ctl, "/budget 5");
	ui_ctl_line(&ctl, "/budget 0.1");
	ui_ctl_line(&ctl, "/month $1,250.75");
	ui_ctl_line(&ctl, "/alert 80%");
	ui_ctl_line(&ctl, "/model claude-haiku-4-5");
	ui_ctl_line(&ctl, "/cache clear");
	ui_ctl_line(&ctl, "/pause");
	ui_ctl_line(&ctl, "  /RESUME");
	ck_assert_int_eq(fe.ncmds, 10);
	ck_assert_int_eq(fe.cmds[0].kind, AM_CMD_SET_RPM);
	ck_assert_int_eq(fe.cmds[0].value, 10);
	ck_assert_str_eq(fe.cmds[0].pool, "");
	ck_assert_int_eq(fe.cmds[1].kind, AM_CMD_SET_ITPM);
	ck_assert_str_eq(fe.cmds[1].pool, "sonnet-4");
	ck_assert_int_eq(fe.cmds[2].kind, AM_CMD_SET_BUDGET_DAY);
	ck_assert_int_eq(fe.cmds[2].value, 5 * USD); /* exact, not 4.999... */
	ck_assert_int_eq(fe.cmds[3].value, USD / 10);
	ck_assert_int_eq(fe.cmds[4].kind, AM_CMD_SET_BUDGET_MONTH);
	ck_assert_int_eq(fe.cmds[4].value, 125075 * (USD / 100));
	ck_assert_int_eq(fe.cmds[5].kind, AM_CMD_SET_ALERT_PCT);
	ck_assert_int_eq(fe.cmds[5].value, 80);
	ck_assert_str_eq(fe.cmds[6].text, "claude-haiku-4-5");
	ck_assert_int_eq(fe.cmds[7].kind, AM_CMD_CACHE_CLEAR);
	ck_assert_int_eq(fe.cmds[8].kind, AM_CMD_PAUSE);
	ck_assert_int_eq(fe.cmds[9].kind, AM_CMD_RESUME);
	for (int i = 0; i < fe.ncmds; i++)
		ck_assert(fe.cmds[i].persist);
	ck_assert_int_eq(fe.nsubmits, 0);
	/* what each did is said on the status line, not in the conversation */
	ck_assert_str_eq(ctl.status, "resumed: sending again");
	ck_assert_int_eq(ctl.status_seq, 10);
	ck_assert_int_eq(ui_console_entries(ctl.con), 0);
	ui_ctl_line(&ctl, "/rpm 10");
	ck_assert_str_eq(ctl.status, "RPM limit 10 per minute for every pool (saved)");
	ck_assert_int_eq(ctl.status_role, UI_ROLE_CALM);
	ui_ctl_line(&ctl, "/budget 5");
	ck_assert_str_eq(ctl.status, "daily budget $5.00 (saved)");
	ui_ctl_line(&ctl, "/budget 0.001");
	ck_assert_str_eq(ctl.status, "daily budget $0.001 (saved)");
}
END_TEST

/* /budget TAG USD: that tag's own daily limit, set or removed while it
 * runs; a bad tag or amount reaches nothing. */
START_TEST(a_tag_budget_reaches_engine)
{
	ui_ctl_line(&ctl, "/budget nightly-evals 2.50");
	ck_assert_int_eq(fe.ncmds, 1);
	ck_assert_int_eq(fe.cmds[0].kind, AM_CMD_SET_TAG_BUDGET);
	ck_assert_str_eq(fe.cmds[0].text, "nightly-evals");
	ck_assert_int_eq(fe.cmds[0].value, 250 * (USD / 100));
	ck_assert(fe.cmds[0].persist);
	ck_assert_str_eq(ctl.status, "tag nightly-evals: daily limit $2.50 (saved)");
	ui_ctl_line(&ctl, "/budget ci $0");
	ck_assert_int_eq(fe.ncmds, 2);
	ck_assert_int_eq(fe.cmds[1].value, 0);
	ck_assert_str_eq(ctl.status, "tag ci: its own daily limit removed (saved)");
	static const char *const bad[] = { "/budget ci", "/budget ci -1", "/budget ci x",
		                           "/budget bad\x01tag 5", "/budget a b 5", "/month ci 5" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ui_ctl_line(&ctl, bad[i]);
		ck_assert_msg(ctl.status_role == UI_ROLE_ALARM, "%s: %s", bad[i], ctl.status);
	}
	ck_assert_int_eq(fe.ncmds, 2);
}
END_TEST

START_TEST(bad_commands_show_errors)
{
	static const char *const bad[] = {"/rpm",        "/rpm abc",    "/rpm 12x",    "/rpm -3",
	                                  "/rpm 5 a b",  "/budget",     "/budget -5",  "/budget x",
	                                  "/budget 1.0000000000001",    "/alert 0",    "/alert 101",
	                                  "/model",      "/cache maybe", "/pause now",  "/frob",
	                                  "/rpm10"};
	char said[sizeof bad / sizeof bad[0]][256];
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		unsigned seq = ctl.status_seq;
		unsigned r = ui_ctl_line(&ctl, bad[i]);
		ck_assert_msg(r & UI_R_HINTS, "%s", bad[i]);
		/* every error is said on the status line, as an alarm */
		ck_assert_uint_eq(ctl.status_seq, seq + 1);
		ck_assert_int_eq(ctl.status_role, UI_ROLE_ALARM);
		snprintf(said[i], sizeof said[i], "%s", ctl.status);
	}
	ck_assert_int_eq(fe.ncmds, 0);
	ck_assert_int_eq(fe.nsubmits, 0);
	ck_assert_int_eq(ui_console_entries(ctl.con), 0);
	ck_assert_str_eq(said[14], "unknown command '/frob': try /help");
	ck_contains(said[1], "/rpm N [POOL]: needs a whole number of requests per minute");
	ck_contains(said[6], "a budget cannot be negative");
	/* trailing junk and a number too large are told apart */
	ck_assert_str_eq(said[2], "/rpm N [POOL]: '12x' has 'x' after the number");
	ui_ctl_line(&ctl, "/rpm 99999999999999999999");
	ck_assert_str_eq(ctl.status,
	                 "/rpm N [POOL]: 99999999999999999999 is too large: at most 1,000,000,000,000");
	ui_ctl_line(&ctl, "/alert 101");
	ck_assert_str_eq(ctl.status, "/alert PCT: 101 is too large: at most 100");
	ui_ctl_line(&ctl, "/alert x");
	ck_assert_str_eq(ctl.status, "/alert PCT: needs a percentage from 1 to 100");
	ck_assert_int_eq(fe.ncmds, 0);
}
END_TEST

/* 0 is no limit, as the config file takes it. */
START_TEST(zero_limit_is_none)
{
	ui_ctl_line(&ctl, "/rpm 0");
	ui_ctl_line(&ctl, "/otpm 0 sonnet-4");
	ck_assert_int_eq(fe.ncmds, 2);
	ck_assert_int_eq(fe.cmds[0].kind, AM_CMD_SET_RPM);
	ck_assert_int_eq(fe.cmds[0].value, 0);
	ck_assert_int_eq(fe.cmds[1].value, 0);
	ck_assert_str_eq(ctl.status, "OTPM limit none (unlimited) for pool sonnet-4 (saved)");
}
END_TEST

START_TEST(local_commands)
{
	ck_assert_uint_eq(ui_ctl_line(&ctl, "/help") & UI_R_HELP, UI_R_HELP);
	ck_assert_uint_eq(ui_ctl_line(&ctl, "/quit") & UI_R_QUIT, UI_R_QUIT);
	ck_assert_uint_eq(ui_ctl_line(&ctl, "/quit now") & UI_R_QUIT, 0);
	ck_assert_uint_eq(ui_ctl_line(&ctl, "   "), 0);
	ck_assert_int_eq(fe.ncmds, 0);
}
END_TEST

/* /tag NAME tags the prompts that follow; /tag alone untags them; a bad
 * tag is refused and changes nothing. */
START_TEST(tag_tags_the_next_prompts)
{
	ui_ctl_line(&ctl, "first");
	ck_assert_str_eq(fe.last_tag, "");
	ui_ctl_line(&ctl, "/tag nightly-evals");
	ck_contains(ctl.status, "tagged nightly-evals");
	ui_ctl_line(&ctl, "second");
	ck_assert_str_eq(fe.last_tag, "nightly-evals");
	ui_ctl_line(&ctl, "/tag two words");
	ck_contains(ctl.status, "/tag");
	ui_ctl_line(&ctl, "/tag caf\xc3\xa9");
	ck_contains(ctl.status, "not printable ASCII");
	ui_ctl_line(&ctl, "third");
	ck_assert_str_eq(fe.last_tag, "nightly-evals");
	ui_ctl_line(&ctl, "/tag");
	ck_contains(ctl.status, "untagged");
	ui_ctl_line(&ctl, "fourth");
	ck_assert_str_eq(fe.last_tag, "");
	ck_assert_int_eq(fe.nsubmits, 4);
	ck_assert_int_eq(fe.ncmds, 0); /* the console's own state, nothing saved */
}
END_TEST

START_TEST(engine_refusal_is_shown)
{
	fe.refuse_commands = "unknown model 'claude-x'";
	ui_ctl_line(&ctl, "/model claude-x");
	ck_assert_str_eq(ctl.status, "unknown model 'claude-x'");
	ck_assert_int_eq(ctl.status_role, UI_ROLE_ALARM);
	ck_assert_int_eq(fe.ncmds, 0);
}
END_TEST

/* /cancel cancels the last prompt still running, /cancel all every one;
 * with none running it says so. */
START_TEST(cancel_prompts)
{
	ui_ctl_line(&ctl, "/cancel");
	ck_assert_int_eq(fe.ncmds, 0);
	ck_assert_str_eq(ctl.status, "no prompt is queued, waiting or running");
	ui_ctl_line(&ctl, "first");
	ui_ctl_line(&ctl, "second");
	ui_ctl_line(&ctl, "third");
	fake_engine_push_done(&fe, 2, "claude-haiku-4-5", 10, 10, 1000, 100, false);
	ui_ctl_pump(&ctl, 10);
	ui_ctl_line(&ctl, "/cancel");
	ck_assert_int_eq(fe.ncmds, 1);
	ck_assert_int_eq(fe.cmds[0].kind, AM_CMD_CANCEL_JOB);
	ck_assert_int_eq(fe.cmds[0].value, 3);
	ck_assert_str_eq(ctl.status, "cancelling job 3");
	fake_engine_push(&fe, AM_EV_CANCELLED, 3, NULL);
	ui_ctl_pump(&ctl, 10);
	ck_contains(transcript(ctl.con, 80, 30), "cancelled");
	ui_ctl_line(&ctl, "fourth");
	ui_ctl_line(&ctl, "/cancel all");
	ck_assert_int_eq(fe.ncmds, 3);
	ck_assert_int_eq(fe.cmds[1].value, 1);
	ck_assert_int_eq(fe.cmds[2].value, 4);
	ck_assert_str_eq(ctl.status, "cancelling 2 prompts");
	ui_ctl_line(&ctl, "/cancel some");
	ck_assert_int_eq(fe.ncmds, 3);
	ck_assert_int_eq(ctl.status_role, UI_ROLE_ALARM);
}
END_TEST

/* Tab completes command names, then the words each command takes. */
START_TEST(tab_completes)
{
	char out[256];
	fake_engine_add_pool(&fe, "sonnet-4", 50, 40000, 8000);
	fake_engine_add_pool(&fe, "haiku-4-5", 50, 40000, 8000);
	fake_engine_publish(&fe);
	ui_ctl_pump(&ctl, 10);
	ck_assert(ui_ctl_complete(&ctl, "/bu", out, sizeof out));
	ck_assert_str_eq(out, "/budget ");
	/* several fit: their common start, and the status line lists them */
	ck_assert(!ui_ctl_complete(&ctl, "/r", out, sizeof out));
	ck_assert_str_eq(ctl.status, "/rpm  /resume");
	ck_assert(!ui_ctl_complete(&ctl, "/ca", out, sizeof out));
	ck_assert_str_eq(ctl.status, "/cache  /cancel");
	ck_assert(ui_ctl_complete(&ctl, "/cac", out, sizeof out));
	ck_assert_str_eq(out, "/cache ");
	ck_assert(ui_ctl_complete(&ctl, "/cache c", out, sizeof out));
	ck_assert_str_eq(out, "/cache clear ");
	ck_assert(ui_ctl_complete(&ctl, "/model claude-o", out, sizeof out));
	ck_assert_str_eq(out, "/model claude-opus-4-5 ");
	ck_assert(ui_ctl_complete(&ctl, "/model a", out, sizeof out));
	ck_assert_str_eq(out, "/model auto ");
	ck_assert(ui_ctl_complete(&ctl, "/model cl", out, sizeof out));
	ck_assert_str_eq(out, "/model claude-");
	ck_assert(ui_ctl_complete(&ctl, "/rpm 40 h", out, sizeof out));
	ck_assert_str_eq(out, "/rpm 40 haiku-4-5 ");
	ck_assert(ui_ctl_complete(&ctl, "/itpm 9000 ", out, sizeof out) == false);
	ck_assert_str_eq(ctl.status, "sonnet-4  haiku-4-5");
	/* nothing to complete: prompts, the number argument, unknown words */
	ck_assert(!ui_ctl_complete(&ctl, "hello", out, sizeof out));
	ck_assert(!ui_ctl_complete(&ctl, "/rpm 4", out, sizeof out));
	ck_assert(!ui_ctl_complete(&ctl, "/zz", out, sizeof out));
	ck_assert(!ui_ctl_complete(&ctl, "/rpm 40 x", out, sizeof out));
}
END_TEST

/* ---- hotkeys ---------------------------------------------------------------------- */

START_TEST(hotkeys_step_each_pool)
{
	fake_engine_add_pool(&fe, "sonnet-4", 50, 40000, 8000);
	fake_engine_add_pool(&fe, "haiku-4-5", 4, 50000, 10000);
	fake_engine_publish(&fe);
	ui_ctl_pump(&ctl, 10);
	ui_ctl_action(&ctl, ui_key_action(UI_KEY_F(3))); /* RPM + */
	ck_assert_int_eq(fe.ncmds, 2);
	ck_assert_int_eq(fe.cmds[0].kind, AM_CMD_SET_RPM);
	ck_assert_int_eq(fe.cmds[0].value, 55);
	ck_assert_str_eq(fe.cmds[0].pool, "sonnet-4");
	ck_assert_int_eq(fe.cmds[1].value, 5); /* 4 + 10% still moves by one */
	ck_assert_str_eq(fe.cmds[1].pool, "haiku-4-5");
	ui_ctl_action(&ctl, ui_key_action(UI_KEY_ALT('o'))); /* OTPM - */
	ck_assert_int_eq(fe.cmds[2].kind, AM_CMD_SET_OTPM);
	ck_assert_int_eq(fe.cmds[2].value, 7200);
	ck_assert_int_eq(fe.cmds[3].value, 9000);
	ck_assert_str_eq(ctl.status, "OTPM limit per minute: sonnet-4 8,000 -> 7,200, haiku-4-5 "
	                             "10,000 -> 9,000 (saved)");
	ck_assert_int_eq(ui_console_entries(ctl.con), 0);
}
END_TEST

/* A step down and then up returns where it started (100 -> 90 -> 100, not
 * 99), and so does up then down; further steps go on by 10%. */
START_TEST(hotkey_steps_undo_each_other)
{
	fake_engine_add_pool(&fe, "sonnet-4", 100, 40000, 8000);
	fake_engine_add_pool(&fe, "haiku-4-5", 7, 50000, 10000);
	fake_engine_publish(&fe);
	ui_ctl_pump(&ctl, 10);
	static const struct {
		int key;
		int64_t sonnet, haiku;
	} steps[] = {
		{UI_KEY_F(2), 90, 6}, {UI_KEY_F(3), 100, 7}, {UI_KEY_F(3), 110, 8},
		{UI_KEY_F(2), 100, 7}, {UI_KEY_F(2), 90, 6}, {UI_KEY_F(2), 81, 5},
		{UI_KEY_F(3), 90, 6},
	};
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		ui_ctl_action(&ctl, ui_key_action(steps[i].key));
		ck_assert_int_eq(fe.cmds[fe.ncmds - 2].value, steps[i].sonnet);
		ck_assert_int_eq(fe.cmds[fe.ncmds - 1].value, steps[i].haiku);
		fe.snap.pool[0].dim[0].limit = steps[i].sonnet;
		fe.snap.pool[1].dim[0].limit = steps[i].haiku;
		fake_engine_publish(&fe);
		ui_ctl_pump(&ctl, 10);
	}
	ck_assert_str_eq(ctl.status,
	                 "RPM limit per minute: sonnet-4 81 -> 90, haiku-4-5 5 -> 6 (saved)");
	/* the budget keys too, though they step to whole cents */
	fe.snap.budget.day_limit_pusd = USD / 1000;
	fake_engine_publish(&fe);
	ui_ctl_pump(&ctl, 10);
	ui_ctl_action(&ctl, UI_ACT_BUDGET_UP);
	ck_assert_int_eq(fe.cmds[fe.ncmds - 1].value, USD / 100);
	fe.snap.budget.day_limit_pusd = USD / 100;
	fake_engine_publish(&fe);
	ui_ctl_pump(&ctl, 10);
	ui_ctl_action(&ctl, UI_ACT_BUDGET_DOWN);
	ck_assert_int_eq(fe.cmds[fe.ncmds - 1].value, USD / 1000);
	ck_assert_str_eq(ctl.status, "daily budget $0.01 -> $0.001 (saved)");
}
END_TEST

START_TEST(hotkeys_budget_pause_model_cache)
{
	ui_ctl_action(&ctl, UI_ACT_BUDGET_UP);
	ck_assert_int_eq(fe.ncmds, 0); /* no budget yet */
	ck_contains(ctl.status, "no daily budget is set");

	fe.snap.budget.day_limit_pusd = 10 * USD;
	fe.snap.cache.enabled = true;
	fake_engine_publish(&fe);
	ui_ctl_pump(&ctl, 10);
	ui_ctl_action(&ctl, ui_key_action(UI_KEY_F(9)));
	ui_ctl_action(&ctl, ui_key_action(UI_KEY_F(8)));
	ck_assert_int_eq(fe.cmds[0].value, 11 * USD);
	ck_assert_int_eq(fe.cmds[1].value, 9 * USD);
	ui_ctl_action(&ctl, UI_ACT_PAUSE);
	ck_assert_int_eq(fe.cmds[2].kind, AM_CMD_PAUSE);
	fe.snap.paused = true;
	fake_engine_publish(&fe);
	ui_ctl_pump(&ctl, 10);
	ui_ctl_action(&ctl, UI_ACT_PAUSE);
	ck_assert_int_eq(fe.cmds[3].kind, AM_CMD_RESUME);
	ui_ctl_action(&ctl, UI_ACT_CACHE);
	ck_assert_int_eq(fe.cmds[4].kind, AM_CMD_CACHE_OFF);

	/* The model key walks auto -> each model -> auto. */
	ui_ctl_action(&ctl, UI_ACT_MODEL);
	ck_assert_str_eq(fe.cmds[5].text, "claude-haiku-4-5");
	snprintf(fe.snap.model_mode, sizeof fe.snap.model_mode, "claude-opus-4-5");
	fake_engine_publish(&fe);
	ui_ctl_pump(&ctl, 10);
	ui_ctl_action(&ctl, UI_ACT_MODEL);
	ck_assert_str_eq(fe.cmds[6].text, "auto");
}
END_TEST

START_TEST(keys_map_to_actions)
{
	ck_assert_int_eq(ui_key_action(UI_KEY_F(1)), UI_ACT_HELP);
	ck_assert_int_eq(ui_key_action(UI_KEY_F(10)), UI_ACT_QUIT);
	ck_assert_int_eq(ui_key_action(UI_KEY_ALT('q')), UI_ACT_QUIT);
	ck_assert_int_eq(ui_key_action(UI_KEY_PGUP), UI_ACT_SCROLL_UP);
	ck_assert_int_eq(ui_key_action('a'), UI_ACT_NONE); /* typing is never a hotkey */
	ck_assert_int_eq(ui_key_action(UI_KEY_NONE), UI_ACT_NONE);
	ck_assert_uint_eq(ui_ctl_action(&ctl, UI_ACT_QUIT), UI_R_QUIT);
}
END_TEST

/* ---- prompts and the conversation ----------------------------------------------------- */

/* An answer cut short: its summary line marks the counts and cost estimated. */
START_TEST(a_cut_answer_is_marked_estimated)
{
	ui_ctl_line(&ctl, "hello");
	fake_engine_push(&fe, AM_EV_STARTED, 1, NULL);
	fake_engine_push(&fe, AM_EV_DELTA, 1, "Hi th");
	fake_engine_push_done(&fe, 1, "claude-haiku-4-5-20251001", 214, 2, 500000000LL, 800, false);
	fe.events[(fe.head + fe.nevents - 1) % FAKE_MAX_EVENTS].estimated = true;
	ui_ctl_pump(&ctl, 100);
	ck_contains(transcript(ctl.con, 80, 10), "haiku-4-5 · 214 in / \u22482 out · \u2248$0.0005 · 0.8s");
}
END_TEST

START_TEST(prompt_streams_and_converses)
{
	ui_ctl_line(&ctl, "hello");
	ck_assert_int_eq(fe.nsubmits, 1);
	ck_assert_int_eq(fe.nturns, 1);
	ck_assert_str_eq(fe.turn_role[0], "user");
	ck_assert_str_eq(fe.turn_text[0], "hello");
	ck_assert(fe.last_stream);
	ck_contains(transcript(ctl.con, 80, 10), "2|queued<cursor>\n");

	fake_engine_push(&fe, AM_EV_QUEUED, 1, NULL);
	fake_engine_push(&fe, AM_EV_WAITING, 1, "OTPM 1.2s");
	ck_assert_uint_eq(ui_ctl_pump(&ctl, 100) & UI_R_CONSOLE, UI_R_CONSOLE);
	ck_contains(transcript(ctl.con, 80, 10), "waiting for OTPM 1.2s<cursor>");

	fake_engine_push(&fe, AM_EV_STARTED, 1, NULL);
	fake_engine_push(&fe, AM_EV_DELTA, 1, "Hi caf\xc3");
	ui_ctl_pump(&ctl, 100);
	const char *t = transcript(ctl.con, 80, 10);
	ck_contains(t, "|Hi caf<cursor>"); /* half a character is held back */
	fake_engine_push(&fe, AM_EV_DELTA, 1, "\xa9 \x1b[2Jthere");
	fake_engine_push_done(&fe, 1, "claude-haiku-4-5-20251001", 214, 61, 500000000LL, 800, false);
	ui_ctl_pump(&ctl, 100);
	t = transcript(ctl.con, 80, 10);
	ck_contains(t, "|Hi café ^[[2Jthere\n");
	ck_contains(t, "haiku-4-5 · 214 in / 61 out · $0.0005 · 0.8s");
	ck_assert_ptr_null(strstr(t, "<cursor>"));
	ck_assert_int_eq(ui_console_turns(ctl.con), 1);
	/* the figures again where the answer ends */
	ck_contains(t, "|Hi café ^[[2Jthere\n7|└ haiku-4-5 · 214 in / 61 out · $0.0005 · 0.8s\n");
	int64_t tokens, cost;
	bool unknown;
	ui_console_context(ctl.con, &tokens, &cost, &unknown);
	ck_assert_int_eq(tokens, 275);
	ck_assert_int_eq(cost, 500000000LL);
	ck_assert(!unknown);

	/* The next prompt carries the conversation, raw answer included. */
	ui_ctl_line(&ctl, "and more?");
	ck_assert_int_eq(fe.nturns, 3);
	ck_assert_str_eq(fe.turn_role[1], "assistant");
	ck_assert_str_eq(fe.turn_text[1], "Hi caf\xc3\xa9 \x1b[2Jthere");
	ck_assert_str_eq(fe.turn_text[2], "and more?");

	/* A failed turn is shown and left out of the conversation. */
	fake_engine_push(&fe, AM_EV_FAILED, 2, "overloaded");
	ui_ctl_pump(&ctl, 100);
	ck_contains(transcript(ctl.con, 80, 20), "overloaded");
	ui_ctl_line(&ctl, "third");
	ck_assert_int_eq(fe.nturns, 3);
	ck_assert_str_eq(fe.turn_text[2], "third");

	/* /new forgets it all. */
	ui_ctl_line(&ctl, "/new");
	ui_ctl_line(&ctl, "fresh");
	ck_assert_int_eq(fe.nturns, 1);
	ck_assert_str_eq(fe.turn_text[0], "fresh");
	ck_assert_int_eq(ui_console_turns(ctl.con), 0);
	ui_console_context(ctl.con, &tokens, &cost, &unknown);
	ck_assert_int_eq(tokens + cost, 0);
	/* "//" sends a prompt that starts with a slash */
	ui_ctl_line(&ctl, "//etc/hosts?");
	ck_assert_str_eq(fe.turn_text[0], "/etc/hosts?");
}
END_TEST

/* The console's memory: each line typed, each exchange that ends (prompt,
 * raw answer, summary, context, cost) and /new reach the engine's
 * remember; at start recall puts the kept lines in the input's history and
 * the last conversation back in the console, sanitised, and the next
 * prompt goes on from it. */
static char recalled[4][64];
static int nrecalled;

static void take_recalled(void *ctx, const char *line)
{
	(void)ctx;
	snprintf(recalled[nrecalled++ % 4], sizeof recalled[0], "%s", line);
}

START_TEST(memory_is_kept_and_recalled)
{
	ui_ctl_remember_input(&ctl, "hello");
	ui_ctl_remember_input(&ctl, "   ");
	ui_ctl_line(&ctl, "hello");
	fake_engine_push(&fe, AM_EV_DELTA, 1, "Hi \x1b[2Jthere");
	fake_engine_push_done(&fe, 1, "claude-haiku-4-5-20251001", 214, 61, 500000000LL, 800, false);
	ui_ctl_pump(&ctl, 100);
	ui_ctl_line(&ctl, "/new");
	ck_assert_int_eq(fe.nmemos, 3);
	ck_assert_int_eq(fe.memos[0].kind, AM_MEMO_INPUT);
	ck_assert_str_eq(fe.memos[0].text, "hello");
	ck_assert_int_eq(fe.memos[1].kind, AM_MEMO_EXCHANGE);
	ck_assert_str_eq(fe.memos[1].text, "hello");
	ck_assert_str_eq(fe.memos[1].answer, "Hi \x1b[2Jthere");
	ck_assert_str_eq(fe.memos[1].summary, "└ haiku-4-5 · 214 in / 61 out · $0.0005 · 0.8s");
	ck_assert_int_eq(fe.memos[1].tokens, 275);
	ck_assert_int_eq(fe.memos[1].cost_pusd, 500000000LL);
	ck_assert_int_eq(fe.memos[2].kind, AM_MEMO_FORGET);

	/* a new start on what was kept */
	ui_ctl_done(&ctl);
	fe.recall.ninputs = 2;
	fe.recall.inputs = calloc(2, sizeof *fe.recall.inputs);
	fe.recall.inputs[0] = strdup("first line");
	fe.recall.inputs[1] = strdup("/rpm 40");
	fe.recall.nex = 1;
	fe.recall.ex = calloc(1, sizeof *fe.recall.ex);
	fe.recall.ex[0] = (am_memo_exchange){strdup("what is a token?"), strdup("A piece \x1b]0;x\x07of text."),
	                                     strdup("└ haiku-4-5 · 9 in / 87 out · $0.0004"), 96,
	                                     444000000LL, true};
	ui_ctl_init(&ctl, &fe.ops, false, NULL, 0);
	ui_ctl_pump(&ctl, 100);
	nrecalled = 0;
	ui_ctl_recall(&ctl, take_recalled, NULL);
	ck_assert_int_eq(nrecalled, 2);
	ck_assert_str_eq(recalled[0], "first line");
	ck_assert_str_eq(recalled[1], "/rpm 40");
	const char *t = transcript(ctl.con, 80, 10);
	ck_contains(t, "what is a token?");
	ck_contains(t, "A piece ^[]0;x^Gof text.");
	ck_contains(t, "└ haiku-4-5 · 9 in / 87 out · $0.0004");
	ck_contains(t, "kept from the previous run");
	int64_t tokens, cost;
	bool unknown;
	ui_console_context(ctl.con, &tokens, &cost, &unknown);
	ck_assert_int_eq(tokens, 96);
	ck_assert_int_eq(cost, 444000000LL);
	ck_assert_int_eq(ui_console_turns(ctl.con), 1);
	ui_ctl_line(&ctl, "and then?");
	ck_assert_int_eq(fe.nturns, 3);
	ck_assert_str_eq(fe.turn_text[0], "what is a token?");
	ck_assert_str_eq(fe.turn_text[1], "A piece \x1b]0;x\x07of text."); /* sent as received */
	/* recall gives it once */
	nrecalled = 0;
	ui_ctl_recall(&ctl, take_recalled, NULL);
	ck_assert_int_eq(nrecalled, 0);
}
END_TEST

/* A text's size in a JSON request, and the conversation's: escapes count
 * twice (six for other controls), each turn its framing. */
START_TEST(request_bytes)
{
	ck_assert_int_eq(ui_json_bytes("abc"), 3);
	ck_assert_int_eq(ui_json_bytes("a\"b\\c\nd\te"), 13);
	ck_assert_int_eq(ui_json_bytes("\x1b"), 6);
	ck_assert_int_eq(ui_json_bytes("caf\xc3\xa9"), 5);
	int64_t empty = ui_console_context_bytes(ctl.con);
	ui_ctl_line(&ctl, "hello");
	fake_engine_push(&fe, AM_EV_DELTA, 1, "Hi \"there\"");
	fake_engine_push_done(&fe, 1, "claude-haiku-4-5", 10, 5, 1, 100, false);
	ui_ctl_pump(&ctl, 100);
	ck_assert_int_ge(ui_console_context_bytes(ctl.con), empty + 5 + 12);
	ui_ctl_line(&ctl, "/new");
	ck_assert_int_eq(ui_console_context_bytes(ctl.con), empty);
}
END_TEST

START_TEST(submit_refused)
{
	fe.refuse_submit = "the queue is full";
	ui_ctl_line(&ctl, "hello");
	const char *t = transcript(ctl.con, 80, 10);
	ck_contains(t, "not sent");
	ck_contains(t, "the queue is full");
	ck_assert_int_eq(ui_console_running(ctl.con), 0);
	fe.refuse_submit = NULL;
	ui_ctl_line(&ctl, "again");
	ck_assert_int_eq(fe.nturns, 1); /* the refused turn is not in the talk */
}
END_TEST

START_TEST(notices_and_unknown_jobs)
{
	fake_engine_push(&fe, AM_EV_NOTICE, 0, "settings saved");
	fake_engine_push(&fe, AM_EV_ALERT, 0, "80% of today's budget");
	fake_engine_push(&fe, AM_EV_DELTA, 99, "stray");
	fake_engine_push(&fe, AM_EV_FAILED, 98, "boom");
	ui_ctl_pump(&ctl, 100);
	const char *t = transcript(ctl.con, 80, 10);
	ck_contains(t, "settings saved");
	ck_contains(t, "80% of today's budget");
	ck_contains(t, "job 98 failed: boom");
	ck_assert_ptr_null(strstr(t, "stray"));
}
END_TEST

START_TEST(pump_is_bounded_and_dirty_bits_precise)
{
	for (int i = 0; i < 40; i++)
		fake_engine_push(&fe, AM_EV_NOTICE, 0, "n");
	ui_ctl_pump(&ctl, 16);
	ck_assert(ctl.more);
	ck_assert_int_eq(fe.nevents, 24);
	ui_ctl_pump(&ctl, 100);
	ck_assert(!ctl.more);
	ck_assert_int_eq(fe.nevents, 0);

	fe.snap.budget.day_spent_pusd = 3 * USD;
	fake_engine_publish(&fe);
	unsigned d = ui_ctl_pump(&ctl, 100);
	ck_assert_uint_eq(d, UI_R_BUDGET);
	fe.snap.cache.hits++;
	fake_engine_publish(&fe);
	d = ui_ctl_pump(&ctl, 100);
	ck_assert_uint_eq(d, UI_R_HEADER | UI_R_CACHE);
	fake_engine_add_pool(&fe, "p", 1, 2, 3);
	fake_engine_publish(&fe);
	d = ui_ctl_pump(&ctl, 100);
	ck_assert_uint_eq(d & (UI_R_LIMITS | UI_R_LAYOUT), UI_R_LIMITS | UI_R_LAYOUT);
	/* same sequence: nothing to repaint */
	ck_assert_uint_eq(ui_ctl_pump(&ctl, 100), 0);
}
END_TEST

START_TEST(console_scrolls_and_bounds)
{
	ui_console *c = ui_console_new(false);
	for (int i = 0; i < 50; i++) {
		char line[32];
		snprintf(line, sizeof line, "line %d", i);
		ui_console_add(c, UI_TX_NOTICE, line);
	}
	struct tx t = {{0}};
	int max = ui_console_render(c, 40, 10, 0, tx_line, &t);
	ck_assert_int_eq(max, 40);
	ck_contains(t.buf, "line 49");
	t.buf[0] = '\0';
	ui_console_render(c, 40, 10, 40, tx_line, &t);
	ck_contains(t.buf, "line 0\n");
	ck_assert_ptr_null(strstr(t.buf, "line 10"));
	t.buf[0] = '\0';
	ui_console_render(c, 40, 10, 1000, tx_line, &t); /* clamped */
	ck_contains(t.buf, "line 0\n");
	/* entries are bounded: the oldest go */
	for (int i = 0; i < UI_CON_MAX_ENTRIES + 100; i++)
		ui_console_add(c, UI_TX_NOTICE, "x");
	ck_assert_int_le(ui_console_entries(c), UI_CON_MAX_ENTRIES);
	ui_console_free(c);
}
END_TEST

START_TEST(console_shows_proxied_calls)
{
	/* A call another program sent through the proxy is no job of the
	 * console's: it gets one line - tag, model, tokens, cost, latency. */
	ui_console *c = ui_console_new(true);
	am_event ev;
	memset(&ev, 0, sizeof ev);
	ev.kind = AM_EV_DONE;
	ev.job_id = 77;
	snprintf(ev.reason, sizeof ev.reason, "proxy nightly-evals");
	snprintf(ev.model, sizeof ev.model, "claude-haiku-4-5-20251001\x1b]0;x\x07");
	ev.usage.input_tokens = 12;
	ev.usage.output_tokens = 48;
	ev.cost_pusd = 252000000;
	ev.price_known = true;
	ev.latency_ms = 1200;
	ck_assert(ui_console_event(c, &ev));
	struct tx t = {{0}};
	ui_console_render(c, 120, 5, 0, tx_line, &t);
	ck_contains(t.buf, "proxy nightly-evals - claude-haiku-4-5-20251001");
	ck_contains(t.buf, "12 in / 48 out - $0.0003 - 1.2s");
	ck_assert_ptr_null(strchr(t.buf, '\x1b')); /* the model name came from outside */
	ui_console_free(c);
}
END_TEST

/* ---- the line editor ----------------------------------------------------------------- */

static char *take(ui_editor *ed)
{
	static char buf[256];
	char *s = ui_editor_take(ed);
	snprintf(buf, sizeof buf, "%s", s);
	free(s);
	return buf;
}

static void type(ui_editor *ed, const wchar_t *s)
{
	for (; *s; s++)
		ui_editor_insert(ed, *s);
}

START_TEST(editor_editing)
{
	ui_editor *ed = ui_editor_new();
	type(ed, L"hello world");
	ui_editor_op(ed, UI_ED_KILL_WORD);
	ck_assert_str_eq(take(ed), "hello ");
	type(ed, L"abc");
	ui_editor_op(ed, UI_ED_LEFT);
	ui_editor_op(ed, UI_ED_BACKSPACE);
	ui_editor_insert(ed, L'X');
	ui_editor_op(ed, UI_ED_HOME);
	ui_editor_op(ed, UI_ED_DELETE);
	ui_editor_op(ed, UI_ED_END);
	ui_editor_insert(ed, L'!');
	ck_assert_str_eq(take(ed), "Xc!");
	type(ed, L"one two");
	ui_editor_op(ed, UI_ED_LEFT);
	ui_editor_op(ed, UI_ED_KILL_LINE);
	ck_assert_str_eq(take(ed), "o");
	type(ed, L"日本");
	ck_assert(!ui_editor_insert(ed, L'\x1b')); /* control characters are not typed */
	ck_assert_str_eq(take(ed), "日本");
	ck_assert(!ui_editor_op(ed, UI_ED_BACKSPACE));
	ui_editor_free(ed);
}
END_TEST

START_TEST(editor_history)
{
	ui_editor *ed = ui_editor_new();
	type(ed, L"first");
	free(ui_editor_take(ed));
	type(ed, L"second");
	free(ui_editor_take(ed));
	type(ed, L"second"); /* a repeat is not stored twice */
	free(ui_editor_take(ed));
	type(ed, L"draft");
	ui_editor_op(ed, UI_ED_HIST_PREV);
	ui_editor_op(ed, UI_ED_HIST_PREV);
	ck_assert(!ui_editor_op(ed, UI_ED_HIST_PREV));
	ui_editor_op(ed, UI_ED_HIST_NEXT);
	ui_editor_op(ed, UI_ED_HIST_NEXT); /* back to the draft */
	ck_assert_str_eq(take(ed), "draft");
	ui_editor_op(ed, UI_ED_HIST_PREV);
	ck_assert_str_eq(take(ed), "draft");
	ui_editor_free(ed);
}
END_TEST

START_TEST(editor_view_scrolls)
{
	ui_editor *ed = ui_editor_new();
	char buf[128];
	int col;
	type(ed, L"abcdefghij");
	ui_editor_view(ed, 5, "|", buf, sizeof buf, &col);
	ck_assert_str_eq(buf, "ghij");
	ck_assert_int_eq(col, 4);
	ui_editor_op(ed, UI_ED_HOME);
	ui_editor_view(ed, 5, "|", buf, sizeof buf, &col);
	ck_assert_str_eq(buf, "abcde");
	ck_assert_int_eq(col, 0);
	take(ed);
	type(ed, L"日本語");
	ui_editor_view(ed, 10, "|", buf, sizeof buf, &col);
	ck_assert_int_eq(col, 6); /* wide characters take two cells */
	ui_editor_free(ed);
}
END_TEST

/* A long text, several lines of it, neither cut nor split: what is taken
 * is what went in, byte for byte. */
START_TEST(editor_holds_long_multiline_text)
{
	ui_editor *ed = ui_editor_new();
	size_t n = 20000;
	char *in = malloc(n + 1), *want = malloc(n + 1);
	for (size_t i = 0; i < n; i++) {
		in[i] = i % 100 == 99 ? '\r' : (char)('a' + i % 26);
		want[i] = in[i] == '\r' ? '\n' : in[i];
	}
	in[n] = want[n] = '\0';
	ck_assert_int_eq(ui_editor_insert_text(ed, in, n), (long)n);
	ck_assert_int_eq(ui_editor_len(ed), (int)n);
	ck_assert_int_eq(ui_editor_lines(ed), (int)(n / 100) + 1);
	char *got = ui_editor_take(ed);
	ck_assert_str_eq(got, want);
	free(got);
	/* typed keys are not cut either, and a newline is one of them */
	for (size_t i = 0; i < n; i++)
		ck_assert(ui_editor_insert(ed, i == 5000 ? L'\n' : L'x'));
	ck_assert_int_eq(ui_editor_len(ed), (int)n);
	ck_assert_int_eq(ui_editor_lines(ed), 2);
	/* a block that does not fit is refused whole */
	ck_assert_int_eq(ui_editor_len(ed), (int)n);
	char *big = malloc(UI_ED_MAX);
	memset(big, 'y', UI_ED_MAX);
	ck_assert_int_eq(ui_editor_insert_text(ed, big, UI_ED_MAX), -1);
	ck_assert_int_eq(ui_editor_len(ed), (int)n);
	free(ui_editor_take(ed));
	ck_assert_int_eq(ui_editor_insert_text(ed, big, UI_ED_MAX), UI_ED_MAX);
	ck_assert(!ui_editor_insert(ed, L'z'));
	ck_assert_int_eq(ui_editor_len(ed), UI_ED_MAX);
	free(ui_editor_take(ed));
	/* CR LF is one newline; escape bytes in a paste are dropped */
	const char *mixed = "a\r\nb\x1b[31mc\td";
	ck_assert_int_eq(ui_editor_insert_text(ed, mixed, strlen(mixed)), 10);
	char buf[64];
	int col;
	ui_editor_view(ed, 40, "|", buf, sizeof buf, &col);
	ck_assert_str_eq(buf, "a|b[31mc d");
	got = ui_editor_take(ed);
	ck_assert_str_eq(got, "a\nb[31mc\td");
	free(got);
	free(big);
	free(in);
	free(want);
	ui_editor_free(ed);
}
END_TEST

struct rows {
	char buf[512];
};

static void row_cb(void *ctx, int row, const char *text)
{
	struct rows *r = ctx;
	size_t n = strlen(r->buf);
	snprintf(r->buf + n, sizeof r->buf - n, "%d:%s\n", row, text);
}

/* Up and Down move between the lines of a prompt, then walk the history;
 * the rows view shows the window of lines that holds the cursor. */
START_TEST(editor_lines_and_rows)
{
	ui_editor *ed = ui_editor_new();
	type(ed, L"earlier");
	free(ui_editor_take(ed));
	const char *text = "one\ntwo two\nthree\nfour";
	ui_editor_insert_text(ed, text, strlen(text));
	struct rows r = {""};
	int row, col;
	ck_assert_int_eq(ui_editor_view_rows(ed, 20, 2, row_cb, &r, &row, &col), 2);
	ck_assert_str_eq(r.buf, "0:three\n1:four\n");
	ck_assert_int_eq(row, 1);
	ck_assert_int_eq(col, 4);
	ck_assert(ui_editor_op(ed, UI_ED_UP)); /* to "three", column 4 */
	ck_assert(ui_editor_op(ed, UI_ED_UP)); /* "two two", column 4 */
	ui_editor_insert(ed, L'X');
	r.buf[0] = '\0';
	ui_editor_view_rows(ed, 20, 3, row_cb, &r, &row, &col);
	ck_assert_str_eq(r.buf, "0:two Xtwo\n1:three\n2:four\n");
	ck_assert_int_eq(row, 0);
	ck_assert_int_eq(col, 5);
	ck_assert(ui_editor_op(ed, UI_ED_UP)); /* "one" is shorter: its end */
	ck_assert(ui_editor_op(ed, UI_ED_DOWN));
	ck_assert(ui_editor_op(ed, UI_ED_UP));
	ck_assert(ui_editor_op(ed, UI_ED_UP)); /* past the first line: the history */
	ck_assert_str_eq(take(ed), "earlier");
	/* a line wider than the field scrolls to the cursor */
	type(ed, L"abcdefghij");
	r.buf[0] = '\0';
	ui_editor_view_rows(ed, 5, 3, row_cb, &r, &row, &col);
	ck_assert_str_eq(r.buf, "0:ghij\n");
	ck_assert_int_eq(col, 4);
	ui_editor_free(ed);
}
END_TEST

/* ---- escape sequences curses left over ------------------------------------------------- */

static ui_esc esc(const char *s)
{
	size_t n = strlen(s);
	/* fed one byte at a time, as the reader does */
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(!ui_esc_complete(s, i) || i == n, "'%s' complete after %zu", s, i);
	ck_assert_msg(ui_esc_complete(s, n), "'%s' not complete", s);
	return ui_esc_decode(s, n);
}

START_TEST(escape_sequences)
{
	ck_assert_int_eq(esc("[4~").kind, UI_ESC_END); /* tmux's End */
	ck_assert_int_eq(esc("[8~").kind, UI_ESC_END);
	ck_assert_int_eq(esc("[F").kind, UI_ESC_END);
	ck_assert_int_eq(esc("OF").kind, UI_ESC_END);
	ck_assert_int_eq(esc("[1;5F").kind, UI_ESC_END);
	ck_assert_int_eq(esc("[1~").kind, UI_ESC_HOME);
	ck_assert_int_eq(esc("[7~").kind, UI_ESC_HOME);
	ck_assert_int_eq(esc("OH").kind, UI_ESC_HOME);
	ck_assert_int_eq(esc("[H").kind, UI_ESC_HOME);
	ck_assert_int_eq(esc("[3~").kind, UI_ESC_DELETE);
	ck_assert_int_eq(esc("[3;5~").kind, UI_ESC_DELETE);
	ck_assert_int_eq(esc("[5~").kind, UI_ESC_PGUP);
	ck_assert_int_eq(esc("[6~").kind, UI_ESC_PGDN);
	ck_assert_int_eq(esc("[200~").kind, UI_ESC_PASTE_BEGIN);
	ck_assert_int_eq(esc("[201~").kind, UI_ESC_PASTE_END);
	ck_assert_int_eq(esc("[27;2;13~").kind, UI_ESC_NEWLINE); /* Shift-Enter */
	ck_assert_int_eq(esc("[13;2u").kind, UI_ESC_NEWLINE);
	ck_assert_int_eq(esc("\r").kind, UI_ESC_NEWLINE); /* Alt-Enter */
	ck_assert_int_eq(esc("[21~").ch, 10);
	ck_assert_int_eq(esc("OP").ch, 1);
	ui_esc a = esc("r");
	ck_assert_int_eq(a.kind, UI_ESC_ALT);
	ck_assert_int_eq(a.ch, 'r');
	/* unknown ones are swallowed whole, whatever their length */
	ck_assert_int_eq(esc("[2~").kind, UI_ESC_NONE);
	ck_assert_int_eq(esc("[?1;2c").kind, UI_ESC_NONE);
	ck_assert_int_eq(esc("[1;2P").kind, UI_ESC_NONE);
	ck_assert_int_eq(esc("[99;99;99;99;99~").kind, UI_ESC_NONE);
	ck_assert_int_eq(esc("[[A").kind, UI_ESC_NONE);
	ck_assert_int_eq(esc("Oz").kind, UI_ESC_NONE);
	/* ESC alone, and ESC O with nothing after it (Alt-O) */
	ck_assert_int_eq(ui_esc_decode("", 0).kind, UI_ESC_ALONE);
	ck_assert(!ui_esc_complete("O", 1));
	ck_assert_int_eq(ui_esc_decode("O", 1).kind, UI_ESC_ALT);
	ck_assert_int_eq(ui_esc_decode("[12", 3).kind, UI_ESC_NONE);
}
END_TEST

/* ---- the command table ------------------------------------------------------------------ */

START_TEST(table_is_complete)
{
	char hints[512], name[16];
	ui_hints_text(hints, sizeof hints);
	ck_contains(hints, "F1 help");
	ck_contains(hints, "F10 quit");
	ck_contains(hints, "F2/F3 RPM -/+");
	ui_key_name(UI_KEY_ALT('m'), name, sizeof name);
	ck_assert_str_eq(name, "Alt-m");
	ui_key_name(UI_KEY_F(12), name, sizeof name);
	ck_assert_str_eq(name, "F12");

	/* no key is bound twice */
	int keys[] = {
#define K(act, key, alt, hint, help) key, alt,
		UI_HOTKEYS(K)
#undef K
	};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		for (size_t j = i + 1; j < sizeof keys / sizeof keys[0]; j++)
			ck_assert_msg(keys[i] == UI_KEY_NONE || keys[i] != keys[j], "key %d bound twice",
			              keys[i]);

	char *md = NULL;
	size_t mdlen = 0;
	FILE *f = open_memstream(&md, &mdlen);
	ui_keys_markdown(f);
	fclose(f);
	static const char *const names[] = {
#define C(id, name, args, help) name,
		UI_COMMANDS(C)
#undef C
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		char needle[32];
		snprintf(needle, sizeof needle, "| `/%s", names[i]);
		ck_contains(md, needle);
	}
	ck_contains(md, "`/model auto\\|ID`"); /* '|' escaped inside the table */
	ck_contains(md, "| F10 | Alt-q |");
	free(md);
}
END_TEST

START_TEST(steps)
{
	ck_assert_int_eq(ui_step_up(50), 55);
	ck_assert_int_eq(ui_step_down(50), 45);
	ck_assert_int_eq(ui_step_up(1), 2);
	ck_assert_int_eq(ui_step_down(1), 1);
	ck_assert_int_eq(ui_step_down(5), 4);
	ck_assert_int_eq(ui_step_up(0), 1);
	ck_assert_int_gt(ui_step_up(INT64_MAX / 2), INT64_MAX / 2);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("ui_control");
	TCase *t = tcase_create("control");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, commands_reach_engine);
	tcase_add_test(t, a_tag_budget_reaches_engine);
	tcase_add_test(t, bad_commands_show_errors);
	tcase_add_test(t, local_commands);
	tcase_add_test(t, tag_tags_the_next_prompts);
	tcase_add_test(t, zero_limit_is_none);
	tcase_add_test(t, tab_completes);
	tcase_add_test(t, cancel_prompts);
	tcase_add_test(t, engine_refusal_is_shown);
	tcase_add_test(t, hotkeys_step_each_pool);
	tcase_add_test(t, hotkey_steps_undo_each_other);
	tcase_add_test(t, hotkeys_budget_pause_model_cache);
	tcase_add_test(t, keys_map_to_actions);
	tcase_add_test(t, prompt_streams_and_converses);
	tcase_add_test(t, memory_is_kept_and_recalled);
	tcase_add_test(t, request_bytes);
	tcase_add_test(t, a_cut_answer_is_marked_estimated);
	tcase_add_test(t, submit_refused);
	tcase_add_test(t, notices_and_unknown_jobs);
	tcase_add_test(t, pump_is_bounded_and_dirty_bits_precise);
	suite_add_tcase(s, t);
	TCase *m = tcase_create("models");
	tcase_add_test(m, console_scrolls_and_bounds);
tcase_add_test(m, console_shows_proxied_calls);
	tcase_add_test(m, editor_holds_long_multiline_text);
	tcase_add_test(m, escape_sequences);
	tcase_add_test(m, editor_lines_and_rows);
	tcase_add_test(m, editor_editing);
	tcase_add_test(m, editor_history);
	tcase_add_test(m, editor_view_scrolls);
	tcase_add_test(m, table_is_complete);
	tcase_add_test(m, steps);
	suite_add_tcase(s, m);
	return s;
}

int main(void)
{
	/* wcwidth needs an UTF-8 LC_CTYPE, as the UI sets at start. */
	if (!check_utf8_locale())
		return EXIT_FAILURE;
	return check_run(suite());
}
