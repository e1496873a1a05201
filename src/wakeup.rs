//! A file descriptor the poll-mode host watches with poll(2), epoll or a QSocketNotifier:
//! an eventfd that the queue makes readable while it holds messages it has announced.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// An eventfd that is either readable or not.
///
/// The queue calls [`set`](Wakeup::set) when it announces what it holds and
/// [`clear`](Wakeup::clear) when the host has taken everything, both under its own lock, so
/// that "readable" and "announced" never drift apart, and a burst of events costs two
/// syscalls, not two per event (see `poll_queue`).
#[derive(Debug)]
pub struct Wakeup {
    fd: OwnedFd,
}

impl Wakeup {
    pub fn new() -> io::Result<Wakeup> {
        // SAFETY: eventfd has no memory arguments; the result is checked.
        let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        Ok(Wakeup { fd })
    }

    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Makes the fd readable.
    pub fn set(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to our own eventfd.
        let written = unsafe {
            libc::write(
                self.raw_fd(),
                (&one as *const u64).cast::<libc::c_void>(),
                std::mem::size_of::<u64>(),
            )
        };
        if written < 0 {
            log::warn!("wakeup fd write failed: {}", io::Error::last_os_error());
        }
    }

    /// Makes the fd unreadable (reading an eventfd resets its counter to zero).
    pub fn clear(&self) {
        let mut value: u64 = 0;
        // SAFETY: reads at most 8 bytes into a live u64 from our own non-blocking eventfd.
        let _ = unsafe {
            libc::read(
                self.raw_fd(),
                (&mut value as *mut u64).cast::<libc::c_void>(),
                std::mem::size_of::<u64>(),
            )
        };
    }
}

/// Whether `fd` is readable right now (for tests of what watches it).
#[cfg(test)]
pub(crate) fn fd_readable(fd: RawFd) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    n == 1 && pfd.revents & libc::POLLIN != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readable(wakeup: &Wakeup) -> bool {
        fd_readable(wakeup.raw_fd())
    }

    #[test]
    fn readable_exactly_between_set_and_clear() {
        let wakeup = Wakeup::new().unwrap();
        assert!(!readable(&wakeup));
        wakeup.set();
        assert!(readable(&wakeup));
        wakeup.clear();
        assert!(!readable(&wakeup));
        wakeup.clear();
        assert!(!readable(&wakeup));
        wakeup.set();
        wakeup.set();
        wakeup.clear();
        assert!(!readable(&wakeup), "one clear undoes any number of sets");
    }
}
