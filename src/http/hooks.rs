//! Per-connection hooks: the host's chance to adjust each request (a fresh token) and to
//! read each response (rate-limit or session headers). They run on the worker thread,
//! behind the same close gate as the callbacks: never after close() returns.

use std::sync::Arc;

use ureq::http::{HeaderMap, HeaderName, HeaderValue, Uri};

use crate::config::error::ConfigError;
use crate::http::request_head::validate_header;

/// What a request hook sees, and may change, before one connection attempt.
///
/// Header changes apply to this attempt only: every attempt starts again from the
/// configured headers, so a hook that sets `Authorization` each time always sends a
/// fresh value.
pub struct RequestInfo<'a> {
    pub(crate) attempt: u32,
    pub(crate) last_event_id: &'a str,
    pub(crate) url: &'a Uri,
    pub(crate) headers: &'a mut Vec<(HeaderName, HeaderValue)>,
}

impl RequestInfo<'_> {
    /// 1 for the first connection attempt of the client, 2 for the next, and so on.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The `Last-Event-ID` this attempt sends ("" for none).
    pub fn last_event_id(&self) -> &str {
        self.last_event_id
    }

    /// The configured URL (every attempt starts there, before any redirect).
    pub fn url(&self) -> String {
        self.url.to_string()
    }

    /// Sets a header for this attempt, replacing a configured one of the same name. Refused
    /// like [`crate::Config::set_header`]: no CR, LF or NUL, no `Last-Event-ID`.
    pub fn set_header(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let (name, value) = validate_header(name, value)?;
        match self.headers.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.headers.push((name, value)),
        }
        Ok(())
    }

    /// Removes a header from this attempt; true if it was there.
    pub fn remove_header(&mut self, name: &str) -> bool {
        let before = self.headers.len();
        self.headers
            .retain(|(n, _)| !n.as_str().eq_ignore_ascii_case(name));
        self.headers.len() != before
    }

    /// The value this attempt sends for `name`, if any (host headers only).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.as_str().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_bytes())
    }
}

/// What a response hook sees: every response, whatever its status, before it is judged
/// (so a 429's rate-limit headers can be read too), including each redirect.
pub struct ResponseInfo<'a> {
    pub(crate) status: u16,
    pub(crate) url: &'a Uri,
    pub(crate) headers: &'a HeaderMap,
}

impl ResponseInfo<'_> {
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The URL this response came from (after redirects so far).
    pub fn url(&self) -> String {
        self.url.to_string()
    }

    /// The first value of the header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers.get(name).map(|v| v.as_bytes())
    }

    /// Every header, in the order received (names in lower case).
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes()))
    }
}

/// Runs before every connection attempt, on the worker thread.
pub trait RequestHook: Send + Sync {
    fn before_request(&self, request: &mut RequestInfo<'_>);
}

/// Runs for every response, on the worker thread.
pub trait ResponseHook: Send + Sync {
    fn on_response(&self, response: &ResponseInfo<'_>);
}

/// The hooks of a configuration, shared by every client opened from it.
#[derive(Clone, Default)]
pub(crate) struct Hooks {
    pub request: Option<Arc<dyn RequestHook>>,
    pub response: Option<Arc<dyn ResponseHook>>,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("request", &self.request.is_some())
            .field("response", &self.response.is_some())
            .finish()
    }
}
