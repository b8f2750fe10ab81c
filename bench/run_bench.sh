#!/bin/sh
# Builds MoE Scope (Release) and runs the benchmarks; the output is the record.
#   bench/run_bench.sh [BUILD_DIR] [-- benchmark options: --data DIR --runs N --threads N --no-python]
#   BENCH=compare bench/run_bench.sh [BUILD_DIR] [-- --data DIR --runs N]   compare of two checkpoints vs stats
#   BENCH=import bench/run_bench.sh [BUILD_DIR] [-- --data DIR --runs N]    a 10 M-assignment Megatron trace import vs json.loads
# The benchmarks write 1 GB dumps under /tmp/moescope-bench the first time (reused after).
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-bench}
[ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift
bench=moescope_bench_${BENCH:-route}
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C "$build" -j2 "$bench"
exec "$build/bench/$bench" "$@"
