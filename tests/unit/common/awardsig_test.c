/*
 * awardsig_test.c - the canonical award text: format and parse agree,
 * parse refuses every text format could not have written, and the
 * approval rule is re-derived from the amount.
 */
#include "compat.h"
#include "awardsig.h"

#include <setjmp.h>
#include <cmocka.h>


static void
sample(struct awardsig *a, size_t n_shares, int64_t total)
{
	memset(a, 0, sizeof(*a));
	a->decision = AWARDSIG_APPROVE;
	snprintf(a->award_id, sizeof(a->award_id), "0123456789abcdef0123456789abcdef");
	a->version = 1;
	snprintf(a->case_id, sizeof(a->case_id), "fedcba9876543210fedcba9876543210");
	snprintf(a->district, sizeof(a->district), "120118");
	a->budget_year = 2026;
	a->computed_fen = total;
	a->total_fen = total;
	snprintf(a->payee_ref, sizeof(a->payee_ref), "claims");
	snprintf(a->proposer, sizeof(a->proposer), "p.zhao");
	a->required_approvals = total > 10000000 ? 2 : 1;
	a->need_city = total > 10000000;
	a->n_shares = n_shares;
	for (size_t i = 0; i < n_shares; i++) {
		snprintf(a->shares[i].report_id, sizeof(a->shares[i].report_id), "%032zx", i + 1);
		a->shares[i].fen = total / (int64_t)n_shares + ((int64_t)i < total % (int64_t)n_shares);
		a->shares[i].kind = i == 0 ? AWARDSIG_FIRST : AWARDSIG_SIMULTANEOUS;
	}
}

static char text[AWARDSIG_TEXT_MAX + 1];
static size_t text_len;

static void
format_sample(size_t n, int64_t total)
{
	struct awardsig a;
	char why[200];

	sample(&a, n, total);
	assert_int_equal(awardsig_format(&a, text, sizeof(text), &text_len, why, sizeof(why)), TL_OK);
}

static void
test_format_exact_bytes(void **state)
{
	const char *want = "tipline award decision v1\n"
	                   "decision=approve\n"
	                   "award_id=0123456789abcdef0123456789abcdef\n"
	                   "version=1\n"
	                   "case_id=fedcba9876543210fedcba9876543210\n"
	                   "district=120118\n"
	                   "budget_year=2026\n"
	                   "computed_fen=500001\n"
	                   "total_fen=500001\n"
	                   "payee_ref=claims\n"
	                   "proposer=p.zhao\n"
	                   "required_approvals=1\n"
	                   "need_city=0\n"
	                   "shares=2\n"
	                   "share=0,00000000000000000000000000000001,250001,first\n"
	                   "share=1,00000000000000000000000000000002,250000,simultaneous\n";

	(void)state;
	format_sample(2, 500001);
	assert_int_equal(text_len, strlen(want));
	assert_string_equal(text, want);
}

static void
test_roundtrip(void **state)
{
	struct awardsig a, b;
	char why[200];

	(void)state;
	for (size_t n = 1; n <= AWARDSIG_MAX_SHARES; n += 7) {
		sample(&a, n, AWARDSIG_CAP_FEN);
		a.shares[n - 1].kind = AWARDSIG_DISCRETIONARY;
		a.decision = n % 2 ? AWARDSIG_APPROVE : AWARDSIG_REJECT;
		a.computed_fen = 0;
		assert_int_equal(awardsig_format(&a, text, sizeof(text), &text_len, why, sizeof(why)), TL_OK);
		assert_int_equal(awardsig_parse(text, text_len, &b, why, sizeof(why)), TL_OK);
		assert_memory_equal(&a, &b, sizeof(a));
	}
}

/* Replaces the first occurrence of from by to in the formatted sample and
 * asserts that the result is refused. */
static void
refuse_edit(const char *from, const char *to)
{
	char buf[AWARDSIG_TEXT_MAX * 2];
	struct awardsig out;
	char why[200] = "";
	char *p = strstr(text, from);
	size_t pre;

	assert_non_null(p);
	pre = (size_t)(p - text);
	assert_true(pre + strlen(to) + (text_len - pre - strlen(from)) < sizeof(buf));
	memcpy(buf, text, pre);
	memcpy(buf + pre, to, strlen(to));
	memcpy(buf + pre + strlen(to), p + strlen(from), text_len - pre - strlen(from));
	buf[text_len - strlen(from) + strlen(to)] = '\0';
	if (awardsig_parse(buf, strlen(buf), &out, why, sizeof(why)) == TL_OK)
		fail_msg("accepted an edit of \"%s\" to \"%s\"", from, to);
	assert_true(why[0] != '\0');
	/* Nothing half-parsed is left behind. */
	assert_int_equal(out.n_shares, 0);
	assert_int_equal(out.total_fen, 0);
}

static void
test_refuses_malformed(void **state)
{
	(void)state;
	format_sample(3, 900000); /* shares 300000 x 3 */
	/* missing lines */
	refuse_edit("tipline award decision v1\n", "");
	refuse_edit("version=1\n", "");
	refuse_edit("need_city=0\n", "");
	refuse_edit("share=2,00000000000000000000000000000003,300000,simultaneous\n", "");
	/* extra lines */
	refuse_edit("version=1\n", "version=1\nnote=hello\n");
	refuse_edit("shares=3\n", "shares=3\n\n");
	refuse_edit("decision=approve\n", "decision=approve\ndecision=approve\n"); /* duplicate */
	refuse_edit("version=1\n", "version=1\nversion=1\n");
	refuse_edit("total_fen=900000\n", "total_fen=900000\ntotal_fen=900000\n");
	/* reordered */
	refuse_edit("version=1\ncase_id=fedcba9876543210fedcba9876543210\n",
	            "case_id=fedcba9876543210fedcba9876543210\nversion=1\n");
	refuse_edit("share=0,00000000000000000000000000000001,300000,first\n"
	            "share=1,00000000000000000000000000000002,300000,simultaneous\n",
	            "share=1,00000000000000000000000000000002,300000,simultaneous\n"
	            "share=0,00000000000000000000000000000001,300000,first\n");
	/* share indices and counts */
	refuse_edit("share=1,", "share=5,");
	refuse_edit("share=0,", "share=00,");
	refuse_edit("shares=3\n", "shares=4\n");
	refuse_edit("shares=3\n", "shares=65\n");
	refuse_edit("shares=3\n", "shares=0\n");
	/* bad hex and charsets */
	refuse_edit("award_id=0123456789abcdef", "award_id=0123456789ABCDEF");
	refuse_edit("award_id=0123456789abcdef", "award_id=0123456789abcdeg");
	refuse_edit("case_id=fedcba", "case_id=fedcb");
	refuse_edit("share=0,0000", "share=0,000g");
	refuse_edit("payee_ref=claims", "payee_ref=cl aims");
	refuse_edit("proposer=p.zhao", "proposer=p.zhao\xe8\xb5\xb5");
	refuse_edit("proposer=p.zhao", "proposer=");
	refuse_edit("district=120118", "district=12011");
	refuse_edit("simultaneous\n", "other\n");
	refuse_edit("decision=approve", "decision=Approve");
	/* numbers: sign, leading zero, range */
	refuse_edit("version=1\n", "version=01\n");
	refuse_edit("version=1\n", "version=0\n");
	refuse_edit("version=1\n", "version=+1\n");
	refuse_edit("budget_year=2026", "budget_year=1999");
	refuse_edit("computed_fen=900000", "computed_fen=-1");
	refuse_edit("required_approvals=1", "required_approvals=3");
	refuse_edit("need_city=0", "need_city=2");
	/* amounts: above the cap, shares not summing */
	refuse_edit("total_fen=900000", "total_fen=50000001");
	refuse_edit("computed_fen=900000", "computed_fen=50000001");
	refuse_edit("total_fen=900000", "total_fen=900001");
	refuse_edit("first\n", "first\nshare=3,00000000000000000000000000000009,1,discretionary\n");
	refuse_edit("share=2,00000000000000000000000000000003,300000",
	            "share=2,00000000000000000000000000000003,300001");
	refuse_edit(",300000,first", ",0,first");
	/* a report with two shares */
	refuse_edit("share=1,00000000000000000000000000000002", "share=1,00000000000000000000000000000001");
	/* line endings and stray bytes */
	refuse_edit("version=1\n", "version=1\r\n");
	refuse_edit("version=1\n", "version=1 \n");
	refuse_edit("simultaneous\n", "simultaneous");
	refuse_edit("need_city=0\n", "need_city=0\tx\n");
}

static void
test_refuses_bounds(void **state)
{
	struct awardsig a;
	char why[200];

	(void)state;
	assert_int_equal(awardsig_parse("", 0, &a, why, sizeof(why)), TL_EPROTO);
	format_sample(1, 100);
	/* an embedded NUL */
	text[5] = '\0';
	assert_int_equal(awardsig_parse(text, text_len, &a, why, sizeof(why)), TL_EPROTO);
	/* format refuses what parse would refuse */
	sample(&a, 2, 1000);
	a.shares[1].fen = 1;
	assert_int_not_equal(awardsig_format(&a, text, sizeof(text), &text_len, why, sizeof(why)), TL_OK);
	sample(&a, 1, AWARDSIG_CAP_FEN + 1);
	assert_int_equal(awardsig_format(&a, text, sizeof(text), &text_len, why, sizeof(why)), TL_ETOOBIG);
	sample(&a, 1, 1000);
	snprintf(a.payee_ref, sizeof(a.payee_ref), "a\nb");
	assert_int_equal(awardsig_format(&a, text, sizeof(text), &text_len, why, sizeof(why)), TL_EINVAL);
	/* too small an output buffer is an error, not a cut */
	sample(&a, 1, 1000);
	assert_int_equal(awardsig_format(&a, text, 40, &text_len, why, sizeof(why)), TL_ETOOBIG);
}

static void
test_rules(void **state)
{
	struct awardsig a;
	char why[200];
	const int64_t thr = 10000000;
	struct awardsig_approver d1 = { "d.liu", AWARDSIG_DISTRICT }, d2 = { "d.sun", AWARDSIG_DISTRICT },
	                         c1 = { "c.wang", AWARDSIG_CITY }, self = { "p.zhao", AWARDSIG_CITY };
	struct awardsig_approver two[2];

	(void)state;
	/* up to the threshold: one approver of any level */
	sample(&a, 1, thr);
	assert_int_equal(awardsig_rules_check(&a, thr, &d1, 1, why, sizeof(why)), TL_OK);
	/* never the proposer */
	assert_int_equal(awardsig_rules_check(&a, thr, &self, 1, why, sizeof(why)), TL_EDENIED);
	assert_non_null(strstr(why, "proposer"));
	/* a reject decision authorises nothing */
	a.decision = AWARDSIG_REJECT;
	assert_int_equal(awardsig_rules_check(&a, thr, &d1, 1, why, sizeof(why)), TL_EDENIED);
	/* above it: two distinct, one city-level */
	sample(&a, 2, thr + 1);
	assert_int_equal(awardsig_rules_check(&a, thr, &c1, 1, why, sizeof(why)), TL_EDENIED);
	two[0] = d1;
	two[1] = d2;
	assert_int_equal(awardsig_rules_check(&a, thr, two, 2, why, sizeof(why)), TL_EDENIED);
	assert_non_null(strstr(why, "city"));
	two[1] = d1;
	assert_int_equal(awardsig_rules_check(&a, thr, two, 2, why, sizeof(why)), TL_EDENIED);
	two[1] = c1;
	assert_int_equal(awardsig_rules_check(&a, thr, two, 2, why, sizeof(why)), TL_OK);
	two[0] = self;
	assert_int_equal(awardsig_rules_check(&a, thr, two, 2, why, sizeof(why)), TL_EDENIED);
	/* the amount decides even if the text claims one approval is enough */
	sample(&a, 1, thr + 1);
	a.required_approvals = 1;
	a.need_city = false;
	assert_int_equal(awardsig_rules_check(&a, thr, &c1, 1, why, sizeof(why)), TL_EDENIED);
	/* and the text can make it stricter, never looser */
	sample(&a, 1, 100);
	a.required_approvals = 2;
	assert_int_equal(awardsig_rules_check(&a, thr, &d1, 1, why, sizeof(why)), TL_EDENIED);
	/* the cap */
	sample(&a, 1, 100);
	a.total_fen = a.shares[0].fen = AWARDSIG_CAP_FEN + 1;
	two[0] = d1;
	two[1] = c1;
	assert_int_equal(awardsig_rules_check(&a, thr, two, 2, why, sizeof(why)), TL_EDENIED);
	/* no approvers */
	sample(&a, 1, 100);
	assert_int_equal(awardsig_rules_check(&a, thr, NULL, 0, why, sizeof(why)), TL_EDENIED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_exact_bytes),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_refuses_malformed),
		cmocka_unit_test(test_refuses_bounds),
		cmocka_unit_test(test_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
