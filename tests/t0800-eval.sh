#!/bin/bash
# kusync eval: values as JSON, variables, evaluation errors (exit 1),
# syntax and check errors with their column (exit 2), usage errors.
set -u
. "$(dirname "$0")/lib/common.sh"
ks_tmpdir

# out NAME WANT_RC WANT_STDOUT ARGS...: stdout must equal WANT exactly.
out() {
	name=$1 want=$2 wout=$3
	shift 3
	"$KUSYNC" eval "$@" >"$ks_tmp/out" 2>"$ks_tmp/err"
	rc=$?
	got=$(cat "$ks_tmp/out")
	if [ $rc -ne "$want" ]; then
		ks_fail "$name: exit $rc, want $want ($(cat "$ks_tmp/err"))"
	elif [ "$got" != "$wout" ]; then
		ks_fail "$name: stdout '$got', want '$wout'"
	else
		ks_pass
	fi
}

# err NAME WANT_RC STDERR_REGEX ARGS...: nothing on stdout.
err() {
	name=$1 want=$2 re=$3
	shift 3
	"$KUSYNC" eval "$@" >"$ks_tmp/out" 2>"$ks_tmp/err"
	rc=$?
	if [ $rc -ne "$want" ]; then
		ks_fail "$name: exit $rc, want $want"
	elif [ -s "$ks_tmp/out" ]; then
		ks_fail "$name: stdout not empty"
	elif ! grep -Eq -- "$re" "$ks_tmp/err"; then
		ks_fail "$name: stderr '$(cat "$ks_tmp/err")' lacks /$re/"
	else
		ks_pass
	fi
}

out "int" 0 '3' '1 + 2'
out "uint" 0 '18446744073709551615' '18446744073709551615u'
out "double keeps its point" 0 '2.0' '1.0 * 2.0'
out "double" 0 '0.30000000000000004' '0.1 + 0.2'
out "infinity" 0 '"Infinity"' '1.0 / 0.0'
out "string escapes" 0 '"a\"b\nc"' '"a\"b" + "\nc"'
out "bytes as base64" 0 '"aGk="' "b'hi'"
out "duration" 0 '"1h2m3s"' "duration('3723s')"
out "timestamp in UTC" 0 '"2020-01-01T10:00:00Z"' "timestamp('2020-01-01T12:00:00+02:00')"
out "type" 0 '"google.protobuf.Timestamp"' 'type(timestamp(0))'
out "null" 0 'null' 'null'
out "list" 0 '[1,"a",true,null,[2.5]]' "[1, 'a', true, null, [2.5]]"
out "map" 0 '{"a":1,"2":"two"}' "{'a': 1, 2: 'two'}"
out "macro" 0 '[2,4,6]' '[1, 2, 3].map(x, x * 2)'
out "var" 0 'true' 'object.spec.replicas >= 2' --var 'object={"spec":{"replicas":3}}'
out "var=form" 0 '"web"' 'o.metadata.name' '--var=o={"metadata":{"name":"web"}}'
out "two vars" 0 '5' 'a + b' --var a=2 --var b=3
out "json integers are int" 0 '"int"' 'type(x)' --var x=7
out "json reals are double" 0 '"double"' 'type(x)' --var x=7.5
out "var holds a list" 0 '2' 'size(l)' --var 'l=[1,"x"]'
out "absorbed error" 0 'false' 'false && 1/0 == 0'

err "division by zero" 1 'evaluation error at column 2: division by zero' '1/0'
err "no such key" 1 'no such key: status' 'o.status' --var 'o={}'
err "overflow" 1 'integer overflow' '9223372036854775807 + 1'
err "no overload" 1 'no such overload' "1 + 'a'"
err "regex bomb is bounded" 1 'match limit' "'$(printf 'a%.0s' $(seq 1 3000))!'.matches('^(a|a)*\$')"
err "syntax error column" 2 '^kusync: 1:5: syntax error' '1 + '
err "unbalanced" 2 "^kusync: 1:7: syntax error: unexpected end of input, expected '\)'" '(1 + 2'
err "unknown function" 2 "^kusync: 1:5: undeclared reference to 'nope'" '1 + nope(2)'
err "wrong arity" 2 "1:1: no matching overload for 'size' with 2 arguments" 'size(1, 2)'
err "undeclared variable" 2 "undeclared reference to 'x'" 'x + 1'
err "deep nesting" 2 'nests too deeply' "$(printf '(%.0s' $(seq 1 5000))1"
err "second line" 2 '^kusync: 2:3: ' "$(printf '1 +\n  +')"
err "bad var json" 2 'invalid JSON' 'x' --var 'x={'
err "bad var name" 2 'NAME=JSON' 'x' --var '1x=1'
err "var twice" 2 'given twice' 'x' --var x=1 --var x=2
err "no expression" 2 'usage: kusync eval' 
err "two expressions" 2 'one expression only' '1' '2'

# a 100,000-character expression is fine
long="[1$(printf ',1%.0s' $(seq 1 49998))]"
"$KUSYNC" eval "$long" >"$ks_tmp/out" 2>"$ks_tmp/err"
if [ $? -eq 0 ] && [ "$(tr -cd 1 <"$ks_tmp/out" | wc -c)" -eq 49999 ]; then
	ks_pass
else
	ks_fail "100,000-character list: $(head -c 200 "$ks_tmp/err")"
fi

ks_done
