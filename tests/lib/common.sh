# Shared helpers for the integration scripts (sourced).
# KUSYNC, KS_SOURCE_DIR and KS_BUILD_DIR come from CTest; defaults allow
# running a script by hand from the source tree.
: "${KS_SOURCE_DIR:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${KS_BUILD_DIR:=$KS_SOURCE_DIR/build}"
: "${KUSYNC:=$KS_BUILD_DIR/kusync}"

ks_passed=0
ks_failed=0

ks_tmpdir() {
	ks_tmp=$(mktemp -d "${TMPDIR:-/tmp}/kusync-test.XXXXXX")
	trap 'ks_cleanup' EXIT
	trap 'exit 130' INT TERM
}

# Scripts may define ks_on_exit to stop what they started.
ks_cleanup() {
	if command -v ks_on_exit >/dev/null 2>&1; then ks_on_exit || true; fi
	[ -n "${ks_tmp:-}" ] && rm -rf "$ks_tmp"
}

ks_pass() {
	ks_passed=$((ks_passed + 1))
}

ks_fail() {
	ks_failed=$((ks_failed + 1))
	echo "FAIL: $*" >&2
}

# Prints the closing line CI reads and exits non-zero on failures.
ks_done() {
	echo "$ks_passed passed, $ks_failed failed"
	[ "$ks_failed" -eq 0 ]
}

# A free TCP port on loopback.
ks_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
