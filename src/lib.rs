//! sse_client: a Server-Sent Events (EventSource) client with a C ABI.
//!
//! Two worlds, one door: everything outside [`ffi`] is plain safe Rust that knows nothing
//! about C (parser, reconnect policy, worker thread, delivery); `ffi` is the only module
//! with `extern "C"` functions and raw pointers.
//!
//! `unsafe` is denied everywhere but at the edges that need it: the C boundary ([`ffi`]) and
//! the operating-system calls (`os`), plus two places in `sse`, each allowed on its own
//! where a benchmark showed it pays: the line scanner's SIMD functions, and the parser's
//! `ascii`, which takes the bytes the scanner flagged ASCII as a `str` without checking
//! them again (an `unsafe fn` whose callers state that proof).

#![deny(unsafe_code)]

mod client;
mod config;
mod delivery;
#[allow(unsafe_code)]
pub mod ffi;
mod http;
mod logging;
#[allow(unsafe_code)]
mod os;
// Public only to the fuzz targets (cargo fuzz sets `--cfg fuzzing`), which drive the
// policy's pure functions directly.
#[cfg(fuzzing)]
pub mod policy;
#[cfg(not(fuzzing))]
mod policy;
mod sse;

pub use client::stats::Stats;
pub use client::Client;
pub use config::{Config, ConfigError, Remedy, Setting};
pub use delivery::batch::BatchMessage;
pub use delivery::poll_queue::{PollError, TakenBatches};
pub use delivery::report::{ClientError, ErrorKind, Message, OwnedEvent, ReadyState};
pub use delivery::Handler;
pub use http::hooks::{RequestHook, RequestInfo, ResponseHook, ResponseInfo};
pub use http::tls::TrustRoots;
pub use policy::{MAX_RECONNECT_WAIT, MIN_RECONNECT_DELAY};
pub use sse::parser::{Event, Parser, Sink, TooLarge};
pub use sse::text::Text;

/// The library version, "MAJOR.MINOR.PATCH".
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
