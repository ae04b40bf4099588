#!/usr/bin/env bash
# Crash safety of the vault.  1,000 reports are posted through intake, 8 at
# a time, while the vault is killed with SIGKILL twice and restarted.
# Afterwards every report that intake answered 201 is in the vault exactly
# once.  Then a poison deposit (valid envelope, box that does not open) is
# published by admin: it is terminated and recorded in `rejected`, and the
# vault keeps storing what comes after it.  No identity or tip text may
# appear in any log.
set -euo pipefail
# shellcheck source=tests/lib.sh
source "${TL_SRC_DIR:-.}/tests/lib.sh"

N=${TL_CRASH_REPORTS:-1000}
DEVPUB=$TL_BUILD_DIR/vault/tl-vault-devpub

# plaintext_header FILE: true if FILE starts like an unencrypted SQLite file.
plaintext_header() { [[ $(head -c 15 "$1" | tr -d '\0') == "SQLite format 3" ]]; }

tl_setup
tl_need "$TL_BIN_VAULT" "$TL_BIN_INTAKE" "$DEVPUB"
command -v sqlcipher >/dev/null || tl_fail "the sqlcipher shell is not installed"

# vault_sql SQL: runs SQL on the vault database with its raw key.  The key
# goes through stdin, never the command line.
vault_sql() {
	printf 'PRAGMA key = "x'\''%s'\''";\nPRAGMA cipher_page_size = 4096;\n%s\n' \
		"$(<"$TL_KEYS/vault-db.key")" "$1" | sqlcipher "$TL_VAULT_DB"
}

# Pending work on the vault consumer (unprocessed + unacked), from the
# NATS monitor.
vault_backlog() {
	curl -fsS --max-time 2 "$NATS_MON_URL/jsz?consumers=true" | python3 -c 'import json,sys
d=json.load(sys.stdin)
for a in d.get("account_details",[]):
  for s in a.get("stream_detail",[]):
    if s["name"]!="TL_DEPOSITS": continue
    for c in s.get("consumer_detail",[]) or []:
      if c["name"]=="vault":
        print(c.get("num_pending",0)+c.get("num_ack_pending",0)); sys.exit(0)
print(-1)'
}

wait_drained() {
	local i b
	for ((i = 0; i < 600 * TL_SLOW; i++)); do
		b=$(vault_backlog || echo -1)
		[[ $b == 0 ]] && return 0
		sleep 0.1
	done
	tl_fail "the vault did not drain TL_DEPOSITS (backlog $b)"
}

tl_start_vault
tl_start_intake

# ---- 1,000 reports, two crashes ------------------------------------------
mkdir -p "$T/req" "$T/resp"
python3 - "$T/req" "$N" <<'EOF'
import json, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    body = {
        "text": "CRASHTIP-%05d 静海区某厂用中频炉生产地条钢，夜间出货。" % i,
        "location": "静海区",
        "contact": {"name": "CRASHNAME-%05d" % i, "phone": "1391%07d" % i},
    }
    with open("%s/%05d.json" % (d, i), "w") as f:
        json.dump(body, f, ensure_ascii=False)
EOF
: >"$T/codes"
export INTAKE_URL T
(
	cd "$T/req"
	ls | xargs -P 8 -I{} sh -c \
		'code=$(curl -sS -o "$T/resp/{}" -w "%{http_code}" --max-time 30 \
			-H "Content-Type: application/json" --data-binary @"{}" \
			"$INTAKE_URL/api/v1/reports" 2>/dev/null) || code=000
		 echo "$code {}" >>"$T/codes"'
) &
poster=$!

done_count() { wc -l <"$T/codes"; }
crash_at() {
	local at=$1 i
	for ((i = 0; i < 1200 * TL_SLOW; i++)); do
		(($(done_count) >= at)) && break
		kill -0 "$poster" 2>/dev/null || break
		sleep 0.05
	done
	tl_log "SIGKILL to the vault after $(done_count) answers"
	tl_kill_vault
	sleep 0.3
	tl_start_vault
}
crash_at $((N / 4))
crash_at $((N * 3 / 5))
wait "$poster" || tl_fail "the posting loop failed"
tl_assert_eq "$N" "$(done_count)" "answered requests"

ok=$(grep -c '^201 ' "$T/codes" || true)
tl_log "$ok of $N reports answered 201"
((ok >= N * 9 / 10)) || tl_fail "only $ok of $N reports were accepted (see $T/codes)"

wait_drained

# Every 201 has its report_id in the vault, exactly once.
python3 - "$T/codes" "$T/resp" >"$T/accepted_ids" <<'EOF'
import json, sys
codes, resp = sys.argv[1], sys.argv[2]
for line in open(codes):
    code, name = line.split()
    if code == "201":
        print(json.load(open("%s/%s" % (resp, name)))["report_id"])
EOF
tl_assert_eq "$ok" "$(sort -u "$T/accepted_ids" | wc -l)" "distinct report ids in 201 answers"
vault_sql "SELECT report_id FROM deposits;" | sort >"$T/vault_ids"
missing=$(comm -23 <(sort -u "$T/accepted_ids") "$T/vault_ids" | wc -l)
tl_assert_eq 0 "$missing" "accepted reports missing from the vault"
dups=$(vault_sql "SELECT count(*) - count(DISTINCT report_id) FROM deposits;")
tl_assert_eq 0 "$dups" "duplicate deposits"
tl_assert_eq ok "$(vault_sql 'PRAGMA integrity_check;')" "vault integrity_check"
# Identity really went in (and only in the encrypted file).
named=$(vault_sql "SELECT count(*) FROM deposits WHERE name LIKE 'CRASHNAME-%' AND pseudonym IS NOT NULL;")
((named >= ok)) || tl_fail "only $named deposits carry the reporter's name and pseudonym"

# ---- poison --------------------------------------------------------------
python3 - >"$T/poison.json" <<'EOF'
import base64, json, os
print(json.dumps({"v": 1, "type": "deposit", "report_id": os.urandom(16).hex(), "channel": "web",
                  "received_at": "2026-11-27T08:52:01.123Z", "status_key": os.urandom(32).hex(),
                  "sealed": base64.b64encode(os.urandom(300)).decode()}))
EOF
printf '{"v":1,"type":"deposit","sealed":' >"$T/poison2.json" # not even JSON
before=$(vault_sql "SELECT count(*) FROM rejected;")
for p in poison poison2; do
	"$DEVPUB" -s "$NATS_URL" -u admin -p "$TL_KEYS/nats-admin.pw" -r <"$T/$p.json" ||
		tl_fail "admin could not publish the $p deposit"
done
tl_post_report '{"text":"CRASHTIP-after 静海区 地条钢","contact":{"name":"CRASHNAME-after"}}' >/dev/null
tl_assert_eq 201 "$TL_HTTP_STATUS" "report after the poison"
after_id=$(tl_json_get "$TL_HTTP_BODY" report_id)
wait_drained
kill -0 "$TL_VAULT_PID" 2>/dev/null || tl_fail "the vault died on the poison deposit"
tl_assert_eq 1 "$(vault_sql "SELECT count(*) FROM deposits WHERE report_id = '$after_id';")" \
	"report stored after the poison"
tl_assert_eq $((before + 2)) "$(vault_sql "SELECT count(*) FROM rejected;")" "rejected rows"
tl_assert_eq 1 "$(vault_sql "SELECT count(*) FROM rejected WHERE reason = 'open';")" "poison (open)"
tl_assert_eq 1 "$(vault_sql "SELECT count(*) FROM rejected WHERE reason = 'envelope';")" "poison (envelope)"
# Terminated, not left for redelivery: the work queue no longer holds it.
tl_assert_eq "" "$(tl_stream_dump TL_DEPOSITS)" "messages left in TL_DEPOSITS"
grep -q 'deposit rejected seq=[0-9]* reason=open' "$TL_LOG_VAULT" || tl_fail "no rejection logged"

# ---- nothing identifying in any log ---------------------------------------
for f in "$TL_LOG_VAULT" "$TL_LOG_INTAKE"; do
	for canary in CRASHNAME CRASHTIP 13910000 地条钢; do
		! grep -q "$canary" "$f" || tl_fail "$(basename "$f") contains '$canary'"
	done
done
! plaintext_header "$TL_VAULT_DB" || tl_fail "the vault database is plaintext"

tl_stop_intake
tl_stop_vault
tl_pass
