//! `sse_set_log_callback`: the library's log records, forwarded to the host.

use std::ffi::{c_char, c_void, CString};
use std::mem::MaybeUninit;

use log::{Level, LevelFilter};

use super::c_values::{enum_arg, unknown_enum_message, CEnum};
use crate::logging;

/// Log levels, most severe first.
///
/// Values are fixed and never reused; later versions append values, so a host handles
/// values it does not know (a `default:` branch).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum sse_log_level {
    SSE_LOG_ERROR = 1,
    SSE_LOG_WARN = 2,
    SSE_LOG_INFO = 3,
    SSE_LOG_DEBUG = 4,
    SSE_LOG_TRACE = 5,
}

impl CEnum for sse_log_level {
    const C_NAME: &'static str = "sse_log_level";
    const ALL: &'static [Self] = &[
        sse_log_level::SSE_LOG_ERROR,
        sse_log_level::SSE_LOG_WARN,
        sse_log_level::SSE_LOG_INFO,
        sse_log_level::SSE_LOG_DEBUG,
        sse_log_level::SSE_LOG_TRACE,
    ];
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

/// The level a host asked for, or SSE_LOG_WARN with a warning for a value this library
/// does not know: logging stays on (the host wants records) without flooding it.
fn requested_level(max_level: Result<sse_log_level, i32>) -> (LevelFilter, Option<String>) {
    match max_level {
        Ok(level) => (level_filter(level), None),
        Err(raw) => {
            let problem =
                unknown_enum_message::<sse_log_level>("sse_set_log_callback", "max_level", raw);
            (
                LevelFilter::Warn,
                Some(format!("{problem}; logging at SSE_LOG_WARN")),
            )
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
/// A `max_level` that is not a value of sse_log_level this library knows (e.g. from a
/// newer header) still installs the callback, at SSE_LOG_WARN, and logs one warning
/// through it, before this returns, that names the value.
///
/// # Safety
/// `callback` NULL or a function safe to call from any thread with `userdata`.
#[no_mangle]
pub unsafe extern "C" fn sse_set_log_callback(
    callback: Option<
        unsafe extern "C" fn(userdata: *mut c_void, level: sse_log_level, message: *const c_char),
    >,
    userdata: *mut c_void,
    max_level: MaybeUninit<sse_log_level>,
) {
    ffi_boundary!((), {
        // SAFETY: an argument received from C: initialized.
        let (max_level, warning) = requested_level(unsafe { enum_arg(max_level) });
        let forward = callback.map(|callback| {
            let host = HostLogger { callback, userdata };
            Box::new(move |level: Level, text: &str| host.log(level, text))
                as Box<dyn Fn(Level, &str) + Send + Sync>
        });
        let enabled = forward.is_some();
        logging::set_forward(forward, max_level);
        if let (true, Some(warning)) = (enabled, warning) {
            log::warn!("{warning}");
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_level_is_used_as_asked_and_an_unknown_one_means_warn_with_a_warning() {
        assert_eq!(
            requested_level(Ok(sse_log_level::SSE_LOG_DEBUG)),
            (LevelFilter::Debug, None)
        );
        assert_eq!(
            requested_level(Ok(sse_log_level::SSE_LOG_ERROR)),
            (LevelFilter::Error, None)
        );
        let (level, warning) = requested_level(Err(77));
        assert_eq!(level, LevelFilter::Warn);
        assert_eq!(
            warning.as_deref(),
            Some(
                "sse_set_log_callback: max_level is 77, not a value of sse_log_level \
                 (valid: 1 to 5); logging at SSE_LOG_WARN"
            )
        );
    }
}
