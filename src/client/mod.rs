//! The client handle: starts the worker, closes it, and (poll mode) hands out messages.

mod connection;
pub(crate) mod shared;
pub(crate) mod stats;
mod worker;

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::client::shared::Shared;
use crate::client::stats::Stats;
use crate::client::worker::Worker;
use crate::config::Config;
use crate::delivery::batch::BatchMessage;
use crate::delivery::poll_queue::{self, PollError, QueueReceiver, TakenBatches};
use crate::delivery::published_id::PublishedId;
use crate::delivery::report::{Message, ReadyState};
use crate::delivery::{Deliverer, Destination, Handler};
use crate::os::fork::{self, ProcessLocal};
use crate::os::wakeup::RawHandle;

/// Small stacks: the worker's deep frames are the TLS handshake and the parser, both far
/// below this; thousands of idle streams should not each reserve 8 MiB of address space.
const WORKER_STACK_SIZE: usize = 256 * 1024;

/// A running SSE client: one worker thread that connects, reads and reconnects.
///
/// Dropping it closes it and waits for the worker thread to end.
///
/// In a child of fork() a client opened before the fork is inherited (see
/// [`inherited_across_fork`](Client::inherited_across_fork)): it answers as a closed client
/// without touching its locks, threads or descriptors, and dropping it leaks it.
pub struct Client {
    running: ProcessLocal<Running>,
}

/// What a client owns in the process that opened it.
struct Running {
    shared: Arc<Shared>,
    worker: Option<JoinHandle<()>>,
    queue: Option<QueueReceiver>,
}

impl Client {
    /// Starts a client that delivers through `handler`, on the worker thread.
    pub fn open(config: &Config, handler: impl Handler + 'static) -> std::io::Result<Client> {
        let last_event_id = Arc::new(PublishedId::new(&config.last_event_id));
        Client::start(
            config,
            Destination::Host(Box::new(handler)),
            None,
            last_event_id,
        )
    }

    /// Starts a client that queues messages for [`Client::poll`].
    pub fn open_polled(config: &Config) -> std::io::Result<Client> {
        let last_event_id = Arc::new(PublishedId::new(&config.last_event_id));
        let (handler, receiver) = poll_queue::queue(config.queue_capacity, last_event_id.clone())?;
        Client::start(
            config,
            Destination::Queue(handler),
            Some(receiver),
            last_event_id,
        )
    }

    fn start(
        config: &Config,
        destination: Destination,
        queue: Option<QueueReceiver>,
        last_event_id: Arc<PublishedId>,
    ) -> std::io::Result<Client> {
        // Before the worker starts: a fork from then on must be noticed.
        fork::watch()?;
        let (shared, signals) =
            Shared::new(last_event_id, queue.as_ref().map(|q| q.queue().clone()));
        let shared = Arc::new(shared);
        let deliverer = Deliverer::new(destination, shared.gate.clone());
        let worker = Worker::new(config.clone(), shared.clone(), deliverer, signals);
        let worker = std::thread::Builder::new()
            .name("sse_client".into())
            .stack_size(WORKER_STACK_SIZE)
            .spawn(move || worker.run())?;
        Ok(Client {
            running: ProcessLocal::new(Running {
                shared,
                worker: Some(worker),
                queue,
            }),
        })
    }

    /// Whether this process is a child of fork() and the client was opened before the
    /// fork. Such a client has no worker here (only the thread that called fork() went on
    /// in the child), and any lock another thread held at the fork stays held: every
    /// method then answers as for a closed client without taking a lock, and dropping it
    /// leaks it instead of waiting for a thread that does not exist. The parent's copy is
    /// not affected. Always false where there is no fork().
    pub fn inherited_across_fork(&self) -> bool {
        self.running.inherited()
    }

    /// Closed for an inherited client.
    pub fn ready_state(&self) -> ReadyState {
        self.running
            .get()
            .map_or(ReadyState::Closed, |r| r.shared.ready_state())
    }

    /// The last event ID: the configured one until the server sends an `id`. Empty for an
    /// inherited client (reading it could take a lock the parent's worker held).
    pub fn last_event_id(&self) -> String {
        self.running
            .get()
            .map_or_else(String::new, |r| r.shared.last_event_id())
    }

    /// Stops the worker wherever it is and returns promptly; once it returns no callback
    /// of this client runs again. From inside a callback it does not wait for itself.
    /// Idempotent. Does nothing to an inherited client (the parent's keeps running).
    pub fn close(&self) {
        if let Some(running) = self.running.get() {
            running.shared.close();
        }
    }

    /// Drops the current connection, or cuts the backoff wait short, and reconnects at
    /// once; the backoff starts over. No error is reported for the dropped stream (the
    /// host asked), only the state change to CONNECTING. For a host that learns the
    /// network came back. False when the client is closed, or inherited.
    pub fn restart(&self) -> bool {
        self.running.get().is_some_and(|r| r.shared.restart())
    }

    /// A snapshot of the client's counters; all zero for an inherited client (the
    /// counters stay with the parent, and reading them takes a lock).
    pub fn stats(&self) -> Stats {
        self.running
            .get()
            .map_or_else(Stats::default, |r| r.shared.stats.snapshot())
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

    /// Poll mode's queue; callback mode has none. An inherited client is closed, in
    /// either mode, at once: its queue's lock may be held forever.
    fn receiver(&self) -> Result<&QueueReceiver, PollError> {
        let running = self.running.get().ok_or(PollError::Closed)?;
        running.queue.as_ref().ok_or(PollError::WrongMode)
    }

    /// Poll mode: what an event loop waits on, readable while at least one message is
    /// queued and announced: a file descriptor on POSIX, a SOCKET on Windows (as an
    /// `isize`, C's `intptr_t`). None in callback mode, and for an inherited client:
    /// reading the parent's descriptor would steal the parent's wakeups.
    pub fn wakeup_handle(&self) -> Option<RawHandle> {
        self.running
            .get()?
            .queue
            .as_ref()
            .map(QueueReceiver::wakeup_handle)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shared.close();
        if let Some(worker) = self.worker.take() {
            // Dropped from its own callback (a host bug the C API documents), the thread
            // cannot wait for itself: it ends on its own once the callback returns.
            if !self.shared.gate.on_worker_thread() {
                let _ = worker.join();
            }
        }
    }
}
