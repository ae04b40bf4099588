#!/usr/bin/env bash
# kill -9 of the running tipline-payouts daemon while the payer's export
# and confirmation are in flight through the finance console (the same
# code tl-payouts-ctl runs in payouts_export_test, here inside the daemon
# with its console threads, scanner and consumers).  Three approved and
# claimed awards; the payer posts "export" and the daemon is killed after
# a delay that grows each round, then restarted; then the same for
# "confirm".  At the end: no batch is left preparing, every share sits in
# exactly one live batch and is paid exactly once (one pay transfer per
# share), the ledger checks, the audit chain verifies, and every
# reporter's status is paid.
# Helpers are called through tl_wait_for:
# shellcheck disable=SC2317
set -euo pipefail
# shellcheck source=tests/lib.sh
source "${TL_SRC_DIR:-.}/tests/lib.sh"

tl_setup
tl_need "$TL_BIN_INTAKE" "$TL_BIN_VAULT" "$TL_BIN_DISTRICT" "$TL_BIN_DISTRICT_CTL" "$TL_BIN_PAYOUTS" \
	"$TL_BIN_PAYOUTS_CTL"
command -v sqlcipher >/dev/null || tl_fail "the sqlcipher shell is needed to inspect the payouts database"
# The test polls receipts: lift intake's per-client limits.
sed -i '/^\[intake\]/a receipt_lookups_per_minute = 10000\nclaim_posts_per_minute = 10000' "$TL_INTAKE_INI"
D=120114
N=3
PW=correct-horse-battery-3
YEAR=$(python3 -c 'import time; print(time.gmtime(time.time() + 8 * 3600).tm_year)')
padmin() { "$TL_BIN_PAYOUTS" -c "$TL_PAYOUTS_INI" "$@"; }
ctl() { "$TL_BIN_PAYOUTS_CTL" -c "$TL_PAYOUTS_INI" "$@"; }
dctl() { tl_district_ctl all "$D" resp.li responder "$@"; }
pq() {
	sqlcipher -batch "$TL_PAYOUTS_DB" <<SQL 2>/dev/null | sed '/^ok$/d'
PRAGMA key = "x'$(cat "$TL_KEYS/payouts-db.key")'";
PRAGMA cipher_page_size = 4096;
$1
SQL
}
printf '%s\n' "$PW" | padmin user add prop.k finance_proposer "$D" >/dev/null || tl_fail "user prop.k"
line=$(printf '%s\n' "$PW" | padmin user add appr.k finance_approver "$D") || tl_fail "user appr.k"
grep -E '^appr\.k district [0-9a-f]{64}$' <<<"$line" >>"$T/etc/approvers.txt" || tl_fail "approver line"
printf '%s\n' "$PW" | padmin user add pay.k finance_payer "$D" >/dev/null || tl_fail "user pay.k"
padmin budget fund "$D" "$YEAR" 1000000 1 >/dev/null || tl_fail "budget"

tl_start_vault
tl_start_intake
tl_start_district
tl_start_payouts

idnum() { python3 -c 'import sys
b=sys.argv[1]; w=[7,9,10,5,8,4,2,1,6,3,7,9,10,5,8,4,2]
print(b+"10X98765432"[sum(int(a)*c for a,c in zip(b,w))%11])' "$1"; }
declare -a RID RCPT LEAD AWARD
NAMES=(甄武甲 甄武乙 甄武丙)
for ((i = 0; i < N; i++)); do
	tl_post_report "{\"text\":\"KILL-$i 武清区某厂地条钢\",\"district\":\"$D\"}" >/dev/null
	tl_assert_eq 201 "$TL_HTTP_STATUS" "report $i"
	RID[i]=$(tl_json_get "$TL_HTTP_BODY" report_id)
	r=$(tl_json_get "$TL_HTTP_BODY" receipt)
	RCPT[i]=${r// /}
done
has() { dctl dump | grep -- "$1" >/dev/null; }
for ((i = 0; i < N; i++)); do
	tl_wait_for 20 has "${RID[i]}" || tl_fail "lead $i never reached the district"
	line=$(dctl dump | grep -- "${RID[i]}")
	LEAD[i]=${line%% *}
	dctl claim "${LEAD[i]}" >/dev/null || tl_fail "claim $i"
	dctl verdict "${LEAD[i]}" substantiated 1 10000 idle_restartable 0 0 >/dev/null || tl_fail "verdict $i"
done
status_of() {
	curl -sS --max-time 5 "$INTAKE_URL/api/v1/receipts/${RCPT[$1]}" |
		python3 -c 'import json,sys; print(json.load(sys.stdin).get("status",""))'
}
is_status() { [[ $(status_of "$1") == "$2" ]]; }
for ((i = 0; i < N; i++)); do
	tl_wait_for 30 is_status "$i" verified || tl_fail "case $i never verified ($(status_of "$i"))"
done
tl_stop_payouts
for ((i = 0; i < N; i++)); do
	AWARD[i]=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
	ctl propose "${LEAD[i]}" "${AWARD[i]}" prop.k >/dev/null || tl_fail "propose $i"
	printf '%s\n' "$PW" | ctl decide "${AWARD[i]}" appr.k approve ok >/dev/null || tl_fail "approve $i"
done
tl_start_payouts
for ((i = 0; i < N; i++)); do
	tl_wait_for 20 is_status "$i" award_approved || tl_fail "award $i never approved ($(status_of "$i"))"
	tl_http POST "/api/v1/receipts/${RCPT[i]}/claim" -H 'Content-Type: application/json' \
		--data-binary "{\"name\":\"${NAMES[i]}\",\"id_number\":\"$(idnum 12011419800101$((500 + i)))\",\"bank\":\"天津银行武清支行\",\"account\":\"62270000111122$((2000 + i))\",\"phone\":\"1390000200$i\"}" >/dev/null
	tl_assert_eq 202 "$TL_HTTP_STATUS" "claim $i"
done
for ((i = 0; i < N; i++)); do
	tl_wait_for 30 is_status "$i" claim_received || tl_fail "claim $i never received ($(status_of "$i"))"
done

# ---- the payer's session (sessions live in the database: they survive restarts)
CON=$PAYOUTS_URL
CURL=(curl -sS --max-time 20)
code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' -c "$T/jar" -b "$T/jar" \
	--data-urlencode "name=pay.k" --data-urlencode "password=$PW" "$CON/login")
tl_assert_eq 303 "$code" "payer login"
"${CURL[@]}" -o "$T/batches.html" -b "$T/jar" "$CON/batches"
csrf=$(grep -o 'name="csrf" value="[0-9a-f]*"' "$T/batches.html" | sed -n 1p | sed 's/.*value="//; s/"$//')
[[ ${#csrf} == 64 ]] || tl_fail "no CSRF token on /batches"

# kill_rounds PATH FIELD...: posts to PATH and kills the daemon k ms later
# (k = 0, 1, 2, ...: an export or confirmation takes only milliseconds),
# restarting it after each round, until a post is answered 303 (done);
# prints "rounds cut" where cut counts the posts the kill cut off.
kill_rounds() {
	local path=$1 k ms cut=0 pid code
	shift
	for ((k = 0; k < 60; k++)); do
		"${CURL[@]}" -o /dev/null -w '%{http_code}' -b "$T/jar" -d "csrf=$csrf" "$@" "$CON$path" \
			>"$T/code" 2>/dev/null &
		pid=$!
		ms=$((k * TL_SLOW))
		sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
		tl_kill_payouts
		wait "$pid" 2>/dev/null || true
		code=$(cat "$T/code")
		tl_start_payouts
		[[ $code == 000 || -z $code ]] && cut=$((cut + 1))
		[[ $code == 303 ]] && break
	done
	KILL_ROUNDS=$((k + 1)) KILL_CUT=$cut
}
kill_rounds /batches/export -d "district=$D"
tl_log "exports cut off by kill -9: $KILL_CUT of $KILL_ROUNDS"
((KILL_CUT >= 1)) || tl_fail "no export was cut off by the kill; the test proves nothing"
# Whatever a killed export left is finished or abandoned by the next one.
code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' -b "$T/jar" -d "csrf=$csrf" -d "district=$D" "$CON/batches/export")
[[ $code == 303 || $code == 404 || $code == 409 || $code == 200 ]] || tl_fail "export after the kills answered $code"
code=$("${CURL[@]}" -o "$T/last.html" -w '%{http_code}' -b "$T/jar" -d "csrf=$csrf" -d "district=$D" "$CON/batches/export")
tl_assert_contains "$(cat "$T/last.html")" "没有" "a last export finds nothing left to pay (answered $code)"
tl_assert_eq 0 "$(pq "SELECT count(*) FROM batches WHERE state = 'preparing';")" "batches left preparing"
tl_assert_eq "$N" "$(pq "SELECT count(*) FROM batch_rows WHERE state = 'exported';")" "shares in live batches"
tl_assert_eq "$N" "$(pq "SELECT count(DISTINCT award_id || ':' || share_idx) FROM batch_rows WHERE state = 'exported';")" \
	"each share in one live batch"
mapfile -t LIVE < <(pq "SELECT batch_id FROM batches WHERE state = 'exported' ORDER BY created_ms;")
for b in "${LIVE[@]}"; do
	[[ -f $T/payouts/batches/batch-$b.tlpay ]] || tl_fail "exported batch $b has no file"
	kill_rounds "/batch/$b/confirm"
	tl_log "confirmations of $b cut off by kill -9: $KILL_CUT of $KILL_ROUNDS"
	((KILL_CUT >= 1)) || tl_fail "no confirmation was cut off by the kill; the test proves nothing"
	code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' -b "$T/jar" -d "csrf=$csrf" "$CON/batch/$b/confirm")
	[[ $code == 303 || $code == 200 ]] || tl_fail "confirm $b after the kills answered $code"
	code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' -b "$T/jar" -d "csrf=$csrf" "$CON/batch/$b/confirm")
	[[ $code == 303 || $code == 200 || $code == 409 ]] || tl_fail "confirm $b again answered $code"
done

tl_assert_eq "$N" "$(pq "SELECT count(*) FROM transfers WHERE kind = 'pay';")" "one pay transfer per share"
tl_assert_eq "$N" "$(pq "SELECT count(*) FROM shares WHERE state = 'paid';")" "every share paid"
tl_assert_eq 0 "$(pq "SELECT count(*) FROM batches WHERE state = 'preparing';")" "batches left preparing"
for ((i = 0; i < N; i++)); do
	tl_wait_for 20 is_status "$i" paid || tl_fail "reporter $i is not paid ($(status_of "$i"))"
done
tl_stop_payouts
out=$(ctl check) || tl_fail "ledger check: $out"
tl_assert_eq "ledger ok" "$out" "ledger"
out=$("$TL_BIN_CLI" audit verify --pubkey "$TL_KEYS/audit-payouts.pub" "$T/payouts/audit.tla" 2>&1) ||
	tl_fail "audit chain: $out"
tl_pass
