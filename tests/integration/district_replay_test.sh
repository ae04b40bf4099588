#!/usr/bin/env bash
# TL_LEADS keeps leads (limits retention), so a lost case database is
# rebuilt by replaying it: stop the node, delete the database, reset the
# district's consumers (`tipline streams replay`), start again.  The same
# cases (lead, district, reports) come back, and the work on them (the
# claim here) from TL_EVENTS (docs/districts.md).
# Helpers are called through tl_wait_for:
# shellcheck disable=SC2317
set -euo pipefail
# shellcheck source=tests/lib.sh
source "${TL_SRC_DIR:-.}/tests/lib.sh"

N=20
tl_setup
tl_need "$TL_BIN_INTAKE" "$TL_BIN_DISTRICT" "$TL_BIN_DISTRICT_CTL"
devenv_write_district_ini rp 120113,120114
tl_start_intake
tl_start_district rp
for ((i = 0; i < N; i++)); do
	d=120113
	((i % 3)) || d=120114
	tl_post_report "{\"text\":\"REPLAYTIP-$i 北辰 地条钢\",\"district\":\"$d\"}" >/dev/null
	tl_assert_eq 201 "$TL_HTTP_STATUS" "report $i"
done
dump() { tl_district_ctl rp 120113 x responder dump; tl_district_ctl rp 120114 x responder dump; }
all_in() { [[ $(dump | wc -l) == "$N" ]]; }
tl_wait_for 15 all_in || tl_fail "not all leads arrived"
lead=$(dump | sed -n 1p | cut -d' ' -f1)
d=$(dump | sed -n 1p | cut -d' ' -f2)
tl_district_ctl rp "$d" alice responder claim "$lead"
dump | cut -d' ' -f1,2,4- | sort >"$T/before"

tl_stop_district rp
rm -f "$T/district/rp.db" "$T/district/rp.db-wal" "$T/district/rp.db-shm"
"$TL_BIN_CLI" streams replay 120113 -s "$NATS_URL" -u admin -p "$TL_KEYS/nats-admin.pw" >/dev/null ||
	tl_fail "streams replay 120113"
"$TL_BIN_CLI" streams replay 120114 -s "$NATS_URL" -u admin -p "$TL_KEYS/nats-admin.pw" >/dev/null ||
	tl_fail "streams replay 120114"
tl_start_district rp
tl_wait_for 15 all_in || tl_fail "only $(dump | wc -l) of $N cases after the replay"
dump | cut -d' ' -f1,2,4- | sort >"$T/after"
diff -u "$T/before" "$T/after" >&2 || tl_fail "the rebuilt cases differ"
# The claim comes back too, from TL_EVENTS (district_rebuild_test.sh).
tl_assert_eq "$((N - 1))" "$(dump | grep -c ' new ')" "rebuilt unclaimed cases are new"
tl_assert_eq "$lead $d claimed" "$(dump | grep "^$lead " | cut -d' ' -f1-3)" "the claim is back"

tl_stop_district rp
tl_stop_intake
tl_pass
