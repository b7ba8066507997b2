/* cli: what every subcommand shares - flags parsed from a table (so --help
 * is generated from the same rows and every flag has it), the one-line
 * usage error with exit status 2, the common --config/--db options, and
 * "load the config, warnings to stderr, apply this run's flags" in one call.
 *
 * A command declares its flags as data and loops:
 *
 *     enum { OPT_JSON = 1, OPT_RPM };
 *     static const am_cli_opt opts[] = {
 *         { "json", NULL, "print JSON", OPT_JSON, NULL },
 *         { "rpm", "N", "requests per minute for this run", OPT_RPM, "limits.rpm" },
 *         { 0 } };
 *     am_cli c;
 *     am_cli_init(&c, "batch", "[OPTIONS] FILE.jsonl", "Run a file of prompts.",
 *                 opts, true, argc, argv);
 *     c.max_args = 1;                                // default 0: none
 *     for (int id; (id = am_cli_next(&c)) != AM_CLI_END;) {
 *         switch (id) {
 *         case AM_CLI_EXIT: return c.exit_code;      // --help (0) or a usage error (2)
 *         case AM_CLI_ARG: file = c.value; break;    // a positional argument
 *         case OPT_JSON: json = true; break;
 *         }                                          // OPT_RPM: nothing to do, see below
 *     }
 *     am_config cfg;
 *     int rc = am_cli_load_config(&c, &cfg);         // 0, or the exit status
 *     if (rc) return rc;
 *
 * A flag with a config key (`key`) is checked as soon as it is parsed (a bad
 * value is a usage error naming the flag) and applied to the config by
 * am_cli_load_config with source "flag", after the file and the saved
 * settings, so it holds for this run only. --config PATH and --db PATH (when
 * `common`) are handled here too and never reach the command; an empty PATH
 * is a usage error, never silently the default.
 *
 * Accepted forms: --name VALUE, --name=VALUE, -h/--help, "--" ends the
 * options, "-" alone is a positional argument. Single-threaded (main). */
#ifndef AIMETER_CLI_CLI_H
#define AIMETER_CLI_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "ledger.h"
#include "pricing.h"

enum { AM_CLI_END = 0, AM_CLI_ARG = -1, AM_CLI_EXIT = -2, AM_CLI_MAX_FLAGS = 32 };

typedef struct am_cli_opt {
	const char *name; /* without "--"; NULL ends the table */
	const char *arg;  /* the value's placeholder ("N", "PATH"); NULL for a switch */
	const char *help; /* one line */
	int id;           /* > 0: what am_cli_next returns for it */
	const char *key;  /* config key the flag sets for this run, or NULL */
} am_cli_opt;

typedef struct am_cli {
	const char *cmd, *synopsis, *summary;
	const am_cli_opt *opts;
	bool common; /* --config PATH and --db PATH */
	int argc;
	char **argv; /* argv[0] is the command's name */
	int i;
	int max_args;            /* positional arguments taken (0 after init; -1: any) */
	int nargs;               /* seen so far */
	bool only_args;          /* after "--" */
	char opt[64];            /* the option just returned, "--rpm" */
	const char *value;       /* its value, or the positional argument */
	int exit_code;           /* after AM_CLI_EXIT */
	const char *config_path; /* --config, or NULL */
	int nflags;              /* flags bound to config keys, in order */
	struct {
		const char *key, *value, *name;
	} flag[AM_CLI_MAX_FLAGS];
} am_cli;

/* Prepares parsing of argv[1..argc) (argv[0] names the command). opts ends
 * with a zeroed row. The strings are borrowed and must outlive c. */
void am_cli_init(am_cli *c, const char *cmd, const char *synopsis, const char *summary,
                 const am_cli_opt *opts, bool common, int argc, char **argv);

/* The next option's id (c->opt, and c->value when it takes one),
 * AM_CLI_ARG for a positional argument (c->value), AM_CLI_END when done,
 * or AM_CLI_EXIT after printing the help to stdout (c->exit_code 0) or a
 * usage error to stderr (c->exit_code 2). A positional argument beyond
 * c->max_args is the usage error "unexpected argument 'X'". */
int am_cli_next(am_cli *c);

/* Prints "aimeter CMD: MESSAGE (see 'aimeter CMD --help')" on one line to
 * stderr and returns 2, the usage-error status. */
int am_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The generated help: usage line, summary, then every option. */
void am_cli_help(const am_cli *c, FILE *out);

/* Parses the current option's value as an integer in [min, max]: decimal
 * digits with an optional leading '-', nothing else (no spaces, '+' or
 * suffix). On error prints a usage error naming the option, sets
 * c->exit_code = 2 and returns -1. */
int am_cli_int(am_cli *c, int64_t min, int64_t max, int64_t *out);

/* Parses the current option's value as a decimal number in [min, max]
 * ("0.25", "1e-3"; no hex, inf or nan), for ratios and probabilities, never
 * money. Errors as am_cli_int. */
int am_cli_real(am_cli *c, double min, double max, double *out);

/* Parses the current option's value as exact USD ("12.50") into pUSD, >= 0;
 * errors as am_cli_int. */
int am_cli_usd(am_cli *c, int64_t *out_pusd);

/* Loads the config (--config, else $AIMETER_CONFIG, else the default path),
 * prints its warnings to stderr as "aimeter: warning: ...", then applies
 * --db and every key-bound flag as source "flag". A non-empty `timezone`
 * becomes the process's TZ (tzset), so every local day this run computes -
 * the ledger's, the budget's, the report's - is the config's. Returns 0, or
 * prints why and returns the exit status: 1 for a config that cannot be
 * loaded, 2 for a flag the loaded config refuses. */
int am_cli_load_config(am_cli *c, am_config *cfg);

/* Opens the ledger at `path` (the loaded config's `db`). With
 * `may_read_only`, an existing ledger the user may not write is opened
 * read-only instead of failing (for reports). Returns 0, or prints
 * "aimeter CMD: why" and returns 1, the command's exit status. */
int am_cli_open_ledger(const char *cmd, const char *path, bool may_read_only, am_ledger **out);

/* Loads the effective price table: the shipped file with the override laid
 * over it. The override is the config's `pricing_file` when it was set (cfg
 * may be NULL), else pricing.json beside the config file this run uses
 * (--config, else $AIMETER_CONFIG, else the default config directory).
 * `override` (n bytes, may be NULL) receives the override's path. Returns 0,
 * or prints "aimeter CMD: why" and returns 1. */
int am_cli_load_pricing(const am_cli *c, const am_config *cfg, am_pricing **out, char *override,
                        size_t n);

/* Prints cfg's warnings from index `from` on to stderr, one line each
 * ("aimeter: warning: ..."). Warnings accumulate in cfg: take
 * am_config_nwarnings before a change to print only what it added. */
void am_cli_print_warnings(const am_config *cfg, int from);

#endif
