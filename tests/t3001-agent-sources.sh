#!/bin/bash
# The agent against real Git servers: a git:// source served by `git
# daemon` (polled every second) and a file:// source (webhooks only). First
# sync, a new commit by polling, a new commit by a signed webhook, a
# force-push, the git server stopped (the source says why and since when,
# the apps keep running) and started again, a server that accepts and never
# answers (the fetch is abandoned at fetchTimeout, the agent stays
# responsive and stops at once), a broken stack folder (RenderFailed with
# positions, objects untouched), an app outside the allow-list (Blocked),
# JSON logs without secrets, SIGTERM -> exit 0 within 5 s.
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
cp "$KS_SOURCE_DIR/examples/workspace.yaml" "$ks_tmp/"

# repositories: git/demo (served by git daemon) and local (file://)
ag_repo "$ks_tmp/git/demo"
ag_repo "$ks_tmp/local"
cp -r "$KS_SOURCE_DIR/examples/platform" "$ks_tmp/local/"
ag_commit "$ks_tmp/local" "platform"
ag_git_daemon "$ks_tmp/git" || { ks_fail "git daemon"; ks_done; exit 1; }

# a server that accepts connections and never answers
HUNG_PORT=$(ks_free_port)
python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(64); held = []
while True:
    c, _ = s.accept(); held.append(c)
' "$HUNG_PORT" &
ag_pids+=("$!")

cat >agent.yaml <<YAML
listen: 127.0.0.1:0
cluster: {kubeconfig: kubeconfig}
workspace: workspace.yaml
state: {backend: local, path: state}
auth:
  tokens:
    - {name: alice, tokenFile: alice.token, role: approver}
sources:
  - name: remote
    url: git://127.0.0.1:$GIT_PORT/demo
    paths: [demo/prod]
    interval: 1s
    fetchTimeout: 10s
    namespaces: [demo-prod]
  - name: local
    url: file://$ks_tmp/local
    paths: [demo/dev, platform/prod]
    interval: 0s
    webhook: {provider: github, secretFile: hook.secret}
    namespaces: [demo-dev]
  - name: hung
    url: git://127.0.0.1:$HUNG_PORT/nothing
    paths: [nothing]
    interval: 1s
    fetchTimeout: 2s
    namespaces: [nothing]
YAML
ag_start agent.yaml || { ks_fail "agent start"; ks_done; exit 1; }

phase_is() { app_is "$1" "d['release'] is not None and d['release']['phase']=='$2'"; }

# --- first sync from both sources
if wait_for 60 phase_is demo-prod-orders Succeeded; then ks_pass; else
	ks_fail "first sync (git://): $(app_field demo-prod-orders "d['release'] and d['release']['phase']") $(tail -5 "$ag_log")"; fi
if wait_for 60 phase_is demo-dev-api-server Succeeded; then ks_pass; else
	ks_fail "first sync (file://): $(app_field demo-dev-api-server "d['release'] and d['release']['phase']")"; fi
t_out "the Deployment exists in the cluster" '^2$' \
	k -n demo-prod get deploy demo-prod-orders -o jsonpath='{.spec.replicas}'
t_status "GET /api/v1/apps" 200 GET /api/v1/apps "$ALICE"
t_json "apps list names source, commit and release" "$ks_tmp/body" \
	"any(a['name']=='demo-prod-orders' and a['source']=='remote' and a['commit']=='$(ag_head "$ks_tmp/git/demo")' and a['release']==1 and a['phase']=='Succeeded' and a['suspended']==False for a in d['apps'])"

# --- an app outside its source's namespaces is blocked, with the reason
if wait_for 60 phase_is platform-prod-gateway Blocked; then ks_pass; else
	ks_fail "outside the allow-list: not Blocked: $(app_field platform-prod-gateway "d['release']")"; fi
t_json "the block names the namespace" <(api GET /api/v1/apps/platform-prod-gateway "$ALICE" >/dev/null; cat "$ks_tmp/body") \
	"'platform-prod' in d['release']['message']"
no_platform_ns() { [ -z "$(k get ns platform-prod --ignore-not-found -o name)" ]; }
t "nothing of the blocked app reached the cluster" no_platform_ns

# --- a new commit, found by polling
sed -i 's/replicas: 2/replicas: 3/' "$ks_tmp/git/demo/demo/prod/orders.yaml"
ag_commit "$ks_tmp/git/demo" "three replicas"
replicas_are() { [ "$(k -n demo-prod get deploy demo-prod-orders -o jsonpath='{.spec.replicas}')" = "$1" ]; }
if wait_for 60 replicas_are 3; then ks_pass; else ks_fail "new commit by polling not applied"; fi
if wait_for 60 phase_is demo-prod-orders Succeeded && app_is demo-prod-orders "d['release']['number']==2"; then
	ks_pass; else ks_fail "release 2 for the new commit: $(app_field demo-prod-orders "d['release']['number']")"; fi
t_json "an unchanged neighbour got no new release" <(api GET /api/v1/apps/demo-prod-api-server "$ALICE" >/dev/null; cat "$ks_tmp/body") \
	"d['release']['number']==1"

# --- a force-push is followed
git -C "$ks_tmp/git/demo" reset -q --hard HEAD~1
sed -i 's/replicas: 2/replicas: 4/' "$ks_tmp/git/demo/demo/prod/orders.yaml"
ag_commit "$ks_tmp/git/demo" "four replicas, history rewritten"
if wait_for 60 replicas_are 4; then ks_pass; else ks_fail "force-push not followed"; fi
forced=$(ag_head "$ks_tmp/git/demo")
if wait_for 60 app_is demo-prod-orders "d['commit']=='$forced'"; then ks_pass; else ks_fail "commit after force-push"; fi

# --- a new commit announced by a signed webhook (the source does not poll)
sed -i 's/replicas: 1/replicas: 2/' "$ks_tmp/local/demo/dev/apps.yaml"
ag_commit "$ks_tmp/local" "dev: two replicas"
head=$(ag_head "$ks_tmp/local")
printf '{"ref":"refs/heads/main","after":"%s","repository":{"full_name":"t/local"}}' "$head" >push.json
sig=$(sign_hmac "It's a Secret to Everybody" push.json)
code=$(curl -s -o "$ks_tmp/body" -w '%{http_code}' -X POST --data-binary @push.json \
	-H 'Content-Type: application/json' -H 'X-GitHub-Event: push' \
	-H 'X-GitHub-Delivery: delivery-1' -H "X-Hub-Signature-256: sha256=$sig" \
	"$AG_URL/hooks/local")
if [ "$code" = 202 ]; then ks_pass; else ks_fail "push webhook: $code $(cat "$ks_tmp/body")"; fi
dev_replicas() { [ "$(k -n demo-dev get deploy demo-dev-api-server -o jsonpath='{.spec.replicas}')" = 2 ]; }
if wait_for 60 dev_replicas; then ks_pass; else ks_fail "webhook commit not applied"; fi

# --- the git server goes away: the source says so, the app keeps running
ag_git_daemon_stop
src_error() { api GET /api/v1/sources "$ALICE" >/dev/null && [ "$(jget "$ks_tmp/body" "[s for s in d['sources'] if s['name']=='remote'][0]['error'] is not None and [s for s in d['sources'] if s['name']=='remote'][0]['errorSince'] is not None")" = true ]; }
if wait_for 60 src_error; then ks_pass; else ks_fail "source error not shown: $(cat "$ks_tmp/body")"; fi
t_json "the source keeps its last good commit" <(api GET /api/v1/sources "$ALICE" >/dev/null; cat "$ks_tmp/body") \
	"[s for s in d['sources'] if s['name']=='remote'][0]['commit']=='$forced'"
if app_is demo-prod-orders "d['release']['phase']=='Succeeded' and d['error'] is not None"; then ks_pass; else
	ks_fail "app during the outage: $(cat "$ks_tmp/body" | head -c 600)"; fi
t_out "the Deployment is untouched" '^4$' k -n demo-prod get deploy demo-prod-orders -o jsonpath='{.spec.replicas}'
ag_git_daemon "$ks_tmp/git" || ks_fail "git daemon restart"
src_ok() { api GET /api/v1/sources "$ALICE" >/dev/null && [ "$(jget "$ks_tmp/body" "[s for s in d['sources'] if s['name']=='remote'][0]['error'] is None")" = true ]; }
if wait_for 60 src_ok; then ks_pass; else ks_fail "source error not cleared after restart"; fi

# --- the hung server: abandoned at the fetch timeout, the agent answers
hung_abandoned() { api GET /api/v1/sources "$ALICE" >/dev/null && [ "$(jget "$ks_tmp/body" "'abandon' in ([s for s in d['sources'] if s['name']=='hung'][0]['error'] or '')")" = true ]; }
if wait_for 60 hung_abandoned; then ks_pass; else ks_fail "hung fetch not abandoned: $(cat "$ks_tmp/body" | head -c 800)"; fi
t0=$(date +%s%N)
t_status "healthz while a fetch hangs" 200 GET /healthz
ms=$((($(date +%s%N) - t0) / 1000000))
# (generous: on a loaded machine curl alone can take a second)
if [ "$ms" -lt 3000 ]; then ks_pass; else ks_fail "healthz took $ms ms"; fi

# --- a broken stack folder: RenderFailed with positions, objects untouched
gen_before=$(k -n demo-dev get deploy demo-dev-api-server -o jsonpath='{.metadata.generation}')
printf 'api-server:\n  workload:\n    replicas: two\n' >>"$ks_tmp/local/demo/dev/apps.yaml"
ag_commit "$ks_tmp/local" "broken"
head=$(ag_head "$ks_tmp/local")
printf '{"ref":"refs/heads/main","after":"%s"}' "$head" >push2.json
sig=$(sign_hmac "It's a Secret to Everybody" push2.json)
curl -s -o /dev/null -X POST --data-binary @push2.json -H 'X-GitHub-Event: push' \
	-H 'X-GitHub-Delivery: delivery-2' -H "X-Hub-Signature-256: sha256=$sig" "$AG_URL/hooks/local"
if wait_for 60 app_is demo-dev-api-server "d['status']=='RenderFailed'"; then ks_pass; else
	ks_fail "no RenderFailed: $(head -c 600 "$ks_tmp/body")"; fi
t_json "render errors carry file:line:col" "$ks_tmp/body" \
	"any(__import__('re').match(r'demo/dev/apps\.yaml:\d+:\d+: ', e) for e in d['renderErrors'])"
t_json "the app keeps its release" "$ks_tmp/body" "d['release']['phase']=='Succeeded'"
t_out "the app's objects are untouched" "^$gen_before\$" \
	k -n demo-dev get deploy demo-dev-api-server -o jsonpath='{.metadata.generation}'

# --- logs: never a token or the webhook secret
if grep -q -e "$ALICE" -e "Secret to Everybody" "$ag_log"; then ks_fail "a secret in the log"; else ks_pass; fi

# --- SIGTERM: exit 0 within 5 s although a fetch hangs
ag_stop
rc=$?
if [ $rc -eq 0 ] && [ "$AG_STOP_MS" -lt 5000 ]; then ks_pass; else ks_fail "SIGTERM: exit $rc after $AG_STOP_MS ms"; fi
if grep -q Sanitizer "$ag_log"; then ks_fail "sanitizer: $(grep -A5 Sanitizer "$ag_log" | head -20)"; else ks_pass; fi

# --- JSON logs
ag_start agent.yaml agent-json || ks_fail "restart"
kill "$ag_pid"; wait "$ag_pid"
"$KUSYNC" agent -c agent.yaml --log-format json 2>"$ks_tmp/json.log" &
pid=$!
ag_pids+=("$pid")
wait_for 60 grep -q listening "$ks_tmp/json.log"
kill -TERM "$pid"; wait "$pid"
if python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1]) if l.strip()]' "$ks_tmp/json.log" 2>/dev/null &&
	grep -q '"level"' "$ks_tmp/json.log"; then ks_pass; else ks_fail "JSON logs: $(head -3 "$ks_tmp/json.log")"; fi

ks_done
