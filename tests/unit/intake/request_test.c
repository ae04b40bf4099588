/*
 * request_test.c - every way a report body can be wrong gets its exact
 * error code (and field), and good bodies come out trimmed and complete.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "compat.h"
#include "request.h"

struct bad {
	const char *body;
	size_t len; /* 0: strlen */
	enum req_code code;
	const char *field; /* NULL: don't care */
};

static char *
repeat(const char *unit, size_t n, const char *pre, const char *post)
{
	size_t ul = strlen(unit), pl = strlen(pre), ql = strlen(post);
	char *s = malloc(pl + ul * n + ql + 1), *p = s;

	memcpy(p, pre, pl);
	p += pl;
	for (size_t i = 0; i < n; i++, p += ul)
		memcpy(p, unit, ul);
	memcpy(p, post, ql + 1);
	return s;
}

static void
test_bad_inputs(void **state)
{
	static const struct bad cases[] = {
		{ "", 0, REQ_INVALID_JSON, NULL },
		{ "{", 0, REQ_INVALID_JSON, NULL },
		{ "not json", 0, REQ_INVALID_JSON, NULL },
		{ "[\"text\"]", 0, REQ_INVALID_JSON, NULL },
		{ "\"text\"", 0, REQ_INVALID_JSON, NULL },
		{ "null", 0, REQ_INVALID_JSON, NULL },
		{ "{\"text\":\"a\",\"text\":\"b\"}", 0, REQ_INVALID_JSON, NULL },
		{ "{\"text\":\"a\"} trailing", 0, REQ_INVALID_JSON, NULL },
		{ "{\"text\":\"\\u0000x\"}", 0, REQ_INVALID_JSON, NULL },
		{ "{\"text\":\"\xff\xfe\"}", 0, REQ_INVALID_UTF8, NULL },
		{ "{\"text\":\"\xc0\xaf\"}", 0, REQ_INVALID_UTF8, NULL },
		{ "{\"text\":\"\xed\xa0\x80\"}", 0, REQ_INVALID_UTF8, NULL },
		{ "{\"text\":\"a\x00\"}", 14, REQ_INVALID_UTF8, NULL },
		{ "{}", 0, REQ_MISSING_TEXT, "text" },
		{ "{\"location\":\"塘沽\"}", 0, REQ_MISSING_TEXT, "text" },
		{ "{\"text\":null}", 0, REQ_MISSING_TEXT, "text" },
		{ "{\"text\":42}", 0, REQ_INVALID_FIELD, "text" },
		{ "{\"text\":[\"a\"]}", 0, REQ_INVALID_FIELD, "text" },
		{ "{\"text\":{}}", 0, REQ_INVALID_FIELD, "text" },
		{ "{\"text\":true}", 0, REQ_INVALID_FIELD, "text" },
		{ "{\"text\":\"\"}", 0, REQ_EMPTY_TEXT, "text" },
		{ "{\"text\":\"  \\n\\t \"}", 0, REQ_EMPTY_TEXT, "text" },
		{ "{\"text\":\"\u3000\u3000\"}", 0, REQ_EMPTY_TEXT, "text" },
		{ "{\"text\":\"a\",\"locaton\":\"x\"}", 0, REQ_UNKNOWN_FIELD, "locaton" },
		{ "{\"evil\":1,\"text\":\"a\"}", 0, REQ_UNKNOWN_FIELD, "evil" },
		{ "{\"text\":\"a\",\"location\":5}", 0, REQ_INVALID_FIELD, "location" },
		{ "{\"text\":\"a\",\"category\":[]}", 0, REQ_INVALID_FIELD, "category" },
		{ "{\"text\":\"a\",\"district\":120116}", 0, REQ_INVALID_FIELD, "district" },
		{ "{\"text\":\"a\",\"district\":\"120199\"}", 0, REQ_UNKNOWN_DISTRICT, "district" },
		{ "{\"text\":\"a\",\"district\":\"滨海新区\"}", 0, REQ_UNKNOWN_DISTRICT, "district" },
		{ "{\"text\":\"a\",\"district\":\"1201161\"}", 0, REQ_UNKNOWN_DISTRICT, "district" },
		{ "{\"text\":\"a\",\"district\":\"120107\"}", 0, REQ_UNKNOWN_DISTRICT, "district" },
		{ "{\"text\":\"a\",\"contact\":\"张三\"}", 0, REQ_INVALID_FIELD, "contact" },
		{ "{\"text\":\"a\",\"contact\":[]}", 0, REQ_INVALID_FIELD, "contact" },
		{ "{\"text\":\"a\",\"contact\":{\"qq\":\"1\"}}", 0, REQ_UNKNOWN_FIELD, "contact.qq" },
		{ "{\"text\":\"a\",\"contact\":{\"phone\":13800138000}}", 0, REQ_INVALID_FIELD, "contact.phone" },
		{ "{\"text\":\"a\",\"contact\":{\"name\":\"a\",\"name\":\"b\"}}", 0, REQ_INVALID_JSON, NULL },
	};
	struct intake_request r;
	struct req_error err;

	for (size_t i = 0; i < TL_ARRAY_LEN(cases); i++) {
		size_t len = cases[i].len ? cases[i].len : strlen(cases[i].body);
		enum req_code rc = request_parse(cases[i].body, len, &r, &err);
		if (rc != cases[i].code)
			fail_msg("case %zu (%s): got %s, want %s", i, cases[i].body, req_code_name(rc),
			         req_code_name(cases[i].code));
		assert_int_equal(err.code, cases[i].code);
		if (cases[i].field)
			assert_string_equal(err.field, cases[i].field);
		assert_null(r.text);
		assert_null(r.contact.phone);
	}
}

static void
test_lengths(void **state)
{
	struct intake_request r;
	struct req_error err;
	char *s;

	/* 20000 characters (3 bytes each) is fine, 20001 is not. */
	s = repeat("钢", 20000, "{\"text\":\"", "\"}");
	assert_int_equal(request_parse(s, strlen(s), &r, &err), REQ_OK);
	assert_int_equal(r.text_len, 60000);
	request_free(&r);
	free(s);
	s = repeat("钢", 20001, "{\"text\":\"", "\"}");
	assert_int_equal(request_parse(s, strlen(s), &r, &err), REQ_TEXT_TOO_LONG);
	free(s);
	/* Trimming happens before counting. */
	s = repeat("a", 20000, "{\"text\":\"   ", "   \\n\"}");
	assert_int_equal(request_parse(s, strlen(s), &r, &err), REQ_OK);
	request_free(&r);
	free(s);
	/* Fields: 1024 bytes fine, 1025 too long. */
	s = repeat("x", 1024, "{\"text\":\"t\",\"location\":\"", "\"}");
	assert_int_equal(request_parse(s, strlen(s), &r, &err), REQ_OK);
	request_free(&r);
	free(s);
	s = repeat("x", 1025, "{\"text\":\"t\",\"location\":\"", "\"}");
	assert_int_equal(request_parse(s, strlen(s), &r, &err), REQ_FIELD_TOO_LONG);
	assert_string_equal(err.field, "location");
	free(s);
	s = repeat("x", 1025, "{\"text\":\"t\",\"contact\":{\"email\":\"", "\"}}");
	assert_int_equal(request_parse(s, strlen(s), &r, &err), REQ_FIELD_TOO_LONG);
	assert_string_equal(err.field, "contact.email");
	free(s);
	s = repeat("类", 65, "{\"text\":\"t\",\"category\":\"", "\"}");
	assert_int_equal(request_parse(s, strlen(s), &r, &err), REQ_FIELD_TOO_LONG);
	assert_string_equal(err.field, "category");
	free(s);
	/* A very long unknown field name is cut at a character boundary. */
	s = repeat("字", 100, "{\"", "\":1,\"text\":\"t\"}");
	assert_int_equal(request_parse(s, strlen(s), &r, &err), REQ_UNKNOWN_FIELD);
	assert_true(strlen(err.field) <= 64);
	assert_int_equal(strlen(err.field) % 3, 0);
	free(s);
}

static void
test_good(void **state)
{
	const char *body =
		"{\"text\":\"  静海区某村有地条钢作坊，夜间开工。\\n\","
		"\"location\":\" 静海区大邱庄镇 \",\"district\":\"120118\",\"category\":\"地条钢\","
		"\"contact\":{\"name\":\"张三\",\"phone\":\"13800138000\",\"email\":null,\"wechat\":\"\"}}";
	struct intake_request r;
	struct req_error err;

	assert_int_equal(request_parse(body, strlen(body), &r, &err), REQ_OK);
	assert_string_equal(r.text, "静海区某村有地条钢作坊，夜间开工。");
	assert_int_equal(r.text_len, strlen(r.text));
	assert_string_equal(r.location, "静海区大邱庄镇");
	assert_string_equal(r.district, "120118");
	assert_string_equal(r.category, "地条钢");
	assert_string_equal(r.contact.name, "张三");
	assert_string_equal(r.contact.phone, "13800138000");
	assert_null(r.contact.email);
	assert_null(r.contact.wechat); /* empty means absent */
	assert_true(r.has_contact);
	request_free(&r);
	assert_null(r.text);

	body = "{\"text\":\"x\",\"district\":null,\"location\":null,\"contact\":null,\"category\":\"\"}";
	assert_int_equal(request_parse(body, strlen(body), &r, &err), REQ_OK);
	assert_string_equal(r.district, "");
	assert_null(r.location);
	assert_null(r.category);
	assert_false(r.has_contact);
	request_free(&r);

	body = "{\"text\":\"x\",\"contact\":{}}";
	assert_int_equal(request_parse(body, strlen(body), &r, &err), REQ_OK);
	assert_false(r.has_contact);
	request_free(&r);
}

static void
test_headers(void **state)
{
	assert_true(request_content_type_ok("application/json"));
	assert_true(request_content_type_ok("Application/JSON"));
	assert_true(request_content_type_ok("application/json; charset=utf-8"));
	assert_true(request_content_type_ok("application/json;charset=UTF-8"));
	assert_true(request_content_type_ok("application/json; charset=\"utf-8\""));
	assert_false(request_content_type_ok(NULL));
	assert_false(request_content_type_ok(""));
	assert_false(request_content_type_ok("text/plain"));
	assert_false(request_content_type_ok("application/json; charset=gbk"));
	assert_false(request_content_type_ok("application/jsonx"));
	assert_false(request_content_type_ok("application/x-www-form-urlencoded"));
	assert_false(request_content_type_ok("application/json; charset=utf-8; x=y"));

	assert_true(request_idem_key_ok("a"));
	assert_true(request_idem_key_ok("3f1c-retry key ~!"));
	assert_false(request_idem_key_ok(""));
	assert_false(request_idem_key_ok(NULL));
	assert_false(request_idem_key_ok("tab\there"));
	assert_false(request_idem_key_ok("键"));
	char k[202];
	memset(k, 'k', 200);
	k[200] = '\0';
	assert_true(request_idem_key_ok(k));
	k[200] = 'k';
	k[201] = '\0';
	assert_false(request_idem_key_ok(k));
}

static void
test_error_body(void **state)
{
	struct req_error err = { REQ_UNKNOWN_FIELD, "loc\"aton" };
	struct buf b;

	buf_init(&b, 4096);
	assert_int_equal(request_error_body(&err, &b), TL_OK);
	assert_non_null(strstr(buf_str(&b), "\"error\":\"unknown_field\""));
	assert_non_null(strstr(buf_str(&b), "\"field\":\"loc\\\"aton\""));
	assert_non_null(strstr(buf_str(&b), "\"message\":\""));
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_inputs), cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_good), cmocka_unit_test(test_headers),
		cmocka_unit_test(test_error_body),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
