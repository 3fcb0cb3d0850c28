#!/bin/bash
# Malformed AppConfigurations: each must exit 2, print nothing on stdout,
# and name the file, line (and column where the spec fixes it) and the words
# that matter on stderr. Positions below were worked out by hand from the
# input: value position for a wrong value, key position for an unknown or
# duplicated key, parent key for a missing field.
set -u
. "$(dirname "$0")/lib/common.sh"
ks_tmpdir

F=shop/prod/app.yaml

. "$(dirname "$0")/lib/render_errors.sh"

# run_case NAME REGEX [REGEX...]: app.yaml from stdin; every REGEX must match
# some line of stderr (grep -E).
run_case() { run_case_file app.yaml "$@"; }

run_case "wrong type: replicas a word" "^$F:3:15: hello\.workload\.replicas: .*integer" <<'EOF'
hello:
  workload:
    replicas: two
    containers:
      web:
        image: nginx:1
EOF

run_case "unknown key with did-you-mean" \
	"^$F:3:5: hello\.workload\.contaners: unknown .*did you mean \"containers\"" \
	"^$F:2:3: hello\.workload: missing .*containers" <<'EOF'
hello:
  workload:
    contaners:
      web:
        image: nginx:1
EOF

run_case "typo in a container field" "^$F:5:9: .*imagee.*did you mean \"image\"" <<'EOF'
hello:
  workload:
    containers:
      web:
        imagee: nginx:1
EOF

run_case "negative replicas" "^$F:3:15: hello\.workload\.replicas: " <<'EOF'
hello:
  workload:
    replicas: -1
    containers:
      web:
        image: nginx:1
EOF

run_case "float where an int is wanted" "^$F:3:15: hello\.workload\.replicas: " <<'EOF'
hello:
  workload:
    replicas: 2.5
    containers:
      web:
        image: nginx:1
EOF

run_case "bad quantity" \
	"^$F:7:16: hello\.workload\.containers\.web\.resources\.cpu: \"2x\" is not a quantity" <<'EOF'
hello:
  workload:
    containers:
      web:
        image: nginx:1
        resources:
          cpu: "2x"
EOF

run_case "resources with three parts" "^$F:7:19: hello\.workload\.containers\.web\.resources\.memory: " <<'EOF'
hello:
  workload:
    containers:
      web:
        image: nginx:1
        resources:
          memory: 1Gi-2Gi-3Gi
EOF

run_case "bad cron" "^$F:4:15: nightly\.workload\.schedule: " <<'EOF'
nightly:
  workload:
    _type: Job
    schedule: "61 * * * *"
    containers:
      run:
        image: busybox:1.36
EOF

run_case "six-field cron" "^$F:4:15: nightly\.workload\.schedule: " <<'EOF'
nightly:
  workload:
    _type: Job
    schedule: "0 0 1 * * *"
    containers:
      run:
        image: busybox:1.36
EOF

run_case "duplicate ports" "^$F:8:[0-9]+: hello\.workload\.ports.*80" <<'EOF'
hello:
  workload:
    containers:
      web:
        image: nginx:1
    ports:
      - port: 80
      - port: 80
EOF

run_case "port out of range" "^$F:7:15: hello\.workload\.ports(\[0\]|\.0)\.port: " <<'EOF'
hello:
  workload:
    containers:
      web:
        image: nginx:1
    ports:
      - port: 70000
EOF

run_case "public and exposeInternet disagree" "^$F:8:[0-9]+: .*(public|exposeInternet)" <<'EOF'
hello:
  workload:
    containers:
      web:
        image: nginx:1
    ports:
      - port: 80
        public: true
        exposeInternet: false
EOF

run_case "duplicate cells across zones" "^$F:10:[0-9]+: hello\.topologies.*(gz1|GZ1|duplicate|twice|unique)" <<'EOF'
hello:
  workload:
    containers:
      web:
        image: nginx:1
  topologies:
    ZoneA:
      cells: [GZ1, GZ2]
    ZoneB:
      cells: [gz1]
EOF

run_case "empty cell list" "^$F:7:[0-9]+: hello\.topologies\.ZoneA" <<'EOF'
hello:
  workload:
    containers:
      web:
        image: nginx:1
  topologies:
    ZoneA:
      cells: []
EOF

run_case "dependency cycle" "^$F:(6|12):[0-9]+: .*cycle" <<'EOF'
a:
  workload:
    containers:
      web: {image: nginx:1}
  dependency:
    dependedApps: [b]
b:
  workload:
    containers:
      web: {image: nginx:1}
  dependency:
    dependedApps: [a]
EOF

run_case "unknown dependency" "^$F:6:20: a\.dependency\.dependedApps(\[0\]|\.0): .*nope" <<'EOF'
a:
  workload:
    containers:
      web: {image: nginx:1}
  dependency:
    dependedApps: [nope]
EOF

run_case "self dependency" "^$F:6:20: a\.dependency\.dependedApps(\[0\]|\.0): .*(itself|self)" <<'EOF'
a:
  workload:
    containers:
      web: {image: nginx:1}
  dependency:
    dependedApps: [a]
EOF

run_case "unknown workload _type" "^$F:3:12: hello\.workload\._type: .*Service.*Job" <<'EOF'
hello:
  workload:
    _type: Daemon
    containers:
      web:
        image: nginx:1
EOF

run_case "unknown probe _type" "^$F:8:20: .*_type: .*Http" <<'EOF'
hello:
  workload:
    containers:
      web:
        image: nginx:1
        readinessProbe:
          probeHandler:
            _type: Grpc
EOF

run_case "YAML syntax error" "^$F:[0-9]+:[0-9]+: " <<'EOF'
hello:
  workload:
    containers: [a, b
EOF

printf 'hello:\n\tworkload:\n    containers: {}\n' | run_case "tab indentation" "^$F:2:[0-9]+: .*tab"

run_case "duplicate key" "^$F:4:5: .*duplicate key \"replicas\"" <<'EOF'
hello:
  workload:
    replicas: 1
    replicas: 2
    containers:
      web:
        image: nginx:1
EOF

run_case "app name too long" "^$F:1:1: .*63" <<'EOF'
a-very-long-application-name-that-will-not-fit-in-63-chars:
  workload:
    containers:
      web:
        image: nginx:1
EOF

run_case "app name not a DNS label" "^$F:1:1: .*Hello_World" <<'EOF'
Hello_World:
  workload:
    containers:
      web:
        image: nginx:1
EOF

: | run_case "empty file" "^$F(:1:1)?: .*empty"

head -c 4096 /dev/urandom | tr '\n' 'x' | run_case "binary garbage" "^$F:[0-9]+:[0-9]+: "

{
	echo "hello:"
	echo "  workload:"
	echo "    annotations:"
	yes '      k: "0123456789012345678901234567890123456789012345678901234567890123456789"' | head -n 700000
} | run_case "50 MB file" "^$F(:[0-9]+:[0-9]+)?: .*too large"

python3 -c 'print("hello: " + "[" * 100000)' | run_case "deep nesting" "^$F:1:[0-9]+: .*(nest|deep)"

run_case "alias bomb" "^$F:[0-9]+:[0-9]+: " <<'EOF'
a: &a ["x","x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g,*g]
EOF

run_case "multi-document file" "^$F:[5-6]:[0-9]+: .*document" <<'EOF'
hello:
  workload:
    containers:
      web: {image: nginx:1}
---
other:
  workload:
    containers:
      web: {image: nginx:1}
EOF

run_case "cloud database" "^$F:[0-9]+:[0-9]+: .*cloud databases are not supported" <<'EOF'
hello:
  workload:
    containers:
      web: {image: nginx:1}
  database:
    main:
      _type: MySQL
      type: cloud
      version: "8.0"
EOF

run_case "basic secret without password" "^$F:7:[0-9]+: .*password" <<'EOF'
hello:
  workload:
    containers:
      web: {image: nginx:1}
    secrets:
      creds:
        type: basic
        data:
          username: admin
EOF

run_case "external secret" "^$F:[0-9]+:[0-9]+: .*secret store" <<'EOF'
hello:
  workload:
    containers:
      web: {image: nginx:1}
    secrets:
      creds:
        type: external
        data:
          token: x
EOF

run_case "bad env name" "^$F:7:11: .*1BAD" <<'EOF'
hello:
  workload:
    containers:
      web:
        image: nginx:1
        env:
          1BAD: x
EOF

run_case "exec probe without command" "^$F:[0-9]+:[0-9]+: .*command" <<'EOF'
hello:
  workload:
    containers:
      web:
        image: nginx:1
        livenessProbe:
          probeHandler:
            _type: Exec
            command: []
EOF

run_case "relative file path" "^$F:7:11: .*etc/app.conf" <<'EOF'
hello:
  workload:
    containers:
      web:
        image: nginx:1
        files:
          etc/app.conf:
            content: x
EOF

run_case "maxUnavailable over 100%" "^$F:6:21: hello\.opsRule\.maxUnavailable: " <<'EOF'
hello:
  workload:
    containers:
      web: {image: nginx:1}
  opsRule:
    maxUnavailable: 120%
EOF

run_case "bad pipeline timeout" "^$F:7:16: hello\.pipeline\.deploy\.timeout: " <<'EOF'
hello:
  workload:
    containers:
      web: {image: nginx:1}
  pipeline:
    deploy:
      timeout: 10 minutes
EOF

run_case "bad policy set kind" "^$F:7:13: .*(mandatory|advisory)" <<'EOF'
hello:
  workload:
    containers:
      web: {image: nginx:1}
  policysets:
    release-strategy-check:
      kind: required
EOF

run_case "forged ownership label" "^$F:6:5: .*kusync\.io/app" <<'EOF'
hello:
  workload:
    containers:
      web: {image: nginx:1}
  labels:
    kusync.io/app: other
EOF

run_case "bool given as a string" "^$F:7:22: hello\.pipeline\.deploy\.manualApprove: " <<'EOF'
hello:
  workload:
    containers:
      web: {image: nginx:1}
  pipeline:
    deploy:
      manualApprove: "yes"
EOF

run_case "workload is not a mapping" "^$F:2:13: hello\.workload: " <<'EOF'
hello:
  workload: 3
EOF

run_case "container without image" "^$F:4:7: hello\.workload\.containers\.web: missing .*image" <<'EOF'
hello:
  workload:
    containers:
      web:
        command: [/bin/true]
EOF

run_case "monitoring without port and no workspace" "^$F:5:3: hello\.monitoring: .*port" <<'EOF'
hello:
  workload:
    containers:
      web: {image: nginx:1}
  monitoring:
    path: /metrics
EOF

# The same app in two files: the second place is reported, naming the first.
rm -rf "$ks_tmp/shop"
mkdir -p "$ks_tmp/shop/prod"
echo "name: shop" >"$ks_tmp/shop/project.yaml"
echo "name: prod" >"$ks_tmp/shop/prod/stack.yaml"
printf 'hello:\n  workload:\n    containers:\n      web: {image: nginx:1}\n' >"$ks_tmp/shop/prod/a.yaml"
printf '# again\nhello:\n  workload:\n    containers:\n      web: {image: nginx:1}\n' >"$ks_tmp/shop/prod/b.yaml"
check_render "same app in two files" "^shop/prod/b.yaml:2:1: .*hello.*(shop/prod/)?a\.yaml:1:1"

# Errors in several places are all reported, sorted by line.
run_case "many errors at once" "^$F:3:15: " "^$F:6:16: " "^$F:7:21: " <<'EOF'
hello:
  workload:
    replicas: many
    containers:
      web:
        image: [a]
        workingDir: {a: b}
EOF
awk 'NR==1 && !/:3:15:/ {exit 1}' "$ks_tmp/err" && ks_pass || ks_fail "errors are not sorted by position"

# More than 50 errors: 50 printed, then a count.
{
	echo "hello:"
	echo "  workload:"
	echo "    containers:"
	echo "      web:"
	echo "        image: nginx:1"
	echo "        env:"
	for i in $(seq 1 80); do echo "          ${i}BAD: x"; done
} | run_case "errors capped at 50" "more errors"
[ "$(grep -c "^$F:" "$ks_tmp/err")" -eq 50 ] && ks_pass || ks_fail "want exactly 50 error lines, got $(grep -c "^$F:" "$ks_tmp/err")"

# Missing project.yaml / stack.yaml and a stack folder that does not exist.
rm -rf "$ks_tmp/shop"
mkdir -p "$ks_tmp/shop/prod"
echo "name: prod" >"$ks_tmp/shop/prod/stack.yaml"
printf 'hello:\n  workload:\n    containers:\n      web: {image: nginx:1}\n' >"$ks_tmp/shop/prod/app.yaml"
check_render "missing project.yaml" "project\.yaml"
(cd "$ks_tmp" && "$KUSYNC" render no/such/dir >"$ks_tmp/out" 2>"$ks_tmp/err")
[ $? -eq 2 ] && [ ! -s "$ks_tmp/out" ] && grep -q "no/such/dir" "$ks_tmp/err" && ks_pass || ks_fail "missing stack folder"

ks_done
