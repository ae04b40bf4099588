#!/usr/bin/env bash
# NATS down: POST answers 503 with Retry-After at once and /healthz 503;
# NATS back: reports are accepted again; nothing posted while it was down
# ever appears in the streams.
set -euo pipefail
source "${TL_SRC_DIR:-.}/tests/lib.sh"
tl_setup
tl_start_intake

tl_post_report '{"text":"红桥区 BEFORE-OUTAGE 有人炼钢"}' >/dev/null
tl_assert_eq 201 "$TL_HTTP_STATUS" "before the outage"

tl_stop_nats
# The client library notices the closed socket at once; give it a moment.
for i in $(seq 1 50); do
	code=$(curl -sS -o /dev/null -w '%{http_code}' "$INTAKE_URL/healthz" || true)
	[[ $code == 503 ]] && break
	sleep 0.1
done
tl_assert_eq 503 "$code" "healthz while NATS is down"
tl_http GET /healthz >/dev/null
tl_assert_contains "$TL_HTTP_BODY" '"failed":"nats' "healthz names the failed part"

for i in 1 2 3; do
	start=$(date +%s%N)
	curl -sS -D "$T/h$i" -o "$T/b$i" -H 'Content-Type: application/json' \
		--data-binary "{\"text\":\"河北区 DURING-OUTAGE-$i 有人炼钢\"}" "$INTAKE_URL/api/v1/reports"
	ms=$(( ($(date +%s%N) - start) / 1000000 ))
	tl_assert_contains "$(head -1 "$T/h$i")" " 503" "POST $i during the outage"
	tl_assert_contains "$(cat "$T/h$i")" "Retry-After: 5" "POST $i headers"
	tl_assert_contains "$(cat "$T/b$i")" '"error":"unavailable"' "POST $i body"
	(( ms < 2000 * TL_SLOW )) || tl_fail "503 took $ms ms; it should be immediate"
done
# With an Idempotency-Key as well (the TL_IDEM write comes first).
tl_post_report '{"text":"南开区 DURING-OUTAGE-K 有人炼钢"}' -H 'Idempotency-Key: outage-1' >/dev/null
tl_assert_eq 503 "$TL_HTTP_STATUS" "idempotent POST during the outage"

tl_start_nats
tl_wait_http "$INTAKE_URL/healthz" $((20 * TL_SLOW)) || tl_fail "healthz did not recover"
tl_post_report '{"text":"津南区 AFTER-OUTAGE 有人炼钢"}' >/dev/null
tl_assert_eq 201 "$TL_HTTP_STATUS" "after the outage"
tl_post_report '{"text":"南开区 DURING-OUTAGE-K 有人炼钢"}' -H 'Idempotency-Key: outage-1' >/dev/null
tl_assert_eq 201 "$TL_HTTP_STATUS" "idempotent retry after the outage"

leads=$(tl_stream_dump TL_LEADS)
tl_assert_contains "$leads" BEFORE-OUTAGE "leads"
tl_assert_contains "$leads" AFTER-OUTAGE "leads"
tl_assert_not_contains "$leads" DURING-OUTAGE-1 "leads"
tl_assert_not_contains "$leads" DURING-OUTAGE-2 "leads"
tl_assert_not_contains "$leads" DURING-OUTAGE-3 "leads"
tl_assert_eq 3 "$(grep -c 'tl.lead.' <<<"$leads")" "lead count"
tl_assert_eq 3 "$(tl_stream_dump TL_DEPOSITS | grep -c 'tl.deposit.report')" "deposit count"
tl_pass
