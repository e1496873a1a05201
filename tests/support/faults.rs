//! Fault-injection support for `tests/fault_injection.rs`: a deterministic PRNG, a generator
//! of realistic event streams that is also the oracle (what the client must deliver, what
//! Last-Event-ID it must send, how long it must wait), cut points and faults turned into
//! server scripts, a "resume" server that continues after the request's Last-Event-ID, a
//! host that runs the client with callbacks or in poll mode, a checker of the callback
//! order, and the scenario guard that runs scenarios one at a time and checks that each
//! leaves no thread or descriptor behind (and measures memory).
//!
//! Seeds: every scenario derives its seed from one master seed, `SSE_FAULT_SEED` (decimal
//! or 0x-hex) or [`DEFAULT_SEED`], and every round its own from that; a failure prints the
//! master seed, the scenario, the round and the round's whole plan and stream.
//! `SSE_FAULT_SCALE` multiplies the rounds of every randomized scenario (a soak run:
//! `SSE_FAULT_SCALE=10`), `SSE_FAULT_ONLY=<round>` replays just that round.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sse_client::{Client, ClientError, ErrorKind, Handler, Message, PollError, ReadyState};

use crate::support::{
    chunk, fast_config, ms, ok_stream, ok_stream_chunked, wait_until, Ev, Log, Record, Recorder,
    Script, Server, Stamped,
};

// ---------------------------------------------------------------------------------------
// Random numbers and seeds
// ---------------------------------------------------------------------------------------

pub const DEFAULT_SEED: u64 = 0xFA17_5EED_0000_0001;

/// splitmix64: tiny, fast, and the same on every platform.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// 0 to `n - 1` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// `lo` to `hi`, both included.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

fn mix(a: u64, b: u64) -> u64 {
    Rng::new(a ^ b.rotate_left(29).wrapping_mul(0x2545_F491_4F6C_DD1D)).next_u64()
}

fn parse_number(text: &str) -> Option<u64> {
    let text = text.trim().replace('_', "");
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

pub fn master_seed() -> u64 {
    match std::env::var("SSE_FAULT_SEED") {
        Ok(text) => parse_number(&text)
            .unwrap_or_else(|| panic!("SSE_FAULT_SEED={text:?} is not a decimal or 0x-hex u64")),
        Err(_) => DEFAULT_SEED,
    }
}

// ---------------------------------------------------------------------------------------
// Scenarios: one at a time, seeded, checked for leaks
// ---------------------------------------------------------------------------------------

/// Held by every scenario: the tests of this binary run one at a time, so the threads,
/// descriptors and memory counted before and after a scenario are that scenario's alone.
static SERIAL: Mutex<()> = Mutex::new(());

thread_local! {
    /// What the scenario is doing right now, printed if it fails.
    static CONTEXT: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Describes the current round (its plan and stream) for a failure report.
pub fn set_context(text: String) {
    CONTEXT.with(|c| *c.borrow_mut() = text);
}

pub struct Scenario {
    seed: u64,
}

impl Scenario {
    /// The rounds of a randomized scenario, each with its own generator: `default`
    /// rounds, times `SSE_FAULT_SCALE`; only round `SSE_FAULT_ONLY` when set (whatever
    /// the scale: a round depends on the seed and its number alone).
    pub fn rounds(&self, default: usize) -> Vec<(usize, Rng)> {
        let round = |r: usize| (r, Rng::new(mix(self.seed, r as u64 + 1)));
        if let Some(only) = std::env::var("SSE_FAULT_ONLY")
            .ok()
            .and_then(|s| parse_number(&s))
        {
            return vec![round(only as usize)];
        }
        let scale: f64 = std::env::var("SSE_FAULT_SCALE")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(1.0);
        let count = ((default as f64 * scale).round() as usize).max(1);
        (0..count).map(round).collect()
    }
}

/// Prints the seed and what was going on when a scenario fails.
struct FailureReport {
    name: &'static str,
    master: u64,
}

impl Drop for FailureReport {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let context = CONTEXT.with(|c| c.borrow().clone());
            // libtest names the thread of a test after it.
            let thread = std::thread::current();
            let test = thread.name().filter(|n| *n != "main").unwrap_or(self.name);
            eprintln!(
                "\n[fault_injection] {} FAILED with master seed {:#x}\n  replay: SSE_FAULT_SEED={:#x} \
                 cargo test --test fault_injection {test} -- --exact --nocapture \
                 (add SSE_FAULT_ONLY=<round> for one round)\n  context: {context}\n",
                self.name, self.master, self.master
            );
        }
    }
}

/// Runs one scenario: alone (see [`SERIAL`]), with its seed printed on failure, then
/// checks that it left no worker or server thread and no descriptor behind. `body`
/// returns a one-line summary (rounds, coverage), printed with the wall time.
pub fn scenario(name: &'static str, body: impl FnOnce(&Scenario) -> String) {
    let _serial: MutexGuard<'_, ()> = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let master = master_seed();
    let scenario = Scenario {
        seed: mix(
            master,
            name.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3)
            }),
        ),
    };
    let _report = FailureReport { name, master };
    set_context(format!("{name}: starting"));
    let before = Census::take();
    let started = Instant::now();
    let summary = body(&scenario);
    let took = started.elapsed();
    set_context(format!("{name}: leak check after the scenario"));
    before.expect_restored();
    println!(
        "[fault_injection] {name}: {summary}; {:.2} s; seed {master:#x}",
        took.as_secs_f64()
    );
}

// ---------------------------------------------------------------------------------------
// Threads, descriptors, memory
// ---------------------------------------------------------------------------------------

fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                .map(|name| name.trim().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn open_fds() -> Vec<String> {
    let mut fds: Vec<String> = std::fs::read_dir("/proc/self/fd")
        .map(|dir| {
            dir.filter_map(|e| {
                let e = e.ok()?;
                let target = std::fs::read_link(e.path()).ok()?;
                Some(format!(
                    "{}->{}",
                    e.file_name().to_string_lossy(),
                    target.display()
                ))
            })
            .collect()
        })
        .unwrap_or_default();
    fds.sort();
    fds
}

/// What a scenario must give back: client worker threads, test server threads and file
/// descriptors. Other tests' threads (waiting for [`SERIAL`]) are not counted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Census {
    pub workers: usize,
    pub server_threads: usize,
    pub fds: usize,
}

impl Census {
    pub fn take() -> Census {
        let names = thread_names();
        Census {
            workers: names.iter().filter(|n| *n == "sse_client").count(),
            server_threads: names
                .iter()
                .filter(|n| *n == "test-server" || *n == "test-host" || n.starts_with("test-conn-"))
                .count(),
            // read_dir holds one descriptor of its own while counting, every time.
            fds: std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count()),
        }
    }

    /// Waits (up to 2 s: ureq's DNS threads are detached and end on their own) for the
    /// counts to come back to these; panics listing what was left behind.
    pub fn expect_restored(&self) {
        if !wait_until(Duration::from_secs(2), || Census::take() == *self) {
            panic!(
                "left behind: before {self:?}, after {:?}\n  threads: {:?}\n  fds: {:?}",
                Census::take(),
                thread_names(),
                open_fds()
            );
        }
    }
}

/// One field of /proc/self/status, in KiB.
#[cfg(target_os = "linux")]
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..]
        .trim_start_matches(':')
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Measures how much the resident set grows: the peak (VmHWM, reset through
/// /proc/self/clear_refs) when the kernel allows it, else the current VmRSS. Linux only:
/// it reads /proc.
#[cfg(target_os = "linux")]
pub struct MemoryProbe {
    baseline_kib: u64,
    peak: bool,
}

#[cfg(target_os = "linux")]
impl MemoryProbe {
    pub fn start() -> MemoryProbe {
        // "5" resets the peak resident set size to the current one (Linux 4.0+).
        let peak = std::fs::write("/proc/self/clear_refs", "5").is_ok();
        MemoryProbe {
            baseline_kib: status_kib("VmRSS").expect("VmRSS in /proc/self/status"),
            peak,
        }
    }

    /// Checks that the probe sees memory at all: 8 MiB mapped and touched. Mapped
    /// directly, not through malloc, whose thresholds a freed block would raise (glibc then
    /// serves the next large blocks from memory already resident, which RSS cannot see).
    pub fn self_test() {
        const SIZE: usize = 8 << 20;
        let probe = MemoryProbe::start();
        // SAFETY: a fresh private anonymous mapping, written within its length, then
        // unmapped once; no reference to it outlives this block.
        let growth = unsafe {
            let block = libc::mmap(
                std::ptr::null_mut(),
                SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            assert_ne!(block, libc::MAP_FAILED, "mmap");
            std::ptr::write_bytes(block.cast::<u8>(), 1, SIZE);
            let growth = probe.growth_kib();
            libc::munmap(block, SIZE);
            growth
        };
        assert!(
            growth >= 7 * 1024,
            "{} saw {growth} KiB of 8 MiB mapped and touched",
            probe.what()
        );
    }

    pub fn what(&self) -> &'static str {
        if self.peak {
            "peak RSS (VmHWM)"
        } else {
            "RSS (VmRSS)"
        }
    }

    /// Growth since `start`, in KiB.
    pub fn growth_kib(&self) -> u64 {
        let now = status_kib(if self.peak { "VmHWM" } else { "VmRSS" }).unwrap_or(0);
        now.saturating_sub(self.baseline_kib)
    }
}

// ---------------------------------------------------------------------------------------
// The stream generator (and oracle)
// ---------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------
// Cut points and faults
// ---------------------------------------------------------------------------------------

/// Where a connection is cut, in the bytes it would send (BOM and body).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cut {
    /// Any byte, the ends included.
    Anywhere,
    /// Inside a line: its first byte sent, not all of it.
    MidLine,
    /// Inside a multibyte UTF-8 character.
    MidChar,
    /// Between the CR and the LF of a CRLF.
    BetweenCrLf,
    /// An event complete but for the byte that dispatches it.
    BeforeDispatch,
    /// Right after an event's dispatching byte, or after its whole blank line.
    AfterDispatch,
    /// Inside the byte order mark the connection starts with.
    InBom,
}

pub const ALL_CUTS: [Cut; 7] = [
    Cut::Anywhere,
    Cut::MidLine,
    Cut::MidChar,
    Cut::BetweenCrLf,
    Cut::BeforeDispatch,
    Cut::AfterDispatch,
    Cut::InBom,
];

/// What the server does at the cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// Resets the connection (RST).
    Reset,
    /// Closes it in an orderly way (FIN).
    Close,
    /// Stays silent, connection open: the client's read timeout must fire.
    Stall,
    /// Sends the last bytes before the cut one per write (1 ms apart), then resets.
    TrickleThenReset,
    /// ... then closes.
    TrickleThenClose,
    /// Sends part of the response head, then resets.
    HeadThenReset,
    /// ... then closes.
    HeadThenClose,
}

impl Fault {
    pub fn in_head(self) -> bool {
        matches!(self, Fault::HeadThenReset | Fault::HeadThenClose)
    }

    /// The errors the client may report for this fault.
    ///
    /// A reset is an I/O error, whatever the body. A chunked body that a FIN breaks before
    /// its last chunk is one too; a close-delimited body ends with the connection, so
    /// there a FIN is the end of the stream.
    pub fn expected_errors(self, chunked: bool) -> &'static [ErrorKind] {
        match (self, chunked) {
            (Fault::Close | Fault::TrickleThenClose, false) => &[ErrorKind::StreamEnded],
            (Fault::Reset | Fault::TrickleThenReset, _)
            | (Fault::Close | Fault::TrickleThenClose, true) => &[ErrorKind::Io],
            (Fault::Stall, _) => &[ErrorKind::ReadTimeout],
            (Fault::HeadThenReset | Fault::HeadThenClose, _) => &[ErrorKind::Connect],
        }
    }
}

/// The response head of a stream: close-delimited or chunked.
fn head(chunked: bool) -> Vec<u8> {
    match chunked {
        true => ok_stream_chunked().into_bytes(),
        false => ok_stream().into_bytes(),
    }
}

/// `data` as chunks of 1 to `max` bytes (no last chunk: the stream goes on).
fn chunks(rng: &mut Rng, data: &[u8], max: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let n = rng.range(1, max).min(rest.len());
        out.extend_from_slice(&chunk(&rest[..n]));
        rest = &rest[n..];
    }
    out
}

/// How many bytes before the cut a trickle sends one at a time.
const TRICKLE_TAIL: usize = 48;

/// The plan of one faulty connection. The cut itself is chosen (with `salt`) from what the
/// connection sends, which depends on where it resumes.
#[derive(Clone, Copy, Debug)]
pub struct ConnPlan {
    pub fault: Fault,
    pub cut: Cut,
    /// The body starts with a byte order mark.
    pub bom: bool,
    /// The body is chunked (else close-delimited).
    pub chunked: bool,
    pub salt: u64,
}

/// What one faulty connection sends.
pub struct Sending {
    pub script: Script,
    /// The cut kind actually used (`Anywhere` when the body had no such point).
    pub cut: Cut,
    /// The stream offset up to which the stream's bytes were sent.
    pub sent_to: usize,
}

fn cut_candidates(cut: Cut, body: &[u8], bom: usize, stream: &Stream, offset: usize) -> Vec<usize> {
    let is_end = |b: u8| b == b'\r' || b == b'\n';
    let inner = (bom + 1)..body.len();
    let at = |stream_offset: usize| stream_offset - offset + bom;
    match cut {
        Cut::Anywhere => (0..=body.len()).collect(),
        Cut::MidLine => inner
            .filter(|&p| !is_end(body[p - 1]) && !is_end(body[p]))
            .collect(),
        Cut::MidChar => inner
            .filter(|&p| body[p] & 0xC0 == 0x80 && body[p - 1] >= 0x80)
            .collect(),
        Cut::BetweenCrLf => inner
            .filter(|&p| body[p - 1] == b'\r' && body[p] == b'\n')
            .collect(),
        Cut::BeforeDispatch => stream
            .events
            .iter()
            .filter(|e| e.dispatch > offset)
            .map(|e| at(e.dispatch - 1))
            .collect(),
        Cut::AfterDispatch => stream
            .events
            .iter()
            .filter(|e| e.dispatch > offset)
            .flat_map(|e| [at(e.dispatch), at(e.end)])
            .collect(),
        Cut::InBom => (1..bom).collect(),
    }
}

/// The script of a faulty connection resuming at `offset` (pure: the oracle calls it too).
pub fn faulty_connection(stream: &Stream, plan: &ConnPlan, offset: usize) -> Sending {
    let mut rng = Rng::new(plan.salt);
    let head = head(plan.chunked);
    if plan.fault.in_head() {
        let cut = rng.below(head.len());
        let script = Script::new().send(&head[..cut]);
        return Sending {
            script: match plan.fault {
                Fault::HeadThenReset => script.close_abruptly(),
                _ => script.close(),
            },
            // No body: the cut is in the head.
            cut: Cut::Anywhere,
            sent_to: offset,
        };
    }
    let bom = if plan.bom { BOM.len() } else { 0 };
    let mut body = BOM[..bom].to_vec();
    body.extend_from_slice(&stream.bytes[offset..]);
    let candidates = cut_candidates(plan.cut, &body, bom, stream, offset);
    let (cut, used) = match candidates.is_empty() {
        true => (rng.below(body.len() + 1), Cut::Anywhere),
        false => (candidates[rng.below(candidates.len())], plan.cut),
    };
    let sent = match plan.chunked {
        true => {
            let max = rng.pick(&[1, 7, 64, 4096]);
            let mut sent = chunks(&mut rng, &body[..cut], max);
            if matches!(plan.fault, Fault::Reset | Fault::Close) {
                // A chunk torn before any of its data: announced, or half its size line.
                sent.extend_from_slice(rng.pick(&[&b""[..], b"40\r\n", b"4"]));
            }
            sent
        }
        false => body[..cut].to_vec(),
    };
    let sent = &sent[..];
    let script = Script::new().send(&head);
    let script = match plan.fault {
        Fault::Reset => script.send(sent).close_abruptly(),
        Fault::Close => script.send(sent).close(),
        Fault::Stall => script.send(sent).hold_open(),
        Fault::TrickleThenReset | Fault::TrickleThenClose => {
            let at_once = sent.len().saturating_sub(TRICKLE_TAIL);
            let script = script
                .send(&sent[..at_once])
                .trickle(&sent[at_once..], ms(1));
            match plan.fault {
                Fault::TrickleThenReset => script.close_abruptly(),
                _ => script.close(),
            }
        }
        Fault::HeadThenReset | Fault::HeadThenClose => unreachable!(),
    };
    Sending {
        script,
        cut: used,
        sent_to: offset + cut.saturating_sub(bom),
    }
}

/// How the last, good connection sends the rest of the stream.
#[derive(Clone, Copy, Debug)]
pub enum Finish {
    /// At once, then holds the connection open.
    Hold,
    /// At once, then a comment every `every` (under a read timeout).
    Heartbeat(Duration),
    /// One byte per write, `gap` apart, then holds the connection open.
    Trickle(Duration),
}

pub fn final_connection(stream: &Stream, offset: usize, round: &Round) -> Script {
    let mut body = if round.final_bom {
        BOM.to_vec()
    } else {
        Vec::new()
    };
    body.extend_from_slice(&stream.bytes[offset..]);
    if round.final_chunked {
        let mut rng = Rng::new(offset as u64);
        let max = rng.pick(&[1, 16, 4096]);
        body = chunks(&mut rng, &body, max);
    }
    let script = Script::new().send(head(round.final_chunked));
    let beat = match round.final_chunked {
        true => chunk(":\n"),
        false => b":\n".to_vec(),
    };
    match round.finish {
        Finish::Hold => script.send(body).hold_open(),
        Finish::Heartbeat(every) => script.send(body).repeat(beat, every, 100_000),
        Finish::Trickle(gap) => script.trickle(body, gap).hold_open(),
    }
}

// ---------------------------------------------------------------------------------------
// The oracle of a round
// ---------------------------------------------------------------------------------------

/// What the policy must say after one faulty connection.
#[derive(Clone, Debug)]
pub struct ExpectedError {
    pub kinds: &'static [ErrorKind],
    pub failed_attempts: u32,
    /// The wait, jitter included: from the backoff to half as much again, within the cap.
    pub delay: (Duration, Duration),
}

/// The reconnect wait of the README's policy for this base, failure count and cap.
pub fn expected_delay(base: Duration, failures: u32, max_delay: Duration) -> (Duration, Duration) {
    let base = base.max(sse_client::policy::MIN_RECONNECT_DELAY);
    let cap = max_delay.max(base);
    let doublings = failures.saturating_sub(1).min(31);
    let backoff = base.saturating_mul(1 << doublings).min(cap);
    (
        backoff,
        (backoff
            .saturating_add(backoff / 2)
            .saturating_add(Duration::from_micros(1)))
        .min(cap),
    )
}

#[derive(Clone, Debug)]
pub struct Expectation {
    /// The Last-Event-ID of each request, the good last one included.
    pub last_event_ids: Vec<Option<String>>,
    pub errors: Vec<ExpectedError>,
}

/// Replays the round on paper: where each connection resumes and is cut, which events
/// and `retry:` lines it got through, and so what the client must send and report.
pub fn expect_round(
    stream: &Stream,
    plans: &[ConnPlan],
    delays: (Duration, Duration),
) -> Expectation {
    let mut delivered = 0usize;
    let mut base = delays.0;
    let mut failures = 0u32;
    let mut last_event_ids = Vec::new();
    let mut errors = Vec::new();
    for plan in plans {
        let id = (delivered > 0).then(|| delivered.to_string());
        let offset = stream.resume_offset(id.as_deref()).unwrap();
        last_event_ids.push(id);
        let sending = faulty_connection(stream, plan, offset);
        let now = stream.dispatched(offset, sending.sent_to);
        if let Some(retry) = stream
            .retries
            .iter()
            .rev()
            .find(|r| r.terminator >= offset && r.terminator < sending.sent_to)
        {
            base = Duration::from_millis(retry.millis);
        }
        failures = match plan.fault.in_head() || now == 0 {
            true => failures + 1,
            false => 0,
        };
        errors.push(ExpectedError {
            kinds: plan.fault.expected_errors(plan.chunked),
            failed_attempts: failures,
            delay: expected_delay(base, failures, delays.1),
        });
        delivered += now;
    }
    last_event_ids.push((delivered > 0).then(|| delivered.to_string()));
    Expectation {
        last_event_ids,
        errors,
    }
}

// ---------------------------------------------------------------------------------------
// The callback order
// ---------------------------------------------------------------------------------------

/// Checks the README's callback order and returns the state it ends in: `on_open` then
/// `on_state(OPEN)`; events and comments only while open; a retried error of an open
/// stream then `on_state(CONNECTING)`, of a failed attempt alone; a final error then
/// `on_state(CLOSED)` and nothing after. The last pair may lack its second half: a close
/// between the two callbacks suppresses the state change.
pub fn check_callback_order(records: &[Record]) -> Result<ReadyState, String> {
    let mut state = ReadyState::Connecting;
    let mut i = 0;
    let fail = |i: usize, what: &str| Err(format!("record #{i} {:?}: {what}", records[i]));
    while i < records.len() {
        // At the very end, the state change that should follow is taken as given.
        let next = match records.get(i + 1) {
            None => match &records[i] {
                Record::Open(_) => Some(&Record::State(ReadyState::Open)),
                Record::Error(e) if !e.will_retry => Some(&Record::State(ReadyState::Closed)),
                Record::Error(_) if state == ReadyState::Open => {
                    Some(&Record::State(ReadyState::Connecting))
                }
                _ => None,
            },
            next => next,
        };
        match &records[i] {
            _ if state == ReadyState::Closed => return fail(i, "after CLOSED"),
            Record::Open(_) => {
                if state != ReadyState::Connecting {
                    return fail(i, "open while not connecting");
                }
                if next != Some(&Record::State(ReadyState::Open)) {
                    return fail(i, "not followed by on_state(OPEN)");
                }
                state = ReadyState::Open;
                i += 1;
            }
            Record::Event(_) | Record::Comment(_) if state != ReadyState::Open => {
                return fail(i, "while not open")
            }
            Record::Event(_) | Record::Comment(_) => {}
            Record::Error(error) if !error.will_retry => {
                if next != Some(&Record::State(ReadyState::Closed)) {
                    return fail(i, "final error not followed by on_state(CLOSED)");
                }
                state = ReadyState::Closed;
                i += 1;
            }
            Record::Error(_) if state == ReadyState::Open => {
                if next != Some(&Record::State(ReadyState::Connecting)) {
                    return fail(i, "lost stream not followed by on_state(CONNECTING)");
                }
                state = ReadyState::Connecting;
                i += 1;
            }
            Record::Error(_) => {
                if matches!(next, Some(Record::State(_))) {
                    return fail(i, "failed attempt followed by a state change");
                }
            }
            Record::State(_) => return fail(i, "a state change out of place"),
        }
        i += 1;
    }
    Ok(state)
}

pub fn errors_of(records: &[Record]) -> Vec<ClientError> {
    records
        .iter()
        .filter_map(|r| r.as_error().cloned())
        .collect()
}

pub fn events_of(records: &[Record]) -> Vec<Ev> {
    records
        .iter()
        .filter_map(|r| match r {
            Record::Event(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

/// Reads records until `n` events came; panics on an event that is not the next expected
/// one, or when nothing comes for `quiet`.
pub fn receive_events(log: &mut Log, expected: &[Ev], quiet: Duration) {
    let mut got = 0;
    while got < expected.len() {
        match log.try_next(quiet) {
            Some(Record::Event(event)) => {
                assert_eq!(
                    event,
                    expected[got],
                    "event #{got} differs from the one sent; log: {:#?}",
                    log.all()
                );
                got += 1;
            }
            Some(_) => {}
            None => panic!(
                "{got} of {} events, then nothing for {quiet:?}; log: {:#?}",
                expected.len(),
                log.all()
            ),
        }
    }
}

// ---------------------------------------------------------------------------------------
// One round: a resume server with faults, a client, and every check
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
pub struct Round {
    pub plans: Vec<ConnPlan>,
    pub finish: Finish,
    pub final_bom: bool,
    pub final_chunked: bool,
    /// Initial and maximum reconnect delay.
    pub delays: (Duration, Duration),
    pub read_timeout: Option<Duration>,
    /// Poll mode with a queue of this many messages, drained by a slow host thread;
    /// `None`: callbacks.
    pub poll_queue: Option<usize>,
}

impl Round {
    pub fn new(plans: Vec<ConnPlan>) -> Round {
        Round {
            plans,
            finish: Finish::Hold,
            final_bom: false,
            final_chunked: false,
            delays: (ms(10), ms(10)),
            read_timeout: None,
            poll_queue: None,
        }
    }
}

/// What a round did, for coverage counts and extra checks.
pub struct RoundOutcome {
    /// (fault, cut used, chunked) of each faulty connection, in order.
    pub cuts: Vec<Served>,
    pub records: Vec<Stamped>,
}

/// What a faulty connection got: its fault, the cut used, whether it was chunked.
pub type Served = (Fault, Cut, bool);

/// The server of a round: connection i resumes after the request's Last-Event-ID and
/// suffers `round.plans[i]`; the next ones send the rest.
pub struct ResumeServer {
    pub server: Server,
    violations: Arc<Mutex<Vec<String>>>,
    served: Arc<Mutex<BTreeMap<usize, Served>>>,
}

impl ResumeServer {
    pub fn start(stream: &Stream, round: &Round) -> ResumeServer {
        let violations = Arc::new(Mutex::new(Vec::<String>::new()));
        let served = Arc::new(Mutex::new(BTreeMap::new()));
        let server = {
            let stream = Arc::new(stream.clone());
            let round = round.clone();
            let (violations, served) = (violations.clone(), served.clone());
            Server::routed(move |request, n| {
                let offset = match stream.resume_offset(request.header("last-event-id")) {
                    Ok(offset) => offset,
                    Err(problem) => {
                        let mut violations = violations.lock().unwrap();
                        violations.push(format!("connection {n}: {problem}"));
                        0
                    }
                };
                match round.plans.get(n) {
                    Some(plan) => {
                        let sending = faulty_connection(&stream, plan, offset);
                        let key = (plan.fault, sending.cut, plan.chunked);
                        served.lock().unwrap().insert(n, key);
                        sending.script
                    }
                    None => final_connection(&stream, offset, &round),
                }
            })
        };
        ResumeServer {
            server,
            violations,
            served,
        }
    }

    /// The client's configuration for this round.
    pub fn config(&self, round: &Round) -> sse_client::Config {
        let mut config = fast_config(&self.server.url("/events"));
        config
            .set_reconnect_delay(round.delays.0, round.delays.1)
            .unwrap();
        config.set_read_timeout(round.read_timeout);
        config.set_proxy_from_env(false);
        config
    }

    /// Every Last-Event-ID named an event of the stream.
    pub fn assert_resumable(&self) {
        let problems = self.violations.lock().unwrap().clone();
        assert!(
            problems.is_empty(),
            "the server was asked to resume wrongly: {problems:?}"
        );
    }

    /// (fault, cut used, chunked) of each faulty connection so far, in order.
    pub fn cuts(&self) -> Vec<Served> {
        self.served.lock().unwrap().values().copied().collect()
    }
}

/// Describes a round for a failure report.
pub fn describe(label: &str, stream: &Stream, round: &Round) -> String {
    format!(
        "{label}: {round:?}\n  stream ({} bytes, {} events): b\"{}\"",
        stream.bytes.len(),
        stream.events.len(),
        escape(&stream.bytes)
    )
}

/// Runs a round on a [`ResumeServer`]. Checks that the client delivers exactly the
/// stream's events (none lost, none twice, none altered, in order), sends the
/// Last-Event-ID and reports the errors, failure counts and waits the oracle says, keeps
/// the callback order, makes exactly one connection per plan plus one, and is OPEN at the
/// end.
pub fn run_round(label: &str, stream: &Stream, round: &Round) -> RoundOutcome {
    set_context(describe(label, stream, round));
    let expected = stream.expected_events();
    let expectation = expect_round(stream, &round.plans, round.delays);
    let resume = ResumeServer::start(stream, round);
    let server = &resume.server;
    let mut config = resume.config(round);
    let (mut log, recorder) = Log::new();
    let client = Host::open(&mut config, recorder, round.poll_queue);

    receive_events(&mut log, &expected, Duration::from_secs(5));
    // The last event may come before the fault of its connection: wait for the good one.
    let opens = round.plans.iter().filter(|p| !p.fault.in_head()).count() + 1;
    log.wait_for(|records| {
        records
            .iter()
            .filter(|r| r.record == Record::State(ReadyState::Open))
            .count()
            >= opens
    });
    assert_eq!(
        client.client.ready_state(),
        ReadyState::Open,
        "not OPEN on the good connection"
    );
    drop(client);
    let records = log.all();

    resume.assert_resumable();
    let state = check_callback_order(&records)
        .unwrap_or_else(|problem| panic!("callback order: {problem}; log: {records:#?}"));
    assert_eq!(
        state,
        ReadyState::Open,
        "the client did not end OPEN; log: {records:#?}"
    );
    assert_eq!(
        events_of(&records),
        expected,
        "events delivered != events sent"
    );

    let errors = errors_of(&records);
    let requests = server.requests();
    let ids: Vec<Option<String>> = requests
        .iter()
        .map(|r| r.header("last-event-id").map(str::to_owned))
        .collect();
    assert_eq!(
        ids, expectation.last_event_ids,
        "Last-Event-ID of each request (one connection per fault, then the good one); \
         errors: {errors:#?}"
    );
    assert_eq!(
        server.connection_count(),
        round.plans.len() + 1,
        "connections; errors: {errors:#?}"
    );

    assert_eq!(
        errors.len(),
        round.plans.len(),
        "one error per fault: {errors:#?}"
    );
    for (i, (error, want)) in errors.iter().zip(&expectation.errors).enumerate() {
        let ok = want.kinds.contains(&error.kind)
            && error.will_retry
            && error.failed_attempts == want.failed_attempts
            && error.retry_delay >= want.delay.0
            && error.retry_delay <= want.delay.1;
        assert!(
            ok,
            "error {i} is {error:?}, expected {want:?} (plan {:?})",
            round.plans[i]
        );
    }
    let cuts = resume.cuts();
    drop(resume);
    RoundOutcome {
        cuts,
        records: log.stamped(),
    }
}

/// A client as a host runs it: with callbacks, or in poll mode with a host thread that
/// drains the queue into the same kind of log, slowly enough that a small queue fills and
/// the worker has to wait for it. Dropping it closes the client and joins both threads.
pub struct Host {
    pub client: Arc<Client>,
    drainer: Option<JoinHandle<()>>,
}

impl Host {
    pub fn open(config: &mut sse_client::Config, recorder: Recorder, queue: Option<usize>) -> Host {
        let Some(capacity) = queue else {
            return Host {
                client: Arc::new(Client::open(config, recorder).unwrap()),
                drainer: None,
            };
        };
        config.set_queue_capacity(capacity).unwrap();
        let client = Arc::new(Client::open_polled(config).unwrap());
        let drainer = {
            let client = client.clone();
            std::thread::Builder::new()
                .name("test-host".into())
                .spawn(move || drain(&client, recorder))
                .unwrap()
        };
        Host {
            client,
            drainer: Some(drainer),
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.client.close();
        if let Some(drainer) = self.drainer.take() {
            let _ = drainer.join();
        }
    }
}

/// Polls until the client is closed and drained, handing each message to `recorder` as
/// the matching callback; pauses now and then, like a busy host.
fn drain(client: &Client, mut recorder: Recorder) {
    let mut count = 0u64;
    loop {
        let message = match client.poll(Some(ms(20))) {
            Ok(message) => message,
            Err(PollError::Timeout) => continue,
            Err(PollError::Closed | PollError::WrongMode) => return,
        };
        match message {
            Message::Open { http_status } => recorder.on_open(http_status),
            Message::Event(event) => recorder.on_event(&event.as_event()),
            ref comment @ Message::Comment(_) => {
                recorder.on_comment(comment.comment_text().unwrap())
            }
            Message::Error(error) => recorder.on_error(&error),
            Message::State(state) => recorder.on_state(state),
        }
        count += 1;
        if count.is_multiple_of(5) {
            std::thread::sleep(ms(1));
        }
    }
}

/// Counts of (fault, cut actually used), for the scenario summaries.
#[derive(Default)]
pub struct Coverage {
    rounds: usize,
    chunked: usize,
    counts: BTreeMap<(Fault, Cut), usize>,
}

impl Coverage {
    pub fn add(&mut self, outcome: &RoundOutcome) {
        self.rounds += 1;
        for &(fault, cut, chunked) in &outcome.cuts {
            *self.counts.entry((fault, cut)).or_default() += 1;
            self.chunked += usize::from(chunked);
        }
    }

    pub fn count(&self, fault: Fault, cut: Cut) -> usize {
        self.counts.get(&(fault, cut)).copied().unwrap_or(0)
    }

    pub fn summary(&self) -> String {
        let faults: usize = self.counts.values().sum();
        let detail: Vec<String> = self
            .counts
            .iter()
            .map(|((fault, cut), n)| match fault.in_head() {
                true => format!("{fault:?} {n}"),
                false => format!("{fault:?}/{cut:?} {n}"),
            })
            .collect();
        format!(
            "{} rounds, {faults} faults, {} on chunked bodies ({})",
            self.rounds,
            self.chunked,
            detail.join(", ")
        )
    }
}
