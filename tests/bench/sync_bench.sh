#!/bin/bash
# Sync benchmark (not part of the tests): N apps (gen_stack.py, about 4-5
# objects each) applied to devcluster. Times and counts the requests of the
# first `kusync apply`, of `kusync drift` right after it (which must report
# no drift), and of `kubectl diff -f` on the same rendered manifests, in the
# same run against the same server. Requests are counted from devcluster's
# request log (one "devcluster: TIME METHOD TARGET" line per request).
# Goal: drift at least 10x faster than kubectl diff, with a request count
# that grows with the number of resource types, not objects.
# usage: sync_bench.sh KUSYNC [N]
set -eu
kusync=$1
n=${2:-1000}
case $kusync in
/*) ;;
*) kusync=$(pwd)/$kusync ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
ws=$src/examples/workspace.yaml

if ! command -v kubectl >/dev/null 2>&1; then
	echo "sync bench: kubectl not found" >&2
	exit 1
fi

tmp=$(mktemp -d)
dc_pid=
cleanup() {
	if [ -n "$dc_pid" ]; then
		kill "$dc_pid" 2>/dev/null || true
		wait "$dc_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
	echo "sync bench: $*" >&2
	exit 1
}

python3 "$here/gen_stack.py" "$tmp/proj" "$n" yaml
stack=$tmp/proj/bench/big

# --- devcluster on a free port, logging every request
log=$tmp/devcluster.log
: >"$log"
"$kusync" devcluster --listen 127.0.0.1:0 --kubeconfig-out "$tmp/kubeconfig" \
	--rollout-delay 100ms 2>"$log" &
dc_pid=$!
url=
for _ in $(seq 100); do
	url=$(sed -n 's/^devcluster: listening on //p' "$log")
	[ -n "$url" ] && break
	kill -0 "$dc_pid" 2>/dev/null || break
	sleep 0.1
done
[ -n "$url" ] || { cat "$log" >&2; fail "devcluster did not start"; }
export KUBECONFIG=$tmp/kubeconfig
export KUBECACHEDIR=$tmp/kube-cache

now() { date +%s.%N; }
# requests logged so far (stderr is unbuffered: a finished client's requests
# are all in the log)
nreq() { grep -Ec '^devcluster: [0-9T:.Z-]+ [A-Z]+ /' "$log" || true; }

# phase NAME OKCODES CMD...: runs CMD with its output in $tmp/NAME.out/.err,
# fails unless its exit status is in OKCODES (space-separated); sets
# secs and reqs.
phase() {
	local name=$1 ok=$2
	shift 2
	local r0 t0 t1 rc=0
	r0=$(nreq)
	t0=$(now)
	"$@" >"$tmp/$name.out" 2>"$tmp/$name.err" || rc=$?
	t1=$(now)
	case " $ok " in
	*" $rc "*) ;;
	*)
		head -c 2000 "$tmp/$name.err" >&2
		head -c 2000 "$tmp/$name.out" >&2
		fail "$name exited $rc"
		;;
	esac
	sleep 0.2 # let the server finish logging the last response
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
	grep -E '^devcluster: [0-9T:.Z-]+ [A-Z]+ /' "$log" | tail -n +$((r0 + 1)) \
		>"$tmp/$name.reqs" || true
	reqs=$(wc -l <"$tmp/$name.reqs")
	echo "  $name: ${secs}s, $reqs requests (exit $rc):" \
		"$(awk '{ print $3 }' "$tmp/$name.reqs" | sort | uniq -c |
			awk '{ printf "%s %s ", $2, $1 }')" >&2
}

echo "sync bench: $n apps on $url" >&2
"$kusync" render -w "$ws" -o manifests "$stack" >"$tmp/manifests.yaml" ||
	fail "render failed"
objects=$(grep -c '^kind:' "$tmp/manifests.yaml" || true)
kinds=$(grep '^kind:' "$tmp/manifests.yaml" | sort -u | wc -l)

phase apply 0 "$kusync" apply -w "$ws" "$stack"
apply_s=$secs apply_r=$reqs
phase drift 0 "$kusync" drift -w "$ws" "$stack"
sed 's/^devcluster: [^ ]* /    /; s/?.*//' "$tmp/drift.reqs" | sort | uniq -c >&2
grep -q '^no drift$' "$tmp/drift.out" ||
	fail "drift after apply: $(head -c 2000 "$tmp/drift.out")"
drift_s=$secs drift_r=$reqs
phase kubectl-diff "0 1" kubectl diff -f "$tmp/manifests.yaml"
diff_s=$secs diff_r=$reqs
difflines=$(grep -c '^[-+][^-+]' "$tmp/kubectl-diff.out" || true)
if [ "$difflines" -gt 0 ]; then
	echo "  kubectl diff output (first 12 lines):" >&2
	head -n 12 "$tmp/kubectl-diff.out" | sed "s/^/    /" >&2
fi

awk -v n="$n" -v o="$objects" -v k="$kinds" \
	-v as="$apply_s" -v ar="$apply_r" -v ds="$drift_s" -v dr="$drift_r" \
	-v ks="$diff_s" -v kr="$diff_r" -v dl="$difflines" 'BEGIN {
	printf "sync benchmark: %d apps, %d objects of %d kinds, devcluster\n", n, o, k
	printf "  %-34s %10s %10s\n", "", "seconds", "requests"
	printf "  %-34s %10.3f %10d\n", "kusync apply (first)", as, ar
	printf "  %-34s %10.3f %10d\n", "kusync drift (no drift)", ds, dr
	printf "  %-34s %10.3f %10d\n", "kubectl diff -f manifests", ks, kr
	printf "  %-34s %9.1fx %9.1fx\n", "kubectl diff / kusync drift", \
		(ds > 0 ? ks / ds : 0), (dr > 0 ? kr / dr : 0)
	printf "  kubectl diff printed %d changed lines\n", dl
}'
