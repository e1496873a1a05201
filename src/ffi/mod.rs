//! The C boundary: the only module with `extern "C"` functions and raw pointers.
//!
//! Every exported function reads the same way: enter the panic boundary, check and convert
//! the pointers, call the safe logic, return. One file per C object; the boundary helpers
//! live in `boundary`.
#![allow(non_camel_case_types)]

#[macro_use]
mod boundary;
mod batch;
mod client;
mod config;
mod hooks;
mod logging;
mod message;
mod views;

pub use batch::*;
pub use client::*;
pub use config::*;
pub use hooks::*;
pub use logging::*;
pub use message::*;
pub use views::*;

use std::ffi::c_char;

/// The result of every fallible function.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum sse_result {
    SSE_OK = 0,
    /// A required pointer was NULL.
    SSE_ERROR_NULL_ARGUMENT,
    /// A bad value: not UTF-8, a header name or value with CR/LF, a size out of range...
    SSE_ERROR_INVALID_ARGUMENT,
    /// Unparsable, or a scheme other than http/https.
    SSE_ERROR_INVALID_URL,
    /// sse_client_poll: nothing arrived in time.
    SSE_ERROR_TIMEOUT,
    /// The client is closed (and, for poll, its queue drained).
    SSE_ERROR_CLOSED,
    /// sse_client_poll on a client that uses callbacks.
    SSE_ERROR_WRONG_MODE,
    /// An internal bug was caught at the boundary.
    SSE_ERROR_PANIC,
    /// The system refused a resource: a thread or a file descriptor could not be created.
    SSE_ERROR_RESOURCE,
}

/// The name of a result code, e.g. "SSE_ERROR_INVALID_URL": a static string, never NULL.
#[no_mangle]
pub extern "C" fn sse_result_name(result: sse_result) -> *const c_char {
    ffi_boundary!(c"SSE_ERROR_PANIC".as_ptr(), {
        result_name(result).as_ptr().cast()
    })
}

fn result_name(result: sse_result) -> &'static [u8] {
    match result {
        sse_result::SSE_OK => b"SSE_OK\0",
        sse_result::SSE_ERROR_NULL_ARGUMENT => b"SSE_ERROR_NULL_ARGUMENT\0",
        sse_result::SSE_ERROR_INVALID_ARGUMENT => b"SSE_ERROR_INVALID_ARGUMENT\0",
        sse_result::SSE_ERROR_INVALID_URL => b"SSE_ERROR_INVALID_URL\0",
        sse_result::SSE_ERROR_TIMEOUT => b"SSE_ERROR_TIMEOUT\0",
        sse_result::SSE_ERROR_CLOSED => b"SSE_ERROR_CLOSED\0",
        sse_result::SSE_ERROR_WRONG_MODE => b"SSE_ERROR_WRONG_MODE\0",
        sse_result::SSE_ERROR_PANIC => b"SSE_ERROR_PANIC\0",
        sse_result::SSE_ERROR_RESOURCE => b"SSE_ERROR_RESOURCE\0",
    }
}

/// A human-readable explanation of the last call on this thread that failed; "" if none
/// has. Never NULL. Thread-local: the string stays valid until the next failing call of
/// this library on this thread.
#[no_mangle]
pub extern "C" fn sse_last_error_message() -> *const c_char {
    ffi_boundary!(c"".as_ptr(), { boundary::last_error_message() })
}

/// The library version, "MAJOR.MINOR.PATCH": a static string, never NULL.
#[no_mangle]
pub extern "C" fn sse_version() -> *const c_char {
    ffi_boundary!(c"".as_ptr(), {
        concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
    })
}
