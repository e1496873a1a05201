//! Request and response hooks, restart, stats, `failed_attempts`, and the rule that a
//! request other than GET is not replayed unless the host allows it.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sse_client::{
    Client, ClientError, ErrorKind, ReadyState, Remedy, RequestHook, RequestInfo, ResponseHook,
    ResponseInfo, Setting, Stats,
};
use support::*;

// ---------------------------------------------------------------------------------------
// Hooks from closures
// ---------------------------------------------------------------------------------------

struct RequestFn<F>(F);

impl<F: Fn(&mut RequestInfo<'_>) + Send + Sync> RequestHook for RequestFn<F> {
    fn before_request(&self, request: &mut RequestInfo<'_>) {
        (self.0)(request)
    }
}

struct ResponseFn<F>(F);

impl<F: Fn(&ResponseInfo<'_>) + Send + Sync> ResponseHook for ResponseFn<F> {
    fn on_response(&self, response: &ResponseInfo<'_>) {
        (self.0)(response)
    }
}

fn request_hook(
    f: impl Fn(&mut RequestInfo<'_>) + Send + Sync + 'static,
) -> Option<Arc<dyn RequestHook>> {
    Some(Arc::new(RequestFn(f)))
}

fn response_hook(
    f: impl Fn(&ResponseInfo<'_>) + Send + Sync + 'static,
) -> Option<Arc<dyn ResponseHook>> {
    Some(Arc::new(ResponseFn(f)))
}

fn errors(log: &Log) -> Vec<sse_client::ClientError> {
    log.all()
        .iter()
        .filter_map(|r| r.as_error().cloned())
        .collect()
}

/// The counter of errors of each kind, all kinds listed (for readable failures).
fn errors_by_kind(stats: &Stats) -> Vec<(ErrorKind, u64)> {
    ErrorKind::ALL
        .iter()
        .map(|kind| (*kind, stats.errors[kind.index()]))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Request hook
// ---------------------------------------------------------------------------------------

#[test]
fn request_hook_sends_a_fresh_token_on_every_attempt() {
    let server = Server::scripted(vec![
        Script::stream("id: 1\ndata: a\n\n"),
        Script::stream_then_hold("data: b\n\n"),
    ]);
    let mut config = fast_config(&server.url("/events"));
    // The hook's value replaces the configured one.
    config.set_header("Authorization", "Bearer stale").unwrap();
    config.set_request_hook(request_hook(|request| {
        let token = format!("Bearer token-{}", request.attempt());
        request.set_header("Authorization", &token).unwrap();
    }));
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&config, recorder).unwrap();
    log.skip_until(|r| *r == Record::Event(Ev::message("b", "1")));

    let requests = server.wait_for_requests(2, TIMEOUT);
    assert_eq!(requests[0].header("authorization"), Some("Bearer token-1"));
    assert_eq!(requests[1].header("authorization"), Some("Bearer token-2"));
    assert_eq!(requests[1].header("last-event-id"), Some("1"));
}

#[test]
fn request_hook_sees_attempt_numbers_url_and_the_last_event_id_about_to_be_sent() {
    let server = Server::scripted(vec![
        Script::stream("id: 1\ndata: a\n\n"),
        Script::stream("id: 2\ndata: b\n\n"),
        Script::stream_then_hold("data: c\n\n"),
    ]);
    let url = server.url("/events?topic=x");
    let mut config = fast_config(&url);
    config.set_last_event_id("0").unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    config.set_request_hook(request_hook({
        let seen = seen.clone();
        move |request| {
            let authorization = request.header("authorization").map(|v| v.to_vec());
            seen.lock().unwrap().push((
                request.attempt(),
                request.last_event_id().to_owned(),
                request.url(),
                authorization,
            ));
        }
    }));
    config
        .set_header("Authorization", "Bearer configured")
        .unwrap();
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&config, recorder).unwrap();
    log.skip_until(|r| *r == Record::Event(Ev::message("c", "2")));

    let seen = seen.lock().unwrap().clone();
    let configured = Some(b"Bearer configured".to_vec());
    assert_eq!(
        seen,
        [
            (1, "0".to_owned(), url.clone(), configured.clone()),
            (2, "1".to_owned(), url.clone(), configured.clone()),
            (3, "2".to_owned(), url.clone(), configured),
        ]
    );
    let requests = server.wait_for_requests(3, TIMEOUT);
    let sent: Vec<_> = requests
        .iter()
        .map(|r| r.header("last-event-id").unwrap_or(""))
        .collect();
    assert_eq!(sent, ["0", "1", "2"], "the hook saw what was then sent");
}

#[test]
fn request_hook_header_changes_apply_to_that_attempt_only() {
    let server = Server::scripted(vec![
        Script::stream("data: a\n\n"),
        Script::stream_then_hold("data: b\n\n"),
    ]);
    let mut config = fast_config(&server.url("/"));
    config.set_header("X-Api-Key", "k1").unwrap();
    config.set_request_hook(request_hook(|request| {
        if request.attempt() == 1 {
            assert!(request.remove_header("x-api-key"), "configured, so removed");
            assert!(!request.remove_header("X-Not-There"));
            request.set_header("X-Only-First", "yes").unwrap();
        } else {
            // Every attempt starts again from the configured headers.
            assert_eq!(request.header("X-Api-Key"), Some(&b"k1"[..]));
            assert_eq!(request.header("X-Only-First"), None);
        }
    }));
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&config, recorder).unwrap();
    log.skip_until(|r| *r == Record::Event(Ev::message("b", "")));

    let requests = server.wait_for_requests(2, TIMEOUT);
    assert_eq!(requests[0].header("x-api-key"), None);
    assert_eq!(requests[0].header("x-only-first"), Some("yes"));
    assert_eq!(requests[1].header("x-api-key"), Some("k1"));
    assert_eq!(requests[1].header("x-only-first"), None);
    // The hook's assertions ran on the worker: a panic there would have shown as an error.
    assert!(errors(&log)
        .iter()
        .all(|e| e.kind == ErrorKind::StreamEnded));
}

#[test]
fn request_hook_cannot_set_an_invalid_header_and_the_attempt_proceeds() {
    let server = Server::always(Script::stream_then_hold("data: fine\n\n"));
    let mut config = fast_config(&server.url("/"));
    let refused = Arc::new(Mutex::new(Vec::new()));
    config.set_request_hook(request_hook({
        let refused = refused.clone();
        move |request| {
            let attempts = [
                ("X-Bad", "a\r\nEvil: 1"),
                ("X-Bad", "a\nb"),
                ("X-Bad", "a\0b"),
                ("Bad Name", "v"),
                ("", "v"),
                ("Last-Event-ID", "forged"),
            ];
            for (name, value) in attempts {
                refused
                    .lock()
                    .unwrap()
                    .push(request.set_header(name, value).is_err());
            }
            request.set_header("X-Good", "ok").unwrap();
        }
    }));
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&config, recorder).unwrap();
    log.expect_opened();
    log.expect_event(Ev::message("fine", ""));

    assert_eq!(
        *refused.lock().unwrap(),
        [true; 6],
        "every bad header refused"
    );
    let request = &server.wait_for_requests(1, TIMEOUT)[0];
    assert_eq!(request.header("x-bad"), None);
    assert_eq!(request.header("evil"), None);
    assert_eq!(request.header("last-event-id"), None);
    assert_eq!(request.header("x-good"), Some("ok"));
}

// ---------------------------------------------------------------------------------------
// Response hook
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq)]
struct SeenResponse {
    status: u16,
    path: String,
    rate_limit: Option<String>,
    /// The names of `headers()` (they come in lower case).
    names: Vec<String>,
}

#[test]
fn response_hook_sees_every_response_with_status_url_and_headers() {
    let streams = AtomicUsize::new(0);
    let server = Server::routed(move |request, _| match request.path.as_str() {
        "/start" => Script::status(302, &[("Location", "/stream")]),
        "/stream" if streams.fetch_add(1, Ordering::SeqCst) == 0 => {
            Script::status(429, &[("X-RateLimit-Remaining", "0")])
        }
        "/stream" => Script::stream_then_hold("data: ok\n\n"),
        _ => Script::status(404, &[]),
    });
    let base = server.url("");
    let mut config = fast_config(&server.url("/start"));
    let requests_hooked = Arc::new(AtomicUsize::new(0));
    config.set_request_hook(request_hook({
        let requests_hooked = requests_hooked.clone();
        move |_| {
            requests_hooked.fetch_add(1, Ordering::SeqCst);
        }
    }));
    let seen = Arc::new(Mutex::new(Vec::new()));
    config.set_response_hook(response_hook({
        let seen = seen.clone();
        move |response| {
            let url = response.url();
            seen.lock().unwrap().push(SeenResponse {
                status: response.status(),
                path: url.strip_prefix(&base).unwrap_or(&url).to_owned(),
                // Looked up case-insensitively.
                rate_limit: response
                    .header("X-RateLimit-Remaining")
                    .map(|v| String::from_utf8_lossy(v).into_owned()),
                names: response.headers().map(|(n, _)| n.to_owned()).collect(),
            });
        }
    }));
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&config, recorder).unwrap();
    let error = log.expect_error_of(ErrorKind::HttpStatus, true);
    assert_eq!(error.http_status, 429);
    log.skip_until(|r| *r == Record::Event(Ev::message("ok", "")));

    let seen = seen.lock().unwrap().clone();
    let summary: Vec<_> = seen
        .iter()
        .map(|s| (s.status, s.path.as_str(), s.rate_limit.as_deref()))
        .collect();
    assert_eq!(
        summary,
        [
            (302, "/start", None),
            (429, "/stream", Some("0")),
            (302, "/start", None),
            (200, "/stream", None),
        ]
    );
    assert!(
        seen[1].names.iter().any(|n| n == "x-ratelimit-remaining"),
        "headers() lists the 429's headers in lower case: {:?}",
        seen[1].names
    );
    assert!(
        seen[0].names.iter().any(|n| n == "location"),
        "{:?}",
        seen[0].names
    );
    assert!(
        seen[3].names.iter().any(|n| n == "content-type"),
        "{:?}",
        seen[3].names
    );
    // The request hook runs once per attempt, not once per redirect hop.
    assert_eq!(requests_hooked.load(Ordering::SeqCst), 2);
}

#[test]
fn no_hook_runs_after_close_returns() {
    // Every attempt fails quickly, so the hooks run over and over.
    let server = Server::always(Script::status(503, &[]));
    let mut config = fast_config(&server.url("/"));
    config.set_reconnect_delay(ms(1), ms(5)).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let in_hook = Arc::new(AtomicBool::new(false));
    let (calls_req, in_req) = (calls.clone(), in_hook.clone());
    config.set_request_hook(request_hook(move |_| {
        in_req.store(true, Ordering::SeqCst);
        std::thread::sleep(ms(5));
        calls_req.fetch_add(1, Ordering::SeqCst);
        in_req.store(false, Ordering::SeqCst);
    }));
    let (calls_resp, in_resp) = (calls.clone(), in_hook.clone());
    config.set_response_hook(response_hook(move |_| {
        in_resp.store(true, Ordering::SeqCst);
        std::thread::sleep(ms(5));
        calls_resp.fetch_add(1, Ordering::SeqCst);
        in_resp.store(false, Ordering::SeqCst);
    }));
    let (_log, recorder) = Log::new();
    let client = Client::open(&config, recorder).unwrap();
    assert!(
        wait_until(TIMEOUT, || calls.load(Ordering::SeqCst) >= 6),
        "the hooks run on every attempt"
    );

    client.close();
    assert!(
        !in_hook.load(Ordering::SeqCst),
        "close() returned while a hook was running"
    );
    let after_close = calls.load(Ordering::SeqCst);
    std::thread::sleep(ms(200));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        after_close,
        "a hook ran after close()"
    );
}

// ---------------------------------------------------------------------------------------
// Restart
// ---------------------------------------------------------------------------------------

/// A configuration whose backoff would make any reconnect within a test's timeout
/// impossible: only a restart can reconnect quickly.
fn slow_config(url: &str) -> sse_client::Config {
    let mut config = fast_config(url);
    config
        .set_reconnect_delay(Duration::from_secs(30), Duration::from_secs(30))
        .unwrap();
    config
}

#[test]
fn restart_while_streaming_reconnects_at_once_with_the_last_event_id_and_no_error() {
    let server = Server::scripted(vec![
        Script::stream_then_hold("id: 5\ndata: a\n\n"),
        Script::stream_then_hold("data: b\n\n"),
    ]);
    let (mut log, recorder) = Log::new();
    let client = Client::open(&slow_config(&server.url("/events")), recorder).unwrap();
    log.expect_opened();
    log.expect_event(Ev::message("a", "5"));

    let restarted_at = Instant::now();
    assert!(client.restart());
    log.expect(Record::State(ReadyState::Connecting));
    log.expect_opened();
    log.expect_event(Ev::message("b", "5"));
    assert!(
        restarted_at.elapsed() < Duration::from_secs(3),
        "the restart waited like a backoff: {:?}",
        restarted_at.elapsed()
    );

    let requests = server.wait_for_requests(2, TIMEOUT);
    assert_eq!(requests[1].header("last-event-id"), Some("5"));
    assert_eq!(requests[1].path, "/events");
    server
        .wait_for(TIMEOUT, |conns| conns[0].ended_at.is_some())
        .expect("the client dropped the first connection");
    assert_eq!(server.connection_count(), 2);
    assert!(errors(&log).is_empty(), "a restart is not an error");
    assert_eq!(client.ready_state(), ReadyState::Open);
    let stats = client.stats();
    assert_eq!(
        (stats.connection_attempts, stats.connections_opened),
        (2, 2)
    );
    assert!(stats.errors.iter().all(|n| *n == 0), "{stats:?}");
}

#[test]
fn restart_during_a_long_backoff_reconnects_at_once() {
    let server = Server::scripted(vec![
        Script::stream("data: a\n\n"),
        Script::stream_then_hold("data: b\n\n"),
    ]);
    let (mut log, recorder) = Log::new();
    let client = Client::open(&slow_config(&server.url("/")), recorder).unwrap();
    log.expect_opened();
    log.expect_event(Ev::message("a", ""));
    let error = log.expect_error_of(ErrorKind::StreamEnded, true);
    assert!(error.retry_delay >= Duration::from_secs(30), "{error:?}");
    log.expect(Record::State(ReadyState::Connecting));
    std::thread::sleep(ms(100));
    assert_eq!(
        server.connection_count(),
        1,
        "still waiting out the backoff"
    );

    assert!(client.restart());
    // Already CONNECTING: no state change to report, straight to the new stream.
    log.expect_opened();
    log.expect_event(Ev::message("b", ""));
    assert_eq!(server.wait_for_requests(2, TIMEOUT).len(), 2);
    assert_eq!(errors(&log).len(), 1, "only the stream end was an error");
}

#[test]
fn restart_while_waiting_for_the_response_connects_again() {
    let server = Server::scripted(vec![
        Script::silent(),
        Script::stream_then_hold("data: answered\n\n"),
    ]);
    let (mut log, recorder) = Log::new();
    let client = Client::open(&slow_config(&server.url("/")), recorder).unwrap();
    server.wait_for_requests(1, TIMEOUT);
    assert_eq!(client.ready_state(), ReadyState::Connecting);

    assert!(client.restart());
    log.expect_opened();
    log.expect_event(Ev::message("answered", ""));
    assert!(errors(&log).is_empty(), "a restart is not an error");
    server
        .wait_for(TIMEOUT, |conns| conns[0].ended_at.is_some())
        .expect("the client dropped the unanswered connection");
}

#[test]
fn restart_after_close_returns_false() {
    let server = Server::always(Script::stream_then_hold("data: a\n\n"));
    let (mut log, recorder) = Log::new();
    let client = Client::open(&fast_config(&server.url("/")), recorder).unwrap();
    log.expect_opened();
    client.close();
    assert!(!client.restart());
    log.expect_silence(ms(100));
    assert_eq!(server.connection_count(), 1);
    assert_eq!(client.ready_state(), ReadyState::Closed);
}

#[test]
fn restart_after_the_client_gave_up_returns_false() {
    // CLOSED after a fatal error is as final as after close(): nothing will reconnect.
    let server = Server::always(Script::status(404, &[]));
    let (mut log, recorder) = Log::new();
    let client = Client::open(&fast_config(&server.url("/")), recorder).unwrap();
    log.expect_error_of(ErrorKind::HttpStatus, false);
    log.expect(Record::State(ReadyState::Closed));
    assert_eq!(client.ready_state(), ReadyState::Closed);

    let restarted = client.restart();
    log.expect_silence(ms(100));
    assert_eq!(server.connection_count(), 1);
    assert!(
        !restarted,
        "restart() returned true on a client that gave up, yet nothing reconnected"
    );
}

// ---------------------------------------------------------------------------------------
// Stats
// ---------------------------------------------------------------------------------------

#[test]
fn stats_count_attempts_streams_events_comments_bytes_and_errors_exactly() {
    let body = ": hi\n\nid: 1\ndata: a\n\ndata: b\ndata: b2\n\n: bye\nevent: x\ndata: c\n\n";
    let server = Server::scripted(vec![Script::stream(body), Script::status(404, &[])]);
    let (mut log, recorder) = Log::new();
    let client = Client::open(&fast_config(&server.url("/")), recorder).unwrap();
    let before = client.stats();
    assert!(before.connection_attempts <= 1, "{before:?}");
    assert_eq!(before.events, 0);

    log.expect_opened();
    let ended = log.skip_until(Record::is_error).as_error().unwrap().clone();
    assert_eq!(
        (ended.kind, ended.will_retry),
        (ErrorKind::StreamEnded, true)
    );
    log.skip_until(|r| *r == Record::State(ReadyState::Closed));

    let stats = client.stats();
    assert_eq!(stats.connection_attempts, 2, "{stats:?}");
    assert_eq!(stats.connections_opened, 1, "{stats:?}");
    assert_eq!(stats.events, 3, "{stats:?}");
    assert_eq!(stats.comments, 2, "{stats:?}");
    assert_eq!(stats.bytes_received, body.len() as u64, "{stats:?}");
    let mut expected: Vec<_> = ErrorKind::ALL.iter().map(|k| (*k, 0)).collect();
    expected[ErrorKind::StreamEnded.index()].1 = 1;
    expected[ErrorKind::HttpStatus.index()].1 = 1;
    assert_eq!(errors_by_kind(&stats), expected);
    // The fatal 404 scheduled no reconnect: the last wait stays the stream end's. Stats
    // keep whole milliseconds.
    assert_eq!(
        stats.reconnect_delay.as_millis(),
        ended.retry_delay.as_millis(),
        "{stats:?} vs {ended:?}"
    );
    assert!(stats.reconnect_delay > Duration::ZERO);
}

#[test]
fn stats_reconnect_delay_follows_each_scheduled_reconnect() {
    let server = Server::scripted(vec![
        Script::status(503, &[]),
        Script::status(503, &[]),
        Script::silent(),
    ]);
    let (mut log, recorder) = Log::new();
    let client = Client::open(&fast_config(&server.url("/")), recorder).unwrap();
    let first = log.expect_error_of(ErrorKind::HttpStatus, true);
    let second = log.expect_error_of(ErrorKind::HttpStatus, true);
    server.wait_for_requests(3, TIMEOUT);
    let stats = client.stats();
    assert_eq!(
        stats.reconnect_delay.as_millis(),
        second.retry_delay.as_millis(),
        "{stats:?}, errors {first:?} {second:?}"
    );
    assert_eq!(stats.errors[ErrorKind::HttpStatus.index()], 2);
    assert_eq!(stats.connections_opened, 0);
    assert_eq!(stats.bytes_received, 0);
}

#[test]
fn stats_time_connected_grows_while_open_and_freezes_after() {
    let server = Server::scripted(vec![
        Script::new()
            .send(ok_stream())
            .send("data: a\n\n")
            .sleep(ms(400))
            .close(),
        Script::status(404, &[]),
    ]);
    let (mut log, recorder) = Log::new();
    let client = Client::open(&fast_config(&server.url("/")), recorder).unwrap();
    log.expect_opened();
    log.expect_event(Ev::message("a", ""));

    let open_1 = client.stats().time_connected;
    std::thread::sleep(ms(100));
    let open_2 = client.stats().time_connected;
    assert!(
        open_2 >= open_1 + ms(50),
        "time_connected should grow while open: {open_1:?} then {open_2:?}"
    );

    log.skip_until(|r| *r == Record::State(ReadyState::Closed));
    let closed_1 = client.stats().time_connected;
    assert!(closed_1 >= open_2, "{open_2:?} then {closed_1:?}");
    std::thread::sleep(ms(100));
    let closed_2 = client.stats().time_connected;
    assert_eq!(
        closed_1, closed_2,
        "time_connected should freeze once closed"
    );
}

// ---------------------------------------------------------------------------------------
// failed_attempts
// ---------------------------------------------------------------------------------------

#[test]
fn failed_attempts_counts_consecutive_failures_and_restarts_after_a_delivering_stream() {
    let server = Server::scripted(vec![
        Script::status(503, &[]),
        Script::status(503, &[]),
        Script::status(503, &[]),
        Script::stream("data: x\n\n"),
        Script::status(503, &[]),
        Script::stream_then_hold("data: y\n\n"),
    ]);
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&fast_config(&server.url("/")), recorder).unwrap();
    log.skip_until(|r| *r == Record::Event(Ev::message("y", "")));

    let seen: Vec<_> = errors(&log)
        .iter()
        .map(|e| (e.kind, e.failed_attempts))
        .collect();
    assert_eq!(
        seen,
        [
            (ErrorKind::HttpStatus, 1),
            (ErrorKind::HttpStatus, 2),
            (ErrorKind::HttpStatus, 3),
            (ErrorKind::StreamEnded, 0),
            (ErrorKind::HttpStatus, 1),
        ]
    );
}

#[test]
fn failed_attempts_of_the_giving_up_error_after_max_retries_counts_that_attempt() {
    let server = Server::always(Script::status(503, &[]));
    let mut config = fast_config(&server.url("/"));
    config.set_max_retries(3);
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&config, recorder).unwrap();
    log.skip_until(|r| *r == Record::State(ReadyState::Closed));
    let seen: Vec<_> = errors(&log)
        .iter()
        .map(|e| (e.failed_attempts, e.will_retry))
        .collect();
    assert_eq!(seen, [(1, true), (2, true), (3, true), (4, false)]);
}

#[test]
fn failed_attempts_of_a_fatal_first_attempt_is_one() {
    // "Consecutive failed attempts so far, this one included".
    let server = Server::always(Script::status(404, &[]));
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&fast_config(&server.url("/")), recorder).unwrap();
    let error = log.expect_error_of(ErrorKind::HttpStatus, false);
    assert_eq!(
        error.failed_attempts, 1,
        "the fatal first attempt is one failed attempt: {error:?}"
    );
}

#[test]
fn failed_attempts_of_a_post_that_is_not_replayed_is_one() {
    let server = Server::always(Script::status(503, &[]));
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&post_config(&server.url("/")), recorder).unwrap();
    let error = log.expect_error_of(ErrorKind::HttpStatus, false);
    assert_eq!(
        error.failed_attempts, 1,
        "the 503 to the only attempt is one failed attempt: {error:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Requests other than GET are not replayed unless allowed
// ---------------------------------------------------------------------------------------

fn post_config(url: &str) -> sse_client::Config {
    let mut config = fast_config(url);
    config.set_method("POST").unwrap();
    config.set_body(br#"{"prompt":"hi"}"#);
    config
        .set_header("Content-Type", "application/json")
        .unwrap();
    config
}

/// The message says how to allow a replay without naming a binding's function (the C
/// door adds "(sse_config_set_retry_non_get)" where the remedy points: tests/c).
fn assert_allows_a_replay_in_neutral_words(error: &ClientError) {
    let allow = "; not reconnecting: a POST request is not sent again unless retrying non-GET \
                 requests is allowed";
    assert!(error.message.ends_with(allow), "{:?}", error.message);
    assert!(!error.message.contains("sse_"), "{:?}", error.message);
    assert_eq!(
        error.remedies,
        [Remedy {
            setting: Setting::RetryNonGet,
            at: error.message.len()
        }]
    );
}

#[test]
fn a_post_stream_that_ends_is_not_sent_again() {
    let server = Server::scripted(vec![
        Script::stream("data: a\n\n"),
        Script::stream_then_hold("data: replayed\n\n"),
    ]);
    let (mut log, recorder) = Log::new();
    let client = Client::open(&post_config(&server.url("/")), recorder).unwrap();
    log.expect_opened();
    log.expect_event(Ev::message("a", ""));
    let error = log.expect_error_of(ErrorKind::StreamEnded, false);
    assert_allows_a_replay_in_neutral_words(&error);
    assert_eq!(error.retry_delay, Duration::ZERO);
    log.expect(Record::State(ReadyState::Closed));
    log.expect_silence(ms(200));
    assert_eq!(server.connection_count(), 1);
    assert_eq!(client.ready_state(), ReadyState::Closed);
}

#[test]
fn a_post_answered_with_503_is_not_retried() {
    let server = Server::always(Script::status(503, &[]));
    let (mut log, recorder) = Log::new();
    let client = Client::open(&post_config(&server.url("/")), recorder).unwrap();
    let error = log.expect_error_of(ErrorKind::HttpStatus, false);
    assert_eq!(error.http_status, 503);
    assert_allows_a_replay_in_neutral_words(&error);
    log.expect(Record::State(ReadyState::Closed));
    log.expect_silence(ms(200));
    assert_eq!(server.connection_count(), 1);
    assert_eq!(client.ready_state(), ReadyState::Closed);
}

#[test]
fn a_post_is_sent_again_with_its_body_when_retry_non_get_is_set() {
    let server = Server::scripted(vec![
        Script::status(503, &[]),
        Script::stream("id: 1\ndata: a\n\n"),
        Script::stream_then_hold("data: b\n\n"),
    ]);
    let mut config = post_config(&server.url("/generate"));
    config.set_retry_non_get(true);
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&config, recorder).unwrap();
    log.expect_error_of(ErrorKind::HttpStatus, true);
    log.skip_until(|r| *r == Record::Event(Ev::message("b", "1")));

    let requests = server.wait_for_requests(3, TIMEOUT);
    for request in &requests {
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/generate");
        assert_eq!(request.body, br#"{"prompt":"hi"}"#);
        assert_eq!(request.header("content-type"), Some("application/json"));
    }
    assert_eq!(requests[2].header("last-event-id"), Some("1"));
}
