#!/usr/bin/env bash
# Two checks of the generated header:
# 1. Every name of the C API contract (../shared/API.md) appears in the header as written
#    (skipped when the contract is not there).
# 2. Every name the header defines starts with sse_ or SSE_: typedef names, struct, enum
#    and union tags, enum constants, macros (the include guard aside) and functions. A
#    host's C namespace is shared by every library it links; a name like ErrorKind_COUNT
#    (a Rust constant cbindgen picked up) can clash with the host's own.
#
#   bash tests/api_contract.sh [contract]      (SSE_HEADER=path checks another header)
set -euo pipefail
cd "$(dirname "$0")/.."
contract=${1:-../shared/API.md}
header=${SSE_HEADER:-include/sse_client.h}
failed=0

# ---- 1. The contract's names are all there.
if [ -f "$contract" ]; then
  # Names in the contract's C code blocks: every sse_/SSE_ identifier.
  names=$(awk '/^```c/{on=1;next} /^```/{on=0} on' "$contract" | grep -oE '\b(sse|SSE)_[A-Za-z0-9_]+\b' | sort -u)
  missing=0
  for name in $names; do
    if ! grep -qE "\b$name\b" "$header"; then
      echo "missing from $header: $name"
      missing=$((missing + 1))
    fi
  done
  count=$(echo "$names" | wc -w)
  echo "API contract: $((count - missing)) of $count names present in $header"
  [ "$missing" -eq 0 ] || failed=1
else
  echo "contract $contract not found; skipping the name check" >&2
fi

# ---- 2. Every name the header defines is ours.
# The header is cbindgen's output, whose shape is regular: comments are // lines (or the
# /* */ banner), a typedef'd struct or enum body ends with "} name;" at column 0, and a
# function declaration starts at column 0 with its name before the first "(".
# Prints "what name" for every name defined.
defined_names() {
  awk '
    BEGIN { in_banner = 0; body = ""; depth = 0 }
    {
      line = $0
      if (in_banner) { if (line ~ /\*\//) in_banner = 0; next }
      if (line ~ /^[ \t]*\/\*/) { if (line !~ /\*\//) in_banner = 1; next }
      sub(/\/\/.*/, "", line)
      if (line ~ /^[ \t]*$/) next
      if (line ~ /^#ifndef / && guard == "") { guard = $2; next }
      if (line ~ /^#define /) {
        split(line, w, /[ \t(]+/)
        if (w[2] != guard) print "macro", w[2]
        next
      }
      if (line ~ /^#/) next
      # The C++ guard: extern "C" { ... }
      if (body == "" && (line ~ /^extern "C"/ || line ~ /^}/)) next
      if (body == "" && match(line, /^typedef (struct|enum|union) [A-Za-z_][A-Za-z0-9_]*/)) {
        split(substr(line, 1, RLENGTH), w, " ")
        print w[2] "_tag", w[3]
        if (line ~ /{/ && line !~ /}/) { body = w[2]; next }
        # typedef struct tag name; (or a body on one line: typedef struct tag { ... } name;)
        name = line; sub(/[ \t]*;[ \t]*$/, "", name); sub(/.*[ \t}]/, "", name)
        print "typedef", name
        next
      }
      if (body != "") {
        if (line ~ /^}/) {
          name = line; sub(/^}[ \t]*/, "", name); sub(/[ \t]*;.*/, "", name)
          print "typedef", name
          body = ""
          next
        }
        if (body == "enum" && match(line, /^[ \t]+[A-Za-z_][A-Za-z0-9_]*/)) {
          name = substr(line, RSTART, RLENGTH); gsub(/[ \t]/, "", name)
          print "enum_constant", name
        }
        next
      }
      if (line ~ /^typedef /) {
        # typedef <type> name; or a function pointer typedef: typedef r (*name)(...);
        if (match(line, /\(\*[A-Za-z_][A-Za-z0-9_]*\)/)) name = substr(line, RSTART + 2, RLENGTH - 3)
        else { name = line; sub(/[ \t]*;.*/, "", name); sub(/.*[ \t*]/, "", name) }
        print "typedef", name
        next
      }
      # A function declaration (possibly over several lines): its name is the identifier
      # before the first "(" of its first line.
      if (depth == 0 && match(line, /[A-Za-z_][A-Za-z0-9_]*\(/)) {
        print "function", substr(line, RSTART, RLENGTH - 1)
      }
      opened = gsub(/\(/, "(", line); closed = gsub(/\)/, ")", line)
      depth += opened - closed
    }
  ' "$1"
}

foreign=$(defined_names "$header" | awk '$2 !~ /^(sse_|SSE_)/')
total=$(defined_names "$header" | wc -l)
if [ -n "$foreign" ]; then
  echo "names in $header without the sse_/SSE_ prefix:"
  echo "$foreign" | sed 's/^/  /'
  failed=1
fi
echo "Prefix: $((total - $(printf '%s' "$foreign" | grep -c . || true))) of $total names defined in $header start with sse_/SSE_"
[ "$total" -gt 0 ] || { echo "no name found in $header: the parser above no longer fits it"; failed=1; }
exit "$failed"
