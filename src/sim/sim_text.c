/* sim_text: the simulator's token estimate, cache-breakpoint bookkeeping and
 * deterministic lorem-ipsum answers.
 *
 * The prompt is walked in the order the API caches it (tools, system,
 * messages). Each piece feeds a running FNV-1a hash with a tag and a length
 * prefix, so a breakpoint's hash names exactly the prefix before it, and a
 * string content hashes the same as one text block with that text (the API
 * treats them alike). */
#include "sim_text.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL
#define MAX_MESSAGES 100000

uint64_t am_simtext_hash(uint64_t h, const void *data, size_t n)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= FNV_PRIME;
	}
	return h;
}

uint64_t am_simtext_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

int64_t am_simtext_tokens(size_t bytes)
{
	return (int64_t)((bytes + 3) / 4);
}

/* ---- the prompt walk ------------------------------------------------- */

struct walk {
	am_simtext_prompt *p;
	uint64_t h;
	int64_t tokens;
	bool seen_5m; /* a 5-minute breakpoint came before: a 1-hour one may not follow */
	am_err *err;
};

static void feed(struct walk *w, char tag, const char *data, size_t n)
{
	uint64_t len = n;
	w->h = am_simtext_hash(w->h, &tag, 1);
	w->h = am_simtext_hash(w->h, &len, sizeof len);
	w->h = am_simtext_hash(w->h, data, n);
}

/* Records a breakpoint at the current position if cc is a cache_control. */
static int mark(struct walk *w, const json_t *cc, const char *path)
{
	if (!cc)
		return 0;
	if (!json_is_object(cc))
		return am_err_set(w->err, "%s.cache_control: Input should be a valid dictionary",
		                  path);
	const char *type = json_string_value(json_object_get(cc, "type"));
	if (!type || strcmp(type, "ephemeral"))
		return am_err_set(w->err, "%s.cache_control.type: Input should be 'ephemeral'",
		                  path);
	const json_t *ttl = json_object_get(cc, "ttl");
	bool one_hour = false;
	if (ttl) {
		const char *t = json_string_value(ttl);
		if (!t || (strcmp(t, "5m") && strcmp(t, "1h")))
			return am_err_set(
			    w->err, "%s.cache_control.ttl: Input should be '5m' or '1h'", path);
		one_hour = !strcmp(t, "1h");
	}
	if (one_hour && w->seen_5m)
		return am_err_set(w->err, "a ttl='1h' cache_control block must not come after a "
		                          "ttl='5m' cache_control block");
	w->seen_5m = w->seen_5m || !one_hour;
	am_simtext_prompt *p = w->p;
	if (p->n_bp == AM_SIMTEXT_MAX_BREAKPOINTS)
		return am_err_set(w->err,
		                  "A maximum of %d blocks with cache_control may be provided. "
		                  "Found %d.",
		                  AM_SIMTEXT_MAX_BREAKPOINTS, AM_SIMTEXT_MAX_BREAKPOINTS + 1);
	p->bp[p->n_bp++] = (am_simtext_bp){w->tokens, w->h, one_hour};
	return 0;
}

/* A non-text block or a tool: its compact JSON without cache_control. */
static int feed_json(struct walk *w, char tag, const json_t *v)
{
	json_t *copy = json_deep_copy(v);
	if (!copy)
		return am_err_set(w->err, "out of memory");
	json_object_del(copy, "cache_control");
	char *s = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(copy);
	if (!s)
		return am_err_set(w->err, "out of memory");
	size_t n = strlen(s);
	feed(w, tag, s, n);
	w->tokens += am_simtext_tokens(n);
	free(s);
	return 0;
}

static int walk_tools(struct walk *w, const json_t *tools)
{
	if (!tools)
		return 0;
	if (!json_is_array(tools))
		return am_err_set(w->err, "tools: Input should be a valid list");
	size_t i;
	const json_t *t;
	json_array_foreach(tools, i, t)
	{
		char path[32];
		snprintf(path, sizeof path, "tools.%zu", i);
		if (!json_is_object(t))
			return am_err_set(w->err, "%s: Input should be a valid dictionary", path);
		if (feed_json(w, 'T', t) || mark(w, json_object_get(t, "cache_control"), path))
			return -1;
	}
	return 0;
}

static void feed_text(struct walk *w, const char *text, size_t n)
{
	feed(w, 'B', "text", 4);
	feed(w, 'X', text, n);
	w->tokens += am_simtext_tokens(n);
}

static int walk_system(struct walk *w, const json_t *sys)
{
	if (!sys)
		return 0;
	if (json_is_string(sys)) {
		feed(w, 'S', "", 0);
		feed_text(w, json_string_value(sys), json_string_length(sys));
		return 0;
	}
	if (!json_is_array(sys))
		return am_err_set(w->err, "system: Input should be a valid string or list");
	size_t i;
	const json_t *b;
	json_array_foreach(sys, i, b)
	{
		char path[32];
		snprintf(path, sizeof path, "system.%zu", i);
		const char *type = json_string_value(json_object_get(b, "type"));
		const json_t *text = json_object_get(b, "text");
		if (!type || strcmp(type, "text"))
			return am_err_set(w->err, "%s.type: Input should be 'text'", path);
		if (!json_is_string(text))
			return am_err_set(w->err, "%s.text: Field required", path);
		if (json_string_length(text) == 0)
			return am_err_set(w->err, "system: text content blocks must be non-empty");
		feed(w, 'S', "", 0);
		feed_text(w, json_string_value(text), json_string_length(text));
		if (mark(w, json_object_get(b, "cache_control"), path))
			return -1;
	}
	return 0;
}

static int walk_block(struct walk *w, const json_t *b, const char *path)
{
	if (!json_is_object(b))
		return am_err_set(w->err, "%s: Input should be a valid dictionary", path);
	const char *type = json_string_value(json_object_get(b, "type"));
	if (!type)
		return am_err_set(w->err, "%s.type: Field required", path);
	if (!strcmp(type, "text")) {
		const json_t *text = json_object_get(b, "text");
		if (!json_is_string(text))
			return am_err_set(w->err, "%s.text: Field required", path);
		if (json_string_length(text) == 0)
			return am_err_set(w->err,
			                  "messages: text content blocks must be non-empty");
		feed_text(w, json_string_value(text), json_string_length(text));
	} else if (feed_json(w, 'J', b)) {
		return -1;
	}
	return mark(w, json_object_get(b, "cache_control"), path);
}

static int walk_messages(struct walk *w, const json_t *msgs)
{
	if (!msgs)
		return am_err_set(w->err, "messages: Field required");
	if (!json_is_array(msgs))
		return am_err_set(w->err, "messages: Input should be a valid list");
	if (json_array_size(msgs) == 0)
		return am_err_set(w->err, "messages: at least one message is required");
	if (json_array_size(msgs) > MAX_MESSAGES)
		return am_err_set(w->err, "messages: a request may hold at most %d messages",
		                  MAX_MESSAGES);
	size_t i;
	const json_t *m;
	json_array_foreach(msgs, i, m)
	{
		char path[48];
		snprintf(path, sizeof path, "messages.%zu", i);
		if (!json_is_object(m))
			return am_err_set(w->err, "%s: Input should be a valid dictionary", path);
		const char *role = json_string_value(json_object_get(m, "role"));
		if (!role || (strcmp(role, "user") && strcmp(role, "assistant")))
			return am_err_set(w->err, "%s.role: Input should be 'user' or 'assistant'",
			                  path);
		feed(w, 'M', role, strlen(role));
		w->tokens += 4;
		const json_t *content = json_object_get(m, "content");
		if (!content)
			return am_err_set(w->err, "%s.content: Field required", path);
		if (json_is_string(content)) {
			feed_text(w, json_string_value(content), json_string_length(content));
			continue;
		}
		if (!json_is_array(content))
			return am_err_set(
			    w->err, "%s.content: Input should be a valid string or list", path);
		size_t j;
		const json_t *b;
		json_array_foreach(content, j, b)
		{
			char bpath[80];
			snprintf(bpath, sizeof bpath, "%s.content.%zu", path, j);
			if (walk_block(w, b, bpath))
				return -1;
		}
	}
	return 0;
}

int am_simtext_prompt_parse(const json_t *req, am_simtext_prompt *out, am_err *err)
{
	memset(out, 0, sizeof *out);
	struct walk w = {out, FNV_OFFSET, 1, false, err};
	if (walk_tools(&w, json_object_get(req, "tools")) ||
	    walk_system(&w, json_object_get(req, "system")) ||
	    walk_messages(&w, json_object_get(req, "messages")))
		return -1;
	/* Automatic caching: a top-level cache_control marks the last block. */
	const json_t *cc = json_object_get(req, "cache_control");
	if (cc &&
	    !(out->n_bp > 0 && out->bp[out->n_bp - 1].tokens == w.tokens &&
	      out->bp[out->n_bp - 1].hash == w.h) &&
	    mark(&w, cc, "body"))
		return -1;
	out->tokens = w.tokens;
	out->hash = w.h;
	return 0;
}

/* ---- answers --------------------------------------------------------- */

static const char *const words[] = {
    "lorem",      "ipsum",        "dolor",
    "sit",        "amet",         "consectetur",
    "adipiscing", "elit",         "sed",
    "do",         "eiusmod",      "tempor",
    "incididunt", "ut",           "labore",
    "et",         "dolore",       "magna",
    "aliqua",     "enim",         "ad",
    "minim",      "veniam",       "quis",
    "nostrud",    "exercitation", "ullamco",
    "laboris",    "nisi",         "aliquip",
    "ex",         "ea",           "commodo",
    "consequat",  "duis",         "aute",
    "irure",      "in",           "reprehenderit",
    "voluptate",  "velit",        "esse",
    "cillum",     "fugiat",       "nulla",
    "pariatur",   "excepteur",    "sint",
    "occaecat",   "cupidatat",    "non",
    "proident",   "sunt",         "culpa",
    "qui",        "officia",      "deserunt",
    "mollit",     "anim",         "id",
    "est",        "laborum",      "vitae",
    "porta",
};
#define N_WORDS (sizeof words / sizeof words[0])

struct rng {
	uint64_t s;
};

static uint64_t next(struct rng *r)
{
	r->s += 0x9e3779b97f4a7c15ULL;
	return am_simtext_mix(r->s);
}

struct out {
	char *p;
	size_t len, cap;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->len + n + 1 > o->cap) {
		while (o->len + n + 1 > o->cap)
			o->cap = o->cap ? o->cap * 2 : 256;
		o->p = am_xrealloc(o->p, o->cap);
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

/* Earliest stop sequence that ends after offset tok_start (inside the token
 * just appended): returns its start offset and index, or -1. Matches ending
 * earlier were looked for when their own token was appended. */
static long find_stop(const struct out *o, size_t tok_start, const char *const *stops,
                      size_t n_stops, int *which)
{
	long best = -1;
	for (size_t k = 0; k < n_stops; k++) {
		size_t sl = strlen(stops[k]);
		if (sl == 0 || sl > o->len)
			continue;
		size_t start = tok_start + 1 > sl ? tok_start + 1 - sl : 0;
		for (size_t i = start; i + sl <= o->len; i++) {
			if (o->p[i] == stops[k][0] && !memcmp(o->p + i, stops[k], sl)) {
				if (best < 0 || (long)i < best) {
					best = (long)i;
					*which = (int)k;
				}
				break;
			}
		}
	}
	return best;
}

void am_simtext_answer_make(uint64_t h, int64_t length, int64_t max_tokens,
                            const char *const *stops, size_t n_stops, am_simtext_answer *a)
{
	struct rng r = {h};
	int64_t target = 12 + (int64_t)(next(&r) % 180);
	if (next(&r) % 4 == 0)
		target += (int64_t)(next(&r) % 600);
	if (length > 0)
		target = length;
	int64_t n = max_tokens < target ? max_tokens : target;
	if (n < 0)
		n = 0;

	memset(a, 0, sizeof *a);
	a->stop_index = -1;
	a->tok_end = am_xmalloc(sizeof *a->tok_end * (size_t)(n > 0 ? n : 1));
	struct out o = {0};
	put(&o, "", 0);
	int sentence_left = 0, para_left = 3 + (int)(next(&r) % 3);
	bool first = true;
	int64_t i;
	for (i = 0; i < n; i++) {
		size_t tok_start = o.len;
		bool start = sentence_left == 0;
		if (start) {
			sentence_left = 5 + (int)(next(&r) % 10);
			if (!first && --para_left == 0) {
				put(&o, "\n\n", 2);
				para_left = 3 + (int)(next(&r) % 3);
			} else if (!first) {
				put(&o, " ", 1);
			}
		} else {
			put(&o, " ", 1);
		}
		first = false;
		char word[32];
		snprintf(word, sizeof word, "%s", words[next(&r) % N_WORDS]);
		if (start)
			word[0] = (char)toupper((unsigned char)word[0]);
		put(&o, word, strlen(word));
		sentence_left--;
		if (i == target - 1)
			sentence_left = 0;
		if (sentence_left == 0)
			put(&o, ".", 1);
		else if (sentence_left > 1 && next(&r) % 9 == 0)
			put(&o, ",", 1);
		a->tok_end[i] = o.len;
		int which = -1;
		long at = find_stop(&o, tok_start, stops, n_stops, &which);
		if (at >= 0) {
			o.len = (size_t)at;
			o.p[o.len] = '\0';
			a->tok_end[i] = o.len;
			a->stop = AM_SIMTEXT_STOP_SEQUENCE;
			a->stop_index = which;
			i++;
			break;
		}
	}
	a->n_tokens = i;
	if (a->stop != AM_SIMTEXT_STOP_SEQUENCE)
		a->stop = n < target ? AM_SIMTEXT_MAX_TOKENS : AM_SIMTEXT_END_TURN;
	a->text = o.p;
	a->len = o.len;
}

void am_simtext_answer_free(am_simtext_answer *a)
{
	if (!a)
		return;
	free(a->text);
	free(a->tok_end);
	memset(a, 0, sizeof *a);
}
