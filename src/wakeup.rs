//! A file descriptor that is readable exactly while a counter is above zero: the poll-mode
//! host watches it with poll(2), epoll or a QSocketNotifier.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Mutex;

/// Counts queued messages and keeps an eventfd readable while the count is non-zero.
///
/// The fd is written only on the 0 -> 1 transition and read only on 1 -> 0, so a burst
/// of events costs two syscalls, not two per event. The count and the fd change together
/// under one lock, which keeps "readable" and "non-empty" from drifting apart.
///
/// The count is signed because the host can take a message between the worker's send and
/// its `pushed()`: that `popped()` takes the count to -1, and the late `pushed()` brings it
/// back to 0 without signalling, as it must (the queue is empty). A saturating unsigned
/// count would end at 1 with an empty queue and leave the fd readable for good.
#[derive(Debug)]
pub struct Wakeup {
    fd: OwnedFd,
    queued: Mutex<isize>,
}

impl Wakeup {
    pub fn new() -> io::Result<Wakeup> {
        // SAFETY: eventfd has no memory-safety preconditions; we check its result.
        let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        Ok(Wakeup {
            fd,
            queued: Mutex::new(0),
        })
    }

    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// One message was queued.
    #[cfg(test)]
    pub fn pushed(&self) {
        self.pushed_many(1);
    }

    /// `count` messages were queued (a batch: one lock, at most one signal).
    pub fn pushed_many(&self, count: usize) {
        if count == 0 {
            return;
        }
        let count = isize::try_from(count).unwrap_or(isize::MAX);
        let mut queued = self.queued.lock().unwrap_or_else(|e| e.into_inner());
        let before = *queued;
        *queued = before.saturating_add(count);
        if before <= 0 && *queued > 0 {
            self.signal();
        }
    }

    /// One message was taken from the queue.
    pub fn popped(&self) {
        let mut queued = self.queued.lock().unwrap_or_else(|e| e.into_inner());
        *queued -= 1;
        if *queued == 0 {
            self.drain();
        }
    }

    fn signal(&self) {
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

    fn drain(&self) {
        let mut value: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64 from our own non-blocking eventfd.
        let _ = unsafe {
            libc::read(
                self.raw_fd(),
                (&mut value as *mut u64).cast::<libc::c_void>(),
                std::mem::size_of::<u64>(),
            )
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readable(wakeup: &Wakeup) -> bool {
        let mut pfd = libc::pollfd {
            fd: wakeup.raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, zero timeout.
        let n = unsafe { libc::poll(&mut pfd, 1, 0) };
        n == 1 && pfd.revents & libc::POLLIN != 0
    }

    #[test]
    fn readable_exactly_while_messages_are_queued() {
        let wakeup = Wakeup::new().unwrap();
        assert!(!readable(&wakeup));
        wakeup.pushed();
        assert!(readable(&wakeup));
        wakeup.pushed();
        wakeup.popped();
        assert!(readable(&wakeup));
        wakeup.popped();
        assert!(!readable(&wakeup));
        wakeup.pushed();
        assert!(readable(&wakeup));
    }

    #[test]
    fn a_batch_signals_once_and_pops_that_overtook_it_net_out() {
        let wakeup = Wakeup::new().unwrap();
        // The host took two of a batch of three before the worker counted the batch.
        wakeup.popped();
        wakeup.popped();
        wakeup.pushed_many(3);
        assert!(readable(&wakeup), "one message is still queued");
        wakeup.popped();
        assert!(!readable(&wakeup));
        wakeup.pushed_many(0);
        assert!(!readable(&wakeup));
    }

    #[test]
    fn a_pop_that_overtakes_its_push_leaves_the_fd_quiet() {
        let wakeup = Wakeup::new().unwrap();
        // The host took the message before the worker counted it.
        wakeup.popped();
        wakeup.pushed();
        assert!(!readable(&wakeup));
        wakeup.pushed();
        assert!(readable(&wakeup));
        wakeup.popped();
        assert!(!readable(&wakeup));
    }
}
