//! Handing what the worker finds to the host through a [`Handler`] (the host's callbacks,
//! or poll mode's queue in `poll_queue`), and never after the host closed the client.

pub(crate) mod batch;
pub(crate) mod poll_queue;
pub(crate) mod published_id;
pub(crate) mod report;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, ThreadId};

use crate::delivery::poll_queue::QueueHandler;
use crate::delivery::report::{ClientError, ReadyState};
use crate::http::transport::BeforeWait;
use crate::sse::parser::Event;
use crate::sse::text::Text;

/// What a host implements to receive a client's output, on the client's worker thread, one
/// call at a time. Borrowed arguments are valid only until the call returns.
pub trait Handler: Send {
    /// Each successful (re)connect, with the HTTP status (200).
    fn on_open(&mut self, _http_status: u16) {}
    fn on_event(&mut self, _event: &Event<'_>) {}
    /// A comment line (heartbeat): the text after the colon, one leading space removed.
    fn on_comment(&mut self, _text: Text<'_>) {}
    fn on_error(&mut self, _error: &ClientError) {}
    /// Every readyState change.
    fn on_state(&mut self, _state: ReadyState) {}
}

/// Where a client's output goes: the host's [`Handler`], or poll mode's queue. The queue
/// needs a protocol a host's callbacks do not (flush, the end of a read, a hook before the
/// worker waits); it stays inside the crate, here, instead of in the public trait.
pub(crate) enum Destination {
    Host(Box<dyn Handler>),
    Queue(QueueHandler),
}

impl Destination {
    fn handler(&mut self) -> &mut dyn Handler {
        match self {
            Destination::Host(handler) => handler.as_mut(),
            Destination::Queue(queue) => queue,
        }
    }

    /// What was delivered since the last flush must reach the host now (the poll queue
    /// signals its wakeup handle here). Called after every delivery other than events, and
    /// before the worker waits for anything but the network. Callbacks need none: each
    /// has reached the host when it returns.
    fn flush(&mut self) {
        if let Destination::Queue(queue) = self {
            queue.flush();
        }
    }

    /// The end of one read's events. The queue may hold them back until its
    /// [`BeforeWait`] hook runs.
    fn end_read(&mut self) {
        if let Destination::Queue(queue) = self {
            queue.end_read();
        }
    }

    /// A hook for the worker to run before it waits for the network (see `transport`).
    fn before_wait(&mut self) -> Option<BeforeWait> {
        match self {
            Destination::Host(_) => None,
            Destination::Queue(queue) => Some(queue.before_wait()),
        }
    }
}

/// Makes "once close() returns, no callback runs" true.
///
/// The worker runs each callback holding `running`, after checking `closed`; close() sets
/// `closed` and then takes `running` once, which waits out a callback in flight. From the
/// worker thread itself (close inside a callback) it must not wait: the lock is held by the
/// very callback that is calling.
#[derive(Debug, Default)]
pub(crate) struct CloseGate {
    closed: AtomicBool,
    running: Mutex<()>,
    worker: OnceLock<ThreadId>,
}

impl CloseGate {
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Called once by the worker thread when it starts.
    pub fn enter_worker(&self) {
        let _ = self.worker.set(thread::current().id());
    }

    pub fn on_worker_thread(&self) -> bool {
        self.worker.get() == Some(&thread::current().id())
    }

    /// No callback starts after this.
    pub fn mark_closed(&self) {
        self.closed.store(true, Ordering::Release);
    }

    /// Waits until a callback in flight has returned, unless called from that callback.
    pub fn wait_for_callback(&self) {
        if !self.on_worker_thread() {
            drop(self.running.lock().unwrap_or_else(|e| e.into_inner()));
        }
    }

    /// Holds off close() for a batch of callbacks: the worker takes it once per read, not
    /// once per event, and each callback of the batch still checks `closed` first (see
    /// [`Deliverer::event_in_batch`]). close() then waits for the batch's current callback
    /// to return, as before, and none starts after.
    pub fn hold(&self) -> std::sync::MutexGuard<'_, ()> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs a host hook (request or response) like a callback: never after close().
    pub fn run_hook(&self, call: impl FnOnce()) -> bool {
        self.run(call)
    }

    /// Runs `call` unless the gate is closed; false when it was closed.
    fn run(&self, call: impl FnOnce()) -> bool {
        let _running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if self.is_closed() {
            return false;
        }
        call();
        true
    }
}

/// The worker's side of delivery: a handler behind the close gate.
pub(crate) struct Deliverer {
    destination: Destination,
    gate: Arc<CloseGate>,
}

impl Deliverer {
    pub fn new(destination: Destination, gate: Arc<CloseGate>) -> Deliverer {
        Deliverer { destination, gate }
    }

    // Each returns false when the client was closed and nothing was delivered.
    pub fn open(&mut self, http_status: u16) -> bool {
        let destination = &mut self.destination;
        self.gate.run(|| {
            destination.handler().on_open(http_status);
            destination.flush();
        })
    }

    /// After a read's events, delivered with the gate held (see [`Destination::end_read`]).
    pub fn end_read(&mut self) {
        self.destination.end_read();
    }

    /// See [`Destination::flush`].
    pub fn flush(&mut self) {
        self.destination.flush();
    }

    /// See [`Destination::before_wait`].
    pub fn before_wait(&mut self) -> Option<BeforeWait> {
        self.destination.before_wait()
    }

    /// `event` for a worker that holds the gate ([`CloseGate::hold`]).
    pub fn event_in_batch(&mut self, event: &Event<'_>) -> bool {
        if self.gate.is_closed() {
            return false;
        }
        self.destination.handler().on_event(event);
        true
    }

    /// `comment` for a worker that holds the gate ([`CloseGate::hold`]).
    pub fn comment_in_batch(&mut self, text: Text<'_>) -> bool {
        if self.gate.is_closed() {
            return false;
        }
        self.destination.handler().on_comment(text);
        true
    }

    pub fn error(&mut self, error: &ClientError) -> bool {
        let destination = &mut self.destination;
        self.gate.run(|| {
            destination.handler().on_error(error);
            destination.flush();
        })
    }

    pub fn state(&mut self, state: ReadyState) -> bool {
        let destination = &mut self.destination;
        self.gate.run(|| {
            destination.handler().on_state(state);
            destination.flush();
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Recorder(Arc<Mutex<Vec<String>>>);

    impl Handler for Recorder {
        fn on_state(&mut self, state: ReadyState) {
            self.0.lock().unwrap().push(format!("{state:?}"));
        }
    }

    #[test]
    fn nothing_is_delivered_after_the_gate_closes() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let gate = Arc::new(CloseGate::default());
        let mut deliverer = Deliverer::new(
            Destination::Host(Box::new(Recorder(seen.clone()))),
            gate.clone(),
        );
        assert!(deliverer.state(ReadyState::Open));
        gate.mark_closed();
        gate.wait_for_callback();
        assert!(!deliverer.state(ReadyState::Closed));
        assert_eq!(*seen.lock().unwrap(), ["Open"]);
    }
}
