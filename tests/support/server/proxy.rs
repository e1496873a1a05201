//! Loopback proxies for the proxy tests: an HTTP proxy (CONNECT tunnels, and plain
//! absolute-form requests such as `GET http://host/ HTTP/1.1`) and a SOCKS5 proxy (no
//! authentication or username/password, the CONNECT command, IPv4, IPv6 and domain
//! addresses). Each records what every client asked for, relays the bytes both ways, and
//! stops, closing every connection, when dropped.
//!
//! Every wait here is bounded, so a misbehaving client fails a test instead of hanging it.

use std::io::{ErrorKind as IoErrorKind, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::listener::{ConnectionThreads, Listening};
use crate::support::sync::{lock, wait_for_change};

/// How long a handshake (request head, SOCKS negotiation) may take before the proxy
/// gives up on the client, and how long connecting to a target may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Which protocol a [`ProxyServer`] speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyKind {
    Http,
    Socks5,
}

/// How a SOCKS5 client named its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocksAddress {
    Ipv4,
    Domain,
    Ipv6,
}

/// What one client asked the proxy for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyRequest {
    /// HTTP: the request line as sent (`CONNECT 127.0.0.1:8080 HTTP/1.1`, or
    /// `GET http://127.0.0.1:8080/events HTTP/1.1` for an absolute-form request).
    /// SOCKS5: `CONNECT host:port`.
    pub request_line: String,
    /// `CONNECT` for a tunnel, else the method of an absolute-form request.
    pub method: String,
    /// The target as `host:port` (an IPv6 address in brackets).
    pub target: String,
    /// HTTP: the `Proxy-Authorization` header, if any.
    pub proxy_authorization: Option<String>,
    /// SOCKS5: the username and password of RFC 1929 authentication, if the client
    /// offered it.
    pub socks_credentials: Option<(String, String)>,
    /// SOCKS5: how the target was named.
    pub socks_address: Option<SocksAddress>,
    /// Whether the proxy reached the target (and told the client so).
    pub connected: bool,
}

impl ProxyRequest {
    fn new(request_line: String, method: &str, target: String) -> ProxyRequest {
        ProxyRequest {
            request_line,
            method: method.to_owned(),
            target,
            proxy_authorization: None,
            socks_credentials: None,
            socks_address: None,
            connected: false,
        }
    }
}

#[derive(Default)]
struct State {
    shutdown: Arc<AtomicBool>,
    accepted: AtomicUsize,
    requests: Mutex<Vec<ProxyRequest>>,
    changed: Condvar,
    /// Every socket opened, client side and target side, shut down on drop so that the
    /// relay threads end.
    sockets: Mutex<Vec<TcpStream>>,
    threads: ConnectionThreads,
}

impl State {
    fn record(&self, request: ProxyRequest) -> usize {
        let mut requests = lock(&self.requests);
        requests.push(request);
        self.changed.notify_all();
        requests.len() - 1
    }

    fn mark_connected(&self, index: usize) {
        lock(&self.requests)[index].connected = true;
        self.changed.notify_all();
    }

    fn track(&self, stream: &TcpStream) {
        if let Ok(clone) = stream.try_clone() {
            lock(&self.sockets).push(clone);
        }
    }

    fn spawn(&self, name: &str, f: impl FnOnce() + Send + 'static) {
        self.threads.spawn(name.to_owned(), f);
    }
}

/// A proxy on 127.0.0.1 with a port of its own.
pub struct ProxyServer {
    kind: ProxyKind,
    listening: Listening,
    state: Arc<State>,
}

impl ProxyServer {
    /// An HTTP proxy: CONNECT tunnels, and absolute-form requests forwarded to their
    /// target in origin form.
    pub fn http() -> ProxyServer {
        ProxyServer::start(ProxyKind::Http)
    }

    /// A SOCKS5 proxy. It picks username/password authentication when the client offers
    /// it (and records the credentials, accepting any), else no authentication.
    pub fn socks5() -> ProxyServer {
        ProxyServer::start(ProxyKind::Socks5)
    }

    fn start(kind: ProxyKind) -> ProxyServer {
        let state = Arc::new(State::default());
        let listening = {
            let state = state.clone();
            Listening::start("test-proxy", state.shutdown.clone(), move |stream| {
                accept(stream, kind, &state)
            })
        };
        ProxyServer {
            kind,
            listening,
            state,
        }
    }

    pub fn port(&self) -> u16 {
        self.listening.port()
    }

    /// The proxy's URL, `http://127.0.0.1:PORT` or `socks5://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.url_with_userinfo("")
    }

    /// The proxy's URL with `user:pass@` (as given: percent-encode it yourself).
    pub fn url_with_credentials(&self, userinfo: &str) -> String {
        self.url_with_userinfo(&format!("{userinfo}@"))
    }

    fn url_with_userinfo(&self, userinfo: &str) -> String {
        let scheme = match self.kind {
            ProxyKind::Http => "http",
            ProxyKind::Socks5 => "socks5",
        };
        format!("{scheme}://{userinfo}127.0.0.1:{}", self.port())
    }

    /// How many TCP connections the proxy accepted, complete requests or not.
    pub fn accepted(&self) -> usize {
        self.state.accepted.load(Ordering::SeqCst)
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<ProxyRequest> {
        lock(&self.state.requests).clone()
    }

    /// Waits until at least `n` requests have arrived; panics after `timeout`.
    pub fn wait_for_requests(&self, n: usize, timeout: Duration) -> Vec<ProxyRequest> {
        let state = &self.state;
        let (requests, arrived) =
            wait_for_change(&state.requests, &state.changed, timeout, |r| r.len() >= n);
        if !arrived {
            panic!(
                "expected {n} proxy requests within {timeout:?}, got {} (accepted {} \
                 connections): {requests:#?}",
                requests.len(),
                self.accepted()
            );
        }
        requests.clone()
    }
}

impl Drop for ProxyServer {
    fn drop(&mut self) {
        self.listening.stop();
        // Joining a thread may let it open (and track) one more socket: shut the sockets
        // before every pass, until no thread is left.
        self.state.threads.join_all(|| {
            for socket in std::mem::take(&mut *lock(&self.state.sockets)) {
                let _ = socket.shutdown(Shutdown::Both);
            }
        });
    }
}

/// Serves one accepted client on a thread of its own.
fn accept(stream: TcpStream, kind: ProxyKind, state: &Arc<State>) {
    let n = state.accepted.fetch_add(1, Ordering::SeqCst);
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(HANDSHAKE_TIMEOUT));
    let _ = stream.set_write_timeout(Some(HANDSHAKE_TIMEOUT));
    state.track(&stream);
    let conn_state = state.clone();
    state.spawn(&format!("test-proxy-{n}"), move || {
        let _ = match kind {
            ProxyKind::Http => serve_http(stream, &conn_state),
            ProxyKind::Socks5 => serve_socks5(stream, &conn_state),
        };
    });
}

/// Connects to `host:port` (a name, an IPv4 address, or an IPv6 address in brackets)
/// within [`HANDSHAKE_TIMEOUT`] per address.
fn connect_target(target: &str, state: &State) -> std::io::Result<TcpStream> {
    use std::net::ToSocketAddrs;
    let mut last = IoErrorKind::NotFound.into();
    for addr in target.to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, HANDSHAKE_TIMEOUT) {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                state.track(&stream);
                return Ok(stream);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Relays bytes both ways until either side closes or fails, then closes both.
fn relay(client: TcpStream, upstream: TcpStream, state: &State) -> std::io::Result<()> {
    for stream in [&client, &upstream] {
        stream.set_read_timeout(None)?;
        stream.set_write_timeout(None)?;
    }
    let (client_2, upstream_2) = (client.try_clone()?, upstream.try_clone()?);
    state.spawn("test-proxy-relay", move || {
        copy_then_close(client_2, upstream_2)
    });
    copy_then_close(upstream, client);
    Ok(())
}

fn copy_then_close(mut from: TcpStream, mut to: TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

// ---------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------

fn serve_http(mut client: TcpStream, state: &State) -> std::io::Result<()> {
    let (head, rest) = read_head(&mut client)?;
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_owned();
    let proxy_authorization = lines.find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("proxy-authorization")
            .then(|| value.trim().to_owned())
    });
    let mut parts = request_line.split(' ');
    let (method, uri, version) = match (parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(u), Some(v)) => (m.to_owned(), u.to_owned(), v.to_owned()),
        _ => {
            client.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")?;
            return Ok(());
        }
    };

    if method == "CONNECT" {
        let mut request = ProxyRequest::new(request_line.clone(), &method, uri.clone());
        request.proxy_authorization = proxy_authorization;
        let index = state.record(request);
        let upstream = match connect_target(&uri, state) {
            Ok(upstream) => upstream,
            Err(_) => {
                client.write_all(
                    b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )?;
                return Ok(());
            }
        };
        client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
        state.mark_connected(index);
        (&upstream).write_all(&rest)?;
        return relay(client, upstream, state);
    }

    // Absolute form: `GET http://host[:port]/path HTTP/1.1`.
    let Some(after_scheme) = uri.strip_prefix("http://") else {
        client.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")?;
        return Ok(());
    };
    let (authority, path) = match after_scheme.find('/') {
        Some(i) => after_scheme.split_at(i),
        None => (after_scheme, "/"),
    };
    let authority = authority.rsplit('@').next().unwrap_or_default();
    let target = match authority.rsplit_once(':') {
        Some((_, port)) if !port.contains(']') => authority.to_owned(),
        _ => format!("{authority}:80"),
    };
    let mut request = ProxyRequest::new(request_line.clone(), &method, target.clone());
    request.proxy_authorization = proxy_authorization;
    let index = state.record(request);
    let mut upstream = match connect_target(&target, state) {
        Ok(upstream) => upstream,
        Err(_) => {
            client.write_all(
                b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )?;
            return Ok(());
        }
    };
    state.mark_connected(index);
    // Forward in origin form, with the other header lines as they came.
    let forwarded = match head.split_once("\r\n") {
        Some((_, headers)) => format!("{method} {path} {version}\r\n{headers}\r\n\r\n"),
        None => format!("{method} {path} {version}\r\n\r\n"),
    };
    upstream.write_all(forwarded.as_bytes())?;
    upstream.write_all(&rest)?;
    relay(client, upstream, state)
}

/// Reads up to the end of the request head; returns the head (without the blank line)
/// and whatever came after it.
fn read_head(stream: &mut TcpStream) -> std::io::Result<(Vec<u8>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            buf.truncate(end);
            return Ok((buf, rest));
        }
        if buf.len() > 64 * 1024 {
            return Err(IoErrorKind::InvalidData.into());
        }
        match stream.read(&mut chunk)? {
            0 => return Err(IoErrorKind::UnexpectedEof.into()),
            n => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

// ---------------------------------------------------------------------------------------
// SOCKS5 (RFC 1928, RFC 1929)
// ---------------------------------------------------------------------------------------

fn serve_socks5(mut client: TcpStream, state: &State) -> std::io::Result<()> {
    // Greeting: version, number of methods, methods.
    let [version, count] = read_array(&mut client)?;
    if version != 5 {
        return Err(IoErrorKind::InvalidData.into());
    }
    let mut methods = vec![0u8; count as usize];
    client.read_exact(&mut methods)?;
    let mut credentials = None;
    if methods.contains(&2) {
        client.write_all(&[5, 2])?;
        // Username/password: version 1, ulen, user, plen, password.
        let [_, user_len] = read_array(&mut client)?;
        let mut user = vec![0u8; user_len as usize];
        client.read_exact(&mut user)?;
        let [pass_len] = read_array(&mut client)?;
        let mut pass = vec![0u8; pass_len as usize];
        client.read_exact(&mut pass)?;
        credentials = Some((
            String::from_utf8_lossy(&user).into_owned(),
            String::from_utf8_lossy(&pass).into_owned(),
        ));
        client.write_all(&[1, 0])?;
    } else if methods.contains(&0) {
        client.write_all(&[5, 0])?;
    } else {
        client.write_all(&[5, 0xff])?;
        return Ok(());
    }

    // Request: version, command, reserved, address type, address, port.
    let [version, command, _, address_type] = read_array(&mut client)?;
    if version != 5 {
        return Err(IoErrorKind::InvalidData.into());
    }
    let (host, address) = match address_type {
        1 => (
            Ipv4Addr::from(read_array::<4>(&mut client)?).to_string(),
            SocksAddress::Ipv4,
        ),
        3 => {
            let [len] = read_array(&mut client)?;
            let mut name = vec![0u8; len as usize];
            client.read_exact(&mut name)?;
            (
                String::from_utf8_lossy(&name).into_owned(),
                SocksAddress::Domain,
            )
        }
        4 => (
            format!("[{}]", Ipv6Addr::from(read_array::<16>(&mut client)?)),
            SocksAddress::Ipv6,
        ),
        _ => {
            client.write_all(&[5, 8, 0, 1, 0, 0, 0, 0, 0, 0])?;
            return Ok(());
        }
    };
    let port = u16::from_be_bytes(read_array(&mut client)?);
    let target = format!("{host}:{port}");
    let mut request = ProxyRequest::new(
        format!(
            "{} {target}",
            if command == 1 {
                "CONNECT"
            } else {
                "UNSUPPORTED"
            }
        ),
        if command == 1 {
            "CONNECT"
        } else {
            "UNSUPPORTED"
        },
        target.clone(),
    );
    request.socks_credentials = credentials;
    request.socks_address = Some(address);
    let index = state.record(request);
    if command != 1 {
        client.write_all(&[5, 7, 0, 1, 0, 0, 0, 0, 0, 0])?;
        return Ok(());
    }
    let upstream = match connect_target(&target, state) {
        Ok(upstream) => upstream,
        Err(_) => {
            // Connection refused.
            client.write_all(&[5, 5, 0, 1, 0, 0, 0, 0, 0, 0])?;
            return Ok(());
        }
    };
    client.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 0])?;
    state.mark_connected(index);
    relay(client, upstream, state)
}

fn read_array<const N: usize>(stream: &mut TcpStream) -> std::io::Result<[u8; N]> {
    let mut bytes = [0u8; N];
    stream.read_exact(&mut bytes)?;
    Ok(bytes)
}
