/*
 * pseudonym_test.c - identifier normalisation and keyed reporter pseudonyms.
 */
#include "compat.h"
#include "pseudonym.h"

#include <setjmp.h>
#include <cmocka.h>
#include <sodium.h>

static unsigned char key[PSEUD_KEY_LEN];

static void
expect_norm(enum pseud_kind k, const char *in, const char *want)
{
	char out[PSEUD_NORM_MAX];
	enum tl_err e = pseud_normalise(k, in, out, sizeof(out));

	if (!want) {
		if (e == TL_OK)
			fail_msg("\"%s\" (%s) should be unusable, got \"%s\"", in, pseud_kind_name(k), out);
		return;
	}
	if (e != TL_OK)
		fail_msg("\"%s\" (%s) refused, want \"%s\"", in, pseud_kind_name(k), want);
	assert_string_equal(out, want);
}

static void
test_phone(void **state)
{
	expect_norm(PSEUD_PHONE, "13800138000", "13800138000");
	expect_norm(PSEUD_PHONE, "+86 138-0013-8000", "13800138000");
	expect_norm(PSEUD_PHONE, "+8613800138000", "13800138000");
	expect_norm(PSEUD_PHONE, "8613800138000", "13800138000");
	expect_norm(PSEUD_PHONE, "008613800138000", "13800138000");
	expect_norm(PSEUD_PHONE, " 138 0013 8000 ", "13800138000");
	expect_norm(PSEUD_PHONE, "(138)0013.8000", "13800138000");
	/* full-width digits and plus from a Chinese IME, ideographic space */
	expect_norm(PSEUD_PHONE, "＋８６\xe3\x80\x80１３８００１３８０００", "13800138000");
	/* zero-width space and an en dash */
	expect_norm(PSEUD_PHONE, "138\xe2\x80\x8b" "0013\xe2\x80\x93" "8000", "13800138000");
	/* Tianjin landline, domestic and international forms agree */
	expect_norm(PSEUD_PHONE, "022-2345 6789", "02223456789");
	expect_norm(PSEUD_PHONE, "+86 22 2345 6789", "02223456789");
	/* other countries keep their code */
	expect_norm(PSEUD_PHONE, "+1 415 555 0100", "+14155550100");
	expect_norm(PSEUD_PHONE, "0014155550100", "+14155550100");
	/* unusable */
	expect_norm(PSEUD_PHONE, "call me", NULL);
	expect_norm(PSEUD_PHONE, "138abc", NULL);
	expect_norm(PSEUD_PHONE, "123", NULL);
	expect_norm(PSEUD_PHONE, "", NULL);
	expect_norm(PSEUD_PHONE, "   ", NULL);
	expect_norm(PSEUD_PHONE, "1380013800012345678", NULL);
	expect_norm(PSEUD_PHONE, "\xff\xfe", NULL);
}

static void
test_email_wechat_id(void **state)
{
	expect_norm(PSEUD_EMAIL, "  Zhang.San@Example.COM ", "zhang.san@example.com");
	expect_norm(PSEUD_EMAIL, "ｚｓ＠ｅｘａｍｐｌｅ．ｃｎ", "zs@example.cn");
	expect_norm(PSEUD_EMAIL, "no-at-sign", NULL);
	expect_norm(PSEUD_EMAIL, "@example.com", NULL);
	expect_norm(PSEUD_EMAIL, "a@b@c", NULL);
	expect_norm(PSEUD_EMAIL, "a b@c.d", NULL);

	expect_norm(PSEUD_WECHAT, " WXid_Abc123 ", "wxid_abc123");
	expect_norm(PSEUD_WECHAT, "two words", NULL);

	expect_norm(PSEUD_ID_NUMBER, "12010119800101123x", "12010119800101123X");
	expect_norm(PSEUD_ID_NUMBER, "120101 19800101 1234", "120101198001011234");
	expect_norm(PSEUD_ID_NUMBER, "120101800101123", "120101800101123");
	expect_norm(PSEUD_ID_NUMBER, "12010119800101123", NULL);
	expect_norm(PSEUD_ID_NUMBER, "1201011980010112X3", NULL);
	expect_norm(PSEUD_ID_NUMBER, "ABCDEFGHIJKLMNOPQR", NULL);
}

static void
test_same_reporter_same_pseudonym(void **state)
{
	char a[PSEUD_HEX_LEN + 1], b[PSEUD_HEX_LEN + 1], c[PSEUD_HEX_LEN + 1];
	unsigned char other[PSEUD_KEY_LEN];

	assert_int_equal(pseud_compute(key, PSEUD_PHONE, "+86 138-0013-8000", a), TL_OK);
	assert_int_equal(pseud_compute(key, PSEUD_PHONE, "13800138000", b), TL_OK);
	assert_string_equal(a, b);
	assert_int_equal(strlen(a), PSEUD_HEX_LEN);
	/* different number, different pseudonym */
	assert_int_equal(pseud_compute(key, PSEUD_PHONE, "13800138001", c), TL_OK);
	assert_string_not_equal(a, c);
	/* the same text as another kind never collides */
	assert_int_equal(pseud_compute(key, PSEUD_WECHAT, "13800138000", c), TL_OK);
	assert_string_not_equal(a, c);
	/* another key, another pseudonym: the key is what protects it */
	memcpy(other, key, sizeof(other));
	other[0] ^= 1;
	assert_int_equal(pseud_compute(other, PSEUD_PHONE, "13800138000", c), TL_OK);
	assert_string_not_equal(a, c);
	/* an unusable value gets no pseudonym at all */
	assert_int_equal(pseud_compute(key, PSEUD_PHONE, "not a phone", c), TL_EINVAL);
}

static void
test_strongest_identifier(void **state)
{
	struct wire_contact ct = { 0 };
	struct pseud_set ps;
	char want[PSEUD_HEX_LEN + 1];

	pseud_from_contact(key, &ct, &ps);
	assert_int_equal(ps.strongest, -1);

	ct.wechat = (char *)"wxid_x";
	ct.email = (char *)"A@B.cn";
	pseud_from_contact(key, &ct, &ps);
	assert_int_equal(ps.strongest, PSEUD_EMAIL);
	assert_true(ps.has[PSEUD_WECHAT]);

	ct.phone = (char *)"+86 138 0013 8000";
	ct.id_number = (char *)"not an id"; /* unusable: skipped */
	pseud_from_contact(key, &ct, &ps);
	assert_int_equal(ps.strongest, PSEUD_PHONE);
	assert_false(ps.has[PSEUD_ID_NUMBER]);
	assert_int_equal(pseud_compute(key, PSEUD_PHONE, "13800138000", want), TL_OK);
	assert_string_equal(ps.hex[PSEUD_PHONE], want);

	ct.id_number = (char *)"12010119800101123x";
	pseud_from_contact(key, &ct, &ps);
	assert_int_equal(ps.strongest, PSEUD_ID_NUMBER);
	assert_int_equal(pseud_compute(key, PSEUD_ID_NUMBER, "12010119800101123X", want), TL_OK);
	assert_string_equal(ps.hex[PSEUD_ID_NUMBER], want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_phone),
		cmocka_unit_test(test_email_wechat_id),
		cmocka_unit_test(test_same_reporter_same_pseudonym),
		cmocka_unit_test(test_strongest_identifier),
	};

	if (sodium_init() < 0)
		return 1;
	randombytes_buf(key, sizeof(key));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
