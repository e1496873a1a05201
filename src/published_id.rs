//! [`PublishedId`]: the last event ID as the worker publishes it for any thread to read.
//!
//! In callback mode the worker publishes the ID before every event (a host that saw an
//! event may ask for the ID from another thread), so this is on the hot path. A mutex cost
//! two locked instructions and a string copy per event. Here the single writer makes no
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
//! [`SharedText`]: one copy per new ID, which the poll queue shares too (see
//! [`PublishedId::current_shared`]) instead of copying it into every queued event.
//!
//! The worker publishes once per new ID (the parser's `Sink::last_event_id`), not once
//! per event: a server that sends one 16 MB ID and then a million events costs one copy.

use std::sync::atomic::{fence, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::text::{SharedText, Text};

/// IDs up to this many bytes are stored inline, without a lock.
const INLINE_WORDS: usize = 8;
pub(crate) const INLINE_BYTES: usize = INLINE_WORDS * 8;

#[derive(Debug)]
pub(crate) struct PublishedId {
    slots: [Slot; 2],
    /// The slot holding the last complete publish.
    current: AtomicUsize,
    /// How many publishes there were: the writer's own way to tell that the ID changed
    /// (see [`PublishedId::current_shared`]).
    publishes: AtomicU64,
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
            publishes: AtomicU64::new(0),
        };
        let mut with_nul = Vec::with_capacity(id.len() + 1);
        with_nul.extend_from_slice(id.as_bytes());
        with_nul.push(0);
        published.publish(Text::from_bytes_with_nul(&with_nul));
        published
    }

    /// Publishes `id`. Only one thread (the worker) may call this.
    pub fn publish(&self, id: Text<'_>) {
        let next = 1 - self.current.load(Ordering::Relaxed);
        self.slots[next].write(id);
        self.current.store(next, Ordering::Release);
        // Only the writer changes it: no read-modify-write needed.
        let publishes = self.publishes.load(Ordering::Relaxed);
        self.publishes.store(publishes + 1, Ordering::Relaxed);
    }

    /// How many times an ID was published. For the writer's thread: it changes exactly
    /// when the writer publishes.
    pub fn publishes(&self) -> u64 {
        self.publishes.load(Ordering::Relaxed)
    }

    /// The ID last published, shared rather than copied, when it is longer than the inline
    /// buffer; `None` for a short one. For the writer's thread, which knows the slot is
    /// not being written.
    pub fn current_shared(&self) -> Option<SharedText> {
        let slot = &self.slots[self.current.load(Ordering::Relaxed)];
        lock(&slot.long).clone()
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

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Slot {
    fn write(&self, id: Text<'_>) {
        let was_long = self.len.load(Ordering::Relaxed) > INLINE_BYTES;
        let sequence = self.sequence.load(Ordering::Relaxed);
        self.sequence
            .store(sequence.wrapping_add(1), Ordering::Relaxed);
        // The odd sequence is visible before any byte changes.
        fence(Ordering::Release);
        let bytes = id.as_str().as_bytes();
        if bytes.len() <= INLINE_BYTES {
            for (word, chunk) in self.inline.iter().zip(bytes.chunks(8)) {
                let mut buffer = [0u8; 8];
                buffer[..chunk.len()].copy_from_slice(chunk);
                word.store(u64::from_le_bytes(buffer), Ordering::Relaxed);
            }
            if was_long {
                *lock(&self.long) = None;
            }
        } else {
            // Copied before the lock is taken: readers wait only for the pointer swap.
            let shared = SharedText::new(id);
            let replaced = lock(&self.long).replace(shared);
            drop(replaced);
        }
        self.len.store(bytes.len(), Ordering::Relaxed);
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
            shared.map_or_else(Vec::new, |id| id.as_text().as_str().as_bytes().to_vec())
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

    #[test]
    fn a_long_id_is_shared_once_per_publish_and_released_when_replaced() {
        let published = PublishedId::new("short");
        assert_eq!(published.current_shared(), None, "short IDs are inline");
        let long = "x".repeat(INLINE_BYTES + 1);
        let before = published.publishes();
        published.publish(Text::from_bytes_with_nul(&with_nul(&long)));
        assert_eq!(published.publishes(), before + 1);
        let first = published.current_shared().expect("a long ID is shared");
        let second = published.current_shared().unwrap();
        assert!(
            SharedText::same_copy(&first, &second),
            "not copied per call"
        );
        assert_eq!(first.as_text(), long.as_str());
        assert_eq!(published.read(), long);
        // Two short IDs later both slots are inline again: the long copy is gone.
        published.publish(Text::from_bytes_with_nul(b"1\0"));
        published.publish(Text::from_bytes_with_nul(b"2\0"));
        drop(second);
        assert_eq!(published.current_shared(), None);
        assert_eq!(first.clones(), 1, "the published copy was released");
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
        let mut reads = 0;
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_millis(300) {
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
            reads > 100 && rounds > 100,
            "{reads} reads, {rounds} writes"
        );
    }
}
