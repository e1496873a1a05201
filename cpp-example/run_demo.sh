#!/usr/bin/env bash
# Builds and runs the Qt console demo, installing cmake, ninja and Qt 6 when missing.
#
#   bash cpp-example/run_demo.sh                 # starts the bundled demo server and connects
#   bash cpp-example/run_demo.sh URL [options]   # any SSE endpoint; see --help
#
# Ctrl+C stops it. Works on a fresh Debian/Ubuntu machine with Rust (rustup) installed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash cmake/install_build_deps.sh
build_dir=build/demo
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSSE_CLIENT_BUILD_TESTS=OFF >/dev/null
cmake --build "$build_dir" --target sse_demo sse_client_demo_server
exec "$build_dir/cpp-example/sse_demo" "$@"
