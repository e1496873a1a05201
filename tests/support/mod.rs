//! Test support shared by the integration tests (tests/*.rs), one job a module:
//! - [`server`]: the loopback test servers (a scripted HTTP/SSE server and the response
//!   builders its scripts use, a TLS server, HTTP and SOCKS5 proxies);
//! - [`recorder`]: a `Handler` that records every callback, and the `Log` tests read;
//! - [`poll`]: a host's view of a poll-mode client's wakeup handle;
//! - [`client_setup`]: the configuration most tests start from;
//! - [`waits`]: bounded waits; [`sync`]: the locks and condition waits the rest shares;
//! - [`splitmix`]: the PRNG of the seeded tests.
//!
//! Every wait here is bounded, so a misbehaving client fails a test instead of hanging it.
//! `use support::*` brings what most tests use; the TLS and proxy servers are named by
//! their module (`support::server::tls`, `support::server::proxy`).

// Each test binary compiles this kit and uses a part of it: what a binary leaves unused is
// not dead, and a re-export one binary does not need is not an unused import.
#![allow(dead_code, unused_imports)]

pub mod client_setup;
pub mod poll;
pub mod recorder;
pub mod server;
pub mod splitmix;
pub mod sync;
pub mod waits;

pub use client_setup::*;
pub use poll::*;
pub use recorder::*;
pub use server::*;
pub use waits::*;
