#!/usr/bin/env bash
# The ABI compatibility test.
#
# 1. For each frozen release header tests/abi/sse_client-X.Y.Z.h, builds
#    tests/abi/compat_host.c against it (as sse_client.h; with tests/c/common.c, the C
#    tests' plumbing, which does not include sse_client.h) and runs it against the fresh
#    library: natively, then under valgrind memcheck when valgrind is installed. The host
#    talks to the demo server (examples/demo_server.rs), which this script starts.
# 2. For each ABI baseline tests/abi/libsse_client-X.Y.Z.abi, runs abidiff of it against
#    the fresh library with tests/abi/sse_client.supp. The suppressions let additions
#    through (a new function, an appended enumerator, a change inside an opaque handle);
#    any other reported change fails, not only what abidiff itself calls incompatible
#    (its bit 8 is set for a removed function only: a moved struct field, a changed
#    parameter type or a renumbered enum value set only bit 4). Skipped, saying so, when
#    there is no baseline yet (tests/abi/update_baseline.sh makes one).
#
#   bash tests/abi/run.sh [LIBDIR]
#
# LIBDIR holds libsse_client.so (default: the debug build, built here by cargo). abidiff
# needs a debug build's DWARF (see update_baseline.sh). Installs gcc, valgrind and
# abigail-tools with apt when missing. Environment: CC (default cc), CARGO (default
# cargo), SSE_SKIP_VALGRIND=1 to skip the valgrind runs.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
CC="${CC:-cc}"
CARGO="${CARGO:-cargo}"

run() {
    printf '+ %s\n' "$*" >&2
    "$@"
}

# Tools, installed the way cmake/install_build_deps.sh installs the others.
have() { command -v "$1" >/dev/null 2>&1; }
packages=()
have "$CC" || packages+=(gcc)
have abidiff || packages+=(abigail-tools)
if [[ "${SSE_SKIP_VALGRIND:-0}" != 1 ]]; then have valgrind || packages+=(valgrind); fi
if [[ ${#packages[@]} -gt 0 ]]; then
    echo "run.sh: installing ${packages[*]}" >&2
    sudo=""
    [[ "$(id -u)" -eq 0 ]] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}"
fi

# LIBDIR relative to where the script was called from.
lib_arg=""
if [[ $# -ge 1 ]]; then lib_arg="$(cd "$1" && pwd)"; fi

cd "$root"
# Honour CARGO_TARGET_DIR when set; the default is target/ in the repository root.
target_dir="${CARGO_TARGET_DIR:-$root/target}"
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
# The demo server is the hosts' peer. Built first: building an example (with the
# dev-dependencies) builds the library too, and the one tested is `cargo build`'s.
run "$CARGO" build --example demo_server
if [[ -n "$lib_arg" ]]; then
    lib_dir="$lib_arg"
else
    run "$CARGO" build
    lib_dir="$target_dir/debug"
fi
if [[ ! -f "$lib_dir/libsse_client.so" ]]; then
    echo "run.sh: $lib_dir/libsse_client.so not found" >&2
    exit 1
fi
out_dir="$target_dir/abi-tests"
mkdir -p "$out_dir"

failed=()

# ---------------------------------------------------------------------------------------
# The loader looks for the library by its SONAME (libsse_client.so.1 from 1.0 on), which a
# cargo build directory does not hold: give it one, in a directory on the hosts' rpath.
soname_dir="$out_dir/soname"
rm -rf "$soname_dir"
mkdir -p "$soname_dir"
soname="$(readelf -d "$lib_dir/libsse_client.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')"
if [[ -n "$soname" && ! -e "$lib_dir/$soname" ]]; then
    ln -s "$lib_dir/libsse_client.so" "$soname_dir/$soname"
fi

# ---------------------------------------------------------------------------------------
# The demo server: one for every run, on a free loopback port, no planned drops, fast.
server_out="$out_dir/demo_server.out"
rm -f "$server_out" # the last run's address must not be read before this server writes its own
"$target_dir/debug/examples/demo_server" --port 0 --drop-every 0 --interval-ms 20 \
    >"$server_out" 2>"$out_dir/demo_server.log" &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true' EXIT
base_url=""
for _ in $(seq 100); do
    base_url="$(sed -n 's#^listening on \(http://[^/]*\)/events$#\1#p' "$server_out")"
    [[ -n "$base_url" ]] && break
    sleep 0.1
done
if [[ -z "$base_url" ]]; then
    echo "run.sh: the demo server did not start; see $out_dir/demo_server.log" >&2
    exit 1
fi
echo "run.sh: demo server at $base_url" >&2

# ---------------------------------------------------------------------------------------
# The hosts, one per frozen header.
headers=("$here"/sse_client-*.h)
if [[ ! -f "${headers[0]}" ]]; then
    echo "run.sh: no frozen header (tests/abi/sse_client-*.h)" >&2
    exit 1
fi
for header in "${headers[@]}"; do
    version="$(basename "$header" .h)"
    version="${version#sse_client-}"
    include_dir="$out_dir/include-$version"
    host="$out_dir/compat_host-$version"
    mkdir -p "$include_dir"
    cp "$header" "$include_dir/sse_client.h"
    # A library without a symbol the header declares fails here, at link time (a program
    # built earlier would fail to load): record it and go on to abidiff, which names it.
    if ! run "$CC" -std=c99 -Wall -Wextra -Werror -pedantic -D_POSIX_C_SOURCE=200809L -g -O1 \
        -I "$include_dir" "$here/compat_host.c" "$root/tests/c/common.c" -o "$host" \
        -L "$lib_dir" -lsse_client -Wl,-rpath,"$lib_dir" -Wl,-rpath,"$soname_dir" -lpthread; then
        failed+=("host built against $version: does not compile or link")
        continue
    fi

    set +e
    run "$host" "$base_url" >"$out_dir/host-$version.log" 2>&1
    status=$?
    set -e
    tail -n 1 "$out_dir/host-$version.log"
    if [[ $status -ne 0 ]]; then
        grep '^FAIL' "$out_dir/host-$version.log" >&2 || true
        failed+=("host built against $version (exit $status, see $out_dir/host-$version.log)")
    fi

    if [[ "${SSE_SKIP_VALGRIND:-0}" != 1 ]] && have valgrind; then
        # As tests/c/run.sh: still-reachable Rust thread-locals are allowed; definite and
        # indirect leaks and every memory error fail.
        set +e
        run env SSE_TEST_TIMEOUT_SCALE=6 valgrind --error-exitcode=1 --leak-check=full \
            --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
            "$host" "$base_url" >"$out_dir/host-$version-memcheck.log" 2>&1
        status=$?
        set -e
        grep -E 'passed, [0-9]+ failed|ERROR SUMMARY' "$out_dir/host-$version-memcheck.log" || true
        if [[ $status -ne 0 ]]; then
            grep '^FAIL' "$out_dir/host-$version-memcheck.log" >&2 || true
            failed+=("host built against $version under memcheck (exit $status, see $out_dir/host-$version-memcheck.log)")
        fi
    else
        echo "run.sh: valgrind not installed (or SSE_SKIP_VALGRIND=1): skipping the memcheck run" >&2
    fi
done

# ---------------------------------------------------------------------------------------
# abidiff against each baseline.
baselines=("$here"/libsse_client-*.abi)
if [[ ! -f "${baselines[0]}" ]]; then
    echo "run.sh: no ABI baseline (tests/abi/libsse_client-*.abi) yet: skipping abidiff;" \
        "create one with tests/abi/update_baseline.sh once the release header is final" >&2
else
    for baseline in "${baselines[@]}"; do
        name="$(basename "$baseline" .abi)"
        set +e
        run abidiff --suppressions "$here/sse_client.supp" "$baseline" "$lib_dir/libsse_client.so" \
            >"$out_dir/abidiff-$name.txt" 2>&1
        status=$?
        set -e
        cat "$out_dir/abidiff-$name.txt"
        # abidiff's exit status is a bit field: 1 error, 2 usage error, 4 ABI change,
        # 8 incompatible ABI change. Additions are suppressed, so any bit fails.
        if (( status & 3 )); then
            failed+=("abidiff against $name could not run (exit $status)")
        elif (( status & 8 )); then
            failed+=("abidiff against $name: an incompatible ABI change (exit $status)")
        elif (( status & 4 )); then
            failed+=("abidiff against $name: an ABI change that is not an addition (exit $status)")
        else
            echo "run.sh: abidiff against $name: compatible (exit $status)" >&2
        fi
    done
fi

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "run.sh: the ABI test failed:" >&2
    printf '  %s\n' "${failed[@]}" >&2
    exit 1
fi
echo "run.sh: ABI tests passed"
