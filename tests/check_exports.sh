#!/usr/bin/env bash
# Checks that a shared library exports the C API and nothing else: every defined dynamic
# symbol must start with `sse_`, and there must be at least one (an empty or foreign
# library does not pass). Anything else exported (a Rust or dependency symbol, a C helper)
# would become part of the ABI that 1.x promises to keep.
#
#   bash tests/check_exports.sh target/debug/libsse_client.so
#
# Exit status 0 when the exports are clean, 1 when not (each stray symbol is listed),
# 2 on a usage error. Needs `nm` (binutils) with -D; NM=/path/to/nm picks another one.
set -euo pipefail
NM="${NM:-nm}"

if [[ $# -ne 1 ]]; then
    echo "usage: $0 <path/to/libsse_client.so>" >&2
    exit 2
fi
library="$1"
if [[ ! -f "$library" ]]; then
    echo "check_exports.sh: $library: no such file" >&2
    exit 2
fi

# `nm -D --defined-only` lines: "<address> <type> <name>[@version]". Symbol versions
# (name@VERSION, name@@VERSION) are dropped before the check.
symbols="$("$NM" -D --defined-only "$library" | awk 'NF >= 3 { sub(/@.*/, "", $3); print $3 }' | sort -u)"
exported_api="$(grep -c '^sse_' <<<"$symbols" || true)"
strays="$(grep -v '^sse_' <<<"$symbols" | grep -v '^$' || true)"

status=0
if [[ -n "$strays" ]]; then
    echo "check_exports.sh: $library exports symbols outside the sse_ API:" >&2
    sed 's/^/  /' <<<"$strays" >&2
    status=1
fi
if [[ "$exported_api" -eq 0 ]]; then
    echo "check_exports.sh: $library exports no sse_ symbol at all (not the sse_client library?)" >&2
    status=1
fi
if [[ $status -eq 0 ]]; then
    echo "check_exports.sh: $library exports $exported_api symbols, all sse_*"
fi
exit $status
