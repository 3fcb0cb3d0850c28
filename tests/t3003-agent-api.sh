#!/bin/bash
# The agent's HTTP API: bearer tokens and roles (401, 403), unknown apps
# (404), bad bodies (400, 422), approvals (409 for the wrong revision, then
# by commit prefix), rollback (to the previous succeeded release, 409 for a
# missing one), suspend and resume (persisted), sync (a new release although
# nothing changed), releases newest first without resources, the dashboard
# sign-in with an HttpOnly SameSite=Strict cookie.
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
    - {name: bob, tokenFile: bob.token, role: viewer}
    - {name: carol, tokenFile: carol.token, role: admin}
sources:
  - name: demo
    url: file://$ks_tmp/repo
    paths: [demo/prod]
    interval: 1s
    namespaces: [demo-prod]
YAML
ag_start agent.yaml || { ks_fail "agent start"; ks_done; exit 1; }
phase_is() { app_is "$1" "d['release'] is not None and d['release']['phase']=='$2'"; }
HW=demo-prod-helloworld
OR=demo-prod-orders

# --- authentication and roles
t_status "no token: 401" 401 GET /api/v1/apps
t_json "401 body is an error" "$ks_tmp/body" "'error' in d"
t_status "unknown token: 401" 401 GET /api/v1/apps "not-a-token"
t_status "viewer may read" 200 GET /api/v1/apps "$BOB"
t_status "healthz needs no token" 200 GET /healthz
wait_for 60 test "$(api GET /readyz)" = 200 && ks_pass || ks_fail "readyz never 200"
t_status "metrics need no token" 200 GET /metrics

if wait_for 60 phase_is $HW AwaitingApproval; then ks_pass; else ks_fail "helloworld not AwaitingApproval: $(app_field $HW "d['release']")"; fi
# every request to the API server is counted by verb and code: the first
# sync listed (GET 200) and applied (PATCH 200 or 201)
t_out "kube requests counted (GET 200)" '^kusync_kube_requests_total\{code="200",verb="GET"\} [1-9]' curl -s "$AG_URL/metrics"
t_out "kube requests counted (PATCH)" '^kusync_kube_requests_total\{code="20[01]",verb="PATCH"\} [1-9]' curl -s "$AG_URL/metrics"
t_status "viewer cannot approve: 403" 403 POST /api/v1/apps/$HW/approve "$BOB" '{"revision":"1"}'
t_status "unknown app: 404" 404 GET /api/v1/apps/nope "$BOB"
t_status "unknown app approve: 404" 404 POST /api/v1/apps/nope/approve "$ALICE" '{"revision":"1"}'
t_status "unknown endpoint: 404" 404 GET /api/v1/apps/$HW/nothing "$BOB"
t_status "GET on approve: 405" 405 GET /api/v1/apps/$HW/approve "$ALICE"
t_status "bad JSON: 400" 400 POST /api/v1/apps/$HW/approve "$ALICE" '{"revision":'
t_status "not an object: 422" 422 POST /api/v1/apps/$HW/approve "$ALICE" '["1"]'
t_status "revision of the wrong type: 422" 422 POST /api/v1/apps/$HW/approve "$ALICE" '{"revision":true}'
t_status "unknown field: 422" 422 POST /api/v1/apps/$HW/approve "$ALICE" '{"rev":"1"}'
t_status "short commit prefix: 422" 422 POST /api/v1/apps/$HW/approve "$ALICE" '{"revision":"abc12"}'
t_status "wrong commit: 409" 409 POST /api/v1/apps/$HW/approve "$ALICE" '{"revision":"0000000"}'
t_status "wrong release number: 409" 409 POST /api/v1/apps/$HW/approve "$ALICE" '{"revision":"7"}'
t_status "an app not awaiting approval: 409" 409 POST /api/v1/apps/$OR/approve "$ALICE" '{"revision":"1"}'
head=$(ag_head "$ks_tmp/repo")
t_status "approve by commit prefix" 200 POST /api/v1/apps/$HW/approve "$ALICE" "{\"revision\":\"${head:0:8}\",\"comment\":\"looks good\"}"
t_json "approve answers the release" "$ks_tmp/body" "d['release']==1"
if wait_for 60 phase_is $HW Succeeded; then ks_pass; else ks_fail "approved release did not deploy"; fi
t_json "the approval is recorded" <(api GET /api/v1/apps/$HW "$BOB" >/dev/null; cat "$ks_tmp/body") \
	"d['release']['approvals'][0]['who']=='alice' and d['release']['approvals'][0]['via']=='api' and d['release']['approvals'][0]['comment']=='looks good'"
t_status "approving again: 409" 409 POST /api/v1/apps/$HW/approve "$ALICE" '{"revision":"1"}'
if grep -q '"alice"' state/audit.log 2>/dev/null; then ks_pass; else ks_fail "no audit entry: $(cat state/audit.log 2>&1 | head -3)"; fi

# --- a second release, then roll back to the first
wait_for 60 phase_is $OR Succeeded || ks_fail "orders release 1"
sed -i 's/replicas: 2/replicas: 3/' "$ks_tmp/repo/demo/prod/orders.yaml"
ag_commit "$ks_tmp/repo" "three"
if wait_for 60 app_is $OR "d['release']['number']==2 and d['release']['phase']=='Succeeded'"; then ks_pass; else ks_fail "orders release 2"; fi
t_status "rollback to a missing release: 409" 409 POST /api/v1/apps/$OR/rollback "$ALICE" '{"release":42}'
t_status "rollback with a bad field: 422" 422 POST /api/v1/apps/$OR/rollback "$ALICE" '{"release":"one"}'
t_status "viewer cannot roll back: 403" 403 POST /api/v1/apps/$OR/rollback "$BOB"
t_status "rollback to the previous succeeded release" 200 POST /api/v1/apps/$OR/rollback "$CAROL"
t_json "rollback creates release 3" "$ks_tmp/body" "d['release']==3"
if wait_for 60 app_is $OR "d['release']['number']==3 and d['release']['phase']=='Succeeded' and d['release']['rollbackOf']==1"; then
	ks_pass; else ks_fail "rollback release: $(head -c 500 "$ks_tmp/body")"; fi
t_out "the rollback restored 2 replicas" '^2$' k -n demo-prod get deploy $OR -o jsonpath='{.spec.replicas}'

# --- releases: newest first, resources left out
t_status "releases" 200 GET /api/v1/apps/$OR/releases "$BOB"
t_json "releases newest first, no resources" "$ks_tmp/body" \
	"[r['number'] for r in d['releases']]==[3,2,1] and all('resources' not in r for r in d['releases'])"
t_status "app view" 200 GET /api/v1/apps/$OR "$BOB"
t_json "app view leaves resources out" "$ks_tmp/body" "'resources' not in d['release'] and d['name']=='$OR'"
t_status "drift report" 200 GET /api/v1/apps/$OR/drift "$BOB"
t_json "drift report shape" "$ks_tmp/body" "d['app']=='$OR' and isinstance(d['resources'], list)"

# --- suspend: no new release while suspended; persisted; resume catches up
t_status "viewer cannot suspend: 403" 403 POST /api/v1/apps/$OR/suspend "$BOB"
t_status "suspend" 200 POST /api/v1/apps/$OR/suspend "$ALICE"
t_json "suspended in the answer" "$ks_tmp/body" "d['suspended']==True"
if grep -q suspended "state/apps/$OR.json" 2>/dev/null; then ks_pass; else ks_fail "suspension not stored"; fi
sed -i 's/replicas: 3/replicas: 5/' "$ks_tmp/repo/demo/prod/orders.yaml"
ag_commit "$ks_tmp/repo" "five"
sleep 4
if app_is $OR "d['release']['number']==3 and d['suspended']==True"; then ks_pass; else ks_fail "suspended app got a release: $(app_field $OR "d['release']['number']")"; fi
t_out "suspended: the cluster is untouched" '^2$' k -n demo-prod get deploy $OR -o jsonpath='{.spec.replicas}'
t_status "resume" 200 POST /api/v1/apps/$OR/resume "$ALICE"
if wait_for 60 app_is $OR "d['release']['number']==4 and d['release']['phase']=='Succeeded'"; then ks_pass; else ks_fail "resume did not catch up"; fi
t_out "resumed: 5 replicas" '^5$' k -n demo-prod get deploy $OR -o jsonpath='{.spec.replicas}'

# --- sync: a new release of the unchanged spec
t_status "viewer cannot sync: 403" 403 POST /api/v1/apps/$OR/sync "$BOB"
t_status "sync" 202 POST /api/v1/apps/$OR/sync "$ALICE"
if wait_for 60 app_is $OR "d['release']['number']==5 and d['release']['phase']=='Succeeded'"; then ks_pass; else ks_fail "sync made no release: $(app_field $OR "d['release']['number']")"; fi
t_json "sync did not touch the neighbours" <(api GET /api/v1/apps/demo-prod-api-server "$BOB" >/dev/null; cat "$ks_tmp/body") "d['release']['number']==1"

# --- suspension survives a restart
t_status "suspend again" 200 POST /api/v1/apps/$OR/suspend "$ALICE"
ag_stop || ks_fail "stop: exit $?"
ag_start agent.yaml agent2 || ks_fail "restart"
if wait_for 60 app_is $OR "d['suspended']==True and d['release']['number']==5"; then ks_pass; else ks_fail "after restart: $(head -c 300 "$ks_tmp/body")"; fi

# --- dashboard
code=$(curl -s -o dash.html -w '%{http_code}' "$AG_URL/")
if [ "$code" = 200 ] && grep -q 'name="token"' dash.html && ! grep -q $OR dash.html; then ks_pass; else ks_fail "dashboard sign-in page: $code"; fi
curl -s -D headers.txt -o /dev/null --data-urlencode "token=$BOB" "$AG_URL/login"
if grep -qi '^set-cookie: kusync_session=[0-9a-f]\{64\}; HttpOnly; SameSite=Strict' headers.txt && grep -q '^HTTP/1.1 303' headers.txt; then ks_pass; else ks_fail "login: $(cat headers.txt)"; fi
cookie=$(sed -n 's/^[Ss]et-[Cc]ookie: \(kusync_session=[0-9a-f]*\);.*/\1/p' headers.txt)
curl -s -H "Cookie: $cookie" -o dash.html "$AG_URL/"
if grep -q $OR dash.html && grep -q 'name="csrf"' dash.html; then ks_pass; else ks_fail "dashboard with a session"; fi
code=$(curl -s -o /dev/null -w '%{http_code}' --data-urlencode "token=wrong" "$AG_URL/login")
if [ "$code" = 401 ]; then ks_pass; else ks_fail "wrong dashboard token: $code"; fi
if grep -q -e "$ALICE" -e "$BOB" -e "$CAROL" "$ag_log" "$ks_tmp/agent.log"; then ks_fail "a token in the log"; else ks_pass; fi
ag_stop || ks_fail "stop: exit $?"
ks_done
