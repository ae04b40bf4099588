#!/usr/bin/env bash
# The same Idempotency-Key ten times: one receipt, one deposit, one lead.
# The same key with another body: 422 and nothing new.
set -euo pipefail
source "${TL_SRC_DIR:-.}/tests/lib.sh"
tl_setup
tl_start_intake

KEY="retry-$(date +%s%N)-k"
BODY='{"text":"西青区张家窝镇有家工厂用中频炉炼地条钢，举报人电话13811112222。","category":"地条钢"}'
first=""
for i in $(seq 1 10); do
	tl_post_report "$BODY" -H "Idempotency-Key: $KEY" >/dev/null
	tl_assert_eq 201 "$TL_HTTP_STATUS" "attempt $i"
	receipt=$(tl_json_get "$TL_HTTP_BODY" receipt)
	[[ $receipt =~ ^[0-9]{4}\ [0-9]{4}\ [0-9]{4}\ [0-9]{4}$ ]] || tl_fail "bad receipt format: $receipt"
	if [[ -z $first ]]; then
		first=$TL_HTTP_BODY
	else
		tl_assert_eq "$first" "$TL_HTTP_BODY" "attempt $i answer"
	fi
done

# Concurrent retries too (a client that times out and retries in parallel).
pids=()
for i in 1 2 3 4 5; do
	curl -sS -o "$T/par$i" -w '%{http_code}' -H 'Content-Type: application/json' \
		-H "Idempotency-Key: $KEY" --data-binary "$BODY" "$INTAKE_URL/api/v1/reports" >"$T/par$i.st" &
	pids+=($!)
done
# Only these: a bare `wait` would also wait for the daemons.
wait "${pids[@]}"
for i in 1 2 3 4 5; do
	tl_assert_eq 201 "$(<"$T/par$i.st")" "parallel attempt $i"
	tl_assert_eq "$first" "$(<"$T/par$i")" "parallel attempt $i answer"
done

tl_post_report '{"text":"另一份完全不同的举报。"}' -H "Idempotency-Key: $KEY" >/dev/null
tl_assert_eq 422 "$TL_HTTP_STATUS" "same key, other body"
tl_assert_contains "$TL_HTTP_BODY" '"error":"idempotency_key_reused"'

deposits=$(tl_stream_dump TL_DEPOSITS | grep -c 'tl.deposit.report' || true)
leads=$(tl_stream_dump TL_LEADS | grep -c 'tl.lead.' || true)
tl_assert_eq 1 "$deposits" "deposit messages"
tl_assert_eq 1 "$leads" "lead messages"
report_id=$(tl_json_get "$first" report_id)
tl_assert_contains "$(tl_stream_dump TL_LEADS)" "$report_id" "lead"
tl_assert_not_contains "$(tl_stream_dump TL_LEADS)" 13811112222 "lead"

# A different key is a different report.
tl_post_report "$BODY" -H "Idempotency-Key: $KEY-2" >/dev/null
tl_assert_eq 201 "$TL_HTTP_STATUS" "new key"
[[ $(tl_json_get "$TL_HTTP_BODY" receipt) != "$(tl_json_get "$first" receipt)" ]] ||
	tl_fail "a new key got the old receipt"

# The key and the receipt never reach the log.
digits=$(tl_json_get "$first" receipt | tr -d ' ')
grep -q -- "$KEY" "$TL_LOG_INTAKE" && tl_fail "idempotency key in the log"
grep -q -- "$digits" "$TL_LOG_INTAKE" && tl_fail "receipt in the log"
grep -q -- "$(tl_json_get "$first" receipt)" "$TL_LOG_INTAKE" && tl_fail "receipt in the log"
tl_pass
