//! The seeded fault plan: where a connection is cut, what the server does there, and the
//! server script that one faulty (or the final, good) connection sends. Pure: the oracle
//! replays the same plans to say what the client must report.

use std::time::Duration;

use sse_client::ErrorKind;

use super::round::Round;
use super::seed::Rng;
use super::stream::{Stream, BOM};
use crate::support::{chunk, ms, ok_stream, ok_stream_chunked, Script};

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
