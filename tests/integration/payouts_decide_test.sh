#!/usr/bin/env bash
# The finance decisions through tl-payouts-ctl on an award above the
# dual-approval threshold: the proposer cannot approve, a wrong password
# signs nothing, one district approval leaves the award proposed, a second
# district approver cannot complete it without a city approver, a budget
# too small gives the "budget exhausted" message, and the city approver
# completes it once the budget is topped up.  The reporter's receipt then
# says award_approved with the amount and the claim deadline, the audit
# chain holds propose/approve/approve and verifies, and the ledger checks.
# Helpers are called through tl_wait_for:
# shellcheck disable=SC2317
set -euo pipefail
# shellcheck source=tests/lib.sh
source "${TL_SRC_DIR:-.}/tests/lib.sh"

tl_setup
tl_need "$TL_BIN_INTAKE" "$TL_BIN_DISTRICT" "$TL_BIN_DISTRICT_CTL" "$TL_BIN_PAYOUTS" "$TL_BIN_PAYOUTS_CTL"
devenv_write_district_ini bh 120116

PW=finance-pass-2026
padmin() { "$TL_BIN_PAYOUTS" -c "$TL_PAYOUTS_INI" "$@"; }
pctl() { "$TL_BIN_PAYOUTS_CTL" -c "$TL_PAYOUTS_INI" "$@"; }
dctl() { tl_district_ctl bh 120116 resp.li responder "$@"; }
field() { python3 -c 'import json,sys
for l in sys.stdin:
  if l.startswith("{"):
    o=json.loads(l)
    if o.get("kind")==sys.argv[1]: print(o[sys.argv[2]]); break' "$1" "$2"; }
pstatus() { pctl show status "$1" 2>/dev/null | field status status; }
has_status() { [[ $(pstatus "$1") == "$2" ]]; }
# decide AWARD STAFF PASSWORD: prints the output, sets rc.
decide() {
	rc=0
	out=$(printf '%s\n' "$3" | pctl decide "$1" "$2" approve ok 2>&1) || rc=$?
}

# Users: an approver's `user add` prints the line for the vault's
# approvers file.
printf '%s\n' "$PW" | padmin user add p.bh finance_proposer 120116 >/dev/null
for u in a.bh1:120116 a.bh2:120116 a.city:120000; do
	line=$(printf '%s\n' "$PW" | padmin user add "${u%%:*}" finance_approver "${u#*:}")
	[[ $line =~ (^|$'\n')${u%%:*}\ (district|city)\ [0-9a-f]{64}($|$'\n') ]] || tl_fail "approver line: $line"
done
tl_assert_contains "$line" "a.city city " "city approver's level"
# `user approvers` regenerates the vault's approvers file: every enabled
# approver, nobody else, the same lines `user add` printed.
listed=$(padmin user approvers | grep -v '^#')
tl_assert_eq 3 "$(grep -c . <<<"$listed")" "approvers listed"
tl_assert_contains "$listed" "$(grep '^a.city city ' <<<"$line")" "the city approver's line as user add printed it"
tl_assert_not_contains "$listed" "p.bh" "a proposer is no approver"
padmin user disable a.bh2 >/dev/null || tl_fail "disable a.bh2"
tl_assert_not_contains "$(padmin user approvers)" "a.bh2" "a disabled approver is not listed"
padmin user enable a.bh2 >/dev/null || tl_fail "enable a.bh2"
tl_assert_contains "$(padmin user approvers)" "a.bh2 district " "listed again once enabled"
year=$(TZ=Asia/Shanghai date +%Y)
# 300,000 yuan: less than the 500,000-yuan award.
out=$(padmin budget fund 120116 "$year" 300000 1)
tl_assert_contains "$out" "remaining_fen=30000000" "funded"
out=$(padmin budget fund 120116 "$year" 300000 1)
tl_assert_contains "$out" "already funded" "same funding twice"
tl_assert_contains "$out" "remaining_fen=30000000" "funded once"

tl_start_intake
tl_start_district bh
tl_start_payouts

tl_post_report '{"text":"滨海新区某钢厂违规生产","district":"120116"}' >/dev/null
tl_assert_eq 201 "$TL_HTTP_STATUS" "report"
rid=$(tl_json_get "$TL_HTTP_BODY" report_id)
receipt=$(tl_json_get "$TL_HTTP_BODY" receipt)
tl_wait_for 15 has_status "$rid" received || tl_fail "payouts never got the lead"
lead=$(pctl show status "$rid" | field status case_id)
has_case() { dctl dump | grep -- "$rid" >/dev/null; }
tl_wait_for 10 has_case || tl_fail "the district never got the lead"
dctl claim "$lead" || tl_fail "claim"
# 20,000,000 yuan of fines: the award reaches the 500,000-yuan cap.
dctl verdict "$lead" substantiated 3 50000 running 9000 2000000000 || tl_fail "verdict"
tl_wait_for 15 has_status "$rid" verified || tl_fail "payouts never applied the verdict"
tl_assert_eq 50000000 "$(pctl show case "$lead" | field case computed_fen)" "computed award (capped)"

award=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
# The running daemon holds the audit chain: audited actions wait for it.
rc=0
pctl propose "$lead" "$award" p.bh >/dev/null 2>&1 || rc=$?
tl_assert_eq 7 "$rc" "propose while the daemon holds the chain"
tl_stop_payouts

pctl propose "$lead" "$award" p.bh >/dev/null || tl_fail "propose"
pctl propose "$lead" "$award" p.bh >/dev/null || tl_fail "propose resubmitted"
aw=$(pctl show award "$award")
tl_assert_eq proposed "$(field award status <<<"$aw")" "status after propose"
tl_assert_eq 2 "$(field award required_approvals <<<"$aw")" "two approvals needed"
tl_assert_eq True "$(field award need_city <<<"$aw")" "city approver needed"

decide "$award" p.bh "$PW"
tl_assert_eq 5 "$rc" "the proposer deciding"
tl_assert_contains "$out" "not a finance_approver" "self-approval message"
decide "$award" a.bh1 wrong-password-1
tl_assert_eq 5 "$rc" "wrong password"
tl_assert_contains "$out" "wrong password" "wrong password message"
decide "$award" a.bh1 "$PW"
tl_assert_eq 0 "$rc" "first approval: $out"
tl_assert_contains "$out" "award proposed" "one approval above the threshold"
decide "$award" a.bh2 "$PW"
tl_assert_eq 5 "$rc" "second district approver"
tl_assert_contains "$out" "city-level" "city rule message"
decide "$award" a.city "$PW"
tl_assert_eq 5 "$rc" "over budget"
tl_assert_contains "$out" "budget exhausted: district 120116 has 30000000 fen left" "budget message"
tl_assert_eq proposed "$(pctl show award "$award" | field award status)" "still proposed"
tl_assert_eq verified "$(pstatus "$rid")" "reporter still verified"

padmin budget fund 120116 "$year" 300000 2 >/dev/null
decide "$award" a.city "$PW"
tl_assert_eq 0 "$rc" "city approval: $out"
tl_assert_contains "$out" "award approved" "approved"
tl_assert_contains "$(padmin budget show 120116 "$year")" "remaining_fen=10000000" "reserved"

# The reporter sees it through intake (ctl wrote TL_STATUS itself).
st=$(pctl show status "$rid")
tl_assert_eq award_approved "$(field status status <<<"$st")" "derived status"
tl_assert_eq 50000000 "$(field status amount_fen <<<"$st")" "amount"
tl_http GET "/api/v1/receipts/${receipt// /}" >/dev/null
tl_assert_eq 200 "$TL_HTTP_STATUS" "receipt lookup"
tl_assert_eq award_approved "$(tl_json_get "$TL_HTTP_BODY" status)" "receipt status"
tl_assert_eq 50000000 "$(tl_json_get "$TL_HTTP_BODY" amount_fen)" "receipt amount"
[[ -n $(tl_json_get "$TL_HTTP_BODY" claim_by) ]] || tl_fail "no claim deadline: $TL_HTTP_BODY"

out=$(pctl check) || tl_fail "ledger check: $out"
tl_assert_eq "ledger ok" "$out" "ledger"
chain=$T/payouts/audit.tla
tl_assert_eq 3 "$(grep -c . "$chain")" "audit entries (propose, approve, approve)"
tl_assert_contains "$(sed -n 1p "$chain")" "	p.bh	propose	award:$award,case:$lead	-	" "propose entry"
tl_assert_contains "$(sed -n 3p "$chain")" "	a.city	approve	award:$award" "final approval entry"
"$TL_BIN_CLI" audit verify --pubkey "$TL_KEYS/audit-payouts.pub" "$chain" >/dev/null || tl_fail "audit chain"

# The daemon starts again on the same chain and database.
tl_start_payouts
tl_stop_payouts
tl_stop_district bh
tl_stop_intake
tl_pass
