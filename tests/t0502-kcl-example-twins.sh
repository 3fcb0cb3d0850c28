#!/bin/bash
# The KCL example and its YAML twin (examples/twins) render to the same
# bytes in every output format.
set -u
. "$(dirname "$0")/lib/common.sh"
ks_tmpdir
for fmt in spec json manifests; do
	(cd "$KS_SOURCE_DIR/examples/twins/kcl" && "$KUSYNC" render -o $fmt demo/prod) >"$ks_tmp/kcl" 2>"$ks_tmp/err1"
	rc1=$?
	(cd "$KS_SOURCE_DIR/examples/twins/yaml" && "$KUSYNC" render -o $fmt demo/prod) >"$ks_tmp/yaml" 2>"$ks_tmp/err2"
	rc2=$?
	if [ $rc1 -ne 0 ] || [ $rc2 -ne 0 ]; then
		ks_fail "$fmt: render failed: $(cat "$ks_tmp/err1" "$ks_tmp/err2")"
	elif ! [ -s "$ks_tmp/kcl" ]; then
		ks_fail "$fmt: empty output"
	elif cmp -s "$ks_tmp/kcl" "$ks_tmp/yaml"; then
		ks_pass
	else
		ks_fail "$fmt: the KCL and YAML forms differ"
		diff "$ks_tmp/yaml" "$ks_tmp/kcl" | head -20 >&2
	fi
done
grep -q 'demo-prod-helloworld-gz99s' "$ks_tmp/kcl" && ks_pass || ks_fail "the helloworld's first cell is missing"
ks_done
