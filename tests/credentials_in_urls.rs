//! Credentials in URLs (`http://user:secret@host/`): the request still carries them (ureq
//! turns the user information into `Authorization: Basic`), but no error message and no
//! log record ever repeats them. Every URL the library shows goes through one redaction:
//! `http://***@host/path`.
//!
//! The log records are collected the way a C host gets them, through
//! `sse_set_log_callback` at SSE_LOG_TRACE, so they include the records of the HTTP client
//! underneath. Every test here uses the same password, so records of tests running in
//! parallel can share one collection: none may contain it.

mod support;

use std::ffi::{c_char, c_void, CStr};
use std::mem::MaybeUninit;
use std::sync::{Arc, Mutex, Once};

use sse_client::ffi::{sse_log_level, sse_set_log_callback};
use sse_client::{Client, Config, ConfigError};
use support::server::proxy::ProxyServer;
use support::*;

const PASSWORD: &str = "secret";
const USERINFO: &str = "user:secret";
/// base64("user:secret"): what `Authorization: Basic` carries; no message may show it either.
const BASIC: &str = "dXNlcjpzZWNyZXQ=";

static RECORDS: Mutex<Vec<String>> = Mutex::new(Vec::new());

unsafe extern "C" fn collect(_userdata: *mut c_void, level: sse_log_level, message: *const c_char) {
    // SAFETY: the library passes a NUL-terminated string, borrowed until we return.
    let text = unsafe { CStr::from_ptr(message) }.to_string_lossy();
    lock(&RECORDS).push(format!("{level:?}: {text}"));
}

/// Sends every log record of the process, at every level, to `RECORDS`.
fn collect_log_records() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // SAFETY: `collect` is thread-safe and ignores the userdata.
        unsafe {
            sse_set_log_callback(
                Some(collect),
                std::ptr::null_mut(),
                MaybeUninit::new(sse_log_level::SSE_LOG_TRACE),
            )
        }
    });
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// `url` with `user:secret@` after the scheme.
fn with_credentials(url: &str) -> String {
    url.replacen("://", &format!("://{USERINFO}@"), 1)
}

/// `url` as every message must show it: `***@` in place of the credentials.
fn redacted(url: &str) -> String {
    url.replacen("://", "://***@", 1)
}

fn assert_no_credentials(what: &str, texts: &[String]) {
    for text in texts {
        assert!(
            !text.contains(PASSWORD) && !text.contains(BASIC),
            "{what} shows the credentials: {text:?}"
        );
    }
}

/// No log record so far shows the credentials, and some record names `shown` (so the
/// records were collected, and the URL was logged in its redacted form).
fn assert_log_is_clean_and_names(shown: &str) {
    let records = lock(&RECORDS).clone();
    assert_no_credentials("a log record", &records);
    assert!(
        records.iter().any(|r| r.contains(shown)),
        "no log record names {shown:?}; records: {records:#?}"
    );
}

/// Opens a client on `config`, collects its first `errors` error messages, closes it.
fn error_messages(config: &Config, errors: usize) -> Vec<String> {
    let (mut log, recorder) = Log::new();
    let client = Client::open(config, recorder).unwrap();
    let messages = (0..errors)
        .map(|_| match log.skip_until(Record::is_error) {
            Record::Error(error) => error.message,
            _ => unreachable!(),
        })
        .collect();
    client.close();
    messages
}

/// Checks `messages` (which must name `shown`) and the log.
fn assert_clean(messages: &[String], shown: &str) {
    assert_no_credentials("an error message", messages);
    assert!(
        messages.iter().any(|m| m.contains(shown)),
        "no error message names {shown:?}: {messages:#?}"
    );
    assert_log_is_clean_and_names(shown);
}

#[test]
fn a_connect_failure_hides_the_credentials() {
    collect_log_records();
    let url = format!("http://127.0.0.1:{}/connect-failure", closed_port());
    let messages = error_messages(&fast_config(&with_credentials(&url)), 2);
    assert!(messages[0].starts_with("cannot connect to"), "{messages:?}");
    assert_clean(&messages, &redacted(&url));
}

#[test]
fn http_errors_hide_the_credentials_and_the_server_still_gets_them() {
    collect_log_records();
    let server = Server::always(Script::status(500, &[]));
    let url = server.url("/status-500");
    let messages = error_messages(&fast_config(&with_credentials(&url)), 2);
    assert!(messages[0].contains("HTTP 500"), "{messages:?}");
    assert_clean(&messages, &redacted(&url));

    // The credentials still travel, as ureq sends them: as Basic authentication.
    let requests = server.wait_for_requests(1, TIMEOUT);
    assert_eq!(
        requests[0].header("authorization"),
        Some(format!("Basic {BASIC}").as_str())
    );
}

/// Changes a test's configuration.
type Configure = fn(&mut Config);

#[test]
fn stream_failures_hide_the_credentials() {
    collect_log_records();
    // (path, what the server does, the configuration, what the error says)
    let cases: [(&str, Script, Configure, &str); 4] = [
        (
            "/wrong-content-type",
            Script::status(200, &[("Content-Type", "text/html")]),
            |_| {},
            "answered with Content-Type",
        ),
        (
            "/stream-closed",
            Script::stream("data: a\n\n"),
            |_| {},
            "closed the stream",
        ),
        (
            "/read-timeout",
            Script::new().send(ok_stream()).hold_open(),
            |c| c.set_read_timeout(Some(ms(100))),
            "read timeout",
        ),
        (
            "/event-too-large",
            Script::stream_then_hold(format!("data: {}\n\n", "x".repeat(100))),
            |c| c.set_max_event_size(10),
            "exceeded max_event_size",
        ),
    ];
    for (path, script, configure, says) in cases {
        let server = Server::always(script);
        let url = server.url(path);
        let mut config = fast_config(&with_credentials(&url));
        configure(&mut config);
        let messages = error_messages(&config, 1);
        assert!(messages[0].contains(says), "{path}: {messages:?}");
        assert_clean(&messages, &redacted(&url));
    }
}

#[test]
fn a_redirect_to_a_url_with_credentials_hides_them() {
    collect_log_records();
    let target = Server::always(Script::status(500, &[]));
    let target_url = target.url("/redirected");
    let location = with_credentials(&target_url);
    let origin = Server::always(Script::status(302, &[("Location", &location)]));
    let messages = error_messages(&fast_config(&origin.url("/redirecting")), 2);
    assert!(messages[0].contains("HTTP 500"), "{messages:?}");
    assert_clean(&messages, &redacted(&target_url));
    // The redirect itself is logged with the target redacted too.
    assert_log_is_clean_and_names(&format!("to {}", redacted(&target_url)));
    let requests = target.wait_for_requests(1, TIMEOUT);
    assert_eq!(
        requests[0].header("authorization"),
        Some(format!("Basic {BASIC}").as_str())
    );
}

#[test]
fn too_many_redirects_hide_the_credentials_of_the_last_location() {
    collect_log_records();
    // A server that redirects to itself, with credentials in the Location, forever.
    let location = Arc::new(Mutex::new(String::new()));
    let server = {
        let location = location.clone();
        Server::routed(move |_, _| Script::status(302, &[("Location", &lock(&location))]))
    };
    let again = server.url("/again");
    *lock(&location) = with_credentials(&again);
    let mut config = fast_config(&server.url("/loop"));
    config.set_max_redirects(2);
    let messages = error_messages(&config, 1);
    assert!(
        messages[0].contains("redirected once too often"),
        "{messages:?}"
    );
    assert_clean(&messages, &redacted(&again));
}

#[test]
fn a_proxy_url_with_credentials_hides_them() {
    collect_log_records();
    // An unreachable proxy: the connect error names it.
    let origin = Server::always(Script::status(500, &[]));
    let mut config = fast_config(&origin.url("/behind-a-closed-proxy"));
    let proxy_url = format!("http://127.0.0.1:{}", closed_port());
    config
        .set_proxy(Some(&with_credentials(&proxy_url)))
        .unwrap();
    let messages = error_messages(&config, 2);
    assert!(
        messages[0].contains("(with credentials)"),
        "the message names the proxy: {messages:?}"
    );
    assert_clean(&messages, "/behind-a-closed-proxy");

    // A working proxy, and credentials on both the proxy and the origin URL.
    let proxy = ProxyServer::http();
    let url = origin.url("/behind-a-proxy");
    let mut config = fast_config(&with_credentials(&url));
    config
        .set_proxy(Some(&proxy.url_with_credentials(USERINFO)))
        .unwrap();
    let messages = error_messages(&config, 2);
    assert!(messages[0].contains("HTTP 500"), "{messages:?}");
    assert_clean(&messages, &redacted(&url));
    assert_log_is_clean_and_names(&format!("connecting to {} through", redacted(&url)));
    let requests = proxy.wait_for_requests(1, TIMEOUT);
    assert_eq!(
        requests[0].proxy_authorization.as_deref(),
        Some(format!("Basic {BASIC}").as_str())
    );
}

#[test]
fn refused_urls_hide_the_credentials() {
    let refusal = |result: Result<(), ConfigError>| match result {
        Err(ConfigError::InvalidUrl(message)) => message,
        other => panic!("expected InvalidUrl, got {other:?}"),
    };
    let mut messages = Vec::new();
    for url in [
        "http://user:secret@127.0.0.1:99999/x",
        "http://user:secret@exa mple.com/",
        "ftp://user:secret@127.0.0.1/",
        "http://user:secret@[::1/",
    ] {
        messages.push(refusal(Config::new(url).map(drop)));
    }
    let mut config = Config::new("http://127.0.0.1:1/").unwrap();
    for proxy in [
        "http://user:secret@127.0.0.1:99999",
        "ftp://user:secret@127.0.0.1:1",
    ] {
        messages.push(refusal(config.set_proxy(Some(proxy))));
    }
    assert_no_credentials("a refusal", &messages);
    for message in &messages {
        assert!(message.contains("***@"), "{message}");
    }
}

#[test]
fn a_url_with_a_port_beyond_65535_is_refused() {
    for url in ["http://127.0.0.1:99999/x", "http://127.0.0.1:65536/"] {
        match Config::new(url) {
            Err(ConfigError::InvalidUrl(message)) => {
                assert!(message.contains("port"), "{message}")
            }
            other => panic!("{url}: expected InvalidUrl, got {other:?}"),
        }
    }
}
