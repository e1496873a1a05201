#!/usr/bin/env bash
# Checks the crate for macOS (aarch64-apple-darwin) on this Linux machine: cargo clippy of
# every target with -D warnings, so that the macOS paths (the POSIX socket calls, the
# keychain trust store, the pipe wakeup) compile and lint clean. A check, not a build:
# there is no macOS SDK here, so nothing is linked.
#
#   bash tools/check-macos/run.sh
#
# ring's build script compiles C even for a check. Debian's clang targets macOS
# (--target=arm64-apple-macos11) but has no SDK headers: ring's C needs only the
# compiler's own headers (RING_CORE_NOSTDLIBINC, which ring provides for freestanding
# targets) plus <TargetConditionals.h>, for which this folder holds a stand-in with the
# SDK's values for macOS.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=tools/check-macos
target=aarch64-apple-darwin

if ! command -v clang >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends clang
fi
rustup target list --installed | grep -qx "$target" || rustup target add "$target"

export CC_aarch64_apple_darwin=clang
export CFLAGS_aarch64_apple_darwin="--target=arm64-apple-macos11 -ffreestanding -nostdlibinc -DRING_CORE_NOSTDLIBINC=1 -I$PWD/$here"
cargo clippy --target "$target" --all-targets -- -D warnings
