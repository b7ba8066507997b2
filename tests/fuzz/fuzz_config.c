/* fuzz_config: the config file (src/config.c, cfgjson.c) through
 * am_config_load_text.
 *
 * One choice byte picks the environment (the API key in ANTHROPIC_API_KEY or
 * only in a key file, ANTHROPIC_BASE_URL, TZ, NO_COLOR); the rest is the
 * file. On success every key must read back as text and that text must be
 * taken back unchanged (the documented round trip), the JSON and table views
 * must build, and neither the warnings, the views nor any error may contain
 * the API key. On failure the config must hold the defaults and the message
 * must not contain the key either. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "config.h"
#include "fuzz_util.h"

/* What no output may contain: the distinctive middle of each key. */
#define ENV_KEY "sk-ant-api03-" "FUZZenvSECRET" "zz0123456789abcdefXYZ"
#define FILE_KEY "sk-ant-api03-" "FUZZfileSECRET" "qq9876543210fedcbaUVW"
static const char *const secrets[] = { "FUZZenvSECRET", "FUZZfileSECRET" };

static char env_home[600], env_xdg_config[600], env_xdg_data[600];
static am_config defaults;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* The key file is world-readable on purpose: that path warns. */
	const char *key = fuzz_path(0, "key");
	fuzz_write_file(key, FILE_KEY "\n", strlen(FILE_KEY) + 1);
	chmod(key, 0644);
	snprintf(env_home, sizeof env_home, "HOME=%s", fuzz_dir());
	snprintf(env_xdg_config, sizeof env_xdg_config, "XDG_CONFIG_HOME=%s/config", fuzz_dir());
	snprintf(env_xdg_data, sizeof env_xdg_data, "XDG_DATA_HOME=%s/data", fuzz_dir());
	am_config_init(&defaults);
	return 0;
}

static bool input_has_secret(const uint8_t *data, size_t size)
{
	for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
		if (fuzz_contains(data, size, secrets[i]))
			return true;
	return false;
}

static void check_no_secret(const char *text, size_t n)
{
	for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
		FUZZ_CHECK(!fuzz_contains(text, n, secrets[i]));
}

/* Every key as text equals what the default config says. */
static void check_is_default(const am_config *cfg)
{
	for (size_t i = 0; i < am_config_key_count(); i++) {
		const char *key = am_config_key_at(i)->name;
		char *a = NULL, *b = NULL;
		am_err err;
		FUZZ_CHECK(am_config_get_string(cfg, key, &a, NULL, &err) == 0);
		FUZZ_CHECK(am_config_get_string(&defaults, key, &b, NULL, &err) == 0);
		FUZZ_CHECK(!strcmp(a, b));
		free(a);
		free(b);
	}
}

/* get_string -> set_from_string -> get_string gives the same text. */
static void check_round_trip(const am_config *cfg, bool secret_free)
{
	for (size_t i = 0; i < am_config_key_count(); i++) {
		const char *key = am_config_key_at(i)->name;
		char *text = NULL, *back = NULL;
		am_config_source src;
		am_err err;
		FUZZ_CHECK(am_config_get_string(cfg, key, &text, &src, &err) == 0);
		FUZZ_CHECK(text && fuzz_utf8_ok(text, strlen(text)));
		if (secret_free)
			check_no_secret(text, strlen(text));
		am_config copy = *cfg;
		err.msg[0] = '\0';
		if (am_config_set_from_string(&copy, key, text, AM_CFG_FLAG, &err) != 0) {
			fprintf(stderr, "%s: its own value '%s' is refused: %s\n", key, text, err.msg);
			FUZZ_CHECK(!"a value read back is taken back");
		}
		FUZZ_CHECK(am_config_get_string(&copy, key, &back, &src, &err) == 0);
		if (strcmp(text, back))
			fprintf(stderr, "%s: '%s' came back as '%s'\n", key, text, back);
		FUZZ_CHECK(!strcmp(text, back));
		FUZZ_CHECK(src == AM_CFG_FLAG);
		free(text);
		free(back);
		am_config_wipe(&copy);
	}
}

static void check_views(const am_config *cfg, bool secret_free)
{
	json_t *j = am_config_to_json(cfg);
	FUZZ_CHECK(j != NULL);
	char *s = json_dumps(j, JSON_COMPACT);
	FUZZ_CHECK(s != NULL);
	if (secret_free)
		check_no_secret(s, strlen(s));
	free(s);
	json_decref(j);

	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	FUZZ_CHECK(f != NULL);
	am_config_print(cfg, f);
	FUZZ_CHECK(fclose(f) == 0);
	if (secret_free)
		check_no_secret(buf, n);
	free(buf);

	char masked[64];
	am_config_masked_key(cfg, masked, sizeof masked);
	check_no_secret(masked, strlen(masked));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_in in = { data, size };
	unsigned opt = fuzz_byte(&in);
	char *envp[8];
	int ne = 0;
	envp[ne++] = env_home;
	envp[ne++] = env_xdg_config;
	envp[ne++] = env_xdg_data;
	if (opt & 1)
		envp[ne++] = (char *)"ANTHROPIC_API_KEY=" ENV_KEY;
	if (opt & 2)
		envp[ne++] = (char *)"ANTHROPIC_BASE_URL=http://127.0.0.1:9/base/";
	if (opt & 4)
		envp[ne++] = (char *)"TZ=Europe/Berlin";
	if (opt & 8)
		envp[ne++] = (char *)"NO_COLOR=1";
	envp[ne] = NULL;
	/* A key that is in the input may rightly be echoed (an unknown key's name). */
	bool secret_free = !input_has_secret(in.p, in.n);

	static am_config cfg;
	am_err err;
	err.msg[0] = '\0';
	int rc = am_config_load_text(&cfg, (const char *)in.p, in.n, "fuzz.json", envp, &err);
	if (rc != 0) {
		FUZZ_CHECK(rc == -1 && err.msg[0] != '\0');
		if (secret_free)
			check_no_secret(err.msg, strlen(err.msg));
		check_is_default(&cfg);
		return 0;
	}
	FUZZ_CHECK(rc == 0);
	int nw = am_config_nwarnings(&cfg);
	FUZZ_CHECK(nw >= 0 && nw <= AM_CONFIG_MAX_WARNINGS);
	for (int i = 0; i < nw; i++) {
		const char *w = am_config_warning(&cfg, i);
		FUZZ_CHECK(w && w[0] && strlen(w) < AM_CONFIG_WARNING_MAX);
		if (secret_free)
			check_no_secret(w, strlen(w));
	}
	if (opt & 1)
		FUZZ_CHECK(!strcmp(cfg.api_key, ENV_KEY));
	check_round_trip(&cfg, secret_free);
	check_views(&cfg, secret_free);

	am_config_limits lim;
	unsigned mask;
	am_config_pool_limits(&cfg, NULL, &lim, &mask);
	for (int i = 0; i < cfg.limits.npools; i++) {
		FUZZ_CHECK_CSTR(cfg.limits.pool[i].name);
		am_config_pool_limits(&cfg, cfg.limits.pool[i].name, &lim, &mask);
		FUZZ_CHECK(lim.rpm >= 0 && lim.itpm >= 0 && lim.otpm >= 0 && lim.rpm_burst >= 0 &&
		           lim.max_in_flight >= 0);
	}
	(void)am_config_pool_of_model(&cfg, "claude-opus-4-5-20251101");
	am_config_wipe(&cfg);
	FUZZ_CHECK(cfg.api_key[0] == '\0');
	return 0;
}
