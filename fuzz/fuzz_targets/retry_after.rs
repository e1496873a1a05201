//! `Retry-After` from a hostile server: any text, any clock, then through the policy with
//! any settings. The stable, seeded counterpart is the property test in
//! src/policy/generated_tests.rs; the invariants are the same:
//!
//! 1. nothing panics (no overflow, in debug or release);
//! 2. every result is at most `MAX_RECONNECT_WAIT`;
//! 3. a value of digits (after trimming) is that many seconds, capped;
//! 4. whether a value parses does not depend on the clock, and a later clock never waits
//!    longer; every HTTP date is before the year 10000, so from then on a date waits 0;
//! 5. the policy's every wait lies in [MIN_RECONNECT_DELAY, MAX_RECONNECT_WAIT], and
//!    honours the `Retry-After` it is given.

#![no_main]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use sse_client::policy::{
    parse_retry_after, Decision, Ending, Policy, RetrySettings, MAX_RECONNECT_WAIT,
    MIN_RECONNECT_DELAY,
};

/// 10000-01-01T00:00:00Z: after every HTTP date.
const AFTER_EVERY_HTTP_DATE: Duration = Duration::from_secs(253_402_300_800);

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    now_secs: i64,
    now_nanos: u32,
    later_by: u64,
    initial_delay_ms: u64,
    max_delay_ms: u64,
    server_retry_ms: Option<u64>,
    failures: u8,
    jitter: f64,
    ending: u8,
    /// Last, so that it takes the rest of the bytes.
    value: &'a str,
}

fn clock(secs: i64, nanos: u32) -> SystemTime {
    let offset = Duration::new(secs.unsigned_abs(), nanos % 1_000_000_000);
    let at = match secs < 0 {
        true => UNIX_EPOCH.checked_sub(offset),
        false => UNIX_EPOCH.checked_add(offset),
    };
    at.unwrap_or(UNIX_EPOCH)
}

/// The seconds a string of digits means, capped, without parsing it as a number: 86,400
/// has five digits, so six significant ones are past the cap.
fn digits_oracle(digits: &str) -> Duration {
    let significant = digits.trim_start_matches('0');
    match significant.len() {
        0..=5 => Duration::from_secs(significant.parse().unwrap_or(0)).min(MAX_RECONNECT_WAIT),
        _ => MAX_RECONNECT_WAIT,
    }
}

fuzz_target!(|input: Input<'_>| {
    let now = clock(input.now_secs, input.now_nanos);
    let got = parse_retry_after(input.value, now);
    if let Some(wait) = got {
        assert!(wait <= MAX_RECONNECT_WAIT, "{wait:?}");
    }

    let trimmed = input.value.trim();
    let digits = !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit());
    if digits {
        assert_eq!(got, Some(digits_oracle(trimmed)));
    }

    let at_epoch = parse_retry_after(input.value, UNIX_EPOCH);
    assert_eq!(
        got.is_some(),
        at_epoch.is_some(),
        "parsing depends on the clock"
    );
    if let (Some(wait), Some(later)) = (got, now.checked_add(Duration::from_secs(input.later_by))) {
        let after = parse_retry_after(input.value, later).expect("parses at any clock");
        assert!(
            after <= wait,
            "a later clock waits longer: {after:?} > {wait:?}"
        );
    }
    if got.is_some() && !digits {
        let far = parse_retry_after(input.value, UNIX_EPOCH + AFTER_EVERY_HTTP_DATE);
        assert_eq!(far, Some(Duration::ZERO), "a date after the year 9999");
    }

    let initial_delay = Duration::from_millis(input.initial_delay_ms);
    let mut policy = Policy::new(RetrySettings {
        initial_delay,
        max_delay: Duration::from_millis(input.max_delay_ms).max(initial_delay),
        max_retries: 0,
    });
    if let Some(ms) = input.server_retry_ms {
        policy.set_server_retry(Duration::from_millis(ms));
    }
    for _ in 0..input.failures % 64 {
        policy.decide(Ending::StreamLost { delivered: false }, input.jitter);
    }
    let ending = match input.ending % 3 {
        0 => Ending::AttemptFailed { retry_after: got },
        1 => Ending::StreamLost { delivered: true },
        _ => Ending::StreamLost { delivered: false },
    };
    let Decision::Reconnect { after } = policy.decide(ending, input.jitter) else {
        panic!("max_retries 0 never gives up");
    };
    assert!(
        (MIN_RECONNECT_DELAY..=MAX_RECONNECT_WAIT).contains(&after),
        "{after:?}"
    );
    if let (Ending::AttemptFailed { .. }, Some(server_wait)) = (ending, got) {
        assert!(after >= server_wait, "Retry-After not honoured: {after:?}");
    }
});
