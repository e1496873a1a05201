#!/usr/bin/env bash
# Builds the crate, compiles the C end-to-end test against the cdylib and runs it, then
# again under valgrind when it is installed. Also checks that the header compiles as C++.
#
#   bash tests/c/run.sh
#
# Environment: CC (default cc), CXX (default g++), CARGO (default cargo),
# SSE_SKIP_VALGRIND=1 to skip the valgrind run.
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
run "$CARGO" build

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
    -I "$root/include" "$here/test_api.c" -o "$out_dir/test_api" \
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

echo "run.sh: C tests passed"
