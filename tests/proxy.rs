//! Proxies: an explicit http:// (CONNECT) or socks5:// proxy, the conventional environment
//! variables, and NO_PROXY, against real loopback proxies (`support/server/proxy.rs`).
//!
//! Only `environment_variables_choose_the_proxy_unless_disabled_or_excluded` changes the
//! process environment; every other test here sets an explicit proxy (which the
//! environment cannot change) or none, so tests running in parallel cannot race on it.

mod support;

use std::ffi::{CStr, CString};

use sse_client::{Client, Config, ConfigError, ErrorKind};
use support::server::proxy::{ProxyServer, SocksAddress};
use support::*;

/// Opens a client with `config`, waits for its first event (`data: hello`), closes it.
fn receive_hello(config: &Config) {
    let (mut log, recorder) = Log::new();
    let client = Client::open(config, recorder).unwrap();
    log.expect_opened();
    log.expect_event(Ev::message("hello", ""));
    client.close();
}

/// The same in poll mode. The origin holds the stream open after the event, and the
/// worker cannot tell whether a read through a SOCKS proxy would wait: it must announce
/// the event anyway.
fn poll_hello(config: &Config) {
    let client = Client::open_polled(config).unwrap();
    let polled = poll_announced(&client, 3);
    assert_eq!(polled[2], Record::Event(Ev::message("hello", "")));
}

fn hello_server() -> Server {
    Server::always(Script::stream_then_hold(events(&["hello"])))
}

#[test]
fn explicit_http_proxy_tunnels_the_stream_and_every_reconnect_with_connect() {
    let origin = Server::scripted(vec![
        Script::stream("id: 1\ndata: a\n\n"),
        Script::stream_then_hold("data: b\n\n"),
    ]);
    let proxy = ProxyServer::http();
    let mut config = fast_config(&origin.url("/events"));
    config.set_proxy(Some(&proxy.url())).unwrap();
    let (mut log, recorder) = Log::new();
    let _client = Client::open(&config, recorder).unwrap();

    log.expect_opened();
    log.expect_event(Ev::message("a", "1"));
    log.expect_reconnect_after(ErrorKind::StreamEnded);
    log.expect_event(Ev::message("b", "1"));

    // ureq 3.5 tunnels an http:// target with CONNECT too (no absolute-form request), so
    // the origin sees an ordinary origin-form request.
    let requests = proxy.wait_for_requests(2, TIMEOUT);
    for request in &requests {
        assert_eq!(
            request.request_line,
            format!("CONNECT 127.0.0.1:{} HTTP/1.1", origin.port())
        );
        assert_eq!(request.target, format!("127.0.0.1:{}", origin.port()));
        assert_eq!(request.proxy_authorization, None);
        assert!(request.connected);
    }
    let at_origin = origin.wait_for_requests(2, TIMEOUT);
    assert_eq!(at_origin[0].path, "/events");
    assert_eq!(at_origin[1].path, "/events");
    assert_eq!(at_origin[1].header("last-event-id"), Some("1"));
    assert_eq!(proxy.accepted(), 2);
}

#[test]
fn explicit_socks5_proxy_carries_the_stream() {
    let origin = hello_server();
    let proxy = ProxyServer::socks5();
    let mut config = fast_config(&origin.url("/events"));
    config.set_proxy(Some(&proxy.url())).unwrap();
    receive_hello(&config);

    let requests = proxy.wait_for_requests(1, TIMEOUT);
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].target, format!("127.0.0.1:{}", origin.port()));
    assert_eq!(requests[0].socks_address, Some(SocksAddress::Ipv4));
    assert_eq!(requests[0].socks_credentials, None);
    assert_eq!(origin.wait_for_requests(1, TIMEOUT)[0].path, "/events");
}

#[test]
fn polled_streams_through_either_proxy_hand_over_each_event() {
    for proxy in [ProxyServer::socks5(), ProxyServer::http()] {
        // The event comes after the host has taken the open and state messages and waits.
        let origin = Server::always(
            Script::new()
                .send(ok_stream())
                .sleep(ms(300))
                .send(events(&["hello"]))
                .hold_open(),
        );
        let mut config = fast_config(&origin.url("/events"));
        config.set_proxy(Some(&proxy.url())).unwrap();
        poll_hello(&config);
        assert_eq!(proxy.wait_for_requests(1, TIMEOUT).len(), 1);
    }
}

#[test]
fn socks5h_proxy_resolves_the_host_name_itself() {
    let origin = hello_server();
    let proxy = ProxyServer::socks5();
    // The origin listens on 127.0.0.1; the proxy resolves "localhost" and tries each
    // address it gets.
    let mut config = fast_config(&format!("http://localhost:{}/events", origin.port()));
    config
        .set_proxy(Some(&format!("socks5h://127.0.0.1:{}", proxy.port())))
        .unwrap();
    receive_hello(&config);

    let requests = proxy.wait_for_requests(1, TIMEOUT);
    assert_eq!(requests[0].target, format!("localhost:{}", origin.port()));
    assert_eq!(requests[0].socks_address, Some(SocksAddress::Domain));
}

#[test]
fn credentials_in_an_http_proxy_url_reach_the_proxy_as_proxy_authorization() {
    let origin = hello_server();
    let proxy = ProxyServer::http();
    let mut config = fast_config(&origin.url("/"));
    // "p%40ss" is "p@ss", percent-encoded as a URL requires.
    config
        .set_proxy(Some(&proxy.url_with_credentials("user:p%40ss")))
        .unwrap();
    receive_hello(&config);

    let requests = proxy.wait_for_requests(1, TIMEOUT);
    // base64("user:p@ss")
    assert_eq!(
        requests[0].proxy_authorization.as_deref(),
        Some("Basic dXNlcjpwQHNz")
    );
    // The credentials are for the proxy only: the origin never sees them.
    let at_origin = origin.wait_for_requests(1, TIMEOUT);
    assert_eq!(at_origin[0].header("proxy-authorization"), None);
    assert_eq!(at_origin[0].header("authorization"), None);
}

#[test]
fn credentials_in_a_socks5_proxy_url_reach_the_proxy_as_username_password_auth() {
    let origin = hello_server();
    let proxy = ProxyServer::socks5();
    let mut config = fast_config(&origin.url("/"));
    config
        .set_proxy(Some(&proxy.url_with_credentials("alice:s3cret")))
        .unwrap();
    receive_hello(&config);

    let requests = proxy.wait_for_requests(1, TIMEOUT);
    assert_eq!(
        requests[0].socks_credentials,
        Some(("alice".to_owned(), "s3cret".to_owned()))
    );
    assert_eq!(requests[0].target, format!("127.0.0.1:{}", origin.port()));
}

#[test]
fn unreachable_proxy_is_a_connect_error_and_the_client_retries() {
    let origin = hello_server();
    for scheme in ["http", "socks5"] {
        let mut config = fast_config(&origin.url("/"));
        config
            .set_proxy(Some(&format!("{scheme}://127.0.0.1:{}", closed_port())))
            .unwrap();
        let (mut log, recorder) = Log::new();
        let client = Client::open(&config, recorder).unwrap();

        let error = log.expect_error_of(ErrorKind::Connect, true);
        assert_eq!(error.http_status, 0);
        let again = log.expect_error_of(ErrorKind::Connect, true);
        assert_eq!(again.failed_attempts, error.failed_attempts + 1, "{scheme}");
        client.close();
    }
    assert_eq!(origin.connection_count(), 0);
}

#[test]
fn proxy_that_cannot_reach_the_server_is_a_connect_error_and_the_client_retries() {
    let origin_port = closed_port();
    for proxy in [ProxyServer::http(), ProxyServer::socks5()] {
        let mut config = fast_config(&format!("http://127.0.0.1:{origin_port}/"));
        config.set_proxy(Some(&proxy.url())).unwrap();
        let (mut log, recorder) = Log::new();
        let client = Client::open(&config, recorder).unwrap();

        let error = log.expect_error_of(ErrorKind::Connect, true);
        log.expect_error_of(ErrorKind::Connect, true);
        client.close();

        let requests = proxy.wait_for_requests(2, TIMEOUT);
        assert_eq!(requests[0].target, format!("127.0.0.1:{origin_port}"));
        assert!(!requests[0].connected, "{error:?}");
    }
}

#[test]
fn invalid_proxy_urls_are_refused_with_invalid_url() {
    let mut config = Config::new("http://127.0.0.1:1/").unwrap();
    for url in [
        "",
        "not a url",
        "127.0.0.1:3128",
        "http://",
        "http://:3128",
        "http://127.0.0.1:70000",
        "http://127.0.0.1:3128/path",
        "https://127.0.0.1:3128",
        "socks4://127.0.0.1:1080",
        "ftp://127.0.0.1:21",
    ] {
        match config.set_proxy(Some(url)) {
            Err(ConfigError::InvalidUrl(message)) => assert!(
                message.contains("http://") && message.contains("socks5://"),
                "{url:?}: the message should name the supported schemes: {message}"
            ),
            other => panic!("{url:?} should be refused with InvalidUrl, got {other:?}"),
        }
    }
    for url in [
        "http://127.0.0.1:3128",
        "http://user:pass@proxy.example:3128/",
        "socks5://127.0.0.1:1080",
        "socks5h://user:pass@[::1]:1080",
    ] {
        config
            .set_proxy(Some(url))
            .unwrap_or_else(|e| panic!("{url:?}: {e}"));
    }
    config.set_proxy(None).unwrap();
}

#[test]
fn c_api_refuses_an_invalid_proxy_url_with_sse_error_invalid_url() {
    use sse_client::ffi::{
        sse_config_free, sse_config_new, sse_config_set_proxy, sse_config_set_proxy_from_env,
        sse_last_error_message, sse_result,
    };
    use std::mem::MaybeUninit;
    let url = CString::new("http://127.0.0.1:1/").unwrap();
    let mut config = std::ptr::null_mut();
    // SAFETY: valid strings and out-pointer; the config is freed below.
    unsafe {
        assert_eq!(
            sse_config_new(url.as_ptr(), &mut config),
            sse_result::SSE_OK
        );
        let bad = CString::new("ftp://proxy.example:21").unwrap();
        assert_eq!(
            sse_config_set_proxy(config, bad.as_ptr()),
            sse_result::SSE_ERROR_INVALID_URL
        );
        let message = CStr::from_ptr(sse_last_error_message()).to_string_lossy();
        assert!(message.contains("socks5://"), "{message}");
        let good = CString::new("socks5://127.0.0.1:1080").unwrap();
        assert_eq!(
            sse_config_set_proxy(config, good.as_ptr()),
            sse_result::SSE_OK
        );
        let empty = CString::new("").unwrap();
        assert_eq!(
            sse_config_set_proxy(config, empty.as_ptr()),
            sse_result::SSE_OK
        );
        assert_eq!(
            sse_config_set_proxy(config, std::ptr::null()),
            sse_result::SSE_OK
        );
        assert_eq!(
            sse_config_set_proxy_from_env(config, MaybeUninit::new(false)),
            sse_result::SSE_OK
        );
        sse_config_free(config);
    }
}

// ---------------------------------------------------------------------------------------
// The environment: one test, sequential steps, the environment restored at the end.
// ---------------------------------------------------------------------------------------

const PROXY_VARIABLES: [&str; 8] = [
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
];

/// Removes every proxy variable, and puts back what was there when dropped (also when
/// the test panics).
struct ProxyEnvironment {
    saved: Vec<(&'static str, Option<std::ffi::OsString>)>,
}

impl ProxyEnvironment {
    fn cleared() -> ProxyEnvironment {
        let saved = PROXY_VARIABLES
            .iter()
            .map(|&name| (name, std::env::var_os(name)))
            .collect();
        let env = ProxyEnvironment { saved };
        env.clear();
        env
    }

    fn clear(&self) {
        for name in PROXY_VARIABLES {
            std::env::remove_var(name);
        }
    }

    /// Exactly these variables, no other proxy variable.
    fn set(&self, vars: &[(&str, &str)]) {
        self.clear();
        for (name, value) in vars {
            std::env::set_var(name, value);
        }
    }
}

impl Drop for ProxyEnvironment {
    fn drop(&mut self) {
        for (name, value) in &self.saved {
            match value {
                Some(value) => std::env::set_var(name, value),
                None => std::env::remove_var(name),
            }
        }
    }
}

#[test]
fn environment_variables_choose_the_proxy_unless_disabled_or_excluded() {
    let env = ProxyEnvironment::cleared();
    let origin = hello_server();
    let http = ProxyServer::http();
    let socks = ProxyServer::socks5();
    let target = format!("127.0.0.1:{}", origin.port());
    let url = origin.url("/events");
    // (HTTP proxy connections, SOCKS proxy connections, origin connections) so far.
    let counts = || (http.accepted(), socks.accepted(), origin.connection_count());

    // HTTP_PROXY applies to an http:// URL.
    env.set(&[("HTTP_PROXY", &http.url())]);
    receive_hello(&fast_config(&url));
    assert_eq!(counts(), (1, 0, 1), "HTTP_PROXY should be used");
    assert_eq!(http.wait_for_requests(1, TIMEOUT)[0].target, target);

    // set_proxy_from_env(false): a direct connection, whatever the environment says.
    let mut config = fast_config(&url);
    config.set_proxy_from_env(false);
    receive_hello(&config);
    assert_eq!(
        counts(),
        (1, 0, 2),
        "set_proxy_from_env(false) should go direct"
    );

    // NO_PROXY lists the host: direct.
    env.set(&[("HTTP_PROXY", &http.url()), ("NO_PROXY", "127.0.0.1")]);
    receive_hello(&fast_config(&url));
    assert_eq!(counts(), (1, 0, 3), "NO_PROXY=127.0.0.1 should go direct");

    // NO_PROXY does not apply to an explicit proxy.
    let mut config = fast_config(&url);
    config.set_proxy(Some(&socks.url())).unwrap();
    receive_hello(&config);
    assert_eq!(counts(), (1, 1, 4), "an explicit proxy ignores NO_PROXY");

    // The lower-case variable wins over the upper-case one.
    env.set(&[("http_proxy", &socks.url()), ("HTTP_PROXY", &http.url())]);
    receive_hello(&fast_config(&url));
    assert_eq!(counts(), (1, 2, 5), "http_proxy should win over HTTP_PROXY");

    // HTTPS_PROXY is for https:// URLs only.
    env.set(&[("HTTPS_PROXY", &http.url())]);
    receive_hello(&fast_config(&url));
    assert_eq!(
        counts(),
        (1, 2, 6),
        "HTTPS_PROXY should not apply to http://"
    );

    // ALL_PROXY applies to any URL, a SOCKS5 proxy included.
    env.set(&[("ALL_PROXY", &socks.url())]);
    receive_hello(&fast_config(&url));
    assert_eq!(counts(), (1, 3, 7), "ALL_PROXY should be used");
    assert_eq!(socks.wait_for_requests(3, TIMEOUT)[2].target, target);

    // A value without a scheme is an HTTP proxy, as in curl.
    env.set(&[("http_proxy", &format!("127.0.0.1:{}", http.port()))]);
    receive_hello(&fast_config(&url));
    assert_eq!(
        counts(),
        (2, 3, 8),
        "a scheme-less http_proxy is an HTTP proxy"
    );

    // An unusable value is ignored (with a warning): direct, not the next variable.
    env.set(&[
        ("HTTP_PROXY", "ftp://127.0.0.1:21"),
        ("ALL_PROXY", &socks.url()),
    ]);
    receive_hello(&fast_config(&url));
    assert_eq!(
        counts(),
        (2, 3, 9),
        "an unusable HTTP_PROXY should go direct"
    );

    // Empty values count as unset.
    env.set(&[("HTTP_PROXY", ""), ("ALL_PROXY", &http.url())]);
    receive_hello(&fast_config(&url));
    assert_eq!(counts(), (3, 3, 10), "an empty HTTP_PROXY is unset");

    drop(env);
}
