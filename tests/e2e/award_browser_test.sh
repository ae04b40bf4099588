#!/usr/bin/env bash
# The whole award in a real browser (Debian's chromium, headless, driven
# by playwright-core: tests/browser/award.mjs), against real nats-server,
# vault, intake, district node and tipline-payouts: a responder verifies
# the case in the district console; in the finance console a proposer
# proposes the computed award and a district and a city approver sign it
# with their passwords; the reporter finds the award on the /status page
# with the receipt and claims it with (canary) payee details; the vault
# finds them eligible; the payer exports a batch, downloads the sealed
# file and confirms payment; the reporter's page then says paid.
# Afterwards: `tipline payfile open` with the finance export key turns the
# downloaded file into exactly that payee, the ledger checks, both audit
# chains verify, and no canary (the reporter's contact details are the
# payee's) is in any stream, log, the decrypted payouts database, or any
# district or finance console page the browser saw.  Screenshots land in
# T/shots.
#
# Skips (exit 0 with a SKIP line) when chromium, node or
# tests/browser/node_modules is missing: `apt-get install chromium` and
# `(cd tests/browser && npm ci)`.
# Helpers are called through tl_wait_for:
# shellcheck disable=SC2317
set -euo pipefail
# shellcheck source=tests/lib.sh
source "${TL_SRC_DIR:-.}/tests/lib.sh"

skip() {
	printf '[%s] SKIP: %s\n' "$TL_TEST_NAME" "$*"
	exit 0
}
[[ -x /usr/bin/chromium ]] || skip "/usr/bin/chromium is not installed (apt-get install chromium)"
command -v node >/dev/null || skip "node is not installed"
[[ -d $TL_SRC_DIR/tests/browser/node_modules/playwright-core ]] ||
	skip "playwright-core is not installed (cd tests/browser && npm ci)"

tl_setup
tl_need "$TL_BIN_INTAKE" "$TL_BIN_VAULT" "$TL_BIN_DISTRICT" "$TL_BIN_PAYOUTS" "$TL_BIN_PAYOUTS_CTL"
command -v sqlcipher >/dev/null || tl_fail "the sqlcipher shell is needed to inspect the payouts database"
# The test polls the receipt often: lift intake's per-client lookup limit.
sed -i '/^\[intake\]/a receipt_lookups_per_minute = 10000' "$TL_INTAKE_INI"
CPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
CON=http://127.0.0.1:$CPORT
PW=correct-horse-battery-1
FPW=finance-horse-battery-2
devenv_write_district_ini br 120118
devenv_district_console br "$CPORT"
export DEVENV_DISTRICT_BIN=$TL_BIN_DISTRICT
devenv_district_user br resp.li responder 120118 "$PW"

# Finance users; approvers' public keys go to the vault's approvers file.
padd() {
	printf '%s\n' "$FPW" | "$TL_BIN_PAYOUTS" -c "$TL_PAYOUTS_INI" user add "$@" >>"$T/log/useradd.log" 2>&1 ||
		tl_fail "user add $*"
}
padd fin.prop finance_proposer 120118
padd appr.d finance_approver 120118
padd appr.city finance_approver 120000
padd fin.pay finance_payer all
grep -E '^appr\.[a-z]+ (district|city) [0-9a-f]{64}$' "$T/log/useradd.log" >>"$T/etc/approvers.txt"
[[ $(wc -l <"$T/etc/approvers.txt") == 2 ]] || tl_fail "expected 2 approver keys for the vault"
YEAR=$(python3 -c 'import time; print(time.gmtime(time.time() + 8 * 3600).tm_year)')
"$TL_BIN_PAYOUTS" -c "$TL_PAYOUTS_INI" budget fund 120118 "$YEAR" 1000000 1 >/dev/null || tl_fail "budget"

tl_start_vault
tl_start_intake
tl_start_district br
tl_start_payouts
tl_wait_for 10 curl -sSf "$CON/login" || tl_fail "district console does not answer on $CON"

# Canary identity of the reporter (in the report) and of the payee.
CANARY_NAME=甄栩栩
CANARY_ID=120101199003077717
CANARY_ACCT=6222021234567890123
CANARY_PHONE=13912345678
tl_post_report "{\"text\":\"静海区大邱庄镇某厂夜间用中频炉熔化废钢生产地条钢。\",\"district\":\"120118\",\"contact\":{\"name\":\"$CANARY_NAME\",\"phone\":\"$CANARY_PHONE\"}}" >/dev/null
tl_assert_eq 201 "$TL_HTTP_STATUS" "report accepted"
rid=$(tl_json_get "$TL_HTTP_BODY" report_id)
receipt=$(tl_json_get "$TL_HTTP_BODY" receipt)
receipt=${receipt// /}
has() { tl_district_ctl br 120118 resp.li responder dump | grep -- "$rid" >/dev/null; }
tl_wait_for 15 has || tl_fail "the lead never became a case"
line=$(tl_district_ctl br 120118 resp.li responder dump | grep -- "$rid")
lead=${line%% *}

mkdir -p "$T/shots"
payee=$(printf '{"name":"%s","id_number":"%s","bank":"中国工商银行天津分行","account":"%s","phone":"%s"}' \
	"$CANARY_NAME" "$CANARY_ID" "$CANARY_ACCT" "$CANARY_PHONE")
CON=$CON FIN=$PAYOUTS_URL INTAKE=$INTAKE_URL LEAD=$lead RECEIPT=$receipt PW=$PW FPW=$FPW PAYEE=$payee \
	SHOTS=$T/shots DL=$T/batch.tlpay timeout $((240 * TL_SLOW)) \
	node "$TL_SRC_DIR/tests/browser/award.mjs" >"$T/log/browser.log" 2>&1 ||
	{ cat "$T/log/browser.log" >&2; tl_fail "browser flow failed"; }

# The reporter's API agrees.
tl_http GET "/api/v1/receipts/$receipt"
tl_assert_eq 200 "$TL_HTTP_STATUS" "receipt lookup"
tl_assert_eq paid "$(tl_json_get "$TL_HTTP_BODY" status)" "status paid"
tl_assert_eq 10250000 "$(tl_json_get "$TL_HTTP_BODY" amount_fen)" "paid amount"

# The downloaded file opens only with the finance export key, to exactly
# the payee the reporter typed.
csv=$("$TL_BIN_CLI" payfile open "$T/batch.tlpay" -k "$T/keys/finance-export.key" -o -) ||
	tl_fail "payfile open"
for v in "$CANARY_NAME" "$CANARY_ID" "$CANARY_ACCT" "$CANARY_PHONE"; do
	tl_assert_contains "$csv" "$v" "payee in the opened batch"
done
rc=0
"$TL_BIN_CLI" payfile open "$T/batch.tlpay" -k "$T/keys/vault-box.key" -o - >/dev/null 2>&1 || rc=$?
[[ $rc != 0 ]] || tl_fail "the batch file opened with the wrong key"

# Money and audit.
tl_stop_payouts
out=$("$TL_BIN_PAYOUTS_CTL" -c "$TL_PAYOUTS_INI" check 2>&1) || tl_fail "ledger check: $out"
tl_assert_contains "$out" "ledger ok" "ledger balanced"
for chain in "$T/payouts/audit.tla:$T/keys/audit-payouts.pub" "$T/vault/audit.tla:$T/keys/audit-vault.pub"; do
	out=$("$TL_BIN_CLI" audit verify --pubkey "${chain#*:}" "${chain%%:*}" 2>&1) ||
		tl_fail "audit verify ${chain%%:*}: $out"
done
chain=$(cat "$T/payouts/audit.tla")
for action in propose approve export confirm; do
	tl_assert_contains "$chain" "	$action	" "payouts chain has $action"
done
tl_assert_contains "$(cat "$T/vault/audit.tla")" "	reveal	" "vault chain has the reveal"

# No payee canary outside the vault: streams, logs, the payouts database.
dump=""
for s in TL_LEADS TL_EVENTS TL_PAYEES TL_DEPOSITS KV_TL_STATUS; do
	dump+=$(tl_stream_dump "$s" 2>&1 || true)
done
logs=$(cat "$T"/log/*.log)
pdb=$(sqlcipher -batch "$TL_PAYOUTS_DB" <<SQL 2>&1
PRAGMA key = "x'$(cat "$TL_KEYS/payouts-db.key")'";
PRAGMA cipher_page_size = 4096;
.dump
SQL
)
[[ $pdb == *"CREATE TABLE"* ]] || tl_fail "could not decrypt the payouts database: ${pdb:0:200}"
for v in "$CANARY_NAME" "$CANARY_ID" "$CANARY_ACCT" "$CANARY_PHONE"; do
	tl_assert_not_contains "$dump" "$v" "canary in a stream"
	tl_assert_not_contains "$logs" "$v" "canary in a log"
	tl_assert_not_contains "$pdb" "$v" "canary in the payouts database"
done
tl_log "screenshots in $T/shots"
tl_stop_district br
tl_stop_intake
tl_stop_vault
tl_pass
