//! The socket calls the transport needs beyond what `std::net` offers: a receive that
//! never waits, a peek that never waits, and (for tests) a close that resets.
//!
//! POSIX has a per-call flag for "do not wait" (`MSG_DONTWAIT`), so there each of these is
//! one syscall on a socket that stays blocking; the poll-mode hot path calls
//! [`receive_now`] once per read, so it must stay one syscall. Windows has no such flag:
//! there the socket is switched to non-blocking around the call (see `windows` below).
//! `socket2` makes the calls, so no socket code is written by hand against libc or
//! windows-sys.

use std::io;
use std::net::TcpStream;

#[cfg(unix)]
use posix as platform;
#[cfg(windows)]
use windows as platform;

/// What the socket holds right now, without waiting: `WouldBlock` when nothing, `Ok(0)`
/// when the peer closed. Leaves the socket blocking.
pub(crate) fn receive_now(stream: &TcpStream, buffer: &mut [u8]) -> io::Result<usize> {
    platform::receive_now(stream, buffer)
}

/// Whether the connection is open with nothing waiting to be read, found without waiting:
/// a closed or reset connection, and one with unread bytes, are not.
pub(crate) fn is_open_and_quiet(stream: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(platform::peek_now(stream, &mut byte), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
}

/// How long one blocking read may wait before the transport looks again, given what is
/// left of its timeout (`None`: no timeout).
///
/// POSIX: all of it, in one read: a `shutdown()` from another thread (the client's close)
/// ends a blocked `recv` at once. Windows: at most [`WINDOWS_READ_SLICE`], because there
/// `shutdown()` does not end a `recv` that is already blocked; the next slice's `recv`
/// sees the shutdown and returns, so a close waits one slice at most.
pub(crate) fn blocking_read_wait(left: Option<std::time::Duration>) -> Option<std::time::Duration> {
    #[cfg(windows)]
    return Some(left.map_or(WINDOWS_READ_SLICE, |left| left.min(WINDOWS_READ_SLICE)));
    #[cfg(not(windows))]
    left
}

/// Whether a blocking read that failed with `error` only ended its slice (see
/// [`blocking_read_wait`]), not the caller's timeout: then the transport reads again.
pub(crate) fn read_slice_ended(
    error: &io::Error,
    wait: Option<std::time::Duration>,
    left: Option<std::time::Duration>,
) -> bool {
    let timed_out = matches!(
        error.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    );
    timed_out && wait.is_some() && wait != left
}

/// The longest a blocking read waits on Windows before it looks again: the longest a
/// close waits there for a worker blocked in a read.
#[cfg(windows)]
const WINDOWS_READ_SLICE: std::time::Duration = std::time::Duration::from_millis(50);

/// Makes closing `stream` reset the connection (an RST to the peer, SO_LINGER 0) instead
/// of closing it in order (a FIN).
#[cfg(test)]
pub(crate) fn reset_on_close(stream: &TcpStream) -> io::Result<()> {
    socket2::SockRef::from(stream).set_linger(Some(std::time::Duration::ZERO))
}

#[cfg(unix)]
mod posix {
    use std::io;
    use std::mem::MaybeUninit;
    use std::net::TcpStream;

    use socket2::SockRef;

    /// One `recv(MSG_DONTWAIT)`.
    #[inline]
    pub(super) fn receive_now(stream: &TcpStream, buffer: &mut [u8]) -> io::Result<usize> {
        SockRef::from(stream).recv_with_flags(uninit(buffer), libc::MSG_DONTWAIT)
    }

    /// One `recv(MSG_PEEK | MSG_DONTWAIT)`.
    pub(super) fn peek_now(stream: &TcpStream, buffer: &mut [u8]) -> io::Result<usize> {
        SockRef::from(stream).recv_with_flags(uninit(buffer), libc::MSG_PEEK | libc::MSG_DONTWAIT)
    }

    /// An initialised buffer as the possibly-uninitialised one socket2 receives into.
    #[inline]
    fn uninit(buffer: &mut [u8]) -> &mut [MaybeUninit<u8>] {
        // SAFETY: same layout; recv only writes bytes into it, never uninitialised ones,
        // so the slice stays initialised for the caller.
        unsafe { &mut *(buffer as *mut [u8] as *mut [MaybeUninit<u8>]) }
    }
}

/// Windows has no per-call "do not wait" flag. The socket is switched to non-blocking
/// (FIONBIO) for the one call and back: three syscalls, no unsafe code, and the blocking
/// read that follows (with its SO_RCVTIMEO) is left as it was. The alternative, asking
/// FIONREAD how many bytes wait, would save a syscall when bytes wait, but reports 0 both
/// for "nothing yet" and for a closed or reset connection, and needs windows-sys by hand.
#[cfg(windows)]
mod windows {
    use std::io::{self, Read};
    use std::net::TcpStream;

    pub(super) fn receive_now(stream: &TcpStream, buffer: &mut [u8]) -> io::Result<usize> {
        non_blocking(stream, |stream| {
            let mut reader = stream;
            reader.read(buffer)
        })
    }

    pub(super) fn peek_now(stream: &TcpStream, buffer: &mut [u8]) -> io::Result<usize> {
        non_blocking(stream, |stream| stream.peek(buffer))
    }

    /// `call` on the socket made non-blocking, then blocking again. When switching back
    /// fails, that is the error: the socket could no longer be read as the transport
    /// expects.
    fn non_blocking(
        stream: &TcpStream,
        call: impl FnOnce(&TcpStream) -> io::Result<usize>,
    ) -> io::Result<usize> {
        stream.set_nonblocking(true)?;
        let result = call(stream);
        stream.set_nonblocking(false)?;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::time::Duration;

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (client, server)
    }

    /// Lets what one end sent reach the other's socket.
    fn settle() {
        std::thread::sleep(Duration::from_millis(50));
    }

    #[test]
    fn receive_now_returns_what_waits_and_would_block_on_nothing() {
        let (client, mut server) = pair();
        let mut buffer = [0u8; 16];
        let nothing = receive_now(&client, &mut buffer).unwrap_err();
        assert_eq!(nothing.kind(), io::ErrorKind::WouldBlock);
        server.write_all(b"ready").unwrap();
        settle();
        assert_eq!(receive_now(&client, &mut buffer).unwrap(), 5);
        assert_eq!(&buffer[..5], b"ready");
        drop(server);
        settle();
        assert_eq!(receive_now(&client, &mut buffer).unwrap(), 0, "EOF");
    }

    #[test]
    fn receive_now_leaves_the_socket_blocking() {
        let (client, _server) = pair();
        let mut buffer = [0u8; 16];
        let _ = receive_now(&client, &mut buffer);
        client
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let started = std::time::Instant::now();
        let error = (&client).read(&mut buffer).unwrap_err();
        assert!(
            matches!(
                error.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ),
            "{error:?}"
        );
        assert!(started.elapsed() >= Duration::from_millis(90), "it waited");
    }

    #[test]
    fn a_quiet_open_connection_is_open_and_one_with_bytes_or_closed_is_not() {
        let (client, mut server) = pair();
        assert!(is_open_and_quiet(&client));
        server.write_all(b"x").unwrap();
        settle();
        assert!(!is_open_and_quiet(&client), "a byte waits");
        let mut byte = [0u8; 1];
        assert_eq!(receive_now(&client, &mut byte).unwrap(), 1, "peek kept it");
        assert!(is_open_and_quiet(&client));
        drop(server);
        settle();
        assert!(!is_open_and_quiet(&client), "the peer closed");
    }

    #[test]
    fn reset_on_close_makes_the_peer_see_a_reset() {
        let (client, server) = pair();
        reset_on_close(&server).unwrap();
        drop(server);
        settle();
        let mut buffer = [0u8; 4];
        let error = receive_now(&client, &mut buffer).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::ConnectionReset, "{error:?}");
    }
}
