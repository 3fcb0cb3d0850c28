# Shell helpers for the devcluster integration scripts (tests/t10NN-*.sh),
# sourced after tests/lib/common.sh and ks_tmpdir.

# dc_start [FLAGS...]: starts devcluster on a free loopback port (the server
# picks it and prints it), writes a kubeconfig into $ks_tmp and points
# KUBECONFIG (and kubectl's discovery cache) at the temp dir. Sets DC_URL and

# t_exit NAME CODE REGEX CMD...: CMD exits with CODE and its stdout matches
# REGEX (grep -E; "-" for no check). t_exit_err matches stderr instead,
# t_exit_all stdout and stderr together. Output lands in $ks_tmp/out and
# $ks_tmp/err (t_exit_all: both in out).
_t_exit() {
	local where=$1 name=$2 code=$3 re=$4
	shift 4
	if [ "$where" = all ]; then
		"$@" >"$ks_tmp/out" 2>&1
	else
		"$@" >"$ks_tmp/out" 2>"$ks_tmp/err"
	fi
	local rc=$? file=$ks_tmp/out
	[ "$where" = err ] && file=$ks_tmp/err
	if [ "$rc" -ne "$code" ]; then
		ks_fail "$name: exit $rc, want $code: $(head -c 600 "$ks_tmp/err" 2>/dev/null) $(head -c 600 "$ks_tmp/out")"
	elif [ "$re" != "-" ] && ! grep -Eq -- "$re" "$file"; then
		ks_fail "$name: output lacks /$re/: $(head -c 800 "$file")"
	else
		ks_pass
	fi
}
t_exit() { _t_exit out "$@"; }
t_exit_err() { _t_exit err "$@"; }
t_exit_all() { _t_exit all "$@"; }

# dc_pid. The EXIT trap (ks_on_exit) stops it.
case $KUSYNC in
/*) ;;
*) KUSYNC=$(pwd)/$KUSYNC ;;
esac

dc_start() {
	dc_log=$ks_tmp/devcluster.log
	: >"$dc_log"
	"$KUSYNC" devcluster --listen 127.0.0.1:0 \
		--kubeconfig-out "$ks_tmp/kubeconfig" "$@" 2>"$dc_log" &
	dc_pid=$!
	DC_URL=
	# up to 60 s: a sanitized build on a loaded machine starts slowly
	local end=$((SECONDS + 60))
	while [ $SECONDS -le $end ]; do
		DC_URL=$(sed -n 's/^devcluster: listening on //p' "$dc_log")
		[ -n "$DC_URL" ] && break
		kill -0 "$dc_pid" 2>/dev/null || break
		sleep 0.1
	done
	if [ -z "$DC_URL" ]; then
		echo "devcluster did not start:" >&2
		cat "$dc_log" >&2
		return 1
	fi
	export KUBECONFIG=$ks_tmp/kubeconfig
	export KUBECACHEDIR=$ks_tmp/kube-cache
}

# dc_stop: stops the server started by dc_start and waits for it. Returns
# its exit status.
dc_stop() {
	[ -n "${dc_pid:-}" ] || return 0
	kill "$dc_pid" 2>/dev/null
	wait "$dc_pid"
	local rc=$?
	dc_pid=
	return $rc
}

ks_on_exit() {
	if [ -n "${dc_pid:-}" ]; then
		kill "$dc_pid" 2>/dev/null
		wait "$dc_pid" 2>/dev/null
	fi
}

# dc_need_kubectl: exits the script (as a pass) when kubectl is missing.
dc_need_kubectl() {
	if ! command -v kubectl >/dev/null 2>&1; then
		echo "skipped: no kubectl on this machine"
		echo "0 passed, 0 failed"
		exit 0
	fi
}

# t NAME CMD...: one check that passes when CMD exits 0. CMD's output goes to
# $ks_tmp/out and $ks_tmp/err.
t() {
	local name=$1
	shift
	if "$@" >"$ks_tmp/out" 2>"$ks_tmp/err"; then
		ks_pass
	else
		ks_fail "$name (exit $?): $(head -c 600 "$ks_tmp/err") $(head -c 600 "$ks_tmp/out")"
	fi
}

# t_out NAME REGEX CMD...: CMD exits 0 and its stdout matches REGEX (grep -E).
t_out() {
	local name=$1 re=$2
	shift 2
	if ! "$@" >"$ks_tmp/out" 2>"$ks_tmp/err"; then
		ks_fail "$name (exit $?): $(head -c 600 "$ks_tmp/err")"
	elif ! grep -Eq -- "$re" "$ks_tmp/out"; then
		ks_fail "$name: output lacks /$re/: $(head -c 600 "$ks_tmp/out")"
	else
		ks_pass
	fi
}

# t_fail NAME REGEX CMD...: CMD exits non-zero and stderr matches REGEX.
t_fail() {
	local name=$1 re=$2
	shift 2
	if "$@" >"$ks_tmp/out" 2>"$ks_tmp/err"; then
		ks_fail "$name: succeeded, want failure: $(head -c 300 "$ks_tmp/out")"
	elif ! grep -Eq -- "$re" "$ks_tmp/err"; then
		ks_fail "$name: stderr lacks /$re/: $(head -c 600 "$ks_tmp/err")"
	else
		ks_pass
	fi
}

# jget FILE PYEXPR: evaluates a Python expression over the JSON in FILE
# (bound to d) and prints the result.
jget() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); r=eval(sys.argv[2]); print(json.dumps(r) if not isinstance(r,str) else r)' "$1" "$2"
}

# t_json NAME FILE PYEXPR: passes when the expression is true.
t_json() {
	local name=$1 file=$2 expr=$3
	local got
	got=$(jget "$file" "$expr" 2>&1)
	if [ "$got" = "true" ]; then
		ks_pass
	else
		ks_fail "$name: $expr -> $got; $(head -c 400 "$file")"
	fi
}
