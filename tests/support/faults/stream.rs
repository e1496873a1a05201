//! The stream generator, which is also the oracle of what a stream holds: realistic event
//! streams (types, multi-line data, multibyte text, comments, unknown fields, `retry:`
//! lines, LF/CRLF/CR line ends) with, for each event and `retry:` line, where it ends, so
//! that a cut at any byte says what the client must have received.

use super::seed::Rng;
use crate::support::Ev;

pub const BOM: &[u8] = b"\xEF\xBB\xBF";

#[derive(Clone, Copy, Debug)]
pub struct StreamOptions {
    pub events: usize,
    /// Invalid UTF-8 in data, types and comments (delivered as U+FFFD).
    pub invalid_utf8: bool,
    /// Valid `retry:` values are drawn from this range, in ms; (10, 10) keeps every wait
    /// at the minimum. Invalid `retry:` lines (ignored) come in every stream.
    pub retry_ms: (u64, u64),
    /// The chance, in percent, that an event carries a `retry:` line (valid or not).
    pub retry_percent: usize,
}

impl StreamOptions {
    pub fn events(events: usize) -> StreamOptions {
        StreamOptions {
            events,
            invalid_utf8: false,
            retry_ms: (10, 10),
            retry_percent: 20,
        }
    }
}

/// One generated event: what the client must deliver, and where its bytes are.
#[derive(Clone, Debug)]
pub struct StreamEvent {
    pub expected: Ev,
    /// Offsets in [`Stream::bytes`]: the byte after the one that dispatches the event (the
    /// first byte of its blank line's terminator: CR or LF), and the end of that
    /// terminator (where the next event, comments and blank lines first, starts).
    pub dispatch: usize,
    pub end: usize,
}

/// A valid `retry:` line: it takes effect once the first byte of its terminator arrives.
#[derive(Clone, Copy, Debug)]
pub struct RetryLine {
    pub terminator: usize,
    pub millis: u64,
}

/// A stream of events with ids 1..=N, with everything a real server sends and a
/// parser must get right: comments (between and inside events), `event:` types, ids (and
/// ignored ones: `id` with NUL, an earlier junk id), multi-line data, values that look like
/// fields, leading spaces, NUL, é 漢 😀, unknown fields, valid and invalid `retry:` lines,
/// blank lines that dispatch nothing, and LF, CRLF and CR line ends (mixed in most streams).
#[derive(Clone, Debug)]
pub struct Stream {
    pub bytes: Vec<u8>,
    pub events: Vec<StreamEvent>,
    pub retries: Vec<RetryLine>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LineEnds {
    Lf,
    CrLf,
    Cr,
    Mixed,
}

struct Writer {
    bytes: Vec<u8>,
    ends: LineEnds,
    last_was_cr: bool,
}

impl Writer {
    /// Writes a line and its terminator; returns the terminator's offset.
    fn line(&mut self, rng: &mut Rng, content: &[u8]) -> usize {
        let mut end: &[u8] = match self.ends {
            LineEnds::Lf => b"\n",
            LineEnds::CrLf => b"\r\n",
            LineEnds::Cr => b"\r",
            LineEnds::Mixed => match rng.below(20) {
                0..=8 => b"\n",
                9..=15 => b"\r\n",
                _ => b"\r",
            },
        };
        // After a lone CR, an empty line ended by LF would read as that CR's LF (one line
        // end, not two): such a stream could not mean what the generator says.
        if self.last_was_cr && content.is_empty() && end == b"\n" {
            end = b"\r\n";
        }
        self.bytes.extend_from_slice(content);
        let at = self.bytes.len();
        self.bytes.extend_from_slice(end);
        self.last_was_cr = end == b"\r";
        at
    }
}

const WORDS: &[&str] = &[
    "alpha",
    "x",
    "hello world",
    "a:b",
    "data: inner",
    "id: 77",
    ": not a comment",
    "retry: 5",
    " lead",
    "trail ",
    "\t",
    "{\"k\": [1, 2]}",
    "\0",
];
const MULTIBYTE: &[&str] = &["é", "漢字", "😀", "ß", "Ω≈", "e\u{301}", "🇫🇷", "\u{FEFF}"];
const INVALID: &[&[u8]] = &[
    b"\x80",
    b"\xff",
    b"\xc3",
    b"\xe6\xbc",
    b"\xf0\x9f\x98",
    b"\xc0\xaf",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\xfe\xfe",
];
const TYPES: &[&[u8]] = &[
    b"tick",
    b"update",
    "ünïcödé".as_bytes(),
    "漢".as_bytes(),
    b"a b",
    b"",
];
const UNKNOWN: &[&[u8]] = &[
    b"foo", b"Data", b"dat", b"ID", b"event ", b"retry2", b" data",
];

fn value(rng: &mut Rng, options: &StreamOptions) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..rng.below(6) {
        match rng.below(10) {
            0..=4 => out.extend_from_slice(rng.pick(WORDS).as_bytes()),
            5..=7 => out.extend_from_slice(rng.pick(MULTIBYTE).as_bytes()),
            _ if options.invalid_utf8 => out.extend_from_slice(rng.pick(INVALID)),
            _ => out.extend_from_slice(rng.pick(MULTIBYTE).as_bytes()),
        }
    }
    if rng.chance(60) {
        // Most values carry a multibyte character, so there is a middle of one to cut.
        out.extend_from_slice(rng.pick(MULTIBYTE).as_bytes());
    }
    out
}

/// `name: value`, `name:value` or `name`, each only where it parses back to `value`.
fn field(rng: &mut Rng, name: &[u8], value: &[u8]) -> Vec<u8> {
    let mut line = name.to_vec();
    match (value.first(), rng.below(3)) {
        (None, 0) => {}
        (None, 1) => line.push(b':'),
        (Some(b' '), _) | (_, 0 | 1) => line.extend_from_slice(b": "),
        _ => line.push(b':'),
    }
    line.extend_from_slice(value);
    line
}

/// A `retry:` line: `Some(ms)` when valid.
fn retry_line(rng: &mut Rng, options: &StreamOptions) -> (Vec<u8>, Option<u64>) {
    let (lo, hi) = options.retry_ms;
    let v = lo + rng.below((hi - lo + 1) as usize) as u64;
    match rng.below(10) {
        0..=2 => (format!("retry: {v}").into_bytes(), Some(v)),
        3 => (format!("retry:{v}").into_bytes(), Some(v)),
        _ => {
            let invalid = [
                format!("retry: {v} "),
                format!("retry: -{v}"),
                format!("retry: {v}.5"),
                "retry:".to_owned(),
                "retry".to_owned(),
                format!("retry:  {v}"),
                "retry: 0xA".to_owned(),
                format!("Retry: {v}"),
                "retry: abc".to_owned(),
            ];
            (invalid[rng.below(invalid.len())].clone().into_bytes(), None)
        }
    }
}

fn comment(rng: &mut Rng, options: &StreamOptions) -> Vec<u8> {
    let mut line = b":".to_vec();
    if rng.chance(70) {
        line.push(b' ');
    }
    line.extend_from_slice(&value(rng, options));
    line
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

impl Stream {
    pub fn generate(rng: &mut Rng, options: &StreamOptions) -> Stream {
        let ends = match rng.below(10) {
            0 => LineEnds::Lf,
            1 => LineEnds::CrLf,
            2 => LineEnds::Cr,
            _ => LineEnds::Mixed,
        };
        let mut w = Writer {
            bytes: Vec::new(),
            ends,
            last_was_cr: false,
        };
        let mut events = Vec::new();
        let mut retries = Vec::new();
        for k in 1..=options.events {
            if rng.chance(30) {
                let line = comment(rng, options);
                w.line(rng, &line);
            }
            if rng.chance(10) {
                // A blank line without data dispatches nothing.
                w.line(rng, b"");
            }
            // (line, valid retry value)
            let mut lines: Vec<(Vec<u8>, Option<u64>)> = Vec::new();
            let mut data: Vec<u8> = Vec::new();
            for i in 0..rng.range(1, 4) {
                let v = value(rng, options);
                if i > 0 {
                    data.push(b'\n');
                }
                data.extend_from_slice(&v);
                lines.push((field(rng, b"data", &v), None));
            }
            let mut event_type = "message".to_owned();
            if rng.chance(60) {
                let mut t = rng.pick(TYPES).to_vec();
                if options.invalid_utf8 && rng.chance(30) {
                    t.extend_from_slice(rng.pick(INVALID));
                }
                if !t.is_empty() {
                    event_type = lossy(&t);
                }
                let at = rng.below(lines.len() + 1);
                lines.insert(at, (field(rng, b"event", &t), None));
            }
            let id_at = rng.below(lines.len() + 1);
            lines.insert(id_at, (field(rng, b"id", k.to_string().as_bytes()), None));
            if rng.chance(15) {
                // An earlier id is overridden by the real one.
                let at = rng.below(id_at + 1);
                lines.insert(at, (field(rng, b"id", b"junk"), None));
            }
            if rng.chance(10) {
                // An id containing NUL is ignored, wherever it is.
                let at = rng.below(lines.len() + 1);
                lines.insert(at, (b"id: 9\x009".to_vec(), None));
            }
            if rng.chance(20) {
                let name = rng.pick(UNKNOWN);
                let v = value(rng, options);
                let at = rng.below(lines.len() + 1);
                lines.insert(at, (field(rng, name, &v), None));
            }
            if rng.chance(15) {
                let at = rng.below(lines.len() + 1);
                lines.insert(at, (comment(rng, options), None));
            }
            if rng.chance(options.retry_percent) {
                let at = rng.below(lines.len() + 1);
                lines.insert(at, retry_line(rng, options));
            }
            for (line, retry) in lines {
                let terminator = w.line(rng, &line);
                if let Some(millis) = retry {
                    retries.push(RetryLine { terminator, millis });
                }
            }
            let blank = w.line(rng, b"");
            events.push(StreamEvent {
                expected: Ev::new(&event_type, &lossy(&data), &k.to_string()),
                dispatch: blank + 1,
                end: w.bytes.len(),
            });
        }
        Stream {
            bytes: w.bytes,
            events,
            retries,
        }
    }

    pub fn expected_events(&self) -> Vec<Ev> {
        self.events.iter().map(|e| e.expected.clone()).collect()
    }

    /// Where a server resumes for this Last-Event-ID: after that event.
    pub fn resume_offset(&self, last_event_id: Option<&str>) -> Result<usize, String> {
        let Some(id) = last_event_id else {
            return Ok(0);
        };
        match id.parse::<usize>() {
            Ok(k) if (1..=self.events.len()).contains(&k) => Ok(self.events[k - 1].end),
            _ => Err(format!("Last-Event-ID {id:?} names no event of the stream")),
        }
    }

    /// The events dispatched by a connection that sent the stream's bytes
    /// `[offset, sent_to)`.
    pub fn dispatched(&self, offset: usize, sent_to: usize) -> usize {
        self.events
            .iter()
            .filter(|e| e.dispatch > offset && e.dispatch <= sent_to)
            .count()
    }
}

/// Bytes as a Rust byte-string literal body, for failure reports.
pub fn escape(bytes: &[u8]) -> String {
    bytes
        .iter()
        .flat_map(|&b| std::ascii::escape_default(b))
        .map(char::from)
        .collect()
}
