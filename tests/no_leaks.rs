//! Closing and dropping clients in every state leaves no thread and no file descriptor
//! behind. Alone in its own test binary, so no other test's threads or sockets are counted.
//! Linux only: threads and descriptors are counted in /proc/self.

#![cfg(target_os = "linux")]

mod support;

use std::time::{Duration, Instant};

use sse_client::{Client, Config, Handler};
use support::{ms, Script, Server, TIMEOUT};

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

fn worker_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim() == "sse_client")
        .count()
}

struct Ignore;
impl Handler for Ignore {}

#[test]
fn dropping_clients_in_every_state_leaves_no_thread_or_fd_behind() {
    let (fds_before, threads_before) = (open_fds(), threads());
    let server = Server::routed(|_, n| match n % 3 {
        // Reading an open stream.
        0 => Script::stream_then_hold("data: hello\n\n"),
        // Waiting (5 s) to reconnect after a 503.
        1 => Script::status(503, &[]),
        // Connecting: the request is never answered.
        _ => Script::silent(),
    });
    let mut config = Config::new(&server.url("/events")).unwrap();
    config
        .set_reconnect_delay(Duration::from_secs(5), Duration::from_secs(5))
        .unwrap();
    config.set_connect_timeout(Some(Duration::from_secs(30)));

    const CLIENTS: usize = 30;
    let clients: Vec<Client> = (0..CLIENTS)
        .map(|i| match i % 2 {
            0 => Client::open(&config, Ignore).unwrap(),
            _ => Client::open_polled(&config).unwrap(),
        })
        .collect();
    server.wait_for_requests(CLIENTS, TIMEOUT);
    std::thread::sleep(ms(100));
    assert_eq!(worker_threads(), CLIENTS, "one worker thread per client");
    assert!(
        open_fds() >= fds_before + CLIENTS,
        "each client holds a socket"
    );

    let started = Instant::now();
    drop(clients);
    let took = started.elapsed();
    // Generous: close interrupts every state, so this is milliseconds when all is well,
    // and a 30 s connect timeout or a 5 s backoff would show up as seconds.
    assert!(
        took < Duration::from_secs(4),
        "dropping {CLIENTS} clients took {took:?}"
    );
    assert_eq!(worker_threads(), 0, "every worker thread was joined");

    drop(server);
    assert_eq!(threads(), threads_before, "threads left behind");
    assert_eq!(open_fds(), fds_before, "file descriptors left behind");
}
