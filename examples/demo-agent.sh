#!/bin/bash
# The agent part of `make demo`: a Git repository made from examples/, a
# devcluster and `kusync agent`, then what a team sees:
#
#   1. the first sync (helloworld waits for its manual approval, then
#      `kusync approve` lets it roll out cell by cell);
#   2. a commit pushed and announced by a signed webhook: applied at once;
#   3. a drift made with kubectl: reported (demo/prod, report mode) and
#      repaired (demo/dev, heal mode);
#   4. a commit with an image that never becomes ready: its release check
#      fails and kusync rolls it back;
#   5. SIGTERM: the agent stops cleanly.
#
#   bash examples/demo-agent.sh path/to/kusync
#
# Exits 0 when everything behaved as expected; stops whatever it started.
set -u

kusync=$1
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kusync-demo-agent.XXXXXX") || exit 3
dc_pid=
agent_pid=
cleanup() {
	[ -n "$agent_pid" ] && kill -9 "$agent_pid" 2>/dev/null
	[ -n "$dc_pid" ] && kill "$dc_pid" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
failed=0
fail() {
	echo "demo: FAILED: $*" >&2
	failed=1
}
say() { printf '\n== %s\n' "$*"; }
indent() { sed 's/^/  /'; }
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
# json FILTER: reads JSON on stdin, prints the Python expression FILTER of
# it (d is the document).
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

export KUSYNC_SERVER KUSYNC_TOKEN KUBECONFIG KUBECACHEDIR
KUBECONFIG=$tmp/kubeconfig
KUBECACHEDIR=$tmp/kube-cache

# -- the Git repository: examples/demo and its workspace, one commit
git_() { git -C "$tmp/work" -c user.name=demo -c user.email=demo@example.com "$@"; }
git init -q --bare -b main "$tmp/repo.git"
git init -q -b main "$tmp/work"
cp -R "$root/examples/demo" "$tmp/work/demo"
git_ add -A && git_ commit -q -m "demo: first commit"
git_ push -q "$tmp/repo.git" main

# -- devcluster, its clock 300 times faster: rollouts take 90 s / 300 =
# 300 ms; images ending in "-broken" never become ready, and a Deployment's
# 600 s progress deadline passes in 2 s
"$kusync" devcluster -q --listen 127.0.0.1:0 --rollout-delay 90s \
	--time-scale 300 --fail-images -broken$ \
	--kubeconfig-out "$KUBECONFIG" 2>"$tmp/devcluster.log" &
dc_pid=$!
for _ in $(seq 40); do
	grep -q 'listening on' "$tmp/devcluster.log" && break
	sleep 0.25
done

# -- the agent's configuration
port=$(free_port)
KUSYNC_SERVER=http://127.0.0.1:$port
printf 'demo-approver-token\n' >"$tmp/alice.token"
printf 'demo-webhook-secret\n' >"$tmp/hook.secret"
KUSYNC_TOKEN=demo-approver-token
cp "$root/examples/workspace.yaml" "$tmp/workspace.yaml"
cat >"$tmp/agent.yaml" <<EOF
listen: 127.0.0.1:$port
cluster:
  kubeconfig: kubeconfig
workspace: workspace.yaml
state:
  backend: local
  path: state
auth:
  tokens:
    - {name: alice, tokenFile: alice.token, role: approver}
sources:
  - name: prod
    url: file://$tmp/repo.git
    ref: refs/heads/main
    paths: [demo/prod]
    interval: 0s
    webhook: {provider: github, secretFile: hook.secret}
    namespaces: [demo-*]
    drift: {mode: report, resync: 10m}
  - name: dev
    url: file://$tmp/repo.git
    ref: refs/heads/main
    paths: [demo/dev]
    interval: 2s
    namespaces: [demo-dev]
    drift: {mode: heal, resync: 10m}
EOF
say "kusync agent -c agent.yaml   (sources prod: webhooks only, report drift; dev: polled every 2s, heal drift)"
sed 's/^/  | /' "$tmp/agent.yaml"
"$kusync" agent -c "$tmp/agent.yaml" 2>"$tmp/agent.log" &
agent_pid=$!

# phase APP: the phase of APP's latest release ("" when none or unknown)
phase() {
	"$kusync" status -o json "$1" 2>/dev/null |
		json '(d.get("release") or {}).get("phase") or ""' 2>/dev/null
}
# wait_phase APP PHASE SECONDS
wait_phase() {
	local i
	for i in $(seq $(($3 * 5))); do
		[ "$(phase "$1")" = "$2" ] && return 0
		sleep 0.2
	done
	fail "$1 is not $2 after $3 s (it is '$(phase "$1")')"
	return 1
}

wait_phase demo-prod-api-server Succeeded 60
wait_phase demo-prod-helloworld AwaitingApproval 30
say "kusync status   (after the first sync: helloworld waits for an approval)"
"$kusync" status | indent
commit=$(git -C "$tmp/work" rev-parse --short=8 HEAD)

say "kusync approve demo-prod-helloworld $commit --comment 'first rollout'"
"$kusync" approve demo-prod-helloworld "$commit" --comment "first rollout" 2>&1 | indent ||
	fail "approve"
wait_phase demo-prod-helloworld Succeeded 60
say "kusync status demo-prod-helloworld   (rolled out cell by cell)"
"$kusync" status demo-prod-helloworld | indent

# -- a commit, announced by a signed webhook
say "a commit: api-server to 4 replicas, pushed, and GitHub's push webhook"
sed -i 's/^    replicas: 3$/    replicas: 4/' "$tmp/work/demo/prod/api-server.yaml"
git_ commit -q -am "api-server: 4 replicas" && git_ push -q "$tmp/repo.git" main
after=$(git -C "$tmp/work" rev-parse HEAD)
body="{\"ref\":\"refs/heads/main\",\"after\":\"$after\",\"repository\":{\"full_name\":\"team/demo\"}}"
sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac demo-webhook-secret | sed 's/^.*= //')
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$KUSYNC_SERVER/hooks/prod" \
	-H 'Content-Type: application/json' -H 'X-GitHub-Event: push' \
	-H "X-GitHub-Delivery: demo-$after" -H "X-Hub-Signature-256: sha256=$sig" \
	--data-binary "$body")
echo "  POST /hooks/prod -> $code"
[ "$code" = 202 ] || fail "webhook: HTTP $code, want 202"
for _ in $(seq 100); do
	r=$(kubectl get deployment demo-prod-api-server -n demo-prod \
		-o jsonpath='{.spec.replicas}' 2>/dev/null)
	[ "$r" = 4 ] && break
	sleep 0.1
done
echo "  \$ kubectl get deployment demo-prod-api-server -n demo-prod"
kubectl get deployment demo-prod-api-server -n demo-prod 2>&1 | indent
[ "$r" = 4 ] || fail "the pushed commit was not applied (replicas $r)"
wait_phase demo-prod-api-server Succeeded 30

# -- drift: reported in prod, healed in dev
say "drift: kubectl scale deployment demo-prod-api-server --replicas=7 (prod reports)"
kubectl scale deployment demo-prod-api-server --replicas=7 -n demo-prod 2>&1 | indent
for _ in $(seq 50); do
	n=$("$kusync" status -o json demo-prod-api-server 2>/dev/null | json 'd.get("drift") or 0' 2>/dev/null)
	[ "${n:-0}" != 0 ] && break
	sleep 0.1
done
curl -s -H "Authorization: Bearer $KUSYNC_TOKEN" \
	"$KUSYNC_SERVER/api/v1/apps/demo-prod-api-server/drift" |
	json 'json.dumps(d, indent=1)' | indent
[ "${n:-0}" != 0 ] || fail "the drift was not reported"

say "drift: kubectl scale deployment demo-dev-api-server --replicas=5 (dev heals)"
kubectl scale deployment demo-dev-api-server --replicas=5 -n demo-dev 2>&1 | indent
healed=
for _ in $(seq 50); do
	sleep 0.1
	r=$(kubectl get deployment demo-dev-api-server -n demo-dev -o jsonpath='{.spec.replicas}' 2>/dev/null)
	[ "$r" = 1 ] && healed=1 && break
done
echo "  \$ kubectl get deployment demo-dev-api-server -n demo-dev"
kubectl get deployment demo-dev-api-server -n demo-dev 2>&1 | indent
[ -n "$healed" ] || fail "dev's drift was not healed"
echo "  \$ curl -s $KUSYNC_SERVER/metrics | grep api-server"
curl -s "$KUSYNC_SERVER/metrics" >"$tmp/metrics"
grep -E '^kusync_(drift_resources|drift_heals_total)\{app="demo-(prod|dev)-api-server"' \
	"$tmp/metrics" | indent
grep -qE '^kusync_drift_heals_total\{app="demo-dev-api-server"\} [1-9]' "$tmp/metrics" ||
	fail "no heal counted for demo-dev-api-server"

# -- a failing release, rolled back
say "a commit with an image that never becomes ready: orders rolls back"
sed -i 's|ghcr.io/example/orders:3.0.7|ghcr.io/example/orders:3.0.8-broken|' \
	"$tmp/work/demo/prod/orders.yaml"
git_ commit -q -am "orders: 3.0.8" && git_ push -q "$tmp/repo.git" main
"$kusync" sync demo-prod-orders 2>&1 | indent
wait_phase demo-prod-orders RolledBack 60
echo "  \$ kusync status demo-prod-orders"
"$kusync" status demo-prod-orders | indent
img=$(kubectl get deployment demo-prod-orders -n demo-prod \
	-o jsonpath='{.spec.template.spec.containers[0].image}')
echo "  image in the cluster: $img"
[ "$img" = ghcr.io/example/orders:3.0.7 ] || fail "orders was not rolled back ($img)"

say "kusync status"
"$kusync" status | indent

say "SIGTERM: the agent stops"
kill -TERM "$agent_pid"
start=$(date +%s)
wait "$agent_pid"
rc=$?
agent_pid=
echo "  exit code $rc after $(($(date +%s) - start)) s"
[ "$rc" = 0 ] || fail "agent exit code $rc"
grep -q 'demo-approver-token\|demo-webhook-secret' "$tmp/agent.log" &&
	fail "a secret appears in the agent's log"
if [ "$failed" -ne 0 ]; then
	echo "  --- agent log (last 30 lines)"
	tail -n 30 "$tmp/agent.log" | indent
fi
exit "$failed"
