#!/usr/bin/env bash
# Every name of the C API contract (../shared/API.md) must appear in the header as written.
set -euo pipefail
cd "$(dirname "$0")/.."
contract=${1:-../shared/API.md}
header=include/sse_client.h
if [ ! -f "$contract" ]; then
  echo "contract $contract not found; skipping the name check" >&2
  exit 0
fi
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
[ "$missing" -eq 0 ]
