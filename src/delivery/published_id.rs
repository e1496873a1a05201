//! [`PublishedId`]: the last event ID as the worker publishes it for any thread to read.
//!
//! In callback mode the worker publishes each new ID before the event that carries it (a
//! host that saw an event may ask for the ID from another thread), so with an ID on every
//! event this is on the hot path. A mutex cost two locked instructions and a string copy
//! per event. Poll mode's queue publishes once per batch it queues, the ID of its last
//! event, before the host can see it (and the worker once more at the end of a read, for
//! an ID that came without an event). Here the single writer makes no
//! read-modify-write at all: it writes the slot readers are not directed to, each slot
//! guarded by a sequence number, then directs readers to it.
//!
//! Two slots, not one: with a single sequence lock a reader must wait while the writer is
//! in the middle of a write, and a writer preempted there (valgrind runs one thread at a
//! time) left readers spinning until it ran again; the C stress test under helgrind
//! stalled for 30 s once. With two, the slot a reader is directed to is complete; a read
//! fails only when the writer has since finished a publish and begun the next one there,
//! so every retry means the writer made progress.
//!
//! IDs longer than the inline buffer (rare) go through a mutex per slot, as a
//! [`SharedText`]: one copy per new ID, the same one the poll queue shares between the
//! events it queues ([`PublishedId::publish_shared`]).
//!
//! Nothing is published per event: a server that sends one 16 MB ID and then a million
//! events costs one copy. The worker counts the new IDs it sees ([`PublishedId::new_ids`]),
//! which tells the poll queue when the ID of the events it queues changed.

use std::sync::atomic::{fence, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::sse::text::{SharedText, Text};

/// IDs up to this many bytes are stored inline, without a lock.
const INLINE_WORDS: usize = 8;
pub(crate) const INLINE_BYTES: usize = INLINE_WORDS * 8;

#[derive(Debug)]
pub(crate) struct PublishedId {
    slots: [Slot; 2],
    /// The slot holding the last complete publish.
    current: AtomicUsize,
    /// New IDs the worker has seen, published yet or not (see the module comment).
    new_ids: AtomicU64,
}

#[derive(Debug, Default)]
struct Slot {
    /// Odd while a write is in progress; readers retry when it changed under them.
    sequence: AtomicU64,
    len: AtomicUsize,
    /// The bytes of an ID of at most `INLINE_BYTES`, little-endian in 8-byte words. Atomic
    /// words because readers may race the writer (the sequence tells them to retry).
    inline: [AtomicU64; INLINE_WORDS],
    /// An ID longer than `INLINE_BYTES`; `None` once an inline one replaced it, so that a
    /// huge ID does not stay in memory after the server moved on.
    long: Mutex<Option<SharedText>>,
}

impl PublishedId {
    pub fn new(id: &str) -> PublishedId {
        let published = PublishedId {
            slots: Default::default(),
            current: AtomicUsize::new(0),
            new_ids: AtomicU64::new(0),
        };
        let mut with_nul = Vec::with_capacity(id.len() + 1);
        with_nul.extend_from_slice(id.as_bytes());
        with_nul.push(0);
        published.publish(Text::from_bytes_with_nul(&with_nul));
        published
    }

    /// Publishes `id`, copying it. Only one thread (the worker) may publish.
    pub fn publish(&self, id: Text<'_>) {
        self.publish_with(id, None);
    }

    /// Publishes a long ID already shared, without copying it.
    pub fn publish_shared(&self, id: &SharedText) {
        self.publish_with(id.as_text(), Some(id));
    }

    fn publish_with(&self, id: Text<'_>, shared: Option<&SharedText>) {
        let next = 1 - self.current.load(Ordering::Relaxed);
        self.slots[next].write(id, shared);
        self.current.store(next, Ordering::Release);
    }

    /// The worker saw a new ID (it may publish it later). Only the worker calls this.
    pub fn note_new_id(&self) {
        // Only the writer changes it: no read-modify-write needed.
        let seen = self.new_ids.load(Ordering::Relaxed);
        self.new_ids.store(seen + 1, Ordering::Relaxed);
    }

    /// How many new IDs the worker has seen: for the worker's thread, where it changes
    /// exactly when the ID of the events being delivered changes.
    pub fn new_ids(&self) -> u64 {
        self.new_ids.load(Ordering::Relaxed)
    }

    /// The ID last published.
    pub fn read(&self) -> String {
        loop {
            let slot = &self.slots[self.current.load(Ordering::Acquire)];
            if let Some(id) = slot.try_read() {
                return id;
            }
            // The writer finished a publish since `current` was read and is writing this
            // slot again: the other one is complete now.
            std::hint::spin_loop();
        }
    }
}

/// `chunk` (at most 8 bytes) as a little-endian word, zero-padded. A short tail is read
/// as two overlapping loads whose common bytes land in the same place: copying it into a
/// buffer called memcpy, and a byte loop cost more still, on a path that runs for every
/// event when each event has an ID (the common case).
#[inline(always)]
fn word_of(chunk: &[u8]) -> u64 {
    let n = chunk.len();
    if let Ok(full) = <[u8; 8]>::try_from(chunk) {
        return u64::from_le_bytes(full);
    }
    let (low, high) = match n {
        4..=7 => (
            u64::from(u32::from_le_bytes(chunk[..4].try_into().unwrap())),
            u64::from(u32::from_le_bytes(chunk[n - 4..].try_into().unwrap())) << (8 * (n - 4)),
        ),
        2..=3 => (
            u64::from(u16::from_le_bytes(chunk[..2].try_into().unwrap())),
            u64::from(u16::from_le_bytes(chunk[n - 2..].try_into().unwrap())) << (8 * (n - 2)),
        ),
        1 => (u64::from(chunk[0]), 0),
        _ => (0, 0),
    };
    low | high
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Slot {
    /// Writes `id`; a long one as `shared` when given (no copy), else as a copy.
    #[inline]
    fn write(&self, id: Text<'_>, shared: Option<&SharedText>) {
        let bytes = id.as_bytes();
        // The usual case, a short ID replacing a short one, touches no lock: kept apart
        // from the rare one so that it saves and restores no registers for it (about 15
        // instructions of each event's 80 when every event has an ID).
        if bytes.len() > INLINE_BYTES || self.len.load(Ordering::Relaxed) > INLINE_BYTES {
            return self.write_locked(id, shared);
        }
        let sequence = self.begin_write();
        self.store_inline(bytes);
        self.end_write(sequence, bytes.len());
    }

    /// [`write`](Self::write) when the new ID or the one it replaces is long.
    #[cold]
    #[inline(never)]
    fn write_locked(&self, id: Text<'_>, shared: Option<&SharedText>) {
        let bytes = id.as_bytes();
        let sequence = self.begin_write();
        if bytes.len() <= INLINE_BYTES {
            self.store_inline(bytes);
            *lock(&self.long) = None;
        } else {
            // Copied before the lock is taken: readers wait only for the pointer swap.
            let shared = shared.cloned().unwrap_or_else(|| SharedText::new(id));
            let replaced = lock(&self.long).replace(shared);
            drop(replaced);
        }
        self.end_write(sequence, bytes.len());
    }

    /// Makes the sequence odd; returns it as it was.
    #[inline(always)]
    fn begin_write(&self) -> u64 {
        let sequence = self.sequence.load(Ordering::Relaxed);
        self.sequence
            .store(sequence.wrapping_add(1), Ordering::Relaxed);
        // The odd sequence is visible before any byte changes.
        fence(Ordering::Release);
        sequence
    }

    #[inline(always)]
    fn store_inline(&self, bytes: &[u8]) {
        for (word, chunk) in self.inline.iter().zip(bytes.chunks(8)) {
            word.store(word_of(chunk), Ordering::Relaxed);
        }
    }

    /// Records the length and makes the sequence even again, releasing the bytes.
    #[inline(always)]
    fn end_write(&self, sequence: u64, len: usize) {
        self.len.store(len, Ordering::Relaxed);
        self.sequence
            .store(sequence.wrapping_add(2), Ordering::Release);
    }

    /// A consistent copy, or None when a write overlapped.
    fn try_read(&self) -> Option<String> {
        let before = self.sequence.load(Ordering::Acquire);
        if !before.is_multiple_of(2) {
            return None;
        }
        let len = self.len.load(Ordering::Relaxed);
        let bytes = if len <= INLINE_BYTES {
            let mut bytes = Vec::with_capacity(INLINE_BYTES);
            for word in &self.inline[..len.div_ceil(8)] {
                bytes.extend_from_slice(&word.load(Ordering::Relaxed).to_le_bytes());
            }
            bytes.truncate(len);
            bytes
        } else {
            // Cloned under the lock, copied after it.
            let shared = lock(&self.long).clone();
            shared.map_or_else(Vec::new, |id| id.as_text().as_bytes().to_vec())
        };
        // Every load above happens before the sequence is checked again.
        fence(Ordering::Acquire);
        if self.sequence.load(Ordering::Relaxed) != before || bytes.len() != len {
            return None;
        }
        // A consistent snapshot of what was published, which was a &str.
        String::from_utf8(bytes).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    /// `text` followed by a NUL, for [`Text::from_bytes_with_nul`].
    fn with_nul(text: &str) -> Vec<u8> {
        format!("{text}\0").into_bytes()
    }

    #[test]
    fn reads_what_was_published_at_every_length() {
        let id = PublishedId::new("start");
        assert_eq!(id.read(), "start");
        for len in [0, 1, 7, 8, 9, 63, 64, 65, 200, 3] {
            let text: String = "é".repeat(len / 2) + &"x".repeat(len % 2);
            id.publish(Text::from_bytes_with_nul(&with_nul(&text)));
            assert_eq!(id.read(), text, "length {len}");
        }
    }

    fn published_copy(published: &PublishedId) -> Option<SharedText> {
        lock(&published.slots[published.current.load(Ordering::Relaxed)].long).clone()
    }

    #[test]
    fn a_long_id_is_copied_once_or_shared_and_released_when_replaced() {
        let published = PublishedId::new("short");
        assert_eq!(published_copy(&published), None, "short IDs are inline");
        let long = "x".repeat(INLINE_BYTES + 1);
        published.publish(Text::from_bytes_with_nul(&with_nul(&long)));
        assert_eq!(published.read(), long);
        let shared = SharedText::new(Text::from_bytes_with_nul(&with_nul(&long)));
        published.publish_shared(&shared);
        assert!(SharedText::same_copy(
            &published_copy(&published).unwrap(),
            &shared
        ));
        assert_eq!(published.read(), long);
        // Two short IDs later both slots are inline again: the long copies are gone.
        published.publish(Text::from_bytes_with_nul(b"1\0"));
        published.publish(Text::from_bytes_with_nul(b"2\0"));
        assert_eq!(published_copy(&published), None);
        assert_eq!(shared.clones(), 1, "the published copy was released");
        assert_eq!(published.read(), "2");
    }

    #[test]
    fn new_ids_are_counted_apart_from_publishing() {
        let published = PublishedId::new("");
        published.note_new_id();
        published.note_new_id();
        assert_eq!(published.new_ids(), 2);
        assert_eq!(published.read(), "", "noting is not publishing");
    }

    #[test]
    fn words_are_the_bytes_little_endian_and_zero_padded() {
        let bytes = b"abcdefgh";
        for n in 0..=8 {
            let mut padded = [0u8; 8];
            padded[..n].copy_from_slice(&bytes[..n]);
            assert_eq!(
                word_of(&bytes[..n]),
                u64::from_le_bytes(padded),
                "{n} bytes"
            );
        }
    }

    #[test]
    fn a_write_in_progress_does_not_hold_readers_up() {
        let published = PublishedId::new("done");
        // The writer stopped in the middle of writing the next slot: readers are still
        // directed to the complete one.
        let next = 1 - published.current.load(Ordering::Relaxed);
        published.slots[next]
            .sequence
            .fetch_add(1, Ordering::Relaxed);
        assert_eq!(published.read(), "done");
    }

    #[test]
    fn concurrent_readers_never_see_a_torn_id() {
        // Each ID is one letter repeated, 1 + n or 65 + n times for the n-th letter (inline
        // and long alternately): a torn read would mix letters or lengths.
        let published = Arc::new(PublishedId::new(""));
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (published, stop) = (published.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut round = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let n = (round / 2) % 26;
                    let letter = char::from(b'a' + n as u8);
                    let len = if round.is_multiple_of(2) {
                        1 + n
                    } else {
                        65 + n
                    };
                    let id = with_nul(&letter.to_string().repeat(len));
                    published.publish(Text::from_bytes_with_nul(&id));
                    round += 1;
                }
                round
            })
        };
        // Miri runs about a thousand times slower (and checks every access of the slots
        // for data races): a fixed number of reads there, 300 ms of them natively.
        let (least, start) = (if cfg!(miri) { 1 } else { 100 }, std::time::Instant::now());
        let more = |reads: usize| {
            if cfg!(miri) {
                reads < 40
            } else {
                start.elapsed() < std::time::Duration::from_millis(300)
            }
        };
        let mut reads = 0;
        while more(reads) {
            let id = published.read();
            if let Some(first) = id.chars().next() {
                let n = first as usize - 'a' as usize;
                assert!(id.chars().all(|c| c == first), "torn: {id:?}");
                assert!(
                    id.len() == 1 + n || id.len() == 65 + n,
                    "length {} does not belong to {first:?}",
                    id.len()
                );
            }
            reads += 1;
        }
        stop.store(true, Ordering::Relaxed);
        let rounds = writer.join().unwrap();
        assert!(
            reads >= least && rounds >= least,
            "{reads} reads, {rounds} writes"
        );
    }
}
