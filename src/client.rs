//! The client handle: starts the worker, closes it, and (poll mode) hands out messages.

use std::os::fd::RawFd;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::batch::BatchMessage;
use crate::config::Config;
use crate::delivery::{Deliverer, Handler};
use crate::poll_queue::{self, PollError, QueueReceiver, TakenBatches};
use crate::published_id::PublishedId;
use crate::report::{Message, ReadyState};
use crate::shared::Shared;
use crate::stats::Stats;
use crate::worker::Worker;

/// Small stacks: the worker's deep frames are the TLS handshake and the parser, both far
/// below this; thousands of idle streams should not each reserve 8 MiB of address space.
const WORKER_STACK_SIZE: usize = 256 * 1024;

/// A running SSE client: one worker thread that connects, reads and reconnects.
///
/// Dropping it closes it and waits for the worker thread to end.
pub struct Client {
    shared: Arc<Shared>,
    worker: Option<JoinHandle<()>>,
    queue: Option<QueueReceiver>,
}

impl Client {
    /// Starts a client that delivers through `handler`, on the worker thread.
    pub fn open(config: &Config, handler: impl Handler + 'static) -> std::io::Result<Client> {
        let last_event_id = Arc::new(PublishedId::new(&config.last_event_id));
        Client::start(config, Box::new(handler), None, last_event_id)
    }

    /// Starts a client that queues messages for [`Client::poll`].
    pub fn open_polled(config: &Config) -> std::io::Result<Client> {
        let last_event_id = Arc::new(PublishedId::new(&config.last_event_id));
        let (handler, receiver) = poll_queue::queue(config.queue_capacity, last_event_id.clone())?;
        Client::start(config, Box::new(handler), Some(receiver), last_event_id)
    }

    fn start(
        config: &Config,
        handler: Box<dyn Handler>,
        queue: Option<QueueReceiver>,
        last_event_id: Arc<PublishedId>,
    ) -> std::io::Result<Client> {
        let (shared, signals) =
            Shared::new(last_event_id, queue.as_ref().map(|q| q.queue().clone()));
        let shared = Arc::new(shared);
        let deliverer = Deliverer::new(handler, shared.gate.clone());
        let worker = Worker::new(config.clone(), shared.clone(), deliverer, signals);
        let worker = std::thread::Builder::new()
            .name("sse_client".into())
            .stack_size(WORKER_STACK_SIZE)
            .spawn(move || worker.run())?;
        Ok(Client {
            shared,
            worker: Some(worker),
            queue,
        })
    }

    pub fn ready_state(&self) -> ReadyState {
        self.shared.ready_state()
    }

    /// The last event ID: the configured one until the server sends an `id`.
    pub fn last_event_id(&self) -> String {
        self.shared.last_event_id()
    }

    /// Stops the worker wherever it is and returns promptly; once it returns no callback
    /// of this client runs again. From inside a callback it does not wait for itself.
    /// Idempotent.
    pub fn close(&self) {
        self.shared.close();
    }

    /// Drops the current connection, or cuts the backoff wait short, and reconnects at
    /// once; the backoff starts over. No error is reported for the dropped stream (the
    /// host asked), only the state change to CONNECTING. For a host that learns the
    /// network came back. False when the client is closed.
    pub fn restart(&self) -> bool {
        self.shared.restart()
    }

    /// A snapshot of the client's counters.
    pub fn stats(&self) -> Stats {
        self.shared.stats.snapshot()
    }

    /// Poll mode: the next message, waiting up to `timeout` (`None`: without limit).
    pub fn poll(&self, timeout: Option<Duration>) -> Result<Message, PollError> {
        self.receiver()?.poll(timeout)
    }

    /// Poll mode: like [`poll`](Client::poll), but hands the message to `take` (under the
    /// queue's lock) instead of copying it out.
    pub fn poll_with<T>(
        &self,
        timeout: Option<Duration>,
        take: impl FnOnce(BatchMessage<'_>) -> T,
    ) -> Result<T, PollError> {
        self.receiver()?.poll_with(timeout, take)
    }

    /// Poll mode: waits like [`poll`](Client::poll) for at least one message, then takes
    /// every queued message at once (at most the queue capacity).
    pub fn poll_all(&self, timeout: Option<Duration>) -> Result<TakenBatches, PollError> {
        self.receiver()?.poll_all(timeout)
    }

    /// Poll mode's queue; callback mode has none.
    fn receiver(&self) -> Result<&QueueReceiver, PollError> {
        self.queue.as_ref().ok_or(PollError::WrongMode)
    }

    /// Poll mode: a descriptor readable while at least one message is queued.
    pub fn wakeup_fd(&self) -> Option<RawFd> {
        self.queue.as_ref().map(QueueReceiver::wakeup_fd)
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.close();
        if let Some(worker) = self.worker.take() {
            // Dropped from its own callback (a host bug the C API documents), the thread
            // cannot wait for itself: it ends on its own once the callback returns.
            if !self.shared.gate.on_worker_thread() {
                let _ = worker.join();
            }
        }
    }
}
