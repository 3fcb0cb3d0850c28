#!/bin/bash
# Hostile HTTP against devcluster: oversized headers and bodies, malformed
# and truncated requests, a never-read watch, a thousand idle connections.
# The server keeps serving and shuts down cleanly (under ASan: no leaks).
set -u
. "$(dirname "$0")/lib/common.sh"
. "$KS_SOURCE_DIR/tests/unit/devcluster/devcluster.sh"
ks_tmpdir
dc_start -q || { ks_fail "start"; ks_done; exit 1; }
hp=${DC_URL#http://}
python3 "$KS_SOURCE_DIR/tests/unit/devcluster/hostile.py" "${hp%:*}" "${hp##*:}" >"$ks_tmp/h.out" 2>&1
rc=$?
grep -v '^[0-9]* passed' "$ks_tmp/h.out" >&2
line=$(tail -1 "$ks_tmp/h.out")
if [ $rc -eq 0 ] && [[ $line =~ ^([0-9]+)\ passed ]]; then
	ks_passed=$((ks_passed + BASH_REMATCH[1]))
else
	ks_fail "hostile: $line"
fi
t "server still running" kill -0 "$dc_pid"
t "clean shutdown on SIGTERM" dc_stop
ks_done
