/*
 * status_test.c - what a reporter reads about a receipt: yuan strings from
 * fen (integer arithmetic, grouping), Beijing dates, days left, and the
 * Chinese sentence for every status value and refusal reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "compat.h"
#include "status.h"

static void
yuan(int64_t fen, bool grouped, const char *want)
{
	char out[STATUS_YUAN_MAX];

	status_yuan(fen, grouped, out);
	assert_string_equal(out, want);
}

static void
test_yuan(void **state)
{
	(void)state;
	yuan(0, true, "0.00");
	yuan(5, true, "0.05");
	yuan(100, true, "1.00");
	yuan(99999, true, "999.99");
	yuan(100000, true, "1,000.00");
	yuan(12345678, true, "123,456.78");
	yuan(12345678, false, "123456.78");
	yuan(1234567, false, "12345.67");
	yuan(50000000, true, "500,000.00");
	yuan(-150, true, "-1.50");
	yuan(INT64_MAX, true, "92,233,720,368,547,758.07");
	yuan(INT64_MIN, true, "-92,233,720,368,547,758.08");
}

static void
test_date(void **state)
{
	char out[STATUS_DATE_MAX];

	(void)state;
	/* 2026-02-28T16:00:00Z is midnight in Beijing. */
	status_date_zh(1772294400000LL, out);
	assert_string_equal(out, "2026年3月1日");
	status_date_zh(1772294400000LL - 1, out);
	assert_string_equal(out, "2026年2月28日");
	status_date_zh(-1, out);
	assert_string_equal(out, "—");
}

static void
test_days_left(void **state)
{
	const int64_t day = 86400000LL, now = 1772294400000LL;

	(void)state;
	assert_int_equal(status_days_left(now, now), 0);
	assert_int_equal(status_days_left(now - 1, now), 0);
	assert_int_equal(status_days_left(now + 1, now), 1);
	assert_int_equal(status_days_left(now + day, now), 1);
	assert_int_equal(status_days_left(now + day + 1, now), 2);
	assert_int_equal(status_days_left(now + 5 * day + 3600000, now), 6);
}

static void
msg(const char *status, int64_t amount, int64_t claim_by, const char *reason, int64_t now,
    const char *const *want, const char *const *not_want)
{
	struct wire_status st;
	struct buf b;

	memset(&st, 0, sizeof(st));
	snprintf(st.status, sizeof(st.status), "%s", status);
	st.amount_fen = amount;
	st.claim_by_ms = claim_by;
	snprintf(st.reason, sizeof(st.reason), "%s", reason);
	buf_init(&b, 4096);
	assert_int_equal(status_message_zh(&st, now, &b), TL_OK);
	for (; want && *want; want++)
		if (!strstr(buf_str(&b), *want))
			fail_msg("%s: \"%s\" lacks \"%s\"", status, buf_str(&b), *want);
	for (; not_want && *not_want; not_want++)
		if (strstr(buf_str(&b), *not_want))
			fail_msg("%s: \"%s\" has \"%s\"", status, buf_str(&b), *not_want);
	buf_free(&b);
}

#define L(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void
test_messages(void **state)
{
	const int64_t day = 86400000LL, now = 1772294400000LL;

	(void)state;
	msg("received", 0, 0, "", now, L("已受理"), L("元"));
	msg("investigating", 0, 0, "", now, L("调查核实中"), L("元"));
	msg("verified", 0, 0, "", now, L("举报属实", "已核实"), L("金额"));
	msg("unfounded", 0, 0, "", now, L("经核查不属实"), L("金额"));
	msg("award_approved", 12345678, now + 30 * day, "", now,
	    L("奖励已批准", "金额 123,456.78 元", "请在 2026年3月31日前领取"), L("距截止"));
	msg("award_approved", 12345678, now + 13 * day, "", now, L("距截止还有 13 天"), NULL);
	msg("award_approved", 12345678, now + 14 * day, "", now, NULL, L("距截止"));
	msg("award_approved", 12345678, now + 1000, "", now, L("距截止已不足 1 天"), NULL);
	msg("award_approved", 12345678, now - 1, "", now, L("领取期限已过"), L("请在"));
	msg("claim_received", 12345678, 0, "", now, L("领奖申请已收到", "123,456.78 元"), NULL);
	msg("claim_refused", 100, now + 3 * day, "excluded", now,
	    L("领奖申请未通过", "根据规定不能领取", "距截止还有 3 天"), NULL);
	msg("claim_refused", 100, now + 3 * day, "invalid_id", now, L("身份证号码有误"), NULL);
	msg("claim_refused", 100, now + 3 * day, "invalid_payee", now, L("收款信息有误"), NULL);
	msg("claim_refused", 100, now + 3 * day, "bank_rejected", now,
	    L("银行退回，请核对账户后重新提交"), NULL);
	msg("paid", 12345678, 0, "", now, L("已发放", "123,456.78 元"), NULL);
	msg("forfeited", 12345678, 0, "", now, L("逾期未领取", "已作废"), NULL);
	msg("something_new", 0, 0, "", now, L("暂时无法显示"), NULL);
}

static void
test_labels_and_open(void **state)
{
	struct wire_status st;
	const int64_t now = 1772294400000LL;

	(void)state;
	assert_string_equal(status_label_zh("investigating"), "调查核实中");
	assert_string_equal(status_label_zh("nope"), "");
	assert_string_equal(status_reason_zh("invalid_id"), "身份证号码有误");
	assert_string_equal(status_reason_zh("nope"), "");
	memset(&st, 0, sizeof(st));
	snprintf(st.status, sizeof(st.status), "award_approved");
	st.amount_fen = 1;
	st.claim_by_ms = now;
	assert_true(status_claim_open(&st, now));
	assert_false(status_claim_open(&st, now + 1));
	snprintf(st.status, sizeof(st.status), "claim_refused");
	assert_true(status_claim_open(&st, now - 1));
	snprintf(st.status, sizeof(st.status), "claim_received");
	assert_false(status_claim_open(&st, now - 1));
	assert_false(status_receipt_parse("1234", (char[RECEIPT_DIGITS + 1]){ 0 }));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_yuan),
		cmocka_unit_test(test_date),
		cmocka_unit_test(test_days_left),
		cmocka_unit_test(test_messages),
		cmocka_unit_test(test_labels_and_open),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
