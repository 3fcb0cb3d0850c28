#!/bin/bash
# The command line itself: help on every command, version, usage errors
# with exit code 2 and nothing on stdout.
set -u
. "$(dirname "$0")/lib/common.sh"
ks_tmpdir

expect() { # expect NAME WANT_RC STDOUT_REGEX|- STDERR_REGEX|- -- ARGS...
	name=$1 want=$2 outre=$3 errre=$4
	shift 5
	"$KUSYNC" "$@" >"$ks_tmp/out" 2>"$ks_tmp/err"
	rc=$?
	if [ $rc -ne "$want" ]; then
		ks_fail "$name: exit $rc, want $want"; return
	fi
	if [ "$outre" = "-" ]; then
		[ -s "$ks_tmp/out" ] && { ks_fail "$name: stdout not empty"; return; }
	elif ! grep -Eq -- "$outre" "$ks_tmp/out"; then
		ks_fail "$name: stdout lacks /$outre/"; return
	fi
	if [ "$errre" != "-" ] && ! grep -Eq -- "$errre" "$ks_tmp/err"; then
		ks_fail "$name: stderr lacks /$errre/"; return
	fi
	ks_pass
}

expect "version" 0 '^kusync [0-9]+\.[0-9]+\.[0-9]+$' - -- version
expect "--version" 0 '^kusync [0-9]' - -- --version
expect "help lists render" 0 '^  render ' - -- help
expect "--help" 0 'usage: kusync' - -- --help
expect "no command" 2 - 'usage: kusync' --
expect "unknown command" 2 - 'unknown command "frobnicate"' -- frobnicate
expect "help render" 0 'usage: kusync render' - -- help render
expect "help unknown" 2 - 'unknown command' -- help nope
expect "render --help" 0 '-o, --output' - -- render --help
expect "render -h" 0 'usage: kusync render' - -- render -h
expect "version --help" 0 'usage: kusync version' - -- version --help
expect "render without stacks" 2 - 'no stack folder' -- render
expect "render bad format" 2 - 'unknown output format "xml"' -- render -o xml x
expect "render flag without value" 2 - 'needs a value' -- render -o
expect "render unknown flag" 2 - 'unknown flag --frob' -- render --frob x
for cmd in $("$KUSYNC" help | awk '/^  [a-z]/ {print $1}'); do
	expect "$cmd --help" 0 "usage: kusync $cmd" - -- "$cmd" --help
done
ks_done
