#!/usr/bin/env bash
# SSE_TRUST_SYSTEM on Windows, for real: sse_client.dll, cross-built with mingw and run
# under wine64 in a fresh wine prefix, must trust a server only once its CA is in the
# Windows certificate store (the ROOT store, read through schannel by rustls-native-certs).
#
#   1. a test CA and a server certificate for 127.0.0.1, made here with openssl (never
#      committed), and a loopback HTTPS server that sends one event (sse_https_server.py,
#      run natively: wine programs reach the host's 127.0.0.1);
#   2. system_store.exe (system_store.c, against the DLL): refused, unknown issuer;
#   3. cert_store.exe (cert_store.c, crypt32) adds the CA to the LocalMachine ROOT store, as
#      an administrator deploys a company CA; the CurrentUser view must list it;
#   4. system_store.exe: trusted, the event arrives;
#   5. cert_store.exe removes the CA; system_store.exe: refused again (the store is read at
#      each client open, and nothing but the store made the difference).
#
#   bash tests/windows/system_store.sh
#
# Sets its own wine prefix up through env.sh (which recreates $target_dir/wine/prefix):
# run it after any other user of that prefix, e.g. last in tests/windows/run.sh. About
# 40 s once the library is built for the target, a third of it creating the prefix.
# Environment: CARGO (default cargo), SSE_TEST_TIMEOUT_SCALE (default 2), SSE_WINE_TIMEOUT
# (default 120): as for run.sh. SSL_CERT_FILE and SSL_CERT_DIR are unset here: when set,
# they replace the store.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
CARGO="${CARGO:-cargo}"
cd "$root"

run_start=$(date +%s.%N)
# shellcheck source=tests/windows/env.sh
source "$here/env.sh"
server_pid=""
cleanup() {
    [[ -z "$server_pid" ]] || kill "$server_pid" 2>/dev/null || true
    wine_env_cleanup
}
trap cleanup EXIT

unset SSL_CERT_FILE SSL_CERT_DIR
export NO_PROXY="127.0.0.1,localhost,::1${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost,::1${no_proxy:+,$no_proxy}"
export SSE_TEST_TIMEOUT_SCALE="${SSE_TEST_TIMEOUT_SCALE:-2}"
export SSE_WINE_TIMEOUT="${SSE_WINE_TIMEOUT:-120}"
work="$wine_dir/system-store"
rm -rf "$work"
mkdir -p "$work"

# --- certificates: a CA, and a server certificate it signs -------------------------------
openssl_quiet() { "$@" 2>"$work/openssl.log" || { cat "$work/openssl.log" >&2; exit 1; }; }
openssl_quiet openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=sse_client system store test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$work/ca.key" -out "$work/ca.pem"
openssl_quiet openssl x509 -in "$work/ca.pem" -outform DER -out "$work/ca.der"
openssl_quiet openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$work/server.key" -out "$work/server.csr"
printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost" >"$work/server.ext"
openssl_quiet openssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
    -CAcreateserial -days 2 -extfile "$work/server.ext" -out "$work/server.pem"

# --- the server ------------------------------------------------------------------------
event_data="trusted through the Windows certificate store"
python3 "$here/sse_https_server.py" "$work/server.pem" "$work/server.key" "$event_data" \
    >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
for _ in $(seq 100); do
    grep -q '^port ' "$work/server.out" 2>/dev/null && break
    sleep 0.1
done
port="$(sed -n 's/^port //p' "$work/server.out")"
if [[ -z "$port" ]]; then
    cat "$work/server.err" >&2
    echo "tests/windows/system_store: the HTTPS server did not start" >&2
    exit 1
fi
url="https://127.0.0.1:$port/events"

# --- the programs ----------------------------------------------------------------------
stage_start=$(date +%s.%N)
wine_step "$CARGO" build --target "$win_target" --lib
lib_dir="$target_dir/$win_target/debug"
export SSE_WINE_DLLS="$SSE_WINE_DLLS:$lib_dir/sse_client.dll"
cflags=(-std=c99 -Wall -Wextra -Werror -pedantic -g -O1 -static)
wine_step "$win_cc" "${cflags[@]}" "$here/cert_store.c" -o "$work/cert_store.exe" -lcrypt32
wine_step "$win_cc" "${cflags[@]}" -I "$root/include" "$here/system_store.c" -o "$work/system_store.exe" \
    "$lib_dir/libsse_client.dll.a"
echo "tests/windows/system_store: built in $(wine_since "$stage_start") s" >&2

# --- the checks ------------------------------------------------------------------------
stage_start=$(date +%s.%N)
failed=()
run() { wine_step "$here/wine-runner.sh" "$@"; }
run "$work/system_store.exe" "$url" refused || failed+=("before the CA is added: not refused as unknown issuer")
run "$work/cert_store.exe" add machine "$work/ca.der" || failed+=("adding the CA to the LocalMachine ROOT store")
run "$work/cert_store.exe" has user "$work/ca.der" || failed+=("the CurrentUser ROOT view lists the CA")
run "$work/system_store.exe" "$url" trusted "$event_data" || failed+=("after the CA is added: not trusted")
run "$work/cert_store.exe" remove machine "$work/ca.der" || failed+=("removing the CA")
run "$work/system_store.exe" "$url" refused || failed+=("after the CA is removed: not refused as unknown issuer")
echo "tests/windows/system_store: the checks ran in $(wine_since "$stage_start") s" >&2
echo "server side:"
sed 's/^/  /' "$work/server.err"

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "tests/windows/system_store: failed after $(wine_since "$run_start") s:" >&2
    printf '  %s\n' "${failed[@]}" >&2
    exit 1
fi
echo "tests/windows/system_store: SSE_TRUST_SYSTEM follows the Windows certificate store ($(wine_since "$run_start") s)"
