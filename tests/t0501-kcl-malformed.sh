#!/bin/bash
# Malformed KCL AppConfigurations through `kusync render`: each must exit 2,
# print nothing on stdout, and name the file, line and column and the words
# that matter on stderr. Positions were worked out by hand from the inputs
# (columns count characters, 1-based).
set -u
. "$(dirname "$0")/lib/common.sh"
ks_tmpdir

F=shop/prod/main.k
I='import catalog.models.schema.v1 as ac
import catalog.models.schema.v1.workload as wl
import catalog.models.schema.v1.workload.container as c
import catalog.models.schema.v1.workload.container.probe as p
import catalog.models.schema.v1.workload.network as n'

. "$(dirname "$0")/lib/render_errors.sh"

# run_case NAME REGEX [REGEX...]: main.k from stdin; every REGEX must match
# some line of stderr (grep -E).
run_case() { run_case_file main.k "$@"; }

run_case "unclosed brace" "^$F:1:21: \"\\{\" is never closed" <<'EOF'
a: AppConfiguration {
  workload: {
}
EOF

run_case "unclosed list" "^$F:1:8: \"\\[\" is never closed" <<'EOF'
a: {x: [1, 2
EOF

run_case "list closed by a brace on the next line" \
	"^$F:4:3: expected \"\\]\" to close the \"\\[\" at 3:12, got \"\\}\"" <<'EOF'
a: {
  workload: {
    ports: [{port: 80}
  }
}
EOF

run_case "list closed by a brace" \
	"^$F:1:13: expected \"\\]\" to close the \"\\[\" at 1:8, got \"\\}\"" <<'EOF'
a: {x: [1, 2}
EOF

run_case "stray closing brace" "^$F:2:1: expected a statement.*got \"\\}\"" <<'EOF'
a: {}
}
EOF

run_case "indented top-level statement" \
	"^$F:2:3: unexpected indentation \\(top-level statements start in column 1\\)" <<'EOF'
a: {}
  b: {}
EOF

new_stack
printf 'a: {}\n\tb: {}\n' >"$ks_tmp/shop/prod/main.k"
check_render "tab before a top-level statement" "^$F:2:2: unexpected tab before a top-level statement"

run_case "two entries on one line" \
	"^$F:2:14: expected \",\" or a line break between entries, got \"y\"" <<'EOF'
a: {
  x: "one"   y: 2
}
EOF

run_case "value on the next line at the top level" \
	"^$F:2:3: expected a value on the same line" <<'EOF'
a:
  {}
EOF

run_case "missing colon" "^$F:1:7: expected \":\" or \"=\" after the key \"x\", got \"1\"" <<'EOF'
a: {x 1}
EOF

run_case "unknown schema" "^$F:7:13: unknown schema \"Servise\" \\(did you mean \"Service\"\\?\\)" <<EOF
$I
a: ac.AppConfiguration {
  workload: wl.Servise {containers: {}}
}
EOF

run_case "schema that does not fit" \
	"^$F:7:13: a\\.workload: expected Service or Job, got Port" <<EOF
$I
a: ac.AppConfiguration {
  workload: n.Port {port: 80}
}
EOF

run_case "probe handler that is not a handler" \
	"^$F:11:48: a\\.workload\\.containers\\.web\\.readinessProbe\\.probeHandler: expected Http, Exec or Tcp, got Probe" <<EOF
$I
a: ac.AppConfiguration {
  workload: wl.Service {
    containers: {
      web: c.Container {
        image: "nginx:1"
        readinessProbe: p.Probe {probeHandler: p.Probe {}}
      }
    }
  }
}
EOF

run_case "unknown module alias" "^$F:1:4: unknown module alias \"ac\"" <<'EOF'
a: ac.AppConfiguration {}
EOF

run_case "duplicate key" "^$F:3:3: duplicate key \"replicas\" \\(first at 2:3\\)" <<'EOF'
a: {workload: {
  replicas: 1
  replicas: 2
  containers: {web: {image: "nginx:1"}}
}}
EOF

run_case "lambda" "^$F:1:13: lambda expressions are not supported" <<'EOF'
a: {labels: lambda x: x}
EOF

run_case "for comprehension" "^$F:1:19: for comprehensions are not supported" <<'EOF'
a: {labels: {k: v for k, v in {}}}
EOF

run_case "if in a config" "^$F:2:3: if in configs is not supported" <<'EOF'
a: {
  if True: labels: {}
}
EOF

run_case "string interpolation" \
	"^$F:1:20: string interpolation \\(\\\$\\{\\.\\.\\.\\}\\) is not supported" <<'EOF'
a: {labels: {x: "v-${version}"}}
EOF

run_case "schema definition" "^$F:1:1: schema definitions are not supported" <<'EOF'
schema App:
    name: str
EOF

run_case "mixin" "^$F:1:1: mixin definitions are not supported" <<'EOF'
mixin M:
    x: 1
EOF

run_case "union operator on configs" \
	"^$F:1:11: the \\| union operator on configs is not supported" <<'EOF'
a: {x: 1} | {y: 2}
EOF

run_case "unterminated string" "^$F:2:10: unterminated string" <<'EOF'
a: {workload: {containers: {web: {
  image: "nginx:1
}}}}
EOF

run_case "unterminated triple-quoted string" "^$F:1:17: unterminated string" <<'EOF'
a: {labels: {x: """abc}}
EOF

run_case "unit suffix KCL does not have" "^$F:1:23: unsupported unit suffix \"Gb\"" <<'EOF'
a: {labels: {memory: 4Gb}}
EOF

new_stack
printf 'a: {}\n\001\002\003\n' >"$ks_tmp/shop/prod/main.k"
check_render "garbage bytes" "^$F:2:1: unexpected control character 0x01"

new_stack
printf 'a: {labels: {x: "\377"}}\n' >"$ks_tmp/shop/prod/main.k"
check_render "invalid UTF-8 in a string" "^$F:1:18: invalid UTF-8 \\(byte 0xff\\)"

new_stack
{
	printf 'a: '
	head -c 100000 /dev/zero | tr '\0' '['
	head -c 100000 /dev/zero | tr '\0' ']'
	echo
} >"$ks_tmp/shop/prod/main.k"
check_render "deep nesting (100000 brackets)" "^$F:1:204: nesting deeper than 200 levels"

# Errors the validator finds carry the KCL positions too.
run_case "wrong type reaches the validator with its position" \
	"^$F:8:15: a\\.workload\\.replicas: .*integer" <<EOF
$I
a: ac.AppConfiguration {
  workload: wl.Service {
    replicas: "two"
    containers: {web: c.Container {image: "nginx:1"}}
  }
}
EOF

run_case "unknown field reaches the validator with its position" \
	"^$F:7:3: a\\.workloda: unknown.*did you mean \"workload\"" <<EOF
$I
a: ac.AppConfiguration {
  workloda: wl.Service {containers: {web: c.Container {image: "nginx:1"}}}
}
EOF

ks_done
