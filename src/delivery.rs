//! Handing what the worker finds to the host: through a [`Handler`] (callback mode) or into
//! a bounded queue with a wakeup fd (poll mode), and never after the host closed the client.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, ThreadId};

use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, TryRecvError, TrySendError};

use crate::parser::Event;
use crate::report::{ClientError, Message, OwnedEvent, ReadyState};
use crate::text::Text;
use crate::wakeup::Wakeup;

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
    /// The end of a batch: what was delivered since the last flush may be announced (the
    /// poll queue signals its wakeup fd here). Called after each read's events and after
    /// every other delivery.
    fn flush(&mut self) {}
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
    handler: Box<dyn Handler>,
    gate: Arc<CloseGate>,
}

impl Deliverer {
    pub fn new(handler: Box<dyn Handler>, gate: Arc<CloseGate>) -> Deliverer {
        Deliverer { handler, gate }
    }

    // Each returns false when the client was closed and nothing was delivered.
    pub fn open(&mut self, http_status: u16) -> bool {
        let handler = &mut self.handler;
        self.gate.run(|| {
            handler.on_open(http_status);
            handler.flush();
        })
    }

    /// After a batch delivered with the gate held: announce it (see [`Handler::flush`]).
    pub fn end_batch(&mut self) {
        self.handler.flush();
    }

    /// `event` for a worker that holds the gate ([`CloseGate::hold`]).
    pub fn event_in_batch(&mut self, event: &Event<'_>) -> bool {
        if self.gate.is_closed() {
            return false;
        }
        self.handler.on_event(event);
        true
    }

    /// `comment` for a worker that holds the gate ([`CloseGate::hold`]).
    pub fn comment_in_batch(&mut self, text: Text<'_>) -> bool {
        if self.gate.is_closed() {
            return false;
        }
        self.handler.on_comment(text);
        true
    }

    pub fn error(&mut self, error: &ClientError) -> bool {
        let handler = &mut self.handler;
        self.gate.run(|| {
            handler.on_error(error);
            handler.flush();
        })
    }

    pub fn state(&mut self, state: ReadyState) -> bool {
        let handler = &mut self.handler;
        self.gate.run(|| {
            handler.on_state(state);
            handler.flush();
        })
    }
}

/// Poll mode, the worker's end: a [`Handler`] that queues owned messages.
///
/// When the queue is full the send blocks, so the worker stops reading the socket until
/// the host polls (backpressure; nothing is dropped). The block ends early when the
/// client is closed: `stop` is disconnected then.
pub(crate) struct QueueHandler {
    sender: Sender<Message>,
    wakeup: Arc<Wakeup>,
    stop: Receiver<()>,
    /// Queued but not yet counted on the wakeup fd: counted per batch (one read's
    /// events), not per message, which halves the locking on the hot path.
    uncounted: usize,
}

impl QueueHandler {
    fn push(&mut self, message: Message) {
        let sent = match self.sender.try_send(message) {
            Ok(()) => true,
            Err(TrySendError::Full(message)) => {
                // The host must be able to see what is queued before the worker waits
                // for it to make room.
                self.flush();
                crossbeam_channel::select! {
                    send(self.sender, message) -> result => result.is_ok(),
                    recv(self.stop) -> _ => false,
                }
            }
            Err(TrySendError::Disconnected(_)) => false,
        };
        if sent {
            self.uncounted += 1;
        }
    }
}

impl Handler for QueueHandler {
    fn flush(&mut self) {
        self.wakeup.pushed_many(std::mem::take(&mut self.uncounted));
    }

    fn on_open(&mut self, http_status: u16) {
        self.push(Message::Open { http_status });
    }
    fn on_event(&mut self, event: &Event<'_>) {
        self.push(Message::Event(OwnedEvent::from_event(event)));
    }
    fn on_comment(&mut self, text: Text<'_>) {
        self.push(Message::comment(text));
    }
    fn on_error(&mut self, error: &ClientError) {
        self.push(Message::Error(Box::new(error.clone())));
    }
    fn on_state(&mut self, state: ReadyState) {
        self.push(Message::State(state));
    }
}

/// Poll mode, the host's end.
#[derive(Debug)]
pub(crate) struct QueueReceiver {
    receiver: Receiver<Message>,
    wakeup: Arc<Wakeup>,
    /// Disconnected when the host closes the client.
    stop: Receiver<()>,
}

/// Why [`QueueReceiver::poll`] returned no message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PollError {
    /// Nothing arrived in time.
    Timeout,
    /// The worker has ended and the queue is drained.
    Closed,
    /// The client delivers through callbacks; there is no queue.
    WrongMode,
}

impl QueueReceiver {
    /// Waits up to `timeout` (`None`: without limit) for the next message. Messages queued
    /// before the client closed are still handed out; then [`PollError::Closed`].
    pub fn poll(&self, timeout: Option<Duration>) -> Result<Message, PollError> {
        let received = match self.receiver.try_recv() {
            Ok(message) => Ok(message),
            Err(TryRecvError::Disconnected) => Err(PollError::Closed),
            Err(TryRecvError::Empty) if timeout == Some(Duration::ZERO) => self.closed_or_timeout(),
            Err(TryRecvError::Empty) => self.wait(timeout),
        };
        if received.is_ok() {
            self.wakeup.popped();
        }
        received
    }

    /// Nothing is queued: closed by the host (the worker may not have ended yet, but will
    /// queue nothing more), or simply nothing yet.
    fn closed_or_timeout(&self) -> Result<Message, PollError> {
        match self.stop.try_recv() {
            Err(TryRecvError::Disconnected) => {
                self.receiver.try_recv().map_err(|_| PollError::Closed)
            }
            _ => Err(PollError::Timeout),
        }
    }

    fn wait(&self, timeout: Option<Duration>) -> Result<Message, PollError> {
        let deadline = match timeout {
            Some(t) => crossbeam_channel::after(t),
            None => crossbeam_channel::never(),
        };
        crossbeam_channel::select! {
            recv(self.receiver) -> message => message.map_err(|_| PollError::Closed),
            // Closed by the host: the worker may still be winding down, but nothing new
            // will be queued, so the host need not wait for it.
            recv(self.stop) -> _ => self.receiver.try_recv().map_err(|_| PollError::Closed),
            recv(deadline) -> _ => Err(PollError::Timeout),
        }
    }

    pub fn wakeup_fd(&self) -> std::os::fd::RawFd {
        self.wakeup.raw_fd()
    }
}

/// A bounded queue of `capacity` messages: the worker's handler and the host's receiver.
pub(crate) fn queue(
    capacity: usize,
    stop: Receiver<()>,
) -> std::io::Result<(QueueHandler, QueueReceiver)> {
    let wakeup = Arc::new(Wakeup::new()?);
    let (sender, receiver) = crossbeam_channel::bounded(capacity);
    Ok((
        QueueHandler {
            sender,
            wakeup: wakeup.clone(),
            stop: stop.clone(),
            uncounted: 0,
        },
        QueueReceiver {
            receiver,
            wakeup,
            stop,
        },
    ))
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
        let mut deliverer = Deliverer::new(Box::new(Recorder(seen.clone())), gate.clone());
        assert!(deliverer.state(ReadyState::Open));
        gate.mark_closed();
        gate.wait_for_callback();
        assert!(!deliverer.state(ReadyState::Closed));
        assert_eq!(*seen.lock().unwrap(), ["Open"]);
    }

    #[test]
    fn a_full_queue_blocks_the_worker_until_stopped() {
        let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(0);
        let (mut handler, receiver) = queue(1, stop_rx).unwrap();
        handler.on_open(200);
        let blocked = std::thread::spawn(move || {
            handler.on_state(ReadyState::Open); // the queue is full: blocks
            handler
        });
        std::thread::sleep(Duration::from_millis(50));
        assert!(!blocked.is_finished(), "a full queue must block the worker");
        drop(stop_tx);
        blocked.join().unwrap();
        assert_eq!(receiver.poll(None), Ok(Message::Open { http_status: 200 }));
    }

    #[test]
    fn a_zero_timeout_poll_reports_closed_as_soon_as_the_host_closed() {
        let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(0);
        // The worker's handler is still alive: it has not ended yet.
        let (_handler, receiver) = queue(4, stop_rx).unwrap();
        assert_eq!(receiver.poll(Some(Duration::ZERO)), Err(PollError::Timeout));
        drop(stop_tx);
        assert_eq!(receiver.poll(Some(Duration::ZERO)), Err(PollError::Closed));
    }

    #[test]
    fn poll_reports_timeout_then_closed_once_the_worker_is_gone() {
        let (_stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(0);
        let (mut handler, receiver) = queue(4, stop_rx).unwrap();
        assert_eq!(receiver.poll(Some(Duration::ZERO)), Err(PollError::Timeout));
        assert_eq!(
            receiver.poll(Some(Duration::from_millis(5))),
            Err(PollError::Timeout)
        );
        handler.on_state(ReadyState::Closed);
        drop(handler);
        assert_eq!(receiver.poll(None), Ok(Message::State(ReadyState::Closed)));
        assert_eq!(receiver.poll(None), Err(PollError::Closed));
    }
}
