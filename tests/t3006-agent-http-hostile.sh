#!/bin/bash
# Hostile HTTP clients on the agent's port while it reconciles: a slow
# client dribbling a request, 64 KiB of headers (431), garbage (400), a
# declared 100 MB body (413), a thousand idle connections held open. The
# agent keeps answering and applies a new commit meanwhile.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$KS_SOURCE_DIR/tests/unit/devcluster/devcluster.sh"
. "$KS_SOURCE_DIR/tests/lib/agent.sh"
ks_tmpdir
dc_need_kubectl
ks_on_exit() {
	ag_on_exit
	[ -n "${dc_pid:-}" ] && kill "$dc_pid" 2>/dev/null && wait "$dc_pid" 2>/dev/null
	return 0
}
cd "$ks_tmp" || exit 1
ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
dc_start -q --rollout-delay 100ms || { ks_fail "devcluster"; ks_done; exit 1; }
k() { kubectl --request-timeout=20s "$@"; }
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
sources:
  - name: demo
    url: file://$ks_tmp/repo
    paths: [demo/prod]
    interval: 1s
    namespaces: [demo-prod]
YAML
ag_start agent.yaml || { ks_fail "agent start"; ks_done; exit 1; }
OR=demo-prod-orders
if wait_for 60 app_is $OR "d['release'] is not None and d['release']['phase']=='Succeeded'"; then ks_pass; else ks_fail "first sync"; fi
port=${AG_URL##*:}

cat >hostile.py <<'PY'
import resource, socket, sys, threading, time
port = int(sys.argv[1]); nidle = int(sys.argv[2])
try:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
except Exception:
    pass
passed = failed = 0
def check(name, cond, detail=""):
    global passed, failed
    if cond: passed += 1
    else:
        failed += 1; print("FAIL: %s %s" % (name, str(detail)[:300]))
def healthz():
    t0 = time.time()
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        out = b""
        while True:
            b = s.recv(4096)
            if not b: break
            out += b
        s.close()
        return out.startswith(b"HTTP/1.1 200"), time.time() - t0
    except OSError as e:
        return False, str(e)
def exchange(data):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try: s.sendall(data)
    except OSError: pass
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b: break
            out += b
    except OSError: pass
    s.close()
    return out
# slow client: one byte every 0.2 s on a thread
def slow():
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        for ch in b"GET /healthz HTTP/1.1\r\nHost: x\r\n":
            s.send(bytes([ch])); time.sleep(0.2)
    except OSError: pass
    s.close()
th = threading.Thread(target=slow); th.start()
time.sleep(0.5)
ok, t = healthz()
check("healthz during a slow client", ok and t < 1, t)
out = exchange(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 65536 + b"\r\n\r\n")
check("64 KiB of headers: 431", out.startswith(b"HTTP/1.1 431"), out[:80])
out = exchange(b"\x00\x01garbage\xff\r\n\r\n")
check("garbage: 400", out.startswith(b"HTTP/1.1 400"), out[:80])
out = exchange(b"POST /hooks/demo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n")
check("100 MB declared: 413", out.startswith(b"HTTP/1.1 413"), out[:80])
idle = []
for i in range(nidle):
    try: idle.append(socket.create_connection(("127.0.0.1", port), timeout=5))
    except OSError as e:
        check("open idle connection %d" % i, False, e); break
check("%d idle connections open" % nidle, len(idle) == nidle, len(idle))
time.sleep(0.5)
ok, t = healthz()
check("healthz with the idle connections", ok and t < 2, t)
print("READY", flush=True)
sys.stdin.readline()  # the shell says when to let go
ok, t = healthz()
check("healthz at the end", ok and t < 2, t)
for s in idle: s.close()
th.join()
print("%d passed, %d failed" % (passed, failed), flush=True)
PY
coproc HOSTILE { python3 hostile.py "$port" 1000 2>&1; }
ag_pids+=("$HOSTILE_PID")
line=
while read -r -t 60 line <&"${HOSTILE[0]}"; do
	[ "$line" = READY ] && break
	echo "hostile.py: $line"
done
if [ "$line" = READY ]; then ks_pass; else ks_fail "hostile clients did not get ready"; fi

# while the connections are held: the API answers and a new commit applies
t_status "API while 1000 connections are idle" 200 GET /api/v1/apps/$OR "$ALICE"
sed -i 's/replicas: 2/replicas: 3/' "$ks_tmp/repo/demo/prod/orders.yaml"
ag_commit "$ks_tmp/repo" "three"
rep3() { [ "$(k -n demo-prod get deploy $OR -o jsonpath='{.spec.replicas}')" = 3 ]; }
if wait_for 60 rep3; then ks_pass; else ks_fail "no reconcile under hostile load"; fi
echo go >&"${HOSTILE[1]}"
result=
while read -r -t 60 line <&"${HOSTILE[0]}"; do
	echo "hostile.py: $line"
	case $line in *passed*failed) result=$line ;; esac
done
case $result in
"") ks_fail "hostile.py gave no result" ;;
*" 0 failed") ks_pass ;;
*) ks_fail "hostile.py: $result" ;;
esac
t_status "healthz after" 200 GET /healthz
ag_stop || ks_fail "stop: exit $?"
if grep -q Sanitizer "$ag_log"; then ks_fail "sanitizer: $(grep -A5 Sanitizer "$ag_log" | head)"; else ks_pass; fi
ks_done
