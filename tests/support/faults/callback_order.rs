//! What the client reported, checked: the README's callback order, and the events and
//! errors taken out of a log.

use std::time::Duration;

use sse_client::{ClientError, ReadyState};

use crate::support::{Ev, Log, Record};

/// Checks the README's callback order and returns the state it ends in: `on_open` then
/// `on_state(OPEN)`; events and comments only while open; a retried error of an open
/// stream then `on_state(CONNECTING)`, of a failed attempt alone; a final error then
/// `on_state(CLOSED)` and nothing after. The last pair may lack its second half: a close
/// between the two callbacks suppresses the state change.
pub fn check_callback_order(records: &[Record]) -> Result<ReadyState, String> {
    let mut state = ReadyState::Connecting;
    let mut i = 0;
    let fail = |i: usize, what: &str| Err(format!("record #{i} {:?}: {what}", records[i]));
    while i < records.len() {
        // At the very end, the state change that should follow is taken as given.
        let next = match records.get(i + 1) {
            None => match &records[i] {
                Record::Open(_) => Some(&Record::State(ReadyState::Open)),
                Record::Error(e) if !e.will_retry => Some(&Record::State(ReadyState::Closed)),
                Record::Error(_) if state == ReadyState::Open => {
                    Some(&Record::State(ReadyState::Connecting))
                }
                _ => None,
            },
            next => next,
        };
        match &records[i] {
            _ if state == ReadyState::Closed => return fail(i, "after CLOSED"),
            Record::Open(_) => {
                if state != ReadyState::Connecting {
                    return fail(i, "open while not connecting");
                }
                if next != Some(&Record::State(ReadyState::Open)) {
                    return fail(i, "not followed by on_state(OPEN)");
                }
                state = ReadyState::Open;
                i += 1;
            }
            Record::Event(_) | Record::Comment(_) if state != ReadyState::Open => {
                return fail(i, "while not open")
            }
            Record::Event(_) | Record::Comment(_) => {}
            Record::Error(error) if !error.will_retry => {
                if next != Some(&Record::State(ReadyState::Closed)) {
                    return fail(i, "final error not followed by on_state(CLOSED)");
                }
                state = ReadyState::Closed;
                i += 1;
            }
            Record::Error(_) if state == ReadyState::Open => {
                if next != Some(&Record::State(ReadyState::Connecting)) {
                    return fail(i, "lost stream not followed by on_state(CONNECTING)");
                }
                state = ReadyState::Connecting;
                i += 1;
            }
            Record::Error(_) => {
                if matches!(next, Some(Record::State(_))) {
                    return fail(i, "failed attempt followed by a state change");
                }
            }
            Record::State(_) => return fail(i, "a state change out of place"),
        }
        i += 1;
    }
    Ok(state)
}

pub fn errors_of(records: &[Record]) -> Vec<ClientError> {
    records
        .iter()
        .filter_map(|r| r.as_error().cloned())
        .collect()
}

pub fn events_of(records: &[Record]) -> Vec<Ev> {
    records
        .iter()
        .filter_map(|r| match r {
            Record::Event(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

/// Reads records until `n` events came; panics on an event that is not the next expected
/// one, or when nothing comes for `quiet`.
pub fn receive_events(log: &mut Log, expected: &[Ev], quiet: Duration) {
    let mut got = 0;
    while got < expected.len() {
        match log.try_next(quiet) {
            Some(Record::Event(event)) => {
                assert_eq!(
                    event,
                    expected[got],
                    "event #{got} differs from the one sent; log: {:#?}",
                    log.all()
                );
                got += 1;
            }
            Some(_) => {}
            None => panic!(
                "{got} of {} events, then nothing for {quiet:?}; log: {:#?}",
                expected.len(),
                log.all()
            ),
        }
    }
}
