//! A connection the server resets mid-stream (an RST) is an I/O error: `IO`, "was reset
//! by the peer", retried; whatever carries the body: close-delimited, chunked or TLS. An
//! orderly close of a close-delimited or TLS stream is still its end (`STREAM_ENDED`).
//! Every case runs in both delivery modes, callbacks and poll mode.
//!
//! ureq reads a reset of a close-delimited body as its end; the transport keeps the word
//! "reset" for the worker (see `src/http/transport/broken.rs`).

mod support;

use std::time::Duration;

use sse_client::{Client, ClientError, Config, ErrorKind, ReadyState};
use support::server::certificates::*;
use support::server::tls::*;
use support::*;

#[derive(Clone, Copy, Debug)]
enum Mode {
    Callbacks,
    Polled,
}

const MODES: [Mode; 2] = [Mode::Callbacks, Mode::Polled];

/// The first `count` messages a client in `mode` reports for `config`.
fn first_messages(config: &Config, mode: Mode, count: usize) -> Vec<Record> {
    match mode {
        Mode::Callbacks => {
            let (mut log, recorder) = Log::new();
            let client = Client::open(config, recorder).unwrap();
            let records = (0..count).map(|_| log.next()).collect();
            drop(client);
            records
        }
        Mode::Polled => {
            let client = Client::open_polled(config).unwrap();
            let mut records = poll_announced(&client, count);
            records.truncate(count);
            records
        }
    }
}

/// How many messages the story of [`check_story`] takes.
fn story_length(before: &[Ev]) -> usize {
    before.len() + 7
}

/// `records` must tell a stream that opened, delivered `before`, ended with an error of
/// `kind` that is retried, then reopened and delivered `after`. Returns the error.
fn check_story(records: &[Record], before: &[Ev], after: Ev, kind: ErrorKind) -> ClientError {
    let mut expected = vec![Record::Open(200), Record::State(ReadyState::Open)];
    expected.extend(before.iter().cloned().map(Record::Event));
    let error_at = expected.len();
    expected.extend([
        Record::State(ReadyState::Connecting),
        Record::Open(200),
        Record::State(ReadyState::Open),
        Record::Event(after),
    ]);
    let error = match records.get(error_at) {
        Some(Record::Error(error)) => error.clone(),
        _ => panic!("expected an error at #{error_at}: {records:#?}"),
    };
    let mut others = records.to_vec();
    others.remove(error_at);
    assert_eq!(others, expected, "{records:#?}");
    assert_eq!(
        (error.kind, error.will_retry, error.http_status),
        (kind, true, 0),
        "{error:?}"
    );
    error
}

fn assert_reset(error: &ClientError, url: &str, mode: Mode) {
    assert_eq!(
        error.message,
        format!("connection to {url} was reset by the peer"),
        "{mode:?}"
    );
}

/// Lets the client read what was sent before the connection goes.
const PAUSE: Duration = Duration::from_millis(50);

// ---------------------------------------------------------------------------------------
// Plain TCP
// ---------------------------------------------------------------------------------------

/// A close-delimited stream that sends `body`, then is reset, then a second connection that
/// sends "data: b": in both modes, event "a" (ID 1), an IO error naming the reset, then "b".
fn expect_reset_after(body: &str) {
    for mode in MODES {
        let server = Server::scripted(vec![
            Script::new()
                .send(ok_stream())
                .send(body)
                .sleep(PAUSE)
                .close_abruptly(),
            Script::stream_then_hold("data: b\n\n"),
        ]);
        let config = fast_config(&server.url("/"));
        let before = [Ev::message("a", "1")];
        let records = first_messages(&config, mode, story_length(&before));

        let error = check_story(&records, &before, Ev::message("b", "1"), ErrorKind::Io);
        assert_reset(&error, &server.url("/"), mode);
    }
}

#[test]
fn a_reset_of_a_close_delimited_stream_is_an_io_error_and_reconnects() {
    expect_reset_after("id: 1\ndata: a\n\n");
}

#[test]
fn a_reset_mid_event_of_a_close_delimited_stream_is_an_io_error_and_drops_the_partial_event() {
    expect_reset_after("id: 1\ndata: a\n\ndata: cut");
}

#[test]
fn an_orderly_close_of_a_close_delimited_stream_is_still_its_end() {
    for mode in MODES {
        let server = Server::scripted(vec![
            Script::stream("id: 1\ndata: a\n\n"),
            Script::stream_then_hold("data: b\n\n"),
        ]);
        let config = fast_config(&server.url("/"));
        let before = [Ev::message("a", "1")];
        let records = first_messages(&config, mode, story_length(&before));

        let error = check_story(
            &records,
            &before,
            Ev::message("b", "1"),
            ErrorKind::StreamEnded,
        );
        assert_eq!(
            error.message,
            format!("{} closed the stream", server.url("/")),
            "{mode:?}"
        );
    }
}

#[test]
fn a_reset_of_a_chunked_stream_between_or_inside_chunks_is_an_io_error_and_reconnects() {
    // Between two chunks; after a chunk's size line; in the middle of a chunk's data.
    for torn in ["", "40\r\n", "40\r\ndata: cut"] {
        for mode in MODES {
            let server = Server::scripted(vec![
                Script::new()
                    .send(ok_stream_chunked())
                    .send(chunk("id: 1\ndata: a\n\n"))
                    .send(torn)
                    .sleep(PAUSE)
                    .close_abruptly(),
                Script::new()
                    .send(ok_stream_chunked())
                    .send(chunk("data: b\n\n"))
                    .hold_open(),
            ]);
            let config = fast_config(&server.url("/"));
            let before = [Ev::message("a", "1")];
            let records = first_messages(&config, mode, story_length(&before));

            let error = check_story(&records, &before, Ev::message("b", "1"), ErrorKind::Io);
            assert_reset(&error, &server.url("/"), mode);
        }
    }
}

// ---------------------------------------------------------------------------------------
// TLS
// ---------------------------------------------------------------------------------------

/// An HTTPS server with a private CA whose every connection sends `body` then does
/// `after`, and a configuration that trusts it.
fn tls_deployment(body: &str, after: AfterBody) -> (TlsServer, Config, TempDir) {
    let ca = TestCa::new("sse_client reset test CA");
    let server_cert = ca.server(&["localhost", "127.0.0.1"]);
    let files = TempDir::new("reset");
    let ca_file = files.write("ca.pem", ca.pem());
    let server = TlsServer::start(server_config(&server_cert, None), body, after);
    let mut config = fast_config(&server.url("/events"));
    config.set_proxy_from_env(false);
    config.add_ca_file(&ca_file).unwrap();
    (server, config, files)
}

#[test]
fn a_reset_of_a_tls_stream_is_an_io_error_and_reconnects() {
    for mode in MODES {
        let (server, config, _files) =
            tls_deployment("id: 1\ndata: a\n\n", AfterBody::ResetAfter(PAUSE));
        let before = [Ev::message("a", "1")];
        let records = first_messages(&config, mode, story_length(&before));

        // Every connection is reset: the second delivers its event first.
        let error = check_story(&records, &before, Ev::message("a", "1"), ErrorKind::Io);
        assert_reset(&error, &server.url("/events"), mode);
    }
}

#[test]
fn an_orderly_close_of_a_tls_stream_is_still_its_end() {
    for mode in MODES {
        let (server, config, _files) = tls_deployment("id: 1\ndata: a\n\n", AfterBody::Close);
        let before = [Ev::message("a", "1")];
        let records = first_messages(&config, mode, story_length(&before));

        let error = check_story(
            &records,
            &before,
            Ev::message("a", "1"),
            ErrorKind::StreamEnded,
        );
        assert_eq!(
            error.message,
            format!("{} closed the stream", server.url("/events")),
            "{mode:?}"
        );
    }
}
