//! Numbers a hostile server sends: a `Retry-After` of twenty digits or in year
//! 300,000,000,000, a `retry:` of twenty digits. None may panic the worker or park the
//! client beyond `MAX_RECONNECT_WAIT`; each is checked in both delivery modes (callbacks and
//! poll). The seeded property test of the `Retry-After` parser and the policy is a unit test
//! of the policy (src/policy/generated_tests.rs).

mod support;

use std::collections::VecDeque;
use std::time::Duration;

use sse_client::{
    Client, ClientError, Config, ErrorKind, PollError, ReadyState, MAX_RECONNECT_WAIT,
};
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
