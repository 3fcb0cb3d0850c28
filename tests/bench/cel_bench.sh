#!/bin/sh
# Policy benchmark: builds tests/bench/cel_bench.c against the static
# libraries of BUILD_DIR (use an optimised, unsanitised build) and runs it.
# Exit 1 when simple rules run slower than 1,000,000 evaluations/s.
# usage: tests/bench/cel_bench.sh BUILD_DIR [RESOURCES] [ROUNDS]
set -eu
build=$1
src=$(cd "$(dirname "$0")/../.." && pwd)
out="$build/cel_bench"
${CC:-cc} -std=c11 -D_POSIX_C_SOURCE=200809L -O2 -I"$src" \
	"$src/tests/bench/cel_bench.c" -o "$out" \
	"$build/libks_policies.a" "$build/libks_core.a" \
	$(pkg-config --libs jansson libpcre2-8 yaml-0.1 libuv openssl zlib) -lm
"$out" "$src/policies/builtin" "${2:-10000}" "${3:-3}"
