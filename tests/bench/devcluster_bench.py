"""devcluster benchmark (not a test): N objects (default 10000) through
keep-alive connections on loopback; rps of POST, GET, LIST (paged and
whole), server-side apply, and watch fan-out; resident memory per object.

usage: devcluster_bench.py KUSYNC [N] [WATCHERS]"""
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

kusync = sys.argv[1]
N = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
WATCHERS = int(sys.argv[3]) if len(sys.argv) > 3 else 50

tmp = tempfile.mkdtemp()
log = open(os.path.join(tmp, "log"), "w+")
proc = subprocess.Popen([kusync, "devcluster", "-q", "--listen", "127.0.0.1:0"], stderr=log)
url = None
for _ in range(100):
    log.seek(0)
    m = re.search(r"listening on http://([\d.]+):(\d+)", log.read())
    if m:
        host, port = m.group(1), int(m.group(2))
        break
    time.sleep(0.1)
else:
    proc.kill()
    sys.exit("devcluster did not start")


def rss_kb():
    with open("/proc/%d/status" % proc.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def client():
    return http.client.HTTPConnection(host, port, timeout=60)


def call(c, method, path, body=None, ctype="application/json"):
    h = {"Content-Type": ctype} if body is not None else {}
    c.request(method, path, body=json.dumps(body) if body is not None else None, headers=h)
    r = c.getresponse()
    data = r.read()
    if r.status >= 400:
        raise RuntimeError("%s %s: %d %s" % (method, path, r.status, data[:200]))
    return data


def cm(i):
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cm-%05d" % i, "labels": {"app": "bench", "shard": str(i % 10)}},
            "data": {"key": "value-%d" % i, "other": "x" * 64}}


def timed(label, n, fn):
    t0 = time.time()
    fn()
    dt = time.time() - t0
    print("%-34s %7d ops %8.2f s %9.0f ops/s" % (label, n, dt, n / dt if dt else 0))


base = "/api/v1/namespaces/default/configmaps"
rss0 = rss_kb()
c = client()
timed("POST (create)", N, lambda: [call(c, "POST", base, cm(i)) for i in range(N)])
rss1 = rss_kb()
timed("GET", N, lambda: [call(c, "GET", base + "/cm-%05d" % i) for i in range(N)])


def paged():
    tok = None
    pages = 0
    while True:
        q = base + "?limit=500" + ("&continue=" + tok if tok else "")
        d = json.loads(call(c, "GET", q))
        pages += 1
        tok = d["metadata"].get("continue")
        if not tok:
            return pages


timed("LIST limit=500, all pages (x5)", 5, lambda: [paged() for _ in range(5)])
timed("LIST whole (x5)", 5, lambda: [call(c, "GET", base) for _ in range(5)])
timed("LIST labelSelector shard=3 (x20)", 20, lambda: [call(c, "GET", base + "?labelSelector=shard%3D3") for _ in range(20)])
M = min(N, 2000)
timed("SSA apply (update)", M, lambda: [call(c, "PATCH", base + "/cm-%05d?fieldManager=bench&force=true" % i,
                                              {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm-%05d" % i},
                                               "data": {"key": "applied-%d" % i}}, "application/apply-patch+yaml")
                                         for i in range(M)])

# watch fan-out: WATCHERS streams, W writes, every watcher must see every event
W = 500
counts = [0] * WATCHERS
ready = threading.Barrier(WATCHERS + 1)


def watcher(k):
    s = socket.create_connection((host, port), timeout=60)
    rv = json.loads(call(client(), "GET", base + "?limit=1"))["metadata"]["resourceVersion"]
    s.sendall(("GET %s?watch=1&resourceVersion=%s&labelSelector=w%%3D1 HTTP/1.1\r\nHost: x\r\n\r\n" % (base, rv)).encode())
    ready.wait()
    buf = b""
    while counts[k] < W:
        b = s.recv(1 << 16)
        if not b:
            break
        buf += b
        counts[k] = buf.count(b'"type":"ADDED"')
    s.close()


threads = [threading.Thread(target=watcher, args=(k,)) for k in range(WATCHERS)]
for th in threads:
    th.start()
ready.wait()
time.sleep(0.2)
t0 = time.time()
for i in range(W):
    o = cm(N + i)
    o["metadata"]["labels"]["w"] = "1"
    call(c, "POST", base, o)
for th in threads:
    th.join(60)
dt = time.time() - t0
print("%-34s %7d events delivered in %.2f s (%.0f events/s), %d of %d watchers saw all" %
      ("watch fan-out (%d watchers)" % WATCHERS, sum(counts), dt, sum(counts) / dt, sum(1 for x in counts if x >= W), WATCHERS))
rss2 = rss_kb()
print("memory: RSS %d KiB empty, %d KiB with %d objects: %.1f KiB per object (%d KiB at the end)" %
      (rss0, rss1, N, (rss1 - rss0) / N, rss2))
proc.terminate()
proc.wait(10)
