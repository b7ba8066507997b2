/* cliargs: shared flag-error wording and number parsing for subcommands. */
#include "cliargs.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "paths.h"

int am_cli_getopt_error(const char *cmd, int c, char **argv)
{
	/* getopt_long has already advanced optind past the offending word. */
	const char *word = optind > 0 && argv[optind - 1] ? argv[optind - 1] : "?";
	int len = (int)strcspn(word, "=");
	if (c == ':')
		return am_cli_usage_error(cmd, "option '%.*s' needs a value (see --help)", len, word);
	if (word[0] == '-' && word[1] == '-') {
		/* A known long flag that was given "=value" reports its val in optopt. */
		if (optopt)
			return am_cli_usage_error(cmd, "option '%.*s' takes no value", len, word);
		return am_cli_usage_error(cmd, "unknown option '%.*s' (see --help)", len, word);
	}
	if (optopt > 0 && optopt < 128)
		return am_cli_usage_error(cmd, "unknown option '-%c' (see --help)", optopt);
	return am_cli_usage_error(cmd, "unknown option '%s' (see --help)", word);
}

int am_cli_parse_count(const char *s, int64_t *out)
{
	if (!s || !*s)
		return -1;
	int64_t v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, *p - '0', &v))
			return -1;
	}
	*out = v;
	return 0;
}

int am_cli_open_ledger(const char *cmd, const char *db_flag, bool may_read_only,
                       am_ledger **out)
{
	char path[4096];
	am_err err;
	if (db_flag) {
		snprintf(path, sizeof path, "%s", db_flag);
	} else if (am_path_default_db(path, sizeof path, &err)) {
		fprintf(stderr, "aimeter %s: %s\n", cmd, err.msg);
		return 1;
	}
	am_ledger_opts opts = { 0 };
	opts.readonly = may_read_only && access(path, F_OK) == 0 && access(path, W_OK) != 0;
	if (am_ledger_open(out, path, &opts, &err)) {
		fprintf(stderr, "aimeter %s: %s\n", cmd, err.msg);
		return 1;
	}
	return 0;
}
