# Sourced by tests/windows/run.sh (bash): prepares everything a Windows test run needs on
# Linux and exports it, so that `cargo test --target x86_64-pc-windows-gnu` and the
# executables built with mingw run under wine:
#   - installs what is missing (mingw gcc, wine and wine64, the Rust target);
#   - a fresh wine prefix under the target directory, created up front and timed (its
#     first start takes seconds; every later start reuses the running wineserver);
#   - the ProcessPrng shim (processprng.c) built as bcryptprimitives.dll;
#   - cargo's runner for the target, through an environment variable only (a
#     .cargo/config.toml would change every build of the repository).
# Needs: $root (the repository) set by the caller. Sets: $target_dir, $wine_dir, $WINE64,
# $shim_dll, and the exported variables below. Call wine_env_cleanup on exit (stops the
# prefix's wineserver).

win_target=x86_64-pc-windows-gnu
win_cc=x86_64-w64-mingw32-gcc

wine_step() { printf '+ %s\n' "$*" >&2; "$@"; }

# Seconds since the epoch with milliseconds, and a duration since such a start.
wine_now() { date +%s.%N; }
wine_since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# --- what is missing --------------------------------------------------------------------
wine_missing=()
command -v "$win_cc" >/dev/null 2>&1 || wine_missing+=(gcc-mingw-w64-x86-64)
# The CMake package's cross build enables C++ too.
command -v x86_64-w64-mingw32-g++ >/dev/null 2>&1 || wine_missing+=(g++-mingw-w64-x86-64)
dpkg -s wine >/dev/null 2>&1 || wine_missing+=(wine)
dpkg -s wine64 >/dev/null 2>&1 || wine_missing+=(wine64)
if [[ ${#wine_missing[@]} -gt 0 ]]; then
    sudo_cmd=()
    [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
    wine_step "${sudo_cmd[@]}" apt-get update -qq
    wine_step env DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
        "${wine_missing[@]}"
fi
rustup target list --installed | grep -qx "$win_target" || wine_step rustup target add "$win_target"

# --- the 64-bit loader: not on PATH in Debian's wine64 package ------------------------
WINE64="$(dpkg -L wine64 2>/dev/null | grep -E '^/usr/(lib|bin)/.*/?wine64$' | head -n 1 || true)"
[[ -n "$WINE64" && -x "$WINE64" ]] || WINE64=/usr/lib/wine/wine64
if [[ ! -x "$WINE64" ]]; then
    echo "tests/windows: the wine64 loader was not found (dpkg -L wine64)" >&2
    exit 1
fi
WINESERVER="$(dirname "$WINE64")/wineserver"
[[ -x "$WINESERVER" ]] || WINESERVER="$(command -v wineserver)"

# --- directories ------------------------------------------------------------------------
target_dir="${CARGO_TARGET_DIR:-$root/target}"
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
wine_dir="$target_dir/wine"
mkdir -p "$wine_dir"

# --- a fresh prefix -----------------------------------------------------------------------
export WINEPREFIX="$wine_dir/prefix"
export WINEARCH=win64
# A missing DLL must be reported: with -all alone the loader exits with status 53 silently.
export WINEDEBUG=-all,err+module
# No Mono or Gecko download prompts (nothing here needs .NET or the HTML engine).
export WINEDLLOVERRIDES="mscoree=;mshtml="
# No window may appear (there may be no display at all).
unset DISPLAY WAYLAND_DISPLAY

wine_env_cleanup() {
    # Stops this prefix's wineserver (and with it any wine process left in the prefix).
    [[ -d "$WINEPREFIX" ]] && "$WINESERVER" -k 2>/dev/null || true
}

# A server left by an interrupted run would hold the old prefix open.
wine_env_cleanup
rm -rf "$WINEPREFIX"
mkdir -p "$WINEPREFIX"
wine_start=$(wine_now)
# A persistent server for the whole run, started first: every later start of a program
# then costs about 0.2 s instead of seconds.
wine_step "$WINESERVER" -p
wine_step "$WINE64" wineboot -i >"$wine_dir/wineboot.log" 2>&1 || {
    cat "$wine_dir/wineboot.log" >&2
    echo "tests/windows: wineboot failed" >&2
    exit 1
}
echo "tests/windows: wine prefix created in $(wine_since "$wine_start") s ($WINEPREFIX)" >&2

# --- the ProcessPrng shim -----------------------------------------------------------------
shim_dll="$wine_dir/shim/bcryptprimitives.dll"
mkdir -p "$(dirname "$shim_dll")"
wine_step "$win_cc" -std=c99 -Wall -Wextra -Werror -O2 -shared -Wl,--kill-at \
    -o "$shim_dll" "$root/tests/windows/processprng.c" -lbcrypt

# --- cargo ------------------------------------------------------------------------------
export SSE_WINE64="$WINE64"
export SSE_WINE_DLLS="$shim_dll"
# The linker is left to Rust's default for the target, which is $win_cc already: cargo
# keeps the linker setting in every fingerprint, so setting it here would rebuild the
# whole tree (measured: 158 s) after each plain `cargo build --target $win_target`, and
# that build after each run of this script. A CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER of
# the caller's own is kept as it is.
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER="$root/tests/windows/wine-runner.sh"
