#!/bin/bash
# Drift through watches: a kubectl change shows in GET .../drift within a
# second (asserted under 3 s), counted in kusync_drift_resources; in heal
# mode the agent re-applies the drifted object and counts the heal; a
# suspended app is reported but not healed.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$KS_SOURCE_DIR/tests/unit/devcluster/devcluster.sh"
. "$KS_SOURCE_DIR/tests/lib/agent.sh"
ks_tmpdir
dc_need_kubectl
ks_on_exit() {
	ag_on_exit
	[ -n "${dc_pid:-}" ] && kill "$dc_pid" 2>/dev/null && wait "$dc_pid" 2>/dev/null
	return 0
}
cd "$ks_tmp" || exit 1
dc_start -q --rollout-delay 100ms || { ks_fail "devcluster"; ks_done; exit 1; }
k() { kubectl --request-timeout=20s "$@"; }
ag_secrets
ag_repo "$ks_tmp/repo"
cp "$KS_SOURCE_DIR/examples/workspace.yaml" "$ks_tmp/"
cat >agent.yaml <<YAML
listen: 127.0.0.1:0
cluster: {kubeconfig: kubeconfig}
workspace: workspace.yaml
state: {backend: local, path: state}
auth:
  tokens:
    - {name: alice, tokenFile: alice.token, role: approver}
sources:
  - name: report
    url: file://$ks_tmp/repo
    paths: [demo/prod]
    interval: 60s
    namespaces: [demo-prod]
  - name: heal
    url: file://$ks_tmp/repo
    paths: [demo/dev]
    interval: 60s
    namespaces: [demo-dev]
    drift: {mode: heal, resync: 10m}
YAML
ag_start agent.yaml || { ks_fail "agent start"; ks_done; exit 1; }
OR=demo-prod-orders
DEV=demo-dev-api-server
if wait_for 60 app_is $OR "d['release']['phase']=='Succeeded' and d['drift']==0"; then ks_pass; else ks_fail "orders not synced: $(app_field $OR "d['release']['phase'], d['drift']")"; fi
if wait_for 60 app_is $DEV "d['release']['phase']=='Succeeded' and d['drift']==0"; then ks_pass; else ks_fail "dev not synced"; fi
if wait_for 60 app_is $OR "d['health']=='Healthy'"; then ks_pass; else ks_fail "health: $(app_field $OR "d['health']")"; fi

# --- report mode: the change is in the drift report within a second
# (grep rather than python: under load, starting python takes longer
# than the agent needs)
drifted() {
	api GET /api/v1/apps/$OR/drift "$ALICE" >/dev/null &&
		tr -d ' \n' <"$ks_tmp/body" | grep -q '"path":"spec.replicas","desired":2,"live":7'
}
t0=$(date +%s%N)
k -n demo-prod scale deploy $OR --replicas=7 >/dev/null
t1=$(date +%s%N)
found=0
for _ in $(seq 300); do
	if drifted; then found=1; break; fi
	sleep 0.01
done
ms=$((($(date +%s%N) - t1) / 1000000))
echo "drift noticed ${ms} ms after kubectl returned ($(((t1 - t0) / 1000000)) ms for kubectl)"
if [ $found = 1 ] && [ $ms -lt 3000 ]; then ks_pass; else ks_fail "drift not reported in time ($ms ms): $(head -c 500 "$ks_tmp/body")"; fi
t_json "drift report names the object and state" "$ks_tmp/body" \
	"d['resources'][0]['id']=='apps/v1:Deployment:demo-prod:$OR' and d['resources'][0]['state']=='modified' and d['release']>=1"
t_out "report mode leaves the change" '^7$' k -n demo-prod get deploy $OR -o jsonpath='{.spec.replicas}'
if wait_for 60 sh -c "curl -s $AG_URL/metrics | grep -q '^kusync_drift_resources{app=\"$OR\"} 1\$'"; then ks_pass; else ks_fail "metric kusync_drift_resources"; fi
if app_is $OR "d['drift']==1"; then ks_pass; else ks_fail "apps view drift count"; fi

# --- a deleted object is missing
k -n demo-prod delete service $OR --wait=false >/dev/null 2>&1 || k -n demo-prod delete svc -l kusync.io/app=$OR >/dev/null
missing() {
	api GET /api/v1/apps/$OR/drift "$ALICE" >/dev/null &&
		[ "$(jget "$ks_tmp/body" "any(r['state']=='missing' and ':Service:' in r['id'] for r in d['resources'])")" = true ]
}
if wait_for 60 missing; then ks_pass; else ks_fail "deleted Service not missing: $(head -c 500 "$ks_tmp/body")"; fi

# --- heal mode: repaired and counted
k -n demo-dev scale deploy $DEV --replicas=6 >/dev/null
healed() { [ "$(k -n demo-dev get deploy $DEV -o jsonpath='{.spec.replicas}')" = 1 ] && app_is $DEV "d['heals']>=1"; }
if wait_for 60 healed; then ks_pass; else ks_fail "heal: replicas $(k -n demo-dev get deploy $DEV -o jsonpath='{.spec.replicas}') heals $(app_field $DEV "d['heals']")"; fi
if wait_for 60 sh -c "curl -s $AG_URL/metrics | grep -q '^kusync_drift_heals_total{app=\"$DEV\"} [1-9]'"; then ks_pass; else ks_fail "heal metric"; fi
if wait_for 60 app_is $DEV "d['drift']==0"; then ks_pass; else ks_fail "drift after heal: $(app_field $DEV "d['drift']")"; fi

# --- a suspended app is reported, not healed
t_status "suspend" 200 POST /api/v1/apps/$DEV/suspend "$ALICE"
k -n demo-dev scale deploy $DEV --replicas=4 >/dev/null
if wait_for 60 app_is $DEV "d['drift']==1"; then ks_pass; else ks_fail "suspended: drift not reported"; fi
sleep 1
t_out "suspended: not healed" '^4$' k -n demo-dev get deploy $DEV -o jsonpath='{.spec.replicas}'
t_status "resume" 200 POST /api/v1/apps/$DEV/resume "$ALICE"
rep1() { [ "$(k -n demo-dev get deploy $DEV -o jsonpath='{.spec.replicas}')" = 1 ]; }
if wait_for 60 rep1; then ks_pass; else ks_fail "resume did not heal"; fi

ag_stop || ks_fail "stop: exit $?"
if grep -q Sanitizer "$ag_log"; then ks_fail "sanitizer: $(grep -A5 Sanitizer "$ag_log" | head)"; else ks_pass; fi
ks_done
