//! A demo Server-Sent Events server, to watch `sse_client` (or curl, or a browser) at work.
//!
//! It uses the standard library only: a `TcpListener` and one thread per connection.
//!
//! ```text
//! cargo run --example demo_server -- [--port N] [--bind ADDR] [--drop-every N]
//!                                    [--interval-ms N] [--max-events N]
//! curl -sN http://127.0.0.1:8080/events
//! curl -sN -H 'Last-Event-ID: 41' http://127.0.0.1:8080/events
//! ```
//!
//! Defaults: `--bind 127.0.0.1` (loopback only), `--port 8080` (`--port 0` picks a free
//! port), `--drop-every 10` (0 = never), `--interval-ms 500`, `--max-events 0` (0 = run
//! until killed; otherwise exit once that many events have been sent in total, for tests).
//!
//! At startup it prints exactly one line on stdout, `listening on http://ADDR:PORT/events`,
//! and flushes it, so a program that starts it can read the port. Everything else (each
//! connection with its `Last-Event-ID`, disconnects, drops) is logged on stderr.
//!
//! `GET /events` answers `200 OK` with `Content-Type: text/event-stream` and a body
//! delimited by the connection close, then streams:
//! - `retry: 2000` first, so clients wait 2 s before reconnecting;
//! - events with incrementing ids, continuing after the request's `Last-Event-ID` when it
//!   is a number, so a reconnecting client visibly resumes where it left off;
//! - mostly `event: tick` with JSON data `{"n":N,"time":"..."}`; every 5th event an
//!   `event: news` with two data lines; every 7th a plain unnamed `data:` message;
//! - a `: heartbeat` comment every 3 events and after 3 s of quiet;
//! - every `--drop-every` events on one connection, a dropped connection: alternately
//!   between two events, and in the middle of an event (its `id:` line already sent), which
//!   the client must discard; it then resumes from the last complete event.
//!
//! Any other path answers 404, any other method on `/events` 405.

use std::env;
use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::process;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

// The accept loop, request-head reader and response heads the examples' servers share.
#[allow(dead_code)]
#[path = "common/loopback_server.rs"]
mod loopback_server;
use loopback_server::{
    read_request_head, respond_plain, Connection, LoopbackServer, RequestHead, Threads,
    EVENT_STREAM_HEAD,
};

/// A heartbeat comment goes out after this much quiet on a connection.
const HEARTBEAT_AFTER: Duration = Duration::from_secs(3);
/// And every this many events on one connection.
const HEARTBEAT_EVERY_EVENTS: u64 = 3;

const USAGE: &str = "usage: demo_server [--port N] [--bind ADDR] [--drop-every N] \
                     [--interval-ms N] [--max-events N]";

#[derive(Clone, Debug)]
struct Options {
    bind: String,
    port: u16,
    drop_every: u64,
    interval: Duration,
    max_events: u64,
}

/// State shared by every connection.
struct Server {
    options: Options,
    /// Complete events sent so far, over all connections (for `--max-events`).
    events_sent: AtomicU64,
}

fn main() {
    let options = match parse_args(env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("demo_server: {message}");
            }
            eprintln!("{USAGE}");
            process::exit(if message.is_empty() { 0 } else { 2 });
        }
    };

    let listener = match bind(&options.bind, options.port) {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!(
                "demo_server: cannot listen on {}:{}: {err}",
                options.bind, options.port
            );
            process::exit(1);
        }
    };
    let local = listener
        .local_addr()
        .expect("a bound listener has a local address");
    let mut stdout = io::stdout().lock();
    // Other programs read this line to find the port: keep its shape.
    let _ = writeln!(stdout, "listening on http://{local}/events");
    let _ = stdout.flush();
    drop(stdout);
    eprintln!(
        "demo_server: drop every {} events, interval {} ms, max events {}",
        options.drop_every,
        options.interval.as_millis(),
        options.max_events
    );

    let server = Arc::new(Server {
        options,
        events_sent: AtomicU64::new(0),
    });
    let threads = Threads {
        name: "demo_server",
        stack_size: None,
    };
    let handle = move |stream, connection: Connection<'_>| {
        handle_connection(&server, stream, connection.number)
    };
    match LoopbackServer::start(listener, threads, handle) {
        Ok(server) => server.serve_forever(),
        Err(err) => {
            eprintln!("demo_server: cannot start the accept thread: {err}");
            process::exit(1);
        }
    }
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        bind: "127.0.0.1".to_string(),
        port: 8080,
        drop_every: 10,
        interval: Duration::from_millis(500),
        max_events: 0,
    };
    while let Some(arg) = args.next() {
        // Accept both `--port 8080` and `--port=8080`.
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) => (name.to_string(), Some(value.to_string())),
            None => (arg.clone(), None),
        };
        if name == "-h" || name == "--help" {
            return Err(String::new());
        }
        let value = match inline.or_else(|| args.next()) {
            Some(value) => value,
            None => return Err(format!("{name} needs a value")),
        };
        let number = |value: &str| -> Result<u64, String> {
            value
                .parse::<u64>()
                .map_err(|_| format!("{name}: not a number: {value:?}"))
        };
        match name.as_str() {
            "--port" => {
                options.port = value
                    .parse::<u16>()
                    .map_err(|_| format!("--port: not a port number: {value:?}"))?
            }
            "--bind" => options.bind = value,
            "--drop-every" => options.drop_every = number(&value)?,
            "--interval-ms" => options.interval = Duration::from_millis(number(&value)?),
            "--max-events" => options.max_events = number(&value)?,
            _ => return Err(format!("unknown option {name:?}")),
        }
    }
    Ok(options)
}

fn bind(addr: &str, port: u16) -> io::Result<TcpListener> {
    // Accept "::1" as well as "[::1]" for IPv6.
    let host = addr.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = (host, port).to_socket_addrs()?.collect();
    TcpListener::bind(&addrs[..])
}

fn handle_connection(server: &Server, mut stream: TcpStream, number: u64) {
    let peer = stream
        .peer_addr()
        .map(|addr| addr.to_string())
        .unwrap_or_else(|_| "?".to_string());
    let request = match read_request(&mut stream) {
        Ok(Some(request)) => request,
        Ok(None) => {
            eprintln!("[conn {number}] {peer}: closed before sending a request");
            return;
        }
        Err(err) => {
            eprintln!("[conn {number}] {peer}: bad request: {err}");
            let _ = respond_plain(&mut stream, "400 Bad Request", "bad request\n", &[]);
            return;
        }
    };
    let shown_id = match &request.last_event_id {
        Some(id) => format!("{id:?}"),
        None => "(none)".to_string(),
    };
    eprintln!(
        "[conn {number}] {peer}: {} {} Last-Event-ID: {shown_id}",
        request.method, request.target
    );

    if request.path() != "/events" {
        let _ = respond_plain(
            &mut stream,
            "404 Not Found",
            "not found: try /events\n",
            &[],
        );
        return;
    }
    if request.method != "GET" {
        let _ = respond_plain(
            &mut stream,
            "405 Method Not Allowed",
            "method not allowed: use GET\n",
            &[("Allow", "GET")],
        );
        return;
    }

    // Resume after the client's last event ID when it is one of ours (a number).
    let last_id = match request.last_event_id.as_deref().map(str::trim) {
        None | Some("") => 0,
        Some(id) => id.parse::<u64>().unwrap_or_else(|_| {
            eprintln!("[conn {number}] Last-Event-ID {id:?} is not a number: starting at 1");
            0
        }),
    };
    match stream_events(server, &mut stream, number, last_id) {
        Ok(()) => {}
        // The client went away: that is its right, not an error worth a fuss.
        Err(err) => eprintln!("[conn {number}] client disconnected ({})", err.kind()),
    }
}

/// Reads the request head; `Ok(None)` when the client closed before sending one. The read
/// timeout keeps a silent client from holding a thread for ever.
fn read_request(stream: &mut TcpStream) -> io::Result<Option<RequestHead>> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    read_request_head(stream)
}

/// Streams events after `last_id` until a planned drop, `--max-events`, or a write error.
fn stream_events(
    server: &Server,
    stream: &mut TcpStream,
    number: u64,
    last_id: u64,
) -> io::Result<()> {
    let options = &server.options;
    stream.set_nodelay(true)?;
    stream.write_all(EVENT_STREAM_HEAD)?;
    let greeting = if last_id == 0 {
        "retry: 2000\n: welcome to the sse_client demo server\n\n".to_string()
    } else {
        format!("retry: 2000\n: welcome back, resuming after id {last_id}\n\n")
    };
    stream.write_all(greeting.as_bytes())?;
    let mut last_write = Instant::now();

    let mut id = last_id;
    let mut sent_here = 0u64;
    loop {
        let next = id + 1;
        if options.drop_every > 0 && sent_here == options.drop_every {
            // Alternate, by id, between a clean drop and a drop in the middle of an event.
            if (next / options.drop_every) % 2 == 1 {
                let partial = format!("id: {next}\nevent: tick\ndata: {{\"n\":{next},\"ti");
                stream.write_all(partial.as_bytes())?;
                eprintln!("[conn {number}] dropping the connection in the middle of event {next}");
            } else {
                eprintln!("[conn {number}] dropping the connection after event {id}");
            }
            let _ = stream.shutdown(Shutdown::Both);
            return Ok(());
        }
        if sent_here > 0 {
            wait_with_heartbeats(stream, options.interval, &mut last_write)?;
        }

        // Count the event before sending it, so concurrent connections together never send
        // more than --max-events.
        let total = server.events_sent.fetch_add(1, Ordering::SeqCst) + 1;
        if options.max_events > 0 && total > options.max_events {
            // Another connection sent the last one and is about to exit the process.
            let _ = stream.shutdown(Shutdown::Both);
            return Ok(());
        }
        stream.write_all(event_text(next).as_bytes())?;
        last_write = Instant::now();
        id = next;
        sent_here += 1;

        if options.max_events > 0 && total == options.max_events {
            eprintln!("demo_server: sent {total} events (--max-events): exiting");
            let _ = stream.flush();
            let _ = stream.shutdown(Shutdown::Both);
            process::exit(0);
        }
        if sent_here.is_multiple_of(HEARTBEAT_EVERY_EVENTS) {
            stream.write_all(b": heartbeat\n\n")?;
            last_write = Instant::now();
        }
    }
}

/// Sleeps `interval`, sending a heartbeat comment whenever the stream has been quiet for
/// `HEARTBEAT_AFTER`.
fn wait_with_heartbeats(
    stream: &mut TcpStream,
    interval: Duration,
    last_write: &mut Instant,
) -> io::Result<()> {
    let deadline = Instant::now() + interval;
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Ok(());
        }
        let heartbeat_due = *last_write + HEARTBEAT_AFTER;
        if now >= heartbeat_due {
            stream.write_all(b": heartbeat\n\n")?;
            *last_write = now;
            continue;
        }
        thread::sleep(deadline.min(heartbeat_due) - now);
    }
}

/// The wire text of event `n`, its blank line included.
fn event_text(n: u64) -> String {
    if n.is_multiple_of(7) {
        // No `event:` field: the client dispatches it as type "message".
        format!("id: {n}\ndata: plain message #{n}, without an event type\n\n")
    } else if n.is_multiple_of(5) {
        // Two data lines: the client joins them with "\n".
        format!(
            "id: {n}\nevent: news\ndata: Headline #{n}: demo server still streaming\n\
             data: second line of news #{n}\n\n"
        )
    } else {
        format!(
            "id: {n}\nevent: tick\ndata: {{\"n\":{n},\"time\":\"{}\"}}\n\n",
            utc_now_rfc3339()
        )
    }
}

/// The current time as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC), without a date crate.
fn utc_now_rfc3339() -> String {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since_epoch.as_secs();
    let millis = since_epoch.subsec_millis();
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Howard Hinnant's
/// `civil_from_days`). Exact, and free of overflow, for every day a `u64` count of seconds
/// can name (|days| <= u64::MAX / 86,400), which covers any certificate's dates.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}
