#!/bin/bash
# kusync agent refuses to start on a bad configuration: every problem is
# named with FILE:LINE:COL, a secret written inline is refused without
# being echoed, two sources defining the same app stop the agent with exit
# 2, an address already in use is exit 3; flags are checked.
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

cat >bad.yaml <<'YAML'
listen: 127.0.0.1:0
lisen: foo
state:
  backend: local
  path: st
sources:
  - name: Demo_Bad
    url: file:///tmp/x
    paths: [a]
    interval: tenseconds
    credentials:
      password: hunter2-inline
YAML
t_exit_err "bad config: exit 2 and a did-you-mean with its position" 2 \
	'^bad\.yaml:2:1: lisen: unknown field \(did you mean "listen"\?\)$' \
	"$KUSYNC" agent -c bad.yaml
t_exit_err "bad config: every error is printed (missing namespaces)" 2 \
	'^bad\.yaml:7:5: .*namespaces' "$KUSYNC" agent -c bad.yaml
t_exit_err "bad config: bad duration with its position" 2 \
	'^bad\.yaml:10:15: .*interval.*tenseconds' "$KUSYNC" agent -c bad.yaml
t_exit_err "bad config: an inline secret is refused" 2 \
	'^bad\.yaml:12:7: .*passwordFile' "$KUSYNC" agent -c bad.yaml
if grep -q hunter2-inline "$ks_tmp/err"; then
	ks_fail "the inline secret is echoed"
else
	ks_pass
fi
n=$(grep -c '^bad\.yaml:' "$ks_tmp/err")
if [ "$n" -ge 5 ]; then ks_pass; else ks_fail "want 5+ errors, got $n"; fi

t_exit_err "a missing file: exit 2" 2 'nonexistent' "$KUSYNC" agent -c "$ks_tmp/nonexistent.yaml"
t_exit_err "no -c: exit 2" 2 'AGENT_CONFIG is required' "$KUSYNC" agent
t_exit_err "bad --log-format: exit 2" 2 'log-format must be text or json' \
	"$KUSYNC" agent -c bad.yaml --log-format xml
t_exit_err "bad --log-level: exit 2" 2 'log-level' \
	"$KUSYNC" agent -c bad.yaml --log-level loud
t_exit "--help" 0 '^usage: kusync agent -c AGENT_CONFIG' "$KUSYNC" agent --help

# --- two sources defining the same apps: exit 2 at start
dc_start -q || { ks_fail "devcluster"; ks_done; exit 1; }
ag_repo "$ks_tmp/repo"
cp "$KS_SOURCE_DIR/examples/workspace.yaml" "$ks_tmp/"
cat >dup.yaml <<YAML
listen: 127.0.0.1:0
cluster: {kubeconfig: kubeconfig}
workspace: workspace.yaml
state: {backend: local, path: state-dup}
sources:
  - {name: one, url: "file://$ks_tmp/repo", paths: [demo/prod], namespaces: [demo-*]}
  - {name: two, url: "file://$ks_tmp/repo", paths: [demo/prod], namespaces: [demo-*]}
YAML
timeout 30 "$KUSYNC" agent -c dup.yaml >"$ks_tmp/out" 2>"$ks_tmp/err"
rc=$?
if [ $rc -eq 2 ] && grep -Eq 'app demo-prod-[a-z-]+ is also defined by source (one|two)' "$ks_tmp/err"; then
	ks_pass
else
	ks_fail "duplicate apps: exit $rc, want 2: $(tail -5 "$ks_tmp/err")"
fi

# --- the listen address is taken (by devcluster): exit 3
port=${DC_URL##*:}
cat >busy.yaml <<YAML
listen: 127.0.0.1:$port
cluster: {kubeconfig: kubeconfig}
state: {backend: local, path: state-busy}
sources:
  - {name: one, url: "file://$ks_tmp/repo", paths: [demo/prod], namespaces: [demo-*]}
YAML
t_exit_err "listen address in use: exit 3" 3 "listen on 127\.0\.0\.1:$port" \
	timeout 30 "$KUSYNC" agent -c busy.yaml

ks_done
