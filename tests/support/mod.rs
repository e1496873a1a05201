//! Test support for the integration tests: a scripted loopback HTTP server that records
//! every request, and a recording [`Handler`] whose output the tests read with timeouts.
//!
//! Every wait here is bounded, so a misbehaving client fails a test instead of hanging it.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{ErrorKind as IoErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use sse_client::{
    Client, ClientError, Config, ErrorKind, Event, Handler, Message, ReadyState, Text,
};

/// The default bound of every "wait for something that should happen" in the tests.
pub const TIMEOUT: Duration = Duration::from_secs(5);

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

// ---------------------------------------------------------------------------------------
// Scripts
// ---------------------------------------------------------------------------------------

/// One thing the server does on a connection, after it has read the request.
#[derive(Clone, Debug)]
pub enum Step {
    /// Writes these bytes in one write.
    Send(Vec<u8>),
    /// Writes these bytes one byte per write, sleeping `gap` between writes.
    Trickle(Vec<u8>, Duration),
    /// Writes `bytes` `times` times, sleeping `every` before each write; stops early when
    /// the client goes away or the server shuts down.
    Repeat {
        bytes: Vec<u8>,
        every: Duration,
        times: usize,
    },
    Sleep(Duration),
    /// Resets the connection (SO_LINGER 0, then close: the client sees an RST).
    CloseAbruptly,
    /// An orderly close (FIN).
    Close,
    /// Keeps the connection open, silent, until the server is dropped or the client leaves.
    HoldOpen,
    /// Ends this response and serves the next request on the same connection (HTTP
    /// keep-alive); it is recorded as a new [`Connection`] entry with `reused` set.
    KeepAlive,
}

/// What the server does with one connection. A script that ends without `HoldOpen` or
/// `CloseAbruptly` closes the connection in an orderly way.
#[derive(Clone, Debug, Default)]
pub struct Script(pub Vec<Step>);

impl Script {
    pub fn new() -> Script {
        Script(Vec::new())
    }
    pub fn send(mut self, bytes: impl AsRef<[u8]>) -> Script {
        self.0.push(Step::Send(bytes.as_ref().to_vec()));
        self
    }
    pub fn trickle(mut self, bytes: impl AsRef<[u8]>, gap: Duration) -> Script {
        self.0.push(Step::Trickle(bytes.as_ref().to_vec(), gap));
        self
    }
    pub fn repeat(mut self, bytes: impl AsRef<[u8]>, every: Duration, times: usize) -> Script {
        self.0.push(Step::Repeat {
            bytes: bytes.as_ref().to_vec(),
            every,
            times,
        });
        self
    }
    pub fn sleep(mut self, duration: Duration) -> Script {
        self.0.push(Step::Sleep(duration));
        self
    }
    pub fn close(mut self) -> Script {
        self.0.push(Step::Close);
        self
    }
    pub fn close_abruptly(mut self) -> Script {
        self.0.push(Step::CloseAbruptly);
        self
    }
    pub fn hold_open(mut self) -> Script {
        self.0.push(Step::HoldOpen);
        self
    }
    pub fn keep_alive(mut self) -> Script {
        self.0.push(Step::KeepAlive);
        self
    }

    /// A 200 event-stream response head with a close-delimited body, followed by `body`,
    /// then an orderly close.
    pub fn stream(body: impl AsRef<[u8]>) -> Script {
        Script::new().send(ok_stream()).send(body).close()
    }
    /// A 200 event-stream response head, `body`, then the connection held open.
    pub fn stream_then_hold(body: impl AsRef<[u8]>) -> Script {
        Script::new().send(ok_stream()).send(body).hold_open()
    }
    /// A complete non-streaming response with this status and headers.
    pub fn status(code: u16, extra_headers: &[(&str, &str)]) -> Script {
        Script::new().send(status(code, extra_headers)).close()
    }
    /// Accepts the connection, reads the request, never answers.
    pub fn silent() -> Script {
        Script::new().hold_open()
    }
}

/// "HTTP/1.1 200 OK" with `Content-Type: text/event-stream` and a close-delimited body (no
/// Content-Length, no chunking), so the client sees the body bytes exactly as written.
pub fn ok_stream() -> String {
    stream_head("text/event-stream")
}

/// A 200 response head with this Content-Type and a close-delimited body.
pub fn stream_head(content_type: &str) -> String {
    format!("HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nConnection: close\r\n\r\n")
}

/// A 200 event-stream response head with a chunked body; send chunks with [`chunk`].
pub fn ok_stream_chunked() -> String {
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        .to_owned()
}

/// One chunk of a chunked body; `chunk("")` is the last chunk.
pub fn chunk(data: impl AsRef<[u8]>) -> Vec<u8> {
    let data = data.as_ref();
    // The last chunk, "0\r\n", is followed by the empty trailer line: the same shape.
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

/// A complete response with this status, `Content-Length: 0`, `Connection: close` and the
/// extra headers.
pub fn status(code: u16, extra_headers: &[(&str, &str)]) -> String {
    let mut head = status_keep_alive(code, extra_headers);
    head.truncate(head.len() - 2);
    head.push_str("Connection: close\r\n\r\n");
    head
}

/// Like [`status`] without `Connection: close`: the client may reuse the connection.
pub fn status_keep_alive(code: u16, extra_headers: &[(&str, &str)]) -> String {
    let mut head = format!("HTTP/1.1 {code} {}\r\n", reason(code));
    for (name, value) in extra_headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if code != 204 && code != 304 {
        head.push_str("Content-Length: 0\r\n");
    }
    head.push_str("\r\n");
    head
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

// ---------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------

/// A request as the server received it.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// The request target as sent (path and query).
    pub path: String,
    /// Lowercase names; a header sent twice keeps both values, joined with ", ".
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// One accepted connection, or one later request on a kept-alive connection.
#[derive(Clone, Debug)]
pub struct Connection {
    pub accepted_at: Instant,
    /// None when the client sent no complete request.
    pub request: Option<Request>,
    /// When the server finished its script (closed or reset the connection, or went on
    /// to the next request of a kept-alive connection).
    pub ended_at: Option<Instant>,
    /// The request came on a connection kept alive after an earlier response.
    pub reused: bool,
}

type Router = dyn Fn(&Request, usize) -> Script + Send + Sync;

struct ServerState {
    connections: Mutex<Vec<Connection>>,
    changed: Condvar,
    shutdown: AtomicBool,
    router: Box<Router>,
    handlers: Mutex<Vec<JoinHandle<()>>>,
}

/// A loopback HTTP/1.1 server that answers each connection with a script. It stops, and
/// closes every connection, when dropped.
pub struct Server {
    port: u16,
    state: Arc<ServerState>,
    acceptor: Option<JoinHandle<()>>,
}

impl Server {
    /// Connection n (0-based) gets `scripts[n]`; the last script repeats.
    pub fn scripted(scripts: Vec<Script>) -> Server {
        assert!(!scripts.is_empty(), "at least one script");
        Server::routed(move |_, n| scripts[n.min(scripts.len() - 1)].clone())
    }

    /// Every connection gets the same script.
    pub fn always(script: Script) -> Server {
        Server::routed(move |_, _| script.clone())
    }

    /// `router(request, n)` picks the script of connection n (0-based) from its request.
    pub fn routed(router: impl Fn(&Request, usize) -> Script + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(ServerState {
            connections: Mutex::new(Vec::new()),
            changed: Condvar::new(),
            shutdown: AtomicBool::new(false),
            router: Box::new(router),
            handlers: Mutex::new(Vec::new()),
        });
        let acceptor = {
            let state = state.clone();
            thread::Builder::new()
                .name("test-server".into())
                .spawn(move || accept_loop(listener, state))
                .unwrap()
        };
        Server {
            port,
            state,
            acceptor: Some(acceptor),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT` + path.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    pub fn connections(&self) -> Vec<Connection> {
        lock(&self.state.connections).clone()
    }

    pub fn connection_count(&self) -> usize {
        lock(&self.state.connections).len()
    }

    /// The requests received so far, in connection order.
    pub fn requests(&self) -> Vec<Request> {
        lock(&self.state.connections)
            .iter()
            .filter_map(|c| c.request.clone())
            .collect()
    }

    /// Waits until at least `n` complete requests have arrived; panics after `timeout`.
    pub fn wait_for_requests(&self, n: usize, timeout: Duration) -> Vec<Request> {
        self.wait_for(timeout, |conns| {
            conns.iter().filter(|c| c.request.is_some()).count() >= n
        })
        .unwrap_or_else(|conns| {
            panic!(
                "expected {n} requests within {timeout:?}, got {}: {conns:#?}",
                conns.len()
            )
        });
        self.requests()
    }

    /// Waits until `done(connections)` holds; Err(connections) after `timeout`.
    pub fn wait_for(
        &self,
        timeout: Duration,
        mut done: impl FnMut(&[Connection]) -> bool,
    ) -> Result<(), Vec<Connection>> {
        let deadline = Instant::now() + timeout;
        let mut conns = lock(&self.state.connections);
        loop {
            if done(&conns) {
                return Ok(());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(conns.clone());
            }
            conns = self
                .state
                .changed
                .wait_timeout(conns, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.state.shutdown.store(true, Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        let handlers = std::mem::take(&mut *lock(&self.state.handlers));
        for handler in handlers {
            let _ = handler.join();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn accept_loop(listener: TcpListener, state: Arc<ServerState>) {
    while !state.shutdown.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let index = {
                    let mut conns = lock(&state.connections);
                    conns.push(Connection {
                        accepted_at: Instant::now(),
                        request: None,
                        ended_at: None,
                        reused: false,
                    });
                    state.changed.notify_all();
                    conns.len() - 1
                };
                let conn_state = state.clone();
                let handler = thread::Builder::new()
                    .name(format!("test-conn-{index}"))
                    .spawn(move || serve(stream, index, conn_state))
                    .unwrap();
                lock(&state.handlers).push(handler);
            }
            Err(e) if e.kind() == IoErrorKind::WouldBlock => thread::sleep(ms(2)),
            Err(e) if e.kind() == IoErrorKind::Interrupted => {}
            Err(e) => panic!("test server accept failed: {e}"),
        }
    }
}

fn serve(mut stream: TcpStream, first_index: usize, state: Arc<ServerState>) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let _ = stream.set_read_timeout(Some(ms(20)));
    let mut index = Some(first_index);
    loop {
        let request = read_request(&mut stream, &state.shutdown);
        let this = {
            let mut conns = lock(&state.connections);
            let this = match (index, &request) {
                (Some(i), _) => i,
                // A later request on a kept-alive connection: a new entry.
                (None, Some(_)) => {
                    conns.push(Connection {
                        accepted_at: Instant::now(),
                        request: None,
                        ended_at: None,
                        reused: true,
                    });
                    conns.len() - 1
                }
                (None, None) => return,
            };
            conns[this].request = request.clone();
            state.changed.notify_all();
            this
        };
        let Some(request) = request else {
            finish(&state, this);
            return;
        };
        let script = (state.router)(&request, this);
        match run_script(&mut stream, script, &state) {
            Ending::KeepAlive => {
                finish(&state, this);
                index = None;
            }
            Ending::Reset => {
                drop(stream);
                finish(&state, this);
                return;
            }
            Ending::Close => {
                let _ = stream.shutdown(Shutdown::Write);
                // Let the client see the FIN before the socket goes; unread input would
                // turn the close into a reset.
                let _ = stream.set_read_timeout(Some(ms(10)));
                let mut sink = [0u8; 1024];
                let _ = stream.read(&mut sink);
                drop(stream);
                finish(&state, this);
                return;
            }
        }
    }
}

enum Ending {
    Close,
    Reset,
    KeepAlive,
}

fn run_script(stream: &mut TcpStream, script: Script, state: &ServerState) -> Ending {
    for step in script.0 {
        if state.shutdown.load(Ordering::SeqCst) {
            return Ending::Close;
        }
        match step {
            Step::Send(bytes) => {
                if stream
                    .write_all(&bytes)
                    .and_then(|_| stream.flush())
                    .is_err()
                {
                    return Ending::Close;
                }
            }
            Step::Trickle(bytes, gap) => {
                for byte in bytes {
                    if stream.write_all(&[byte]).is_err() || !pause(&state.shutdown, gap) {
                        return Ending::Close;
                    }
                }
            }
            Step::Repeat {
                bytes,
                every,
                times,
            } => {
                for _ in 0..times {
                    if !pause(&state.shutdown, every) || stream.write_all(&bytes).is_err() {
                        return Ending::Close;
                    }
                }
            }
            Step::Sleep(duration) => {
                if !pause(&state.shutdown, duration) {
                    return Ending::Close;
                }
            }
            Step::CloseAbruptly => {
                reset_on_close(stream);
                return Ending::Reset;
            }
            Step::Close => return Ending::Close,
            Step::HoldOpen => {
                hold_open(stream, &state.shutdown);
                return Ending::Close;
            }
            Step::KeepAlive => return Ending::KeepAlive,
        }
    }
    Ending::Close
}

fn finish(state: &ServerState, index: usize) {
    let mut conns = lock(&state.connections);
    conns[index].ended_at = Some(Instant::now());
    state.changed.notify_all();
}

/// Sleeps `duration` unless the server shuts down first (then false).
fn pause(shutdown: &AtomicBool, duration: Duration) -> bool {
    let deadline = Instant::now() + duration;
    loop {
        if shutdown.load(Ordering::SeqCst) {
            return false;
        }
        let now = Instant::now();
        if now >= deadline {
            return true;
        }
        thread::sleep((deadline - now).min(ms(10)));
    }
}

/// Keeps the connection until the server shuts down or the client closes its end.
fn hold_open(stream: &mut TcpStream, shutdown: &AtomicBool) {
    let _ = stream.set_read_timeout(Some(ms(10)));
    let mut buf = [0u8; 1024];
    while !shutdown.load(Ordering::SeqCst) {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), IoErrorKind::WouldBlock | IoErrorKind::TimedOut) => {}
            Err(e) if e.kind() == IoErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// Sets SO_LINGER 0, so that closing the socket sends the peer an RST instead of a FIN.
pub fn reset_on_close(stream: &TcpStream) {
    socket2::SockRef::from(stream)
        .set_linger(Some(Duration::ZERO))
        .expect("SO_LINGER 0");
}

/// Reads one request (head, then a Content-Length or chunked body). None when the client
/// left first or the server shuts down.
fn read_request(stream: &mut TcpStream, shutdown: &AtomicBool) -> Option<Request> {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(pos) = find(&buf, b"\r\n\r\n") {
            break pos + 4;
        }
        if !read_more(stream, &mut buf, shutdown) {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next()?;
    let mut parts = request_line.split(' ');
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut headers: HashMap<String, String> = HashMap::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':')?;
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim().to_owned();
        headers
            .entry(name)
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    let mut rest = buf[head_end..].to_vec();
    let body = if let Some(length) = headers.get("content-length") {
        let length: usize = length.parse().ok()?;
        while rest.len() < length {
            if !read_more(stream, &mut rest, shutdown) {
                return None;
            }
        }
        rest.truncate(length);
        rest
    } else if headers
        .get("transfer-encoding")
        .is_some_and(|t| t.to_ascii_lowercase().contains("chunked"))
    {
        read_chunked(stream, rest, shutdown)?
    } else {
        Vec::new()
    };
    Some(Request {
        method,
        path,
        headers,
        body,
    })
}

fn read_chunked(
    stream: &mut TcpStream,
    mut buf: Vec<u8>,
    shutdown: &AtomicBool,
) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = loop {
            if let Some(pos) = find(&buf, b"\r\n") {
                break pos;
            }
            if !read_more(stream, &mut buf, shutdown) {
                return None;
            }
        };
        let size_text = String::from_utf8_lossy(&buf[..line_end]).into_owned();
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        buf.drain(..line_end + 2);
        if size == 0 {
            // Trailers end with an empty line.
            while find(&buf, b"\r\n").is_none() {
                if !read_more(stream, &mut buf, shutdown) {
                    return Some(body);
                }
            }
            return Some(body);
        }
        while buf.len() < size + 2 {
            if !read_more(stream, &mut buf, shutdown) {
                return None;
            }
        }
        body.extend_from_slice(&buf[..size]);
        buf.drain(..size + 2);
    }
}

fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>, shutdown: &AtomicBool) -> bool {
    let mut chunk = [0u8; 4096];
    loop {
        if shutdown.load(Ordering::SeqCst) {
            return false;
        }
        match stream.read(&mut chunk) {
            Ok(0) => return false,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return true;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    IoErrorKind::WouldBlock | IoErrorKind::TimedOut | IoErrorKind::Interrupted
                ) => {}
            Err(_) => return false,
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A loopback port with nothing listening on it (connections are refused).
pub fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

// ---------------------------------------------------------------------------------------
// The recording handler
// ---------------------------------------------------------------------------------------

/// An event as delivered, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ev {
    pub event_type: String,
    pub data: String,
    pub id: String,
}

impl Ev {
    pub fn new(event_type: &str, data: &str, id: &str) -> Ev {
        Ev {
            event_type: event_type.to_owned(),
            data: data.to_owned(),
            id: id.to_owned(),
        }
    }

    /// A "message" event with this data and last event ID.
    pub fn message(data: &str, id: &str) -> Ev {
        Ev::new("message", data, id)
    }

    fn from_event(event: &Event<'_>) -> Ev {
        Ev::new(
            event.event_type.as_str(),
            event.data.as_str(),
            event.id.as_str(),
        )
    }
}

/// One callback (or one poll-mode message), owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    Open(u16),
    Event(Ev),
    Comment(String),
    Error(ClientError),
    State(ReadyState),
}

impl Record {
    pub fn from_message(message: Message) -> Record {
        match message {
            Message::Open { http_status } => Record::Open(http_status),
            Message::Event(event) => Record::Event(Ev::from_event(&event.as_event())),
            ref comment @ Message::Comment(_) => {
                Record::Comment(comment.comment_text().unwrap().as_str().to_owned())
            }
            Message::Error(error) => Record::Error(*error),
            Message::State(state) => Record::State(state),
        }
    }

    pub fn is_event(&self) -> bool {
        matches!(self, Record::Event(_))
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Record::Error(_))
    }

    pub fn as_error(&self) -> Option<&ClientError> {
        match self {
            Record::Error(e) => Some(e),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Stamped {
    pub at: Instant,
    pub record: Record,
}

#[derive(Default)]
struct LogInner {
    records: Mutex<Vec<Stamped>>,
    changed: Condvar,
}

impl LogInner {
    fn push(&self, record: Record) {
        let mut records = lock(&self.records);
        records.push(Stamped {
            at: Instant::now(),
            record,
        });
        self.changed.notify_all();
    }
}

type Hook = Box<dyn FnMut(&Record) + Send>;

/// A [`Handler`] that records every callback into a shared [`Log`], and optionally runs a
/// hook after each one (on the worker thread).
pub struct Recorder {
    log: Arc<LogInner>,
    hook: Option<Hook>,
}

impl Recorder {
    fn record(&mut self, record: Record) {
        self.log.push(record.clone());
        if let Some(hook) = &mut self.hook {
            hook(&record);
        }
    }

    /// Runs `hook` after each recorded callback.
    pub fn with_hook(mut self, hook: impl FnMut(&Record) + Send + 'static) -> Recorder {
        self.hook = Some(Box::new(hook));
        self
    }
}

impl Handler for Recorder {
    fn on_open(&mut self, http_status: u16) {
        self.record(Record::Open(http_status));
    }
    fn on_event(&mut self, event: &Event<'_>) {
        self.record(Record::Event(Ev::from_event(event)));
    }
    fn on_comment(&mut self, text: Text<'_>) {
        self.record(Record::Comment(text.as_str().to_owned()));
    }
    fn on_error(&mut self, error: &ClientError) {
        self.record(Record::Error(error.clone()));
    }
    fn on_state(&mut self, state: ReadyState) {
        self.record(Record::State(state));
    }
}

/// The test's view of what a [`Recorder`] saw: read in order with a cursor, or as a whole.
pub struct Log {
    inner: Arc<LogInner>,
    cursor: usize,
}

impl Log {
    pub fn new() -> (Log, Recorder) {
        let inner = Arc::new(LogInner::default());
        (
            Log {
                inner: inner.clone(),
                cursor: 0,
            },
            Recorder {
                log: inner,
                hook: None,
            },
        )
    }

    /// Everything recorded so far.
    pub fn all(&self) -> Vec<Record> {
        lock(&self.inner.records)
            .iter()
            .map(|s| s.record.clone())
            .collect()
    }

    pub fn stamped(&self) -> Vec<Stamped> {
        lock(&self.inner.records).clone()
    }

    pub fn len(&self) -> usize {
        lock(&self.inner.records).len()
    }

    /// The next record after the cursor, waiting up to `timeout`.
    pub fn try_next(&mut self, timeout: Duration) -> Option<Record> {
        let deadline = Instant::now() + timeout;
        let mut records = lock(&self.inner.records);
        loop {
            if let Some(stamped) = records.get(self.cursor) {
                self.cursor += 1;
                return Some(stamped.record.clone());
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            records = self
                .inner
                .changed
                .wait_timeout(records, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// The next record; panics (showing the whole log) when none comes within [`TIMEOUT`].
    pub fn next(&mut self) -> Record {
        match self.try_next(TIMEOUT) {
            Some(record) => record,
            None => panic!(
                "no callback within {TIMEOUT:?} after #{}; log: {:#?}",
                self.cursor,
                self.all()
            ),
        }
    }

    /// The next record must be `expected`.
    pub fn expect(&mut self, expected: Record) {
        let got = self.next();
        assert_eq!(
            got,
            expected,
            "record #{} differs; log: {:#?}",
            self.cursor - 1,
            self.all()
        );
    }

    /// The next record must be an event equal to `expected`.
    pub fn expect_event(&mut self, expected: Ev) {
        self.expect(Record::Event(expected));
    }

    /// The next records must be on_open(200) then on_state(Open).
    pub fn expect_opened(&mut self) {
        self.expect(Record::Open(200));
        self.expect(Record::State(ReadyState::Open));
    }

    /// The next record must be an error; returns it.
    pub fn expect_error(&mut self) -> ClientError {
        match self.next() {
            Record::Error(error) => error,
            other => panic!(
                "expected an error at #{}, got {other:?}; log: {:#?}",
                self.cursor - 1,
                self.all()
            ),
        }
    }

    /// The next record must be an error of this kind and retry flag; returns it.
    pub fn expect_error_of(&mut self, kind: ErrorKind, will_retry: bool) -> ClientError {
        let error = self.expect_error();
        assert_eq!(
            (error.kind, error.will_retry),
            (kind, will_retry),
            "unexpected error {error:?}; log: {:#?}",
            self.all()
        );
        error
    }

    /// A lost stream and its reconnect: an error of `kind` that will be retried,
    /// CONNECTING, then the new stream's open and OPEN. Returns the error.
    pub fn expect_reconnect_after(&mut self, kind: ErrorKind) -> ClientError {
        let error = self.expect_error_of(kind, true);
        self.expect(Record::State(ReadyState::Connecting));
        self.expect_opened();
        error
    }

    /// Skips records until one satisfies `wanted`; returns it. Panics after [`TIMEOUT`].
    pub fn skip_until(&mut self, mut wanted: impl FnMut(&Record) -> bool) -> Record {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.try_next(left) {
                Some(record) if wanted(&record) => return record,
                Some(_) => {}
                None => panic!(
                    "the awaited callback did not come within {TIMEOUT:?}; log: {:#?}",
                    self.all()
                ),
            }
        }
    }

    /// Asserts that nothing more is recorded within `quiet`.
    pub fn expect_silence(&mut self, quiet: Duration) {
        let before = self.len();
        thread::sleep(quiet);
        let after = self.all();
        assert_eq!(
            after.len(),
            before,
            "unexpected callbacks after #{before}: {:#?}",
            &after[before..]
        );
    }

    /// Waits until `done(all records)` holds; panics after [`TIMEOUT`].
    pub fn wait_for(&self, mut done: impl FnMut(&[Stamped]) -> bool) {
        let deadline = Instant::now() + TIMEOUT;
        let mut records = lock(&self.inner.records);
        loop {
            if done(&records) {
                return;
            }
            let now = Instant::now();
            if now >= deadline {
                let all: Vec<_> = records.iter().map(|s| &s.record).collect();
                panic!("condition not met within {TIMEOUT:?}; log: {all:#?}");
            }
            records = self
                .inner
                .changed
                .wait_timeout(records, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// A configuration for `url` with short reconnect delays (10 ms, doubling up to 100 ms)
/// and a 5 s connect timeout.
pub fn fast_config(url: &str) -> Config {
    let mut config = Config::new(url).expect("valid URL");
    config.set_reconnect_delay(ms(10), ms(100)).unwrap();
    config.set_connect_timeout(Some(Duration::from_secs(5)));
    config
}

/// Polls `cond` every few milliseconds until it holds (true) or `timeout` passes (false).
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(ms(5));
    }
}

/// Runs `f` on a helper thread and returns its result with how long it took; panics if it
/// does not finish within `timeout` (a deadlock then fails the test instead of hanging it).
pub fn within<T: Send + 'static>(
    timeout: Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> (T, Duration) {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let start = Instant::now();
    thread::spawn(move || {
        let out = f();
        let _ = tx.send(out);
    });
    match rx.recv_timeout(timeout) {
        Ok(out) => (out, start.elapsed()),
        Err(_) => panic!("{what} did not finish within {timeout:?} (deadlock?)"),
    }
}

/// Whether a client's wakeup handle is readable within `timeout` (zero: right now), as a
/// host's event loop sees it: poll(2) on POSIX, WSAPoll on Windows.
pub fn handle_readable(handle: isize, timeout: Duration) -> bool {
    let timeout_ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    readiness::readable_within(handle, timeout_ms)
}

#[cfg(unix)]
mod readiness {
    pub fn readable_within(handle: isize, timeout_ms: i32) -> bool {
        let mut pfd = libc::pollfd {
            fd: handle as libc::c_int,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        n == 1 && pfd.revents & libc::POLLIN != 0
    }
}

#[cfg(windows)]
mod readiness {
    /// WSAPOLLFD of winsock2.h.
    #[repr(C)]
    struct PollFd {
        fd: usize,
        events: i16,
        revents: i16,
    }
    const POLLRDNORM: i16 = 0x0100;

    #[link(name = "ws2_32")]
    extern "system" {
        fn WSAPoll(fds: *mut PollFd, count: u32, timeout_ms: i32) -> i32;
    }

    pub fn readable_within(handle: isize, timeout_ms: i32) -> bool {
        let mut pfd = PollFd {
            fd: handle as usize,
            events: POLLRDNORM,
            revents: 0,
        };
        // SAFETY: one valid WSAPOLLFD.
        let n = unsafe { WSAPoll(&mut pfd, 1, timeout_ms) };
        n == 1 && pfd.revents & POLLRDNORM != 0
    }
}

/// The first `count` messages of a poll-mode client, taken only when its wakeup handle
/// says they were announced (a poll may take queued messages before that): fails when it
/// stays quiet for [`TIMEOUT`] while messages are due.
pub fn poll_announced(client: &Client, count: usize) -> Vec<Record> {
    let handle = client.wakeup_handle().expect("a poll-mode client");
    let mut polled = Vec::new();
    while polled.len() < count {
        assert!(
            handle_readable(handle, TIMEOUT),
            "not announced after {polled:?}"
        );
        while let Ok(message) = client.poll(Some(Duration::ZERO)) {
            polled.push(Record::from_message(message));
        }
    }
    polled
}

/// `data: <line>\n\n` for each line.
pub fn events(lines: &[&str]) -> String {
    lines.iter().map(|l| format!("data: {l}\n\n")).collect()
}
