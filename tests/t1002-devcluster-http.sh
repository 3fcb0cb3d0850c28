#!/bin/bash
# Direct HTTP checks of devcluster: every error path of spec/kube-api.md,
# shapes compared with the captured real responses, paging, selectors,
# dry run, watch (including ERROR 410 from an old resourceVersion after a
# restart from the state file), and faults.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$KS_SOURCE_DIR/tests/unit/devcluster/devcluster.sh"
ks_tmpdir
fixtures=$KS_SOURCE_DIR/../shared/fixtures/kube-observed
if [ ! -d "$fixtures" ]; then
	echo "skipped: no $fixtures"
	ks_done
	exit 0
fi
dc_start -q --state "$ks_tmp/state.json" || { ks_fail "start"; ks_done; exit 1; }
python3 "$KS_SOURCE_DIR/tests/unit/devcluster/http_checks.py" "$DC_URL" \
	"$fixtures" >"$ks_tmp/checks.out" 2>&1
rc=$?
grep '^FAIL' "$ks_tmp/checks.out" >&2
line=$(tail -1 "$ks_tmp/checks.out")
if [ $rc -eq 0 ] && [[ $line =~ ^([0-9]+)\ passed ]]; then
	ks_passed=$((ks_passed + BASH_REMATCH[1]))
else
	ks_fail "http checks: $line"
fi

# restart from the state file: objects survive, old resourceVersions are gone
t "stop writes the state" dc_stop
t "state file is JSON with objects" python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["objects"]) > 5' "$ks_tmp/state.json"
dc_start -q --state "$ks_tmp/state.json" || { ks_fail "restart"; ks_done; exit 1; }
t_out "objects survive a restart" '"name":"c1"' curl -sS "$DC_URL/api/v1/namespaces/t/configmaps/c1"
t_out "resourceVersion keeps growing" '"resourceVersion":"[0-9]{2,}"' curl -sS "$DC_URL/api/v1/namespaces/t/configmaps"
t_out "watch from an old resourceVersion: ERROR 410" '"type":"ERROR".*"reason":"Expired","code":410' \
	curl -sS -m 5 "$DC_URL/api/v1/namespaces/t/configmaps?watch=1&resourceVersion=2"
t_out "the 410 watch is a 200 response" '^200$' \
	curl -sS -m 5 -o /dev/null -w '%{http_code}\n' "$DC_URL/api/v1/namespaces/t/configmaps?watch=1&resourceVersion=2"
t "clean shutdown (no leaks under ASan)" dc_stop
ks_done
