#!/usr/bin/env bash
# A claim is a lease: renewed by activity, and when it runs out the node's
# scanner returns the lead to the queue (event lease_expired) and anyone
# may claim it.  The lease is 3 s here (lease_seconds), the scan every 1 s.
# Helpers are called through tl_wait_for:
# shellcheck disable=SC2317
set -euo pipefail
# shellcheck source=tests/lib.sh
source "${TL_SRC_DIR:-.}/tests/lib.sh"

tl_setup
tl_need "$TL_BIN_INTAKE" "$TL_BIN_DISTRICT" "$TL_BIN_DISTRICT_CTL"
devenv_write_district_ini ls 120104 lease_seconds=3 scan_seconds=1
tl_start_intake
tl_start_district ls

tl_post_report '{"text":"LEASETIP 南开区 地条钢","district":"120104"}' >/dev/null
tl_assert_eq 201 "$TL_HTTP_STATUS" "report"
ctl() { tl_district_ctl ls 120104 "$@"; }
arrived() { [[ -n $(ctl x responder list new) ]]; }
tl_wait_for 10 arrived || tl_fail "the lead never arrived"
lead=$(ctl x responder list new | cut -d' ' -f1)

ctl alice responder claim "$lead" || tl_fail "claim"
sleep 2
ctl alice responder renew "$lead" || tl_fail "renew inside the lease"
sleep 2
# 4 s after the claim, 2 s after the renew: still alice's.
rc=0
ctl bob responder claim "$lead" 2>/dev/null || rc=$?
tl_assert_eq 3 "$rc" "claim while alice's renewed lease runs"

back_in_queue() { ctl x responder list new | grep -- "$lead" >/dev/null; }
tl_wait_for $((6 * TL_SLOW)) back_in_queue || tl_fail "the expired lease did not return the lead to the queue"
tl_assert_contains "$(ctl x responder get "$lead")" "lease_expired" "case history"
rc=0
ctl alice responder renew "$lead" 2>/dev/null || rc=$?
tl_assert_eq 4 "$rc" "renewing an expired lease"
ctl bob responder claim "$lead" || tl_fail "bob could not claim the returned lead"
tl_assert_contains "$(tl_stream_dump TL_EVENTS)" "tl.event.120104.$lead.lease_expired" "lease_expired event"
grep -q "lease expired lead=$lead" "$T/log/district-ls.log" || tl_fail "expiry not logged"

tl_stop_district ls
tl_stop_intake
tl_pass
