#!/bin/sh
# Render benchmark: N apps (default 10000) rendered with `kusync render -o
# json`, side by side with a bare libyaml event scan of the same files, and
# the same apps in KCL form. Prints wall times (best of RUNS), ratios and
# peak RSS. usage: render_bench.sh KUSYNC YAML_SCAN [N] [RUNS]
set -eu
kusync=$1
scan=$2
n=${3:-10000}
runs=${4:-3}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
python3 "$here/gen_stack.py" "$tmp/yaml" "$n" yaml
python3 "$here/gen_stack.py" "$tmp/kcl" "$n" kcl

# best wall time (s) and max RSS (KB) of RUNS runs of a command
measure() {
	best=""
	rss=0
	i=0
	while [ $i -lt "$runs" ]; do
		/usr/bin/time -f "%e %M" -o "$tmp/time" "$@" >"$tmp/out" 2>"$tmp/err" || {
			echo "bench: command failed: $*" >&2; head -5 "$tmp/err" >&2; exit 1; }
		read -r t m <"$tmp/time"
		if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l 2>/dev/null || awk "BEGIN{print ($t < $best)}")" = 1 ]; then
			best=$t
		fi
		[ "$m" -gt "$rss" ] && rss=$m
		i=$((i + 1))
	done
	echo "$best $rss"
}

files=$(ls "$tmp"/yaml/bench/big/apps-*.yaml)
# shellcheck disable=SC2086
set -- $(measure "$scan" $files)
scan_t=$1 scan_rss=$2
set -- $(measure "$kusync" render -o json "$tmp/yaml/bench/big")
yaml_t=$1 yaml_rss=$2
resources=$(grep -c '"id":' "$tmp/out" || true)
set -- $(measure "$kusync" render -o json "$tmp/kcl/bench/big")
kcl_t=$1 kcl_rss=$2
size=$(du -sk "$tmp/yaml/bench/big" | cut -f1)

awk -v n="$n" -v r="$resources" -v size="$size" \
    -v st="$scan_t" -v sr="$scan_rss" -v yt="$yaml_t" -v yr="$yaml_rss" \
    -v kt="$kcl_t" -v kr="$kcl_rss" 'BEGIN {
	printf "render benchmark: %d apps, %d resources, %d KB of YAML (best of runs)\n", n, r, size
	printf "  %-34s %8.3f s  peak RSS %7.1f MB\n", "libyaml event scan (baseline)", st, sr/1024
	printf "  %-34s %8.3f s  peak RSS %7.1f MB  %.2fx the scan\n", "kusync render -o json (YAML)", yt, yr/1024, (st > 0 ? yt/st : 0)
	printf "  %-34s %8.3f s  peak RSS %7.1f MB  %.2fx the YAML form\n", "kusync render -o json (KCL)", kt, kr/1024, (yt > 0 ? kt/yt : 0)
}'
