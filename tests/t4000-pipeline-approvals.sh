#!/bin/bash
# Approvals (spec/agent.md, Per commit step 4; HTTP API): by the CLI with a
# commit id, by the API with a release number, by a GitHub review + merge
# and a GitLab approval + merge from listed approvers; an unlisted
# reviewer, a viewer token (403, exit 3) and stale revisions (409, exit 2)
# approve nothing; a newer commit supersedes a release awaiting approval; a
# commit changing one app leaves its neighbour's releases alone; a manual
# rollback deploys the old spec as a new release without asking approval.
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
dc_start -q --rollout-delay 200ms || { ks_fail "devcluster"; ks_done; exit 1; }
k() { kubectl --request-timeout=20s "$@"; }
ag_secrets
R=$ks_tmp/repo
pl_project "$R"
pl_stack "$R" prod
pl_stack "$R" gl
APPROVE=("  pipeline:" "    deploy:" "      manualApprove: true")
write_prod() { # WEB_IMAGE SIDE_IMAGE
	{
		pl_service web "$1" "${APPROVE[@]}"
		pl_service side "$2"
	} >"$R/t4/prod/apps.yaml"
}
write_gl() { pl_service web "$1" "${APPROVE[@]}" >"$R/t4/gl/apps.yaml"; }
write_prod nginx:1.25.1 busybox:1.36.0
write_gl nginx:1.25.1
ag_commit "$R" first
A=$(ag_head "$R")
cat >agent.yaml <<YAML
listen: 127.0.0.1:0
cluster: {kubeconfig: kubeconfig}
state: {backend: local, path: state}
auth:
  tokens:
    - {name: alice, tokenFile: alice.token, role: approver}
    - {name: bob, tokenFile: bob.token, role: viewer}
sources:
  - name: gh
    url: file://$R
    paths: [t4/prod]
    interval: 1s
    namespaces: [t4-prod]
    webhook: {provider: github, secretFile: hook.secret}
    approvers: [alice-gh]
  - name: gl
    url: file://$R
    paths: [t4/gl]
    interval: 0s
    namespaces: [t4-gl]
    webhook: {provider: gitlab, secretFile: hook.secret}
    approvers: [alice-gl]
YAML
ag_start agent.yaml || { ks_fail "agent start"; ks_done; exit 1; }
export KUSYNC_SERVER=$AG_URL
WEB=t4-prod-web SIDE=t4-prod-side GL=t4-gl-web
cli() { "$KUSYNC" "$@"; }

t_rel "web waits for approval" $WEB 40 "r and r['number']==1 and r['phase']=='AwaitingApproval' and r['commit']=='$A'"
t_rel "side deploys without approval" $SIDE 30 "r and r['number']==1 and r['phase']=='Succeeded'"
t_rel "gitlab web waits for approval" $GL 30 "r and r['number']==1 and r['phase']=='AwaitingApproval'"
t_exit "nothing of web applied before approval" 1 - k -n t4-prod get deploy t4-prod-web

# --- refused approvals: viewer token, stale/wrong revisions
t_exit_err "viewer approves by CLI: exit 3" 3 . cli approve --token "$BOB" $WEB "${A:0:7}"
t_status "viewer approves by API: 403" 403 POST /api/v1/apps/$WEB/approve "$BOB" '{"revision": "1"}'
t_status "a release number that does not exist: 409" 409 POST /api/v1/apps/$WEB/approve "$ALICE" '{"revision": "2"}'
t_exit_err "a commit that is not the release's: exit 2" 2 . cli approve --token "$ALICE" $WEB 0123456
t_status "approving an app with nothing awaiting: 409" 409 POST /api/v1/apps/$SIDE/approve "$ALICE" '{"revision": "1"}'
sleep 0.5
t_rel "still awaiting after refused approvals" $WEB 1 "r['phase']=='AwaitingApproval' and r['approvals']==[]"

# --- approval by the CLI, with a 7-digit commit id
t_exit "approve by CLI" 0 - cli approve --token "$ALICE" $WEB "${A:0:7}" --comment "ship it"
t_rel "web 1 deployed" $WEB 30 "r['number']==1 and r['phase']=='Succeeded' and r['approvals'][0]['who']=='alice' and r['approvals'][0]['comment']=='ship it'"
t_out "web's image in the cluster" '^nginx:1.25.1$' k -n t4-prod get deploy t4-prod-web -o jsonpath='{.spec.template.spec.containers[0].image}'
t_status "approving the deployed release again: 409" 409 POST /api/v1/apps/$WEB/approve "$ALICE" "{\"revision\": \"$A\"}"

# --- a commit changing web only: side keeps its release; stale approvals
write_prod nginx:1.25.2 busybox:1.36.0
ag_commit "$R" "web 1.25.2"
B=$(ag_head "$R")
t_rel "web 2 awaits approval" $WEB 20 "r['number']==2 and r['phase']=='AwaitingApproval' and r['commit']=='$B'"
sleep 1.5
t_releases "side's releases untouched" $SIDE "[(r['number'],r['commit'],r['phase']) for r in rs]==[(1,'$A','Succeeded')]"
t_exit_err "approving the old commit: exit 2" 2 . cli approve --token "$ALICE" $WEB "${A:0:10}"
t_status "approving release 1 by number: 409" 409 POST /api/v1/apps/$WEB/approve "$ALICE" '{"revision": "1"}'

# --- a newer commit supersedes release 2
write_prod nginx:1.25.3 busybox:1.36.0
ag_commit "$R" "web 1.25.3"
C=$(ag_head "$R")
t_rel "web 3 awaits approval" $WEB 20 "r['number']==3 and r['phase']=='AwaitingApproval' and r['commit']=='$C'"
t_releases "release 2 Superseded" $WEB "[(r['number'],r['phase']) for r in rs]==[(3,'AwaitingApproval'),(2,'Superseded'),(1,'Succeeded')]"
t_status "approving the superseded release: 409" 409 POST /api/v1/apps/$WEB/approve "$ALICE" '{"revision": "2"}'
t_exit_err "approving the superseded commit: exit 2" 2 . cli approve --token "$ALICE" $WEB "$B"

# --- approval by the API with the release number
t_status "approve by API" 200 POST /api/v1/apps/$WEB/approve "$ALICE" '{"revision": "3", "comment": "api"}'
t_rel "web 3 deployed" $WEB 30 "r['number']==3 and r['phase']=='Succeeded' and r['approvals'][0]['who']=='alice'"
t_out "image 1.25.3 applied" '^nginx:1.25.3$' k -n t4-prod get deploy t4-prod-web -o jsonpath='{.spec.template.spec.containers[0].image}'
t_releases "side still at release 1" $SIDE "[r['number'] for r in rs]==[1]"

# --- GitHub: an unlisted reviewer, then a listed one and the merge
write_prod nginx:1.25.4 busybox:1.36.0
ag_commit "$R" "web 1.25.4 (merge of #7)"
D=$(ag_head "$R")
t_rel "web 4 awaits approval" $WEB 20 "r['number']==4 and r['phase']=='AwaitingApproval'"
review() { # LOGIN DELIVERY
	gh_hook gh pull_request_review "$2" "{\"action\":\"submitted\",\"review\":{\"state\":\"approved\",\"user\":{\"login\":\"$1\"}},\"pull_request\":{\"number\":7},\"repository\":{\"full_name\":\"team/config\"}}"
}
merged() { # DELIVERY SHA
	gh_hook gh pull_request "$1" "{\"action\":\"closed\",\"pull_request\":{\"number\":7,\"merged\":true,\"merge_commit_sha\":\"$2\"},\"repository\":{\"full_name\":\"team/config\"}}"
}
code=$(review mallory gh-1)
if [ "$code" = 202 ] && [ "$(jget "$ks_tmp/body" "d['result']")" = ignored ]; then ks_pass; else ks_fail "unlisted review: $code $(cat "$ks_tmp/body")"; fi
code=$(merged gh-2 "$D")
if [ "$code" = 202 ] && [ "$(jget "$ks_tmp/body" "d['result']")" = ignored ]; then ks_pass; else ks_fail "merge with only an unlisted review: $code $(cat "$ks_tmp/body")"; fi
if wait_for 30 grep -q "ignored approval by mallory" "$ag_log"; then ks_pass; else ks_fail "the unlisted approval is not logged"; fi
sleep 1
t_rel "an unlisted reviewer approves nothing" $WEB 1 "r['number']==4 and r['phase']=='AwaitingApproval' and r['approvals']==[]"
code=$(review alice-gh gh-3)
if [ "$code" = 202 ] && [ "$(jget "$ks_tmp/body" "d['result']")" = accepted ]; then ks_pass; else ks_fail "listed review: $code $(cat "$ks_tmp/body")"; fi
code=$(merged gh-4 "$D")
if [ "$code" = 202 ] && [ "$(jget "$ks_tmp/body" "d['result']")" = accepted ]; then ks_pass; else ks_fail "merge: $code $(cat "$ks_tmp/body")"; fi
t_rel "merge-request approval deploys web 4" $WEB 30 "r['number']==4 and r['phase']=='Succeeded' and r['approvals'][0]['who']=='alice-gh' and r['approvals'][0]['via']=='merge-request'"
t_out "image 1.25.4 applied" '^nginx:1.25.4$' k -n t4-prod get deploy t4-prod-web -o jsonpath='{.spec.template.spec.containers[0].image}'

# --- GitLab: approved then merge, for the gitlab source; that source is
# webhooks-only and gets no push event: the merge event itself makes the
# agent fetch, and the new release finds its approval waiting
write_gl nginx:1.25.2
ag_commit "$R" "gl web 1.25.2 (merge of !3)"
E=$(ag_head "$R")
mr() { # UUID ACTION USER [SHA]
	local sha=null
	[ -n "${4:-}" ] && sha="\"$4\""
	gl_hook gl "$1" "{\"object_kind\":\"merge_request\",\"user\":{\"username\":\"$3\"},\"project\":{\"path_with_namespace\":\"team/config\"},\"object_attributes\":{\"iid\":3,\"action\":\"$2\",\"merge_commit_sha\":$sha}}"
}
code=$(mr gl-1 approved mallory)
if [ "$code" = 202 ] && [ "$(jget "$ks_tmp/body" "d['result']")" = ignored ]; then ks_pass; else ks_fail "gitlab unlisted approval: $code $(cat "$ks_tmp/body")"; fi
code=$(mr gl-2 approved alice-gl)
if [ "$code" = 202 ] && [ "$(jget "$ks_tmp/body" "d['result']")" = accepted ]; then ks_pass; else ks_fail "gitlab approval: $code $(cat "$ks_tmp/body")"; fi
sleep 0.5
t_rel "gitlab: nothing fetched before the merge" $GL 1 "r['number']==1 and r['phase']=='AwaitingApproval'"
code=$(mr gl-3 merge alice-gl "$E")
if [ "$code" = 202 ]; then ks_pass; else ks_fail "gitlab merge: $code $(cat "$ks_tmp/body")"; fi
t_rel "gitlab merge request approval deploys" $GL 30 "r['number']==2 and r['phase']=='Succeeded' and r['approvals'][0]['who']=='alice-gl' and r['approvals'][0]['via']=='merge-request'"
t_out "gitlab web image applied" '^nginx:1.25.2$' k -n t4-gl get deploy t4-gl-web -o jsonpath='{.spec.template.spec.containers[0].image}'

# --- manual rollback to release 1: no approval asked
gen0=$(k -n t4-prod get deploy t4-prod-web -o jsonpath='{.metadata.generation}')
t_exit "rollback by CLI" 0 - cli rollback --token "$ALICE" $WEB 1 --comment "back to 1.25.1"
t_rel "rollback release 5 Succeeded without approval" $WEB 30 "r['number']==5 and r['phase']=='Succeeded' and r.get('rollbackOf')==1 and r['approvals']==[] and r['commit']=='$A'"
t_out "image back to 1.25.1" '^nginx:1.25.1$' k -n t4-prod get deploy t4-prod-web -o jsonpath='{.spec.template.spec.containers[0].image}'
gen1=$(k -n t4-prod get deploy t4-prod-web -o jsonpath='{.metadata.generation}')
if [ "$gen1" -gt "$gen0" ]; then ks_pass; else ks_fail "rollback did not change the Deployment ($gen0 -> $gen1)"; fi
t_exit_err "rollback to a release that does not exist: exit 2" 2 . cli rollback --token "$ALICE" $WEB 42
t_exit_err "rollback by a viewer: exit 3" 3 . cli rollback --token "$BOB" $WEB 1
t_releases "web's history" $WEB "[(r['number'],r['phase']) for r in rs]==[(5,'Succeeded'),(4,'Succeeded'),(3,'Succeeded'),(2,'Superseded'),(1,'Succeeded')]"
sleep 1.5
t_rel "no new release after the rollback (the commit is unchanged)" $WEB 1 "r['number']==5"
t_status "rollback by API without a body: to the previous succeeded release" 200 POST /api/v1/apps/$WEB/rollback "$ALICE"
t_rel "rollback release 6 of release 4" $WEB 30 "r['number']==6 and r['phase']=='Succeeded' and r.get('rollbackOf')==4 and r['commit']=='$D'"
t_out "image 1.25.4 again" '^nginx:1.25.4$' k -n t4-prod get deploy t4-prod-web -o jsonpath='{.spec.template.spec.containers[0].image}'

# --- the audit log has every approval and the rollback
if grep -q . state/audit.log 2>/dev/null; then
	t_json "audit: approvals and rollback" <(python3 -c 'import json,sys; print(json.dumps([json.loads(l) for l in open(sys.argv[1])]))' state/audit.log) \
		"[(e['what'],e['via'],e['who'],e['release']) for e in d if e['app']=='$WEB']==[('approve','api','alice',1),('approve','api','alice',3),('approve','merge-request','alice-gh',4),('rollback','api','alice',5),('rollback','api','alice',6)] and all(e['at'].endswith('Z') for e in d)"
else
	ks_fail "no audit log at state/audit.log"
fi

ag_stop || ks_fail "stop: exit $?"
t_sanitizer
ks_done
