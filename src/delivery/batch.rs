//! [`MessageBatch`]: the messages a poll-mode worker queued in one go (one socket read's
//! events, typically), with all their strings in one buffer.
//!
//! Why: queueing each event as its own heap object cost two allocations, two frees and a
//! channel slot per event, most of poll mode's cost. A batch costs a few appends per event
//! and one allocation per batch, and the host can take it whole (`sse_client_poll_batch`).

use crate::delivery::report::{ClientError, Message, OwnedEvent, ReadyState};
use crate::sse::parser::Event;
use crate::sse::text::{SharedText, Text};

/// The default event type, which events do not store.
const MESSAGE: &str = "message\0";

/// Messages in queue order, their strings NUL-terminated in one buffer.
#[derive(Debug, Default)]
pub struct MessageBatch {
    /// Every string of every message, each followed by one NUL. A `String`, so that the
    /// texts it hands back are safe slices (`&strings[a..b]` checks the boundaries).
    strings: String,
    entries: Vec<Entry>,
    /// Long last event IDs, shared rather than copied into `strings` for each event that
    /// carries one: a server that sends a 1 MiB ID and then many small events must not cost
    /// a copy of it per event. Each appears once, however many events refer to it.
    shared_ids: Vec<SharedText>,
    /// Bytes of `shared_ids`, counted in [`string_bytes`](Self::string_bytes).
    shared_id_bytes: usize,
}

/// One message; strings are ranges of `strings` (lengths without the NUL).
#[derive(Debug)]
enum Entry {
    Open {
        http_status: u16,
    },
    /// The type (unless it is "message", the usual case, not stored), data and (unless
    /// shared) id strings, each NUL-terminated, one after the other at `start`.
    Event {
        start: usize,
        /// `None` for "message".
        type_len: Option<usize>,
        data_len: usize,
        id: EventId,
    },
    Comment {
        start: usize,
        len: usize,
    },
    Error(Box<ClientError>),
    State(ReadyState),
}

/// How an event's ID goes into a batch.
#[derive(Clone, Copy, Debug)]
pub(crate) enum IdCopy<'a> {
    /// Copied into the batch's strings: a short ID.
    Inline,
    /// A long ID's shared copy, held once for every event in a row that carries it. `first`:
    /// no batch held this copy before, so this one counts its bytes toward the queue's
    /// bound; the later batches that share it do not, or a 1 MiB ID alone would fill the
    /// bound of every batch and leave room for one event each.
    Shared { id: &'a SharedText, first: bool },
}

/// Where an event's ID is kept.
#[derive(Clone, Copy, Debug)]
enum EventId {
    /// In `strings`, after the data, this many bytes long.
    Inline { len: usize },
    /// `shared_ids[index]`.
    Shared { index: usize },
}

/// A message of a batch, borrowed from it.
#[derive(Clone, Copy, Debug)]
pub enum BatchMessage<'a> {
    Open {
        http_status: u16,
    },
    Event {
        event: Event<'a>,
        /// The batch's shared copy of the event's ID, when the ID is a long one: an owned
        /// copy of the message shares it too instead of copying it.
        shared_id: Option<&'a SharedText>,
    },
    Comment(Text<'a>),
    Error(&'a ClientError),
    State(ReadyState),
}

impl BatchMessage<'_> {
    /// An owned copy, for hosts that take one message at a time.
    pub fn to_message(self) -> Message {
        match self {
            BatchMessage::Open { http_status } => Message::Open { http_status },
            BatchMessage::Event { event, shared_id } => {
                Message::Event(OwnedEvent::sharing_id(&event, shared_id))
            }
            BatchMessage::Comment(text) => Message::comment(text),
            BatchMessage::Error(error) => Message::Error(Box::new(error.clone())),
            BatchMessage::State(state) => Message::State(state),
        }
    }
}

impl MessageBatch {
    /// What the next batch is sized by ([`with_sizes`](Self::with_sizes)), so that a
    /// steady stream does not grow each batch's buffers from nothing.
    pub fn sizes(&self) -> (usize, usize) {
        (self.strings.len(), self.entries.len())
    }

    pub fn with_sizes((strings, entries): (usize, usize)) -> MessageBatch {
        MessageBatch {
            strings: String::with_capacity(strings),
            entries: Vec::with_capacity(entries),
            shared_ids: Vec::new(),
            shared_id_bytes: 0,
        }
    }

    /// Empty, keeping the buffers for the next use (but not the shared IDs).
    pub fn clear(&mut self) {
        self.strings.clear();
        self.entries.clear();
        self.shared_ids.clear();
        self.shared_id_bytes = 0;
    }

    /// Bytes the buffers hold on to.
    pub fn capacity_bytes(&self) -> usize {
        self.strings.capacity() + self.entries.capacity() * std::mem::size_of::<Entry>()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes of strings held: what a batch costs in memory, besides its entries.
    pub fn string_bytes(&self) -> usize {
        self.strings.len() + self.shared_id_bytes
    }

    pub fn push_open(&mut self, http_status: u16) {
        self.entries.push(Entry::Open { http_status });
    }

    /// Appends `event`, its ID as `id` says.
    pub(crate) fn push_event(&mut self, event: &Event<'_>, id: IdCopy<'_>) {
        let start = self.strings.len();
        let event_type = event.event_type.as_str_with_nul();
        let type_len = (event_type != MESSAGE).then_some(event.event_type.len());
        let type_text = if type_len.is_some() { event_type } else { "" };
        let data = event.data.as_str_with_nul();
        let (id, id_text) = match id {
            IdCopy::Shared { id, first } => (
                EventId::Shared {
                    index: self.share(id, first),
                },
                "",
            ),
            IdCopy::Inline => (
                EventId::Inline {
                    len: event.id.len(),
                },
                event.id.as_str_with_nul(),
            ),
        };
        self.strings
            .reserve(type_text.len() + data.len() + id_text.len());
        self.strings.push_str(type_text);
        self.strings.push_str(data);
        self.strings.push_str(id_text);
        self.entries.push(Entry::Event {
            start,
            type_len,
            data_len: event.data.len(),
            id,
        });
    }

    /// The index of `shared` in `shared_ids`, added unless the last one is the same copy;
    /// its bytes counted if `first` (see [`IdCopy`]).
    fn share(&mut self, shared: &SharedText, first: bool) -> usize {
        match self.shared_ids.last() {
            Some(last) if SharedText::same_copy(last, shared) => {}
            _ => {
                if first {
                    self.shared_id_bytes += shared.as_text().as_str_with_nul().len();
                }
                self.shared_ids.push(shared.clone());
            }
        }
        self.shared_ids.len() - 1
    }

    pub fn push_comment(&mut self, text: Text<'_>) {
        let start = self.strings.len();
        self.strings.push_str(text.as_str_with_nul());
        self.entries.push(Entry::Comment {
            start,
            len: text.len(),
        });
    }

    pub fn push_error(&mut self, error: &ClientError) {
        self.entries.push(Entry::Error(Box::new(error.clone())));
    }

    pub fn push_state(&mut self, state: ReadyState) {
        self.entries.push(Entry::State(state));
    }

    /// The ID of the last event, and its shared copy if it has one; `None` without events.
    pub(crate) fn last_event_id(&self) -> Option<(Text<'_>, Option<&SharedText>)> {
        let last = self
            .entries
            .iter()
            .rposition(|entry| matches!(entry, Entry::Event { .. }))?;
        match self.get(last) {
            BatchMessage::Event { event, shared_id } => Some((event.id, shared_id)),
            _ => None,
        }
    }

    /// The message at `index`; panics past the end, like a slice.
    #[inline]
    pub fn get(&self, index: usize) -> BatchMessage<'_> {
        match &self.entries[index] {
            Entry::Open { http_status } => BatchMessage::Open {
                http_status: *http_status,
            },
            &Entry::Event {
                start,
                type_len,
                data_len,
                id,
            } => {
                // One slice for the event's strings, split in place: each `&strings[a..b]`
                // checks two character boundaries, a split one.
                let mut rest = &self.strings[start..];
                let event_type = match type_len {
                    Some(len) => take_text(&mut rest, len),
                    None => Text::from_str_with_nul(MESSAGE),
                };
                let data = take_text(&mut rest, data_len);
                let (id, shared_id) = match id {
                    EventId::Inline { len } => (take_text(&mut rest, len), None),
                    EventId::Shared { index } => {
                        let shared = &self.shared_ids[index];
                        (shared.as_text(), Some(shared))
                    }
                };
                BatchMessage::Event {
                    event: Event {
                        event_type,
                        data,
                        id,
                    },
                    shared_id,
                }
            }
            &Entry::Comment { start, len } => BatchMessage::Comment(self.text(start, len)),
            Entry::Error(error) => BatchMessage::Error(error),
            Entry::State(state) => BatchMessage::State(*state),
        }
    }

    /// The messages from `first` on.
    pub fn iter_from(&self, first: usize) -> impl Iterator<Item = BatchMessage<'_>> + '_ {
        (first..self.len()).map(move |i| self.get(i))
    }

    fn text(&self, start: usize, len: usize) -> Text<'_> {
        // A copied Text: the string and its NUL.
        Text::from_str_with_nul(&self.strings[start..start + len + 1])
    }
}

/// The text of `len` bytes (and its NUL) at the start of `rest`, which moves past it.
#[inline(always)]
fn take_text<'a>(rest: &mut &'a str, len: usize) -> Text<'a> {
    let (text, after) = rest.split_at(len + 1);
    *rest = after;
    Text::from_str_with_nul(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::report::ErrorKind;
    use std::time::Duration;

    fn text(bytes: &'static [u8]) -> Text<'static> {
        Text::from_bytes_with_nul(bytes)
    }

    #[test]
    fn every_kind_comes_back_in_order_with_its_strings() {
        let mut batch = MessageBatch::default();
        let error = ClientError {
            kind: ErrorKind::Io,
            http_status: 0,
            message: "broke".into(),
            remedies: Vec::new(),
            will_retry: true,
            retry_delay: Duration::from_millis(5),
            failed_attempts: 1,
        };
        batch.push_open(200);
        batch.push_event(
            &Event {
                event_type: text(b"tick\0"),
                data: text(b"a\0b\0"),
                id: text(b"7\0"),
            },
            IdCopy::Inline,
        );
        batch.push_comment(text(b"hb\0"));
        batch.push_event(
            &Event {
                event_type: text(b"message\0"),
                data: text(b"\0"),
                id: Text::EMPTY,
            },
            IdCopy::Inline,
        );
        batch.push_error(&error);
        batch.push_state(ReadyState::Connecting);
        assert_eq!(batch.len(), 6);

        let messages: Vec<Message> = batch.iter_from(0).map(|m| m.to_message()).collect();
        assert_eq!(messages[0], Message::Open { http_status: 200 });
        let Message::Event(first) = &messages[1] else {
            panic!("{:?}", messages[1]);
        };
        let first = first.as_event();
        assert_eq!(first.event_type, "tick");
        assert_eq!(first.data, "a\0b");
        assert_eq!(first.data.as_bytes_with_nul(), b"a\0b\0");
        assert_eq!(first.id, "7");
        assert_eq!(messages[2].comment_text().unwrap(), "hb");
        let Message::Event(second) = &messages[3] else {
            panic!("{:?}", messages[3]);
        };
        assert_eq!(second.as_event().data, "");
        assert_eq!(
            second.as_event().event_type.as_bytes_with_nul(),
            b"message\0"
        );
        assert_eq!(second.as_event().id.as_bytes_with_nul(), b"\0");
        assert_eq!(messages[4], Message::Error(Box::new(error)));
        assert_eq!(messages[5], Message::State(ReadyState::Connecting));
        assert_eq!(batch.iter_from(5).count(), 1);
    }

    #[test]
    fn events_with_the_same_shared_id_hold_one_copy_of_it() {
        let long = format!("{}\0", "i".repeat(1000));
        let shared = SharedText::new(Text::from_bytes_with_nul(long.as_bytes()));
        let mut batch = MessageBatch::default();
        for data in [&b"a\0"[..], b"b\0", b"c\0"] {
            batch.push_event(
                &Event {
                    event_type: text(b"message\0"),
                    data: Text::from_bytes_with_nul(data),
                    id: shared.as_text(),
                },
                IdCopy::Shared {
                    id: &shared,
                    first: true,
                },
            );
        }
        assert_eq!(batch.shared_ids.len(), 1);
        assert_eq!(
            batch.string_bytes(),
            3 * 2 + long.len(),
            "the ID counted once"
        );
        let ids: Vec<*const u8> = batch
            .iter_from(0)
            .map(|message| match message {
                BatchMessage::Event { event, shared_id } => {
                    assert!(SharedText::same_copy(shared_id.unwrap(), &shared));
                    assert_eq!(event.id, &long[..1000]);
                    event.id.as_bytes_with_nul().as_ptr()
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert!(ids.iter().all(|&id| id == ids[0]), "one copy, three views");
        // An owned copy shares it too.
        let Message::Event(owned) = batch.get(1).to_message() else {
            panic!("not an event");
        };
        assert_eq!(owned.as_event().id.as_bytes_with_nul().as_ptr(), ids[0]);
        assert_eq!(owned.as_event().data, "b");
        batch.clear();
        assert_eq!(
            shared.clones(),
            2,
            "the batch let go of its copy, the message holds one"
        );
    }

    #[test]
    fn a_batch_sized_like_another_starts_empty() {
        let mut batch = MessageBatch::default();
        batch.push_comment(text(b"0123456789\0"));
        let next = MessageBatch::with_sizes(batch.sizes());
        assert!(next.is_empty());
        assert_eq!(next.string_bytes(), 0);
        assert!(next.strings.capacity() >= 11);
    }
}
