//! `sse_message`: one item of a poll-mode queue, owned or part of an `sse_batch`.

use std::ffi::c_char;

use super::c_values::CEnum;
use super::views::{sse_error, sse_event, sse_ready_state, OwnedErrorView};
use crate::delivery::batch::BatchMessage;
use crate::delivery::report::ReadyState;
use crate::sse::parser::Event;
use crate::sse::text::{SharedText, Text};

/// What a queued message carries.
///
/// Values are fixed and never reused; later versions append values, so a host handles
/// values it does not know (a `default:` branch).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum sse_message_kind {
    SSE_MESSAGE_OPEN = 0,
    SSE_MESSAGE_EVENT = 1,
    SSE_MESSAGE_COMMENT = 2,
    SSE_MESSAGE_ERROR = 3,
    SSE_MESSAGE_STATE = 4,
}

impl CEnum for sse_message_kind {
    const C_NAME: &'static str = "sse_message_kind";
    const ALL: &'static [Self] = &[
        sse_message_kind::SSE_MESSAGE_OPEN,
        sse_message_kind::SSE_MESSAGE_EVENT,
        sse_message_kind::SSE_MESSAGE_COMMENT,
        sse_message_kind::SSE_MESSAGE_ERROR,
        sse_message_kind::SSE_MESSAGE_STATE,
    ];
}

/// One queued item. From `sse_client_poll` it is owned: release it with
/// `sse_message_free`; the views its accessors return stay valid until then, and it may
/// outlive `sse_client_free`. From `sse_batch_get` it belongs to its batch: valid until
/// `sse_batch_free`, and never passed to `sse_message_free`. Opaque.
pub struct sse_message {
    kind: sse_message_kind,
    http_status: u16,
    state: ReadyState,
    /// For EVENT: the view into the strings (`storage`, or the batch's).
    event: sse_event,
    /// For COMMENT: the text, NUL-terminated.
    comment: (*const c_char, usize),
    /// What few messages need, boxed so that the others (a batch's events) carry one
    /// pointer and cost one check when freed.
    extra: Option<Box<Extra>>,
    /// The strings `event` or `comment` point into, for a message of its own; empty in a
    /// batch, which owns them.
    storage: Box<str>,
}

/// The rare parts of a message.
enum Extra {
    /// For ERROR: the message string (kept for the view) and the view into it.
    Error {
        _strings: OwnedErrorView,
        view: sse_error,
    },
    /// For an EVENT of its own whose ID is a long one shared with the queue: that ID, kept
    /// for `event.id`, which points into it (not copied for each message).
    SharedId { _id: SharedText },
}

/// No comment text.
const NO_TEXT: (*const c_char, usize) = (std::ptr::null(), 0);

impl sse_message {
    /// A view of `message`; its pointers are valid as long as the memory `message`
    /// borrows from (a batch kept alongside, or `storage`).
    pub(crate) fn view(message: BatchMessage<'_>) -> sse_message {
        let (kind, http_status, state, event, comment, extra) = match message {
            BatchMessage::Event { event, .. } => (
                sse_message_kind::SSE_MESSAGE_EVENT,
                0,
                ReadyState::Closed,
                sse_event::borrow(&event),
                NO_TEXT,
                None,
            ),
            BatchMessage::Open { http_status } => (
                sse_message_kind::SSE_MESSAGE_OPEN,
                http_status,
                ReadyState::Closed,
                sse_event::EMPTY,
                NO_TEXT,
                None,
            ),
            BatchMessage::Comment(text) => (
                sse_message_kind::SSE_MESSAGE_COMMENT,
                0,
                ReadyState::Closed,
                sse_event::EMPTY,
                (text.as_bytes_with_nul().as_ptr().cast(), text.len()),
                None,
            ),
            BatchMessage::Error(error) => {
                let owned = OwnedErrorView::new(error);
                let view = owned.view();
                (
                    sse_message_kind::SSE_MESSAGE_ERROR,
                    0,
                    ReadyState::Closed,
                    sse_event::EMPTY,
                    NO_TEXT,
                    Some(Box::new(Extra::Error {
                        _strings: owned,
                        view,
                    })),
                )
            }
            BatchMessage::State(state) => (
                sse_message_kind::SSE_MESSAGE_STATE,
                0,
                state,
                sse_event::EMPTY,
                NO_TEXT,
                None,
            ),
        };
        sse_message {
            kind,
            http_status,
            state,
            event,
            comment,
            extra,
            storage: Box::default(),
        }
    }

    /// A message of its own: its strings are copied into one buffer it owns.
    pub(crate) fn owned(message: BatchMessage<'_>) -> Box<sse_message> {
        match message {
            BatchMessage::Event { event, shared_id } => {
                // A shared ID is referred to, not copied (it may be megabytes).
                let id = match shared_id {
                    Some(_) => Text::EMPTY,
                    None => event.id,
                };
                let parts = [event.event_type, event.data, id];
                let mut storage = String::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
                for part in parts {
                    storage.push_str(part.as_str_with_nul());
                }
                let storage = storage.into_boxed_str();
                let type_end = event.event_type.len() + 1;
                let data_end = type_end + event.data.len() + 1;
                let shared_id = shared_id.cloned();
                let copy = Event {
                    event_type: Text::from_str_with_nul(&storage[..type_end]),
                    data: Text::from_str_with_nul(&storage[type_end..data_end]),
                    id: match &shared_id {
                        Some(shared) => shared.as_text(),
                        None => Text::from_str_with_nul(&storage[data_end..]),
                    },
                };
                let mut view = sse_message::view(BatchMessage::Event {
                    event: copy,
                    shared_id: None,
                });
                // Moving the box (and the Arc) keeps their heap bytes, and the view's
                // pointers, in place.
                view.storage = storage;
                view.extra = shared_id.map(|id| Box::new(Extra::SharedId { _id: id }));
                Box::new(view)
            }
            BatchMessage::Comment(text) => {
                let storage: Box<str> = text.as_str_with_nul().into();
                let mut view =
                    sse_message::view(BatchMessage::Comment(Text::from_str_with_nul(&storage)));
                view.storage = storage;
                Box::new(view)
            }
            other => Box::new(sse_message::view(other)),
        }
    }
}

unsafe fn message_ref<'a>(message: *const sse_message) -> Option<&'a sse_message> {
    // SAFETY: as promised by the caller.
    unsafe { message.as_ref() }
}

/// The kind of `message`. For NULL: SSE_MESSAGE_STATE (whose state is CLOSED).
///
/// # Safety
/// `message` must be NULL or a live message.
#[no_mangle]
pub unsafe extern "C" fn sse_message_kind_of(message: *const sse_message) -> sse_message_kind {
    ffi_boundary!(sse_message_kind::SSE_MESSAGE_STATE, {
        // SAFETY: as promised by the caller.
        match unsafe { message_ref(message) } {
            Some(message) => message.kind,
            None => sse_message_kind::SSE_MESSAGE_STATE,
        }
    })
}

/// For an EVENT message: the event, borrowed until `sse_message_free(message)` (for a
/// message of a batch: until `sse_batch_free`).
/// NULL for any other kind or a NULL message.
///
/// # Safety
/// `message` must be NULL or a live message.
#[no_mangle]
pub unsafe extern "C" fn sse_message_event(message: *const sse_message) -> *const sse_event {
    ffi_boundary!(std::ptr::null(), {
        // SAFETY: as promised by the caller.
        match unsafe { message_ref(message) } {
            Some(m) if m.kind == sse_message_kind::SSE_MESSAGE_EVENT => &m.event,
            _ => std::ptr::null(),
        }
    })
}

/// For an ERROR message: the error, borrowed until `sse_message_free(message)` (for a
/// message of a batch: until `sse_batch_free`).
/// NULL for any other kind or a NULL message.
///
/// # Safety
/// `message` must be NULL or a live message.
#[no_mangle]
pub unsafe extern "C" fn sse_message_error(message: *const sse_message) -> *const sse_error {
    ffi_boundary!(std::ptr::null(), {
        // SAFETY: as promised by the caller.
        match unsafe { message_ref(message) }.and_then(|m| m.extra.as_deref()) {
            Some(Extra::Error { view, .. }) => view as *const sse_error,
            Some(Extra::SharedId { .. }) | None => std::ptr::null(),
        }
    })
}

/// For a STATE message: the new ready state. SSE_STATE_CLOSED for a NULL message; for any
/// other kind, also SSE_STATE_CLOSED (check the kind first).
///
/// # Safety
/// `message` must be NULL or a live message.
#[no_mangle]
pub unsafe extern "C" fn sse_message_state(message: *const sse_message) -> sse_ready_state {
    ffi_boundary!(sse_ready_state::SSE_STATE_CLOSED, {
        // SAFETY: as promised by the caller.
        match unsafe { message_ref(message) } {
            Some(m) if m.kind == sse_message_kind::SSE_MESSAGE_STATE => m.state.into(),
            _ => ReadyState::Closed.into(),
        }
    })
}

/// For an OPEN message: the HTTP status of the response (200). 0 for any other kind.
///
/// # Safety
/// `message` must be NULL or a live message.
#[no_mangle]
pub unsafe extern "C" fn sse_message_http_status(message: *const sse_message) -> u16 {
    ffi_boundary!(0, {
        // SAFETY: as promised by the caller.
        match unsafe { message_ref(message) } {
            Some(m) if m.kind == sse_message_kind::SSE_MESSAGE_OPEN => m.http_status,
            _ => 0,
        }
    })
}

/// For a COMMENT message: the comment text (after the colon, one leading space removed),
/// NUL-terminated and borrowed until `sse_message_free(message)` (or `sse_batch_free`);
/// its length in bytes goes to `*len` when `len` is not NULL. NULL for any other kind
/// (and `*len` = 0).
///
/// # Safety
/// `message` must be NULL or a live message; `len` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sse_message_comment(
    message: *const sse_message,
    len: *mut usize,
) -> *const c_char {
    ffi_boundary!(std::ptr::null(), {
        // SAFETY: as promised by the caller.
        let (ptr, length) = match unsafe { message_ref(message) } {
            Some(m) if m.kind == sse_message_kind::SSE_MESSAGE_COMMENT => m.comment,
            _ => (std::ptr::null(), 0),
        };
        if !len.is_null() {
            // SAFETY: non-NULL and writable, as promised.
            unsafe { len.write(length) };
        }
        ptr
    })
}

/// Releases a message from `sse_client_poll`, and every view taken from it. NULL is a
/// no-op. Never pass it a message of an `sse_batch` (from `sse_batch_get`).
///
/// # Safety
/// `message` must be NULL or a message from `sse_client_poll` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn sse_message_free(message: *mut sse_message) {
    ffi_boundary!((), {
        if !message.is_null() {
            // SAFETY: created by Box::into_raw in sse_client_poll, freed once.
            drop(unsafe { Box::from_raw(message) });
        }
    })
}
