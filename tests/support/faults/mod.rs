//! Fault-injection support for `tests/fault_injection.rs`, one job a module:
//! - [`seed`]: a deterministic PRNG and the master seed;
//! - [`scenario`]: the guard that runs scenarios one at a time, prints the seed of a
//!   failing one, and checks that each leaves nothing behind ([`census`]); [`memory`]
//!   measures how much memory a scenario takes;
//! - [`stream`]: a generator of realistic event streams that is also the oracle of what a
//!   stream holds;
//! - [`fault_plan`]: cut points and faults turned into server scripts;
//! - [`oracle`]: what the client must send and report, the round replayed on paper;
//! - [`resume_server`]: the server that continues after the request's Last-Event-ID;
//! - [`host`]: the client run with callbacks or in poll mode;
//! - [`callback_order`]: the checker of what the client reported;
//! - [`round`]: one round, all of the above put together; [`coverage`] counts what the
//!   rounds exercised.
//!
//! Seeds: every scenario derives its seed from one master seed, `SSE_FAULT_SEED` (decimal
//! or 0x-hex) or [`DEFAULT_SEED`], and every round its own from that; a failure prints the
//! master seed, the scenario, the round and the round's whole plan and stream.
//! `SSE_FAULT_SCALE` multiplies the rounds of every randomized scenario (a soak run:
//! `SSE_FAULT_SCALE=10`), `SSE_FAULT_ONLY=<round>` replays just that round.

// The re-exports below give `faults::*` to the test binary; not all of them are used.
#![allow(unused_imports)]

pub mod callback_order;
pub mod census;
pub mod coverage;
pub mod fault_plan;
pub mod host;
pub mod memory;
pub mod oracle;
pub mod resume_server;
pub mod round;
pub mod scenario;
pub mod seed;
pub mod stream;

pub use callback_order::*;
pub use census::*;
pub use coverage::*;
pub use fault_plan::*;
pub use host::*;
pub use memory::*;
pub use oracle::*;
pub use resume_server::*;
pub use round::*;
pub use scenario::*;
pub use seed::*;
pub use stream::*;
