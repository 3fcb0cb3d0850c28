#!/bin/bash
# The release store's backends through the agent (spec/agent.md, Releases
# and state): with state.backend kubernetes each release is a Secret
# kusync.release.<app>.v<N> labelled owner=kusync and kusync.io/release-of
# (never kusync.io/app), holding gzip'd JSON; a Secret with garbage data is
# reported and skipped at start and the agent goes on deploying. With the
# local backend a truncated record is skipped with a warning at restart and
# the agent goes on as well.
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
dc_start -q --rollout-delay 100ms || { ks_fail "devcluster"; ks_done; exit 1; }
k() { kubectl --request-timeout=20s "$@"; }
ag_secrets
R=$ks_tmp/repo
pl_project "$R"
pl_stack "$R" prod
pl_stack "$R" loc
pl_service s1 nginx:1.25.1 >"$R/t4/prod/apps.yaml"
pl_service s2 nginx:1.25.1 >"$R/t4/loc/apps.yaml"
ag_commit "$R" first
A=$(ag_head "$R")
config() { # BACKEND STACK
	cat <<YAML
listen: 127.0.0.1:0
cluster: {kubeconfig: kubeconfig}
cacheDir: cache-$1
state: {backend: $1, path: state, namespace: kusync}
auth:
  tokens:
    - {name: alice, tokenFile: alice.token, role: approver}
sources:
  - name: s
    url: file://$R
    paths: [t4/$2]
    interval: 1s
    namespaces: [t4-$2]
YAML
}
S1=t4-prod-s1 S2=t4-loc-s2

# --- kubernetes backend
config kubernetes prod >kube.yaml
ag_start kube.yaml agent-kube || { ks_fail "agent start"; ks_done; exit 1; }
wait_np 30 $S1 1 Succeeded
SEC=kusync.release.$S1.v1
t_out "release 1 in a Secret with the labels" "^owner=kusync release-of=$S1 app=\$" \
	k -n kusync get secret $SEC -o 'jsonpath=owner={.metadata.labels.owner} release-of={.metadata.labels.kusync\.io/release-of} app={.metadata.labels.kusync\.io/app}'
k -n kusync get secret $SEC -o json >sec.json
t_json "the Secret holds gzip'd JSON of the release" sec.json \
	"(lambda r: r['app']=='$S1' and r['number']==1 and r['commit']=='$A' and r['phase']=='Succeeded' and len(r['resources'])>0)(json.loads(__import__('gzip').decompress(__import__('base64').b64decode(d['data']['release']))))"
n=$(k -n t4-prod get secrets -l owner=kusync -o name | wc -l)
if [ "$n" = 0 ]; then ks_pass; else ks_fail "$n release Secrets in the app's namespace"; fi
ag_stop || ks_fail "stop: exit $?"

# a Secret with garbage data, then a restart: reported, skipped
printf 'this is not gzip' >garbage
k -n kusync create secret generic kusync.release.$S1.v7 --from-file=release=garbage >/dev/null &&
	k -n kusync label secret kusync.release.$S1.v7 owner=kusync kusync.io/release-of=$S1 >/dev/null ||
	ks_fail "could not create the garbage Secret"
ag_start kube.yaml agent-kube2 || { ks_fail "agent restart"; ks_done; exit 1; }
if wait_for 10 grep -q "unreadable.*kusync.release.$S1.v7" "$ag_log"; then ks_pass; else ks_fail "garbage Secret not reported: $(grep -i -m3 -e warn -e unread "$ag_log")"; fi
wait_np 10 $S1 1 Succeeded
t_releases "the garbage is not a release" $S1 "[r['number'] for r in rs]==[1]"
sed -i 's/nginx:1.25.1/nginx:1.25.2/' "$R/t4/prod/apps.yaml"
ag_commit "$R" second
B=$(ag_head "$R")
t_rel "the agent still deploys" $S1 30 "r['commit']=='$B' and r['phase']=='Succeeded' and r['number'] not in (1, 7)"
N=$(app_field $S1 "d['release']['number']")
t_out "its Secret" "^kusync.release.$S1.v$N\$" k -n kusync get secret kusync.release.$S1.v$N -o 'jsonpath={.metadata.name}'
t_out "the image applied" '^nginx:1.25.2$' k -n t4-prod get deploy $S1 -o jsonpath='{.spec.template.spec.containers[0].image}'
if grep -q -i 'sanitizer\|panic\|abort' "$ag_log"; then ks_fail "crash in the log"; else ks_pass; fi
ag_stop || ks_fail "stop: exit $?"

# --- local backend: a truncated record
config local loc >local.yaml
ag_start local.yaml agent-local || { ks_fail "agent start"; ks_done; exit 1; }
wait_np 30 $S2 1 Succeeded
sed -i 's/nginx:1.25.1/nginx:1.25.2/' "$R/t4/loc/apps.yaml"
ag_commit "$R" "loc second"
wait_np 30 $S2 2 Succeeded
ag_stop || ks_fail "stop: exit $?"
F=state/releases/$S2/2.json.gz
t "record 2 is gzip" gzip -t "$F"
t_out "mode 0600" '^600$' stat -c %a "$F"
size=$(stat -c %s "$F")
truncate -s $((size / 2)) "$F"
sed -i 's/nginx:1.25.2/nginx:1.25.3/' "$R/t4/loc/apps.yaml"
ag_commit "$R" "loc third"
C=$(ag_head "$R")
ag_start local.yaml agent-local2 || { ks_fail "agent restart"; ks_done; exit 1; }
if wait_for 10 grep -q "unreadable.*$S2/2.json.gz" "$ag_log"; then ks_pass; else ks_fail "truncated record not reported: $(grep -i -m3 -e warn -e unread "$ag_log")"; fi
t_rel "the agent still deploys" $S2 30 "r['commit']=='$C' and r['phase']=='Succeeded'"
# the new release is numbered past the unreadable record, never over it
t_releases "history: release 3 (past the unreadable 2) and release 1" $S2 "rs[0]['commit']=='$C' and rs[0]['number']==3 and [r['number'] for r in rs]==[3,1]"
t "the truncated record is left as it was" test "$(stat -c %s "$F")" -eq $((size / 2))
t_out "the image applied" '^nginx:1.25.3$' k -n t4-loc get deploy $S2 -o jsonpath='{.spec.template.spec.containers[0].image}'
ag_stop || ks_fail "stop: exit $?"
t_sanitizer
ks_done
