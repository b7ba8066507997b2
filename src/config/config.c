/* config: the table of every key, and the one path every value takes into
 * the struct.
 *
 * Each key is a row of `keys[]`: its name, kind, where it lives in
 * am_config, its range or check, its default as text and its meaning. A
 * value from any source (the built-in default, the file, the environment, a
 * flag, the settings table) becomes a jansson value and goes through
 * apply_json(), so one set of checks serves them all and the default is
 * checked like user input. Loading and setting work on a scratch copy that
 * replaces the caller's config only on success: a failed load or set never
 * leaves half a change.
 *
 * Money in the file stays exact: a JSON number with a fraction is read from
 * its text in the file (raw_number_at), never from the double jansson made
 * of it. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "money.h"
#include "paths.h"

enum { FILE_MAX_BYTES = 1 << 20, KEY_FILE_MAX_BYTES = 4096, PATH_KEY_MAX = 256, SCAN_DEPTH = 64 };

/* ---- the key table ---------------------------------------------------------- */

enum kind {
	K_BOOL, K_INT, K_USD, K_STR, K_ENUM, K_PCTS, K_RULES, K_TIERS, K_POOLS, K_MODELMAP,
	K_TAGBUDGETS
};

struct apply;
struct key;
typedef int (*check_fn)(const struct apply *a, const struct key *k, const char *in, char *out,
                        size_t n, am_err *err);
typedef int (*defpath_fn)(char *buf, size_t n, am_err *err);

struct key {
	am_config_key_info info;
	enum kind kind;
	size_t off, size;
	int64_t min, max;           /* K_INT, and K_USD's maximum */
	check_fn check;             /* K_STR */
	defpath_fn defpath;         /* K_STR paths: what "" stands for */
	const char *const *choices; /* K_ENUM, in enum order */
	const char *empty;          /* how "" reads in `aimeter config` */
	bool env_weak;              /* the env variable ranks below the file */
	const char *env_value;      /* the value the env variable stands for (NO_COLOR) */
	bool secret;                /* printed masked */
};

/* What one application of a value knows about where it comes from. */
struct apply {
	am_config *cfg;
	am_config_source src;
	const char *base_dir; /* relative paths resolve here; NULL = as given */
	const char *text;     /* the file, for money written as a JSON number */
	size_t len;
	char *const *envp;
	const char *origin; /* the file name, for warnings */
};

static int chk_text(const struct apply *, const struct key *, const char *, char *, size_t,
                    am_err *);
static int chk_path(const struct apply *, const struct key *, const char *, char *, size_t,
                    am_err *);
static int chk_url(const struct apply *, const struct key *, const char *, char *, size_t,
                   am_err *);
static int chk_model(const struct apply *, const struct key *, const char *, char *, size_t,
                     am_err *);
static int chk_model_opt(const struct apply *, const struct key *, const char *, char *, size_t,
                         am_err *);
static int chk_tz(const struct apply *, const struct key *, const char *, char *, size_t, am_err *);

static const char *const color_names[] = {"auto", "always", "never", NULL};
static const char *const redis_failure_names[] = {"pause", "local", NULL};
static int chk_redis_url(const struct apply *, const struct key *, const char *, char *, size_t,
                         am_err *);
static int chk_prefix(const struct apply *, const struct key *, const char *, char *, size_t,
                      am_err *);

#define INFO(name, type, def, help, env) .info = {name, type, def, help, env}
#define AT(f) .off = offsetof(am_config, f), .size = sizeof(((am_config *)0)->f)
#define INT(f, lo, hi) .kind = K_INT, AT(f), .min = (lo), .max = (hi)
#define BOOL(f) .kind = K_BOOL, AT(f)
#define STR(f, chk) .kind = K_STR, AT(f), .check = (chk)
#define I64_MAX INT64_MAX

static const struct key keys[] = {
    {INFO("api_key_file", "path", "",
          "file holding the API key, read when ANTHROPIC_API_KEY is unset; keep it mode 0600",
          NULL),
     STR(api_key_file, chk_path), .empty = "none"},
    {INFO("base_url", "url", "https://api.anthropic.com", "the Messages API endpoint",
          "ANTHROPIC_BASE_URL"),
     STR(base_url, chk_url)},
    {INFO("allow_insecure_http", "bool", "false",
          "accept a plain http:// base_url to a host other than loopback (the key then travels "
          "in cleartext)",
          NULL),
     BOOL(allow_insecure_http)},
    {INFO("db", "path", "", "the ledger database (\"\" = $XDG_DATA_HOME/aimeter/aimeter.db)",
          "AIMETER_DB"),
     STR(db, chk_path), .defpath = am_path_default_db, .empty = "unknown: HOME unset"},
    {INFO("pricing_file", "path", "",
          "price override file (\"\" = $XDG_CONFIG_HOME/aimeter/pricing.json)", NULL),
     STR(pricing_file, chk_path), .defpath = am_path_pricing_override,
     .empty = "unknown: HOME unset"},
    {INFO("timezone", "string", "",
          "time zone of the budget's and the report's day, e.g. \"Europe/Paris\" (\"\" = system)",
          "TZ"),
     STR(timezone, chk_tz), .empty = "system", .env_weak = true},
    {INFO("log_file", "path", "",
          "append a diagnostic log here (\"\" = no log; never holds the key)", NULL),
     STR(log_file, chk_path), .empty = "none"},

    {INFO("client.connect_timeout_ms", "integer", "10000", "TCP+TLS connect timeout", NULL),
     INT(client.connect_timeout_ms, 100, 600000)},
    {INFO("client.timeout_ms", "integer", "600000", "whole-request timeout, streaming included",
          NULL),
     INT(client.timeout_ms, 1000, 3600000)},
    {INFO("client.max_response_bytes", "integer", "33554432",
          "largest response body accepted; larger fails the call", NULL),
     INT(client.max_response_bytes, 65536, 1073741824)},
    {INFO("client.max_retries", "integer", "2",
          "retries after the first attempt (429, 5xx, 529, network), each through the limiter",
          NULL),
     INT(client.max_retries, 0, 10)},
    {INFO("client.max_tokens", "integer", "1024",
          "max_tokens of a request that does not say (charged to OTPM and the budget up front)",
          NULL),
     INT(client.max_tokens, 1, 1000000)},
    {INFO("client.stream", "bool", "true", "stream answers (SSE) unless a command says otherwise",
          NULL),
     BOOL(client.stream)},
    {INFO("client.count_tokens", "bool", "false",
          "ask /v1/messages/count_tokens for exact input counts (its own rate limit)", NULL),
     BOOL(client.count_tokens)},

    {INFO("limits.rpm", "integer", "50",
          "requests per minute, every pool (0 = unlimited); adopted from headers when default",
          NULL),
     INT(limits.def.rpm, 0, 1000000000)},
    {INFO("limits.itpm", "integer", "30000", "input tokens per minute, every pool (0 = unlimited)",
          NULL),
     INT(limits.def.itpm, 0, 1000000000000)},
    {INFO("limits.otpm", "integer", "8000", "output tokens per minute, every pool (0 = unlimited)",
          NULL),
     INT(limits.def.otpm, 0, 1000000000000)},
    {INFO("limits.rpm_burst", "integer", "0",
          "short request bucket: requests back to back (0 = max(1, rpm/60))", NULL),
     INT(limits.def.rpm_burst, 0, 1000000000)},
    {INFO("limits.max_in_flight", "integer", "64", "calls in flight per pool at most", NULL),
     INT(limits.def.max_in_flight, 1, 100000)},
    {INFO("limits.init_fill_pct", "integer", "25",
          "bucket level at start, % of capacity (other processes may have spent the rest)", NULL),
     INT(limits.init_fill_pct, 0, 100)},
    {INFO("limits.backfill", "bool", "true",
          "let small calls use slack the queue head cannot use (never delays the head)", NULL),
     BOOL(limits.backfill)},
    {INFO("limits.learn_from_headers", "bool", "true",
          "adopt the limits the provider reports; limits you set stay ceilings", NULL),
     BOOL(limits.learn_from_headers)},
    {INFO("limits.pools", "object", "{}",
          "per-pool overrides: {\"opus-4\": {\"rpm\": 1000, \"itpm\": 450000, ...}}", NULL),
     .kind = K_POOLS, AT(limits.pool)},
    {INFO("limits.model_pools", "object", "{}",
          "model id (or prefix*) -> pool, over the price table's pools", NULL),
     .kind = K_MODELMAP, AT(limits.model_pool)},

    {INFO("worker.concurrency", "integer", "64", "calls in flight at most, all pools together",
          NULL),
     INT(worker.concurrency, 1, 4096)},
    {INFO("worker.queue_capacity", "integer", "10000",
          "jobs waiting at most; a full queue is an error", NULL),
     INT(worker.queue_capacity, 1, 10000000)},

    {INFO("selector.model", "model", "auto", "\"auto\" (the rules decide) or a model id to pin",
          NULL),
     STR(selector.model, chk_model)},
    {INFO("selector.rules", "list",
          "[{\"max_chars\":500,\"model\":\"claude-haiku-4-5\"},"
          "{\"max_chars\":2000,\"model\":\"claude-sonnet-4-5\"},{\"model\":\"claude-opus-4-5\"}]",
          "prompt shorter than max_chars code points -> model; the last rule has no max_chars",
          NULL),
     .kind = K_RULES, AT(selector.rule)},
    {INFO("selector.tiers", "list",
          "[{\"name\":\"haiku\",\"model\":\"claude-haiku-4-5\"},"
          "{\"name\":\"sonnet\",\"model\":\"claude-sonnet-4-5\"},"
          "{\"name\":\"opus\",\"model\":\"claude-opus-4-5\"}]",
          "model tiers, cheapest first: the budget downgrade moves one down", NULL),
     .kind = K_TIERS, AT(selector.tier)},
    {INFO("selector.downgrade_on_budget", "bool", "true",
          "drop one tier when the budget's used share reaches downgrade_pct", NULL),
     BOOL(selector.downgrade_on_budget)},
    {INFO("selector.downgrade_pct", "integer", "80", "budget used share (%) that downgrades", NULL),
     INT(selector.downgrade_pct, 1, 100)},
    {INFO("selector.fallback_model", "model", "claude-sonnet-4-5",
          "model that takes over after a 529 (\"\" = retry the same model)", NULL),
     STR(selector.fallback_model, chk_model_opt), .empty = "none"},

    {INFO("cache.enabled", "bool", "true", "answer repeated requests from the response cache",
          NULL),
     BOOL(cache.enabled)},
    {INFO("cache.ttl_s", "integer", "86400", "seconds a cached answer stays valid", NULL),
     INT(cache.ttl_s, 1, 31536000)},
    {INFO("cache.max_bytes", "integer", "268435456", "cache size cap; least recently used go first",
          NULL),
     INT(cache.max_bytes, 65536, 1099511627776)},
    {INFO("cache.max_entries", "integer", "100000", "cache entry cap", NULL),
     INT(cache.max_entries, 1, 100000000)},

    {INFO("budget.daily_usd", "USD", "10", "hard daily limit, local day (0 = none)", NULL),
     .kind = K_USD, AT(budget.daily_pusd), .max = I64_MAX},
    {INFO("budget.monthly_usd", "USD", "0", "hard monthly limit, local month (0 = none)", NULL),
     .kind = K_USD, AT(budget.monthly_pusd), .max = I64_MAX},
    {INFO("budget.alert_pct", "list", "[80]",
          "alert thresholds, % of a limit, increasing, at most 4; each fires once per period",
          NULL),
     .kind = K_PCTS, AT(budget.alert_pct)},
    {INFO("budget.alert_command", "string", "",
          "run by /bin/sh on an alert, with the figures in its environment", NULL),
     STR(budget.alert_command, chk_text), .empty = "none"},
    {INFO("budget.bell", "bool", "true", "ring the terminal bell on an alert", NULL),
     BOOL(budget.bell)},
    {INFO("budget.max_reservations", "integer", "4096", "budget reservations outstanding at most",
          NULL),
     INT(budget.max_reservations, 1, 1000000)},
    {INFO("budget.web_search_uses", "integer", "10",
          "web searches reserved for a web search tool that sets no max_uses", NULL),
     INT(budget.web_search_uses, 0, 1000000)},
    {INFO("budget.tags", "object", "{}",
          "daily limit per tag, USD: {\"nightly-evals\": \"5\"}; a call of that tag waits when "
          "it would cross it (0 or \"\" = none)",
          NULL),
     .kind = K_TAGBUDGETS, AT(budget.tag)},

    {INFO("redis.url", "url", "",
          "redis://[user:pass@]host:port/db shared by the hosts of one organisation (\"\" = "
          "none; rediss:// when hiredis has TLS)",
          "AIMETER_REDIS_URL"),
     STR(redis.url, chk_redis_url), .empty = "none"},
    {INFO("redis.password_file", "path", "", "file holding the Redis password (mode 0600)", NULL),
     STR(redis.password_file, chk_path), .empty = "none"},
    {INFO("redis.prefix", "string", "aimeter:",
          "every Redis key starts with it (one Redis, several organisations)", NULL),
     STR(redis.prefix, chk_prefix)},
    {INFO("redis.on_failure", "enum", "pause",
          "Redis unreachable: pause (hold calls, keeps the hard cap) or local (local limits "
          "and budget)",
          NULL),
     .kind = K_ENUM, AT(redis.on_failure), .choices = redis_failure_names},
    {INFO("redis.local_share_pct", "integer", "33",
          "on_failure local: the share of each limit this host takes alone", NULL),
     INT(redis.local_share_pct, 1, 100)},
    {INFO("redis.lease_s", "integer", "300",
          "a budget reservation of a host that stopped answering expires after this long",
          NULL),
     INT(redis.lease_s, 5, 86400)},

    {INFO("ui.color", "enum", "auto", "auto, always or never", "NO_COLOR"), .kind = K_ENUM,
     AT(ui.color), .choices = color_names, .env_weak = true, .env_value = "never"},
    {INFO("ui.refresh_hz", "integer", "10", "screen redraws per second at most", NULL),
     INT(ui.refresh_hz, 1, 60)},

    {INFO("proxy.port", "integer", "0",
          "port of the console's in-process proxy (0 = none; `aimeter proxy` takes any)", NULL),
     INT(proxy.port, 0, 65535)},
    {INFO("proxy.listen", "text", "127.0.0.1",
          "address the proxy listens on (anything but loopback needs proxy.token)", NULL),
     STR(proxy.listen, chk_text), .empty = "127.0.0.1"},
    {INFO("proxy.max_wait_s", "integer", "60",
          "longest a proxied call waits for the rate limiter before a 429", NULL),
     INT(proxy.max_wait_s, 0, 86400)},
    {INFO("proxy.use_own_key", "bool", "false",
          "proxied calls without a key of their own use aimeter's", NULL),
     BOOL(proxy.use_own_key)},
    {INFO("proxy.cache", "bool", "false",
          "proxied calls may be answered from the response cache (x-aimeter-cache: on asks)",
          NULL),
     BOOL(proxy.cache)},
    {INFO("proxy.default_tag", "text", "",
          "ledger tag of proxied calls without x-aimeter-tag or --tag", NULL),
     STR(proxy.default_tag, chk_text)},
    {INFO("proxy.token", "text", "",
          "secret that proxy clients send as x-aimeter-token (required off loopback)", NULL),
     STR(proxy.token, chk_text), .secret = true},
    {INFO("sim.rpm", "integer", "1000", "simulator: requests per minute (0 = unlimited)", NULL),
     INT(sim.rpm, 0, 1000000000)},
    {INFO("sim.itpm", "integer", "450000", "simulator: input tokens per minute", NULL),
     INT(sim.itpm, 0, 1000000000000)},
    {INFO("sim.otpm", "integer", "90000", "simulator: output tokens per minute", NULL),
     INT(sim.otpm, 0, 1000000000000)},
    {INFO("sim.rpm_burst", "integer", "0", "simulator: request bucket capacity (0 = rpm)", NULL),
     INT(sim.rpm_burst, 0, 1000000000)},
    {INFO("sim.latency_ms", "integer", "400", "simulator: time to first byte", NULL),
     INT(sim.latency_ms, 0, 600000)},
    {INFO("sim.tokens_per_second", "integer", "80",
          "simulator: streaming pace (0 = as fast as possible)", NULL),
     INT(sim.tokens_per_second, 0, 1000000)},
    {INFO("sim.seed", "integer", "1", "simulator: seed of its answers and token counts", NULL),
     INT(sim.seed, 0, I64_MAX)},
};

#define NKEYS (sizeof keys / sizeof keys[0])
_Static_assert(NKEYS <= AM_CONFIG_MAX_KEYS, "the source array holds every key");

static const char *const lim_names[AM_LIM_N] = {
#define LIM_NAME(id, key, label, unit, what) [AM_LIM_##id] = #key,
	AM_DIMS(LIM_NAME)
#undef LIM_NAME
	[AM_LIM_RPM_BURST] = "rpm_burst", [AM_LIM_MAX_IN_FLIGHT] = "max_in_flight"};

static void *field(am_config *cfg, const struct key *k)
{
	return (char *)cfg + k->off;
}

static const void *cfield(const am_config *cfg, const struct key *k)
{
	return (const char *)cfg + k->off;
}

static const struct key *find_key(const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (!strcmp(keys[i].info.name, name))
			return &keys[i];
	return NULL;
}

/* "budget.tags.TAG": one tag's daily limit, a dynamic key. */
#define TAGS_PREFIX "budget.tags."

static const am_config_tag_budget *find_tag_budget(const am_config *cfg, const char *tag)
{
	for (int i = 0; i < cfg->budget.ntags; i++)
		if (!strcmp(cfg->budget.tag[i].tag, tag))
			return &cfg->budget.tag[i];
	return NULL;
}

static size_t key_index(const struct key *k)
{
	return (size_t)(k - keys);
}

/* Whether `name` is a section ("limits") of some key. */
static bool is_section(const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < NKEYS; i++)
		if (!strncmp(keys[i].info.name, name, n) && keys[i].info.name[n] == '.')
			return true;
	return false;
}

static int64_t *lim_field(am_config_limits *l, int i)
{
	int64_t *f[AM_LIM_N] = {
#define LIM_PTR(id, key, label, unit, what) [AM_LIM_##id] = &l->key,
		AM_DIMS(LIM_PTR)
#undef LIM_PTR
		[AM_LIM_RPM_BURST] = &l->rpm_burst, [AM_LIM_MAX_IN_FLIGHT] = &l->max_in_flight};
	return f[i];
}

static int64_t lim_get(const am_config_limits *l, int i)
{
	am_config_limits copy = *l;
	return *lim_field(&copy, i);
}

static const struct key *lim_key(int i)
{
	char name[64];
	snprintf(name, sizeof name, "limits.%s", lim_names[i]);
	return find_key(name);
}

/* ---- small helpers ------------------------------------------------------------ */

static const char *env_get(char *const *envp, const char *name)
{
	if (!envp)
		return getenv(name);
	size_t n = strlen(name);
	for (; *envp; envp++)
		if (!strncmp(*envp, name, n) && (*envp)[n] == '=')
			return *envp + n + 1;
	return NULL;
}

static void add_warning(am_config *cfg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add_warning(am_config *cfg, const char *fmt, ...)
{
	if (cfg->nwarnings >= AM_CONFIG_MAX_WARNINGS) {
		cfg->warnings_dropped++;
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cfg->warning[cfg->nwarnings++], AM_CONFIG_WARNING_MAX, fmt, ap);
	va_end(ap);
}

static const char *jtype(const json_t *v)
{
	if (!v)
		return "nothing";
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "a list";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "a whole number";
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a bool";
	default:
		return "null";
	}
}

static int copy_str(const char *name, const char *in, char *out, size_t n, am_err *err)
{
	size_t len = strlen(in);
	if (len >= n)
		return am_err_set(err, "%s: too long (%zu bytes, at most %zu)", name, len, n - 1);
	memcpy(out, in, len + 1);
	return 0;
}

static bool printable_ascii(const char *s)
{
	for (; *s; s++)
		if (*s <= ' ' || *s > '~')
			return false;
	return true;
}

/* Strict decimal integer: optional '-', digits, nothing else. */
static int parse_i64(const char *s, int64_t *out)
{
	const char *p = s;
	bool neg = *p == '-';
	if (neg)
		p++;
	if (!isdigit((unsigned char)*p))
		return -1;
	int64_t v = 0;
	for (; isdigit((unsigned char)*p); p++) {
		int d = *p - '0';
		if (v > (INT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (*p)
		return -1;
	*out = neg ? -v : v;
	return 0;
}

/* ---- string checks ------------------------------------------------------------- */

static int chk_text(const struct apply *a, const struct key *k, const char *in, char *out, size_t n,
                    am_err *err)
{
	(void)a;
	for (const char *p = in; *p; p++)
		if ((unsigned char)*p < ' ' && *p != '\t')
			return am_err_set(err, "%s: contains a control character", k->info.name);
	return copy_str(k->info.name, in, out, n, err);
}

static int chk_path(const struct apply *a, const struct key *k, const char *in, char *out, size_t n,
                    am_err *err)
{
	int len;
	if (!*in) {
		if (k->defpath && k->defpath(out, n, NULL) == 0)
			return 0;
		out[0] = '\0';
		return 0;
	}
	for (const char *p = in; *p; p++)
		if ((unsigned char)*p < ' ')
			return am_err_set(err, "%s: contains a control character", k->info.name);
	if (in[0] == '~' && (in[1] == '/' || in[1] == '\0')) {
		const char *home = env_get(a->envp, "HOME");
		if (!home || !*home)
			return am_err_set(err, "%s: '%s' needs HOME, which is not set",
			                  k->info.name, in);
		len = snprintf(out, n, "%s%s", home, in + 1);
	} else if (in[0] != '/' && a->base_dir) {
		len = snprintf(out, n, "%s/%s", a->base_dir, in);
	} else {
		len = snprintf(out, n, "%s", in);
	}
	if (len < 0 || (size_t)len >= n)
		return am_err_set(err, "%s: path is too long (at most %zu bytes)", k->info.name,
		                  n - 1);
	return 0;
}

static int chk_url(const struct apply *a, const struct key *k, const char *in, char *out, size_t n,
                   am_err *err)
{
	(void)a;
	const char *rest = !strncmp(in, "https://", 8)  ? in + 8
	                   : !strncmp(in, "http://", 7) ? in + 7
	                                                : NULL;
	if (!rest || !*rest || *rest == '/')
		return am_err_set(err, "%s: '%.200s' is not an http:// or https:// URL",
		                  k->info.name, in);
	if (!printable_ascii(in))
		return am_err_set(err, "%s: the URL contains a space or a control character",
		                  k->info.name);
	if (copy_str(k->info.name, in, out, n, err))
		return -1;
	for (size_t len = strlen(out); len > 0 && out[len - 1] == '/'; len--)
		out[len - 1] = '\0';
	return 0;
}

/* The scheme and a host; the Redis layer parses the rest when it connects.
 * A password inside the URL is kept, and shown masked (key_json). */
static int chk_redis_url(const struct apply *a, const struct key *k, const char *in, char *out,
                         size_t n, am_err *err)
{
	(void)a;
	const char *rest = !strncmp(in, "redis://", 8)    ? in + 8
	                   : !strncmp(in, "rediss://", 9) ? in + 9
	                                                  : NULL;
	if (*in && (!rest || !*rest || *rest == '/'))
		return am_err_set(err, "%s: not a redis:// or rediss:// URL", k->info.name);
	if (!printable_ascii(in))
		return am_err_set(err, "%s: the URL contains a space or a control character",
		                  k->info.name);
	return copy_str(k->info.name, in, out, n, err);
}

static int chk_prefix(const struct apply *a, const struct key *k, const char *in, char *out,
                      size_t n, am_err *err)
{
	(void)a;
	if (!*in || !printable_ascii(in))
		return am_err_set(err, "%s: printable characters without spaces, at least one",
		                  k->info.name);
	return copy_str(k->info.name, in, out, n, err);
}

/* "redis://user:pass@host" -> "redis://user:(hidden)@host": a password in
 * the Redis URL is a secret and never shown. */
static json_t *masked_url(const char *url)
{
	const char *s = strstr(url, "://");
	const char *at = s ? strrchr(s, '@') : NULL;
	const char *colon = s ? memchr(s + 3, ':', at ? (size_t)(at - s - 3) : 0) : NULL;
	if (!at || !colon)
		return json_string_nocheck(url);
	char buf[AM_CONFIG_URL_MAX + 16];
	snprintf(buf, sizeof buf, "%.*s:(hidden)%s", (int)(colon - url), url, at);
	return json_string_nocheck(buf);
}

static int check_model_id(const char *name, const char *in, bool allow_star, am_err *err)
{
	size_t len = strlen(in);
	if (len == 0)
		return am_err_set(err, "%s: the model id is empty", name);
	if (len >= AM_CONFIG_MODEL_MAX)
		return am_err_set(err, "%s: model id too long (at most %d bytes)", name,
		                  AM_CONFIG_MODEL_MAX - 1);
	if (!printable_ascii(in))
		return am_err_set(
		    err, "%s: model id '%.100s' contains a space or a control character", name, in);
	const char *star = strchr(in, '*');
	if (star && (!allow_star || star[1] != '\0'))
		return am_err_set(err, "%s: '*' may only end a model prefix", name);
	return 0;
}

static int chk_model(const struct apply *a, const struct key *k, const char *in, char *out,
                     size_t n, am_err *err)
{
	(void)a;
	if (check_model_id(k->info.name, in, false, err))
		return -1;
	return copy_str(k->info.name, in, out, n, err);
}

static int chk_model_opt(const struct apply *a, const struct key *k, const char *in, char *out,
                         size_t n, am_err *err)
{
	if (!*in) {
		out[0] = '\0';
		return 0;
	}
	return chk_model(a, k, in, out, n, err);
}

/* A zone name must exist in the zone database, or glibc would silently use
 * UTC and every budget day would be wrong. POSIX TZ strings ("CET-1CEST",
 * "UTC0") carry a digit and are taken as they are. TZ itself (weak env) is
 * the machine's own setting and is not second-guessed. */
static int chk_tz(const struct apply *a, const struct key *k, const char *in, char *out, size_t n,
                  am_err *err)
{
	if (*in && a->src != AM_CFG_ENV && strcmp(in, "UTC") && strcmp(in, "GMT")) {
		const char *name = in[0] == ':' ? in + 1 : in;
		bool posix = strpbrk(name, "0123456789<") != NULL && name[0] != '/';
		if (!posix) {
			for (const char *p = name; *p; p++)
				if (!isalnum((unsigned char)*p) && !strchr("_+-/", *p))
					return am_err_set(err,
					                  "%s: '%.100s' is not a time zone name",
					                  k->info.name, in);
			if (strstr(name, "..") || !*name)
				return am_err_set(err, "%s: '%.100s' is not a time zone name",
				                  k->info.name, in);
			const char *dir = env_get(a->envp, "TZDIR");
			char path[AM_CONFIG_PATH_MAX + 64];
			struct stat st;
			if (!dir || !*dir)
				dir = "/usr/share/zoneinfo";
			snprintf(path, sizeof path, "%s", dir);
			/* Without a zone database there is nothing to check against. */
			if (name[0] != '/' && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
				snprintf(path, sizeof path, "%s/%s", dir, name);
				if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
					return am_err_set(
					    err, "%s: unknown time zone '%.100s' (not in %s)",
					    k->info.name, in, dir);
			}
		}
	}
	if (!printable_ascii(in) && *in)
		return am_err_set(err, "%s: contains a space or a control character", k->info.name);
	return copy_str(k->info.name, in, out, n, err);
}

/* ---- money written as a JSON number: its text in the file ---------------------- */

struct scan {
	const char *p, *end;
	const char *target; /* the dotted key path wanted */
	const char *found;  /* the last number token at that path */
	size_t found_len;
	int depth;
};

static void scan_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static bool scan_string(struct scan *s, const char **b, size_t *n)
{
	if (s->p >= s->end || *s->p != '"')
		return false;
	const char *start = ++s->p;
	while (s->p < s->end && *s->p != '"') {
		if (*s->p == '\\')
			s->p++;
		s->p++;
	}
	if (s->p >= s->end)
		return false;
	*b = start;
	*n = (size_t)(s->p - start);
	s->p++;
	return true;
}

/* Walks one value whose dotted path is path[0..plen) (plen == SIZE_MAX:
 * inside a list, where no key path applies), noting number tokens found at
 * the target path. The later occurrence wins, as it does when jansson's
 * object is applied (dotted and nested spellings of one key). */
static bool scan_value(struct scan *s, char *path, size_t plen)
{
	scan_ws(s);
	if (s->p >= s->end || ++s->depth > SCAN_DEPTH)
		return false;
	bool ok = true;
	char c = *s->p;
	if (c == '{' || c == '[') {
		char close = c == '{' ? '}' : ']';
		s->p++;
		scan_ws(s);
		if (s->p < s->end && *s->p == close) {
			s->p++;
		} else {
			for (;;) {
				size_t sub = SIZE_MAX;
				if (c == '{') {
					const char *kb;
					size_t kn;
					if (!scan_string(s, &kb, &kn))
						return false;
					scan_ws(s);
					if (s->p >= s->end || *s->p++ != ':')
						return false;
					if (plen != SIZE_MAX && plen + kn + 2 < PATH_KEY_MAX) {
						sub = plen;
						if (plen)
							path[sub++] = '.';
						memcpy(path + sub, kb, kn);
						sub += kn;
						path[sub] = '\0';
					}
				}
				if (!scan_value(s, path, sub))
					return false;
				if (plen != SIZE_MAX)
					path[plen] = '\0';
				scan_ws(s);
				if (s->p < s->end && *s->p == ',') {
					s->p++;
					scan_ws(s);
					continue;
				}
				if (s->p < s->end && *s->p == close) {
					s->p++;
					break;
				}
				return false;
			}
		}
	} else if (c == '"') {
		const char *b;
		size_t n;
		ok = scan_string(s, &b, &n);
	} else {
		const char *b = s->p;
		while (s->p < s->end && (isalnum((unsigned char)*s->p) || strchr("+-.", *s->p)))
			s->p++;
		if (s->p == b)
			return false;
		if (plen != SIZE_MAX && !strcmp(path, s->target) &&
		    (c == '-' || isdigit((unsigned char)c))) {
			s->found = b;
			s->found_len = (size_t)(s->p - b);
		}
	}
	s->depth--;
	return ok;
}

/* The text of the number at dotted `path` in the JSON `text`; false when it
 * cannot be found (then the caller asks for a string). */
static bool raw_number_at(const char *text, size_t len, const char *path, char *out, size_t n)
{
	char buf[PATH_KEY_MAX] = "";
	struct scan s = {.p = text, .end = text + len, .target = path};
	if (!text || !scan_value(&s, buf, 0) || !s.found || s.found_len >= n)
		return false;
	memcpy(out, s.found, s.found_len);
	out[s.found_len] = '\0';
	return true;
}

/* ---- typed values from JSON ----------------------------------------------------- */

static int json_i64(const json_t *v, const char *name, int64_t min, int64_t max, int64_t *out,
                    am_err *err)
{
	int64_t x;
	if (json_is_integer(v)) {
		x = json_integer_value(v);
	} else if (json_is_real(v)) {
		double d = json_real_value(v);
		/* Integral and within 2^53: the double is that integer exactly. */
		if (!(d >= -9007199254740992.0 && d <= 9007199254740992.0) ||
		    d != (double)(int64_t)d)
			return am_err_set(err, "%s: %g is not a whole number", name, d);
		x = (int64_t)d;
	} else {
		return am_err_set(err, "%s: expected a whole number, got %s", name, jtype(v));
	}
	if (x < min || x > max)
		return am_err_set(err, "%s: %" PRId64 " is out of range (%" PRId64 "..%" PRId64 ")",
		                  name, x, min, max);
	*out = x;
	return 0;
}

static int usd_from_text(const char *name, const char *s, int64_t max, int64_t *out, am_err *err)
{
	am_err e;
	int64_t v;
	if (am_money_parse_usd(s, &v, &e))
		return am_err_set(err, "%s: %s", name, e.msg);
	if (v < 0)
		return am_err_set(err, "%s: '%s' is negative", name, s);
	if (v > max)
		return am_err_set(err, "%s: '%s' is too large", name, s);
	*out = v;
	return 0;
}

/* An amount in USD for the value at dotted path `name`, at most `max` pUSD. */
static int json_usd_at(const struct apply *a, const char *name, int64_t max, const json_t *v,
                       int64_t *out, am_err *err)
{
	if (json_is_string(v))
		return usd_from_text(name, json_string_value(v), max, out, err);
	if (json_is_integer(v)) {
		int64_t usd = json_integer_value(v), p;
		if (usd < 0)
			return am_err_set(err, "%s: %" PRId64 " is negative", name, usd);
		if (am_money_mul(usd, AM_PUSD_PER_USD, &p) || p > max)
			return am_err_set(err, "%s: %" PRId64 " is too large", name, usd);
		*out = p;
		return 0;
	}
	if (json_is_real(v)) {
		char raw[64];
		if (!raw_number_at(a->text, a->len, name, raw, sizeof raw) || strpbrk(raw, "eE"))
			return am_err_set(err, "%s: write the amount as a string, e.g. \"12.50\"",
			                  name);
		return usd_from_text(name, raw, max, out, err);
	}
	return am_err_set(err, "%s: expected an amount in USD (\"12.50\"), got %s", name, jtype(v));
}

static int json_usd(const struct apply *a, const struct key *k, const json_t *v, int64_t *out,
                    am_err *err)
{
	return json_usd_at(a, k->info.name, k->max, v, out, err);
}

static int json_str(const json_t *v, const char *name, const char **out, am_err *err)
{
	if (!json_is_string(v))
		return am_err_set(err, "%s: expected a string, got %s", name, jtype(v));
	if (strlen(json_string_value(v)) != json_string_length(v))
		return am_err_set(err, "%s: contains a NUL character", name);
	*out = json_string_value(v);
	return 0;
}

/* Unknown members of an object inside a value (a rule, a pool). */
static void warn_members(const struct apply *a, json_t *obj, const char *path,
                         const char *const *known)
{
	const char *mk;
	json_t *mv;
	json_object_foreach(obj, mk, mv)
	{
		bool ok = mk[0] == '_';
		for (const char *const *kn = known; *kn && !ok; kn++)
			ok = !strcmp(*kn, mk);
		if (!ok)
			add_warning(a->cfg, "%s: unknown key '%s.%s' (ignored)", a->origin, path,
			            mk);
	}
}

static int apply_pcts(const struct apply *a, const struct key *k, json_t *v, am_err *err)
{
	const char *name = k->info.name;
	am_config *cfg = a->cfg;
	json_t *one = NULL;
	if (json_is_integer(v) || json_is_real(v)) {
		one = json_array();
		json_array_append(one, v);
		v = one;
	}
	if (!json_is_array(v)) {
		json_decref(one);
		return am_err_set(err, "%s: expected a percent or a list of them, got %s", name,
		                  jtype(v));
	}
	size_t n = json_array_size(v);
	int rc = 0;
	if (n > AM_CONFIG_MAX_ALERTS)
		rc = am_err_set(err, "%s: at most %d thresholds", name, AM_CONFIG_MAX_ALERTS);
	for (size_t i = 0; i < n && !rc; i++) {
		int64_t pct;
		char item[PATH_KEY_MAX];
		snprintf(item, sizeof item, "%s[%zu]", name, i);
		if (json_i64(json_array_get(v, i), item, 1, 100, &pct, err))
			rc = -1;
		else if (i > 0 && pct <= cfg->budget.alert_pct[i - 1])
			rc = am_err_set(err, "%s: thresholds must increase", name);
		else
			cfg->budget.alert_pct[i] = (int)pct;
	}
	if (!rc)
		cfg->budget.nalerts = (int)n;
	json_decref(one);
	return rc;
}

/* A list of 1..max objects (rules, tiers): checks its shape; the caller
 * then takes each with list_item. */
static int check_list(const char *name, const json_t *v, size_t max, const char *what, am_err *err)
{
	if (!json_is_array(v))
		return am_err_set(err, "%s: expected a list of %s, got %s", name, what, jtype(v));
	if (json_array_size(v) < 1 || json_array_size(v) > max)
		return am_err_set(err, "%s: expected 1 to %zu %s", name, max, what);
	return 0;
}

/* Item i of such a list, named "name[i]" in item, which must be an object
 * of the given shape; its unknown members are warnings. */
static json_t *list_item(const struct apply *a, json_t *v, size_t i, const char *name,
                         const char *shape, const char *const *known, char *item, size_t n,
                         am_err *err)
{
	json_t *o = json_array_get(v, i);
	snprintf(item, n, "%s[%zu]", name, i);
	if (!json_is_object(o)) {
		am_err_set(err, "%s: expected %s", item, shape);
		return NULL;
	}
	warn_members(a, o, item, known);
	return o;
}

static int apply_rules(const struct apply *a, const struct key *k, json_t *v, am_err *err)
{
	static const char *const known[] = {"max_chars", "model", NULL};
	const char *name = k->info.name;
	am_config *cfg = a->cfg;
	size_t n = json_array_size(v);
	if (check_list(name, v, AM_CONFIG_MAX_RULES, "rules", err))
		return -1;
	for (size_t i = 0; i < n; i++) {
		char item[PATH_KEY_MAX];
		json_t *mc, *model,
		    *r = list_item(a, v, i, name, "{\"max_chars\": N, \"model\": ID}", known, item,
		                   sizeof item, err);
		const char *m;
		int64_t max_chars = 0;
		if (!r)
			return -1;
		model = json_object_get(r, "model");
		if (!model)
			return am_err_set(err, "%s: the rule has no model", item);
		if (json_str(model, item, &m, err) || check_model_id(item, m, false, err))
			return -1;
		if ((mc = json_object_get(r, "max_chars")) &&
		    json_i64(mc, item, 0, 1000000000, &max_chars, err))
			return -1;
		bool last = i + 1 == n;
		if (!last && max_chars == 0)
			return am_err_set(err, "%s: only the last rule may leave out max_chars",
			                  item);
		if (last && max_chars != 0)
			return am_err_set(err,
			                  "%s: the last rule takes every longer prompt: leave out "
			                  "its max_chars",
			                  item);
		if (i > 0 && !last && max_chars <= cfg->selector.rule[i - 1].max_chars)
			return am_err_set(err, "%s: max_chars must increase from rule to rule",
			                  item);
		cfg->selector.rule[i].max_chars = max_chars;
		copy_str(item, m, cfg->selector.rule[i].model, AM_CONFIG_MODEL_MAX, NULL);
	}
	cfg->selector.nrules = (int)n;
	return 0;
}

static int apply_tiers(const struct apply *a, const struct key *k, json_t *v, am_err *err)
{
	static const char *const known[] = {"name", "model", NULL};
	const char *name = k->info.name;
	am_config *cfg = a->cfg;
	size_t n = json_array_size(v);
	if (check_list(name, v, AM_CONFIG_MAX_TIERS, "tiers", err))
		return -1;
	for (size_t i = 0; i < n; i++) {
		char item[PATH_KEY_MAX];
		json_t *tn, *tm,
		    *t = list_item(a, v, i, name, "{\"name\": N, \"model\": ID}", known, item,
		                   sizeof item, err);
		const char *tname, *model;
		if (!t)
			return -1;
		if (!(tn = json_object_get(t, "name")) || !(tm = json_object_get(t, "model")))
			return am_err_set(err, "%s: a tier needs a name and a model", item);
		if (json_str(tn, item, &tname, err) || json_str(tm, item, &model, err) ||
		    check_model_id(item, model, false, err))
			return -1;
		if (!*tname || strlen(tname) >= AM_CONFIG_TIER_MAX || !printable_ascii(tname))
			return am_err_set(err, "%s: a tier name is 1 to %d letters", item,
			                  AM_CONFIG_TIER_MAX - 1);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(cfg->selector.tier[j].name, tname))
				return am_err_set(err, "%s: tier '%s' appears twice", item, tname);
		strcpy(cfg->selector.tier[i].name, tname);
		strcpy(cfg->selector.tier[i].model, model);
	}
	cfg->selector.ntiers = (int)n;
	return 0;
}

static int check_pool_name(const char *where, const char *s, am_err *err)
{
	size_t len = strlen(s);
	if (len == 0 || len >= AM_CONFIG_POOL_MAX)
		return am_err_set(err, "%s: a pool name is 1 to %d characters", where,
		                  AM_CONFIG_POOL_MAX - 1);
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
			return am_err_set(err,
			                  "%s: pool name '%.40s' may hold only letters, digits, "
			                  "'_' and '-'",
			                  where, s);
	return 0;
}

static am_config_pool *find_pool(am_config *cfg, const char *name)
{
	for (int i = 0; i < cfg->limits.npools; i++)
		if (!strcmp(cfg->limits.pool[i].name, name))
			return &cfg->limits.pool[i];
	return NULL;
}

static const am_config_pool *cfind_pool(const am_config *cfg, const char *name)
{
	for (int i = 0; name && i < cfg->limits.npools; i++)
		if (!strcmp(cfg->limits.pool[i].name, name))
			return &cfg->limits.pool[i];
	return NULL;
}

/* Which value of pool field i applies: the pool's own unless limits.FIELD
 * comes from a higher-ranked source ("/rpm 10" reaches every pool). */
static am_config_source pool_field_src(const am_config *cfg, const am_config_pool *p, int i,
                                       bool *own)
{
	am_config_source top = cfg->src[key_index(lim_key(i))];
	bool mine = p && p->set[i] && p->src[i] >= top;
	if (own)
		*own = mine;
	return mine ? p->src[i] : top;
}

static int apply_pools(const struct apply *a, const struct key *k, json_t *v, am_err *err)
{
	const char *pname;
	json_t *pv;
	am_config *cfg = a->cfg;
	if (!json_is_object(v))
		return am_err_set(err, "%s: expected an object of pools, got %s", k->info.name,
		                  jtype(v));
	json_object_foreach(v, pname, pv)
	{
		char where[PATH_KEY_MAX];
		snprintf(where, sizeof where, "%s.%s", k->info.name, pname);
		if (pname[0] == '_')
			continue;
		if (check_pool_name(where, pname, err))
			return -1;
		if (!json_is_object(pv))
			return am_err_set(err, "%s: expected an object of limits, got %s", where,
			                  jtype(pv));
		am_config_pool *p = find_pool(cfg, pname);
		if (!p) {
			if (cfg->limits.npools >= AM_CONFIG_MAX_POOLS)
				return am_err_set(err, "%s: at most %d pools", k->info.name,
				                  AM_CONFIG_MAX_POOLS);
			p = &cfg->limits.pool[cfg->limits.npools++];
			memset(p, 0, sizeof *p);
			strcpy(p->name, pname);
		}
		static const char *const known[AM_LIM_N + 1] = {
		    "rpm", "itpm", "otpm", "rpm_burst", "max_in_flight", NULL};
		warn_members(a, pv, where, known);
		for (int i = 0; i < AM_LIM_N; i++) {
			json_t *fv = json_object_get(pv, lim_names[i]);
			const struct key *lk = lim_key(i);
			char fname[PATH_KEY_MAX];
			if (!fv)
				continue;
			snprintf(fname, sizeof fname, "%s.%s", where, lim_names[i]);
			if (json_i64(fv, fname, lk->min, lk->max, lim_field(&p->lim, i), err))
				return -1;
			p->set[i] = true;
			p->src[i] = a->src;
		}
	}
	return 0;
}

static int apply_model_pools(const struct apply *a, const struct key *k, json_t *v, am_err *err)
{
	const char *model;
	json_t *pv;
	am_config *cfg = a->cfg;
	if (!json_is_object(v))
		return am_err_set(err, "%s: expected an object {model: pool}, got %s", k->info.name,
		                  jtype(v));
	json_object_foreach(v, model, pv)
	{
		char where[PATH_KEY_MAX];
		const char *pool;
		int i;
		snprintf(where, sizeof where, "%s.%s", k->info.name, model);
		if (model[0] == '_')
			continue;
		if (check_model_id(where, model, true, err) || json_str(pv, where, &pool, err))
			return -1;
		for (i = 0; i < cfg->limits.nmodel_pools; i++)
			if (!strcmp(cfg->limits.model_pool[i].model, model))
				break;
		if (!*pool) { /* "" removes the mapping */
			if (i < cfg->limits.nmodel_pools) {
				memmove(&cfg->limits.model_pool[i], &cfg->limits.model_pool[i + 1],
				        (size_t)(cfg->limits.nmodel_pools - i - 1) *
				            sizeof cfg->limits.model_pool[0]);
				cfg->limits.nmodel_pools--;
			}
			continue;
		}
		if (check_pool_name(where, pool, err))
			return -1;
		if (i == cfg->limits.nmodel_pools) {
			if (i >= AM_CONFIG_MAX_MODEL_POOLS)
				return am_err_set(err, "%s: at most %d entries", k->info.name,
				                  AM_CONFIG_MAX_MODEL_POOLS);
			cfg->limits.nmodel_pools++;
			strcpy(cfg->limits.model_pool[i].model, model);
		}
		strcpy(cfg->limits.model_pool[i].pool, pool);
		cfg->limits.model_pool[i].src = a->src;
	}
	return 0;
}

/* budget.tags: each member sets (or with 0 or "", removes) one tag's limit;
 * members not named stay as they are. */
static int apply_tag_budgets(const struct apply *a, const struct key *k, json_t *v, am_err *err)
{
	const char *tag;
	json_t *tv;
	am_config *cfg = a->cfg;
	if (!json_is_object(v))
		return am_err_set(err, "%s: expected an object {tag: USD}, got %s", k->info.name,
		                  jtype(v));
	json_object_foreach(v, tag, tv)
	{
		char where[PATH_KEY_MAX];
		int64_t pusd = 0;
		snprintf(where, sizeof where, "%s.%.80s", k->info.name, tag);
		if (tag[0] == '_')
			continue;
		if (!*tag || am_tag_check(tag, err))
			return am_err_prefix(err, "%s: '%.80s' is not a tag", k->info.name, tag);
		if (!(json_is_string(tv) && !*json_string_value(tv)) &&
		    json_usd_at(a, where, I64_MAX, tv, &pusd, err))
			return -1;
		int i = 0;
		while (i < cfg->budget.ntags && strcmp(cfg->budget.tag[i].tag, tag))
			i++;
		if (pusd == 0) { /* no limit for that tag */
			if (i < cfg->budget.ntags) {
				memmove(&cfg->budget.tag[i], &cfg->budget.tag[i + 1],
				        (size_t)(cfg->budget.ntags - i - 1) * sizeof cfg->budget.tag[0]);
				cfg->budget.ntags--;
			}
			continue;
		}
		if (i == cfg->budget.ntags) {
			if (i >= AM_CONFIG_MAX_TAG_BUDGETS)
				return am_err_set(err, "%s: at most %d tags", k->info.name,
				                  AM_CONFIG_MAX_TAG_BUDGETS);
			cfg->budget.ntags++;
			snprintf(cfg->budget.tag[i].tag, sizeof cfg->budget.tag[i].tag, "%s", tag);
		}
		cfg->budget.tag[i].daily_pusd = pusd;
		cfg->budget.tag[i].src = a->src;
	}
	return 0;
}

/* The one way in: a JSON value for key k from source a->src. */
static int apply_json(const struct apply *a, const struct key *k, json_t *v, am_err *err)
{
	const char *name = k->info.name, *s;
	void *f = field(a->cfg, k);
	int rc = 0;
	switch (k->kind) {
	case K_BOOL:
		if (!json_is_boolean(v))
			return am_err_set(err, "%s: expected true or false, got %s", name,
			                  jtype(v));
		*(bool *)f = json_is_true(v);
		break;
	case K_INT:
		rc = json_i64(v, name, k->min, k->max, f, err);
		break;
	case K_USD:
		rc = json_usd(a, k, v, f, err);
		break;
	case K_STR: {
		char tmp[AM_CONFIG_PATH_MAX + AM_CONFIG_COMMAND_MAX];
		if (json_str(v, name, &s, err))
			return -1;
		rc = k->check(a, k, s, tmp, k->size, err);
		if (!rc)
			memcpy(f, tmp, strlen(tmp) + 1);
		break;
	}
	case K_ENUM: {
		int i = 0;
		if (json_str(v, name, &s, err))
			return -1;
		while (k->choices[i] && strcmp(k->choices[i], s))
			i++;
		if (!k->choices[i]) {
			char list[128] = "";
			for (int j = 0; k->choices[j]; j++)
				snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
				         j ? ", " : "", k->choices[j]);
			return am_err_set(err, "%s: '%.40s' is not one of %s", name, s, list);
		}
		*(int *)f = i;
		break;
	}
	case K_PCTS:
		rc = apply_pcts(a, k, v, err);
		break;
	case K_RULES:
		rc = apply_rules(a, k, v, err);
		break;
	case K_TIERS:
		rc = apply_tiers(a, k, v, err);
		break;
	case K_POOLS:
		rc = apply_pools(a, k, v, err);
		break;
	case K_MODELMAP:
		rc = apply_model_pools(a, k, v, err);
		break;
	case K_TAGBUDGETS:
		rc = apply_tag_budgets(a, k, v, err);
		break;
	}
	if (!rc)
		a->cfg->src[key_index(k)] = a->src;
	return rc;
}

/* ---- text to JSON: flags, env, the settings table ---------------------------- */

static json_t *text_to_json(enum kind kind, const char *name, const char *s, am_err *err)
{
	json_t *v;
	json_error_t je;
	int64_t i;
	switch (kind) {
	case K_BOOL:
		if (!strcmp(s, "true") || !strcmp(s, "on") || !strcmp(s, "yes") || !strcmp(s, "1"))
			return json_true();
		if (!strcmp(s, "false") || !strcmp(s, "off") || !strcmp(s, "no") || !strcmp(s, "0"))
			return json_false();
		am_err_set(err, "%s: '%.60s' is not true or false", name, s);
		return NULL;
	case K_INT:
		if (parse_i64(s, &i)) {
			am_err_set(err, "%s: '%.60s' is not a whole number", name, s);
			return NULL;
		}
		return json_integer(i);
	case K_USD:
	case K_STR:
	case K_ENUM:
		/* Paths need not be UTF-8; these strings are checked, not re-encoded. */
		return json_string_nocheck(s);
	case K_PCTS:
		if (*s != '[') {
			/* "80" or "80,95" or "80, 95" */
			v = json_array();
			for (const char *p = s; *p;) {
				char part[32];
				size_t n = strcspn(p, ",");
				const char *b = p, *e = p + n;
				while (b < e && *b == ' ')
					b++;
				while (e > b && e[-1] == ' ')
					e--;
				n = (size_t)(e - b) < sizeof part ? (size_t)(e - b)
				                                  : sizeof part - 1;
				memcpy(part, b, n);
				part[n] = '\0';
				if (parse_i64(part, &i)) {
					json_decref(v);
					am_err_set(err, "%s: '%.60s' is not a list of percents",
					           name, s);
					return NULL;
				}
				json_array_append_new(v, json_integer(i));
				p += strcspn(p, ",");
				if (*p)
					p++;
			}
			return v;
		}
		/* fall through */
	default:
		if (!(v = json_loads(s, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je)))
			am_err_set(err, "%s: not valid JSON (%s, column %d)", name, je.text,
			           je.column);
		return v;
	}
}

/* Splits dynamic keys: "limits.pools.NAME[.FIELD]" and
 * "limits.model_pools.MODEL" become the container key plus a JSON object
 * that merges the one value in. Other keys: *k = find_key(key), *obj = the
 * value itself. */
static int value_for_key(const char *key, const char *value, const struct key **k, json_t **obj,
                         am_err *err)
{
	static const char pools[] = "limits.pools.", mpools[] = "limits.model_pools.";
	json_t *v;
	if (!strncmp(key, pools, sizeof pools - 1) && key[sizeof pools - 1]) {
		const char *rest = key + sizeof pools - 1, *dot = strchr(rest, '.');
		char pname[AM_CONFIG_POOL_MAX];
		size_t plen = dot ? (size_t)(dot - rest) : strlen(rest);
		*k = find_key("limits.pools");
		if (plen >= sizeof pname)
			return am_err_set(err, "%s: pool name too long", key);
		memcpy(pname, rest, plen);
		pname[plen] = '\0';
		if (dot) {
			int i = 0;
			while (i < AM_LIM_N && strcmp(lim_names[i], dot + 1))
				i++;
			if (i == AM_LIM_N)
				return am_err_set(err,
				                  "unknown key '%s' (a pool has rpm, itpm, otpm, "
				                  "rpm_burst, max_in_flight)",
				                  key);
			if (!(v = text_to_json(K_INT, key, value, err)))
				return -1;
			json_t *inner = json_object();
			json_object_set_new(inner, lim_names[i], v);
			v = inner;
		} else if (!(v = text_to_json(K_POOLS, key, value, err))) {
			return -1;
		}
		*obj = json_object();
		json_object_set_new(*obj, pname, v);
		return 0;
	}
	if (!strncmp(key, mpools, sizeof mpools - 1) && key[sizeof mpools - 1]) {
		*k = find_key("limits.model_pools");
		if (!(v = text_to_json(K_STR, key, value, err)))
			return -1;
		*obj = json_object();
		json_object_set_new(*obj, key + sizeof mpools - 1, v);
		return 0;
	}
	if (!strncmp(key, TAGS_PREFIX, sizeof TAGS_PREFIX - 1) && key[sizeof TAGS_PREFIX - 1]) {
		*k = find_key("budget.tags");
		*obj = json_object();
		json_object_set_new(*obj, key + sizeof TAGS_PREFIX - 1, json_string_nocheck(value));
		return 0;
	}
	if (!strcmp(key, "api_key"))
		return am_err_set(err,
		                  "api_key: the key comes only from ANTHROPIC_API_KEY or the file "
		                  "named by api_key_file");
	if (!(*k = find_key(key)))
		return am_err_set(err, "unknown key '%.100s'", key);
	return (*obj = text_to_json((*k)->kind, key, value, err)) ? 0 : -1;
}

/* ---- the API key ------------------------------------------------------------- */

static int check_secret(const char *what, const char *s, am_err *err)
{
	size_t len = strlen(s);
	if (len >= AM_CONFIG_SECRET_MAX)
		return am_err_set(err, "%s: the API key is too long (at most %d characters)", what,
		                  AM_CONFIG_SECRET_MAX - 1);
	/* A space or a line break in a header value would let the key inject
	 * another header. */
	if (!printable_ascii(s))
		return am_err_set(err, "%s: the API key contains a space or a control character",
		                  what);
	return 0;
}

static int read_key_file(am_config *cfg, am_err *err)
{
	const char *path = cfg->api_key_file;
	char buf[KEY_FILE_MAX_BYTES + 1];
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return am_err_set(err, "api_key_file %s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return am_err_set(err, "api_key_file %s: not a regular file", path);
	}
	ssize_t n = read(fd, buf, sizeof buf);
	int saved = errno;
	close(fd);
	if (n < 0)
		return am_err_set(err, "api_key_file %s: %s", path, strerror(saved));
	if (n > KEY_FILE_MAX_BYTES) {
		explicit_bzero(buf, sizeof buf);
		return am_err_set(err, "api_key_file %s: larger than %d bytes", path,
		                  KEY_FILE_MAX_BYTES);
	}
	if (st.st_mode & 077)
		add_warning(cfg,
		            "api_key_file %s has mode %04o: other users may read the key "
		            "(chmod 600 %s)",
		            path, (unsigned)(st.st_mode & 07777), path);
	buf[n] = '\0';
	char *b = buf, *e = buf + n;
	while (b < e && isspace((unsigned char)*b))
		b++;
	while (e > b && isspace((unsigned char)e[-1]))
		*--e = '\0';
	int rc = 0;
	if (!*b)
		rc = am_err_set(err, "api_key_file %s is empty", path);
	else if (check_secret(path, b, err))
		rc = -1;
	else
		strcpy(cfg->api_key, b);
	explicit_bzero(buf, sizeof buf);
	if (!rc)
		cfg->api_key_src = AM_CFG_FILE;
	return rc;
}

/* ANTHROPIC_API_KEY first, as the SDKs read it; else api_key_file. envp NULL
 * here means "no environment to consult": a key from env stays. */
static int resolve_key(am_config *cfg, char *const *envp, bool use_env, am_err *err)
{
	const char *k = use_env ? env_get(envp, "ANTHROPIC_API_KEY") : NULL;
	if (k && *k) {
		if (check_secret("ANTHROPIC_API_KEY", k, err))
			return -1;
		strcpy(cfg->api_key, k);
		cfg->api_key_src = AM_CFG_ENV;
		return 0;
	}
	if (!use_env && cfg->api_key[0] && cfg->api_key_src == AM_CFG_ENV)
		return 0;
	explicit_bzero(cfg->api_key, sizeof cfg->api_key);
	explicit_bzero(cfg->proxy.token, sizeof cfg->proxy.token);
	cfg->api_key_src = AM_CFG_DEFAULT;
	return cfg->api_key_file[0] ? read_key_file(cfg, err) : 0;
}

/* ---- building ------------------------------------------------------------------- */

void am_config_init(am_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->file_origin = "default";
	struct apply a = {.cfg = cfg, .src = AM_CFG_DEFAULT, .origin = "built-in defaults"};
	for (size_t i = 0; i < NKEYS; i++) {
		am_err err;
		json_t *v = text_to_json(keys[i].kind, keys[i].info.name, keys[i].info.def, &err);
		if (!v || apply_json(&a, &keys[i], v, &err)) {
			/* The table is constant; tests load every default. */
			fprintf(stderr, "aimeter: bad built-in default: %s\n", err.msg);
			abort();
		}
		json_decref(v);
	}
	cfg->nwarnings = 0;
}

/* Strong variables (ANTHROPIC_BASE_URL) are the user's explicit choice: a
 * bad value is an error. Weak ones (TZ, NO_COLOR) describe the machine: a
 * value aimeter cannot use is a warning and is left out. */
static int apply_env(struct apply *a, bool weak, am_err *err)
{
	a->src = AM_CFG_ENV;
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		const char *val = k->info.env ? env_get(a->envp, k->info.env) : NULL;
		am_err e;
		if (!val || !*val || k->env_weak != weak)
			continue;
		json_t *v =
		    text_to_json(k->kind, k->info.name, k->env_value ? k->env_value : val, &e);
		int rc = v ? apply_json(a, k, v, &e) : -1;
		json_decref(v);
		if (rc && weak)
			add_warning(a->cfg, "environment variable %s ignored: %s", k->info.env,
			            e.msg);
		else if (rc)
			return am_err_set(err, "environment variable %s: %s", k->info.env, e.msg);
	}
	return 0;
}

/* Levenshtein distance, for "did you mean". Short strings only. */
static size_t distance(const char *s, const char *t)
{
	size_t n = strlen(t), row[PATH_KEY_MAX + 1];
	if (n > PATH_KEY_MAX || strlen(s) > PATH_KEY_MAX)
		return SIZE_MAX;
	for (size_t j = 0; j <= n; j++)
		row[j] = j;
	for (size_t i = 1; *s; s++, i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= n; j++) {
			size_t up = row[j];
			size_t best = diag + (*s != t[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[n];
}

static void warn_unknown(const struct apply *a, const char *path)
{
	const char *best = NULL;
	size_t bestd = 3;
	for (size_t i = 0; i < NKEYS; i++) {
		size_t d = distance(path, keys[i].info.name);
		if (d < bestd) {
			bestd = d;
			best = keys[i].info.name;
		}
	}
	if (best)
		add_warning(a->cfg, "%s: unknown key '%s' (ignored; did you mean '%s'?)", a->origin,
		            path, best);
	else
		add_warning(a->cfg, "%s: unknown key '%s' (ignored)", a->origin, path);
}

static int walk(struct apply *a, json_t *obj, const char *prefix, am_err *err)
{
	const char *name;
	json_t *v;
	json_object_foreach(obj, name, v)
	{
		char path[PATH_KEY_MAX];
		const struct key *k;
		if (name[0] == '_')
			continue; /* a comment */
		int len = snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", name);
		if (len < 0 || (size_t)len >= sizeof path) {
			add_warning(a->cfg, "%s: unknown key '%.60s...' (ignored)", a->origin,
			            path);
			continue;
		}
		if (!strcmp(path, "api_key")) {
			add_warning(a->cfg,
			            "%s: api_key is ignored: set ANTHROPIC_API_KEY or point "
			            "api_key_file at a file of mode 0600",
			            a->origin);
			continue;
		}
		if ((k = find_key(path))) {
			if (apply_json(a, k, v, err))
				return -1;
		} else if (is_section(path)) {
			if (!json_is_object(v))
				return am_err_set(err, "%s: expected an object, got %s", path,
				                  jtype(v));
			if (walk(a, v, path, err))
				return -1;
		} else {
			warn_unknown(a, path);
		}
	}
	return 0;
}

/* Defaults, weak env, the file's text (NULL: no file), env, the key. */
static int build(am_config *out, const char *text, size_t len, const char *name,
                 const char *base_dir, char *const *envp, am_err *err)
{
	am_config *t = am_xmalloc(sizeof *t);
	struct apply a = {
	    .cfg = t, .base_dir = base_dir, .envp = envp, .origin = name, .text = text, .len = len};
	int rc = -1;
	am_config_init(t);
	if (apply_env(&a, true, err))
		goto out;
	if (text) {
		json_error_t je;
		json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
		if (!root) {
			am_err_set(err, "%s:%d:%d: %s", name, je.line, je.column, je.text);
			goto out;
		}
		a.src = AM_CFG_FILE;
		int bad =
		    !json_is_object(root)
		        ? am_err_set(err, "%s: the top level must be a JSON object {...}", name)
		    : walk(&a, root, "", err) ? am_err_prefix(err, "%s", name)
		                              : 0;
		json_decref(root);
		if (bad)
			goto out;
	}
	if (apply_env(&a, false, err) || resolve_key(t, envp, true, err))
		goto out;
	rc = 0;
	*out = *t;
out:
	explicit_bzero(t, sizeof *t);
	free(t);
	return rc;
}

int am_config_load_text(am_config *cfg, const char *text, size_t len, const char *name,
                        char *const *envp, am_err *err)
{
	int rc = build(cfg, text, len, name ? name : "config", NULL, envp, err);
	if (rc)
		am_config_init(cfg);
	return rc;
}

static int read_file(const char *path, char **out, size_t *len, am_err *err)
{
	struct stat st;
	FILE *f = fopen(path, "rbe"); /* e: close-on-exec */
	if (!f)
		return errno == ENOENT ? 1 : am_err_set(err, "%s: %s", path, strerror(errno));
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		fclose(f);
		return am_err_set(err, "%s: not a regular file", path);
	}
	if (st.st_size > FILE_MAX_BYTES) {
		fclose(f);
		return am_err_set(err, "%s: larger than %d bytes", path, FILE_MAX_BYTES);
	}
	char *buf = am_xmalloc((size_t)st.st_size + 1);
	size_t n = fread(buf, 1, (size_t)st.st_size + 1, f);
	bool bad = ferror(f) || n > (size_t)st.st_size;
	fclose(f);
	if (bad) {
		free(buf);
		return am_err_set(err, "%s: read failed or the file changed while read", path);
	}
	*out = buf;
	*len = n;
	return 0;
}

int am_config_load(am_config *cfg, const am_config_load_opts *opts, am_err *err)
{
	char path[AM_CONFIG_PATH_MAX], dir[AM_CONFIG_PATH_MAX];
	const char *origin = "default";
	char *const *envp = opts ? opts->envp : NULL;
	const char *env_path = env_get(envp, "AIMETER_CONFIG");
	char *text = NULL;
	size_t len = 0;
	int rc = -1;

	am_config_init(cfg);
	if (opts && opts->path) {
		origin = "--config";
		if (copy_str("--config", opts->path, path, sizeof path, err))
			return -1;
	} else if (env_path && *env_path) {
		origin = "AIMETER_CONFIG";
		if (copy_str("AIMETER_CONFIG", env_path, path, sizeof path, err))
			return -1;
	} else if (am_path_default_config(path, sizeof path, NULL) != 0) {
		path[0] = '\0'; /* no HOME: defaults and env only */
	}
	if (path[0]) {
		int r = read_file(path, &text, &len, err);
		if (r < 0)
			return -1;
		if (r > 0 && strcmp(origin, "default"))
			return am_err_set(err, "%s: no such file (from %s)", path, origin);
	}
	const char *slash = strrchr(path, '/');
	if (slash) {
		size_t n = slash == path ? 1 : (size_t)(slash - path);
		memcpy(dir, path, n);
		dir[n] = '\0';
	} else {
		strcpy(dir, ".");
	}
	bool loaded = text != NULL;
	rc = build(cfg, text, len, path[0] ? path : "config", dir, envp, err);
	free(text);
	if (rc) {
		am_config_init(cfg);
		return -1;
	}
	strcpy(cfg->file, path);
	cfg->file_loaded = loaded;
	cfg->file_origin = origin;
	return 0;
}

/* ---- changing one value ----------------------------------------------------------- */

int am_config_set_from_string(am_config *cfg, const char *key, const char *value,
                              am_config_source src, am_err *err)
{
	const struct key *k = NULL;
	json_t *v = NULL;
	if (!key || !value)
		return am_err_set(err, "no key or value");
	if (value_for_key(key, value, &k, &v, err))
		return -1;
	am_config *t = am_xmalloc(sizeof *t);
	*t = *cfg;
	struct apply a = {.cfg = t, .src = src, .origin = key};
	int rc = apply_json(&a, k, v, err);
	/* A new key file takes effect now, unless the env key outranks it. */
	if (!rc && !strcmp(k->info.name, "api_key_file"))
		rc = resolve_key(t, NULL, false, err);
	json_decref(v);
	if (!rc)
		*cfg = *t;
	explicit_bzero(t, sizeof *t);
	free(t);
	return rc;
}

static int source_of(const am_config *cfg, const char *key, am_config_source *src, am_err *err)
{
	static const char pools[] = "limits.pools.", mpools[] = "limits.model_pools.";
	if (!strncmp(key, TAGS_PREFIX, sizeof TAGS_PREFIX - 1)) {
		const am_config_tag_budget *t = find_tag_budget(cfg, key + sizeof TAGS_PREFIX - 1);
		*src = t ? t->src : AM_CFG_DEFAULT;
		return 0;
	}
	if (!strncmp(key, mpools, sizeof mpools - 1)) {
		for (int i = 0; i < cfg->limits.nmodel_pools; i++)
			if (!strcmp(cfg->limits.model_pool[i].model, key + sizeof mpools - 1)) {
				*src = cfg->limits.model_pool[i].src;
				return 0;
			}
		*src = AM_CFG_DEFAULT;
		return 0;
	}
	if (!strncmp(key, pools, sizeof pools - 1)) {
		const char *rest = key + sizeof pools - 1, *dot = strchr(rest, '.');
		char name[AM_CONFIG_POOL_MAX];
		size_t n = dot ? (size_t)(dot - rest) : strlen(rest);
		*src = AM_CFG_DEFAULT;
		if (n >= sizeof name)
			return am_err_set(err, "unknown key '%.100s'", key);
		memcpy(name, rest, n);
		name[n] = '\0';
		const am_config_pool *p = cfind_pool(cfg, name);
		for (int i = 0; i < AM_LIM_N; i++) {
			if (dot && !strcmp(dot + 1, lim_names[i]))
				*src = pool_field_src(cfg, p, i, NULL);
			else if (!dot && p && p->set[i] && p->src[i] > *src)
				*src = p->src[i];
		}
		return 0;
	}
	const struct key *k = find_key(key);
	if (!k)
		return am_err_set(err, "unknown key '%.100s'", key);
	*src = cfg->src[key_index(k)];
	return 0;
}

int am_config_restore(am_config *cfg, const char *key, const char *value, am_err *err)
{
	am_config_source cur;
	if (source_of(cfg, key, &cur, err))
		return -1;
	if (cur == AM_CFG_FLAG) {
		/* Still check it, so a bad saved value is reported. */
		return am_config_validate(key, value, err) ? -1 : 0;
	}
	return am_config_set_from_string(cfg, key, value, AM_CFG_RUNTIME, err) ? -1 : 1;
}

int am_config_validate(const char *key, const char *value, am_err *err)
{
	am_config *t = am_xmalloc(sizeof *t);
	am_config_init(t);
	int rc = am_config_set_from_string(t, key, value, AM_CFG_FLAG, err);
	explicit_bzero(t, sizeof *t);
	free(t);
	return rc;
}

/* ---- reading ------------------------------------------------------------------- */

static json_t *limits_json(const am_config_pool *p)
{
	json_t *o = json_object();
	for (int i = 0; i < AM_LIM_N; i++)
		if (p->set[i])
			json_object_set_new(o, lim_names[i], json_integer(lim_get(&p->lim, i)));
	return o;
}

/* The value of key k as JSON (a new reference). */
static json_t *key_json(const am_config *cfg, const struct key *k)
{
	const void *f = cfield(cfg, k);
	json_t *v;
	char buf[32];
	switch (k->kind) {
	case K_BOOL:
		return json_boolean(*(const bool *)f);
	case K_INT:
		return json_integer(*(const int64_t *)f);
	case K_USD:
		am_money_format(*(const int64_t *)f, buf, sizeof buf);
		return json_string(buf);
	case K_STR:
		if (f == (const void *)cfg->redis.url)
			return masked_url(f);
		return json_string_nocheck(f);
	case K_ENUM:
		return json_string(k->choices[*(const int *)f]);
	case K_PCTS:
		v = json_array();
		for (int i = 0; i < cfg->budget.nalerts; i++)
			json_array_append_new(v, json_integer(cfg->budget.alert_pct[i]));
		return v;
	case K_RULES:
		v = json_array();
		for (int i = 0; i < cfg->selector.nrules; i++) {
			const am_config_rule *r = &cfg->selector.rule[i];
			json_t *o = json_object();
			if (r->max_chars)
				json_object_set_new(o, "max_chars", json_integer(r->max_chars));
			json_object_set_new(o, "model", json_string(r->model));
			json_array_append_new(v, o);
		}
		return v;
	case K_TIERS:
		v = json_array();
		for (int i = 0; i < cfg->selector.ntiers; i++)
			json_array_append_new(v, json_pack("{s:s,s:s}", "name",
			                                   cfg->selector.tier[i].name, "model",
			                                   cfg->selector.tier[i].model));
		return v;
	case K_POOLS:
		v = json_object();
		for (int i = 0; i < cfg->limits.npools; i++)
			json_object_set_new(v, cfg->limits.pool[i].name,
			                    limits_json(&cfg->limits.pool[i]));
		return v;
	case K_MODELMAP:
		v = json_object();
		for (int i = 0; i < cfg->limits.nmodel_pools; i++)
			json_object_set_new(v, cfg->limits.model_pool[i].model,
			                    json_string(cfg->limits.model_pool[i].pool));
		return v;
	case K_TAGBUDGETS:
		v = json_object();
		for (int i = 0; i < cfg->budget.ntags; i++) {
			am_money_format(cfg->budget.tag[i].daily_pusd, buf, sizeof buf);
			json_object_set_new(v, cfg->budget.tag[i].tag, json_string(buf));
		}
		return v;
	}
	return json_null();
}

static char *json_text(const json_t *v)
{
	char buf[32];
	switch (json_typeof(v)) {
	case JSON_STRING:
		return am_xstrdup(json_string_value(v));
	case JSON_INTEGER:
		snprintf(buf, sizeof buf, "%" PRId64, (int64_t)json_integer_value(v));
		return am_xstrdup(buf);
	case JSON_TRUE:
		return am_xstrdup("true");
	case JSON_FALSE:
		return am_xstrdup("false");
	default: {
		char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		char *r = am_xstrdup(s ? s : "null");
		free(s);
		return r;
	}
	}
}

/* The value of any key, dynamic ones included, as JSON. */
static json_t *value_json(const am_config *cfg, const char *key, am_err *err)
{
	static const char pools[] = "limits.pools.", mpools[] = "limits.model_pools.";
	if (!strncmp(key, mpools, sizeof mpools - 1) && key[sizeof mpools - 1]) {
		for (int i = 0; i < cfg->limits.nmodel_pools; i++)
			if (!strcmp(cfg->limits.model_pool[i].model, key + sizeof mpools - 1))
				return json_string(cfg->limits.model_pool[i].pool);
		am_err_set(err, "%s: no such mapping", key);
		return NULL;
	}
	if (!strncmp(key, TAGS_PREFIX, sizeof TAGS_PREFIX - 1) && key[sizeof TAGS_PREFIX - 1]) {
		const am_config_tag_budget *t = find_tag_budget(cfg, key + sizeof TAGS_PREFIX - 1);
		char buf[32];
		am_money_format(t ? t->daily_pusd : 0, buf, sizeof buf);
		return json_string(buf);
	}
	if (!strncmp(key, pools, sizeof pools - 1) && key[sizeof pools - 1]) {
		const char *rest = key + sizeof pools - 1, *dot = strchr(rest, '.');
		char name[AM_CONFIG_POOL_MAX];
		size_t n = dot ? (size_t)(dot - rest) : strlen(rest);
		const am_config_pool *p = NULL;
		if (n < sizeof name) {
			memcpy(name, rest, n);
			name[n] = '\0';
			p = cfind_pool(cfg, name);
		}
		if (!dot) {
			if (p)
				return limits_json(p);
			am_err_set(err, "%s: no such pool", key);
			return NULL;
		}
		for (int i = 0; i < AM_LIM_N; i++)
			if (!strcmp(dot + 1, lim_names[i])) {
				am_config_limits l;
				am_config_pool_limits(cfg, p ? p->name : NULL, &l, NULL);
				return json_integer(lim_get(&l, i));
			}
		am_err_set(err, "unknown key '%.100s'", key);
		return NULL;
	}
	const struct key *k = find_key(key);
	if (!k) {
		am_err_set(err, "unknown key '%.100s'", key);
		return NULL;
	}
	return key_json(cfg, k);
}

int am_config_get_string(const am_config *cfg, const char *key, char **out, am_config_source *src,
                         am_err *err)
{
	json_t *v = value_json(cfg, key, err);
	am_config_source s;
	if (!v)
		return -1;
	if (source_of(cfg, key, &s, err)) {
		json_decref(v);
		return -1;
	}
	if (out)
		*out = json_text(v);
	if (src)
		*src = s;
	json_decref(v);
	return 0;
}

const char *am_config_source_name(am_config_source src)
{
	switch (src) {
	case AM_CFG_DEFAULT:
		return "default";
	case AM_CFG_FILE:
		return "file";
	case AM_CFG_ENV:
		return "env";
	case AM_CFG_RUNTIME:
		return "changed at run time";
	case AM_CFG_FLAG:
		return "flag";
	}
	return "?";
}

void am_config_pool_limits(const am_config *cfg, const char *pool, am_config_limits *out,
                           unsigned *explicit_mask)
{
	const am_config_pool *p = cfind_pool(cfg, pool);
	unsigned mask = 0;
	*out = cfg->limits.def;
	for (int i = 0; i < AM_LIM_N; i++) {
		bool own;
		am_config_source src = pool_field_src(cfg, p, i, &own);
		if (own)
			*lim_field(out, i) = lim_get(&p->lim, i);
		if (src != AM_CFG_DEFAULT)
			mask |= 1u << i;
	}
	if (explicit_mask)
		*explicit_mask = mask;
}

const char *am_config_pool_of_model(const am_config *cfg, const char *model)
{
	const char *best = NULL;
	size_t bestlen = 0;
	if (!model)
		return NULL;
	for (int i = 0; i < cfg->limits.nmodel_pools; i++) {
		const am_config_model_pool *m = &cfg->limits.model_pool[i];
		size_t n = strlen(m->model);
		if (n && m->model[n - 1] == '*') {
			if (!strncmp(m->model, model, n - 1) && n > bestlen) {
				best = m->pool;
				bestlen = n;
			}
		} else if (!strcmp(m->model, model)) {
			return m->pool;
		}
	}
	return best;
}

int am_config_nwarnings(const am_config *cfg)
{
	return cfg->nwarnings;
}

const char *am_config_warning(const am_config *cfg, int i)
{
	return i >= 0 && i < cfg->nwarnings ? cfg->warning[i] : NULL;
}

/* ---- the secret ---------------------------------------------------------------- */

void am_config_mask(const char *secret, char *buf, size_t n)
{
	size_t len = secret ? strlen(secret) : 0, pre, suf;
	char tmp[32];
	if (!n)
		return;
	if (len == 0) {
		snprintf(buf, n, "(not set)");
		return;
	}
	if (len >= 24) {
		pre = 7;
		suf = 4;
	} else if (len >= 12) {
		pre = 0;
		suf = 2;
	} else {
		snprintf(buf, n, "(hidden)");
		return;
	}
	size_t o = 0;
	for (size_t i = 0; i < pre; i++)
		tmp[o++] = secret[i];
	memcpy(tmp + o, "...", 3);
	o += 3;
	for (size_t i = len - suf; i < len; i++)
		tmp[o++] = secret[i];
	tmp[o] = '\0';
	for (char *p = tmp; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.')
			*p = '?';
	snprintf(buf, n, "%s", tmp);
}

void am_config_masked_key(const am_config *cfg, char *buf, size_t n)
{
	am_config_mask(cfg->api_key, buf, n);
}

void am_config_wipe(am_config *cfg)
{
	explicit_bzero(cfg->api_key, sizeof cfg->api_key);
	cfg->api_key_src = AM_CFG_DEFAULT;
}

/* ---- showing -------------------------------------------------------------------- */

struct row {
	char key[PATH_KEY_MAX];
	json_t *value;
	am_config_source src;
	const char *env;   /* the variable, when src is env */
	const char *empty; /* how "" reads */
};

struct rows {
	struct row *r;
	size_t n, cap;
};

static struct row *row_add(struct rows *rs, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static struct row *row_add(struct rows *rs, const char *fmt, ...)
{
	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? rs->cap * 2 : 64;
		rs->r = am_xrealloc(rs->r, rs->cap * sizeof *rs->r);
	}
	struct row *r = &rs->r[rs->n++];
	memset(r, 0, sizeof *r);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->key, sizeof r->key, fmt, ap);
	va_end(ap);
	return r;
}

/* Every key, with pools and model mappings one row per value. */
static void collect(const am_config *cfg, struct rows *rs)
{
	char masked[64];
	struct row *r;
	am_config_masked_key(cfg, masked, sizeof masked);
	r = row_add(rs, "api_key");
	r->value = json_string(masked);
	r->src = cfg->api_key[0] ? cfg->api_key_src : AM_CFG_DEFAULT;
	r->env = cfg->api_key_src == AM_CFG_ENV ? "ANTHROPIC_API_KEY" : NULL;
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		if (k->kind == K_POOLS && cfg->limits.npools) {
			for (int p = 0; p < cfg->limits.npools; p++)
				for (int f = 0; f < AM_LIM_N; f++) {
					const am_config_pool *pl = &cfg->limits.pool[p];
					if (!pl->set[f])
						continue;
					r = row_add(rs, "%s.%s.%s", k->info.name, pl->name,
					            lim_names[f]);
					r->value = json_integer(lim_get(&pl->lim, f));
					r->src = pl->src[f];
				}
			continue;
		}
		if (k->kind == K_TAGBUDGETS && cfg->budget.ntags) {
			for (int t = 0; t < cfg->budget.ntags; t++) {
				char buf[32];
				am_money_format(cfg->budget.tag[t].daily_pusd, buf, sizeof buf);
				r = row_add(rs, "%s.%s", k->info.name, cfg->budget.tag[t].tag);
				r->value = json_string(buf);
				r->src = cfg->budget.tag[t].src;
			}
			continue;
		}
		if (k->kind == K_MODELMAP && cfg->limits.nmodel_pools) {
			for (int m = 0; m < cfg->limits.nmodel_pools; m++) {
				r = row_add(rs, "%s.%s", k->info.name,
				            cfg->limits.model_pool[m].model);
				r->value = json_string(cfg->limits.model_pool[m].pool);
				r->src = cfg->limits.model_pool[m].src;
			}
			continue;
		}
		r = row_add(rs, "%s", k->info.name);
		r->value = key_json(cfg, k);
		r->src = cfg->src[i];
		r->env = k->info.env;
		r->empty = k->empty;
		if (k->secret && json_string_length(r->value)) {
			json_decref(r->value);
			r->value = json_string("(set, not shown)");
		}
	}
}

static void rows_free(struct rows *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		json_decref(rs->r[i].value);
	free(rs->r);
}

static void source_text(const struct row *r, char *buf, size_t n)
{
	if (r->src == AM_CFG_ENV && r->env)
		snprintf(buf, n, "env %s", r->env);
	else if (r->src == AM_CFG_FILE && !strcmp(r->key, "api_key"))
		snprintf(buf, n, "file (api_key_file)");
	else if (!strcmp(r->key, "api_key") && r->src == AM_CFG_DEFAULT)
		snprintf(buf, n, "-");
	else
		snprintf(buf, n, "%s", am_config_source_name(r->src));
}

void am_config_print(const am_config *cfg, FILE *out)
{
	struct rows rs = {0};
	size_t kw = 3, sw = 6;
	collect(cfg, &rs);
	char **text = am_xcalloc(rs.n, sizeof *text), (*src)[64] = am_xcalloc(rs.n, sizeof *src);
	for (size_t i = 0; i < rs.n; i++) {
		const struct row *r = &rs.r[i];
		if (json_is_string(r->value) && !json_string_length(r->value)) {
			size_t n = strlen(r->empty ? r->empty : "none") + 3;
			text[i] = am_xmalloc(n);
			snprintf(text[i], n, "(%s)", r->empty ? r->empty : "none");
		} else {
			text[i] = json_text(r->value);
		}
		source_text(r, src[i], sizeof src[i]);
		if (strlen(r->key) > kw)
			kw = strlen(r->key);
		if (strlen(src[i]) > sw)
			sw = strlen(src[i]);
	}
	if (!cfg->file[0])
		fprintf(out, "config file: none (HOME is not set)\n\n");
	else if (!strcmp(cfg->file_origin, "default"))
		fprintf(out, "config file: %s (%s)\n\n", cfg->file,
		        cfg->file_loaded ? "loaded" : "not found: defaults apply");
	else
		fprintf(out, "config file: %s (loaded, from %s)\n\n", cfg->file, cfg->file_origin);
	/* The value goes last: lists can be long, and the columns stay aligned. */
	fprintf(out, "%-*s  %-*s  %s\n", (int)kw, "KEY", (int)sw, "SOURCE", "VALUE");
	for (size_t i = 0; i < rs.n; i++) {
		fprintf(out, "%-*s  %-*s  %s\n", (int)kw, rs.r[i].key, (int)sw, src[i], text[i]);
		free(text[i]);
	}
	free(text);
	free(src);
	rows_free(&rs);
}

json_t *am_config_to_json(const am_config *cfg)
{
	static const char *const src_ids[] = {"default", "file", "env", "runtime", "flag"};
	struct rows rs = {0};
	json_t *root = json_object(), *settings = json_object(), *warnings = json_array();
	collect(cfg, &rs);
	for (size_t i = 0; i < rs.n; i++) {
		const struct row *r = &rs.r[i];
		json_t *o = json_object();
		json_object_set(o, "value", r->value);
		json_object_set_new(o, "source", json_string(src_ids[r->src]));
		if (r->src == AM_CFG_ENV && r->env)
			json_object_set_new(o, "env", json_string(r->env));
		json_object_set_new(settings, r->key, o);
	}
	rows_free(&rs);
	for (int i = 0; i < cfg->nwarnings; i++)
		json_array_append_new(warnings, json_string(cfg->warning[i]));
	json_object_set_new(root, "config_file",
	                    cfg->file[0] ? json_string(cfg->file) : json_null());
	json_object_set_new(root, "config_loaded", json_boolean(cfg->file_loaded));
	json_object_set_new(root, "settings", settings);
	json_object_set_new(root, "warnings", warnings);
	return root;
}

size_t am_config_key_count(void)
{
	return NKEYS;
}

const am_config_key_info *am_config_key_at(size_t i)
{
	return i < NKEYS ? &keys[i].info : NULL;
}
