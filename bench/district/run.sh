#!/usr/bin/env bash
# bench/district/run.sh - the district node's consume path (leads/s into
# the case database) and its TL_CLAIMS claims (claims/s), each against a
# raw JetStream baseline measured in the same run on the same nats-server.
#
# Sets up keys, nats-server, streams and consumers exactly as the
# integration tests do (tests/lib.sh), writes a node config for two
# districts (T/etc/district-bench.ini, level warn) and runs bench_district
# (bench/district/district.c), which drives the real tl_districts_core
# in-process - node_run() on DISTRICT, the pump body on DISTRICT2,
# case_claim() - and the raw baselines on the same server.  Prints
# "summary:" lines; ratios are real throughput / raw throughput.  The state
# folder (keys, JetStream store, case databases) is removed on exit
# (TL_KEEP=1 keeps it).  About 30 s with the defaults on 2 vCPUs.
#
# usage: bench/district/run.sh [BUILD_DIR] [-n LEADS] [-k CLAIMS] [-d DISTRICT] [-D DISTRICT2] [-b FETCH_BATCH]
#        (BUILD_DIR is what scripts/bench.sh passes; default $TL_BUILD_DIR or build/)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [[ $# -gt 0 && $1 != -* ]]; then
	TL_BUILD_DIR=$(cd "$1" && pwd)
	shift
fi
export TL_SRC_DIR=$ROOT
export TL_BUILD_DIR=${TL_BUILD_DIR:-$ROOT/build}
LEADS=5000 CLAIMS=2000 DISTRICT=120116 DISTRICT2=120115 BATCH=64
while getopts "n:k:d:D:b:" o; do
	case $o in
	n) LEADS=$OPTARG ;;
	k) CLAIMS=$OPTARG ;;
	d) DISTRICT=$OPTARG ;;
	D) DISTRICT2=$OPTARG ;;
	b) BATCH=$OPTARG ;;
	*) echo "usage: $0 [BUILD_DIR] [-n LEADS] [-k CLAIMS] [-d DISTRICT] [-D DISTRICT2] [-b FETCH_BATCH]" >&2; exit 2 ;;
	esac
done
BENCH=$TL_BUILD_DIR/bench/district/bench_district
[[ -x $BENCH ]] || { echo "$BENCH is not built" >&2; exit 1; }

# shellcheck source=../../tests/lib.sh
source "$ROOT/tests/lib.sh"
tl_setup
devenv_write_district_ini bench "$DISTRICT,$DISTRICT2" "fetch_batch=$BATCH"
sed -i 's/^level = .*/level = warn/' "$T/etc/district-bench.ini"

"$BENCH" -c "$T/etc/district-bench.ini" -a "$TL_KEYS/nats-admin.pw" -d "$DISTRICT" -D "$DISTRICT2" \
	-n "$LEADS" -k "$CLAIMS" | tee "$T/bench.txt"

field() { sed -nE "s/^district $1 .*[ ]$2=([0-9.]+).*/\1/p" "$T/bench.txt"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "-" }'; }
# node_run's baseline: the raw runs before and after it, total messages over
# total time (the harmonic mean of the two rates).
raw1=$(field raw_consume rate)
raw2=$(field raw_consume_after rate)
raw=$(awk -v a="$raw1" -v b="$raw2" 'BEGIN { if (a > 0 && b > 0) printf "%.0f", 2 / (1 / a + 1 / b); else print 0 }')
node=$(field node_run rate)
core=$(field core_loop rate)
size=$(sed -nE 's/^district leads=.* avg_bytes=([0-9]+).*/\1/p' "$T/bench.txt")

printf '\nsummary: districts=%s,%s leads=%s each (avg %s bytes) claims=%s fetch_batch=%s\n' \
	"$DISTRICT" "$DISTRICT2" "$LEADS" "$size" "$CLAIMS" "$BATCH"
printf 'summary: node_run leads/s=%s raw pull+ack msgs/s=%s (before %s, after %s) ratio=%s\n' \
	"$node" "$raw" "$raw1" "$raw2" "$(ratio "$node" "$raw")"
printf 'summary: core loop leads/s=%s raw pull+ack msgs/s=%s (interleaved) ratio=%s\n' \
	"$core" "$raw1" "$(ratio "$core" "$raw1")"
if [[ $CLAIMS != 0 ]]; then
	kv=$(field raw_kv_create rate)
	kvgc=$(field raw_kv_get_create rate)
	claim=$(field claim rate)
	printf 'summary: claims/s=%s raw kv create/s=%s (interleaved) ratio=%s; raw kv get+create/s=%s ratio=%s\n' \
		"$claim" "$kv" "$(ratio "$claim" "$kv")" "$kvgc" "$(ratio "$claim" "$kvgc")"
fi
tl_pass
