/* term: curses start-up and tear-down, colour roles and signal handling.
 *
 * Signal handlers cannot take arguments, so the little they need (is
 * curses up, where to write the quit byte, the handlers they replaced)
 * lives in file-static state; nothing else in the UI is global. */
#include "term.h"

#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static atomic_bool term_live;
static int sig_pipe[2] = {-1, -1};
static const int quit_signals[] = {SIGINT, SIGTERM, SIGHUP};
static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGABRT, SIGILL};
static struct sigaction old_quit[3], old_crash[5];

bool ui_term_locale_is_utf8(void)
{
	const char *cs = nl_langinfo(CODESET);
	return cs && (!strcasecmp(cs, "UTF-8") || !strcasecmp(cs, "utf8"));
}

/* Bracketed paste: the terminal wraps a paste in ESC [ 200 ~ and
 * ESC [ 201 ~ so that a pasted block is one input, not keys typed (and
 * its newlines not Enter). Plain write(2): restore() runs in signal
 * handlers too. */
static void bracketed_paste(bool on)
{
	static const char set[] = "\033[?2004h", reset[] = "\033[?2004l";
	if (write(STDOUT_FILENO, on ? set : reset, (on ? sizeof set : sizeof reset) - 1) < 0) {
		/* A terminal that is gone needs no mode reset. */
	}
}

static void restore(void)
{
	if (atomic_exchange(&term_live, false)) {
		bracketed_paste(false);
		endwin();
	}
}

static void on_quit_signal(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;
	if (sig_pipe[1] >= 0 && write(sig_pipe[1], &b, 1) < 0) {
		/* A full pipe already holds a quit request. */
	}
	errno = saved;
}

static void on_crash_signal(int sig)
{
	/* Best effort: endwin is not async-signal-safe, but a crashed program
	 * that leaves the terminal raw is worse (htop does the same). */
	restore();
	for (size_t i = 0; i < sizeof crash_signals / sizeof crash_signals[0]; i++)
		if (crash_signals[i] == sig)
			sigaction(sig, &old_crash[i], NULL);
	raise(sig);
}

static void install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_quit_signal;
	for (size_t i = 0; i < sizeof quit_signals / sizeof quit_signals[0]; i++)
		sigaction(quit_signals[i], &sa, &old_quit[i]);
	sa.sa_handler = on_crash_signal;
	sa.sa_flags = SA_RESETHAND;
	for (size_t i = 0; i < sizeof crash_signals / sizeof crash_signals[0]; i++)
		sigaction(crash_signals[i], &sa, &old_crash[i]);
}

static void uninstall_signals(void)
{
	for (size_t i = 0; i < sizeof quit_signals / sizeof quit_signals[0]; i++)
		sigaction(quit_signals[i], &old_quit[i], NULL);
	for (size_t i = 0; i < sizeof crash_signals / sizeof crash_signals[0]; i++)
		sigaction(crash_signals[i], &old_crash[i], NULL);
}

/* Colours per role: foreground (-1 = terminal default), attributes with
 * colour, attributes without. */
struct role_style {
	short fg, bg;
	attr_t color_attr, mono_attr;
};

static void setup_roles(ui_term *t)
{
	/* Bright black reads as grey on 16-colour terminals; on 8 it is
	 * invisible on black, so DIM falls back to the dim attribute. */
	short grey = COLORS >= 16 ? 8 : -1;
	const struct role_style styles[UI_ROLE_COUNT] = {
		[UI_ROLE_NORMAL] = {-1, -1, A_NORMAL, A_NORMAL},
		[UI_ROLE_DIM] = {grey, -1, grey < 0 ? A_DIM : A_NORMAL, A_DIM},
		[UI_ROLE_TITLE] = {-1, -1, A_BOLD, A_BOLD},
		[UI_ROLE_BORDER] = {COLOR_BLUE, -1, A_NORMAL, A_DIM},
		[UI_ROLE_ACCENT] = {COLOR_CYAN, -1, A_BOLD, A_BOLD},
		[UI_ROLE_CALM] = {COLOR_GREEN, -1, A_NORMAL, A_NORMAL},
		[UI_ROLE_WARN] = {COLOR_YELLOW, -1, A_BOLD, A_BOLD},
		[UI_ROLE_ALARM] = {COLOR_RED, -1, A_BOLD, A_BOLD | A_UNDERLINE},
		[UI_ROLE_BADGE_SIM] = {COLOR_WHITE, COLOR_RED, A_BOLD, A_REVERSE | A_BOLD},
		[UI_ROLE_BADGE_LIVE] = {COLOR_GREEN, -1, A_BOLD, A_BOLD},
		[UI_ROLE_YOU] = {COLOR_CYAN, -1, A_BOLD, A_BOLD},
		[UI_ROLE_KEY] = {COLOR_BLACK, COLOR_CYAN, A_NORMAL, A_REVERSE},
		[UI_ROLE_BAR_EMPTY] = {grey, -1, grey < 0 ? A_DIM : A_NORMAL, A_DIM},
	};
	for (int r = 0; r < UI_ROLE_COUNT; r++) {
		if (!t->color) {
			t->attr[r] = styles[r].mono_attr;
			continue;
		}
		short pair = (short)(r + 1);
		init_pair(pair, styles[r].fg, styles[r].bg);
		t->attr[r] = styles[r].color_attr | (attr_t)COLOR_PAIR(pair);
	}
}

int ui_term_open(ui_term *t, bool force_ascii, bool no_color, am_err *err)
{
	memset(t, 0, sizeof *t);
	t->sig_fd = -1;
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
		return am_err_set(err, "the dashboard needs a terminal (stdin and stdout are not one)");
	const char *nc = getenv("NO_COLOR");
	t->ascii = force_ascii || !ui_term_locale_is_utf8();
	if (pipe(sig_pipe))
		return am_err_set(err, "pipe: %s", strerror(errno));
	for (int i = 0; i < 2; i++) {
		fcntl(sig_pipe[i], F_SETFL, fcntl(sig_pipe[i], F_GETFL) | O_NONBLOCK);
		fcntl(sig_pipe[i], F_SETFD, FD_CLOEXEC);
	}
	t->sig_fd = sig_pipe[0];
	/* Alt-keys arrive as ESC + key; wait only briefly for the rest. */
	set_escdelay(25);
	if (!initscr()) {
		ui_term_close(t);
		return am_err_set(err, "curses could not start on this terminal (TERM=%s)",
		                  getenv("TERM") ? getenv("TERM") : "");
	}
	atomic_store(&term_live, true);
	static bool hooked;
	if (!hooked) {
		hooked = true;
		atexit(restore);
	}
	am_set_fatal_hook(restore);
	install_signals();
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	t->color = !no_color && !(nc && nc[0]) && has_colors();
	if (t->color) {
		start_color();
		use_default_colors();
	}
	setup_roles(t);
	curs_set(1);
	/* After curses' own start-up output, so the mode is set in order. */
	refresh();
	bracketed_paste(true);
	return 0;
}

void ui_term_close(ui_term *t)
{
	restore();
	uninstall_signals();
	am_set_fatal_hook(NULL);
	for (int i = 0; i < 2; i++) {
		if (sig_pipe[i] >= 0)
			close(sig_pipe[i]);
		sig_pipe[i] = -1;
	}
	t->sig_fd = -1;
}

int ui_term_take_signal(ui_term *t)
{
	unsigned char b[16];
	int sig = 0;
	ssize_t r;
	if (t->sig_fd < 0)
		return 0;
	while ((r = read(t->sig_fd, b, sizeof b)) > 0)
		sig = b[r - 1];
	return sig;
}
