# Shell helpers for the pipeline's integration scripts (tests/t4NNN-*.sh),
# sourced after tests/lib/common.sh, tests/unit/devcluster/devcluster.sh,
# tests/lib/agent.sh and ks_tmpdir.

# pl_project DIR: a git repository (branch main) with the project "t4"
# (project.yaml only); stacks are added with pl_stack.
pl_project() {
	mkdir -p "$1/t4"
	git -C "$1" init -q -b main
	printf 'name: t4\n' >"$1/t4/project.yaml"
}

# pl_stack DIR STACK: the stack folder t4/STACK (its AppConfigurations are
# written by the script into $1/t4/$2/apps.yaml).
pl_stack() {
	mkdir -p "$1/t4/$2"
	printf 'name: %s\n' "$2" >"$1/t4/$2/stack.yaml"
}

# pl_service NAME IMAGE [EXTRA...]: the YAML of a small Service app that
# passes release-strategy-check (2 replicas, a readiness probe, a pinned
# image); EXTRA lines (already indented by two spaces) are appended.
pl_service() {
	local name=$1 image=$2
	shift 2
	cat <<YAML
$name:
  workload:
    replicas: 2
    containers:
      main:
        image: $image
        readinessProbe:
          probeHandler:
            _type: Http
            url: http://localhost:8080/healthz
    ports:
      - port: 8080
YAML
	local l
	for l in "$@"; do printf '%s\n' "$l"; done
}

# rel APP PYEXPR: PYEXPR over the app's latest release (bound to r; None
# when it has none) is true.
rel() {
	app_is "$1" "(lambda r: bool($2))(d.get('release'))"
}

# rel_is APP NUMBER PHASE: the latest release is NUMBER in PHASE.
rel_is() {
	rel "$1" "r is not None and r['number']==$2 and r['phase']=='$3'"
}

# releases APP: GET /api/v1/apps/APP/releases into $ks_tmp/releases.json.
releases() {
	api GET "/api/v1/apps/$1/releases" "$ALICE" >/dev/null
	cp "$ks_tmp/body" "$ks_tmp/releases.json"
}

# t_rel NAME APP SECONDS PYEXPR: waits up to SECONDS for PYEXPR (over the
# latest release r) to hold.
t_rel() {
	local name=$1 app=$2 secs=$3 expr=$4
	if wait_for "$secs" rel "$app" "$expr"; then
		ks_pass
	else
		ks_fail "$name: $(app_field "$app" "d.get('release')" 2>&1 | head -c 900)"
	fi
}

# gh_hook SOURCE EVENT DELIVERY JSON: a signed GitHub delivery to SOURCE
# (secret in $ks_tmp/hook.secret); prints the HTTP status, the answer in
# $ks_tmp/body.
gh_hook() {
	printf '%s' "$4" >"$ks_tmp/hook.json"
	local sig
	sig=$(sign_hmac "$(cat "$ks_tmp/hook.secret")" "$ks_tmp/hook.json")
	curl -s -o "$ks_tmp/body" -w '%{http_code}' -X POST --max-time 20 \
		--data-binary @"$ks_tmp/hook.json" \
		-H 'Content-Type: application/json' \
		-H "X-GitHub-Event: $2" -H "X-GitHub-Delivery: $3" \
		-H "X-Hub-Signature-256: sha256=$sig" "$AG_URL/hooks/$1"
}

# gl_hook SOURCE UUID JSON: a GitLab merge-request delivery.
gl_hook() {
	printf '%s' "$3" >"$ks_tmp/hook.json"
	curl -s -o "$ks_tmp/body" -w '%{http_code}' -X POST --max-time 20 \
		--data-binary @"$ks_tmp/hook.json" \
		-H 'Content-Type: application/json' \
		-H 'X-Gitlab-Event: Merge Request Hook' \
		-H "X-Gitlab-Event-UUID: $2" \
		-H "X-Gitlab-Token: $(cat "$ks_tmp/hook.secret")" \
		"$AG_URL/hooks/$1"
}

# t_sanitizer: the agent logs (every *.log of agents in $ks_tmp) hold no
# sanitizer report.
t_sanitizer() {
	if grep -l 'Sanitizer\|runtime error:' "$ks_tmp"/agent*.log >/dev/null 2>&1; then
		ks_fail "sanitizer: $(grep -h -A8 'Sanitizer\|runtime error:' "$ks_tmp"/agent*.log | head -20)"
	else
		ks_pass
	fi
}

# t_releases NAME APP PYEXPR: PYEXPR over APP's releases (newest first,
# bound to rs) holds; a failure shows number, phase and commit of each.
t_releases() {
	local name=$1 app=$2 expr=$3
	releases "$app"
	local got
	got=$(jget "$ks_tmp/releases.json" "(lambda rs: bool($expr))(d['releases'])" 2>&1)
	if [ "$got" = true ]; then
		ks_pass
	else
		ks_fail "$name: $(jget "$ks_tmp/releases.json" "[(r['number'],r['phase'],r['commit'][:8],r.get('message')) for r in d['releases']]" 2>&1 | head -c 900)"
	fi
}

# pl_keep: with T4_KEEP=DIR set, copies the scratch folder (logs, state)
# there before it is removed (for debugging; call it from ks_on_exit).
pl_keep() {
	if [ -n "${T4_KEEP:-}" ]; then
		rm -rf "$T4_KEEP"
		cp -r "$ks_tmp" "$T4_KEEP" 2>/dev/null
	fi
	return 0
}

# rel_np APP: "NUMBER PHASE" of APP's latest release (curl and jq only: fast
# enough to catch a phase of a few seconds on a loaded machine).
rel_np() {
	curl -s --max-time 10 -H "Authorization: Bearer $ALICE" \
		"$AG_URL/api/v1/apps/$1" |
		jq -r 'if .release then "\(.release.number) \(.release.phase)" else "-" end' 2>/dev/null
}

# wait_np SECONDS APP NUMBER PHASE: waits until APP's latest release is
# NUMBER in PHASE; passes or fails (with what it saw).
wait_np() {
	local secs=$1 app=$2 want="$3 $4" got=
	local end=$((SECONDS + secs))
	while [ $SECONDS -le $end ]; do
		got=$(rel_np "$app")
		[ "$got" = "$want" ] && { ks_pass; return 0; }
		sleep 0.1
	done
	ks_fail "$app: release \"$got\", want \"$want\" within $secs s"
	return 1
}
