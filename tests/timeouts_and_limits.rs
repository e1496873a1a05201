//! Read and connect timeouts, heartbeats, the event size limit, and the wire format end to
//! end (chunking, line endings, BOM).

mod support;

use std::time::Instant;

use sse_client::{Client, ErrorKind, ReadyState};
use support::*;

#[test]
fn read_timeout_on_a_silent_stream_reports_and_reconnects() {
    let server = Server::scripted(vec![
        Script::stream_then_hold("data: early\n\n"),
        Script::stream_then_hold("data: later\n\n"),
    ]);
    let mut config = fast_config(&server.url("/"));
    config.set_read_timeout(Some(ms(200)));
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&config, recorder).unwrap();

    log.expect_opened();
    log.expect_event(Ev::message("early", ""));
    let error = log.expect_error_of(ErrorKind::ReadTimeout, true);
    assert_eq!(error.http_status, 0);
    log.expect(Record::State(ReadyState::Connecting));
    log.expect_opened();
    log.expect_event(Ev::message("later", ""));

    let stamped = log.stamped();
    let silent_for = stamped[3].at.duration_since(stamped[2].at);
    assert!(
        silent_for >= ms(150),
        "ReadTimeout came {silent_for:?} after the last byte; the read timeout is 200 ms"
    );
}

#[test]
fn read_timeout_before_any_byte_of_the_body() {
    // 200 headers, then nothing at all.
    let server = Server::scripted(vec![
        Script::new().send(ok_stream()).hold_open(),
        Script::stream_then_hold("data: x\n\n"),
    ]);
    let mut config = fast_config(&server.url("/"));
    config.set_read_timeout(Some(ms(200)));
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&config, recorder).unwrap();

    log.expect_opened();
    log.expect_reconnect_after(ErrorKind::ReadTimeout);
    log.expect_event(Ev::message("x", ""));
    assert_eq!(server.connection_count(), 2);
}

#[test]
fn heartbeat_comments_keep_the_stream_alive_under_the_read_timeout() {
    let server = Server::always(
        Script::new()
            .send(ok_stream())
            .repeat(": ping\n", ms(100), 8)
            .send(":\n")
            .send("data: done\n\n")
            .hold_open(),
    );
    let mut config = fast_config(&server.url("/"));
    config.set_read_timeout(Some(ms(400)));
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&config, recorder).unwrap();

    log.expect_opened();
    for _ in 0..8 {
        log.expect(Record::Comment("ping".into()));
    }
    log.expect(Record::Comment("".into()));
    log.expect_event(Ev::message("done", ""));
    assert_eq!(server.connection_count(), 1);
}

#[test]
fn unanswered_request_times_out_after_the_connect_timeout_and_retries() {
    let server = Server::always(Script::silent());
    let mut config = fast_config(&server.url("/"));
    config.set_connect_timeout(Some(ms(300)));
    let (mut log, recorder) = Log::new();
    let started = Instant::now();
    let _client = Client::open(&config, recorder).unwrap();

    let error = log.expect_error_of(ErrorKind::Connect, true);
    assert!(
        started.elapsed() >= ms(250),
        "the attempt failed after {:?}, before the 300 ms connect timeout: {error:?}",
        started.elapsed()
    );
    assert!(
        server.wait_for(TIMEOUT, |c| c.len() >= 2).is_ok(),
        "no retry after the connect timeout"
    );
}

#[test]
fn oversized_event_drops_the_connection_and_reconnects() {
    let big = format!("data: {}\n\n", "x".repeat(4096));
    let server = Server::scripted(vec![
        Script::new()
            .send(ok_stream())
            .send("id: 1\ndata: before\n\n")
            .send(&big)
            .send("data: never\n\n")
            .hold_open(),
        Script::stream_then_hold("data: small\n\n"),
    ]);
    let mut config = fast_config(&server.url("/"));
    config.set_max_event_size(1024);
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&config, recorder).unwrap();

    log.expect_opened();
    log.expect_event(Ev::message("before", "1"));
    let error = log.expect_error_of(ErrorKind::EventTooLarge, true);
    assert!(error.retry_delay >= ms(10), "{error:?}");
    log.expect(Record::State(ReadyState::Connecting));
    log.expect_opened();
    log.expect_event(Ev::message("small", "1"));
    log.expect_silence(ms(100));

    let requests = server.wait_for_requests(2, TIMEOUT);
    assert_eq!(requests[1].header("last-event-id"), Some("1"));
    // The server saw the client leave: the first connection ended.
    assert!(
        server
            .wait_for(TIMEOUT, |c| c[0].ended_at.is_some())
            .is_ok(),
        "the oversized connection was not dropped"
    );
}

#[test]
fn event_of_many_lines_over_the_limit_is_too_large() {
    let lines: String = (0..100).map(|i| format!("data: line {i:04}\n")).collect();
    too_large_then_the_next_stream_is_read(Script::stream_then_hold(format!("{lines}\n")));
}

/// A client limited to 1 KiB events against a first connection that sends `oversized`:
/// it must report EventTooLarge, reconnect, and read the next connection's event.
fn too_large_then_the_next_stream_is_read(oversized: Script) {
    let server = Server::scripted(vec![oversized, Script::stream_then_hold("data: ok\n\n")]);
    let mut config = fast_config(&server.url("/"));
    config.set_max_event_size(1024);
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&config, recorder).unwrap();

    log.expect_opened();
    log.expect_reconnect_after(ErrorKind::EventTooLarge);
    log.expect_event(Ev::message("ok", ""));
}

#[test]
fn events_within_the_limit_and_many_comments_are_not_too_large() {
    let data = "y".repeat(900);
    let comments = ": keepalive\n".repeat(200);
    let server = Server::always(Script::stream_then_hold(format!(
        "data: {data}\n\n{comments}data: after\n\n"
    )));
    let mut config = fast_config(&server.url("/"));
    config.set_max_event_size(1024);
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&config, recorder).unwrap();

    log.expect_opened();
    log.expect_event(Ev::message(&data, ""));
    for _ in 0..200 {
        log.expect(Record::Comment("keepalive".into()));
    }
    log.expect_event(Ev::message("after", ""));
    log.expect_silence(ms(50));
}

/// A stream with comments, retry, multi-line data, CRLF and CR line ends, UTF-8, and
/// field edge cases; and the events it must produce.
fn mixed_stream() -> (&'static str, Vec<Record>) {
    let stream = ": hello\n\
                  retry: 50\n\
                  event: greet\r\nid: 1\r\ndata: line1\r\ndata: line2\r\n\r\n\
                  data:no space\n\n\
                  data: \u{fc}n\u{ef}c\u{f6}d\u{e9} \u{20ac} \u{1F600}\n\n\
                  id: 2\rdata: cr\r\r\
                  event: end\ndata\n\n";
    let expected = vec![
        Record::Comment("hello".into()),
        Record::Event(Ev::new("greet", "line1\nline2", "1")),
        Record::Event(Ev::message("no space", "1")),
        Record::Event(Ev::message(
            "\u{fc}n\u{ef}c\u{f6}d\u{e9} \u{20ac} \u{1F600}",
            "1",
        )),
        Record::Event(Ev::message("cr", "2")),
        Record::Event(Ev::new("end", "", "2")),
    ];
    (stream, expected)
}

fn expect_records(log: &mut Log, expected: &[Record]) {
    log.expect_opened();
    for record in expected {
        log.expect(record.clone());
    }
    log.expect_silence(ms(50));
}

#[test]
fn mixed_stream_sent_at_once_gives_the_expected_events() {
    let (stream, expected) = mixed_stream();
    let server = Server::always(Script::stream_then_hold(stream));
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&fast_config(&server.url("/")), recorder).unwrap();
    expect_records(&mut log, &expected);
}

#[test]
fn one_byte_trickle_delivers_the_same_events() {
    let (stream, expected) = mixed_stream();
    let server = Server::always(
        Script::new()
            .send(ok_stream())
            .trickle(stream, ms(1))
            .hold_open(),
    );
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&fast_config(&server.url("/")), recorder).unwrap();
    expect_records(&mut log, &expected);
}

#[test]
fn crlf_cr_and_bom_end_to_end() {
    let server = Server::scripted(vec![
        Script::stream(
            "\u{FEFF}data: a\r\n\r\n\
             event: t\rdata: b\r\r\
             data: c\n\n\
             \u{FEFF}data: ignored\n\n\
             data: d\r\n\r\n",
        ),
        // Each new stream may start with its own BOM, even one split across reads.
        Script::new()
            .send(ok_stream())
            .trickle("\u{FEFF}data: e\r\n\r\n", ms(2))
            .hold_open(),
    ]);
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&fast_config(&server.url("/")), recorder).unwrap();

    log.expect_opened();
    log.expect_event(Ev::message("a", ""));
    log.expect_event(Ev::new("t", "b", ""));
    log.expect_event(Ev::message("c", ""));
    // Only the first BOM of a stream is stripped: a later one makes an unknown field.
    log.expect_event(Ev::message("d", ""));
    log.expect_reconnect_after(ErrorKind::StreamEnded);
    log.expect_event(Ev::message("e", ""));
    log.expect_silence(ms(50));
}

#[test]
fn unterminated_event_at_stream_end_is_not_dispatched() {
    let server = Server::scripted(vec![
        Script::stream("data: complete\n\ndata: incomplete\n"),
        Script::stream_then_hold("data: next\n\n"),
    ]);
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&fast_config(&server.url("/")), recorder).unwrap();

    log.expect_opened();
    log.expect_event(Ev::message("complete", ""));
    log.expect_reconnect_after(ErrorKind::StreamEnded);
    // The half event of the first connection does not leak into the second.
    log.expect_event(Ev::message("next", ""));
}

#[test]
fn large_event_arrives_whole() {
    // 1 MiB of data in one event, under the default 16 MiB limit.
    let data = "z".repeat(1 << 20);
    let server = Server::always(Script::stream_then_hold(format!("data: {data}\n\n")));
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&fast_config(&server.url("/")), recorder).unwrap();

    log.expect_opened();
    match log.next() {
        Record::Event(ev) => {
            assert_eq!(ev.data.len(), data.len());
            assert!(ev.data == data);
        }
        other => panic!("expected the big event, got {other:?}"),
    }
}

#[test]
fn incomplete_oversized_line_is_too_large_without_waiting_for_its_end() {
    // A 4 KiB line with no terminator, then silence: the limit must trigger on what has
    // arrived, not wait for a line end that never comes.
    too_large_then_the_next_stream_is_read(
        Script::new()
            .send(ok_stream())
            .send(format!("data: {}", "x".repeat(4096)))
            .hold_open(),
    );
}

#[test]
fn content_length_delimited_stream_ends_and_reconnects() {
    let body = "data: one\n\ndata: two\n\n";
    let server = Server::scripted(vec![
        Script::new()
            .send(format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ))
            // No close after the body: the end is the length, and the connection may
            // carry the next attempt.
            .keep_alive(),
        Script::stream_then_hold("data: three\n\n"),
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
fn nul_bytes_and_invalid_utf8_in_data_end_to_end() {
    let mut stream = b"data: a\0b\n\n".to_vec();
    stream.extend_from_slice(b"data: x\xffy\n\n");
    stream.extend_from_slice(b"data: \xe2\x82\n\n"); // truncated euro sign
    let server = Server::always(Script::stream_then_hold(stream));
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&fast_config(&server.url("/")), recorder).unwrap();

    log.expect_opened();
    log.expect_event(Ev::message("a\0b", ""));
    log.expect_event(Ev::message("x\u{FFFD}y", ""));
    log.expect_event(Ev::message("\u{FFFD}", ""));
}
