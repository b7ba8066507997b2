/* Batch input lines and result lines. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "batchio.h"
#include "check_run.h"

static int parse(const char *s, am_batch_line *l, am_err *err)
{
	return am_batch_parse_line(s, strlen(s), 7, l, err);
}

START_TEST(prompt_form)
{
	am_batch_line l;
	am_err err;
	ck_assert_int_eq(parse("{\"prompt\":\"hi\",\"model\":\"claude-haiku-4-5\",\"max_tokens\":50,"
	                       "\"system\":\"be brief\",\"id\":\"a1\"}", &l, &err), 1);
	ck_assert_str_eq(l.id, "a1");
	ck_assert_str_eq(l.model, "claude-haiku-4-5");
	ck_assert_ptr_null(json_object_get(l.body, "model"));
	ck_assert_int_eq(json_integer_value(json_object_get(l.body, "max_tokens")), 50);
	ck_assert_str_eq(json_string_value(json_object_get(l.body, "system")), "be brief");
	json_t *m = json_array_get(json_object_get(l.body, "messages"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(m, "role")), "user");
	ck_assert_str_eq(json_string_value(json_object_get(m, "content")), "hi");
	am_batch_line_free(&l);

	ck_assert_int_eq(parse("{\"prompt\":\"x\",\"model\":\"auto\"}", &l, &err), 1);
	ck_assert_ptr_null(l.model);
	ck_assert_str_eq(l.id, "7");
	am_batch_line_free(&l);
}
END_TEST

START_TEST(messages_form)
{
	am_batch_line l;
	am_err err;
	ck_assert_int_eq(parse("{\"custom_id\":42,\"model\":\"m\",\"max_tokens\":9,\"temperature\":0.5,"
	                       "\"messages\":[{\"role\":\"user\",\"content\":\"q\"},"
	                       "{\"role\":\"assistant\",\"content\":\"a\"},"
	                       "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"q2\"}]}]}",
	                       &l, &err), 1);
	ck_assert_str_eq(l.id, "42");
	ck_assert_ptr_null(json_object_get(l.body, "custom_id"));
	ck_assert_ptr_nonnull(json_object_get(l.body, "temperature"));
	ck_assert_int_eq(json_array_size(json_object_get(l.body, "messages")), 3);
	ck_assert_str_eq(l.tag, "");
	am_batch_line_free(&l);

	/* A line's "tag" is the line's, never part of the request. */
	ck_assert_int_eq(parse("{\"tag\":\"nightly-evals\",\"messages\":[{\"role\":\"user\","
	                       "\"content\":\"q\"}]}", &l, &err), 1);
	ck_assert_str_eq(l.tag, "nightly-evals");
	ck_assert_ptr_null(json_object_get(l.body, "tag"));
	am_batch_line_free(&l);
	ck_assert_int_eq(parse("{\"prompt\":\"p\",\"tag\":\"t1\"}", &l, &err), 1);
	ck_assert_str_eq(l.tag, "t1");
	ck_assert_ptr_null(json_object_get(l.body, "tag"));
	am_batch_line_free(&l);
}
END_TEST

START_TEST(bad_lines)
{
	static const struct {
		const char *line, *needle;
	} cases[] = {
		{ "{\"prompt\":", "column" },
		{ "[1,2]", "JSON object" },
		{ "{\"prompt\":\"\"}", "non-empty" },
		{ "{\"prompt\":\"x\",\"max_tokens\":0}", "max_tokens" },
		{ "{\"prompt\":\"x\",\"max_tokens\":\"9\"}", "max_tokens" },
		{ "{\"prompt\":\"x\",\"temprature\":1}", "unknown key \"temprature\"" },
		{ "{\"messages\":[]}", "non-empty array" },
		{ "{\"messages\":[{\"role\":\"system\",\"content\":\"x\"}]}", "role" },
		{ "{\"messages\":[{\"role\":\"user\"}]}", "content" },
		{ "{\"prompt\":\"x\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "not both" },
		{ "{\"prompt\":\"x\",\"id\":{}}", "id" },
		{ "{\"prompt\":\"x\",\"model\":5}", "model" },
		{ "{\"prompt\":\"\xff\xfe\"}", "JSON" },
		{ "{\"prompt\":\"a\",\"prompt\":\"b\"}", "JSON" },
		{ "{\"prompt\":\"x\",\"tag\":\"two words\"}", "\"tag\": bad tag" },
		{ "{\"prompt\":\"x\",\"tag\":\"\"}", "tag" },
		{ "{\"prompt\":\"x\",\"tag\":7}", "tag" },
		{ "{\"prompt\":\"x\",\"tag\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}",
		  "64" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		am_batch_line l;
		am_err err = {0};
		ck_assert_msg(parse(cases[i].line, &l, &err) == -1, "accepted: %s", cases[i].line);
		ck_assert_msg(strstr(err.msg, cases[i].needle), "'%s' -> '%s'", cases[i].line, err.msg);
		ck_assert_ptr_null(l.body);
		ck_assert_ptr_null(l.model);
	}
	am_batch_line l;
	ck_assert_int_eq(parse("   \r", &l, NULL), 0);
	ck_assert_int_eq(am_batch_parse_line("", 0, 1, &l, NULL), 0);
}
END_TEST

START_TEST(result_lines)
{
	am_batch_result r = { 0 };
	r.id = "a\"1";
	r.status = AM_BATCH_OK;
	r.model = "claude-haiku-4-5-20251001";
	r.text = "hé\n";
	r.has_usage = true;
	r.usage.input_tokens = 10;
	r.usage.output_tokens = 5;
	r.usage.cache_write_5m = 2;
	r.usage.cache_write_1h = 3;
	r.usage.cache_read = 4;
	r.price_known = true;
	r.cost_pusd = 35000000;
	char *s = am_batch_format_result(&r);
	json_t *o = json_loads(s, 0, NULL);
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(json_string_value(json_object_get(o, "id")), "a\"1");
	ck_assert_str_eq(json_string_value(json_object_get(o, "status")), "ok");
	ck_assert_str_eq(json_string_value(json_object_get(o, "text")), "hé\n");
	ck_assert_str_eq(json_string_value(json_object_get(o, "cost_usd")), "0.000035");
	json_t *u = json_object_get(o, "usage");
	ck_assert_int_eq(json_integer_value(json_object_get(u, "cache_creation_input_tokens")), 5);
	ck_assert_int_eq(json_integer_value(json_object_get(u, "cache_read_input_tokens")), 4);
	ck_assert_ptr_null(json_object_get(u, "server_tool_use"));
	ck_assert_ptr_null(json_object_get(u, "speed"));
	ck_assert(json_is_false(json_object_get(o, "cached")));
	ck_assert(json_is_null(json_object_get(o, "error")));
	ck_assert_ptr_null(strchr(s, '\n'));
	json_decref(o);
	free(s);

	/* what was served and billed beyond tokens */
	r.usage.web_search_requests = 3;
	snprintf(r.usage.speed, sizeof r.usage.speed, "fast");
	snprintf(r.usage.inference_geo, sizeof r.usage.inference_geo, "us");
	s = am_batch_format_result(&r);
	o = json_loads(s, 0, NULL);
	u = json_object_get(o, "usage");
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(u, "server_tool_use"),
	                                                    "web_search_requests")),
	                 3);
	ck_assert_str_eq(json_string_value(json_object_get(u, "speed")), "fast");
	ck_assert_str_eq(json_string_value(json_object_get(u, "inference_geo")), "us");
	ck_assert_ptr_null(json_object_get(u, "service_tier"));
	json_decref(o);
	free(s);

	r.cached = true;
	s = am_batch_format_result(&r);
	o = json_loads(s, 0, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(o, "cost_usd")), "0");
	json_decref(o);
	free(s);

	am_batch_result f = { .id = "3", .status = AM_BATCH_BLOCKED, .error = "daily limit" };
	s = am_batch_format_result(&f);
	o = json_loads(s, 0, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(o, "status")), "blocked");
	ck_assert(json_is_null(json_object_get(o, "cost_usd")));
	ck_assert(json_is_null(json_object_get(o, "usage")));
	json_decref(o);
	free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("batchio");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, prompt_form);
	tcase_add_test(tc, messages_form);
	tcase_add_test(tc, bad_lines);
	tcase_add_test(tc, result_lines);
	suite_add_tcase(s, tc);
	return check_run(s);
}
