//! `sse_batch`: every message a poll-mode client had queued, taken in one call.

use super::message::sse_message;
use crate::delivery::poll_queue::TakenBatches;

/// Messages taken at once with `sse_client_poll_batch`, in queue order. Opaque; release
/// with `sse_batch_free`, which also releases its messages and every view taken from them.
/// A batch is not tied to its client: it may outlive `sse_client_free`.
pub struct sse_batch {
    /// Views into `taken`'s strings.
    messages: Vec<sse_message>,
    /// Owns the strings; its buffers do not move while the batch lives.
    _taken: TakenBatches,
}

impl sse_batch {
    pub(crate) fn new(taken: TakenBatches) -> Box<sse_batch> {
        let mut messages = Vec::with_capacity(taken.len());
        let mut first = taken.first_skip;
        for batch in &taken.batches {
            for index in first..batch.len() {
                messages.push(sse_message::view(batch.get(index)));
            }
            first = 0;
        }
        Box::new(sse_batch {
            messages,
            _taken: taken,
        })
    }
}

/// The number of messages in `batch` (at least 1 for a batch from
/// `sse_client_poll_batch`); 0 for NULL.
///
/// # Safety
/// `batch` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn sse_batch_len(batch: *const sse_batch) -> usize {
    ffi_boundary!(0, {
        // SAFETY: as promised by the caller.
        unsafe { batch.as_ref() }.map_or(0, |b| b.messages.len())
    })
}

/// The message at `index` (0-based, in queue order), valid until `sse_batch_free(batch)`;
/// read it with the `sse_message_*` accessors, but never pass it to `sse_message_free`.
/// NULL when `index` is out of range or `batch` is NULL.
///
/// # Safety
/// `batch` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn sse_batch_get(
    batch: *const sse_batch,
    index: usize,
) -> *const sse_message {
    ffi_boundary!(std::ptr::null(), {
        // SAFETY: as promised by the caller.
        match unsafe { batch.as_ref() }.and_then(|b| b.messages.get(index)) {
            Some(message) => message as *const sse_message,
            None => std::ptr::null(),
        }
    })
}

/// Releases a batch from `sse_client_poll_batch`, its messages and every view taken from
/// them. NULL is a no-op.
///
/// # Safety
/// `batch` must be NULL or a batch from `sse_client_poll_batch` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn sse_batch_free(batch: *mut sse_batch) {
    ffi_boundary!((), {
        if !batch.is_null() {
            // SAFETY: created by Box::into_raw in sse_client_poll_batch, freed once.
            drop(unsafe { Box::from_raw(batch) });
        }
    })
}
