#!/usr/bin/env bash
# Installs, with apt, whatever the C/C++/Qt build and tests need and this machine lacks.
# Sourced or run by tests/run_all.sh and cpp-example/run_demo.sh; a no-op when all is there.
#
#   bash cmake/install_build_deps.sh [--with-valgrind]
set -euo pipefail

packages=()
have() { command -v "$1" >/dev/null 2>&1; }
have cc || packages+=(gcc)
have g++ || packages+=(g++)
have cmake || packages+=(cmake)
have ninja || packages+=(ninja-build)
have pkg-config || packages+=(pkg-config)
have python3 || packages+=(python3)
# Qt 6 Core, Network and Test with their CMake packages.
[ -f /usr/lib/x86_64-linux-gnu/cmake/Qt6Network/Qt6NetworkConfig.cmake ] \
  || [ -n "$(find /usr/lib -path '*cmake/Qt6Network/Qt6NetworkConfig.cmake' -print -quit 2>/dev/null)" ] \
  || packages+=(qt6-base-dev)
if [ "${1:-}" = "--with-valgrind" ]; then
  have valgrind || packages+=(valgrind)
fi

if [ ${#packages[@]} -gt 0 ]; then
  echo "installing: ${packages[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}"
fi
