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
	const char *t = transcript(ctl.con, 100, 40);
	ck_contains(t, "RPM limit 10 per minute for every pool (saved)");
	ck_contains(t, "daily budget $5.00 (saved)");
	ck_assert_int_eq(fe.nsubmits, 0);
}
END_TEST

START_TEST(bad_commands_show_errors)
{
	static const char *const bad[] = {"/rpm",        "/rpm abc",    "/rpm 0",      "/rpm -3",
	                                  "/rpm 5 a b",  "/budget",     "/budget -5",  "/budget x",
	                                  "/budget 1.0000000000001",    "/alert 0",    "/alert 101",
	                                  "/model",      "/cache maybe", "/pause now",  "/frob",
	                                  "/rpm10"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		unsigned r = ui_ctl_line(&ctl, bad[i]);
		ck_assert_msg(r & UI_R_CONSOLE, "%s", bad[i]);
	}
	ck_assert_int_eq(fe.ncmds, 0);
	ck_assert_int_eq(fe.nsubmits, 0);
	const char *t = transcript(ctl.con, 120, 60);
	ck_contains(t, "unknown command '/frob': try /help");
	ck_contains(t, "/rpm N [POOL]: needs a whole number of requests per minute");
	ck_contains(t, "a budget cannot be negative");
	/* every error is an error line */
	int lines = 0;
	for (const char *p = t; (p = strstr(p, "\n")); p++)
		lines++;
	ck_assert_int_eq(lines, (int)(sizeof bad / sizeof bad[0]));
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

START_TEST(engine_refusal_is_shown)
{
	fe.refuse_commands = "unknown model 'claude-x'";
	ui_ctl_line(&ctl, "/model claude-x");
	ck_contains(transcript(ctl.con, 100, 10), "unknown model 'claude-x'");
	ck_assert_int_eq(fe.ncmds, 0);
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
	ck_contains(transcript(ctl.con, 100, 10), "RPM 50 -> 55 per minute (sonnet-4)");
}
END_TEST

START_TEST(hotkeys_budget_pause_model_cache)
{
	ui_ctl_action(&ctl, UI_ACT_BUDGET_UP);
	ck_assert_int_eq(fe.ncmds, 0); /* no budget yet */
	ck_contains(transcript(ctl.con, 100, 10), "no daily budget is set");

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
	/* "//" sends a prompt that starts with a slash */
	ui_ctl_line(&ctl, "//etc/hosts?");
	ck_assert_str_eq(fe.turn_text[0], "/etc/hosts?");
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
	ui_editor_view(ed, 5, buf, sizeof buf, &col);
	ck_assert_str_eq(buf, "ghij");
	ck_assert_int_eq(col, 4);
	ui_editor_op(ed, UI_ED_HOME);
	ui_editor_view(ed, 5, buf, sizeof buf, &col);
	ck_assert_str_eq(buf, "abcde");
	ck_assert_int_eq(col, 0);
	take(ed);
	type(ed, L"日本語");
	ui_editor_view(ed, 10, buf, sizeof buf, &col);
	ck_assert_int_eq(col, 6); /* wide characters take two cells */
	ui_editor_free(ed);
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
	tcase_add_test(t, bad_commands_show_errors);
	tcase_add_test(t, local_commands);
	tcase_add_test(t, engine_refusal_is_shown);
	tcase_add_test(t, hotkeys_step_each_pool);
	tcase_add_test(t, hotkeys_budget_pause_model_cache);
	tcase_add_test(t, keys_map_to_actions);
	tcase_add_test(t, prompt_streams_and_converses);
	tcase_add_test(t, a_cut_answer_is_marked_estimated);
	tcase_add_test(t, submit_refused);
	tcase_add_test(t, notices_and_unknown_jobs);
	tcase_add_test(t, pump_is_bounded_and_dirty_bits_precise);
	suite_add_tcase(s, t);
	TCase *m = tcase_create("models");
	tcase_add_test(m, console_scrolls_and_bounds);
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
