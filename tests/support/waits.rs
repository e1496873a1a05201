//! Bounded waits: every "wait for something that should happen" in the tests ends, so a
//! misbehaving client fails a test instead of hanging it.

use std::thread;
use std::time::{Duration, Instant};

/// The default bound of every "wait for something that should happen" in the tests.
pub const TIMEOUT: Duration = Duration::from_secs(5);

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Polls `cond` every few milliseconds until it holds (true) or `timeout` passes (false).
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(ms(5));
    }
}

/// Runs `f` on a helper thread and returns its result with how long it took; panics if it
/// does not finish within `timeout` (a deadlock then fails the test instead of hanging it).
pub fn within<T: Send + 'static>(
    timeout: Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> (T, Duration) {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let start = Instant::now();
    thread::spawn(move || {
        let out = f();
        let _ = tx.send(out);
    });
    match rx.recv_timeout(timeout) {
        Ok(out) => (out, start.elapsed()),
        Err(_) => panic!("{what} did not finish within {timeout:?} (deadlock?)"),
    }
}
