//! A host's view of a poll-mode client: whether its wakeup handle is readable, and the
//! messages it announced.

use std::time::Duration;

use sse_client::Client;

use crate::support::recorder::Record;
use crate::support::waits::TIMEOUT;

/// Whether a client's wakeup handle is readable within `timeout` (zero: right now), as a
/// host's event loop sees it: poll(2) on POSIX, WSAPoll on Windows.
pub fn handle_readable(handle: isize, timeout: Duration) -> bool {
    let timeout_ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    readiness::readable_within(handle, timeout_ms)
}

#[cfg(unix)]
mod readiness {
    pub fn readable_within(handle: isize, timeout_ms: i32) -> bool {
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

#[cfg(windows)]
mod readiness {
    /// WSAPOLLFD of winsock2.h.
    #[repr(C)]
    struct PollFd {
        fd: usize,
        events: i16,
        revents: i16,
    }
    const POLLRDNORM: i16 = 0x0100;

    #[link(name = "ws2_32")]
    extern "system" {
        fn WSAPoll(fds: *mut PollFd, count: u32, timeout_ms: i32) -> i32;
    }

    pub fn readable_within(handle: isize, timeout_ms: i32) -> bool {
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

/// The first `count` messages of a poll-mode client, taken only when its wakeup handle
/// says they were announced (a poll may take queued messages before that): fails when it
/// stays quiet for [`TIMEOUT`] while messages are due.
pub fn poll_announced(client: &Client, count: usize) -> Vec<Record> {
    let handle = client.wakeup_handle().expect("a poll-mode client");
    let mut polled = Vec::new();
    while polled.len() < count {
        assert!(
            handle_readable(handle, TIMEOUT),
            "not announced after {polled:?}"
        );
        while let Ok(message) = client.poll(Some(Duration::ZERO)) {
            polled.push(Record::from_message(message));
        }
    }
    polled
}
