//! `sse_message`: one owned item of a poll-mode queue.

use std::ffi::c_char;

use super::views::{sse_error, sse_event, sse_ready_state, OwnedErrorView};
use crate::report::{Message, ReadyState};

/// What a queued message carries.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum sse_message_kind {
    SSE_MESSAGE_OPEN,
    SSE_MESSAGE_EVENT,
    SSE_MESSAGE_COMMENT,
    SSE_MESSAGE_ERROR,
    SSE_MESSAGE_STATE,
}

/// One owned queued item, from `sse_client_poll`. Opaque; must be released with
/// `sse_message_free`. The views its accessors return stay valid until then. A message is
/// not tied to its client: it may outlive `sse_client_free`.
pub struct sse_message {
    message: Message,
    /// For EVENT: the view into `message`'s own buffer.
    event: Option<sse_event>,
    /// For ERROR: the view and the message string it points into.
    error: Option<(OwnedErrorView, sse_error)>,
}

impl sse_message {
    pub(crate) fn new(message: Message) -> Box<sse_message> {
        let event = match &message {
            Message::Event(owned) => Some(sse_event::borrow(&owned.as_event())),
            _ => None,
        };
        let error = match &message {
            Message::Error(error) => {
                let owned = OwnedErrorView::new(error);
                let view = owned.view();
                Some((owned, view))
            }
            _ => None,
        };
        // The views point into heap buffers owned by `message` and `error`, which moving
        // this struct into its Box does not move.
        Box::new(sse_message {
            message,
            event,
            error,
        })
    }
}

/// Borrows the message behind a possibly-NULL pointer.
///
/// # Safety
/// `message` must be NULL or a live message from `sse_client_poll`.
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
        match unsafe { message_ref(message) }.map(|m| &m.message) {
            Some(Message::Open { .. }) => sse_message_kind::SSE_MESSAGE_OPEN,
            Some(Message::Event(_)) => sse_message_kind::SSE_MESSAGE_EVENT,
            Some(Message::Comment(_)) => sse_message_kind::SSE_MESSAGE_COMMENT,
            Some(Message::Error(_)) => sse_message_kind::SSE_MESSAGE_ERROR,
            Some(Message::State(_)) | None => sse_message_kind::SSE_MESSAGE_STATE,
        }
    })
}

/// For an EVENT message: the event, borrowed until `sse_message_free(message)`.
/// NULL for any other kind or a NULL message.
///
/// # Safety
/// `message` must be NULL or a live message.
#[no_mangle]
pub unsafe extern "C" fn sse_message_event(message: *const sse_message) -> *const sse_event {
    ffi_boundary!(std::ptr::null(), {
        // SAFETY: as promised by the caller.
        match unsafe { message_ref(message) }.and_then(|m| m.event.as_ref()) {
            Some(event) => event as *const sse_event,
            None => std::ptr::null(),
        }
    })
}

/// For an ERROR message: the error, borrowed until `sse_message_free(message)`.
/// NULL for any other kind or a NULL message.
///
/// # Safety
/// `message` must be NULL or a live message.
#[no_mangle]
pub unsafe extern "C" fn sse_message_error(message: *const sse_message) -> *const sse_error {
    ffi_boundary!(std::ptr::null(), {
        // SAFETY: as promised by the caller.
        match unsafe { message_ref(message) }.and_then(|m| m.error.as_ref()) {
            Some((_, view)) => view as *const sse_error,
            None => std::ptr::null(),
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
        match unsafe { message_ref(message) }.map(|m| &m.message) {
            Some(Message::State(state)) => (*state).into(),
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
        match unsafe { message_ref(message) }.map(|m| &m.message) {
            Some(Message::Open { http_status }) => *http_status,
            _ => 0,
        }
    })
}

/// For a COMMENT message: the comment text (after the colon, one leading space removed),
/// NUL-terminated and borrowed until `sse_message_free(message)`; its length in bytes goes
/// to `*len` when `len` is not NULL. NULL for any other kind (and `*len` = 0).
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
        let text = unsafe { message_ref(message) }.and_then(|m| m.message.comment_text());
        let (ptr, length) = match text {
            Some(text) => (text.as_bytes_with_nul().as_ptr().cast(), text.len()),
            None => (std::ptr::null(), 0),
        };
        if !len.is_null() {
            // SAFETY: non-NULL and writable, as promised.
            unsafe { len.write(length) };
        }
        ptr
    })
}

/// Releases a message from `sse_client_poll`, and every view taken from it. NULL is a
/// no-op.
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
