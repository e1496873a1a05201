//! What a client reports to its host: ready states, errors and owned queue messages.

use std::time::Duration;

use crate::config::error::Remedy;
use crate::sse::parser::Event;
use crate::sse::text::{SharedText, Text};

/// The browser `EventSource.readyState` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ReadyState {
    Connecting = 0,
    Open = 1,
    Closed = 2,
}

impl ReadyState {
    pub(crate) fn from_u8(value: u8) -> ReadyState {
        match value {
            0 => ReadyState::Connecting,
            1 => ReadyState::Open,
            _ => ReadyState::Closed,
        }
    }
}

/// Why a connection attempt or an open stream failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// DNS, TCP or TLS failure (or the request could not be sent).
    Connect,
    /// A status other than 200.
    HttpStatus,
    /// A 200 response whose MIME type is not text/event-stream, or whose body is encoded
    /// (compressed) in a way the client does not decode.
    ContentType,
    /// The server closed the stream.
    StreamEnded,
    /// The connection broke mid-stream.
    Io,
    /// Nothing arrived within the read timeout.
    ReadTimeout,
    /// An event exceeded max_event_size.
    EventTooLarge,
}

// Internal, and COUNT is free to grow: cbindgen must not export these constants into the
// header (C has SSE_STATS_ERROR_SLOTS and sse_error_kind).
/// cbindgen:ignore
impl ErrorKind {
    pub const COUNT: usize = 7;

    /// Every kind, in the order of [`ErrorKind::index`].
    pub const ALL: [ErrorKind; ErrorKind::COUNT] = [
        ErrorKind::Connect,
        ErrorKind::HttpStatus,
        ErrorKind::ContentType,
        ErrorKind::StreamEnded,
        ErrorKind::Io,
        ErrorKind::ReadTimeout,
        ErrorKind::EventTooLarge,
    ];

    /// 0..COUNT: where this kind's count is in [`Stats::errors`](crate::Stats::errors)
    /// (the order of the C enum `sse_error_kind` too).
    pub fn index(self) -> usize {
        self as usize
    }
}

/// An error as the host sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientError {
    pub kind: ErrorKind,
    /// The HTTP status for [`ErrorKind::HttpStatus`], else 0.
    pub http_status: u16,
    /// What happened, in neutral words: a binding adds its own name for each setting
    /// `remedies` points to.
    pub message: String,
    /// The settings `message` names as fixes (none for most errors), in message order.
    pub remedies: Vec<Remedy>,
    /// false: the client is now closed for good.
    pub will_retry: bool,
    /// When `will_retry`: the wait before the next attempt.
    pub retry_delay: Duration,
    /// Consecutive failed attempts so far, this one included; 0 when a stream that had
    /// delivered events ended (the count starts again).
    pub failed_attempts: u32,
}

/// An event owned by a queued message.
///
/// The strings live in one allocation, each followed by a NUL byte, so that a poll-mode host
/// can borrow them as C strings until it frees the message; except a long ID shared with the
/// queue (a `SharedText`), which is not copied for every event that carries it.
#[derive(Clone)]
pub struct OwnedEvent {
    /// A `str`, so that the texts are safe slices of it.
    buffer: Box<str>,
    type_end: usize,
    data_end: usize,
    /// The ID when it is shared; else it follows the data in `buffer`.
    shared_id: Option<SharedText>,
}

impl OwnedEvent {
    /// A copy of `event`.
    pub fn from_event(event: &Event<'_>) -> OwnedEvent {
        OwnedEvent::sharing_id(event, None)
    }

    /// A copy of `event`, except its ID when `shared_id` is a shared copy of it.
    pub(crate) fn sharing_id(event: &Event<'_>, shared_id: Option<&SharedText>) -> OwnedEvent {
        let id = match shared_id {
            Some(_) => "",
            None => event.id.as_str_with_nul(),
        };
        let (event_type, data) = (
            event.event_type.as_str_with_nul(),
            event.data.as_str_with_nul(),
        );
        let mut buffer = String::with_capacity(event_type.len() + data.len() + id.len());
        buffer.push_str(event_type);
        let type_end = buffer.len();
        buffer.push_str(data);
        let data_end = buffer.len();
        buffer.push_str(id);
        OwnedEvent {
            buffer: buffer.into_boxed_str(),
            type_end,
            data_end,
            shared_id: shared_id.cloned(),
        }
    }

    /// Borrows the event back as the parser's view type.
    pub fn as_event(&self) -> Event<'_> {
        Event {
            event_type: Text::from_str_with_nul(&self.buffer[..self.type_end]),
            data: Text::from_str_with_nul(&self.buffer[self.type_end..self.data_end]),
            id: match &self.shared_id {
                Some(shared) => shared.as_text(),
                None => Text::from_str_with_nul(&self.buffer[self.data_end..]),
            },
        }
    }
}

/// Equal when the three strings are, however they are stored.
impl PartialEq for OwnedEvent {
    fn eq(&self, other: &OwnedEvent) -> bool {
        let (a, b) = (self.as_event(), other.as_event());
        a.event_type == b.event_type && a.data == b.data && a.id == b.id
    }
}

impl Eq for OwnedEvent {}

impl std::fmt::Debug for OwnedEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_event().fmt(f)
    }
}

/// One item of the poll-mode queue; the owned twin of each callback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    Open {
        http_status: u16,
    },
    Event(OwnedEvent),
    /// The comment text, NUL-terminated (the terminator is not part of the comment).
    Comment(Box<str>),
    /// Boxed: errors are rare, and a small Message keeps the queue's up-front slots small.
    Error(Box<ClientError>),
    State(ReadyState),
}

impl Message {
    /// Builds a comment message from a parser view.
    pub(crate) fn comment(text: Text<'_>) -> Message {
        Message::Comment(text.as_str_with_nul().into())
    }

    /// For `Message::Comment`: the text.
    pub fn comment_text(&self) -> Option<Text<'_>> {
        match self {
            Message::Comment(text) => Some(Text::from_str_with_nul(text)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_event_round_trips_all_three_strings() {
        let event = Event {
            event_type: Text::from_bytes_with_nul(b"tick\0"),
            data: Text::from_bytes_with_nul(b"a\0b\0"),
            id: Text::from_bytes_with_nul(b"7\0"),
        };
        let owned = OwnedEvent::from_event(&event);
        let back = owned.as_event();
        assert_eq!(back.event_type, "tick");
        assert_eq!(back.data, "a\0b");
        assert_eq!(back.id, "7");
        assert_eq!(back.id.as_bytes_with_nul(), b"7\0");
    }

    #[test]
    fn owned_event_keeps_empty_id() {
        let event = Event {
            event_type: Text::from_bytes_with_nul(b"message\0"),
            data: Text::from_bytes_with_nul(b"x\0"),
            id: Text::EMPTY,
        };
        let owned = OwnedEvent::from_event(&event);
        assert_eq!(owned.as_event().id, "");
    }
}
