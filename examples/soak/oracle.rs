//! The oracle: checks every message one client receives, whichever way it was delivered,
//! against the numbered stream (exactly once, in order, the right type and data), and keeps
//! the counts the report and the sampler read. Counters are atomics because the checker
//! runs on a worker or the poll thread while the main thread reads them.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use sse_client::{ClientError, ErrorKind, Event, Message};

use crate::numbered_events::event_matches;

/// What one client saw, shared by its handler (or the poll drainer) and the main thread.
#[derive(Default)]
pub struct Tally {
    pub events: AtomicU64,
    pub opens: AtomicU64,
    pub last_id: AtomicU64,
    pub lost: AtomicU64,
    pub duplicated: AtomicU64,
    pub corrupt: AtomicU64,
    /// Errors a dropped connection causes: STREAM_ENDED or IO.
    pub drops: AtomicU64,
    pub unexpected_errors: AtomicU64,
    pub gave_up: AtomicBool,
    /// The first thing that went wrong, in words.
    pub problem: Mutex<Option<String>>,
}

impl Tally {
    fn problem(&self, what: String) {
        self.problem.lock().unwrap().get_or_insert(what);
    }

    pub fn reconnects(&self) -> u64 {
        self.opens.load(Relaxed).saturating_sub(1)
    }
}

/// For the sampler: all clients together.
#[derive(Default)]
pub struct Totals {
    pub events: AtomicU64,
    pub reconnects: AtomicU64,
}

/// Checks one client's messages, whichever way they are delivered.
pub struct Checker {
    next_id: u64,
    tally: Arc<Tally>,
    totals: Arc<Totals>,
}

impl Checker {
    /// A checker for a fresh client: the server numbers events from 1.
    pub fn new(tally: Arc<Tally>, totals: Arc<Totals>) -> Checker {
        Checker {
            next_id: 1,
            tally,
            totals,
        }
    }

    pub fn open(&mut self) {
        if self.tally.opens.fetch_add(1, Relaxed) > 0 {
            self.totals.reconnects.fetch_add(1, Relaxed);
        }
    }

    pub fn event(&mut self, event: &Event<'_>) {
        let tally = &self.tally;
        tally.events.fetch_add(1, Relaxed);
        self.totals.events.fetch_add(1, Relaxed);
        let Ok(id) = event.id.as_str().parse::<u64>() else {
            tally.corrupt.fetch_add(1, Relaxed);
            tally.problem(format!(
                "event with id {:?} after {}",
                event.id,
                self.next_id - 1
            ));
            return;
        };
        if id < self.next_id {
            tally.duplicated.fetch_add(1, Relaxed);
            tally.problem(format!("event {id} again (expected {})", self.next_id));
            return;
        }
        if id > self.next_id {
            tally.lost.fetch_add(id - self.next_id, Relaxed);
            tally.problem(format!("events {}..{id} lost", self.next_id));
        }
        if !event_matches(id, event) {
            tally.corrupt.fetch_add(1, Relaxed);
            tally.problem(format!("event {id} has the wrong type or data: {event:?}"));
        }
        self.next_id = id + 1;
        tally.last_id.store(id, Relaxed);
    }

    pub fn error(&mut self, error: &ClientError) {
        match error.kind {
            ErrorKind::StreamEnded | ErrorKind::Io => self.tally.drops.fetch_add(1, Relaxed),
            _ => {
                self.tally.problem(format!("unexpected error: {error:?}"));
                self.tally.unexpected_errors.fetch_add(1, Relaxed)
            }
        };
        if !error.will_retry {
            self.tally.problem(format!("the client gave up: {error:?}"));
            self.tally.gave_up.store(true, Relaxed);
        }
    }

    pub fn message(&mut self, message: &Message) {
        match message {
            Message::Open { .. } => self.open(),
            Message::Event(event) => self.event(&event.as_event()),
            Message::Error(error) => self.error(error),
            Message::Comment(_) | Message::State(_) => {}
        }
    }
}
