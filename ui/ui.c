/* ui: the dashboard's loop. One thread, one poll(): the keyboard, the
 * engine's wake fd and the signal pipe, with a timeout that is either the
 * rest of the current frame (something is dirty and the last paint was less
 * than a frame ago) or the next whole second (the clock and countdowns).
 * Nothing runs on a timer when nothing changes.
 *
 * State changes only set reaction bits; a pass paints the dirty panels
 * once, then wnoutrefresh + doupdate send just the changed cells (tmux's
 * server_client_loop, htop's reactions). */
#include "ui.h"

#include <errno.h>
#include <locale.h>
#include <stdarg.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "cmdtab.h"
#include "control.h"
#include "curses_inc.h"
#include "editor.h"
#include "fmt.h"
#include "keys.h"
#include "layout.h"
#include "paint.h"
#include "term.h"
#include "text.h"

#ifndef AIMETER_VERSION
#define AIMETER_VERSION "?"
#endif

enum { UI_R_CLEAR = 1u << 16 }; /* erase the whole screen first */

struct ui {
	const am_engine_ops *ops;
	ui_options opt;
	ui_term term;
	ui_ctl ctl;
	ui_editor *ed;
	ui_layout lay;
	ui_view view;
	int cols, rows;
	unsigned dirty;
	bool quit;
	bool help;
	int help_scroll;
	bool queue;     /* the queue view is open */
	int queue_sel;  /* its selected row */
	int64_t queue_sel_id; /* the job of that row: the selection follows it */
	int scroll;
	int max_scroll;
	int input_want; /* rows the input asked for at the last layout */
	int64_t now_mono, now_wall;
	/* A bracketed paste being received: its bytes, whole or refused. */
	bool pasting;
	char *paste;
	size_t paste_len, paste_cap;
	long paste_chars;
	bool paste_over;
	int64_t paste_seen; /* mono ns of its last byte */
	/* The status line: shown until status_until (mono ns). */
	unsigned status_seen;
	int64_t status_until;
};

enum { UI_PASTE_MAX_BYTES = UI_ED_MAX * 4 };
/* A paste whose end marker has not come after this long of silence ends
 * anyway, so a lost marker cannot swallow every later key. */
#define UI_PASTE_STALL_NS AM_NS_PER_SEC
#define UI_STATUS_NS (6 * AM_NS_PER_SEC)

static const unsigned panel_bit[UI_P_COUNT] = {
	[UI_P_HEADER] = UI_R_HEADER, [UI_P_BUDGET] = UI_R_BUDGET,   [UI_P_LIMITS] = UI_R_LIMITS,
	[UI_P_MODELS] = UI_R_MODELS, [UI_P_CACHE] = UI_R_CACHE,     [UI_P_CONSOLE] = UI_R_CONSOLE,
	[UI_P_INPUT] = UI_R_INPUT,   [UI_P_HINTS] = UI_R_HINTS,     [UI_P_TOOSMALL] = UI_R_PANELS,
};

enum { UI_INPUT_MAX_ROWS = 6 };

static int input_rows_wanted(const struct ui *u)
{
	int l = ui_editor_lines(u->ed);
	return l > UI_INPUT_MAX_ROWS ? UI_INPUT_MAX_ROWS : l;
}

/* A text of several lines gets as many rows (up to UI_INPUT_MAX_ROWS),
 * taken from the bottom of the console above it, which keeps at least
 * three rows of its own. */
static void grow_input(struct ui *u)
{
	ui_rect *in = &u->lay.r[UI_P_INPUT], *con = &u->lay.r[UI_P_CONSOLE];
	int more = input_rows_wanted(u) - 1;
	u->input_want = more + 1;
	if (more <= 0 || !ui_layout_has(&u->lay, UI_P_INPUT) ||
	    !ui_layout_has(&u->lay, UI_P_CONSOLE) || con->y + con->h != in->y)
		return;
	int spare = con->h - (u->lay.boxed ? 5 : 3);
	if (more > spare)
		more = spare;
	if (more <= 0)
		return;
	con->h -= more;
	in->y -= more;
	in->h += more;
}

static void relayout(struct ui *u)
{
	const am_snapshot *s = &u->ctl.snap;
	ui_layout_hint h = {s->nmodels, s->npools, s->npools ? s->pool[0].ndims : 4, s->ntags};
	getmaxyx(stdscr, u->rows, u->cols);
	ui_layout_compute(u->cols, u->rows, &h, &u->lay);
	grow_input(u);
	u->dirty |= UI_R_PANELS | UI_R_CLEAR;
}

static int queue_follow(struct ui *u);

static void react(struct ui *u, unsigned r)
{
	int page = u->lay.r[UI_P_CONSOLE].h > 3 ? u->lay.r[UI_P_CONSOLE].h - 2 : 1;
	if (r & UI_R_QUIT)
		u->quit = true;
	if (r & UI_R_HELP) {
		u->help = true;
		u->help_scroll = 0;
		r |= UI_R_PANELS;
	}
	if (r & UI_R_QUEUE) {
		u->queue = true;
		u->queue_sel = 0;
		u->queue_sel_id = -1;
		queue_follow(u);
		r |= UI_R_PANELS;
	}
	if (u->queue && (r & UI_R_CONSOLE))
		queue_follow(u); /* events moved the rows */
	if (r & UI_R_SCROLL_UP) {
		u->scroll += page;
		if (u->scroll > u->max_scroll)
			u->scroll = u->max_scroll;
		r |= UI_R_CONSOLE;
	}
	if (r & UI_R_SCROLL_DOWN) {
		u->scroll = u->scroll > page ? u->scroll - page : 0;
		r |= UI_R_CONSOLE;
	}
	if (r & UI_R_LAYOUT)
		relayout(u);
	u->dirty |= r & (UI_R_PANELS | UI_R_CLEAR);
}

static void submit_line(struct ui *u)
{
	char *line = ui_editor_take(u->ed);
	ui_ctl_remember_input(&u->ctl, line);
	u->scroll = 0;
	u->dirty |= UI_R_INPUT | UI_R_CONSOLE;
	react(u, ui_ctl_line(&u->ctl, line));
	free(line);
}

/* Maps a curses function key to a neutral key code, or UI_KEY_NONE. */
static int neutral_key(wint_t k)
{
	if (k >= (wint_t)KEY_F(1) && k <= (wint_t)KEY_F(63))
		return UI_KEY_F((int)(k - KEY_F(0)));
	if (k == KEY_PPAGE)
		return UI_KEY_PGUP;
	if (k == KEY_NPAGE)
		return UI_KEY_PGDN;
	return UI_KEY_NONE;
}

static bool edit_key(struct ui *u, int fn, wint_t k)
{
	static const struct {
		bool fn;
		wint_t key;
		ui_ed_op op;
	} map[] = {
		{true, KEY_LEFT, UI_ED_LEFT},       {true, KEY_RIGHT, UI_ED_RIGHT},
		{true, KEY_HOME, UI_ED_HOME},       {true, KEY_END, UI_ED_END},
		{true, KEY_BACKSPACE, UI_ED_BACKSPACE}, {true, KEY_DC, UI_ED_DELETE},
		{true, KEY_UP, UI_ED_UP},           {true, KEY_DOWN, UI_ED_DOWN},
		{false, 1, UI_ED_HOME},             {false, 5, UI_ED_END},
		{false, 2, UI_ED_LEFT},             {false, 6, UI_ED_RIGHT},
		{false, 8, UI_ED_BACKSPACE},        {false, 127, UI_ED_BACKSPACE},
		{false, 4, UI_ED_DELETE},           {false, 21, UI_ED_KILL_LINE},
		{false, 11, UI_ED_KILL_END},        {false, 23, UI_ED_KILL_WORD},
		{false, 16, UI_ED_HIST_PREV},       {false, 14, UI_ED_HIST_NEXT},
	};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (map[i].fn == (fn == KEY_CODE_YES) && map[i].key == k) {
			ui_editor_op(u->ed, map[i].op);
			u->dirty |= UI_R_INPUT;
			return true;
		}
	return false;
}

static void help_key(struct ui *u, int fn, wint_t k)
{
	int step = 0;
	if (fn == KEY_CODE_YES && (k == KEY_UP || k == KEY_DOWN || k == KEY_PPAGE || k == KEY_NPAGE))
		step = k == KEY_UP ? -1 : k == KEY_DOWN ? 1 : k == KEY_PPAGE ? -10 : 10;
	if (step) {
		int max = u->view.help_lines - 3;
		u->help_scroll += step;
		if (u->help_scroll > max)
			u->help_scroll = max;
		if (u->help_scroll < 0)
			u->help_scroll = 0;
	} else {
		u->help = false;
	}
	u->dirty |= UI_R_PANELS | UI_R_CLEAR;
}

/* ---- the queue view's keys ------------------------------------------------------- */

static ui_queue_row queue_rows[UI_CON_MAX_JOBS + UI_CON_MAX_ENDED];

/* The rows now, with the selection on the job it was on (a cancelled one
 * moves down among the ended), or on the nearest row when that one left;
 * returns how many rows. */
static int queue_follow(struct ui *u)
{
	int n = ui_console_queue(u->ctl.con, queue_rows, UI_CON_MAX_JOBS + UI_CON_MAX_ENDED);
	for (int i = 0; i < n; i++)
		if (queue_rows[i].id == u->queue_sel_id) {
			u->queue_sel = i;
			return n;
		}
	if (u->queue_sel >= n)
		u->queue_sel = n > 0 ? n - 1 : 0;
	u->queue_sel_id = n ? queue_rows[u->queue_sel].id : -1;
	return n;
}

static void queue_close(struct ui *u)
{
	u->queue = false;
	u->dirty |= UI_R_PANELS | UI_R_CLEAR;
}

/* Up/Down (or j/k) move the selection; c (or Delete) cancels the
 * selected prompt, r sends it again; Esc, q and Enter close the view; a
 * function key closes it and does its job (handle_key sees to the keys
 * that come as escape sequences). */
static void queue_key(struct ui *u, int fn, wint_t k, ui_esc_kind esc)
{
	if (fn != KEY_CODE_YES && k == 3) {
		u->quit = true;
		return;
	}
	int n = queue_follow(u);
	bool up = (fn == KEY_CODE_YES && k == KEY_UP) || esc == UI_ESC_UP || k == 'k';
	bool down = (fn == KEY_CODE_YES && k == KEY_DOWN) || esc == UI_ESC_DOWN || k == 'j';
	int64_t id = u->queue_sel < n ? queue_rows[u->queue_sel].id : -1;
	if (up || down) {
		u->queue_sel += up ? -1 : 1;
		if (u->queue_sel >= n)
			u->queue_sel = n - 1;
		if (u->queue_sel < 0)
			u->queue_sel = 0;
		u->queue_sel_id = n ? queue_rows[u->queue_sel].id : -1;
		u->dirty |= UI_R_CONSOLE;
	} else if ((fn != KEY_CODE_YES && k == 'c') || (fn == KEY_CODE_YES && k == KEY_DC) ||
	           esc == UI_ESC_DELETE) {
		if (n)
			react(u, ui_ctl_cancel_job(&u->ctl, id));
	} else if (fn != KEY_CODE_YES && k == 'r') {
		if (n)
			react(u, ui_ctl_retry_job(&u->ctl, id) | UI_R_CONSOLE);
	} else if (esc == UI_ESC_NONE && fn == KEY_CODE_YES && neutral_key(k) != UI_KEY_NONE) {
		queue_close(u);
		react(u, ui_ctl_action(&u->ctl, ui_key_action(neutral_key(k))));
	} else if (esc == UI_ESC_ALONE || (fn == KEY_CODE_YES && k == KEY_ENTER) ||
	           (fn != KEY_CODE_YES && (k == 'q' || k == '\r' || k == '\n'))) {
		queue_close(u);
	}
}

/* The rest of an escape sequence curses did not decode: up to a whole
 * sequence, waiting a little for bytes still on their way. */
static ui_esc read_escape(void)
{
	char s[UI_ESC_MAX] = {0};
	size_t n = 0;
	wint_t k;
	int r;
	while (n < sizeof s && !ui_esc_complete(s, n)) {
		/* Curses waited ESCDELAY for the first byte already. */
		wtimeout(stdscr, n ? 25 : 0);
		r = wget_wch(stdscr, &k);
		if (r == ERR)
			break;
		if (r == KEY_CODE_YES || k >= 0x80) {
			/* A decoded key or a non-ASCII character is no part of a
			 * sequence: it comes again as itself. */
			if (r == KEY_CODE_YES)
				ungetch((int)k);
			else
				unget_wch((wchar_t)k);
			break;
		}
		s[n++] = (char)k;
	}
	nodelay(stdscr, TRUE);
	return ui_esc_decode(s, n);
}

static void status(struct ui *u, ui_role role, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void status(struct ui *u, ui_role role, const char *fmt, ...)
{
	char msg[sizeof u->ctl.status];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	ui_ctl_status(&u->ctl, role, "%s", msg);
}

static void paste_begin(struct ui *u)
{
	u->pasting = true;
	u->paste_seen = u->now_mono;
	u->paste_len = 0;
	u->paste_chars = 0;
	u->paste_over = false;
}

static void paste_byte_room(struct ui *u, size_t more)
{
	if (u->paste_len + more <= u->paste_cap)
		return;
	size_t cap = u->paste_cap ? u->paste_cap : 4096;
	while (cap < u->paste_len + more)
		cap *= 2;
	u->paste = am_xrealloc(u->paste, cap);
	u->paste_cap = cap;
}

/* One key inside a bracketed paste: kept, never acted on. */
static void paste_key(struct ui *u, int fn, wint_t k)
{
	char tmp[4];
	int n;
	if (fn == KEY_CODE_YES) {
		if (k != KEY_ENTER)
			return;
		k = '\n';
	}
	n = am_utf8_encode((uint32_t)k, tmp);
	u->paste_seen = u->now_mono;
	u->paste_chars++;
	if (u->paste_over || u->paste_len + (size_t)n > UI_PASTE_MAX_BYTES) {
		u->paste_over = true;
		return;
	}
	paste_byte_room(u, (size_t)n);
	memcpy(u->paste + u->paste_len, tmp, (size_t)n);
	u->paste_len += (size_t)n;
}

/* The paste ended: it goes into the input whole, or not at all and the
 * status line says why. */
static void paste_end(struct ui *u)
{
	char chars[32], max[32];
	u->pasting = false;
	long n = u->paste_over ? -1 : ui_editor_insert_text(u->ed, u->paste, u->paste_len);
	fmt_count(chars, sizeof chars, u->paste_chars);
	fmt_count(max, sizeof max, UI_ED_MAX);
	if (n < 0)
		status(u, UI_ROLE_ALARM,
		       "paste of %s characters refused: the input holds at most %s; nothing was "
		       "inserted",
		       chars, max);
	else if (ui_editor_lines(u->ed) > 1)
		status(u, UI_ROLE_DIM,
		       "pasted %s characters; Enter sends all %d lines as one prompt, Alt-Enter "
		       "adds a line",
		       chars, ui_editor_lines(u->ed));
	u->dirty |= UI_R_INPUT;
	if (u->paste_cap > (1u << 20)) { /* give a big paste's memory back */
		free(u->paste);
		u->paste = NULL;
		u->paste_cap = 0;
	}
}

static void insert_newline(struct ui *u)
{
	if (ui_editor_insert(u->ed, L'\n'))
		u->dirty |= UI_R_INPUT;
	else
		status(u, UI_ROLE_ALARM, "the input is full: nothing more can be added");
}

static void escape(struct ui *u, ui_esc e)
{
	static const struct {
		ui_esc_kind kind;
		ui_ed_op op;
	} edit[] = {
		{UI_ESC_HOME, UI_ED_HOME},       {UI_ESC_END, UI_ED_END},
		{UI_ESC_DELETE, UI_ED_DELETE},   {UI_ESC_LEFT, UI_ED_LEFT},
		{UI_ESC_RIGHT, UI_ED_RIGHT},     {UI_ESC_UP, UI_ED_UP},
		{UI_ESC_DOWN, UI_ED_DOWN},
	};
	if (u->pasting) {
		if (e.kind == UI_ESC_PASTE_END)
			paste_end(u);
		return; /* any other sequence inside a paste is dropped whole */
	}
	for (size_t i = 0; i < sizeof edit / sizeof edit[0]; i++)
		if (edit[i].kind == e.kind) {
			ui_editor_op(u->ed, edit[i].op);
			u->dirty |= UI_R_INPUT;
			return;
		}
	switch (e.kind) {
	case UI_ESC_ALT:
		react(u, ui_ctl_action(&u->ctl, ui_key_action(UI_KEY_ALT(e.ch))));
		break;
	case UI_ESC_FKEY:
		react(u, ui_ctl_action(&u->ctl, ui_key_action(UI_KEY_F(e.ch))));
		break;
	case UI_ESC_PGUP:
		react(u, ui_ctl_action(&u->ctl, ui_key_action(UI_KEY_PGUP)));
		break;
	case UI_ESC_PGDN:
		react(u, ui_ctl_action(&u->ctl, ui_key_action(UI_KEY_PGDN)));
		break;
	case UI_ESC_NEWLINE:
		insert_newline(u);
		break;
	case UI_ESC_ENTER:
		submit_line(u);
		break;
	case UI_ESC_PASTE_BEGIN:
		paste_begin(u);
		break;
	case UI_ESC_ALONE:
		/* A lone ESC returns to the bottom of the console. */
		if (u->scroll) {
			u->scroll = 0;
			u->dirty |= UI_R_CONSOLE;
		}
		break;
	default:
		break; /* swallowed whole */
	}
}

/* Tab: completes a /command and its words when the cursor ends the line. */
static void complete(struct ui *u)
{
	char out[1024];
	char *line = ui_editor_text(u->ed);
	if (ui_editor_at_end(u->ed) && ui_ctl_complete(&u->ctl, line, out, sizeof out)) {
		ui_editor_set(u->ed, out);
		u->dirty |= UI_R_INPUT;
	}
	free(line);
}

static void handle_key(struct ui *u, int fn, wint_t k);

/* A key that came as an escape sequence while the help shows: the
 * scrolling keys scroll it; an unknown sequence is swallowed whole (its
 * tail never reaches the input line); any other key closes the help and
 * does its own job (a paste is pasted, an F-key acts), the help key only
 * closes it. */
static void help_escape(struct ui *u, ui_esc e)
{
	static const struct {
		ui_esc_kind kind;
		wint_t key;
	} scroll[] = {{UI_ESC_UP, KEY_UP}, {UI_ESC_DOWN, KEY_DOWN}, {UI_ESC_PGUP, KEY_PPAGE},
	              {UI_ESC_PGDN, KEY_NPAGE}};
	if (e.kind == UI_ESC_NONE)
		return;
	for (size_t i = 0; i < sizeof scroll / sizeof scroll[0]; i++)
		if (scroll[i].kind == e.kind) {
			help_key(u, KEY_CODE_YES, scroll[i].key);
			return;
		}
	help_key(u, OK, 27); /* closes it */
	ui_act act = e.kind == UI_ESC_ALT    ? ui_key_action(UI_KEY_ALT(e.ch))
	             : e.kind == UI_ESC_FKEY ? ui_key_action(UI_KEY_F(e.ch))
	                                     : UI_ACT_NONE;
	if (e.kind == UI_ESC_ALT && act == UI_ACT_NONE)
		handle_key(u, OK, (wint_t)e.ch); /* Esc, then a key typed fast after it */
	else if (e.kind != UI_ESC_ALONE && act != UI_ACT_HELP)
		escape(u, e);
}

static void handle_key(struct ui *u, int fn, wint_t k)
{
	if (fn == KEY_CODE_YES && k == KEY_RESIZE) {
		relayout(u);
		return;
	}
	if (u->pasting && k != 27) {
		paste_key(u, fn, k);
		return;
	}
	if (u->help) {
		if (fn != KEY_CODE_YES && k == 27)
			help_escape(u, read_escape());
		else
			help_key(u, fn, k);
		return;
	}
	if (u->queue) {
		ui_esc_kind esc = UI_ESC_NONE;
		if (fn != KEY_CODE_YES && k == 27) {
			ui_esc e = read_escape();
			if (e.kind == UI_ESC_NONE)
				return; /* an unknown sequence, swallowed */
			if (e.kind != UI_ESC_ALONE && e.kind != UI_ESC_UP && e.kind != UI_ESC_DOWN &&
			    e.kind != UI_ESC_DELETE) {
				/* Any other key (an F-key, an Alt key, a paste) closes
				 * the view and does its own job; the queue key only
				 * closes it. */
				queue_close(u);
				ui_act act = e.kind == UI_ESC_ALT ? ui_key_action(UI_KEY_ALT(e.ch))
				                                  : UI_ACT_NONE;
				if (e.kind == UI_ESC_ALT && act == UI_ACT_NONE)
					handle_key(u, OK, (wint_t)e.ch); /* Esc, then a key typed fast */
				else if (act != UI_ACT_QUEUE)
					escape(u, e);
				return;
			}
			esc = e.kind;
		}
		queue_key(u, fn, k, esc);
		return;
	}
	if (fn == KEY_CODE_YES) {
		int nk = neutral_key(k);
		if (nk != UI_KEY_NONE) {
			react(u, ui_ctl_action(&u->ctl, ui_key_action(nk)));
			return;
		}
		if (k == KEY_ENTER)
			submit_line(u);
		else
			edit_key(u, fn, k);
		return;
	}
	if (k == 27) {
		escape(u, read_escape());
		return;
	}
	if (k == '\r' || k == '\n') {
		submit_line(u);
	} else if (k == '\t') {
		complete(u);
	} else if (k == 3) {
		u->quit = true;
	} else if (k == 12) {
		clearok(curscr, TRUE); /* Ctrl-L: paint everything again */
		u->dirty |= UI_R_PANELS | UI_R_CLEAR;
	} else if (!edit_key(u, fn, k) && k >= 0x20) {
		if (ui_editor_insert(u->ed, (wchar_t)k))
			u->dirty |= UI_R_INPUT;
		else if (ui_editor_len(u->ed) >= UI_ED_MAX)
			status(u, UI_ROLE_ALARM, "the input is full: nothing more can be added");
	}
}

static void read_keys(struct ui *u)
{
	wint_t k;
	int r;
	/* Bounded so a paste cannot starve the engine side. */
	for (int i = 0; i < 4096 && (r = wget_wch(stdscr, &k)) != ERR && !u->quit; i++)
		handle_key(u, r, k);
	if (input_rows_wanted(u) != u->input_want)
		relayout(u);
}

/* A new status message shows in the hint line for a while; without a
 * hint line (the smallest layouts) it goes to the console instead. */
static void take_status(struct ui *u)
{
	if (u->ctl.status_seq == u->status_seen)
		return;
	u->status_seen = u->ctl.status_seq;
	if (!ui_layout_has(&u->lay, UI_P_HINTS)) {
		bool bad = u->ctl.status_role == UI_ROLE_ALARM || u->ctl.status_role == UI_ROLE_WARN;
		ui_console_add(u->ctl.con, bad ? UI_TX_ERROR : UI_TX_NOTICE, u->ctl.status);
		u->dirty |= UI_R_CONSOLE;
		return;
	}
	u->status_until = u->now_mono + UI_STATUS_NS;
	u->dirty |= UI_R_HINTS;
}

static void read_clock(struct ui *u)
{
	const am_clock *c = am_clock_system();
	u->now_mono = am_clock_mono(c);
	u->now_wall = am_clock_wall(c);
}

static void paint(struct ui *u)
{
	ui_view *v = &u->view;
	*v = (ui_view){.term = &u->term,
	               .lay = &u->lay,
	               .snap = &u->ctl.snap,
	               .con = u->ctl.con,
	               .ed = u->ed,
	               .version = u->opt.version,
	               .now_mono = u->now_mono,
	               .now_wall = u->now_wall,
	               .scroll = u->scroll,
	               .max_scroll = u->max_scroll,
	               .help = u->help,
	               .help_scroll = u->help_scroll,
	               .help_lines = v->help_lines,
	               .queue = u->queue,
	               .queue_sel = u->queue_sel,
	               .cols = u->cols,
	               .rows = u->rows,
	               .ops = u->ops,
	               .system = u->ctl.system,
	               .status = u->status_until ? u->ctl.status : NULL,
	               .status_role = u->ctl.status_role};
	if (u->dirty & UI_R_CLEAR)
		erase();
	for (int p = 0; p < UI_P_COUNT; p++) {
		if (!(u->dirty & panel_bit[p]))
			continue;
		if ((u->help || u->queue) && p != UI_P_HEADER && p != UI_P_HINTS &&
		    p != UI_P_TOOSMALL)
			continue;
		ui_paint_panel(v, (ui_panel)p);
	}
	if (u->help && (u->dirty & ~(unsigned)(UI_R_HEADER | UI_R_HINTS)))
		ui_paint_help(v);
	else if (u->queue && (u->dirty & ~(unsigned)(UI_R_HEADER | UI_R_HINTS)))
		ui_paint_queue(v);
	if (!u->help && !u->queue && (u->dirty & UI_R_CONSOLE)) {
		u->max_scroll = v->max_scroll;
		if (u->scroll > u->max_scroll)
			u->scroll = u->max_scroll;
	}
	ui_paint_cursor(v);
	wnoutrefresh(stdscr);
	doupdate();
	u->dirty = 0;
}

/* Milliseconds to wait in poll. */
static int next_timeout(const struct ui *u, int64_t last_paint, int64_t frame_ns)
{
	if (u->ctl.more)
		return 0;
	if (u->pasting)
		return 250; /* to end a paste whose end marker is lost */
	if (u->dirty) {
		int64_t wait = last_paint + frame_ns - u->now_mono;
		return wait > 0 ? (int)((wait + AM_NS_PER_MS - 1) / AM_NS_PER_MS) : 0;
	}
	/* The next whole second of the wall clock, a little after it. */
	int64_t into = u->now_wall % AM_NS_PER_SEC;
	return (int)((AM_NS_PER_SEC - into) / AM_NS_PER_MS) + 2;
}

static void drain_wake(int fd)
{
	char buf[256];
	if (read(fd, buf, sizeof buf) < 0) {
		/* Nothing to clear (EAGAIN) or a closed fd: the pump still runs. */
	}
}

static void loop(struct ui *u)
{
	int wfd = u->ops->wake_fd(u->ops->ctx);
	int fps = u->opt.max_fps > 0 ? u->opt.max_fps : 10;
	int64_t frame_ns = AM_NS_PER_SEC / fps, last_paint = 0;
	int64_t last_second = u->now_wall / AM_NS_PER_SEC;
	while (!u->quit) {
		struct pollfd fds[3] = {{STDIN_FILENO, POLLIN, 0}, {u->term.sig_fd, POLLIN, 0},
		                        {wfd, POLLIN, 0}};
		int timeout = next_timeout(u, last_paint, frame_ns);
		/* Without a wake fd the engine is polled at the frame rate. */
		if (wfd < 0 && (timeout > 100 || timeout < 0))
			timeout = 100;
		int n = poll(fds, wfd >= 0 ? 3 : 2, timeout);
		read_clock(u);
		if (n < 0 && errno != EINTR)
			break;
		if (n > 0 && (fds[1].revents & POLLIN) && ui_term_take_signal(&u->term))
			u->quit = true;
		if (wfd < 0 || u->ctl.more || (n > 0 && fds[2].revents)) {
			if (wfd >= 0 && (fds[2].revents & POLLIN))
				drain_wake(wfd);
			unsigned r = ui_ctl_pump(&u->ctl, 512);
			if (r & UI_R_CONSOLE)
				r |= UI_R_HEADER;
			/* The input's preview names the model and the context. */
			if (r & UI_R_HEADER)
				r |= UI_R_INPUT;
			react(u, r);
		}
		/* Keys, and KEY_RESIZE after a SIGWINCH interrupted poll. */
		read_keys(u);
		if (u->pasting && u->now_mono - u->paste_seen > UI_PASTE_STALL_NS)
			paste_end(u); /* the terminal never sent the end marker */
		take_status(u);
		int64_t second = u->now_wall / AM_NS_PER_SEC;
		if (second != last_second) {
			last_second = second;
			if (u->status_until && u->now_mono >= u->status_until) {
				u->status_until = 0;
				u->dirty |= UI_R_HINTS;
			}
			u->dirty |= UI_R_HEADER;
			u->view.snap = &u->ctl.snap;
			if (ui_view_has_countdown(&u->view))
				u->dirty |= UI_R_LIMITS;
		}
		if (u->dirty && u->now_mono - last_paint >= frame_ns) {
			paint(u);
			last_paint = u->now_mono;
		}
	}
}

/* A line kept in the ledger is outside text by now: sanitised before the
 * input line may show it. */
static void recall_input(void *ctx, const char *line)
{
	size_t n = strlen(line);
	char *san = am_xmalloc(4 * n + 1);
	san[am_text_sanitize(line, n, san, false, NULL)] = '\0';
	ui_editor_remember(ctx, san);
	free(san);
}

int ui_run(const am_engine_ops *ops, const ui_options *opt)
{
	struct ui *u = am_xcalloc(1, sizeof *u);
	am_err err = {0};
	setlocale(LC_ALL, "");
	u->ops = ops;
	if (opt)
		u->opt = *opt;
	if (!u->opt.version)
		u->opt.version = AIMETER_VERSION;
	if (ui_term_open(&u->term, u->opt.ascii, u->opt.no_color, &err)) {
		fprintf(stderr, "aimeter: %s\n", err.msg);
		free(u);
		return 1;
	}
	ui_ctl_init(&u->ctl, ops, u->term.ascii, u->opt.models, u->opt.nmodels);
	u->ctl.system = u->opt.system;
	u->ed = ui_editor_new();
	ui_ctl_recall(&u->ctl, recall_input, u->ed);
	u->view.term = &u->term;
	read_clock(u);
	u->dirty |= ui_ctl_pump(&u->ctl, 512);
	relayout(u);
	paint(u);
	loop(u);
	ui_term_close(&u->term);
	ui_editor_free(u->ed);
	free(u->paste);
	ui_ctl_done(&u->ctl);
	free(u);
	return 0;
}

void ui_print_keys_markdown(FILE *out)
{
	ui_keys_markdown(out);
}
