//! The event-stream format, pure: bytes in, events out. No I/O, no threads.
//!
//! [`parser`] follows WHATWG HTML §9.2.6; [`line_ends`] finds its CR and LF bytes 64 at a
//! time; [`text`] is the UTF-8, NUL-terminated string the parser hands out.

pub(crate) mod line_ends;
pub(crate) mod parser;
pub(crate) mod text;
