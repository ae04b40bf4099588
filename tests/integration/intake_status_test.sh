#!/usr/bin/env bash
# The reporter's status page and API: for every TL_STATUS value (written as
# payouts would, with the admin user) /status?receipt= says the right thing
# in Chinese, with the amount in yuan, the claim deadline as a Beijing
# date, the reminder in the last 14 days and the claim link only while a
# claim is open; the API carries the same fields.  Unknown, malformed and
# hostile receipts all get the very same "未找到" page, and no receipt
# reaches the log.
set -euo pipefail
source "${TL_SRC_DIR:-.}/tests/lib.sh"
PUT=$TL_BUILD_DIR/tests/itest_status_put
tl_need "$PUT"
tl_setup
# Many lookups from one address in this test.
sed -i '/^\[intake\]/a receipt_lookups_per_minute = 10000' "$TL_INTAKE_INI"
tl_start_intake

tl_post_report '{"text":"静海区某厂夜间生产地条钢。","district":"120118"}' >/dev/null
tl_assert_eq 201 "$TL_HTTP_STATUS" "report"
receipt=$(tl_json_get "$TL_HTTP_BODY" receipt)
digits=${receipt// /}
q=${receipt// /%20}

# put STATUS AMOUNT_FEN CLAIM_BY_MS REASON
put() {
	"$PUT" put "$NATS_URL" admin "$TL_KEYS/nats-admin.pw" "$TL_KEYS/intake.key" "$digits" "$@" ||
		tl_fail "status put $*"
}

# beijing_date MS: "2026年3月1日"
beijing_date() {
	python3 -c 'import datetime,sys
d=datetime.datetime.fromtimestamp(int(sys.argv[1])/1000, datetime.timezone(datetime.timedelta(hours=8)))
print("%d年%d月%d日" % (d.year, d.month, d.day))' "$1"
}

page() {
	tl_http GET "/status?receipt=$q" >/dev/null
	tl_assert_eq 200 "$TL_HTTP_STATUS" "status page ($1)"
	PAGE=$TL_HTTP_BODY
}

api() {
	tl_http GET "/api/v1/receipts/$digits" >/dev/null
	tl_assert_eq 200 "$TL_HTTP_STATUS" "status api ($1)"
	API=$TL_HTTP_BODY
}

claim_link="/status/claim?receipt=$digits"
day=86400000

# The page as the report left it.
page received
tl_assert_contains "$PAGE" "已受理" "received"
tl_assert_contains "$PAGE" "$receipt" "receipt shown"
tl_assert_not_contains "$PAGE" "$claim_link" "received: claim link"
headers=$(curl -sS -D - -o /dev/null "$INTAKE_URL/status?receipt=$q")
tl_assert_contains "$headers" "Content-Type: text/html; charset=utf-8" "page type"
tl_assert_contains "$headers" "Content-Security-Policy: default-src 'none'; style-src 'self'" "page CSP"
tl_assert_contains "$headers" "Cache-Control: no-store" "page caching"
tl_assert_contains "$headers" "Referrer-Policy: no-referrer" "page referrer"
tl_assert_not_contains "$PAGE" "<script" "no script"
tl_assert_not_contains "$PAGE" "http://" "no external asset"
tl_assert_not_contains "$PAGE" "https://" "no external asset"
css=$(curl -sS -D - "$INTAKE_URL/status/style.css")
tl_assert_contains "$css" "Content-Type: text/css" "stylesheet"
tl_assert_contains "$css" "font-family" "stylesheet body"

now=$(date +%s%3N)
for row in "investigating|调查核实中" "verified|举报属实" "unfounded|经核查不属实"; do
	st=${row%%|*}
	put "$st" 0 0 -
	page "$st"
	tl_assert_contains "$PAGE" "${row#*|}" "$st"
	tl_assert_not_contains "$PAGE" "$claim_link" "$st: claim link"
	tl_assert_not_contains "$PAGE" " 元" "$st: amount"
	api "$st"
	tl_assert_eq "$st" "$(tl_json_get "$API" status)" "$st: api status"
	tl_assert_eq False "$(tl_json_get "$API" claim_open)" "$st: api claim_open"
	tl_assert_eq "" "$(tl_json_get "$API" amount_fen)" "$st: api amount"
done

# Approved, 30 days to go: amount, date, link, no reminder yet.
by=$((now + 30 * day))
put award_approved 12345678 "$by" -
page award_approved
tl_assert_contains "$PAGE" "奖励已批准" "approved"
tl_assert_contains "$PAGE" "金额 123,456.78 元" "approved amount"
tl_assert_contains "$PAGE" "请在 $(beijing_date "$by")前领取" "approved deadline"
tl_assert_not_contains "$PAGE" "距截止" "approved: reminder"
tl_assert_contains "$PAGE" "href=\"$claim_link\"" "approved: claim link"
api award_approved
tl_assert_eq 12345678 "$(tl_json_get "$API" amount_fen)" "api amount_fen"
tl_assert_eq 123456.78 "$(tl_json_get "$API" amount_yuan)" "api amount_yuan"
tl_assert_eq True "$(tl_json_get "$API" claim_open)" "api claim_open"
want_by=$(python3 -c 'import datetime,sys
print(datetime.datetime.fromtimestamp(int(sys.argv[1])/1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.")+"%03dZ" % (int(sys.argv[1])%1000))' "$by")
tl_assert_eq "$want_by" "$(tl_json_get "$API" claim_by)" "api claim_by"
tl_assert_contains "$(tl_json_get "$API" message)" "金额 123,456.78 元" "api message"
[[ $API == *'"amount_yuan":"123456.78"'* ]] || tl_fail "amount_yuan is not a string: $API"

# Small amounts keep their fen.
put award_approved 5 "$by" -
api small
tl_assert_eq 0.05 "$(tl_json_get "$API" amount_yuan)" "5 fen"
put award_approved 100000 "$by" -
page round
tl_assert_contains "$PAGE" "金额 1,000.00 元" "1000 yuan"

# Five days and an hour left: the reminder counts whole days up.
by=$((now + 5 * day + 3600000))
put award_approved 50000000 "$by" -
page reminder
tl_assert_contains "$PAGE" "金额 500,000.00 元" "cap amount"
tl_assert_contains "$PAGE" "距截止还有 6 天" "reminder"
tl_assert_contains "$PAGE" "请在 $(beijing_date "$by")前领取" "reminder deadline"

# The deadline has passed but payouts has not written "forfeited" yet.
put award_approved 12345678 $((now - day)) -
page late
tl_assert_not_contains "$PAGE" "$claim_link" "late: claim link"
tl_assert_contains "$PAGE" "领取期限已过" "late"
api late
tl_assert_eq False "$(tl_json_get "$API" claim_open)" "late: api claim_open"

put claim_received 12345678 0 -
page claim_received
tl_assert_contains "$PAGE" "领奖申请已收到" "claim_received"
tl_assert_contains "$PAGE" "123,456.78 元" "claim_received amount"
tl_assert_not_contains "$PAGE" "$claim_link" "claim_received: claim link"

by=$((now + 10 * day))
for row in "excluded|根据规定不能领取" "invalid_id|身份证号码有误" "invalid_payee|收款信息有误" \
	"bank_rejected|银行退回，请核对账户后重新提交"; do
	reason=${row%%|*}
	put claim_refused 12345678 "$by" "$reason"
	page "$reason"
	tl_assert_contains "$PAGE" "领奖申请未通过" "$reason"
	tl_assert_contains "$PAGE" "${row#*|}" "$reason: reason"
	tl_assert_contains "$PAGE" "距截止还有 10 天" "$reason: reminder"
	tl_assert_contains "$PAGE" "href=\"$claim_link\"" "$reason: claim link"
	api "$reason"
	tl_assert_eq "$reason" "$(tl_json_get "$API" reason)" "$reason: api reason"
	tl_assert_contains "$(tl_json_get "$API" message)" "${row#*|}" "$reason: api message"
done

put paid 12345678 0 -
page paid
tl_assert_contains "$PAGE" "已发放" "paid"
tl_assert_contains "$PAGE" "123,456.78 元" "paid amount"
tl_assert_not_contains "$PAGE" "$claim_link" "paid: claim link"

put forfeited 12345678 0 -
page forfeited
tl_assert_contains "$PAGE" "逾期未领取" "forfeited"
tl_assert_contains "$PAGE" "已作废" "forfeited"
tl_assert_not_contains "$PAGE" "$claim_link" "forfeited: claim link"

# The empty form.
tl_http GET /status >/dev/null
tl_assert_eq 200 "$TL_HTTP_STATUS" "form"
tl_assert_contains "$TL_HTTP_BODY" 'name="receipt"' "form field"
tl_assert_contains "$TL_HTTP_BODY" 'action="/status"' "form action"
tl_assert_not_contains "$TL_HTTP_BODY" "未找到" "form: not found"

# Unknown receipts: one page, whatever was typed.
last=${digits:15:1}
other=${digits:0:15}$(((last + 1) % 10))
tl_http GET "/status?receipt=$other" >/dev/null
tl_assert_eq 404 "$TL_HTTP_STATUS" "unknown receipt"
unknown=$TL_HTTP_BODY
tl_assert_contains "$unknown" "未找到" "unknown receipt page"
for bad in 0000000000000000 12345 "${digits}9" abcdefghijklmnop \
	"%3Cscript%3Ealert(1)%3C%2Fscript%3E" "%22%3E%3Cimg%20src%3Dx%3E" "$(printf '9%.0s' {1..200})"; do
	tl_http GET "/status?receipt=$bad" >/dev/null
	tl_assert_eq 404 "$TL_HTTP_STATUS" "receipt $bad"
	tl_assert_eq "$unknown" "$TL_HTTP_BODY" "page for $bad"
done
tl_assert_not_contains "$unknown" "<script>alert" "reflected script"
tl_assert_not_contains "$unknown" "$other" "unknown receipt reflected"
# The claim form of an unknown receipt is the same page.
tl_http GET "/status/claim?receipt=$other" >/dev/null
tl_assert_eq 404 "$TL_HTTP_STATUS" "claim form, unknown receipt"
tl_assert_eq "$unknown" "$TL_HTTP_BODY" "claim form, unknown receipt"

# The API's 404 is unchanged and identical for all of them too.
tl_http GET "/api/v1/receipts/$other" >/dev/null
tl_assert_eq 404 "$TL_HTTP_STATUS" "api unknown"
tl_assert_contains "$TL_HTTP_BODY" '"error":"receipt_not_found"' "api unknown"

if grep -q -- "$digits" "$TL_LOG_INTAKE"; then tl_fail "receipt in the log"; fi
if grep -q -- "receipt=" "$TL_LOG_INTAKE"; then tl_fail "query string in the log"; fi
tl_pass
