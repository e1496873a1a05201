//! The recording handler: a [`Handler`] that records every callback (or poll-mode
//! message) into a shared [`Log`], which the tests read in order, with timeouts.

use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use sse_client::{ClientError, ErrorKind, Event, Handler, Message, ReadyState, Text};

use crate::support::sync::{lock, wait_for_change};
use crate::support::waits::TIMEOUT;

/// An event as delivered, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ev {
    pub event_type: String,
    pub data: String,
    pub id: String,
}

impl Ev {
    pub fn new(event_type: &str, data: &str, id: &str) -> Ev {
        Ev {
            event_type: event_type.to_owned(),
            data: data.to_owned(),
            id: id.to_owned(),
        }
    }

    /// A "message" event with this data and last event ID.
    pub fn message(data: &str, id: &str) -> Ev {
        Ev::new("message", data, id)
    }

    fn from_event(event: &Event<'_>) -> Ev {
        Ev::new(
            event.event_type.as_str(),
            event.data.as_str(),
            event.id.as_str(),
        )
    }
}

/// One callback (or one poll-mode message), owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    Open(u16),
    Event(Ev),
    Comment(String),
    Error(ClientError),
    State(ReadyState),
}

impl Record {
    pub fn from_message(message: Message) -> Record {
        match message {
            Message::Open { http_status } => Record::Open(http_status),
            Message::Event(event) => Record::Event(Ev::from_event(&event.as_event())),
            ref comment @ Message::Comment(_) => {
                Record::Comment(comment.comment_text().unwrap().as_str().to_owned())
            }
            Message::Error(error) => Record::Error(*error),
            Message::State(state) => Record::State(state),
        }
    }

    pub fn is_event(&self) -> bool {
        matches!(self, Record::Event(_))
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Record::Error(_))
    }

    pub fn as_error(&self) -> Option<&ClientError> {
        match self {
            Record::Error(e) => Some(e),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Stamped {
    pub at: Instant,
    pub record: Record,
}

#[derive(Default)]
struct LogInner {
    records: Mutex<Vec<Stamped>>,
    changed: Condvar,
}

impl LogInner {
    fn push(&self, record: Record) {
        let mut records = lock(&self.records);
        records.push(Stamped {
            at: Instant::now(),
            record,
        });
        self.changed.notify_all();
    }
}

type Hook = Box<dyn FnMut(&Record) + Send>;

/// A [`Handler`] that records every callback into a shared [`Log`], and optionally runs a
/// hook after each one (on the worker thread).
pub struct Recorder {
    log: Arc<LogInner>,
    hook: Option<Hook>,
}

impl Recorder {
    fn record(&mut self, record: Record) {
        self.log.push(record.clone());
        if let Some(hook) = &mut self.hook {
            hook(&record);
        }
    }

    /// Runs `hook` after each recorded callback.
    pub fn with_hook(mut self, hook: impl FnMut(&Record) + Send + 'static) -> Recorder {
        self.hook = Some(Box::new(hook));
        self
    }
}

impl Handler for Recorder {
    fn on_open(&mut self, http_status: u16) {
        self.record(Record::Open(http_status));
    }
    fn on_event(&mut self, event: &Event<'_>) {
        self.record(Record::Event(Ev::from_event(event)));
    }
    fn on_comment(&mut self, text: Text<'_>) {
        self.record(Record::Comment(text.as_str().to_owned()));
    }
    fn on_error(&mut self, error: &ClientError) {
        self.record(Record::Error(error.clone()));
    }
    fn on_state(&mut self, state: ReadyState) {
        self.record(Record::State(state));
    }
}

/// The test's view of what a [`Recorder`] saw: read in order with a cursor, or as a whole.
pub struct Log {
    inner: Arc<LogInner>,
    cursor: usize,
}

impl Log {
    pub fn new() -> (Log, Recorder) {
        let inner = Arc::new(LogInner::default());
        (
            Log {
                inner: inner.clone(),
                cursor: 0,
            },
            Recorder {
                log: inner,
                hook: None,
            },
        )
    }

    /// Everything recorded so far.
    pub fn all(&self) -> Vec<Record> {
        lock(&self.inner.records)
            .iter()
            .map(|s| s.record.clone())
            .collect()
    }

    pub fn stamped(&self) -> Vec<Stamped> {
        lock(&self.inner.records).clone()
    }

    pub fn len(&self) -> usize {
        lock(&self.inner.records).len()
    }

    /// The next record after the cursor, waiting up to `timeout`.
    pub fn try_next(&mut self, timeout: Duration) -> Option<Record> {
        let cursor = self.cursor;
        let (records, came) =
            wait_for_change(&self.inner.records, &self.inner.changed, timeout, |r| {
                r.len() > cursor
            });
        came.then(|| {
            self.cursor += 1;
            records[cursor].record.clone()
        })
    }

    /// The next record; panics (showing the whole log) when none comes within [`TIMEOUT`].
    pub fn next(&mut self) -> Record {
        match self.try_next(TIMEOUT) {
            Some(record) => record,
            None => panic!(
                "no callback within {TIMEOUT:?} after #{}; log: {:#?}",
                self.cursor,
                self.all()
            ),
        }
    }

    /// The next record must be `expected`.
    pub fn expect(&mut self, expected: Record) {
        let got = self.next();
        assert_eq!(
            got,
            expected,
            "record #{} differs; log: {:#?}",
            self.cursor - 1,
            self.all()
        );
    }

    /// The next record must be an event equal to `expected`.
    pub fn expect_event(&mut self, expected: Ev) {
        self.expect(Record::Event(expected));
    }

    /// The next records must be on_open(200) then on_state(Open).
    pub fn expect_opened(&mut self) {
        self.expect(Record::Open(200));
        self.expect(Record::State(ReadyState::Open));
    }

    /// The next record must be an error; returns it.
    pub fn expect_error(&mut self) -> ClientError {
        match self.next() {
            Record::Error(error) => error,
            other => panic!(
                "expected an error at #{}, got {other:?}; log: {:#?}",
                self.cursor - 1,
                self.all()
            ),
        }
    }

    /// The next record must be an error of this kind and retry flag; returns it.
    pub fn expect_error_of(&mut self, kind: ErrorKind, will_retry: bool) -> ClientError {
        let error = self.expect_error();
        assert_eq!(
            (error.kind, error.will_retry),
            (kind, will_retry),
            "unexpected error {error:?}; log: {:#?}",
            self.all()
        );
        error
    }

    /// A lost stream and its reconnect: an error of `kind` that will be retried,
    /// CONNECTING, then the new stream's open and OPEN. Returns the error.
    pub fn expect_reconnect_after(&mut self, kind: ErrorKind) -> ClientError {
        let error = self.expect_error_of(kind, true);
        self.expect(Record::State(ReadyState::Connecting));
        self.expect_opened();
        error
    }

    /// Skips records until one satisfies `wanted`; returns it. Panics after [`TIMEOUT`].
    pub fn skip_until(&mut self, mut wanted: impl FnMut(&Record) -> bool) -> Record {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.try_next(left) {
                Some(record) if wanted(&record) => return record,
                Some(_) => {}
                None => panic!(
                    "the awaited callback did not come within {TIMEOUT:?}; log: {:#?}",
                    self.all()
                ),
            }
        }
    }

    /// Asserts that nothing more is recorded within `quiet`.
    pub fn expect_silence(&mut self, quiet: Duration) {
        let before = self.len();
        thread::sleep(quiet);
        let after = self.all();
        assert_eq!(
            after.len(),
            before,
            "unexpected callbacks after #{before}: {:#?}",
            &after[before..]
        );
    }

    /// Waits until `done(all records)` holds; panics after [`TIMEOUT`].
    pub fn wait_for(&self, mut done: impl FnMut(&[Stamped]) -> bool) {
        let (records, held) =
            wait_for_change(&self.inner.records, &self.inner.changed, TIMEOUT, |r| {
                done(r)
            });
        if !held {
            let all: Vec<_> = records.iter().map(|s| &s.record).collect();
            panic!("condition not met within {TIMEOUT:?}; log: {all:#?}");
        }
    }
}
