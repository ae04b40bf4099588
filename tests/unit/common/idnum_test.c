/*
 * idnum_test.c - the GB 11643 ID number check shared by intake and the
 * vault: the standard's own example passes, every single-character typo
 * fails, dates must exist, and idnum_check_ok (what redaction uses) looks
 * at the check character only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "compat.h"
#include "idnum.h"

/* The example of GB 11643-1999 itself: its check character is X. */
#define STD_ID "11010519491231002X"

/* The check character by the standard's formula, written out apart from
 * the library's table: weights 2^(17-i) mod 11, check (12 - sum) mod 11. */
static char
oracle(const char *d)
{
	int sum = 0, w = 1, c;

	for (int i = 16; i >= 0; i--) {
		w = (w * 2) % 11;
		sum += (d[i] - '0') * w;
	}
	c = (12 - sum % 11) % 11;
	return c == 10 ? 'X' : (char)('0' + c);
}

/* An 18-character ID from 17 digits, with the right check character. */
static void
make(char out[IDNUM_LEN + 1], const char *d17)
{
	memcpy(out, d17, 17);
	out[17] = oracle(d17);
	out[18] = '\0';
}

static bool
valid(const char *s)
{
	return idnum_valid(s, strlen(s));
}

static void
test_check_char(void **state)
{
	char id[IDNUM_LEN + 1];
	bool seen[11] = { false };
	uint32_t x = 12345;

	(void)state;
	assert_int_equal(idnum_check_char(STD_ID), 'X');
	assert_int_equal(idnum_check_char("12011819800101123"), '1');
	assert_int_equal(idnum_check_char("1201181980010112a"), '\0');
	/* Pseudo-random digit strings: the library agrees with the formula,
	 * and every one of the 11 check characters comes up. */
	for (int n = 0; n < 2000; n++) {
		char d[18];
		for (int i = 0; i < 17; i++) {
			x = x * 1103515245u + 12345u;
			d[i] = (char)('0' + (x >> 16) % 10);
		}
		d[17] = '\0';
		make(id, d);
		assert_int_equal(idnum_check_char(d), id[17]);
		assert_true(idnum_check_ok(id));
		seen[id[17] == 'X' ? 10 : id[17] - '0'] = true;
	}
	for (int i = 0; i < 11; i++)
		assert_true(seen[i]);
}

static void
test_standard_example(void **state)
{
	(void)state;
	assert_true(valid(STD_ID));
	assert_true(valid("11010519491231002x")); /* lower-case x */
	assert_true(valid("120118198001011231"));
	assert_false(valid("120118198001011232")); /* check digit */
	assert_false(valid("110105194912310021"));  /* X written as 1 */
}

static void
test_every_typo_fails(void **state)
{
	/* One wrong character anywhere: the check catches all of them. */
	(void)state;
	for (int i = 0; i < IDNUM_LEN; i++) {
		for (const char *c = "0123456789X"; *c; c++) {
			char id[IDNUM_LEN + 1] = STD_ID;
			if (id[i] == *c)
				continue;
			id[i] = *c;
			assert_false(valid(id));
			assert_false(idnum_check_ok(id));
		}
	}
	{
		/* Two neighbours swapped. */
		char id[IDNUM_LEN + 1] = "120118198001011231";
		char t = id[14];
		id[14] = id[15];
		id[15] = t;
		assert_false(valid(id));
	}
}

static void
test_shape(void **state)
{
	(void)state;
	assert_false(idnum_valid(STD_ID, 17));
	assert_false(valid("11010519491231002"));
	assert_false(valid("11010519491231002XX"));
	assert_false(valid(""));
	assert_false(idnum_valid(NULL, 18));
	assert_false(valid("1101051949123100 X"));
	assert_false(valid("11010519491231002Y"));
	assert_false(valid("1101051949123X0021"));   /* X only at the end */
	{
		/* A NUL inside, with the right length claimed. */
		char id[IDNUM_LEN + 1] = STD_ID;
		id[17] = '\0';
		assert_false(idnum_valid(id, IDNUM_LEN));
	}
}

static void
test_region(void **state)
{
	char id[IDNUM_LEN + 1];

	(void)state;
	for (char r = '0'; r <= '9'; r++) {
		char d[18] = "01010519491231002";
		d[0] = r;
		make(id, d);
		assert_true(idnum_check_ok(id));
		assert_int_equal(valid(id), r >= '1' && r <= '8');
	}
}

static void
test_dates(void **state)
{
	static const struct {
		const char *yyyymmdd;
		bool ok;
	} dates[] = {
		{ "19000101", true },  { "18991231", false }, { "20991231", true },  { "21000101", false },
		{ "19800229", true },  { "19810229", false }, { "20000229", true },  { "19000229", false },
		{ "19810228", true },  { "19810430", true },  { "19810431", false }, { "19811231", true },
		{ "19811232", false }, { "19810001", false }, { "19811301", false }, { "19810100", false },
		{ "20240229", true },  { "20230229", false },
	};
	char d[18], id[IDNUM_LEN + 1];

	(void)state;
	for (size_t i = 0; i < TL_ARRAY_LEN(dates); i++) {
		memcpy(d, "120111", 6);
		memcpy(d + 6, dates[i].yyyymmdd, 8);
		memcpy(d + 14, "771", 3);
		d[17] = '\0';
		make(id, d);
		/* The check is right either way: only the date decides. */
		assert_true(idnum_check_ok(id));
		if (valid(id) != dates[i].ok)
			fail_msg("date %s: valid=%d, want %d", dates[i].yyyymmdd, !dates[i].ok, dates[i].ok);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_char),   cmocka_unit_test(test_standard_example),
		cmocka_unit_test(test_every_typo_fails), cmocka_unit_test(test_shape),
		cmocka_unit_test(test_region),       cmocka_unit_test(test_dates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
