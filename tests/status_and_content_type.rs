//! How response statuses, Content-Type and redirects are judged, and what the request
//! carries.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sse_client::{Client, ErrorKind, ReadyState};
use support::*;

/// Opens a client on a server that answers every request with `script`, and expects a
/// fatal error of `kind`: on_error(will_retry = false), then on_state(Closed), then nothing
/// more, and a single connection.
fn expect_fatal(script: Script, kind: ErrorKind) -> sse_client::ClientError {
    let server = Server::always(script);
    let (mut log, recorder) = Log::new();
    let client = Client::open(&fast_config(&server.url("/")), recorder).unwrap();
    let error = log.expect_error_of(kind, false);
    assert_eq!(error.retry_delay, Duration::ZERO, "{error:?}");
    log.expect(Record::State(ReadyState::Closed));
    log.expect_silence(ms(200));
    assert_eq!(
        server.connection_count(),
        1,
        "a fatal error must not reconnect"
    );
    assert_eq!(client.ready_state(), ReadyState::Closed);
    error
}

#[test]
fn status_204_is_fatal_and_does_not_reconnect() {
    let error = expect_fatal(Script::status(204, &[]), ErrorKind::HttpStatus);
    assert_eq!(error.http_status, 204);
}

#[test]
fn status_404_is_fatal_and_does_not_reconnect() {
    let error = expect_fatal(Script::status(404, &[]), ErrorKind::HttpStatus);
    assert_eq!(error.http_status, 404);
}

#[test]
fn other_4xx_statuses_are_fatal() {
    for code in [400, 401, 403] {
        let error = expect_fatal(Script::status(code, &[]), ErrorKind::HttpStatus);
        assert_eq!(error.http_status, code);
    }
}

#[test]
fn status_500_then_success_delivers_events() {
    let server = Server::scripted(vec![
        Script::status(500, &[]),
        Script::stream_then_hold("data: hello\n\n"),
    ]);
    let (mut log, recorder) = Log::new();
    let client = Client::open(&fast_config(&server.url("/")), recorder).unwrap();

    let error = log.expect_error_of(ErrorKind::HttpStatus, true);
    assert_eq!(error.http_status, 500);
    // The state was Connecting and stays so: no on_state between the error and the open.
    log.expect_opened();
    log.expect_event(Ev::message("hello", ""));
    assert_eq!(client.ready_state(), ReadyState::Open);
    assert_eq!(server.connection_count(), 2);
}

#[test]
fn status_503_is_reported_with_a_retry() {
    let server = Server::scripted(vec![
        Script::status(503, &[]),
        Script::stream_then_hold("data: back\n\n"),
    ]);
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&fast_config(&server.url("/")), recorder).unwrap();

    let error = log.expect_error_of(ErrorKind::HttpStatus, true);
    assert_eq!(error.http_status, 503);
    assert!(error.retry_delay >= ms(10), "{error:?}");
    assert!(!error.message.is_empty());
    log.expect_opened();
    log.expect_event(Ev::message("back", ""));
}

#[test]
fn status_408_is_retried() {
    let server = Server::scripted(vec![
        Script::status(408, &[]),
        Script::stream_then_hold("data: ok\n\n"),
    ]);
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&fast_config(&server.url("/")), recorder).unwrap();

    let error = log.expect_error_of(ErrorKind::HttpStatus, true);
    assert_eq!(error.http_status, 408);
    log.expect_opened();
    log.expect_event(Ev::message("ok", ""));
}

#[test]
fn status_429_with_retry_after_delays_the_next_attempt() {
    let server = Server::scripted(vec![
        Script::status(429, &[("Retry-After", "1")]),
        Script::stream_then_hold("data: ok\n\n"),
    ]);
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&fast_config(&server.url("/")), recorder).unwrap();

    let error = log.expect_error_of(ErrorKind::HttpStatus, true);
    assert_eq!(error.http_status, 429);
    assert!(
        error.retry_delay >= Duration::from_secs(1),
        "Retry-After: 1 should make the wait at least 1 s: {error:?}"
    );
    log.expect_opened();
    log.expect_event(Ev::message("ok", ""));

    let conns = server.connections();
    let gap = conns[1].accepted_at.duration_since(conns[0].accepted_at);
    assert!(gap >= ms(900), "the retry came {gap:?} after the 429");
}

#[test]
fn wrong_content_type_is_fatal() {
    let error = expect_fatal(
        Script::new()
            .send(stream_head("text/plain"))
            .send("data: not for you\n\n")
            .close(),
        ErrorKind::ContentType,
    );
    assert!(error.message.contains("text/plain"), "{error:?}");
}

#[test]
fn missing_content_type_is_fatal() {
    expect_fatal(
        Script::new()
            .send("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\ndata: x\n\n")
            .close(),
        ErrorKind::ContentType,
    );
}

#[test]
fn content_type_that_only_starts_like_event_stream_is_fatal() {
    expect_fatal(
        Script::new()
            .send(stream_head("text/event-streamx"))
            .close(),
        ErrorKind::ContentType,
    );
}

#[test]
fn content_type_is_case_insensitive_and_allows_parameters() {
    let server = Server::always(
        Script::new()
            .send(stream_head("Text/Event-Stream; charset=utf-8"))
            .send("data: accepted\n\n")
            .hold_open(),
    );
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&fast_config(&server.url("/")), recorder).unwrap();
    log.expect_opened();
    log.expect_event(Ev::message("accepted", ""));
}

#[test]
fn redirect_is_followed_and_reconnects_start_from_the_original_url() {
    let real_hits = AtomicUsize::new(0);
    let server = Server::routed(move |request, _| match request.path.as_str() {
        "/start" => {
            let host = request.header("host").unwrap_or("127.0.0.1").to_owned();
            Script::status(302, &[("Location", &format!("http://{host}/real"))])
        }
        "/real" if real_hits.fetch_add(1, Ordering::SeqCst) == 0 => {
            Script::stream("id: r1\ndata: one\n\n")
        }
        "/real" => Script::stream_then_hold("data: two\n\n"),
        _ => Script::status(404, &[]),
    });
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&fast_config(&server.url("/start")), recorder).unwrap();

    log.expect_opened();
    log.expect_event(Ev::message("one", "r1"));
    log.expect_reconnect_after(ErrorKind::StreamEnded);
    log.expect_event(Ev::message("two", "r1"));

    let requests = server.wait_for_requests(4, TIMEOUT);
    let paths: Vec<_> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/start", "/real", "/start", "/real"]);
    assert_eq!(requests[2].header("last-event-id"), Some("r1"));
    assert_eq!(
        requests[3].header("last-event-id"),
        Some("r1"),
        "the redirect target must get Last-Event-ID too"
    );
    assert_eq!(requests[1].header("accept"), Some("text/event-stream"));
}

#[test]
fn relative_redirect_is_followed() {
    let server = Server::routed(|request, _| match request.path.as_str() {
        "/old" => Script::status(307, &[("Location", "/new")]),
        "/new" => Script::stream_then_hold("data: moved\n\n"),
        _ => Script::status(404, &[]),
    });
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&fast_config(&server.url("/old")), recorder).unwrap();

    log.expect_opened();
    log.expect_event(Ev::message("moved", ""));
    let paths: Vec<_> = server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/old", "/new"]);
}

/// A server whose every answer is a redirect to itself.
fn redirect_loop() -> Server {
    Server::always(Script::status(302, &[("Location", "/loop")]))
}

#[test]
fn redirect_loop_is_fatal_after_the_limit() {
    let server = redirect_loop();
    let mut config = fast_config(&server.url("/loop"));
    config.set_max_redirects(3);
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&config, recorder).unwrap();

    let error = log.expect_error_of(ErrorKind::HttpStatus, false);
    assert_eq!(error.http_status, 302);
    log.expect(Record::State(ReadyState::Closed));
    log.expect_silence(ms(200));
    // The original request and 3 redirects followed.
    assert_eq!(server.connection_count(), 4);
}

#[test]
fn redirect_loop_default_limit_is_ten() {
    let server = redirect_loop();
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&fast_config(&server.url("/loop")), recorder).unwrap();

    let error = log.expect_error_of(ErrorKind::HttpStatus, false);
    assert_eq!(error.http_status, 302);
    log.expect(Record::State(ReadyState::Closed));
    log.expect_silence(ms(200));
    assert_eq!(server.connection_count(), 11);
}

#[test]
fn zero_max_redirects_makes_a_redirect_fatal() {
    let server = redirect_loop();
    let mut config = fast_config(&server.url("/loop"));
    config.set_max_redirects(0);
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&config, recorder).unwrap();

    let error = log.expect_error_of(ErrorKind::HttpStatus, false);
    assert_eq!(error.http_status, 302);
    log.expect(Record::State(ReadyState::Closed));
    log.expect_silence(ms(100));
    assert_eq!(server.connection_count(), 1);
}

#[test]
fn default_request_headers_are_sent() {
    let server = Server::always(Script::stream_then_hold(""));
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&fast_config(&server.url("/events?x=1")), recorder).unwrap();
    log.expect_opened();

    let request = &server.wait_for_requests(1, TIMEOUT)[0];
    assert_eq!(request.method, "GET");
    assert_eq!(request.path, "/events?x=1");
    assert_eq!(request.header("accept"), Some("text/event-stream"));
    assert_eq!(request.header("cache-control"), Some("no-cache"));
    assert_eq!(request.header("last-event-id"), None);
    assert!(request.body.is_empty());
}

#[test]
fn post_with_json_body_and_custom_header_reaches_the_server() {
    let server = Server::always(Script::stream_then_hold("data: posted\n\n"));
    let body = br#"{"subscribe":["a","b"],"n":1}"#;
    let mut config = fast_config(&server.url("/subscribe"));
    config.set_method("POST").unwrap();
    config.set_body(body);
    config
        .set_header("Content-Type", "application/json")
        .unwrap();
    config.set_header("X-Token", "abc123").unwrap();
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&config, recorder).unwrap();
    log.expect_opened();
    log.expect_event(Ev::message("posted", ""));

    let request = &server.wait_for_requests(1, TIMEOUT)[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/subscribe");
    assert_eq!(request.body, body);
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("x-token"), Some("abc123"));
    assert_eq!(request.header("accept"), Some("text/event-stream"));
    assert_eq!(request.header("cache-control"), Some("no-cache"));
}

#[test]
fn body_and_method_are_sent_again_on_reconnect_when_replay_is_allowed() {
    let server = Server::scripted(vec![
        Script::stream("id: 1\ndata: a\n\n"),
        Script::stream_then_hold("data: b\n\n"),
    ]);
    let mut config = fast_config(&server.url("/q"));
    config.set_method("REPORT").unwrap();
    config.set_body(b"query");
    config.set_retry_non_get(true);
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&config, recorder).unwrap();
    log.skip_until(|r| *r == Record::Event(Ev::message("b", "1")));

    let requests = server.wait_for_requests(2, TIMEOUT);
    for request in &requests {
        assert_eq!(request.method, "REPORT");
        assert_eq!(request.body, b"query");
    }
    assert_eq!(requests[1].header("last-event-id"), Some("1"));
}

#[test]
fn configured_header_replaces_a_default_one() {
    let server = Server::always(Script::stream_then_hold(""));
    let mut config = fast_config(&server.url("/"));
    config
        .set_header("Accept", "text/event-stream, application/json")
        .unwrap();
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&config, recorder).unwrap();
    log.expect_opened();

    let request = &server.wait_for_requests(1, TIMEOUT)[0];
    assert_eq!(
        request.header("accept"),
        Some("text/event-stream, application/json")
    );
    assert_eq!(request.header("cache-control"), Some("no-cache"));
}

/// Formats `at` as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT").
fn http_date(at: std::time::SystemTime) -> String {
    let secs = at.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        WEEKDAYS[(days % 7) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year,
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

#[test]
fn http_date_helper_formats_imf_fixdate() {
    let at = std::time::UNIX_EPOCH + Duration::from_secs(784_111_777);
    assert_eq!(http_date(at), "Sun, 06 Nov 1994 08:49:37 GMT");
}

#[test]
fn status_503_with_retry_after_http_date_delays_the_next_attempt() {
    let server = Server::routed(|_, n| {
        if n == 0 {
            let at = std::time::SystemTime::now() + Duration::from_secs(2);
            Script::status(503, &[("Retry-After", &http_date(at))])
        } else {
            Script::stream_then_hold("data: ok\n\n")
        }
    });
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&fast_config(&server.url("/")), recorder).unwrap();

    let error = log.expect_error_of(ErrorKind::HttpStatus, true);
    assert_eq!(error.http_status, 503);
    // The date has a one-second resolution: 2 s ahead is at least 1 s of wait.
    assert!(
        error.retry_delay >= Duration::from_secs(1),
        "Retry-After date 2 s ahead, yet the wait is {:?}",
        error.retry_delay
    );
    log.expect_opened();
    log.expect_event(Ev::message("ok", ""));
    let conns = server.connections();
    let gap = conns[1].accepted_at.duration_since(conns[0].accepted_at);
    assert!(gap >= ms(900), "the retry came {gap:?} after the 503");
}

#[test]
fn redirect_to_a_204_is_fatal() {
    let server = Server::routed(|request, _| match request.path.as_str() {
        "/a" => Script::status(302, &[("Location", "/gone")]),
        _ => Script::status(204, &[]),
    });
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&fast_config(&server.url("/a")), recorder).unwrap();

    let error = log.expect_error_of(ErrorKind::HttpStatus, false);
    assert_eq!(error.http_status, 204);
    log.expect(Record::State(ReadyState::Closed));
    log.expect_silence(ms(100));
    assert_eq!(server.connection_count(), 2);
}

#[test]
fn request_does_not_advertise_compression_it_cannot_stream() {
    let server = Server::always(Script::stream_then_hold(""));
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&fast_config(&server.url("/")), recorder).unwrap();
    log.expect_opened();

    let request = &server.wait_for_requests(1, TIMEOUT)[0];
    let encoding = request.header("accept-encoding").unwrap_or("");
    assert!(
        !encoding.contains("gzip") && !encoding.contains("br"),
        "Accept-Encoding: {encoding}"
    );
    let agent = request.header("user-agent").unwrap_or("");
    assert!(agent.starts_with("sse_client/"), "User-Agent: {agent}");
}
