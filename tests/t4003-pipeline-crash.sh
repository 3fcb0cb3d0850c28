#!/bin/bash
# Crash safety (spec/agent.md: every transition is stored before it is acted
# on): the agent is killed with SIGKILL while a release is AwaitingApproval,
# Checking, Deploying and RollingBack, and restarted each time; the release
# resumes and ends where it would have without the crash (AwaitingApproval
# waits on, the others Succeeded / RolledBack), one release per commit,
# numbers never reused, and the generated database password keeps its value.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$KS_SOURCE_DIR/tests/unit/devcluster/devcluster.sh"
. "$KS_SOURCE_DIR/tests/lib/agent.sh"
. "$KS_SOURCE_DIR/tests/lib/pipeline.sh"
ks_tmpdir
dc_need_kubectl
ks_on_exit() {
	ag_on_exit
	pl_keep
	[ -n "${dc_pid:-}" ] && kill "$dc_pid" 2>/dev/null && wait "$dc_pid" 2>/dev/null
	return 0
}
cd "$ks_tmp" || exit 1
# --time-scale divides every delay: rollouts take 4 s, a Deployment's 600 s
# progress deadline passes in 4 s
dc_start -q --rollout-delay 600s --time-scale 150 --fail-images 'broken$' ||
	{ ks_fail "devcluster"; ks_done; exit 1; }
k() { kubectl --request-timeout=20s -n t4-prod "$@"; }
faults() { # RULES ("" clears)
	if [ -n "$1" ]; then
		curl -s -o /dev/null -X POST --data-binary "$1" "$DC_URL/_devcluster/faults"
	else
		curl -s -o /dev/null -X DELETE "$DC_URL/_devcluster/faults"
	fi
}
ag_secrets
R=$ks_tmp/repo
pl_project "$R"
pl_stack "$R" prod
write() { # IMAGE
	pl_service w "$1" "  database:" "    db:" "      _type: MySQL" \
		"      type: local" "      version: \"8.0\"" \
		"  pipeline:" "    deploy:" "      manualApprove: true" \
		"      rollbackIfFailed: true" >"$R/t4/prod/apps.yaml"
}
write nginx:1.25.1
ag_commit "$R" first
A=$(ag_head "$R")
cat >agent.yaml <<YAML
listen: 127.0.0.1:0
cluster: {kubeconfig: kubeconfig}
state: {backend: local, path: state}
auth:
  tokens:
    - {name: alice, tokenFile: alice.token, role: approver}
sources:
  - name: s
    url: file://$R
    paths: [t4/prod]
    interval: 1s
    namespaces: [t4-prod]
YAML
W=t4-prod-w
n=0
start() {
	n=$((n + 1))
	ag_start agent.yaml "agent$n" || { ks_fail "agent start $n"; ks_done; exit 1; }
}
crash() { # PHASE: kill -9 now, restart, the release is resumed
	kill -9 "$ag_pid"
	wait "$ag_pid" 2>/dev/null
	start
	if wait_for 30 grep -q "app $W: resuming release $1" "$ag_log"; then ks_pass; else ks_fail "no resume of $1 in the log: $(grep -m3 -e resum -e $W "$ag_log")"; fi
}
image() { k get deploy $W -o jsonpath='{.spec.template.spec.containers[0].image}'; }
secrets() { # name -> data of every Secret in t4-prod
	curl -s "$DC_URL/api/v1/namespaces/t4-prod/secrets" |
		jq -cS '[.items[] | {(.metadata.name): .data}] | add'
}
start

# --- AwaitingApproval: still waiting after the crash, same release
wait_np 30 $W 1 AwaitingApproval
crash "1 (AwaitingApproval)"
sleep 2
t_releases "after the crash: the same single release, waiting" $W "[(r['number'],r['phase'],r['commit']) for r in rs]==[(1,'AwaitingApproval','$A')]"

# --- Checking: the rollout takes 3 s; crash in the middle
t_status "approve 1" 200 POST /api/v1/apps/$W/approve "$ALICE" '{"revision": "1"}'
wait_np 30 $W 1 Checking
crash "1 (Checking)"
sec1=$(secrets)
if grep -q password <<<"$sec1"; then ks_pass; else ks_fail "no generated password: $sec1"; fi
t_rel "release 1 Succeeded after the crash" $W 20 "r['number']==1 and r['phase']=='Succeeded' and len(r['approvals'])==1"
t_out "image 1.25.1" '^nginx:1.25.1$' image

# --- Deploying: every Deployment PATCH takes 3 s; crash during it
write nginx:1.25.2
ag_commit "$R" second
B=$(ag_head "$R")
wait_np 20 $W 2 AwaitingApproval
# (a 20 s latency: only the crash ends the PATCH)
faults "verb=patch,resource=deployments,latency=20s"
t_status "approve 2" 200 POST /api/v1/apps/$W/approve "$ALICE" "{\"revision\": \"$B\"}"
wait_np 30 $W 2 Deploying
sleep 1
wait_np 0 $W 2 Deploying
faults "" # (the PATCH in flight stays delayed)
crash "2 (Deploying)"
t_rel "release 2 Succeeded after the crash" $W 25 "r['number']==2 and r['phase']=='Succeeded'"
t_out "image 1.25.2" '^nginx:1.25.2$' image

# --- RollingBack: an image that never becomes ready; the rollback's
# PATCHes take 3 s; crash during it
write nginx:1.25.3-broken
ag_commit "$R" third
C=$(ag_head "$R")
wait_np 20 $W 3 AwaitingApproval
t_status "approve 3" 200 POST /api/v1/apps/$W/approve "$ALICE" '{"revision": "3"}'
wait_np 30 $W 3 Checking
faults "verb=patch,resource=deployments,latency=20s"
wait_np 15 $W 3 RollingBack
sleep 0.5
wait_np 0 $W 3 RollingBack
faults ""
crash "3 (RollingBack)"
t_rel "release 3 RolledBack after the crash" $W 25 "r['number']==3 and r['phase']=='RolledBack'"
t_out "image back to 1.25.2" '^nginx:1.25.2$' image

# --- nothing duplicated, nothing regenerated
sleep 1.5
t_releases "one release per commit" $W "[(r['number'],r['commit'],r['phase']) for r in rs]==[(3,'$C','RolledBack'),(2,'$B','Succeeded'),(1,'$A','Succeeded')]"
sec2=$(secrets)
if [ "$sec1" = "$sec2" ]; then ks_pass; else ks_fail "Secrets changed: $sec1 -> $sec2"; fi
t_json "one approval per release in the audit log" <(python3 -c 'import json,sys; print(json.dumps([json.loads(l) for l in open(sys.argv[1])]))' state/audit.log) \
	"sorted(e['release'] for e in d if e['what']=='approve')==[1,2,3]"
ag_stop || ks_fail "stop: exit $?"
t_sanitizer
ks_done
