#!/bin/bash
# Dependencies between apps (spec/agent.md, Per commit step 2), through a
# git:// source: a chain c -> b -> a deploys in order (no request for b
# before a is healthy, none for c before b is), the waiting apps say whom
# they wait for (API and `kusync status`), and a failed dependency fails
# its dependant's pre-check with the reason, applying nothing of it.
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
# --time-scale divides every delay: each rollout takes 1.5 s, a Deployment's
# 600 s progress deadline passes in 1 s (time-stamped request log on stderr)
dc_start --rollout-delay 900s --time-scale 600 --fail-images 'broken$' ||
	{ ks_fail "devcluster"; ks_done; exit 1; }
k() { kubectl --request-timeout=20s -n t4-prod "$@"; }
ag_secrets
R=$ks_tmp/git/deps
pl_project "$R"
pl_stack "$R" prod
write() { # A_IMAGE B_IMAGE C_IMAGE
	{
		pl_service a "$1" "  pipeline:" "    deploy:" \
			"      rollbackIfFailed: false"
		pl_service b "$2" "  dependency:" "    dependedApps: [a]"
		pl_service c "$3" "  dependency:" "    dependedApps: [b]"
	} >"$R/t4/prod/apps.yaml"
}
write nginx:1.25.1 nginx:1.25.1 nginx:1.25.1
ag_commit "$R" first
A=$(ag_head "$R")
ag_git_daemon "$ks_tmp/git" || { ks_fail "git daemon"; ks_done; exit 1; }
cat >agent.yaml <<YAML
listen: 127.0.0.1:0
cluster: {kubeconfig: kubeconfig}
state: {backend: local, path: state}
auth:
  tokens:
    - {name: alice, tokenFile: alice.token, role: approver}
sources:
  - name: s
    url: git://127.0.0.1:$GIT_PORT/deps
    paths: [t4/prod]
    interval: 1s
    namespaces: [t4-prod]
YAML
ag_start agent.yaml || { ks_fail "agent start"; ks_done; exit 1; }
export KUSYNC_SERVER=$AG_URL KUSYNC_TOKEN=$ALICE
AP=t4-prod-a BP=t4-prod-b CP=t4-prod-c

# --- while a rolls out, b and c wait, and say for whom
# (curl and jq only while c waits: python is too slow on a loaded machine)
wait_np 20 $CP 1 WaitingForDependencies
status_waits() { "$KUSYNC" status $CP | grep -q 'waiting for: .*t4-prod-b'; }
if wait_for 20 status_waits; then ks_pass; else ks_fail "kusync status does not say whom c waits for: $("$KUSYNC" status $CP)"; fi
w=$(curl -s -H "Authorization: Bearer $ALICE" "$AG_URL/api/v1/apps/$CP" | jq -c '[.waitingFor, .release.waitingFor, .release.phase]')
if [ "$w" = '[["t4-prod-b"],["t4-prod-b"],"WaitingForDependencies"]' ]; then ks_pass; else ks_fail "waitingFor in the app view: $w"; fi
for a in $AP $BP $CP; do
	t_rel "$a Succeeded" $a 30 "r and r['number']==1 and r['phase']=='Succeeded' and r['waitingFor']==[]"
done
if app_is $CP "d['waitingFor']==[]"; then ks_pass; else ks_fail "c still says it waits: $(app_field $CP "d.get('waitingFor')")"; fi

# first_write APP: the time (s since the epoch, ms) of the first write request
# for APP's own objects in the devcluster's request log
first_write() {
	python3 - "$ks_tmp/devcluster.log" "$1" <<'EOF'
import re, sys, datetime
pat = re.compile(r'^devcluster: (\S+) (PATCH|POST|PUT) \S*/' + re.escape(sys.argv[2]) + r'(-private)?(\?|$)')
for line in open(sys.argv[1]):
    m = pat.match(line.strip())
    if m:
        t = datetime.datetime.strptime(m.group(1), '%Y-%m-%dT%H:%M:%S.%fZ')
        print('%.3f' % t.replace(tzinfo=datetime.timezone.utc).timestamp())
        break
EOF
}
ta=$(first_write $AP) tb=$(first_write $BP) tc=$(first_write $CP)
echo "first writes: a $ta, b $tb, c $tc"
# b's first request comes after a's rollout (1.5 s), c's after b's
if [ -n "$ta" ] && [ -n "$tb" ] && [ -n "$tc" ] &&
	python3 -c "import sys; a,b,c=map(float,sys.argv[1:]); sys.exit(0 if b-a>=1.4 and c-b>=1.4 else 1)" "$ta" "$tb" "$tc"; then
	ks_pass
else
	ks_fail "deploy order: a $ta, b $tb, c $tc"
fi
releases $AP
a_done=$(jget "$ks_tmp/releases.json" "d['releases'][0]['finishedAt']")
releases $BP
b_start=$(jget "$ks_tmp/releases.json" "d['releases'][0]['startedAt']")
b_done=$(jget "$ks_tmp/releases.json" "d['releases'][0]['finishedAt']")
releases $CP
c_done=$(jget "$ks_tmp/releases.json" "d['releases'][0]['finishedAt']")
if [[ "$a_done" < "$b_done" || "$a_done" == "$b_done" ]] && [[ "$b_done" < "$c_done" || "$b_done" == "$c_done" ]] && [ -n "$b_start" ]; then
	ks_pass
else
	ks_fail "finishedAt order: a $a_done, b $b_done, c $c_done"
fi

# --- a fails: b's new release fails its pre-check, nothing of it applied;
# c's spec did not change: no release for c
write nginx:1.25.2-broken nginx:1.25.2 nginx:1.25.1
ag_commit "$R" "a broken, b 1.25.2"
B=$(ag_head "$R")
t_rel "a release 2 Failed" $AP 30 "r['number']==2 and r['phase']=='Failed'"
t_rel "b's pre-check fails naming a" $BP 20 "r['number']==2 and r['commit']=='$B' and r['phase'] in ('Failed','Blocked') and 't4-prod-a' in (r.get('message') or '') and 'Failed' in (r.get('message') or '')"
t_out "b's image not applied" '^nginx:1.25.1$' k get deploy $BP -o jsonpath='{.spec.template.spec.containers[0].image}'
n=$(grep -c "PATCH /apis/apps/v1/namespaces/t4-prod/deployments/$BP?" devcluster.log)
if [ "$n" = 1 ]; then ks_pass; else ks_fail "b's Deployment patched $n times, want 1"; fi
t_releases "c: no new release" $CP "[r['number'] for r in rs]==[1]"
t_exit "status exits 1 for b" 1 't4-prod-a' "$KUSYNC" status $BP

# --- a fixed; b's spec is unchanged since its failed release, so it waits
# for a sync, which gives it a new release that now deploys
write nginx:1.25.3 nginx:1.25.2 nginx:1.25.1
ag_commit "$R" "a fixed"
t_rel "a release 3 Succeeded" $AP 30 "r['number']==3 and r['phase']=='Succeeded'"
t_releases "b: no release without a change" $BP "[r['number'] for r in rs]==[2,1]"
t_exit "kusync sync b" 0 - "$KUSYNC" sync $BP
t_rel "b release 3 Succeeded" $BP 30 "r['number']==3 and r['phase']=='Succeeded' and r['commit']=='$(ag_head "$R")'"
t_out "b's image applied" '^nginx:1.25.2$' k get deploy $BP -o jsonpath='{.spec.template.spec.containers[0].image}'

ag_stop || ks_fail "stop: exit $?"
t_sanitizer
ks_done
