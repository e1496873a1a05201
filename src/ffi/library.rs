//! Library-wide calls: the result code every fallible function returns, its name, the
//! explanation of the last failure on this thread, and the version.

use std::ffi::c_char;
use std::mem::MaybeUninit;

use super::boundary;
use super::c_values::{enum_arg, CEnum};

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

/// The name of a result code, e.g. "SSE_ERROR_INVALID_URL": a static string, never NULL.
/// "SSE_UNKNOWN" for a value this library does not know (one added by a later version, or
/// any other integer).
#[no_mangle]
pub extern "C" fn sse_result_name(result: MaybeUninit<sse_result>) -> *const c_char {
    ffi_boundary!(c"SSE_ERROR_PANIC".as_ptr(), {
        // SAFETY: an argument received from C: initialized.
        match unsafe { enum_arg(result) } {
            Ok(result) => result_name(result).as_ptr().cast(),
            Err(_) => c"SSE_UNKNOWN".as_ptr(),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_name_names_every_known_result_and_unknown_values_sse_unknown() {
        let name = |raw: i32| {
            let mut value = MaybeUninit::<sse_result>::uninit();
            // SAFETY: sse_result is 4 bytes, all written.
            unsafe { value.as_mut_ptr().cast::<i32>().write(raw) };
            // SAFETY: a static NUL-terminated string.
            unsafe { std::ffi::CStr::from_ptr(sse_result_name(value)) }
                .to_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(name(0), "SSE_OK");
        assert_eq!(name(8), "SSE_ERROR_RESOURCE");
        for raw in [9, 77, -1, i32::MIN] {
            assert_eq!(name(raw), "SSE_UNKNOWN");
        }
    }
}
