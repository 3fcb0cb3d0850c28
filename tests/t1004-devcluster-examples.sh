#!/bin/bash
# Every example stack, rendered and applied to devcluster with the real
# kubectl: client-side apply creates everything, a second apply changes
# nothing, server-side apply of the same manifests succeeds, diff is empty
# and the Deployments roll out.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$KS_SOURCE_DIR/tests/unit/devcluster/devcluster.sh"
ks_tmpdir
dc_need_kubectl
dc_start -q --rollout-delay 100ms || { ks_fail "start"; ks_done; exit 1; }
ex=$KS_SOURCE_DIR/examples
stacks=$(cd "$ex" && for f in */*/stack.yaml; do dirname "$f"; done)
[ -n "$stacks" ] || ks_fail "no example stacks found"
for s in $stacks; do
	m=$ks_tmp/$(echo "$s" | tr / -).yaml
	if ! "$KUSYNC" render -w "$ex/workspace.yaml" -o manifests "$ex/$s" >"$m" 2>"$ks_tmp/err"; then
		ks_fail "render $s: $(head -c 300 "$ks_tmp/err")"
		continue
	fi
	n=$(grep -c '^kind:' "$m")
	kubectl apply -f "$m" >"$ks_tmp/apply.out" 2>&1
	rc=$?
	created=$(grep -c ' created$' "$ks_tmp/apply.out")
	if [ $rc -eq 0 ] && [ "$created" -eq "$n" ]; then ks_pass; else
		ks_fail "$s: apply created $created of $n (rc $rc): $(head -c 600 "$ks_tmp/apply.out")"; fi
	kubectl apply -f "$m" >"$ks_tmp/apply.out" 2>&1
	unchanged=$(grep -c ' unchanged$' "$ks_tmp/apply.out")
	if [ "$unchanged" -eq "$n" ]; then ks_pass; else
		ks_fail "$s: second apply left $unchanged of $n unchanged: $(grep -v unchanged "$ks_tmp/apply.out" | head -c 600)"; fi
	kubectl diff -f "$m" >"$ks_tmp/diff.out" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then ks_pass; else ks_fail "$s: diff after apply (rc $rc): $(head -c 600 "$ks_tmp/diff.out")"; fi
	t_out "$s: server-side apply" 'serverside-applied' kubectl apply --server-side --force-conflicts -f "$m"
	ns=$(sed -n 's/^  namespace: //p' "$m" | head -1)
	for d in $(kubectl -n "$ns" get deploy -o name); do
		t_out "$s: rollout status $d" 'successfully rolled out' kubectl -n "$ns" rollout status "$d" --timeout=20s
	done
done
t "clean shutdown (no leaks under ASan)" dc_stop
ks_done
