//! The state a client handle shares with its worker thread.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam_channel::{Receiver, Sender};
use ureq::Agent;

use crate::delivery::CloseGate;
use crate::report::ReadyState;

#[derive(Debug)]
pub(crate) struct Shared {
    pub gate: Arc<CloseGate>,
    state: AtomicU8,
    last_event_id: Mutex<String>,
    /// Dropped by close(): every wait on its receiver (backoff sleep, full queue) ends.
    stop: Mutex<Option<Sender<()>>>,
    /// Shut down by close(): interrupts a request or body read blocked on the socket.
    agent: Agent,
}

impl Shared {
    /// The shared state and the receiver the worker waits on.
    pub fn new(agent: Agent, last_event_id: &str) -> (Shared, Receiver<()>) {
        let (stop_tx, stop_rx) = crossbeam_channel::bounded(0);
        let shared = Shared {
            gate: Arc::default(),
            state: AtomicU8::new(ReadyState::Connecting as u8),
            last_event_id: Mutex::new(last_event_id.to_owned()),
            stop: Mutex::new(Some(stop_tx)),
            agent,
        };
        (shared, stop_rx)
    }

    pub fn agent(&self) -> &Agent {
        &self.agent
    }

    pub fn ready_state(&self) -> ReadyState {
        ReadyState::from_u8(self.state.load(Ordering::Acquire))
    }

    /// Sets the state; returns whether it changed.
    pub fn set_ready_state(&self, state: ReadyState) -> bool {
        self.state.swap(state as u8, Ordering::AcqRel) != state as u8
    }

    pub fn last_event_id(&self) -> String {
        self.lock_last_event_id().clone()
    }

    pub fn set_last_event_id(&self, id: &str) {
        let mut current = self.lock_last_event_id();
        current.clear();
        current.push_str(id);
    }

    fn lock_last_event_id(&self) -> std::sync::MutexGuard<'_, String> {
        self.last_event_id.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops the worker wherever it is. Once this returns no callback runs again (unless
    /// called from a callback, which finishes first). Idempotent.
    pub fn close(&self) {
        self.state
            .store(ReadyState::Closed as u8, Ordering::Release);
        self.gate.mark_closed();
        drop(self.stop.lock().unwrap_or_else(|e| e.into_inner()).take());
        self.agent.clone().shutdown();
        self.gate.wait_for_callback();
    }
}
