"""Hostile HTTP clients against a running devcluster (run by
tests/t1005-devcluster-hostile.sh as hostile.py HOST PORT). Every check
ends with the server still answering a normal request. Prints
"N passed, N failed"."""
import socket
import sys
import time

HOST, PORT = sys.argv[1], int(sys.argv[2])
passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL: %s %s" % (name, str(detail)[:300]))


def conn():
    s = socket.create_connection((HOST, PORT), timeout=10)
    return s


def exchange(data, read_all=True):
    s = conn()
    try:
        s.sendall(data)
    except OSError:
        pass
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
            if not read_all and b"\r\n\r\n" in out:
                break
    except OSError:
        pass
    s.close()
    return out


def healthy(name):
    out = exchange(b"GET /version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    check("still serving after " + name, out.startswith(b"HTTP/1.1 200") and b"v1.30.0" in out, out[:200])


out = exchange(b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
check("oversized header: 431 and close", out.startswith(b"HTTP/1.1 431") and b"Connection: close" in out, out[:100])
healthy("an oversized header")

out = exchange(b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(500)) + b"\r\n")
check("too many headers: 431", out.startswith(b"HTTP/1.1 431"), out[:100])

out = exchange(b"POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nContent-Length: 100000000\r\n"
               b"Content-Type: application/json\r\n\r\n" + b"x" * 1000)
check("oversized body (declared): 413", out.startswith(b"HTTP/1.1 413"), out[:100])
s = conn()
s.sendall(b"POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
          b"Content-Type: application/json\r\n\r\n")
sent = 0
try:
    while sent < 20 << 20:
        s.sendall(b"100000\r\n" + b"z" * 0x100000 + b"\r\n")
        sent += 0x100000
except OSError:
    pass
out = b""
try:
    out = s.recv(4096)
except OSError:
    pass
s.close()
check("oversized chunked body: 413 or cut off", out.startswith(b"HTTP/1.1 413") or out == b"", out[:100])
healthy("an oversized body")

for bad in [b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\nHost x\r\n\r\n", b"\x00\x01\x02\x03\r\n\r\n", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"]:
    out = exchange(bad)
    check("malformed %r: 400" % bad[:20], out.startswith(b"HTTP/1.1 400"), out[:100])
healthy("malformed requests")
out = exchange(b"GET / HTTP/9.9\r\n\r\n")
check("unknown HTTP version: 505", out.startswith(b"HTTP/1.1 505"), out[:100])

# truncated requests: the client goes away mid-request
for part in [b"GET /api/v1/namespaces HTTP/1.1\r\nHo", b"POST /api/v1/namespaces HTTP/1.1\r\nContent-Length: 50\r\n\r\n{\"a\":"]:
    s = conn()
    s.sendall(part)
    s.close()
healthy("truncated requests")

# a client that starts a watch and never reads
s = conn()
s.sendall(b"GET /api/v1/configmaps?watch=1 HTTP/1.1\r\nHost: x\r\n\r\n")
time.sleep(0.1)
healthy("a watch that is never read")
s.close()

# a thousand idle connections, some with half a request
idle = []
try:
    for i in range(1000):
        c = conn()
        if i % 3 == 0:
            c.sendall(b"GET /api/v1/namespaces HTTP/1.1\r\n")
        idle.append(c)
except OSError as e:
    check("opening 1000 idle connections", False, e)
t0 = time.time()
healthy("1000 idle connections")
check("answered quickly despite the idle connections", time.time() - t0 < 2, time.time() - t0)
for c in idle:
    c.close()
time.sleep(0.2)
healthy("closing the idle connections")

# keep-alive: many requests on one connection
s = conn()
s.sendall(b"".join(b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n" for _ in range(50)))
data = b""
s.settimeout(5)
while data.count(b"HTTP/1.1 200") < 50:
    b = s.recv(65536)
    if not b:
        break
    data += b
s.close()
check("50 pipelined requests on one connection", data.count(b"HTTP/1.1 200") == 50, data.count(b"HTTP/1.1 200"))

print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
