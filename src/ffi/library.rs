//! Library-wide calls: the name of a result code, the explanation of the last failure on
//! this thread, and the version.

use std::ffi::c_char;
use std::mem::MaybeUninit;

use super::boundary;
use super::c_values::enum_arg;
use super::sse_result;

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
