/* config: every setting aimeter has, where each value came from, and how
 * settings are loaded, changed, saved as text and shown.
 *
 * Sources, lowest first. A later step overrides an earlier one:
 *   1. default      built in (the key table in config.c, also shown by
 *                   `aimeter config --keys`);
 *   2. env (weak)   TZ -> timezone, NO_COLOR -> ui.color = never: these
 *                   describe the machine, so the config file overrides them
 *                   (no-color.org asks for exactly that);
 *   3. file         the JSON file: --config PATH, else $AIMETER_CONFIG, else
 *                   $XDG_CONFIG_HOME/aimeter/config.json (missing = defaults);
 *   4. env          ANTHROPIC_BASE_URL -> base_url, AIMETER_DB -> db, and
 *                   ANTHROPIC_API_KEY (the key itself), as the SDKs do;
 *   5. run time     values changed in the console and saved in the ledger's
 *                   settings table, re-applied at start (am_config_restore);
 *   6. flag         command-line flags, for that run only.
 * A value changed live (the console, am_config_set_from_string with
 * AM_CFG_RUNTIME) is the latest act and applies over everything.
 *
 * Keys are dotted paths ("limits.rpm", "budget.daily_usd"); the file nests
 * them as objects ({"limits": {"rpm": 50}}). Keys starting with "_" are
 * comments and ignored; any other unknown key is a warning, never an error.
 * A bad value is an error that names the key.
 *
 * Value types in the file:
 *   integer  a JSON integer (a real with no fraction, such as 1e6, is
 *            accepted; 12.5 is refused, never truncated);
 *   bool     true or false;
 *   USD      exact money: a string ("12.50", "$1,000") or a JSON number
 *            (12.5). A number is read from its text in the file, digit by
 *            digit, so it never passes through floating point. At most 12
 *            fractional digits; never negative; 0 = no limit;
 *   string, path, url, model, enum: JSON strings. A relative path in the
 *            file is relative to the file's directory; "~/" is $HOME.
 * As text (set_from_string, get_string, the settings table) integers are
 * decimal, bools true/false (also on/off, yes/no, 1/0 when setting), USD
 * exact decimals ("10.5"), lists and objects compact JSON; alert_pct also
 * takes "80,95".
 *
 * The API key is never printed, logged or put in an error message: show it
 * with am_config_masked_key. It comes from ANTHROPIC_API_KEY or else from
 * the file named by api_key_file (a warning when that file's mode lets
 * anyone but the owner read it). An "api_key" in the config file is ignored
 * with a warning: the promise is "no key on disk" beyond the file the user
 * chose for it.
 *
 * am_config is a plain value: copy it with `=` (the worker takes a copy).
 * Nothing here keeps global state; every function is safe on distinct
 * objects from any thread, and reading one object from several threads is
 * safe while nobody changes it. */
#ifndef AIMETER_CONFIG_H
#define AIMETER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "dims.h"
#include "err.h"
#include "tag.h"

enum {
	AM_CONFIG_PATH_MAX = 1024, /* sizes include the terminating NUL */
	AM_CONFIG_URL_MAX = 512,
	AM_CONFIG_MODEL_MAX = 128,
	AM_CONFIG_POOL_MAX = 32,
	AM_CONFIG_TIER_MAX = 16,
	AM_CONFIG_TZ_MAX = 128,
	AM_CONFIG_SECRET_MAX = 256,
	AM_CONFIG_COMMAND_MAX = 1024,
	AM_CONFIG_MAX_RULES = 8,
	AM_CONFIG_MAX_TIERS = 8,
	AM_CONFIG_MAX_POOLS = 8,
	AM_CONFIG_MAX_MODEL_POOLS = 64,
	AM_CONFIG_MAX_ALERTS = 4,
	AM_CONFIG_MAX_TAG_BUDGETS = 32,
	AM_CONFIG_MAX_WARNINGS = 16,
	AM_CONFIG_WARNING_MAX = 256,
	AM_CONFIG_MAX_KEYS = 96
};

/* In rank order: a higher source beats a lower one (see above). */
typedef enum am_config_source {
	AM_CFG_DEFAULT,
	AM_CFG_FILE,
	AM_CFG_ENV,
	AM_CFG_RUNTIME,
	AM_CFG_FLAG
} am_config_source;

/* redis.on_failure: what a host does while Redis cannot be reached. */
typedef enum am_config_redis_failure {
	AM_REDIS_PAUSE, /* hold every call until Redis is back (keeps the hard cap) */
	AM_REDIS_LOCAL  /* go on with local limits at local_share_pct and the local budget */
} am_config_redis_failure;

typedef enum am_config_color {
	AM_COLOR_AUTO, /* colours when the terminal has them */
	AM_COLOR_ALWAYS,
	AM_COLOR_NEVER
} am_config_color;

/* One rate-limit pool's limits. Per minute; 0 = that dimension is not
 * enforced. rpm_burst is the capacity of the short request bucket (the
 * provider may enforce "60 RPM" as 1 request per second): 0 = max(1,
 * ceil(rpm / 60)). max_in_flight caps calls in flight in the pool. */
typedef struct am_config_limits {
#define AM_LIM_FIELD_(id, key, label, unit, what) int64_t key;
	AM_DIMS(AM_LIM_FIELD_) /* rpm, itpm, otpm */
#undef AM_LIM_FIELD_
	int64_t rpm_burst, max_in_flight;
} am_config_limits;

/* Fields of am_config_limits, for the per-pool bit masks: the dimensions
 * first (AM_LIM_RPM == AM_DIM_RPM, ...), then the two that are not. */
enum {
#define AM_LIM_ENUM_(id, key, label, unit, what) AM_LIM_##id = AM_DIM_##id,
	AM_DIMS(AM_LIM_ENUM_)
#undef AM_LIM_ENUM_
	AM_LIM_RPM_BURST = AM_DIM_N, AM_LIM_MAX_IN_FLIGHT, AM_LIM_N
};

/* A pool that overrides some of limits.* ("limits.pools.opus-4.rpm"). */
typedef struct am_config_pool {
	char name[AM_CONFIG_POOL_MAX]; /* [A-Za-z0-9_-]+ */
	am_config_limits lim;          /* fields with set[i] false are unused */
	bool set[AM_LIM_N];
	am_config_source src[AM_LIM_N];
} am_config_pool;

/* "limits.model_pools": a model id, or a prefix ending in '*', -> a pool. */
typedef struct am_config_model_pool {
	char model[AM_CONFIG_MODEL_MAX];
	char pool[AM_CONFIG_POOL_MAX];
	am_config_source src;
} am_config_model_pool;

/* A prompt shorter than max_chars code points goes to model; the last rule
 * has max_chars 0 and takes everything else. */
typedef struct am_config_rule {
	int64_t max_chars;
	char model[AM_CONFIG_MODEL_MAX];
} am_config_rule;

/* "budget.tags": a tag's own daily limit ({"nightly-evals": "5"}). */
typedef struct am_config_tag_budget {
	char tag[AM_TAG_MAX + 1];
	int64_t daily_pusd;            /* > 0 */
	am_config_source src;
} am_config_tag_budget;

/* Selector tiers, cheapest first: the budget downgrade moves one down. */
typedef struct am_config_tier {
	char name[AM_CONFIG_TIER_MAX];
	char model[AM_CONFIG_MODEL_MAX];
} am_config_tier;

typedef struct am_config {
	/* ---- top level ---- */
	char api_key_file[AM_CONFIG_PATH_MAX]; /* "" = none */
	char base_url[AM_CONFIG_URL_MAX];      /* no trailing '/' */
	bool allow_insecure_http;              /* http:// beyond loopback accepted */
	char db[AM_CONFIG_PATH_MAX];           /* resolved; "" only when HOME is unknown */
	char pricing_file[AM_CONFIG_PATH_MAX]; /* the price override file, resolved */
	char timezone[AM_CONFIG_TZ_MAX];       /* IANA name or POSIX TZ; "" = system */
	char log_file[AM_CONFIG_PATH_MAX];     /* "" = no log */

	struct {
		int64_t connect_timeout_ms;
		int64_t timeout_ms; /* whole transfer, streaming included */
		int64_t max_response_bytes;
		int64_t max_retries; /* retries after the first attempt */
		int64_t max_tokens;  /* a request's max_tokens when not given */
		bool stream;         /* stream answers unless told otherwise */
		bool count_tokens;   /* exact input counts via count_tokens */
	} client;

	struct {
		am_config_limits def;    /* limits.rpm ... for every pool */
		int64_t init_fill_pct;   /* bucket level at start, % of capacity */
		bool backfill;           /* conservative backfill behind the head */
		bool learn_from_headers; /* adopt the provider's reported limits */
		int npools;
		am_config_pool pool[AM_CONFIG_MAX_POOLS];
		int nmodel_pools;
		am_config_model_pool model_pool[AM_CONFIG_MAX_MODEL_POOLS];
	} limits;

	struct {
		int64_t concurrency;    /* calls in flight at most, all pools */
		int64_t queue_capacity; /* jobs waiting at most; full = an error */
	} worker;

	struct {
		char model[AM_CONFIG_MODEL_MAX]; /* "auto" or a pinned model id */
		int nrules;
		am_config_rule rule[AM_CONFIG_MAX_RULES];
		int ntiers;
		am_config_tier tier[AM_CONFIG_MAX_TIERS];
		bool downgrade_on_budget;
		int64_t downgrade_pct;                    /* budget used share that downgrades */
		char fallback_model[AM_CONFIG_MODEL_MAX]; /* after a 529; "" = none */
	} selector;

	struct {
		bool enabled;
		int64_t ttl_s;
		int64_t max_bytes;
		int64_t max_entries;
	} cache;

	struct {
		int64_t daily_pusd;   /* 0 = no daily limit */
		int64_t monthly_pusd; /* 0 = no monthly limit */
		int nalerts;
		int alert_pct[AM_CONFIG_MAX_ALERTS];       /* 1..100, increasing */
		char alert_command[AM_CONFIG_COMMAND_MAX]; /* run by /bin/sh; "" = none */
		bool bell;
		int64_t max_reservations;
		int64_t web_search_uses; /* reserved for a web search tool without max_uses */
		int ntags;               /* budget.tags, in the order first set */
		am_config_tag_budget tag[AM_CONFIG_MAX_TAG_BUDGETS];
	} budget;

	struct { /* limits, budget and cache shared by several hosts */
		char url[AM_CONFIG_URL_MAX];           /* "" = none: everything stays local */
		char password_file[AM_CONFIG_PATH_MAX]; /* "" = none; read, never shown */
		char prefix[64];                       /* every key starts with it */
		am_config_redis_failure on_failure;
		int64_t local_share_pct; /* on_failure local: this share of each limit */
		int64_t lease_s;         /* a budget reservation outlives its host this long */
	} redis;

	struct {
		am_config_color color;
		int64_t refresh_hz; /* redraws per second at most */
	} ui;

	struct {                                    /* the built-in simulator (no key) */
		int64_t rpm, itpm, otpm, rpm_burst; /* 0 = unlimited; burst 0 = rpm */
		int64_t latency_ms;
		int64_t tokens_per_second; /* 0 = as fast as possible */
		int64_t seed;
	} sim;

	struct {                 /* `aimeter proxy`, or the console's in-process proxy */
		int64_t port;        /* 0 = none in the console; `aimeter proxy`: any free port */
		char listen[64];     /* address; "" = 127.0.0.1 */
		int64_t max_wait_s;  /* longest a proxied call waits for the limiter */
		bool use_own_key;    /* clients without a key use aimeter's */
		bool cache;          /* proxied calls may be answered from the cache */
		char default_tag[64];
		char token[AM_CONFIG_SECRET_MAX]; /* x-aimeter-token; needed off loopback */
	} proxy;

	/* ---- the secret: never print it (am_config_masked_key) ---- */
	char api_key[AM_CONFIG_SECRET_MAX]; /* "" = none */
	am_config_source api_key_src;       /* AM_CFG_ENV or AM_CFG_FILE (api_key_file) */

	/* ---- provenance: read with the functions below ---- */
	char file[AM_CONFIG_PATH_MAX];            /* the config file looked for ("" = none) */
	bool file_loaded;                         /* it existed and was read */
	const char *file_origin;                  /* "--config", "AIMETER_CONFIG" or "default" */
	am_config_source src[AM_CONFIG_MAX_KEYS]; /* per key, in key-table order */
	int nwarnings;
	int warnings_dropped; /* beyond AM_CONFIG_MAX_WARNINGS */
	char warning[AM_CONFIG_MAX_WARNINGS][AM_CONFIG_WARNING_MAX];
} am_config;

/* ---- building ------------------------------------------------------------- */

/* Fills cfg with the defaults. Default paths (db, pricing_file) come from
 * the XDG directories of the process environment (paths.h). Never fails. */
void am_config_init(am_config *cfg);

typedef struct am_config_load_opts {
	const char *path;  /* --config; NULL: $AIMETER_CONFIG, else the default */
	char *const *envp; /* "NAME=value" strings, NULL-terminated; NULL = getenv */
} am_config_load_opts;

/* Builds cfg from scratch: defaults, weak env, the file, env and the API key
 * (see the top of this file). A missing file is fine when it is the default
 * path and an error when it was asked for (--config, AIMETER_CONFIG).
 * Errors: bad JSON gives "FILE:LINE:COLUMN: message"; a bad value gives
 * "FILE: key: problem"; a bad env value names the variable; an unreadable
 * api_key_file names it. Warnings (unknown keys, a readable key file) are
 * collected in cfg (am_config_warning), never printed. On error cfg holds
 * the defaults and err says why. opts may be NULL. */
int am_config_load(am_config *cfg, const am_config_load_opts *opts, am_err *err);

/* The same from text in memory (tests, fuzzing). `name` stands for the file
 * in messages, and relative paths resolve against the current directory.
 * text may contain anything; len bytes are read. */
int am_config_load_text(am_config *cfg, const char *text, size_t len, const char *name,
                        char *const *envp, am_err *err);

/* ---- changing one value ------------------------------------------------------ */

/* Sets `key` from its text form and records `src`: AM_CFG_FLAG for a
 * command-line flag, AM_CFG_RUNTIME for a live change. Dynamic keys work
 * too: "limits.pools.opus-4.rpm", "limits.model_pools.claude-opus-4-5"
 * (value "" removes that mapping). Lists and objects ("selector.rules",
 * "limits.pools") are JSON text; objects merge into what is there.
 * -1 + err ("limits.rpm: 'x' is not a whole number", "unknown key 'x'")
 * leaves cfg unchanged. */
int am_config_set_from_string(am_config *cfg, const char *key, const char *value,
                              am_config_source src, am_err *err);

/* Re-applies a value saved in the settings table at start: like
 * set_from_string with AM_CFG_RUNTIME, except that a key already set by a
 * flag keeps the flag's value. Returns 1 when applied, 0 when a flag wins,
 * -1 + err when the key is unknown (a setting from another version) or the
 * value is bad; the caller warns and goes on. */
int am_config_restore(am_config *cfg, const char *key, const char *value, am_err *err);

/* Whether `value` is acceptable for `key`, without a config at hand (flag
 * parsing checks values before the file is loaded). 0 or -1 + err. */
int am_config_validate(const char *key, const char *value, am_err *err);

/* ---- reading ---------------------------------------------------------------- */

/* The value of `key` as text (the form set_from_string takes back, so the
 * pair round-trips) in a heap string the caller frees, and its source. For
 * "limits.pools.NAME.FIELD" it is the effective value (the pool's own or
 * limits.FIELD). out or src may be NULL. "api_key" is not a key: use
 * am_config_masked_key. -1 + err for an unknown key. */
int am_config_get_string(const am_config *cfg, const char *key, char **out, am_config_source *src,
                         am_err *err);

/* "default", "file", "env", "changed at run time", "flag". */
const char *am_config_source_name(am_config_source src);

/* The effective limits of `pool` (limits.* with that pool's overrides; a
 * pool's own value wins unless the limits.* value has a higher-ranked
 * source, so "/rpm 10" at run time reaches pools set in the file).
 * *explicit_mask (may be NULL) gets bit (1u << AM_LIM_x) for each field that
 * did not come from a default: the limiter treats those as ceilings rather
 * than starting guesses when learn_from_headers is on. pool may be NULL or
 * unknown: then limits.* alone. */
void am_config_pool_limits(const am_config *cfg, const char *pool, am_config_limits *out,
                           unsigned *explicit_mask);

/* The pool limits.model_pools assigns to `model`: an exact entry first,
 * else the longest matching "prefix*" entry; NULL when none does (the price
 * table's pool applies). The pointer lives as long as cfg. */
const char *am_config_pool_of_model(const am_config *cfg, const char *model);

/* Warnings in order, i < am_config_nwarnings: a load starts the list
 * afresh; each set appends its own (compare the count before and after to
 * see what one change added). At most AM_CONFIG_MAX_WARNINGS are kept;
 * warnings_dropped counts the rest. */
int am_config_nwarnings(const am_config *cfg);
const char *am_config_warning(const am_config *cfg, int i);

/* ---- the secret ----------------------------------------------------------------- */

/* A form of a secret that is safe to show: keys of 24 characters or more
 * keep their first 7 and last 4 ("sk-ant-...abcd"), keys of 12..23 only the
 * last 2 ("...cd"), shorter ones nothing ("(hidden)"); "(not set)" for
 * NULL or "". Anything but [A-Za-z0-9_-] in the shown part becomes '?'.
 * Writes at most n bytes, always NUL-terminated (n >= 1). */
void am_config_mask(const char *secret, char *buf, size_t n);

/* am_config_mask of cfg->api_key. */
void am_config_masked_key(const am_config *cfg, char *buf, size_t n);

/* Overwrites the key in memory; call before letting go of a config. */
void am_config_wipe(am_config *cfg);

/* ---- showing ---------------------------------------------------------------- */

/* `aimeter config`: the config file, then one row per key - KEY, SOURCE,
 * VALUE in aligned columns (the value last, as lists can be long). Pools
 * and model mappings get a row per value; the API key is masked. */
void am_config_print(const am_config *cfg, FILE *out);

/* The same as JSON (new reference; the caller decrefs):
 *   {"config_file": PATH|null, "config_loaded": bool,
 *    "settings": {KEY: {"value": V, "source": "default"|"file"|"env"|
 *                       "runtime"|"flag", "env": NAME?}, ...},
 *    "warnings": [TEXT, ...]}
 * USD values are exact decimal strings. "api_key" is masked. */
json_t *am_config_to_json(const am_config *cfg);

/* The key table: name, type, default as text, meaning, and the environment
 * variable that sets it (NULL if none). For `aimeter config --keys` and the
 * README table. Pointers are static. */
typedef struct am_config_key_info {
	const char *name;
	const char *type;
	const char *def;
	const char *help;
	const char *env;
} am_config_key_info;

size_t am_config_key_count(void);
const am_config_key_info *am_config_key_at(size_t i);

#endif
