#!/usr/bin/env bash
# End-to-end identity safety: post reports carrying planted canary
# identities through the real intake, with a real nats-server and vault,
# then prove that
#   - the receipt has the promised format and the lead went to the right district,
#   - the lead on TL_LEADS carries none of the canaries,
#   - the vault database holds the deposit and decrypts back to the canaries,
#   - no stream's raw data, no log, no HTTP response (API or console page),
#     no row of the decrypted district case database and no non-vault file
#     under the data folder contains any canary.
set -euo pipefail
source "$TL_SRC_DIR/tests/lib.sh"

tl_setup
tl_start_vault
tl_start_intake

# ---- canaries, fresh for each run so an old file can never satisfy a check ----
rnd() { od -An -N4 -tu4 /dev/urandom | tr -d ' '; }
id_check_digit() { # ISO 7064 MOD 11-2 over the first 17 digits
	local body=$1 w=(7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2) s=0 i
	for ((i = 0; i < 17; i++)); do s=$((s + ${body:i:1} * w[i])); done
	local map=(1 0 X 9 8 7 6 5 4 3 2)
	echo "${map[s % 11]}"
}
seq3=$(printf '%03d' $(( $(rnd) % 1000 )))
id_body="12010419$(printf '%02d' $(( $(rnd) % 50 + 50 )))0$(( $(rnd) % 9 + 1 ))1$(( $(rnd) % 9 ))${seq3}"
id_body=${id_body:0:17}
CANARY_ID="${id_body}$(id_check_digit "$id_body")"
CANARY_PHONE="139$(printf '%08d' $(( $(rnd) % 100000000 )))"
CANARY_PHONE_SPACED="${CANARY_PHONE:0:3} ${CANARY_PHONE:3:4} ${CANARY_PHONE:7:4}"
CANARY_EMAIL="jinque$(rnd)@example.cn"
CANARY_NAME="卞金雀"
CANARY_WECHAT="wxid_jq$(rnd)"
CANARY_ID2="${CANARY_ID:0:6}19$(printf '%02d' $(( $(rnd) % 30 + 60 )))0315${seq3}"
CANARY_ID2="${CANARY_ID2:0:17}$(id_check_digit "${CANARY_ID2:0:17}")"
CANARY_PHONE2="186$(printf '%08d' $(( $(rnd) % 100000000 )))"
canaries=("$CANARY_ID" "$CANARY_PHONE" "$CANARY_EMAIL" "$CANARY_NAME" "$CANARY_WECHAT" "$CANARY_ID2" "$CANARY_PHONE2")
echo "canaries planted: ${#canaries[@]}"

# ---- reports ----
# 1: identity only in the contact object, explicit district.
r1=$(tl_post_report "$(cat <<JSON
{"text":"静海区大邱庄镇有一家钢厂夜里开中频炉炼地条钢，厂门口常停着拉废钢的货车。","location":"静海区大邱庄镇工业园","category":"地条钢",
 "contact":{"name":"$CANARY_NAME","phone":"$CANARY_PHONE","email":"$CANARY_EMAIL","id_number":"$CANARY_ID","wechat":"$CANARY_WECHAT"}}
JSON
)")
tl_assert_eq 201 "$(tl_last_status)" "report 1 accepted"
# 2: identity typed into the tip text itself, district left to routing.
r2=$(tl_post_report "$(cat <<JSON
{"text":"我叫${CANARY_NAME}，手机${CANARY_PHONE_SPACED}，身份证${CANARY_ID2}，邮箱${CANARY_EMAIL}，微信号${CANARY_WECHAT}。我举报天津市滨海新区大港一家钢厂用2台5吨中频炉生产地条钢，另一个知情人电话${CANARY_PHONE2}。","location":"滨海新区大港"}
JSON
)")
tl_assert_eq 201 "$(tl_last_status)" "report 2 accepted"

json_field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
for r in "$r1" "$r2"; do
	rc=$(json_field "$r" receipt)
	[[ $rc =~ ^[0-9]{4}\ [0-9]{4}\ [0-9]{4}\ [0-9]{4}$ ]] || tl_fail "receipt format: '$rc'"
	[[ $(json_field "$r" report_id) =~ ^[0-9a-f]{32}$ ]] || tl_fail "report_id format"
done
tl_assert_eq 120118 "$(json_field "$r1" district)" "report 1 routed to 静海"
tl_assert_eq 120116 "$(json_field "$r2" district)" "report 2 routed to 滨海新区"
rid1=$(json_field "$r1" report_id)
rid2=$(json_field "$r2" report_id)

# The receipt answers with a coarse status and nothing else.
receipt1=$(json_field "$r1" receipt)
status_body=$(curl -s "$INTAKE_URL/api/v1/receipts/${receipt1// /}")
[[ $(json_field "$status_body" status) == received ]] || tl_fail "receipt status: $status_body"

# ---- the lead on TL_LEADS ----
leads=$(tl_stream_dump TL_LEADS)
grep -q "\"report_id\":\"$rid1\"" <<<"$leads" || tl_fail "lead for report 1 missing"
grep -q "\"report_id\":\"$rid2\"" <<<"$leads" || tl_fail "lead for report 2 missing"
# Single greps on captured lines: `a | grep -q` under pipefail can fail at
# random when grep -q exits early and a gets SIGPIPE.
lead1=$(grep "\"report_id\":\"$rid1\"" <<<"$leads")
lead2=$(grep "\"report_id\":\"$rid2\"" <<<"$leads")
grep -q '^[0-9]* tl\.lead\.120118 ' <<<"$lead1" || tl_fail "lead 1 not on tl.lead.120118"
grep -q '^[0-9]* tl\.lead\.120116 ' <<<"$lead2" || tl_fail "lead 2 not on tl.lead.120116"
# What an investigator needs survives redaction.
grep -q '中频炉' <<<"$lead2" || tl_fail "lead 2 lost the furnace"
grep -q '"redactions":{[^}]*"mobile":2' <<<"$lead2" || tl_fail "lead 2 does not say two phone numbers were removed"
grep -q '"has_contact":true' <<<"$lead1" || tl_fail "lead 1 should say the reporter left contact details"

# ---- the vault holds and decrypts the deposits ----
vault_query() {
	sqlcipher -batch "$T/vault/vault.db" <<SQL 2>/dev/null | sed '/^ok$/d'
PRAGMA key = "x'$(cat "$T/keys/vault-db.key")'";
PRAGMA cipher_page_size = 4096;
$1
SQL
}
for _ in $(seq 1 100); do
	n=$(vault_query "SELECT count(*) FROM deposits WHERE report_id IN ('$rid1','$rid2');" | tail -n1)
	[[ $n == 2 ]] && break
	sleep 0.1
done
tl_assert_eq 2 "$n" "both deposits stored in the vault"
row1=$(vault_query "SELECT name||'|'||phone||'|'||email||'|'||id_number||'|'||wechat FROM deposits WHERE report_id='$rid1';" | tail -n1)
tl_assert_eq "$CANARY_NAME|$CANARY_PHONE|$CANARY_EMAIL|$CANARY_ID|$CANARY_WECHAT" "$row1" "vault decrypts report 1's contact"
text2=$(vault_query "SELECT text FROM deposits WHERE report_id='$rid2';" | tail -n1)
for c in "$CANARY_NAME" "$CANARY_ID2" "$CANARY_PHONE2" "$CANARY_EMAIL"; do
	grep -qF -- "$c" <<<"$text2" || tl_fail "vault lost the original text of report 2"
done
# The database file itself is encrypted.
[[ $(head -c 15 "$T/vault/vault.db") != "SQLite format 3" ]] || tl_fail "vault database is plaintext"

# ---- scan everything outside the vault ----
scan() { # scan LABEL FILE...: fail if any canary occurs in the given files
	local label=$1
	shift
	for c in "${canaries[@]}"; do
		if grep -qaF -- "$c" "$@" 2>/dev/null; then
			tl_fail "canary found in $label"
		fi
	done
}
mkdir -p "$T/scan"
for s in TL_DEPOSITS TL_LEADS TL_EVENTS KV_TL_STATUS KV_TL_IDEM; do
	tl_stream_dump "$s" >"$T/scan/stream-$s.txt" 2>&1 || true
done
scan "stream raw data" "$T"/scan/stream-*.txt
curl -s "$INTAKE_URL/metrics" >"$T/scan/metrics.txt"
curl -s "$INTAKE_URL/healthz" >"$T/scan/healthz.txt"
printf '%s\n%s\n%s\n' "$r1" "$r2" "$status_body" >"$T/scan/responses.txt"
scan "HTTP responses" "$T"/scan/metrics.txt "$T"/scan/healthz.txt "$T"/scan/responses.txt
# ---- the district node and its console: the leads, never the identity ----
CPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
CON=http://127.0.0.1:$CPORT
PW=canary-console-pw-1
devenv_write_district_ini cn 120118,120116
devenv_district_console cn "$CPORT"
export DEVENV_DISTRICT_BIN=$TL_BIN_DISTRICT
devenv_district_user cn resp.jh responder 120118 "$PW"
devenv_district_user cn resp.bh responder 120116 "$PW"
tl_start_district cn
lead_id() { python3 -c 'import json,sys; print(json.loads(sys.argv[1].split(" ",2)[2])["lead_id"])' "$1"; }
lid1=$(lead_id "$lead1")
lid2=$(lead_id "$lead2")
has_case() { tl_district_ctl cn "$1" x responder dump >"$T/run/dump.txt" && grep -q -- "$2" "$T/run/dump.txt"; }
tl_wait_for 15 has_case 120118 "$lid1" || tl_fail "lead 1 never became a case in 120118"
tl_wait_for 15 has_case 120116 "$lid2" || tl_fail "lead 2 never became a case in 120116"
console_pages() { # console_pages USER LEAD OUTPREFIX
	local jar=$T/run/jar-$1
	st=$(curl -sS -o /dev/null -w '%{http_code}' -c "$jar" -b "$jar" \
		--data-urlencode "name=$1" --data-urlencode "password=$PW" "$CON/login")
	tl_assert_eq 303 "$st" "console login as $1"
	curl -sS -b "$jar" -o "$3-queue.html" "$CON/"
	curl -sS -b "$jar" -o "$3-case.html" "$CON/case/$2"
	grep -q -- "$2" "$3-case.html" || tl_fail "the case page of $2 does not show the lead"
}
console_pages resp.jh "$lid1" "$T/scan/console-1"
console_pages resp.bh "$lid2" "$T/scan/console-2"
grep -q '已移除 2 个手机号' "$T/scan/console-2-case.html" || tl_fail "the case page does not say what redaction removed"
scan "console pages" "$T"/scan/console-*.html
tl_stop_district cn
# The case database decrypted: it must hold the lead, never the identity.
sqlcipher -batch "$T/district/cn.db" >"$T/scan/district-db.sql" 2>&1 <<SQL
PRAGMA key = "x'$(cat "$T/keys/district-db.key")'";
PRAGMA cipher_page_size = 4096;
.dump
SQL
grep -q -- "$lid1" "$T/scan/district-db.sql" || tl_fail "could not read the district case database"
scan "the decrypted district case database" "$T/scan/district-db.sql"

# Stop the daemons so every log line is flushed, then scan logs and the
# whole data folder except the vault's own files.
tl_stop_intake
tl_stop_vault
scan "logs" "$T"/log/*.log
mapfile -t files < <(find "$T" -type f ! -path "$T/vault/*" ! -path "$T/scan/*")
scan "data folder" "${files[@]}"
# Sanity: the scanner does find a canary where one is known to be.
grep -qaF -- "$CANARY_PHONE" <(vault_query "SELECT phone FROM deposits WHERE report_id='$rid1';") ||
	tl_fail "scanner self-check failed"

tl_pass "no canary outside the vault (${#canaries[@]} canaries, ${#files[@]} files, 5 streams, logs, API responses, console pages, the decrypted case database)"
