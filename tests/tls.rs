//! HTTPS trust settings against a real rustls server on loopback: the bundled roots, an
//! extra CA file, the system trust store, mutual TLS, and what a TLS failure says.

mod support;

use std::path::Path;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use sse_client::{
    Client, ClientError, Config, ConfigError, ErrorKind, ReadyState, Remedy, Setting, TrustRoots,
};
use support::server::certificates::*;
use support::server::proxy::ProxyServer;
use support::server::tls::*;
use support::*;

const BODY: &str = "data: one\n\nid: 2\ndata: two\n\n";

/// Tests that read the environment (the system trust store) hold this for writing; every
/// other test holds it for reading, so none runs while the environment changes.
static ENVIRONMENT: RwLock<()> = RwLock::new(());

fn environment_unchanged() -> RwLockReadGuard<'static, ()> {
    ENVIRONMENT.read().unwrap_or_else(|e| e.into_inner())
}

fn environment_exclusive() -> RwLockWriteGuard<'static, ()> {
    ENVIRONMENT.write().unwrap_or_else(|e| e.into_inner())
}

/// fast_config with a reconnect delay long enough that a test sees one attempt fail
/// before it closes the client.
fn https_config(url: &str) -> Config {
    let mut config = fast_config(url);
    config
        .set_reconnect_delay(Duration::from_secs(1), Duration::from_secs(2))
        .unwrap();
    config.set_proxy_from_env(false);
    config
}

/// The first thing the client reports must be an error that will be retried: returns it.
fn first_error(config: &Config) -> ClientError {
    let (mut log, recorder) = Log::new();
    let client = Client::open(config, recorder).unwrap();
    let error = log.expect_error_of(ErrorKind::Connect, true);
    drop(client);
    error
}

/// The stream must open and deliver both events of [`BODY`].
fn expect_events(config: &Config) {
    let (mut log, recorder) = Log::new();
    let client = Client::open(config, recorder).unwrap();
    log.expect_opened();
    log.expect_event(Ev::message("one", ""));
    log.expect_event(Ev::message("two", "2"));
    drop(client);
}

/// The same in poll mode: the server holds the connection open after [`BODY`], so the
/// events reach the host only if the worker announces them before it waits for more.
fn expect_events_polled(config: &Config) {
    let client = Client::open_polled(config).unwrap();
    assert_eq!(
        poll_announced(&client, 4),
        [
            Record::Open(200),
            Record::State(ReadyState::Open),
            Record::Event(Ev::message("one", "")),
            Record::Event(Ev::message("two", "2")),
        ]
    );
}

/// The message ends with the neutral words `remedy`, which name `setting`, and names no
/// binding's function (the C door adds its own: tests/c, src/ffi/remedy.rs).
fn assert_ends_with_remedy(error: &ClientError, remedy: &str, setting: Setting) {
    assert!(error.message.ends_with(remedy), "{error:?}");
    assert!(!error.message.contains("sse_"), "{error:?}");
    assert_eq!(
        error.remedies,
        [Remedy {
            setting,
            at: error.message.len()
        }]
    );
}

fn invalid_argument(result: Result<(), ConfigError>) -> String {
    match result {
        Err(ConfigError::InvalidArgument(message)) => message,
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
}

/// A private CA and a server on localhost with a certificate it signed.
struct PrivateDeployment {
    files: TempDir,
    ca_file: std::path::PathBuf,
    server: TlsServer,
}

impl PrivateDeployment {
    /// A server for localhost and 127.0.0.1 that sends [`BODY`] and holds the stream.
    fn start(label: &str) -> PrivateDeployment {
        PrivateDeployment::serving(
            label,
            |ca| ca.server(&["localhost", "127.0.0.1"]),
            BODY,
            AfterBody::Hold,
        )
    }

    /// A server presenting the certificate `certificate` makes with the private CA.
    fn serving(
        label: &str,
        certificate: impl FnOnce(&TestCa) -> Issued,
        body: &str,
        after: AfterBody,
    ) -> PrivateDeployment {
        let ca = TestCa::new("sse_client test CA");
        let server_cert = certificate(&ca);
        let files = TempDir::new(label);
        let ca_file = files.write("ca.pem", ca.pem());
        let server = TlsServer::start(server_config(&server_cert, None), body, after);
        PrivateDeployment {
            files,
            ca_file,
            server,
        }
    }
}

#[test]
fn bundled_roots_reject_a_server_signed_by_a_private_ca_as_unknown_issuer() {
    let _env = environment_unchanged();
    let deployment = PrivateDeployment::start("unknown_issuer");
    let url = deployment.server.url("/events");

    let error = first_error(&https_config(&url));

    assert_eq!(error.http_status, 0);
    assert!(
        error
            .message
            .starts_with(&format!("TLS with {url} failed: ")),
        "{error:?}"
    );
    assert!(
        error
            .message
            .contains("the server's certificate is not trusted (unknown issuer"),
        "{error:?}"
    );
    assert_ends_with_remedy(
        &error,
        "; for a private CA, add it to the trusted CA certificates",
        Setting::CaFile,
    );
    assert!(deployment.server.requests().is_empty());
}

#[test]
fn a_polled_stream_over_tls_announces_each_event_while_the_server_holds_it_open() {
    let _env = environment_unchanged();
    // The events come after the host has taken the open and state messages and waits.
    let deployment = PrivateDeployment::serving(
        "polled",
        |ca| ca.server(&["localhost", "127.0.0.1"]),
        "",
        AfterBody::SendLater(Duration::from_millis(300), BODY),
    );
    let mut config = https_config(&deployment.server.url("/events"));
    config.add_ca_file(&deployment.ca_file).unwrap();
    expect_events_polled(&config);
}

#[test]
fn a_private_ca_added_with_add_ca_file_is_trusted_over_https() {
    let _env = environment_unchanged();
    let deployment = PrivateDeployment::start("add_ca_file");
    let mut config = https_config(&deployment.server.url("/events"));
    config.add_ca_file(&deployment.ca_file).unwrap();

    expect_events(&config);

    let requests = deployment.server.requests();
    assert!(
        requests[0].starts_with("GET /events HTTP/1.1\r\n"),
        "{requests:?}"
    );
}

#[test]
fn bundled_roots_plus_several_ca_files_trust_each_of_them() {
    let _env = environment_unchanged();
    let deployment = PrivateDeployment::start("two_ca_files");
    let unrelated = TestCa::new("another private CA");
    let unrelated_file = deployment.files.write("unrelated.pem", unrelated.pem());
    let mut config = https_config(&deployment.server.url("/"));
    config.set_trust_roots(TrustRoots::Bundled);
    config.add_ca_file(&unrelated_file).unwrap();
    config.add_ca_file(&deployment.ca_file).unwrap();

    expect_events(&config);
}

#[test]
fn a_certificate_for_another_name_is_refused_naming_both() {
    let _env = environment_unchanged();
    let deployment = PrivateDeployment::serving(
        "name_mismatch",
        |ca| ca.server(&["other.example"]),
        BODY,
        AfterBody::Hold,
    );
    let mut config = https_config(&deployment.server.url("/"));
    config.add_ca_file(&deployment.ca_file).unwrap();

    let error = first_error(&config);

    assert!(
        error.message.contains(
            "the server's certificate is for another name (connecting to localhost, the \
             certificate names other.example)"
        ),
        "{error:?}"
    );
}

#[test]
fn an_expired_certificate_is_refused_as_expired() {
    let _env = environment_unchanged();
    let deployment = PrivateDeployment::serving(
        "expired",
        |ca| ca.expired_server(&["localhost", "127.0.0.1"]),
        BODY,
        AfterBody::Hold,
    );
    let mut config = https_config(&deployment.server.url("/"));
    config.add_ca_file(&deployment.ca_file).unwrap();

    let error = first_error(&config);

    assert!(
        error.message.contains(
            "the server's certificate has expired (valid until Mon, 01 Jan 2001 00:00:00 GMT"
        ),
        "{error:?}"
    );
}

/// A private CA for servers, another for clients, and a server that requires a client
/// certificate signed by the latter.
struct MutualTls {
    files: TempDir,
    ca_file: std::path::PathBuf,
    client_ca: TestCa,
    server: TlsServer,
}

impl MutualTls {
    fn start(label: &str) -> MutualTls {
        let ca = TestCa::new("sse_client test CA");
        let client_ca = TestCa::new("sse_client test client CA");
        let files = TempDir::new(label);
        let ca_file = files.write("ca.pem", ca.pem());
        let config = server_config(&ca.server(&["localhost", "127.0.0.1"]), Some(&client_ca));
        let server = TlsServer::start(config, BODY, AfterBody::Hold);
        MutualTls {
            files,
            ca_file,
            client_ca,
            server,
        }
    }

    fn config(&self) -> Config {
        let mut config = https_config(&self.server.url("/"));
        config.add_ca_file(&self.ca_file).unwrap();
        config
    }
}

#[test]
fn mutual_tls_without_a_client_certificate_says_the_server_requires_one() {
    let _env = environment_unchanged();
    let mtls = MutualTls::start("mtls_missing");

    let error = first_error(&mtls.config());

    assert!(
        error
            .message
            .contains("the server requires a client certificate (mutual TLS) and none was sent"),
        "{error:?}; the server saw {:?}",
        mtls.server.handshake_errors()
    );
    assert_ends_with_remedy(&error, "; set a client certificate", Setting::ClientCert);
    assert!(mtls.server.requests().is_empty());
}

#[test]
fn mutual_tls_with_the_client_certificate_delivers_events() {
    let _env = environment_unchanged();
    let mtls = MutualTls::start("mtls_ok");
    let client = mtls.client_ca.client("sse-client-test");
    let cert = mtls.files.write("client.crt", &client.cert_pem);
    let key = mtls.files.write("client.key", &client.key_pem);
    let mut config = mtls.config();
    config.set_client_cert_files(&cert, &key).unwrap();

    expect_events(&config);

    assert!(mtls.server.handshake_errors().is_empty());
}

#[test]
fn mutual_tls_with_a_certificate_the_server_does_not_trust_says_it_was_refused() {
    let _env = environment_unchanged();
    let mtls = MutualTls::start("mtls_refused");
    let stranger = TestCa::new("a CA the server does not know").client("sse-client-test");
    let cert = mtls.files.write("client.crt", &stranger.cert_pem);
    let key = mtls.files.write("client.key", &stranger.key_pem);
    let mut config = mtls.config();
    config.set_client_cert_files(&cert, &key).unwrap();

    let error = first_error(&config);

    assert!(
        error
            .message
            .contains("the server refused the client certificate"),
        "{error:?}; the server saw {:?}",
        mtls.server.handshake_errors()
    );
}

#[test]
fn add_ca_file_refuses_a_missing_file_a_non_pem_file_and_a_key_alone() {
    let _env = environment_unchanged();
    let ca = TestCa::new("sse_client test CA");
    let key_only = ca.server(&["localhost"]).key_pem;
    let files = TempDir::new("bad_ca_files");
    let missing = files.path().join("missing.pem");
    let not_pem = files.write("not_pem.txt", "hello, I am not a certificate\n");
    let binary = files.write("ca.der", ca.cert().as_ref());
    let key_file = files.write("key.pem", key_only);
    let mut config = Config::new("https://localhost/").unwrap();

    let cases: [(&Path, &str); 5] = [
        (&missing, "cannot read it"),
        (&not_pem, "no PEM certificate"),
        (&binary, "no PEM certificate"),
        (&key_file, "holds a private key but no certificate"),
        (files.path(), "is a directory"),
    ];
    for (path, reason) in cases {
        let message = invalid_argument(config.add_ca_file(path));
        assert!(
            message.starts_with(&format!("CA file {}: ", path.display())),
            "{message}"
        );
        assert!(message.contains(reason), "{path:?}: {message}");
    }
}

#[test]
fn set_client_cert_files_refuses_bad_inputs_with_the_reason() {
    let _env = environment_unchanged();
    let ca = TestCa::new("sse_client test client CA");
    let client = ca.client("sse-client-test");
    let other = ca.client("someone-else");
    let files = TempDir::new("bad_client_files");
    let cert = files.write("client.crt", &client.cert_pem);
    let key = files.write("client.key", &client.key_pem);
    let other_key = files.write("other.key", &other.key_pem);
    let missing = files.path().join("missing.pem");
    let not_pem = files.write("not_pem.txt", "hello\n");
    let mut config = Config::new("https://localhost/").unwrap();

    let cases: [(&Path, &Path, &str); 5] = [
        (&missing, &key, "cannot read it"),
        (&cert, &missing, "cannot read it"),
        // The files swapped: no certificate where the chain should be.
        (&key, &cert, "holds a private key but no certificate"),
        (&cert, &not_pem, "holds no private key"),
        (&cert, &other_key, "does not fit certificate"),
    ];
    for (cert_path, key_path, reason) in cases {
        let message = invalid_argument(config.set_client_cert_files(cert_path, key_path));
        assert!(
            message.contains(reason),
            "{cert_path:?} {key_path:?}: {message}"
        );
    }
    config.set_client_cert_files(&cert, &key).unwrap();
}

#[test]
fn system_trust_roots_read_the_bundle_of_ssl_cert_file_and_the_directory_of_ssl_cert_dir() {
    // The one test that changes the environment: no other test runs meanwhile.
    let _env = environment_exclusive();
    let deployment = PrivateDeployment::start("system_roots");
    let unrelated = TestCa::new("another private CA");
    let unrelated_file = deployment.files.write("unrelated.pem", unrelated.pem());
    let url = deployment.server.url("/");
    let saved = (
        std::env::var_os("SSL_CERT_FILE"),
        std::env::var_os("SSL_CERT_DIR"),
    );
    std::env::remove_var("SSL_CERT_DIR");

    // The "system" bundle holds the private CA: trusted.
    std::env::set_var("SSL_CERT_FILE", &deployment.ca_file);
    let mut config = https_config(&url);
    config.set_trust_roots(TrustRoots::System);
    expect_events(&config);

    // A bundle without it: not trusted, although the bundled roots would not have it
    // either; a CA file adds it back on top of the system's roots.
    std::env::set_var("SSL_CERT_FILE", &unrelated_file);
    let error = first_error(&config);
    assert!(error.message.contains("unknown issuer"), "{error:?}");
    config.add_ca_file(&deployment.ca_file).unwrap();
    expect_events(&config);

    // SSL_CERT_DIR, a directory of c_rehash-named files (the hash is not checked), is read
    // together with SSL_CERT_FILE, and alone.
    let cert_dir = deployment.files.path().join("certs");
    std::fs::create_dir(&cert_dir).unwrap();
    std::fs::copy(&deployment.ca_file, cert_dir.join("0a1b2c3d.0")).unwrap();
    std::env::set_var("SSL_CERT_DIR", &cert_dir);
    let mut config = https_config(&url);
    config.set_trust_roots(TrustRoots::System);
    expect_events(&config);
    std::env::remove_var("SSL_CERT_FILE");
    expect_events(&config);

    for (name, value) in [("SSL_CERT_FILE", saved.0), ("SSL_CERT_DIR", saved.1)] {
        match value {
            Some(value) => std::env::set_var(name, value),
            None => std::env::remove_var(name),
        }
    }
}

#[test]
fn a_redirect_from_https_to_http_is_refused_and_nothing_reaches_the_http_server() {
    let _env = environment_unchanged();
    let dir = TempDir::new("downgrade");
    let ca = TestCa::new("downgrade CA");
    let plain = Server::always(Script::stream_then_hold("data: in clear\n\n"));
    let redirect = format!(
        "HTTP/1.1 302 Found\r\nLocation: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        plain.url("/events")
    );
    let server = TlsServer::start_raw(
        server_config(&ca.server(&["localhost"]), None),
        &redirect,
        AfterBody::Close,
    );
    let mut config = https_config(&server.url("/"));
    config.add_ca_file(&dir.write("ca.pem", ca.pem())).unwrap();

    let (mut log, recorder) = Log::new();
    let client = Client::open(&config, recorder).unwrap();
    // Fatal: will_retry is false.
    let error = log.expect_error_of(ErrorKind::HttpStatus, false);
    drop(client);
    assert_eq!(error.http_status, 302);
    assert!(error.message.contains("downgrade"), "{}", error.message);
    assert_eq!(plain.connection_count(), 0, "the http server was contacted");
}

#[test]
fn https_through_an_http_connect_proxy_verifies_the_origin_and_delivers_events() {
    let _env = environment_unchanged();
    let deployment = PrivateDeployment::start("https_via_proxy");
    let proxy = ProxyServer::http();
    let mut config = https_config(&deployment.server.url("/events"));
    config.add_ca_file(&deployment.ca_file).unwrap();
    config.set_proxy(Some(&proxy.url())).unwrap();

    expect_events(&config);

    let tunnels = proxy.wait_for_requests(1, TIMEOUT);
    assert_eq!(
        tunnels[0].target,
        format!("localhost:{}", deployment.server.port()),
        "the proxy saw {tunnels:?}"
    );
    // TLS runs end to end through the tunnel: the origin, not the proxy, served the GET.
    assert!(deployment.server.requests()[0].starts_with("GET /events HTTP/1.1\r\n"));
}
