//! Windows' wakeup signal: a connected loopback TCP socket pair, readable while the read
//! end holds a byte. select(), WSAPoll() and a QSocketNotifier watch only sockets there,
//! and std makes them without a bindings crate. [`Wakeup`](super::Wakeup) raises it once
//! per clear, so at most one byte is ever in flight.
//!
//! Both ends are non-blocking (a QSocketNotifier's WSAAsyncSelect would make the read end
//! so anyway) and not inherited by child processes: std creates its sockets with
//! WSA_FLAG_NO_HANDLE_INHERIT, but the one accept() makes may be inheritable (it is under
//! wine), so the accepted end is made non-inheritable here.
//!
//! Loopback TCP may hand a byte to the read end a moment after send() returns, so a
//! raise waits until the byte is there: the handle is readable when `set` returns and a
//! `clear` that follows finds the byte to take, as with a pipe or an eventfd.

use std::io::{self, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::windows::io::{AsRawSocket, RawSocket};
use std::time::{Duration, Instant};

use super::RawHandle;

/// The longest a raised byte takes to cross loopback before we give up waiting (it takes
/// microseconds; this is a bound for a sick system, not a timeout anyone should reach).
const LOOPBACK_DELIVERY: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub struct Signal {
    /// The end the host waits on: the handle.
    reader: TcpStream,
    writer: TcpStream,
}

impl Signal {
    pub fn new() -> io::Result<Signal> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let writer = TcpStream::connect(listener.local_addr()?)?;
        let ours = writer.local_addr()?;
        // Another local program may connect to the listener in its short life: accept
        // until our own connection comes (accept takes them in order; ours is queued).
        let reader = loop {
            let (stream, peer) = listener.accept()?;
            if peer == ours {
                break stream;
            }
        };
        not_inheritable(reader.as_raw_socket())?;
        writer.set_nodelay(true)?;
        writer.set_nonblocking(true)?;
        reader.set_nonblocking(true)?;
        Ok(Signal { reader, writer })
    }

    pub fn handle(&self) -> RawHandle {
        self.reader.as_raw_socket() as RawHandle
    }

    /// Makes the read end readable: sends one byte and waits until it has arrived.
    pub fn raise(&self) -> io::Result<()> {
        (&self.writer).write_all(&[1])?;
        let deadline = Instant::now() + LOOPBACK_DELIVERY;
        let mut byte = [0u8; 1];
        loop {
            match self.reader.peek(&mut byte) {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                    std::thread::yield_now()
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Makes the read end unreadable: receives until nothing is left.
    pub fn lower(&self) {
        super::drain(&self.reader);
    }

    #[cfg(test)]
    pub fn close_on_exec(&self) -> bool {
        not_inherited(self.reader.as_raw_socket()) && not_inherited(self.writer.as_raw_socket())
    }

    /// Windows cannot be asked whether a socket is non-blocking: a receive on the empty
    /// read end must fail with WouldBlock instead of waiting (a blocking one would hang
    /// the test). Only meaningful while the signal is lowered.
    #[cfg(test)]
    pub fn non_blocking(&self) -> bool {
        let mut byte = [0u8; 1];
        matches!(self.reader.peek(&mut byte),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }
}

/// Makes `socket` not inherited by child processes (Windows' close-on-exec).
fn not_inheritable(socket: RawSocket) -> io::Result<()> {
    const HANDLE_FLAG_INHERIT: u32 = 1;
    // std links kernel32 already; the crate has no Windows bindings crate for one call.
    #[link(name = "kernel32")]
    extern "system" {
        fn SetHandleInformation(handle: isize, mask: u32, flags: u32) -> i32;
    }
    // SAFETY: a live socket of ours (a SOCKET is a kernel handle); integers only.
    match unsafe { SetHandleInformation(socket as isize, HANDLE_FLAG_INHERIT, 0) } {
        0 => Err(io::Error::last_os_error()),
        _ => Ok(()),
    }
}

/// Whether a child process would not inherit `socket`.
#[cfg(test)]
fn not_inherited(socket: RawSocket) -> bool {
    const HANDLE_FLAG_INHERIT: u32 = 1;
    // Test-only: std already links kernel32, and the crate has no Windows bindings crate.
    #[link(name = "kernel32")]
    extern "system" {
        fn GetHandleInformation(handle: isize, flags: *mut u32) -> i32;
    }
    let mut flags = 0u32;
    // SAFETY: a live socket of ours (a SOCKET is a kernel handle) and a live u32.
    let ok = unsafe { GetHandleInformation(socket as isize, &mut flags) };
    ok != 0 && flags & HANDLE_FLAG_INHERIT == 0
}

#[cfg(test)]
mod tests {
    use super::super::{take_pending_bytes, Wakeup};

    fn drain(wakeup: &Wakeup) -> usize {
        take_pending_bytes(&wakeup.signal.reader)
    }

    #[test]
    fn a_burst_of_sets_sends_one_byte() {
        let wakeup = Wakeup::new().unwrap();
        for _ in 0..5 {
            wakeup.set();
        }
        assert_eq!(drain(&wakeup), 1);
    }
}
