#!/bin/bash
# Golden render tests. Each folder tests/golden/<case>/ holds one or more
# project folders (project.yaml + stack folders), an optional workspace.yaml,
# an optional `args` file (the render arguments, when the default below does
# not fit) and expected.yaml: the exact `kusync render` output, written by
# hand from spec/appconfiguration.md (see tests/golden/REVIEW.md).
#
# For each case, from inside its folder (so file paths are stable):
#   - `kusync render [-w workspace.yaml] STACK...` equals expected.yaml byte
#     for byte (STACK: every folder holding stack.yaml, sorted);
#   - a second render is byte-identical to the first;
#   - `-o json` parses, and is the same document as the YAML;
#   - `-o manifests` has one document per resource, each the resource's
#     attributes (checked with PyYAML when it is installed).
# KS_GOLDEN_CASE=name runs one case; KS_GOLDEN_UPDATE is deliberately absent:
# expected files are edited by hand.
set -u
. "$(dirname "$0")/lib/common.sh"
ks_tmpdir

golden=$KS_SOURCE_DIR/tests/golden
have_pyyaml=0
python3 -c 'import yaml' 2>/dev/null && have_pyyaml=1

case_args() {
	if [ -f args ]; then
		cat args
		return
	fi
	[ -f workspace.yaml ] && printf '%s\n' -w workspace.yaml
	find . -name stack.yaml -printf '%h\n' | sed 's|^\./||' | LC_ALL=C sort
}

run_case() {
	local dir=$1 name
	name=$(basename "$dir")
	local out=$ks_tmp/$name
	mkdir -p "$out"
	(
		cd "$dir" || exit 3
		mapfile -t args < <(case_args)
		timeout 60 "$KUSYNC" render "${args[@]}" >"$out/spec.yaml" 2>"$out/err1"
		echo $? >"$out/rc1"
		timeout 60 "$KUSYNC" render "${args[@]}" >"$out/spec2.yaml" 2>/dev/null
		timeout 60 "$KUSYNC" render -o json "${args[@]}" >"$out/spec.json" 2>"$out/err2"
		echo $? >"$out/rc2"
		timeout 60 "$KUSYNC" render -o manifests "${args[@]}" >"$out/manifests.yaml" 2>"$out/err3"
		echo $? >"$out/rc3"
	)
	local ok=1
	if [ "$(cat "$out/rc1")" != 0 ]; then
		ks_fail "$name: render exited $(cat "$out/rc1")"
		sed 's/^/    stderr: /' "$out/err1" | head -20 >&2
		return
	fi
	if ! cmp -s "$dir/expected.yaml" "$out/spec.yaml"; then
		ks_fail "$name: output differs from expected.yaml"
		diff -u "$dir/expected.yaml" "$out/spec.yaml" | head -200 >&2
		ok=0
	fi
	if ! cmp -s "$out/spec.yaml" "$out/spec2.yaml"; then
		ks_fail "$name: two renders differ"
		ok=0
	fi
	if [ "$(cat "$out/rc2")" != 0 ] || ! python3 -m json.tool "$out/spec.json" >/dev/null 2>&1; then
		ks_fail "$name: -o json exited $(cat "$out/rc2") or does not parse"
		ok=0
	fi
	if [ "$(cat "$out/rc3")" != 0 ]; then
		ks_fail "$name: -o manifests exited $(cat "$out/rc3")"
		ok=0
	elif ! python3 - "$out" "$have_pyyaml" <<'PY' >&2; then
import json, sys
out, have_yaml = sys.argv[1], sys.argv[2] == "1"
spec = json.load(open(out + "/spec.json"))
res = spec["resources"]
text = open(out + "/manifests.yaml").read()
docs = text.split("---\n")
if docs[0] != "":
    sys.exit("manifests: the stream does not start with ---")
docs = docs[1:]
if len(docs) != len(res):
    sys.exit("manifests: %d documents for %d resources" % (len(docs), len(res)))
if have_yaml:
    import yaml
    for i, (d, r) in enumerate(zip(docs, res)):
        got = yaml.safe_load(d)
        if json.loads(json.dumps(got)) != r["attributes"]:
            sys.exit("manifests: document %d is not the attributes of %s" % (i + 1, r["id"]))
    whole = yaml.safe_load(open(out + "/spec.yaml"))
    if json.loads(json.dumps(whole)) != spec:
        sys.exit("spec: the YAML and the JSON output are not the same document")
PY
		ks_fail "$name: -o manifests / -o json do not match the Spec"
		ok=0
	fi
	[ $ok = 1 ] && ks_pass
}

for dir in "$golden"/*/; do
	dir=${dir%/}
	[ -f "$dir/expected.yaml" ] || continue
	if [ -n "${KS_GOLDEN_CASE:-}" ] && [ "$(basename "$dir")" != "$KS_GOLDEN_CASE" ]; then
		continue
	fi
	run_case "$dir"
done
ks_done
