//! The worker thread: connect, read, feed the parser, deliver, wait, reconnect; stop when
//! the host closes the client or the policy gives up; start over at once on restart.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::select;
use ureq::http::HeaderValue;

use crate::client::connection::{self, Attempt, AttemptFailure, OpenStream};
use crate::client::shared::{Shared, WorkerSignals};
use crate::config::{Config, Remedy, Setting};
use crate::delivery::report::{ClientError, ErrorKind, ReadyState};
use crate::delivery::Deliverer;
use crate::http::request_head;
use crate::policy::{Decision, Ending, Policy, RetrySettings};
use crate::sse::parser::{Event, Parser, Sink, TooLarge};
use crate::sse::text::Text;

/// The read buffer starts small, so that a thousand idle streams cost little, and doubles
/// whenever a read fills it, up to a size at which a 1 MiB event arrives in few reads.
const READ_BUFFER_INITIAL: usize = 4 * 1024;
const READ_BUFFER_MAX: usize = 64 * 1024;

/// How an attempt (and its stream, if it opened) ended.
enum Outcome {
    /// The host closed the client: stop without a word.
    Closed,
    /// The host asked for a restart: reconnect now, without an error.
    Restart,
    Failed(AttemptFailure),
}

pub(crate) struct Worker {
    config: Config,
    shared: Arc<Shared>,
    deliverer: Deliverer,
    signals: WorkerSignals,
    parser: Parser,
    policy: Policy,
    jitter: Jitter,
    read_buffer: Vec<u8>,
    attempts: u32,
    /// The last event ID whose unsendability was logged (a fingerprint of it).
    unsendable_id_logged: Option<u64>,
    /// Kept across attempts, so a retry after a kept-alive 5xx can reuse its connection;
    /// replaced after a restart, which shuts it down for good.
    agent: Option<ureq::Agent>,
}

impl Worker {
    pub fn new(
        config: Config,
        shared: Arc<Shared>,
        deliverer: Deliverer,
        signals: WorkerSignals,
    ) -> Worker {
        let mut parser = Parser::new(config.max_event_size);
        parser.set_last_event_id(&config.last_event_id);
        let policy = Policy::new(RetrySettings {
            initial_delay: config.initial_delay,
            max_delay: config.max_delay,
            max_retries: config.max_retries,
        });
        Worker {
            config,
            shared,
            deliverer,
            signals,
            parser,
            policy,
            jitter: Jitter::seeded(),
            read_buffer: Vec::new(),
            attempts: 0,
            unsendable_id_logged: None,
            agent: None,
        }
    }

    /// The thread's body. A panic (a bug) must not leave the host waiting forever for a
    /// client that silently died: it is reported as a final error, then CLOSED.
    pub fn run(mut self) {
        self.shared.gate.enter_worker();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.run_loop()));
        if let Err(payload) = outcome {
            let detail = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            log::error!("sse_client worker panicked: {detail}");
            if self.closed() {
                return;
            }
            self.shared.set_ready_state(ReadyState::Closed);
            let failure = AttemptFailure {
                kind: ErrorKind::Io,
                http_status: 0,
                message: format!("internal error, client closed (please report it): {detail}"),
                ending: Ending::Fatal,
                remedies: Vec::new(),
            };
            self.report(failure, None);
            self.deliverer.state(ReadyState::Closed);
        }
    }

    fn run_loop(&mut self) {
        loop {
            let failure = match self.attempt() {
                Outcome::Closed => return,
                Outcome::Restart => {
                    self.restart_now();
                    continue;
                }
                Outcome::Failed(failure) => failure,
            };
            let decision = self.policy.decide(failure.ending, self.jitter.next());
            // Replaying a POST may repeat what it did: only the host may ask for that.
            let decision = match self.config.replay_allowed() {
                true => decision,
                false => Decision::GiveUp,
            };
            match decision {
                Decision::Reconnect { after } => {
                    let was_open = self.shared.set_ready_state(ReadyState::Connecting);
                    self.report(failure, Some(after));
                    if was_open {
                        self.deliverer.state(ReadyState::Connecting);
                    }
                    log::debug!("reconnecting to {} in {after:?}", self.config.shown_url);
                    match self.sleep(after) {
                        Some(Outcome::Closed) => return,
                        Some(_) => self.restart_now(),
                        None => {}
                    }
                }
                Decision::GiveUp => {
                    let mut failure = failure;
                    if !self.config.replay_allowed() && failure.ending != Ending::Fatal {
                        failure.message.push_str(&format!(
                            "; not reconnecting: a {} request is not sent again unless \
                             retrying non-GET requests is allowed",
                            self.config.method
                        ));
                        let fix = Remedy::at_end_of(&failure.message, Setting::RetryNonGet);
                        failure.remedies.push(fix);
                    }
                    self.shared.set_ready_state(ReadyState::Closed);
                    self.report(failure, None);
                    self.deliverer.state(ReadyState::Closed);
                    log::info!("gave up on {}", self.config.shown_url);
                    return;
                }
            }
        }
    }

    fn closed(&self) -> bool {
        self.shared.gate.is_closed()
    }

    /// The host asked for a fresh connection: the backoff starts over, and an open stream
    /// (already dropped) is reported as CONNECTING without an error.
    fn restart_now(&mut self) {
        log::info!("restarting the connection to {}", self.config.shown_url);
        self.policy.reset_failures();
        self.agent = None;
        if self.shared.set_ready_state(ReadyState::Connecting) {
            self.deliverer.state(ReadyState::Connecting);
        }
    }

    /// After an interruption: was it the host closing, or asking for a restart?
    fn interrupted(&self) -> Option<Outcome> {
        if self.closed() {
            Some(Outcome::Closed)
        } else if self.shared.take_restart_request() {
            Some(Outcome::Restart)
        } else {
            None
        }
    }

    /// One connection attempt and, if it opens, the whole stream.
    fn attempt(&mut self) -> Outcome {
        // A restart asked for before this attempt is this attempt.
        self.shared.take_restart_request();
        while self.signals.wake.try_recv().is_ok() {}
        self.attempts = self.attempts.saturating_add(1);
        self.shared.stats.attempt_started();
        let agent = self
            .agent
            .get_or_insert_with(|| connection::agent(&self.config, self.deliverer.before_wait()))
            .clone();
        if !self.shared.install_agent(&agent) {
            return Outcome::Closed;
        }
        log::debug!(
            "connecting to {} (attempt {})",
            self.config.shown_url,
            self.attempts
        );
        let last_event_id_header = self.last_event_id_header();
        let opened = connection::open(&Attempt {
            config: &self.config,
            agent: &agent,
            last_event_id: self.parser.last_event_id(),
            last_event_id_header,
            number: self.attempts,
            gate: &self.shared.gate,
        });
        if let Some(interruption) = self.interrupted() {
            return interruption;
        }
        match opened {
            Ok(stream) => {
                self.shared.stats.opened();
                let outcome = self.read_stream(stream);
                // What the last reads queued reaches a poll-mode host now, whatever comes.
                self.deliverer.flush();
                self.shared.stats.stream_ended();
                // The stream may also end quietly (EOF) when the host interrupts it.
                self.interrupted().unwrap_or(outcome)
            }
            Err(failure) => Outcome::Failed(failure),
        }
    }

    /// The `Last-Event-ID` to send. A server's ID that cannot be sent (see `request_head`)
    /// is left out, with a warning the first time, not at every reconnect.
    fn last_event_id_header(&mut self) -> Option<HeaderValue> {
        let id = self.parser.last_event_id();
        match request_head::last_event_id_value(id) {
            Ok(header) => header,
            Err(unsendable) => {
                let fingerprint = fingerprint(id);
                if self.unsendable_id_logged != Some(fingerprint) {
                    self.unsendable_id_logged = Some(fingerprint);
                    log::warn!(
                        "the last event ID from {} is not sent as Last-Event-ID ({unsendable}); \
                         reconnects go without it until the server sends another",
                        self.config.shown_url
                    );
                }
                None
            }
        }
    }

    fn read_stream(&mut self, mut stream: OpenStream) -> Outcome {
        self.shared.set_ready_state(ReadyState::Open);
        self.deliverer.open(stream.http_status);
        self.deliverer.state(ReadyState::Open);
        log::info!("stream open: {}", self.config.shown_url);
        self.parser.reset_stream();
        if self.read_buffer.is_empty() {
            self.read_buffer = vec![0; READ_BUFFER_INITIAL];
        }
        let mut sink = WorkerSink {
            queued: self.shared.is_polled(),
            id_unpublished: false,
            deliverer: &mut self.deliverer,
            policy: &mut self.policy,
            shared: &self.shared,
            delivered: false,
            events: 0,
            comments: 0,
        };
        let (kind, message) = loop {
            match stream.body.read(&mut self.read_buffer) {
                Ok(0) => {
                    break (
                        ErrorKind::StreamEnded,
                        format!("{} closed the stream", self.config.shown_url),
                    )
                }
                Ok(n) => {
                    let fed = {
                        // Held for the read's callbacks, but not beyond a close: the sink
                        // stops the parser at the first event or comment after it.
                        let _batch = self.shared.gate.hold();
                        let fed = self.parser.feed(&self.read_buffer[..n], &mut sink);
                        sink.deliverer.end_read();
                        // After the queue published the IDs of the events it queued: an
                        // ID that came without an event is newer still.
                        if std::mem::take(&mut sink.id_unpublished) {
                            self.shared
                                .set_last_event_id(self.parser.last_event_id_text());
                        }
                        fed
                    };
                    sink.publish_counts(n);
                    if let Err(TooLarge { limit }) = fed {
                        break (
                            ErrorKind::EventTooLarge,
                            format!("an event from {} exceeded max_event_size ({limit} bytes); connection dropped", self.config.shown_url),
                        );
                    }
                    if self.shared.gate.is_closed() {
                        return Outcome::Closed;
                    }
                    if n == self.read_buffer.len() && n < READ_BUFFER_MAX {
                        self.read_buffer.resize(n * 2, 0);
                    }
                }
                Err(error) => {
                    let closed = self.shared.gate.is_closed();
                    if closed || self.shared.take_restart_request() {
                        log::trace!("read interrupted by the host: {error}");
                        return if closed {
                            Outcome::Closed
                        } else {
                            Outcome::Restart
                        };
                    }
                    break classify_read_error(error, &self.config);
                }
            }
        };
        Outcome::Failed(AttemptFailure {
            kind,
            http_status: 0,
            message,
            ending: Ending::StreamLost {
                delivered: sink.delivered,
            },
            remedies: Vec::new(),
        })
    }

    fn report(&mut self, failure: AttemptFailure, retry_in: Option<Duration>) {
        let error = ClientError {
            kind: failure.kind,
            http_status: failure.http_status,
            message: failure.message,
            remedies: failure.remedies,
            will_retry: retry_in.is_some(),
            retry_delay: retry_in.unwrap_or_default(),
            failed_attempts: self.policy.consecutive_failures(),
        };
        self.shared.stats.error(error.kind, retry_in);
        match error.will_retry {
            true => log::warn!("{} (retrying in {:?})", error.message, error.retry_delay),
            false => log::error!("{}", error.message),
        }
        self.deliverer.error(&error);
    }

    /// Waits `duration`; `Some` when the host closed the client or asked for a restart
    /// first. Any duration is safe: one too long for an `Instant` has no deadline (only
    /// the host ends it), where `Instant + Duration` would panic.
    fn sleep(&self, duration: Duration) -> Option<Outcome> {
        let deadline = std::time::Instant::now().checked_add(duration);
        loop {
            if let Some(interruption) = self.interrupted() {
                return Some(interruption);
            }
            // crossbeam's select takes a timeout past what an Instant holds as none.
            let left = deadline.map_or(duration, |deadline| {
                deadline.saturating_duration_since(std::time::Instant::now())
            });
            select! {
                recv(self.signals.stop) -> _ => return Some(Outcome::Closed),
                // A wake whose request an attempt already took is stale: sleep on.
                recv(self.signals.wake) -> _ => continue,
                default(left) => return None,
            }
        }
    }
}

/// Tells IDs apart without keeping a copy of one that may be megabytes long.
fn fingerprint(id: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    id.hash(&mut hasher);
    hasher.finish()
}

fn classify_read_error(error: std::io::Error, config: &Config) -> (ErrorKind, String) {
    // The transport marks a reset: ureq would otherwise have ended the body quietly.
    if crate::http::transport::is_reset_by_peer(&error) {
        return (
            ErrorKind::Io,
            format!("connection to {} was reset by the peer", config.shown_url),
        );
    }
    match ureq::Error::from(error) {
        ureq::Error::Timeout(_) => (
            ErrorKind::ReadTimeout,
            format!(
                "nothing arrived from {} for {} ms (read timeout)",
                config.shown_url,
                config.read_timeout.unwrap_or_default().as_millis()
            ),
        ),
        other => (
            ErrorKind::Io,
            format!("connection to {} broke: {other}", config.shown_url),
        ),
    }
}

/// The parser's sink on the worker: delivers, and keeps the policy, the counters and the
/// shared last event ID up to date.
struct WorkerSink<'a> {
    /// Poll mode: the queue publishes the ID of the events it queues, once per batch
    /// instead of once per new ID; the worker publishes what is left after each read.
    queued: bool,
    /// A new ID came that the sink did not publish (poll mode).
    id_unpublished: bool,
    deliverer: &'a mut Deliverer,
    policy: &'a mut Policy,
    shared: &'a Shared,
    /// Whether this connection dispatched an event (resets the backoff).
    delivered: bool,
    /// Since the last `publish_counts`.
    events: u64,
    comments: u64,
}

impl WorkerSink<'_> {
    /// Adds one read's bytes, events and comments to the client's counters.
    fn publish_counts(&mut self, bytes: usize) {
        self.shared
            .stats
            .received(bytes, self.events, self.comments);
        self.events = 0;
        self.comments = 0;
    }
}

impl Sink for WorkerSink<'_> {
    fn event(&mut self, event: &Event<'_>) {
        self.delivered = true;
        self.events += 1;
        self.deliverer.event_in_batch(event);
    }

    /// Published before any event that carries it reaches the host: a host that saw an
    /// event, in either mode, can count on sse_client_last_event_id showing its ID (or a
    /// later one), from any thread. Callbacks: at once, before the event's callback. Poll
    /// mode: by the queue, when it queues the event (once per batch, not per event), and
    /// after the read for an ID that came without one. Never per event, so a long ID costs
    /// nothing per event.
    fn last_event_id(&mut self, id: Text<'_>) {
        if self.queued {
            self.shared.note_new_last_event_id();
            self.id_unpublished = true;
        } else {
            self.shared.set_last_event_id(id);
        }
    }

    /// No per-event work after close: the rest of the read is left unparsed.
    fn keep_going(&self) -> bool {
        !self.shared.gate.is_closed()
    }

    fn comment(&mut self, text: Text<'_>) {
        self.comments += 1;
        self.deliverer.comment_in_batch(text);
    }

    fn retry(&mut self, millis: u64) {
        self.policy.set_server_retry(Duration::from_millis(millis));
    }
}

/// A small xorshift generator for backoff jitter: unpredictable enough to spread a herd
/// of clients, no dependency, no lock.
struct Jitter(u64);

impl Jitter {
    fn seeded() -> Jitter {
        let time = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let local = 0u8;
        let address = &local as *const u8 as u64;
        Jitter((time ^ address.rotate_left(32)) | 1)
    }

    /// A number in [0, 1).
    fn next(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_in_the_unit_interval() {
        let mut jitter = Jitter::seeded();
        for _ in 0..10_000 {
            let j = jitter.next();
            assert!((0.0..1.0).contains(&j), "{j}");
        }
    }
}
