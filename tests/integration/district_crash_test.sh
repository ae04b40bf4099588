#!/usr/bin/env bash
# Crash safety of the district node: 200 leads are posted through intake,
# 8 at a time, while the node is killed with SIGKILL twice and restarted.
# Afterwards every accepted report is a case exactly once, and the node's
# consumer has nothing left pending.
# Helpers are called through tl_wait_for:
# shellcheck disable=SC2317
set -euo pipefail
# shellcheck source=tests/lib.sh
source "${TL_SRC_DIR:-.}/tests/lib.sh"

N=${TL_DISTRICT_CRASH_LEADS:-200}
tl_setup
tl_need "$TL_BIN_INTAKE" "$TL_BIN_DISTRICT" "$TL_BIN_DISTRICT_CTL"
devenv_write_district_ini bh 120116
tl_start_intake
tl_start_district bh

mkdir -p "$T/req" "$T/resp"
for ((i = 0; i < N; i++)); do
	printf '{"text":"CRASHLEAD-%05d 滨海新区 地条钢","district":"120116"}' "$i" >"$T/req/$(printf %05d "$i").json"
done
: >"$T/codes"
export INTAKE_URL T
(
	cd "$T/req"
	# shellcheck disable=SC2011,SC2016 # fixed file names; $T expands in the inner sh
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
		sleep 0.02
	done
	tl_log "SIGKILL to the district node after $(done_count) answers"
	tl_kill_district bh
	sleep 0.3
	tl_start_district bh
}
crash_at $((N / 4))
crash_at $((N * 3 / 5))
wait "$poster" || tl_fail "the posting loop failed"
ok=$(grep -c '^201 ' "$T/codes" || true)
tl_assert_eq "$N" "$ok" "reports accepted"

python3 - "$T/codes" "$T/resp" >"$T/accepted" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    code, name = line.split()
    if code == "201":
        print(json.load(open("%s/%s" % (sys.argv[2], name)))["report_id"])
PY
ctl() { tl_district_ctl bh 120116 x responder "$@"; }
all_cases() { [[ $(ctl dump | wc -l) -ge $N ]]; }
tl_wait_for 60 all_cases || tl_fail "only $(ctl dump | wc -l) of $N cases"
sleep 1
ctl dump >"$T/dump"
tl_assert_eq "$N" "$(wc -l <"$T/dump")" "cases"
tl_assert_eq "$N" "$(cut -d' ' -f1 "$T/dump" | sort -u | wc -l)" "distinct lead ids"
cut -d' ' -f4 "$T/dump" | cut -d@ -f1 | sort >"$T/case_reports"
tl_assert_eq "" "$(comm -3 <(sort "$T/accepted") "$T/case_reports")" "reports without a case / cases without a report"
# Each case opened exactly once (one "opened" event per lead).
opened=$(tl_stream_dump TL_EVENTS | grep -c '\.opened ' || true)
tl_assert_eq "$N" "$opened" "opened events"
backlog() {
	curl -fsS "$NATS_MON_URL/jsz?consumers=true" | python3 -c 'import json,sys
d=json.load(sys.stdin)
for a in d.get("account_details",[]):
  for s in a.get("stream_detail",[]):
    for c in s.get("consumer_detail",[]) or []:
      if s["name"]=="TL_LEADS" and c["name"]=="district-120116":
        print(c.get("num_pending",0)+c.get("num_ack_pending",0))'
}
# Leads the killed node had fetched but not acked come back after the
# consumer's ack wait (30 s) and must be recognised as duplicates.
drained() { [[ $(backlog) == 0 ]]; }
tl_wait_for 45 drained || tl_fail "pending on district-120116: $(backlog)"
tl_assert_eq "$N" "$(ctl dump | wc -l)" "cases after redeliveries"
! grep -q CRASHLEAD "$T/log/district-bh.log" || tl_fail "tip text in the district log"

tl_stop_district bh
tl_stop_intake
tl_pass
