//! TLS test support: certificates made in the test with rcgen (a private CA and the server
//! and client certificates it signs, written as PEM files to a temporary directory), and
//! a real rustls HTTPS server on 127.0.0.1 that answers every request with a 200 event
//! stream.
//!
//! Include it next to `mod support;` (it resets connections with `support`'s helper).
//!
//! Every wait here is bounded, so a misbehaving client fails a test instead of hanging it.

#![allow(dead_code)]

use std::io::{ErrorKind as IoErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection};

// ---------------------------------------------------------------------------------------
// Certificates
// ---------------------------------------------------------------------------------------

/// A certificate and its key, both DER.
pub struct Issued {
    pub cert: CertificateDer<'static>,
    pub key: PrivateKeyDer<'static>,
    pub cert_pem: String,
    pub key_pem: String,
}

/// A certificate authority that exists only in this test.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl TestCa {
    pub fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        TestCa { issuer }
    }

    pub fn cert(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A server certificate for these names (DNS names or IP addresses).
    pub fn server(&self, names: &[&str]) -> Issued {
        self.issue(names, ExtendedKeyUsagePurpose::ServerAuth, false)
    }

    /// A server certificate for these names that expired in 2001.
    pub fn expired_server(&self, names: &[&str]) -> Issued {
        self.issue(names, ExtendedKeyUsagePurpose::ServerAuth, true)
    }

    /// A client certificate (mutual TLS) for `name`.
    pub fn client(&self, name: &str) -> Issued {
        self.issue(&[name], ExtendedKeyUsagePurpose::ClientAuth, false)
    }

    fn issue(&self, names: &[&str], usage: ExtendedKeyUsagePurpose, expired: bool) -> Issued {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names.clone()).unwrap();
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().cloned().unwrap_or_default(),
        );
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![usage];
        if expired {
            params.not_before = rcgen::date_time_ymd(2000, 1, 1);
            params.not_after = rcgen::date_time_ymd(2001, 1, 1);
        }
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Issued {
            cert: cert.der().clone(),
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

/// A temporary directory, removed with everything in it when dropped.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "sse_client_tls_{label}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&path).expect("create a temporary directory");
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `contents` to `name` in this directory; returns the file's path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path.join(name);
        std::fs::write(&path, contents).expect("write a temporary file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

// ---------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------

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
    shutdown: AtomicBool,
    /// Why each failed handshake failed, as the server saw it.
    handshake_errors: Mutex<Vec<String>>,
    /// The request heads served, in order.
    requests: Mutex<Vec<String>>,
    handlers: Mutex<Vec<JoinHandle<()>>>,
}

/// An HTTPS server on 127.0.0.1 that answers every request with `HTTP/1.1 200`,
/// `Content-Type: text/event-stream` and `body` (or any response, with `start_raw`). It stops, and closes every connection,
/// when dropped.
pub struct TlsServer {
    port: u16,
    state: Arc<State>,
    acceptor: Option<JoinHandle<()>>,
}

impl TlsServer {
    pub fn start(config: Arc<ServerConfig>, body: &str, after: AfterBody) -> TlsServer {
        let head =
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n";
        TlsServer::start_raw(config, &format!("{head}{body}"), after)
    }

    /// Answers every request with `response`, written as it is (head and body).
    pub fn start_raw(config: Arc<ServerConfig>, response: &str, after: AfterBody) -> TlsServer {
        let body = response;
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(State::default());
        let body = body.as_bytes().to_vec();
        let acceptor = {
            let state = state.clone();
            thread::Builder::new()
                .name("tls-test-server".into())
                .spawn(move || accept_loop(listener, config, body, after, state))
                .unwrap()
        };
        TlsServer {
            port,
            state,
            acceptor: Some(acceptor),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `https://localhost:PORT` + path.
    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{}", self.port, path)
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
        self.state.shutdown.store(true, Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        let handlers = std::mem::take(&mut *lock(&self.state.handlers));
        for handler in handlers {
            let _ = handler.join();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn accept_loop(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    body: Vec<u8>,
    after: AfterBody,
    state: Arc<State>,
) {
    while !state.shutdown.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let (config, body, conn_state) = (config.clone(), body.clone(), state.clone());
                let handler = thread::Builder::new()
                    .name("tls-test-conn".into())
                    .spawn(move || serve(stream, config, &body, after, &conn_state))
                    .unwrap();
                lock(&state.handlers).push(handler);
            }
            Err(e) if e.kind() == IoErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(2))
            }
            Err(e) if e.kind() == IoErrorKind::Interrupted => {}
            Err(e) => panic!("TLS test server accept failed: {e}"),
        }
    }
}

/// A bound on each connection's handshake and request.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a blocked read looks at the shutdown flag.
const TICK: Duration = Duration::from_millis(20);

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(e.kind(), IoErrorKind::WouldBlock | IoErrorKind::TimedOut)
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
            crate::support::reset_on_close(&stream.sock);
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
