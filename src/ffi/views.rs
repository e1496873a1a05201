//! The `#[repr(C)]` view structs and enums of the contract, and their conversions from the
//! library's Rust types. Views borrow; whoever builds one keeps its source alive.

use std::ffi::{c_char, CString};

use crate::delivery::report::{ClientError, ErrorKind, ReadyState};
use crate::sse::parser::Event;
use crate::sse::text::Text;

use super::c_values::CEnum;
use super::remedy::{in_c_words, plain_text, sse_remedy};

/// The values of the browser `EventSource.readyState`.
///
/// Values are fixed and never reused; later versions append values, so a host handles
/// values it does not know (a `default:` branch).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum sse_ready_state {
    SSE_STATE_CONNECTING = 0,
    SSE_STATE_OPEN = 1,
    SSE_STATE_CLOSED = 2,
}

impl CEnum for sse_ready_state {
    const C_NAME: &'static str = "sse_ready_state";
    const ALL: &'static [Self] = &[
        sse_ready_state::SSE_STATE_CONNECTING,
        sse_ready_state::SSE_STATE_OPEN,
        sse_ready_state::SSE_STATE_CLOSED,
    ];
}

impl From<ReadyState> for sse_ready_state {
    fn from(state: ReadyState) -> Self {
        match state {
            ReadyState::Connecting => sse_ready_state::SSE_STATE_CONNECTING,
            ReadyState::Open => sse_ready_state::SSE_STATE_OPEN,
            ReadyState::Closed => sse_ready_state::SSE_STATE_CLOSED,
        }
    }
}

/// One event: a borrowed view. Each string is also NUL-terminated; `data` may contain NUL
/// bytes, so use `data_len`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct sse_event {
    /// "message" when the event had no `event:` field.
    pub r#type: *const c_char,
    pub type_len: usize,
    /// The data lines joined with "\n".
    pub data: *const c_char,
    pub data_len: usize,
    /// The last event ID after this event ("" if none).
    pub id: *const c_char,
    pub id_len: usize,
}

fn text_parts(text: Text<'_>) -> (*const c_char, usize) {
    (text.as_bytes_with_nul().as_ptr().cast(), text.len())
}

impl sse_event {
    /// No event: null pointers, zero lengths (what a non-EVENT message holds).
    pub(crate) const EMPTY: sse_event = sse_event {
        r#type: std::ptr::null(),
        type_len: 0,
        data: std::ptr::null(),
        data_len: 0,
        id: std::ptr::null(),
        id_len: 0,
    };

    /// A view valid as long as the event's buffers are.
    pub(crate) fn borrow(event: &Event<'_>) -> sse_event {
        let (r#type, type_len) = text_parts(event.event_type);
        let (data, data_len) = text_parts(event.data);
        let (id, id_len) = text_parts(event.id);
        sse_event {
            r#type,
            type_len,
            data,
            data_len,
            id,
            id_len,
        }
    }
}

/// Why a connection attempt or an open stream failed.
///
/// Values are fixed and never reused; later versions append values, so a host handles
/// values it does not know (a `default:` branch).
/// `sse_client_error_count` counts the errors of every kind, `sse_stats.errors` those of
/// the first SSE_STATS_ERROR_SLOTS kinds only.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum sse_error_kind {
    /// DNS, TCP or TLS failure.
    SSE_ERROR_KIND_CONNECT = 0,
    /// A status other than 200.
    SSE_ERROR_KIND_HTTP_STATUS = 1,
    /// Not text/event-stream, or encoded (a Content-Encoding other than identity, which the
    /// client does not decode): the stream is not read, will_retry is false.
    SSE_ERROR_KIND_CONTENT_TYPE = 2,
    /// The server closed the stream.
    SSE_ERROR_KIND_STREAM_ENDED = 3,
    /// The connection broke mid-stream.
    SSE_ERROR_KIND_IO = 4,
    /// Nothing arrived within the read timeout.
    SSE_ERROR_KIND_READ_TIMEOUT = 5,
    /// An event exceeded max_event_size.
    SSE_ERROR_KIND_EVENT_TOO_LARGE = 6,
}

impl CEnum for sse_error_kind {
    const C_NAME: &'static str = "sse_error_kind";
    const ALL: &'static [Self] = &[
        sse_error_kind::SSE_ERROR_KIND_CONNECT,
        sse_error_kind::SSE_ERROR_KIND_HTTP_STATUS,
        sse_error_kind::SSE_ERROR_KIND_CONTENT_TYPE,
        sse_error_kind::SSE_ERROR_KIND_STREAM_ENDED,
        sse_error_kind::SSE_ERROR_KIND_IO,
        sse_error_kind::SSE_ERROR_KIND_READ_TIMEOUT,
        sse_error_kind::SSE_ERROR_KIND_EVENT_TOO_LARGE,
    ];
}

impl From<sse_error_kind> for ErrorKind {
    fn from(kind: sse_error_kind) -> Self {
        match kind {
            sse_error_kind::SSE_ERROR_KIND_CONNECT => ErrorKind::Connect,
            sse_error_kind::SSE_ERROR_KIND_HTTP_STATUS => ErrorKind::HttpStatus,
            sse_error_kind::SSE_ERROR_KIND_CONTENT_TYPE => ErrorKind::ContentType,
            sse_error_kind::SSE_ERROR_KIND_STREAM_ENDED => ErrorKind::StreamEnded,
            sse_error_kind::SSE_ERROR_KIND_IO => ErrorKind::Io,
            sse_error_kind::SSE_ERROR_KIND_READ_TIMEOUT => ErrorKind::ReadTimeout,
            sse_error_kind::SSE_ERROR_KIND_EVENT_TOO_LARGE => ErrorKind::EventTooLarge,
        }
    }
}

impl From<ErrorKind> for sse_error_kind {
    fn from(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::Connect => sse_error_kind::SSE_ERROR_KIND_CONNECT,
            ErrorKind::HttpStatus => sse_error_kind::SSE_ERROR_KIND_HTTP_STATUS,
            ErrorKind::ContentType => sse_error_kind::SSE_ERROR_KIND_CONTENT_TYPE,
            ErrorKind::StreamEnded => sse_error_kind::SSE_ERROR_KIND_STREAM_ENDED,
            ErrorKind::Io => sse_error_kind::SSE_ERROR_KIND_IO,
            ErrorKind::ReadTimeout => sse_error_kind::SSE_ERROR_KIND_READ_TIMEOUT,
            ErrorKind::EventTooLarge => sse_error_kind::SSE_ERROR_KIND_EVENT_TOO_LARGE,
        }
    }
}

/// An error: a borrowed view. The library allocates it; its fields after
/// `failed_attempts` were added in 1.1.0 (a view may gain fields at its end: never rely on
/// its sizeof).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct sse_error {
    pub kind: sse_error_kind,
    /// The HTTP status for SSE_ERROR_KIND_HTTP_STATUS (and CONTENT_TYPE); else 0.
    pub http_status: u16,
    /// Human-readable, NUL-terminated: `plain_message` with, where a remedy points, the C
    /// function that would fix the error, in parentheses (" (sse_config_set_ca_file)").
    pub message: *const c_char,
    /// false: the client is now CLOSED for good.
    pub will_retry: bool,
    /// When will_retry: the wait before the next attempt.
    pub retry_delay_ms: u32,
    /// Consecutive failed attempts so far, this one included (0 when a stream that had
    /// delivered events ended: the count starts again).
    pub failed_attempts: u32,
    /// Since 1.1.0. The same message without this API's function names, NUL-terminated
    /// UTF-8: for a binding over the C API, which inserts its own name for each remedy's
    /// setting at its `at` (or nothing: the words already say the remedy).
    pub plain_message: *const c_char,
    /// Since 1.1.0. The settings that would fix this error, in the order of their `at`;
    /// NULL when remedy_count is 0. A host ignores a setting it does not know (later
    /// versions add values).
    pub remedies: *const sse_remedy,
    /// Since 1.1.0. How many remedies `remedies` points to.
    pub remedy_count: usize,
}

/// An `sse_error` together with the strings and the remedies it points into.
pub(crate) struct OwnedErrorView {
    message: CString,
    plain_message: CString,
    remedies: Box<[sse_remedy]>,
    error: ClientError,
}

impl OwnedErrorView {
    pub fn new(error: &ClientError) -> OwnedErrorView {
        let (plain, remedies) = plain_text(&error.message, &error.remedies);
        let message = in_c_words(&plain, &remedies);
        OwnedErrorView {
            // Neither holds a NUL: plain_text took them out.
            message: CString::new(message).unwrap_or_default(),
            plain_message: CString::new(plain).unwrap_or_default(),
            remedies: remedies.into_iter().map(sse_remedy::from).collect(),
            error: error.clone(),
        }
    }

    /// A view valid as long as `self` lives (moving `self` moves no string or slice).
    pub fn view(&self) -> sse_error {
        sse_error {
            kind: self.error.kind.into(),
            http_status: self.error.http_status,
            message: self.message.as_ptr(),
            will_retry: self.error.will_retry,
            retry_delay_ms: u32::try_from(self.error.retry_delay.as_millis()).unwrap_or(u32::MAX),
            failed_attempts: self.error.failed_attempts,
            plain_message: self.plain_message.as_ptr(),
            remedies: match self.remedies.is_empty() {
                true => std::ptr::null(),
                false => self.remedies.as_ptr(),
            },
            remedy_count: self.remedies.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `sse_stats.errors[k]` and `sse_client_error_count(k)` rely on it.
    #[test]
    fn every_error_kind_converts_both_ways_and_its_c_value_is_its_index() {
        for kind in ErrorKind::ALL {
            let c_kind = sse_error_kind::from(kind);
            assert_eq!(ErrorKind::from(c_kind), kind);
            assert_eq!(c_kind as usize, kind.index());
        }
        assert_eq!(sse_error_kind::ALL.len(), ErrorKind::COUNT);
    }

    fn c_str(ptr: *const c_char) -> String {
        unsafe { std::ffi::CStr::from_ptr(ptr) }
            .to_str()
            .unwrap()
            .to_owned()
    }

    /// A remedy and a NUL in the message: the C words, the plain words, the offsets.
    #[test]
    fn the_view_holds_the_c_message_the_plain_message_and_the_remedies() {
        use crate::config::{Remedy, Setting};
        use crate::delivery::report::ErrorKind;
        let plain = "certificate unknown: for a private CA, add it to the trusted CA certificates";
        let error = ClientError {
            kind: ErrorKind::Connect,
            http_status: 0,
            message: format!("\0{plain}"),
            remedies: vec![Remedy {
                setting: Setting::CaFile,
                at: plain.len() + 1,
            }],
            will_retry: false,
            retry_delay: std::time::Duration::ZERO,
            failed_attempts: 1,
        };
        let owned = OwnedErrorView::new(&error);
        let moved = owned; // what sse_message does: the pointers must survive the move
        let view = moved.view();
        assert_eq!(c_str(view.plain_message), plain);
        assert_eq!(
            c_str(view.message),
            format!("{plain} (sse_config_set_ca_file)")
        );
        assert_eq!(view.remedy_count, 1);
        let remedy = unsafe { *view.remedies };
        assert_eq!(remedy.setting as i32, 1);
        assert_eq!(remedy.at, plain.len());

        let no_remedy = ClientError {
            message: "broke".into(),
            remedies: Vec::new(),
            ..error
        };
        let owned = OwnedErrorView::new(&no_remedy);
        let view = owned.view();
        assert_eq!(
            (c_str(view.message), c_str(view.plain_message)),
            ("broke".into(), "broke".into())
        );
        assert!(view.remedies.is_null());
        assert_eq!(view.remedy_count, 0);
    }
}
