#!/usr/bin/env bash
# The README's C quick start, as a new user would try it: takes the C program and the
# build commands from README.md (section "C quick start": its first ```c block, and the
# `cargo build` and `cc` lines of its first ```sh block), runs those commands exactly as
# written, and runs the program against the bundled demo server on a free port. Checks
# that it prints five events, ids 1 to 5 in order although the server drops the
# connection on the way (so the resume with Last-Event-ID is seen too), and exits 0 in
# bounded time. Also compiles the program with -std=c99 -Wall -Wextra -Werror -pedantic.
#
#   bash tests/readme_quick_start.sh
#
# Linux; needs cargo and a C compiler (cc).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

fail() { echo "readme_quick_start: $*" >&2; exit 1; }

# --- What the README says -----------------------------------------------------------------
# The lines of the section "## C quick start", up to the next "## " heading.
section=$(awk '/^## C quick start$/{on=1;next} on && /^## /{exit} on' README.md)
[ -n "$section" ] || fail 'README.md has no section "## C quick start"'
program=$(awk '/^```c$/{on=1;next} on && /^```$/{exit} on' <<<"$section")
[ -n "$program" ] || fail 'the C quick start has no ```c block'
commands=$(awk '/^```sh$/{on=1;next} on && /^```$/{exit} on' <<<"$section")
cargo_line=$(grep -E '^cargo build( |$)' <<<"$commands" | head -n 1 || true)
cc_line=$(grep -E '^cc ' <<<"$commands" | head -n 1 || true)
[ -n "$cargo_line" ] || fail 'the C quick start gives no `cargo build` command'
[ -n "$cc_line" ] || fail 'the C quick start gives no `cc` command'
# A trailing comment is the README's explanation, not part of the command.
cargo_line=${cargo_line%%#*}
cc_line=${cc_line%%#*}

# The commands use paths relative to the repository root (include/, target/) and name the
# source quick_start.c and the program quick_start: run them in a scratch directory that
# sees include/ and target/ through links, so nothing is written into the source tree.
work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
ln -s "$root/include" "$work/include"
ln -s "$root/target" "$work/target"
printf '%s\n' "$program" >"$work/quick_start.c"

echo "+ $cargo_line"
bash -c "$cargo_line"
echo "+ (in a scratch directory) $cc_line"
(cd "$work" && bash -c "$cc_line")
[ -x "$work/quick_start" ] || fail "the build command made no ./quick_start"

# The house flags for C (as tests/c/ uses), so that the sample stays clean C99.
cc -std=c99 -Wall -Wextra -Werror -pedantic -fsyntax-only -I"$root/include" "$work/quick_start.c"

# --- The demo server, on a free port ------------------------------------------------------
# --drop-every 3: the connection drops once before the fifth event (between two events or
# in the middle of one), so the run also shows the reconnect and the resume. The server
# announces its address as the first line on stdout.
cargo build --quiet --example demo_server
"$root/target/debug/examples/demo_server" --port 0 --interval-ms 50 --drop-every 3 \
  >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
url=""
for _ in $(seq 100); do
  url=$(sed -n 's/^listening on //p' "$work/server.out")
  [ -n "$url" ] && break
  kill -0 "$server_pid" 2>/dev/null || fail "the demo server exited: $(cat "$work/server.err")"
  sleep 0.1
done
[ -n "$url" ] || fail "the demo server announced no address within 10 s"

# --- The program, as the README runs it (with the server's URL) ---------------------------
echo "+ ./quick_start $url"
status=0
(cd "$work" && NO_PROXY="127.0.0.1,localhost" no_proxy="127.0.0.1,localhost" \
  timeout 60 ./quick_start "$url") >"$work/out" 2>"$work/err" || status=$?
echo "--- stdout"; cat "$work/out"
echo "--- stderr"; cat "$work/err"
[ "$status" -ne 124 ] || fail "the program did not exit within 60 s"
[ "$status" -eq 0 ] || fail "the program exited with status $status, not 0"

# One line per event, "TYPE [id N]: DATA" (a news event's second data line aside).
ids=$(sed -n 's/^[a-z]* \[id \([0-9]*\)\]: .*/\1/p' "$work/out" | tr '\n' ' ')
[ "$ids" = "1 2 3 4 5 " ] || fail "expected the events with ids 1 2 3 4 5, got: $ids"
grep -q '(retrying)' "$work/err" || fail "the dropped connection was not reported as an error with a retry"
echo "readme_quick_start: ok (5 events, ids 1 to 5, one reconnect, exit status 0)"
