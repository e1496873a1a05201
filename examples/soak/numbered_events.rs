//! The numbered event stream both ends agree on: what the server writes for an id, and the
//! client-side check that an event is exactly that. Keeping the two side by side is what
//! lets the checker call an event corrupt without the server telling it what it sent.
//!
//! The shapes vary on purpose (named and unnamed, one or two data lines, LF or CRLF, a
//! payload of 0 to 96 bytes or 8 KiB, a comment every 50 events), so the parser's paths
//! all run under the soak.

use std::io::{self, Write};

use sse_client::Event;

/// `message` (no `event:` line) every 7th, `news` every 5th, else `tick`.
pub fn event_type(id: u64) -> &'static str {
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

pub fn write_event(out: &mut impl Write, id: u64) -> io::Result<()> {
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
pub fn event_matches(id: u64, event: &Event<'_>) -> bool {
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
