#!/usr/bin/env bash
# The benchmark harness in one command: builds in release, runs the parser micro-benchmark
# (criterion) and the firehose benchmark (the whole client against a loopback SSE server,
# as ratios to a raw socket reader measured alternately in the same run), and prints the
# report, also written to target/bench/results.md (every run's raw figures: runs.txt).
#
#   bash benches/run.sh [--quick] [--profile] [--no-qt] [--reps N] [--only SECTIONS]
#
#   --quick      about 1/10 of the counts and fewer repetitions: a check in a minute or two
#   --profile    also run the callback and poll consumers under valgrind --tool=callgrind
#                (instructions per event, top functions); installs valgrind if missing
#   --no-qt      skip the Qt consumer (otherwise built with cmake into build/bench when
#                Qt 6 is there; its rows are skipped with a note when it cannot be built)
#   --reps N     alternating repetitions per throughput workload (default 5, quick 3)
#   --only LIST  comma-separated sections: throughput,latency,ttfe,idle,close,profile,parser
#
# Works on a Debian/Ubuntu machine with Rust (rustup); like tests/run_all.sh it installs
# what is missing with apt (cmake, ninja, Qt 6, and valgrind for --profile).
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
profile=0
qt=1
firehose_args=()
only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; firehose_args+=(--quick) ;;
    --profile) profile=1; firehose_args+=(--profile) ;;
    --no-qt) qt=0 ;;
    --reps) firehose_args+=(--reps "$2"); shift ;;
    --only) only="$2"; firehose_args+=(--only "$2"); shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
wants() { [ -z "$only" ] || [[ ",$only," == *",$1,"* ]]; }

step() { printf '\n== %s\n' "$*" >&2; }

# Loopback only: a proxy from the environment must not catch the benchmark's traffic.
export NO_PROXY="127.0.0.1,localhost,::1${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost,::1${no_proxy:+,$no_proxy}"

deps_args=()
[ "$profile" = 1 ] && deps_args+=(--with-valgrind)
if [ "$qt" = 1 ] || [ "$profile" = 1 ]; then
  step "tools: installing what is missing"
  bash cmake/install_build_deps.sh "${deps_args[@]}" \
    || echo "warning: could not install the build tools; Qt rows or the profile may be skipped" >&2
fi

step "cargo bench --no-run (release build of the benchmarks)"
cargo bench --no-run --bench firehose --bench parser

if [ "$qt" = 1 ]; then
  step "the Qt consumer (cmake, build/bench)"
  qt_bin=build/bench/cpp-example/bench/sse_qt_bench
  mkdir -p build/bench
  generator=()
  command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
  if ! command -v cmake >/dev/null 2>&1; then
    firehose_args+=(--qt-note "cmake is not installed")
  elif cmake -S . -B build/bench "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
         -DSSE_CLIENT_BUILD_QT=ON -DSSE_CLIENT_BUILD_TESTS=OFF -DSSE_CLIENT_INSTALL=OFF \
         -DSSE_CLIENT_BUILD_BENCH=ON >build/bench/configure.log 2>&1 \
       && cmake --build build/bench --target sse_qt_bench >build/bench/build.log 2>&1; then
    firehose_args+=(--qt "$PWD/$qt_bin")
  else
    echo "the Qt consumer could not be built (Qt 6 missing?): see build/bench/*.log" >&2
    firehose_args+=(--qt-note "the Qt consumer could not be built (see build/bench/configure.log, build.log)")
  fi
else
  firehose_args+=(--qt-note "run with --no-qt")
fi

if wants parser; then
  step "cargo bench --bench parser (criterion)"
  criterion_args=()
  [ "$quick" = 1 ] && criterion_args=(--warm-up-time 1 --measurement-time 2)
  cargo bench --bench parser -- "${criterion_args[@]}" >&2
fi

step "cargo bench --bench firehose"
cargo bench --bench firehose -- "${firehose_args[@]}"
