//! Locks that outlive a panicking holder, and bounded waits on a condition variable: what
//! every test server and the recorder share.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Locks `mutex`, also after a thread panicked while holding it (a failed test must not
/// turn every later lock into a second, misleading panic).
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Waits on `changed` until `done(value)` holds or `timeout` passes. Returns the guard and
/// whether `done` held: the caller decides how to fail.
pub fn wait_for_change<'a, T>(
    mutex: &'a Mutex<T>,
    changed: &Condvar,
    timeout: Duration,
    mut done: impl FnMut(&T) -> bool,
) -> (MutexGuard<'a, T>, bool) {
    let deadline = Instant::now() + timeout;
    let mut value = lock(mutex);
    loop {
        if done(&value) {
            return (value, true);
        }
        let now = Instant::now();
        if now >= deadline {
            return (value, false);
        }
        value = changed
            .wait_timeout(value, deadline - now)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
}
