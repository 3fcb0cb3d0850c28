#!/usr/bin/env python3
"""Writes a benchmark project: OUT/bench/project.yaml and OUT/bench/big/ with
N apps (two containers, probes, env, resources, two ports; every fourth app
with two cells), 100 apps per file. usage: gen_stack.py OUT N [yaml|kcl]"""
import os
import sys

out, n = sys.argv[1], int(sys.argv[2])
form = sys.argv[3] if len(sys.argv) > 3 else "yaml"
stack = os.path.join(out, "bench", "big")
os.makedirs(stack, exist_ok=True)
with open(os.path.join(out, "bench", "project.yaml"), "w") as f:
    f.write("name: bench\n")
with open(os.path.join(stack, "stack.yaml"), "w") as f:
    f.write("name: big\n")


def app_yaml(i):
    cells = ""
    if i % 4 == 0:
        cells = ("  topologies:\n    ZoneA:\n      cells: [C%dA]\n"
                 "    ZoneB:\n      cells: [C%dB]\n" % (i, i))
    return f"""app{i}:
  workload:
    replicas: {i % 5 + 1}
    containers:
      main:
        image: registry.example.com/team/app{i}:v1.{i % 100}
        command: ["/bin/server", "--port=8080"]
        env:
          LOG_LEVEL: info
          APP_ID: "{i}"
          DB_PASSWORD: secret://app{i}-db/password
        resources:
          cpu: 250m-1
          memory: 256Mi-512Mi
        readinessProbe:
          probeHandler:
            _type: Http
            url: http://localhost:8080/ready
          periodSeconds: 5
        livenessProbe:
          probeHandler:
            _type: Tcp
            url: localhost:8080
      sidecar:
        image: registry.example.com/proxy:2.{i % 10}
        args: ["--upstream", "127.0.0.1:8080"]
        resources:
          cpu: "100m"
          memory: 64Mi
        readinessProbe:
          probeHandler:
            _type: Exec
            command: [/bin/true]
    ports:
      - port: 80
        targetPort: 8080
      - port: 443
        targetPort: 8443
        exposeInternet: true
{cells}"""


def app_kcl(i):
    cells = ""
    if i % 4 == 0:
        cells = ('    topologies: {\n        ZoneA: Topology {cells: ["C%dA"]}\n'
                 '        ZoneB: Topology {cells: ["C%dB"]}\n    }\n' % (i, i))
    return f"""app{i}: ac.AppConfiguration {{
    workload: wl.Service {{
        replicas: {i % 5 + 1}
        containers: {{
            main: c.Container {{
                image: "registry.example.com/team/app{i}:v1.{i % 100}"
                command: ["/bin/server", "--port=8080"]
                env: {{
                    LOG_LEVEL: "info"
                    APP_ID: "{i}"
                    DB_PASSWORD: "secret://app{i}-db/password"
                }}
                resources: {{cpu: "250m-1", memory: "256Mi-512Mi"}}
                readinessProbe: p.Probe {{
                    probeHandler: p.Http {{url: "http://localhost:8080/ready"}}
                    periodSeconds: 5
                }}
                livenessProbe: p.Probe {{
                    probeHandler: p.Tcp {{url: "localhost:8080"}}
                }}
            }}
            sidecar: c.Container {{
                image: "registry.example.com/proxy:2.{i % 10}"
                args: ["--upstream", "127.0.0.1:8080"]
                resources: {{cpu: "100m", memory: "64Mi"}}
                readinessProbe: p.Probe {{
                    probeHandler: p.Exec {{command: ["/bin/true"]}}
                }}
            }}
        }}
        ports: [
            n.Port {{port: 80, targetPort: 8080}}
            n.Port {{port: 443, targetPort: 8443, exposeInternet: True}}
        ]
    }}
{cells}}}
"""


per_file = 100
for start in range(0, n, per_file):
    ext = "yaml" if form == "yaml" else "k"
    with open(os.path.join(stack, "apps-%05d.%s" % (start, ext)), "w") as f:
        if form == "kcl":
            f.write("import catalog.models.schema.v1 as ac\n"
                    "import catalog.models.schema.v1.workload as wl\n"
                    "import catalog.models.schema.v1.workload.container as c\n"
                    "import catalog.models.schema.v1.workload.container.probe as p\n"
                    "import catalog.models.schema.v1.workload.network as n\n\n")
        for i in range(start, min(n, start + per_file)):
            f.write(app_yaml(i) if form == "yaml" else app_kcl(i))
