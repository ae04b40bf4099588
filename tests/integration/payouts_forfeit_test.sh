#!/usr/bin/env bash
# An approved award nobody claims: with a claim window of a few seconds,
# the running daemon's scanner forfeits the share once the window has
# passed, the money goes back to the district's budget, the reporter's
# receipt says forfeited (with the amount), the audit chain has the
# forfeit entry and verifies, and the ledger checks out.
# Helpers are called through tl_wait_for:
# shellcheck disable=SC2317
set -euo pipefail
# shellcheck source=tests/lib.sh
source "${TL_SRC_DIR:-.}/tests/lib.sh"

# The window is counted from the final approval.
DEVENV_CLAIM_WINDOW_S=4
tl_setup
# The test polls the receipt: lift intake's per-client lookup limit.
sed -i '/^\[intake\]/a receipt_lookups_per_minute = 10000' "$TL_INTAKE_INI"
tl_need "$TL_BIN_INTAKE" "$TL_BIN_DISTRICT" "$TL_BIN_DISTRICT_CTL" "$TL_BIN_PAYOUTS" "$TL_BIN_PAYOUTS_CTL"
grep -q '^claim_window_seconds = 4$' "$TL_PAYOUTS_INI" || tl_fail "the claim window was not shortened"
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

printf '%s\n' "$PW" | padmin user add p.bh finance_proposer 120116 >/dev/null
printf '%s\n' "$PW" | padmin user add a.bh1 finance_approver 120116 >/dev/null
year=$(TZ=Asia/Shanghai date +%Y)
padmin budget fund 120116 "$year" 1000000 1 >/dev/null

tl_start_intake
tl_start_district bh
tl_start_payouts

tl_post_report '{"text":"滨海新区某厂无证炼钢","district":"120116"}' >/dev/null
tl_assert_eq 201 "$TL_HTTP_STATUS" "report"
rid=$(tl_json_get "$TL_HTTP_BODY" report_id)
receipt=$(tl_json_get "$TL_HTTP_BODY" receipt)
tl_wait_for 15 has_status "$rid" received || tl_fail "payouts never got the lead"
lead=$(pctl show status "$rid" | field status case_id)
has_case() { dctl dump | grep -- "$rid" >/dev/null; }
tl_wait_for 10 has_case || tl_fail "the district never got the lead"
dctl claim "$lead" || tl_fail "claim"
dctl verdict "$lead" substantiated 1 10000 running 100 0 || tl_fail "verdict"
tl_wait_for 15 has_status "$rid" verified || tl_fail "payouts never applied the verdict"

# Propose and approve (100,000 yuan: one approval) while the daemon is
# stopped (it holds the audit chain), then start it again.
tl_stop_payouts
award=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
pctl propose "$lead" "$award" p.bh >/dev/null || tl_fail "propose"
out=$(printf '%s\n' "$PW" | pctl decide "$award" a.bh1 approve ok) || tl_fail "approve: $out"
tl_assert_contains "$out" "award approved" "approved"
tl_assert_contains "$(padmin budget show 120116 "$year")" "remaining_fen=90000000" "reserved"
tl_assert_eq award_approved "$(pstatus "$rid")" "approved status"
tl_start_payouts

tl_wait_for 30 has_status "$rid" forfeited || tl_fail "the share was never forfeited: $(pctl show award "$award")"
aw=$(pctl show award "$award")
tl_assert_eq forfeited "$(field share state <<<"$aw")" "share state"
tl_assert_eq forfeited "$(field award status <<<"$aw")" "award status (every share forfeited)"
tl_assert_contains "$(padmin budget show 120116 "$year")" "remaining_fen=100000000" "money back in the budget"
receipt_forfeited() {
	tl_http GET "/api/v1/receipts/${receipt// /}" >/dev/null
	[[ $(tl_json_get "$TL_HTTP_BODY" status) == forfeited ]]
}
tl_wait_for 10 receipt_forfeited || tl_fail "receipt status: $TL_HTTP_BODY"
tl_assert_eq 10000000 "$(tl_json_get "$TL_HTTP_BODY" amount_fen)" "forfeited amount"

tl_stop_payouts
out=$(pctl check) || tl_fail "ledger check: $out"
tl_assert_eq "ledger ok" "$out" "ledger"
chain=$T/payouts/audit.tla
tl_assert_contains "$(cat "$chain")" "	system	forfeit	award:$award,share:0," "forfeit audited"
tl_assert_eq 1 "$(grep -c '	forfeit	' "$chain")" "one forfeit entry"
"$TL_BIN_CLI" audit verify --pubkey "$TL_KEYS/audit-payouts.pub" "$chain" >/dev/null || tl_fail "audit chain"
tl_stop_district bh
tl_stop_intake
tl_pass
