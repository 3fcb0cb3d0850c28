"""Random requests (methods, paths, content types, malformed and oddly
typed bodies) against a running devcluster, for tests/t1006: the server
must answer every one with a well-formed HTTP response. usage:
random_requests.py HOST PORT COUNT SEED"""
import http.client
import json
import random
import sys

HOST, PORT, COUNT, SEED = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
random.seed(SEED)
PATHS = ["/api/v1/namespaces/default/configmaps", "/api/v1/namespaces/default/configmaps/a",
         "/api/v1/namespaces/default/configmaps/a/status", "/apis/apps/v1/namespaces/default/deployments/d",
         "/apis/apps/v1/namespaces/default/deployments/d/scale", "/apis/apps/v1/namespaces/default/deployments/d/status",
         "/api/v1/namespaces/x", "/api/v1/namespaces", "/api/v1/namespaces/default/services/s",
         "/apis/batch/v1/namespaces/default/jobs/j", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/w.example.com",
         "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", "/apis/example.com/v1/namespaces/default/ws/a",
         "/api/v1/configmaps", "/apis/coordination.k8s.io/v1/namespaces/default/leases/l",
         "/apis/apps/v1/namespaces/default/deployments", "/api/v1/namespaces/default/configmaps?limit=1&continue=eyJ2IjoxfQ==",
         "/api/v1/namespaces/default/configmaps?labelSelector=a%20in%20(", "/_devcluster/faults", "/apis/x/y/z/w/v/u/t",
         "/api/v1/namespaces/default/configmaps/%2e%2e", "/openapi/v3/apis/apps/v1"]
VALS = [None, 1, "x", [], {}, True, {"a": None}, [1, {"b": 2}], "25%", -1, 10 ** 20, 1.5]
KEYS = ["apiVersion", "kind", "metadata", "spec", "status", "data", "name", "namespace", "replicas", "template",
        "selector", "finalizers", "ownerReferences", "resourceVersion", "labels", "containers", "ports", "type", "op",
        "path", "value", "names", "group", "versions", "stringData", "served", "plural", "scope", "subresources",
        "resources", "limits", "image"]


def rnd(d=0):
    if d > 3 or random.random() < 0.3:
        return random.choice(VALS)
    return {k: rnd(d + 1) for k in random.sample(KEYS, 3)}


def body():
    r = random.random()
    if r < 0.2:
        return json.dumps([{"op": random.choice(["add", "remove", "replace", "test", "move", "copy", "bad"]),
                            "path": random.choice(["/data/a", "/metadata", "/", "/spec/replicas", "-", "/x/~2"]),
                            "value": rnd(), "from": "/metadata"}])
    if r < 0.45:
        spec = random.choice([
            rnd(),
            {"group": "example.com", "names": {"plural": "ws", "kind": "W", "shortNames": [1]}, "scope": "Namespaced",
             "versions": [{"name": "v1", "served": True, "storage": True, "subresources": rnd()}]},
            {"replicas": 3, "selector": {"matchLabels": {"a": "b"}},
             "template": {"metadata": {"labels": {"a": "b"}},
                          "spec": {"containers": [{"name": "c", "image": "x", "resources": {"limits": rnd()}}]}}},
            {"type": "LoadBalancer", "ports": [{"port": "x"}, {"port": 80}]}])
        return json.dumps({
            "apiVersion": random.choice(["v1", "apps/v1", "batch/v1", "x", "apiextensions.k8s.io/v1"]),
            "kind": random.choice(["ConfigMap", "Deployment", "Job", "Service", "Namespace", "Lease",
                                   "CustomResourceDefinition"]),
            "metadata": {"name": random.choice(["a", "d", "s", "j", "l", "x", "Bad_Name", "", "w.example.com"]),
                         "namespace": random.choice(["default", "x", None]),
                         "finalizers": random.choice([None, ["f"], [1]]),
                         "ownerReferences": random.choice([None, [{"uid": "u"}], "x"])},
            "spec": spec, "data": random.choice([{"a": "1"}, None, [1]])})
    if r < 0.5:
        return "a: [b\n  - c"
    return json.dumps(rnd())


CTS = ["application/json", "application/merge-patch+json", "application/json-patch+json",
       "application/strategic-merge-patch+json", "application/apply-patch+yaml", "application/yaml"]
ok = 0
for i in range(COUNT):
    c = http.client.HTTPConnection(HOST, PORT, timeout=10)
    m = random.choice(["GET", "POST", "PUT", "PATCH", "DELETE"])
    p = random.choice(PATHS)
    if m == "PATCH" and "?" not in p:
        p += random.choice(["?fieldManager=f", "?fieldManager=f&force=true", "?dryRun=All", "", ""])
    try:
        c.request(m, p, body=body() if m != "GET" else None, headers={"Content-Type": random.choice(CTS)})
        r = c.getresponse()
        r.read()
        if 200 <= r.status < 600:
            ok += 1
    except Exception as e:
        print("FAIL: %s %s: %s" % (m, p, e))
        break
    c.close()
print("%d passed, %d failed" % (ok, COUNT - ok))
sys.exit(0 if ok == COUNT else 1)
