#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what is missing, then checks formatting,
# lints, the committed header, the Rust tests, a short fuzzing run of the Retry-After
# parser, the C API test (with the fork test), the ABI from Python, and
# the CMake package with the Qt wrapper and its tests through ctest.
#
#   bash tests/run_all.sh
#
# Works on a fresh Debian/Ubuntu machine with Rust (rustup) installed.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

# Every test talks to servers on loopback: a proxy from the environment must not catch that
# traffic (tests/proxy.rs sets the proxy variables it tests itself).
export NO_PROXY="127.0.0.1,localhost,::1${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost,::1${no_proxy:+,$no_proxy}"

step "tools: installing what is missing"
bash cmake/install_build_deps.sh --with-valgrind
for component in rustfmt clippy; do
  rustup component list --installed 2>/dev/null | grep -q "^$component" \
    || rustup component add "$component"
done

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings

step "Windows (x86_64-pc-windows-gnu): cargo clippy --all-targets"
rustup target list --installed | grep -qx x86_64-pc-windows-gnu \
  || rustup target add x86_64-pc-windows-gnu
# ring's build script compiles C with the MinGW cross compiler.
command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 || {
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends gcc-mingw-w64-x86-64
}
cargo clippy --target x86_64-pc-windows-gnu --all-targets -- -D warnings

step "macOS (aarch64-apple-darwin): cargo clippy --all-targets, a check without the SDK"
bash tools/check-macos/run.sh

step "header matches the sources (tools/gen-header --check)"
# An explicit step, not build.rs: no build writes into the source tree.
cargo run --quiet --manifest-path tools/gen-header/Cargo.toml -- --check
if git rev-parse --git-dir >/dev/null 2>&1 \
   && [ -n "$(git ls-files --others --exclude-standard include)" ]; then
  echo "include/ has untracked files: commit them or remove them" >&2
  exit 1
fi
cargo build

step "the shared library exports only sse_* symbols"
bash tests/check_exports.sh target/debug/libsse_client.so

step "every name of ../shared/API.md is in the header"
bash tests/api_contract.sh

step "cargo test"
cargo test --all-targets

step "the POSIX pipe wakeup (the macOS/BSD path), forced on Linux"
cargo test --features pipe-wakeup --lib
cargo test --features pipe-wakeup --test poll_mode
SSE_CARGO_FEATURES=pipe-wakeup SSE_SKIP_VALGRIND=1 bash tests/c/run.sh

step "fuzz the Retry-After parser (cargo-fuzz, nightly; 20 s)"
bash fuzz/run.sh 20 retry_after

# Miri interprets on one core for a few minutes: it runs beside the steps below (after the
# fuzz step has installed the nightly toolchain) and is waited for at the end.
step "Miri (tests/miri.sh): started in the background, its result comes at the end"
mkdir -p target
miri_log=target/miri.log
bash tests/miri.sh > "$miri_log" 2>&1 &
miri_pid=$!
trap 'kill "$miri_pid" 2>/dev/null || true' EXIT

step "C API test"
bash tests/c/run.sh

step "Windows: the Rust tests and the C API test under wine (tests/windows/run.sh)"
bash tests/windows/run.sh

step "ABI: hosts built against the frozen headers, abidiff against the baseline"
bash tests/abi/run.sh

step "the ABI from another language (Python ctypes)"
python3 tests/python/test_ctypes.py target/debug/libsse_client.so

step "CMake package, Qt wrapper, demo and consumer tests (ctest)"
build_dir=build/ci
# Qt is required here: a missing Qt must fail the run, not skip its tests.
# cargo's own target directory: the release library it builds is the one the README's C
# quick start (next step) links, so it is built once.
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSSE_CLIENT_BUILD_QT=ON \
  -DSSE_CLIENT_CARGO_TARGET_DIR="$PWD/target"
cmake --build "$build_dir"
QT_QPA_PLATFORM=offscreen ctest --test-dir "$build_dir" --output-on-failure

step "the README's C quick start builds and runs (tests/readme_quick_start.sh)"
bash tests/readme_quick_start.sh

step "Miri: undefined behaviour in the pure modules' unit tests (tests/miri.sh, nightly)"
if wait "$miri_pid"; then
  tail -n 4 "$miri_log"
else
  cat "$miri_log"
  echo "Miri failed (the log above: $miri_log)" >&2
  exit 1
fi
