//! What fits in a request head: decided before anything is sent. Pure.
//!
//! The client writes each request head into a buffer of [`MAX_REQUEST_HEAD`] bytes (the HTTP
//! layer's output buffer). A head that does not fit is not sent whole: it used to go out
//! truncated and fail with "output too small", on every attempt, so a server that sent one
//! long `id:` bricked the client for good. The rules:
//!
//! - What the host configures (URL, method, headers) must fit together with a
//!   `Last-Event-ID` of [`MAX_LAST_EVENT_ID_SENT`] bytes and the headers the HTTP layer adds;
//!   the setters refuse what would not, with the limit in the message.
//! - A last event ID is sent only if it can travel as a header value: at most
//!   [`MAX_LAST_EVENT_ID_SENT`] bytes, and no control character other than tab (UTF-8 is
//!   sent as its bytes, as the WHATWG spec says). The host's own is refused by the setter;
//!   a server's stays the last event ID (events carry it, `sse_client_last_event_id` shows
//!   it) but reconnects go without the header, and the worker logs that once per ID.
//! - A redirect target or a request hook's headers that would overflow the head fail the
//!   attempt with an error that says so; nothing truncated is ever sent.

use ureq::http::{HeaderName, HeaderValue, Method, Uri};

use crate::config::error::{ConfigError, Setting};

/// The request head's buffer: the whole head must fit in it.
pub(crate) const MAX_REQUEST_HEAD: usize = 16 * 1024;

/// The longest last event ID sent as `Last-Event-ID`: the room kept for it in every head.
pub(crate) const MAX_LAST_EVENT_ID_SENT: usize = 4 * 1024;

/// What the HTTP layer adds besides the host's headers (Host comes from the URL and is
/// counted with it): User-Agent, Content-Length or Transfer-Encoding, the final CRLF.
const HTTP_LAYER_ALLOWANCE: usize = 512;

/// The headers every request carries unless the host replaced them (see `connection`).
const DEFAULT_HEADERS: [(&str, &str); 2] = [
    ("accept", "text/event-stream"),
    ("cache-control", "no-cache"),
];

const LAST_EVENT_ID: &str = "last-event-id";

/// Bytes of a `name: value\r\n` line.
fn header_line(name: &str, value: &[u8]) -> usize {
    name.len() + 2 + value.len() + 2
}

/// An upper bound of the head's size without `Last-Event-ID`: the request line (the whole
/// URL, as an absolute target would be), Host, the default headers, `headers`, and what the
/// HTTP layer adds.
pub(crate) fn head_size(
    method: &Method,
    url: &Uri,
    headers: &[(HeaderName, HeaderValue)],
) -> usize {
    let request_line = method.as_str().len() + 1 + url.to_string().len() + " HTTP/1.1\r\n".len();
    let host = url
        .authority()
        .map_or(0, |a| header_line("host", a.as_str().as_bytes()));
    let defaults: usize = DEFAULT_HEADERS
        .iter()
        .map(|(name, value)| header_line(name, value.as_bytes()))
        .sum();
    let configured: usize = headers
        .iter()
        .map(|(name, value)| header_line(name.as_str(), value.as_bytes()))
        .sum();
    request_line + host + defaults + configured + HTTP_LAYER_ALLOWANCE
}

/// Bytes of the `Last-Event-ID` line for an ID of `len` bytes.
pub(crate) fn last_event_id_line(len: usize) -> usize {
    header_line(LAST_EVENT_ID, &[]) + len
}

/// Why a configuration would not fit: `None` when it does, with a Last-Event-ID of the
/// longest length sent.
pub(crate) fn configured_overflow(
    method: &Method,
    url: &Uri,
    headers: &[(HeaderName, HeaderValue)],
) -> Option<String> {
    let size = head_size(method, url, headers);
    let room = MAX_REQUEST_HEAD - last_event_id_line(MAX_LAST_EVENT_ID_SENT);
    (size > room).then(|| {
        format!(
            "the request head would take up to {size} bytes (counting {HTTP_LAYER_ALLOWANCE} \
             for what the HTTP layer adds); at most {room} fit: heads are at most \
             {MAX_REQUEST_HEAD} bytes, {} of which are kept for a Last-Event-ID of up to \
             {MAX_LAST_EVENT_ID_SENT} bytes",
            last_event_id_line(MAX_LAST_EVENT_ID_SENT)
        )
    })
}

/// Why a last event ID cannot be sent as `Last-Event-ID`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UnsendableId {
    TooLong {
        len: usize,
    },
    /// A control character other than tab (at this byte offset).
    ControlCharacter {
        byte: u8,
        at: usize,
    },
}

impl std::fmt::Display for UnsendableId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UnsendableId::TooLong { len } => write!(
                f,
                "it is {len} bytes long, and at most {MAX_LAST_EVENT_ID_SENT} are sent"
            ),
            UnsendableId::ControlCharacter { byte, at } => write!(
                f,
                "it contains the control character {:?} at byte {at}, which a header value \
                 cannot carry",
                char::from(*byte)
            ),
        }
    }
}

/// The `Last-Event-ID` value for `id`: `None` for the empty ID (no header).
pub(crate) fn last_event_id_value(id: &str) -> Result<Option<HeaderValue>, UnsendableId> {
    if id.is_empty() {
        return Ok(None);
    }
    if id.len() > MAX_LAST_EVENT_ID_SENT {
        return Err(UnsendableId::TooLong { len: id.len() });
    }
    HeaderValue::from_bytes(id.as_bytes())
        .map(Some)
        .map_err(|_| {
            let (at, &byte) = id
                .as_bytes()
                .iter()
                .enumerate()
                .find(|(_, &b)| (b < 0x20 && b != b'\t') || b == 0x7f)
                .unwrap_or((0, &0));
            UnsendableId::ControlCharacter { byte, at }
        })
}

/// Checks a header as the host gives it: a token name, a value without CR, LF, NUL or
/// other control characters (no header injection), and not `Last-Event-ID`, which the
/// client manages.
pub(crate) fn validate_header(
    name: &str,
    value: &str,
) -> Result<(HeaderName, HeaderValue), ConfigError> {
    if name.is_empty() {
        return Err(refuse("header name is empty"));
    }
    if let Some(bad) = name.bytes().find(|b| !is_token_byte(*b)) {
        return Err(refuse(&format!(
            "header name {name:?} contains {:?}, which is not allowed in a header name",
            bad as char
        )));
    }
    if value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
        return Err(refuse(&format!(
            "header {name:?}: the value contains CR, LF or NUL (header injection refused)"
        )));
    }
    let name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|e| refuse(&format!("header name {name:?}: {e}")))?;
    if name.as_str() == "last-event-id" {
        return Err(ConfigError::UseSetting {
            message: "Last-Event-ID is managed by the client: set it as the last event ID"
                .to_owned(),
            setting: Setting::LastEventId,
        });
    }
    let value = HeaderValue::from_str(value).map_err(|_| {
        refuse(&format!(
            "header {name}: the value contains a control character"
        ))
    })?;
    Ok((name, value))
}

/// RFC 9110 `tchar`: what a header name or a method may contain.
pub(crate) fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn refuse(message: &str) -> ConfigError {
    ConfigError::InvalidArgument(message.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Uri {
        text.parse().unwrap()
    }

    fn header(name: &str, value: &str) -> (HeaderName, HeaderValue) {
        (
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        )
    }

    #[test]
    fn a_head_near_the_limit_fits_and_one_byte_more_does_not() {
        let base = url("http://example.com/events");
        let empty = head_size(&Method::GET, &base, &[]);
        let room = MAX_REQUEST_HEAD - last_event_id_line(MAX_LAST_EVENT_ID_SENT);
        // A header whose line takes exactly the room left.
        let value_len = room - empty - header_line("x-big", b"");
        let fits = [header("x-big", &"v".repeat(value_len))];
        assert_eq!(head_size(&Method::GET, &base, &fits), room);
        assert_eq!(configured_overflow(&Method::GET, &base, &fits), None);
        let too_big = [header("x-big", &"v".repeat(value_len + 1))];
        let message = configured_overflow(&Method::GET, &base, &too_big).unwrap();
        assert!(message.contains(&room.to_string()), "{message}");
        assert!(message.contains("16384"), "{message}");
    }

    #[test]
    fn the_url_and_method_count_as_the_headers_do() {
        let long_url = url(&format!("http://example.com/{}", "p".repeat(12_000)));
        assert!(configured_overflow(&Method::GET, &long_url, &[]).is_some());
        let method = Method::from_bytes("M".repeat(12_000).as_bytes()).unwrap();
        assert!(configured_overflow(&method, &url("http://x/"), &[]).is_some());
        assert!(configured_overflow(&Method::GET, &url("http://x/"), &[]).is_none());
    }

    #[test]
    fn the_worst_configuration_accepted_plus_the_longest_id_fits_the_buffer() {
        let base = url("http://example.com/");
        let room = MAX_REQUEST_HEAD - last_event_id_line(MAX_LAST_EVENT_ID_SENT);
        let value_len = room - head_size(&Method::GET, &base, &[]) - header_line("x", b"");
        let headers = [header("x", &"v".repeat(value_len))];
        assert_eq!(configured_overflow(&Method::GET, &base, &headers), None);
        let total =
            head_size(&Method::GET, &base, &headers) + last_event_id_line(MAX_LAST_EVENT_ID_SENT);
        assert!(total <= MAX_REQUEST_HEAD, "{total}");
    }

    #[test]
    fn ids_are_sent_up_to_the_limit_as_utf8_and_never_with_control_characters() {
        assert_eq!(last_event_id_value(""), Ok(None));
        assert_eq!(
            last_event_id_value("42").unwrap().unwrap().as_bytes(),
            b"42"
        );
        assert_eq!(
            last_event_id_value("é-ü").unwrap().unwrap().as_bytes(),
            "é-ü".as_bytes(),
            "UTF-8 travels as its bytes"
        );
        assert!(
            last_event_id_value("a\tb").unwrap().is_some(),
            "tab is allowed"
        );
        let longest = "x".repeat(MAX_LAST_EVENT_ID_SENT);
        assert!(last_event_id_value(&longest).unwrap().is_some());
        assert_eq!(
            last_event_id_value(&format!("{longest}x")),
            Err(UnsendableId::TooLong {
                len: MAX_LAST_EVENT_ID_SENT + 1
            })
        );
        for (id, byte, at) in [
            ("a\u{1}z", 1, 1),
            ("\u{1b}[31m", 0x1b, 0),
            ("ab\u{7f}", 0x7f, 2),
        ] {
            assert_eq!(
                last_event_id_value(id),
                Err(UnsendableId::ControlCharacter { byte, at }),
                "{id:?}"
            );
        }
        let message = UnsendableId::TooLong { len: 5000 }.to_string();
        assert!(
            message.contains("5000") && message.contains("4096"),
            "{message}"
        );
    }

    #[test]
    fn the_last_event_id_header_is_refused_with_the_setting_that_sets_it() {
        for name in ["Last-Event-ID", "last-event-id"] {
            let error = validate_header(name, "5").unwrap_err();
            assert_eq!(
                error.message(),
                "Last-Event-ID is managed by the client: set it as the last event ID"
            );
            assert_eq!(
                error.remedy().map(|r| r.setting),
                Some(Setting::LastEventId)
            );
        }
        assert_eq!(validate_header("X-A", "1\n").unwrap_err().remedy(), None);
    }
}
