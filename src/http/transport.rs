//! The TCP transport under ureq: ureq's own, plus one thing it cannot do, tell the worker
//! that a read is about to wait for the network.
//!
//! Poll mode queues each read's messages at once but announces them to the host (the
//! wakeup fd, a futex) only when the worker is about to wait (see `poll_queue`). Waking a
//! host costs the worker ~12 µs on the benchmark machine, so on a busy stream one wakeup
//! for everything the socket already held beats one per read. Only the socket knows
//! whether more bytes are waiting, and ureq keeps its socket to itself (its `TcpTransport`
//! is not public), hence this module: [`SocketConnector`] opens the TCP connection, and
//! [`SocketTransport`] tries a non-blocking read first and runs the [`BeforeWait`] hook
//! before it blocks.
//!
//! A transport another connector opened (a SOCKS proxy's) is wrapped in [`Announcing`],
//! which runs the hook before every read: it cannot tell whether a read would wait.
//!
//! Both hand ureq a reset connection's error so that it is not taken for the end of the
//! body (see `broken`); the worker tells it with [`is_reset_by_peer`].
//!
//! This module is the whole seam with ureq's `unversioned` API, which ureq may change in
//! any release: Cargo.toml pins ureq to the minor version it is written against, and the
//! test `ureq_reads_a_stream_through_this_transport` fails if ureq stops using it the way
//! this module expects.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Weak};
use std::time::Duration;

use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{
    Buffers, ConnectProxyConnector, ConnectionDetails, Connector, Either, NextTimeout,
    RustlsConnector, ShutdownHandle, SocksConnector, Transport,
};
use ureq::{Agent, Error, Timeout};

pub(crate) use broken::is_reset_by_peer;
use buffers::GrowingBuffers;

use crate::os::socket;

mod broken;
mod buffers;

/// An agent whose TCP connections are [`SocketTransport`]s running `before_wait`: ureq's
/// default connector chain (SOCKS, HTTP CONNECT proxy, TCP, rustls) with ours in place of
/// its TCP connector.
pub(crate) fn agent(config: ureq::config::Config, before_wait: Option<BeforeWait>) -> Agent {
    let connector =
        ().chain(SocksConnector::default())
            .chain(ConnectProxyConnector::default())
            .chain(SocketConnector { before_wait })
            .chain(RustlsConnector::default());
    Agent::with_parts(config, connector, DefaultResolver::default())
}

/// The most a connection's input buffer grows to (from the agent's input buffer size) while
/// reads keep filling it: as large as the worker's own read buffer gets.
const MAX_INPUT_BUFFER: usize = 64 * 1024;

/// Runs on the worker thread before it waits for the network (see the module comment).
#[derive(Clone)]
pub struct BeforeWait(Arc<dyn Fn() + Send + Sync>);

impl BeforeWait {
    pub fn new(hook: impl Fn() + Send + Sync + 'static) -> BeforeWait {
        BeforeWait(Arc::new(hook))
    }

    pub(crate) fn run(&self) {
        (self.0)()
    }
}

impl std::fmt::Debug for BeforeWait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BeforeWait")
    }
}

/// Opens TCP connections as [`SocketTransport`]s, in place of ureq's `TcpConnector`.
#[derive(Debug, Default)]
pub(crate) struct SocketConnector {
    pub before_wait: Option<BeforeWait>,
}

impl<In: Transport> Connector<In> for SocketConnector {
    type Out = Either<Announcing<In>, SocketTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, Error> {
        if let Some(inner) = chained {
            // A proxy connector already made the connection.
            return Ok(Some(Either::A(Announcing {
                inner,
                before_wait: self.before_wait.clone(),
            })));
        }
        let config = details.config;
        let transport = SocketTransport::new(
            connect(details)?,
            GrowingBuffers::new(
                config.input_buffer_size(),
                MAX_INPUT_BUFFER,
                config.output_buffer_size(),
            ),
            self.before_wait.clone(),
        );
        (details.register_shutdown)(transport.shutdown_handle())?;
        Ok(Some(Either::B(transport)))
    }
}

/// Tries the resolved addresses in order. Each gets a share of the connect timeout: half
/// of what is left for the first, and so on, as ureq does, with the last one getting all
/// that remains; so a dead first address cannot eat the whole budget.
fn connect(details: &ConnectionDetails) -> Result<TcpStream, Error> {
    let budget = details.timeout.not_zero().map(|t| *t);
    let started = std::time::Instant::now();
    let count = details.addrs.len();
    let mut last_error = None;
    for (index, address) in details.addrs.iter().enumerate() {
        let attempt = match budget {
            None => TcpStream::connect(address),
            Some(budget) => {
                let left = budget.saturating_sub(started.elapsed());
                if left.is_zero() {
                    return Err(Error::Timeout(Timeout::Connect));
                }
                let share = if index + 1 == count { left } else { left / 2 };
                TcpStream::connect_timeout(address, share.max(Duration::from_millis(10)))
            }
        };
        match attempt {
            Ok(stream) => {
                if details.config.no_delay() {
                    stream.set_nodelay(true)?;
                }
                log::trace!("connected to {address}");
                return Ok(stream);
            }
            Err(error) => {
                log::debug!("connecting to {address} failed: {error}");
                last_error = Some(match error.kind() {
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
                        Error::Timeout(Timeout::Connect)
                    }
                    _ => Error::Io(error),
                });
            }
        }
    }
    Err(last_error.unwrap_or_else(|| {
        Error::Io(io::Error::new(
            io::ErrorKind::AddrNotAvailable,
            "the host name resolved to no address",
        ))
    }))
}

/// A TCP connection whose reads run the [`BeforeWait`] hook before they block.
#[derive(Debug)]
pub(crate) struct SocketTransport {
    /// Shared (weakly) with the agent, whose shutdown interrupts a blocked read.
    stream: Arc<TcpStream>,
    buffers: GrowingBuffers,
    /// As set on the socket, to make the syscall only when it changes.
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    before_wait: Option<BeforeWait>,
}

impl SocketTransport {
    fn new(
        stream: TcpStream,
        buffers: GrowingBuffers,
        before_wait: Option<BeforeWait>,
    ) -> SocketTransport {
        SocketTransport {
            stream: Arc::new(stream),
            buffers,
            read_timeout: None,
            write_timeout: None,
            before_wait,
        }
    }

    /// For the agent, whose shutdown (on close or restart) ends a read blocked here.
    fn shutdown_handle(&self) -> Weak<dyn ShutdownHandle> {
        Arc::downgrade(&self.stream) as Weak<dyn ShutdownHandle>
    }
}

impl Transport for SocketTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), Error> {
        let timeout = timeout.for_write();
        let limit = limit_of(timeout)?;
        if limit != self.write_timeout {
            self.stream.set_write_timeout(limit)?;
            self.write_timeout = limit;
        }
        let output = &self.buffers.output()[..amount];
        (&*self.stream)
            .write_all(output)
            .map_err(|error| io_error(error, timeout.reason))
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
        let timeout = timeout.for_read();
        let limit = limit_of(timeout)?;
        if let Some(hook) = &self.before_wait {
            match socket::receive_now(&self.stream, self.buffers.input_append_buf()) {
                Ok(amount) => {
                    self.buffers.input_appended(amount);
                    return Ok(amount > 0);
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => hook.run(),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => hook.run(),
                Err(error) => return Err(io_error(error, timeout.reason)),
            }
        }
        let started = std::time::Instant::now();
        // What is left of the timeout: all of it, until a read ends early.
        let mut left = limit;
        loop {
            // POSIX: `left` itself; Windows: a slice of it (see os::socket).
            let wait = socket::blocking_read_wait(left);
            if wait != self.read_timeout {
                self.stream.set_read_timeout(wait)?;
                self.read_timeout = wait;
            }
            match (&*self.stream).read(self.buffers.input_append_buf()) {
                Ok(amount) => {
                    self.buffers.input_appended(amount);
                    return Ok(amount > 0);
                }
                // Linux does not restart a read with a timeout after a signal, even with
                // SA_RESTART: go on with what is left of the timeout. Without a timeout,
                // only a handler installed without SA_RESTART interrupts, and it asked for
                // that.
                Err(error) if error.kind() == io::ErrorKind::Interrupted && limit.is_none() => {
                    return Err(error.into());
                }
                Err(error)
                    if error.kind() == io::ErrorKind::Interrupted
                        || socket::read_slice_ended(&error, wait, left) =>
                {
                    left = limit.map(|full| full.saturating_sub(started.elapsed()));
                    if left.is_some_and(|left| left.is_zero()) {
                        return Err(Error::Timeout(timeout.reason));
                    }
                }
                Err(error) => return Err(io_error(error, timeout.reason)),
            }
        }
    }

    /// Whether a pooled connection can carry another request: open, with nothing unasked
    /// for waiting on it.
    fn is_open(&mut self) -> bool {
        socket::is_open_and_quiet(&self.stream)
    }
}

/// The timeout to set on the socket (`None`: none); an error when it has already expired.
fn limit_of(timeout: NextTimeout) -> Result<Option<Duration>, Error> {
    if timeout.after.is_zero() {
        return Err(Error::Timeout(timeout.reason));
    }
    Ok(timeout.not_zero().map(|t| *t))
}

/// A socket timeout shows as `WouldBlock` (or `TimedOut`): report it as ureq's timeout. A
/// broken connection goes to ureq wrapped (see `broken`).
fn io_error(error: io::Error, reason: Timeout) -> Error {
    match error.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::Timeout(reason),
        _ => Error::Io(broken::wrap(error)),
    }
}

/// Another connector's transport, with the hook run before each read: it cannot tell
/// which reads would wait, so it assumes all do. Its broken connections go to ureq wrapped
/// too (see `broken`).
#[derive(Debug)]
pub(crate) struct Announcing<T> {
    inner: T,
    before_wait: Option<BeforeWait>,
}

impl<T: Transport> Transport for Announcing<T> {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), Error> {
        self.inner
            .transmit_output(amount, timeout)
            .map_err(broken::wrap_ureq)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
        if let Some(hook) = &self.before_wait {
            hook.run();
        }
        self.inner.await_input(timeout).map_err(broken::wrap_ureq)
    }

    fn is_open(&mut self) -> bool {
        self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A transport on one end of a loopback connection, the other end, and how many times
    /// the hook ran.
    fn connected(with_hook: bool) -> (SocketTransport, TcpStream, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let runs = Arc::new(AtomicUsize::new(0));
        let counter = runs.clone();
        let hook = with_hook.then(|| {
            BeforeWait::new(move || {
                counter.fetch_add(1, Ordering::SeqCst);
            })
        });
        let transport = SocketTransport::new(client, GrowingBuffers::new(64, 64, 64), hook);
        (transport, server, runs)
    }

    fn per_read(limit: Duration) -> NextTimeout {
        NextTimeout {
            per_read: Some(limit.into()),
            ..NextTimeout::default()
        }
    }

    fn take_input(transport: &mut SocketTransport) -> Vec<u8> {
        let input = transport.buffers().input().to_vec();
        transport.buffers().input_consume(input.len());
        input
    }

    #[test]
    fn the_hook_runs_only_before_a_read_that_would_wait() {
        let (mut transport, mut server, runs) = connected(true);
        server.write_all(b"ready").unwrap();
        // Let the bytes reach the client's socket.
        std::thread::sleep(Duration::from_millis(50));
        assert!(transport.await_input(NextTimeout::default()).unwrap());
        assert_eq!(take_input(&mut transport), b"ready");
        assert_eq!(
            runs.load(Ordering::SeqCst),
            0,
            "bytes were waiting: no hook"
        );

        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            server.write_all(b"later").unwrap();
            server
        });
        assert!(transport.await_input(NextTimeout::default()).unwrap());
        assert_eq!(take_input(&mut transport), b"later");
        assert_eq!(
            runs.load(Ordering::SeqCst),
            1,
            "the read waited: one hook run"
        );
        drop(writer.join().unwrap());
        assert!(
            !transport.await_input(NextTimeout::default()).unwrap(),
            "EOF"
        );
    }

    #[test]
    fn a_transport_without_a_hook_reads_the_same() {
        let (mut transport, mut server, _) = connected(false);
        server.write_all(b"one").unwrap();
        assert!(transport.await_input(NextTimeout::default()).unwrap());
        assert_eq!(take_input(&mut transport), b"one");
        drop(server);
        assert!(
            !transport.await_input(NextTimeout::default()).unwrap(),
            "EOF"
        );
    }

    #[test]
    fn a_silent_peer_ends_the_read_with_the_per_read_timeout() {
        for with_hook in [true, false] {
            let (mut transport, _server, runs) = connected(with_hook);
            let started = std::time::Instant::now();
            let error = transport
                .await_input(per_read(Duration::from_millis(100)))
                .unwrap_err();
            assert!(
                matches!(error, Error::Timeout(Timeout::PerRead)),
                "{error:?}"
            );
            assert!(started.elapsed() >= Duration::from_millis(90));
            assert_eq!(runs.load(Ordering::SeqCst), usize::from(with_hook));
        }
    }

    #[test]
    fn an_expired_timeout_is_reported_without_reading() {
        let (mut transport, mut server, _) = connected(true);
        server.write_all(b"x").unwrap();
        let expired = NextTimeout {
            after: Duration::ZERO.into(),
            reason: Timeout::Global,
            ..NextTimeout::default()
        };
        let error = transport.await_input(expired).unwrap_err();
        assert!(
            matches!(error, Error::Timeout(Timeout::Global)),
            "{error:?}"
        );
    }

    #[test]
    fn output_reaches_the_peer() {
        let (mut transport, mut server, _) = connected(true);
        transport.buffers().output()[..4].copy_from_slice(b"GET ");
        transport
            .transmit_output(4, NextTimeout::default())
            .unwrap();
        let mut received = [0u8; 4];
        server.read_exact(&mut received).unwrap();
        assert_eq!(&received, b"GET ");
    }

    #[test]
    fn is_open_until_the_peer_closes_or_sends_unasked() {
        let (mut transport, server, _) = connected(true);
        assert!(transport.is_open());
        drop(server);
        std::thread::sleep(Duration::from_millis(50));
        assert!(!transport.is_open(), "the peer closed");

        let (mut transport, mut server, _) = connected(true);
        server.write_all(b"HTTP/1.1 408").unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert!(!transport.is_open(), "bytes nobody asked for");
    }

    #[test]
    fn the_shutdown_handle_ends_a_blocked_read() {
        let (mut transport, _server, _) = connected(true);
        let handle = transport.shutdown_handle();
        let reader = std::thread::spawn(move || transport.await_input(NextTimeout::default()));
        std::thread::sleep(Duration::from_millis(100));
        handle.upgrade().expect("the transport is alive").shutdown();
        let result = reader.join().unwrap();
        assert!(matches!(result, Ok(false) | Err(_)), "{result:?}");
    }

    /// The seam as ureq uses it, end to end: a request through [`agent`] reads its body
    /// through a [`SocketTransport`], whose hook runs before each read that has to wait
    /// (the server sends its next burst only when the hook has run, so a ureq that
    /// bypassed the transport would time out here), and a reset after the body's bytes
    /// reaches the body reader as a reset, not as the end of the body.
    #[test]
    fn ureq_reads_a_stream_through_this_transport() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/events", listener.local_addr().unwrap());
        let (hook_ran, wait_for_hook) = std::sync::mpsc::channel::<()>();
        let server = std::thread::spawn(move || {
            let (mut peer, _) = listener.accept().unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                peer.read_exact(&mut byte).unwrap();
                head.push(byte[0]);
            }
            let next = |peer: &mut TcpStream, bytes: &[u8]| {
                let waited = wait_for_hook.recv_timeout(Duration::from_secs(5));
                waited.expect("the client waits for the next burst without running the hook");
                peer.write_all(bytes).unwrap();
            };
            next(
                &mut peer,
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n",
            );
            next(&mut peer, b"data: a\n\n");
            next(&mut peer, b"data: b\n\n");
            let _ = wait_for_hook.recv_timeout(Duration::from_secs(5));
            reset(peer);
        });
        let hook = BeforeWait::new(move || {
            let _ = hook_ran.send(());
        });
        let config = Agent::config_builder()
            .proxy(None)
            .timeout_per_read(Some(Duration::from_secs(10)))
            .build();
        let mut response = agent(config, Some(hook)).get(&url).call().unwrap();
        let mut body = response.body_mut().as_reader();
        let mut buffer = [0u8; 64];
        for expected in [&b"data: a\n\n"[..], b"data: b\n\n"] {
            let n = body.read(&mut buffer).unwrap();
            assert_eq!(&buffer[..n], expected);
        }
        match body.read(&mut buffer) {
            Err(error) => assert!(is_reset_by_peer(&error), "not a reset: {error:?}"),
            Ok(n) => panic!("a reset read as {n} bytes (0 = the end of the body)"),
        }
        server.join().unwrap();
    }

    /// Closes `peer` so that the other end gets an RST instead of a FIN.
    fn reset(peer: TcpStream) {
        socket::reset_on_close(&peer).expect("SO_LINGER 0");
    }

    fn assert_reset(result: Result<bool, Error>) {
        match result {
            Err(Error::Io(error)) => assert!(is_reset_by_peer(&error), "{error:?}"),
            other => panic!("expected a reset, got {other:?}"),
        }
    }

    #[test]
    fn a_reset_that_came_before_the_read_is_reported_as_one_by_both_reads() {
        // With the hook the non-blocking read sees it, without it the blocking read.
        for with_hook in [true, false] {
            let (mut transport, server, _) = connected(with_hook);
            reset(server);
            std::thread::sleep(Duration::from_millis(50));
            assert_reset(transport.await_input(NextTimeout::default()));
        }
    }

    #[test]
    fn a_reset_during_a_blocked_read_is_reported_as_one() {
        let (mut transport, server, runs) = connected(true);
        let resetter = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            reset(server);
        });
        assert_reset(transport.await_input(NextTimeout::default()));
        assert_eq!(runs.load(Ordering::SeqCst), 1, "the read waited");
        resetter.join().unwrap();
    }

    #[test]
    fn the_bytes_before_a_reset_are_read_before_it() {
        let (mut transport, mut server, _) = connected(true);
        server.write_all(b"last").unwrap();
        reset(server);
        std::thread::sleep(Duration::from_millis(50));
        assert!(transport.await_input(NextTimeout::default()).unwrap());
        assert_eq!(take_input(&mut transport), b"last");
        assert_reset(transport.await_input(NextTimeout::default()));
    }

    /// Fails as ureq's own TCP transport (a SOCKS proxy's) does when the peer resets.
    #[derive(Debug)]
    struct ResetByPeer(GrowingBuffers);

    impl Transport for ResetByPeer {
        fn buffers(&mut self) -> &mut dyn Buffers {
            &mut self.0
        }
        fn transmit_output(&mut self, _: usize, _: NextTimeout) -> Result<(), Error> {
            Err(Error::Io(io::ErrorKind::ConnectionReset.into()))
        }
        fn await_input(&mut self, _: NextTimeout) -> Result<bool, Error> {
            Err(Error::Io(io::ErrorKind::ConnectionReset.into()))
        }
        fn is_open(&mut self) -> bool {
            false
        }
    }

    #[test]
    fn a_wrapped_transport_reports_a_reset_as_one() {
        let mut wrapped = Announcing {
            inner: ResetByPeer(GrowingBuffers::new(64, 64, 64)),
            before_wait: None,
        };
        assert_reset(wrapped.await_input(NextTimeout::default()));
        match wrapped.transmit_output(0, NextTimeout::default()) {
            Err(Error::Io(error)) => assert!(is_reset_by_peer(&error), "{error:?}"),
            other => panic!("expected a reset, got {other:?}"),
        }
    }

    #[test]
    fn a_wrapped_transport_runs_the_hook_before_every_read() {
        let (inner, mut server, _) = connected(false);
        let runs = Arc::new(AtomicUsize::new(0));
        let counter = runs.clone();
        let mut wrapped = Announcing {
            inner,
            before_wait: Some(BeforeWait::new(move || {
                counter.fetch_add(1, Ordering::SeqCst);
            })),
        };
        server.write_all(b"ab").unwrap();
        assert!(wrapped.await_input(NextTimeout::default()).unwrap());
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }
}
