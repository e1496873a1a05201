#!/usr/bin/env bash
# Runs the pure modules' unit tests under Miri, which reports undefined behaviour: the
# parser and its line scanner (SIMD intrinsics, the unchecked UTF-8 of ASCII lines), Text,
# the reconnect policy and the delivery buffers. No sockets, threads with timing or FFI
# here: what Miri cannot run is marked #[cfg_attr(miri, ignore)] with its reason.
#
# Needs the nightly toolchain with the miri component:
#   rustup component add miri --toolchain nightly
set -euo pipefail
cd "$(dirname "$0")/.."
# The real clock: the Retry-After tests of policy read the time of day.
export MIRIFLAGS="${MIRIFLAGS:--Zmiri-disable-isolation}"
exec cargo +nightly miri test --lib -- \
    sse:: policy:: delivery::batch:: delivery::poll_queue:: delivery::report:: \
    delivery::published_id:: "$@"
