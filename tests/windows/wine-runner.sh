#!/usr/bin/env bash
# Cargo's runner for x86_64-pc-windows-gnu (set by tests/windows/run.sh through
# CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER): runs one Windows executable under wine64.
#
#   wine-runner.sh program.exe [args...]
#
# Windows looks for a DLL next to the executable first, so the ProcessPrng shim
# (bcryptprimitives.dll, see processprng.c) and the library's DLL are copied there
# before the start. A program that runs longer than SSE_WINE_TIMEOUT seconds (default 300;
# the slowest test binary needs about 35) is killed and fails: a hang must fail the run,
# not stall CI. Environment (exported by run.sh): SSE_WINE64 (the wine64 loader),
# SSE_WINE_DLLS (a colon-separated list of DLLs to place next to the program),
# WINEPREFIX, WINEDEBUG.
set -euo pipefail

program="$1"
shift
dir="$(dirname "$program")"
IFS=: read -r -a dlls <<<"${SSE_WINE_DLLS:-}"
for dll in "${dlls[@]}"; do
    [[ -n "$dll" ]] || continue
    # -u: copy only when newer, so that parallel runs do not rewrite a DLL being loaded.
    cp -u "$dll" "$dir/"
done
exec timeout --kill-after=10 "${SSE_WINE_TIMEOUT:-300}" \
    "${SSE_WINE64:?run through tests/windows/run.sh}" "$program" "$@"
