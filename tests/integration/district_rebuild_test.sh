#!/usr/bin/env bash
# A lost case database is rebuilt from the streams: the cases from TL_LEADS,
# offers from TL_XFER, and every piece of work (claims, take-overs,
# findings, transfers, verdicts, and the history) from the district's own
# events in TL_EVENTS.  Stop the node, delete the database, `tipline streams
# replay` each code, start again: the case list and each case's view are
# what they were, and the rebuild publishes nothing (docs/districts.md).
# Helpers are called through tl_wait_for:
# shellcheck disable=SC2317
set -euo pipefail
# shellcheck source=tests/lib.sh
source "${TL_SRC_DIR:-.}/tests/lib.sh"

N=6
A=120113 B=120114
tl_setup
tl_need "$TL_BIN_INTAKE" "$TL_BIN_DISTRICT" "$TL_BIN_DISTRICT_CTL"
devenv_write_district_ini rb "$A,$B"
tl_start_intake
tl_start_district rb
# A new database first reads whatever TL_EVENTS holds for it (nothing yet).
rebuilt() { [[ $(tail -n +$((skip + 1)) "$T/log/district-rb.log" | grep -c "rebuild from TL_EVENTS done") == 2 ]]; }
skip=0
tl_wait_for 30 rebuilt || tl_fail "the first start did not finish its (empty) rebuild"
for ((i = 0; i < N; i++)); do
	d=$A
	((i % 3)) || d=$B
	tl_post_report "{\"text\":\"REBUILDTIP-$i 北辰 地条钢\",\"district\":\"$d\"}" >/dev/null
	tl_assert_eq 201 "$TL_HTTP_STATUS" "report $i"
done
ctl() { tl_district_ctl rb "$@"; }
dump() { ctl "$A" x responder dump; ctl "$B" x responder dump; }
all_in() { [[ $(dump | wc -l) == "$N" ]]; }
tl_wait_for 15 all_in || tl_fail "not all leads arrived"
mapfile -t L < <(ctl "$A" x responder dump | cut -d' ' -f1)
[[ ${#L[@]} == 4 ]] || tl_fail "expected 4 leads in $A, got ${#L[@]}"

# Work that lives only in the database (and in TL_EVENTS).
ctl "$A" alice responder claim "${L[0]}"
ctl "$A" alice responder claim "${L[1]}"
ctl "$A" alice responder finding "${L[1]}" miit site_visit confirmed "Inspector W" "photo-1"
ctl "$A" alice responder finding "${L[1]}" police interview confirmed "Officer L"
ctl "$A" alice responder verdict "${L[1]}" substantiated 2 30000 idle_restartable 5000 150000000
ctl "$A" carol responder claim "${L[3]}"
ctl "$A" sup supervisor takeover "${L[3]}" "holder on leave"
ctl "$A" sup supervisor transfer "${L[2]}" "$B" site_elsewhere
offered() { ctl "$B" sup4 supervisor list incoming | grep -- "${L[2]}" >/dev/null; }
tl_wait_for 15 offered || tl_fail "the transfer offer did not arrive"
ctl "$B" sup4 supervisor accept "${L[2]}"
ctl "$B" bob responder claim "${L[2]}"

snapshot() {
	local d id
	dump | sort
	for d in "$A" "$B"; do
		for id in $(ctl "$d" x responder dump | cut -d' ' -f1); do
			echo "== $d $id"
			ctl "$d" x responder get "$id"
		done
	done
}
events() {
	"$TL_BIN_CLI" streams check -s "$NATS_URL" -u admin -p "$TL_KEYS/nats-admin.pw" |
		sed -n 's/^stream *TL_EVENTS *ok (\([0-9]*\) messages)$/\1/p'
}
snapshot >"$T/before"
grep -q "^finding police interview confirmed by=alice" "$T/before" || tl_fail "no finding in the snapshot"
grep -q "verdict=substantiated" "$T/before" || tl_fail "no verdict in the snapshot"
grep -q "taken_over sup" "$T/before" || tl_fail "no take-over in the snapshot"
grep -q "transfer_accepted sup4" "$T/before" || tl_fail "no transfer in the snapshot"
nev=$(events)
[[ -n $nev ]] || tl_fail "cannot count TL_EVENTS"

tl_stop_district rb
rm -f "$T/district/rb.db" "$T/district/rb.db-wal" "$T/district/rb.db-shm"
for d in "$A" "$B"; do
	"$TL_BIN_CLI" streams replay "$d" -s "$NATS_URL" -u admin -p "$TL_KEYS/nats-admin.pw" >/dev/null ||
		tl_fail "streams replay $d"
done
skip=$(wc -l <"$T/log/district-rb.log")
tl_start_district rb
tl_wait_for 60 rebuilt || tl_fail "the rebuild did not finish"
snapshot >"$T/after"
diff -u "$T/before" "$T/after" >&2 || tl_fail "the rebuilt cases differ"
tl_assert_eq "$nev" "$(events)" "events in TL_EVENTS after the rebuild (nothing republished)"
grep -q "REBUILDTIP\|Inspector W\|holder on leave" "$T/log/district-rb.log" &&
	tl_fail "tip text or a reason in the log"

# Work goes on: the next event continues the case's sequence.
ctl "$A" alice responder release "${L[0]}"
ctl "$A" x responder get "${L[0]}" | grep -- "^event 3 released alice" >/dev/null || tl_fail "no event 3 after the rebuild"
tl_assert_eq $((nev + 1)) "$(events)" "the new event was published"

tl_stop_district rb
tl_stop_intake
tl_pass
