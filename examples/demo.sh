#!/bin/sh
# The `make demo` script: renders every example stack with the example
# workspace (no cluster needed), then shows what bad input looks like.
#
#   sh examples/demo.sh path/to/kusync
#
# Exits 0 when kusync behaves as expected, non-zero otherwise.
set -u

if [ $# -ne 1 ]; then
	echo "usage: sh examples/demo.sh path/to/kusync" >&2
	exit 2
fi
case $1 in
/*) kusync=$1 ;;
*) kusync=$(pwd)/$1 ;;
esac
if [ ! -x "$kusync" ]; then
	echo "demo: $kusync is not an executable" >&2
	exit 2
fi

root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kusync-demo.XXXXXX") || exit 3
dc_pid=
# Stops devcluster (when started) and removes the temp dir, however we exit.
cleanup() {
	if [ -n "$dc_pid" ]; then
		kill "$dc_pid" 2>/dev/null
		wait "$dc_pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
failed=0

fail() {
	echo "demo: FAILED: $*" >&2
	failed=1
}

cd "$root" || exit 3

# The apps section of a Spec, one line per app.
summarize_apps() {
	awk '
	/^apps:/ { inapps = 1; next }
	/^resources:/ { inapps = 0 }
	inapps && /^  - name: / { name = $3 }
	inapps && /^    namespace: / { printf "  app %-32s namespace %s\n", name, $2 }
	'
}

# Counts of each kind in a manifests stream.
count_kinds() {
	awk '/^kind: / { n[$2]++ } END { for (k in n) printf "  %4d %s\n", n[k], k }' | sort -k2
}

echo "== $("$kusync" version 2>/dev/null | head -n 1)"
for stack in examples/demo/prod examples/demo/dev examples/platform/prod; do
	echo
	echo "== kusync render -w examples/workspace.yaml $stack"
	if ! "$kusync" render -w examples/workspace.yaml "$stack" \
		>"$tmp/spec.yaml" 2>"$tmp/err"; then
		cat "$tmp/err" >&2
		fail "render $stack"
		continue
	fi
	summarize_apps <"$tmp/spec.yaml"
	if ! "$kusync" render -w examples/workspace.yaml -o manifests "$stack" \
		>"$tmp/manifests.yaml" 2>"$tmp/err"; then
		cat "$tmp/err" >&2
		fail "render -o manifests $stack"
		continue
	fi
	echo "  resources by kind:"
	count_kinds <"$tmp/manifests.yaml"
	"$kusync" render -w examples/workspace.yaml "$stack" >"$tmp/again.yaml" 2>/dev/null
	if ! cmp -s "$tmp/spec.yaml" "$tmp/again.yaml"; then
		fail "two renders of $stack differ"
	fi
done

echo
echo "== an excerpt: helloworld's entry in the apps list (kusync render examples/demo/prod)"
"$kusync" render -w examples/workspace.yaml examples/demo/prod 2>/dev/null |
	awk '
	/^  - name: / { show = ($3 == "demo-prod-helloworld") }
	/^resources:/ { exit }
	show
	'
echo
echo "== an excerpt: the first cell of helloworld (kusync render -o manifests examples/demo/prod)"
"$kusync" render -w examples/workspace.yaml -o manifests examples/demo/prod 2>/dev/null |
	awk '
	/^---$/ { if (show) exit; doc = ""; next }
	{ doc = doc $0 "\n" }
	/^  name: demo-prod-helloworld-gz99s$/ { show = 1 }
	show && /^spec:/ { printf "%s", doc; print "  ..."; exit }
	'

# Bad input: a typo and a word where a number belongs. kusync prints every
# problem with its position, exits 2 and writes nothing on standard output.
echo
echo "== bad input: demo/dev with 'contaners' and 'replicas: two'"
mkdir -p "$tmp/demo"
cp examples/demo/project.yaml "$tmp/demo/"
cp -R examples/demo/dev "$tmp/demo/dev"
awk '
	!typo && /^    containers:$/ { sub(/containers/, "contaners"); typo = 1 }
	/^    replicas: 1$/ { if (++r == 2) sub(/1$/, "two") }
	{ print }
' examples/demo/dev/apps.yaml >"$tmp/demo/dev/apps.yaml"
diff examples/demo/dev/apps.yaml "$tmp/demo/dev/apps.yaml" | sed 's/^/  /'
echo "\$ kusync render demo/dev"
(cd "$tmp" && "$kusync" render demo/dev) >"$tmp/out" 2>"$tmp/err"
rc=$?
sed 's/^/  /' "$tmp/err"
echo "  (exit code $rc)"
[ "$rc" -eq 2 ] || fail "bad input: exit code $rc, want 2"
[ -s "$tmp/out" ] && fail "bad input: standard output is not empty"
grep -q 'contaners' "$tmp/err" || fail "bad input: no message about 'contaners'"
grep -q 'replicas' "$tmp/err" || fail "bad input: no message about 'replicas: two'"

# The cluster side, with no cluster: devcluster serves the Kubernetes API on
# a free loopback port; kusync applies the examples to it, kubectl changes
# something behind kusync's back, kusync drift names the field, and a second
# apply heals it.
echo
echo "== kusync devcluster (a local Kubernetes API server)"
"$kusync" devcluster -q --listen 127.0.0.1:0 --rollout-delay 200ms \
	--kubeconfig-out "$tmp/kubeconfig" 2>"$tmp/devcluster.log" &
dc_pid=$!
url=
for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
	url=$(sed -n 's/^devcluster: listening on //p' "$tmp/devcluster.log")
	[ -n "$url" ] && break
	sleep 0.25
done
if [ -z "$url" ]; then
	cat "$tmp/devcluster.log" >&2
	fail "devcluster did not start"
else
	echo "  listening on $url"
	KUBECONFIG=$tmp/kubeconfig
	KUBECACHEDIR=$tmp/kube-cache
	export KUBECONFIG KUBECACHEDIR
	stack="-w examples/workspace.yaml examples/demo/prod"

	echo
	echo "\$ kusync preview $stack   (what apply would do)"
	# shellcheck disable=SC2086
	"$kusync" preview $stack | tail -n 3 | sed 's/^/  /'

	echo
	echo "\$ kusync apply --wait --timeout 60s $stack"
	# shellcheck disable=SC2086
	"$kusync" apply --wait --timeout 60s $stack >"$tmp/out" 2>&1 ||
		fail "kusync apply failed"
	tail -n 3 "$tmp/out" | sed 's/^/  /'

	if command -v kubectl >/dev/null 2>&1; then
		echo
		echo "\$ kubectl get deployments,services -n demo-prod"
		kubectl get deployments,services -n demo-prod 2>&1 | sed 's/^/  /'
		echo
		echo "\$ kubectl scale deployment demo-prod-api-server --replicas=5 -n demo-prod"
		kubectl scale deployment demo-prod-api-server --replicas=5 \
			-n demo-prod 2>&1 | sed 's/^/  /'
		echo
		echo "\$ kusync drift $stack"
		# shellcheck disable=SC2086
		"$kusync" drift $stack >"$tmp/out" 2>&1
		rc=$?
		sed 's/^/  /' "$tmp/out"
		echo "  (exit code $rc: drift found)"
		[ "$rc" -eq 1 ] || fail "drift: exit code $rc, want 1"
		grep -q 'spec.replicas' "$tmp/out" ||
			fail "drift does not name spec.replicas"
		echo
		echo "\$ kusync apply $stack   (heals the drift)"
		# shellcheck disable=SC2086
		"$kusync" apply $stack 2>&1 | tail -n 1 | sed 's/^/  /'
	fi
	echo
	echo "\$ kusync drift $stack"
	# shellcheck disable=SC2086
	"$kusync" drift $stack >"$tmp/out" 2>&1
	rc=$?
	sed 's/^/  /' "$tmp/out"
	[ "$rc" -eq 0 ] || fail "drift after the healing apply: exit code $rc, want 0"
	kill "$dc_pid" 2>/dev/null
	wait "$dc_pid" 2>/dev/null
	dc_pid=
	echo "  (devcluster stopped)"
fi

# The agent: Git, webhooks, approvals, drift, heal and rollback.
if command -v git >/dev/null 2>&1 && command -v kubectl >/dev/null 2>&1; then
	bash examples/demo-agent.sh "$kusync" || fail "the agent demo"
else
	fail "the agent demo needs git and kubectl"
fi

echo
if [ "$failed" -ne 0 ]; then
	echo "demo: something did not behave as expected" >&2
	exit 1
fi
echo "demo: ok"
exit 0
