#!/bin/sh
# Builds MoE Scope (Release) and runs the routing benchmark; the output is the record.
#   bench/run_bench.sh [BUILD_DIR] [-- benchmark options: --data DIR --runs N --threads N --no-python]
# The benchmark writes a 1 GB dump under /tmp/moescope-bench the first time (reused after).
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-bench}
[ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C "$build" -j2 moescope_bench_route
exec "$build/bench/moescope_bench_route" "$@"
