/* cfgjson: typed readers for config sections, with errors that name
 * "section.key", shared by the policy modules' *_config_from_json. */
#include "cfgjson.h"

#include <stdio.h>
#include <string.h>

#include "money.h"

void am_cfgjson_unknown_keys(const json_t *obj, const char *section,
                             const char *const known[], am_err *warn)
{
	if (!warn)
		return;
	warn->msg[0] = '\0';
	const char *key;
	json_t *val;
	size_t used = 0;
	/* json_object_foreach wants a non-const object; iteration does not modify it. */
	json_t *o = (json_t *)(uintptr_t)obj;
	json_object_foreach(o, key, val) {
		(void)val;
		bool ok = false;
		for (size_t i = 0; known[i]; i++)
			if (strcmp(known[i], key) == 0)
				ok = true;
		if (ok)
			continue;
		int w = used == 0
			? snprintf(warn->msg, sizeof warn->msg, "unknown key(s) in %s: %s", section, key)
			: snprintf(warn->msg + used, sizeof warn->msg - used, ", %s", key);
		if (w < 0 || (size_t)w >= sizeof warn->msg - used)
			break; /* truncated: the first keys are enough to act on */
		used += (size_t)w;
	}
}

int am_cfgjson_int(const json_t *v, const char *section, const char *key, int64_t min,
                   int64_t max, int64_t *out, am_err *err)
{
	if (!json_is_integer(v))
		return am_err_set(err, "%s.%s: expected an integer", section, key);
	json_int_t x = json_integer_value(v);
	if (x < min || x > max)
		return am_err_set(err, "%s.%s: %lld is out of range %lld..%lld", section, key,
		                  (long long)x, (long long)min, (long long)max);
	*out = (int64_t)x;
	return 0;
}

int am_cfgjson_bool(const json_t *v, const char *section, const char *key, bool *out,
                    am_err *err)
{
	if (!json_is_boolean(v))
		return am_err_set(err, "%s.%s: expected true or false", section, key);
	*out = json_is_true(v);
	return 0;
}

int am_cfgjson_string(const json_t *v, const char *section, const char *key, char *out,
                      size_t n, am_err *err)
{
	if (!json_is_string(v))
		return am_err_set(err, "%s.%s: expected a string", section, key);
	const char *s = json_string_value(v);
	if (strlen(s) >= n)
		return am_err_set(err, "%s.%s: longer than %zu bytes", section, key, n - 1);
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

int am_cfgjson_usd(const json_t *v, const char *section, const char *key, int64_t *out_pusd,
                   am_err *err)
{
	char buf[64];
	const char *s;
	if (json_is_string(v)) {
		s = json_string_value(v);
	} else if (json_is_integer(v)) {
		snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
		s = buf;
	} else if (json_is_real(v)) {
		snprintf(buf, sizeof buf, "%.15g", json_real_value(v));
		if (strchr(buf, 'e'))
			return am_err_set(err, "%s.%s: %s is out of range; write the amount as a string",
			                  section, key, buf);
		s = buf;
	} else {
		return am_err_set(err, "%s.%s: expected a USD amount (\"12.50\" or 12.5)", section, key);
	}
	int64_t pusd;
	if (am_money_parse_usd(s, &pusd, err) < 0)
		return am_err_prefix(err, "%s.%s", section, key);
	if (pusd < 0)
		return am_err_set(err, "%s.%s: must not be negative", section, key);
	*out_pusd = pusd;
	return 0;
}
