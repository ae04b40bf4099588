/*
 * html_test.c - escaping, URL filtering and the context-checked templates:
 * hostile values must render inert wherever a template puts them.
 */
#include "compat.h"
#include "html.h"
#include "utf8.h"

#include <setjmp.h>
#include <cmocka.h>
#include <sodium.h>

/* Compiles src, renders with v, returns the output (caller frees). */
static char *
render(const char *src, const struct html_vars *v)
{
	struct html_tmpl *t = NULL;
	struct buf out;
	char err[160];

	buf_init(&out, 1 << 20);
	if (html_tmpl_compile(src, strlen(src), &t, err, sizeof(err)) != TL_OK)
		fail_msg("compile: %s", err);
	assert_int_equal(html_render(t, v, &out), TL_OK);
	html_tmpl_free(t);
	return buf_detach(&out, NULL);
}

static char *
render1(const char *src, const char *name, const char *value, size_t len)
{
	struct html_vars *v;
	char *s;

	assert_int_equal(html_vars_new(1 << 16, &v), TL_OK);
	assert_int_equal(html_vars_setn(v, name, value, len), TL_OK);
	s = render(src, v);
	html_vars_free(v);
	return s;
}

static void
expect_render(const char *src, const char *value, const char *want)
{
	char *s = render1(src, "x", value, strlen(value));

	assert_string_equal(s, want);
	free(s);
}

static void
expect_compile_error(const char *src)
{
	struct html_tmpl *t = NULL;
	char err[160];

	if (html_tmpl_compile(src, strlen(src), &t, err, sizeof(err)) == TL_OK)
		fail_msg("template compiled but must not: %s", src);
	assert_null(t);
	assert_non_null(strstr(err, "line"));
}

static void
test_escape_text(void **state)
{
	expect_render("<p>{{x}}</p>", "<script>alert(1)</script>",
	              "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>");
	expect_render("<p>{{x}}</p>", "a & b 'c' \"d\"", "<p>a &amp; b &#39;c&#39; &quot;d&quot;</p>");
	/* Chinese and other valid UTF-8 pass through untouched. */
	expect_render("<td>{{x}}</td>", "天津市滨海新区 地条钢 🏭", "<td>天津市滨海新区 地条钢 🏭</td>");
	/* <textarea> and <title> are RCDATA: the same escaping keeps them shut. */
	expect_render("<textarea name=\"t\">{{x}}</textarea>", "</textarea><script>x()</script>",
	              "<textarea name=\"t\">&lt;/textarea&gt;&lt;script&gt;x()&lt;/script&gt;</textarea>");
	expect_render("<p>{{x}}</p>", "line1\nline2\ttab", "<p>line1\nline2\ttab</p>");
}

static void
test_escape_attribute(void **state)
{
	expect_render("<input name=\"q\" value=\"{{x}}\">", "\"><img src=x onerror=alert(1)>",
	              "<input name=\"q\" value=\"&quot;&gt;&lt;img src=x onerror=alert(1)&gt;\">");
	expect_render("<input value='{{x}}'>", "' onfocus='alert(1)",
	              "<input value='&#39; onfocus=&#39;alert(1)'>");
	expect_render("<div class=\"row {{x}}\">", "a\" onmouseover=\"x", "<div class=\"row a&quot; onmouseover=&quot;x\">");
}

static void
test_url_contexts(void **state)
{
	static const char *const bad[] = {
		"javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)",
		"java\tscript:alert(1)", "java\nscript:alert(1)", "javascript\x00:alert(1)",
		"vbscript:msgbox(1)", "data:text/html,<script>alert(1)</script>",
		"//evil.example/", "/\\evil.example/", "\\\\evil.example", "http:", "https://",
		"", "ｊａｖａｓｃｒｉｐｔ:alert(1)", "mailto:x@example.com",
	};
	static const char *const good[] = { "/leads/12", "https://example.com/a?b=1", "http://x.cn",
	                                    "?page=2", "#top", "leads/12", "/" };
	char want[256];

	for (size_t i = 0; i < TL_ARRAY_LEN(bad); i++) {
		size_t len = i == 5 ? 20 : strlen(bad[i]);
		char *s = render1("<a href=\"{{x}}\">go</a>", "x", bad[i], len);
		assert_string_equal(s, "<a href=\"" HTML_INVALID_URL "\">go</a>");
		free(s);
		s = render1("<form action='{{x}}'></form>", "x", bad[i], len);
		assert_string_equal(s, "<form action='" HTML_INVALID_URL "'></form>");
		free(s);
	}
	for (size_t i = 0; i < TL_ARRAY_LEN(good); i++) {
		snprintf(want, sizeof(want), "<a href=\"%s\">go</a>", good[i]);
		expect_render("<a href=\"{{x}}\">go</a>", good[i], want);
	}
	/* An allowed URL is still attribute-escaped. */
	expect_render("<a href=\"{{x}}\">", "/s?a=1&b=\"2\"", "<a href=\"/s?a=1&amp;b=&quot;2&quot;\">");
	/* Later in a URL value: one percent-encoded component. */
	expect_render("<a href=\"/leads/{{x}}\">", "../admin?x=\"y\"&z=javascript:1",
	              "<a href=\"/leads/..%2Fadmin%3Fx%3D%22y%22%26z%3Djavascript%3A1\">");
	expect_render("<a href=\"/s?q={{x}}\">", "滨海 新区", "<a href=\"/s?q=%E6%BB%A8%E6%B5%B7%20%E6%96%B0%E5%8C%BA\">");
	expect_render("<a href=\"java{{x}}\">", "script:alert(1)", "<a href=\"javascript%3Aalert%281%29\">");
	expect_render("<img src=\"/i/{{x}}\">", "\xff", "<img src=\"/i/%EF%BF%BD\">");
}

static void
test_invalid_utf8_and_controls(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		const char *want;
	} cases[] = {
		{ "a\xff" "b", 3, "<p>a\xEF\xBF\xBD" "b</p>" },
		{ "\xc0\xaf", 2, "<p>\xEF\xBF\xBD\xEF\xBF\xBD</p>" },         /* overlong "/" */
		{ "\xed\xa0\x80", 3, "<p>\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD</p>" }, /* surrogate */
		{ "\xe5\xa4", 2, "<p>\xEF\xBF\xBD\xEF\xBF\xBD</p>" },         /* truncated 天 */
		{ "a\0<b", 4, "<p>a&lt;b</p>" },                              /* NUL dropped */
		{ "\x01\x1b[31m\x7f", 7, "<p>\xEF\xBF\xBD\xEF\xBF\xBD[31m\xEF\xBF\xBD</p>" },
		{ "\xf4\x90\x80\x80", 4, "<p>\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD</p>" },
	};

	for (size_t i = 0; i < TL_ARRAY_LEN(cases); i++) {
		char *s = render1("<p>{{x}}</p>", "x", cases[i].in, cases[i].len);
		assert_string_equal(s, cases[i].want);
		assert_true(utf8_valid(s, strlen(s), NULL));
		free(s);
	}
}

/* Property: whatever the bytes, escaped output has no markup characters
 * and is valid UTF-8 without NUL. */
static void
test_escape_random(void **state)
{
	unsigned char in[64];
	struct buf out;

	for (int round = 0; round < 3000; round++) {
		size_t len = randombytes_uniform(sizeof(in) + 1);
		randombytes_buf(in, len);
		/* Bias toward the interesting bytes. */
		for (size_t i = 0; i < len; i += 5)
			in[i] = (unsigned char)"<>\"'&\0\xc3\xe5\xf0\x80"[randombytes_uniform(10)];
		buf_init(&out, 4096);
		assert_int_equal(html_escape(&out, (const char *)in, len), TL_OK);
		assert_null(memchr(buf_str(&out), '<', out.len));
		assert_null(memchr(buf_str(&out), '>', out.len));
		assert_null(memchr(buf_str(&out), '"', out.len));
		assert_null(memchr(buf_str(&out), '\'', out.len));
		assert_true(utf8_valid(buf_str(&out), out.len, NULL));
		buf_free(&out);
	}
}

static void
test_compile_refusals(void **state)
{
	static const char *const bad[] = {
		"<p>{{{x}}}</p>",                       /* raw output does not exist */
		"<script>var a = \"{{x}}\";</script>",  /* script */
		"<SCRIPT type=\"x\">{{x}}</SCRIPT>",
		"<style>p { color: {{x}} }</style>",    /* style */
		"<a onclick=\"{{x}}\">",                /* event handler */
		"<body ONLOAD='{{x}}'>",
		"<p style=\"color: {{x}}\">",           /* style attribute */
		"<iframe srcdoc=\"{{x}}\">",
		"<img srcset=\"{{x}}\">",
		"<meta http-equiv=\"refresh\" content=\"0;url={{x}}\">",
		"<a href={{x}}>",                       /* unquoted value */
		"<input value=a{{x}}>",
		"<{{x}}>",                              /* tag name */
		"</{{x}}>",
		"<a {{x}}=\"1\">",                      /* attribute name */
		"<a {{x}}>",
		"<!-- {{x}} -->",                       /* comment */
		"<!DOCTYPE {{x}}>",
		"<p>{{x}</p>",                          /* unterminated */
		"<p>{{x y}}</p>",                       /* bad name */
		"<p>{{}}</p>",
		"<p>{{#a}}</p>",                        /* unclosed section */
		"<p>{{/a}}</p>",                        /* stray close */
		"{{#a}}{{/b}}",                         /* mismatched close */
		"{{#a}}<b class=\"{{/a}}\">",           /* section changes context */
		"{{#a}}<script>{{/a}}</script>",
		"<script>{{#a}}{{/a}}</script>",
		"{{#a}}{{#b}}{{#c}}{{#d}}{{#e}}{{#f}}{{#g}}{{#h}}{{#i}}{{/i}}{{/h}}{{/g}}{{/f}}{{/e}}{{/d}}{{/c}}{{/b}}{{/a}}",
	};
	struct html_tmpl *t = NULL;
	char err[160];

	for (size_t i = 0; i < TL_ARRAY_LEN(bad); i++)
		expect_compile_error(bad[i]);
	/* Invalid UTF-8 or NUL in the template itself. */
	assert_int_equal(html_tmpl_compile("<p>\xff</p>", 8, &t, err, sizeof(err)), TL_EINVAL);
	assert_int_equal(html_tmpl_compile("<p>\0</p>", 8, &t, err, sizeof(err)), TL_EINVAL);
	/* Too large. */
	{
		size_t n = HTML_TMPL_MAX + 1;
		char *big = malloc(n);
		assert_non_null(big);
		memset(big, 'a', n);
		assert_int_equal(html_tmpl_compile(big, n, &t, err, sizeof(err)), TL_ETOOBIG);
		free(big);
	}
	/* After a script element ends, data context is back. */
	{
		struct html_vars *v;
		char *s;
		assert_int_equal(html_vars_new(4096, &v), TL_OK);
		assert_int_equal(html_vars_set(v, "x", "<b>"), TL_OK);
		s = render("<script src=\"/a.js\"></script><style>p{}</style><!-- c --><p>{{x}}</p>", v);
		assert_string_equal(s, "<script src=\"/a.js\"></script><style>p{}</style><!-- c --><p>&lt;b&gt;</p>");
		free(s);
		html_vars_free(v);
	}
}

static void
test_sections(void **state)
{
	static const char tmpl[] =
		"<h1>{{title}}</h1>"
		"{{#leads}}<tr><td>{{id}}</td><td>{{district}}</td>"
		"<td><a href=\"/leads/{{id}}\">{{title}}</a></td></tr>{{/leads}}"
		"{{^leads}}<p>没有线索</p>{{/leads}}"
		"<select name=\"d\">{{#opts}}<option value=\"{{code}}\"{{#sel}} selected{{/sel}}>{{name}}</option>{{/opts}}</select>"
		"{{#error}}<p class=\"error\">{{error}}</p>{{/error}}";
	struct html_vars *v, *row;
	char *s;

	assert_int_equal(html_vars_new(1 << 16, &v), TL_OK);
	assert_int_equal(html_vars_set(v, "title", "线索 <列表>"), TL_OK);
	assert_int_equal(html_vars_set(v, "district", "和平"), TL_OK);
	assert_int_equal(html_vars_add_row(v, "leads", &row), TL_OK);
	assert_int_equal(html_vars_set(row, "id", "a1"), TL_OK);
	assert_int_equal(html_vars_set(row, "title", "钢厂 & 炉"), TL_OK); /* shadows the outer title */
	assert_int_equal(html_vars_add_row(v, "leads", &row), TL_OK);
	assert_int_equal(html_vars_set(row, "id", "b/2"), TL_OK);
	assert_int_equal(html_vars_set(row, "title", "<script>"), TL_OK);
	assert_int_equal(html_vars_set(row, "district", "河东"), TL_OK);
	assert_int_equal(html_vars_add_row(v, "opts", &row), TL_OK);
	assert_int_equal(html_vars_set(row, "code", "120101"), TL_OK);
	assert_int_equal(html_vars_set(row, "name", "和平"), TL_OK);
	assert_int_equal(html_vars_set_bool(row, "sel", false), TL_OK);
	assert_int_equal(html_vars_add_row(v, "opts", &row), TL_OK);
	assert_int_equal(html_vars_set(row, "code", "120102"), TL_OK);
	assert_int_equal(html_vars_set(row, "name", "河东"), TL_OK);
	assert_int_equal(html_vars_set_bool(row, "sel", true), TL_OK);
	s = render(tmpl, v);
	assert_string_equal(s,
		"<h1>线索 &lt;列表&gt;</h1>"
		"<tr><td>a1</td><td>和平</td><td><a href=\"/leads/a1\">钢厂 &amp; 炉</a></td></tr>"
		"<tr><td>b/2</td><td>河东</td><td><a href=\"/leads/b%2F2\">&lt;script&gt;</a></td></tr>"
		"<select name=\"d\"><option value=\"120101\">和平</option>"
		"<option value=\"120102\" selected>河东</option></select>");
	free(s);
	html_vars_free(v);

	/* Empty list and a set error message. */
	assert_int_equal(html_vars_new(1 << 16, &v), TL_OK);
	assert_int_equal(html_vars_set(v, "title", "t"), TL_OK);
	assert_int_equal(html_vars_list(v, "leads"), TL_OK);
	assert_int_equal(html_vars_set(v, "error", "密码错误\"><b>"), TL_OK);
	s = render(tmpl, v);
	assert_string_equal(s, "<h1>t</h1><p>没有线索</p><select name=\"d\"></select>"
	                       "<p class=\"error\">密码错误&quot;&gt;&lt;b&gt;</p>");
	free(s);
	html_vars_free(v);
}

static void
test_vars_rules(void **state)
{
	struct html_vars *v, *row;
	struct html_tmpl *t;
	struct buf out;
	char big[300];

	assert_int_equal(html_vars_new(256, &v), TL_OK);
	assert_int_equal(html_vars_set(v, "a", "1"), TL_OK);
	assert_int_equal(html_vars_set(v, "a", "2"), TL_EEXIST);
	assert_int_equal(html_vars_set(v, "bad name", "1"), TL_EINVAL);
	assert_int_equal(html_vars_set(v, "", "1"), TL_EINVAL);
	assert_int_equal(html_vars_add_row(v, "a", &row), TL_EEXIST); /* a is a value */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(html_vars_set(v, "big", big), TL_ETOOBIG);  /* over max_bytes */
	assert_int_equal(html_vars_setf(v, "n", "%d fen", 500), TL_OK);

	/* Strict variables: a missing one is an error, not an empty string. */
	assert_int_equal(html_tmpl_compile("{{missing}}", 11, &t, NULL, 0), TL_OK);
	buf_init(&out, 1024);
	assert_int_equal(html_render(t, v, &out), TL_EINVAL);
	buf_free(&out);
	html_tmpl_free(t);
	/* Lenient sections: missing is empty. */
	assert_int_equal(html_tmpl_compile("{{#nope}}x{{/nope}}{{^nope}}y{{/nope}}{{n}}",
	                                   strlen("{{#nope}}x{{/nope}}{{^nope}}y{{/nope}}{{n}}"), &t, NULL, 0), TL_OK);
	buf_init(&out, 1024);
	assert_int_equal(html_render(t, v, &out), TL_OK);
	assert_string_equal(buf_str(&out), "y500 fen");
	buf_free(&out);
	/* Output bound. */
	buf_init(&out, 3);
	assert_int_equal(html_render(t, v, &out), TL_ETOOBIG);
	buf_free(&out);
	html_tmpl_free(t);
	html_vars_free(v);

	/* Explicit trusted fragments only through html_append_raw. */
	buf_init(&out, 1024);
	assert_int_equal(html_append_raw(&out, "<nav>菜单</nav>"), TL_OK);
	assert_string_equal(buf_str(&out), "<nav>菜单</nav>");
	buf_free(&out);
}

static void
test_url_component(void **state)
{
	struct buf out;

	buf_init(&out, 256);
	assert_int_equal(html_url_component(&out, "aZ09-._~ /?#&=%\0", 16), TL_OK);
	assert_string_equal(buf_str(&out), "aZ09-._~%20%2F%3F%23%26%3D%25");
	buf_free(&out);
	assert_true(html_url_allowed("/x", 2));
	assert_false(html_url_allowed("//x", 3));
	assert_false(html_url_allowed("javascript:x", 12));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_text),
		cmocka_unit_test(test_escape_attribute),
		cmocka_unit_test(test_url_contexts),
		cmocka_unit_test(test_invalid_utf8_and_controls),
		cmocka_unit_test(test_escape_random),
		cmocka_unit_test(test_compile_refusals),
		cmocka_unit_test(test_sections),
		cmocka_unit_test(test_vars_rules),
		cmocka_unit_test(test_url_component),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
