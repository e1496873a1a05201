//! fork(): which process a client belongs to.
//!
//! After fork() the child has one thread, the one that called fork(). A client inherited
//! from the parent has no worker thread there, and a lock that any other thread of the
//! parent held at that moment (the worker inside a callback or filling the queue, a
//! poller taking from it) stays locked in the child forever. Its sockets and wakeup fd
//! are the parent's too: a TLS close_notify, a shutdown() or a read of the eventfd from
//! the child would reach the parent's connection or steal its wakeup.
//!
//! The rules:
//! - A `pthread_atfork` child handler counts the forks along the line of descent: the
//!   process's *generation* (0 in a process that never forked since the library loaded;
//!   the parent keeps its number, the child gets one more).
//! - A [`ProcessLocal`] value remembers the generation it was made in. In a process of
//!   another generation it is *inherited*: [`ProcessLocal::get`] gives nothing, and
//!   dropping it leaks it, touching none of its locks, threads or descriptors.
//! - The leak is the price of never deadlocking: the child cannot know what a vanished
//!   thread held, so it frees nothing that such a thread might have been using.
//! - The handler is registered once, by [`watch`], before the first client starts: a
//!   client made before registration could not tell a fork.
//! - No fork off unix (Windows): nothing is ever inherited there.
//!
//! Only fork() through the C library runs the handler. posix_spawn and vfork, which exec
//! at once, need none; a raw fork system call would go unnoticed.

use std::fmt;
use std::io;
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Forks along the line of descent of this process (see the module rules).
static GENERATION: AtomicUsize = AtomicUsize::new(0);

/// Whether the child handler is registered in this process (and so in its children).
static WATCHING: AtomicBool = AtomicBool::new(false);

/// Registers the fork handler, once per process; call before making anything a child of
/// fork() could inherit. Fails only when the system cannot record the handler (ENOMEM).
///
/// Not `std::sync::Once`: a fork while another thread is inside `call_once` would leave
/// the child's `Once` running forever, and the child's first client would wait for it.
/// Two threads racing here may both register; each fork then counts twice, which tells
/// the generations apart just as well.
pub(crate) fn watch() -> io::Result<()> {
    if !WATCHING.load(Ordering::Acquire) {
        os::on_fork_in_child(forked)?;
        WATCHING.store(true, Ordering::Release);
    }
    Ok(())
}

/// The child handler. fork() may be called from a signal handler, so this must be
/// async-signal-safe: one lock-free atomic add, nothing else. Relaxed is enough: it runs
/// in the child's only thread before fork() returns there, and threads started later see
/// it through the spawn.
extern "C" fn forked() {
    GENERATION.fetch_add(1, Ordering::Relaxed);
}

fn generation() -> usize {
    GENERATION.load(Ordering::Relaxed)
}

/// A value used and dropped only in the process that made it; in a child of fork() it is
/// inherited: out of reach, and leaked when dropped (see the module rules).
pub(crate) struct ProcessLocal<T> {
    value: ManuallyDrop<T>,
    generation: usize,
}

impl<T> ProcessLocal<T> {
    /// `value`, belonging to this process. Forks are noticed only once [`watch`] has run
    /// in this process or an ancestor (opening a client does).
    pub fn new(value: T) -> ProcessLocal<T> {
        ProcessLocal {
            value: ManuallyDrop::new(value),
            generation: generation(),
        }
    }

    /// Whether this is a child of fork() and the value was made before the fork.
    pub fn inherited(&self) -> bool {
        generation() != self.generation
    }

    /// The value, in the process that made it; `None` where it was inherited.
    pub fn get(&self) -> Option<&T> {
        match self.inherited() {
            false => Some(&self.value),
            true => None,
        }
    }
}

impl<T> Drop for ProcessLocal<T> {
    fn drop(&mut self) {
        if !self.inherited() {
            // SAFETY: `value` is dropped here, once, and `self` is never used again.
            unsafe { ManuallyDrop::drop(&mut self.value) }
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for ProcessLocal<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.get() {
            Some(value) => value.fmt(f),
            None => f.write_str("(inherited across fork)"),
        }
    }
}

#[cfg(unix)]
mod os {
    use std::io;

    /// Runs `handler` in the child of every later fork() of this process.
    pub fn on_fork_in_child(handler: extern "C" fn()) -> io::Result<()> {
        // SAFETY: registers a plain function with no prepare or parent handler; `handler`
        // is async-signal-safe (see `forked`) and lives as long as the library: glibc
        // drops the handlers of a library it unloads (dlclose), musl never unloads one.
        let status = unsafe { libc::pthread_atfork(None, None, Some(handler)) };
        match status {
            0 => Ok(()),
            error => Err(io::Error::from_raw_os_error(error)),
        }
    }
}

#[cfg(not(unix))]
mod os {
    use std::io;

    /// No fork() here: nothing to watch.
    pub fn on_fork_in_child(_handler: extern "C" fn()) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    /// Counts its drops.
    #[derive(Debug)]
    struct Dropped(Arc<AtomicUsize>);

    impl Drop for Dropped {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_value_of_this_process_is_reachable_and_dropped() {
        watch().unwrap();
        let drops = Arc::new(AtomicUsize::new(0));
        let local = ProcessLocal::new(Dropped(drops.clone()));
        assert!(!local.inherited());
        assert!(local.get().is_some());
        drop(local);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_value_of_another_generation_is_out_of_reach_and_leaked() {
        let drops = Arc::new(AtomicUsize::new(0));
        // What a child of fork() sees: made in the generation before this one. (Forking
        // the multithreaded test harness would be the real thing, and unsafe; the C test
        // tests/c/fork.c forks for real.)
        let mut local = ProcessLocal::new(Dropped(drops.clone()));
        local.generation = generation().wrapping_sub(1);
        assert!(local.inherited());
        assert!(local.get().is_none());
        assert_eq!(format!("{local:?}"), "(inherited across fork)");
        drop(local);
        assert_eq!(
            drops.load(Ordering::SeqCst),
            0,
            "dropped in a process it was not made in"
        );
        assert_eq!(Arc::strong_count(&drops), 2, "leaked, not dropped");
    }
}
