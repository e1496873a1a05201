//! sse_client: a Server-Sent Events (EventSource) client with a C ABI.
//!
//! Two worlds, one door: everything outside [`ffi`] is plain safe Rust that knows nothing
//! about C (parser, reconnect policy, worker thread, delivery); `ffi` is the only module
//! with `extern "C"` functions and raw pointers.

mod batch;
mod civil_date;
mod client;
mod config;
mod connection;
mod delivery;
pub mod ffi;
mod fork;
mod hooks;
mod logging;
mod os;
pub mod parser;
pub mod policy;
mod poll_queue;
mod proxy;
mod published_id;
pub mod redirect;
mod report;
mod request_head;
mod shared;
mod stats;
mod text;
mod tls;
mod transport;
mod url_rules;
mod worker;

pub use batch::BatchMessage;
pub use client::Client;
pub use config::{Config, ConfigError};
pub use delivery::Handler;
pub use hooks::{RequestHook, RequestInfo, ResponseHook, ResponseInfo};
pub use parser::{Event, Parser, Sink, TooLarge};
pub use poll_queue::{PollError, TakenBatches};
pub use report::{ClientError, ErrorKind, Message, OwnedEvent, ReadyState};
pub use stats::Stats;
pub use text::{SharedText, Text};
pub use tls::TrustRoots;
pub use transport::BeforeWait;

/// The library version, "MAJOR.MINOR.PATCH".
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
