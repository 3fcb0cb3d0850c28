#!/bin/bash
# Releases driven by the agent: a newer spec supersedes a release awaiting
# approval; merge-request approvals through the signed webhook (an unlisted
# reviewer is logged and ignored, a listed one approves the release whose
# commit the merge produced, via "merge-request"); commits arriving while a
# release deploys wait, and only the newest gets a release.
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
dc_start -q --rollout-delay 8s || { ks_fail "devcluster"; ks_done; exit 1; }
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
  - name: demo
    url: file://$ks_tmp/repo
    paths: [demo/prod]
    interval: 1s
    namespaces: [demo-prod]
    webhook: {provider: github, secretFile: hook.secret}
    approvers: [alice-gh]
YAML
ag_start agent.yaml || { ks_fail "agent start"; ks_done; exit 1; }
HW=demo-prod-helloworld
OR=demo-prod-orders
rel_is() { app_is "$1" "d['release'] is not None and d['release']['number']==$2 and d['release']['phase']=='$3'"; }

if wait_for 120 rel_is $HW 1 AwaitingApproval; then ks_pass; else ks_fail "helloworld awaiting approval: $(app_field $HW "d['release']")"; fi

# --- a newer spec supersedes the release awaiting approval
sed -i 's/replicas: 2/replicas: 3/' "$ks_tmp/repo/demo/prod/helloworld.yaml"
ag_commit "$ks_tmp/repo" "helloworld: three"
B=$(ag_head "$ks_tmp/repo")
if wait_for 60 rel_is $HW 2 AwaitingApproval; then ks_pass; else ks_fail "release 2: $(app_field $HW "d['release']")"; fi
t_status "releases" 200 GET /api/v1/apps/$HW/releases "$ALICE"
t_json "release 1 superseded by 2" "$ks_tmp/body" \
	"d['releases'][1]['number']==1 and d['releases'][1]['phase']=='Superseded' and d['releases'][0]['commit']=='$B'"

# hook EVENT DELIVERY JSON: a signed GitHub delivery; prints the status
hook() {
	printf '%s' "$3" >hook.json
	local sig
	sig=$(sign_hmac "It's a Secret to Everybody" hook.json)
	curl -s -o "$ks_tmp/body" -w '%{http_code}' -X POST --data-binary @hook.json \
		-H "X-GitHub-Event: $1" -H "X-GitHub-Delivery: $2" \
		-H "X-Hub-Signature-256: sha256=$sig" "$AG_URL/hooks/demo"
}
review() { # login delivery
	hook pull_request_review "$2" "{\"action\":\"submitted\",\"review\":{\"state\":\"approved\",\"user\":{\"login\":\"$1\"}},\"pull_request\":{\"number\":7},\"repository\":{\"full_name\":\"team/config\"}}"
}

# --- an unlisted reviewer's approval is logged and ignored
code=$(review mallory r-1)
if [ "$code" = 202 ] && [ "$(jget "$ks_tmp/body" "d['result']")" = ignored ]; then ks_pass; else ks_fail "unlisted review: $code $(cat "$ks_tmp/body")"; fi
if grep -q "ignored approval by mallory: not in approvers" "$ag_log"; then ks_pass; else ks_fail "no log line for the unlisted reviewer"; fi

# --- the listed reviewer approves, the merge names the commit
code=$(review alice-gh r-2)
if [ "$code" = 202 ] && [ "$(jget "$ks_tmp/body" "d['result']")" = accepted ]; then ks_pass; else ks_fail "listed review: $code $(cat "$ks_tmp/body")"; fi
sleep 1
if app_is $HW "d['release']['phase']=='AwaitingApproval'"; then ks_pass; else ks_fail "approved before the merge"; fi
code=$(hook pull_request m-1 "{\"action\":\"closed\",\"pull_request\":{\"number\":7,\"merged\":true,\"merge_commit_sha\":\"$B\"},\"repository\":{\"full_name\":\"team/config\"}}")
if [ "$code" = 202 ]; then ks_pass; else ks_fail "merge event: $code $(cat "$ks_tmp/body")"; fi
if wait_for 120 rel_is $HW 2 Succeeded; then ks_pass; else ks_fail "merge approval did not deploy: $(app_field $HW "d['release']")"; fi
t_json "approved via merge-request by the reviewer" <(api GET /api/v1/apps/$HW "$ALICE" >/dev/null; cat "$ks_tmp/body") \
	"d['release']['approvals'][0]['via']=='merge-request' and d['release']['approvals'][0]['who']=='alice-gh'"
t_out "3 replicas in every helloworld cell" '^3( 3)+$' k -n demo-prod get deploy -l kusync.io/app=$HW -o jsonpath='{.items[*].spec.replicas}'

# --- commits during a deploy wait; only the newest gets a release
wait_for 60 app_is $OR "d['release']['phase']=='Succeeded'" || ks_fail "orders release 1"
n0=$(app_field $OR "d['release']['number']")
sed -i 's/replicas: 2/replicas: 3/' "$ks_tmp/repo/demo/prod/orders.yaml"
ag_commit "$ks_tmp/repo" "orders: three"
C=$(ag_head "$ks_tmp/repo")
deploys_c() { api GET /api/v1/apps/$OR "$ALICE" >/dev/null && tr -d ' \n' <"$ks_tmp/body" | grep -q "\"number\":$((n0 + 1)),\"commit\":\"$C\"" && tr -d ' \n' <"$ks_tmp/body" | grep -Eq '"status":"(Pending|Deploying|Checking)"'; }
if ! wait_for 60 deploys_c; then
	echo "note: the deploy of $C was not seen in progress (machine too slow)"
fi
# Whether the app view shows a spec of commit $2 waiting for the deploy
# (grep, not python: under load python starts too slowly for this race).
waiting_is() { api GET /api/v1/apps/$1 "$ALICE" >/dev/null && tr -d ' \n' <"$ks_tmp/body" | grep -q "\"waitingCommit\":\"$2\""; }
sed -i 's/replicas: 3/replicas: 4/' "$ks_tmp/repo/demo/prod/orders.yaml"
ag_commit "$ks_tmp/repo" "orders: four"
D=$(ag_head "$ks_tmp/repo")
if wait_for 20 waiting_is $OR "$D"; then
	sed -i 's/replicas: 4/replicas: 5/' "$ks_tmp/repo/demo/prod/orders.yaml"
	ag_commit "$ks_tmp/repo" "orders: five"
	E=$(ag_head "$ks_tmp/repo")
	if wait_for 20 waiting_is $OR "$E"; then
		ks_pass
		if wait_for 60 app_is $OR "d['release']['commit']=='$E' and d['release']['phase']=='Succeeded'"; then ks_pass; else ks_fail "newest commit not deployed: $(app_field $OR "d['release']")"; fi
		t_status "orders releases" 200 GET /api/v1/apps/$OR/releases "$ALICE"
		t_json "the intermediate commit got no release" "$ks_tmp/body" \
			"[r['commit'] for r in d['releases'] if r['number']>$n0]==['$E','$C']"
		t_out "5 orders replicas" '^5$' k -n demo-prod get deploy $OR -o jsonpath='{.spec.replicas}'
	else
		echo "skipped: the deploy of $C ended before $E was fetched (machine too slow)"
	fi
else
	echo "skipped: the deploy of $C ended before $D was fetched (machine too slow)"
	if wait_for 60 app_is $OR "d['release']['commit']=='$D' and d['release']['phase']=='Succeeded'"; then ks_pass; else ks_fail "commit $D not deployed"; fi
fi

ag_stop || ks_fail "stop: exit $?"
if grep -q Sanitizer "$ag_log"; then ks_fail "sanitizer: $(grep -A5 Sanitizer "$ag_log" | head)"; else ks_pass; fi
ks_done
