//! The C boundary: the only module with `extern "C"` functions and raw pointers.
//!
//! Every exported function reads the same way: enter the panic boundary, check and convert
//! the pointers, call the safe logic, return. One file per C object (`library` for the
//! calls that belong to none); the boundary helpers live in `boundary`.
#![allow(non_camel_case_types)]

#[macro_use]
mod boundary;
mod batch;
mod c_values;
mod client;
mod config;
mod hooks;
mod library;
mod logging;
mod message;
mod remedy;
mod views;

pub use batch::*;
pub use client::*;
pub use config::*;
pub use hooks::*;
pub use library::*;
pub use logging::*;
pub use message::*;
pub use views::*;

use c_values::CEnum;

// Defined here, not in `library` with its name: the DWARF names it by its Rust path
// (sse_client::ffi::sse_result), and the ABI check (tests/abi) compares the baseline's
// types by those names.

/// The result of every fallible function.
///
/// Values are fixed and never reused; later versions append values, so a host handles
/// values it does not know (a `default:` branch; `sse_result_name` names them
/// "SSE_UNKNOWN").
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum sse_result {
    SSE_OK = 0,
    /// A required pointer was NULL.
    SSE_ERROR_NULL_ARGUMENT = 1,
    /// A bad value: not UTF-8, a header name or value with CR/LF, a size out of range, an
    /// enum value or a bool this library does not know...
    SSE_ERROR_INVALID_ARGUMENT = 2,
    /// Unparsable, or a scheme other than http/https.
    SSE_ERROR_INVALID_URL = 3,
    /// sse_client_poll: nothing arrived in time.
    SSE_ERROR_TIMEOUT = 4,
    /// The client is closed (and, for poll, its queue drained).
    SSE_ERROR_CLOSED = 5,
    /// sse_client_poll on a client that uses callbacks.
    SSE_ERROR_WRONG_MODE = 6,
    /// An internal bug was caught at the boundary.
    SSE_ERROR_PANIC = 7,
    /// The system refused a resource: a thread or a file descriptor could not be created.
    SSE_ERROR_RESOURCE = 8,
}

impl CEnum for sse_result {
    const C_NAME: &'static str = "sse_result";
    const ALL: &'static [Self] = &[
        sse_result::SSE_OK,
        sse_result::SSE_ERROR_NULL_ARGUMENT,
        sse_result::SSE_ERROR_INVALID_ARGUMENT,
        sse_result::SSE_ERROR_INVALID_URL,
        sse_result::SSE_ERROR_TIMEOUT,
        sse_result::SSE_ERROR_CLOSED,
        sse_result::SSE_ERROR_WRONG_MODE,
        sse_result::SSE_ERROR_PANIC,
        sse_result::SSE_ERROR_RESOURCE,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The values of 0.1.0, when most were implicit. They are the ABI: never renumber.
    #[test]
    fn enum_values_are_those_of_0_1_0() {
        use sse_result::*;
        let results = [
            SSE_OK,
            SSE_ERROR_NULL_ARGUMENT,
            SSE_ERROR_INVALID_ARGUMENT,
            SSE_ERROR_INVALID_URL,
            SSE_ERROR_TIMEOUT,
            SSE_ERROR_CLOSED,
            SSE_ERROR_WRONG_MODE,
            SSE_ERROR_PANIC,
            SSE_ERROR_RESOURCE,
        ];
        assert_eq!(results.map(|v| v as i32), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
        use sse_error_kind::*;
        let kinds = [
            SSE_ERROR_KIND_CONNECT,
            SSE_ERROR_KIND_HTTP_STATUS,
            SSE_ERROR_KIND_CONTENT_TYPE,
            SSE_ERROR_KIND_STREAM_ENDED,
            SSE_ERROR_KIND_IO,
            SSE_ERROR_KIND_READ_TIMEOUT,
            SSE_ERROR_KIND_EVENT_TOO_LARGE,
        ];
        assert_eq!(kinds.map(|v| v as i32), [0, 1, 2, 3, 4, 5, 6]);
        use sse_ready_state::*;
        let states = [SSE_STATE_CONNECTING, SSE_STATE_OPEN, SSE_STATE_CLOSED];
        assert_eq!(states.map(|v| v as i32), [0, 1, 2]);
        use sse_trust_roots::*;
        assert_eq!(
            [SSE_TRUST_BUNDLED, SSE_TRUST_SYSTEM].map(|v| v as i32),
            [0, 1]
        );
        use sse_log_level::*;
        let levels = [
            SSE_LOG_ERROR,
            SSE_LOG_WARN,
            SSE_LOG_INFO,
            SSE_LOG_DEBUG,
            SSE_LOG_TRACE,
        ];
        assert_eq!(levels.map(|v| v as i32), [1, 2, 3, 4, 5]);
        use sse_message_kind::*;
        let message_kinds = [
            SSE_MESSAGE_OPEN,
            SSE_MESSAGE_EVENT,
            SSE_MESSAGE_COMMENT,
            SSE_MESSAGE_ERROR,
            SSE_MESSAGE_STATE,
        ];
        assert_eq!(message_kinds.map(|v| v as i32), [0, 1, 2, 3, 4]);
    }
}
