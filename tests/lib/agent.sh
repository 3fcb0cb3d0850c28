# Shell helpers for the agent's integration scripts (tests/t3NNN-*.sh),
# sourced after tests/lib/common.sh, tests/unit/devcluster/devcluster.sh and
# ks_tmpdir. Everything started here is stopped by ag_on_exit, which the
# scripts call from their ks_on_exit.

GIT_ID=(-c user.email=test@example.com -c user.name=test -c commit.gpgsign=false)
ag_pids=()

# ag_repo DIR: a git repository (branch main) holding examples/demo and
# the workspace, one commit.
ag_repo() {
	local dir=$1
	mkdir -p "$dir"
	git -C "$dir" init -q -b main
	cp -r "$KS_SOURCE_DIR/examples/demo" "$dir/"
	git -C "$dir" add -A
	git -C "$dir" "${GIT_ID[@]}" commit -qm "first"
}

# ag_commit DIR MESSAGE: commits everything in DIR.
ag_commit() {
	git -C "$1" add -A
	git -C "$1" "${GIT_ID[@]}" commit -qm "$2"
}

# ag_head DIR: the commit id of main.
ag_head() {
	git -C "$1" rev-parse refs/heads/main
}

# ag_git_daemon BASE: serves the repositories under BASE with git daemon
# on a free port; sets GIT_PORT and git_daemon_pid.
ag_git_daemon() {
	GIT_PORT=${GIT_PORT:-$(ks_free_port)}
	# git-daemon itself, not the `git daemon` wrapper: the wrapper runs it
	# as a child, and killing the wrapper would leave the daemon behind
	"$(git --exec-path)/git-daemon" --reuseaddr --export-all --base-path="$1" \
		--listen=127.0.0.1 --port="$GIT_PORT" "$1" \
		>"$ks_tmp/git-daemon.log" 2>&1 &
	git_daemon_pid=$!
	ag_pids+=("$git_daemon_pid")
	local end=$((SECONDS + 30))
	while [ $SECONDS -le $end ]; do
		if (exec 3<>"/dev/tcp/127.0.0.1/$GIT_PORT") 2>/dev/null; then
			return 0
		fi
		kill -0 "$git_daemon_pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "git daemon did not start" >&2
	return 1
}

ag_git_daemon_stop() {
	[ -n "${git_daemon_pid:-}" ] || return 0
	kill "$git_daemon_pid" 2>/dev/null
	wait "$git_daemon_pid" 2>/dev/null
	git_daemon_pid=
}

# ag_secrets: token files (alice approver, bob viewer, carol admin) and a
# webhook secret (GitHub's test vector secret) in $ks_tmp.
ag_secrets() {
	printf 'alice-token-0123456789' >"$ks_tmp/alice.token"
	printf 'bob-token-0123456789' >"$ks_tmp/bob.token"
	printf 'carol-token-0123456789' >"$ks_tmp/carol.token"
	printf "It's a Secret to Everybody" >"$ks_tmp/hook.secret"
	ALICE=alice-token-0123456789
	BOB=bob-token-0123456789
	CAROL=carol-token-0123456789
}

# ag_start CONFIG [NAME]: starts the agent (log in $ks_tmp/NAME.log, NAME
# default "agent"), waits for it to listen; sets AG_URL and ag_pid.
ag_start() {
	local cfg=$1 name=${2:-agent}
	ag_log=$ks_tmp/$name.log
	: >"$ag_log"
	"$KUSYNC" agent -c "$cfg" --log-level debug 2>"$ag_log" &
	ag_pid=$!
	ag_pids+=("$ag_pid")
	AG_URL=
	local port end=$((SECONDS + 60))
	while [ $SECONDS -le $end ]; do
		port=$(sed -n 's/.*agent: listening on .* port \([0-9]*\)$/\1/p' "$ag_log" | head -1)
		if [ -n "$port" ]; then
			AG_URL=http://127.0.0.1:$port
			return 0
		fi
		kill -0 "$ag_pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "agent did not start:" >&2
	cat "$ag_log" >&2
	return 1
}

# ag_stop [PID]: SIGTERM, waits; returns the exit status. Sets AG_STOP_MS
# to how long it took.
ag_stop() {
	local pid=${1:-$ag_pid}
	local t0
	t0=$(date +%s%N)
	kill -TERM "$pid" 2>/dev/null
	wait "$pid"
	local rc=$?
	AG_STOP_MS=$((($(date +%s%N) - t0) / 1000000))
	return $rc
}

ag_on_exit() {
	local p
	for p in "${ag_pids[@]}"; do
		kill -9 "$p" 2>/dev/null
	done
	for p in "${ag_pids[@]}"; do
		wait "$p" 2>/dev/null
	done
}

# api METHOD PATH [TOKEN] [BODY]: the HTTP status on stdout; the body in
# $ks_tmp/body.
api() {
	local method=$1 path=$2 token=${3:-} body=${4:-}
	local args=(-s -o "$ks_tmp/body" -w '%{http_code}' -X "$method" --max-time 20)
	[ -n "$token" ] && args+=(-H "Authorization: Bearer $token")
	[ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
	curl "${args[@]}" "$AG_URL$path"
}

# t_status NAME WANT METHOD PATH [TOKEN] [BODY]: the request answers WANT.
t_status() {
	local name=$1 want=$2
	shift 2
	local got
	got=$(api "$@")
	if [ "$got" = "$want" ]; then
		ks_pass
	else
		ks_fail "$name: HTTP $got, want $want: $(head -c 400 "$ks_tmp/body")"
	fi
}

# wait_for SECONDS CMD...: retries CMD every 0.1 s until it succeeds.
wait_for() {
	local secs=$1
	shift
	local end=$((SECONDS + secs))
	while [ $SECONDS -le $end ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# app_field APP PYEXPR [TOKEN]: evaluates PYEXPR over GET /api/v1/apps/APP
# (bound to d).
app_field() {
	local tok=${3:-$ALICE}
	[ "$(api GET "/api/v1/apps/$1" "$tok")" = 200 ] || return 1
	jget "$ks_tmp/body" "$2"
}

# app_is APP PYEXPR: true when the expression holds for the app view.
app_is() {
	[ "$(app_field "$1" "$2")" = "true" ]
}

# sign_github SECRET FILE: the X-Hub-Signature-256 value of FILE's bytes.
sign_hmac() {
	openssl dgst -sha256 -hmac "$1" -r "$2" | cut -d' ' -f1
}
