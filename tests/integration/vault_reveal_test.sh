#!/usr/bin/env bash
# Payee reveal (docs/award-flow.md section 4, docs/vault.md).  A test
# program plays tipline-payouts: it signs the canonical award text with
# Ed25519 keys listed in the vault's approvers file and asks the vault, as
# the NATS user payouts, on tl.vault.reveal.  A properly approved award gets
# one row per share, sealed to the finance export key, which opens to the
# reporter's payee details.  The vault refuses a tampered amount, a
# self-approval, a single approver above the threshold, two approvers
# without a city-level one, an approver not in its file, a payee_ref that
# is not the report's latest claim, and a payee that is not eligible.
# Every reveal and refusal is in the vault's audit chain, which verifies.
set -euo pipefail
# shellcheck source=tests/lib.sh
source "${TL_SRC_DIR:-.}/tests/lib.sh"

CLAIM=$TL_BUILD_DIR/tests/itest_vault_claim
REVEAL=$TL_BUILD_DIR/tests/itest_vault_reveal

tl_setup
tl_need "$TL_BIN_VAULT" "$TL_BIN_INTAKE" "$CLAIM" "$REVEAL"
for f in finance-export.key finance-export.pub vault-exclusion.key nats-payouts.pw; do
	[[ -e $TL_KEYS/$f ]] || tl_fail "tipline keygen did not make $f"
done
for f in approvers exclusions; do [[ -e $T/etc/$f.txt ]] || : >"$T/etc/$f.txt"; done

# ---- approvers: the proposer is listed too (a valid key, wrong role) -------
mkdir -m 700 "$T/staff"
declare -A LEVEL=([fin.li]=district [fin.wang]=district [fin.zhao]=district [city.chen]=city)
for s in fin.li fin.wang fin.zhao city.chen ghost.he; do
	pk=$("$REVEAL" keypair "$T/staff/$s.key") || tl_fail "keypair $s"
	[[ $s == ghost.he ]] && continue # signs, but the vault does not know him
	printf '%s %s %s\n' "$s" "${LEVEL[$s]}" "$pk" >>"$T/etc/approvers.txt"
done
sed -i '1i # staff_id level ed25519-public-key' "$T/etc/approvers.txt"

tl_start_vault
tl_start_intake

# ---- three reports and their claims ---------------------------------------
# report N: prints "report_id status_key"
report() {
	local rid leads skey
	tl_post_report "{\"text\":\"静海区某厂用中频炉生产地条钢，线索$1。\",\"location\":\"静海区\"}" >/dev/null
	[[ $TL_HTTP_STATUS == 201 ]] || tl_fail "report $1: HTTP $TL_HTTP_STATUS"
	rid=$(tl_json_get "$TL_HTTP_BODY" report_id)
	for _ in $(seq 100); do
		leads=$(tl_stream_dump TL_LEADS)
		[[ $leads == *"$rid"* ]] && break
		sleep 0.1
	done
	skey=$(python3 -c 'import json,sys
for line in sys.stdin.read().splitlines():
    m = json.loads(line.split(" ", 2)[2])
    if m["report_id"] == sys.argv[1]: print(m["status_key"])' "$rid" <<<"$leads")
	[[ $skey =~ ^[0-9a-f]{64}$ ]] || tl_fail "no status key for report $1"
	printf '%s %s\n' "$rid" "$skey"
}

# payee_ref_of CLAIM_ID: waits for the claim's eligibility, prints
# "payee_ref eligible".
payee_ref_of() {
	local dump out
	for _ in $(seq $((200 * TL_SLOW))); do
		dump=$(tl_stream_dump TL_PAYEES)
		out=$(python3 -c 'import json,sys
for line in sys.stdin.read().splitlines():
    m = json.loads(line.split(" ", 2)[2])
    if m["claim_id"] == sys.argv[1]: print(m["payee_ref"], "true" if m["eligible"] else "false")' "$1" <<<"$dump")
		[[ -n $out ]] && { printf '%s\n' "$out"; return 0; }
		sleep 0.1
	done
	tl_fail "no eligibility for claim $1"
}

# claim STATUS_KEY NAME ID ACCOUNT: prints the claim id
claim() {
	"$CLAIM" -s "$NATS_URL" -u admin -p "$TL_KEYS/nats-admin.pw" -k "$TL_KEYS/vault-box.pub" \
		-K "$1" "$2" "$3" "Tianjin Bank" "$4" 13800138000
}

# Claims follow their deposits on the same work queue, which the vault
# takes in order: no need to wait for the deposits first.
read -r R1 K1 <<<"$(report 1)"
read -r R2 K2 <<<"$(report 2)"
read -r R3 K3 <<<"$(report 3)"

ID1=11010519491231002X
ID2=120118198001011231
ID3=120104199003070012
printf '%s\n' "$ID3" | "$TL_BIN_VAULT" -c "$TL_VAULT_INI" exclusion-hash >>"$T/etc/exclusions.txt" ||
	tl_fail "exclusion-hash failed"

c=$(claim "$K1" "Zhang Yi" "$ID1" 6222000011112222333)
read -r REF1 el <<<"$(payee_ref_of "$c")"
tl_assert_eq true "$el" "claim of report 1 eligible"
c=$(claim "$K2" "Li Er" "$ID2" 6222000011112222444)
read -r REF2_OLD el <<<"$(payee_ref_of "$c")"
tl_assert_eq true "$el" "first claim of report 2 eligible"
# Report 2 claims again with another account: the latest claim counts.
c=$(claim "$K2" "Li Er" "$ID2" 6222000011112222555)
read -r REF2 el <<<"$(payee_ref_of "$c")"
tl_assert_eq true "$el" "second claim of report 2 eligible"
c=$(claim "$K3" "Wang San" "$ID3" 6222000011112222666)
read -r REF3 el <<<"$(payee_ref_of "$c")"
tl_assert_eq false "$el" "claim of report 3 (excluded)"

# ---- awards ---------------------------------------------------------------
AID=$(python3 -c 'import os; print(os.urandom(16).hex())')
CID=$(python3 -c 'import os; print(os.urandom(16).hex())')
"$REVEAL" award -o "$T/big.txt" -i "$AID" -c "$CID" -T 20000000 -P fin.li "$R1" "$R2" || tl_fail "award"
# The same award for two more fen: signed as big.txt, sent as this.
"$REVEAL" award -o "$T/big-tampered.txt" -i "$AID" -c "$CID" -T 20000002 -P fin.li "$R1" "$R2" ||
	tl_fail "award (tampered)"
AID3=$(python3 -c 'import os; print(os.urandom(16).hex())')
"$REVEAL" award -o "$T/small.txt" -i "$AID3" -c "$CID" -T 500000 -P fin.li "$R3" || tl_fail "award (small)"

# ask AWARD_FILE APPROVERS SHARES... [-- extra options]: prints the reply.
ask() {
	local award=$1 approvers=$2 a
	shift 2
	local -a args=()
	for a in ${approvers//,/ }; do args+=(-A "$a=$T/staff/$a.key"); done
	while (($#)); do
		if [[ $1 == -S || $1 == -X || $1 == -x ]]; then args+=("$1" "$2"); shift 2; continue; fi
		args+=(-r "$1")
		shift
	done
	"$REVEAL" request -s "$NATS_URL" -u payouts -p "$TL_KEYS/nats-payouts.pw" -a "$award" "${args[@]}"
}

# ---- the approved award reveals, sealed to the finance export key ----------
out=$(ask "$T/big.txt" fin.wang,city.chen "0,$R1,$REF1" "1,$R2,$REF2" \
	-X "$TL_KEYS/finance-export.key" -x "$TL_KEYS/finance-export.pub") || tl_fail "reveal request failed: $out"
tl_assert_contains "$out" "ok 2" "approved reveal"
tl_assert_contains "$out" "row 0 $R1 name=Zhang Yi id=$ID1 account=6222000011112222333" "row of report 1"
tl_assert_contains "$out" "row 1 $R2 name=Li Er id=$ID2 account=6222000011112222555" "row of report 2 (latest claim)"
# Without the export key the rows are opaque to payouts.
out=$(ask "$T/big.txt" fin.wang,city.chen "0,$R1,$REF1" -X "$TL_KEYS/vault-exclusion.key" \
	-x "$TL_KEYS/finance-export.pub") || tl_fail "reveal request failed: $out"
tl_assert_contains "$out" "row 0 $R1 unopenable" "row opened with another key"

# ---- refusals ---------------------------------------------------------------
expect() {
	local want=$1 what=$2 out
	shift 2
	out=$(ask "$@") || tl_fail "$what: request failed: $out"
	tl_assert_eq "refused $want" "$out" "$what"
}
SH=("0,$R1,$REF1" "1,$R2,$REF2")
expect signature "tampered amount" "$T/big-tampered.txt" fin.wang,city.chen "${SH[@]}" -S "$T/big.txt"
expect rules "self-approval" "$T/big.txt" fin.li,city.chen "${SH[@]}"
expect rules "single approver above the threshold" "$T/big.txt" city.chen "${SH[@]}"
expect rules "no city-level approver" "$T/big.txt" fin.wang,fin.zhao "${SH[@]}"
expect signature "unknown staff" "$T/big.txt" ghost.he,city.chen "${SH[@]}"
expect unknown_payee "payee_ref not the latest claim" "$T/big.txt" fin.wang,city.chen "0,$R1,$REF1" "1,$R2,$REF2_OLD"
expect not_eligible "payee not eligible" "$T/small.txt" fin.wang "0,$R3,$REF3"
# ...while one district approver is enough for the small award's rule.
expect rules "the small award's proposer" "$T/small.txt" fin.li "0,$R3,$REF3"

# ---- the audit chain ----------------------------------------------------------
tl_stop_intake
tl_stop_vault
out=$("$TL_BIN_CLI" audit verify --pubkey "$TL_KEYS/audit-vault.pub" "$T/vault/audit.tla") ||
	tl_fail "audit verify: $out"
chain=$(<"$T/vault/audit.tla")
n=$(grep -c "	fin.wang+city.chen	reveal	award:$AID,share:" <<<"$chain" || true)
tl_assert_eq 3 "$n" "reveal entries (2 + 1 shares)"
n=$(grep -c "	reveal_refused	award:" <<<"$chain" || true)
tl_assert_eq 8 "$n" "reveal_refused entries"
for code in signature rules unknown_payee not_eligible; do
	n=$(grep -c "	reveal_refused	award:[0-9a-f]*	$code	" <<<"$chain" || true)
	((n >= 1)) || tl_fail "no reveal_refused entry with reason $code"
done
tl_assert_contains "$chain" "	fin.wang+fin.zhao	reveal_refused	award:$AID	rules	" "refusal names the approvers"
tl_assert_not_contains "$chain" "$ID1" "audit chain"
tl_assert_not_contains "$chain" "Zhang" "audit chain"

tl_pass
