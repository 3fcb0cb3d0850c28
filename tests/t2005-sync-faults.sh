#!/bin/bash
# kusync apply against a flaky API server: devcluster injects 500s at a
# rate, 429s with Retry-After, latency and dropped connections. Apply must
# converge, say how many requests it retried, and leave nothing to do.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$KS_SOURCE_DIR/tests/unit/devcluster/devcluster.sh"
ks_tmpdir
dc_need_kubectl
dc_start -q --rollout-delay 100ms \
	--fault 'verb=patch,error=500,rate=0.3' \
	--fault 'verb=get,error=429,retry-after=1,count=3' \
	--fault 'verb=list,latency=200ms' \
	--fault 'resource=services,drop=1,count=2' ||
	{ ks_fail "start"; ks_done; exit 1; }
WS=$KS_SOURCE_DIR/examples/workspace.yaml
STACK=$KS_SOURCE_DIR/examples/demo/prod

"$KUSYNC" apply -w "$WS" "$STACK" >"$ks_tmp/out" 2>"$ks_tmp/err"
rc=$?
if [ $rc -eq 0 ]; then ks_pass; else ks_fail "apply under faults: exit $rc: $(head -c 600 "$ks_tmp/err")"; fi
if grep -Eq '^apply: [0-9]+ created, 0 updated, 0 deleted, 0 unchanged$' "$ks_tmp/out"; then
	ks_pass
else
	ks_fail "apply summary: $(tail -3 "$ks_tmp/out")"
fi
n=$(sed -n 's/^apply: \([0-9]*\) requests\{0,1\} retried.*/\1/p' "$ks_tmp/out")
if [ -n "$n" ] && [ "$n" -ge 3 ]; then
	ks_pass
else
	ks_fail "apply does not report its retries (want >= 3): $(cat "$ks_tmp/out" | tail -3)"
fi

# With the faults gone, nothing is left to do and nothing drifted.
curl -fsS -X DELETE "$DC_URL/_devcluster/faults" >/dev/null || ks_fail "clear faults"
"$KUSYNC" preview -w "$WS" "$STACK" >"$ks_tmp/out" 2>&1
rc=$?
if [ $rc -eq 0 ] && grep -q '^no changes' "$ks_tmp/out"; then ks_pass; else ks_fail "preview after faulty apply: exit $rc: $(tail -5 "$ks_tmp/out")"; fi
"$KUSYNC" drift -w "$WS" "$STACK" >"$ks_tmp/out" 2>&1
rc=$?
if [ $rc -eq 0 ] && grep -q '^no drift$' "$ks_tmp/out"; then ks_pass; else ks_fail "drift after faulty apply: exit $rc: $(tail -5 "$ks_tmp/out")"; fi

# A run without faults reports no retries.
"$KUSYNC" apply -w "$WS" "$STACK" >"$ks_tmp/out" 2>&1
if grep -q 'retried' "$ks_tmp/out"; then ks_fail "retries reported without faults"; else ks_pass; fi
ks_done
