//! The /proc census of what a scenario must give back: the client's worker threads, the
//! test server's threads and the process's file descriptors. Linux: it reads /proc.

use std::time::Duration;

use crate::support::wait_until;

fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                .map(|name| name.trim().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn open_fds() -> Vec<String> {
    let mut fds: Vec<String> = std::fs::read_dir("/proc/self/fd")
        .map(|dir| {
            dir.filter_map(|e| {
                let e = e.ok()?;
                let target = std::fs::read_link(e.path()).ok()?;
                Some(format!(
                    "{}->{}",
                    e.file_name().to_string_lossy(),
                    target.display()
                ))
            })
            .collect()
        })
        .unwrap_or_default();
    fds.sort();
    fds
}

/// What a scenario must give back: client worker threads, test server threads and file
/// descriptors. Other tests' threads (waiting for the scenario lock) are not counted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Census {
    pub workers: usize,
    pub server_threads: usize,
    pub fds: usize,
}

impl Census {
    pub fn take() -> Census {
        let names = thread_names();
        Census {
            workers: names.iter().filter(|n| *n == "sse_client").count(),
            server_threads: names
                .iter()
                .filter(|n| *n == "test-server" || *n == "test-host" || n.starts_with("test-conn-"))
                .count(),
            // read_dir holds one descriptor of its own while counting, every time.
            fds: std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count()),
        }
    }

    /// Waits (up to 2 s: ureq's DNS threads are detached and end on their own) for the
    /// counts to come back to these; panics listing what was left behind.
    pub fn expect_restored(&self) {
        if !wait_until(Duration::from_secs(2), || Census::take() == *self) {
            panic!(
                "left behind: before {self:?}, after {:?}\n  threads: {:?}\n  fds: {:?}",
                Census::take(),
                thread_names(),
                open_fds()
            );
        }
    }
}
