//! Counters a host can read while a client runs (`sse_client_stats`): updated by the
//! worker with relaxed atomics, at most once per read for the hot counters.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::delivery::report::ErrorKind;

/// A snapshot of a client's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Connection attempts started (the first connect included).
    pub connection_attempts: u64,
    /// Attempts that opened a stream (200, text/event-stream).
    pub connections_opened: u64,
    pub events: u64,
    pub comments: u64,
    /// Body bytes received, as on the wire after de-chunking.
    pub bytes_received: u64,
    /// Errors reported, by kind (index: [`ErrorKind::index`]).
    pub errors: [u64; ErrorKind::COUNT],
    /// The wait before the pending (or last) reconnect.
    pub reconnect_delay: Duration,
    /// Total time spent in the OPEN state, the current connection included.
    pub time_connected: Duration,
}

#[derive(Debug, Default)]
pub(crate) struct StatsCounters {
    attempts: AtomicU64,
    opened: AtomicU64,
    events: AtomicU64,
    comments: AtomicU64,
    bytes: AtomicU64,
    errors: [AtomicU64; ErrorKind::COUNT],
    reconnect_delay_ms: AtomicU64,
    connected: Mutex<ConnectedTime>,
}

#[derive(Debug, Default)]
struct ConnectedTime {
    closed_total: Duration,
    open_since: Option<Instant>,
}

impl StatsCounters {
    pub fn attempt_started(&self) {
        self.attempts.fetch_add(1, Relaxed);
    }

    pub fn opened(&self) {
        self.opened.fetch_add(1, Relaxed);
        self.lock_connected().open_since = Some(Instant::now());
    }

    pub fn stream_ended(&self) {
        let mut connected = self.lock_connected();
        if let Some(since) = connected.open_since.take() {
            connected.closed_total += since.elapsed();
        }
    }

    /// One read's worth of progress.
    pub fn received(&self, bytes: usize, events: u64, comments: u64) {
        self.bytes.fetch_add(bytes as u64, Relaxed);
        if events > 0 {
            self.events.fetch_add(events, Relaxed);
        }
        if comments > 0 {
            self.comments.fetch_add(comments, Relaxed);
        }
    }

    pub fn error(&self, kind: ErrorKind, reconnect_delay: Option<Duration>) {
        self.errors[kind.index()].fetch_add(1, Relaxed);
        if let Some(delay) = reconnect_delay {
            let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
            self.reconnect_delay_ms.store(ms, Relaxed);
        }
    }

    pub fn snapshot(&self) -> Stats {
        let time_connected = {
            let connected = self.lock_connected();
            connected.closed_total + connected.open_since.map_or(Duration::ZERO, |s| s.elapsed())
        };
        Stats {
            connection_attempts: self.attempts.load(Relaxed),
            connections_opened: self.opened.load(Relaxed),
            events: self.events.load(Relaxed),
            comments: self.comments.load(Relaxed),
            bytes_received: self.bytes.load(Relaxed),
            errors: std::array::from_fn(|i| self.errors[i].load(Relaxed)),
            reconnect_delay: Duration::from_millis(self.reconnect_delay_ms.load(Relaxed)),
            time_connected,
        }
    }

    fn lock_connected(&self) -> std::sync::MutexGuard<'_, ConnectedTime> {
        self.connected.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_accumulate_and_connected_time_includes_the_open_stream() {
        let stats = StatsCounters::default();
        stats.attempt_started();
        stats.opened();
        stats.received(100, 2, 1);
        stats.received(50, 0, 0);
        stats.error(ErrorKind::StreamEnded, Some(Duration::from_millis(250)));
        std::thread::sleep(Duration::from_millis(5));
        let open = stats.snapshot();
        assert!(open.time_connected >= Duration::from_millis(5));
        stats.stream_ended();
        let snapshot = stats.snapshot();
        assert_eq!(snapshot.connection_attempts, 1);
        assert_eq!(snapshot.connections_opened, 1);
        assert_eq!((snapshot.events, snapshot.comments), (2, 1));
        assert_eq!(snapshot.bytes_received, 150);
        assert_eq!(snapshot.errors[ErrorKind::StreamEnded.index()], 1);
        assert_eq!(snapshot.reconnect_delay, Duration::from_millis(250));
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(
            stats.snapshot().time_connected,
            snapshot.time_connected,
            "frozen once closed"
        );
    }
}
