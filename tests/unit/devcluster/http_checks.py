"""Direct HTTP checks of devcluster's API against spec/kube-api.md and the
captured responses in fixtures/kube-observed/. Run by
tests/t1002-devcluster-http.sh as: http_checks.py URL FIXTURE_DIR [STATE_URL]
Prints one line per failure and closes with "N passed, N failed"."""
import base64
import http.client
import json
import os
import socket
import sys
import time
import urllib.parse

URL = urllib.parse.urlparse(sys.argv[1])
FIX = sys.argv[2]
passed = 0
failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL: %s %s" % (name, str(detail)[:600]))


def req(method, path, body=None, ctype="application/json", headers=None):
    c = http.client.HTTPConnection(URL.hostname, URL.port, timeout=10)
    h = {"Content-Type": ctype} if body is not None else {}
    h.update(headers or {})
    if body is not None and not isinstance(body, (str, bytes)):
        body = json.dumps(body)
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    try:
        j = json.loads(data)
    except ValueError:
        j = None
    return r.status, r.getheader("Content-Type"), j, data


def status_ok(name, resp, code, reason, msg=None, details=None):
    st, ct, j, raw = resp
    good = (st == code and ct == "application/json" and j is not None
            and j.get("kind") == "Status" and j.get("apiVersion") == "v1"
            and j.get("metadata") == {} and j.get("code") == code
            and j.get("reason") == reason
            and j.get("status") == ("Failure" if code >= 400 else "Success"))
    if good and msg is not None:
        good = j.get("message") == msg
    if good and details is not None:
        good = all(j.get("details", {}).get(k) == v for k, v in details.items())
    check(name, good, raw)
    return j


def fixture(name):
    with open(os.path.join(FIX, name)) as f:
        return json.loads(f.read().split("<<HTTP")[0])


def cm(name, ns="t", data=None, **meta):
    m = {"name": name, "namespace": ns}
    m.update(meta)
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": m,
            "data": data or {"a": "1"}}


# ---- discovery, shapes against the captured server ----
st, ct, j, raw = req("GET", "/api")
check("/api shape", st == 200 and j["kind"] == "APIVersions" and j["versions"] == ["v1"]
      and j["serverAddressByClientCIDRs"][0]["clientCIDR"] == "0.0.0.0/0", raw)
st, ct, j, raw = req("GET", "/version")
check("/version has the fixture's keys and a 1.30 version",
      st == 200 and set(j) == set(fixture("version.json")) and j["gitVersion"] == "v1.30.0"
      and j["major"] == "1" and j["minor"] == "30", raw)
st, ct, j, raw = req("GET", "/api/v1")
real = {r["name"]: r for r in fixture("api-v1.json")["resources"]}
ours = {r["name"]: r for r in j["resources"]}
check("/api/v1 shape", j["kind"] == "APIResourceList" and j["groupVersion"] == "v1" and j["apiVersion"] == "v1", raw)
for name in ["configmaps", "namespaces", "namespaces/status", "pods", "pods/status",
             "secrets", "services", "services/status", "serviceaccounts",
             "persistentvolumeclaims", "events", "endpoints"]:
    check("/api/v1 entry %s equals the real one" % name, ours.get(name) == real[name],
          (ours.get(name), real[name]))
st, ct, j, raw = req("GET", "/apis/apps/v1")
real = {r["name"]: r for r in fixture("apis-apps-v1.json")["resources"]}
ours = {r["name"]: r for r in j["resources"]}
for name in ["deployments", "deployments/scale", "deployments/status", "replicasets",
             "statefulsets", "statefulsets/status", "daemonsets"]:
    check("/apis/apps/v1 entry %s equals the real one" % name, ours.get(name) == real[name],
          (ours.get(name), real[name]))
st, ct, j, raw = req("GET", "/apis/coordination.k8s.io/v1")
check("/apis/coordination.k8s.io/v1 equals the real one", j == fixture("apis-coordination-v1.json"), raw)
st, ct, j, raw = req("GET", "/apis")
real_apps = [g for g in fixture("apis.json")["groups"] if g["name"] == "apps"][0]
ours_apps = [g for g in j["groups"] if g["name"] == "apps"]
check("/apis shape and the apps group", j["kind"] == "APIGroupList" and ours_apps == [real_apps], raw)
names = {g["name"] for g in j["groups"]}
check("/apis lists the spec's groups",
      {"apps", "batch", "coordination.k8s.io", "discovery.k8s.io", "apiextensions.k8s.io",
       "apps.kusionstack.io", "monitoring.coreos.com"} <= names, names)
st, ct, j, raw = req("GET", "/openapi/v3")
check("/openapi/v3 index", st == 200 and "api/v1" in j["paths"] and "apis/apps/v1" in j["paths"], raw)
st, ct, j, raw = req("GET", j["paths"]["apis/apps/v1"]["serverRelativeURL"])
op = j["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
check("/openapi/v3 document: PATCH has GVK and fieldValidation",
      op["x-kubernetes-group-version-kind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}
      and any(p["name"] == "fieldValidation" for p in op["parameters"]), op)
st, ct, j, raw = req("GET", "/openapi/v2")
check("/openapi/v2 is 404", st == 404, st)

# ---- 404s ----
st, ct, j, raw = req("GET", "/apis/nope.example.com/v1/things")
check("unknown group is a plain 404", st == 404 and ct.startswith("text/plain") and raw == b"404 page not found\n", (st, ct, raw))
st, ct, j, raw = req("GET", "/api/v1/namespaces/default/frobs")
check("unknown resource is a plain 404", st == 404 and raw == b"404 page not found\n", raw)
status_ok("missing configmap", req("GET", "/api/v1/namespaces/default/configmaps/nope"), 404, "NotFound",
          'configmaps "nope" not found', {"name": "nope", "kind": "configmaps"})
j = status_ok("missing deployment", req("GET", "/apis/apps/v1/namespaces/default/deployments/nope"), 404,
              "NotFound", 'deployments.apps "nope" not found', {"name": "nope", "group": "apps", "kind": "deployments"})
status_ok("create in a missing namespace", req("POST", "/api/v1/namespaces/nons/configmaps", cm("x", "nons")),
          404, "NotFound", 'namespaces "nons" not found', {"name": "nons", "kind": "namespaces"})

status_ok("Accept: text/html: 406", req("GET", "/api/v1/namespaces", headers={"Accept": "text/html"}), 406,
          "NotAcceptable", "Available representations: application/json, application/yaml, application/vnd.kubernetes.protobuf")
status_ok("create without a namespace in the URL: 405", req("POST", "/api/v1/configmaps", cm("x")), 405, "MethodNotAllowed")

# ---- create ----
st, ct, j, raw = req("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "t"}})
check("create namespace 201", st == 201 and j["status"]["phase"] == "Active", raw)
st, ct, j, raw = req("POST", "/api/v1/namespaces/t/configmaps", cm("c1"))
check("create 201 with server metadata", st == 201 and j["kind"] == "ConfigMap" and j["apiVersion"] == "v1"
      and len(j["metadata"]["uid"]) == 36 and j["metadata"]["resourceVersion"].isdigit()
      and j["metadata"]["creationTimestamp"].endswith("Z") and "generation" not in j["metadata"]
      and j["metadata"]["managedFields"][0]["fieldsV1"] == {"f:data": {".": {}, "f:a": {}}}, raw)
c1 = j
status_ok("create again: 409 AlreadyExists", req("POST", "/api/v1/namespaces/t/configmaps", cm("c1")), 409,
          "AlreadyExists", 'configmaps "c1" already exists', {"name": "c1", "kind": "configmaps"})
j = status_ok("invalid name: 422", req("POST", "/api/v1/namespaces/t/configmaps", cm("Bad_Name")), 422, "Invalid",
              None, {"name": "Bad_Name", "kind": "ConfigMap"})
check("invalid name: cause", j and j["details"]["causes"][0]["field"] == "metadata.name"
      and j["details"]["causes"][0]["reason"] == "FieldValueInvalid"
      and j["message"].startswith('ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain'), j)
status_ok("namespace mismatch: 400", req("POST", "/api/v1/namespaces/t/configmaps", cm("c9", "default")), 400,
          "BadRequest", "the namespace of the provided object does not match the namespace sent on the request")
bad = cm("c8")
bad["dataa"] = {}
j = status_ok("strict unknown field: 400", req("POST", "/api/v1/namespaces/t/configmaps?fieldValidation=Strict", bad),
              400, "BadRequest")
check("strict message", j and 'strict decoding error: unknown field "dataa"' in j["message"], j)
c = http.client.HTTPConnection(URL.hostname, URL.port, timeout=10)
c.request("POST", "/api/v1/namespaces/t/configmaps?fieldValidation=Warn", body=json.dumps(cm("c7") | {"dataa": {}}),
          headers={"Content-Type": "application/json"})
r = c.getresponse()
r.read()
check("fieldValidation=Warn: 201 and a Warning header", r.status == 201
      and r.getheader("Warning") == '299 - "unknown field \\"dataa\\""', (r.status, r.getheader("Warning")))
c.close()
st, ct, j, raw = req("POST", "/api/v1/namespaces/t/configmaps", cm("c8") | {"dataa": {}})
check("unknown field without Strict is accepted", st == 201, raw)
st, ct, j, raw = req("POST", "/api/v1/namespaces/t/configmaps",
                     "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fromyaml\ndata:\n  k: v\n",
                     ctype="application/yaml")
check("YAML body", st == 201 and j["data"] == {"k": "v"}, raw)
st, ct, j, raw = req("POST", "/api/v1/namespaces/t/configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                                                 "metadata": {"generateName": "gen-"}})
check("generateName appends 5 characters", st == 201 and j["metadata"]["name"].startswith("gen-")
      and len(j["metadata"]["name"]) == 9, raw)
st, ct, j, raw = req("GET", "/api/v1/namespaces/t/configmaps/c1", headers={"Accept": "application/yaml"})
check("Accept: application/yaml", st == 200 and ct == "application/yaml" and b"kind: ConfigMap" in raw
      and b"name: c1" in raw, raw)
st, ct, j, raw = req("POST", "/api/v1/namespaces/t/secrets", {"apiVersion": "v1", "kind": "Secret",
                     "metadata": {"name": "s1"}, "stringData": {"pw": "hello"}})
check("secret stringData becomes data", st == 201 and j["data"] == {"pw": "aGVsbG8="} and j["type"] == "Opaque"
      and "stringData" not in j, raw)

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
st, ct, j, raw = req("GET", "/api/v1/namespaces/t/configmaps?limit=500", headers={"Accept": TABLE})
real = fixture("table-configmaps.json")
check("Table for configmaps: the real columns and row shape", st == 200 and j["kind"] == "Table"
      and j["apiVersion"] == "meta.k8s.io/v1"
      and [(c["name"], c["type"], c["format"]) for c in j["columnDefinitions"]]
      == [(c["name"], c["type"], c["format"]) for c in real["columnDefinitions"]]
      and all(isinstance(r["cells"][1], int) and r["object"]["kind"] == "PartialObjectMetadata" for r in j["rows"])
      and j["rows"][0]["cells"][0] == j["rows"][0]["object"]["metadata"]["name"], raw)
st, ct, j, raw = req("GET", "/api/v1/namespaces/t/configmaps/c1", headers={"Accept": TABLE})
check("Table for one object", st == 200 and j["kind"] == "Table" and len(j["rows"]) == 1
      and j["rows"][0]["cells"][:2] == ["c1", 1] and j["rows"][0]["cells"][2].endswith("s"), raw)

# ---- update ----
stale = dict(c1)
stale["data"] = {"a": "2"}
st, ct, j, raw = req("PUT", "/api/v1/namespaces/t/configmaps/c1", stale)
check("PUT with the current RV", st == 200 and j["data"] == {"a": "2"}
      and int(j["metadata"]["resourceVersion"]) > int(c1["metadata"]["resourceVersion"]), raw)
status_ok("PUT with a stale RV: 409", req("PUT", "/api/v1/namespaces/t/configmaps/c1", stale), 409, "Conflict",
          'Operation cannot be fulfilled on configmaps "c1": the object has been modified; please apply your changes to the latest version and try again',
          {"name": "c1", "kind": "configmaps"})
status_ok("PUT name mismatch: 400", req("PUT", "/api/v1/namespaces/t/configmaps/c1", cm("c2")), 400, "BadRequest",
          "the name of the object (c2) does not match the name on the URL (c1)")
status_ok("PUT to a missing configmap: 404", req("PUT", "/api/v1/namespaces/t/configmaps/c2", cm("c2")), 404, "NotFound")
lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "agent"},
         "spec": {"holderIdentity": "me", "leaseDurationSeconds": 15}}
st, ct, j, raw = req("PUT", "/apis/coordination.k8s.io/v1/namespaces/t/leases/agent", lease)
check("PUT creates a missing Lease: 201", st == 201, raw)
status_ok("Lease PUT without RV: 422", req("PUT", "/apis/coordination.k8s.io/v1/namespaces/t/leases/agent", lease), 422,
          "Invalid", 'leases.coordination.k8s.io "agent" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update')
nc = cm("c3")
st, ct, j, raw = req("PUT", "/api/v1/namespaces/t/configmaps/c1", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c1"}, "data": {"a": "3"}})
check("PUT without RV is unconditional for configmaps", st == 200 and j["data"] == {"a": "3"}, raw)

# ---- generation and status ----
dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d1", "labels": {"app": "d1"}},
       "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "d1"}},
                "template": {"metadata": {"labels": {"app": "d1"}}, "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}}},
       "status": {"replicas": 42}}
st, ct, j, raw = req("POST", "/apis/apps/v1/namespaces/t/deployments", dep)
real = fixture("dep-create.json")
check("deployment create: generation 1, status {} (writes ignore status)", st == 201 and j["metadata"]["generation"] == 1 and j["status"] == {}, raw)
check("deployment create: spec matches the real server's defaults", j["spec"]["strategy"] == real["spec"]["strategy"]
      and j["spec"]["template"]["spec"] == real["spec"]["template"]["spec"] | {"containers": [real["spec"]["template"]["spec"]["containers"][0] | {"image": "nginx:1"}]}
      and j["spec"]["template"]["metadata"] == real["spec"]["template"]["metadata"] | {"labels": {"app": "d1"}}
      and j["spec"]["revisionHistoryLimit"] == 10 and j["spec"]["progressDeadlineSeconds"] == 600, (j["spec"], real["spec"]))
check("deployment create: managedFields like the real server's",
      set(j["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]) >= {"f:replicas", "f:selector", "f:template"}, raw)
st, ct, j, raw = req("PATCH", "/apis/apps/v1/namespaces/t/deployments/d1", {"metadata": {"labels": {"x": "y"}}},
                     ctype="application/merge-patch+json")
g_after_label = j["metadata"]["generation"]
st, ct, j, raw = req("PATCH", "/apis/apps/v1/namespaces/t/deployments/d1", {"spec": {"replicas": 3}},
                     ctype="application/merge-patch+json")
check("label change: no bump; replicas 2->3: generation 1->2", g_after_label == 1 and j["metadata"]["generation"] == 2, raw)
st, ct, j, raw = req("PATCH", "/apis/apps/v1/namespaces/t/deployments/d1/status",
                     {"status": {"observedGeneration": 99}, "spec": {"replicas": 7}}, ctype="application/merge-patch+json")
check("/status write: takes status only, no generation bump", st == 200 and j["status"].get("observedGeneration") == 99
      and j["spec"]["replicas"] == 3 and j["metadata"]["generation"] == 2, raw)
st, ct, j, raw = req("GET", "/apis/apps/v1/namespaces/t/deployments/d1/scale")
check("scale subresource", st == 200 and j["kind"] == "Scale" and j["apiVersion"] == "autoscaling/v1"
      and j["spec"] == {"replicas": 3} and j["status"]["selector"] == "app=d1", raw)

# ---- patch errors ----
status_ok("PATCH application/json: 415", req("PATCH", "/api/v1/namespaces/t/configmaps/c1", {}, ctype="application/json"),
          415, "UnsupportedMediaType")
sm = {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor", "metadata": {"name": "m1"}, "spec": {"a": 1}}
check("create a custom resource", req("POST", "/apis/monitoring.coreos.com/v1/namespaces/t/servicemonitors", sm)[0] == 201)
j = status_ok("strategic merge patch on a CR: 415",
              req("PATCH", "/apis/monitoring.coreos.com/v1/namespaces/t/servicemonitors/m1", {"spec": {"a": 2}},
                  ctype="application/strategic-merge-patch+json"), 415, "UnsupportedMediaType")
check("415 message", j and j["message"] == "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml", j)
status_ok("PATCH a missing object: 404", req("PATCH", "/api/v1/namespaces/t/configmaps/zz", {"data": {}},
                                              ctype="application/merge-patch+json"), 404, "NotFound")
status_ok("merge patch with a stale RV: 409", req("PATCH", "/api/v1/namespaces/t/configmaps/c1",
                                                   {"metadata": {"resourceVersion": "1"}, "data": {"a": "9"}},
                                                   ctype="application/merge-patch+json"), 409, "Conflict")
st, ct, j, raw = req("PATCH", "/api/v1/namespaces/t/configmaps/c1", [{"op": "add", "path": "/data/j", "value": "x"}],
                     ctype="application/json-patch+json")
check("json patch", st == 200 and j["data"].get("j") == "x", raw)
st, ct, j, raw = req("PATCH", "/api/v1/namespaces/t/configmaps/c1", {"data": {"j": None}},
                     ctype="application/strategic-merge-patch+json")
check("strategic merge patch null deletes", st == 200 and "j" not in j["data"], raw)

# ---- server-side apply ----
status_ok("apply without fieldManager: 422", req("PATCH", "/api/v1/namespaces/t/configmaps/ssa", cm("ssa"),
                                                  ctype="application/apply-patch+yaml"), 422, "Invalid",
          'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch')
st, ct, j, raw = req("PATCH", "/api/v1/namespaces/t/configmaps/ssa1?fieldManager=curl",
                     cm("ssa1", data={"a": "1"}), ctype="application/apply-patch+yaml")
check("apply creates: 201", st == 201 and j["metadata"]["managedFields"][0]["operation"] == "Apply", raw)
st, ct, j, raw = req("POST", "/api/v1/namespaces/t/configmaps?fieldManager=curl", cm("ssa", data={"a": "1", "b": "2"}))
check("create as curl", st == 201 and j["metadata"]["managedFields"][0]["manager"] == "curl", raw)
st, ct, j, raw = req("PATCH", "/api/v1/namespaces/t/configmaps/ssa?fieldManager=other",
                     "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  b: '3'\n",
                     ctype="application/apply-patch+yaml")
real = json.loads(open(os.path.join(FIX, "ssa-conflict-409.txt")).read().split("<<HTTP")[0])
check("apply conflict matches the real 409 body (YAML body)", st == 409 and j == real, (j, real))
st, ct, j, raw = req("PATCH", "/api/v1/namespaces/t/configmaps/ssa?fieldManager=other&force=true",
                     cm("ssa", data={"b": "3"}), ctype="application/apply-patch+yaml")
check("apply with force takes the field", st == 200 and j["data"] == {"a": "1", "b": "3"}, raw)
st, ct, j, raw = req("PATCH", "/api/v1/namespaces/t/configmaps/ssa?fieldManager=other",
                     cm("ssa", data={"c": "4"}), ctype="application/apply-patch+yaml")
check("a field left out of the next apply is removed, others' kept", st == 200 and j["data"] == {"a": "1", "c": "4"}, raw)

# ---- dry run ----
st, ct, j, raw = req("POST", "/api/v1/namespaces/t/configmaps?dryRun=All", cm("dry"))
check("dry-run create: uid and creationTimestamp, no resourceVersion", st == 201 and j["metadata"].get("uid")
      and j["metadata"].get("creationTimestamp") and "resourceVersion" not in j["metadata"], raw)
status_ok("dry-run create persisted nothing", req("GET", "/api/v1/namespaces/t/configmaps/dry"), 404, "NotFound")
status_ok("dryRun=Foo: 422", req("POST", "/api/v1/namespaces/t/configmaps?dryRun=Foo", cm("dry")), 422, "Invalid",
          'CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: []string{"Foo"}: supported values: "All"')
st, ct, j, raw = req("DELETE", "/api/v1/namespaces/t/configmaps/c1?dryRun=All")
check("dry-run delete keeps the object", st == 200 and req("GET", "/api/v1/namespaces/t/configmaps/c1")[0] == 200, raw)

# ---- list, selectors, paging ----
for i in range(5):
    req("POST", "/api/v1/namespaces/t/configmaps", cm("p%d" % i, labels={"grp": "pg", "i": str(i)}))
st, ct, j, raw = req("GET", "/api/v1/namespaces/t/configmaps?labelSelector=grp%3Dpg")
check("list: kind, items without kind/apiVersion", st == 200 and j["kind"] == "ConfigMapList" and j["apiVersion"] == "v1"
      and len(j["items"]) == 5 and "kind" not in j["items"][0] and "apiVersion" not in j["items"][0], raw)
names = []
rvs = set()
tok = None
pages = 0
while True:
    q = "/api/v1/namespaces/t/configmaps?limit=2" + ("&continue=" + urllib.parse.quote(tok) if tok else "")
    st, ct, j, raw = req("GET", q)
    pages += 1
    names += [i["metadata"]["name"] for i in j["items"]]
    rvs.add(j["metadata"]["resourceVersion"])
    if pages == 1:
        check("first page: 2 items, remainingItemCount", len(j["items"]) == 2 and j["metadata"].get("remainingItemCount", 0) > 0, raw)
        check("continue token is base64 JSON", json.loads(base64.b64decode(j["metadata"]["continue"]))["v"] == "meta.k8s.io/v1", raw)
    tok = j["metadata"].get("continue")
    if not tok or pages > 20:
        break
st, ct, j, raw = req("GET", "/api/v1/namespaces/t/configmaps")
check("paging returns every item once, in order", names == [i["metadata"]["name"] for i in j["items"]], (names,))
check("every page has the same resourceVersion", len(rvs) == 1, rvs)
st, ct, j, raw = req("GET", "/api/v1/namespaces/t/configmaps?limit=2&labelSelector=grp%3Dpg")
check("remainingItemCount only without a selector", "remainingItemCount" not in j["metadata"] and "continue" in j["metadata"], raw)
status_ok("garbage continue token: 400", req("GET", "/api/v1/namespaces/t/configmaps?limit=2&continue=garbage!!"), 400, "BadRequest")
st, ct, j, raw = req("GET", "/api/v1/namespaces/t/configmaps?labelSelector=i+in+%281%2C3%29%2Cgrp")
check("set-based label selector", sorted(i["metadata"]["name"] for i in j["items"]) == ["p1", "p3"], raw)
st, ct, j, raw = req("GET", "/api/v1/namespaces/t/configmaps?labelSelector=i%21%3D1%2Cgrp%3Dpg")
check("!= selector", len(j["items"]) == 4, raw)
status_ok("bad label selector: 400", req("GET", "/api/v1/namespaces/t/configmaps?labelSelector=%3Dx"), 400, "BadRequest")
status_ok("unknown field selector: 400", req("GET", "/api/v1/namespaces/t/configmaps?fieldSelector=data.a%3D1"), 400,
          "BadRequest", '"data.a" is not a known field selector: only "metadata.name", "metadata.namespace"')
j = status_ok("far-future resourceVersion: 504", req("GET", "/api/v1/namespaces/t/configmaps?resourceVersion=99999999"),
              504, "Timeout", None, {"retryAfterSeconds": 1})
check("504 cause", j and j["details"]["causes"][0]["reason"] == "ResourceVersionTooLarge", j)
st, ct, j, raw = req("GET", "/api/v1/configmaps?fieldSelector=metadata.name%3Dp2")
check("field selector across namespaces", [i["metadata"]["name"] for i in j["items"]] == ["p2"], raw)

# ---- delete ----
st, ct, j, raw = req("DELETE", "/api/v1/namespaces/t/configmaps/p0")
check("delete: 200 Success Status with details", st == 200 and j["kind"] == "Status" and j["status"] == "Success"
      and j["details"]["name"] == "p0" and j["details"]["kind"] == "configmaps" and len(j["details"]["uid"]) == 36, raw)
status_ok("delete a missing object: 404", req("DELETE", "/api/v1/namespaces/t/configmaps/p0"), 404, "NotFound")
j = status_ok("delete with a stale precondition: 409", req("DELETE", "/api/v1/namespaces/t/configmaps/p1",
                                                             {"preconditions": {"resourceVersion": "1"}}), 409, "Conflict")
check("precondition message", j and j["message"].startswith('Operation cannot be fulfilled on ConfigMap "p1": the ResourceVersion in the precondition (1) does not match the ResourceVersion in record'), j)
req("POST", "/api/v1/namespaces/t/configmaps", cm("fin", finalizers=["example.com/hold"]))
st, ct, j, raw = req("DELETE", "/api/v1/namespaces/t/configmaps/fin")
check("delete with a finalizer: 200 + object with deletionTimestamp", st == 200 and j["kind"] == "ConfigMap"
      and j["metadata"].get("deletionTimestamp") and j["metadata"].get("deletionGracePeriodSeconds") == 0, raw)
check("the object stays", req("GET", "/api/v1/namespaces/t/configmaps/fin")[0] == 200)
st, ct, j, raw = req("DELETE", "/api/v1/namespaces/t/configmaps/fin", {"orphanDependents": False})
check("orphanDependents=false on a terminating object: 202", st == 202, raw)
req("PATCH", "/api/v1/namespaces/t/configmaps/fin", {"metadata": {"finalizers": None}}, ctype="application/merge-patch+json")
check("removing the last finalizer deletes it", req("GET", "/api/v1/namespaces/t/configmaps/fin")[0] == 404)
owner = req("POST", "/api/v1/namespaces/t/configmaps", cm("owner"))[2]
req("POST", "/api/v1/namespaces/t/configmaps", cm("dep1", ownerReferences=[{"apiVersion": "v1", "kind": "ConfigMap",
    "name": "owner", "uid": owner["metadata"]["uid"]}]))
st, ct, j, raw = req("DELETE", "/api/v1/namespaces/t/configmaps/owner", {"kind": "DeleteOptions", "apiVersion": "v1",
                                                                       "propagationPolicy": "Foreground"})
check("foreground delete: foregroundDeletion finalizer", st == 200 and "foregroundDeletion" in j["metadata"].get("finalizers", []), raw)
time.sleep(0.5)
check("foreground delete removed the dependent and then the owner",
      req("GET", "/api/v1/namespaces/t/configmaps/dep1")[0] == 404 and req("GET", "/api/v1/namespaces/t/configmaps/owner")[0] == 404)
owner = req("POST", "/api/v1/namespaces/t/configmaps", cm("owner2"))[2]
req("POST", "/api/v1/namespaces/t/configmaps", cm("dep2", ownerReferences=[{"apiVersion": "v1", "kind": "ConfigMap",
    "name": "owner2", "uid": owner["metadata"]["uid"]}]))
req("DELETE", "/api/v1/namespaces/t/configmaps/owner2", {"propagationPolicy": "Background"})
time.sleep(0.3)
check("background delete cascades", req("GET", "/api/v1/namespaces/t/configmaps/dep2")[0] == 404)
owner = req("POST", "/api/v1/namespaces/t/configmaps", cm("owner3"))[2]
req("POST", "/api/v1/namespaces/t/configmaps", cm("dep3", ownerReferences=[{"apiVersion": "v1", "kind": "ConfigMap",
    "name": "owner3", "uid": owner["metadata"]["uid"]}]))
req("DELETE", "/api/v1/namespaces/t/configmaps/owner3?propagationPolicy=Orphan")
time.sleep(0.2)
st, ct, j, raw = req("GET", "/api/v1/namespaces/t/configmaps/dep3")
check("orphan delete keeps the dependent and drops its ownerReference", st == 200 and "ownerReferences" not in j["metadata"], raw)
st, ct, j, raw = req("DELETE", "/api/v1/namespaces/t/configmaps?labelSelector=grp%3Dpg")
check("deletecollection returns the deleted list", st == 200 and j["kind"] == "ConfigMapList"
      and sorted(i["metadata"]["name"] for i in j["items"]) == ["p1", "p2", "p3", "p4"], raw)


# ---- watch ----
def watch(path, seconds):
    s = socket.create_connection((URL.hostname, URL.port), timeout=seconds + 5)
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
    return s


def read_events(s):
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
        if data.endswith(b"0\r\n\r\n"):
            break
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    # de-chunk
    out = b""
    while body:
        n, _, rest = body.partition(b"\r\n")
        size = int(n, 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2:]
    return head, [json.loads(line) for line in out.decode().splitlines() if line]


rv0 = req("GET", "/api/v1/namespaces/t/configmaps")[2]["metadata"]["resourceVersion"]
s = watch("/api/v1/namespaces/t/configmaps?watch=1&resourceVersion=%s&timeoutSeconds=1&allowWatchBookmarks=true" % rv0, 1)
time.sleep(0.2)
req("POST", "/api/v1/namespaces/t/configmaps", cm("w1"))
req("PATCH", "/api/v1/namespaces/t/configmaps/w1", {"data": {"a": "2"}}, ctype="application/merge-patch+json")
req("DELETE", "/api/v1/namespaces/t/configmaps/w1")
head, evs = read_events(s)
check("watch: chunked JSON stream", b"Transfer-Encoding: chunked" in head and b"application/json" in head, head)
check("watch: ADDED, MODIFIED, DELETED, BOOKMARK", [e["type"] for e in evs] == ["ADDED", "MODIFIED", "DELETED", "BOOKMARK"], evs)
if len(evs) == 4:
    check("watch: objects carry kind and apiVersion", evs[0]["object"]["kind"] == "ConfigMap" and evs[0]["object"]["apiVersion"] == "v1", evs[0])
    check("watch: DELETED has a new resourceVersion", int(evs[2]["object"]["metadata"]["resourceVersion"]) > int(evs[1]["object"]["metadata"]["resourceVersion"]), evs)
    check("watch: bookmark shape", evs[3]["object"]["kind"] == "ConfigMap" and evs[3]["object"]["metadata"]["resourceVersion"].isdigit(), evs[3])
s = watch("/api/v1/namespaces/t/configmaps?watch=true&timeoutSeconds=1", 1)
head, evs = read_events(s)
check("watch without resourceVersion: synthetic ADDED for existing objects",
      len(evs) > 3 and all(e["type"] == "ADDED" for e in evs), evs[:2])
s = watch("/api/v1/namespaces/t/configmaps?watch=true&timeoutSeconds=1&fieldSelector=metadata.name%3Dc1", 1)
head, evs = read_events(s)
check("watch with a field selector", [e["object"]["metadata"]["name"] for e in evs] == ["c1"], evs)

if len(sys.argv) > 3:
    # a restarted server (state file): an old resourceVersion is gone
    pass

print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
