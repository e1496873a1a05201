//! The soak run of `sse_client`: many events, many reconnects and many clients against an
//! in-process loopback server, with resident memory, file descriptors and threads sampled.
//! Not part of CI (it takes about a minute); run it in release:
//!
//! ```text
//! cargo run --release --example soak -- [single|many|all] [--events N] [--reconnects N]
//!     [--clients N] [--seconds N] [--rate N] [--delivery callback|poll|mixed]
//!     [--sample-ms N] [--print-ms N] [--repeat N]
//! ```
//!
//! - `single` (about 30 s): one client receives at least `--events` events (default
//!   1000000) over at least `--reconnects` reconnects (default 2000): the server drops the
//!   connection every `events / (reconnects + 1)` events. `--seconds S` spreads the events
//!   over about S seconds (default 0: as fast as the client takes them; the run time is
//!   then mostly the 10-15 ms waits before the reconnects).
//! - `many` (30 s): `--clients` clients (default 200) open at once and each receives a
//!   stream of `--rate` events per second (default 50) for `--seconds` seconds (default
//!   30), with about `--reconnects` reconnects each (default 10), all at the same moments
//!   (a herd); then all are closed at once.
//! - `all` (the default): `single`, then `many`. `--repeat N` runs them N times in the
//!   same process (memory after a close should not creep from one round to the next).
//!
//! `--delivery`: how events reach the host, through callbacks on the worker thread, from
//! the poll queue (one thread drains every polled client), or half and half (`mixed`).
//! Defaults: `single` callback, `many` mixed. Every client uses a 10 ms initial and 100 ms
//! maximum reconnect delay.
//!
//! The server (std `TcpListener`, a thread per connection) streams numbered events of a few
//! shapes (named and unnamed, one or two data lines, LF or CRLF line ends, a payload of 0
//! to 96 bytes, or 8 KiB for ids 3, 103, 203 ...; a comment every 50 events) and resumes
//! after the request's `Last-Event-ID`. Every other drop cuts an event in half (its `id:`
//! line already sent), which the client must discard and then ask for again. The client
//! checks that every event arrives exactly once, in order, with the type and data that
//! belong to its id.
//!
//! A sampler thread reads VmRSS and VmHWM from /proc/self/status and counts /proc/self/fd and
//! /proc/self/task every `--sample-ms` (250) and prints a row every `--print-ms` (1000).
//! The clients and the server share this process: the figures include the server (a
//! thread and a socket per connection) and this harness.
//!
//! The exit status is non-zero when an event is lost, duplicated, out of order or corrupt, a
//! client reports an unexpected error or gives up, the run stalls or falls short of its
//! counts, a `many` client never reconnects, file descriptors or threads are not back to
//! their starting counts once everything is closed (or exceed a per-client bound during the
//! run), or resident memory does not plateau: from the 25% mark of the run to its end it may
//! grow by at most 2 MiB or 5%, whichever is larger.

use std::env;
use std::fs;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use sse_client::{Client, ClientError, Config, ErrorKind, Event, Handler, Message, Stats};

const USAGE: &str = "usage: soak [single|many|all] [--events N] [--reconnects N] [--clients N] \
                     [--seconds N] [--rate N] [--delivery callback|poll|mixed] \
                     [--sample-ms N] [--print-ms N] [--repeat N]";

/// Memory has plateaued when it grew by at most this much after the 25% mark...
const PLATEAU_MIB: f64 = 2.0;
/// ... or by at most this fraction of the RSS at the mark, whichever is larger.
const PLATEAU_FRACTION: f64 = 0.05;
/// The run has stalled when no event arrives for this long.
const STALL: Duration = Duration::from_secs(20);
/// How long fds and threads may take to return to their starting counts after the close.
const SETTLE: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------
// Options

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Single,
    Many,
    All,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Delivery {
    Callback,
    Poll,
    Mixed,
}

impl Delivery {
    fn name(self) -> &'static str {
        match self {
            Delivery::Callback => "callback",
            Delivery::Poll => "poll",
            Delivery::Mixed => "mixed",
        }
    }

    /// Whether client number `index` is a polled one.
    fn polled(self, index: usize) -> bool {
        match self {
            Delivery::Callback => false,
            Delivery::Poll => true,
            Delivery::Mixed => index % 2 == 1,
        }
    }
}

#[derive(Clone, Debug)]
struct Options {
    mode: Mode,
    events: u64,
    reconnects: Option<u64>,
    clients: usize,
    seconds: Option<f64>,
    rate: u64,
    delivery: Option<Delivery>,
    sample_every: Duration,
    print_every: Duration,
    repeat: u64,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        mode: Mode::All,
        events: 1_000_000,
        reconnects: None,
        clients: 200,
        seconds: None,
        rate: 50,
        delivery: None,
        sample_every: Duration::from_millis(250),
        print_every: Duration::from_millis(1000),
        repeat: 1,
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "single" => options.mode = Mode::Single,
            "many" => options.mode = Mode::Many,
            "all" => options.mode = Mode::All,
            "-h" | "--help" => return Err(String::new()),
            _ => {
                let (name, inline) = match arg.split_once('=') {
                    Some((name, value)) => (name.to_string(), Some(value.to_string())),
                    None => (arg.clone(), None),
                };
                let value = inline
                    .or_else(|| args.next())
                    .ok_or_else(|| format!("{name} needs a value"))?;
                let number = || {
                    value
                        .parse::<u64>()
                        .map_err(|_| format!("{name}: not a number: {value:?}"))
                };
                match name.as_str() {
                    "--events" => options.events = number()?.max(1),
                    "--reconnects" => options.reconnects = Some(number()?),
                    "--clients" => options.clients = number()?.max(1) as usize,
                    "--seconds" => {
                        let seconds = value
                            .parse::<f64>()
                            .ok()
                            .filter(|s| s.is_finite() && *s >= 0.0)
                            .ok_or_else(|| format!("{name}: not a duration: {value:?}"))?;
                        options.seconds = Some(seconds);
                    }
                    "--rate" => options.rate = number()?.max(1),
                    "--delivery" => {
                        options.delivery = Some(match value.as_str() {
                            "callback" => Delivery::Callback,
                            "poll" => Delivery::Poll,
                            "mixed" => Delivery::Mixed,
                            _ => return Err(format!("--delivery: unknown {value:?}")),
                        })
                    }
                    "--sample-ms" => {
                        options.sample_every = Duration::from_millis(number()?.max(10))
                    }
                    "--print-ms" => options.print_every = Duration::from_millis(number()?),
                    "--repeat" => options.repeat = number()?.max(1),
                    _ => return Err(format!("unknown option {name:?}")),
                }
            }
        }
    }
    Ok(options)
}

// ---------------------------------------------------------------------------------------
// The event stream: what the server sends for an id, and the client's check of it

/// `message` (no `event:` line) every 7th, `news` every 5th, else `tick`.
fn event_type(id: u64) -> &'static str {
    if id.is_multiple_of(7) {
        "message"
    } else if id.is_multiple_of(5) {
        "news"
    } else {
        "tick"
    }
}

/// The payload after `{id}:` on the first data line. The large ones come early and often,
/// so that the buffers that grow to the largest event seen (the parser's, the worker's
/// read buffer) reach their size well before the 25% mark of even a short run.
fn payload_len(id: u64) -> usize {
    if id % 100 == 3 {
        8192
    } else {
        (id % 13) as usize * 8
    }
}

const SECOND_LINE: &str = "second line";
const PAD: [u8; 8192] = [b'x'; 8192];

fn write_event(out: &mut impl Write, id: u64) -> io::Result<()> {
    let nl: &[u8] = if id % 3 == 1 { b"\r\n" } else { b"\n" };
    if id.is_multiple_of(50) {
        write!(out, ": keepalive {id}")?;
        out.write_all(nl)?;
    }
    write!(out, "id: {id}")?;
    out.write_all(nl)?;
    let kind = event_type(id);
    if kind != "message" {
        write!(out, "event: {kind}")?;
        out.write_all(nl)?;
    }
    write!(out, "data: {id}:")?;
    out.write_all(&PAD[..payload_len(id)])?;
    out.write_all(nl)?;
    if id.is_multiple_of(5) {
        write!(out, "data: {SECOND_LINE}")?;
        out.write_all(nl)?;
    }
    out.write_all(nl)
}

/// Whether `event` is exactly what [`write_event`] sent for `id`.
fn event_matches(id: u64, event: &Event<'_>) -> bool {
    if event.event_type.as_str() != event_type(id) {
        return false;
    }
    let data = event.data.as_str();
    let Some((number, rest)) = data.split_once(':') else {
        return false;
    };
    if number.parse::<u64>() != Ok(id) {
        return false;
    }
    let len = payload_len(id);
    let (pad, tail) = rest.split_at(len.min(rest.len()));
    let tail_ok = match id.is_multiple_of(5) {
        true => tail.strip_prefix('\n') == Some(SECOND_LINE),
        false => tail.is_empty(),
    };
    pad.len() == len && pad.bytes().all(|b| b == b'x') && tail_ok
}

// ---------------------------------------------------------------------------------------
// The loopback server

#[derive(Clone, Copy, Debug)]
struct ServerSettings {
    /// Complete events per connection before the server drops it.
    drop_every: u64,
    /// Between two events on one connection; zero: as fast as the socket takes them.
    interval: Duration,
}

struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accepted: Arc<AtomicU64>,
}

impl Server {
    fn start(settings: ServerSettings) -> io::Result<Server> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(Mutex::new(Vec::new()));
        let accepted = Arc::new(AtomicU64::new(0));
        let accept = {
            let (stop, connections, accepted) =
                (stop.clone(), connections.clone(), accepted.clone());
            thread::Builder::new()
                .name("soak-accept".into())
                .spawn(move || accept_loop(listener, settings, stop, connections, accepted))?
        };
        Ok(Server {
            addr,
            stop,
            accept: Some(accept),
            connections,
            accepted,
        })
    }

    fn url(&self) -> String {
        format!("http://{}/events", self.addr)
    }

    /// Stops accepting, ends every connection and joins every thread.
    fn shutdown(mut self) {
        self.stop.store(true, Relaxed);
        // Wake the accept loop, which checks the flag after each connection.
        let _ = TcpStream::connect(self.addr);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
        let handles = std::mem::take(&mut *self.connections.lock().unwrap());
        for handle in handles {
            let _ = handle.join();
        }
    }
}

fn accept_loop(
    listener: TcpListener,
    settings: ServerSettings,
    stop: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accepted: Arc<AtomicU64>,
) {
    for stream in listener.incoming() {
        if stop.load(Relaxed) {
            break;
        }
        let Ok(stream) = stream else {
            // EMFILE and the like: back off a little rather than spin.
            thread::sleep(Duration::from_millis(10));
            continue;
        };
        accepted.fetch_add(1, Relaxed);
        let mut handles = connections.lock().unwrap();
        // Join the threads that have ended: an unjoined thread keeps its stack.
        let (done, running): (Vec<_>, Vec<_>) =
            handles.drain(..).partition(JoinHandle::is_finished);
        *handles = running;
        for handle in done {
            let _ = handle.join();
        }
        let stop = stop.clone();
        let spawned = thread::Builder::new()
            .name("soak-conn".into())
            .stack_size(128 * 1024)
            .spawn(move || {
                let _ = serve(stream, settings, &stop);
            });
        match spawned {
            Ok(handle) => handles.push(handle),
            Err(error) => eprintln!("soak: cannot start a server thread: {error}"),
        }
    }
}

/// Reads the request head and returns its `Last-Event-ID` as a number (0 without one).
fn read_last_event_id(stream: &mut TcpStream) -> io::Result<u64> {
    let mut head = Vec::new();
    let mut chunk = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() > 64 * 1024 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "head too large"));
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        head.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    let id = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("last-event-id"))
        .map(|(_, value)| value.trim().parse::<u64>())
        .transpose()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "Last-Event-ID not a number"))?;
    Ok(id.unwrap_or(0))
}

/// A write buffer on the connection thread's stack. A heap buffer (`BufWriter`) would be
/// allocated afresh for every connection and touched in new places of the allocator's
/// arenas now and then, which shows up as resident memory that is the server's, not the
/// client's; stacks are recycled whole.
struct StackWriter<'a> {
    stream: &'a TcpStream,
    buffer: [u8; 16 * 1024],
    len: usize,
}

impl<'a> StackWriter<'a> {
    fn new(stream: &'a TcpStream) -> StackWriter<'a> {
        StackWriter {
            stream,
            buffer: [0; 16 * 1024],
            len: 0,
        }
    }
}

impl Write for StackWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.len + bytes.len() > self.buffer.len() {
            self.flush()?;
        }
        if bytes.len() >= self.buffer.len() {
            return (&mut &*self.stream).write(bytes);
        }
        self.buffer[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let pending = std::mem::take(&mut self.len);
        (&mut &*self.stream).write_all(&self.buffer[..pending])
    }
}

/// One connection: `drop_every` events after the request's `Last-Event-ID`, then a drop,
/// every other time in the middle of the next event.
fn serve(mut stream: TcpStream, settings: ServerSettings, stop: &AtomicBool) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    stream.set_nodelay(true)?;
    let last = read_last_event_id(&mut stream)?;
    let paced = !settings.interval.is_zero();
    let mut out = StackWriter::new(&stream);
    out.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\
          Cache-Control: no-cache\r\nConnection: close\r\n\r\n: soak\n\n",
    )?;
    out.flush()?;
    let started = Instant::now();
    for i in 0..settings.drop_every {
        if paced {
            let due = started + settings.interval.mul_f64(i as f64);
            loop {
                if stop.load(Relaxed) {
                    return Ok(());
                }
                let left = due.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                thread::sleep(left.min(Duration::from_millis(50)));
            }
        } else if stop.load(Relaxed) {
            return Ok(());
        }
        write_event(&mut out, last + 1 + i)?;
        if paced {
            out.flush()?;
        }
    }
    let next = last + settings.drop_every + 1;
    if (last / settings.drop_every) % 2 == 1 {
        write!(
            out,
            "id: {next}\nevent: {}\ndata: {next}:cut",
            event_type(next)
        )?;
    }
    out.flush()?;
    stream.shutdown(Shutdown::Both)
}

// ---------------------------------------------------------------------------------------
// The clients and their checks

/// What one client saw, shared by its handler (or the poll drainer) and the main thread.
#[derive(Default)]
struct Tally {
    events: AtomicU64,
    opens: AtomicU64,
    last_id: AtomicU64,
    lost: AtomicU64,
    duplicated: AtomicU64,
    corrupt: AtomicU64,
    /// Errors a dropped connection causes: STREAM_ENDED or IO.
    drops: AtomicU64,
    unexpected_errors: AtomicU64,
    gave_up: AtomicBool,
    /// The first thing that went wrong, in words.
    problem: Mutex<Option<String>>,
}

impl Tally {
    fn problem(&self, what: String) {
        self.problem.lock().unwrap().get_or_insert(what);
    }

    fn reconnects(&self) -> u64 {
        self.opens.load(Relaxed).saturating_sub(1)
    }
}

/// For the sampler: all clients together.
#[derive(Default)]
struct Totals {
    events: AtomicU64,
    reconnects: AtomicU64,
}

/// Checks one client's messages, whichever way they are delivered.
struct Checker {
    next_id: u64,
    tally: Arc<Tally>,
    totals: Arc<Totals>,
}

impl Checker {
    fn open(&mut self) {
        if self.tally.opens.fetch_add(1, Relaxed) > 0 {
            self.totals.reconnects.fetch_add(1, Relaxed);
        }
    }

    fn event(&mut self, event: &Event<'_>) {
        let tally = &self.tally;
        tally.events.fetch_add(1, Relaxed);
        self.totals.events.fetch_add(1, Relaxed);
        let Ok(id) = event.id.as_str().parse::<u64>() else {
            tally.corrupt.fetch_add(1, Relaxed);
            tally.problem(format!(
                "event with id {:?} after {}",
                event.id,
                self.next_id - 1
            ));
            return;
        };
        if id < self.next_id {
            tally.duplicated.fetch_add(1, Relaxed);
            tally.problem(format!("event {id} again (expected {})", self.next_id));
            return;
        }
        if id > self.next_id {
            tally.lost.fetch_add(id - self.next_id, Relaxed);
            tally.problem(format!("events {}..{id} lost", self.next_id));
        }
        if !event_matches(id, event) {
            tally.corrupt.fetch_add(1, Relaxed);
            tally.problem(format!("event {id} has the wrong type or data: {event:?}"));
        }
        self.next_id = id + 1;
        tally.last_id.store(id, Relaxed);
    }

    fn error(&mut self, error: &ClientError) {
        match error.kind {
            ErrorKind::StreamEnded | ErrorKind::Io => self.tally.drops.fetch_add(1, Relaxed),
            _ => {
                self.tally.problem(format!("unexpected error: {error:?}"));
                self.tally.unexpected_errors.fetch_add(1, Relaxed)
            }
        };
        if !error.will_retry {
            self.tally.problem(format!("the client gave up: {error:?}"));
            self.tally.gave_up.store(true, Relaxed);
        }
    }

    fn message(&mut self, message: &Message) {
        match message {
            Message::Open { .. } => self.open(),
            Message::Event(event) => self.event(&event.as_event()),
            Message::Error(error) => self.error(error),
            Message::Comment(_) | Message::State(_) => {}
        }
    }
}

struct Callbacks(Checker);

impl Handler for Callbacks {
    fn on_open(&mut self, _http_status: u16) {
        self.0.open();
    }
    fn on_event(&mut self, event: &Event<'_>) {
        self.0.event(event);
    }
    fn on_error(&mut self, error: &ClientError) {
        self.0.error(error);
    }
}

/// The clients of one run, and the thread that drains the polled ones.
struct Fleet {
    clients: Vec<Arc<Client>>,
    tallies: Vec<Arc<Tally>>,
    drainer: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
}

impl Fleet {
    fn open(url: &str, count: usize, delivery: Delivery, totals: &Arc<Totals>) -> Fleet {
        let mut config = Config::new(url).expect("a loopback URL is valid");
        config
            .set_reconnect_delay(Duration::from_millis(10), Duration::from_millis(100))
            .expect("10 ms <= 100 ms");
        config.set_proxy_from_env(false);
        let mut fleet = Fleet {
            clients: Vec::with_capacity(count),
            tallies: Vec::with_capacity(count),
            drainer: None,
        };
        let mut polled = Vec::new();
        for index in 0..count {
            let tally = Arc::new(Tally::default());
            let checker = Checker {
                next_id: 1,
                tally: tally.clone(),
                totals: totals.clone(),
            };
            let opened = match delivery.polled(index) {
                true => Client::open_polled(&config).map(|client| {
                    let client = Arc::new(client);
                    polled.push((client.clone(), checker));
                    client
                }),
                false => Client::open(&config, Callbacks(checker)).map(Arc::new),
            };
            let client = opened.unwrap_or_else(|error| {
                eprintln!("soak: cannot open client {index}: {error}");
                std::process::exit(1);
            });
            fleet.clients.push(client);
            fleet.tallies.push(tally);
        }
        if !polled.is_empty() {
            let stop = Arc::new(AtomicBool::new(false));
            let handle = {
                let stop = stop.clone();
                thread::Builder::new()
                    .name("soak-poll".into())
                    .spawn(move || drain(polled, &stop))
                    .expect("cannot start the poll thread")
            };
            fleet.drainer = Some((stop, handle));
        }
        fleet
    }

    fn stats(&self) -> Vec<Stats> {
        self.clients.iter().map(|c| c.stats()).collect()
    }

    /// Closes every client, stops the drainer and drops the clients (which joins their
    /// workers); returns how long that took.
    fn close(mut self) -> Duration {
        let started = Instant::now();
        for client in &self.clients {
            client.close();
        }
        if let Some((stop, handle)) = self.drainer.take() {
            stop.store(true, Relaxed);
            let _ = handle.join();
        }
        drop(std::mem::take(&mut self.clients));
        started.elapsed()
    }
}

/// The poll-mode host: takes every queued message of every polled client.
fn drain(mut polled: Vec<(Arc<Client>, Checker)>, stop: &AtomicBool) {
    // One client: block on its queue. Several: visit each, nap when all were empty.
    let first_wait = match polled.len() {
        1 => Some(Duration::from_millis(50)),
        _ => Some(Duration::ZERO),
    };
    while !stop.load(Relaxed) {
        let mut handled = 0usize;
        for (client, checker) in &mut polled {
            let mut wait = first_wait;
            while let Ok(message) = client.poll(wait) {
                checker.message(&message);
                handled += 1;
                wait = Some(Duration::ZERO);
            }
        }
        if handled == 0 && polled.len() > 1 {
            thread::sleep(Duration::from_millis(1));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Sampling /proc/self

#[derive(Clone, Copy, Debug, Default)]
struct Sample {
    /// Seconds since the mode started.
    t: f64,
    events: u64,
    reconnects: u64,
    rss_kib: u64,
    hwm_kib: u64,
    fds: usize,
    threads: usize,
    /// User plus system CPU time of the whole process, in clock ticks (1/100 s).
    cpu_ticks: u64,
}

impl Sample {
    fn rss_mib(&self) -> f64 {
        self.rss_kib as f64 / 1024.0
    }
}

/// Serialises the readings: a directory being listed holds a descriptor, which the other
/// reader would count.
static PROC_LOCK: Mutex<()> = Mutex::new(());

fn sample(origin: Instant, totals: &Totals) -> Sample {
    let _guard = PROC_LOCK.lock().unwrap();
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(key))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let count = |dir: &str| fs::read_dir(dir).map(|d| d.count()).unwrap_or(0);
    Sample {
        t: origin.elapsed().as_secs_f64(),
        events: totals.events.load(Relaxed),
        reconnects: totals.reconnects.load(Relaxed),
        rss_kib: kib("VmRSS:"),
        hwm_kib: kib("VmHWM:"),
        // Without the descriptor of the listing itself.
        fds: count("/proc/self/fd").saturating_sub(1),
        threads: count("/proc/self/task"),
        cpu_ticks: cpu_ticks("/proc/self/stat"),
    }
}

/// utime + stime of a /proc stat file, in clock ticks: fields 14 and 15, counted after the
/// ")" that ends the command name.
fn cpu_ticks(path: &str) -> u64 {
    let stat = fs::read_to_string(path).unwrap_or_default();
    stat.rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .skip(11)
                .take(2)
                .filter_map(|n| n.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0)
}

/// The CPU time of the clients' worker threads (named "sse_client"), in clock ticks.
fn worker_cpu_ticks() -> u64 {
    let _guard = PROC_LOCK.lock().unwrap();
    let Ok(tasks) = fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter(|task| {
            fs::read_to_string(task.path().join("comm")).is_ok_and(|c| c.trim() == "sse_client")
        })
        .map(|task| cpu_ticks(&task.path().join("stat").to_string_lossy()))
        .sum()
}

struct Sampler {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Vec<Sample>>,
}

impl Sampler {
    fn start(origin: Instant, totals: Arc<Totals>, options: &Options) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let (every, print_every) = (options.sample_every, options.print_every);
        let handle = {
            let stop = stop.clone();
            thread::Builder::new()
                .name("soak-sampler".into())
                .spawn(move || {
                    println!(
                        "{:>8} {:>10} {:>8} {:>8} {:>8} {:>6} {:>8}",
                        "time s", "events", "reconn", "RSS MiB", "HWM MiB", "fds", "threads"
                    );
                    let mut samples = Vec::new();
                    let mut printed: Option<f64> = None;
                    let mut next = Instant::now();
                    while !stop.load(Relaxed) {
                        let s = sample(origin, &totals);
                        if printed.is_none_or(|p| s.t - p >= print_every.as_secs_f64() - 0.01) {
                            print_row(&s);
                            printed = Some(s.t);
                        }
                        samples.push(s);
                        next += every;
                        while !stop.load(Relaxed) {
                            let left = next.saturating_duration_since(Instant::now());
                            if left.is_zero() {
                                break;
                            }
                            thread::sleep(left.min(Duration::from_millis(20)));
                        }
                    }
                    samples
                })
                .expect("cannot start the sampler thread")
        };
        Sampler { stop, handle }
    }

    fn finish(self) -> Vec<Sample> {
        self.stop.store(true, Relaxed);
        self.handle.join().unwrap_or_default()
    }
}

fn print_row(s: &Sample) {
    println!(
        "{:>8.2} {:>10} {:>8} {:>8.2} {:>8.2} {:>6} {:>8}",
        s.t,
        s.events,
        s.reconnects,
        s.rss_mib(),
        s.hwm_kib as f64 / 1024.0,
        s.fds,
        s.threads
    );
}

// ---------------------------------------------------------------------------------------
// One mode, start to end

struct Plan {
    name: String,
    clients: usize,
    delivery: Delivery,
    server: ServerSettings,
    /// single: run until this many events and reconnects; many: run for `duration`.
    until: Until,
}

enum Until {
    Counts { events: u64, reconnects: u64 },
    Elapsed(Duration),
}

fn run(plan: &Plan, options: &Options) -> bool {
    println!();
    println!("== {} ==", plan.name);
    println!(
        "{} client(s), {} delivery, server drops every {} events, {}",
        plan.clients,
        plan.delivery.name(),
        plan.server.drop_every,
        match plan.server.interval.is_zero() {
            true => "unpaced".to_string(),
            false => format!("one event per {:?} per connection", plan.server.interval),
        }
    );
    let origin = Instant::now();
    let totals = Arc::new(Totals::default());
    let sampler = Sampler::start(origin, totals.clone(), options);
    // Let the sampler take its first reading (and print the header) first.
    thread::sleep(Duration::from_millis(50));
    let start = sample(origin, &totals);

    let server = match Server::start(plan.server) {
        Ok(server) => server,
        Err(error) => {
            eprintln!("soak: cannot start the server: {error}");
            return false;
        }
    };
    let run_start = origin.elapsed().as_secs_f64();
    let fleet = Fleet::open(&server.url(), plan.clients, plan.delivery, &totals);

    let mut failures = Vec::new();
    let mut last_events = 0;
    let mut last_progress = Instant::now();
    loop {
        thread::sleep(Duration::from_millis(5));
        let events = totals.events.load(Relaxed);
        if events != last_events {
            last_events = events;
            last_progress = Instant::now();
        }
        let done = match plan.until {
            Until::Counts { events, reconnects } => {
                let t = &fleet.tallies[0];
                t.events.load(Relaxed) >= events && t.reconnects() >= reconnects
            }
            Until::Elapsed(duration) => {
                origin.elapsed().as_secs_f64() - run_start >= duration.as_secs_f64()
            }
        };
        if done {
            break;
        }
        if last_progress.elapsed() > STALL {
            failures.push(format!("stalled: no event for {STALL:?}"));
            break;
        }
        if fleet.tallies.iter().any(|t| t.gave_up.load(Relaxed)) {
            failures.push("a client gave up".to_string());
            break;
        }
    }
    let end = sample(origin, &totals);
    let worker_cpu = worker_cpu_ticks();
    let run_stop = end.t;
    let stats = fleet.stats();
    let tallies = fleet.tallies.clone();
    let close_time = fleet.close();
    let accepted = server.accepted.load(Relaxed);
    server.shutdown();

    // Joined threads and closed sockets leave /proc at once, but give them a moment.
    let settle_start = Instant::now();
    let mut after = sample(origin, &totals);
    while (after.fds != start.fds || after.threads != start.threads)
        && settle_start.elapsed() < SETTLE
    {
        thread::sleep(Duration::from_millis(50));
        after = sample(origin, &totals);
    }
    let samples = sampler.finish();
    print_row(&after);

    let report = Report {
        plan,
        start,
        end,
        after,
        samples,
        run_start,
        run_stop,
        stats,
        tallies,
        close_time,
        accepted,
        worker_cpu,
    };
    report.print(failures)
}

struct Report<'a> {
    plan: &'a Plan,
    start: Sample,
    end: Sample,
    after: Sample,
    samples: Vec<Sample>,
    run_start: f64,
    run_stop: f64,
    stats: Vec<Stats>,
    tallies: Vec<Arc<Tally>>,
    close_time: Duration,
    accepted: u64,
    /// Clock ticks the clients' worker threads used, callbacks included.
    worker_cpu: u64,
}

impl Report<'_> {
    fn print(&self, mut failures: Vec<String>) -> bool {
        let sum = |f: &dyn Fn(&Tally) -> u64| self.tallies.iter().map(|t| f(t)).sum::<u64>();
        let events = sum(&|t| t.events.load(Relaxed));
        let reconnects = sum(&|t| t.reconnects());
        let lost = sum(&|t| t.lost.load(Relaxed));
        let duplicated = sum(&|t| t.duplicated.load(Relaxed));
        let corrupt = sum(&|t| t.corrupt.load(Relaxed));
        let drops = sum(&|t| t.drops.load(Relaxed));
        let unexpected = sum(&|t| t.unexpected_errors.load(Relaxed));
        let contiguous = self.tallies.iter().all(|t| {
            t.last_id.load(Relaxed) == t.events.load(Relaxed) && t.events.load(Relaxed) > 0
        });
        let per_client_reconnects = self.tallies.iter().map(|t| t.reconnects());
        let (min_rec, max_rec) = (
            per_client_reconnects.clone().min().unwrap_or(0),
            per_client_reconnects.max().unwrap_or(0),
        );
        let lib = |f: &dyn Fn(&Stats) -> u64| self.stats.iter().map(f).sum::<u64>();
        let duration = self.run_stop - self.run_start;

        // The plateau: RSS at the 25% mark of the run against its end.
        let mark = self.run_start + 0.25 * duration;
        let warm = self
            .samples
            .iter()
            .find(|s| s.t >= mark && s.t <= self.run_stop)
            .copied()
            .unwrap_or(self.end);
        let running: Vec<Sample> = self
            .samples
            .iter()
            .filter(|s| s.t <= self.run_stop)
            .copied()
            .chain([self.end])
            .collect();
        let after_mark: Vec<Sample> = running.iter().filter(|s| s.t >= warm.t).copied().collect();
        let growth = self.end.rss_mib() - warm.rss_mib();
        let allowance = PLATEAU_MIB.max(PLATEAU_FRACTION * warm.rss_mib());
        let slope = slope_mib_per_min(&after_mark);
        let every: Vec<Sample> = running
            .iter()
            .chain(&self.samples)
            .chain([&self.start, &self.after])
            .copied()
            .collect();
        let peak_rss = every.iter().map(Sample::rss_mib).fold(0.0, f64::max);
        let hwm = every.iter().map(|s| s.hwm_kib).max().unwrap_or(0) as f64 / 1024.0;
        let peak_fds = every.iter().map(|s| s.fds).max().unwrap_or(0);
        let peak_threads = every.iter().map(|s| s.threads).max().unwrap_or(0);
        let clients = self.plan.clients;

        if lost + duplicated + corrupt > 0 || !contiguous {
            failures.push(format!(
                "events not exactly once in order: {lost} lost, {duplicated} duplicated, \
                 {corrupt} corrupt"
            ));
        }
        if unexpected > 0 {
            failures.push(format!("{unexpected} unexpected errors"));
        }
        if let Until::Counts {
            events: want_events,
            reconnects: want_reconnects,
        } = self.plan.until
        {
            if events < want_events || reconnects < want_reconnects {
                failures.push(format!(
                    "short run: {events} events, {reconnects} reconnects (wanted {want_events}, \
                     {want_reconnects})"
                ));
            }
        } else if min_rec == 0 {
            failures.push("a client never reconnected".to_string());
        }
        for t in &self.tallies {
            if let Some(problem) = t.problem.lock().unwrap().as_ref() {
                failures.push(format!("first problem: {problem}"));
                break;
            }
        }
        if self.after.fds != self.start.fds {
            failures.push(format!(
                "file descriptors: {} at the start, {} after the close",
                self.start.fds, self.after.fds
            ));
        }
        if self.after.threads != self.start.threads {
            failures.push(format!(
                "threads: {} at the start, {} after the close",
                self.start.threads, self.after.threads
            ));
        }
        // Per client at most: its socket, the server's end, an eventfd, and the previous
        // connection's two ends while it winds down; plus the listener.
        let fd_bound = self.start.fds + 1 + 5 * clients + 2;
        if peak_fds > fd_bound {
            failures.push(format!(
                "file descriptors peaked at {peak_fds} (bound {fd_bound})"
            ));
        }
        // Per client: its worker, a server thread and the previous one winding down; plus
        // the accept and poll threads.
        let thread_bound = self.start.threads + 2 + 3 * clients + 2;
        if peak_threads > thread_bound {
            failures.push(format!(
                "threads peaked at {peak_threads} (bound {thread_bound})"
            ));
        }
        let plateau = growth <= allowance;
        if !plateau {
            failures.push(format!(
                "memory did not plateau: +{growth:.2} MiB after the 25% mark (allowed {allowance:.2})"
            ));
        }

        let ok = failures.is_empty();
        let name = &self.plan.name;
        println!("-- {name}: summary --");
        println!(
            "clients          {clients} ({} delivery)",
            self.plan.delivery.name()
        );
        println!(
            "events           {events} ({}; {lost} lost, {duplicated} duplicated, {corrupt} corrupt)",
            match contiguous {
                true => "ids contiguous from 1 for every client",
                false => "ids NOT contiguous",
            }
        );
        println!(
            "reconnects       {reconnects} (per client {min_rec}..{max_rec}; {drops} drops \
             reported, {unexpected} unexpected errors; server accepted {} connections)",
            self.accepted
        );
        println!(
            "library stats    {} attempts, {} opened, {} events, {:.1} MiB received",
            lib(&|s| s.connection_attempts),
            lib(&|s| s.connections_opened),
            lib(&|s| s.events),
            lib(&|s| s.bytes_received) as f64 / (1024.0 * 1024.0)
        );
        println!("duration         {duration:.2} s");
        println!("events/s         {:.0}", events as f64 / duration.max(1e-9));
        println!(
            "CPU s            {:.2} user+sys for the whole process (server and harness \
             included), {:.2} in the client worker threads (callbacks included)",
            self.end.cpu_ticks.saturating_sub(self.start.cpu_ticks) as f64 / 100.0,
            self.worker_cpu as f64 / 100.0
        );
        println!(
            "RSS MiB          start {:.2} | after warm-up ({:.1} s) {:.2} | end {:.2} | peak \
             {:.2} (VmHWM {:.2}) | after close {:.2}",
            self.start.rss_mib(),
            warm.t - self.run_start,
            warm.rss_mib(),
            self.end.rss_mib(),
            peak_rss,
            hwm,
            self.after.rss_mib()
        );
        println!(
            "fds              start {} | peak {} | end {} (after close)",
            self.start.fds, peak_fds, self.after.fds
        );
        println!(
            "threads          start {} | peak {} | end {} (after close)",
            self.start.threads, peak_threads, self.after.threads
        );
        println!(
            "close            {:.1} ms for all clients",
            self.close_time.as_secs_f64() * 1e3
        );
        println!(
            "plateau          {:+.2} MiB from the 25% mark to the end (allowed {allowance:.2}), \
             slope {slope:+.3} MiB/min over {} samples: {}",
            growth,
            after_mark.len(),
            if plateau { "PASS" } else { "FAIL" }
        );
        if after_mark.len() < 8 {
            println!("                 (few samples: a longer run says more)");
        }
        for failure in &failures {
            println!("FAILURE          {failure}");
        }
        println!("verdict          {}", if ok { "PASS" } else { "FAIL" });
        ok
    }
}

/// Least-squares slope of RSS over time, MiB per minute.
fn slope_mib_per_min(samples: &[Sample]) -> f64 {
    let n = samples.len() as f64;
    if samples.len() < 2 {
        return 0.0;
    }
    let mean_t = samples.iter().map(|s| s.t).sum::<f64>() / n;
    let mean_r = samples.iter().map(Sample::rss_mib).sum::<f64>() / n;
    let (mut num, mut den) = (0.0, 0.0);
    for s in samples {
        num += (s.t - mean_t) * (s.rss_mib() - mean_r);
        den += (s.t - mean_t).powi(2);
    }
    match den > 0.0 {
        true => num / den * 60.0,
        false => 0.0,
    }
}

fn single_plan(options: &Options) -> Plan {
    let reconnects = options.reconnects.unwrap_or(2_000);
    let drop_every = (options.events / (reconnects + 1)).max(1);
    let seconds = options.seconds.unwrap_or(0.0);
    Plan {
        name: format!(
            "single: 1 client, {} events, {} reconnects",
            options.events, reconnects
        ),
        clients: 1,
        delivery: options.delivery.unwrap_or(Delivery::Callback),
        server: ServerSettings {
            drop_every,
            interval: Duration::from_secs_f64(seconds / options.events as f64),
        },
        until: Until::Counts {
            events: options.events,
            reconnects,
        },
    }
}

fn many_plan(options: &Options) -> Plan {
    let reconnects = options.reconnects.unwrap_or(10);
    let seconds = options.seconds.unwrap_or(30.0).max(0.1);
    let per_client = (options.rate as f64 * seconds) as u64;
    Plan {
        name: format!(
            "many: {} clients, {seconds} s at {} events/s each, ~{reconnects} reconnects each",
            options.clients, options.rate
        ),
        clients: options.clients,
        delivery: options.delivery.unwrap_or(Delivery::Mixed),
        server: ServerSettings {
            drop_every: (per_client / (reconnects + 1)).max(1),
            interval: Duration::from_secs_f64(1.0 / options.rate as f64),
        },
        until: Until::Elapsed(Duration::from_secs_f64(seconds)),
    }
}

/// The soft limit on open files, from /proc/self/limits ("unlimited" or a number).
fn fd_limit() -> String {
    fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            limits
                .lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3).map(str::to_string))
        })
        .unwrap_or_else(|| "?".to_string())
}

fn main() -> ExitCode {
    let options = match parse_args(env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("soak: {message}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(if message.is_empty() { 0 } else { 2 });
        }
    };
    let memory = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .unwrap_or(0);
    println!(
        "sse_client {} soak: {} CPUs, {:.1} GiB memory, fd limit {}",
        sse_client::VERSION,
        thread::available_parallelism().map_or(0, |n| n.get()),
        memory as f64 / (1024.0 * 1024.0),
        fd_limit()
    );
    let mut ok = true;
    for round in 1..=options.repeat {
        if options.repeat > 1 {
            println!();
            println!("#### round {round} of {}", options.repeat);
        }
        if matches!(options.mode, Mode::Single | Mode::All) {
            ok &= run(&single_plan(&options), &options);
        }
        if matches!(options.mode, Mode::Many | Mode::All) {
            ok &= run(&many_plan(&options), &options);
        }
    }
    println!();
    println!("soak: {}", if ok { "PASS" } else { "FAIL" });
    match ok {
        true => ExitCode::SUCCESS,
        false => ExitCode::FAILURE,
    }
}
