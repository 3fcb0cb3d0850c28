#!/bin/bash
# Every render golden case (tests/golden/*) applied to devcluster: apply
# succeeds, and right after it preview says "no changes" and drift finds
# nothing -- the comparison ignores server defaults, canonical quantities
# and fields other managers own for every kind kusync renders. Each case
# gets a fresh devcluster (the cases share stack names, so one case's
# objects would be the next one's orphans).
set -u
. "$(dirname "$0")/lib/common.sh"
. "$KS_SOURCE_DIR/tests/unit/devcluster/devcluster.sh"
ks_tmpdir
for dir in "$KS_SOURCE_DIR"/tests/golden/*/; do
	name=$(basename "$dir")
	# The case's arguments as t0100-golden.sh reads them, made absolute
	# (kusync runs from here, not from the case's folder).
	args=()
	if [ -f "$dir/args" ]; then
		while IFS= read -r a; do
			case $a in
			-*) args+=("$a") ;;
			/*) args+=("$a") ;;
			*) args+=("$dir/$a") ;;
			esac
		done <"$dir/args"
	else
		[ -f "$dir/workspace.yaml" ] && args+=(-w "$dir/workspace.yaml")
		while IFS= read -r st; do
			args+=("$dir/$st")
		done < <(cd "$dir" && find . -name stack.yaml -printf '%h\n' | sed 's|^\./||' | LC_ALL=C sort)
	fi
	# a case about render errors is not for this test
	"$KUSYNC" render "${args[@]}" >/dev/null 2>&1 || continue
	dc_start -q --rollout-delay 100ms || { ks_fail "$name: start"; continue; }
	# policies are not what this test is about
	if ! "$KUSYNC" apply --skip-policies "${args[@]}" >"$ks_tmp/out" 2>"$ks_tmp/err"; then
		ks_fail "$name: apply: $(head -c 600 "$ks_tmp/err")"
		dc_stop
		continue
	fi
	ks_pass
	if "$KUSYNC" preview "${args[@]}" >"$ks_tmp/out" 2>"$ks_tmp/err" &&
		grep -q '^no changes' "$ks_tmp/out"; then
		ks_pass
	else
		ks_fail "$name: preview after apply: $(head -c 800 "$ks_tmp/out") $(head -c 300 "$ks_tmp/err")"
	fi
	if "$KUSYNC" drift "${args[@]}" -o json >"$ks_tmp/out" 2>"$ks_tmp/err"; then
		ks_pass
	else
		ks_fail "$name: drift after apply: $(head -c 800 "$ks_tmp/out") $(head -c 300 "$ks_tmp/err")"
	fi
	dc_stop
done
ks_done
