# Helpers for the malformed-input render scripts (sourced after common.sh
# and ks_tmpdir). The stack is always $ks_tmp/shop/prod, rendered from
# $ks_tmp so that messages name shop/prod/FILE.

# new_stack: a fresh stack shop/prod with project.yaml and stack.yaml.
new_stack() {
	rm -rf "$ks_tmp/shop"
	mkdir -p "$ks_tmp/shop/prod"
	echo "name: shop" >"$ks_tmp/shop/project.yaml"
	echo "name: prod" >"$ks_tmp/shop/prod/stack.yaml"
}

# run_case_file FILE NAME REGEX...: a fresh stack whose FILE comes from
# stdin, then check_render.
run_case_file() {
	local file=$1
	shift
	new_stack
	cat >"$ks_tmp/shop/prod/$file"
	check_render "$@"
}

# check_render NAME REGEX...: `kusync render shop/prod` exits 2, prints
# nothing on stdout, and every REGEX matches some line of stderr (grep -E).
# $KS_RENDER_ARGS is passed before the stack.
check_render() {
	local name=$1
	shift
	# shellcheck disable=SC2086
	(cd "$ks_tmp" && timeout 60 "$KUSYNC" render ${KS_RENDER_ARGS:-} shop/prod) \
		>"$ks_tmp/out" 2>"$ks_tmp/err"
	local rc=$? ok=1
	if [ $rc -ne 2 ]; then
		ks_fail "$name: exit code $rc, want 2"
		ok=0
	fi
	if [ -s "$ks_tmp/out" ]; then
		ks_fail "$name: stdout is not empty"
		ok=0
	fi
	for re in "$@"; do
		if ! grep -Eq -- "$re" "$ks_tmp/err"; then
			ks_fail "$name: stderr lacks /$re/"
			ok=0
		fi
	done
	if [ $ok = 1 ]; then
		ks_pass
	else
		sed 's/^/    stderr: /' "$ks_tmp/err" | head -10 >&2
	fi
}
