#!/usr/bin/env bash
# Runs the pure modules' unit tests under Miri, which reports undefined behaviour: the
# parser and its line scanner (SIMD intrinsics, the unchecked UTF-8 of ASCII lines), Text,
# the reconnect policy, the delivery buffers and queue, and the published last event ID
# (lock-free slots). What Miri cannot run is marked #[cfg_attr(miri, ignore)] in the code
# with its reason; the exhaustive tests below, which only repeat the same code paths over
# every split or thousands of inputs (hours under Miri), are skipped here by name.
#
#   bash tests/miri.sh [TEST FILTERS...]
#
# Needs the nightly toolchain with the miri component (installed when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    rustup toolchain install nightly --profile minimal
fi
rustup component list --toolchain nightly --installed 2>/dev/null | grep -q '^miri' \
    || rustup component add miri rust-src --toolchain nightly

# The real clock: the Retry-After tests of policy read the time of day.
export MIRIFLAGS="${MIRIFLAGS:--Zmiri-disable-isolation}"

exhaustive=(
    sse::parser::tests::an_adopted_data_line_gives_what_a_copied_one_gives_at_every_split
    sse::parser::tests::buffers_are_reused_across_events
    sse::parser::tests::every_case_gives_the_same_result_in_pseudo_random_chunks
    sse::parser::tests::every_case_gives_the_same_result_split_in_two_at_every_byte
    sse::parser::tests::huge_comment_line_is_too_large
    sse::parser::tests::huge_unknown_field_line_is_too_large
    sse::parser::tests::huge_unterminated_comment_is_too_large
    sse::parser::tests::long_run_of_heartbeat_comments_never_triggers_too_large
    sse::parser::tests::memory_stays_bounded_by_the_limit
    sse::parser::tests::pseudo_random_streams_hit_the_size_limit_the_same_in_any_chunking
    sse::parser::tests::pseudo_random_streams_match_a_naive_reading_of_the_spec
)
skips=()
for name in "${exhaustive[@]}"; do skips+=(--skip "$name"); done

filters=("$@")
[ ${#filters[@]} -gt 0 ] || filters=(sse:: policy:: delivery::batch:: delivery::poll_queue::
    delivery::report:: delivery::published_id::)
cargo +nightly miri test --lib -- "${filters[@]}" "${skips[@]}"
