/* paths: where aimeter keeps its files, following the XDG base directories.
 *
 * config dir: $XDG_CONFIG_HOME/aimeter, else $HOME/.config/aimeter
 * data dir:   $XDG_DATA_HOME/aimeter,   else $HOME/.local/share/aimeter
 * Directories are created 0700, files 0600. Thread-safe (reads env only). */
#ifndef AIMETER_PATHS_H
#define AIMETER_PATHS_H

#include <stddef.h>
#include <sys/types.h>

#include "err.h"

int am_path_config_dir(char *buf, size_t n, am_err *err);
int am_path_data_dir(char *buf, size_t n, am_err *err);

/* The default ledger database, config file and price-override file. */
int am_path_default_db(char *buf, size_t n, am_err *err);
int am_path_default_config(char *buf, size_t n, am_err *err);
int am_path_pricing_override(char *buf, size_t n, am_err *err);

/* mkdir -p with `mode` for each created component. */
int am_mkdir_p(const char *path, mode_t mode, am_err *err);

/* Creates the parent directory of `file` (0700) if missing. */
int am_mkdir_parent(const char *file, am_err *err);

#endif
