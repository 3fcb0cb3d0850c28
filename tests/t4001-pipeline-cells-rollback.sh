#!/bin/bash
# Deploy cell by cell, release check, automatic rollback (spec/agent.md, Per
# commit steps 2, 5-7; Health): an image that never becomes ready in the
# second of three cells fails that cell's check, and the previous release is
# re-applied to cells one and two only (the third is never touched:
# same image, same generation), phase RolledBack; with rollbackIfFailed
# false a failing release stops at Failed and nothing is reverted; a
# mandatory policy violation blocks the release before anything is applied.
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
# --time-scale divides every delay: rollouts take 200 ms, a Deployment's
# 600 s progress deadline passes in 1 s
dc_start --rollout-delay 120s --time-scale 600 --fail-images 'broken$' ||
	{ ks_fail "devcluster"; ks_done; exit 1; }
k() { kubectl --request-timeout=20s -n t4-prod "$@"; }
ag_secrets
R=$ks_tmp/repo
pl_project "$R"
pl_stack "$R" prod
write() { # CELLS_IMAGE NORB_IMAGE POL_IMAGE
	{
		pl_service cells "$1" "  topologies:" "    ZoneA:" \
			"      cells: [C1, C2]" "    ZoneB:" "      cells: [C3]" \
			"  pipeline:" "    deploy:" "      rollbackIfFailed: true" \
			"      timeout: 30s"
		pl_service norb "$2" "  pipeline:" "    deploy:" \
			"      rollbackIfFailed: false"
		pl_service pol "$3" "  policysets:" \
			"    release-strategy-check: {kind: mandatory}" \
			"    resource-specification: {kind: advisory}"
	} >"$R/t4/prod/apps.yaml"
}
write nginx:1.25.1 nginx:1.25.1 nginx:1.25.1
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
    ignoreDifferences:
      - {kind: Deployment, jsonPointers: [/spec/replicas]}
YAML
ag_start agent.yaml || { ks_fail "agent start"; ks_done; exit 1; }
export KUSYNC_SERVER=$AG_URL KUSYNC_TOKEN=$ALICE
CE=t4-prod-cells NO=t4-prod-norb PO=t4-prod-pol

for a in $CE $NO $PO; do
	t_rel "$a release 1 Succeeded" $a 40 "r and r['number']==1 and r['phase']=='Succeeded'"
done
t_rel "three cells, in file order, all Succeeded" $CE 1 "[(c['zone'],c['cell'],c['phase']) for c in r['cells']]==[('ZoneA','C1','Succeeded'),('ZoneA','C2','Succeeded'),('ZoneB','C3','Succeeded')]"
t_rel "advisory findings recorded, not blocking" $PO 1 "all(not p['mandatory'] for p in r['policy'])"

# The next commit's image never becomes ready; cell C1 is scaled to 0 (the
# source ignores spec.replicas, so kusync leaves it alone), which rolls out
# any image at once: the second cell is the first to fail.
t "C1 scaled to 0" k scale deploy $CE-c1 --replicas=0
img() { k get deploy "$1" -o jsonpath='{.spec.template.spec.containers[?(@.name=="main")].image}'; }
gen() { k get deploy "$1" -o jsonpath='{.metadata.generation}'; }
gen3=$(gen $CE-c3) rv3=$(k get deploy $CE-c3 -o jsonpath='{.metadata.resourceVersion}')
no_gen=$(gen $NO)

write nginx:1.25.2-broken nginx:1.25.2-broken nginx:latest
ag_commit "$R" "second"
B=$(ag_head "$R")

# --- a mandatory policy violation: Blocked, nothing applied
t_rel "pol release 2 Blocked" $PO 20 "r['number']==2 and r['phase']=='Blocked' and r['commit']=='$B'"
t_rel "Blocked names the rule" $PO 1 "any(p['set']=='release-strategy-check' and p['rule']=='image-pinned' and p['mandatory'] and 'latest' in p['message'] for p in r['policy']) and 'release-strategy-check' in (r.get('message') or '')"
t_out "pol's image untouched" '^nginx:1.25.1$' img $PO

# --- rollbackIfFailed false: Failed, nothing reverted
t_rel "norb release 2 Failed" $NO 30 "r['number']==2 and r['phase'] in ('Failed','RollingBack','RolledBack')"
t_rel "norb stays Failed" $NO 1 "r['number']==2 and r['phase']=='Failed' and 'progress deadline' in (r.get('message') or '')"
t_out "norb keeps the failing image" '^nginx:1.25.2-broken$' img $NO

# --- failing in cell 2: rollback of cells 1 and 2 only
t_rel "cells release 2 RolledBack" $CE 40 "r['number']==2 and r['phase']=='RolledBack'"
t_rel "cells of the rolled-back release" $CE 1 "[c['cell'] for c in r['cells']]==['C1','C2','C3'] and r['cells'][2]['phase']=='Pending' and r['cells'][1]['phase'] in ('Failed','RolledBack') and sorted(r['touchedCells'])==['C1','C2'] and r.get('rollbackOf')==1"
t_out "C1 back on 1.25.1" '^nginx:1.25.1$' img $CE-c1
t_out "C1 still scaled to 0" '^0$' k get deploy $CE-c1 -o jsonpath='{.spec.replicas}'
t_out "C2 back on 1.25.1" '^nginx:1.25.1$' img $CE-c2
t_out "C3 never got 1.25.2" '^nginx:1.25.1$' img $CE-c3
t_out "C3's generation unchanged" "^$gen3 $rv3\$" k get deploy $CE-c3 -o jsonpath='{.metadata.generation} {.metadata.resourceVersion}'
n3=$(grep -c "PATCH /apis/apps/v1/namespaces/t4-prod/deployments/$CE-c3" devcluster.log)
n1=$(grep -c "PATCH /apis/apps/v1/namespaces/t4-prod/deployments/$CE-c1" devcluster.log)
if [ "$n3" -lt "$n1" ]; then ks_pass; else ks_fail "C3 patched $n3 times, C1 $n1 times"; fi

t_exit "status shows RolledBack (exit 1)" 1 'RolledBack' "$KUSYNC" status $CE
t_exit "status of Blocked pol (exit 1)" 1 'Blocked' "$KUSYNC" status $PO
t_releases "release history" $CE "[(r['number'],r['phase']) for r in rs]==[(2,'RolledBack'),(1,'Succeeded')]"
sleep 1.5
t_releases "no new release for the same commit" $CE "len(rs)==2"
t_releases "norb: no new release either" $NO "[(r['number'],r['phase']) for r in rs]==[(2,'Failed'),(1,'Succeeded')]"

# --- a fixed commit deploys again (all three cells)
write nginx:1.25.3 nginx:1.25.3 nginx:1.25.3
ag_commit "$R" "third"
t_rel "cells release 3 Succeeded" $CE 40 "r['number']==3 and r['phase']=='Succeeded'"
t_rel "pol release 3 Succeeded" $PO 30 "r['number']==3 and r['phase']=='Succeeded'"
t_rel "norb release 3 Succeeded" $NO 30 "r['number']==3 and r['phase']=='Succeeded'"
t_out "C3 on 1.25.3" '^nginx:1.25.3$' img $CE-c3

ag_stop || ks_fail "stop: exit $?"
t_sanitizer
ks_done
