#!/bin/bash
# The KCL form renders exactly as the YAML form: each stack under
# tests/kcl/twin-kcl/ has a twin under tests/kcl/twin-yaml/ with the same
# project and stack names and the same apps written in YAML; both must
# render byte for byte the same in every output format. The render
# benchmark's generator writes the same apps in both forms too.
set -u
. "$(dirname "$0")/lib/common.sh"
ks_tmpdir

twins=$KS_SOURCE_DIR/tests/kcl

# compare NAME KCL_STACK YAML_STACK: render both in every format.
compare() {
	name=$1 kdir=$2 ydir=$3
	for fmt in spec json manifests; do
		"$KUSYNC" render -o $fmt "$kdir" >"$ks_tmp/k.out" 2>"$ks_tmp/k.err"
		krc=$?
		"$KUSYNC" render -o $fmt "$ydir" >"$ks_tmp/y.out" 2>"$ks_tmp/y.err"
		yrc=$?
		if [ $krc -ne 0 ] || [ $yrc -ne 0 ]; then
			ks_fail "$name -o $fmt: exit codes kcl=$krc yaml=$yrc"
			head -5 "$ks_tmp/k.err" "$ks_tmp/y.err" >&2
			continue
		fi
		if [ ! -s "$ks_tmp/y.out" ]; then
			ks_fail "$name -o $fmt: empty output"
			continue
		fi
		if cmp -s "$ks_tmp/k.out" "$ks_tmp/y.out"; then
			ks_pass
		else
			ks_fail "$name -o $fmt: the KCL form renders differently"
			diff "$ks_tmp/y.out" "$ks_tmp/k.out" | head -20 >&2
		fi
	done
}

n=0
for kstack in "$twins"/twin-kcl/*/*/; do
	kstack=${kstack%/}
	[ -f "$kstack/stack.yaml" ] || continue
	rel=${kstack#"$twins"/twin-kcl/}
	ystack=$twins/twin-yaml/$rel
	if ! ls "$kstack"/*.k >/dev/null 2>&1; then
		ks_fail "$rel: the KCL twin has no .k file"
	fi
	if ls "$kstack"/*.yaml 2>/dev/null | grep -qv '/stack.yaml$'; then
		ks_fail "$rel: the KCL twin has YAML app files"
	fi
	compare "$rel" "$kstack" "$ystack"
	n=$((n + 1))
done
[ $n -ge 1 ] || ks_fail "no twin stacks found"

# The helloworld twin carries the apps the talk shows.
"$KUSYNC" render -o json "$twins/twin-kcl/demo/prod" >"$ks_tmp/hw.json" 2>/dev/null
for want in '"name": *"demo-prod-helloworld"' '"cell": *"GZ99S"' \
	'"kind": *"Deployment"' '"demo-prod-helloworld-rz99k"' \
	'"dependedApps": *\[ *"demo-prod-apiserver"'; do
	if tr -d '\n' <"$ks_tmp/hw.json" | grep -Eq -- "$want"; then
		ks_pass
	else
		ks_fail "helloworld render lacks /$want/"
	fi
done

# The benchmark's apps, both forms (a few hundred, over several files).
if command -v python3 >/dev/null 2>&1; then
	gen=$KS_SOURCE_DIR/tests/bench/gen_stack.py
	python3 "$gen" "$ks_tmp/gy" 250 yaml && python3 "$gen" "$ks_tmp/gk" 250 kcl
	compare "bench apps" "$ks_tmp/gk/bench/big" "$ks_tmp/gy/bench/big"
fi

ks_done
