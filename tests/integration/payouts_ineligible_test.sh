#!/usr/bin/env bash
# An ineligible payee across every real process (docs/award-flow.md):
# an approved award is claimed through intake by someone whose ID number is
# on the vault's exclusion list (an official, or the violator's legal
# representative, added as a keyed hash with `tipline-vault
# exclusion-hash`).  The vault answers "not eligible, excluded"; payouts
# records it and the reporter's status through intake becomes
# claim_refused with reason "excluded" and the claim deadline; an export
# finds nothing to pay and writes no file; no money moves.  A new claim
# with an eligible payee within the window then becomes claim_received and
# is exported and paid exactly once, to that payee only.
# Helpers are called through tl_wait_for:
# shellcheck disable=SC2317
set -euo pipefail
# shellcheck source=tests/lib.sh
source "${TL_SRC_DIR:-.}/tests/lib.sh"

tl_setup
tl_need "$TL_BIN_INTAKE" "$TL_BIN_VAULT" "$TL_BIN_DISTRICT" "$TL_BIN_DISTRICT_CTL" "$TL_BIN_PAYOUTS" \
	"$TL_BIN_PAYOUTS_CTL"
# The test polls the receipt often: lift intake's per-client lookup limit.
sed -i '/^\[intake\]/a receipt_lookups_per_minute = 10000' "$TL_INTAKE_INI"
PW=correct-horse-battery-9
D=120113
YEAR=$(python3 -c 'import time; print(time.gmtime(time.time() + 8 * 3600).tm_year)')
padd() {
	printf '%s\n' "$PW" | "$TL_BIN_PAYOUTS" -c "$TL_PAYOUTS_INI" user add "$@" >>"$T/log/useradd.log" 2>&1 ||
		tl_fail "user add $*"
}
padd prop.d finance_proposer "$D"
padd appr.d finance_approver "$D"
padd pay.d finance_payer "$D"
grep -E '^appr\.d district [0-9a-f]{64}$' "$T/log/useradd.log" >>"$T/etc/approvers.txt" || tl_fail "approver key"
"$TL_BIN_PAYOUTS" -c "$TL_PAYOUTS_INI" budget fund "$D" "$YEAR" 100000 1 >/dev/null || tl_fail "budget"

idnum() { python3 -c 'import sys
b=sys.argv[1]; w=[7,9,10,5,8,4,2,1,6,3,7,9,10,5,8,4,2]
print(b+"10X98765432"[sum(int(a)*c for a,c in zip(b,w))%11])' "$1"; }
ID_EXCL=$(idnum 12011319750312661)
ID_OK=$(idnum 12011319880809552)
# The official's ID number goes on the list only as a keyed hash.
"$TL_BIN_VAULT" -c "$TL_VAULT_INI" exclusion-hash <<<"$ID_EXCL" >>"$T/etc/exclusions.txt" ||
	tl_fail "exclusion-hash"
tl_assert_not_contains "$(cat "$T/etc/exclusions.txt")" "$ID_EXCL" "the exclusion list holds no ID number"

tl_start_vault
tl_start_intake
tl_start_district
tl_start_payouts
ctl() { "$TL_BIN_PAYOUTS_CTL" -c "$TL_PAYOUTS_INI" "$@"; }

tl_post_report "{\"text\":\"北辰区某厂用中频炉炼钢，产品是地条钢\",\"district\":\"$D\"}" >/dev/null
tl_assert_eq 201 "$TL_HTTP_STATUS" "report"
rid=$(tl_json_get "$TL_HTTP_BODY" report_id)
r=$(tl_json_get "$TL_HTTP_BODY" receipt)
receipt=${r// /}
has() { tl_district_ctl all "$D" x responder dump | grep -- "$rid" >/dev/null; }
tl_wait_for 20 has || tl_fail "the lead never reached the district"
line=$(tl_district_ctl all "$D" x responder dump | grep -- "$rid")
lead=${line%% *}
tl_district_ctl all "$D" resp.li responder claim "$lead" >/dev/null || tl_fail "claim"
# Idle but restartable plant, no fines: 50,000 yuan, one approver suffices.
tl_district_ctl all "$D" resp.li responder verdict "$lead" substantiated 1 10000 idle_restartable 0 0 \
	>/dev/null || tl_fail "verdict"
status_json() { curl -sS --max-time 5 "$INTAKE_URL/api/v1/receipts/$receipt"; }
status_of() { status_json | python3 -c 'import json,sys; print(json.load(sys.stdin).get("status",""))'; }
is_status() { [[ $(status_of) == "$1" ]]; }
tl_wait_for 30 is_status verified || tl_fail "never verified ($(status_of))"

tl_stop_payouts # the ctl's audited actions need the chain the daemon holds
award=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
ctl propose "$lead" "$award" prop.d >/dev/null || tl_fail "propose"
out=$(printf '%s\n' "$PW" | ctl decide "$award" appr.d approve "checked") || tl_fail "approve: $out"
tl_assert_contains "$out" "award approved" "approved by one approver"
tl_start_payouts
tl_wait_for 20 is_status award_approved || tl_fail "never award_approved ($(status_of))"

claim() { # claim ID_NUMBER NAME
	tl_http POST "/api/v1/receipts/$receipt/claim" -H 'Content-Type: application/json' \
		--data-binary "{\"name\":\"$2\",\"id_number\":\"$1\",\"bank\":\"中国银行天津北辰支行\",\"account\":\"6217 0000 1000 2000 333\",\"phone\":\"13800001111\"}" >/dev/null
	tl_assert_eq 202 "$TL_HTTP_STATUS" "claim accepted for checking"
}

# ---- the excluded payee ----
claim "$ID_EXCL" 甄官员
tl_wait_for 30 is_status claim_refused || tl_fail "never claim_refused ($(status_of))"
js=$(status_json)
tl_assert_eq excluded "$(tl_json_get "$js" reason)" "refusal reason"
tl_assert_eq 5000000 "$(tl_json_get "$js" amount_fen)" "amount still shown"
[[ -n $(tl_json_get "$js" claim_by) ]] || tl_fail "no claim deadline on the refusal"
page=$(curl -sS --max-time 5 "$INTAKE_URL/status?receipt=$receipt")
tl_assert_contains "$page" "领奖申请未通过" "status page: refused"
tl_assert_contains "$page" "/status/claim?receipt=" "status page: may claim again"
tl_stop_payouts
rc=0
out=$(ctl export pay.d "$D" 2>&1) || rc=$?
[[ $rc != 0 ]] || tl_fail "an export found something to pay: $out"
shopt -s nullglob
files=("$T"/payouts/batches/*.tlpay)
tl_assert_eq 0 "${#files[@]}" "no batch file for an excluded payee"
tl_assert_eq 0 "$(grep -c $'\texport\t' "$T/payouts/audit.tla" || true)" "no export in the audit chain"
tl_start_payouts

# ---- a new claim with an eligible payee ----
claim "$ID_OK" 甄领奖
tl_wait_for 30 is_status claim_received || tl_fail "second claim never claim_received ($(status_of))"
tl_stop_payouts
out=$(ctl export pay.d "$D") || tl_fail "export: $out"
read -r _ batch _ rows <<<"$out"
tl_assert_eq 1 "$rows" "one share exported"
csv=$("$TL_BIN_CLI" payfile open "$T/payouts/batches/batch-$batch.tlpay" -k "$TL_KEYS/finance-export.key" -o -) ||
	tl_fail "payfile open"
tl_assert_contains "$csv" "$ID_OK" "the eligible payee is paid"
tl_assert_not_contains "$csv" "$ID_EXCL" "the excluded payee is not"
tl_assert_not_contains "$csv" "甄官员" "the excluded payee's name is not"
ctl confirm pay.d "$batch" >/dev/null || tl_fail "confirm"
ctl check >/dev/null || tl_fail "ledger check"
tl_start_payouts
tl_wait_for 20 is_status paid || tl_fail "never paid ($(status_of))"
tl_assert_eq 5000000 "$(tl_json_get "$(status_json)" amount_fen)" "paid amount"
for f in "$T"/log/*.log; do
	tl_assert_not_contains "$(cat "$f")" "$ID_EXCL" "excluded ID number in $(basename "$f")"
done
tl_pass
