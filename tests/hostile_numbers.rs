//! Numbers a hostile server sends: a `Retry-After` of twenty digits or in year
//! 300,000,000,000, a `retry:` of twenty digits. None may panic the worker or park the
//! client beyond `MAX_RECONNECT_WAIT`; each is checked in both delivery modes (callbacks and
//! poll). Then a seeded property test of the `Retry-After` parser and the policy, the stable
//! counterpart of `fuzz/fuzz_targets/retry_after.rs`, with the same invariants.

mod support;

use std::collections::VecDeque;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sse_client::policy::{
    parse_retry_after, Decision, Ending, Policy, RetrySettings, MAX_RECONNECT_WAIT,
    MIN_RECONNECT_DELAY,
};
use sse_client::{Client, ClientError, Config, ErrorKind, PollError, ReadyState};
use support::splitmix::Rng;
use support::*;

/// A generous bound for "promptly": the waits being interrupted are 24 hours long.
const PROMPTLY: Duration = Duration::from_secs(2);

/// Long enough for a panic report or a reconnect to show up if one were coming: the worker
/// would have sent it at once.
const QUIET: Duration = Duration::from_millis(300);

const TWENTY_NINES: &str = "99999999999999999999";
const YEAR_9999: &str = "Fri, 31 Dec 9999 23:59:59 GMT";
const YEAR_300_BILLION: &str = "Sun, 06 Nov 300000000000 08:49:37 GMT";

// ---- Both delivery modes, read the same way ---------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Mode {
    Callbacks,
    Polled,
}

/// A client in either mode; `next` returns its callbacks or its announced messages.
struct Run {
    client: Client,
    /// Callback mode's recording.
    log: Option<Log>,
    /// Poll mode: announced, not yet returned by `next`.
    polled: VecDeque<Record>,
    /// Everything `next` returned.
    seen: Vec<Record>,
}

impl Run {
    /// A server that answers every connection with `script`, and a client of it.
    fn against(mode: Mode, script: Script) -> (Server, Run) {
        let server = Server::always(script);
        let run = Run::open(mode, &fast_config(&server.url("/")));
        (server, run)
    }

    fn open(mode: Mode, config: &Config) -> Run {
        let (client, log) = match mode {
            Mode::Callbacks => {
                let (log, recorder) = Log::new();
                (Client::open(config, recorder).unwrap(), Some(log))
            }
            Mode::Polled => (Client::open_polled(config).unwrap(), None),
        };
        Run {
            client,
            log,
            polled: VecDeque::new(),
            seen: Vec::new(),
        }
    }

    fn next(&mut self) -> Record {
        let record = match &mut self.log {
            Some(log) => log.next(),
            None => {
                if self.polled.is_empty() {
                    self.polled.extend(poll_announced(&self.client, 1));
                }
                self.polled.pop_front().unwrap()
            }
        };
        self.seen.push(record.clone());
        record
    }

    fn expect(&mut self, expected: Record) {
        let got = self.next();
        assert_eq!(got, expected, "after {:#?}", self.seen);
    }

    fn expect_error(&mut self) -> ClientError {
        match self.next() {
            Record::Error(error) => error,
            other => panic!("expected an error, got {other:?} after {:#?}", self.seen),
        }
    }

    /// Nothing more comes within [`QUIET`]: no panic report, no state change, no reconnect.
    fn expect_quiet(&mut self) {
        match &mut self.log {
            Some(log) => log.expect_silence(QUIET),
            None => {
                assert_eq!(self.polled, VecDeque::new());
                assert_eq!(
                    self.client.poll(Some(QUIET)).map(Record::from_message),
                    Err(PollError::Timeout)
                );
            }
        }
    }

    /// close() and then drop return promptly, and nothing the client ever said was a panic
    /// report or a give-up.
    fn close_and_drop_promptly(self) {
        let Run {
            client, log, seen, ..
        } = self;
        let (client, took) = within(Duration::from_secs(10), "close()", move || {
            client.close();
            client
        });
        assert!(took < PROMPTLY, "close() took {took:?}");
        let everything = match log {
            Some(log) => log.all(),
            None => {
                let mut everything = seen;
                while let Ok(message) = client.poll(Some(Duration::ZERO)) {
                    everything.push(Record::from_message(message));
                }
                everything
            }
        };
        let (_, took) = within(Duration::from_secs(10), "drop", move || drop(client));
        assert!(took < PROMPTLY, "drop took {took:?}");
        for record in &everything {
            let gave_up = match record {
                Record::Error(error) => !error.will_retry || error.message.contains("internal"),
                Record::State(state) => *state == ReadyState::Closed,
                _ => false,
            };
            assert!(!gave_up, "{record:?} in {everything:#?}");
        }
    }
}

// ---- The stories ----------------------------------------------------------------------------

/// A 503 whose `Retry-After` asks for more than the longest wait: the client waits exactly
/// the longest wait, connecting, and close() still ends it at once.
fn retry_after_waits_the_longest_wait(mode: Mode, retry_after: &str) {
    let (server, mut run) =
        Run::against(mode, Script::status(503, &[("Retry-After", retry_after)]));

    let error = run.expect_error();
    assert_eq!(
        (error.kind, error.http_status, error.will_retry),
        (ErrorKind::HttpStatus, 503, true),
        "{error:?}"
    );
    assert_eq!(error.retry_delay, MAX_RECONNECT_WAIT, "{error:?}");
    run.expect_quiet();
    assert_eq!(run.client.ready_state(), ReadyState::Connecting);
    assert_eq!(server.connection_count(), 1);
    run.close_and_drop_promptly();
}

/// A 503 whose `Retry-After` date no HTTP date can be: ignored, the normal backoff applies
/// (`fast_config`: 10 ms doubling, jitter up to +50%).
fn unreadable_retry_after_date_gets_the_normal_backoff(mode: Mode) {
    let (_server, mut run) = Run::against(
        mode,
        Script::status(503, &[("Retry-After", YEAR_300_BILLION)]),
    );

    for attempt in 1..=3u32 {
        let error = run.expect_error();
        assert_eq!(
            (error.kind, error.will_retry, error.failed_attempts),
            (ErrorKind::HttpStatus, true, attempt),
            "{error:?}"
        );
        let normal = ms(10) * (1 << (attempt - 1));
        assert!(
            error.retry_delay >= normal && error.retry_delay <= normal * 3 / 2,
            "attempt {attempt}: the normal backoff is {normal:?} (+50% jitter), got {error:?}"
        );
    }
    assert_eq!(run.client.ready_state(), ReadyState::Connecting);
    run.close_and_drop_promptly();
}

/// A stream whose `retry:` asks for more than the longest wait (the parser saturates it to
/// u64::MAX ms): the client waits exactly the longest wait.
fn huge_server_retry_waits_the_longest_wait(mode: Mode) {
    let (server, mut run) = Run::against(
        mode,
        Script::stream(format!("retry: {TWENTY_NINES}\ndata: x\n\n")),
    );

    run.expect(Record::Open(200));
    run.expect(Record::State(ReadyState::Open));
    run.expect(Record::Event(Ev::message("x", "")));
    let error = run.expect_error();
    assert_eq!(
        (error.kind, error.will_retry),
        (ErrorKind::StreamEnded, true),
        "{error:?}"
    );
    assert_eq!(error.retry_delay, MAX_RECONNECT_WAIT, "{error:?}");
    run.expect(Record::State(ReadyState::Connecting));
    run.expect_quiet();
    assert_eq!(run.client.ready_state(), ReadyState::Connecting);
    assert_eq!(server.connection_count(), 1);
    run.close_and_drop_promptly();
}

/// Each story runs twice, as `$callbacks` with callbacks and as `$polled` in poll mode.
macro_rules! in_both_modes {
    ($($callbacks:ident, $polled:ident: $story:expr;)*) => {$(
        #[test]
        fn $callbacks() {
            ($story)(Mode::Callbacks);
        }

        #[test]
        fn $polled() {
            ($story)(Mode::Polled);
        }
    )*};
}

in_both_modes! {
    retry_after_of_twenty_digits_waits_the_longest_wait_with_callbacks,
    retry_after_of_twenty_digits_waits_the_longest_wait_when_polled:
        |mode| retry_after_waits_the_longest_wait(mode, TWENTY_NINES);
    retry_after_date_in_year_9999_waits_the_longest_wait_with_callbacks,
    retry_after_date_in_year_9999_waits_the_longest_wait_when_polled:
        |mode| retry_after_waits_the_longest_wait(mode, YEAR_9999);
    retry_after_date_in_year_300_billion_gets_the_normal_backoff_with_callbacks,
    retry_after_date_in_year_300_billion_gets_the_normal_backoff_when_polled:
        unreadable_retry_after_date_gets_the_normal_backoff;
    server_retry_of_twenty_digits_waits_the_longest_wait_with_callbacks,
    server_retry_of_twenty_digits_waits_the_longest_wait_when_polled:
        huge_server_retry_waits_the_longest_wait;
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
    let iterations = env_u64("SSE_RETRY_AFTER_ITERATIONS").unwrap_or(DEFAULT_ITERATIONS);
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
