//! TLS settings: which roots to trust, extra CA certificates, a client certificate; and
//! plain words for TLS failures.
//!
//! Everything is read and checked when it is set (a bad file is the setter's error, not
//! every connection's), except the operating system's trust store, which is read when a
//! client builds its connection agent, so that it is as current as the client.
//!
//! There is no switch that turns verification off: every setting here only chooses *what*
//! is trusted.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::{AlertDescription, CertificateError};
use ureq::tls::TlsConfig;
use ureq::tls::{parse_pem, Certificate, ClientCert, PemItem, PrivateKey, RootCerts};

use crate::civil_date::civil_from_days;
use crate::config::ConfigError;

/// Where the trusted root certificates come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TrustRoots {
    /// The Mozilla root program, bundled in the library (the default): the same trust on
    /// every machine.
    #[default]
    Bundled,
    /// The operating system's trust store, read when a client opens: the PEM bundle
    /// named by `SSL_CERT_FILE`, else the first of the usual Linux bundles that exists
    /// (/etc/ssl/certs/ca-certificates.crt, /etc/pki/tls/certs/ca-bundle.crt,
    /// /etc/ssl/ca-bundle.pem, /etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem,
    /// /etc/ssl/cert.pem), else the `*.pem` files of /etc/ssl/certs; plus the certificate
    /// files of the directories in `SSL_CERT_DIR` when it is set. When none of these holds
    /// a certificate, a warning is logged and the bundled Mozilla roots are used instead.
    System,
}

/// The TLS part of a configuration. Certificates are read and checked when set, so a bad
/// file is reported by the setter, not by every connection attempt.
#[derive(Clone, Debug, Default)]
pub struct TlsSettings {
    pub(crate) roots: TrustRoots,
    /// Trusted in addition to `roots` (a private CA).
    pub(crate) extra_roots: Vec<Certificate<'static>>,
    pub(crate) client_cert: Option<ClientCert>,
}

impl TlsSettings {
    pub fn set_roots(&mut self, roots: TrustRoots) {
        self.roots = roots;
    }

    /// Adds the certificates of a PEM file to the trusted roots.
    pub fn add_ca_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let certs = read_file(path)
            .and_then(|pem| ca_certificates(&pem))
            .map_err(|why| invalid(format!("CA file {}: {why}", path.display())))?;
        self.extra_roots.extend(certs);
        Ok(())
    }

    /// Presents this certificate chain and key (PEM files) to servers that ask (mutual TLS).
    pub fn set_client_cert_files(&mut self, cert: &Path, key: &Path) -> Result<(), ConfigError> {
        let chain = read_file(cert)
            .and_then(|pem| client_chain(&pem))
            .map_err(|why| invalid(format!("client certificate {}: {why}", cert.display())))?;
        let (private_key, key_der) = read_file(key)
            .and_then(|pem| client_key(&pem))
            .map_err(|why| invalid(format!("client key {}: {why}", key.display())))?;
        check_key_matches(&chain, &key_der).map_err(|why| {
            invalid(format!(
                "client key {} does not fit certificate {}: {why}",
                key.display(),
                cert.display()
            ))
        })?;
        self.client_cert = Some(ClientCert::new_with_certs(&chain, private_key));
        Ok(())
    }

    /// The ureq TLS configuration for these settings.
    pub(crate) fn to_ureq(&self) -> TlsConfig {
        let roots = match self.roots {
            TrustRoots::Bundled => bundled_roots(&self.extra_roots),
            TrustRoots::System => {
                let found = system_roots(
                    &|name| std::env::var_os(name),
                    SYSTEM_BUNDLES,
                    Path::new(SYSTEM_CERT_DIR),
                );
                for (path, why) in &found.skipped {
                    log::warn!("system trust store: skipped {}: {why}", path.display());
                }
                if found.certs.is_empty() {
                    log::warn!(
                        "no system trust store found (SSL_CERT_FILE, SSL_CERT_DIR, {}, \
                         {SYSTEM_CERT_DIR}/*.pem); using the bundled Mozilla roots",
                        SYSTEM_BUNDLES.join(", ")
                    );
                    bundled_roots(&self.extra_roots)
                } else {
                    log::debug!(
                        "trusting {} system root certificates from {}",
                        found.certs.len(),
                        found
                            .sources
                            .iter()
                            .map(|p| p.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                    let mut certs = found.certs;
                    certs.extend(self.extra_roots.iter().cloned());
                    RootCerts::Specific(Arc::new(certs))
                }
            }
        };
        TlsConfig::builder()
            .root_certs(roots)
            .client_cert(self.client_cert.clone())
            .build()
    }
}

fn invalid(message: String) -> ConfigError {
    ConfigError::InvalidArgument(message)
}

/// The bundled Mozilla roots, plus `extra`. Without extras this is ureq's own WebPki
/// setting (the same roots, already parsed).
fn bundled_roots(extra: &[Certificate<'static>]) -> RootCerts {
    if extra.is_empty() {
        return RootCerts::WebPki;
    }
    let certs = webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|der| Certificate::from_der(der.as_ref()))
        .chain(extra.iter().cloned())
        .collect();
    RootCerts::Specific(Arc::new(certs))
}

fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::IsADirectory => {
            Err("it is a directory, not a file".to_owned())
        }
        Err(e) => Err(format!("cannot read it: {e}")),
    }
}

/// What a PEM file holds, counted.
#[derive(Default)]
struct PemContents {
    certs: Vec<Certificate<'static>>,
    keys: Vec<PrivateKey<'static>>,
}

/// Every certificate and key of a PEM text; other blocks (CRLs, CSRs...) are skipped.
fn parse_pem_file(pem: &[u8]) -> Result<PemContents, String> {
    let mut contents = PemContents::default();
    for item in parse_pem(pem) {
        match item {
            Ok(PemItem::Certificate(cert)) => contents.certs.push(cert),
            Ok(PemItem::PrivateKey(key)) => contents.keys.push(key),
            Ok(_) => {}
            Err(e) => return Err(format!("it is not valid PEM ({})", pem_error(&e))),
        }
    }
    Ok(contents)
}

/// ureq shows a PEM error with Debug ("PEM: MissingSectionEnd { .. }"); say it shorter.
fn pem_error(error: &ureq::Error) -> String {
    match error {
        ureq::Error::Pem(e) => format!("{e:?}"),
        other => other.to_string(),
    }
}

/// The certificates of a CA file: at least one, each a well-formed trust anchor.
fn ca_certificates(pem: &[u8]) -> Result<Vec<Certificate<'static>>, String> {
    let contents = parse_pem_file(pem)?;
    if contents.certs.is_empty() {
        return Err(no_certificate(&contents));
    }
    for (n, cert) in contents.certs.iter().enumerate() {
        rustls::RootCertStore::empty()
            .add(CertificateDer::from(cert.der()))
            .map_err(|e| format!("certificate #{} cannot be a trust root: {e}", n + 1))?;
    }
    Ok(contents.certs)
}

fn no_certificate(contents: &PemContents) -> String {
    if contents.keys.is_empty() {
        "it holds no PEM certificate (no -----BEGIN CERTIFICATE----- block)".to_owned()
    } else {
        "it holds a private key but no certificate (no -----BEGIN CERTIFICATE----- block)"
            .to_owned()
    }
}

/// A client certificate chain, leaf first: at least one certificate.
fn client_chain(pem: &[u8]) -> Result<Vec<Certificate<'static>>, String> {
    let contents = parse_pem_file(pem)?;
    if contents.certs.is_empty() {
        return Err(no_certificate(&contents));
    }
    Ok(contents.certs)
}

/// The one private key of a key file, as ureq takes it and as rustls checks it.
fn client_key(pem: &[u8]) -> Result<(PrivateKey<'static>, PrivateKeyDer<'static>), String> {
    let contents = parse_pem_file(pem)?;
    let mut keys = contents.keys.into_iter();
    match (keys.next(), keys.next()) {
        (Some(key), None) => {
            // The same block again, typed (ureq does not name its key kinds).
            let der = PrivateKeyDer::from_pem_slice(pem)
                .map_err(|e| format!("it is not valid PEM ({e:?})"))?;
            Ok((key, der))
        }
        (Some(_), Some(_)) => Err("it holds more than one private key".to_owned()),
        (None, _) if pem_mentions(pem, b"ENCRYPTED PRIVATE KEY") => Err(
            "its private key is encrypted; decrypt it first (openssl pkey -in KEY -out PLAIN)"
                .to_owned(),
        ),
        (None, _) => Err(
            "it holds no private key (no -----BEGIN PRIVATE KEY-----, RSA PRIVATE KEY or EC \
             PRIVATE KEY block)"
                .to_owned(),
        ),
    }
}

fn pem_mentions(pem: &[u8], label: &[u8]) -> bool {
    pem.windows(label.len()).any(|w| w == label)
}

/// Whether rustls can use `key` for `chain`: a supported key type whose public half is the
/// leaf certificate's. (ureq would panic at connect time otherwise.)
fn check_key_matches(
    chain: &[Certificate<'static>],
    key: &PrivateKeyDer<'static>,
) -> Result<(), String> {
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    let chain = chain
        .iter()
        .map(|c| CertificateDer::from(c.der()).into_owned())
        .collect();
    let key_der = key.clone_key();
    match rustls::sign::CertifiedKey::from_der(chain, key_der, &provider) {
        Ok(_) => Ok(()),
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            Err("the key is not the certificate's (their public keys differ)".to_owned())
        }
        Err(e) => Err(format!("the key cannot be used: {e}")),
    }
}

// ---------------------------------------------------------------------------------------
// The operating system's trust store
// ---------------------------------------------------------------------------------------

/// The usual places of the distribution's CA bundle (Debian/Ubuntu, Fedora/RHEL, openSUSE,
/// RHEL's extracted bundle, Alpine/Arch/macOS-style).
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// Where individual certificate files live when no bundle exists.
const SYSTEM_CERT_DIR: &str = "/etc/ssl/certs";

/// The certificates of the system trust store, where they came from, and what was
/// skipped on the way (with why).
#[derive(Default)]
struct SystemRoots {
    certs: Vec<Certificate<'static>>,
    sources: Vec<PathBuf>,
    skipped: Vec<(PathBuf, String)>,
}

/// Reads the system trust store as [`TrustRoots::System`] documents. `env` looks up
/// environment variables; `bundles`, then `pem_dir`, are the places to try when
/// `SSL_CERT_FILE` is unset.
fn system_roots(
    env: &dyn Fn(&str) -> Option<std::ffi::OsString>,
    bundles: &[&str],
    pem_dir: &Path,
) -> SystemRoots {
    let mut found = SystemRoots::default();
    let cert_file = env("SSL_CERT_FILE").filter(|v| !v.is_empty());
    match cert_file {
        Some(file) => {
            // An explicit choice: no quiet fallback to another bundle.
            found.add_file(Path::new(&file));
        }
        None => {
            let bundle = bundles.iter().map(Path::new).find(|p| p.is_file());
            match bundle {
                Some(path) => found.add_file(path),
                None => found.add_dir(pem_dir, true),
            }
        }
    }
    if let Some(dirs) = env("SSL_CERT_DIR").filter(|v| !v.is_empty()) {
        for dir in std::env::split_paths(&dirs) {
            found.add_dir(&dir, false);
        }
    }
    found
}

impl SystemRoots {
    fn add_file(&mut self, path: &Path) {
        match std::fs::read(path) {
            Ok(pem) => match parse_pem_file(&pem) {
                Ok(contents) if !contents.certs.is_empty() => {
                    self.certs.extend(contents.certs);
                    self.sources.push(path.to_owned());
                }
                Ok(contents) => self
                    .skipped
                    .push((path.to_owned(), no_certificate(&contents))),
                Err(why) => self.skipped.push((path.to_owned(), why)),
            },
            Err(e) => self
                .skipped
                .push((path.to_owned(), format!("cannot read it: {e}"))),
        }
    }

    /// The certificate files of `dir`: with `pem_only`, `*.pem` alone; else also `*.crt`
    /// and OpenSSL's hashed names (`1a2b3c4d.0`). Files without certificates are passed
    /// over silently (a directory holds other things too).
    fn add_dir(&mut self, dir: &Path, pem_only: bool) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| is_cert_file_name(p, pem_only) && p.is_file())
            .collect();
        paths.sort();
        let before = self.certs.len();
        for path in paths {
            if let Ok(Ok(contents)) = std::fs::read(&path).map(|pem| parse_pem_file(&pem)) {
                self.certs.extend(contents.certs);
            }
        }
        if self.certs.len() > before {
            self.sources.push(dir.to_owned());
        }
    }
}

fn is_cert_file_name(path: &Path, pem_only: bool) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    if name.ends_with(".pem") {
        return true;
    }
    if pem_only {
        return false;
    }
    if name.ends_with(".crt") {
        return true;
    }
    // OpenSSL's c_rehash names: eight hex digits, a dot, a number.
    match name.split_once('.') {
        Some((hash, n)) => {
            hash.len() == 8
                && hash.bytes().all(|b| b.is_ascii_hexdigit())
                && !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

// ---------------------------------------------------------------------------------------
// TLS failures in plain words
// ---------------------------------------------------------------------------------------

/// A TLS failure in plain words ("the server's certificate is not trusted (unknown
/// issuer)", "... is for another name", "... has expired"), or `None` when `error` is not
/// a TLS failure.
pub(crate) fn describe_tls_error(error: &ureq::Error) -> Option<String> {
    if let Some(rustls_error) = find_rustls_error(error) {
        return Some(describe_rustls_error(rustls_error));
    }
    match error {
        ureq::Error::Tls(what) => Some(format!("TLS error: {what}")),
        ureq::Error::Pem(e) => Some(format!("TLS error: bad PEM data ({e:?})")),
        ureq::Error::TlsRequired => {
            Some("TLS error: TLS required, but the connection is not secured".to_owned())
        }
        _ => None,
    }
}

/// The rustls error inside a ureq error. ureq reports handshake failures as
/// `Error::Io(io::Error { kind: InvalidData, inner: rustls::Error })` (rustls's
/// `complete_io` wraps them so), and some setup failures as `Error::Rustls`.
fn find_rustls_error(error: &ureq::Error) -> Option<&rustls::Error> {
    match error {
        ureq::Error::Rustls(e) => Some(e),
        ureq::Error::Io(io) => io.get_ref().and_then(|inner| find_in_chain(inner)),
        _ => None,
    }
}

fn find_in_chain<'a>(
    mut error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a rustls::Error> {
    loop {
        if let Some(found) = error.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        if let Some(ureq_error) = error.downcast_ref::<ureq::Error>() {
            return find_rustls_error(ureq_error);
        }
        if let Some(io) = error.downcast_ref::<std::io::Error>() {
            // io::Error's source() skips its own inner error: look at that first.
            if let Some(inner) = io.get_ref() {
                error = inner;
                continue;
            }
        }
        error = error.source()?;
    }
}

fn describe_rustls_error(error: &rustls::Error) -> String {
    match error {
        rustls::Error::InvalidCertificate(cert) => describe_certificate_error(cert),
        rustls::Error::AlertReceived(alert) => describe_alert(*alert),
        rustls::Error::NoCertificatesPresented => "the server presented no certificate".to_owned(),
        other => format!("TLS error: {other}"),
    }
}

fn describe_certificate_error(error: &CertificateError) -> String {
    const NOT_TRUSTED: &str = "the server's certificate is not trusted";
    match error {
        CertificateError::UnknownIssuer => format!(
            "{NOT_TRUSTED} (unknown issuer: no trusted root certificate signed it; for a \
             private CA, add it with sse_config_set_ca_file)"
        ),
        CertificateError::NotValidForName => {
            "the server's certificate is for another name".to_owned()
        }
        CertificateError::NotValidForNameContext {
            expected,
            presented,
        } => {
            let presented: Vec<String> = presented.iter().map(|p| presented_name(p)).collect();
            let names = if presented.is_empty() {
                "no host name".to_owned()
            } else {
                presented.join(", ")
            };
            format!(
                "the server's certificate is for another name (connecting to {}, the \
                 certificate names {names})",
                expected.to_str()
            )
        }
        CertificateError::Expired => "the server's certificate has expired".to_owned(),
        CertificateError::ExpiredContext { time, not_after } => format!(
            "the server's certificate has expired (valid until {}, now {})",
            utc(*not_after),
            utc(*time)
        ),
        CertificateError::NotValidYet => {
            "the server's certificate is not valid yet (check the clock)".to_owned()
        }
        CertificateError::NotValidYetContext { time, not_before } => format!(
            "the server's certificate is not valid yet (valid from {}, now {}; check the clock)",
            utc(*not_before),
            utc(*time)
        ),
        CertificateError::BadSignature => {
            format!("{NOT_TRUSTED} (bad signature: it is not signed by the key of its issuer)")
        }
        CertificateError::Revoked => "the server's certificate has been revoked".to_owned(),
        CertificateError::BadEncoding => {
            "the server's certificate is malformed (bad encoding)".to_owned()
        }
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            format!("{NOT_TRUSTED} (it is not meant for TLS servers)")
        }
        other => format!(
            "{NOT_TRUSTED} ({})",
            rustls::Error::InvalidCertificate(other.clone())
        ),
    }
}

/// What a server's fatal alert means here: the server ended the handshake, most often
/// because of the client certificate (mutual TLS).
fn describe_alert(alert: AlertDescription) -> String {
    match alert {
        AlertDescription::CertificateRequired => "the server requires a client certificate \
             (mutual TLS) and none was sent; set one with sse_config_set_client_cert"
            .to_owned(),
        AlertDescription::BadCertificate
        | AlertDescription::UnsupportedCertificate
        | AlertDescription::CertificateRevoked
        | AlertDescription::CertificateExpired
        | AlertDescription::CertificateUnknown
        | AlertDescription::UnknownCA
        | AlertDescription::AccessDenied => {
            format!("the server refused the client certificate (alert {alert:?})")
        }
        AlertDescription::HandshakeFailure => "the server refused the handshake (alert \
             HandshakeFailure): it may want a client certificate, or refuse the one sent, \
             or share no protocol version or cipher suite with this client"
            .to_owned(),
        other => format!("TLS error: the server sent the fatal alert {other:?}"),
    }
}

/// webpki shows presented names as `DnsName("example.com")` and `IpAddress(127.0.0.1)`.
fn presented_name(name: &str) -> String {
    let inner = |prefix: &str| {
        name.strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(')'))
            .map(|s| s.trim_matches('"').to_owned())
    };
    inner("DnsName(")
        .or_else(|| inner("IpAddress("))
        .unwrap_or_else(|| name.to_owned())
}

/// `2024-05-17 12:00:00 UTC`.
fn utc(time: UnixTime) -> String {
    let secs = time.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    let mut out = String::new();
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed certificate for `name` and its PKCS#8 key, both PEM.
    fn self_signed(name: &str) -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![name.to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// A directory of one test's own, removed with its contents when dropped, even when
    /// the test fails.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(test: &str) -> Scratch {
            let dir = std::env::temp_dir()
                .join(format!("sse_client_tls_unit_{}_{test}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }

        fn path(&self, name: &str) -> PathBuf {
            self.0.join(name)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn err(result: Result<impl std::fmt::Debug, String>) -> String {
        result.expect_err("should be refused")
    }

    #[test]
    fn a_ca_pem_yields_its_certificates() {
        let (a, _) = self_signed("a.example");
        let (b, _) = self_signed("b.example");
        let certs = ca_certificates(format!("# comment\n{a}\n{b}").as_bytes()).unwrap();
        assert_eq!(certs.len(), 2);
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused_with_the_reason() {
        let (_, key) = self_signed("a.example");
        assert!(err(ca_certificates(key.as_bytes())).contains("private key but no certificate"));
        assert!(err(ca_certificates(b"just text\n")).contains("no PEM certificate"));
        assert!(err(ca_certificates(b"")).contains("no PEM certificate"));
        let truncated = "-----BEGIN CERTIFICATE-----\nMIIB\n";
        assert!(err(ca_certificates(truncated.as_bytes())).contains("not valid PEM"));
    }

    #[test]
    fn a_ca_certificate_that_is_not_x509_is_refused() {
        // Valid PEM and base64, but the DER inside is no certificate.
        let pem = "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n";
        assert!(err(ca_certificates(pem.as_bytes())).contains("cannot be a trust root"));
    }

    #[test]
    fn add_ca_file_names_the_path_of_a_missing_file() {
        let scratch = Scratch::new("add_ca_file_names_the_path_of_a_missing_file");
        let mut settings = TlsSettings::default();
        let path = scratch.path("does_not_exist.pem");
        let Err(ConfigError::InvalidArgument(message)) = settings.add_ca_file(&path) else {
            panic!("a missing file must be refused");
        };
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("cannot read"), "{message}");
        assert!(settings.extra_roots.is_empty());
    }

    #[test]
    fn add_ca_file_adds_to_the_bundled_roots() {
        let scratch = Scratch::new("add_ca_file_adds_to_the_bundled_roots");
        let (ca, _) = self_signed("ca.example");
        let path = scratch.path("ca.pem");
        std::fs::write(&path, ca).unwrap();
        let mut settings = TlsSettings::default();
        assert!(matches!(settings.to_ureq().root_certs(), RootCerts::WebPki));
        settings.add_ca_file(&path).unwrap();
        let RootCerts::Specific(certs) = settings.to_ureq().root_certs().clone() else {
            panic!("extra roots need a specific root set");
        };
        assert_eq!(
            certs.len(),
            webpki_root_certs::TLS_SERVER_ROOT_CERTS.len() + 1
        );
    }

    #[test]
    fn a_client_key_file_must_hold_exactly_one_unencrypted_key() {
        let (cert, key) = self_signed("client");
        assert!(client_key(key.as_bytes()).is_ok());
        assert!(err(client_key(cert.as_bytes())).contains("no private key"));
        let two = format!("{key}{key}");
        assert!(err(client_key(two.as_bytes())).contains("more than one"));
        let encrypted = concat!(
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\n",
            "aGVsbG8=\n",
            "-----END ENCRYPTED PRIVATE KEY-----\n"
        );
        assert!(err(client_key(encrypted.as_bytes())).contains("encrypted"));
    }

    #[test]
    fn a_client_chain_needs_a_certificate() {
        let (cert, key) = self_signed("client");
        assert_eq!(client_chain(cert.as_bytes()).unwrap().len(), 1);
        // A combined file serves as the chain: the key in it is ignored.
        assert_eq!(
            client_chain(format!("{key}{cert}").as_bytes())
                .unwrap()
                .len(),
            1
        );
        assert!(err(client_chain(key.as_bytes())).contains("private key but no certificate"));
    }

    #[test]
    fn a_client_key_must_belong_to_its_certificate() {
        let (cert, key) = self_signed("client");
        let (_, other_key) = self_signed("other");
        let chain = client_chain(cert.as_bytes()).unwrap();
        check_key_matches(&chain, &client_key(key.as_bytes()).unwrap().1).unwrap();
        let mismatch = check_key_matches(&chain, &client_key(other_key.as_bytes()).unwrap().1);
        assert!(err(mismatch).contains("public keys differ"));
        // A key block that holds no key rustls can load.
        let junk = "-----BEGIN PRIVATE KEY-----\naGVsbG8=\n-----END PRIVATE KEY-----\n";
        let junk = check_key_matches(&chain, &client_key(junk.as_bytes()).unwrap().1);
        assert!(err(junk).contains("cannot be used"));
    }

    #[test]
    fn set_client_cert_files_reports_the_file_at_fault() {
        let scratch = Scratch::new("set_client_cert_files_reports_the_file_at_fault");
        let (cert, key) = self_signed("client");
        let cert_path = scratch.path("client.crt");
        let key_path = scratch.path("client.key");
        std::fs::write(&cert_path, &cert).unwrap();
        std::fs::write(&key_path, &key).unwrap();
        let mut settings = TlsSettings::default();
        // Swapped files: the certificate file holds no certificate.
        let Err(ConfigError::InvalidArgument(message)) =
            settings.set_client_cert_files(&key_path, &cert_path)
        else {
            panic!("swapped files must be refused");
        };
        assert!(message.starts_with("client certificate "), "{message}");
        assert!(settings.client_cert.is_none());
        settings
            .set_client_cert_files(&cert_path, &key_path)
            .unwrap();
        assert!(settings.to_ureq().client_cert().is_some());
    }

    #[test]
    fn system_roots_prefer_ssl_cert_file_then_the_first_bundle_that_exists() {
        let scratch =
            Scratch::new("system_roots_prefer_ssl_cert_file_then_the_first_bundle_that_exists");
        let (a, _) = self_signed("a.example");
        let (b, _) = self_signed("b.example");
        let file_a = scratch.path("system_a.pem");
        let file_b = scratch.path("system_b.pem");
        std::fs::write(&file_a, &a).unwrap();
        std::fs::write(&file_b, format!("{a}{b}")).unwrap();
        let missing = scratch.path("system_missing.pem");
        let bundles = [missing.to_str().unwrap(), file_b.to_str().unwrap()];

        let no_env = |_: &str| None;
        let found = system_roots(&no_env, &bundles, &missing);
        assert_eq!(
            (found.certs.len(), found.sources),
            (2, vec![file_b.clone()])
        );

        let env = |name: &str| (name == "SSL_CERT_FILE").then(|| file_a.clone().into_os_string());
        let found = system_roots(&env, &bundles, &missing);
        assert_eq!(
            (found.certs.len(), found.sources),
            (1, vec![file_a.clone()])
        );

        // An SSL_CERT_FILE that cannot be used is reported, not replaced by a bundle.
        let env = |name: &str| (name == "SSL_CERT_FILE").then(|| missing.clone().into_os_string());
        let found = system_roots(&env, &bundles, &missing);
        assert!(found.certs.is_empty());
        assert_eq!(found.skipped.len(), 1);
    }

    #[test]
    fn system_roots_read_the_certificate_files_of_ssl_cert_dir() {
        let scratch = Scratch::new("system_roots_read_the_certificate_files_of_ssl_cert_dir");
        let (a, key) = self_signed("a.example");
        let dir = scratch.path("certs");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("one.pem"), &a).unwrap();
        std::fs::write(dir.join("0a1b2c3d.0"), &a).unwrap();
        std::fs::write(dir.join("key.pem"), &key).unwrap();
        std::fs::write(dir.join("README"), &a).unwrap();
        let env = |name: &str| (name == "SSL_CERT_DIR").then(|| dir.clone().into_os_string());
        let found = system_roots(&env, &[], &dir.join("none"));
        assert_eq!(found.certs.len(), 2);
        assert_eq!(found.sources, vec![dir.clone()]);
    }

    #[test]
    fn certificate_failures_are_described_in_plain_words() {
        let describe =
            |e: CertificateError| describe_rustls_error(&rustls::Error::InvalidCertificate(e));
        assert!(describe(CertificateError::UnknownIssuer)
            .starts_with("the server's certificate is not trusted (unknown issuer"));
        assert_eq!(
            describe(CertificateError::NotValidForNameContext {
                expected: rustls::pki_types::ServerName::try_from("localhost").unwrap(),
                presented: vec![
                    "DnsName(\"other.example\")".to_owned(),
                    "IpAddress(10.0.0.1)".to_owned()
                ],
            }),
            "the server's certificate is for another name (connecting to localhost, the \
             certificate names other.example, 10.0.0.1)"
        );
        assert_eq!(
            describe(CertificateError::ExpiredContext {
                time: UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_700_000_000)),
                not_after: UnixTime::since_unix_epoch(std::time::Duration::from_secs(951_782_400)),
            }),
            "the server's certificate has expired (valid until 2000-02-29 00:00:00 UTC, now \
             2023-11-14 22:13:20 UTC)"
        );
        assert!(describe(CertificateError::Expired).contains("has expired"));
        assert!(describe(CertificateError::NotValidYet).contains("not valid yet"));
        assert!(describe(CertificateError::BadSignature).contains("bad signature"));
    }

    #[test]
    fn a_server_alert_about_the_client_certificate_says_so() {
        let describe = |a| describe_rustls_error(&rustls::Error::AlertReceived(a));
        assert!(describe(AlertDescription::CertificateRequired)
            .contains("requires a client certificate"));
        assert!(
            describe(AlertDescription::BadCertificate).contains("refused the client certificate")
        );
        assert!(describe(AlertDescription::HandshakeFailure).contains("client certificate"));
        assert!(describe(AlertDescription::ProtocolVersion).starts_with("TLS error: "));
    }

    #[test]
    fn rustls_errors_are_found_inside_io_errors() {
        // How a failed handshake reaches us: rustls's complete_io wraps it in InvalidData.
        let wrapped = ureq::Error::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
        ));
        assert!(describe_tls_error(&wrapped)
            .unwrap()
            .contains("unknown issuer"));
        let direct = ureq::Error::Rustls(rustls::Error::AlertReceived(
            AlertDescription::CertificateRequired,
        ));
        assert!(describe_tls_error(&direct)
            .unwrap()
            .contains("client certificate"));
        let other = rustls::Error::General("boom".to_owned());
        assert_eq!(
            describe_tls_error(&ureq::Error::Rustls(other)).unwrap(),
            "TLS error: unexpected error: boom"
        );
    }

    #[test]
    fn errors_that_are_not_tls_have_no_tls_description() {
        let refused = ureq::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(describe_tls_error(&refused), None);
        let other = ureq::Error::Io(std::io::Error::other("not tls"));
        assert_eq!(describe_tls_error(&other), None);
        assert_eq!(describe_tls_error(&ureq::Error::HostNotFound), None);
    }

    #[test]
    fn dates_are_shown_in_utc() {
        assert_eq!(
            utc(UnixTime::since_unix_epoch(std::time::Duration::from_secs(
                86_399
            ))),
            "1970-01-01 23:59:59 UTC"
        );
    }

    #[test]
    fn presented_names_lose_their_debug_wrapping() {
        assert_eq!(presented_name("DnsName(\"a.example\")"), "a.example");
        assert_eq!(presented_name("IpAddress(127.0.0.1)"), "127.0.0.1");
        assert_eq!(presented_name("DirectoryName"), "DirectoryName");
    }
}
