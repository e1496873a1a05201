#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what is missing, then checks formatting,
# lints, the committed header, the Rust tests and the C API test.
#
#   bash tests/run_all.sh
#
# Works on a fresh Debian/Ubuntu machine with Rust (rustup) installed.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

need_apt=()
command -v cc >/dev/null || need_apt+=(gcc)
command -v g++ >/dev/null || need_apt+=(g++)
command -v valgrind >/dev/null || need_apt+=(valgrind)
command -v python3 >/dev/null || need_apt+=(python3)
if [ ${#need_apt[@]} -gt 0 ]; then
  step "installing ${need_apt[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}"
fi
for component in rustfmt clippy; do
  rustup component list --installed 2>/dev/null | grep -q "^$component" \
    || rustup component add "$component"
done

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings

step "header matches the sources"
cargo build
if git rev-parse --git-dir >/dev/null 2>&1; then
  if ! git diff --exit-code -- include/sse_client.h; then
    echo "include/sse_client.h differs from what cbindgen generates: commit the regenerated header" >&2
    exit 1
  fi
  if [ -n "$(git ls-files --others --exclude-standard include)" ]; then
    echo "include/ has untracked generated files: commit them" >&2
    exit 1
  fi
fi

step "every name of ../shared/API.md is in the header"
bash tests/api_contract.sh

step "cargo test"
cargo test --all-targets

step "the README's C quick start compiles"
mkdir -p target/readme
awk '/^```c$/{on=1;next} /^```$/{on=0} on' README.md > target/readme/quick_start.c
cc -std=c99 -Wall -Wextra -Werror -pedantic -Iinclude target/readme/quick_start.c \
  -Ltarget/debug -lsse_client -o target/readme/quick_start

step "C API test"
bash tests/c/run.sh

step "the ABI from another language (Python ctypes)"
python3 tests/python/test_ctypes.py target/debug/libsse_client.so
