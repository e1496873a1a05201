//! The poll-mode wakeup handle: what the host's event loop (poll(2), epoll, kqueue,
//! select, WSAPoll, a QSocketNotifier) waits on. The queue makes it readable while it
//! holds messages it has announced and the host has not taken (see `poll_queue`).
//!
//! One rule on every platform, kept here and not in each implementation: [`Wakeup::set`]
//! makes the handle readable, [`Wakeup::clear`] makes it unreadable, and the handle is
//! readable exactly between a set and the next clear, however many sets came in between.
//! Only the first set after a clear reaches the system (one write per burst), and a clear
//! after no set makes no system call.
//!
//! The signal under it, chosen by platform:
//! - Linux, Android: an eventfd (one descriptor, the cheapest);
//! - the other unix systems (macOS, the BSDs): a pipe, both ends non-blocking and
//!   close-on-exec (no eventfd there). The test-only feature `pipe-wakeup` picks it on
//!   Linux too, so that Linux CI runs the macOS and BSD path;
//! - Windows: a connected loopback TCP socket pair (select and WSAPoll accept only
//!   sockets, and so does a QSocketNotifier there); the handle is the read end's SOCKET.

use std::io;
use std::sync::{Mutex, MutexGuard};

#[cfg(all(
    any(target_os = "linux", target_os = "android"),
    not(feature = "pipe-wakeup")
))]
mod eventfd;
#[cfg(all(
    any(target_os = "linux", target_os = "android"),
    not(feature = "pipe-wakeup")
))]
use eventfd::Signal;

#[cfg(all(
    unix,
    any(
        not(any(target_os = "linux", target_os = "android")),
        feature = "pipe-wakeup"
    )
))]
mod pipe;
#[cfg(all(
    unix,
    any(
        not(any(target_os = "linux", target_os = "android")),
        feature = "pipe-wakeup"
    )
))]
use pipe::Signal;

#[cfg(windows)]
mod socketpair;
#[cfg(windows)]
use socketpair::Signal;

/// A handle the host's event loop waits on, the same size on every platform (`intptr_t`
/// in C): a file descriptor on POSIX, a SOCKET on Windows. Never -1 for a live handle.
pub type RawHandle = isize;

/// A handle that is readable exactly between a [`set`](Wakeup::set) and the next
/// [`clear`](Wakeup::clear) (the module rule).
#[derive(Debug)]
pub struct Wakeup {
    /// Whether the signal is raised. The lock makes a set and a clear one step each with
    /// their system call, so that this flag and the handle's readiness never drift apart,
    /// whichever threads call. (The queue calls both under its own lock; this one is
    /// uncontended and costs next to nothing beside the system call.)
    raised: Mutex<bool>,
    signal: Signal,
}

impl Wakeup {
    /// A new, unreadable wakeup handle (close-on-exec, non-blocking).
    pub fn new() -> io::Result<Wakeup> {
        Ok(Wakeup {
            raised: Mutex::new(false),
            signal: Signal::new()?,
        })
    }

    /// The handle to wait on; owned by this `Wakeup` (closed when it is dropped).
    pub fn handle(&self) -> RawHandle {
        self.signal.handle()
    }

    /// Makes the handle readable; a no-op while it already is.
    pub fn set(&self) {
        let mut raised = self.raised();
        if *raised {
            return;
        }
        match self.signal.raise() {
            Ok(()) => *raised = true,
            // Left lowered, so that the next set tries again.
            Err(e) => log::warn!("could not make the wakeup handle readable: {e}"),
        }
    }

    /// Makes the handle unreadable; a no-op while it is not readable.
    pub fn clear(&self) {
        let mut raised = self.raised();
        if *raised {
            self.signal.lower();
            *raised = false;
        }
    }

    fn raised(&self) -> MutexGuard<'_, bool> {
        self.raised.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Reads a non-blocking byte stream (the pipe's or the socket pair's read end) until
/// nothing is left, so that it stops being readable.
#[cfg(not(all(
    any(target_os = "linux", target_os = "android"),
    not(feature = "pipe-wakeup")
)))]
fn drain(mut reader: impl io::Read) {
    let mut bytes = [0u8; 64];
    loop {
        match reader.read(&mut bytes) {
            Ok(0) => return, // the write end is closed: never, while the signal lives
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) => {
                log::warn!("could not make the wakeup handle unreadable: {e}");
                return;
            }
        }
    }
}

/// The bytes a byte-stream signal's read end holds, taken out of it: for the tests of the
/// pipe and the socket pair, which must hold at most one byte however often they are raised.
#[cfg(all(
    test,
    not(all(
        any(target_os = "linux", target_os = "android"),
        not(feature = "pipe-wakeup")
    ))
))]
pub(super) fn take_pending_bytes(mut reader: impl io::Read) -> usize {
    let mut bytes = [0u8; 64];
    match reader.read(&mut bytes) {
        Ok(n) => n,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
        Err(e) => panic!("read: {e}"),
    }
}

/// Whether `handle` is readable within `timeout` (0: right now), as the host's event
/// loop would see it: poll(2) on POSIX, WSAPoll on Windows. For tests of what watches it.
#[cfg(test)]
pub(crate) fn readable_within(handle: RawHandle, timeout: std::time::Duration) -> bool {
    let timeout_ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    probe::readable_within(handle, timeout_ms)
}

#[cfg(all(test, unix))]
mod probe {
    use super::RawHandle;

    pub fn readable_within(handle: RawHandle, timeout_ms: i32) -> bool {
        let mut pfd = libc::pollfd {
            fd: handle as libc::c_int,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        n == 1 && pfd.revents & libc::POLLIN != 0
    }
}

#[cfg(all(test, windows))]
mod probe {
    use super::RawHandle;

    /// WSAPOLLFD of winsock2.h.
    #[repr(C)]
    struct PollFd {
        fd: usize,
        events: i16,
        revents: i16,
    }
    const POLLRDNORM: i16 = 0x0100;

    // Test-only: std already links ws2_32, and the crate has no Windows bindings crate.
    #[link(name = "ws2_32")]
    extern "system" {
        fn WSAPoll(fds: *mut PollFd, count: u32, timeout_ms: i32) -> i32;
    }

    pub fn readable_within(handle: RawHandle, timeout_ms: i32) -> bool {
        let mut pfd = PollFd {
            fd: handle as usize,
            events: POLLRDNORM,
            revents: 0,
        };
        // SAFETY: one valid WSAPOLLFD.
        let n = unsafe { WSAPoll(&mut pfd, 1, timeout_ms) };
        n == 1 && pfd.revents & POLLRDNORM != 0
    }
}

/// The descriptor flags the POSIX signals promise, for their tests.
#[cfg(all(test, unix))]
mod posix_flags {
    use std::os::fd::RawFd;

    pub fn close_on_exec(fd: RawFd) -> bool {
        // SAFETY: fcntl with integer arguments only.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        flags >= 0 && flags & libc::FD_CLOEXEC != 0
    }

    pub fn non_blocking(fd: RawFd) -> bool {
        // SAFETY: fcntl with integer arguments only.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        flags >= 0 && flags & libc::O_NONBLOCK != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    fn readable(wakeup: &Wakeup) -> bool {
        readable_within(wakeup.handle(), Duration::ZERO)
    }

    #[test]
    fn readable_exactly_between_set_and_clear() {
        let wakeup = Wakeup::new().unwrap();
        assert!(!readable(&wakeup), "a new handle is readable");
        wakeup.set();
        assert!(readable(&wakeup), "not readable after set");
        wakeup.clear();
        assert!(!readable(&wakeup), "readable after clear");
        wakeup.set();
        assert!(readable(&wakeup), "not readable after a second set");
        wakeup.clear();
        assert!(!readable(&wakeup));
    }

    #[test]
    fn one_clear_undoes_any_number_of_sets() {
        let wakeup = Wakeup::new().unwrap();
        wakeup.set();
        wakeup.set();
        wakeup.set();
        assert!(readable(&wakeup));
        wakeup.clear();
        assert!(!readable(&wakeup), "readable after sets and one clear");
        wakeup.set();
        assert!(readable(&wakeup), "the next set after the clear is lost");
    }

    #[test]
    fn clear_when_not_set_changes_nothing() {
        let wakeup = Wakeup::new().unwrap();
        wakeup.clear();
        wakeup.clear();
        assert!(!readable(&wakeup));
        wakeup.set();
        assert!(readable(&wakeup), "a clear before the set swallowed it");
        wakeup.clear();
        wakeup.clear();
        assert!(!readable(&wakeup));
    }

    #[test]
    fn a_waiter_on_another_thread_sees_the_set() {
        let wakeup = Arc::new(Wakeup::new().unwrap());
        let handle = wakeup.handle();
        let waiter = std::thread::spawn(move || {
            let started = Instant::now();
            let woke = readable_within(handle, Duration::from_secs(10));
            (woke, started.elapsed())
        });
        std::thread::sleep(Duration::from_millis(50));
        wakeup.set();
        let (woke, waited) = waiter.join().unwrap();
        assert!(woke, "the waiting thread was not woken");
        assert!(waited < Duration::from_secs(5), "woken late: {waited:?}");
        wakeup.clear();
        assert!(!readable(&wakeup));
    }

    #[test]
    fn sets_and_clears_from_racing_threads_keep_the_rule() {
        let wakeup = Arc::new(Wakeup::new().unwrap());
        let threads: Vec<_> = (0..4)
            .map(|i| {
                let wakeup = wakeup.clone();
                std::thread::spawn(move || {
                    for _ in 0..500 {
                        if i % 2 == 0 {
                            wakeup.set();
                        } else {
                            wakeup.clear();
                        }
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let raised = *wakeup.raised();
        assert_eq!(readable(&wakeup), raised, "readiness drifted from the flag");
        wakeup.clear();
        assert!(!readable(&wakeup));
    }

    #[test]
    fn the_handle_is_close_on_exec_and_non_blocking() {
        let wakeup = Wakeup::new().unwrap();
        assert_ne!(wakeup.handle(), -1);
        assert!(
            wakeup.signal.close_on_exec(),
            "a child process would inherit it"
        );
        assert!(
            wakeup.signal.non_blocking(),
            "a read could block the caller"
        );
        wakeup.set();
        wakeup.clear();
        assert!(wakeup.signal.close_on_exec());
        assert!(wakeup.signal.non_blocking());
    }
}
