/* fuzz_config: the config file loader on arbitrary bytes. Whatever loads is
 * then shown (table and JSON) and every key is read back as text and set
 * again, which must succeed: a config that loads is a config that
 * round-trips. Seed with data/config.example.json. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *const noenv[] = {NULL};
	static am_config cfg;
	am_err err;
	if (am_config_load_text(&cfg, (const char *)data, size, "fuzz.json", noenv, &err) != 0)
		return 0;
	FILE *null = fopen("/dev/null", "w");
	if (null) {
		am_config_print(&cfg, null);
		fclose(null);
	}
	json_decref(am_config_to_json(&cfg));
	for (size_t i = 0; i < am_config_key_count(); i++) {
		const char *key = am_config_key_at(i)->name;
		char *text = NULL;
		if (am_config_get_string(&cfg, key, &text, NULL, &err) != 0 ||
		    am_config_set_from_string(&cfg, key, text, AM_CFG_RUNTIME, &err) != 0) {
			fprintf(stderr, "%s does not round-trip: %s\n", key, err.msg);
			abort();
		}
		free(text);
	}
	return 0;
}
