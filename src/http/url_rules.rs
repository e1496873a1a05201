//! URL rules the `http` crate leaves to us, pure: which URLs the client can use as
//! written, and how a URL appears in messages.
//!
//! Configured URLs, redirect targets and (for the authority) proxy URLs all pass the checks.
//!
//! - [`check_authority`]: `ureq::http::Uri` accepts authorities that ureq would not use as
//!   written. A port that is not a number up to 65535 (`:99999`, `:abc`, `:80x`) reads
//!   as no port, so ureq connects to the scheme's default port while every message names
//!   the port written; `:+80` reads as 80. A bracketed host that is not an IPv6 address
//!   (`[foo]`, or one with a zone ID, `[fe80::1%25eth0]`) goes to name resolution, which
//!   fails with a confusing message; text after the bracket (`[::1]x`) is ignored. All
//!   these, and port 0, are refused. An empty port (`host:`) means the default port (RFC
//!   3986 section 6.2.3) and is kept.
//! - [`check_credentials`]: ureq sends the user information of a request URL as
//!   `Authorization: Basic` exactly as written, without percent-decoding it (curl and
//!   browsers decode it): `p%40ss` would go out as `p%40ss`, not `p@ss`. An empty one
//!   (`http://@host/`) would send an empty user name and password. Both are refused; such
//!   credentials belong in an `Authorization` header. (Proxy URLs are not concerned: ureq
//!   decodes theirs.)
//! - [`redact`]: every URL in an error message or a log record goes through it, so that
//!   credentials never reach a log file. The user information is replaced by `***`
//!   (`http://***@host/path`): the reader sees that credentials were sent (which explains
//!   many a 401), not which, nor the user name, which is often a token too. curl drops the
//!   user information altogether; the marker is the only difference.
//! - [`redact_all`]: the same for every URL in a log record of another crate (ureq shows a
//!   redirect's `Location` header as received when the log level is TRACE).

use std::fmt::Display;
use std::net::Ipv6Addr;

use ureq::http::uri::Authority;

/// Why the client cannot connect to `authority` as written, if it cannot (see the module
/// documentation). The reason names the part at fault, never the user information.
pub(crate) fn check_authority(authority: &Authority) -> Result<(), String> {
    let text = authority.as_str();
    // As the `http` crate and ureq read it: everything after the last '@'.
    let host_and_port = text.rsplit('@').next().unwrap_or(text);
    let (host, port) = match host_and_port.strip_prefix('[') {
        Some(bracketed) => {
            // The `http` crate has checked that the brackets match.
            let (address, after) = bracketed.split_once(']').unwrap_or((bracketed, ""));
            if address.parse::<Ipv6Addr>().is_err() {
                return Err(format!(
                    "the host [{address}] is not an IPv6 address (zone IDs are not supported)"
                ));
            }
            match after {
                "" => (address, None),
                _ => match after.strip_prefix(':') {
                    Some(port) => (address, Some(port)),
                    None => {
                        return Err(format!(
                            "{after:?} follows the IPv6 address [{address}]; only :port may"
                        ))
                    }
                },
            }
        }
        None => match host_and_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_and_port, None),
        },
    };
    if host.is_empty() {
        return Err("it has no host".to_owned());
    }
    match port {
        None | Some("") => Ok(()),
        Some(port) if is_usable_port(port) => Ok(()),
        Some(port) => Err(format!("the port {port:?} is not a number from 1 to 65535")),
    }
}

fn is_usable_port(port: &str) -> bool {
    port.bytes().all(|b| b.is_ascii_digit()) && matches!(port.parse::<u16>(), Ok(1..))
}

/// Why ureq would not send the user information of `authority` as the host meant it, if
/// it would not (see the module documentation).
pub(crate) fn check_credentials(authority: &Authority) -> Result<(), String> {
    let Some((userinfo, _)) = authority.as_str().rsplit_once('@') else {
        return Ok(());
    };
    if userinfo.is_empty() {
        return Err("it has an '@' but no user name or password before it".to_owned());
    }
    if userinfo.contains('%') {
        return Err(
            "its user name or password is percent-encoded, and would be sent \
             as written, not decoded; set an Authorization header instead"
                .to_owned(),
        );
    }
    Ok(())
}

/// `url` with its user information, if any, replaced by `***`: the form of every URL in
/// a message or a log record. Works on any text, parsed or not: the user information is
/// what precedes the last '@' between `scheme://` (or the start) and the first '/', '?'
/// or '#' after it.
pub(crate) fn redact(url: &impl Display) -> String {
    let url = url.to_string();
    let start = match url.find("://") {
        Some(i) => i + 3,
        None if url.starts_with("//") => 2,
        None => 0,
    };
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    match url[start..end].rfind('@') {
        Some(at) => format!("{}***{}", &url[..start], &url[start + at..]),
        None => url,
    }
}

/// `text` (a log record from any crate) with every URL in it redacted: each `://` starts a
/// URL that runs to the next white space or quote. Scrubs records the library does not
/// write itself, such as ureq's trace of a response's `Location` header.
pub(crate) fn redact_all(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(scheme_end) = rest.find("://") {
        let url_end = rest[scheme_end..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`'))
            .map_or(rest.len(), |i| scheme_end + i);
        // `redact` keeps what precedes "://" as it is: the scheme, or any text before it.
        out.push_str(&redact(&&rest[..url_end]));
        rest = &rest[url_end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use ureq::http::Uri;

    use super::*;

    fn authority(url: &str) -> Authority {
        let uri: Uri = url.parse().unwrap();
        uri.authority().unwrap().clone()
    }

    #[test]
    fn ports_must_be_numbers_from_1_to_65535() {
        for url in [
            "http://h:1/",
            "http://h:80/",
            "http://h:0080/",
            "http://h:65535/",
            "http://[::1]:8080/",
            "http://u:p@h:8080/",
        ] {
            assert_eq!(check_authority(&authority(url)), Ok(()), "{url}");
        }
        for url in [
            "http://h:65536/",
            "http://h:99999/",
            "http://h:0/",
            "http://h:abc/",
            "http://h:80x/",
            "http://h:+80/",
            "http://h:-1/",
            "http://[::1]:99999/",
            "http://u:p@h:99999/",
        ] {
            let why = check_authority(&authority(url)).unwrap_err();
            assert!(why.contains("port"), "{url}: {why}");
        }
    }

    #[test]
    fn an_empty_port_means_the_default_port() {
        assert_eq!(check_authority(&authority("http://h:/")), Ok(()));
        assert_eq!(check_authority(&authority("http://[::1]:/")), Ok(()));
    }

    #[test]
    fn brackets_must_hold_an_ipv6_address_and_nothing_may_follow_but_a_port() {
        assert_eq!(check_authority(&authority("http://[::1]/")), Ok(()));
        assert_eq!(check_authority(&authority("http://[2001:db8::7]/")), Ok(()));
        for url in [
            "http://[foo]/",
            "http://[1.2.3.4]/",
            "http://[fe80::1%25eth0]/",
            "http://[::1]x/",
            "http://[::1]80/",
        ] {
            let why = check_authority(&authority(url)).unwrap_err();
            assert!(why.contains("IPv6"), "{url}: {why}");
        }
    }

    #[test]
    fn a_missing_host_is_refused() {
        assert!(check_authority(&authority("http://u@:80/")).is_err());
        assert!(check_authority(&authority("http://:80/")).is_err());
    }

    #[test]
    fn the_reasons_never_repeat_the_user_information() {
        for url in ["http://user:secret@h:99999/", "http://user:secret@[x]/"] {
            let why = check_authority(&authority(url)).unwrap_err();
            assert!(!why.contains("secret") && !why.contains("user"), "{why}");
        }
    }

    #[test]
    fn credentials_must_be_sendable_as_written() {
        for url in [
            "http://h/",
            "http://user@h/",
            "http://user:pass@h/",
            "http://:pass@h/",
            "http://user:p@ss@h/",
        ] {
            assert_eq!(check_credentials(&authority(url)), Ok(()), "{url}");
        }
        assert!(check_credentials(&authority("http://@h/")).is_err());
        let why = check_credentials(&authority("http://user:p%40ss@h/")).unwrap_err();
        assert!(why.contains("Authorization header"), "{why}");
    }

    #[test]
    fn redact_hides_the_user_information_only() {
        assert_eq!(redact(&"http://u:p@h:1/x@y"), "http://***@h:1/x@y");
        assert_eq!(redact(&"http://u@h/"), "http://***@h/");
        assert_eq!(redact(&"http://a@b@h/"), "http://***@h/");
        assert_eq!(
            redact(&"https://u:p@[::1]:8443?q@r"),
            "https://***@[::1]:8443?q@r"
        );
        assert_eq!(redact(&"//u:p@h/x"), "//***@h/x");
        assert_eq!(redact(&"u:p@h:1"), "***@h:1");
        assert_eq!(redact(&"http://u:p w@h x/"), "http://***@h x/");
        assert_eq!(redact(&"http://h:1/a@b"), "http://h:1/a@b");
        assert_eq!(redact(&"/a@b"), "/a@b");
        assert_eq!(redact(&"garbage"), "garbage");
        assert_eq!(redact(&""), "");
        let uri: Uri = "http://user:secret@h:8080/p?q".parse().unwrap();
        assert_eq!(redact(&uri), "http://***@h:8080/p?q");
    }

    #[test]
    fn redact_all_hides_the_user_information_of_every_url_in_a_text() {
        assert_eq!(
            redact_all(r#"Response { location: "http://u:p@h/x", other: "https://v:q@k" }"#),
            r#"Response { location: "http://***@h/x", other: "https://***@k" }"#
        );
        assert_eq!(
            redact_all("from http://u:p@h/a to http://h/b@c, then ftp://x:y@z"),
            "from http://***@h/a to http://h/b@c, then ftp://***@z"
        );
        assert_eq!(redact_all("no url: a@b"), "no url: a@b");
        assert_eq!(redact_all("ends with ://"), "ends with ://");
        assert_eq!(redact_all(""), "");
    }
}
