//! Forwards the library's `log` records to one host-provided function (qDebug, spdlog...).

use std::sync::RwLock;

use log::{LevelFilter, Log, Metadata, Record};

type Forward = Box<dyn Fn(log::Level, &str) + Send + Sync>;

static FORWARD: RwLock<Option<Forward>> = RwLock::new(None);

struct Forwarder;

static FORWARDER: Forwarder = Forwarder;

/// Where ureq_proto's `log_data` logs.
const WIRE_DUMP_TARGET: &str = "ureq_proto::util";

impl Log for Forwarder {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        // ureq_proto traces every byte sent and received as hex rows: the Authorization
        // header, cookies, credentials in a Location, event data. Rows split them, so no
        // redaction can mend them: the host never gets that dump.
        metadata.level() <= log::max_level() && metadata.target() != WIRE_DUMP_TARGET
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let forward = FORWARD.read().unwrap_or_else(|e| e.into_inner());
        if let Some(forward) = forward.as_ref() {
            // The library's own records never show credentials; this catches those of
            // the crates below it (ureq traces a redirect's Location header as received).
            let text = crate::http::url_rules::redact_all(&record.args().to_string());
            forward(record.level(), &text);
        }
    }

    fn flush(&self) {}
}

/// Sends records up to `max_level` to `forward`; `None` turns forwarding off.
///
/// If the process already installed another `log` logger (a Rust host), records go there
/// instead and only the level is changed.
pub fn set_forward(forward: Option<Forward>, max_level: LevelFilter) {
    let _ = log::set_logger(&FORWARDER);
    let enabled = forward.is_some();
    *FORWARD.write().unwrap_or_else(|e| e.into_inner()) = forward;
    log::set_max_level(if enabled { max_level } else { LevelFilter::Off });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn forwards_records_up_to_the_level_and_stops_when_unset() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        set_forward(
            Some(Box::new(move |level, text| {
                sink.lock().unwrap().push(format!("{level}: {text}"))
            })),
            LevelFilter::Info,
        );
        log::info!("kept {}", 1);
        log::debug!("too verbose");
        set_forward(None, LevelFilter::Trace);
        log::error!("after unset");
        let seen = seen.lock().unwrap();
        assert!(seen.contains(&"INFO: kept 1".to_owned()), "{seen:?}");
        assert!(!seen
            .iter()
            .any(|s| s.contains("too verbose") || s.contains("after unset")));
    }
}
