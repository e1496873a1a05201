//! Poll mode: the bounded queue between a client's worker and the host, with the wakeup handle.
//!
//! The worker collects what one socket read produced into a [`MessageBatch`] and queues it
//! whole when the read's events are done ([`Handler::end_read`]); the host takes one
//! message at a time ([`QueueReceiver::poll_with`]) or everything queued at once
//! ([`QueueReceiver::poll_all`]). One lock round trip per batch on each side, instead of a
//! channel slot, two allocations and a counter update per event.
//!
//! Queued is not yet announced. Waking a host asleep in poll(2) or on the condvar costs
//! the worker more than parsing a read's worth of events (~12 µs on the benchmark
//! machine), so the worker announces what is queued (sets the wakeup handle, wakes waiting
//! polls) only when it is about to wait for the network (the `BeforeWait` hook that
//! `transport` runs), when a quarter of the capacity is queued, before it waits for room,
//! and after anything other than events. On a busy stream one wakeup then carries
//! everything the socket already held, instead of one per read. A host that polls without
//! waiting may take queued messages before they are announced.
//!
//! Capacity counts messages, not batches: the worker never has more than `capacity`
//! messages queued and unflushed together. It also bounds memory: the worker collects no
//! more once [`MAX_QUEUED_BYTES`] of strings are queued (one event may go beyond it, so an
//! event of any size still passes an empty queue). When the queue is full the worker stops
//! (and so stops reading the socket) until the host takes messages or closes the client.
//! Nothing is ever dropped.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use crate::delivery::batch::{BatchMessage, IdCopy, MessageBatch};
use crate::delivery::published_id::{self, PublishedId};
use crate::delivery::report::{ClientError, Message, ReadyState};
use crate::delivery::Handler;
use crate::http::transport::BeforeWait;
use crate::os::fork::ProcessLocal;
use crate::os::wakeup::{RawHandle, Wakeup};
use crate::sse::parser::Event;
use crate::sse::text::{SharedText, Text};

/// Why a poll returned no message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PollError {
    /// Nothing arrived in time.
    Timeout,
    /// The client is closed (by the host, or for good by the worker) and the queue is
    /// drained.
    Closed,
    /// The client delivers through callbacks; there is no queue.
    WrongMode,
}

/// Strings (event data, ids, types, comments) the queue holds at most, plus one message:
/// what a host that falls behind costs in memory, whatever the message capacity.
pub(crate) const MAX_QUEUED_BYTES: usize = 1024 * 1024;

/// Wakeups further apart than this make a sparse stream, where the worker yields after
/// waking the host (see `Queue::announce_locked`).
const SPARSE_SIGNALS: Duration = Duration::from_micros(200);

/// The queue both ends share.
#[derive(Debug)]
pub(crate) struct Queue {
    state: Mutex<State>,
    /// Signalled when messages are queued or the queue closes: the host waits on it.
    filled: Condvar,
    /// Signalled when the host takes messages or closes: the worker waits on it when full.
    drained: Condvar,
    /// Readable exactly while `announced`; set and cleared under the state lock.
    wakeup: Wakeup,
    capacity: usize,
}

#[derive(Debug, Default)]
struct State {
    batches: VecDeque<MessageBatch>,
    /// Messages of the front batch already handed out one at a time.
    front_taken: usize,
    /// Messages queued and not yet handed out.
    queued: usize,
    /// The host was told that messages are queued (the wakeup handle is set), and has not
    /// taken them all since.
    announced: bool,
    /// When the host was last told (see `Queue::announce_locked`).
    last_announced: Option<Instant>,
    /// String bytes of the queued batches (a batch's count as long as it is queued).
    queued_bytes: usize,
    /// The host closed the client: nothing new will be queued, waits end.
    host_closed: bool,
    /// The worker's end was dropped (the worker ended).
    worker_gone: bool,
    /// Emptied batches the host gave back, for the worker to fill again (see
    /// [`State::recycle`]).
    spare: Vec<MessageBatch>,
    /// Hosts blocked in a poll, and whether the worker is blocked on a full queue: a
    /// condvar is only signalled when someone waits on it, because signalling costs a
    /// futex syscall even then, on every batch and every take.
    hosts_waiting: usize,
    worker_waiting: bool,
}

/// Batches kept for reuse at most, and the buffer bytes they may hold together: what a
/// client keeps after a burst once its stream goes quiet.
const SPARE_BATCHES: usize = 8;
const SPARE_BYTES: usize = 512 * 1024;

impl State {
    /// Keeps `batch` for the worker to fill again, while the spares stay within bounds.
    ///
    /// Why: with 64 KiB socket reads a batch's strings outgrow what malloc serves from its
    /// heap, so each batch was mapped fresh and unmapped when the host freed it: 1 KiB
    /// events in poll mode took ~10,000 page faults per 100,000 events, against ~600 with
    /// the buffers reused.
    fn recycle(&mut self, mut batch: MessageBatch) {
        if self.spare.len() >= SPARE_BATCHES {
            return;
        }
        let kept: usize = self.spare.iter().map(MessageBatch::capacity_bytes).sum();
        if kept + batch.capacity_bytes() <= SPARE_BYTES {
            batch.clear();
            self.spare.push(batch);
        }
    }

    /// Whether the worker may collect more: below the capacity, and below the byte bound
    /// unless the queue is empty (so that any one event passes).
    fn has_room(&self, capacity: usize) -> bool {
        self.queued < capacity && (self.queued == 0 || self.queued_bytes < MAX_QUEUED_BYTES)
    }

    /// How many more messages, and string bytes, the worker may collect.
    fn room(&self, capacity: usize) -> (usize, usize) {
        (
            capacity.saturating_sub(self.queued),
            MAX_QUEUED_BYTES.saturating_sub(self.queued_bytes),
        )
    }
}

/// Everything that was queued when the host took it: the batches in order, and how many
/// messages of the first one had already been taken one at a time.
#[derive(Debug)]
pub struct TakenBatches {
    /// Read by the C door's batch view, which borrows the messages in place.
    pub(crate) batches: Vec<MessageBatch>,
    pub(crate) first_skip: usize,
    /// Where the batches go back to when dropped, for the worker to reuse. Not in a child
    /// of fork(): the queue's lock may be held there forever (see `fork`).
    queue: ProcessLocal<Weak<Queue>>,
}

impl Drop for TakenBatches {
    fn drop(&mut self) {
        let Some(queue) = self.queue.get().and_then(Weak::upgrade) else {
            return;
        };
        // Emptied before the lock is taken: that is the part that takes time.
        self.batches.iter_mut().for_each(MessageBatch::clear);
        let mut state = queue.lock();
        for batch in self.batches.drain(..) {
            state.recycle(batch);
        }
    }
}

impl TakenBatches {
    pub fn len(&self) -> usize {
        self.batches.iter().map(MessageBatch::len).sum::<usize>() - self.first_skip
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The messages in queue order.
    pub fn iter(&self) -> impl Iterator<Item = BatchMessage<'_>> + '_ {
        self.batches
            .iter()
            .enumerate()
            .flat_map(|(i, batch)| batch.iter_from(if i == 0 { self.first_skip } else { 0 }))
    }
}

/// A queue of `capacity` messages (at least 1): the worker's handler and the host's end.
/// `last_event_id`: where the queue publishes the ID of the events it queues, before the
/// host can see them, and where the worker counts new IDs (see [`QueueHandler::shared_id`]).
pub(crate) fn queue(
    capacity: usize,
    last_event_id: Arc<PublishedId>,
) -> std::io::Result<(QueueHandler, QueueReceiver)> {
    let queue = Arc::new(Queue {
        state: Mutex::default(),
        filled: Condvar::new(),
        drained: Condvar::new(),
        wakeup: Wakeup::new()?,
        capacity: capacity.max(1),
    });
    Ok((
        QueueHandler {
            room: queue.capacity,
            byte_room: MAX_QUEUED_BYTES,
            announce_before_wait: false,
            queue: queue.clone(),
            pending: MessageBatch::default(),
            last_event_id,
            shared_id: None,
        },
        QueueReceiver { queue },
    ))
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The host closed the client: a worker waiting for room and hosts waiting for
    /// messages stop waiting. What is queued can still be taken.
    pub fn close(&self) {
        self.lock().host_closed = true;
        self.filled.notify_all();
        self.drained.notify_all();
    }

    /// Queues `batch`, and tells the host about everything queued when `announce` or when
    /// a quarter of the capacity (or of the byte bound) is queued, so that the host works
    /// on one part while the worker parses the next. Returns the room left (see
    /// [`State::room`]) and an emptied batch to fill next, if the host gave one back.
    fn push(&self, batch: MessageBatch, announce: bool) -> ((usize, usize), Option<MessageBatch>) {
        let mut state = self.lock();
        state.queued += batch.len();
        state.queued_bytes += batch.string_bytes();
        state.batches.push_back(batch);
        let room = (state.room(self.capacity), state.spare.pop());
        if announce
            || state.queued >= self.capacity / 4
            || state.queued_bytes >= MAX_QUEUED_BYTES / 4
        {
            self.announce_locked(state);
        }
        room
    }

    /// Tells the host about what is queued (the worker's `BeforeWait` hook).
    pub fn announce(&self) {
        self.announce_locked(self.lock());
    }

    /// Sets the wakeup handle and wakes polls waiting on the condvar, unless nothing is queued
    /// or the host was already told.
    ///
    /// Then, on a sparse stream, yields the CPU: the host just woken is often queued on
    /// this very CPU, behind this thread, and yielding lets it run now. On the 2-core
    /// benchmark machine poll mode's latency p50 went from ~37 to ~23 µs (the benchmark's
    /// latency section shows the handoff with and without it). On a dense stream it would
    /// hand the host each read's batch on its own, and the extra wakeups cost more than
    /// the latency gained (1 KiB events: about a third more CPU).
    fn announce_locked(&self, mut state: MutexGuard<'_, State>) {
        if state.announced || state.queued == 0 {
            return;
        }
        state.announced = true;
        self.wakeup.set();
        let wake_polls = state.hosts_waiting > 0;
        let now = Instant::now();
        let sparse = state
            .last_announced
            .is_none_or(|last| now.duration_since(last) > SPARSE_SIGNALS);
        state.last_announced = Some(now);
        drop(state);
        if wake_polls {
            self.filled.notify_all();
        }
        if sparse {
            std::thread::yield_now();
        }
    }
}

/// The worker's end: a [`Handler`] that collects messages and queues them per batch.
pub(crate) struct QueueHandler {
    queue: Arc<Queue>,
    /// Collected since the last flush.
    pending: MessageBatch,
    /// How many more messages may be collected before the queue would exceed its
    /// capacity, as of the last look at it (the host may have made more room since).
    room: usize,
    /// The same for string bytes.
    byte_room: usize,
    /// Whether a read's messages may wait for the `BeforeWait` hook to be announced: once
    /// the worker has taken the hook (see [`Handler::before_wait`]).
    announce_before_wait: bool,
    last_event_id: Arc<PublishedId>,
    /// The shared copy of the current long ID, and the count of new IDs it belongs to.
    shared_id: Option<(u64, SharedText)>,
}

impl QueueHandler {
    /// Makes room for one more message: when the collected ones fill what was free,
    /// queues them and waits until the host takes some. False when the host closed the
    /// client instead: the message is dropped, as nothing after a close is delivered and
    /// the queue must not exceed its capacity.
    fn reserve_one(&mut self) -> bool {
        if self.pending.len() < self.room && self.pending.string_bytes() < self.byte_room {
            return true;
        }
        self.flush();
        let mut state = self.queue.lock();
        while !state.has_room(self.queue.capacity) && !state.host_closed {
            state.worker_waiting = true;
            state = self
                .queue
                .drained
                .wait(state)
                .unwrap_or_else(|e| e.into_inner());
            state.worker_waiting = false;
        }
        (self.room, self.byte_room) = state.room(self.queue.capacity);
        !state.host_closed
    }
}

impl QueueHandler {
    /// A shared copy of `id`, the ID of the event being queued, when it is a long one: one
    /// copy per new ID, whatever the number of events that carry it (the worker counts new
    /// IDs before it delivers the events that carry them); and whether this is its first
    /// use (see [`IdCopy`]). Short IDs are copied into the batch: cheaper than sharing.
    fn shared_id(&mut self, id: Text<'_>) -> Option<(SharedText, bool)> {
        if id.len() <= published_id::INLINE_BYTES {
            return None;
        }
        let new_ids = self.last_event_id.new_ids();
        match &self.shared_id {
            Some((seen, shared)) if *seen == new_ids => Some((shared.clone(), false)),
            _ => {
                let shared = SharedText::new(id);
                self.shared_id = Some((new_ids, shared.clone()));
                Some((shared, true))
            }
        }
    }

    /// Publishes the ID of the last event collected, before the host can see it: the IDs
    /// of the events queued before are older (see `PublishedId`).
    fn publish_last_event_id(&self) {
        match self.pending.last_event_id() {
            Some((_, Some(shared))) => self.last_event_id.publish_shared(shared),
            Some((id, None)) => self.last_event_id.publish(id),
            None => {}
        }
    }

    /// Queues what was collected, announced or not (see the module comment).
    fn queue_pending(&mut self, announce: bool) {
        if self.pending.is_empty() {
            if announce {
                self.queue.announce();
            }
            return;
        }
        self.publish_last_event_id();
        let sizes = self.pending.sizes();
        let batch = std::mem::take(&mut self.pending);
        let spare;
        ((self.room, self.byte_room), spare) = self.queue.push(batch, announce);
        self.pending = spare.unwrap_or_else(|| MessageBatch::with_sizes(sizes));
    }
}

/// The delivery protocol a queue needs beyond a host's callbacks (see
/// [`Destination`](crate::delivery::Destination)).
impl QueueHandler {
    /// Queues and announces what was collected.
    pub(crate) fn flush(&mut self) {
        self.queue_pending(true);
    }

    /// Queues a read's messages; announces them unless the hook of
    /// [`QueueHandler::before_wait`] will, once the worker is about to wait.
    pub(crate) fn end_read(&mut self) {
        self.queue_pending(!self.announce_before_wait);
    }

    /// One wakeup per burst: the announcement waits until the worker is about to wait.
    pub(crate) fn before_wait(&mut self) -> BeforeWait {
        self.announce_before_wait = true;
        let queue = self.queue.clone();
        BeforeWait::new(move || queue.announce())
    }
}

impl Handler for QueueHandler {
    fn on_open(&mut self, http_status: u16) {
        if self.reserve_one() {
            self.pending.push_open(http_status);
        }
    }
    fn on_event(&mut self, event: &Event<'_>) {
        if self.reserve_one() {
            let shared_id = self.shared_id(event.id);
            let id = match &shared_id {
                Some((id, first)) => IdCopy::Shared { id, first: *first },
                None => IdCopy::Inline,
            };
            self.pending.push_event(event, id);
        }
    }
    fn on_comment(&mut self, text: Text<'_>) {
        if self.reserve_one() {
            self.pending.push_comment(text);
        }
    }
    fn on_error(&mut self, error: &ClientError) {
        if self.reserve_one() {
            self.pending.push_error(error);
        }
    }
    fn on_state(&mut self, state: ReadyState) {
        if self.reserve_one() {
            self.pending.push_state(state);
        }
    }
}

impl Drop for QueueHandler {
    /// The worker ended: hosts waiting on an empty queue learn it is closed.
    fn drop(&mut self) {
        self.flush();
        self.queue.lock().worker_gone = true;
        self.queue.filled.notify_all();
    }
}

/// The host's end.
#[derive(Debug)]
pub(crate) struct QueueReceiver {
    queue: Arc<Queue>,
}

impl QueueReceiver {
    /// The queue, for close() to end every wait on it.
    pub fn queue(&self) -> &Arc<Queue> {
        &self.queue
    }

    /// Waits up to `timeout` (`None`: without limit) for the next message and hands it to
    /// `take` (under the queue's lock: keep it short). Messages queued before the client
    /// closed are still handed out; then [`PollError::Closed`].
    pub fn poll_with<T>(
        &self,
        timeout: Option<Duration>,
        take: impl FnOnce(BatchMessage<'_>) -> T,
    ) -> Result<T, PollError> {
        let mut state = self.wait(timeout)?;
        let state = &mut *state;
        let front = state.batches.front().expect("queued > 0 means a batch");
        let value = take(front.get(state.front_taken));
        state.front_taken += 1;
        if state.front_taken == front.len() {
            state.queued_bytes -= front.string_bytes();
            state.front_taken = 0;
            if let Some(done) = state.batches.pop_front() {
                state.recycle(done);
            }
        }
        self.taken(state, 1);
        Ok(value)
    }

    /// [`poll_with`](Self::poll_with), as an owned message.
    pub fn poll(&self, timeout: Option<Duration>) -> Result<Message, PollError> {
        self.poll_with(timeout, |message| message.to_message())
    }

    /// Waits like [`poll_with`](Self::poll_with) for at least one message, then takes
    /// every message queued (at most the capacity) at once.
    pub fn poll_all(&self, timeout: Option<Duration>) -> Result<TakenBatches, PollError> {
        let mut state = self.wait(timeout)?;
        let state = &mut *state;
        let taken = TakenBatches {
            batches: state.batches.drain(..).collect(),
            first_skip: std::mem::take(&mut state.front_taken),
            queue: ProcessLocal::new(Arc::downgrade(&self.queue)),
        };
        let count = state.queued;
        state.queued_bytes = 0;
        self.taken(state, count);
        Ok(taken)
    }

    pub fn wakeup_handle(&self) -> RawHandle {
        self.queue.wakeup.handle()
    }

    fn taken(&self, state: &mut State, count: usize) {
        state.queued -= count;
        if state.queued == 0 && state.announced {
            state.announced = false;
            self.queue.wakeup.clear();
        }
        if state.worker_waiting {
            self.queue.drained.notify_one();
        }
    }

    /// The state lock, with at least one message queued.
    fn wait(&self, timeout: Option<Duration>) -> Result<MutexGuard<'_, State>, PollError> {
        let mut deadline = None;
        let mut state = self.queue.lock();
        loop {
            if state.queued > 0 {
                return Ok(state);
            }
            // Closed by the host: the worker may still be winding down, but nothing new
            // will be queued, so the host need not wait for it.
            if state.host_closed || state.worker_gone {
                return Err(PollError::Closed);
            }
            let left = match timeout {
                None => None,
                Some(timeout) => {
                    // Too far away to represent: as good as no limit.
                    let deadline =
                        *deadline.get_or_insert_with(|| Instant::now().checked_add(timeout));
                    match deadline {
                        None => None,
                        Some(at) => match at.saturating_duration_since(Instant::now()) {
                            left if left.is_zero() => return Err(PollError::Timeout),
                            left => Some(left),
                        },
                    }
                }
            };
            state.hosts_waiting += 1;
            state = match left {
                Some(left) => {
                    self.queue
                        .filled
                        .wait_timeout(state, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
                None => self
                    .queue
                    .filled
                    .wait(state)
                    .unwrap_or_else(|e| e.into_inner()),
            };
            state.hosts_waiting -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_queue(capacity: usize) -> (QueueHandler, QueueReceiver) {
        queue(capacity, Arc::new(PublishedId::new(""))).unwrap()
    }

    fn readable(receiver: &QueueReceiver) -> bool {
        crate::os::wakeup::readable_within(receiver.wakeup_handle(), Duration::ZERO)
    }

    fn states(count: usize, handler: &mut QueueHandler) {
        for _ in 0..count {
            handler.on_state(ReadyState::Open);
        }
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "Miri cannot call poll(2), which readable() uses on the wakeup fd"
    )]
    fn messages_are_visible_only_after_the_flush_and_the_fd_follows_the_count() {
        let (mut handler, receiver) = test_queue(8);
        states(3, &mut handler);
        assert!(!readable(&receiver));
        assert_eq!(receiver.poll(Some(Duration::ZERO)), Err(PollError::Timeout));
        handler.flush();
        assert!(readable(&receiver));
        receiver.poll(None).unwrap();
        receiver.poll(None).unwrap();
        assert!(readable(&receiver), "one message is still queued");
        receiver.poll(None).unwrap();
        assert!(!readable(&receiver));
        assert_eq!(receiver.poll(Some(Duration::ZERO)), Err(PollError::Timeout));
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "Miri cannot call poll(2), which readable() uses on the wakeup fd"
    )]
    fn with_the_hook_taken_a_read_is_announced_when_the_worker_would_wait() {
        let (mut handler, receiver) = test_queue(64);
        let before_wait = handler.before_wait();
        states(3, &mut handler);
        handler.end_read();
        assert!(!readable(&receiver), "queued, not yet announced");
        // A host that polls without waiting may take it early.
        assert_eq!(
            receiver.poll(Some(Duration::ZERO)),
            Ok(Message::State(ReadyState::Open))
        );
        before_wait.run();
        assert!(readable(&receiver), "announced: two messages are queued");
        assert_eq!(receiver.poll_all(None).unwrap().len(), 2);
        assert!(!readable(&receiver));
        before_wait.run();
        assert!(!readable(&receiver), "nothing queued, nothing announced");
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "Miri cannot call poll(2), which readable() uses on the wakeup fd"
    )]
    fn without_the_hook_every_read_is_announced() {
        let (mut handler, receiver) = test_queue(64);
        states(1, &mut handler);
        handler.end_read();
        assert!(readable(&receiver));
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "Miri cannot call poll(2), which readable() uses on the wakeup fd"
    )]
    fn a_quarter_of_the_capacity_is_announced_without_waiting_for_the_hook() {
        let (mut handler, receiver) = test_queue(8);
        let _before_wait = handler.before_wait();
        states(1, &mut handler);
        handler.end_read();
        assert!(!readable(&receiver));
        states(1, &mut handler);
        handler.end_read();
        assert!(readable(&receiver), "2 of 8 queued");
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "Miri cannot call poll(2), which readable() uses on the wakeup fd"
    )]
    fn any_other_delivery_is_announced_at_once() {
        let (mut handler, receiver) = test_queue(64);
        let _before_wait = handler.before_wait();
        states(1, &mut handler);
        handler.end_read();
        handler.on_state(ReadyState::Connecting);
        handler.flush();
        assert!(readable(&receiver));
        assert_eq!(receiver.poll_all(None).unwrap().len(), 2);
    }

    #[test]
    fn a_poll_waiting_for_messages_wakes_when_they_are_announced() {
        let (mut handler, receiver) = test_queue(64);
        let before_wait = handler.before_wait();
        let (sender, polled) = std::sync::mpsc::channel();
        let host = std::thread::spawn(move || {
            sender
                .send(receiver.poll(Some(Duration::from_secs(10))))
                .unwrap();
        });
        std::thread::sleep(Duration::from_millis(50));
        states(1, &mut handler);
        handler.end_read();
        assert!(
            polled.recv_timeout(Duration::from_millis(200)).is_err(),
            "the waiting poll was woken before the announcement"
        );
        before_wait.run();
        assert_eq!(
            polled.recv_timeout(Duration::from_secs(10)).unwrap(),
            Ok(Message::State(ReadyState::Open))
        );
        host.join().unwrap();
    }

    fn spares(receiver: &QueueReceiver) -> usize {
        receiver.queue.lock().spare.len()
    }

    #[test]
    fn batches_the_host_is_done_with_are_filled_again_within_bounds() {
        let (mut handler, receiver) = test_queue(1000);
        for _ in 0..20 {
            states(2, &mut handler);
            handler.flush();
        }
        let taken = receiver.poll_all(None).unwrap();
        assert_eq!(taken.len(), 40);
        assert_eq!(
            spares(&receiver),
            0,
            "nothing comes back while the host holds it"
        );
        drop(taken);
        assert_eq!(spares(&receiver), SPARE_BATCHES, "kept, up to the bound");
        states(1, &mut handler);
        handler.flush();
        assert_eq!(
            spares(&receiver),
            SPARE_BATCHES - 1,
            "the worker took one to fill"
        );
        // Single polls give back the batches they finish.
        receiver.poll(None).unwrap();
        assert_eq!(spares(&receiver), SPARE_BATCHES);

        // A batch larger than the byte bound is not kept.
        let (mut handler, receiver) = test_queue(1000);
        let big = format!("{}\0", "x".repeat(SPARE_BYTES));
        handler.on_event(&Event {
            event_type: Text::from_bytes_with_nul(b"message\0"),
            data: Text::from_bytes_with_nul(big.as_bytes()),
            id: Text::EMPTY,
        });
        handler.flush();
        drop(receiver.poll_all(None).unwrap());
        assert_eq!(spares(&receiver), 0);
    }

    fn event_with_id(id: &[u8]) -> Event<'_> {
        Event {
            event_type: Text::from_bytes_with_nul(b"message\0"),
            data: Text::from_bytes_with_nul(b"x\0"),
            id: Text::from_bytes_with_nul(id),
        }
    }

    #[test]
    fn the_id_of_the_last_queued_event_is_published_before_the_host_can_take_it() {
        let published = Arc::new(PublishedId::new(""));
        let (mut handler, receiver) = queue(2, published.clone()).unwrap();
        handler.on_event(&event_with_id(b"1\0"));
        handler.on_event(&event_with_id(b"2\0"));
        assert_eq!(published.read(), "", "collected, not queued: not published");
        // The queue is full: the third event queues the first two (and waits for room).
        let worker = std::thread::spawn(move || {
            handler.on_event(&event_with_id(b"3\0"));
            handler.flush();
            handler
        });
        let first = receiver.poll(Some(Duration::from_secs(10))).unwrap();
        let published_then = published.read();
        assert!(matches!(&first, Message::Event(e) if e.as_event().id == "1"));
        // Taking the first event made room, so the worker may already have queued the
        // third and published its ID: "2" or "3", never behind the batch the host took.
        assert!(
            published_then == "2" || published_then == "3",
            "the batch's last ID (or a later one), before the host had it: {published_then:?}"
        );
        receiver.poll(None).unwrap();
        drop(worker.join().unwrap());
        receiver.poll(None).unwrap();
        assert_eq!(published.read(), "3");
    }

    #[test]
    fn a_long_id_is_copied_once_per_new_id_not_per_event() {
        let published = Arc::new(PublishedId::new(""));
        let (mut handler, receiver) = queue(64, published.clone()).unwrap();
        let long = format!("{}\0", "L".repeat(published_id::INLINE_BYTES + 1));
        published.note_new_id();
        for _ in 0..3 {
            handler.on_event(&event_with_id(long.as_bytes()));
        }
        published.note_new_id();
        handler.on_event(&event_with_id(long.as_bytes()));
        handler.flush();
        let taken = receiver.poll_all(None).unwrap();
        let ids: Vec<*const u8> = taken
            .iter()
            .map(|m| match m {
                BatchMessage::Event { event, .. } => event.id.as_bytes_with_nul().as_ptr(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(ids[0], ids[1]);
        assert_eq!(ids[1], ids[2]);
        assert_ne!(ids[2], ids[3], "a new ID (equal or not) gets its own copy");
        assert_eq!(published.read(), &long[..long.len() - 1]);
    }

    #[test]
    fn a_long_id_counts_toward_the_byte_bound_once_not_per_batch() {
        let published = Arc::new(PublishedId::new(""));
        let (mut handler, receiver) = queue(1000, published.clone()).unwrap();
        // Over half the bound: counted per batch, two batches would fill it.
        let long = format!("{}\0", "L".repeat(MAX_QUEUED_BYTES / 2 + 1));
        published.note_new_id();
        for _ in 0..3 {
            handler.on_event(&event_with_id(long.as_bytes()));
            handler.flush();
        }
        let state = receiver.queue.lock();
        assert_eq!(
            state.batches.len(),
            3,
            "three batches queued, no wait for room"
        );
        assert!(
            state.queued_bytes < MAX_QUEUED_BYTES,
            "{} bytes counted",
            state.queued_bytes
        );
    }

    #[test]
    fn a_batch_that_outlives_its_queue_is_simply_freed() {
        let (mut handler, receiver) = test_queue(8);
        states(2, &mut handler);
        handler.flush();
        let taken = receiver.poll_all(None).unwrap();
        drop(handler);
        drop(receiver);
        assert_eq!(taken.len(), 2);
        drop(taken);
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "Miri cannot call poll(2), which readable() uses on the wakeup fd"
    )]
    fn poll_all_takes_every_batch_after_what_was_taken_singly() {
        let (mut handler, receiver) = test_queue(16);
        handler.on_open(200);
        handler.on_state(ReadyState::Open);
        handler.flush();
        handler.on_state(ReadyState::Connecting);
        handler.flush();
        assert_eq!(receiver.poll(None), Ok(Message::Open { http_status: 200 }));
        let taken = receiver.poll_all(None).unwrap();
        assert_eq!(taken.len(), 2);
        let messages: Vec<Message> = taken.iter().map(|m| m.to_message()).collect();
        assert_eq!(
            messages,
            [
                Message::State(ReadyState::Open),
                Message::State(ReadyState::Connecting)
            ]
        );
        assert!(!readable(&receiver));
    }

    #[test]
    fn the_worker_never_has_more_than_the_capacity_queued() {
        let (mut handler, receiver) = test_queue(4);
        let worker = std::thread::spawn(move || {
            states(10, &mut handler);
            handler.flush();
            handler
        });
        std::thread::sleep(Duration::from_millis(50));
        assert!(!worker.is_finished(), "a full queue must block the worker");
        let first = receiver.poll_all(None).unwrap();
        assert_eq!(first.len(), 4, "exactly the capacity was queued");
        let mut total = first.len();
        while total < 10 {
            let taken = receiver.poll_all(Some(Duration::from_secs(10))).unwrap();
            assert!(taken.len() <= 4);
            total += taken.len();
        }
        drop(worker.join().unwrap());
        assert_eq!(receiver.poll(None), Err(PollError::Closed));
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "timing: the worker must refill the queue within 20 ms, and megabytes of strings are slow there"
    )]
    fn queued_strings_are_bounded_but_any_one_event_passes() {
        let (mut handler, receiver) = test_queue(1000);
        let data = format!("{}\0", "x".repeat(MAX_QUEUED_BYTES / 4));
        let big = format!("{}\0", "y".repeat(MAX_QUEUED_BYTES * 2));
        let big_len = big.len();
        let worker = std::thread::spawn(move || {
            for text in [&data, &data, &data, &data, &data, &big, &data] {
                handler.on_event(&Event {
                    event_type: Text::from_bytes_with_nul(b"message\0"),
                    data: Text::from_bytes_with_nul(text.as_bytes()),
                    id: Text::EMPTY,
                });
            }
            handler.flush();
            handler
        });
        let mut sizes = Vec::new();
        while sizes.iter().sum::<usize>() < 7 {
            let taken = receiver.poll_all(Some(Duration::from_secs(10))).unwrap();
            let bytes: usize = taken.batches.iter().map(MessageBatch::string_bytes).sum();
            // Below the bound before the last message was added.
            assert!(
                bytes < MAX_QUEUED_BYTES + big_len + 16,
                "{bytes} bytes queued in {} messages",
                taken.len()
            );
            sizes.push(taken.len());
            // Give the worker time to fill the queue again.
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(worker.join().unwrap());
        assert_eq!(
            sizes[0], 4,
            "a quarter of the bound each: 4 fit, the 5th waits"
        );
        assert!(
            sizes.contains(&1) || sizes.len() >= 3,
            "the big event went alone: {sizes:?}"
        );
        assert_eq!(sizes.iter().sum::<usize>(), 7);
    }

    #[test]
    fn close_releases_a_worker_blocked_on_a_full_queue_and_keeps_what_was_queued() {
        let (mut handler, receiver) = test_queue(1);
        handler.on_open(200);
        let blocked = std::thread::spawn(move || {
            handler.on_state(ReadyState::Open); // the queue is full: blocks
            handler
        });
        std::thread::sleep(Duration::from_millis(50));
        assert!(!blocked.is_finished(), "a full queue must block the worker");
        receiver.queue().close();
        let handler = blocked.join().unwrap();
        drop(handler);
        assert_eq!(receiver.poll(None), Ok(Message::Open { http_status: 200 }));
        // The message that found the queue full when the host closed is not delivered.
        assert_eq!(receiver.poll(None), Err(PollError::Closed));
    }

    #[test]
    fn a_zero_timeout_poll_reports_closed_as_soon_as_the_host_closed() {
        // The worker's handler is still alive: it has not ended yet.
        let (_handler, receiver) = test_queue(4);
        assert_eq!(receiver.poll(Some(Duration::ZERO)), Err(PollError::Timeout));
        receiver.queue().close();
        assert_eq!(receiver.poll(Some(Duration::ZERO)), Err(PollError::Closed));
        assert_eq!(receiver.poll(None), Err(PollError::Closed));
    }

    #[test]
    fn poll_reports_timeout_then_closed_once_the_worker_is_gone() {
        let (mut handler, receiver) = test_queue(4);
        assert_eq!(
            receiver.poll(Some(Duration::from_millis(5))),
            Err(PollError::Timeout)
        );
        handler.on_state(ReadyState::Closed);
        drop(handler);
        assert_eq!(receiver.poll(None), Ok(Message::State(ReadyState::Closed)));
        assert_eq!(receiver.poll(None), Err(PollError::Closed));
    }

    #[test]
    fn a_waiting_poll_wakes_for_a_batch() {
        let (mut handler, receiver) = test_queue(4);
        let worker = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            handler.on_open(200);
            handler.flush();
            handler
        });
        assert_eq!(
            receiver.poll(Some(Duration::from_secs(10))),
            Ok(Message::Open { http_status: 200 })
        );
        drop(worker.join().unwrap());
    }
}
