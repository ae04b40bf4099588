#!/usr/bin/env bash
# Every bad request gets its 4xx and JSON error code, with the security
# headers; afterwards TL_DEPOSITS and TL_LEADS are still empty and the log
# holds none of the submitted text.
set -euo pipefail
source "${TL_SRC_DIR:-.}/tests/lib.sh"
tl_setup
tl_start_intake

CANARY=13700001111
JSON='Content-Type: application/json'

# check NAME EXPECTED_STATUS EXPECTED_CODE METHOD PATH [curl args...]
check() {
	local name=$1 want=$2 code=$3 method=$4 path=$5
	shift 5
	tl_http "$method" "$path" "$@" >/dev/null
	tl_assert_eq "$want" "$TL_HTTP_STATUS" "$name: status"
	tl_assert_contains "$TL_HTTP_BODY" "\"error\":\"$code\"" "$name: body"
	tl_assert_contains "$TL_HTTP_BODY" '"message":"' "$name: body"
}

python3 - "$T" "$CANARY" <<'PY'
import sys
t, canary = sys.argv[1], sys.argv[2]
open(t + "/long.json", "w").write('{"text":"%s"}' % ("钢" * 20001))
open(t + "/big.json", "w").write('{"text":"%s"}' % ("a" * 300000))
open(t + "/badutf8.json", "wb").write(b'{"text":"\xff\xfe ' + canary.encode() + b'"}')
PY

check malformed 400 invalid_json POST /api/v1/reports -H "$JSON" --data-binary "{\"text\":\"$CANARY"
check not-object 400 invalid_json POST /api/v1/reports -H "$JSON" --data-binary '["text"]'
check duplicate-key 400 invalid_json POST /api/v1/reports -H "$JSON" \
	--data-binary '{"text":"a","text":"b"}'
check wrong-type 400 invalid_field POST /api/v1/reports -H "$JSON" --data-binary '{"text":123}'
tl_assert_contains "$TL_HTTP_BODY" '"field":"text"'
check wrong-type-contact 400 invalid_field POST /api/v1/reports -H "$JSON" \
	--data-binary "{\"text\":\"a\",\"contact\":{\"phone\":$CANARY}}"
tl_assert_contains "$TL_HTTP_BODY" '"field":"contact.phone"'
check missing-text 400 missing_text POST /api/v1/reports -H "$JSON" \
	--data-binary '{"location":"静海区"}'
check empty-text 400 empty_text POST /api/v1/reports -H "$JSON" --data-binary '{"text":"  　 "}'
check long-text 400 text_too_long POST /api/v1/reports -H "$JSON" --data-binary "@$T/long.json"
check invalid-utf8 400 invalid_utf8 POST /api/v1/reports -H "$JSON" --data-binary "@$T/badutf8.json"
check unknown-district 400 unknown_district POST /api/v1/reports -H "$JSON" \
	--data-binary '{"text":"有人炼钢","district":"120199"}'
check unknown-field 400 unknown_field POST /api/v1/reports -H "$JSON" \
	--data-binary '{"text":"有人炼钢","locaton":"西青"}'
tl_assert_contains "$TL_HTTP_BODY" '"field":"locaton"'
check bad-idem-key 400 invalid_idempotency_key POST /api/v1/reports -H "$JSON" \
	-H 'Idempotency-Key: 键' --data-binary '{"text":"有人炼钢"}'
check too-large 413 payload_too_large POST /api/v1/reports -H "$JSON" --data-binary "@$T/big.json"
check too-large-chunked 413 payload_too_large POST /api/v1/reports -H "$JSON" \
	-H 'Transfer-Encoding: chunked' --data-binary "@$T/big.json"
check content-type 415 unsupported_media_type POST /api/v1/reports -H 'Content-Type: text/plain' \
	--data-binary '{"text":"有人炼钢"}'
check charset 415 unsupported_media_type POST /api/v1/reports \
	-H 'Content-Type: application/json; charset=gbk' --data-binary '{"text":"有人炼钢"}'
check method 405 method_not_allowed GET /api/v1/reports
check method-delete 405 method_not_allowed DELETE /api/v1/reports
check path 404 not_found GET /api/v1/nothing
check path-post 404 not_found POST /api/v2/reports -H "$JSON" --data-binary '{"text":"有人炼钢"}'

# Headers on an error response.
headers=$(curl -sS -D - -o /dev/null "$INTAKE_URL/nope")
for h in 'Content-Type: application/json; charset=utf-8' 'Cache-Control: no-store' \
	'X-Content-Type-Options: nosniff' 'Referrer-Policy: no-referrer' \
	"Content-Security-Policy: default-src 'none'"; do
	tl_assert_contains "$headers" "$h" "404 headers"
done
headers=$(curl -sS -D - -o /dev/null "$INTAKE_URL/api/v1/reports")
tl_assert_contains "$headers" 'Allow: POST' "405 headers"

# Nothing reached the streams.
for s in TL_DEPOSITS TL_LEADS; do
	dump=$(tl_stream_dump "$s")
	[[ -z $dump ]] || tl_fail "$s is not empty after bad requests: $dump"
done
# And nothing of the bodies reached the log.
if grep -q "$CANARY" "$TL_LOG_INTAKE"; then
	tl_fail "intake log contains submitted content"
fi
tl_pass
