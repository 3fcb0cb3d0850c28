#!/bin/bash
# devcluster's simulated controllers, seen through kubectl: a rollout that
# succeeds, one whose image fails (ProgressDeadlineExceeded, exit 1), Jobs
# that complete or fail, LoadBalancer ingress, and a CRD whose custom
# resources appear in discovery.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$KS_SOURCE_DIR/tests/unit/devcluster/devcluster.sh"
ks_tmpdir
dc_need_kubectl
# progressDeadlineSeconds 600 / time-scale 200 = 3 s
dc_start -q --rollout-delay 400ms --time-scale 2 --fail-images 'broken' ||
	{ ks_fail "start"; ks_done; exit 1; }
k() { kubectl --request-timeout=20s "$@"; }

cat >"$ks_tmp/apps.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: good, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: good}}
  template:
    metadata: {labels: {app: good}}
    spec:
      containers: [{name: c, image: "nginx:1.25"}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: bad, namespace: default}
spec:
  replicas: 1
  progressDeadlineSeconds: 6
  selector: {matchLabels: {app: bad}}
  template:
    metadata: {labels: {app: bad}}
    spec:
      containers: [{name: c, image: "registry.example/broken:1"}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: ok-job, namespace: default}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: "busybox:1"}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: bad-job, namespace: default}
spec:
  backoffLimit: 2
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: "broken:1"}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: default}
spec:
  replicas: 1
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: c, image: "postgres:16"}]
---
apiVersion: v1
kind: Service
metadata: {name: lb, namespace: default, labels: {app: lb}}
spec:
  type: LoadBalancer
  selector: {app: good}
  ports: [{name: http, port: 80, targetPort: 8080}]
YAML
t "apply the workloads" k apply -f "$ks_tmp/apps.yaml"
k get deploy good -o json >"$ks_tmp/good0.json"
t_out "rollout status (good)" 'successfully rolled out' k rollout status deploy/good --timeout=20s
k get deploy good -o json >"$ks_tmp/good.json"
t_json "status fields of a finished rollout" "$ks_tmp/good.json" \
	"(lambda s: s['observedGeneration']==1 and s['replicas']==2 and s['updatedReplicas']==2 and s['readyReplicas']==2 and s['availableReplicas']==2)(d['status'])"
t_json "conditions of a finished rollout" "$ks_tmp/good.json" \
	"{c['type']:(c['status'],c['reason']) for c in d['status']['conditions']}=={'Available':('True','MinimumReplicasAvailable'),'Progressing':('True','NewReplicaSetAvailable')}"
t_json "revision annotation" "$ks_tmp/good.json" \
	"d['metadata']['annotations']['deployment.kubernetes.io/revision']=='1'"
t_json "status writes do not bump generation" "$ks_tmp/good.json" "d['metadata']['generation']==1"

start=$(date +%s)
t_fail "rollout status (failing image) exits 1" 'exceeded its progress deadline' \
	k rollout status deploy/bad --timeout=30s
took=$(( $(date +%s) - start ))
if [ $took -le 15 ]; then ks_pass; else ks_fail "deadline took ${took}s, want about 3s"; fi
k get deploy bad -o json >"$ks_tmp/bad.json"
t_json "ProgressDeadlineExceeded condition" "$ks_tmp/bad.json" \
	"any(c['type']=='Progressing' and c['status']=='False' and c['reason']=='ProgressDeadlineExceeded' and 'has timed out progressing' in c['message'] for c in d['status']['conditions'])"
t_json "failing deployment is unavailable" "$ks_tmp/bad.json" \
	"d['status'].get('unavailableReplicas')==1 and not d['status'].get('availableReplicas')"

t_out "job completes" 'condition met' k wait --for=condition=complete job/ok-job --timeout=20s
t_out "failing job fails" 'condition met' k wait --for=condition=failed job/bad-job --timeout=20s
k get job bad-job -o json >"$ks_tmp/job.json"
t_json "failed job has BackoffLimitExceeded" "$ks_tmp/job.json" \
	"any(c['type']=='Failed' and c['reason']=='BackoffLimitExceeded' for c in d['status']['conditions'])"
t_out "statefulset rolls out" 'roll' k rollout status sts/db --timeout=20s
sleep 0.3
t_out "LoadBalancer gets an ingress IP" '^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$' \
	k get svc lb -o 'jsonpath={.status.loadBalancer.ingress[0].ip}{"\n"}'
t_out "EndpointSlice ports follow the service" '^http 8080 TCP$' \
	k get endpointslices -l kubernetes.io/service-name=lb -o 'jsonpath={.items[0].ports[0].name} {.items[0].ports[0].port} {.items[0].ports[0].protocol}{"\n"}'

# a new template: a second ReplicaSet, the old one scaled to 0
t "set image" k set image deploy/good c=nginx:1.26
t_out "rollout status after set image" 'successfully rolled out' k rollout status deploy/good --timeout=20s
t_out "old replicaset scaled down" '^0 2$' \
	bash -c "kubectl get rs -l app=good -o 'jsonpath={range .items[*]}{.spec.replicas}{\"\\n\"}{end}' | sort -n | tr '\n' ' ' | sed 's/ \$//'"
t_out "revision 2" '^2$' k get deploy good -o 'jsonpath={.metadata.annotations.deployment\.kubernetes\.io/revision}{"\n"}'

t_out "rollout undo" 'rolled back' k rollout undo deploy/good
t_out "undo revives the first ReplicaSet as revision 3" '^2 3$' \
	bash -c "kubectl get rs -l app=good -o 'jsonpath={range .items[*]}{.spec.replicas} {.metadata.annotations.deployment\\.kubernetes\\.io/revision}{\"\\n\"}{end}' | sort -n | tail -1"
t_out "rollout status after undo" 'successfully rolled out' k rollout status deploy/good --timeout=20s

# CRDs
cat >"$ks_tmp/crd.yaml" <<'YAML'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
YAML
cat >"$ks_tmp/cr.yaml" <<'YAML'
apiVersion: example.com/v1
kind: Widget
metadata: {name: w1, namespace: default}
spec: {size: 3}
YAML
t "apply the CRD" k apply -f "$ks_tmp/crd.yaml"
t_out "CRD established" 'condition met' k wait --for=condition=established crd/widgets.example.com --timeout=20s
t_out "discovery lists the resource" 'widgets +wd +example.com/v1 +true +Widget' k api-resources --api-group=example.com
t_out "apply a custom resource" 'widget.example.com/w1 created' k apply -f "$ks_tmp/cr.yaml"
sed 's/size: 3/size: 4/' "$ks_tmp/cr.yaml" >"$ks_tmp/cr2.yaml"
t_out "client-side apply of a CR (merge patch)" 'configured' k apply -f "$ks_tmp/cr2.yaml"
t_out "get by short name" '^w1 ' k get wd
k get widget w1 -o json >"$ks_tmp/w1.json"
t_json "CR generation bumped by the spec change" "$ks_tmp/w1.json" "d['metadata']['generation']==2 and d['spec']['size']==4"
t_out "server-side apply of a CR with the live value" 'serverside-applied' k apply --server-side -f "$ks_tmp/cr2.yaml"
# kubectl migrated the client-side apply ownership to itself (csaupgrade)
t_out "server-side apply of a CR after the migration" 'serverside-applied' k apply --server-side -f "$ks_tmp/cr.yaml"
t_out "the CR took the applied value" '^3$' k get widget w1 -o 'jsonpath={.spec.size}{"\n"}'
t "merge patch of a CR" k patch widget w1 --type merge -p '{"spec":{"size":5}}'
t_fail "strategic merge patch of a CR is refused" 'unknown format|415|UnsupportedMediaType|strategic' k patch widget w1 --type strategic -p '{"spec":{"size":6}}' 
t_out "delete the CRD" 'deleted' k delete crd widgets.example.com --wait --timeout=20s
sleep 0.2
t_fail "its resource left discovery" "doesn't have a resource type|could not find the requested resource|no matches" k get widgets
t "clean shutdown (no leaks under ASan)" dc_stop
ks_done
