#!/bin/sh
# devcluster benchmark (not part of the tests): 10,000 objects, GET, LIST,
# server-side apply and watch fan-out rps, and memory per object.
# usage: devcluster_bench.sh KUSYNC [N] [WATCHERS]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
exec python3 "$here/devcluster_bench.py" "$@"
