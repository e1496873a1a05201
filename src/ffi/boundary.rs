//! Helpers every exported function goes through: the panic boundary, NULL and UTF-8
//! checks, and the thread-local last error message.

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};

use super::sse_result;

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Records `message` as this thread's last error and returns `code`.
pub(crate) fn fail(code: sse_result, message: impl Into<String>) -> sse_result {
    let mut message = message.into();
    message.retain(|c| c != '\0');
    let message = CString::new(message).unwrap_or_default();
    LAST_ERROR.with(|slot| *slot.borrow_mut() = message);
    code
}

pub(crate) fn last_error_message() -> *const c_char {
    // The CString's heap buffer stays put until the slot is overwritten by the next
    // failing call on this thread, which is the lifetime the header promises.
    LAST_ERROR.with(|slot| slot.borrow().as_ptr())
}

/// The message of a caught panic.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let detail = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned());
    format!("internal error (please report it): {detail}")
}

/// Wraps an exported function's body: a panic becomes `$on_panic`, with its message
/// recorded for `sse_last_error_message`. Every `extern "C"` function uses this or
/// `ffi_result!`; nothing unwinds into C.
macro_rules! ffi_boundary {
    ($on_panic:expr, $body:block) => {
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| $body)) {
            Ok(value) => value,
            Err(payload) => {
                let message = $crate::ffi::boundary::panic_message(&*payload);
                $crate::ffi::boundary::fail($crate::ffi::sse_result::SSE_ERROR_PANIC, message);
                $on_panic
            }
        }
    };
}

/// `ffi_boundary!` for functions returning `sse_result`: the body returns
/// `Result<(), sse_result>` (errors already recorded with `fail`).
macro_rules! ffi_result {
    ($body:block) => {
        ffi_boundary!($crate::ffi::sse_result::SSE_ERROR_PANIC, {
            // The closure gives `?` in the body somewhere to return to.
            #[allow(clippy::redundant_closure_call)]
            let result: Result<(), $crate::ffi::sse_result> = (|| $body)();
            match result {
                Ok(()) => $crate::ffi::sse_result::SSE_OK,
                Err(code) => code,
            }
        })
    };
}

/// Borrows a required shared pointer.
///
/// # Safety
/// `ptr` must be NULL or point to a live `T` for the duration of the call.
pub(crate) unsafe fn try_ref<'a, T>(ptr: *const T, what: &str) -> Result<&'a T, sse_result> {
    // SAFETY: the caller promises NULL or a live T.
    unsafe { ptr.as_ref() }.ok_or_else(|| null_argument(what))
}

/// Borrows a required exclusive pointer.
///
/// # Safety
/// `ptr` must be NULL or point to a live `T` that nothing else uses during the call.
pub(crate) unsafe fn try_mut<'a, T>(ptr: *mut T, what: &str) -> Result<&'a mut T, sse_result> {
    // SAFETY: the caller promises NULL or a live, unaliased T.
    unsafe { ptr.as_mut() }.ok_or_else(|| null_argument(what))
}

/// Borrows a required NUL-terminated UTF-8 string.
///
/// # Safety
/// `ptr` must be NULL or point to a NUL-terminated string live for the call.
pub(crate) unsafe fn try_str<'a>(ptr: *const c_char, what: &str) -> Result<&'a str, sse_result> {
    if ptr.is_null() {
        return Err(null_argument(what));
    }
    // SAFETY: non-NULL and NUL-terminated, as the caller promises.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    std::str::from_utf8(bytes).map_err(|e| {
        fail(
            sse_result::SSE_ERROR_INVALID_ARGUMENT,
            format!(
                "{what} is not valid UTF-8 (invalid byte at offset {})",
                e.valid_up_to()
            ),
        )
    })
}

/// Borrows `len` bytes at `ptr`; NULL is allowed only with `len == 0`.
///
/// # Safety
/// `ptr` must be NULL or point to `len` readable bytes live for the call.
pub(crate) unsafe fn try_bytes<'a>(
    ptr: *const u8,
    len: usize,
    what: &str,
) -> Result<&'a [u8], sse_result> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(null_argument(what));
    }
    if len > isize::MAX as usize {
        return Err(fail(
            sse_result::SSE_ERROR_INVALID_ARGUMENT,
            format!("{what}: length {len} is larger than any buffer"),
        ));
    }
    // SAFETY: non-NULL with `len` readable bytes, as the caller promises.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Writes `value` through a required out-pointer.
///
/// # Safety
/// `out` must be NULL or valid for a write of `T`.
pub(crate) unsafe fn write_out<T>(out: *mut T, value: T) {
    // SAFETY: checked non-NULL by the caller (via `check_out`), valid as promised.
    unsafe { out.write(value) }
}

/// Refuses a NULL out-pointer before any work is done.
pub(crate) fn check_out<T>(out: *mut T, what: &str) -> Result<(), sse_result> {
    if out.is_null() {
        Err(null_argument(what))
    } else {
        Ok(())
    }
}

fn null_argument(what: &str) -> sse_result {
    fail(
        sse_result::SSE_ERROR_NULL_ARGUMENT,
        format!("{what} is NULL"),
    )
}
