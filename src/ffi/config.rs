//! `sse_config`: the builder a client is opened from.

use std::ffi::c_char;
use std::mem::MaybeUninit;
use std::time::Duration;

use super::boundary::{check_out, fail, try_bytes, try_mut, try_str, write_out};
use super::c_values::{try_bool, try_enum, CEnum};
use super::remedy::in_c_words;
use super::sse_result;
use crate::config::{Config, ConfigError};

/// A client configuration. Opaque; create with `sse_config_new`, release with
/// `sse_config_free`. `sse_client_open` copies it, so it may be freed or reused after.
/// Not synchronised: do not modify one config from two threads at once.
pub struct sse_config {
    inner: Config,
}

impl sse_config {
    pub(crate) fn config(&self) -> &Config {
        &self.inner
    }

    pub(crate) fn config_mut(&mut self) -> &mut Config {
        &mut self.inner
    }
}

fn config_failure(error: ConfigError) -> sse_result {
    let code = match error {
        ConfigError::InvalidUrl(_) => sse_result::SSE_ERROR_INVALID_URL,
        ConfigError::InvalidArgument(_) | ConfigError::UseSetting { .. } => {
            sse_result::SSE_ERROR_INVALID_ARGUMENT
        }
    };
    let remedies: Vec<_> = error.remedy().into_iter().collect();
    fail(code, in_c_words(error.message(), &remedies))
}

/// Creates a configuration for `url`, an absolute http:// or https:// URL.
///
/// `url` is copied; the caller keeps ownership. On success `*out` receives a new config
/// that must be released with `sse_config_free`; on failure `*out` is not written.
/// Returns SSE_ERROR_NULL_ARGUMENT if `url` or `out` is NULL, SSE_ERROR_INVALID_ARGUMENT
/// if `url` is not UTF-8, SSE_ERROR_INVALID_URL if it does not parse, is not http(s), or is
/// too long to send (see "The request head" below).
///
/// The request head: every request head must fit in 16384 bytes, of which 4113 are kept
/// for a `Last-Event-ID` of up to 4096 bytes and 512 for what the HTTP layer adds. So the
/// URL, the method and the headers set here together may take about 11.7 KB; a setter that
/// would go beyond returns an error whose message (`sse_last_error_message`) gives the
/// sizes. Nothing truncated is ever sent.
///
/// Defaults: each setter below states the default of what it sets, once; a config no
/// setter changed streams with a GET and those defaults.
///
/// # Safety
/// `url` must be NULL or a NUL-terminated string; `out` NULL or valid for writing.
#[no_mangle]
pub unsafe extern "C" fn sse_config_new(
    url: *const c_char,
    out: *mut *mut sse_config,
) -> sse_result {
    ffi_result!({
        // SAFETY: as promised by the caller (see # Safety).
        let url = unsafe { try_str(url, "url") }?;
        check_out(out, "out")?;
        let config = Config::new(url).map_err(config_failure)?;
        let config = Box::into_raw(Box::new(sse_config { inner: config }));
        // SAFETY: `out` was checked non-NULL and is writable as promised.
        unsafe { write_out(out, config) };
        Ok(())
    })
}

/// Releases a configuration created by `sse_config_new`. NULL is a no-op.
///
/// # Safety
/// `config` must be NULL or a config from `sse_config_new` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn sse_config_free(config: *mut sse_config) {
    ffi_boundary!((), {
        if !config.is_null() {
            // SAFETY: created by Box::into_raw in sse_config_new, freed once.
            drop(unsafe { Box::from_raw(config) });
        }
    })
}

/// Runs `change` on the config behind a possibly-NULL pointer.
///
/// # Safety
/// `config` must be NULL or a live config not used by another thread during the call.
unsafe fn with_config(
    config: *mut sse_config,
    change: impl FnOnce(&mut Config) -> Result<(), ConfigError>,
) -> Result<(), sse_result> {
    // SAFETY: as promised by the caller.
    let config = unsafe { try_mut(config, "config") }?;
    change(&mut config.inner).map_err(config_failure)
}

/// Runs an infallible `change` on the config behind a possibly-NULL pointer.
///
/// # Safety
/// As for [`with_config`].
unsafe fn update_config(
    config: *mut sse_config,
    change: impl FnOnce(&mut Config),
) -> Result<(), sse_result> {
    // SAFETY: as promised by the caller.
    unsafe {
        with_config(config, |c| {
            change(c);
            Ok(())
        })
    }
}

/// Adds a request header sent with every attempt; setting a name again replaces its value
/// (names compare case-insensitively). Replaces the defaults `Accept: text/event-stream`
/// and `Cache-Control: no-cache` when given those names.
///
/// `name` and `value` are copied; the caller keeps ownership. Returns
/// SSE_ERROR_INVALID_ARGUMENT for a name that is not an HTTP token, a value with CR, LF or
/// another control character (no header injection), the name `Last-Event-ID`, which the
/// client manages (see `sse_config_set_last_event_id`), or a header that would make the
/// request head too long to send (see `sse_config_new`).
///
/// # Safety
/// `config` NULL or live; `name` and `value` NULL or NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn sse_config_set_header(
    config: *mut sse_config,
    name: *const c_char,
    value: *const c_char,
) -> sse_result {
    ffi_result!({
        // SAFETY: as promised by the caller.
        let (name, value) = unsafe { (try_str(name, "name")?, try_str(value, "value")?) };
        // SAFETY: as promised by the caller.
        unsafe { with_config(config, |c| c.set_header(name, value)) }
    })
}

/// Sets the HTTP method (default "GET"); any method token is accepted (POST, REPORT...).
///
/// `method` is copied; the caller keeps ownership. SSE_ERROR_INVALID_ARGUMENT when it is
/// empty, contains characters not allowed in a method (spaces, CR, LF...), or would make
/// the request head too long to send (see `sse_config_new`).
///
/// # Safety
/// `config` NULL or live; `method` NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn sse_config_set_method(
    config: *mut sse_config,
    method: *const c_char,
) -> sse_result {
    ffi_result!({
        // SAFETY: as promised by the caller.
        let method = unsafe { try_str(method, "method") }?;
        // SAFETY: as promised by the caller.
        unsafe { with_config(config, |c| c.set_method(method)) }
    })
}

/// Sets the request body sent with every attempt (e.g. JSON for a POST streaming API).
///
/// The `len` bytes at `body` are copied; the caller keeps ownership. `body` may be NULL
/// only when `len` is 0 (no body).
///
/// # Safety
/// `config` NULL or live; `body` NULL or `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn sse_config_set_body(
    config: *mut sse_config,
    body: *const u8,
    len: usize,
) -> sse_result {
    ffi_result!({
        // SAFETY: as promised by the caller.
        let body = unsafe { try_bytes(body, len, "body") }?;
        // SAFETY: as promised by the caller.
        unsafe { update_config(config, |c| c.set_body(body)) }
    })
}

/// Sets the last event ID, sent as `Last-Event-ID` on the first connect; it stays the last
/// event ID until the server sends an `id:` field.
///
/// `id` is copied; the caller keeps ownership. SSE_ERROR_INVALID_ARGUMENT if it cannot be
/// sent as a header value: longer than 4096 bytes, or with a control character other than
/// tab (CR, LF, ESC, DEL...). UTF-8 is sent as its bytes.
///
/// An ID the server sends that cannot be sent back (longer than 4096 bytes, or with a
/// control character) is still the last event ID: events carry it and
/// `sse_client_last_event_id` returns it. Reconnects then go without `Last-Event-ID`
/// (the server starts the stream afresh) until the server sends another ID, and the
/// library logs a warning once per such ID.
///
/// # Safety
/// `config` NULL or live; `id` NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn sse_config_set_last_event_id(
    config: *mut sse_config,
    id: *const c_char,
) -> sse_result {
    ffi_result!({
        // SAFETY: as promised by the caller.
        let id = unsafe { try_str(id, "id") }?;
        // SAFETY: as promised by the caller.
        unsafe { with_config(config, |c| c.set_last_event_id(id)) }
    })
}

/// Sets the reconnect delay: the first wait after a lost connection is `initial_ms` (the
/// server's `retry:` field replaces it), doubled after each consecutive failed attempt up
/// to `max_ms`; jitter lengthens a wait by at most half, never beyond `max_ms`. A server's
/// `retry:` larger than `max_ms` is honoured as it is (the server knows best when to come
/// back). No wait is shorter than 10 ms, so a `retry: 0` server cannot make the client
/// spin, and none is longer than 24 hours (86400000 ms): a larger delay set here, a
/// server's `retry:` or `Retry-After` is capped there.
/// Default 3000 ms and 30000 ms. SSE_ERROR_INVALID_ARGUMENT when `max_ms < initial_ms`.
///
/// # Safety
/// `config` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn sse_config_set_reconnect_delay(
    config: *mut sse_config,
    initial_ms: u32,
    max_ms: u32,
) -> sse_result {
    ffi_result!({
        let (initial, max) = (millis(initial_ms), millis(max_ms));
        // SAFETY: as promised by the caller.
        unsafe { with_config(config, |c| c.set_reconnect_delay(initial, max)) }
    })
}

/// How many times the client retries after a failure before it gives up: `retries` N
/// means N + 1 consecutive failed attempts (the first one and N retries) end the client;
/// default 0 = never give up. Failed attempts are connect errors, retryable HTTP statuses
/// and streams that ended before delivering an event; a stream that delivers an event
/// starts the count again. Giving up reports an error with will_retry = false, then the
/// state CLOSED.
///
/// # Safety
/// `config` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn sse_config_set_max_retries(
    config: *mut sse_config,
    retries: u32,
) -> sse_result {
    ffi_result!({
        // SAFETY: as promised by the caller.
        unsafe { update_config(config, |c| c.set_max_retries(retries)) }
    })
}

/// Bounds each attempt's TCP connect, TLS handshake and wait for the response headers
/// (a shorter read timeout bounds each read of that wait too); 0 = only the operating
/// system's bounds. Default 10000 ms.
///
/// # Safety
/// `config` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn sse_config_set_connect_timeout(
    config: *mut sse_config,
    ms: u32,
) -> sse_result {
    ffi_result!({
        // SAFETY: as promised by the caller.
        unsafe { update_config(config, |c| c.set_connect_timeout(optional_millis(ms))) }
    })
}

/// An open stream that delivers no byte (comments count) for `ms` milliseconds is dropped:
/// an SSE_ERROR_KIND_READ_TIMEOUT error, then a reconnect. 0 = wait forever (default).
/// It bounds every wait for bytes on the connection, the wait for the response head
/// included: for a server that holds its head back (some LLM APIs send it with the first
/// token), choose a read timeout longer than that delay.
///
/// # Safety
/// `config` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn sse_config_set_read_timeout(
    config: *mut sse_config,
    ms: u32,
) -> sse_result {
    ffi_result!({
        // SAFETY: as promised by the caller.
        unsafe { update_config(config, |c| c.set_read_timeout(optional_millis(ms))) }
    })
}

/// Limits one event to `bytes` as received, all its lines (and any single line); default
/// 16 MiB, 0 = no limit. A larger event is not delivered: the client reports
/// SSE_ERROR_KIND_EVENT_TOO_LARGE with will_retry = true, drops the connection and
/// reconnects, so memory stays bounded.
///
/// # Safety
/// `config` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn sse_config_set_max_event_size(
    config: *mut sse_config,
    bytes: usize,
) -> sse_result {
    ffi_result!({
        // SAFETY: as promised by the caller.
        unsafe { update_config(config, |c| c.set_max_event_size(bytes)) }
    })
}

/// Poll mode: how many messages may wait in the queue (default 4096; 1 to 1048576, else
/// SSE_ERROR_INVALID_ARGUMENT). Independently of it, the queue holds at most 1 MiB of event
/// data, ids and comments plus one message (so an event of any size passes). When it is
/// full the worker stops reading the socket until the host polls; nothing is dropped.
///
/// # Safety
/// `config` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn sse_config_set_queue_capacity(
    config: *mut sse_config,
    messages: usize,
) -> sse_result {
    ffi_result!({
        // SAFETY: as promised by the caller.
        unsafe { with_config(config, |c| c.set_queue_capacity(messages)) }
    })
}

/// How many redirects (301, 302, 303, 307, 308) one attempt follows; default 10, 0 = none.
/// Past the limit the attempt ends with SSE_ERROR_KIND_HTTP_STATUS and the client closes.
/// Each reconnect starts again from the configured URL.
///
/// # Safety
/// `config` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn sse_config_set_max_redirects(
    config: *mut sse_config,
    redirects: u32,
) -> sse_result {
    ffi_result!({
        // SAFETY: as promised by the caller.
        unsafe { update_config(config, |c| c.set_max_redirects(redirects)) }
    })
}

fn millis(ms: u32) -> Duration {
    Duration::from_millis(u64::from(ms))
}

fn optional_millis(ms: u32) -> Option<Duration> {
    (ms > 0).then(|| millis(ms))
}

/// Where the trusted root certificates come from.
///
/// Values are fixed and never reused; later versions append values. A value this library
/// does not know (e.g. from a newer header) is refused with SSE_ERROR_INVALID_ARGUMENT.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum sse_trust_roots {
    /// The Mozilla root program, bundled in the library (the default): the same trust on
    /// every machine.
    SSE_TRUST_BUNDLED = 0,
    /// The operating system's trust store, read when a client opens: the Windows
    /// certificate store, the macOS keychain, elsewhere the distribution's CA bundle.
    /// SSL_CERT_FILE / SSL_CERT_DIR, when set, are read instead. An empty store logs a
    /// warning and the bundled roots are used.
    SSE_TRUST_SYSTEM = 1,
}

impl CEnum for sse_trust_roots {
    const C_NAME: &'static str = "sse_trust_roots";
    const ALL: &'static [Self] = &[
        sse_trust_roots::SSE_TRUST_BUNDLED,
        sse_trust_roots::SSE_TRUST_SYSTEM,
    ];
}

/// Chooses the root certificates https:// connections trust. Certificates added with
/// `sse_config_set_ca_file` are trusted in addition. There is no switch that turns
/// verification off. SSE_ERROR_INVALID_ARGUMENT for a `roots` that is not a value of
/// sse_trust_roots this library knows; the config is then unchanged.
///
/// # Safety
/// `config` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn sse_config_set_trust_roots(
    config: *mut sse_config,
    roots: MaybeUninit<sse_trust_roots>,
) -> sse_result {
    ffi_result!({
        // SAFETY: an argument received from C: initialized.
        let roots = unsafe { try_enum(roots, "sse_config_set_trust_roots", "roots") }?;
        let roots = match roots {
            sse_trust_roots::SSE_TRUST_BUNDLED => crate::http::tls::TrustRoots::Bundled,
            sse_trust_roots::SSE_TRUST_SYSTEM => crate::http::tls::TrustRoots::System,
        };
        // SAFETY: as promised by the caller.
        unsafe { update_config(config, |c| c.set_trust_roots(roots)) }
    })
}

/// Also trusts the CA certificates in the PEM file at `path` (for private deployments);
/// may be called more than once. The file is read now: SSE_ERROR_INVALID_ARGUMENT when it
/// cannot be read or holds no certificate. `path` is copied; the caller keeps ownership.
///
/// # Safety
/// `config` NULL or live; `path` NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn sse_config_set_ca_file(
    config: *mut sse_config,
    path: *const c_char,
) -> sse_result {
    ffi_result!({
        // SAFETY: as promised by the caller.
        let path = unsafe { try_str(path, "path") }?;
        // SAFETY: as promised by the caller.
        unsafe { with_config(config, |c| c.add_ca_file(std::path::Path::new(path))) }
    })
}

/// Presents a client certificate for mutual TLS: `cert_path` is a PEM file with the
/// certificate chain (leaf first), `key_path` a PEM file with its private key (PKCS#8,
/// PKCS#1 or SEC1). Both are read now: SSE_ERROR_INVALID_ARGUMENT when either cannot be
/// read or parsed. The paths are copied; the caller keeps ownership.
///
/// # Safety
/// `config` NULL or live; `cert_path`, `key_path` NULL or NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn sse_config_set_client_cert(
    config: *mut sse_config,
    cert_path: *const c_char,
    key_path: *const c_char,
) -> sse_result {
    ffi_result!({
        // SAFETY: as promised by the caller.
        let (cert, key) = unsafe {
            (
                try_str(cert_path, "cert_path")?,
                try_str(key_path, "key_path")?,
            )
        };
        // SAFETY: as promised by the caller.
        unsafe {
            with_config(config, |c| {
                c.set_client_cert_files(std::path::Path::new(cert), std::path::Path::new(key))
            })
        }
    })
}

/// Sends every connection through this proxy: `http://[user:pass@]host:port` (HTTP
/// CONNECT) or `socks5://[user:pass@]host:port`. NULL or "" removes an explicit proxy
/// (the environment's applies again, see `sse_config_set_proxy_from_env`).
/// SSE_ERROR_INVALID_URL for a URL that does not parse or has another scheme. `url` is
/// copied; the caller keeps ownership.
///
/// # Safety
/// `config` NULL or live; `url` NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn sse_config_set_proxy(
    config: *mut sse_config,
    url: *const c_char,
) -> sse_result {
    ffi_result!({
        let url = match url.is_null() {
            true => None,
            // SAFETY: non-NULL and NUL-terminated, as promised by the caller.
            false => Some(unsafe { try_str(url, "url") }?).filter(|u| !u.is_empty()),
        };
        // SAFETY: as promised by the caller.
        unsafe { with_config(config, |c| c.set_proxy(url)) }
    })
}

/// Whether, without an explicit proxy, the conventional environment variables apply
/// (default true): HTTPS_PROXY for https:// URLs, HTTP_PROXY for http:// URLs, ALL_PROXY
/// for either, each also in lower case, and NO_PROXY's exceptions. false: connect
/// directly unless `sse_config_set_proxy` names a proxy. SSE_ERROR_INVALID_ARGUMENT when
/// `enabled` holds a byte other than 0 or 1 (a caller whose declaration does not match
/// this header); the config is then unchanged.
///
/// # Safety
/// `config` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn sse_config_set_proxy_from_env(
    config: *mut sse_config,
    enabled: MaybeUninit<bool>,
) -> sse_result {
    ffi_result!({
        // SAFETY: an argument received from C: initialized.
        let enabled = unsafe { try_bool(enabled, "sse_config_set_proxy_from_env", "enabled") }?;
        // SAFETY: as promised by the caller.
        unsafe { update_config(config, |c| c.set_proxy_from_env(enabled)) }
    })
}

/// Whether a request whose method is not GET may be sent again when the connection is
/// lost or an attempt fails (default false). Replaying a POST can repeat what it did —
/// for an LLM API, run and bill the job again — so by default such a client reports the
/// error with will_retry = false and closes instead. GET requests always reconnect.
/// SSE_ERROR_INVALID_ARGUMENT when `enabled` holds a byte other than 0 or 1 (a caller
/// whose declaration does not match this header); the config is then unchanged.
///
/// # Safety
/// `config` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn sse_config_set_retry_non_get(
    config: *mut sse_config,
    enabled: MaybeUninit<bool>,
) -> sse_result {
    ffi_result!({
        // SAFETY: an argument received from C: initialized.
        let enabled = unsafe { try_bool(enabled, "sse_config_set_retry_non_get", "enabled") }?;
        // SAFETY: as promised by the caller.
        unsafe { update_config(config, |c| c.set_retry_non_get(enabled)) }
    })
}

#[cfg(test)]
mod tests {
    use crate::config::{
        Config, DEFAULT_CONNECT_TIMEOUT, DEFAULT_INITIAL_DELAY, DEFAULT_MAX_DELAY,
        DEFAULT_MAX_EVENT_SIZE, DEFAULT_MAX_REDIRECTS, DEFAULT_QUEUE_CAPACITY,
    };
    use std::time::Duration;

    #[test]
    fn the_c_header_states_each_default_as_the_code_has_it() {
        // Each default is stated once, in its setter's comment in the C header (the README
        // and the Qt wrapper refer to it): this keeps that one statement true.
        let header = include_str!("../../include/sse_client.h");
        let comment_of = |function: &str| -> String {
            let declaration = header
                .find(&format!(" {function}("))
                .unwrap_or_else(|| panic!("{function} is not declared in the header"));
            let lines: Vec<&str> = header[..declaration].lines().collect();
            let comment: Vec<&str> = lines
                .iter()
                .rev()
                .skip(1)
                .map_while(|line| line.strip_prefix("//"))
                .map(str::trim)
                .collect();
            comment.into_iter().rev().collect::<Vec<_>>().join(" ")
        };
        let ms = |d: Duration| d.as_millis();
        let expectations = [
            (
                "sse_config_set_reconnect_delay",
                format!(
                    "Default {} ms and {} ms",
                    ms(DEFAULT_INITIAL_DELAY),
                    ms(DEFAULT_MAX_DELAY)
                ),
            ),
            (
                "sse_config_set_max_retries",
                "default 0 = never give up".to_owned(),
            ),
            (
                "sse_config_set_connect_timeout",
                format!("Default {} ms", ms(DEFAULT_CONNECT_TIMEOUT)),
            ),
            (
                "sse_config_set_max_event_size",
                format!("default {} MiB", DEFAULT_MAX_EVENT_SIZE >> 20),
            ),
            (
                "sse_config_set_queue_capacity",
                format!("default {DEFAULT_QUEUE_CAPACITY};"),
            ),
            (
                "sse_config_set_max_redirects",
                format!("default {DEFAULT_MAX_REDIRECTS},"),
            ),
        ];
        for (function, stated) in expectations {
            let comment = comment_of(function);
            assert!(
                comment.contains(&stated),
                "{function}'s comment must say {stated:?}: {comment}"
            );
        }
        let fresh = Config::new("http://example.test/").unwrap();
        assert_eq!(fresh.max_retries, 0);
        assert_eq!(fresh.read_timeout, None, "\"0 = wait forever (default)\"");
    }
}
