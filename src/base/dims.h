/* dims: the rate-limit dimensions a user sets, in one table.
 *
 * A row: the enum suffix, the key (a C identifier: the field of the config's
 * limits and the key under "limits." and "sim."), the label the screen and
 * messages use, and what it counts, for help texts. Everything that names a
 * dimension expands this table: the config's limit fields and keys, the
 * engine's set-limit commands, the worker's mapping onto the limiter, the
 * command-line flags and the console's commands. The order is the
 * limiter's (its AM_RL_REQ, AM_RL_ITOK, AM_RL_OTOK; checked where both are
 * seen). Plain data. */
#ifndef AIMETER_DIMS_H
#define AIMETER_DIMS_H

#define AM_DIMS(X)                                          \
	X(RPM, rpm, "RPM", "requests", "requests per minute")             \
	X(ITPM, itpm, "ITPM", "input tokens", "input tokens per minute")  \
	X(OTPM, otpm, "OTPM", "output tokens", "output tokens per minute")

typedef enum am_dim {
#define AM_DIM_ENUM_(id, key, label, unit, what) AM_DIM_##id,
	AM_DIMS(AM_DIM_ENUM_)
#undef AM_DIM_ENUM_
	AM_DIM_N
} am_dim;

typedef struct am_dim_info {
	const char *key;   /* "rpm" */
	const char *label; /* "RPM" */
	const char *unit;  /* "requests": what one unit of the limit is */
	const char *what;  /* "requests per minute" */
} am_dim_info;

/* The row of d (0 <= d < AM_DIM_N). */
const am_dim_info *am_dim_info_of(am_dim d);

/* The dimension whose key is `key` ("itpm"), or -1. */
int am_dim_by_key(const char *key);

#endif
