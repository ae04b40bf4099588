#!/usr/bin/env bash
# Payouts' database is lost: `tipline streams replay payouts` and a restart
# rebuild every case from TL_LEADS and TL_EVENTS with the same facts and
# the same computed award (what a proposal is made from), and no
# reporter's status moves backwards - not even the award_approved one,
# whose award lived only in the lost database: the TL_STATUS history of
# each receipt is checked value by value.
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
# The case facts a replay must reproduce: every case line and share line
# without the fields that belong to the database's own history (the live
# award, the last write).
snapshot() {
	local c
	for c in $(pctl show cases | python3 -c 'import json,sys
for l in sys.stdin: print(json.loads(l)["case_id"])'); do
		pctl show case "$c" | python3 -c 'import json,sys
for l in sys.stdin:
  if not l.startswith("{"): continue
  o=json.loads(l)
  for k in ("award_id","last","dirty","status","amount_fen","claim_by_ms","reason"): o.pop(k,None)
  print(json.dumps(o,sort_keys=True))'
	done
}

printf '%s\n' "$PW" | padmin user add p.bh finance_proposer 120116 >/dev/null
printf '%s\n' "$PW" | padmin user add a.bh1 finance_approver 120116 >/dev/null
padmin budget fund 120116 "$(TZ=Asia/Shanghai date +%Y)" 1000000 1 >/dev/null

tl_start_intake
tl_start_district bh
tl_start_payouts

# Three reports: A verified and then approved, B under investigation,
# C only received.
declare -A rid lead
for r in A B C; do
	tl_post_report "{\"text\":\"滨海新区 $r 厂夜间炼钢\",\"district\":\"120116\"}" >/dev/null
	tl_assert_eq 201 "$TL_HTTP_STATUS" "report $r"
	rid[$r]=$(tl_json_get "$TL_HTTP_BODY" report_id)
	tl_wait_for 15 has_status "${rid[$r]}" received || tl_fail "payouts never got lead $r"
	lead[$r]=$(pctl show status "${rid[$r]}" | field status case_id)
done
has_cases() { [[ $(dctl dump | grep -c -e "${rid[A]}" -e "${rid[B]}" -e "${rid[C]}") == 3 ]]; }
tl_wait_for 10 has_cases || tl_fail "the district never got the leads"
dctl claim "${lead[A]}" || tl_fail "claim A"
dctl claim "${lead[B]}" || tl_fail "claim B"
dctl verdict "${lead[A]}" substantiated 2 20000 idle_restartable 300 4000000 || tl_fail "verdict A"
tl_wait_for 15 has_status "${rid[A]}" verified || tl_fail "verdict A never applied"
tl_wait_for 15 has_status "${rid[B]}" investigating || tl_fail "claim B never applied"

tl_stop_payouts
award=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
pctl propose "${lead[A]}" "$award" p.bh >/dev/null || tl_fail "propose"
out=$(printf '%s\n' "$PW" | pctl decide "$award" a.bh1 approve ok) || tl_fail "approve: $out"
tl_assert_eq award_approved "$(pstatus "${rid[A]}")" "A approved"
before=$(snapshot)
[[ $(grep -c '"kind": "case"' <<<"$before") == 3 ]] || tl_fail "snapshot before: $before"
tl_assert_contains "$before" '"computed_fen": 5120000' "computed award before (idle tier: 50,000 yuan + 3 % of 40,000 yuan of fines)"

# Lose the database; replay the durables; start again.
rm -f "$TL_PAYOUTS_DB" "$TL_PAYOUTS_DB-wal" "$TL_PAYOUTS_DB-shm"
"$TL_BIN_CLI" streams replay payouts -s "$NATS_URL" -u admin -p "$TL_KEYS/nats-admin.pw" >"$T/log/replay.log" 2>&1 ||
	{ cat "$T/log/replay.log" >&2; tl_fail "tipline streams replay payouts"; }
tl_start_payouts
same() { [[ $(snapshot) == "$before" ]]; }
tl_wait_for 30 same || tl_fail "rebuilt state differs:
before: $before
after:  $(snapshot)"
tl_assert_eq verified "$(pstatus "${rid[A]}")" "A derived from the rebuilt database (the award was lost)"
tl_assert_eq investigating "$(pstatus "${rid[B]}")" "B derived"
tl_assert_eq received "$(pstatus "${rid[C]}")" "C derived"
tl_stop_payouts

# What reporters see: every receipt's TL_STATUS history never goes back.
tl_stream_dump TL_LEADS >"$T/leads.dump"
tl_stream_dump KV_TL_STATUS >"$T/status.dump"
python3 - "$T/leads.dump" "$T/status.dump" "${rid[A]}" "${rid[B]}" "${rid[C]}" <<'EOF' || tl_fail "a status moved backwards"
import json, sys
rank = {"received": 0, "investigating": 1, "verified": 2, "unfounded": 2, "award_approved": 3,
        "claim_received": 4, "claim_refused": 4, "paid": 5, "forfeited": 5}
key_of = {}
for line in open(sys.argv[1], encoding="utf-8"):
    parts = line.rstrip("\n").split(" ", 2)
    if len(parts) == 3 and parts[2].startswith("{"):
        m = json.loads(parts[2])
        key_of[m["report_id"]] = m["status_key"]
hist = {}
for line in open(sys.argv[2], encoding="utf-8"):
    parts = line.rstrip("\n").split(" ", 2)
    if len(parts) == 3 and parts[2].startswith("{"):
        hist.setdefault(parts[1].rsplit(".", 1)[1], []).append(json.loads(parts[2])["status"])
want = {sys.argv[3]: "award_approved", sys.argv[4]: "investigating", sys.argv[5]: "received"}
for rid, last in want.items():
    h = hist.get(key_of[rid], [])
    print(rid, " -> ".join(h), file=sys.stderr)
    if not h or h[-1] != last:
        sys.exit("report %s: last status %s, want %s" % (rid, h[-1] if h else None, last))
    for a, b in zip(h, h[1:]):
        if rank[b] < rank[a]:
            sys.exit("report %s: %s after %s" % (rid, b, a))
EOF
tl_stop_district bh
tl_stop_intake
tl_pass
