/* cmdtab: the parser for input-line commands and the generators of the
 * key map, hint line, help screen and README tables, all driven by the
 * tables in commands.h. Pure text in, data out. */
#include "cmdtab.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dims.h"
#include "fmt.h"
#include "money.h"
#include "tag.h"

/* The limit commands and their keys follow the dimensions' table (dims.h),
 * so a command or key maps to its dimension by its offset. */
_Static_assert(UI_CMD_ITPM - UI_CMD_RPM == AM_DIM_ITPM && UI_CMD_OTPM - UI_CMD_RPM == AM_DIM_OTPM,
               "the limit commands follow dims.h");
_Static_assert((UI_ACT_ITPM_DOWN - UI_ACT_RPM_DOWN) / 2 == AM_DIM_ITPM &&
                   (UI_ACT_OTPM_DOWN - UI_ACT_RPM_DOWN) / 2 == AM_DIM_OTPM &&
                   UI_ACT_RPM_UP == UI_ACT_RPM_DOWN + 1 && UI_ACT_OTPM_UP == UI_ACT_OTPM_DOWN + 1,
               "the limit keys come in down/up pairs in dims.h's order");

struct cmd_info {
	const char *name, *args, *help;
};

static const struct cmd_info cmd_info[UI_CMD_COUNT] = {
#define UI_CMD_INFO(id, name, args, help) [UI_CMD_##id] = {name, args, help},
	UI_COMMANDS(UI_CMD_INFO)
#undef UI_CMD_INFO
};

struct key_info {
	ui_act act;
	int key, alt;
	const char *hint, *help;
};

static const struct key_info key_info[] = {
#define UI_KEY_INFO(act, key, alt, hint, help) {UI_ACT_##act, key, alt, hint, help},
	UI_HOTKEYS(UI_KEY_INFO)
#undef UI_KEY_INFO
};
#define NKEYS (sizeof key_info / sizeof key_info[0])

bool ui_cmd_is_command(const char *line)
{
	while (*line == ' ')
		line++;
	return line[0] == '/' && line[1] != '/';
}

/* Splits the argument string into at most `max` words; returns the count,
 * or max + 1 when there are more. Words are copied into w (bounded). */
static int split_args(const char *s, char w[][128], int max)
{
	int n = 0;
	while (*s) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s)
			break;
		if (n == max)
			return max + 1;
		size_t k = 0;
		while (*s && *s != ' ' && *s != '\t') {
			if (k < 127)
				w[n][k++] = *s;
			s++;
		}
		w[n][k] = '\0';
		n++;
	}
	return n;
}

/* A whole number in [lo, hi]. On error, why goes into why: something
 * after the digits, or out of range; "" when s is no number at all (the
 * caller says what it wants). */
static int parse_count(const char *s, int64_t lo, int64_t hi, int64_t *out, char *why, size_t n)
{
	char *end, lo_s[32], hi_s[32];
	why[0] = '\0';
	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (*end) {
		snprintf(why, n, "'%.40s' has '%.20s' after the number", s, end);
		return -1;
	}
	fmt_count(lo_s, sizeof lo_s, lo);
	fmt_count(hi_s, sizeof hi_s, hi);
	if (errno == ERANGE || v > hi) {
		snprintf(why, n, "%.40s is too large: at most %s", s, hi_s);
		return -1;
	}
	if (v < lo) {
		snprintf(why, n, "%.40s is too small: at least %s", s, lo_s);
		return -1;
	}
	*out = v;
	return 0;
}

static int usage_err(am_err *err, ui_cmd_id id, const char *why)
{
	return am_err_set(err, "/%s %s: %s", cmd_info[id].name, cmd_info[id].args, why);
}

int ui_cmd_parse(const char *line, ui_cmd *out, am_err *err)
{
	char name[32], w[2][128];
	size_t k = 0;
	memset(out, 0, sizeof *out);
	while (*line == ' ')
		line++;
	if (*line != '/')
		return am_err_set(err, "not a command");
	line++;
	while (*line && *line != ' ' && *line != '\t' && k < sizeof name - 1)
		name[k++] = (char)tolower((unsigned char)*line++);
	name[k] = '\0';
	if (*line && *line != ' ' && *line != '\t')
		return am_err_set(err, "unknown command: try /help");
	int id = -1;
	for (int i = 0; i < UI_CMD_COUNT; i++)
		if (!strcmp(name, cmd_info[i].name))
			id = i;
	if (id < 0) {
		char shown[40];
		/* The name is the user's own typing; keep it printable. */
		for (k = 0; name[k] && k < sizeof shown - 1; k++)
			shown[k] = isprint((unsigned char)name[k]) ? name[k] : '?';
		shown[k] = '\0';
		return am_err_set(err, "unknown command '/%s': try /help", shown);
	}
	int nargs = split_args(line, w, 2);
	out->id = (ui_cmd_id)id;
	am_command *c = &out->engine;
	c->persist = true;

	switch ((ui_cmd_id)id) {
	case UI_CMD_RPM:
	case UI_CMD_ITPM:
	case UI_CMD_OTPM: {
		int idx = id - UI_CMD_RPM; /* an am_dim: the commands follow dims.h */
		char why[160];
		/* 0 is no limit, as in the config file. */
		if (nargs < 1 || nargs > 2 ||
		    parse_count(w[0], 0, 1000000000000LL, &c->value, why, sizeof why)) {
			if (!why[0])
				snprintf(why, sizeof why,
				         "needs a whole number of %s per minute (0 = no limit)",
				         am_dim_info_of((am_dim)idx)->unit);
			return usage_err(err, (ui_cmd_id)id, why);
		}
		c->kind = (am_cmd_kind)(AM_CMD_SET_RPM + idx);
		if (nargs == 2)
			snprintf(c->pool, sizeof c->pool, "%s", w[1]);
		out->has_engine_cmd = true;
		return 0;
	}
	case UI_CMD_BUDGET:
	case UI_CMD_MONTH: {
		/* /budget TAG USD: that tag's own daily limit */
		bool tagged = id == UI_CMD_BUDGET && nargs == 2;
		am_err perr;
		if (nargs != 1 && !tagged)
			return usage_err(err, (ui_cmd_id)id,
			                 id == UI_CMD_BUDGET ? "needs an amount in dollars, after a tag "
			                                       "for that tag's own limit"
			                                     : "needs one amount in dollars");
		if (tagged && am_tag_check(w[0], &perr))
			return usage_err(err, UI_CMD_BUDGET, perr.msg);
		if (am_money_parse_usd(w[nargs - 1], &c->value, &perr))
			return usage_err(err, (ui_cmd_id)id, perr.msg);
		if (c->value < 0)
			return usage_err(err, (ui_cmd_id)id, "a budget cannot be negative");
		c->kind = tagged                ? AM_CMD_SET_TAG_BUDGET
		          : id == UI_CMD_BUDGET ? AM_CMD_SET_BUDGET_DAY
		                                : AM_CMD_SET_BUDGET_MONTH;
		if (tagged)
			snprintf(c->text, sizeof c->text, "%s", w[0]);
		out->has_engine_cmd = true;
		return 0;
	}
	case UI_CMD_ALERT: {
		size_t len = nargs == 1 ? strlen(w[0]) : 0;
		if (len && w[0][len - 1] == '%')
			w[0][len - 1] = '\0';
		char why[160];
		if (nargs != 1 || parse_count(w[0], 1, 100, &c->value, why, sizeof why))
			return usage_err(err, UI_CMD_ALERT,
			                 why[0] && nargs == 1 ? why : "needs a percentage from 1 to 100");
		c->kind = AM_CMD_SET_ALERT_PCT;
		out->has_engine_cmd = true;
		return 0;
	}
	case UI_CMD_MODEL:
		if (nargs != 1)
			return usage_err(err, UI_CMD_MODEL, "needs 'auto' or one model id");
		c->kind = AM_CMD_SET_MODEL;
		snprintf(c->text, sizeof c->text, "%s", w[0]);
		out->has_engine_cmd = true;
		return 0;
	case UI_CMD_CACHE:
		if (nargs == 1 && !strcmp(w[0], "on"))
			c->kind = AM_CMD_CACHE_ON;
		else if (nargs == 1 && !strcmp(w[0], "off"))
			c->kind = AM_CMD_CACHE_OFF;
		else if (nargs == 1 && !strcmp(w[0], "clear"))
			c->kind = AM_CMD_CACHE_CLEAR;
		else
			return usage_err(err, UI_CMD_CACHE, "needs on, off or clear");
		out->has_engine_cmd = true;
		return 0;
	case UI_CMD_PAUSE:
	case UI_CMD_RESUME:
		if (nargs)
			return usage_err(err, (ui_cmd_id)id, "takes no arguments");
		c->kind = id == UI_CMD_PAUSE ? AM_CMD_PAUSE : AM_CMD_RESUME;
		out->has_engine_cmd = true;
		return 0;
	case UI_CMD_CANCEL:
		/* The controller picks the jobs: value 0 = the last, 1 = all. */
		if (nargs > 1 || (nargs == 1 && strcmp(w[0], "all")))
			return usage_err(err, UI_CMD_CANCEL, "takes nothing, or 'all'");
		c->kind = AM_CMD_CANCEL_JOB;
		c->value = nargs == 1;
		return 0;
	case UI_CMD_TAG: {
		/* The console's own state, not the engine's: the tag goes in text. */
		am_err terr;
		if (nargs > 1)
			return usage_err(err, UI_CMD_TAG, "one tag, without spaces");
		if (nargs == 1 && am_tag_check(w[0], &terr))
			return am_err_set(err, "/tag: %s", terr.msg);
		c->persist = false;
		snprintf(c->text, sizeof c->text, "%s", nargs ? w[0] : "");
		return 0;
	}
	case UI_CMD_NEW:
	case UI_CMD_QUEUE:
	case UI_CMD_HELP:
	case UI_CMD_QUIT:
		if (nargs)
			return usage_err(err, (ui_cmd_id)id, "takes no arguments");
		return 0;
	case UI_CMD_COUNT:
		break;
	}
	return am_err_set(err, "unknown command");
}

ui_act ui_key_action(int key)
{
	if (key == UI_KEY_NONE)
		return UI_ACT_NONE;
	for (size_t i = 0; i < NKEYS; i++)
		if (key_info[i].key == key || key_info[i].alt == key)
			return key_info[i].act;
	return UI_ACT_NONE;
}

void ui_key_name(int key, char *buf, size_t n)
{
	if (key >= UI_KEY_F(1) && key <= UI_KEY_F(63))
		snprintf(buf, n, "F%d", key - UI_KEY_F(0));
	else if (key >= UI_KEY_ALT(0x21) && key <= UI_KEY_ALT(0x7e))
		snprintf(buf, n, "Alt-%c", (char)(key - UI_KEY_ALT(0)));
	else if (key == UI_KEY_PGUP)
		snprintf(buf, n, "PgUp");
	else if (key == UI_KEY_PGDN)
		snprintf(buf, n, "PgDn");
	else if (n)
		buf[0] = '\0';
}

static void append(char *buf, size_t n, const char *s)
{
	size_t len = strlen(buf);
	if (len < n)
		snprintf(buf + len, n - len, "%s", s);
}

void ui_hints_text(char *buf, size_t n)
{
	char name[16];
	if (!n)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key_info *k = &key_info[i];
		if (!k->hint[0])
			continue;
		if (i > 0 && !strcmp(k->hint, key_info[i - 1].hint))
			continue; /* merged into the previous hint */
		append(buf, n, buf[0] ? "  " : "");
		int key = k->key ? k->key : k->alt;
		ui_key_name(key, name, sizeof name);
		append(buf, n, name);
		for (size_t j = i + 1; j < NKEYS && !strcmp(key_info[j].hint, k->hint); j++) {
			ui_key_name(key_info[j].key ? key_info[j].key : key_info[j].alt, name,
			            sizeof name);
			append(buf, n, "/");
			append(buf, n, name);
		}
		append(buf, n, " ");
		append(buf, n, k->hint);
	}
}

void ui_help_lines(ui_help_cb cb, void *ctx)
{
	char line[256], key[16], alt[16], keys[48];
	cb(ctx, "Commands (type them on the input line; anything else is a prompt)", true);
	for (int i = 0; i < UI_CMD_COUNT; i++) {
		char synopsis[48];
		snprintf(synopsis, sizeof synopsis, "/%s%s%s", cmd_info[i].name,
		         cmd_info[i].args[0] ? " " : "", cmd_info[i].args);
		snprintf(line, sizeof line, "  %-22s %s", synopsis, cmd_info[i].help);
		cb(ctx, line, false);
	}
	cb(ctx, "", false);
	cb(ctx, "Keys", true);
	for (size_t i = 0; i < NKEYS; i++) {
		ui_key_name(key_info[i].key, key, sizeof key);
		ui_key_name(key_info[i].alt, alt, sizeof alt);
		snprintf(keys, sizeof keys, "%s%s%s", key, key[0] && alt[0] ? ", " : "", alt);
		snprintf(line, sizeof line, "  %-22s %s", keys, key_info[i].help);
		cb(ctx, line, false);
	}
	cb(ctx, "", false);
	cb(ctx, "Editing the input line", true);
#define UI_EDIT_HELP(keys, help)                                 \
	snprintf(line, sizeof line, "  %-22s %s", keys, help); \
	cb(ctx, line, false);
	UI_EDIT_KEYS(UI_EDIT_HELP)
#undef UI_EDIT_HELP
}

/* Markdown table cells: a '|' ends the cell even inside a code span. */
static void md_cell(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			fputc('\\', out);
		fputc(*s, out);
	}
}

void ui_keys_markdown(FILE *out)
{
	char key[16], alt[16];
	fprintf(out, "| Command | What it does |\n|---|---|\n");
	for (int i = 0; i < UI_CMD_COUNT; i++) {
		fprintf(out, "| `/%s%s", cmd_info[i].name, cmd_info[i].args[0] ? " " : "");
		md_cell(out, cmd_info[i].args);
		fprintf(out, "` | ");
		md_cell(out, cmd_info[i].help);
		fprintf(out, " |\n");
	}
	fprintf(out, "\n| Key | Also | What it does |\n|---|---|---|\n");
	for (size_t i = 0; i < NKEYS; i++) {
		ui_key_name(key_info[i].key, key, sizeof key);
		ui_key_name(key_info[i].alt, alt, sizeof alt);
		fprintf(out, "| %s | %s | %s |\n", key[0] ? key : "-", alt[0] ? alt : "-",
		        key_info[i].help);
	}
	fprintf(out, "\n| Input line | What it does |\n|---|---|\n");
#define UI_EDIT_MD(keys, help) fprintf(out, "| %s | %s |\n", keys, help);
	UI_EDIT_KEYS(UI_EDIT_MD)
#undef UI_EDIT_MD
}

int64_t ui_step_down(int64_t v)
{
	int64_t d = v - v / 10;
	if (d >= v)
		d = v - 1;
	return d < 1 ? 1 : d;
}

int64_t ui_step_up(int64_t v)
{
	if (v < 1)
		return 1;
	int64_t u = v > INT64_MAX / 11 ? v + v / 10 : v * 11 / 10;
	return u <= v ? v + 1 : u;
}
