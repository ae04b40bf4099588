#!/usr/bin/env bash
# Transfers between two district nodes (separate processes, databases and
# NATS users).  120101 offers a lead to 120102, which refuses: the lead is
# back in 120101's queue.  Offered again, 120102 accepts: 120101's case is
# "transferred", 120102 has it with the deadline clock carried over.  At no
# point is the lead held by both or by neither.
# Helpers are called through tl_wait_for:
# shellcheck disable=SC2317
set -euo pipefail
# shellcheck source=tests/lib.sh
source "${TL_SRC_DIR:-.}/tests/lib.sh"

tl_setup
tl_need "$TL_BIN_INTAKE" "$TL_BIN_DISTRICT" "$TL_BIN_DISTRICT_CTL"
devenv_write_district_ini a 120101
devenv_write_district_ini b 120102
tl_start_intake
tl_start_district a
tl_start_district b

tl_post_report '{"text":"XFERTIP 河东区的厂子 地条钢","district":"120101"}' >/dev/null
tl_assert_eq 201 "$TL_HTTP_STATUS" "report"
A() { tl_district_ctl a 120101 "$@"; }
B() { tl_district_ctl b 120102 "$@"; }
arrived() { [[ -n $(A x responder list new) ]]; }
tl_wait_for 10 arrived || tl_fail "the lead never arrived"
lead=$(A x responder list new | cut -d' ' -f1)

# holders LEAD: "<state at a> <state at b or offered or ->"
state_a() { A x responder get "$lead" | sed -n 1p | cut -d' ' -f3; }

A alice responder claim "$lead"
A alice responder transfer "$lead" 120102 site_elsewhere "the site is in 河东" || tl_fail "transfer request"
tl_assert_eq xfer_out "$(state_a)" "state at 120101 after the request"
offered() { B carol responder list incoming | grep -- "$lead" >/dev/null; }
tl_wait_for 10 offered || tl_fail "120102 never saw the offer"
# While pending, 120102 has no case and 120101 cannot act on it.
rc=0
B carol responder get "$lead" >/dev/null 2>&1 || rc=$?
tl_assert_eq 6 "$rc" "120102 case before accepting"
rc=0
A alice responder claim "$lead" 2>/dev/null || rc=$?
tl_assert_eq 4 "$rc" "claim while the transfer is pending"

B carol responder refuse "$lead" "not in our district either" || tl_fail "refuse"
back() { [[ $(state_a) == new ]]; }
tl_wait_for 10 back || tl_fail "refused lead did not come back to 120101 (state $(state_a))"
rc=0
B carol responder accept "$lead" 2>/dev/null || rc=$?
tl_assert_eq 6 "$rc" "accepting a refused offer"

# Second offer: accepted.
A alice responder claim "$lead"
A alice responder transfer "$lead" 120102 site_elsewhere
tl_wait_for 10 offered || tl_fail "120102 never saw the second offer"
B carol responder accept "$lead" || tl_fail "accept"
moved() { [[ $(state_a) == transferred ]]; }
tl_wait_for 10 moved || tl_fail "120101 did not record the transfer (state $(state_a))"
view=$(B carol responder get "$lead")
tl_assert_contains "$view" "$lead 120102 new" "case at 120102"
tl_assert_contains "$view" "transfers=2" "transfer count"
tl_assert_contains "$view" "origin=120101" "origin"
B carol responder claim "$lead" || tl_fail "120102 cannot claim the accepted lead"
rc=0
A alice responder claim "$lead" 2>/dev/null || rc=$?
tl_assert_eq 4 "$rc" "120101 claiming a transferred lead"

events=$(tl_stream_dump TL_EVENTS)
for ev in "120101.$lead.transfer_requested" "120102.$lead.transfer_refused" \
	"120102.$lead.transfer_accepted" "120102.$lead.claimed"; do
	tl_assert_contains "$events" "tl.event.$ev" "TL_EVENTS"
done
xfers=$(tl_stream_dump TL_XFER)
tl_assert_contains "$xfers" "tl.xfer.120102.120101.$lead" "offer subject"
tl_assert_contains "$xfers" "tl.xfer.120101.120102.$lead" "reply subject"
! grep -q XFERTIP "$T/log/district-a.log" "$T/log/district-b.log" || tl_fail "tip text in a district log"

tl_stop_district a
tl_stop_district b
tl_stop_intake
tl_pass
