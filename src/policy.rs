//! The reconnect policy: what to do after each outcome. Pure; the worker obeys it.
//!
//! - HTTP 200 with a `text/event-stream` MIME type opens the stream.
//! - 5xx, 408 and 429 are retried (honouring `Retry-After`); 204, every other status and a
//!   wrong Content-Type end the client (the WHATWG spec "fails the connection" on them).
//! - The wait before a reconnect is the reconnect delay (the server's `retry:` replaces the
//!   configured initial delay), doubled on each consecutive failure up to the maximum
//!   delay, and reset once a connection delivers an event. Jitter only lengthens a wait, by
//!   at most half, and never beyond the maximum, so a server's `retry:` is honoured.
//! - `max_retries` is the number of retries after a failure: the client gives up when
//!   `max_retries + 1` consecutive attempts have failed (0 = never give up).
//! - No wait is shorter than [`MIN_RECONNECT_DELAY`] nor longer than [`MAX_RECONNECT_WAIT`],
//!   whatever the server's `retry:` or `Retry-After` or the configuration say. Numbers from
//!   the server are hostile input: they are read with saturating arithmetic, a date that
//!   cannot be read is ignored, and nothing a server sends can overflow or panic.

use std::time::{Duration, SystemTime};

/// No wait is shorter than this, whatever the server's `retry:` or the configuration say,
/// so that a `retry: 0` server cannot make the client spin.
pub const MIN_RECONNECT_DELAY: Duration = Duration::from_millis(10);

/// No wait is longer than this (24 hours), whatever the server's `retry:` or `Retry-After`
/// or the configured delays say, so that a hostile or broken server cannot park a client
/// for years. It fits the C view's `uint32_t retry_delay_ms`.
pub const MAX_RECONNECT_WAIT: Duration = Duration::from_secs(24 * 60 * 60);

const _: () = assert!(MAX_RECONNECT_WAIT.as_millis() <= u32::MAX as u128);

/// What a response status means for the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusVerdict {
    /// 200: read the stream (once the Content-Type is checked).
    Stream,
    /// A transient failure: reconnect.
    Retry,
    /// The server does not want this client: close for good.
    Fail,
}

pub fn judge_status(status: u16) -> StatusVerdict {
    match status {
        200 => StatusVerdict::Stream,
        408 | 429 | 500..=599 => StatusVerdict::Retry,
        _ => StatusVerdict::Fail,
    }
}

/// Whether a Content-Type header names the `text/event-stream` MIME type: the essence is
/// compared case-insensitively, parameters such as `charset=utf-8` are allowed.
pub fn is_event_stream(content_type: Option<&str>) -> bool {
    let Some(value) = content_type else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("");
    essence
        .trim_matches(|c| c == ' ' || c == '\t')
        .eq_ignore_ascii_case("text/event-stream")
}

/// The first content or transfer coding of a response that the client cannot read, if any:
/// it decodes none (its requests ask for none), so any Content-Encoding but `identity`, and
/// any Transfer-Encoding coding but `chunked` (which the HTTP layer removes), would feed
/// compressed bytes to the parser. Both headers are comma-separated lists, compared
/// case-insensitively.
pub fn unsupported_coding<'a>(
    content_encoding: Option<&'a str>,
    transfer_encoding: Option<&'a str>,
) -> Option<&'a str> {
    let codings = |list: Option<&'a str>| {
        list.into_iter()
            .flat_map(|list| list.split(','))
            .map(|coding| coding.trim_matches(|c| c == ' ' || c == '\t'))
            .filter(|coding| !coding.is_empty())
    };
    codings(content_encoding)
        .find(|coding| !coding.eq_ignore_ascii_case("identity"))
        .or_else(|| {
            codings(transfer_encoding).find(|coding| !coding.eq_ignore_ascii_case("chunked"))
        })
}

/// Parses a `Retry-After` value: delay-seconds, or an HTTP date (the three formats of RFC
/// 9110 §5.6.7) relative to `now`; a date already past is no wait. Capped at
/// [`MAX_RECONNECT_WAIT`]; `None` for anything else (a date out of range included).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let wait = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits for a u64 is still "very long": saturate, then cap.
        Duration::from_secs(value.parse::<u64>().unwrap_or(u64::MAX))
    } else {
        let at = httpdate::parse_http_date(value).ok()?;
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(wait.min(MAX_RECONNECT_WAIT))
}

/// The configured part of the policy.
#[derive(Clone, Copy, Debug)]
pub struct RetrySettings {
    pub initial_delay: Duration,
    pub max_delay: Duration,
    /// Retries after a failure: `max_retries + 1` consecutive failed attempts end the
    /// client (the first attempt and its `max_retries` retries); 0 = never give up.
    pub max_retries: u32,
}

/// How an attempt ended, as far as the policy cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// An open stream ended (server close, I/O error, read timeout, oversized event).
    /// `delivered`: it dispatched at least one event, so it counts as a success.
    StreamLost { delivered: bool },
    /// The attempt never opened a stream but may succeed later (connect error, 5xx...).
    /// `retry_after`: the server's `Retry-After`, if any.
    AttemptFailed { retry_after: Option<Duration> },
    /// The attempt failed in a way that retrying cannot fix (204, 404, wrong type...).
    Fatal,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Reconnect { after: Duration },
    GiveUp,
}

/// The reconnect state of one client.
#[derive(Clone, Debug)]
pub struct Policy {
    settings: RetrySettings,
    /// The reconnection time set by the server's `retry:` field, if any.
    server_retry: Option<Duration>,
    consecutive_failures: u32,
}

impl Policy {
    pub fn new(settings: RetrySettings) -> Policy {
        Policy {
            settings,
            server_retry: None,
            consecutive_failures: 0,
        }
    }

    /// The server's `retry:` field replaces the configured initial delay.
    pub fn set_server_retry(&mut self, delay: Duration) {
        self.server_retry = Some(delay);
    }

    /// The current reconnection time: the base of the backoff.
    pub fn reconnect_delay(&self) -> Duration {
        self.server_retry
            .unwrap_or(self.settings.initial_delay)
            .clamp(MIN_RECONNECT_DELAY, MAX_RECONNECT_WAIT)
    }

    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }

    /// The host asked for a fresh start (restart): the backoff starts over.
    pub fn reset_failures(&mut self) {
        self.consecutive_failures = 0;
    }

    /// Decides what follows `ending`. `jitter` is a number in [0, 1) from the caller's
    /// random source (0 in tests that want exact waits).
    pub fn decide(&mut self, ending: Ending, jitter: f64) -> Decision {
        let retry_after = match ending {
            Ending::Fatal => {
                // Still a failed attempt: the count reported with the error includes it.
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                return Decision::GiveUp;
            }
            Ending::StreamLost { delivered: true } => {
                self.consecutive_failures = 0;
                None
            }
            Ending::StreamLost { delivered: false } => {
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                None
            }
            Ending::AttemptFailed { retry_after } => {
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                retry_after
            }
        };
        let max_retries = self.settings.max_retries;
        if gives_up(max_retries, self.consecutive_failures) {
            return Decision::GiveUp;
        }
        let base = self.reconnect_delay();
        // The server's retry: may exceed the configured cap; it is honoured, up to the
        // longest wait of all.
        let cap = self.settings.max_delay.max(base).min(MAX_RECONNECT_WAIT);
        let doublings = self.consecutive_failures.saturating_sub(1).min(31);
        let backoff = base.saturating_mul(1 << doublings).min(cap);
        // Not `mul_f64`, which panics on NaN: a jitter that is not a number adds nothing.
        let jitter = jitter.clamp(0.0, 1.0) * 0.5;
        let lengthening =
            Duration::try_from_secs_f64(backoff.as_secs_f64() * jitter).unwrap_or_default();
        let wait = backoff.saturating_add(lengthening).min(cap);
        let wait = match retry_after {
            Some(server_wait) => wait.max(server_wait),
            None => wait,
        };
        Decision::Reconnect {
            after: wait.min(MAX_RECONNECT_WAIT),
        }
    }
}

/// Whether the client gives up after `consecutive_failures` failed attempts in a row:
/// `max_retries` counts retries, so the first attempt and `max_retries` retries may all
/// fail before it does (`max_retries` 2: three failed attempts). 0 never gives up.
fn gives_up(max_retries: u32, consecutive_failures: u32) -> bool {
    max_retries > 0 && consecutive_failures > max_retries
}

#[cfg(test)]
mod generated_tests;
// The PRNG of the project's seeded tests: the same numbers on every platform.
#[cfg(test)]
#[path = "../tests/support/splitmix.rs"]
#[allow(dead_code)]
mod splitmix;

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    const fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn policy(initial: u64, max: u64, max_retries: u32) -> Policy {
        Policy::new(RetrySettings {
            initial_delay: ms(initial),
            max_delay: ms(max),
            max_retries,
        })
    }

    fn failed() -> Ending {
        Ending::AttemptFailed { retry_after: None }
    }

    #[test]
    fn only_200_opens_a_stream() {
        assert_eq!(judge_status(200), StatusVerdict::Stream);
        for status in [201, 204, 206, 301, 304, 400, 401, 403, 404, 410] {
            assert_eq!(judge_status(status), StatusVerdict::Fail, "{status}");
        }
        for status in [408, 429, 500, 502, 503, 504, 599] {
            assert_eq!(judge_status(status), StatusVerdict::Retry, "{status}");
        }
    }

    #[test]
    fn content_type_essence_is_compared_case_insensitively() {
        assert!(is_event_stream(Some("text/event-stream")));
        assert!(is_event_stream(Some("Text/Event-Stream; charset=utf-8")));
        assert!(is_event_stream(Some(" text/event-stream ;x=y")));
        assert!(!is_event_stream(Some("text/plain")));
        assert!(!is_event_stream(Some("text/event-streams")));
        assert!(!is_event_stream(Some("")));
        assert!(!is_event_stream(None));
    }

    #[test]
    fn only_identity_content_and_chunked_transfer_codings_are_readable() {
        assert_eq!(unsupported_coding(None, None), None);
        assert_eq!(unsupported_coding(Some("identity"), Some("chunked")), None);
        assert_eq!(
            unsupported_coding(Some(" IDENTITY ,"), Some("Chunked")),
            None
        );
        assert_eq!(unsupported_coding(Some(""), None), None);
        assert_eq!(unsupported_coding(Some("gzip"), None), Some("gzip"));
        assert_eq!(unsupported_coding(Some("identity, br"), None), Some("br"));
        assert_eq!(unsupported_coding(Some("x-custom"), None), Some("x-custom"));
        assert_eq!(
            unsupported_coding(None, Some("gzip, chunked")),
            Some("gzip")
        );
        assert_eq!(unsupported_coding(None, Some("deflate")), Some("deflate"));
    }

    #[test]
    fn retry_after_accepts_seconds_and_http_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:57 GMT", now),
            Some(Duration::from_secs(20))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }

    #[test]
    fn retry_after_reads_all_three_http_date_formats() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        let twenty = Some(Duration::from_secs(20));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:57 GMT", now),
            twenty
        );
        assert_eq!(
            parse_retry_after("Sunday, 06-Nov-94 08:49:57 GMT", now),
            twenty
        );
        assert_eq!(parse_retry_after("Sun Nov  6 08:49:57 1994", now), twenty);
        assert_eq!(
            parse_retry_after(" \tSun, 06 Nov 1994 08:49:57 GMT ", now),
            twenty
        );
    }

    #[test]
    fn retry_after_ignores_dates_that_do_not_exist() {
        let now = UNIX_EPOCH;
        for value in [
            "Mon, 06 Nov 1994 08:49:57 GMT", // the 6th was a Sunday
            "Thu, 30 Feb 2023 00:00:00 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 08:49:57 UTC",
            "Sun, 06 Nov 1994 08:49:57",
            "Wed, 31 Dec 1969 23:59:59 GMT",
            "",
            "  ",
            "+5",
            "1.5",
            "5 ",
        ] {
            let expected = (value == "5 ").then(|| Duration::from_secs(5));
            assert_eq!(parse_retry_after(value, now), expected, "{value:?}");
        }
    }

    #[test]
    fn huge_retry_after_seconds_are_capped_at_the_longest_wait() {
        let now = SystemTime::now();
        let capped = Some(MAX_RECONNECT_WAIT);
        let day = MAX_RECONNECT_WAIT.as_secs();
        assert_eq!(parse_retry_after(&day.to_string(), now), capped);
        assert_eq!(parse_retry_after(&(day + 1).to_string(), now), capped);
        assert_eq!(parse_retry_after(&u64::MAX.to_string(), now), capped);
        assert_eq!(parse_retry_after("99999999999999999999", now), capped);
        assert_eq!(parse_retry_after(&"9".repeat(10_000), now), capped);
        assert_eq!(
            parse_retry_after(&(day - 1).to_string(), now),
            Some(Duration::from_secs(day - 1))
        );
        assert_eq!(
            parse_retry_after("000000000000000000000000000042", now),
            Some(Duration::from_secs(42))
        );
    }

    #[test]
    fn far_future_dates_are_capped_and_unreadable_years_ignored() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let capped = Some(MAX_RECONNECT_WAIT);
        assert_eq!(
            parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now),
            capped
        );
        assert_eq!(parse_retry_after("Fri Dec 31 23:59:59 9999", now), capped);
        // Beyond what an HTTP date can say: ignored, so the normal backoff applies.
        for value in [
            "Sun, 06 Nov 300000000000 08:49:37 GMT",
            "Sat, 01 Jan 10000 00:00:00 GMT",
            "Sun, 06 Nov 99999999999999999999999 08:49:37 GMT",
            "Sun, 99999999999999999999 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 99999999999999999999:49:37 GMT",
        ] {
            assert_eq!(parse_retry_after(value, now), None, "{value}");
        }
    }

    #[test]
    fn dates_in_the_past_mean_no_wait() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        for value in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Thu, 01 Jan 1970 00:00:00 GMT",
            "Tue, 14 Nov 2023 22:13:20 GMT", // now itself
        ] {
            assert_eq!(
                parse_retry_after(value, now),
                Some(Duration::ZERO),
                "{value}"
            );
        }
        // A clock before the epoch is no reason to fail.
        let before_epoch = UNIX_EPOCH - Duration::from_secs(60);
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", before_epoch),
            Some(Duration::from_secs(60))
        );
    }

    #[test]
    fn no_path_waits_longer_than_the_longest_wait() {
        let unbounded = RetrySettings {
            initial_delay: Duration::MAX,
            max_delay: Duration::MAX,
            max_retries: 0,
        };
        let configured_49_days = RetrySettings {
            initial_delay: ms(u32::MAX as u64),
            max_delay: ms(u32::MAX as u64),
            max_retries: 0,
        };
        let usual = RetrySettings {
            initial_delay: ms(100),
            max_delay: ms(1_000),
            max_retries: 0,
        };
        let endings = [
            failed(),
            Ending::StreamLost { delivered: true },
            Ending::StreamLost { delivered: false },
            Ending::AttemptFailed {
                retry_after: Some(Duration::MAX),
            },
            Ending::AttemptFailed {
                retry_after: Some(MAX_RECONNECT_WAIT + ms(1)),
            },
        ];
        for settings in [unbounded, configured_49_days, usual] {
            for server_retry in [None, Some(Duration::MAX), Some(ms(u64::MAX))] {
                for jitter in [0.0, 0.5, 0.999, 1.0, f64::NAN, f64::INFINITY, -1.0] {
                    let mut p = Policy::new(settings);
                    if let Some(retry) = server_retry {
                        p.set_server_retry(retry);
                    }
                    assert!(p.reconnect_delay() <= MAX_RECONNECT_WAIT);
                    for ending in endings.iter().cycle().take(40) {
                        let Decision::Reconnect { after } = p.decide(*ending, jitter) else {
                            panic!("gave up");
                        };
                        assert!(
                            (MIN_RECONNECT_DELAY..=MAX_RECONNECT_WAIT).contains(&after),
                            "{settings:?} {server_retry:?} {jitter} {ending:?}: {after:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_huge_server_retry_waits_exactly_the_longest_wait() {
        let mut p = policy(100, 1_000, 0);
        p.set_server_retry(ms(u64::MAX));
        for jitter in [0.0, 0.999] {
            assert_eq!(
                p.decide(Ending::StreamLost { delivered: true }, jitter),
                Decision::Reconnect {
                    after: MAX_RECONNECT_WAIT
                }
            );
        }
        let mut p = policy(100, 1_000, 0);
        let huge = Ending::AttemptFailed {
            retry_after: Some(Duration::MAX),
        };
        assert_eq!(
            p.decide(huge, 0.5),
            Decision::Reconnect {
                after: MAX_RECONNECT_WAIT
            }
        );
    }

    #[test]
    fn the_longest_wait_fits_the_c_view_in_milliseconds() {
        assert!(u32::try_from(MAX_RECONNECT_WAIT.as_millis()).is_ok());
        assert!(MAX_RECONNECT_WAIT > crate::config::DEFAULT_MAX_DELAY);
    }

    #[test]
    fn backoff_doubles_on_consecutive_failures_up_to_the_maximum() {
        let mut p = policy(100, 1_000, 0);
        let waits: Vec<_> = (0..6).map(|_| p.decide(failed(), 0.0)).collect();
        let expected =
            [100, 200, 400, 800, 1_000, 1_000].map(|n| Decision::Reconnect { after: ms(n) });
        assert_eq!(waits, expected);
    }

    #[test]
    fn a_connection_that_delivered_an_event_resets_the_backoff() {
        let mut p = policy(100, 10_000, 0);
        p.decide(failed(), 0.0);
        p.decide(failed(), 0.0);
        let after_good = p.decide(Ending::StreamLost { delivered: true }, 0.0);
        assert_eq!(after_good, Decision::Reconnect { after: ms(100) });
        assert_eq!(p.consecutive_failures(), 0);
    }

    #[test]
    fn a_stream_that_delivered_nothing_counts_as_a_failure() {
        let mut p = policy(100, 10_000, 0);
        p.decide(Ending::StreamLost { delivered: false }, 0.0);
        let second = p.decide(Ending::StreamLost { delivered: false }, 0.0);
        assert_eq!(second, Decision::Reconnect { after: ms(200) });
    }

    #[test]
    fn server_retry_replaces_the_initial_delay_even_above_the_maximum() {
        let mut p = policy(100, 1_000, 0);
        p.set_server_retry(ms(5_000));
        assert_eq!(
            p.decide(failed(), 0.99),
            Decision::Reconnect { after: ms(5_000) }
        );
        p.set_server_retry(ms(300));
        assert_eq!(
            p.decide(Ending::StreamLost { delivered: true }, 0.0),
            Decision::Reconnect { after: ms(300) }
        );
    }

    #[test]
    fn jitter_lengthens_by_at_most_half_and_never_shortens() {
        for jitter in [0.0, 0.25, 0.5, 0.999] {
            let mut p = policy(1_000, 60_000, 0);
            let Decision::Reconnect { after } = p.decide(failed(), jitter) else {
                panic!("gave up");
            };
            assert!(
                after >= ms(1_000) && after <= ms(1_500),
                "{jitter}: {after:?}"
            );
        }
        let mut p = policy(1_000, 60_000, 0);
        assert_eq!(
            p.decide(failed(), 0.5),
            Decision::Reconnect { after: ms(1_250) }
        );
    }

    #[test]
    fn jitter_never_exceeds_the_maximum() {
        let mut p = policy(1_000, 1_000, 0);
        assert_eq!(
            p.decide(failed(), 0.99),
            Decision::Reconnect { after: ms(1_000) }
        );
    }

    #[test]
    fn retry_zero_is_raised_to_the_minimum_delay() {
        let mut p = policy(0, 0, 0);
        assert_eq!(
            p.decide(Ending::StreamLost { delivered: true }, 0.0),
            Decision::Reconnect {
                after: MIN_RECONNECT_DELAY
            }
        );
        p.set_server_retry(Duration::ZERO);
        assert_eq!(p.reconnect_delay(), MIN_RECONNECT_DELAY);
    }

    #[test]
    fn retry_after_lengthens_the_wait() {
        let mut p = policy(100, 1_000, 0);
        let decision = p.decide(
            Ending::AttemptFailed {
                retry_after: Some(Duration::from_secs(3)),
            },
            0.0,
        );
        assert_eq!(decision, Decision::Reconnect { after: ms(3_000) });
    }

    #[test]
    fn max_retries_counts_retries_not_attempts() {
        // max_retries 3: the first attempt and three retries fail, then the client gives up.
        let mut p = policy(10, 100, 3);
        for _ in 0..3 {
            assert!(matches!(
                p.decide(failed(), 0.0),
                Decision::Reconnect { .. }
            ));
        }
        assert_eq!(p.decide(failed(), 0.0), Decision::GiveUp);
    }

    #[test]
    fn one_retry_means_two_failed_attempts() {
        let mut p = policy(10, 100, 1);
        assert!(matches!(
            p.decide(failed(), 0.0),
            Decision::Reconnect { .. }
        ));
        assert_eq!(p.decide(failed(), 0.0), Decision::GiveUp);
    }

    #[test]
    fn zero_retries_never_gives_up() {
        assert!(!gives_up(0, u32::MAX));
        assert!(!gives_up(2, 2));
        assert!(gives_up(2, 3));
        assert!(gives_up(u32::MAX - 1, u32::MAX));
    }

    #[test]
    fn a_good_connection_restarts_the_retry_count() {
        let mut p = policy(10, 100, 1);
        p.decide(failed(), 0.0);
        p.decide(Ending::StreamLost { delivered: true }, 0.0);
        assert!(matches!(
            p.decide(failed(), 0.0),
            Decision::Reconnect { .. }
        ));
        assert_eq!(p.decide(failed(), 0.0), Decision::GiveUp);
    }

    #[test]
    fn fatal_endings_give_up_at_once() {
        let mut p = policy(10, 100, 0);
        assert_eq!(p.decide(Ending::Fatal, 0.0), Decision::GiveUp);
    }

    #[test]
    fn huge_failure_counts_do_not_overflow() {
        let mut p = policy(1_000, u32::MAX as u64, 0);
        for _ in 0..100 {
            p.decide(failed(), 0.9);
        }
        assert!(matches!(
            p.decide(failed(), 0.9),
            Decision::Reconnect { .. }
        ));
    }
}
