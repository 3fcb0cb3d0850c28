#!/bin/bash
# kusync drift / apply --prune against devcluster for the changes a person
# makes with kubectl (a strategic-merge patch of an env var, deleting a
# Service, adding a label) and for edits to the AppConfiguration (a port,
# an env var and a container removed or renamed, an app dropped).
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


t_exit "apply" 0 '^apply: [0-9]+ created, 0 updated, 0 deleted, 0 unchanged$' ks apply
t_exit "no drift after apply" 0 '^no drift$' ks drift

# --- a strategic-merge patch of an env var kusync set
k -n demo-prod patch deploy demo-prod-api-server --type strategic \
	-p '{"spec":{"template":{"spec":{"containers":[{"name":"api","env":[{"name":"LOG_LEVEL","value":"changed"}]}]}}}}' >/dev/null
t_exit "drift names the patched env var by key" 1 \
	'^apps/v1:Deployment:demo-prod:demo-prod-api-server +modified +spec\.template\.spec\.containers\[name=api\]\.env\[name=LOG_LEVEL\]\.value +"info" -> "changed"$' \
	ks drift
t_exit "drift -o json" 1 - ks drift -o json
cp "$ks_tmp/out" "$ks_tmp/drift1.json"
t_json "drift json: exactly the env value" "$ks_tmp/drift1.json" \
	"[r for a in d['apps'] for r in a['resources']]==[{'id':'apps/v1:Deployment:demo-prod:demo-prod-api-server','state':'modified','fields':[{'path':'spec.template.spec.containers[name=api].env[name=LOG_LEVEL].value','desired':'info','live':'changed'}]}]"
t_exit "apply heals the env var" 0 '^apply: 0 created, 1 updated, 0 deleted, [0-9]+ unchanged$' ks apply
t_out "LOG_LEVEL is info again" '^info$' \
	k -n demo-prod get deploy demo-prod-api-server -o jsonpath='{.spec.template.spec.containers[?(@.name=="api")].env[?(@.name=="LOG_LEVEL")].value}{"\n"}'
t_exit "no drift after healing the env var" 0 '^no drift$' ks drift

# --- kubectl delete of a Service
k -n demo-prod delete service demo-prod-api-server-private >/dev/null
t_exit "drift reports the deleted Service missing" 1 \
	'^v1:Service:demo-prod:demo-prod-api-server-private +missing$' ks drift
t_exit "drift -o json" 1 - ks drift -o json
cp "$ks_tmp/out" "$ks_tmp/drift2.json"
t_json "drift json: only the Service, missing" "$ks_tmp/drift2.json" \
	"[(r['id'],r['state']) for a in d['apps'] for r in a['resources']]==[('v1:Service:demo-prod:demo-prod-api-server-private','missing')]"
t_exit "apply recreates the Service" 0 '^apply: 1 created, 0 updated, 0 deleted, [0-9]+ unchanged$' ks apply
t "the Service is back" k -n demo-prod get service demo-prod-api-server-private
t_exit "no drift after recreating" 0 '^no drift$' ks drift

# --- a label kusync does not own is not drift
k -n demo-prod label deploy demo-prod-orders someone.example/tier=gold >/dev/null
t_exit "a new label is not drift" 0 '^no drift$' ks drift
if grep -q 'someone.example' "$ks_tmp/out"; then ks_fail "the new label shows in drift"; else ks_pass; fi
t_exit "apply leaves the new label" 0 '^apply: 0 created, 0 updated, 0 deleted, [0-9]+ unchanged$' ks apply
t_out "the new label survives apply" '^gold$' \
	k -n demo-prod get deploy demo-prod-orders -o jsonpath='{.metadata.labels.someone\.example/tier}{"\n"}'

# --- edits to the AppConfiguration, then apply --prune
k -n demo-prod create configmap stray --from-literal=a=1 >/dev/null
k create namespace elsewhere >/dev/null
k -n elsewhere create configmap stray --from-literal=a=1 >/dev/null
cp -r "$KS_SOURCE_DIR/examples/demo" "$ks_tmp/demo"
S2=$ks_tmp/demo/prod
t_out "nightly-report has a CronJob before" 'demo-prod-nightly-report' \
	k -n demo-prod get cronjob -l kusync.io/app=demo-prod-nightly-report -o name
t "the orders Service exists before" k -n demo-prod get service demo-prod-orders-private
t_out "helloworld's container is nginx before" '^nginx$' \
	k -n demo-prod get deploy demo-prod-helloworld-gz99s -o jsonpath='{.spec.template.spec.containers[*].name}{"\n"}'
rm "$S2/nightly-report.yaml"
python3 - "$S2" <<'PY'
import sys
d = sys.argv[1]
def edit(name, old, new):
    p = d + "/" + name
    s = open(p).read()
    assert old in s, (name, old)
    open(p, "w").write(s.replace(old, new, 1))
edit("api-server.yaml", "          LOG_LEVEL: info\n", "")
edit("orders.yaml", "    ports:\n      - port: 8080\n", "")
edit("helloworld.yaml", "      nginx:\n", "      web:\n")
PY
ks2() { "$KUSYNC" "$@" -w "$WS" "$S2"; }
t_exit "apply --prune of the edited stack" 0 '^apply: ' ks2 apply --prune
cp "$ks_tmp/out" "$ks_tmp/apply2.out"
t_exit "no drift after the edited apply" 0 '^no drift$' ks2 drift
t_out "LOG_LEVEL is gone, the other env vars stay" '^DB_USER DB_PASSWORD UPSTREAM_TOKEN$' \
	k -n demo-prod get deploy demo-prod-api-server -o jsonpath='{.spec.template.spec.containers[?(@.name=="api")].env[*].name}{"\n"}'
t_fail "the orders Service (its only port) is pruned" 'NotFound|not found' \
	k -n demo-prod get service demo-prod-orders-private
for cell in gz99s rz99k gz20w; do
	t_out "the renamed container replaces the old one ($cell)" '^web$' \
		k -n demo-prod get deploy demo-prod-helloworld-$cell -o jsonpath='{.spec.template.spec.containers[*].name}{"\n"}'
done
nightly=$(k get cronjob,job,deploy,service,configmap,secret -A -l kusync.io/app=demo-prod-nightly-report -o name 2>&1)
if [ -z "$nightly" ]; then ks_pass; else ks_fail "nightly-report's objects are left: $nightly"; fi
t_out "apply reports deleting the CronJob" '^deleted +batch/v1:CronJob:demo-prod:demo-prod-nightly-report$' \
	cat "$ks_tmp/apply2.out"
t_out "apply reports deleting the orders Service" '^deleted +v1:Service:demo-prod:demo-prod-orders-private$' \
	cat "$ks_tmp/apply2.out"
if grep -q 'stray' "$ks_tmp/apply2.out"; then ks_fail "apply touched the unlabelled ConfigMaps"; else ks_pass; fi
t "the unlabelled ConfigMap stays" k -n demo-prod get configmap stray
t "the ConfigMap in another namespace stays" k -n elsewhere get configmap stray
t "other apps' objects stay" k -n demo-prod get deploy demo-prod-orders
t "the orders database stays" k -n demo-prod get secret orders-mysql
ks_done
