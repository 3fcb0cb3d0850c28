# Shared helpers for the integration scripts (sourced).
# KUSYNC, KS_SOURCE_DIR and KS_BUILD_DIR come from CTest; defaults allow
# running a script by hand from the source tree.
: "${KS_SOURCE_DIR:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${KS_BUILD_DIR:=$KS_SOURCE_DIR/build}"
: "${KUSYNC:=$KS_BUILD_DIR/kusync}"

# The scripts run python3 often (jget, t_json, polls). Where python3 is a
# version manager's shim (pyenv: a bash script that re-execs itself), each
# call costs ~0.8 s of CPU instead of ~0.1 s; put the interpreter it
# resolves to first on PATH (same interpreter, same modules).
if [ -z "${KS_PYTHON_DIR:-}" ]; then
	case "$(command -v python3 2>/dev/null)" in
	*/shims/python3)
		KS_PYTHON_DIR=$(dirname "$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)") || KS_PYTHON_DIR=
		;;
	*) KS_PYTHON_DIR= ;;
	esac
	if [ -n "$KS_PYTHON_DIR" ] && [ -x "$KS_PYTHON_DIR/python3" ]; then
		PATH=$KS_PYTHON_DIR:$PATH
	fi
	export KS_PYTHON_DIR=${KS_PYTHON_DIR:-none} PATH
fi

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
