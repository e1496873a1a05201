#!/usr/bin/env bash
# Runs a cargo-fuzz target for SECONDS (default 20), installing what is missing first: the
# nightly toolchain (through rustup) and cargo-fuzz (from crates.io, --locked).
#
#   fuzz/run.sh [SECONDS] [TARGET]        TARGET: retry_after (the default)
#
# Built with debug assertions (-a), so that an integer overflow is a crash, not a silent
# wrap. Crashes land in fuzz/artifacts/TARGET/ and make the script fail; the corpus grows
# in fuzz/corpus/TARGET/ (both ignored by git). Extra libFuzzer flags: FUZZ_FLAGS="-jobs=2".
set -euo pipefail

seconds="${1:-20}"
target="${2:-retry_after}"
fuzz_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "run.sh: installing the nightly toolchain" >&2
    rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "run.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

dict=()
if [[ -f "$fuzz_dir/$target.dict" ]]; then
    dict=("-dict=$fuzz_dir/$target.dict")
fi
mkdir -p "$fuzz_dir/corpus/$target"
# cargo fuzz finds fuzz/ from the crate root.
cd "$fuzz_dir/.."
# shellcheck disable=SC2086 # FUZZ_FLAGS is a list of flags.
exec cargo +nightly fuzz run -a "$target" -- \
    -max_total_time="$seconds" "${dict[@]}" ${FUZZ_FLAGS:-}
