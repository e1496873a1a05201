//! The state a client handle shares with its worker thread.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crossbeam_channel::{Receiver, Sender};
use ureq::Agent;

use crate::client::stats::StatsCounters;
use crate::delivery::poll_queue::Queue;
use crate::delivery::published_id::PublishedId;
use crate::delivery::report::ReadyState;
use crate::delivery::CloseGate;
use crate::sse::text::Text;

#[derive(Debug)]
pub(crate) struct Shared {
    pub gate: Arc<CloseGate>,
    pub stats: StatsCounters,
    state: AtomicU8,
    /// Shared with poll mode's queue, which takes long IDs from it (see `PublishedId`).
    last_event_id: Arc<PublishedId>,
    /// Dropped by close(): every wait on its receiver (backoff sleep, full queue) ends.
    stop: Mutex<Option<Sender<()>>>,
    /// The agent of the attempt in flight. Shutting it down interrupts a request or body
    /// read blocked on the socket: close() and restart() do.
    agent: Mutex<Option<Agent>>,
    restart_requested: AtomicBool,
    /// restart() wakes the worker from its backoff sleep through this (capacity 1).
    wake: Sender<()>,
    /// Poll mode's queue: close() ends the waits on it (a worker blocked on a full queue).
    queue: Option<Arc<Queue>>,
}

/// What the worker waits on.
pub(crate) struct WorkerSignals {
    /// Disconnected when the client is closed.
    pub stop: Receiver<()>,
    /// Receives when a restart is requested.
    pub wake: Receiver<()>,
}

impl Shared {
    pub fn new(
        last_event_id: Arc<PublishedId>,
        queue: Option<Arc<Queue>>,
    ) -> (Shared, WorkerSignals) {
        let (stop_tx, stop) = crossbeam_channel::bounded(0);
        let (wake_tx, wake) = crossbeam_channel::bounded(1);
        let shared = Shared {
            gate: Arc::default(),
            stats: StatsCounters::default(),
            state: AtomicU8::new(ReadyState::Connecting as u8),
            last_event_id,
            stop: Mutex::new(Some(stop_tx)),
            agent: Mutex::new(None),
            restart_requested: AtomicBool::new(false),
            wake: wake_tx,
            queue,
        };
        (shared, WorkerSignals { stop, wake })
    }

    pub fn ready_state(&self) -> ReadyState {
        ReadyState::from_u8(self.state.load(Ordering::Acquire))
    }

    /// Sets the state; returns whether it changed. CLOSED is final: once the host closed
    /// the client (or the worker gave up) no late transition of the worker undoes it.
    pub fn set_ready_state(&self, state: ReadyState) -> bool {
        let closed = ReadyState::Closed as u8;
        self.state
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |current| {
                (current != closed && current != state as u8).then_some(state as u8)
            })
            .is_ok()
    }

    pub fn last_event_id(&self) -> String {
        self.last_event_id.read()
    }

    /// Only the worker calls this, before it delivers an event that carries `id`.
    pub fn set_last_event_id(&self, id: Text<'_>) {
        self.last_event_id.publish(id);
    }

    /// Poll mode: the worker saw a new ID, which the queue publishes when it queues the
    /// events that carry it (see `PublishedId`).
    pub fn note_new_last_event_id(&self) {
        self.last_event_id.note_new_id();
    }

    /// Poll mode: the queue publishes the IDs itself.
    pub fn is_polled(&self) -> bool {
        self.queue.is_some()
    }

    /// Makes `agent` the one close() and restart() interrupt. False (and the agent is shut
    /// down) when the client is already closed: checked under the same lock close() takes,
    /// so an attempt cannot slip past a close.
    pub fn install_agent(&self, agent: &Agent) -> bool {
        let mut slot = lock(&self.agent);
        if self.gate.is_closed() {
            agent.clone().shutdown();
            return false;
        }
        *slot = Some(agent.clone());
        true
    }

    /// Whether a restart was requested since the last call; clears the request.
    pub fn take_restart_request(&self) -> bool {
        self.restart_requested.swap(false, Ordering::AcqRel)
    }

    /// Drops the current connection (or the backoff wait) and reconnects at once. False
    /// when the client is closed.
    pub fn restart(&self) -> bool {
        // Closed by the host, or for good by the worker (which has then ended).
        if self.gate.is_closed() || self.ready_state() == ReadyState::Closed {
            return false;
        }
        self.restart_requested.store(true, Ordering::Release);
        if let Some(agent) = lock(&self.agent).take() {
            agent.shutdown();
        }
        let _ = self.wake.try_send(());
        true
    }

    /// Stops the worker wherever it is. Once this returns no callback runs again (unless
    /// called from a callback, which finishes first). Idempotent.
    pub fn close(&self) {
        self.state
            .store(ReadyState::Closed as u8, Ordering::Release);
        self.gate.mark_closed();
        drop(lock(&self.stop).take());
        if let Some(queue) = &self.queue {
            queue.close();
        }
        if let Some(agent) = lock(&self.agent).take() {
            agent.shutdown();
        }
        self.gate.wait_for_callback();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
