//! The scripted HTTP/SSE server: a loopback HTTP/1.1 server that answers each connection
//! with a [`Script`] and records every connection and request.

use std::io::{ErrorKind as IoErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::closing::reset_on_close;
use super::listener::{ConnectionThreads, Listening};
use super::request::{read_request, Request};
use super::script::{Script, Step};
use crate::support::sync::{lock, wait_for_change};
use crate::support::waits::ms;

/// One accepted connection, or one later request on a kept-alive connection.
#[derive(Clone, Debug)]
pub struct Connection {
    pub accepted_at: Instant,
    /// None when the client sent no complete request.
    pub request: Option<Request>,
    /// When the server finished its script (closed or reset the connection, or went on
    /// to the next request of a kept-alive connection).
    pub ended_at: Option<Instant>,
    /// The request came on a connection kept alive after an earlier response.
    pub reused: bool,
}

type Router = dyn Fn(&Request, usize) -> Script + Send + Sync;

struct ServerState {
    connections: Mutex<Vec<Connection>>,
    changed: Condvar,
    shutdown: Arc<AtomicBool>,
    router: Box<Router>,
    handlers: ConnectionThreads,
}

/// A loopback HTTP/1.1 server that answers each connection with a script. It stops, and
/// closes every connection, when dropped.
pub struct Server {
    listening: Listening,
    state: Arc<ServerState>,
}

impl Server {
    /// Connection n (0-based) gets `scripts[n]`; the last script repeats.
    pub fn scripted(scripts: Vec<Script>) -> Server {
        assert!(!scripts.is_empty(), "at least one script");
        Server::routed(move |_, n| scripts[n.min(scripts.len() - 1)].clone())
    }

    /// Every connection gets the same script.
    pub fn always(script: Script) -> Server {
        Server::routed(move |_, _| script.clone())
    }

    /// `router(request, n)` picks the script of connection n (0-based) from its request.
    pub fn routed(router: impl Fn(&Request, usize) -> Script + Send + Sync + 'static) -> Server {
        let state = Arc::new(ServerState {
            connections: Mutex::new(Vec::new()),
            changed: Condvar::new(),
            shutdown: Arc::new(AtomicBool::new(false)),
            router: Box::new(router),
            handlers: ConnectionThreads::default(),
        });
        let listening = {
            let state = state.clone();
            Listening::start("test-server", state.shutdown.clone(), move |stream| {
                let index = state.add_connection(false);
                let conn_state = state.clone();
                state.handlers.spawn(format!("test-conn-{index}"), move || {
                    serve(stream, index, conn_state)
                });
            })
        };
        Server { listening, state }
    }

    pub fn port(&self) -> u16 {
        self.listening.port()
    }

    /// `http://127.0.0.1:PORT` + path.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port(), path)
    }

    pub fn connections(&self) -> Vec<Connection> {
        lock(&self.state.connections).clone()
    }

    pub fn connection_count(&self) -> usize {
        lock(&self.state.connections).len()
    }

    /// The requests received so far, in connection order.
    pub fn requests(&self) -> Vec<Request> {
        lock(&self.state.connections)
            .iter()
            .filter_map(|c| c.request.clone())
            .collect()
    }

    /// Waits until at least `n` complete requests have arrived; panics after `timeout`.
    pub fn wait_for_requests(&self, n: usize, timeout: Duration) -> Vec<Request> {
        self.wait_for(timeout, |conns| {
            conns.iter().filter(|c| c.request.is_some()).count() >= n
        })
        .unwrap_or_else(|conns| {
            panic!(
                "expected {n} requests within {timeout:?}, got {}: {conns:#?}",
                conns.len()
            )
        });
        self.requests()
    }

    /// Waits until `done(connections)` holds; Err(connections) after `timeout`.
    pub fn wait_for(
        &self,
        timeout: Duration,
        mut done: impl FnMut(&[Connection]) -> bool,
    ) -> Result<(), Vec<Connection>> {
        let state = &self.state;
        match wait_for_change(&state.connections, &state.changed, timeout, |c| done(c)) {
            (_, true) => Ok(()),
            (conns, false) => Err(conns.clone()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.listening.stop();
        self.state.handlers.join_all(|| {});
    }
}

impl ServerState {
    /// A new entry for an accepted connection, or for a later request on a kept-alive one.
    fn add_connection(&self, reused: bool) -> usize {
        let mut conns = lock(&self.connections);
        conns.push(Connection {
            accepted_at: Instant::now(),
            request: None,
            ended_at: None,
            reused,
        });
        self.changed.notify_all();
        conns.len() - 1
    }
}

fn serve(mut stream: TcpStream, first_index: usize, state: Arc<ServerState>) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let _ = stream.set_read_timeout(Some(ms(20)));
    let mut index = Some(first_index);
    loop {
        let request = read_request(&mut stream, &state.shutdown);
        let this = {
            let mut conns = lock(&state.connections);
            let this = match (index, &request) {
                (Some(i), _) => i,
                // A later request on a kept-alive connection: a new entry.
                (None, Some(_)) => {
                    conns.push(Connection {
                        accepted_at: Instant::now(),
                        request: None,
                        ended_at: None,
                        reused: true,
                    });
                    conns.len() - 1
                }
                (None, None) => return,
            };
            conns[this].request = request.clone();
            state.changed.notify_all();
            this
        };
        let Some(request) = request else {
            finish(&state, this);
            return;
        };
        let script = (state.router)(&request, this);
        match run_script(&mut stream, script, &state) {
            Ending::KeepAlive => {
                finish(&state, this);
                index = None;
            }
            Ending::Reset => {
                drop(stream);
                finish(&state, this);
                return;
            }
            Ending::Close => {
                let _ = stream.shutdown(Shutdown::Write);
                // Let the client see the FIN before the socket goes; unread input would
                // turn the close into a reset.
                let _ = stream.set_read_timeout(Some(ms(10)));
                let mut sink = [0u8; 1024];
                let _ = stream.read(&mut sink);
                drop(stream);
                finish(&state, this);
                return;
            }
        }
    }
}

enum Ending {
    Close,
    Reset,
    KeepAlive,
}

fn run_script(stream: &mut TcpStream, script: Script, state: &ServerState) -> Ending {
    for step in script.0 {
        if state.shutdown.load(Ordering::SeqCst) {
            return Ending::Close;
        }
        match step {
            Step::Send(bytes) => {
                if stream
                    .write_all(&bytes)
                    .and_then(|_| stream.flush())
                    .is_err()
                {
                    return Ending::Close;
                }
            }
            Step::Trickle(bytes, gap) => {
                for byte in bytes {
                    if stream.write_all(&[byte]).is_err() || !pause(&state.shutdown, gap) {
                        return Ending::Close;
                    }
                }
            }
            Step::Repeat {
                bytes,
                every,
                times,
            } => {
                for _ in 0..times {
                    if !pause(&state.shutdown, every) || stream.write_all(&bytes).is_err() {
                        return Ending::Close;
                    }
                }
            }
            Step::Sleep(duration) => {
                if !pause(&state.shutdown, duration) {
                    return Ending::Close;
                }
            }
            Step::CloseAbruptly => {
                reset_on_close(stream);
                return Ending::Reset;
            }
            Step::Close => return Ending::Close,
            Step::HoldOpen => {
                hold_open(stream, &state.shutdown);
                return Ending::Close;
            }
            Step::KeepAlive => return Ending::KeepAlive,
        }
    }
    Ending::Close
}

fn finish(state: &ServerState, index: usize) {
    let mut conns = lock(&state.connections);
    conns[index].ended_at = Some(Instant::now());
    state.changed.notify_all();
}

/// Sleeps `duration` unless the server shuts down first (then false).
fn pause(shutdown: &AtomicBool, duration: Duration) -> bool {
    let deadline = Instant::now() + duration;
    loop {
        if shutdown.load(Ordering::SeqCst) {
            return false;
        }
        let now = Instant::now();
        if now >= deadline {
            return true;
        }
        thread::sleep((deadline - now).min(ms(10)));
    }
}

/// Keeps the connection until the server shuts down or the client closes its end.
fn hold_open(stream: &mut TcpStream, shutdown: &AtomicBool) {
    let _ = stream.set_read_timeout(Some(ms(10)));
    let mut buf = [0u8; 1024];
    while !shutdown.load(Ordering::SeqCst) {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), IoErrorKind::WouldBlock | IoErrorKind::TimedOut) => {}
            Err(e) if e.kind() == IoErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}
