//! Which proxy, if any, a connection goes through: an explicit one, the conventional
//! environment variables, or none.
//!
//! Decisions only: [`proxy_for`] is a pure function of the target, the setting and an
//! injected environment, and [`no_proxy_matches`] of a NO_PROXY list and a host. ureq
//! carries the connection (HTTP CONNECT or SOCKS5); its own reading of the environment
//! (`Proxy::try_from_env`, which takes the first of ALL_PROXY, HTTPS_PROXY and HTTP_PROXY
//! whatever the target's scheme) is never used.
//!
//! The rules of the environment, as curl and Python's urllib read it:
//!
//! - An https:// target uses `https_proxy`, else `HTTPS_PROXY`; an http:// target
//!   `http_proxy`, else `HTTP_PROXY`; either falls back to `all_proxy`, else `ALL_PROXY`.
//!   The lower-case name wins when both are set (one consistent rule for every variable).
//!   Unlike curl, upper-case `HTTP_PROXY` is honoured: the "httpoxy" reason to ignore it
//!   (a CGI server turns a request's `Proxy:` header into `HTTP_PROXY`) does not concern a
//!   client library. An empty value counts as unset.
//! - A value without a scheme (`proxy:3128`) means `http://proxy:3128`, as in curl. A value
//!   that still does not parse (or names an unsupported scheme) is ignored with a warning,
//!   and the connection goes direct: the first variable set decides, no later one is tried.
//! - `no_proxy`, else `NO_PROXY`, lists hosts reached directly; see [`no_proxy_matches`].
//!
//! An explicit proxy (`Config::set_proxy`) applies to every connection: NO_PROXY does not
//! apply to it, and neither do the other variables.
//!
//! The proxy is chosen once per agent, for the configured URL; redirects followed by that
//! agent go through the same proxy (or none).

use std::net::IpAddr;

use ureq::http::Uri;
use ureq::{Proxy, ProxyProtocol};

use crate::config::error::ConfigError;
use crate::http::url_rules::{check_authority, redact};

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

/// What an explicit proxy URL may look like, for error messages.
const EXPECTED: &str = "expected http://[user:pass@]host[:port] (HTTP CONNECT) or \
     socks5://[user:pass@]host[:port] (socks5h:// to let the proxy resolve host names)";

/// Parses an explicit proxy URL: `http://[user:pass@]host:port` or `socks5://host:port`.
///
/// Schemes: `http` (an HTTP proxy, reached in plain text, asked to CONNECT to the target;
/// default port 80), `socks5` (SOCKS5, target resolved locally; default port 1080) and
/// `socks5h` (SOCKS5, the proxy resolves the target's name). A user name and password are
/// percent-decoded and sent as `Proxy-Authorization: Basic` (http) or as SOCKS5
/// username/password authentication. Anything else, including a URL without a scheme, a
/// host, with a port that is not a number from 1 to 65535, or with a path, is
/// `ConfigError::InvalidUrl`; the message never repeats the password.
pub fn parse_proxy(url: &str) -> Result<Proxy, ConfigError> {
    let shown = redact(&url);
    let refuse = |why: String| {
        Err(ConfigError::InvalidUrl(format!(
            "proxy URL {why}; {EXPECTED}"
        )))
    };
    let uri: Uri = match url.parse() {
        Ok(uri) => uri,
        Err(e) => return refuse(format!("{shown:?} does not parse ({e})")),
    };
    let scheme = match uri.scheme_str() {
        Some(scheme) => scheme.to_ascii_lowercase(),
        None => return refuse(format!("{shown:?} has no scheme")),
    };
    if !matches!(scheme.as_str(), "http" | "socks5" | "socks5h") {
        return refuse(format!("{shown:?} has the unsupported scheme {scheme:?}"));
    }
    let Some(authority) = uri.authority() else {
        return refuse(format!("{shown:?} has no host"));
    };
    if authority.host().is_empty() {
        return refuse(format!("{shown:?} has no host"));
    }
    // The same rule as for the target: a port beyond 65535 would read as no port, and
    // ureq would use the default one.
    if let Err(why) = check_authority(authority) {
        return refuse(format!("{shown:?} cannot be used: {why}"));
    }
    if let Some(path) = uri.path_and_query() {
        if !matches!(path.as_str(), "" | "/") {
            return refuse(format!(
                "{shown:?} has a path or query, which a proxy URL cannot have"
            ));
        }
    }
    Proxy::new(url).or_else(|e| refuse(format!("{shown:?} is refused by the HTTP client: {e}")))
}

/// The proxy for a connection to `target`; `env` reads an environment variable (injected
/// so that tests need not change the process environment).
pub(crate) fn proxy_for(
    target: &Uri,
    setting: &ProxySetting,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<Proxy> {
    match setting {
        ProxySetting::Explicit(proxy) => {
            log::debug!(
                "connecting to {} through {}",
                redact(target),
                describe(proxy)
            );
            Some(proxy.clone())
        }
        ProxySetting::Direct => None,
        ProxySetting::FromEnvironment => from_environment(target, env),
    }
}

/// The environment's proxy for `target`, by the rules in the module documentation.
fn from_environment(target: &Uri, env: &dyn Fn(&str) -> Option<String>) -> Option<Proxy> {
    let https = target
        .scheme_str()
        .is_some_and(|s| s.eq_ignore_ascii_case("https"));
    let names: [&str; 4] = if https {
        ["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"]
    } else {
        ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"]
    };
    let (name, value) = first_set(env, &names)?;
    let host = target.host()?;
    let port = target.port_u16().unwrap_or(if https { 443 } else { 80 });
    if let Some((no_proxy_name, list)) = first_set(env, &["no_proxy", "NO_PROXY"]) {
        if no_proxy_matches(&list, host, port) {
            log::debug!(
                "{no_proxy_name} lists {host}: connecting to {} directly",
                redact(target)
            );
            return None;
        }
    }
    let url = match value.contains("://") {
        true => value,
        false => format!("http://{value}"),
    };
    match parse_proxy(&url) {
        Ok(proxy) => {
            log::debug!(
                "connecting to {} through {} (from {name})",
                redact(target),
                describe(&proxy)
            );
            Some(proxy)
        }
        Err(e) => {
            log::warn!(
                "ignoring {name}: {e}; connecting to {} directly",
                redact(target)
            );
            None
        }
    }
}

/// The first of `names` that is set to a non-blank value, with that value (trimmed).
fn first_set<'a>(
    env: &dyn Fn(&str) -> Option<String>,
    names: &[&'a str],
) -> Option<(&'a str, String)> {
    names.iter().find_map(|&name| {
        let value = env(name)?;
        let value = value.trim();
        (!value.is_empty()).then(|| (name, value.to_owned()))
    })
}

/// Whether a NO_PROXY list says that `host` (port `port`) is reached directly.
///
/// Entries are separated by commas (or white space) and compared case-insensitively:
/// - `*` matches every host;
/// - a name matches itself and its subdomains: `example.com`, `.example.com` and
///   `*.example.com` all match `example.com` and `api.example.com`, not `badexample.com`;
/// - an IP address matches that address only (`127.0.0.1`, `::1`, `[::1]`), a CIDR block
///   (`10.0.0.0/8`, `fd00::/8`) the addresses in it; names are never resolved, so
///   `127.0.0.1` does not match `localhost`;
/// - `:port` after an entry (`example.com:8443`, `[::1]:8080`) restricts it to that port.
///
/// Entries that do not parse are skipped.
pub(crate) fn no_proxy_matches(list: &str, host: &str, port: u16) -> bool {
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let host_ip = host.parse::<IpAddr>().ok();
    list.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|entry| !entry.is_empty())
        .any(|entry| entry_matches(entry, &host, host_ip, port))
}

fn entry_matches(entry: &str, host: &str, host_ip: Option<IpAddr>, port: u16) -> bool {
    if entry == "*" {
        return true;
    }
    let Some((pattern, entry_port)) = split_port(entry) else {
        return false;
    };
    if entry_port.is_some_and(|p| p != port) {
        return false;
    }
    if let Some((network, bits)) = parse_cidr(pattern) {
        return host_ip.is_some_and(|ip| in_network(ip, network, bits));
    }
    if let Ok(ip) = pattern.parse::<IpAddr>() {
        return host_ip == Some(ip);
    }
    if host_ip.is_some() {
        return false;
    }
    let domain = pattern
        .strip_prefix("*.")
        .or_else(|| pattern.strip_prefix('.'))
        .unwrap_or(pattern)
        .trim_end_matches('.')
        .to_ascii_lowercase();
    if domain.is_empty() {
        return false;
    }
    host == domain
        || host
            .strip_suffix(domain.as_str())
            .is_some_and(|rest| rest.ends_with('.'))
}

/// Splits an entry into its host part and optional port; None when the port is not a
/// number. A bare IPv6 address (two colons or more) has no port unless bracketed.
fn split_port(entry: &str) -> Option<(&str, Option<u16>)> {
    if let Some(rest) = entry.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        return match after {
            "" => Some((inside, None)),
            _ => Some((inside, Some(after.strip_prefix(':')?.parse().ok()?))),
        };
    }
    match entry.matches(':').count() {
        1 => {
            let (host, port) = entry.split_once(':')?;
            Some((host, Some(port.parse().ok()?)))
        }
        _ => Some((entry, None)),
    }
}

fn parse_cidr(pattern: &str) -> Option<(IpAddr, u32)> {
    let (address, bits) = pattern.split_once('/')?;
    let address: IpAddr = address.parse().ok()?;
    let bits: u32 = bits.parse().ok()?;
    let max = if address.is_ipv4() { 32 } else { 128 };
    (bits <= max).then_some((address, bits))
}

fn in_network(ip: IpAddr, network: IpAddr, bits: u32) -> bool {
    match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(network)) => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(ip) & mask == u32::from(network) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(network)) => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(ip) & mask == u128::from(network) & mask
        }
        _ => false,
    }
}

/// A proxy for logs: protocol, host and port, never the credentials.
pub(crate) fn describe(proxy: &Proxy) -> String {
    let kind = match proxy.protocol() {
        ProxyProtocol::Http => "HTTP proxy",
        ProxyProtocol::Socks5 => "SOCKS5 proxy",
        ProxyProtocol::Socks5h => "SOCKS5h proxy",
        _ => "proxy",
    };
    let auth = match proxy.username() {
        Some(_) => " (with credentials)",
        None => "",
    };
    format!("{kind} {}:{}{auth}", proxy.host(), proxy.port())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn uri(url: &str) -> Uri {
        url.parse().unwrap()
    }

    /// The proxy the environment gives `target`, as "PROTOCOL host:port".
    fn env_proxy(target: &str, pairs: &[(&str, &str)]) -> Option<String> {
        proxy_for(&uri(target), &ProxySetting::FromEnvironment, &env_of(pairs))
            .map(|p| format!("{} {}:{}", p.protocol(), p.host(), p.port()))
    }

    fn invalid_url_message(url: &str) -> String {
        match parse_proxy(url) {
            Err(ConfigError::InvalidUrl(message)) => message,
            other => panic!("{url:?} should be refused as InvalidUrl, got {other:?}"),
        }
    }

    #[test]
    fn parses_http_proxy_with_and_without_port_and_credentials() {
        let proxy = parse_proxy("http://proxy.example:3128").unwrap();
        assert_eq!(proxy.protocol(), ProxyProtocol::Http);
        assert_eq!((proxy.host(), proxy.port()), ("proxy.example", 3128));
        assert_eq!(proxy.username(), None);

        // ureq's default port for an HTTP proxy is 80 (curl's would be 1080).
        let proxy = parse_proxy("http://proxy.example").unwrap();
        assert_eq!(proxy.port(), 80);
        let proxy = parse_proxy("HTTP://proxy.example:8080/").unwrap();
        assert_eq!(proxy.protocol(), ProxyProtocol::Http);

        let proxy = parse_proxy("http://al%40ice:p%3Ass@10.0.0.1:8080").unwrap();
        assert_eq!(proxy.username(), Some("al@ice"));
        assert_eq!(proxy.password(), Some("p:ss"));
        assert_eq!((proxy.host(), proxy.port()), ("10.0.0.1", 8080));

        let proxy = parse_proxy("http://[::1]:3128").unwrap();
        assert_eq!(proxy.port(), 3128);
    }

    #[test]
    fn parses_socks5_and_socks5h_proxies() {
        let proxy = parse_proxy("socks5://user:pass@127.0.0.1:1080").unwrap();
        assert_eq!(proxy.protocol(), ProxyProtocol::Socks5);
        assert_eq!((proxy.host(), proxy.port()), ("127.0.0.1", 1080));
        assert_eq!(proxy.username(), Some("user"));
        assert_eq!(proxy.password(), Some("pass"));
        // socks5: the client resolves the target; socks5h: the proxy does.
        assert!(proxy.resolve_target());

        let proxy = parse_proxy("socks5h://socks.example").unwrap();
        assert_eq!(proxy.protocol(), ProxyProtocol::Socks5h);
        assert_eq!(proxy.port(), 1080);
        assert!(!proxy.resolve_target());
    }

    #[test]
    fn refuses_other_schemes_garbage_and_missing_hosts_as_invalid_url() {
        for url in [
            "",
            "garbage",
            "proxy.example:3128",
            "http://",
            "http://:8080",
            "http://user:pass@:8080",
            "http://proxy.example:99999",
            "http://proxy.example:65536",
            "http://proxy.example:0",
            "http://proxy.example:abc",
            "http://proxy.example:+80",
            "socks5://[::1]:99999",
            "socks5://[::1]x",
            "socks5h://[proxy]:1080",
            "http://proxy.example:3128/some/path",
            "http://proxy.example:3128/?x=1",
            "http://exa mple:3128",
            "https://proxy.example:443",
            "socks4://proxy.example:1080",
            "socks://proxy.example:1080",
            "ftp://proxy.example:21",
            "http://u:%FF@proxy.example:3128",
        ] {
            let message = invalid_url_message(url);
            assert!(
                message.contains("http://") && message.contains("socks5://"),
                "{url:?}: the message should name the supported schemes: {message}"
            );
        }
        let message = invalid_url_message("ftp://proxy.example:21");
        assert!(message.contains("\"ftp\""), "{message}");
        let message = invalid_url_message("http://proxy.example:99999");
        assert!(message.contains("port \"99999\""), "{message}");
    }

    #[test]
    fn refusal_messages_never_show_the_password() {
        for url in [
            "ftp://alice:s3cret@proxy.example:21",
            "http://alice:s3cret@proxy.example:3128/path",
            "http://alice:s3cret@:3128",
        ] {
            let message = invalid_url_message(url);
            assert!(!message.contains("s3cret"), "{message}");
            assert!(message.contains("***@proxy.example") || message.contains("***@:"));
        }
    }

    #[test]
    fn explicit_proxy_applies_whatever_the_environment_and_no_proxy_say() {
        let explicit = ProxySetting::Explicit(parse_proxy("socks5://127.0.0.1:9").unwrap());
        let env = env_of(&[
            ("NO_PROXY", "*"),
            ("HTTP_PROXY", "http://other:1"),
            ("HTTPS_PROXY", "http://other:1"),
        ]);
        for target in ["http://127.0.0.1:8080/", "https://example.com/"] {
            let proxy = proxy_for(&uri(target), &explicit, &env).expect("the explicit proxy");
            assert_eq!((proxy.host(), proxy.port()), ("127.0.0.1", 9));
        }
    }

    #[test]
    fn direct_ignores_the_environment() {
        let env = env_of(&[("HTTP_PROXY", "http://p:1"), ("ALL_PROXY", "http://p:1")]);
        assert!(proxy_for(&uri("http://x/"), &ProxySetting::Direct, &env).is_none());
    }

    #[test]
    fn no_environment_means_no_proxy() {
        assert_eq!(env_proxy("http://x/", &[]), None);
        assert_eq!(env_proxy("https://x/", &[]), None);
    }

    /// What the environment gives with all of `env`, then without its first variable,
    /// then without its first two, and so on while two are left: the order of precedence.
    fn assert_precedence(target: &str, env: &[(&str, &str)], expected: &[Option<&str>]) {
        let proxies: Vec<Option<String>> = (0..env.len() - 1)
            .map(|dropped| env_proxy(target, &env[dropped..]))
            .collect();
        let proxies: Vec<Option<&str>> = proxies.iter().map(Option::as_deref).collect();
        assert_eq!(proxies, expected, "{target}");
    }

    #[test]
    fn https_targets_use_https_proxy_then_all_proxy() {
        let all = [
            ("https_proxy", "http://lower:1"),
            ("HTTPS_PROXY", "http://upper:2"),
            ("all_proxy", "http://all-lower:3"),
            ("ALL_PROXY", "http://all-upper:4"),
            ("http_proxy", "http://plain:5"),
            ("HTTP_PROXY", "http://plain:6"),
        ];
        // HTTP_PROXY never applies to an https target.
        assert_precedence(
            "https://example.com/events",
            &all,
            &[
                Some("HTTP lower:1"),
                Some("HTTP upper:2"),
                Some("HTTP all-lower:3"),
                Some("HTTP all-upper:4"),
                None,
            ],
        );
    }

    #[test]
    fn http_targets_use_http_proxy_then_all_proxy() {
        let all = [
            ("http_proxy", "http://lower:1"),
            ("HTTP_PROXY", "http://upper:2"),
            ("all_proxy", "socks5://all-lower:3"),
            ("ALL_PROXY", "socks5h://all-upper:4"),
            ("https_proxy", "http://secure:5"),
            ("HTTPS_PROXY", "http://secure:6"),
        ];
        // HTTPS_PROXY never applies to an http target.
        assert_precedence(
            "http://example.com:8080/events",
            &all,
            &[
                Some("HTTP lower:1"),
                Some("HTTP upper:2"),
                Some("SOCKS5 all-lower:3"),
                Some("SOCKS5h all-upper:4"),
                None,
            ],
        );
    }

    #[test]
    fn empty_values_count_as_unset() {
        let env = [
            ("http_proxy", ""),
            ("HTTP_PROXY", "  "),
            ("ALL_PROXY", "http://fallback:1"),
        ];
        assert_eq!(
            env_proxy("http://x/", &env).as_deref(),
            Some("HTTP fallback:1")
        );
        // An empty no_proxy does not hide NO_PROXY.
        let env = [
            ("HTTP_PROXY", "http://p:1"),
            ("no_proxy", ""),
            ("NO_PROXY", "x"),
        ];
        assert_eq!(env_proxy("http://x/", &env), None);
    }

    #[test]
    fn a_value_without_scheme_is_an_http_proxy_and_credentials_are_kept() {
        let env = env_of(&[("HTTP_PROXY", " user:pw@proxy.corp:3128 ")]);
        let proxy = proxy_for(&uri("http://x/"), &ProxySetting::FromEnvironment, &env).unwrap();
        assert_eq!(proxy.protocol(), ProxyProtocol::Http);
        assert_eq!((proxy.host(), proxy.port()), ("proxy.corp", 3128));
        assert_eq!(
            (proxy.username(), proxy.password()),
            (Some("user"), Some("pw"))
        );
    }

    #[test]
    fn an_unparsable_value_means_a_direct_connection() {
        for value in [
            "http://",
            "ftp://proxy:21",
            "https://proxy:443",
            "http://p:1/x y",
        ] {
            let env = [("HTTP_PROXY", value), ("ALL_PROXY", "http://fallback:1")];
            // The first variable set decides; a broken one does not fall through.
            assert_eq!(env_proxy("http://x/", &env), None, "{value:?}");
        }
    }

    #[test]
    fn no_proxy_in_the_environment_exempts_matching_targets() {
        let proxy = ("HTTPS_PROXY", "http://p:1");
        let with = |list: &'static str| [proxy, ("NO_PROXY", list)];
        assert_eq!(env_proxy("https://api.internal/", &with("internal")), None);
        assert_eq!(env_proxy("https://API.Internal/", &with(".internal")), None);
        assert_eq!(
            env_proxy("https://127.0.0.1:8443/", &with("127.0.0.1")),
            None
        );
        assert_eq!(env_proxy("https://[::1]:8443/", &with("::1")), None);
        assert_eq!(env_proxy("https://anything/", &with("*")), None);
        assert!(env_proxy("https://example.com/", &with("internal")).is_some());
        // The port of an entry is compared with the target's, default ports included.
        assert_eq!(env_proxy("https://x.test/", &with("x.test:443")), None);
        assert!(env_proxy("https://x.test:8443/", &with("x.test:443")).is_some());
        // Lower case wins over upper case here too.
        let env = [proxy, ("no_proxy", "a.test"), ("NO_PROXY", "b.test")];
        assert_eq!(env_proxy("https://a.test/", &env), None);
        assert!(env_proxy("https://b.test/", &env).is_some());
    }

    #[test]
    fn no_proxy_star_matches_everything() {
        assert!(no_proxy_matches("*", "example.com", 443));
        assert!(no_proxy_matches("foo, *", "127.0.0.1", 80));
        // A star inside a list entry is not a wildcard of its own.
        assert!(!no_proxy_matches("*foo", "example.com", 443));
    }

    #[test]
    fn no_proxy_names_match_themselves_and_subdomains_case_insensitively() {
        for list in [
            "example.com",
            ".example.com",
            "*.example.com",
            "EXAMPLE.com.",
        ] {
            for host in [
                "example.com",
                "api.example.com",
                "a.b.Example.COM",
                "example.com.",
            ] {
                assert!(no_proxy_matches(list, host, 443), "{list:?} {host:?}");
            }
            for host in ["badexample.com", "example.com.evil", "com", "example.org"] {
                assert!(!no_proxy_matches(list, host, 443), "{list:?} {host:?}");
            }
        }
    }

    #[test]
    fn no_proxy_lists_are_split_on_commas_and_spaces() {
        let list = " localhost, .internal  10.1.2.3,,example.org ";
        for host in ["localhost", "db.internal", "10.1.2.3", "example.org"] {
            assert!(no_proxy_matches(list, host, 80), "{host:?}");
        }
        assert!(!no_proxy_matches(list, "example.com", 80));
        assert!(!no_proxy_matches("", "example.com", 80));
        assert!(!no_proxy_matches(" , ", "example.com", 80));
    }

    #[test]
    fn no_proxy_ip_addresses_match_exactly_and_are_never_resolved() {
        assert!(no_proxy_matches("127.0.0.1", "127.0.0.1", 80));
        assert!(!no_proxy_matches("127.0.0.1", "127.0.0.2", 80));
        assert!(!no_proxy_matches("127.0.0.1", "localhost", 80));
        assert!(!no_proxy_matches("localhost", "127.0.0.1", 80));
        // A name entry never matches an address by suffix.
        assert!(!no_proxy_matches("0.0.1", "127.0.0.1", 80));
        for list in ["::1", "[::1]", "0:0:0:0:0:0:0:1", "[::1]:8080"] {
            assert!(no_proxy_matches(list, "[::1]", 8080), "{list:?}");
            assert!(no_proxy_matches(list, "::1", 8080), "{list:?}");
        }
        assert!(!no_proxy_matches("[::1]:8080", "[::1]", 80));
    }

    #[test]
    fn no_proxy_cidr_blocks_match_addresses_inside() {
        assert!(no_proxy_matches("10.0.0.0/8", "10.200.3.4", 80));
        assert!(!no_proxy_matches("10.0.0.0/8", "11.0.0.1", 80));
        assert!(no_proxy_matches("192.168.1.0/24", "192.168.1.255", 80));
        assert!(!no_proxy_matches("192.168.1.0/24", "192.168.2.1", 80));
        assert!(no_proxy_matches("0.0.0.0/0", "8.8.8.8", 80));
        assert!(no_proxy_matches("127.0.0.1/32", "127.0.0.1", 80));
        assert!(no_proxy_matches("fd00::/8", "[fd12::1]", 80));
        assert!(!no_proxy_matches("fd00::/8", "[fe80::1]", 80));
        assert!(!no_proxy_matches("10.0.0.0/8", "ten.example", 80));
        // Malformed blocks are skipped.
        assert!(!no_proxy_matches("10.0.0.0/33", "10.0.0.1", 80));
        assert!(!no_proxy_matches("10.0.0.0/x", "10.0.0.1", 80));
    }

    #[test]
    fn no_proxy_entry_ports_restrict_the_match() {
        assert!(no_proxy_matches(
            "example.com:8080",
            "api.example.com",
            8080
        ));
        assert!(!no_proxy_matches("example.com:8080", "api.example.com", 80));
        assert!(no_proxy_matches("127.0.0.1:3000", "127.0.0.1", 3000));
        assert!(!no_proxy_matches("127.0.0.1:3000", "127.0.0.1", 3001));
        // An entry with a port that is not a number is skipped.
        assert!(!no_proxy_matches("example.com:http", "example.com", 80));
        assert!(!no_proxy_matches("[::1]x", "::1", 80));
    }

    #[test]
    fn describe_never_shows_credentials() {
        let proxy = parse_proxy("http://alice:s3cret@proxy.example:3128").unwrap();
        let text = describe(&proxy);
        assert_eq!(text, "HTTP proxy proxy.example:3128 (with credentials)");
    }
}
