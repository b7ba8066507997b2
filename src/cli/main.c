/* aimeter: the executable's entry point. It finds the subcommand and hands
 * over; each command is a composition root of its own (see app.h). */
#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "commands.h"
#include "ledger.h"
#include "say.h"

struct command {
	const char *name;
	int (*fn)(int, char **);
	const char *summary;
};

#define AM_COMMAND_ENTRY(name, fn, summary) { #name, fn, summary },
static const struct command commands[] = { AM_COMMANDS(AM_COMMAND_ENTRY) };
#undef AM_COMMAND_ENTRY

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: aimeter [COMMAND] [OPTIONS]\n"
	        "\n"
	        "A prompt console and live cost dashboard for LLM APIs.\n"
	        "With no command, aimeter opens the dashboard.\n"
	        "\n"
	        "Commands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(out,
	        "\n"
	        "Run 'aimeter COMMAND --help' for a command's options.\n"
	        "  --help       show this help\n"
	        "  --version    show the version\n");
}

/* A core file or a debugger attached by another user would hold the API
 * key in clear: no process of aimeter may dump core or be traced, set
 * before any command reads the key (and inherited by the alert command). */
static void no_core_dumps(void)
{
	struct rlimit rl = { 0, 0 };
	if (setrlimit(RLIMIT_CORE, &rl) != 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		fprintf(stderr, "aimeter: warning: cannot disable core dumps: %s\n", strerror(errno));
}

/* Everything a command printed on stdout has to have reached it: a write
 * that failed anywhere (the stream keeps its error flag) or the final flush
 * makes a successful command fail, with one line saying so. */
static int finish_stdout(const char *cmd, int rc)
{
	bool bad = ferror(stdout) != 0;
	int e = 0; /* the cause, when the final flush tells it */
	if (fclose(stdout) != 0) {
		bad = true;
		e = errno;
	}
	if (!bad)
		return rc;
	fprintf(stderr, "aimeter%s%s: cannot write to standard output%s%s\n", cmd ? " " : "",
	        cmd ? cmd : "", e ? ": " : "", e ? strerror(e) : "");
	return rc ? rc : 1;
}

/* What aimeter prints is UTF-8 whatever the locale says, and the
 * sanitizer asks wcwidth which characters are printable: with the
 * environment's character type when it is UTF-8, else C.UTF-8 (in the C
 * locale every non-ASCII character would count as unprintable). */
static void utf8_ctype(void)
{
	const char *set = setlocale(LC_CTYPE, "") ? nl_langinfo(CODESET) : "";
	if (strcmp(set, "UTF-8") != 0)
		setlocale(LC_CTYPE, "C.UTF-8");
}

/* An existing ledger brought to a newer schema: said once, on stderr,
 * before the work (the dashboard's screen is not up yet). */
static void say_migrating(const char *path, int from, int to)
{
	am_say(stderr, "aimeter: updating the ledger %s from schema version %d to %d (once; a "
	       "large ledger takes a few seconds)\n", path, from, to);
}

static int run(int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc >= 2 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))) {
		printf("aimeter %s\n", AIMETER_VERSION);
		return 0;
	}
	/* No command, or a flag first: the dashboard, which takes the flags. */
	if (argc < 2 || argv[1][0] == '-')
		return cmd_dashboard(argc, argv);
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "aimeter: unknown command '%s' (see 'aimeter --help')\n", argv[1]);
	return 2;
}

int main(int argc, char **argv)
{
	no_core_dumps();
	utf8_ctype();
	am_ledger_on_migrate(say_migrating);
	int rc = run(argc, argv);
	const char *cmd = argc >= 2 && argv[1][0] != '-' ? argv[1] : NULL;
	return finish_stdout(cmd, rc);
}
