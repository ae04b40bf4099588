#!/usr/bin/env bash
# Receipt lookups: a known receipt (in any of its spellings) says
# "received"; unknown and malformed receipts get byte-identical 404s; a
# client that keeps asking gets 429 with Retry-After.
set -euo pipefail
source "${TL_SRC_DIR:-.}/tests/lib.sh"
tl_setup
tl_start_intake

tl_post_report '{"text":"武清区某工业园有地条钢生产线。","district":"120114"}' >/dev/null
tl_assert_eq 201 "$TL_HTTP_STATUS" "report"
tl_assert_eq 120114 "$(tl_json_get "$TL_HTTP_BODY" district)" "district"
receipt=$(tl_json_get "$TL_HTTP_BODY" receipt)
digits=${receipt// /}

for spelling in "${receipt// /%20}" "$digits" "${receipt// /-}"; do
	tl_http GET "/api/v1/receipts/$spelling" >/dev/null
	tl_assert_eq 200 "$TL_HTTP_STATUS" "lookup $spelling"
	tl_assert_eq received "$(tl_json_get "$TL_HTTP_BODY" status)" "status"
	[[ $(tl_json_get "$TL_HTTP_BODY" updated_at) =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T ]] ||
		tl_fail "updated_at: $TL_HTTP_BODY"
done

# A receipt that differs in the last digit is unknown.
last=${digits:15:1}
other=${digits:0:15}$(( (last + 1) % 10 ))
tl_http GET "/api/v1/receipts/$other" >/dev/null
tl_assert_eq 404 "$TL_HTTP_STATUS" "unknown receipt"
unknown=$TL_HTTP_BODY
for bad in 12345 abcdefghijklmnop "${digits}9" "%zz"; do
	tl_http GET "/api/v1/receipts/$bad" >/dev/null
	tl_assert_eq 404 "$TL_HTTP_STATUS" "malformed receipt $bad"
	tl_assert_eq "$unknown" "$TL_HTTP_BODY" "malformed and unknown bodies"
done

# The default limit is 30 lookups a minute per client; 9 are spent.
seen429=0
for i in $(seq 1 40); do
	code=$(curl -sS -D "$T/rl" -o "$T/rlb" -w '%{http_code}' "$INTAKE_URL/api/v1/receipts/$digits")
	if [[ $code == 429 ]]; then
		seen429=1
		tl_assert_contains "$(cat "$T/rl")" "Retry-After: " "429 headers"
		tl_assert_contains "$(cat "$T/rlb")" '"error":"rate_limited"' "429 body"
		break
	fi
	tl_assert_eq 200 "$code" "lookup $i before the limit"
done
tl_assert_eq 1 "$seen429" "rate limit reached"
# Reports are not rate-limited by the receipt limiter.
tl_post_report '{"text":"宁河区有人炼钢"}' >/dev/null
tl_assert_eq 201 "$TL_HTTP_STATUS" "report after the lookup limit"

grep -q -- "$digits" "$TL_LOG_INTAKE" && tl_fail "receipt in the log"
# The listen address is logged at start; a client's address never is.
grep -v 'listening on' "$TL_LOG_INTAKE" | grep -- "127.0.0.1" >/dev/null && tl_fail "client address in the log"
tl_pass
