//! The plumbing every hand-written SSE server of the examples and benchmarks shares: a
//! thread per accepted connection (`examples/soak`, `examples/demo_server.rs`,
//! `examples/long_id.rs`, `benches/firehose/server.rs`), the request head read up to its
//! blank line, and the fixed response heads. What a connection is then sent is each
//! server's own business.
//!
//! Included with `#[path]` (examples and benchmarks are separate crates that cannot share a
//! module otherwise); each uses part of it, so the includer allows dead code.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// The head of a `200 OK` event stream. No length and no chunked framing: the body ends
/// when the server closes the connection, so a reader needs no HTTP parsing past the head.
pub const EVENT_STREAM_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\n\
    Content-Type: text/event-stream\r\n\
    Cache-Control: no-cache\r\n\
    Connection: close\r\n\r\n";

/// The largest request head read; a larger one is refused (a browser with many cookies
/// for localhost stays well below).
const MAX_REQUEST_HEAD: usize = 64 * 1024;

/// How the connection threads are made.
#[derive(Clone, Copy, Debug)]
pub struct Threads {
    /// Names `{name}-accept` and `{name}-conn`; also the prefix of the accept error message.
    pub name: &'static str,
    /// None: the platform's default (2 MiB). A small stack keeps a thousand connections
    /// cheap, and a stack is recycled whole where a heap buffer would leave resident pages.
    pub stack_size: Option<usize>,
}

/// What a connection's handler gets besides its stream.
pub struct Connection<'a> {
    /// 1 for the first accepted connection, and so on.
    pub number: u64,
    /// Set by [`LoopbackServer::shutdown`]: a long-running handler checks it and returns.
    pub stop: &'a AtomicBool,
}

/// A listener whose accept loop runs on a thread of its own and hands each connection to
/// `handle` on a new thread. The threads are kept and joined (on the next accept when they
/// have ended, all of them at [`LoopbackServer::shutdown`]): a thread never joined keeps its
/// stack, which a run that counts threads and memory would see.
pub struct LoopbackServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accepted: Arc<AtomicU64>,
}

impl LoopbackServer {
    /// Binds 127.0.0.1 on a free port and starts serving.
    pub fn bind_loopback<H>(threads: Threads, handle: H) -> io::Result<LoopbackServer>
    where
        H: Fn(TcpStream, Connection<'_>) + Send + Sync + 'static,
    {
        LoopbackServer::start(TcpListener::bind("127.0.0.1:0")?, threads, handle)
    }

    /// Serves on a listener the caller bound (another address, a deeper backlog).
    pub fn start<H>(listener: TcpListener, threads: Threads, handle: H) -> io::Result<Self>
    where
        H: Fn(TcpStream, Connection<'_>) + Send + Sync + 'static,
    {
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(Mutex::new(Vec::new()));
        let accepted = Arc::new(AtomicU64::new(0));
        let accept = {
            let (stop, connections, accepted) =
                (stop.clone(), connections.clone(), accepted.clone());
            thread::Builder::new()
                .name(format!("{}-accept", threads.name))
                .spawn(move || {
                    accept_loop(
                        listener,
                        threads,
                        Arc::new(handle),
                        stop,
                        connections,
                        accepted,
                    )
                })?
        };
        Ok(LoopbackServer {
            addr,
            stop,
            accept: Some(accept),
            connections,
            accepted,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Relaxed)
    }

    /// For a server that is the whole program: blocks until the process ends.
    pub fn serve_forever(mut self) -> ! {
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
        loop {
            thread::park();
        }
    }

    /// Stops accepting, tells every handler to stop and joins every thread.
    pub fn shutdown(mut self) {
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

fn accept_loop<H>(
    listener: TcpListener,
    threads: Threads,
    handle: Arc<H>,
    stop: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accepted: Arc<AtomicU64>,
) where
    H: Fn(TcpStream, Connection<'_>) + Send + Sync + 'static,
{
    for stream in listener.incoming() {
        if stop.load(Relaxed) {
            break;
        }
        let stream = match stream {
            Ok(stream) => stream,
            Err(error) => {
                // EMFILE and the like: say so, and back off a little rather than spin.
                eprintln!("{}: accept failed: {error}", threads.name);
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let number = accepted.fetch_add(1, Relaxed) + 1;
        let mut handles = connections.lock().unwrap();
        // Join the threads that have ended: an unjoined thread keeps its stack.
        let (done, running): (Vec<_>, Vec<_>) =
            handles.drain(..).partition(JoinHandle::is_finished);
        *handles = running;
        for done in done {
            let _ = done.join();
        }
        let (handle, stop) = (handle.clone(), stop.clone());
        let mut builder = thread::Builder::new().name(format!("{}-conn", threads.name));
        if let Some(size) = threads.stack_size {
            builder = builder.stack_size(size);
        }
        let spawned = builder.spawn(move || {
            handle(
                stream,
                Connection {
                    number,
                    stop: &stop,
                },
            )
        });
        match spawned {
            Ok(thread) => handles.push(thread),
            Err(error) => eprintln!(
                "{}: cannot start a thread for connection {number}: {error}",
                threads.name
            ),
        }
    }
}

/// A request head: its request line and the one header these servers look at.
#[derive(Debug)]
pub struct RequestHead {
    pub method: String,
    /// As sent: the path with its query string.
    pub target: String,
    /// Trimmed; None without the header.
    pub last_event_id: Option<String>,
}

impl RequestHead {
    /// The target without its query string.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    /// The target's query string, empty without one.
    pub fn query(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, query)| query)
    }
}

/// Reads the request head, up to its blank line (CRLF or bare LF line ends). `Ok(None)` when
/// the client closed before sending a byte. Bytes after the head (a body) are read with it
/// and dropped: the SSE requests these servers answer are GETs.
pub fn read_request_head(stream: &mut TcpStream) -> io::Result<Option<RequestHead>> {
    let mut head = Vec::new();
    let mut chunk = [0u8; 2048];
    let end = loop {
        if let Some(end) = head_end(&head) {
            break end;
        }
        if head.len() > MAX_REQUEST_HEAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request head too large",
            ));
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            if head.is_empty() {
                return Ok(None);
            }
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        head.extend_from_slice(&chunk[..n]);
    };
    parse_request_head(&String::from_utf8_lossy(&head[..end])).map(Some)
}

/// The length of the head including its terminating blank line, once it is all there.
fn head_end(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn parse_request_head(text: &str) -> io::Result<RequestHead> {
    let mut lines = text.lines();
    let request_line = lines.next().unwrap_or("");
    let mut parts = request_line.split_whitespace();
    let (method, target) = match (parts.next(), parts.next(), parts.next()) {
        (Some(method), Some(target), Some(version)) if version.starts_with("HTTP/") => {
            (method.to_string(), target.to_string())
        }
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("malformed request line {request_line:?}"),
            ))
        }
    };
    let last_event_id = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("last-event-id"))
        .map(|(_, value)| value.trim().to_string());
    Ok(RequestHead {
        method,
        target,
        last_event_id,
    })
}

/// Answers with a short plain-text body and closes gracefully: stops sending, then lets
/// unread request bytes (a POST body) drain briefly, so that the client reads this answer
/// instead of a connection reset.
pub fn respond_plain(
    stream: &mut TcpStream,
    status: &str,
    body: &str,
    extra_headers: &[(&str, &str)],
) -> io::Result<()> {
    let mut response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in extra_headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str("\r\n");
    response.push_str(body);
    stream.write_all(response.as_bytes())?;
    stream.shutdown(Shutdown::Write)?;
    stream.set_read_timeout(Some(Duration::from_millis(200)))?;
    let mut sink = [0u8; 4096];
    while let Ok(n) = stream.read(&mut sink) {
        if n == 0 {
            break;
        }
    }
    Ok(())
}
