#!/bin/bash
# kusync apply / preview / drift against devcluster, with kubectl changing
# things behind kusync's back: apply converges, an immediate preview says
# "no changes", drift names the exact fields kubectl changed, re-apply heals,
# generated passwords are written once, Secret values never show, orphans
# are reported and pruned.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$KS_SOURCE_DIR/tests/unit/devcluster/devcluster.sh"
ks_tmpdir
dc_need_kubectl
dc_start -q --rollout-delay 100ms || { ks_fail "start"; ks_done; exit 1; }
k() { kubectl --request-timeout=20s "$@"; }
WS=$KS_SOURCE_DIR/examples/workspace.yaml
STACK=$KS_SOURCE_DIR/examples/demo/prod
ks() { "$KUSYNC" "$@" -w "$WS" "$STACK"; }


# --- first preview: everything is to be created
t_exit "preview on an empty cluster lists creates" 1 \
	'^  \+ create    v1:Namespace:demo-prod$' ks preview
t_exit "preview summary has no updates or deletes" 1 \
	'^plan: [0-9]+ to create, 0 to update, 0 to delete, 0 unchanged$' ks preview
t_exit "preview -o json" 1 - ks preview -o json
cp "$ks_tmp/out" "$ks_tmp/preview.json"
t_json "preview json: every action is create, with no fields" "$ks_tmp/preview.json" \
	"all(a['action']=='create' and a['fields']==[] for app in d['apps'] for a in app['actions']) and len(d['apps'])==4"

# --- apply, then nothing left to do
t_exit "apply --wait" 0 '^apply: [0-9]+ created, 0 updated, 0 deleted, 0 unchanged$' \
	ks apply --wait --timeout 60s
t_exit "preview right after apply: no changes" 0 '^no changes \([0-9]+ unchanged\)$' ks preview
t_exit "drift right after apply: none" 0 '^no drift$' ks drift
t_out "objects carry the field manager kusync" 'kusync' \
	k -n demo-prod get deploy demo-prod-orders -o jsonpath='{.metadata.managedFields[*].manager}'

# --- generated database password: one value for both Secrets, written once
pw1=$(k -n demo-prod get secret orders-mysql -o jsonpath='{.data.password}')
pw2=$(k -n demo-prod get secret orders-mysql-local-secret -o jsonpath='{.data.password}')
if [ -n "$pw1" ] && [ "$pw1" = "$pw2" ] && [ "$(printf %s "$pw1" | base64 -d | wc -c)" -ge 16 ]; then
	ks_pass
else
	ks_fail "generated password: '$pw1' vs '$pw2'"
fi
t_out "the password is owned by kusync-generate" 'kusync-generate' \
	k -n demo-prod get secret orders-mysql -o jsonpath='{.metadata.managedFields[*].manager}'

# --- changes behind kusync's back
k -n demo-prod scale deploy demo-prod-orders --replicas=5 >/dev/null
k -n demo-prod set image deploy/demo-prod-api-server api=evil:1 >/dev/null
k -n demo-prod annotate deploy demo-prod-orders someone.example/note=hi >/dev/null
t_exit "drift after kubectl scale" 1 \
	'^apps/v1:Deployment:demo-prod:demo-prod-orders +modified +spec\.replicas +2 -> 5$' ks drift
t_exit "drift names the container image by key" 1 \
	'^apps/v1:Deployment:demo-prod:demo-prod-api-server +modified +spec\.template\.spec\.containers\[name=api\]\.image +"ghcr\.io/example/api-server:1\.4\.2" -> "evil:1"$' \
	ks drift
if grep -q 'someone.example' "$ks_tmp/out"; then
	ks_fail "another manager's annotation is not drift"
else
	ks_pass
fi
t_exit "drift -o json" 1 - ks drift -o json
cp "$ks_tmp/out" "$ks_tmp/drift.json"
t_json "drift json: the orders report has exactly spec.replicas 2 -> 5" "$ks_tmp/drift.json" \
	"[r for a in d['apps'] if a['app']=='demo-prod-orders' for r in a['resources']]==[{'id':'apps/v1:Deployment:demo-prod:demo-prod-orders','state':'modified','fields':[{'path':'spec.replicas','desired':2,'live':5}]}]"
t_json "drift json: two modified resources in all" "$ks_tmp/drift.json" \
	"sorted(r['state'] for a in d['apps'] for r in a['resources'])==['modified','modified']"
t_exit "preview shows the update live -> desired" 1 '^      spec\.replicas  5 -> 2$' ks preview

# --- Secret values never appear
k -n demo-prod patch secret upstream-token --type merge -p '{"data":{"token":"c3VwZXJzZWNyZXQ="}}' >/dev/null
t_exit "secret drift shows hashes only" 1 \
	'^v1:Secret:demo-prod:upstream-token +modified +data\.token +\(changed, sha256:[0-9a-f]{8} -> sha256:[0-9a-f]{8}\)$' ks drift
if grep -q 'c3VwZXJzZWNyZXQ=' "$ks_tmp/out"; then ks_fail "secret value leaked in drift"; else ks_pass; fi
ks drift -o json >"$ks_tmp/out" 2>&1
if grep -q 'c3VwZXJzZWNyZXQ=' "$ks_tmp/out"; then ks_fail "secret value leaked in drift json"; else ks_pass; fi

# --- re-apply heals, and leaves the password alone
t_exit "apply heals" 0 '^apply: 0 created, 3 updated, 0 deleted, [0-9]+ unchanged$' ks apply
t_exit "no drift after healing" 0 '^no drift$' ks drift
t_out "replicas back to 2" '^2$' k -n demo-prod get deploy demo-prod-orders -o jsonpath='{.spec.replicas}{"\n"}'
t_out "the other manager's annotation survives" '^hi$' \
	k -n demo-prod get deploy demo-prod-orders -o jsonpath='{.metadata.annotations.someone\.example/note}{"\n"}'
pw3=$(k -n demo-prod get secret orders-mysql -o jsonpath='{.data.password}')
if [ "$pw3" = "$pw1" ]; then ks_pass; else ks_fail "password changed on re-apply"; fi

# --- an object that lost its ownership label is still found, not "missing"
k -n demo-prod label deploy demo-prod-orders kusync.io/stack- >/dev/null
t_exit "drift shows the removed label" 1 \
	'^apps/v1:Deployment:demo-prod:demo-prod-orders +modified +metadata\.labels\["kusync\.io/stack"\] +"demo-prod" -> \(absent\)$' ks drift
t_exit "apply puts it back" 0 '^apply: 0 created, 1 updated, 0 deleted, [0-9]+ unchanged$' ks apply
t_exit "and the drift is gone" 0 '^no drift$' ks drift

# --- orphans and prune
cat >"$ks_tmp/orphan.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata:
  name: leftover
  namespace: demo-prod
  labels: {kusync.io/app: demo-prod-orders, kusync.io/stack: demo-prod}
data: {a: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: precious
  namespace: demo-prod
  labels: {kusync.io/app: demo-prod-orders, kusync.io/stack: demo-prod}
  annotations: {kusync.io/prune: "false"}
data: {a: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: not-ours
  namespace: demo-prod
  labels: {kusync.io/app: someone-else, kusync.io/stack: other-stack}
YAML
k apply -f "$ks_tmp/orphan.yaml" >/dev/null
t_exit "drift reports the orphan" 1 '^v1:ConfigMap:demo-prod:leftover +orphan$' ks drift
if grep -q 'not-ours' "$ks_tmp/out"; then ks_fail "another stack's object is not an orphan"; else ks_pass; fi
t_exit "preview without --prune deletes nothing" 0 '^no changes' ks preview
t_exit "preview --prune shows the deletion" 1 '^  - delete    v1:ConfigMap:demo-prod:leftover$' ks preview --prune
t_exit "apply --prune deletes it" 0 '^deleted   v1:ConfigMap:demo-prod:leftover$' ks apply --prune
t_fail "the orphan is gone" 'NotFound|not found' k -n demo-prod get configmap leftover
t "prune: \"false\" is kept" k -n demo-prod get configmap precious
t "another stack's object is kept" k -n demo-prod get configmap not-ours
t "the namespace is never pruned" k get namespace demo-prod
ks_done
