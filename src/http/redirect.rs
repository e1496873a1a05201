//! Redirect rules, pure: where a `Location` points, what method and headers go there, and
//! which redirects are refused. The attempt loop in `connection` follows them.
//!
//! - 301, 302, 303, 307 and 308 are followed; 303 (and 301/302 after a POST, as browsers
//!   do) continue with GET and no body, 307 and 308 keep the method and body.
//! - `Authorization`, `Cookie` and `Proxy-Authorization` go only to the origin they were
//!   configured for: a redirect to another origin drops them.
//! - https -> http is refused: it would send the stream (and the Last-Event-ID) in clear.
//! - A `Location` the client cannot use as written is refused like a configured URL
//!   (`url_rules::check_authority`, `url_rules::check_credentials`): a port beyond 65535, say, would
//!   otherwise send the request to the default port.
//! - Messages show a `Location` without its user information (`url_rules::redact`).

use iri_string::types::{UriAbsoluteStr, UriReferenceStr};
use ureq::http::{Method, Uri};

use crate::http::url_rules::{check_authority, check_credentials, redact};

pub fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// Headers that carry credentials and must not leave their origin.
pub fn is_credential_header(name: &str) -> bool {
    name.eq_ignore_ascii_case("authorization")
        || name.eq_ignore_ascii_case("cookie")
        || name.eq_ignore_ascii_case("proxy-authorization")
}

/// The method after a redirect with `status`, and whether the body goes along.
pub fn method_after(status: u16, method: &Method) -> (Method, bool) {
    match status {
        307 | 308 => (method.clone(), true),
        303 if *method != Method::HEAD => (Method::GET, false),
        301 | 302 if *method == Method::POST => (Method::GET, false),
        _ => (method.clone(), true),
    }
}

fn default_port(scheme: &str) -> u16 {
    if scheme == "https" {
        443
    } else {
        80
    }
}

/// Scheme, host and port (with the default port filled in), compared case-insensitively.
pub fn same_origin(a: &Uri, b: &Uri) -> bool {
    let origin = |u: &Uri| {
        let scheme = u.scheme_str().unwrap_or("").to_ascii_lowercase();
        let port = u.port_u16().unwrap_or_else(|| default_port(&scheme));
        let host = u.host().unwrap_or("").to_ascii_lowercase();
        (scheme, host, port)
    };
    origin(a) == origin(b)
}

/// Whether following `from` -> `to` would downgrade https to http.
pub fn is_downgrade(from: &Uri, to: &Uri) -> bool {
    from.scheme_str() == Some("https") && to.scheme_str() != Some("https")
}

/// Resolves a `Location` value against the URL it came from: RFC 3986 section 5 (the
/// `iri-string` crate), whatever form the server sent (absolute, scheme-relative,
/// absolute-path, relative-path, query-only, with dot segments). The fragment, which never
/// reaches a server, is dropped; the result must be an http(s) URL the client can use.
pub fn resolve_location(base: &Uri, location: &str) -> Result<Uri, String> {
    let location = location.trim();
    let bad = |e: &dyn std::fmt::Display| {
        format!(
            "redirect to an invalid Location {:?}: {e}",
            redact(&location.split('#').next().unwrap_or(""))
        )
    };
    let base = base.to_string();
    let base = UriAbsoluteStr::new(&base).map_err(|e| bad(&e))?;
    let reference = UriReferenceStr::new(location).map_err(|e| bad(&e))?;
    let mut resolved = reference.resolve_against(base).to_string();
    if let Some(fragment) = resolved.find('#') {
        resolved.truncate(fragment);
    }
    let uri: Uri = resolved.parse().map_err(|e| bad(&e))?;
    let authority = match uri.scheme_str() {
        Some("http") | Some("https") => uri.authority().filter(|a| !a.host().is_empty()),
        _ => None,
    };
    let Some(authority) = authority else {
        return Err(bad(&"only http and https URLs with a host can be followed"));
    };
    check_authority(authority)
        .and_then(|()| check_credentials(authority))
        .map_err(|why| bad(&why))?;
    Ok(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> Uri {
        s.parse().unwrap()
    }

    fn resolved(base: &str, location: &str) -> String {
        resolve_location(&uri(base), location).unwrap().to_string()
    }

    #[test]
    fn resolves_every_form_of_location() {
        let base = "http://a.example:8080/x/y/stream?q=1";
        assert_eq!(resolved(base, "https://b.example/s"), "https://b.example/s");
        assert_eq!(resolved(base, "//c.example/s"), "http://c.example/s");
        assert_eq!(
            resolved(base, "/other?z=2"),
            "http://a.example:8080/other?z=2"
        );
        assert_eq!(resolved(base, "next"), "http://a.example:8080/x/y/next");
        assert_eq!(resolved(base, "../up"), "http://a.example:8080/x/up");
        assert_eq!(resolved(base, "./same"), "http://a.example:8080/x/y/same");
        assert_eq!(
            resolved(base, "?page=2"),
            "http://a.example:8080/x/y/stream?page=2"
        );
        assert_eq!(resolved(base, "/a/b#frag"), "http://a.example:8080/a/b");
    }

    /// RFC 3986 section 5.4: every normal and abnormal example that stays an http URL with
    /// a host (`http:g`, which a strict parser reads as a URL without one, is refused).
    #[test]
    fn resolves_the_examples_of_rfc_3986() {
        let base = "http://a/b/c/d;p?q";
        let examples = [
            ("g", "http://a/b/c/g"),
            ("./g", "http://a/b/c/g"),
            ("g/", "http://a/b/c/g/"),
            ("/g", "http://a/g"),
            ("//g", "http://g/"),
            ("?y", "http://a/b/c/d;p?y"),
            ("g?y", "http://a/b/c/g?y"),
            ("#s", "http://a/b/c/d;p?q"),
            ("g#s", "http://a/b/c/g"),
            ("g?y#s", "http://a/b/c/g?y"),
            (";x", "http://a/b/c/;x"),
            ("g;x", "http://a/b/c/g;x"),
            ("g;x?y#s", "http://a/b/c/g;x?y"),
            ("", "http://a/b/c/d;p?q"),
            (".", "http://a/b/c/"),
            ("./", "http://a/b/c/"),
            ("..", "http://a/b/"),
            ("../", "http://a/b/"),
            ("../g", "http://a/b/g"),
            ("../..", "http://a/"),
            ("../../", "http://a/"),
            ("../../g", "http://a/g"),
            ("../../../g", "http://a/g"),
            ("../../../../g", "http://a/g"),
            ("/./g", "http://a/g"),
            ("/../g", "http://a/g"),
            ("g.", "http://a/b/c/g."),
            (".g", "http://a/b/c/.g"),
            ("g..", "http://a/b/c/g.."),
            ("..g", "http://a/b/c/..g"),
            ("./../g", "http://a/b/g"),
            ("./g/.", "http://a/b/c/g/"),
            ("g/./h", "http://a/b/c/g/h"),
            ("g/../h", "http://a/b/c/h"),
            ("g;x=1/./y", "http://a/b/c/g;x=1/y"),
            ("g;x=1/../y", "http://a/b/c/y"),
            ("g?y/./x", "http://a/b/c/g?y/./x"),
            ("g?y/../x", "http://a/b/c/g?y/../x"),
            ("g#s/./x", "http://a/b/c/g"),
            ("g#s/../x", "http://a/b/c/g"),
        ];
        let mut wrong = Vec::new();
        for (location, expected) in examples {
            match resolve_location(&uri(base), location) {
                Ok(got) if got == expected => {}
                other => wrong.push(format!("{location:?}: {other:?}, expected {expected}")),
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[test]
    fn refuses_locations_that_are_not_http() {
        let base = uri("http://a.example/");
        assert!(resolve_location(&base, "ftp://b.example/").is_err());
        assert!(resolve_location(&base, "javascript:alert(1)").is_err());
        assert!(resolve_location(&base, "http://").is_err());
    }

    #[test]
    fn refuses_locations_the_client_cannot_use_as_written() {
        let base = uri("http://a.example:8080/x");
        for location in [
            "http://b.example:99999/s",
            "//b.example:65536/s",
            "http://b.example:0/s",
            "http://b.example:80x/s",
            "http://[b]/s",
            "http://[::1]x/s",
            "http://user:p%40ss@b.example/s",
        ] {
            let why = resolve_location(&base, location).unwrap_err();
            assert!(why.contains("invalid Location"), "{location}: {why}");
        }
        let why = resolve_location(&base, "http://b.example:99999/s").unwrap_err();
        assert!(why.contains("port \"99999\""), "{why}");
        // A relative Location keeps the base's authority, which was checked before.
        assert_eq!(
            resolved("http://u:p@a.example/x", "/y"),
            "http://u:p@a.example/y"
        );
    }

    #[test]
    fn messages_never_show_the_credentials_of_a_location() {
        let base = uri("http://a.example/");
        for location in [
            "http://user:secret@b.example:99999/s",
            "ftp://user:secret@b.example/",
            "http://user:secret@b.example/a b",
        ] {
            let why = resolve_location(&base, location).unwrap_err();
            assert!(!why.contains("secret"), "{why}");
            assert!(why.contains("***@b.example"), "{why}");
        }
    }

    #[test]
    fn origin_includes_scheme_host_and_default_port() {
        assert!(same_origin(
            &uri("http://A.example/x"),
            &uri("http://a.example:80/y")
        ));
        assert!(same_origin(
            &uri("https://a.example/"),
            &uri("https://a.example:443/")
        ));
        assert!(!same_origin(
            &uri("http://a.example/"),
            &uri("https://a.example/")
        ));
        assert!(!same_origin(
            &uri("http://a.example/"),
            &uri("http://a.example:81/")
        ));
        assert!(!same_origin(
            &uri("http://a.example/"),
            &uri("http://b.example/")
        ));
    }

    #[test]
    fn https_to_http_is_a_downgrade() {
        assert!(is_downgrade(&uri("https://a/"), &uri("http://a/")));
        assert!(!is_downgrade(&uri("http://a/"), &uri("https://a/")));
        assert!(!is_downgrade(&uri("https://a/"), &uri("https://b/")));
    }

    #[test]
    fn see_other_turns_into_get_without_body() {
        assert_eq!(method_after(303, &Method::POST), (Method::GET, false));
        assert_eq!(method_after(302, &Method::POST), (Method::GET, false));
        assert_eq!(method_after(307, &Method::POST), (Method::POST, true));
        assert!(method_after(308, &Method::from_bytes(b"REPORT").unwrap()).1);
        assert_eq!(method_after(301, &Method::GET), (Method::GET, true));
    }

    #[test]
    fn credentials_are_recognised_case_insensitively() {
        assert!(is_credential_header("Authorization"));
        assert!(is_credential_header("cookie"));
        assert!(!is_credential_header("X-Api-Key"));
    }
}
