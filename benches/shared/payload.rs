//! The payload shapes of the benchmarks, shared by `benches/parser.rs` (the parser alone)
//! and `benches/firehose` (the whole client over loopback): the same bytes in both.

use std::io::Write;

/// The shape of one event stream: `events` events, each with `lines` data lines of
/// `line_len` bytes (printable ASCII), preceded by an `id:` line when `ids` is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub events: u64,
    pub lines: usize,
    pub line_len: usize,
    pub ids: bool,
}

impl Shape {
    /// 32-byte events with id lines.
    pub const fn small(events: u64) -> Shape {
        Shape {
            events,
            lines: 1,
            line_len: 32,
            ids: true,
        }
    }

    /// One data line of 1 KiB.
    pub const fn kib(events: u64) -> Shape {
        Shape {
            events,
            lines: 1,
            line_len: 1024,
            ids: false,
        }
    }

    /// One data line of 1 MiB.
    pub const fn mib(events: u64) -> Shape {
        Shape {
            events,
            lines: 1,
            line_len: 1024 * 1024,
            ids: false,
        }
    }

    /// Eight data lines of 32 bytes.
    pub const fn multi_line(events: u64) -> Shape {
        Shape {
            events,
            lines: 8,
            line_len: 32,
            ids: false,
        }
    }

    /// The query string the firehose server understands (`/stream?...`).
    pub fn query(&self) -> String {
        format!(
            "n={}&lines={}&len={}&ids={}",
            self.events, self.lines, self.line_len, self.ids as u8
        )
    }

    /// Parses [`Shape::query`]'s output (unknown keys are ignored).
    pub fn from_query(query: &str) -> Option<Shape> {
        let mut shape = Shape::small(0);
        for pair in query.split('&') {
            let (key, value) = pair.split_once('=')?;
            match key {
                "n" => shape.events = value.parse().ok()?,
                "lines" => shape.lines = value.parse().ok()?,
                "len" => shape.line_len = value.parse().ok()?,
                "ids" => shape.ids = value == "1",
                _ => {}
            }
        }
        Some(shape)
    }

    /// The length of [`Shape::stream`] in bytes, without building it.
    pub fn stream_len(&self) -> u64 {
        let per_event = (self.lines * (6 + self.line_len + 1) + 1) as u64;
        let mut ids = 0;
        if self.ids {
            // "id: " + decimal index + LF, summed over the indices by digit count.
            let (mut low, mut digits) = (0u64, 1u64);
            while low < self.events {
                let high = (low.max(1) * 10).min(self.events);
                ids += (high - low) * (4 + digits + 1);
                low = high;
                digits += 1;
            }
        }
        per_event * self.events + ids
    }

    /// Appends event number `index` (0-based) in wire format.
    pub fn write_event(&self, index: u64, out: &mut Vec<u8>) {
        if self.ids {
            let _ = writeln!(out, "id: {index}");
        }
        let pattern = pattern();
        for line in 0..self.lines {
            // Each line starts elsewhere in the pattern, so lines and events differ.
            let start = (index as usize * 7 + line * 13) % PATTERN_PERIOD;
            out.extend_from_slice(b"data: ");
            out.extend_from_slice(&pattern[start..start + self.line_len]);
            out.push(b'\n');
        }
        out.push(b'\n');
    }

    /// The whole stream: every event, in wire format.
    pub fn stream(&self) -> Vec<u8> {
        self.events_range(0, self.events)
    }

    /// Events `first..end` in wire format.
    pub fn events_range(&self, first: u64, end: u64) -> Vec<u8> {
        let per_event = self.lines * (self.line_len + 7) + if self.ids { 16 } else { 0 } + 1;
        let mut out = Vec::with_capacity(per_event * (end - first) as usize);
        for index in first..end {
            self.write_event(index, &mut out);
        }
        out
    }
}

/// The pattern repeats every this many bytes; any line of up to 1 MiB fits after any start.
const PATTERN_PERIOD: usize = 36;

/// Printable ASCII without a leading space (a data value's first space would be eaten),
/// long enough for the largest line from any start.
fn pattern() -> &'static [u8] {
    use std::sync::OnceLock;
    static PATTERN: OnceLock<Vec<u8>> = OnceLock::new();
    PATTERN.get_or_init(|| {
        const ALPHABET: &[u8; PATTERN_PERIOD] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        ALPHABET
            .iter()
            .copied()
            .cycle()
            .take(1024 * 1024 + PATTERN_PERIOD)
            .collect()
    })
}
