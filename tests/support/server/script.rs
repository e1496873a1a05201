//! Scripts: what the scripted server does on one connection, step by step (bytes at once
//! or trickled, pauses, an orderly close, a reset, a connection held open or kept alive).

use std::time::Duration;

use super::responses::{ok_stream, status};

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
