#include "compat.h"

#include <setjmp.h>
#include <cmocka.h>

#include "norm.h"

static void
expect(const char *in, unsigned flags, const char *want)
{
	struct norm_text t;

	assert_int_equal(norm_run(in, strlen(in), flags, &t), TL_OK);
	assert_string_equal(t.s, want);
	assert_int_equal(t.len, strlen(want));
	norm_free(&t);
}

static void
test_folding(void **state)
{
	(void)state;
	expect("１３８－００１３－８０００", 0, "138-0013-8000");
	expect("＋８６　１３８", 0, "+86 138");
	expect("ｚｈａｎｇ＠１６３．ｃｏｍ", 0, "zhang@163.com");
	/* Chinese punctuation stays as operators expect it */
	expect("姓名：张三，电话（022）！", 0, "姓名：张三，电话（022）！");
	expect("1\xe2\x80\x8b" "2\xef\xbb\xbf" "3\xc2\xad" "4\xe2\x81\xa0", 0, "1234");
	expect("a\xe2\x80\x94" "b\xe2\x88\x92" "c", 0, "a-b-c");
	expect("", 0, "");
}

static void
test_spoken(void **state)
{
	(void)state;
	expect("电话幺三八零零幺三八零零零", NORM_SPOKEN_DIGITS, "电话13800138000");
	expect("幺三八，零零幺三，八零零零", NORM_SPOKEN_DIGITS, "138 0013 8000");
	expect("①③⑧⓪⓪", NORM_SPOKEN_DIGITS, "13800");
	expect("138幺幺", NORM_SPOKEN_DIGITS, "13811");
	/* ordinary text keeps its numerals */
	expect("一二三四", NORM_SPOKEN_DIGITS, "一二三四");
	expect("两台中频炉，三四十吨", NORM_SPOKEN_DIGITS, "两台中频炉，三四十吨");
	expect("二〇一八年", NORM_SPOKEN_DIGITS, "二〇一八年");
	expect("一、二、三、四、五", NORM_SPOKEN_DIGITS, "一、二、三、四、五");
	expect("幺三八零零", 0, "幺三八零零");
}

static void
test_invalid(void **state)
{
	struct norm_text t;
	static const char in[] = "a\xff" "b\x00" "c\xed\xa0\x80";

	(void)state;
	assert_int_equal(norm_run(in, sizeof(in) - 1, 0, &t), TL_OK);
	assert_string_equal(t.s, "a\xef\xbf\xbd" "b\xef\xbf\xbd" "c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	norm_free(&t);
	assert_int_equal(norm_run(NULL, 1, 0, &t), TL_EINVAL);
}

static void
test_offset_map(void **state)
{
	/* "电话" (6) "１３８" (9) ZW (3) "０" (3) "x" */
	const char *in = "电话１３８\xe2\x80\x8b０x";
	struct norm_text t;
	size_t k = 0;

	(void)state;
	assert_int_equal(norm_run(in, strlen(in), 0, &t), TL_OK);
	assert_string_equal(t.s, "电话1380x");
	assert_int_equal(norm_to_orig(&t, 0), 0);
	assert_int_equal(norm_to_orig(&t, 6), 6);   /* '1' */
	assert_int_equal(norm_to_orig(&t, 7), 9);   /* '3' */
	assert_int_equal(norm_to_orig(&t, 9), 18);  /* '0' after the zero-width char */
	assert_int_equal(norm_to_orig(&t, 10), 21); /* 'x' */
	assert_int_equal(norm_to_orig(&t, 11), 22); /* end */
	for (size_t n = 0; n <= t.len; n++)
		assert_int_equal(norm_to_orig_seq(&t, &k, n), norm_to_orig(&t, n));
	norm_free(&t);
}

static void
test_digit_values(void **state)
{
	(void)state;
	assert_int_equal(norm_digit_value(0x5E7A), 1); /* 幺 */
	assert_int_equal(norm_digit_value(0x62D0), 7); /* 拐 */
	assert_int_equal(norm_digit_value(0x6D1E), 0); /* 洞 */
	assert_int_equal(norm_digit_value(0x2468), 9); /* ⑨ */
	assert_int_equal(norm_digit_value('a'), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_folding),
		cmocka_unit_test(test_spoken),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_offset_map),
		cmocka_unit_test(test_digit_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
