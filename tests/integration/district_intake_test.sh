#!/usr/bin/env bash
# A report posted through intake arrives at its district node as a case,
# under the district's own NATS user; a claim through the core publishes
# "claimed" to TL_EVENTS with the event id as Nats-Msg-Id, and the claim is
# in TL_CLAIMS.  Neither tip text nor identity reaches the node's log or
# any event.
# Helpers are called through tl_wait_for:
# shellcheck disable=SC2317
set -euo pipefail
# shellcheck source=tests/lib.sh
source "${TL_SRC_DIR:-.}/tests/lib.sh"

tl_setup
tl_need "$TL_BIN_INTAKE" "$TL_BIN_DISTRICT" "$TL_BIN_DISTRICT_CTL"
devenv_write_district_ini jh 120118,120000

tl_start_intake
tl_start_district jh

tl_post_report '{"text":"DISTTIP 静海区某厂夜间用中频炉炼钢","district":"120118","contact":{"name":"DISTNAME","phone":"13912345678"}}' >/dev/null
tl_assert_eq 201 "$TL_HTTP_STATUS" "report accepted"
rid=$(tl_json_get "$TL_HTTP_BODY" report_id)

ctl() { tl_district_ctl jh 120118 resp.li responder "$@"; }
has_case() { ctl dump | grep -- "$rid" >/dev/null; }
tl_wait_for 10 has_case || tl_fail "the lead never became a case"
line=$(ctl dump | grep "$rid")
lead=${line%% *}
tl_assert_contains "$line" " 120118 new " "case row"
tl_log "case $lead for report $rid"

# The console view has the (redacted) text; the queue has the case.
tl_assert_contains "$(ctl get "$lead")" "report $lead $rid" "case view"
tl_assert_contains "$(ctl list new)" "$lead" "new queue"
# Another district's console does not see it; the city office does.
out=$(tl_district_ctl jh 120000 city.wang city_office list all)
tl_assert_contains "$out" "$lead" "city board"
rc=0
tl_district_ctl jh 120000 city.x responder get "$lead" >/dev/null 2>&1 || rc=$?
# 5 (denied) or 6 (not found: the other district's cases do not exist for it).
[[ $rc == 5 || $rc == 6 ]] || tl_fail "120000 responder reading a 120118 case: exit $rc"

ctl claim "$lead" || tl_fail "claim failed"
tl_assert_contains "$(ctl list mine)" "$lead" "mine queue"
events=$(tl_stream_dump TL_EVENTS)
tl_assert_contains "$events" "tl.event.120118.$lead.opened" "opened event"
tl_assert_contains "$events" "tl.event.120118.$lead.claimed" "claimed event"
tl_assert_contains "$events" '"holder":"resp.li"' "claimed event body"
claims=$(tl_stream_dump KV_TL_CLAIMS)
tl_assert_contains "$claims" "\$KV.TL_CLAIMS.120118.$lead" "claim in TL_CLAIMS"

# A second claim attempt by someone else is refused (exit 3).
rc=0
tl_district_ctl jh 120118 resp.zhao responder claim "$lead" 2>/dev/null || rc=$?
tl_assert_eq 3 "$rc" "second claim"

for canary in DISTTIP DISTNAME 13912345678 中频炉; do
	! grep -q "$canary" "$T/log/district-jh.log" || tl_fail "district log contains '$canary'"
	[[ $events != *"$canary"* ]] || tl_fail "TL_EVENTS contains '$canary'"
done
! grep -q 'Violation' "$TL_LOG_NATS" || tl_fail "a permissions violation was logged: $(grep Violation "$TL_LOG_NATS" | head -3)"

tl_stop_district jh
tl_stop_intake
tl_pass
