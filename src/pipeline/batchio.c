/* batchio: parsing batch input lines and formatting result lines. */
#include "batchio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonlex.h"
#include "money.h"

static int check_messages(const json_t *msgs, am_err *err)
{
	if (!json_is_array(msgs) || json_array_size(msgs) == 0)
		return am_err_set(err, "\"messages\" must be a non-empty array");
	size_t i;
	json_t *m;
	json_array_foreach(msgs, i, m) {
		const char *role = json_string_value(json_object_get(m, "role"));
		json_t *content = json_object_get(m, "content");
		if (!json_is_object(m) || !role)
			return am_err_set(err, "messages[%zu] needs a \"role\"", i);
		if (strcmp(role, "user") && strcmp(role, "assistant"))
			return am_err_set(err, "messages[%zu]: role must be \"user\" or \"assistant\"",
			                  i);
		if (!json_is_string(content) && !json_is_array(content))
			return am_err_set(err, "messages[%zu] needs a \"content\" string or array", i);
	}
	return 0;
}

static int take_id(json_t *obj, const char *key, am_batch_line *out, am_err *err)
{
	json_t *id = json_object_get(obj, key);
	if (!id)
		return 0;
	if (json_is_string(id)) {
		if (json_string_length(id) == 0 || json_string_length(id) >= AM_BATCH_ID_MAX)
			return am_err_set(err, "\"%s\" must be 1 to %d characters", key,
			                  AM_BATCH_ID_MAX - 1);
		snprintf(out->id, sizeof out->id, "%s", json_string_value(id));
	} else if (json_is_integer(id)) {
		snprintf(out->id, sizeof out->id, "%lld", (long long)json_integer_value(id));
	} else {
		return am_err_set(err, "\"%s\" must be a string or an integer", key);
	}
	json_object_del(obj, key);
	return 0;
}

static int take_model(json_t *obj, am_batch_line *out, am_err *err)
{
	json_t *model = json_object_get(obj, "model");
	if (!model)
		return 0;
	if (!json_is_string(model) || json_string_length(model) == 0 ||
	    json_string_length(model) > 127)
		return am_err_set(err, "\"model\" must be a model id or \"auto\"");
	if (strcmp(json_string_value(model), "auto"))
		out->model = am_xstrdup(json_string_value(model));
	json_object_del(obj, "model");
	return 0;
}

static int take_tag(json_t *obj, am_batch_line *out, am_err *err)
{
	json_t *tag = json_object_get(obj, "tag");
	if (!tag)
		return 0;
	if (!json_is_string(tag) || json_string_length(tag) == 0 ||
	    strlen(json_string_value(tag)) != json_string_length(tag))
		return am_err_set(err, "\"tag\" must be a non-empty string");
	if (am_tag_check(json_string_value(tag), err))
		return am_err_prefix(err, "\"tag\"");
	snprintf(out->tag, sizeof out->tag, "%s", json_string_value(tag));
	json_object_del(obj, "tag");
	return 0;
}

static int check_max_tokens(const json_t *obj, am_err *err)
{
	json_t *mt = json_object_get(obj, "max_tokens");
	if (mt && (!json_is_integer(mt) || json_integer_value(mt) < 1 ||
	           json_integer_value(mt) > 1000000))
		return am_err_set(err, "\"max_tokens\" must be an integer from 1 to 1000000");
	return 0;
}

int am_batch_parse_line(const char *line, size_t len, int64_t lineno, am_batch_line *out,
                        am_err *err)
{
	memset(out, 0, sizeof *out);
	size_t i = 0;
	while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
		i++;
	if (i == len)
		return 0;
	if (len > AM_BATCH_MAX_LINE)
		return am_err_set(err, "line is longer than %d bytes", AM_BATCH_MAX_LINE);
	json_error_t je;
	json_t *obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	if (!obj)
		return am_err_set(err, "not valid JSON at column %d: %s", je.column, je.text);
	if (!json_is_object(obj)) {
		json_decref(obj);
		return am_err_set(err, "each line must be a JSON object");
	}
	snprintf(out->id, sizeof out->id, "%lld", (long long)lineno);
	if (take_id(obj, "id", out, err) || take_id(obj, "custom_id", out, err) ||
	    take_model(obj, out, err) || take_tag(obj, out, err) || check_max_tokens(obj, err))
		goto bad;

	if (json_object_get(obj, "messages")) {
		if (json_object_get(obj, "prompt")) {
			am_err_set(err, "a line has either \"prompt\" or \"messages\", not both");
			goto bad;
		}
		if (check_messages(json_object_get(obj, "messages"), err))
			goto bad;
		json_t *sys = json_object_get(obj, "system");
		if (sys && !json_is_string(sys) && !json_is_array(sys)) {
			am_err_set(err, "\"system\" must be a string or an array of blocks");
			goto bad;
		}
		out->body = obj;
		return 1;
	}

	json_t *prompt = json_object_get(obj, "prompt");
	if (!json_is_string(prompt) || json_string_length(prompt) == 0) {
		am_err_set(err, "a line needs a non-empty \"prompt\" string or a \"messages\" array");
		goto bad;
	}
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v) {
		if (strcmp(key, "prompt") && strcmp(key, "max_tokens") && strcmp(key, "system")) {
			am_err_set(err, "unknown key \"%s\" (a prompt line takes prompt, model, "
			                "max_tokens, system, id, tag)", key);
			goto bad;
		}
	}
	json_t *sys = json_object_get(obj, "system");
	if (sys && !json_is_string(sys)) {
		am_err_set(err, "\"system\" must be a string");
		goto bad;
	}
	json_t *body = json_object();
	json_object_set_new(body, "messages",
	                    json_pack("[{s:s, s:O}]", "role", "user", "content", prompt));
	if (sys)
		json_object_set(body, "system", sys);
	if (json_object_get(obj, "max_tokens"))
		json_object_set(body, "max_tokens", json_object_get(obj, "max_tokens"));
	json_decref(obj);
	out->body = body;
	return 1;
bad:
	json_decref(obj);
	free(out->model);
	out->model = NULL;
	return -1;
}

void am_batch_line_free(am_batch_line *l)
{
	json_decref(l->body);
	free(l->model);
	memset(l, 0, sizeof *l);
}

char *am_batch_format_result(const am_batch_result *r)
{
	static const char *const status[] = { "ok", "failed", "blocked" };
	json_t *o = json_object();
	json_object_set_new(o, "id", am_jsonlex_string(r->id ? r->id : ""));
	json_object_set_new(o, "status", json_string(status[r->status]));
	json_object_set_new(o, "model", am_jsonlex_string(r->model));
	json_object_set_new(o, "text", am_jsonlex_string(r->text));
	if (r->has_usage) {
		const am_usage *u = &r->usage;
		json_t *uo = json_pack("{s:I, s:I, s:I, s:I}", "input_tokens", (json_int_t)u->input_tokens,
		                       "output_tokens", (json_int_t)u->output_tokens,
		                       "cache_creation_input_tokens",
		                       (json_int_t)(u->cache_write_5m + u->cache_write_1h),
		                       "cache_read_input_tokens", (json_int_t)u->cache_read);
		/* The billed dimensions beyond tokens, only when the answer had them. */
		if (u->web_search_requests || u->web_fetch_requests || u->code_execution_requests) {
			json_t *st = json_object();
			json_object_set_new(st, "web_search_requests",
			                    json_integer((json_int_t)u->web_search_requests));
			json_object_set_new(st, "web_fetch_requests",
			                    json_integer((json_int_t)u->web_fetch_requests));
			json_object_set_new(st, "code_execution_requests",
			                    json_integer((json_int_t)u->code_execution_requests));
			json_object_set_new(uo, "server_tool_use", st);
		}
		const char *const tag_key[] = { "speed", "inference_geo", "service_tier" };
		const char *const tag_val[] = { u->speed, u->inference_geo, u->service_tier };
		for (int i = 0; i < 3; i++)
			if (tag_val[i][0])
				json_object_set_new(uo, tag_key[i], am_jsonlex_string(tag_val[i]));
		json_object_set_new(o, "usage", uo);
	} else {
		json_object_set_new(o, "usage", json_null());
	}
	if (r->has_usage && r->price_known) {
		char buf[32];
		am_money_format(r->cached ? 0 : r->cost_pusd, buf, sizeof buf);
		json_object_set_new(o, "cost_usd", json_string(buf));
	} else {
		json_object_set_new(o, "cost_usd", json_null());
	}
	json_object_set_new(o, "cached", json_boolean(r->cached));
	json_object_set_new(o, "error", am_jsonlex_string(r->error));
	char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(o);
	return s;
}
