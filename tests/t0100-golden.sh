#!/bin/bash
# Golden render tests. Each folder tests/golden/<case>/ holds one or more
# project folders (project.yaml + stack folders), an optional workspace.yaml,
# an optional `args` file (the render arguments, one a line, when the
# default below does not fit) and expected.yaml: the exact `kusync render`
# output, written by hand from spec/appconfiguration.md (see
# tests/golden/REVIEW.md).
#
# For each case, from inside its folder (so file paths are stable):
#   - `kusync render [-w workspace.yaml] STACK...` equals expected.yaml byte
#     for byte (STACK: every folder holding stack.yaml, sorted);
#   - a second render is byte-identical to the first;
#   - `-o json` parses, and is the same document as the YAML output;
#   - `-o manifests` has one document per resource, each the resource's
#     attributes (compared with PyYAML when it is installed, else counted).
# Then examples/demo.sh (what `make demo` runs) must succeed.
# KS_GOLDEN_CASE=name runs one case. There is deliberately no "update"
# mode: expected files are edited by hand.
set -u
. "$(dirname "$0")/lib/common.sh"
ks_tmpdir

golden=$KS_SOURCE_DIR/tests/golden

case_args() {
	if [ -f args ]; then
		cat args
		return
	fi
	[ -f workspace.yaml ] && printf '%s\n' -w workspace.yaml
	find . -name stack.yaml -printf '%h\n' | sed 's|^\./||' | LC_ALL=C sort
}

# Renders one case three ways into $ks_tmp/<case>/ and checks what the
# shell can; cases that pass go to $ks_tmp/to-check for check_documents.
run_case() {
	local dir=$1 name out ok=1
	name=$(basename "$dir")
	out=$ks_tmp/cases/$name
	mkdir -p "$out"
	(
		cd "$dir" || exit 3
		mapfile -t args < <(case_args)
		timeout 60 "$KUSYNC" render "${args[@]}" >"$out/spec.yaml" 2>"$out/err1"
		echo $? >"$out/rc1"
		timeout 60 "$KUSYNC" render "${args[@]}" >"$out/spec2.yaml" 2>/dev/null
		timeout 60 "$KUSYNC" render -o json "${args[@]}" >"$out/spec.json" 2>/dev/null
		echo $? >"$out/rc2"
		timeout 60 "$KUSYNC" render -o manifests "${args[@]}" >"$out/manifests.yaml" 2>/dev/null
		echo $? >"$out/rc3"
	)
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
	if [ "$(cat "$out/rc2")" != 0 ] || [ "$(cat "$out/rc3")" != 0 ]; then
		ks_fail "$name: -o json exited $(cat "$out/rc2"), -o manifests $(cat "$out/rc3")"
		ok=0
	fi
	[ $ok = 1 ] && echo "$name" >>"$ks_tmp/to-check"
}

# One python3 for every case (it starts slowly on a loaded machine): prints
# "ok NAME" or "FAIL NAME: why" per case.
check_documents() {
	python3 - "$ks_tmp/cases" "$ks_tmp/to-check" <<'PY'
import json, sys
try:
    import yaml
except ImportError:
    yaml = None
root = sys.argv[1]

def check(out):
    try:
        spec = json.load(open(out + "/spec.json"))
    except ValueError as e:
        return "-o json does not parse: %s" % e
    res = spec["resources"]
    text = open(out + "/manifests.yaml").read()
    docs = text.split("---\n")
    if docs[0] != "":
        return "-o manifests does not start with ---"
    docs = docs[1:]
    if len(docs) != len(res):
        return "-o manifests: %d documents for %d resources" % (len(docs), len(res))
    if yaml is None:
        return None
    for i, (d, r) in enumerate(zip(docs, res)):
        got = yaml.safe_load(d)
        if json.loads(json.dumps(got)) != r["attributes"]:
            return "-o manifests: document %d is not the attributes of %s" % (i + 1, r["id"])
    whole = yaml.safe_load(open(out + "/spec.yaml"))
    if json.loads(json.dumps(whole)) != spec:
        return "the YAML and the JSON output are not the same document"
    return None

for name in open(sys.argv[2]).read().split():
    why = check(root + "/" + name)
    print("ok " + name if why is None else "FAIL %s: %s" % (name, why))
PY
}

for dir in "$golden"/*/; do
	dir=${dir%/}
	[ -f "$dir/expected.yaml" ] || continue
	if [ -n "${KS_GOLDEN_CASE:-}" ] && [ "$(basename "$dir")" != "$KS_GOLDEN_CASE" ]; then
		continue
	fi
	run_case "$dir"
done
if [ -s "$ks_tmp/to-check" ]; then
	checked=0
	while read -r verdict rest; do
		checked=$((checked + 1))
		if [ "$verdict" = ok ]; then
			ks_pass
		else
			ks_fail "$rest"
		fi
	done < <(check_documents)
	if [ "$checked" -ne "$(wc -l <"$ks_tmp/to-check")" ]; then
		ks_fail "the document checks did not report on every case"
	fi
fi
# `make demo` renders the same examples; keep it working.
if [ -z "${KS_GOLDEN_CASE:-}" ]; then
	if sh "$KS_SOURCE_DIR/examples/demo.sh" "$KUSYNC" >"$ks_tmp/demo.out" 2>&1; then
		ks_pass
	else
		ks_fail "examples/demo.sh failed"
		tail -20 "$ks_tmp/demo.out" >&2
	fi
fi
if [ $((ks_passed + ks_failed)) -eq 0 ]; then
	ks_fail "no golden cases found under $golden"
fi
ks_done
