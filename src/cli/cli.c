/* cli: table-driven flag parsing, usage errors and config loading shared by
 * the subcommands. The tables double as the --help text, so a flag cannot
 * exist without its help line. */
#include "say.h"
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "money.h"

static const am_cli_opt common_opts[] = {
    {"config", "PATH", "config file (default $XDG_CONFIG_HOME/aimeter/config.json)", 0, NULL},
    {"db", "PATH", "ledger database (default $XDG_DATA_HOME/aimeter/aimeter.db)", 0, "db"},
    {"redis", "URL", "share limits, budget and cache with other hosts (redis://host:port/db)", 0,
     "redis.url"},
    {NULL, NULL, NULL, 0, NULL},
};

void am_cli_init(am_cli *c, const char *cmd, const char *synopsis, const char *summary,
                 const am_cli_opt *opts, bool common, int argc, char **argv)
{
	memset(c, 0, sizeof *c);
	c->cmd = cmd;
	c->synopsis = synopsis;
	c->summary = summary;
	c->opts = opts;
	c->common = common;
	c->argc = argc;
	c->argv = argv;
	c->i = 1;
}

int am_cli_usage_error(const char *cmd, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	/* One line, whatever the message held. */
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	am_say(stderr, "aimeter %s: %s (see 'aimeter %s --help')\n", cmd, msg, cmd);
	return 2;
}

static void help_rows(const am_cli_opt *o, FILE *out, int width)
{
	for (; o && o->name; o++) {
		char left[64];
		snprintf(left, sizeof left, "--%s%s%s", o->name, o->arg ? " " : "",
		         o->arg ? o->arg : "");
		fprintf(out, "  %-*s  %s\n", width, left, o->help);
	}
}

static int help_width(const am_cli_opt *o, int w)
{
	for (; o && o->name; o++) {
		int n = (int)(strlen(o->name) + 2 + (o->arg ? strlen(o->arg) + 1 : 0));
		if (n > w)
			w = n;
	}
	return w;
}

void am_cli_help(const am_cli *c, FILE *out)
{
	int w = help_width(c->opts, 10);
	if (c->common)
		w = help_width(common_opts, w);
	fprintf(out, "usage: aimeter %s %s\n\n%s\n\nOptions:\n", c->cmd, c->synopsis, c->summary);
	help_rows(c->opts, out, w);
	if (c->common)
		help_rows(common_opts, out, w);
	fprintf(out, "  %-*s  %s\n", w, "-h, --help", "show this help");
}

static int fail(am_cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(am_cli *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	c->exit_code = am_cli_usage_error(c->cmd, "%s", msg);
	return AM_CLI_EXIT;
}

static const am_cli_opt *find_opt(const am_cli_opt *o, const char *name, size_t n)
{
	for (; o && o->name; o++)
		if (strlen(o->name) == n && !strncmp(o->name, name, n))
			return o;
	return NULL;
}

/* A flag bound to a config key: checked now, applied after the config. */
static int bind_flag(am_cli *c, const am_cli_opt *o)
{
	am_err err;
	if (c->nflags >= AM_CLI_MAX_FLAGS)
		return fail(c, "too many options");
	if (am_config_validate(o->key, c->value, &err))
		return fail(c, "bad value for %s: %s", c->opt, err.msg);
	c->flag[c->nflags].key = o->key;
	c->flag[c->nflags].value = c->value;
	c->flag[c->nflags].name = o->name;
	c->nflags++;
	return 0;
}

int am_cli_next(am_cli *c)
{
	while (c->i < c->argc) {
		const char *a = c->argv[c->i++];
		c->opt[0] = '\0';
		c->value = NULL;
		if (c->only_args || a[0] != '-' || !strcmp(a, "-")) {
			if (c->max_args >= 0 && c->nargs >= c->max_args)
				return fail(c, "unexpected argument '%s'", a);
			c->nargs++;
			c->value = a;
			return AM_CLI_ARG;
		}
		if (!strcmp(a, "--")) {
			c->only_args = true;
			continue;
		}
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			am_cli_help(c, stdout);
			c->exit_code = 0;
			return AM_CLI_EXIT;
		}
		if (a[1] != '-')
			return fail(c, "unknown option '%s'", a);
		const char *name = a + 2, *eq = strchr(name, '=');
		size_t n = eq ? (size_t)(eq - name) : strlen(name);
		const am_cli_opt *o = find_opt(c->opts, name, n);
		if (!o && c->common)
			o = find_opt(common_opts, name, n);
		if (!o)
			return fail(c, "unknown option '%.*s'", (int)(n + 2), a);
		snprintf(c->opt, sizeof c->opt, "--%s", o->name);
		if (!o->arg) {
			if (eq)
				return fail(c, "option '%s' takes no value", c->opt);
		} else if (eq) {
			c->value = eq + 1;
		} else if (c->i < c->argc) {
			c->value = c->argv[c->i++];
		} else {
			return fail(c, "option '%s' needs a value (%s)", c->opt, o->arg);
		}
		/* An empty PATH is nearly always an unset shell variable: refusing
		 * it beats quietly using the default file. */
		if (o >= common_opts && o < common_opts + 2 && !*c->value)
			return fail(c, "option '%s' needs a non-empty %s", c->opt, o->arg);
		if (o == &common_opts[0]) {
			c->config_path = c->value;
			continue;
		}
		if (o->key) {
			int rc = bind_flag(c, o);
			if (rc)
				return rc;
			if (!o->id)
				continue;
		}
		return o->id;
	}
	return AM_CLI_END;
}

int am_cli_int(am_cli *c, int64_t min, int64_t max, int64_t *out)
{
	const char *s = c->value ? c->value : "";
	char *end = NULL;
	long long v = 0;
	/* strtoll alone would take " 12" and "+12": only digits, as written. */
	if (isdigit((unsigned char)s[0]) || (s[0] == '-' && isdigit((unsigned char)s[1]))) {
		errno = 0;
		v = strtoll(s, &end, 10);
		if (errno)
			end = NULL;
	}
	if (!end || *end || v < min || v > max) {
		if (max == INT64_MAX)
			fail(c, "bad value for %s: '%s' (a whole number, %lld or more)", c->opt, s,
			     (long long)min);
		else
			fail(c, "bad value for %s: '%s' (a whole number from %lld to %lld)", c->opt,
			     s, (long long)min, (long long)max);
		return -1;
	}
	*out = v;
	return 0;
}

int am_cli_real(am_cli *c, double min, double max, double *out)
{
	const char *s = c->value ? c->value : "";
	char *end = NULL;
	double v = 0;
	/* strtod would also take " 1", "0x1p-2", "inf" and "nan". */
	if (*s && strspn(s, "0123456789.eE+-") == strlen(s) &&
	    (isdigit((unsigned char)s[0]) || s[0] == '.' || s[0] == '-')) {
		errno = 0;
		v = strtod(s, &end);
		if (errno || end == s)
			end = NULL;
	}
	if (!end || *end || !(v >= min && v <= max)) {
		fail(c, "bad value for %s: '%s' (a number from %g to %g)", c->opt, s, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

int am_cli_usd(am_cli *c, int64_t *out_pusd)
{
	am_err err;
	int64_t v = 0;
	if (am_money_parse_usd(c->value ? c->value : "", &v, &err) ||
	    (v < 0 && am_err_set(&err, "'%s' is negative", c->value))) {
		fail(c, "bad value for %s: %s", c->opt, err.msg);
		return -1;
	}
	*out_pusd = v;
	return 0;
}

void am_cli_print_warnings(const am_config *cfg, int from)
{
	for (int i = from; i < am_config_nwarnings(cfg); i++)
		am_say(stderr, "aimeter: warning: %s\n", am_config_warning(cfg, i));
	if (cfg->warnings_dropped)
		fprintf(stderr, "aimeter: warning: %d more warnings not shown\n",
		        cfg->warnings_dropped);
}

int am_cli_load_config(am_cli *c, am_config *cfg)
{
	am_err err;
	am_config_load_opts o = {.path = c->config_path, .envp = NULL};
	if (am_config_load(cfg, &o, &err)) {
		fprintf(stderr, "aimeter %s: %s\n", c->cmd, err.msg);
		return 1;
	}
	am_cli_print_warnings(cfg, 0);
	for (int i = 0; i < c->nflags; i++) {
		int seen = am_config_nwarnings(cfg);
		if (am_config_set_from_string(cfg, c->flag[i].key, c->flag[i].value, AM_CFG_FLAG,
		                              &err)) {
			am_config_wipe(cfg);
			return am_cli_usage_error(c->cmd, "bad value for --%s: %s", c->flag[i].name,
			                          err.msg);
		}
		am_cli_print_warnings(cfg, seen);
	}
	if (cfg->timezone[0]) {
		setenv("TZ", cfg->timezone, 1);
		tzset();
	}
	return 0;
}

int am_cli_open_ledger(const char *cmd, const char *path, bool may_read_only, am_ledger **out)
{
	am_err err;
	if (!path || !*path) {
		fprintf(stderr,
		        "aimeter %s: no ledger path: HOME is not set (use --db or AIMETER_DB)\n",
		        cmd);
		return 1;
	}
	am_ledger_opts opts = {0};
	opts.readonly = may_read_only && access(path, F_OK) == 0 && access(path, W_OK) != 0;
	if (am_ledger_open(out, path, &opts, &err)) {
		fprintf(stderr, "aimeter %s: %s\n", cmd, err.msg);
		return 1;
	}
	return 0;
}

int am_cli_load_pricing(const am_cli *c, const am_config *cfg, am_pricing **out, char *override,
                        size_t n)
{
	char buf[AM_CONFIG_PATH_MAX + 32];
	am_err err;
	/* The same file am_config_load reads, and pricing.json beside it. */
	const char *config = c->config_path ? c->config_path : getenv("AIMETER_CONFIG");
	if (config && !*config)
		config = NULL;
	if (!override) {
		override = buf;
		n = sizeof buf;
	}
	char *value = NULL;
	am_config_source src = AM_CFG_DEFAULT;
	if (cfg && am_config_get_string(cfg, "pricing_file", &value, &src, NULL) == 0 &&
	    src != AM_CFG_DEFAULT && value && *value) {
		snprintf(override, n, "%s", value);
	} else if (am_pricing_override_for_config(config, override, n, &err)) {
		free(value);
		fprintf(stderr, "aimeter %s: %s\n", c->cmd, err.msg);
		return 1;
	}
	free(value);
	if (am_pricing_load(out, am_pricing_default_path(), override, &err)) {
		fprintf(stderr, "aimeter %s: %s\n", c->cmd, err.msg);
		return 1;
	}
	return 0;
}
