#!/usr/bin/env bash
# Paying an award end to end, against real nats-server, vault, intake,
# district node and tipline-payouts (docs/award-flow.md, docs/payfile.md):
#   - five tips verified through the district node (four in 120111, one in
#     120112); each award proposed and approved by two approvers, one of
#     them city-level (the awards are above the threshold);
#   - the first reporter claims through intake's receipts API; the vault
#     finds the claim eligible; `tl-payouts-ctl export` asks the vault to
#     reveal the payee and writes one sealed batch file, which
#     `tipline payfile open` with keys/finance-export.key turns into a CSV
#     holding exactly that payee, while the file's bytes, the decrypted
#     payouts database, payouts' log and every stream hold none of the
#     payee's details;
#   - confirm: the reporter's status (intake's receipts API) becomes paid
#     and the ledger check passes; a second confirm changes nothing;
#   - the award of 120112 has its amount edited in the database behind the
#     approvers' signatures (triggers dropped with sqlcipher): the vault
#     refuses the reveal, the export fails naming the award and the
#     vault's "signature" code, and no file is written; with the signed
#     amount put back it is revealed and paid;
#   - exports and confirmations of the other three awards are killed with
#     kill -9 at random moments and rerun: in the end every share is paid
#     exactly once, no share sits in two live batches, the ledger check
#     passes and every reporter's status is paid.
# Helpers are called through tl_wait_for:
# shellcheck disable=SC2317
set -euo pipefail
# shellcheck source=tests/lib.sh
source "${TL_SRC_DIR:-.}/tests/lib.sh"

tl_setup
tl_need "$TL_BIN_INTAKE" "$TL_BIN_VAULT" "$TL_BIN_DISTRICT" "$TL_BIN_DISTRICT_CTL" "$TL_BIN_PAYOUTS" \
	"$TL_BIN_PAYOUTS_CTL"
command -v sqlcipher >/dev/null || tl_fail "the sqlcipher shell is needed to inspect the payouts database"
sed -i '/^\[intake\]/a receipt_lookups_per_minute = 10000\nclaim_posts_per_minute = 10000\nclaim_posts_per_receipt_per_minute = 10000' \
	"$TL_INTAKE_INI"
PW=correct-horse-battery-7
A=120111
B=120112
YEAR=$(python3 -c 'import time; print(time.gmtime(time.time() + 8 * 3600).tm_year)')
BATCHES=$T/payouts/batches

padd() {
	printf '%s\n' "$PW" | "$TL_BIN_PAYOUTS" -c "$TL_PAYOUTS_INI" user add "$@" >>"$T/log/useradd.log" 2>&1 ||
		tl_fail "user add $*"
}
padd prop.a finance_proposer "$A"
padd prop.b finance_proposer "$B"
padd appr.a finance_approver "$A"
padd appr.b finance_approver "$B"
padd appr.city finance_approver 120000
padd pay.all finance_payer all
# The vault trusts exactly the approvers' public keys it is given.
grep -E '^appr\.[a-z.]+ (district|city) [0-9a-f]{64}$' "$T/log/useradd.log" >>"$T/etc/approvers.txt"
[[ $(wc -l <"$T/etc/approvers.txt") == 3 ]] || tl_fail "expected 3 approver keys for the vault"
"$TL_BIN_PAYOUTS" -c "$TL_PAYOUTS_INI" budget fund "$A" "$YEAR" 600000 1 >/dev/null || tl_fail "budget $A"
"$TL_BIN_PAYOUTS" -c "$TL_PAYOUTS_INI" budget fund "$B" "$YEAR" 200000 1 >/dev/null || tl_fail "budget $B"

tl_start_vault
tl_start_intake
tl_start_district
tl_start_payouts

ctl() { "$TL_BIN_PAYOUTS_CTL" -c "$TL_PAYOUTS_INI" "$@"; }
pq() { # pq SQL: a query on the decrypted payouts database
	sqlcipher -batch "$TL_PAYOUTS_DB" <<SQL 2>/dev/null | sed '/^ok$/d'
PRAGMA key = "x'$(cat "$TL_KEYS/payouts-db.key")'";
PRAGMA cipher_page_size = 4096;
$1
SQL
}

# ---- five substantiated cases ------------------------------------------------
declare -a RID RCPT DIST CASE AWARD
for i in 0 1 2 3 4; do
	d=$A
	((i == 4)) && d=$B
	tl_post_report "{\"text\":\"PAYTIP-$i 有人用中频炉炼地条钢，晚上冒黑烟\",\"district\":\"$d\"}" >/dev/null
	tl_assert_eq 201 "$TL_HTTP_STATUS" "report $i accepted"
	RID[i]=$(tl_json_get "$TL_HTTP_BODY" report_id)
	r=$(tl_json_get "$TL_HTTP_BODY" receipt)
	RCPT[i]=${r// /}
	DIST[i]=$d
done
has() { tl_district_ctl all "$1" x responder dump | grep -- "$2" >/dev/null; }
for i in 0 1 2 3 4; do
	tl_wait_for 20 has "${DIST[i]}" "${RID[i]}" || tl_fail "lead $i never reached the district"
	line=$(tl_district_ctl all "${DIST[i]}" x responder dump | grep -- "${RID[i]}")
	lead=${line%% *}
	tl_district_ctl all "${DIST[i]}" resp.li responder claim "$lead" >/dev/null || tl_fail "claim lead $i"
	# running plant, 10,000 yuan of fines: 100,500 yuan, above the
	# 100,000 yuan two-approver threshold
	tl_district_ctl all "${DIST[i]}" resp.li responder verdict "$lead" substantiated 2 30000 running 1200 1000000 \
		>/dev/null || tl_fail "verdict lead $i"
done
case_of() { ctl show status "$1" 2>/dev/null | python3 -c 'import json,sys
for l in sys.stdin:
  o=json.loads(l)
  if o.get("kind")=="status" and o.get("status")=="verified": print(o["case_id"])'; }
verified() { [[ -n $(case_of "$1") ]]; }
for i in 0 1 2 3 4; do
	tl_wait_for 30 verified "${RID[i]}" || tl_fail "payouts never saw case $i substantiated"
	CASE[i]=$(case_of "${RID[i]}")
done

# ---- awards: proposed, approved by a district and a city approver --------------
tl_stop_payouts # the ctl actions need the audit chain, which one process holds
for i in 0 1 2 3 4; do
	AWARD[i]=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
	p=prop.a a=appr.a
	[[ ${DIST[i]} == "$B" ]] && p=prop.b a=appr.b
	ctl propose "${CASE[i]}" "${AWARD[i]}" "$p" >/dev/null || tl_fail "propose award $i"
	printf '%s\n' "$PW" | ctl decide "${AWARD[i]}" "$a" approve "checked" >/dev/null || tl_fail "approve $i by $a"
	out=$(printf '%s\n' "$PW" | ctl decide "${AWARD[i]}" appr.city approve "checked") || tl_fail "approve $i by city"
	tl_assert_contains "$out" "award approved" "award $i after the city approval"
done
tl_start_payouts

# ---- claims --------------------------------------------------------------------
python3 - "$T" <<'PY'
import json, sys
t = sys.argv[1]
def idnum(b):
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return b + "10X98765432"[sum(int(a) * c for a, c in zip(b, w)) % 11]
names = ["甄付鹊甲", "甄付鹊乙", "甄付鹊丙", "甄付鹊丁", "甄付鹊戊"]
with open(t + "/canaries.txt", "w") as c:
    for i, n in enumerate(names):
        p = {"name": n, "id_number": idnum("1201111980022977%d" % i), "bank": "鹊桥银行津南支行%s" % "甲乙丙丁戊"[i],
             "account": "6222 8800 5555 666%d 77%d" % (i, i), "phone": "139 0000 111%d" % i}
        open("%s/payee-%d.json" % (t, i), "w").write(json.dumps(p, ensure_ascii=False))
        for v in (p["name"], p["id_number"], p["bank"], p["account"], p["account"].replace(" ", ""),
                  p["phone"].replace(" ", "")):
            c.write(v + "\n")
PY
mapfile -t CANARIES <"$T/canaries.txt"
status_of() { # status_of I: the reporter's status from intake
	curl -sS --max-time 5 "$INTAKE_URL/api/v1/receipts/${RCPT[$1]}" |
		python3 -c 'import json,sys; print(json.load(sys.stdin).get("status",""))'
}
is_status() { [[ $(status_of "$1") == "$2" ]]; }
claim() {
	tl_wait_for 20 is_status "$1" award_approved || tl_fail "reporter $1 never saw award_approved ($(status_of "$1"))"
	tl_http POST "/api/v1/receipts/${RCPT[$1]}/claim" -H 'Content-Type: application/json' \
		--data-binary "@$T/payee-$1.json" >/dev/null
	tl_assert_eq 202 "$TL_HTTP_STATUS" "claim $1"
	tl_wait_for 30 is_status "$1" claim_received || tl_fail "claim $1 never became claim_received ($(status_of "$1"))"
}
claim 0
tl_stop_payouts

# ---- export, open, confirm -------------------------------------------------------
out=$(ctl export pay.all all) || tl_fail "export: $out"
read -r _ BATCH1 _ rows <<<"$out"
tl_assert_eq 1 "$rows" "rows of the first batch"
FILE1=$BATCHES/batch-$BATCH1.tlpay
[[ -f $FILE1 ]] || tl_fail "no batch file $FILE1"
tl_assert_eq 600 "$(stat -c %a "$FILE1")" "batch file mode"
head -c 11 "$FILE1" | grep -q '^TLPAYFILE1$' || tl_fail "the batch file has no TLPAYFILE1 magic"

mkdir -m 700 "$T/officer"
"$TL_BIN_CLI" payfile open "$FILE1" -k "$TL_KEYS/finance-export.key" -o "$T/officer/b1.csv" >"$T/officer/open.out" ||
	tl_fail "payfile open: $(cat "$T/officer/open.out")"
tl_assert_eq 600 "$(stat -c %a "$T/officer/b1.csv")" "CSV mode"
csv=$(cat "$T/officer/b1.csv")
tl_assert_eq 2 "$(wc -l <"$T/officer/b1.csv")" "CSV lines (header + one row)"
tl_assert_contains "$csv" "批次号,奖励编号,份额" "CSV header"
tl_assert_contains "$csv" "$BATCH1,${AWARD[0]},0,$A,100500.00,甄付鹊甲," "the row: batch, award, share, district, yuan, payee"
tl_assert_contains "$csv" "${CANARIES[1]}" "the payee's ID number"
[[ $csv == *6222880055556660770* || $csv == *"6222 8800 5555 6660 770"* ]] || tl_fail "the CSV lacks the payee's account"
for c in "${CANARIES[@]:6}"; do tl_assert_not_contains "$csv" "$c" "the CSV (another reporter's payee)"; done
# The file opens only with the export key.
if "$TL_BIN_CLI" payfile open "$FILE1" -k "$TL_KEYS/payouts-db.key" -o "$T/officer/wrong.csv" 2>"$T/officer/wrong.err"; then
	tl_fail "the batch file opened with another key"
fi
tl_assert_contains "$(cat "$T/officer/wrong.err")" "wrong key" "wrong-key message"
[[ ! -e $T/officer/wrong.csv ]] || tl_fail "an output was written with the wrong key"

out=$(ctl confirm pay.all "$BATCH1") || tl_fail "confirm: $out"
tl_assert_eq "confirmed $BATCH1" "$out" "confirm output"
tl_wait_for 10 is_status 0 paid || tl_fail "reporter 0 is not paid ($(status_of 0))"
ctl check >/dev/null || tl_fail "ledger check after the first confirm"
before=$(pq "SELECT count(*) FROM transfers; SELECT count(*) FROM batch_rows WHERE state = 'paid';" | tr '\n' ' ')
tl_assert_eq 1 "$(pq "SELECT count(*) FROM transfers WHERE kind = 'pay';")" "pay transfers after one confirm"
ctl confirm pay.all "$BATCH1" >/dev/null || tl_fail "second confirm"
tl_assert_eq "$before" "$(pq "SELECT count(*) FROM transfers; SELECT count(*) FROM batch_rows WHERE state = 'paid';" | tr '\n' ' ')" \
	"transfers and paid rows after a second confirm"
tl_assert_eq 1 "$(grep -c $'\tconfirm\tbatch:'"$BATCH1" "$T/payouts/audit.tla")" "audit entries of the confirmations"

# ---- no payee detail anywhere but the officer's CSV ------------------------------
scan_clean() { # scan_clean WHAT FILE
	local c
	for c in "${CANARIES[@]}"; do
		if grep -aqF -- "$c" "$2"; then tl_fail "$1 contains the payee detail '$c'"; fi
	done
}
mkdir -m 700 "$T/scan"
pq ".dump" >"$T/scan/payouts-db.sql"
grep -q -- "$BATCH1" "$T/scan/payouts-db.sql" || tl_fail "could not read the payouts database"
scan_clean "the decrypted payouts database" "$T/scan/payouts-db.sql"
scan_clean "the raw batch file" "$FILE1"
scan_clean "payouts' log" "$TL_LOG_PAYOUTS"
scan_clean "payouts' audit chain" "$T/payouts/audit.tla"
for s in TL_LEADS TL_EVENTS TL_PAYEES TL_DEPOSITS KV_TL_STATUS; do
	tl_stream_dump "$s" >"$T/scan/stream-$s.txt" 2>&1 || true
	scan_clean "stream $s" "$T/scan/stream-$s.txt"
done
grep -q "tl.payee.result" "$T/scan/stream-TL_PAYEES.txt" || tl_fail "could not read TL_PAYEES"

# ---- the rest claim; 120112's award is altered behind its signatures -----------
tl_start_payouts
for i in 1 2 3 4; do claim "$i"; done
tl_stop_payouts
pq "DROP TRIGGER awards_immutable; DROP TRIGGER shares_immutable;
UPDATE awards SET total_fen = total_fen + 100000 WHERE award_id = '${AWARD[4]}';
UPDATE shares SET fen = fen + 100000 WHERE award_id = '${AWARD[4]}';" >/dev/null
tl_assert_eq 10150000 "$(pq "SELECT total_fen FROM awards WHERE award_id = '${AWARD[4]}';")" "the altered amount"
files_before=$(find "$BATCHES" -name 'batch-*' | wc -l)
rc=0
out=$(ctl export pay.all "$B" 2>&1) || rc=$?
[[ $rc != 0 ]] || tl_fail "an export of the altered award succeeded: $out"
tl_assert_contains "$out" "${AWARD[4]}" "refusal message names the award"
tl_assert_contains "$out" '"signature"' "refusal message carries the vault's code"
tl_assert_eq "$files_before" "$(find "$BATCHES" -name 'batch-*' | wc -l)" "batch files after the refusal"
tl_assert_eq 0 "$(pq "SELECT count(*) FROM batch_rows WHERE award_id = '${AWARD[4]}' AND state <> 'abandoned';")" \
	"live rows of the altered award"
# The ledger check names the altered award too; put the signed amount back.
if ctl check >/dev/null 2>&1; then tl_fail "the ledger check passed with an altered award"; fi
pq "UPDATE awards SET total_fen = total_fen - 100000 WHERE award_id = '${AWARD[4]}';
UPDATE shares SET fen = fen - 100000 WHERE award_id = '${AWARD[4]}';" >/dev/null
ctl check >/dev/null || tl_fail "ledger check after restoring the signed amount"

# ---- kill -9 during export and confirmation ---------------------------------------
# kill_loop LOG CMD...: runs CMD in the background and kills it with SIGKILL
# after a delay that grows by about 3 ms a run (so the kills land from the
# process's start to its end), until a run finishes on its own; prints how
# many runs were killed.  Small steps: even a fast machine then kills the
# first few runs at least (the process needs more than 6 ms to start and
# open its database), so "killed >= 3" below does not depend on the speed
# of the machine.
RANDOM=$$
kill_loop() {
	local log=$1 k pid st killed=0 ms
	shift
	for ((k = 0; k < 400; k++)); do
		"$@" >>"$log" 2>&1 &
		pid=$!
		ms=$(((k * 3 + RANDOM % 3) * TL_SLOW))
		sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
		kill -KILL "$pid" 2>/dev/null || true
		st=0
		wait "$pid" 2>/dev/null || st=$?
		[[ $st == 137 ]] || break
		killed=$((killed + 1))
	done
	echo "$killed"
}
killed=$(kill_loop "$T/log/kill-export.log" "$TL_BIN_PAYOUTS_CTL" -c "$TL_PAYOUTS_INI" export pay.all "$A")
tl_log "exports killed: $killed"
((killed >= 3)) || tl_fail "only $killed exports were killed; the test proves nothing"
rc=0
ctl export pay.all "$A" >>"$T/log/kill-export.log" 2>&1 || rc=$?
[[ $rc == 0 || $rc == 6 ]] || tl_fail "the export after the kills failed with $rc (see kill-export.log)"
# A later export finishes or abandons whatever a killed one left.
rc=0
ctl export pay.all "$A" >>"$T/log/kill-export.log" 2>&1 || rc=$?
tl_assert_eq 6 "$rc" "a last export finds nothing left to pay"
tl_assert_eq 0 "$(pq "SELECT count(*) FROM batches WHERE state = 'preparing';")" "batches left preparing"
mapfile -t LIVE < <(pq "SELECT batch_id FROM batches WHERE state = 'exported' ORDER BY created_ms;")
((${#LIVE[@]} >= 1)) || tl_fail "no exported batch after the kills"
tl_assert_eq 3 "$(pq "SELECT count(*) FROM batch_rows r JOIN batches b ON b.batch_id = r.batch_id
  WHERE b.state = 'exported' AND r.state = 'exported';")" "shares waiting for the bank"
for b in "${LIVE[@]}"; do
	[[ -f $BATCHES/batch-$b.tlpay ]] || tl_fail "exported batch $b has no file"
	"$TL_BIN_CLI" payfile open "$BATCHES/batch-$b.tlpay" -k "$TL_KEYS/finance-export.key" -o - >"$T/officer/$b.csv" \
		2>/dev/null || tl_fail "batch $b does not open"
done
for f in "$BATCHES"/batch-*.tlpay; do
	b=$(basename "$f" .tlpay)
	b=${b#batch-}
	st=$(pq "SELECT state FROM batches WHERE batch_id = '$b';")
	[[ $st == exported || $st == confirmed ]] || tl_fail "file $f belongs to a batch that is $st"
done
[[ -z $(find "$BATCHES" -name '.*.tmp') ]] || tl_fail "temporary files left in the export folder"

for b in "${LIVE[@]}"; do
	killed=$(kill_loop "$T/log/kill-confirm.log" "$TL_BIN_PAYOUTS_CTL" -c "$TL_PAYOUTS_INI" confirm pay.all "$b")
	tl_log "confirmations of $b killed: $killed"
	((killed >= 3)) || tl_fail "only $killed confirmations were killed; the test proves nothing"
done
for b in "${LIVE[@]}"; do
	ctl confirm pay.all "$b" >>"$T/log/kill-confirm.log" 2>&1 || tl_fail "confirm $b after the kills (see kill-confirm.log)"
	ctl confirm pay.all "$b" >>"$T/log/kill-confirm.log" 2>&1 || tl_fail "confirm $b again"
done

# The restored award is revealed and paid like the others.
out=$(ctl export pay.all "$B") || tl_fail "export of the restored award: $out"
read -r _ b _ rows <<<"$out"
tl_assert_eq 1 "$rows" "rows of the restored award's batch"
ctl confirm pay.all "$b" >/dev/null || tl_fail "confirm of the restored award"

# ---- every share paid exactly once ------------------------------------------------
ctl check >/dev/null || tl_fail "ledger check after the kills: $(ctl check 2>&1)"
tl_assert_eq 5 "$(pq "SELECT count(*) FROM transfers WHERE kind = 'pay';")" "pay transfers"
tl_assert_eq 0 "$(pq "SELECT count(*) FROM (SELECT award_id, share_idx FROM transfers WHERE kind = 'pay'
  GROUP BY award_id, share_idx HAVING count(*) > 1);")" "shares paid twice"
tl_assert_eq 0 "$(pq "SELECT count(*) FROM (SELECT award_id, share_idx FROM batch_rows
  WHERE state IN ('pending','exported','paid') GROUP BY award_id, share_idx HAVING count(*) > 1);")" \
	"shares in two live batches"
tl_assert_eq 5 "$(pq "SELECT count(*) FROM awards WHERE status = 'paid';")" "paid awards"
for i in 0 1 2 3 4; do
	tl_wait_for 10 is_status "$i" paid || tl_fail "reporter $i is not paid ($(status_of "$i"))"
done
scan_clean "payouts' log" "$TL_LOG_PAYOUTS"
for f in "$T"/log/kill-*.log; do scan_clean "$(basename "$f")" "$f"; done

tl_stop_district
tl_stop_intake
tl_stop_vault
tl_pass
