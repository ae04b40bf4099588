#!/usr/bin/env bash
# scripts/test.sh BUILD_DIR... - runs ctest in each build directory (both
# always run, even if the first fails) and prints one summary line
# "N passed, M failed" summed over all of them.  Exit 1 if any failed.
#
# Unit and fuzz-replay tests run two at a time; integration and e2e tests
# hold the RESOURCE_LOCK nats_ports, so ctest runs those one at a time.
# Extra ctest arguments may be given in CTEST_ARGS (e.g. CTEST_ARGS='-R harness').
set -euo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
rc=0
for dir in "$@"; do
	log=$(mktemp)
	echo "==== ctest in $dir ===="
	st=0
	# shellcheck disable=SC2086 # CTEST_ARGS is split on purpose
	ctest --test-dir "$dir" --output-on-failure -j "${TL_TEST_JOBS:-2}" ${CTEST_ARGS:-} 2>&1 | tee "$log" || st=$?
	# "100% tests passed, 0 tests failed out of 12"
	line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1 || true)
	if [[ -n $line ]]; then
		total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$line")
		nfail=$(sed -E 's/.*passed, ([0-9]+) tests? failed.*/\1/' <<<"$line")
	elif grep -q 'No tests were found' "$log"; then
		total=0 nfail=0
	else
		total=1 nfail=1 # ctest itself failed
	fi
	passed=$((passed + total - nfail))
	failed=$((failed + nfail))
	if ((st != 0 || nfail != 0)); then
		rc=1
		echo "==== $dir: FAILED ($nfail of $total) ===="
	fi
	rm -f "$log"
done
echo "$passed passed, $failed failed"
exit "$rc"
