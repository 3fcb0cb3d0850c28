#!/bin/bash
# Random requests against devcluster (odd methods, paths, content types and
# bodies of the wrong shape): every one gets an HTTP answer, the server
# survives, and it shuts down cleanly (no leaks under ASan).
set -u
. "$(dirname "$0")/lib/common.sh"
. "$KS_SOURCE_DIR/tests/unit/devcluster/devcluster.sh"
ks_tmpdir
dc_start -q || { ks_fail "start"; ks_done; exit 1; }
hp=${DC_URL#http://}
for seed in 1 2; do
	if python3 "$KS_SOURCE_DIR/tests/unit/devcluster/random_requests.py" "${hp%:*}" "${hp##*:}" 1500 "$seed" >"$ks_tmp/r.out" 2>&1; then
		ks_pass
	else
		ks_fail "seed $seed: $(tail -3 "$ks_tmp/r.out")"
	fi
done
t "server still running" kill -0 "$dc_pid"
t "clean shutdown (no leaks under ASan)" dc_stop
ks_done
