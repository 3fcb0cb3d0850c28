#!/bin/bash
# kusync apply when things go wrong: an unreachable cluster, a server that
# refuses one kind of object (the failure names the object and the server's
# message, dependants are skipped, independent work is done, re-running
# converges), throttling with Retry-After, and --wait on a rollout that
# never becomes available or takes too long.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$KS_SOURCE_DIR/tests/unit/devcluster/devcluster.sh"
ks_tmpdir
dc_need_kubectl
k() { kubectl --request-timeout=20s "$@"; }
WS=$KS_SOURCE_DIR/examples/workspace.yaml
STACK=$KS_SOURCE_DIR/examples/demo/prod
ks() { "$KUSYNC" "$@" -w "$WS" "$STACK"; }


# --- no cluster
port=$(ks_free_port)
cat >"$ks_tmp/nowhere.yaml" <<YAML
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "http://127.0.0.1:$port"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
YAML
t_exit_err "unreachable cluster: exit 3" 3 "^kusync: .*127\.0\.0\.1:$port" \
	ks preview --kubeconfig "$ks_tmp/nowhere.yaml"
t_exit_err "missing kubeconfig: exit 3" 3 'kubeconfig ".*/missing" does not exist' \
	ks drift --kubeconfig "$ks_tmp/missing"
t_exit_err "unknown context: exit 3" 3 'context "nope" not found' \
	ks drift --kubeconfig "$ks_tmp/nowhere.yaml" --context nope
t_exit_err "bad flag: exit 2" 2 'unknown flag --bogus' ks apply --bogus
t_exit_err "bad timeout: exit 2" 2 'is not a duration' ks apply --wait --timeout soon

# --- the server refuses ConfigMaps
dc_start -q --rollout-delay 100ms --fault 'verb=patch,resource=configmaps,error=422' ||
	{ ks_fail "start"; ks_done; exit 1; }
# a mandatory policy set refuses the apply before anything is written
mkdir -p "$ks_tmp/shop/prod"
printf 'name: shop\n' >"$ks_tmp/shop/project.yaml"
printf 'name: prod\n' >"$ks_tmp/shop/prod/stack.yaml"
cat >"$ks_tmp/shop/prod/web.yaml" <<'YAML'
web:
  workload:
    containers:
      web:
        image: nginx:1.25.4
  policysets:
    release-strategy-check:
      kind: mandatory
YAML
t_exit_err "a mandatory policy violation refuses the apply" 1 \
	'^kusync: apply refused: mandatory policy violations' \
	"$KUSYNC" apply "$ks_tmp/shop/prod"
cp "$ks_tmp/err" "$ks_tmp/policy.err"
t_out "the violation is named" 'release-strategy-check/readiness-probe Deployment shop-prod/shop-prod-web: .*\(mandatory\)' \
	cat "$ks_tmp/policy.err"
t_fail "nothing was written" 'NotFound|not found' k get namespace shop-prod
t_exit_err "--skip-policies applies anyway" 0 'mandatory policy violations ignored' \
	"$KUSYNC" apply --skip-policies "$ks_tmp/shop/prod"
t "the Deployment exists" k -n shop-prod get deploy shop-prod-web

t_exit_err "apply with refused ConfigMaps fails" 1 \
	'^kusync: apply "v1:ConfigMap:demo-prod:demo-prod-helloworld-nginx-0-[0-9a-f]{8}": .*\(422' ks apply
t_exit_err "its dependants are skipped, named" 1 \
	'^kusync: skipped "apps/v1:Deployment:demo-prod:demo-prod-helloworld-gz99s": it depends on "v1:ConfigMap:demo-prod:demo-prod-helloworld-nginx-[01]-[0-9a-f]{8}", which was not applied$' ks apply
t "independent work is done: the orders Deployment exists" k -n demo-prod get deploy demo-prod-orders
t "independent work is done: the orders Secrets exist" k -n demo-prod get secret orders-mysql
t_fail "the dependant was not applied" 'NotFound|not found' k -n demo-prod get deploy demo-prod-helloworld-gz99s
curl -fsS -X DELETE "$DC_URL/_devcluster/faults" >/dev/null
t_exit_err "re-running converges" 0 - ks apply
cp "$ks_tmp/out" "$ks_tmp/apply.txt"
t_out "apply's summary" '^apply: [0-9]+ created, 0 updated, 0 deleted, [0-9]+ unchanged$' cat "$ks_tmp/apply.txt"
t_exit_err "and then there is nothing to do" 0 - ks preview
cp "$ks_tmp/out" "$ks_tmp/preview.txt"
t_out "preview says no changes" '^no changes' cat "$ks_tmp/preview.txt"

# --- throttling: 429 with Retry-After twice, then through
curl -fsS -X PUT --data 'verb=get,error=429,retry-after=1,count=2' "$DC_URL/_devcluster/faults" >/dev/null
t_exit_err "429s are retried" 0 - ks drift
curl -fsS -X DELETE "$DC_URL/_devcluster/faults" >/dev/null

# --- the cluster refuses every write: an environment failure, exit 3
k -n demo-prod scale deploy demo-prod-orders --replicas=4 >/dev/null
curl -fsS -X PUT --data 'verb=patch,error=403' "$DC_URL/_devcluster/faults" >/dev/null
t_exit_err "refused writes: exit 3" 3 \
	'^kusync: apply "apps/v1:Deployment:demo-prod:demo-prod-orders": .*\(403' ks apply
curl -fsS -X DELETE "$DC_URL/_devcluster/faults" >/dev/null
dc_stop

# --- --wait: a rollout that never becomes available
dc_start -q --rollout-delay 100ms --fail-images 'api-server' --time-scale 120 ||
	{ ks_fail "start"; ks_done; exit 1; }
t_exit_err "--wait reports the degraded Deployment" 1 \
	'"apps/v1:Deployment:demo-prod:demo-prod-api-server" is degraded: deployment exceeded its progress deadline' \
	ks apply --wait --timeout 60s
dc_stop

# --- --wait with cells: a degraded cell stops the next ones
dc_start -q --rollout-delay 100ms --fail-images '^nginx:' --time-scale 120 ||
	{ ks_fail "start"; ks_done; exit 1; }
t_exit_err "the first cell is degraded" 1 \
	'^kusync: "apps/v1:Deployment:demo-prod:demo-prod-helloworld-gz99s" is degraded: deployment exceeded its progress deadline$' \
	ks apply --wait --timeout 60s
cp "$ks_tmp/err" "$ks_tmp/cells.err"
t_out "the next cell is not rolled out" \
	'^kusync: skipped "apps/v1:Deployment:demo-prod:demo-prod-helloworld-rz99k": cell "GZ99S" is not healthy \("apps/v1:Deployment:demo-prod:demo-prod-helloworld-gz99s" is degraded\)$' \
	cat "$ks_tmp/cells.err"
t_out "nor the one after it" \
	'^kusync: skipped "apps/v1:Deployment:demo-prod:demo-prod-helloworld-gz20w": ' \
	cat "$ks_tmp/cells.err"
t_fail "the second cell's Deployment does not exist" 'NotFound|not found' \
	k -n demo-prod get deploy demo-prod-helloworld-rz99k
t "other apps were rolled out" k -n demo-prod get deploy demo-prod-orders
dc_stop

# --- --wait: a rollout slower than the timeout
dc_start -q --rollout-delay 30s || { ks_fail "start"; ks_done; exit 1; }
t_exit_err "--wait gives up after --timeout" 1 \
	'^kusync: "apps/v1:Deployment:demo-prod:demo-prod-helloworld-gz99s" is not healthy after the timeout: 0 of 2 updated replicas are available$' \
	ks apply --wait --timeout 2s
cp "$ks_tmp/err" "$ks_tmp/timeout.err"
t_out "a cell that is not healthy in time stops the next" \
	'^kusync: skipped "apps/v1:Deployment:demo-prod:demo-prod-helloworld-rz99k": cell "GZ99S" is not healthy \("apps/v1:Deployment:demo-prod:demo-prod-helloworld-gz99s" is not healthy in time\)$' \
	cat "$ks_tmp/timeout.err"
dc_stop
ks_done
