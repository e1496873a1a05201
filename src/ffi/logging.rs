//! `sse_set_log_callback`: the library's log records, forwarded to the host.

use std::ffi::{c_char, c_void, CString};

use log::{Level, LevelFilter};

use crate::logging;

/// Log levels, most severe first.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum sse_log_level {
    SSE_LOG_ERROR = 1,
    SSE_LOG_WARN,
    SSE_LOG_INFO,
    SSE_LOG_DEBUG,
    SSE_LOG_TRACE,
}

impl From<Level> for sse_log_level {
    fn from(level: Level) -> Self {
        match level {
            Level::Error => sse_log_level::SSE_LOG_ERROR,
            Level::Warn => sse_log_level::SSE_LOG_WARN,
            Level::Info => sse_log_level::SSE_LOG_INFO,
            Level::Debug => sse_log_level::SSE_LOG_DEBUG,
            Level::Trace => sse_log_level::SSE_LOG_TRACE,
        }
    }
}

fn level_filter(level: sse_log_level) -> LevelFilter {
    match level {
        sse_log_level::SSE_LOG_ERROR => LevelFilter::Error,
        sse_log_level::SSE_LOG_WARN => LevelFilter::Warn,
        sse_log_level::SSE_LOG_INFO => LevelFilter::Info,
        sse_log_level::SSE_LOG_DEBUG => LevelFilter::Debug,
        sse_log_level::SSE_LOG_TRACE => LevelFilter::Trace,
    }
}

/// The host's log function and its userdata.
struct HostLogger {
    callback:
        unsafe extern "C" fn(userdata: *mut c_void, level: sse_log_level, message: *const c_char),
    userdata: *mut c_void,
}

impl HostLogger {
    fn log(&self, level: Level, text: &str) {
        let text = CString::new(text.replace('\0', "")).unwrap_or_default();
        // SAFETY: the host's callback, called as the header documents.
        unsafe { (self.callback)(self.userdata, level.into(), text.as_ptr()) }
    }
}

// SAFETY: the header makes the host responsible for `userdata` being usable from any
// thread: records come from every client's worker thread.
unsafe impl Send for HostLogger {}
// SAFETY: as above; the library never touches `userdata` itself.
unsafe impl Sync for HostLogger {}

/// Forwards the library's log records at `max_level` and more severe to `callback`, from
/// whichever thread logs (usually a client's worker), possibly concurrently: the callback
/// must be thread-safe. `message` is borrowed until the callback returns. A NULL
/// `callback` turns logging off (the default). Process-wide; replaces any earlier callback.
/// Once this returns, the earlier callback is not running and is never called again, so
/// its userdata may be released. Do not call this from inside the log callback (it would
/// wait for itself), nor, in a child of fork(), while the parent had a callback set (a
/// record being logged at the moment of the fork never finishes in the child).
///
/// # Safety
/// `callback` NULL or a function safe to call from any thread with `userdata`.
#[no_mangle]
pub unsafe extern "C" fn sse_set_log_callback(
    callback: Option<
        unsafe extern "C" fn(userdata: *mut c_void, level: sse_log_level, message: *const c_char),
    >,
    userdata: *mut c_void,
    max_level: sse_log_level,
) {
    ffi_boundary!((), {
        let forward = callback.map(|callback| {
            let host = HostLogger { callback, userdata };
            Box::new(move |level: Level, text: &str| host.log(level, text))
                as Box<dyn Fn(Level, &str) + Send + Sync>
        });
        logging::set_forward(forward, level_filter(max_level));
    })
}
