//! `sse_request` and `sse_response`: what the per-connection hooks see from C.

use std::ffi::{c_char, c_void, CString};
use std::sync::Arc;

use super::boundary::{fail, try_mut, try_ref, try_str};
use super::config::sse_config;
use super::sse_result;
use crate::http::hooks::{RequestHook, RequestInfo, ResponseHook, ResponseInfo};
use crate::http::request_head::validate_header;

/// One connection attempt's request, as a request hook sees it. Opaque; valid only until
/// the hook returns.
pub struct sse_request {
    attempt: u32,
    last_event_id: CString,
    url: CString,
    /// Header changes in call order: `Some(value)` sets, `None` removes.
    changes: Vec<(String, Option<String>)>,
}

/// One response, as a response hook sees it. Opaque; valid only until the hook returns.
pub struct sse_response {
    status: u16,
    url: CString,
    headers: Vec<(CString, CString)>,
}

fn c_string(text: &str) -> CString {
    CString::new(text.replace('\0', "")).unwrap_or_default()
}

/// A host's C request hook.
struct CRequestHook {
    hook: unsafe extern "C" fn(userdata: *mut c_void, request: *mut sse_request),
    userdata: *mut c_void,
}

// SAFETY: the header makes the host responsible for `userdata` being usable from the
// worker threads of every client opened from the config.
unsafe impl Send for CRequestHook {}
// SAFETY: as above; the library never touches `userdata` itself.
unsafe impl Sync for CRequestHook {}

impl RequestHook for CRequestHook {
    fn before_request(&self, request: &mut RequestInfo<'_>) {
        let mut view = sse_request {
            attempt: request.attempt(),
            last_event_id: c_string(request.last_event_id()),
            url: c_string(&request.url()),
            changes: Vec::new(),
        };
        // SAFETY: the host's hook, called as the header documents; `view` outlives the call.
        unsafe { (self.hook)(self.userdata, &mut view) };
        for (name, value) in view.changes {
            match value {
                // Validated when the host set it.
                Some(value) => {
                    let _ = request.set_header(&name, &value);
                }
                None => {
                    request.remove_header(&name);
                }
            }
        }
    }
}

/// A host's C response hook.
struct CResponseHook {
    hook: unsafe extern "C" fn(userdata: *mut c_void, response: *const sse_response),
    userdata: *mut c_void,
}

// SAFETY: as for CRequestHook.
unsafe impl Send for CResponseHook {}
// SAFETY: as for CRequestHook.
unsafe impl Sync for CResponseHook {}

impl ResponseHook for CResponseHook {
    fn on_response(&self, response: &ResponseInfo<'_>) {
        let view = sse_response {
            status: response.status(),
            url: c_string(&response.url()),
            headers: response
                .headers()
                .map(|(name, value)| (c_string(name), c_string(&String::from_utf8_lossy(value))))
                .collect(),
        };
        // SAFETY: the host's hook, called as the header documents; `view` outlives the call.
        unsafe { (self.hook)(self.userdata, &view) };
    }
}

/// Sets a hook run on the worker thread before every connection attempt (the first and
/// each reconnect), e.g. to put a fresh token in `Authorization`. Through `request` it can
/// read the attempt number and the Last-Event-ID about to be sent, and set or remove
/// headers for that attempt (each attempt starts again from the configured headers).
/// `request` is borrowed until the hook returns. Like the callbacks, the hook never runs
/// after `sse_client_close` returns. `hook` NULL removes it. Every client opened from this
/// config calls it, each from its own worker thread: `userdata` must be usable from those.
///
/// # Safety
/// `config` NULL or live; `hook` NULL or a function safe to call as documented.
#[no_mangle]
pub unsafe extern "C" fn sse_config_set_request_hook(
    config: *mut sse_config,
    hook: Option<unsafe extern "C" fn(userdata: *mut c_void, request: *mut sse_request)>,
    userdata: *mut c_void,
) -> sse_result {
    ffi_result!({
        // SAFETY: as promised by the caller.
        let config = unsafe { try_mut(config, "config") }?;
        let hook =
            hook.map(|hook| Arc::new(CRequestHook { hook, userdata }) as Arc<dyn RequestHook>);
        config.config_mut().set_request_hook(hook);
        Ok(())
    })
}

/// Sets a hook run on the worker thread for every response (whatever its status, each
/// redirect included), before the client judges it: to read rate-limit or session
/// headers. `response` is borrowed until the hook returns. Never runs after
/// `sse_client_close` returns. `hook` NULL removes it. Threading as for
/// `sse_config_set_request_hook`.
///
/// # Safety
/// `config` NULL or live; `hook` NULL or a function safe to call as documented.
#[no_mangle]
pub unsafe extern "C" fn sse_config_set_response_hook(
    config: *mut sse_config,
    hook: Option<unsafe extern "C" fn(userdata: *mut c_void, response: *const sse_response)>,
    userdata: *mut c_void,
) -> sse_result {
    ffi_result!({
        // SAFETY: as promised by the caller.
        let config = unsafe { try_mut(config, "config") }?;
        let hook =
            hook.map(|hook| Arc::new(CResponseHook { hook, userdata }) as Arc<dyn ResponseHook>);
        config.config_mut().set_response_hook(hook);
        Ok(())
    })
}

/// The 1-based number of this connection attempt (1: the first connect). 0 for NULL.
///
/// # Safety
/// `request` NULL or the one passed to the running hook.
#[no_mangle]
pub unsafe extern "C" fn sse_request_attempt(request: *const sse_request) -> u32 {
    // SAFETY: as promised by the caller.
    ffi_boundary!(0, { unsafe { request.as_ref() }.map_or(0, |r| r.attempt) })
}

/// The Last-Event-ID this attempt sends ("" for none), borrowed until the hook returns.
/// "" for NULL.
///
/// # Safety
/// `request` NULL or the one passed to the running hook.
#[no_mangle]
pub unsafe extern "C" fn sse_request_last_event_id(request: *const sse_request) -> *const c_char {
    ffi_boundary!(c"".as_ptr(), {
        // SAFETY: as promised by the caller.
        unsafe { request.as_ref() }.map_or(c"".as_ptr(), |r| r.last_event_id.as_ptr())
    })
}

/// The configured URL this attempt starts from, borrowed until the hook returns. "" for
/// NULL.
///
/// # Safety
/// `request` NULL or the one passed to the running hook.
#[no_mangle]
pub unsafe extern "C" fn sse_request_url(request: *const sse_request) -> *const c_char {
    ffi_boundary!(c"".as_ptr(), {
        // SAFETY: as promised by the caller.
        unsafe { request.as_ref() }.map_or(c"".as_ptr(), |r| r.url.as_ptr())
    })
}

/// Sets a header for this attempt only, replacing a configured one of the same name.
/// `name` and `value` are copied. Refused like `sse_config_set_header`
/// (SSE_ERROR_INVALID_ARGUMENT for CR, LF, NUL, a bad name, or Last-Event-ID).
///
/// # Safety
/// `request` NULL or the one passed to the running hook; `name`, `value` NULL or
/// NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn sse_request_set_header(
    request: *mut sse_request,
    name: *const c_char,
    value: *const c_char,
) -> sse_result {
    ffi_result!({
        // SAFETY: as promised by the caller.
        let request = unsafe { try_mut(request, "request") }?;
        // SAFETY: as promised by the caller.
        let (name, value) = unsafe { (try_str(name, "name")?, try_str(value, "value")?) };
        validate_header(name, value)
            .map_err(|e| fail(sse_result::SSE_ERROR_INVALID_ARGUMENT, e.to_string()))?;
        request
            .changes
            .push((name.to_owned(), Some(value.to_owned())));
        Ok(())
    })
}

/// Removes a header (configured or set by this hook) from this attempt; SSE_OK whether or
/// not it was there. `name` is copied.
///
/// # Safety
/// `request` NULL or the one passed to the running hook; `name` NULL or a NUL-terminated
/// string.
#[no_mangle]
pub unsafe extern "C" fn sse_request_remove_header(
    request: *mut sse_request,
    name: *const c_char,
) -> sse_result {
    ffi_result!({
        // SAFETY: as promised by the caller.
        let request = unsafe { try_mut(request, "request") }?;
        // SAFETY: as promised by the caller.
        let name = unsafe { try_str(name, "name") }?;
        request.changes.push((name.to_owned(), None));
        Ok(())
    })
}

/// The response's HTTP status. 0 for NULL.
///
/// # Safety
/// `response` NULL or the one passed to the running hook.
#[no_mangle]
pub unsafe extern "C" fn sse_response_status(response: *const sse_response) -> u16 {
    // SAFETY: as promised by the caller.
    ffi_boundary!(0, { unsafe { response.as_ref() }.map_or(0, |r| r.status) })
}

/// The URL the response came from (after the redirects so far), borrowed until the hook
/// returns. "" for NULL.
///
/// # Safety
/// `response` NULL or the one passed to the running hook.
#[no_mangle]
pub unsafe extern "C" fn sse_response_url(response: *const sse_response) -> *const c_char {
    ffi_boundary!(c"".as_ptr(), {
        // SAFETY: as promised by the caller.
        unsafe { response.as_ref() }.map_or(c"".as_ptr(), |r| r.url.as_ptr())
    })
}

/// The first value of the header `name` (case-insensitive), borrowed until the hook
/// returns; NULL when absent (or for NULL arguments).
///
/// # Safety
/// `response` NULL or the one passed to the running hook; `name` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn sse_response_header(
    response: *const sse_response,
    name: *const c_char,
) -> *const c_char {
    ffi_boundary!(std::ptr::null(), {
        // SAFETY: as promised by the caller.
        let (Ok(response), Ok(name)) = (unsafe { try_ref(response, "response") }, unsafe {
            try_str(name, "name")
        }) else {
            return std::ptr::null();
        };
        response
            .headers
            .iter()
            .find(|(n, _)| n.to_bytes().eq_ignore_ascii_case(name.as_bytes()))
            .map_or(std::ptr::null(), |(_, v)| v.as_ptr())
    })
}

/// How many headers the response has. 0 for NULL.
///
/// # Safety
/// `response` NULL or the one passed to the running hook.
#[no_mangle]
pub unsafe extern "C" fn sse_response_header_count(response: *const sse_response) -> usize {
    // SAFETY: as promised by the caller.
    ffi_boundary!(0, {
        unsafe { response.as_ref() }.map_or(0, |r| r.headers.len())
    })
}

/// The header at `index` (0-based, in the order received; names in lower case): `*name`
/// and `*value` receive strings borrowed until the hook returns. SSE_ERROR_INVALID_ARGUMENT
/// when `index` is out of range.
///
/// # Safety
/// `response` NULL or the one passed to the running hook; `name`, `value` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sse_response_header_at(
    response: *const sse_response,
    index: usize,
    name: *mut *const c_char,
    value: *mut *const c_char,
) -> sse_result {
    ffi_result!({
        // SAFETY: as promised by the caller.
        let response = unsafe { try_ref(response, "response") }?;
        super::boundary::check_out(name, "name")?;
        super::boundary::check_out(value, "value")?;
        let (n, v) = response.headers.get(index).ok_or_else(|| {
            fail(
                sse_result::SSE_ERROR_INVALID_ARGUMENT,
                format!(
                    "header index {index} is out of range ({} headers)",
                    response.headers.len()
                ),
            )
        })?;
        // SAFETY: both checked non-NULL and writable as promised.
        unsafe {
            super::boundary::write_out(name, n.as_ptr());
            super::boundary::write_out(value, v.as_ptr());
        }
        Ok(())
    })
}
