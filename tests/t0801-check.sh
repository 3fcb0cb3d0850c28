#!/bin/bash
# kusync check: each app's policy sets over the rendered stack, one set on
# plain manifests, -p folders, text and JSON output, exit codes.
set -u
. "$(dirname "$0")/lib/common.sh"
ks_tmpdir

ex=$KS_SOURCE_DIR/examples
run() { # run ARGS...: exit code in $rc, output in out/err files
	"$KUSYNC" check "$@" >"$ks_tmp/out" 2>"$ks_tmp/err"
	rc=$?
}
want() { # want NAME RC [STDOUT_REGEX] [STDERR_REGEX]
	if [ "$rc" -ne "$2" ]; then
		ks_fail "$1: exit $rc, want $2 ($(head -3 "$ks_tmp/err"))"
	elif [ -n "${3:-}" ] && ! grep -Eq -- "$3" "$ks_tmp/out"; then
		ks_fail "$1: stdout lacks /$3/: $(head -5 "$ks_tmp/out")"
	elif [ -n "${4:-}" ] && ! grep -Eq -- "$4" "$ks_tmp/err"; then
		ks_fail "$1: stderr lacks /$4/: $(head -3 "$ks_tmp/err")"
	else
		ks_pass
	fi
}

# The demo of examples/ passes its mandatory sets.
run -w "$ex/workspace.yaml" "$ex/demo/prod"
want "demo passes" 0
if grep -q '(mandatory)$' "$ks_tmp/out"; then ks_fail "demo: mandatory line"; else ks_pass; fi

# A stack of our own: a public web app with one replica, an unpinned image
# and limits but no requests.
mkdir -p "$ks_tmp/demo/prod"
echo "name: shop" >"$ks_tmp/demo/project.yaml"
echo "name: prod" >"$ks_tmp/demo/prod/stack.yaml"
cat >"$ks_tmp/demo/prod/web.yaml" <<'YAML'
web:
  workload:
    _type: Service
    replicas: 1
    containers:
      web:
        image: nginx:latest
        resources:
          cpu: "1"
          memory: 512Mi
        readinessProbe:
          probeHandler:
            _type: Http
            url: http://localhost:8080/healthz
    ports:
      - port: 80
        targetPort: 8080
        exposeInternet: true
  policysets:
    release-strategy-check:
      kind: mandatory
    resource-specification:
      kind: advisory
YAML
run "$ks_tmp/demo/prod"
want "public replicas" 1 '^release-strategy-check/public-replicas Deployment shop-prod/shop-prod-web: public workload runs 1 replica\(s\) in its cell; at least 2 are needed to release without downtime \(mandatory\)$'
want "latest image" 1 '^release-strategy-check/image-pinned Deployment shop-prod/shop-prod-web: images not pinned to a tag or digest \(or using latest\): web=nginx:latest \(mandatory\)$'
want "no requests" 1 '^resource-specification/requests-and-limits Deployment shop-prod/shop-prod-web: containers without cpu and memory requests and limits: web \(advisory\)$'
if [ "$(wc -l <"$ks_tmp/out")" -eq 3 ]; then ks_pass; else ks_fail "want 3 lines: $(cat "$ks_tmp/out")"; fi

run -o json "$ks_tmp/demo/prod"
if [ "$rc" -eq 1 ] && python3 - "$ks_tmp/out" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["blocked"] is True
assert r["evaluated"] > 0
assert set(r) == {"violations", "evaluated", "blocked"}
v = {(x["set"], x["rule"]): x for x in r["violations"]}
assert len(v) == 3, v
x = v[("release-strategy-check", "image-pinned")]
assert x["mandatory"] is True and x["kind"] == "Deployment"
assert x["object"] == "shop-prod/shop-prod-web"
assert v[("resource-specification", "requests-and-limits")]["mandatory"] is False
PY
then ks_pass; else ks_fail "json output"; fi

# Fixed, it passes.
sed -i 's|replicas: 1|replicas: 2|; s|image: nginx:latest|image: nginx:1.25.4|' "$ks_tmp/demo/prod/web.yaml"
run "$ks_tmp/demo/prod"
want "fixed" 0 '\(advisory\)$'

# An unknown policy set named by an app is an input error.
sed -i 's|release-strategy-check:|release-strategy-chek:|' "$ks_tmp/demo/prod/web.yaml"
run "$ks_tmp/demo/prod"
want "unknown set" 2 '' 'unknown policy set "release-strategy-chek"'
[ -s "$ks_tmp/out" ] && ks_fail "unknown set: stdout not empty" || ks_pass

# A -p folder defines the set; a set of the same name as a built-in
# replaces it.
mkdir -p "$ks_tmp/pol"
cat >"$ks_tmp/pol/chek.yaml" <<'YAML'
apiVersion: kusync.io/v1
kind: PolicySet
metadata: {name: release-strategy-chek}
spec:
  rules:
    - name: named
      match: {kinds: [Deployment]}
      validate: "object.metadata.name.startsWith('shop-')"
YAML
run -p "$ks_tmp/pol" "$ks_tmp/demo/prod"
want "set from -p" 0
cat >"$ks_tmp/pol/override.yaml" <<'YAML'
apiVersion: kusync.io/v1
kind: PolicySet
metadata: {name: resource-specification}
spec:
  rules:
    - name: never
      match: {kinds: [Deployment]}
      validate: "false"
      messageExpression: "'no ' + object.kind"
YAML
run -p "$ks_tmp/pol" "$ks_tmp/demo/prod"
want "override" 0 '^resource-specification/never Deployment shop-prod/shop-prod-web: no Deployment \(advisory\)$'
if grep -q requests-and-limits "$ks_tmp/out"; then ks_fail "override kept the built-in"; else ks_pass; fi

# The folders of an agent configuration count too.
printf 'policies: [pol]\n' >"$ks_tmp/agent.yaml"
run -c "$ks_tmp/agent.yaml" "$ks_tmp/demo/prod"
want "agent config folders" 0 'resource-specification/never'

# A malformed policy file: file, line and column, exit 2.
cat >"$ks_tmp/pol/broken.yaml" <<'YAML'
apiVersion: kusync.io/v1
kind: PolicySet
metadata: {name: broken}
spec:
  rules:
    - name: r
      validate: "object.spec.replicas >= (2"
YAML
run -p "$ks_tmp/pol" --policy-set broken --manifest /dev/null
want "malformed policy" 2 '' "broken.yaml:7:44: spec.rules\[0\].validate: syntax error"
rm "$ks_tmp/pol/broken.yaml"

# One set on plain manifests.
cat >"$ks_tmp/pods.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: ok, namespace: a}
spec:
  containers:
    - {name: c, image: "busybox:1.36"}
---
apiVersion: v1
kind: Pod
metadata: {name: root, namespace: a}
spec:
  hostNetwork: true
  containers:
    - name: c
      image: busybox:1.36
      securityContext: {privileged: true}
YAML
run --policy-set pod-security-baseline --manifest "$ks_tmp/pods.yaml"
want "manifests" 1 '^pod-security-baseline/privileged Pod a/root: privileged containers: c \(mandatory\)$'
if [ "$(wc -l <"$ks_tmp/out")" -eq 2 ] && grep -q '^pod-security-baseline/host-namespaces Pod a/root: ' "$ks_tmp/out"; then
	ks_pass
else
	ks_fail "manifests: want exactly 2 lines, got: $(cat "$ks_tmp/out")"
fi
run --policy-set pod-security-baseline --advisory --manifest "$ks_tmp/pods.yaml"
want "advisory run" 0 '\(advisory\)$'

# a kind: List and a JSON file
printf '{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"hostPID":true,"containers":[]}}]}\n' >"$ks_tmp/list.json"
run --policy-set pod-security-baseline --manifest "$ks_tmp/list.json"
want "List of objects" 1 '^pod-security-baseline/host-namespaces Pod p: '

run --policy-set nope --manifest "$ks_tmp/pods.yaml"
want "unknown --policy-set" 2 '' 'nope: unknown policy set'
run --policy-set pod-security-baseline
want "--policy-set without manifests" 2 '' 'go together'
run -o yaml "$ks_tmp/demo/prod"
want "bad output format" 2 '' 'unknown output format'
run
want "no stack" 2 '' 'no stack folder'
run --policy-set pod-security-baseline --manifest "$ks_tmp/missing.yaml"
want "missing manifest" 2 '' 'missing.yaml'

ks_done
