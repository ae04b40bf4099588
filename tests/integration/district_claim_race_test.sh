#!/usr/bin/env bash
# Two console replicas claim the same lead at the same moment: exactly one
# wins (TL_CLAIMS create-only / compare-and-set), the other is told the
# lead is claimed (exit 3), and exactly one "claimed" event is published.
# Repeated over several leads so that the race really happens.
# Helpers are called through tl_wait_for:
# shellcheck disable=SC2317
set -euo pipefail
# shellcheck source=tests/lib.sh
source "${TL_SRC_DIR:-.}/tests/lib.sh"

N=8
tl_setup
tl_need "$TL_BIN_INTAKE" "$TL_BIN_DISTRICT" "$TL_BIN_DISTRICT_CTL"
devenv_write_district_ini hp 120101
tl_start_intake
tl_start_district hp

for ((i = 0; i < N; i++)); do
	tl_post_report "{\"text\":\"RACETIP-$i 和平区 地条钢\",\"district\":\"120101\"}" >/dev/null
	tl_assert_eq 201 "$TL_HTTP_STATUS" "report $i"
done
ctl() { tl_district_ctl hp 120101 "$@"; }
all_in() { [[ $(ctl nobody responder list new | wc -l) == "$N" ]]; }
tl_wait_for 15 all_in || tl_fail "not all $N leads arrived"
mapfile -t leads < <(ctl nobody responder list new | cut -d' ' -f1)

for lead in "${leads[@]}"; do
	ctl alice responder claim "$lead" 2>/dev/null &
	pa=$!
	ctl bob responder claim "$lead" 2>/dev/null &
	pb=$!
	ra=0 rb=0
	wait "$pa" || ra=$?
	wait "$pb" || rb=$?
	case "$ra$rb" in
	03 | 30) ;;
	*) tl_fail "lead $lead: claims exited $ra and $rb (want exactly one 0 and one 3)" ;;
	esac
	winner=alice
	[[ $ra == 0 ]] || winner=bob
	tl_assert_contains "$(ctl "$winner" responder list mine)" "$lead" "$winner's queue"
done

events=$(tl_stream_dump TL_EVENTS)
claimed=$(grep -c '\.claimed ' <<<"$events" || true)
tl_assert_eq "$N" "$claimed" "claimed events"

tl_stop_district hp
tl_stop_intake
tl_pass
