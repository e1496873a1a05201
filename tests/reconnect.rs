//! Reconnection: Last-Event-ID, the server's `retry:`, backoff, and the ways a stream ends.

mod support;

use std::time::Duration;

use sse_client::{Client, ErrorKind, ReadyState};
use support::*;

#[test]
fn reconnects_with_last_event_id_after_server_close() {
    let server = Server::scripted(vec![
        Script::stream("id: 1\ndata: a\n\nid: 2\ndata: b\n\n"),
        Script::stream_then_hold("data: c\n\n"),
    ]);
    let (mut log, recorder) = Log::new();
    let client = Client::open(&fast_config(&server.url("/events")), recorder).unwrap();

    log.expect_opened();
    log.expect_event(Ev::message("a", "1"));
    log.expect_event(Ev::message("b", "2"));
    let error = log.expect_error_of(ErrorKind::StreamEnded, true);
    assert_eq!(error.http_status, 0);
    log.expect(Record::State(ReadyState::Connecting));
    log.expect_opened();
    // The last event ID persists across connections.
    log.expect_event(Ev::message("c", "2"));

    let requests = server.wait_for_requests(2, TIMEOUT);
    assert_eq!(requests[0].header("last-event-id"), None);
    assert_eq!(requests[1].header("last-event-id"), Some("2"));
    assert_eq!(requests[1].path, "/events");
    assert_eq!(client.last_event_id(), "2");
    assert_eq!(client.ready_state(), ReadyState::Open);
}

#[test]
fn configured_last_event_id_is_sent_on_first_connect() {
    let server = Server::scripted(vec![
        Script::stream("data: a\n\n"),
        Script::stream_then_hold("id: 43\ndata: b\n\n"),
    ]);
    let mut config = fast_config(&server.url("/"));
    config.set_last_event_id("42").unwrap();
    let (mut log, recorder) = Log::new();
    let client = Client::open(&config, recorder).unwrap();
    assert_eq!(client.last_event_id(), "42");

    log.expect_opened();
    // An event without an id field carries the last event ID unchanged.
    log.expect_event(Ev::message("a", "42"));
    log.expect_reconnect_after(ErrorKind::StreamEnded);
    log.expect_event(Ev::message("b", "43"));

    let requests = server.wait_for_requests(2, TIMEOUT);
    assert_eq!(requests[0].header("last-event-id"), Some("42"));
    assert_eq!(requests[1].header("last-event-id"), Some("42"));
    assert_eq!(client.last_event_id(), "43");
}

#[test]
fn empty_id_field_clears_the_last_event_id_for_the_next_reconnect() {
    let server = Server::scripted(vec![
        Script::stream("id: 7\ndata: a\n\nid\ndata: b\n\n"),
        Script::silent(),
    ]);
    let (mut log, recorder) = Log::new();
    let client = Client::open(&fast_config(&server.url("/")), recorder).unwrap();

    log.expect_opened();
    log.expect_event(Ev::message("a", "7"));
    log.expect_event(Ev::message("b", ""));
    log.expect_error_of(ErrorKind::StreamEnded, true);

    let requests = server.wait_for_requests(2, TIMEOUT);
    assert_eq!(requests[1].header("last-event-id"), None);
    assert_eq!(client.last_event_id(), "");
}

#[test]
fn server_retry_field_sets_the_reconnect_wait() {
    let server = Server::scripted(vec![
        Script::stream("retry: 600\ndata: x\n\n"),
        Script::stream_then_hold("data: y\n\n"),
    ]);
    // The configured initial delay is 10 ms (max 100 ms): only the server's retry: can
    // make the wait 600 ms.
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&fast_config(&server.url("/")), recorder).unwrap();

    log.expect_opened();
    log.expect_event(Ev::message("x", ""));
    let error = log.expect_error_of(ErrorKind::StreamEnded, true);
    assert!(
        error.retry_delay >= ms(600) && error.retry_delay <= ms(900),
        "retry: 600 should make the wait 600 ms (jitter at most +50%), got {:?}",
        error.retry_delay
    );
    log.skip_until(Record::is_event);

    let conns = server.connections();
    let gap = conns[1]
        .accepted_at
        .duration_since(conns[0].ended_at.expect("first connection ended"));
    assert!(
        gap >= ms(550),
        "the reconnect came {gap:?} after the stream ended; retry: 600 asks for 600 ms"
    );
}

#[test]
fn server_retry_zero_is_raised_to_the_minimum_delay() {
    let server = Server::scripted(vec![
        Script::stream("retry: 0\ndata: x\n\n"),
        Script::stream_then_hold("data: y\n\n"),
    ]);
    // A long configured delay, so that a reconnect within the timeout proves retry: 0 won.
    let mut config = fast_config(&server.url("/"));
    config
        .set_reconnect_delay(Duration::from_secs(20), Duration::from_secs(30))
        .unwrap();
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&config, recorder).unwrap();

    log.expect_opened();
    log.expect_event(Ev::message("x", ""));
    let error = log.expect_error_of(ErrorKind::StreamEnded, true);
    assert!(
        error.retry_delay >= ms(10) && error.retry_delay <= ms(15),
        "retry: 0 should wait the 10 ms minimum (+ at most 50% jitter), got {:?}",
        error.retry_delay
    );
    log.expect(Record::State(ReadyState::Connecting));
    log.expect_opened();
    log.expect_event(Ev::message("y", ""));
}

/// The wait the policy should pick after the n-th consecutive failure (1-based), before
/// jitter: initial * 2^(n-1), capped.
fn backoff(initial: u64, max: u64, n: u32) -> u64 {
    (initial << (n - 1)).min(max)
}

fn assert_wait(got: Duration, base_ms: u64, max_ms: u64, what: &str) {
    let low = ms(base_ms);
    let high = ms((base_ms + base_ms / 2).min(max_ms));
    assert!(
        got >= low && got <= high,
        "{what}: wait {got:?} outside [{low:?}, {high:?}]"
    );
}

#[test]
fn backoff_doubles_on_consecutive_failures_up_to_the_maximum() {
    let server = Server::always(Script::status(500, &[]));
    let mut config = fast_config(&server.url("/"));
    config.set_reconnect_delay(ms(10), ms(80)).unwrap();
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&config, recorder).unwrap();

    for n in 1..=6 {
        let error = log.expect_error_of(ErrorKind::HttpStatus, true);
        assert_eq!(error.http_status, 500);
        assert_wait(
            error.retry_delay,
            backoff(10, 80, n),
            80,
            &format!("failure {n}"),
        );
    }
}

#[test]
fn backoff_resets_after_a_connection_delivers_an_event() {
    let server = Server::scripted(vec![
        Script::status(500, &[]),
        Script::status(500, &[]),
        Script::status(500, &[]),
        Script::stream("data: x\n\n"),
        Script::status(500, &[]),
    ]);
    let mut config = fast_config(&server.url("/"));
    config.set_reconnect_delay(ms(20), ms(1_000)).unwrap();
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&config, recorder).unwrap();

    for n in 1..=3 {
        let error = log.expect_error_of(ErrorKind::HttpStatus, true);
        assert_wait(error.retry_delay, backoff(20, 1_000, n), 1_000, "500");
    }
    log.expect_opened();
    log.expect_event(Ev::message("x", ""));
    let ended = log.expect_error_of(ErrorKind::StreamEnded, true);
    assert_wait(ended.retry_delay, 20, 1_000, "after a delivered event");
    log.expect(Record::State(ReadyState::Connecting));
    let next = log.expect_error_of(ErrorKind::HttpStatus, true);
    assert_wait(next.retry_delay, 20, 1_000, "first failure after the reset");
}

#[test]
fn stream_that_delivered_nothing_counts_as_a_failure() {
    // Open streams that end without an event do not reset the backoff.
    let server = Server::always(Script::stream(": nothing here\n\n"));
    let mut config = fast_config(&server.url("/"));
    config.set_reconnect_delay(ms(20), ms(1_000)).unwrap();
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&config, recorder).unwrap();

    for n in 1..=3 {
        log.expect_opened();
        log.expect(Record::Comment("nothing here".into()));
        let error = log.expect_error_of(ErrorKind::StreamEnded, true);
        assert_wait(
            error.retry_delay,
            backoff(20, 1_000, n),
            1_000,
            "empty stream",
        );
        log.expect(Record::State(ReadyState::Connecting));
    }
}

#[test]
fn abrupt_reset_of_a_close_delimited_stream_reconnects() {
    let server = Server::scripted(vec![
        Script::new()
            .send(ok_stream())
            .send("id: 5\ndata: a\n\ndata: partial")
            .sleep(ms(50))
            .close_abruptly(),
        Script::stream_then_hold("data: b\n\n"),
    ]);
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&fast_config(&server.url("/")), recorder).unwrap();

    log.expect_opened();
    log.expect_event(Ev::message("a", "5"));
    // A reset, not an orderly end (tests/peer_reset.rs has every kind of body).
    log.expect_error_of(ErrorKind::Io, true);
    log.expect(Record::State(ReadyState::Connecting));
    log.expect_opened();
    // The unterminated event of the broken connection is never dispatched.
    log.expect_event(Ev::message("b", "5"));
    let requests = server.wait_for_requests(2, TIMEOUT);
    assert_eq!(requests[1].header("last-event-id"), Some("5"));
}

#[test]
fn reset_in_the_middle_of_a_chunk_is_an_io_error_and_reconnects() {
    let server = Server::scripted(vec![
        Script::new()
            .send(ok_stream_chunked())
            .send(chunk("id: 9\ndata: a\n\n"))
            .send("40\r\ndata: cut")
            .sleep(ms(50))
            .close_abruptly(),
        Script::new()
            .send(ok_stream_chunked())
            .send(chunk("data: b\n\n"))
            .hold_open(),
    ]);
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&fast_config(&server.url("/")), recorder).unwrap();

    log.expect_opened();
    log.expect_event(Ev::message("a", "9"));
    let error = log.expect_error_of(ErrorKind::Io, true);
    assert_eq!(error.http_status, 0);
    log.expect(Record::State(ReadyState::Connecting));
    log.expect_opened();
    log.expect_event(Ev::message("b", "9"));
}

#[test]
fn chunked_stream_delivers_events_and_its_end_reconnects() {
    let server = Server::scripted(vec![
        Script::new()
            .send(ok_stream_chunked())
            .send(chunk("data: one\n"))
            .sleep(ms(20))
            .send(chunk("\ndata: two\n\n"))
            .send(chunk(""))
            .close(),
        Script::new()
            .send(ok_stream_chunked())
            .send(chunk("data: three\n\n"))
            .hold_open(),
    ]);
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&fast_config(&server.url("/")), recorder).unwrap();

    log.expect_opened();
    log.expect_event(Ev::message("one", ""));
    log.expect_event(Ev::message("two", ""));
    log.expect_reconnect_after(ErrorKind::StreamEnded);
    log.expect_event(Ev::message("three", ""));
}

#[test]
fn truncated_chunked_stream_reconnects() {
    let server = Server::scripted(vec![
        Script::new()
            .send(ok_stream_chunked())
            .send(chunk("data: one\n\n"))
            // A chunk announced as 0x40 bytes, cut short by the close.
            .send("40\r\ndata: cut")
            .close(),
        Script::new()
            .send(ok_stream_chunked())
            .send(chunk("data: two\n\n"))
            .hold_open(),
    ]);
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&fast_config(&server.url("/")), recorder).unwrap();

    log.expect_opened();
    log.expect_event(Ev::message("one", ""));
    // The body ended before its announced chunk did: the connection broke.
    log.expect_reconnect_after(ErrorKind::Io);
    log.expect_event(Ev::message("two", ""));
}

#[test]
fn connection_refused_is_retried_then_gives_up_after_max_retries() {
    let port = closed_port();
    let mut config = fast_config(&format!("http://127.0.0.1:{port}/"));
    config.set_max_retries(2);
    let (mut log, recorder) = Log::new();
    let client = Client::open(&config, recorder).unwrap();

    // Two retries: the first attempt and both retries are refused, then it gives up.
    let first = log.expect_error_of(ErrorKind::Connect, true);
    assert_eq!(first.http_status, 0);
    assert!(first.retry_delay >= ms(10), "{first:?}");
    log.expect_error_of(ErrorKind::Connect, true);
    let last = log.expect_error_of(ErrorKind::Connect, false);
    assert_eq!(last.retry_delay, Duration::ZERO);
    log.expect(Record::State(ReadyState::Closed));
    log.expect_silence(ms(150));
    assert_eq!(client.ready_state(), ReadyState::Closed);
}

#[test]
fn gives_up_after_max_retries_consecutive_failures() {
    let server = Server::always(Script::status(500, &[]));
    let mut config = fast_config(&server.url("/"));
    config.set_max_retries(3);
    let (mut log, recorder) = Log::new();
    let client = Client::open(&config, recorder).unwrap();

    // Three retries: four requests in all, as ../shared/API.md says (N retries = N + 1
    // failed attempts).
    for _ in 0..3 {
        log.expect_error_of(ErrorKind::HttpStatus, true);
    }
    let last = log.expect_error_of(ErrorKind::HttpStatus, false);
    assert_eq!(last.http_status, 500);
    log.expect(Record::State(ReadyState::Closed));
    log.expect_silence(ms(300));
    assert_eq!(server.connection_count(), 4);
    assert_eq!(client.ready_state(), ReadyState::Closed);
}

#[test]
fn max_retries_counts_only_consecutive_failures() {
    // 500, event stream, 500, 500: with max_retries 1 the delivered event restarts the
    // count, so the client gives up only at the second 500 after the stream (the first
    // one is followed by its one retry).
    let server = Server::scripted(vec![
        Script::status(500, &[]),
        Script::stream("data: x\n\n"),
        Script::status(500, &[]),
    ]);
    let mut config = fast_config(&server.url("/"));
    config.set_max_retries(1);
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&config, recorder).unwrap();

    log.expect_error_of(ErrorKind::HttpStatus, true);
    log.expect_opened();
    log.expect_event(Ev::message("x", ""));
    log.expect_error_of(ErrorKind::StreamEnded, true);
    log.expect(Record::State(ReadyState::Connecting));
    log.expect_error_of(ErrorKind::HttpStatus, true);
    log.expect_error_of(ErrorKind::HttpStatus, false);
    log.expect(Record::State(ReadyState::Closed));
    log.expect_silence(ms(150));
    assert_eq!(server.connection_count(), 4);
}

#[test]
fn non_ascii_last_event_id_is_sent_on_reconnect() {
    // The WHATWG spec sends the last event ID string, UTF-8 encoded, whatever it contains
    // (except NUL, which the parser refuses): an id like "café" must survive a reconnect.
    let server = Server::scripted(vec![
        Script::stream("id: caf\u{e9}-\u{2603}\ndata: a\n\n"),
        Script::stream_then_hold("data: b\n\n"),
    ]);
    let (mut log, recorder) = Log::new();
    let client = Client::open(&fast_config(&server.url("/")), recorder).unwrap();

    log.expect_opened();
    log.expect_event(Ev::message("a", "caf\u{e9}-\u{2603}"));
    log.skip_until(Record::is_event);
    assert_eq!(client.last_event_id(), "caf\u{e9}-\u{2603}");

    let requests = server.wait_for_requests(2, TIMEOUT);
    assert_eq!(
        requests[1].header("last-event-id"),
        Some("caf\u{e9}-\u{2603}"),
        "the reconnect must carry the non-ASCII last event ID (UTF-8 bytes)"
    );
}

#[test]
fn configured_non_ascii_last_event_id_is_sent_on_first_connect() {
    let server = Server::always(Script::stream_then_hold("data: a\n\n"));
    let mut config = fast_config(&server.url("/"));
    // Accepted by the configuration (only CR, LF and NUL are refused)...
    config.set_last_event_id("\u{e9}v\u{e9}nement-7").unwrap();
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&config, recorder).unwrap();
    log.expect_opened();

    // ...so it must reach the server.
    let request = &server.wait_for_requests(1, TIMEOUT)[0];
    assert_eq!(
        request.header("last-event-id"),
        Some("\u{e9}v\u{e9}nement-7"),
        "the configured last event ID was not sent"
    );
}

#[test]
fn jitter_never_exceeds_the_maximum_delay() {
    let server = Server::always(Script::status(500, &[]));
    let mut config = fast_config(&server.url("/"));
    config.set_reconnect_delay(ms(30), ms(30)).unwrap();
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&config, recorder).unwrap();

    for _ in 0..5 {
        let error = log.expect_error_of(ErrorKind::HttpStatus, true);
        assert_eq!(error.retry_delay, ms(30), "{error:?}");
    }
}

#[test]
fn gives_up_after_max_retries_streams_that_deliver_nothing() {
    let server = Server::always(Script::stream(""));
    let mut config = fast_config(&server.url("/"));
    config.set_max_retries(2);
    let (mut log, recorder) = Log::new();
    let client = Client::open(&config, recorder).unwrap();

    log.expect_opened();
    log.expect_reconnect_after(ErrorKind::StreamEnded);
    log.expect_reconnect_after(ErrorKind::StreamEnded);
    log.expect_error_of(ErrorKind::StreamEnded, false);
    log.expect(Record::State(ReadyState::Closed));
    log.expect_silence(ms(150));
    assert_eq!(server.connection_count(), 3);
    assert_eq!(client.ready_state(), ReadyState::Closed);
}

#[test]
fn many_clients_stream_independently() {
    let server = Server::routed(|request, _| {
        let name = request.path.trim_start_matches('/').to_owned();
        Script::stream_then_hold(format!("data: {name}-1\n\ndata: {name}-2\n\n"))
    });
    let clients: Vec<_> = (0..16)
        .map(|i| {
            let (log, recorder) = Log::new();
            let client =
                Client::open(&fast_config(&server.url(&format!("/c{i}"))), recorder).unwrap();
            (i, log, client)
        })
        .collect();
    for (i, mut log, _client) in clients {
        log.expect_opened();
        log.expect_event(Ev::message(&format!("c{i}-1"), ""));
        log.expect_event(Ev::message(&format!("c{i}-2"), ""));
    }
}

#[test]
fn retries_work_over_a_kept_alive_connection() {
    // Keep-alive 500s: the client may send its next attempts on the same connection.
    let server = Server::scripted(vec![
        Script::new().send(status_keep_alive(500, &[])).keep_alive(),
        Script::new().send(status_keep_alive(503, &[])).keep_alive(),
        Script::stream_then_hold("data: up\n\n"),
    ]);
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&fast_config(&server.url("/ka")), recorder).unwrap();

    assert_eq!(
        log.expect_error_of(ErrorKind::HttpStatus, true).http_status,
        500
    );
    assert_eq!(
        log.expect_error_of(ErrorKind::HttpStatus, true).http_status,
        503
    );
    log.expect_opened();
    log.expect_event(Ev::message("up", ""));
    let requests = server.wait_for_requests(3, TIMEOUT);
    assert!(requests.iter().all(|r| r.path == "/ka"));
    // The scenario this test is about: the retries did travel on the kept-alive connection.
    let reused: Vec<_> = server.connections().iter().map(|c| c.reused).collect();
    assert!(
        reused.iter().any(|r| *r),
        "no request reused a connection: {reused:?}"
    );
}
