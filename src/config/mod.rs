//! The client configuration: a validated builder, copied when a client opens.

/// A leaf (it imports nothing of the crate), so that `http` and `delivery` can name a
/// configuration error without depending on the configuration.
pub(crate) mod error;

pub use error::{ConfigError, Remedy, Setting};

use std::time::Duration;

use std::path::Path;
use std::sync::Arc;

use ureq::http::{HeaderName, HeaderValue, Method, Uri};

use crate::http::hooks::{Hooks, RequestHook, ResponseHook};
use crate::http::proxy::{self, ProxySetting};
use crate::http::redirect;
use crate::http::request_head::{self, is_token_byte, validate_header};
use crate::http::tls::{TlsSettings, TrustRoots};
use crate::http::url_rules::{check_authority, check_credentials, redact};

/// Browsers wait about 3 s before reconnecting; so do we unless told otherwise.
pub(crate) const DEFAULT_INITIAL_DELAY: Duration = Duration::from_millis(3_000);
pub(crate) const DEFAULT_MAX_DELAY: Duration = Duration::from_millis(30_000);
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(10_000);
pub(crate) const DEFAULT_MAX_EVENT_SIZE: usize = 16 * 1024 * 1024;
/// Nothing is allocated up front (batches are queued as they come), and the queue's
/// strings are bounded separately (`poll_queue::MAX_QUEUED_BYTES`), so the capacity can be
/// large enough that a busy stream hands over big batches: each handover costs a wakeup.
pub(crate) const DEFAULT_QUEUE_CAPACITY: usize = 4096;
pub(crate) const DEFAULT_MAX_REDIRECTS: u32 = 10;
/// More than this is refused as a host bug rather than a memory bound.
pub(crate) const MAX_QUEUE_CAPACITY: usize = 1 << 20;

/// Everything a client needs to connect and reconnect.
#[derive(Clone)]
pub struct Config {
    pub(crate) url: Uri,
    /// The URL as every message and log record shows it: without credentials.
    pub(crate) shown_url: String,
    /// Host headers, in the order set; a name set again replaces the earlier value.
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) method: Method,
    pub(crate) body: Vec<u8>,
    pub(crate) last_event_id: String,
    pub(crate) initial_delay: Duration,
    pub(crate) max_delay: Duration,
    pub(crate) max_retries: u32,
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) read_timeout: Option<Duration>,
    pub(crate) max_event_size: usize,
    pub(crate) queue_capacity: usize,
    pub(crate) max_redirects: u32,
    pub(crate) tls: TlsSettings,
    /// An explicit proxy; else the environment's, unless `proxy_from_env` is off.
    pub(crate) proxy: Option<ureq::Proxy>,
    pub(crate) proxy_from_env: bool,
    /// Whether a request with a method other than GET may be sent again on reconnect.
    pub(crate) retry_non_get: bool,
    pub(crate) hooks: Hooks,
}

/// Shows no credentials: the URL without its user information, and `***` for the values
/// of the headers that carry credentials.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &dyn std::fmt::Debug)> = self
            .headers
            .iter()
            .map(
                |(name, value)| match redirect::is_credential_header(name.as_str()) {
                    true => (name.as_str(), &"***" as &dyn std::fmt::Debug),
                    false => (name.as_str(), value as &dyn std::fmt::Debug),
                },
            )
            .collect();
        f.debug_struct("Config")
            .field("url", &self.shown_url)
            .field("headers", &headers)
            .field("method", &self.method)
            .field("body_len", &self.body.len())
            .field("last_event_id", &self.last_event_id)
            .field("initial_delay", &self.initial_delay)
            .field("max_delay", &self.max_delay)
            .field("max_retries", &self.max_retries)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("max_event_size", &self.max_event_size)
            .field("queue_capacity", &self.queue_capacity)
            .field("max_redirects", &self.max_redirects)
            .field("tls", &self.tls)
            .field("proxy", &self.proxy.as_ref().map(proxy::describe))
            .field("proxy_from_env", &self.proxy_from_env)
            .field("retry_non_get", &self.retry_non_get)
            .field("hooks", &self.hooks)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// A configuration for `url`, which must be an absolute http:// or https:// URL.
    pub fn new(url: &str) -> Result<Config, ConfigError> {
        let text = url;
        let url = parse_url(text)?;
        if let Some(overflow) = request_head::configured_overflow(&Method::GET, &url, &[]) {
            return Err(ConfigError::InvalidUrl(format!(
                "URL of {} bytes is too long to send: {overflow}",
                text.len()
            )));
        }
        Ok(Config {
            shown_url: redact(&url),
            url,
            headers: Vec::new(),
            method: Method::GET,
            body: Vec::new(),
            last_event_id: String::new(),
            initial_delay: DEFAULT_INITIAL_DELAY,
            max_delay: DEFAULT_MAX_DELAY,
            max_retries: 0,
            connect_timeout: Some(DEFAULT_CONNECT_TIMEOUT),
            read_timeout: None,
            max_event_size: DEFAULT_MAX_EVENT_SIZE,
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            max_redirects: DEFAULT_MAX_REDIRECTS,
            tls: TlsSettings::default(),
            proxy: None,
            proxy_from_env: true,
            retry_non_get: false,
            hooks: Hooks::default(),
        })
    }

    /// The URL as parsed, credentials included (messages show `shown_url` instead).
    pub fn url(&self) -> String {
        self.url.to_string()
    }

    /// Adds a request header, or replaces the value of one set before (names compare
    /// case-insensitively). Replaces the defaults `Accept` and `Cache-Control` too.
    /// `Last-Event-ID` is refused: the client manages it (see [`Config::set_last_event_id`]).
    ///
    /// Refused when the request head would no longer fit (see `request_head`): a value of
    /// several kilobytes is accepted while the URL and the other headers leave room.
    pub fn set_header(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let (name, value) = validate_header(name, value)?;
        let mut headers = self.headers.clone();
        match headers.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => headers.push((name.clone(), value)),
        }
        if let Some(overflow) = request_head::configured_overflow(&self.method, &self.url, &headers)
        {
            return Err(invalid(&format!("header {name}: {overflow}")));
        }
        self.headers = headers;
        Ok(())
    }

    /// The HTTP method, default GET. Any token (RFC 9110) is accepted, e.g. POST or REPORT.
    pub fn set_method(&mut self, method: &str) -> Result<(), ConfigError> {
        if method.is_empty() || !method.bytes().all(is_token_byte) {
            return Err(invalid(&format!(
                "method {method:?} is not a valid HTTP method token"
            )));
        }
        let parsed = Method::from_bytes(method.as_bytes())
            .map_err(|e| invalid(&format!("method {method:?}: {e}")))?;
        if let Some(overflow) = request_head::configured_overflow(&parsed, &self.url, &self.headers)
        {
            return Err(invalid(&format!(
                "method of {} bytes: {overflow}",
                method.len()
            )));
        }
        self.method = parsed;
        Ok(())
    }

    /// The request body, sent with every attempt.
    pub fn set_body(&mut self, body: &[u8]) {
        self.body = body.to_vec();
    }

    /// The last event ID to send on the first connect (as `Last-Event-ID`). Refused when it
    /// could not be sent as a header value: longer than 4,096 bytes, or with a control
    /// character other than tab (CR, LF, NUL, ESC, DEL...).
    pub fn set_last_event_id(&mut self, id: &str) -> Result<(), ConfigError> {
        if let Err(unsendable) = request_head::last_event_id_value(id) {
            return Err(invalid(&format!(
                "last event ID cannot be sent as Last-Event-ID: {unsendable}"
            )));
        }
        self.last_event_id = id.to_owned();
        Ok(())
    }

    /// The first reconnect wait (a server's `retry:` replaces it) and the cap of the
    /// exponential backoff.
    pub fn set_reconnect_delay(
        &mut self,
        initial: Duration,
        max: Duration,
    ) -> Result<(), ConfigError> {
        if max < initial {
            return Err(invalid(&format!(
                "max reconnect delay {} ms is below the initial delay {} ms",
                max.as_millis(),
                initial.as_millis()
            )));
        }
        self.initial_delay = initial;
        self.max_delay = max;
        Ok(())
    }

    /// Retries after a failure before giving up: N retries = N + 1 consecutive failed
    /// attempts, then the client closes; 0 = never give up (the default).
    pub fn set_max_retries(&mut self, retries: u32) {
        self.max_retries = retries;
    }

    /// Bounds TCP connect, TLS handshake and the wait for the response headers.
    /// `None`: no bound beyond the operating system's.
    pub fn set_connect_timeout(&mut self, timeout: Option<Duration>) {
        self.connect_timeout = timeout;
    }

    /// An open stream that delivers no byte for this long is dropped and reconnected.
    /// `None`: wait forever.
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) {
        self.read_timeout = timeout;
    }

    /// Bytes of one event as received, all its lines; 0 = no limit.
    pub fn set_max_event_size(&mut self, bytes: usize) {
        self.max_event_size = bytes;
    }

    /// Poll mode: how many messages may wait before the worker stops reading the socket.
    pub fn set_queue_capacity(&mut self, messages: usize) -> Result<(), ConfigError> {
        if messages == 0 || messages > MAX_QUEUE_CAPACITY {
            return Err(invalid(&format!(
                "queue capacity {messages} is out of range: 1 to {MAX_QUEUE_CAPACITY} messages"
            )));
        }
        self.queue_capacity = messages;
        Ok(())
    }

    /// How many redirects one attempt follows; 0 = none (a redirect is then an HTTP error).
    pub fn set_max_redirects(&mut self, redirects: u32) {
        self.max_redirects = redirects;
    }

    /// Which root certificates to trust (the bundled Mozilla roots by default).
    pub fn set_trust_roots(&mut self, roots: TrustRoots) {
        self.tls.set_roots(roots);
    }

    /// Also trusts the CA certificates of a PEM file (a private CA).
    pub fn add_ca_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        self.tls.add_ca_file(path)
    }

    /// Presents a client certificate chain and key (PEM files) for mutual TLS.
    pub fn set_client_cert_files(&mut self, cert: &Path, key: &Path) -> Result<(), ConfigError> {
        self.tls.set_client_cert_files(cert, key)
    }

    /// Sends every connection through this proxy (`http://host:port` for CONNECT,
    /// `socks5://host:port`); `None` goes back to the environment's (or none).
    pub fn set_proxy(&mut self, url: Option<&str>) -> Result<(), ConfigError> {
        self.proxy = url.map(proxy::parse_proxy).transpose()?;
        Ok(())
    }

    /// Whether HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY are honoured (default yes)
    /// when no explicit proxy is set.
    pub fn set_proxy_from_env(&mut self, enabled: bool) {
        self.proxy_from_env = enabled;
    }

    pub(crate) fn proxy_setting(&self) -> ProxySetting {
        match (&self.proxy, self.proxy_from_env) {
            (Some(proxy), _) => ProxySetting::Explicit(proxy.clone()),
            (None, true) => ProxySetting::FromEnvironment,
            (None, false) => ProxySetting::Direct,
        }
    }

    /// Allows a request whose method is not GET to be sent again on reconnect. Off by
    /// default, because replaying a POST may repeat what it did (and what it cost).
    pub fn set_retry_non_get(&mut self, enabled: bool) {
        self.retry_non_get = enabled;
    }

    /// Whether a lost connection may be re-established (GET, or replay allowed).
    pub(crate) fn replay_allowed(&self) -> bool {
        self.method == Method::GET || self.retry_non_get
    }

    /// Runs `hook` before every connection attempt (the first and each reconnect).
    pub fn set_request_hook(&mut self, hook: Option<Arc<dyn RequestHook>>) {
        self.hooks.request = hook;
    }

    /// Runs `hook` for every response, before it is judged.
    pub fn set_response_hook(&mut self, hook: Option<Arc<dyn ResponseHook>>) {
        self.hooks.response = hook;
    }
}

fn invalid(message: &str) -> ConfigError {
    ConfigError::InvalidArgument(message.to_owned())
}

/// Parses the URL to connect to: absolute http(s), with an authority the client can use
/// as written (see `url_rules`). Messages show it without credentials.
fn parse_url(url: &str) -> Result<Uri, ConfigError> {
    let shown = redact(&url);
    let refuse = |why: String| Err(ConfigError::InvalidUrl(why));
    let uri: Uri = match url.parse() {
        Ok(uri) => uri,
        Err(e) => return refuse(format!("cannot parse URL {shown:?}: {e}")),
    };
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        Some(other) => {
            return refuse(format!(
                "URL {shown:?} has scheme {other:?}; only http and https are supported"
            ))
        }
        None => {
            return refuse(format!(
                "URL {shown:?} is not absolute: it needs http:// or https://"
            ))
        }
    }
    let Some(authority) = uri.authority().filter(|a| !a.host().is_empty()) else {
        return refuse(format!("URL {shown:?} has no host"));
    };
    if let Err(why) = check_authority(authority).and_then(|()| check_credentials(authority)) {
        return refuse(format!("URL {shown:?} cannot be used: {why}"));
    }
    Ok(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_http_and_https_urls() {
        assert!(Config::new("http://127.0.0.1:8080/events").is_ok());
        assert!(Config::new("https://example.com/stream?x=1").is_ok());
    }

    #[test]
    fn refuses_other_schemes_relative_and_garbage_urls() {
        for url in [
            "ftp://x/",
            "ws://x/",
            "/events",
            "",
            "http://",
            "http://exa mple.com/",
        ] {
            assert!(
                matches!(Config::new(url), Err(ConfigError::InvalidUrl(_))),
                "{url:?} should be refused"
            );
        }
    }

    fn invalid_url_message(url: &str) -> String {
        match Config::new(url) {
            Err(ConfigError::InvalidUrl(message)) => message,
            other => panic!("{url:?} should be refused as InvalidUrl, got {other:?}"),
        }
    }

    #[test]
    fn refuses_authorities_the_client_cannot_use_as_written() {
        // (URL, what the message must name)
        for (url, named) in [
            ("http://127.0.0.1:99999/x", "port \"99999\""),
            ("http://127.0.0.1:65536/", "port \"65536\""),
            ("https://example.com:0/", "port \"0\""),
            ("http://example.com:http/", "port \"http\""),
            ("http://example.com:80x/", "port \"80x\""),
            ("http://example.com:+80/", "port \"+80\""),
            ("http://example.com:-1/", "port \"-1\""),
            ("http://[::1]:99999/", "port \"99999\""),
            ("http://[example]/", "not an IPv6 address"),
            ("http://[fe80::1%25eth0]:8080/", "not an IPv6 address"),
            ("http://[::1]8080/", "follows the IPv6 address"),
            ("http://@example.com/", "no user name or password"),
            ("http://user:p%40ss@example.com/", "percent-encoded"),
            ("http://user@:8080/", "no host"),
        ] {
            let message = invalid_url_message(url);
            assert!(message.contains(named), "{url}: {message}");
        }
    }

    #[test]
    fn accepts_every_authority_the_client_uses_as_written() {
        for url in [
            "http://127.0.0.1:1/",
            "http://127.0.0.1:65535/",
            "http://example.com:/events",
            "http://example.com:0080/",
            "http://[::1]/",
            "http://[2001:db8::1]:8443/",
            "http://user@example.com/",
            "http://user:pass@example.com:8080/",
            "http://:pass@example.com/",
            "HTTPS://Example.COM/",
        ] {
            assert!(Config::new(url).is_ok(), "{url}");
        }
    }

    #[test]
    fn messages_and_debug_output_never_show_the_credentials() {
        for url in [
            "http://user:secret@127.0.0.1:99999/x",
            "http://user:secret@exa mple.com/",
            "ftp://user:secret@example.com/",
            "http://user:secret@[x]/",
        ] {
            let message = invalid_url_message(url);
            assert!(!message.contains("secret"), "{message}");
            assert!(message.contains("***@"), "{message}");
        }
        let mut config = Config::new("http://user:secret@example.com/events").unwrap();
        config.set_header("Authorization", "Bearer hidden").unwrap();
        config.set_header("X-Trace", "shown").unwrap();
        assert_eq!(config.shown_url, "http://***@example.com/events");
        let debug = format!("{config:?}");
        assert!(
            !debug.contains("secret") && !debug.contains("hidden"),
            "{debug}"
        );
        assert!(
            debug.contains("***@example.com") && debug.contains("shown"),
            "{debug}"
        );
        // The URL itself keeps the credentials: ureq sends them as Basic authentication.
        assert_eq!(config.url(), "http://user:secret@example.com/events");
    }

    #[test]
    fn refuses_header_injection() {
        let mut config = Config::new("http://x/").unwrap();
        for (name, value) in [
            ("X-A", "1\r\nEvil: yes"),
            ("X-A", "1\nEvil"),
            ("X-A", "a\0b"),
            ("X A", "1"),
            ("X-A\r\n", "1"),
            ("", "1"),
            ("X:A", "1"),
        ] {
            assert!(
                matches!(
                    config.set_header(name, value),
                    Err(ConfigError::InvalidArgument(_))
                ),
                "{name:?}: {value:?} should be refused"
            );
        }
        assert!(config.headers.is_empty());
    }

    #[test]
    fn a_header_set_again_replaces_its_value() {
        let mut config = Config::new("http://x/").unwrap();
        config.set_header("Authorization", "Bearer a").unwrap();
        config.set_header("authorization", "Bearer b").unwrap();
        assert_eq!(config.headers.len(), 1);
        assert_eq!(config.headers[0].1, "Bearer b");
    }

    #[test]
    fn last_event_id_header_is_managed_by_the_client() {
        let mut config = Config::new("http://x/").unwrap();
        assert!(config.set_header("Last-Event-ID", "5").is_err());
        config.set_last_event_id("5").unwrap();
        assert!(config.set_last_event_id("5\n6").is_err());
    }

    #[test]
    fn a_last_event_id_that_cannot_be_sent_is_refused() {
        let mut config = Config::new("http://x/").unwrap();
        for id in ["a\u{1}z", "\u{1b}[0m", "del\u{7f}", "a\rb", "nul\0"] {
            let error = config.set_last_event_id(id).unwrap_err();
            assert!(
                error.to_string().contains("control character"),
                "{id:?}: {error}"
            );
        }
        let error = config.set_last_event_id(&"x".repeat(4097)).unwrap_err();
        assert!(error.to_string().contains("4096"), "{error}");
        config.set_last_event_id(&"x".repeat(4096)).unwrap();
        config.set_last_event_id("é\tü").unwrap();
        assert_eq!(config.last_event_id, "é\tü");
    }

    #[test]
    fn setters_refuse_what_would_overflow_the_request_head() {
        let error = Config::new(&format!("http://x/{}", "p".repeat(20_000))).unwrap_err();
        assert!(
            matches!(&error, ConfigError::InvalidUrl(m) if m.contains("16384")),
            "{error:?}"
        );
        let mut config = Config::new("http://x/").unwrap();
        config.set_header("X-A", &"a".repeat(6_000)).unwrap();
        let error = config.set_header("X-B", &"b".repeat(6_000)).unwrap_err();
        assert!(error.to_string().contains("16384"), "{error}");
        assert_eq!(config.headers.len(), 1, "the refused header was not kept");
        // Replacing a value counts the new one, not both.
        config.set_header("x-a", &"c".repeat(7_000)).unwrap();
        assert!(config.set_method(&"M".repeat(8_000)).is_err());
        assert_eq!(config.method, Method::GET);
    }

    #[test]
    fn methods_must_be_tokens() {
        let mut config = Config::new("http://x/").unwrap();
        config.set_method("POST").unwrap();
        config.set_method("REPORT").unwrap();
        assert_eq!(config.method.as_str(), "REPORT");
        for bad in ["", "GE T", "GET\r\n", "G(ET"] {
            assert!(config.set_method(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn max_delay_below_initial_is_refused() {
        let mut config = Config::new("http://x/").unwrap();
        let ms = Duration::from_millis;
        assert!(config.set_reconnect_delay(ms(500), ms(100)).is_err());
        config.set_reconnect_delay(ms(100), ms(500)).unwrap();
        assert_eq!(config.initial_delay, ms(100));
    }

    #[test]
    fn zero_or_absurd_queue_capacity_is_refused() {
        let mut config = Config::new("http://x/").unwrap();
        assert!(config.set_queue_capacity(0).is_err());
        assert!(config.set_queue_capacity(usize::MAX).is_err());
        assert!(config.set_queue_capacity(MAX_QUEUE_CAPACITY + 1).is_err());
        config.set_queue_capacity(MAX_QUEUE_CAPACITY).unwrap();
        config.set_queue_capacity(1).unwrap();
    }
}
