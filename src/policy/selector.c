/* selector: picks the model for a request from data-driven length rules,
 * with the pin, the 529 fallback and the budget downgrade layered on top,
 * and says why in a short human reason that goes to the ledger and the UI.
 * No state: the worker passes everything a decision depends on. */
#include "selector.h"

#include <stdio.h>
#include <string.h>


#define GE "\xe2\x89\xa5" /* U+2265 GREATER-THAN OR EQUAL TO, UTF-8 */

static void copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src);
}

int am_sel_config_check(const am_sel_config *cfg, am_err *err)
{
	if (cfg->nrules < 1 || cfg->nrules > AM_SEL_MAX_RULES)
		return am_err_set(err, "selector: %d rules; need 1 to %d", cfg->nrules, AM_SEL_MAX_RULES);
	for (int i = 0; i < cfg->nrules; i++) {
		const am_sel_rule *r = &cfg->rule[i];
		bool last = i == cfg->nrules - 1;
		if (r->model[0] == '\0')
			return am_err_set(err, "selector: rule %d has no model", i + 1);
		if (last && r->max_chars != 0)
			return am_err_set(err, "selector: the last rule must be the catch-all (no max_chars)");
		if (!last && r->max_chars <= 0)
			return am_err_set(err, "selector: rule %d: max_chars must be positive; only the "
			                  "last rule is the catch-all", i + 1);
		if (!last && i > 0 && r->max_chars <= cfg->rule[i - 1].max_chars)
			return am_err_set(err, "selector: rule %d: max_chars %lld must be above the "
			                  "previous rule's %lld", i + 1, (long long)r->max_chars,
			                  (long long)cfg->rule[i - 1].max_chars);
	}
	if (cfg->ntiers < 0 || cfg->ntiers > AM_SEL_MAX_TIERS)
		return am_err_set(err, "selector: %d tiers; at most %d", cfg->ntiers, AM_SEL_MAX_TIERS);
	for (int i = 0; i < cfg->ntiers; i++) {
		if (cfg->tier[i].name[0] == '\0' || cfg->tier[i].model[0] == '\0')
			return am_err_set(err, "selector: tier %d needs a name and a model", i + 1);
		for (int j = 0; j < i; j++)
			if (strcmp(cfg->tier[i].name, cfg->tier[j].name) == 0)
				return am_err_set(err, "selector: tier \"%s\" appears twice",
				                  cfg->tier[i].name);
	}
	if (cfg->downgrade_pct < 1 || cfg->downgrade_pct > 100)
		return am_err_set(err, "selector: downgrade_pct %d is outside 1..100",
		                  cfg->downgrade_pct);
	return 0;
}

int am_sel_config_from(const am_config *cfg, am_sel_config *out, am_err *err)
{
	_Static_assert((int)AM_SEL_MAX_RULES == (int)AM_CONFIG_MAX_RULES, "rule tables differ");
	_Static_assert((int)AM_SEL_MAX_TIERS == (int)AM_CONFIG_MAX_TIERS, "tier tables differ");
	_Static_assert(sizeof out->tier[0].name == AM_CONFIG_TIER_MAX, "tier names differ");
	memset(out, 0, sizeof *out);
	copy(out->pinned, sizeof out->pinned, cfg->selector.model);
	out->nrules = cfg->selector.nrules;
	for (int i = 0; i < out->nrules && i < AM_SEL_MAX_RULES; i++) {
		out->rule[i].max_chars = cfg->selector.rule[i].max_chars;
		copy(out->rule[i].model, sizeof out->rule[i].model, cfg->selector.rule[i].model);
	}
	out->ntiers = cfg->selector.ntiers;
	for (int i = 0; i < out->ntiers && i < AM_SEL_MAX_TIERS; i++) {
		copy(out->tier[i].name, sizeof out->tier[i].name, cfg->selector.tier[i].name);
		copy(out->tier[i].model, sizeof out->tier[i].model, cfg->selector.tier[i].model);
	}
	out->downgrade_on_budget = cfg->selector.downgrade_on_budget;
	out->downgrade_pct = (int)cfg->selector.downgrade_pct;
	copy(out->fallback_model, sizeof out->fallback_model, cfg->selector.fallback_model);
	return am_sel_config_check(out, err);
}

void am_sel_config_default(am_sel_config *out)
{
	am_config c;
	am_config_init(&c);
	/* The built-in defaults pass the check (test_selector proves it). */
	am_sel_config_from(&c, out, NULL);
}

/* 1234567 -> "1,234,567" */
static void group(int64_t v, char *buf, size_t n)
{
	char digits[24];
	int len = snprintf(digits, sizeof digits, "%lld", (long long)(v < 0 ? -v : v));
	char out[32];
	size_t o = 0;
	if (v < 0)
		out[o++] = '-';
	for (int i = 0; i < len; i++) {
		if (i > 0 && (len - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = digits[i];
	}
	out[o] = '\0';
	copy(buf, n, out);
}

int am_sel_tier_of(const am_sel_config *cfg, const char *model)
{
	for (int i = 0; i < cfg->ntiers; i++)
		if (strcmp(cfg->tier[i].model, model) == 0)
			return i;
	for (int i = 0; i < cfg->ntiers; i++)
		if (strstr(model, cfg->tier[i].name))
			return i;
	return -1;
}

/* A model id, as opposed to "no choice" (NULL, "" or "auto"). */
static bool is_model(const char *m)
{
	return m && m[0] && strcmp(m, "auto") != 0;
}

void am_sel_choose(const am_sel_config *cfg, const am_sel_input *in, am_sel_choice *out)
{
	memset(out, 0, sizeof *out);
	const char *pin = is_model(in->model) ? in->model : is_model(cfg->pinned) ? cfg->pinned : NULL;
	if (pin) {
		copy(out->model, sizeof out->model, pin);
		copy(out->reason, sizeof out->reason, "pinned");
		out->why = AM_SEL_PINNED;
		return;
	}
	if (in->after_529 && cfg->fallback_model[0]) {
		copy(out->model, sizeof out->model, cfg->fallback_model);
		copy(out->reason, sizeof out->reason, "fallback after 529");
		out->why = AM_SEL_FALLBACK;
		return;
	}

	int i = 0;
	while (i < cfg->nrules - 1 && in->chars >= cfg->rule[i].max_chars)
		i++;
	const am_sel_rule *r = &cfg->rule[i];
	char chars[32], bound[32];
	group(in->chars, chars, sizeof chars);
	copy(out->model, sizeof out->model, r->model);
	out->why = AM_SEL_RULE;
	if (r->max_chars > 0) {
		group(r->max_chars, bound, sizeof bound);
		snprintf(out->reason, sizeof out->reason, "%s chars < %s", chars, bound);
	} else if (i > 0) {
		group(cfg->rule[i - 1].max_chars, bound, sizeof bound);
		snprintf(out->reason, sizeof out->reason, "%s chars " GE " %s", chars, bound);
	} else {
		snprintf(out->reason, sizeof out->reason, "%s chars: default", chars);
	}

	if (!cfg->downgrade_on_budget || in->budget_pct < cfg->downgrade_pct)
		return;
	int t = am_sel_tier_of(cfg, r->model);
	if (t <= 0)
		return; /* lowest tier, or outside the tier map: nothing cheaper to offer */
	copy(out->model, sizeof out->model, cfg->tier[t - 1].model);
	snprintf(out->reason, sizeof out->reason, "budget %d%% " GE " %d%%: downgraded",
	         in->budget_pct, cfg->downgrade_pct);
	out->why = AM_SEL_DOWNGRADED;
}

int64_t am_sel_count_chars(const char *s)
{
	int64_t n = 0;
	if (!s)
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p & 0xC0) != 0x80)
			n++;
	return n;
}

int64_t am_sel_body_chars(const json_t *body)
{
	const json_t *msgs = json_object_get(body, "messages");
	for (size_t i = json_array_size(msgs); i-- > 0;) {
		const json_t *m = json_array_get(msgs, i);
		if (!json_is_string(json_object_get(m, "role")) ||
		    strcmp(json_string_value(json_object_get(m, "role")), "user") != 0)
			continue;
		const json_t *content = json_object_get(m, "content");
		if (json_is_string(content))
			return am_sel_count_chars(json_string_value(content));
		int64_t n = 0;
		for (size_t j = 0; j < json_array_size(content); j++) {
			const json_t *text = json_object_get(json_array_get(content, j), "text");
			if (json_is_string(text))
				n += am_sel_count_chars(json_string_value(text));
		}
		return n;
	}
	return 0;
}
