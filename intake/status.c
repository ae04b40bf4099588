/*
 * status.c - see status.h.
 */
#include "compat.h"
#include "status.h"

#include <sodium.h>
#include <time.h>

/* Hashed for malformed receipts so that they cost what a real lookup
 * costs. */
#define DUMMY_RECEIPT "0000000000000000"
#define DAY_MS (24LL * 3600 * 1000)
#define BEIJING_OFFSET_MS (8LL * 3600 * 1000)

bool
status_receipt_parse(const char *input, char digits[RECEIPT_DIGITS + 1])
{
	size_t n = strlen(input);

	return n <= STATUS_RECEIPT_MAX_INPUT && receipt_parse(input, n, digits) == TL_OK;
}

enum tl_err
status_lookup(const struct pipeline *p, const char digits[RECEIPT_DIGITS + 1], bool wellformed,
              struct wire_status *st)
{
	char key[STATUS_KEY_LEN + 1];
	struct buf val;
	enum tl_err e;

	memset(st, 0, sizeof(*st));
	receipt_status_key(p->status_key, wellformed ? digits : DUMMY_RECEIPT, key);
	buf_init(&val, 4096);
	e = p->bus.kv_get(p->bus.cls, WIRE_KV_STATUS, key, &val);
	if (e == TL_OK && (!wellformed || wire_status_decode(val.data, val.len, st) != TL_OK)) {
		memset(st, 0, sizeof(*st));
		e = TL_ENOTFOUND;
	}
	buf_free(&val);
	sodium_memzero(key, sizeof(key));
	return e;
}

void
status_yuan(int64_t fen, bool grouped, char out[STATUS_YUAN_MAX])
{
	/* Work on the magnitude as unsigned so that INT64_MIN cannot
	 * overflow. */
	uint64_t mag = fen < 0 ? (uint64_t)0 - (uint64_t)fen : (uint64_t)fen;
	uint64_t yuan = mag / 100;
	unsigned cents = (unsigned)(mag % 100);
	char rev[STATUS_YUAN_MAX];
	size_t n = 0, o = 0;
	int group = 0;

	do {
		if (grouped && group == 3) {
			rev[n++] = ',';
			group = 0;
		}
		rev[n++] = (char)('0' + yuan % 10);
		yuan /= 10;
		group++;
	} while (yuan);
	if (fen < 0)
		out[o++] = '-';
	while (n)
		out[o++] = rev[--n];
	out[o++] = '.';
	out[o++] = (char)('0' + cents / 10);
	out[o++] = (char)('0' + cents % 10);
	out[o] = '\0';
}

void
status_date_zh(int64_t ms, char out[STATUS_DATE_MAX])
{
	int64_t local = ms / 1000 + BEIJING_OFFSET_MS / 1000;
	time_t t = (time_t)local;
	struct tm tm;

	if (ms < 0 || !gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999) {
		snprintf(out, STATUS_DATE_MAX, "—");
		return;
	}
	snprintf(out, STATUS_DATE_MAX, "%d年%d月%d日", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

int64_t
status_days_left(int64_t claim_by_ms, int64_t now_ms)
{
	int64_t left;

	if (claim_by_ms <= now_ms)
		return 0;
	left = claim_by_ms - now_ms; /* both are plausible times: no overflow */
	return left / DAY_MS + (left % DAY_MS ? 1 : 0);
}

static const struct {
	const char *status, *label;
} labels[] = {
	{ "received", "已受理" },
	{ "investigating", "调查核实中" },
	{ "verified", "举报属实，已核实" },
	{ "unfounded", "经核查不属实" },
	{ "award_approved", "奖励已批准" },
	{ "claim_received", "领奖申请已收到" },
	{ "claim_refused", "领奖申请未通过" },
	{ "paid", "已发放" },
	{ "forfeited", "逾期未领取，已作废" },
};

static const struct {
	const char *reason, *text;
} reasons[] = {
	{ "excluded", "根据规定不能领取" },
	{ "invalid_id", "身份证号码有误" },
	{ "invalid_payee", "收款信息有误" },
	{ "bank_rejected", "银行退回，请核对账户后重新提交" },
};

const char *
status_label_zh(const char *status)
{
	for (size_t i = 0; i < TL_ARRAY_LEN(labels); i++)
		if (strcmp(labels[i].status, status) == 0)
			return labels[i].label;
	return "";
}

const char *
status_reason_zh(const char *reason)
{
	for (size_t i = 0; i < TL_ARRAY_LEN(reasons); i++)
		if (strcmp(reasons[i].reason, reason) == 0)
			return reasons[i].text;
	return "";
}

bool
status_claim_open(const struct wire_status *st, int64_t now_ms)
{
	return (strcmp(st->status, "award_approved") == 0 || strcmp(st->status, "claim_refused") == 0) &&
	       st->claim_by_ms > 0 && now_ms <= st->claim_by_ms;
}

/* The deadline sentence and, when it is near, the reminder. */
static enum tl_err
deadline(const struct wire_status *st, int64_t now_ms, struct buf *out)
{
	char date[STATUS_DATE_MAX];
	int64_t days;
	enum tl_err e;

	if (now_ms > st->claim_by_ms)
		return buf_append_str(out, "领取期限已过。");
	status_date_zh(st->claim_by_ms, date);
	if ((e = buf_printf(out, "请在 %s前领取。", date)) != TL_OK)
		return e;
	days = status_days_left(st->claim_by_ms, now_ms);
	if (days < STATUS_REMINDER_DAYS)
		e = days <= 1 ? buf_append_str(out, "距截止已不足 1 天。")
		              : buf_printf(out, "距截止还有 %lld 天。", (long long)days);
	return e;
}

enum tl_err
status_message_zh(const struct wire_status *st, int64_t now_ms, struct buf *out)
{
	const char *s = st->status;
	char yuan[STATUS_YUAN_MAX];
	enum tl_err e;

	status_yuan(st->amount_fen, true, yuan);
	if (strcmp(s, "received") == 0)
		return buf_append_str(out, "已受理：您的举报已收到，正在等待分派核查。");
	if (strcmp(s, "investigating") == 0)
		return buf_append_str(out, "调查核实中：有关部门正在核查您举报的情况。");
	if (strcmp(s, "verified") == 0)
		return buf_append_str(out, "举报属实，已核实：感谢您的举报。如有奖励，批准后将在此显示。");
	if (strcmp(s, "unfounded") == 0)
		return buf_append_str(out, "经核查不属实：本案已结案，没有奖励。感谢您的参与。");
	if (strcmp(s, "award_approved") == 0) {
		if ((e = buf_printf(out, "奖励已批准：金额 %s 元。", yuan)) != TL_OK)
			return e;
		return deadline(st, now_ms, out);
	}
	if (strcmp(s, "claim_received") == 0)
		return buf_printf(out, "领奖申请已收到：金额 %s 元，正在核验，核验通过后将安排发放。", yuan);
	if (strcmp(s, "claim_refused") == 0) {
		if ((e = buf_printf(out, "领奖申请未通过：%s。金额 %s 元。", status_reason_zh(st->reason),
		                    yuan)) != TL_OK)
			return e;
		return deadline(st, now_ms, out);
	}
	if (strcmp(s, "paid") == 0)
		return buf_printf(out, "已发放：奖励 %s 元已发放，请留意收款账户。", yuan);
	if (strcmp(s, "forfeited") == 0)
		return buf_printf(out, "逾期未领取，已作废：奖励 %s 元未在期限内领取。", yuan);
	return buf_append_str(out, "状态暂时无法显示，请稍后再查。");
}
