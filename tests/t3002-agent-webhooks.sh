#!/bin/bash
# Webhooks over HTTP against a running agent: GitHub's documented test
# vector authenticates, wrong / missing / SHA-1-only signatures get 401, a
# replayed delivery 200 and nothing, a 2 MiB body 413, a push for another
# ref 202 and no fetch, a push for the ref 202 and a fetch, a GitLab token,
# a Gitea signature, a generic signature, an unknown source 404; every
# outcome is counted in kusync_webhook_requests_total.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$KS_SOURCE_DIR/tests/unit/devcluster/devcluster.sh"
. "$KS_SOURCE_DIR/tests/lib/agent.sh"
ks_tmpdir
ks_on_exit() {
	ag_on_exit
	[ -n "${dc_pid:-}" ] && kill "$dc_pid" 2>/dev/null && wait "$dc_pid" 2>/dev/null
	return 0
}
cd "$ks_tmp" || exit 1
dc_start -q --rollout-delay 100ms || { ks_fail "devcluster"; ks_done; exit 1; }
ag_secrets
printf 'gitlab-token-secret' >gl.secret
printf 'gitea-secret' >gt.secret
printf 'generic-secret' >gn.secret
ag_repo "$ks_tmp/repo"
cp "$KS_SOURCE_DIR/examples/workspace.yaml" "$ks_tmp/"
src() { # name provider secretfile
	cat <<YAML
  - name: $1
    url: file://$ks_tmp/repo
    paths: [demo/$4]
    interval: 0s
    webhook: {provider: $2, secretFile: $3}
    namespaces: [demo-*]
YAML
}
{
	cat <<YAML
listen: 127.0.0.1:0
cluster: {kubeconfig: kubeconfig}
workspace: workspace.yaml
state: {backend: local, path: state}
auth:
  tokens:
    - {name: alice, tokenFile: alice.token, role: approver}
sources:
YAML
	src gh github hook.secret prod
	src gl gitlab gl.secret dev
	cat <<YAML
  - name: gt
    url: file://$ks_tmp/repo
    paths: [platform-none]
    interval: 0s
    webhook: {provider: gitea, secretFile: gt.secret}
    namespaces: [x]
  - name: gn
    url: file://$ks_tmp/repo
    paths: [platform-none]
    interval: 0s
    webhook: {provider: generic, secretFile: gn.secret}
    namespaces: [x]
  - name: nohook
    url: file://$ks_tmp/repo
    paths: [platform-none]
    interval: 0s
    namespaces: [x]
YAML
} >agent.yaml
ag_start agent.yaml || { ks_fail "agent start"; ks_done; exit 1; }

# hook SOURCE BODYFILE HEADER...: POSTs, prints the status.
hook() {
	local s=$1 f=$2
	shift 2
	local h=()
	for x in "$@"; do h+=(-H "$x"); done
	curl -s -o "$ks_tmp/body" -w '%{http_code}' -X POST --max-time 20 \
		--data-binary "@$f" "${h[@]}" "$AG_URL/hooks/$s"
}
t_hook() { # name want source file headers...
	local name=$1 want=$2
	shift 2
	local got
	got=$(hook "$@")
	if [ "$got" = "$want" ]; then ks_pass; else ks_fail "$name: HTTP $got, want $want: $(head -c 300 "$ks_tmp/body")"; fi
}
last_fetch() { api GET /api/v1/sources "$ALICE" >/dev/null; jget "$ks_tmp/body" "[s for s in d['sources'] if s['name']=='$1'][0]['lastFetch']"; }
wait_for 60 test "$(last_fetch gh)" != None || ks_fail "first fetch of gh"
wait_for 60 test "$(last_fetch gl)" != None || ks_fail "first fetch of gl"

# --- GitHub's documented test vector: it authenticates (ping-like: no
# event header, so it is accepted and ignored)
printf 'Hello, World!' >vector.txt
VSIG=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17
if [ "$(sign_hmac "It's a Secret to Everybody" vector.txt)" = "$VSIG" ]; then ks_pass; else ks_fail "openssl does not reproduce the vector"; fi
t_hook "test vector authenticates" 202 gh vector.txt "X-Hub-Signature-256: sha256=$VSIG" "X-GitHub-Delivery: v-1"
t_json "test vector: ignored" "$ks_tmp/body" "d['result']=='ignored'"
t_hook "test vector as a push: authenticated, then a bad body" 400 gh vector.txt \
	"X-Hub-Signature-256: sha256=$VSIG" "X-GitHub-Event: push" "X-GitHub-Delivery: v-2"
t_json "bad body: bad_request" "$ks_tmp/body" "d['result']=='bad_request'"
t_hook "one digit changed: 401" 401 gh vector.txt "X-Hub-Signature-256: sha256=${VSIG%?}f" "X-GitHub-Event: push"
t_hook "no signature: 401" 401 gh vector.txt "X-GitHub-Event: push"
SHA1=$(openssl dgst -sha1 -hmac "It's a Secret to Everybody" -r vector.txt | cut -d' ' -f1)
t_hook "SHA-1 only: 401" 401 gh vector.txt "X-Hub-Signature: sha1=$SHA1" "X-GitHub-Event: push"
t_json "401 names the result" "$ks_tmp/body" "d['result']=='unauthorized' and 'Secret' not in json.dumps(d)"

# --- a push for the ref: 202 and a fetch; the same delivery again: 200
before=$(last_fetch gh)
sleep 1.1
head=$(ag_head "$ks_tmp/repo")
printf '{"ref":"refs/heads/main","after":"%s","repository":{"full_name":"t/r"}}' "$head" >push.json
SIG=$(sign_hmac "It's a Secret to Everybody" push.json)
t_hook "push for the ref: 202" 202 gh push.json "X-Hub-Signature-256: sha256=$SIG" "X-GitHub-Event: push" "X-GitHub-Delivery: d-1"
t_json "push: accepted" "$ks_tmp/body" "d['result']=='accepted'"
if wait_for 60 test "$(last_fetch gh)" != "$before"; then ks_pass; else ks_fail "the push did not fetch"; fi
t_hook "replayed delivery: 200" 200 gh push.json "X-Hub-Signature-256: sha256=$SIG" "X-GitHub-Event: push" "X-GitHub-Delivery: d-1"
t_json "replay: duplicate" "$ks_tmp/body" "d['result']=='duplicate'"

# --- a push for another ref: 202, nothing fetched
before=$(last_fetch gh)
sleep 1.1
printf '{"ref":"refs/heads/feature","after":"%s"}' "$head" >other.json
SIG=$(sign_hmac "It's a Secret to Everybody" other.json)
t_hook "push for another ref: 202" 202 gh other.json "X-Hub-Signature-256: sha256=$SIG" "X-GitHub-Event: push" "X-GitHub-Delivery: d-2"
t_json "other ref: ignored" "$ks_tmp/body" "d['result']=='ignored'"
sleep 1.5
if [ "$(last_fetch gh)" = "$before" ]; then ks_pass; else ks_fail "another ref's push fetched"; fi

# --- 2 MiB: 413
head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' 'a' >big.txt
t_hook "2 MiB body: 413" 413 gh big.txt "X-Hub-Signature-256: sha256=$VSIG" "X-GitHub-Event: push"

# --- GitLab: the token itself
printf '{"object_kind":"push","ref":"refs/heads/main","after":"%s"}' "$head" >gl.json
t_hook "gitlab token: 202" 202 gl gl.json "X-Gitlab-Token: gitlab-token-secret" "X-Gitlab-Event: Push Hook" "X-Gitlab-Event-UUID: g-1"
t_json "gitlab: accepted" "$ks_tmp/body" "d['result']=='accepted'"
t_hook "gitlab wrong token: 401" 401 gl gl.json "X-Gitlab-Token: gitlab-token-secreT" "X-Gitlab-Event: Push Hook"

# --- Gitea and generic: HMAC-SHA256 without and with the prefix
printf '{"ref":"refs/heads/main","after":"%s"}' "$head" >gt.json
GSIG=$(sign_hmac gitea-secret gt.json)
t_hook "gitea signature: 202" 202 gt gt.json "X-Gitea-Signature: $GSIG" "X-Gitea-Event: push" "X-Gitea-Delivery: t-1"
t_hook "gitea wrong signature: 401" 401 gt gt.json "X-Gitea-Signature: $VSIG" "X-Gitea-Event: push"
NSIG=$(sign_hmac generic-secret gt.json)
t_hook "generic signature: 202" 202 gn gt.json "X-Signature: sha256=$NSIG" "X-Delivery-Id: n-1"

# --- unknown source, source without webhook: 404
t_hook "unknown source: 404" 404 nosuch gt.json "X-Signature: sha256=$NSIG"
t_hook "source without webhook: 404" 404 nohook gt.json "X-Signature: sha256=$NSIG"

# --- the counts
curl -s "$AG_URL/metrics" >metrics.txt
m() { # source result -> value
	sed -n "s/^kusync_webhook_requests_total{result=\"$2\",source=\"$1\"} //p" metrics.txt
}
check_m() {
	local got
	got=$(m "$1" "$2")
	if [ "$got" = "$3" ]; then ks_pass; else ks_fail "metric $1/$2: '$got', want $3"; fi
}
check_m gh ignored 2
check_m gh bad_request 1
check_m gh unauthorized 3
check_m gh accepted 1
check_m gh duplicate 1
check_m gh too_large 1
check_m gl accepted 1
check_m gl unauthorized 1
check_m gt accepted 1
check_m gt unauthorized 1
check_m gn accepted 1
check_m unknown bad_request 2
if grep -q 'source="nosuch"' metrics.txt; then ks_fail "unknown source became a label"; else ks_pass; fi
for name in kusync_sync_total kusync_release_phase kusync_drift_resources \
	kusync_reconcile_duration_seconds kusync_git_fetch_duration_seconds \
	kusync_kube_requests_total; do
	if grep -q "^# TYPE $name " metrics.txt; then ks_pass; else ks_fail "metric $name not defined"; fi
done

ag_stop || ks_fail "agent exit $?"
if grep -q -e "Secret to Everybody" -e gitlab-token-secret -e gitea-secret "$ag_log"; then ks_fail "a secret in the log"; else ks_pass; fi
ks_done
