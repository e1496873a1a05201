//! The event-stream parser: bytes in, events out. No I/O, no threads.
//!
//! Implements WHATWG HTML §9.2.6 "Interpreting an event stream"
//! (<https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation>).
//!
//! # How bytes map to the spec's characters
//!
//! The spec decodes the stream with "UTF-8 decode" first and then splits lines and fields on
//! CR, LF, `:` and U+0020. Those are ASCII, and in UTF-8 an ASCII byte is never part of a
//! multibyte sequence; the decoder also ends any incomplete sequence *before* an ASCII byte
//! (which then decodes as itself). So splitting the raw bytes and decoding each field value
//! lossily on its own gives exactly the same strings as decoding first, in any chunking, and
//! lets the hot path stay on bytes: a data value is only copied once, and the whole event is
//! validated once at dispatch (a failed validation, i.e. invalid input, is rebuilt with
//! `String::from_utf8_lossy`, whose maximal-subpart rule is the WHATWG one). The line scanner
//! (`src/sse/line_ends.rs`) also tells which lines are pure ASCII; a buffer fed only by
//! such lines is valid as it is and skips the validation (each buffer, the partial line
//! included, keeps a "may hold non-ASCII" flag).
//!
//! # Size limit
//!
//! With `max_event_size > 0`, the parser counts the bytes as received of the current event's
//! non-comment lines (each with its line terminator: CR, LF or CRLF) plus the line being
//! read. When the count exceeds the limit, [`Parser::feed`] returns [`TooLarge`]. A line is
//! checked before it is processed (so a comment or unknown field longer than the limit is
//! rejected too, whether or not it is complete), and a complete comment line does not count
//! toward the event, so heartbeats never accumulate. The result does not depend on how the
//! stream is chunked. After the error the parser has dropped its stream buffers and keeps
//! returning the error until [`Parser::reset_stream`].

use crate::sse::text::{Text, TextBuf};

use crate::sse::line_ends::LineEnds;

/// One dispatched event, borrowed from the parser's buffers until the sink call returns.
#[derive(Clone, Copy, Debug)]
pub struct Event<'a> {
    /// The event type: "message" when the event had no (or an empty) `event:` field.
    pub event_type: Text<'a>,
    /// The data lines joined with LF (the trailing LF removed). May contain NUL.
    pub data: Text<'a>,
    /// The last event ID after this event ("" if none).
    pub id: Text<'a>,
}

/// Where the parser hands what it finds, in stream order.
pub trait Sink {
    /// A dispatched event (a blank line after at least one `data` field).
    fn event(&mut self, event: &Event<'_>);
    /// A comment line: the text after the colon, one leading space removed.
    fn comment(&mut self, text: Text<'_>);
    /// A valid `retry:` field: the new reconnection time in milliseconds.
    fn retry(&mut self, millis: u64);
    /// The last event ID string was set: at a dispatch that followed an `id` field, before
    /// the event (if the dispatch has one). Called once per such dispatch, not per event,
    /// so a sink that keeps the ID elsewhere copies it once per `id` field the server sent
    /// and never per event: a long ID followed by many events costs nothing per event.
    fn last_event_id(&mut self, _id: Text<'_>) {}
    /// Asked after each event and comment: false ends the feed at once, leaving the rest
    /// of its bytes unparsed. The stream is then abandoned: feeding it again before
    /// [`Parser::reset_stream`] would lose those bytes. Lets a closed client's worker stop
    /// in the middle of a read instead of parsing the rest of it for nobody.
    fn keep_going(&self) -> bool {
        true
    }
}

/// An event, or a single line, grew beyond the configured maximum size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooLarge {
    pub limit: usize,
}

/// Why a feed stopped before the end of its bytes.
enum Halt {
    TooLarge(TooLarge),
    /// The sink asked to stop ([`Sink::keep_going`]).
    Stopped,
}

impl From<TooLarge> for Halt {
    fn from(error: TooLarge) -> Halt {
        Halt::TooLarge(error)
    }
}

/// The UTF-8 byte order mark, stripped once at the start of each stream.
const BOM: &[u8; 3] = b"\xEF\xBB\xBF";

/// The default event type, NUL-terminated for [`Text`].
const MESSAGE: &str = "message\0";

#[derive(Debug)]
pub struct Parser {
    /// As configured (0 = unlimited), for the error.
    max_event_size: usize,
    /// The limit the accounting compares with: `usize::MAX` when unlimited, so that the hot
    /// path has one comparison and no "is there a limit" test.
    limit: usize,
    /// The start of a line whose end has not been received yet (raw bytes, no terminator).
    line: Vec<u8>,
    /// Bytes the line buffer held when it was last emptied (see `release_if_oversized`).
    line_last_use: usize,
    /// `line` may hold non-ASCII bytes (so the line needs UTF-8 validation).
    line_non_ascii: bool,
    /// The data buffer: raw bytes of the `data` values, each followed by LF.
    data: Vec<u8>,
    /// Bytes the data buffer held at the last dispatch (see `release_if_oversized`).
    data_last_use: usize,
    /// `data` may hold non-ASCII bytes: it is validated at dispatch.
    data_non_ascii: bool,
    /// Where the data starts in `data`: a data line completed from the line buffer is
    /// adopted whole, "data:" prefix included, instead of being copied (see `feed`).
    data_start: usize,
    /// The last `event` value, made valid UTF-8 (empty when none).
    event_type: TextBuf,
    /// The last event ID buffer. Validated when an `id` field sets it, so that a long ID
    /// costs nothing per event.
    id_buffer: TextBuf,
    /// The last event ID string.
    last_id: TextBuf,
    /// `id_buffer` was set since it was last copied to `last_id`.
    id_buffer_changed: bool,
    /// Where comment text is made valid and NUL-terminated.
    scratch: TextBuf,
    /// Where data that is not valid UTF-8 is rebuilt with U+FFFD (invalid input only).
    repaired: String,
    /// Bytes of the current event's completed non-comment lines, terminators included.
    /// Never above `limit` (exceeding it fails the stream and resets it to 0).
    event_size: usize,
    /// No byte of the stream has been processed yet beyond a (partial) BOM.
    at_stream_start: bool,
    /// How many bytes of the BOM have been matched at the start of the stream.
    bom_matched: usize,
    /// The previous feed ended with a CR: a LF at the start of the next one belongs to it.
    cr_pending: bool,
    /// ... and that CR ended a field line, so the LF counts toward the event size.
    cr_pending_counts: bool,
    /// `TooLarge` was returned; the stream must be reset.
    failed: bool,
}

impl Parser {
    /// `max_event_size`: bytes of one event as received (all its lines); 0 = no limit.
    pub fn new(max_event_size: usize) -> Parser {
        Parser {
            max_event_size,
            limit: if max_event_size == 0 {
                usize::MAX
            } else {
                max_event_size
            },
            line: Vec::new(),
            line_last_use: 0,
            line_non_ascii: false,
            data: Vec::new(),
            data_last_use: 0,
            data_non_ascii: false,
            data_start: 0,
            event_type: TextBuf::new(),
            id_buffer: TextBuf::new(),
            last_id: TextBuf::new(),
            id_buffer_changed: false,
            scratch: TextBuf::new(),
            repaired: String::new(),
            event_size: 0,
            at_stream_start: true,
            bom_matched: 0,
            cr_pending: false,
            cr_pending_counts: false,
            failed: false,
        }
    }

    /// Sets the last event ID (e.g. configured by the host before the first connect).
    ///
    /// Sets both the last event ID string and the stream's last event ID buffer, so a blank
    /// line before the server's first `id` field keeps it. The string is taken as given.
    pub fn set_last_event_id(&mut self, id: &str) {
        self.last_id.set(id);
        self.id_buffer.clone_from(&self.last_id);
        self.id_buffer_changed = false;
    }

    /// The last event ID string (committed at dispatch).
    pub fn last_event_id(&self) -> &str {
        self.last_event_id_text().as_str()
    }

    /// The same, NUL-terminated.
    pub fn last_event_id_text(&self) -> Text<'_> {
        self.last_id.as_text()
    }

    /// Feeds the next bytes of the stream, in any chunking.
    ///
    /// Events, comments and retry values found are handed to `sink` before this returns.
    /// `Err(TooLarge)` means the current event (or line) exceeded `max_event_size`; the
    /// stream is then unusable: every further call returns the error until
    /// [`reset_stream`](Parser::reset_stream).
    /// A sink whose [`Sink::keep_going`] says false ends the feed early, with `Ok`.
    pub fn feed(&mut self, bytes: &[u8], sink: &mut impl Sink) -> Result<(), TooLarge> {
        match self.feed_until_halt(bytes, sink) {
            Ok(()) | Err(Halt::Stopped) => Ok(()),
            Err(Halt::TooLarge(error)) => Err(error),
        }
    }

    fn feed_until_halt(&mut self, bytes: &[u8], sink: &mut impl Sink) -> Result<(), Halt> {
        if self.failed {
            return Err(self.too_large().into());
        }
        let mut bytes = bytes;
        if self.at_stream_start {
            bytes = self.strip_bom(bytes);
        }
        if bytes.is_empty() {
            return Ok(());
        }
        if self.cr_pending {
            self.cr_pending = false;
            if bytes[0] == b'\n' {
                bytes = &bytes[1..];
                if self.cr_pending_counts {
                    self.check(1)?;
                    self.event_size += 1;
                }
            }
        }

        let mut ends = LineEnds::new(bytes);
        let mut start = 0;
        // Finish the line started in an earlier feed, from the line buffer.
        if !self.line.is_empty() {
            let Some((end, non_ascii)) = ends.next_end() else {
                self.check(self.line.len() + bytes.len())?;
                self.line_non_ascii |= ends.rest_is_non_ascii();
                self.line.extend_from_slice(bytes);
                return Ok(());
            };
            // Checked before it is buffered, so that memory stays bounded by the limit.
            self.check(self.line.len() + end)?;
            self.line.extend_from_slice(&bytes[..end]);
            let mut line = std::mem::take(&mut self.line);
            let line_len = line.len();
            let non_ascii = std::mem::take(&mut self.line_non_ascii) | non_ascii;
            let next = match value_of(&line, b"data") {
                // The first data line of the event, long enough to span reads: the buffer
                // that holds it becomes the data buffer, which saves copying it (a 1 MiB
                // event would otherwise be copied twice here).
                Some(value) if self.data.is_empty() => {
                    self.data_start = line_len - value.len();
                    std::mem::swap(&mut self.data, &mut line);
                    self.complete_adopted_data_line(line_len, non_ascii, bytes, end, &mut ends)
                        .map_err(Halt::from)
                }
                _ => self.complete_line(&line, non_ascii, bytes, end, &mut ends, sink),
            };
            self.line = line;
            release_if_oversized(&mut self.line, &mut self.line_last_use, line_len);
            start = next?;
        }

        // Complete lines straight from the input; buffer only an unterminated tail.
        loop {
            let Some((end, non_ascii)) = ends.next_end() else {
                let rest = &bytes[start..];
                if !rest.is_empty() {
                    self.check(rest.len())?;
                    self.line_non_ascii = ends.rest_is_non_ascii();
                    self.line.extend_from_slice(rest);
                }
                return Ok(());
            };
            start =
                self.complete_line(&bytes[start..end], non_ascii, bytes, end, &mut ends, sink)?;
        }
    }

    /// Starts a new stream (a new connection): drops any partial line and undispatched
    /// event, re-arms BOM stripping, keeps the last event ID.
    ///
    /// The last event ID buffer goes back to the last event ID string, so an `id` field of
    /// the dead connection that no blank line committed is forgotten (as in Chromium).
    pub fn reset_stream(&mut self) {
        self.drop_partial_event();
        self.id_buffer.clone_from(&self.last_id);
        self.id_buffer_changed = false;
        self.at_stream_start = true;
        self.bom_matched = 0;
        self.cr_pending = false;
        self.cr_pending_counts = false;
        self.failed = false;
    }

    /// Consumes the (possibly split) leading BOM. When the stream turns out not to start
    /// with one, the bytes matched so far become the start of the first line.
    fn strip_bom<'b>(&mut self, bytes: &'b [u8]) -> &'b [u8] {
        let wanted = &BOM[self.bom_matched..];
        let n = wanted.len().min(bytes.len());
        if bytes[..n] == wanted[..n] {
            self.bom_matched += n;
            if self.bom_matched == BOM.len() {
                self.at_stream_start = false;
            }
            return &bytes[n..];
        }
        self.at_stream_start = false;
        if self.bom_matched > 0 {
            self.line.extend_from_slice(&BOM[..self.bom_matched]);
            self.line_non_ascii = true;
        }
        bytes
    }

    /// Processes `line`, whose terminator is at `bytes[end]` (the scanner's last line end),
    /// with the size accounting; returns where the next line starts in `bytes`.
    ///
    /// The line is checked against the limit before it is processed, and a field line counts
    /// with its terminator after it (so a line that fits but whose terminator does not is
    /// still processed, as the module documentation says).
    #[inline(always)]
    fn complete_line(
        &mut self,
        line: &[u8],
        non_ascii: bool,
        bytes: &[u8],
        end: usize,
        ends: &mut LineEnds<'_>,
        sink: &mut impl Sink,
    ) -> Result<usize, Halt> {
        let (next, cr_pending) = terminator(bytes, end, ends);
        // `event_size <= limit` always holds, so this cannot wrap.
        let room = self.limit - self.event_size;
        match line.first() {
            None => self.dispatch(sink)?,
            Some(b':') => {
                if line.len() > room {
                    return Err(self.fail().into());
                }
                self.comment(strip_one_space(&line[1..]), non_ascii, sink);
                if !sink.keep_going() {
                    return Err(Halt::Stopped);
                }
            }
            Some(_) => {
                let size = line.len() + (next - end);
                if size > room {
                    if line.len() > room {
                        return Err(self.fail().into());
                    }
                    self.field(line, non_ascii, sink);
                    return Err(self.fail().into());
                }
                self.field(line, non_ascii, sink);
                self.event_size += size;
            }
        }
        if cr_pending {
            self.cr_pending = true;
            self.cr_pending_counts = !matches!(line.first(), None | Some(b':'));
        }
        Ok(next)
    }

    /// `complete_line` for a data line already in `data` (adopted from the line buffer, at
    /// `data_start`), `line_len` bytes long: the same size accounting, and the LF that
    /// follows each data value.
    fn complete_adopted_data_line(
        &mut self,
        line_len: usize,
        non_ascii: bool,
        bytes: &[u8],
        end: usize,
        ends: &mut LineEnds<'_>,
    ) -> Result<usize, TooLarge> {
        let (next, cr_pending) = terminator(bytes, end, ends);
        let room = self.limit - self.event_size;
        if line_len > room {
            return Err(self.fail());
        }
        self.data.push(b'\n');
        self.data_non_ascii |= non_ascii;
        let size = line_len + (next - end);
        if size > room {
            return Err(self.fail());
        }
        self.event_size += size;
        if cr_pending {
            self.cr_pending = true;
            self.cr_pending_counts = true;
        }
        Ok(next)
    }

    /// Fails when the current event plus `line` more bytes exceeds the limit.
    #[inline]
    fn check(&mut self, line: usize) -> Result<(), TooLarge> {
        if line > self.limit - self.event_size {
            return Err(self.fail());
        }
        Ok(())
    }

    /// Drops the stream buffers of an oversized event; only `reset_stream` recovers.
    #[cold]
    fn fail(&mut self) -> TooLarge {
        self.failed = true;
        self.drop_partial_event();
        self.scratch.clear();
        self.cr_pending = false;
        self.too_large()
    }

    /// Forgets the line being read and the event not dispatched yet.
    fn drop_partial_event(&mut self) {
        self.line.clear();
        self.line_non_ascii = false;
        self.data.clear();
        self.data_non_ascii = false;
        self.data_start = 0;
        self.event_type.clear();
        self.event_size = 0;
    }

    fn too_large(&self) -> TooLarge {
        TooLarge {
            limit: self.max_event_size,
        }
    }

    /// Processes a field line (not blank, not a comment). `non_ascii`: the line may hold
    /// non-ASCII bytes, so what is kept of it must be validated.
    ///
    /// The known names are matched as prefixes ("data" then ":" or the end of the line), so
    /// there is no colon search; any other line is an unknown field and ignored.
    #[inline(always)]
    #[allow(unsafe_code)]
    fn field(&mut self, line: &[u8], non_ascii: bool, sink: &mut impl Sink) {
        if let Some(value) = value_of(line, b"data") {
            self.data.extend_from_slice(value);
            self.data.push(b'\n');
            self.data_non_ascii |= non_ascii;
        } else if let Some(value) = value_of(line, b"id") {
            // An id containing NUL is ignored.
            if !has_nul(value) {
                // SAFETY: `non_ascii` is the scanner's flag for this line, of which `value`
                // is a part.
                let value = unsafe { decoded(value, non_ascii, &mut self.repaired) };
                self.id_buffer.set(value);
                self.id_buffer_changed = true;
            }
        } else if let Some(value) = value_of(line, b"event") {
            // SAFETY: `non_ascii` is the scanner's flag for this line, of which `value` is
            // a part.
            let value = unsafe { decoded(value, non_ascii, &mut self.repaired) };
            self.event_type.set(value);
        } else if let Some(value) = value_of(line, b"retry") {
            // Only all-digit values; anything else is ignored.
            if !value.is_empty() && value.iter().all(u8::is_ascii_digit) {
                let millis = value.iter().fold(0u64, |n, &digit| {
                    n.saturating_mul(10).saturating_add(u64::from(digit - b'0'))
                });
                sink.retry(millis);
            }
        }
    }

    #[allow(unsafe_code)]
    fn comment(&mut self, text: &[u8], non_ascii: bool, sink: &mut impl Sink) {
        // SAFETY: `non_ascii` is the scanner's flag for the comment line, of which `text`
        // is a part.
        let text = unsafe { decoded(text, non_ascii, &mut self.repaired) };
        self.scratch.set(text);
        sink.comment(self.scratch.as_text());
    }

    /// The spec's "dispatch the event". `Err(Halt::Stopped)` when the sink, after the
    /// event, asked to stop.
    #[allow(unsafe_code)]
    fn dispatch(&mut self, sink: &mut impl Sink) -> Result<(), Halt> {
        self.event_size = 0;
        if self.id_buffer_changed {
            self.commit_last_event_id(sink);
        }
        if self.data.is_empty() {
            self.event_type.clear();
            return Ok(());
        }
        // Every data value was followed by LF: the last one becomes the terminator.
        if let Some(last) = self.data.last_mut() {
            *last = 0;
        }
        let event_type = if self.event_type.is_empty() {
            Text::from_str_with_nul(MESSAGE)
        } else {
            self.event_type.as_text()
        };
        let data = &self.data[self.data_start..];
        // Each branch views its own string, so that in the usual one the compiler sees the
        // NUL it has just written and drops the terminator check.
        let data = if self.data_non_ascii {
            Text::from_str_with_nul(valid_or_repaired(data, &mut self.repaired))
        } else {
            // SAFETY: `data_non_ascii` is false only when every line whose value was
            // appended since the last dispatch had the scanner's ASCII flag (see `field`
            // and `complete_adopted_data_line`); the LF separators and the NUL are ASCII.
            Text::from_str_with_nul(unsafe { ascii(data) })
        };
        sink.event(&Event {
            event_type,
            data,
            id: self.last_id.as_text(),
        });
        let used = self.data.len();
        release_if_oversized(&mut self.data, &mut self.data_last_use, used);
        self.data_non_ascii = false;
        self.data_start = 0;
        self.event_type.clear();
        match sink.keep_going() {
            true => Ok(()),
            false => Err(Halt::Stopped),
        }
    }

    /// The last event ID buffer becomes the last event ID string, and the sink hears of it.
    fn commit_last_event_id(&mut self, sink: &mut impl Sink) {
        // A swap, not a copy: the buffer is only read again after an `id` field has
        // overwritten it (id_buffer_changed), so its stale content never shows.
        std::mem::swap(&mut self.last_id, &mut self.id_buffer);
        self.id_buffer_changed = false;
        // The stale buffer may be a huge ID from earlier: do not keep it for the client's
        // life (the next `id` field allocates what it needs).
        if self.id_buffer.capacity() > KEEP_ID_CAPACITY {
            self.id_buffer = TextBuf::new();
        }
        sink.last_event_id(self.last_id.as_text());
    }
}

/// The line terminator at `bytes[end]` (CR, LF or CRLF; the LF of a CRLF is taken from
/// `ends` too): where the next line starts, and whether a CR ended the input (its LF may
/// start the next feed).
#[inline(always)]
fn terminator(bytes: &[u8], end: usize, ends: &mut LineEnds<'_>) -> (usize, bool) {
    let next = end + 1;
    if bytes[end] != b'\r' {
        return (next, false);
    }
    match bytes.get(next) {
        Some(b'\n') => {
            // The LF of a CRLF, which the scanner reports as well.
            ends.next_end();
            (next + 1, false)
        }
        Some(_) => (next, false),
        None => (next, true),
    }
}

/// The value of a field line named `name` ("name" alone or "name:value", one leading
/// space of the value removed), or `None` for another field.
#[inline(always)]
fn value_of<'l>(line: &'l [u8], name: &[u8]) -> Option<&'l [u8]> {
    match line.strip_prefix(name)? {
        [] => Some(b""),
        [b':', value @ ..] => Some(strip_one_space(value)),
        _ => None,
    }
}

/// Above this, a buffer that one unusually large event or line grew is given back after
/// use, so that a single 16 MiB event does not pin 16 MiB for the client's lifetime; at
/// or below it the buffer is kept, so that steady streams allocate nothing per event.
const KEEP_CAPACITY: usize = 256 * 1024;

/// An ID buffer larger than this is not kept once its ID is replaced. IDs are short: a
/// long one is a rarity whose memory should go with it.
const KEEP_ID_CAPACITY: usize = 4 * 1024;

/// Empties `buffer`, and returns its memory when an outsized event made it huge, unless
/// this use (`used` bytes) and the one before (`last_use`, updated here) were both
/// outsized: a stream of large events keeps its buffer, instead of growing it again, copy
/// by copy, for every event; the first smaller use after them gives it back.
fn release_if_oversized(buffer: &mut Vec<u8>, last_use: &mut usize, used: usize) {
    let in_a_run = *last_use > KEEP_CAPACITY && used > KEEP_CAPACITY;
    *last_use = used;
    buffer.clear();
    if buffer.capacity() > KEEP_CAPACITY && !in_a_run {
        buffer.shrink_to(KEEP_CAPACITY);
    }
}

/// Whether `value` holds a NUL byte. A plain loop: ids are short, and `contains` calls a
/// memchr whose set-up costs more than the search.
#[inline(always)]
#[allow(clippy::manual_contains)]
fn has_nul(value: &[u8]) -> bool {
    value.iter().any(|&b| b == 0)
}

/// Removes one leading U+0020 SPACE, if any.
#[inline]
fn strip_one_space(value: &[u8]) -> &[u8] {
    match value {
        [b' ', rest @ ..] => rest,
        _ => value,
    }
}

/// `bytes` decoded as WHATWG "UTF-8 decode" does (invalid sequences become U+FFFD): as they
/// are when the line scanner found them ASCII (`non_ascii` false), unchecked; else checked,
/// and when invalid, rebuilt in `repaired`.
///
/// Why unchecked: validating every event at dispatch, measured with callgrind on
/// benches/parser.rs, costs +36% instructions per 32-byte event and +66% per 1 KiB event
/// with `std::str::from_utf8` (+41% and +32% with the simdutf8 crate), for bytes the scanner
/// has already classified on its way through them. In time (criterion, `cargo bench --bench
/// parser`, 2026-12-07, two alternating rounds with `ascii` validating through std instead),
/// median µs per iteration unchecked against validated: 1 KiB events 3.6 and 4.1 against
/// 6.7 and 10.7; 1 MiB 51.7 and 52.6 against 96.7 and 113.9; 32-byte events 43.0 and 36.3
/// against 47.0 and 58.5; multi-line 23.0 and 23.2 against 29.6 and 28.4.
///
/// # Safety
/// When `non_ascii` is false, every byte of `bytes` must be ASCII. Debug builds (and so the
/// tests, and Miri) check it.
#[allow(unsafe_code)]
#[inline]
unsafe fn decoded<'b>(bytes: &'b [u8], non_ascii: bool, repaired: &'b mut String) -> &'b str {
    match non_ascii {
        // SAFETY: the caller's promise.
        false => unsafe { ascii(bytes) },
        true => valid_or_repaired(bytes, repaired),
    }
}

/// `bytes` as a `str`, unchecked.
///
/// # Safety
/// Every byte of `bytes` must be ASCII. Debug builds (and so the tests, and Miri) check it.
#[allow(unsafe_code)]
#[inline(always)]
unsafe fn ascii(bytes: &[u8]) -> &str {
    debug_assert!(bytes.is_ascii(), "the scanner missed a non-ASCII byte");
    // SAFETY: ASCII is UTF-8, and the caller promises these bytes are ASCII.
    unsafe { std::str::from_utf8_unchecked(bytes) }
}

/// `bytes` as a `str` when valid, else rebuilt in `repaired` with U+FFFD.
#[inline]
fn valid_or_repaired<'b>(bytes: &'b [u8], repaired: &'b mut String) -> &'b str {
    match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => {
            repaired.clear();
            decode_rest(repaired, bytes, error.valid_up_to());
            repaired
        }
    }
}

/// The lossy part of [`decoded`]: `bytes[..valid]` is known to be valid.
#[cold]
fn decode_rest(out: &mut String, bytes: &[u8], valid: usize) {
    let (head, tail) = bytes.split_at(valid);
    out.push_str(std::str::from_utf8(head).expect("valid up to here"));
    out.push_str(&String::from_utf8_lossy(tail));
}

#[cfg(test)]
mod tests;
