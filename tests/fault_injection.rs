//! Fault injection: the client against a loopback server that breaks its connections at
//! many random points, each kind of fault in its own scenario, all bounded in time.
//!
//! The core is a resume server (`faults::run_round`): a generated stream of events with
//! ids 1..N (types, multi-line data, é 漢 😀, comments, unknown fields, `retry:` lines,
//! LF/CRLF/CR line ends), where connection k continues after the request's Last-Event-ID
//! and is cut at a point the seeded PRNG picks (inside a line, inside a UTF-8 character,
//! between CR and LF, just before or after the byte that dispatches an event, inside a
//! BOM, anywhere) with a fault (reset, orderly close, stall past the read timeout,
//! trickle then reset or close, half a response head). The generator is the oracle: the
//! client must deliver exactly events 1..N, in order, once each, byte-exact; send the
//! Last-Event-ID of the last event dispatched before each cut; report each fault with the
//! error kind, failure count and reconnect wait the README's policy gives; keep the
//! README's callback order; and end in the state the policy says. Connections are
//! close-delimited or chunked at random: a reset is IO with either; an orderly close is
//! STREAM_ENDED on a close-delimited body, IO on a chunked one cut before its last chunk.
//!
//! Scenarios: resets and orderly closes at every kind of cut point; half a response head;
//! a request never answered (connect timeout, close during it); a stall mid-event (read
//! timeout) and a response head slower than the read timeout; a whole stream trickled one
//! byte per write; all faults mixed, also in poll mode with a 1-4 message queue and a slow
//! host; close at a random moment of a faulty stream; `retry:` lines cut at random points
//! (the next wait is checked exactly); invalid UTF-8; a 10 MB line and a 10 MB event of
//! many lines over a 64 KiB limit (memory bounded); `retry: abc` and a `retry:` beyond u64;
//! a `retry: 0` storm; a redirect loop; an enormous response head; 1000 reconnects.
//!
//! Leaks: every scenario runs under one lock (`faults::scenario`), so the tests of this
//! binary run one at a time whatever `--test-threads` says, and each checks on its own that
//! the `sse_client` worker threads, the test server's threads and the process's file
//! descriptors came back to what they were before it (waiting up to 2 s for ureq's detached
//! DNS threads, which inherit the worker's name). Memory is measured as the growth of the
//! peak RSS (VmHWM, reset through /proc/self/clear_refs) over a scenario.
//!
//! Seeds: `SSE_FAULT_SEED` (default `faults::DEFAULT_SEED`), printed with the plan and
//! stream of the failing round; `SSE_FAULT_SCALE=10` for ten times the rounds;
//! `SSE_FAULT_ONLY=<round>` to replay one round. Run with `-- --nocapture` to see each
//! scenario's rounds, coverage and wall time.

mod support;

#[path = "support/faults/mod.rs"]
mod faults;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use faults::*;
use sse_client::{Client, ClientError, ErrorKind, ReadyState, MIN_RECONNECT_DELAY};
use support::{fast_config, ms, ok_stream, within, Ev, Log, Record, Request, Script, Server};

const ALL_FAULTS: [Fault; 7] = [
    Fault::Reset,
    Fault::Close,
    Fault::Stall,
    Fault::TrickleThenReset,
    Fault::TrickleThenClose,
    Fault::HeadThenReset,
    Fault::HeadThenClose,
];

fn plans(
    rng: &mut Rng,
    count: usize,
    faults: &[Fault],
    first_cut: Cut,
    bom_percent: usize,
    chunked_percent: usize,
) -> Vec<ConnPlan> {
    (0..count)
        .map(|i| {
            let cut = if i == 0 {
                first_cut
            } else {
                rng.pick(&ALL_CUTS)
            };
            ConnPlan {
                fault: rng.pick(faults),
                cut,
                bom: cut == Cut::InBom || rng.chance(bom_percent),
                chunked: rng.chance(chunked_percent),
                salt: rng.next_u64(),
            }
        })
        .collect()
}

/// What a router (on a server thread) found wrong in a request, for the test to assert:
/// a router must not panic, or the client just sees a dropped connection and retries.
#[derive(Clone, Default)]
struct Mismatches(Arc<Mutex<Vec<String>>>);

impl Mismatches {
    fn record(&self, what: String) {
        self.0.lock().unwrap().push(what);
    }

    /// Whether connection `n` sent this Last-Event-ID; records it if not.
    fn last_event_id(&self, request: &Request, n: usize, want: Option<&str>) -> bool {
        let got = request.header("last-event-id");
        if got != want {
            self.record(format!(
                "connection {n}: Last-Event-ID {got:?}, expected {want:?}"
            ));
        }
        got == want
    }

    /// The id a resume server continues after: the Last-Event-ID as a number, 0 without.
    fn resume_id(&self, request: &Request, n: usize) -> Option<usize> {
        match request.header("last-event-id").map(str::parse) {
            None => Some(0),
            Some(Ok(k)) => Some(k),
            Some(Err(_)) => {
                self.record(format!(
                    "connection {n}: {:?}",
                    request.header("last-event-id")
                ));
                None
            }
        }
    }

    fn assert_none(&self) {
        let found = self.0.lock().unwrap();
        assert!(
            found.is_empty(),
            "requests the server did not expect: {found:#?}"
        );
    }
}

/// What a router answers a request it did not expect (the client then closes for good).
fn refuse() -> Script {
    Script::status(400, &[])
}

fn config(server: &Server) -> sse_client::Config {
    let mut config = fast_config(&server.url("/events"));
    config.set_proxy_from_env(false);
    config
}

/// Drops the client on a helper thread; panics unless that returns within `bound`.
fn close_within(client: Client, bound: Duration) -> Duration {
    within(bound, "closing the client", move || drop(client)).1
}

fn only_error(records: &[Record]) -> ClientError {
    let errors = errors_of(records);
    assert_eq!(errors.len(), 1, "{records:#?}");
    errors[0].clone()
}

/// Every cut kind of `fault` came up, unless only a few rounds ran (SSE_FAULT_ONLY).
fn assert_every_cut(coverage: &Coverage, rounds: usize, fault: Fault) {
    if rounds >= 2 * ALL_CUTS.len() {
        for cut in ALL_CUTS {
            assert!(
                coverage.count(fault, cut) > 0,
                "{fault:?} never cut at {cut:?}: {}",
                coverage.summary()
            );
        }
    }
}

/// Rounds of `fault` at every kind of cut point, 1 to 3 faulty connections each.
fn cut_rounds(s: &Scenario, fault: Fault, default_rounds: usize) -> String {
    let mut coverage = Coverage::default();
    let rounds = s.rounds(default_rounds);
    for (round, mut rng) in rounds.iter().cloned() {
        let events = rng.range(3, 10);
        let stream = Stream::generate(&mut rng, &StreamOptions::events(events));
        let count = rng.range(1, 3);
        let first_cut = ALL_CUTS[round % ALL_CUTS.len()];
        let mut spec = Round::new(plans(&mut rng, count, &[fault], first_cut, 20, 30));
        spec.final_bom = rng.chance(20);
        spec.final_chunked = rng.chance(30);
        coverage.add(&run_round(&format!("round {round}"), &stream, &spec));
    }
    assert_every_cut(&coverage, rounds.len(), fault);
    coverage.summary()
}

#[test]
fn reset_mid_line_mid_character_and_between_cr_and_lf_loses_and_duplicates_nothing() {
    scenario("reset_at_random_points", |s| {
        cut_rounds(s, Fault::Reset, 100)
    });
}

#[test]
fn orderly_close_mid_line_mid_character_and_between_cr_and_lf_loses_and_duplicates_nothing() {
    scenario("close_at_random_points", |s| {
        cut_rounds(s, Fault::Close, 100)
    });
}

#[test]
fn half_a_response_head_then_close_is_a_connect_error_and_the_events_stay_exact() {
    scenario("half_a_response_head", |s| {
        let mut coverage = Coverage::default();
        for (round, mut rng) in s.rounds(50) {
            let events = rng.range(2, 6);
            let stream = Stream::generate(&mut rng, &StreamOptions::events(events));
            let count = rng.range(1, 3);
            let mut plans = plans(
                &mut rng,
                count,
                &[
                    Fault::HeadThenClose,
                    Fault::HeadThenReset,
                    Fault::Reset,
                    Fault::Close,
                ],
                Cut::Anywhere,
                10,
                30,
            );
            plans[0].fault = rng.pick(&[Fault::HeadThenClose, Fault::HeadThenReset]);
            let mut spec = Round::new(plans);
            spec.final_chunked = rng.chance(30);
            let outcome = run_round(&format!("round {round}"), &stream, &spec);
            coverage.add(&outcome);
        }
        coverage.summary()
    });
}

#[test]
fn request_never_answered_is_a_connect_timeout_then_a_retry_and_the_events_stay_exact() {
    scenario("never_answered_then_good", |_| {
        let mismatches = Mismatches::default();
        let server = Server::routed({
            let mismatches = mismatches.clone();
            move |request, n| match n {
                0 | 1 => Script::silent(),
                _ if !mismatches.last_event_id(request, n, None) => refuse(),
                _ => Script::stream_then_hold("id: 1\ndata: after the silence 漢\n\n"),
            }
        });
        let mut config = config(&server);
        config.set_connect_timeout(Some(ms(300)));
        let (mut log, recorder) = Log::new();
        let client = Client::open(&config, recorder).unwrap();
        receive_events(
            &mut log,
            &[Ev::message("after the silence 漢", "1")],
            Duration::from_secs(5),
        );
        drop(client);
        mismatches.assert_none();

        let stamped = log.stamped();
        let records: Vec<Record> = stamped.iter().map(|s| s.record.clone()).collect();
        assert_eq!(check_callback_order(&records), Ok(ReadyState::Open));
        let connections = server.connections();
        assert_eq!(connections.len(), 3);
        let errors: Vec<_> = stamped.iter().filter(|s| s.record.is_error()).collect();
        assert_eq!(errors.len(), 2, "{records:#?}");
        for (i, stamped) in errors.iter().enumerate() {
            let error = stamped.record.as_error().unwrap();
            let waited = stamped.at.duration_since(connections[i].accepted_at);
            assert_eq!((error.kind, error.will_retry), (ErrorKind::Connect, true));
            assert_eq!(error.failed_attempts, i as u32 + 1);
            assert!(
                error.message.to_ascii_lowercase().contains("timeout")
                    || error.message.contains("timed out"),
                "the error does not say it timed out: {error:?}"
            );
            assert!(
                waited >= ms(250) && waited < ms(2_000),
                "attempt {i} failed {waited:?} after the connection; the connect timeout is 300 ms"
            );
        }
        "2 unanswered requests, each a Connect timeout, then the stream".to_owned()
    });
}

#[test]
fn close_while_a_request_is_never_answered_returns_promptly() {
    scenario("close_while_never_answered", |s| {
        let mut slowest = Duration::ZERO;
        let rounds = s.rounds(6);
        for (round, mut rng) in rounds.iter().cloned() {
            let pause = ms(rng.below(700) as u64);
            set_context(format!(
                "round {round}: close {pause:?} after the first request"
            ));
            let server = Server::always(Script::silent());
            let mut config = config(&server);
            config.set_connect_timeout(Some(ms(300)));
            let (log, recorder) = Log::new();
            let client = Client::open(&config, recorder).unwrap();
            server.wait_for_requests(1, Duration::from_secs(5));
            std::thread::sleep(pause);
            let took = close_within(client, Duration::from_secs(2));
            slowest = slowest.max(took);
            // Closing dropped the socket: the server sees every connection end.
            server
                .wait_for(Duration::from_secs(2), |c| {
                    c.iter().all(|c| c.ended_at.is_some())
                })
                .expect("a connection stayed open after close");
            let records = log.all();
            assert_eq!(check_callback_order(&records), Ok(ReadyState::Connecting));
            for error in errors_of(&records) {
                assert_eq!((error.kind, error.will_retry), (ErrorKind::Connect, true));
            }
            let count = server.connection_count();
            std::thread::sleep(ms(50));
            assert_eq!(server.connection_count(), count, "reconnected after close");
            assert_eq!(log.len(), records.len(), "a callback after close");
        }
        format!("{} rounds, slowest close {slowest:?}", rounds.len())
    });
}

#[test]
fn stall_mid_event_is_a_read_timeout_and_the_partial_event_is_never_delivered() {
    const READ_TIMEOUT: Duration = Duration::from_millis(200);
    scenario("stall_mid_event", |s| {
        let mut coverage = Coverage::default();
        let cuts = [
            Cut::MidLine,
            Cut::MidChar,
            Cut::BeforeDispatch,
            Cut::BetweenCrLf,
            Cut::Anywhere,
        ];
        for (round, mut rng) in s.rounds(10) {
            let events = rng.range(3, 8);
            let stream = Stream::generate(&mut rng, &StreamOptions::events(events));
            let count = rng.range(1, 2);
            let mut plans = plans(
                &mut rng,
                count,
                &[Fault::Reset, Fault::Close],
                Cut::Anywhere,
                10,
                30,
            );
            plans[0].fault = Fault::Stall;
            plans[0].cut = cuts[round % cuts.len()];
            let mut spec = Round::new(plans);
            spec.read_timeout = Some(READ_TIMEOUT);
            spec.final_chunked = rng.chance(30);
            spec.finish = Finish::Heartbeat(ms(50));
            let outcome = run_round(&format!("round {round}"), &stream, &spec);
            // The timeout came a whole read timeout after the last byte (the body's bytes
            // arrive with the head, right at on_open).
            let mut opened = None;
            for stamped in &outcome.records {
                match &stamped.record {
                    Record::Open(_) => opened = Some(stamped.at),
                    Record::Error(e) if e.kind == ErrorKind::ReadTimeout => {
                        let silent = stamped.at.duration_since(opened.unwrap());
                        assert!(
                            silent >= READ_TIMEOUT - ms(10),
                            "ReadTimeout after {silent:?} of silence"
                        );
                        assert!(e.message.contains("read timeout"), "{e:?}");
                    }
                    _ => {}
                }
            }
            coverage.add(&outcome);
        }
        coverage.summary()
    });
}

#[test]
fn response_head_slower_than_the_read_timeout_is_a_read_timeout_and_a_longer_one_opens() {
    // The header (sse_config_set_read_timeout): the read timeout bounds every wait for
    // bytes, the response head's included. A head due in 400 ms is a READ_TIMEOUT under a
    // 200 ms read timeout (and a retry), and opens under a 1 s one.
    scenario("slow_response_head", |_| {
        let server = Server::always(
            Script::new()
                .sleep(ms(400))
                .send(ok_stream())
                .send("id: 1\ndata: worth the wait\n\n")
                .repeat(":\n", ms(50), 1_000),
        );
        let mut config = config(&server);
        config.set_connect_timeout(Some(Duration::from_secs(5)));
        config.set_read_timeout(Some(ms(200)));
        let (mut log, recorder) = Log::new();
        let client = Client::open(&config, recorder).unwrap();
        let error = log.expect_error_of(ErrorKind::ReadTimeout, true);
        assert!(error.message.contains("response head"), "{}", error.message);
        close_within(client, Duration::from_secs(2));

        config.set_read_timeout(Some(Duration::from_secs(1)));
        let (mut log, recorder) = Log::new();
        let client = Client::open(&config, recorder).unwrap();
        let first = log.next();
        assert_eq!(first, Record::Open(200), "log: {:#?}", log.all());
        log.expect(Record::State(ReadyState::Open));
        log.expect_event(Ev::message("worth the wait", "1"));
        let took = close_within(client, Duration::from_secs(2));
        format!("a READ_TIMEOUT under 200 ms, open under 1 s; close took {took:?}")
    });
}

#[test]
fn one_byte_per_read_trickle_delivers_exact_events() {
    scenario("trickle", |s| {
        let mut coverage = Coverage::default();
        let mut bytes = 0;
        for (round, mut rng) in s.rounds(3) {
            let events = rng.range(4, 6);
            let stream = Stream::generate(&mut rng, &StreamOptions::events(events));
            assert!(
                stream.bytes.iter().any(|&b| b >= 0x80),
                "the stream has multibyte characters"
            );
            bytes += stream.bytes.len();
            // Round 0 trickles the whole stream; the others break one connection first.
            let plans = plans(
                &mut rng,
                usize::from(round > 0),
                &[Fault::TrickleThenReset, Fault::TrickleThenClose],
                rng_cut(round),
                20,
                50,
            );
            let mut spec = Round::new(plans);
            spec.finish = Finish::Trickle(ms(1));
            spec.final_bom = round % 2 == 0;
            spec.final_chunked = round % 2 == 1;
            coverage.add(&run_round(&format!("round {round}"), &stream, &spec));
        }
        format!(
            "{}; {bytes} stream bytes, the last connection's one per write",
            coverage.summary()
        )
    });
}

fn rng_cut(round: usize) -> Cut {
    [Cut::MidChar, Cut::BetweenCrLf, Cut::MidLine][round % 3]
}

#[test]
fn mixed_faults_at_random_points_lose_and_duplicate_nothing() {
    scenario("mixed_faults", |s| {
        let mut coverage = Coverage::default();
        for (round, mut rng) in s.rounds(40) {
            let options = StreamOptions {
                events: rng.range(3, 12),
                invalid_utf8: rng.chance(30),
                ..StreamOptions::events(0)
            };
            let stream = Stream::generate(&mut rng, &options);
            let count = rng.range(1, 4);
            let first_cut = rng.pick(&ALL_CUTS);
            let mut spec = Round::new(plans(&mut rng, count, &ALL_FAULTS, first_cut, 25, 30));
            spec.final_chunked = rng.chance(30);
            spec.read_timeout = Some(ms(250));
            spec.finish = Finish::Heartbeat(ms(40));
            spec.final_bom = rng.chance(25);
            coverage.add(&run_round(&format!("round {round}"), &stream, &spec));
        }
        coverage.summary()
    });
}

#[test]
fn poll_mode_with_a_tiny_queue_under_faults_loses_and_duplicates_nothing() {
    scenario("poll_mode_faults", |s| {
        let mut coverage = Coverage::default();
        let faults = [
            Fault::Reset,
            Fault::Close,
            Fault::Stall,
            Fault::TrickleThenReset,
            Fault::HeadThenClose,
        ];
        for (round, mut rng) in s.rounds(40) {
            let options = StreamOptions {
                events: rng.range(3, 12),
                invalid_utf8: rng.chance(20),
                ..StreamOptions::events(0)
            };
            let stream = Stream::generate(&mut rng, &options);
            let count = rng.range(1, 3);
            let first_cut = rng.pick(&ALL_CUTS);
            let mut spec = Round::new(plans(&mut rng, count, &faults, first_cut, 20, 30));
            // A queue of 1 to 4 messages and a host that pauses: the worker waits on it.
            spec.poll_queue = Some(rng.range(1, 4));
            spec.read_timeout = Some(ms(250));
            spec.finish = Finish::Heartbeat(ms(40));
            spec.final_chunked = rng.chance(30);
            coverage.add(&run_round(&format!("round {round}"), &stream, &spec));
        }
        coverage.summary()
    });
}

#[test]
fn close_at_a_random_moment_of_a_faulty_stream_is_prompt_and_ends_every_callback() {
    scenario("close_at_random_moments", |s| {
        let (mut slowest_close, mut slowest_join) = (Duration::ZERO, Duration::ZERO);
        let mut delivered = 0;
        let rounds = s.rounds(20);
        for (round, mut rng) in rounds.iter().cloned() {
            let events = rng.range(3, 10);
            let stream = Stream::generate(&mut rng, &StreamOptions::events(events));
            let count = rng.range(1, 3);
            let first_cut = rng.pick(&ALL_CUTS);
            let mut spec = Round::new(plans(&mut rng, count, &ALL_FAULTS, first_cut, 20, 30));
            spec.read_timeout = Some(ms(150));
            spec.finish = match rng.chance(50) {
                true => Finish::Trickle(ms(1)),
                false => Finish::Heartbeat(ms(40)),
            };
            if rng.chance(50) {
                // Longer waits, for the close to land in one.
                spec.delays = (ms(50), ms(200));
            }
            let close_after = ms(rng.below(400) as u64);
            let label = format!("round {round}, closed after {close_after:?}");
            set_context(describe(&label, &stream, &spec));
            let resume = ResumeServer::start(&stream, &spec);
            let (log, recorder) = Log::new();
            let host = Host::open(&mut resume.config(&spec), recorder, None);
            std::thread::sleep(close_after);
            let started = Instant::now();
            host.client.close();
            let took = started.elapsed();
            let at_close = log.len();
            let started = Instant::now();
            drop(host);
            let joined = started.elapsed();
            std::thread::sleep(ms(20));

            let records = log.all();
            assert_eq!(
                records.len(),
                at_close,
                "callbacks after close returned: {:#?}",
                &records[at_close..]
            );
            check_callback_order(&records)
                .unwrap_or_else(|problem| panic!("callback order: {problem}; {records:#?}"));
            let events = events_of(&records);
            let expected = stream.expected_events();
            assert!(
                events.len() <= expected.len() && events[..] == expected[..events.len()],
                "delivered events are not a prefix of the stream: {events:#?}"
            );
            resume.assert_resumable();
            assert!(took < Duration::from_secs(2), "close took {took:?}");
            assert!(joined < Duration::from_secs(2), "joining took {joined:?}");
            slowest_close = slowest_close.max(took);
            slowest_join = slowest_join.max(joined);
            delivered += events.len();
        }
        format!(
            "{} rounds, {delivered} events before the closes; slowest close {slowest_close:?}, \
             slowest close + join {slowest_join:?}",
            rounds.len()
        )
    });
}

#[test]
fn retry_fields_cut_at_random_points_set_exactly_the_next_wait() {
    scenario("retry_at_random_points", |s| {
        let mut coverage = Coverage::default();
        for (round, mut rng) in s.rounds(12) {
            let options = StreamOptions {
                events: rng.range(3, 8),
                retry_ms: (10, 40),
                retry_percent: 80,
                ..StreamOptions::events(0)
            };
            let stream = Stream::generate(&mut rng, &options);
            let count = rng.range(2, 4);
            let faults = [Fault::Reset, Fault::Close, Fault::HeadThenClose];
            let mut spec = Round::new(plans(&mut rng, count, &faults, Cut::MidLine, 10, 20));
            // A backoff that doubles up to 100 ms: the oracle checks base, doubling and cap.
            spec.delays = (ms(10), ms(100));
            coverage.add(&run_round(&format!("round {round}"), &stream, &spec));
        }
        coverage.summary()
    });
}

#[test]
fn invalid_utf8_in_data_becomes_replacement_characters_and_the_stream_goes_on() {
    scenario("invalid_utf8", |s| {
        // Fixed cases first, with the replacement the WHATWG decoder gives spelled out.
        let cases: [(&[u8], &str); 5] = [
            (b"a\xffb", "a\u{FFFD}b"),
            // 漢 without its last byte.
            (b"\xe6\xbc", "\u{FFFD}"),
            (
                b"\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80",
                "\u{FFFD}\u{FFFD}|\u{FFFD}\u{FFFD}\u{FFFD}|\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}",
            ),
            (b"ok \xf0\x9f\x98 then \xe6\xbc\xa2", "ok \u{FFFD} then 漢"),
            ("漢字 😀".as_bytes(), "漢字 😀"),
        ];
        let mut stream = Vec::new();
        for (k, (data, _)) in cases.iter().enumerate() {
            stream.extend_from_slice(format!("id: {}\n", k + 1).as_bytes());
            if k == 3 {
                stream.extend_from_slice(b"event: t\xfe\n: \xff comment\n");
            }
            stream.extend_from_slice(b"data: ");
            stream.extend_from_slice(data);
            stream.extend_from_slice(b"\n\n");
        }
        // The first connection breaks inside the 漢 of the last event.
        let cut = stream.len() - "字 😀\n\n".len() - 2;
        let mismatches = Mismatches::default();
        let server = {
            let stream = stream.clone();
            let mismatches = mismatches.clone();
            Server::routed(move |request, n| match n {
                0 => Script::new().send(ok_stream()).send(&stream[..cut]).close(),
                _ if !mismatches.last_event_id(request, n, Some("4")) => refuse(),
                _ => {
                    let rest = b"id: 5\ndata: \xe6\xbc\xa2\xe5\xad\x97 \xf0\x9f\x98\x80\n\n";
                    Script::stream_then_hold(rest)
                }
            })
        };
        let (mut log, recorder) = Log::new();
        let client = Client::open(&config(&server), recorder).unwrap();
        let expected: Vec<Ev> = cases
            .iter()
            .enumerate()
            .map(|(k, (_, text))| {
                let kind = if k == 3 { "t\u{FFFD}" } else { "message" };
                Ev::new(kind, text, &(k + 1).to_string())
            })
            .collect();
        receive_events(&mut log, &expected, Duration::from_secs(5));
        drop(client);
        mismatches.assert_none();
        let records = log.all();
        assert_eq!(check_callback_order(&records), Ok(ReadyState::Open));
        assert_eq!(events_of(&records), expected);
        assert!(records.contains(&Record::Comment("\u{FFFD} comment".into())));
        assert_eq!(only_error(&records).kind, ErrorKind::StreamEnded);
        drop(server);

        // Then random streams with invalid bytes everywhere, cut at random points.
        let mut coverage = Coverage::default();
        for (round, mut rng) in s.rounds(30) {
            let options = StreamOptions {
                events: rng.range(3, 8),
                invalid_utf8: true,
                ..StreamOptions::events(0)
            };
            let stream = Stream::generate(&mut rng, &options);
            let count = rng.range(1, 3);
            let faults = [Fault::Reset, Fault::Close];
            let mut spec = Round::new(plans(&mut rng, count, &faults, Cut::MidChar, 10, 30));
            spec.final_chunked = rng.chance(30);
            coverage.add(&run_round(&format!("round {round}"), &stream, &spec));
        }
        format!("5 fixed cases; {}", coverage.summary())
    });
}

/// A server whose first connection sends event 1 and then `oversized` (sent in pieces,
/// never held whole in memory), and whose second resumes with event 2. Linux only, as
/// [`MemoryProbe`] is (it reads /proc).
#[cfg(target_os = "linux")]
fn oversized_scenario(oversized: Script) -> String {
    const LIMIT: usize = 64 * 1024;
    let mismatches = Mismatches::default();
    let router_mismatches = mismatches.clone();
    let server = Server::routed(move |request, n| match n {
        0 => {
            let mut script = Script::new()
                .send(ok_stream())
                .send("id: 1\ndata: before\n\n");
            script.0.extend(oversized.0.iter().cloned());
            script.hold_open()
        }
        _ if !router_mismatches.last_event_id(request, n, Some("1")) => refuse(),
        _ => Script::stream_then_hold("id: 2\ndata: after 漢\n\n"),
    });
    let mut config = config(&server);
    config.set_max_event_size(LIMIT);
    MemoryProbe::self_test();
    let memory = MemoryProbe::start();
    let (mut log, recorder) = Log::new();
    let client = Client::open(&config, recorder).unwrap();
    log.expect_opened();
    log.expect_event(Ev::message("before", "1"));
    let error = log.expect_error_of(ErrorKind::EventTooLarge, true);
    assert!(
        error.message.contains("max_event_size") && error.message.contains(&LIMIT.to_string()),
        "the error does not say which limit: {error:?}"
    );
    log.expect(Record::State(ReadyState::Connecting));
    log.expect_opened();
    log.expect_event(Ev::message("after 漢", "2"));
    let received = client.stats().bytes_received;
    drop(client);
    mismatches.assert_none();
    let growth = memory.growth_kib();
    assert_eq!(check_callback_order(&log.all()), Ok(ReadyState::Open));
    // The connection was dropped soon after the limit, not read to its end ...
    assert!(
        received < 1024 * 1024,
        "read {received} bytes of a 10 MB event"
    );
    // ... and the process did not grow with the event.
    assert!(
        growth < 4 * 1024,
        "{} grew by {growth} KiB during a 10 MB event with a 64 KiB limit",
        memory.what()
    );
    format!(
        "EventTooLarge after {received} body bytes; {} +{growth} KiB",
        memory.what()
    )
}

#[test]
#[cfg(target_os = "linux")] // MemoryProbe reads /proc
fn ten_megabyte_line_is_event_too_large_and_memory_stays_bounded() {
    scenario("ten_megabyte_line", |_| {
        let piece: Vec<u8> = "漢x".repeat(16 * 1024).into_bytes(); // 64 KiB
        oversized_scenario(
            Script::new()
                .send("data: ")
                .repeat(piece, Duration::ZERO, 160)
                .send("\n\n"),
        )
    });
}

#[test]
#[cfg(target_os = "linux")] // MemoryProbe reads /proc
fn event_of_many_lines_over_the_limit_is_event_too_large_and_memory_stays_bounded() {
    scenario("event_of_many_lines", |_| {
        let line = format!("data: {}\n", "é".repeat(500)); // 1 KiB
        oversized_scenario(
            Script::new()
                .repeat(line, Duration::ZERO, 10_000)
                .send("\n"),
        )
    });
}

#[test]
fn non_numeric_and_huge_retry_values_are_ignored_or_saturated_and_close_stays_prompt() {
    scenario("retry_values", |_| {
        let bodies = [
            "retry: abc\nid: 1\ndata: a\n\n",
            "retry: 1.5\nretry: -1\nretry:\nretry: 12 \nretry: 0x10\nretry\nid: 2\ndata: b\n\n",
            "retry: 30\nid: 3\ndata: c\n\n",
            "retry: 18446744073709551616\nretry: 99999999999999999999\nid: 4\ndata: d\n\n",
        ];
        let mismatches = Mismatches::default();
        let server = Server::routed({
            let mismatches = mismatches.clone();
            move |request, n| {
                let want = (n > 0).then(|| n.to_string());
                match mismatches.last_event_id(request, n, want.as_deref()) {
                    true => Script::stream(bodies[n.min(bodies.len() - 1)]),
                    false => refuse(),
                }
            }
        });
        let (mut log, recorder) = Log::new();
        let client = Client::open(&config(&server), recorder).unwrap();
        let expected: Vec<Ev> = ["a", "b", "c", "d"]
            .iter()
            .enumerate()
            .map(|(k, d)| Ev::message(d, &(k + 1).to_string()))
            .collect();
        receive_events(&mut log, &expected, Duration::from_secs(5));
        log.skip_until(|r| matches!(r, Record::Error(e) if e.retry_delay > ms(3_600_000)));
        let stats = client.stats();
        let took = close_within(client, Duration::from_secs(2));

        mismatches.assert_none();
        let records = log.all();
        assert_eq!(check_callback_order(&records), Ok(ReadyState::Connecting));
        let errors = errors_of(&records);
        let delays: Vec<Duration> = errors.iter().map(|e| e.retry_delay).collect();
        assert_eq!(errors.len(), 4, "{records:#?}");
        for (i, (lo, hi)) in [(10, 15), (10, 15), (30, 45)].into_iter().enumerate() {
            assert!(
                delays[i] >= ms(lo) && delays[i] <= ms(hi),
                "wait {i} is {:?}, expected {lo} to {hi} ms: {delays:?}",
                delays[i]
            );
        }
        // A retry: beyond u64 saturates, and is honoured up to the longest wait (24 hours).
        assert_eq!(delays[3], sse_client::MAX_RECONNECT_WAIT);
        assert_eq!(stats.reconnect_delay, sse_client::MAX_RECONNECT_WAIT);
        assert!(errors
            .iter()
            .all(|e| e.kind == ErrorKind::StreamEnded && e.will_retry));
        std::thread::sleep(ms(50));
        assert_eq!(
            server.connection_count(),
            4,
            "no reconnect during the huge wait"
        );
        format!("waits {delays:?}; close during the huge wait took {took:?}")
    });
}

#[test]
fn retry_zero_storm_is_held_to_the_minimum_delay() {
    scenario("retry_zero_storm", |_| {
        // The minimum is documented where C hosts read it.
        let header =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/sse_client.h"))
                .unwrap();
        assert!(
            header.contains("shorter than 10 ms") && header.contains("retry: 0"),
            "include/sse_client.h does not document the minimum reconnect delay"
        );
        assert_eq!(MIN_RECONNECT_DELAY, ms(10));

        let mismatches = Mismatches::default();
        let server = Server::routed({
            let mismatches = mismatches.clone();
            move |request, n| match mismatches.resume_id(request, n) {
                Some(k) => Script::stream(format!(
                    "retry: 0\nid: {}\ndata: storm {}\n\n",
                    k + 1,
                    k + 1
                )),
                None => refuse(),
            }
        });
        let (log, recorder) = Log::new();
        let client = Client::open(&config(&server), recorder).unwrap();
        server.wait_for_requests(1, Duration::from_secs(5));
        let first = server.connections()[0].accepted_at;
        std::thread::sleep(Duration::from_secs(1).saturating_sub(first.elapsed()));
        drop(client);
        mismatches.assert_none();

        let in_one_second = server
            .connections()
            .iter()
            .filter(|c| c.accepted_at.duration_since(first) < Duration::from_secs(1))
            .count();
        assert!(
            (6..150).contains(&in_one_second),
            "{in_one_second} connections in 1 s with retry: 0 (10 ms minimum wait)"
        );
        let stamped = log.stamped();
        let records: Vec<Record> = stamped.iter().map(|s| s.record.clone()).collect();
        check_callback_order(&records).unwrap();
        let events = events_of(&records);
        let expected: Vec<Ev> = (1..=events.len())
            .map(|k| Ev::message(&format!("storm {k}"), &k.to_string()))
            .collect();
        assert_eq!(events, expected);
        for error in errors_of(&records) {
            assert_eq!(error.kind, ErrorKind::StreamEnded);
            assert!(error.retry_delay >= MIN_RECONNECT_DELAY, "{error:?}");
        }
        // From each error (reported before the wait) to the next opening.
        let mut shortest = Duration::MAX;
        let mut error_at = None;
        for s in &stamped {
            match s.record {
                Record::Error(_) => error_at = Some(s.at),
                Record::Open(_) => {
                    if let Some(at) = error_at.take() {
                        shortest = shortest.min(s.at.duration_since(at));
                    }
                }
                _ => {}
            }
        }
        assert!(
            shortest >= MIN_RECONNECT_DELAY,
            "reconnected {shortest:?} after an error"
        );
        format!("{in_one_second} connections in 1 s; shortest error-to-open {shortest:?}")
    });
}

#[test]
fn redirect_loop_is_a_fatal_http_status_after_max_redirects() {
    scenario("redirect_loop", |s| {
        let rounds = s.rounds(6);
        for (round, mut rng) in rounds.iter().cloned() {
            let max = rng.pick(&[None, Some(0), Some(1), Some(3), Some(5)]);
            let status: u16 = rng.pick(&[301, 302, 303, 307, 308]);
            let ping_pong = rng.chance(50);
            set_context(format!(
                "round {round}: max_redirects {max:?}, status {status}, ping-pong {ping_pong}"
            ));
            let server = Server::routed(move |request, _| {
                let location = match (ping_pong, request.path.as_str()) {
                    (true, "/a") => "/b",
                    (true, _) => "/a",
                    (false, _) => "/events",
                };
                Script::status(status, &[("Location", location)])
            });
            let mut config = config(&server);
            if let Some(max) = max {
                config.set_max_redirects(max);
            }
            let (mut log, recorder) = Log::new();
            let client = Client::open(&config, recorder).unwrap();
            let error = log.expect_error_of(ErrorKind::HttpStatus, false);
            log.expect(Record::State(ReadyState::Closed));
            assert_eq!(error.http_status, status);
            assert!(
                error.message.contains("redirected once too often"),
                "{error:?}"
            );
            assert_eq!(client.ready_state(), ReadyState::Closed);
            log.expect_silence(ms(100));
            let hops = max.unwrap_or(10) as usize;
            assert_eq!(
                server.connection_count(),
                hops + 1,
                "requests of one attempt"
            );
            drop(client);
            assert_eq!(check_callback_order(&log.all()), Ok(ReadyState::Closed));
        }
        format!("{} rounds", rounds.len())
    });
}

#[test]
#[cfg(target_os = "linux")] // MemoryProbe reads /proc
fn enormous_response_head_is_a_connect_error_and_memory_stays_bounded() {
    scenario("enormous_response_head", |_| {
        // About 1 MiB of header each time, written in pieces.
        let variants: [(&str, Vec<u8>, usize); 3] = [
            (
                "1000 headers of 1 KiB",
                format!("X-Junk: {}\r\n", "j".repeat(1014)).into_bytes(),
                1024,
            ),
            ("one 1 MiB header", b"j".repeat(64 * 1024), 16),
            ("131072 tiny headers", b"X-J: y\r\n".to_vec(), 128 * 1024),
        ];
        let mut summary = Vec::new();
        for (what, piece, times) in variants {
            set_context(format!("enormous response head: {what}"));
            let mismatches = Mismatches::default();
            let router_mismatches = mismatches.clone();
            let server = Server::routed(move |request, n| match n {
                0 => {
                    let mut script = Script::new()
                        .send("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n");
                    if what.starts_with("one") {
                        script = script.send("X-Junk: ");
                    }
                    script
                        .repeat(piece.clone(), Duration::ZERO, times)
                        .send("\r\n\r\nid: 1\ndata: hidden\n\n")
                        .close()
                }
                _ if !router_mismatches.last_event_id(request, n, None) => refuse(),
                _ => Script::stream_then_hold("id: 1\ndata: visible\n\n"),
            });
            MemoryProbe::self_test();
            let memory = MemoryProbe::start();
            let (mut log, recorder) = Log::new();
            let client = Client::open(&config(&server), recorder).unwrap();
            let error = log.expect_error_of(ErrorKind::Connect, true);
            // A clear error: it says the head was too big, not that the server hung up.
            assert!(
                error.message.to_ascii_lowercase().contains("header"),
                "{what}: the error does not say the response head is too large: {error:?}"
            );
            log.expect_opened();
            log.expect_event(Ev::message("visible", "1"));
            drop(client);
            mismatches.assert_none();
            let growth = memory.growth_kib();
            assert_eq!(check_callback_order(&log.all()), Ok(ReadyState::Open));
            assert!(growth < 4 * 1024, "{} grew by {growth} KiB", memory.what());
            summary.push(format!("{what}: {:?} (+{growth} KiB)", error.message));
        }
        summary.join("; ")
    });
}

#[test]
fn a_thousand_reconnects_in_a_row_deliver_every_event_exactly_once() {
    const N: usize = 1000;
    scenario("thousand_reconnects", |_| {
        let mismatches = Mismatches::default();
        let server = Server::routed({
            let mismatches = mismatches.clone();
            move |request, n| match mismatches.resume_id(request, n) {
                Some(k) => Script::stream(format!(
                    "retry: 10\nid: {}\ndata: event {} é\n\n",
                    k + 1,
                    k + 1
                )),
                None => refuse(),
            }
        });
        let mut config = config(&server);
        config.set_reconnect_delay(ms(10), ms(10)).unwrap();
        let expected: Vec<Ev> = (1..=N)
            .map(|k| Ev::message(&format!("event {k} é"), &k.to_string()))
            .collect();
        let (mut log, recorder) = Log::new();
        let started = Instant::now();
        let client = Client::open(&config, recorder).unwrap();
        receive_events(&mut log, &expected, Duration::from_secs(5));
        let took = started.elapsed();
        assert!(matches!(
            client.ready_state(),
            ReadyState::Open | ReadyState::Connecting
        ));
        drop(client);
        mismatches.assert_none();

        let records = log.all();
        let state = check_callback_order(&records).unwrap();
        assert!(state != ReadyState::Closed);
        assert_eq!(&events_of(&records)[..N], &expected[..]);
        let requests = server.requests();
        for (i, request) in requests.iter().take(N).enumerate() {
            let want = (i > 0).then(|| i.to_string());
            assert_eq!(
                request.header("last-event-id"),
                want.as_deref(),
                "request {i}"
            );
        }
        for error in errors_of(&records).iter().take(N - 1) {
            assert_eq!(
                (
                    error.kind,
                    error.will_retry,
                    error.failed_attempts,
                    error.retry_delay
                ),
                (ErrorKind::StreamEnded, true, 0, ms(10)),
                "{error:?}"
            );
        }
        format!(
            "{N} reconnects in {:.2} s ({:.1} ms each, 10 ms of it the wait)",
            took.as_secs_f64(),
            took.as_secs_f64() * 1000.0 / N as f64
        )
    });
}
