//! Which proxy, if any, a connection goes through: an explicit one, the conventional
//! environment variables, or none.
//!
//! STUB: the interface is fixed; the implementation is being written.

use ureq::http::Uri;
use ureq::Proxy;

use crate::config::ConfigError;

#[derive(Clone, Debug, Default)]
pub enum ProxySetting {
    /// HTTPS_PROXY (https targets), HTTP_PROXY (http targets), ALL_PROXY (either), and
    /// NO_PROXY, also in lower case. The default.
    #[default]
    FromEnvironment,
    /// Always this proxy (http:// CONNECT or socks5://).
    Explicit(Proxy),
    /// Never a proxy, whatever the environment says.
    Direct,
}

/// Parses an explicit proxy URL: `http://[user:pass@]host:port` or `socks5://host:port`.
pub fn parse_proxy(_url: &str) -> Result<Proxy, ConfigError> {
    todo!()
}

/// The proxy for a connection to `target`; `env` reads an environment variable (injected
/// so that tests need not change the process environment).
pub(crate) fn proxy_for(
    _target: &Uri,
    setting: &ProxySetting,
    _env: &dyn Fn(&str) -> Option<String>,
) -> Option<Proxy> {
    match setting {
        ProxySetting::Explicit(proxy) => Some(proxy.clone()),
        _ => None,
    }
}
