//! The loopback test servers, one job a module:
//! - [`scripted`]: an HTTP/SSE server that answers each connection with a [`Script`]
//!   ([`script`]) built from [`responses`], and records each [`Request`] ([`request`]);
//! - [`tls`]: an HTTPS server, with the certificates of [`certificates`];
//! - [`proxy`]: HTTP and SOCKS5 proxies;
//! - [`listener`]: what they all share (the accept thread, the connection threads);
//!   [`closing`]: how they end a connection abruptly.

pub mod certificates;
pub mod closing;
pub mod listener;
pub mod proxy;
pub mod request;
pub mod responses;
pub mod script;
pub mod scripted;
pub mod tls;

pub use closing::reset_on_close;
pub use listener::closed_port;
pub use request::Request;
pub use responses::*;
pub use script::*;
pub use scripted::*;
