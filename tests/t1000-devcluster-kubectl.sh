#!/bin/bash
# The real kubectl against devcluster: namespaces, client-side and
# server-side apply (with a conflict), get, diff, the three patch types,
# scale, label, delete --wait, and watch.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$KS_SOURCE_DIR/tests/unit/devcluster/devcluster.sh"
ks_tmpdir
dc_need_kubectl
dc_start -q --rollout-delay 200ms || { ks_fail "start"; ks_done; exit 1; }
k() { kubectl --request-timeout=20s "$@"; }

t_out "version reports v1.30.0" 'Server Version: v1\.30\.0' k version
t_out "create namespace" 'namespace/demo created' k create namespace demo
t_fail "create namespace again" 'AlreadyExists|already exists' k create namespace demo
t_out "plain get lists the namespace" '^demo ' k get ns

cat >"$ks_tmp/app.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: demo
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: c
        image: nginx:1.25
        resources:
          limits: {memory: 4096Mi, cpu: 500m}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: demo}
data: {a: "1"}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: demo, labels: {app: web, tier: front}}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
YAML
t_out "apply -f creates" 'deployment.apps/web created' k apply -f "$ks_tmp/app.yaml"
t_out "apply -f again is unchanged" 'configmap/settings unchanged' k apply -f "$ks_tmp/app.yaml"

k -n demo get deploy web -o json >"$ks_tmp/dep.json"
t_json "server defaults: strategy 25%" "$ks_tmp/dep.json" \
	"d['spec']['strategy']=={'type':'RollingUpdate','rollingUpdate':{'maxUnavailable':'25%','maxSurge':'25%'}}"
t_json "server defaults: revisionHistoryLimit, progressDeadlineSeconds" "$ks_tmp/dep.json" \
	"d['spec']['revisionHistoryLimit']==10 and d['spec']['progressDeadlineSeconds']==600"
t_json "server defaults: container" "$ks_tmp/dep.json" \
	"(lambda c: c['imagePullPolicy']=='IfNotPresent' and c['terminationMessagePath']=='/dev/termination-log' and c['terminationMessagePolicy']=='File')(d['spec']['template']['spec']['containers'][0])"
t_json "server defaults: pod spec" "$ks_tmp/dep.json" \
	"(lambda s: s['dnsPolicy']=='ClusterFirst' and s['restartPolicy']=='Always' and s['schedulerName']=='default-scheduler' and s['terminationGracePeriodSeconds']==30)(d['spec']['template']['spec'])"
t_json "quantities canonical: 4096Mi is 4Gi" "$ks_tmp/dep.json" \
	"d['spec']['template']['spec']['containers'][0]['resources']['limits']=={'memory':'4Gi','cpu':'500m'}"
t_json "server metadata" "$ks_tmp/dep.json" \
	"len(d['metadata']['uid'])==36 and d['metadata']['generation']==1 and d['metadata']['resourceVersion'].isdigit() and d['metadata']['creationTimestamp'].endswith('Z')"
k -n demo get svc web -o json >"$ks_tmp/svc.json"
t_json "service defaults" "$ks_tmp/svc.json" \
	"d['spec']['ports'][0]['protocol']=='TCP' and d['spec']['sessionAffinity']=='None' and d['spec']['clusterIP'].count('.')==3 and d['spec']['type']=='ClusterIP'"
t_out "rollout status of a good image" 'successfully rolled out' \
	k -n demo rollout status deploy/web --timeout=20s
t_out "replicaset owned by the deployment" '^web-[a-z0-9]+ +Deployment +web' \
	k -n demo get rs -o 'custom-columns=NAME:.metadata.name,OWNER:.metadata.ownerReferences[0].kind,ON:.metadata.ownerReferences[0].name' --no-headers
sleep 0.3
t_out "endpointslice copies the service labels" 'front' \
	k -n demo get endpointslices -l kubernetes.io/service-name=web -o 'jsonpath={.items[0].metadata.labels.tier}'

# server-side apply: take a field from another manager
t "patch (merge) as kubectl-patch" k -n demo patch configmap settings --type merge -p '{"data":{"b":"2"}}'
cat >"$ks_tmp/cm.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: demo}
data: {a: "1", b: "3"}
YAML
t_fail "apply --server-side conflicts" 'conflict with "kubectl-patch".*\.data\.b' \
	k apply --server-side -f "$ks_tmp/cm.yaml"
t_out "apply --server-side --force-conflicts" 'serverside-applied' \
	k apply --server-side --force-conflicts -f "$ks_tmp/cm.yaml"
t_out "the forced value is stored" '^3$' k -n demo get cm settings -o 'jsonpath={.data.b}{"\n"}'
k -n demo get cm settings -o json --show-managed-fields >"$ks_tmp/cm.json"
t_json "managedFields: kubectl owns .data.b by Apply" "$ks_tmp/cm.json" \
	"any(m['manager']=='kubectl' and m['operation']=='Apply' and 'f:b' in m['fieldsV1']['f:data'] for m in d['metadata']['managedFields'])"
t_json "managedFields: kubectl-patch lost .data.b" "$ks_tmp/cm.json" \
	"not any(m['manager']=='kubectl-patch' and 'f:b' in m.get('fieldsV1',{}).get('f:data',{}) for m in d['metadata']['managedFields'])"
t_json "configmaps have no generation" "$ks_tmp/cm.json" "'generation' not in d['metadata']"

# patches, scale, label
t "patch (strategic) image" k -n demo patch deploy web --type strategic \
	-p '{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"nginx:1.26"}]}}}}'
k -n demo get deploy web -o json >"$ks_tmp/dep2.json"
t_json "strategic patch kept the container's other fields and bumped generation" "$ks_tmp/dep2.json" \
	"d['spec']['template']['spec']['containers'][0]['image']=='nginx:1.26' and d['spec']['template']['spec']['containers'][0]['resources']['limits']['cpu']=='500m' and d['metadata']['generation']==2"
t "patch (json)" k -n demo patch deploy web --type json -p '[{"op":"replace","path":"/spec/replicas","value":3}]'
t_out "json patch applied" '^3$' k -n demo get deploy web -o 'jsonpath={.spec.replicas}{"\n"}'
t_fail "json patch test failure" 'test' k -n demo patch deploy web --type json -p '[{"op":"test","path":"/spec/replicas","value":9}]'
t_out "scale" 'scaled' k -n demo scale deploy web --replicas=1
t_out "scale went through the scale subresource" '^1$' k -n demo get deploy web -o 'jsonpath={.spec.replicas}{"\n"}'
t_out "label" 'labeled' k -n demo label configmap settings team=blue
gen_before=$(k -n demo get deploy web -o 'jsonpath={.metadata.generation}')
t "label a deployment" k -n demo label deploy web team=blue
t_out "a label change does not bump generation" "^$gen_before\$" k -n demo get deploy web -o 'jsonpath={.metadata.generation}{"\n"}'
t_out "get by label selector" '^settings ' k -n demo get cm -l team=blue
t_out "get by set-based selector" '^settings ' k -n demo get cm -l 'team in (blue,red)'
t_out "rollout status after the patches" 'successfully rolled out' \
	k -n demo rollout status deploy/web --timeout=20s

# diff: exit 1 with a change, 0 without
sed 's/nginx:1.25/nginx:1.27/' "$ks_tmp/app.yaml" >"$ks_tmp/app2.yaml"
k diff -f "$ks_tmp/app2.yaml" >"$ks_tmp/diff.out" 2>&1
rc=$?
if [ $rc -eq 1 ] && grep -q '^+ *- image: nginx:1.27' "$ks_tmp/diff.out"; then ks_pass; else ks_fail "diff shows the image change (rc $rc): $(head -c 600 "$ks_tmp/diff.out")"; fi
t_out "diff did not change the object (dry run)" 'nginx:1.26' k -n demo get deploy web -o 'jsonpath={.spec.template.spec.containers[0].image}'
k apply -f "$ks_tmp/app.yaml" >/dev/null 2>&1
k diff -f "$ks_tmp/app.yaml" >"$ks_tmp/diff.out" 2>&1
rc=$?
# after apply, only server-set fields may differ; none are in the manifest
if [ $rc -eq 0 ]; then ks_pass; else ks_fail "diff after apply is empty (rc $rc): $(head -c 600 "$ks_tmp/diff.out")"; fi

# watch
(timeout 20 kubectl -n demo get configmaps --watch --output-watch-events >"$ks_tmp/watch.out" 2>&1 &)
for _ in $(seq 100); do grep -q settings "$ks_tmp/watch.out" && break; sleep 0.1; done
k -n demo create configmap w1 --from-literal=a=1 >/dev/null
k -n demo delete configmap w1 >/dev/null
for _ in $(seq 100); do grep -q 'DELETED *w1' "$ks_tmp/watch.out" && break; sleep 0.1; done
if grep -q 'ADDED *settings' "$ks_tmp/watch.out" && grep -q 'ADDED *w1' "$ks_tmp/watch.out" &&
	grep -q 'DELETED *w1' "$ks_tmp/watch.out"; then ks_pass; else ks_fail "get --watch: $(cat "$ks_tmp/watch.out")"; fi

# delete --wait, cascading through ownerReferences
t_out "delete --wait" 'deleted' k -n demo delete deploy web --wait --timeout=20s
sleep 0.3
t_out "replicasets went with the deployment" '^none$' k -n demo get rs -o 'jsonpath={.items[*].metadata.name}none{"\n"}'
t_out "delete namespace --wait" 'deleted' k delete ns demo --wait --timeout=20s
t_fail "namespace is gone" 'NotFound|not found' k get ns demo
t "clean shutdown (no leaks under ASan)" dc_stop
ks_done
