/* fuzz_batchline: one line of `aimeter batch` input (am_batch_parse_line in
 * src/batchio.c) and the result line written for it.
 *
 * The input is the line (its newline already cut, as cmd_batch does; inner
 * bytes are anything). The outcome must be one of the three documented ones:
 * blank (only spaces, tabs and CRs), a request (an id, a Messages body
 * without model or id members, a pinned model or auto) or an error with a
 * message. Then the result line for it is formatted as cmd_batch does - a
 * failed job carrying that message, or an answered one - and must be one
 * JSON object with every documented member, the same id and the same
 * error text: the output file is the batch's record of every job. */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "batchio.h"
#include "fuzz_util.h"

#define LINENO 4217

static bool blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

static void check_request(const am_batch_line *l)
{
	FUZZ_CHECK_UTF8_CSTR(l->id);
	FUZZ_CHECK(l->id[0] != '\0');
	FUZZ_CHECK(json_is_object(l->body));
	FUZZ_CHECK(!json_object_get(l->body, "model") && !json_object_get(l->body, "id") &&
	           !json_object_get(l->body, "custom_id"));
	const json_t *msgs = json_object_get(l->body, "messages");
	FUZZ_CHECK(json_is_array(msgs) && json_array_size(msgs) > 0);
	if (l->model) {
		size_t n = strlen(l->model);
		FUZZ_CHECK(n > 0 && n <= 127 && strcmp(l->model, "auto") != 0);
	}
	char *req = json_dumps(l->body, JSON_COMPACT);
	FUZZ_CHECK(req != NULL);
	json_t *back = json_loads(req, 0, NULL);
	FUZZ_CHECK(json_is_object(back));
	json_decref(back);
	free(req);
}

/* The output line says what happened to the job: all members, this id,
 * this status and this error. */
static void check_output(const am_batch_result *r)
{
	static const char *const members[] = { "id",   "status", "model",  "text", "usage",
		                               "cost_usd", "cached", "error" };
	static const char *const status[] = { "ok", "failed", "blocked" };
	char *s = am_batch_format_result(r);
	FUZZ_CHECK(s != NULL && !strchr(s, '\n'));
	json_error_t je;
	json_t *o = json_loads(s, 0, &je);
	FUZZ_CHECK(json_is_object(o));
	for (size_t i = 0; i < sizeof members / sizeof members[0]; i++)
		if (!json_object_get(o, members[i])) {
			fprintf(stderr, "result line lacks \"%s\": %s\n", members[i], s);
			FUZZ_CHECK(!"every member is there");
		}
	FUZZ_CHECK(!strcmp(json_string_value(json_object_get(o, "id")), r->id));
	FUZZ_CHECK(!strcmp(json_string_value(json_object_get(o, "status")), status[r->status]));
	if (r->error)
		FUZZ_CHECK(json_is_string(json_object_get(o, "error")));
	if (r->model)
		FUZZ_CHECK(!strcmp(json_string_value(json_object_get(o, "model")), r->model));
	json_decref(o);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *line = (const char *)data;
	am_batch_line l;
	am_err err;
	err.msg[0] = '\0';
	int rc = am_batch_parse_line(line, size, LINENO, &l, &err);
	FUZZ_CHECK(rc >= -1 && rc <= 1);
	FUZZ_CHECK((rc == 0) == blank(line, size));
	am_batch_result r;
	memset(&r, 0, sizeof r);
	if (rc == 0) {
		FUZZ_CHECK(!l.body && !l.model);
		return 0;
	}
	if (rc < 0) {
		FUZZ_CHECK(!l.body && !l.model && err.msg[0] != '\0');
		/* cmd_batch: a bad line is a failed job under its line number. */
		char id[32];
		snprintf(id, sizeof id, "%d", LINENO);
		r.id = id;
		r.status = AM_BATCH_FAILED;
		r.error = err.msg;
		check_output(&r);
		return 0;
	}
	check_request(&l);
	r.id = l.id;
	r.status = AM_BATCH_OK;
	r.model = l.model ? l.model : "claude-haiku-4-5-20251001";
	r.text = "answer";
	r.has_usage = true;
	r.usage.input_tokens = 12;
	r.usage.output_tokens = 3;
	r.price_known = true;
	r.cost_pusd = 27000000;
	check_output(&r);
	am_batch_line_free(&l);
	return 0;
}
