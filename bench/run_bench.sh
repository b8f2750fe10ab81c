#!/bin/sh
# Builds MoE Scope (Release) and runs the benchmarks; the output is the record.
#   bench/run_bench.sh [BUILD_DIR] [-- benchmark options: --data DIR --runs N --threads N --no-python]
#   BENCH=compare bench/run_bench.sh [BUILD_DIR] [-- --data DIR --runs N]   compare of two checkpoints vs stats
#   BENCH=import bench/run_bench.sh [BUILD_DIR] [-- --data DIR --runs N]    a 10 M-assignment Megatron trace import vs json.loads
#   BENCH=scale bench/run_bench.sh [BUILD_DIR] [-- --data DIR --runs N --big]   DeepSeek-V3-shaped dumps: stats, the window
#   BENCH=layer_stats bench/run_bench.sh [BUILD_DIR] [-- DUMP --layer L --runs N]  each statistic of one layer, CPU time
#   BENCH=ui bench/run_bench.sh [BUILD_DIR] [-- DUMP]   the window at DeepSeek-V3 size: frames, GUI-thread blocks,
#       token search (moescope_ui_shots DUMP --bench, offscreen; DUMP defaults to the scale benchmark's 1 M dump)
# The benchmarks write 1 GB dumps under /tmp/moescope-bench the first time (reused after).
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-bench}
[ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift
if [ "${BENCH:-}" = ui ]; then
    dump=${1:-/tmp/moescope-bench/v3_1M.h5}
    if [ ! -f "$dump" ]; then
        echo "no dump at $dump: BENCH=scale bench/run_bench.sh writes it" >&2
        exit 1
    fi
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
    ninja -C "$build" -j2 moescope_ui_shots
    QT_QPA_PLATFORM=${QT_QPA_PLATFORM:-offscreen} exec "$build/tests/ui/moescope_ui_shots" "$dump" --bench
fi
bench=moescope_bench_${BENCH:-route}
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C "$build" -j2 "$bench"
exec "$build/bench/$bench" "$@"
