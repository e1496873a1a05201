//! The seeded property test of the `Retry-After` parser and the policy: the stable
//! counterpart of `fuzz/fuzz_targets/retry_after.rs`, with the same invariants.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::splitmix::Rng;
use super::{
    parse_retry_after, Decision, Ending, Policy, RetrySettings, MAX_RECONNECT_WAIT,
    MIN_RECONNECT_DELAY,
};

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

// ---- The property test ------------------------------------------------------------------
//
// Generated `Retry-After` values (digits of every length, HTTP dates in the three formats
// with fields valid, off by one or of many digits, mutations, garbage) against a random
// `now`, then fed to the policy with random settings. Invariants:
//
// 1. nothing panics;
// 2. a value of digits (after trimming) is that many seconds, capped at the longest wait;
// 3. a well-formed date is its distance from `now` (0 when past), capped; a date with a field
//    out of range (a year of five digits and more included) is `None`;
// 4. every result is at most the longest wait, and a later `now` never waits longer;
// 5. the policy's every wait lies in [MIN_RECONNECT_DELAY, MAX_RECONNECT_WAIT].
//
// `SSE_RETRY_AFTER_ITERATIONS` (default below) and `SSE_RETRY_AFTER_SEED` change the run.

const DEFAULT_ITERATIONS: u64 = 50_000;
const DEFAULT_SEED: u64 = 0x5E7_A17E_2026_0011;

/// The last second an HTTP date can name: Fri, 31 Dec 9999 23:59:59 GMT.
const LAST_HTTP_DATE: u64 = 253_402_300_799;

/// What a generated value must parse to.
#[derive(Debug)]
enum Expect {
    /// Exactly this many seconds from the epoch (a well-formed date).
    At(u64),
    /// This many seconds, capped (a value of digits).
    Seconds(String),
    /// Must not parse.
    Nothing,
    /// Anything within the invariants (garbage and mutations).
    Anything,
}

const WHITESPACE: &[&str] = &["", "", "", " ", "\t", "  "];

fn generate(rng: &mut Rng) -> (String, Expect) {
    let pad = |rng: &mut Rng, value: String| {
        format!("{}{value}{}", rng.pick(WHITESPACE), rng.pick(WHITESPACE))
    };
    match rng.below(5) {
        0 => {
            // Digits of every length, leading zeros included.
            let length = match rng.below(10) {
                0 => 1 + rng.below(2_000),
                _ => 1 + rng.below(45),
            };
            let digits = rng.digits(length);
            let value = pad(rng, digits.clone());
            (value, Expect::Seconds(digits))
        }
        1 | 2 => {
            // A well-formed date in one of the three formats.
            let at = match rng.below(4) {
                0 => LAST_HTTP_DATE - rng.below(100_000) as u64,
                1 => rng.below(100_000) as u64,
                _ => rng.next_u64() % (LAST_HTTP_DATE + 1),
            };
            let (format, two_digit_year) = match rng.below(3) {
                0 => (imf_fixdate(at), false),
                1 => (rfc850(at), true),
                _ => (asctime(at), false),
            };
            let year = 1970 + at / 31_556_952;
            // RFC 850 has two-digit years: read as 1970-2069.
            let readable = !two_digit_year || (1971..=2068).contains(&year);
            let expect = if readable {
                Expect::At(at)
            } else {
                Expect::Anything
            };
            (pad(rng, format), expect)
        }
        3 => {
            // A date with one field out of range or of many digits.
            let parts = imf_parts(rng.next_u64() % (LAST_HTTP_DATE + 1));
            let huge = |rng: &mut Rng| {
                let length = 1 + rng.below(30);
                format!("9{}", rng.digits(length))
            };
            let [mut weekday, mut day, month, mut year, mut hour, mut minute, mut second] = parts;
            match rng.below(6) {
                0 => {
                    let length = 4 + rng.below(30);
                    year = format!("1{}", rng.digits(length));
                }
                1 => {
                    day = rng.pick(&["00", "32", "99"]).to_owned();
                    if rng.chance(50) {
                        day += &huge(rng);
                    }
                }
                2 => hour = rng.pick(&["24", "99"]).to_owned(),
                3 => minute = format!("6{}", rng.below(10)),
                4 => second = format!("{}{}", 6 + rng.below(4), rng.below(10)),
                _ => {
                    hour = huge(rng);
                    weekday = "Xyz".to_owned();
                }
            }
            let value = format!("{weekday}, {day} {month} {year} {hour}:{minute}:{second} GMT");
            (pad(rng, value), Expect::Nothing)
        }
        _ => {
            // Garbage: pieces of dates and numbers, glued at random.
            const PIECES: &[&str] = &[
                "Sun",
                "Mon,",
                ", ",
                " ",
                "06",
                "Nov",
                "-Nov-",
                "1994",
                "94",
                "08:49:37",
                ":",
                "GMT",
                "UTC",
                "9999",
                "300000000000",
                "99999999999999999999",
                "-",
                "+",
                "0",
                "1",
                ".",
                "e",
                "\t",
                "\u{0}",
                "é",
                "٣",
                "𝟗",
                "\u{FEFF}",
                "Sunday,",
                "\r\n",
            ];
            let count = rng.below(12);
            let value: String = (0..count).map(|_| rng.pick(PIECES)).collect();
            (value, Expect::Anything)
        }
    }
}

/// [weekday, day, month, year, hour, minute, second] of an IMF-fixdate.
fn imf_parts(at: u64) -> [String; 7] {
    let text = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(at));
    // "Sun, 06 Nov 1994 08:49:37 GMT"
    let words: Vec<&str> = text
        .split([' ', ',', ':'])
        .filter(|w| !w.is_empty())
        .collect();
    [0, 1, 2, 3, 4, 5, 6].map(|i| words[i].to_owned())
}

fn imf_fixdate(at: u64) -> String {
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(at))
}

/// `Sunday, 06-Nov-94 08:49:37 GMT`
fn rfc850(at: u64) -> String {
    let [weekday, day, month, year, hour, minute, second] = imf_parts(at);
    let weekday = match weekday.as_str() {
        "Mon" => "Monday",
        "Tue" => "Tuesday",
        "Wed" => "Wednesday",
        "Thu" => "Thursday",
        "Fri" => "Friday",
        "Sat" => "Saturday",
        _ => "Sunday",
    };
    format!(
        "{weekday}, {day}-{month}-{} {hour}:{minute}:{second} GMT",
        &year[2..]
    )
}

/// `Sun Nov  6 08:49:37 1994`
fn asctime(at: u64) -> String {
    let [weekday, day, month, year, hour, minute, second] = imf_parts(at);
    let day = format!("{:>2}", day.trim_start_matches('0'));
    format!("{weekday} {month} {day} {hour}:{minute}:{second} {year}")
}

fn random_now(rng: &mut Rng) -> SystemTime {
    let offset = Duration::from_secs(rng.next_u64() % (1 << 40));
    match rng.below(4) {
        0 => SystemTime::now(),
        // Up to 34,000 years either side of 1970, as far as the platform's clock goes
        // (Windows' runs from 1601 to 30828).
        1 => UNIX_EPOCH.checked_sub(offset).unwrap_or(UNIX_EPOCH),
        _ => UNIX_EPOCH.checked_add(offset).unwrap_or(UNIX_EPOCH),
    }
}

fn check_value(value: &str, expect: &Expect, now: SystemTime) -> Option<Duration> {
    let got = parse_retry_after(value, now);
    if let Some(wait) = got {
        assert!(wait <= MAX_RECONNECT_WAIT, "{value:?}: {wait:?}");
    }
    match expect {
        Expect::Seconds(digits) => {
            // An oracle of its own: 86,400 has five digits, so six significant ones cap.
            let significant = digits.trim_start_matches('0');
            let seconds = match significant.len() {
                0..=5 => Duration::from_secs(significant.parse().unwrap_or(0)),
                _ => MAX_RECONNECT_WAIT,
            };
            assert_eq!(got, Some(seconds.min(MAX_RECONNECT_WAIT)), "{value:?}");
        }
        Expect::At(at) => {
            let at = UNIX_EPOCH + Duration::from_secs(*at);
            let wait = at.duration_since(now).unwrap_or(Duration::ZERO);
            assert_eq!(
                got,
                Some(wait.min(MAX_RECONNECT_WAIT)),
                "{value:?} at {now:?}"
            );
        }
        Expect::Nothing => assert_eq!(got, None, "{value:?}"),
        Expect::Anything => {}
    }
    let later = now.checked_add(Duration::from_secs(1 + (value.len() as u64 % 100_000)));
    if let (Some(wait), Some(later)) = (got, later) {
        let after = parse_retry_after(value, later).expect("parsed once, parses again");
        assert!(after <= wait, "{value:?}: later {after:?} > {wait:?}");
    }
    got
}

fn check_policy(rng: &mut Rng, retry_after: Option<Duration>) {
    let any = Duration::from_secs(rng.next_u64());
    let delays = [
        Duration::ZERO,
        ms(1),
        ms(3_000),
        ms(u64::from(u32::MAX)),
        any,
        Duration::MAX,
    ];
    let initial = rng.pick(&delays);
    let settings = RetrySettings {
        initial_delay: initial,
        max_delay: rng.pick(&delays).max(initial),
        max_retries: 0,
    };
    let mut policy = Policy::new(settings);
    if rng.chance(50) {
        let any = rng.next_u64();
        policy.set_server_retry(ms(rng.pick(&[0, 1, 600, any, u64::MAX])));
    }
    for _ in 0..rng.below(40) {
        policy.decide(Ending::StreamLost { delivered: false }, 0.0);
    }
    let jitter = rng.pick(&[0.0, 0.5, 0.999_999, 1.0, f64::NAN, f64::INFINITY, -1.0]);
    let ending = match rng.below(3) {
        0 => Ending::AttemptFailed { retry_after },
        1 => Ending::StreamLost { delivered: true },
        _ => Ending::StreamLost { delivered: false },
    };
    let Decision::Reconnect { after } = policy.decide(ending, jitter) else {
        panic!("max_retries 0 never gives up");
    };
    assert!(
        (MIN_RECONNECT_DELAY..=MAX_RECONNECT_WAIT).contains(&after),
        "{settings:?} {ending:?} {jitter}: {after:?}"
    );
    if let Some(server_wait) =
        retry_after.filter(|_| matches!(ending, Ending::AttemptFailed { .. }))
    {
        assert!(
            after >= server_wait,
            "Retry-After {server_wait:?} not honoured: {after:?}"
        );
    }
}

fn env_u64(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    match value.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => value.parse().ok(),
    }
}

#[test]
fn generated_retry_after_values_never_panic_and_never_wait_past_the_longest_wait() {
    // Miri (tests/miri.sh) looks for undefined behaviour, not for rare values: sixty
    // inputs there (each takes a second of Miri's time).
    let default = if cfg!(miri) { 60 } else { DEFAULT_ITERATIONS };
    let iterations = env_u64("SSE_RETRY_AFTER_ITERATIONS").unwrap_or(default);
    let seed = env_u64("SSE_RETRY_AFTER_SEED").unwrap_or(DEFAULT_SEED);
    let mut rng = Rng::new(seed);
    let mut parsed = 0u64;
    for _ in 0..iterations {
        let (value, expect) = generate(&mut rng);
        let now = random_now(&mut rng);
        let got = check_value(&value, &expect, now);
        parsed += u64::from(got.is_some());
        check_policy(&mut rng, got);
    }
    // The generator must reach both sides of the parser.
    assert!(
        parsed > iterations / 4 && parsed < iterations,
        "{parsed} of {iterations}"
    );
}
