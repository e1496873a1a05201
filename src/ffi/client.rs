//! `sse_client` and `sse_callbacks`: opening, observing, polling and closing a client.

use std::ffi::{c_char, c_void};
use std::mem::MaybeUninit;
use std::time::Duration;

use super::batch::sse_batch;
use super::boundary::{check_out, fail, try_ref, write_out};
use super::c_values::try_enum;
use super::config::sse_config;
use super::message::sse_message;
use super::sse_result;
use super::views::{sse_error, sse_error_kind, sse_event, sse_ready_state, OwnedErrorView};
use crate::client::stats::Stats;
use crate::client::Client;
use crate::delivery::poll_queue::PollError;
use crate::delivery::report::{ClientError, ErrorKind, ReadyState};
use crate::delivery::Handler;
use crate::sse::parser::Event;
use crate::sse::text::Text;

/// A running client: one worker thread that connects, reads and reconnects. Opaque;
/// create with `sse_client_open`, release with `sse_client_free`.
pub struct sse_client {
    inner: Client,
}

/// The callbacks of callback mode. Every member may be NULL. They run on the client's
/// worker thread, one at a time, never concurrently for one client. Pointer arguments are
/// borrowed until the callback returns. A callback may call `sse_client_close` on its own
/// client (it does not wait for itself; the worker stops once the callback returns), but
/// must not call `sse_client_free` on it.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct sse_callbacks {
    /// Passed back unchanged to every callback.
    pub userdata: *mut c_void,
    /// Each successful (re)connect, with the HTTP status (200).
    pub on_open: Option<unsafe extern "C" fn(userdata: *mut c_void, http_status: u16)>,
    /// Each event; `event` is borrowed until the callback returns.
    pub on_event: Option<unsafe extern "C" fn(userdata: *mut c_void, event: *const sse_event)>,
    /// Comment lines (heartbeats): the text after the colon, one leading space removed;
    /// borrowed until the callback returns (also NUL-terminated).
    pub on_comment:
        Option<unsafe extern "C" fn(userdata: *mut c_void, text: *const c_char, len: usize)>,
    /// Each error; `error` is borrowed until the callback returns. will_retry = false means
    /// the client has closed for good (an on_state CLOSED follows).
    pub on_error: Option<unsafe extern "C" fn(userdata: *mut c_void, error: *const sse_error)>,
    /// Every readyState change (after on_open for OPEN, after on_error otherwise).
    pub on_state: Option<unsafe extern "C" fn(userdata: *mut c_void, state: sse_ready_state)>,
}

/// Calls a host's C callbacks.
struct CallbackHandler(sse_callbacks);

// SAFETY: the contract makes the host responsible for `userdata` being usable from the
// worker thread; the callbacks are plain function pointers.
unsafe impl Send for CallbackHandler {}

impl Handler for CallbackHandler {
    fn on_open(&mut self, http_status: u16) {
        if let Some(on_open) = self.0.on_open {
            // SAFETY: a host-provided callback, called as the header documents.
            unsafe { on_open(self.0.userdata, http_status) }
        }
    }

    fn on_event(&mut self, event: &Event<'_>) {
        if let Some(on_event) = self.0.on_event {
            let view = sse_event::borrow(event);
            // SAFETY: `view` points into `event`, alive until the call returns.
            unsafe { on_event(self.0.userdata, &view) }
        }
    }

    fn on_comment(&mut self, text: Text<'_>) {
        if let Some(on_comment) = self.0.on_comment {
            // SAFETY: `text` is NUL-terminated and alive until the call returns.
            unsafe {
                on_comment(
                    self.0.userdata,
                    text.as_bytes_with_nul().as_ptr().cast(),
                    text.len(),
                )
            }
        }
    }

    fn on_error(&mut self, error: &ClientError) {
        if let Some(on_error) = self.0.on_error {
            let owned = OwnedErrorView::new(error);
            let view = owned.view();
            // SAFETY: `view` points into `owned`, alive until the call returns.
            unsafe { on_error(self.0.userdata, &view) }
        }
    }

    fn on_state(&mut self, state: ReadyState) {
        if let Some(on_state) = self.0.on_state {
            // SAFETY: a host-provided callback, called as the header documents.
            unsafe { on_state(self.0.userdata, state.into()) }
        }
    }
}

/// Starts a client: its worker begins connecting at once (readyState CONNECTING).
///
/// `config` is copied; the caller keeps ownership and may free it right after.
/// `callbacks` selects callback mode; it is copied (the struct, not what `userdata` points
/// to, which must stay valid until `sse_client_close` returns or `sse_client_free`).
/// `callbacks == NULL` selects poll mode: read messages with `sse_client_poll`.
/// On success `*out` receives a client that must be released with `sse_client_free`; on
/// failure `*out` is not written. SSE_ERROR_NULL_ARGUMENT if `config` or `out` is NULL;
/// SSE_ERROR_RESOURCE if the thread or the wakeup handle cannot be created.
///
/// The client belongs to this process. A child of fork() inherits it without its worker
/// (see fork() at the top of this header): every call on it in the child returns at once
/// as for a closed client, and sse_client_free releases nothing there. A child that needs
/// a stream opens a client of its own. The client's sockets and wakeup handle are
/// close-on-exec.
///
/// # Safety
/// `config` NULL or live; `callbacks` NULL or a readable struct; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sse_client_open(
    config: *const sse_config,
    callbacks: *const sse_callbacks,
    out: *mut *mut sse_client,
) -> sse_result {
    ffi_result!({
        // SAFETY: as promised by the caller.
        let config = unsafe { try_ref(config, "config") }?.config();
        check_out(out, "out")?;
        // SAFETY: NULL or a readable struct, as promised.
        let callbacks = unsafe { callbacks.as_ref() }.copied();
        let opened = match callbacks {
            Some(callbacks) => Client::open(config, CallbackHandler(callbacks)),
            None => Client::open_polled(config),
        };
        let client = opened.map_err(|e| {
            fail(
                sse_result::SSE_ERROR_RESOURCE,
                format!("cannot start the client: {e}"),
            )
        })?;
        let client = Box::into_raw(Box::new(sse_client { inner: client }));
        // SAFETY: checked non-NULL, writable as promised.
        unsafe { write_out(out, client) };
        Ok(())
    })
}

/// The client's readyState. SSE_STATE_CLOSED for NULL, and for a client inherited across
/// fork().
///
/// # Safety
/// `client` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn sse_client_ready_state(client: *const sse_client) -> sse_ready_state {
    ffi_boundary!(sse_ready_state::SSE_STATE_CLOSED, {
        // SAFETY: as promised by the caller.
        match unsafe { client.as_ref() } {
            Some(client) => client.inner.ready_state().into(),
            None => sse_ready_state::SSE_STATE_CLOSED,
        }
    })
}

/// Copies the last event ID into `buf` like snprintf: at most `buf_len - 1` bytes and a
/// NUL (nothing when `buf_len` is 0, where `buf` may be NULL). Returns the full length of
/// the ID in bytes, so a return value >= `buf_len` means it was truncated. 0 for a NULL
/// client. The ID is the configured one until the server sends an `id:` field. In both
/// delivery modes it is updated before any event that carries it is delivered (called back
/// or queued): once the host has an event, this returns that event's ID or a later one.
/// A client inherited across fork() answers with an empty ID (0): read the ID before
/// forking if the child is to resume the stream.
///
/// # Safety
/// `client` NULL or live; `buf` NULL (with `buf_len` 0) or `buf_len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn sse_client_last_event_id(
    client: *const sse_client,
    buf: *mut c_char,
    buf_len: usize,
) -> usize {
    ffi_boundary!(0, {
        // SAFETY: as promised by the caller.
        let Some(client) = (unsafe { client.as_ref() }) else {
            return 0;
        };
        let id = client.inner.last_event_id();
        if !buf.is_null() && buf_len > 0 {
            let copied = id.len().min(buf_len - 1);
            // SAFETY: `buf` has `buf_len` writable bytes; we write `copied + 1 <= buf_len`.
            unsafe {
                std::ptr::copy_nonoverlapping(id.as_ptr(), buf.cast::<u8>(), copied);
                buf.add(copied).write(0);
            }
        }
        id.len()
    })
}

/// Stops the client: interrupts the worker wherever it is (connecting, reading, waiting
/// to reconnect, blocked on a full queue) and returns promptly; readyState becomes CLOSED.
/// Once it returns, no callback of this client runs again. Called from inside one of this
/// client's callbacks it does not wait for itself: the worker stops as soon as that
/// callback returns. Idempotent; NULL is a no-op. Poll mode: messages queued before the
/// close can still be polled, then sse_client_poll returns SSE_ERROR_CLOSED. No error or
/// state callback reports a close the host asked for. Does nothing to a client inherited
/// across fork(): the parent's client keeps running.
///
/// # Safety
/// `client` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn sse_client_close(client: *mut sse_client) {
    ffi_boundary!((), {
        // SAFETY: as promised by the caller.
        if let Some(client) = unsafe { client.as_ref() } {
            client.inner.close();
        }
    })
}

/// Closes the client if needed, waits for its worker thread to end, and releases it.
/// NULL is a no-op. Must not be called from one of this client's own callbacks. The wait
/// is short: close interrupts every blocking step except a DNS lookup or TCP connect in
/// progress, which is bounded by the connect timeout.
///
/// In a child of fork(), on a client opened before the fork: returns at once and releases
/// nothing. The worker thread does not exist in the child and a lock it held at the fork
/// is held forever, so closing or joining could deadlock, and the sockets and wakeup fd
/// are still the parent's. What the client holds is leaked in the child: the price of
/// never deadlocking. The parent's client is not affected. Afterwards the handle is
/// invalid in the child, as after any free.
///
/// # Safety
/// `client` NULL or a client from `sse_client_open` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn sse_client_free(client: *mut sse_client) {
    ffi_boundary!((), {
        if !client.is_null() {
            // SAFETY: created by Box::into_raw in sse_client_open, freed once.
            drop(unsafe { Box::from_raw(client) });
        }
    })
}

/// Poll mode: takes the next message, waiting up to `timeout_ms` (-1, or any negative
/// value: without limit; 0: do not wait). On SSE_OK `*out` receives a message that must
/// be released with `sse_message_free`; otherwise `*out` is not written.
/// SSE_ERROR_TIMEOUT: nothing arrived in time. SSE_ERROR_CLOSED: the client is closed
/// (by the host, or for good after an error with will_retry = false) and every message
/// queued before has been taken. SSE_ERROR_WRONG_MODE: the client uses callbacks.
/// SSE_ERROR_CLOSED at once, whatever `timeout_ms` and the mode, for a client inherited
/// across fork().
/// Drain in a loop until SSE_ERROR_TIMEOUT with `timeout_ms` 0 when the wakeup handle fires,
/// or take everything at once with `sse_client_poll_batch` (faster for busy streams).
///
/// # Safety
/// `client` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sse_client_poll(
    client: *mut sse_client,
    timeout_ms: i32,
    out: *mut *mut sse_message,
) -> sse_result {
    ffi_result!({
        // SAFETY: as promised by the caller.
        let client = unsafe { try_ref(client, "client") }?;
        check_out(out, "out")?;
        let message = client
            .inner
            .poll_with(timeout(timeout_ms), sse_message::owned)
            .map_err(poll_failure)?;
        // SAFETY: checked non-NULL, writable as promised.
        unsafe { write_out(out, Box::into_raw(message)) };
        Ok(())
    })
}

/// Poll mode: waits like `sse_client_poll` for at least one message, then takes every
/// message queued (at most the queue capacity) in one call. On SSE_OK `*out` receives a
/// batch of one or more messages: read them with `sse_batch_len` and `sse_batch_get`, then
/// release it with `sse_batch_free`; otherwise `*out` is not written. The other results
/// are those of `sse_client_poll`. One call per wakeup drains the queue, and the messages
/// cost no allocation of their own, which makes this the fastest way to read a busy
/// stream. Batches and single messages may be mixed; they come out in queue order.
/// SSE_ERROR_CLOSED at once for a client inherited across fork(); a batch taken before the
/// fork may be freed in the parent and in the child.
///
/// # Safety
/// `client` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sse_client_poll_batch(
    client: *mut sse_client,
    timeout_ms: i32,
    out: *mut *mut sse_batch,
) -> sse_result {
    ffi_result!({
        // SAFETY: as promised by the caller.
        let client = unsafe { try_ref(client, "client") }?;
        check_out(out, "out")?;
        let taken = client
            .inner
            .poll_all(timeout(timeout_ms))
            .map_err(poll_failure)?;
        // SAFETY: checked non-NULL, writable as promised.
        unsafe { write_out(out, Box::into_raw(sse_batch::new(taken))) };
        Ok(())
    })
}

/// A poll's `timeout_ms`: negative waits without limit.
fn timeout(timeout_ms: i32) -> Option<Duration> {
    u64::try_from(timeout_ms).ok().map(Duration::from_millis)
}

fn poll_failure(error: PollError) -> sse_result {
    match error {
        PollError::Timeout => fail(sse_result::SSE_ERROR_TIMEOUT, "no message arrived in time"),
        PollError::Closed => fail(
            sse_result::SSE_ERROR_CLOSED,
            "the client is closed and its queue is drained",
        ),
        PollError::WrongMode => fail(
            sse_result::SSE_ERROR_WRONG_MODE,
            "this client delivers through callbacks; open it with callbacks == NULL to poll",
        ),
    }
}

/// Poll mode, POSIX: the file descriptor of `sse_client_wakeup_handle` (the same number),
/// for poll(2), epoll, kqueue or a QSocketNotifier. On Windows, which has no such
/// descriptor, it returns -1: use `sse_client_wakeup_handle`, which works everywhere. -1
/// also in callback mode or for NULL, and for a client inherited across fork(). When it
/// is readable, and who owns it (the client: do not read, write or close it), as for
/// `sse_client_wakeup_handle`.
///
/// # Safety
/// `client` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn sse_client_wakeup_fd(client: *const sse_client) -> i32 {
    ffi_boundary!(-1, {
        // SAFETY: as promised by the caller.
        let handle = unsafe { client.as_ref() }.and_then(|c| c.inner.wakeup_handle());
        handle.and_then(wakeup_fd_of).unwrap_or(-1)
    })
}

/// The file descriptor a wakeup handle is, where handles are descriptors (POSIX).
fn wakeup_fd_of(handle: isize) -> Option<i32> {
    match cfg!(unix) {
        true => i32::try_from(handle).ok(),
        false => None,
    }
}

/// C's `intptr_t` (the header prints it so; cbindgen would print `isize` as `ptrdiff_t`).
#[allow(non_camel_case_types)]
type sse_intptr_t = isize;

/// Poll mode: what an event loop waits on, readable while at least one message is queued
/// and announced. POSIX: a file descriptor, the same as `sse_client_wakeup_fd` (poll(2),
/// epoll, kqueue). Windows: a SOCKET (select, WSAPoll and QSocketNotifier accept it). In
/// Qt: `QSocketNotifier(qintptr(sse_client_wakeup_handle(c)), QSocketNotifier::Read)` on
/// every platform. Do not read, write or close it: the client owns it until
/// `sse_client_free`. Returns -1 in callback mode or for NULL, and for a client inherited
/// across fork() (reading the parent's descriptor would take the parent's wakeups). It is
/// close-on-exec (on Windows: not inherited by child processes).
///
/// The handle is readable from the moment the client announces queued messages until the
/// host has taken every message, under the same rule on every platform: drain in a loop
/// (`sse_client_poll_batch` with `timeout_ms` 0 until SSE_ERROR_TIMEOUT) when it fires.
/// The worker announces what it queued (makes the handle readable, wakes blocked polls)
/// when it has read every byte that has arrived so far, or sooner once a quarter of the
/// capacity is queued: one wakeup per burst, not per socket read. A poll with a zero
/// timeout may take messages a moment before they are announced.
///
/// # Safety
/// `client` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn sse_client_wakeup_handle(client: *const sse_client) -> sse_intptr_t {
    ffi_boundary!(-1, {
        // SAFETY: as promised by the caller.
        unsafe { client.as_ref() }
            .and_then(|c| c.inner.wakeup_handle())
            .unwrap_or(-1)
    })
}

/// How many error kinds `sse_stats.errors` has room for: the kinds of 0.1.0, 0 to 6.
pub const SSE_STATS_ERROR_SLOTS: usize = 7;

/// Counters of one client, from `sse_client_stats`.
///
/// Its layout never changes (it is that of 0.1.0: 112 bytes). Error kinds added later are
/// counted too, but only `sse_client_error_count` reports them; counters added later get
/// functions of their own.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct sse_stats {
    /// Connection attempts started (the first connect included).
    pub connection_attempts: u64,
    /// Attempts that opened a stream (200, text/event-stream).
    pub connections_opened: u64,
    pub events: u64,
    pub comments: u64,
    /// Body bytes received.
    pub bytes_received: u64,
    /// Errors reported, indexed by sse_error_kind, for the kinds below
    /// SSE_STATS_ERROR_SLOTS (every kind: `sse_client_error_count`).
    pub errors: [u64; SSE_STATS_ERROR_SLOTS],
    /// The wait before the pending (or last) reconnect, in milliseconds.
    pub reconnect_delay_ms: u64,
    /// Total time spent OPEN, the current connection included, in milliseconds.
    pub time_connected_ms: u64,
}

// The layout of 0.1.0, forever; and the internal kinds may grow past the slots, never
// shrink below them.
const _: () = assert!(std::mem::size_of::<sse_stats>() == 112);
const _: () = assert!(ErrorKind::COUNT >= SSE_STATS_ERROR_SLOTS);

impl From<&Stats> for sse_stats {
    fn from(stats: &Stats) -> Self {
        let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        sse_stats {
            connection_attempts: stats.connection_attempts,
            connections_opened: stats.connections_opened,
            events: stats.events,
            comments: stats.comments,
            bytes_received: stats.bytes_received,
            // Slot k is the kind whose sse_error_kind value is k (its index).
            errors: std::array::from_fn(|slot| stats.errors[slot]),
            reconnect_delay_ms: millis(stats.reconnect_delay),
            time_connected_ms: millis(stats.time_connected),
        }
    }
}

/// Drops the current connection, or cuts the wait before a reconnect short, and connects
/// again at once, with the backoff starting over: for a host that learns the network came
/// back. The dropped stream is reported only as the state change to CONNECTING (no
/// error: the host asked). SSE_ERROR_CLOSED when the client is closed, or inherited across
/// fork().
///
/// # Safety
/// `client` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn sse_client_restart(client: *mut sse_client) -> sse_result {
    ffi_result!({
        // SAFETY: as promised by the caller.
        let client = unsafe { try_ref(client, "client") }?;
        match client.inner.restart() {
            true => Ok(()),
            false => Err(fail(sse_result::SSE_ERROR_CLOSED, "the client is closed")),
        }
    })
}

/// Copies the client's counters into `*out`. May be called from any thread, any time
/// before `sse_client_free`. For a client inherited across fork() every counter is 0 (the
/// counters stay with the parent). Writes exactly sizeof(sse_stats) bytes, the same in
/// every 1.x version.
///
/// # Safety
/// `client` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sse_client_stats(
    client: *const sse_client,
    out: *mut sse_stats,
) -> sse_result {
    ffi_result!({
        // SAFETY: as promised by the caller.
        let client = unsafe { try_ref(client, "client") }?;
        check_out(out, "out")?;
        let view = sse_stats::from(&client.inner.stats());
        // SAFETY: checked non-NULL, writable as promised.
        unsafe { write_out(out, view) };
        Ok(())
    })
}

/// Writes to `*out` how many errors of `kind` the client has reported so far: every kind,
/// those added after 1.0 included (`sse_stats.errors` has the first SSE_STATS_ERROR_SLOTS
/// only). May be called from any thread, any time before `sse_client_free`.
/// SSE_ERROR_NULL_ARGUMENT if `client` or `out` is NULL; SSE_ERROR_INVALID_ARGUMENT for a
/// `kind` that is not a value of sse_error_kind this library knows. For a client
/// inherited across fork(): SSE_OK with 0 (the counters stay with the parent). On failure
/// `*out` is not written.
///
/// # Safety
/// `client` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sse_client_error_count(
    client: *const sse_client,
    kind: MaybeUninit<sse_error_kind>,
    out: *mut u64,
) -> sse_result {
    ffi_result!({
        // SAFETY: as promised by the caller.
        let client = unsafe { try_ref(client, "client") }?;
        check_out(out, "out")?;
        // SAFETY: an argument received from C: initialized.
        let kind = unsafe { try_enum(kind, "sse_client_error_count", "kind") }?;
        let count = client.inner.stats().errors[ErrorKind::from(kind).index()];
        // SAFETY: checked non-NULL, writable as promised.
        unsafe { write_out(out, count) };
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::super::c_values::CEnum;
    use super::*;

    #[test]
    fn stats_fill_the_error_slots_with_the_counts_of_kinds_0_to_6() {
        let mut stats = Stats {
            connection_attempts: 1,
            connections_opened: 2,
            events: 3,
            comments: 4,
            bytes_received: 5,
            reconnect_delay: Duration::from_millis(6),
            time_connected: Duration::from_micros(7_900),
            ..Stats::default()
        };
        for kind in ErrorKind::ALL {
            stats.errors[kind.index()] = 100 + kind.index() as u64;
        }
        let view = sse_stats::from(&stats);
        assert_eq!(
            view,
            sse_stats {
                connection_attempts: 1,
                connections_opened: 2,
                events: 3,
                comments: 4,
                bytes_received: 5,
                errors: [100, 101, 102, 103, 104, 105, 106],
                reconnect_delay_ms: 6,
                time_connected_ms: 7,
            }
        );
        for kind in sse_error_kind::ALL {
            assert_eq!(
                view.errors[*kind as usize],
                stats.errors[ErrorKind::from(*kind).index()]
            );
        }
    }
}
