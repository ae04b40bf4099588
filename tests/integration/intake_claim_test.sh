#!/usr/bin/env bash
# Award claims through intake, end to end against a real nats-server:
#   - a table of bad claims over the API (each field invalid, missing, too
#     long, wrong type; bad JSON, non-UTF-8, oversized body, wrong media
#     type; unknown and malformed receipts; every status that is not open;
#     a deadline that has passed) gets its exact 4xx and error code, and
#     TL_DEPOSITS gets no tl.deposit.claim message;
#   - a good claim is 202 and exactly one message, whose raw bytes hold
#     none of the payee details while its seal opens (with the vault's
#     key) to exactly them; a retry with the same Idempotency-Key adds
#     nothing;
#   - the HTML form: refused without the CSRF cookie, with a wrong token,
#     from another origin; a validation error brings the form back with
#     only the bank refilled (escaped); a good post is one message and a
#     resubmitted page is the same claim;
#   - NATS down: 503 with Retry-After, nothing stored;
#   - claim posts are rate-limited per address;
#   - no payee detail ever appears in intake's log or any HTTP response.
set -euo pipefail
source "${TL_SRC_DIR:-.}/tests/lib.sh"
PUT=$TL_BUILD_DIR/tests/itest_status_put
tl_need "$PUT"
tl_setup
sed -i '/^\[intake\]/a receipt_lookups_per_minute = 10000\nclaim_posts_per_minute = 10000\nclaim_posts_per_receipt_per_minute = 10000' \
	"$TL_INTAKE_INI"
tl_start_intake
# No vault: the claims stay in the work queue for this test to read.

RESPONSES=$T/responses.txt
: >"$RESPONSES"
JSON='Content-Type: application/json'

tl_post_report '{"text":"西青区某厂有中频炉生产地条钢。","district":"120111"}' >/dev/null
tl_assert_eq 201 "$TL_HTTP_STATUS" "report"
receipt=$(tl_json_get "$TL_HTTP_BODY" receipt)
digits=${receipt// /}
last=${digits:15:1}
unknown=${digits:0:15}$(((last + 1) % 10))
now=$(date +%s%3N)
day=86400000

put() {
	"$PUT" put "$NATS_URL" admin "$TL_KEYS/nats-admin.pw" "$TL_KEYS/intake.key" "$digits" "$@" ||
		tl_fail "status put $*"
}

# claims: the number of tl.deposit.claim messages in TL_DEPOSITS.
claims() {
	local dump n=0 line
	dump=$(tl_stream_dump TL_DEPOSITS)
	while IFS= read -r line; do
		[[ $line == *" tl.deposit.claim "* ]] && n=$((n + 1))
	done <<<"$dump"
	echo "$n"
}

# http METHOD PATH [curl args]: tl_http, remembering every response.
http() {
	tl_http "$@" >/dev/null
	printf '%s\n' "$TL_HTTP_BODY" >>"$RESPONSES"
}

# Canary payee details (the ID number gets a valid check digit).
python3 - "$T" <<'PY'
import json, sys
t = sys.argv[1]
def idnum(b):
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return b + "10X98765432"[sum(int(a) * c for a, c in zip(b, w)) % 11]
good = {"name": "甄金丝雀", "id_number": idnum("12011119800229771"),
        "bank": "雀鸟银行西青支行", "account": "6222 8800 1234 5678 901", "phone": "139 8765 4321"}
open(t + "/id", "w").write(good["id_number"])
def case(cname, status, code, field=None, **over):
    body = dict(good)
    for k, v in over.items():
        if v is None:
            body.pop(k)
        else:
            body[k] = v
    open("%s/case-%s.json" % (t, cname), "w").write(json.dumps(body, ensure_ascii=False))
    idx.write("%s %s %s %s\n" % (cname, status, code, field or "-"))
idx = open(t + "/cases.txt", "w")
open(t + "/good.json", "w").write(json.dumps(good, ensure_ascii=False))
for f in good:
    case("missing-" + f, 400, "missing_field", f, **{f: None})
    case("blank-" + f, 400, "missing_field", f, **{f: " \u3000 "})
    case("number-" + f, 400, "invalid_field", f, **{f: 12345678901})
    case("huge-" + f, 400, "field_too_long", f, **{f: "甲" * 70})
case("name-digits", 400, "invalid_name", "name", name="甄3")
case("name-fullwidth-digit", 400, "invalid_name", "name", name="甄３")
case("name-long", 400, "invalid_name", "name", name="甄" * 31)
case("name-control", 400, "invalid_name", "name", name="甄\u0007雀")
case("id-check-digit", 400, "invalid_id_number", "id_number",
     id_number=good["id_number"][:17] + ("1" if good["id_number"][17] != "1" else "2"))
case("id-short", 400, "invalid_id_number", "id_number", id_number=good["id_number"][:17])
case("id-date", 400, "invalid_id_number", "id_number", id_number=idnum("12011119810229771"))
case("id-letters", 400, "invalid_id_number", "id_number", id_number="A" * 18)
case("bank-short", 400, "invalid_bank", "bank", bank="行")
case("bank-long", 400, "invalid_bank", "bank", bank="银" * 61)
case("account-short", 400, "invalid_account", "account", account="6222 8800 123")
case("account-long", 400, "invalid_account", "account", account="6" * 31)
case("account-letters", 400, "invalid_account", "account", account="6222-8800-1234-5678")
case("phone-start", 400, "invalid_phone", "phone", phone="23987654321")
case("phone-short", 400, "invalid_phone", "phone", phone="1398765432")
case("phone-letters", 400, "invalid_phone", "phone", phone="1398765432x")
case("unknown-field", 400, "unknown_field", "email", email="x@example.com")
idx.close()
open(t + "/dup.json", "w").write('{"name":"甄金丝雀","name":"别人"}')
open(t + "/badutf8.json", "wb").write(b'{"name":"\xff\xfe"}')
open(t + "/big.json", "w").write('{"name":"%s"}' % ("a" * 300000))
PY
ID=$(<"$T/id")
GOOD=$(<"$T/good.json")
CANARIES=("甄金丝雀" "$ID" "雀鸟银行西青支行" "6222880012345678901" "6222 8800 1234 5678 901" "13987654321"
	"139 8765 4321")

# bad NAME STATUS CODE [FIELD] -- curl args: one refused claim.
bad() {
	local name=$1 want=$2 code=$3 field=$4
	shift 4
	[[ $1 == -- ]] && shift
	http POST "/api/v1/receipts/$digits/claim" "$@"
	tl_assert_eq "$want" "$TL_HTTP_STATUS" "$name: status"
	tl_assert_contains "$TL_HTTP_BODY" "\"error\":\"$code\"" "$name: code"
	tl_assert_contains "$TL_HTTP_BODY" '"message":"' "$name: message"
	if [[ $field != - ]]; then
		tl_assert_contains "$TL_HTTP_BODY" "\"field\":\"$field\"" "$name: field"
	fi
}

# ---- not open yet ----------------------------------------------------------
bad not-yet 409 claim_not_open - -- -H "$JSON" --data-binary "$GOOD"
tl_assert_contains "$TL_HTTP_BODY" "尚未批准" "not yet: message"
put award_approved 12345678 $((now + 30 * day)) -

# ---- the table -------------------------------------------------------------
while read -r name want code field; do
	bad "$name" "$want" "$code" "$field" -- -H "$JSON" --data-binary "@$T/case-$name.json"
done <"$T/cases.txt"
bad invalid-json 400 invalid_json - -- -H "$JSON" --data-binary '{"name":"甄'
bad not-object 400 invalid_json - -- -H "$JSON" --data-binary '["甄金丝雀"]'
bad empty-body 400 invalid_json - -- -H "$JSON" --data-binary ''
bad duplicate-key 400 invalid_json - -- -H "$JSON" --data-binary "@$T/dup.json"
bad non-utf8 400 invalid_utf8 - -- -H "$JSON" --data-binary "@$T/badutf8.json"
bad too-big 413 payload_too_large - -- -H "$JSON" --data-binary "@$T/big.json"
bad too-big-chunked 413 payload_too_large - -- -H "$JSON" -H 'Transfer-Encoding: chunked' \
	--data-binary "@$T/big.json"
bad media-type 415 unsupported_media_type - -- -H 'Content-Type: text/plain' --data-binary "$GOOD"
bad form-type 415 unsupported_media_type - -- -H 'Content-Type: application/x-www-form-urlencoded' \
	--data-binary 'name=x'
bad idem-key 400 invalid_idempotency_key - -- -H "$JSON" -H 'Idempotency-Key: 键' --data-binary "$GOOD"
http GET "/api/v1/receipts/$digits/claim"
tl_assert_eq 405 "$TL_HTTP_STATUS" "GET claim"

# Unknown and malformed receipts: one 404 body.
http POST "/api/v1/receipts/$unknown/claim" -H "$JSON" --data-binary "$GOOD"
tl_assert_eq 404 "$TL_HTTP_STATUS" "unknown receipt"
tl_assert_contains "$TL_HTTP_BODY" '"error":"receipt_not_found"' "unknown receipt"
notfound=$TL_HTTP_BODY
for r in 12345 "${digits}1" abcdefghijklmnop "%zz" "$(printf '1%.0s' {1..100})"; do
	http POST "/api/v1/receipts/$r/claim" -H "$JSON" --data-binary "$GOOD"
	tl_assert_eq 404 "$TL_HTTP_STATUS" "receipt $r"
	tl_assert_eq "$notfound" "$TL_HTTP_BODY" "receipt $r: body"
done

# Statuses in which nobody may claim.
for row in "investigating 0 0 - claim_not_open" "verified 0 0 - claim_not_open" \
	"unfounded 0 0 - no_award" "claim_received 12345678 0 - claim_already_received" \
	"paid 12345678 0 - already_paid" "forfeited 12345678 0 - claim_window_closed" \
	"award_approved 12345678 $((now - 1000)) - claim_window_closed" \
	"claim_refused 12345678 $((now - day)) invalid_id claim_window_closed"; do
	read -r st amount by reason code <<<"$row"
	put "$st" "$amount" "$by" "$reason"
	bad "$st-$code" 409 "$code" - -- -H "$JSON" --data-binary "$GOOD"
done
tl_assert_contains "$TL_HTTP_BODY" "期限" "window passed: message"

tl_assert_eq 0 "$(claims)" "claims after refused requests"

# ---- a good claim ----------------------------------------------------------
put award_approved 12345678 $((now + 30 * day)) -
http POST "/api/v1/receipts/${receipt// /%20}/claim" -H "$JSON" --data-binary "$GOOD"
tl_assert_eq 202 "$TL_HTTP_STATUS" "good claim"
tl_assert_eq claim_submitted "$(tl_json_get "$TL_HTTP_BODY" status)" "good claim body"
tl_assert_eq 1 "$(claims)" "claims after the good one"

dump=$(tl_stream_dump TL_DEPOSITS)
msg=""
while IFS= read -r line; do
	[[ $line == *" tl.deposit.claim "* ]] && msg=${line#* tl.deposit.claim }
done <<<"$dump"
[[ -n $msg ]] || tl_fail "no claim message in: $dump"
for c in "${CANARIES[@]}" "$digits" "$receipt"; do
	tl_assert_not_contains "$msg" "$c" "the published claim"
done
opened=$("$PUT" open "$TL_KEYS/vault-box.key" "$TL_KEYS/vault-box.pub" <<<"$msg") ||
	tl_fail "the claim's seal does not open with the vault key"
read -r claim_id status_key <<<"$(head -n 1 <<<"$opened")"
[[ $claim_id =~ ^[0-9a-f]{32}$ ]] || tl_fail "claim id: $claim_id"
tl_assert_eq "$("$PUT" key "$TL_KEYS/intake.key" "$digits")" "$status_key" "status key"
payee=$(tail -n 1 <<<"$opened")
for kv in "name=甄金丝雀" "id_number=$ID" "bank=雀鸟银行西青支行" "account=6222880012345678901" \
	"phone=13987654321"; do
	tl_assert_eq "${kv#*=}" "$(tl_json_get "$payee" "${kv%%=*}")" "sealed ${kv%%=*}"
done

# Retried with one Idempotency-Key: one more message, not two.
for i in 1 2; do
	http POST "/api/v1/receipts/$digits/claim" -H "$JSON" -H 'Idempotency-Key: claim-retry-1' \
		--data-binary "$GOOD"
	tl_assert_eq 202 "$TL_HTTP_STATUS" "idempotent claim $i"
done
tl_assert_eq 2 "$(claims)" "claims after an idempotent retry"

# ---- the HTML form ---------------------------------------------------------
curl -sS -D "$T/form.h" -o "$T/form.html" "$INTAKE_URL/status/claim?receipt=$digits"
form=$(<"$T/form.html")
heads=$(<"$T/form.h")
tl_assert_contains "$heads" "200 OK" "form page"
tl_assert_contains "$form" 'action="/status/claim"' "form page"
cookie=$(sed -n 's/^Set-Cookie: \(tl_claim_csrf=[0-9a-f]*\);.*/\1/p' <<<"$heads" | tr -d '\r')
[[ $cookie =~ ^tl_claim_csrf=[0-9a-f]{64}$ ]] || tl_fail "csrf cookie: $heads"
tl_assert_contains "$heads" "SameSite=Strict" "cookie attributes"
tl_assert_contains "$heads" "HttpOnly" "cookie attributes"
token=${cookie#tl_claim_csrf=}
tl_assert_contains "$form" "name=\"csrf\" value=\"$token\"" "hidden token"

FORM='Content-Type: application/x-www-form-urlencoded'
formbody() { # formbody CSRF [overrides as k=v]
	python3 - "$digits" "$1" "$T/good.json" "${@:2}" <<'PY'
import json, sys, urllib.parse
d = json.load(open(sys.argv[3]))
d = {"receipt": sys.argv[1], "csrf": sys.argv[2], **d}
for kv in sys.argv[4:]:
    k, v = kv.split("=", 1)
    d[k] = v
print(urllib.parse.urlencode(d), end="")
PY
}
good_form=$(formbody "$token")

http POST /status/claim -H "$FORM" --data-binary "$good_form"
tl_assert_eq 403 "$TL_HTTP_STATUS" "form without the cookie"
tl_assert_contains "$TL_HTTP_BODY" "页面已过期" "form without the cookie"
http POST /status/claim -H "$FORM" -H "Cookie: $cookie" --data-binary "$(formbody "${token//a/b}x")"
tl_assert_eq 403 "$TL_HTTP_STATUS" "form with a wrong token"
other=$(printf '%064d' 7)
http POST /status/claim -H "$FORM" -H "Cookie: tl_claim_csrf=$other" --data-binary "$good_form"
tl_assert_eq 403 "$TL_HTTP_STATUS" "form with another cookie"
http POST /status/claim -H "$FORM" -H "Cookie: $cookie" -H 'Origin: http://evil.example' \
	--data-binary "$good_form"
tl_assert_eq 403 "$TL_HTTP_STATUS" "form from another origin"
http POST /status/claim -H "$FORM" -H "Cookie: $cookie" -H 'Sec-Fetch-Site: cross-site' \
	--data-binary "$good_form"
tl_assert_eq 403 "$TL_HTTP_STATUS" "form from another site"
http POST /status/claim -H "$FORM" -H "Cookie: $cookie" --data-binary "$good_form&extra=1"
tl_assert_eq 400 "$TL_HTTP_STATUS" "form with an unknown field"
http POST /status/claim -H "$FORM" -H "Cookie: $cookie" --data-binary "$good_form&name=x"
tl_assert_eq 400 "$TL_HTTP_STATUS" "form with a repeated field"
http POST /status/claim -H "$FORM" -H "Cookie: $cookie" --data-binary "${good_form}%FF"
tl_assert_eq 400 "$TL_HTTP_STATUS" "form with invalid UTF-8"
tl_assert_eq 2 "$(claims)" "claims after refused forms"

# A validation error: the form comes back, the bank refilled and escaped,
# nothing else of what was typed.
http POST /status/claim -H "$FORM" -H "Cookie: $cookie" -H "Origin: $INTAKE_URL" \
	--data-binary "$(formbody "$token" 'bank=<script>alert(1)</script>"' phone=12345)"
tl_assert_eq 400 "$TL_HTTP_STATUS" "form with errors"
tl_assert_contains "$TL_HTTP_BODY" "手机号码：手机号码应为以 1 开头的 11 位数字。" "phone error"
tl_assert_contains "$TL_HTTP_BODY" 'value="&lt;script&gt;alert(1)&lt;/script&gt;&quot;"' "bank escaped"
tl_assert_not_contains "$TL_HTTP_BODY" "<script>" "bank escaped"
tl_assert_contains "$TL_HTTP_BODY" "name=\"csrf\" value=\"$token\"" "token kept"
tl_assert_eq 2 "$(claims)" "claims after a form with errors"

http POST /status/claim -H "$FORM" -H "Cookie: $cookie" -H "Origin: $INTAKE_URL" \
	-H 'Sec-Fetch-Site: same-origin' --data-binary "$good_form"
tl_assert_eq 202 "$TL_HTTP_STATUS" "good form"
tl_assert_contains "$TL_HTTP_BODY" "已提交，正在核验" "good form page"
tl_assert_eq 3 "$(claims)" "claims after the form"
# The same page submitted again (a double click) is the same claim.
http POST /status/claim -H "$FORM" -H "Cookie: $cookie" -H 'Origin: null' --data-binary "$good_form"
tl_assert_eq 202 "$TL_HTTP_STATUS" "form resubmitted"
tl_assert_eq 3 "$(claims)" "claims after the form was resubmitted"

# A closed window on the form: the form is not even offered.
put claim_received 12345678 0 -
http GET "/status/claim?receipt=$digits"
tl_assert_eq 409 "$TL_HTTP_STATUS" "form after the claim was received"
tl_assert_contains "$TL_HTTP_BODY" "请勿重复提交" "form after the claim was received"
put award_approved 12345678 $((now + 30 * day)) -

# ---- NATS down: 503, nothing stored ----------------------------------------
tl_stop_nats
http POST "/api/v1/receipts/$digits/claim" -H "$JSON" -H 'Idempotency-Key: claim-while-down' \
	--data-binary "$GOOD"
tl_assert_eq 503 "$TL_HTTP_STATUS" "claim with NATS down"
tl_assert_contains "$TL_HTTP_BODY" '"error":"unavailable"' "claim with NATS down"
headers=$(curl -sS -D - -o /dev/null -H "$JSON" --data-binary "$GOOD" \
	"$INTAKE_URL/api/v1/receipts/$digits/claim")
tl_assert_contains "$headers" "Retry-After: " "503 headers"
tl_start_nats
tl_wait_http "$INTAKE_URL/healthz" $((20 * TL_SLOW)) || tl_fail "intake did not reconnect"
tl_assert_eq 3 "$(claims)" "claims after NATS was down"

# ---- rate limit per address --------------------------------------------------
tl_stop_intake
sed -i 's/^claim_posts_per_minute = .*/claim_posts_per_minute = 3/' "$TL_INTAKE_INI"
tl_start_intake
codes=""
for i in 1 2 3 4; do
	http POST "/api/v1/receipts/$digits/claim" -H "$JSON" --data-binary '{}'
	codes+="$TL_HTTP_STATUS "
done
tl_assert_eq "400 400 400 429 " "$codes" "claim posts per address"
tl_assert_contains "$TL_HTTP_BODY" '"error":"rate_limited"' "429 body"

# ---- nothing of the payee anywhere -----------------------------------------
responses=$(<"$RESPONSES")
for c in "${CANARIES[@]}"; do
	if grep -qF -- "$c" "$TL_LOG_INTAKE"; then tl_fail "payee detail '$c' in intake's log"; fi
	tl_assert_not_contains "$responses" "$c" "HTTP responses"
	tl_assert_not_contains "$form" "$c" "the form page"
done
if grep -q -- "$digits" "$TL_LOG_INTAKE"; then tl_fail "receipt in the log"; fi
log=$(<"$TL_LOG_INTAKE")
tl_assert_contains "$log" "claim submitted claim=$claim_id" "claim id logged"
tl_pass
