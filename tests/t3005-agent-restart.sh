#!/bin/bash
# Crash safety and leadership. kill -9 while a release is deploying (long
# rollouts), restart: the release resumes from its stored phase and
# converges, with no second release. Two agents on the kubernetes backend:
# only the Lease holder applies (the other answers POSTs with 503), kill -9
# the holder, the other takes over once the Lease expires and applies the
# next commit.
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
dc_start -q --rollout-delay 10s || { ks_fail "devcluster"; ks_done; exit 1; }
k() { kubectl --request-timeout=20s "$@"; }
ag_secrets
ag_repo "$ks_tmp/repo"
cp "$KS_SOURCE_DIR/examples/workspace.yaml" "$ks_tmp/"
OR=demo-prod-orders

# config BACKEND NAME: an agent config
config() {
	cat <<YAML
listen: 127.0.0.1:0
cluster: {kubeconfig: kubeconfig}
workspace: workspace.yaml
cacheDir: cache-$2
state: {backend: $1, path: state-$2, namespace: kusync}
auth:
  tokens:
    - {name: alice, tokenFile: alice.token, role: approver}
sources:
  - name: demo
    url: file://$ks_tmp/repo
    paths: [demo/prod]
    interval: 1s
    namespaces: [demo-prod]
YAML
}

# --- kill -9 during a deploy, restart, converge
config local one >one.yaml
ag_start one.yaml one || { ks_fail "agent start"; ks_done; exit 1; }
# (grep on the status, not python: on a loaded machine python can start
# too slowly to catch the deploy at all)
deploying() { api GET /api/v1/apps/$OR "$ALICE" >/dev/null && tr -d ' \n' <"$ks_tmp/body" | grep -Eq '"status":"(Deploying|Checking)"'; }
if wait_for 60 deploying; then ks_pass; else ks_fail "never saw orders deploying: $(app_field $OR "d['release']")"; fi
kill -9 "$ag_pid"
wait "$ag_pid" 2>/dev/null
ag_start one.yaml one-again || { ks_fail "agent restart"; ks_done; exit 1; }
if grep -q "app $OR: resuming release 1 (\(Deploying\|Checking\))" "$ag_log"; then ks_pass; else ks_fail "no resume in the log: $(grep -e resuming -e "$OR" "$ag_log" | head -20) FIRST: $(grep -e "$OR" "$ks_tmp/one.log" | tail -n 8)"; fi
if wait_for 60 app_is $OR "d['release']['phase']=='Succeeded'"; then ks_pass; else ks_fail "did not converge after restart: $(app_field $OR "d['release']")"; fi
t_status "releases after restart" 200 GET /api/v1/apps/$OR/releases "$ALICE"
t_json "one release, no duplicate" "$ks_tmp/body" "[r['number'] for r in d['releases']]==[1]"
t_out "the Deployment is rolled out" '^2$' k -n demo-prod get deploy $OR -o jsonpath='{.status.updatedReplicas}'
ag_stop || ks_fail "stop: exit $?"
k delete ns demo-prod --wait=false >/dev/null 2>&1

# --- two agents on the kubernetes backend
config kubernetes a >a.yaml
config kubernetes b >b.yaml
ag_start a.yaml a || { ks_fail "agent a"; ks_done; exit 1; }
pid_a=$ag_pid url_a=$AG_URL log_a=$ag_log
if wait_for 60 grep -q "now the leader" "$log_a"; then ks_pass; else ks_fail "a did not lead: $(tail -5 "$log_a")"; fi
ag_start b.yaml b || { ks_fail "agent b"; ks_done; exit 1; }
pid_b=$ag_pid url_b=$AG_URL log_b=$ag_log
AG_URL=$url_a
if wait_for 60 app_is $OR "d['release'] is not None and d['release']['phase']=='Succeeded'"; then ks_pass; else ks_fail "a did not deploy"; fi
AG_URL=$url_b
if wait_for 60 app_is $OR "d['release'] is not None and d['release']['phase']=='Succeeded'"; then ks_pass; else ks_fail "b does not see a's release"; fi
t_status "the follower refuses actions" 503 POST /api/v1/apps/$OR/sync "$ALICE"
t_json "503 says why" "$ks_tmp/body" "'not the leader' in d['error']"
if grep -q "pipeline:" "$log_b" || grep -q "now the leader" "$log_b"; then ks_fail "b acted as a leader: $(grep -m3 -e pipeline: -e leader "$log_b")"; else ks_pass; fi
t_json "the follower's view: one release" <(api GET /api/v1/apps/$OR/releases "$ALICE" >/dev/null; cat "$ks_tmp/body") \
	"[r['number'] for r in d['releases']]==[1]"

kill -9 "$pid_a"
wait "$pid_a" 2>/dev/null
t0=$SECONDS
if wait_for 60 grep -q "now the leader" "$log_b"; then ks_pass; else ks_fail "b did not take over"; fi
echo "b took over after $((SECONDS - t0)) s"
sed -i 's/replicas: 2/replicas: 3/' "$ks_tmp/repo/demo/prod/orders.yaml"
ag_commit "$ks_tmp/repo" "three"
if wait_for 60 app_is $OR "d['release']['number']==2 and d['release']['phase']=='Succeeded'"; then ks_pass; else ks_fail "b did not deploy the next commit: $(app_field $OR "d['release']['number'], d['release']['commit']") A: $(grep -e "$OR" -e leader "$log_a" | grep -v drifted | tail -n 12) B: $(grep -e "$OR" -e leader "$log_b" | grep -v drifted | tail -n 12)"; fi
t_out "3 replicas" '^3$' k -n demo-prod get deploy $OR -o jsonpath='{.spec.replicas}'
t_out "releases kept in Secrets" 'kusync.release.demo-prod-orders.v2' k -n kusync get secrets -o name
ag_stop "$pid_b" || ks_fail "b stop: exit $?"
holder=$(k -n kusync get lease kusync-leader -o jsonpath='{.spec.holderIdentity}')
if [ -z "$holder" ]; then ks_pass; else ks_fail "lease not released on shutdown: $holder"; fi
ks_done
