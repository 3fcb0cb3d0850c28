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
trap 'rm -rf "$tmp"' EXIT
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

echo
if [ "$failed" -ne 0 ]; then
	echo "demo: something did not behave as expected" >&2
	exit 1
fi
echo "demo: ok"
exit 0
