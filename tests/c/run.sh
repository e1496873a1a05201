#!/usr/bin/env bash
# Builds the crate, compiles the C end-to-end test against the cdylib and runs it, then
# again under valgrind when it is installed. Also checks that the header compiles as C++.
# Then the fork() test (tests/c/fork.c): natively and under valgrind memcheck.
# Then the C concurrency stress test (tests/c/stress.c): natively, under valgrind memcheck,
# and under a valgrind thread checker (helgrind by default) with tests/c/valgrind-thread.supp.
#
#   bash tests/c/run.sh
#
# Environment: CC (default cc), CXX (default g++), CARGO (default cargo),
# SSE_SKIP_VALGRIND=1 to skip the valgrind runs,
# SSE_CARGO_FEATURES: cargo features of the library built and tested (CI: pipe-wakeup, so
# that the C tests also run against the macOS/BSD pipe wakeup),
# SSE_THREAD_TOOL=helgrind|drd|none: the thread checker for the stress test (default helgrind).
# The stress stages all run even when one fails; the script then fails naming them.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
CC="${CC:-cc}"
CXX="${CXX:-g++}"
CARGO="${CARGO:-cargo}"

run() {
    printf '+ %s\n' "$*" >&2
    "$@"
}

cd "$root"
cargo_features=()
if [[ -n "${SSE_CARGO_FEATURES:-}" ]]; then cargo_features=(--features "$SSE_CARGO_FEATURES"); fi
run "$CARGO" build "${cargo_features[@]}"

# Honour CARGO_TARGET_DIR when set; the default is target/ in the repository root.
target_dir="${CARGO_TARGET_DIR:-$root/target}"
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
lib_dir="$target_dir/debug"
out_dir="$target_dir/c-tests"
mkdir -p "$out_dir"

if [[ ! -f "$lib_dir/libsse_client.so" ]]; then
    echo "run.sh: $lib_dir/libsse_client.so not found after cargo build" >&2
    exit 1
fi

# The header alone, as C++: proves the extern "C" guards and C++11 compatibility.
cxx_probe="$out_dir/header_probe.cpp"
printf '#include "sse_client.h"\nextern "C" const char *(*probe)(void);\nconst char *(*probe)(void) = sse_version;\n' >"$cxx_probe"
run "$CXX" -std=c++11 -Wall -Wextra -Werror -pedantic -I "$root/include" -x c++ -fsyntax-only "$cxx_probe"

# The header alone, as C99.
c_probe="$out_dir/header_probe.c"
printf '#include "sse_client.h"\nint main(void) { return sse_version() == 0; }\n' >"$c_probe"
run "$CC" -std=c99 -Wall -Wextra -Werror -pedantic -I "$root/include" -fsyntax-only "$c_probe"

run "$CC" -std=c99 -Wall -Wextra -Werror -pedantic -D_POSIX_C_SOURCE=200809L -g -O1 \
    -I "$root/include" "$here/test_api.c" "$here/common.c" -o "$out_dir/test_api" \
    -L "$lib_dir" -lsse_client -Wl,-rpath,"$lib_dir" -lpthread

run "$out_dir/test_api"

if [[ "${SSE_SKIP_VALGRIND:-0}" != 1 ]] && command -v valgrind >/dev/null 2>&1; then
    # Rust's thread-locals and global pools may stay "still reachable" at exit: allowed.
    # Definite and indirect leaks, and any memory error, fail the run.
    set +e
    run env SSE_TEST_TIMEOUT_SCALE=6 valgrind --error-exitcode=1 --leak-check=full \
        --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
        --track-origins=yes \
        "$out_dir/test_api" 2>&1 | tee "$out_dir/valgrind.log"
    status=${PIPESTATUS[0]}
    set -e
    if [[ $status -ne 0 ]]; then
        echo "run.sh: the test failed under valgrind (exit $status); see $out_dir/valgrind.log" >&2
        exit "$status"
    fi
else
    echo "run.sh: valgrind not installed (or SSE_SKIP_VALGRIND=1): skipping the valgrind run" >&2
fi

# ---------------------------------------------------------------------------------------
# fork() with live clients (tests/c/fork.c): natively, 300 rounds (the race is a fork
# while a worker or a poller holds a lock; under 3 s), then under memcheck, 10 rounds
# (about 15 s), for memory errors in the parent and in the children. Memcheck runs
# without its leak check there: each child leaks the clients it inherited, by design (the
# header's fork() rule: freeing them could deadlock), and valgrind checks leaks in every
# process, so every child would fail. That clients release everything in the process
# that opened them is checked under memcheck by test_api (above) and stress (below).
run "$CC" -std=c99 -Wall -Wextra -Werror -pedantic -D_POSIX_C_SOURCE=200809L -g -O1 \
    -I "$root/include" "$here/fork.c" "$here/common.c" -o "$out_dir/fork" \
    -L "$lib_dir" -lsse_client -Wl,-rpath,"$lib_dir" -lpthread

run "$out_dir/fork" 300

if [[ "${SSE_SKIP_VALGRIND:-0}" != 1 ]] && command -v valgrind >/dev/null 2>&1; then
    set +e
    run env SSE_TEST_TIMEOUT_SCALE=6 valgrind --error-exitcode=1 --leak-check=no --track-origins=yes \
        "$out_dir/fork" 10 2>&1 | tee "$out_dir/fork-memcheck.log"
    status=${PIPESTATUS[0]}
    set -e
    if [[ $status -ne 0 ]]; then
        echo "run.sh: the fork test failed under valgrind (exit $status); see $out_dir/fork-memcheck.log" >&2
        exit "$status"
    fi
else
    echo "run.sh: valgrind not installed (or SSE_SKIP_VALGRIND=1): skipping the fork test's valgrind run" >&2
fi

# ---------------------------------------------------------------------------------------
# The concurrency stress test. Counts per run: threads, iterations per thread, and a cap in
# seconds after which no iteration starts. Under valgrind each client runs longer (0-400 ms,
# 0-600 ms: SSE_STRESS_RUN_MS) because connecting alone takes 100 ms or more there (so that
# streams open and events flow before the close), and fewer iterations keep each run well
# under a minute on two cores (about 7 s natively, 35 s memcheck, 50 s helgrind).
run "$CC" -std=c99 -Wall -Wextra -Werror -pedantic -D_POSIX_C_SOURCE=200809L -g -O1 \
    -I "$root/include" "$here/stress.c" "$here/common.c" -o "$out_dir/stress" \
    -L "$lib_dir" -lsse_client -Wl,-rpath,"$lib_dir" -lpthread

stress_failed=()

# Runs one stress stage, its output teed to $out_dir/<name>.log; records a failure.
stress_stage() {
    local name="$1" status start
    shift
    start=$(date +%s)
    set +e
    run "$@" 2>&1 | tee "$out_dir/$name.log"
    status=${PIPESTATUS[0]}
    set -e
    echo "run.sh: $name: exit $status after $(( $(date +%s) - start )) s" >&2
    if [[ $status -ne 0 ]]; then
        # The ERROR SUMMARY (valgrind) and the last line (the test) tell which failed.
        grep -E 'ERROR SUMMARY|definitely lost|indirectly lost|[0-9]+ passed, [0-9]+ failed|stress: WATCHDOG' \
            "$out_dir/$name.log" >&2 || true
        stress_failed+=("$name (exit $status, see $out_dir/$name.log)")
    fi
}

stress_stage stress "$out_dir/stress" 8 500 60

if [[ "${SSE_SKIP_VALGRIND:-0}" != 1 ]] && command -v valgrind >/dev/null 2>&1; then
    stress_stage stress-memcheck env SSE_TEST_TIMEOUT_SCALE=6 SSE_STRESS_RUN_MS=400 SSE_STRESS_WATCHDOG=60 \
        valgrind --error-exitcode=1 --leak-check=full \
        --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
        "$out_dir/stress" 4 100 50

    # Helgrind and drd cannot see the Rust side's synchronisation (futex-based std::sync,
    # atomics, crossbeam-channel): valgrind-thread.supp explains the entries, which drop
    # only reports whose access runs inside libsse_client.so, or is the test reading a
    # message handed over by sse_client_poll. Races in C code on C memory still fail.
    thread_tool="${SSE_THREAD_TOOL:-helgrind}"
    case "$thread_tool" in
    helgrind | drd)
        stress_stage "stress-$thread_tool" env SSE_TEST_TIMEOUT_SCALE=10 SSE_STRESS_RUN_MS=600 SSE_STRESS_WATCHDOG=60 \
            valgrind --tool="$thread_tool" --error-exitcode=1 --suppressions="$here/valgrind-thread.supp" \
            "$out_dir/stress" 4 100 80
        ;;
    none) echo "run.sh: SSE_THREAD_TOOL=none: skipping the thread checker" >&2 ;;
    *)
        echo "run.sh: SSE_THREAD_TOOL must be helgrind, drd or none (got $thread_tool)" >&2
        exit 2
        ;;
    esac
else
    echo "run.sh: valgrind not installed (or SSE_SKIP_VALGRIND=1): skipping the stress test's valgrind runs" >&2
fi

if [[ ${#stress_failed[@]} -gt 0 ]]; then
    echo "run.sh: the stress test failed:" >&2
    printf '  %s\n' "${stress_failed[@]}" >&2
    exit 1
fi

echo "run.sh: C tests passed"
