/* Unit tests for the small common modules: buf, utf8, num, hex, ids,
 * receipts, timefmt. */
#include "compat.h"

#include <setjmp.h>
#include <cmocka.h>

#include "buf.h"
#include "ids.h"
#include "num.h"
#include "secret.h"
#include "timefmt.h"
#include "utf8.h"

static void
test_buf_bounds(void **state)
{
	struct buf b;

	buf_init(&b, 8);
	assert_string_equal(buf_str(&b), "");
	assert_int_equal(buf_append_str(&b, "abcd"), TL_OK);
	assert_int_equal(buf_append_str(&b, "efgh"), TL_OK);
	/* One byte past the maximum fails and leaves the buffer as it was. */
	assert_int_equal(buf_append_char(&b, 'i'), TL_ETOOBIG);
	assert_int_equal(b.len, 8);
	assert_string_equal(buf_str(&b), "abcdefgh");
	buf_reset(&b);
	assert_int_equal(buf_printf(&b, "%d-%s", 42, "x"), TL_OK);
	assert_string_equal(buf_str(&b), "42-x");
	assert_int_equal(buf_printf(&b, "%s", "123456789"), TL_ETOOBIG);
	assert_string_equal(buf_str(&b), "42-x");
	buf_free(&b);
}

static void
test_buf_secret_large_printf(void **state)
{
	struct buf b;
	char big[600];
	size_t len;
	char *p;

	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_init_secret(&b, 4096);
	assert_int_equal(buf_printf(&b, "<%s>", big), TL_OK);
	assert_int_equal(b.len, 601);
	p = buf_detach(&b, &len);
	assert_int_equal(len, 601);
	assert_int_equal(p[0], '<');
	assert_int_equal(p[600], '>');
	assert_null(b.data);
	free(p);
}

static void
test_utf8(void **state)
{
	size_t n;

	assert_true(utf8_valid("abc", 3, &n));
	assert_int_equal(n, 3);
	assert_true(utf8_valid("地条钢", strlen("地条钢"), &n));
	assert_int_equal(n, 3);
	assert_false(utf8_valid("\xc0\xaf", 2, NULL));         /* overlong '/' */
	assert_false(utf8_valid("\xed\xa0\x80", 3, NULL));     /* surrogate */
	assert_false(utf8_valid("\xf4\x90\x80\x80", 4, NULL)); /* > U+10FFFF */
	assert_false(utf8_valid("ab\0cd", 5, NULL));           /* embedded NUL */
	assert_false(utf8_valid("abcdefgh\0", 9, NULL));       /* NUL after fast path */
	assert_false(utf8_valid("\xe5\x9c", 2, NULL));         /* truncated */
	{
		char out[4];
		assert_int_equal(utf8_encode(0x5730, out), 3);
		assert_memory_equal(out, "地", 3);
		assert_int_equal(utf8_encode(0xD800, out), 0);
	}
}

static void
test_num(void **state)
{
	uint64_t u;
	int64_t i;

	assert_int_equal(num_parse_u64("0", 1, 10, &u), TL_OK);
	assert_int_equal(u, 0);
	assert_int_equal(num_parse_u64("18446744073709551615", 20, UINT64_MAX, &u), TL_OK);
	assert_int_equal(num_parse_u64("18446744073709551616", 20, UINT64_MAX, &u), TL_ETOOBIG);
	assert_int_equal(num_parse_u64("11", 2, 10, &u), TL_ETOOBIG);
	assert_int_equal(num_parse_u64("", 0, 10, &u), TL_EINVAL);
	assert_int_equal(num_parse_u64("+1", 2, 10, &u), TL_EINVAL);
	assert_int_equal(num_parse_u64("1 ", 2, 10, &u), TL_EINVAL);
	assert_int_equal(num_parse_i64("-9223372036854775808", 20, INT64_MIN, INT64_MAX, &i), TL_OK);
	assert_true(i == INT64_MIN);
	assert_int_equal(num_parse_i64("-5", 2, 0, 10, &i), TL_ETOOBIG);
	assert_int_equal(num_parse_i64("-", 1, -10, 10, &i), TL_EINVAL);
}

static void
test_hex(void **state)
{
	unsigned char in[3] = { 0x00, 0xab, 0xff }, out[3];
	char h[7];

	hex_encode(in, 3, h);
	assert_string_equal(h, "00abff");
	assert_int_equal(hex_decode("00ABff", 6, out, 3), TL_OK);
	assert_memory_equal(in, out, 3);
	assert_int_equal(hex_decode("00abf", 5, out, 3), TL_EINVAL);
	assert_int_equal(hex_decode("00abfg", 6, out, 3), TL_EINVAL);
}

static void
test_ids_and_receipts(void **state)
{
	unsigned char key[32] = { 1 };
	char a[ID_HEX_LEN + 1], b[ID_HEX_LEN + 1], r1[RECEIPT_DIGITS + 1], r2[RECEIPT_DIGITS + 1];
	char shown[RECEIPT_SHOWN_LEN + 1], parsed[RECEIPT_DIGITS + 1];
	char k1[STATUS_KEY_LEN + 1], k2[STATUS_KEY_LEN + 1];

	id_new(a);
	id_new(b);
	assert_true(id_valid(a));
	assert_string_not_equal(a, b);
	assert_false(id_valid("ABCDEF0123456789abcdef0123456789"));
	assert_false(id_valid("abc"));
	id_derive(key, "report", "seed", 4, a);
	id_derive(key, "report", "seed", 4, b);
	assert_string_equal(a, b);
	id_derive(key, "lead", "seed", 4, b);
	assert_string_not_equal(a, b);

	receipt_new(r1);
	assert_int_equal(strlen(r1), 16);
	for (int i = 0; i < 16; i++)
		assert_true(r1[i] >= '0' && r1[i] <= '9');
	receipt_derive(key, "x", 1, r1);
	receipt_derive(key, "x", 1, r2);
	assert_string_equal(r1, r2);

	receipt_show("1234567890123456", shown);
	assert_string_equal(shown, "1234 5678 9012 3456");
	assert_int_equal(receipt_parse(shown, strlen(shown), parsed), TL_OK);
	assert_string_equal(parsed, "1234567890123456");
	assert_int_equal(receipt_parse("1234-5678-9012-3456", 19, parsed), TL_OK);
	assert_int_equal(receipt_parse("1234567890123456", 16, parsed), TL_OK);
	assert_int_equal(receipt_parse("123456789012345", 15, parsed), TL_EINVAL);
	assert_int_equal(receipt_parse("12345678901234567", 17, parsed), TL_EINVAL);
	assert_int_equal(receipt_parse("12 34567890123456", 17, parsed), TL_EINVAL);
	assert_int_equal(receipt_parse("1234  5678 9012 3456", 20, parsed), TL_EINVAL);
	assert_int_equal(receipt_parse("abcd567890123456", 16, parsed), TL_EINVAL);

	receipt_status_key(key, "1234567890123456", k1);
	assert_int_equal(strlen(k1), 64);
	key[0] = 2;
	receipt_status_key(key, "1234567890123456", k2);
	assert_string_not_equal(k1, k2);
}

static void
test_receipt_digits_uniform(void **state)
{
	/* Every digit must be possible in every position: 2000 receipts make a
	 * missing digit astronomically unlikely unless the mapping is biased. */
	unsigned seen[16][10] = { { 0 } };
	char r[RECEIPT_DIGITS + 1];

	for (int n = 0; n < 2000; n++) {
		receipt_new(r);
		for (int i = 0; i < 16; i++)
			seen[i][r[i] - '0']++;
	}
	for (int i = 0; i < 16; i++)
		for (int d = 0; d < 10; d++)
			assert_true(seen[i][d] > 100);
}

static void
test_time(void **state)
{
	char t[RFC3339_LEN + 1];
	int64_t ms;

	time_format_rfc3339(1795770721123LL, t);
	assert_string_equal(t, "2026-11-27T09:12:01.123Z");
	assert_int_equal(time_parse_rfc3339(t, &ms), TL_OK);
	assert_true(ms == 1795770721123LL);
	assert_int_equal(time_parse_rfc3339("2026-11-27T09:12:01Z", &ms), TL_OK);
	assert_true(ms == 1795770721000LL);
	assert_int_equal(time_parse_rfc3339("2026-11-27T09:12:01.5Z", &ms), TL_OK);
	assert_true(ms == 1795770721500LL);
	assert_int_equal(time_parse_rfc3339("2026-11-27T09:12:01+08:00", &ms), TL_EINVAL);
	assert_int_equal(time_parse_rfc3339("2026-13-27T08:32:01Z", &ms), TL_EINVAL);
	assert_int_equal(time_parse_rfc3339("2026-11-27 08:32:01Z", &ms), TL_EINVAL);
	assert_int_equal(time_parse_rfc3339("2026-11-27T09:12:01.Z", &ms), TL_EINVAL);
	assert_int_equal(time_parse_rfc3339("", &ms), TL_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_bounds),
		cmocka_unit_test(test_buf_secret_large_printf),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_num),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_ids_and_receipts),
		cmocka_unit_test(test_receipt_digits_uniform),
		cmocka_unit_test(test_time),
	};

	if (secret_init() != TL_OK)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
