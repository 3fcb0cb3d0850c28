#!/usr/bin/env python3
"""The agent's benchmark (issue 6; not part of the tests).

usage: agent_bench.py KUSYNC [push|steady|drift]... (default: all three)

push    A webhook for a one-app commit on a local repository, 100 times:
        from sending the webhook to the first PATCH devcluster logs.
        Goal: p50 < 50 ms, p99 < 200 ms.
steady  1,000 apps from 100 sources polled every 60 s, nothing changing:
        the agent's CPU share and RSS over KS_BENCH_STEADY_SECONDS (default
        300) after the first sync. Goal: < 2% of a core, < 100 MB.
        KS_BENCH_STEADY_SOURCES (default 100) sets fewer sources of 10
        apps each for quick iterations.
drift   A PATCH of spec.replicas at devcluster to the drift report showing
        it, 100 times. Goal: p99 < 1 s.

Every figure is printed with the baseline it is read against: for push, the
time of a bare PATCH round trip to the same devcluster; for drift, the same.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import hmac
import hashlib

KUSYNC = os.path.abspath(sys.argv[1])
WHAT = sys.argv[2:] or ["push", "steady", "drift"]
TOKEN = "bench-token"
SECRET = "bench-secret"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def git(cwd, *args):
    subprocess.run(["git", "-C", cwd, "-c", "user.name=b",
                    "-c", "user.email=b@example.com"] + list(args),
                   check=True, stdout=subprocess.DEVNULL)


class Env:
    def __init__(self, rollout="0s"):
        self.tmp = tempfile.mkdtemp(prefix="kusync-agent-bench.")
        self.procs = []
        self.dclog = os.path.join(self.tmp, "devcluster.log")
        self.kubeconfig = os.path.join(self.tmp, "kubeconfig")
        with open(self.dclog, "w") as log:
            p = subprocess.Popen([KUSYNC, "devcluster", "--listen",
                                  "127.0.0.1:0", "--rollout-delay", rollout,
                                  "--kubeconfig-out", self.kubeconfig],
                                 stderr=log)
        self.procs.append(p)
        self.dc = None
        for _ in range(100):
            for line in open(self.dclog):
                if "listening on " in line:
                    self.dc = line.split("listening on ")[1].strip()
            if self.dc:
                break
            time.sleep(0.05)
        assert self.dc, "devcluster did not start"
        with open(os.path.join(self.tmp, "t.token"), "w") as f:
            f.write(TOKEN + "\n")
        with open(os.path.join(self.tmp, "h.secret"), "w") as f:
            f.write(SECRET + "\n")
        self.port = free_port()
        self.api = "http://127.0.0.1:%d" % self.port

    def repo(self, name, files):
        """A bare repository NAME.git with FILES {path: text}, committed
        from a work tree kept at NAME.work."""
        work = os.path.join(self.tmp, name + ".work")
        bare = os.path.join(self.tmp, name + ".git")
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", bare],
                       check=True)
        subprocess.run(["git", "init", "-q", "-b", "main", work], check=True)
        for path, text in files.items():
            full = os.path.join(work, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w") as f:
                f.write(text)
        git(work, "add", "-A")
        git(work, "commit", "-q", "-m", "first")
        git(work, "push", "-q", bare, "main")
        return work, bare

    def agent(self, sources, extra=""):
        cfg = os.path.join(self.tmp, "agent.yaml")
        with open(cfg, "w") as f:
            f.write("listen: 127.0.0.1:%d\n" % self.port)
            f.write("cluster: {kubeconfig: kubeconfig, qps: 2000, "
                    "burst: 4000}\n")
            f.write("state: {backend: local, path: state}\n")
            f.write("auth:\n  tokens:\n    - {name: bench, tokenFile: "
                    "t.token, role: admin}\n")
            f.write(extra)
            f.write("sources:\n" + sources)
        self.agentlog = open(os.path.join(self.tmp, "agent.log"), "w")
        p = subprocess.Popen([KUSYNC, "agent", "-c", cfg],
                             stderr=self.agentlog)
        self.procs.append(p)
        self.agent_proc = p
        for _ in range(200):
            try:
                urllib.request.urlopen(self.api + "/healthz", timeout=1)
                return p
            except Exception:
                time.sleep(0.05)
        raise SystemExit("agent did not start; see " + self.agentlog.name)

    def get(self, path):
        req = urllib.request.Request(self.api + path, headers={
            "Authorization": "Bearer " + TOKEN})
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.load(r)

    def phase(self, app):
        try:
            d = self.get("/api/v1/apps/" + app)
        except Exception:
            return None
        return (d.get("release") or {}).get("phase")

    def wait_phase(self, app, phase, secs):
        end = time.time() + secs
        while time.time() < end:
            if self.phase(app) == phase:
                return
            time.sleep(0.05)
        raise SystemExit("%s did not reach %s (%s)" %
                         (app, phase, self.phase(app)))

    def close(self):
        for p in reversed(self.procs):
            p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)


APP = """web:
  workload:
    replicas: %d
    containers:
      main:
        image: registry.example.com/web:1.0
        env:
          ROUND: "%d"
    ports:
      - port: 80
"""


def devcluster_patch_ms(env):
    """A bare PATCH round trip to devcluster (the baseline)."""
    url = env.dc + "/api/v1/namespaces/bench-prod/configmaps/probe"
    body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": "probe"}}).encode()
    req = urllib.request.Request(url + "?fieldManager=b&force=true",
                                 data=body, method="PATCH", headers={
                                     "Content-Type":
                                     "application/apply-patch+yaml"})
    t = []
    for _ in range(50):
        t0 = time.perf_counter()
        urllib.request.urlopen(req).read()
        t.append((time.perf_counter() - t0) * 1000)
    return pct(t, 50)


def log_patches_after(env, t0):
    """The wall-clock times (s) of devcluster's PATCH lines after T0."""
    out = []
    with open(env.dclog) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 4 or parts[2] != "PATCH":
                continue
            ts = parts[1]
            sec = time.mktime(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S"))
            sec += float("0" + ts[19:-1]) - time.timezone
            if sec >= t0:
                out.append(sec)
    return out


def bench_push():
    env = Env()
    try:
        work, bare = env.repo("push", {
            "bench/project.yaml": "name: bench\n",
            "bench/prod/stack.yaml": "name: prod\n",
            "bench/prod/web.yaml": APP % (1, 0)})
        env.agent("  - name: push\n    url: file://%s\n    paths: "
                  "[bench/prod]\n    interval: 0s\n    webhook: {provider: "
                  "github, secretFile: h.secret}\n    namespaces: "
                  "[bench-*]\n" % bare)
        env.wait_phase("bench-prod-web", "Succeeded", 60)
        lat = []
        for i in range(1, 101):
            with open(os.path.join(work, "bench/prod/web.yaml"), "w") as f:
                f.write(APP % (1, i))
            git(work, "commit", "-q", "-am", "round %d" % i)
            git(work, "push", "-q", bare, "main")
            after = subprocess.run(["git", "-C", work, "rev-parse", "HEAD"],
                                   capture_output=True, text=True,
                                   check=True).stdout.strip()
            body = json.dumps({"ref": "refs/heads/main",
                               "after": after}).encode()
            sig = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            req = urllib.request.Request(env.api + "/hooks/push", data=body,
                                         method="POST", headers={
                                             "X-GitHub-Event": "push",
                                             "X-GitHub-Delivery": after,
                                             "X-Hub-Signature-256":
                                             "sha256=" + sig})
            t0 = time.time()
            urllib.request.urlopen(req).read()
            first = None
            end = t0 + 10
            while time.time() < end:
                p = log_patches_after(env, t0)
                if p:
                    first = p[0]
                    break
                time.sleep(0.005)
            if first is None:
                raise SystemExit("round %d: no PATCH within 10 s" % i)
            lat.append((first - t0) * 1000)
            env.wait_phase("bench-prod-web", "Succeeded", 30)
        base = devcluster_patch_ms(env)
        print("push -> first PATCH (100 webhooks, one-app commits): "
              "p50 %.1f ms, p99 %.1f ms (goal p50 < 50, p99 < 200); "
              "baseline: one bare PATCH round trip p50 %.2f ms, so p50 is "
              "%.0fx a bare PATCH" % (pct(lat, 50), pct(lat, 99), base,
                                      pct(lat, 50) / base))
    finally:
        env.close()


def proc_cpu_rss(pid):
    with open("/proc/%d/stat" % pid) as f:
        parts = f.read().rsplit(")", 1)[1].split()
    ticks = int(parts[11]) + int(parts[12])
    rss = hwm = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    return ticks / os.sysconf("SC_CLK_TCK"), rss, hwm


def bench_steady():
    secs = int(os.environ.get("KS_BENCH_STEADY_SECONDS", "300"))
    nsrc = int(os.environ.get("KS_BENCH_STEADY_SOURCES", "100"))
    env = Env()
    try:
        sources = ""
        for s in range(nsrc):
            files = {"s%d/project.yaml" % s: "name: s%d\n" % s,
                     "s%d/prod/stack.yaml" % s: "name: prod\n"}
            text = ""
            for a in range(10):
                text += (APP % (1, 0)).replace("web:", "app%d:" % a, 1)
            files["s%d/prod/apps.yaml" % s] = text
            _, bare = env.repo("s%d" % s, files)
            sources += ("  - name: s%d\n    url: file://%s\n    paths: "
                        "[s%d/prod]\n    interval: 60s\n    namespaces: "
                        "[s%d-prod]\n" % (s, bare, s, s))
        t0 = time.time()
        p = env.agent(sources)
        end = time.time() + 900
        while time.time() < end:
            try:
                apps = env.get("/api/v1/apps")["apps"]
            except Exception:
                apps = []
            done = sum(1 for a in apps if a.get("phase") == "Succeeded")
            if done == nsrc * 10:
                break
            time.sleep(1)
        first = time.time() - t0
        c0, _, _ = proc_cpu_rss(p.pid)
        w0 = time.time()
        time.sleep(secs)
        c1, rss, hwm = proc_cpu_rss(p.pid)
        share = (c1 - c0) / (time.time() - w0) * 100
        print("steady (%d apps, %d sources, 60 s polls, %d s window "
              "after a first sync of %.0f s, %d apps Succeeded): CPU %.2f%% "
              "of a core (goal < 2%%), RSS %.1f MB, peak %.1f MB (goal < "
              "100 MB)" % (nsrc * 10, nsrc, secs, first, done, share,
                           rss / 1024.0, hwm / 1024.0))
    finally:
        env.close()


def bench_drift():
    env = Env()
    try:
        _, bare = env.repo("drift", {
            "bench/project.yaml": "name: bench\n",
            "bench/prod/stack.yaml": "name: prod\n",
            "bench/prod/web.yaml": APP % (1, 0)})
        env.agent("  - name: drift\n    url: file://%s\n    paths: "
                  "[bench/prod]\n    interval: 0s\n    namespaces: "
                  "[bench-*]\n    drift: {mode: report, resync: 10m}\n"
                  % bare)
        env.wait_phase("bench-prod-web", "Succeeded", 60)
        url = (env.dc + "/apis/apps/v1/namespaces/bench-prod/deployments/"
               "bench-prod-web")
        lat = []
        for i in range(100):
            want = 2 + i % 5
            body = json.dumps({"spec": {"replicas": want}}).encode()
            req = urllib.request.Request(url, data=body, method="PATCH",
                                         headers={"Content-Type":
                                                  "application/merge-patch"
                                                  "+json"})
            t0 = time.perf_counter()
            urllib.request.urlopen(req).read()
            seen = None
            while time.perf_counter() - t0 < 10:
                d = env.get("/api/v1/apps/bench-prod-web/drift")
                for r in d.get("resources", []):
                    for f in r.get("fields", []):
                        if (f.get("path") == "spec.replicas"
                                and f.get("live") == want):
                            seen = time.perf_counter()
                if seen:
                    break
                time.sleep(0.002)
            if not seen:
                raise SystemExit("change %d not in the drift report" % i)
            lat.append((seen - t0) * 1000)
        base = devcluster_patch_ms(env)
        print("drift: kubectl-like PATCH -> drift report (100 changes): "
              "p50 %.1f ms, p99 %.1f ms (goal p99 < 1000 ms); baseline: a "
              "bare PATCH round trip p50 %.2f ms" %
              (pct(lat, 50), pct(lat, 99), base))
    finally:
        env.close()


for w in WHAT:
    {"push": bench_push, "steady": bench_steady, "drift": bench_drift}[w]()
