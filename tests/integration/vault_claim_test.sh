#!/usr/bin/env bash
# Award claims through the vault (docs/award-flow.md, docs/vault.md).  A real
# report goes through intake; claims for its receipt are sealed to the
# vault key and published on tl.deposit.claim.  Each decided claim gives
# exactly one eligibility message on TL_PAYEES: eligible, "excluded" (ID
# number on the exclusion list, added with `tipline-vault exclusion-hash`)
# or "invalid_id" (bad check digit).  A garbage seal and an unknown receipt
# publish nothing and are recorded in `rejected`.  A redelivered claim is
# still one message.  Finally no payee name, ID number, account or phone
# appears in any stream, log or file of the test, except inside the
# encrypted vault database (whose raw bytes are scanned too), and the
# vault's audit chain verifies.
set -euo pipefail
# shellcheck source=tests/lib.sh
source "${TL_SRC_DIR:-.}/tests/lib.sh"

CLAIM=$TL_BUILD_DIR/tests/itest_vault_claim

# Canaries: ASCII so that no JSON escaping could hide them from grep.
NAME="Qzxvcanary Wu"
ID_OK=120118198001011231
ID_EXCL=120104199003070012
ID_BADCHK=120104199003070013
ACCOUNT=6222990011223344556
PHONE=13912345678
BANK="Canary Bank Tianjin"

tl_setup
tl_need "$TL_BIN_VAULT" "$TL_BIN_INTAKE" "$CLAIM"
command -v sqlcipher >/dev/null || tl_fail "the sqlcipher shell is not installed"

# keygen and devenv make these; older trees may not have them yet.
for f in approvers exclusions; do [[ -e $T/etc/$f.txt ]] || : >"$T/etc/$f.txt"; done
if [[ ! -e $TL_KEYS/vault-exclusion.key ]]; then
	(umask 077 && python3 -c 'import os; print(os.urandom(32).hex())' >"$TL_KEYS/vault-exclusion.key")
fi
if [[ ! -e $TL_KEYS/finance-export.pub ]]; then
	python3 -c 'import os; print(os.urandom(32).hex())' >"$TL_KEYS/finance-export.pub"
fi

vault_sql() {
	printf 'PRAGMA key = "x'\''%s'\''";\nPRAGMA cipher_page_size = 4096;\n%s\n' \
		"$(<"$TL_KEYS/vault-db.key")" "$1" | sqlcipher "$TL_VAULT_DB"
}

# claim STATUS_KEY ID [itest options...]: publishes a claim, prints its id.
claim() {
	local key=$1 id=$2
	shift 2
	"$CLAIM" -s "$NATS_URL" -u admin -p "$TL_KEYS/nats-admin.pw" -k "$TL_KEYS/vault-box.pub" \
		-K "$key" "$@" "$NAME" "$id" "$BANK" "$ACCOUNT" "$PHONE"
}

# The eligibility messages on TL_PAYEES as "claim_id eligible reason payee_ref report_id".
payees() {
	local dump
	dump=$(tl_stream_dump TL_PAYEES) || tl_fail "stream-dump TL_PAYEES failed"
	python3 -c 'import json,sys
for line in sys.stdin.read().splitlines():
    seq, subj, data = line.split(" ", 2)
    assert subj == "tl.payee.result", subj
    m = json.loads(data)
    print(m["claim_id"], "true" if m["eligible"] else "false", m.get("reason", "-"), m["payee_ref"], m["report_id"])' <<<"$dump"
}

payees_for() {
	local all
	all=$(payees)
	grep -c "^$1 " <<<"$all" || true
}

has_result() { [[ $(payees_for "$1") -ge 1 ]]; }

rejected_count() { vault_sql "SELECT count(*) FROM rejected WHERE reason = '$1';"; }
has_rejected() { [[ $(rejected_count "$1") -ge 1 ]]; }

tl_start_vault
tl_start_intake

# ---- a real report and its status key ------------------------------------
tl_post_report '{"text":"静海区大邱庄某厂用中频炉生产地条钢，夜里出货。","location":"静海区"}' >/dev/null
tl_assert_eq 201 "$TL_HTTP_STATUS" "report accepted"
RID=$(tl_json_get "$TL_HTTP_BODY" report_id)
[[ $RID =~ ^[0-9a-f]{32}$ ]] || tl_fail "no report id in $TL_HTTP_BODY"
# The status key (keyed hash of the receipt) travels with the lead.
lead_seen() { local d; d=$(tl_stream_dump TL_LEADS) && [[ $d == *"$RID"* ]]; }
tl_wait_for 10 lead_seen || tl_fail "the lead of $RID never reached TL_LEADS"
leads=$(tl_stream_dump TL_LEADS)
SKEY=$(python3 -c 'import json,sys
for line in sys.stdin.read().splitlines():
    m = json.loads(line.split(" ", 2)[2])
    if m["report_id"] == sys.argv[1]: print(m["status_key"])' "$RID" <<<"$leads")
[[ $SKEY =~ ^[0-9a-f]{64}$ ]] || tl_fail "no status key for $RID"
deposit_stored() { [[ $(vault_sql "SELECT count(*) FROM deposits WHERE report_id = '$RID';") == 1 ]]; }
tl_wait_for 20 deposit_stored || tl_fail "the vault never stored the deposit of $RID"

# ---- eligible -------------------------------------------------------------
C_OK=$(claim "$SKEY" "$ID_OK")
tl_wait_for 20 has_result "$C_OK" || tl_fail "no eligibility for claim $C_OK"
r=$(payees)
tl_assert_contains "$r" "$C_OK true - " "eligible claim"
tl_assert_contains "$r" " $RID" "eligibility names the report"

# ---- excluded: the ID number's hash is on the list -------------------------
# The tool refuses a bad line and prints nothing (and never echoes it).
rc=0
out=$(printf '%s\n%s\n' "$ID_EXCL" "$ID_BADCHK" | "$TL_BIN_VAULT" -c "$TL_VAULT_INI" exclusion-hash 2>"$T/excl.err") || rc=$?
((rc != 0)) || tl_fail "exclusion-hash accepted a bad check digit"
tl_assert_eq "" "$out" "exclusion-hash output on a bad line"
tl_assert_contains "$(<"$T/excl.err")" "line 2" "exclusion-hash error"
tl_assert_not_contains "$(<"$T/excl.err")" "$ID_BADCHK" "exclusion-hash error"
line=$(printf '# legal representative of the plant\n%s\n' "${ID_EXCL,,}" | "$TL_BIN_VAULT" -c "$TL_VAULT_INI" exclusion-hash) ||
	tl_fail "exclusion-hash failed"
[[ $line =~ ^[0-9a-f]{64}$ ]] || tl_fail "exclusion-hash printed '$line'"
printf '# officials (added by the test)\n%s\n' "$line" >>"$T/etc/exclusions.txt"
C_EX=$(claim "$SKEY" "$ID_EXCL")
tl_wait_for 20 has_result "$C_EX" || tl_fail "no eligibility for claim $C_EX"
tl_assert_contains "$(payees)" "$C_EX false excluded " "excluded claim"

# ---- invalid ID number ----------------------------------------------------
C_BAD=$(claim "$SKEY" "$ID_BADCHK")
tl_wait_for 20 has_result "$C_BAD" || tl_fail "no eligibility for claim $C_BAD"
tl_assert_contains "$(payees)" "$C_BAD false invalid_id " "bad check digit"

# ---- nothing published: garbage seal, unknown receipt ----------------------
C_G=$(claim "$SKEY" "$ID_OK" -g)
tl_wait_for 20 has_rejected open || tl_fail "the garbage seal was not recorded in rejected"
UNKNOWN=$(python3 -c 'import os; print(os.urandom(32).hex())')
C_U=$(claim "$UNKNOWN" "$ID_OK")
tl_wait_for 20 has_rejected unknown_receipt || tl_fail "the unknown receipt was not recorded in rejected"
tl_assert_eq 0 "$(payees_for "$C_G")" "eligibility for a garbage seal"
tl_assert_eq 0 "$(payees_for "$C_U")" "eligibility for an unknown receipt"
tl_assert_eq 1 "$(vault_sql "SELECT count(*) FROM rejected WHERE claim_id = '$C_U';")" "rejected row of $C_U"

# ---- redelivery of a decided claim: still one message ------------------------
# Another Nats-Msg-Id gets it past TL_DEPOSITS' dedup, as a redelivery
# after a crash between publish and ack would arrive.
claim "$SKEY" "$ID_OK" -c "$C_OK" -m "claim:$C_OK:again" >/dev/null
tl_wait_for 20 grep -q "claim $C_OK already decided" "$TL_LOG_VAULT" ||
	tl_fail "the redelivered claim was not seen as already decided"
tl_assert_eq 1 "$(payees_for "$C_OK")" "eligibility messages for the redelivered claim"
tl_assert_eq 3 "$(payees | wc -l | tr -d ' ')" "eligibility messages in total"
tl_assert_eq 3 "$(vault_sql 'SELECT count(*) FROM payees;')" "payee rows"
tl_assert_eq 1 "$(vault_sql "SELECT count(*) FROM payees WHERE claim_id = '$C_OK' AND eligible = 1 AND account = '$ACCOUNT';")" \
	"the eligible payee row"

# ---- audit chain ------------------------------------------------------------
tl_stop_intake
tl_stop_vault
out=$("$TL_BIN_CLI" audit verify --pubkey "$TL_KEYS/audit-vault.pub" "$T/vault/audit.tla") ||
	tl_fail "audit verify: $out"
chain=$(<"$T/vault/audit.tla")
tl_assert_contains "$chain" "	claim_eligible	claim:$C_OK,report:$RID	-	" "audit: eligible claim"
tl_assert_contains "$chain" "	claim_refused	claim:$C_EX,report:$RID	excluded	" "audit: excluded claim"
tl_assert_contains "$chain" "	claim_refused	claim:$C_BAD,report:$RID	invalid_id	" "audit: invalid id"
tl_assert_contains "$chain" "	claim_rejected	claim:$C_U	unknown_receipt	" "audit: unknown receipt"

# ---- canaries ---------------------------------------------------------------
for s in TL_DEPOSITS TL_LEADS TL_EVENTS TL_PAYEES; do
	dump=$(tl_stream_dump "$s") || tl_fail "stream-dump $s failed"
	for c in "$NAME" "$ID_OK" "$ID_EXCL" "$ID_BADCHK" "$ACCOUNT" "$PHONE"; do
		tl_assert_not_contains "$dump" "$c" "stream $s"
	done
done
for c in "$NAME" "$ID_OK" "$ID_EXCL" "$ID_BADCHK" "$ACCOUNT" "$PHONE" "Qzxvcanary"; do
	hits=$(grep -rlaF -- "$c" "$T" || true)
	[[ -z $hits ]] || tl_fail "canary '$c' found in: $hits"
done
# ...while the vault really holds it (decrypted with its key).
tl_assert_eq 1 "$(vault_sql "SELECT count(*) FROM payees WHERE name = '$NAME' AND id_number = '$ID_OK';")" \
	"payee in the decrypted vault"

tl_pass
