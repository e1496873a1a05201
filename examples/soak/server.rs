//! The soak server and its fault schedule: each connection streams the numbered events
//! after the request's `Last-Event-ID` and is dropped after a set number of them, every
//! other time in the middle of the next event (its `id:` line already sent), which the
//! client must discard and then ask for again. The accept loop and its threads are the
//! shared loopback plumbing (`examples/common/loopback_server.rs`).

use std::io::{self, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::thread;
use std::time::{Duration, Instant};

use crate::loopback_server::{
    read_request_head, Connection, LoopbackServer, Threads, EVENT_STREAM_HEAD,
};
use crate::numbered_events::{event_type, write_event};

#[derive(Clone, Copy, Debug)]
pub struct ServerSettings {
    /// Complete events per connection before the server drops it.
    pub drop_every: u64,
    /// Between two events on one connection; zero: as fast as the socket takes them.
    pub interval: Duration,
}

/// Starts the server on a free loopback port. Its threads get small stacks: a `many` run
/// holds a connection thread per client (and the previous one winding down), and the
/// figures of this process include them.
pub fn start(settings: ServerSettings) -> io::Result<LoopbackServer> {
    let threads = Threads {
        name: "soak",
        stack_size: Some(128 * 1024),
    };
    LoopbackServer::bind_loopback(threads, move |stream, connection: Connection<'_>| {
        let _ = serve(stream, settings, connection.stop);
    })
}

pub fn url(server: &LoopbackServer) -> String {
    format!("http://{}/events", server.addr())
}

/// The fault schedule: whether the connection that resumed after `last` cuts its final
/// event in half. Alternating by the connection's place in the stream (not by a counter the
/// connections would share) keeps the schedule the same whatever the timing, and gives
/// every client both kinds of drop.
fn cuts_an_event(last: u64, drop_every: u64) -> bool {
    (last / drop_every) % 2 == 1
}

/// One connection: `drop_every` events after the request's `Last-Event-ID`, then a drop.
fn serve(mut stream: TcpStream, settings: ServerSettings, stop: &AtomicBool) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    stream.set_nodelay(true)?;
    let Some(head) = read_request_head(&mut stream)? else {
        return Ok(());
    };
    let last = match head.last_event_id.as_deref() {
        None => 0,
        Some(id) => id.parse::<u64>().map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidData, "Last-Event-ID not a number")
        })?,
    };
    let paced = !settings.interval.is_zero();
    let mut out = StackWriter::new(&stream);
    out.write_all(EVENT_STREAM_HEAD)?;
    out.write_all(b": soak\n\n")?;
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
    if cuts_an_event(last, settings.drop_every) {
        write!(
            out,
            "id: {next}\nevent: {}\ndata: {next}:cut",
            event_type(next)
        )?;
    }
    out.flush()?;
    stream.shutdown(Shutdown::Both)
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
