#!/usr/bin/env bash
# scripts/fuzz.sh BUILD_DIR - runs every libFuzzer target built there
# (tests/fuzz/fuzz_<name>.c -> BUILD_DIR/tests/fuzz_<name>) for
# FUZZ_SECONDS (30) each.  The saved corpus tests/fuzz/corpus/<name>/ is
# read as seeds; new inputs go to BUILD_DIR/fuzz-corpus/<name>/ and crashes
# to BUILD_DIR/fuzz-artifacts/, so the repository is never written to.
# Copy an interesting input into tests/fuzz/corpus/<name>/ by hand; it is
# then replayed by every normal test run.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-fuzz}
secs=${FUZZ_SECONDS:-30}

shopt -s nullglob
targets=()
for f in "$build"/tests/fuzz_*; do
	[[ -x $f && $f != *_replay ]] && targets+=("$f")
done
if ((${#targets[@]} == 0)); then
	echo "fuzz: no fuzz targets in $build/tests (tests/fuzz/fuzz_*.c)"
	exit 0
fi
mkdir -p "$build/fuzz-artifacts"
rc=0
for t in "${targets[@]}"; do
	name=${t##*/fuzz_}
	seeds=tests/fuzz/corpus/$name
	work=$build/fuzz-corpus/$name
	mkdir -p "$work"
	args=("$work")
	[[ -d $seeds ]] && args+=("$seeds")
	echo "==== fuzz_$name for ${secs}s ===="
	if ! "$t" -max_total_time="$secs" -print_final_stats=1 \
		-artifact_prefix="$build/fuzz-artifacts/${name}-" "${args[@]}"; then
		echo "==== fuzz_$name FOUND A CRASH (see $build/fuzz-artifacts/) ===="
		rc=1
	fi
done
exit "$rc"
