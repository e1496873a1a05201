//! The oracle of a round: replays its fault plans on paper to say which Last-Event-ID each
//! request must carry and which error, failure count and reconnect wait the client must
//! report after each fault.

use std::time::Duration;

use sse_client::ErrorKind;

use super::fault_plan::{faulty_connection, ConnPlan};
use super::stream::Stream;

/// What the policy must say after one faulty connection.
#[derive(Clone, Debug)]
pub struct ExpectedError {
    pub kinds: &'static [ErrorKind],
    pub failed_attempts: u32,
    /// The wait, jitter included: from the backoff to half as much again, within the cap.
    pub delay: (Duration, Duration),
}

/// The reconnect wait of the README's policy for this base, failure count and cap.
pub fn expected_delay(base: Duration, failures: u32, max_delay: Duration) -> (Duration, Duration) {
    let base = base.max(sse_client::MIN_RECONNECT_DELAY);
    let cap = max_delay.max(base);
    let doublings = failures.saturating_sub(1).min(31);
    let backoff = base.saturating_mul(1 << doublings).min(cap);
    (
        backoff,
        (backoff
            .saturating_add(backoff / 2)
            .saturating_add(Duration::from_micros(1)))
        .min(cap),
    )
}

#[derive(Clone, Debug)]
pub struct Expectation {
    /// The Last-Event-ID of each request, the good last one included.
    pub last_event_ids: Vec<Option<String>>,
    pub errors: Vec<ExpectedError>,
}

/// Replays the round on paper: where each connection resumes and is cut, which events
/// and `retry:` lines it got through, and so what the client must send and report.
pub fn expect_round(
    stream: &Stream,
    plans: &[ConnPlan],
    delays: (Duration, Duration),
) -> Expectation {
    let mut delivered = 0usize;
    let mut base = delays.0;
    let mut failures = 0u32;
    let mut last_event_ids = Vec::new();
    let mut errors = Vec::new();
    for plan in plans {
        let id = (delivered > 0).then(|| delivered.to_string());
        let offset = stream.resume_offset(id.as_deref()).unwrap();
        last_event_ids.push(id);
        let sending = faulty_connection(stream, plan, offset);
        let now = stream.dispatched(offset, sending.sent_to);
        if let Some(retry) = stream
            .retries
            .iter()
            .rev()
            .find(|r| r.terminator >= offset && r.terminator < sending.sent_to)
        {
            base = Duration::from_millis(retry.millis);
        }
        failures = match plan.fault.in_head() || now == 0 {
            true => failures + 1,
            false => 0,
        };
        errors.push(ExpectedError {
            kinds: plan.fault.expected_errors(plan.chunked),
            failed_attempts: failures,
            delay: expected_delay(base, failures, delays.1),
        });
        delivered += now;
    }
    last_event_ids.push((delivered > 0).then(|| delivered.to_string()));
    Expectation {
        last_event_ids,
        errors,
    }
}
