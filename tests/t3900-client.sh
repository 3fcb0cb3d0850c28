#!/bin/bash
# The client commands (status, approve, rollback, sync, suspend, resume)
# against a real agent: the table and the one-app view, exit codes for
# refusals (2), bad or low tokens and an unreachable agent (3), a failed
# release (1), token from the environment, a flag or a file, and the token
# never printed.
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
sources:
  - name: demo
    url: file://$ks_tmp/repo
    paths: [demo/prod]
    interval: 1s
    namespaces: [demo-prod]
YAML
ag_start agent.yaml || { ks_fail "agent start"; ks_done; exit 1; }
export KUSYNC_SERVER=$AG_URL
export KUSYNC_TOKEN=$BOB
HW=demo-prod-helloworld
OR=demo-prod-orders
COMMIT=$(ag_head "$ks_tmp/repo")

# no_token_printed: neither token appears in the last output
no_token_printed() {
	if grep -q -e "$ALICE" -e "$BOB" "$ks_tmp/out" "$ks_tmp/err" 2>/dev/null; then
		ks_fail "$1: a token was printed"
	else
		ks_pass
	fi
}

# helloworld waits for approval (manualApprove), the others go through
hw_awaits() { "$KUSYNC" status "$HW" | grep -q '^release: *1 (AwaitingApproval'; }
or_done() { "$KUSYNC" status "$OR" | grep -q '^release: *1 (Succeeded'; }
if wait_for 60 hw_awaits && wait_for 60 or_done; then ks_pass; else ks_fail "apps never settled: $("$KUSYNC" status 2>&1)"; fi

# --- status: the table
t_exit "status: table header" 0 \
	'^NAME +SOURCE +COMMIT +RELEASE +PHASE +HEALTH +DRIFT +SUSPENDED$' \
	"$KUSYNC" status
t_exit "status: helloworld row" 0 \
	"^$HW +demo +${COMMIT:0:7} +1 +AwaitingApproval " "$KUSYNC" status
t_exit "status: orders row" 0 \
	"^$OR +demo +${COMMIT:0:7} +1 +Succeeded +Healthy +0 +no$" "$KUSYNC" status
no_token_printed "status"
t_exit "status -o json is the agent's list" 0 '"apps": \[' "$KUSYNC" status -o json
if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["apps"]) == 4' "$ks_tmp/out"; then
	ks_pass
else
	ks_fail "status -o json: $(head -c 300 "$ks_tmp/out")"
fi

# --- status APP
t_exit "status APP: release and cells" 0 '^  cell ZoneA/' "$KUSYNC" status "$HW"
t_exit "status APP: preview summary" 0 '^preview: +[0-9]+ to create, [0-9]+ to update, 0 to delete' \
	"$KUSYNC" status "$HW"
t_exit "status APP: history" 0 "^  1 +AwaitingApproval +${COMMIT:0:7}  " "$KUSYNC" status "$HW"
t_exit_err "status of an unknown app: 2" 2 '^kusync: .*nope' "$KUSYNC" status nope

# --- tokens
t_exit_err "no token: 3" 3 '\(401\)' env -u KUSYNC_TOKEN "$KUSYNC" status
t_exit_err "wrong token: 3" 3 '\(401\)' "$KUSYNC" status --token wrong-token
printf '%s\n' "$ALICE" >"$ks_tmp/tokfile"
t_exit "token from a file" 0 "^$OR " env -u KUSYNC_TOKEN "$KUSYNC" status --token-file "$ks_tmp/tokfile"
t_exit_err "unreachable agent: 3" 3 '^kusync: cannot reach the agent at http://127.0.0.1:1' \
	"$KUSYNC" status --server http://127.0.0.1:1 --timeout 5s
no_token_printed "unreachable"

# --- approve
t_exit_err "viewer cannot approve: 3" 3 '\(403\)' "$KUSYNC" approve "$HW" 1
t_exit_err "bad revision: 2 without asking" 2 'neither a commit id' \
	"$KUSYNC" approve "$HW" xyz --token "$ALICE"
t_exit_err "nothing awaits that release: 2" 2 '^kusync: ' \
	"$KUSYNC" approve "$HW" 99 --token "$ALICE"
t_exit "approve by commit prefix" 0 "^approved $HW: release 1 " \
	"$KUSYNC" approve "$HW" "${COMMIT:0:7}" --token "$ALICE" --comment "via the cli"
no_token_printed "approve"
hw_done() { "$KUSYNC" status "$HW" | grep -q '^release: *1 (Succeeded'; }
if wait_for 60 hw_done; then ks_pass; else ks_fail "helloworld never Succeeded: $("$KUSYNC" status "$HW" 2>&1)"; fi
t_exit "the approval is shown" 0 '^approved: +by alice via api at ' "$KUSYNC" status "$HW"
t_exit_err "approving again: 2" 2 '^kusync: ' "$KUSYNC" approve "$HW" 1 --token "$ALICE"

# --- suspend, resume, sync
t_exit "suspend" 0 "^suspended $OR$" "$KUSYNC" suspend "$OR" --token "$ALICE"
t_exit "status shows it suspended" 0 "^$OR .* yes$" "$KUSYNC" status
t_exit "resume" 0 "^resumed $OR$" "$KUSYNC" resume "$OR" --token "$ALICE"
t_exit "status shows it resumed" 0 "^$OR .* no$" "$KUSYNC" status
t_exit "sync" 0 "^sync requested for $OR$" "$KUSYNC" sync "$OR" --token "$ALICE"
t_exit_err "sync as viewer: 3" 3 '\(403\)' "$KUSYNC" sync "$OR"
t_exit_err "sync of an unknown app: 2" 2 '^kusync: ' "$KUSYNC" sync nope --token "$ALICE"

# --- rollback
t_exit_err "rollback to a release that does not exist: 2" 2 '^kusync: ' \
	"$KUSYNC" rollback "$HW" 42 --token "$ALICE"
t_exit_err "rollback RELEASE must be a number: 2" 2 'is not a release number' \
	"$KUSYNC" rollback "$HW" latest --token "$ALICE"

# --- usage
t_exit_err "approve needs a revision: 2" 2 'missing APP and REVISION' "$KUSYNC" approve "$HW"
t_exit_err "unknown flag: 2" 2 'unknown flag --frob' "$KUSYNC" status --frob
t_exit "help" 0 '^usage: kusync approve' "$KUSYNC" approve --help

ks_done
