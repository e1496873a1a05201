#!/usr/bin/env bash
# The Windows part of the test suite, on Linux: cross-builds the crate for
# x86_64-pc-windows-gnu with mingw and runs, under wine64 in a fresh wine prefix,
#   1. the Rust tests (the unit tests and every tests/*.rs binary but the ones listed in
#      `excluded_test_binaries` below, each with its reason);
#   2. the C API test (tests/c/test_api.c, hostile cases included) and the C concurrency
#      stress test (tests/c/stress.c), each with tests/c/common.c, built with
#      x86_64-w64-mingw32-gcc against sse_client.dll through its import library;
#   3. the CMake package cross-built and installed, and a C-only consumer of it.
# Installs what is missing (see env.sh). Prints the time of each stage; about 5 minutes
# from a cold cache on two cores, most of it compiling.
#
#   bash tests/windows/run.sh
#
# Environment: CARGO (default cargo), SSE_TEST_TIMEOUT_SCALE (passed to the tests; default
# 2 here: a program under wine starts and switches threads more slowly than natively),
# SSE_WINE_TIMEOUT: seconds after which one test program is killed as hung (default 120
# here; the slowest binary, hostile_server, needs about 16).
#
# A test that fails because of the library stays in and fails the run: only what cannot
# work on Windows or under wine whatever the library does is skipped, by name, below.
# Every stage runs; the script then fails naming what failed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
CARGO="${CARGO:-cargo}"
cd "$root"

run_start=$(date +%s.%N)
# shellcheck source=tests/windows/env.sh
source "$here/env.sh"
trap wine_env_cleanup EXIT

# Every test talks to servers on loopback: a proxy from the environment must not catch it.
export NO_PROXY="127.0.0.1,localhost,::1${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost,::1${no_proxy:+,$no_proxy}"
export SSE_TEST_TIMEOUT_SCALE="${SSE_TEST_TIMEOUT_SCALE:-2}"
export SSE_WINE_TIMEOUT="${SSE_WINE_TIMEOUT:-120}"
failed=()

# ---------------------------------------------------------------------------------------
# The Rust tests. A tests/*.rs binary that cannot run under wine is listed here with the
# reason, printed as a SKIP line, and left out; every other binary runs (a new one too).
declare -A excluded_test_binaries=(
    [fork]="fork() does not exist on Windows (the file is #![cfg(unix)]; tests/c/fork.c is POSIX too)"
    [no_leaks]="counts threads and descriptors through /proc/self/task and /proc/self/fd, which Windows does not have"
    [fault_injection]="its support (tests/support/faults/) measures through /proc/self and libc::mmap: Linux only"
)
# Single tests that cannot pass on Windows because of the test itself, not the library:
# their full names, each with the reason, passed to every test binary as `--skip NAME`
# with `--exact` (so a name never skips another test that merely contains it).
declare -A skipped_tests=(
    # wine 8 closes a socket with SO_LINGER 0 gracefully (the peer reads an orderly end,
    # Ok(0)); Windows itself makes it a hard close, a reset. Found by these only.
    [os::socket::tests::reset_on_close_makes_the_peer_see_a_reset]="wine 8 sends a FIN, not an RST, on a close with SO_LINGER 0 (Windows resets)"
    [http::transport::tests::a_reset_that_came_before_the_read_is_reported_as_one_by_both_reads]="wine 8 sends a FIN, not an RST, on a close with SO_LINGER 0 (Windows resets)"
    [http::transport::tests::the_bytes_before_a_reset_are_read_before_it]="wine 8 sends a FIN, not an RST, on a close with SO_LINGER 0 (Windows resets)"
    [http::transport::tests::ureq_reads_a_stream_through_this_transport]="ends with a reset: wine 8 sends a FIN, not an RST, on a close with SO_LINGER 0 (Windows resets)"
    # tests/peer_reset.rs: every test that resets (its orderly-close twins run); and
    # tests/reconnect.rs's reset of a close-delimited stream.
    [abrupt_reset_of_a_close_delimited_stream_reconnects]="wine 8 sends a FIN, not an RST, on a close with SO_LINGER 0 (Windows resets): the stream then ends in order instead of being reset"
    [a_reset_of_a_chunked_stream_between_or_inside_chunks_is_an_io_error_and_reconnects]="wine 8 sends a FIN, not an RST, on a close with SO_LINGER 0 (Windows resets): the stream then ends in order, or early, instead of being reset"
    [a_reset_mid_event_of_a_close_delimited_stream_is_an_io_error_and_drops_the_partial_event]="wine 8 sends a FIN, not an RST, on a close with SO_LINGER 0 (Windows resets): the stream then ends in order, or early, instead of being reset"
    [a_reset_of_a_close_delimited_stream_is_an_io_error_and_reconnects]="wine 8 sends a FIN, not an RST, on a close with SO_LINGER 0 (Windows resets): the stream then ends in order, or early, instead of being reset"
    [a_reset_of_a_tls_stream_is_an_io_error_and_reconnects]="wine 8 sends a FIN, not an RST, on a close with SO_LINGER 0 (Windows resets): the stream then ends in order, or early, instead of being reset"
    [environment_variables_choose_the_proxy_unless_disabled_or_excluded]="Windows environment variable names are case-insensitive: http_proxy and HTTP_PROXY are one variable, so its 'the lower-case one wins' step cannot be set up"
)

test_args=(--lib)
for file in tests/*.rs; do
    name="$(basename "$file" .rs)"
    if [[ -n "${excluded_test_binaries[$name]:-}" ]]; then
        echo "SKIP tests/$name.rs under wine (${excluded_test_binaries[$name]})"
        continue
    fi
    test_args+=(--test "$name")
done
skip_args=(--exact)
for pattern in "${!skipped_tests[@]}"; do
    echo "SKIP test $pattern under wine (${skipped_tests[$pattern]})"
    skip_args+=(--skip "$pattern")
done

stage_start=$(date +%s.%N)
wine_step "$CARGO" test --target "$win_target" --no-run "${test_args[@]}"
echo "tests/windows: Rust tests built in $(wine_since "$stage_start") s" >&2

stage_start=$(date +%s.%N)
wine_step "$CARGO" test --target "$win_target" --no-fail-fast "${test_args[@]}" -- "${skip_args[@]}" \
    || failed+=("the Rust tests (cargo names the failed binaries above)")
echo "tests/windows: Rust tests ran in $(wine_since "$stage_start") s" >&2

# ---------------------------------------------------------------------------------------
# The C API test against the DLL. Cargo makes sse_client.dll and its import library
# libsse_client.dll.a (the MinGW name; MSVC's would be sse_client.dll.lib). The import
# library is named by path: `-lsse_client` could pick the static libsse_client.a.
stage_start=$(date +%s.%N)
wine_step "$CARGO" build --target "$win_target" --lib
export SSE_WINE_DLLS="$SSE_WINE_DLLS:$target_dir/$win_target/debug/sse_client.dll"
lib_dir="$target_dir/$win_target/debug"
out_dir="$wine_dir/c-tests"
mkdir -p "$out_dir"
for file in sse_client.dll libsse_client.dll.a; do
    if [[ ! -f "$lib_dir/$file" ]]; then
        echo "tests/windows: $lib_dir/$file not found after cargo build" >&2
        exit 1
    fi
done
# -static: winpthreads and libgcc go into the executable, so that only the library's DLL
# and the shim are needed next to it (the runner copies both there).
wine_step "$win_cc" -std=c99 -Wall -Wextra -Werror -pedantic -D_POSIX_C_SOURCE=200809L -g -O1 -static \
    -I "$root/include" "$root/tests/c/test_api.c" "$root/tests/c/common.c" -o "$out_dir/test_api.exe" \
    "$lib_dir/libsse_client.dll.a" -lws2_32 -lpthread
wine_step "$here/wine-runner.sh" "$out_dir/test_api.exe" || failed+=("the C API test (exit $?; 124: killed as hung)")
echo "tests/windows: C API test built and ran in $(wine_since "$stage_start") s" >&2

# The C concurrency stress test: 8 threads x 100 iterations (at most 30 s to start one),
# each client running 0-100 ms, as under valgrind: connecting under wine takes long enough
# that shorter runs close most clients before any event (about 15 s).
stage_start=$(date +%s.%N)
wine_step "$win_cc" -std=c99 -Wall -Wextra -Werror -pedantic -D_POSIX_C_SOURCE=200809L -g -O1 -static \
    -I "$root/include" "$root/tests/c/stress.c" "$root/tests/c/common.c" -o "$out_dir/stress.exe" \
    "$lib_dir/libsse_client.dll.a" -lws2_32 -lpthread
wine_step env SSE_STRESS_RUN_MS=100 "$here/wine-runner.sh" "$out_dir/stress.exe" 8 100 30 \
    || failed+=("the C stress test (exit $?; 124: killed as hung)")
echo "tests/windows: C stress test built and ran in $(wine_since "$stage_start") s" >&2
echo "SKIP tests/c/fork.c under wine (fork() does not exist on Windows)"

# ---------------------------------------------------------------------------------------
# The CMake package, cross-built with the MinGW toolchain file and installed; then a
# C-only project finds it with find_package, links the DLL through the import library,
# and runs under wine. cargo shares the target directory above (dev profile), so the
# library is not built again.
stage_start=$(date +%s.%N)
package_build="$wine_dir/cmake-build"
package_prefix="$wine_dir/cmake-install"
consumer_build="$wine_dir/cmake-consumer"
rm -rf "$package_build" "$package_prefix" "$consumer_build"
toolchain="$root/cmake/toolchains/mingw-w64-x86_64.cmake"
package_ok=1
wine_step cmake -S "$root" -B "$package_build" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$toolchain" \
    -DCMAKE_BUILD_TYPE=Debug -DSSE_CLIENT_BUILD_QT=OFF -DSSE_CLIENT_BUILD_TESTS=OFF \
    -DSSE_CLIENT_CARGO_TARGET_DIR="$target_dir" >/dev/null \
  && wine_step cmake --build "$package_build" \
  && wine_step cmake --install "$package_build" --prefix "$package_prefix" || package_ok=0
for file in bin/sse_client.dll lib/libsse_client.dll.a lib/libsse_client.a include/sse_client.h \
            lib/cmake/SseClient/SseClientConfig.cmake lib/pkgconfig/sse_client.pc; do
    [[ -f "$package_prefix/$file" ]] || { echo "tests/windows: the install lacks $file" >&2; package_ok=0; }
done
if [[ $package_ok -eq 1 ]]; then
    wine_step cmake -S "$root/tests/cmake_consumer/c_only" -B "$consumer_build" -G Ninja \
        -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DCMAKE_PREFIX_PATH="$package_prefix" >/dev/null \
      && wine_step cmake --build "$consumer_build" || package_ok=0
fi
if [[ $package_ok -eq 1 ]]; then
    imports="$(x86_64-w64-mingw32-objdump -p "$consumer_build/consumer_c.exe")"
    if [[ "$imports" != *"DLL Name: sse_client.dll"* ]]; then
        echo "tests/windows: consumer_c.exe does not import sse_client.dll" >&2
        package_ok=0
    fi
    output="$(SSE_WINE_DLLS="$shim_dll:$package_prefix/bin/sse_client.dll" \
        "$here/wine-runner.sh" "$consumer_build/consumer_c.exe")" || package_ok=0
    echo "$output"
    [[ "$output" == *"consumer_c: ok"* ]] || package_ok=0
fi
[[ $package_ok -eq 1 ]] || failed+=("the CMake package cross-built for Windows and its C consumer")
echo "tests/windows: CMake package and consumer in $(wine_since "$stage_start") s" >&2

# SSE_TRUST_SYSTEM against the Windows certificate store. Last: it recreates the wine prefix (env.sh).
stage_start=$(date +%s.%N)
bash "$here/system_store.sh" || failed+=("SSE_TRUST_SYSTEM and the Windows certificate store (tests/windows/system_store.sh)")
echo "tests/windows: system store test in $(wine_since "$stage_start") s" >&2

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "tests/windows: failed after $(wine_since "$run_start") s:" >&2
    printf '  %s\n' "${failed[@]}" >&2
    exit 1
fi
echo "tests/windows: Windows tests passed in $(wine_since "$run_start") s"
