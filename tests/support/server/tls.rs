//! A real rustls HTTPS server on 127.0.0.1 that answers every request with a 200 event
//! stream (or any response written as it is), then holds, closes or resets the stream.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection};

use super::certificates::{Issued, TestCa};
use super::closing::reset_on_close;
use super::listener::{ConnectionThreads, Listening};
use super::responses::ok_stream;
use crate::support::sync::lock;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A rustls server configuration presenting `server`; with `client_ca`, every client must
/// present a certificate signed by it (mutual TLS).
pub fn server_config(server: &Issued, client_ca: Option<&TestCa>) -> Arc<ServerConfig> {
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match client_ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            roots.add(ca.cert()).unwrap();
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let config = builder
        .with_single_cert(vec![server.cert.clone()], server.key.clone_key())
        .unwrap();
    Arc::new(config)
}

/// What the server does after it has sent the response head and the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterBody {
    /// Keeps the stream open until the server is dropped or the client leaves.
    Hold,
    /// Ends the stream (close_notify, then FIN).
    Close,
    /// Waits, sends these bytes, then holds the stream open like `Hold`.
    SendLater(Duration, &'static str),
    /// Waits, then resets the connection (no close_notify; SO_LINGER 0, then close: the
    /// client sees an RST).
    ResetAfter(Duration),
}

#[derive(Default)]
struct State {
    shutdown: Arc<AtomicBool>,
    /// Why each failed handshake failed, as the server saw it.
    handshake_errors: Mutex<Vec<String>>,
    /// The request heads served, in order.
    requests: Mutex<Vec<String>>,
    handlers: ConnectionThreads,
}

/// An HTTPS server on 127.0.0.1 that answers every request with `HTTP/1.1 200`,
/// `Content-Type: text/event-stream` and `body` (or any response, with `start_raw`). It
/// stops, and closes every connection, when dropped.
pub struct TlsServer {
    listening: Listening,
    state: Arc<State>,
}

impl TlsServer {
    pub fn start(config: Arc<ServerConfig>, body: &str, after: AfterBody) -> TlsServer {
        TlsServer::start_raw(config, &format!("{}{body}", ok_stream()), after)
    }

    /// Answers every request with `response`, written as it is (head and body).
    pub fn start_raw(config: Arc<ServerConfig>, response: &str, after: AfterBody) -> TlsServer {
        let state = Arc::new(State::default());
        let response = response.as_bytes().to_vec();
        let listening = {
            let state = state.clone();
            Listening::start("tls-test-server", state.shutdown.clone(), move |stream| {
                let (config, response, conn_state) =
                    (config.clone(), response.clone(), state.clone());
                state.handlers.spawn("tls-test-conn".into(), move || {
                    serve(stream, config, &response, after, &conn_state)
                });
            })
        };
        TlsServer { listening, state }
    }

    pub fn port(&self) -> u16 {
        self.listening.port()
    }

    /// `https://localhost:PORT` + path.
    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{}", self.port(), path)
    }

    pub fn handshake_errors(&self) -> Vec<String> {
        lock(&self.state.handshake_errors).clone()
    }

    pub fn requests(&self) -> Vec<String> {
        lock(&self.state.requests).clone()
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.listening.stop();
        self.state.handlers.join_all(|| {});
    }
}

/// A bound on each connection's handshake and request.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a blocked read looks at the shutdown flag.
const TICK: Duration = Duration::from_millis(20);

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

fn serve(
    mut tcp: TcpStream,
    config: Arc<ServerConfig>,
    body: &[u8],
    after: AfterBody,
    state: &State,
) {
    let _ = tcp.set_nonblocking(false);
    let _ = tcp.set_nodelay(true);
    let _ = tcp.set_read_timeout(Some(TICK));
    let _ = tcp.set_write_timeout(Some(CONNECTION_TIMEOUT));
    let mut conn = ServerConnection::new(config).expect("a server connection");
    let deadline = Instant::now() + CONNECTION_TIMEOUT;
    let stopping = || state.shutdown.load(Ordering::SeqCst) || Instant::now() >= deadline;

    // The handshake. A failure has already been answered with an alert by complete_io.
    while conn.is_handshaking() {
        match conn.complete_io(&mut tcp) {
            Ok((0, 0)) if conn.is_handshaking() && conn.wants_read() => {
                // The client closed before the handshake finished.
                lock(&state.handshake_errors).push("client closed the connection".into());
                return;
            }
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {
                if stopping() {
                    return;
                }
            }
            Err(e) => {
                lock(&state.handshake_errors).push(e.to_string());
                linger(tcp, state);
                return;
            }
        }
    }

    // The request head.
    let mut stream = rustls::StreamOwned::new(conn, tcp);
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
            Err(e) if is_timeout(&e) => {
                if stopping() {
                    return;
                }
            }
            Err(e) => {
                // TLS 1.3: a refused client certificate shows here, after the handshake.
                lock(&state.handshake_errors).push(e.to_string());
                let rustls::StreamOwned { sock, .. } = stream;
                linger(sock, state);
                return;
            }
        }
    }
    lock(&state.requests).push(String::from_utf8_lossy(&request).into_owned());

    // `body` is the whole response: head and body (see TlsServer::start_raw).
    if stream.write_all(body).is_err() || stream.flush().is_err() {
        return;
    }
    if let AfterBody::SendLater(pause, more) = after {
        thread::sleep(pause);
        if stream.write_all(more.as_bytes()).is_err() || stream.flush().is_err() {
            return;
        }
    }
    match after {
        AfterBody::Hold | AfterBody::SendLater(..) => {
            // Until the client leaves or the server stops.
            while !state.shutdown.load(Ordering::SeqCst) {
                match stream.read(&mut buf) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) if is_timeout(&e) => {}
                    Err(_) => break,
                }
            }
        }
        AfterBody::ResetAfter(pause) => {
            thread::sleep(pause);
            reset_on_close(&stream.sock);
        }
        AfterBody::Close => {
            stream.conn.send_close_notify();
            let _ = stream.flush();
            let rustls::StreamOwned { sock, .. } = stream;
            linger(sock, state);
        }
    }
}

/// Ends our side and reads until the client closes its own (or a short while passes), so
/// that unread client data does not turn our close into a reset that could overtake the
/// alert or the close_notify just sent.
fn linger(mut tcp: TcpStream, state: &State) {
    let _ = tcp.shutdown(Shutdown::Write);
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline && !state.shutdown.load(Ordering::SeqCst) {
        match tcp.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {}
            Err(_) => return,
        }
    }
}
