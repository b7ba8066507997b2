/* aimeter config: the effective configuration and where each value came
 * from - default, file, env, flag, or changed at run time (the values the
 * console saved in the ledger's settings table). The API key is shown
 * masked. `--keys` lists every key with its type, default and meaning.
 *
 * The settings table is read with am_ledger_settings_peek, which never
 * creates or migrates the database: looking at the configuration must not
 * change anything on disk. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "ledger.h"

enum { OPT_JSON = 1, OPT_KEYS };

static const am_cli_opt opts[] = {
    {"json", NULL, "print JSON: {\"config_file\", \"settings\": {KEY: {value, source}}, ...}",
     OPT_JSON, NULL},
    {"keys", NULL, "list every key with its type, default and meaning", OPT_KEYS, NULL},
    {NULL, NULL, NULL, 0, NULL},
};

/* Re-applies the run-time settings saved in the ledger, as every command
 * that runs the pipeline does. A missing database or table just means
 * nothing was changed at run time. */
static int restore_one(void *ctx, const char *key, const char *value, int64_t updated_ns)
{
	am_config *cfg = ctx;
	am_err err;
	(void)updated_ns;
	int seen = am_config_nwarnings(cfg);
	if (am_config_restore(cfg, key, value, &err) < 0)
		fprintf(stderr, "aimeter: warning: saved setting ignored: %s\n", err.msg);
	am_cli_print_warnings(cfg, seen);
	return 0;
}

static void apply_saved_settings(am_config *cfg)
{
	am_err err;
	if (am_ledger_settings_peek(cfg->db, restore_one, cfg, &err) < 0)
		fprintf(stderr, "aimeter: warning: %s: cannot read saved settings: %s\n", cfg->db,
		        err.msg);
}

static void print_keys(bool json)
{
	size_t n = am_config_key_count(), kw = 3, tw = 4;
	if (json) {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++) {
			const am_config_key_info *k = am_config_key_at(i);
			json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "key", k->name, "type", k->type,
			                      "default", k->def, "help", k->help);
			if (k->env)
				json_object_set_new(o, "env", json_string(k->env));
			json_array_append_new(arr, o);
		}
		json_dumpf(arr, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(arr);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const am_config_key_info *k = am_config_key_at(i);
		if (strlen(k->name) > kw)
			kw = strlen(k->name);
		if (strlen(k->type) > tw)
			tw = strlen(k->type);
	}
	printf("%-*s  %-*s  %s\n", (int)kw, "KEY", (int)tw, "TYPE", "DEFAULT / MEANING");
	for (size_t i = 0; i < n; i++) {
		const am_config_key_info *k = am_config_key_at(i);
		printf("%-*s  %-*s  %s\n", (int)kw, k->name, (int)tw, k->type,
		       *k->def ? k->def : "\"\"");
		printf("%-*s  %-*s  %s%s%s\n", (int)kw, "", (int)tw, "", k->help,
		       k->env ? "; env " : "", k->env ? k->env : "");
	}
}

int cmd_config(int argc, char **argv)
{
	am_cli c;
	bool json = false, keys = false;
	am_cli_init(
	    &c, "config", "[OPTIONS]",
	    "Print the effective configuration: every key, its value and where it came from\n"
	    "(default, file, env, flag, or changed at run time). The API key is shown masked.",
	    opts, true, argc, argv);
	for (int id; (id = am_cli_next(&c)) != AM_CLI_END;) {
		switch (id) {
		case AM_CLI_EXIT:
			return c.exit_code;
		case OPT_JSON:
			json = true;
			break;
		case OPT_KEYS:
			keys = true;
			break;
		default:
			break;
		}
	}
	if (keys) {
		print_keys(json);
		return 0;
	}

	am_config cfg;
	int rc = am_cli_load_config(&c, &cfg);
	if (rc)
		return rc;
	apply_saved_settings(&cfg);
	if (json) {
		json_t *j = am_config_to_json(&cfg);
		json_dumpf(j, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(j);
	} else {
		am_config_print(&cfg, stdout);
	}
	am_config_wipe(&cfg);
	return 0; /* main checks that stdout was written */
}
