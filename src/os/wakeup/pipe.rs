//! The wakeup signal of the POSIX systems without eventfd (macOS, the BSDs): a pipe,
//! readable while it holds a byte. [`Wakeup`](super::Wakeup) raises it once per clear, so
//! the pipe holds at most one byte and a write never finds it full.
//!
//! Both ends are close-on-exec (std's `io::pipe` sets it: atomically with pipe2 where the
//! system has it, right after pipe() on macOS) and non-blocking (set here): a lower that
//! finds nothing returns at once, and the worker never waits on the pipe.

use std::io::{self, PipeReader, PipeWriter, Write};
use std::os::fd::{AsRawFd, RawFd};

use super::RawHandle;

#[derive(Debug)]
pub struct Signal {
    /// The end the host waits on: the handle.
    reader: PipeReader,
    writer: PipeWriter,
}

impl Signal {
    pub fn new() -> io::Result<Signal> {
        let (reader, writer) = io::pipe()?;
        set_non_blocking(reader.as_raw_fd())?;
        set_non_blocking(writer.as_raw_fd())?;
        Ok(Signal { reader, writer })
    }

    pub fn handle(&self) -> RawHandle {
        self.reader.as_raw_fd() as RawHandle
    }

    /// Makes the read end readable: one byte into the pipe.
    pub fn raise(&self) -> io::Result<()> {
        (&self.writer).write_all(&[1])
    }

    /// Makes the read end unreadable: reads until the pipe is empty (a write is visible
    /// to the reader when it returns, so nothing raised before is still on its way).
    pub fn lower(&self) {
        super::drain(&self.reader);
    }

    #[cfg(test)]
    pub fn close_on_exec(&self) -> bool {
        use crate::os::wakeup::posix_flags::close_on_exec;
        close_on_exec(self.reader.as_raw_fd()) && close_on_exec(self.writer.as_raw_fd())
    }

    #[cfg(test)]
    pub fn non_blocking(&self) -> bool {
        use crate::os::wakeup::posix_flags::non_blocking;
        non_blocking(self.reader.as_raw_fd()) && non_blocking(self.writer.as_raw_fd())
    }
}

fn set_non_blocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor we own, with integer arguments only.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{take_pending_bytes, Wakeup};

    fn drain(wakeup: &Wakeup) -> usize {
        take_pending_bytes(&wakeup.signal.reader)
    }

    #[test]
    fn a_burst_of_sets_writes_one_byte() {
        let wakeup = Wakeup::new().unwrap();
        for _ in 0..5 {
            wakeup.set();
        }
        assert_eq!(drain(&wakeup), 1);
    }

    #[test]
    fn lower_empties_the_pipe_whatever_it_holds() {
        let wakeup = Wakeup::new().unwrap();
        for _ in 0..3 {
            wakeup.signal.raise().unwrap();
        }
        wakeup.signal.lower();
        assert_eq!(drain(&wakeup), 0);
    }
}
