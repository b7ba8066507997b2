/* cliargs: the small pieces every subcommand's flag parsing shares.
 *
 * Commands parse with getopt_long (opterr = 0, optstring starting with ':')
 * and report any problem as one line naming the flag, exiting with 2. */
#ifndef AIMETER_CLI_CLIARGS_H
#define AIMETER_CLI_CLIARGS_H

#include <stdbool.h>
#include <stdint.h>

#include "cli.h"
#include "ledger.h"

/* am_cli_usage_error (one line, exit status 2) is in cli.h. */

/* After getopt_long returned '?' or ':': names the unknown flag or the flag
 * missing its value, and returns 2. */
int am_cli_getopt_error(const char *cmd, int c, char **argv);

/* A whole, non-negative decimal number that fits int64 ("0", "1200"); no
 * sign, spaces, or suffix. Returns 0 or -1. */
int am_cli_parse_count(const char *s, int64_t *out);

/* Opens the ledger at `db_flag` (the --db value) or, when NULL, at the
 * default path. With `may_read_only`, an existing ledger the user may not
 * write is opened read-only instead of failing (for reports). On failure
 * prints one line and returns 1 (the command's exit status); else 0. */
int am_cli_open_ledger(const char *cmd, const char *db_flag, bool may_read_only,
                       am_ledger **out);

#endif
