//! Linux's wakeup signal: an eventfd, readable while its counter is not zero. One
//! descriptor, and the kernel keeps the state: a write adds, a read resets to zero.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd};

use super::RawHandle;

#[derive(Debug)]
pub struct Signal {
    /// The eventfd, as a `File` for its plain read and write.
    eventfd: File,
}

impl Signal {
    pub fn new() -> io::Result<Signal> {
        // SAFETY: eventfd has no memory arguments; the result is checked.
        let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh descriptor that nothing else owns.
        let eventfd = unsafe { File::from_raw_fd(raw) };
        Ok(Signal { eventfd })
    }

    pub fn handle(&self) -> RawHandle {
        self.eventfd.as_raw_fd() as RawHandle
    }

    /// Makes the eventfd readable (adds 1 to its counter).
    pub fn raise(&self) -> io::Result<()> {
        (&self.eventfd).write_all(&1u64.to_ne_bytes())
    }

    /// Makes the eventfd unreadable: a read resets the counter to zero, whatever it was.
    pub fn lower(&self) {
        let mut counter = [0u8; 8];
        if let Err(e) = (&self.eventfd).read(&mut counter) {
            if e.kind() != io::ErrorKind::WouldBlock {
                log::warn!("could not make the wakeup handle unreadable: {e}");
            }
        }
    }

    #[cfg(test)]
    pub fn close_on_exec(&self) -> bool {
        crate::os::wakeup::posix_flags::close_on_exec(self.eventfd.as_raw_fd())
    }

    #[cfg(test)]
    pub fn non_blocking(&self) -> bool {
        crate::os::wakeup::posix_flags::non_blocking(self.eventfd.as_raw_fd())
    }
}
