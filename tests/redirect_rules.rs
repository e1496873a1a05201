//! Redirects, followed by the client itself: which statuses, how many, what method, body
//! and headers go to the next hop, and where a reconnect starts.
//!
//! Not here: the refusal of an https -> http downgrade needs a TLS server; the rule is
//! covered by the unit tests of `src/http/redirect.rs` (`https_to_http_is_a_downgrade`) and the
//! check in `connection::open`.

mod support;

use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::Arc;

use sse_client::{Client, ErrorKind, ReadyState};
use support::*;

const REDIRECTS: [u16; 5] = [301, 302, 303, 307, 308];

/// A server where `/start` answers `code` with `Location: /stream` and `/stream` opens a
/// stream that stays open.
fn one_hop(code: u16) -> Server {
    Server::routed(move |request, _| match request.path.as_str() {
        "/start" => Script::status(code, &[("Location", "/stream")]),
        "/stream" => Script::stream_then_hold("data: arrived\n\n"),
        _ => Script::status(404, &[]),
    })
}

fn paths(requests: &[Request]) -> Vec<&str> {
    requests.iter().map(|r| r.path.as_str()).collect()
}

#[test]
fn every_redirect_status_is_followed_to_the_stream() {
    for code in REDIRECTS {
        let server = one_hop(code);
        let (mut log, recorder) = Log::new();
        let client = Client::open(&fast_config(&server.url("/start")), recorder).unwrap();

        // The redirect is invisible to the host: no error, one open, the event.
        log.expect_opened();
        log.expect_event(Ev::message("arrived", ""));
        let requests = server.wait_for_requests(2, TIMEOUT);
        assert_eq!(paths(&requests), ["/start", "/stream"], "{code}");
        assert!(
            requests.iter().all(|r| r.method == "GET"),
            "{code}: {requests:#?}"
        );
        assert_eq!(
            requests[1].header("accept"),
            Some("text/event-stream"),
            "{code}"
        );
        assert_eq!(client.ready_state(), ReadyState::Open, "{code}");
        drop(client);
    }
}

#[test]
fn a_redirect_with_a_body_on_a_kept_alive_connection_is_followed() {
    let body = "Found. Redirecting to /stream";
    let redirect = format!(
        "HTTP/1.1 302 Found\r\nLocation: /stream\r\nContent-Type: text/plain\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let server = Server::routed(move |request, _| match request.path.as_str() {
        "/start" => Script::new().send(&redirect).keep_alive(),
        "/stream" => Script::stream_then_hold("data: arrived\n\n"),
        _ => Script::status(404, &[]),
    });
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&fast_config(&server.url("/start")), recorder).unwrap();
    log.expect_opened();
    log.expect_event(Ev::message("arrived", ""));
    let requests = server.wait_for_requests(2, TIMEOUT);
    assert_eq!(paths(&requests), ["/start", "/stream"]);
}

#[test]
fn credentials_are_kept_on_a_same_origin_redirect() {
    let server = one_hop(307);
    let mut config = fast_config(&server.url("/start"));
    config.set_header("Authorization", "Bearer secret").unwrap();
    config.set_header("Cookie", "session=s1").unwrap();
    config.set_header("X-Api-Key", "k1").unwrap();
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&config, recorder).unwrap();
    log.expect_opened();

    let requests = server.wait_for_requests(2, TIMEOUT);
    assert_eq!(paths(&requests), ["/start", "/stream"]);
    for request in &requests {
        assert_eq!(request.header("authorization"), Some("Bearer secret"));
        assert_eq!(request.header("cookie"), Some("session=s1"));
        assert_eq!(request.header("x-api-key"), Some("k1"));
    }
}

#[test]
fn credentials_are_dropped_on_a_redirect_to_another_origin_and_stay_dropped() {
    // Origin A (configured): /start -> B's /hop -> back to A's /stream. Same host, another
    // port: another origin. The first stream ends, so the client reconnects (to /start).
    let a_port = Arc::new(AtomicU16::new(0));
    let b = {
        let a_port = a_port.clone();
        Server::routed(move |request, _| match request.path.as_str() {
            "/hop" => {
                let back = format!("http://127.0.0.1:{}/stream", a_port.load(Ordering::SeqCst));
                Script::status(302, &[("Location", &back)])
            }
            _ => Script::status(404, &[]),
        })
    };
    let b_port = b.port();
    let streams = AtomicUsize::new(0);
    let a = Server::routed(move |request, _| match request.path.as_str() {
        "/start" => {
            let hop = format!("http://127.0.0.1:{b_port}/hop");
            Script::status(302, &[("Location", &hop)])
        }
        "/stream" if streams.fetch_add(1, Ordering::SeqCst) == 0 => {
            Script::stream("id: 1\ndata: first\n\n")
        }
        "/stream" => Script::stream_then_hold("data: second\n\n"),
        _ => Script::status(404, &[]),
    });
    a_port.store(a.port(), Ordering::SeqCst);

    let mut config = fast_config(&a.url("/start"));
    config.set_header("Authorization", "Bearer secret").unwrap();
    config.set_header("Cookie", "session=s1").unwrap();
    config
        .set_header("Proxy-Authorization", "Basic cHJveHk6cHc=")
        .unwrap();
    config.set_header("X-Api-Key", "k1").unwrap();
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&config, recorder).unwrap();
    log.expect_opened();
    log.expect_event(Ev::message("first", "1"));
    log.expect_reconnect_after(ErrorKind::StreamEnded);
    log.expect_event(Ev::message("second", "1"));

    let at_a = a.wait_for_requests(4, TIMEOUT);
    let at_b = b.wait_for_requests(2, TIMEOUT);
    assert_eq!(paths(&at_a), ["/start", "/stream", "/start", "/stream"]);
    assert_eq!(paths(&at_b), ["/hop", "/hop"]);
    let credentials = ["authorization", "cookie", "proxy-authorization"];
    for attempt in 0..2 {
        let start = &at_a[attempt * 2];
        let hop = &at_b[attempt];
        let back = &at_a[attempt * 2 + 1];
        // Every attempt starts at the configured origin with every configured header.
        assert_eq!(start.header("authorization"), Some("Bearer secret"));
        assert_eq!(start.header("cookie"), Some("session=s1"));
        assert_eq!(
            start.header("proxy-authorization"),
            Some("Basic cHJveHk6cHc=")
        );
        for name in credentials {
            assert_eq!(hop.header(name), None, "{name} leaked to another origin");
            assert_eq!(
                back.header(name),
                None,
                "{name} came back once the chain had left its origin"
            );
        }
        // A header that is not a credential follows the redirects.
        assert_eq!(hop.header("x-api-key"), Some("k1"));
        assert_eq!(back.header("x-api-key"), Some("k1"));
    }
    assert_eq!(at_b[1].header("last-event-id"), Some("1"));
    assert_eq!(at_a[3].header("last-event-id"), Some("1"));
}

/// A server where `/start` answers `code` with `Location: /stream` and `/stream` opens a
/// stream that stays open; the client POSTs a JSON body with credentials to `/start`.
fn post_through(code: u16) -> (Server, Log, Client) {
    let server = one_hop(code);
    let mut config = fast_config(&server.url("/start"));
    config.set_method("POST").unwrap();
    config.set_body(br#"{"q":1}"#);
    config
        .set_header("Content-Type", "application/json")
        .unwrap();
    config.set_header("Authorization", "Bearer secret").unwrap();
    let (mut log, recorder) = Log::new();
    let client = Client::open(&config, recorder).unwrap();
    log.expect_opened();
    log.expect_event(Ev::message("arrived", ""));
    (server, log, client)
}

#[test]
fn see_other_after_post_continues_as_get_without_body_or_content_type() {
    let (server, _log, _client) = post_through(303);
    let requests = server.wait_for_requests(2, TIMEOUT);
    assert_eq!(paths(&requests), ["/start", "/stream"]);
    assert_eq!(requests[0].method, "POST");
    assert_eq!(requests[0].body, br#"{"q":1}"#);
    assert_eq!(requests[0].header("content-type"), Some("application/json"));

    let next = &requests[1];
    assert_eq!(next.method, "GET");
    assert!(next.body.is_empty(), "{next:#?}");
    assert_eq!(next.header("content-type"), None, "{next:#?}");
    assert!(
        matches!(next.header("content-length"), None | Some("0")),
        "{next:#?}"
    );
    assert_eq!(next.header("transfer-encoding"), None, "{next:#?}");
    // Same origin: the credentials stay.
    assert_eq!(next.header("authorization"), Some("Bearer secret"));
}

#[test]
fn temporary_and_permanent_redirects_keep_post_and_its_body() {
    for code in [307, 308] {
        let (server, _log, client) = post_through(code);
        let requests = server.wait_for_requests(2, TIMEOUT);
        assert_eq!(paths(&requests), ["/start", "/stream"], "{code}");
        for request in &requests {
            assert_eq!(request.method, "POST", "{code}");
            assert_eq!(request.body, br#"{"q":1}"#, "{code}");
            assert_eq!(
                request.header("content-type"),
                Some("application/json"),
                "{code}"
            );
        }
        drop(client);
    }
}

#[test]
fn found_and_moved_permanently_after_post_continue_as_get() {
    for code in [302, 301] {
        let (server, _log, client) = post_through(code);
        let requests = server.wait_for_requests(2, TIMEOUT);
        assert_eq!(requests[0].method, "POST", "{code}");
        assert_eq!(requests[1].method, "GET", "{code}");
        assert!(requests[1].body.is_empty(), "{code}: {:#?}", requests[1]);
        assert_eq!(requests[1].header("content-type"), None, "{code}");
        drop(client);
    }
}

#[test]
fn a_redirect_loop_ends_after_max_redirects_with_a_fatal_error() {
    let hops = AtomicUsize::new(0);
    let server = Server::routed(move |_, _| {
        let n = hops.fetch_add(1, Ordering::SeqCst);
        Script::status(302, &[("Location", &format!("/hop{}", n + 1))])
    });
    let mut config = fast_config(&server.url("/hop0"));
    config.set_max_redirects(3);
    let (mut log, recorder) = Log::new();
    let client = Client::open(&config, recorder).unwrap();

    let error = log.expect_error_of(ErrorKind::HttpStatus, false);
    assert_eq!(error.http_status, 302);
    let message = error.message.to_ascii_lowercase();
    assert!(
        message.contains("redirect") && message.contains("too"),
        "the message should say there were too many redirects: {:?}",
        error.message
    );
    assert!(
        error.message.contains(" 3 "),
        "the message should name the limit: {:?}",
        error.message
    );
    log.expect(Record::State(ReadyState::Closed));
    log.expect_silence(ms(200));
    // The original request and the 3 redirects followed, nothing more.
    let requests = server.requests();
    assert_eq!(paths(&requests), ["/hop0", "/hop1", "/hop2", "/hop3"]);
    assert_eq!(client.ready_state(), ReadyState::Closed);
}

#[test]
fn reconnect_after_a_redirected_stream_ends_starts_at_the_configured_url() {
    let streams = AtomicUsize::new(0);
    let server = Server::routed(move |request, _| match request.path.as_str() {
        "/configured" => Script::status(301, &[("Location", "/moved")]),
        "/moved" if streams.fetch_add(1, Ordering::SeqCst) == 0 => {
            Script::stream("id: 7\ndata: one\n\n")
        }
        "/moved" => Script::stream_then_hold("data: two\n\n"),
        _ => Script::status(404, &[]),
    });
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&fast_config(&server.url("/configured")), recorder).unwrap();

    log.expect_opened();
    log.expect_event(Ev::message("one", "7"));
    log.expect_reconnect_after(ErrorKind::StreamEnded);
    log.expect_event(Ev::message("two", "7"));

    let requests = server.wait_for_requests(4, TIMEOUT);
    // Even a 301 is not remembered: the spec reconnects to the original URL.
    assert_eq!(
        paths(&requests),
        ["/configured", "/moved", "/configured", "/moved"]
    );
    assert_eq!(requests[2].header("last-event-id"), Some("7"));
    assert_eq!(requests[3].header("last-event-id"), Some("7"));
}

#[test]
fn a_location_that_is_not_http_is_fatal_with_a_clear_message() {
    for location in ["ftp://files.example/stream", "javascript:alert(1)"] {
        let server = Server::always(Script::status(302, &[("Location", location)]));
        let (mut log, recorder) = Log::new();
        let client = Client::open(&fast_config(&server.url("/start")), recorder).unwrap();

        let error = log.expect_error_of(ErrorKind::HttpStatus, false);
        assert_eq!(error.http_status, 302);
        assert!(
            error.message.contains(location),
            "the message should name the Location {location:?}: {:?}",
            error.message
        );
        assert!(
            error.message.contains("only http and https"),
            "the message should say what can be followed: {:?}",
            error.message
        );
        log.expect(Record::State(ReadyState::Closed));
        log.expect_silence(ms(100));
        assert_eq!(server.connection_count(), 1, "{location}");
        assert_eq!(client.ready_state(), ReadyState::Closed);
    }
}
