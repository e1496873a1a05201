//! TLS settings: which roots to trust, extra CA certificates, a client certificate; and
//! plain words for TLS failures.
//!
//! Everything is read and checked when it is set (a bad file is the setter's error, not
//! every connection's), except the operating system's trust store, which is read when a
//! client builds its connection agent, so that it is as current as the client.
//!
//! There is no switch that turns verification off: every setting here only chooses *what*
//! is trusted.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::{AlertDescription, CertificateError};
use ureq::tls::TlsConfig;
use ureq::tls::{parse_pem, Certificate, ClientCert, PemItem, PrivateKey, RootCerts};

use crate::config::error::{ConfigError, Setting};

/// Where the trusted root certificates come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TrustRoots {
    /// The Mozilla root program, bundled in the library (the default): the same trust on
    /// every machine.
    #[default]
    Bundled,
    /// The operating system's trust store, read when a client opens (by
    /// rustls-native-certs): the Windows certificate store (the system's trusted roots),
    /// the macOS keychain (the roots the user, the admin and the system trust), elsewhere
    /// the distribution's CA bundle where OpenSSL finds it. On every platform,
    /// `SSL_CERT_FILE` (a PEM bundle) and `SSL_CERT_DIR` (a directory of c_rehash-named
    /// certificate files), when set, are read instead of the store. When no certificate is
    /// found, a warning is logged and the bundled Mozilla roots are used instead.
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
            TrustRoots::System => system_or_bundled(load_system_roots(), &self.extra_roots),
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
    let directory = "it is a directory, not a file";
    match std::fs::read(path) {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::IsADirectory => Err(directory.to_owned()),
        // Windows refuses to open a directory as "access denied": say what it is there too.
        Err(_) if path.is_dir() => Err(directory.to_owned()),
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

/// The root certificates of the operating system's trust store, as [`TrustRoots::System`]
/// documents; what could not be read is logged as a warning.
///
/// rustls-native-certs does the reading (rather than rustls-platform-verifier): it yields
/// certificates, so that the CA files of `sse_config_set_ca_file` add to them and an empty
/// store falls back to the bundled roots, as on Linux before; verification stays
/// rustls's (webpki), the same code and the same error descriptions on every platform.
/// ureq's platform-verifier setting takes no extra roots and has no such fallback.
fn load_system_roots() -> Vec<Certificate<'static>> {
    let found = rustls_native_certs::load_native_certs();
    for error in &found.errors {
        log::warn!("system trust store: {error}");
    }
    found
        .certs
        .iter()
        .map(|der| Certificate::from_der(der.as_ref()).to_owned())
        .collect()
}

/// The system's roots plus `extra`; when the system had none, the bundled Mozilla roots
/// plus `extra`, with a warning.
fn system_or_bundled(
    system: Vec<Certificate<'static>>,
    extra: &[Certificate<'static>],
) -> RootCerts {
    if system.is_empty() {
        log::warn!(
            "no certificate found in the system trust store (nor in SSL_CERT_FILE or \
             SSL_CERT_DIR when set); using the bundled Mozilla roots"
        );
        return bundled_roots(extra);
    }
    log::debug!("trusting {} system root certificates", system.len());
    let mut certs = system;
    certs.extend(extra.iter().cloned());
    RootCerts::Specific(Arc::new(certs))
}

// ---------------------------------------------------------------------------------------
// TLS failures in plain words
// ---------------------------------------------------------------------------------------

/// A TLS failure in plain words, and the setting that would fix it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct TlsFailure {
    pub text: String,
    /// When `Some`, `text` ends with the neutral words that name this setting.
    pub remedy: Option<Setting>,
}

impl TlsFailure {
    fn fixed_by(setting: Setting, text: String) -> TlsFailure {
        TlsFailure {
            text,
            remedy: Some(setting),
        }
    }
}

impl From<String> for TlsFailure {
    fn from(text: String) -> TlsFailure {
        TlsFailure { text, remedy: None }
    }
}

/// A TLS failure in plain words ("the server's certificate is not trusted (unknown
/// issuer)", "... is for another name", "... has expired"), or `None` when `error` is not
/// a TLS failure.
pub(crate) fn describe_tls_error(error: &ureq::Error) -> Option<TlsFailure> {
    if let Some(rustls_error) = find_rustls_error(error) {
        return Some(describe_rustls_error(rustls_error));
    }
    let text = match error {
        ureq::Error::Tls(what) => format!("TLS error: {what}"),
        ureq::Error::Pem(e) => format!("TLS error: bad PEM data ({e:?})"),
        ureq::Error::TlsRequired => {
            "TLS error: TLS required, but the connection is not secured".to_owned()
        }
        _ => return None,
    };
    Some(text.into())
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

const NOT_TRUSTED: &str = "the server's certificate is not trusted";

/// The two failures a setting fixes end with their remedy; the others are told as they are.
fn describe_rustls_error(error: &rustls::Error) -> TlsFailure {
    match error {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => TlsFailure::fixed_by(
            Setting::CaFile,
            format!(
                "{NOT_TRUSTED} (unknown issuer: no trusted root certificate signed it); for a \
                 private CA, add it to the trusted CA certificates"
            ),
        ),
        rustls::Error::AlertReceived(AlertDescription::CertificateRequired) => {
            TlsFailure::fixed_by(
                Setting::ClientCert,
                "the server requires a client certificate (mutual TLS) and none was sent; \
                 set a client certificate"
                    .to_owned(),
            )
        }
        rustls::Error::InvalidCertificate(cert) => describe_certificate_error(cert).into(),
        rustls::Error::AlertReceived(alert) => describe_alert(*alert).into(),
        rustls::Error::NoCertificatesPresented => {
            "the server presented no certificate".to_owned().into()
        }
        other => format!("TLS error: {other}").into(),
    }
}

fn describe_certificate_error(error: &CertificateError) -> String {
    match error {
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
/// because of the client certificate (mutual TLS; CertificateRequired is told with its
/// remedy by `describe_rustls_error`).
fn describe_alert(alert: AlertDescription) -> String {
    match alert {
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

/// An HTTP date, `Fri, 17 May 2024 12:00:00 GMT`.
fn utc(time: UnixTime) -> String {
    // httpdate names every second before the year 10000, which covers every date an X.509
    // certificate can hold (four-digit years); past it, plain seconds rather than a panic.
    const YEAR_10000: u64 = 253_402_300_800;
    let secs = time.as_secs();
    if secs >= YEAR_10000 {
        return format!("{secs} s after 1970");
    }
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

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
    fn system_roots_come_with_the_extra_ones_and_an_empty_store_falls_back_to_the_bundle() {
        let (system, _) = self_signed("system.example");
        let (extra, _) = self_signed("extra.example");
        let system = ca_certificates(system.as_bytes()).unwrap();
        let extra = ca_certificates(extra.as_bytes()).unwrap();

        let RootCerts::Specific(certs) = system_or_bundled(system.clone(), &extra) else {
            panic!("the system's roots are a specific root set");
        };
        let ders: Vec<&[u8]> = certs.iter().map(|c| c.der()).collect();
        assert_eq!(ders, [system[0].der(), extra[0].der()]);

        let RootCerts::Specific(certs) = system_or_bundled(Vec::new(), &extra) else {
            panic!("bundled plus extra roots are a specific root set");
        };
        assert_eq!(
            certs.len(),
            webpki_root_certs::TLS_SERVER_ROOT_CERTS.len() + 1
        );
        assert!(matches!(
            system_or_bundled(Vec::new(), &[]),
            RootCerts::WebPki
        ));
    }

    #[test]
    fn certificate_failures_are_described_in_plain_words() {
        let describe =
            |e: CertificateError| describe_rustls_error(&rustls::Error::InvalidCertificate(e)).text;
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
            "the server's certificate has expired (valid until Tue, 29 Feb 2000 00:00:00 GMT, now \
             Tue, 14 Nov 2023 22:13:20 GMT)"
        );
        assert!(describe(CertificateError::Expired).contains("has expired"));
        assert!(describe(CertificateError::NotValidYet).contains("not valid yet"));
        assert!(describe(CertificateError::BadSignature).contains("bad signature"));
    }

    #[test]
    fn a_server_alert_about_the_client_certificate_says_so() {
        let describe = |a| describe_rustls_error(&rustls::Error::AlertReceived(a)).text;
        assert!(describe(AlertDescription::CertificateRequired)
            .contains("requires a client certificate"));
        assert!(
            describe(AlertDescription::BadCertificate).contains("refused the client certificate")
        );
        assert!(describe(AlertDescription::HandshakeFailure).contains("client certificate"));
        assert!(describe(AlertDescription::ProtocolVersion).starts_with("TLS error: "));
    }

    #[test]
    fn failures_a_setting_fixes_end_with_it_in_neutral_words() {
        let unknown_issuer = describe_rustls_error(&rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer,
        ));
        assert_eq!(unknown_issuer.remedy, Some(Setting::CaFile));
        assert!(
            unknown_issuer
                .text
                .ends_with("; for a private CA, add it to the trusted CA certificates"),
            "{unknown_issuer:?}"
        );
        let required = describe_rustls_error(&rustls::Error::AlertReceived(
            AlertDescription::CertificateRequired,
        ));
        assert_eq!(required.remedy, Some(Setting::ClientCert));
        assert!(
            required.text.ends_with("; set a client certificate"),
            "{required:?}"
        );
        for failure in [&unknown_issuer, &required] {
            assert!(!failure.text.contains("sse_"), "{failure:?}");
        }
        let no_remedy = [
            rustls::Error::InvalidCertificate(CertificateError::Expired),
            rustls::Error::AlertReceived(AlertDescription::BadCertificate),
            rustls::Error::NoCertificatesPresented,
        ];
        for error in no_remedy {
            assert_eq!(describe_rustls_error(&error).remedy, None, "{error:?}");
        }
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
            .text
            .contains("unknown issuer"));
        let direct = ureq::Error::Rustls(rustls::Error::AlertReceived(
            AlertDescription::CertificateRequired,
        ));
        assert!(describe_tls_error(&direct)
            .unwrap()
            .text
            .contains("client certificate"));
        let other = rustls::Error::General("boom".to_owned());
        assert_eq!(
            describe_tls_error(&ureq::Error::Rustls(other)).unwrap(),
            TlsFailure::from("TLS error: unexpected error: boom".to_owned())
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
            "Thu, 01 Jan 1970 23:59:59 GMT"
        );
        // The largest X.509 date is shown; anything past the year 9999 is not a panic.
        let last = UnixTime::since_unix_epoch(std::time::Duration::from_secs(253_402_300_799));
        assert_eq!(utc(last), "Fri, 31 Dec 9999 23:59:59 GMT");
        let beyond = UnixTime::since_unix_epoch(std::time::Duration::from_secs(u64::MAX));
        assert_eq!(utc(beyond), format!("{} s after 1970", u64::MAX));
    }

    #[test]
    fn presented_names_lose_their_debug_wrapping() {
        assert_eq!(presented_name("DnsName(\"a.example\")"), "a.example");
        assert_eq!(presented_name("IpAddress(127.0.0.1)"), "127.0.0.1");
        assert_eq!(presented_name("DirectoryName"), "DirectoryName");
    }
}
