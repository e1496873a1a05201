//! The loopback SSE server of the benchmarks, run as its own process (`firehose --serve`)
//! so that its CPU time and memory never count against a consumer.
//!
//! One thread per connection; what it does depends on the request path:
//!
//! | path | behaviour |
//! | --- | --- |
//! | `/stream?n=&lines=&len=&ids=&chunk=` | the stream of that [`Shape`] as fast as possible (in `chunk`-byte writes when `chunk` > 0), then holds the connection open |
//! | `/latency?n=&interval_us=` | `n` events `data: <CLOCK_MONOTONIC ns at send>`, one every `interval_us`, then holds |
//! | `/idle` | the response head, then nothing (holds) |
//! | `/noreply` | reads the request and never answers (holds) |
//! | `/status503` | `503 Service Unavailable`, closes |
//! | `/endless?len=` | small events without end, until the client goes away |
//!
//! Bodies are close-delimited (`Connection: close`, no chunked framing), so the raw reader
//! needs no HTTP parsing beyond the head. The accept loop, the request-head reader and the
//! response heads are the examples' shared loopback plumbing
//! (`examples/common/loopback_server.rs`). Streams are generated once per shape and cached
//! (the latest shape only), so every run of a workload gets the same bytes at memory speed.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::loopback_server::{
    read_request_head, respond_plain, Connection, LoopbackServer, Threads,
    EVENT_STREAM_HEAD as HEAD,
};
use crate::measure::monotonic_ns;
use crate::payload::Shape;

/// The latest generated stream: (query without `chunk`, bytes).
type Cache = Arc<Mutex<Option<(String, Arc<Vec<u8>>)>>>;

/// Binds 127.0.0.1 on a free port, prints `PORT <port>` and serves until stdin closes
/// (the orchestrator holds the other end: the server never outlives it).
pub fn serve() -> ! {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    // A deep backlog: 1,000 idle streams connect at once.
    // SAFETY: listen(2) again on a listening socket only changes its backlog.
    unsafe { libc::listen(listener.as_raw_fd(), 4096) };
    crate::measure::raise_fd_limit();
    let port = listener.local_addr().expect("local address").port();
    println!("PORT {port}");
    std::io::stdout().flush().expect("stdout");

    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        std::process::exit(0);
    });

    let cache: Cache = Arc::default();
    // Small stacks: the idle section holds 1,000 connections at once.
    let threads = Threads {
        name: "server",
        stack_size: Some(128 * 1024),
    };
    let handle = move |stream, _: Connection<'_>| handle(stream, &cache);
    LoopbackServer::start(listener, threads, handle)
        .expect("start the accept thread")
        .serve_forever()
}

fn handle(mut stream: TcpStream, cache: &Cache) {
    let _ = stream.set_nodelay(true);
    let Ok(Some(request)) = read_request_head(&mut stream) else {
        return;
    };
    let (path, query) = (request.path(), request.query());
    let param = |name: &str| -> Option<u64> {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
            .and_then(|value| value.parse().ok())
    };
    let result = match path {
        "/stream" => match Shape::from_query(query) {
            Some(shape) => firehose(
                &mut stream,
                cache,
                shape,
                param("chunk").unwrap_or(0) as usize,
            ),
            None => respond_status(&mut stream, "400 Bad Request"),
        },
        "/latency" => latency(
            &mut stream,
            param("n").unwrap_or(1000),
            Duration::from_micros(param("interval_us").unwrap_or(1000)),
        ),
        "/idle" => stream.write_all(HEAD),
        "/noreply" => Ok(()),
        "/status503" => {
            let _ = respond_status(&mut stream, "503 Service Unavailable");
            return;
        }
        "/endless" => endless(&mut stream, param("len").unwrap_or(32) as usize),
        _ => respond_status(&mut stream, "404 Not Found"),
    };
    if result.is_ok() {
        hold(&mut stream);
    }
}

fn respond_status(stream: &mut TcpStream, status: &str) -> std::io::Result<()> {
    respond_plain(stream, status, "", &[])
}

/// Keeps the connection open until the client closes it (or a long time passes).
fn hold(stream: &mut TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(600)));
    let mut sink = [0u8; 1024];
    while let Ok(n) = stream.read(&mut sink) {
        if n == 0 {
            break;
        }
    }
}

fn firehose(
    stream: &mut TcpStream,
    cache: &Cache,
    shape: Shape,
    chunk: usize,
) -> std::io::Result<()> {
    let body = cached_stream(cache, shape);
    stream.write_all(HEAD)?;
    if chunk == 0 {
        stream.write_all(&body)
    } else {
        body.chunks(chunk)
            .try_for_each(|piece| stream.write_all(piece))
    }
}

fn cached_stream(cache: &Cache, shape: Shape) -> Arc<Vec<u8>> {
    let key = shape.query();
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((cached_key, body)) = cache.as_ref() {
        if *cached_key == key {
            return body.clone();
        }
    }
    // Drop the previous stream before building the next (up to 200 MiB each).
    *cache = None;
    let body = Arc::new(shape.stream());
    *cache = Some((key, body.clone()));
    body
}

fn latency(stream: &mut TcpStream, events: u64, interval: Duration) -> std::io::Result<()> {
    stream.write_all(HEAD)?;
    let start = Instant::now();
    let mut event = Vec::with_capacity(64);
    for index in 0..events {
        let due = start + interval * index as u32;
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        event.clear();
        // The timestamp is taken last, just before the write.
        let _ = write!(event, "data: {}\n\n", monotonic_ns());
        stream.write_all(&event)?;
    }
    Ok(())
}

fn endless(stream: &mut TcpStream, len: usize) -> std::io::Result<()> {
    stream.write_all(HEAD)?;
    let shape = Shape {
        events: 1024,
        lines: 1,
        line_len: len,
        ids: false,
    };
    let block = shape.stream();
    loop {
        stream.write_all(&block)?;
    }
}
