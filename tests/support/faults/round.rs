//! One round: a resume server with faults, a client, and every check of what the client
//! delivered, sent and reported against the oracle.

use std::time::Duration;

use sse_client::ReadyState;

use super::callback_order::{check_callback_order, errors_of, events_of, receive_events};
use super::fault_plan::{ConnPlan, Cut, Fault, Finish};
use super::host::Host;
use super::oracle::expect_round;
use super::resume_server::ResumeServer;
use super::scenario::set_context;
use super::stream::{escape, Stream};
use crate::support::{ms, Log, Record, Stamped};

#[derive(Clone, Debug)]
pub struct Round {
    pub plans: Vec<ConnPlan>,
    pub finish: Finish,
    pub final_bom: bool,
    pub final_chunked: bool,
    /// Initial and maximum reconnect delay.
    pub delays: (Duration, Duration),
    pub read_timeout: Option<Duration>,
    /// Poll mode with a queue of this many messages, drained by a slow host thread;
    /// `None`: callbacks.
    pub poll_queue: Option<usize>,
}

impl Round {
    pub fn new(plans: Vec<ConnPlan>) -> Round {
        Round {
            plans,
            finish: Finish::Hold,
            final_bom: false,
            final_chunked: false,
            delays: (ms(10), ms(10)),
            read_timeout: None,
            poll_queue: None,
        }
    }
}

/// What a round did, for coverage counts and extra checks.
pub struct RoundOutcome {
    /// (fault, cut used, chunked) of each faulty connection, in order.
    pub cuts: Vec<Served>,
    pub records: Vec<Stamped>,
}

/// What a faulty connection got: its fault, the cut used, whether it was chunked.
pub type Served = (Fault, Cut, bool);

/// Describes a round for a failure report.
pub fn describe(label: &str, stream: &Stream, round: &Round) -> String {
    format!(
        "{label}: {round:?}\n  stream ({} bytes, {} events): b\"{}\"",
        stream.bytes.len(),
        stream.events.len(),
        escape(&stream.bytes)
    )
}

/// Runs a round on a [`ResumeServer`]. Checks that the client delivers exactly the
/// stream's events (none lost, none twice, none altered, in order), sends the
/// Last-Event-ID and reports the errors, failure counts and waits the oracle says, keeps
/// the callback order, makes exactly one connection per plan plus one, and is OPEN at the
/// end.
pub fn run_round(label: &str, stream: &Stream, round: &Round) -> RoundOutcome {
    set_context(describe(label, stream, round));
    let expected = stream.expected_events();
    let expectation = expect_round(stream, &round.plans, round.delays);
    let resume = ResumeServer::start(stream, round);
    let server = &resume.server;
    let mut config = resume.config(round);
    let (mut log, recorder) = Log::new();
    let client = Host::open(&mut config, recorder, round.poll_queue);

    receive_events(&mut log, &expected, Duration::from_secs(5));
    // The last event may come before the fault of its connection: wait for the good one.
    let opens = round.plans.iter().filter(|p| !p.fault.in_head()).count() + 1;
    log.wait_for(|records| {
        records
            .iter()
            .filter(|r| r.record == Record::State(ReadyState::Open))
            .count()
            >= opens
    });
    assert_eq!(
        client.client.ready_state(),
        ReadyState::Open,
        "not OPEN on the good connection"
    );
    drop(client);
    let records = log.all();

    resume.assert_resumable();
    let state = check_callback_order(&records)
        .unwrap_or_else(|problem| panic!("callback order: {problem}; log: {records:#?}"));
    assert_eq!(
        state,
        ReadyState::Open,
        "the client did not end OPEN; log: {records:#?}"
    );
    assert_eq!(
        events_of(&records),
        expected,
        "events delivered != events sent"
    );

    let errors = errors_of(&records);
    let requests = server.requests();
    let ids: Vec<Option<String>> = requests
        .iter()
        .map(|r| r.header("last-event-id").map(str::to_owned))
        .collect();
    assert_eq!(
        ids, expectation.last_event_ids,
        "Last-Event-ID of each request (one connection per fault, then the good one); \
         errors: {errors:#?}"
    );
    assert_eq!(
        server.connection_count(),
        round.plans.len() + 1,
        "connections; errors: {errors:#?}"
    );

    assert_eq!(
        errors.len(),
        round.plans.len(),
        "one error per fault: {errors:#?}"
    );
    for (i, (error, want)) in errors.iter().zip(&expectation.errors).enumerate() {
        let ok = want.kinds.contains(&error.kind)
            && error.will_retry
            && error.failed_attempts == want.failed_attempts
            && error.retry_delay >= want.delay.0
            && error.retry_delay <= want.delay.1;
        assert!(
            ok,
            "error {i} is {error:?}, expected {want:?} (plan {:?})",
            round.plans[i]
        );
    }
    let cuts = resume.cuts();
    drop(resume);
    RoundOutcome {
        cuts,
        records: log.stamped(),
    }
}
