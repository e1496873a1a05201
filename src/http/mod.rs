//! One HTTP conversation's rules and plumbing, each decided before or without I/O where it
//! can be: what a request head may hold ([`request_head`]), which URLs are usable
//! ([`url_rules`]), where a redirect goes ([`redirect`]), which proxy ([`proxy`]), what TLS
//! trusts ([`tls`]), the host's per-connection [`hooks`], and the socket [`transport`] under
//! ureq. Nothing here knows the client's configuration as a whole.

pub(crate) mod hooks;
pub(crate) mod proxy;
pub(crate) mod redirect;
pub(crate) mod request_head;
pub(crate) mod tls;
pub(crate) mod transport;
pub(crate) mod url_rules;
