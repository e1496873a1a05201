//! What every loopback test server shares: a listener on 127.0.0.1 with a port of its
//! own, an accept thread that hands each connection on until the server stops, and the
//! connection threads, joined when it stops.

use std::io::ErrorKind as IoErrorKind;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::support::sync::lock;

/// How long the accept thread sleeps when no connection waits: short, so that a client
/// never waits noticeably, and the shutdown flag is seen soon.
const ACCEPT_POLL: Duration = Duration::from_millis(2);

/// A listening loopback port and its accept thread. The server that owns it stops it
/// (sets `shutdown`, joins the accept thread) before joining its connection threads.
pub struct Listening {
    port: u16,
    shutdown: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl Listening {
    /// Binds 127.0.0.1 on a free port and starts the accept thread `name`, which passes
    /// each connection to `on_accept` until `shutdown` is set.
    pub fn start(
        name: &str,
        shutdown: Arc<AtomicBool>,
        mut on_accept: impl FnMut(TcpStream) + Send + 'static,
    ) -> Listening {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let port = listener.local_addr().unwrap().port();
        let acceptor = {
            let shutdown = shutdown.clone();
            let name = name.to_owned();
            thread::Builder::new()
                .name(name.clone())
                .spawn(move || {
                    while !shutdown.load(Ordering::SeqCst) {
                        match listener.accept() {
                            Ok((stream, _)) => on_accept(stream),
                            Err(e) if e.kind() == IoErrorKind::WouldBlock => {
                                thread::sleep(ACCEPT_POLL)
                            }
                            Err(e) if e.kind() == IoErrorKind::Interrupted => {}
                            Err(e) => panic!("{name} accept failed: {e}"),
                        }
                    }
                })
                .unwrap()
        };
        Listening {
            port,
            shutdown,
            acceptor: Some(acceptor),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Sets the shutdown flag and waits for the accept thread: no connection is handed on
    /// after this returns.
    pub fn stop(&mut self) {
        self.shutdown.store(true, Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// The threads a test server started for its connections.
#[derive(Default)]
pub struct ConnectionThreads(Mutex<Vec<JoinHandle<()>>>);

impl ConnectionThreads {
    pub fn spawn(&self, name: String, f: impl FnOnce() + Send + 'static) {
        let handle = thread::Builder::new()
            .name(name)
            .spawn(f)
            .expect("spawn a test server thread");
        lock(&self.0).push(handle);
    }

    /// Joins every thread, those started while joining too; `before_each_pass` runs before
    /// each pass (a proxy shuts its sockets there, so that its relays end).
    pub fn join_all(&self, mut before_each_pass: impl FnMut()) {
        loop {
            before_each_pass();
            let threads = std::mem::take(&mut *lock(&self.0));
            if threads.is_empty() {
                return;
            }
            for thread in threads {
                let _ = thread.join();
            }
        }
    }
}

/// A loopback port with nothing listening on it (connections are refused).
pub fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
