#!/usr/bin/env bash
# scripts/bench.sh BUILD_DIR - runs each benchmark in bench/<name>/: its
# run.sh if it has one (called with BUILD_DIR), else the bench_<name>
# executable built in BUILD_DIR/bench/<name>/.  Figures belong in
# bench/README.md as same-run ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
build=$(cd "$build" && pwd)

shopt -s nullglob
ran=0
rc=0
for d in bench/*/; do
	name=$(basename "$d")
	if [[ -x $d/run.sh ]]; then
		echo "==== bench $name ($d/run.sh) ===="
		"$d/run.sh" "$build" || rc=1
	elif [[ -x $build/bench/$name/bench_$name ]]; then
		echo "==== bench $name ===="
		"$build/bench/$name/bench_$name" || rc=1
	else
		echo "==== bench $name: nothing to run (no run.sh, no bench_$name) ===="
		continue
	fi
	ran=$((ran + 1))
done
echo "bench: $ran benchmark(s) run"
exit "$rc"
