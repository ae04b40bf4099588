#!/usr/bin/env bash
# bench/intake/run.sh - reports/s through tipline-intake against a raw
# JetStream async-publish baseline, in one run on one nats-server.
#
# Sets up keys, nats-server and streams exactly as the integration tests do
# (tests/lib.sh), starts the vault (if built: it drains TL_DEPOSITS as in
# production) and intake, drives POST /api/v1/reports with wrk and
# report.lua, then stops the daemons and publishes the same number of
# messages of the same average size with bench_jspub.
#
# usage: bench/intake/run.sh [-d SECONDS] [-c CONNECTIONS] [-t INTAKE_THREADS] [-w WRK_THREADS] [-V] [BUILD_DIR]
#        -V: do not start the vault (isolates intake + nats-server)
# env:   TL_BUILD_DIR (default build/), TL_KEEP=1 keeps the state folder.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export TL_SRC_DIR=$ROOT
export TL_BUILD_DIR=${TL_BUILD_DIR:-$ROOT/build}
DUR=10 CONN=64 THREADS=16 WRK_THREADS=2 NOVAULT=0
while getopts "d:c:t:w:V" o; do
	case $o in
	d) DUR=$OPTARG ;;
	c) CONN=$OPTARG ;;
	t) THREADS=$OPTARG ;;
	w) WRK_THREADS=$OPTARG ;;
	V) NOVAULT=1 ;;
	*) echo "usage: $0 [-d SECONDS] [-c CONNECTIONS] [-t INTAKE_THREADS] [-w WRK_THREADS] [-V]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
# scripts/bench.sh passes the build folder as the only argument.
if [[ $# -gt 0 ]]; then
	TL_BUILD_DIR=$(cd "$1" && pwd)
	export TL_BUILD_DIR
fi
JSPUB=$TL_BUILD_DIR/bench/intake/bench_jspub
command -v wrk >/dev/null || { echo "wrk is not installed" >&2; exit 1; }
[[ -x $JSPUB ]] || { echo "$JSPUB is not built" >&2; exit 1; }

# shellcheck source=../../tests/lib.sh
source "$ROOT/tests/lib.sh"
tl_setup
sed -i "s/^threads = .*/threads = $THREADS/" "$TL_INTAKE_INI"
vault=no
if [[ $NOVAULT == 0 && -x $TL_BIN_VAULT ]]; then
	tl_start_vault
	vault=yes
fi
tl_start_intake

cd "$ROOT/bench/intake"
# Warm up: connections, page cache, JetStream's first blocks.
wrk -t"$WRK_THREADS" -c"$CONN" -d2s -s report.lua "$INTAKE_URL" >/dev/null
wrk -t"$WRK_THREADS" -c"$CONN" -d"${DUR}s" --timeout 10s -s report.lua "$INTAKE_URL" | tee "$T/wrk.txt"
line=$(grep '^wrk requests=' "$T/wrk.txt")
requests=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$line")
rate=$(sed -E 's/.* rate=([0-9.]+).*/\1/' <<<"$line")
p50=$(sed -E 's/.*p50_ms=([0-9.]+).*/\1/' <<<"$line")
p99=$(sed -E 's/.*p99_ms=([0-9.]+).*/\1/' <<<"$line")
errors=$(sed -E 's/.*errors_status=([0-9]+).*/\1/' <<<"$line")
accepted=$(curl -sS "$INTAKE_URL/metrics" | awk '/^tipline_reports_accepted_total/ {print $2}')

# Average stored lead size, for a like-for-like baseline payload.
size=$(tl_stream_dump TL_LEADS | sed -n 1,500p | awk '{ n++; s += length($0) - length($1) - length($2) - 2 } END { printf "%d", n ? s / n : 1000 }')

tl_stop_intake
tl_stop_vault
"$JSPUB" -s "$NATS_URL" -u admin -p "$TL_KEYS/nats-admin.pw" -n "$requests" -b "$size" | tee "$T/jspub.txt"
jrate=$(sed -E 's/.* rate=([0-9.]+).*/\1/' "$T/jspub.txt")

printf '\nsummary: intake_threads=%s connections=%s wrk_threads=%s vault=%s duration=%ss\n' \
	"$THREADS" "$CONN" "$WRK_THREADS" "$vault" "$DUR"
printf 'summary: reports/s=%s p50=%sms p99=%sms non-201=%s accepted(metrics)=%s\n' \
	"$rate" "$p50" "$p99" "$errors" "$accepted"
printf 'summary: raw async publish msgs/s=%s (payload %s bytes) ratio=%.3f\n' \
	"$jrate" "$size" "$(awk -v a="$rate" -v b="$jrate" 'BEGIN { print a / b }')"
tl_pass
