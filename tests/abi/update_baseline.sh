#!/usr/bin/env bash
# Writes the ABI baseline tests/abi/libsse_client-VERSION.abi (default: the version in
# Cargo.toml) from a built library, with libabigail's abidw and tests/abi/sse_client.supp.
# tests/abi/run.sh then checks every fresh library against every baseline with abidiff.
# A release that adds to a view (a trailing field in sse_error) replaces the previous
# baseline, which would report that addition: git rm the old file in the same commit.
#
#   bash tests/abi/update_baseline.sh target/debug/libsse_client.so [VERSION]
#
# Give it a debug build (`cargo build`): the release profile has `debug = 1` (line
# tables only), whose DWARF has no parameter or type information, so its baseline would
# hold the function names and nothing else. The script refuses such a library.
# Regenerate only for a release whose ABI is reviewed: the baseline is the promise.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
lib="${1:?usage: update_baseline.sh LIBRARY.so [VERSION]}"
version="${2:-$(sed -n 's/^version = "\(.*\)"$/\1/p' "$here/../../Cargo.toml" | head -n 1)}"
out="$here/libsse_client-$version.abi"

command -v abidw >/dev/null 2>&1 || {
    echo "update_baseline.sh: abidw not found: apt-get install abigail-tools" >&2
    exit 1
}

# No paths or source locations: the file depends on the library, not on the machine.
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
abidw --no-corpus-path --no-comp-dir-path --no-show-locs --type-id-style hash \
    --suppressions "$here/sse_client.supp" --out-file "$tmp" "$lib"

functions=$(grep -c "<function-decl name='sse_" "$tmp" || true)
parameters=$(grep -c "<parameter " "$tmp" || true)
if [[ $functions -eq 0 || $parameters -eq 0 ]]; then
    echo "update_baseline.sh: $lib gave $functions sse_ functions with $parameters parameters:" \
        "no type information (a release build?); use a debug build" >&2
    exit 1
fi
mv "$tmp" "$out"
trap - EXIT
echo "update_baseline.sh: wrote $out ($functions functions, $(wc -c <"$out") bytes)"
