#!/usr/bin/env bash
# Reports posted through intake reach tipline-payouts as leads; a claim and
# a substantiated verdict through the district node reach it as events.
# The reporter's receipt (intake's GET /api/v1/receipts) moves received ->
# investigating -> verified, payouts holds the case with the verdict's
# facts and the computed award (tl-payouts-ctl show), malformed messages
# on its streams are terminated without stopping it, and neither tip text
# nor identity reaches its log.
# Helpers are called through tl_wait_for:
# shellcheck disable=SC2317
set -euo pipefail
# shellcheck source=tests/lib.sh
source "${TL_SRC_DIR:-.}/tests/lib.sh"

tl_setup
# The test polls the receipt: lift intake's per-client lookup limit.
sed -i '/^\[intake\]/a receipt_lookups_per_minute = 10000' "$TL_INTAKE_INI"
tl_need "$TL_BIN_INTAKE" "$TL_BIN_DISTRICT" "$TL_BIN_DISTRICT_CTL" "$TL_BIN_PAYOUTS" "$TL_BIN_PAYOUTS_CTL"
devenv_write_district_ini bh 120116

tl_start_intake
tl_start_district bh
tl_start_payouts

pctl() { "$TL_BIN_PAYOUTS_CTL" -c "$TL_PAYOUTS_INI" "$@"; }
dctl() { tl_district_ctl bh 120116 resp.li responder "$@"; }
field() { python3 -c 'import json,sys
for l in sys.stdin:
  if l.startswith("{"):
    o=json.loads(l)
    if o.get("kind")==sys.argv[1]: print(o[sys.argv[2]]); break' "$1" "$2"; }
pstatus() { pctl show status "$1" 2>/dev/null | field status status; }
has_status() { [[ $(pstatus "$1") == "$2" ]]; }
receipt_status() {
	tl_http GET "/api/v1/receipts/${receipt// /}" >/dev/null
	tl_assert_eq 200 "$TL_HTTP_STATUS" "receipt lookup"
	tl_json_get "$TL_HTTP_BODY" status
}

tl_post_report '{"text":"PAYTIP 滨海新区某厂用中频炉炼地条钢","district":"120116","contact":{"name":"PAYNAME","phone":"13912345678"}}' >/dev/null
tl_assert_eq 201 "$TL_HTTP_STATUS" "report accepted"
rid=$(tl_json_get "$TL_HTTP_BODY" report_id)
receipt=$(tl_json_get "$TL_HTTP_BODY" receipt)
tl_assert_eq received "$(receipt_status)" "status after the report"

# The lead arrives in payouts: a case of its own, still "received".
tl_wait_for 15 has_status "$rid" received || tl_fail "payouts never got the lead for $rid"
out=$(pctl show status "$rid")
lead=$(field status case_id <<<"$out")
tl_log "report $rid is case $lead"
tl_assert_eq "$rid" "$(field status report_id <<<"$out")" "report id"

has_case() { dctl dump | grep -- "$rid" >/dev/null; }
tl_wait_for 10 has_case || tl_fail "the district never got the lead"
dctl claim "$lead" || tl_fail "claim failed"
tl_wait_for 15 has_status "$rid" investigating || tl_fail "payouts never applied the claim: $(pctl show case "$lead")"
tl_assert_eq investigating "$(receipt_status)" "status after the claim"

# A substantiated verdict: running plant, 2,000,000 yuan of fines.
dctl verdict "$lead" substantiated 2 30000 running 5000 200000000 || tl_fail "verdict failed"
tl_wait_for 15 has_status "$rid" verified || tl_fail "payouts never applied the verdict: $(pctl show case "$lead")"
tl_assert_eq verified "$(receipt_status)" "status after the verdict"

case_out=$(pctl show case "$lead")
tl_assert_eq substantiated "$(field case state <<<"$case_out")" "case state"
tl_assert_eq 120116 "$(field case district <<<"$case_out")" "case district"
tl_assert_eq running "$(field case production <<<"$case_out")" "production"
tl_assert_eq 200000000 "$(field case fines_fen <<<"$case_out")" "fines"
tl_assert_eq 5000 "$(field case seized_kg <<<"$case_out")" "seized"
tl_assert_eq True "$(field case computed <<<"$case_out")" "award computed"
# 100,000 yuan base + 5 % of 2,000,000 yuan fines = 200,000 yuan.
tl_assert_eq 20000000 "$(field case computed_fen <<<"$case_out")" "computed award"
tl_assert_eq "$rid" "$(field share report_id <<<"$case_out")" "the reporter's share"
tl_assert_eq first "$(field share share_kind <<<"$case_out")" "first reporter"
tl_assert_contains "$case_out" "# award: 20000000 fen" "trace"
tl_assert_eq "$(date -u +%Y)" "$(field case budget_year <<<"$case_out")" "budget year"

# A malformed event (the admin user can publish anything) is terminated
# and counted; the loop keeps going: a later claim on a second report
# still comes through.
python3 - "$NATS_PORT" "$(<"$TL_KEYS/nats-admin.pw")" <<'EOF'
import json, socket, sys
port, pw = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), timeout=5)
f = s.makefile("rb")
f.readline()
conn = {"user": "admin", "pass": pw, "verbose": False, "pedantic": False, "headers": True}
body = b'{"v":1,"type":"event","ev":1,"event":"verdict","lead_id":"zz"}'
subj = "tl.event.120116.0123456789abcdef0123456789abcdef.verdict"
s.sendall(("CONNECT %s\r\nPUB %s %d\r\n" % (json.dumps(conn), subj, len(body))).encode() + body + b"\r\nPING\r\n")
while True:
    l = f.readline()
    if not l or l.startswith(b"PONG") or l.startswith(b"-ERR"):
        break
EOF
terminated() { grep -q "malformed or inconsistent; terminated" "$TL_LOG_PAYOUTS"; }
tl_wait_for 15 terminated || tl_fail "the malformed event was not terminated"

tl_post_report '{"text":"滨海新区另一处工厂夜间炼钢","district":"120116"}' >/dev/null
tl_assert_eq 201 "$TL_HTTP_STATUS" "second report"
rid2=$(tl_json_get "$TL_HTTP_BODY" report_id)
tl_wait_for 15 has_status "$rid2" received || tl_fail "payouts stopped after the malformed message"
lead2=$(pctl show status "$rid2" | field status case_id)
has_case2() { dctl dump | grep -- "$rid2" >/dev/null; }
tl_wait_for 10 has_case2 || tl_fail "the district never got the second lead"
dctl claim "$lead2" || tl_fail "second claim failed"
tl_wait_for 15 has_status "$rid2" investigating || tl_fail "second claim never applied"

# Nothing identifying or from the tip text is logged by payouts (its
# database stores ids, times and codes only: payouts/cases.c's schema).
tl_stop_payouts
for canary in PAYTIP PAYNAME 13912345678 中频炉; do
	! grep -q "$canary" "$TL_LOG_PAYOUTS" || tl_fail "payouts log contains '$canary'"
done
! grep -q 'Violation' "$TL_LOG_NATS" || tl_fail "a permissions violation was logged: $(grep Violation "$TL_LOG_NATS" | head -3)"

tl_stop_district bh
tl_stop_intake
tl_pass
