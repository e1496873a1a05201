//! TLS settings: which roots to trust, extra CA certificates, a client certificate; and
//! plain words for TLS failures.
//!
//! STUB: the interface is fixed; the implementation is being written.

use std::path::Path;

use ureq::tls::{Certificate, ClientCert, TlsConfig};

use crate::config::ConfigError;

/// Where the trusted root certificates come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TrustRoots {
    /// The Mozilla root program, bundled in the library (the default): the same trust on
    /// every machine.
    #[default]
    Bundled,
    /// The operating system's trust store (e.g. /etc/ssl/certs on Debian).
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
    pub fn add_ca_file(&mut self, _path: &Path) -> Result<(), ConfigError> {
        todo!()
    }

    /// Presents this certificate chain and key (PEM files) to servers that ask (mutual TLS).
    pub fn set_client_cert_files(&mut self, _cert: &Path, _key: &Path) -> Result<(), ConfigError> {
        todo!()
    }

    /// The ureq TLS configuration for these settings.
    pub(crate) fn to_ureq(&self) -> TlsConfig {
        TlsConfig::default()
    }
}

/// A TLS failure in plain words ("the server's certificate is not trusted (unknown
/// issuer)", "... is for another name", "... has expired"), or `None` when `error` is not
/// a TLS failure.
pub(crate) fn describe_tls_error(_error: &ureq::Error) -> Option<String> {
    None
}
