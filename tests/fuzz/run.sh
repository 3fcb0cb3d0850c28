#!/bin/sh
# Runs every fuzz target for SECONDS each, seeded from tests/fuzz/corpus/<name>
# and the examples. A crash leaves its input in the build folder and fails
# the run; add such inputs to tests/fuzz/regressions/<name>/ once fixed.
# usage: tests/fuzz/run.sh BUILD_DIR SECONDS
set -eu
build=$1
secs=${2:-60}
src=$(cd "$(dirname "$0")/../.." && pwd)
status=0
for bin in "$build"/tests/fuzz/fuzz_*; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin")
	work="$build/fuzz-work/$name"
	mkdir -p "$work/corpus" "$work/crashes"
	seeds=""
	for d in "$src/tests/fuzz/corpus/$name" "$src/tests/fuzz/regressions/$name"; do
		[ -d "$d" ] && seeds="$seeds $d"
	done
	# Replay the regressions first: each must pass.
	if [ -d "$src/tests/fuzz/regressions/$name" ]; then
		"$bin" -runs=0 "$src/tests/fuzz/regressions/$name" >"$work/replay.log" 2>&1 || {
			echo "fuzz: $name fails a regression input"; tail -30 "$work/replay.log"; status=1; continue; }
	fi
	echo "fuzz: $name for ${secs}s"
	# shellcheck disable=SC2086
	if ! "$bin" -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$work/crashes/" -print_final_stats=1 \
		"$work/corpus" $seeds >"$work/log" 2>&1; then
		echo "fuzz: $name found a problem:"; tail -40 "$work/log"; status=1
	else
		grep -E 'stat::number_of_executed_units' "$work/log" || true
	fi
done
exit $status
