#!/usr/bin/env bash
# Two simultaneous reporters of one site, across every real process: two
# reports about the same plant reach district 120116; the responder merges
# the later lead into the earlier one and records a verdict (idle but
# restartable, 100 fen of fines: 50,000 yuan + 3 fen).  Payouts computes
# one award for the merged case, split equally between the two reporters
# with the odd fen to the earlier one (2,500,002 + 2,500,001 fen), and
# each reporter's receipt shows their own share.  The first reporter
# claims and is paid through an export and confirmation; the second never
# claims, and when the claim window ends their share alone is forfeited
# and returned to the budget.  The award ends "paid" (one share paid, one
# forfeited), the budget is down by exactly the paid share, and the
# ledger checks out.
# Helpers are called through tl_wait_for:
# shellcheck disable=SC2317
set -euo pipefail
# shellcheck source=tests/lib.sh
source "${TL_SRC_DIR:-.}/tests/lib.sh"

# Long enough to claim in (even under ASan), short enough to watch lapse.
DEVENV_CLAIM_WINDOW_S=20
tl_setup
tl_need "$TL_BIN_INTAKE" "$TL_BIN_VAULT" "$TL_BIN_DISTRICT" "$TL_BIN_DISTRICT_CTL" "$TL_BIN_PAYOUTS" \
	"$TL_BIN_PAYOUTS_CTL"
grep -q '^claim_window_seconds = 20$' "$TL_PAYOUTS_INI" || tl_fail "the claim window was not shortened"
# The test polls the receipts often: lift intake's per-client lookup limit.
sed -i '/^\[intake\]/a receipt_lookups_per_minute = 10000' "$TL_INTAKE_INI"
D=120116
PW=correct-horse-battery-5
YEAR=$(python3 -c 'import time; print(time.gmtime(time.time() + 8 * 3600).tm_year)')
padmin() { "$TL_BIN_PAYOUTS" -c "$TL_PAYOUTS_INI" "$@"; }
ctl() { "$TL_BIN_PAYOUTS_CTL" -c "$TL_PAYOUTS_INI" "$@"; }
dctl() { tl_district_ctl all "$D" resp.li responder "$@"; }
printf '%s\n' "$PW" | padmin user add prop.s finance_proposer "$D" >/dev/null || tl_fail "user prop.s"
line=$(printf '%s\n' "$PW" | padmin user add appr.s finance_approver "$D") || tl_fail "user appr.s"
grep -E '^appr\.s district [0-9a-f]{64}$' <<<"$line" >>"$T/etc/approvers.txt" || tl_fail "approver line: $line"
printf '%s\n' "$PW" | padmin user add pay.s finance_payer "$D" >/dev/null || tl_fail "user pay.s"
padmin budget fund "$D" "$YEAR" 100000 1 >/dev/null || tl_fail "budget"

tl_start_vault
tl_start_intake
tl_start_district
tl_start_payouts

declare -a RID RCPT LEAD
for i in 0 1; do
	tl_post_report "{\"text\":\"SPLIT-$i 滨海新区某钢厂用中频炉炼地条钢\",\"district\":\"$D\"}" >/dev/null
	tl_assert_eq 201 "$TL_HTTP_STATUS" "report $i"
	RID[i]=$(tl_json_get "$TL_HTTP_BODY" report_id)
	r=$(tl_json_get "$TL_HTTP_BODY" receipt)
	RCPT[i]=${r// /}
	sleep 0.05 # report 0 is the first reporter
done
has() { dctl dump | grep -- "$1" >/dev/null; }
for i in 0 1; do
	tl_wait_for 20 has "${RID[i]}" || tl_fail "lead $i never reached the district"
	line=$(dctl dump | grep -- "${RID[i]}")
	LEAD[i]=${line%% *}
done
out=$(dctl merge "${LEAD[0]}" "${LEAD[1]}" 2>&1) || tl_fail "merge: $out"
dctl claim "${LEAD[0]}" >/dev/null || tl_fail "claim"
dctl verdict "${LEAD[0]}" substantiated 1 10000 idle_restartable 0 100 >/dev/null || tl_fail "verdict"

status_json() { curl -sS --max-time 5 "$INTAKE_URL/api/v1/receipts/${RCPT[$1]}"; }
status_of() { status_json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("status",""))'; }
is_status() { [[ $(status_of "$1") == "$2" ]]; }
for i in 0 1; do
	tl_wait_for 30 is_status "$i" verified || tl_fail "reporter $i never verified ($(status_of "$i"))"
done
field() { python3 -c 'import json,sys
for l in sys.stdin:
  if l.startswith("{"):
    o=json.loads(l)
    if o.get("kind")==sys.argv[1]: print(o[sys.argv[2]])' "$1" "$2"; }
show=$(ctl show case "${LEAD[0]}")
tl_assert_eq 5000003 "$(field case computed_fen <<<"$show")" "computed award of the merged case"
tl_assert_eq $'2500002\n2500001' "$(field share fen <<<"$show")" "equal split, odd fen to the first"
tl_assert_eq "${RID[0]}"$'\n'"${RID[1]}" "$(field share report_id <<<"$show")" "shares in report order"
tl_assert_eq $'first\nsimultaneous' "$(field share share_kind <<<"$show")" "share kinds"

tl_stop_payouts # audited ctl actions need the chain the daemon holds
award=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
ctl propose "${LEAD[0]}" "$award" prop.s >/dev/null || tl_fail "propose"
out=$(printf '%s\n' "$PW" | ctl decide "$award" appr.s approve ok) || tl_fail "approve: $out"
tl_assert_contains "$out" "award approved" "one approver below the threshold"
tl_start_payouts

for i in 0 1; do
	tl_wait_for 20 is_status "$i" award_approved || tl_fail "reporter $i never award_approved ($(status_of "$i"))"
done
tl_assert_eq 2500002 "$(tl_json_get "$(status_json 0)" amount_fen)" "reporter 0's share"
tl_assert_eq 2500001 "$(tl_json_get "$(status_json 1)" amount_fen)" "reporter 1's share"

# Reporter 0 claims at once; reporter 1 never does.
tl_http POST "/api/v1/receipts/${RCPT[0]}/claim" -H 'Content-Type: application/json' \
	--data-binary '{"name":"甄先到","id_number":"120116198507153314","bank":"中国建设银行天津滨海支行","account":"6227000012345678901","phone":"13700001111"}' >/dev/null
tl_assert_eq 202 "$TL_HTTP_STATUS" "claim"
tl_wait_for 15 is_status 0 claim_received || tl_fail "reporter 0's claim never received ($(status_of 0))"
tl_wait_for 40 is_status 1 forfeited || tl_fail "reporter 1's share never forfeited ($(status_of 1))"
tl_assert_eq 2500001 "$(tl_json_get "$(status_json 1)" amount_fen)" "forfeited amount"
tl_assert_eq claim_received "$(status_of 0)" "the claimed share is not forfeited"

tl_stop_payouts
out=$(ctl export pay.s "$D") || tl_fail "export: $out"
read -r _ batch _ rows <<<"$out"
tl_assert_eq 1 "$rows" "one share exported"
ctl confirm pay.s "$batch" >/dev/null || tl_fail "confirm"
aw=$(ctl show award "$award")
tl_assert_eq $'paid\nforfeited' "$(field share state <<<"$aw")" "share states"
tl_assert_eq paid "$(field award status <<<"$aw")" "award status"
tl_assert_contains "$(padmin budget show "$D" "$YEAR")" "remaining_fen=$((10000000 - 2500002))" \
	"budget: only the paid share is spent"
out=$(ctl check) || tl_fail "ledger check: $out"
tl_assert_eq "ledger ok" "$out" "ledger"
tl_start_payouts
tl_wait_for 20 is_status 0 paid || tl_fail "reporter 0 never paid ($(status_of 0))"
tl_assert_eq forfeited "$(status_of 1)" "reporter 1 stays forfeited"
tl_pass
