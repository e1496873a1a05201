//! The consumers, each run as its own process (`firehose --consume KIND ...`), so that its
//! CPU time and peak RSS are its own. Each prints one `RESULT` line ([`Record`]).
//!
//! - `raw`: the reference. std `TcpStream`: connect, write the GET, read into a 64 KiB
//!   buffer and count blank-line event ends ("\n\n") with memchr; no parsing (in latency
//!   mode it also reads the timestamp after `data: `).
//! - `callback`: the C API in callback mode, through its `extern "C"` functions
//!   (`sse_client::ffi`): exactly what a C host runs.
//! - `poll`: the C API in poll mode: poll(2) on `sse_client_wakeup_fd`, then one
//!   `sse_client_poll_batch(client, 0, ..)` per wakeup, which takes every queued message.
//! - `rust`: the safe Rust API, `Client::open` with a `Handler` (for comparison; no target).
//!
//! Times: `first_s` runs from just before connecting/opening to the first event,
//! `span_s` from the first event to the last one (throughput is (events - 1) / span, so
//! connection setup is left to the time-to-first-event rows).

use std::ffi::{c_void, CString};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::ptr;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ::sse_client::ffi::*;
use memchr::{memchr_iter, memmem};

use crate::measure::{cpu_seconds, monotonic_ns, proc_status, raise_fd_limit, Record};

/// What a throughput or latency consumer is asked to do.
pub struct Job {
    pub url: String,
    pub events: u64,
    /// Events carry `data: <send time in ns>`: record receive - send for each.
    pub latency: bool,
    pub timeout: Duration,
}

/// The figures every throughput/latency consumer collects.
struct Tally {
    events: u64,
    data_bytes: u64,
    first: Option<Instant>,
    last: Option<Instant>,
    latencies_ns: Vec<u64>,
    errors: u64,
}

impl Tally {
    fn new(job: &Job) -> Tally {
        let latency_capacity = if job.latency { job.events as usize } else { 0 };
        Tally {
            events: 0,
            data_bytes: 0,
            first: None,
            last: None,
            latencies_ns: Vec::with_capacity(latency_capacity),
            errors: 0,
        }
    }

    /// Counts one event; true when it was the last one wanted. `now` is only called for
    /// the first and the last event: a clock read per event would be the harness's cost,
    /// not the client's (the raw reader reads the clock once per read).
    #[inline]
    fn event(
        &mut self,
        data: &[u8],
        job_events: u64,
        latency: bool,
        now: impl Fn() -> Instant,
    ) -> bool {
        if latency {
            self.latencies_ns
                .push(monotonic_ns().saturating_sub(parse_timestamp(data)));
        }
        self.events += 1;
        self.data_bytes += data.len() as u64;
        if self.events == 1 {
            self.first = Some(now());
        }
        if self.events == job_events {
            self.last = Some(now());
            return true;
        }
        false
    }

    fn record(mut self, start: Instant, cpu_start: f64, cpu_end: f64) -> Record {
        let mut record = Record::default();
        let first = self.first.map(|t| (t - start).as_secs_f64());
        let span = match (self.first, self.last) {
            (Some(first), Some(last)) => (last - first).as_secs_f64(),
            _ => f64::NAN,
        };
        record
            .set("events", self.events as f64)
            .set("data_bytes", self.data_bytes as f64)
            .set("first_s", first.unwrap_or(f64::NAN))
            .set("span_s", span)
            .set("cpu_s", cpu_end - cpu_start)
            .set("errors", self.errors as f64);
        if !self.latencies_ns.is_empty() {
            record.latencies(&mut self.latencies_ns);
        }
        record.set("hwm_kib", proc_status("VmHWM") as f64);
        record
    }
}

/// The decimal send timestamp of a latency event ("data: 123" delivers "123").
fn parse_timestamp(data: &[u8]) -> u64 {
    data.iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'))
}

/// "http://127.0.0.1:PORT/path?q" -> ("127.0.0.1:PORT", "/path?q").
fn split_url(url: &str) -> (&str, &str) {
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash..]),
        None => (rest, "/"),
    }
}

/// Connects, sends the GET and reads the response head; returns the stream and the body
/// bytes that came with the head.
fn raw_connect(url: &str) -> std::io::Result<(TcpStream, Vec<u8>)> {
    let (authority, path) = split_url(url);
    let mut stream = TcpStream::connect(authority)?;
    stream.set_nodelay(true)?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nAccept: text/event-stream\r\n\
         Cache-Control: no-cache\r\n\r\n"
    );
    stream.write_all(request.as_bytes())?;
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(end) = memmem::find(&head, b"\r\n\r\n") {
            if !head.starts_with(b"HTTP/1.1 200") {
                return Err(std::io::Error::other("the server did not answer 200"));
            }
            return Ok((stream, head.split_off(end + 4)));
        }
    }
}

/// The raw reference reader.
pub fn raw(job: &Job) -> Record {
    let cpu_start = cpu_seconds();
    let start = Instant::now();
    let mut tally = Tally::new(job);
    let (mut stream, leftover) = raw_connect(&job.url).expect("raw reader: connect");
    let _ = stream.set_read_timeout(Some(job.timeout));
    let mut buf = vec![0u8; 64 * 1024];
    let mut pending = leftover;
    let mut last_was_lf = false;
    // Latency mode: the bytes of the event being received.
    let mut event_text: Vec<u8> = Vec::new();
    'read: loop {
        let chunk: &[u8] = if pending.is_empty() {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => {
                    tally.errors += 1;
                    break;
                }
                Ok(n) => &buf[..n],
            }
        } else {
            &pending
        };
        let now = Instant::now();
        let mut event_start = 0;
        for lf in memchr_iter(b'\n', chunk) {
            let after_lf = if lf == 0 {
                last_was_lf
            } else {
                chunk[lf - 1] == b'\n'
            };
            if !after_lf {
                continue;
            }
            let data: &[u8] = if job.latency {
                event_text.extend_from_slice(&chunk[event_start..lf]);
                event_start = lf + 1;
                let at = memmem::find(&event_text, b"data: ").map_or(event_text.len(), |i| i + 6);
                &event_text[at..]
            } else {
                &[]
            };
            let done = tally.event(data, job.events, job.latency, || now);
            event_text.clear();
            if done {
                break 'read;
            }
        }
        if job.latency {
            event_text.extend_from_slice(&chunk[event_start..]);
        }
        last_was_lf = chunk.last() == Some(&b'\n');
        if !pending.is_empty() {
            pending.clear();
        }
    }
    let cpu_end = cpu_seconds();
    drop(stream);
    tally.record(start, cpu_start, cpu_end)
}

/// A configuration for `url`: no proxy from the environment (loopback), the rest default.
fn c_config(url: &str) -> *mut sse_config {
    let url = CString::new(url).expect("URL without NUL");
    let mut config = ptr::null_mut();
    // SAFETY: valid strings and out-pointers; the config is freed by the caller.
    unsafe {
        assert_eq!(
            sse_config_new(url.as_ptr(), &mut config),
            sse_result::SSE_OK
        );
        sse_config_set_proxy_from_env(config, std::mem::MaybeUninit::new(false));
    }
    config
}

/// Opens a client from `config` (freed here) with `callbacks` (NULL: poll mode).
fn c_open(config: *mut sse_config, callbacks: Option<&sse_callbacks>) -> *mut sse_client {
    let mut client = ptr::null_mut();
    let callbacks = callbacks.map_or(ptr::null(), |c| c as *const sse_callbacks);
    // SAFETY: a live config, a readable callbacks struct (or NULL), a writable out-pointer.
    unsafe {
        assert_eq!(
            sse_client_open(config, callbacks, &mut client),
            sse_result::SSE_OK
        );
        sse_config_free(config);
    }
    client
}

/// The userdata of the callback consumer: touched only by the worker thread until `done`
/// has been sent (the channel orders the main thread's reads after those writes).
struct CallbackState {
    tally: Tally,
    events: u64,
    latency: bool,
    done: mpsc::SyncSender<()>,
}

unsafe extern "C" fn on_event(userdata: *mut c_void, event: *const sse_event) {
    // SAFETY: userdata is the CallbackState the consumer owns until sse_client_free;
    // `event` is borrowed until we return.
    let (state, event) = unsafe { (&mut *userdata.cast::<CallbackState>(), &*event) };
    // SAFETY: `data` has `data_len` readable bytes until we return.
    let data = unsafe { std::slice::from_raw_parts(event.data.cast::<u8>(), event.data_len) };
    if state
        .tally
        .event(data, state.events, state.latency, Instant::now)
    {
        let _ = state.done.try_send(());
    }
}

unsafe extern "C" fn on_error(userdata: *mut c_void, error: *const sse_error) {
    // SAFETY: as in on_event.
    let (state, error) = unsafe { (&mut *userdata.cast::<CallbackState>(), &*error) };
    state.tally.errors += 1;
    // SAFETY: a NUL-terminated message, borrowed until we return.
    let message = unsafe { std::ffi::CStr::from_ptr(error.message) };
    eprintln!("callback consumer: error: {}", message.to_string_lossy());
    if !error.will_retry {
        let _ = state.done.try_send(());
    }
}

/// The C API in callback mode.
pub fn callback(job: &Job) -> Record {
    let (done_tx, done_rx) = mpsc::sync_channel(1);
    let mut state = Box::new(CallbackState {
        tally: Tally::new(job),
        events: job.events,
        latency: job.latency,
        done: done_tx,
    });
    let callbacks = sse_callbacks {
        userdata: (&mut *state as *mut CallbackState).cast(),
        on_open: None,
        on_event: Some(on_event),
        on_comment: None,
        on_error: Some(on_error),
        on_state: None,
    };
    let config = c_config(&job.url);
    let cpu_start = cpu_seconds();
    let start = Instant::now();
    let client = c_open(config, Some(&callbacks));
    let finished = done_rx.recv_timeout(job.timeout).is_ok();
    let cpu_end = cpu_seconds();
    // SAFETY: our client; after this no callback runs, so `state` is ours again.
    unsafe { sse_client_free(client) };
    if !finished {
        eprintln!("callback consumer: timed out after {:?}", job.timeout);
    }
    let CallbackState { tally, .. } = *state;
    tally.record(start, cpu_start, cpu_end)
}

/// The C API in poll mode.
pub fn poll(job: &Job) -> Record {
    let mut tally = Tally::new(job);
    let config = c_config(&job.url);
    let cpu_start = cpu_seconds();
    let start = Instant::now();
    let client = c_open(config, None);
    // SAFETY: a live poll-mode client.
    let fd = unsafe { sse_client_wakeup_fd(client) };
    assert!(fd >= 0, "poll mode has a wakeup fd");
    let deadline = start + job.timeout;
    'wait: while Instant::now() < deadline {
        let mut pollfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let ready = unsafe { libc::poll(&mut pollfd, 1, 1000) };
        if ready <= 0 {
            continue;
        }
        let now = Instant::now();
        let mut batch = ptr::null_mut();
        // SAFETY: a live client and a writable out-pointer.
        match unsafe { sse_client_poll_batch(client, 0, &mut batch) } {
            sse_result::SSE_OK => {}
            sse_result::SSE_ERROR_TIMEOUT => continue,
            other => {
                eprintln!("poll consumer: sse_client_poll_batch: {other:?}");
                tally.errors += 1;
                break 'wait;
            }
        }
        let mut done = false;
        // SAFETY: a live batch, freed below; its messages and views used before that.
        unsafe {
            for index in 0..sse_batch_len(batch) {
                let message = sse_batch_get(batch, index);
                match sse_message_kind_of(message) {
                    sse_message_kind::SSE_MESSAGE_EVENT => {
                        let event = &*sse_message_event(message);
                        let data =
                            std::slice::from_raw_parts(event.data.cast::<u8>(), event.data_len);
                        let at = if job.latency { Instant::now() } else { now };
                        done = tally.event(data, job.events, job.latency, || at);
                    }
                    sse_message_kind::SSE_MESSAGE_ERROR => {
                        tally.errors += 1;
                        let error = &*sse_message_error(message);
                        let text = std::ffi::CStr::from_ptr(error.message);
                        eprintln!("poll consumer: error: {}", text.to_string_lossy());
                    }
                    _ => {}
                }
                if done {
                    break;
                }
            }
            sse_batch_free(batch);
        }
        if done {
            break 'wait;
        }
    }
    let cpu_end = cpu_seconds();
    // SAFETY: our client, freed once.
    unsafe { sse_client_free(client) };
    tally.record(start, cpu_start, cpu_end)
}

/// The safe Rust API: `Client::open` with a `Handler`. The handler sends its tally back
/// when the last event arrives.
pub fn rust(job: &Job) -> Record {
    struct Counter {
        tally: Option<Tally>,
        events: u64,
        latency: bool,
        done: mpsc::SyncSender<Tally>,
    }
    impl ::sse_client::Handler for Counter {
        fn on_event(&mut self, event: &::sse_client::Event<'_>) {
            let Some(tally) = self.tally.as_mut() else {
                return;
            };
            let data = event.data.as_str().as_bytes();
            if tally.event(data, self.events, self.latency, Instant::now) {
                let _ = self.done.try_send(self.tally.take().expect("tally"));
            }
        }
        fn on_error(&mut self, error: &::sse_client::ClientError) {
            eprintln!("rust consumer: error: {}", error.message);
            if let Some(tally) = self.tally.as_mut() {
                tally.errors += 1;
            }
        }
    }
    let (done_tx, done_rx) = mpsc::sync_channel(1);
    let mut config = ::sse_client::Config::new(&job.url).expect("URL");
    config.set_proxy_from_env(false);
    let cpu_start = cpu_seconds();
    let start = Instant::now();
    let client = ::sse_client::Client::open(
        &config,
        Counter {
            tally: Some(Tally::new(job)),
            events: job.events,
            latency: job.latency,
            done: done_tx,
        },
    )
    .expect("open");
    let tally = done_rx.recv_timeout(job.timeout);
    let cpu_end = cpu_seconds();
    drop(client);
    match tally {
        Ok(tally) => tally.record(start, cpu_start, cpu_end),
        Err(_) => {
            eprintln!("rust consumer: timed out after {:?}", job.timeout);
            let mut record = Record::default();
            record.set("errors", 1.0).set("events", 0.0);
            record
        }
    }
}

// --- Idle streams ------------------------------------------------------------------------

/// Opens `streams` streams to an `/idle` URL in one process (raw sockets, or clients in
/// callback or poll mode), waits until all are open, and reports the process's memory.
pub fn idle(kind: &str, url: &str, streams: usize, timeout: Duration) -> Record {
    raise_fd_limit();
    let start = Instant::now();
    let mut record = Record::default();
    let rss_before = proc_status("VmRSS");
    let mut sockets = Vec::new();
    let mut clients = Vec::new();
    let callbacks = sse_callbacks {
        userdata: ptr::null_mut(),
        on_open: None,
        on_event: None,
        on_comment: None,
        on_error: None,
        on_state: None,
    };
    for _ in 0..streams {
        match kind {
            "raw" => sockets.push(raw_connect(url).expect("raw idle stream").0),
            "callback" => clients.push(c_open(c_config(url), Some(&callbacks))),
            "poll" => clients.push(c_open(c_config(url), None)),
            other => panic!("unknown idle consumer {other}"),
        }
    }
    let all_open = || {
        clients.iter().all(|&client| {
            // SAFETY: live clients.
            let state = unsafe { sse_client_ready_state(client) };
            state == sse_ready_state::SSE_STATE_OPEN
        })
    };
    while !all_open() {
        if start.elapsed() > timeout {
            record.set("errors", 1.0);
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let open_s = start.elapsed().as_secs_f64();
    // Let every worker settle into its read.
    std::thread::sleep(Duration::from_millis(500));
    record
        .set("streams", streams as f64)
        .set("open_s", open_s)
        .set("rss_before_kib", rss_before as f64)
        .set("rss_kib", proc_status("VmRSS") as f64)
        .set("hwm_kib", proc_status("VmHWM") as f64)
        .set("threads", proc_status("Threads") as f64)
        .set("cpu_s", cpu_seconds());
    let free_start = Instant::now();
    for client in clients {
        // SAFETY: each client freed once.
        unsafe { sse_client_free(client) };
    }
    drop(sockets);
    record.set("free_all_s", free_start.elapsed().as_secs_f64());
    record
}

// --- close() latency ----------------------------------------------------------------------

/// What a close-latency client signals from its callbacks.
#[derive(Debug)]
enum Signal {
    Opened,
    WillRetry,
}

unsafe extern "C" fn signal_open(userdata: *mut c_void, _status: u16) {
    // SAFETY: userdata is the consumer's SyncSender, alive until sse_client_free.
    let _ = unsafe { &*userdata.cast::<mpsc::SyncSender<Signal>>() }.try_send(Signal::Opened);
}

unsafe extern "C" fn signal_error(userdata: *mut c_void, error: *const sse_error) {
    // SAFETY: as in signal_open; `error` borrowed until we return.
    if unsafe { (*error).will_retry } {
        let _ =
            unsafe { &*userdata.cast::<mpsc::SyncSender<Signal>>() }.try_send(Signal::WillRetry);
    }
}

/// Measures `sse_client_close` (and the `sse_client_free` after it) `reps` times with the
/// worker in `state`: `connecting` (the server accepted and never answers), `open` (an
/// open stream, nothing arriving), `backoff` (waiting 60 s to reconnect after a 503),
/// `fullqueue` (poll mode, queue of 16 full, the server still sending).
pub fn close_latency(state: &str, base: &str, reps: usize) -> Record {
    let mut closes = Vec::new();
    let mut frees = Vec::new();
    let mut errors = 0;
    for _ in 0..reps {
        let (tx, rx) = mpsc::sync_channel::<Signal>(4);
        let tx = Box::new(tx);
        let callbacks = sse_callbacks {
            userdata: (&*tx as *const mpsc::SyncSender<Signal>).cast_mut().cast(),
            on_open: Some(signal_open),
            on_event: None,
            on_comment: None,
            on_error: Some(signal_error),
            on_state: None,
        };
        let wait = Duration::from_secs(10);
        let client = match state {
            "connecting" => {
                let client = c_open(c_config(&format!("{base}/noreply")), Some(&callbacks));
                // The request is sent at once; give the worker time to block on the answer.
                std::thread::sleep(Duration::from_millis(200));
                client
            }
            "open" => {
                let client = c_open(c_config(&format!("{base}/idle")), Some(&callbacks));
                if !matches!(rx.recv_timeout(wait), Ok(Signal::Opened)) {
                    errors += 1;
                }
                std::thread::sleep(Duration::from_millis(50));
                client
            }
            "backoff" => {
                let config = c_config(&format!("{base}/status503"));
                // SAFETY: a live config.
                unsafe { sse_config_set_reconnect_delay(config, 60_000, 60_000) };
                let client = c_open(config, Some(&callbacks));
                if !matches!(rx.recv_timeout(wait), Ok(Signal::WillRetry)) {
                    errors += 1;
                }
                std::thread::sleep(Duration::from_millis(50));
                client
            }
            "fullqueue" => {
                let config = c_config(&format!("{base}/endless?len=32"));
                // SAFETY: a live config.
                unsafe { sse_config_set_queue_capacity(config, 16) };
                let client = c_open(config, None);
                // SAFETY: a live poll-mode client.
                let fd = unsafe { sse_client_wakeup_fd(client) };
                let mut pollfd = libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd.
                if unsafe { libc::poll(&mut pollfd, 1, 10_000) } != 1 {
                    errors += 1;
                }
                // The worker fills the 16 slots at once and blocks on the 17th.
                std::thread::sleep(Duration::from_millis(200));
                client
            }
            other => panic!("unknown close state {other}"),
        };
        let t0 = Instant::now();
        // SAFETY: a live client.
        unsafe { sse_client_close(client) };
        let t1 = Instant::now();
        // SAFETY: our client, freed once; no callback runs after close returned.
        unsafe { sse_client_free(client) };
        let t2 = Instant::now();
        drop(tx);
        closes.push((t1 - t0).as_secs_f64() * 1e3);
        frees.push((t2 - t1).as_secs_f64() * 1e3);
    }
    let mut record = Record::default();
    let max = closes.iter().copied().fold(0.0, f64::max);
    record
        .set("reps", reps as f64)
        .set("close_p50_ms", crate::measure::median(&closes))
        .set("close_max_ms", max)
        .set("free_p50_ms", crate::measure::median(&frees))
        .set("errors", errors as f64);
    record
}

/// Not a client: what one more thread handoff costs on this machine, the floor under poll
/// mode's latency. Three threads chained by eventfds, as in poll mode (a timer thread
/// stands for the server, a relay for the worker, this thread for the host): every
/// `interval`, the first writes its send time and signals the relay, which signals this
/// thread. Reports the latency of the first hop (`hop1_p50_us`) and of both (`p50_us`...).
/// `yield_after`: the relay yields its CPU after signalling, as the client's worker does.
pub fn hops(events: u64, interval: Duration, yield_after: bool) -> Record {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    /// A semaphore eventfd: each read takes one signal, so two signals that land before
    /// a read are still two wakeups and the three loops stay in step.
    fn eventfd() -> i32 {
        // SAFETY: no pointers; the result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_SEMAPHORE) };
        assert!(fd >= 0, "eventfd");
        fd
    }
    fn signal(fd: i32) {
        let one = 1u64;
        // SAFETY: 8 bytes from a live u64 to our eventfd.
        unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
    }
    fn wait(fd: i32) {
        let mut value = 0u64;
        // SAFETY: 8 bytes into a live u64 from our (blocking) eventfd.
        unsafe { libc::read(fd, (&mut value as *mut u64).cast(), 8) };
    }

    let (first, second) = (eventfd(), eventfd());
    let sent = Arc::new(AtomicU64::new(0));
    let relayed = Arc::new(AtomicU64::new(0));
    let timer = {
        let sent = sent.clone();
        std::thread::spawn(move || {
            for _ in 0..events {
                std::thread::sleep(interval);
                sent.store(monotonic_ns(), Ordering::Release);
                signal(first);
            }
        })
    };
    let relay = {
        let relayed = relayed.clone();
        std::thread::spawn(move || {
            for _ in 0..events {
                wait(first);
                relayed.store(monotonic_ns(), Ordering::Release);
                signal(second);
                if yield_after {
                    std::thread::yield_now();
                }
            }
        })
    };
    let cpu_start = cpu_seconds();
    let mut both = Vec::with_capacity(events as usize);
    let mut hop1 = Vec::with_capacity(events as usize);
    for _ in 0..events {
        wait(second);
        let now = monotonic_ns();
        let sent_at = sent.load(Ordering::Acquire);
        both.push(now.saturating_sub(sent_at));
        hop1.push(relayed.load(Ordering::Acquire).saturating_sub(sent_at));
    }
    let cpu_end = cpu_seconds();
    let _ = (timer.join(), relay.join());
    // SAFETY: our descriptors, closed once.
    unsafe {
        libc::close(first);
        libc::close(second);
    }
    hop1.sort_unstable();
    let mut record = Record::default();
    record
        .set("events", events as f64)
        .set("errors", 0.0)
        .set("cpu_s", cpu_end - cpu_start)
        .set("hop1_p50_us", hop1[hop1.len() / 2] as f64 / 1e3);
    record.latencies(&mut both);
    record
}
